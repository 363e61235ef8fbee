#!/usr/bin/env node
// The wasm build driven from Node (through web/engine.js), with the native tool's subcommands,
// flags and output formats, so that the two are interchangeable in scripts and tests:
//   node scripts/tinylm-node.mjs generate --model M --prompt "Hi" --temperature 0 --ids
//   .build/release/tinylm      generate --model M --prompt "Hi" --temperature 0 --ids
// Each subcommand is one function below (run<Name>); Tests/web/cli.test.mjs compares the two.
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Engine } from '../web/engine.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const defaultModel = path.join(root, 'models/SmolLM2-135M-Instruct.Q4_1.gguf');

const usage = `usage: tinylm-node.mjs <command> [options]

commands (as the native tinylm; see its usage):
  info      [--model PATH] [--json]
  tokenize  [--model PATH] [--no-special] [--add-bos] [--pieces] [--] TEXT
  generate  [--model PATH] (--prompt TEXT | --prompt-ids JSON) [--max-tokens N] [--temperature T]
            [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--repeat-last-n N] [--seed S]
            [--stop STR]... [--ids] [--ignore-eos] [--context N] [--verbose]
            [--json-schema FILE | --grammar FILE | --json]
  chat      [--model PATH] [--prompt TEXT] [--system TEXT] [--chat-template FILE] [--show-prompt]
            [--json-schema FILE | --grammar FILE | --json] [--tools FILE [--tool-choice auto|required|none|NAME]]
            [sampling options]
  bench     [--model PATH] [-p 128] [-n 128] [-t 1,2] [-r 3] [--lora FILE]... [--lora-scaled FILE:SCALE]...

wasm options (every command):
  --threads N      run the kernels on N threads (the shared-memory module tinylm-mt.wasm with
                   N-1 worker_threads helpers; default 1)
  --fixed-threads  always run sections in parallel (default: decode steps run serially
                   instead while that is faster, as when other programs keep the CPUs busy)
  --wasm PATH      the single-thread module (default web/tinylm.wasm)
  embed     [--model PATH] [--pooling mean|cls|last] [--max-tokens N] [--ids] [--threads N] [--verbose] [--] TEXT...
            one embedding (JSON array) per TEXT and line (default model models/all-MiniLM-L6-v2.gguf)
Sampling defaults to the model's recommended settings (info shows them).`;

class UsageError extends Error {}

/** `--name value`, `--name=value`, flags, and `--` (as Sources/TinyLMCLI/Arguments.swift). */
function parse(argv, valued, flags) {
  const options = {}; const set = new Set(); const positional = [];
  let onlyPositional = false;
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    if (onlyPositional || !argument.startsWith('-') || argument === '-') { positional.push(argument); continue; }
    if (argument === '--') { onlyPositional = true; continue; }
    let name = argument; let inline;
    const eq = argument.indexOf('=');
    if (argument.startsWith('--') && eq > 0) { name = argument.slice(0, eq); inline = argument.slice(eq + 1); }
    if (valued.has(name)) {
      let value = inline;
      if (value === undefined) {
        if (i + 1 >= argv.length) throw new UsageError(`option ${name} needs a value`);
        value = argv[++i];
      }
      (options[name] ??= []).push(value);
    } else if (flags.has(name)) set.add(name);
    else throw new UsageError(`unknown option ${name}`);
  }
  return {
    value: (name) => options[name]?.at(-1),
    values: (name) => options[name] ?? [],
    has: (flag) => set.has(flag),
    positional,
  };
}

const engineOptions = ['--threads', '--wasm'];
const engineFlags = ['--fixed-threads'];
const samplingOptions = ['--temperature', '--top-k', '--top-p', '--min-p', '--seed', '--repeat-penalty', '--repeat-last-n',
  '--max-tokens', '--stop', '--context', '--json-schema', '--grammar'];

