// Q4_1 (ggml type 3): blocks of 32 values, 20 bytes.
//   offset 0: d   f16   scale
//   offset 2: m   f16   minimum
//   offset 4: qs  16 bytes; byte j holds element j in its low nibble and element j+16 in its
//                 high nibble. value = d · nibble + m
// Dot product against Q8_1 activations: d_w · d_a · Σ q·a + m_w · s_a.
// llama.cpp's order: vec_dot, for every batch.

public enum Q4_1: Block32Format {
    public static var blockElements: Int { 32 }
    public static var blockBytes: Int { 20 }
    static var isAffine: Bool { true }

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

    /// The nibble of value `i` of a block.
    @inline(__always)
    static func quant(_ block: UnsafeRawPointer, _ i: Int) -> Int32 {
        let byte = Int32(block.load(fromByteOffset: 4 + (i & 15), as: UInt8.self))
        return i < 16 ? byte & 15 : byte >> 4
    }

    /// The scalar reference: llama.cpp's order as plain loops (Formats/ReferenceOrders.swift).
    enum Reference {
        static func dot(_ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations, _ order: SummationOrder) -> Float {
            ReferenceOrders.vecDot32(Q4_1.self, row, blocks: blocks, a)
        }
    }
}
