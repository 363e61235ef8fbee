// Q6_K's AVX2 kernels: vec_dot (single tokens and batches under 8) with ggml's instructions,
// and the batch kernel for the tiled order (AVX2KQuantBatch.swift).

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q6_K {
    enum AVX2 {
        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            if job.batch >= 2 && job.order(ofToken: 0) != .vecDot {
                AVX2KQuantBatch.multiply(job, rows: rows)
                return
            }
            var r = rows.lowerBound
            while r + 4 <= rows.upperBound {
                for t in 0..<job.batch {
                    let act = job.activations(t)
                    if job.order(ofToken: t) == .vecDot {
                        dotVecDot(job.row(r), job.rowBytes, job.blocks, act, act.q8, job.results(t, r))
                    } else {
                        Q6_K.SIMD128.multiply(job.tokens(t ..< t + 1), rows: r ..< r + 4)
                    }
                }
                r += 4
            }
            if r < rows.upperBound { Q6_K.SIMD128.multiply(job, rows: r..<rows.upperBound) }
        }


        /// Four Q6_K rows against one token in the vec_dot order: the eight lanes of vpmaddwd are
        /// exactly vec_dot's lanes (values 4l…4l+3 of each 16 go to lane l mod 4 of that half).
        @inline(__always)
        static func dotVecDot(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, _ act: Q8Activations,
                                  _ q8: UnsafePointer<Int8>, _ out: UnsafeMutablePointer<Float>) {
            var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
            for b in 0..<blocks {
                let w = rows + b * Q6_K.blockBytes
                AVX2Lanes.prefetchNextRows(rows, rowBytes, b, Q6_K.blockBytes)
                let a = UnsafeRawPointer(q8 + b * 256)
                let bsums = AVX2Lanes.narrowSums(act, b)
                var l0 = SIMD8<Int32>() &- offsetLanes(w, bsums)
                var l1 = SIMD8<Int32>() &- offsetLanes(w + rowBytes, bsums)
                var l2 = SIMD8<Int32>() &- offsetLanes(w + 2 * rowBytes, bsums)
                var l3 = SIMD8<Int32>() &- offsetLanes(w + 3 * rowBytes, bsums)
                for half in 0..<2 {
                    let y0 = a.loadUnaligned(fromByteOffset: 128 * half, as: SIMD32<Int8>.self)
                    let y1 = a.loadUnaligned(fromByteOffset: 128 * half + 32, as: SIMD32<Int8>.self)
                    let y2 = a.loadUnaligned(fromByteOffset: 128 * half + 64, as: SIMD32<Int8>.self)
                    let y3 = a.loadUnaligned(fromByteOffset: 128 * half + 96, as: SIMD32<Int8>.self)
                    l0 &+= halfLanes(w, half, y0, y1, y2, y3)
                    l1 &+= halfLanes(w + rowBytes, half, y0, y1, y2, y3)
                    l2 &+= halfLanes(w + 2 * rowBytes, half, y0, y1, y2, y3)
                    l3 &+= halfLanes(w + 3 * rowBytes, half, y0, y1, y2, y3)
                }
                let d = FP16.toFloat4(headerHalves4(w + 208, rowBytes)) * act.d[b]
                acc0 = acc0.addingProduct(tinylm_float_i32(l0), SIMD8(repeating: d[0]))
                acc1 = acc1.addingProduct(tinylm_float_i32(l1), SIMD8(repeating: d[1]))
                acc2 = acc2.addingProduct(tinylm_float_i32(l2), SIMD8(repeating: d[2]))
                acc3 = acc3.addingProduct(tinylm_float_i32(l3), SIMD8(repeating: d[3]))
            }
            out[0] = LaneMath.horizontalSum(acc0)
            out[1] = LaneMath.horizontalSum(acc1)
            out[2] = LaneMath.horizontalSum(acc2)
            out[3] = LaneMath.horizontalSum(acc3)
        }


        /// The stored 6-bit quants (0…63) of half `half` of a Q6_K block: four vectors of 32
        /// values in element order (values 128·half + 32k …).
        @inline(__always)
        static func quants(_ block: UnsafeRawPointer, _ half: Int) -> (SIMD32<UInt8>, SIMD32<UInt8>, SIMD32<UInt8>, SIMD32<UInt8>) {
            let low0 = block.loadUnaligned(fromByteOffset: 64 * half, as: SIMD4<UInt64>.self)
            let low1 = block.loadUnaligned(fromByteOffset: 64 * half + 32, as: SIMD4<UInt64>.self)
            let high = block.loadUnaligned(fromByteOffset: 128 + 32 * half, as: SIMD4<UInt64>.self)
            let nibble = AVX2Lanes.repeatedByte(0x0F)
            return (AVX2Lanes.bytes((low0 & nibble) | ((high & AVX2Lanes.repeatedByte(0x03)) &<< 4)), AVX2Lanes.bytes((low1 & nibble) | ((high & AVX2Lanes.repeatedByte(0x0C)) &<< 2)),
                    AVX2Lanes.bytes(((low0 &>> 4) & nibble) | (high & AVX2Lanes.repeatedByte(0x30))), AVX2Lanes.bytes(((low1 &>> 4) & nibble) | ((high & AVX2Lanes.repeatedByte(0xC0)) &>> 2)))
        }


        /// The eight int8 scales of half `half` of a Q6_K block as Int16, in both 128-bit halves.
        @inline(__always)
        static func halfScales(_ block: UnsafeRawPointer, _ half: Int) -> SIMD16<Int16> {
            tinylm_widen_i8_i16(unsafeBitCast(SIMD2<UInt64>(repeating: block.loadUnaligned(fromByteOffset: 192 + 8 * half, as: UInt64.self)),
                                              to: SIMD16<Int8>.self))
        }


        /// A Q6_K block's sixteen scales as Int16.
        @inline(__always)
        static func wideScales(_ block: UnsafeRawPointer) -> SIMD16<Int16> {
            tinylm_widen_i8_i16(block.loadUnaligned(fromByteOffset: 192, as: SIMD16<Int8>.self))
        }


        /// Half `half` of a Q6_K block (stored quants) against its activations, scaled per 16.
        @inline(__always)
        static func halfLanes(_ block: UnsafeRawPointer, _ half: Int, _ y0: SIMD32<Int8>, _ y1: SIMD32<Int8>,
                                  _ y2: SIMD32<Int8>, _ y3: SIMD32<Int8>) -> SIMD8<Int32> {
            let s = halfScales(block, half)
            let q = quants(block, half)
            return tinylm_madd_i16(tinylm_maddubs_u8i8(q.0, y0), AVX2Lanes.broadcastLanes(s, 0, 1))
                &+ tinylm_madd_i16(tinylm_maddubs_u8i8(q.1, y1), AVX2Lanes.broadcastLanes(s, 2, 3))
                &+ tinylm_madd_i16(tinylm_maddubs_u8i8(q.2, y2), AVX2Lanes.broadcastLanes(s, 4, 5))
                &+ tinylm_madd_i16(tinylm_maddubs_u8i8(q.3, y3), AVX2Lanes.broadcastLanes(s, 6, 7))
        }


        /// vec_dot's −32 offset per lane: lane l = 32·(scale[2l]·T_2l + scale[2l+1]·T_2l+1).
        @inline(__always)
        static func offsetLanes(_ block: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32> {
            tinylm_madd_i16(wideScales(block), bsums) &<< 5
        }
    }
}
#endif
