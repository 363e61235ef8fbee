// The weight store: model files kept in IndexedDB, in chunks, so a model downloads once and
// then loads offline. Used by worker.js (download, read) and by pages (list, delete, usage).
//
// Layout (database "tinylm-models", version 2):
//   models  {id, url, name, size, etag, lastModified, chunkSize, chunkHashes[], sha256, complete,
//            storedAt, version, trust, checkedAt, update, pending,
//            received + hashState (a download without a manifest, in progress),
//            planned (chunkHashes lists every chunk of the file, known before they are stored)}
//   chunks  key: the chunk's SHA-256 (hex) → ArrayBuffer (content-addressed: a chunk shared by
//           two files or two versions of one file is stored once)
//
// Two ways to download:
//   - streamed (no manifest, maybe a `sha256`): the file is read from the start, each chunk
//     hashed as it arrives; a chunk and the record's `received`/`chunkHashes`/`hashState` are
//     written in one transaction, so the record never claims bytes that are not stored;
//   - planned (a manifest, or a stored file whose chunks are all known): the record lists every
//     chunk hash first, then only the chunks not in the store are fetched, with Range requests,
//     each checked against its hash before it is written. A resumed download, a repaired chunk
//     and an update all work this way: what is stored is never fetched again.
// Invariants that make interruptions harmless:
//   - `complete: true` is written in its own final transaction after every chunk is stored;
//   - an update is staged in `pending` (its chunk hashes keep its chunks alive) while the stored
//     version keeps serving; one transaction switches to it once every chunk is stored;
//   - chunks no record (or pending update) lists are collected in the transaction that drops
//     the last reference;
//   - a Web Lock per model serializes downloads across tabs and workers: a second tab waits,
//     then finds the model complete (or resumes the partial download).

import { Sha256, digestHex } from './sha256.js';
import { namedError, abortError } from './protocol.js';
import { promisify, done } from './idb.js';

