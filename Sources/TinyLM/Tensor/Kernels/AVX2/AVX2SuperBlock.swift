// The AVX2 drivers of the K-quants (Q2_K…Q6_K). Per 32 values: vpmaddubsw (unsigned 2- to
// 6-bit codes times the signed activations, pairs summed in Int16: at most 2·63·127) and
// vpmaddwd by a vector of the per-16 or per-32 scales gives eight exact Int32 lanes, which are
// exactly vec_dot's lanes (values 4l…4l+3 of each 16 in lane l mod 4 of that half). The
// integer sums the other orders need (per super-block, per pair of 32-value groups, per half)
// are sums of those lanes; the float steps are the scalar reference's (Int32 → Float is
// vcvtdq2ps, which rounds to nearest). Each format says how its block meets the activations
// (<Format>+AVX2.swift).

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

/// A K-quant as the AVX2 kernels take it.
protocol AVX2SuperBlockFormat {
    static var blockBytes: Int { get }
    /// Byte offsets of the f16 d and (formats with mins) dmin.
    static var dOffset: Int { get }
    static var dminOffset: Int { get }
    static var hasMins: Bool { get }
    /// 32-value groups per update of the repacked GEMM (Q4_K: 2, Q2_K: 4; others unused).
    static var gemmGroups: Int { get }
    /// How vec_dot adds the mins (Q2_K, Q4_K, Q5_K each differently).
    static var vecDotMins: AVX2SuperBlock.VecDotMins { get }
    /// log2 of the code offset the batch kernel takes off through the activation sums
    /// (value = code − 2^shift: Q3_K 2, Q6_K 5), or 0 when codes are the values.
    static var offsetShift: Int32 { get }

