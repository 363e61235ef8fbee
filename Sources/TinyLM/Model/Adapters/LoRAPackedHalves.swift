#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

/// F16 adapter values as builds without an f16 conversion instruction (wasm) keep them
/// (LoRALayout.HalfForm.packed): 16 bits each, as in the file, so a decode step reads the
/// adapter's bytes once (widened to f32 they were twice as many, and the product waits on
/// memory), converted by a few integer lane operations instead of FP16's dozen.
///
/// The conversion: with an F16 value h in the upper half of a 32-bit lane, an arithmetic shift
/// right puts its exponent and mantissa under a float's (and copies the sign into the bits
/// below it, which a mask clears): by 3, the f32 of exponent field e and mantissa m, h's value
/// times 2^-112 (f16's exponent bias is 15, f32's 127); by 6 in the upper half of a 64-bit lane,
/// the f64 of h's value times 2^-1008. Subnormals come out right too (as f32 or f64
/// denormals). An all-ones exponent (inf, NaN) would become a finite value: tensors with one
/// stay widened.
///
/// The inputs these values multiply (A's: the activations rounded to f16; B's: t rounded to
/// f16) are multiplied by 2^112 (or 2^1008) first: exact, as any finite f16 value (at most
/// 65504) times that is still below the type's largest. Each product is then h·x itself: the
/// two factors' 22 significant bits fit f32's 24, and it is at least 2^-48 (two f16 steps), far
/// above the denormals. So the sums are the same numbers in the same order as ggml's.
///
/// A's rows: eight values are stored in the order 0 4 1 5 2 6 3 7, so that read as four 32-bit
/// lanes, the upper halves hold values 4–7 and the lower halves 0–3 (two shifts and masks).
/// B's blocks: each column's eight values (one per row of the block) in the order
/// `blockPosition`, so that the four ways of bringing a value to the top of its 64-bit lane give
/// the f64 pairs of rows (0, 1), (2, 3), (4, 5), (6, 7): B's rows are summed in double (ggml's
/// serial tail), and the values arrive as doubles without f32 products to widen.
enum PackedHalfElement: ExactProductElement {
    /// What the inputs of packed values are multiplied by.
    static let inputScale: Float = 0x1p112

    /// Where value j (0..<8) of a group of eight of A's row is stored.
    @inline(__always)
    static func position(_ j: Int) -> Int { j < 4 ? 2 * j : 2 * (j - 4) + 1 }

    /// Where row r (0..<8) of a block of B stores its value of a column (`columnProducts`).
    static func blockPosition(_ r: Int) -> Int {
        switch r {
        case 0: 3
        case 1: 7
        case 2: 1
        case 3: 5
        case 4: 2
        case 5: 6
        case 6: 0
        default: 4
        }
    }

    /// Whether no value of `matrix` (F16) is inf or NaN.
    static func allFinite(_ matrix: WeightMatrix) -> Bool {
        for r in 0..<matrix.rows {
            let row = matrix.row(r)
            for c in 0..<matrix.columns where row.loadUnaligned(fromByteOffset: c * 2, as: UInt16.self) & 0x7C00 == 0x7C00 {
                return false
            }
        }
        return true
    }

    private static var signAndValueBits: Int32 { Int32(bitPattern: 0x8FFF_E000) }

    @inline(__always)
    static func load8(_ row: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        let lanes = row.loadUnaligned(fromByteOffset: index * 2, as: SIMD4<Int32>.self)
        let mask = SIMD4<Int32>(repeating: signAndValueBits)
        let low = ((lanes &<< 16) &>> 3) & mask
        let high = (lanes &>> 3) & mask
        return SIMD8(lowHalf: unsafeBitCast(low, to: SIMD4<Float>.self), highHalf: unsafeBitCast(high, to: SIMD4<Float>.self))
    }

    @inline(__always)
    static func load1(_ row: UnsafeRawPointer, _ index: Int) -> Float {
        let bits = row.loadUnaligned(fromByteOffset: ((index & ~7) + position(index & 7)) * 2, as: UInt16.self)
        return Float(bitPattern: UInt32(bitPattern: (Int32(bitPattern: UInt32(bits) &<< 16) &>> 3) & signAndValueBits))
    }

