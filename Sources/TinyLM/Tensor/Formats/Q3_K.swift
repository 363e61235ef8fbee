// Q3_K (ggml type 11): super-blocks of 256 values, 110 bytes.
//   offset   0: hmask   32 bytes; bit (4n + j) of hmask[l] is the high bit of value 128n + 32j + l
//   offset  32: qs      64 bytes of low 2-bit values, laid out as Q2_K's qs
//   offset  96: scales  12 bytes: sixteen 6-bit scales (stored +32). With the bytes read as
//                        three little-endian uint32 a0 a1 a2 (m4 = 0x0f0f0f0f, m2 = 0x03030303):
//                        s[0..<4]   = (a0 & m4)        | ((a2 >> 0 & m2) << 4)
//                        s[4..<8]   = (a1 & m4)        | ((a2 >> 2 & m2) << 4)
//                        s[8..<12]  = ((a0 >> 4) & m4) | ((a2 >> 4 & m2) << 4)
//                        s[12..<16] = ((a1 >> 4) & m4) | ((a2 >> 6 & m2) << 4)
//   offset 108: d       f16
//   value[i] = d · (s[i/16] − 32) · (q2 − (highBit ? 0 : 4))
// Dot against Q8_K: d_w·d_a·Σ_c (s[c]−32)·Σ q·a.

public enum Q3_K: QuantizedDotFormat {
    public static var blockElements: Int { 256 }
    public static var blockBytes: Int { 110 }
    public static var activation: ActivationFormat { .q8_K }

    @inline(__always)
    static func unpackScales(_ p: UnsafeRawPointer) -> (low: UInt64, high: UInt64) {
        let a0 = p.loadUnaligned(as: UInt32.self)
        let a1 = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let a2 = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        let m4: UInt32 = 0x0F0F_0F0F, m2: UInt32 = 0x0303_0303
        let s0 = (a0 & m4) | ((a2 & m2) << 4)
        let s1 = (a1 & m4) | (((a2 >> 2) & m2) << 4)
        let s2 = ((a0 >> 4) & m4) | (((a2 >> 4) & m2) << 4)
        let s3 = ((a1 >> 4) & m4) | (((a2 >> 6) & m2) << 4)
        return (UInt64(s0) | UInt64(s1) << 32, UInt64(s2) | UInt64(s3) << 32)
    }

    public static func dequantizeRow(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 256 {
            let block = src + b * blockBytes
            let d = loadF16(block, 108)
            let scales = unpackScales(block + 96)
            for i in 0..<256 {
                let n = i >> 7, j = (i >> 5) & 3, l = i & 31
                let q = Int((block.load(fromByteOffset: 32 + 32 * n + l, as: UInt8.self) >> UInt8(2 * j)) & 3)
                let high = (block.load(fromByteOffset: l, as: UInt8.self) >> UInt8(4 * n + j)) & 1
                let c = i / 16
                let word = c < 8 ? scales.low : scales.high
                let s = Int(byteOf(word, c & 7) & 0x3F) - 32
                out[b * 256 + i] = d * Float(s) * Float(q - (high == 0 ? 4 : 0))
            }
        }
    }

    public struct Header {
        var d: Float
        var scalesLow: UInt64
        var scalesHigh: UInt64
    }
    public typealias Sub = Sub32

    @inline(__always)
    public static func header(_ block: UnsafeRawPointer) -> Header {
        let s = unpackScales(block + 96)
        return Header(d: loadF16(block, 108), scalesLow: s.low, scalesHigh: s.high)
    }

    @inline(__always)
    public static func sub(_ block: UnsafeRawPointer, _ header: Header, _ index: Int) -> Sub32 {
        let offset = 32 + (index >> 2) * 32
        let shift = UInt16((index & 3) * 2)
        let v0 = block.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt16>.self) &>> shift
        let v1 = block.loadUnaligned(fromByteOffset: offset + 16, as: SIMD8<UInt16>.self) &>> shift
        let bit = UInt16(index)
        let h0 = block.loadUnaligned(as: SIMD8<UInt16>.self) &>> bit
        let h1 = block.loadUnaligned(fromByteOffset: 16, as: SIMD8<UInt16>.self) &>> bit
        // q2 | high << 2, minus 4: (q2 − 4) when the high bit is clear, q2 when it is set.
        let e0 = (v0 & 0x0003) | ((h0 & 0x0001) &<< 2)
        let o0 = ((v0 &>> 8) & 0x0003) | ((h0 & 0x0100) &>> 6)
        let e1 = (v1 & 0x0003) | ((h1 & 0x0001) &<< 2)
        let o1 = ((v1 &>> 8) & 0x0003) | ((h1 & 0x0100) &>> 6)
        return Sub32(e0: unsafeBitCast(e0, to: SIMD8<Int16>.self) &- 4, o0: unsafeBitCast(o0, to: SIMD8<Int16>.self) &- 4,
                     e1: unsafeBitCast(e1, to: SIMD8<Int16>.self) &- 4, o1: unsafeBitCast(o1, to: SIMD8<Int16>.self) &- 4)
    }

    @inline(__always)
    public static func subDot(_ sub: Sub32, _ header: Header, _ index: Int, _ a: UnsafePointer<Int16>) -> SIMD4<Int32> {
        let word = index < 4 ? header.scalesLow : header.scalesHigh
        let s0 = (byteOf(word, (index & 3) * 2) & 0x3F) &- 32
        let s1 = (byteOf(word, (index & 3) * 2 + 1) & 0x3F) &- 32
        return widenPairs(chunkProducts(sub.e0, sub.o0, a, 0)) &* s0 &+ widenPairs(chunkProducts(sub.e1, sub.o1, a, 16)) &* s1
    }

    @inline(__always)
    public static func finish(_ h: Header, _ isum: Int32, _ act: Q8Activations, _ blockIndex: Int) -> Float {
        (h.d * act.d[blockIndex]) * floatValue(isum)
    }
}
