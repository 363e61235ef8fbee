// The shared machinery of the integer dot-product kernels.
//
// Activation planes. Every quantized weight format is multiplied against 8-bit activations
// (ggml's Q8_0, Q8_1 or Q8_K, chosen by the weight format). The activation *values* are
// exactly those of ggml's blocks (same scale, same rounding, the f16-rounded d and s for
// Q8_0/Q8_1), but they are stored for the kernels as "planes" rather than packed blocks:
//
//   q:     Int16 per element. Each run of 16 consecutive elements x[16c ..< 16c+16] is stored
//          as its 8 even-indexed elements followed by its 8 odd-indexed elements.
//   d:     Float per activation block (32 elements for Q8_0/Q8_1, 256 for Q8_K).
//   s:     Float per 32 elements, Q8_1 only: f16(d * Σq).
//   bsums: Int32 per 16 elements, Q8_K only: Σq over those 16.
//
// Why: any 16 consecutive weight values a format stores one per byte (or nibble) load as a
// SIMD16<UInt8>; viewed as SIMD8<UInt16>, `v & 0xFF` is the even elements and `v >> 8` the
// odd ones, so weight and activation lanes line up with two masks/shifts and no shuffles.
// The products are formed in Int16 lanes (`&*`) and pairs of lanes are summed into Int32 with
// a shift trick, then one float multiply-add per block. Every op is a plain SIMD128 op.
//
// A weight format plugs in by describing one block as a header (its scales) plus
// `subsPerBlock` sub-blocks of 32 elements (two 16-element chunks each); the generic drivers
// below do the loops, the token tiling and the float accumulation. Adding the dot kernel of a
// new format is one conforming type.

/// One token's quantized activations (see the file comment for the layout).
public struct Q8Activations {
    public var q: UnsafePointer<Int16>
    public var d: UnsafePointer<Float>
    public var s: UnsafePointer<Float>
    public var bsums: UnsafePointer<Int32>

    @inline(__always)
    public init(q: UnsafePointer<Int16>, d: UnsafePointer<Float>, s: UnsafePointer<Float>, bsums: UnsafePointer<Int32>) {
        self.q = q
        self.d = d
        self.s = s
        self.bsums = bsums
    }
}

/// Which 8-bit activation format a weight format is multiplied against.
public enum ActivationFormat: Sendable {
    case q8_0, q8_1, q8_K
}

/// Two 16-element chunks of weights in the plane lane order: e0/o0 the even/odd elements of
/// elements 0..<16 of the sub-block, e1/o1 of 16..<32.
public struct Sub32 {
    public var e0: SIMD8<Int16>
    public var o0: SIMD8<Int16>
    public var e1: SIMD8<Int16>
    public var o1: SIMD8<Int16>

    @inline(__always)
    public init(e0: SIMD8<Int16>, o0: SIMD8<Int16>, e1: SIMD8<Int16>, o1: SIMD8<Int16>) {
        self.e0 = e0
        self.o0 = o0
        self.e1 = e1
        self.o1 = o1
    }
}

