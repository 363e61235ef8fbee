// LoRA adapters in the wasm build: SmolLM2-135M with the rank-8 reference adapter of
// ../shared/reference/smollm2-lora/ against llama.cpp's outputs at scales 1.0 and 0.5, switching
// back to the base model, two half scales against one full scale, and malformed adapters.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { createEngine, jsonLines, modelBytes, smolLM2Path, firstFragileStep, reference, requireFile } from './helpers.mjs';
import { readGGUF, writeGGUF, stringValue } from './gguf-edit.mjs';

const adapterPath = path.join(reference, 'smollm2-lora/smollm2-test-lora.gguf');
const SCALES = ['1.0', '0.5'];

let engine;
let model;
let adapterBytes;
let adapter;

before(async () => {
  engine = await createEngine();
  model = engine.loadModel(await modelBytes(smolLM2Path));
  adapterBytes = await readFile(requireFile(adapterPath, 'the shared reference data is missing'));
  adapter = model.loadAdapter(adapterBytes);
});

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** The next-token logits after `promptIDs` in a fresh session applying `adapters`. */
function promptLogits(promptIDs, adapters = []) {
  const session = model.createSession({ contextLength: 128 });
  session.setAdapters(adapters);
  session.evaluate(promptIDs);
  const logits = session.logits();
  session.free();
  return logits;
}

test('the reference adapter loads with its metadata', () => {
  assert.equal(adapter.info.architecture, 'llama');
  assert.equal(adapter.info.alpha, 16);
  assert.equal(adapter.info.matrices, 30 * 7);
  assert.equal(adapter.info.maxRank, 8);
});

for (const scale of SCALES) {
  test(`prompt logits at scale ${scale} are llama.cpp's to the bit`, async () => {
    const folder = path.join(reference, `smollm2-lora/scale-${scale}/logits_full`);
    const files = await readdir(folder);
    const cases = await jsonLines(`smollm2-lora/scale-${scale}/logits_top.jsonl`);
    assert.equal(cases.length, 8);
    for (const c of cases) {
      const name = files.find((file) => file.replace(/^\d+_/, '') === `${c.name}.f32`);
      const bytes = await readFile(path.join(folder, name));
      const expected = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      const logits = promptLogits(c.prompt_ids, [{ adapter, scale: Number(scale) }]);
      let differing = 0;
      for (let i = 0; i < expected.length; i++) if (logits[i] !== expected[i]) differing++;
      assert.equal(differing, 0, `${c.name}: ${differing} of ${expected.length} logits differ from llama.cpp's`);
    }
  });

  test(`greedy ids at scale ${scale} equal llama.cpp's by the reference rule`, async () => {
    const cases = await jsonLines(`smollm2-lora/scale-${scale}/greedy.jsonl`);
    const base = await jsonLines('smollm2/greedy.jsonl');
    assert.equal(cases.length, 8);
    let changedByAdapter = 0;
    for (const [index, c] of cases.entries()) {
      const steps = c.gen_ids.length;
      const session = model.createSession({ contextLength: 256 });
      session.setAdapters([{ adapter, scale: Number(scale) }]);
      const { tokens } = session.generate(c.prompt_ids, { temperature: 0, repeatPenalty: 1, maxTokens: steps, ignoreEOS: true });
      // Exact up to the first step whose top-1/top-2 gap is under 0.05 ...
      const fragile = firstFragileStep(c.top1_top2_gap);
      assert.deepEqual(tokens.slice(0, fragile), c.gen_ids.slice(0, fragile), `${c.name}: differs from llama.cpp before step ${fragile}`);
      // ... then teacher-forced on llama.cpp's continuation: the same top-1 wherever the gap is clear.
      session.reset();
      session.evaluate(c.prompt_ids);
      for (let step = 0; step < steps; step++) {
        if (c.top1_top2_gap[step] >= 0.05) assert.equal(argmax(session.logits()), c.gen_ids[step], `${c.name}: teacher-forced step ${step}`);
        if (step + 1 < steps) session.evaluate([c.gen_ids[step]]);
      }
      session.free();
      if (c.gen_ids.some((id, i) => id !== base[index].gen_ids[i])) changedByAdapter++;
    }
    assert.ok(changedByAdapter >= 1, 'the adapter should change some continuations (else this test proves nothing)');
  });
}

test('one session switches between the adapter and the base model exactly', async () => {
  const prompt = (await jsonLines('smollm2/greedy.jsonl'))[5].prompt_ids;
  const fresh = promptLogits(prompt);
  const session = model.createSession({ contextLength: 128 });
  session.evaluate(prompt);
  assert.deepEqual(session.logits(), fresh);
  assert.equal(session.setAdapters([]), false, 'the same (empty) set keeps the cache');
  assert.equal(session.tokenCount, prompt.length);

  assert.equal(session.setAdapters([{ adapter }]), true);
  assert.equal(session.tokenCount, 0, 'another set empties the cache');
  session.evaluate(prompt);
  const adapted = session.logits();
  assert.notDeepEqual(adapted, fresh);
  assert.equal(session.setAdapters([{ adapter, scale: 1 }]), false, 'the same set keeps the cache');

  assert.equal(session.setAdapters([]), true);
  session.evaluate(prompt);
  assert.deepEqual(session.logits(), fresh, 'without the adapter the logits are the base model\'s to the bit');
  // Other sessions of the model are untouched by one session's adapters.
  session.setAdapters([{ adapter }]);
  assert.deepEqual(promptLogits(prompt), fresh);
  // Freeing an adapter a session applies detaches it first: the session is the base model again.
  const second = model.loadAdapter(adapterBytes);
  session.setAdapters([{ adapter: second }]);
  second.free();
  session.evaluate(prompt);
  assert.deepEqual(session.logits(), fresh);
  session.free();
});

