/// Math.expf over several arguments at once, with the same bits: the decode attention's
/// softmax takes one expf per cached position and head, and its arguments for a block of
/// positions are known before any is needed. The steps are Math.expf's, lane by lane, in
/// Double (the same operations, the same fused multiply-adds), so each lane's result is the
/// scalar one; only the table look-up stays per lane. Arguments outside the polynomial's range
/// (|x| ≥ 88, ±inf, NaN) send their group of four through the scalar function.
///
/// With an FMA instruction only: without one (wasm, portable x86 builds) a lane's fused
/// multiply-add is a software routine, no cheaper per lane than the scalar function's.
extension Math {
    /// x[i] = expf(x[i]) for i < count.
    @inline(__always)
    static func expfInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        #if TINYLM_HARDWARE_FMA
        while i + 4 <= count {
            let p = UnsafeMutableRawPointer(x + i)
            p.storeBytes(of: expf4(p.loadUnaligned(as: SIMD4<Float>.self)), as: SIMD4<Float>.self)
            i += 4
        }
        #endif
        while i < count {
            x[i] = expf(x[i])
            i += 1
        }
    }

    #if TINYLM_HARDWARE_FMA
    /// expf per lane (see the file's comment).
    @inline(__always)
    static func expf4(_ x: SIMD4<Float>) -> SIMD4<Float> {
        let top = (unsafeBitCast(x, to: SIMD4<UInt32>.self) &>> 20) & 0x7FF
        // 1 in the lanes with top ≥ 0x42B (Math.expf's range test), spelled in lane arithmetic:
        // the generic mask reductions are calls, not instructions.
        let outside = (SIMD4<UInt32>(repeating: 0x42A) &- top) &>> 31
        if outside[0] | outside[1] | outside[2] | outside[3] != 0 { return SIMD4(expf(x[0]), expf(x[1]), expf(x[2]), expf(x[3])) }
        let z = 0x1.71547652b82fep+5 * SIMD4<Double>(x)
        let shifted = z + 0x1.8p+52
        let k = unsafeBitCast(shifted, to: SIMD4<UInt64>.self)
        let r = z - (shifted - 0x1.8p+52)
        let index = k & 31
        let words = SIMD4<UInt64>(expTableWord(Int(truncatingIfNeeded: index[0])), expTableWord(Int(truncatingIfNeeded: index[1])),
                                  expTableWord(Int(truncatingIfNeeded: index[2])), expTableWord(Int(truncatingIfNeeded: index[3])))
        let scale = unsafeBitCast(words &+ (k &<< 47), to: SIMD4<Double>.self)
        let cubic = SIMD4<Double>(repeating: 0x1.ebfce50fac4f3p-13).addingProduct(SIMD4(repeating: 0x1.c6af84b912394p-20), r)
        let linear = SIMD4<Double>(repeating: 1).addingProduct(SIMD4(repeating: 0x1.62e42ff0c52d6p-6), r)
        return SIMD4<Float>(linear.addingProduct(cubic, r * r) * scale)
    }
    #endif
}
