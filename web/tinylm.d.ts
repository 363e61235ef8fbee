// Types of web/tinylm.js, TinyLM's public browser API (the modules stay plain JavaScript; an
// editor or `tsc` reads these beside them). Tests/types/example.ts uses every call and is
// checked with `tsc --noEmit --strict` (scripts/test.sh).

import type { Embedder } from './embedder.js';
import type { ChatCompletions, Completions, Embeddings, Models, JSONSchema } from './openai.js';
import type { KnowledgeBase, SearchHit } from './knowledge-base.js';

export { Embedder } from './embedder.js';
export { OpenAICompatible, openAIError } from './openai.js';
export type { OpenAIError, OpenAIErrorFields } from './openai.js';

/** The `name` of every Error TinyLM rejects with. */
export type TinyLMErrorName =
  | 'NetworkError' | 'IntegrityError' | 'QuotaExceededError' | 'InvalidModelError' | 'UnsupportedModelError'
  | 'ContextOverflowError' | 'AbortError' | 'OutOfMemoryError' | 'InvalidArgumentError' | 'InvalidStateError'
  | 'TemplateError' | 'GrammarError' | 'WorkerError' | 'WrongModelKindError' | 'InvalidKnowledgeFileError'
  | 'EmbedderMismatchError' | 'InvalidManifestError';

/** An Error as TinyLM rejects with: `name` says what happened; some carry more fields. */
export interface TinyLMError extends Error {
  name: TinyLMErrorName | string;
  /** AbortError of a generation: what was generated before the abort. */
  partial?: { text: string; tokens: number[] };
  /** QuotaExceededError: bytes the store needed. */
  bytesNeeded?: number;
  /** IntegrityError of a stored chunk: its index. */
  chunkIndex?: number;
  /** InvalidArgumentError about an option: its name. */
  option?: string;
  /** InvalidArgumentError about an unknown option: the closest valid name, or null. */
  suggestion?: string | null;
}

export interface ConstructorOptions {
  /** Default: worker.js beside tinylm.js. */
  workerURL?: string | URL;
  /** Default: tinylm.wasm beside engine.js. */
  wasmURL?: string | URL | null;
  /** Default: tinylm-mt.wasm beside the wasm. */
  threadedWasmURL?: string | URL | null;
  /** Threads that run the model (default min(4, CPU cores) when cross-origin isolated, else 1). */
  threads?: number | null;
  /** Decode on one thread while that is faster (default true). */
  adaptiveThreads?: boolean;
  /** Run the relaxed-SIMD build where the browser can (default true). */
  relaxedSimd?: boolean;
  /** Share one engine (a SharedWorker, one per model) with the site's other tabs that load the
   *  same model; false: a dedicated Worker. Default: shared unless the page is cross-origin
   *  isolated (a SharedWorker runs one thread). */
  sharedEngine?: boolean;
}

export interface Progress {
  phase: 'download' | 'verify' | 'load';
  /** Bytes (load: 0…1). */
  done: number;
  total: number;
  /** A corrupt stored copy is fetched again: why. */
  refetch?: boolean;
  reason?: string;
}

export interface LoadOptions {
  onProgress?: ((progress: Progress) => void) | null;
  signal?: AbortSignal | null;
  /** Expected hex SHA-256 of the file (IntegrityError otherwise). */
  sha256?: string | null;
  /** Tokens of context (default min(2048, the model's trained length)). */
  contextLength?: number;
  /** Store a picked File in IndexedDB too (default true). */
  store?: boolean;
  /** The file's manifest (text or object; false: none; default: url + '.manifest.json'). */
  manifest?: string | object | false | null;
  manifestURL?: string | URL | null;
  /** Ed25519 key the manifest must be signed with. */
  publicKey?: string | null;
  /** ms between fetches of a stored model's manifest (default 1 hour). */
  revalidateInterval?: number;
}

/** How a published file (model, embedder, adapter, knowledge file) is checked (trusted-file.js). */
export interface TrustOptions {
  /** Expected hex SHA-256 of the file (IntegrityError otherwise). */
  sha256?: string | null;
  /** The file's manifest (text or object; false: none; default: url + '.manifest.json'). */
  manifest?: string | object | false | null;
  manifestURL?: string | URL | null;
  /** Ed25519 key the manifest must be signed with (SignatureError otherwise). */
  publicKey?: string | null;
  /** ms between fetches of a stored file's manifest (default 1 hour). */
  revalidateInterval?: number;
}