/// A quantized weight format's dot kernel against its activation format.
public protocol QuantizedDotFormat {
    associatedtype Header
    associatedtype Sub
    static var blockElements: Int { get }
    static var blockBytes: Int { get }
    static var activation: ActivationFormat { get }
    /// Scales etc. of the block at `block`.
    static func header(_ block: UnsafeRawPointer) -> Header
    /// Unpacks sub-block `index` (32 elements) of the block.
    static func sub(_ block: UnsafeRawPointer, _ header: Header, _ index: Int) -> Sub
    /// Σ over the sub-block of weight·activation, with the sub-block's integer scales applied,
    /// as four Int32 partial sums. `a` points at the sub-block's 32 plane values.
    static func subDot(_ sub: Sub, _ header: Header, _ index: Int, _ a: UnsafePointer<Int16>) -> SIMD4<Int32>
    /// Combines a block's integer sum into its float contribution. `blockIndex` is the weight
    /// block's index within the row (activation scales are indexed accordingly).
    static func finish(_ header: Header, _ isum: Int32, _ act: Q8Activations, _ blockIndex: Int) -> Float
    /// The scales of the four consecutive blocks starting at `block`, decoded once and used
    /// for every token by `finish4`.
    associatedtype Scales4 = UnsafeRawPointer
    static func scales4(_ block: UnsafeRawPointer) -> Scales4
    /// `finish` for four consecutive blocks (index `blockIndex`…), lane k of `isums` being
    /// block k's integer sum. Must give, lane by lane, exactly what `finish` gives. The
    /// 32-element formats vectorize it (their scales are per block); the default calls
    /// `finish` four times.
    static func finish4(_ scales: Scales4, _ isums: SIMD4<Int32>, _ act: Q8Activations, _ blockIndex: Int) -> SIMD4<Float>
    /// `finish` for block `blockIndex` of four rows `stride` bytes apart against one token:
    /// lane k is the row whose block starts at `block + k·stride`, with integer sum `isums[k]`.
    /// Must give, lane by lane, exactly what `finish` gives (the matrix-vector kernel
    /// `QuantDriver.dotRows4` vectorizes over rows with it). The default calls `finish` four
    /// times.
    static func finishRows(_ block: UnsafeRawPointer, stride: Int, _ isums: SIMD4<Int32>, _ act: Q8Activations,
                           _ blockIndex: Int) -> SIMD4<Float>
    /// Whether `blockDot16` is available: 32-element formats whose block dot fits eight Int16
    /// lanes of magnitude ≤ 8191 (so four of them still add up inside Int16).
    static var hasNarrowBlockDot: Bool { get }
    /// Σ over the block as eight Int16 partial sums (only when `hasNarrowBlockDot`).
    static func blockDot16(_ block: UnsafeRawPointer, _ a: UnsafePointer<Int16>) -> SIMD8<Int16>
}

extension QuantizedDotFormat {
    @inline(__always) static var subsPerBlock: Int { blockElements / 32 }

    @inline(__always) public static var hasNarrowBlockDot: Bool { false }

    @inline(__always)
    public static func blockDot16(_ block: UnsafeRawPointer, _ a: UnsafePointer<Int16>) -> SIMD8<Int16> {
        preconditionFailure("blockDot16: not a narrow format")
    }

    @inline(__always)
    public static func finishRows(_ block: UnsafeRawPointer, stride: Int, _ isums: SIMD4<Int32>, _ act: Q8Activations,
                                  _ blockIndex: Int) -> SIMD4<Float> {
        SIMD4(finish(header(block), isums[0], act, blockIndex),
              finish(header(block + stride), isums[1], act, blockIndex),
              finish(header(block + 2 * stride), isums[2], act, blockIndex),
              finish(header(block + 3 * stride), isums[3], act, blockIndex))
    }
}

extension QuantizedDotFormat where Scales4 == UnsafeRawPointer {
    @inline(__always)
    public static func scales4(_ block: UnsafeRawPointer) -> UnsafeRawPointer { block }

    @inline(__always)
    public static func finish4(_ block: UnsafeRawPointer, _ isums: SIMD4<Int32>, _ act: Q8Activations, _ blockIndex: Int) -> SIMD4<Float> {
        SIMD4(finish(header(block), isums[0], act, blockIndex),
              finish(header(block + blockBytes), isums[1], act, blockIndex + 1),
              finish(header(block + 2 * blockBytes), isums[2], act, blockIndex + 2),
              finish(header(block + 3 * blockBytes), isums[3], act, blockIndex + 3))
    }
}

// MARK: - Lane helpers

@inline(__always)
func planesE(_ v: SIMD8<UInt16>) -> SIMD8<Int16> { unsafeBitCast(v & 0x00FF, to: SIMD8<Int16>.self) }

/// Low nibbles of the 16 bytes in `v`: even elements.
@inline(__always)
func lowNibblesE(_ v: SIMD8<UInt16>) -> SIMD8<Int16> { unsafeBitCast(v & 0x000F, to: SIMD8<Int16>.self) }
@inline(__always)
func lowNibblesO(_ v: SIMD8<UInt16>) -> SIMD8<Int16> { unsafeBitCast((v &>> 8) & 0x000F, to: SIMD8<Int16>.self) }
@inline(__always)
func highNibblesE(_ v: SIMD8<UInt16>) -> SIMD8<Int16> { unsafeBitCast((v &>> 4) & 0x000F, to: SIMD8<Int16>.self) }
@inline(__always)
func highNibblesO(_ v: SIMD8<UInt16>) -> SIMD8<Int16> { unsafeBitCast(v &>> 12, to: SIMD8<Int16>.self) }

