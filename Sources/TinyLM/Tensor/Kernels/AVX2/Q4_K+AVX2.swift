// Q4_K's AVX2 kernels with ggml's instructions: the repacked GEMV and vec_dot for single
// tokens, and the batch kernel (AVX2SuperBlock.swift) for the GEMM, GEMV and tiled orders.

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q4_K {
    enum AVX2: AVX2SuperBlockFormat {
        static var blockBytes: Int { Q4_K.blockBytes }
        static var dOffset: Int { 0 }
        static var dminOffset: Int { 2 }
        static var hasMins: Bool { true }
        static var gemmGroups: Int { 2 }
        static var offsetShift: Int32 { 0 }
        static var vecDotMins: AVX2SuperBlock.VecDotMins { .fourLanes }

        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            AVX2SuperBlock.multiply(Self.self, job, rows: rows) { Q4_K.SIMD128.multiply($0, rows: $1) }
        }

        /// A block's eight scales as Int16 (in both 128-bit halves) and eight mins as Int32.
        @inline(__always)
        static func scales(_ block: UnsafeRawPointer) -> (scales: SIMD16<Int16>, mins: SIMD8<Int32>) {
            let sm = unpackScaleMin(block + 4)
            return (tinylm_widen_u8_i16(unsafeBitCast(SIMD2<UInt64>(repeating: sm.scales), to: SIMD16<UInt8>.self)),
                    tinylm_widen_u8_i32(unsafeBitCast(SIMD2<UInt64>(sm.mins, 0), to: SIMD16<UInt8>.self)))
        }

        /// The 32 codes of groups 2·pair (low nibbles) and 2·pair + 1 (high nibbles).
        @inline(__always)
        static func pairCodes(_ block: UnsafeRawPointer, _ pair: Int) -> (SIMD32<UInt8>, SIMD32<UInt8>) {
            let x = block.loadUnaligned(fromByteOffset: 16 + 32 * pair, as: SIMD4<UInt64>.self)
            return (AVX2Lanes.bytes(x & AVX2Lanes.repeatedByte(0x0F)), AVX2Lanes.bytes((x &>> 4) & AVX2Lanes.repeatedByte(0x0F)))
        }

        @inline(__always)
        static func lanes(_ block: UnsafeRawPointer, _ y: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32> {
            let s = scales(block).scales
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

        /// Lane j: m_j·S_j (S: the sums of 32 activations).
        @inline(__always)
        static func minLanes(_ block: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32> {
            scales(block).mins &* tinylm_madd_i16(bsums, SIMD16(repeating: 1))
        }

        /// Each 32-value scale or min twice, once per 16 values.
        @inline(__always)
        static func doubled(_ word: UInt64) -> SIMD16<Int16> {
            // Bytes spread apart, then doubled.
            @inline(__always) func spread(_ x: UInt64) -> UInt64 {
                var v = (x | x &<< 16) & 0x0000_FFFF_0000_FFFF
                v = (v | v &<< 8) & 0x00FF_00FF_00FF_00FF
                return v | v &<< 8
            }
            return tinylm_widen_u8_i16(unsafeBitCast(SIMD2<UInt64>(spread(word & 0xFFFF_FFFF), spread(word &>> 32)), to: SIMD16<UInt8>.self))
        }

        @inline(__always)
        static func unpack(_ block: UnsafeRawPointer, _ codes: UnsafeMutablePointer<SIMD32<UInt8>>) -> (scales: SIMD16<Int16>, mins: SIMD16<Int16>) {
            for pair in 0..<4 {
                let q = pairCodes(block, pair)
                codes[2 * pair] = q.0
                codes[2 * pair + 1] = q.1
            }
            let sm = unpackScaleMin(block + 4)
            return (doubled(sm.scales), doubled(sm.mins))
        }

        /// Codes ≤ 15: eight chunks add up to at most 8·2·127·15 < 2^15.
        static var int16Chunks: Int { 8 }
    }
}
#endif
