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
//   so that layer's feed-forward runs on one token, through GEMV/vec_dot (Decoder.forward).
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

#if TINYLM_X86_AVX2
extension LlamaCppOrderKernels.AVX2 {
    // The K-quants with AVX2's byte multiply-adds. Per 32 values: vpmaddubsw (unsigned 4- or
    // 6-bit quants times the signed activations, pairs summed in Int16: at most 2·63·127) and
    // vpmaddwd by a vector of the per-16 or per-32 scales gives eight exact Int32 lanes. The
    // integer sums the orders need (per pair of sub-blocks, per super-block, or the Q6_K vec_dot
    // lanes) are sums of those lanes, and the float steps are the portable kernels' own
    // (Int32 → Float is vcvtdq2ps, which rounds to nearest like `roundedFloats`).

    /// Four Q4_K rows against one token in the GEMV order.
    @inline(__always)
    static func dotQ4_KGemv(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, _ act: Q8Activations,
                            _ q8: UnsafePointer<Int8>, _ out: UnsafeMutablePointer<Float>) {
        var acc = SIMD4<Float>(), accMin = SIMD4<Float>()
        for b in 0..<blocks {
            let w = rows + b * Q4_K.blockBytes
            prefetchNextRowsWide(rows, rowBytes, b, Q4_K.blockBytes)
            let a = UnsafeRawPointer(q8 + b * 256)
            let s0 = q4_KScales(w), s1 = q4_KScales(w + rowBytes), s2 = q4_KScales(w + 2 * rowBytes), s3 = q4_KScales(w + 3 * rowBytes)
            var l0 = SIMD8<Int32>(), l1 = SIMD8<Int32>(), l2 = SIMD8<Int32>(), l3 = SIMD8<Int32>()
            for pair in 0..<4 {
                let y0 = a.loadUnaligned(fromByteOffset: 64 * pair, as: SIMD32<Int8>.self)
                let y1 = a.loadUnaligned(fromByteOffset: 64 * pair + 32, as: SIMD32<Int8>.self)
                l0 &+= q4_KPairLanes(w, pair, s0.scales, y0, y1)
                l1 &+= q4_KPairLanes(w + rowBytes, pair, s1.scales, y0, y1)
                l2 &+= q4_KPairLanes(w + 2 * rowBytes, pair, s2.scales, y0, y1)
                l3 &+= q4_KPairLanes(w + 3 * rowBytes, pair, s3.scales, y0, y1)
            }
            let pairSums = tinylm_madd_i16(narrowSums(act, b), SIMD16(repeating: 1))
            let isum = rowSums(l0, l1, l2, l3)
            let msum = rowSums(s0.mins &* pairSums, s1.mins &* pairSums, s2.mins &* pairSums, s3.mins &* pairSums)
            let words = LlamaCppOrderKernels.headerWords4(w, rowBytes)
            let da = act.d[b]
            acc = LlamaCppOrderKernels.fusedMultiplyAdd(tinylm_float4_i32(isum), FP16.toFloat4(words & 0xFFFF) * da, acc)
            accMin = LlamaCppOrderKernels.fusedMultiplyAdd(tinylm_float4_i32(msum), FP16.toFloat4(words &>> 16) * da, accMin)
        }
        let result = acc - accMin
        for i in 0..<4 { out[i] = result[i] }
    }

