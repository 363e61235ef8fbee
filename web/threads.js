// Threads for the TinyLM engine: helper workers that run the kernels of the shared-memory
// module (tinylm-mt.wasm) beside the engine thread. Browsers need cross-origin isolation
// (COOP/COEP headers, or the service worker in coi-serviceworker.js) for SharedArrayBuffer;
// Node uses worker_threads. engine.js falls back to the single-thread module (tinylm.wasm)
// whenever this is unavailable or fails to start.
//
// How a parallel section runs (Sources/TinyLMWasm/Threads.swift is the other half): the
// engine thread's wasm calls the import tinylm.parallel_for(count); `KernelThreads.parallelFor`
// publishes the job in a small shared control block and bumps the generation word, then claims
// task indices like every helper does (task 0 is its own from the start), calling the export
// tinylm_run_task(index), and spins until the helpers report their tasks done. Helpers spin on
// the generation word for a while after each job (a decode step has about 150 sections ~50–200
// µs apart, and waking a sleeping thread costs tens of µs) and then sleep in Atomics.wait. Every hand-over goes through
// sequentially consistent JS Atomics, which order the plain wasm loads and stores around them.
//
// Threads only pay off when the CPUs are free. When other programs keep them busy, the helpers
// share the CPU time this process gets instead of adding to it, and every section waits for
// whichever thread was descheduled: then one thread is faster. So, unless `adaptive` is off,
// the engine times its decode steps in both modes — parallel, and serial (the engine thread
// runs every task, the helpers go to sleep) — and uses the faster, trying the other one every
// few steps to notice when the machine changes. Both modes compute exactly the same numbers.

/** Memory limits of the shared-memory module, in 64 KiB pages (build-wasm.sh links it with the same). */
export const MEMORY_PAGES = { initial: 64, maximum: 65536 };

/** Bytes of stack each helper instance gets (the engine instance has the module's own 1 MiB). */
const HELPER_STACK_BYTES = 1 << 20;

/** Pieces per thread the kernels cut their ranges into (Threads.swift: WasmThreadExecutor).
 *  One: a decode step's sections are tens of µs each, and more pieces cost more than a late
 *  thread does (Chromium, SmolLM2, two threads: decode 1.11-1.18x of four pieces; BENCHMARKS.md).
 *  Under Node the environment variable TINYLM_TASKS_PER_THREAD overrides it (benchmarks). */
export const TASKS_PER_THREAD = Number(globalThis.process?.env?.TINYLM_TASKS_PER_THREAD) || 1;

/** Adaptive mode (DecodeModeChooser): the steps of the mode in use whose median judges it (one
 *  outlier does not count: a timer, a garbage collection, the browser's own work); how often (in
 *  steps) serial is tried while sections run in parallel (often while the two are close, rarely
 *  when parallel is clearly faster, as on a quiet machine); and while they run serially, how soon
 *  parallel is tried again: every few steps, on a quarter of a step only (PROBE_PART), so a try
 *  that loses costs little, less often only after returns to parallel that did not last. */
const RUN_WINDOW = 3;
const PROBE_SERIAL_EVERY_CLOSE = 12;
const PROBE_SERIAL_EVERY_CLEAR = 32; // parallel is faster by more than 10%
const PROBE_SERIAL_EVERY_FAR = 64; // by more than 50%
const FIRST_PARALLEL_PROBE = 4;
const LAST_PARALLEL_PROBE = 16;
const CONFIRMED_PARALLEL_RUN = 8; // a shorter return to parallel was a lucky probe, not the load ending
/** The share of a decode step's sections (its first ones) that a probe of parallel runs in
 *  parallel while serial is in use, and that serial steps are timed on to compare. */
const PROBE_PART = 1 / 4;

/** Under Node, TINYLM_THREAD_TIMING=1 makes every engine time its decode steps' sections
 *  (KernelThreads.startTiming; scripts/tinylm-node.mjs --verbose prints the sums). */
const TIME_SECTIONS = globalThis.process?.env?.TINYLM_THREAD_TIMING === '1';

