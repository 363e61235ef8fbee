// The float steps every kernel shares, written once so that each instruction set rounds the
// same way: fused multiply-adds (an FMA instruction natively; in wasm, which has none, the
// relaxed-SIMD one where a startup probe found it fused, else formed in f64), ggml's
// horizontal sum, and Int32 → Float conversions.

#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

enum LaneMath {
    /// acc + a·b with one rounding to Float.
    @inline(__always)
    static func fusedMultiplyAdd(_ a: Float, _ b: Float, _ acc: Float) -> Float {
        #if TINYLM_HARDWARE_FMA
        return acc.addingProduct(a, b)
        #else
        return fusedInDouble(SIMD2(repeating: a), SIMD2(repeating: b), SIMD2(repeating: acc))[0]
        #endif
    }

    /// acc + a·b with one rounding to Float, per lane.
    @inline(__always)
    static func fusedMultiplyAdd(_ a: SIMD4<Float>, _ b: SIMD4<Float>, _ acc: SIMD4<Float>) -> SIMD4<Float> {
        #if TINYLM_HARDWARE_FMA
        return acc.addingProduct(a, b)
        #else
        #if TINYLM_RELAXED_SIMD
        if WasmFusedMultiplyAdd.relaxedIsFused { return tinylm_relaxed_madd(a, b, acc) }
        #endif
        return SIMD4(lowHalf: fusedInDouble(a.lowHalf, b.lowHalf, acc.lowHalf),
                     highHalf: fusedInDouble(a.highHalf, b.highHalf, acc.highHalf))
        #endif
    }

    /// acc + a·b with one rounding to Float, per lane of eight.
    @inline(__always)
    static func fusedMultiplyAdd(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ acc: SIMD8<Float>) -> SIMD8<Float> {
        #if TINYLM_HARDWARE_FMA
        return acc.addingProduct(a, b)
        #else
        return SIMD8(lowHalf: fusedMultiplyAdd(a.lowHalf, b.lowHalf, acc.lowHalf),
                     highHalf: fusedMultiplyAdd(a.highHalf, b.highHalf, acc.highHalf))
        #endif
    }

    /// acc + scale·lanes with one rounding to Float, per lane: the update of the eight-lane
    /// vec_dot accumulators. `lanes` must hold integers below 2^29 in magnitude (exact block
    /// sums), which the wasm build relies on to form the product exactly in f64.
    @inline(__always)
    static func fusedMultiplyAdd(_ scale: Float, _ lanes: SIMD8<Float>, _ acc: SIMD8<Float>) -> SIMD8<Float> {
        #if TINYLM_HARDWARE_FMA
        return acc.addingProduct(lanes, SIMD8(repeating: scale))
        #elseif arch(wasm32)
        return SIMD8(lowHalf: WasmFusedMultiplyAdd.apply(lanes.lowHalf, scale, acc.lowHalf),
                     highHalf: WasmFusedMultiplyAdd.apply(lanes.highHalf, scale, acc.highHalf))
        #else
        return fusedMultiplyAdd(SIMD8(repeating: scale), lanes, acc)
        #endif
    }

    /// fma without an FMA instruction: a·b is exact in Double (two 24-bit significands); the sum
    /// is rounded to odd in Double (round to nearest, then, if that was inexact and the last bit
    /// is 0, one ulp towards the exact value), which makes the final rounding to Float correct —
    /// plain Double rounding twice could land on a Float tie the exact sum is not on. The step
    /// is chosen with sign-bit arithmetic rather than masks: `replace(with:where:)` goes lane
    /// by lane through the stack in wasm.
    @inline(__always)
    static func fusedInDouble(_ a: SIMD2<Float>, _ b: SIMD2<Float>, _ c: SIMD2<Float>) -> SIMD2<Float> {
        let p = widen(a) * widen(b), z = widen(c)
        let s = p + z
        let t = s - z
        let error = (p - t) + (z - (s - t))  // s + error == p + z exactly
        let bits = unsafeBitCast(s, to: SIMD2<Int64>.self)
        let errorBits = unsafeBitCast(error, to: SIMD2<Int64>.self)
        // +1 (away from 0) where error has s's sign, else −1; arithmetic shifts spread sign bits.
        let direction = (((bits ^ errorBits) &>> 63) &<< 1) | 1
        // All ones where error ≠ ±0 (its magnitude negated is negative) and s's last bit is 0.
        let inexact = 0 &- (errorBits & Int64.max)
        let applies = (inexact & ~(bits &<< 63)) &>> 63
        return narrow(unsafeBitCast(bits &+ (direction & applies), to: SIMD2<Double>.self))
    }

