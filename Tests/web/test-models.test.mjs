// The random-weight test models of Tests/models (one per architecture, one per weight format)
// in the wasm build, against llama.cpp's outputs on them (Tests/models/reference) by the rule of
// TestModelReferenceTests.swift: bit for bit where every weight format follows llama.cpp's
// order, else same top-1 and greedy ids up to the first fragile step.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { createEngine, root, nativeGreedy, firstFragileStep } from './helpers.mjs';

const models = path.join(root, 'Tests/models');
const reference = path.join(models, 'reference');
// GGUF type ids (ggml_type) whose kernels follow llama.cpp's order: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (F16/F32 do not yet).
const bitExactTypes = new Set([2, 3, 6, 7, 8, 10, 11, 12, 13, 14]);
const fragileGap = 0.5;

let engine;
before(async () => { engine = await createEngine(); });

async function jsonLines(file) {
  return (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/** The GGUF tensor types of a file's 2-D tensors (reads the header only). */
function matrixTypes(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8;
  const u64 = () => { const v = Number(view.getBigUint64(offset, true)); offset += 8; return v; };
  const u32 = () => { const v = view.getUint32(offset, true); offset += 4; return v; };
  const tensors = u64(), kvs = u64();
  const sizes = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  // (`offset += u64()` would read offset before u64 moves it.)
  const skipString = () => { const length = u64(); offset += length; };
  const skip = (type) => {
    if (type === 8) { skipString(); return; }
    if (type === 9) { const inner = u32(), count = u64(); for (let i = 0; i < count; i++) skip(inner); return; }
    offset += sizes[type];
  };
  for (let i = 0; i < kvs; i++) { skipString(); skip(u32()); }
  const types = [];
  for (let i = 0; i < tensors; i++) {
    skipString();
    const dims = u32();
    offset += 8 * dims;
    const type = u32();
    offset += 8;
    if (dims >= 2) types.push(type);
  }
  return types;
}

const cases = [
  ['llama-smollm2'], ['llama3'], ['qwen2'], ['qwen3'], ['phi3'], ['phi3-longrope'], ['phi3-longrope', 8192], ['gemma3'],
  ['llama-q4_0'], ['llama-q5_1'], ['llama-q2_k'], ['llama-q3_k'], ['llama-q5_k'], ['llama-f16'], ['llama-f32'],
];

for (const [name, context = 2048] of cases) {
  const folder = context === 2048 ? name : `${name}-ctx${context}`;
  test(`${folder}: prompt logits and greedy ids against llama.cpp and the native build`, async () => {
    const file = path.join(models, `${name}.gguf`);
    const bytes = await readFile(file);
    const formatsExact = matrixTypes(bytes).every((type) => bitExactTypes.has(type));
    const model = engine.loadModel(bytes);
    try {
      const greedy = await jsonLines(path.join(reference, folder, 'greedy.jsonl'));
      const fullLogits = await readdir(path.join(reference, folder, 'logits_full'));
      let exactCases = 0;
      for (const c of greedy) {
        const exact = formatsExact;
        if (exact) exactCases++;
        const logitsFile = fullLogits.find((f) => f.replace(/^\d+_/, '') === `${c.name}.f32`);
        const expectedBytes = await readFile(path.join(reference, folder, 'logits_full', logitsFile));
        const expected = new Float32Array(expectedBytes.buffer, expectedBytes.byteOffset, expectedBytes.byteLength / 4);
        const session = model.createSession({ contextLength: context, batchSize: 128 });
        session.evaluate(c.prompt_ids);
        const logits = session.logits();
        session.free();
        if (exact) {
          let differing = 0;
          for (let i = 0; i < expected.length; i++) if (logits[i] !== expected[i]) differing++;
          assert.equal(differing, 0, `${folder}/${c.name}: ${differing} of ${expected.length} logits differ from llama.cpp's`);
        } else {
          let best = 0;
          for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
          if (c.top1_top2_gap[0] >= fragileGap) assert.equal(best, c.gen_ids[0], `${folder}/${c.name}: top-1 differs`);
        }
        const steps = 16;
        const generation = model.createSession({ contextLength: context, batchSize: 128 });
        const result = generation.generate(c.prompt_ids, { temperature: 0, maxTokens: steps, ignoreEOS: true });
        generation.free();
        const upTo = exact ? steps : Math.min(steps, firstFragileStep(c.top1_top2_gap, fragileGap));
        assert.deepEqual(result.tokens.slice(0, upTo), c.gen_ids.slice(0, upTo), `${folder}/${c.name}: greedy ids differ from llama.cpp`);
        if (context === 2048 && c.prompt_ids.length <= 64) {
          // (The native tool's sessions split prompts into 64-token batches.)
          assert.deepEqual(result.tokens, nativeGreedy(file, c.prompt_ids, steps), `${folder}/${c.name}: wasm and native differ`);
        }
      }
      console.log(`# ${folder}: bit-exact in ${exactCases} of ${greedy.length} prompts, the others by the README rule`);
    } finally {
      model.free();
    }
  });
}
