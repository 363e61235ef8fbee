// Threads for the wasm module: the core's ComputeExecutor on top of helper workers run by the
// JavaScript host (web/threads.js).
//
// The shared-memory build (./build-wasm.sh → web/tinylm-mt.wasm) is instantiated once by the
// engine worker and once more by every helper worker, all on the same shared linear memory, each
// instance with its own stack. A parallel section works like this:
//
//   engine thread                          helper workers (JS loop in web/kernel-worker.js)
//   WasmThreadExecutor.parallelFor(n, body)
//     currentTask = body
//     import tinylm.parallel_for(n) ──────► wake: claim indices (JS Atomics), call
//       claims indices too, calling           tinylm_run_task(i) → currentTask(i)
//       tinylm_run_task(i) itself             mark each finished (Atomics.add)
//       waits until all n are finished
//     currentTask = nil
//
// The JS Atomics operations order the plain wasm loads and stores on either side (the job's
// inputs are written before it is published; its outputs are read after every task reported
// done). Helpers run nothing but the kernel closures: no allocation, no libc (the module links
// Debian's single-threaded wasi-libc, whose malloc must only ever run on the engine thread).
// Swift's reference counting is atomic in this build (it is compiled with +atomics), so the
// retains and releases of a closure context from several threads are safe.
//
// In the single-thread build (web/tinylm.wasm) the same code is compiled but never used with
// more than one thread: tinylm_set_threads(n > 1) is only called on the shared-memory module.

#if !TINYLM_WASM_SINGLE_MODULE
import TinyLM
#endif

#if arch(wasm32)
/// Runs tinylm_run_task(i) for every i in 0..<count on the engine thread and the helper
/// workers, and returns when all have finished (web/threads.js).
@_extern(wasm, module: "tinylm", name: "parallel_for")
@_extern(c)
private func hostParallelFor(_ count: Int32)
#else
/// Natively (where this file is only type-checked and unit-tested) the host runs every task in place.
private func hostParallelFor(_ count: Int32) {
    for index in 0..<count { tinylm_run_task(index) }
}
#endif

/// The body of the parallel section in progress, or nil. Written only by the engine thread,
/// before a section is published and after all of its tasks have finished.
nonisolated(unsafe) private var currentTask: ((Int) -> Void)? = nil

/// The executor of sessions created after tinylm_set_threads(n), n > 1.
nonisolated(unsafe) var sharedThreadExecutor: WasmThreadExecutor? = nil

/// The most tasks one published section may hold: web/threads.js packs the task count and the
/// next index into 10 bits each of one 32-bit word.
let maximumTasksPerSection = 1023

/// Parallel sections run by the JavaScript host on `threads` threads (the engine thread plus
/// helper workers).
final class WasmThreadExecutor: ComputeExecutor {
    let threads: Int
    /// How many pieces the core cuts a range into (`parallelRanges`): `tasksPerThread` per
    /// thread. Tasks are claimed dynamically, so with more pieces than threads a thread that is
    /// late (descheduled, or woken from sleep) delays the section by one small piece, not by a
    /// whole share. Results do not depend on it: every row is computed the same way.
    let concurrency: Int

    init(threads: Int, tasksPerThread: Int = 1) {
        self.threads = max(1, threads)
        concurrency = self.threads * max(1, tasksPerThread)
    }

    func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        // One task, one thread, or a section inside a section (the core never nests them):
        // run in place.
        if threads <= 1 || count == 1 || currentTask != nil {
            for index in 0..<count { body(index) }
            return
        }
        if count > maximumTasksPerSection {
            // More tasks than a section can hold: contiguous runs of them, one run per task.
            let runs = maximumTasksPerSection
            parallelFor(runs) { run in
                for index in count * run / runs..<count * (run + 1) / runs { body(index) }
            }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            currentTask = escapable
            hostParallelFor(Int32(count))
            currentTask = nil
        }
    }
}

/// Runs task `index` of the parallel section in progress (called by web/threads.js on any thread).
@_cdecl("tinylm_run_task")
public func tinylm_run_task(_ index: Int32) {
    guard let task = currentTask else { return }
    task(Int(index))
}

/// Sessions created from now on split their kernels across `threads` threads (1: none), cutting
/// ranges into `tasksPerThread` pieces per thread. Call it only on the shared-memory module,
/// once its helper workers are running. Returns the thread count used.
@_cdecl("tinylm_set_threads")
public func tinylm_set_threads(_ threads: Int32, _ tasksPerThread: Int32) -> Int32 {
    let count = Int(max(1, min(threads, 64)))
    let pieces = Int(max(1, min(tasksPerThread, 16)))
    sharedThreadExecutor = count > 1 ? WasmThreadExecutor(threads: count, tasksPerThread: pieces) : nil
    return Int32(count)
}

/// The executor for a new session.
func sessionExecutor() -> any ComputeExecutor {
    if let executor = sharedThreadExecutor { return executor }
    return SerialExecutor()
}
