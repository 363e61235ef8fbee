// What the relaxed-SIMD kernels share (build flag TINYLM_RELAXED_SIMD, the
// tinylm-relaxed*.wasm modules). Two relaxed instructions carry the work, each used only where
// its result is not left to the engine:
// - i32x4.relaxed_dot_i8x16_i7x16_add_s sums four adjacent byte products per Int32 lane —
//   exactly ggml's lane. It is deterministic when the second operand is in 0…127: Q4_1's
//   nibbles are, and for Q8_0 the activations are split into positive and negative parts
//   (a token's decode) or x's sign is moved onto them (prompts, with |x| unpacked once;
//   ggml's quantizer keeps every |value| ≤ 127). On x86 engines lower it to ggml's own
//   vpmaddubsw + vpmaddwd.
// - f32x4.relaxed_madd is fused on FMA hardware and unfused elsewhere. WasmFusedMultiplyAdd
//   probes it once at startup; the kernels are generic over the multiply-add and run the
//   relaxed one only when the probe found it fused, otherwise the exact f64 form.
// Formats without a relaxed kernel here take their SIMD128 kernels in these modules too.

#if TINYLM_RELAXED_SIMD
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

/// acc + s·x per lane with one rounding to Float.
protocol WasmMultiplyAdd {
    static func apply(_ x: SIMD4<Float>, _ s: Float, _ acc: SIMD4<Float>) -> SIMD4<Float>
    /// The same with the scale already in every lane of `s`.
    static func apply(_ x: SIMD4<Float>, splat s: SIMD4<Float>, _ acc: SIMD4<Float>) -> SIMD4<Float>
}

/// f32x4.relaxed_madd, on machines where the startup probe found it fused.
enum RelaxedFusedMultiplyAdd: WasmMultiplyAdd {
    @inline(__always)
    static func apply(_ x: SIMD4<Float>, _ s: Float, _ acc: SIMD4<Float>) -> SIMD4<Float> {
        tinylm_relaxed_madd(x, SIMD4(repeating: s), acc)
    }

    @inline(__always)
    static func apply(_ x: SIMD4<Float>, splat s: SIMD4<Float>, _ acc: SIMD4<Float>) -> SIMD4<Float> {
        tinylm_relaxed_madd(x, s, acc)
    }
}

/// The product and sum formed in f64 and rounded once (machines without FMA hardware).
enum DoubleFusedMultiplyAdd: WasmMultiplyAdd {
    @inline(__always)
    static func apply(_ x: SIMD4<Float>, _ s: Float, _ acc: SIMD4<Float>) -> SIMD4<Float> {
        tinylm_fma_via_f64(x, s, acc)
    }

    @inline(__always)
    static func apply(_ x: SIMD4<Float>, splat s: SIMD4<Float>, _ acc: SIMD4<Float>) -> SIMD4<Float> {
        tinylm_fma_via_f64(x, s[0], acc)
    }
}

/// Int16 lane `index` of `v` in every lane (one swizzle): a K-quant's scale for pmaddwd.
@inline(__always)
func splatInt16Lane(_ v: SIMD8<Int16>, _ index: Int) -> SIMD8<Int16> {
    let pair = UInt16(truncatingIfNeeded: 2 * index) | UInt16(truncatingIfNeeded: 2 * index + 1) << 8
    return unsafeBitCast(tinylm_swizzle_i8(unsafeBitCast(v, to: SIMD16<Int8>.self), unsafeBitCast(SIMD8<UInt16>(repeating: pair), to: SIMD16<Int8>.self)),
                         to: SIMD8<Int16>.self)
}

/// A 32-value format's relaxed-SIMD kernels, as the driver below runs them.
protocol WasmRelaxedBlock32Format {
    /// Two rows (`rowBytes` apart) against one token's activations.
    static func dot2<M: WasmMultiplyAdd>(_: M.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                         _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>)
    /// Four rows (`rowBytes` apart) against one token: a format whose four-row pass does not
    /// spill v128 registers says so here (the default is two passes of `dot2`).
    static func dot4<M: WasmMultiplyAdd>(_: M.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                         _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>)
    /// Two rows unpacked for a batch into `unpacked`.
    static func unpack(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, into unpacked: WasmUnpackedPair)
    /// An unpacked pair of rows against one token's activations.
    static func unpackedDot<M: WasmMultiplyAdd>(_: M.Type, _ unpacked: WasmUnpackedPair, _ blocks: Int, _ act: Q8Activations,
                                                _ out: UnsafeMutablePointer<Float>)
}

