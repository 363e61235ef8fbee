/// Quantized-activation buffers for `MatrixMultiply.multiply`, sized once per session for the
/// widest matrix input (`maxColumns`) and the largest batch, and reused for every call: the
/// multiply itself allocates nothing.
public final class MatmulScratch {
    public let maxColumns: Int
    public let maxBatch: Int
    /// Per-token strides (elements) of the buffers below.
    let columnStride: Int
    let blockStride: Int
    let q8: UnsafeMutablePointer<Int8>
    let q: UnsafeMutablePointer<Int16>
    let d: UnsafeMutablePointer<Float>
    let s: UnsafeMutablePointer<Float>
    let bsums: UnsafeMutablePointer<Int32>
    let f: UnsafeMutablePointer<Float>
    /// One slot per concurrent chunk (`ComputeExecutor.parallelChunks`) for kernels that
    /// unpack weights once per batch: threads must not allocate (wasm helper threads may not
    /// call malloc, and a temporary allocation this large is not on the stack).
    let unpackSlots: Int
    let unpackSlotBytes: Int
    private let unpacked: UnsafeMutableRawPointer

    /// `workers`: how many chunks of a multiply can run at once (the executor's concurrency).
    public init(maxColumns: Int, maxBatch: Int, workers: Int = 1) {
        let columns = (Swift.max(maxColumns, 1) + 255) / 256 * 256
        let batch = Swift.max(maxBatch, 1)
        self.maxColumns = columns
        self.maxBatch = batch
        self.columnStride = columns
        self.blockStride = columns / 16
        q8 = .allocate(capacity: batch * columns)
        q = .allocate(capacity: batch * columns)
        d = .allocate(capacity: batch * columns / 16)
        s = .allocate(capacity: batch * columns / 16)
        bsums = .allocate(capacity: batch * columns / 16)
        f = .allocate(capacity: batch * columns)
        unpackSlots = Swift.max(workers, 1)
        unpackSlotBytes = 160 * (columns / 32)   // 32-value blocks × (eight 16-byte vectors + a header vector)
        unpacked = .allocate(byteCount: unpackSlots * unpackSlotBytes, alignment: 16)
        q.initialize(repeating: 0, count: batch * columns)
        d.initialize(repeating: 0, count: batch * columns / 16)
        s.initialize(repeating: 0, count: batch * columns / 16)
        bsums.initialize(repeating: 0, count: batch * columns / 16)
    }

    deinit {
        q8.deallocate()
        q.deallocate()
        d.deallocate()
        s.deallocate()
        bsums.deallocate()
        f.deallocate()
        unpacked.deallocate()
    }

    /// The unpacking slot of chunk `chunk`, or nil when the executor runs more chunks than
    /// the scratch was made for (the kernels then skip unpacking).
    @inline(__always)
    func unpackSlot(_ chunk: Int) -> UnsafeMutableRawPointer? {
        chunk < unpackSlots ? unpacked + chunk * unpackSlotBytes : nil
    }

    @inline(__always)
    func activations(_ token: Int) -> Q8Activations {
        Q8Activations(q: q + token * columnStride, d: d + token * blockStride,
                      s: s + token * blockStride, bsums: bsums + token * blockStride)
    }
}

public enum MatrixMultiply {
    public static func isSupported(_ type: TensorType) -> Bool {
        switch type {
        case .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: return true
        default: return false
        }
    }

    /// Whether `dequantizeRow` handles `type`.
    public static func canDequantize(_ type: TensorType) -> Bool { isSupported(type) }

