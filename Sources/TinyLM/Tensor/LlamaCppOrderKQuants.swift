// Q4_K and Q6_K dot kernels (against Q8_K activations) that add in the order llama.cpp's x86
// CPU backend does, so Gemma 3's Q4_K_M file (Q4_K and Q6_K next to Q8_0 and Q5_0) follows the
// reference vectors bit for bit, like the formats of LlamaCppOrderKernels.swift.
//
// Which kernel llama.cpp runs (read from the source of commit 0c1e57098bba, x86 build with
// AVX2 and AVX-512, CPU backend, default "extra buffer types" on):
// - At load time some weights are "repacked" into an interleaved layout that has its own
//   kernels. On x86 this happens for Q4_0, IQ4_NL and MXFP4 (AVX2), Q2_K (AVX-512) and Q4_K
//   (AVX2) — each only when the row count is a multiple of 8. Q5_K, Q6_K, Q8_0, Q5_0 and Q4_1
//   are repacked only on ARM/RISC-V, so on x86 they keep the ordinary path.
// - Repacked Q4_K, n tokens at once: the first n − n mod 4 tokens go through a 4-token GEMM
//   kernel, the last n mod 4 (so a single decode token too) through a GEMV kernel. The two add
//   the same integers in a different float order (below). The AVX-512 and AVX2 variants of the
//   GEMM (chosen by how many columns a thread's chunk has) share that order.
// - Weights that are not repacked: a K-quant (Q2_K…Q6_K, and the IQ formats) multiplied by a
//   batch of 8 or more tokens goes to the "tiled" matmul (on by default on x86); Q8_0, Q5_0 and
//   Q4_0 batches of 2 or more go to tinyBLAS (llamafile sgemm; same order as vec_dot, see
//   LlamaCppOrderKernels.swift); everything else, single tokens included, to the per-row
//   vec_dot kernel. So Q6_K is tiled for a prompt of 8+ tokens and vec_dot otherwise, and a
//   Q4_K whose row count is not a multiple of 8 likewise.
// - The activations become Q8_K with the same values on every path: the 4-token quantizer of
//   the GEMM only changes the layout (where +max and −max tie it may negate a whole block, d
//   included, which leaves every product — and so every result — the same bits).
// - The tied output matrix (token_embd, Q8_0) multiplies one row: llama.cpp computes logits only
//   for the last token. And in the last layer it drops every other row right after attention,
//   so that layer's feed-forward runs on one token, through GEMV/vec_dot (Gemma3Model).
//
// The orders. The integer sums are exact everywhere, so only the float steps matter. d_w, dmin_w
// are a block's f16 scales, d_a the Q8_K scale, sc_j/m_j the 6-bit scale and min of sub-block j
// (32 values), S_j the sum of its 32 activations; every d·d product is rounded to Float, every
// update is one fused multiply-add, and Int32 → Float rounds to nearest (it can exceed 2^24).
//   Q4_K GEMV: per super-block, isum = Σ_j sc_j·Σ q·a and msum = Σ_j m_j·S_j;
//     acc += Float(isum)·(d_w·d_a), accMin += Float(msum)·(dmin_w·d_a); result acc − accMin.
//   Q4_K GEMM: the same with isum and msum taken per pair of sub-blocks (64 values): four
//     updates of each accumulator per super-block.
//   Q4_K vec_dot (not repacked: rows not a multiple of 8): eight lanes, lane l holding the
//     products of values 4l…4l+3 of every sub-block times sc_j; acc[l] += Float(lane)·(d_a·d_w)
//     per super-block. The mins go to four lanes, lane i = m_2i·S_2i + m_2i+1·S_2i+1, with
//     accMin[i] += Float(lane)·(−d_a·dmin_w). Result: the eight lanes summed as hsum_float_8,
//     plus (accMin0 + accMin2) + (accMin1 + accMin3).
//   Tiled (the AVX-512 VNNI micro-kernel of the reference's build): per super-block the whole
//     block's isum (Q6_K: Σ scale·(q − 32)·a) and, for Q4_K, msum; block = Float(isum)·d_w,
//     Q4_K: block −= dmin_w·Float(msum) fused; acc += block·d_a. The source writes that last
//     step as a multiply and an add, but the compiler fuses them (seen in the binary, and the
//     reference's logits need it).
//   Q6_K vec_dot: eight lanes; lane l = Σ over the eight 32-value groups g of
//     scale[2g + l/4]·Σ_{k<4} q[32g + 4(l mod 4) + 16(l/4) + k]·a[…] with the stored q (0…63),
//     minus 32·(scale[2l]·T_2l + scale[2l+1]·T_2l+1), T being the sums of 16 activations (the
//     −32 offset is applied through them, so it lands in other lanes than the products);
//     acc[l] += Float(lane)·(d_a·d_w) per super-block; result hsum_float_8(acc).