    /// Four Q6_K rows against one token in the vec_dot order: the eight lanes of vpmaddwd are
    /// exactly vec_dot's lanes (values 4l…4l+3 of each 16 go to lane l mod 4 of that half).
    @inline(__always)
    static func dotQ6_KVecDot(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, _ act: Q8Activations,
                              _ q8: UnsafePointer<Int8>, _ out: UnsafeMutablePointer<Float>) {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        for b in 0..<blocks {
            let w = rows + b * Q6_K.blockBytes
            prefetchNextRowsWide(rows, rowBytes, b, Q6_K.blockBytes)
            let a = UnsafeRawPointer(q8 + b * 256)
            let bsums = narrowSums(act, b)
            var l0 = SIMD8<Int32>() &- q6_KOffsetLanes(w, bsums)
            var l1 = SIMD8<Int32>() &- q6_KOffsetLanes(w + rowBytes, bsums)
            var l2 = SIMD8<Int32>() &- q6_KOffsetLanes(w + 2 * rowBytes, bsums)
            var l3 = SIMD8<Int32>() &- q6_KOffsetLanes(w + 3 * rowBytes, bsums)
            for half in 0..<2 {
                let y0 = a.loadUnaligned(fromByteOffset: 128 * half, as: SIMD32<Int8>.self)
                let y1 = a.loadUnaligned(fromByteOffset: 128 * half + 32, as: SIMD32<Int8>.self)
                let y2 = a.loadUnaligned(fromByteOffset: 128 * half + 64, as: SIMD32<Int8>.self)
                let y3 = a.loadUnaligned(fromByteOffset: 128 * half + 96, as: SIMD32<Int8>.self)
                l0 &+= q6_KHalfLanes(w, half, y0, y1, y2, y3)
                l1 &+= q6_KHalfLanes(w + rowBytes, half, y0, y1, y2, y3)
                l2 &+= q6_KHalfLanes(w + 2 * rowBytes, half, y0, y1, y2, y3)
                l3 &+= q6_KHalfLanes(w + 3 * rowBytes, half, y0, y1, y2, y3)
            }
            let d = FP16.toFloat4(LlamaCppOrderKernels.headerHalves4(w + 208, rowBytes)) * act.d[b]
            acc0 = acc0.addingProduct(tinylm_float_i32(l0), SIMD8(repeating: d[0]))
            acc1 = acc1.addingProduct(tinylm_float_i32(l1), SIMD8(repeating: d[1]))
            acc2 = acc2.addingProduct(tinylm_float_i32(l2), SIMD8(repeating: d[2]))
            acc3 = acc3.addingProduct(tinylm_float_i32(l3), SIMD8(repeating: d[3]))
        }
        out[0] = LlamaCppOrderKernels.horizontalSum(acc0)
        out[1] = LlamaCppOrderKernels.horizontalSum(acc1)
        out[2] = LlamaCppOrderKernels.horizontalSum(acc2)
        out[3] = LlamaCppOrderKernels.horizontalSum(acc3)
    }

    /// Whether a batch of `weight` (Q4_K or Q6_K) goes through `multiplyKQuantBatch`: every
    /// path but vec_dot, which is per token anyway.
    @inline(__always)
    static func kQuantBatchHandles(_ weight: WeightMatrix, _ tokens: LlamaCppOrderKernels.Tokens) -> Bool {
        (weight.type == .q4_K || weight.type == .q6_K)
            && LlamaCppOrderKernels.kQuantPath(weight, token: tokens.first, of: tokens.total) != .vecDot
    }

