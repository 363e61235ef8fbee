// Q5_K (ggml type 13): super-blocks of 256 values, 176 bytes.
//   offset  0: d       f16
//   offset  2: dmin    f16
//   offset  4: scales  12 bytes, eight 6-bit scales and mins packed exactly as in Q4_K
//   offset 16: qh      32 bytes; bit j of byte l is the high (5th) bit of element l of sub-block j
//   offset 48: qs      128 bytes, low 4 bits, laid out as Q4_K's qs
//   value in sub-block j = d·sc[j] · (nibble | bit << 4) − dmin·m[j]
// Dot against Q8_K as Q4_K.

public enum Q5_K: QuantizedDotFormat {
    public static var blockElements: Int { 256 }
    public static var blockBytes: Int { 176 }
    public static var activation: ActivationFormat { .q8_K }

    public static func dequantizeRow(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 256 {
            let block = src + b * blockBytes
            let d = loadF16(block, 0)
            let dmin = loadF16(block, 2)
            let sm = unpackScaleMin(block + 4)
            for j in 0..<8 {
                let sc = Float(Int(byteOf(sm.scales, j)))
                let m = Float(Int(byteOf(sm.mins, j)))
                let shift = UInt8((j & 1) * 4)
                for l in 0..<32 {
                    let byte = block.load(fromByteOffset: 48 + (j >> 1) * 32 + l, as: UInt8.self)
                    let high = (block.load(fromByteOffset: 16 + l, as: UInt8.self) >> UInt8(j)) & 1
                    let q = ((byte >> shift) & 0xF) | (high << 4)
                    out[b * 256 + j * 32 + l] = d * sc * Float(q) - dmin * m
                }
            }
        }
    }

    public typealias Header = Q4_K.Header
    public typealias Sub = Sub32

    @inline(__always)
    public static func header(_ block: UnsafeRawPointer) -> Header { Q4_K.header(block) }

    @inline(__always)
    public static func sub(_ block: UnsafeRawPointer, _ header: Header, _ index: Int) -> Sub32 {
        let offset = 48 + (index >> 1) * 32
        let shift = UInt16((index & 1) * 4)
        let n0 = block.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt16>.self) &>> shift
        let n1 = block.loadUnaligned(fromByteOffset: offset + 16, as: SIMD8<UInt16>.self) &>> shift
        let bit = UInt16(index)
        let h0 = block.loadUnaligned(fromByteOffset: 16, as: SIMD8<UInt16>.self) &>> bit
        let h1 = block.loadUnaligned(fromByteOffset: 32, as: SIMD8<UInt16>.self) &>> bit
        // Bit 0 of each byte -> bit 4 of its lane.
        let he0 = unsafeBitCast((h0 & 0x0001) &<< 4, to: SIMD8<Int16>.self)
        let ho0 = unsafeBitCast((h0 & 0x0100) &>> 4, to: SIMD8<Int16>.self)
        let he1 = unsafeBitCast((h1 & 0x0001) &<< 4, to: SIMD8<Int16>.self)
        let ho1 = unsafeBitCast((h1 & 0x0100) &>> 4, to: SIMD8<Int16>.self)
        return Sub32(e0: lowNibblesE(n0) | he0, o0: lowNibblesO(n0) | ho0, e1: lowNibblesE(n1) | he1, o1: lowNibblesO(n1) | ho1)
    }

    @inline(__always)
    public static func subDot(_ sub: Sub32, _ header: Header, _ index: Int, _ a: UnsafePointer<Int16>) -> SIMD4<Int32> {
        Q4_K.subDot(sub, header, index, a)
    }

    @inline(__always)
    public static func finish(_ h: Header, _ isum: Int32, _ act: Q8Activations, _ blockIndex: Int) -> Float {
        Q4_K.finish(h, isum, act, blockIndex)
    }
}
