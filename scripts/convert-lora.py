#!/usr/bin/env python3
"""Converts a PEFT LoRA adapter (a folder with adapter_config.json and adapter_model.safetensors)
into the GGUF adapter form llama.cpp and TinyLM read (`tinylm generate --lora FILE`).

    scripts/convert-lora.py ADAPTER_DIR --base MODEL.gguf [--outfile OUT.gguf] [--outtype f16|f32|bf16]

The base model's GGUF supplies the architecture (llama, qwen2, qwen3 or gemma3) and the shapes:
every adapted matrix must exist in it with matching dimensions, or nothing is written.
Needs only numpy and gguf (no torch, no safetensors package: the file is parsed here).

The result, as llama.cpp's convert_lora_to_gguf.py lays it out:
  metadata  general.architecture (the base's), general.type = adapter, adapter.type = lora,
            adapter.lora.alpha, general.name
  tensors   <base tensor>.lora_a with ggml shape [in, rank] and <base tensor>.lora_b with
            [rank, out], i.e. PEFT's lora_A (rank × in) and lora_B (out × rank) unchanged in
            memory order; for token_embd, which is looked up rather than multiplied, lora_a is
            PEFT's lora_embedding_A transposed (ggml [rank, vocabulary]) and lora_b is
            lora_embedding_B (ggml [rank, embedding]).
"""
from __future__ import annotations

import argparse
import json
import math
import re
import struct
import sys
from pathlib import Path

import numpy as np

import gguf


class ConversionError(Exception):
    """Input that cannot become a correct adapter; the message says what and where."""


SUPPORTED_ARCHITECTURES = ("llama", "qwen2", "qwen3", "gemma3")

# PEFT module name -> the llama.cpp tensor name (inside `blk.N.` for per-layer modules). The
# same names serve all four architectures; q_norm/k_norm and the other norms are never LoRA
# targets (PEFT adapts linear and embedding layers only).
LAYER_MODULES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
TOP_MODULES = {"embed_tokens": "token_embd", "lm_head": "output"}
KNOWN_TARGETS = {name.split(".")[-1] for name in LAYER_MODULES} | set(TOP_MODULES)

# Where the decoder sits in a PEFT state dict, after `base_model.model.`: plain causal LMs use
# `model.`; multimodal wrappers (Gemma 3 with vision, newer transformers) nest the text model.
DECODER_PREFIXES = ("model.language_model.", "language_model.model.", "model.")

SAFETENSORS_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2")}


# ----------------------------------------------------------------------------- safetensors

def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """All tensors of a safetensors file as float32 arrays (F32, F16 and BF16 are accepted).

    Format: an 8-byte little-endian header length, that many bytes of JSON mapping each name to
    {dtype, shape, data_offsets: [begin, end]} (offsets relative to the end of the header), then
    the raw little-endian data.
    """
    data = path.read_bytes()
    if len(data) < 8:
        raise ConversionError(f"{path}: too short for a safetensors file ({len(data)} bytes)")
    (header_length,) = struct.unpack_from("<Q", data, 0)
    if header_length > len(data) - 8:
        raise ConversionError(f"{path}: header length {header_length} exceeds the file ({len(data)} bytes)")
    try:
        header = json.loads(data[8:8 + header_length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConversionError(f"{path}: the header is not JSON ({error})") from None
    if not isinstance(header, dict):
        raise ConversionError(f"{path}: the header is not a JSON object")
    body = memoryview(data)[8 + header_length:]
    tensors: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict):
            raise ConversionError(f"{path}: entry '{name}' is not an object")
        dtype_name, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if dtype_name not in SAFETENSORS_DTYPES:
            raise ConversionError(f"{path}: tensor '{name}' has dtype {dtype_name!r}; "
                                  f"F32, F16 and BF16 are supported")
        if (not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape)
                or not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) for o in offsets)):
            raise ConversionError(f"{path}: tensor '{name}' has a malformed shape or data_offsets")
        begin, end = offsets
        dtype = SAFETENSORS_DTYPES[dtype_name]
        if not 0 <= begin <= end <= len(body) or end - begin != math.prod(shape) * dtype.itemsize:
            raise ConversionError(f"{path}: tensor '{name}' ({dtype_name} {shape}) has data_offsets "
                                  f"{offsets} that do not fit its size or the file")
        raw = np.frombuffer(body[begin:end], dtype=dtype).reshape(shape)
        if dtype_name == "BF16":
            # bfloat16 is the upper half of a float32
            array = (raw.astype(np.uint32) << 16).view(np.float32)
        else:
            array = raw.astype(np.float32)
        tensors[name] = array
    return tensors


