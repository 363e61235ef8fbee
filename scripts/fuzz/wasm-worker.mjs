// The wasm worker of scripts/fuzz.py: the same protocol and the same case as the native worker
// (Sources/TinyLMFuzz), run through web/engine.js and tinylm.wasm under Node, plus manifest
// cases through web/manifest.js. A trap (WebAssembly.RuntimeError) is caught, reported with
// the case, and the module is instantiated afresh; wasm memory growth is reported per case.
//
// Frames on stdin: u32 length, then the payload (see Sources/TinyLMFuzz/main.swift), except
// that a manifest frame carries u32 n + trusted public key (hex), u32 n + the path of the file
// it describes (may be empty), then the text. Answers: u32 length, then a JSON object.

import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../web/engine.js';
import { parseManifest, canonicalManifestBytes, verifyManifestSignature, verifyFile } from '../../web/manifest.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const wasmPath = process.env.TINYLM_FUZZ_WASM ?? path.join(root, 'web/tinylm.wasm');
const FRONT_SLACK = 16 << 20; // as SeedBuffer.swift
const TAIL_SLACK = 1 << 16;
const SAMPLE_TEXT = new TextEncoder().encode('Hello world! <|im_start|>user\n 123 ü 😀 <bos>\t  the json');
const encoder = new TextEncoder();

let engine = null;
const seeds = new Map(); // index → {path, pristine: Uint8Array, pointer}
const baseModels = new Map(); // seed index → model handle (adapter cases; the pristine seed bytes)
const embedders = new Map(); // seed index → embedder handle (knowledge cases)

async function start() {
  engine = await Engine.create(new URL(`file://${wasmPath}`), { log: () => {} });
  baseModels.clear();
  embedders.clear();
  for (const seed of seeds.values()) place(seed);
}

function place(seed) {
  const total = FRONT_SLACK + seed.pristine.length + TAIL_SLACK;
  seed.pointer = engine.abi.tinylm_alloc(total);
  if (!seed.pointer) throw new Error(`cannot allocate ${total} bytes of wasm memory for a seed`);
  const memory = engine.bytes();
  memory.fill(0, seed.pointer, seed.pointer + total);
  memory.set(seed.pristine, seed.pointer + FRONT_SLACK);
}

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** The case's file inside the seed's wasm buffer (SeedBuffer.swift's algorithm); returns {pointer, length, dirty}. */
function view(seed, edits) {
  const size = seed.pristine.length;
  const base = seed.pointer + FRONT_SLACK;
  const memory = engine.bytes();
  for (const edit of edits) {
    if (edit.offset < 0 || edit.offset + edit.deleteCount > size) throw new Error(`edit ${edit.offset}+${edit.deleteCount} outside the seed`);
  }
  let tail = [...edits].reverse().find((e) => e.offset + e.deleteCount === size && e.insert.length !== e.deleteCount) ?? null;
  let prefixEnd = 0;
  for (const edit of edits) {
    if (edit.insert.length !== edit.deleteCount && !(tail && tail.offset === edit.offset)) prefixEnd = Math.max(prefixEnd, edit.offset + edit.deleteCount);
  }
  if (tail && tail.offset < prefixEnd) { prefixEnd = size; tail = null; }
  const parts = [];
  let cursor = 0;
  for (const edit of edits) {
    if (edit.offset >= prefixEnd) continue;
    parts.push(seed.pristine.subarray(cursor, edit.offset), edit.insert);
    cursor = edit.offset + edit.deleteCount;
  }
  parts.push(seed.pristine.subarray(Math.min(cursor, prefixEnd), prefixEnd));
  const prefixLength = parts.reduce((sum, part) => sum + part.length, 0);
  if (prefixLength - prefixEnd > FRONT_SLACK) throw new Error('the header grows by more than the slack');
  const start = base + prefixEnd - prefixLength;
  let at = start;
  for (const part of parts) { memory.set(part, at); at += part.length; }
  const dirty = [[start, prefixLength]];
  for (const edit of edits) {
    if (edit.offset >= prefixEnd && edit.insert.length === edit.deleteCount) {
      memory.set(edit.insert, base + edit.offset);
      dirty.push([base + edit.offset, edit.insert.length]);
    }
  }
  let end = base + size;
  if (tail) {
    if (tail.insert.length - tail.deleteCount > TAIL_SLACK) throw new Error('the tail grows by more than the slack');
    memory.set(tail.insert, base + tail.offset);
    dirty.push([base + tail.offset, tail.insert.length]);
    end = base + tail.offset + tail.insert.length;
  }
  return { pointer: start, length: end - start, dirty };
}

function restore(seed, dirty) {
  const base = seed.pointer + FRONT_SLACK;
  const memory = engine.bytes();
  for (const [start, count] of dirty) {
    const low = Math.max(start, base);
    const high = Math.min(start + count, base + seed.pristine.length);
    if (high > low) memory.set(seed.pristine.subarray(low - base, high - base), low);
  }
}

// --- the case: the same calls, in the same order, as Sources/TinyLMFuzz/ModelCase.swift ----

function lastError() {
  const abi = engine.abi;
  const code = abi.tinylm_last_error_code();
  const memory = engine.bytes();
  let end = abi.tinylm_last_error_message();
  const begin = end;
  while (memory[end] !== 0) end++;
  return { code, message: new TextDecoder().decode(memory.slice(begin, end)) };
}

function withBytes(data, body) {
  const abi = engine.abi;
  const pointer = data.length > 0 ? abi.tinylm_alloc(data.length) : 0;
  if (data.length > 0 && !pointer) throw new Error('tinylm_alloc failed');
  if (data.length > 0) engine.bytes().set(data, pointer);
  try { return body(pointer, data.length); } finally { if (pointer) abi.tinylm_free(pointer); }
}

const idsOf = (bytes) => Array.from(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2));
const idBytes = (ids) => new Uint8Array(Int32Array.from(ids).buffer);