/// Signed bytes of `v` (16 × Int8 viewed as 8 × Int16): even / odd elements sign-extended.
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

/// Σ w·a over one 16-element chunk in Int16 lanes (each lane is the sum of two products).
/// Valid while |w·a| ≤ 16383 per product, i.e. |w| ≤ 128 with |a| ≤ 127.
@inline(__always)
func chunkProducts(_ e: SIMD8<Int16>, _ o: SIMD8<Int16>, _ a: UnsafePointer<Int16>, _ offset: Int) -> SIMD8<Int16> {
    e &* loadPlane(a, offset) &+ o &* loadPlane(a, offset + 8)
}

/// Dot of a sub-block whose products are small (|w| ≤ 31): all four product vectors are summed
/// in Int16 (≤ 4·31·127 < 32768) and widened once.
@inline(__always)
func subDotNarrow(_ s: Sub32, _ a: UnsafePointer<Int16>) -> SIMD4<Int32> {
    widenPairs(chunkProducts(s.e0, s.o0, a, 0) &+ chunkProducts(s.e1, s.o1, a, 16))
}

/// `subDotNarrow` before widening: eight Int16 lanes, each the sum of four products.
@inline(__always)
func subDotNarrow16(_ s: Sub32, _ a: UnsafePointer<Int16>) -> SIMD8<Int16> {
    chunkProducts(s.e0, s.o0, a, 0) &+ chunkProducts(s.e1, s.o1, a, 16)
}

/// Dot of a sub-block with 8-bit weights: each chunk is widened separately.
@inline(__always)
func subDotWide(_ s: Sub32, _ a: UnsafePointer<Int16>) -> SIMD4<Int32> {
    widenPairs(chunkProducts(s.e0, s.o0, a, 0)) &+ widenPairs(chunkProducts(s.e1, s.o1, a, 16))
}

/// Byte `index` (0..<8) of a little-endian word, zero- or sign-extended. (A variable-lane
/// extract: no Int -> UInt64 shift-amount conversion, which is a helper call in Embedded Swift.)
@inline(__always)
func byteOf(_ word: UInt64, _ index: Int) -> Int32 { Int32(unsafeBitCast(word, to: SIMD8<UInt8>.self)[index]) }
@inline(__always)
func signedByteOf(_ word: UInt64, _ index: Int) -> Int32 { Int32(unsafeBitCast(word, to: SIMD8<Int8>.self)[index]) }

@inline(__always)
func horizontalSum(_ v: SIMD4<Int32>) -> Int32 { (v[0] &+ v[2]) &+ (v[1] &+ v[3]) }

/// [Σa, Σb, Σc, Σd] with lane-wise bit ops and 64-bit shifts plus one 64-bit interleave (the
/// element-wise `SIMD4(a[0], b[0], …)` shuffles of `pairSum` become chains of lane inserts in
/// wasm).
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