function number(a, name, fallback, { integer = false } = {}) {
  const text = a.value(name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${name} expects a ${integer ? 'whole ' : ''}number, got '${text}'`);
  }
  return n;
}

async function loadModel(a, threads = number(a, '--threads', 1, { integer: true })) {
  const wasm = path.resolve(a.value('--wasm') ?? path.join(root, 'web/tinylm.wasm'));
  const engine = await Engine.create(new URL(`file://${wasm}`), { threads, adaptiveThreads: !a.has('--fixed-threads') });
  if (threads > 1 && engine.threads < threads) console.error(`warning: running on ${engine.threads} thread(s): ${engine.threadsError}`);
  const file = a.value('--model') ?? process.env.TINYLM_MODEL ?? defaultModel;
  let bytes;
  try { bytes = await readFile(file); } catch {
    engine.terminate();
    throw new Error(`model file not found: ${file}\n(run scripts/fetch-models.sh to fetch the default model, or pass --model PATH)`);
  }
  const start = performance.now();
  const model = engine.loadModel(bytes);
  return { engine, model, file: a.value('--model') ?? path.relative(process.cwd(), file), loadMs: performance.now() - start };
}

// --- formatting shared with the native tool ----------------------------------------------------

/** "[1, 2, 3]" */
const idList = (ids) => `[${Array.from(ids).join(', ')}]`;

/** A number as Swift prints a Float: "100000.0", "0.2", "1e-05", "1e+16". */
function swiftFloat(x) {
  const f = Math.fround(x);
  let shortest = f;
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(f.toPrecision(digits));
    if (Math.fround(candidate) === f) { shortest = candidate; break; }
  }
  const magnitude = Math.abs(shortest);
  if (magnitude !== 0 && (magnitude < 1e-4 || magnitude >= 2 ** 24)) {
    return shortest.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  }
  return Number.isInteger(shortest) ? shortest.toFixed(1) : String(shortest);
}

/** printf("%.1f"): ties of the exact binary value round to even, as C does. */
function fixed1(x) {
  const scaled = x * 10;
  if (Number.isInteger(scaled * 2) && !Number.isInteger(scaled)) {
    const down = Math.floor(scaled);
    return ((down % 2 === 0 ? down : down + 1) / 10).toFixed(1);
  }
  return x.toFixed(1);
}

function formatBytes(n) {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${fixed1(n / 2 ** 20)} MiB`;
  if (n >= 2 ** 10) return `${fixed1(n / 2 ** 10)} KiB`;
  return `${n} B`;
}

/** Swift's String.debugDescription: quotes, escapes, and marks that would join an escape escaped. */
function swiftDebugDescription(text) {
  const named = { '\0': '\\0', '\t': '\\t', '\n': '\\n', '\r': '\\r', '"': '\\"', "'": "\\'", '\\': '\\\\' };
  const joins = /[\p{Grapheme_Extend}\p{Mc}\p{Emoji_Modifier}\u200d]/u;
  let out = '"';
  let afterEscape = true;  // the opening quote counts: a combining mark would join it
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    let escaped = named[ch];
    if (escaped === undefined && (cp < 0x20 || cp === 0x7f)) escaped = `\\u{${cp.toString(16).toUpperCase().padStart(2, '0')}}`;
    if (escaped === undefined && afterEscape && joins.test(ch)) {
      escaped = `\\u{${cp.toString(16).toUpperCase().padStart(cp > 0xffff ? 8 : 4, '0')}}`;
    }
    out += escaped ?? ch;
    afterEscape = escaped !== undefined;
  }
  return `${out}"`;
}

/** Python json.dumps(ensure_ascii=False) layout, as the native tool prints tool calls. */
function pythonJSON(value) {
  if (Array.isArray(value)) return `[${value.map(pythonJSON).join(', ')}]`;
  if (value && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pythonJSON(v)}`).join(', ')}}`;
  return JSON.stringify(value);
}