export const CHUNK_SIZE = 4 * 1024 * 1024; // a multiple of 64, so the hash state can be saved
const DB_NAME = 'tinylm-models';
const DB_VERSION = 2; // 2: chunks keyed by their SHA-256 (1 keyed them by [model, index])
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
    request.onupgradeneeded = ({ oldVersion }) => {
      const db = request.result;
      // Version 1 stored chunks per model: those models download once more.
      if (oldVersion < 2) for (const name of [...db.objectStoreNames]) db.deleteObjectStore(name);
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
    return records.map(({ chunkHashes, hashState, pending, ...summary }) => (
      { ...summary, pending: pending ? { version: pending.version, size: pending.size, sha256: pending.sha256 } : null }));
  }

  /** Whether `source` (URL or id) is stored completely, i.e. loads without the network. */
  async has(source) {
    const record = await this.get(typeof source === 'string' && source.startsWith('file:') ? source : modelID(source));
    return Boolean(record?.complete);
  }

  /** Deletes a stored model (and its staged update); its chunks go unless another file uses them. */
  async delete(id) {
    const db = await this.open();
    const transaction = db.transaction(['models', 'chunks'], 'readwrite');
    transaction.objectStore('models').delete(id);
    collectGarbage(transaction);
    await done(transaction);
  }

  /**
   * Drops one stored chunk found corrupt or missing (`read` said which) and marks the model
   * incomplete: the next ensure() fetches that chunk alone (a Range request), online; when the
   * file was streamed without a manifest and its chunk list is not known, the whole file.
   */
  async discardChunk(id, index, hash = null) {
    const db = await this.open();
    const transaction = db.transaction(['models', 'chunks'], 'readwrite');
    const models = transaction.objectStore('models');
    const record = await promisify(models.get(id));
    // An update switched versions while the chunk was read (and collected the old chunks):
    // nothing is wrong with the new version, which the caller reads next.
    if (record && !(hash && record.chunkHashes?.[index] !== hash)) {
      const hash = record.chunkHashes?.[index];
      if (hash) transaction.objectStore('chunks').delete(hash);
      if (record.complete && record.chunkHashes?.length === chunkTotal(record.size, record.chunkSize)) {
        models.put({ ...record, complete: false, planned: true, received: null, hashState: null });
      } else {
        models.delete(id);
        collectGarbage(transaction);
      }
    }
    await done(transaction);
  }

  /** Deletes every chunk no stored model or staged update lists. */
  async collect() {
    const db = await this.open();
    const transaction = db.transaction(['models', 'chunks'], 'readwrite');
    collectGarbage(transaction);
    await done(transaction);
  }

  /** Which of `hashes` are stored: a Set. */
  async storedHashes(hashes) {
    const db = await this.open();
    const store = db.transaction('chunks').objectStore('chunks');
    const found = new Set();
    await Promise.all([...new Set(hashes)].map(async (hash) => {
      if (await promisify(store.getKey(hash)) !== undefined) found.add(hash);
    }));
    return found;
  }

  /** Bytes of `manifest`'s chunks that are not stored yet (what an update would download). */
  async missingBytes(manifest) {
    const stored = await this.storedHashes(manifest.chunks);
    let bytes = 0;
    manifest.chunks.forEach((hash, index) => {
      if (!stored.has(hash)) bytes += Math.min(manifest.chunkSize, manifest.size - index * manifest.chunkSize);
    });
    return bytes;
  }

  /** Merges `changes` into a stored record (trust, revalidation time, known update). */
  async annotate(id, changes) {
    const db = await this.open();
    const transaction = db.transaction('models', 'readwrite');
    const models = transaction.objectStore('models');
    const record = await promisify(models.get(id));
    if (record) models.put({ ...record, ...changes });
    await done(transaction);
    return record ? { ...record, ...changes } : null;
  }

  /** {usage, quota, persisted, models}: the browser's estimate for this origin, and our share. */
  async usage() {
    const estimate = (await navigator.storage?.estimate?.()) ?? {};
    const persisted = (await navigator.storage?.persisted?.()) ?? false;
    const models = (await this.list()).reduce((sum, r) => sum + (r.complete ? r.size : (r.received ?? 0)), 0);
    return { usage: estimate.usage ?? null, quota: estimate.quota ?? null, persisted, models };
  }

  /** Asks the browser not to evict our data under storage pressure (may be refused). */
  async persist() {
    try { return (await navigator.storage?.persist?.()) ?? false; } catch { return false; }
  }

  /**
   * Makes sure `source` (URL string or Blob) is stored completely and returns
   * {record, downloaded, downloadedBytes}.
   * With `manifest` (a parsed manifest, manifest.js): the record lists the manifest's chunks and
   * only the chunks not stored yet are fetched, each checked against its hash as it arrives
   * (IntegrityError otherwise: nothing unchecked is stored); a stored file of another version
   * is kept as it is (see update()). Without: the file streams in from the start (resuming a
   * partial download with a Range request), hashed as it arrives, `sha256` enforced when given.
   * `trust` is kept in the record (what the file was checked against; model-trust.js).
   * onProgress({phase: 'download', done, total}).
   */
  async ensure(source, { sha256 = null, manifest = null, trust = null, signal = null, onProgress = () => {}, fetch: fetcher = globalThis.fetch } = {}) {
    const id = modelID(source);
    return this.#locked(id, signal, async () => {
      const existing = await this.get(id);
      if (existing?.complete) {
        if (sha256 && existing.sha256 !== sha256.toLowerCase()) {
          throw namedError('IntegrityError', `stored model ${id} has SHA-256 ${existing.sha256}, expected ${sha256}`);
        }
        return { record: existing, downloaded: false, downloadedBytes: 0 };
      }
      let result;
      if (manifest || existing?.planned) {
        const plan = manifest ? planFromManifest(manifest) : planFromRecord(existing);
        let record = existing?.planned && existing.sha256 === plan.sha256 ? existing : null;
        if (!record) {
          record = {
            id, url: id, name: plan.name ?? nameOf(source, id), size: plan.size, etag: null, lastModified: null,
            chunkSize: plan.chunkSize, chunkHashes: plan.chunkHashes, sha256: plan.sha256, version: plan.version ?? null,
            complete: false, planned: true, storedAt: null, trust: trust ?? existing?.trust ?? null, checkedAt: manifest ? Date.now() : null,
            update: null, pending: null, received: null, hashState: null,
          };
          await this.#checkSpace(record, 0);
          await this.#put(record);
          if (existing) await this.collect(); // the chunks of what was there before
        }
        const { bytes, etag, lastModified } = await this.#fetchChunks(source, record, {
          signal, onProgress, fetcher, onValidator: (validators) => this.annotate(id, validators),
        });
        record = { ...record, etag: etag ?? record.etag, lastModified: lastModified ?? record.lastModified, complete: true, planned: false, storedAt: Date.now() };
        if (trust) record.trust = trust;
        await this.#put(record);
        result = { record, downloaded: true, downloadedBytes: bytes };
      } else {
        const record = await this.#download(id, source, existing, { sha256, signal, onProgress, fetcher });
        const stored = trust ? { ...record, trust } : record;
        if (trust) await this.#put(stored);
        result = { record: stored, downloaded: true, downloadedBytes: record.size - (existing?.received ?? 0) };
      }
      this.persist(); // best effort, after the first successful store
      return result;
    });
  }

  /**
   * Brings the stored `source` to the version `manifest` describes, downloading only the chunks
   * not stored yet: they are staged (`pending`) while the stored version keeps serving, and one
   * transaction switches to the new version once every chunk is stored and checked. An
   * interrupted update resumes where it stopped; chunks no version uses any more are collected.
   * Resolves {updated, record, downloadedBytes}. Not stored at all: a first download.
   */
  async update(source, manifest, { trust = null, signal = null, onProgress = () => {}, fetch: fetcher = globalThis.fetch } = {}) {
    const id = modelID(source);
    const existing = await this.get(id);
    if (!existing?.complete) {
      const { record, downloadedBytes } = await this.ensure(source, { manifest, trust, signal, onProgress, fetch: fetcher });
      return { updated: true, record, downloadedBytes };
    }
    return this.#locked(id, signal, async () => {
      let record = await this.get(id);
      if (record.sha256 === manifest.sha256) {
        record = await this.annotate(id, { trust: trust ?? record.trust, version: manifest.version, checkedAt: Date.now(), update: null, pending: null });
        return { updated: false, record, downloadedBytes: 0 };
      }
      const plan = planFromManifest(manifest);
      if (record.pending?.sha256 !== plan.sha256) {
        // Staged before any chunk is written: the pending hashes keep the new chunks alive.
        record = await this.annotate(id, { pending: { ...plan, trust, etag: null, lastModified: null } });
      }
      const target = { ...record, ...plan, id, etag: record.pending.etag, lastModified: record.pending.lastModified };
      await this.#checkSpace({ ...target, size: await this.missingBytes(manifest) }, 0);
      const { bytes, etag, lastModified } = await this.#fetchChunks(source, target, {
        signal, onProgress, fetcher,
        onValidator: (validator) => this.annotate(id, { pending: { ...record.pending, ...validator } }),
      });
      record = await this.#switchToPending(id, { etag, lastModified });
      return { updated: true, record, downloadedBytes: bytes };
    });
  }

  async #switchToPending(id, validators) {
    const db = await this.open();
    const transaction = db.transaction(['models', 'chunks'], 'readwrite');
    const models = transaction.objectStore('models');
    const record = await promisify(models.get(id));
    const { pending } = record;
    const next = {
      ...record, size: pending.size, chunkSize: pending.chunkSize, chunkHashes: pending.chunkHashes, sha256: pending.sha256,
      version: pending.version, trust: pending.trust ?? record.trust, etag: validators.etag ?? record.etag,
      lastModified: validators.lastModified ?? record.lastModified, storedAt: Date.now(), checkedAt: Date.now(), update: null, pending: null,
    };
    models.put(next);
    collectGarbage(transaction);
    await done(transaction);
    return next;
  }

  #locked(id, signal, work) {
    // Web Locks are missing in old browsers and in Node: then tabs simply race (still safe:
    // the last writer wins and `complete` is only set once every chunk is in place).
    if (navigator.locks?.request) return navigator.locks.request(`tinylm-model:${id}`, { signal: signal ?? undefined }, work);
    return work();
  }

  async #put(record) {
    await this.#write(record, (transaction) => transaction.objectStore('models').put(record));
  }

  /**
   * Reads a complete model chunk by chunk, checking each chunk's SHA-256, and hands each one
   * to `onChunk(bytes, offset)` (which copies it into wasm memory), in any order. Several
   * chunks are read and hashed at once, so the check runs alongside the reads and the copies
   * instead of after them. A missing or corrupt chunk throws IntegrityError (with
   * `chunkIndex`); the caller decides whether to fetch again (discardChunk).
   * onProgress({phase: 'verify', done, total}).
   */
  async read(record, { onChunk, signal = null, onProgress = () => {}, parallel = 4 }) {
    const db = await this.open();
    const count = chunkTotal(record.size, record.chunkSize);
    let next = 0;
    let doneBytes = 0;
    let failure = null;
    const worker = async () => {
      while (next < count && !failure) {
        if (signal?.aborted) throw abortError(signal);
        const index = next++;
        const fail = (what) => {
          const error = namedError('IntegrityError', `stored chunk ${index} of ${record.name} is ${what}`);
          error.chunkIndex = index;
          error.chunkHash = record.chunkHashes[index] ?? null;
          return error;
        };
        const hash = record.chunkHashes[index];
        const data = hash ? await promisify(db.transaction('chunks').objectStore('chunks').get(hash)) : undefined;
        if (failure) return;
        const expectedLength = Math.min(record.chunkSize, record.size - index * record.chunkSize);
        // (toString, not instanceof: a store opened from another realm gives that realm's buffers)
        if (Object.prototype.toString.call(data) !== '[object ArrayBuffer]') throw fail('missing');
        if (data.byteLength !== expectedLength) throw fail(`${data.byteLength} bytes instead of ${expectedLength}`);
        if (await digestHex(data) !== hash) throw fail('corrupt (SHA-256 mismatch)');
        if (failure) return;
        onChunk(new Uint8Array(data), index * record.chunkSize);
        doneBytes += data.byteLength;
        onProgress({ phase: 'verify', done: doneBytes, total: record.size });
      }
    };
    const workers = Array.from({ length: Math.max(1, Math.min(parallel, count)) }, () => worker().catch((error) => {
      failure ??= error;
    }));
    await Promise.all(workers);
    if (failure) throw failure;
  }

  // --- planned downloads: the chunks a manifest lists, missing ones only -------------------

  /**
   * Fetches every chunk of `target` (size, chunkSize, chunkHashes, etag) not in the store, with
   * one Range request per run of missing chunks, each chunk checked against its hash before it
   * is written. Resolves {bytes (received), etag, lastModified}. The server's file changing
   * between requests (If-Range answered with the whole file) restarts nothing stored: the
   * chunks are checked one by one, and a file that no longer matches throws IntegrityError.
   */
  async #fetchChunks(source, target, { signal, onProgress, fetcher, onValidator = null }) {
    const isBlob = typeof Blob !== 'undefined' && source instanceof Blob;
    const count = chunkTotal(target.size, target.chunkSize);
    let validators = { etag: target.etag ?? null, lastModified: target.lastModified ?? null };
    let bytes = 0;
    let attemptsWithoutProgress = 0;
    let lastError = null;
    let fileChanged = false; // the server's validators changed between two of our requests
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      const stored = await this.storedHashes(target.chunkHashes);
      const missing = [];
      for (let index = 0; index < count; index++) if (!stored.has(target.chunkHashes[index])) missing.push(index);
      const storedBytes = target.size - missing.reduce((sum, index) => sum + chunkLength(target, index), 0);
      if (missing.length === 0) return { bytes, ...validators };
      if (attemptsWithoutProgress >= MAX_ATTEMPTS) {
        const error = namedError('NetworkError', `cannot download ${target.id} (${storedBytes} of ${target.size} bytes stored, will resume): ${lastError?.message ?? 'network error'}`);
        error.cause = lastError;
        throw error;
      }
      if (attemptsWithoutProgress > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(4000, 250 * 2 ** attemptsWithoutProgress)));
      const runs = [];
      for (const index of missing) {
        const last = runs[runs.length - 1];
        if (last && last.end === index) last.end = index + 1;
        else runs.push({ start: index, end: index + 1 });
      }
      const before = bytes;
      const progress = { done: storedBytes };
      try {
        for (const run of runs) {
          const from = run.start * target.chunkSize;
          const to = Math.min(target.size, run.end * target.chunkSize) - 1;
          const response = isBlob
            ? { body: source.slice(from, to + 1).stream(), start: from, etag: null, lastModified: null }
            : await this.#rangeRequest(fetcher, target.id, from, to, target.size, validators, signal);
          if (!isBlob && (response.etag !== validators.etag || response.lastModified !== validators.lastModified)) {
            if (validators.etag || validators.lastModified) fileChanged = true;
            validators = { etag: response.etag, lastModified: response.lastModified };
            await onValidator?.(validators);
          }
          bytes += await this.#receiveChunks(target, response, run, { signal, onProgress, progress });
        }
      } catch (error) {
        if (signal?.aborted) throw abortError(signal);
        if (error.name === 'IntegrityError' && fileChanged) error.fileChanged = true; // model-trust.js asks for the manifest again
        if (error.name === 'QuotaExceededError' || error.name === 'IntegrityError' || error.fatal) throw error;
        lastError = error; // the connection failed or was cut: resume from what is stored
      }
      attemptsWithoutProgress = bytes > before ? 0 : attemptsWithoutProgress + 1;
    }
  }

  /** A GET for bytes from..to (whole file when the server ignores Range); {body, start, etag, lastModified}. */
  async #rangeRequest(fetcher, url, from, to, size, validators, signal) {
    const headers = {};
    if (from > 0 || to < size - 1) {
      headers.Range = `bytes=${from}-${to}`;
      const validator = validators.etag && !validators.etag.startsWith('W/') ? validators.etag : validators.lastModified;
      if (validator) headers['If-Range'] = validator;
    }
    let response;
    try {
      response = await fetcher(url, { headers, signal, cache: 'no-store' });
    } catch (error) {
      if (signal?.aborted) throw abortError(signal);
      throw namedError('NetworkError', `cannot reach ${url}: ${error.message}`);
    }
    if (response.status !== 200 && response.status !== 206) {
      const error = namedError('NetworkError', `cannot download ${url}: HTTP ${response.status} ${response.statusText}`.trim());
      error.fatal = response.status >= 400 && response.status < 500;
      throw error;
    }
    if (!response.body) throw namedError('NetworkError', `empty response from ${url}`);
    let start = 0;
    if (response.status === 206) {
      const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers.get('Content-Range') || '');
      if (!match || Number(match[1]) > from) {
        await response.body.cancel();
        throw namedError('NetworkError', `unexpected Content-Range from ${url}: ${response.headers.get('Content-Range')}`);
      }
      start = Number(match[1]);
    }
    return { body: response.body, start, etag: response.headers.get('ETag'), lastModified: response.headers.get('Last-Modified') };
  }

  /** Cuts the chunks of `run` out of a response starting at byte `start`, checks and stores each; returns bytes received. */
  async #receiveChunks(target, { body, start }, run, { signal, onProgress, progress }) {
    const reader = body.getReader();
    const cancel = () => reader.cancel().catch(() => {});
    signal?.addEventListener('abort', cancel, { once: true });
    let position = start; // file offset of the next byte the response gives
    let index = run.start;
    let buffer = new Uint8Array(chunkLength(target, index));
    let filled = 0;
    let received = 0;
    let lastReport = 0;
    try {
      for (;;) {
        const { value, done: ended } = await reader.read();
        if (ended) break;
        received += value.byteLength;
        let offset = 0;
        while (offset < value.byteLength && index < run.end) {
          const chunkStart = index * target.chunkSize;
          if (position < chunkStart) { // bytes before the run (a server that ignored Range)
            const skip = Math.min(chunkStart - position, value.byteLength - offset);
            position += skip;
            offset += skip;
            continue;
          }
          const take = Math.min(value.byteLength - offset, buffer.byteLength - filled);
          buffer.set(value.subarray(offset, offset + take), filled);
          filled += take;
          offset += take;
          position += take;
          if (filled === buffer.byteLength) {
            await this.#storeChunk(target, index, buffer);
            progress.done += buffer.byteLength;
            index++;
            if (index < run.end) buffer = new Uint8Array(chunkLength(target, index));
            filled = 0;
          }
        }
        const now = performance.now();
        if (now - lastReport > 100) { lastReport = now; onProgress({ phase: 'download', done: progress.done + filled, total: target.size }); }
        if (index >= run.end) { await reader.cancel().catch(() => {}); break; }
      }
      onProgress({ phase: 'download', done: progress.done, total: target.size });
      if (index < run.end) throw namedError('NetworkError', `the response for ${target.id} ended before chunk ${index}`);
      return received;
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  }

  async #storeChunk(target, index, bytes) {
    const hash = await digestHex(bytes.buffer);
    if (hash !== target.chunkHashes[index]) {
      const error = namedError('IntegrityError', `chunk ${index} of ${target.name} from ${target.id} does not match its SHA-256 in the manifest; it was not stored`);
      error.chunkIndex = index;
      throw error;
    }
    await this.#write(target, (transaction) => transaction.objectStore('chunks').put(bytes.buffer, hash));
  }

  // --- downloading ----------------------------------------------------------------------

  async #download(id, source, partial, { sha256, signal, onProgress, fetcher }) {
    const isBlob = typeof Blob !== 'undefined' && source instanceof Blob;
    const name = nameOf(source, id);
    let record = partial && partial.chunkSize === this.chunkSize && !partial.planned ? partial : null;
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
          sha256: null, complete: false, storedAt: null, version: null, trust: null, checkedAt: null, update: null, pending: null, planned: false,
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
      transaction.objectStore('chunks').put(data, chunkHash);
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

