// The shared-memory module (web/tinylm-mt.wasm) with helper workers (web/threads.js,
// kernel-worker.js; worker_threads under Node): two threads must compute exactly what one
// thread computes — same logits bit for bit, same greedy ids — for SmolLM2 and Gemma 3.
// (Speed is measured by benchmarks, never asserted here: scripts/tinylm-node.mjs --threads.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../web/engine.js';
import { createEngine, jsonLines, modelBytes, smolLM2Path, gemma3Path, wasmPath } from './helpers.mjs';

let single;
let threaded;

before(async () => {
  single = await createEngine({ threads: 1 });
  threaded = await createEngine({ threads: 2 });
});

after(() => {
  threaded?.terminate();
});

test('the threaded engine runs the shared-memory module on two threads', () => {
  assert.equal(threaded.threads, 2, threaded.threadsError ?? '');
  assert.equal(threaded.threadsError, null);
  assert.ok(threaded.memory.buffer instanceof SharedArrayBuffer);
  assert.equal(single.threads, 1);
  assert.ok(!(single.memory.buffer instanceof SharedArrayBuffer));
});

function sameFloats(actual, expected, label) {
  assert.equal(actual.length, expected.length, label);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.fail(`${label}: logit ${i} differs: ${actual[i]} (threads) vs ${expected[i]} (single)`);
  }
}

/** Prompt logits (batched prefill) and greedy ids on both engines. */
function compare(singleModel, threadedModel, c, tokens, contextLength) {
  const results = [singleModel, threadedModel].map((model) => {
    const session = model.createSession({ contextLength });
    session.evaluate(c.prompt_ids);
    const logits = session.logits();
    session.reset();
    const { tokens: ids } = session.generate(c.prompt_ids, { temperature: 0, maxTokens: tokens, ignoreEOS: true });
    session.free();
    return { logits, ids };
  });
  sameFloats(results[1].logits, results[0].logits, `${c.name}: prompt logits`);
  assert.deepEqual(results[1].ids, results[0].ids, `${c.name}: greedy ids differ between 2 threads and 1`);
}

test('SmolLM2: two threads give the single thread\'s logits and greedy ids on every reference prompt', async () => {
  const bytes = await modelBytes(smolLM2Path);
  const models = [single.loadModel(bytes), threaded.loadModel(bytes)];
  const cases = await jsonLines('smollm2/greedy.jsonl');
  assert.equal(cases.length, 8);
  for (const c of cases) compare(models[0], models[1], c, 24, 256);
  // A long prompt: several prefill batches of 64 tokens, attention over 100+ positions.
  const long = { name: 'long prompt', prompt_ids: Array.from(models[0].tokenize('The history of bread. '.repeat(28), { addSpecial: true })) };
  assert.ok(long.prompt_ids.length > 128);
  compare(models[0], models[1], long, 16, 512);
  for (const m of models) m.free();
});

test('Gemma 3: two threads give the single thread\'s logits and greedy ids', async () => {
  const bytes = await modelBytes(gemma3Path);
  const models = [single.loadModel(bytes), threaded.loadModel(bytes)];
  for (const c of (await jsonLines('gemma3/greedy.jsonl')).slice(0, 3)) compare(models[0], models[1], c, 16, 128);
  for (const m of models) m.free();
});

test('a threaded module that cannot start falls back to the single-thread module', async () => {
  const engine = await Engine.create(new URL(`file://${wasmPath}`), { threads: 2, threadedSource: new Uint8Array([0, 97, 115, 109, 9, 9]) });
  assert.equal(engine.threads, 1);
  assert.match(engine.threadsError, /failed to start/);
  assert.equal(typeof engine.abi.tinylm_model_load, 'function');
});
