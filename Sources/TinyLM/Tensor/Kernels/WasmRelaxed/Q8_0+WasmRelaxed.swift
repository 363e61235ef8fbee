// Q8_0's relaxed-SIMD kernels (wasm): vec_dot's lanes with i32x4.relaxed_dot_i8x16_i7x16, one
// row per decode pass, two per batch pass. Both operands are signed here, so a token's decode splits the activations into
// positive and negative parts and a batch moves x's sign onto them (|x| unpacked once).

#if TINYLM_RELAXED_SIMD
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q8_0 {
    enum WasmRelaxed: WasmRelaxedOneRowFormat {
        static func multiply(_ job: KernelJob, rows: Range<Int>, chunk: Int) {
            WasmRelaxedBlock32.multiply(Self.self, job, rows: rows, chunk: chunk) { Q8_0.SIMD128.multiply(job, rows: $0) }
        }

        /// Two rows of Q8_0. Both operands are signed here, so the activations are split
        /// into their positive and negative parts (each in 0…127: ggml's Q8 activations stay
        /// within ±127; once per token, Q8SignSplit) and x·y = x·y⁺ − x·y⁻, exactly. (Moving x's sign onto y instead, as
        /// ggml's vpsignb does, needs a byte compare that LLVM turns into an arithmetic byte
        /// shift, which x86 engines emulate in five instructions.)
        @inline(__always)
        static func dot2<M: WasmMultiplyAdd>(_: M.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                             _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
            var low0 = SIMD4<Float>(), high0 = SIMD4<Float>(), low1 = SIMD4<Float>(), high1 = SIMD4<Float>()
            @inline(__always) func block(_ b: Int, _ d0: Float, _ d1: Float) {
                let (positive0, negative0, positive1, negative1) = Q8SignSplit.block(act.split, b)
                let w = rows + b &* 34
                var lanes = splitLanes(w, positive0, negative0, positive1, negative1)
                let scale0 = d0 * act.d[b], scale1 = d1 * act.d[b]
                low0 = M.apply(lanes.0, scale0, low0); high0 = M.apply(lanes.1, scale0, high0)
                lanes = splitLanes(w + rowBytes, positive0, negative0, positive1, negative1)
                low1 = M.apply(lanes.0, scale1, low1); high1 = M.apply(lanes.1, scale1, high1)
            }
            WasmRelaxedBlock32.forEachBlockScales(rows, rowBytes, blocks, blockBytes: 34, block)
            out[0] = LaneMath.horizontalSum(SIMD8(lowHalf: low0, highHalf: high0))
            out[1] = LaneMath.horizontalSum(SIMD8(lowHalf: low1, highHalf: high1))
        }

        /// One row against one token, with the activations' split read from memory (L1); the
        /// steps of dot2's row 0.
        @inline(__always)
        static func dot1<M: WasmMultiplyAdd>(_: M.Type, _ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations,
                                             _ out: UnsafeMutablePointer<Float>) {
            var low = SIMD4<Float>(), high = SIMD4<Float>()
            let table = UnsafePointer(WasmHalfTable.values.unsafelyUnwrapped)
            WasmRelaxedBlock32.forEachBlockAt(row, blockBytes: 34, UnsafeRawPointer(act.split), activationBytes: 64, act.d, act.d, blocks) { w, split, d, _ in
                let (positive0, negative0, positive1, negative1) = Q8SignSplit.block(at: split)
                let lanes = splitLanes(w, positive0, negative0, positive1, negative1)
                let scale = WasmHalfTable.convert(table, w) * d.loadUnaligned(as: Float.self)
                low = M.apply(lanes.0, scale, low); high = M.apply(lanes.1, scale, high)
            }
            out[0] = LaneMath.horizontalSum(SIMD8(lowHalf: low, highHalf: high))
        }

        /// Per block: row 0's |x| halves and sign masks, row 1's; the header d₀, 0, d₁, 0.
        static func unpack(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, into unpacked: WasmUnpackedPair) {
            let headers = unpacked.headers, bytes = unpacked.bytes
            for b in 0..<blocks {
                let w = rows + b * 34
                headers[b] = FP16.toFloat4(WasmRelaxedBlock32.halves(UInt32(w.loadUnaligned(as: UInt16.self)), UInt32((w + rowBytes).loadUnaligned(as: UInt16.self))))
                for row in 0..<2 {
                    for half in 0..<2 {
                        let x = (w + row * rowBytes).loadUnaligned(fromByteOffset: 2 + 16 * half, as: SIMD16<Int8>.self)
                        let sign = x &>> 7   // −1 where x < 0, else 0
                        bytes[8 * b + 4 * row + half] = (x ^ sign) &- sign
                        bytes[8 * b + 4 * row + 2 + half] = sign
                    }
                }
            }
        }

        @inline(__always)
        static func unpackedDot<M: WasmMultiplyAdd>(_: M.Type, _ unpacked: WasmUnpackedPair, _ blocks: Int, _ act: Q8Activations,
                                                    _ out: UnsafeMutablePointer<Float>) {
            let headers = unpacked.headers, bytes = unpacked.bytes
            var low0 = SIMD4<Float>(), high0 = SIMD4<Float>(), low1 = SIMD4<Float>(), high1 = SIMD4<Float>()
            @inline(__always) func block(_ b: Int) {
                let y = UnsafeRawPointer(act.q8 + b * 32)
                let y0 = y.loadUnaligned(as: SIMD16<Int8>.self), y1 = y.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self)
                let scales = headers[b] * act.d[b]
                let scale0 = tinylm_splat_lane0(scales), scale1 = tinylm_splat_lane2(scales)
                let x = bytes + 8 * b
                low0 = M.apply(WasmUnpackedPair.lanes((y0 ^ x[2]) &- x[2], x[0]), splat: scale0, low0)
                high0 = M.apply(WasmUnpackedPair.lanes((y1 ^ x[3]) &- x[3], x[1]), splat: scale0, high0)
                low1 = M.apply(WasmUnpackedPair.lanes((y0 ^ x[6]) &- x[6], x[4]), splat: scale1, low1)
                high1 = M.apply(WasmUnpackedPair.lanes((y1 ^ x[7]) &- x[7], x[5]), splat: scale1, high1)
            }
            WasmRelaxedBlock32.forEachBlock(blocks, block)
            out[0] = LaneMath.horizontalSum(SIMD8(lowHalf: low0, highHalf: high0))
            out[1] = LaneMath.horizontalSum(SIMD8(lowHalf: low1, highHalf: high1))
        }

        /// Q8_0's 32 signed quants (at offset 2) against y = y⁺ − y⁻: the pair sums of x·y⁺ and
        /// of x·y⁻ (i16x8.relaxed_dot: pmaddubsw) are each within ±2·127², and so is their
        /// difference, x·y's pair sum, which the Int16 subtraction gives exactly; widened to
        /// ggml's four-value lanes by one pmaddwd (i32x4.extadd_pairwise).
        @inline(__always)
        static func splitLanes(_ block: UnsafeRawPointer, _ positive0: SIMD16<Int8>, _ negative0: SIMD16<Int8>,
                               _ positive1: SIMD16<Int8>, _ negative1: SIMD16<Int8>) -> (SIMD4<Float>, SIMD4<Float>) {
            let x0 = block.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)
            let x1 = block.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)
            let low = tinylm_relaxed_dot2_i8_i7(x0, positive0) &- tinylm_relaxed_dot2_i8_i7(x0, negative0)
            let high = tinylm_relaxed_dot2_i8_i7(x1, positive1) &- tinylm_relaxed_dot2_i8_i7(x1, negative1)
            return (tinylm_float_i32x4(tinylm_pair_sums_i16(low)), tinylm_float_i32x4(tinylm_pair_sums_i16(high)))
        }
    }
}
#endif
