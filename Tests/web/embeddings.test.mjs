// The wasm build's sentence embeddings and knowledge bases: the reference ids and vectors of
// all-MiniLM-L6-v2, the native build's bits, and the knowledge-file checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { root, createEngine, jsonLines, modelBytes, requireFile, nativeTool, smolLM2Path } from './helpers.mjs';

const miniLMPath = path.join(root, 'models/all-MiniLM-L6-v2.gguf');

const engine = await createEngine();
const miniLMBytes = await modelBytes(miniLMPath);
const embedder = engine.loadEmbedder(miniLMBytes);
const references = await jsonLines('minilm/embeddings.jsonl');

function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return dot / Math.sqrt(na * nb);
}

test('token ids equal the sentence-transformers reference', () => {
  for (const r of references) assert.deepEqual(Array.from(embedder.tokenize(r.text)), r.ids, r.id);
});

test('embeddings match the reference (cosine ≥ 0.9999) and say which texts were cut', () => {
  const result = embedder.embed(references.map((r) => r.text));
  references.forEach((r, i) => {
    const c = cosine(result.vectors[i], r.embedding);
    assert.ok(c >= 0.9999, `${r.id}: cosine ${c}`);
    assert.equal(result.tokenCounts[i], r.ids.length);
    assert.equal(result.truncated[i], r.id === 'public-29');
  });
});

