// Reads a tool call out of a chat answer while it is being generated, so that a stream can send
// the call in pieces as the OpenAI API does: the answer's own text as `content`, then, once the
// model opens a call, one delta with the call's id and name and empty arguments, then the
// arguments' text in fragments as the model writes them.
//
// It follows the shape the engine's tool-call grammar enforces (Sources/TinyLM/Grammar/
// ToolCalling.swift): the format's opening (Qwen/Hermes `<tool_call>\n`, Phi-4-mini
// `<|tool_call|>[`; none for Llama 3.x, SmolLM2, Gemma: then a call is a JSON object at the
// start of the answer, as the engine's lazy constraint triggers), then
// `{"name": "<name>", "<argumentsKey>": <arguments>}`. The arguments' fragments are the model's
// text of that JSON value, from its first to its last character: joined, they equal the
// `arguments` the engine's parser returns for the finished text (ToolCallOutput.swift keeps
// the value as written). Text after the call (its closing) is not content.

const WHITESPACE = /\s/;

export class ToolCallStream {
  /** `format`: {prefix, argumentsKey, callsInList} as Model.toolCallPrompt returns it. */
  constructor(format) {
    this.marker = (format.prefix ?? '').trimEnd();
    this.leading = format.callsInList ? '[' : '{';
    this.argumentsKey = format.argumentsKey || 'arguments';
    this.state = 'text'; // 'text' → 'call' (or 'plain' when no call can start any more)
    this.pending = '';   // text held back: it may begin the call's opening
    this.content = '';   // all content so far
    this.call = '';      // the call's text after the marker
    this.name = null;
    this.id = null;
    this.argumentsStart = -1; // index in `call` of the arguments' first character
    this.scanned = -1;        // index in `call` up to which the arguments were scanned
    this.sent = -1;           // index in `call` up to which fragments were sent
    this.argumentsEnd = -1;   // index in `call` just after the arguments' last character
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.arguments = '';
  }

  /** Whether the model has opened a call. */
  get started() { return this.state === 'call'; }

  /** The call as streamed so far: {id, name, arguments} (null before its name is known). */
  get streamed() { return this.name === null ? null : { id: this.id, name: this.name, arguments: this.arguments }; }

  /**
   * Takes the next piece of generated text; returns {content, toolCalls}: the text to show as
   * the answer's content now ('' when none), and the OpenAI stream deltas for the call
   * (`[{index: 0, id, type: 'function', function: {name, arguments: ''}}]` once the name is
   * complete, then `[{index: 0, function: {arguments: fragment}}]`), or null.
   */
  push(text) {
    let content = '';
    if (this.state === 'plain') content = text;
    else if (this.state === 'text') content = this.#findOpening(text);
    else this.call += text;
    this.content += content;
    return { content, toolCalls: this.state === 'call' ? this.#callDeltas() : null };
  }

  /** The end of the answer: returns the content still held back (text that only looked like the start of a call). */
  finish() {
    if (this.state === 'call') return '';
    const rest = this.pending;
    this.pending = '';
    this.content += rest;
    return rest;
  }

  #findOpening(text) {
    this.pending += text;
    if (!this.marker) {
      // A call is a JSON object at the start of the answer (after whitespace).
      const start = this.pending.search(/\S/);
      if (start < 0) return '';
      if (this.pending[start] === this.leading) {
        this.state = 'call';
        this.call = this.pending.slice(start);
        this.pending = '';
        return '';
      }
      this.state = 'plain';
      const shown = this.pending;
      this.pending = '';
      return shown;
    }
    const at = this.pending.indexOf(this.marker);
    if (at >= 0) {
      const shown = this.pending.slice(0, at);
      this.state = 'call';
      this.call = this.pending.slice(at + this.marker.length);
      this.pending = '';
      return shown;
    }
    // Hold back the longest end of the text that may begin the marker.
    let keep = Math.min(this.marker.length - 1, this.pending.length);
    while (keep > 0 && !this.marker.startsWith(this.pending.slice(-keep))) keep--;
    const shown = this.pending.slice(0, this.pending.length - keep);
    this.pending = this.pending.slice(this.pending.length - keep);
    return shown;
  }

  #callDeltas() {
    const deltas = [];
    if (this.name === null) {
      const match = /^\s*\[?\s*\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")/.exec(this.call);
      if (!match) return null;
      this.name = JSON.parse(match[1]);
      this.id = `call_${randomHex(12)}`;
      this.scanned = match[0].length;
      deltas.push({ index: 0, id: this.id, type: 'function', function: { name: this.name, arguments: '' } });
    }
    if (this.argumentsStart < 0) {
      const key = JSON.stringify(this.argumentsKey).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const match = new RegExp(`^\\s*,\\s*${key}\\s*:\\s*(?=\\S)`).exec(this.call.slice(this.scanned));
      if (!match) return deltas.length ? deltas : null;
      this.argumentsStart = this.scanned + match[0].length;
      this.scanned = this.sent = this.argumentsStart;
    }
    if (this.argumentsEnd < 0) this.#scanArguments();
    const until = this.argumentsEnd >= 0 ? this.argumentsEnd : this.#safeEnd();
    if (until > this.sent) {
      const fragment = this.call.slice(this.sent, until);
      this.sent = until;
      this.arguments += fragment;
      deltas.push({ index: 0, function: { arguments: fragment } });
    }
    return deltas.length ? deltas : null;
  }

  /** Follows the arguments' JSON value to its end (strings, nesting). */
  #scanArguments() {
    const first = this.call[this.argumentsStart];
    const scalar = first !== '{' && first !== '[' && first !== '"';
    for (let i = this.scanned; i < this.call.length; i++) {
      const c = this.call[i];
      if (scalar) {
        if (c === ',' || c === '}' || c === ']' || WHITESPACE.test(c)) { this.argumentsEnd = i; return; }
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') {
          this.inString = false;
          if (this.depth === 0) { this.argumentsEnd = i + 1; return; }
        }
      } else if (c === '"') this.inString = true;
      else if (c === '{' || c === '[') this.depth++;
      else if (c === '}' || c === ']') {
        this.depth--;
        if (this.depth === 0) { this.argumentsEnd = i + 1; return; }
      }
      this.scanned = i + 1;
    }
    this.scanned = this.call.length;
  }

  /** How far the arguments may be sent before their end is known (a number or word waits for its end). */
  #safeEnd() {
    const first = this.call[this.argumentsStart];
    return first === '{' || first === '[' || first === '"' ? this.scanned : this.sent;
  }
}

function randomHex(bytes) {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
}
