/// Elementary functions in pure Swift. The core links no C math library, so native and wasm
/// builds run the very same arithmetic and a given seed gives the same text everywhere.
/// Each function evaluates in Double and rounds once to Float: accurate to within an ulp of
/// the correctly rounded Float result, which is what the C library's expf/cosf/sinf give too.
public enum Math {
    static let ln2Hi = 6.93147180369123816490e-01
    static let ln2Lo = 1.90821492927058770002e-10
    static let invLn2 = 1.44269504088896338700e+00

    /// e^x in Double for |x| < ~708 (callers clamp).
    @inline(__always)
    static func expDouble(_ x: Double) -> Double {
        if x > 709 { return .infinity }
        if x < -745 { return 0 }
        // x = k·ln2 + r, |r| ≤ ln2/2; e^r by a degree-11 Taylor polynomial (error < 1e-16).
        let k = (x * invLn2).rounded(.toNearestOrEven)
        let r = (x - k * ln2Hi) - k * ln2Lo
        var p = 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        return scale(p, byPowerOfTwo: Int(k))
    }

    @inline(__always)
    static func scale(_ value: Double, byPowerOfTwo k: Int) -> Double {
        // Two steps keep each factor a normal Double even when k is near the range limits.
        let half = k / 2
        let a = Double(sign: .plus, exponent: half, significand: 1.0)
        let b = Double(sign: .plus, exponent: k - half, significand: 1.0)
        return value * a * b
    }

    @inline(__always)
    public static func exp(_ x: Float) -> Float { Float(expDouble(Double(x))) }

    /// Natural logarithm (x > 0), Double precision.
    static func logDouble(_ x: Double) -> Double {
        if x <= 0 { return x == 0 ? -.infinity : .nan }
        if !x.isFinite { return x }
        // x = m·2^e with m in [√½, √2); log(m) = 2·atanh((m-1)/(m+1)) by its odd series.
        var e = Int(x.exponent)
        var m = x.significand  // [1, 2)
        if m > 1.4142135623730951 { m *= 0.5; e += 1 }
        let s = (m - 1) / (m + 1)
        let s2 = s * s
        var term = s
        var sum = 0.0
        var n = 1.0
        while n < 40 {
            sum += term / n
            term *= s2
            n += 2
        }
        return 2 * sum + Double(e) * (ln2Hi + ln2Lo)
    }

    public static func log(_ x: Float) -> Float { Float(logDouble(Double(x))) }

    /// base^exponent for base > 0.
    public static func pow(_ base: Float, _ exponent: Float) -> Float {
        Float(expDouble(Double(exponent) * logDouble(Double(base))))
    }

    public static func tanh(_ x: Float) -> Float {
        let d = Double(x)
        if d > 20 { return 1 }
        if d < -20 { return -1 }
        if abs(d) < 1e-4 { return x }  // the formula below would cancel badly
        let e2 = expDouble(2 * d)
        return Float((e2 - 1) / (e2 + 1))
    }

    /// sine and cosine of a Double angle (any magnitude a RoPE position reaches), each rounded to Float.
    public static func sinCos(_ angle: Double) -> (sin: Float, cos: Float) {
        // Reduce to r in [-π/4, π/4] around a multiple q of π/2 (Cody–Waite with a 3-part π/2).
        let q = (angle * 0.63661977236758134308).rounded(.toNearestOrEven)
        let r = ((angle - q * 1.57079632673412561417) - q * 6.07710050650619224932e-11) - q * 2.02226624879595063154e-21
        let r2 = r * r
        var s = -1.0 / 1307674368000.0  // -1/15!
        s = s * r2 + 1.0 / 6227020800.0
        s = s * r2 - 1.0 / 39916800.0
        s = s * r2 + 1.0 / 362880.0
        s = s * r2 - 1.0 / 5040.0
        s = s * r2 + 1.0 / 120.0
        s = s * r2 - 1.0 / 6.0
        let sinR = r + r * r2 * s
        var c = 1.0 / 20922789888000.0  // 1/16!
        c = c * r2 - 1.0 / 87178291200.0
        c = c * r2 + 1.0 / 479001600.0
        c = c * r2 - 1.0 / 3628800.0
        c = c * r2 + 1.0 / 40320.0
        c = c * r2 - 1.0 / 720.0
        c = c * r2 + 1.0 / 24.0
        c = c * r2 - 0.5
        let cosR = 1 + r2 * c
        switch Int(q.truncatingRemainder(dividingBy: 4) + 4) % 4 {
        case 0: return (Float(sinR), Float(cosR))
        case 1: return (Float(cosR), Float(-sinR))
        case 2: return (Float(-sinR), Float(-cosR))
        default: return (Float(-cosR), Float(sinR))
        }
    }
}
