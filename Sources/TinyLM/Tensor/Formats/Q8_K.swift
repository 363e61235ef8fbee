// Q8_K (ggml type 15): the activation format of the K-quants (Q2_K … Q6_K). Blocks of 256,
// 292 bytes:
//   offset   0: d      f32 (not f16)
//   offset   4: qs     256 × int8, value[i] = d · qs[i]
//   offset 260: bsums  16 × int16, bsums[j] = Σ qs[16j ..< 16j+16]
// Quantization follows ggml's quantize_row_q8_K_ref: max = the x of largest |x| (first one on
// ties); if it is 0 the block is all zeros; otherwise iscale = −127/max,
// q = min(127, nearest_int(iscale·x)) with nearest_int rounding ties to even, d = 1/iscale
// (so d is negative when max is positive).

public enum Q8_K {
    public static var blockElements: Int { 256 }
    public static var blockBytes: Int { 292 }

    /// Quantizes one block of 256: writes the quants and the 16 sums, returns d.
    @inline(__always)
    static func quantizeBlock(_ x: UnsafePointer<Float>, _ q: UnsafeMutablePointer<Int8>, _ bsums: (Int, Int32) -> Void) -> Float {
        var amax: Float = 0
        var maxValue: Float = 0
        for i in 0..<256 {
            let a = Float(bitPattern: x[i].bitPattern & 0x7FFF_FFFF)
            if a > amax {
                amax = a
                maxValue = x[i]
            }
        }
        if amax == 0 {
            for i in 0..<256 { q[i] = 0 }
            for j in 0..<16 { bsums(j, 0) }
            return 0
        }
        let iscale = -127 / maxValue
        for j in 0..<16 {
            var sum: Int32 = 0
            for i in j * 16 ..< j * 16 + 16 {
                let v = Swift.min(127, nearestInt(iscale * x[i]))
                q[i] = Int8(truncatingIfNeeded: v)
                sum &+= v
            }
            bsums(j, sum)
        }
        return 1 / iscale
    }

    /// ggml's quantize_row_q8_K_ref into packed blocks.
    public static func quantizeRow(_ x: UnsafePointer<Float>, count: Int, into out: UnsafeMutableRawPointer) {
        for b in 0..<count / 256 {
            let block = out + b * blockBytes
            let d = quantizeBlock(x + b * 256, (block + 4).assumingMemoryBound(to: Int8.self)) { j, sum in
                block.storeBytes(of: Int16(truncatingIfNeeded: sum), toByteOffset: 260 + 2 * j, as: Int16.self)
            }
            block.storeBytes(of: d, toByteOffset: 0, as: Float.self)
        }
    }

    public static func dequantizeRow(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 256 {
            let block = src + b * blockBytes
            let d = block.loadUnaligned(as: Float.self)
            for i in 0..<256 { out[b * 256 + i] = d * Float(block.load(fromByteOffset: 4 + i, as: Int8.self)) }
        }
    }

    /// Activation planes (Kernels/SIMD128/SIMD128Lanes.swift): d per 256 values, bsums per 16 (Int32).
    public static func quantizeActivations(_ x: UnsafePointer<Float>, count: Int, q8: UnsafeMutablePointer<Int8>,
                                           q: UnsafeMutablePointer<Int16>, d: UnsafeMutablePointer<Float>,
                                           bsums: UnsafeMutablePointer<Int32>) {
        for b in 0..<count / 256 {
            d[b] = quantizeBlock(x + b * 256, q8 + b * 256) { j, sum in bsums[b * 16 + j] = sum }
        }
        writePlanes(q8, count: count, into: q)
    }
}
