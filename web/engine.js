// The TinyLM engine: instantiates the wasm module and wraps its C ABI (documented in
// Sources/TinyLMWasm/Exports.swift) in small JavaScript classes. Synchronous by nature — the
// wasm calls block — so pages run it inside a Worker (worker.js); Node uses it directly.
// Works unchanged in browsers, Workers and Node 20.

import { createWasiImports } from './wasi.js';
import { KernelThreads, threadsSupported, threadImports, createSharedMemory, TASKS_PER_THREAD } from './threads.js';
import { namedError } from './protocol.js';

export { namedError };

/** Error names by TinyLMError.Kind number (Sources/TinyLM/Support/TinyLMError.swift). */
export const ERROR_NAMES = {
  1: 'InvalidModelError',
  2: 'UnsupportedModelError',
  3: 'ContextOverflowError',
  4: 'InvalidArgumentError',
  5: 'TemplateError',
  6: 'GrammarError',
  7: 'OutOfMemoryError',
  8: 'WrongModelKindError',
  9: 'InvalidKnowledgeFileError',
  10: 'EmbedderMismatchError',
  11: 'InvalidManifestError',
  12: 'IntegrityError',
  16: 'NotAnAdapterError',
  17: 'AdapterArchitectureError',
  18: 'AdapterTensorError',
  19: 'AdapterShapeError',
  20: 'AdapterRankError',
  21: 'SnapshotMismatchError',
  22: 'InvalidSnapshotError',
};

/** Why generation ended ('grammar': a constrained output (JSON schema, grammar, tool call) is complete;
 *  'constraint_budget': complete because maxTokens or the context steered it to a short completion). */
export const FINISH_REASONS = { 1: 'eog', 2: 'stop', 3: 'length', 4: 'context', 5: 'grammar', 6: 'constraint_budget' };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function compile(source) {
  if (source instanceof WebAssembly.Module) return source;
  // (toString, not instanceof: a buffer from another realm, e.g. an iframe, is bytes too)
  if (ArrayBuffer.isView(source) || Object.prototype.toString.call(source) === '[object ArrayBuffer]') return WebAssembly.compile(source);
  if (typeof Response !== 'undefined' && source instanceof Response) {
    return WebAssembly.compileStreaming ? WebAssembly.compileStreaming(source) : WebAssembly.compile(await source.arrayBuffer());
  }
  const url = source instanceof URL ? source : new URL(source ?? './tinylm.wasm', import.meta.url);
  if (url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return WebAssembly.compile(await readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) throw namedError('NetworkError', `cannot fetch ${url}: HTTP ${response.status}`);
  const type = response.headers.get('content-type') || '';
  if (WebAssembly.compileStreaming && type.startsWith('application/wasm')) return WebAssembly.compileStreaming(response);
  return WebAssembly.compile(await response.arrayBuffer());
}

/**
 * The module named `suffix` beside `source` (threads: tinylm.wasm → tinylm-mt.wasm; relaxed
 * SIMD: tinylm.wasm → tinylm-relaxed.wasm, tinylm-mt.wasm → tinylm-mt-relaxed.wasm), or null
 * when `source` is not a URL.
 */
function sibling(source, suffix) {
  if (source === undefined || source === null) source = new URL('./tinylm.wasm', import.meta.url);
  if (typeof source !== 'string' && !(source instanceof URL)) return null;
  const url = new URL(String(source), typeof location !== 'undefined' ? location.href : import.meta.url);
  if (!/\.wasm$/.test(url.pathname)) return null;
  url.pathname = url.pathname.replace(/\.wasm$/, `${suffix}.wasm`);
  return url;
}

/**
 * A 68-byte module, (func (export "dot") (param i32 i32) (result i32)) returning lane 0 of
 * i32x4.relaxed_dot_i8x16_i7x16_add_s(i8x16.splat a, i8x16.splat b, 0).
 */
const RELAXED_DOT_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x03, 0x02,
  0x01, 0x00, 0x07, 0x07, 0x01, 0x03, 0x64, 0x6f, 0x74, 0x00, 0x00, 0x0a, 0x24, 0x01, 0x22, 0x00, 0x20, 0x00, 0xfd,
  0x0f, 0x20, 0x01, 0xfd, 0x0f, 0xfd, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0xfd, 0x93, 0x02, 0xfd, 0x1b, 0x00, 0x0b,
]);
let relaxedSimdAnswer = null;

/**
 * Whether this engine runs relaxed SIMD with the standard's results, so the relaxed modules
 * compute exactly what the baseline ones do. Validating is not enough: pre-standard
 * implementations (Node 20's --experimental-wasm-relaxed-simd) accept the opcodes but sum
 * eight products per lane instead of four.
 */
export function relaxedSimdSupported() {
  if (relaxedSimdAnswer === null) {
    try {
      const { dot } = new WebAssembly.Instance(new WebAssembly.Module(RELAXED_DOT_PROBE)).exports;
      relaxedSimdAnswer = dot(-3, 5) === -60 && dot(100, 15) === 6000;
    } catch {
      relaxedSimdAnswer = false;
    }
  }
  return relaxedSimdAnswer;
}

/**
 * Lets a relaxed-SIMD module find out whether f32x4.relaxed_madd is fused on this machine
 * (the kernels use it only then; the baseline modules answer 0). The inputs are passed in so
 * that the compiler cannot fold the probe: (1 + 2^-12)² − (1 + 2^-11) is 2^-24 only when fused.
 */
