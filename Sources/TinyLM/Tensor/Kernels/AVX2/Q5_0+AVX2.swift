// Q5_0's AVX2 kernels: vec_dot (and tinyBLAS for batches, the same order) with ggml's
// instructions; single tokens read the blocks in place, batches unpack each group of four rows.

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q5_0 {
    enum AVX2: AVX2Block32Format {
        static var blockBytes: Int { Q5_0.blockBytes }
        static var isAffine: Bool { false }
        static var codeOffset: UInt8 { 16 }
        static var signedCodes: Bool { false }

        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            AVX2Block32.multiply(Self.self, job, rows: rows) { Q5_0.SIMD128.multiply(job, rows: $0) }
        }

        @inline(__always)
        static func lanes(_ block: UnsafeRawPointer, _ y: SIMD32<Int8>) -> SIMD8<Int32> { AVX2Lanes.signedLanes(signedQuants(block), y) }

        @inline(__always)
        static func values(_ block: UnsafeRawPointer) -> SIMD32<Int8> { signedQuants(block) }

        /// q (0…31), unsigned: the batch kernel takes the −16 off per block.
        @inline(__always)
        static func codes(_ block: UnsafeRawPointer) -> SIMD32<UInt8> {
            let x = AVX2Lanes.words(unsafeBitCast(signedQuants(block), to: SIMD32<UInt8>.self))
            return AVX2Lanes.bytes((x ^ AVX2Lanes.repeatedByte(0x10)) & AVX2Lanes.repeatedByte(0x1F))
        }

        /// q − 16 = nibble − 16 + 16·high bit: bytes whose high bit (bit i of qh for value i) is
        /// clear get 0xF0 ORed in, which is nibble − 16 in two's complement. vpshufb copies qh's
        /// byte i/8 to byte i, and each byte tests its own bit, i mod 8.
        @inline(__always)
        static func signedQuants(_ block: UnsafeRawPointer) -> SIMD32<Int8> {
            let n = block.loadUnaligned(fromByteOffset: 6, as: SIMD2<UInt64>.self)
            let nibbles = SIMD4<UInt64>(lowHalf: n, highHalf: n &>> 4) & AVX2Lanes.repeatedByte(0x0F)
            let qh = block.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
            let byteIndex = AVX2Lanes.bytes(SIMD4<UInt64>(0, 0x0101_0101_0101_0101, 0x0202_0202_0202_0202, 0x0303_0303_0303_0303))
            let spread = AVX2Lanes.words(tinylm_shuffle_u8(unsafeBitCast(SIMD8<UInt32>(repeating: qh), to: SIMD32<UInt8>.self), byteIndex))
            let clear = tinylm_equal_u8(AVX2Lanes.bytes(spread & SIMD4(repeating: 0x8040_2010_0804_0201)), SIMD32<UInt8>())
            return unsafeBitCast(nibbles | (AVX2Lanes.words(clear) & AVX2Lanes.repeatedByte(0xF0)), to: SIMD32<Int8>.self)
        }
    }
}
#endif