    // Lane-wise conversions written out, so they lower to the two-lane convert instructions
    // (cvtps2pd/cvtpd2ps, f64x2.promote_low_f32x4/f32x4.demote_f64x2_zero) rather than a
    // generic per-lane loop.
    @inline(__always) static func widen(_ x: SIMD2<Float>) -> SIMD2<Double> { SIMD2(Double(x[0]), Double(x[1])) }
    @inline(__always) static func narrow(_ x: SIMD2<Double>) -> SIMD2<Float> { SIMD2(Float(x[0]), Float(x[1])) }

    /// ggml's hsum_float_8: ((a4 + a0) + (a6 + a2)) + ((a5 + a1) + (a7 + a3)).
    @inline(__always)
    static func horizontalSum(_ a: SIMD8<Float>) -> Float {
        ((a[4] + a[0]) + (a[6] + a[2])) + ((a[5] + a[1]) + (a[7] + a[3]))
    }

    /// Int32 → Float rounded to nearest even, as cvtdq2ps (K-quant sums can pass 2^24): both
    /// halves of v = hi·4096 + lo convert exactly, and the one addition rounds their exact sum.
    @inline(__always)
    static func roundedFloats(_ v: SIMD4<Int32>) -> SIMD4<Float> {
        exactFloats(v &>> 12) * 4096 + exactFloats(v & 4095)
    }

    /// Int32 → Float rounded to nearest even, one value (cvtsi2ss, f32.convert_i32_s).
    @inline(__always)
    static func roundedFloat(_ v: Int32) -> Float { Float(Int(v)) }

    /// Exact Int32 → Float for |v| < 2^22 with integer ops and one subtraction (a plain
    /// conversion is a per-lane helper call in Embedded wasm): 1.5·2^23 + v has v in its low
    /// mantissa bits.
    @inline(__always)
    static func exactFloats(_ v: SIMD4<Int32>) -> SIMD4<Float> {
        unsafeBitCast(v &+ 0x4B40_0000, to: SIMD4<Float>.self) - 12_582_912.0
    }

    @inline(__always)
    static func exactFloats(_ v: SIMD8<Int32>) -> SIMD8<Float> {
        unsafeBitCast(v &+ 0x4B40_0000, to: SIMD8<Float>.self) - 12_582_912.0
    }
}

/// Σ m_w·s_a of four rows of an affine 32-value format (Q4_1, Q5_1), one fused multiply-add per
/// block as ggml's vec_dot loop (its scalar `summs += m·s` is compiled to an FMA).
struct MinSums {
    var sums = SIMD4<Float>()

    @inline(__always)
    mutating func add(_ mins: SIMD4<Float>, _ s: Float) {
        #if TINYLM_HARDWARE_FMA
        sums = sums.addingProduct(mins, SIMD4(repeating: s))
        #elseif arch(wasm32)
        sums = WasmFusedMultiplyAdd.apply(mins, s, sums)
        #else
        sums = LaneMath.fusedMultiplyAdd(mins, SIMD4(repeating: s), sums)
        #endif
    }

    @inline(__always) var value: SIMD4<Float> { sums }
}
