/// Matrix × many-token products in f32 for encoders: Y[t, r] = Σ_k W[r, k] · X[t, k].
///
/// Weights of any format `MatrixMultiply.dequantize` reads are unpacked, a panel of rows and
/// a block of columns at a time, into an f32 panel laid out column-major ([k][row]), which
/// stays in L1 while every token of the batch runs over it; the activations stay f32 (no
/// activation quantization). The inner loop is an outer product: one panel load (the rows at
/// column k) times one broadcast activation per token, into per-token row accumulators.
///
/// Every output is summed in k order, one product at a time, with separate multiply and add
/// (no fused multiply-add): the result is the same whatever the vector width, the panel size
/// or the thread split, natively and in wasm.
public enum FloatGEMM {
    /// Rows per panel and tokens per register block: natively 16 × 4 (eight AVX2 accumulators;
    /// with twelve the compiler spilled), in wasm 8 × 4 (eight v128 accumulators; V8 spills
    /// beyond x86's 16 registers).
    #if arch(wasm32)
    static let panelRows = 8
    static let tokenBlock = 4
    #else
    static let panelRows = 16
    static let tokenBlock = 4
    #endif
    /// Columns per panel: 256 × 16 rows × 4 bytes = 16 KiB.
    static let columnBlock = 256

    /// Floats of scratch one concurrent chunk needs (the panel and one unpacked row block).
    public static var slotFloats: Int { panelRows * columnBlock + columnBlock }

    public static func supports(_ type: TensorType) -> Bool {
        MatrixMultiply.canDequantize(type) && columnBlock % type.blockElements == 0
    }

    /// `scratch`: `slots` × `slotFloats` floats, one slot per concurrent chunk.
    public static func multiply(_ weight: WeightMatrix, input: UnsafePointer<Float>, inputStride: Int, tokens: Int,
                                output: UnsafeMutablePointer<Float>, outputStride: Int,
                                scratch: UnsafeMutablePointer<Float>, slots: Int, executor: any ComputeExecutor) {
        precondition(supports(weight.type), "FloatGEMM: unsupported weight type")
        let panels = (weight.rows + panelRows - 1) / panelRows
        executor.parallelChunks(panels, maxChunks: slots) { chunk, range in
            let slot = scratch + chunk * slotFloats
            for p in range {
                runPanel(weight, rows: p * panelRows..<min(weight.rows, (p + 1) * panelRows), input: input, inputStride: inputStride,
                         tokens: tokens, output: output, outputStride: outputStride, panel: slot, unpacked: slot + panelRows * columnBlock)
            }
        }
    }

    private static func runPanel(_ weight: WeightMatrix, rows: Range<Int>, input: UnsafePointer<Float>, inputStride: Int, tokens: Int,
                                 output: UnsafeMutablePointer<Float>, outputStride: Int,
                                 panel: UnsafeMutablePointer<Float>, unpacked: UnsafeMutablePointer<Float>) {
        let k = weight.columns
        let r0 = rows.lowerBound, n = rows.count
        var kb = 0
        while kb < k {
            let width = min(columnBlock, k - kb)
            // Unpack rows r0..<r0+n, columns kb..<kb+width into panel[c][row] (zero rows past n).
            let byteOffset = kb / weight.type.blockElements * weight.type.blockBytes
            for r in 0..<panelRows {
                if r < n {
                    MatrixMultiply.dequantize(weight.type, weight.row(r0 + r) + byteOffset, count: width, into: unpacked)
                    for c in 0..<width { panel[c * panelRows + r] = unpacked[c] }
                } else {
                    for c in 0..<width { panel[c * panelRows + r] = 0 }
                }
            }
            let first = kb == 0
            var t = 0
            while t + tokenBlock <= tokens {
                block(panel, width: width, input: input + t * inputStride + kb, inputStride: inputStride,
                      output: output + t * outputStride + r0, outputStride: outputStride, rows: n, first: first)
                t += tokenBlock
            }
            while t < tokens {
                single(panel, width: width, input: input + t * inputStride + kb,
                       output: output + t * outputStride + r0, rows: n, first: first)
                t += 1
            }
            kb += width
        }
    }

    #if arch(wasm32)
    typealias Lanes = SIMD8<Float>

    /// 8 rows × 4 tokens.
    @inline(__always)
    private static func block(_ panel: UnsafePointer<Float>, width: Int, input: UnsafePointer<Float>, inputStride: Int,
                              output: UnsafeMutablePointer<Float>, outputStride: Int, rows: Int, first: Bool) {
        var a0 = load(output, rows, first), a1 = load(output + outputStride, rows, first)
        var a2 = load(output + 2 * outputStride, rows, first), a3 = load(output + 3 * outputStride, rows, first)
        let p = UnsafeRawPointer(panel)
        let x0 = input, x1 = input + inputStride, x2 = input + 2 * inputStride, x3 = input + 3 * inputStride
        for c in 0..<width {
            let w = p.load(fromByteOffset: c * 32, as: Lanes.self)
            a0 = a0 + w * Lanes(repeating: x0[c])
            a1 = a1 + w * Lanes(repeating: x1[c])
            a2 = a2 + w * Lanes(repeating: x2[c])
            a3 = a3 + w * Lanes(repeating: x3[c])
        }
        store(a0, output, rows); store(a1, output + outputStride, rows)
        store(a2, output + 2 * outputStride, rows); store(a3, output + 3 * outputStride, rows)
    }

