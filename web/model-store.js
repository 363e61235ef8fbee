// The weight store: model files kept in IndexedDB, in chunks, so a model downloads once and
// then loads offline. Used by worker.js (download, read) and by pages (list, delete, usage).
//
// Layout (database "tinylm-models"):
//   models  {id, url, name, size, etag, lastModified, chunkSize, received, chunkHashes[],
//            hashState, sha256, complete, storedAt}
//   chunks  key [id, index] → ArrayBuffer (chunkSize bytes, the last one shorter)
//
// Invariants that make interruptions harmless:
//   - a chunk and the record's `received`/`chunkHashes`/`hashState` are written in one
//     transaction, so the record never claims bytes that are not stored;
//   - `complete: true` (with the whole-file SHA-256, checked against the expected one) is
//     written in its own final transaction after every chunk is stored;
//   - a Web Lock per model serializes downloads across tabs and workers: a second tab waits,
//     then finds the model complete (or resumes the partial download).

import { Sha256, digestHex } from './sha256.js';
import { namedError, abortError } from './protocol.js';

export const CHUNK_SIZE = 4 * 1024 * 1024; // a multiple of 64, so the hash state can be saved
const DB_NAME = 'tinylm-models';
const DB_VERSION = 1;
const MAX_ATTEMPTS = 5; // per download: the first request plus resumptions after network cuts