/// [Σa, Σb, Σc, Σd] for four vectors of eight Int16 lanes of magnitude ≤ 8191: pairs and
/// quads of lanes are added in Int16 (≤ 32764), interleaving rows with masks and shifts, and
/// only the last step widens to Int32.
@inline(__always)
func transposedSum16(_ a: SIMD8<Int16>, _ b: SIMD8<Int16>, _ c: SIMD8<Int16>, _ d: SIMD8<Int16>) -> SIMD4<Int32> {
    // (Each step adds a vector to a shifted copy of itself and keeps the halves it needs; an
    // `(x >> 16) | (y << 16)` form would become a funnel shift, which wasm scalarizes.)
    @inline(__always) func pair16(_ x: SIMD8<Int16>, _ y: SIMD8<Int16>) -> SIMD4<UInt32> {
        let x32 = unsafeBitCast(x, to: SIMD4<UInt32>.self), y32 = unsafeBitCast(y, to: SIMD4<UInt32>.self)
        let t = unsafeBitCast(x &+ unsafeBitCast(x32 &>> 16, to: SIMD8<Int16>.self), to: SIMD4<UInt32>.self)  // even lanes: x0+x1, …
        let u = unsafeBitCast(y &+ unsafeBitCast(y32 &<< 16, to: SIMD8<Int16>.self), to: SIMD4<UInt32>.self)  // odd lanes: y1+y0, …
        return (t & 0x0000_FFFF) | (u & 0xFFFF_0000)          // 32-bit lane i: (x pair i, y pair i)
    }
    @inline(__always) func pair32(_ x: SIMD4<UInt32>, _ y: SIMD4<UInt32>) -> SIMD8<Int16> {
        let lo: SIMD2<UInt64> = SIMD2(repeating: 0x0000_0000_FFFF_FFFF)
        let x64 = unsafeBitCast(x, to: SIMD2<UInt64>.self), y64 = unsafeBitCast(y, to: SIMD2<UInt64>.self)
        let t = unsafeBitCast(unsafeBitCast(x, to: SIMD8<Int16>.self) &+ unsafeBitCast(x64 &>> 32, to: SIMD8<Int16>.self),
                              to: SIMD2<UInt64>.self)
        let u = unsafeBitCast(unsafeBitCast(y, to: SIMD8<Int16>.self) &+ unsafeBitCast(y64 &<< 32, to: SIMD8<Int16>.self),
                              to: SIMD2<UInt64>.self)
        return unsafeBitCast((t & lo) | (u & ~lo), to: SIMD8<Int16>.self)
    }
    // [a, b, c, d, a', b', c', d']: each a quarter of the row's lanes.
    let t = pair32(pair16(a, b), pair16(c, d))
    return SIMD4<Int32>(truncatingIfNeeded: t.lowHalf) &+ SIMD4<Int32>(truncatingIfNeeded: t.highHalf)
}

/// [a0+a2, b0+b2, a1+a3, b1+b3]: the first half of a 4-way transposed reduction.
@inline(__always)
func pairSum(_ a: SIMD4<Int32>, _ b: SIMD4<Int32>) -> SIMD4<Int32> {
    SIMD4(a[0], b[0], a[1], b[1]) &+ SIMD4(a[2], b[2], a[3], b[3])
}

/// [Σa, Σb, Σc, Σd] from pairSum(a, b) and pairSum(c, d).
@inline(__always)
func quadSum(_ ab: SIMD4<Int32>, _ cd: SIMD4<Int32>) -> SIMD4<Int32> {
    SIMD4(ab[0], ab[1], cd[0], cd[1]) &+ SIMD4(ab[2], ab[3], cd[2], cd[3])
}

/// Exact Int32 -> Float for |v| < 2^22, four lanes, with integer ops and one subtraction
/// (SIMD4<Float>(SIMD4<Int32>) is a per-lane helper call in Embedded Swift).
@inline(__always)
func floatValues(_ v: SIMD4<Int32>) -> SIMD4<Float> {
    unsafeBitCast(v &+ 0x4B40_0000, to: SIMD4<Float>.self) - 12582912.0
}

/// Four f16 values at `block`, `block + stride`, … (byte `offset` within each) to f32.
@inline(__always)
func loadF16x4(_ block: UnsafeRawPointer, stride: Int, offset: Int) -> SIMD4<Float> {
    FP16.toFloat4(SIMD4<UInt32>(UInt32(block.loadUnaligned(fromByteOffset: offset, as: UInt16.self)),
                                UInt32(block.loadUnaligned(fromByteOffset: offset + stride, as: UInt16.self)),
                                UInt32(block.loadUnaligned(fromByteOffset: offset + 2 * stride, as: UInt16.self)),
                                UInt32(block.loadUnaligned(fromByteOffset: offset + 3 * stride, as: UInt16.self))))
}

/// The d (low half) and m (high half) f16 pairs at the start of four blocks, to f32.
@inline(__always)
func loadF16Pairs4(_ block: UnsafeRawPointer, stride: Int) -> (d: SIMD4<Float>, m: SIMD4<Float>) {
    let h = SIMD4<UInt32>(block.loadUnaligned(as: UInt32.self),
                          block.loadUnaligned(fromByteOffset: stride, as: UInt32.self),
                          block.loadUnaligned(fromByteOffset: 2 * stride, as: UInt32.self),
                          block.loadUnaligned(fromByteOffset: 3 * stride, as: UInt32.self))
    return (FP16.toFloat4(h & 0xFFFF), FP16.toFloat4(h &>> 16))
}

