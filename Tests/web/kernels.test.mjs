// The wasm kernels against llama.cpp itself: the matrices, activations and llama.cpp's results
// of Tests/vectors/llama-kernels (scripts/kernel-vectors/make.py), multiplied through the
// module's tinylm_matmul at every batch size; every result must have llama.cpp's bits.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createEngine, root } from './helpers.mjs';

const directory = path.join(root, 'Tests/vectors/llama-kernels');
// ggml type numbers and block shapes of the formats in the manifest.
const formats = {
  q4_0: { type: 2, values: 32, bytes: 18 }, q4_1: { type: 3, values: 32, bytes: 20 },
  q5_0: { type: 6, values: 32, bytes: 22 }, q5_1: { type: 7, values: 32, bytes: 24 },
  q8_0: { type: 8, values: 32, bytes: 34 }, q2_K: { type: 10, values: 256, bytes: 84 },
  q3_K: { type: 11, values: 256, bytes: 110 }, q4_K: { type: 12, values: 256, bytes: 144 },
  q5_K: { type: 13, values: 256, bytes: 176 }, q6_K: { type: 14, values: 256, bytes: 210 },
};

let engine;
let manifest;
let activations;

before(async () => {
  engine = await createEngine();
  manifest = JSON.parse(await readFile(path.join(directory, 'manifest.json'), 'utf8'));
  activations = await readFile(path.join(directory, 'activations.f32'));
});

function copyIn(bytes) {
  const pointer = engine.abi.tinylm_alloc(bytes.byteLength);
  new Uint8Array(engine.memory.buffer, pointer, bytes.byteLength).set(bytes);
  return pointer;
}

test('every weight format gives llama.cpp\'s bits at every batch size', async () => {
  assert.deepEqual(Object.keys(formats).sort(), [...new Set(manifest.matrices.map((m) => m.type))].sort());
  const columns = manifest.columns;
  const input = copyIn(activations);
  for (const matrix of manifest.matrices) {
    const format = formats[matrix.type];
    const weights = await readFile(path.join(directory, `${matrix.type}-r${matrix.rows}.weights`));
    assert.equal(weights.byteLength, matrix.rows * columns / format.values * format.bytes);
    const expectedBytes = await readFile(path.join(directory, `${matrix.type}-r${matrix.rows}.out`));
    const expected = new Uint32Array(expectedBytes.buffer, expectedBytes.byteOffset, expectedBytes.byteLength / 4);
    const weightPointer = copyIn(weights);
    let offset = 0;
    for (const batch of manifest.batches) {
      const count = batch * matrix.rows;
      const output = engine.abi.tinylm_alloc(count * 4);
      assert.equal(engine.abi.tinylm_matmul(format.type, matrix.rows, columns, weightPointer, input, batch, output), 0);
      const got = new Uint32Array(engine.memory.buffer, output, count);
      let differing = 0;
      for (let i = 0; i < count; i++) if (got[i] !== expected[offset + i]) differing++;
      assert.equal(differing, 0, `${matrix.type} ${matrix.rows} rows, batch ${batch}: ${differing} of ${count} results differ`);
      engine.abi.tinylm_free(output);
      offset += count;
    }
    assert.equal(offset, expected.length);
    engine.abi.tinylm_free(weightPointer);
  }
  engine.abi.tinylm_free(input);
});

test('an unsupported weight type is refused with an error, not a trap', () => {
  const iq2_xxs = 16;
  assert.equal(engine.abi.tinylm_matmul(iq2_xxs, 8, 256, 16, 16, 1, 16), -1);
  assert.equal(engine.abi.tinylm_last_error_code(), 2);
});
