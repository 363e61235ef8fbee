#!/usr/bin/env node
// Exact-search latency of the wasm module (what the browser's knowledge base runs in its
// Worker): N random unit vectors in a knowledge base, one query, best of R searches.
//   node scripts/bench-search.mjs [--chunks 10000,100000] [--vectors int8,f16,f32] [--repeat 20] [--threads N]
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Engine } from '../web/engine.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const option = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : fallback; };

const threads = Number(option('--threads', '1'));
const engine = await Engine.create(new URL(`file://${path.join(root, 'web/tinylm.wasm')}`), { log: () => {}, threads });
const embedder = engine.loadEmbedder(await readFile(option('--embedder', path.join(root, 'models/all-MiniLM-L6-v2.gguf'))));
const d = embedder.dimensions;
let seed = 7;
const random = () => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 2 ** 32 * 2 - 1; };
const query = embedder.embed(['opening hours on Saturday']).vectors[0];
console.log(`threads ${engine.threads}; chunks  vectors  ms per search (best of ${option('--repeat', '20')})  wasm memory`);
for (const form of option('--vectors', 'int8,f16,f32').split(',')) {
  for (const n of option('--chunks', '10000,100000').split(',').map(Number)) {
    const kb = embedder.createKnowledge({ vectorForm: form });
    for (let start = 0; start < n; start += 1000) {
      const count = Math.min(1000, n - start);
      const vectors = [];
      for (let i = 0; i < count; i++) {
        const v = new Float32Array(d);
        let norm = 0;
        for (let j = 0; j < d; j++) { v[j] = random(); norm += v[j] * v[j]; }
        for (let j = 0; j < d; j++) v[j] /= Math.sqrt(norm);
        vectors.push(v);
      }
      const chunks = vectors.map((_, i) => ({ heading: '', text: `chunk ${start + i}` }));
      kb.add({ document: { id: `doc-${start}`, title: 'synthetic', url: '' }, chunks }, vectors);
    }
    let best = Infinity;
    for (let r = 0; r < Number(option('--repeat', '20')); r++) {
      const t0 = performance.now();
      kb.search(query, 3);
      best = Math.min(best, performance.now() - t0);
    }
    console.log(`${String(n).padStart(15)}  ${form.padEnd(7)}  ${best.toFixed(2).padStart(8)}  ${(engine.memoryBytes / 2 ** 20).toFixed(0)} MiB`);
    kb.free();
  }
}
engine.terminate();
