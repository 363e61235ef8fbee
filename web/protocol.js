// The one request protocol between the page (tinylm.js, and openai.js through it) and the
// Worker (worker.js): the option names each request takes with their types, how an option is
// checked, and the named errors both sides throw and pass over postMessage.
//
// Messages: the page posts {id, type, ...payload}; the worker answers with any number of
// {id, type: 'progress' | 'token', ...} events and then exactly one {id, type: 'result', value}
// or {id, type: 'error', error: serializeError(error)}. {type: 'abort', id} cancels request `id`.
// A 'generate' request is {prompt | messages, chatOptions?: CHAT_OPTIONS, options: GENERATION_OPTIONS}.
//
// The same messages reach a SharedWorker (shared-engine.js, one engine for the tabs of a site)
// through a MessagePort (shared-engine-client.js), with two more that only the router sees:
// {type: 'hello', tab} first (tab: the name of a Web Lock the tab holds while it lives, so the
// router learns when it is gone) and {type: 'goodbye'} when the page lets go of the engine.
//
// Both sides check every option against the tables below: an unknown key (a typo such as
// `temprature`) is an InvalidArgumentError naming the key and the closest valid one, never a
// silently dropped setting. Ranges (temperature ≥ 0, topP in 0…1, …) are the core's to check
// (GenerationOptions+JSON.swift), so the rules live in one place each.

/** Creates an Error whose `name` says what happened (the web API's convention); `extra` adds fields. */
export function namedError(name, message, extra = {}) {
  const error = new Error(message);
  error.name = name;
  return Object.assign(error, extra);
}

/** The AbortError for an aborted `signal`: its reason when that is one, else a new one. */
export function abortError(signal) {
  const reason = signal?.reason;
  return reason?.name === 'AbortError' ? reason : namedError('AbortError', 'the operation was aborted');
}

/** The fields of an error that cross postMessage besides name and message. */
const ERROR_FIELDS = ['partial', 'bytesNeeded', 'chunkIndex', 'option', 'suggestion'];

/** An error as a plain object for postMessage: {name, message, …ERROR_FIELDS present}. */
export function serializeError(error) {
  const plain = { name: error?.name || 'Error', message: error?.message || String(error) };
  for (const key of ERROR_FIELDS) if (error?.[key] !== undefined) plain[key] = error[key];
  return plain;
}

/** The Error for a serialized one (the page's side of serializeError). */
export function deserializeError({ name, message, ...extra }) {
  return namedError(name, message, extra);
}

/**
 * The kinds of value an option takes. Each is a test and the words an error uses.
 */
