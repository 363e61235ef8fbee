// The browser tests' reference for retrieval: searches a knowledge file with the same code the
// page runs (web/knowledge-base.js on web/tinylm.wasm), under Node, outside any browser.
//   node Tests/browser/knowledge_search.mjs FILE K QUERY...
// Prints one JSON line: [[{documentId, chunk, score, url, title, heading}] per query].
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../web/engine.js';
import { KnowledgeBase, localEmbedder } from '../../web/knowledge-base.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const [file, k, ...queries] = process.argv.slice(2);
const engine = await Engine.create(new URL(`file://${path.join(root, 'web/tinylm.wasm')}`), { log: () => {} });
const embedder = localEmbedder(engine.loadEmbedder(await readFile(path.join(root, 'models/all-MiniLM-L6-v2.gguf'))));
const kb = await KnowledgeBase.fromFile(new Uint8Array(await readFile(file)), { embedder });
const results = [];
for (const query of queries) {
  const hits = await kb.search(query, { k: Number(k) });
  results.push(hits.map(({ documentId, chunk, score, url, title, heading }) => ({ documentId, chunk, score, url, title, heading })));
}
console.log(JSON.stringify(results));
