import Testing
@testable import TinyLM

/// DecodeAttentionTests' bit-for-bit check of the decode attention, with the f16 accumulator
/// on its AVX2 loops (three heads at once, one head) where the CPU would otherwise take the
/// AVX-512 module's. Elsewhere it repeats DecodeAttentionTests.
@Suite(.serialized) struct DecodeAttentionAVX2Tests {
    @Test(arguments: DecodeAttentionTests.shapes)
    func avx2AccumulatorIsThePerPositionArithmetic(_ shape: DecodeAttentionTests.Shape) throws {
        MatrixMultiply.allowsAVX512 = false
        defer { MatrixMultiply.allowsAVX512 = true }
        try DecodeAttentionTests().blockedDecodeIsThePerPositionArithmetic(shape)
    }
}
