// Small decoding helpers the block formats and their kernels share.

/// The f16 value at byte `offset` of `p`, as Float.
@inline(__always)
func loadF16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    FP16.toFloat(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}

/// Byte `index` (0..<8) of a little-endian word, zero- or sign-extended. (A variable-lane
/// extract: no Int -> UInt64 shift-amount conversion, which is a helper call in Embedded Swift.)
@inline(__always)
func byteOf(_ word: UInt64, _ index: Int) -> Int32 { Int32(unsafeBitCast(word, to: SIMD8<UInt8>.self)[index]) }
@inline(__always)
func signedByteOf(_ word: UInt64, _ index: Int) -> Int32 { Int32(unsafeBitCast(word, to: SIMD8<Int8>.self)[index]) }