    @inline(__always)
    private static func single(_ panel: UnsafePointer<Float>, width: Int, input: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>, rows: Int, first: Bool) {
        var a = load(output, rows, first)
        let p = UnsafeRawPointer(panel)
        for c in 0..<width { a = a + p.load(fromByteOffset: c * 32, as: Lanes.self) * Lanes(repeating: input[c]) }
        store(a, output, rows)
    }

    @inline(__always)
    private static func load(_ out: UnsafeMutablePointer<Float>, _ rows: Int, _ first: Bool) -> Lanes {
        if first { return Lanes() }
        if rows == 8 { return UnsafeRawPointer(out).loadUnaligned(as: Lanes.self) }
        var v = Lanes()
        for i in 0..<rows { v[i] = out[i] }
        return v
    }

    @inline(__always)
    private static func store(_ v: Lanes, _ out: UnsafeMutablePointer<Float>, _ rows: Int) {
        if rows == 8 { UnsafeMutableRawPointer(out).storeBytes(of: v, as: Lanes.self); return }
        for i in 0..<rows { out[i] = v[i] }
    }
    #else
    typealias Lanes = SIMD8<Float>

    /// 16 rows (two vectors) × 4 tokens.
    @inline(__always)
    private static func block(_ panel: UnsafePointer<Float>, width: Int, input: UnsafePointer<Float>, inputStride: Int,
                              output: UnsafeMutablePointer<Float>, outputStride: Int, rows: Int, first: Bool) {
        let o1 = output + outputStride, o2 = o1 + outputStride, o3 = o2 + outputStride
        var (a0, b0) = load(output, rows, first), (a1, b1) = load(o1, rows, first)
        var (a2, b2) = load(o2, rows, first), (a3, b3) = load(o3, rows, first)
        let p = UnsafeRawPointer(panel)
        let x0 = input, x1 = x0 + inputStride, x2 = x1 + inputStride, x3 = x2 + inputStride
        for c in 0..<width {
            let w = p.load(fromByteOffset: c * 64, as: Lanes.self)
            let v = p.load(fromByteOffset: c * 64 + 32, as: Lanes.self)
            var s = Lanes(repeating: x0[c]); a0 = a0 + w * s; b0 = b0 + v * s
            s = Lanes(repeating: x1[c]); a1 = a1 + w * s; b1 = b1 + v * s
            s = Lanes(repeating: x2[c]); a2 = a2 + w * s; b2 = b2 + v * s
            s = Lanes(repeating: x3[c]); a3 = a3 + w * s; b3 = b3 + v * s
        }
        store(a0, b0, output, rows); store(a1, b1, o1, rows)
        store(a2, b2, o2, rows); store(a3, b3, o3, rows)
    }

    @inline(__always)
    private static func single(_ panel: UnsafePointer<Float>, width: Int, input: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>, rows: Int, first: Bool) {
        var (a, b) = load(output, rows, first)
        let p = UnsafeRawPointer(panel)
        for c in 0..<width {
            let s = Lanes(repeating: input[c])
            a = a + p.load(fromByteOffset: c * 64, as: Lanes.self) * s
            b = b + p.load(fromByteOffset: c * 64 + 32, as: Lanes.self) * s
        }
        store(a, b, output, rows)
    }

    @inline(__always)
    private static func load(_ out: UnsafeMutablePointer<Float>, _ rows: Int, _ first: Bool) -> (Lanes, Lanes) {
        if first { return (Lanes(), Lanes()) }
        if rows == 16 {
            let raw = UnsafeRawPointer(out)
            return (raw.loadUnaligned(as: Lanes.self), raw.loadUnaligned(fromByteOffset: 32, as: Lanes.self))
        }
        var a = Lanes(), b = Lanes()
        for i in 0..<rows { if i < 8 { a[i] = out[i] } else { b[i - 8] = out[i] } }
        return (a, b)
    }

    @inline(__always)
    private static func store(_ a: Lanes, _ b: Lanes, _ out: UnsafeMutablePointer<Float>, _ rows: Int) {
        if rows == 16 {
            let raw = UnsafeMutableRawPointer(out)
            raw.storeBytes(of: a, as: Lanes.self)
            raw.storeBytes(of: b, toByteOffset: 32, as: Lanes.self)
            return
        }
        for i in 0..<rows { out[i] = i < 8 ? a[i] : b[i - 8] }
    }
    #endif
}