/** The lines of `tinylm info` (Sources/TinyLMCLI/InfoCommand.swift infoLines). */
function infoLines(info, file) {
  const s = info.sampling ?? {};
  const lines = [];
  lines.push(`file:          ${file} (${formatBytes(info.fileBytes)}, GGUF v${info.ggufVersion})`);
  lines.push(`name:          ${info.name}${info.ggufName && info.ggufName !== info.name ? ` (GGUF general.name: ${info.ggufName})` : ''}`);
  lines.push(`architecture:  ${info.architecture}`);
  lines.push(`layers:        ${info.layerCount}`);
  lines.push(`embedding:     ${info.embeddingLength}`);
  lines.push(`heads:         ${info.headCount} query, ${info.kvHeadCount} key/value, head size ${info.keyLength}`);
  lines.push(`feed-forward:  ${info.feedForwardLength}`);
  lines.push(`vocabulary:    ${info.vocabularySize}`);
  lines.push(`context:       ${info.trainedContextLength} (trained)`);
  lines.push(`rope:          ${info.rope}`);
  lines.push(`graph:         ${info.graph}`);
  lines.push(`tensors:       ${info.tensorCount}: ${info.tensorTypes.map((t) => `${t.type} × ${t.count} (${formatBytes(t.bytes)})`).join(', ')}`);
  lines.push(`weights/token: ${formatBytes(info.weightBytesPerToken)} read per decoded token`);
  lines.push(`chat template: ${info.chatTemplate === null ? 'none (built-in fallback)' : 'yes'}`);
  const origin = s.source === 'gguf' ? `from the GGUF's general.sampling keys${s.reference ? `, over the model card table: ${s.reference}` : ''}`
    : s.source === 'table' ? `model card table: ${s.reference ?? ''}`
      : "llama.cpp's defaults: no recommendation known for this model";
  lines.push(`sampling:      temperature ${swiftFloat(s.temperature)}, top-k ${s.topK}, top-p ${swiftFloat(s.topP)}, min-p ${swiftFloat(s.minP)}, repeat penalty ${swiftFloat(s.repeatPenalty)} over ${s.repeatWindow} (${origin})`);
  return lines;
}

/** What a user should know about why a generation ended (Sources/TinyLMCLI/GenerateCommand.swift finishNote). */
function finishNote(reason, maxTokens) {
  switch (reason) {
    case 'length': return `stopped at the --max-tokens limit (${maxTokens}); the answer may be cut short`;
    case 'context': return 'stopped: the context is full';
    case 'constraint_budget':
      return `finish reason constraint_budget: the output was steered to its shortest valid completion to fit --max-tokens (${maxTokens}) or the context`;
    default: return null;
  }
}

/**
 * Generation options from the sampling flags over `defaults` (the model's recommended sampling),
 * as Sources/TinyLMCLI/GenerateCommand.swift SamplingFlags.options.
 */
function generationOptions(a, info, maxTokens) {
  const s = info.sampling;
  const options = {
    maxTokens: number(a, '--max-tokens', maxTokens, { integer: true }),
    temperature: number(a, '--temperature', s.temperature),
    topK: number(a, '--top-k', s.topK, { integer: true }),
    topP: number(a, '--top-p', s.topP),
    minP: number(a, '--min-p', s.minP),
    repeatPenalty: number(a, '--repeat-penalty', s.repeatPenalty),
    repeatWindow: number(a, '--repeat-last-n', s.repeatWindow, { integer: true }),
    seed: number(a, '--seed', Math.floor(Math.random() * 2 ** 32), { integer: true }),
    stop: a.values('--stop'),
  };
  const given = [a.value('--json-schema'), a.value('--grammar'), a.has('--json') || undefined].filter((v) => v !== undefined);
  if (given.length > 1) throw new UsageError('give at most one of --json-schema, --grammar and --json');
  const read = (file) => { try { return readFileSync(file, 'utf8'); } catch { throw new Error(`cannot read ${file}`); } };
  if (a.value('--json-schema') !== undefined) {
    const text = read(a.value('--json-schema'));
    try { options.jsonSchema = JSON.parse(text); } catch (error) { throw new Error(`the JSON schema is not valid JSON: ${error.message}`); }
  }
  if (a.value('--grammar') !== undefined) options.grammar = read(a.value('--grammar'));
  if (a.has('--json')) options.json = true;
  return options;
}

function createSession(a, model) {
  return model.createSession({ contextLength: number(a, '--context', Math.min(2048, model.info.trainedContextLength), { integer: true }) });
}

// --- subcommands ---------------------------------------------------------------------------------

async function runInfo(argv) {
  const a = parse(argv, new Set(['--model', ...engineOptions]), new Set(['--json', ...engineFlags]));
  const { engine, model, file, loadMs } = await loadModel(a);
  if (a.has('--json')) {
    engine.check(engine.abi.tinylm_model_info(model.handle) >= 0);
    console.log(engine.resultText());
  } else {
    for (const line of infoLines(model.info, file)) console.log(line);
    console.log(`load time:     ${loadMs.toFixed(1)} ms`);
  }
  engine.terminate();
  return 0;
}

