#!/usr/bin/env python3
"""Converts a BERT sentence-embedding model (Hugging Face layout: config.json, model.safetensors,
vocab.txt or tokenizer.json, and sentence-transformers' modules.json / 1_Pooling) into a GGUF
file in llama.cpp's `bert` layout, the one llama.cpp's convert_hf_to_gguf.py writes:

- tensors: token_embd, token_types, position_embd, token_embd_norm, blk.N.attn_{q,k,v,output}
  (weights + biases), attn_output_norm, ffn_up, ffn_down, layer_output_norm; 2-D weights in
  F16 (or F32 with --outtype f32) except position_embd and token_types, which stay F32;
  biases and norms F32
- metadata: bert.* sizes, bert.attention.layer_norm_epsilon, bert.attention.causal = false,
  bert.pooling_type (from 1_Pooling/config.json: 1 mean, 2 CLS)
- vocabulary: tokenizer.ggml.model = "bert", word-initial pieces prefixed with U+2581 and
  "##" continuation pieces without their prefix; added special tokens ([PAD] [UNK] [CLS]
  [SEP] [MASK]) as control tokens, unchanged; the special ids, add_bos/add_eos/add_sep and the
  normalizer's lowercase flag as llama.cpp's gguf-py SpecialVocab derives them

One key llama.cpp does not write: sentence_transformers.max_seq_length (from
sentence_bert_config.json), the truncation length the model was trained for (256 for
all-MiniLM-L6-v2, while its position table has 512 rows). TinyLM truncates there; without it,
at bert.context_length.

Needs only numpy and gguf (no torch, no transformers): safetensors is parsed here.
usage: convert-bert.py MODEL_DIR OUT.gguf [--outtype f16|f32] [--name NAME]
"""
import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np
import gguf

POOLING = {"mean": 1, "cls": 2, "last": 3}


def read_safetensors(path):
    """name -> numpy array (memory-mapped, no copies until used)."""
    with open(path, "rb") as f:
        header_length = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(header_length))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_length)
    dtypes = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64}
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[start:end]
        if info["dtype"] == "BF16":
            values = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] in dtypes:
            values = raw.view(dtypes[info["dtype"]])
        else:
            raise SystemExit(f"{name}: unsupported safetensors dtype {info['dtype']}")
        tensors[name] = values.reshape(info["shape"])
    return tensors


