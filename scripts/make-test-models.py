#!/usr/bin/env python3
"""Small random-weight GGUF models of every architecture TinyLM runs, for checking its graphs
against llama.cpp's the way llama.cpp checks its own: same tensor names and metadata as the
real files, random weights, a few layers, a small but real vocabulary.

    python3 scripts/make-test-models.py [--llama-cpp DIR | --build-llama-cpp] [--out Tests/models]
                                        [--only NAME,...]
    python3 scripts/make-test-models.py --shape qwen2.5-0.5b|smollm2-360m|smollm2-1.7b [--out models]

Each model is written with float32 weights (numpy, seeded: the same bytes every run), then
quantized tensor by tensor with llama.cpp's own `llama-quantize` (--tensor-type overrides), so
the blocks are exactly what llama.cpp makes. The models and their formats are listed in MODELS
below and in Tests/models/README.md; `scripts/llama-reference.py` then runs llama.cpp on them.

Vocabularies are cut from the real ones (run scripts/fetch-models.sh all first): byte-level BPE
from SmolLM2-135M-Instruct (its first tokens and the merges among them), SentencePiece from
Gemma 3 (its first tokens: specials, byte fallbacks, the highest-scored pieces), with each
family's special tokens and its published chat template.

--shape NAME writes models/<NAME>-random.Q4_K_M.gguf instead (not committed): random weights in
the shape of a real model, quantized to Q4_K_M by llama-quantize (which, like for the real
files, falls back to Q5_0/Q8_0 where a width is not a multiple of 256):
  qwen2.5-0.5b   Qwen2.5-0.5B-Instruct (hidden 896, 24 layers, 14 heads, 2 KV heads, FFN 4864,
                 vocab 151936, tied): the speed figure at the size people use
  smollm2-360m   SmolLM2-360M-Instruct (hidden 960, 32 layers, 15 heads, 5 KV heads, FFN 2560)
  smollm2-1.7b   SmolLM2-1.7B-Instruct's layer (hidden 2048, 32 heads and KV heads, FFN 8192),
                 4 of its 24 layers (every layer is the same graph)
`scripts/llama-reference.py --models models --only NAME-random.Q4_K_M` then writes llama.cpp's
outputs, and TINYLM_TEST_MODELS=models runs TestModelReferenceTests on them.

Needs numpy and gguf (pip) and a llama.cpp build (scripts/llama_cpp_build.py says where it
looks; --build-llama-cpp builds it from the llama-cpp-python 0.3.36 sdist).
"""
import argparse
import math
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import llama_cpp_build  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SMOLLM2 = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3 = ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"
TEMPLATES = ROOT.parent / "shared" / "reference" / "chat-templates" / "templates"

# llama.cpp's token types (tokenizer.ggml.token_type).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


# ---------------------------------------------------------------------------------------------
# Vocabularies

@dataclass
class Vocabulary:
    model: str                       # tokenizer.ggml.model: "gpt2" or "llama"
    pre: str                         # tokenizer.ggml.pre
    tokens: list
    types: list
    merges: list = field(default_factory=list)
    scores: list = field(default_factory=list)
    ids: dict = field(default_factory=dict)       # bos/eos/unknown/padding token ids
    add_bos: bool = False
    add_space_prefix: bool | None = None

    def id(self, text: str) -> int:
        return self.tokens.index(text)


def read_strings(reader: GGUFReader, key: str) -> list:
    field_ = reader.fields[key]
    return [bytes(field_.parts[i]).decode("utf-8") for i in field_.data]


def read_numbers(reader: GGUFReader, key: str) -> list:
    field_ = reader.fields[key]
    return [field_.parts[i][0].item() for i in field_.data]


