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
    /// For the batch kernel: the eight 32-value groups' codes as bytes in value order
    /// (unsigned: value = code − 2^offsetShift), and the block's scales and mins, one per 16
    /// values (per-32 ones repeated; zero mins for formats without).
    static func unpack(_ block: UnsafeRawPointer, _ codes: UnsafeMutablePointer<SIMD32<UInt8>>) -> (scales: SIMD16<Int16>, mins: SIMD16<Int16>)
    /// How many 4-value chunks of a group the batch kernel adds in Int16 before widening: the
    /// sums must stay below 2^15 (a vpmaddubsw lane is at most 2·127·(largest code)), and a
    /// scale must cover them (4 for per-16 scales).
    static var int16Chunks: Int { get }
}

/// Q4_K and Q5_K: eight 32-value groups, each with a 6-bit scale and a 6-bit min (the 12 bytes
/// at offset 4, unpackScaleMin), and unsigned codes; they differ only in how the codes are
/// stored, so each gives `pairCodes` and shares the rest.
protocol AVX2SixBitScaleFormat: AVX2SuperBlockFormat {
    /// The 32 codes of groups 2·pair and 2·pair + 1 as bytes, in value order.
    static func pairCodes(_ block: UnsafeRawPointer, _ pair: Int) -> (SIMD32<UInt8>, SIMD32<UInt8>)
}

extension AVX2SixBitScaleFormat {
    /// A block's eight scales as Int16 (in both 128-bit halves) and eight mins as Int32.
    @inline(__always)
    static func scales(_ block: UnsafeRawPointer) -> (scales: SIMD16<Int16>, mins: SIMD8<Int32>) {
        let sm = unpackScaleMin(block + 4)
        return (tinylm_widen_u8_i16(unsafeBitCast(SIMD2<UInt64>(repeating: sm.scales), to: SIMD16<UInt8>.self)),
                tinylm_widen_u8_i32(unsafeBitCast(SIMD2<UInt64>(sm.mins, 0), to: SIMD16<UInt8>.self)))
    }