async function runTokenize(argv) {
  const a = parse(argv, new Set(['--model', ...engineOptions]), new Set(['--no-special', '--add-bos', '--pieces', ...engineFlags]));
  if (a.positional.length !== 1) throw new UsageError('tokenize needs exactly one TEXT argument (use -- before text that starts with a dash)');
  const { engine, model } = await loadModel(a);
  const ids = Array.from(model.tokenize(a.positional[0], { addSpecial: a.has('--add-bos'), parseSpecial: !a.has('--no-special') }));
  console.log(idList(ids));
  if (a.has('--pieces')) {
    const decoder = new TextDecoder();
    for (const id of ids) console.log(`${id}\t${swiftDebugDescription(decoder.decode(model.tokenPiece(id)))}`);
  }
  engine.terminate();
  return 0;
}

async function runGenerate(argv) {
  const a = parse(argv, new Set(['--model', '--prompt', '--prompt-ids', ...samplingOptions, ...engineOptions]),
    new Set(['--ids', '--ignore-eos', '--verbose', '--json', ...engineFlags]));
  const { engine, model, loadMs } = await loadModel(a);
  let prompt;
  if (a.value('--prompt-ids') !== undefined) {
    try { prompt = JSON.parse(a.value('--prompt-ids')); } catch { prompt = null; }
    if (!Array.isArray(prompt) || !prompt.every(Number.isInteger)) throw new Error('--prompt-ids expects a JSON array of token ids, e.g. [1, 2, 3]');
  } else if ((a.value('--prompt') ?? a.positional[0]) !== undefined) {
    prompt = Array.from(model.tokenize(a.value('--prompt') ?? a.positional[0], { addSpecial: true }));
  } else {
    throw new Error('generate needs --prompt TEXT or --prompt-ids JSON');
  }
  const options = generationOptions(a, model.info, 128);
  options.ignoreEOS = a.has('--ignore-eos');
  const session = createSession(a, model);
  const printIDs = a.has('--ids');
  const start = performance.now();
  let firstToken = null;
  const result = session.generate(prompt, options, (text) => {
    firstToken ??= performance.now();
    if (!printIDs) process.stdout.write(text);
  });
  const end = performance.now();
  process.stdout.write(printIDs ? `${idList(result.tokens)}\n` : '\n');
  const note = finishNote(result.reason, options.maxTokens);
  if (note) console.error(`[${note}]`);
  if (a.has('--verbose')) {
    // The first token comes out of the prefill step; decode speed counts the rest.
    const seconds = (end - start) / 1000;
    const decode = result.tokens.length > 1 && firstToken !== null ? (result.tokens.length - 1) / ((end - firstToken) / 1000) : NaN;
    console.error(`[load ${loadMs.toFixed(0)} ms; ${prompt.length} prompt + ${result.tokens.length} generated tokens in ${seconds.toFixed(2)} s (${(result.tokens.length / seconds).toFixed(1)} t/s incl. prefill, decode ${decode.toFixed(1)} t/s); threads: ${engine.threads}${threadModes(engine)}; stop: ${result.reason}; wasm memory ${(engine.memoryBytes / 2 ** 20).toFixed(0)} MiB]`);
  }
  engine.terminate();
  return 0;
}

/** How the sections ran on a threaded engine: ' (sections: N parallel, M serial)', and with
 *  TINYLM_THREAD_TIMING=1 where the decode steps' time went (threads.js startTiming). */
function threadModes(engine) {
  const sections = engine.kernelThreads?.sections;
  if (!sections) return '';
  const modes = ` (sections: ${sections.parallel} parallel, ${sections.serial} serial)`;
  const t = engine.kernelThreads.timingReport();
  if (!t || t.steps === 0) return modes;
  const perStep = (ms) => `${(1000 * ms / t.steps).toFixed(0)} µs`;
  const between = t.stepMs - t.publishMs - t.engineTaskMs - t.waitMs - t.serialMs;
  return `${modes}; per decode step (${t.steps} steps, ${(t.sections / t.steps).toFixed(1)} parallel sections): ` +
    `${perStep(t.stepMs)} = engine tasks ${perStep(t.engineTaskMs)} + waiting for helpers ${perStep(t.waitMs)} + ` +
    `publishing ${perStep(t.publishMs)} + serial sections ${perStep(t.serialMs)} + between sections ${perStep(between)}; ` +
    `helper tasks ${perStep(t.helperTaskMs)}; engine thread ran every task of ${t.engineAlone} sections`;
}