    /// A prompt through Q4_K (GEMM, GEMV or tiled order) or Q6_K (tiled): each group of four
    /// rows is unpacked once into bytes ready for vpmaddubsw (one vector per 32 values) and the
    /// matching scale vectors for vpmaddwd, then every token runs over the unpacked copy, which
    /// stays in L1.
    static func multiplyKQuantBatch(_ weight: WeightMatrix, rows: Range<Int>, batch: Int, tokens: LlamaCppOrderKernels.Tokens,
                                    scratch: MatmulScratch, output: UnsafeMutablePointer<Float>, outputStride: Int) {
        let blocks = weight.columns / 256
        let rowBytes = weight.rowBytes
        let isQ4_K = weight.type == .q4_K
        let blockBytes = isQ4_K ? Q4_K.blockBytes : Q6_K.blockBytes
        withUnsafeTemporaryAllocation(of: SIMD32<UInt8>.self, capacity: 32 * blocks) { quants in
        withUnsafeTemporaryAllocation(of: SIMD16<Int16>.self, capacity: 32 * blocks) { scales in
        // Q4_K: the four rows' mins, per block and sub-block (SIMD4, one lane per row).
        // Q6_K: each row's sixteen scales widened, per block (SIMD16), for the −32 offset.
        withUnsafeTemporaryAllocation(of: SIMD4<Int32>.self, capacity: 8 * blocks) { extra in
        withUnsafeTemporaryAllocation(of: SIMD4<Float>.self, capacity: 2 * blocks) { d in
            let extraBytes = UnsafeMutableRawPointer(extra.baseAddress!)
            var r = rows.lowerBound
            while r + 4 <= rows.upperBound {
                let group = weight.data + r * rowBytes
                for i in 0..<4 {
                    for b in 0..<blocks {
                        let w = group + i * rowBytes + b * blockBytes
                        let v = (i * blocks + b) * 8
                        if isQ4_K {
                            let s = q4_KScales(w)
                            for pair in 0..<4 {
                                let x = w.loadUnaligned(fromByteOffset: 16 + 32 * pair, as: SIMD4<UInt64>.self)
                                quants[v + 2 * pair] = bytes(x & repeatedByte(0x0F))
                                quants[v + 2 * pair + 1] = bytes((x &>> 4) & repeatedByte(0x0F))
                                scales[v + 2 * pair] = broadcastLanes(s.scales, 2 * pair, 2 * pair)
                                scales[v + 2 * pair + 1] = broadcastLanes(s.scales, 2 * pair + 1, 2 * pair + 1)
                            }
                            for j in 0..<8 {
                                extraBytes.storeBytes(of: s.mins[j], toByteOffset: 4 * (4 * (8 * b + j) + i), as: Int32.self)
                            }
                        } else {
                            for half in 0..<2 {
                                let sv = q6_KHalfScales(w, half)
                                let q = q6_KQuants(w, half)
                                quants[v + 4 * half] = q.0
                                quants[v + 4 * half + 1] = q.1
                                quants[v + 4 * half + 2] = q.2
                                quants[v + 4 * half + 3] = q.3
                                for k in 0..<4 { scales[v + 4 * half + k] = broadcastLanes(sv, 2 * k, 2 * k + 1) }
                            }
                            extraBytes.storeBytes(of: q6_KWideScales(w), toByteOffset: 32 * (i * blocks + b), as: SIMD16<Int16>.self)
                        }
                    }
                }
                for b in 0..<blocks {
                    let w = group + b * blockBytes
                    if isQ4_K {
                        let words = LlamaCppOrderKernels.headerWords4(w, rowBytes)
                        d[2 * b] = FP16.toFloat4(words & 0xFFFF)
                        d[2 * b + 1] = FP16.toFloat4(words &>> 16)
                    } else {
                        d[2 * b] = FP16.toFloat4(LlamaCppOrderKernels.headerHalves4(w + 208, rowBytes))
                    }
                }
                let v0 = 0, v1 = 8 * blocks, v2 = 16 * blocks, v3 = 24 * blocks
                @inline(__always) func lanes(_ v: Int, _ y: SIMD32<Int8>) -> SIMD8<Int32> {
                    tinylm_madd_i16(tinylm_maddubs_u8i8(quants[v], y), scales[v])
                }
                for t in 0..<batch {
                    let path = isQ4_K ? LlamaCppOrderKernels.kQuantPath(weight, token: tokens.first + t, of: tokens.total) : .tiled
                    let act = scratch.activations(t)
                    let q8 = UnsafeRawPointer(scratch.q8 + t * scratch.columnStride)
                    var acc = SIMD4<Float>(), accMin = SIMD4<Float>()
                    for b in 0..<blocks {
                        let a = q8 + 256 * b
                        let bsums = narrowSums(act, b)
                        let da = act.d[b]
                        let o = 8 * b
                        /// The four rows' Int32 sums over the super-block's eight 32-byte groups,
                        /// the lanes starting from `start` (Q6_K's −32 offset).
                        @inline(__always) func superBlockSums(from start: (SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>))
                            -> SIMD4<Int32> {
                            var (l0, l1, l2, l3) = start
                            for j in 0..<8 {
                                let y = a.loadUnaligned(fromByteOffset: 32 * j, as: SIMD32<Int8>.self)
                                l0 &+= lanes(v0 + o + j, y)
                                l1 &+= lanes(v1 + o + j, y)
                                l2 &+= lanes(v2 + o + j, y)
                                l3 &+= lanes(v3 + o + j, y)
                            }
                            return rowSums(l0, l1, l2, l3)
                        }
                        if isQ4_K {
                            let pairSums = tinylm_madd_i16(bsums, SIMD16(repeating: 1))
                            let mins = UnsafeRawPointer(extraBytes + 128 * b)
                            @inline(__always) func minPair(_ pair: Int) -> SIMD4<Int32> {
                                mins.loadUnaligned(fromByteOffset: 32 * pair, as: SIMD4<Int32>.self) &* pairSums[2 * pair]
                                    &+ mins.loadUnaligned(fromByteOffset: 32 * pair + 16, as: SIMD4<Int32>.self) &* pairSums[2 * pair + 1]
                            }
                            let scale = d[2 * b] * da, minScale = d[2 * b + 1] * da
                            if path == .gemm {
                                for pair in 0..<4 {
                                    let y0 = a.loadUnaligned(fromByteOffset: 64 * pair, as: SIMD32<Int8>.self)
                                    let y1 = a.loadUnaligned(fromByteOffset: 64 * pair + 32, as: SIMD32<Int8>.self)
                                    let j = o + 2 * pair
                                    let s = rowSums(lanes(v0 + j, y0) &+ lanes(v0 + j + 1, y1), lanes(v1 + j, y0) &+ lanes(v1 + j + 1, y1),
                                                    lanes(v2 + j, y0) &+ lanes(v2 + j + 1, y1), lanes(v3 + j, y0) &+ lanes(v3 + j + 1, y1))
                                    acc = LlamaCppOrderKernels.fusedMultiplyAdd(tinylm_float4_i32(s), scale, acc)
                                    accMin = LlamaCppOrderKernels.fusedMultiplyAdd(tinylm_float4_i32(minPair(pair)), minScale, accMin)
                                }
                            } else {
                                let isum = superBlockSums(from: (SIMD8(), SIMD8(), SIMD8(), SIMD8()))
                                let msum = minPair(0) &+ minPair(1) &+ minPair(2) &+ minPair(3)
                                if path == .gemv {
                                    acc = LlamaCppOrderKernels.fusedMultiplyAdd(tinylm_float4_i32(isum), scale, acc)
                                    accMin = LlamaCppOrderKernels.fusedMultiplyAdd(tinylm_float4_i32(msum), minScale, accMin)
                                } else {
                                    let block = LlamaCppOrderKernels.fusedMultiplyAdd(-d[2 * b + 1], tinylm_float4_i32(msum),
                                                                                       tinylm_float4_i32(isum) * d[2 * b])
                                    acc = LlamaCppOrderKernels.fusedMultiplyAdd(block, SIMD4(repeating: da), acc)
                                }
                            }
                        } else {
                            @inline(__always) func offset(_ i: Int) -> SIMD8<Int32> {
                                let scales = UnsafeRawPointer(extraBytes).loadUnaligned(fromByteOffset: 32 * (i * blocks + b), as: SIMD16<Int16>.self)
                                return tinylm_madd_i16(scales, bsums) &<< 5
                            }
                            let zero = SIMD8<Int32>()
                            let isum = superBlockSums(from: (zero &- offset(0), zero &- offset(1), zero &- offset(2), zero &- offset(3)))
                            acc = LlamaCppOrderKernels.fusedMultiplyAdd(tinylm_float4_i32(isum) * d[2 * b],
                                                                        SIMD4(repeating: da), acc)
                        }
                    }
                    let result = acc - accMin
                    let out = output + t * outputStride + r
                    for i in 0..<4 { out[i] = result[i] }
                }
                r += 4
            }
            // Leftover rows (fewer than four) take the portable kernels.
            if r < rows.upperBound {
                if isQ4_K {
                    for t in 0..<batch {
                        LlamaCppOrderKernels.dotQ4_K(weight.data + r * rowBytes, rowBytes, rows.upperBound - r, blocks, scratch.activations(t),
                                                     LlamaCppOrderKernels.kQuantPath(weight, token: tokens.first + t, of: tokens.total),
                                                     output + t * outputStride + r)
                    }
                } else {
                    LlamaCppOrderKernels.multiplyQ6_KTiled(weight, rows: r..<rows.upperBound, batch: batch, scratch: scratch,
                                                           output: output, outputStride: outputStride)
                }
            }
        }
        }
        }
        }
    }

