// The AVX2 drivers of the 32-value formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): each format says
// how its block meets 32 activation bytes (<Format>+AVX2.swift); these loops add the lanes in
// llama.cpp's orders, four rows at a time.

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

/// A 32-value format as the AVX2 kernels take it.
protocol AVX2Block32Format {
    static var blockBytes: Int { get }
    /// Whether blocks carry an f16 minimum m at byte 2 (value = d·q + m; Q4_1, Q5_1).
    static var isAffine: Bool { get }
    /// The eight exact vec_dot lanes of a block against activations y.
    static func lanes(_ block: UnsafeRawPointer, _ y: SIMD32<Int8>) -> SIMD8<Int32>
    /// A block's 32 codes as bytes in value order, for the batch kernel: unsigned codes with
    /// value = code − `codeOffset`, or for `signedCodes` formats the signed values.
    static func codes(_ block: UnsafeRawPointer) -> SIMD32<UInt8>
    static var codeOffset: UInt8 { get }
    static var signedCodes: Bool { get }
    /// The 32 integer values a block's scale multiplies (q − offset; Q4_1, Q5_1: q), as
    /// signed bytes in value order, for the AVX-512 kernel.
    static func values(_ block: UnsafeRawPointer) -> SIMD32<Int8>
}

extension AVX2Block32Format {
    @inline(__always)
    static func values(_ block: UnsafeRawPointer) -> SIMD32<Int8> {
        if signedCodes { return unsafeBitCast(codes(block), to: SIMD32<Int8>.self) }
        return tinylm_sub_i8(unsafeBitCast(codes(block), to: SIMD32<Int8>.self), SIMD32(repeating: Int8(bitPattern: codeOffset)))
    }
}

enum AVX2Block32 {
    /// vec_dot of four rows against one token: acc[l] = fma(d_w·d_a, lane l, acc[l]) per block,
    /// hsum8, plus for affine formats the Σ fma(m_w, s_a) of the four rows.
    @inline(__always)
    static func vecDot4<F: AVX2Block32Format>(_: F.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, _ act: Q8Activations,
                                        _ out: UnsafeMutablePointer<Float>) {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        var minSums = MinSums()
        for b in 0..<blocks {
            let y = UnsafeRawPointer(act.q8 + b * 32).loadUnaligned(as: SIMD32<Int8>.self)
            let w = rows + b * F.blockBytes
            AVX2Lanes.prefetchNextRows(rows, rowBytes, b, F.blockBytes)
            let scales: SIMD4<Float>
            if F.isAffine {
                let words = headerWords4(w, rowBytes)
                scales = FP16.toFloat4(words & 0xFFFF) * act.d[b]
                minSums.add(FP16.toFloat4(words &>> 16), act.s[b])
            } else {
                scales = FP16.toFloat4(headerHalves4(w, rowBytes)) * act.d[b]
            }
            acc0 = acc0.addingProduct(tinylm_float_i32(F.lanes(w, y)), SIMD8(repeating: scales[0]))
            acc1 = acc1.addingProduct(tinylm_float_i32(F.lanes(w + rowBytes, y)), SIMD8(repeating: scales[1]))
            acc2 = acc2.addingProduct(tinylm_float_i32(F.lanes(w + 2 * rowBytes, y)), SIMD8(repeating: scales[2]))
            acc3 = acc3.addingProduct(tinylm_float_i32(F.lanes(w + 3 * rowBytes, y)), SIMD8(repeating: scales[3]))
        }
        let m = F.isAffine ? minSums.value : SIMD4<Float>()
        out[0] = LaneMath.horizontalSum(acc0) + m[0]
        out[1] = LaneMath.horizontalSum(acc1) + m[1]
        out[2] = LaneMath.horizontalSum(acc2) + m[2]
        out[3] = LaneMath.horizontalSum(acc3) + m[3]
    }

    /// Q4_0's repacked order for four rows against one token: per block the whole block's
    /// sum, acc = fma(sum, d_w·d_a, acc).
    @inline(__always)
    static func blockwise4<F: AVX2Block32Format>(_: F.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, _ act: Q8Activations,
                                           _ out: UnsafeMutablePointer<Float>) {
        var acc = SIMD4<Float>()
        for b in 0..<blocks {
            let y = UnsafeRawPointer(act.q8 + b * 32).loadUnaligned(as: SIMD32<Int8>.self)
            let w = rows + b * F.blockBytes
            AVX2Lanes.prefetchNextRows(rows, rowBytes, b, F.blockBytes)
            let sums = AVX2Lanes.rowSums(F.lanes(w, y), F.lanes(w + rowBytes, y), F.lanes(w + 2 * rowBytes, y), F.lanes(w + 3 * rowBytes, y))
            acc = acc.addingProduct(tinylm_float4_i32(sums), FP16.toFloat4(headerHalves4(w, rowBytes)) * act.d[b])
        }
        for i in 0..<4 { out[i] = acc[i] }
    }

