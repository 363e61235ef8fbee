// TinyLM's public browser API: one import, no build step.
//
//   import { TinyLM } from './tinylm.js';
//   const lm = await TinyLM.load('models/SmolLM2-135M-Instruct.Q4_1.gguf', {
//     onProgress: ({ phase, done, total }) => …,       // phase: 'download' | 'verify' | 'load'
//   });
//   const { text } = await lm.chat([{ role: 'user', content: 'Hi!' }], { onToken: (t) => … });
//   for await (const { text } of lm.stream('Once upon a time')) …;
//   await lm.chat.completions.create({ messages, stream: true })    // OpenAI's shapes (openai.js)
//
// The engine runs in a dedicated Web Worker (worker.js), or with sharedEngine in a SharedWorker
// the site's tabs share (shared-engine.js); weights are stored once in IndexedDB
// (model-store.js). Every failure rejects with an Error whose `name` says what happened:
// NetworkError, IntegrityError, QuotaExceededError, InvalidModelError, UnsupportedModelError,
// ContextOverflowError, AbortError, OutOfMemoryError, InvalidArgumentError, InvalidStateError,
// TemplateError, GrammarError, WorkerError; for LoRA adapters (loadAdapter) NotAnAdapterError,
// AdapterArchitectureError, AdapterTensorError, AdapterShapeError, AdapterRankError. Options are
// checked (protocol.js): an unknown one is an InvalidArgumentError naming the closest valid
// option. Types: tinylm.d.ts.

import { ModelStore, formatBytes } from './model-store.js';
import { checkForUpdate, applyUpdate } from './model-updates.js';
import { Embedder } from './embedder.js';
import { trustOptions } from './trusted-file.js';
import { AdapterHandle, adapterStore, adapterList, loadAdapter, unloadAdapter } from './adapters.js';
import { SharedEngineConnection, wantsSharedEngine } from './shared-engine-client.js';

import { OpenAICompatible, openAIError } from './openai.js';
import {
  namedError, abortError, deserializeError, checkOptions, pickOptions,
  GENERATION_OPTIONS, CHAT_OPTIONS, GENERATE_CALL_OPTIONS, CHAT_CALL_OPTIONS, CONSTRUCTOR_OPTIONS, LOAD_OPTIONS,
  EMBEDDER_LOAD_OPTIONS,
} from './protocol.js';

export { formatBytes, Embedder, AdapterHandle, adapterStore, OpenAICompatible, openAIError };

/** The weight store, usable without loading anything: list(), delete(id), usage(), persist(), has(url). */
export const modelStore = new ModelStore();

export class TinyLM {
  /** Creates a TinyLM and loads `source` (see load()). */
  static async load(source, options = {}) {
    checkOptions(options, { ...CONSTRUCTOR_OPTIONS, ...LOAD_OPTIONS }, 'TinyLM.load()');
    const lm = new TinyLM(pickOptions(options, CONSTRUCTOR_OPTIONS));
    try {
      await lm.load(source, pickOptions(options, LOAD_OPTIONS));
    } catch (error) {
      lm.terminate();
      throw error;
    }
    return lm;
  }

  /** The weight store (same object as the `modelStore` export). */
  static get store() { return modelStore; }

  /** Whether a newer version of a stored model is published (its manifest): {available, stored,
   *  latest, bytes} — bytes: what update() downloads. Options: publicKey, manifest, manifestURL. */
  static checkForUpdate(url, options = {}) { return checkForUpdate(modelStore, url, options); }

  /** Downloads only the changed chunks of a stored model's new version and switches to it once
   *  complete and checked (the stored version serves until then; an interrupted update resumes).
   *  Resolves {updated, version, sha256, downloadedBytes}. Options: onProgress, signal, publicKey. */
  static update(url, options = {}) { return applyUpdate(modelStore, url, options); }

