// Dot-product kernels that add in exactly the order llama.cpp's x86 kernels do, so our logits
// are bit-identical to llama.cpp's for these formats (measured: 0.0 difference over the whole
// vocabulary on all reference prompts). Why it matters: with 8-bit activations, a 1-ulp
// difference anywhere can flip a quantized activation in a later layer, and small models
// amplify that into logit differences of ~0.5 — enough to change greedy tokens. Matching the
// summation order bit for bit is the only way to track the reference token for token.
//
// ggml's order (vec_dot_q4_1_q8_1, vec_dot_q8_0_q8_0, vec_dot_q5_0_q8_0 and tinyBLAS for Q8_0,
// AVX2/AVX-512):
//   per 32-element block: eight Int32 lanes, lane l = Σ of the products of elements 4l…4l+3
//   (exact integers), then acc[l] = fma(d_w·d_a, Float(lane), acc[l]) with d_w·d_a rounded to
//   Float first; after the last block the eight lanes are summed as
//   ((a4+a0)+(a6+a2)) + ((a5+a1)+(a7+a3)); Q4_1 adds Σ fma(m_w, s_a) accumulated separately.
// Natively the fused multiply-add is the host's FMA instruction (TINYLM_HARDWARE_FMA, set by
// Package.swift). wasm has no FMA, so there it is evaluated in Double: the product of a 24-bit
// and a ≤17-bit integer is exact, and one rounding of the sum to Float gives the same bits
// (the tests check both builds against llama.cpp's logits).
//
// Q4_K and Q6_K, whose order depends on the batch, are in LlamaCppOrderKQuants.swift.

enum LlamaCppOrderKernels {
    /// Whether `type` has a kernel here.
    static func handles(_ type: TensorType) -> Bool {
        switch type {
        case .q4_1, .q8_0, .q5_0, .q4_K, .q6_K: return true
        default: return false
        }
    }

    /// How many tokens the whole multiply has and where this pass's first one sits: llama.cpp
    /// picks some formats' kernels (and so their order) by the batch, not by our passes.
    typealias Tokens = (total: Int, first: Int)

    /// Rows `rows` of `weight` times the quantized activations of `batch` tokens.
    static func multiplyRows(_ weight: WeightMatrix, rows: Range<Int>, batch: Int, tokens: Tokens, scratch: MatmulScratch,
                             output: UnsafeMutablePointer<Float>, outputStride: Int) {
        let blocks = weight.columns / weight.type.blockElements
        let rowBytes = weight.rowBytes
        let type = weight.type
        if type == .q6_K && kQuantPath(weight, token: 0, of: tokens.total) == .tiled {
            multiplyQ6_KTiled(weight, rows: rows, batch: batch, scratch: scratch, output: output, outputStride: outputStride)
            return
        }
        // Four rows at a time share each activation load; for a batch, the four rows' bytes
        // stay in L1 while every token passes over them.
        var r = rows.lowerBound
        while r < rows.upperBound {
            let count = Swift.min(4, rows.upperBound - r)
            for t in 0..<batch {
                let act = scratch.activations(t)
                let out = output + t * outputStride + r
                switch type {
                case .q4_1: dotQ4_1(weight.data + r * rowBytes, rowBytes, count, blocks, act, out)
                case .q5_0: dotSymmetric(Q5_0.self, weight.data + r * rowBytes, rowBytes, count, blocks, act, out)
                case .q4_K: dotQ4_K(weight.data + r * rowBytes, rowBytes, count, blocks, act,
                                    kQuantPath(weight, token: tokens.first + t, of: tokens.total), out)
                case .q6_K: dotQ6_K(weight.data + r * rowBytes, rowBytes, count, blocks, act, out)
                default: dotSymmetric(Q8_0.self, weight.data + r * rowBytes, rowBytes, count, blocks, act, out)
                }
            }
            r += count
        }
    }

