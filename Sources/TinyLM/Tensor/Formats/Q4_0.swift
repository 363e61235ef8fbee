// Q4_0 (ggml type 2): blocks of 32 values, 18 bytes.
//   offset 0: d   f16
//   offset 2: qs  16 bytes; byte j holds element j in its low nibble and element j+16 in its
//                 high nibble. value = d · (nibble − 8)
// Dot product against Q8_0 activations: d_w · d_a · Σ (q−8)·a.
// llama.cpp's orders: vec_dot (and tinyBLAS for batches), or, for matrices whose row count is
// a multiple of 8, the repacked GEMM/GEMV (Kernels/SummationOrder.swift).

public enum Q4_0: Block32Format {
    public static var blockElements: Int { 32 }
    public static var blockBytes: Int { 18 }
    static var isAffine: Bool { false }

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

    /// q − 8 of value `i` of a block.
    @inline(__always)
    static func quant(_ block: UnsafeRawPointer, _ i: Int) -> Int32 {
        let byte = Int32(block.load(fromByteOffset: 2 + (i & 15), as: UInt8.self))
        return (i < 16 ? byte & 15 : byte >> 4) - 8
    }

    /// The scalar reference: llama.cpp's orders as plain loops (Formats/ReferenceOrders.swift).
    enum Reference {
        static func dot(_ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations, _ order: SummationOrder) -> Float {
            order == .vecDot ? ReferenceOrders.vecDot32(Q4_0.self, row, blocks: blocks, a)
                             : ReferenceOrders.blockwise32(Q4_0.self, row, blocks: blocks, a)
        }
    }
}