  /**
   * A sentence-embedding model (e.g. all-MiniLM-L6-v2) in a Worker of its own: resolves an
   * Embedder (embedder.js). `options`: the constructor's (workerURL, wasmURL, threads, …) and
   * loadEmbedder's. To share one Worker with a chat model, call lm.loadEmbedder instead.
   */
  static async loadEmbedder(source, options = {}) {
    checkOptions(options, { ...CONSTRUCTOR_OPTIONS, ...EMBEDDER_LOAD_OPTIONS }, 'TinyLM.loadEmbedder()');
    const lm = new TinyLM(pickOptions(options, CONSTRUCTOR_OPTIONS));
    try {
      return await lm.#loadEmbedder(source, pickOptions(options, EMBEDDER_LOAD_OPTIONS), lm);
    } catch (error) {
      lm.terminate();
      throw error;
    }
  }

  /**
   * Loads a sentence-embedding model into this TinyLM's Worker (beside a chat model, if any):
   * downloaded once into IndexedDB and checked like models. Options: onProgress, signal, store,
   * and load()'s sha256, manifest, manifestURL, publicKey, revalidateInterval; the Embedder's
   * `loaded` says {verified, verification, version, update} as load() does.
   * A chat model passed here fails with WrongModelKindError (and an embedder passed to load()).
   */
  async loadEmbedder(source, options = {}) {
    checkOptions(options, EMBEDDER_LOAD_OPTIONS, 'loadEmbedder()');
    this.embedder = await this.#loadEmbedder(source, options, null);
    return this.embedder;
  }