    @inline(__always)
    static func lanes(_ block: UnsafeRawPointer, _ y: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32> {
        let s = scales(block).scales
        var lanes = SIMD8<Int32>()
        for pair in 0..<4 {
            let q = pairCodes(block, pair)
            lanes &+= tinylm_madd_i16(tinylm_maddubs_u8i8(q.0, y.loadUnaligned(fromByteOffset: 64 * pair, as: SIMD32<Int8>.self)),
                                      AVX2Lanes.broadcastLanes(s, 2 * pair, 2 * pair))
                &+ tinylm_madd_i16(tinylm_maddubs_u8i8(q.1, y.loadUnaligned(fromByteOffset: 64 * pair + 32, as: SIMD32<Int8>.self)),
                                   AVX2Lanes.broadcastLanes(s, 2 * pair + 1, 2 * pair + 1))
        }
        return lanes
    }

    /// Lane j: m_j·S_j (S: the sums of 32 activations).
    @inline(__always)
    static func minLanes(_ block: UnsafeRawPointer, _ bsums: SIMD16<Int16>) -> SIMD8<Int32> {
        scales(block).mins &* tinylm_madd_i16(bsums, SIMD16(repeating: 1))
    }

    /// The codes, and each 32-value scale or min twice, once per 16 values.
    @inline(__always)
    static func unpack(_ block: UnsafeRawPointer, _ codes: UnsafeMutablePointer<SIMD32<UInt8>>) -> (scales: SIMD16<Int16>, mins: SIMD16<Int16>) {
        for pair in 0..<4 {
            let q = pairCodes(block, pair)
            codes[2 * pair] = q.0
            codes[2 * pair + 1] = q.1
        }
        // Bytes spread apart, then doubled.
        @inline(__always) func spread(_ x: UInt64) -> UInt64 {
            var v = (x | x &<< 16) & 0x0000_FFFF_0000_FFFF
            v = (v | v &<< 8) & 0x00FF_00FF_00FF_00FF
            return v | v &<< 8
        }
        @inline(__always) func doubled(_ word: UInt64) -> SIMD16<Int16> {
            tinylm_widen_u8_i16(unsafeBitCast(SIMD2<UInt64>(spread(word & 0xFFFF_FFFF), spread(word &>> 32)), to: SIMD16<UInt8>.self))
        }
        let sm = unpackScaleMin(block + 4)
        return (doubled(sm.scales), doubled(sm.mins))
    }
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

    /// A batch in the GEMM, GEMV or tiled order, eight rows at a time with one row per 32-bit
    /// lane, so that every sum an order needs comes out as one vector of the eight rows' sums
    /// and the float steps run on eight rows at once (no horizontal reductions). Each group of
    /// eight rows is unpacked once: per 32-value group and 4-value chunk k, one vector holds
    /// the eight rows' codes of values 4k…4k+3 (a transpose of the rows' code vectors); the
    /// scales, mins and offset scales likewise hold each row's pair of Int16 in its lane. Then
    /// for every token, per chunk: vpmaddubsw of those codes with the token's four activations
    /// broadcast to every lane, a few chunks added in Int16, vpmaddwd by the scales. The
    /// unpacked rows stay in L1 while the tokens pass over them.
    static func multiplyBatch<F: AVX2SuperBlockFormat>(_: F.Type, _ job: KernelJob, rows: Range<Int>,
                                                       fallback: (KernelJob, Range<Int>) -> Void) {
        let blocks = job.blocks, rowBytes = job.rowBytes
        // Per block: 64 code vectors (group g, chunk k at 8g + k), 16 scale vectors (per 16
        // values), 8 min-pair and 8 scale-pair vectors (pair q: values 32q…32q+31).
        withUnsafeTemporaryAllocation(of: SIMD8<Int32>.self, capacity: 96 * blocks) { unpacked in
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 2 * blocks) { d in
        withUnsafeTemporaryAllocation(of: SIMD32<UInt8>.self, capacity: 64) { rowCodes in
            let unpacked = unpacked.baseAddress!, d = d.baseAddress!, rowCodes = rowCodes.baseAddress!
            var r = rows.lowerBound
            while r + 8 <= rows.upperBound {
                unpack8(F.self, job.row(r), rowBytes, blocks, unpacked, d, rowCodes)
                if r + 16 <= rows.upperBound { AVX2Lanes.prefetch(job.row(r + 8), bytes: 8 * rowBytes) }
                for t in 0..<job.batch {
                    let order = job.order(ofToken: t)
                    let act = job.activations(t)
                    var acc = SIMD8<Float>(), accMin = SIMD8<Float>()
                    for b in 0..<blocks {
                        let u = unpacked + 96 * b
                        let y = UnsafeRawPointer(act.q8 + 256 * b)
                        let da = act.d[b]
                        let sums = act.bsums + 16 * b
                        /// The activation sums of values 32q…32q+31 as a pair of Int16 in every lane.
                        @inline(__always) func sumPair(_ q: Int) -> SIMD8<Int32> {
                            SIMD8(repeating: (sums[2 * q] & 0xFFFF) | (sums[2 * q + 1] &<< 16))
                        }
                        /// Σ scale·code·a over group g, for the eight rows.
                        @inline(__always) func groupSum(_ g: Int) -> SIMD8<Int32> {
                            var total = SIMD8<Int32>()
                            var k = 0
                            while k < 8 {
                                var short = SIMD16<Int16>()
                                for c in k ..< k + F.int16Chunks {
                                    let a = SIMD8<Int32>(repeating: y.loadUnaligned(fromByteOffset: 32 * g + 4 * c, as: Int32.self))
                                    short &+= tinylm_maddubs_u8i8(unsafeBitCast(u[8 * g + c], to: SIMD32<UInt8>.self),
                                                                  unsafeBitCast(a, to: SIMD32<Int8>.self))
                                }
                                total &+= tinylm_madd_i16(short, unsafeBitCast(u[64 + 2 * g + k / 4], to: SIMD16<Int16>.self))
                                k += F.int16Chunks
                            }
                            return total
                        }
                        /// Σ over the value pairs q in `pairs` of the pair's Int16s times the sums.
                        @inline(__always) func pairSums(_ base: Int, _ pairs: Range<Int>) -> SIMD8<Int32> {
                            var total = SIMD8<Int32>()
                            for q in pairs {
                                total &+= tinylm_madd_i16(unsafeBitCast(u[base + q], to: SIMD16<Int16>.self),
                                                          unsafeBitCast(sumPair(q), to: SIMD16<Int16>.self))
                            }
                            return total
                        }
                        if order == .gemm {
                            var g = 0
                            while g < 8 {
                                var isum = SIMD8<Int32>()
                                for k in g ..< g + F.gemmGroups { isum &+= groupSum(k) }
                                let msum = pairSums(80, g ..< g + F.gemmGroups)
                                acc = acc.addingProduct(tinylm_float_i32(isum), d[2 * b] * da)
                                accMin = accMin.addingProduct(tinylm_float_i32(msum), d[2 * b + 1] * da)
                                g += F.gemmGroups
                            }
                            continue
                        }
                        var isum = SIMD8<Int32>()
                        for g in 0..<8 { isum &+= groupSum(g) }
                        if F.offsetShift != 0 {
                            // value = code − 2^shift: the offset goes through the activation sums.
                            isum &-= pairSums(88, 0..<8) &<< F.offsetShift
                        }
                        let isumF = tinylm_float_i32(isum)
                        if F.hasMins {
                            let msum = tinylm_float_i32(pairSums(80, 0..<8))
                            if order == .gemv {
                                acc = acc.addingProduct(isumF, d[2 * b] * da)
                                accMin = accMin.addingProduct(msum, d[2 * b + 1] * da)
                            } else {
                                let block = (isumF * d[2 * b]).addingProduct(-d[2 * b + 1], msum)
                                acc = acc.addingProduct(block, SIMD8(repeating: da))
                            }
                        } else {
                            acc = acc.addingProduct(isumF * d[2 * b], SIMD8(repeating: da))
                        }
                    }
                    let result = acc - accMin
                    let out = job.results(t, r)
                    for i in 0..<8 { out[i] = result[i] }
                }
                r += 8
            }
            if r < rows.upperBound { fallback(job, r..<rows.upperBound) }
        }
        }
        }
    }

