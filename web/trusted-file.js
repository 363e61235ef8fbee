// One published file (model, embedder, adapter, knowledge file) from the store to where it is
// used, checked on the way in and on the way out: ensureTrusted (model-trust.js) stores it
// against its manifest, signature, sha256 or first download; then every stored chunk is hashed
// again as it is read back into `sink`. A stored chunk found corrupt or missing is dropped and
// fetched again, once (that chunk alone when its hash is known). worker.js (models),
// knowledge-worker.js (embedders), adapter-worker.js (adapters) and knowledge-base.js
// (knowledge files, on the page) all load through here, so they check files by the same rules.

import { modelID } from './model-store.js';
import { ensureTrusted, trustFor } from './model-trust.js';
import { namedError, abortError } from './protocol.js';

/** The trust options every published-file load takes (manifest, manifestURL, publicKey, sha256, revalidateInterval). */
export function trustOptions({ sha256 = null, manifest = null, manifestURL = null, publicKey = null, revalidateInterval = undefined } = {}) {
  return { sha256, manifest, manifestURL, publicKey, revalidateInterval };
}

/** What a load says about the file's trust: {verified, verification: {source, reason}, version, update}. */
export function trustReport(trust, record, update = record?.update ?? null) {
  return { verified: trust.verified, verification: { source: trust.source, reason: trust.reason }, version: record?.version ?? null, update };
}

/**
 * Stores `source` (URL, Blob, or the 'file:…' id of a picked file stored earlier) in `store` as
 * `options` ask (trustOptions; `store: false` with a Blob: not stored, read as it is), then
 * reads it into a sink from `begin(size)` (or a promise of one), {write(bytes, offset), cancel()}. `kind` ('model',
 * 'embedder', 'adapter', 'knowledge file') is kept in the record for storage pages.
 * Resolves {id, record, size, sink, downloaded, refetched, trust, revalidation}.
 * Rejects with IntegrityError, SignatureError, InvalidManifestError, NetworkError,
 * QuotaExceededError, AbortError; the sink is cancelled then.
 */
export async function loadTrustedFile(store, source, options, { begin, kind = null, signal = null, onProgress = () => {} }) {
  const isBlob = typeof Blob !== 'undefined' && source instanceof Blob;
  const storedID = typeof source === 'string' && source.startsWith('file:');
  const id = storedID ? source : modelID(source);
  let refetched = false;
  let corruption = null; // the IntegrityError that made us fetch the file again
  for (;;) {
    let record = null;
    let downloaded = false;
    let trust = trustFor({ picked: true });
    let revalidation = null;
    if (storedID) {
      // A picked file stored earlier, named by its store id: only the store has it.
      record = await store.get(id);
      if (!record?.complete) throw namedError('InvalidStateError', `no stored file ${id}: pick the file again`);
      trust = record.trust ?? trust;
    } else if (!(options.store === false && isBlob)) {
      try {
        ({ record, downloaded, trust, revalidation } = await ensureTrusted(store, source, options, { signal, onProgress }));
        // What the file is, for storage pages (models and embedders share one store).
        if (kind && record.kind !== kind) record = (await store.annotate(record.id, { kind })) ?? record;
      } catch (error) {
        if (corruption && error.name === 'NetworkError') {
          throw namedError('IntegrityError', `${corruption.message}; the stored copy was deleted and fetching it again failed (${error.message})`);
        }
        throw error;
      }
    }
    const size = record ? record.size : source.size;
    // begin() may resolve later (the engine still compiling): the read starts at once and the
    // chunks checked before the sink exists wait for it, so reading overlaps the start-up.
    let sink = null;
    const held = [];
    const starting = Promise.resolve(begin(size)).then((ready) => {
      sink = ready;
      for (const [bytes, offset] of held.splice(0)) sink.write(bytes, offset);
      return sink;
    });
    starting.catch(() => {}); // awaited below
    const write = (bytes, offset) => (sink ? sink.write(bytes, offset) : held.push([bytes, offset]));
    try {
      if (record) {
        await store.read(record, { signal, onProgress, onChunk: write });
      } else {
        await readBlob(source, signal, onProgress, write);
      }
      await starting;
    } catch (error) {
      held.length = 0;
      starting.then((ready) => ready.cancel(), () => {});
      // A corrupt or missing stored chunk: drop it and fetch it again, once.
      if (error.name === 'IntegrityError' && record && !refetched && !isBlob && !storedID) {
        refetched = true;
        corruption = error;
        await store.discardChunk(id, error.chunkIndex, error.chunkHash);
        onProgress({ phase: 'download', done: 0, total: size, refetch: true, reason: error.message });
        continue;
      }
      if (error.name === 'IntegrityError' && (isBlob || storedID)) {
        await store.delete(id);
        error.message += '; the stored copy was deleted: pick the file again';
      }
      throw error;
    }
    return { id, record, size, sink, downloaded, refetched, trust, revalidation };
  }
}

/** The update a revalidation learned, waiting at most `wait` ms for it (a slow network never holds up a load). */
export async function lateUpdate(revalidation, record, wait = 250) {
  const late = new Promise((resolve) => setTimeout(resolve, wait, null));
  const { update = record?.update ?? null } = (revalidation && await Promise.race([revalidation, late])) ?? {};
  return update;
}

/** A Blob loaded without storing it: slices straight into the sink. */
async function readBlob(blob, signal, onProgress, onChunk) {
  const step = 4 * 1024 * 1024;
  for (let offset = 0; offset < blob.size; offset += step) {
    if (signal?.aborted) throw abortError(signal);
    onChunk(new Uint8Array(await blob.slice(offset, offset + step).arrayBuffer()), offset);
    onProgress({ phase: 'verify', done: Math.min(blob.size, offset + step), total: blob.size });
  }
}