function probeFusedMultiplyAdd(abi) {
  abi.tinylm_probe_fused_madd(1 + 2 ** -12, -(1 + 2 ** -11));
}

/**
 * Why this context cannot run the shared-memory module (threadsSupported() is false): the three
 * cases need different fixes, so the message names the one that applies.
 */
export function threadsUnavailableReason(isolationAdvice = null) {
  const isolated = globalThis.crossOriginIsolated === true;
  if (typeof SharedArrayBuffer !== 'function' && isolated) {
    return 'SharedArrayBuffer is missing although the page is cross-origin isolated (this browser does not expose it, e.g. WebKitGTK)';
  }
  const browser = typeof self !== 'undefined' || typeof window !== 'undefined';
  if (!isolated && browser) {
    return `the page is not cross-origin isolated, so the browser withholds SharedArrayBuffer (${isolationAdvice ||
      'serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, ' +
      'or load coi-serviceworker.js from the page\'s folder or above; see web/README.md'})`;
  }
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is missing in this JavaScript engine';
  if (typeof Atomics !== 'object') return 'Atomics is missing in this JavaScript engine';
  return 'this context cannot start the helper workers (no Worker)';
}

export class Engine {
  /**
   * Loads the module. `source`: URL (default ./tinylm.wasm beside this file), bytes, Response or
   * Module. Options:
   *   threads         how many threads run the kernels (default 1). With more than one, and
   *                   where shared memory is available (Node; browsers when cross-origin
   *                   isolated), the shared-memory module is used with threads − 1 helper
   *                   workers; otherwise — or if it fails to start — the single-thread module.
   *                   `engine.threads` tells how many run, `engine.threadsError` why not more.
   *   threadedSource  the shared-memory module (default: tinylm-mt.wasm beside a URL `source`)
   *   relaxedSimd     true (default): where the engine runs relaxed SIMD (relaxedSimdSupported),
   *                   use the relaxed build of the chosen module (tinylm-relaxed.wasm beside
   *                   tinylm.wasm, tinylm-mt-relaxed.wasm beside tinylm-mt.wasm; same results,
   *                   faster kernels), falling back to the plain one if it cannot be loaded.
   *                   `engine.simd` says which runs: 'relaxed-simd' or 'simd128'.
   *   kernelWorkerURL the helper worker script (default: kernel-worker.js beside this file)
   *   adaptiveThreads true (default): decode steps run serially instead while that is faster
   *                   (other programs keep the CPUs busy; threads.js); false: always parallel
   *   log             receives the module's stdout/stderr lines
   *   isolationAdvice how to make this page cross-origin isolated (tinylm.js looks at the page),
   *                   added to threadsError when it is not
   */
  static async create(source, { log, threads = 1, threadedSource, kernelWorkerURL, adaptiveThreads = true, relaxedSimd = true,
    isolationAdvice = null } = {}) {
    const wanted = Math.max(1, Math.min(64, Math.floor(Number(threads)) || 1));
    const relaxed = relaxedSimd && relaxedSimdSupported();
    let threadsError = null;
    if (wanted > 1) {
      const threaded = threadedSource ?? sibling(source, '-mt');
      if (!threadsSupported()) threadsError = threadsUnavailableReason(isolationAdvice);
      else if (!threaded) threadsError = 'no threaded module: pass threadedSource';
      else {
        const start = async (url, simd) => {
          const engine = await Engine.#createThreaded(url, wanted, log, kernelWorkerURL);
          engine.kernelThreads.adaptive = adaptiveThreads;
          engine.simd = simd;
          return engine;
        };
        const threadedRelaxed = relaxed ? sibling(threaded, '-relaxed') : null;
        if (threadedRelaxed) {
          try { return await start(threadedRelaxed, 'relaxed-simd'); } catch { /* the plain module below */ }
        }
        try {
          return await start(threaded, 'simd128');
        } catch (error) {
          threadsError = `the threaded module failed to start: ${error?.message || error}`;
        }
      }
    }
    let module = null;
    let simd = 'simd128';
    const singleRelaxed = relaxed ? sibling(source, '-relaxed') : null;
    if (singleRelaxed) {
      try {
        module = await compile(singleRelaxed);
        simd = 'relaxed-simd';
      } catch { /* the plain module below */ }
    }
    module ??= await compile(source);
    let memory = null;
    const wasi = createWasiImports(() => memory, log ? { stdout: log, stderr: log } : {});
    const serial = (count) => { for (let i = 0; i < count; i++) instance.exports.tinylm_run_task(i); };
    const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi, tinylm: { parallel_for: serial } });
    memory = instance.exports.memory;
    instance.exports._initialize();
    probeFusedMultiplyAdd(instance.exports);
    const engine = new Engine(instance.exports, memory);
    engine.threadsError = threadsError;
    engine.simd = simd;
    return engine;
  }

  static async #createThreaded(source, count, log, kernelWorkerURL) {
    const module = await compile(source);
    const memory = createSharedMemory();
    let threads = null;
    const wasi = createWasiImports(() => memory, log ? { stdout: log, stderr: log } : {});
    const parallelFor = (n) => threads.parallelFor(n);
    const instance = await WebAssembly.instantiate(module, { ...threadImports(memory, parallelFor), wasi_snapshot_preview1: wasi });
    instance.exports._initialize();
    probeFusedMultiplyAdd(instance.exports);
    threads = await KernelThreads.start({ module, memory, abi: instance.exports, count, ...(kernelWorkerURL ? { workerURL: kernelWorkerURL } : {}) });
    const used = instance.exports.tinylm_set_threads(count, TASKS_PER_THREAD);
    const engine = new Engine(instance.exports, memory, threads);
    engine.threads = used;
    return engine;
  }

  constructor(exports, memory = exports.memory, kernelThreads = null) {
    this.abi = exports;
    this.memory = memory;
    this.kernelThreads = kernelThreads;
    /** How many threads run the kernels. */
    this.threads = 1;
    /** Why fewer threads than asked for run (null if none were refused). */
    this.threadsError = null;
    /** Which build of the module runs: 'relaxed-simd' or 'simd128' (Engine.create). */
    this.simd = 'simd128';
  }

  /** Stops the helper workers (threaded engines). The engine is unusable afterwards. */
  terminate() {
    this.kernelThreads?.terminate();
    this.kernelThreads = null;
  }

  /** Runs `body`, a wasm call that evaluates one token, as a timed decode step (threads.js). */
  decodeStep(body) {
    return this.kernelThreads ? this.kernelThreads.step(body) : body();
  }

  /** Current size of the module's linear memory in bytes. */
  get memoryBytes() { return this.memory.buffer.byteLength; }

  // --- low-level helpers ------------------------------------------------------------

  bytes() { return new Uint8Array(this.memory.buffer); }

  check(ok) {
    if (ok) return;
    const code = this.abi.tinylm_last_error_code();
    const pointer = this.abi.tinylm_last_error_message();
    const memory = this.bytes();
    let end = pointer;
    while (memory[end] !== 0) end++;
    const message = decoder.decode(memory.slice(pointer, end)); // a copy: TextDecoder refuses shared memory
    throw namedError(ERROR_NAMES[code] || 'TinyLMError', message);
  }

  result() {
    const pointer = this.abi.tinylm_result_pointer();
    const length = this.abi.tinylm_result_length();
    return this.bytes().slice(pointer, pointer + length);
  }

  resultText() { return decoder.decode(this.result()); }

  /** Copies `data` into freshly allocated wasm memory; the caller frees it. */
  withBytes(data, body) {
    const length = data.byteLength;
    const pointer = length > 0 ? this.abi.tinylm_alloc(length) : 0;
    if (length > 0 && !pointer) throw namedError('OutOfMemoryError', `cannot allocate ${length} bytes in wasm memory`);
    try {
      if (length > 0) this.bytes().set(data, pointer);
      return body(pointer, length);
    } finally {
      if (pointer) this.abi.tinylm_free(pointer);
    }
  }

  withIDs(ids, body) {
    const array = Int32Array.from(ids);
    return this.withBytes(new Uint8Array(array.buffer), (pointer) => body(pointer, array.length));
  }

  // --- models -------------------------------------------------------------------------

  /**
   * Reserves wasm memory for a GGUF file of `byteLength` bytes and returns an upload that
   * takes the file chunk by chunk, so a large file never exists twice in memory.
   */
  beginModelUpload(byteLength) {
    return this.#beginUpload(byteLength, 'model', (pointer) => {
      const handle = this.abi.tinylm_model_load(pointer, byteLength);
      return handle ? new Model(this, handle, pointer) : null;
    });
  }

  /**
   * Reserves `byteLength` bytes of wasm memory for a GGUF file of `kind` ('model',
   * 'embedder'): write() copies chunks in as they arrive, finish() parses it with `load`
   * (the bytes stay in place: zero copy; null means failed: the error is the engine's last),
   * cancel() releases the memory.
   */
  #beginUpload(byteLength, kind, load) {
    if (!(byteLength > 0)) throw namedError('InvalidModelError', 'empty file: not a GGUF model');
    const pointer = this.abi.tinylm_alloc(byteLength);
    if (!pointer) {
      throw namedError('OutOfMemoryError', `cannot reserve ${byteLength} bytes of wasm memory for the ${kind}`);
    }
    let finished = false;
    const engine = this;
    return {
      pointer,
      byteLength,
      /** Copies `chunk` (Uint8Array) to `offset` within the file. */
      write(chunk, offset) {
        if (offset < 0 || offset + chunk.byteLength > byteLength) {
          throw namedError('InvalidArgumentError', `chunk at ${offset} (+${chunk.byteLength}) is outside the ${byteLength}-byte ${kind}`);
        }
        engine.bytes().set(chunk, pointer + offset);
      },
      /** Parses the uploaded file; the weights stay where they are (zero copy). */
      finish() {
        finished = true;
        const loaded = load(pointer);
        if (!loaded) {
          engine.abi.tinylm_free(pointer);
          engine.check(false);
        }
        return loaded;
      },
      cancel() { if (!finished) { finished = true; engine.abi.tinylm_free(pointer); } },
    };
  }

  /** Loads a whole GGUF file held in one buffer (tests, Node). */
  loadModel(bytes) {
    const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    const upload = this.beginModelUpload(data.byteLength);
    upload.write(data, 0);
    return upload.finish();
  }

  /**
   * The tokenizer of a GGUF file alone: a full model or a vocabulary-only file (no tensors,
   * which loadModel refuses). The file's bytes are copied in and released right away.
   */
  loadTokenizer(bytes) {
    const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    const handle = this.withBytes(data, (pointer, length) => this.abi.tinylm_tokenizer_load(pointer, length));
    this.check(handle > 0);
    return new Tokenizer(this, handle);
  }

  // --- embeddings and knowledge (Embedder, KnowledgeIndex below) ------------------------

  /** Like beginModelUpload, for a sentence-embedding model (finish() gives an Embedder). */
  beginEmbedderUpload(byteLength) {
    return this.#beginUpload(byteLength, 'embedder', (pointer) => {
      const handle = this.abi.tinylm_embedder_load(pointer, byteLength);
      return handle ? new Embedder(this, handle, pointer) : null;
    });
  }

  /** Loads a whole embedding-model GGUF held in one buffer. */
  loadEmbedder(bytes) {
    const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    const upload = this.beginEmbedderUpload(data.byteLength);
    upload.write(data, 0);
    return upload.finish();
  }

  /**
   * The conversation with its last user message grounded in `passages` ([{title, url,
   * heading, text}]), in the layout of Sources/TinyLM/Knowledge/GroundedPrompt.swift (the one
   * `tinylm chat --knowledge` uses). Format it with Model.formatChat/chatTokens as usual.
   */
  groundMessages(messages, passages) {
    const length = this.withBytes(encoder.encode(JSON.stringify({ messages, passages })),
      (pointer, n) => this.abi.tinylm_grounded_messages(pointer, n));
    this.check(length >= 0);
    return JSON.parse(this.resultText());
  }
}

