// Q4_K's AVX2 kernels with ggml's instructions: the repacked GEMV and vec_dot for single
// tokens, and the batch kernel (AVX2SuperBlock.swift) for the GEMM, GEMV and tiled orders.

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q4_K {
    enum AVX2: AVX2SixBitScaleFormat {
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

        /// The 32 codes of groups 2·pair (low nibbles) and 2·pair + 1 (high nibbles).
        @inline(__always)
        static func pairCodes(_ block: UnsafeRawPointer, _ pair: Int) -> (SIMD32<UInt8>, SIMD32<UInt8>) {
            let x = block.loadUnaligned(fromByteOffset: 16 + 32 * pair, as: SIMD4<UInt64>.self)
            return (AVX2Lanes.bytes(x & AVX2Lanes.repeatedByte(0x0F)), AVX2Lanes.bytes((x &>> 4) & AVX2Lanes.repeatedByte(0x0F)))
        }

        /// Codes ≤ 15: eight chunks add up to at most 8·2·127·15 < 2^15.
        static var int16Chunks: Int { 8 }
    }
}
#endif
