// The wasm build under Node: it loads the real model, tokenizes and generates exactly like the
// native build, reports bad input as errors (never traps) and does not leak memory.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, jsonLines, modelBytes, smolLM2Path, nativeGreedy, firstFragileStep, promptLogitDifferences } from './helpers.mjs';

let engine;
let model;

before(async () => {
  engine = await createEngine();
  model = engine.loadModel(await modelBytes(smolLM2Path));
});

test('the module instantiates and exports the documented ABI', () => {
  for (const name of ['tinylm_alloc', 'tinylm_free', 'tinylm_model_load', 'tinylm_tokenize', 'tinylm_session_create',
    'tinylm_generate_start', 'tinylm_generate_next', 'tinylm_last_error_message']) {
    assert.equal(typeof engine.abi[name], 'function', name);
  }
});

test('model info describes SmolLM2', () => {
  assert.equal(model.info.architecture, 'llama');
  assert.equal(model.info.vocabularySize, 49152);
  assert.equal(model.info.layerCount, 30);
  assert.match(model.info.chatTemplate, /im_start/);
});

test('tokenization matches llama.cpp on every reference case', async () => {
  const cases = await jsonLines('smollm2/tokenize.jsonl');
  assert.ok(cases.length >= 30);
  for (const c of cases) {
    const ids = Array.from(model.tokenize(c.text, { addSpecial: c.add_special, parseSpecial: c.parse_special }));
    assert.deepEqual(ids, c.ids, JSON.stringify(c.text));
  }
});

test('greedy generation equals the native build on every reference prompt, and llama.cpp up to the first fragile step', async () => {
  const cases = await jsonLines('smollm2/greedy.jsonl');
  assert.equal(cases.length, 8);
  for (const c of cases) {
    const session = model.createSession({ contextLength: 256 });
    const result = session.generate(c.prompt_ids, { temperature: 0, maxTokens: 48, ignoreEOS: true });
    session.free();
    assert.equal(result.tokens.length, 48, c.name);
    assert.deepEqual(result.tokens, nativeGreedy(smolLM2Path, c.prompt_ids, 48), `${c.name}: wasm and native differ`);
    const fragile = firstFragileStep(c.top1_top2_gap);
    assert.deepEqual(result.tokens.slice(0, fragile), c.gen_ids.slice(0, fragile), `${c.name}: differs from llama.cpp before step ${fragile}`);
  }
});

test('streamed text pieces join to the detokenized output', () => {
  const session = model.createSession({ contextLength: 128 });
  const prompt = model.tokenize('Write a word with an accent: café, naïve,', { addSpecial: true });
  let streamed = '';
  const result = session.generate(prompt, { temperature: 0.9, seed: 7, maxTokens: 24, ignoreEOS: true }, (text) => { streamed += text; });
  assert.equal(streamed, result.text);
  assert.equal(result.text, model.detokenize(result.tokens));
  session.free();
});

test('malformed GGUF buffers are errors with messages, not traps', async () => {
  const real = await modelBytes(smolLM2Path);
  const cases = [
    [new Uint8Array(0), /empty|null|length/i],
    [new TextEncoder().encode('not a model at all'), /bad magic/],
    [real.subarray(0, 100), /truncated/],
    [real.subarray(0, 2_000_000), /truncated|tensor/],
  ];
  for (const [bytes, pattern] of cases) {
    assert.throws(() => engine.loadModel(bytes), (error) => error.name === 'InvalidModelError' || error.name === 'InvalidArgumentError' ? pattern.test(error.message) : false);
  }
  const corrupt = new Uint8Array(real.subarray(0, 4096));
  corrupt[4] = 9; // version 9
  assert.throws(() => engine.loadModel(corrupt), { name: 'UnsupportedModelError' });
});

test('a prompt longer than the context is a ContextOverflowError', () => {
  const session = model.createSession({ contextLength: 16 });
  const prompt = model.tokenize('word '.repeat(40));
  assert.throws(() => session.startGeneration(Array.from(prompt), { maxTokens: 4 }), { name: 'ContextOverflowError', message: /context/ });
  assert.throws(() => session.evaluate([1, 2, 999999]), { name: 'InvalidArgumentError' });
  assert.throws(() => session.startGeneration([1, 2], { temperature: 'hot' }), { name: 'InvalidArgumentError' });
  session.free();
});

test('loading, generating and freeing 20 times does not grow memory without bound', async () => {
  const bytes = await modelBytes(smolLM2Path);
  model.free();
  const sizes = [];
  for (let i = 0; i < 20; i++) {
    const m = engine.loadModel(bytes);
    const s = m.createSession({ contextLength: 512 });
    s.generate(Array.from(m.tokenize('Hello')), { maxTokens: 4, seed: i });
    s.free();
    m.free();
    sizes.push(engine.memoryBytes);
  }
  // Memory may grow while the allocator warms up, then must stay flat.
  assert.equal(sizes[19], sizes[5], `wasm memory kept growing: ${sizes.map((s) => (s / 2 ** 20).toFixed(0)).join(' ')} MiB`);
  assert.ok(sizes[19] <= bytes.byteLength + 64 * 2 ** 20, `peak ${sizes[19]} bytes exceeds model + 64 MiB`);
  model = engine.loadModel(bytes);
});

test('prompt logits are bit-identical to llama.cpp and to the native build', async () => {
  for (const { name, differing, total } of await promptLogitDifferences(model, 'smollm2', 3)) {
    assert.equal(differing, 0, `${name}: ${differing} of ${total} logits differ from llama.cpp's`);
  }
});
