// Q5_K's AVX2 kernels with ggml's instructions: vec_dot for single tokens and batches under 8,
// the batch kernel (AVX2SuperBlock.swift) for the tiled order.

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q5_K {
    enum AVX2: AVX2SuperBlockFormat {
        static var blockBytes: Int { Q5_K.blockBytes }
        static var dOffset: Int { 0 }
        static var dminOffset: Int { 2 }
        static var hasMins: Bool { true }
        static var gemmGroups: Int { 8 }
        static var offsetShift: Int32 { 0 }
        static var vecDotMins: AVX2SuperBlock.VecDotMins { .scalar }

        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            AVX2SuperBlock.multiply(Self.self, job, rows: rows) { Q5_K.SIMD128.multiply($0, rows: $1) }
        }

        /// The 32 codes (0…31) of groups 2·pair (low nibbles, high bit 2·pair of qh) and
        /// 2·pair + 1 (high nibbles, bit 2·pair + 1).
        @inline(__always)
        static func pairCodes(_ block: UnsafeRawPointer, _ pair: Int) -> (SIMD32<UInt8>, SIMD32<UInt8>) {
            let x = block.loadUnaligned(fromByteOffset: 48 + 32 * pair, as: SIMD4<UInt64>.self)
            let qh = block.loadUnaligned(fromByteOffset: 16, as: SIMD4<UInt64>.self)
            let one = AVX2Lanes.repeatedByte(0x01), nibble = AVX2Lanes.repeatedByte(0x0F)
            let high0 = ((qh &>> UInt64(2 * pair)) & one) &<< 4, high1 = ((qh &>> UInt64(2 * pair + 1)) & one) &<< 4
            return (AVX2Lanes.bytes((x & nibble) | high0), AVX2Lanes.bytes(((x &>> 4) & nibble) | high1))
        }

        @inline(__always)
        static func lanes(_ block: UnsafeRawPointer, _ y: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32> {
            let s = Q4_K.AVX2.scales(block).scales
            var lanes = SIMD8<Int32>()
            for pair in 0..<4 {
                let q = pairCodes(block, pair)
                lanes &+= tinylm_madd_i16(tinylm_maddubs_u8i8(q.0, y.loadUnaligned(fromByteOffset: 64 * pair, as: SIMD32<Int8>.self)),
                                          AVX2Lanes.broadcastLanes(s, 2 * pair, 2 * pair))
                    &+ tinylm_madd_i16(tinylm_maddubs_u8i8(q.1, y.loadUnaligned(fromByteOffset: 64 * pair + 32, as: SIMD32<Int8>.self)),
                                       AVX2Lanes.broadcastLanes(s, 2 * pair + 1, 2 * pair + 1))
            }
            return lanes
        }

        @inline(__always)
        static func minLanes(_ block: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32> { Q4_K.AVX2.minLanes(block, bsums) }

        @inline(__always)
        static func unpack(_ block: UnsafeRawPointer, _ codes: UnsafeMutablePointer<SIMD32<UInt8>>) -> (scales: SIMD16<Int16>, mins: SIMD16<Int16>) {
            for pair in 0..<4 {
                let q = pairCodes(block, pair)
                codes[2 * pair] = q.0
                codes[2 * pair + 1] = q.1
            }
            let sm = unpackScaleMin(block + 4)
            return (Q4_K.AVX2.doubled(sm.scales), Q4_K.AVX2.doubled(sm.mins))
        }

        /// Codes ≤ 31: four chunks add up to at most 4·2·127·31 < 2^15.
        static var int16Chunks: Int { 4 }
    }
}
#endif