    /// Row by row: only A's rows are packed, and they are shorter than 64 only in tiny models.
    @inline(__always)
    static func eightShortDots(_ row: UnsafeRawPointer, stride: Int, _ x: UnsafePointer<Float>, count: Int) -> SIMD8<Float> {
        var sums = SIMD8<Float>()
        for r in 0..<8 { sums[r] = addRemainder(0, row + r * stride, x, from: 0, to: count) }
        return sums
    }

    /// values[i] ×= inputScale for i < count (exact for f16 values).
    static func scaleInputs(_ values: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(values + i).storeBytes(of: v * inputScale, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            values[i] *= inputScale
            i += 1
        }
    }

    /// A decode step's B product from packed blocks: `LoRAProduct.addByBlocks` (same sums), one
    /// or two blocks at a time (eight double pairs: wasm engines have 16 vector registers).
    @inline(never)
    static func addByBlocks(_ blocks: UnsafeRawPointer, blockBytes: Int, rows: Range<Int>, rank: Int,
                            _ t: UnsafePointer<Float>, factor: Float, into out: UnsafeMutablePointer<Float>) {
        LoRAProduct.addBlocks(BlockSums.self, blocks, blockBytes: blockBytes, rows: rows, rank: rank, t, factor: factor, into: out)
    }

    /// One block's eight row sums in double, rows (0, 1), (2, 3), (4, 5), (6, 7).
    struct BlockSums: LoRABlockSums {
        @inline(__always)
        static func scaled(_ t: UnsafePointer<Float>, _ c: Int) -> SIMD2<Double> { SIMD2(repeating: Double(t[c]) * 0x1p1008) }

        @inline(__always)
        static func pair(_ block: UnsafeRawPointer, blockBytes: Int, rank: Int, _ t: UnsafePointer<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
            var low = BlockSums(), high = BlockSums()
            let next = block + blockBytes
            for c in 0..<rank {
                let tc = scaled(t, c)
                low.add(block, c, tc)
                high.add(next, c, tc)
            }
            return (low.rounded, high.rounded)
        }

        @inline(__always)
        static func single(_ block: UnsafeRawPointer, rank: Int, _ t: UnsafePointer<Float>) -> SIMD8<Float> {
            var sum = BlockSums()
            for c in 0..<rank { sum.add(block, c, scaled(t, c)) }
            return sum.rounded
        }

        var s0 = SIMD2<Double>(), s1 = SIMD2<Double>(), s2 = SIMD2<Double>(), s3 = SIMD2<Double>()

        /// Adds column c's products with `t` (t[c]·2^1008 in both lanes).
        @inline(__always)
        mutating func add(_ block: UnsafeRawPointer, _ c: Int, _ t: SIMD2<Double>) {
            let v = block.loadUnaligned(fromByteOffset: c * 16, as: SIMD4<Int32>.self)
            // Each 32-bit word's upper value, then its lower one, shifted into place at the top
            // of the word (all four words at once: shifting only the words a mask keeps, LLVM
            // moved lanes out and back one by one).
            let upperValues = v &>> 6, lowerValues = (v &<< 16) &>> 6
            let mask = SIMD2<UInt64>(repeating: 0x81FF_FC00_0000_0000)
            @inline(__always) func upperWord(_ w: SIMD4<Int32>) -> SIMD2<Double> {
                unsafeBitCast(unsafeBitCast(w, to: SIMD2<UInt64>.self) & mask, to: SIMD2<Double>.self)
            }
            @inline(__always) func lowerWord(_ w: SIMD4<Int32>) -> SIMD2<Double> {
                unsafeBitCast((unsafeBitCast(w, to: SIMD2<UInt64>.self) &<< 32) & mask, to: SIMD2<Double>.self)
            }
            s0 += upperWord(upperValues) * t     // stored values 3 and 7: rows 0, 1
            s1 += lowerWord(upperValues) * t     // 1 and 5: rows 2, 3
            s2 += upperWord(lowerValues) * t     // 2 and 6: rows 4, 5
            s3 += lowerWord(lowerValues) * t     // 0 and 4: rows 6, 7
        }

        @inline(__always)
        var rounded: SIMD8<Float> {
            #if arch(wasm32)
            return SIMD8(lowHalf: tinylm_demote_f64(s0, s1), highHalf: tinylm_demote_f64(s2, s3))
            #else
            return SIMD8(Float(s0[0]), Float(s0[1]), Float(s1[0]), Float(s1[1]), Float(s2[0]), Float(s2[1]), Float(s3[0]), Float(s3[1]))
            #endif
        }
    }
}
