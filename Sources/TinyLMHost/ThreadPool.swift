import Synchronization
import TinyLM
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of worker threads that run the core's parallel kernels. A decode step issues
/// about 150 short parallel regions, so wake-up latency dominates: workers spin on an atomic
/// job counter for a while after each job and only then sleep on a condition variable. The
/// caller takes the mutex and broadcasts only when a worker sleeps (or is about to), so while
/// the workers spin a job costs a few atomic operations and no system call.
public final class ThreadPool: ComputeExecutor, @unchecked Sendable {
    public let concurrency: Int
    private var threads: [pthread_t] = []

    // The current job. Written by the caller before `generation` is bumped (release) and read
    // by workers after they observe the bump (acquire).
    private var body: ((Int) -> Void)? = nil
    private let generation = Atomic<Int>(0)
    /// The job's tag, task count and next unclaimed index packed in one word, so that a worker
    /// that wakes late can never claim a task of a newer job under an older job's terms:
    /// bits 44… tag (the generation), bits 22…43 task count, bits 0…21 next index.
    private let claims = Atomic<UInt64>(0)
    private let finishedTasks = Atomic<Int>(0)
    private let shuttingDown = Atomic<Bool>(false)
    /// Workers that have decided to sleep: counted (under the mutex) before they check
    /// `generation` one last time and wait. The caller stores `generation` and then reads this,
    /// both sequentially consistent, so either the worker sees the new job or the caller sees
    /// the sleeper and broadcasts under the mutex (which the worker holds until it waits).
    private let sleepers = Atomic<Int>(0)
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()

    /// How long an idle worker spins before it sleeps.
    private static let spinsBeforeSleep = 200_000

    /// `threads`: total workers including the calling thread (1 = run everything inline).
    public init(threads: Int) {
        concurrency = max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        for _ in 1..<concurrency {
            let context = Unmanaged.passRetained(self).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { raw in
                let pool = Unmanaged<ThreadPool>.fromOpaque(raw!).takeRetainedValue()
                pool.workerLoop()
                return nil
            }, context)
            if status == 0 { self.threads.append(thread) } else { Unmanaged<ThreadPool>.fromOpaque(context).release() }
        }
    }

    /// The number of CPUs the process may use.
    public static var availableProcessors: Int {
        Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    /// Stops the worker threads. The pool must not be used afterwards.
    public func shutdown() {
        guard !shuttingDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pthread_mutex_lock(&mutex)
        generation.add(1, ordering: .releasing)
        pthread_cond_broadcast(&wake)
        pthread_mutex_unlock(&mutex)
        for thread in threads { pthread_join(thread, nil) }
        threads.removeAll()
    }

    public func parallelFor(_ count: Int, _ work: (Int) -> Void) {
        if count <= 0 { return }
        if threads.isEmpty || count == 1 {
            for i in 0..<count { work(i) }
            return
        }
        precondition(count < 1 << 22, "too many parallel tasks")
        withoutActuallyEscaping(work) { escapable in
            body = escapable
            finishedTasks.store(0, ordering: .relaxed)
            let next = generation.load(ordering: .relaxed) &+ 1
            claims.store(Self.tag(next) << 44 | UInt64(count) << 22, ordering: .releasing)
            generation.store(next, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&wake)
                pthread_mutex_unlock(&mutex)
            }
            runTasks(generation: next)
            while finishedTasks.load(ordering: .acquiring) < count { spinHint() }
            body = nil
        }
    }

    private static func tag(_ generation: Int) -> UInt64 { UInt64(truncatingIfNeeded: generation) & 0xF_FFFF }

    /// Claims and runs tasks of job `generation` until none are left.
    private func runTasks(generation: Int) {
        let tag = Self.tag(generation)
        var word = claims.load(ordering: .acquiring)
        while true {
            let index = Int(word & 0x3F_FFFF), count = Int((word >> 22) & 0x3F_FFFF)
            guard word >> 44 == tag, index < count else { return }
            let (exchanged, current) = claims.compareExchange(expected: word, desired: word + 1, ordering: .acquiringAndReleasing)
            if !exchanged { word = current; continue }
            body!(index)
            finishedTasks.add(1, ordering: .releasing)
            word = claims.load(ordering: .acquiring)
        }
    }

    private func workerLoop() {
        var seen = generation.load(ordering: .acquiring)
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < Self.spinsBeforeSleep {
                    spinHint()
                    continue
                }
                pthread_mutex_lock(&mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(&wake, &mutex) }
                sleepers.subtract(1, ordering: .relaxed)
                pthread_mutex_unlock(&mutex)
                spins = 0
            }
            seen = generation.load(ordering: .acquiring)
            if shuttingDown.load(ordering: .acquiring) { return }
            runTasks(generation: seen)
        }
    }

    @inline(__always) private func spinHint() {
        #if arch(x86_64) || arch(i386)
        // A plain loop is fine; the atomic load above keeps the compiler from hoisting it.
        #endif
    }
}