async function runChat(argv) {
  const a = parse(argv, new Set(['--model', '--prompt', '--system', '--chat-template', '--tools', '--tool-choice', ...samplingOptions, ...engineOptions]),
    new Set(['--verbose', '--show-prompt', '--json', ...engineFlags]));
  const { engine, model } = await loadModel(a);
  const options = generationOptions(a, model.info, 512);
  const session = createSession(a, model);
  let template = null;
  if (a.value('--chat-template') !== undefined) {
    try { template = readFileSync(a.value('--chat-template'), 'utf8'); } catch { throw new Error(`cannot read chat template ${a.value('--chat-template')}`); }
  }
  const messages = [];
  if (a.value('--system') !== undefined) messages.push({ role: 'system', content: a.value('--system') });
  let tools = null;
  let toolFormat = null;
  const toolChoice = a.value('--tool-choice') ?? 'auto';
  if (a.value('--tool-choice') !== undefined && a.value('--tools') === undefined) throw new UsageError('--tool-choice needs --tools');
  if (a.value('--tools') !== undefined) {
    if (options.jsonSchema || options.grammar || options.json) throw new UsageError('--tools cannot be combined with --json-schema, --grammar or --json');
    let text;
    try { text = readFileSync(a.value('--tools'), 'utf8'); } catch { throw new Error(`cannot read tools ${a.value('--tools')}`); }
    try { tools = JSON.parse(text); } catch (error) { throw new Error(`--tools: ${a.value('--tools')} is not valid JSON: ${error.message}`); }
    const names = Array.isArray(tools) ? tools.map((t) => (t?.function ?? t)?.name) : [];
    if (!['auto', 'required', 'none'].includes(toolChoice) && !names.includes(toolChoice)) {
      throw new Error(`--tool-choice: ${a.value('--tools')} has no tool named '${toolChoice}' (the choices: auto, required, none or a tool's name)`);
    }
    // 'none': a chat as without the tools (as the web API's toolChoice 'none').
    if (toolChoice === 'none') tools = null;
  }
  if (tools) {
    // The call format of the template in use (the model's, or --chat-template).
    toolFormat = model.toolCallPrompt([{ role: 'user', content: '' }], { tools, template }).format;
    const choice = ['auto', 'required'].includes(toolChoice) ? toolChoice : { type: 'function', function: { name: toolChoice } };
    Object.assign(options, model.toolCallOptions(tools, { toolChoice: choice, format: toolFormat }));
  }
  const chatOptions = { template, ...(tools ? { tools, toolCalling: true } : {}) };

  const reply = (userText) => {
    messages.push({ role: 'user', content: userText });
    let answer = '';
    try {
      // The session keeps every earlier prompt and reply as the model saw them, so only the
      // new message and the template's glue are evaluated (Sources/TinyLM/Chat/ChatTranscript.swift).
      const prompt = session.chatTokens(messages, chatOptions);
      if (a.has('--show-prompt')) {
        process.stderr.write(`[prompt: ${swiftDebugDescription(model.formatChat(messages, chatOptions))}]\n[ids: ${idList(prompt)}]\n`);
      }
      const start = performance.now();
      let firstToken = null;
      const result = session.generate(prompt, options, (text) => {
        firstToken ??= performance.now();
        process.stdout.write(text);
        answer += text;
      });
      const note = finishNote(result.reason, options.maxTokens);
      if (note) { process.stdout.write('\n'); process.stderr.write(`[${note}]`); }
      if (a.has('--verbose')) {
        process.stderr.write(`\n[prompt ${prompt.length} tokens: ${prompt.length - result.reused} evaluated, ${result.reused} reused from the cache; first token after ${((firstToken ?? performance.now()) - start).toFixed(0)} ms; ${result.tokens.length} generated; stop: ${result.reason}]`);
      }
    } catch (error) {
      messages.pop();
      throw error;
    }
    process.stdout.write('\n');
    if (tools) {
      let calls = null;
      try { calls = model.parseToolCalls(answer, toolFormat); } catch { /* no call in the text */ }
      if (calls) process.stdout.write(`${pythonJSON(calls)}\n`);
    }
    messages.push({ role: 'assistant', content: answer });
  };

  const oneShot = a.value('--prompt') ?? a.positional[0];
  if (oneShot !== undefined) {
    reply(oneShot);
    engine.terminate();
    return 0;
  }
  const interactive = process.stdin.isTTY;
  if (interactive) process.stderr.write(`${model.info.name} — type a message, /reset to start over, Ctrl-D to quit.\n`);
  const lines = createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
  for (;;) {
    if (interactive) process.stdout.write('> ');
    const { value: line, done } = await lines.next();
    if (done) break;
    const text = line.trim();
    if (!text) continue;
    if (text === '/reset') {
      messages.splice(0, messages.length, ...messages.filter((m) => m.role === 'system'));
      session.reset();
      continue;
    }
    try {
      reply(text);
    } catch (error) {
      process.stderr.write(`error: ${error.message}\n`);
      if (error.name === 'ContextOverflowError') {
        messages.splice(0, messages.length, ...messages.filter((m) => m.role === 'system'));
        session.reset();
      }
    }
  }
  engine.terminate();
  return 0;
}

