// The dedicated Web Worker that hosts the engine and the weight store, so that the page never
// blocks while a model downloads, loads or generates (every wasm call is synchronous).
//
// Protocol (protocol.js; tinylm.js is the client): the page posts {id, type, ...}; the worker
// answers with any number of {id, type: 'progress' | 'token', ...} events and then exactly one
// {id, type: 'result', value} or {id, type: 'error', error: {name, message, ...}}. Options are
// checked against protocol.js's tables here too: an unknown one is an InvalidArgumentError.
// {type: 'abort', id} cancels request `id`: generation checks between tokens and yields to the
// event loop after every token, so the abort message is handled at once. An 'unload' request
// first aborts every load and generation in progress or waiting, so it never waits for them.
//
// Multi-turn chats reuse the KV cache token for token: after a chat answer the worker keeps the
// rendered prompt text and the token ids the session holds (prompt + answer as generated), and
// when the next chat request's rendered prompt starts with that text it extends those ids
// instead of tokenizing the whole conversation again (a re-tokenized answer can differ from the
// sampled tokens, which would invalidate the cache from that point on).

import { Engine } from './engine.js';
import { namedError, abortError, serializeError, checkOptions, pickOptions, GENERATION_OPTIONS, CHAT_OPTIONS } from './protocol.js';
import { ModelStore } from './model-store.js';
import { loadTrustedFile, lateUpdate, trustReport } from './trusted-file.js';
import { knowledgeHandlers } from './knowledge-worker.js';
import { adapterHandlers } from './adapter-worker.js';
import { parallelCores } from './core-count.js';
import { sessionSnapshotHandlers } from './session-snapshot-worker.js';
import { ToolCallStream } from './tool-call-stream.js';

const store = new ModelStore();
let engine = null;
let loaded = null; // { model, session, id, sha256, size, contextLength, chatCache }
const controllers = new Map(); // request id → {controller: AbortController, type}
let queue = Promise.resolve(); // engine work runs one request at a time

/** The generation options the engine takes as they are (responseFormat and grammar become its constraint options). */
const { responseFormat: _format, grammar: _grammar, ...ENGINE_OPTIONS } = GENERATION_OPTIONS;

/** The sampling settings a request may leave out: the model's recommendation fills them
 *  (info.sampling: from the GGUF's general.sampling.* keys or the core's per-model table),
 *  else the engine's defaults, which are llama.cpp's (Sources/TinyLM/Generation/SamplingParameters.swift). */
const SAMPLING_KEYS = ['temperature', 'topK', 'topP', 'minP', 'repeatPenalty'];
const ENGINE_SAMPLING = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1.0 };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// A macrotask without setTimeout's 4 ms clamping: lets queued messages (abort) run.
const channel = new MessageChannel();
const waiting = [];
channel.port1.onmessage = () => waiting.shift()?.();
function yieldToEventLoop() {
  return new Promise((resolve) => { waiting.push(resolve); channel.port2.postMessage(0); });
}

/** Threads when the caller does not say: up to 4 (more rarely helps a small model); cores as
 *  measured where hardwareConcurrency says more than 2 (core-count.js: WebKit says 4 for 2
 *  cores). Where this worker may not share memory (the page is not cross-origin isolated) the
 *  count is asked for anyway, unmeasured: the engine then runs one thread and its threadsError
 *  says why (and what would fix it). */
async function defaultThreads() {
  const wanted = Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
  if (!self.crossOriginIsolated) return wanted;
  return parallelCores(wanted);
}

function requireModel() {
  if (!loaded) throw namedError('InvalidStateError', 'no model is loaded: call load() first');
  return loaded;
}

// LoRA adapters (adapter-worker.js): each generate request applies its own list.
const adapters = adapterHandlers({ getModel: () => requireModel().model });

function unload() {
  if (!loaded) return;
  adapters.release();
  loaded.session.free();
  loaded.model.free();
  loaded = null;
}

