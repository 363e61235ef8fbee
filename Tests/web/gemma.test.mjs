// Gemma 3 270M (K-quants, sliding-window attention, SentencePiece vocabulary) in the wasm build.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, jsonLines, modelBytes, gemma3Path, nativeGreedy, promptLogitDifferences } from './helpers.mjs';

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
  for (const { name, differing, total } of await promptLogitDifferences(model, 'gemma3', 2)) {
    assert.equal(differing, 0, `${name}: ${differing} of ${total} logits differ from llama.cpp's`);
  }
});