/// d and m of four blocks of an affine (…_1) format.
public struct PairScales4 {
    public var d: SIMD4<Float>
    public var m: SIMD4<Float>
}

@inline(__always)
func loadFloats4(_ p: UnsafePointer<Float>) -> SIMD4<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) }

/// Int32 -> Float through the native word (Float(Int32) is a generic helper call in Embedded
/// Swift at -Osize; Float(Int) is one convert instruction).
@inline(__always)
func floatValue(_ v: Int32) -> Float { Float(Int(v)) }

@inline(__always)
func loadF16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    FP16.toFloat(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}

// MARK: - Drivers

enum QuantDriver {
    /// Σ over one block of `F` (all its sub-blocks) against activation planes at `a`.
    @inline(__always)
    static func blockDot<F: QuantizedDotFormat>(_: F.Type, _ w: UnsafeRawPointer, _ a: UnsafePointer<Int16>) -> SIMD4<Int32> {
        let h = F.header(w)
        var isum = SIMD4<Int32>()
        for j in 0..<F.subsPerBlock {
            isum &+= F.subDot(F.sub(w, h, j), h, j, a + j * 32)
        }
        return isum
    }

    /// Σ over one weight row of `blocks` blocks against one token.
    ///
    /// Summation order (the same in `dotRow4`, so batched and single-token results are
    /// bit-identical): 32-element formats go four blocks at a time into the lanes of a float
    /// vector (one transposed integer reduction, one vector f16 conversion and one vector
    /// multiply-add per four blocks); the remaining blocks (all of them for the K-quants) are
    /// added one by one to a scalar; the result is the vector's lane sum plus that scalar.
    @inline(__always)
    static func dotRow<F: QuantizedDotFormat>(_: F.Type, _ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
        var acc = SIMD4<Float>()
        var w = row
        var b = 0
        let bytes = F.blockBytes, n = F.blockElements
        if n == 32 {
            while b + 4 <= blocks {
                let a = act.q + b * 32
                let ab = pairSum(blockDot(F.self, w, a), blockDot(F.self, w + bytes, a + 32))
                let cd = pairSum(blockDot(F.self, w + 2 * bytes, a + 64), blockDot(F.self, w + 3 * bytes, a + 96))
                acc += F.finish4(F.scales4(w), quadSum(ab, cd), act, b)
                w += 4 * bytes
                b += 4
            }
        }
        var tail: Float = 0
        while b < blocks {
            let isum = blockDot(F.self, w, act.q + b * n)
            tail += F.finish(F.header(w), horizontalSum(isum), act, b)
            w += bytes
            b += 1
        }
        return ((acc[0] + acc[2]) + (acc[1] + acc[3])) + tail
    }

    /// `dotRow` for four consecutive rows (`rowBytes` apart) against one token: lane k of the
    /// result is row k's `dotRow`, bit for bit. The float work is vectorized over the rows
    /// instead of over blocks: vector accumulator j collects, lane by lane, what `dotRow`'s
    /// accumulator lane j collects (blocks 4i + j), and the leftover blocks go to a vector
    /// `tail`; the activation loads of a block are shared by the four rows.
    @inline(__always)
    static func dotRows4<F: QuantizedDotFormat>(_: F.Type, _ row: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                                _ act: Q8Activations) -> SIMD4<Float> {
        let bytes = F.blockBytes, n = F.blockElements
        @inline(__always) func rowsBlock(_ b: Int) -> SIMD4<Float> {
            let w = row + b * bytes
            let a = act.q + b * n
            let isums: SIMD4<Int32>
            if F.hasNarrowBlockDot {
                isums = transposedSum16(F.blockDot16(w, a), F.blockDot16(w + rowBytes, a),
                                        F.blockDot16(w + 2 * rowBytes, a), F.blockDot16(w + 3 * rowBytes, a))
            } else {
                isums = transposedSum(blockDot(F.self, w, a), blockDot(F.self, w + rowBytes, a),
                                      blockDot(F.self, w + 2 * rowBytes, a), blockDot(F.self, w + 3 * rowBytes, a))
            }
            return F.finishRows(w, stride: rowBytes, isums, act, b)
        }
        var acc0 = SIMD4<Float>(), acc1 = SIMD4<Float>(), acc2 = SIMD4<Float>(), acc3 = SIMD4<Float>()
        var b = 0
        if n == 32 {
            while b + 4 <= blocks {
                acc0 += rowsBlock(b)
                acc1 += rowsBlock(b + 1)
                acc2 += rowsBlock(b + 2)
                acc3 += rowsBlock(b + 3)
                b += 4
            }
        }
        var tail = SIMD4<Float>()
        while b < blocks {
            tail += rowsBlock(b)
            b += 1
        }
        return ((acc0 + acc2) + (acc1 + acc3)) + tail
    }