/** The engine for `options` (the first request's settings decide it; later ones share it). */
async function startEngine(options) {
  const threads = options.threads ?? await defaultThreads();
  const started = await Engine.create(options.wasmURL ? new URL(options.wasmURL, self.location.href) : undefined, {
    log: () => {},
    threads,
    adaptiveThreads: options.adaptiveThreads ?? true,
    relaxedSimd: options.relaxedSimd ?? true,
    isolationAdvice: options.isolationAdvice ?? null,
    ...(options.threadedWasmURL ? { threadedSource: new URL(options.threadedWasmURL, self.location.href) } : {}),
  });
  if (threads === 1 && options.threads == null && !started.threadsError) {
    started.threadsError = 'this device has one CPU core free for the page (navigator.hardwareConcurrency, measured where it over-reports), so one thread runs';
  }
  return started;
}

let engineStarting = null; // the engine's creation, while it runs

/** The engine, created on first use (once, however many requests ask at the same time). */
function getEngine(options) {
  if (engine) return Promise.resolve(engine);
  engineStarting ??= startEngine(options).then((started) => (engine = started), (error) => {
    engineStarting = null;
    throw error;
  });
  return engineStarting;
}

async function load({ source, options = {} }, signal, emit) {
  const progress = (event) => emit({ type: 'progress', ...event });
  // The module compiles (and its threads start) while the stored file is read and checked:
  // loadTrustedFile holds the first chunks until the engine can take them.
  const ready = getEngine(options);
  ready.catch(() => {}); // awaited by begin() below; a failure before then is reported there
  unload();
  const { id, record, size, sink: upload, downloaded, refetched, trust, revalidation } = await loadTrustedFile(store, source, options, {
    begin: async (bytes) => (await ready).beginModelUpload(bytes), kind: 'model', signal, onProgress: progress,
  });
  progress({ phase: 'load', done: 0, total: 1 });
  let model;
  try {
    model = upload.finish();
  } catch (error) {
    // Not a model we can read: do not keep it in storage.
    if (record && error.name === 'InvalidModelError') await store.delete(id);
    throw error;
  }
  const contextLength = Math.min(options.contextLength ?? 2048, model.info.trainedContextLength || 2048);
  let session;
  try {
    session = model.createSession({ contextLength });
  } catch (error) {
    model.free();
    throw error;
  }
  loaded = { model, session, id, sha256: record?.sha256 ?? null, size, contextLength, chatCache: null };
  progress({ phase: 'load', done: 1, total: 1 });
  // A revalidation still waiting on a slow network does not hold up the model: it records what
  // it learns in the store (the next load, and the app's storage page, show it).
  const update = await lateUpdate(revalidation, record);
  return {
    id, size, sha256: loaded.sha256, downloaded, refetched, contextLength, info: model.info,
    ...trustReport(trust, record, update),
    sampling: recommendedSampling(model.info),
    threads: engine.threads, threadsError: engine.threadsError, simd: engine.simd,
  };
}

/** The model's recommended sampling (info.sampling, when the core provides it), or null. */
function recommendedSampling(info) {
  const sampling = info?.sampling;
  if (!sampling || typeof sampling !== 'object') return null;
  const values = {};
  for (const key of SAMPLING_KEYS) if (Number.isFinite(sampling[key])) values[key] = sampling[key];
  return { ...values, source: sampling.source ?? null };
}

/** Every sampling setting of a request: the caller's, else the model's recommendation, else the
 *  engine's defaults; a random seed unless the caller gave one (so visitors get varied answers). */
function samplingFor(options, info) {
  const recommended = recommendedSampling(info) ?? {};
  const sampling = {};
  for (const key of SAMPLING_KEYS) sampling[key] = options[key] ?? recommended[key] ?? ENGINE_SAMPLING[key];
  sampling.seed = options.seed ?? crypto.getRandomValues(new Uint32Array(1))[0];
  return sampling;
}

/** The prompt's token ids: a string (BOS added as the model wants), ids as given, or messages. */
function promptTokens(request) {
  return promptFor(request).ids;
}

/**
 * {ids, chatText}: the prompt's token ids, and for a chat the rendered prompt text (the key of
 * the next turn's cache reuse, see chatCacheIDs). chatOptions.continue: the last message is an
 * assistant answer to continue (rendered without its end of turn).
 */
