// Tool calls through the wasm ABI: toolChoice 'auto' lets SmolLM2 answer in text or call a tool
// (the engine's lazy constraint), and web/tool-call-stream.js splits an answer into content and
// OpenAI-style call deltas whose arguments, joined, equal what the engine's parser returns.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, modelBytes, smolLM2Path } from './helpers.mjs';
import { ToolCallStream } from '../../web/tool-call-stream.js';

const weather = [{ type: 'function', function: { name: 'get_weather', description: 'Current weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
const QWEN = { prefix: '<tool_call>\n', suffix: '\n</tool_call>', argumentsKey: 'arguments', callsInList: false };
const PLAIN = { prefix: '', suffix: '', argumentsKey: 'arguments', callsInList: false };

let model;
before(async () => {
  const engine = await createEngine();
  model = engine.loadModel(await modelBytes(smolLM2Path));
});

/** Feeds `pieces` to a ToolCallStream: {content, deltas, arguments (joined fragments)}. */
function split(format, pieces) {
  const stream = new ToolCallStream(format);
  let content = '';
  const deltas = [];
  for (const piece of pieces) {
    const step = stream.push(piece);
    content += step.content;
    if (step.toolCalls) deltas.push(...step.toolCalls);
  }
  content += stream.finish();
  const joined = deltas.map((d) => d.function.arguments ?? '').join('');
  return { content, deltas, arguments: joined, stream };
}

function characters(text) {
  return [...text];
}

test('a Qwen-style call streams as a named delta and argument fragments equal to the parser\'s arguments', () => {
  const text = 'Let me check. <tool_call>\n{"name": "get_weather", "arguments": {"city": "Pa\\"ris", "days": [1, {"n": 2}]}}\n</tool_call>';
  for (const pieces of [characters(text), [text], text.match(/.{1,7}/gs)]) {
    const { content, deltas, arguments: joined } = split(QWEN, pieces);
    assert.equal(content, 'Let me check. ');
    assert.deepEqual(deltas[0], { index: 0, id: deltas[0].id, type: 'function', function: { name: 'get_weather', arguments: '' } });
    assert.match(deltas[0].id, /^call_[0-9a-f]{24}$/);
    assert.ok(deltas.slice(1).every((d) => d.index === 0 && !('id' in d) && typeof d.function.arguments === 'string'));
    const [call] = model.parseToolCalls(text, QWEN);
    assert.equal(joined, call.function.arguments);
    assert.equal(joined, '{"city": "Pa\\"ris", "days": [1, {"n": 2}]}');
  }
});

test('text that only looks like the start of a call is content, held back no longer than needed', () => {
  const { content, deltas } = split(QWEN, ['Use <tool', 's> wisely, <', 'b>.']);
  assert.equal(content, 'Use <tools> wisely, <b>.');
  assert.equal(deltas.length, 0);
  const stream = new ToolCallStream(QWEN);
  assert.equal(stream.push('a <tool_c').content, 'a ');
  // Without a marker a call is a JSON object at the start of the answer, and only there.
  assert.equal(split(PLAIN, [' ', 'Sure: {"name": "x"}']).content, ' Sure: {"name": "x"}');
  const call = split(PLAIN, [' \n', '{"na', 'me": "get_weather", "arguments": ', '{"city"', ': "Oslo"}}']);
  assert.equal(call.content, '');
  assert.equal(call.deltas[0].function.name, 'get_weather');
  assert.equal(call.arguments, '{"city": "Oslo"}');
});

/** A SmolLM2 chat with the weather tool: {result, pieces (step texts), format}. */
function chat(question, toolChoice) {
  const messages = [{ role: 'user', content: question }];
  const prompt = model.toolCallPrompt(messages, { tools: weather });
  const session = model.createSession({ contextLength: 1024 });
  const pieces = [];
  const result = session.generate(Array.from(prompt.tokens),
    { ...model.toolCallOptions(weather, { toolChoice, format: prompt.format }), temperature: 0, maxTokens: 80 },
    (text) => pieces.push(text));
  session.free();
  return { result, pieces, format: prompt.format };
}

test("toolChoice 'auto': SmolLM2 calls the tool when it opens a call; streamed arguments equal the parsed ones", () => {
  const { result, pieces, format } = chat('Call get_weather for Paris.', 'auto');
  assert.equal(result.reason, 'grammar', result.text);
  const [call] = model.parseToolCalls(result.text, format);
  assert.equal(call.function.name, 'get_weather');
  assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');
  const streamed = split(format, pieces);
  assert.equal(streamed.content, '');
  assert.equal(streamed.deltas[0].function.name, 'get_weather');
  assert.equal(streamed.arguments, call.function.arguments);
});

test("toolChoice 'auto': SmolLM2 answers in text where it writes text; 'required' makes the same question a call", () => {
  const question = 'What is the capital of France?';
  const free = chat(question, 'auto');
  assert.equal(free.result.reason, 'eog');
  assert.ok(free.result.text.trim().length > 0);
  assert.throws(() => model.parseToolCalls(free.result.text, free.format), { name: 'GrammarError' });
  const streamed = split(free.format, free.pieces);
  assert.equal(streamed.content, free.result.text);
  assert.equal(streamed.deltas.length, 0);
  const forced = chat(question, 'required');
  assert.equal(forced.result.reason, 'grammar');
  assert.equal(model.parseToolCalls(forced.result.text, forced.format)[0].function.name, 'get_weather');
});
