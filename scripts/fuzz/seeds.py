"""Small, valid GGUF files for the fuzzer to start from, written with the `gguf` package (an
independent writer, so the seeds do not share our reader's assumptions). Each one loads and
generates in well under a millisecond, so most fuzz cases can go all the way through
tokenizer, chat template, session and sampling. Deterministic: the same files every run.

  llama-bpe   llama graph, byte-level BPE ("smollm" pre-tokenizer), ChatML template,
              Q8_0/Q4_1/Q4_0/Q5_1 weights, tied output
  qwen2-bpe   qwen2 graph (q/k/v biases), "qwen2" pre-tokenizer, F16/BF16/Q5_0 weights,
              a separate Q6_K output, no chat template (the built-in fallback)
  gemma3-spm  gemma3 graph, SentencePiece vocabulary with byte fallback and scores,
              K-quant weights (Q4_K, Q5_K, Q6_K, Q2_K, Q3_K), Gemma's chat template
  values      no model: every metadata value type, nested arrays, odd tensor types
"""

import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V
from gguf import quants

EMBEDDING = 256  # a multiple of 256: K-quant rows
HEADS, KV_HEADS, HEAD = 4, 2, 64
FEED_FORWARD = 512
LAYERS = 2

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
GEMMA = ("{{ bos_token }}{% for message in messages %}{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
         "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}"
         "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}")


def byte_level_alphabet():
    """GPT-2's printable stand-ins for the 256 byte values, in byte order."""
    printable = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    mapping, extra = {}, 0
    for b in range(256):
        if b in printable:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return [mapping[b] for b in range(256)]


def bpe_vocabulary():
    """Specials, the 256 byte symbols, then merged words (and the merges that make them)."""
    specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>']
    symbols = byte_level_alphabet()
    words = ['the', 'and', 'ing', 'hello', 'world', 'is', 'of', 'to', 'in', 'json', 'true', 'false', 'null', 'name']
    tokens = specials + symbols
    merges, seen = [], set(tokens)
    for word in words:
        for text in (word, 'Ġ' + word):
            parts = list(text)
            while len(parts) > 1:
                merged = parts[0] + parts[1]
                rule = f'{parts[0]} {parts[1]}'
                if rule not in merges:
                    merges.append(rule)
                if merged not in seen:
                    seen.add(merged)
                    tokens.append(merged)
                parts = [merged] + parts[2:]
    types = [3] * len(specials) + [1] * (len(tokens) - len(specials))
    return tokens, types, merges


def spm_vocabulary():
    specials = ['<pad>', '<eos>', '<bos>', '<unk>', '<start_of_turn>', '<end_of_turn>']
    byte_tokens = [f'<0x{b:02X}>' for b in range(256)]
    pieces = ['▁', '▁the', '▁hello', '▁world', 'e', 't', 'a', 'o', 'n', '▁a', '▁is', 'ing', '▁of', '{', '}', '"', ':',
              '▁{', 'th', 'he', 'll', 'lo', 'wor', 'ld', '▁"', '0', '1', '2', ',', '.', '\n']
    tokens = specials + byte_tokens + pieces
    types = [3, 3, 3, 2, 3, 3] + [6] * 256 + [1] * len(pieces)
    scores = [0.0] * (len(specials) + 256) + [-float(i) for i in range(len(pieces))]
    return tokens, types, scores


def _sane_kquant(data, qtype):
    """Random K-quant blocks with small finite super-block scales (f16 d, dmin)."""
    block_bytes = {Q.Q2_K: 84, Q.Q3_K: 110, Q.Q4_K: 144, Q.Q5_K: 176, Q.Q6_K: 210}[qtype]
    scale_offsets = {Q.Q2_K: (80, 82), Q.Q3_K: (108,), Q.Q4_K: (0, 2), Q.Q5_K: (0, 2), Q.Q6_K: (208,)}[qtype]
    blocks = data.reshape(-1, block_bytes)
    scale = np.frombuffer(np.float16(0.002).tobytes(), dtype=np.uint8)
    for offset in scale_offsets:
        blocks[:, offset:offset + 2] = scale
    return data