/** How long an idle helper spins before it sleeps, in milliseconds. */
const SPIN_MS = 3;

// The control block: one Int32 per 64-byte line (no false sharing between the hot words).
const GENERATION = 0; // bumped once per published job; helpers wait on it
const CLAIM = 16; // bits 20–30: job tag (generation & 0x7ff), 10–19: task count, 0–9: next index
const DONE = 32; // tasks of the current job finished (or failed)
const SLEEPERS = 48; // helpers inside Atomics.wait (the engine only notifies when there are any)
const STOP = 64; // bit 0: helpers exit; bit 1 (TIMED): helpers time their tasks
const FAILED = 80; // 1: a task threw in a helper (the engine thread then throws too)
const CONTROL_INTS = 96;
const TIMED = 2;
// With timing on, helper i (1…63) adds to Float64 slots 2i and 2i + 1 after the control block
// the ms its tasks ran and how many it ran.
const TIMING_DOUBLES = 2 * 64;

/** The most tasks one job holds (10 bits of CLAIM); Threads.swift splits bigger sections. */
export const MAX_TASKS = 1023;

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined' && typeof self === 'undefined';

/** Whether this context can run the shared-memory module with helper workers at all. */
export function threadsSupported() {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return false;
  if (isNode) return true;
  // Browsers hand out SharedArrayBuffer (and shared wasm memory) only when cross-origin isolated.
  return globalThis.crossOriginIsolated === true && typeof Worker === 'function';
}

/** Claims and runs tasks of the job tagged `tag` until none are left. Returns how many it
 *  ran, or -1 if one threw. */
function runTasks(control, tag, runTask) {
  let ok = true;
  let ran = 0;
  for (;;) {
    const word = Atomics.load(control, CLAIM);
    if (word >>> 20 !== tag) return ok ? ran : -1;
    const index = word & 0x3ff;
    if (index >= ((word >>> 10) & 0x3ff)) return ok ? ran : -1;
    if (Atomics.compareExchange(control, CLAIM, word, word + 1) !== word) continue;
    try {
      runTask(index);
    } catch (error) {
      ok = false;
      Atomics.store(control, FAILED, 1);
      console.error('TinyLM kernel thread: a task failed:', error);
    }
    Atomics.add(control, DONE, 1);
    ran++;
  }
}

/** The helpers' timing slots behind the control block. */
function helperTiming(control) {
  return new Float64Array(control.buffer, CONTROL_INTS * 4, TIMING_DOUBLES);
}

/** The loop of helper number `helper` (1…63; kernel-worker.js): never returns until STOP is set. */
export function helperLoop(control, runTask, helper = 1) {
  let seen = Atomics.load(control, GENERATION);
  for (;;) {
    let spinStart = 0;
    let spins = 0;
    while (Atomics.load(control, GENERATION) === seen) {
      if ((++spins & 1023) !== 0) continue;
      const now = performance.now();
      if (spinStart === 0) spinStart = now;
      else if (now - spinStart > SPIN_MS) {
        Atomics.add(control, SLEEPERS, 1);
        Atomics.wait(control, GENERATION, seen);
        Atomics.sub(control, SLEEPERS, 1);
        spinStart = 0;
      }
    }
    seen = Atomics.load(control, GENERATION);
    const flags = Atomics.load(control, STOP);
    if (flags & 1) return;
    if (flags & TIMED) {
      const start = performance.now();
      const ran = runTasks(control, seen & 0x7ff, runTask);
      if (ran > 0) {
        const timing = helperTiming(control);
        timing[2 * helper] += performance.now() - start;
        timing[2 * helper + 1] += ran;
      }
    } else {
      runTasks(control, seen & 0x7ff, runTask);
    }
  }
}

/** Imports for an instance of the shared-memory module, besides WASI. */
export function threadImports(memory, parallelFor) {
  return { env: { memory }, tinylm: { parallel_for: parallelFor } };
}

/** Creates the shared memory every instance of the threaded module runs on. */
export function createSharedMemory() {
  return new WebAssembly.Memory({ initial: MEMORY_PAGES.initial, maximum: MEMORY_PAGES.maximum, shared: true });
}

