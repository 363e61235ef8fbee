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
// llama.cpp's orders: vec_dot, tiled (batches of 8+), or, for matrices whose row count is a
// multiple of 8, the repacked GEMM (per 64 values) and GEMV (Kernels/SummationOrder.swift).

public enum Q4_K: SuperBlockFormat {
    public static var blockElements: Int { 256 }
    public static var blockBytes: Int { 144 }
    static var scaleGroup: Int { 32 }
    static var hasMins: Bool { true }
    static var gemmSpan: Int { 64 }

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

    @inline(__always) static func d(_ block: UnsafeRawPointer) -> Float { loadF16(block, 0) }
    @inline(__always) static func dmin(_ block: UnsafeRawPointer) -> Float { loadF16(block, 2) }

    @inline(__always)
    static func quant(_ block: UnsafeRawPointer, _ i: Int) -> Int32 {
        let j = i >> 5, l = i & 31
        return Int32(block.load(fromByteOffset: 16 + (j >> 1) * 32 + l, as: UInt8.self) >> UInt8((j & 1) * 4)) & 15
    }

    @inline(__always)
    static func scale(_ block: UnsafeRawPointer, _ group: Int) -> Int32 { byteOf(unpackScaleMin(block + 4).scales, group) }

    @inline(__always)
    static func minimum(_ block: UnsafeRawPointer, _ group: Int) -> Int32 { byteOf(unpackScaleMin(block + 4).mins, group) }

    /// The scalar reference: llama.cpp's orders as plain loops (Formats/ReferenceOrders.swift).
    enum Reference {
        static func dot(_ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations, _ order: SummationOrder) -> Float {
            switch order {
            case .gemv: return ReferenceOrders.gemv(Q4_K.self, row, blocks: blocks, a)
            case .gemm: return ReferenceOrders.gemm(Q4_K.self, row, blocks: blocks, a)
            case .tiled: return ReferenceOrders.tiled(Q4_K.self, row, blocks: blocks, a)
            case .vecDot: return vecDot(row, blocks: blocks, a)
            }
        }

        /// vec_dot_q4_K_q8_K (not repacked: row counts not a multiple of 8): the eight lanes,
        /// acc[l] = fma(d_a·d_w, lane l, acc[l]); the mins in four lanes, lane i =
        /// m_2i·S_2i + m_2i+1·S_2i+1 (S: the sums of 32 activations), accMin[i] =
        /// fma(−d_a·dmin_w, lane i, accMin[i]); the result is hsum8(acc) +
        /// ((accMin0 + accMin2) + (accMin1 + accMin3)).
        static func vecDot(_ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations) -> Float {
            var acc = SIMD8<Float>(), accMin = SIMD4<Float>()
            for b in 0..<blocks {
                let block = row + b * Q4_K.blockBytes
                let minScale = -a.d[b] * Q4_K.dmin(block)
                for i in 0..<4 {
                    let mins = Q4_K.minimum(block, 2 * i) * ReferenceOrders.activationSum(a, blockIndex: b, group: 2 * i, size: 32)
                        + Q4_K.minimum(block, 2 * i + 1) * ReferenceOrders.activationSum(a, blockIndex: b, group: 2 * i + 1, size: 32)
                    accMin[i] = LaneMath.fusedMultiplyAdd(minScale, LaneMath.roundedFloat(mins), accMin[i])
                }
                let lanes = ReferenceOrders.vecDotLanes(Q4_K.self, block, a, blockIndex: b)
                let scale = a.d[b] * Q4_K.d(block)
                for l in 0..<8 { acc[l] = LaneMath.fusedMultiplyAdd(scale, LaneMath.roundedFloat(lanes[l]), acc[l]) }
            }
            return LaneMath.horizontalSum(acc) + ((accMin[0] + accMin[2]) + (accMin[1] + accMin[3]))
        }
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