  async #loadEmbedder(source, { onProgress = null, signal = null, store = true, ...trust }, owner) {
    if (typeof source !== 'string' && !(source instanceof URL) && !(source instanceof Blob)) {
      throw namedError('InvalidArgumentError', 'loadEmbedder() takes a URL or a File/Blob');
    }
    const resolved = source instanceof Blob ? source : new URL(String(source), location.href).href;
    const loaded = await this.#request('embedderLoad', {
      source: resolved,
      options: { ...trustOptions(trust), store, wasmURL: this.wasmURL, threadedWasmURL: this.threadedWasmURL, threads: this.threads,
        adaptiveThreads: this.adaptiveThreads, relaxedSimd: this.relaxedSimd },
    }, { signal, onEvent: (event) => event.type === 'progress' && onProgress?.(event) });
    return new Embedder((type, payload, options) => this.#request(type, payload, options), loaded, owner);
  }

  /**
   * Starts the worker. Options: workerURL (default: worker.js beside this file), wasmURL
   * (default: tinylm.wasm beside engine.js), threadedWasmURL (default: tinylm-mt.wasm beside
   * the wasm), threads: how many threads run the model (default: min(4, CPU cores)). More than
   * one thread needs cross-origin isolation (COOP/COEP headers, or coi-serviceworker.js); without
   * it, or if the threaded module fails to start, the single-thread module runs.
   * `loaded.threads` tells how many threads run, `loaded.threadsError` why not more (null only
   * when you asked for one). adaptiveThreads
   * (default true): decode steps run on one thread while that is faster (when other programs
   * keep the CPUs busy); false always splits the work. relaxedSimd (default true): where the
   * browser runs relaxed SIMD, the relaxed build of the module (tinylm-relaxed.wasm,
   * tinylm-mt-relaxed.wasm beside the plain ones) runs: same results, faster kernels.
   * `loaded.simd` tells which build runs. sharedEngine: the tabs of the site that load the same
   * model share one engine in a SharedWorker (shared-engine.js: one download, one copy in
   * memory, requests taken from the tabs in turn); false: a dedicated Worker for this TinyLM.
   * Default: shared unless the page is cross-origin isolated (a SharedWorker runs one thread).
   */
  constructor(options = {}) {
    checkOptions(options, CONSTRUCTOR_OPTIONS, 'new TinyLM()');
    const { workerURL = new URL('./worker.js', import.meta.url), wasmURL = null, threadedWasmURL = null, threads = null,
      adaptiveThreads = true, relaxedSimd = true } = options ?? {};
    this.wasmURL = wasmURL ? new URL(wasmURL, location.href).href : null;
    this.threadedWasmURL = threadedWasmURL ? new URL(threadedWasmURL, location.href).href : null;
    this.threads = threads;
    this.adaptiveThreads = adaptiveThreads;
    this.relaxedSimd = relaxedSimd;
    this.worker = wantsSharedEngine(options ?? {})
      ? new SharedEngineConnection(new URL('./shared-engine.js', import.meta.url))
      : new Worker(workerURL, { type: 'module', name: 'tinylm' });
    this.pending = new Map(); // request id → {resolve, reject, onEvent}
    this.nextID = 1;
    this.loaded = null; // the result of the last load(): {id, size, sha256, info, contextLength, …}
    this.embedder = null; // the Embedder of the last lm.loadEmbedder() (lm.embeddings.create uses it)
    // The OpenAI-compatible calls (openai.js): lm.chat.completions.create, lm.completions.create,
    // lm.embeddings.create, lm.models.list; lm.chat stays TinyLM's own chat() as well.
    const openAI = new OpenAICompatible(this);
    this.chat = Object.assign(TinyLM.prototype.chat.bind(this), { completions: openAI.chat.completions });
    this.completions = openAI.completions;
    this.embeddings = openAI.embeddings;
    this.models = openAI.models;
    this.worker.onmessage = ({ data }) => this.#receive(data);
    this.worker.onerror = (event) => {
      event.preventDefault?.();
      const error = namedError('WorkerError', `the TinyLM worker failed: ${event.message || 'could not start (check worker.js and its imports)'}`);
      for (const { reject } of this.pending.values()) reject(error);
      this.pending.clear();
    };
  }

  /** The loaded model's metadata ({name, architecture, vocabularySize, trainedContextLength, …}) or null. */
  get info() { return this.loaded?.info ?? null; }

  /**
   * Loads a model: `source` is a URL (downloaded once into IndexedDB, resumed if interrupted)
   * or a File/Blob the user picked (stored too unless `store: false`). Options:
   *   onProgress({phase: 'download'|'verify'|'load', done, total})   bytes (load: 0..1)
   *   signal        AbortSignal
   *   sha256        expected hex SHA-256 of the file, enforced (IntegrityError)
   *   manifest      the file's manifest (text or object; else url + '.manifest.json' is fetched,
   *                 or manifestURL; false: none): every chunk is checked against it (model-trust.js)
   *   publicKey     Ed25519 key the manifest must be signed with (SignatureError otherwise)
   *   revalidateInterval  ms between fetches of a stored model's manifest (default 1 hour)
   *   contextLength tokens of context (default min(2048, the model's trained length))
   * Resolves {id, size, sha256, downloaded, verified, verification: {source, reason}, version,
   * update: {version, size, bytes} | null, info, sampling, contextLength, threads, threadsError, simd}
   * (simd: 'relaxed-simd' or 'simd128', the build of the module that runs; sampling: the model's
   * recommended {temperature, topK, topP, minP, repeatPenalty, source}, which generate() and chat()
   * use for the settings a call leaves out, or null when the engine does not know one).
   */
  async load(source, options = {}) {
    checkOptions(options, LOAD_OPTIONS, 'load()');
    const { onProgress = null, signal = null, sha256 = null, contextLength = undefined, store = true,
      manifest = null, manifestURL = null, publicKey = null, revalidateInterval = undefined } = options ?? {};
    if (typeof source !== 'string' && !(source instanceof URL) && !(source instanceof Blob)) {
      throw namedError('InvalidArgumentError', 'load() takes a URL or a File/Blob');
    }
    const resolved = source instanceof Blob ? source : new URL(String(source), location.href).href;
    this.loaded = null;
    this.loaded = await this.#request('load', {
      source: resolved,
      options: { sha256, manifest, manifestURL, publicKey, revalidateInterval, contextLength, store, wasmURL: this.wasmURL, threadedWasmURL: this.threadedWasmURL, threads: this.threads,
        adaptiveThreads: this.adaptiveThreads, relaxedSimd: this.relaxedSimd, isolationAdvice: isolationAdvice() },
    }, { signal, onEvent: (event) => event.type === 'progress' && onProgress?.(event) });
    return this.loaded;
  }

  /**
   * Loads a LoRA adapter for the loaded model (adapters.js): a URL (downloaded once into
   * IndexedDB) or a File/Blob, checked like a model: options sha256, manifest, manifestURL,
   * publicKey, revalidateInterval (as for load()), onProgress, signal, store. Resolves a handle
   * for generate()/chat()'s `adapters` option; rejects with NotAnAdapterError,
   * AdapterArchitectureError, AdapterTensorError, AdapterShapeError or AdapterRankError when
   * the file does not fit the model (which stays loaded).
   */
  loadAdapter(source, options = {}) {
    return loadAdapter((type, payload, more) => this.#request(type, payload, more), source, options);
  }

  /** Frees an adapter in the Worker; its stored file stays (adapterStore.delete(adapter.id)). */
  unloadAdapter(adapter) {
    return unloadAdapter((type, payload, more) => this.#request(type, payload, more), adapter);
  }

  /**
   * Generates a continuation of `prompt` (a string, or an array of token ids used as is).
   * Options: temperature, topK, topP, minP, repeatPenalty (left out: the model's recommended
   * value, `loaded.sampling`), repeatWindow, seed (left out: a random one, so answers vary; the
   * result says which), maxTokens (default: the rest of the context), stop (strings), ignoreEOS,
   * responseFormat ({type: 'json_schema', schema} | {type: 'json_object'}) or grammar (GBNF),
   * signal (AbortSignal), onToken(text, tokenID), adapters ([{adapter, scale}]: LoRA adapters
   * from loadAdapter() applied to this request, scale default 1; left out: the base model).
   * Resolves {text, tokens, reason: 'eog'|'stop'|'length'|'context'|'grammar', sampling, usage, timings}
   * (sampling: the settings used, seed included; usage.reusedTokens: prompt tokens the KV cache already held).
   */
  generate(prompt, options = {}) {
    try {
      checkOptions(options, GENERATE_CALL_OPTIONS, 'generate()');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#generate({ prompt: Array.isArray(prompt) || ArrayBuffer.isView(prompt) ? Array.from(prompt) : prompt }, options);
  }

  /**
   * Answers a conversation `messages` ([{role: 'system'|'user'|'assistant', content}]),
   * formatted with the model's own chat template. Same options as generate(), plus
   * template (custom Jinja source), tools (function list, OpenAI's shape) with toolChoice
   * ('auto', the default: the model answers in text or calls a tool, `toolCalls`; 'required':
   * it must call one; {type: 'function', function: {name}}: that one; 'none': as without tools),
   * and continue: true (the last message is an assistant answer cut short, e.g. by maxTokens:
   * the model goes on with it instead of starting a new one). Send each turn's answer back as
   * it came (result.text): then the next turn reuses the whole KV cache and only the new
   * message is evaluated.
   * knowledge (a KnowledgeBase) with k: answers from its passages, resolving with `sources`.
   */
  chat(messages, options = {}) {
    try {
      checkOptions(options, CHAT_CALL_OPTIONS, 'chat()');
    } catch (error) {
      return Promise.reject(error);
    }
    if (options.knowledge) return this.#groundedChat(messages, options);
    return this.#generate({ messages, chatOptions: chatOptions(options) }, options);
  }

  /**
   * chat() with `knowledge` (a KnowledgeBase, knowledge-base.js): the last user message is
   * searched (`k` passages, default 3), the passages go into that message in the layout of
   * Sources/TinyLM/Knowledge/GroundedPrompt.swift (the one `tinylm chat --knowledge` uses),
   * and the result has `sources`: [{documentId, title, url, heading, text, score, chunk}].
   */
  async #groundedChat(messages, { knowledge, k = 3, ...options }) {
    const question = [...messages].reverse().find((m) => m.role === 'user')?.content;
    const sources = typeof question === 'string' ? await knowledge.search(question, { k }) : [];
    const grounded = await this.#request('groundMessages', { messages, passages: sources });
    const result = await this.#generate({ messages: grounded, chatOptions: chatOptions(options) }, options);
    return { ...result, sources };
  }

  /** generate() as an async iterator of {text, token} pieces; breaking out of the loop stops generation. */
  stream(prompt, options = {}) {
    return this.#stream((more) => this.generate(prompt, more), options);
  }

  /** chat() as an async iterator of {text, token} pieces (with tools also {content, toolCalls}:
   *  the piece's answer text, and the call's OpenAI stream deltas while the model writes one). */
  streamChat(messages, options = {}) {
    return this.#stream((more) => this.chat(messages, more), options);
  }

  /** Number of tokens of a text (with BOS as generate() adds it) or of a conversation's prompt. */
  countTokens(input, options = {}) {
    try {
      checkOptions(options, CHAT_OPTIONS, 'countTokens()');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#request('countTokens', typeof input === 'string'
      ? { prompt: input }
      : { messages: input, chatOptions: chatOptions(options) });
  }

  /** Token ids of `text`. */
  tokenize(text, { addSpecial = false } = {}) { return this.#request('tokenize', { text, addSpecial }); }

  detokenize(ids) { return this.#request('detokenize', { ids: Array.from(ids) }); }

  /**
   * Saves the conversation the last chat() answered (its KV cache: session-snapshots.js) in
   * IndexedDB, replacing the snapshot of its previous turn. Resolves {saved: true, key, bytes,
   * tokens, ms} or {saved: false, reason} when there is nothing to save.
   */
  saveSession() { return this.#request('saveSession', {}); }

  /**
   * Reopens a conversation saved with saveSession(): `messages` as the page keeps them (ending
   * with the last answer, sent back unchanged), options as for chat() (template). The next
   * chat() then evaluates only the new message. Resolves {restored: true, tokens, bytes, ms,
   * alreadyCached} or {restored: false, reason} (no snapshot, or a stale or mismatched one,
   * which is deleted): the conversation then simply runs without the cache.
   */
  restoreSession(messages, options = {}) {
    try {
      checkOptions(options, CHAT_OPTIONS, 'restoreSession()');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#request('restoreSession', { messages, chatOptions: chatOptions(options) });
  }

  /** The prompt text the chat template renders for `messages`. */
  formatChat(messages, options = {}) {
    try {
      checkOptions(options, CHAT_OPTIONS, 'formatChat()');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#request('formatChat', { messages, chatOptions: chatOptions(options) });
  }

  /** {loaded, id, size, info, contextLength, memoryBytes, threads, threadsError, simd, threadSections,
   *  crossOriginIsolated} from the worker (threadSections: {parallel, serial} counts of the
   *  kernel sections run so far, threaded engines only). */
  status() { return this.#request('status', {}); }

  /** Frees the model (the worker and the stored weights stay). A generation or load in
   *  progress stops at once (its promise rejects with AbortError). */
  async unload() {
    await this.#request('unload', {});
    this.loaded = null;
  }

  /** Stops the worker at once, generation included; this object is unusable afterwards. */
  terminate() {
    this.worker.terminate();
    const error = namedError('AbortError', 'TinyLM was terminated');
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }

  /** Test-only switches inside the worker, e.g. ('failWrites', 'QuotaExceededError'). */
  testHook(hook, value) { return this.#request('test', { hook, value }); }

  // --- plumbing ---------------------------------------------------------------------------

  #generate(request, options) {
    const { signal = null, onToken = null } = options;
    let adapters;
    try { adapters = adapterList(options.adapters); } catch (error) { return Promise.reject(error); }
    return this.#request('generate', { ...request, options: pickOptions(options, GENERATION_OPTIONS), adapters }, {
      signal,
      onEvent: (event) => event.type === 'token' && onToken?.(event.text, event.token, event),
    });
  }

  #stream(start, options) {
    const queue = [];
    let wake = null;
    let finished = false;
    let failure = null;
    const controller = new AbortController();
    const outer = options.signal;
    const forward = () => controller.abort(outer.reason);
    outer?.addEventListener('abort', forward, { once: true });
    if (outer?.aborted) forward();
    const result = start({
      ...options,
      signal: controller.signal,
      onToken: (text, token, event) => {
        options.onToken?.(text, token, event);
        // With tools: also the piece's `content` and the call's `toolCalls` deltas (worker.js).
        queue.push('content' in event ? { text, token, content: event.content, toolCalls: event.toolCalls ?? null } : { text, token });
        wake?.();
      },
    });
    result.then(() => { finished = true; }, (error) => { finished = true; failure = error; })
      .finally(() => { outer?.removeEventListener('abort', forward); wake?.(); });
    return {
      /** The final {text, tokens, reason, usage, timings}, once the iteration ends. */
      result,
      [Symbol.asyncIterator]() { return this; },
      async next() {
        for (;;) {
          if (queue.length) return { value: queue.shift(), done: false };
          if (failure) throw failure;
          if (finished) return { value: undefined, done: true };
          await new Promise((resolve) => { wake = resolve; });
          wake = null;
        }
      },
      async return() {
        if (!finished) controller.abort(namedError('AbortError', 'the stream was closed'));
        await result.catch(() => {});
        return { value: undefined, done: true };
      },
    };
  }

  #request(type, payload, { signal = null, onEvent = null } = {}) {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const id = this.nextID++;
    return new Promise((resolve, reject) => {
      const onAbort = () => this.worker.postMessage({ type: 'abort', id });
      signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        resolve: (value) => { cleanup(); resolve(value); },
        reject: (error) => { cleanup(); reject(error); },
        onEvent,
      });
      this.worker.postMessage({ id, type, ...payload });
    });
  }

  #receive(data) {
    const entry = this.pending.get(data.id);
    if (!entry) return;
    if (data.type === 'result') {
      this.pending.delete(data.id);
      entry.resolve(data.value);
    } else if (data.type === 'error') {
      this.pending.delete(data.id);
      entry.reject(deserializeError(data.error));
    } else {
      entry.onEvent?.(data);
    }
  }
}