const KINDS = {
  number: [(v) => typeof v === 'number' && Number.isFinite(v), 'a finite number'],
  integer: [(v) => Number.isInteger(v), 'a whole number'],
  boolean: [(v) => typeof v === 'boolean', 'true or false'],
  string: [(v) => typeof v === 'string', 'a string'],
  strings: [(v) => Array.isArray(v) && v.every((s) => typeof s === 'string'), 'an array of strings'],
  stringOrStrings: [(v) => typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string')), 'a string or an array of strings'],
  any: [() => true, 'anything'],
  object: [(v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'an object'],
  array: [(v) => Array.isArray(v), 'an array'],
  toolChoice: [(v) => ['auto', 'required', 'none'].includes(v) || (typeof v === 'object' && v !== null && !Array.isArray(v)),
    "'auto', 'required', 'none' or {type: 'function', function: {name}}"],
  function: [(v) => typeof v === 'function', 'a function'],
  url: [(v) => typeof v === 'string' || (typeof URL !== 'undefined' && v instanceof URL), 'a URL or a string'],
  signal: [(v) => typeof v === 'object' && v !== null && typeof v.aborted === 'boolean' && typeof v.addEventListener === 'function', 'an AbortSignal'],
};

/** What a generation takes, on the page and in the Worker (the wire options). */
export const GENERATION_OPTIONS = Object.freeze({
  temperature: 'number',
  topK: 'integer',
  topP: 'number',
  minP: 'number',
  repeatPenalty: 'number',
  repeatWindow: 'integer',
  seed: 'integer',
  maxTokens: 'integer',
  stop: 'strings',
  ignoreEOS: 'boolean',
  responseFormat: 'object',
  grammar: 'string',
});

/** How a conversation is rendered into a prompt (chat, countTokens, formatChat; the wire's chatOptions). */
export const CHAT_OPTIONS = Object.freeze({
  template: 'string',
  tools: 'array',
  toolChoice: 'toolChoice',
  addGenerationPrompt: 'boolean',
  continue: 'boolean',
});

/** Page-only options of a call (not sent to the Worker). */
export const CALL_OPTIONS = Object.freeze({ signal: 'signal', onToken: 'function' });

/** chat() with a knowledge base (page-only). */
export const GROUNDING_OPTIONS = Object.freeze({ knowledge: 'object', k: 'integer' });

/** new TinyLM(options): where the Worker and the modules are, how many threads run, whether the
 *  tabs of the site share one engine (sharedEngine: shared-engine-client.js). */
export const CONSTRUCTOR_OPTIONS = Object.freeze({
  workerURL: 'url', wasmURL: 'url', threadedWasmURL: 'url', threads: 'integer', adaptiveThreads: 'boolean', relaxedSimd: 'boolean',
  sharedEngine: 'boolean',
});

/** lm.load(source, options) and lm.loadEmbedder(source, options) (the latter without contextLength). */
export const LOAD_OPTIONS = Object.freeze({
  onProgress: 'function', signal: 'signal', sha256: 'string', contextLength: 'integer', store: 'boolean',
  // File manifests (model-trust.js): the manifest's text or object (false: none), where to fetch
  // it, the Ed25519 key it must be signed with, ms between revalidations of a stored model.
  manifest: 'any', manifestURL: 'url', publicKey: 'any', revalidateInterval: 'number',
});
/** What every published file's load takes to check it (model-trust.js, trusted-file.js). */
export const TRUST_OPTIONS = Object.freeze({ sha256: 'string', manifest: 'any', manifestURL: 'url', publicKey: 'any', revalidateInterval: 'number' });
export const EMBEDDER_LOAD_OPTIONS = Object.freeze({ onProgress: 'function', signal: 'signal', store: 'boolean', ...TRUST_OPTIONS });
/** lm.loadAdapter(source, options). */
export const ADAPTER_LOAD_OPTIONS = Object.freeze({ onProgress: 'function', signal: 'signal', store: 'boolean', ...TRUST_OPTIONS });

/** LoRA adapters of one generation ([{adapter, scale}], adapters.js): sent as the request's `adapters`. */
export const ADAPTER_OPTIONS = Object.freeze({ adapters: 'array' });

/** Every option of generate()/stream() and of chat()/streamChat(). */
export const GENERATE_CALL_OPTIONS = Object.freeze({ ...GENERATION_OPTIONS, ...CALL_OPTIONS, ...ADAPTER_OPTIONS });
export const CHAT_CALL_OPTIONS = Object.freeze({ ...GENERATION_OPTIONS, ...CHAT_OPTIONS, ...CALL_OPTIONS, ...GROUNDING_OPTIONS, ...ADAPTER_OPTIONS });

/**
 * Checks `options` (an object, or undefined/null for none) against `table` (name → kind):
 * throws InvalidArgumentError for a key the table lacks (naming the closest valid key, with
 * `option` and `suggestion` on the error) or a value of the wrong kind. An undefined or null
 * value counts as left out. `where` names the call in the message, e.g. 'generate()'.
 */
export function checkOptions(options, table, where) {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw namedError('InvalidArgumentError', `${where}: options must be an object`);
  }
  for (const key of Object.keys(options)) {
    const kind = Object.hasOwn(table, key) ? table[key] : null;
    if (kind === null) throw unknownOptionError(key, Object.keys(table), where);
    const value = options[key];
    if (value === undefined || value === null) continue;
    const [test, words] = KINDS[kind];
    if (!test(value)) {
      throw namedError('InvalidArgumentError', `${where}: option '${key}' must be ${words}, not ${describe(value)}`, { option: key });
    }
  }
}

/** The subset of `options` in `table`, without undefined values (what is sent over the wire). */
export function pickOptions(options, table) {
  const picked = {};
  for (const key of Object.keys(table)) if (options?.[key] !== undefined) picked[key] = options[key];
  return picked;
}

/** The InvalidArgumentError for an unknown option `key` among `valid` names. */
export function unknownOptionError(key, valid, where) {
  const suggestion = closestName(key, valid);
  const hint = suggestion ? `did you mean '${suggestion}'?` : `the options are ${valid.map((name) => `'${name}'`).join(', ')}`;
  return namedError('InvalidArgumentError', `${where}: unknown option '${key}': ${hint}`, { option: key, suggestion });
}

/**
 * The name in `names` nearest to `key` by edit distance (insertions, deletions, substitutions
 * and swaps of neighbours, ignoring case), or null when none is near: at most a third of the
 * longer name's letters (at least 1, at most 3) may differ.
 */
export function closestName(key, names) {
  let best = null;
  let bestDistance = Infinity;
  for (const name of names) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    const limit = Math.min(3, Math.max(1, Math.floor(Math.max(key.length, name.length) / 3)));
    if (distance <= limit && distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

/** Optimal string alignment distance (Damerau–Levenshtein without repeated edits of one substring). */
export function editDistance(a, b) {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const d = new Array(rows * columns);
  for (let i = 0; i < rows; i++) d[i * columns] = i;
  for (let j = 0; j < columns; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < columns; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[(i - 1) * columns + j] + 1, d[i * columns + j - 1] + 1, d[(i - 1) * columns + j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, d[(i - 2) * columns + j - 2] + 1);
      d[i * columns + j] = value;
    }
  }
  return d[rows * columns - 1];
}

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number') return String(value);
  return `a ${typeof value}`;
}
