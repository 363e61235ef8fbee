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
        /// One head's 64 elements at one position: the rare rescale, then the fused step.
        @inline(__always) func step(_ a0: inout SIMD16<Float>, _ a1: inout SIMD16<Float>, _ a2: inout SIMD16<Float>, _ a3: inout SIMD16<Float>,
                                    rescale: Float, weight: Float,
                                    _ v0: SIMD16<Float>, _ v1: SIMD16<Float>, _ v2: SIMD16<Float>, _ v3: SIMD16<Float>) {
            if rescale != 1 {
                a0 = round(a0 * rescale); a1 = round(a1 * rescale); a2 = round(a2 * rescale); a3 = round(a3 * rescale)
            }
            let x = SIMD16<Float>(repeating: weight)
            a0 = round(a0.addingProduct(v0, x)); a1 = round(a1.addingProduct(v1, x))
            a2 = round(a2.addingProduct(v2, x)); a3 = round(a3.addingProduct(v3, x))
        }
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
                step(&a00, &a01, &a02, &a03, rescale: r0[j], weight: w0[j], v0, v1, v2, v3)
                if heads > 1 { step(&a10, &a11, &a12, &a13, rescale: r1[j], weight: w1[j], v0, v1, v2, v3) }
                if heads > 2 { step(&a20, &a21, &a22, &a23, rescale: r2[j], weight: w2[j], v0, v1, v2, v3) }
                if heads > 3 { step(&a30, &a31, &a32, &a33, rescale: r3[j], weight: w3[j], v0, v1, v2, v3) }
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
