// What the SIMD128 kernels share. These kernels use only Swift's SIMD types on 128-bit
// vectors (plus wasm's i32x4.dot_i16x8_s where it exists): they are the wasm SIMD128 module's
// kernels, the natively portable build's (TINYLM_PORTABLE=1: SSE2), and natively the fallback
// for a group of fewer than four rows.
//
// Activation planes. The integer products are formed in Int16 lanes, so the activations are
// also stored as Int16 "planes" (MatmulScratch.planes): each run of 16 consecutive values
// x[16c ..< 16c+16] is stored as its 8 even-indexed values followed by its 8 odd-indexed ones.
// Any 16 consecutive weight values a format stores one per byte (or nibble) load as a
// SIMD16<UInt8>; viewed as SIMD8<UInt16>, `v & 0xFF` is the even values and `v >> 8` the odd
// ones, so weight and activation lanes line up with two masks/shifts and no shuffles. An
// Int16 lane of even·even + odd·odd sums two neighbouring products, and adjacent lanes widen
// to the sum of four: values 4m…4m+3, exactly ggml's Int32 lane m.

#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

/// Two 16-value chunks of weights in the plane lane order: e0/o0 the even/odd values of
/// values 0..<16 of a 32-value group, e1/o1 of 16..<32.
struct Sub32 {
    var e0: SIMD8<Int16>
    var o0: SIMD8<Int16>
    var e1: SIMD8<Int16>
    var o1: SIMD8<Int16>
}

/// Low nibbles of the 16 bytes in `v`: even values.
@inline(__always)
func lowNibblesE(_ v: SIMD8<UInt16>) -> SIMD8<Int16> { unsafeBitCast(v & 0x000F, to: SIMD8<Int16>.self) }
@inline(__always)
func lowNibblesO(_ v: SIMD8<UInt16>) -> SIMD8<Int16> { unsafeBitCast((v &>> 8) & 0x000F, to: SIMD8<Int16>.self) }
@inline(__always)
func highNibblesE(_ v: SIMD8<UInt16>) -> SIMD8<Int16> { unsafeBitCast((v &>> 4) & 0x000F, to: SIMD8<Int16>.self) }
@inline(__always)
func highNibblesO(_ v: SIMD8<UInt16>) -> SIMD8<Int16> { unsafeBitCast(v &>> 12, to: SIMD8<Int16>.self) }

/// Signed bytes of `v` (16 × Int8 viewed as 8 × Int16): even / odd values sign-extended.
@inline(__always)
func signedBytesE(_ v: SIMD8<Int16>) -> SIMD8<Int16> { (v &<< 8) &>> 8 }
@inline(__always)
func signedBytesO(_ v: SIMD8<Int16>) -> SIMD8<Int16> { v &>> 8 }

/// Sums adjacent Int16 lanes into Int32 lanes (what pmaddwd / i32x4.dot_i16x8_s do after the
/// multiply).
@inline(__always)
func widenPairs(_ p: SIMD8<Int16>) -> SIMD4<Int32> {
    #if arch(wasm32)
    return tinylm_dot_i16x8(p, SIMD8(repeating: 1))
    #else
    let v = unsafeBitCast(p, to: SIMD4<Int32>.self)
    return ((v &<< 16) &>> 16) &+ (v &>> 16)
    #endif
}

@inline(__always)
func loadPlane(_ a: UnsafePointer<Int16>, _ offset: Int) -> SIMD8<Int16> {
    UnsafeRawPointer(a + offset).loadUnaligned(as: SIMD8<Int16>.self)
}

/// Σ w·a over one 16-value chunk in Int16 lanes (each lane is the sum of two products).
/// Valid while |w·a| ≤ 16383 per product, i.e. |w| ≤ 128 with |a| ≤ 127.
@inline(__always)
func chunkProducts(_ e: SIMD8<Int16>, _ o: SIMD8<Int16>, _ a: UnsafePointer<Int16>, _ offset: Int) -> SIMD8<Int16> {
    e &* loadPlane(a, offset) &+ o &* loadPlane(a, offset + 8)
}

