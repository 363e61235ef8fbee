// web/knowledge-base.js without a browser: the KnowledgeBase logic and the engine-side
// operations the Worker runs (EngineKnowledgeBackend), on the real wasm module and
// all-MiniLM-L6-v2, with in-memory storage. (IndexedDB and the Worker are the browser tests'.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { root, createEngine, modelBytes } from './helpers.mjs';
import { KnowledgeBase, MemoryKnowledgeStorage, localEmbedder, documentFormat, documentId } from '../../web/knowledge-base.js';

const engine = await createEngine();
const bytes = await modelBytes(path.join(root, 'models/all-MiniLM-L6-v2.gguf'));
const embedder = localEmbedder(engine.loadEmbedder(bytes));

const site = [
  { url: '/hours.html', format: 'html', text: '<title>Opening hours</title><h1>Opening hours</h1><p>Monday to Friday 7:00–18:00.</p><p>Saturday 8:00–14:00. Closed on Sundays.</p>' },
  { url: '/prices.md', format: 'markdown', text: '# Prices\n\n## Bread\n\nA sourdough loaf costs 4.50 euros.\n\n## Cakes\n\nA birthday cake for 12 people costs 38 euros.' },
  { title: 'Allergens', text: 'Every bread contains gluten. Almond croissants contain nuts.' },
];

test('document formats and ids', () => {
  assert.equal(documentFormat({ name: 'notes.MD' }), 'markdown');
  assert.equal(documentFormat({ name: 'page.htm' }), 'html');
  assert.equal(documentFormat({ type: 'text/html' }), 'html');
  assert.equal(documentFormat({}), 'text');
  assert.throws(() => documentFormat({ format: 'pdf' }), { name: 'InvalidArgumentError' });
  assert.equal(documentId({ url: '/a.html', title: 'A' }), '/a.html');
  assert.equal(documentId({ title: 'A' }), 'A');
  assert.equal(documentId({ text: 'same' }), documentId({ text: 'same' }));
  assert.notEqual(documentId({ text: 'same' }), documentId({ text: 'other' }));
});

test('add with progress, search with sources, reopen from storage', async () => {
  const storage = new MemoryKnowledgeStorage();
  const kb = await KnowledgeBase.open('site', { embedder, storage });
  const events = [];
  const added = await kb.add(site, { onProgress: (e) => events.push(e) });
  assert.deepEqual(added.map((d) => d.id), ['/hours.html', '/prices.md', 'Allergens']);
  assert.equal(added[0].title, 'Opening hours');
  assert.ok(events.length >= 3 && events.at(-1).done === events.at(-1).total);
  const [hit] = await kb.search('Are you open on Saturday?', { k: 1 });
  assert.equal(hit.documentId, '/hours.html');
  assert.equal(hit.url, '/hours.html');
  assert.ok(hit.score > 0.3 && hit.score <= 1);
  assert.equal((await kb.search('how much is a cake for a birthday', { k: 1 }))[0].heading, 'Cakes');
  // A new KnowledgeBase on the same storage finds the same.
  const again = await KnowledgeBase.open('site', { embedder, storage });
  assert.deepEqual(again.documents.map((d) => d.id), kb.documents.map((d) => d.id));
  assert.deepEqual(await again.search('Are you open on Saturday?', { k: 3 }), await kb.search('Are you open on Saturday?', { k: 3 }));
});

test('a removed document is gone, also after reopening', async () => {
  const storage = new MemoryKnowledgeStorage();
  const kb = await KnowledgeBase.open('site', { embedder, storage });
  await kb.add(site);
  assert.equal(await kb.remove('/hours.html'), true);
  assert.equal(await kb.remove('/hours.html'), false);
  for (const hit of await kb.search('opening hours Saturday', { k: 10 })) assert.notEqual(hit.documentId, '/hours.html');
  const again = await KnowledgeBase.open('site', { embedder, storage });
  assert.ok(!again.documents.some((d) => d.id === '/hours.html'));
  for (const hit of await again.search('opening hours Saturday', { k: 10 })) assert.notEqual(hit.documentId, '/hours.html');
});

test('export → import into a fresh knowledge base gives the same results', async () => {
  const kb = await KnowledgeBase.open('a', { embedder, storage: 'memory' });
  await kb.add(site);
  const file = await kb.export();
  const fresh = await KnowledgeBase.open('b', { embedder, storage: 'memory' });
  const imported = await fresh.import(file);
  assert.equal(imported.length, 3);
  for (const q of ['Saturday hours', 'gluten', 'price of bread']) {
    assert.deepEqual(await fresh.search(q, { k: 3 }), await kb.search(q, { k: 3 }));
  }
  const damaged = file.slice(); damaged[damaged.length - 1] ^= 0xff;
  await assert.rejects(fresh.import(damaged), { name: 'InvalidKnowledgeFileError' });
});

test('storage full: what was added before stays usable', async () => {
  const storage = new MemoryKnowledgeStorage();
  storage.testHooks.failWritesAfter = 1;
  const kb = await KnowledgeBase.open('full', { embedder, storage });
  await assert.rejects(kb.add(site), (e) => e.name === 'QuotaExceededError' && e.added.length === 1);
  assert.deepEqual(kb.documents.map((d) => d.id), ['/hours.html']);
  // The document that could not be stored is not searchable either.
  for (const hit of await kb.search('birthday cake price', { k: 5 })) assert.equal(hit.documentId, '/hours.html');
});

test('searches and adds at the same time run in call order, never half-way', async () => {
  const kb = await KnowledgeBase.open('busy', { embedder, storage: 'memory' });
  await kb.add(site.slice(0, 1));
  const before = kb.search('price of a cake', { k: 5 });
  const adding = kb.add(site.slice(1));
  const after = kb.search('price of a cake', { k: 5 });
  assert.deepEqual((await before).map((h) => h.documentId), ['/hours.html']);
  assert.equal((await adding).length, 2);
  assert.equal((await after)[0].documentId, '/prices.md');
  assert.equal((await after).length, kb.documents.reduce((n, d) => n + d.chunks, 0));
});

test('a knowledge base built with another embedder is refused, naming both', async () => {
  const storage = new MemoryKnowledgeStorage();
  const kb = await KnowledgeBase.open('mine', { embedder, storage });
  await kb.add(site.slice(0, 1));
  const changed = bytes.slice(); changed[changed.length - 2] ^= 0x10;
  const other = localEmbedder(engine.loadEmbedder(changed));
  await assert.rejects(KnowledgeBase.open('mine', { embedder: other, storage }),
    (e) => e.name === 'EmbedderMismatchError' && e.message.includes(embedder.info.fingerprint) && e.message.includes(other.info.fingerprint));
  const theirs = await KnowledgeBase.open('theirs', { embedder: other, storage: 'memory' });
  await assert.rejects(theirs.import(await kb.export()), { name: 'EmbedderMismatchError' });
});
