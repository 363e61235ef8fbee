// The OpenAI-compatible surface of a TinyLM: code written for the OpenAI JavaScript client runs
// on the model in the page with one line changed (`new OpenAI()` → `await TinyLM.load(url)`).
//
//   const lm = await TinyLM.load('models/SmolLM2-135M-Instruct.Q4_1.gguf');
//   const completion = await lm.chat.completions.create({ messages: [{ role: 'user', content: 'Hi!' }] });
//   completion.choices[0].message.content;
//   for await (const chunk of await lm.chat.completions.create({ messages, stream: true }))
//     chunk.choices[0]?.delta?.content;
//   await lm.completions.create({ prompt: 'Once upon a time', max_tokens: 30 });
//   await lm.embeddings.create({ input: ['first', 'second'] });  // after lm.loadEmbedder(url)
//
// Requests and responses have the field names and types of the OpenAI API reference (Chat
// Completions, Completions, Embeddings). The translation is thin: each call is one lm.chat(),
// lm.generate() or embedder call, so the same seed gives the same text through either API.
// What differs, because one small model runs in the page:
// - `model` is accepted and ignored: the loaded model answers, and responses name it.
// - `n` must be 1; `logprobs`, `logit_bias`, penalties other than 0 are unsupported (errors).
// - Settings left out take the model's recommended sampling (lm.loaded.sampling), not
//   OpenAI's temperature 1; the seed is random unless given. top_k, min_p and repeat_penalty
//   (llama.cpp's names) are accepted besides the API's own.
// - With `tools`, tool_choice 'auto' (the default) lets the model answer in text or call a tool;
//   once it opens a call, the engine holds the rest to a valid call of one of the tools (one call
//   per answer: parallel_tool_calls is accepted, the model makes one). 'required' and
//   {type: 'function', function: {name}} force a call; 'none' answers as without the tools.
// - A streamed tool call comes as the API streams one: a delta with the call's id, type, name
//   and empty arguments, then the arguments' text in fragments as the model writes it.
// - The last chunk of a stream carries `usage` (with stream_options.include_usage, as the API
//   does: one more chunk with empty `choices`).
// Errors are TinyLM's named errors (`name`: InvalidArgumentError, ContextOverflowError, …) that
// also carry the API's error fields: `type`, `code`, `param`, `status` and `error: {message,
// type, param, code}` (the body the API sends, which the OpenAI client exposes as `error.error`).

import { namedError, checkOptions } from './protocol.js';

/** The request fields of chat.completions.create() and their kinds (protocol.js). */
const CHAT_PARAMETERS = Object.freeze({
  model: 'string', messages: 'array', stream: 'boolean', stream_options: 'object',
  max_tokens: 'integer', max_completion_tokens: 'integer', temperature: 'number', top_p: 'number', seed: 'integer',
  stop: 'stringOrStrings', response_format: 'object', tools: 'array', tool_choice: 'toolChoice', parallel_tool_calls: 'boolean',
  n: 'integer', frequency_penalty: 'number', presence_penalty: 'number', logprobs: 'boolean', top_logprobs: 'integer',
  logit_bias: 'object', user: 'string', metadata: 'object', store: 'boolean',
  top_k: 'integer', min_p: 'number', repeat_penalty: 'number',
});

/** The request fields of completions.create(). */
const COMPLETION_PARAMETERS = Object.freeze({
  model: 'string', prompt: 'any', stream: 'boolean', stream_options: 'object', max_tokens: 'integer', temperature: 'number',
  top_p: 'number', seed: 'integer', stop: 'stringOrStrings', echo: 'boolean', suffix: 'string', n: 'integer', best_of: 'integer',
  frequency_penalty: 'number', presence_penalty: 'number', logprobs: 'integer', logit_bias: 'object', user: 'string',
  top_k: 'integer', min_p: 'number', repeat_penalty: 'number',
});

/** The request fields of embeddings.create(). */
const EMBEDDING_PARAMETERS = Object.freeze({ model: 'string', input: 'any', encoding_format: 'string', dimensions: 'integer', user: 'string' });