async function spawn(url) {
  if (isNode) {
    const { Worker } = await import('node:worker_threads');
    const worker = new Worker(url);
    worker.unref(); // idle helpers never keep a Node process alive
    return {
      post: (message) => worker.postMessage(message),
      onMessage: (handler) => worker.on('message', handler),
      onError: (handler) => worker.on('error', handler),
      terminate: () => worker.terminate(),
    };
  }
  const worker = new Worker(url, { type: 'module', name: 'tinylm-kernels' });
  return {
    post: (message) => worker.postMessage(message),
    onMessage: (handler) => worker.addEventListener('message', ({ data }) => handler(data)),
    onError: (handler) => worker.addEventListener('error', (event) => { event.preventDefault?.(); handler(new Error(event.message || 'the kernel worker failed to start')); }),
    terminate: () => worker.terminate(),
  };
}

/**
 * The adaptive choice between parallel and serial decode steps (the top of this file says why).
 *
 * While parallel is in use, it is judged by the median of its last RUN_WINDOW steps, so one slow
 * step (a timer, a garbage collection, the browser's own work on a busy core) does not make it
 * look slow, while a thread that stays descheduled makes most steps slow and switches within two
 * or three steps. Serial is judged by its latest step, taken as a probe now and then: the
 * freshest news of it. It takes over as soon as that beats parallel's median. (The moving
 * average this replaced let one slow parallel step count for many, and then, parallel looking
 * far slower, tried it again only every 64 steps: on a quiet machine it ran whole stretches
 * serially although parallel was 1.7x faster.)
 *
 * While serial is in use, parallel is tried every FIRST_PARALLEL_PROBE steps, but only on the
 * first PROBE_PART of a step's sections (`probePart`), and judged against the same part of the
 * serial steps (their median): a try that loses on a busy machine costs a quarter of a slow step,
 * so it can come often, and parallel is back within a few steps of a slow stretch ending. (Whole
 * probes at gaps doubling from 4 to 32 steps cost a slow step each, and once the gap had grown
 * kept sections serial for up to 32 steps after the load ended; replayed on step times recorded
 * in Chromium on a loaded machine, the partial probes ran 1-15% faster.) A return to
 * parallel that its full steps do not confirm (CONFIRMED_PARALLEL_RUN) doubles the gap, up to
 * LAST_PARALLEL_PROBE, so a machine whose second core stays busy sees few lucky switches.
 */
export class DecodeModeChooser {
  constructor() {
    /** The mode in use, and the steps left until the other one is tried again. */
    this.current = 'parallel';
    this.untilProbe = RUN_WINDOW;
    /** Steps run since the mode in use was chosen (probes of the other included). */
    this.runSteps = 0;
    /** While serial: the steps between partial probes of parallel. */
    this.parallelGap = FIRST_PARALLEL_PROBE;
    /** Each mode's latest whole-step times in ms, at most RUN_WINDOW (parallel's since it was chosen). */
    this.times = { parallel: [], serial: [] };
    /** While serial: the times of the first part of its steps (at most RUN_WINDOW), and the
     *  time of that part in the latest probe of parallel, until judged (or null). */
    this.serialParts = [];
    this.parallelPart = null;
    /** The mode of the step in progress; whether only its first part runs in that mode (a
     *  probe of parallel: the rest runs serially); how many steps ran in each mode (a partial
     *  probe counts as serial) and how many were partial probes. */
    this.stepMode = 'parallel';
    this.probePart = false;
    this.counts = { parallel: 0, serial: 0, partialProbes: 0 };
  }

  /** The mode of the next step: 'parallel' or 'serial' (with `probePart`: of its first part only). */
  next() {
    this.probePart = false;
    if (this.current === 'parallel') this.#nextWhileParallel();
    else this.#nextWhileSerial();
    this.runSteps++;
    if (this.probePart) this.counts.partialProbes++;
    this.counts[this.probePart ? 'serial' : this.stepMode]++;
    return this.stepMode;
  }