def byte_level_vocabulary(size: int, pre: str, specials: list, user_defined: list = ()) -> Vocabulary:
    """SmolLM2's byte-level BPE cut to `size` tokens: its first tokens (17 specials, the 256
    byte symbols, then tokens in merge order), the merges among them, and `specials` (control)
    and `user_defined` tokens that are not there yet, appended at the end."""
    reader = GGUFReader(SMOLLM2)
    tokens = read_strings(reader, "tokenizer.ggml.tokens")
    types = read_numbers(reader, "tokenizer.ggml.token_type")
    merges = read_strings(reader, "tokenizer.ggml.merges")
    extra = [(t, CONTROL) for t in specials if t not in tokens[:size]]
    extra += [(t, USER_DEFINED) for t in user_defined if t not in tokens[:size]]
    keep = size - len(extra)
    kept_tokens = tokens[:keep] + [t for t, _ in extra]
    kept_types = types[:keep] + [k for _, k in extra]
    known = set(tokens[:keep])
    kept_merges = []
    for merge in merges:
        left, right = merge.split(" ")
        if left in known and right in known and left + right in known:
            kept_merges.append(merge)
    return Vocabulary("gpt2", pre, kept_tokens, kept_types, merges=kept_merges)


def sentencepiece_vocabulary(size: int, renames: dict) -> Vocabulary:
    """Gemma 3's SentencePiece vocabulary cut to its first `size` tokens (specials, the 256
    byte-fallback tokens, then pieces by score), with some of its `<unusedN>` control tokens
    renamed (`renames`: new text → token type) to another family's special tokens."""
    reader = GGUFReader(GEMMA3)
    tokens = read_strings(reader, "tokenizer.ggml.tokens")[:size]
    types = read_numbers(reader, "tokenizer.ggml.token_type")[:size]
    scores = read_numbers(reader, "tokenizer.ggml.scores")[:size]
    unused = [i for i, t in enumerate(tokens) if t.startswith("<unused")]
    for slot, (text, kind) in zip(unused, renames.items()):
        tokens[slot] = text
        types[slot] = kind
    return Vocabulary("llama", "default", tokens, types, scores=scores)


def template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Models

@dataclass
class Shape:
    embedding: int = 256
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    head_size: int = 64
    feed_forward: int = 512
    vocabulary: int = 2048
    context: int = 8192


@dataclass
class TestModel:
    name: str
    architecture: str
    shape: Shape
    vocabulary: callable             # () -> Vocabulary
    chat_template: str | None
    # The type of every weight matrix: token_embd, output, then per layer; a callable
    # (layer, role) -> type name for the layers, roles as in ROLES below.
    embedding_type: str
    output_type: str | None          # None: tied to token_embd
    layer_type: callable
    seed: int
    description: str
    metadata: dict = field(default_factory=dict)
    fused_qkv: bool = False
    fused_gate_up: bool = False
    qkv_biases: bool = False
    qk_norms: bool = False
    post_norms: bool = False
    rope_freqs: bool = False         # Llama 3.1+ "llama3" frequency factors
    longrope: bool = False           # Phi-3 128k: short and long factors, attention factor
    rope_dimensions: int | None = None


def roles(model: TestModel) -> list:
    attention = ["attn_qkv"] if model.fused_qkv else ["attn_q", "attn_k", "attn_v"]
    feed_forward = ["ffn_up"] if model.fused_gate_up else ["ffn_gate", "ffn_up"]
    return attention + ["attn_output"] + feed_forward + ["ffn_down"]


def rotating(types: list):
    """Cycles through `types` over every (layer, role), so each appears in several places."""
    def pick(layer: int, role_index: int) -> str:
        return types[(layer * 7 + role_index) % len(types)]
    return pick


def uniform(type_name: str):
    return lambda layer, role_index: type_name