function promptFor({ prompt, messages, chatOptions = {} }) {
  const { model } = requireModel();
  checkOptions(chatOptions, CHAT_OPTIONS, 'chat options');
  if (messages && callsTools(chatOptions)) return { ids: Array.from(model.toolCallPrompt(messages, chatOptions).tokens), chatText: null };
  // toolChoice 'none': a chat as without the tools.
  if (chatOptions.toolChoice === 'none') chatOptions = withoutTools(chatOptions);
  if (messages) {
    // chatTokens/formatChat are newer than the first engine builds: say so instead of failing obscurely.
    const abi = model.engine.abi;
    if (typeof abi.tinylm_chat_tokenize !== 'function' || typeof abi.tinylm_chat_format !== 'function') {
      throw namedError('TemplateError', 'this engine build cannot format chats: rebuild web/tinylm.wasm (./build-wasm.sh)');
    }
    if (!Array.isArray(messages)) throw namedError('InvalidArgumentError', 'messages must be an array of {role, content}');
    const { continue: continuing = false, ...options } = chatOptions;
    if (continuing) {
      const last = messages.at(-1);
      if (last?.role !== 'assistant' || typeof last.content !== 'string') {
        throw namedError('InvalidArgumentError', 'continue: the last message must be the assistant answer to continue');
      }
      const head = messages.slice(0, -1);
      const headOptions = { ...options, addGenerationPrompt: true };
      const chatText = model.formatChat(head, headOptions) + last.content;
      const ids = chatCacheIDs(chatText)
        ?? [...model.chatTokens(head, headOptions), ...model.tokenize(last.content, { addSpecial: false, parseSpecial: false })];
      return { ids, chatText };
    }
    const chatText = model.formatChat(messages, options);
    return { ids: chatCacheIDs(chatText) ?? Array.from(model.chatTokens(messages, options)), chatText };
  }
  if (typeof prompt === 'string') return { ids: Array.from(model.tokenize(prompt, { addSpecial: true })), chatText: null };
  if (Array.isArray(prompt) && prompt.every(Number.isInteger)) return { ids: prompt, chatText: null };
  throw namedError('InvalidArgumentError', 'the prompt must be a string or an array of token ids');
}

/**
 * The ids of a chat prompt whose rendered text is `text`, built on what the session holds from
 * the previous chat answer: its prompt ids, then the answer's tokens as they were sampled for
 * as long as their bytes spell the text, then the rest tokenized. Null when the text does not
 * extend the previous prompt (another conversation, a template that rewrote earlier turns, or
 * something else ran on the session since).
 */
function chatCacheIDs(text) {
  const { model, session, chatCache: cache } = requireModel();
  if (!cache || !text.startsWith(cache.promptText)) return null;
  if (session.tokenCount !== cache.promptIDs.length + cache.replyIDs.length) return null;
  const rest = encoder.encode(text.slice(cache.promptText.length));
  let offset = 0;
  let kept = 0;
  let cut = { kept: 0, offset: 0 }; // the last place that is also a character boundary
  for (const id of cache.replyIDs) {
    const piece = model.tokenPiece(id);
    if (offset + piece.length > rest.length || piece.some((byte, i) => rest[offset + i] !== byte)) break;
    offset += piece.length;
    kept++;
    if (offset === rest.length || (rest[offset] & 0xc0) !== 0x80) cut = { kept, offset };
  }
  const tail = decoder.decode(rest.subarray(cut.offset));
  return [...cache.promptIDs, ...cache.replyIDs.slice(0, cut.kept), ...(tail ? model.tokenize(tail, { addSpecial: false }) : [])];
}

/** Remembers what the session holds after a chat answer: the prompt and the answer's tokens
 *  the session evaluated (all of them but a final end-of-turn token). */
function rememberChat(chatText, promptIDs, replyTokens, template = null) {
  const state = requireModel();
  const evaluated = state.session.tokenCount - promptIDs.length;
  state.chatCache = chatText !== null && evaluated >= 0 && evaluated <= replyTokens.length
    ? { promptText: chatText, promptIDs, replyIDs: replyTokens.slice(0, evaluated), template } // template: for saveSession
    : null;
}

/** Whether a chat request may call its tools (it has some, and toolChoice is not 'none'). */
function callsTools(chatOptions) {
  return Boolean(chatOptions?.tools?.length) && chatOptions.toolChoice !== 'none';
}