test('two copies of the adapter at 0.5 each equal one at 1.0 within float tolerance', async () => {
  // The native test explains the bound: each half is rounded on its own, and this quantized
  // model re-quantizes activations before every matrix, which amplifies one-ulp differences.
  const copy = model.loadAdapter(adapterBytes);
  for (const c of (await jsonLines('smollm2/greedy.jsonl')).slice(0, 4)) {
    const full = promptLogits(c.prompt_ids, [{ adapter, scale: 1 }]);
    const halves = promptLogits(c.prompt_ids, [{ adapter, scale: 0.5 }, { adapter: copy, scale: 0.5 }]);
    const base = promptLogits(c.prompt_ids);
    let worst = 0;
    let effect = 0;
    for (let i = 0; i < full.length; i++) {
      worst = Math.max(worst, Math.abs(full[i] - halves[i]));
      effect = Math.max(effect, Math.abs(full[i] - base[i]));
    }
    assert.equal(argmax(halves), argmax(full), c.name);
    assert.ok(worst <= 1.5, `${c.name}: 0.5 + 0.5 differs from 1.0 by ${worst}`);
    assert.ok(effect > worst, `${c.name}: the adapter's own effect (${effect}) should exceed the difference (${worst})`);
  }
  copy.free();
});

test('each malformed adapter gets its named error and the base model keeps working', async () => {
  const prompt = (await jsonLines('smollm2/greedy.jsonl'))[0].prompt_ids;
  const baseline = promptLogits(prompt);
  const file = () => readGGUF(new Uint8Array(adapterBytes));
  const withMetadata = (key, value) => {
    const f = file();
    f.metadata = f.metadata.map((m) => (m.key === key ? stringValue(key, value) : m));
    return writeGGUF(f);
  };
  const withTensors = (edit) => {
    const f = file();
    f.tensors = edit(f.tensors);
    return writeGGUF(f);
  };
  const retensor = (name, change) => withTensors((tensors) => tensors.map((t) => (t.name === name ? { ...t, ...change } : t)));
  const cases = [
    ['a model file, not an adapter', withMetadata('general.type', 'model'), 'NotAnAdapterError'],
    ['another adapter type', withMetadata('adapter.type', 'control_vector'), 'NotAnAdapterError'],
    ['another architecture', withMetadata('general.architecture', 'qwen2'), 'AdapterArchitectureError'],
    ['a tensor naming no matrix', retensor('blk.0.attn_q.weight.lora_a', { name: 'blk.0.attn_z.weight.lora_a' }), 'AdapterTensorError'],
    ['a tensor of a layer the model lacks', retensor('blk.0.attn_q.weight.lora_a', { name: 'blk.30.attn_q.weight.lora_a' }), 'AdapterTensorError'],
    ['an A without its B', withTensors((tensors) => tensors.filter((t) => t.name !== 'blk.3.ffn_up.weight.lora_b')), 'AdapterTensorError'],
    ['an A of the wrong input width', retensor('blk.0.attn_q.weight.lora_a', { dims: [288, 8] }), 'AdapterShapeError'],
    ['a B of the wrong output height', retensor('blk.2.ffn_down.weight.lora_b', { dims: [8, 288] }), 'AdapterShapeError'],
    ['A and B of different ranks', retensor('blk.0.attn_q.weight.lora_a', { dims: [576, 4] }), 'AdapterRankError'],
    ['a truncated file', new Uint8Array(adapterBytes).subarray(0, 5000), 'InvalidModelError'],
  ];
  for (const [what, bytes, name] of cases) {
    assert.throws(() => model.loadAdapter(bytes), (error) => {
      assert.equal(error.name, name, `${what}: ${error.name}: ${error.message}`);
      assert.ok(error.message.length > 10, what);
      return true;
    });
    assert.deepEqual(promptLogits(prompt), baseline, `after ${what} the base model is unchanged`);
  }
  // The unedited file still loads after all that, and a session still generates.
  const again = model.loadAdapter(writeGGUF(file()));
  assert.deepEqual(promptLogits(prompt, [{ adapter: again }]), promptLogits(prompt, [{ adapter }]));
  again.free();
});

test('setAdapters refuses what is not an adapter of this model', () => {
  const session = model.createSession({ contextLength: 32 });
  assert.throws(() => session.setAdapters([{ adapter: {} }]), { name: 'InvalidArgumentError' });
  assert.throws(() => session.setAdapters([{ adapter, scale: Number.NaN }]), { name: 'InvalidArgumentError' });
  const freed = model.loadAdapter(adapterBytes);
  freed.free();
  assert.throws(() => session.setAdapters([{ adapter: freed }]), { name: 'InvalidArgumentError' });
  assert.equal(engine.abi.tinylm_session_set_adapters(session.handle, 0, 0, -1), -1);
  session.free();
});