def matrix(rng, rows, columns, qtype):
    """A rows × columns weight in `qtype`, as (array, raw dtype) for GGUFWriter.add_tensor."""
    if qtype == Q.F32:
        return (rng.standard_normal((rows, columns)) * 0.05).astype(np.float32), None
    if qtype in (Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K):
        block_bytes = {Q.Q2_K: 84, Q.Q3_K: 110, Q.Q4_K: 144, Q.Q5_K: 176, Q.Q6_K: 210}[qtype]
        raw = rng.integers(0, 256, size=(rows, columns // 256 * block_bytes), dtype=np.uint8)
        return _sane_kquant(raw, qtype), qtype
    values = (rng.standard_normal((rows, columns)) * 0.05).astype(np.float32)
    if qtype == Q.F16:
        return values.astype(np.float16), None
    return quants.quantize(values, qtype), qtype


def vector(rng, count, center=1.0):
    return (center + rng.standard_normal(count) * 0.01).astype(np.float32)


def add_matrix(writer, rng, name, rows, columns, qtype):
    array, raw = matrix(rng, rows, columns, qtype)
    writer.add_tensor(name, array, raw_dtype=raw)


def write_model(path, arch, tokenizer, weight_types, rng, *, template=None, biases=False, gemma=False, output_type=None):
    writer = gguf.GGUFWriter(path, arch)
    writer.add_name(f'fuzz seed {arch}')
    writer.add_uint32(f'{arch}.context_length', 256)
    writer.add_uint32(f'{arch}.embedding_length', EMBEDDING)
    writer.add_uint32(f'{arch}.block_count', LAYERS)
    writer.add_uint32(f'{arch}.feed_forward_length', FEED_FORWARD)
    writer.add_uint32(f'{arch}.attention.head_count', HEADS)
    writer.add_uint32(f'{arch}.attention.head_count_kv', KV_HEADS)
    writer.add_float32(f'{arch}.attention.layer_norm_rms_epsilon', 1e-6 if gemma else 1e-5)
    writer.add_float32(f'{arch}.rope.freq_base', 10000.0)
    if gemma:
        writer.add_uint32(f'{arch}.attention.key_length', HEAD)
        writer.add_uint32(f'{arch}.attention.value_length', HEAD)
        writer.add_uint32(f'{arch}.attention.sliding_window', 8)
    kind = tokenizer[0]
    if kind == 'bpe':
        tokens, types, merges = bpe_vocabulary()
        writer.add_string('tokenizer.ggml.model', 'gpt2')
        writer.add_string('tokenizer.ggml.pre', tokenizer[1])
        writer.add_array('tokenizer.ggml.tokens', tokens)
        writer.add_key_value('tokenizer.ggml.token_type', types, V.ARRAY, sub_type=V.INT32)
        writer.add_array('tokenizer.ggml.merges', merges)
        writer.add_uint32('tokenizer.ggml.bos_token_id', 1)
        writer.add_uint32('tokenizer.ggml.eos_token_id', 2)
        writer.add_bool('tokenizer.ggml.add_bos_token', False)
    else:
        tokens, types, scores = spm_vocabulary()
        writer.add_string('tokenizer.ggml.model', 'llama')
        writer.add_string('tokenizer.ggml.pre', 'default')
        writer.add_array('tokenizer.ggml.tokens', tokens)
        writer.add_key_value('tokenizer.ggml.scores', scores, V.ARRAY, sub_type=V.FLOAT32)
        writer.add_key_value('tokenizer.ggml.token_type', types, V.ARRAY, sub_type=V.INT32)
        writer.add_uint32('tokenizer.ggml.bos_token_id', 2)
        writer.add_uint32('tokenizer.ggml.eos_token_id', 1)
        writer.add_uint32('tokenizer.ggml.unknown_token_id', 3)
        writer.add_bool('tokenizer.ggml.add_bos_token', True)
        writer.add_bool('tokenizer.ggml.add_space_prefix', False)
    if template:
        writer.add_string('tokenizer.chat_template', template)
    vocabulary = len(tokens)

    embedding_type, attention_type, ffn_type = weight_types
    add_matrix(writer, rng, 'token_embd.weight', vocabulary, EMBEDDING, embedding_type)
    for i in range(LAYERS):
        p = f'blk.{i}.'
        writer.add_tensor(p + 'attn_norm.weight', vector(rng, EMBEDDING))
        add_matrix(writer, rng, p + 'attn_q.weight', HEADS * HEAD, EMBEDDING, attention_type)
        add_matrix(writer, rng, p + 'attn_k.weight', KV_HEADS * HEAD, EMBEDDING, attention_type)
        add_matrix(writer, rng, p + 'attn_v.weight', KV_HEADS * HEAD, EMBEDDING, attention_type)
        add_matrix(writer, rng, p + 'attn_output.weight', EMBEDDING, HEADS * HEAD, attention_type)
        if biases:
            writer.add_tensor(p + 'attn_q.bias', vector(rng, HEADS * HEAD, 0.0))
            writer.add_tensor(p + 'attn_k.bias', vector(rng, KV_HEADS * HEAD, 0.0))
            writer.add_tensor(p + 'attn_v.bias', vector(rng, KV_HEADS * HEAD, 0.0))
        if gemma:
            writer.add_tensor(p + 'attn_q_norm.weight', vector(rng, HEAD))
            writer.add_tensor(p + 'attn_k_norm.weight', vector(rng, HEAD))
            writer.add_tensor(p + 'post_attention_norm.weight', vector(rng, EMBEDDING))
            writer.add_tensor(p + 'post_ffw_norm.weight', vector(rng, EMBEDDING))
        writer.add_tensor(p + 'ffn_norm.weight', vector(rng, EMBEDDING))
        gate_type, down_type = (ffn_type, ffn_type) if not isinstance(ffn_type, tuple) else ffn_type
        add_matrix(writer, rng, p + 'ffn_gate.weight', FEED_FORWARD, EMBEDDING, gate_type)
        add_matrix(writer, rng, p + 'ffn_up.weight', FEED_FORWARD, EMBEDDING, gate_type)
        add_matrix(writer, rng, p + 'ffn_down.weight', EMBEDDING, FEED_FORWARD, down_type)
    writer.add_tensor('output_norm.weight', vector(rng, EMBEDDING))
    if output_type is not None:
        add_matrix(writer, rng, 'output.weight', vocabulary, EMBEDDING, output_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_values(path, rng):
    """Every metadata value type, nested arrays, and tensors of formats the kernels lack."""
    writer = gguf.GGUFWriter(path, 'llama')
    writer.add_key_value('t.u8', 200, V.UINT8)
    writer.add_key_value('t.i8', -5, V.INT8)
    writer.add_key_value('t.u16', 60000, V.UINT16)
    writer.add_key_value('t.i16', -300, V.INT16)
    writer.add_key_value('t.u32', 4_000_000_000, V.UINT32)
    writer.add_key_value('t.i32', -70000, V.INT32)
    writer.add_key_value('t.u64', 1 << 40, V.UINT64)
    writer.add_key_value('t.i64', -(1 << 40), V.INT64)
    writer.add_key_value('t.f32', 1.5, V.FLOAT32)
    writer.add_key_value('t.f64', 2.25, V.FLOAT64)
    writer.add_key_value('t.bool', True, V.BOOL)
    writer.add_key_value('t.string', 'ĠHello ü', V.STRING)
    writer.add_key_value('t.strings', ['a', '', 'ĠHello'], V.ARRAY, sub_type=V.STRING)
    writer.add_key_value('t.bools', [True, False], V.ARRAY, sub_type=V.BOOL)
    writer.add_key_value('t.floats', [0.5, -1.0], V.ARRAY, sub_type=V.FLOAT64)
    writer.add_key_value('t.nested', [[1, 2], [3]], V.ARRAY, sub_type=V.ARRAY)
    writer.add_tensor('a.weight', vector(rng, 64).reshape(2, 32))
    add_matrix(writer, rng, 'b.weight', 2, 256, Q.Q4_K)
    writer.add_tensor('c.weight', rng.integers(0, 256, size=(2, 32), dtype=np.uint8), raw_dtype=Q.I8)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


SEEDS = {
    'llama-bpe': lambda path, rng: write_model(path, 'llama', ('bpe', 'smollm'), (Q.Q8_0, Q.Q4_1, (Q.Q4_0, Q.Q5_1)), rng, template=CHATML),
    'qwen2-bpe': lambda path, rng: write_model(path, 'qwen2', ('bpe', 'qwen2'), (Q.F16, Q.BF16, Q.Q5_0), rng, biases=True, output_type=Q.Q6_K),
    'gemma3-spm': lambda path, rng: write_model(path, 'gemma3', ('spm',), (Q.Q8_0, Q.Q4_K, (Q.Q5_K, Q.Q6_K)), rng, template=GEMMA, gemma=True),
    'gemma3-spm-low-bits': lambda path, rng: write_model(path, 'gemma3', ('spm',), (Q.Q2_K, Q.Q3_K, Q.Q4_K), rng, gemma=True),
    'values': write_values,
}


def ensure(directory):
    """Writes the seeds into `directory` (once) and returns {name: path}."""
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for index, (name, make) in enumerate(SEEDS.items()):
        path = os.path.join(directory, f'{name}.gguf')
        if not os.path.exists(path):
            temporary = path + '.tmp'
            make(temporary, np.random.default_rng(1000 + index))
            os.replace(temporary, path)
        paths[name] = path
    return paths