# ----------------------------------------------------------------------------- base model

class BaseModel:
    """What the conversion needs from the base GGUF: architecture, head counts, tensor shapes."""

    def __init__(self, path: Path):
        try:
            reader = gguf.GGUFReader(path)
        except Exception as error:  # gguf raises several types for a file that is not GGUF
            raise ConversionError(f"{path}: cannot read the base model as GGUF ({error})") from None
        self.path = path
        self.architecture = self._string(reader, "general.architecture")
        kind = self._string(reader, "general.type", required=False)
        if kind == "adapter":
            raise ConversionError(f"{path}: --base is an adapter, not a model")
        if self.architecture not in SUPPORTED_ARCHITECTURES:
            raise ConversionError(f"{path}: architecture '{self.architecture}' is not supported; "
                                  f"supported: {', '.join(SUPPORTED_ARCHITECTURES)}")
        self.head_count = self._int(reader, f"{self.architecture}.attention.head_count")
        self.head_count_kv = self._int(reader, f"{self.architecture}.attention.head_count_kv",
                                       default=self.head_count)
        # ggml shapes: ne[0] is the input width (a row's length), ne[1] the number of rows
        self.shapes = {t.name: tuple(int(d) for d in t.shape) for t in reader.tensors}

    @staticmethod
    def _string(reader, key, required=True):
        field = reader.fields.get(key)
        if field is None:
            if required:
                raise ConversionError(f"the base model has no '{key}'")
            return None
        return str(field.contents())

    @staticmethod
    def _int(reader, key, default=None):
        field = reader.fields.get(key)
        if field is None:
            if default is None:
                raise ConversionError(f"the base model has no '{key}'")
            return default
        value = field.contents()
        if isinstance(value, list):  # per-layer arrays: the conversion needs one head count
            if len(set(value)) != 1:
                raise ConversionError(f"the base model's '{key}' differs between layers")
            value = value[0]
        return int(value)


# ----------------------------------------------------------------------------- adapter config

