// The page's side of a shared engine (shared-engine.js): an object with a dedicated Worker's
// postMessage / onmessage / onerror / terminate, so tinylm.js talks to either the same way.
//
// Which SharedWorker: one per model and load options, named after them, so tabs loading the
// same model with the same options share one engine (one download, one copy in memory) and a
// tab loading another model gets another engine. Requests before the first load go to an
// engine without a model ('tinylm'); a load of another model moves this page to that model's
// engine (the old one is told goodbye and frees the model if no other tab uses it). A picked
// File/Blob, or a publicKey given as a CryptoKey, cannot be named, so such a load gets an
// engine of its own.
//
// The tab holds a Web Lock for as long as it lives and tells the engine its name: the engine
// asks for the same lock, which it gets once the tab is gone (closed, crashed, navigated away),
// since a MessagePort says nothing when its other end goes away. A page the browser keeps in
// its back/forward cache still holds the lock, so on pagehide the page says goodbye itself
// (its requests stop; the model is freed if no other tab uses it); back from the cache, its
// next request connects again and first loads its model again (from IndexedDB). (WebKit drops
// the messages of a SharedWorker connected during pageshow, so the page waits for a request.)

import { Sha256 } from './sha256.js';

/** Whether this browser runs SharedWorkers (Chrome for Android, for one, does not). */
export function sharedWorkersAvailable() {
  return typeof SharedWorker !== 'undefined';
}

export class SharedEngineConnection {
  /** `scriptURL`: shared-engine.js. */
  constructor(scriptURL) {
    this.scriptURL = scriptURL;
    this.onmessage = null;
    this.onerror = null;
    this.port = null;
    this.name = null;
    this.tab = `tinylm-tab-${randomHex(16)}`;
    this.releaseLock = null;
    this.terminated = false;
    this.lastLoad = null; // the last load request, sent again after a return from the back/forward cache
    this.suspended = null; // the engine's name while the page sits in the back/forward cache (null: it does not)
    this.onPageHide = () => {
      if (!this.port) return;
      this.suspended = this.name;
      this.#disconnect(false);
      // WebKit releases a cached page's locks, Chromium keeps them: let go here, hold a new one on return.
      this.releaseLock?.();
      this.releaseLock = null;
    };
    globalThis.addEventListener?.('pagehide', this.onPageHide);
    // Every message waits for the lock (the engine must not see a tab before the tab holds it)
    // and for the ones before it, so they arrive in order.
    this.sending = holdLock(this.tab).then((release) => { this.releaseLock = release; });
  }

  postMessage(message) {
    this.sending = this.sending.then(async () => {
      if (this.terminated) return;
      if (message.type === 'load') this.lastLoad = message;
      if (message.type === 'unload') this.lastLoad = null;
      const resuming = this.suspended; // back from the back/forward cache: that engine again
      this.suspended = null;
      if (resuming !== null) {
        this.tab = `tinylm-tab-${randomHex(16)}`;
        this.releaseLock = await holdLock(this.tab);
      }
      const name = message.type === 'load' ? engineName(message, this.tab) : (this.name ?? resuming ?? 'tinylm');
      if (name !== this.name) {
        this.#connect(name);
        // Id 0 is no request of tinylm.js (its answer is dropped): the model is back for this request.
        if (name === resuming && this.lastLoad && message.type !== 'load') this.port.postMessage({ ...this.lastLoad, id: 0 });
      }
      this.port.postMessage(message);
    });
  }

  /** Lets go of the engine (it frees what only this page used); the Worker-like object is done. */
  terminate() {
    this.terminated = true;
    globalThis.removeEventListener?.('pagehide', this.onPageHide);
    this.#disconnect(true);
    this.sending.then(() => this.releaseLock?.());
  }

  #connect(name) {
    this.#disconnect(false);
    const worker = new SharedWorker(this.scriptURL, { type: 'module', name });
    worker.onerror = (event) => this.onerror?.(event);
    const port = worker.port;
    port.onmessage = (event) => this.onmessage?.(event);
    port.postMessage({ type: 'hello', tab: this.tab });
    this.port = port;
    this.name = name;
  }

  /** Says goodbye to the current engine. Its answers to requests still open (AbortErrors) come
   *  in until it acknowledges, unless `now`. */
  #disconnect(now) {
    const port = this.port;
    if (!port) return;
    this.port = null;
    this.name = null;
    port.postMessage({ type: 'goodbye' });
    if (now) {
      port.close();
      return;
    }
    port.onmessage = (event) => {
      if (event.data?.type === 'goodbye') port.close();
      else this.onmessage?.(event);
    };
  }
}

/** The SharedWorker name for a load request: the model URL and a hash of the options that
 *  change what the engine holds or checks (context length, expected hash, manifest, key,
 *  modules, threads, …). */
function engineName({ source, options = {} }, tab) {
  const { isolationAdvice: _advice, ...rest } = options;
  if (typeof source !== 'string' || (rest.publicKey != null && typeof rest.publicKey !== 'string')) return `tinylm private ${tab}`;
  const hash = new Sha256().update(new TextEncoder().encode(JSON.stringify(rest))).hex();
  return `tinylm ${source} ${hash.slice(0, 16)}`;
}

/** Takes the Web Lock `name` and keeps it until the returned function is called (null when the
 *  browser has no Web Locks: the engine then learns of a closed tab only from goodbye). */
async function holdLock(name) {
  if (!navigator.locks) return null;
  return new Promise((granted) => {
    navigator.locks.request(name, () => new Promise((release) => granted(release)));
  });
}

function randomHex(bytes) {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Whether a TinyLM runs on a shared engine: `sharedEngine` true or false when the page says
 * (true falls back to a dedicated Worker where there are no SharedWorkers); left out, shared
 * where that costs no speed. A SharedWorker is never cross-origin isolated and cannot start
 * Workers in Chromium and WebKit (no threads there; Firefox starts them, but without shared
 * memory), so it runs one thread: on a cross-origin isolated page that would run several,
 * the default stays a dedicated Worker per tab (DESIGN.md has the figures). A custom
 * `workerURL` means a dedicated Worker too.
 */
export function wantsSharedEngine({ sharedEngine = null, workerURL = null, threads = null }) {
  if (!sharedWorkersAvailable()) return false;
  if (sharedEngine !== null) return sharedEngine;
  if (workerURL !== null) return false;
  return !globalThis.crossOriginIsolated || threads === 1;
}
