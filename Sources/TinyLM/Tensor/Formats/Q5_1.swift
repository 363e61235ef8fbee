// Q5_1 (ggml type 7): blocks of 32 values, 24 bytes.
//   offset 0: d   f16   scale
//   offset 2: m   f16   minimum
//   offset 4: qh  uint32 little-endian; bit j is the 5th (high) bit of element j
//   offset 8: qs  16 bytes; byte j: low nibble = element j, high nibble = element j+16
//                 value = d · q + m, q = nibble | (bit << 4) in 0...31
// Dot product against Q8_1 activations: d_w · d_a · Σ q·a + m_w · s_a.

public enum Q5_1: QuantizedDotFormat {
    public static var blockElements: Int { 32 }
    public static var blockBytes: Int { 24 }
    public static var activation: ActivationFormat { .q8_1 }

    public static func dequantizeRow(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 32 {
            let block = src + b * blockBytes
            let d = loadF16(block, 0)
            let m = loadF16(block, 2)
            let qh = block.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            for j in 0..<16 {
                let byte = block.load(fromByteOffset: 8 + j, as: UInt8.self)
                let q0 = Int(byte & 0xF) | Int((qh >> UInt32(j)) & 1) << 4
                let q1 = Int(byte >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
                out[b * 32 + j] = d * Float(q0) + m
                out[b * 32 + j + 16] = d * Float(q1) + m
            }
        }
    }

    public typealias Header = SIMD2<Float>
    public typealias Sub = Sub32

    @inline(__always)
    public static func header(_ block: UnsafeRawPointer) -> SIMD2<Float> {
        let bits = block.loadUnaligned(as: UInt32.self)
        return SIMD2(FP16.toFloat(UInt16(truncatingIfNeeded: bits)), FP16.toFloat(UInt16(truncatingIfNeeded: bits >> 16)))
    }

    @inline(__always)
    public static func sub(_ block: UnsafeRawPointer, _ header: SIMD2<Float>, _ index: Int) -> Sub32 {
        unpack5(block.loadUnaligned(fromByteOffset: 8, as: SIMD8<UInt16>.self),
                block.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
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

    @inline(__always)
    public static func finishRows(_ block: UnsafeRawPointer, stride: Int, _ isums: SIMD4<Int32>, _ act: Q8Activations,
                                  _ blockIndex: Int) -> SIMD4<Float> {
        let h = loadF16Pairs4(block, stride: stride)
        return (h.d * SIMD4(repeating: act.d[blockIndex])) * floatValues(isums) + h.m * SIMD4(repeating: act.s[blockIndex])
    }
}
