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
  // Always parallel (not adaptive): every section of these runs really is split across threads.
  threaded = await createEngine({ threads: 2, adaptiveThreads: false });
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

/** Greedy ids and the logits after them on both engines; with `prefill`, also the prompt's
 *  logits (batched prefill). */
function compare(singleModel, threadedModel, c, tokens, contextLength, { prefill = false } = {}) {
  const results = [singleModel, threadedModel].map((model) => {
    const session = model.createSession({ contextLength });
    let promptLogits = null;
    if (prefill) {
      session.evaluate(c.prompt_ids);
      promptLogits = session.logits();
      session.reset();
    }
    const { tokens: ids } = session.generate(c.prompt_ids, { temperature: 0, maxTokens: tokens, ignoreEOS: true });
    const logits = session.logits();
    session.free();
    return { promptLogits, ids, logits };
  });
  if (prefill) sameFloats(results[1].promptLogits, results[0].promptLogits, `${c.name}: prompt logits`);
  assert.deepEqual(results[1].ids, results[0].ids, `${c.name}: greedy ids differ between 2 threads and 1`);
  sameFloats(results[1].logits, results[0].logits, `${c.name}: logits after generating`);
}

test('SmolLM2: two threads give the single thread\'s logits and greedy ids on every reference prompt', async () => {
  const bytes = await modelBytes(smolLM2Path);
  const models = [single.loadModel(bytes), threaded.loadModel(bytes)];
  const cases = await jsonLines('smollm2/greedy.jsonl');
  assert.equal(cases.length, 8);
  for (const c of cases) compare(models[0], models[1], c, 16, 256);
  // A long prompt: several prefill batches of 64 tokens, attention over 100+ positions.
  const long = { name: 'long prompt', prompt_ids: Array.from(models[0].tokenize('The history of bread. '.repeat(28), { addSpecial: true })) };
  assert.ok(long.prompt_ids.length > 128);
  compare(models[0], models[1], long, 8, 512, { prefill: true });
  assert.equal(threaded.kernelThreads.sections.serial, 0);
  assert.ok(threaded.kernelThreads.sections.parallel > 1000);
  for (const m of models) m.free();
});

test('Gemma 3: two threads give the single thread\'s logits and greedy ids', async () => {
  const bytes = await modelBytes(gemma3Path);
  const models = [single.loadModel(bytes), threaded.loadModel(bytes)];
  for (const c of (await jsonLines('gemma3/greedy.jsonl')).slice(0, 3)) compare(models[0], models[1], c, 12, 128, { prefill: true });
  for (const m of models) m.free();
});

test('a threaded module that cannot start falls back to the single-thread module', async () => {
  const engine = await Engine.create(new URL(`file://${wasmPath}`), { threads: 2, threadedSource: new Uint8Array([0, 97, 115, 109, 9, 9]) });
  assert.equal(engine.threads, 1);
  assert.match(engine.threadsError, /failed to start/);
  assert.equal(typeof engine.abi.tinylm_model_load, 'function');
});

test('adaptive threads (the default) time both modes and still give the same ids', async () => {
  const engine = await createEngine({ threads: 2 });
  try {
    assert.equal(engine.threads, 2);
    const bytes = await modelBytes(smolLM2Path);
    const [c] = await jsonLines('smollm2/greedy.jsonl');
    const models = [single.loadModel(bytes), engine.loadModel(bytes)];
    const ids = models.map((model) => {
      const session = model.createSession({ contextLength: 128 });
      const { tokens } = session.generate(c.prompt_ids, { temperature: 0, maxTokens: 16, ignoreEOS: true });
      session.free();
      return tokens;
    });
    assert.deepEqual(ids[1], ids[0]);
    // The first decode steps run in each mode once or twice before it chooses.
    const { sections, timing } = engine.kernelThreads;
    assert.ok(sections.parallel > 0 && sections.serial > 0, JSON.stringify(sections));
    assert.ok(timing.parallel.count >= 2 && timing.serial.count >= 2, JSON.stringify(timing));
    for (const m of models) m.free();
  } finally {
    engine.terminate();
  }
});