    /// Up to four Q4_1 rows against Q8_1 activations.
    @inline(__always)
    static func dotQ4_1(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ count: Int, _ blocks: Int,
                        _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        if count < 4 {
            for i in 0..<count { out[i] = dotQ4_1Row(rows + i * rowBytes, blocks, act) }
            return
        }
        // Four rows unrolled, so the accumulators stay in registers; the four rows' f16 scales
        // are converted together.
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        var minSums = SIMD4<Double>()
        for b in 0..<blocks {
            let a = act.q + b * 32
            let a0 = loadPlane(a, 0), a1 = loadPlane(a, 8), a2 = loadPlane(a, 16), a3 = loadPlane(a, 24)
            let w = rows + b * 20
            let words = SIMD4<UInt32>(w.loadUnaligned(as: UInt32.self), (w + rowBytes).loadUnaligned(as: UInt32.self),
                                      (w + 2 * rowBytes).loadUnaligned(as: UInt32.self), (w + 3 * rowBytes).loadUnaligned(as: UInt32.self))
            let scales = FP16.toFloat4(words & 0xFFFF) * act.d[b]   // d_w·d_a, rounded to Float
            let mins = FP16.toFloat4(words &>> 16)
            acc0 = fusedMultiplyAdd(scales[0], blockLanes(Q4_1.sub(w, .zero, 0), a0, a1, a2, a3), acc0)
            acc1 = fusedMultiplyAdd(scales[1], blockLanes(Q4_1.sub(w + rowBytes, .zero, 0), a0, a1, a2, a3), acc1)
            acc2 = fusedMultiplyAdd(scales[2], blockLanes(Q4_1.sub(w + 2 * rowBytes, .zero, 0), a0, a1, a2, a3), acc2)
            acc3 = fusedMultiplyAdd(scales[3], blockLanes(Q4_1.sub(w + 3 * rowBytes, .zero, 0), a0, a1, a2, a3), acc3)
            // Σ fma(m_w, s_a) per row, rounded to Float after each block as ggml's scalar loop.
            let m = SIMD4<Double>(Double(mins[0]), Double(mins[1]), Double(mins[2]), Double(mins[3]))
            minSums = roundedToFloat(m * Double(act.s[b]) + minSums)
        }
        out[0] = horizontalSum(acc0) + Float(minSums[0])
        out[1] = horizontalSum(acc1) + Float(minSums[1])
        out[2] = horizontalSum(acc2) + Float(minSums[2])
        out[3] = horizontalSum(acc3) + Float(minSums[3])
    }

    static func dotQ4_1Row(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
        var acc = SIMD8<Float>()
        var minSum: Float = 0
        for b in 0..<blocks {
            let a = act.q + b * 32
            let w = row + b * 20
            let h = Q4_1.header(w)
            acc = fusedMultiplyAdd(h[0] * act.d[b], blockLanes(Q4_1.sub(w, h, 0), loadPlane(a, 0), loadPlane(a, 8), loadPlane(a, 16), loadPlane(a, 24)), acc)
            minSum = Float(Double(h[1]) * Double(act.s[b]) + Double(minSum))
        }
        return horizontalSum(acc) + minSum
    }

    /// Up to four rows of a format with one scale per 32 values and signed quants (Q8_0, Q5_0)
    /// against Q8_0 activations.
    @inline(__always)
    static func dotSymmetric<F: QuantizedDotFormat>(_: F.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ count: Int, _ blocks: Int,
                                                   _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>)
    where F.Header == Float, F.Sub == Sub32 {
        if count < 4 {
            for i in 0..<count {
                var acc = SIMD8<Float>()
                let row = rows + i * rowBytes
                for b in 0..<blocks {
                    let a = act.q + b * 32
                    let w = row + b * F.blockBytes
                    let d = F.header(w)
                    acc = fusedMultiplyAdd(d * act.d[b], blockLanes(F.sub(w, d, 0), loadPlane(a, 0), loadPlane(a, 8), loadPlane(a, 16), loadPlane(a, 24)), acc)
                }
                out[i] = horizontalSum(acc)
            }
            return
        }
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        for b in 0..<blocks {
            let a = act.q + b * 32
            let a0 = loadPlane(a, 0), a1 = loadPlane(a, 8), a2 = loadPlane(a, 16), a3 = loadPlane(a, 24)
            let w = rows + b * F.blockBytes
            // The f16 scale opens every block of these formats: the four rows' scales convert together.
            let halves = SIMD4<UInt32>(UInt32(w.loadUnaligned(as: UInt16.self)), UInt32((w + rowBytes).loadUnaligned(as: UInt16.self)),
                                       UInt32((w + 2 * rowBytes).loadUnaligned(as: UInt16.self)), UInt32((w + 3 * rowBytes).loadUnaligned(as: UInt16.self)))
            let scales = FP16.toFloat4(halves) * act.d[b]
            acc0 = fusedMultiplyAdd(scales[0], blockLanes(F.sub(w, 0, 0), a0, a1, a2, a3), acc0)
            acc1 = fusedMultiplyAdd(scales[1], blockLanes(F.sub(w + rowBytes, 0, 0), a0, a1, a2, a3), acc1)
            acc2 = fusedMultiplyAdd(scales[2], blockLanes(F.sub(w + 2 * rowBytes, 0, 0), a0, a1, a2, a3), acc2)
            acc3 = fusedMultiplyAdd(scales[3], blockLanes(F.sub(w + 3 * rowBytes, 0, 0), a0, a1, a2, a3), acc3)
        }
        out[0] = horizontalSum(acc0)
        out[1] = horizontalSum(acc1)
        out[2] = horizontalSum(acc2)
        out[3] = horizontalSum(acc3)
    }

