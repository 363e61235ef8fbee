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
// The fused multiply-add is evaluated in Double (the product of a 24-bit and a ≤17-bit
// integer is exact there), which gives the same bits natively and in wasm, where there is
// no FMA instruction.

enum LlamaCppOrderKernels {
    /// Whether `type` has a kernel here.
    static func handles(_ type: TensorType) -> Bool { type == .q4_1 || type == .q8_0 || type == .q5_0 }

    /// Rows `rows` of `weight` times the quantized activations of `batch` tokens.
    static func multiplyRows(_ weight: WeightMatrix, rows: Range<Int>, batch: Int, scratch: MatmulScratch,
                             output: UnsafeMutablePointer<Float>, outputStride: Int) {
        let blocks = weight.columns / 32
        let rowBytes = weight.rowBytes
        let type = weight.type
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
        var acc = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
        var minSums = SIMD4<Float>()
        for b in 0..<blocks {
            let a = act.q + b * 32
            let a0 = loadPlane(a, 0), a1 = loadPlane(a, 8), a2 = loadPlane(a, 16), a3 = loadPlane(a, 24)
            let da = act.d[b], sa = Double(act.s[b])
            for i in 0..<count {
                let block = rows + i * rowBytes + b * 20
                let h = Q4_1.header(block)
                let s = Q4_1.sub(block, h, 0)
                let lanes = blockLanes(s, a0, a1, a2, a3)
                let next = fusedMultiplyAdd(h[0] * da, lanes, accumulator(acc, i))
                setAccumulator(&acc, i, next)
                minSums[i] = Float(Double(h[1]) * sa + Double(minSums[i]))
            }
        }
        for i in 0..<count { out[i] = horizontalSum(accumulator(acc, i)) + minSums[i] }
    }

    /// Up to four rows of a format with one scale per 32 values and signed quants (Q8_0, Q5_0)
    /// against Q8_0 activations.
    @inline(__always)
    static func dotSymmetric<F: QuantizedDotFormat>(_: F.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ count: Int, _ blocks: Int,
                                                   _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>)
    where F.Header == Float, F.Sub == Sub32 {
        var acc = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
        for b in 0..<blocks {
            let a = act.q + b * 32
            let a0 = loadPlane(a, 0), a1 = loadPlane(a, 8), a2 = loadPlane(a, 16), a3 = loadPlane(a, 24)
            let da = act.d[b]
            for i in 0..<count {
                let block = rows + i * rowBytes + b * F.blockBytes
                let d = F.header(block)
                let s = F.sub(block, d, 0)
                let lanes = blockLanes(s, a0, a1, a2, a3)
                setAccumulator(&acc, i, fusedMultiplyAdd(d * da, lanes, accumulator(acc, i)))
            }
        }
        for i in 0..<count { out[i] = horizontalSum(accumulator(acc, i)) }
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
        let s = Double(scale)
        let low = SIMD4<Double>(lanes.lowHalf) * s + SIMD4<Double>(acc.lowHalf)
        let high = SIMD4<Double>(lanes.highHalf) * s + SIMD4<Double>(acc.highHalf)
        return SIMD8(lowHalf: SIMD4<Float>(low), highHalf: SIMD4<Float>(high))
    }

    /// ggml's hsum_float_8.
    @inline(__always)
    static func horizontalSum(_ a: SIMD8<Float>) -> Float {
        ((a[4] + a[0]) + (a[6] + a[2])) + ((a[5] + a[1]) + (a[7] + a[3]))
    }

    @inline(__always)
    static func accumulator(_ acc: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>), _ i: Int) -> SIMD8<Float> {
        switch i {
        case 0: return acc.0
        case 1: return acc.1
        case 2: return acc.2
        default: return acc.3
        }
    }

    @inline(__always)
    static func setAccumulator(_ acc: inout (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>), _ i: Int, _ value: SIMD8<Float>) {
        switch i {
        case 0: acc.0 = value
        case 1: acc.1 = value
        case 2: acc.2 = value
        default: acc.3 = value
        }
    }
}