/// Dot of a 32-value group whose products are small (|w| ≤ 31): all four product vectors are
/// summed in Int16 (≤ 4·31·127 < 32768) and widened once. (The lanes mix the two halves: for
/// whole-group sums only.)
@inline(__always)
func subDotNarrow(_ s: Sub32, _ a: UnsafePointer<Int16>) -> SIMD4<Int32> {
    widenPairs(chunkProducts(s.e0, s.o0, a, 0) &+ chunkProducts(s.e1, s.o1, a, 16))
}

/// The vec_dot lanes of a 32-value group: lanes 0–3 hold values 0..<16 (four each), lanes
/// 4–7 values 16..<32, each half times its scale.
@inline(__always)
func groupLanes(_ s: Sub32, _ a: UnsafePointer<Int16>, _ scale0: Int32, _ scale1: Int32) -> SIMD8<Int32> {
    SIMD8(lowHalf: widenPairs(chunkProducts(s.e0, s.o0, a, 0)) &* scale0,
          highHalf: widenPairs(chunkProducts(s.e1, s.o1, a, 16)) &* scale1)
}

@inline(__always)
func horizontalSum(_ v: SIMD4<Int32>) -> Int32 { (v[0] &+ v[2]) &+ (v[1] &+ v[3]) }

@inline(__always)
func horizontalSum(_ v: SIMD8<Int32>) -> Int32 { horizontalSum(v.lowHalf &+ v.highHalf) }

/// [Σa, Σb, Σc, Σd] with lane-wise bit ops and 64-bit shifts plus one 64-bit interleave
/// (element-wise shuffles become chains of lane inserts in wasm).
@inline(__always)
func transposedSum(_ a: SIMD4<Int32>, _ b: SIMD4<Int32>, _ c: SIMD4<Int32>, _ d: SIMD4<Int32>) -> SIMD4<Int32> {
    @inline(__always) func pair(_ x: SIMD4<Int32>, _ y: SIMD4<Int32>) -> SIMD2<UInt64> {
        let lo: SIMD2<UInt64> = SIMD2(repeating: 0x0000_0000_FFFF_FFFF)
        let x64 = unsafeBitCast(x, to: SIMD2<UInt64>.self), y64 = unsafeBitCast(y, to: SIMD2<UInt64>.self)
        let even = (x64 & lo) | (y64 &<< 32)      // [x0, y0, x2, y2]
        let odd = (x64 &>> 32) | (y64 & ~lo)      // [x1, y1, x3, y3]
        return unsafeBitCast(unsafeBitCast(even, to: SIMD4<Int32>.self) &+ unsafeBitCast(odd, to: SIMD4<Int32>.self),
                             to: SIMD2<UInt64>.self)
    }
    let ab = pair(a, b), cd = pair(c, d)        // [a01, b01, a23, b23], [c01, d01, c23, d23]
    return unsafeBitCast(SIMD2(ab[0], cd[0]), to: SIMD4<Int32>.self) &+ unsafeBitCast(SIMD2(ab[1], cd[1]), to: SIMD4<Int32>.self)
}

/// The first 32-bit word of the same block in four consecutive rows (Q4_1, Q5_1: d | m << 16).
@inline(__always)
func headerWords4(_ w: UnsafeRawPointer, _ rowBytes: Int) -> SIMD4<UInt32> {
    SIMD4(w.loadUnaligned(as: UInt32.self), (w + rowBytes).loadUnaligned(as: UInt32.self),
          (w + 2 * rowBytes).loadUnaligned(as: UInt32.self), (w + 3 * rowBytes).loadUnaligned(as: UInt32.self))
}

/// The leading f16 scale of the same block in four consecutive rows (Q4_0, Q5_0, Q8_0).
@inline(__always)
func headerHalves4(_ w: UnsafeRawPointer, _ rowBytes: Int) -> SIMD4<UInt32> {
    SIMD4(UInt32(w.loadUnaligned(as: UInt16.self)), UInt32((w + rowBytes).loadUnaligned(as: UInt16.self)),
          UInt32((w + 2 * rowBytes).loadUnaligned(as: UInt16.self)), UInt32((w + 3 * rowBytes).loadUnaligned(as: UInt16.self)))
}

