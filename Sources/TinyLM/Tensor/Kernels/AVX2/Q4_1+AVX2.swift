// Q4_1's AVX2 kernels: vec_dot with ggml's instructions; single tokens read the blocks in
// place, batches unpack each group of four rows.

#if TINYLM_X86_AVX2
extension Q4_1 {
    enum AVX2: AVX2Block32Format {
        static var blockBytes: Int { Q4_1.blockBytes }
        static var isAffine: Bool { true }
        static var codeOffset: UInt8 { 0 }
        static var signedCodes: Bool { false }

        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            AVX2Block32.multiply(Self.self, job, rows: rows) { Q4_1.SIMD128.multiply(job, rows: $0) }
        }

        @inline(__always)
        static func lanes(_ block: UnsafeRawPointer, _ y: SIMD32<Int8>) -> SIMD8<Int32> { AVX2Lanes.lanes(codes(block), y) }

        /// The 16 bytes of nibbles (at offset 4) spread to 32 bytes in value order.
        @inline(__always)
        static func codes(_ block: UnsafeRawPointer) -> SIMD32<UInt8> {
            let n = block.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)
            return SIMD32<UInt8>(lowHalf: n & 0x0F, highHalf: n &>> 4)
        }
    }
}
#endif
