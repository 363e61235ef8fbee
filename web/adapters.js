// The page's side of LoRA adapters (tinylm.js's lm.loadAdapter, lm.unloadAdapter and the
// `adapters` option of generate/chat). An adapter is a small GGUF file (llama.cpp's adapter
// form) that personalises the loaded model without reloading it:
//
//   const persona = await lm.loadAdapter('adapters/persona.gguf', { publicKey, onProgress });
//   await lm.chat(messages, { adapters: [{ adapter: persona, scale: 1 }] });
//   await lm.chat(messages);                     // the base model again
//   await lm.unloadAdapter(persona);
//
// Adapter files are stored in IndexedDB like models (model-store.js; database "tinylm-adapters",
// so model lists stay models), checked like them (the manifest beside the file, its signature,
// a sha256, or the first download: trusted-file.js), and read from there on the next visit. The Worker side is
// adapter-worker.js.

import { ModelStore } from './model-store.js';
import { checkOptions, ADAPTER_LOAD_OPTIONS } from './protocol.js';
import { trustOptions } from './trusted-file.js';

/** The adapter store: list(), delete(id), has(url), usage() as for models. */
export const adapterStore = new ModelStore({ dbName: 'tinylm-adapters' });

function namedError(name, message) {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** A LoRA adapter loaded in the TinyLM Worker (lm.loadAdapter); pass it in `adapters` options. */
export class AdapterHandle {
  constructor({ id, size, sha256, downloaded, refetched = false, verified = false, verification = null, version = null, update = null, info }) {
    /** The store id: the file's absolute URL, or a name for a picked File. */
    this.id = id;
    this.size = size;
    this.sha256 = sha256;
    /** Whether loading it downloaded it (false: it came from IndexedDB). */
    this.downloaded = downloaded;
    /** Whether a corrupt stored chunk was fetched again. */
    this.refetched = refetched;
    /** What the file was checked against, as for models: {source, reason} (verified: false for trust on first use). */
    this.verified = verified;
    this.verification = verification;
    /** The manifest's version, and a newer one published beside it ({version, size, bytes}) or null. */
    this.version = version;
    this.update = update;
    /** {architecture, name, alpha, matrices, maxRank, weightBytes} */
    this.info = info;
  }
}

/**
 * Loads an adapter (a URL, downloaded once into IndexedDB; a File/Blob, stored too unless
 * `store: false`; or the id of a stored file, from adapterStore.list()) for the model `request` goes to (`request(type, payload, {signal, onEvent})`,
 * tinylm.js's Worker request). Rejects with NotAnAdapterError, AdapterArchitectureError,
 * AdapterTensorError, AdapterShapeError, AdapterRankError, IntegrityError, NetworkError or
 * InvalidStateError (no model loaded); the model stays loaded either way.
 */
export async function loadAdapter(request, source, options = {}) {
  checkOptions(options ?? {}, ADAPTER_LOAD_OPTIONS, 'loadAdapter()');
  const { onProgress = null, signal = null, store = true, ...trust } = options ?? {};
  if (typeof source !== 'string' && !(source instanceof URL) && !(source instanceof Blob)) {
    throw namedError('InvalidArgumentError', 'loadAdapter() takes a URL or a File/Blob');
  }
  // A 'file:…' store id (adapterStore.list()) names a picked file stored earlier.
  const resolved = source instanceof Blob || String(source).startsWith('file:') ? source : new URL(String(source), location.href).href;
  const loaded = await request('adapterLoad', { source: resolved, options: { ...trustOptions(trust), store } },
    { signal, onEvent: (event) => event.type === 'progress' && onProgress?.(event) });
  return new AdapterHandle(loaded);
}

/** Frees an adapter in the Worker (its stored file stays: adapterStore.delete(handle.id) removes it). */
export function unloadAdapter(request, adapter) {
  if (!(adapter instanceof AdapterHandle)) return Promise.reject(namedError('InvalidArgumentError', 'unloadAdapter() takes a handle from loadAdapter()'));
  return request('adapterUnload', { adapter: adapter.id });
}

/** The `adapters` option ([{adapter, scale}]) as the Worker takes it: [{id, scale}]. */
export function adapterList(adapters) {
  if (adapters === undefined || adapters === null) return [];
  if (!Array.isArray(adapters)) throw namedError('InvalidArgumentError', 'adapters must be an array of {adapter, scale}');
  return adapters.map((item, i) => {
    if (!(item?.adapter instanceof AdapterHandle)) throw namedError('InvalidArgumentError', `adapters[${i}].adapter is not a handle from loadAdapter()`);
    const scale = item.scale ?? 1;
    if (typeof scale !== 'number' || !Number.isFinite(scale)) throw namedError('InvalidArgumentError', `adapters[${i}].scale must be a finite number`);
    return { id: item.adapter.id, scale };
  });
}