function runModel(pointer, length, options, chat, generate) {
  const abi = engine.abi;
  const handle = abi.tinylm_model_load(pointer, length);
  if (!handle) {
    const { code, message } = lastError();
    return { loaded: false, kind: code, message };
  }
  const parts = [];
  let loadSummary = '';
  let finite = true;
  const failed = () => `E${abi.tinylm_last_error_code()}`;
  try {
    let vocabulary = 0;
    let trained = 0;
    if (abi.tinylm_model_info(handle) >= 0) {
      const text = engine.result();
      parts.push(`info:${hex(text)}`);
      try {
        const info = JSON.parse(new TextDecoder().decode(text));
        vocabulary = Number.isInteger(info.vocabularySize) ? info.vocabularySize : 0;
        trained = Number.isInteger(info.trainedContextLength) ? info.trainedContextLength : 0;
      } catch { /* the summary says what it was */ }
    } else {
      parts.push(`info:${failed()}`);
    }
    let tokens = [];
    const count = withBytes(SAMPLE_TEXT, (p, n) => abi.tinylm_tokenize(handle, p, n, 3));
    if (count >= 0) { tokens = idsOf(engine.result()); parts.push(`tok:${tokens.join(',')}`); } else parts.push(`tok:${failed()}`);
    const detokenized = withBytes(idBytes(tokens), (p) => abi.tinylm_detokenize(handle, p, tokens.length));
    parts.push(`detok:${detokenized >= 0 ? hex(engine.result()) : failed()}`);
    for (const id of [0, 1, vocabulary - 1, vocabulary, -1]) {
      const piece = abi.tinylm_token_piece(handle, id | 0);
      parts.push(`piece:${piece >= 0 ? hex(engine.result()) : failed()}`);
    }
    let chatTokens = [];
    const chatCount = withBytes(chat, (p, n) => abi.tinylm_chat_tokenize(handle, p, n));
    if (chatCount >= 0) { chatTokens = idsOf(engine.result()); parts.push(`chat:${chatTokens.join(',')}`); } else parts.push(`chat:${failed()}`);
    const toolPrompt = withBytes(chat, (p, n) => abi.tinylm_tool_prompt(handle, p, n));
    parts.push(`tools:${toolPrompt >= 0 ? hex(engine.result()) : failed()}`);
    loadSummary = parts.join('\n');
    const checkLogits = (session) => {
      if (vocabulary <= 0) return;
      const pointer = abi.tinylm_logits(session);
      if (!pointer) return;
      const logits = new Float32Array(engine.memory.buffer, pointer, vocabulary);
      if (!logits.every(Number.isFinite)) finite = false;
    };
    if (generate) {
      const context = Math.max(1, Math.min(64, trained));
      const session = abi.tinylm_session_create(handle, context, 8);
      if (!session) {
        parts.push(`session:${failed()}`);
      } else {
        try {
          let prompt = (chatTokens.length ? chatTokens : tokens).slice(0, 12);
          if (!prompt.length) prompt = [0];
          const started = withBytes(idBytes(prompt), (ids) => withBytes(options, (p, n) => abi.tinylm_generate_start(session, ids, prompt.length, p, n)));
          parts.push(`start:${started >= 0 ? started : failed()}`);
          const generated = [];
          if (started >= 0) {
            for (let step = 0; step < 4; step++) {
              checkLogits(session);
              const token = abi.tinylm_generate_next(session);
              const text = engine.result();
              if (token === -2) { parts.push(`next:${failed()}`); break; }
              generated.push(...text);
              parts.push(`next:${token}:${hex(text)}`);
              if (token === -1) { parts.push(`finish:${abi.tinylm_generate_finish_reason(session)}`); break; }
            }
          }
          const request = encoder.encode(JSON.stringify({ text: new TextDecoder().decode(new Uint8Array(generated)) }));
          const calls = withBytes(request, (p, n) => abi.tinylm_tool_calls(handle, p, n));
          parts.push(`calls:${calls >= 0 ? hex(engine.result()) : failed()}`);
        } finally {
          abi.tinylm_session_free(session);
        }
      }
    }
  } finally {
    abi.tinylm_model_free(handle);
  }
  return { loaded: true, summary: parts.join('\n'), loadSummary, finite };
}