function withoutTools({ tools: _tools, toolChoice: _toolChoice, ...rest }) {
  return rest;
}

/**
 * Structured output: `responseFormat` ({type: 'json_schema', schema | json_schema: {schema}} or
 * {type: 'json_object'}) and `grammar` (GBNF) become the engine's constraint options; with
 * `tools`, a chat is constrained to one call of one of them (Model.toolCallPrompt).
 */
function constraintOptions(request) {
  const { model } = requireModel();
  const options = request.options ?? {};
  const format = options.responseFormat;
  if (request.messages && callsTools(request.chatOptions)) {
    const prompt = model.toolCallPrompt(request.messages, request.chatOptions);
    const { tools, toolChoice } = request.chatOptions;
    return { constraint: model.toolCallOptions(tools, { toolChoice: toolChoice ?? 'auto', format: prompt.format }), toolFormat: prompt.format };
  }
  if (format?.type === 'json_schema') {
    const schema = format.schema ?? format.json_schema?.schema;
    if (!schema) throw namedError('InvalidArgumentError', "responseFormat {type: 'json_schema'} needs a schema");
    return { constraint: { jsonSchema: schema } };
  }
  if (format?.type === 'json_object') return { constraint: { json: true } };
  if (format && format.type !== 'text') throw namedError('InvalidArgumentError', `unknown responseFormat type '${format.type}'`);
  if (options.grammar) return { constraint: { grammar: options.grammar } };
  return { constraint: {} };
}

async function generate(request, signal, emit) {
  const { session, contextLength, model } = requireModel();
  checkOptions(request.options, GENERATION_OPTIONS, 'generation options');
  await adapters.apply(session, request.adapters ?? [], signal);
  const { ids, chatText } = promptFor(request);
  const { constraint, toolFormat } = constraintOptions(request);
  const given = request.options ?? {};
  const options = { ...constraint, ...pickOptions(given, ENGINE_OPTIONS) };
  const sampling = samplingFor(given, model.info);
  Object.assign(options, sampling);
  if (options.maxTokens === undefined) options.maxTokens = Math.max(1, contextLength - ids.length);
  if (ids.length >= contextLength) {
    throw namedError('ContextOverflowError', `the prompt has ${ids.length} tokens but the context holds ${contextLength}`);
  }
  if (signal.aborted) throw abortError(signal);
  const started = performance.now();
  requireModel().chatCache = null; // the session's contents change from here on
  const reused = session.startGeneration(ids, options);
  let firstToken = null;
  const tokens = [];
  let text = '';
  // With tools, each piece also says which of its text is the answer's content and which the
  // call's arguments (OpenAI stream deltas).
  const calls = toolFormat ? new ToolCallStream(toolFormat) : null;
  const split = (piece, tail = '') => (piece ? { content: piece.content + tail, toolCalls: piece.toolCalls } : {});
  try {
    for (;;) {
      const step = session.nextToken();
      firstToken ??= performance.now();
      text += step.text;
      const piece = calls?.push(step.text) ?? null;
      if (step.done) {
        const tail = calls?.finish() ?? '';
        if (step.text || tail) emit({ type: 'token', text: step.text, token: null, ...split(piece, tail) });
        const ended = performance.now();
        // The model called a tool when the call's constraint completed ('auto': it only takes
        // hold once the model opens a call; otherwise the answer is text).
        const called = toolFormat && (step.reason === 'grammar' || step.reason === 'constraint_budget');
        const toolCalls = called ? model.parseToolCalls(text, toolFormat) : undefined;
        if (toolCalls?.length && calls.streamed) toolCalls[0].id = calls.streamed.id;
        return {
          text, tokens, reason: toolCalls ? 'tool_calls' : step.reason, ...(toolCalls ? { toolCalls } : {}),
          ...(calls ? { content: calls.content } : {}),
          sampling: { ...sampling, maxTokens: options.maxTokens },
          usage: { promptTokens: ids.length, reusedTokens: reused, completionTokens: tokens.length },
          timings: {
            prefillMs: firstToken - started,
            decodeMs: ended - firstToken,
            // The first token comes out of the prefill step; decode speed counts the rest.
            tokensPerSecond: tokens.length > 1 ? (tokens.length - 1) / ((ended - firstToken) / 1000) : null,
          },
        };
      }
      tokens.push(step.token);
      emit({ type: 'token', text: step.text, token: step.token, ...split(piece) });
      await yieldToEventLoop();
      if (signal.aborted) {
        const error = abortError(signal);
        error.partial = { text, tokens };
        throw error;
      }
    }
  } finally {
    // Also after Stop: the partial answer is in the cache, and the page usually keeps it.
    if (loaded?.session === session) rememberChat(chatText, ids, tokens, request.chatOptions?.template ?? null);
  }
}

