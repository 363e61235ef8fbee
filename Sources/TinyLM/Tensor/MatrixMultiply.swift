// The one entry point of the graph for matrix products: quantizes the activations as ggml
// does for the weight format, then runs the format's kernel (Kernels/KernelTable.swift) over
// the rows in parallel. The float formats (F32, F16, BF16) are multiplied here directly.

public enum MatrixMultiply {
    /// Whether the AVX-512/VNNI kernels (prompt batches, the decode attention's f16 accumulator)
    /// may run where the CPU has them (x86-64 native builds; the same results). Off only to
    /// compare (`tinylm bench --no-avx512`) and to test the AVX2 loops on such a CPU.
    nonisolated(unsafe) public static var allowsAVX512 = true

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
    /// splits the rows across `executor.parallelChunks` and runs the format's kernel
    /// (Kernels/KernelTable.swift) on each chunk, in llama.cpp's order for the whole batch.
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
                             tokens: (total: Int, first: Int), output: UnsafeMutablePointer<Float>, outputStride: Int,
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
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K:
            quantizeActivations(activationFormat(weight.type), weight.columns, input, inputStride, batch, scratch, executor)
            let job = KernelJob(weight: weight, batch: batch, totalTokens: tokens.total, firstToken: tokens.first, scratch: scratch,
                                scratchToken: 0, output: output, outputStride: outputStride)
            // Chunks start at multiples of the widest row group a kernel takes (eight rows).
            executor.parallelChunks(weight.rows, granularity: 8) { chunk, rows in
                KernelTable.multiply(job, rows: rows, chunk: chunk)
            }
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
            let q = scratch.planes + t * scratch.columnStride
            let d = scratch.d + t * scratch.blockStride
            let s = scratch.s + t * scratch.blockStride
            switch format {
            case .q8_0: Q8_0.quantizeActivations(x, count: columns, q8: q8, q: q, d: d, s: nil)
            case .q8_1: Q8_1.quantizeActivations(x, count: columns, q8: q8, q: q, d: d, s: s)
            case .q8_K: Q8_K.quantizeActivations(x, count: columns, q8: q8, q: q, d: d,
                                                 bsums: scratch.bsums + t * scratch.blockStride)
            }
            #if TINYLM_RELAXED_SIMD
            if format == .q8_0 {
                Q8SignSplit.write(q8, count: columns, into: scratch.q8Split + 2 * t * scratch.columnStride)
                Q5_0.WasmRelaxed.writeOffsetLanes(q8, count: columns, into: scratch.q5Offsets + t * scratch.columnStride / 4)
            }
            #endif
            #if TINYLM_X86_AVX2
            if format != .q8_K {
                let biased = UnsafeMutableRawPointer(scratch.q8Biased + t * scratch.columnStride)
                for offset in stride(from: 0, to: columns, by: 32) {
                    let v = UnsafeRawPointer(q8).loadUnaligned(fromByteOffset: offset, as: SIMD4<UInt64>.self)
                    biased.storeBytes(of: v ^ SIMD4(repeating: 0x8080_8080_8080_8080), toByteOffset: offset, as: SIMD4<UInt64>.self)
                }
            }
            #endif
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

    /// Which 8-bit activation format a weight format is multiplied against.
    enum ActivationFormat {
        case q8_0, q8_1, q8_K
    }

    /// The 8-bit activation format ggml multiplies `type` weights against.
    static func activationFormat(_ type: TensorType) -> ActivationFormat {
        switch type {
        case .q4_1, .q5_1: return .q8_1
        case .q4_0, .q5_0, .q8_0: return .q8_0
        default: return .q8_K
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

