import Testing
@testable import TinyLM

/// LaneMath's fused multiply-add without an FMA instruction (the wasm build's fallback and the
/// K-quant reference paths) against the hardware one.
@Suite struct LaneMathTests {
    func expectFused(_ a: Float, _ b: Float, _ c: Float) {
        let r = LaneMath.fusedInDouble(SIMD2(a, -a), SIMD2(b, b), SIMD2(c, -c))
        for (lane, expected) in [c.addingProduct(a, b), (-c).addingProduct(-a, b)].enumerated() {
            if expected.isNaN { #expect(r[lane].isNaN) } else {
                #expect(r[lane].bitPattern == expected.bitPattern, "fma(\(lane == 0 ? a : -a), \(b), \(lane == 0 ? c : -c))")
            }
        }
    }

    @Test func fusedInDoubleRoundsOnce() {
        // Sums whose Double rounding lands on a Float tie the exact sum is below or above
        // (rounding twice would be wrong), at several exponents.
        for scale: Float in [1, 0x1p-60, 0x1p40, 0x1p-126, 0x1p100] {
            let odd = (1 + 0x1p-23) * scale
            // 2^-70 below the tie between odd and the even float above it: Double lands on the tie.
            expectFused(1 + 0x1p-23, (1 - 0x1p-23) * 0x1p-24 * scale, odd)
            // 2^-70 above the tie between the even `scale` and odd.
            expectFused(1 + 0x1p-23, -(1 - 0x1p-23) * 0x1p-24 * scale, odd)
            expectFused(1 + 0x1p-23, (1 + 0x1p-23) * 0x1p-24 * scale, scale)
            expectFused(1 - 0x1p-23, (1 + 0x1p-23) * 0x1p-25 * scale, scale)
        }
        // Exact sums, zeros, cancellation, overflow to infinity and NaN. (Infinite operands
        // are not covered: the error term is then NaN, and the step can make a NaN of ±inf.)
        expectFused(2, 3, 4)
        expectFused(0, 5, -0.0)
        expectFused(3, 1.0 / 3, -1)
        expectFused(.greatestFiniteMagnitude, 2, 0)
        expectFused(.nan, 1, 1)
        expectFused(0x1p-100, 0x1p-100, 0x1p-149)
        // Random operands of nearby and distant magnitudes.
        var rng = KernelFixtures.RNG(seed: 7)
        for _ in 0..<200_000 {
            let a = Float(bitPattern: 0x3000_0000 &+ UInt32(truncatingIfNeeded: rng.next()) % 0x1800_0000)
            let b = Float(bitPattern: 0x3000_0000 &+ UInt32(truncatingIfNeeded: rng.next()) % 0x1800_0000)
            let magnitude = Float(bitPattern: 0x3000_0000 &+ UInt32(truncatingIfNeeded: rng.next()) % 0x2000_0000)
            expectFused(a, b, rng.next() & 1 == 0 ? magnitude : -magnitude)
        }
    }
}