class LoRAConfig:
    def __init__(self, path: Path):
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConversionError(f"{path} is missing") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ConversionError(f"{path}: not JSON ({error})") from None
        if not isinstance(config, dict):
            raise ConversionError(f"{path}: not a JSON object")
        peft_type = config.get("peft_type")
        if peft_type != "LORA":
            raise ConversionError(f"{path}: peft_type is {peft_type!r}; only LoRA adapters (\"LORA\") convert")
        for flag, why in (("use_dora", "DoRA adds a magnitude vector llama.cpp's LoRA form cannot carry"),
                          ("fan_in_fan_out", "fan_in_fan_out (GPT-2 style Conv1D) is not used by these architectures")):
            if config.get(flag):
                raise ConversionError(f"{path}: {flag} is set; {why}")
        if config.get("modules_to_save"):
            raise ConversionError(f"{path}: modules_to_save {config['modules_to_save']} stores full weights, "
                                  f"which a LoRA GGUF cannot carry")
        if config.get("alpha_pattern"):
            raise ConversionError(f"{path}: alpha_pattern gives modules their own alpha; the GGUF form has one alpha")
        bias = config.get("bias", "none")
        if bias != "none":
            raise ConversionError(f"{path}: bias is {bias!r}; trained biases cannot be carried (only \"none\")")
        self.rank = self._positive_int(config, "r", path)
        alpha = config.get("lora_alpha")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
            raise ConversionError(f"{path}: lora_alpha should be a number, found {alpha!r}")
        if alpha == 0:
            # PEFT's scaling would be 0 (no change); llama.cpp reads alpha 0 as "no alpha/rank factor"
            raise ConversionError(f"{path}: lora_alpha is 0, which makes the adapter change nothing")
        rank_pattern = config.get("rank_pattern") or {}
        if not isinstance(rank_pattern, dict):
            raise ConversionError(f"{path}: rank_pattern should be an object")
        self.rank_pattern = {str(k): self._positive_int(rank_pattern, k, path) for k in rank_pattern}
        if config.get("use_rslora"):
            # rsLoRA scales by alpha/sqrt(r); llama.cpp scales by alpha/r, so alpha·sqrt(r) gives
            # the same product, as long as one r holds for every module
            if self.rank_pattern:
                raise ConversionError(f"{path}: use_rslora with a rank_pattern needs one alpha per rank")
            alpha = alpha * math.sqrt(self.rank)
        self.alpha = float(alpha)
        targets = config.get("target_modules")
        if isinstance(targets, str):
            self.targets = None if targets == "all-linear" else re.compile(targets)
        elif isinstance(targets, list) and targets and all(isinstance(t, str) for t in targets):
            unknown = sorted(set(targets) - KNOWN_TARGETS)
            if unknown:
                raise ConversionError(f"{path}: target_modules {unknown} are not modules of a llama/qwen2/qwen3/"
                                      f"gemma3 decoder; known: {', '.join(sorted(KNOWN_TARGETS))}")
            self.targets = set(targets)
        else:
            raise ConversionError(f"{path}: target_modules should be a list of module names or a regex")

    @staticmethod
    def _positive_int(mapping, key, path):
        value = mapping.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConversionError(f"{path}: {key} should be a positive integer, found {value!r}")
        return value

    def rank_for(self, module_path: str) -> int:
        """The rank PEFT gave this module: rank_pattern keys match the end of the module's path."""
        for pattern, rank in self.rank_pattern.items():
            if re.fullmatch(rf"(.*\.)?{pattern}", module_path):
                return rank
        return self.rank

    def targets_module(self, module_path: str) -> bool:
        if self.targets is None:
            return True
        if isinstance(self.targets, set):
            return module_path.split(".")[-1] in self.targets
        return self.targets.fullmatch(module_path) is not None


# ----------------------------------------------------------------------------- names

PEFT_NAME = re.compile(r"base_model\.model\.(?P<module>.+)\."
                       r"(?P<part>lora_A|lora_B|lora_embedding_A|lora_embedding_B)(\.default)?(\.weight)?")
LAYER_PATH = re.compile(r"layers\.(?P<block>\d+)\.(?P<module>.+)")


def gguf_base_name(module_path: str) -> str | None:
    """llama.cpp's name for the weight of a PEFT module path (e.g. model.layers.3.mlp.up_proj ->
    blk.3.ffn_up.weight), or None for a module no supported architecture has."""
    if module_path == "lm_head":
        return "output.weight"
    for prefix in DECODER_PREFIXES:
        if module_path.startswith(prefix):
            inner = module_path[len(prefix):]
            if inner == "embed_tokens":
                return "token_embd.weight"
            match = LAYER_PATH.fullmatch(inner)
            if match and match["module"] in LAYER_MODULES:
                return f"blk.{int(match['block'])}.{LAYER_MODULES[match['module']]}.weight"
            return None
    return None