    /// A batch (prompt): each group of four rows is unpacked once into bytes ready for
    /// vpmaddubsw and f32 scales, then every token runs over the unpacked copy, which stays in
    /// L1. The same per-token arithmetic as `vecDot4` / `blockwise4`. Leftover rows (fewer
    /// than four) take the SIMD128 kernels, `leftover(rows)`.
    static func multiplyBatch<F: AVX2Block32Format>(_: F.Type, _ job: KernelJob, rows: Range<Int>, leftover: (Range<Int>) -> Void) {
        let blocks = job.blocks, rowBytes = job.rowBytes
        withUnsafeTemporaryAllocation(of: SIMD32<UInt8>.self, capacity: 8 * blocks) { bytes in
            withUnsafeTemporaryAllocation(of: SIMD4<Float>.self, capacity: 2 * blocks) { scales in
                var r = rows.lowerBound
                while r + 4 <= rows.upperBound {
                    unpack(F.self, job.row(r), rowBytes, blocks, bytes.baseAddress!, scales.baseAddress!)
                    if r + 8 <= rows.upperBound { AVX2Lanes.prefetch(job.row(r + 4), bytes: 4 * rowBytes) }
                    for t in 0..<job.batch {
                        if job.order(ofToken: t) == .vecDot {
                            tokenVecDot(F.self, bytes.baseAddress!, scales.baseAddress!, blocks, job.activations(t), job.results(t, r))
                        } else {
                            tokenBlockwise(F.self, bytes.baseAddress!, scales.baseAddress!, blocks, job.activations(t), job.results(t, r))
                        }
                    }
                    r += 4
                }
                if r < rows.upperBound { leftover(r..<rows.upperBound) }
            }
        }
    }

    /// Block b of the four rows goes to bytes[8b ..< 8b + 4] (codes; signed formats: |x|, with
    /// x itself in bytes[8b + 4 ..< 8b + 8], or with `unsignedCodes` x + 128) and scales[2b]
    /// (d; affine: m in scales[2b + 1]).
    @inline(__always)
    static func unpack<F: AVX2Block32Format>(_: F.Type, _ group: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                             _ bytes: UnsafeMutablePointer<SIMD32<UInt8>>, _ scales: UnsafeMutablePointer<SIMD4<Float>>,
                                             unsignedCodes: Bool = false) {
        for b in 0..<blocks {
            let w = group + b * F.blockBytes
            for i in 0..<4 {
                let codes = F.codes(w + i * rowBytes)
                if F.signedCodes && unsignedCodes {
                    bytes[8 * b + i] = AVX2Lanes.bytes(AVX2Lanes.words(codes) ^ AVX2Lanes.repeatedByte(0x80))
                } else if F.signedCodes {
                    let x = unsafeBitCast(codes, to: SIMD32<Int8>.self)
                    bytes[8 * b + i] = unsafeBitCast(tinylm_sign_i8(x, x), to: SIMD32<UInt8>.self)
                    bytes[8 * b + 4 + i] = codes
                } else {
                    bytes[8 * b + i] = codes
                }
            }
            if F.isAffine {
                let words = headerWords4(w, rowBytes)
                scales[2 * b] = FP16.toFloat4(words & 0xFFFF)
                scales[2 * b + 1] = FP16.toFloat4(words &>> 16)
            } else {
                scales[2 * b] = FP16.toFloat4(headerHalves4(w, rowBytes))
            }
        }
    }

    /// The lanes of unpacked row i's block b against y (`offset`: the code offset's share,
    /// computed once per block for the four rows).
    @inline(__always)
    static func unpackedLanes<F: AVX2Block32Format>(_: F.Type, _ bytes: UnsafeMutablePointer<SIMD32<UInt8>>, _ b: Int, _ i: Int,
                                              _ y: SIMD32<Int8>, _ offset: SIMD16<Int16>) -> SIMD8<Int32> {
        if F.signedCodes {
            return AVX2Lanes.lanes(bytes[8 * b + i], tinylm_sign_i8(y, unsafeBitCast(bytes[8 * b + 4 + i], to: SIMD32<Int8>.self)))
        }
        if F.codeOffset != 0 { return AVX2Lanes.offsetLanes(bytes[8 * b + i], y, offset) }
        return AVX2Lanes.lanes(bytes[8 * b + i], y)
    }