def llama3_rope_factors(head_size: int, base: float, factor=32.0, low=1.0, high=4.0, original=8192) -> np.ndarray:
    """`rope_freqs` as the llama.cpp converter computes it for rope_type "llama3" (Llama 3.2's
    settings by default)."""
    freqs = 1.0 / (base ** (np.arange(0, head_size, 2, dtype=np.float32) / head_size))
    low_wavelength, high_wavelength = original / low, original / high
    out = []
    for freq in freqs:
        wavelength = 2 * math.pi / freq
        if wavelength < high_wavelength:
            out.append(1.0)
        elif wavelength > low_wavelength:
            out.append(factor)
        else:
            smooth = (original / wavelength - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


EXACT = ["q8_0", "q4_1", "q5_0", "q4_k", "q6_k"]   # formats in llama.cpp's order today

SMOLLM2_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                   "<|eot_id|>", "<|eom_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>"]
PHI3_SPECIALS = {"<|endoftext|>": CONTROL, "<|assistant|>": CONTROL, "<|end|>": CONTROL, "<|user|>": CONTROL,
                 "<|system|>": CONTROL, "<|tool|>": CONTROL, "<|/tool|>": CONTROL, "<|tool_call|>": CONTROL,
                 "<|/tool_call|>": CONTROL}


def smollm2_vocabulary(size=2048):
    v = byte_level_vocabulary(size, "smollm", SMOLLM2_SPECIALS)
    v.ids = {"bos": 1, "eos": 2, "unknown": 0, "padding": 2}
    return v


def llama3_vocabulary(size=2048):
    v = byte_level_vocabulary(size, "llama-bpe", LLAMA3_SPECIALS)
    v.ids = {"bos": v.id("<|begin_of_text|>"), "eos": v.id("<|eot_id|>")}
    v.add_bos = True
    return v


def qwen_vocabulary(size=2048, thinking=False):
    user_defined = ["<tool_call>", "</tool_call>"] + (["<think>", "</think>"] if thinking else [])
    v = byte_level_vocabulary(size, "qwen2", SMOLLM2_SPECIALS, user_defined)
    v.ids = {"bos": v.id("<|endoftext|>"), "eos": v.id("<|im_end|>"), "padding": v.id("<|endoftext|>")}
    return v


def phi3_vocabulary(size=2048):
    v = sentencepiece_vocabulary(size, PHI3_SPECIALS)
    v.ids = {"bos": 2, "eos": v.id("<|end|>"), "unknown": 3, "padding": v.id("<|endoftext|>")}
    v.add_space_prefix = True
    return v


def gemma3_vocabulary(size=2048):
    v = sentencepiece_vocabulary(size, {})
    v.ids = {"bos": 2, "eos": 1, "unknown": 3, "padding": 0}
    v.add_bos = True
    v.add_space_prefix = False
    return v


SMALL = Shape(embedding=256, feed_forward=256, vocabulary=1024)
FLOAT = Shape(embedding=128, heads=4, kv_heads=2, head_size=32, feed_forward=256, vocabulary=1024)