/** Vector forms of knowledge bases (the knowledge file's numbers). */
export const VECTOR_FORMS = { f32: 0, f16: 1, int8: 2 };
const POOLINGS = { model: 0, mean: 1, cls: 2, last: 3 };

/** A sentence-embedding model (all-MiniLM-L6-v2 and other BERT-family GGUF files). */
export class Embedder {
  constructor(engine, handle, pointer) {
    this.engine = engine;
    this.handle = handle;
    this.pointer = pointer;
    engine.check(engine.abi.tinylm_embedder_info(handle) >= 0);
    /** {name, architecture, dimensions, layerCount, headCount, contextLength, maxTokens, pooling, vocabularySize, fingerprint, …} */
    this.info = JSON.parse(engine.resultText());
  }

  get dimensions() { return this.info.dimensions; }

  /** Where texts are cut, in tokens ([CLS] and [SEP] included). */
  setMaxTokens(count) {
    this.engine.check(this.engine.abi.tinylm_embedder_set_max_tokens(this.handle, count) >= 0);
    this.info.maxTokens = count;
  }

  /** The ids `text` is embedded with ([CLS] … [SEP], cut at maxTokens), Int32Array. */
  tokenize(text) {
    const e = this.engine;
    const count = e.withBytes(encoder.encode(text), (pointer, length) => e.abi.tinylm_embedder_tokenize(this.handle, pointer, length));
    e.check(count >= 0);
    return new Int32Array(e.result().buffer, 0, count);
  }