    /// The Int32 lanes of four rows summed, one lane per row (exact, any order).
    @inline(__always)
    static func rowSums(_ a: SIMD8<Int32>, _ b: SIMD8<Int32>, _ c: SIMD8<Int32>, _ d: SIMD8<Int32>) -> SIMD4<Int32> {
        // Two rounds of vphaddd leave [Σa, Σb, Σc, Σd] of the low lanes in the low half and of
        // the high lanes in the high half.
        let sums = tinylm_hadd_i32(tinylm_hadd_i32(a, b), tinylm_hadd_i32(c, d))
        return sums.lowHalf &+ sums.highHalf
    }

    /// Int16 lane `low` of `v` in all of the low 128 bits and lane `high` (of the same eight
    /// in the high 128 bits) in all of the high ones: vpshufb stays within each half.
    @inline(__always)
    static func broadcastLanes(_ v: SIMD16<Int16>, _ low: Int, _ high: Int) -> SIMD16<Int16> {
        let l = UInt16(2 * low) | UInt16(2 * low + 1) << 8, h = UInt16(2 * high) | UInt16(2 * high + 1) << 8
        let index = SIMD16<UInt16>(lowHalf: SIMD8(repeating: l), highHalf: SIMD8(repeating: h))
        return unsafeBitCast(tinylm_shuffle_u8(unsafeBitCast(v, to: SIMD32<UInt8>.self), unsafeBitCast(index, to: SIMD32<UInt8>.self)),
                             to: SIMD16<Int16>.self)
    }

