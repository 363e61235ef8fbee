// The SIMD128 drivers of the 32-value formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): each format
// supplies its block's weights as value pairs (<Format>+SIMD128.swift); these loops add them
// in llama.cpp's orders (vec_dot's eight lanes; Q4_0's repacked one sum per block).

/// A 32-value format's weights as the SIMD128 kernels take them.
protocol SIMD128PairedBlocks {
    static var blockBytes: Int { get }
    /// A block's 32 integer values (q − offset for the symmetric formats) as value pairs.
    static func pairs(_ block: UnsafeRawPointer) -> WeightPairs
}

enum SIMD128Block32 {
    /// Every row of `rows` times every token of the pass, four rows at a time (missing rows at
    /// the end go as a smaller group): `body(row, count, token)`. The group's bytes stay in L1
    /// while the tokens pass over them; four rows share each activation load.
    @inline(__always)
    static func forEachGroup(_ job: KernelJob, rows: Range<Int>, _ body: (_ row: Int, _ count: Int, _ token: Int) -> Void) {
        var r = rows.lowerBound
        while r < rows.upperBound {
            let count = Swift.min(4, rows.upperBound - r)
            for t in 0..<job.batch { body(r, count, t) }
            r += count
        }
    }

    /// vec_dot of up to four rows of a format with one f16 scale per block (Q4_0, Q5_0, Q8_0).
    @inline(__always)
    static func symmetric<F: SIMD128PairedBlocks>(_: F.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ count: Int, _ blocks: Int,
                                                  _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        if count < 4 {
            for i in 0..<count {
                var acc = SIMD8<Float>()
                let row = rows + i * rowBytes
                for b in 0..<blocks {
                    let w = row + b * F.blockBytes
                    acc = LaneMath.fusedMultiplyAdd(loadF16(w, 0) * act.d[b], blockLanes(F.pairs(w), ActivationPairs(act.planes + b * 32)), acc)
                }
                out[i] = LaneMath.horizontalSum(acc)
            }
            return
        }
        #if arch(wasm32) && !TINYLM_RELAXED_SIMD
        for row in 0..<4 { symmetric1(F.self, rows + row &* rowBytes, blocks, act, out + row) }
        return
        #endif
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        for b in 0..<blocks {
            let a = ActivationPairs(act.planes + b * 32)
            let w = rows + b * F.blockBytes
            // The f16 scale opens every block of these formats: the four rows' scales convert together.
            let scales = FP16.toFloat4(headerHalves4(w, rowBytes)) * act.d[b]
            acc0 = LaneMath.fusedMultiplyAdd(scales[0], blockLanes(F.pairs(w), a), acc0)
            acc1 = LaneMath.fusedMultiplyAdd(scales[1], blockLanes(F.pairs(w + rowBytes), a), acc1)
            acc2 = LaneMath.fusedMultiplyAdd(scales[2], blockLanes(F.pairs(w + 2 * rowBytes), a), acc2)
            acc3 = LaneMath.fusedMultiplyAdd(scales[3], blockLanes(F.pairs(w + 3 * rowBytes), a), acc3)
        }
        out[0] = LaneMath.horizontalSum(acc0)
        out[1] = LaneMath.horizontalSum(acc1)
        out[2] = LaneMath.horizontalSum(acc2)
        out[3] = LaneMath.horizontalSum(acc3)
    }