  /**
   * Embeds `texts` (strings) in one call: { vectors: [Float32Array], tokenCounts: [n],
   * truncated: [bool] } — unit-length vectors, in order; `truncated` says which texts were
   * longer than the model takes and were cut. pooling: 'model' (default), 'mean', 'cls', 'last'.
   */
  embed(texts, { pooling = 'model' } = {}) {
    const e = this.engine;
    if (!(pooling in POOLINGS)) throw namedError('InvalidArgumentError', `pooling '${pooling}': model, mean, cls or last`);
    const encoded = texts.map((text) => {
      if (typeof text !== 'string') throw namedError('InvalidArgumentError', 'embed takes strings');
      return encoder.encode(text);
    });
    const all = new Uint8Array(encoded.reduce((n, b) => n + b.byteLength, 0));
    let offset = 0;
    for (const b of encoded) { all.set(b, offset); offset += b.byteLength; }
    const lengths = encoded.map((b) => b.byteLength);
    const count = e.withBytes(all, (textPointer, textLength) =>
      e.withIDs(lengths, (lengthPointer, n) => e.abi.tinylm_embed(this.handle, textPointer, textLength, lengthPointer, n, POOLINGS[pooling])));
    e.check(count >= 0);
    const bytes = e.result();
    const d = this.dimensions;
    const floats = new Float32Array(bytes.buffer, 0, count * d);
    const counts = new Int32Array(bytes.buffer, count * d * 4, 2 * count);
    const vectors = [];
    for (let i = 0; i < count; i++) vectors.push(floats.slice(i * d, (i + 1) * d));
    return {
      vectors,
      tokenCounts: Array.from(counts.subarray(0, count)),
      truncated: Array.from(counts.subarray(count), (full, i) => full > counts[i]),
    };
  }

  /** An empty knowledge base for this embedder's vectors ('int8', 'f16' or 'f32'). */
  createKnowledge({ vectorForm = 'int8' } = {}) {
    const e = this.engine;
    if (!(vectorForm in VECTOR_FORMS)) throw namedError('InvalidArgumentError', `vector form '${vectorForm}': int8, f16 or f32`);
    const handle = e.abi.tinylm_knowledge_create(this.handle, VECTOR_FORMS[vectorForm]);
    e.check(handle > 0);
    return new KnowledgeIndex(this, handle);
  }

