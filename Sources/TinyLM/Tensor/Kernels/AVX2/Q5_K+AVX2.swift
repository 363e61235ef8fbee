// Q5_K's AVX2 kernels with ggml's instructions: vec_dot for single tokens and batches under 8,
// the batch kernel (AVX2SuperBlock.swift) for the tiled order.

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q5_K {
    enum AVX2: AVX2SixBitScaleFormat {
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

        /// Codes ≤ 31: four chunks add up to at most 4·2·127·31 < 2^15.
        static var int16Chunks: Int { 4 }
    }
}
#endif
