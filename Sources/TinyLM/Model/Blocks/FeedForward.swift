/// The gated feed-forward block: down( act(gate(x)) ⊙ up(x) ), with SiLU (SwiGLU, llama) or
/// tanh-approximated GELU (Gemma) as the activation. The gate and up projections are two
/// matrices, or one fused matrix whose first half of rows is the gate (Phi-3's `ffn_up`).
struct FeedForward {
    enum Activation { case silu, geluTanh(GeluTable) }
    enum GateAndUp {
        case separate(gate: Linear, up: Linear)
        case fused(Linear)
    }

    let gateAndUp: GateAndUp
    let down: Linear
    let activation: Activation

    /// `input`: batch × embedding; `output`: batch × embedding. `hiddenBuffer` holds batch ×
    /// 2 × hidden: each token's gate values, then its up values — the layout of the fused
    /// matrix's output, so both forms run the same code from there on.
    func callAsFunction(_ input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>,
                        hiddenBuffer: UnsafeMutablePointer<Float>, state: InferenceState) {
        let hidden = down.columns
        let stride = 2 * hidden
        let executor = state.executor
        // The activation overwrites each token's gate values; each element's arithmetic is the
        // same however rows and tokens are split across threads.
        func activate(_ rows: Range<Int>, _ tokens: Range<Int>) {
            for t in tokens {
                let gate = hiddenBuffer + t * stride, up = gate + hidden
                switch activation {
                case .silu:
                    Self.swiglu(gate, up, count: hidden, rows: rows)
                case .geluTanh(let table):
                    for i in rows { gate[i] = table(gate[i]) * up[i] }
                }
            }
        }
        switch gateAndUp {
        case .separate(let gate, let up):
            // One parallel section: each chunk of rows through gate and up, then its activation
            // (LinearGroup).
            LinearGroup.multiplyPaired(.init(linear: gate, output: hiddenBuffer, outputStride: stride),
                                       .init(linear: up, output: hiddenBuffer + hidden, outputStride: stride),
                                       input: input, batch: batch, state: state, combine: activate)
        case .fused(let gateUp):
            gateUp(input, inputStride: gateUp.columns, batch: batch, output: hiddenBuffer, outputStride: stride, state: state)
            // Token by token, so a prompt's activations split across threads like the matmuls.
            executor.parallelRanges(batch) { tokens in activate(0..<hidden, tokens) }
        }
        down(hiddenBuffer, inputStride: stride, batch: batch, output: output, outputStride: down.rows, state: state)
    }

