// Q5_1 (ggml type 7): blocks of 32 values, 24 bytes.
//   offset 0: d   f16   scale
//   offset 2: m   f16   minimum
//   offset 4: qh  uint32 little-endian; bit j is the 5th (high) bit of element j
//   offset 8: qs  16 bytes; byte j: low nibble = element j, high nibble = element j+16
//                 value = d · q + m, q = nibble | (bit << 4) in 0...31
// Dot product against Q8_1 activations: d_w · d_a · Σ q·a + m_w · s_a.
// llama.cpp's order: vec_dot, for every batch (Q4_1's order).

public enum Q5_1: Block32Format {
    public static var blockElements: Int { 32 }
    public static var blockBytes: Int { 24 }
    static var isAffine: Bool { true }

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

    /// q (0…31) of value `i` of a block.
    @inline(__always)
    static func quant(_ block: UnsafeRawPointer, _ i: Int) -> Int32 {
        let byte = Int32(block.load(fromByteOffset: 8 + (i & 15), as: UInt8.self))
        let high = Int32(bitPattern: (block.loadUnaligned(fromByteOffset: 4, as: UInt32.self) >> UInt32(i)) & 1)
        return (i < 16 ? byte & 15 : byte >> 4) | high << 4
    }

    /// The scalar reference: llama.cpp's order as plain loops (Formats/ReferenceOrders.swift).
    enum Reference {
        static func dot(_ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations, _ order: SummationOrder) -> Float {
            ReferenceOrders.vecDot32(Q5_1.self, row, blocks: blocks, a)
        }
    }
}
