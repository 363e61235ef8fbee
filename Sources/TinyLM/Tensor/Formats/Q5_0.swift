// Q5_0 (ggml type 6): blocks of 32 values, 22 bytes.
//   offset 0: d   f16
//   offset 2: qh  uint32 little-endian; bit j is the 5th (high) bit of element j
//   offset 6: qs  16 bytes; byte j: low nibble = low 4 bits of element j, high nibble = low 4
//                 bits of element j+16. value = d · (q − 16), q = nibble | (bit << 4)
// Dot product against Q8_0 activations: d_w · d_a · Σ (q−16)·a.
// llama.cpp's order: vec_dot (and tinyBLAS for batches, in the same order).

public enum Q5_0: Block32Format {
    public static var blockElements: Int { 32 }
    public static var blockBytes: Int { 22 }
    static var isAffine: Bool { false }

    public static func dequantizeRow(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 32 {
            let block = src + b * blockBytes
            let d = loadF16(block, 0)
            let qh = block.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
            for j in 0..<16 {
                let byte = block.load(fromByteOffset: 6 + j, as: UInt8.self)
                let q0 = Int(byte & 0xF) | Int((qh >> UInt32(j)) & 1) << 4
                let q1 = Int(byte >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
                out[b * 32 + j] = d * Float(q0 - 16)
                out[b * 32 + j + 16] = d * Float(q1 - 16)
            }
        }
    }

    /// q − 16 of value `i` of a block.
    @inline(__always)
    static func quant(_ block: UnsafeRawPointer, _ i: Int) -> Int32 {
        let byte = Int32(block.load(fromByteOffset: 6 + (i & 15), as: UInt8.self))
        let high = Int32(bitPattern: (block.loadUnaligned(fromByteOffset: 2, as: UInt32.self) >> UInt32(i)) & 1)
        return ((i < 16 ? byte & 15 : byte >> 4) | high << 4) - 16
    }

    /// The scalar reference: llama.cpp's order as plain loops (Formats/ReferenceOrders.swift).
    enum Reference {
        static func dot(_ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations, _ order: SummationOrder) -> Float {
            ReferenceOrders.vecDot32(Q5_0.self, row, blocks: blocks, a)
        }
    }
}
