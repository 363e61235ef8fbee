/// How the core asks its host for parallelism without knowing what threads are. Natively the
/// host layer (TinyLMHost) supplies a thread pool; in single-threaded wasm the serial executor
/// runs everything in place. Kernels split their work into `concurrency` ranges.
public protocol ComputeExecutor: AnyObject {
    /// How many workers run at once (1 for the serial executor).
    var concurrency: Int { get }
    /// Runs `body(i)` for every i in 0..<count, possibly in parallel, and returns when all
    /// have finished. `body` must only write to memory no other index writes to.
    func parallelFor(_ count: Int, _ body: (Int) -> Void)
}

/// Runs every task on the calling thread, in order.
public final class SerialExecutor: ComputeExecutor {
    public init() {}
    public var concurrency: Int { 1 }
    public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        for index in 0..<count { body(index) }
    }
}

extension ComputeExecutor {
    /// Splits 0..<total into at most `concurrency` contiguous chunks whose starts are
    /// multiples of `granularity`, and runs `body` on each chunk.
    public func parallelRanges(_ total: Int, granularity: Int = 1, _ body: (Range<Int>) -> Void) {
        parallelChunks(total, granularity: granularity) { _, range in body(range) }
    }

    /// `parallelRanges`, also telling each chunk its index: below `concurrency` and below
    /// `maxChunks`, and no two chunks running at once share one, so it can pick a per-chunk
    /// scratch slot.
    public func parallelChunks(_ total: Int, granularity: Int = 1, maxChunks: Int = .max,
                               _ body: (_ chunk: Int, Range<Int>) -> Void) {
        let workers = Swift.min(concurrency, maxChunks)
        if workers <= 1 || total <= granularity {
            if total > 0 { body(0, 0..<total) }
            return
        }
        let units = (total + granularity - 1) / granularity
        let chunks = min(workers, units)
        parallelFor(chunks) { chunk in
            let start = units * chunk / chunks * granularity
            let end = min(total, units * (chunk + 1) / chunks * granularity)
            if start < end { body(chunk, start..<end) }
        }
    }
}