MODELS = [
    TestModel("llama-smollm2", "llama", Shape(), smollm2_vocabulary, "HuggingFaceTB-SmolLM2-135M-Instruct.jinja",
              "q8_0", None, rotating(EXACT), 1,
              "SmolLM2-style llama (tied output, no BOS), exact formats mixed"),
    TestModel("llama3", "llama", Shape(heads=8, kv_heads=2, head_size=32), llama3_vocabulary,
              "meta-llama-Llama-3.2-3B-Instruct.jinja", "q6_k", None, rotating(["q4_k", "q4_k", "q6_k", "q4_k"]), 2,
              "Llama 3.2-style: rope_freqs (llama3 scaling), BOS, GQA 4:1, Q4_K_M-like mix",
              metadata={"rope.freq_base": 500000.0}, rope_freqs=True),
    TestModel("qwen2", "qwen2", Shape(), qwen_vocabulary, "Qwen-Qwen2.5-7B-Instruct.jinja",
              "q8_0", None, rotating(["q5_0", "q8_0", "q4_1", "q4_k", "q6_k"]), 3,
              "Qwen2.5-style: q/k/v biases, NeoX RoPE, tied output", metadata={"rope.freq_base": 1000000.0},
              qkv_biases=True),
    TestModel("qwen3", "qwen3", Shape(head_size=128), lambda: qwen_vocabulary(thinking=True), "Qwen-Qwen3-0.6B.jinja",
              "q8_0", None, rotating(["q4_k", "q6_k", "q8_0"]), 4,
              "Qwen3-style: per-head q/k norms, head size 128 ≠ embedding/heads, tied output",
              metadata={"rope.freq_base": 1000000.0}, qk_norms=True),
    TestModel("phi3", "phi3", Shape(kv_heads=4), phi3_vocabulary, "microsoft-Phi-3.5-mini-instruct.jinja",
              "q4_k", "q6_k", rotating(["q5_0", "q4_1", "q4_k", "q6_k", "q8_0"]), 5,
              "Phi-3-mini-style: fused attn_qkv and gate+up, queries scaled before attention, untied output, "
              "sliding_window in the file (ignored, as llama.cpp does)",
              metadata={"attention.sliding_window": 2047}, fused_qkv=True, fused_gate_up=True),
    TestModel("phi3-longrope", "phi3", Shape(kv_heads=2, context=131072), phi3_vocabulary,
              "microsoft-Phi-3.5-mini-instruct.jinja", "q8_0", None, rotating(["q4_k", "q6_k", "q5_0"]), 6,
              "Phi-3.5/Phi-4-mini-style LongRoPE: rope_factors_short/long, attn_factor, 3/4 of each head rotated, "
              "GQA, tied output", fused_qkv=True, fused_gate_up=True, longrope=True, rope_dimensions=48),
    TestModel("gemma3", "gemma3", Shape(kv_heads=1, head_size=128), gemma3_vocabulary, None,
              "q8_0", None, rotating(["q5_0", "q4_k", "q6_k", "q8_0"]), 7,
              "Gemma 3-style: √d embeddings, q/k norms, post-norms, GELU, sliding window 8 on layer 0 of 2",
              metadata={"attention.sliding_window": 8, "attention.sliding_window_pattern": 2,
                        "rope.freq_base": 1000000.0},
              qk_norms=True, post_norms=True),
]
# One model per weight format: every matrix (embeddings included) in that format.
for format_name in ["f32", "f16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k"]:
    MODELS.append(TestModel(f"llama-{format_name}", "llama", FLOAT if format_name in ("f32", "f16") else SMALL,
                            lambda size=1024: smollm2_vocabulary(size), "HuggingFaceTB-SmolLM2-135M-Instruct.jinja",
                            format_name, None, uniform(format_name), 100 + len(MODELS),
                            f"SmolLM2-style llama, every matrix {format_name.upper()}"))