/** How many chunks a file of `size` bytes has. */
function chunkTotal(size, chunkSize) {
  return size === 0 ? 0 : Math.floor((size - 1) / chunkSize) + 1;
}

function chunkLength(target, index) {
  return Math.min(target.chunkSize, target.size - index * target.chunkSize);
}

function nameOf(source, id) {
  if (typeof Blob !== 'undefined' && source instanceof Blob) return source.name || 'model.gguf';
  return decodeURIComponent(new URL(id).pathname.split('/').pop() || id);
}

/** What a planned download needs from a manifest (manifest.js parseManifest). */
function planFromManifest(manifest) {
  return {
    name: manifest.name, version: manifest.version, size: manifest.size, sha256: manifest.sha256,
    chunkSize: manifest.chunkSize, chunkHashes: [...manifest.chunks],
  };
}

/** The same from a stored record whose chunks are all known (a chunk of it is being repaired). */
function planFromRecord(record) {
  return {
    name: record.name, version: record.version, size: record.size, sha256: record.sha256,
    chunkSize: record.chunkSize, chunkHashes: record.chunkHashes,
  };
}

/**
 * Deletes, within `transaction` (read-write on models and chunks), every chunk that no record
 * lists, neither its stored version nor a staged update. IndexedDB runs overlapping read-write
 * transactions one at a time, so a download writing a chunk and its record together is never
 * seen half done.
 */
function collectGarbage(transaction) {
  const models = transaction.objectStore('models');
  const chunks = transaction.objectStore('chunks');
  const records = models.getAll();
  records.onsuccess = () => {
    const live = new Set();
    for (const record of records.result) {
      for (const hash of record.chunkHashes ?? []) live.add(hash);
      for (const hash of record.pending?.chunkHashes ?? []) live.add(hash);
    }
    const keys = chunks.getAllKeys();
    keys.onsuccess = () => {
      for (const key of keys.result) if (!live.has(key)) chunks.delete(key);
    };
  };
}

/** A Blob read as if it were a resumable HTTP response. */
function blobResponse(blob, start) {
  return { body: blob.slice(start).stream(), size: blob.size, etag: null, lastModified: null, resumed: start > 0 };
}
