#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

#if arch(wasm32)
/// The fused multiply-add of the wasm build. wasm has no exact FMA instruction; relaxed SIMD's
/// f32x4.relaxed_madd is fused on machines with FMA hardware and unfused elsewhere. The build
/// with relaxed SIMD (TINYLM_RELAXED_SIMD) asks once, at startup, which one this machine does
/// (`probe`), and uses it only if fused; otherwise, and in the baseline build, the product and
/// sum are formed in f64 and rounded once. Either way the bits are the same.
public enum WasmFusedMultiplyAdd {
    #if TINYLM_RELAXED_SIMD
    nonisolated(unsafe) static var relaxedIsFused = false

    /// Decides from a product whose exact value needs the fused rounding: with
    /// a = 1 + 2^-12 and c = -(1 + 2^-11), a·a + c is 2^-24 when fused and 0 when the product
    /// is rounded first. The inputs come from the caller so that nothing is constant-folded.
    /// The f64 form is probed the same way: (1 + 2^-27)² − (1 + 2^-26) is 2^-54 only when fused.
    public static func probe(_ a: Float, _ c: Float) -> Bool {
        WasmHalfTable.prepare()  // startup, before any kernel (and before helper threads) runs
        let r = tinylm_relaxed_madd(SIMD4(repeating: a), SIMD4(repeating: a), SIMD4(repeating: c))
        let a64 = 1 + (Double(a) - 1) * 0x1p-15, c64 = -1 - (-Double(c) - 1) * 0x1p-15
        relaxedIsFused = r[0] == 0x1p-24 && r[1] == 0x1p-24 && r[2] == 0x1p-24 && r[3] == 0x1p-24
            && tinylm_relaxed_madd_f64(a64, a64, c64) == 0x1p-54
        return relaxedIsFused
    }
    #else
    public static func probe(_ a: Float, _ c: Float) -> Bool { false }
    #endif

    @inline(__always)
    static func apply(_ x: SIMD4<Float>, _ s: Float, _ acc: SIMD4<Float>) -> SIMD4<Float> {
        #if TINYLM_RELAXED_SIMD
        if relaxedIsFused { return tinylm_relaxed_madd(x, SIMD4(repeating: s), acc) }
        #endif
        return tinylm_fma_via_f64(x, s, acc)
    }
}
#endif
