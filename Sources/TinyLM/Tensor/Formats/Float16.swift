// Half-precision formats, converted with integer bit tricks only (no Float16 type, no
// compiler-rt helpers), so the same code is a handful of v128 ops in wasm.
//
// F16 (ggml type 1): IEEE 754 binary16, 2 bytes little-endian: sign(1) exponent(5, bias 15)
//   mantissa(10).
// BF16 (ggml type 30): the upper 16 bits of an IEEE binary32, 2 bytes little-endian.
// F32 (ggml type 0): IEEE binary32, 4 bytes little-endian.
//
// ggml's vec_dot_type for F16 weights is F16 and for BF16 weights is BF16: llama.cpp rounds the
// activations to the weight's half format first and accumulates the products in f32. The
// kernels here do the same so the numerics match.

#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

/// IEEE binary16 <-> binary32.
public enum FP16 {
    /// Exact f16 -> f32 for every input (normals, subnormals, ±0, ±inf, NaN).
    /// The 15 magnitude bits are placed under the f32 exponent/mantissa fields and the result
    /// is scaled by 2^112 (exact: a power of two), which also handles subnormals; an all-ones
    /// exponent (inf/NaN) is moved to 255 first.
    @inline(__always)
    public static func toFloat(_ bits: UInt16) -> Float {
        #if TINYLM_HARDWARE_F16
        return Float(Float16(bitPattern: bits))
        #else
        let h = UInt32(bits)
        var magnitude = (h & 0x7FFF) &<< 13
        if h & 0x7C00 == 0x7C00 { magnitude |= 0x7F80_0000 }
        let scaled = Float(bitPattern: magnitude) * 0x1p112
        return Float(bitPattern: scaled.bitPattern | ((h & 0x8000) &<< 16))
        #endif
    }

    /// Four f16 values (in the low 16 bits of each lane) to f32.
    @inline(__always)
    public static func toFloat4(_ h: SIMD4<UInt32>) -> SIMD4<Float> {
        #if TINYLM_HARDWARE_F16
        // One vcvtph2ps (F16C) / fcvtl (arm64).
        return SIMD4<Float>(unsafeBitCast(SIMD4<UInt16>(truncatingIfNeeded: h), to: SIMD4<Float16>.self))
        #else
        // An all-ones exponent carries into bit 15 when 0x400 is added; 0x8000 · 0xFF00 is
        // 0x7F80_0000, the f32 inf/NaN exponent. (A mask compare plus `replace(with:where:)`
        // compiles to a per-lane loop through the stack in wasm.)
        let infNaN = (((h & 0x7C00) &+ 0x0400) & 0x8000) &* 0xFF00
        let magnitude = ((h & 0x7FFF) &<< 13) | infNaN
        let scaled = unsafeBitCast(magnitude, to: SIMD4<Float>.self) * 0x1p112
        let bits = unsafeBitCast(scaled, to: SIMD4<UInt32>.self) | ((h & 0x8000) &<< 16)
        return unsafeBitCast(bits, to: SIMD4<Float>.self)
        #endif
    }

    /// f32 -> f16, round to nearest even (like GGML_FP32_TO_FP16 / F16C). Overflow gives ±inf,
    /// NaN gives a quiet NaN.
    @inline(__always)
    public static func fromFloat(_ value: Float) -> UInt16 {
        var f = value.bitPattern
        let sign = f & 0x8000_0000
        f ^= sign
        var o: UInt32
        if f >= (127 + 16) << 23 {                  // too large for f16, inf or NaN
            o = f > 0x7F80_0000 ? 0x7E00 : 0x7C00
        } else if f < 113 << 23 {                   // result is subnormal or zero
            // Adding 0.5 (as a float with the right exponent) lets the FPU round the mantissa.
            let denormMagic: UInt32 = ((127 - 15) + (23 - 10) + 1) << 23
            let sum = Float(bitPattern: f) + Float(bitPattern: denormMagic)
            o = sum.bitPattern &- denormMagic
        } else {
            let mantissaOdd = (f >> 13) & 1
            f = f &+ (UInt32(bitPattern: Int32(15 - 127) << 23) &+ 0xFFF)
            f = f &+ mantissaOdd
            o = f >> 13
        }
        return UInt16(truncatingIfNeeded: o | (sign >> 16))
    }

