#!/usr/bin/env node
// Retrieval quality of a knowledge base on Tests/retrieval/eval-set.jsonl (60 questions, each
// with the one passage that answers it, written for this project): every passage is a
// document, every question is searched, and recall@1 / recall@3 count how often its passage
// is first / among the first three. It runs the wasm module through web/engine.js — the
// calls the browser's knowledge base makes in its Worker — once per vector form.
//   node scripts/eval-retrieval.mjs [--embedder PATH] [--wasm PATH]
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Engine } from '../web/engine.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function loadEvalSet() {
  const text = await readFile(path.join(root, 'Tests/retrieval/eval-set.jsonl'), 'utf8');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/** { recallAt1, recallAt3, misses: [{id, question, got}] } for one vector form. */
export function evaluate(embedder, pairs, vectorForm) {
  const kb = embedder.createKnowledge({ vectorForm });
  for (const pair of pairs) {
    const prepared = embedder.prepareDocument({ id: pair.id, title: pair.title, text: pair.passage, format: 'text' });
    kb.add(prepared, embedder.embed(prepared.embeddingTexts).vectors);
  }
  const queries = embedder.embed(pairs.map((p) => p.question)).vectors;
  let first = 0, top3 = 0;
  const misses = [];
  const scores = [];
  pairs.forEach((pair, i) => {
    const all = kb.search(queries[i], pairs.length);
    scores.push(new Map(all.map((h) => [h.documentId, h.score])));
    const hits = all.slice(0, 3);
    if (hits[0]?.documentId === pair.id) first++;
    else misses.push({ id: pair.id, question: pair.question, got: hits.map((h) => h.documentId) });
    if (hits.some((h) => h.documentId === pair.id)) top3++;
  });
  const bytes = kb.export().byteLength;
  kb.free();
  return { recallAt1: first / pairs.length, recallAt3: top3 / pairs.length, bytesPerChunk: bytes / pairs.length, misses, scores };
}

/** The largest and the mean |score − reference score| over every question × passage. */
export function scoreDrift(result, reference) {
  let max = 0, sum = 0, n = 0;
  result.scores.forEach((map, i) => {
    for (const [id, score] of map) {
      const d = Math.abs(score - reference.scores[i].get(id));
      max = Math.max(max, d); sum += d; n++;
    }
  });
  return { max, mean: sum / n };
}

async function main() {
  const args = process.argv.slice(2);
  const option = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : fallback; };
  const engine = await Engine.create(new URL(`file://${path.resolve(option('--wasm', path.join(root, 'web/tinylm.wasm')))}`), { log: () => {} });
  const embedder = engine.loadEmbedder(await readFile(option('--embedder', path.join(root, 'models/all-MiniLM-L6-v2.gguf'))));
  const pairs = await loadEvalSet();
  console.log(`${pairs.length} question/passage pairs, embedder ${embedder.info.name}`);
  console.log('vectors  recall@1  recall@3  bytes/chunk  score drift vs f32 (max / mean)');
  let reference = null;
  for (const form of ['f32', 'f16', 'int8']) {
    const r = evaluate(embedder, pairs, form);
    reference ??= r;
    const drift = scoreDrift(r, reference);
    console.log(`${form.padEnd(8)} ${r.recallAt1.toFixed(3).padStart(8)}  ${r.recallAt3.toFixed(3).padStart(8)}  ${r.bytesPerChunk.toFixed(0).padStart(11)}  ${drift.max.toExponential(1)} / ${drift.mean.toExponential(1)}`);
    if (args.includes('--misses')) for (const m of r.misses) console.log(`   miss ${m.id}: "${m.question}" -> ${m.got.join(', ')}`);
  }
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then((code) => process.exit(code), (error) => { console.error(`error: ${error.message}`); process.exit(1); });
}
