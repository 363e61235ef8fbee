// The AVX-512/VNNI batch kernel of the K-quants (Q2_K…Q6_K): every token of a batch against
// eight rows the core has unpacked with one row per 32-bit lane (Sources/TinyLM/Tensor/
// Kernels/AVX2/AVX2SuperBlock.swift, `unpack8`), in llama.cpp's GEMM, GEMV and tiled orders,
// with the same integer sums and float steps as the core's AVX2 kernel, so the same bits.
// vpdpbusd takes the token's four activations broadcast from memory and adds four products
// per row straight into Int32, so a 32-value group of eight rows is eight instructions and
// one multiply by the scales.

#if arch(x86_64)
import TinyLMIntrinsics

public enum AVX512SuperBlock {
    /// The K-quant whose unpacked rows these are: what the kernel needs to know of it.
    public enum Format {
        case q2_K, q3_K, q4_K, q5_K, q6_K
    }

    /// Eight unpacked rows against `tokens` tokens.
    /// - unpacked: per block b at 96b: the codes of group g, chunk k at 8g + k (lane i: row i's
    ///   codes of values 32g + 4k … + 3, value = code − 2^offsetShift); at 64 + c row i's
    ///   scale of values 16c…16c+15 as Int32; at 80 + q row i's two per-16 mins and at 88 + q
    ///   its two per-16 scales of values 32q…32q+31, as Int16 pairs.
    /// - d: per block b, the rows' d at 2b and dmin at 2b + 1.
    /// - Token t takes the GEMM order if t < gemmTokens, else the tiled one if `tiled`, else
    ///   the GEMV; its activations: quants at q8 + t·q8Stride, block scales at
    ///   da + t·blockStride, sums of 16 at bsums + t·blockStride; its eight results at
    ///   out + t·outStride.
    public static func multiply(_ format: Format, unpacked: UnsafePointer<SIMD8<Int32>>, d: UnsafePointer<SIMD8<Float>>, blocks: Int,
                                gemmTokens: Int, tiled: Bool, tokens: Int,
                                q8: UnsafePointer<Int8>, q8Stride: Int, da: UnsafePointer<Float>, bsums: UnsafePointer<Int32>,
                                blockStride: Int, out: UnsafeMutablePointer<Float>, outStride: Int) {
        // Each format's constants fold into its own copy of the loops.
        switch format {
        case .q2_K:
            run(unpacked, d, blocks, 16, true, 4, 0, gemmTokens, tiled, tokens, q8, q8Stride, da, bsums, blockStride, out, outStride)
        case .q3_K:
            run(unpacked, d, blocks, 16, false, 8, 2, gemmTokens, tiled, tokens, q8, q8Stride, da, bsums, blockStride, out, outStride)
        case .q4_K:
            run(unpacked, d, blocks, 32, true, 2, 0, gemmTokens, tiled, tokens, q8, q8Stride, da, bsums, blockStride, out, outStride)
        case .q5_K:
            run(unpacked, d, blocks, 32, true, 8, 0, gemmTokens, tiled, tokens, q8, q8Stride, da, bsums, blockStride, out, outStride)
        case .q6_K:
            run(unpacked, d, blocks, 16, false, 8, 5, gemmTokens, tiled, tokens, q8, q8Stride, da, bsums, blockStride, out, outStride)
        }
    }

    /// scaleGroup: values per scale (16 or 32); gemmGroups: 32-value groups per update of the
    /// repacked GEMM; offsetShift: log2 of the code offset (0: none).
    @inline(__always)
    static func run(_ unpacked: UnsafePointer<SIMD8<Int32>>, _ d: UnsafePointer<SIMD8<Float>>, _ blocks: Int,
                        _ scaleGroup: Int, _ hasMins: Bool, _ gemmGroups: Int, _ offsetShift: Int32,
                        _ gemmTokens: Int, _ tiled: Bool, _ tokens: Int,
                        _ q8: UnsafePointer<Int8>, _ q8Stride: Int, _ da: UnsafePointer<Float>, _ bsums: UnsafePointer<Int32>,
                        _ blockStride: Int, _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        for t in 0..<tokens {
            let y = UnsafeRawPointer(q8 + t * q8Stride), scales = da + t * blockStride, sums = bsums + t * blockStride
            let results = out + t * outStride
            if t < gemmTokens {
                token(unpacked, d, blocks, scaleGroup, hasMins, gemmGroups, offsetShift, 0, y, scales, sums, results)
            } else {
                token(unpacked, d, blocks, scaleGroup, hasMins, gemmGroups, offsetShift, tiled ? 2 : 1, y, scales, sums, results)
            }
        }
    }

