// Q4_0's AVX2 kernels with ggml's instructions: vec_dot (and tinyBLAS for batches, the same
// order), and the repacked GEMM/GEMV's one sum per block; single tokens read the blocks in
// place, batches unpack each group of four rows.

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q4_0 {
    enum AVX2: AVX2Block32Format {
        static var blockBytes: Int { Q4_0.blockBytes }
        static var isAffine: Bool { false }
        static var codeOffset: UInt8 { 8 }
        static var signedCodes: Bool { false }

        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            AVX2Block32.multiply(Self.self, job, rows: rows) { Q4_0.SIMD128.multiply(job, rows: $0) }
        }

        /// nibble − 8 as signed bytes, against y.
        @inline(__always)
        static func lanes(_ block: UnsafeRawPointer, _ y: SIMD32<Int8>) -> SIMD8<Int32> {
            AVX2Lanes.signedLanes(values(block), y)
        }

        /// The 16 bytes of nibbles (at offset 2) spread to 32 bytes in value order.
        @inline(__always)
        static func codes(_ block: UnsafeRawPointer) -> SIMD32<UInt8> {
            let n = block.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
            return SIMD32<UInt8>(lowHalf: n & 0x0F, highHalf: n &>> 4)
        }
    }
}
#endif
