// Untrusted model files in the wasm build: a small file whose metadata claims a model far too
// big for a session must give an OutOfMemoryError, not a trap, and leave the engine usable.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine } from './helpers.mjs';

const encoder = new TextEncoder();

/** A minimal GGUF writer: string keys, u32 and string values, string arrays, F32 tensors. */
function gguf({ metadata, tensors, data }) {
  const parts = [];
  const u32 = (v) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); parts.push(b); };
  const u64 = (v) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v), true); parts.push(b); };
  const string = (s) => { const b = encoder.encode(s); u64(b.length); parts.push(b); };
  parts.push(encoder.encode('GGUF'));
  u32(3);
  u64(tensors.length);
  u64(metadata.length);
  for (const [key, value] of metadata) {
    string(key);
    if (typeof value === 'number') { u32(4); u32(value); } else if (typeof value === 'string') { u32(8); string(value); } else {
      u32(9); u32(8); u64(value.length);
      for (const item of value) string(item);
    }
  }
  for (const { name, shape, offset = 0 } of tensors) {
    string(name);
    u32(shape.length);
    for (const dimension of shape) u64(dimension);
    u32(0); // F32
    u64(offset);
  }
  const header = parts.reduce((sum, part) => sum + part.length, 0);
  const padded = Math.ceil(header / 32) * 32;
  const file = new Uint8Array(padded + data.length);
  let at = 0;
  for (const part of parts) { file.set(part, at); at += part.length; }
  file.set(data, padded);
  return file;
}

/** `layers` layers of 1024 heads × 64 values over a one-value embedding, every tensor at offset 0. */
function amplifiedModel(layers, overrides = {}) {
  const width = 1024 * 64;
  const defaults = [
    ['general.architecture', 'llama'], ['llama.context_length', 1 << 20], ['llama.embedding_length', 1],
    ['llama.block_count', layers], ['llama.feed_forward_length', 1], ['llama.attention.head_count', 1024],
    ['llama.attention.head_count_kv', 1024], ['llama.attention.key_length', 64], ['llama.attention.value_length', 64],
    ['llama.rope.dimension_count', 64], ['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.pre', 'gpt-2'],
    ['tokenizer.ggml.tokens', Array.from({ length: 256 }, (_, i) => `t${i}`)], ['tokenizer.ggml.merges', []],
  ];
  const metadata = defaults.map(([key, value]) => [key, key in overrides ? overrides[key] : value]);
  const tensors = [{ name: 'token_embd.weight', shape: [1, 256] }, { name: 'output_norm.weight', shape: [1] }];
  for (let i = 0; i < layers; i++) {
    const p = `blk.${i}.`;
    tensors.push({ name: `${p}attn_norm.weight`, shape: [1] }, { name: `${p}ffn_norm.weight`, shape: [1] },
      { name: `${p}attn_q.weight`, shape: [1, width] }, { name: `${p}attn_k.weight`, shape: [1, width] },
      { name: `${p}attn_v.weight`, shape: [1, width] }, { name: `${p}attn_output.weight`, shape: [width, 1] },
      { name: `${p}ffn_gate.weight`, shape: [1, 1] }, { name: `${p}ffn_up.weight`, shape: [1, 1] },
      { name: `${p}ffn_down.weight`, shape: [1, 1] });
  }
  return gguf({ metadata, tensors, data: new Uint8Array(width * 4) });
}

let engine;
before(async () => { engine = await createEngine(); });

test('a 1 MB file claiming 1024 layers of 64k-wide keys loads, and its oversized sessions are OutOfMemoryError', () => {
  const bytes = amplifiedModel(1024);
  assert.ok(bytes.length < 2 << 20);
  const model = engine.loadModel(bytes);
  assert.equal(model.info.layerCount, 1024);
  const session = (context) => {
    const handle = engine.abi.tinylm_session_create(model.handle, context, 8);
    if (handle) { engine.abi.tinylm_session_free(handle); return 'ok'; }
    try { engine.check(false); } catch (error) { return error.name; }
    return 'no error';
  };
  assert.equal(session(1), 'ok'); // 256 MiB of keys and values
  assert.equal(session(64), 'OutOfMemoryError'); // 16 GiB: more than wasm32 has
  assert.equal(session(1 << 20), 'OutOfMemoryError'); // more than a 32-bit size can count
  assert.equal(session(2), 'ok'); // the engine is intact
  model.free();
});

test('an optional value beyond 2^31 is an error in wasm32, as it is natively, not the default', () => {
  // Natively 2^31 is a (far too large) head size; Int(exactly:) fails on wasm32, which must
  // not make it look absent (and fall back to key_length).
  const bytes = amplifiedModel(1, { 'llama.attention.value_length': 2 ** 31 });
  assert.throws(() => engine.loadModel(bytes), (error) => error.name === 'InvalidModelError' && /'llama.attention.value_length'/.test(error.message));
  // The same file with a valid value loads.
  engine.loadModel(amplifiedModel(1)).free();
});

test('GGUF counts and lengths of 2^40 and more are InvalidModelError, with no memory taken for them', () => {
  const u32 = (v) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); return [...b]; };
  const u64 = (v) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v), true); return [...b]; };
  const file = (type, value, metadataCount = 1) => new Uint8Array([...encoder.encode('GGUF'), ...u32(3), ...u64(0), ...u64(metadataCount),
    ...u64(1), ...encoder.encode('k'), ...u32(type), ...value, ...new Array(64).fill(0)]);
  const cases = [
    file(9, [...u32(8), ...u64(2n ** 40n)]), // 2^40 strings
    file(9, [...u32(0), ...u64(2n ** 64n - 1n)]), // 2^64 - 1 bytes
    file(9, [...u32(9), ...u64(1), ...u32(12), ...u64(2n ** 40n)]), // nested
    file(8, u64(2n ** 63n)), // a string of 2^63 bytes
    file(8, u64(2n ** 32n + 5n)), // wraps to 5 in 32 bits
    file(4, u32(1), 2n ** 40n), // 2^40 metadata entries
  ];
  // A key of 8 MB that is really in the file: keys are at most 65 535 bytes (GGUF), so
  // neither the key nor the error message about it may be 8 MB.
  const longKey = new Uint8Array(8 << 20).fill(0x61);
  longKey.set([...encoder.encode('GGUF'), ...u32(3), ...u64(0), ...u64(1), ...u64(longKey.length - 100)]);
  cases.push(longKey);
  const upload = engine.beginModelUpload(longKey.length); // reserved up front, as a page does
  upload.cancel();
  const before = engine.memoryBytes;
  for (const bytes of cases) {
    assert.throws(() => engine.loadModel(bytes), (error) => error.name === 'InvalidModelError' && /more than the limit/.test(error.message)
      && error.message.length < 300);
  }
  assert.ok(engine.memoryBytes - before < 1 << 20, `wasm memory grew by ${engine.memoryBytes - before} bytes`);
});
