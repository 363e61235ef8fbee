// Knowledge bases: documents a page adds (text, Markdown, HTML), split into passages,
// embedded by a sentence-embedding model in the Worker, kept in IndexedDB, and searched
// exactly — all on the device.
//
//   import { TinyLM } from './tinylm.js';
//   import { KnowledgeBase } from './knowledge-base.js';
//   const embedder = await TinyLM.loadEmbedder('models/all-MiniLM-L6-v2.gguf');
//   const kb = await KnowledgeBase.open('my-notes', { embedder });
//   await kb.add([{ title: 'Hours', url: '/hours.html', text: html, format: 'html' }],
//                { onProgress: ({ done, total }) => … });
//   const hits = await kb.search('Are you open on Saturday?', { k: 3 });
//     // [{ score, documentId, title, url, heading, text, chunk }]
//   await kb.remove(hits[0].documentId);
//   const file = await kb.export();          // the knowledge file (Uint8Array), as `tinylm index` writes
//   await other.import(file);
//
// Where the work happens: chunking, embedding, the vectors and the search live in the wasm
// module in the Worker (Sources/TinyLM/Knowledge/; EngineKnowledgeBackend below runs there).
// This module keeps the documents — each as its own knowledge file, the format DESIGN.md
// describes — in IndexedDB (database "tinylm-knowledge"), and on open() hands them back to the
// Worker. Vectors are int8 with one scale per vector by default (recall unchanged on the
// project's evaluation set, 558 instead of 1706 bytes per chunk; scripts/eval-retrieval.mjs).
//
// Errors are Errors whose `name` says what happened: EmbedderMismatchError (the knowledge was
// built with another embedder; the message names both), InvalidKnowledgeFileError (a corrupt
// file), QuotaExceededError (storage full: the documents added before stay usable; the error's
// `added` lists them), AbortError, InvalidArgumentError.

import { namedError } from './protocol.js';
import { loadKnowledgeFile } from './knowledge-files.js';

const FORMATS = { md: 'markdown', markdown: 'markdown', txt: 'text', text: 'text', html: 'html', htm: 'html' };

/** 'markdown' | 'html' | 'text' for a document: its `format`, else its file name or MIME type. */
export function documentFormat({ format = null, name = '', type = '' } = {}) {
  if (format) {
    const known = FORMATS[format] ?? (Object.values(FORMATS).includes(format) ? format : null);
    if (!known) throw namedError('InvalidArgumentError', `unknown document format '${format}': text, markdown or html`);
    return known;
  }
  const extension = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  if (extension && FORMATS[extension]) return FORMATS[extension];
  if (type === 'text/html') return 'html';
  if (type === 'text/markdown') return 'markdown';
  return 'text';
}

/** A stable id for a document without one: its URL, else its title, else a hash of its text. */
export function documentId({ id = null, url = '', title = '', text = '' }) {
  if (id) return String(id);
  if (url) return url;
  if (title) return title;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return `text-${h.toString(16).padStart(8, '0')}`;
}

// --- the engine side (runs in the Worker, and directly under Node) --------------------------

/**
 * Knowledge operations on an engine.js Embedder: the Worker runs one per loaded embedder, and
 * tests run it directly. Indexes are kept by key (one per open knowledge base).
 */
export class EngineKnowledgeBackend {
  constructor(embedder) {
    this.embedder = embedder;
    this.indexes = new Map();
  }

  get info() { return this.embedder.info; }

  embed({ texts, pooling = 'model' }) { return this.embedder.embed(texts, { pooling }); }

  /** Creates (or recreates) index `key` from per-document knowledge files. */
  open({ key, vectorForm = 'int8', files = [] }) {
    this.close({ key });
    const index = this.embedder.createKnowledge({ vectorForm });
    this.indexes.set(key, index);
    for (const file of files) index.merge(file);
    return index.info();
  }

  close({ key }) {
    this.indexes.get(key)?.free();
    this.indexes.delete(key);
    return true;
  }

