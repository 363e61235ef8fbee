import Foundation
import Synchronization
import Testing
import TinyLMHost

/// The native thread pool's hand-over: every task runs exactly once, and a worker that went to
/// sleep between sections is woken by the next one (the caller skips the mutex and the
/// broadcast while nobody sleeps, so a lost wakeup would show here).
@Suite(.serialized) struct ThreadPoolTests {
    /// Many short sections back to back (workers spinning), then with pauses long enough for
    /// the workers to sleep: each index of each section runs once.
    @Test func everyTaskRunsExactlyOnce() {
        let pool = ThreadPool(threads: 3)
        defer { pool.shutdown() }
        // Each task writes only its own slot; the pool orders those writes before parallelFor returns.
        let runs = UnsafeMutableBufferPointer<Int>.allocate(capacity: 64)
        runs.initialize(repeating: 0)
        defer { runs.deallocate() }
        for section in 0..<3000 {
            if section % 500 == 499 { usleep(20_000) }
            let count = 1 + section % 64
            pool.parallelFor(count) { runs[$0] += 1 }
            for index in 0..<64 {
                let expected = index < count ? 1 : 0
                let seen = runs[index]
                runs[index] = 0
                if seen != expected {
                    Issue.record("section \(section): task \(index) of \(count) ran \(seen) times")
                    return
                }
            }
        }
    }

    /// After the workers have slept, a section of two tasks that each wait for the other to
    /// start can only finish quickly if a worker woke up. The wait is bounded, so a lost
    /// wakeup fails the test instead of hanging it.
    @Test func sleepingWorkersWakeForTheNextSection() {
        let pool = ThreadPool(threads: 2)
        defer { pool.shutdown() }
        for round in 0..<10 {
            usleep(30_000) // far beyond the workers' spin: they sleep on the condition variable
            let started = Atomic<Int>(0)
            let metPartner = Atomic<Int>(0)
            pool.parallelFor(2) { _ in
                started.add(1, ordering: .sequentiallyConsistent)
                let deadline = Date().addingTimeInterval(5)
                while started.load(ordering: .sequentiallyConsistent) < 2 {
                    if Date() > deadline { return }
                }
                metPartner.add(1, ordering: .relaxed)
            }
            #expect(metPartner.load(ordering: .relaxed) == 2, "round \(round): the sleeping worker was not woken")
        }
    }
}
