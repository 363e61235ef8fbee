// The Worker's side of LoRA adapters (worker.js adds these request handlers; adapters.js is the
// page's side): adapter files from the adapter store (IndexedDB) loaded against the loaded
// model, and each generation's choice of adapters applied to the session.
//
// Requests:
//   {type: 'adapterLoad', source, options: {sha256, manifest, manifestURL, publicKey, revalidateInterval, store}}
//      → {id, size, sha256, downloaded, refetched, verified, verification, version, update, info}
//      (checked like models, on download and on every read back: trusted-file.js)
//      source: a URL, a Blob, or the store id of a file picked earlier ('file:…')
//      progress events {phase: 'download'|'verify'|'load', done, total} as for models
//   {type: 'adapterUnload', adapter: id} → true (false if none was loaded under that id)
// and generate's {adapters: [{id, scale}]} (apply below).
//
// An adapter belongs to one model (the engine checks it against that model's tensors). When
// another model is loaded, the adapters are freed with the old one and their files kept: the
// next request naming one reads it from the store again and checks it against the new model.

import { namedError } from './engine.js';
import { ModelStore, modelID } from './model-store.js';
import { loadTrustedFile, lateUpdate, trustReport } from './trusted-file.js';

/** `getModel()` gives the loaded engine Model (or throws InvalidStateError). */
export function adapterHandlers({ getModel }) {
  const store = new ModelStore({ dbName: 'tinylm-adapters' });
  // id → { source (URL string or Blob), record (stored file) or null, size, sha256, adapter (engine) or null }
  const entries = new Map();
  const adapted = new WeakSet(); // sessions that apply adapters

  /** The file's bytes, read back from the store (each chunk checked) or from a Blob that was not stored. */
  async function fileBytes(entry, signal, progress) {
    let bytes = null;
    const { record, downloaded, refetched, trust, revalidation } = await loadTrustedFile(store, entry.record?.id ?? entry.source, entry.options, {
      begin: (size) => {
        bytes = new Uint8Array(size);
        return { write: (chunk, offset) => bytes.set(chunk, offset), cancel: () => { bytes = null; } };
      },
      kind: 'adapter', signal, onProgress: progress,
    });
    Object.assign(entry, { record, size: bytes.byteLength, sha256: record?.sha256 ?? null, downloaded, refetched, trust, revalidation });
    return bytes;
  }

  /** The engine adapter of `entry` for the loaded model, loading it if needed. */
  async function engineAdapter(entry, signal = null, progress = () => {}) {
    const model = getModel();
    if (entry.adapter?.model === model && entry.adapter.handle) return entry.adapter;
    entry.adapter = null;
    const bytes = await fileBytes(entry, signal, progress);
    progress({ phase: 'load', done: 0, total: 1 });
    entry.adapter = model.loadAdapter(bytes);
    progress({ phase: 'load', done: 1, total: 1 });
    return entry.adapter;
  }

  return {
    handlers: {
      async adapterLoad({ source, options = {} }, signal, emit) {
        const progress = (event) => emit({ type: 'progress', ...event });
        getModel(); // a model first: the adapter is checked against it
        const id = typeof source === 'string' && source.startsWith('file:') ? source : modelID(source);
        const previous = entries.get(id);
        previous?.adapter?.free();
        const entry = { source, options, record: null, size: null, sha256: null, adapter: null };
        try {
          await engineAdapter(entry, signal, progress);
        } catch (error) {
          // Not an adapter for this model: do not keep the file.
          if (entry.record && /^(NotAnAdapter|Adapter\w+|InvalidModel)Error$/.test(error.name)) await store.delete(id);
          entries.delete(id);
          throw error;
        }
        entries.set(id, entry);
        const report = trustReport(entry.trust, entry.record, await lateUpdate(entry.revalidation, entry.record));
        return { id, size: entry.size, sha256: entry.sha256, downloaded: entry.downloaded, refetched: entry.refetched, ...report, info: entry.adapter.info };
      },

      async adapterUnload({ adapter: id }) {
        const entry = entries.get(id);
        if (!entry) return false;
        entry.adapter?.free();
        entries.delete(id);
        return true;
      },
    },

    /** Makes `session` apply `list` ([{id, scale}]; [] the base model) from its next evaluation on. */
    async apply(session, list = [], signal = null) {
      if (list.length === 0 && !adapted.has(session)) return; // the base model already
      const chosen = [];
      for (const { id, scale } of list) {
        const entry = entries.get(id);
        if (!entry) throw namedError('InvalidStateError', `no adapter is loaded as ${id}: call loadAdapter() first (or again after unloadAdapter())`);
        chosen.push({ adapter: await engineAdapter(entry, signal), scale });
      }
      session.setAdapters(chosen);
      if (chosen.length) adapted.add(session); else adapted.delete(session);
    },

    /** Frees every engine adapter (before the model they belong to is freed); files stay known. */
    release() {
      for (const entry of entries.values()) {
        entry.adapter?.free();
        entry.adapter = null;
      }
    },
  };
}