async function runBench(argv) {
  const a = parse(argv, new Set(['--model', '-p', '-n', '-t', '--threads', '-r', '--repetitions', '--wasm', '--lora', '--lora-scaled']), new Set(engineFlags));
  const promptLength = number(a, '-p', 128, { integer: true });
  const generateLength = number(a, '-n', 128, { integer: true });
  const repetitions = Math.max(1, number(a, '-r', number(a, '--repetitions', 3, { integer: true }), { integer: true }));
  const threadList = [...new Set((a.value('-t') ?? a.value('--threads') ?? '1').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0))];
  const adapterFiles = adapterArguments(a);
  let printedHeader = false;
  for (const threads of threadList) {
    const { engine, model, loadMs } = await loadModel(a, threads);
    const info = model.info;
    const adapters = [];
    for (const { file, scale } of adapterFiles) adapters.push({ adapter: model.loadAdapter(await readFile(file)), scale });
    if (!printedHeader) {
      console.log(`model: ${info.name} (${info.architecture}), ${formatBytes(info.fileBytes)}, weights read per token ${formatBytes(info.weightBytesPerToken)}`);
      console.log(`load: ${loadMs.toFixed(1)} ms (copy into wasm memory + parse + tokenizer)`);
      for (const { file, scale } of adapterFiles) console.log(`adapter: ${path.basename(file)}, scale ${scale}`);
      console.log(adapters.length ? '| threads | test | t/s | ms/token | with / without |\n|---|---|---|---|---|' : '| threads | test | t/s | ms/token |\n|---|---|---|---|');
      printedHeader = true;
    }
    // The native tool's deterministic pseudo-random prompt is not reproduced; any valid ids do.
    const prompt = Array.from({ length: promptLength }, (_, i) => 1000 + ((i * 7919) % (info.vocabularySize - 1000)));
    const contextLength = Math.max(promptLength, generateLength) + 8;
    // With adapters, a second session applies them and the two take turns repetition by
    // repetition (as the native bench), so that both see the same machine load.
    const sessions = [model.createSession({ contextLength })];
    if (adapters.length) {
      sessions.push(model.createSession({ contextLength }));
      sessions[1].setAdapters(adapters);
    }
    const measure = (body) => {
      const seconds = sessions.map(() => []);
      for (let r = -1; r < repetitions; r++) {
        sessions.forEach((session, k) => {
          const start = performance.now();
          body(session);
          if (r >= 0) seconds[k].push((performance.now() - start) / 1000);  // r = -1: warm-up
        });
      }
      return seconds;
    };
    const report = (test, rates) => {
      const means = rates.map((list) => list.reduce((x, y) => x + y, 0) / list.length);
      rates.forEach((list, k) => {
        const mean = means[k];
        const deviation = Math.sqrt(list.map((r) => (r - mean) ** 2).reduce((x, y) => x + y, 0) / Math.max(1, list.length - 1));
        const ratio = k === 0 ? (adapters.length ? ' |' : '') : ` ${(mean / means[0]).toFixed(3)} |`;
        console.log(`| ${engine.threads} | ${test}${k === 0 ? '' : '+lora'} | ${mean.toFixed(1)} ± ${deviation.toFixed(1)} | ${(1000 / mean).toFixed(2)} |${ratio}`);
      });
    };
    if (promptLength > 0) {
      report(`pp${promptLength}`, measure((session) => { session.reset(); session.evaluate(prompt); })
        .map((list) => list.map((s) => promptLength / s)));
    }
    if (generateLength > 0) {
      report(`tg${generateLength}`, measure((session) => {
        session.reset();
        let token = prompt[0] ?? 1000;
        for (let i = 0; i < generateLength; i++) {
          session.evaluate([token]);
          const logits = session.logits();
          let best = 0;
          for (let k = 1; k < logits.length; k++) if (logits[k] > logits[best]) best = k;
          token = best;
        }
      }).map((list) => list.map((s) => generateLength / s)));
    }
    for (const session of sessions) session.free();
    for (const { adapter } of adapters) adapter.free();
    engine.terminate();
  }
  console.log(`peak RSS: ${formatBytes(process.resourceUsage().maxRSS * 1024)}`);
  return 0;
}