  /**
   * A knowledge base read from a knowledge file (bytes). Throws InvalidKnowledgeFileError if
   * it is damaged and EmbedderMismatchError if another embedder built it. vectorForm: keep the
   * file's (null) or convert.
   */
  openKnowledge(bytes, { vectorForm = null } = {}) {
    const e = this.engine;
    const form = vectorForm === null ? -1 : VECTOR_FORMS[vectorForm];
    if (form === undefined) throw namedError('InvalidArgumentError', `vector form '${vectorForm}': int8, f16 or f32`);
    const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    const handle = e.withBytes(data, (pointer, length) => e.abi.tinylm_knowledge_open(this.handle, pointer, length, form));
    e.check(handle > 0);
    return new KnowledgeIndex(this, handle);
  }

  /**
   * Splits a document into chunks with this embedder's tokenizer: { document: {id, title, url,
   * sourceBytes}, chunks: [{heading, text}], embeddingTexts: [string] }. `source`: {id, title?,
   * url?, text, format: 'text'|'markdown'|'html', maxTokens?, overlapTokens?}.
   */
  prepareDocument(source) {
    const e = this.engine;
    const count = e.withBytes(encoder.encode(JSON.stringify(source)), (pointer, length) => e.abi.tinylm_knowledge_prepare(this.handle, pointer, length));
    e.check(count >= 0);
    return JSON.parse(e.resultText());
  }

  free() {
    if (!this.handle) return;
    this.engine.abi.tinylm_embedder_free(this.handle);
    this.engine.abi.tinylm_free(this.pointer);
    this.handle = 0;
  }
}

/** A knowledge base in wasm memory: documents, chunks, vectors, exact search. */
export class KnowledgeIndex {
  constructor(embedder, handle) {
    this.embedder = embedder;
    this.engine = embedder.engine;
    this.handle = handle;
  }

  /** {embedder: {name, fingerprint, dimensions, pooling}, vectorForm, chunks, documents: [{id, title, url, sourceBytes, chunks}]} */
  info() {
    this.engine.check(this.engine.abi.tinylm_knowledge_info(this.handle) >= 0);
    return JSON.parse(this.engine.resultText());
  }

  /** Adds a prepared document (Embedder.prepareDocument) with its chunks' vectors (Float32Array each). */
  add(prepared, vectors) {
    const e = this.engine;
    const d = this.embedder.dimensions;
    if (vectors.length !== prepared.chunks.length) throw namedError('InvalidArgumentError', `${prepared.chunks.length} chunks but ${vectors.length} vectors`);
    const flat = new Float32Array(vectors.length * d);
    vectors.forEach((v, i) => flat.set(v, i * d));
    const json = encoder.encode(JSON.stringify({ document: prepared.document, chunks: prepared.chunks }));
    const count = e.withBytes(new Uint8Array(flat.buffer), (vectorPointer) =>
      e.withBytes(json, (pointer, length) => e.abi.tinylm_knowledge_add(this.handle, pointer, length, vectorPointer)));
    e.check(count >= 0);
    return count;
  }

  /** Adds the documents of a knowledge file (bytes), replacing same-id ones; returns how many. */
  merge(bytes) {
    const e = this.engine;
    const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    const count = e.withBytes(data, (pointer, length) => e.abi.tinylm_knowledge_merge(this.handle, pointer, length));
    e.check(count >= 0);
    return count;
  }

  /** Removes a document; false if there was none with that id. */
  remove(documentId) {
    const e = this.engine;
    const removed = e.withBytes(encoder.encode(documentId), (pointer, length) => e.abi.tinylm_knowledge_remove(this.handle, pointer, length));
    e.check(removed >= 0);
    return removed === 1;
  }

  /** The k chunks nearest to `query` (a Float32Array from Embedder.embed): [{chunk, score, documentId, title, url, heading, text}]. */
  search(query, k = 3) {
    const e = this.engine;
    const vector = query instanceof Float32Array ? query : Float32Array.from(query);
    const count = e.withBytes(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength), (pointer) =>
      e.abi.tinylm_knowledge_search(this.handle, pointer, k));
    e.check(count >= 0);
    return JSON.parse(e.resultText());
  }

  /** The knowledge file (Uint8Array) of every document, or of the document `documentId` alone. */
  export(documentId = '') {
    const e = this.engine;
    const length = e.withBytes(encoder.encode(documentId), (pointer, n) => e.abi.tinylm_knowledge_export(this.handle, pointer, n));
    e.check(length >= 0);
    return e.result();
  }

  free() {
    if (!this.handle) return;
    this.engine.abi.tinylm_knowledge_free(this.handle);
    this.handle = 0;
  }
}

/** A tokenizer without a model (Engine.loadTokenizer): the tokenizing half of Model. */
export class Tokenizer {
  constructor(engine, handle) {
    this.engine = engine;
    this.handle = handle;
    engine.check(engine.abi.tinylm_tokenizer_info(handle) >= 0);
    /** {vocabularySize, bosTokenID, eosTokenID, addsBOS, addsEOS} */
    this.info = JSON.parse(engine.resultText());
  }