  #nextWhileParallel() {
    const typical = median(this.times.parallel);
    const serial = this.times.serial;
    const latestSerial = serial.length ? serial[serial.length - 1] : null;
    if (typical !== null && latestSerial !== null && latestSerial < typical) {
      // Serial's latest step beat parallel's typical step: switch.
      const confirmed = this.runSteps >= CONFIRMED_PARALLEL_RUN;
      this.parallelGap = confirmed ? FIRST_PARALLEL_PROBE : Math.min(2 * this.parallelGap, LAST_PARALLEL_PROBE);
      this.current = 'serial';
      this.runSteps = 0;
      serial.splice(0, serial.length - 1);
      this.serialParts.length = 0;
      this.parallelPart = null;
      this.untilProbe = this.parallelGap;
      this.stepMode = 'serial';
    } else if (--this.untilProbe > 0) {
      this.stepMode = 'parallel';
    } else {
      // A probe: one serial step.
      this.stepMode = 'serial';
      this.untilProbe = this.#serialGap(typical, latestSerial);
    }
  }

  #nextWhileSerial() {
    const probe = this.parallelPart;
    this.parallelPart = null;
    const typical = median(this.serialParts);
    if (probe !== null && typical !== null && probe < typical) {
      // The probe's part beat serial's typical part: switch; parallel's own steps then confirm it or hand back.
      this.current = 'parallel';
      this.runSteps = 0;
      this.times.parallel.length = 0;
      this.untilProbe = this.#serialGap(probe, typical);
      this.stepMode = 'parallel';
    } else if (--this.untilProbe > 0) {
      this.stepMode = 'serial';
    } else {
      this.stepMode = 'parallel';
      this.probePart = true;
      this.untilProbe = this.parallelGap;
    }
  }

  /** Records the milliseconds the step chosen by next() took, and those of its first part
   *  (PROBE_PART of its sections; null when the step had too few sections to tell: then the
   *  whole step counts as its first part). */
  record(stepMs, partMs = null) {
    const part = partMs ?? stepMs;
    if (this.probePart) {
      this.parallelPart = part;
      return;
    }
    push(this.times[this.stepMode], stepMs);
    if (this.current === 'serial') push(this.serialParts, part);
  }

  /** Steps between probes of serial while parallel runs: the clearer parallel wins, the rarer. */
  #serialGap(parallelMs, serialMs) {
    if (serialMs === null) return RUN_WINDOW;
    const ratio = serialMs / Math.max(1e-6, parallelMs);
    return ratio > 1.5 ? PROBE_SERIAL_EVERY_FAR : ratio > 1.1 ? PROBE_SERIAL_EVERY_CLEAR : PROBE_SERIAL_EVERY_CLOSE;
  }
}

/** Appends `value`, keeping the last RUN_WINDOW values. */
function push(values, value) {
  if (values.length === RUN_WINDOW) values.shift();
  values.push(value);
}

/** The median of up to three numbers (of two, the larger; of none, null), without allocating. */
function median(values) {
  const [a, b, c] = values;
  switch (values.length) {
    case 0: return null;
    case 1: return a;
    case 2: return Math.max(a, b);
    default: return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
  }
}

