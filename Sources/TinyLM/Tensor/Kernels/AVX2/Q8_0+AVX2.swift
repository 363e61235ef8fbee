// Q8_0's AVX2 kernels: vec_dot (and tinyBLAS for batches, the same order) with ggml's
// instructions; single tokens read the blocks in place, batches unpack each group of four rows.

#if TINYLM_X86_AVX2
extension Q8_0 {
    enum AVX2: AVX2Block32Format {
        static var blockBytes: Int { Q8_0.blockBytes }
        static var isAffine: Bool { false }
        static var codeOffset: UInt8 { 0 }
        static var signedCodes: Bool { true }

        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            AVX2Block32.multiply(Self.self, job, rows: rows) { Q8_0.SIMD128.multiply(job, rows: $0) }
        }

        @inline(__always)
        static func lanes(_ block: UnsafeRawPointer, _ y: SIMD32<Int8>) -> SIMD8<Int32> {
            AVX2Lanes.signedLanes(block.loadUnaligned(fromByteOffset: 2, as: SIMD32<Int8>.self), y)
        }

        @inline(__always)
        static func codes(_ block: UnsafeRawPointer) -> SIMD32<UInt8> { block.loadUnaligned(fromByteOffset: 2, as: SIMD32<UInt8>.self) }
    }
}
#endif