    /// A Q4_K block's eight scales as Int16 (in both 128-bit halves) and eight mins as Int32.
    @inline(__always)
    static func q4_KScales(_ block: UnsafeRawPointer) -> (scales: SIMD16<Int16>, mins: SIMD8<Int32>) {
        let sm = unpackScaleMin(block + 4)
        return (tinylm_widen_u8_i16(unsafeBitCast(SIMD2<UInt64>(repeating: sm.scales), to: SIMD16<UInt8>.self)),
                tinylm_widen_u8_i32(unsafeBitCast(SIMD2<UInt64>(sm.mins, 0), to: SIMD16<UInt8>.self)))
    }

    /// Sub-blocks 2·pair (low nibbles) and 2·pair + 1 (high nibbles) of a Q4_K block against
    /// their activations, scaled.
    @inline(__always)
    static func q4_KPairLanes(_ block: UnsafeRawPointer, _ pair: Int, _ scales: SIMD16<Int16>,
                              _ y0: SIMD32<Int8>, _ y1: SIMD32<Int8>) -> SIMD8<Int32> {
        let x = block.loadUnaligned(fromByteOffset: 16 + 32 * pair, as: SIMD4<UInt64>.self)
        return tinylm_madd_i16(tinylm_maddubs_u8i8(bytes(x & repeatedByte(0x0F)), y0), broadcastLanes(scales, 2 * pair, 2 * pair))
            &+ tinylm_madd_i16(tinylm_maddubs_u8i8(bytes((x &>> 4) & repeatedByte(0x0F)), y1), broadcastLanes(scales, 2 * pair + 1, 2 * pair + 1))
    }

