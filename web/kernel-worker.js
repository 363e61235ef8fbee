// A kernel thread of the TinyLM engine (threads.js starts these: a module Worker in browsers, a
// worker_threads Worker in Node). It instantiates the shared-memory module on the engine's
// memory — the memory is already initialized, so the module's start function only drops its
// data segments — moves its stack pointer to the stack the engine allocated for it, and then
// runs kernel tasks forever. It never calls _initialize or anything that allocates.

import { helperLoop, threadImports } from './threads.js';
import { createWasiImports } from './wasi.js';

async function start({ module, memory, control, stackTop, index }, reply) {
  try {
    const notUsed = () => { throw new Error('tinylm.parallel_for called on a kernel thread'); };
    const wasi = createWasiImports(() => memory);
    const instance = await WebAssembly.instantiate(module, { ...threadImports(memory, notUsed), wasi_snapshot_preview1: wasi });
    instance.exports.__stack_pointer.value = stackTop;
    const runTask = instance.exports.tinylm_run_task;
    reply({ type: 'ready' });
    helperLoop(control, runTask, index);
  } catch (error) {
    reply({ type: 'error', message: String(error?.message || error) });
  }
}

if (typeof self !== 'undefined' && typeof self.postMessage === 'function') {
  self.addEventListener('message', ({ data }) => { if (data?.type === 'start') start(data, (m) => self.postMessage(m)); }, { once: true });
} else {
  const { parentPort } = await import('node:worker_threads');
  parentPort.once('message', (data) => { if (data?.type === 'start') start(data, (m) => parentPort.postMessage(m)); });
}