test('the wasm vectors are the native build\'s, bit for bit', () => {
  const texts = references.map((r) => r.text);
  const out = execFileSync(requireFile(nativeTool, 'run swift build -c release'),
    ['embed', '--model', miniLMPath, '--threads', '1', '--', ...texts], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const native = out.trim().split('\n').map((line) => Float32Array.from(JSON.parse(line)));
  const wasm = embedder.embed(texts).vectors;
  let differing = 0;
  texts.forEach((_, i) => { for (let j = 0; j < native[i].length; j++) if (native[i][j] !== wasm[i][j]) differing++; });
  assert.equal(differing, 0);
});

test('an empty text is [CLS] [SEP] with a unit vector', () => {
  assert.deepEqual(Array.from(embedder.tokenize('')), [101, 102]);
  const [v] = embedder.embed(['']).vectors;
  assert.ok(Math.abs(v.reduce((s, x) => s + x * x, 0) - 1) < 1e-5);
});

test('a chat model is not an embedder, nor the reverse', async () => {
  const chatModel = await modelBytes(smolLM2Path);
  assert.throws(() => engine.loadEmbedder(chatModel), (e) => e.name === 'WrongModelKindError' && /not an embedding model/.test(e.message));
  assert.throws(() => engine.loadModel(miniLMBytes), (e) => e.name === 'WrongModelKindError' && /embedding model/.test(e.message));
});

function bakery() {
  const kb = embedder.createKnowledge();
  const documents = [
    { id: 'hours.md', url: '/hours.html', format: 'markdown', text: '# Opening hours\n\nWe are open Monday to Friday from 7:00 to 18:00 and on Saturday from 8:00 to 14:00.\n\n## Holidays\n\nOn Sundays and public holidays the shop is closed.' },
    { id: 'allergens.html', url: '/allergens.html', format: 'html', text: '<html><head><title>Allergens</title></head><body><nav>Home</nav><h1>Allergens</h1><p>All breads contain gluten.</p><h2>Nuts</h2><p>Almond croissants contain nuts; traces of nuts are possible in every pastry.</p></body></html>' },
    { id: 'order.txt', title: 'Ordering', url: '/order.html', format: 'text', text: 'Order birthday cakes three days in advance.\n\nWe deliver within the city for five euros.' },
  ];
  for (const d of documents) {
    const prepared = embedder.prepareDocument(d);
    kb.add(prepared, embedder.embed(prepared.embeddingTexts).vectors);
  }
  return kb;
}

function ask(kb, question, k = 1) { return kb.search(embedder.embed([question]).vectors[0], k); }

test('a knowledge base finds the passage and its source; export → open gives the same results', () => {
  const kb = bakery();
  const info = kb.info();
  assert.equal(info.documents.length, 3);
  assert.equal(info.embedder.name, 'all-MiniLM-L6-v2');
  assert.equal(ask(kb, 'Are you open on Saturday?')[0].documentId, 'hours.md');
  assert.equal(ask(kb, 'Do the croissants have nuts in them?')[0].heading, 'Nuts');
  assert.equal(ask(kb, 'Can you bring a cake to my house?')[0].url, '/order.html');
  const copy = embedder.openKnowledge(kb.export());
  for (const q of ['Are you open on Saturday?', 'gluten', 'delivery']) assert.deepEqual(ask(copy, q, 3), ask(kb, q, 3));
  // One document's own file, merged into an empty base.
  const single = embedder.createKnowledge();
  assert.equal(single.merge(kb.export('allergens.html')), 1);
  assert.deepEqual(single.info().documents.map((d) => d.id), ['allergens.html']);
});

test('a removed document never comes back in results', () => {
  const kb = bakery();
  assert.equal(kb.remove('hours.md'), true);
  assert.equal(kb.remove('hours.md'), false);
  for (const hit of ask(kb, 'opening hours on Saturday', 10)) assert.notEqual(hit.documentId, 'hours.md');
  const reopened = embedder.openKnowledge(kb.export());
  assert.deepEqual(reopened.info().documents.map((d) => d.id), ['allergens.html', 'order.txt']);
});

test('a corrupt knowledge file is refused with a named error', () => {
  const file = bakery().export();
  const flipped = file.slice(); flipped[flipped.length - 3] ^= 1;
  assert.throws(() => embedder.openKnowledge(flipped), (e) => e.name === 'InvalidKnowledgeFileError' && /checksum/.test(e.message));
  assert.throws(() => embedder.openKnowledge(file.slice(0, file.length - 10)), (e) => e.name === 'InvalidKnowledgeFileError' && /truncated/.test(e.message));
  assert.throws(() => embedder.openKnowledge(new TextEncoder().encode('# not a knowledge file, just text')), (e) => e.name === 'InvalidKnowledgeFileError');
  assert.throws(() => embedder.openKnowledge(new Uint8Array(0)), (e) => e.name === 'InvalidKnowledgeFileError');
});

test('a knowledge file from another embedder is refused, naming both', () => {
  // The same network with one weight changed: another embedder, with another fingerprint.
  const other = miniLMBytes.slice();
  other[other.length - 2] ^= 0x10;
  const otherEmbedder = engine.loadEmbedder(other);
  assert.notEqual(otherEmbedder.info.fingerprint, embedder.info.fingerprint);
  const kb = otherEmbedder.createKnowledge();
  const prepared = otherEmbedder.prepareDocument({ id: 'a', text: 'Some text.', format: 'text' });
  kb.add(prepared, otherEmbedder.embed(prepared.embeddingTexts).vectors);
  assert.throws(() => embedder.openKnowledge(kb.export()), (e) => e.name === 'EmbedderMismatchError'
    && e.message.includes(otherEmbedder.info.fingerprint) && e.message.includes(embedder.info.fingerprint));
  otherEmbedder.free();
});

test('grounded messages use the documented layout', () => {
  const messages = engine.groundMessages(
    [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Are you open on Saturday?' }],
    [{ title: 'Opening hours', url: '/hours.html', heading: '', text: 'Saturday 8:00 to 14:00.' }]);
  assert.equal(messages[0].content, 'Be brief.');
  assert.equal(messages[1].content, 'Answer the question using the sources below. Cite the sources you use by number, like [1]. '
    + 'If the sources do not contain the answer, say that you do not know.\n\n[1] Opening hours (/hours.html)\nSaturday 8:00 to 14:00.\n\n'
    + 'Question: Are you open on Saturday?');
});