/** The options a create() call takes besides the request (the OpenAI client's request options). */
const REQUEST_OPTIONS = Object.freeze({ signal: 'signal', timeout: 'integer', maxRetries: 'integer', headers: 'object' });

/** Fields the API has that one model in the page cannot honour, with the only value allowed. */
const ONLY_DEFAULT = Object.freeze({ n: 1, best_of: 1, frequency_penalty: 0, presence_penalty: 0, logprobs: [false, 0], top_logprobs: 0 });

/** TinyLM's finish reasons in the API's words. */
const FINISH_REASONS = Object.freeze({
  eog: 'stop', stop: 'stop', grammar: 'stop', length: 'length', context: 'length', constraint_budget: 'length', tool_calls: 'tool_calls',
});

/** The API's error fields for each of TinyLM's error names: [type, status, code]. */
const ERROR_FIELDS = Object.freeze({
  InvalidArgumentError: ['invalid_request_error', 400, 'invalid_value'],
  ContextOverflowError: ['invalid_request_error', 400, 'context_length_exceeded'],
  TemplateError: ['invalid_request_error', 400, 'template_error'],
  GrammarError: ['invalid_request_error', 400, 'invalid_grammar'],
  InvalidStateError: ['invalid_request_error', 409, 'model_not_loaded'],
  AbortError: ['request_aborted', 499, 'aborted'],
  OutOfMemoryError: ['server_error', 500, 'out_of_memory'],
  WorkerError: ['server_error', 500, 'worker_failed'],
});

/**
 * Gives a TinyLM error the API's error fields (in place; returns it): `type`, `code`, `param`,
 * `status`, and `error` ({message, type, param, code}, the API's error body). `name` and
 * `message` stay TinyLM's, and so do fields such as AbortError's `partial`.
 */
export function openAIError(error, { code = null, param = null } = {}) {
  if (!(error instanceof Error)) error = namedError('Error', String(error));
  if (error.error?.type) return error; // already converted
  const [type, status, defaultCode] = ERROR_FIELDS[error.name] ?? ['server_error', 500, 'internal_error'];
  const unknown = Object.hasOwn(error, 'suggestion');
  error.type = type;
  error.status = status;
  error.param = param ?? error.option ?? null;
  error.code = code ?? (unknown ? 'unknown_parameter' : defaultCode);
  error.error = { message: error.message, type, param: error.param, code: error.code };
  return error;
}

function invalid(message, param, code = 'invalid_value') {
  return openAIError(namedError('InvalidArgumentError', message, { option: param }), { code, param });
}

/**
 * The OpenAI-shaped namespaces of one TinyLM: `chat.completions`, `completions`, `embeddings`
 * and `models`. tinylm.js puts them on every TinyLM (lm.chat.completions.create, …).
 */