    /// The eight per-4-element integer sums of one 32-element block, as exact Floats.
    /// (Weights are in the plane order of `Sub32`; products fit Int16: |w·a| ≤ 128·127.)
    @inline(__always)
    static func blockLanes(_ s: Sub32, _ a0: SIMD8<Int16>, _ a1: SIMD8<Int16>, _ a2: SIMD8<Int16>, _ a3: SIMD8<Int16>) -> SIMD8<Float> {
        let low = widenPairs(s.e0 &* a0 &+ s.o0 &* a1)
        let high = widenPairs(s.e1 &* a2 &+ s.o1 &* a3)
        return SIMD8(lowHalf: exactFloats(low), highHalf: exactFloats(high))
    }

    /// Int32 → Float for |x| < 2^22 with bit operations only (a plain conversion is a
    /// per-lane helper call in Embedded wasm): 1.5·2^23 + x has x in its low mantissa bits.
    @inline(__always)
    static func exactFloats(_ x: SIMD4<Int32>) -> SIMD4<Float> {
        let magic: Int32 = 0x4B40_0000
        return unsafeBitCast(x &+ magic, to: SIMD4<Float>.self) - 12_582_912.0
    }

    /// acc + scale·lanes with one rounding to Float, per lane (a fused multiply-add).
    @inline(__always)
    static func fusedMultiplyAdd(_ scale: Float, _ lanes: SIMD8<Float>, _ acc: SIMD8<Float>) -> SIMD8<Float> {
        #if TINYLM_HARDWARE_FMA
        return acc.addingProduct(lanes, SIMD8(repeating: scale))
        #else
        let s = Double(scale)
        let r0 = widen(lanes.lowHalf.lowHalf) * s + widen(acc.lowHalf.lowHalf)
        let r1 = widen(lanes.lowHalf.highHalf) * s + widen(acc.lowHalf.highHalf)
        let r2 = widen(lanes.highHalf.lowHalf) * s + widen(acc.highHalf.lowHalf)
        let r3 = widen(lanes.highHalf.highHalf) * s + widen(acc.highHalf.highHalf)
        return SIMD8(lowHalf: SIMD4(lowHalf: narrow(r0), highHalf: narrow(r1)),
                     highHalf: SIMD4(lowHalf: narrow(r2), highHalf: narrow(r3)))
        #endif
    }

    // Lane-wise conversions written out, so they lower to the two-lane convert instructions
    // (cvtps2pd/cvtpd2ps, f64x2.promote_low_f32x4/f32x4.demote_f64x2_zero) rather than a
    // generic per-lane loop.
    @inline(__always) static func widen(_ x: SIMD2<Float>) -> SIMD2<Double> { SIMD2(Double(x[0]), Double(x[1])) }
    @inline(__always) static func narrow(_ x: SIMD2<Double>) -> SIMD2<Float> { SIMD2(Float(x[0]), Float(x[1])) }

    @inline(__always)
    static func roundedToFloat(_ x: SIMD4<Double>) -> SIMD4<Double> {
        SIMD4(Double(Float(x[0])), Double(Float(x[1])), Double(Float(x[2])), Double(Float(x[3])))
    }

    /// ggml's hsum_float_8.
    @inline(__always)
    static func horizontalSum(_ a: SIMD8<Float>) -> Float {
        ((a[4] + a[0]) + (a[6] + a[2])) + ((a[5] + a[1]) + (a[7] + a[3]))
    }
}
