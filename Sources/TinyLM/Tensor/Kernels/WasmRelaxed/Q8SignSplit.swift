// A token's Q8_0 activations split once into their positive and negative parts, for the relaxed
// Q8_0 decode kernel (x·y = x·y⁺ − x·y⁻ with both parts in 0…127, the dot instruction's
// deterministic range). The kernel made them per block for every pair of rows: six lane
// operations per half block, 49 152 / 2 times per token for SmolLM2's output matrix.

#if TINYLM_RELAXED_SIMD
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

enum Q8SignSplit {
    /// Writes 2·count bytes: for each 16 quants at offset o, y⁺ at 2o and y⁻ at 2o + 16 (per
    /// block of 32: y⁺ and y⁻ of elements 0…15, then of 16…31). `count` is a multiple of 32.
    static func write(_ q8: UnsafePointer<Int8>, count: Int, into split: UnsafeMutablePointer<Int8>) {
        let source = UnsafeRawPointer(q8), target = UnsafeMutableRawPointer(split)
        let zero = SIMD16<Int8>()
        var offset = 0
        while offset + 16 <= count {
            let y = source.loadUnaligned(fromByteOffset: offset, as: SIMD16<Int8>.self)
            target.storeBytes(of: tinylm_max_i8(y, zero), toByteOffset: 2 * offset, as: SIMD16<Int8>.self)
            target.storeBytes(of: tinylm_max_i8(zero &- y, zero), toByteOffset: 2 * offset + 16, as: SIMD16<Int8>.self)
            offset += 16
        }
    }

    /// Block `b`'s four vectors: y⁺ and y⁻ of elements 0…15, then of 16…31.
    @inline(__always)
    static func block(_ split: UnsafePointer<Int8>, _ b: Int) -> (SIMD16<Int8>, SIMD16<Int8>, SIMD16<Int8>, SIMD16<Int8>) {
        block(at: UnsafeRawPointer(split + b &* 64))
    }

    /// The same four vectors of the block at `p` (split + 64·b).
    @inline(__always)
    static func block(at p: UnsafeRawPointer) -> (SIMD16<Int8>, SIMD16<Int8>, SIMD16<Int8>, SIMD16<Int8>) {
        return (p.loadUnaligned(as: SIMD16<Int8>.self), p.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self),
                p.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int8>.self), p.loadUnaligned(fromByteOffset: 48, as: SIMD16<Int8>.self))
    }
}
#endif
