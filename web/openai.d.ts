// Types of web/openai.js: the OpenAI-compatible calls of a TinyLM (lm.chat.completions.create,
// lm.completions.create, lm.embeddings.create, lm.models). Field names and types follow the
// OpenAI API reference; what TinyLM does not support is left out (see openai.js).

export interface ChatCompletionContentPartText { type: 'text'; text: string }
export interface ChatCompletionContentPartRefusal { type: 'refusal'; refusal: string }

export interface ChatCompletionMessageToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type ChatCompletionMessageParam =
  | { role: 'system' | 'developer'; content: string | ChatCompletionContentPartText[]; name?: string }
  | { role: 'user'; content: string | ChatCompletionContentPartText[]; name?: string }
  | {
    role: 'assistant';
    content?: string | Array<ChatCompletionContentPartText | ChatCompletionContentPartRefusal> | null;
    refusal?: string | null;
    tool_calls?: ChatCompletionMessageToolCall[];
    name?: string;
  }
  | { role: 'tool'; content: string | ChatCompletionContentPartText[]; tool_call_id: string };

/** A JSON Schema (any JSON object). */
export type JSONSchema = { [key: string]: unknown };

export interface ChatCompletionTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: JSONSchema; strict?: boolean | null };
}

export type ChatCompletionToolChoiceOption = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; description?: string; schema: JSONSchema; strict?: boolean | null } };

/** Fields shared by chat and text completion requests. */
interface SamplingParams {
  /** Accepted and ignored: the loaded model answers. */
  model?: string;
  /** Left out: the model's recommended temperature (lm.loaded.sampling). */
  temperature?: number | null;
  top_p?: number | null;
  /** Left out: a random seed. The same seed gives the same text as lm.chat()/lm.generate(). */
  seed?: number | null;
  stop?: string | string[] | null;
  /** Only 1. */
  n?: 1 | null;
  /** Only 0. */
  frequency_penalty?: 0 | null;
  /** Only 0. */
  presence_penalty?: 0 | null;
  /** Only empty. */
  logit_bias?: Record<string, never> | null;
  user?: string;
  stream_options?: { include_usage?: boolean } | null;
  /** llama.cpp's sampling names, beside the API's own. */
  top_k?: number | null;
  min_p?: number | null;
  repeat_penalty?: number | null;
}

export interface ChatCompletionCreateParamsBase extends SamplingParams {
  messages: ChatCompletionMessageParam[];
  /** Left out: the rest of the context. */
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  response_format?: ResponseFormat;
  /** The answer is a call of one of them ('auto' calls one too; 'none' answers without them). */
  tools?: ChatCompletionTool[];
  tool_choice?: ChatCompletionToolChoiceOption;
  parallel_tool_calls?: boolean;
  /** Only false. */
  logprobs?: false | null;
  top_logprobs?: 0 | null;
  metadata?: Record<string, string> | null;
  store?: boolean | null;
  stream?: boolean | null;
}
export interface ChatCompletionCreateParamsNonStreaming extends ChatCompletionCreateParamsBase { stream?: false | null }
export interface ChatCompletionCreateParamsStreaming extends ChatCompletionCreateParamsBase { stream: true }

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** cached_tokens: prompt tokens the KV cache already held (not evaluated again). */
  prompt_tokens_details: { cached_tokens: number };
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface ChatCompletionMessage {
  role: 'assistant';
  content: string | null;
  refusal: string | null;
  tool_calls?: ChatCompletionMessageToolCall[];
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  /** The loaded model's file name. */
  model: string;
  system_fingerprint: string | null;
  choices: Array<{ index: number; message: ChatCompletionMessage; logprobs: null; finish_reason: FinishReason }>;
  usage: CompletionUsage;
}

export interface ChatCompletionChunkToolCall {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint: string | null;
  choices: Array<{
    index: number;
    delta: { role?: 'assistant'; content?: string | null; refusal?: string | null; tool_calls?: ChatCompletionChunkToolCall[] };
    logprobs: null;
    finish_reason: FinishReason | null;
  }>;
  /** Set on the last chunk only. */
  usage: CompletionUsage | null;
}

/** A streamed response: iterate it with for await; `controller.abort()` (or break) stops it. */
export interface Stream<T> extends AsyncIterable<T> {
  controller: AbortController;
}

