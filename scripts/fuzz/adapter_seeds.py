"""Small, valid LoRA adapters (llama.cpp's GGUF adapter form) for the fuzzer's small seed
models (seeds.py), written with the `gguf` package: metadata `general.type = adapter`,
`adapter.type = lora`, `adapter.lora.alpha`, and `<W>.lora_a` (ggml [in, rank]) /
`<W>.lora_b` (ggml [rank, out]) pairs. Each loads and applies in well under a millisecond.
Deterministic: the same files every run.

  lora-llama   for llama-bpe: F32 pairs, rank 4, on attn_q, attn_v and ffn_down
  lora-qwen2   for qwen2-bpe: F16 pairs, rank 8, on attn_k, attn_output and ffn_gate
  lora-gemma3  for gemma3-spm: Q8_0 lora_a (rank 32: whole blocks in both halves), F32
               lora_b, on attn_q, ffn_up, with no alpha (the user scale alone)
"""

import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q
from gguf import quants

from seeds import EMBEDDING, HEADS, KV_HEADS, HEAD, FEED_FORWARD, LAYERS

SHAPES = {  # matrix: (out, in)
    'attn_q': (HEADS * HEAD, EMBEDDING), 'attn_k': (KV_HEADS * HEAD, EMBEDDING), 'attn_v': (KV_HEADS * HEAD, EMBEDDING),
    'attn_output': (EMBEDDING, HEADS * HEAD), 'ffn_gate': (FEED_FORWARD, EMBEDDING), 'ffn_up': (FEED_FORWARD, EMBEDDING),
    'ffn_down': (EMBEDDING, FEED_FORWARD),
}


def _half(rng, rows, columns, qtype):
    values = (rng.standard_normal((rows, columns)) * 0.05).astype(np.float32)
    if qtype == Q.F32:
        return values, None
    if qtype == Q.F16:
        return values.astype(np.float16), None
    return quants.quantize(values, qtype), qtype


def write_adapter(path, rng, arch, matrices, rank, a_type, b_type, alpha):
    writer = gguf.GGUFWriter(path, arch)
    writer.add_string('general.type', 'adapter')
    writer.add_string('adapter.type', 'lora')
    writer.add_name(f'fuzz seed adapter for {arch}')
    if alpha is not None:
        writer.add_float32('adapter.lora.alpha', alpha)
    for layer in range(LAYERS):
        for name in matrices:
            out, columns = SHAPES[name]
            a, a_raw = _half(rng, rank, columns, a_type)
            b, b_raw = _half(rng, out, rank, b_type)
            writer.add_tensor(f'blk.{layer}.{name}.weight.lora_a', a, raw_dtype=a_raw)
            writer.add_tensor(f'blk.{layer}.{name}.weight.lora_b', b, raw_dtype=b_raw)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


# name: (base seed, writer)
ADAPTERS = {
    'lora-llama': ('llama-bpe', lambda p, rng: write_adapter(p, rng, 'llama', ['attn_q', 'attn_v', 'ffn_down'], 4, Q.F32, Q.F32, 8.0)),
    'lora-qwen2': ('qwen2-bpe', lambda p, rng: write_adapter(p, rng, 'qwen2', ['attn_k', 'attn_output', 'ffn_gate'], 8, Q.F16, Q.F16, 16.0)),
    'lora-gemma3': ('gemma3-spm', lambda p, rng: write_adapter(p, rng, 'gemma3', ['attn_q', 'ffn_up'], 32, Q.Q8_0, Q.F32, None)),
}


def ensure(directory):
    """Writes the adapters into `directory` (once) and returns {name: (path, base seed name)}."""
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for index, (name, (base, make)) in enumerate(ADAPTERS.items()):
        path = os.path.join(directory, f'{name}.gguf')
        if not os.path.exists(path):
            temporary = path + '.tmp'
            make(temporary, np.random.default_rng(2000 + index))
            os.replace(temporary, path)
        paths[name] = (path, base)
    return paths
