import Foundation
import Testing
@testable import TinyLM

@Suite struct MathTests {
    /// Math.sinf/cosf give glibc's results (llama.cpp's RoPE angles come from them), not merely
    /// close ones: every 61st Float of [0, 4096) (RoPE's angles are positions times factors
    /// ≤ 1), a spread of larger and negative ones.
    @Test func sinfCosfMatchGlibc() {
        var checked = 0, differing = 0
        func check(_ x: Float) {
            checked += 1
            if Math.sinf(x).bitPattern != Foundation.sinf(x).bitPattern || Math.cosf(x).bitPattern != Foundation.cosf(x).bitPattern {
                differing += 1
                if differing <= 5 { Issue.record("x = \(x): ours \(Math.sinf(x)), \(Math.cosf(x)); glibc \(Foundation.sinf(x)), \(Foundation.cosf(x))") }
            }
        }
        var bits: UInt32 = 0
        while bits < Float(4096).bitPattern {
            check(Float(bitPattern: bits))
            bits += 61
        }
        var rng = KernelFixtures.RNG(seed: 9)
        for _ in 0..<200_000 {
            check(rng.float(-1e6, 1e6))
            check(rng.float(-200, 200))
        }
        #expect(differing == 0, "\(differing) of \(checked) differ")
    }

    /// Math.expf gives glibc's expf (llama.cpp's attention softmax): every 37th Float from −104
    /// to 89.
    @Test func expfMatchesGlibc() {
        var checked = 0, differing = 0
        func check(_ x: Float) {
            checked += 1
            if Math.expf(x).bitPattern != Foundation.expf(x).bitPattern {
                differing += 1
                if differing <= 5 { Issue.record("x = \(x): ours \(Math.expf(x)), glibc \(Foundation.expf(x))") }
            }
        }
        var bits: UInt32 = 0
        while bits < Float(89).bitPattern { check(Float(bitPattern: bits)); bits += 37 }
        bits = 0x8000_0000
        while bits < Float(-104).bitPattern { check(Float(bitPattern: bits)); bits += 37 }
        for x: Float in [.infinity, -.infinity, 0, -0.0, 88.7, 88.8, -103.9, -104, -200] { check(x) }
        #expect(differing == 0, "\(differing) of \(checked) differ")
        #expect(Math.expf(.nan).isNaN)
    }

    /// Where Math.expf runs without fused multiply-adds (wasm, portable builds), its unfused
    /// chain's result, wherever Math.roundsLikeFusedExpf accepts it, is glibc's Float; the fused
    /// chain (Math.expfFused, which native builds run) and both lane versions (Math.expf4 with
    /// an FMA instruction, expf4Unfused without, over the same groups of four) are glibc's
    /// everywhere: every 37th Float from the underflow to the overflow limit, and edge cases.
    /// TINYLM_EXHAUSTIVE_EXPF=1 checks every Float of that range instead (a few minutes; not
    /// part of the usual run).
    @Test func expfWithoutFusedStepsIsGlibcs() {
        let step: UInt32 = ProcessInfo.processInfo.environment["TINYLM_EXHAUSTIVE_EXPF"] == "1" ? 1 : 37
        var checked = 0, inRange = 0, accepted = 0, tiny = 0, differing = 0, unfusedWouldDiffer = 0
        var group = SIMD4<Float>(), expectedGroup = SIMD4<Float>(), filled = 0
        func record(_ what: String, _ x: Float, _ ours: Float, _ expected: Float) {
            differing += 1
            if differing <= 8 { Issue.record("x = \(x) (\(x.bitPattern)): \(what) \(ours), glibc \(expected)") }
        }
        func checkGroup() {
            let lanes = Math.expf4Unfused(group)
            for i in 0..<4 where lanes[i].bitPattern != expectedGroup[i].bitPattern { record("unfused lanes", group[i], lanes[i], expectedGroup[i]) }
            #if TINYLM_HARDWARE_FMA
            let fusedLanes = Math.expf4(group)
            for i in 0..<4 where fusedLanes[i].bitPattern != expectedGroup[i].bitPattern { record("fused lanes", group[i], fusedLanes[i], expectedGroup[i]) }
            #endif
        }
        func check(_ x: Float) {
            checked += 1
            let expected = Foundation.expf(x)
            let fused = Math.expfFused(x)
            if fused.bitPattern != expected.bitPattern { record("fused", x, fused, expected) }
            // The unfused chain serves |x| < 88 only (Math.expf sends the rest to the fused one).
            guard (x.bitPattern >> 20) & 0x7FF < 0x42B else { return }
            inRange += 1
            let (r, scale) = Math.expfReducedUnfused(x)
            let unfused = Math.expfUnfused(r, scale: scale)
            if Float(unfused).bitPattern != expected.bitPattern { unfusedWouldDiffer += 1 }
            if unfused < 0x1p-126 { tiny += 1 }
            if Math.roundsLikeFusedExpf(unfused, r: r) {
                accepted += 1
                if Float(unfused).bitPattern != expected.bitPattern { record("unfused", x, Float(unfused), expected) }
            }
            group[filled] = x
            expectedGroup[filled] = expected
            filled += 1
            if filled == 4 { checkGroup(); filled = 0 }
        }
        // Up to the overflow limit 0x1.62e42ep6 and down to the underflow limit −0x1.9fe368p6.
        var bits: UInt32 = 0
        while bits <= Float(0x1.62e42ep6).bitPattern { check(Float(bitPattern: bits)); bits += step }
        bits = 0x8000_0000
        while bits <= Float(-0x1.9fe368p6).bitPattern { check(Float(bitPattern: bits)); bits += step }
        // Two arguments where rounding x·32/ln 2 before the reduction changes glibc's Float.
        for x: Float in [32.564632, -63.09946, -87.9, -87.34, -87.33, 87.9, 0x1p-30, -0x1p-30, 1, -1, 0.5] { check(x) }
        while filled != 0 { check(0) }
        #expect(differing == 0, "\(differing) differ of \(checked)")
        // Besides the results below 2^-126 (x below about −87.3), the window sends back about one
        // argument in a million. Without the check some results would differ (printed, not
        // asserted: a sparse sample may hold none).
        let sentBack = inRange - accepted - tiny
        #expect(sentBack < inRange / 100_000 + 100, "\(sentBack) of \(inRange) sent back")
        print("expf: \(checked) checked, \(inRange) below 88 in magnitude, of those \(tiny) below 2^-126 and \(sentBack) others sent back to the fused chain, \(unfusedWouldDiffer) would differ unchecked")
    }
}
