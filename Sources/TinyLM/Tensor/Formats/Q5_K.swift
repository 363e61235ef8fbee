// Q5_K (ggml type 13): super-blocks of 256 values, 176 bytes.
//   offset  0: d       f16
//   offset  2: dmin    f16
//   offset  4: scales  12 bytes, eight 6-bit scales and mins packed exactly as in Q4_K
//   offset 16: qh      32 bytes; bit j of byte l is the high (5th) bit of element l of sub-block j
//   offset 48: qs      128 bytes, low 4 bits, laid out as Q4_K's qs
//   value in sub-block j = d·sc[j] · (nibble | bit << 4) − dmin·m[j]
// Dot against Q8_K as Q4_K.
// llama.cpp's orders: vec_dot, or tiled for batches of 8+ (Kernels/SummationOrder.swift).

public enum Q5_K: SuperBlockFormat {
    public static var blockElements: Int { 256 }
    public static var blockBytes: Int { 176 }
    static var scaleGroup: Int { 32 }
    static var hasMins: Bool { true }
    static var gemmSpan: Int { 256 }

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
                    let byte = block.load(fromByteOffset: 48 + (j >> 1) * 32 + l, as: UInt8.self)
                    let high = (block.load(fromByteOffset: 16 + l, as: UInt8.self) >> UInt8(j)) & 1
                    let q = ((byte >> shift) & 0xF) | (high << 4)
                    out[b * 256 + j * 32 + l] = d * sc * Float(q) - dmin * m
                }
            }
        }
    }

    @inline(__always) static func d(_ block: UnsafeRawPointer) -> Float { loadF16(block, 0) }
    @inline(__always) static func dmin(_ block: UnsafeRawPointer) -> Float { loadF16(block, 2) }

    @inline(__always)
    static func quant(_ block: UnsafeRawPointer, _ i: Int) -> Int32 {
        let j = i >> 5, l = i & 31
        let low = Int32(block.load(fromByteOffset: 48 + (j >> 1) * 32 + l, as: UInt8.self) >> UInt8((j & 1) * 4)) & 15
        let high = Int32(block.load(fromByteOffset: 16 + l, as: UInt8.self) >> UInt8(j)) & 1
        return low | high << 4
    }

    @inline(__always)
    static func scale(_ block: UnsafeRawPointer, _ group: Int) -> Int32 { byteOf(unpackScaleMin(block + 4).scales, group) }

    @inline(__always)
    static func minimum(_ block: UnsafeRawPointer, _ group: Int) -> Int32 { byteOf(unpackScaleMin(block + 4).mins, group) }

    /// The scalar reference: llama.cpp's orders as plain loops (Formats/ReferenceOrders.swift).
    enum Reference {
        static func dot(_ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations, _ order: SummationOrder) -> Float {
            order == .tiled ? ReferenceOrders.tiled(Q5_K.self, row, blocks: blocks, a) : vecDot(row, blocks: blocks, a)
        }

        /// vec_dot_q5_K_q8_K: the eight lanes, acc[l] = fma(d_a·d_w, lane l, acc[l]); the mins
        /// as one scalar per super-block, summs = fma(−d_a·dmin_w, Σ_j m_j·S_j, summs) (S: the
        /// sums of 32 activations); the result is hsum8(acc) + summs.
        static func vecDot(_ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations) -> Float {
            var acc = SIMD8<Float>()
            var minSum: Float = 0
            for b in 0..<blocks {
                let block = row + b * Q5_K.blockBytes
                var mins: Int32 = 0
                for j in 0..<8 { mins += Q5_K.minimum(block, j) * ReferenceOrders.activationSum(a, blockIndex: b, group: j, size: 32) }
                minSum = LaneMath.fusedMultiplyAdd(-a.d[b] * Q5_K.dmin(block), LaneMath.roundedFloat(mins), minSum)
                let lanes = ReferenceOrders.vecDotLanes(Q5_K.self, block, a, blockIndex: b)
                let scale = a.d[b] * Q5_K.d(block)
                for l in 0..<8 { acc[l] = LaneMath.fusedMultiplyAdd(scale, LaneMath.roundedFloat(lanes[l]), acc[l]) }
            }
            return LaneMath.horizontalSum(acc) + minSum
        }
    }
}
