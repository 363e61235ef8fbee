// Gemma 3 270M (K-quants, sliding-window attention, SentencePiece vocabulary) in the wasm build.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, jsonLines, modelBytes, gemma3Path, nativeGreedy } from './helpers.mjs';

let engine;
let model;
let loadMilliseconds;

before(async () => {
  engine = await createEngine();
  const bytes = await modelBytes(gemma3Path);
  const start = performance.now();
  model = engine.loadModel(bytes);
  loadMilliseconds = performance.now() - start;
});

test('Gemma 3 loads in wasm', () => {
  assert.equal(model.info.architecture, 'gemma3');
  assert.equal(model.info.vocabularySize, 262144);
  assert.equal(model.info.addsBOS, true);
  console.log(`# gemma3 load (copy into wasm + parse + tokenizer): ${loadMilliseconds.toFixed(0)} ms`);
});

test('tokenization matches llama.cpp on every reference case', async () => {
  for (const c of await jsonLines('gemma3/tokenize.jsonl')) {
    const ids = Array.from(model.tokenize(c.text, { addSpecial: c.add_special, parseSpecial: c.parse_special }));
    assert.deepEqual(ids, c.ids, JSON.stringify(c.text));
  }
});

test('chat prompts use the Gemma turn format', async () => {
  const chats = (await jsonLines('gemma3/greedy.jsonl')).filter((c) => c.kind === 'chat');
  assert.ok(chats.length >= 3);
  for (const c of chats) {
    const user = c.prompt_text.split('<start_of_turn>user\n')[1].split('<end_of_turn>')[0];
    assert.equal(model.formatChat([{ role: 'user', content: user }]), c.prompt_text);
    assert.deepEqual(Array.from(model.chatTokens([{ role: 'user', content: user }])), c.prompt_ids);
  }
});

// Every Gemma kernel adds in llama.cpp's order (Gemma3ReferenceTests.swift), so wasm must equal
// llama.cpp's greedy ids outright and the native build's.
test('greedy generation equals llama.cpp and the native build', async () => {
  for (const c of (await jsonLines('gemma3/greedy.jsonl')).slice(0, 4)) {
    const session = model.createSession({ contextLength: 128 });
    const result = session.generate(c.prompt_ids, { temperature: 0, maxTokens: 24, ignoreEOS: true });
    session.free();
    assert.deepEqual(result.tokens, c.gen_ids.slice(0, 24), `${c.name}: differs from llama.cpp`);
    assert.deepEqual(result.tokens, nativeGreedy(gemma3Path, c.prompt_ids, 24), `${c.name}: wasm and native differ`);
  }
});

test('prompt logits are bit-identical to llama.cpp', async () => {
  const { readFile } = await import('node:fs/promises');
  const path = await import('node:path');
  const { reference } = await import('./helpers.mjs');
  const cases = await jsonLines('gemma3/logits_top.jsonl');
  for (const [index, c] of cases.slice(0, 2).entries()) {
    const file = path.join(reference, 'gemma3/logits_full', `${String(index).padStart(2, '0')}_${c.name}.f32`);
    const bytes = await readFile(file);
    const expected = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const session = model.createSession({ contextLength: 64 });
    session.evaluate(c.prompt_ids);
    const logits = session.logits();
    session.free();
    let differing = 0;
    for (let i = 0; i < expected.length; i++) if (logits[i] !== expected[i]) differing++;
    assert.equal(differing, 0, `${c.name}: ${differing} of ${expected.length} logits differ from llama.cpp's`);
  }
});