export class OpenAICompatible {
  /** `lm`: the TinyLM whose model (and lm.embedder) answer. */
  constructor(lm) {
    this.lm = lm;
    /** chat.completions.create(request, {signal}): a chat.completion, or (stream: true) an async iterable of chat.completion.chunk. */
    this.chat = { completions: { create: (request, options) => this.#chatCompletion(request, options) } };
    /** completions.create(request, {signal}): a text_completion, or (stream: true) an async iterable of them. */
    this.completions = { create: (request, options) => this.#completion(request, options) };
    /** embeddings.create({input}): {object: 'list', data: [{object: 'embedding', index, embedding}], model, usage}. */
    this.embeddings = { create: (request, options) => this.#embeddings(request, options) };
    /** models.list() / models.retrieve(id): the loaded model (and embedder) as the API's model objects. */
    this.models = { list: async () => this.#models(), retrieve: async (id) => this.#model(id) };
  }

  async #chatCompletion(request, requestOptions = {}) {
    let options;
    let messages;
    try {
      checkRequest(request, CHAT_PARAMETERS, 'chat.completions.create()', requestOptions);
      messages = chatMessages(request.messages);
      options = { ...samplingOptions(request), signal: requestOptions?.signal ?? undefined };
      const maxTokens = request.max_completion_tokens ?? request.max_tokens;
      if (maxTokens != null) options.maxTokens = maxTokens;
      const responseFormat = responseFormatOption(request.response_format);
      if (responseFormat) options.responseFormat = responseFormat;
      const tools = request.tools?.length && request.tool_choice !== 'none' ? request.tools : null;
      if (tools) {
        options.tools = tools;
        if (request.tool_choice != null) options.toolChoice = request.tool_choice;
        if (responseFormat) throw invalid('response_format cannot be combined with tools: the answer is a tool call', 'response_format');
      }
    } catch (error) {
      throw openAIError(error);
    }
    const shape = this.#shape('chatcmpl');
    if (!request.stream) {
      let result;
      try {
        result = await this.lm.chat(messages, options);
      } catch (error) {
        throw openAIError(error);
      }
      const content = result.toolCalls ? (result.content?.trim() || null) : result.text;
      const message = { role: 'assistant', content, refusal: null };
      if (result.toolCalls) message.tool_calls = result.toolCalls;
      return {
        ...shape, object: 'chat.completion',
        choices: [{ index: 0, message, logprobs: null, finish_reason: FINISH_REASONS[result.reason] ?? 'stop' }],
        usage: usageOf(result),
      };
    }
    const includeUsage = request.stream_options?.include_usage === true;
    const stream = this.lm.streamChat(messages, options);
    const tools = Boolean(options.tools);
    const chunk = (delta, finishReason = null, usage = null) => ({
      ...shape, object: 'chat.completion.chunk',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }], usage,
    });
    return streamOf(stream, requestOptions?.signal, async function* pieces() {
      yield chunk({ role: 'assistant', content: '' });
      let streamedCalls = 0;
      for await (const piece of stream) {
        // With tools the Worker splits each piece into the answer's content and the call's deltas.
        const content = tools ? piece.content : piece.text;
        if (content) yield chunk({ content });
        if (piece.toolCalls) {
          for (const delta of piece.toolCalls) {
            if (delta.id) streamedCalls = Math.max(streamedCalls, delta.index + 1);
            yield chunk({ tool_calls: [delta] });
          }
        }
      }
      const result = await stream.result;
      // Calls the stream could not follow piece by piece (none with the engine's grammar) come whole.
      const rest = (result.toolCalls ?? []).slice(streamedCalls).map((call, i) => ({ index: streamedCalls + i, ...call }));
      if (rest.length) yield chunk({ tool_calls: rest });
      const usage = usageOf(result);
      yield chunk({}, FINISH_REASONS[result.reason] ?? 'stop', includeUsage ? null : usage);
      if (includeUsage) yield { ...shape, object: 'chat.completion.chunk', choices: [], usage };
    });
  }

  async #completion(request, requestOptions = {}) {
    let options;
    let prompt;
    try {
      checkRequest(request, COMPLETION_PARAMETERS, 'completions.create()', requestOptions);
      prompt = completionPrompt(request.prompt);
      if (request.suffix != null) throw invalid('suffix is not supported: the models TinyLM runs do not fill in the middle', 'suffix', 'unsupported_parameter');
      // The API's default for this (legacy) call is 16 tokens.
      options = { ...samplingOptions(request), maxTokens: request.max_tokens ?? 16, signal: requestOptions?.signal ?? undefined };
    } catch (error) {
      throw openAIError(error);
    }
    const shape = this.#shape('cmpl');
    const echo = request.echo === true && typeof prompt === 'string' ? prompt : '';
    const choice = (text, finishReason = null) => ({ text, index: 0, logprobs: null, finish_reason: finishReason });
    if (!request.stream) {
      let result;
      try {
        result = await this.lm.generate(prompt, options);
      } catch (error) {
        throw openAIError(error);
      }
      return { ...shape, object: 'text_completion', choices: [choice(echo + result.text, FINISH_REASONS[result.reason] ?? 'stop')], usage: usageOf(result) };
    }
    const includeUsage = request.stream_options?.include_usage === true;
    const stream = this.lm.stream(prompt, options);
    const chunk = (choices, usage = null) => ({ ...shape, object: 'text_completion', choices, usage });
    return streamOf(stream, requestOptions?.signal, async function* pieces() {
      if (echo) yield chunk([choice(echo)]);
      for await (const piece of stream) if (piece.text) yield chunk([choice(piece.text)]);
      const result = await stream.result;
      const usage = usageOf(result);
      yield chunk([choice('', FINISH_REASONS[result.reason] ?? 'stop')], includeUsage ? null : usage);
      if (includeUsage) yield chunk([], usage);
    });
  }

  async #embeddings(request, requestOptions = {}) {
    try {
      checkRequest(request, EMBEDDING_PARAMETERS, 'embeddings.create()', requestOptions);
      const embedder = this.lm.embedder;
      if (!embedder) {
        throw openAIError(namedError('InvalidStateError', 'no embedder is loaded: call lm.loadEmbedder(url) first'), { code: 'model_not_found', param: 'model' });
      }
      const { input } = request;
      const single = typeof input === 'string';
      if (!single && !(Array.isArray(input) && input.length > 0 && input.every((text) => typeof text === 'string'))) {
        throw invalid('input must be a string or a non-empty array of strings (token arrays are not supported)', 'input');
      }
      const format = request.encoding_format ?? 'float';
      if (format !== 'float' && format !== 'base64') throw invalid(`encoding_format must be 'float' or 'base64', not '${format}'`, 'encoding_format');
      if (request.dimensions != null && request.dimensions !== embedder.dimensions) {
        throw invalid(`dimensions: this embedder makes vectors of ${embedder.dimensions} dimensions and cannot shorten them`, 'dimensions', 'unsupported_value');
      }
      const { vectors, tokenCounts } = await embedder.embedDetailed(single ? [input] : input, { signal: requestOptions?.signal ?? null });
      const tokens = tokenCounts.reduce((sum, count) => sum + count, 0);
      return {
        object: 'list',
        data: vectors.map((vector, index) => ({ object: 'embedding', index, embedding: format === 'base64' ? base64(vector) : Array.from(vector) })),
        model: embedder.info.name,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      };
    } catch (error) {
      throw openAIError(error);
    }
  }