  #index(key) {
    const index = this.indexes.get(key);
    if (!index) throw namedError('InvalidStateError', `knowledge base '${key}' is not open`);
    return index;
  }

  /**
   * Chunks, embeds (`batch` chunks per call, a progress event after each) and adds each
   * source; returns [{document, chunks, file}] with each document's own knowledge file.
   */
  async add({ key, sources, batch = 16, chunkTokens = null, overlapTokens = null }, { emit = () => {}, signal = null, yieldNow = null } = {}) {
    const index = this.#index(key);
    const prepared = sources.map((source) => this.embedder.prepareDocument({
      ...source, ...(chunkTokens ? { maxTokens: chunkTokens } : {}), ...(overlapTokens !== null ? { overlapTokens } : {}),
    }));
    const total = prepared.reduce((n, p) => n + p.chunks.length, 0);
    let done = 0;
    const results = [];
    for (const [i, document] of prepared.entries()) {
      const vectors = [];
      for (let start = 0; start < document.embeddingTexts.length; start += batch) {
        if (signal?.aborted) throw signal.reason ?? namedError('AbortError', 'the operation was aborted');
        vectors.push(...this.embedder.embed(document.embeddingTexts.slice(start, start + batch)).vectors);
        done += Math.min(batch, document.embeddingTexts.length - start);
        emit({ type: 'progress', phase: 'embed', done, total, document: document.document.id, documents: prepared.length, documentIndex: i });
        await (yieldNow?.() ?? Promise.resolve());  // in the Worker: lets an abort message in
      }
      index.add(document, vectors);
      results.push({ document: document.document, chunks: document.chunks.length, file: index.export(document.document.id) });
    }
    return results;
  }

  remove({ key, id }) { return this.#index(key).remove(id); }

  /** The k best passages for `query` (text). */
  search({ key, query, k = 3 }) {
    const index = this.#index(key);
    const [vector] = this.embedder.embed([query]).vectors;
    return index.search(vector, k);
  }

  export({ key, id = '' }) { return this.#index(key).export(id); }

  /** Adds the documents of a knowledge file to index `key`; returns them as add() does. */
  import({ key, bytes }) {
    const index = this.#index(key);
    const incoming = this.embedder.openKnowledge(bytes, { vectorForm: index.info().vectorForm });
    try {
      const { documents } = incoming.info();
      const results = documents.map((d) => ({ document: { id: d.id, title: d.title, url: d.url, sourceBytes: d.sourceBytes }, chunks: d.chunks, file: incoming.export(d.id) }));
      index.merge(incoming.export());
      return results;
    } finally {
      incoming.free();
    }
  }

  info({ key }) { return this.#index(key).info(); }
}

/** Runs operation `op` of a backend (the Worker's knowledge requests go through here). */
export async function runKnowledgeOperation(backend, op, args, context = {}) {
  const operations = ['embed', 'open', 'close', 'add', 'remove', 'search', 'export', 'import', 'info'];
  if (!operations.includes(op)) throw namedError('InvalidArgumentError', `unknown knowledge operation '${op}'`);
  return backend[op](args, context);
}

/**
 * An embedder for KnowledgeBase without a Worker (Node, tests): an engine.js Embedder used
 * in place, with the interface of the page's Embedder (tinylm.js).
 */
export function localEmbedder(engineEmbedder) {
  const backend = new EngineKnowledgeBackend(engineEmbedder);
  return {
    info: engineEmbedder.info,
    async embed(input) {
      const { vectors } = engineEmbedder.embed(Array.isArray(input) ? input : [input]);
      return Array.isArray(input) ? vectors : vectors[0];
    },
    knowledge(op, args, { onEvent = null, signal = null } = {}) {
      return runKnowledgeOperation(backend, op, args, { emit: (event) => onEvent?.(event), signal });
    },
  };
}

// --- storage ------------------------------------------------------------------------------

/** Documents kept in memory only (a page session; knowledge loaded from a URL). */
export class MemoryKnowledgeStorage {
  constructor() {
    this.bases = new Map();
    this.testHooks = {}; // e.g. { failWritesAfter: 2 }: writes past the second throw QuotaExceededError
  }
  async getBase(name) { return this.bases.get(name)?.record ?? null; }
  async putBase(record) {
    if (!this.bases.has(record.name)) this.bases.set(record.name, { record, documents: new Map() });
    else this.bases.get(record.name).record = record;
  }
  async documents(name) { return [...(this.bases.get(name)?.documents.values() ?? [])]; }
  async putDocument(name, record) {
    const documents = this.bases.get(name).documents;
    if (this.testHooks.failWritesAfter !== undefined && documents.size >= this.testHooks.failWritesAfter) {
      throw namedError('QuotaExceededError', 'test hook: storage full');
    }
    documents.set(record.id, record);
  }
  async deleteDocument(name, id) { this.bases.get(name)?.documents.delete(id); }
  async deleteBase(name) { this.bases.delete(name); }
}

/**
 * Documents in IndexedDB (database "tinylm-knowledge"): store `bases` {name, embedder,
 * vectorForm, createdAt}; store `documents` keyed [base, id] → {base, id, title, url,
 * sourceBytes, chunks, addedAt, file: ArrayBuffer (the document's knowledge file)}.
 * Each document is written in one transaction: a failed write (quota) leaves the others whole.
 */
export class IndexedDBKnowledgeStorage {
  constructor({ dbName = 'tinylm-knowledge' } = {}) {
    this.dbName = dbName;
    this.db = null;
    this.testHooks = {}; // e.g. { failWrites: 'QuotaExceededError' }
  }

  async #open() {
    if (this.db) return this.db;
    const request = indexedDB.open(this.dbName, 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains('bases')) db.createObjectStore('bases', { keyPath: 'name' });
      if (!db.objectStoreNames.contains('documents')) db.createObjectStore('documents', { keyPath: ['base', 'id'] });
    };
    this.db = await requestResult(request);
    return this.db;
  }

  async #run(stores, mode, body) {
    const db = await this.#open();
    const transaction = db.transaction(stores, mode);
    const finished = new Promise((resolve, reject) => {
      transaction.oncomplete = () => resolve();
      transaction.onerror = () => reject(storageError(transaction.error));
      transaction.onabort = () => reject(storageError(transaction.error ?? namedError('AbortError', 'IndexedDB transaction aborted')));
    });
    const value = await body(transaction);
    await finished;
    return value;
  }

  async getBase(name) {
    return this.#run(['bases'], 'readonly', (t) => requestResult(t.objectStore('bases').get(name))).then((r) => r ?? null);
  }

  async putBase(record) {
    if (this.testHooks.failWrites) throw namedError(this.testHooks.failWrites, 'test hook: writes fail');
    return this.#run(['bases'], 'readwrite', (t) => requestResult(t.objectStore('bases').put(record)));
  }

  async documents(name) {
    const range = IDBKeyRange.bound([name, ''], [name, '\uffff']);
    return this.#run(['documents'], 'readonly', (t) => requestResult(t.objectStore('documents').getAll(range)));
  }

  async putDocument(name, record) {
    if (this.testHooks.failWrites) throw namedError(this.testHooks.failWrites, 'test hook: writes fail');
    return this.#run(['documents'], 'readwrite', (t) => requestResult(t.objectStore('documents').put({ ...record, base: name })));
  }

  async deleteDocument(name, id) {
    return this.#run(['documents'], 'readwrite', (t) => requestResult(t.objectStore('documents').delete([name, id])));
  }

  async deleteBase(name) {
    const range = IDBKeyRange.bound([name, ''], [name, '\uffff']);
    return this.#run(['bases', 'documents'], 'readwrite', async (t) => {
      t.objectStore('documents').delete(range);
      t.objectStore('bases').delete(name);
    });
  }
}

