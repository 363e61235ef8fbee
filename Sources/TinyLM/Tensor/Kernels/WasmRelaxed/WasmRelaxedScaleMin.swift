// What Q4_K and Q5_K share on relaxed SIMD: eight 32-value sub-blocks per super-block, each
// with a 6-bit scale and a 6-bit min (bytes 4–15, one packing), under an f16 d and dmin (bytes
// 0–3). Their stored q (Q4_K: 0…15, Q5_K: 0…31) is the 0…127 operand of
// i16x8.relaxed_dot_i8x16_i7x16 (pmaddubsw); i32x4.dot_i16x8 (pmaddwd) multiplies the pair
// sums by the sub-block's scale, as ggml's x86 vec_dot does. The integer sums are exact, so
// the float steps are those of the SIMD128 kernels, in llama.cpp's vec_dot and tiled orders
// (Q4_K.Reference.vecDot, Q5_K.Reference.vecDot, ReferenceOrders.tiled).

#if TINYLM_RELAXED_SIMD
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

/// A K-quant with Q4_K's sub-blocks, scales and mins, as the kernels below run it.
protocol WasmRelaxedScaleMinFormat {
    static var blockBytes: Int { get }
    /// vec_dot keeps the mins' sums in four lanes (Q4_K) rather than one scalar (Q5_K).
    static var minsInLanes: Bool { get }
    /// Stored q of sub-block 2g + k / 2 of the block at `w`, values 0–15 (k even) or 16–31
    /// (k odd). One vector at a time, so that a kernel keeps few of them live.
    static func quarter(_ w: UnsafeRawPointer, _ g: Int, _ k: Int) -> SIMD16<Int8>
    /// sc_2g·Σ q·a + sc_2g+1·Σ q·a over values 64g ..< 64g + 64 as four Int32 partial sums
    /// (`spanDot` below), written out per format: the order of its steps decides how many
    /// v128 values are live at once, and Q4_K's four-row GEMM spills when it differs.
    static func spanDot(_ w: UnsafeRawPointer, _ y: UnsafeRawPointer, _ packed: SIMD16<Int8>, _ g: Int) -> SIMD4<Int32>
}

