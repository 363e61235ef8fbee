// Q4_0 (ggml type 2): blocks of 32 values, 18 bytes.
//   offset 0: d   f16
//   offset 2: qs  16 bytes; byte j holds element j in its low nibble and element j+16 in its
//                 high nibble. value = d · (nibble − 8)
// Dot product against Q8_0 activations: d_w · d_a · Σ (q−8)·a.

public enum Q4_0: QuantizedDotFormat {
    public static var blockElements: Int { 32 }
    public static var blockBytes: Int { 18 }
    public static var activation: ActivationFormat { .q8_0 }

    public static func dequantizeRow(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 32 {
            let block = src + b * blockBytes
            let d = loadF16(block, 0)
            for j in 0..<16 {
                let byte = block.load(fromByteOffset: 2 + j, as: UInt8.self)
                out[b * 32 + j] = d * Float(Int(byte & 0xF) - 8)
                out[b * 32 + j + 16] = d * Float(Int(byte >> 4) - 8)
            }
        }
    }

    public typealias Header = Float
    public typealias Sub = Sub32

    @inline(__always)
    public static func header(_ block: UnsafeRawPointer) -> Float { loadF16(block, 0) }

    @inline(__always)
    public static func sub(_ block: UnsafeRawPointer, _ header: Float, _ index: Int) -> Sub32 {
        let n = block.loadUnaligned(fromByteOffset: 2, as: SIMD8<UInt16>.self)
        return Sub32(e0: lowNibblesE(n) &- 8, o0: lowNibblesO(n) &- 8, e1: highNibblesE(n) &- 8, o1: highNibblesO(n) &- 8)
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

    // Lanes ≤ |q−8| ≤ 8: 4·8·127 ≤ 8191.
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