/** What a load says about how the file was checked. */
export interface TrustReport {
  verified: boolean;
  verification: { source: string; reason: string | null };
  version: string | null;
  update: { version: string; size: number; bytes: number } | null;
}

export interface EmbedderLoadOptions extends TrustOptions {
  onProgress?: ((progress: Progress) => void) | null;
  signal?: AbortSignal | null;
  store?: boolean;
}

export interface AdapterLoadOptions extends TrustOptions {
  onProgress?: ((progress: Progress) => void) | null;
  signal?: AbortSignal | null;
  store?: boolean;
}

/** The settings sampling uses; left out: the model's recommended ones. */
export interface Sampling {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repeatPenalty: number;
}

export interface RecommendedSampling extends Partial<Sampling> {
  /** 'gguf' (the file's general.sampling.* keys), 'table' (TinyLM's known models) or 'default'. */
  source: string | null;
}

export interface ModelInfo {
  name: string;
  architecture: string;
  vocabularySize: number;
  trainedContextLength: number;
  chatTemplate?: string | null;
  [key: string]: unknown;
}

export interface Loaded {
  /** The store's id: the URL, or file:name:size:lastModified for a picked file. */
  id: string;
  size: number;
  sha256: string | null;
  downloaded: boolean;
  refetched: boolean;
  contextLength: number;
  info: ModelInfo;
  sampling: RecommendedSampling | null;
  threads: number;
  threadsError: string | null;
  simd: 'relaxed-simd' | 'simd128';
  /** With a manifest (model-trust.js): whether and how the file was verified, its version, a newer one. */
  verified?: boolean;
  verification?: { source: string; reason: string | null };
  version?: string | null;
  update?: { version: string; size: number; bytes: number } | null;
}

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; schema: JSONSchema | boolean }
  | { type: 'json_schema'; json_schema: { schema: JSONSchema; name?: string } };

/** Options of generate() and stream() (checked: an unknown key is an InvalidArgumentError). */
export interface GenerateOptions {
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  repeatWindow?: number;
  /** Left out: random (result.sampling.seed says which). */
  seed?: number;
  /** Default: the rest of the context. */
  maxTokens?: number;
  stop?: string[];
  ignoreEOS?: boolean;
  responseFormat?: ResponseFormat;
  /** GBNF rules (llama.cpp's notation). */
  grammar?: string;
  signal?: AbortSignal | null;
  /** Each piece of text as it comes (token null for the held-back end); `piece` also has
   *  `content` and `toolCalls` in a chat with tools (see StreamPiece). */
  onToken?: ((text: string, token: number | null, piece: StreamPiece) => void) | null;
  /** LoRA adapters for this generation (lm.loadAdapter, adapters.js on main). */
  adapters?: Array<{ adapter: AdapterHandle; scale?: number }>;
}

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
  role: Role | string;
  content: string;
  /** An assistant's earlier calls (OpenAI shape). */
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  [key: string]: unknown;
}

export interface Tool {
  type: 'function';
  function: { name: string; description?: string; parameters?: JSONSchema };
}

/** 'auto' (the default): the model answers in text or calls a tool (the call, once opened, is
 *  held to the tools' schemas); 'required': it calls one; {type, function: {name}}: it calls
 *  that one; 'none': a chat as without the tools. */
export type ToolChoice = 'auto' | 'required' | 'none' | { type: 'function'; function: { name: string } };

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** How a conversation becomes a prompt (chat, countTokens, formatChat). */
export interface ChatTemplateOptions {
  /** A custom Jinja template instead of the model's. */
  template?: string;
  /** Functions the model may call (result.toolCalls, reason 'tool_calls'), as toolChoice says. */
  tools?: Tool[];
  toolChoice?: ToolChoice;
  addGenerationPrompt?: boolean;
  /** The last message is an assistant answer cut short: the model goes on with it. */
  continue?: boolean;
}

export interface ChatOptions extends GenerateOptions, ChatTemplateOptions {
  /** Answer from this knowledge base's passages (result.sources). */
  knowledge?: KnowledgeBase;
  /** Passages to use (default 3). */
  k?: number;
}

