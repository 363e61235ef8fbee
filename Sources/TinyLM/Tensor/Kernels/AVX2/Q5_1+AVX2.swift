// Q5_1's AVX2 kernels: vec_dot (Q4_1's order) with ggml's instructions; single tokens read the
// blocks in place, batches unpack each group of four rows.

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q5_1 {
    enum AVX2: AVX2Block32Format {
        static var blockBytes: Int { Q5_1.blockBytes }
        static var isAffine: Bool { true }
        static var codeOffset: UInt8 { 0 }
        static var signedCodes: Bool { false }

        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            AVX2Block32.multiply(Self.self, job, rows: rows) { Q5_1.SIMD128.multiply(job, rows: $0) }
        }

        @inline(__always)
        static func lanes(_ block: UnsafeRawPointer, _ y: SIMD32<Int8>) -> SIMD8<Int32> { AVX2Lanes.lanes(codes(block), y) }

        /// q = nibble | high bit << 4 (0…31) in value order: vpshufb copies qh's byte i/8 to
        /// byte i, and each byte tests its own bit, i mod 8.
        @inline(__always)
        static func codes(_ block: UnsafeRawPointer) -> SIMD32<UInt8> {
            let n = block.loadUnaligned(fromByteOffset: 8, as: SIMD2<UInt64>.self)
            let nibbles = SIMD4<UInt64>(lowHalf: n, highHalf: n &>> 4) & AVX2Lanes.repeatedByte(0x0F)
            let qh = block.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            let byteIndex = AVX2Lanes.bytes(SIMD4<UInt64>(0, 0x0101_0101_0101_0101, 0x0202_0202_0202_0202, 0x0303_0303_0303_0303))
            let spread = AVX2Lanes.words(tinylm_shuffle_u8(unsafeBitCast(SIMD8<UInt32>(repeating: qh), to: SIMD32<UInt8>.self), byteIndex))
            let set = ~AVX2Lanes.words(tinylm_equal_u8(AVX2Lanes.bytes(spread & SIMD4(repeating: 0x8040_2010_0804_0201)), SIMD32<UInt8>()))
            return AVX2Lanes.bytes(nibbles | (set & AVX2Lanes.repeatedByte(0x10)))
        }
    }
}
#endif