def load_vocabulary(model_dir):
    """(tokens in id order, token types, added-token contents) as the converter sees them."""
    tokenizer_json = model_dir / "tokenizer.json"
    added = {}
    if tokenizer_json.is_file():
        tokenizer = json.loads(tokenizer_json.read_text(encoding="utf-8"))
        if tokenizer["model"]["type"] != "WordPiece":
            raise SystemExit(f"tokenizer.json: model type {tokenizer['model']['type']} is not WordPiece")
        vocab = dict(tokenizer["model"]["vocab"])
        for token in tokenizer.get("added_tokens", []):
            vocab[token["content"]] = token["id"]
            added[token["content"]] = token.get("special", False)
    else:
        lines = (model_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        vocab = {token: i for i, token in enumerate(lines)}
        config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8")) \
            if (model_dir / "tokenizer_config.json").is_file() else {}
        for key in ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"):
            if isinstance(config.get(key), str) and config[key] in vocab:
                added[config[key]] = True
    return vocab, added


def phantom_space_form(token, token_type):
    """llama.cpp's vocabulary form: control tokens as they are, "##x" -> "x", "x" -> "▁x"."""
    if token_type == gguf.TokenType.CONTROL:
        return token
    if token.startswith("##"):
        return token[2:]
    return "\u2581" + token


def pretokenizer_name(vocab):
    # convert_hf_to_gguf.py names the pre-tokenizer by a hash of the ids of a fixed text; every
    # vocabulary this converter accepts is BERT's uncased WordPiece, which it calls "bert-bge"
    # (llama.cpp does not use the name for WordPiece vocabularies).
    return "bert-bge"


def special_tokens(model_dir, vocab, added):
    """The ids and add_* flags gguf-py's SpecialVocab derives for a BERT tokenizer."""
    config = {}
    path = model_dir / "tokenizer_config.json"
    if path.is_file():
        config = json.loads(path.read_text(encoding="utf-8"))
    cls = config.get("cls_token", "[CLS]")
    sep = config.get("sep_token", "[SEP]")
    names = {
        "bos": config.get("bos_token", cls),   # BERT: the [CLS] token plays BOS
        "eos": config.get("eos_token", sep),
        "unk": config.get("unk_token", "[UNK]"),
        "seperator": sep,                       # sic: llama.cpp's key spelling
        "padding": config.get("pad_token", "[PAD]"),
        "cls": cls,
        "mask": config.get("mask_token", "[MASK]"),
    }
    ids = {}
    for key, content in names.items():
        if isinstance(content, dict):
            content = content.get("content")
        if isinstance(content, str) and content in vocab:
            ids[key] = vocab[content]
    return ids


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("outfile", type=Path)
    parser.add_argument("--outtype", choices=["f16", "f32"], default="f16")
    parser.add_argument("--name", help="general.name (default: the model directory's name)")
    args = parser.parse_args()
    d = args.model_dir

    config = json.loads((d / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "bert":
        raise SystemExit(f"{d}/config.json: model_type {config.get('model_type')!r} is not 'bert'")
    if config.get("hidden_act", "gelu") != "gelu":
        raise SystemExit(f"hidden_act {config['hidden_act']!r}: only exact (erf) GELU BERT models are supported")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise SystemExit("only absolute position embeddings are supported")

    hidden = config["hidden_size"]
    layers = config["num_hidden_layers"]
    heads = config["num_attention_heads"]
    ffn = config["intermediate_size"]
    positions = config["max_position_embeddings"]

    vocab, added = load_vocabulary(d)
    n_vocab = config.get("vocab_size", len(vocab))
    by_id = {i: t for t, i in vocab.items()}
    tokens, types = [], []
    for i in range(n_vocab):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        token = by_id[i]
        token_type = gguf.TokenType.NORMAL
        if token in added:
            token_type = gguf.TokenType.CONTROL if added[token] else gguf.TokenType.USER_DEFINED
        tokens.append(phantom_space_form(token, token_type))
        types.append(token_type)

    pooling = None
    modules = d / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            if module["type"].endswith("Pooling"):
                pool = json.loads((d / module["path"] / "config.json").read_text(encoding="utf-8"))
                if pool.get("pooling_mode_mean_tokens"):
                    pooling = POOLING["mean"]
                elif pool.get("pooling_mode_cls_token"):
                    pooling = POOLING["cls"]
                elif pool.get("pooling_mode_lasttoken"):
                    pooling = POOLING["last"]
                elif pool.get("pooling_mode") in POOLING:
                    pooling = POOLING[pool["pooling_mode"]]
                else:
                    raise SystemExit("only mean, CLS and last-token pooling are supported")
    max_seq_length = None
    st_config = d / "sentence_bert_config.json"
    if st_config.is_file():
        max_seq_length = json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length")

    weights = read_safetensors(d / "model.safetensors")
    weights = {(k[5:] if k.startswith("bert.") else k): v for k, v in weights.items()}

    def name_map(name):
        if name.endswith(".gamma"):
            name = name[:-6] + ".weight"
        if name.endswith(".beta"):
            name = name[:-5] + ".bias"
        fixed = {
            "embeddings.word_embeddings": "token_embd",
            "embeddings.token_type_embeddings": "token_types",
            "embeddings.position_embeddings": "position_embd",
            "embeddings.LayerNorm": "token_embd_norm",
        }
        stem, _, suffix = name.rpartition(".")
        if stem in fixed:
            return f"{fixed[stem]}.{suffix}"
        parts = stem.split(".")
        if parts[:2] == ["encoder", "layer"]:
            block = int(parts[2])
            rest = ".".join(parts[3:])
            per_layer = {
                "attention.self.query": "attn_q",
                "attention.self.key": "attn_k",
                "attention.self.value": "attn_v",
                "attention.output.dense": "attn_output",
                "attention.output.LayerNorm": "attn_output_norm",
                "intermediate.dense": "ffn_up",
                "output.dense": "ffn_down",
                "output.LayerNorm": "layer_output_norm",
            }
            if rest in per_layer:
                return f"blk.{block}.{per_layer[rest]}.{suffix}"
        return None

    skipped = {"embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"}
    writer = gguf.GGUFWriter(str(args.outfile), "bert")
    writer.add_type("model")
    writer.add_name(args.name or d.name)
    writer.add_block_count(layers)
    writer.add_context_length(positions)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_layer_norm_eps(config.get("layer_norm_eps", 1e-12))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if args.outtype == "f16" else gguf.LlamaFileType.ALL_F32)
    writer.add_causal_attention(False)
    if pooling is not None:
        writer.add_pooling_type(gguf.PoolingType(pooling))
    if max_seq_length is not None:
        writer.add_uint32("sentence_transformers.max_seq_length", int(max_seq_length))

    writer.add_token_type_count(config.get("type_vocab_size", 1))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre(pretokenizer_name(vocab))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    for key, token_id in special_tokens(d, vocab, added).items():
        writer.add_uint32(f"tokenizer.ggml.{key}_token_id", token_id)
    # SpecialVocab reads BERT's TemplateProcessing "[CLS] $A [SEP]" as add BOS and add EOS,
    # and its pair template as no extra separator.
    writer.add_bool("tokenizer.ggml.add_bos_token", True)
    writer.add_bool("tokenizer.ggml.add_eos_token", True)
    writer.add_bool("tokenizer.ggml.add_sep_token", False)
    lowercase = True
    tokenizer_json = d / "tokenizer.json"
    if tokenizer_json.is_file():
        normalizer = json.loads(tokenizer_json.read_text(encoding="utf-8")).get("normalizer") or {}
        if normalizer.get("type") == "BertNormalizer":
            lowercase = normalizer.get("lowercase", True)
            if normalizer.get("strip_accents") is not None:
                writer.add_bool("tokenizer.ggml.normalizer.strip_accents", bool(normalizer["strip_accents"]))
    writer.add_bool("tokenizer.ggml.normalizer.lowercase", bool(lowercase))

    count = 0
    for name in sorted(weights):
        if name in skipped or name.startswith("cls.") or name.startswith("pooler."):
            continue
        new_name = name_map(name)
        if new_name is None:
            raise SystemExit(f"unexpected tensor {name}")
        data = np.asarray(weights[name], dtype=np.float32)
        keep_f32 = (data.ndim <= 1 or new_name.endswith("_norm.weight")
                    or new_name.startswith("position_embd.") or new_name.startswith("token_types."))
        if args.outtype == "f16" and not keep_f32:
            writer.add_tensor(new_name, data.astype(np.float16))
        else:
            writer.add_tensor(new_name, np.ascontiguousarray(data))
        count += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    size = args.outfile.stat().st_size
    print(f"wrote {args.outfile}: {count} tensors, {len(tokens)} tokens, {size / 1e6:.1f} MB", file=sys.stderr)


if __name__ == "__main__":
    main()