def write_float_model(model: TestModel, path: Path):
    """The model with float32 weights (norms and factors stay F32 through quantization)."""
    s = model.shape
    rng = np.random.default_rng(model.seed)
    vocabulary = model.vocabulary()
    assert len(vocabulary.tokens) == s.vocabulary, (model.name, len(vocabulary.tokens))
    a = model.architecture
    w = GGUFWriter(str(path), a)
    # (general.name stays neutral: llama.cpp changes how a vocabulary tokenizes when the name
    # contains "phi3" or "phi-3", which real files named otherwise do not get.)
    w.add_string("general.name", "TinyLM random-weight test model")
    w.add_string("general.basename", model.name)
    w.add_uint32(f"{a}.context_length", s.context)
    w.add_uint32(f"{a}.embedding_length", s.embedding)
    w.add_uint32(f"{a}.block_count", s.layers)
    w.add_uint32(f"{a}.feed_forward_length", s.feed_forward)
    w.add_uint32(f"{a}.attention.head_count", s.heads)
    w.add_uint32(f"{a}.attention.head_count_kv", s.kv_heads)
    if s.head_size != s.embedding // s.heads:
        w.add_uint32(f"{a}.attention.key_length", s.head_size)
        w.add_uint32(f"{a}.attention.value_length", s.head_size)
    w.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-6 if a in ("gemma3", "qwen2", "qwen3") else 1e-5)
    rope_dimensions = model.rope_dimensions or s.head_size
    w.add_uint32(f"{a}.rope.dimension_count", rope_dimensions)
    for key, value in model.metadata.items():
        if isinstance(value, float):
            w.add_float32(f"{a}.{key}", value)
        else:
            w.add_uint32(f"{a}.{key}", value)
    if model.longrope:
        original = 4096
        w.add_uint32(f"{a}.rope.scaling.original_context_length", original)
        w.add_string(f"{a}.rope.scaling.type", "longrope")
        w.add_float32(f"{a}.rope.scaling.attn_factor", math.sqrt(1 + math.log(s.context / original) / math.log(original)))
        w.add_uint32(f"{a}.attention.sliding_window", 0)

    # Tokenizer.
    w.add_string("tokenizer.ggml.model", vocabulary.model)
    w.add_string("tokenizer.ggml.pre", vocabulary.pre)
    w.add_array("tokenizer.ggml.tokens", vocabulary.tokens)
    w.add_array("tokenizer.ggml.token_type", vocabulary.types)
    if vocabulary.merges:
        w.add_array("tokenizer.ggml.merges", vocabulary.merges)
    if vocabulary.scores:
        w.add_array("tokenizer.ggml.scores", [float(x) for x in vocabulary.scores])
    names = {"bos": "bos_token_id", "eos": "eos_token_id", "unknown": "unknown_token_id", "padding": "padding_token_id"}
    for key, token in vocabulary.ids.items():
        w.add_uint32(f"tokenizer.ggml.{names[key]}", token)
    w.add_bool("tokenizer.ggml.add_bos_token", vocabulary.add_bos)
    if vocabulary.add_space_prefix is not None:
        w.add_bool("tokenizer.ggml.add_space_prefix", vocabulary.add_space_prefix)
    if model.chat_template:
        w.add_string("tokenizer.chat_template", template(model.chat_template))

    # Weights: scaled so that activations, attention scores and logits have useful spreads.
    def matrix(rows, columns, std):
        return (rng.standard_normal((rows, columns), dtype=np.float32) * np.float32(std)).astype(np.float32)

    def norm(count):
        return (1 + 0.2 * rng.standard_normal(count)).astype(np.float32)

    d, f = s.embedding, s.feed_forward
    q, kv = s.heads * s.head_size, s.kv_heads * s.head_size
    # Small next to the blocks' outputs: with a tied output matrix, embeddings that dominate the
    # residual stream make every model repeat its last token.
    # (Gemma multiplies them by √embedding.)
    w.add_tensor("token_embd.weight", matrix(s.vocabulary, d, 0.1 / math.sqrt(d) if model.architecture == "gemma3" else 0.1))
    w.add_tensor("output_norm.weight", norm(d))
    if model.output_type:
        w.add_tensor("output.weight", matrix(s.vocabulary, d, 2.0 / math.sqrt(d)))
    if model.rope_freqs:
        w.add_tensor("rope_freqs.weight", llama3_rope_factors(s.head_size, model.metadata["rope.freq_base"]))
    if model.longrope:
        pairs = rope_dimensions // 2
        w.add_tensor("rope_factors_long.weight", (1 + 10 * rng.random(pairs)).astype(np.float32))
        w.add_tensor("rope_factors_short.weight", (1 + 0.5 * rng.random(pairs)).astype(np.float32))
    for i in range(s.layers):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", norm(d))
        query, key, value = matrix(q, d, 2 / math.sqrt(d)), matrix(kv, d, 2 / math.sqrt(d)), matrix(kv, d, 1 / math.sqrt(d))
        if model.fused_qkv:
            w.add_tensor(p + "attn_qkv.weight", np.concatenate([query, key, value]))
        else:
            w.add_tensor(p + "attn_q.weight", query)
            w.add_tensor(p + "attn_k.weight", key)
            w.add_tensor(p + "attn_v.weight", value)
        if model.qkv_biases:
            w.add_tensor(p + "attn_q.bias", (0.5 * rng.standard_normal(q)).astype(np.float32))
            w.add_tensor(p + "attn_k.bias", (0.5 * rng.standard_normal(kv)).astype(np.float32))
            w.add_tensor(p + "attn_v.bias", (0.5 * rng.standard_normal(kv)).astype(np.float32))
        if model.qk_norms:
            w.add_tensor(p + "attn_q_norm.weight", norm(s.head_size))
            w.add_tensor(p + "attn_k_norm.weight", norm(s.head_size))
        w.add_tensor(p + "attn_output.weight", matrix(d, q, 1 / math.sqrt(q)))
        if model.post_norms:
            w.add_tensor(p + "post_attention_norm.weight", norm(d))
        w.add_tensor(p + "ffn_norm.weight", norm(d))
        gate, up = matrix(f, d, 1 / math.sqrt(d)), matrix(f, d, 1 / math.sqrt(d))
        if model.fused_gate_up:
            w.add_tensor(p + "ffn_up.weight", np.concatenate([gate, up]))
        else:
            w.add_tensor(p + "ffn_gate.weight", gate)
            w.add_tensor(p + "ffn_up.weight", up)
        w.add_tensor(p + "ffn_down.weight", matrix(d, f, 1 / math.sqrt(f)))
        if model.post_norms:
            w.add_tensor(p + "post_ffw_norm.weight", norm(d))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def intended_types(model: TestModel) -> dict:
    types = {"token_embd.weight": model.embedding_type}
    if model.output_type:
        types["output.weight"] = model.output_type
    for i in range(model.shape.layers):
        for r, role in enumerate(roles(model)):
            types[f"blk.{i}.{role}.weight"] = model.layer_type(i, r)
    return types