/** The store id of a model source: its absolute URL, or a name for a user-picked File/Blob. */
export function modelID(source) {
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    return `file:${source.name ?? 'blob'}:${source.size}:${source.lastModified ?? 0}`;
  }
  return new URL(String(source), globalThis.location?.href).href;
}

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit++; }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${units[unit]}`;
}

function promisify(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function done(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error ?? namedError('AbortError', 'IndexedDB transaction aborted'));
  });
}

export class ModelStore {
  constructor({ dbName = DB_NAME, chunkSize = CHUNK_SIZE } = {}) {
    this.dbName = dbName;
    this.chunkSize = chunkSize;
    this.db = null;
    // Test-only switches (see worker.js `test` messages): e.g. { failWrites: 'QuotaExceededError' }.
    this.testHooks = {};
  }

  async open() {
    if (this.db) return this.db;
    const request = indexedDB.open(this.dbName, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains('models')) db.createObjectStore('models', { keyPath: 'id' });
      if (!db.objectStoreNames.contains('chunks')) db.createObjectStore('chunks');
    };
    this.db = await promisify(request);
    // Another tab upgrading the schema must not be blocked by us.
    this.db.onversionchange = () => { this.db.close(); this.db = null; };
    return this.db;
  }

  async get(id) {
    const db = await this.open();
    return promisify(db.transaction('models').objectStore('models').get(id));
  }

  /** Every stored model (complete or partial), without the per-chunk hash list. */
  async list() {
    const db = await this.open();
    const records = await promisify(db.transaction('models').objectStore('models').getAll());
    return records.map(({ chunkHashes, hashState, ...summary }) => summary);
  }

  /** Whether `source` (URL or id) is stored completely, i.e. loads without the network. */
  async has(source) {
    const record = await this.get(typeof source === 'string' && source.startsWith('file:') ? source : modelID(source));
    return Boolean(record?.complete);
  }

  async delete(id) {
    const db = await this.open();
    const transaction = db.transaction(['models', 'chunks'], 'readwrite');
    transaction.objectStore('models').delete(id);
    transaction.objectStore('chunks').delete(IDBKeyRange.bound([id, 0], [id, Infinity]));
    await done(transaction);
  }

  /** {usage, quota, persisted, models}: the browser's estimate for this origin, and our share. */
  async usage() {
    const estimate = (await navigator.storage?.estimate?.()) ?? {};
    const persisted = (await navigator.storage?.persisted?.()) ?? false;
    const models = (await this.list()).reduce((sum, r) => sum + (r.complete ? r.size : r.received), 0);
    return { usage: estimate.usage ?? null, quota: estimate.quota ?? null, persisted, models };
  }

  /** Asks the browser not to evict our data under storage pressure (may be refused). */
  async persist() {
    try { return (await navigator.storage?.persist?.()) ?? false; } catch { return false; }
  }

  /**
   * Makes sure `source` (URL string or Blob) is stored completely and returns its record.
   * Downloads in chunks, resuming a partial download with a Range request; computes the
   * whole-file SHA-256 while downloading and enforces `sha256` when given.
   * onProgress({phase: 'download', done, total}).
   */
  async ensure(source, { sha256 = null, signal = null, onProgress = () => {}, fetch: fetcher = globalThis.fetch } = {}) {
    const id = modelID(source);
    const work = async () => {
      const existing = await this.get(id);
      if (existing?.complete) {
        if (sha256 && existing.sha256 !== sha256.toLowerCase()) {
          throw namedError('IntegrityError', `stored model ${id} has SHA-256 ${existing.sha256}, expected ${sha256}`);
        }
        return { record: existing, downloaded: false };
      }
      const record = await this.#download(id, source, existing, { sha256, signal, onProgress, fetcher });
      this.persist(); // best effort, after the first successful store
      return { record, downloaded: true };
    };
    // Web Locks are missing in old browsers and in Node: then tabs simply race (still safe:
    // the last writer wins and `complete` is only set once every chunk is in place).
    if (navigator.locks?.request) return navigator.locks.request(`tinylm-model:${id}`, { signal: signal ?? undefined }, work);
    return work();
  }

  /**
   * Reads a complete model chunk by chunk, checking each chunk's SHA-256, and hands each one
   * to `onChunk(bytes, offset)` (which copies it into wasm memory). A missing or corrupt chunk
   * throws IntegrityError (with `chunkIndex`); the caller decides whether to fetch again.
   * onProgress({phase: 'verify', done, total}).
   */
  async read(record, { onChunk, signal = null, onProgress = () => {} }) {
    const db = await this.open();
    const count = Math.ceil(record.size / record.chunkSize);
    const get = (index) => promisify(db.transaction('chunks').objectStore('chunks').get([record.id, index]));
    let next = get(0);
    for (let index = 0; index < count; index++) {
      if (signal?.aborted) throw abortError(signal);
      const data = await next;
      if (index + 1 < count) next = get(index + 1); // overlap the next read with hashing this one
      const expectedLength = Math.min(record.chunkSize, record.size - index * record.chunkSize);
      const fail = (what) => {
        const error = namedError('IntegrityError', `stored chunk ${index} of ${record.name} is ${what}`);
        error.chunkIndex = index;
        return error;
      };
      if (!(data instanceof ArrayBuffer)) throw fail('missing');
      if (data.byteLength !== expectedLength) throw fail(`${data.byteLength} bytes instead of ${expectedLength}`);
      if (await digestHex(data) !== record.chunkHashes[index]) throw fail('corrupt (SHA-256 mismatch)');
      onChunk(new Uint8Array(data), index * record.chunkSize);
      onProgress({ phase: 'verify', done: index * record.chunkSize + data.byteLength, total: record.size });
    }
  }

  // --- downloading ----------------------------------------------------------------------

  async #download(id, source, partial, { sha256, signal, onProgress, fetcher }) {
    const isBlob = typeof Blob !== 'undefined' && source instanceof Blob;
    const name = isBlob ? (source.name || 'model.gguf') : decodeURIComponent(new URL(id).pathname.split('/').pop() || id);
    let record = partial && partial.chunkSize === this.chunkSize ? partial : null;
    let lastError = null;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (signal?.aborted) throw abortError(signal);
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(4000, 250 * 2 ** attempt)));
      // Every byte is stored but the final record was never written (the tab closed then).
      if (record && record.size !== null && record.received === record.size) return this.#complete(record, sha256);
      const start = record?.received ?? 0;
      let response;
      try {
        response = isBlob ? blobResponse(source, start) : await this.#request(fetcher, id, record, start, signal);
      } catch (error) {
        if (error.name === 'AbortError' || signal?.aborted) throw abortError(signal);
        if (error.name === 'NetworkError' && error.fatal) throw error;
        lastError = error;
        continue; // the connection failed: try again (resuming)
      }
      // Resumed (206 at our offset) or starting over (200, or the file changed on the server).
      if (!response.resumed && start > 0) {
        await this.delete(id);
        record = null;
      }
      if (!record) {
        record = {
          id, url: isBlob ? null : id, name, size: response.size, etag: response.etag, lastModified: response.lastModified,
          chunkSize: this.chunkSize, received: 0, chunkHashes: [], hashState: new Sha256().state,
          sha256: null, complete: false, storedAt: null,
        };
        await this.#checkSpace(record, 0);
      }
      try {
        record = await this.#receive(record, response.body, signal, onProgress);
      } catch (error) {
        if (signal?.aborted) throw abortError(signal);
        if (error.name === 'QuotaExceededError' || error.name === 'IntegrityError') throw error;
        lastError = error; // the response was cut: resume from what is stored
        record = (await this.get(id)) ?? null; // the last committed chunk is the truth
        continue;
      }
      if (record.size !== null && record.received < record.size) {
        lastError = namedError('NetworkError', `the response ended after ${record.received} of ${record.size} bytes`);
        continue;
      }
      return this.#complete(record, sha256);
    }
    const error = namedError('NetworkError', `cannot download ${id} (${record?.received ?? 0} bytes stored, will resume): ${lastError?.message ?? 'network error'}`);
    error.cause = lastError;
    throw error;
  }

  /** Sends the GET (with Range when resuming) and describes the response. */
  async #request(fetcher, url, record, start, signal) {
    const headers = {};
    if (start > 0) {
      headers.Range = `bytes=${start}-`;
      // If the file changed since the partial download, the server answers 200 with the new file.
      const validator = record.etag && !record.etag.startsWith('W/') ? record.etag : record.lastModified;
      if (validator) headers['If-Range'] = validator;
    }
    let response;
    try {
      // no-store: the HTTP cache would otherwise keep a second copy of a file we already store.
      response = await fetcher(url, { headers, signal, cache: 'no-store' });
    } catch (error) {
      if (signal?.aborted) throw abortError(signal);
      throw namedError('NetworkError', `cannot reach ${url}: ${error.message}`);
    }
    if (response.status !== 200 && response.status !== 206) {
      const error = namedError('NetworkError', `cannot download ${url}: HTTP ${response.status} ${response.statusText}`.trim());
      error.fatal = response.status >= 400 && response.status < 500; // retrying a 404 is pointless
      throw error;
    }
    const etag = response.headers.get('ETag');
    const lastModified = response.headers.get('Last-Modified');
    let size = null;
    let resumed = false;
    if (response.status === 206) {
      const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers.get('Content-Range') || '');
      resumed = Boolean(match) && Number(match[1]) === start && Number(match[3]) === record?.size;
      if (!resumed) {
        await response.body?.cancel();
        // An unexpected range: ask again for the whole file.
        return this.#request(fetcher, url, null, 0, signal);
      }
      size = Number(match[3]);
    } else {
      // Compressed responses report the compressed length: only trust an identity length.
      const encoding = response.headers.get('Content-Encoding');
      const length = response.headers.get('Content-Length');
      size = length !== null && (!encoding || encoding === 'identity') ? Number(length) : null;
    }
    if (!response.body) throw namedError('NetworkError', `empty response from ${url}`);
    return { body: response.body, size, etag, lastModified, resumed };
  }

  /** Streams the body into chunks; each chunk is hashed and committed with the record. */
  async #receive(record, body, signal, onProgress) {
    const hash = Sha256.fromState(record.hashState);
    const reader = body.getReader();
    let buffer = new Uint8Array(this.chunkSize);
    let filled = 0;
    let lastReport = 0;
    const total = record.size;
    const report = (force) => {
      const now = performance.now();
      if (!force && now - lastReport < 100) return;
      lastReport = now;
      onProgress({ phase: 'download', done: record.received + filled, total });
    };
    const cancel = () => reader.cancel().catch(() => {});
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      report(true);
      for (;;) {
        const { value, done: ended } = await reader.read();
        if (ended) break;
        let offset = 0;
        while (offset < value.byteLength) {
          const take = Math.min(value.byteLength - offset, this.chunkSize - filled);
          buffer.set(value.subarray(offset, offset + take), filled);
          filled += take;
          offset += take;
          if (filled === this.chunkSize) {
            record = await this.#commit(record, buffer, hash);
            buffer = new Uint8Array(this.chunkSize);
            filled = 0;
          }
        }
        report(false);
      }
      if (filled > 0) {
        record = await this.#commit(record, buffer.subarray(0, filled), hash, true);
        filled = 0;
      }
      if (record.size === null) record.size = record.received; // unknown length: the stream decides
      report(true);
      return record;
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  }

  async #commit(record, bytes, hash, last = false) {
    const data = bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
    if (record.size !== null && record.received + data.byteLength > record.size) {
      throw namedError('NetworkError', `the server sent more than the announced ${record.size} bytes`);
    }
    const chunkHash = await digestHex(data);
    hash.update(bytes);
    const index = record.received / this.chunkSize;
    const next = {
      ...record,
      received: record.received + data.byteLength,
      chunkHashes: [...record.chunkHashes.slice(0, index), chunkHash],
      // The state is only restorable at chunk boundaries; the last (short) chunk ends the file.
      hashState: last ? record.hashState : hash.state,
    };
    if (last) next.finalHash = hash.hex();
    await this.#write(next, (transaction) => {
      transaction.objectStore('chunks').put(data, [record.id, index]);
      transaction.objectStore('models').put(next);
    });
    return next;
  }

  async #complete(record, expected) {
    let sha256 = record.finalHash;
    if (!sha256) sha256 = Sha256.fromState(record.hashState).hex(); // the file ended at a chunk boundary
    const { finalHash, ...rest } = record;
    if (expected && sha256 !== expected.toLowerCase()) {
      await this.delete(record.id);
      throw namedError('IntegrityError', `${record.name} has SHA-256 ${sha256}, expected ${expected.toLowerCase()}; the download was discarded`);
    }
    const complete = { ...rest, size: record.received, sha256, hashState: null, complete: true, storedAt: Date.now() };
    await this.#write(complete, (transaction) => transaction.objectStore('models').put(complete));
    return complete;
  }

  /** Runs one read-write transaction; turns a quota failure into a QuotaExceededError saying how much is needed. */
  async #write(record, body) {
    const db = await this.open();
    try {
      if (this.testHooks.failWrites) throw new DOMException('simulated write failure (test hook)', this.testHooks.failWrites);
      const transaction = db.transaction(['models', 'chunks'], 'readwrite');
      body(transaction);
      await done(transaction);
    } catch (error) {
      if (error?.name === 'QuotaExceededError') throw await this.#quotaError(record);
      throw error;
    }
  }

  async #checkSpace(record, stored) {
    if (record.size === null) return;
    const { usage, quota } = (await navigator.storage?.estimate?.()) ?? {};
    if (quota != null && usage != null && quota - usage < record.size - stored) throw await this.#quotaError(record);
  }

  async #quotaError(record) {
    const { usage, quota } = (await navigator.storage?.estimate?.().catch(() => null)) ?? {};
    const needed = record.size ?? record.received;
    const missing = needed !== null ? needed - record.received : null;
    const free = quota != null && usage != null ? `; the browser allows this site ${formatBytes(Math.max(0, quota - usage))} more` : '';
    const error = namedError('QuotaExceededError',
      `not enough storage to keep ${record.name}: it needs ${formatBytes(needed)}` +
      (missing !== null && missing !== needed ? ` (${formatBytes(missing)} still to store)` : '') +
      `${free}. Free up disk space or delete stored models.`);
    error.bytesNeeded = needed;
    return error;
  }
}

/** A Blob read as if it were a resumable HTTP response. */
function blobResponse(blob, start) {
  return { body: blob.slice(start).stream(), size: blob.size, etag: null, lastModified: null, resumed: start > 0 };
}