    /// vec_dot of up to four rows of an affine format (Q4_1, Q5_1: f16 d and m per block)
    /// against Q8_1 activations.
    @inline(__always)
    static func affine<F: SIMD128PairedBlocks>(_: F.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ count: Int, _ blocks: Int,
                                               _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        if count < 4 {
            for i in 0..<count {
                let row = rows + i * rowBytes
                var acc = SIMD8<Float>()
                var minSum: Float = 0
                for b in 0..<blocks {
                    let w = row + b * F.blockBytes
                    acc = LaneMath.fusedMultiplyAdd(loadF16(w, 0) * act.d[b], blockLanes(F.pairs(w), ActivationPairs(act.planes + b * 32)), acc)
                    minSum = LaneMath.fusedMultiplyAdd(loadF16(w, 2), act.s[b], minSum)
                }
                out[i] = LaneMath.horizontalSum(acc) + minSum
            }
            return
        }
        #if arch(wasm32) && !TINYLM_RELAXED_SIMD
        for row in 0..<4 { affine1(F.self, rows + row &* rowBytes, blocks, act, out + row) }
        return
        #endif
        // Four rows unrolled, so the accumulators stay in registers; the four rows' f16 scales
        // are converted together.
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        var minSums = MinSums()
        for b in 0..<blocks {
            let a = ActivationPairs(act.planes + b * 32)
            let w = rows + b * F.blockBytes
            let words = headerWords4(w, rowBytes)
            let scales = FP16.toFloat4(words & 0xFFFF) * act.d[b]   // d_w·d_a, rounded to Float
            acc0 = LaneMath.fusedMultiplyAdd(scales[0], blockLanes(F.pairs(w), a), acc0)
            acc1 = LaneMath.fusedMultiplyAdd(scales[1], blockLanes(F.pairs(w + rowBytes), a), acc1)
            acc2 = LaneMath.fusedMultiplyAdd(scales[2], blockLanes(F.pairs(w + 2 * rowBytes), a), acc2)
            acc3 = LaneMath.fusedMultiplyAdd(scales[3], blockLanes(F.pairs(w + 3 * rowBytes), a), acc3)
            minSums.add(FP16.toFloat4(words &>> 16), act.s[b])
        }
        let m = minSums.value
        out[0] = LaneMath.horizontalSum(acc0) + m[0]
        out[1] = LaneMath.horizontalSum(acc1) + m[1]
        out[2] = LaneMath.horizontalSum(acc2) + m[2]
        out[3] = LaneMath.horizontalSum(acc3) + m[3]
    }

    #if arch(wasm32) && !TINYLM_RELAXED_SIMD
    // The plain wasm modules run a token's four rows as four passes of one. Four rows at once
    // keep eight accumulators, the activations and the constants in more v128 values than x86
    // has registers, and V8 spills inside the loop; two rows per pass (as before) started the
    // second row's weight stream cold every pass (a row of SmolLM2's Q4_1 matrices is under
    // six cache lines and wasm has no prefetch). The rows are contiguous, so each one-row pass
    // continues the stream the previous one left off, which the hardware prefetcher follows.
    // The arithmetic per row is the two-row passes': the same scale products and f64-formed
    // fused sums.

    /// body(w, a, d, s) for blocks 0, 1, … blocks − 1 of one row, two per loop iteration:
    /// block b's weights at row + b·blockBytes, its activation planes at planes + b·64 bytes,
    /// its activation scale and Q8_1 sum at d + b and s + b. The pointers are hidden from LLVM's
    /// loop optimizations once per iteration (tinylm_hide_address) so that both blocks' fields
    /// stay constant offsets inside the wasm loads, as in WasmRelaxedBlock32.forEachBlockAt.
    @inline(__always)
    static func forEachBlockAt(_ row: UnsafeRawPointer, blockBytes: Int, _ act: Q8Activations, _ blocks: Int,
                               _ body: (_ w: UnsafeRawPointer, _ a: UnsafePointer<Int16>, _ d: Float, _ s: UnsafeRawPointer) -> Void) {
        var w = row, a = UnsafeRawPointer(act.planes), d = UnsafeRawPointer(act.d), s = UnsafeRawPointer(act.s)
        var b = 0
        while b &+ 2 <= blocks {
            let hw = tinylm_hide_address(w), ha = tinylm_hide_address(a), hd = tinylm_hide_address(d), hs = tinylm_hide_address(s)
            body(hw, ha.assumingMemoryBound(to: Int16.self), hd.load(as: Float.self), hs)
            body(hw + blockBytes, (ha + 64).assumingMemoryBound(to: Int16.self), hd.load(fromByteOffset: 4, as: Float.self), hs + 4)
            w += 2 &* blockBytes; a += 128; d += 8; s += 8
            b &+= 2
        }
        if b < blocks { body(w, a.assumingMemoryBound(to: Int16.self), d.load(as: Float.self), s) }
    }