    /// vec_dot's eight lanes of one super-block (with any offset where vec_dot puts it) against
    /// its 256 activations `y` and their sixteen sums.
    static func lanes(_ block: UnsafeRawPointer, _ y: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32>
    /// The mins (one per 16 values; per-32 mins repeated) times the activation sums, paired:
    /// lane l = m_2l·T_2l + m_2l+1·T_2l+1 (zero for formats without mins).
    static func minLanes(_ block: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32>
    /// For the batch kernel: the eight groups' codes as bytes (unsigned) and their vpmaddwd
    /// scale vectors; returns the per-16 mins (formats with mins) and the per-16 scales the
    /// code offset multiplies (offset formats).
    static func unpack(_ block: UnsafeRawPointer, _ codes: UnsafeMutablePointer<SIMD32<UInt8>>,
                       _ scales: UnsafeMutablePointer<SIMD16<Int16>>) -> (mins: SIMD16<Int16>, offsetScales: SIMD16<Int16>)
}

enum AVX2SuperBlock {
    /// Where a format's vec_dot puts Σ m·T (see the formats' scalar references).
    enum VecDotMins {
        /// No mins (Q3_K, Q6_K).
        case none
        /// Into the eight lanes, before the products (Q2_K).
        case inLanes
        /// Four lanes of their own, lane i = m_2i·S_2i + m_2i+1·S_2i+1 (Q4_K).
        case fourLanes
        /// One scalar per row (Q5_K).
        case scalar
    }

    /// Four rows against one token in the vec_dot order: acc[l] = fma(d_a·d_w, lane l, acc[l])
    /// per super-block, the mins as the format's vec_dot adds them, hsum8.
    @inline(__always)
    static func vecDot4<F: AVX2SuperBlockFormat>(_: F.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                                 _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        var minAcc0 = SIMD4<Float>(), minAcc1 = SIMD4<Float>(), minAcc2 = SIMD4<Float>(), minAcc3 = SIMD4<Float>()
        var minSums = SIMD4<Float>()
        for b in 0..<blocks {
            let w = rows + b * F.blockBytes
            AVX2Lanes.prefetchNextRows(rows, rowBytes, b, F.blockBytes)
            let y = UnsafeRawPointer(act.q8 + 256 * b)
            let bsums = AVX2Lanes.narrowSums(act, b)
            let da = act.d[b]
            switch F.vecDotMins {
            case .none:
                break
            case .inLanes:
                let m = halves4(w, rowBytes, F.dminOffset) * -da
                acc0 = acc0.addingProduct(tinylm_float_i32(F.minLanes(w, bsums)), SIMD8(repeating: m[0]))
                acc1 = acc1.addingProduct(tinylm_float_i32(F.minLanes(w + rowBytes, bsums)), SIMD8(repeating: m[1]))
                acc2 = acc2.addingProduct(tinylm_float_i32(F.minLanes(w + 2 * rowBytes, bsums)), SIMD8(repeating: m[2]))
                acc3 = acc3.addingProduct(tinylm_float_i32(F.minLanes(w + 3 * rowBytes, bsums)), SIMD8(repeating: m[3]))
            case .fourLanes:
                @inline(__always) func paired(_ x: SIMD8<Int32>) -> SIMD4<Float> {
                    let h = tinylm_hadd_i32(x, x)   // [x0+x1, x2+x3, ·, ·, x4+x5, x6+x7, ·, ·]
                    return tinylm_float4_i32(SIMD4(h[0], h[1], h[4], h[5]))
                }
                let m = halves4(w, rowBytes, F.dminOffset) * -da
                minAcc0 = minAcc0.addingProduct(paired(F.minLanes(w, bsums)), SIMD4(repeating: m[0]))
                minAcc1 = minAcc1.addingProduct(paired(F.minLanes(w + rowBytes, bsums)), SIMD4(repeating: m[1]))
                minAcc2 = minAcc2.addingProduct(paired(F.minLanes(w + 2 * rowBytes, bsums)), SIMD4(repeating: m[2]))
                minAcc3 = minAcc3.addingProduct(paired(F.minLanes(w + 3 * rowBytes, bsums)), SIMD4(repeating: m[3]))
            case .scalar:
                let msum = AVX2Lanes.rowSums(F.minLanes(w, bsums), F.minLanes(w + rowBytes, bsums), F.minLanes(w + 2 * rowBytes, bsums),
                                             F.minLanes(w + 3 * rowBytes, bsums))
                minSums = minSums.addingProduct(halves4(w, rowBytes, F.dminOffset) * -da, tinylm_float4_i32(msum))
            }
            let d = halves4(w, rowBytes, F.dOffset) * da
            acc0 = acc0.addingProduct(tinylm_float_i32(F.lanes(w, y, bsums)), SIMD8(repeating: d[0]))
            acc1 = acc1.addingProduct(tinylm_float_i32(F.lanes(w + rowBytes, y, bsums)), SIMD8(repeating: d[1]))
            acc2 = acc2.addingProduct(tinylm_float_i32(F.lanes(w + 2 * rowBytes, y, bsums)), SIMD8(repeating: d[2]))
            acc3 = acc3.addingProduct(tinylm_float_i32(F.lanes(w + 3 * rowBytes, y, bsums)), SIMD8(repeating: d[3]))
        }
        @inline(__always) func minPart(_ m: SIMD4<Float>, _ i: Int) -> Float {
            switch F.vecDotMins {
            case .fourLanes: return (m[0] + m[2]) + (m[1] + m[3])
            case .scalar: return minSums[i]
            default: return 0
            }
        }
        let noMins = F.vecDotMins == .none || F.vecDotMins == .inLanes
        out[0] = noMins ? LaneMath.horizontalSum(acc0) : LaneMath.horizontalSum(acc0) + minPart(minAcc0, 0)
        out[1] = noMins ? LaneMath.horizontalSum(acc1) : LaneMath.horizontalSum(acc1) + minPart(minAcc1, 1)
        out[2] = noMins ? LaneMath.horizontalSum(acc2) : LaneMath.horizontalSum(acc2) + minPart(minAcc2, 2)
        out[3] = noMins ? LaneMath.horizontalSum(acc3) : LaneMath.horizontalSum(acc3) + minPart(minAcc3, 3)
    }

    /// The same f16 field of the same block in four rows.
    @inline(__always)
    static func halves4(_ w: UnsafeRawPointer, _ rowBytes: Int, _ offset: Int) -> SIMD4<Float> {
        FP16.toFloat4(headerHalves4(w + offset, rowBytes))
    }

    /// Four rows against one token in the repacked GEMV order (see ReferenceOrders.gemv).
    @inline(__always)
    static func gemv4<F: AVX2SuperBlockFormat>(_: F.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                               _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        var acc = SIMD4<Float>(), accMin = SIMD4<Float>()
        for b in 0..<blocks {
            let w = rows + b * F.blockBytes
            AVX2Lanes.prefetchNextRows(rows, rowBytes, b, F.blockBytes)
            let y = UnsafeRawPointer(act.q8 + 256 * b)
            let bsums = AVX2Lanes.narrowSums(act, b)
            let isum = AVX2Lanes.rowSums(F.lanes(w, y, bsums), F.lanes(w + rowBytes, y, bsums), F.lanes(w + 2 * rowBytes, y, bsums),
                                         F.lanes(w + 3 * rowBytes, y, bsums))
            let msum = AVX2Lanes.rowSums(F.minLanes(w, bsums), F.minLanes(w + rowBytes, bsums), F.minLanes(w + 2 * rowBytes, bsums),
                                         F.minLanes(w + 3 * rowBytes, bsums))
            let da = act.d[b]
            acc = LaneMath.fusedMultiplyAdd(tinylm_float4_i32(isum), halves4(w, rowBytes, F.dOffset) * da, acc)
            accMin = LaneMath.fusedMultiplyAdd(tinylm_float4_i32(msum), halves4(w, rowBytes, F.dminOffset) * da, accMin)
        }
        let result = acc - accMin
        for i in 0..<4 { out[i] = result[i] }
    }

    /// Every row of `rows` against every token: a batch whose tokens take the repacked or tiled
    /// orders goes through `multiplyBatch`; otherwise four rows at a time per token,
    /// `vecDot4` for vec_dot tokens and `gemv4` for GEMV ones; `fallback` (the SIMD128 kernel)
    /// takes the rest: rows of a last group smaller than four, a lone token of a GEMM or tiled
    /// batch split across passes.
    @inline(__always)
    static func multiply<F: AVX2SuperBlockFormat>(_: F.Type, _ job: KernelJob, rows: Range<Int>,
                                                  fallback: (KernelJob, Range<Int>) -> Void) {
        if job.batch >= 2 && job.order(ofToken: 0) != .vecDot {
            multiplyBatch(F.self, job, rows: rows, fallback: fallback)
            return
        }
        var r = rows.lowerBound
        while r + 4 <= rows.upperBound {
            for t in 0..<job.batch {
                switch job.order(ofToken: t) {
                case .vecDot: vecDot4(F.self, job.row(r), job.rowBytes, job.blocks, job.activations(t), job.results(t, r))
                case .gemv: gemv4(F.self, job.row(r), job.rowBytes, job.blocks, job.activations(t), job.results(t, r))
                default: fallback(job.tokens(t ..< t + 1), r ..< r + 4)
                }
            }
            r += 4
        }
        if r < rows.upperBound { fallback(job, r..<rows.upperBound) }
    }

    /// A batch in the GEMM, GEMV or tiled order: each group of four rows is unpacked once into
    /// codes ready for vpmaddubsw (one vector per 32 values) and the matching scale vectors
    /// for vpmaddwd; every token then runs over the unpacked copy, which stays in L1.
    static func multiplyBatch<F: AVX2SuperBlockFormat>(_: F.Type, _ job: KernelJob, rows: Range<Int>,
                                                       fallback: (KernelJob, Range<Int>) -> Void) {
        let blocks = job.blocks, rowBytes = job.rowBytes
        withUnsafeTemporaryAllocation(of: SIMD32<UInt8>.self, capacity: 32 * blocks) { codes in
        withUnsafeTemporaryAllocation(of: SIMD16<Int16>.self, capacity: 40 * blocks) { scales in
        withUnsafeTemporaryAllocation(of: SIMD4<Float>.self, capacity: 2 * blocks) { d in
            let codes = codes.baseAddress!, scales = scales.baseAddress!, d = d.baseAddress!
            // Per row i and block b: codes and scales at 8(4b + i), the per-16 mins and offset
            // scales at 32·blocks + 2(4b + i).
            let extra = scales + 32 * blocks
            var r = rows.lowerBound
            while r + 4 <= rows.upperBound {
                let group = job.row(r)
                for b in 0..<blocks {
                    let w = group + b * F.blockBytes
                    for i in 0..<4 {
                        let v = 8 * (4 * b + i)
                        let e = F.unpack(w + i * rowBytes, codes + v, scales + v)
                        extra[2 * (4 * b + i)] = e.mins
                        extra[2 * (4 * b + i) + 1] = e.offsetScales
                    }
                    d[2 * b] = halves4(w, rowBytes, F.dOffset)
                    if F.hasMins { d[2 * b + 1] = halves4(w, rowBytes, F.dminOffset) }
                }
                for t in 0..<job.batch {
                    let order = job.order(ofToken: t)
                    let act = job.activations(t)
                    var acc = SIMD4<Float>(), accMin = SIMD4<Float>()
                    for b in 0..<blocks {
                        let y = UnsafeRawPointer(act.q8 + 256 * b)
                        let bsums = AVX2Lanes.narrowSums(act, b)
                        let da = act.d[b]
                        @inline(__always) func lanes(_ i: Int, _ g: Int) -> SIMD8<Int32> {
                            let v = 8 * (4 * b + i) + g
                            return tinylm_madd_i16(tinylm_maddubs_u8i8(codes[v], y.loadUnaligned(fromByteOffset: 32 * g, as: SIMD32<Int8>.self)),
                                                   scales[v])
                        }
                        @inline(__always) func mins(_ i: Int) -> SIMD8<Int32> { tinylm_madd_i16(extra[2 * (4 * b + i)], bsums) }
                        if order == .gemm {
                            let span = F.gemmGroups
                            var g = 0
                            while g < 8 {
                                var l0 = SIMD8<Int32>(), l1 = SIMD8<Int32>(), l2 = SIMD8<Int32>(), l3 = SIMD8<Int32>()
                                for k in g ..< g + span {
                                    l0 &+= lanes(0, k)
                                    l1 &+= lanes(1, k)
                                    l2 &+= lanes(2, k)
                                    l3 &+= lanes(3, k)
                                }
                                let mask = spanMask(g, span)
                                let isum = AVX2Lanes.rowSums(l0, l1, l2, l3)
                                let msum = AVX2Lanes.rowSums(mins(0) & mask, mins(1) & mask, mins(2) & mask, mins(3) & mask)
                                acc = LaneMath.fusedMultiplyAdd(tinylm_float4_i32(isum), d[2 * b] * da, acc)
                                accMin = LaneMath.fusedMultiplyAdd(tinylm_float4_i32(msum), d[2 * b + 1] * da, accMin)
                                g += span
                            }
                            continue
                        }
                        var l0 = SIMD8<Int32>(), l1 = SIMD8<Int32>(), l2 = SIMD8<Int32>(), l3 = SIMD8<Int32>()
                        if F.offsetShift != 0 {
                            // value = code − 2^shift: the offset goes through the activation sums.
                            l0 = SIMD8() &- (tinylm_madd_i16(extra[2 * (4 * b) + 1], bsums) &<< F.offsetShift)
                            l1 = SIMD8() &- (tinylm_madd_i16(extra[2 * (4 * b + 1) + 1], bsums) &<< F.offsetShift)
                            l2 = SIMD8() &- (tinylm_madd_i16(extra[2 * (4 * b + 2) + 1], bsums) &<< F.offsetShift)
                            l3 = SIMD8() &- (tinylm_madd_i16(extra[2 * (4 * b + 3) + 1], bsums) &<< F.offsetShift)
                        }
                        for g in 0..<8 {
                            l0 &+= lanes(0, g)
                            l1 &+= lanes(1, g)
                            l2 &+= lanes(2, g)
                            l3 &+= lanes(3, g)
                        }
                        let isum = tinylm_float4_i32(AVX2Lanes.rowSums(l0, l1, l2, l3))
                        if F.hasMins {
                            let msum = tinylm_float4_i32(AVX2Lanes.rowSums(mins(0), mins(1), mins(2), mins(3)))
                            if order == .gemv {
                                acc = LaneMath.fusedMultiplyAdd(isum, d[2 * b] * da, acc)
                                accMin = LaneMath.fusedMultiplyAdd(msum, d[2 * b + 1] * da, accMin)
                            } else {
                                let block = LaneMath.fusedMultiplyAdd(-d[2 * b + 1], msum, isum * d[2 * b])
                                acc = LaneMath.fusedMultiplyAdd(block, SIMD4(repeating: da), acc)
                            }
                        } else {
                            acc = LaneMath.fusedMultiplyAdd(isum * d[2 * b], SIMD4(repeating: da), acc)
                        }
                    }
                    let result = acc - accMin
                    let out = job.results(t, r)
                    for i in 0..<4 { out[i] = result[i] }
                }
                r += 4
            }
            if r < rows.upperBound { fallback(job, r..<rows.upperBound) }
        }
        }
        }
    }

    /// All ones in the lanes g..<g + span, zero elsewhere: min lane l covers values
    /// 32l…32l+31, so this selects a GEMM span's. (Arithmetic only: Swift's vector compares
    /// and lane inserts become per-lane loops through the stack, which stall the loads after
    /// them.) x = lane − g is in the span when x and span − 1 − x are both non-negative.
    @inline(__always)
    static func spanMask(_ g: Int, _ span: Int) -> SIMD8<Int32> {
        let x = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) &- Int32(truncatingIfNeeded: g)
        return ~((x | (SIMD8(repeating: Int32(truncatingIfNeeded: span - 1)) &- x)) &>> 31)
    }

    /// The eight 16-value scales of `half` of a block's sixteen (as Int16), in both 128-bit
    /// halves: vpshufb then picks a group's pair of scales.
    @inline(__always)
    static func halfScales(_ scales16: SIMD16<Int16>, _ half: Int) -> SIMD16<Int16> {
        let eight = half == 0 ? scales16.lowHalf : scales16.highHalf
        return SIMD16(lowHalf: eight, highHalf: eight)
    }
}
#endif
