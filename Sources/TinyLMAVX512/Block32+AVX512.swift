// The AVX-512/VNNI batch kernel of the 32-value formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): every
// token of a batch against eight rows the core has unpacked with one row per 32-bit lane
// (Sources/TinyLM/Tensor/Kernels/AVX512/AVX512Kernels.swift), in llama.cpp's orders, with the
// same lanes and float steps as the core's AVX2 kernels, so the same bits.
//
// vpdpbusd multiplies unsigned bytes by signed ones, four per Int32 lane. Here the unsigned
// operand is the token's activations plus 128 (MatmulScratch.q8Biased), broadcast four at a
// time to every lane, and the signed one the eight rows' weight values; each vec_dot lane
// starts from −128·(Σ of its four weights), computed once when the rows were unpacked, so
// the sum is exactly Σ weight·activation. With the rows in the lanes, a block of eight rows
// is eight vpdpbusd, and vec_dot's eight float accumulators per row are eight vectors.

#if arch(x86_64)
import TinyLMIntrinsics

public enum AVX512Block32 {
    /// Eight unpacked rows against `tokens` tokens.
    /// - unpacked: per block b at 16b: for vec_dot lane l (values 4l…4l+3), at l the eight
    ///   rows' four weight values (signed bytes), at 8 + l their −128·Σ.
    /// - scales: per block b, the rows' d at 2b and (affine formats) m at 2b + 1.
    /// - Token t's activations: biased quants at q8Biased + t·q8Stride, block scales at
    ///   d + t·blockStride, Q8_1 sums at s + t·blockStride; its eight results at
    ///   out + t·outStride.
    /// - blockwise: Q4_0's repacked order (one sum per block) instead of vec_dot's.
    public static func multiply(unpacked: UnsafePointer<SIMD8<Int32>>, scales: UnsafePointer<SIMD8<Float>>, blocks: Int,
                                affine: Bool, blockwise: Bool, tokens: Int,
                                q8Biased: UnsafePointer<UInt8>, q8Stride: Int, d: UnsafePointer<Float>, s: UnsafePointer<Float>,
                                blockStride: Int, out: UnsafeMutablePointer<Float>, outStride: Int) {
        var t = 0
        if !blockwise {
            // Two tokens per pass: each weight vector is loaded once for both.
            while t + 2 <= tokens {
                let y0 = UnsafeRawPointer(q8Biased + t * q8Stride), y1 = y0 + q8Stride
                let d0 = d + t * blockStride, s0 = s + t * blockStride
                if affine {
                    vecDot2(unpacked, scales, blocks, true, y0, y1, d0, d0 + blockStride, s0, s0 + blockStride, out + t * outStride, outStride)
                } else {
                    vecDot2(unpacked, scales, blocks, false, y0, y1, d0, d0 + blockStride, s0, s0 + blockStride, out + t * outStride, outStride)
                }
                t += 2
            }
        }
        while t < tokens {
            let y = UnsafeRawPointer(q8Biased + t * q8Stride), da = d + t * blockStride, sa = s + t * blockStride
            let results = out + t * outStride
            switch (affine, blockwise) {
            case (true, _): vecDot(unpacked, scales, blocks, true, y, da, sa, results)
            case (false, false): vecDot(unpacked, scales, blocks, false, y, da, sa, results)
            case (false, true): blockSums(unpacked, scales, blocks, y, da, results)
            }
            t += 1
        }
    }

    /// `vecDot` for two tokens at once (the same arithmetic per token).
    @inline(__always)
    static func vecDot2(_ unpacked: UnsafePointer<SIMD8<Int32>>, _ scales: UnsafePointer<SIMD8<Float>>, _ blocks: Int, _ affine: Bool,
                        _ y0: UnsafeRawPointer, _ y1: UnsafeRawPointer, _ d0: UnsafePointer<Float>, _ d1: UnsafePointer<Float>,
                        _ s0: UnsafePointer<Float>, _ s1: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var a4 = SIMD8<Float>(), a5 = SIMD8<Float>(), a6 = SIMD8<Float>(), a7 = SIMD8<Float>()
        var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>()
        var b4 = SIMD8<Float>(), b5 = SIMD8<Float>(), b6 = SIMD8<Float>(), b7 = SIMD8<Float>()
        var minSums0 = SIMD8<Float>(), minSums1 = SIMD8<Float>()
        for b in 0..<blocks {
            let u = unpacked + 16 * b, ya = y0 + 32 * b, yb = y1 + 32 * b
            let scale0 = scales[2 * b] * d0[b], scale1 = scales[2 * b] * d1[b]
            @inline(__always) func both(_ l: Int, _ acc0: inout SIMD8<Float>, _ acc1: inout SIMD8<Float>) {
                let start = u[8 + l], weights = unsafeBitCast(u[l], to: SIMD32<Int8>.self)
                let x0 = SIMD8<Int32>(repeating: ya.loadUnaligned(fromByteOffset: 4 * l, as: Int32.self))
                let x1 = SIMD8<Int32>(repeating: yb.loadUnaligned(fromByteOffset: 4 * l, as: Int32.self))
                acc0 = acc0.addingProduct(tinylm_float_512(tinylm_dpbusd(start, unsafeBitCast(x0, to: SIMD32<UInt8>.self), weights)), scale0)
                acc1 = acc1.addingProduct(tinylm_float_512(tinylm_dpbusd(start, unsafeBitCast(x1, to: SIMD32<UInt8>.self), weights)), scale1)
            }
            both(0, &a0, &b0)
            both(1, &a1, &b1)
            both(2, &a2, &b2)
            both(3, &a3, &b3)
            both(4, &a4, &b4)
            both(5, &a5, &b5)
            both(6, &a6, &b6)
            both(7, &a7, &b7)
            if affine {
                minSums0 = minSums0.addingProduct(scales[2 * b + 1], SIMD8(repeating: s0[b]))
                minSums1 = minSums1.addingProduct(scales[2 * b + 1], SIMD8(repeating: s1[b]))
            }
        }
        var result0 = ((a4 + a0) + (a6 + a2)) + ((a5 + a1) + (a7 + a3))
        var result1 = ((b4 + b0) + (b6 + b2)) + ((b5 + b1) + (b7 + b3))
        if affine {
            result0 += minSums0
            result1 += minSums1
        }
        for i in 0..<8 {
            out[i] = result0[i]
            out[outStride + i] = result1[i]
        }
    }

