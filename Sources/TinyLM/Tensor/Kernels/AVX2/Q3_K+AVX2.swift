// Q3_K's AVX2 kernels with ggml's instructions: vec_dot for single tokens and batches under 8,
// the batch kernel (AVX2SuperBlock.swift) for the tiled order.

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q3_K {
    enum AVX2: AVX2SuperBlockFormat {
        static var blockBytes: Int { Q3_K.blockBytes }
        static var dOffset: Int { 108 }
        static var dminOffset: Int { 108 }
        static var hasMins: Bool { false }
        static var gemmGroups: Int { 8 }
        static var offsetShift: Int32 { 2 }
        static var vecDotMins: AVX2SuperBlock.VecDotMins { .none }

        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            AVX2SuperBlock.multiply(Self.self, job, rows: rows) { Q3_K.SIMD128.multiply($0, rows: $1) }
        }

        /// The sixteen scales s − 32 as Int16.
        @inline(__always)
        static func signedScales(_ block: UnsafeRawPointer) -> SIMD16<Int16> {
            // s − 32 byte by byte (s ≤ 63): flip bit 5, then copy it into bits 6 and 7 (the sign).
            // On words: Swift's arithmetic on byte vectors becomes per-byte loops.
            let s = Q3_K.unpackScales(block + 96)
            @inline(__always) func centered(_ x: UInt64) -> UInt64 {
                let y = x ^ 0x2020_2020_2020_2020
                return y | ((y & 0x2020_2020_2020_2020) &* 6)
            }
            return tinylm_widen_i8_i16(unsafeBitCast(SIMD2<UInt64>(centered(s.low), centered(s.high)), to: SIMD16<Int8>.self))
        }

        /// vec_dot's lanes: the low two bits and the high bit are multiplied apart, and a clear
        /// high bit takes 4·a off inside each value's own lane (q2 − 4 + 4·bit).
        @inline(__always)
        static func lanes(_ block: UnsafeRawPointer, _ y: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32> {
            let scales = signedScales(block)
            let hbits = block.loadUnaligned(as: SIMD4<UInt64>.self)
            var lanes = SIMD8<Int32>()
            for half in 0..<2 {
                let bits = block.loadUnaligned(fromByteOffset: 32 + 32 * half, as: SIMD4<UInt64>.self)
                let s = AVX2SuperBlock.halfScales(scales, half)
                for k in 0..<4 {
                    let g = UInt64(4 * half + k)
                    let a = y.loadUnaligned(fromByteOffset: 128 * half + 32 * k, as: SIMD32<Int8>.self)
                    let low = AVX2Lanes.bytes((bits &>> UInt64(2 * k)) & AVX2Lanes.repeatedByte(0x03))
                    let clear = AVX2Lanes.bytes(((~hbits &>> g) & AVX2Lanes.repeatedByte(0x01)) &<< 2)
                    let p = tinylm_maddubs_u8i8(low, a) &- tinylm_maddubs_u8i8(clear, a)
                    lanes &+= tinylm_madd_i16(p, AVX2Lanes.broadcastLanes(s, 2 * k, 2 * k + 1))
                }
            }
            return lanes
        }

        @inline(__always)
        static func minLanes(_ block: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32> { SIMD8() }

        /// Codes q2 | high bit << 2 (0…7): value = code − 4, the 4 taken off through the sums.
        @inline(__always)
        static func unpack(_ block: UnsafeRawPointer, _ codes: UnsafeMutablePointer<SIMD32<UInt8>>) -> (scales: SIMD16<Int16>, mins: SIMD16<Int16>) {
            let hbits = block.loadUnaligned(as: SIMD4<UInt64>.self)
            for half in 0..<2 {
                let bits = block.loadUnaligned(fromByteOffset: 32 + 32 * half, as: SIMD4<UInt64>.self)
                for k in 0..<4 {
                    let g = UInt64(4 * half + k)
                    let low = (bits &>> UInt64(2 * k)) & AVX2Lanes.repeatedByte(0x03)
                    let high = ((hbits &>> g) & AVX2Lanes.repeatedByte(0x01)) &<< 2
                    codes[4 * half + k] = AVX2Lanes.bytes(low | high)
                }
            }
            return (signedScales(block), SIMD16())
        }

        /// Per-16 scales: four chunks (at most 4·2·127·7).
        static var int16Chunks: Int { 4 }
    }
}
#endif