#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension LlamaCppOrderKernels {
    /// Which of llama.cpp's K-quant kernels a token goes through (see the file comment).
    enum KQuantPath { case gemv, gemm, tiled, vecDot }

    /// The kernel for token `t` of a multiply of `total` tokens by `weight` (Q4_K or Q6_K).
    @inline(__always)
    static func kQuantPath(_ weight: WeightMatrix, token t: Int, of total: Int) -> KQuantPath {
        if weight.type == .q4_K && weight.rows % 8 == 0 { return t < total - total % 4 ? .gemm : .gemv }
        return total >= 8 ? .tiled : .vecDot
    }

    /// Up to four Q4_K rows against one token.
    @inline(__always)
    static func dotQ4_K(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ count: Int, _ blocks: Int,
                        _ act: Q8Activations, _ path: KQuantPath, _ out: UnsafeMutablePointer<Float>) {
        if path == .vecDot {
            for i in 0..<count { out[i] = dotQ4_KVecDot(rows + i * rowBytes, blocks, act) }
            return
        }
        // The four rows advance together (their integer sums transpose into one vector, so the
        // float steps are vector ops); missing rows repeat the first and are dropped.
        let p1 = count > 1 ? rows + rowBytes : rows
        let p2 = count > 2 ? rows + 2 * rowBytes : rows
        let p3 = count > 3 ? rows + 3 * rowBytes : rows
        var acc = SIMD4<Float>(), accMin = SIMD4<Float>()
        for b in 0..<blocks {
            let offset = b * Q4_K.blockBytes
            let w0 = rows + offset, w1 = p1 + offset, w2 = p2 + offset, w3 = p3 + offset
            let h0 = Q4_K.header(w0), h1 = Q4_K.header(w1), h2 = Q4_K.header(w2), h3 = Q4_K.header(w3)
            let a = act.q + b * 256
            let sums = act.bsums + b * 16
            let da = act.d[b]
            let d = SIMD4(h0.d, h1.d, h2.d, h3.d), dmin = SIMD4(h0.dmin, h1.dmin, h2.dmin, h3.dmin)
            let scale = d * da, minScale = dmin * da
            var isum = SIMD4<Int32>(), msum = SIMD4<Int32>()
            for pair in 0..<4 {
                let j = 2 * pair
                let s = transposedSum(pairDot(w0, h0, j, a), pairDot(w1, h1, j, a), pairDot(w2, h2, j, a), pairDot(w3, h3, j, a))
                let m = SIMD4(byteOf(h0.mins, j), byteOf(h1.mins, j), byteOf(h2.mins, j), byteOf(h3.mins, j))
                    &* (sums[2 * j] &+ sums[2 * j + 1])
                    &+ SIMD4(byteOf(h0.mins, j + 1), byteOf(h1.mins, j + 1), byteOf(h2.mins, j + 1), byteOf(h3.mins, j + 1))
                    &* (sums[2 * j + 2] &+ sums[2 * j + 3])
                if path == .gemm {
                    acc = fusedMultiplyAdd(roundedFloats(s), scale, acc)
                    accMin = fusedMultiplyAdd(roundedFloats(m), minScale, accMin)
                } else {
                    isum &+= s
                    msum &+= m
                }
            }
            if path == .gemv {
                acc = fusedMultiplyAdd(roundedFloats(isum), scale, acc)
                accMin = fusedMultiplyAdd(roundedFloats(msum), minScale, accMin)
            } else if path == .tiled {
                let block = fusedMultiplyAdd(-dmin, roundedFloats(msum), roundedFloats(isum) * d)
                acc = fusedMultiplyAdd(block, SIMD4(repeating: da), acc)
            }
        }
        let result = acc - accMin
        for i in 0..<count { out[i] = result[i] }
    }

    /// sc_j·Σ q·a + sc_j+1·Σ q·a over sub-blocks j and j + 1, as four Int32 partial sums.
    @inline(__always)
    static func pairDot(_ w: UnsafeRawPointer, _ h: Q4_K.Header, _ j: Int, _ a: UnsafePointer<Int16>) -> SIMD4<Int32> {
        Q4_K.subDot(Q4_K.sub(w, h, j), h, j, a + j * 32) &+ Q4_K.subDot(Q4_K.sub(w, h, j + 1), h, j + 1, a + j * 32 + 32)
    }

    /// One Q4_K row in the order of llama.cpp's (not repacked) vec_dot_q4_K_q8_K.
    static func dotQ4_KVecDot(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
        var acc = SIMD8<Float>()
        var accMin = SIMD4<Float>()
        for b in 0..<blocks {
            let w = row + b * Q4_K.blockBytes
            let h = Q4_K.header(w)
            let a = act.q + b * 256
            let sums = act.bsums + b * 16
            let da = act.d[b]
            var minLanes = SIMD4<Int32>()
            for i in 0..<4 {
                minLanes[i] = byteOf(h.mins, 2 * i) &* (sums[4 * i] &+ sums[4 * i + 1])
                    &+ byteOf(h.mins, 2 * i + 1) &* (sums[4 * i + 2] &+ sums[4 * i + 3])
            }
            accMin = fusedMultiplyAdd(roundedFloats(minLanes), SIMD4(repeating: -da * h.dmin), accMin)
            // Lanes 0-3: values 0..<16 of each sub-block, four per lane; lanes 4-7: values 16..<32.
            var low = SIMD4<Int32>(), high = SIMD4<Int32>()
            for j in 0..<8 {
                let s = Q4_K.sub(w, h, j)
                let scale = byteOf(h.scales, j)
                low &+= widenPairs(chunkProducts(s.e0, s.o0, a + j * 32, 0)) &* scale
                high &+= widenPairs(chunkProducts(s.e1, s.o1, a + j * 32, 16)) &* scale
            }
            let d = SIMD4(repeating: da * h.d)
            acc = SIMD8(lowHalf: fusedMultiplyAdd(roundedFloats(low), d, acc.lowHalf),
                        highHalf: fusedMultiplyAdd(roundedFloats(high), d, acc.highHalf))
        }
        return horizontalSum(acc) + ((accMin[0] + accMin[2]) + (accMin[1] + accMin[3]))
    }

    /// Up to four Q6_K rows against one token (vec_dot).
    @inline(__always)
    static func dotQ6_K(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ count: Int, _ blocks: Int,
                        _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        for i in 0..<count { out[i] = dotQ6_KRow(rows + i * rowBytes, blocks, act) }
    }

    /// Q6_K rows `rows` times `batch` tokens in the tiled order: one exact integer sum per
    /// super-block and token. Row by row, four tokens at a time, so each weight sub-block is
    /// unpacked once for four tokens (missing tokens repeat the first and are dropped).
    static func multiplyQ6_KTiled(_ weight: WeightMatrix, rows: Range<Int>, batch: Int, scratch: MatmulScratch,
                                  output: UnsafeMutablePointer<Float>, outputStride: Int) {
        let blocks = weight.columns / 256
        for r in rows {
            let row = weight.data + r * weight.rowBytes
            var t = 0
            while t < batch {
                let count = Swift.min(4, batch - t)
                let a0 = scratch.activations(t)
                let a1 = scratch.activations(count > 1 ? t + 1 : t)
                let a2 = scratch.activations(count > 2 ? t + 2 : t)
                let a3 = scratch.activations(count > 3 ? t + 3 : t)
                var acc = SIMD4<Float>()
                for b in 0..<blocks {
                    let w = row + b * Q6_K.blockBytes
                    let h = Q6_K.header(w)
                    let o = b * 256
                    var i0 = SIMD4<Int32>(), i1 = SIMD4<Int32>(), i2 = SIMD4<Int32>(), i3 = SIMD4<Int32>()
                    for j in 0..<8 {
                        let u = Q6_K.sub(w, h, j)
                        i0 &+= Q6_K.subDot(u, h, j, a0.q + o + j * 32)
                        i1 &+= Q6_K.subDot(u, h, j, a1.q + o + j * 32)
                        i2 &+= Q6_K.subDot(u, h, j, a2.q + o + j * 32)
                        i3 &+= Q6_K.subDot(u, h, j, a3.q + o + j * 32)
                    }
                    let da = SIMD4(a0.d[b], a1.d[b], a2.d[b], a3.d[b])
                    acc = fusedMultiplyAdd(roundedFloats(transposedSum(i0, i1, i2, i3)) * h.d, da, acc)
                }
                for k in 0..<count { output[(t + k) * outputStride + r] = acc[k] }
                t += count
            }
        }
    }

    /// One Q6_K row in the order of llama.cpp's vec_dot_q6_K_q8_K.
    static func dotQ6_KRow(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
        var acc = SIMD8<Float>()
        for b in 0..<blocks {
            let w = row + b * Q6_K.blockBytes
            let a = act.q + b * 256
            let scalesLow = w.loadUnaligned(fromByteOffset: 192, as: UInt64.self)
            let scalesHigh = w.loadUnaligned(fromByteOffset: 200, as: UInt64.self)
            // Lanes 0-3 hold values 0..<16 of each group (scale 2g), lanes 4-7 values 16..<32 (2g + 1).
            var low = SIMD4<Int32>(), high = SIMD4<Int32>()
            for g in 0..<8 {
                let s = Q6_K.unsignedSub(w, g)
                let word = g < 4 ? scalesLow : scalesHigh
                low &+= widenPairs(chunkProducts(s.e0, s.o0, a + g * 32, 0)) &* signedByteOf(word, (g & 3) * 2)
                high &+= widenPairs(chunkProducts(s.e1, s.o1, a + g * 32, 16)) &* signedByteOf(word, (g & 3) * 2 + 1)
            }
            // The −32 offset: lane l takes 32·(scale[2l]·T_2l + scale[2l+1]·T_2l+1).
            let sums = act.bsums + b * 16
            var offset = SIMD8<Int32>()
            for l in 0..<8 {
                let word = l < 4 ? scalesLow : scalesHigh
                offset[l] = (signedByteOf(word, (l & 3) * 2) &* sums[2 * l]
                    &+ signedByteOf(word, (l & 3) * 2 + 1) &* sums[2 * l + 1]) &<< 5
            }
            let lanes = SIMD8(lowHalf: low, highHalf: high) &- offset
            let d = SIMD4(repeating: act.d[b] * FP16.toFloat(w.loadUnaligned(fromByteOffset: 208, as: UInt16.self)))
            acc = SIMD8(lowHalf: fusedMultiplyAdd(roundedFloats(lanes.lowHalf), d, acc.lowHalf),
                        highHalf: fusedMultiplyAdd(roundedFloats(lanes.highHalf), d, acc.highHalf))
        }
        return horizontalSum(acc)
    }

    /// Int32 → Float rounded to nearest even, as cvtdq2ps (these sums can pass 2^24): both
    /// halves of v = hi·4096 + lo convert exactly, and the one addition rounds their exact sum.
    @inline(__always)
    static func roundedFloats(_ v: SIMD4<Int32>) -> SIMD4<Float> {
        floatValues(v &>> 12) * 4096 + floatValues(v & 4095)
    }

    /// acc + a·b with one rounding to Float, per lane. (Also for the eight-lane accumulators,
    /// half by half: these kernels do few of them, and the emulation below is exact.)
    @inline(__always)
    static func fusedMultiplyAdd(_ a: SIMD4<Float>, _ b: SIMD4<Float>, _ acc: SIMD4<Float>) -> SIMD4<Float> {
        #if TINYLM_HARDWARE_FMA
        return acc.addingProduct(a, b)
        #else
        #if TINYLM_RELAXED_SIMD
        if WasmFusedMultiplyAdd.relaxedIsFused { return tinylm_relaxed_madd(a, b, acc) }
        #endif
        return SIMD4(lowHalf: fusedInDouble(a.lowHalf, b.lowHalf, acc.lowHalf),
                     highHalf: fusedInDouble(a.highHalf, b.highHalf, acc.highHalf))
        #endif
    }

    /// fma without an FMA instruction: a·b is exact in Double (two 24-bit significands); the sum
    /// is rounded to odd in Double (round to nearest, then, if that was inexact and the last bit
    /// is 0, one ulp towards the exact value), which makes the final rounding to Float correct —
    /// plain Double rounding twice could land on a Float tie the exact sum is not on.
    @inline(__always)
    static func fusedInDouble(_ a: SIMD2<Float>, _ b: SIMD2<Float>, _ c: SIMD2<Float>) -> SIMD2<Float> {
        let p = widen(a) * widen(b), z = widen(c)
        let s = p + z
        let t = s - z
        let error = (p - t) + (z - (s - t))  // s + error == p + z exactly
        let bits = unsafeBitCast(s, to: SIMD2<UInt64>.self)
        let errorBits = unsafeBitCast(error, to: SIMD2<UInt64>.self)
        let towardsLarger = ((bits ^ errorBits) &>> 63) .== 0   // error has s's sign: away from 0
        var step = SIMD2<UInt64>(repeating: 0)
        step.replace(with: 1, where: towardsLarger)
        step.replace(with: ~0, where: .!towardsLarger)        // −1
        step.replace(with: 0, where: (error .== 0) .| ((bits & 1) .!= 0))
        return narrow(unsafeBitCast(bits &+ step, to: SIMD2<Double>.self))
    }
}