/** The helper workers of one engine instance. */
export class KernelThreads {
  /**
   * Starts `count - 1` helper workers on `module` and `memory`; `abi` is the engine instance's
   * exports (for the helpers' stacks and the engine thread's own tasks).
   */
  static async start({ module, memory, abi, count, workerURL = new URL('./kernel-worker.js', import.meta.url), timeoutMs = 30000 }) {
    const threads = new KernelThreads(abi, count);
    try {
      const ready = [];
      for (let i = 1; i < count; i++) {
        const stack = abi.tinylm_alloc(HELPER_STACK_BYTES);
        if (!stack) throw new Error('cannot allocate a stack for a kernel thread');
        threads.stacks.push(stack);
        const helper = await spawn(workerURL);
        threads.helpers.push(helper);
        ready.push(new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`kernel thread ${i} did not start within ${timeoutMs} ms`)), timeoutMs);
          helper.onMessage((message) => {
            if (message?.type === 'ready') { clearTimeout(timer); resolve(); }
            if (message?.type === 'error') { clearTimeout(timer); reject(new Error(`kernel thread ${i}: ${message.message}`)); }
          });
          helper.onError((error) => { clearTimeout(timer); reject(error); });
        }));
        // The stack grows down from its top, kept 16-byte aligned.
        helper.post({ type: 'start', module, memory, control: threads.control, stackTop: (stack + HELPER_STACK_BYTES) & ~15, index: i });
      }
      await Promise.all(ready);
    } catch (error) {
      threads.terminate();
      throw error;
    }
    return threads;
  }

  constructor(abi, count) {
    this.abi = abi;
    this.count = count;
    this.control = new Int32Array(new SharedArrayBuffer(CONTROL_INTS * 4 + TIMING_DOUBLES * 8));
    this.generation = 0;
    this.helpers = [];
    this.stacks = [];
    this.runTask = (index) => abi.tinylm_run_task(index);
    /** Whether sections currently run on the engine thread alone. */
    this.serial = false;
    /** false: always parallel (tests, benchmarks of the threaded path). */
    this.adaptive = true;
    /** The adaptive choice of each decode step's mode. */
    this.modes = new DecodeModeChooser();
    /** In a decode step (adaptive): its sections so far (-1 outside steps), when it started, and
     *  the time of its first part (`partSections` sections; null until they ran). */
    this.stepSections = -1;
    this.stepStart = 0;
    this.partSections = Infinity;
    this.partMs = null;
    /** Sections run in parallel and serially so far. */
    this.sections = { parallel: 0, serial: 0 };
    /** Where decode steps' time goes (startTiming), or null; and whether a timed step runs. */
    this.timing = null;
    this.inTimedStep = false;
    if (TIME_SECTIONS) this.startTiming();
  }

  /**
   * Times decode steps from now on (a diagnostic: a few clock reads per section). `timing`
   * then sums, in ms over `steps` decode steps: `stepMs`; in parallel sections `publishMs` (the
   * engine thread publishing them), `engineTaskMs` (its own tasks) and `waitMs` (waiting for
   * the helpers' last tasks); `serialMs` (sections run serially). It counts `sections` (parallel)
   * and `engineAlone` (parallel sections whose tasks the engine thread ran all of: the helpers
   * came too late). timingReport adds the helpers' `helperTaskMs` and `helperTasks`. What
   * `stepMs` has beyond the sections is the work between them.
   */
  startTiming() {
    this.timing = { steps: 0, stepMs: 0, sections: 0, publishMs: 0, engineTaskMs: 0, waitMs: 0, serialMs: 0, engineAlone: 0 };
    helperTiming(this.control).fill(0);
    Atomics.or(this.control, STOP, TIMED);
  }

  /** `timing` with the helpers' sums added (helperTaskMs, helperTasks), or null. */
  timingReport() {
    if (!this.timing) return null;
    const slots = helperTiming(this.control);
    let helperTaskMs = 0, helperTasks = 0;
    for (let i = 1; i < this.count; i++) { helperTaskMs += slots[2 * i]; helperTasks += slots[2 * i + 1]; }
    return { ...this.timing, helperTaskMs, helperTasks };
  }

  /**
   * Runs one decode step `body` (a wasm call that evaluates one token), timing it to choose
   * between parallel and serial sections (see the top of this file). Returns body's result.
   */
  step(body) {
    const timing = this.timing;
    if (!timing) return this.#step(body);
    const start = performance.now();
    this.inTimedStep = true;
    try {
      return this.#step(body);
    } finally {
      this.inTimedStep = false;
      timing.steps++;
      timing.stepMs += performance.now() - start;
    }
  }

  #step(body) {
    if (!this.adaptive) return body();
    const modes = this.modes;
    this.serial = modes.next() === 'serial';
    const start = performance.now();
    this.stepStart = start;
    this.stepSections = 0;
    this.partMs = null;
    try {
      const result = body();
      modes.record(performance.now() - start, this.partMs);
      // The first part of the next steps: PROBE_PART of the sections this one had.
      this.partSections = Math.max(1, Math.ceil(this.stepSections * PROBE_PART));
      return result;
    } finally {
      this.stepSections = -1;
      // Sections outside decode steps (prompts) run in the mode in use, never in a probe's.
      this.serial = modes.current === 'serial';
    }
  }

  /** The first part of a decode step ends (before its section number `partSections`): its time
   *  is taken, and a partial probe's remaining sections run in the mode in use. */
  #endPart() {
    this.partMs = performance.now() - this.stepStart;
    this.serial = this.modes.current === 'serial';
  }

  /** The engine side of tinylm.parallel_for: runs tasks 0..<count on every thread, returns when all are done. */
  parallelFor(count) {
    if (count <= 0) return;
    if (this.stepSections >= 0 && this.stepSections++ === this.partSections) this.#endPart();
    const timing = this.inTimedStep ? this.timing : null;
    if (this.serial) {
      this.sections.serial++;
      const start = timing ? performance.now() : 0;
      for (let index = 0; index < count; index++) this.runTask(index);
      if (timing) timing.serialMs += performance.now() - start;
      return;
    }
    this.sections.parallel++;
    const control = this.control;
    if (count > MAX_TASKS) throw new RangeError(`a parallel section holds at most ${MAX_TASKS} tasks, got ${count}`);
    const start = timing ? performance.now() : 0;
    const generation = (this.generation + 1) | 0;
    this.generation = generation;
    const tag = generation & 0x7ff;
    Atomics.store(control, DONE, 0);
    // Task 0 is the engine thread's from the start (next index 1): no race for it.
    Atomics.store(control, CLAIM, (tag << 20) | (count << 10) | 1);
    Atomics.store(control, GENERATION, generation);
    if (Atomics.load(control, SLEEPERS) > 0) Atomics.notify(control, GENERATION);
    const published = timing ? performance.now() : 0;
    const ran = this.#runOwnTasks(control, tag);
    const ownDone = timing ? performance.now() : 0;
    // DONE counts the helpers' tasks only: every task is claimed by now, `ran` of them here.
    const helperTasks = count - Math.abs(ran);
    while (Atomics.load(control, DONE) < helperTasks) { /* spin: the helpers are finishing their tasks */ }
    if (timing) {
      timing.sections++;
      timing.publishMs += published - start;
      timing.engineTaskMs += ownDone - published;
      timing.waitMs += performance.now() - ownDone;
      if (ran === count) timing.engineAlone++;
    }
    if (ran < 0 || Atomics.load(control, FAILED)) {
      Atomics.store(control, FAILED, 0);
      throw new Error('TinyLM: a kernel task failed (see the console)');
    }
  }

  /** The engine thread's part of the job tagged `tag`: task 0, then whatever the helpers have
   *  not claimed yet. Returns how many tasks it ran, negated if one threw. Unlike a helper it
   *  does not count its tasks in DONE (one contended read-modify-write less per task). */
  #runOwnTasks(control, tag) {
    let ok = true;
    let ran = 0;
    let index = 0;
    for (;;) {
      try {
        this.runTask(index);
      } catch (error) {
        ok = false;
        console.error('TinyLM kernel thread: a task failed:', error);
      }
      ran++;
      for (;;) {
        const word = Atomics.load(control, CLAIM);
        index = word & 0x3ff;
        if (word >>> 20 !== tag || index >= ((word >>> 10) & 0x3ff)) return ok ? ran : -ran;
        if (Atomics.compareExchange(control, CLAIM, word, word + 1) === word) break;
      }
    }
  }

  /** Stops the helpers and frees their stacks. The engine must not run kernels afterwards. */
  terminate() {
    Atomics.or(this.control, STOP, 1);
    Atomics.add(this.control, GENERATION, 1);
    Atomics.notify(this.control, GENERATION);
    for (const helper of this.helpers) helper.terminate();
    this.helpers = [];
    for (const stack of this.stacks) this.abi.tinylm_free(stack);
    this.stacks = [];
  }
}
