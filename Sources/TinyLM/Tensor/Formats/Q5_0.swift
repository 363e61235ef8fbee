// Q5_0 (ggml type 6): blocks of 32 values, 22 bytes.
//   offset 0: d   f16
//   offset 2: qh  uint32 little-endian; bit j is the 5th (high) bit of element j
//   offset 6: qs  16 bytes; byte j: low nibble = low 4 bits of element j, high nibble = low 4
//                 bits of element j+16. value = d · (q − 16), q = nibble | (bit << 4)
// Dot product against Q8_0 activations: d_w · d_a · Σ (q−16)·a.
// Q5_1 (Q5_1.swift) shares the bit unpacking below.

public enum Q5_0: QuantizedDotFormat {
    public static var blockElements: Int { 32 }
    public static var blockBytes: Int { 22 }
    public static var activation: ActivationFormat { .q8_0 }

    public static func dequantizeRow(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 32 {
            let block = src + b * blockBytes
            let d = loadF16(block, 0)
            let qh = block.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
            for j in 0..<16 {
                let byte = block.load(fromByteOffset: 6 + j, as: UInt8.self)
                let q0 = Int(byte & 0xF) | Int((qh >> UInt32(j)) & 1) << 4
                let q1 = Int(byte >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
                out[b * 32 + j] = d * Float(q0 - 16)
                out[b * 32 + j + 16] = d * Float(q1 - 16)
            }
        }
    }

    public typealias Header = Float
    public typealias Sub = Sub32

    @inline(__always)
    public static func header(_ block: UnsafeRawPointer) -> Float { loadF16(block, 0) }

    @inline(__always)
    public static func sub(_ block: UnsafeRawPointer, _ header: Float, _ index: Int) -> Sub32 {
        let s = unpack5(block.loadUnaligned(fromByteOffset: 6, as: SIMD8<UInt16>.self),
                        block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        return Sub32(e0: s.e0 &- 16, o0: s.o0 &- 16, e1: s.e1 &- 16, o1: s.o1 &- 16)
    }

    @inline(__always)
    public static func subDot(_ sub: Sub32, _ header: Float, _ index: Int, _ a: UnsafePointer<Int16>) -> SIMD4<Int32> {
        subDotNarrow(sub, a)
    }

    @inline(__always)
    public static func finish(_ d: Float, _ isum: Int32, _ act: Q8Activations, _ blockIndex: Int) -> Float {
        floatValue(isum) * (d * act.d[blockIndex])
    }

    @inline(__always)
    public static func scales4(_ block: UnsafeRawPointer) -> SIMD4<Float> { loadF16x4(block, stride: blockBytes, offset: 0) }

    @inline(__always)
    public static func finish4(_ d: SIMD4<Float>, _ isums: SIMD4<Int32>, _ act: Q8Activations, _ blockIndex: Int) -> SIMD4<Float> {
        floatValues(isums) * (d * loadFloats4(act.d + blockIndex))
    }

    // Lanes ≤ |q−16| ≤ 16: 4·16·127 ≤ 8191.
    @inline(__always) public static var hasNarrowBlockDot: Bool { true }

    @inline(__always)
    public static func blockDot16(_ block: UnsafeRawPointer, _ a: UnsafePointer<Int16>) -> SIMD8<Int16> {
        subDotNarrow16(sub(block, header(block), 0), a)
    }

    @inline(__always)
    public static func finishRows(_ block: UnsafeRawPointer, stride: Int, _ isums: SIMD4<Int32>, _ act: Q8Activations,
                                  _ blockIndex: Int) -> SIMD4<Float> {
        floatValues(isums) * (loadF16x4(block, stride: stride, offset: 0) * SIMD4(repeating: act.d[blockIndex]))
    }
}

/// The 32 unsigned 5-bit values of a Q5_0/Q5_1 block in plane lane order.
/// The high bit of even lane i of a chunk is bit 2i of the chunk's 16 qh bits (odd lane: 2i+1):
/// isolate it with a per-lane mask (leaving 0 or 2^k ≤ 0x8000); adding 0x7FFF sets bit 15 exactly
/// when it was set; shift that down to bit 4. (Uniform shifts only: a multiply by per-lane
/// powers of two becomes per-lane shifts, which SSE2 does one lane at a time.)
@inline(__always)
func unpack5(_ n: SIMD8<UInt16>, _ qh: UInt32) -> Sub32 {
    let maskE = SIMD8<UInt16>(0x0001, 0x0004, 0x0010, 0x0040, 0x0100, 0x0400, 0x1000, 0x4000)
    let maskO = SIMD8<UInt16>(0x0002, 0x0008, 0x0020, 0x0080, 0x0200, 0x0800, 0x2000, 0x8000)
    let lo = SIMD8<UInt16>(repeating: UInt16(truncatingIfNeeded: qh))
    let hi = SIMD8<UInt16>(repeating: UInt16(truncatingIfNeeded: qh >> 16))
    @inline(__always) func bit4(_ v: SIMD8<UInt16>, _ mask: SIMD8<UInt16>) -> SIMD8<Int16> {
        unsafeBitCast((((v & mask) &+ 0x7FFF) &>> 11) & 0x0010, to: SIMD8<Int16>.self)
    }
    return Sub32(e0: lowNibblesE(n) | bit4(lo, maskE), o0: lowNibblesO(n) | bit4(lo, maskO),
                 e1: highNibblesE(n) | bit4(hi, maskE), o1: highNibblesO(n) | bit4(hi, maskO))
}
