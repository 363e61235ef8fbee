// The shared-memory module (web/tinylm-mt.wasm) with helper workers (web/threads.js,
// kernel-worker.js; worker_threads under Node): two threads must compute exactly what one
// thread computes — same logits bit for bit, same greedy ids — for SmolLM2 and Gemma 3.
// (Speed is measured by benchmarks, never asserted here: scripts/tinylm-node.mjs --threads.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../web/engine.js';
import { DecodeModeChooser, KernelThreads } from '../../web/threads.js';
import { createEngine, jsonLines, modelBytes, smolLM2Path, gemma3Path, wasmPath } from './helpers.mjs';

let single;
let threaded;

before(async () => {
  single = await createEngine({ threads: 1 });
  // Always parallel (not adaptive): every section of these runs really is split across threads.
  threaded = await createEngine({ threads: 2, adaptiveThreads: false });
});

after(() => {
  threaded?.terminate();
});

test('the threaded engine runs the shared-memory module on two threads', () => {
  assert.equal(threaded.threads, 2, threaded.threadsError ?? '');
  assert.equal(threaded.threadsError, null);
  assert.ok(threaded.memory.buffer instanceof SharedArrayBuffer);
  assert.equal(single.threads, 1);
  assert.ok(!(single.memory.buffer instanceof SharedArrayBuffer));
});

function sameFloats(actual, expected, label) {
  assert.equal(actual.length, expected.length, label);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.fail(`${label}: logit ${i} differs: ${actual[i]} (threads) vs ${expected[i]} (single)`);
  }
}

/** Greedy ids and the logits after them on both engines; with `prefill`, also the prompt's
 *  logits (batched prefill). */
function compare(singleModel, threadedModel, c, tokens, contextLength, { prefill = false } = {}) {
  const results = [singleModel, threadedModel].map((model) => {
    const session = model.createSession({ contextLength });
    let promptLogits = null;
    if (prefill) {
      session.evaluate(c.prompt_ids);
      promptLogits = session.logits();
      session.reset();
    }
    const { tokens: ids } = session.generate(c.prompt_ids, { temperature: 0, maxTokens: tokens, ignoreEOS: true });
    const logits = session.logits();
    session.free();
    return { promptLogits, ids, logits };
  });
  if (prefill) sameFloats(results[1].promptLogits, results[0].promptLogits, `${c.name}: prompt logits`);
  assert.deepEqual(results[1].ids, results[0].ids, `${c.name}: greedy ids differ between 2 threads and 1`);
  sameFloats(results[1].logits, results[0].logits, `${c.name}: logits after generating`);
}

test('SmolLM2: two threads give the single thread\'s logits and greedy ids on every reference prompt', async () => {
  const bytes = await modelBytes(smolLM2Path);
  const models = [single.loadModel(bytes), threaded.loadModel(bytes)];
  const cases = await jsonLines('smollm2/greedy.jsonl');
  assert.equal(cases.length, 8);
  for (const c of cases) compare(models[0], models[1], c, 16, 256);
  // A long prompt: several prefill batches of 64 tokens, attention over 100+ positions.
  const long = { name: 'long prompt', prompt_ids: Array.from(models[0].tokenize('The history of bread. '.repeat(28), { addSpecial: true })) };
  assert.ok(long.prompt_ids.length > 128);
  compare(models[0], models[1], long, 8, 512, { prefill: true });
  assert.equal(threaded.kernelThreads.sections.serial, 0);
  assert.ok(threaded.kernelThreads.sections.parallel > 1000);
  for (const m of models) m.free();
});

test('Gemma 3: two threads give the single thread\'s logits and greedy ids', async () => {
  const bytes = await modelBytes(gemma3Path);
  const models = [single.loadModel(bytes), threaded.loadModel(bytes)];
  for (const c of (await jsonLines('gemma3/greedy.jsonl')).slice(0, 3)) compare(models[0], models[1], c, 12, 128, { prefill: true });
  for (const m of models) m.free();
});

test('a threaded module that cannot start falls back to the single-thread module', async () => {
  const engine = await Engine.create(new URL(`file://${wasmPath}`), { threads: 2, threadedSource: new Uint8Array([0, 97, 115, 109, 9, 9]) });
  assert.equal(engine.threads, 1);
  assert.match(engine.threadsError, /failed to start/);
  assert.equal(typeof engine.abi.tinylm_model_load, 'function');
});

test('adaptive threads (the default) time both modes and still give the same ids', async () => {
  const engine = await createEngine({ threads: 2 });
  try {
    assert.equal(engine.threads, 2);
    const bytes = await modelBytes(smolLM2Path);
    const [c] = await jsonLines('smollm2/greedy.jsonl');
    const models = [single.loadModel(bytes), engine.loadModel(bytes)];
    const ids = models.map((model) => {
      const session = model.createSession({ contextLength: 128 });
      const { tokens } = session.generate(c.prompt_ids, { temperature: 0, maxTokens: 16, ignoreEOS: true });
      session.free();
      return tokens;
    });
    assert.deepEqual(ids[1], ids[0]);
    // Serial steps are timed within the first few steps, whatever the load.
    const { sections, modes } = engine.kernelThreads;
    assert.ok(sections.parallel > 0 && sections.serial > 0, JSON.stringify(sections));
    assert.ok(modes.counts.parallel >= 2 && modes.counts.serial >= 1, JSON.stringify(modes.counts));
    for (const m of models) m.free();
  } finally {
    engine.terminate();
  }
});


