// What the AVX2 kernels share. They run ggml's own instruction sequence on the raw Int8
// activations: bytes multiplied pairwise into Int16 (vpmaddubsw: one operand unsigned, so
// signed weights move their sign onto the activations with vpsignb), pairs summed into eight
// Int32 lanes (vpmaddwd), converted (vcvtdq2ps) and fused into the accumulators — the same
// lanes and float order as the scalar references, in a fraction of the instructions. Built
// when Package.swift targets AVX2 + FMA + F16C (TINYLM_X86_AVX2).

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

enum AVX2Lanes {
    // Byte vectors are bitcast to 64-bit lanes for bitwise operations and shifts: Swift's
    // operators on SIMD32<UInt8> become per-byte loops. Shifts then cross into the
    // neighbouring byte, which the masks around them clear.
    @inline(__always) static func words(_ x: SIMD32<UInt8>) -> SIMD4<UInt64> { unsafeBitCast(x, to: SIMD4<UInt64>.self) }
    @inline(__always) static func bytes(_ x: SIMD4<UInt64>) -> SIMD32<UInt8> { unsafeBitCast(x, to: SIMD32<UInt8>.self) }
    @inline(__always) static func repeatedByte(_ b: UInt64) -> SIMD4<UInt64> { SIMD4(repeating: b &* 0x0101_0101_0101_0101) }

    /// Unsigned bytes x against signed y: lane l = Σ of the products of bytes 4l…4l+3 (exact
    /// while the pair sums fit Int16: x ≤ 128 with |y| ≤ 127).
    @inline(__always)
    static func lanes(_ x: SIMD32<UInt8>, _ y: SIMD32<Int8>) -> SIMD8<Int32> { tinylm_dot4_u8i8(x, y) }

    /// Signed bytes x against y: vpmaddubsw wants one unsigned operand, so |x| is multiplied
    /// by y carrying x's sign (exact: |x| ≤ 128).
    @inline(__always)
    static func signedLanes(_ x: SIMD32<Int8>, _ y: SIMD32<Int8>) -> SIMD8<Int32> {
        tinylm_dot4_u8i8(unsafeBitCast(tinylm_sign_i8(x, x), to: SIMD32<UInt8>.self), tinylm_sign_i8(y, x))
    }

    /// Unsigned quants q = x + c against y, minus `offset` = c·(pair sums of y) taken off in
    /// Int16 (exact: the pairs of q·y stay under 2^15 for c ≤ 16).
    @inline(__always)
    static func offsetLanes(_ q: SIMD32<UInt8>, _ y: SIMD32<Int8>, _ offset: SIMD16<Int16>) -> SIMD8<Int32> {
        tinylm_madd_i16(tinylm_maddubs_u8i8(q, y) &- offset, SIMD16(repeating: 1))
    }

    /// The Int32 lanes of four rows summed, one lane per row (exact, any order).
    @inline(__always)
    static func rowSums(_ a: SIMD8<Int32>, _ b: SIMD8<Int32>, _ c: SIMD8<Int32>, _ d: SIMD8<Int32>) -> SIMD4<Int32> {
        // Two rounds of vphaddd leave [Σa, Σb, Σc, Σd] of the low lanes in the low half and of
        // the high lanes in the high half.
        let sums = tinylm_hadd_i32(tinylm_hadd_i32(a, b), tinylm_hadd_i32(c, d))
        return sums.lowHalf &+ sums.highHalf
    }

    /// Int16 lane `low` of `v` in all of the low 128 bits and lane `high` (of the same eight
    /// in the high 128 bits) in all of the high ones: vpshufb stays within each half.
    @inline(__always)
    static func broadcastLanes(_ v: SIMD16<Int16>, _ low: Int, _ high: Int) -> SIMD16<Int16> {
        let l = UInt16(2 * low) | UInt16(2 * low + 1) << 8, h = UInt16(2 * high) | UInt16(2 * high + 1) << 8
        let index = SIMD16<UInt16>(lowHalf: SIMD8(repeating: l), highHalf: SIMD8(repeating: h))
        return unsafeBitCast(tinylm_shuffle_u8(unsafeBitCast(v, to: SIMD32<UInt8>.self), unsafeBitCast(index, to: SIMD32<UInt8>.self)),
                             to: SIMD16<Int16>.self)
    }

    /// Block `block`'s sixteen Q8_K activation sums as Int16 (each at most 16·127).
    @inline(__always)
    static func narrowSums(_ act: Q8Activations, _ block: Int) -> SIMD16<Int16> {
        let p = UnsafeRawPointer(act.bsums + 16 * block)
        return tinylm_narrow_i32_i16(p.loadUnaligned(as: SIMD8<Int32>.self), p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Int32>.self))
    }

    /// Asks for `bytes` bytes at `start` (a group of rows the batch kernels unpack next) while
    /// the tokens run over the current group: each weight is read once per prompt, so without
    /// this the unpacking waits on memory (perf: the hottest instructions were right after its
    /// weight loads).
    @inline(__always)
    static func prefetch(_ start: UnsafeRawPointer, bytes: Int) {
        var offset = 0
        while offset < bytes {
            tinylm_prefetch(start + offset)
            offset += 64
        }
    }

    /// The next four rows are the next 4·rowBytes bytes: while block b of these rows is used,
    /// fetch the same share of those (4·blockBytes bytes). The hardware prefetcher alone
    /// leaves the decode loop waiting on memory (perf: the hottest instructions were the ones
    /// right after the weight loads).
    @inline(__always)
    static func prefetchNextRows(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ block: Int, _ blockBytes: Int) {
        let ahead = rows + 4 * rowBytes + block * 4 * blockBytes
        if blockBytes <= 48 {
            tinylm_prefetch(ahead)
            tinylm_prefetch(ahead + 64)
            if blockBytes * 4 > 128 { tinylm_prefetch(ahead + 128) }
        } else {
            var offset = 0
            while offset < 4 * blockBytes {
                tinylm_prefetch(ahead + offset)
                offset += 64
            }
        }
    }
}
#endif
