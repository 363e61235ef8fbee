// Q2_K (ggml type 10): super-blocks of 256 values, 84 bytes.
//   offset  0: scales  16 bytes, one per 16 values: low nibble = scale, high nibble = min
//   offset 16: qs      64 bytes of 2-bit values
//   offset 80: d       f16
//   offset 82: dmin    f16
// For each half n (0, 1) of 128 values, j in 0..<4 and l in 0..<32:
//   q of value[128n + 32j + l] = (qs[32n + l] >> 2j) & 3
//   value[i] = d · (scales[i/16] & 15) · q − dmin · (scales[i/16] >> 4)
// Dot against Q8_K: d_w·d_a·Σ_c sc[c]·Σ q·a − dmin_w·d_a·Σ_c m[c]·bsums[c].
// llama.cpp's orders: vec_dot, tiled (batches of 8+), or, for matrices whose row count is a
// multiple of 8, the repacked GEMM (per 128 values) and GEMV (Kernels/SummationOrder.swift).

public enum Q2_K: SuperBlockFormat {
    public static var blockElements: Int { 256 }
    public static var blockBytes: Int { 84 }
    static var scaleGroup: Int { 16 }
    static var hasMins: Bool { true }
    static var gemmSpan: Int { 128 }

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

    @inline(__always) static func d(_ block: UnsafeRawPointer) -> Float { loadF16(block, 80) }
    @inline(__always) static func dmin(_ block: UnsafeRawPointer) -> Float { loadF16(block, 82) }

    @inline(__always)
    static func quant(_ block: UnsafeRawPointer, _ i: Int) -> Int32 {
        let n = i >> 7, j = (i >> 5) & 3, l = i & 31
        return Int32(block.load(fromByteOffset: 16 + 32 * n + l, as: UInt8.self) >> UInt8(2 * j)) & 3
    }

    @inline(__always)
    static func scale(_ block: UnsafeRawPointer, _ group: Int) -> Int32 { Int32(block.load(fromByteOffset: group, as: UInt8.self) & 15) }

    @inline(__always)
    static func minimum(_ block: UnsafeRawPointer, _ group: Int) -> Int32 { Int32(block.load(fromByteOffset: group, as: UInt8.self) >> 4) }

    /// The scalar reference: llama.cpp's orders as plain loops (Formats/ReferenceOrders.swift).
    enum Reference {
        static func dot(_ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations, _ order: SummationOrder) -> Float {
            switch order {
            case .gemv: return ReferenceOrders.gemv(Q2_K.self, row, blocks: blocks, a)
            case .gemm: return ReferenceOrders.gemm(Q2_K.self, row, blocks: blocks, a)
            case .tiled: return ReferenceOrders.tiled(Q2_K.self, row, blocks: blocks, a)
            case .vecDot: return vecDot(row, blocks: blocks, a)
            }
        }

        /// vec_dot_q2_K_q8_K: per super-block, first the mins into the eight lanes,
        /// acc[l] = fma(−d_a·dmin_w, m_2l·T_2l + m_2l+1·T_2l+1, acc[l]) (T: the sums of 16
        /// activations), then the scaled products, acc[l] = fma(d_a·d_w, lane l, acc[l]);
        /// the result is hsum8(acc).
        static func vecDot(_ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations) -> Float {
            var acc = SIMD8<Float>()
            for b in 0..<blocks {
                let block = row + b * Q2_K.blockBytes
                let minScale = -a.d[b] * Q2_K.dmin(block)
                for l in 0..<8 {
                    let mins = Q2_K.minimum(block, 2 * l) * a.bsums[16 * b + 2 * l]
                        + Q2_K.minimum(block, 2 * l + 1) * a.bsums[16 * b + 2 * l + 1]
                    acc[l] = LaneMath.fusedMultiplyAdd(minScale, LaneMath.roundedFloat(mins), acc[l])
                }
                let lanes = ReferenceOrders.vecDotLanes(Q2_K.self, block, a, blockIndex: b)
                let scale = a.d[b] * Q2_K.d(block)
                for l in 0..<8 { acc[l] = LaneMath.fusedMultiplyAdd(scale, LaneMath.roundedFloat(lanes[l]), acc[l]) }
            }
            return LaneMath.horizontalSum(acc)
        }
    }
}