def quantize(model: TestModel, source: Path, target: Path, bin_dir: Path):
    types = intended_types(model)
    arguments = [str(bin_dir / "llama-quantize"), "--token-embedding-type", types.pop("token_embd.weight")]
    if "output.weight" in types:
        arguments += ["--output-tensor-type", types.pop("output.weight")]
    for name, type_name in types.items():
        arguments += ["--tensor-type", "^" + name.replace(".", r"\.") + "$=" + type_name]
    # The default type only matters for tensors no override names (none): Q8_0 keeps
    # llama-quantize's per-tensor overrides active (it ignores them for float targets).
    arguments += [str(source), str(target), "Q8_0", "1"]
    subprocess.run(arguments, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   env={"LD_LIBRARY_PATH": str(bin_dir)})


def check_types(model: TestModel, path: Path):
    """Fails unless every matrix got its intended type (llama-quantize falls back silently)."""
    reader = GGUFReader(path)
    actual = {t.name: t.tensor_type.name.lower() for t in reader.tensors}
    for name, type_name in intended_types(model).items():
        if actual[name] != type_name:
            sys.exit(f"{model.name}: {name} is {actual[name]}, expected {type_name}")
    for name, type_name in actual.items():
        if name.endswith((".bias", "_norm.weight", "norm.weight", "rope_freqs.weight", "rope_factors_long.weight",
                          "rope_factors_short.weight")) and type_name != "f32":
            sys.exit(f"{model.name}: {name} is {type_name}, expected f32")