export type FinishReason = 'eog' | 'stop' | 'length' | 'context' | 'grammar' | 'constraint_budget' | 'tool_calls';

export interface GenerateResult {
  text: string;
  tokens: number[];
  reason: FinishReason;
  /** Every setting used, seed and maxTokens included. */
  sampling: Sampling & { seed: number; maxTokens: number };
  usage: { promptTokens: number; reusedTokens: number; completionTokens: number };
  timings: { prefillMs: number; decodeMs: number; tokensPerSecond: number | null };
}

export interface ChatResult extends GenerateResult {
  /** Set when the model called a tool (then reason is 'tool_calls'). */
  toolCalls?: ToolCall[];
  /** With tools: the answer's text outside the call (all of `text` when there is no call). */
  content?: string;
  /** With `knowledge`: the passages used. */
  sources?: SearchHit[];
}

/** One step of a tool call as the OpenAI API streams it: the first names the call (id, type,
 *  function.name, arguments ''), the next ones carry fragments of function.arguments. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

export interface StreamPiece {
  text: string;
  token: number | null;
  /** With tools: the part of `text` that is the answer's content ('' inside a call). */
  content?: string;
  /** With tools: the call's deltas this piece brings, or null. */
  toolCalls?: ToolCallDelta[] | null;
}

/** An async iterator of pieces; breaking out of the loop stops generation. */
export interface TinyLMStream<R> extends AsyncIterableIterator<StreamPiece> {
  /** The final result once the iteration ends. */
  readonly result: Promise<R>;
}

export interface Status {
  loaded: boolean;
  id?: string;
  size?: number;
  sha256?: string | null;
  contextLength?: number;
  info?: ModelInfo;
  sampling?: RecommendedSampling | null;
  cachedTokens?: number;
  memoryBytes: number;
  threads: number | null;
  threadsError: string | null;
  simd: string | null;
  threadSections: { parallel: number; serial: number } | null;
  crossOriginIsolated: boolean;
  /** Present on a shared engine: its id (the same in every tab that shares it), the tabs
   *  connected to it, and how many times it loaded the model. */
  sharedEngine?: { instance: string; tabs: number; modelLoads: number };
}

/** TinyLM's own chat() with the OpenAI-compatible namespace on it (lm.chat.completions.create). */
export interface ChatFunction {
  (messages: ChatMessage[], options?: ChatOptions): Promise<ChatResult>;
  completions: ChatCompletions;
}

export interface StoredModel {
  id: string;
  url: string | null;
  name: string;
  size: number;
  received: number;
  complete: boolean;
  sha256: string | null;
  storedAt: number | null;
  [key: string]: unknown;
}

/** The weight store in IndexedDB. */
export interface ModelStore {
  list(): Promise<StoredModel[]>;
  get(id: string): Promise<StoredModel | undefined>;
  has(source: string | URL | Blob): Promise<boolean>;
  delete(id: string): Promise<void>;
  usage(): Promise<{ usage: number | null; quota: number | null; persisted: boolean; models: number }>;
  persist(): Promise<boolean>;
}

/** The weight store, usable without loading anything. */
export const modelStore: ModelStore;

/** "98.4 MB" and the like. */
export function formatBytes(bytes: number): string;

export class TinyLM {
  /** Creates a TinyLM and loads `source` (see load()). */
  static load(source: string | URL | Blob, options?: ConstructorOptions & LoadOptions): Promise<TinyLM>;
  /** The weight store (same object as `modelStore`). */
  static readonly store: ModelStore;
  /** Whether a newer version of a stored model is published (its manifest). */
  static checkForUpdate(url: string, options?: { publicKey?: string | null; manifest?: string | object | null; manifestURL?: string | URL | null }):
    Promise<{ available: boolean; stored: unknown; latest: unknown; bytes: number }>;
  /** Downloads only the changed chunks of a stored model's new version and switches to it. */
  static update(url: string, options?: { onProgress?: ((progress: Progress) => void) | null; signal?: AbortSignal | null; publicKey?: string | null }):
    Promise<{ updated: boolean; version: string | null; sha256: string; downloadedBytes: number }>;
  /** A sentence-embedding model in a Worker of its own. */
  static loadEmbedder(source: string | URL | Blob, options?: ConstructorOptions & EmbedderLoadOptions): Promise<Embedder>;