function engineStatus() {
  return {
    memoryBytes: engine?.memoryBytes ?? 0, threads: engine?.threads ?? null, threadsError: engine?.threadsError ?? null, simd: engine?.simd ?? null,
    threadSections: engine?.kernelThreads ? { ...engine.kernelThreads.sections } : null,
    crossOriginIsolated: self.crossOriginIsolated === true,
  };
}

const handlers = {
  load,
  generate,
  async unload() { unload(); return true; },
  async countTokens(request) { return promptTokens(request).length; },
  async tokenize({ text, addSpecial = false }) { return Array.from(requireModel().model.tokenize(text, { addSpecial })); },
  async detokenize({ ids }) { return requireModel().model.detokenize(ids); },
  async formatChat({ messages, chatOptions = {} }) {
    checkOptions(chatOptions, CHAT_OPTIONS, 'chat options');
    return requireModel().model.formatChat(messages, chatOptions);
  },
  async status() {
    return loaded
      ? { loaded: true, id: loaded.id, size: loaded.size, sha256: loaded.sha256, contextLength: loaded.contextLength, info: loaded.model.info,
        sampling: recommendedSampling(loaded.model.info), cachedTokens: loaded.session.tokenCount, ...engineStatus() }
      : { loaded: false, ...engineStatus() };
  },
  // Test-only: e.g. {hook: 'failWrites', value: 'QuotaExceededError'} makes every store write throw.
  async test({ hook, value }) { store.testHooks[hook] = value; return true; },
};

Object.assign(handlers, adapters.handlers);
// Saved conversations (session-snapshot-worker.js): the chat's KV cache in IndexedDB.
Object.assign(handlers, sessionSnapshotHandlers({ requireModel }));

// Sentence embeddings and knowledge bases (knowledge-worker.js): the same engine as the model.
Object.assign(handlers, knowledgeHandlers({
  store,
  yieldToEventLoop,
  getEngine,
}));

/** Handles one message of the protocol; `post` sends the answers (to the page, or through
 *  shared-engine.js's router to the tab that asked when this module runs in a SharedWorker). */
export function handleMessage(data, post = (message) => self.postMessage(message)) {
  if (data.type === 'abort') {
    controllers.get(data.id)?.controller.abort(namedError('AbortError', 'aborted by the caller'));
    return;
  }
  const { id, type } = data;
  if (type === 'unload') {
    // unload() must not wait for a long answer: stop everything the engine is doing or will do.
    for (const entry of controllers.values()) {
      if (entry.type !== 'status' && entry.type !== 'test') entry.controller.abort(namedError('AbortError', 'stopped by unload()'));
    }
  }
  const controller = new AbortController();
  controllers.set(id, { controller, type });
  const emit = (event) => post({ id, ...event });
  // Store-only work (status, test hooks) need not wait for a generation to finish.
  const run = () => handlers[type]
    ? handlers[type](data, controller.signal, emit)
    : Promise.reject(namedError('InvalidArgumentError', `unknown request ${type}`));
  let task;
  if (type === 'status' || type === 'test') task = run();
  else {
    task = queue.then(() => (controller.signal.aborted ? Promise.reject(abortError(controller.signal)) : run()));
    queue = task.catch(() => {});
  }
  task.then(
    (value) => post({ id, type: 'result', value }),
    (error) => post({ id, type: 'error', error: serializeError(error) }),
  ).finally(() => controllers.delete(id));
}

// A dedicated Worker's page talks to it directly; in a SharedWorker, shared-engine.js imports
// this module and hands it the messages of every tab.
if (typeof SharedWorkerGlobalScope === 'undefined') self.onmessage = ({ data }) => handleMessage(data);