// --- adapters and knowledge files: as AdapterCase.swift and KnowledgeCase.swift ---------------

function runAdapter(model, pointer, length, options) {
  const abi = engine.abi;
  if (!model) return { loaded: false, kind: -1, message: 'the base model does not load' };
  const adapter = abi.tinylm_adapter_load(model, pointer, length);
  if (!adapter) return { loaded: false, ...codeAndMessage() };
  const parts = [];
  const failed = () => `E${abi.tinylm_last_error_code()}`;
  let finite = true;
  let loadSummary = '';
  try {
    parts.push(`info:${abi.tinylm_adapter_info(adapter) >= 0 ? hex(engine.result()) : failed()}`);
    loadSummary = parts.join('\n');
    let vocabulary = 0;
    if (abi.tinylm_model_info(model) >= 0) {
      try {
        const info = JSON.parse(new TextDecoder().decode(engine.result()));
        vocabulary = Number.isInteger(info.vocabularySize) ? info.vocabularySize : 0;
      } catch { /* as native: no logits check */ }
    }
    const session = abi.tinylm_session_create(model, 64, 8);
    if (!session) {
      parts.push(`session:${failed()}`);
    } else {
      try {
        const set = withBytes(new Uint8Array(Int32Array.of(adapter).buffer), (h) => withBytes(new Uint8Array(Float32Array.of(1).buffer),
          (s) => abi.tinylm_session_set_adapters(session, h, s, 1)));
        parts.push(`set:${set >= 0 ? set : failed()}`);
        const count = withBytes(SAMPLE_TEXT, (p, n) => abi.tinylm_tokenize(model, p, n, 3));
        let prompt = count >= 0 ? idsOf(engine.result()).slice(0, 8) : [];
        if (!prompt.length) prompt = [0];
        const started = withBytes(idBytes(prompt), (ids) => withBytes(options, (p, n) => abi.tinylm_generate_start(session, ids, prompt.length, p, n)));
        parts.push(`start:${started >= 0 ? started : failed()}`);
        if (started >= 0) {
          for (let step = 0; step < 4; step++) {
            if (vocabulary > 0) {
              const logits = abi.tinylm_logits(session);
              if (logits && !new Float32Array(engine.memory.buffer, logits, vocabulary).every(Number.isFinite)) finite = false;
            }
            const token = abi.tinylm_generate_next(session);
            if (token === -2) { parts.push(`next:${failed()}`); break; }
            parts.push(`next:${token}`);
            if (token === -1) break;
          }
        }
      } finally {
        abi.tinylm_session_free(session);
      }
    }
  } finally {
    abi.tinylm_adapter_free(adapter);
  }
  return { loaded: true, summary: parts.join('\n'), loadSummary, finite };
}