    /// output[b*outputStride + r] = Σ_c W[r,c] · input[b*inputStride + c] for r in 0..<W.rows,
    /// b in 0..<batch.
    ///
    /// Quantizes the batch of activations once into the weight format's activation format, then
    /// splits the rows across `executor.parallelRanges`. batch == 1 is the decode path
    /// (matrix-vector); for batch > 1 each weight block is unpacked once per four tokens and
    /// rows are processed in small tiles so weights and activations stay in L1.
    /// Requires `isSupported(weight.type)`, `weight.columns <= scratch.maxColumns`; batches
    /// larger than `scratch.maxBatch` are processed in several passes.
    public static func multiply(_ weight: WeightMatrix, input: UnsafePointer<Float>, inputStride: Int, batch: Int,
                                output: UnsafeMutablePointer<Float>, outputStride: Int,
                                scratch: MatmulScratch, executor: any ComputeExecutor) {
        precondition(weight.columns <= scratch.maxColumns, "MatrixMultiply: scratch too narrow for this weight")
        precondition(weight.columns % weight.type.blockElements == 0, "MatrixMultiply: columns not a whole number of blocks")
        var done = 0
        while done < batch {
            let n = Swift.min(batch - done, scratch.maxBatch)
            multiplyPass(weight, input: input + done * inputStride, inputStride: inputStride, batch: n,
                         tokens: (total: batch, first: done),
                         output: output + done * outputStride, outputStride: outputStride,
                         scratch: scratch, executor: executor)
            done += n
        }
    }

    /// Row `row` of the weight dequantized to floats (embedding lookup).
    public static func dequantizeRow(_ weight: WeightMatrix, row: Int, into output: UnsafeMutablePointer<Float>) {
        dequantize(weight.type, weight.row(row), count: weight.columns, into: output)
    }

