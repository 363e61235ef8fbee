// llama.cpp's tokenizer test suite (test-tokenizer-0: vocabulary-only GGUF files with .inp/.out
// cases, add_special = false, parse_special = false) through the wasm module's tokenizer-only
// load path. The Swift suite (LlamaCppTokenizerSuiteTests) runs every vocabulary natively;
// this runs one of each tokenizer family in wasm.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createEngine, root, requireFile, modelBytes, smolLM2Path } from './helpers.mjs';

const suite = path.join(root, 'models/tokenizer-tests');
const hint = 'run scripts/fetch-models.sh tokenizer-tests';

// byte-level BPE with the llama3, qwen35, deepseek-llm and falcon splitters; Gemma 4's BPE
// over UTF-8; SentencePiece.
const vocabularies = ['llama-bpe', 'qwen35', 'deepseek-llm', 'falcon', 'gemma-4', 'llama-spm'];

let engine;

before(async () => {
  engine = await createEngine();
});

async function vocabulary(name) {
  return readFile(requireFile(path.join(suite, `ggml-vocab-${name}.gguf`), hint));
}

/** The cases, split as test-tokenizer-0.cpp splits them. */
async function cases(name) {
  const input = await readFile(requireFile(path.join(suite, `ggml-vocab-${name}.gguf.inp`), hint), 'utf8');
  const output = await readFile(requireFile(path.join(suite, `ggml-vocab-${name}.gguf.out`), hint), 'utf8');
  const texts = [];
  const separator = '\n__ggml_vocab_test__\n';
  let position = 0;
  while (position < input.length) {
    const next = input.indexOf(separator, position);
    if (next < 0) { texts.push(input.slice(position)); break; }
    texts.push(input.slice(position, next));
    position = next + separator.length;
  }
  const lines = output.split('\n');
  if (lines.at(-1) === '') lines.pop();
  assert.equal(texts.length, lines.length, `${name}: inputs and outputs differ in number`);
  return texts.map((text, i) => ({ text, ids: lines[i].trim() === '' ? [] : lines[i].trim().split(' ').map(Number) }));
}

for (const name of vocabularies) {
  test(`${name}: every case of llama.cpp's suite tokenizes as expected`, async () => {
    const tokenizer = engine.loadTokenizer(await vocabulary(name));
    const all = await cases(name);
    assert.ok(all.length >= 40);
    let passed = 0;
    for (const c of all) {
      const ids = Array.from(tokenizer.tokenize(c.text, { addSpecial: false, parseSpecial: false }));
      assert.deepEqual(ids, c.ids, JSON.stringify(c.text));
      passed++;
    }
    console.log(`# ${name}: ${passed}/${all.length}`);
    tokenizer.free();
  });
}

// llama.cpp's tokenization of chat prompts and random texts (scripts/tokenizer-reference.py),
// with special tokens parsed and detokenized too: Phi-3 (special tokens that take the
// whitespace after them) and Gemma 4.
for (const name of ['phi-3', 'gemma-4']) {
  test(`${name}: chat prompts and random texts tokenize and detokenize as llama.cpp`, async () => {
    const tokenizer = engine.loadTokenizer(await vocabulary(name));
    const file = requireFile(path.join(root, 'Tests/reference/llama-cpp-tokenizer-cases.jsonl'), 'the reference cases are committed');
    const cases = (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line));
    assert.ok(cases.length >= 60);
    for (const c of cases) {
      const expected = c.vocabularies[name];
      assert.deepEqual(Array.from(tokenizer.tokenize(c.text, { addSpecial: false, parseSpecial: false })), expected.ids, JSON.stringify(c.text));
      const ids = Array.from(tokenizer.tokenize(c.text, { addSpecial: true, parseSpecial: true }));
      assert.deepEqual(ids, expected.special_ids, JSON.stringify(c.text));
      assert.equal(tokenizer.detokenize(ids), expected.detokenized, JSON.stringify(c.text));
    }
    tokenizer.free();
  });
}

test('a vocabulary-only file is refused as a model with a clear error, and tokenizes as one', async () => {
  const bytes = await vocabulary('qwen2');
  assert.throws(() => engine.loadModel(bytes), (error) => error.name === 'UnsupportedModelError' && /vocabulary only/.test(error.message));
  const tokenizer = engine.loadTokenizer(bytes);
  assert.equal(tokenizer.info.vocabularySize, 151936);
  const ids = tokenizer.tokenize('Hello world');
  assert.equal(tokenizer.detokenize(ids), 'Hello world');
  tokenizer.free();
  assert.throws(() => tokenizer.tokenize('x'));
});

test('the tokenizer alone of a full model tokenizes as the model does', async () => {
  const bytes = await modelBytes(smolLM2Path);
  const model = engine.loadModel(bytes);
  const tokenizer = engine.loadTokenizer(bytes);
  const text = '<|im_start|>user\nWhat is 2+2? Café — naïve.<|im_end|>';
  for (const options of [{}, { addSpecial: true }, { parseSpecial: false }]) {
    assert.deepEqual(Array.from(tokenizer.tokenize(text, options)), Array.from(model.tokenize(text, options)));
  }
  const ids = Array.from(model.tokenize(text));
  assert.equal(tokenizer.detokenize(ids), model.detokenize(ids));
  assert.deepEqual(tokenizer.tokenPiece(ids[1]), model.tokenPiece(ids[1]));
  assert.equal(tokenizer.info.vocabularySize, model.info.vocabularySize);
  tokenizer.free();
  model.free();
});

test('a tokenizer handle rejects bad input with errors', async () => {
  assert.throws(() => engine.loadTokenizer(new Uint8Array(0)), { name: 'InvalidModelError' });
  assert.throws(() => engine.loadTokenizer(new TextEncoder().encode('not a GGUF file at all')), { name: 'InvalidModelError' });
  const tokenizer = engine.loadTokenizer(await vocabulary('gpt-2'));
  assert.throws(() => tokenizer.detokenize([50257]), { name: 'InvalidArgumentError' });
  assert.throws(() => tokenizer.tokenPiece(-1), { name: 'InvalidArgumentError' });
  tokenizer.free();
});