    /// The stored 6-bit quants (0…63) of half `half` of a Q6_K block: four vectors of 32
    /// values in element order (values 128·half + 32k …).
    @inline(__always)
    static func q6_KQuants(_ block: UnsafeRawPointer, _ half: Int) -> (SIMD32<UInt8>, SIMD32<UInt8>, SIMD32<UInt8>, SIMD32<UInt8>) {
        let low0 = block.loadUnaligned(fromByteOffset: 64 * half, as: SIMD4<UInt64>.self)
        let low1 = block.loadUnaligned(fromByteOffset: 64 * half + 32, as: SIMD4<UInt64>.self)
        let high = block.loadUnaligned(fromByteOffset: 128 + 32 * half, as: SIMD4<UInt64>.self)
        let nibble = repeatedByte(0x0F)
        return (bytes((low0 & nibble) | ((high & repeatedByte(0x03)) &<< 4)), bytes((low1 & nibble) | ((high & repeatedByte(0x0C)) &<< 2)),
                bytes(((low0 &>> 4) & nibble) | (high & repeatedByte(0x30))), bytes(((low1 &>> 4) & nibble) | ((high & repeatedByte(0xC0)) &>> 2)))
    }

    /// The eight int8 scales of half `half` of a Q6_K block as Int16, in both 128-bit halves.
    @inline(__always)
    static func q6_KHalfScales(_ block: UnsafeRawPointer, _ half: Int) -> SIMD16<Int16> {
        tinylm_widen_i8_i16(unsafeBitCast(SIMD2<UInt64>(repeating: block.loadUnaligned(fromByteOffset: 192 + 8 * half, as: UInt64.self)),
                                          to: SIMD16<Int8>.self))
    }

    /// A Q6_K block's sixteen scales as Int16.
    @inline(__always)
    static func q6_KWideScales(_ block: UnsafeRawPointer) -> SIMD16<Int16> {
        tinylm_widen_i8_i16(block.loadUnaligned(fromByteOffset: 192, as: SIMD16<Int8>.self))
    }

    /// Block `block`'s sixteen activation sums as Int16 (each at most 16·127).
    @inline(__always)
    static func narrowSums(_ act: Q8Activations, _ block: Int) -> SIMD16<Int16> {
        let p = UnsafeRawPointer(act.bsums + 16 * block)
        return tinylm_narrow_i32_i16(p.loadUnaligned(as: SIMD8<Int32>.self), p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Int32>.self))
    }

    /// Half `half` of a Q6_K block (stored quants) against its activations, scaled per 16.
    @inline(__always)
    static func q6_KHalfLanes(_ block: UnsafeRawPointer, _ half: Int, _ y0: SIMD32<Int8>, _ y1: SIMD32<Int8>,
                              _ y2: SIMD32<Int8>, _ y3: SIMD32<Int8>) -> SIMD8<Int32> {
        let s = q6_KHalfScales(block, half)
        let q = q6_KQuants(block, half)
        return tinylm_madd_i16(tinylm_maddubs_u8i8(q.0, y0), broadcastLanes(s, 0, 1))
            &+ tinylm_madd_i16(tinylm_maddubs_u8i8(q.1, y1), broadcastLanes(s, 2, 3))
            &+ tinylm_madd_i16(tinylm_maddubs_u8i8(q.2, y2), broadcastLanes(s, 4, 5))
            &+ tinylm_madd_i16(tinylm_maddubs_u8i8(q.3, y3), broadcastLanes(s, 6, 7))
    }

    /// vec_dot's −32 offset per lane: lane l = 32·(scale[2l]·T_2l + scale[2l+1]·T_2l+1).
    @inline(__always)
    static func q6_KOffsetLanes(_ block: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32> {
        tinylm_madd_i16(q6_KWideScales(block), bsums) &<< 5
    }

    /// `prefetchNextRows` for blocks of any size: the 4·blockBytes bytes of the next four rows
    /// that match block `block` of these.
    @inline(__always)
    static func prefetchNextRowsWide(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ block: Int, _ blockBytes: Int) {
        let ahead = rows + 4 * rowBytes + block * 4 * blockBytes
        var offset = 0
        while offset < 4 * blockBytes {
            tinylm_prefetch(ahead + offset)
            offset += 64
        }
    }
}
#endif
