// The Node CLI (scripts/tinylm-node.mjs, the wasm build) and the native tinylm are
// interchangeable: the same subcommands and flags give the same output (token ids, model info,
// greedy text of generate and chat, multi-turn chats through the KV-cache-reusing transcript,
// chats with tools under each --tool-choice).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { root, nativeTool, wasmPath, smolLM2Path, gemma3Path, requireFile } from './helpers.mjs';

const nodeCLI = path.join(root, 'scripts/tinylm-node.mjs');

function run(command, args, input = null) {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { cwd: root, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${path.basename(command)} ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve({ stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

/** Runs `args` with both tools; returns [native, node] results. */
async function both(args, input = null) {
  requireFile(nativeTool, 'run swift build -c release');
  requireFile(wasmPath, 'run ./build-wasm.sh');
  const native = await run(nativeTool, [...args.slice(0, 1), '--threads', '1', ...args.slice(1)], input);
  const wasm = await run(process.execPath, [nodeCLI, ...args], input);
  return [native, wasm];
}

test('tokenize prints the same ids and pieces', async () => {
  for (const text of ['Hello, world!', '<|im_start|>user\nHi there<|im_end|>', '  café ☕ 123 — naïve\tend']) {
    for (const flags of [[], ['--no-special'], ['--add-bos', '--pieces']]) {
      // (tokenize has no --threads: the native run gets only the tokenize flags)
      requireFile(nativeTool, 'run swift build -c release');
      const native = await run(nativeTool, ['tokenize', '--model', smolLM2Path, ...flags, '--', text]);
      const wasm = await run(process.execPath, [nodeCLI, 'tokenize', '--model', smolLM2Path, ...flags, '--', text]);
      assert.equal(wasm.stdout, native.stdout, `${JSON.stringify(text)} ${flags.join(' ')}`);
    }
  }
});

test('info prints the same JSON and the same lines (load time aside)', async () => {
  for (const model of [smolLM2Path, gemma3Path]) {
    const nativeJSON = await run(nativeTool, ['info', '--model', model, '--json']);
    const wasmJSON = await run(process.execPath, [nodeCLI, 'info', '--model', model, '--json']);
    assert.equal(wasmJSON.stdout, nativeJSON.stdout);
    const info = JSON.parse(wasmJSON.stdout);
    assert.ok(info.name && info.sampling && ['gguf', 'table', 'default'].includes(info.sampling.source));
    const withoutLoadTime = (text) => text.split('\n').filter((line) => !line.startsWith('load time:')).join('\n');
    const native = await run(nativeTool, ['info', '--model', model]);
    const wasm = await run(process.execPath, [nodeCLI, 'info', '--model', model]);
    assert.equal(withoutLoadTime(wasm.stdout), withoutLoadTime(native.stdout));
  }
});

test('greedy generate gives the same text and ids', async () => {
  const prompt = ['--model', smolLM2Path, '--prompt', 'The three primary colors are', '--temperature', '0', '--max-tokens', '32'];
  let [native, wasm] = await both(['generate', ...prompt]);
  assert.equal(wasm.stdout, native.stdout);
  assert.ok(native.stdout.trim().length > 0);
  [native, wasm] = await both(['generate', ...prompt, '--ids']);
  assert.equal(wasm.stdout, native.stdout);
  assert.equal(JSON.parse(native.stdout).length, 32);
});

test('constrained generate gives the same JSON', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'tinylm-cli-'));
  const schema = path.join(dir, 'schema.json');
  await writeFile(schema, JSON.stringify({ type: 'object', properties: { color: { enum: ['red', 'green', 'blue'] }, count: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['color', 'count'] }));
  const [native, wasm] = await both(['generate', '--model', smolLM2Path, '--prompt', 'A JSON object describing a color:', '--temperature', '0', '--max-tokens', '40', '--json-schema', schema]);
  assert.equal(wasm.stdout, native.stdout);
  const value = JSON.parse(native.stdout);
  assert.ok(['red', 'green', 'blue'].includes(value.color) && Number.isInteger(value.count));
});

test('greedy chat gives the same answers, one-shot and over several turns', async () => {
  let [native, wasm] = await both(['chat', '--model', smolLM2Path, '--prompt', 'What is the capital of France?', '--temperature', '0', '--max-tokens', '48']);
  assert.equal(wasm.stdout, native.stdout);
  assert.ok(native.stdout.trim().length > 0);
  // Three turns from stdin: each reply stays in the session's transcript as generated, in both.
  const turns = 'What is the capital of France?\nAnd of Italy?\nWhich of the two is larger?\n';
  [native, wasm] = await both(['chat', '--model', smolLM2Path, '--temperature', '0', '--max-tokens', '32', '--system', 'Answer in one sentence.', '--verbose'], turns);
  assert.equal(wasm.stdout, native.stdout);
  // --verbose reports per turn how many prompt tokens were evaluated and reused: the same counts.
  const counts = (text) => [...text.matchAll(/prompt (\d+) tokens: (\d+) evaluated, (\d+) reused/g)].map((m) => m.slice(1).map(Number));
  assert.deepEqual(counts(wasm.stderr), counts(native.stderr));
  assert.equal(counts(native.stderr).length, 3);
  for (const [, evaluated, reused] of counts(native.stderr).slice(1)) assert.ok(reused > 0 && evaluated < 40, `${evaluated} evaluated, ${reused} reused`);
});

test('chat --tools: --tool-choice auto (the default) answers in text where the model writes text; required and a tool name make it a call; none leaves the tools out', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'tinylm-cli-'));
  const tools = path.join(dir, 'tools.json');
  const tool = (name, description, properties) => ({ type: 'function', function: { name, description, parameters: { type: 'object', properties, required: Object.keys(properties) } } });
  await writeFile(tools, JSON.stringify([tool('get_weather', 'Current weather in a city', { city: { type: 'string' } }),
    tool('get_time', 'Current time in a timezone', { timezone: { type: 'string' } })]));
  // No repeat penalty: SmolLM2 writes calls reliably only without it.
  const chat = ['chat', '--model', smolLM2Path, '--prompt', 'What is the capital of France?', '--temperature', '0', '--repeat-penalty', '1', '--max-tokens', '48'];
  /** The calls the CLI prints on the line after the answer, or null. */
  const callsIn = (stdout) => {
    const last = stdout.trimEnd().split('\n').at(-1);
    try { const calls = JSON.parse(last); return Array.isArray(calls) ? calls : null; } catch { return null; }
  };
  const nativeOnly = async (args) => (await run(nativeTool, [...args.slice(0, 1), '--threads', '1', ...args.slice(1)])).stdout;

  let [native, wasm] = await both([...chat, '--tools', tools]);
  assert.equal(wasm.stdout, native.stdout);
  assert.equal(callsIn(native.stdout), null, native.stdout);
  assert.ok(native.stdout.trim().length > 0);
  assert.equal(await nativeOnly([...chat, '--tools', tools, '--tool-choice', 'auto']), native.stdout);

  [native, wasm] = await both([...chat, '--tools', tools, '--tool-choice', 'required']);
  assert.equal(wasm.stdout, native.stdout);
  assert.ok(['get_weather', 'get_time'].includes(callsIn(native.stdout)?.[0]?.function?.name), native.stdout);

  [native, wasm] = await both([...chat, '--tools', tools, '--tool-choice', 'get_time']);
  assert.equal(wasm.stdout, native.stdout);
  const [call] = callsIn(native.stdout) ?? [];
  assert.equal(call?.function?.name, 'get_time', native.stdout);
  assert.equal(typeof JSON.parse(call.function.arguments).timezone, 'string');

  [native, wasm] = await both([...chat, '--tools', tools, '--tool-choice', 'none']);
  assert.equal(wasm.stdout, native.stdout);
  assert.equal(native.stdout, await nativeOnly(chat), 'none: the chat as without --tools');

  for (const command of [[nativeTool], [process.execPath, nodeCLI]]) {
    await assert.rejects(run(command[0], [...command.slice(1), ...chat, '--tools', tools, '--tool-choice', 'get_news']), /no tool named 'get_news'/);
  }
});

test('bench prints the native table layout', async () => {
  const { stdout } = await run(process.execPath, [nodeCLI, 'bench', '--model', smolLM2Path, '-p', '8', '-n', '4', '-r', '1']);
  assert.match(stdout, /^model: SmolLM2 135M Instruct \(llama\)/m);
  assert.match(stdout, /^\| threads \| test \| t\/s \| ms\/token \|$/m);
  assert.match(stdout, /^\| 1 \| pp8 \| [\d.]+ ± [\d.]+ \| [\d.]+ \|$/m);
  assert.match(stdout, /^\| 1 \| tg4 \| [\d.]+ ± [\d.]+ \| [\d.]+ \|$/m);
});
