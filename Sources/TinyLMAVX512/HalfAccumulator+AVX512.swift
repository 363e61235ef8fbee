// The f16 accumulator of the decode attention (Sources/TinyLM/Model/Blocks/DecodeAttention.swift)
// with AVX-512: each step of an element's chain is an FMA and a round trip through f16, whose
// latency, not the instruction count, bounds the work. Sixteen-lane registers and 32 of them
// hold four heads' 64 elements at once (16 chains), where AVX2 holds 12 chains of 8 lanes.
// The same steps per element as the core's loops, so the same bits.

#if arch(x86_64)
import TinyLMIntrinsics

public enum AVX512HalfAccumulator {
    /// For h < heads (at most 4) and positions j < count: where rescales[h·factorStride + j]
    /// is not 1, out_h = f16(out_h · that factor); then out_h[i] = f16(fma(v_j[i],
    /// weights[h·factorStride + j], out_h[i])), with out_h at out + h·outStride and v_j at
    /// values + j·valueStride, for the elements i below `elements` in groups of 64. Returns the
    /// first element it left (a multiple of 64).
    public static func accumulate(values: UnsafePointer<Float>, valueStride: Int, count: Int, heads: Int,
                                  rescales: UnsafePointer<Float>, weights: UnsafePointer<Float>, factorStride: Int,
                                  out: UnsafeMutablePointer<Float>, outStride: Int, elements: Int) -> Int {
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }
        @inline(__always) func store(_ x: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(p).storeBytes(of: x, as: SIMD16<Float>.self)
        }
        @inline(__always) func round(_ x: SIMD16<Float>) -> SIMD16<Float> { tinylm_round_half_512(x) }
        let r0 = rescales, r1 = r0 + factorStride, r2 = r1 + factorStride, r3 = r2 + factorStride
        let w0 = weights, w1 = w0 + factorStride, w2 = w1 + factorStride, w3 = w2 + factorStride
        var start = 0
        while start + 64 <= elements {
            let o0 = out + start, o1 = o0 + outStride, o2 = o1 + outStride, o3 = o2 + outStride
            // Heads past `heads` keep zeros and are never loaded or stored.
            var a00 = load(o0), a01 = load(o0 + 16), a02 = load(o0 + 32), a03 = load(o0 + 48)
            var a10 = SIMD16<Float>(), a11 = SIMD16<Float>(), a12 = SIMD16<Float>(), a13 = SIMD16<Float>()
            var a20 = SIMD16<Float>(), a21 = SIMD16<Float>(), a22 = SIMD16<Float>(), a23 = SIMD16<Float>()
            var a30 = SIMD16<Float>(), a31 = SIMD16<Float>(), a32 = SIMD16<Float>(), a33 = SIMD16<Float>()
            if heads > 1 { a10 = load(o1); a11 = load(o1 + 16); a12 = load(o1 + 32); a13 = load(o1 + 48) }
            if heads > 2 { a20 = load(o2); a21 = load(o2 + 16); a22 = load(o2 + 32); a23 = load(o2 + 48) }
            if heads > 3 { a30 = load(o3); a31 = load(o3 + 16); a32 = load(o3 + 32); a33 = load(o3 + 48) }
            var v = values + start
            for j in 0..<count {
                let v0 = load(v), v1 = load(v + 16), v2 = load(v + 32), v3 = load(v + 48)
                if r0[j] != 1 {
                    let f = r0[j]
                    a00 = round(a00 * f); a01 = round(a01 * f); a02 = round(a02 * f); a03 = round(a03 * f)
                }
                let x0 = SIMD16<Float>(repeating: w0[j])
                a00 = round(a00.addingProduct(v0, x0)); a01 = round(a01.addingProduct(v1, x0))
                a02 = round(a02.addingProduct(v2, x0)); a03 = round(a03.addingProduct(v3, x0))
                if heads > 1 {
                    if r1[j] != 1 {
                        let f = r1[j]
                        a10 = round(a10 * f); a11 = round(a11 * f); a12 = round(a12 * f); a13 = round(a13 * f)
                    }
                    let x1 = SIMD16<Float>(repeating: w1[j])
                    a10 = round(a10.addingProduct(v0, x1)); a11 = round(a11.addingProduct(v1, x1))
                    a12 = round(a12.addingProduct(v2, x1)); a13 = round(a13.addingProduct(v3, x1))
                }
                if heads > 2 {
                    if r2[j] != 1 {
                        let f = r2[j]
                        a20 = round(a20 * f); a21 = round(a21 * f); a22 = round(a22 * f); a23 = round(a23 * f)
                    }
                    let x2 = SIMD16<Float>(repeating: w2[j])
                    a20 = round(a20.addingProduct(v0, x2)); a21 = round(a21.addingProduct(v1, x2))
                    a22 = round(a22.addingProduct(v2, x2)); a23 = round(a23.addingProduct(v3, x2))
                }
                if heads > 3 {
                    if r3[j] != 1 {
                        let f = r3[j]
                        a30 = round(a30 * f); a31 = round(a31 * f); a32 = round(a32 * f); a33 = round(a33 * f)
                    }
                    let x3 = SIMD16<Float>(repeating: w3[j])
                    a30 = round(a30.addingProduct(v0, x3)); a31 = round(a31.addingProduct(v1, x3))
                    a32 = round(a32.addingProduct(v2, x3)); a33 = round(a33.addingProduct(v3, x3))
                }
                v += valueStride
            }
            store(a00, o0); store(a01, o0 + 16); store(a02, o0 + 32); store(a03, o0 + 48)
            if heads > 1 { store(a10, o1); store(a11, o1 + 16); store(a12, o1 + 32); store(a13, o1 + 48) }
            if heads > 2 { store(a20, o2); store(a21, o2 + 16); store(a22, o2 + 32); store(a23, o2 + 48) }
            if heads > 3 { store(a30, o3); store(a31, o3 + 16); store(a32, o3 + 32); store(a33, o3 + 48) }
            start += 64
        }
        return start
    }
}
#endif
