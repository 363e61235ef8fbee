#!/usr/bin/env node
// The wasm build driven from Node, with the same `generate` flags as the native tool, so that
// native and wasm can be compared from the shell:
//   node scripts/tinylm-node.mjs generate --model M --prompt "Hi" --temperature 0 --ids
//   .build/release/tinylm     generate --model M --prompt "Hi" --temperature 0 --ids
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Engine } from '../web/engine.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const usage = `usage: tinylm-node.mjs generate [--model PATH] (--prompt TEXT | --prompt-ids JSON)
       [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--seed S]
       [--repeat-penalty R] [--stop STR] [--ids] [--ignore-eos] [--context N] [--verbose]
       [--threads N] [--fixed-threads] [--wasm PATH]
  --threads N      run the kernels on N threads (the shared-memory module tinylm-mt.wasm with
                   N-1 worker_threads helpers; default 1)
  --fixed-threads  always run sections in parallel (default: decode steps run serially
                   instead while that is faster, as when other programs keep the CPUs busy)
       tinylm-node.mjs embed [--model PATH] [--pooling mean|cls|last] [--max-tokens N] [--ids]
       [--threads N] [--verbose] [--] TEXT...     one embedding (JSON array) per TEXT and line`;

function parse(argv) {
  const valued = new Set(['--model', '--prompt', '--prompt-ids', '--max-tokens', '--temperature', '--top-k', '--top-p',
    '--min-p', '--seed', '--repeat-penalty', '--stop', '--context', '--wasm', '--threads']);
  const flags = new Set(['--ids', '--ignore-eos', '--verbose', '--fixed-threads']);
  const options = {}; const set = new Set(); const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (valued.has(a)) {
      if (i + 1 >= argv.length) throw new Error(`option ${a} needs a value`);
      if (a === '--stop') (options[a] ??= []).push(argv[++i]); else options[a] = argv[++i];
    } else if (flags.has(a)) set.add(a);
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else positional.push(a);
  }
  return { options, flags: set, positional };
}

function number(text, name, integer = false) {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new Error(`${name} expects a ${integer ? 'whole ' : ''}number, got '${text}'`);
  return n;
}

/** How the sections ran on a threaded engine: ' (sections: N parallel, M serial)'. */
function threadModes(engine) {
  const sections = engine.kernelThreads?.sections;
  return sections ? ` (sections: ${sections.parallel} parallel, ${sections.serial} serial)` : '';
}

/**
 * `embed`: the native `tinylm embed` on the wasm build — one JSON array per TEXT and line,
 * each number the shortest decimal that reads back as the f32 (the same values as the native
 * tool prints; only the exponent's spelling may differ, 1e-8 here for Swift's 1e-08).
 *   node scripts/tinylm-node.mjs embed [--model PATH] [--pooling mean|cls|last] [--max-tokens N]
 *        [--ids] [--threads N] [--verbose] [--wasm PATH] [--] TEXT...
 */
async function runEmbed(argv) {
  const valued = new Set(['--model', '--pooling', '--max-tokens', '--threads', '--wasm']);
  const flags = new Set(['--ids', '--verbose']);
  const o = {}; const set = new Set(); const texts = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { texts.push(...argv.slice(i + 1)); break; }
    if (valued.has(a)) { if (i + 1 >= argv.length) throw new Error(`option ${a} needs a value`); o[a] = argv[++i]; }
    else if (flags.has(a)) set.add(a);
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else texts.push(a);
  }
  if (texts.length === 0) throw new Error('embed needs at least one TEXT (use -- before text that starts with a dash)');
  const threads = number(o['--threads'], '--threads', true) ?? 1;
  const engine = await Engine.create(new URL(`file://${path.resolve(o['--wasm'] ?? path.join(root, 'web/tinylm.wasm'))}`), { threads });
  const embedder = engine.loadEmbedder(await readFile(o['--model'] ?? path.join(root, 'models/all-MiniLM-L6-v2.gguf')));
  if (o['--max-tokens'] !== undefined) embedder.setMaxTokens(number(o['--max-tokens'], '--max-tokens', true));
  if (set.has('--ids')) {
    for (const text of texts) process.stdout.write(`[${Array.from(embedder.tokenize(text)).join(', ')}]\n`);
  } else {
    const start = performance.now();
    const result = embedder.embed(texts, { pooling: o['--pooling'] ?? 'model' });
    const seconds = (performance.now() - start) / 1000;
    result.truncated.forEach((cut, i) => { if (cut) console.error(`note: text ${i + 1} was cut to its first ${result.tokenCounts[i]} tokens (the model's limit)`); });
    for (const v of result.vectors) process.stdout.write(`[${Array.from(v, shortestFloat).join(', ')}]\n`);
    if (set.has('--verbose')) console.error(`[${texts.length} texts in ${seconds.toFixed(3)} s (${(texts.length / seconds).toFixed(1)} texts/s); threads: ${engine.threads}]`);
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

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'embed') return runEmbed(rest);
  if (command !== 'generate') { console.error(usage); return 2; }
  const { options: o, flags } = parse(rest);
  const modelPath = o['--model'] ?? path.join(root, 'models/SmolLM2-135M-Instruct.Q4_1.gguf');
  const threads = number(o['--threads'], '--threads', true) ?? 1;
  const engine = await Engine.create(new URL(`file://${path.resolve(o['--wasm'] ?? path.join(root, 'web/tinylm.wasm'))}`), { threads, adaptiveThreads: !flags.has('--fixed-threads') });
  if (threads > 1 && engine.threads < threads) console.error(`warning: running on ${engine.threads} thread(s): ${engine.threadsError}`);
  const loadStart = performance.now();
  const model = engine.loadModel(await readFile(modelPath));
  const loadMs = performance.now() - loadStart;
  let prompt;
  if (o['--prompt-ids'] !== undefined) prompt = JSON.parse(o['--prompt-ids']);
  else if (o['--prompt'] !== undefined) prompt = Array.from(model.tokenize(o['--prompt'], { addSpecial: true }));
  else throw new Error('generate needs --prompt TEXT or --prompt-ids JSON');
  const generation = {
    maxTokens: number(o['--max-tokens'], '--max-tokens', true) ?? 128,
    temperature: number(o['--temperature'], '--temperature') ?? 0.8,
    topK: number(o['--top-k'], '--top-k', true) ?? 40,
    topP: number(o['--top-p'], '--top-p') ?? 0.95,
    minP: number(o['--min-p'], '--min-p') ?? 0.05,
    repeatPenalty: number(o['--repeat-penalty'], '--repeat-penalty') ?? 1.0,
    seed: number(o['--seed'], '--seed', true) ?? Math.floor(Math.random() * 2 ** 32),
    stop: o['--stop'] ?? [],
    ignoreEOS: flags.has('--ignore-eos'),
  };
  const session = model.createSession({ contextLength: number(o['--context'], '--context', true) ?? Math.min(2048, model.info.trainedContextLength) });
  const start = performance.now();
  const printIDs = flags.has('--ids');
  let firstToken = null;
  const result = session.generate(prompt, generation, (text) => {
    firstToken ??= performance.now();
    if (!printIDs) process.stdout.write(text);
  });
  const end = performance.now();
  const seconds = (end - start) / 1000;
  if (printIDs) process.stdout.write(`[${result.tokens.join(', ')}]\n`);
  else process.stdout.write('\n');
  if (flags.has('--verbose')) {
    // The first token comes out of the prefill step; decode speed counts the rest.
    const decode = result.tokens.length > 1 && firstToken !== null ? (result.tokens.length - 1) / ((end - firstToken) / 1000) : NaN;
    console.error(`[load ${loadMs.toFixed(0)} ms; ${prompt.length} prompt + ${result.tokens.length} generated tokens in ${seconds.toFixed(2)} s (${(result.tokens.length / seconds).toFixed(1)} t/s incl. prefill, decode ${decode.toFixed(1)} t/s); threads: ${engine.threads}${threadModes(engine)}; stop: ${result.reason}; wasm memory ${(engine.memoryBytes / 2 ** 20).toFixed(0)} MiB]`);
  }
  engine.terminate();
  return 0;
}

main().then((code) => process.exit(code), (error) => { console.error(`error: ${error.name === 'Error' ? '' : error.name + ': '}${error.message}`); process.exit(1); });
