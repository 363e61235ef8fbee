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
}
