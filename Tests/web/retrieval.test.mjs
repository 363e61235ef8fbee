// Retrieval quality on the project's evaluation set (Tests/retrieval/eval-set.jsonl), through
// the calls the browser's knowledge base makes: the compact vector forms must find what f32
// vectors find.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { root, createEngine, modelBytes } from './helpers.mjs';
import { loadEvalSet, evaluate, scoreDrift } from '../../scripts/eval-retrieval.mjs';

const engine = await createEngine();
const embedder = engine.loadEmbedder(await modelBytes(path.join(root, 'models/all-MiniLM-L6-v2.gguf')));
const pairs = await loadEvalSet();

test('recall@1 and recall@3 with f32, f16 and int8 vectors', () => {
  assert.ok(pairs.length >= 50);
  const f32 = evaluate(embedder, pairs, 'f32');
  console.log(`f32: recall@1 ${f32.recallAt1.toFixed(3)}, recall@3 ${f32.recallAt3.toFixed(3)}`);
  assert.ok(f32.recallAt1 >= 0.9, `f32 recall@1 ${f32.recallAt1}`);
  assert.ok(f32.recallAt3 >= 0.95, `f32 recall@3 ${f32.recallAt3}`);
  for (const form of ['f16', 'int8']) {
    const r = evaluate(embedder, pairs, form);
    const drift = scoreDrift(r, f32);
    console.log(`${form}: recall@1 ${r.recallAt1.toFixed(3)}, recall@3 ${r.recallAt3.toFixed(3)}, score drift max ${drift.max.toExponential(1)}, ${r.bytesPerChunk.toFixed(0)} bytes per chunk`);
    assert.ok(r.recallAt1 >= f32.recallAt1 - 0.02, `${form} recall@1 ${r.recallAt1} vs f32 ${f32.recallAt1}`);
    assert.ok(r.recallAt3 >= f32.recallAt3 - 0.02, `${form} recall@3 ${r.recallAt3} vs f32 ${f32.recallAt3}`);
    assert.ok(drift.max < 0.01, `${form} scores differ from f32 by up to ${drift.max}`);
    assert.ok(r.bytesPerChunk < f32.bytesPerChunk);
  }
});