function chatOptions({ template = null, tools = null, toolChoice = null, addGenerationPrompt = true, continue: continuing = false }) {
  const options = { addGenerationPrompt };
  if (template) options.template = template;
  if (tools) options.tools = tools;
  if (toolChoice) options.toolChoice = toolChoice;
  if (continuing) options.continue = true;
  return options;
}

/**
 * Why this page is not cross-origin isolated and what fixes it, as far as the page can tell
 * (the worker cannot see the page's scripts); null when it is isolated.
 */
function isolationAdvice() {
  if (typeof window === 'undefined' || window.crossOriginIsolated) return null;
  const howTo = 'serve the page with the headers Cross-Origin-Opener-Policy: same-origin and ' +
    'Cross-Origin-Embedder-Policy: require-corp, or copy coi-serviceworker.js to the page\'s folder or the site root ' +
    'and load it as the page\'s first script; see web/README.md';
  if (!window.isSecureContext) return `the page is not a secure context (HTTPS or localhost), which isolation needs; then ${howTo}`;
  const script = [...document.scripts].find((element) => /\/coi-serviceworker\.js([?#]|$)/.test(element.src));
  if (!script) return howTo;
  const folder = new URL('./', script.src);
  if (folder.origin !== location.origin || !location.pathname.startsWith(folder.pathname)) {
    return `coi-serviceworker.js is loaded from ${folder.pathname}, and a service worker there can only isolate pages ` +
      `under ${folder.pathname}: copy it to this page's folder or the site root and load it from there`;
  }
  if (!('serviceWorker' in navigator)) return 'this browser offers no service workers here (a private window?), so coi-serviceworker.js cannot isolate the page; send the headers instead';
  if (!navigator.serviceWorker.controller) return 'coi-serviceworker.js does not control the page yet (it reloads the page once on the first visit)';
  return 'coi-serviceworker.js controls the page, yet the browser did not isolate it';
}