def rope_permute_rows(rows: np.ndarray, head_count: int) -> np.ndarray:
    """llama.cpp's converter reorders the rows of llama's q and k weights (within each head, from
    Hugging Face's half-split rotary layout to interleaved pairs); B is the output side of B·A, so
    its rows get the same reordering."""
    out = rows.shape[0]
    return (rows.reshape(head_count, 2, out // head_count // 2, *rows.shape[1:])
            .swapaxes(1, 2).reshape(rows.shape))


# ----------------------------------------------------------------------------- conversion

def convert(adapter_dir: Path, base: BaseModel) -> tuple[LoRAConfig, list[tuple[str, np.ndarray, np.ndarray]]]:
    """The adapter's (gguf base name, A as PEFT's rank × in, B as out × rank) triples, checked
    against the base model, in llama.cpp's tensor order."""
    config = LoRAConfig(adapter_dir / "adapter_config.json")
    weights_path = adapter_dir / "adapter_model.safetensors"
    if not weights_path.is_file():
        raise ConversionError(f"{weights_path} is missing (adapter_model.bin needs torch and is not read)")
    tensors = read_safetensors(weights_path)

    halves: dict[str, dict[str, np.ndarray]] = {}
    module_of: dict[str, str] = {}
    for name, array in tensors.items():
        match = PEFT_NAME.fullmatch(name)
        if match is None:
            raise ConversionError(f"tensor '{name}' is not a LoRA A or B matrix "
                                  f"(full weights or biases cannot go into a LoRA GGUF)")
        module_path = match["module"]
        base_name = gguf_base_name(module_path)
        if base_name is None:
            raise ConversionError(f"tensor '{name}': module '{module_path}' is not one of a "
                                  f"{base.architecture} decoder's adaptable matrices")
        if not config.targets_module(module_path):
            raise ConversionError(f"tensor '{name}': module '{module_path}' is not in target_modules")
        if array.ndim != 2:
            raise ConversionError(f"tensor '{name}' has shape {list(array.shape)}; a matrix is expected")
        part = "A" if match["part"].endswith("A") else "B"
        if part in halves.setdefault(base_name, {}):
            raise ConversionError(f"tensor '{name}': module '{module_path}' has two lora_{part} tensors")
        halves[base_name][part] = array
        module_of[base_name] = module_path

    if not halves:
        raise ConversionError(f"{weights_path} holds no LoRA tensors")
    if isinstance(config.targets, set):
        seen = {path.split(".")[-1] for path in module_of.values()}
        missing = sorted(config.targets - seen)
        if missing:
            raise ConversionError(f"target_modules {missing} have no tensors in {weights_path}")

    pairs = []
    for base_name in sorted(halves, key=tensor_order):
        module_path, pair = module_of[base_name], halves[base_name]
        if set(pair) != {"A", "B"}:
            raise ConversionError(f"module '{module_path}' has lora_{'A' if 'A' in pair else 'B'} "
                                  f"but no lora_{'B' if 'A' in pair else 'A'}")
        if base_name not in base.shapes:
            hint = (" (the model ties its output to token_embd, as llama.cpp's converter also refuses)"
                    if base_name == "output.weight" else "")
            raise ConversionError(f"module '{module_path}' is adapted, but the base model has no "
                                  f"'{base_name}'{hint}")
        a, b = pair["A"], pair["B"]
        base_in, base_rows = base.shapes[base_name][0], base.shapes[base_name][1]
        is_embedding = base_name == "token_embd.weight"
        if is_embedding:
            # PEFT's embedding: lora_embedding_A is rank × vocabulary, lora_embedding_B embedding × rank
            vocabulary, width = base_rows, base_in
            if base.architecture == "gemma3" and a.shape[1] > vocabulary:
                # llama.cpp's converter drops gemma3's unused vocabulary rows from token_embd
                a = a[:, :vocabulary]
            expect_a, expect_b = (a.shape[0], vocabulary), (width, b.shape[1])
        else:
            expect_a, expect_b = (a.shape[0], base_in), (base_rows, b.shape[1])
        if a.shape != expect_a or b.shape != expect_b:
            raise ConversionError(
                f"module '{module_path}': lora_A {list(a.shape)} and lora_B {list(b.shape)} do not fit "
                f"'{base_name}' (ggml shape {list(base.shapes[base_name])}); expected lora_A "
                f"[rank, {expect_a[1]}] and lora_B [{expect_b[0]}, rank]")
        rank_a, rank_b = a.shape[0], b.shape[1]
        if rank_a != rank_b:
            raise ConversionError(f"module '{module_path}': lora_A has rank {rank_a} but lora_B has rank {rank_b}")
        expected_rank = config.rank_for(module_path)
        if rank_a != expected_rank:
            raise ConversionError(f"module '{module_path}': rank {rank_a} differs from the config's r = {expected_rank}")
        if base.architecture == "llama":
            if base_name.endswith(".attn_q.weight"):
                b = rope_permute_rows(b, base.head_count)
            elif base_name.endswith(".attn_k.weight"):
                b = rope_permute_rows(b, base.head_count_kv)
        pairs.append((base_name, a, b))
    return config, pairs


def tensor_order(base_name: str) -> tuple:
    """token_embd, then each block's matrices in the order of the forward pass, then output."""
    if base_name == "token_embd.weight":
        return (0,)
    if base_name == "output.weight":
        return (2,)
    _, block, kind, _ = base_name.split(".")
    return (1, int(block), list(LAYER_MODULES.values()).index(kind))


OUTTYPES = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16,
            "bf16": gguf.GGMLQuantizationType.BF16}