    /// gate[i] = silu(gate[i])·up[i] for one token's row, as llama.cpp's x86 AVX-512
    /// ggml_vec_swiglu_f32 computes it: x / (1 + ggml_v_expf(-x)) · up in steps of 16,
    /// ggml_v_expf being a polynomial (not a correctly rounded exp), and the last count mod 16
    /// values with expf — so that the activations quantized for the down projection match bit
    /// for bit.
    /// Only elements `rows` (bounded by multiples of 8 or the row's end) are computed, each exactly as in
    /// the whole row.
    static func swiglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int, rows: Range<Int>) {
        precondition(rows.lowerBound % 8 == 0 && (rows.upperBound % 8 == 0 || rows.upperBound == count) && rows.upperBound <= count,
                     "swiglu: rows must be whole eights of the row")
        var i = rows.lowerBound
        let g = UnsafeMutableRawPointer(gate), u = UnsafeRawPointer(up)
        let vectorized = Swift.min(count - count % 16, rows.upperBound)
        while i < vectorized {
            let x = g.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let e = expApprox(SIMD8<Float>() - x)
            let y = (x / (1 + e)) * u.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            g.storeBytes(of: y, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < rows.upperBound {
            // ggml's scalar tail: x / (1 + expf(-x)).
            let x = gate[i]
            gate[i] = x / (1 + Math.expf(-x)) * up[i]
            i += 1
        }
    }

    /// fma(a, b, c) for Float lanes, as ggml's _mm512_fmadd_ps: the FMA instruction natively
    /// (the generic SIMD8<Float> ↔ SIMD8<Double> conversions of the Double form were not
    /// inlined there: 9 % of a prompt at 1 024 tokens of context); in wasm, which has no FMA,
    /// through Double (the product is exact there).
    @inline(__always)
    static func fma(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float> {
        #if TINYLM_HARDWARE_FMA
        return c.addingProduct(a, b)
        #else
        return SIMD8<Float>(SIMD8<Double>(a) * SIMD8<Double>(b) + SIMD8<Double>(c))
        #endif
    }

    /// ggml_v_expf, x86 AVX-512 variant: exp(x) = 2^n · p(b), n = round(x/ln2),
    /// b = x − n·ln2 (two-part ln2), p a degree-5 polynomial; ±overflow for |n| > 192.
    @inline(__always)
    static func expApprox(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let r = SIMD8<Float>(repeating: 0x1.8p23)
        let z = fma(x, SIMD8(repeating: 0x1.715476p+0), r)
        let n = z - r
        let b = fma(-n, SIMD8(repeating: 0x1.7f7d1cp-20), fma(-n, SIMD8(repeating: 0x1.62e4p-1), x))
        let u = b * b
        let j = fma(fma(fma(SIMD8(repeating: 0x1.0e4020p-7), b, SIMD8(repeating: 0x1.573e2ep-5)), u,
                        fma(SIMD8(repeating: 0x1.555e66p-3), b, SIMD8(repeating: 0x1.fffdb6p-2))),
                    u, fma(SIMD8(repeating: 0x1.ffffecp-1), b, SIMD8(repeating: 1)))
        // j · 2^n (what _mm512_scalef_ps does) in two exact power-of-two steps; n is read from
        // the low mantissa bits of z = n + 1.5·2^23.
        var k = unsafeBitCast(unsafeBitCast(z, to: SIMD8<UInt32>.self) & 0x007F_FFFF, to: SIMD8<Int32>.self) &- 0x0040_0000
        // Clamped to ±192 with shifts and masks: SIMD's generic clamped(lowerBound:upperBound:)
        // stayed two calls, and Int32 lane comparisons became per-lane loops.
        let above = k &- 192
        k = (above & (above &>> 31)) &+ 192
        let below = k &+ 192
        k = (below & ~(below &>> 31)) &- 192
        let half = k &>> 1
        let s1 = unsafeBitCast((half &+ 127) &<< 23, to: SIMD8<Float>.self)
        let s2 = unsafeBitCast((k &- half &+ 127) &<< 23, to: SIMD8<Float>.self)
        var result = j * s1 * s2
        result.replace(with: .infinity, where: n .> 192)
        result.replace(with: 0, where: n .< -192)
        return result
    }

    /// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    static func gelu(_ x: Float) -> Float {
        if x <= -10 { return 0 }
        if x >= 10 { return x }
        // llama.cpp's x86 build reads GELU from a table indexed by the f16 of x and stores f16
        // values: both roundings are part of the reference numerics.
        return geluOfHalf(FP16.round(x))
    }

    /// `gelu` of a value that is already an f16.
    static func geluOfHalf(_ h: Float) -> Float {
        let g: Float = 0.7978845608028654
        // The table is built by C code compiled with contraction: 1 + 0.044715·h·h is one fused
        // multiply-add there (in Double the product is exact; checked against ggml's table over
        // every f16 input).
        let inner = Float(Double(0.044715 * h) * Double(h) + 1)
        return FP16.round(0.5 * h * (1 + Math.tanh(g * h * inner)))
    }
}

/// `FeedForward.gelu` for every f16 input, indexed by its bits, like llama.cpp's
/// ggml_table_gelu_f16: gelu rounds its input to f16 before anything else, so a lookup gives
/// the same bits, without the Double tanh per value that dominated Gemma's activation time.
/// Built once per model (256 KiB).
final class GeluTable {
    private let values: UnsafeMutablePointer<Float>

    init() {
        values = .allocate(capacity: 65536)
        for bits in 0..<65536 {
            // Only f16 values in [−10, 10] are ever looked up (the rounding of an x in (−10, 10)).
            let h = FP16.toFloat(UInt16(bits))
            values[bits] = abs(h) <= 10 ? FeedForward.geluOfHalf(h) : 0
        }
    }

    deinit { values.deallocate() }

    @inline(__always)
    func callAsFunction(_ x: Float) -> Float {
        if x <= -10 { return 0 }
        if x >= 10 { return x }
        #if TINYLM_HARDWARE_F16
        return values[Int(Float16(x).bitPattern)]
        #else
        return values[Int(FP16.fromFloat(x))]
        #endif
    }
}