  #models() {
    const data = [];
    if (this.lm.loaded) data.push(this.#model(modelName(this.lm)));
    if (this.lm.embedder) data.push({ id: this.lm.embedder.info.name, object: 'model', created: 0, owned_by: 'tinylm' });
    return { object: 'list', data };
  }

  #model(id) {
    return { id, object: 'model', created: 0, owned_by: 'tinylm' };
  }

  /** The fields every response object shares. */
  #shape(prefix) {
    const sha256 = this.lm.loaded?.sha256;
    return {
      id: `${prefix}-${randomID()}`,
      created: Math.floor(Date.now() / 1000),
      model: modelName(this.lm),
      // The API's "backend configuration" fingerprint: the model file's hash (null when not stored).
      system_fingerprint: sha256 ? `fp_${sha256.slice(0, 12)}` : null,
    };
  }
}

/** Checks a request's fields and the call's options; rejects unsupported values. */
function checkRequest(request, table, where, requestOptions) {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) throw invalid(`${where} takes a request object`, null);
  checkOptions(request, table, where);
  checkOptions(requestOptions, REQUEST_OPTIONS, `${where} options`);
  for (const [key, allowed] of Object.entries(ONLY_DEFAULT)) {
    const value = request[key];
    if (value == null || (Array.isArray(allowed) ? allowed.includes(value) : value === allowed)) continue;
    throw invalid(`${key} = ${JSON.stringify(value)} is not supported by TinyLM (only ${JSON.stringify(Array.isArray(allowed) ? allowed[0] : allowed)})`, key, 'unsupported_value');
  }
  if (request.logit_bias && Object.keys(request.logit_bias).length) throw invalid('logit_bias is not supported by TinyLM', 'logit_bias', 'unsupported_parameter');
}

