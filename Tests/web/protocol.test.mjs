// The request protocol (web/protocol.js): its option table agrees with the option parser in the
// core (GenerationOptions+JSON.swift, through the wasm module), unknown options are errors that
// name the closest valid option, and errors keep their fields across postMessage.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, modelBytes, smolLM2Path } from './helpers.mjs';
import {
  GENERATION_OPTIONS, GENERATE_CALL_OPTIONS, CHAT_CALL_OPTIONS, CHAT_OPTIONS, checkOptions, pickOptions, closestName, editDistance,
  serializeError, deserializeError, namedError,
} from '../../web/protocol.js';

let session;

before(async () => {
  const engine = await createEngine();
  const model = engine.loadModel(await modelBytes(smolLM2Path));
  session = model.createSession({ contextLength: 64 });
});

/** A valid value of each kind, as the core takes it. */
const SAMPLES = { number: 0.5, integer: 3, boolean: false, strings: ['\n\n'], string: 'root ::= "a"', object: { type: 'json_object' } };

test('every generation option the page sends is one the core reads, and the core rejects the rest', () => {
  // responseFormat and grammar reach the core as its constraint options (worker.js): the others as they are.
  const { responseFormat, grammar, ...direct } = GENERATION_OPTIONS;
  assert.equal(responseFormat, 'object');
  assert.equal(grammar, 'string');
  for (const [key, kind] of Object.entries(direct)) {
    assert.doesNotThrow(() => session.startGeneration([1, 2], { [key]: SAMPLES[kind], maxTokens: 1 }), `the core rejects '${key}'`);
    session.reset();
  }
  assert.throws(() => session.startGeneration([1, 2], { temprature: 0 }), { name: 'InvalidArgumentError', message: /unknown generation option 'temprature'/ });
});

test('an unknown option names the closest valid one', () => {
  const cases = [
    ['temprature', GENERATE_CALL_OPTIONS, 'temperature'],
    ['maxToken', GENERATE_CALL_OPTIONS, 'maxTokens'],
    ['max_tokens', GENERATE_CALL_OPTIONS, 'maxTokens'],
    ['topk', GENERATE_CALL_OPTIONS, 'topK'],
    ['ignoreEos', GENERATE_CALL_OPTIONS, 'ignoreEOS'],
    ['tool', CHAT_CALL_OPTIONS, 'tools'],
    ['contine', CHAT_OPTIONS, 'continue'],
  ];
  for (const [key, table, expected] of cases) {
    assert.throws(() => checkOptions({ [key]: 1 }, table, 'generate()'), (error) => {
      assert.equal(error.name, 'InvalidArgumentError');
      assert.equal(error.option, key);
      assert.equal(error.suggestion, expected);
      assert.match(error.message, new RegExp(`unknown option '${key}': did you mean '${expected}'\\?`));
      return true;
    });
  }
  // Nothing near: the message lists the valid options instead.
  assert.throws(() => checkOptions({ banana: 1 }, CHAT_OPTIONS, 'formatChat()'), (error) =>
    error.suggestion === null && /the options are 'template', 'tools', 'toolChoice', 'addGenerationPrompt', 'continue'/.test(error.message));
  // An unknown key is an error even with an undefined value: a typo is a typo.
  assert.throws(() => checkOptions({ temprature: undefined }, GENERATE_CALL_OPTIONS, 'generate()'), { name: 'InvalidArgumentError' });
});

test('values of the wrong kind are errors; undefined and null count as left out', () => {
  assert.throws(() => checkOptions({ maxTokens: '2' }, GENERATE_CALL_OPTIONS, 'generate()'),
    { name: 'InvalidArgumentError', message: "generate(): option 'maxTokens' must be a whole number, not the string \"2\"" });
  assert.throws(() => checkOptions({ temperature: Number.NaN }, GENERATE_CALL_OPTIONS, 'generate()'), /must be a finite number/);
  assert.throws(() => checkOptions({ stop: '\n' }, GENERATE_CALL_OPTIONS, 'generate()'), /must be an array of strings/);
  assert.throws(() => checkOptions({ onToken: 'print' }, GENERATE_CALL_OPTIONS, 'generate()'), /must be a function/);
  assert.throws(() => checkOptions({ toolChoice: 'sometimes' }, CHAT_OPTIONS, 'chat()'), /toolChoice' must be 'auto', 'required', 'none'/);
  assert.throws(() => checkOptions('fast', GENERATE_CALL_OPTIONS, 'generate()'), /options must be an object/);
  assert.doesNotThrow(() => checkOptions({ temperature: undefined, seed: null, signal: new AbortController().signal }, GENERATE_CALL_OPTIONS, 'generate()'));
  assert.doesNotThrow(() => checkOptions(undefined, GENERATE_CALL_OPTIONS, 'generate()'));
  assert.deepEqual(pickOptions({ temperature: 0, seed: undefined, signal: 'x', onToken: null }, GENERATION_OPTIONS), { temperature: 0 });
});

test('edit distance counts a swap of neighbours as one edit', () => {
  assert.equal(editDistance('temprature', 'temperature'), 1);
  assert.equal(editDistance('tpoK', 'topK'), 1);
  assert.equal(editDistance('', 'seed'), 4);
  assert.equal(editDistance('seed', 'seed'), 0);
  assert.equal(closestName('xyz', Object.keys(GENERATION_OPTIONS)), null);
});

test('errors keep their name and fields across postMessage', () => {
  const error = namedError('AbortError', 'stopped', { partial: { text: 'Hi', tokens: [1] } });
  const unknown = (() => { try { checkOptions({ topk: 1 }, GENERATION_OPTIONS, 'generation options'); } catch (e) { return e; } })();
  for (const original of [error, unknown]) {
    const copy = deserializeError(structuredClone(serializeError(original)));
    assert.ok(copy instanceof Error);
    assert.equal(copy.name, original.name);
    assert.equal(copy.message, original.message);
    for (const key of ['partial', 'option', 'suggestion']) assert.deepEqual(copy[key], original[key]);
  }
});