/// The 32 unsigned 5-bit values of a Q5_0/Q5_1 block in plane lane order.
/// The high bit of even lane i of a chunk is bit 2i of the chunk's 16 qh bits (odd lane: 2i+1):
/// isolate it with a per-lane mask (leaving 0 or 2^k ≤ 0x8000); adding 0x7FFF sets bit 15 exactly
/// when it was set; shift that down to bit 4. (Uniform shifts only: a multiply by per-lane
/// powers of two becomes per-lane shifts, which SSE2 does one lane at a time.)
@inline(__always)
func unpack5(_ n: SIMD8<UInt16>, _ qh: UInt32) -> Sub32 {
    let maskE = SIMD8<UInt16>(0x0001, 0x0004, 0x0010, 0x0040, 0x0100, 0x0400, 0x1000, 0x4000)
    let maskO = SIMD8<UInt16>(0x0002, 0x0008, 0x0020, 0x0080, 0x0200, 0x0800, 0x2000, 0x8000)
    let lo = SIMD8<UInt16>(repeating: UInt16(truncatingIfNeeded: qh))
    let hi = SIMD8<UInt16>(repeating: UInt16(truncatingIfNeeded: qh >> 16))
    @inline(__always) func bit4(_ v: SIMD8<UInt16>, _ mask: SIMD8<UInt16>) -> SIMD8<Int16> {
        unsafeBitCast((((v & mask) &+ 0x7FFF) &>> 11) & 0x0010, to: SIMD8<Int16>.self)
    }
    return Sub32(e0: lowNibblesE(n) | bit4(lo, maskE), o0: lowNibblesO(n) | bit4(lo, maskO),
                 e1: highNibblesE(n) | bit4(hi, maskE), o1: highNibblesO(n) | bit4(hi, maskO))
}

/// A 32-value block's weights as Int16 value pairs: `even` holds values 2i (of the low 16,
/// then the high 16) and `odd` values 2i+1, matching `ActivationPairs`.
struct WeightPairs {
    var even: SIMD16<Int16>
    var odd: SIMD16<Int16>

    @inline(__always)
    init(even: SIMD16<Int16>, odd: SIMD16<Int16>) {
        self.even = even
        self.odd = odd
    }

    @inline(__always)
    init(_ s: Sub32) {
        even = SIMD16(lowHalf: s.e0, highHalf: s.e1)
        odd = SIMD16(lowHalf: s.o0, highHalf: s.o1)
    }
}

/// A block's 32 quantized activations in the same pairing, read from the planes.
struct ActivationPairs {
    var even: SIMD16<Int16>
    var odd: SIMD16<Int16>

    @inline(__always)
    init(_ a: UnsafePointer<Int16>) {
        even = SIMD16(lowHalf: loadPlane(a, 0), highHalf: loadPlane(a, 16))
        odd = SIMD16(lowHalf: loadPlane(a, 8), highHalf: loadPlane(a, 24))
    }
}

/// The eight per-4-value integer sums of one 32-value block (ggml's vec_dot lanes). Written on
/// 16 lanes so that AVX2 (in the leftover-row path) does a block in a few 256-bit
/// instructions; wasm splits them into v128 halves. Products fit Int16: |w·a| ≤ 128·127.
@inline(__always)
func blockLaneSums(_ w: WeightPairs, _ a: ActivationPairs) -> SIMD8<Int32> {
    #if arch(wasm32)
    // i32x4.dot_i16x8_s pairs lanes 2i, 2i+1 of a plane: values 4i and 4i+2 (even plane)
    // or 4i+1 and 4i+3 (odd plane).
    let low = tinylm_dot_i16x8(w.even.lowHalf, a.even.lowHalf) &+ tinylm_dot_i16x8(w.odd.lowHalf, a.odd.lowHalf)
    let high = tinylm_dot_i16x8(w.even.highHalf, a.even.highHalf) &+ tinylm_dot_i16x8(w.odd.highHalf, a.odd.highHalf)
    return SIMD8(lowHalf: low, highHalf: high)
    #else
    let p = w.even &* a.even &+ w.odd &* a.odd
    let v = unsafeBitCast(p, to: SIMD8<Int32>.self)
    return ((v &<< 16) &>> 16) &+ (v &>> 16)
    #endif
}

/// `blockLaneSums` as exact Floats.
@inline(__always)
func blockLanes(_ w: WeightPairs, _ a: ActivationPairs) -> SIMD8<Float> {
    LaneMath.exactFloats(blockLaneSums(w, a))
}