    @inline(__always)
    static func codeOffsetShare<F: AVX2Block32Format>(_: F.Type, _ y: SIMD32<Int8>) -> SIMD16<Int16> {
        F.codeOffset != 0 ? tinylm_maddubs_u8i8(SIMD32(repeating: F.codeOffset), y) : SIMD16()
    }

    @inline(__always)
    static func tokenVecDot<F: AVX2Block32Format>(_: F.Type, _ bytes: UnsafeMutablePointer<SIMD32<UInt8>>, _ scales: UnsafeMutablePointer<SIMD4<Float>>,
                                            _ blocks: Int, _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        var minSums = MinSums()
        for b in 0..<blocks {
            let y = UnsafeRawPointer(act.q8 + b * 32).loadUnaligned(as: SIMD32<Int8>.self)
            let offset = codeOffsetShare(F.self, y)
            let s = scales[2 * b] * act.d[b]
            acc0 = acc0.addingProduct(tinylm_float_i32(unpackedLanes(F.self, bytes, b, 0, y, offset)), SIMD8(repeating: s[0]))
            acc1 = acc1.addingProduct(tinylm_float_i32(unpackedLanes(F.self, bytes, b, 1, y, offset)), SIMD8(repeating: s[1]))
            acc2 = acc2.addingProduct(tinylm_float_i32(unpackedLanes(F.self, bytes, b, 2, y, offset)), SIMD8(repeating: s[2]))
            acc3 = acc3.addingProduct(tinylm_float_i32(unpackedLanes(F.self, bytes, b, 3, y, offset)), SIMD8(repeating: s[3]))
            if F.isAffine { minSums.add(scales[2 * b + 1], act.s[b]) }
        }
        let m = F.isAffine ? minSums.value : SIMD4<Float>()
        out[0] = LaneMath.horizontalSum(acc0) + m[0]
        out[1] = LaneMath.horizontalSum(acc1) + m[1]
        out[2] = LaneMath.horizontalSum(acc2) + m[2]
        out[3] = LaneMath.horizontalSum(acc3) + m[3]
    }

    @inline(__always)
    static func tokenBlockwise<F: AVX2Block32Format>(_: F.Type, _ bytes: UnsafeMutablePointer<SIMD32<UInt8>>, _ scales: UnsafeMutablePointer<SIMD4<Float>>,
                                               _ blocks: Int, _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        var acc = SIMD4<Float>()
        for b in 0..<blocks {
            let y = UnsafeRawPointer(act.q8 + b * 32).loadUnaligned(as: SIMD32<Int8>.self)
            let offset = codeOffsetShare(F.self, y)
            let sums = AVX2Lanes.rowSums(unpackedLanes(F.self, bytes, b, 0, y, offset), unpackedLanes(F.self, bytes, b, 1, y, offset),
                                         unpackedLanes(F.self, bytes, b, 2, y, offset), unpackedLanes(F.self, bytes, b, 3, y, offset))
            acc = acc.addingProduct(tinylm_float4_i32(sums), scales[2 * b] * act.d[b])
        }
        for i in 0..<4 { out[i] = acc[i] }
    }

    /// Every row of `rows` against every token of the pass, four rows at a time: a batch
    /// unpacks each group once (`multiplyBatch`), a single token reads the blocks in place.
    /// `leftover` takes the rows of a last group of fewer than four.
    @inline(__always)
    static func multiply<F: AVX2Block32Format>(_: F.Type, _ job: KernelJob, rows: Range<Int>, leftover: (Range<Int>) -> Void) {
        if job.batch >= 2 {
            multiplyBatch(F.self, job, rows: rows, leftover: leftover)
            return
        }
        let blocks = job.blocks, rowBytes = job.rowBytes
        let act = job.activations(0)
        let vecDot = job.order(ofToken: 0) == .vecDot
        var r = rows.lowerBound
        while r + 4 <= rows.upperBound {
            if vecDot {
                vecDot4(F.self, job.row(r), rowBytes, blocks, act, job.results(0, r))
            } else {
                blockwise4(F.self, job.row(r), rowBytes, blocks, act, job.results(0, r))
            }
            r += 4
        }
        if r < rows.upperBound { leftover(r..<rows.upperBound) }
    }
}
#endif
