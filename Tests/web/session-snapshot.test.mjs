// Session snapshots through the wasm ABI (engine.js saveSnapshot/restoreSnapshot): a restored
// session continues bit for bit, a restored chat evaluates only the new message, and snapshots
// of anything else are refused with named errors that leave the session as it was.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, modelBytes, smolLM2Path } from './helpers.mjs';

let engine;
let model;

before(async () => {
  engine = await createEngine();
  model = engine.loadModel(await modelBytes(smolLM2Path));
});

const text = 'The lighthouse keeper wrote in his log every night: the weather, the ships that passed, and the birds that rested on the gallery rail.';

function argmax(logits) {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

function bits(logits) { return new Uint32Array(logits.buffer.slice(0)); }

test('a restored session gives bit-identical logits; the snapshot holds only the filled positions', () => {
  const original = model.createSession({ contextLength: 512 });
  const restored = model.createSession({ contextLength: 1024 });
  try {
    const ids = Array.from(model.tokenize(text, { addSpecial: true }));
    original.evaluate(ids);
    const snapshot = original.saveSnapshot();
    const rowBytes = model.info.layerCount * 2 * 2 * model.info.kvHeadCount * model.info.keyLength; // f16 keys + values
    assert.ok(snapshot.byteLength >= ids.length * rowBytes && snapshot.byteLength < ids.length * (rowBytes + 16) + 256,
      `${snapshot.byteLength} bytes for ${ids.length} tokens`);
    restored.evaluate(Array.from(model.tokenize('Another text first.', { addSpecial: true })));
    assert.equal(restored.restoreSnapshot(snapshot), ids.length);
    assert.equal(restored.tokenCount, ids.length);
    let next = argmax(original.logits());
    for (let step = 0; step < 3; step++) {
      original.evaluate([next]);
      restored.evaluate([next]);
      assert.deepEqual(bits(restored.logits()), bits(original.logits()), `step ${step}`);
      next = argmax(original.logits());
    }
  } finally {
    original.free();
    restored.free();
  }
});

test('a restored chat transcript continues the conversation evaluating only the new message', () => {
  const first = model.createSession({ contextLength: 1024 });
  const second = model.createSession({ contextLength: 1024 });
  try {
    const messages = [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'What is the capital of Italy?' }];
    const answer = first.generate(first.chatTokens(messages), { seed: 7, temperature: 0.7, maxTokens: 20 });
    messages.push({ role: 'assistant', content: answer.text }, { role: 'user', content: 'And its river?' });
    second.restoreSnapshot(first.saveSnapshot());
    const expectedIDs = Array.from(first.chatTokens(messages));
    const resumedIDs = Array.from(second.chatTokens(messages));
    assert.deepEqual(resumedIDs, expectedIDs);
    const expected = first.generate(expectedIDs, { seed: 8, temperature: 0.7, maxTokens: 20 });
    const resumed = second.generate(resumedIDs, { seed: 8, temperature: 0.7, maxTokens: 20 });
    assert.equal(resumed.text, expected.text);
    assert.equal(resumed.reused, expected.reused);
    const glue = model.tokenize('<|im_end|>\n<|im_start|>user\nAnd its river?<|im_end|>\n<|im_start|>assistant\n');
    assert.equal(resumedIDs.length - resumed.reused, glue.length);
  } finally {
    first.free();
    second.free();
  }
});

test('snapshots of another template, damaged or too long ones are refused and change nothing', () => {
  const source = model.createSession({ contextLength: 256 });
  const target = model.createSession({ contextLength: 256 });
  const short = model.createSession({ contextLength: 8 });
  try {
    source.evaluate(Array.from(model.tokenize(text, { addSpecial: true })));
    const snapshot = source.saveSnapshot({ template: '{{ messages }}' });
    target.evaluate([1, 2, 3]);
    const refuse = (bytes, options, name, session = target) => {
      const before = session.tokenCount;
      assert.throws(() => session.restoreSnapshot(bytes, options), (error) => error.name === name && error.message.length > 0);
      assert.equal(session.tokenCount, before);
    };
    refuse(snapshot, {}, 'SnapshotMismatchError');
    refuse(snapshot, { template: '{{ other }}' }, 'SnapshotMismatchError');
    refuse(snapshot.slice(0, snapshot.length - 3), { template: '{{ messages }}' }, 'InvalidSnapshotError');
    refuse(new Uint8Array(0), {}, 'InvalidSnapshotError');
    const flipped = snapshot.slice();
    flipped[Math.floor(flipped.length / 2)] ^= 1;
    refuse(flipped, { template: '{{ messages }}' }, 'InvalidSnapshotError');
    refuse(snapshot, { template: '{{ messages }}' }, 'InvalidSnapshotError', short);
    assert.equal(target.restoreSnapshot(snapshot, { template: '{{ messages }}' }), source.tokenCount);
    assert.match(model.fingerprint, /^[0-9a-f]{16}$/);
  } finally {
    source.free();
    target.free();
    short.free();
  }
});