  /** Token ids of `text` (Int32Array). */
  tokenize(text, { addSpecial = false, parseSpecial = true } = {}) {
    const e = this.engine;
    const count = e.withBytes(encoder.encode(text), (pointer, length) =>
      e.abi.tinylm_tokenizer_tokenize(this.handle, pointer, length, (addSpecial ? 1 : 0) | (parseSpecial ? 2 : 0)));
    e.check(count >= 0);
    return new Int32Array(e.result().buffer, 0, count);
  }

  detokenize(ids) {
    const e = this.engine;
    e.check(e.withIDs(ids, (pointer, count) => e.abi.tinylm_tokenizer_detokenize(this.handle, pointer, count)) >= 0);
    return e.resultText();
  }

  /** The raw bytes token `id` contributes to text. */
  tokenPiece(id) {
    const e = this.engine;
    e.check(e.abi.tinylm_tokenizer_piece(this.handle, id) >= 0);
    return e.result();
  }

  free() {
    if (!this.handle) return;
    this.engine.abi.tinylm_tokenizer_free(this.handle);
    this.handle = 0;
  }
}

export class Model {
  constructor(engine, handle, pointer) {
    this.engine = engine;
    this.handle = handle;
    this.pointer = pointer;
    engine.check(engine.abi.tinylm_model_info(handle) >= 0);
    /** {name, architecture, vocabularySize, trainedContextLength, …, chatTemplate} */
    this.info = JSON.parse(engine.resultText());
  }

  /** Token ids of `text` (Int32Array). */
  tokenize(text, { addSpecial = false, parseSpecial = true } = {}) {
    const e = this.engine;
    const count = e.withBytes(encoder.encode(text), (pointer, length) =>
      e.abi.tinylm_tokenize(this.handle, pointer, length, (addSpecial ? 1 : 0) | (parseSpecial ? 2 : 0)));
    e.check(count >= 0);
    return new Int32Array(e.result().buffer, 0, count);
  }

  detokenize(ids) {
    const e = this.engine;
    e.check(e.withIDs(ids, (pointer, count) => e.abi.tinylm_detokenize(this.handle, pointer, count)) >= 0);
    return e.resultText();
  }

  /** The model file's fingerprint: 16 hex digits, a hash of every byte (computed once, on first use). */
  get fingerprint() {
    if (!this.cachedFingerprint) {
      const e = this.engine;
      e.check(e.abi.tinylm_model_fingerprint(this.handle) >= 0);
      this.cachedFingerprint = e.resultText();
    }
    return this.cachedFingerprint;
  }

  /** The raw bytes token `id` contributes to text. */
  tokenPiece(id) {
    const e = this.engine;
    e.check(e.abi.tinylm_token_piece(this.handle, id) >= 0);
    return e.result();
  }

  /**
   * The prompt for a conversation, rendered by the model's own chat template inside wasm
   * (or `template`, a custom Jinja source; or the architecture's built-in format).
   * messages: [{role, content}], tools: JSON-schema function list, now: Date for strftime_now.
   */
  formatChat(messages, options = {}) {
    const e = this.engine;
    e.check(this.#chatCall('tinylm_chat_format', messages, options) >= 0);
    return e.resultText();
  }

  /** Token ids of the chat prompt (BOS added when the model wants it and the template did not write it). */
  chatTokens(messages, options = {}) {
    const e = this.engine;
    const count = this.#chatCall('tinylm_chat_tokenize', messages, options);
    e.check(count >= 0);
    return new Int32Array(e.result().buffer, 0, count);
  }

  /**
   * The prompt for a chat in which the model should call one of `tools` (OpenAI shape:
   * [{type: 'function', function: {name, description, parameters}}]). Templates that render
   * tools get them; for others (e.g. SmolLM2) the tools are described in the system message and
   * earlier assistant `tool_calls` become text. Messages with role 'tool' pass through.
   * Returns { text, tokens: Int32Array, format: {prefix, suffix, argumentsKey, templateHandlesTools,
   * callsInList, toolsInSystemMessage} } (Qwen: <tool_call> blocks; Llama 3.x: "parameters";
   * Phi-4-mini: <|tool_call|>[…]; ToolCalling.swift and ToolCallOutput.swift say more):
   * generate from `tokens` with options { tools, toolChoice, toolCallFormat: format } and
   * read the result with `parseToolCalls(text, format)`.
   */
  toolCallPrompt(messages, options = {}) {
    const e = this.engine;
    e.check(this.#chatCall('tinylm_tool_prompt', messages, options) >= 0);
    const reply = JSON.parse(e.resultText());
    return { text: reply.text, tokens: Int32Array.from(reply.tokens), format: reply.format };
  }

  /**
   * Generation options for a chat that may call one of `tools` (toolChoice: 'auto' — the
   * model writes freely, and once it opens a call in `format` the rest is held to a valid call:
   * a lazy constraint, ConstraintTrigger.swift — | 'required' | {type: 'function', function:
   * {name}} — the answer is that call from its first token — | 'none' — no constraint).
   */
  toolCallOptions(tools, { toolChoice = 'auto', format = null, ...rest } = {}) {
    const options = { ...rest, tools, toolChoice };
    if (format) options.toolCallFormat = format;
    return options;
  }

  /**
   * Tool calls in generated `text`, OpenAI-shaped: [{id, type: 'function', function: {name,
   * arguments: '<JSON text>'}}]. `format`: from toolCallPrompt (default: the model's own).
   * Throws GrammarError when the text holds no call.
   */
  parseToolCalls(text, format = null) {
    const e = this.engine;
    const request = format ? { text, format } : { text };
    const length = e.withBytes(encoder.encode(JSON.stringify(request)), (pointer, n) => e.abi.tinylm_tool_calls(this.handle, pointer, n));
    e.check(length >= 0);
    return JSON.parse(e.resultText());
  }

  #chatCall(name, messages, options) {
    const e = this.engine;
    return e.withBytes(encoder.encode(JSON.stringify(chatRequest(messages, options))), (pointer, length) => e.abi[name](this.handle, pointer, length));
  }

  createSession({ contextLength = 2048, batchSize = 0 } = {}) {
    const e = this.engine;
    const handle = e.abi.tinylm_session_create(this.handle, contextLength, batchSize);
    e.check(handle > 0);
    return new Session(this, handle);
  }

  /**
   * A LoRA adapter (llama.cpp's GGUF adapter form) for this model, checked against it: Adapter
   * below. Its bytes are copied into wasm memory once and used there in place. Throws
   * NotAnAdapterError, AdapterArchitectureError, AdapterTensorError, AdapterShapeError or
   * AdapterRankError (UnsupportedModelError for a tensor type other than F32/F16/BF16/Q8_0);
   * the model stays usable.
   */
  loadAdapter(bytes) {
    const e = this.engine;
    const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    if (data.byteLength === 0) throw namedError('NotAnAdapterError', 'empty file: not a LoRA adapter');
    const pointer = e.abi.tinylm_alloc(data.byteLength);
    if (!pointer) throw namedError('OutOfMemoryError', `cannot reserve ${data.byteLength} bytes of wasm memory for the adapter`);
    e.bytes().set(data, pointer);
    const handle = e.abi.tinylm_adapter_load(this.handle, pointer, data.byteLength);
    if (!handle) {
      e.abi.tinylm_free(pointer);
      e.check(false);
    }
    return new Adapter(this, handle, pointer);
  }

  /** Frees the model and the memory holding its file. Sessions and adapters must be freed first. */
  free() {
    if (!this.handle) return;
    this.engine.abi.tinylm_model_free(this.handle);
    this.engine.abi.tinylm_free(this.pointer);
    this.handle = 0;
  }
}

/** A LoRA adapter loaded for one model (Model.loadAdapter); sessions apply it with setAdapters. */
export class Adapter {
  constructor(model, handle, pointer) {
    this.model = model;
    this.engine = model.engine;
    this.handle = handle;
    this.pointer = pointer;
    this.engine.check(this.engine.abi.tinylm_adapter_info(handle) >= 0);
    /** {architecture, name, alpha, matrices, maxRank, weightBytes} */
    this.info = JSON.parse(this.engine.resultText());
  }