function codeAndMessage() {
  const { code, message } = lastError();
  return { kind: code, message };
}

function runKnowledge(embedder, file, form, query) {
  const abi = engine.abi;
  if (!embedder) return { loaded: false, kind: -1, message: 'the embedder does not load' };
  const base = withBytes(file, (p, n) => abi.tinylm_knowledge_open(embedder, p, n, form));
  if (!base) return { loaded: false, ...codeAndMessage() };
  const parts = [];
  const failed = () => `E${abi.tinylm_last_error_code()}`;
  let loadSummary = '';
  try {
    parts.push(`info:${abi.tinylm_knowledge_info(base) >= 0 ? hex(engine.result()) : failed()}`);
    loadSummary = parts.join('\n');
    const hits = withBytes(query, (p) => abi.tinylm_knowledge_search(base, p, 3));
    parts.push(`search:${hits >= 0 ? hex(engine.result()) : failed()}`);
    const exported = abi.tinylm_knowledge_export(base, 0, 0);
    parts.push(`export:${exported >= 0 ? sha256(engine.result()) : failed()}`);
    const merged = withBytes(file, (p, n) => abi.tinylm_knowledge_merge(base, p, n));
    parts.push(`merge:${merged >= 0 ? merged : failed()}`);
    parts.push(`info:${abi.tinylm_knowledge_info(base) >= 0 ? hex(engine.result()) : failed()}`);
  } finally {
    abi.tinylm_knowledge_free(base);
  }
  return { loaded: true, summary: parts.join('\n'), loadSummary, finite: true };
}

function outcomeReply(outcome, before) {
  const reply = { status: outcome.loaded ? 'loaded' : 'error', memory: engine.memoryBytes, grew: engine.memoryBytes - before };
  if (!outcome.loaded) Object.assign(reply, { kind: outcome.kind, message: outcome.message.slice(0, 300) });
  reply.summary = sha256(outcome.loaded ? outcome.summary : '');
  reply.loadSummary = sha256(outcome.loaded ? outcome.loadSummary : '');
  reply.finite = outcome.loaded ? outcome.finite : true;
  return reply;
}

async function trapped(error) {
  if (!(error instanceof WebAssembly.RuntimeError || error instanceof RangeError)) throw error;
  const reply = { status: 'trap', message: String(error.message), stack: String(error.stack).split('\n').slice(0, 12).join('\n') };
  await start(); // the instance's state is unknown after a trap: start over with pristine seeds
  return reply;
}

async function adapterCase(frame) {
  const baseIndex = frame.u32();
  const seed = seeds.get(frame.u32());
  frame.u32(); // flags: only the native worker checks weights
  const options = frame.take(frame.u32());
  const edits = frame.edits();
  const before = engine.memoryBytes;
  if (!baseModels.has(baseIndex)) {
    const base = seeds.get(baseIndex);
    baseModels.set(baseIndex, engine.abi.tinylm_model_load(base.pointer + FRONT_SLACK, base.pristine.length));
  }
  const file = view(seed, edits);
  let restarted = false;
  try {
    return outcomeReply(runAdapter(baseModels.get(baseIndex), file.pointer, file.length, options), before);
  } catch (error) {
    restarted = true;
    return await trapped(error);
  } finally {
    if (!restarted) restore(seed, file.dirty);
  }
}

async function knowledgeCase(frame) {
  const index = frame.u32();
  const form = frame.u32() | 0;
  const query = frame.take(frame.u32());
  const file = frame.rest();
  const before = engine.memoryBytes;
  if (!embedders.has(index)) {
    const seed = seeds.get(index);
    embedders.set(index, engine.abi.tinylm_embedder_load(seed.pointer + FRONT_SLACK, seed.pristine.length));
  }
  try {
    return outcomeReply(runKnowledge(embedders.get(index), file, form, query), before);
  } catch (error) {
    return await trapped(error);
  }
}

// --- requests -------------------------------------------------------------------------------

