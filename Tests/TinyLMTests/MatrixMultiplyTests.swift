import Foundation
import Testing
import TinyLM
import TinyLMHost

/// Runs the chunks of every parallelFor in reverse order (and claims three workers), so kernels
/// that depend on chunk order or on running serially show up.
final class ReverseOrderExecutor: ComputeExecutor {
    var concurrency: Int { 3 }
    func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        for index in (0..<count).reversed() { body(index) }
    }
}

/// A real thread pool built on DispatchQueue.concurrentPerform.
final class DispatchExecutor: ComputeExecutor {
    let concurrency: Int
    init(concurrency: Int) { self.concurrency = concurrency }
    private struct Body: @unchecked Sendable { let run: (Int) -> Void }
    func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            let box = Body(run: body)
            DispatchQueue.concurrentPerform(iterations: count) { box.run($0) }
        }
    }
}

@Suite struct MatrixMultiplyTests {
    typealias F = KernelFixtures

    static let quantizedFormats: [TensorType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]
    static let allFormats: [TensorType] = [.f32, .f16, .bf16] + quantizedFormats

    /// The activations the kernel actually multiplies: x after quantization to the weight
    /// format's activation format (or rounding to f16/bf16), dequantized.
    static func effectiveActivations(_ type: TensorType, _ x: [Float]) -> [Float] {
        let n = x.count
        var out = [Float](repeating: 0, count: n)
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                let x = xp.baseAddress!, o = op.baseAddress!
                switch type {
                case .f32: for i in 0..<n { o[i] = x[i] }
                case .f16: for i in 0..<n { o[i] = FP16.round(x[i]) }
                case .bf16: for i in 0..<n { o[i] = BF16.round(x[i]) }
                case .q4_1, .q5_1:
                    let blocks = UnsafeMutableRawPointer.allocate(byteCount: n / 32 * 36, alignment: 16)
                    Q8_1.quantizeRow(x, count: n, into: blocks)
                    Q8_1.dequantizeRow(blocks, count: n, into: o)
                    blocks.deallocate()
                case .q4_0, .q5_0, .q8_0:
                    let blocks = UnsafeMutableRawPointer.allocate(byteCount: n / 32 * 34, alignment: 16)
                    Q8_0.quantizeRow(x, count: n, into: blocks)
                    Q8_0.dequantizeRow(blocks, count: n, into: o)
                    blocks.deallocate()
                default:
                    let blocks = UnsafeMutableRawPointer.allocate(byteCount: n / 256 * 292, alignment: 16)
                    Q8_K.quantizeRow(x, count: n, into: blocks)
                    Q8_K.dequantizeRow(blocks, count: n, into: o)
                    blocks.deallocate()
                }
            }
        }
        return out
    }

    struct Case {
        let type: TensorType
        let rows: Int
        let columns: Int
        let weights: [UInt8]
        let dequantized: [Float]        // rows × columns
    }

    static func makeCase(_ type: TensorType, rows: Int, columns: Int, seed: UInt64) -> Case {
        var rng = F.RNG(seed: seed)
        let blocksPerRow = columns / type.blockElements
        var bytes = F.randomBlocks(type, blocks: rows * blocksPerRow, rng: &rng)
        if type == .f16 || type == .bf16 {
            // Moderate values (random bit patterns span 1e±38 for bf16).
            for i in 0..<rows * columns {
                let v = rng.float(-1, 1)
                let bits = type == .f16 ? FP16.fromFloat(v) : BF16.fromFloat(v)
                bytes[2 * i] = UInt8(bits & 0xFF)
                bytes[2 * i + 1] = UInt8(bits >> 8)
            }
        }
        return Case(type: type, rows: rows, columns: columns, weights: bytes, dequantized: F.dequantize(type, bytes))
    }

    /// `batch` tokens of `x` (rows of `columns`) times `weights` (`rows` rows of `type`), through
    /// MatrixMultiply with chunks run in reverse order: batch × rows outputs.
    static func multiplied(_ type: TensorType, weights: [UInt8], rows: Int, columns: Int, x: [Float], batch: Int,
                           maxBatch: Int) -> [Float] {
        var output = [Float](repeating: .nan, count: batch * rows)
        let scratch = MatmulScratch(maxColumns: columns, maxBatch: maxBatch)
        weights.withUnsafeBytes { w in
            let matrix = WeightMatrix(name: "test", type: type, rows: rows, columns: columns, data: w.baseAddress!)
            x.withUnsafeBufferPointer { xp in
                output.withUnsafeMutableBufferPointer { op in
                    MatrixMultiply.multiply(matrix, input: xp.baseAddress!, inputStride: columns, batch: batch,
                                            output: op.baseAddress!, outputStride: rows, scratch: scratch,
                                            executor: ReverseOrderExecutor())
                }
            }
        }
        return output
    }

    static func activations(batch: Int, columns: Int, stride: Int, seed: UInt64) -> [Float] {
        var rng = F.RNG(seed: seed)
        var x = [Float](repeating: .nan, count: (batch - 1) * stride + columns)   // padding stays NaN
        for b in 0..<batch {
            let spike = rng.int(columns)
            for c in 0..<columns { x[b * stride + c] = rng.float(-1, 1) * (c % 7 == 0 ? 4 : 1) }
            x[b * stride + spike] = 9   // one outlier per row, as real activations have
        }
        return x
    }

    /// Runs multiply and checks it against float64 references:
    /// - tight: with the activations the kernel really uses (quantized then dequantized): only
    ///   float rounding (plus f16 rounding of the Q8_1 sums, which ggml has too) may differ;
    /// - loose: with the raw activations: within the error 8-bit activation quantization allows,
    ///   at most ~0.6 quantization step per element.
    func check(_ c: Case, batch: Int, executor: any ComputeExecutor, inputStride: Int? = nil, outputStride: Int? = nil) -> [Float] {
        let inStride = inputStride ?? c.columns
        let outStride = outputStride ?? c.rows
        let x = Self.activations(batch: batch, columns: c.columns, stride: inStride, seed: UInt64(c.rows * 31 + batch))
        var output = [Float](repeating: .nan, count: (batch - 1) * outStride + c.rows)
        let scratch = MatmulScratch(maxColumns: c.columns, maxBatch: 4)   // batch 5 takes two passes
        c.weights.withUnsafeBytes { w in
            let matrix = WeightMatrix(name: "test", type: c.type, rows: c.rows, columns: c.columns, data: w.baseAddress!)
            x.withUnsafeBufferPointer { xp in
                output.withUnsafeMutableBufferPointer { op in
                    MatrixMultiply.multiply(matrix, input: xp.baseAddress!, inputStride: inStride, batch: batch,
                                            output: op.baseAddress!, outputStride: outStride, scratch: scratch, executor: executor)
                }
            }
        }
        var worstTight = 0.0, worstLoose = 0.0
        for b in 0..<batch {
            let raw = Array(x[b * inStride ..< b * inStride + c.columns])
            let effective = Self.effectiveActivations(c.type, raw)
            let blockSize = c.type.blockElements == 1 ? 32 : c.type.blockElements
            for r in 0..<c.rows {
                let w = c.dequantized[r * c.columns ..< (r + 1) * c.columns].map(Double.init)
                var exact = 0.0, quantized = 0.0, magnitude = 0.0, quantError = 0.0, sumError = 0.0
                for i in 0..<c.columns {
                    exact += w[i] * Double(raw[i])
                    quantized += w[i] * Double(effective[i])
                    magnitude += abs(w[i] * Double(effective[i]))
                }
                for start in stride(from: 0, to: c.columns, by: blockSize) {
                    let block = start ..< start + blockSize
                    let amax = block.map { abs(Double(raw[$0])) }.max()!
                    let step = c.type == .f32 ? 0 : (c.type == .f16 || c.type == .bf16 ? 0 : amax / 127)
                    for i in block { quantError += abs(w[i]) * (step * 0.6 + abs(Double(raw[i])) * (c.type == .bf16 ? 1.0 / 256 : 1.0 / 2048)) }
                    if c.type == .q4_1 || c.type == .q5_1 {
                        // m·s with s rounded to f16: |m| ≤ max|w| of the block.
                        let maxW = block.map { abs(w[$0]) }.max()!
                        sumError += maxW * abs(block.reduce(0.0) { $0 + Double(effective[$1]) }) / 1024
                    }
                }
                let got = Double(output[b * outStride + r])
                let tightTolerance = 2e-5 * magnitude + sumError + 1e-9
                let looseTolerance = tightTolerance + quantError
                worstTight = max(worstTight, abs(got - quantized) / tightTolerance)
                worstLoose = max(worstLoose, abs(got - exact) / looseTolerance)
                #expect(abs(got - quantized) <= tightTolerance,
                        "\(c.type.name) \(c.rows)x\(c.columns) batch \(batch) token \(b) row \(r): got \(got), quantized reference \(quantized) (tol \(tightTolerance))")
                #expect(abs(got - exact) <= looseTolerance,
                        "\(c.type.name) \(c.rows)x\(c.columns) batch \(batch) token \(b) row \(r): got \(got), float reference \(exact) (tol \(looseTolerance))")
            }
        }
        // Nothing outside the output rows was written.
        if outStride > c.rows {
            for b in 0..<batch - 1 { #expect(output[b * outStride + c.rows].isNaN) }
        }
        return output
    }

    @Test(arguments: allFormats)
    func multiplyMatchesFloat64Reference(type: TensorType) {
        let columns = type.blockElements == 256 ? 512 : 96
        for rows in [37, 3, 1] {
            let c = Self.makeCase(type, rows: rows, columns: columns, seed: UInt64(rows) &* 1000 &+ UInt64(type.rawValue))
            for executor: any ComputeExecutor in [SerialExecutor(), ReverseOrderExecutor()] {
                _ = check(c, batch: 1, executor: executor)
                _ = check(c, batch: 5, executor: executor)
            }
        }
    }

    /// Batched (prefill) results are bit-identical to one-token (decode) results, with any
    /// executor, strides and batch size. Not for the K-quants: llama.cpp multiplies a batch of
    /// 8+ with other kernels than a single token, adding in another order, and so do we
    /// (LlamaCppOrderKQuantTests checks each order). The 45 rows here are not a multiple of 8,
    /// so Q4_0 is not repacked and keeps vec_dot's order for any batch.
    @Test(arguments: allFormats.filter { ![.q2_K, .q3_K, .q4_K, .q5_K, .q6_K].contains($0) })
    func batchedEqualsSingleToken(type: TensorType) {
        let columns = type.blockElements == 256 ? 768 : 160
        let c = Self.makeCase(type, rows: 45, columns: columns, seed: 42 &+ UInt64(type.rawValue))
        let batch = 11
        let inStride = columns + 3, outStride = 50
        let x = Self.activations(batch: batch, columns: columns, stride: inStride, seed: 5)
        var batched = [Float](repeating: .nan, count: (batch - 1) * outStride + c.rows)
        var single = [Float](repeating: .nan, count: c.rows)
        let scratch = MatmulScratch(maxColumns: columns, maxBatch: 16)
        c.weights.withUnsafeBytes { w in
            let matrix = WeightMatrix(name: "test", type: c.type, rows: c.rows, columns: columns, data: w.baseAddress!)
            x.withUnsafeBufferPointer { xp in
                batched.withUnsafeMutableBufferPointer { op in
                    MatrixMultiply.multiply(matrix, input: xp.baseAddress!, inputStride: inStride, batch: batch,
                                            output: op.baseAddress!, outputStride: outStride, scratch: scratch,
                                            executor: DispatchExecutor(concurrency: 4))
                }
                for b in 0..<batch {
                    single.withUnsafeMutableBufferPointer { op in
                        MatrixMultiply.multiply(matrix, input: xp.baseAddress! + b * inStride, inputStride: inStride, batch: 1,
                                                output: op.baseAddress!, outputStride: c.rows, scratch: scratch,
                                                executor: ReverseOrderExecutor())
                    }
                    for r in 0..<c.rows {
                        #expect(batched[b * outStride + r].bitPattern == single[r].bitPattern,
                                "\(type.name) token \(b) row \(r): batched \(batched[b * outStride + r]) single \(single[r])")
                    }
                }
            }
        }
        for b in 0..<batch - 1 { #expect(batched[b * outStride + c.rows].isNaN, "wrote past the rows") }
    }

    @Test func stridedInputAndOutput() {
        let c = Self.makeCase(.q4_1, rows: 21, columns: 128, seed: 3)
        _ = check(c, batch: 6, executor: SerialExecutor(), inputStride: 131, outputStride: 25)
        let k = Self.makeCase(.q4_K, rows: 9, columns: 256, seed: 4)
        _ = check(k, batch: 6, executor: ReverseOrderExecutor(), inputStride: 300, outputStride: 10)
    }

    @Test func supportedTypes() {
        for type in Self.allFormats { #expect(MatrixMultiply.isSupported(type)) }
        for type: TensorType in [.iq2_xxs, .q8_K, .i32, .tq1_0] { #expect(!MatrixMultiply.isSupported(type)) }
    }

    @Test func vectorHelpers() {
        var rng = F.RNG(seed: 8)
        for count in [0, 1, 7, 8, 15, 16, 17, 33, 100] {
            let a = (0..<count).map { _ in rng.float(-1, 1) }
            let b = (0..<count).map { _ in rng.float(-1, 1) }
            let reference = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            #expect(abs(Double(VectorMath.dot(a, b, count: count)) - reference) < 1e-5)
            var y = b
            VectorMath.addScaled(a, 0.5, to: &y, count: count)
            for i in 0..<count { #expect(y[i] == b[i] + 0.5 * a[i]) }
            var z = b
            VectorMath.add(a, to: &z, count: count)
            for i in 0..<count { #expect(z[i] == b[i] + a[i]) }
            VectorMath.scale(&z, by: 2, count: count)
            for i in 0..<count { #expect(z[i] == 2 * (b[i] + a[i])) }
        }
    }

    /// Real SmolLM2 / Gemma 3 weights through the kernels (every weight type of both models).
    @Test(arguments: ["SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf"])
    func realWeights(model: String) throws {
        let file = try MappedFile(path: try F.modelPath(model))
        let gguf = try GGUFFile(bytes: file.bytes)
        // The smallest 2-D tensor of each type (SmolLM2's only Q8_0 is its 49152-row embedding).
        var smallest: [TensorType: GGUFTensorInfo] = [:]
        for info in gguf.tensors where info.shape.count == 2 {
            if let current = smallest[info.type], current.elementCount <= info.elementCount { continue }
            smallest[info.type] = info
        }
        var seen = Set<TensorType>()
        for info in smallest.values.sorted(by: { $0.type.rawValue < $1.type.rawValue }) {
            seen.insert(info.type)
            let weight = WeightMatrix(name: info.name, type: info.type, rows: info.shape[1], columns: info.shape[0], data: gguf.tensorData(info))
            let x = Self.activations(batch: 3, columns: weight.columns, stride: weight.columns, seed: 77)
            var output = [Float](repeating: .nan, count: 3 * weight.rows)
            let scratch = MatmulScratch(maxColumns: weight.columns, maxBatch: 8)
            x.withUnsafeBufferPointer { xp in
                output.withUnsafeMutableBufferPointer { op in
                    MatrixMultiply.multiply(weight, input: xp.baseAddress!, inputStride: weight.columns, batch: 3,
                                            output: op.baseAddress!, outputStride: weight.rows, scratch: scratch, executor: SerialExecutor())
                }
            }
            var row = [Float](repeating: 0, count: weight.columns)
            for b in 0..<3 {
                let effective = Self.effectiveActivations(info.type, Array(x[b * weight.columns ..< (b + 1) * weight.columns]))
                for r in stride(from: 0, to: weight.rows, by: max(1, weight.rows / 64)) {
                    row.withUnsafeMutableBufferPointer { MatrixMultiply.dequantizeRow(weight, row: r, into: $0.baseAddress!) }
                    var reference = 0.0, magnitude = 0.0
                    for i in 0..<weight.columns {
                        reference += Double(row[i]) * Double(effective[i])
                        magnitude += abs(Double(row[i]) * Double(effective[i]))
                    }
                    let got = Double(output[b * weight.rows + r])
                    #expect(abs(got - reference) <= 1e-3 * magnitude + 1e-6, "\(info.name) token \(b) row \(r): \(got) vs \(reference)")
                }
            }
        }
        print("real weights checked in \(model): \(seen.map(\.name).sorted())")
    }

    /// Prints decode (batch 1) GB/s and the batch-16 per-token speed-up on SmolLM2's shapes.
    /// Only meaningful in release builds; runs only with TINYLM_BENCH=1 (it asserts nothing).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TINYLM_BENCH"] == "1"))
    func benchmarkSmolLM2Shapes() throws {
        let file = try MappedFile(path: try F.modelPath("SmolLM2-135M-Instruct.Q4_1.gguf"))
        let gguf = try GGUFFile(bytes: file.bytes)
        let weights = gguf.tensors.filter { $0.shape.count == 2 && ($0.name.hasPrefix("blk.0.") || $0.name == "token_embd.weight") }
            .map { WeightMatrix(name: $0.name, type: $0.type, rows: $0.shape[1], columns: $0.shape[0], data: gguf.tensorData($0)) }
        let clock = { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
        let decode = MatmulBenchmark.run(weights, batch: 1, repeats: 10, executor: SerialExecutor(), now: clock)
        let prefill = MatmulBenchmark.run(weights, batch: 16, repeats: 3, executor: SerialExecutor(), now: clock)
        for (d, p) in zip(decode, prefill) {
            print("\(d.name) \(d.type.name): batch 1 \(Int(d.seconds * 1e6)) us \(String(format: "%.2f", d.gigabytesPerSecond)) GB/s; batch 16 \(String(format: "%.1f", p.seconds / 16 * 1e6)) us/token, speed-up \(String(format: "%.2f", d.seconds / (p.seconds / 16)))x")
        }
    }
}
