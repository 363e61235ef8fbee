// How many CPU cores really run this page's threads at the same time, measured: the default
// thread count is min(4, cores), and navigator.hardwareConcurrency is not always the machine's.
// WebKit reports 4 on every machine with fewer than 8 cores (and 8 above), against
// fingerprinting; a browser in a container may report the host's cores. More threads than cores
// make every parallel section wait for a descheduled thread.
//
// The measurement (about 80 ms once the workers run; once per limit and worker): `limit`
// workers spin together, each counting in shared memory. A worker cuts its time into 0.5 ms
// windows; in a window where its own clock never jumped (it was not descheduled), every other
// worker whose count advanced by at least 60% of its own ran at the same time on another core.
// The most workers seen running together is the core count: two workers sharing a core take
// turns in slices of milliseconds, so the one that waits barely advances in a window.
// Other programs' load can only hide cores (fewer of ours run at once; Linux even shares the
// CPUs per session first), and the adaptive decode (threads.js) already handles load, so the
// answer is never below 2: on a busy machine it says 2, not the momentary 1.

const WINDOW_MS = 0.5;
const GAP_MS = 0.1; // a longer jump of the clock between two reads: the worker was descheduled
const TOGETHER = 0.6;
const WARM_MS = 15; // the JIT compiles the loop first; windows before this do not count
const SPIN_MS = 80;
const TIMEOUT_MS = 5000;

// Runs in each calibration worker (classic script, from a Blob URL).
const WORKER_SOURCE = `
onmessage = ({ data: { shared, index, count } }) => {
  const c = new Int32Array(shared);       // [go, count of worker 0, count of worker 1, ...]
  postMessage('ready');
  Atomics.wait(c, 0, 0);
  const base = new Int32Array(count);
  const start = performance.now();
  let mine = 0, mineBase = 0, now = start, last = start, windowStart = start, gap = false, best = 1;
  while (now - start < ${SPIN_MS}) {
    Atomics.store(c, 1 + index, ++mine);
    now = performance.now();
    if (now - last > ${GAP_MS}) gap = true;
    last = now;
    if (now - windowStart < ${WINDOW_MS}) continue;
    const own = mine - mineBase;
    if (!gap && now - start > ${WARM_MS}) {
      let together = 1;
      for (let j = 0; j < count; j++) if (j !== index && Atomics.load(c, 1 + j) - base[j] >= ${TOGETHER} * own) together++;
      if (together > best) best = together;
    }
    for (let j = 0; j < count; j++) base[j] = Atomics.load(c, 1 + j);
    mineBase = mine; windowStart = now; gap = false;
  }
  postMessage(best);
};`;

const measured = new Map(); // limit → Promise<number>

/** The cores that run threads at the same time: at least 2, at most `limit`. Limits of 2 or
 *  less are taken as they are; without SharedArrayBuffer or workers (no threads either) `limit`. */
export function parallelCores(limit) {
  limit = Math.max(1, Math.floor(limit) || 1);
  if (limit <= 2 || typeof SharedArrayBuffer !== 'function' || typeof Worker !== 'function') return Promise.resolve(limit);
  if (!measured.has(limit)) {
    // Workers that never start (a content security policy without blob:) must not stall a load.
    const timeout = new Promise((resolve) => setTimeout(() => resolve(limit), TIMEOUT_MS));
    measured.set(limit, Promise.race([measure(limit), timeout]).catch(() => limit));
  }
  return measured.get(limit);
}

async function measure(limit) {
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  try {
    // Never more than the browser reports: engines over-report (WebKit, containers) but none
    // reports fewer cores than run its threads, while a busy machine can fool a 0.5 ms window
    // into seeing one worker more than there are cores (Firefox once measured 3 of 2).
    const reported = Math.floor(globalThis.navigator?.hardwareConcurrency) || limit;
    return Math.min(limit, Math.max(2, reported), Math.max(2, await measureOnce(url, limit)));
  } finally {
    URL.revokeObjectURL(url);
  }
}

async function measureOnce(url, count) {
  const shared = new SharedArrayBuffer(4 * (1 + count));
  const workers = [];
  try {
    const ready = [], results = [];
    for (let index = 0; index < count; index++) {
      const worker = new Worker(url);
      workers.push(worker);
      let readyResolve;
      ready.push(new Promise((resolve) => { readyResolve = resolve; }));
      results.push(new Promise((resolve, reject) => {
        worker.onerror = (event) => reject(new Error(event.message || 'calibration worker failed'));
        worker.onmessage = ({ data }) => (data === 'ready' ? readyResolve() : resolve(data));
      }));
      worker.postMessage({ shared, index, count });
    }
    // Every worker waits at the start line, so that they all begin spinning together.
    await Promise.race([Promise.all(ready), Promise.all(results)]);
    const go = new Int32Array(shared);
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
    return Math.max(...await Promise.all(results));
  } finally {
    for (const worker of workers) worker.terminate();
  }
}