  /** Frees the adapter and its bytes; sessions that apply it drop it (their cache is emptied). */
  free() {
    if (!this.handle) return;
    this.engine.abi.tinylm_adapter_free(this.handle);
    this.engine.abi.tinylm_free(this.pointer);
    this.handle = 0;
  }
}

/** The JSON request of the chat calls (Sources/TinyLM/Chat/ChatRequest.swift). */
function chatRequest(messages, { addGenerationPrompt = true, template = null, tools = null, now = new Date(), context = null, toolCalling = false } = {}) {
  const request = { messages, addGenerationPrompt };
  if (template) request.template = template;
  if (tools) request.tools = tools;
  if (context) request.context = context;
  if (toolCalling) request.toolCalling = true;
  if (now) request.now = [now.getFullYear(), now.getMonth() + 1, now.getDate(), now.getHours(), now.getMinutes(), now.getSeconds()];
  return request;
}

export class Session {
  constructor(model, handle) {
    this.model = model;
    this.engine = model.engine;
    this.handle = handle;
  }

  get tokenCount() { return this.engine.abi.tinylm_session_token_count(this.handle); }
  get memoryBytes() { return this.engine.abi.tinylm_session_memory(this.handle); }

  reset() { this.engine.abi.tinylm_session_reset(this.handle); }
  truncate(count) { this.engine.abi.tinylm_session_truncate(this.handle, count); }

  /**
   * The prompt ids for the next turn of this session's chat (options as Model.chatTokens, plus
   * toolCalling: true to prepare `tools` as toolCallPrompt does). Earlier prompts and replies
   * keep the tokens the model saw and generated, so generating from these ids evaluates only
   * the new message and the template's glue — every turn reuses the KV cache. Pass each reply's
   * text unchanged as the next assistant message; reset() starts a new conversation.
   */
  chatTokens(messages, options = {}) {
    const e = this.engine;
    const json = encoder.encode(JSON.stringify(chatRequest(messages, options)));
    const count = e.withBytes(json, (pointer, length) => e.abi.tinylm_session_chat_tokens(this.handle, pointer, length));
    e.check(count >= 0);
    return new Int32Array(e.result().buffer, 0, count);
  }