SHAPES = {
    # name: (architecture, Shape, vocabulary, template, rope base, q/k/v biases)
    "qwen2.5-0.5b": ("qwen2", Shape(embedding=896, layers=24, heads=14, kv_heads=2, head_size=64, feed_forward=4864,
                                    vocabulary=151936, context=32768),
                     lambda: padded(qwen_vocabulary(size=49152), 151936), "Qwen-Qwen2.5-7B-Instruct.jinja", 1000000.0, True),
    "smollm2-360m": ("llama", Shape(embedding=960, layers=32, heads=15, kv_heads=5, head_size=64, feed_forward=2560,
                                    vocabulary=49152, context=8192),
                     lambda: smollm2_vocabulary(size=49152), "HuggingFaceTB-SmolLM2-135M-Instruct.jinja", 100000.0, False),
    "smollm2-1.7b": ("llama", Shape(embedding=2048, layers=4, heads=32, kv_heads=32, head_size=64, feed_forward=8192,
                                    vocabulary=49152, context=8192),
                     lambda: smollm2_vocabulary(size=49152), "HuggingFaceTB-SmolLM2-135M-Instruct.jinja", 130000.0, False),
}


def padded(vocabulary: Vocabulary, size: int) -> Vocabulary:
    """`vocabulary` with unused tokens up to `size` (only the size matters for these models)."""
    padding = size - len(vocabulary.tokens)
    vocabulary.tokens += [f"[PAD{i}]" for i in range(padding)]
    vocabulary.types += [UNUSED] * padding
    return vocabulary


def shape_model(name: str, out: Path, bin_dir: Path):
    """Random weights in a real model's shape, Q4_K_M (see the module comment)."""
    architecture, shape, vocabulary, chat_template, rope_base, biases = SHAPES[name]
    model = TestModel(f"{name}-random", architecture, shape, vocabulary, chat_template, "q8_0", None, uniform("q8_0"),
                      42, f"{name} shape", metadata={"rope.freq_base": rope_base}, qkv_biases=biases)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{name}-random.Q4_K_M.gguf"
    with tempfile.TemporaryDirectory(dir=out) as work:
        source = Path(work) / "f32.gguf"
        write_float_model(model, source)
        subprocess.run([str(bin_dir / "llama-quantize"), str(source), str(target), "Q4_K_M", "2"], check=True,
                       stdout=subprocess.DEVNULL, env={"LD_LIBRARY_PATH": str(bin_dir)})
    print(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MiB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="output folder (default Tests/models, or models with --shape)")
    parser.add_argument("--only", help="comma-separated model names")
    parser.add_argument("--llama-cpp", help="a llama.cpp build directory (with bin/llama-quantize)")
    parser.add_argument("--build-llama-cpp", action="store_true", help="build llama.cpp into .build/llama.cpp if needed")
    parser.add_argument("--shape", choices=sorted(SHAPES), help="a real model's shape instead (not committed)")
    parser.add_argument("--list", action="store_true", help="print the models and their formats")
    args = parser.parse_args()
    if args.list:
        for m in MODELS:
            print(f"{m.name:16} {m.architecture:7} {', '.join(sorted(set(intended_types(m).values())))}: {m.description}")
        return 0
    for required in (SMOLLM2, GEMMA3):
        if not required.exists():
            sys.exit(f"missing {required}: run scripts/fetch-models.sh all (the vocabularies come from it)")
    bin_dir = llama_cpp_build.find(args.llama_cpp, build_if_missing=args.build_llama_cpp)
    if args.shape:
        shape_model(args.shape, Path(args.out or ROOT / "models"), bin_dir)
        return 0
    out = Path(args.out or ROOT / "Tests" / "models")
    out.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    for model in MODELS:
        if only and model.name not in only:
            continue
        target = out / f"{model.name}.gguf"
        with tempfile.TemporaryDirectory() as work:
            source = Path(work) / "f32.gguf"
            write_float_model(model, source)
            quantize(model, source, target, bin_dir)
        check_types(model, target)
        print(f"{target.name:24} {target.stat().st_size / 2**20:5.2f} MiB  {model.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