    /// `count` values (whole blocks) of `type` at `src` dequantized to floats.
    public static func dequantize(_ type: TensorType, _ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32: FloatFormats.dequantizeRowF32(src, count: count, into: out)
        case .f16: FloatFormats.dequantizeRowF16(src, count: count, into: out)
        case .bf16: FloatFormats.dequantizeRowBF16(src, count: count, into: out)
        case .q4_0: Q4_0.dequantizeRow(src, count: count, into: out)
        case .q4_1: Q4_1.dequantizeRow(src, count: count, into: out)
        case .q5_0: Q5_0.dequantizeRow(src, count: count, into: out)
        case .q5_1: Q5_1.dequantizeRow(src, count: count, into: out)
        case .q8_0: Q8_0.dequantizeRow(src, count: count, into: out)
        case .q8_1: Q8_1.dequantizeRow(src, count: count, into: out)
        case .q2_K: Q2_K.dequantizeRow(src, count: count, into: out)
        case .q3_K: Q3_K.dequantizeRow(src, count: count, into: out)
        case .q4_K: Q4_K.dequantizeRow(src, count: count, into: out)
        case .q5_K: Q5_K.dequantizeRow(src, count: count, into: out)
        case .q6_K: Q6_K.dequantizeRow(src, count: count, into: out)
        case .q8_K: Q8_K.dequantizeRow(src, count: count, into: out)
        default: preconditionFailure("MatrixMultiply: cannot dequantize this tensor type")
        }
    }

    // MARK: - Passes

    static func multiplyPass(_ weight: WeightMatrix, input: UnsafePointer<Float>, inputStride: Int, batch: Int,
                             tokens: LlamaCppOrderKernels.Tokens, output: UnsafeMutablePointer<Float>, outputStride: Int,
                             scratch: MatmulScratch, executor: any ComputeExecutor) {
        switch weight.type {
        case .f32:
            runFloat(weight, FloatKernelF32.self, input: input, inputStride: inputStride, batch: batch,
                     output: output, outputStride: outputStride, executor: executor)
        case .f16:
            roundActivations(weight.columns, input, inputStride, batch, scratch, executor, toBF16: false)
            runFloat(weight, FloatKernelF16.self, input: scratch.f, inputStride: scratch.columnStride, batch: batch,
                     output: output, outputStride: outputStride, executor: executor)
        case .bf16:
            roundActivations(weight.columns, input, inputStride, batch, scratch, executor, toBF16: true)
            runFloat(weight, FloatKernelBF16.self, input: scratch.f, inputStride: scratch.columnStride, batch: batch,
                     output: output, outputStride: outputStride, executor: executor)
        case .q4_0: runQuantized(weight, Q4_0.self, input, inputStride, batch, tokens, output, outputStride, scratch, executor)
        case .q4_1: runQuantized(weight, Q4_1.self, input, inputStride, batch, tokens, output, outputStride, scratch, executor)
        case .q5_0: runQuantized(weight, Q5_0.self, input, inputStride, batch, tokens, output, outputStride, scratch, executor)
        case .q5_1: runQuantized(weight, Q5_1.self, input, inputStride, batch, tokens, output, outputStride, scratch, executor)
        case .q8_0: runQuantized(weight, Q8_0.self, input, inputStride, batch, tokens, output, outputStride, scratch, executor)
        case .q2_K: runQuantized(weight, Q2_K.self, input, inputStride, batch, tokens, output, outputStride, scratch, executor)
        case .q3_K: runQuantized(weight, Q3_K.self, input, inputStride, batch, tokens, output, outputStride, scratch, executor)
        case .q4_K: runQuantized(weight, Q4_K.self, input, inputStride, batch, tokens, output, outputStride, scratch, executor)
        case .q5_K: runQuantized(weight, Q5_K.self, input, inputStride, batch, tokens, output, outputStride, scratch, executor)
        case .q6_K: runQuantized(weight, Q6_K.self, input, inputStride, batch, tokens, output, outputStride, scratch, executor)
        default: preconditionFailure("MatrixMultiply: unsupported weight type")
        }
    }

    /// Quantizes `batch` rows of activations into the scratch planes of `format`.
    static func quantizeActivations(_ format: ActivationFormat, _ columns: Int, _ input: UnsafePointer<Float>, _ inputStride: Int,
                                    _ batch: Int, _ scratch: MatmulScratch, _ executor: any ComputeExecutor) {
        if batch >= 4 {
            executor.parallelRanges(batch) { tokens in
                quantizeTokens(format, columns, input, inputStride, tokens, scratch)
            }
        } else {
            quantizeTokens(format, columns, input, inputStride, 0..<batch, scratch)
        }
    }

    static func quantizeTokens(_ format: ActivationFormat, _ columns: Int, _ input: UnsafePointer<Float>, _ inputStride: Int,
                               _ tokens: Range<Int>, _ scratch: MatmulScratch) {
        for t in tokens {
            let x = input + t * inputStride
            let q8 = scratch.q8 + t * scratch.columnStride
            let q = scratch.q + t * scratch.columnStride
            let d = scratch.d + t * scratch.blockStride
            let s = scratch.s + t * scratch.blockStride
            switch format {
            case .q8_0: Q8_0.quantizeActivations(x, count: columns, q8: q8, q: q, d: d, s: nil)
            case .q8_1: Q8_1.quantizeActivations(x, count: columns, q8: q8, q: q, d: d, s: s)
            case .q8_K: Q8_K.quantizeActivations(x, count: columns, q8: q8, q: q, d: d,
                                                 bsums: scratch.bsums + t * scratch.blockStride)
            }
        }
    }

    static func roundActivations(_ columns: Int, _ input: UnsafePointer<Float>, _ inputStride: Int, _ batch: Int,
                                 _ scratch: MatmulScratch, _ executor: any ComputeExecutor, toBF16: Bool) {
        for t in 0..<batch {
            let x = input + t * inputStride
            let f = scratch.f + t * scratch.columnStride
            if toBF16 {
                for i in 0..<columns { f[i] = BF16.round(x[i]) }
            } else {
                for i in 0..<columns { f[i] = FP16.round(x[i]) }
            }
        }
    }

    /// Rows per tile for batched passes: enough weight rows to fill ~16 KB of L1.
    @inline(__always)
    static func rowTile(_ rowBytes: Int) -> Int { Swift.min(64, Swift.max(1, 16384 / Swift.max(rowBytes, 1))) }

    static func runQuantized<F: QuantizedDotFormat>(_ weight: WeightMatrix, _: F.Type, _ input: UnsafePointer<Float>, _ inputStride: Int,
                                                    _ batch: Int, _ tokens: LlamaCppOrderKernels.Tokens, _ output: UnsafeMutablePointer<Float>, _ outputStride: Int,
                                                    _ scratch: MatmulScratch, _ executor: any ComputeExecutor) {
        quantizeActivations(F.activation, weight.columns, input, inputStride, batch, scratch, executor)
        if LlamaCppOrderKernels.handles(weight.type) {
            executor.parallelChunks(weight.rows, granularity: 4) { chunk, rows in
                LlamaCppOrderKernels.multiplyRows(weight, rows: rows, batch: batch, tokens: tokens, scratch: scratch,
                                                  output: output, outputStride: outputStride, chunk: chunk)
            }
            return
        }
        let blocks = weight.columns / F.blockElements
        let rowBytes = weight.rowBytes
        let data = weight.data
        if batch == 1 {
            let act = scratch.activations(0)
            executor.parallelRanges(weight.rows, granularity: 4) { rows in
                var r = rows.lowerBound
                #if arch(wasm32)
                // Four rows at a time, vectorized over rows (bit-identical to dotRow). Only in
                // wasm: natively (x86-64 SSE2 baseline) it measured slower than dotRow.
                while r + 4 <= rows.upperBound {
                    let v = QuantDriver.dotRows4(F.self, data + r * rowBytes, rowBytes, blocks, act)
                    UnsafeMutableRawPointer(output + r).storeBytes(of: v, as: SIMD4<Float>.self)
                    r += 4
                }
                #endif
                while r < rows.upperBound {
                    output[r] = QuantDriver.dotRow(F.self, data + r * rowBytes, blocks, act)
                    r += 1
                }
            }
            return
        }
        let tile = rowTile(rowBytes)
        executor.parallelRanges(weight.rows, granularity: 4) { rows in
            var r0 = rows.lowerBound
            while r0 < rows.upperBound {
                let r1 = Swift.min(r0 + tile, rows.upperBound)
                var t = 0
                while t + 4 <= batch {
                    let a0 = scratch.activations(t)
                    for r in r0..<r1 {
                        let v = QuantDriver.dotRow4(F.self, data + r * rowBytes, blocks, a0,
                                                    qStride: scratch.columnStride, blockStride: scratch.blockStride)
                        output[t * outputStride + r] = v[0]
                        output[(t + 1) * outputStride + r] = v[1]
                        output[(t + 2) * outputStride + r] = v[2]
                        output[(t + 3) * outputStride + r] = v[3]
                    }
                    t += 4
                }
                while t + 2 <= batch {
                    let a0 = scratch.activations(t), a1 = scratch.activations(t + 1)
                    for r in r0..<r1 {
                        let v = QuantDriver.dotRow2(F.self, data + r * rowBytes, blocks, a0, a1)
                        output[t * outputStride + r] = v[0]
                        output[(t + 1) * outputStride + r] = v[1]
                    }
                    t += 2
                }
                while t < batch {
                    let a = scratch.activations(t)
                    for r in r0..<r1 {
                        output[t * outputStride + r] = QuantDriver.dotRow(F.self, data + r * rowBytes, blocks, a)
                    }
                    t += 1
                }
                r0 = r1
            }
        }
    }

    static func runFloat<K: FloatRowKernel>(_ weight: WeightMatrix, _: K.Type, input: UnsafePointer<Float>, inputStride: Int, batch: Int,
                                            output: UnsafeMutablePointer<Float>, outputStride: Int, executor: any ComputeExecutor) {
        let columns = weight.columns
        let rowBytes = weight.rowBytes
        let data = weight.data
        let tile = rowTile(rowBytes)
        executor.parallelRanges(weight.rows, granularity: 4) { rows in
            var r0 = rows.lowerBound
            while r0 < rows.upperBound {
                let r1 = Swift.min(r0 + tile, rows.upperBound)
                for t in 0..<batch {
                    let x = input + t * inputStride
                    for r in r0..<r1 {
                        output[t * outputStride + r] = K.dot(data + r * rowBytes, x, columns)
                    }
                }
                r0 = r1
            }
        }
    }
}

protocol FloatRowKernel {
    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ count: Int) -> Float
}

enum FloatKernelF32: FloatRowKernel {
    @inline(__always)
    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ count: Int) -> Float { FloatFormats.dotF32(row, x, count: count) }
}

enum FloatKernelF16: FloatRowKernel {
    @inline(__always)
    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ count: Int) -> Float { FloatFormats.dotF16(row, x, count: count) }
}

enum FloatKernelBF16: FloatRowKernel {
    @inline(__always)
    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ count: Int) -> Float { FloatFormats.dotBF16(row, x, count: count) }
}

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