  /** Starts the Worker (no model yet: call load()). */
  constructor(options?: ConstructorOptions);

  readonly worker: Worker;
  /** The result of the last load(), or null. */
  loaded: Loaded | null;
  /** The Embedder of the last loadEmbedder(), or null (lm.embeddings.create uses it). */
  embedder: Embedder | null;
  readonly info: ModelInfo | null;

  /** Loads a model from a URL (stored once in IndexedDB) or a picked File/Blob. */
  load(source: string | URL | Blob, options?: LoadOptions): Promise<Loaded>;
  /** Loads a sentence-embedding model into this Worker, beside the chat model. */
  loadEmbedder(source: string | URL | Blob, options?: EmbedderLoadOptions): Promise<Embedder>;
  /** Loads a LoRA adapter for the loaded model (downloaded once into IndexedDB, like models);
   *  checked like a model (TrustOptions); rejects with IntegrityError, SignatureError,
   *  NotAnAdapterError, AdapterArchitectureError, AdapterTensorError,
   *  AdapterShapeError or AdapterRankError when the file does not fit (the model stays loaded). */
  loadAdapter(source: string | URL | Blob, options?: AdapterLoadOptions): Promise<AdapterHandle>;
  /** Frees an adapter in the Worker; its stored file stays. */
  unloadAdapter(adapter: AdapterHandle): Promise<void>;

  /** A continuation of `prompt` (text, or token ids used as they are). */
  generate(prompt: string | number[] | ArrayLike<number>, options?: GenerateOptions): Promise<GenerateResult>;
  /** An answer to `messages` in the model's chat template; lm.chat.completions.create is the OpenAI-shaped call. */
  chat: ChatFunction;
  /** generate() as an async iterator of pieces. */
  stream(prompt: string | number[], options?: GenerateOptions): TinyLMStream<GenerateResult>;
  /** chat() as an async iterator of pieces. */
  streamChat(messages: ChatMessage[], options?: ChatOptions): TinyLMStream<ChatResult>;
  /** Tokens of a text (with BOS as generate() adds it) or of a conversation's prompt. */
  countTokens(input: string | ChatMessage[], options?: ChatTemplateOptions): Promise<number>;
  tokenize(text: string, options?: { addSpecial?: boolean }): Promise<number[]>;
  detokenize(ids: number[] | ArrayLike<number>): Promise<string>;
  /** The prompt text the chat template renders. */
  formatChat(messages: ChatMessage[], options?: ChatTemplateOptions): Promise<string>;
  /** Saves the conversation the last chat() answered (its KV cache) in IndexedDB. */
  saveSession(): Promise<{ saved: true; key: string; bytes: number; tokens: number; ms: number } | { saved: false; reason: string }>;
  /** Reopens a conversation saved with saveSession(): the next chat() evaluates only the new message. */
  restoreSession(messages: ChatMessage[], options?: ChatTemplateOptions):
    Promise<{ restored: true; tokens: number; bytes: number; ms: number; alreadyCached: boolean } | { restored: false; reason: string }>;
  status(): Promise<Status>;
  /** Frees the model (the Worker and the stored weights stay); stops a generation in progress. */
  unload(): Promise<void>;
  /** Stops the Worker at once; this object is unusable afterwards. */
  terminate(): void;
  /** Test-only switches inside the Worker. */
  testHook(hook: string, value: unknown): Promise<boolean>;

  /** OpenAI-shaped text completions (openai.js). */
  readonly completions: Completions;
  /** OpenAI-shaped embeddings of the loaded embedder (openai.js). */
  readonly embeddings: Embeddings;
  /** The loaded models as the API's model objects. */
  readonly models: Models;
}

/** A LoRA adapter loaded for the model (TinyLM.loadAdapter). */
export declare class AdapterHandle {
  /** The store id: the file's absolute URL, or a name for a picked File. */
  readonly id: string;
  readonly size: number;
  readonly sha256: string;
  /** Whether loading it downloaded it (false: it came from IndexedDB). */
  readonly downloaded: boolean;
  readonly refetched: boolean;
  readonly verified: boolean;
  readonly verification: { source: string; reason: string | null } | null;
  readonly version: string | null;
  readonly update: { version: string; size: number; bytes: number } | null;
  readonly info: { architecture: string; name: string; alpha: number; matrices: number; maxRank: number; weightBytes: number };
}