function requestResult(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(storageError(request.error));
  });
}

function storageError(error) {
  if (error?.name === 'QuotaExceededError') return namedError('QuotaExceededError', 'the browser storage is full');
  return error ?? namedError('UnknownError', 'IndexedDB failed');
}

// --- the knowledge base -------------------------------------------------------------------

let nextKey = 1;

export class KnowledgeBase {
  /**
   * Opens (or creates) the knowledge base `name`. Options:
   *   embedder       from TinyLM.loadEmbedder (required): embeds documents and queries
   *   storage        'indexeddb' (default), 'memory', or a storage object
   *   vectorForm     'int8' (default), 'f16' or 'f32', for a new knowledge base
   *   chunkTokens    passage size in tokens (default 160), overlapTokens (default 32)
   * A knowledge base built with another embedder fails with EmbedderMismatchError.
   */
  static async open(name, { embedder, storage = 'indexeddb', vectorForm = 'int8', chunkTokens = null, overlapTokens = null } = {}) {
    if (!embedder?.knowledge) throw namedError('InvalidArgumentError', 'KnowledgeBase.open needs { embedder } from TinyLM.loadEmbedder');
    if (typeof name !== 'string' || !name) throw namedError('InvalidArgumentError', 'a knowledge base needs a name');
    const store = storage === 'indexeddb' ? new IndexedDBKnowledgeStorage() : storage === 'memory' ? new MemoryKnowledgeStorage() : storage;
    const identity = { name: embedder.info.name, fingerprint: embedder.info.fingerprint, dimensions: embedder.info.dimensions, pooling: embedder.info.pooling };
    let record = await store.getBase(name);
    if (record && record.embedder.fingerprint !== identity.fingerprint) {
      throw namedError('EmbedderMismatchError',
        `the knowledge base '${name}' was built with the embedder '${record.embedder.name}' (fingerprint ${record.embedder.fingerprint}), `
        + `but the embedder given is '${identity.name}' (fingerprint ${identity.fingerprint}): open it with that embedder, or delete it and add the documents again`);
    }
    if (!record) {
      record = { name, embedder: identity, vectorForm, createdAt: Date.now() };
      await store.putBase(record);
    }
    const documents = await store.documents(name);
    const kb = new KnowledgeBase(name, embedder, store, record, { chunkTokens, overlapTokens });
    await embedder.knowledge('open', { key: kb.key, vectorForm: record.vectorForm, files: documents.map((d) => d.file) });
    for (const d of documents) kb.#documents.set(d.id, summary(d));
    return kb;
  }

