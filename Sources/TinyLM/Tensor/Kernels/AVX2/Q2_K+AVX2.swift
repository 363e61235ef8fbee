// Q2_K's AVX2 kernels with ggml's instructions: the repacked GEMV and vec_dot for single
// tokens, and the batch kernel (AVX2SuperBlock.swift) for the GEMM, GEMV and tiled orders.

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q2_K {
    enum AVX2: AVX2SuperBlockFormat {
        static var blockBytes: Int { Q2_K.blockBytes }
        static var dOffset: Int { 80 }
        static var dminOffset: Int { 82 }
        static var hasMins: Bool { true }
        static var gemmGroups: Int { 4 }
        static var offsetShift: Int32 { 0 }
        static var vecDotMins: AVX2SuperBlock.VecDotMins { .inLanes }

        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            AVX2SuperBlock.multiply(Self.self, job, rows: rows) { Q2_K.SIMD128.multiply($0, rows: $1) }
        }

        /// The sixteen scales (low nibbles) and mins (high nibbles) as Int16.
        @inline(__always)
        static func scalesAndMins(_ block: UnsafeRawPointer) -> (scales: SIMD16<Int16>, mins: SIMD16<Int16>) {
            let bytes = block.loadUnaligned(as: SIMD2<UInt64>.self)
            let low = unsafeBitCast(bytes & SIMD2(repeating: 0x0F0F_0F0F_0F0F_0F0F), to: SIMD16<UInt8>.self)
            let high = unsafeBitCast((bytes &>> 4) & SIMD2(repeating: 0x0F0F_0F0F_0F0F_0F0F), to: SIMD16<UInt8>.self)
            return (tinylm_widen_u8_i16(low), tinylm_widen_u8_i16(high))
        }

        /// The codes (0…3) of group 4·half + k.
        @inline(__always)
        static func codes(_ bits: SIMD4<UInt64>, _ k: Int) -> SIMD32<UInt8> {
            AVX2Lanes.bytes((bits &>> UInt64(2 * k)) & AVX2Lanes.repeatedByte(0x03))
        }

        @inline(__always)
        static func lanes(_ block: UnsafeRawPointer, _ y: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32> {
            let scales = scalesAndMins(block).scales
            var lanes = SIMD8<Int32>()
            for half in 0..<2 {
                let bits = block.loadUnaligned(fromByteOffset: 16 + 32 * half, as: SIMD4<UInt64>.self)
                let s = AVX2SuperBlock.halfScales(scales, half)
                for k in 0..<4 {
                    let a = y.loadUnaligned(fromByteOffset: 128 * half + 32 * k, as: SIMD32<Int8>.self)
                    lanes &+= tinylm_madd_i16(tinylm_maddubs_u8i8(codes(bits, k), a), AVX2Lanes.broadcastLanes(s, 2 * k, 2 * k + 1))
                }
            }
            return lanes
        }

        @inline(__always)
        static func minLanes(_ block: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32> {
            tinylm_madd_i16(scalesAndMins(block).mins, bsums)
        }

        @inline(__always)
        static func unpack(_ block: UnsafeRawPointer, _ codes: UnsafeMutablePointer<SIMD32<UInt8>>) -> (scales: SIMD16<Int16>, mins: SIMD16<Int16>) {
            for half in 0..<2 {
                let bits = block.loadUnaligned(fromByteOffset: 16 + 32 * half, as: SIMD4<UInt64>.self)
                for k in 0..<4 { codes[4 * half + k] = self.codes(bits, k) }
            }
            return scalesAndMins(block)
        }

        /// Per-16 scales: four chunks (at most 4·2·127·3).
        static var int16Chunks: Int { 4 }
    }
}
#endif
