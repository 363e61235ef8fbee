// Q4_1 (ggml type 3): blocks of 32 values, 20 bytes.
//   offset 0: d   f16   scale
//   offset 2: m   f16   minimum
//   offset 4: qs  16 bytes; byte j holds element j in its low nibble and element j+16 in its
//                 high nibble. value = d · nibble + m
// Dot product against Q8_1 activations: d_w · d_a · Σ q·a + m_w · s_a.

public enum Q4_1: QuantizedDotFormat {
    public static var blockElements: Int { 32 }
    public static var blockBytes: Int { 20 }
    public static var activation: ActivationFormat { .q8_1 }

    public static func dequantizeRow(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 32 {
            let block = src + b * blockBytes
            let d = loadF16(block, 0)
            let m = loadF16(block, 2)
            for j in 0..<16 {
                let byte = block.load(fromByteOffset: 4 + j, as: UInt8.self)
                out[b * 32 + j] = d * Float(byte & 0xF) + m
                out[b * 32 + j + 16] = d * Float(byte >> 4) + m
            }
        }
    }

    public typealias Header = SIMD2<Float>
    public typealias Sub = Sub32

    @inline(__always)
    public static func header(_ block: UnsafeRawPointer) -> SIMD2<Float> {
        // Both f16 values in one 32-bit load, converted together.
        let bits = block.loadUnaligned(as: UInt32.self)
        return SIMD2(FP16.toFloat(UInt16(truncatingIfNeeded: bits)), FP16.toFloat(UInt16(truncatingIfNeeded: bits >> 16)))
    }

    @inline(__always)
    public static func sub(_ block: UnsafeRawPointer, _ header: SIMD2<Float>, _ index: Int) -> Sub32 {
        let n = block.loadUnaligned(fromByteOffset: 4, as: SIMD8<UInt16>.self)
        return Sub32(e0: lowNibblesE(n), o0: lowNibblesO(n), e1: highNibblesE(n), o1: highNibblesO(n))
    }

    @inline(__always)
    public static func subDot(_ sub: Sub32, _ header: SIMD2<Float>, _ index: Int, _ a: UnsafePointer<Int16>) -> SIMD4<Int32> {
        subDotNarrow(sub, a)
    }

    @inline(__always)
    public static func finish(_ h: SIMD2<Float>, _ isum: Int32, _ act: Q8Activations, _ blockIndex: Int) -> Float {
        (h[0] * act.d[blockIndex]) * floatValue(isum) + h[1] * act.s[blockIndex]
    }

    @inline(__always)
    public static func scales4(_ block: UnsafeRawPointer) -> PairScales4 {
        let h = loadF16Pairs4(block, stride: blockBytes)
        return PairScales4(d: h.d, m: h.m)
    }

    @inline(__always)
    public static func finish4(_ h: PairScales4, _ isums: SIMD4<Int32>, _ act: Q8Activations, _ blockIndex: Int) -> SIMD4<Float> {
        (h.d * loadFloats4(act.d + blockIndex)) * floatValues(isums) + h.m * loadFloats4(act.s + blockIndex)
    }

    // Lanes ≤ q ≤ 15: 4·15·127 ≤ 8191.
    @inline(__always) public static var hasNarrowBlockDot: Bool { true }

    @inline(__always)
    public static func blockDot16(_ block: UnsafeRawPointer, _ a: UnsafePointer<Int16>) -> SIMD8<Int16> {
        subDotNarrow16(sub(block, header(block), 0), a)
    }

    @inline(__always)
    public static func finishRows(_ block: UnsafeRawPointer, stride: Int, _ isums: SIMD4<Int32>, _ act: Q8Activations,
                                  _ blockIndex: Int) -> SIMD4<Float> {
        let h = loadF16Pairs4(block, stride: stride)
        return (h.d * SIMD4(repeating: act.d[blockIndex])) * floatValues(isums) + h.m * SIMD4(repeating: act.s[blockIndex])
    }
}
