#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

/// Elementary functions in pure Swift. The core links no C math library, so native and wasm
/// builds run the very same arithmetic and a given seed gives the same text everywhere.
/// Most functions evaluate in Double and round once to Float: accurate to within an ulp of the
/// correctly rounded Float result. expf, sinf and cosf instead reproduce glibc's results
/// exactly, because llama.cpp's attention and RoPE use them and we match its numerics.
public enum Math {
    /// c + a·b with one rounding (the FMA glibc's routines are written with). wasm has no
    /// fused multiply-add: there Swift calls a software fma, unless the relaxed-SIMD build
    /// found f64x2.relaxed_madd fused on this machine.
    @inline(__always)
    static func fused(_ c: Double, _ a: Double, _ b: Double) -> Double {
        #if TINYLM_RELAXED_SIMD
        if WasmFusedMultiplyAdd.relaxedIsFused { return tinylm_relaxed_madd_f64(a, b, c) }
        #endif
        return c.addingProduct(a, b)
    }

    static let ln2Hi = 6.93147180369123816490e-01
    static let ln2Lo = 1.90821492927058770002e-10
    static let invLn2 = 1.44269504088896338700e+00

    /// e^x in Double for |x| < ~708 (callers clamp).
    @inline(__always)
    static func expDouble(_ x: Double) -> Double {
        // NaN (logits of a model with NaN weights) stays NaN; Int(k) below would trap on it.
        if x.isNaN { return x }
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

    /// expf as glibc computes it (x86-64 FMA build), for llama.cpp's attention softmax, which
    /// calls it for every score: not always the correctly rounded value (about 1 in 1400
    /// arguments differ from it by an ulp). Arm's optimized-routines algorithm, which glibc
    /// uses: x·32/ln 2 = k + r (k rounded off with the 1.5·2^52 trick), 2^(k/32) from a table
    /// whose entries take k's high bits straight into their exponent, and a cubic in r, each
    /// `a + b·c` fused, including the two of the reduction (glibc's FMA build forms x·32/ln 2 + 1.5·2^52
    /// and x·32/ln 2 − k from the unrounded product). Checked against glibc over every Float.
    /// Without an FMA instruction the chain runs unfused first (expfUnfused) and fused only
    /// where that cannot settle the Float.
    public static func expf(_ x: Float) -> Float {
        let top = (x.bitPattern >> 20) & 0x7FF
        if top >= 0x42B {                                       // |x| ≥ 88, inf or NaN
            if x == -.infinity { return 0 }
            if top >= 0x7F8 { return x + x }
            if x > 0x1.62e42ep6 { return .infinity }
            if x < -0x1.9fe368p6 { return 0 }
        }
        #if !TINYLM_HARDWARE_FMA
        if top < 0x42B {
            let (r, scale) = expfReducedUnfused(x)
            let unfused = expfUnfused(r, scale: scale)
            if roundsLikeFusedExpf(unfused, r: r) { return Float(unfused) }
        }
        #endif
        return expfFused(x)
    }

    /// Math.expf's chain (below the overflow and underflow limits), every step as glibc's FMA
    /// build rounds it.
    @inline(__always)
    static func expfFused(_ x: Float) -> Float {
        let xd = Double(x)
        let shifted = fused(0x1.8p+52, 0x1.71547652b82fep+5, xd)
        let k = shifted.bitPattern
        let r = fused(-(shifted - 0x1.8p+52), 0x1.71547652b82fep+5, xd)
        let scale = Double(bitPattern: expTableWord(Int(k & 31)) &+ (k &<< 47))
        let cubic = fused(0x1.ebfce50fac4f3p-13, 0x1.c6af84b912394p-20, r)
        let linear = fused(1, 0x1.62e42ff0c52d6p-6, r)
        return Float(fused(linear, cubic, r * r) * scale)
    }

    /// expf's reduction with the product x·32/ln 2 rounded first: r is then within 2^-42 of
    /// the fused reduction's (the product is below 2^12), and k the same unless that product
    /// lies within 2^-42 of a half-integer, where |r| ≥ 1/2 − 2^-42.
    @inline(__always)
    static func expfReducedUnfused(_ x: Float) -> (r: Double, scale: Double) {
        let z = 0x1.71547652b82fep+5 * Double(x)
        let shifted = z + 0x1.8p+52
        let k = shifted.bitPattern
        return (z - (shifted - 0x1.8p+52), Double(bitPattern: expTableWord(Int(k & 31)) &+ (k &<< 47)))
    }

    /// expf's cubic times `scale` with each `a + b·c` rounded twice, product then sum, on
    /// expfReducedUnfused's r: for builds without an FMA instruction, where `fused` is a
    /// software routine (or, in the relaxed-SIMD module, a lane operation). With the same k, it
    /// is within 104 units of the lower binade's ulp of the fused chain's value: r moves by
    /// ≤ 2^-42 + 2^-54 and the cubic's slope is below 0.022 (≤ 2^-47.5); |r| ≤ 1/2, so the
    /// linear step's extra rounding moves it by at most 2^-60 before its own rounding, the
    /// cubic's and its product's by ≤ 2^-65, the polynomial (near 1) by ≤ 2^-51 after rounding
    /// on top of r's share, and times scale ∈ [1, 2)·2^m by < 2^(m-46.37) before and another
    /// 2^(m-51) after the final rounding: < 2^(m-46.3) = 104·2^(m-53).
    @inline(__always)
    static func expfUnfused(_ r: Double, scale: Double) -> Double {
        let cubic = 0x1.ebfce50fac4f3p-13 + 0x1.c6af84b912394p-20 * r
        let linear = 1 + 0x1.62e42ff0c52d6p-6 * r
        return (linear + cubic * (r * r)) * scale
    }

    /// Whether `value` (expfUnfused's, positive, from reduced argument r) rounds to the Float
    /// the fused chain's does: it does unless k may differ (|r| ≥ 1/2 − 2^-40) or a Float
    /// rounding boundary lies within expfUnfused's 104 units of it. The boundaries that matter
    /// are the midpoints between Floats, where the 29 mantissa bits below Float's precision are
    /// 2^28; a window of 256 units on either side is checked (about one argument in a million
    /// is sent back to the fused chain), and results below 2^-126, where Float's subnormal
    /// steps put the midpoints elsewhere, go back too.
    @inline(__always)
    static func roundsLikeFusedExpf(_ value: Double, r: Double) -> Bool {
        let bits = value.bitPattern
        return bits >= 0x3810_0000_0000_0000 && ((bits & 0x1FFF_FFFF) &+ 256) &>> 9 != 0x8_0000
            && r.magnitude < 0.5 - 0x1p-40
    }

    /// 2^(i/32) as bits, minus i << 47 (added back with k's bits).
    static let expTable: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                          UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                          UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                          UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
         0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
         0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
         0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
         0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
         0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
         0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
         0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540)