  /**
   * A knowledge base from a knowledge file (bytes, or a URL), e.g. the one `tinylm index`
   * builds for a site. Kept in memory unless `storage` says otherwise. A URL is downloaded
   * once into IndexedDB and checked like a model (knowledge-files.js): options sha256,
   * manifest, manifestURL, publicKey, revalidateInterval, onProgress; `kb.file` then says
   * {id, sha256, downloaded, verified, verification, version, update}.
   */
  static async fromFile(source, { embedder, name = null, storage = 'memory', signal = null, onProgress = null, ...trust } = {}) {
    let bytes = source;
    let file = null;
    if (typeof source === 'string' || source instanceof URL) {
      ({ bytes, ...file } = await loadKnowledgeFile(source, { ...trust, signal, onProgress }));
    }
    const kb = await KnowledgeBase.open(name ?? `file-${nextKey}`, { embedder, storage });
    kb.file = file;
    await kb.import(bytes);
    return kb;
  }

  /** Deletes a stored knowledge base and its documents. */
  static async delete(name, { storage = 'indexeddb' } = {}) {
    const store = storage === 'indexeddb' ? new IndexedDBKnowledgeStorage() : storage;
    await store.deleteBase(name);
  }

  /** fromFile(url): how the knowledge file was stored and checked (knowledge-files.js); null otherwise. */
  file = null;
  #documents = new Map();
  #queue = Promise.resolve();

  constructor(name, embedder, storage, record, { chunkTokens, overlapTokens }) {
    this.name = name;
    this.embedder = embedder;
    this.storage = storage;
    this.record = record;
    this.key = `${name}#${nextKey++}`;
    this.chunkTokens = chunkTokens;
    this.overlapTokens = overlapTokens;
  }

