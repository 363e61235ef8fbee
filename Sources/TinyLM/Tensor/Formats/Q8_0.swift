// Q8_0 (ggml type 8): blocks of 32 values, 34 bytes.
//   offset 0: d   f16   scale
//   offset 2: qs  32 × int8, value[i] = d · qs[i]
// Used both as a weight format (dot against Q8_0 activations) and as the activation format of
// Q4_0, Q5_0 and Q8_0 weights.
//
// Activation quantization follows what llama.cpp's x86 build runs (the SIMD quantize_row_q8_0 /
// quantize_row_q8_1 of ggml-cpu/arch/x86/quants.c, not the _ref C code): per block
// amax = max|x|, d = amax / 127, id = amax != 0 ? 127/amax : 0, q = nearest-even(x · id)
// (_mm256_round_ps), and the block stores f16(d) (the kernels use that rounded d). The _ref
// rounding (1/d and roundf, ties away from zero) gives other quants on exact .5 ties, which
// happen in real activations and move the logits.
// llama.cpp's order as a weight: vec_dot (and tinyBLAS for batches, in the same order).

public enum Q8_0: Block32Format {
    public static var blockElements: Int { 32 }
    public static var blockBytes: Int { 34 }
    static var isAffine: Bool { false }

    public static func dequantizeRow(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<count / 32 {
            let block = src + b * blockBytes
            let d = loadF16(block, 0)
            for i in 0..<32 {
                out[b * 32 + i] = d * Float(block.load(fromByteOffset: 2 + i, as: Int8.self))
            }
        }
    }

    /// q of value `i` of a block.
    @inline(__always)
    static func quant(_ block: UnsafeRawPointer, _ i: Int) -> Int32 { Int32(block.load(fromByteOffset: 2 + i, as: Int8.self)) }

    /// The scalar reference: llama.cpp's order as plain loops (Formats/ReferenceOrders.swift).
    enum Reference {
        static func dot(_ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations, _ order: SummationOrder) -> Float {
            ReferenceOrders.vecDot32(Q8_0.self, row, blocks: blocks, a)
        }
    }

    // MARK: Activation quantization

    /// Quantizes one block of 32 floats the ggml x86 way: writes the 32 quants to `q` and
    /// returns (f16 bits of d, the unrounded d, Σq).
    @inline(__always)
    static func quantizeBlock(_ x: UnsafePointer<Float>, _ q: UnsafeMutablePointer<Int8>) -> (d: UInt16, scale: Float, sum: Int32) {
        // max|x| eight lanes at a time (LLVM kept the scalar loop scalar in wasm, where activation
        // quantization is serial work between a threaded step's sections); a maximum is the same
        // in any order, and NaNs never win either way.
        var lanes = SIMD8<Float>()
        for c in 0..<4 {
            let v = UnsafeRawPointer(x + 8 * c).loadUnaligned(as: SIMD8<UInt32>.self)
            let a = unsafeBitCast(v & 0x7FFF_FFFF, to: SIMD8<Float>.self)
            lanes.replace(with: a, where: a .> lanes)
        }
        var amax: Float = 0
        for lane in 0..<8 { amax = lanes[lane] > amax ? lanes[lane] : amax }
        let d = amax / 127
        let id: Float = amax != 0 ? 127 / amax : 0
        var sum: Int32 = 0
        for i in 0..<32 {
            let v = nearestInt(x[i] * id)
            q[i] = Int8(truncatingIfNeeded: v)
            sum &+= v
        }
        return (FP16.fromFloat(d), d, sum)
    }

    /// ggml's quantize_row_q8_0_ref: `count` floats (a multiple of 32) to packed Q8_0 blocks.
    public static func quantizeRow(_ x: UnsafePointer<Float>, count: Int, into out: UnsafeMutableRawPointer) {
        for b in 0..<count / 32 {
            let block = out + b * blockBytes
            let r = quantizeBlock(x + b * 32, (block + 2).assumingMemoryBound(to: Int8.self))
            block.storeBytes(of: r.d, toByteOffset: 0, as: UInt16.self)
        }
    }

    /// The same quantization written as activation planes: `q8` receives the raw quants
    /// (count bytes, scratch), `q` the planes, `d` one f16-rounded scale per block and, when
    /// `s` is given, the Q8_1 sum f16(d·Σq) per block.
    public static func quantizeActivations(_ x: UnsafePointer<Float>, count: Int, q8: UnsafeMutablePointer<Int8>,
                                           q: UnsafeMutablePointer<Int16>, d: UnsafeMutablePointer<Float>,
                                           s: UnsafeMutablePointer<Float>?) {
        for b in 0..<count / 32 {
            let r = quantizeBlock(x + b * 32, q8 + b * 32)
            let scale = FP16.toFloat(r.d)
            d[b] = scale
            if let s {
                // ggml: y.d = fp16(d); y.s = fp16(sum * d) with the unrounded d.
                s[b] = FP16.round(LaneMath.roundedFloat(r.sum) * r.scale)
            }
        }
        writePlanes(q8, count: count, into: q)
    }
}

/// ggml's nearest_int: round to nearest, ties to even, for |x| < 2^22.
@inline(__always)
func nearestInt(_ x: Float) -> Int32 {
    let r = x + 12582912.0
    return Int32(bitPattern: r.bitPattern & 0x007F_FFFF) &- 0x0040_0000
}

/// Raw quants (Int8, `count` a multiple of 16) to the activation plane layout: per 16
/// elements, the 8 even ones then the 8 odd ones, as Int16.
@inline(__always)
func writePlanes(_ q8: UnsafePointer<Int8>, count: Int, into q: UnsafeMutablePointer<Int16>) {
    let src = UnsafeRawPointer(q8)
    let dst = UnsafeMutableRawPointer(q)
    for c in 0..<count / 16 {
        let v = src.loadUnaligned(fromByteOffset: c * 16, as: SIMD8<Int16>.self)
        dst.storeBytes(of: signedBytesE(v), toByteOffset: c * 32, as: SIMD8<Int16>.self)
        dst.storeBytes(of: signedBytesO(v), toByteOffset: c * 32 + 16, as: SIMD8<Int16>.self)
    }
}
