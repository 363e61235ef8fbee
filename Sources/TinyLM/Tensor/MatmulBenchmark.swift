/// Timing of `MatrixMultiply.multiply` for the CLI's `bench` and the benchmark test: each
/// weight is multiplied `repeats` times (after one warm-up) and the best time is kept.
/// `now` is the host's monotonic clock in seconds (the core has none).
public enum MatmulBenchmark {
    public struct Result {
        public let name: String
        public let type: TensorType
        public let weightBytes: Int
        /// Best seconds for one multiply of the whole batch.
        public let seconds: Double
        public var gigabytesPerSecond: Double { Double(weightBytes) / seconds / 1e9 }
    }

    public static func run(_ weights: [WeightMatrix], batch: Int, repeats: Int, executor: any ComputeExecutor,
                           now: () -> Double) -> [Result] {
        var maxColumns = 1, maxRows = 1
        for w in weights {
            maxColumns = Swift.max(maxColumns, w.columns)
            maxRows = Swift.max(maxRows, w.rows)
        }
        let scratch = MatmulScratch(maxColumns: maxColumns, maxBatch: batch, workers: executor.concurrency)
        let input = UnsafeMutablePointer<Float>.allocate(capacity: maxColumns * batch)
        let output = UnsafeMutablePointer<Float>.allocate(capacity: maxRows * batch)
        defer {
            input.deallocate()
            output.deallocate()
        }
        // A deterministic, roughly activation-like input.
        var state: UInt32 = 12345
        for i in 0..<maxColumns * batch {
            state = state &* 1_664_525 &+ 1_013_904_223
            input[i] = Float(Int(state >> 9) - (1 << 22)) / Float(1 << 22)
        }
        var results: [Result] = []
        for w in weights {
            MatrixMultiply.multiply(w, input: input, inputStride: w.columns, batch: batch, output: output,
                                    outputStride: w.rows, scratch: scratch, executor: executor)
            var best = Double.infinity
            for _ in 0..<Swift.max(repeats, 1) {
                let start = now()
                MatrixMultiply.multiply(w, input: input, inputStride: w.columns, batch: batch, output: output,
                                        outputStride: w.rows, scratch: scratch, executor: executor)
                best = Swift.min(best, now() - start)
            }
            results.append(Result(name: w.name, type: w.type, weightBytes: w.rows * w.rowBytes, seconds: best))
        }
        return results
    }
}
