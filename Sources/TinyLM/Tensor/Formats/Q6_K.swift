// Q6_K (ggml type 14): super-blocks of 256 values, 210 bytes.
//   offset   0: ql      128 bytes, low 4 bits
//   offset 128: qh       64 bytes, high 2 bits
//   offset 192: scales   16 × int8, one per 16 values
//   offset 208: d        f16
// For each half n (0, 1) of 128 values and l in 0..<32, with ql += 64n, qh += 32n:
//   value[128n +      l] from ql[l]    low nibble, qh[l] bits 0-1
//   value[128n + 32 + l] from ql[l+32] low nibble, qh[l] bits 2-3
//   value[128n + 64 + l] from ql[l]    high nibble, qh[l] bits 4-5
//   value[128n + 96 + l] from ql[l+32] high nibble, qh[l] bits 6-7
//   value[i] = d · scales[i / 16] · (q − 32), q = nibble | bits << 4
// Dot against Q8_K: d_w·d_a·Σ_chunks scales[c]·Σ (q−32)·a.
// llama.cpp's orders: vec_dot, or tiled for batches of 8+ (Kernels/SummationOrder.swift).

public enum Q6_K: SuperBlockFormat {
    public static var blockElements: Int { 256 }
    public static var blockBytes: Int { 210 }
    static var scaleGroup: Int { 16 }
    static var hasMins: Bool { false }
    static var gemmSpan: Int { 256 }

    public static func dequantizeRow(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 256 {
            let block = src + b * blockBytes
            let d = loadF16(block, 208)
            for i in 0..<256 {
                let n = i >> 7, k = (i >> 5) & 3, l = i & 31
                let ql = block.load(fromByteOffset: n * 64 + (k & 1) * 32 + l, as: UInt8.self)
                let qh = block.load(fromByteOffset: 128 + n * 32 + l, as: UInt8.self)
                let q = Int((ql >> UInt8((k >> 1) * 4)) & 0xF) | Int((qh >> UInt8(2 * k)) & 3) << 4
                let sc = Float(block.load(fromByteOffset: 192 + i / 16, as: Int8.self))
                out[b * 256 + i] = d * sc * Float(q - 32)
            }
        }
    }

    @inline(__always) static func d(_ block: UnsafeRawPointer) -> Float { loadF16(block, 208) }
    @inline(__always) static func dmin(_ block: UnsafeRawPointer) -> Float { 0 }

    /// The stored 6-bit q (0…63) of value `i`.
    @inline(__always)
    static func storedQuant(_ block: UnsafeRawPointer, _ i: Int) -> Int32 {
        let n = i >> 7, k = (i >> 5) & 3, l = i & 31
        let low = Int32(block.load(fromByteOffset: n * 64 + (k & 1) * 32 + l, as: UInt8.self) >> UInt8((k >> 1) * 4)) & 15
        let high = Int32(block.load(fromByteOffset: 128 + n * 32 + l, as: UInt8.self) >> UInt8(2 * k)) & 3
        return low | high << 4
    }

    /// q − 32.
    @inline(__always) static func quant(_ block: UnsafeRawPointer, _ i: Int) -> Int32 { storedQuant(block, i) - 32 }

    @inline(__always)
    static func scale(_ block: UnsafeRawPointer, _ group: Int) -> Int32 { Int32(block.load(fromByteOffset: 192 + group, as: Int8.self)) }

    @inline(__always) static func minimum(_ block: UnsafeRawPointer, _ group: Int) -> Int32 { 0 }

    /// The scalar reference: llama.cpp's orders as plain loops (Formats/ReferenceOrders.swift).
    enum Reference {
        static func dot(_ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations, _ order: SummationOrder) -> Float {
            order == .tiled ? ReferenceOrders.tiled(Q6_K.self, row, blocks: blocks, a) : vecDot(row, blocks: blocks, a)
        }

        /// vec_dot_q6_K_q8_K: the eight lanes over the stored q (0…63), lane l =
        /// Σ_g scale[2g + l/4]·Σ_{k<4} q[32g + 16(l/4) + 4(l mod 4) + k]·a[…], minus
        /// 32·(scale[2l]·T_2l + scale[2l+1]·T_2l+1) (T: the sums of 16 activations: the −32
        /// offset lands in other lanes than its products); acc[l] = fma(d_a·d_w, lane l, acc[l]);
        /// the result is hsum8(acc).
        static func vecDot(_ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations) -> Float {
            var acc = SIMD8<Float>()
            for b in 0..<blocks {
                let block = row + b * Q6_K.blockBytes
                for l in 0..<8 {
                    var lane: Int32 = 0
                    for g in 0..<8 {
                        let first = 32 * g + 16 * (l / 4) + 4 * (l % 4)
                        var dot: Int32 = 0
                        for i in first ..< first + 4 { dot += Q6_K.storedQuant(block, i) * Int32(a.q8[256 * b + i]) }
                        lane += Q6_K.scale(block, first / 16) * dot
                    }
                    lane -= 32 * (Q6_K.scale(block, 2 * l) * a.bsums[16 * b + 2 * l] + Q6_K.scale(block, 2 * l + 1) * a.bsums[16 * b + 2 * l + 1])
                    acc[l] = LaneMath.fusedMultiplyAdd(a.d[b] * Q6_K.d(block), LaneMath.roundedFloat(lane), acc[l])
                }
            }
            return LaneMath.horizontalSum(acc)
        }
    }
}
