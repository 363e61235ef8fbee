// Q8_1 (ggml type 9): the activation format of Q4_1 and Q5_1 weights. Blocks of 32, 36 bytes.
//   offset 0: d   f16   scale
//   offset 2: s   f16   d · Σ qs  (computed with the unrounded d, then rounded to f16)
//   offset 4: qs  32 × int8, value[i] = d · qs[i]
// Quantization follows ggml's quantize_row_q8_1_ref: identical quants and d to Q8_0; the sum
// lets an "affine" weight block (value = d_w·q + m_w) contribute m_w · s without touching the
// quants: Σ (d_w q_i + m_w)(d_a a_i) = d_w d_a Σ q_i a_i + m_w · s.

public enum Q8_1 {
    public static var blockElements: Int { 32 }
    public static var blockBytes: Int { 36 }

    /// ggml's quantize_row_q8_1_ref into packed blocks.
    public static func quantizeRow(_ x: UnsafePointer<Float>, count: Int, into out: UnsafeMutableRawPointer) {
        for b in 0..<count / 32 {
            let block = out + b * blockBytes
            let r = Q8_0.quantizeBlock(x + b * 32, (block + 4).assumingMemoryBound(to: Int8.self))
            block.storeBytes(of: r.d, toByteOffset: 0, as: UInt16.self)
            block.storeBytes(of: FP16.fromFloat(LaneMath.roundedFloat(r.sum) * r.scale), toByteOffset: 2, as: UInt16.self)
        }
    }

    public static func dequantizeRow(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 32 {
            let block = src + b * blockBytes
            let d = loadF16(block, 0)
            for i in 0..<32 {
                out[b * 32 + i] = d * Float(block.load(fromByteOffset: 4 + i, as: Int8.self))
            }
        }
    }

    /// Activation planes (Kernels/SIMD128/SIMD128Lanes.swift) with the per-block sums.
    public static func quantizeActivations(_ x: UnsafePointer<Float>, count: Int, q8: UnsafeMutablePointer<Int8>,
                                           q: UnsafeMutablePointer<Int16>, d: UnsafeMutablePointer<Float>,
                                           s: UnsafeMutablePointer<Float>) {
        Q8_0.quantizeActivations(x, count: count, q8: q8, q: q, d: d, s: s)
    }
}