class Frame {
  constructor(bytes) { this.bytes = bytes; this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length); this.offset = 1; }
  u32() { const v = this.view.getUint32(this.offset, true); this.offset += 4; return v; }
  u64() { const v = this.view.getBigUint64(this.offset, true); this.offset += 8; return Number(v); }
  take(n) { const v = this.bytes.subarray(this.offset, this.offset + n); this.offset += n; return v; }
  rest() { return this.bytes.subarray(this.offset); }
  edits() {
    const edits = [];
    for (let count = this.u32(); count > 0; count--) {
      const offset = this.u64();
      const deleteCount = this.u64();
      edits.push({ offset, deleteCount, insert: this.take(this.u32()) });
    }
    return edits;
  }
}

async function modelCase(frame) {
  const seed = seeds.get(frame.u32());
  const flags = frame.u32();
  const options = frame.take(frame.u32());
  const chat = frame.take(frame.u32());
  const edits = frame.edits();
  const before = engine.memoryBytes;
  const file = view(seed, edits);
  let restarted = false;
  try {
    const outcome = runModel(file.pointer, file.length, options, chat, (flags & 1) !== 0);
    const reply = outcomeReply(outcome, before);
    if (flags & 2) reply.parts = outcome.summary ?? '';
    return reply;
  } catch (error) {
    restarted = true;
    return await trapped(error);
  } finally {
    if (!restarted) restore(seed, file.dirty);
  }
}

const seedFiles = new Map();

async function manifestCase(frame) {
  const key = new TextDecoder().decode(frame.take(frame.u32()));
  const file = new TextDecoder().decode(frame.take(frame.u32()));
  const text = frame.rest();
  let manifest;
  try {
    manifest = parseManifest(text);
  } catch (error) {
    if (error.name !== 'InvalidManifestError') return { status: 'crash', message: `${error.name}: ${error.message}`, stack: String(error.stack) };
    return { status: 'invalid', message: error.message.slice(0, 300) };
  }
  const reply = {
    status: 'valid', canonical: sha256(canonicalManifestBytes(manifest)), signed: manifest.signature !== null,
    size: manifest.size, chunks: manifest.chunks.length,
  };
  const check = async (promise) => { try { await promise; return 'ok'; } catch (error) { return error.name; } };
  if (manifest.signature) {
    reply.trusted = await check(verifyManifestSignature(manifest, key));
    if (manifest.signature.publicKey) reply.embedded = await check(verifyManifestSignature(manifest, manifest.signature.publicKey));
  }
  if (file) {
    if (!seedFiles.has(file)) seedFiles.set(file, readFileSync(file));
    reply.file = await check(verifyFile(manifest, seedFiles.get(file)));
  }
  return reply;
}

async function handle(payload) {
  const frame = new Frame(payload);
  switch (payload[0]) {
    case 1: {
      const index = frame.u32();
      const file = new TextDecoder().decode(frame.rest());
      const seed = { path: file, pristine: new Uint8Array(readFileSync(file)), pointer: 0 };
      seeds.set(index, seed);
      place(seed);
      return { status: 'ready', size: seed.pristine.length, memory: engine.memoryBytes };
    }
    case 2: return modelCase(frame);
    case 3: return manifestCase(frame);
    case 4: return adapterCase(frame);
    case 5: return knowledgeCase(frame);
    default: return { status: 'failed', message: `unknown request ${payload[0]}` };
  }
}

function send(object) {
  const body = Buffer.from(JSON.stringify(object));
  const header = Buffer.alloc(4);
  header.writeUInt32LE(body.length);
  process.stdout.write(Buffer.concat([header, body]));
}

await start();
let pending = Buffer.alloc(0);
let busy = Promise.resolve();
process.stdin.on('data', (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  while (pending.length >= 4) {
    const length = pending.readUInt32LE(0);
    if (pending.length < 4 + length) break;
    const payload = new Uint8Array(pending.subarray(4, 4 + length));
    pending = pending.subarray(4 + length);
    busy = busy.then(async () => {
      try { send(await handle(payload)); } catch (error) { send({ status: 'failed', message: `${error.name}: ${error.message}`, stack: String(error.stack) }); }
    });
  }
});
process.stdin.on('end', () => { busy.then(() => process.exit(0)); });