    /// vec_dot of one row of a symmetric format against one token.
    @inline(__always)
    static func symmetric1<F: SIMD128PairedBlocks>(_: F.Type, _ row: UnsafeRawPointer, _ blocks: Int,
                                                   _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        var acc = SIMD8<Float>()
        forEachBlockAt(row, blockBytes: F.blockBytes, act, blocks) { w, a, d, _ in
            let scale = FP16.toFloat(w.loadUnaligned(as: UInt16.self)) * d
            acc = LaneMath.fusedMultiplyAdd(scale, blockLanes(F.pairs(w), ActivationPairs(a)), acc)
        }
        out[0] = LaneMath.horizontalSum(acc)
    }

    /// vec_dot of one row of an affine format against one token.
    @inline(__always)
    static func affine1<F: SIMD128PairedBlocks>(_: F.Type, _ row: UnsafeRawPointer, _ blocks: Int,
                                                _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        var acc = SIMD8<Float>()
        var minSums = SIMD4<Float>()   // lane 1
        forEachBlockAt(row, blockBytes: F.blockBytes, act, blocks) { w, a, d, s in
            let h = w.loadUnaligned(as: UInt32.self)
            // d and m converted together.
            let header = FP16.toFloat4(SIMD4(h & 0xFFFF, h &>> 16, 0, 0))
            acc = LaneMath.fusedMultiplyAdd(header[0] * d, blockLanes(F.pairs(w), ActivationPairs(a)), acc)
            minSums = WasmFusedMultiplyAdd.apply(header, s.load(as: Float.self), minSums)   // as MinSums
        }
        out[0] = LaneMath.horizontalSum(acc) + minSums[1]
    }

    /// vec_dot of a symmetric (Q5_0, Q8_0) or affine (Q4_1, Q5_1) format over a batch, in the
    /// plain wasm modules: each pair of rows is unpacked once into this chunk's scratch slot
    /// (per block both rows' value pairs, 128 bytes, then the four f16 header halves as
    /// Floats) and every token runs over that copy from L1, instead of unpacking the nibbles
    /// and converting the scales again per token. Returns the rows it left (fewer than two, or
    /// all of them when there is no slot).
    static func multiplyUnpacked<F: SIMD128PairedBlocks>(_: F.Type, affine: Bool, _ job: KernelJob, rows: Range<Int>,
                                                         chunk: Int) -> Range<Int> {
        guard job.batch >= 2, chunk >= 0, let slot = job.scratch.unpackSlot(chunk) else { return rows }
        let blocks = job.blocks, rowBytes = job.rowBytes
        let headers = (slot + 128 * blocks).assumingMemoryBound(to: SIMD4<Float>.self)
        var r = rows.lowerBound
        while r + 2 <= rows.upperBound {
            let first = job.row(r)
            for b in 0..<blocks {
                let w = first + b * F.blockBytes
                let h0 = w.loadUnaligned(as: UInt16.self), h1 = (w + rowBytes).loadUnaligned(as: UInt16.self)
                let m0: UInt16 = affine ? w.loadUnaligned(fromByteOffset: 2, as: UInt16.self) : 0
                let m1: UInt16 = affine ? (w + rowBytes).loadUnaligned(fromByteOffset: 2, as: UInt16.self) : 0
                headers[b] = FP16.toFloat4(SIMD4(UInt32(h0), UInt32(h1), UInt32(m0), UInt32(m1)))
                let p0 = F.pairs(w), p1 = F.pairs(w + rowBytes), out = slot + 128 * b
                out.storeBytes(of: p0.even, as: SIMD16<Int16>.self)
                out.storeBytes(of: p0.odd, toByteOffset: 32, as: SIMD16<Int16>.self)
                out.storeBytes(of: p1.even, toByteOffset: 64, as: SIMD16<Int16>.self)
                out.storeBytes(of: p1.odd, toByteOffset: 96, as: SIMD16<Int16>.self)
            }
            for t in 0..<job.batch {
                unpackedDot2(UnsafeRawPointer(slot), headers, blocks, affine: affine, job.activations(t), job.results(t, r))
            }
            r += 2
        }
        return r..<rows.upperBound
    }

