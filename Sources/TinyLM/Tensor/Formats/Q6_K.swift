// Q6_K (ggml type 14): super-blocks of 256 values, 210 bytes.
//   offset   0: ql      128 bytes, low 4 bits
//   offset 128: qh       64 bytes, high 2 bits
//   offset 192: scales   16 × int8, one per 16 values
//   offset 208: d        f16
// For each half n (0, 1) of 128 values and l in 0..<32, with ql += 64n, qh += 32n:
//   value[128n +      l] from ql[l]    low nibble, qh[l] bits 0-1
//   value[128n + 32 + l] from ql[l+32] low nibble, qh[l] bits 2-3
//   value[128n + 64 + l] from ql[l]    high nibble, qh[l] bits 4-5
//   value[128n + 96 + l] from ql[l+32] high nibble, qh[l] bits 6-7
//   value[i] = d · scales[i / 16] · (q − 32), q = nibble | bits << 4
// Dot against Q8_K: d_w·d_a·Σ_chunks scales[c]·Σ (q−32)·a.

public enum Q6_K: QuantizedDotFormat {
    public static var blockElements: Int { 256 }
    public static var blockBytes: Int { 210 }
    public static var activation: ActivationFormat { .q8_K }

    public static func dequantizeRow(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 256 {
            let block = src + b * blockBytes
            let d = loadF16(block, 208)
            for i in 0..<256 {
                let n = i >> 7, k = (i >> 5) & 3, l = i & 31
                let ql = block.load(fromByteOffset: n * 64 + (k & 1) * 32 + l, as: UInt8.self)
                let qh = block.load(fromByteOffset: 128 + n * 32 + l, as: UInt8.self)
                let q = Int((ql >> UInt8((k >> 1) * 4)) & 0xF) | Int((qh >> UInt8(2 * k)) & 3) << 4
                let sc = Float(block.load(fromByteOffset: 192 + i / 16, as: Int8.self))
                out[b * 256 + i] = d * sc * Float(q - 32)
            }
        }
    }

    public struct Header {
        var d: Float
        /// The 16 int8 scales, 8 per word.
        var scalesLow: UInt64
        var scalesHigh: UInt64
    }
    public typealias Sub = Sub32

    @inline(__always)
    public static func header(_ block: UnsafeRawPointer) -> Header {
        Header(d: loadF16(block, 208), scalesLow: block.loadUnaligned(fromByteOffset: 192, as: UInt64.self),
               scalesHigh: block.loadUnaligned(fromByteOffset: 200, as: UInt64.self))
    }

    @inline(__always)
    public static func sub(_ block: UnsafeRawPointer, _ header: Header, _ index: Int) -> Sub32 {
        let u = unsignedSub(block, index)
        return Sub32(e0: u.e0 &- 32, o0: u.o0 &- 32, e1: u.e1 &- 32, o1: u.o1 &- 32)
    }

    /// Sub-block `index` (32 values) as the stored 6-bit q (0…63), before the −32 offset.
    @inline(__always)
    static func unsignedSub(_ block: UnsafeRawPointer, _ index: Int) -> Sub32 {
        let n = index >> 2, k = index & 3
        let qlOffset = n * 64 + (k & 1) * 32
        let nibbleShift = UInt16((k >> 1) * 4)
        let l0 = block.loadUnaligned(fromByteOffset: qlOffset, as: SIMD8<UInt16>.self) &>> nibbleShift
        let l1 = block.loadUnaligned(fromByteOffset: qlOffset + 16, as: SIMD8<UInt16>.self) &>> nibbleShift
        let highShift = UInt16(2 * k)
        let h0 = block.loadUnaligned(fromByteOffset: 128 + n * 32, as: SIMD8<UInt16>.self) &>> highShift
        let h1 = block.loadUnaligned(fromByteOffset: 128 + n * 32 + 16, as: SIMD8<UInt16>.self) &>> highShift
        // Bits 0-1 of each byte -> bits 4-5 of its lane.
        return Sub32(e0: lowNibblesE(l0) | unsafeBitCast((h0 & 0x0003) &<< 4, to: SIMD8<Int16>.self),
                     o0: lowNibblesO(l0) | unsafeBitCast((h0 & 0x0300) &>> 4, to: SIMD8<Int16>.self),
                     e1: lowNibblesE(l1) | unsafeBitCast((h1 & 0x0003) &<< 4, to: SIMD8<Int16>.self),
                     o1: lowNibblesO(l1) | unsafeBitCast((h1 & 0x0300) &>> 4, to: SIMD8<Int16>.self))
    }

    @inline(__always)
    public static func subDot(_ sub: Sub32, _ header: Header, _ index: Int, _ a: UnsafePointer<Int16>) -> SIMD4<Int32> {
        // |q−32|·|a| ≤ 32·127: two products per lane fit Int16; widen per 16-chunk, then scale.
        let word = index < 4 ? header.scalesLow : header.scalesHigh
        let s0 = signedByteOf(word, (index & 3) * 2)
        let s1 = signedByteOf(word, (index & 3) * 2 + 1)
        return widenPairs(chunkProducts(sub.e0, sub.o0, a, 0)) &* s0 &+ widenPairs(chunkProducts(sub.e1, sub.o1, a, 16)) &* s1
    }

    @inline(__always)
    public static func finish(_ h: Header, _ isum: Int32, _ act: Q8Activations, _ blockIndex: Int) -> Float {
        (h.d * act.d[blockIndex]) * floatValue(isum)
    }
}
