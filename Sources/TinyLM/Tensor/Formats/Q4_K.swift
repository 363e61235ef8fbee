// Q4_K (ggml type 12): super-blocks of 256 values, 144 bytes.
//   offset  0: d       f16   super-block scale for the sub-block scales
//   offset  2: dmin    f16   super-block scale for the sub-block mins
//   offset  4: scales  12 bytes: eight 6-bit scales sc[j] and eight 6-bit mins m[j], j = 0..<8
//                       j < 4:  sc = b[j] & 63,                       m = b[j+4] & 63
//                       j >= 4: sc = (b[j+4] & 15) | (b[j-4] >> 6) << 4, m = (b[j+4] >> 4) | (b[j] >> 6) << 4
//   offset 16: qs      128 bytes, 4 groups of 32 bytes; group g holds sub-block 2g in the low
//                       nibbles and sub-block 2g+1 in the high nibbles (element l of a sub-block
//                       is byte l of its group).
//   value in sub-block j = d·sc[j] · q − dmin·m[j]
// Dot against Q8_K: d_w·d_a·Σ_j sc[j]·Σ q·a − dmin_w·d_a·Σ_j m[j]·(bsum[2j] + bsum[2j+1]).

public enum Q4_K: QuantizedDotFormat {
    public static var blockElements: Int { 256 }
    public static var blockBytes: Int { 144 }
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
                    let byte = block.load(fromByteOffset: 16 + (j >> 1) * 32 + l, as: UInt8.self)
                    out[b * 256 + j * 32 + l] = d * sc * Float((byte >> shift) & 0xF) - dmin * m
                }
            }
        }
    }

    public struct Header {
        var d: Float
        var dmin: Float
        var scales: UInt64
        var mins: UInt64
    }
    public typealias Sub = Sub32

    @inline(__always)
    public static func header(_ block: UnsafeRawPointer) -> Header {
        let bits = block.loadUnaligned(as: UInt32.self)
        let sm = unpackScaleMin(block + 4)
        return Header(d: FP16.toFloat(UInt16(truncatingIfNeeded: bits)), dmin: FP16.toFloat(UInt16(truncatingIfNeeded: bits >> 16)),
                      scales: sm.scales, mins: sm.mins)
    }

    @inline(__always)
    public static func sub(_ block: UnsafeRawPointer, _ header: Header, _ index: Int) -> Sub32 {
        let offset = 16 + (index >> 1) * 32
        let shift = UInt16((index & 1) * 4)
        let n0 = block.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt16>.self) &>> shift
        let n1 = block.loadUnaligned(fromByteOffset: offset + 16, as: SIMD8<UInt16>.self) &>> shift
        return Sub32(e0: lowNibblesE(n0), o0: lowNibblesO(n0), e1: lowNibblesE(n1), o1: lowNibblesO(n1))
    }

    @inline(__always)
    public static func subDot(_ sub: Sub32, _ header: Header, _ index: Int, _ a: UnsafePointer<Int16>) -> SIMD4<Int32> {
        let scale = byteOf(header.scales, index)
        return subDotNarrow(sub, a) &* scale
    }

    @inline(__always)
    public static func finish(_ h: Header, _ isum: Int32, _ act: Q8Activations, _ blockIndex: Int) -> Float {
        let ad = act.d[blockIndex]
        let mins = minSum(h.mins, act.bsums + blockIndex * 16)
        return (h.d * ad) * floatValue(isum) - (h.dmin * ad) * floatValue(mins)
    }
}

/// Q4_K/Q5_K's 12 scale bytes to eight 6-bit scales and eight 6-bit mins, one per byte of a
/// UInt64 each (byte j = sub-block j).
@inline(__always)
func unpackScaleMin(_ p: UnsafeRawPointer) -> (scales: UInt64, mins: UInt64) {
    let u0 = p.loadUnaligned(as: UInt32.self)
    let u1 = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
    let u2 = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
    let low6: UInt32 = 0x3F3F_3F3F, low4: UInt32 = 0x0F0F_0F0F, low2: UInt32 = 0x0303_0303
    let sc0 = u0 & low6                                         // sc[0..<4]
    let sc1 = (u2 & low4) | (((u0 >> 6) & low2) << 4)           // sc[4..<8]
    let m0 = u1 & low6                                          // m[0..<4]
    let m1 = ((u2 >> 4) & low4) | (((u1 >> 6) & low2) << 4)     // m[4..<8]
    return (UInt64(sc0) | UInt64(sc1) << 32, UInt64(m0) | UInt64(m1) << 32)
}

/// Σ_j m[j] · (bsums[2j] + bsums[2j+1]) for eight per-32 mins packed in a UInt64.
@inline(__always)
func minSum(_ mins: UInt64, _ bsums: UnsafePointer<Int32>) -> Int32 {
    var total: Int32 = 0
    for j in 0..<8 {
        let m = byteOf(mins, j)
        total &+= m &* (bsums[2 * j] &+ bsums[2 * j + 1])
    }
    return total
}