extension WasmRelaxedBlock32Format {
    @inline(__always)
    static func dot4<M: WasmMultiplyAdd>(_: M.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                         _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        dot2(M.self, rows, rowBytes, blocks, act, out)
        dot2(M.self, rows + 2 * rowBytes, rowBytes, blocks, act, out + 2)
    }
}

/// A 32-value format whose decode runs one row per pass (Q4_1, Q5_0, Q8_0): a matrix's rows
/// are contiguous, so each pass continues the stream of weight loads the previous one left
/// off, which the hardware prefetcher follows; with two or four rows per pass every row but
/// the first started a cold stream each pass (perf: the kernels' hottest instructions
/// followed those rows' first loads; wasm has no prefetch instruction).
protocol WasmRelaxedOneRowFormat: WasmRelaxedBlock32Format {
    /// One row against one token: the steps of dot2's row 0.
    static func dot1<M: WasmMultiplyAdd>(_: M.Type, _ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations,
                                         _ out: UnsafeMutablePointer<Float>)
}

extension WasmRelaxedOneRowFormat {
    @inline(__always)
    static func dot4<M: WasmMultiplyAdd>(_: M.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                         _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        for row in 0..<4 { dot1(M.self, rows + row &* rowBytes, blocks, act, out + row) }
    }
}

/// Two rows unpacked for a batch: per block, eight byte vectors (the format says which) and
/// the block's converted f16 header(s), one SIMD4 per block.
struct WasmUnpackedPair {
    let bytes: UnsafeMutablePointer<SIMD16<Int8>>
    let headers: UnsafeMutablePointer<SIMD4<Float>>

    @inline(__always)
    static func lanes(_ y: SIMD16<Int8>, _ x: SIMD16<Int8>) -> SIMD4<Float> {
        tinylm_float_i32x4(tinylm_pair_sums_i16(tinylm_relaxed_dot2_i8_i7(y, x)))
    }
}

enum WasmRelaxedBlock32 {
    /// Every row of `rows` against every token of the pass. A batch unpacks each pair of rows
    /// once — bytes ready for the dot instruction, f16 scales as Floats — into this chunk's
    /// scratch slot (160 bytes per block) and runs every token over the copy, which stays in
    /// L1; a single token takes four rows at a time (`dot4`), for most formats as two passes of
    /// two: four rows' eight accumulators each, plus the activations and constants, are more
    /// v128 values than x86 has registers, and V8 then spills in the inner loop (perf: a third
    /// of the kernel's time went to stack moves); Q4_1 and Q8_0 run four passes of one, each
    /// continuing the weight stream the previous one left off. `leftover` takes rows that do not fill a group.
    static func multiply<F: WasmRelaxedBlock32Format>(_: F.Type, _ job: KernelJob, rows: Range<Int>, chunk: Int,
                                                leftover: (Range<Int>) -> Void) {
        let blocks = job.blocks, rowBytes = job.rowBytes
        let fused = WasmFusedMultiplyAdd.relaxedIsFused
        WasmHalfTable.prepare()  // (made at startup: one load and branch)
        if job.batch >= 2, let slot = job.scratch.unpackSlot(chunk) {
            let unpacked = WasmUnpackedPair(bytes: slot.assumingMemoryBound(to: SIMD16<Int8>.self),
                                            headers: (slot + 128 * blocks).assumingMemoryBound(to: SIMD4<Float>.self))
            var r = rows.lowerBound
            while r + 2 <= rows.upperBound {
                F.unpack(job.row(r), rowBytes, blocks, into: unpacked)
                for t in 0..<job.batch {
                    if fused { F.unpackedDot(RelaxedFusedMultiplyAdd.self, unpacked, blocks, job.activations(t), job.results(t, r)) }
                    else { F.unpackedDot(DoubleFusedMultiplyAdd.self, unpacked, blocks, job.activations(t), job.results(t, r)) }
                }
                r += 2
            }
            if r < rows.upperBound { leftover(r..<rows.upperBound) }
            return
        }
        var r = rows.lowerBound
        while r + 4 <= rows.upperBound {
            for t in 0..<job.batch {
                let first = job.row(r), results = job.results(t, r)
                if fused { F.dot4(RelaxedFusedMultiplyAdd.self, first, rowBytes, blocks, job.activations(t), results) }
                else { F.dot4(DoubleFusedMultiplyAdd.self, first, rowBytes, blocks, job.activations(t), results) }
            }
            r += 4
        }
        if r < rows.upperBound { leftover(r..<rows.upperBound) }
    }