def encode(array: np.ndarray, outtype: str) -> tuple[np.ndarray, gguf.GGMLQuantizationType]:
    kind = OUTTYPES[outtype]
    array = np.ascontiguousarray(array, dtype=np.float32)
    if kind == gguf.GGMLQuantizationType.F32:
        return array, kind
    if kind == gguf.GGMLQuantizationType.F16:
        return array.astype(np.float16), kind  # round to nearest even, as torch's .to(float16)
    return gguf.quants.quantize(array, kind), kind


def write_gguf(path: Path, architecture: str, alpha: float, name: str | None,
               pairs: list[tuple[str, np.ndarray, np.ndarray]], outtype: str) -> None:
    writer = gguf.GGUFWriter(path, architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    if name:
        writer.add_name(name)
    for base_name, a, b in pairs:
        # numpy's (rows, columns) is ggml's [columns, rows]: PEFT's A (rank × in) is ggml
        # [in, rank] and B (out × rank) is [rank, out]. The embedding's A is stored transposed
        # (ggml [rank, vocabulary]) because llama.cpp looks its rows up by token.
        if base_name == "token_embd.weight":
            a = a.T
        for suffix, array in ((".lora_a", a), (".lora_b", b)):
            data, kind = encode(array, outtype)
            writer.add_tensor(base_name + suffix, data, raw_dtype=kind if kind == gguf.GGMLQuantizationType.BF16 else None)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert a PEFT LoRA adapter (adapter_config.json + "
                                                 "adapter_model.safetensors) into llama.cpp's GGUF adapter form.")
    parser.add_argument("adapter_dir", type=Path, help="folder with adapter_config.json and adapter_model.safetensors")
    parser.add_argument("--base", type=Path, required=True, help="the base model's GGUF (architecture and shapes)")
    parser.add_argument("--outfile", type=Path, help="where to write (default: ADAPTER_DIR/adapter-OUTTYPE.gguf)")
    parser.add_argument("--outtype", choices=sorted(OUTTYPES), default="f16",
                        help="type of the A and B tensors (default f16: half the size of f32)")
    parser.add_argument("--name", help="general.name of the adapter (default: the folder's name)")
    args = parser.parse_args(argv)

    try:
        base = BaseModel(args.base)
        config, pairs = convert(args.adapter_dir, base)
        outfile = args.outfile or args.adapter_dir / f"adapter-{args.outtype}.gguf"
        name = args.name if args.name is not None else args.adapter_dir.resolve().name
        write_gguf(outfile, base.architecture, config.alpha, name, pairs, args.outtype)
    except ConversionError as error:
        print(f"convert-lora: {error}", file=sys.stderr)
        return 1
    ranks = sorted({a.shape[0] for _, a, _ in pairs})
    print(f"wrote {outfile}: {len(pairs)} adapted matrices of {base.architecture}, "
          f"rank {'/'.join(map(str, ranks))}, alpha {config.alpha:g}, {args.outtype}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