    /// Eight rows' blocks into the batch kernel's layout (see `multiplyBatch`): per block b at
    /// 96b, the code vectors of group g, chunk k at 8g + k (lane i: row i's codes of values
    /// 32g + 4k … + 3), at 64 + c the scale of values 16c…16c+15 (lane i: row i's, twice), at
    /// 80 + q the min pair and at 88 + q the scale pair of values 32q…32q+31; d and dmin of the
    /// eight rows at d[2b], d[2b + 1].
    /// With `int32Scales` (the AVX-512 kernel's vpmulld) the scales at 64 + c are each row's
    /// scale as Int32 instead.
    @inline(__always)
    static func unpack8<F: AVX2SuperBlockFormat>(_: F.Type, _ group: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                                 _ unpacked: UnsafeMutablePointer<SIMD8<Int32>>, _ d: UnsafeMutablePointer<SIMD8<Float>>,
                                                 _ rowCodes: UnsafeMutablePointer<SIMD32<UInt8>>, int32Scales: Bool = false) {
        for b in 0..<blocks {
            let w = group + b * F.blockBytes
            let u = unpacked + 96 * b
            var scales = (SIMD16<Int16>(), SIMD16<Int16>(), SIMD16<Int16>(), SIMD16<Int16>(),
                          SIMD16<Int16>(), SIMD16<Int16>(), SIMD16<Int16>(), SIMD16<Int16>())
            var mins = scales
            withUnsafeMutablePointer(to: &scales) { scalesPointer in
            withUnsafeMutablePointer(to: &mins) { minsPointer in
                let rowScales = UnsafeMutableRawPointer(scalesPointer).assumingMemoryBound(to: SIMD16<Int16>.self)
                let rowMins = UnsafeMutableRawPointer(minsPointer).assumingMemoryBound(to: SIMD16<Int16>.self)
                for i in 0..<8 {
                    let e = F.unpack(w + i * rowBytes, rowCodes + 8 * i)
                    rowScales[i] = e.scales
                    rowMins[i] = e.mins
                }
                for g in 0..<8 {
                    transpose(rowCodes + g, stride: 8, into: u + 8 * g)
                }
                transpose(rowMins, stride: 1, into: u + 80)
                transpose(rowScales, stride: 1, into: u + 88)
                // Each 16-value scale twice in its row's lane, from the scale pairs.
                for q in 0..<8 {
                    let pair = u[88 + q]
                    if int32Scales {
                        u[64 + 2 * q] = (pair &<< 16) &>> 16
                        u[64 + 2 * q + 1] = pair &>> 16
                    } else {
                        let first = pair & 0xFFFF, second = (pair &>> 16) & 0xFFFF
                        u[64 + 2 * q] = first | (first &<< 16)
                        u[64 + 2 * q + 1] = second | (second &<< 16)
                    }
                }
            }
            }
            d[2 * b] = SIMD8(lowHalf: halves4(w, rowBytes, F.dOffset), highHalf: halves4(w + 4 * rowBytes, rowBytes, F.dOffset))
            d[2 * b + 1] = F.hasMins ? SIMD8(lowHalf: halves4(w, rowBytes, F.dminOffset), highHalf: halves4(w + 4 * rowBytes, rowBytes, F.dminOffset))
                : SIMD8()
        }
    }