    /// The same for four tokens at once: each weight sub-block is unpacked once and used four
    /// times.
    @inline(__always)
    static func dotRow4<F: QuantizedDotFormat>(_: F.Type, _ row: UnsafeRawPointer, _ blocks: Int,
                                               _ x0: Q8Activations, qStride: Int, blockStride: Int) -> SIMD4<Float> {
        // Tokens 1...3 are addressed from token 0 and two strides (fewer live registers).
        @inline(__always) func token(_ t: Int) -> Q8Activations {
            Q8Activations(q: x0.q + t * qStride, d: x0.d + t * blockStride, s: x0.s + t * blockStride, bsums: x0.bsums + t * blockStride)
        }
        var acc0 = SIMD4<Float>(), acc1 = SIMD4<Float>(), acc2 = SIMD4<Float>(), acc3 = SIMD4<Float>()
        var w = row
        var b = 0
        let bytes = F.blockBytes, n = F.blockElements
        if n == 32 {
            while b + 4 <= blocks {
                let o = b * 32
                // Blocks 0 and 1 of the group.
                var u = F.sub(w, F.header(w), 0)
                var p0 = F.subDot(u, F.header(w), 0, x0.q + o), p1 = F.subDot(u, F.header(w), 0, token(1).q + o)
                var p2 = F.subDot(u, F.header(w), 0, token(2).q + o), p3 = F.subDot(u, F.header(w), 0, token(3).q + o)
                var w1 = w + bytes
                u = F.sub(w1, F.header(w1), 0)
                let ab0 = pairSum(p0, F.subDot(u, F.header(w1), 0, x0.q + o + 32))
                let ab1 = pairSum(p1, F.subDot(u, F.header(w1), 0, token(1).q + o + 32))
                let ab2 = pairSum(p2, F.subDot(u, F.header(w1), 0, token(2).q + o + 32))
                let ab3 = pairSum(p3, F.subDot(u, F.header(w1), 0, token(3).q + o + 32))
                // Blocks 2 and 3.
                w1 = w + 2 * bytes
                u = F.sub(w1, F.header(w1), 0)
                p0 = F.subDot(u, F.header(w1), 0, x0.q + o + 64); p1 = F.subDot(u, F.header(w1), 0, token(1).q + o + 64)
                p2 = F.subDot(u, F.header(w1), 0, token(2).q + o + 64); p3 = F.subDot(u, F.header(w1), 0, token(3).q + o + 64)
                w1 = w + 3 * bytes
                u = F.sub(w1, F.header(w1), 0)
                let sc = F.scales4(w)
                acc0 += F.finish4(sc, quadSum(ab0, pairSum(p0, F.subDot(u, F.header(w1), 0, x0.q + o + 96))), x0, b)
                acc1 += F.finish4(sc, quadSum(ab1, pairSum(p1, F.subDot(u, F.header(w1), 0, token(1).q + o + 96))), token(1), b)
                acc2 += F.finish4(sc, quadSum(ab2, pairSum(p2, F.subDot(u, F.header(w1), 0, token(2).q + o + 96))), token(2), b)
                acc3 += F.finish4(sc, quadSum(ab3, pairSum(p3, F.subDot(u, F.header(w1), 0, token(3).q + o + 96))), token(3), b)
                w += 4 * bytes
                b += 4
            }
        }
        var t0: Float = 0, t1: Float = 0, t2: Float = 0, t3: Float = 0
        while b < blocks {
            let h = F.header(w)
            let offset = b * n
            var i0 = SIMD4<Int32>(), i1 = SIMD4<Int32>(), i2 = SIMD4<Int32>(), i3 = SIMD4<Int32>()
            for j in 0..<F.subsPerBlock {
                let o = offset + j * 32
                let u = F.sub(w, h, j)
                i0 &+= F.subDot(u, h, j, x0.q + o)
                i1 &+= F.subDot(u, h, j, token(1).q + o)
                i2 &+= F.subDot(u, h, j, token(2).q + o)
                i3 &+= F.subDot(u, h, j, token(3).q + o)
            }
            t0 += F.finish(h, horizontalSum(i0), x0, b)
            t1 += F.finish(h, horizontalSum(i1), token(1), b)
            t2 += F.finish(h, horizontalSum(i2), token(2), b)
            t3 += F.finish(h, horizontalSum(i3), token(3), b)
            w += bytes
            b += 1
        }
        return SIMD4(((acc0[0] + acc0[2]) + (acc0[1] + acc0[3])) + t0,
                     ((acc1[0] + acc1[2]) + (acc1[1] + acc1[3])) + t1,
                     ((acc2[0] + acc2[2]) + (acc2[1] + acc2[3])) + t2,
                     ((acc3[0] + acc3[2]) + (acc3[1] + acc3[3])) + t3)
    }