    /// An unpacked pair of rows against one token.
    @inline(__always)
    static func unpackedDot2(_ slot: UnsafeRawPointer, _ headers: UnsafePointer<SIMD4<Float>>, _ blocks: Int, affine: Bool,
                             _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var minSums = SIMD4<Float>()   // lanes 2 and 3
        for b in 0..<blocks {
            let a = ActivationPairs(act.planes + b * 32)
            let header = headers[b]
            let scales = header * act.d[b]
            let p = slot + 128 * b
            let w0 = WeightPairs(even: p.loadUnaligned(as: SIMD16<Int16>.self), odd: p.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int16>.self))
            acc0 = LaneMath.fusedMultiplyAdd(scales[0], blockLanes(w0, a), acc0)
            let w1 = WeightPairs(even: p.loadUnaligned(fromByteOffset: 64, as: SIMD16<Int16>.self),
                                 odd: p.loadUnaligned(fromByteOffset: 96, as: SIMD16<Int16>.self))
            acc1 = LaneMath.fusedMultiplyAdd(scales[1], blockLanes(w1, a), acc1)
            if affine { minSums = WasmFusedMultiplyAdd.apply(header, act.s[b], minSums) }   // as MinSums
        }
        if affine {
            out[0] = LaneMath.horizontalSum(acc0) + minSums[2]
            out[1] = LaneMath.horizontalSum(acc1) + minSums[3]
        } else {
            out[0] = LaneMath.horizontalSum(acc0)
            out[1] = LaneMath.horizontalSum(acc1)
        }
    }
    #endif

    /// The rows `rows` of a vec_dot format: prompt batches of the plain wasm modules unpacked
    /// once per pair of rows (`multiplyUnpacked`), the rest by `group(row, count, token)`.
    @inline(__always)
    static func multiply<F: SIMD128PairedBlocks>(_: F.Type, affine: Bool, _ job: KernelJob, rows: Range<Int>, chunk: Int?,
                                                 _ group: (_ row: Int, _ count: Int, _ token: Int) -> Void) {
        var rest = rows
        #if arch(wasm32) && !TINYLM_RELAXED_SIMD
        if let chunk { rest = multiplyUnpacked(F.self, affine: affine, job, rows: rows, chunk: chunk) }
        #endif
        forEachGroup(job, rows: rest, group)
    }

    /// The repacked order of Q4_0 (GEMM and GEMV alike): per block the whole block's sum,
    /// acc = fma(sum, d_w·d_a, acc), for up to four rows advancing together (missing rows
    /// repeat the first and are dropped).
    @inline(__always)
    static func blockwise<F: SIMD128PairedBlocks>(_: F.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ count: Int, _ blocks: Int,
                                                  _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        let stride = count == 4 ? rowBytes : 0
        let p1 = count > 1 ? rows + rowBytes : rows
        let p2 = count > 2 ? rows + 2 * rowBytes : rows
        let p3 = count > 3 ? rows + 3 * rowBytes : rows
        var acc = SIMD4<Float>()
        for b in 0..<blocks {
            let a = ActivationPairs(act.planes + b * 32)
            let o = b * F.blockBytes
            let l0 = blockLaneSums(F.pairs(rows + o), a), l1 = blockLaneSums(F.pairs(p1 + o), a)
            let l2 = blockLaneSums(F.pairs(p2 + o), a), l3 = blockLaneSums(F.pairs(p3 + o), a)
            let sums = transposedSum(l0.lowHalf &+ l0.highHalf, l1.lowHalf &+ l1.highHalf,
                                     l2.lowHalf &+ l2.highHalf, l3.lowHalf &+ l3.highHalf)
            let halves = stride != 0 ? headerHalves4(rows + o, rowBytes)
                : SIMD4(UInt32((rows + o).loadUnaligned(as: UInt16.self)), UInt32((p1 + o).loadUnaligned(as: UInt16.self)),
                        UInt32((p2 + o).loadUnaligned(as: UInt16.self)), UInt32((p3 + o).loadUnaligned(as: UInt16.self)))
            acc = LaneMath.fusedMultiplyAdd(LaneMath.exactFloats(sums), FP16.toFloat4(halves) * act.d[b], acc)
        }
        for i in 0..<count { out[i] = acc[i] }
    }
}