/** TinyLM sampling options from the API's fields. */
function samplingOptions(request) {
  const options = {};
  const names = { temperature: 'temperature', top_p: 'topP', seed: 'seed', top_k: 'topK', min_p: 'minP', repeat_penalty: 'repeatPenalty' };
  for (const [from, to] of Object.entries(names)) if (request[from] != null) options[to] = request[from];
  if (request.stop != null) options.stop = typeof request.stop === 'string' ? [request.stop] : request.stop;
  return options;
}

/** The API's messages as TinyLM's chat takes them: text parts joined, 'developer' as 'system'. */
function chatMessages(messages) {
  if (!Array.isArray(messages) || messages.length === 0) throw invalid('messages must be a non-empty array', 'messages');
  return messages.map((message, index) => {
    if (typeof message !== 'object' || message === null) throw invalid(`messages[${index}] must be an object`, `messages[${index}]`);
    const { role, content, ...rest } = message;
    if (!['system', 'developer', 'user', 'assistant', 'tool'].includes(role)) {
      throw invalid(`messages[${index}].role must be 'system', 'developer', 'user', 'assistant' or 'tool', not ${JSON.stringify(role)}`, `messages[${index}].role`);
    }
    return { ...rest, role: role === 'developer' ? 'system' : role, content: messageText(content, index) };
  });
}

function messageText(content, index) {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part, i) => {
      if (part?.type === 'text' && typeof part.text === 'string') return part.text;
      if (part?.type === 'refusal' && typeof part.refusal === 'string') return part.refusal;
      throw invalid(`messages[${index}].content[${i}]: only text parts are supported, not ${JSON.stringify(part?.type)}`,
        `messages[${index}].content`, 'unsupported_value');
    }).join('');
  }
  throw invalid(`messages[${index}].content must be a string or an array of text parts`, `messages[${index}].content`);
}

/** TinyLM's responseFormat for the API's response_format. */
function responseFormatOption(format) {
  if (format == null || format.type === 'text') return null;
  if (format.type === 'json_object') return { type: 'json_object' };
  if (format.type === 'json_schema') {
    const schema = format.json_schema?.schema;
    if (typeof schema !== 'object' || schema === null) throw invalid('response_format.json_schema.schema must be a JSON Schema object', 'response_format.json_schema.schema');
    return { type: 'json_schema', schema };
  }
  throw invalid(`response_format.type must be 'text', 'json_object' or 'json_schema', not ${JSON.stringify(format.type)}`, 'response_format.type');
}

/** A completions prompt: a string, token ids, or a list holding one of either. */
function completionPrompt(prompt) {
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt) && prompt.length > 0 && prompt.every(Number.isInteger)) return prompt;
  if (Array.isArray(prompt) && prompt.length === 1) return completionPrompt(prompt[0]);
  throw invalid('prompt must be a string or an array of token ids (one prompt per call)', 'prompt');
}

function usageOf(result) {
  const prompt = result.usage.promptTokens;
  const completion = result.usage.completionTokens;
  return {
    prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: result.usage.reusedTokens ?? 0 },
  };
}

/**
 * A stream as the OpenAI client's: an async iterable of chunks with a `controller`
 * (AbortController) that stops it; breaking out of the loop stops the generation too.
 */
function streamOf(tinyStream, signal, pieces) {
  const controller = new AbortController();
  const stop = () => tinyStream.return();
  controller.signal.addEventListener('abort', stop, { once: true });
  signal?.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  const iterator = (async function* chunks() {
    try {
      yield* pieces();
    } catch (error) {
      throw openAIError(error);
    } finally {
      await tinyStream.return();
    }
  })();
  return { controller, [Symbol.asyncIterator]: () => iterator };
}

function modelName(lm) {
  const id = lm.loaded?.id;
  if (!id) return 'none';
  return String(id).split(/[/\\]/).pop().replace(/[?#].*$/, '') || String(id);
}

function randomID() {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** The little-endian float32 bytes of `vector` in base64 (the API's encoding_format: 'base64'). */
function base64(vector) {
  const bytes = new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