    /// `fromFloat` of four values, without branches (a dozen v128 instructions in wasm, where
    /// the compiler turns fromFloat's branches into three selects): the f16 bits in each
    /// lane's high 16 bits, the low 16 zero. |x| is limited to 65536 (f16's inf once scaled;
    /// a pseudo-minimum keeps NaN), then rounded to f16's precision by adding and subtracting
    /// 2^(e+13), e its exponent but at least −14 (the ulp of 2^−1 is the subnormal step
    /// 2^−24); a NaN then becomes 98304 (0x7E00 once scaled). Scaling by 2^−112 is exact and
    /// puts the f16 exponent and mantissa 13 bits up in the f32 bits, subnormals included
    /// (as f32 subnormals); three more bits up, x's sign joins them.
    @inline(__always)
    public static func fromFloat4(_ x: SIMD4<Float>) -> SIMD4<UInt32> {
        let bits = unsafeBitCast(x, to: SIMD4<UInt32>.self)
        let limited = pseudoMin(unsafeBitCast(bits & 0x7FFF_FFFF, to: SIMD4<Float>.self), SIMD4(repeating: 65536))
        let power = (atLeast(unsafeBitCast(limited, to: SIMD4<UInt32>.self), 0x3880_0000) & 0x7F80_0000) &+ (13 << 23)
        let shift = unsafeBitCast(power, to: SIMD4<Float>.self)
        let rounded = pseudoMin(SIMD4(repeating: 98304), (limited + shift) - shift)
        let scaled = unsafeBitCast(rounded * 0x1p-112, to: SIMD4<UInt32>.self) &<< 3
        return select(scaled, bits, where: SIMD4(repeating: 0x7FFF_FFFF))
    }

    /// `fromFloat` of eight values (fromFloat4 twice, the high halves gathered by one shuffle).
    @inline(__always)
    public static func fromFloat8(_ x: SIMD8<Float>) -> SIMD8<UInt16> {
        tinylm_odd16(unsafeBitCast(fromFloat4(x.lowHalf), to: SIMD8<UInt16>.self),
                     unsafeBitCast(fromFloat4(x.highHalf), to: SIMD8<UInt16>.self))
    }

    /// `count` values from `source` to f16 bits at `target` (a KV cache row), eight at a time.
    @inline(__always)
    public static func fromFloatRow(_ source: UnsafePointer<Float>, count: Int, into target: UnsafeMutablePointer<UInt16>) {
        let from = UnsafeRawPointer(source), to = UnsafeMutableRawPointer(target)
        var i = 0
        while i &+ 8 <= count {
            to.storeBytes(of: fromFloat8(from.loadUnaligned(fromByteOffset: 4 &* i, as: SIMD8<Float>.self)), toByteOffset: 2 &* i, as: SIMD8<UInt16>.self)
            i &+= 8
        }
        while i < count {
            target[i] = fromFloat(source[i])
            i += 1
        }
    }

    /// The value `value` becomes after a round trip through f16.
    @inline(__always)
    public static func round(_ value: Float) -> Float {
        #if TINYLM_HARDWARE_F16
        return Float(Float16(value))  // vcvtps2ph rounds to nearest even, as fromFloat does
        #else
        return toFloat(fromFloat(value))
        #endif
    }

    /// Eight f16 values to f32.
    @inline(__always)
    public static func toFloat8(_ h: SIMD8<UInt16>) -> SIMD8<Float> {
        #if TINYLM_HARDWARE_F16
        return SIMD8<Float>(unsafeBitCast(h, to: SIMD8<Float16>.self))
        #elseif arch(wasm32)
        return SIMD8(lowHalf: toFloat4(tinylm_widen_low_u16(h)), highHalf: toFloat4(tinylm_widen_high_u16(h)))
        #else
        let w = SIMD8<UInt32>(truncatingIfNeeded: h)
        return SIMD8(lowHalf: toFloat4(w.lowHalf), highHalf: toFloat4(w.highHalf))
        #endif
    }

    /// Four values after a round trip through f16 (`round` per lane), in integer and float lane
    /// operations only: where |x| is an f16 normal, the low 13 mantissa bits are rounded off to
    /// nearest even on the f32 bits; below 2^-14, adding and subtracting 0.5 (whose ulp is the f16
    /// subnormal step 2^-24) lets the FPU round; from 65520 up, ±inf; NaN stays NaN (quiet).
    /// The branches become masks, so wasm runs it as a dozen v128 instructions.
    @inline(__always)
    public static func round4(_ x: SIMD4<Float>) -> SIMD4<Float> {
        let bits = unsafeBitCast(x, to: SIMD4<UInt32>.self)
        let sign = bits & 0x8000_0000
        let a = bits ^ sign
        let normal = (a &+ 0x0FFF &+ ((a &>> 13) & 1)) & 0xFFFF_E000
        let subnormal = unsafeBitCast(unsafeBitCast(a, to: SIMD4<Float>.self) + 0.5 - 0.5, to: SIMD4<UInt32>.self)
        let isSubnormal = below(a, 0x3880_0000), isFinite = below(a, 0x477F_F000), isNaN = ~below(a, 0x7F80_0001)
        var r = select(subnormal, normal, where: isSubnormal)
        r = select(r, SIMD4(repeating: 0x7F80_0000), where: isFinite) | (isNaN & 0x0040_0000)
        return unsafeBitCast(r | sign, to: SIMD4<Float>.self)
    }

