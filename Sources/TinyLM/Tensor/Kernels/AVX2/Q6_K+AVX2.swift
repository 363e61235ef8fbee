// Q6_K's AVX2 kernels with ggml's instructions: vec_dot for single tokens and batches under 8,
// the batch kernel (AVX2SuperBlock.swift) for the tiled order.

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q6_K {
    enum AVX2: AVX2SuperBlockFormat {
        static var blockBytes: Int { Q6_K.blockBytes }
        static var dOffset: Int { 208 }
        static var dminOffset: Int { 208 }
        static var hasMins: Bool { false }
        static var gemmGroups: Int { 8 }
        static var offsetShift: Int32 { 5 }
        static var vecDotMins: AVX2SuperBlock.VecDotMins { .none }

        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            AVX2SuperBlock.multiply(Self.self, job, rows: rows) { Q6_K.SIMD128.multiply($0, rows: $1) }
        }

        /// vec_dot's lanes: the stored q (0…63) times the activations, the −32 offset through
        /// the sums of 16 (lane l = 32·(scale[2l]·T_2l + scale[2l+1]·T_2l+1)).
        @inline(__always)
        static func lanes(_ block: UnsafeRawPointer, _ y: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32> {
            var lanes = SIMD8<Int32>() &- offsetLanes(block, bsums)
            for half in 0..<2 {
                lanes &+= halfLanes(block, half, y.loadUnaligned(fromByteOffset: 128 * half, as: SIMD32<Int8>.self),
                                    y.loadUnaligned(fromByteOffset: 128 * half + 32, as: SIMD32<Int8>.self),
                                    y.loadUnaligned(fromByteOffset: 128 * half + 64, as: SIMD32<Int8>.self),
                                    y.loadUnaligned(fromByteOffset: 128 * half + 96, as: SIMD32<Int8>.self))
            }
            return lanes
        }

        @inline(__always)
        static func minLanes(_ block: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32> { SIMD8() }

        @inline(__always)
        static func unpack(_ block: UnsafeRawPointer, _ codes: UnsafeMutablePointer<SIMD32<UInt8>>) -> (scales: SIMD16<Int16>, mins: SIMD16<Int16>) {
            for half in 0..<2 {
                let q = quants(block, half)
                codes[4 * half] = q.0
                codes[4 * half + 1] = q.1
                codes[4 * half + 2] = q.2
                codes[4 * half + 3] = q.3
            }
            return (wideScales(block), SIMD16())
        }

        /// Codes ≤ 63: two chunks add up to at most 2·2·127·63 < 2^15.
        static var int16Chunks: Int { 2 }

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
