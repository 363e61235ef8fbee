// Q2_K (ggml type 10): super-blocks of 256 values, 84 bytes.
//   offset  0: scales  16 bytes, one per 16 values: low nibble = scale, high nibble = min
//   offset 16: qs      64 bytes of 2-bit values
//   offset 80: d       f16
//   offset 82: dmin    f16
// For each half n (0, 1) of 128 values, j in 0..<4 and l in 0..<32:
//   q of value[128n + 32j + l] = (qs[32n + l] >> 2j) & 3
//   value[i] = d · (scales[i/16] & 15) · q − dmin · (scales[i/16] >> 4)
// Dot against Q8_K: d_w·d_a·Σ_c sc[c]·Σ q·a − dmin_w·d_a·Σ_c m[c]·bsums[c].

public enum Q2_K: QuantizedDotFormat {
    public static var blockElements: Int { 256 }
    public static var blockBytes: Int { 84 }
    public static var activation: ActivationFormat { .q8_K }

    public static func dequantizeRow(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 256 {
            let block = src + b * blockBytes
            let d = loadF16(block, 80)
            let dmin = loadF16(block, 82)
            for i in 0..<256 {
                let n = i >> 7, j = (i >> 5) & 3, l = i & 31
                let q = (block.load(fromByteOffset: 16 + 32 * n + l, as: UInt8.self) >> UInt8(2 * j)) & 3
                let sc = block.load(fromByteOffset: i / 16, as: UInt8.self)
                out[b * 256 + i] = d * Float(sc & 0xF) * Float(q) - dmin * Float(sc >> 4)
            }
        }
    }

    public struct Header {
        var d: Float
        var dmin: Float
        var scalesLow: UInt64
        var scalesHigh: UInt64
    }
    public typealias Sub = Sub32

    @inline(__always)
    public static func header(_ block: UnsafeRawPointer) -> Header {
        let bits = block.loadUnaligned(fromByteOffset: 80, as: UInt32.self)
        return Header(d: FP16.toFloat(UInt16(truncatingIfNeeded: bits)), dmin: FP16.toFloat(UInt16(truncatingIfNeeded: bits >> 16)),
                      scalesLow: block.loadUnaligned(as: UInt64.self),
                      scalesHigh: block.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    }

    @inline(__always)
    public static func sub(_ block: UnsafeRawPointer, _ header: Header, _ index: Int) -> Sub32 {
        let offset = 16 + (index >> 2) * 32
        let shift = UInt16((index & 3) * 2)
        let v0 = block.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt16>.self) &>> shift
        let v1 = block.loadUnaligned(fromByteOffset: offset + 16, as: SIMD8<UInt16>.self) &>> shift
        return Sub32(e0: unsafeBitCast(v0 & 0x0003, to: SIMD8<Int16>.self), o0: unsafeBitCast((v0 &>> 8) & 0x0003, to: SIMD8<Int16>.self),
                     e1: unsafeBitCast(v1 & 0x0003, to: SIMD8<Int16>.self), o1: unsafeBitCast((v1 &>> 8) & 0x0003, to: SIMD8<Int16>.self))
    }

    @inline(__always)
    public static func subDot(_ sub: Sub32, _ header: Header, _ index: Int, _ a: UnsafePointer<Int16>) -> SIMD4<Int32> {
        let word = index < 4 ? header.scalesLow : header.scalesHigh
        let s0 = byteOf(word, (index & 3) * 2) & 0xF
        let s1 = byteOf(word, (index & 3) * 2 + 1) & 0xF
        return widenPairs(chunkProducts(sub.e0, sub.o0, a, 0)) &* s0 &+ widenPairs(chunkProducts(sub.e1, sub.o1, a, 16)) &* s1
    }

    @inline(__always)
    public static func finish(_ h: Header, _ isum: Int32, _ act: Q8Activations, _ blockIndex: Int) -> Float {
        let ad = act.d[blockIndex]
        let bsums = act.bsums + blockIndex * 16
        var mins: Int32 = 0
        for c in 0..<16 {
            let word = c < 8 ? h.scalesLow : h.scalesHigh
            mins &+= (byteOf(word, c & 7) &>> 4) &* bsums[c]
        }
        return (h.d * ad) * floatValue(isum) - (h.dmin * ad) * floatValue(mins)
    }
}
