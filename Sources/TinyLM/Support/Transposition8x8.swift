// The 8 × 8 transposition of 16-bit values that the tiled prompt attention (f16 keys, made
// dimension-major) and the F16 LoRA product (eight rows' columns side by side) share: three
// rounds of the interleave intrinsics (TinyLMIntrinsics.h), pairs of rows, then quads, then
// all eight: 24 shuffles (punpck* on x86, i8x16.shuffle in wasm).

#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

/// Columns 0–7 of the 8 × 8 matrix whose rows are r0…r7: column c holds lane c of every row,
/// row r in lane r.
@inline(__always)
func transposed8x8(_ r0: SIMD8<UInt16>, _ r1: SIMD8<UInt16>, _ r2: SIMD8<UInt16>, _ r3: SIMD8<UInt16>,
                   _ r4: SIMD8<UInt16>, _ r5: SIMD8<UInt16>, _ r6: SIMD8<UInt16>, _ r7: SIMD8<UInt16>)
    -> (SIMD8<UInt16>, SIMD8<UInt16>, SIMD8<UInt16>, SIMD8<UInt16>, SIMD8<UInt16>, SIMD8<UInt16>, SIMD8<UInt16>, SIMD8<UInt16>) {
    // Pairs: p0 = [r0₀ r1₀ r0₁ r1₁ r0₂ r1₂ r0₃ r1₃], p1 the same for lanes 4–7.
    let p0 = tinylm_interleave_low16(r0, r1), p1 = tinylm_interleave_high16(r0, r1)
    let p2 = tinylm_interleave_low16(r2, r3), p3 = tinylm_interleave_high16(r2, r3)
    let p4 = tinylm_interleave_low16(r4, r5), p5 = tinylm_interleave_high16(r4, r5)
    let p6 = tinylm_interleave_low16(r6, r7), p7 = tinylm_interleave_high16(r6, r7)
    // Quads: q0 = columns 0 and 1 of rows 0–3, q1 columns 2 and 3, q2 and q3 columns 4–7;
    // q4…q7 the same for rows 4–7.
    let q0 = tinylm_interleave_low32(p0, p2), q1 = tinylm_interleave_high32(p0, p2)
    let q2 = tinylm_interleave_low32(p1, p3), q3 = tinylm_interleave_high32(p1, p3)
    let q4 = tinylm_interleave_low32(p4, p6), q5 = tinylm_interleave_high32(p4, p6)
    let q6 = tinylm_interleave_low32(p5, p7), q7 = tinylm_interleave_high32(p5, p7)
    return (tinylm_interleave_low64(q0, q4), tinylm_interleave_high64(q0, q4),
            tinylm_interleave_low64(q1, q5), tinylm_interleave_high64(q1, q5),
            tinylm_interleave_low64(q2, q6), tinylm_interleave_high64(q2, q6),
            tinylm_interleave_low64(q3, q7), tinylm_interleave_high64(q3, q7))
}