/** Runs `steps` decode steps through a DecodeModeChooser whose whole-step times come from
 *  `ms(step, mode)` (a step's first quarter of sections taking a quarter of that); returns the
 *  modes chosen, one letter per step ('p' parallel, 's' serial, 'q' a probe of parallel on the
 *  first quarter of an otherwise serial step), how many steps ran mostly serially ('s' and 'q')
 *  and the total time. */
function chooseModes(steps, ms) {
  const chooser = new DecodeModeChooser();
  let modes = '';
  let total = 0;
  for (let step = 0; step < steps; step++) {
    const mode = chooser.next();
    if (chooser.probePart) {
      const part = ms(step, 'parallel') / 4;
      const took = part + ms(step, 'serial') * 3 / 4;
      chooser.record(took, part);
      modes += 'q';
      total += took;
    } else {
      const took = ms(step, mode);
      chooser.record(took, took / 4);
      modes += mode[0];
      total += took;
    }
  }
  const serial = modes.length - modes.split('').filter((m) => m === 'p').length;
  assert.deepEqual(chooser.counts, { parallel: steps - serial, serial, partialProbes: modes.split('q').length - 1 });
  return { modes, serial, total };
}

// SmolLM2 in Chromium, relaxed module: about 8 ms a step on two free cores, 13.7 ms on one.
const quiet = (step, mode) => (mode === 'parallel' ? 8 : 13.7);
// Another program keeps one core busy: parallel steps wait for the descheduled thread (25 ms),
// serial ones share the core less (16 ms).
const busy = (step, mode) => (mode === 'parallel' ? 25 : 16);

test('adaptive threads: on a quiet machine, parallel except for rare probes, despite single slow steps', () => {
  // One step in a hundred takes 50 ms longer, whatever its mode (a garbage collection, the
  // browser's own work): the moving average used before took each for a slow parallel mode and
  // ran about half of these steps serially.
  const { modes, serial, total } = chooseModes(1000, (step, mode) => quiet(step, mode) + (step % 100 === 50 ? 50 : 0));
  assert.ok(serial <= 25, `${serial} serial steps of 1000: ${modes}`);
  assert.ok(!modes.slice(10).includes('ss'), `never two serial steps in a row: ${modes}`);
  const allParallel = 1000 * 8 + 10 * 50;
  assert.ok(total < allParallel * 1.02, `${total} ms against ${allParallel} always parallel`);
});

test('adaptive threads: a descheduled thread turns steps serial at once, and parallel again when it is back', () => {
  const loaded = (step) => step >= 100 && step < 300;
  const { modes } = chooseModes(400, (step, mode) => (loaded(step) ? busy(step, mode) : quiet(step, mode)));
  assert.equal(modes.indexOf('s', 100), 102, `serial after two slow parallel steps: ${modes.slice(95, 110)}`);
  const duringLoad = modes.slice(110, 300);
  assert.equal(duringLoad.split('p').length - 1, 0, `parallel only in partial probes under load: ${duringLoad}`);
  assert.ok(duringLoad.split('q').length - 1 <= 50, `a partial probe at most every fourth step: ${duringLoad}`);
  const backToParallel = modes.indexOf('pppp', 300);
  assert.ok(backToParallel >= 300 && backToParallel <= 300 + 5, `parallel again within one probe gap: ${modes.slice(295)}`);
});

test('adaptive threads: after a transient slow stretch, parallel again within a few steps', () => {
  // Twenty steps (100-119) with the second core busy, on a quiet machine otherwise. The rule
  // before (whole-step probes of parallel after 4, then 8 and 16 steps) ran 31 steps serially,
  // twelve of them after the stretch.
  const { modes, serial, total } = chooseModes(300, (step, mode) => (step >= 100 && step < 120 ? busy(step, mode) : quiet(step, mode)));
  const stretch = modes.slice(95, 140);
  assert.ok(modes.indexOf('pppp', 120) <= 120 + 5, `parallel again within 5 steps: ${stretch}`);
  const serialAfterStretch = modes.slice(120, 300).split('').filter((m) => m !== 'p').length;
  assert.ok(serialAfterStretch <= 8, `${serialAfterStretch} serial steps after the stretch: ${stretch}`);
  assert.ok(serial <= 30, `${serial} serial steps of 300: ${modes}`);
  const best = 280 * 8 + 20 * 16;
  assert.ok(total < best * 1.05, `${total} ms against ${best} choosing right every step`);
});