    /// out[k] lane i = rows[i·stride] lane k, for eight 32-byte rows viewed as eight 32-bit lanes.
    @inline(__always)
    static func transpose<T>(_ rows: UnsafeMutablePointer<T>, stride: Int, into out: UnsafeMutablePointer<SIMD8<Int32>>) {
        @inline(__always) func row(_ i: Int) -> SIMD8<Int32> { UnsafeRawPointer(rows + i * stride).loadUnaligned(as: SIMD8<Int32>.self) }
        let t0 = tinylm_unpacklo_i32(row(0), row(1)), t1 = tinylm_unpackhi_i32(row(0), row(1))
        let t2 = tinylm_unpacklo_i32(row(2), row(3)), t3 = tinylm_unpackhi_i32(row(2), row(3))
        let t4 = tinylm_unpacklo_i32(row(4), row(5)), t5 = tinylm_unpackhi_i32(row(4), row(5))
        let t6 = tinylm_unpacklo_i32(row(6), row(7)), t7 = tinylm_unpackhi_i32(row(6), row(7))
        let u0 = tinylm_unpacklo_i64(t0, t2), u1 = tinylm_unpackhi_i64(t0, t2), u2 = tinylm_unpacklo_i64(t1, t3), u3 = tinylm_unpackhi_i64(t1, t3)
        let u4 = tinylm_unpacklo_i64(t4, t6), u5 = tinylm_unpackhi_i64(t4, t6), u6 = tinylm_unpacklo_i64(t5, t7), u7 = tinylm_unpackhi_i64(t5, t7)
        out[0] = tinylm_low_halves(u0, u4); out[4] = tinylm_high_halves(u0, u4)
        out[1] = tinylm_low_halves(u1, u5); out[5] = tinylm_high_halves(u1, u5)
        out[2] = tinylm_low_halves(u2, u6); out[6] = tinylm_high_halves(u2, u6)
        out[3] = tinylm_low_halves(u3, u7); out[7] = tinylm_high_halves(u3, u7)
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