    @inline(__always)
    static func expTableWord(_ i: Int) -> UInt64 {
        withUnsafeBytes(of: expTable) { $0.load(fromByteOffset: i * 8, as: UInt64.self) }
    }

    /// sinf and cosf as glibc computes them (x86-64, whose FMA build is the one a current CPU
    /// runs): llama.cpp takes RoPE's rotations from them, and they are not always the correctly
    /// rounded value (about 0.7% of the angles RoPE uses differ by an ulp), which is enough to
    /// move a rotated query across an f16 rounding boundary. The algorithm is Arm's
    /// optimized-routines sinf/cosf, which glibc uses: evaluate in Double, reduce by π/2 with
    /// one fused multiply-subtract below 120 or with a 4/π table in 64-bit integers above, then
    /// a short sine or cosine polynomial. Each `a + b·c` of that C code is a fused multiply-add
    /// in glibc's FMA build, and so here. Checked against glibc over every Float in [0, 4096).
    public static func sinf(_ x: Float) -> Float { sinCosf(x, cosine: false) }
    public static func cosf(_ x: Float) -> Float { sinCosf(x, cosine: true) }

    // Polynomial coefficients of the reduced sine (s1…s3) and cosine (c0…c4); the cosine
    // coefficients are negated in quadrants 2 and 3, which negates the result for free.
    static let sinCoefficients = (-0x1.555545995a603p-3, 0x1.1107605230bc4p-7, -0x1.994eb3774cf24p-13)
    static let cosCoefficients = (0x1p0, -0x1.ffffffd0c621cp-2, 0x1.55553e1068f19p-5, -0x1.6c087e89a359dp-10, 0x1.99343027bf8c3p-16)
    /// 4/π to 192 bits, one byte more per entry (so any 96-bit window is three aligned words).
    static let fourOverPi: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
                            UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0xa2, 0xa2f9, 0xa2f983, 0xa2f9836e, 0xf9836e4e, 0x836e4e44, 0x6e4e4415, 0x4e441529,
         0x441529fc, 0x1529fc27, 0x29fc2757, 0xfc2757d1, 0x2757d1f5, 0x57d1f534, 0xd1f534dd, 0xf534ddc0,
         0x34ddc0db, 0xddc0db62, 0xc0db6295, 0xdb629599, 0x6295993c, 0x95993c43, 0x993c4390, 0x3c439041)

    @inline(__always)
    static func fourOverPiWord(_ i: Int) -> UInt32 {
        withUnsafeBytes(of: fourOverPi) { $0.load(fromByteOffset: i * 4, as: UInt32.self) }
    }

    /// Bits 20…30 of a Float: comparing them compares magnitudes coarsely, as glibc does.
    @inline(__always) static func top12(_ x: Float) -> UInt32 { (x.bitPattern >> 20) & 0x7FF }

    static func sinCosf(_ y: Float, cosine: Bool) -> Float {
        var x = Double(y)
        if top12(y) < top12(0x1.921FB6p-1) {                     // |y| < π/4: no reduction
            if top12(y) < top12(0x1p-12) { return cosine ? 1 : y }
            return reducedSinCos(x, x * x, quadrant: cosine ? 1 : 0, negateCosine: false)
        }
        var n: Int
        var sign = 0
        if top12(y) < top12(120) {
            // n = round(x·2/π) through a 2^24-scaled truncation; x − n·π/2 in one fused step.
            let r = x * 0x1.45F306DC9C883p+23
            n = (Int(Int32(r)) + 0x80_0000) >> 24
            x = fused(x, -Double(n), 0x1.921FB54442D18p0)
        } else if y.isFinite {
            // 32×96-bit product with the 4/π window selected by the exponent: the fraction of
            // y·4/π (scaled by 2^62) and the quadrant come out exact.
            let bits = y.bitPattern
            sign = Int(bits >> 31)
            let window = Int((bits >> 26) & 15)
            let m = ((bits & 0xFF_FFFF) | 0x80_0000) << ((bits >> 23) & 7)
            let low = UInt64(m &* fourOverPiWord(window))
            let mid = UInt64(m) &* UInt64(fourOverPiWord(window + 4))
            let high = UInt64(m) &* UInt64(fourOverPiWord(window + 8))
            var fraction = ((high >> 32) | (low << 32)) &+ mid
            let q = (fraction &+ (1 << 61)) >> 62
            fraction &-= q << 62
            n = Int(q)
            x = Double(Int64(bitPattern: fraction)) * 0x1.921FB54442D18p-62
        } else {
            return .nan
        }
        let quadrant = n + sign
        let s: Double = (quadrant & 3 == 1 || quadrant & 3 == 2) ? -1 : 1
        return reducedSinCos(x * s, x * x, quadrant: cosine ? n ^ 1 : n, negateCosine: quadrant & 2 != 0)
    }

    /// sin(x) for an even quadrant, cos(x) for an odd one (x2 = x·x, |x| ≤ π/4).
    @inline(__always)
    static func reducedSinCos(_ x: Double, _ x2: Double, quadrant: Int, negateCosine: Bool) -> Float {
        if quadrant & 1 == 0 {
            let (s1, s2, s3) = sinCoefficients
            let x3 = x * x2
            let tail = fused(s2, x2, s3)
            let x7 = x3 * x2
            let head = fused(x, x3, s1)
            return Float(fused(head, x7, tail))
        }
        var (c0, c1, c2, c3, c4) = cosCoefficients
        if negateCosine { c0 = -c0; c1 = -c1; c2 = -c2; c3 = -c3; c4 = -c4 }
        let x4 = x2 * x2
        let tail = fused(c3, x2, c4)
        let head = fused(c0, x2, c1)
        let x6 = x4 * x2
        let c = fused(head, x4, c2)
        return Float(fused(c, x6, tail))
    }
}