    /// One token; order 0: GEMM, 1: GEMV, 2: tiled.
    @inline(__always)
    static func token(_ unpacked: UnsafePointer<SIMD8<Int32>>, _ d: UnsafePointer<SIMD8<Float>>, _ blocks: Int,
                      _ scaleGroup: Int, _ hasMins: Bool, _ gemmGroups: Int, _ offsetShift: Int32, _ order: Int,
                      _ y: UnsafeRawPointer, _ da: UnsafePointer<Float>, _ bsums: UnsafePointer<Int32>, _ out: UnsafeMutablePointer<Float>) {
        var acc = SIMD8<Float>(), accMin = SIMD8<Float>()
        for b in 0..<blocks {
            let u = unpacked + 96 * b
            let a = y + 256 * b
            let scale = da[b]
            // The sixteen activation sums as Int16 pairs, one pair (values 32q…32q+31) per
            // 32-bit word, to broadcast.
            let sums = UnsafeRawPointer(bsums + 16 * b)
            var pairs = unsafeBitCast(tinylm_narrow_512(sums.loadUnaligned(as: SIMD8<Int32>.self),
                                                        sums.loadUnaligned(fromByteOffset: 32, as: SIMD8<Int32>.self)), to: SIMD8<Int32>.self)
            /// The activation sums of values 32q…32q+31 as a pair of Int16 in every lane.
            @inline(__always) func sumPair(_ q: Int) -> SIMD8<Int32> {
                withUnsafeBytes(of: &pairs) { SIMD8(repeating: $0.load(fromByteOffset: 4 * q, as: Int32.self)) }
            }
            /// Σ code·a over chunks `chunks` of group g, for the eight rows, in two or four
            /// independent sums (vpdpbusd's latency would chain otherwise).
            @inline(__always) func dot(_ g: Int, _ k: Int, _ acc: SIMD8<Int32>) -> SIMD8<Int32> {
                let activations = SIMD8<Int32>(repeating: a.loadUnaligned(fromByteOffset: 32 * g + 4 * k, as: Int32.self))
                return tinylm_dpbusd(acc, unsafeBitCast(u[8 * g + k], to: SIMD32<UInt8>.self), unsafeBitCast(activations, to: SIMD32<Int8>.self))
            }
            @inline(__always) func raw(_ g: Int, _ chunks: Range<Int>) -> SIMD8<Int32> {
                let k = chunks.lowerBound
                var s0 = dot(g, k, SIMD8()), s1 = dot(g, k + 1, SIMD8())
                s0 = dot(g, k + 2, s0)
                s1 = dot(g, k + 3, s1)
                if chunks.count == 8 {
                    var s2 = dot(g, k + 4, SIMD8()), s3 = dot(g, k + 5, SIMD8())
                    s2 = dot(g, k + 6, s2)
                    s3 = dot(g, k + 7, s3)
                    return (s0 &+ s1) &+ (s2 &+ s3)
                }
                return s0 &+ s1
            }
            /// Σ scale·code·a over group g.
            @inline(__always) func groupSum(_ g: Int) -> SIMD8<Int32> {
                if scaleGroup == 32 { return raw(g, 0..<8) &* u[64 + 2 * g] }
                return raw(g, 0..<4) &* u[64 + 2 * g] &+ raw(g, 4..<8) &* u[64 + 2 * g + 1]
            }
            /// Σ over the value pairs q in `pairs` of the pair's Int16s times the sums.
            @inline(__always) func pairSums(_ base: Int, _ pairs: Range<Int>) -> SIMD8<Int32> {
                var total = SIMD8<Int32>()
                for q in pairs {
                    total &+= tinylm_madd_512(unsafeBitCast(u[base + q], to: SIMD16<Int16>.self),
                                              unsafeBitCast(sumPair(q), to: SIMD16<Int16>.self))
                }
                return total
            }
            if order == 0 {
                var g = 0
                while g < 8 {
                    var isum = SIMD8<Int32>()
                    for k in g ..< g + gemmGroups { isum &+= groupSum(k) }
                    let msum = pairSums(80, g ..< g + gemmGroups)
                    acc = acc.addingProduct(tinylm_float_512(isum), d[2 * b] * scale)
                    accMin = accMin.addingProduct(tinylm_float_512(msum), d[2 * b + 1] * scale)
                    g += gemmGroups
                }
                continue
            }
            var isum = SIMD8<Int32>()
            for g in 0..<8 { isum &+= groupSum(g) }
            if offsetShift != 0 { isum &-= pairSums(88, 0..<8) &<< offsetShift }
            let isumF = tinylm_float_512(isum)
            if hasMins {
                let msum = tinylm_float_512(pairSums(80, 0..<8))
                if order == 1 {
                    acc = acc.addingProduct(isumF, d[2 * b] * scale)
                    accMin = accMin.addingProduct(msum, d[2 * b + 1] * scale)
                } else {
                    let block = (isumF * d[2 * b]).addingProduct(-d[2 * b + 1], msum)
                    acc = acc.addingProduct(block, SIMD8(repeating: scale))
                }
            } else {
                acc = acc.addingProduct(isumF * d[2 * b], SIMD8(repeating: scale))
            }
        }
        let result = acc - accMin
        for i in 0..<8 { out[i] = result[i] }
    }
}
#endif
