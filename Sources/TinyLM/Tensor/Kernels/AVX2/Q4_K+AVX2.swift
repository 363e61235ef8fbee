// Q4_K's AVX2 kernels: the repacked GEMV (single tokens) with ggml's instructions, and the
// batch kernel for the GEMM, GEMV and tiled orders (AVX2KQuantBatch.swift). vec_dot (row
// counts not a multiple of 8, fewer than 8 tokens) takes the SIMD128 kernel.

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q4_K {
    enum AVX2 {
        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            if job.batch >= 2 && job.order(ofToken: 0) != .vecDot {
                AVX2KQuantBatch.multiply(job, rows: rows)
                return
            }
            var r = rows.lowerBound
            while r + 4 <= rows.upperBound {
                for t in 0..<job.batch {
                    if job.order(ofToken: t) == .gemv {
                        let act = job.activations(t)
                        dotGemv(job.row(r), job.rowBytes, job.blocks, act, act.q8, job.results(t, r))
                    } else {
                        Q4_K.SIMD128.multiply(job.tokens(t ..< t + 1), rows: r ..< r + 4)
                    }
                }
                r += 4
            }
            if r < rows.upperBound { Q4_K.SIMD128.multiply(job, rows: r..<rows.upperBound) }
        }


        /// Four rows against one token in the GEMV order.
        @inline(__always)
        static func dotGemv(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, _ act: Q8Activations,
                                _ q8: UnsafePointer<Int8>, _ out: UnsafeMutablePointer<Float>) {
            var acc = SIMD4<Float>(), accMin = SIMD4<Float>()
            for b in 0..<blocks {
                let w = rows + b * Q4_K.blockBytes
                AVX2Lanes.prefetchNextRows(rows, rowBytes, b, Q4_K.blockBytes)
                let a = UnsafeRawPointer(q8 + b * 256)
                let s0 = scales(w), s1 = scales(w + rowBytes), s2 = scales(w + 2 * rowBytes), s3 = scales(w + 3 * rowBytes)
                var l0 = SIMD8<Int32>(), l1 = SIMD8<Int32>(), l2 = SIMD8<Int32>(), l3 = SIMD8<Int32>()
                for pair in 0..<4 {
                    let y0 = a.loadUnaligned(fromByteOffset: 64 * pair, as: SIMD32<Int8>.self)
                    let y1 = a.loadUnaligned(fromByteOffset: 64 * pair + 32, as: SIMD32<Int8>.self)
                    l0 &+= pairLanes(w, pair, s0.scales, y0, y1)
                    l1 &+= pairLanes(w + rowBytes, pair, s1.scales, y0, y1)
                    l2 &+= pairLanes(w + 2 * rowBytes, pair, s2.scales, y0, y1)
                    l3 &+= pairLanes(w + 3 * rowBytes, pair, s3.scales, y0, y1)
                }
                let pairSums = tinylm_madd_i16(AVX2Lanes.narrowSums(act, b), SIMD16(repeating: 1))
                let isum = AVX2Lanes.rowSums(l0, l1, l2, l3)
                let msum = AVX2Lanes.rowSums(s0.mins &* pairSums, s1.mins &* pairSums, s2.mins &* pairSums, s3.mins &* pairSums)
                let words = headerWords4(w, rowBytes)
                let da = act.d[b]
                acc = LaneMath.fusedMultiplyAdd(tinylm_float4_i32(isum), FP16.toFloat4(words & 0xFFFF) * da, acc)
                accMin = LaneMath.fusedMultiplyAdd(tinylm_float4_i32(msum), FP16.toFloat4(words &>> 16) * da, accMin)
            }
            let result = acc - accMin
            for i in 0..<4 { out[i] = result[i] }
        }


        /// A Q4_K block's eight scales as Int16 (in both 128-bit halves) and eight mins as Int32.
        @inline(__always)
        static func scales(_ block: UnsafeRawPointer) -> (scales: SIMD16<Int16>, mins: SIMD8<Int32>) {
            let sm = unpackScaleMin(block + 4)
            return (tinylm_widen_u8_i16(unsafeBitCast(SIMD2<UInt64>(repeating: sm.scales), to: SIMD16<UInt8>.self)),
                    tinylm_widen_u8_i32(unsafeBitCast(SIMD2<UInt64>(sm.mins, 0), to: SIMD16<UInt8>.self)))
        }


        /// Sub-blocks 2·pair (low nibbles) and 2·pair + 1 (high nibbles) of a Q4_K block against
        /// their activations, scaled.
        @inline(__always)
        static func pairLanes(_ block: UnsafeRawPointer, _ pair: Int, _ scales: SIMD16<Int16>,
                                  _ y0: SIMD32<Int8>, _ y1: SIMD32<Int8>) -> SIMD8<Int32> {
            let x = block.loadUnaligned(fromByteOffset: 16 + 32 * pair, as: SIMD4<UInt64>.self)
            return tinylm_madd_i16(tinylm_maddubs_u8i8(AVX2Lanes.bytes(x & AVX2Lanes.repeatedByte(0x0F)), y0), AVX2Lanes.broadcastLanes(scales, 2 * pair, 2 * pair))
                &+ tinylm_madd_i16(tinylm_maddubs_u8i8(AVX2Lanes.bytes((x &>> 4) & AVX2Lanes.repeatedByte(0x0F)), y1), AVX2Lanes.broadcastLanes(scales, 2 * pair + 1, 2 * pair + 1))
        }
    }
}
#endif