    /// The same for two tokens (lower register pressure than four on 16-register targets).
    @inline(__always)
    static func dotRow2<F: QuantizedDotFormat>(_: F.Type, _ row: UnsafeRawPointer, _ blocks: Int,
                                               _ x0: Q8Activations, _ x1: Q8Activations) -> SIMD2<Float> {
        var acc0 = SIMD4<Float>(), acc1 = SIMD4<Float>()
        var w = row
        var b = 0
        let bytes = F.blockBytes, n = F.blockElements
        if n == 32 {
            while b + 4 <= blocks {
                let o = b * 32
                var u = F.sub(w, F.header(w), 0)
                var p0 = F.subDot(u, F.header(w), 0, x0.q + o), p1 = F.subDot(u, F.header(w), 0, x1.q + o)
                var w1 = w + bytes
                u = F.sub(w1, F.header(w1), 0)
                let ab0 = pairSum(p0, F.subDot(u, F.header(w1), 0, x0.q + o + 32))
                let ab1 = pairSum(p1, F.subDot(u, F.header(w1), 0, x1.q + o + 32))
                w1 = w + 2 * bytes
                u = F.sub(w1, F.header(w1), 0)
                p0 = F.subDot(u, F.header(w1), 0, x0.q + o + 64); p1 = F.subDot(u, F.header(w1), 0, x1.q + o + 64)
                w1 = w + 3 * bytes
                u = F.sub(w1, F.header(w1), 0)
                let sc = F.scales4(w)
                acc0 += F.finish4(sc, quadSum(ab0, pairSum(p0, F.subDot(u, F.header(w1), 0, x0.q + o + 96))), x0, b)
                acc1 += F.finish4(sc, quadSum(ab1, pairSum(p1, F.subDot(u, F.header(w1), 0, x1.q + o + 96))), x1, b)
                w += 4 * bytes
                b += 4
            }
        }
        var t0: Float = 0, t1: Float = 0
        while b < blocks {
            let h = F.header(w)
            let offset = b * n
            var i0 = SIMD4<Int32>(), i1 = SIMD4<Int32>()
            for j in 0..<F.subsPerBlock {
                let o = offset + j * 32
                let u = F.sub(w, h, j)
                i0 &+= F.subDot(u, h, j, x0.q + o)
                i1 &+= F.subDot(u, h, j, x1.q + o)
            }
            t0 += F.finish(h, horizontalSum(i0), x0, b)
            t1 += F.finish(h, horizontalSum(i1), x1, b)
            w += bytes
            b += 1
        }
        return SIMD2(((acc0[0] + acc0[2]) + (acc0[1] + acc0[3])) + t0,
                     ((acc1[0] + acc1[2]) + (acc1[1] + acc1[3])) + t1)
    }
}
