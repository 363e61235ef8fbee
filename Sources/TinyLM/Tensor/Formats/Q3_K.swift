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
// llama.cpp's orders: vec_dot, or tiled for batches of 8+ (Kernels/SummationOrder.swift).

public enum Q3_K: SuperBlockFormat {
    public static var blockElements: Int { 256 }
    public static var blockBytes: Int { 110 }
    static var scaleGroup: Int { 16 }
    static var hasMins: Bool { false }
    static var gemmSpan: Int { 256 }

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

    @inline(__always) static func d(_ block: UnsafeRawPointer) -> Float { loadF16(block, 108) }
    @inline(__always) static func dmin(_ block: UnsafeRawPointer) -> Float { 0 }

    /// q2 − (high bit ? 0 : 4), i.e. code − 4 with code = q2 | high << 2 (0…7).
    @inline(__always)
    static func quant(_ block: UnsafeRawPointer, _ i: Int) -> Int32 {
        let n = i >> 7, j = (i >> 5) & 3, l = i & 31
        let low = Int32(block.load(fromByteOffset: 32 + 32 * n + l, as: UInt8.self) >> UInt8(2 * j)) & 3
        let high = Int32(block.load(fromByteOffset: l, as: UInt8.self) >> UInt8(4 * n + j)) & 1
        return (low | high << 2) - 4
    }

    /// s − 32.
    @inline(__always)
    static func scale(_ block: UnsafeRawPointer, _ group: Int) -> Int32 {
        let s = unpackScales(block + 96)
        return Int32(byteOf(group < 8 ? s.low : s.high, group & 7)) - 32
    }

    @inline(__always) static func minimum(_ block: UnsafeRawPointer, _ group: Int) -> Int32 { 0 }

    /// The scalar reference: llama.cpp's orders as plain loops (Formats/ReferenceOrders.swift).
    enum Reference {
        static func dot(_ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations, _ order: SummationOrder) -> Float {
            order == .tiled ? ReferenceOrders.tiled(Q3_K.self, row, blocks: blocks, a) : vecDot(row, blocks: blocks, a)
        }

        /// vec_dot_q3_K_q8_K: the eight lanes with each value's −4 offset inside its own lane,
        /// acc[l] = fma(d_a·d_w, lane l, acc[l]) per super-block; the result is hsum8(acc).
        static func vecDot(_ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations) -> Float {
            var acc = SIMD8<Float>()
            for b in 0..<blocks {
                let block = row + b * Q3_K.blockBytes
                let lanes = ReferenceOrders.vecDotLanes(Q3_K.self, block, a, blockIndex: b)
                let scale = a.d[b] * Q3_K.d(block)
                for l in 0..<8 { acc[l] = LaneMath.fusedMultiplyAdd(scale, LaneMath.roundedFloat(lanes[l]), acc[l]) }
            }
            return LaneMath.horizontalSum(acc)
        }
    }
}