  /**
   * The LoRA adapters the following evaluations apply, in order: [{adapter, scale}] (scale
   * default 1, as llama.cpp's --lora; [] is the base model alone). Returns true when the set
   * changed, which empties the cache (its keys and values came from other weights); the same
   * set keeps it.
   */
  setAdapters(list = []) {
    const e = this.engine;
    if (!Array.isArray(list)) throw namedError('InvalidArgumentError', 'setAdapters takes an array of {adapter, scale}');
    const handles = new Int32Array(list.length);
    const scales = new Float32Array(list.length);
    list.forEach((item, i) => {
      const adapter = item?.adapter;
      if (!(adapter instanceof Adapter) || !adapter.handle) throw namedError('InvalidArgumentError', `adapters[${i}]: not a loaded Adapter`);
      if (adapter.model !== this.model) throw namedError('InvalidArgumentError', `adapters[${i}] was loaded for another model`);
      const scale = item.scale ?? 1;
      if (typeof scale !== 'number' || !Number.isFinite(scale)) throw namedError('InvalidArgumentError', `adapters[${i}]: scale must be a finite number`);
      handles[i] = adapter.handle;
      scales[i] = scale;
    });
    const changed = e.withBytes(new Uint8Array(handles.buffer), (handlePointer) =>
      e.withBytes(new Uint8Array(scales.buffer), (scalePointer) =>
        e.abi.tinylm_session_set_adapters(this.handle, handlePointer, scalePointer, list.length)));
    e.check(changed >= 0);
    return changed === 1;
  }

  /**
   * The session's conversation as bytes (Uint8Array): the cached token ids with their keys and
   * values as the cache holds them (f16, filled positions only), the chat transcript, and what
   * they depend on (model file, adapters, `template` when the chat used a custom one). Ends the
   * generation in progress. Layout: Sources/TinyLM/Generation/SessionSnapshot.swift.
   */
  saveSnapshot({ template = '' } = {}) {
    const e = this.engine;
    const length = e.withBytes(encoder.encode(template), (pointer, count) => e.abi.tinylm_session_snapshot(this.handle, pointer, count));
    e.check(length >= 0);
    return e.result();
  }

  /**
   * Replaces the session's cache and transcript with a snapshot's; returns the cached token
   * count. Throws SnapshotMismatchError (another model file, adapters, template or cache shape)
   * or InvalidSnapshotError (damaged bytes, longer than the context); the session is unchanged then.
   */
  restoreSnapshot(bytes, { template = '' } = {}) {
    const e = this.engine;
    const count = e.withBytes(bytes, (pointer, length) =>
      e.withBytes(encoder.encode(template), (templatePointer, templateLength) =>
        e.abi.tinylm_session_restore(this.handle, pointer, length, templatePointer, templateLength)));
    e.check(count >= 0);
    return count;
  }

  /** Appends tokens to the context. */
  evaluate(ids) {
    const e = this.engine;
    const call = () => e.withIDs(ids, (pointer, count) => e.abi.tinylm_evaluate(this.handle, pointer, count));
    e.check((ids.length === 1 ? e.decodeStep(call) : call()) === 0);
  }

  /** A copy of the next-token logits. */
  logits() {
    const pointer = this.engine.abi.tinylm_logits(this.handle);
    // Copied into an ordinary (never shared) buffer.
    return new Float32Array(new Float32Array(this.engine.memory.buffer, pointer, this.model.info.vocabularySize));
  }

  /**
   * Starts generating after `promptIDs` (re-using the cached prefix). Options: temperature,
   * topK, topP, minP, repeatPenalty, repeatWindow, seed, maxTokens, stop, ignoreEOS, and at
   * most one output constraint: jsonSchema (a JSON Schema object), grammar (GBNF text),
   * json: true (any JSON object), or tools (+ toolChoice, toolCallFormat; see
   * Model.toolCallPrompt). A constrained generation ends with reason 'grammar' once the output
   * is complete; invalid or unsupported schemas and grammars throw GrammarError.
   * Returns how many prompt tokens were reused from the cache.
   */
  startGeneration(promptIDs, options = {}) {
    const e = this.engine;
    const json = encoder.encode(JSON.stringify(options));
    const reused = e.withIDs(promptIDs, (ids, count) =>
      e.withBytes(json, (pointer, length) => e.abi.tinylm_generate_start(this.handle, ids, count, pointer, length)));
    e.check(reused >= 0);
    return reused;
  }

  /**
   * One step: `{ token, text }` while generating (text may be '' while a character or a
   * possible stop string is incomplete), then `{ done: true, reason, text }`.
   */
  nextToken() {
    const e = this.engine;
    const token = e.decodeStep(() => e.abi.tinylm_generate_next(this.handle));
    e.check(token !== -2);
    const text = e.resultText();
    if (token === -1) {
      return { done: true, reason: FINISH_REASONS[e.abi.tinylm_generate_finish_reason(this.handle)] || 'length', text };
    }
    return { done: false, token, text };
  }

  /** Generates to the end: `{ text, tokens, reason, reused }` (reused: prompt tokens taken from
   *  the cache). `onToken(text, token)` streams (the held-back remainder arrives last, with token null). */
  generate(promptIDs, options = {}, onToken = null) {
    const reused = this.startGeneration(promptIDs, options);
    const tokens = [];
    let text = '';
    for (;;) {
      const step = this.nextToken();
      text += step.text;
      if (step.done) {
        if (onToken && step.text) onToken(step.text, null);
        return { text, tokens, reason: step.reason, reused };
      }
      tokens.push(step.token);
      if (onToken) onToken(step.text, step.token);
    }
  }

  free() {
    if (!this.handle) return;
    this.engine.abi.tinylm_session_free(this.handle);
    this.handle = 0;
  }
}