    /// `round4`'s results in fewer lane operations (wasm's f16 accumulator of attention, where
    /// round4 was most of the time): adding a power of two whose ulp is f16's step at |x|'s
    /// exponent (2^13 times that power, but at least 2^-1, whose ulp is the subnormal step
    /// 2^-24) lets the FPU round to nearest even, and subtracting it again is exact. Scaling by
    /// 2^112 and back is exact below 65536 and overflows from there up, where f16 is ±inf
    /// (65520 rounds to 65536). The power is capped at 2^29 so that inf and NaN stay inf and
    /// NaN (NaN's payload is the engine's, as for any wasm arithmetic on NaN).
    @inline(__always)
    public static func round4ByAddition(_ x: SIMD4<Float>) -> SIMD4<Float> {
        let bits = unsafeBitCast(x, to: SIMD4<UInt32>.self)
        let magnitude = bits & 0x7FFF_FFFF
        let power = (clamp(magnitude, 0x3880_0000, 0x4780_0000) & 0x7F80_0000) &+ (13 << 23)
        let a = unsafeBitCast(magnitude, to: SIMD4<Float>.self), shift = unsafeBitCast(power, to: SIMD4<Float>.self)
        let rounded = ((a + shift) - shift) * 0x1p112 * 0x1p-112
        return unsafeBitCast(unsafeBitCast(rounded, to: SIMD4<UInt32>.self) | (bits ^ magnitude), to: SIMD4<Float>.self)
    }

    /// a per lane, limited to low … high (unsigned).
    @inline(__always)
    static func clamp(_ a: SIMD4<UInt32>, _ low: UInt32, _ high: UInt32) -> SIMD4<UInt32> {
        #if arch(wasm32)
        return tinylm_clamp_u32(a, SIMD4(repeating: low), SIMD4(repeating: high))
        #else
        return a.clamped(lowerBound: SIMD4(repeating: low), upperBound: SIMD4(repeating: high))
        #endif
    }

    /// All ones where a < limit, for a and limit below 2^31.
    @inline(__always)
    static func below(_ a: SIMD4<UInt32>, _ limit: UInt32) -> SIMD4<UInt32> {
        #if arch(wasm32)
        return tinylm_less_u32(a, SIMD4(repeating: limit))
        #else
        return unsafeBitCast(unsafeBitCast(a &- limit, to: SIMD4<Int32>.self) &>> 31, to: SIMD4<UInt32>.self)
        #endif
    }

    /// max(a, low) per lane (unsigned).
    @inline(__always)
    static func atLeast(_ a: SIMD4<UInt32>, _ low: UInt32) -> SIMD4<UInt32> {
        #if arch(wasm32)
        return tinylm_max_u32(a, SIMD4(repeating: low))
        #else
        return pointwiseMax(a, SIMD4(repeating: low))
        #endif
    }

    /// b < a ? b : a per lane (wasm's f32x4.pmin): a where either is NaN.
    @inline(__always)
    static func pseudoMin(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD4<Float> {
        #if arch(wasm32)
        return tinylm_pmin_f32(a, b)
        #else
        return a.replacing(with: b, where: b .< a)
        #endif
    }

    /// a where mask is all ones, b where it is zero.
    @inline(__always)
    static func select(_ a: SIMD4<UInt32>, _ b: SIMD4<UInt32>, where mask: SIMD4<UInt32>) -> SIMD4<UInt32> {
        #if arch(wasm32)
        return tinylm_select_u32(a, b, mask)
        #else
        return (a & mask) | (b & ~mask)
        #endif
    }

    #if TINYLM_HARDWARE_F16
    /// Eight values after a round trip through f16.
    @inline(__always)
    public static func round8(_ value: SIMD8<Float>) -> SIMD8<Float> { SIMD8<Float>(SIMD8<Float16>(value)) }
    #endif
}

/// bfloat16 <-> binary32.
public enum BF16 {
    @inline(__always)
    public static func toFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) &<< 16) }

    /// f32 -> bf16 exactly like ggml's GGML_FP32_TO_BF16: round to nearest even; NaN is
    /// forced quiet.
    @inline(__always)
    public static func fromFloat(_ value: Float) -> UInt16 {
        let u = value.bitPattern
        if u & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(truncatingIfNeeded: (u >> 16) | 64) }
        return UInt16(truncatingIfNeeded: (u &+ (0x7FFF &+ ((u >> 16) & 1))) >> 16)
    }

    @inline(__always)
    public static func round(_ value: Float) -> Float { toFloat(fromFloat(value)) }
}

