#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

/// Math.expf over several arguments at once, with the same bits: the decode attention's
/// softmax takes one expf per cached position and head, and its arguments for a block of
/// positions are known before any is needed. The steps are Math.expf's, lane by lane, in
/// Double (the same operations, the same fused multiply-adds), so each lane's result is the
/// scalar one; only the table look-up stays per lane. Arguments outside the polynomial's range
/// (|x| ≥ 88, ±inf, NaN) send their group of four through the scalar function.
///
/// Without an FMA instruction (wasm, portable x86 builds) a lane's fused multiply-add would be
/// a software routine; there the lanes take Math.expfUnfused's steps instead, and a group of
/// four where any lane's result lies near a Float rounding boundary (Math.roundsLikeFusedExpf)
/// goes through the scalar function.
extension Math {
    /// x[i] = expf(x[i]) for i < count.
    @inline(__always)
    static func expfInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        #if TINYLM_HARDWARE_FMA
        let table = expTableWords
        #endif
        while i + 4 <= count {
            let p = UnsafeMutableRawPointer(x + i)
            #if TINYLM_HARDWARE_FMA
            p.storeBytes(of: expf4(p.loadUnaligned(as: SIMD4<Float>.self), table: table), as: SIMD4<Float>.self)
            #else
            p.storeBytes(of: expf4Unfused(p.loadUnaligned(as: SIMD4<Float>.self)), as: SIMD4<Float>.self)
            #endif
            i += 4
        }
        while i < count {
            x[i] = expf(x[i])
            i += 1
        }
    }

    /// expf per lane without fused multiply-adds (see the file's comment); any build can run it
    /// (the tests compare it with expf natively).
    @inline(__always)
    static func expf4Unfused(_ x: SIMD4<Float>) -> SIMD4<Float> {
        let top = (unsafeBitCast(x, to: SIMD4<UInt32>.self) &>> 20) & 0x7FF
        let outside = (SIMD4<UInt32>(repeating: 0x42A) &- top) &>> 31
        if outside[0] | outside[1] | outside[2] | outside[3] != 0 { return SIMD4(expf(x[0]), expf(x[1]), expf(x[2]), expf(x[3])) }
        let z = 0x1.71547652b82fep+5 * widened(x)
        let shifted = z + 0x1.8p+52
        let k = unsafeBitCast(shifted, to: SIMD4<UInt64>.self)
        let r = z - (shifted - 0x1.8p+52)
        let index = k & 31
        let words = SIMD4<UInt64>(expTableWord(Int(truncatingIfNeeded: index[0])), expTableWord(Int(truncatingIfNeeded: index[1])),
                                  expTableWord(Int(truncatingIfNeeded: index[2])), expTableWord(Int(truncatingIfNeeded: index[3])))
        let scale = unsafeBitCast(words &+ (k &<< 47), to: SIMD4<Double>.self)
        let cubic = 0x1.ebfce50fac4f3p-13 + 0x1.c6af84b912394p-20 * r
        let linear = 1 + 0x1.62e42ff0c52d6p-6 * r
        let value = (linear + cubic * (r * r)) * scale
        // roundsLikeFusedExpf per lane, as 0/1 in lane arithmetic: 1 where the bits are below
        // 2^-126's, the 29 low bits are within the window around 2^28, or |r| ≥ 1/2 − 2^-40.
        let bits = unsafeBitCast(value, to: SIMD4<UInt64>.self)
        let tiny = (bits &- 0x3810_0000_0000_0000) &>> 63
        let nearMidpoint = (((((bits & 0x1FFF_FFFF) &+ 256) &>> 9) ^ 0x8_0000) &- 1) &>> 63
        let halfway = (((0.5 - 0x1p-40 as Double).bitPattern &- 1) &- (unsafeBitCast(r, to: SIMD4<UInt64>.self) & 0x7FFF_FFFF_FFFF_FFFF)) &>> 63
        let doubtful = tiny | nearMidpoint | halfway
        if doubtful[0] | doubtful[1] | doubtful[2] | doubtful[3] != 0 { return SIMD4(expf(x[0]), expf(x[1]), expf(x[2]), expf(x[3])) }
        return narrowed(value)
    }

    /// Float → Double per lane; in wasm as the two promote instructions (the generic
    /// conversion goes lane by lane there).
    @inline(__always)
    static func widened(_ x: SIMD4<Float>) -> SIMD4<Double> {
        #if arch(wasm32)
        return SIMD4(lowHalf: tinylm_promote_low_f32(x), highHalf: tinylm_promote_high_f32(x))
        #else
        return SIMD4<Double>(x)
        #endif
    }

    /// Double → Float per lane, rounded to nearest even.
    @inline(__always)
    static func narrowed(_ x: SIMD4<Double>) -> SIMD4<Float> {
        #if arch(wasm32)
        return tinylm_demote_f64(x.lowHalf, x.highHalf)
        #else
        return SIMD4<Float>(x)
        #endif
    }

    #if TINYLM_HARDWARE_FMA
    /// Math.expTable's words at a fixed address, for the lanes' look-ups: expTableWord reads
    /// the table through withUnsafeBytes(of:), which stored the whole tuple to the stack
    /// (eight 32-byte stores) for every four lanes.
    nonisolated(unsafe) static let expTableWords: UnsafePointer<UInt64> = {
        let words = UnsafeMutablePointer<UInt64>.allocate(capacity: 32)
        for i in 0..<32 { words[i] = expTableWord(i) }
        return UnsafePointer(words)
    }()

    /// expf per lane (see the file's comment).
    @inline(__always)
    static func expf4(_ x: SIMD4<Float>) -> SIMD4<Float> { expf4(x, table: expTableWords) }

    /// expf4 with the table's address at hand.
    @inline(__always)
    static func expf4(_ x: SIMD4<Float>, table: UnsafePointer<UInt64>) -> SIMD4<Float> {
        let top = (unsafeBitCast(x, to: SIMD4<UInt32>.self) &>> 20) & 0x7FF
        // 1 in the lanes with top ≥ 0x42B (Math.expf's range test), spelled in lane arithmetic:
        // the generic mask reductions are calls, not instructions.
        let outside = (SIMD4<UInt32>(repeating: 0x42A) &- top) &>> 31
        if outside[0] | outside[1] | outside[2] | outside[3] != 0 { return SIMD4(expf(x[0]), expf(x[1]), expf(x[2]), expf(x[3])) }
        let xd = SIMD4<Double>(x)
        let shifted = SIMD4<Double>(repeating: 0x1.8p+52).addingProduct(SIMD4(repeating: 0x1.71547652b82fep+5), xd)
        let k = unsafeBitCast(shifted, to: SIMD4<UInt64>.self)
        let r = (0x1.8p+52 - shifted).addingProduct(SIMD4(repeating: 0x1.71547652b82fep+5), xd)
        let index = k & 31
        let words = SIMD4<UInt64>(table[Int(truncatingIfNeeded: index[0])], table[Int(truncatingIfNeeded: index[1])],
                                  table[Int(truncatingIfNeeded: index[2])], table[Int(truncatingIfNeeded: index[3])])
        let scale = unsafeBitCast(words &+ (k &<< 47), to: SIMD4<Double>.self)
        let cubic = SIMD4<Double>(repeating: 0x1.ebfce50fac4f3p-13).addingProduct(SIMD4(repeating: 0x1.c6af84b912394p-20), r)
        let linear = SIMD4<Double>(repeating: 1).addingProduct(SIMD4(repeating: 0x1.62e42ff0c52d6p-6), r)
        return SIMD4<Float>(linear.addingProduct(cubic, r * r) * scale)
    }
    #endif
}