/** `--lora FILE` (scale 1) and `--lora-scaled FILE:SCALE`, as the native tool's AdapterFlags. */
function adapterArguments(a) {
  const list = a.values('--lora').map((file) => ({ file, scale: 1 }));
  for (const item of a.values('--lora-scaled')) {
    const colon = item.lastIndexOf(':');
    const scale = Number(item.slice(colon + 1));
    if (colon <= 0 || !Number.isFinite(scale)) throw new UsageError(`--lora-scaled wants FILE:SCALE, got ${item}`);
    list.push({ file: item.slice(0, colon), scale });
  }
  return list;
}

/**
 * `embed`: the native `tinylm embed` on the wasm build — one JSON array per TEXT and line,
 * each number the shortest decimal that reads back as the f32 (the same values as the native
 * tool prints; only the exponent's spelling may differ, 1e-8 here for Swift's 1e-08).
 *   node scripts/tinylm-node.mjs embed [--model PATH] [--pooling mean|cls|last] [--max-tokens N]
 *        [--ids] [--threads N] [--verbose] [--wasm PATH] [--] TEXT...
 */
async function runEmbed(argv) {
  const a = parse(argv, new Set(['--model', '--pooling', '--max-tokens', ...engineOptions]), new Set(['--ids', '--verbose', ...engineFlags]));
  const texts = a.positional;
  if (texts.length === 0) throw new UsageError('embed needs at least one TEXT (use -- before text that starts with a dash)');
  const threads = number(a, '--threads', 1, { integer: true });
  const engine = await Engine.create(new URL(`file://${path.resolve(a.value('--wasm') ?? path.join(root, 'web/tinylm.wasm'))}`), { threads });
  const modelPath = a.value('--model') ?? path.join(root, 'models/all-MiniLM-L6-v2.gguf');
  let bytes;
  try { bytes = await readFile(modelPath); } catch { throw new Error(`cannot read embedding model ${modelPath} (scripts/fetch-models.sh minilm fetches the default)`); }
  const embedder = engine.loadEmbedder(bytes);
  const maxTokens = number(a, '--max-tokens', undefined, { integer: true });
  if (maxTokens !== undefined) embedder.setMaxTokens(maxTokens);
  if (a.has('--ids')) {
    for (const text of texts) process.stdout.write(`[${Array.from(embedder.tokenize(text)).join(', ')}]\n`);
  } else {
    const start = performance.now();
    const result = embedder.embed(texts, { pooling: a.value('--pooling') ?? 'model' });
    const seconds = (performance.now() - start) / 1000;
    result.truncated.forEach((cut, i) => { if (cut) console.error(`note: text ${i + 1} was cut to its first ${result.tokenCounts[i]} tokens (the model's limit)`); });
    for (const v of result.vectors) process.stdout.write(`[${Array.from(v, shortestFloat).join(', ')}]\n`);
    if (a.has('--verbose')) console.error(`[${texts.length} texts in ${seconds.toFixed(3)} s (${(texts.length / seconds).toFixed(1)} texts/s); threads: ${engine.threads}]`);
  }
  engine.terminate();
  return 0;
}

/** The shortest decimal that reads back as the same f32 (Swift's Float description, digits-wise). */
function shortestFloat(x) {
  for (let digits = 1; digits <= 9; digits++) {
    const text = x.toPrecision(digits);
    if (Math.fround(Number(text)) === x) return String(Number(text));
  }
  return String(x);
}

const commands = { embed: runEmbed, info: runInfo, tokenize: runTokenize, generate: runGenerate, chat: runChat, bench: runBench };

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'help' || command === '--help' || command === '-h') { console.log(usage); return 0; }
  const run = commands[command];
  if (!run) {
    console.error(command === undefined ? usage : `unknown command '${command}'\n\n${usage}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (error) {
    if (error instanceof UsageError) { console.error(`error: ${error.message}\n\n${usage}`); return 2; }
    throw error;
  }
}

main().then((code) => process.exit(code), (error) => { console.error(`error: ${error.name === 'Error' ? '' : error.name + ': '}${error.message}`); process.exit(1); });