/** The OpenAI client's per-request options (only `signal` has an effect). */
export interface RequestOptions {
  signal?: AbortSignal | null;
  timeout?: number;
  maxRetries?: number;
  headers?: Record<string, string>;
}

export interface CompletionCreateParamsBase extends SamplingParams {
  /** A string, token ids, or a one-element list of either. */
  prompt: string | number[] | [string] | [number[]];
  /** Default 16, as the API's. */
  max_tokens?: number | null;
  echo?: boolean | null;
  /** Not supported (null only). */
  suffix?: null;
  best_of?: 1 | null;
  logprobs?: 0 | null;
  stream?: boolean | null;
}
export interface CompletionCreateParamsNonStreaming extends CompletionCreateParamsBase { stream?: false | null }
export interface CompletionCreateParamsStreaming extends CompletionCreateParamsBase { stream: true }

export interface Completion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  system_fingerprint: string | null;
  choices: Array<{ text: string; index: number; logprobs: null; finish_reason: FinishReason | null }>;
  /** Set on a whole completion and on the last chunk of a stream. */
  usage: CompletionUsage | null;
}

export interface EmbeddingCreateParams {
  input: string | string[];
  model?: string;
  encoding_format?: 'float' | 'base64';
  /** Only the embedder's own size. */
  dimensions?: number;
  user?: string;
}

export interface Embedding { object: 'embedding'; index: number; embedding: number[] }
/** encoding_format 'base64': each embedding is the base64 of its little-endian float32 bytes. */
export interface EmbeddingBase64 { object: 'embedding'; index: number; embedding: string }

export interface CreateEmbeddingResponse<E = Embedding> {
  object: 'list';
  data: E[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

export interface Model { id: string; object: 'model'; created: number; owned_by: string }

export interface ChatCompletions {
  create(body: ChatCompletionCreateParamsNonStreaming, options?: RequestOptions): Promise<ChatCompletion>;
  create(body: ChatCompletionCreateParamsStreaming, options?: RequestOptions): Promise<Stream<ChatCompletionChunk>>;
  create(body: ChatCompletionCreateParamsBase, options?: RequestOptions): Promise<ChatCompletion | Stream<ChatCompletionChunk>>;
}

export interface Completions {
  create(body: CompletionCreateParamsNonStreaming, options?: RequestOptions): Promise<Completion>;
  create(body: CompletionCreateParamsStreaming, options?: RequestOptions): Promise<Stream<Completion>>;
  create(body: CompletionCreateParamsBase, options?: RequestOptions): Promise<Completion | Stream<Completion>>;
}

export interface Embeddings {
  create(body: EmbeddingCreateParams & { encoding_format: 'base64' }, options?: RequestOptions): Promise<CreateEmbeddingResponse<EmbeddingBase64>>;
  create(body: EmbeddingCreateParams, options?: RequestOptions): Promise<CreateEmbeddingResponse>;
}

export interface Models {
  list(): Promise<{ object: 'list'; data: Model[] }>;
  retrieve(id: string): Promise<Model>;
}

/** The API's error fields on TinyLM's named errors. */
export interface OpenAIErrorFields {
  /** e.g. 'invalid_request_error', 'server_error', 'request_aborted'. */
  type: string;
  /** e.g. 'unknown_parameter', 'unsupported_value', 'context_length_exceeded', 'model_not_found'. */
  code: string | null;
  /** The request field at fault, if one is. */
  param: string | null;
  /** The HTTP status the API would have answered with. */
  status: number;
  /** The API's error body. */
  error: { message: string; type: string; param: string | null; code: string | null };
}

export type OpenAIError = Error & OpenAIErrorFields;

/** Gives a TinyLM error the API's error fields (in place) and returns it. */
export function openAIError(error: unknown, fields?: { code?: string | null; param?: string | null }): OpenAIError;

/** The OpenAI-shaped namespaces of one TinyLM (tinylm.js puts them on every TinyLM). */
export class OpenAICompatible {
  constructor(lm: import('./tinylm.js').TinyLM);
  readonly lm: import('./tinylm.js').TinyLM;
  readonly chat: { completions: ChatCompletions };
  readonly completions: Completions;
  readonly embeddings: Embeddings;
  readonly models: Models;
}