/// F32, F16 and BF16 rows: dequantization and dot products against f32 activations (already
/// rounded to the weight's half format by the caller for F16/BF16, as ggml does).
public enum FloatFormats {
    public static func dequantizeRowF32(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<count { out[i] = src.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
    }

    public static func dequantizeRowF16(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<count { out[i] = FP16.toFloat(src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
    }

    public static func dequantizeRowBF16(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<count { out[i] = BF16.toFloat(src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
    }

    /// Σ w[i]·x[i] for an f32 weight row (unaligned bytes) and f32 activations.
    @inline(__always)
    public static func dotF32(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var a0 = SIMD4<Float>(), a1 = SIMD4<Float>(), a2 = SIMD4<Float>(), a3 = SIMD4<Float>()
        let xr = UnsafeRawPointer(x)
        var i = 0
        while i + 16 <= count {
            a0 += w.loadUnaligned(fromByteOffset: i * 4, as: SIMD4<Float>.self) * xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD4<Float>.self)
            a1 += w.loadUnaligned(fromByteOffset: i * 4 + 16, as: SIMD4<Float>.self) * xr.loadUnaligned(fromByteOffset: i * 4 + 16, as: SIMD4<Float>.self)
            a2 += w.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD4<Float>.self) * xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD4<Float>.self)
            a3 += w.loadUnaligned(fromByteOffset: i * 4 + 48, as: SIMD4<Float>.self) * xr.loadUnaligned(fromByteOffset: i * 4 + 48, as: SIMD4<Float>.self)
            i += 16
        }
        while i + 4 <= count {
            a0 += w.loadUnaligned(fromByteOffset: i * 4, as: SIMD4<Float>.self) * xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD4<Float>.self)
            i += 4
        }
        var sum = ((a0 + a1) + (a2 + a3)).sum()
        while i < count {
            sum += w.loadUnaligned(fromByteOffset: i * 4, as: Float.self) * x[i]
            i += 1
        }
        return sum
    }

    /// Σ f16(w[i])·x[i], x already rounded to f16 values.
    @inline(__always)
    public static func dotF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var a0 = SIMD4<Float>(), a1 = SIMD4<Float>()
        let xr = UnsafeRawPointer(x)
        var i = 0
        while i + 8 <= count {
            let pair = w.loadUnaligned(fromByteOffset: i * 2, as: SIMD4<UInt32>.self)
            // pair lanes hold (h[2k] | h[2k+1] << 16): even elements in the low halves.
            let fe = FP16.toFloat4(pair & 0xFFFF)
            let fo = FP16.toFloat4(pair &>> 16)
            let x0 = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            a0 += fe * x0.evenHalf
            a1 += fo * x0.oddHalf
            i += 8
        }
        var sum = (a0 + a1).sum()
        while i < count {
            sum += FP16.toFloat(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * x[i]
            i += 1
        }
        return sum
    }

    /// Σ bf16(w[i])·x[i], x already rounded to bf16 values.
    @inline(__always)
    public static func dotBF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var a0 = SIMD4<Float>(), a1 = SIMD4<Float>()
        let xr = UnsafeRawPointer(x)
        var i = 0
        while i + 8 <= count {
            let pair = w.loadUnaligned(fromByteOffset: i * 2, as: SIMD4<UInt32>.self)
            let fe = unsafeBitCast(pair &<< 16, to: SIMD4<Float>.self)
            let fo = unsafeBitCast(pair & 0xFFFF_0000, to: SIMD4<Float>.self)
            let x0 = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            a0 += fe * x0.evenHalf
            a1 += fo * x0.oddHalf
            i += 8
        }
        var sum = (a0 + a1).sum()
        while i < count {
            sum += BF16.toFloat(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * x[i]
            i += 1
        }
        return sum
    }
}