    /// vec_dot lane l of block b for the eight rows: Σ weight·activation over values 4l…4l+3.
    @inline(__always)
    static func lane(_ u: UnsafePointer<SIMD8<Int32>>, _ y: UnsafeRawPointer, _ l: Int) -> SIMD8<Int32> {
        let activations = SIMD8<Int32>(repeating: y.loadUnaligned(fromByteOffset: 4 * l, as: Int32.self))
        return tinylm_dpbusd(u[8 + l], unsafeBitCast(activations, to: SIMD32<UInt8>.self), unsafeBitCast(u[l], to: SIMD32<Int8>.self))
    }

    /// vec_dot: per block, acc[l] = fma(d_w·d_a, lane l, acc[l]); hsum8, plus Σ fma(m_w, s_a).
    @inline(__always)
    static func vecDot(_ unpacked: UnsafePointer<SIMD8<Int32>>, _ scales: UnsafePointer<SIMD8<Float>>, _ blocks: Int, _ affine: Bool,
                       _ y: UnsafeRawPointer, _ d: UnsafePointer<Float>, _ s: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var a4 = SIMD8<Float>(), a5 = SIMD8<Float>(), a6 = SIMD8<Float>(), a7 = SIMD8<Float>()
        var minSums = SIMD8<Float>()
        for b in 0..<blocks {
            let u = unpacked + 16 * b, yb = y + 32 * b
            let scale = scales[2 * b] * d[b]
            a0 = a0.addingProduct(tinylm_float_512(lane(u, yb, 0)), scale)
            a1 = a1.addingProduct(tinylm_float_512(lane(u, yb, 1)), scale)
            a2 = a2.addingProduct(tinylm_float_512(lane(u, yb, 2)), scale)
            a3 = a3.addingProduct(tinylm_float_512(lane(u, yb, 3)), scale)
            a4 = a4.addingProduct(tinylm_float_512(lane(u, yb, 4)), scale)
            a5 = a5.addingProduct(tinylm_float_512(lane(u, yb, 5)), scale)
            a6 = a6.addingProduct(tinylm_float_512(lane(u, yb, 6)), scale)
            a7 = a7.addingProduct(tinylm_float_512(lane(u, yb, 7)), scale)
            if affine { minSums = minSums.addingProduct(scales[2 * b + 1], SIMD8(repeating: s[b])) }
        }
        // hsum_float_8 of each row: ((a4 + a0) + (a6 + a2)) + ((a5 + a1) + (a7 + a3)).
        var result = ((a4 + a0) + (a6 + a2)) + ((a5 + a1) + (a7 + a3))
        if affine { result += minSums }
        for i in 0..<8 { out[i] = result[i] }
    }

    /// Q4_0's repacked GEMM/GEMV: per block, acc = fma(Σ block, d_w·d_a, acc).
    @inline(__always)
    static func blockSums(_ unpacked: UnsafePointer<SIMD8<Int32>>, _ scales: UnsafePointer<SIMD8<Float>>, _ blocks: Int,
                          _ y: UnsafeRawPointer, _ d: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        var acc = SIMD8<Float>()
        for b in 0..<blocks {
            let u = unpacked + 16 * b, yb = y + 32 * b
            var sum = lane(u, yb, 0)
            for l in 1..<8 { sum &+= lane(u, yb, l) }
            acc = acc.addingProduct(tinylm_float_512(sum), scales[2 * b] * d[b])
        }
        for i in 0..<8 { out[i] = acc[i] }
    }
}
#endif