test('adaptive threads: with a core busy throughout, serial steps with cheap partial probes, no flapping', () => {
  const { modes, serial, total } = chooseModes(600, busy);
  assert.ok(serial >= 595, `${serial} serial steps of 600: ${modes}`);
  assert.ok(!modes.slice(3).includes('p'), `no whole parallel step after the first ones: ${modes}`);
  const allSerial = 600 * 16;
  assert.ok(total < allSerial * 1.06, `${total} ms against ${allSerial} always serial`);
});

test('adaptive threads: under bursty load, serial wins without being thrown out by lucky parallel steps', () => {
  // Two parallel steps in three wait for a descheduled thread; serial steps are steady.
  const { modes, total } = chooseModes(600, (step, mode) => (mode === 'parallel' ? (step % 3 === 2 ? 9 : 35) : 16));
  const parallel = modes.slice(20).split('p').length - 1;
  assert.ok(parallel <= 60, `${parallel} parallel steps of 580: ${modes}`);
  assert.ok(total < 600 * 16 * 1.1, `${total} ms against ${600 * 16} always serial`);
});

test('adaptive threads: a prompt after a serial probe step runs in the mode in use, not the probe\'s', () => {
  // No helper workers: the engine thread claims every task itself, as it does when helpers are late.
  const tasks = [];
  const threads = new KernelThreads({ tinylm_run_task: (index) => tasks.push(index) }, 2);
  const during = [];
  for (let step = 0; step < 3; step++) threads.step(() => during.push(threads.serial));
  assert.deepEqual(during, [false, false, true], 'the third step is the first probe of serial');
  assert.equal(threads.modes.current, 'parallel');
  assert.equal(threads.serial, false, 'after the probe, sections run in the mode in use again');
  threads.parallelFor(2); // e.g. a prompt's section
  assert.deepEqual(tasks, [0, 1]);
  assert.deepEqual(threads.sections, { parallel: 1, serial: 0 });
  threads.terminate();
});

test('adaptive threads: a partial probe runs the first quarter of a step\'s sections in parallel, the rest serially', () => {
  // No helper workers: the engine thread claims every task itself, as it does when helpers are late.
  const threads = new KernelThreads({ tinylm_run_task: () => {} }, 2);
  const step = () => threads.step(() => { for (let s = 0; s < 8; s++) threads.parallelFor(2); });
  step(); // parallel; now the engine knows a step has 8 sections
  assert.deepEqual(threads.sections, { parallel: 8, serial: 0 });
  // Serial in use, and a probe of parallel due.
  const modes = threads.modes;
  modes.current = 'serial';
  modes.untilProbe = 1;
  step();
  assert.equal(modes.probePart, true);
  assert.deepEqual(threads.sections, { parallel: 8 + 2, serial: 6 }, 'two sections (a quarter) in parallel, six serially');
  assert.ok(modes.parallelPart !== null && modes.parallelPart >= 0, 'the probe\'s part was timed');
  assert.equal(threads.serial, true, 'after the probe, sections run in the mode in use again');
  threads.parallelFor(2); // e.g. a prompt's section
  assert.deepEqual(threads.sections, { parallel: 10, serial: 7 });
  // Serial steps time their first quarter too, for the probes to be judged against.
  step();
  assert.equal(modes.probePart, false);
  assert.equal(modes.serialParts.length, 1);
  assert.deepEqual(threads.sections, { parallel: 10, serial: 15 });
  threads.terminate();
});

test('thread timing: decode steps\' sections are split into the engine\'s tasks, waits and the rest', () => {
  // No helper workers: the engine thread runs every task itself, as when the helpers are late.
  const busy = (ms) => { const end = performance.now() + ms; while (performance.now() < end) { /* a task's work */ } };
  const threads = new KernelThreads({ tinylm_run_task: () => busy(0.2) }, 2);
  threads.adaptive = false;
  threads.startTiming();
  threads.parallelFor(2); // outside a decode step (a prompt): not timed
  for (let step = 0; step < 5; step++) {
    threads.step(() => { for (let s = 0; s < 3; s++) threads.parallelFor(2); busy(0.5); });
  }
  const t = threads.timingReport();
  assert.equal(t.steps, 5);
  assert.equal(t.sections, 15);
  assert.equal(t.engineAlone, 15, 'no helper ran a task');
  assert.equal(t.helperTasks, 0);
  assert.ok(t.engineTaskMs >= 15 * 2 * 0.2, JSON.stringify(t));
  assert.ok(t.stepMs - t.engineTaskMs - t.waitMs - t.publishMs >= 5 * 0.5, 'the work between sections is left over');
  assert.equal(t.serialMs, 0);
  // Adaptive: some steps run their sections serially, and those count as serial time.
  threads.adaptive = true;
  for (let step = 0; step < 6; step++) threads.step(() => threads.parallelFor(2));
  const u = threads.timingReport();
  assert.equal(u.steps, 11);
  assert.ok(u.serialMs >= 2 * 0.2 && u.sections > 15, JSON.stringify(u));
  threads.terminate();
});