    /// body(0), body(1), … body(blocks − 1), two per loop iteration: the loop's own
    /// instructions are a noticeable share of a block's ~25 (decode: 6% faster).
    @inline(__always)
    static func forEachBlock(_ blocks: Int, _ body: (Int) -> Void) {
        var b = 0
        while b + 2 <= blocks {
            body(b)
            body(b + 1)
            b += 2
        }
        if b < blocks { body(b) }
    }

    /// body(w, y, d, s) for blocks 0, 1, … blocks − 1, two per loop iteration: block b's
    /// weights at rows + b·blockBytes, its activations at y + b·activationBytes, its entry of
    /// a Float array at d + b and of a second array at s + b·sBytes (Floats by default). The
    /// four pointers are hidden from LLVM's loop optimizations once per iteration
    /// (tinylm_hide_address), so both blocks' fields are constant offsets inside their loads. Loop strength reduction otherwise adds them to its
    /// induction variables without the no-wrap flag that lets LLVM move them into the loads'
    /// offset field, and V8 spends a `lea` on each (Q4_1's decode: 24 of 128 instructions per
    /// two blocks of two rows; Q8_0's: 39 of 236 per two blocks of four).
    @inline(__always)
    static func forEachBlockAt(_ rows: UnsafeRawPointer, blockBytes: Int, _ y: UnsafeRawPointer, activationBytes: Int,
                               _ d: UnsafePointer<Float>, _ s: UnsafeRawPointer, sBytes: Int = 4, _ blocks: Int,
                               _ body: (UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer) -> Void) {
        var w = rows, y = y, d = UnsafeRawPointer(d), s = s
        var b = 0
        while b &+ 2 <= blocks {
            let hw = tinylm_hide_address(w), hy = tinylm_hide_address(y), hd = tinylm_hide_address(d), hs = tinylm_hide_address(s)
            body(hw, hy, hd, hs)
            body(hw + blockBytes, hy + activationBytes, hd + 4, hs + sBytes)
            w += 2 &* blockBytes; y += 2 &* activationBytes; d += 8; s += 2 &* sBytes
            b &+= 2
        }
        if b < blocks { body(w, y, d, s) }
    }

    /// body(b, d₀, d₁) for every block b of two rows (`rowBytes` apart) of a format whose
    /// blocks start with an f16 scale d (converted by WasmHalfTable).
    @inline(__always)
    static func forEachBlockScales(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, blockBytes: Int,
                                   _ body: (Int, Float, Float) -> Void) {
        let table = UnsafePointer(WasmHalfTable.values.unsafelyUnwrapped)
        forEachBlock(blocks) { b in
            let w = rows + b &* blockBytes
            body(b, WasmHalfTable.convert(table, w), WasmHalfTable.convert(table, w + rowBytes))
        }
    }

    /// The four 16-bit halves of two 32-bit words, one per lane (low half first).
    @inline(__always)
    static func halves(_ first: UInt32, _ second: UInt32) -> SIMD4<UInt32> {
        var words = SIMD4<UInt32>()
        words[0] = first
        words[1] = second
        return tinylm_widen_low_u16(unsafeBitCast(words, to: SIMD8<UInt16>.self))
    }
}
#endif