  /** [{id, title, url, sourceBytes, chunks, bytes, addedAt}], in the order they were added. */
  get documents() { return [...this.#documents.values()]; }

  /** The embedder this knowledge was built with: {name, fingerprint, dimensions, pooling}. */
  get embedderIdentity() { return this.record.embedder; }

  /**
   * Adds documents: [{id?, title?, url?, text, format?: 'text'|'markdown'|'html'}] or Files
   * (.txt, .md, .html). A document with an existing id replaces it. Options: onProgress({phase,
   * done, total, document}) after every embedded batch, signal (AbortSignal). Each document is
   * stored as soon as it is embedded. Resolves with the documents added.
   */
  add(documents, { onProgress = null, signal = null } = {}) {
    return this.#serial(async () => {
      const sources = [];
      for (const input of Array.isArray(documents) ? documents : [documents]) sources.push(await toSource(input));
      const added = [];
      for (const source of sources) {
        if (signal?.aborted) throw signal.reason ?? namedError('AbortError', 'the operation was aborted');
        const [result] = await this.embedder.knowledge('add', {
          key: this.key, sources: [source], chunkTokens: this.chunkTokens, overlapTokens: this.overlapTokens,
        }, { signal, onEvent: (event) => event.type === 'progress' && onProgress?.({ ...event, documentsDone: added.length, documentsTotal: sources.length }) });
        const stored = { ...result.document, chunks: result.chunks, bytes: result.file.byteLength, addedAt: Date.now(), file: result.file };
        try {
          await this.storage.putDocument(this.name, stored);
        } catch (error) {
          // Not stored: not searchable either, so a reload shows the same knowledge.
          await this.embedder.knowledge('remove', { key: this.key, id: stored.id });
          if (error.name === 'QuotaExceededError') {
            throw namedError('QuotaExceededError', `the browser storage is full: '${stored.title}' was not added (${added.length} documents before it were)`, { added });
          }
          throw error;
        }
        this.#documents.set(stored.id, summary(stored));
        added.push(summary(stored));
      }
      return added;
    });
  }

  /** The k passages most similar to `query`: [{score, documentId, title, url, heading, text, chunk}]. */
  search(query, { k = 3 } = {}) {
    if (typeof query !== 'string') return Promise.reject(namedError('InvalidArgumentError', 'search takes a text'));
    return this.#serial(() => this.embedder.knowledge('search', { key: this.key, query, k }));
  }

  /** Removes a document; false if there was none with that id. */
  remove(documentId) {
    return this.#serial(async () => {
      if (!this.#documents.has(documentId)) return false;
      await this.storage.deleteDocument(this.name, documentId);
      this.#documents.delete(documentId);
      await this.embedder.knowledge('remove', { key: this.key, id: documentId });
      return true;
    });
  }

  /** The knowledge file of every document (Uint8Array): what `tinylm chat --knowledge` reads. */
  export() { return this.#serial(() => this.embedder.knowledge('export', { key: this.key })); }

  /**
   * Adds the documents of a knowledge file (Uint8Array/ArrayBuffer), replacing same-id ones.
   * InvalidKnowledgeFileError if it is damaged, EmbedderMismatchError if another embedder built it.
   */
  import(bytes) {
    return this.#serial(async () => {
      const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
      const results = await this.embedder.knowledge('import', { key: this.key, bytes: data });
      const added = [];
      for (const result of results) {
        const stored = { ...result.document, chunks: result.chunks, bytes: result.file.byteLength, addedAt: Date.now(), file: result.file };
        try {
          await this.storage.putDocument(this.name, stored);
        } catch (error) {
          await this.embedder.knowledge('remove', { key: this.key, id: stored.id });
          if (error.name === 'QuotaExceededError') throw namedError('QuotaExceededError', `the browser storage is full after ${added.length} imported documents`, { added });
          throw error;
        }
        this.#documents.set(stored.id, summary(stored));
        added.push(summary(stored));
      }
      return added;
    });
  }

  /** Frees the search index in the Worker (the stored documents stay). */
  close() { return this.#serial(() => this.embedder.knowledge('close', { key: this.key })); }

  // One operation at a time: a search never sees half of an add, an add waits for a search.
  #serial(body) {
    const run = this.#queue.then(body);
    this.#queue = run.catch(() => {});
    return run;
  }
}

function summary({ id, title, url, sourceBytes, chunks, bytes, addedAt }) {
  return { id, title, url, sourceBytes, chunks, bytes, addedAt };
}

/** A document as the engine takes it: {id, title?, url, text, format}. */
async function toSource(input) {
  if (typeof Blob !== 'undefined' && input instanceof Blob) {
    const name = input.name ?? '';
    const text = await input.text();
    return { id: documentId({ id: name || null, text }), url: '', text, format: documentFormat({ name, type: input.type }) };
  }
  if (typeof input === 'string') input = { text: input };
  if (typeof input?.text !== 'string') throw namedError('InvalidArgumentError', 'a document needs text: {text, title?, url?, format?} or a File');
  const source = { id: documentId(input), url: input.url ?? '', text: input.text, format: documentFormat(input) };
  if (input.title) source.title = input.title;
  return source;
}