enum WasmRelaxedScaleMin {
    /// One row in the vec_dot order: eight lanes, acc[l] = fma(d_a·d_w, lane l, acc[l]); the
    /// mins in four lanes or one scalar, fma(−d_a·dmin_w, Σ m·S, ·).
    static func vecDot<F: WasmRelaxedScaleMinFormat>(_: F.Type, _ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
        let table = WasmHalfTable.current
        var low = SIMD4<Float>(), high = SIMD4<Float>(), accMin = SIMD4<Float>()
        var minSum = SIMD4<Float>()   // Q5_K's scalar, in every lane
        for b in 0..<blocks {
            let w = row + b * F.blockBytes
            let y = UnsafeRawPointer(act.q8 + b * 256)
            let packed = packedScales(w)
            // Lane i: m_2i·S_2i + m_2i+1·S_2i+1.
            let minLanes = tinylm_dot_i16x8(tinylm_extend_high_u8(packed), subBlockSums(UnsafeRawPointer(act.bsums + b * 16)))
            var lanesLow = SIMD4<Int32>(), lanesHigh = SIMD4<Int32>()
            for g in 0..<4 {
                let a = y + 64 * g
                let first = splatByte(packed, 2 * g)
                lanesLow &+= tinylm_dot_i16x8(tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(as: SIMD16<Int8>.self), F.quarter(w, g, 0)), first)
                lanesHigh &+= tinylm_dot_i16x8(tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self), F.quarter(w, g, 1)), first)
                let second = splatByte(packed, 2 * g + 1)
                lanesLow &+= tinylm_dot_i16x8(tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int8>.self), F.quarter(w, g, 2)), second)
                lanesHigh &+= tinylm_dot_i16x8(tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(fromByteOffset: 48, as: SIMD16<Int8>.self), F.quarter(w, g, 3)), second)
            }
            let da = act.d[b]
            let dmin = WasmHalfTable.convert(table, w + 2)
            if F.minsInLanes {
                accMin = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(minLanes), SIMD4(repeating: -da * dmin), accMin)
            } else {
                // One fused multiply-add on a splat: the relaxed one where the probe found it
                // fused (a scalar one would be formed in f64 every block).
                let mins = minLanes[0] &+ minLanes[1] &+ minLanes[2] &+ minLanes[3]
                minSum = LaneMath.fusedMultiplyAdd(SIMD4(repeating: LaneMath.roundedFloat(mins)), SIMD4(repeating: -da * dmin), minSum)
            }
            let d = SIMD4(repeating: da * WasmHalfTable.convert(table, w))
            low = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(lanesLow), d, low)
            high = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(lanesHigh), d, high)
        }
        let sum = LaneMath.horizontalSum(SIMD8(lowHalf: low, highHalf: high))
        return F.minsInLanes ? sum + ((accMin[0] + accMin[2]) + (accMin[1] + accMin[3])) : sum + minSum[0]
    }

    /// Four rows against one token in the tiled order: per super-block and row the whole
    /// integer sums, block = fma(−dmin_w, msum, isum·d_w), acc = fma(block, d_a, acc), the four
    /// rows' float steps as one vector.
    static func tiled4<F: WasmRelaxedScaleMinFormat>(_: F.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                                     _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        let table = WasmHalfTable.current
        var acc = SIMD4<Float>()
        for b in 0..<blocks {
            let w = rows + b * F.blockBytes
            let y = UnsafeRawPointer(act.q8 + b * 256)
            let subSums = subBlockSums(UnsafeRawPointer(act.bsums + b * 16))
            let s0 = rowSums(F.self, w, y, subSums), s1 = rowSums(F.self, w + rowBytes, y, subSums)
            let s2 = rowSums(F.self, w + 2 * rowBytes, y, subSums), s3 = rowSums(F.self, w + 3 * rowBytes, y, subSums)
            let isum = transposedSum(s0.isum, s1.isum, s2.isum, s3.isum)
            let msum = transposedSum(s0.msum, s1.msum, s2.msum, s3.msum)
            let d = WasmHalfTable.convert4(table, w, rowBytes), dmin = WasmHalfTable.convert4(table, w + 2, rowBytes)
            let block = LaneMath.fusedMultiplyAdd(-dmin, tinylm_float_i32x4(msum), tinylm_float_i32x4(isum) * d)
            acc = LaneMath.fusedMultiplyAdd(block, SIMD4(repeating: act.d[b]), acc)
        }
        out[0] = acc[0]
        out[1] = acc[1]
        out[2] = acc[2]
        out[3] = acc[3]
    }

    /// One row's Σ_j sc_j·Σ q·a and Σ_j m_j·S_j over a super-block, each as four Int32
    /// partial sums.
    @inline(__always)
    static func rowSums<F: WasmRelaxedScaleMinFormat>(_: F.Type, _ w: UnsafeRawPointer, _ y: UnsafeRawPointer, _ subSums: SIMD8<Int16>)
        -> (isum: SIMD4<Int32>, msum: SIMD4<Int32>) {
        let packed = packedScales(w)
        var isum = SIMD4<Int32>()
        for g in 0..<4 { isum &+= F.spanDot(w, y, packed, g) }
        return (isum, tinylm_dot_i16x8(tinylm_extend_high_u8(packed), subSums))
    }

    /// The pair sums of the two halves of sub-blocks 2g (`first`) and 2g + 1 (`second`),
    /// times their scales: at most 4·31·127 per Int16 lane before the scales.
    @inline(__always)
    static func spanDot(_ first: SIMD8<Int16>, _ second: SIMD8<Int16>, _ packed: SIMD16<Int8>, _ g: Int) -> SIMD4<Int32> {
        tinylm_dot_i16x8(first, splatByte(packed, 2 * g)) &+ tinylm_dot_i16x8(second, splatByte(packed, 2 * g + 1))
    }

    /// A super-block's eight 6-bit scales (bytes 0–7) and mins (bytes 8–15), unpacked once
    /// per row and block with scalar word operations: the same unpacking in v128 steps (two
    /// swizzles, 16-bit shifts and masks) measured 0.84–0.94x in every order.
    @inline(__always)
    static func packedScales(_ w: UnsafeRawPointer) -> SIMD16<Int8> {
        let sm = unpackScaleMin(w + 4)
        return unsafeBitCast(SIMD2<UInt64>(sm.scales, sm.mins), to: SIMD16<Int8>.self)
    }

    /// The activations' sum over each 32-value sub-block (two Q8_K sums of 16), as Int16
    /// (|sum| ≤ 32·127).
    @inline(__always)
    static func subBlockSums(_ sums: UnsafeRawPointer) -> SIMD8<Int16> {
        let first = tinylm_narrow_i32(sums.loadUnaligned(as: SIMD4<Int32>.self), sums.loadUnaligned(fromByteOffset: 16, as: SIMD4<Int32>.self))
        let second = tinylm_narrow_i32(sums.loadUnaligned(fromByteOffset: 32, as: SIMD4<Int32>.self), sums.loadUnaligned(fromByteOffset: 48, as: SIMD4<Int32>.self))
        return tinylm_narrow_i32(tinylm_pair_sums_i16(first), tinylm_pair_sums_i16(second))
    }

    /// Byte `index` of `v`, zero-extended, in every Int16 lane (one swizzle: index bytes
    /// above 15 give 0).
    @inline(__always)
    static func splatByte(_ v: SIMD16<Int8>, _ index: Int) -> SIMD8<Int16> {
        unsafeBitCast(tinylm_swizzle_i8(v, unsafeBitCast(SIMD8<UInt16>(repeating: 0x8000 | UInt16(truncatingIfNeeded: index)), to: SIMD16<Int8>.self)),
                      to: SIMD8<Int16>.self)
    }
}
#endif
