// Shared paths and loaders for the Node tests of the wasm build.
import { readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../web/engine.js';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const reference = path.resolve(root, '../shared/reference');
export const wasmPath = path.join(root, 'web/tinylm.wasm');
export const threadedWasmPath = path.join(root, 'web/tinylm-mt.wasm');
export const smolLM2Path = path.join(root, 'models/SmolLM2-135M-Instruct.Q4_1.gguf');
export const gemma3Path = path.join(root, 'models/gemma-3-270m-q4_k_m.gguf');
export const nativeTool = path.join(root, '.build/release/tinylm');

export function requireFile(file, hint) {
  if (!existsSync(file)) throw new Error(`missing ${file}: ${hint}`);
  return file;
}

export async function createEngine({ threads = 1, adaptiveThreads = true } = {}) {
  requireFile(wasmPath, 'run ./build-wasm.sh');
  if (threads > 1) requireFile(threadedWasmPath, 'run ./build-wasm.sh');
  return Engine.create(new URL(`file://${wasmPath}`), { log: () => {}, threads, adaptiveThreads });
}

export async function jsonLines(relative) {
  const text = await readFile(requireFile(path.join(reference, relative), 'the shared reference data is missing'), 'utf8');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

export async function modelBytes(file) {
  return readFile(requireFile(file, 'run scripts/fetch-models.sh all'));
}

/** Greedy ids from the native build (swift build -c release), for native-vs-wasm comparisons
 *  (no repetition penalty: the CLI's default is the model's recommended one). */
export function nativeGreedy(modelFile, promptIDs, count) {
  requireFile(nativeTool, 'run swift build -c release');
  const out = execFileSync(nativeTool, ['generate', '--model', modelFile, '--prompt-ids', JSON.stringify(promptIDs),
    '--temperature', '0', '--repeat-penalty', '1', '--max-tokens', String(count), '--ignore-eos', '--ids', '--threads', '1'], { encoding: 'utf8' });
  return JSON.parse(out.trim());
}

/** The reference README's rule: exact up to the first step whose top-1/top-2 gap is < 0.05. */
export function firstFragileStep(gaps, threshold = 0.05) {
  const index = gaps.findIndex((gap) => gap < threshold);
  return index < 0 ? gaps.length : index;
}

/** How many of the last-position logits of the first `count` reference prompts of `folder`
 *  (smollm2, gemma3) differ from llama.cpp's full logits; one entry per prompt. */
export async function promptLogitDifferences(model, folder, count) {
  const cases = await jsonLines(`${folder}/logits_top.jsonl`);
  // The files are numbered by the reference generator's own case list: found by name.
  const files = await readdir(path.join(reference, folder, 'logits_full'));
  const differences = [];
  for (const c of cases.slice(0, count)) {
    const name = files.find((file) => file.replace(/^\d+_/, '') === `${c.name}.f32`);
    if (!name) throw new Error(`no full logits for ${c.name} in ${folder}/logits_full`);
    const file = path.join(reference, folder, 'logits_full', name);
    const bytes = await readFile(file);
    const expected = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const session = model.createSession({ contextLength: 64 });
    session.evaluate(c.prompt_ids);
    const logits = session.logits();
    session.free();
    let differing = 0;
    for (let i = 0; i < expected.length; i++) if (logits[i] !== expected[i]) differing++;
    differences.push({ name: c.name, differing, total: expected.length });
  }
  return differences;
}
