// Q6_K's relaxed-SIMD kernels (wasm): vec_dot (llama.cpp's order for fewer than 8 tokens: every
// decode step) row by row, and the tiled order (batches of 8+) four rows at a time, as ggml's
// x86 steps: the stored 6-bit q (0…63) is the 0…127 operand
// of i16x8.relaxed_dot_i8x16_i7x16 (pmaddubsw), i32x4.dot_i16x8 (pmaddwd) multiplies each
// 16 values' pair sums by their int8 scale, and the −32 offset is subtracted per lane from the
// Q8_K sums (Q6_K.Reference.vecDot).

#if TINYLM_RELAXED_SIMD
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q6_K {
    enum WasmRelaxed: WasmRelaxedTiledOnlyKernels {
        static func fallback(_ job: KernelJob, rows: Range<Int>) { Q6_K.SIMD128.multiply(job, rows: rows) }

        /// One row in the vec_dot order.
        static func vecDot(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
            let table = WasmHalfTable.current
            var low = SIMD4<Float>(), high = SIMD4<Float>()
            for b in 0..<blocks {
                let w = row + b * Q6_K.blockBytes
                let lanes = blockLanes(w, UnsafeRawPointer(act.q8 + b * 256), UnsafeRawPointer(act.bsums + b * 16))
                let d = SIMD4(repeating: act.d[b] * WasmHalfTable.convert(table, w + 208))
                low = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(lanes.0), d, low)
                high = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(lanes.1), d, high)
            }
            return LaneMath.horizontalSum(SIMD8(lowHalf: low, highHalf: high))
        }

        /// Four rows against one token in the tiled order (ReferenceOrders.tiled): the
        /// super-block's whole integer sum per row, the four rows' float steps as one vector.
        static func tiled4(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, _ act: Q8Activations,
                           _ out: UnsafeMutablePointer<Float>) {
            let table = WasmHalfTable.current
            var acc = SIMD4<Float>()
            for b in 0..<blocks {
                let w = rows + b * Q6_K.blockBytes
                let y = UnsafeRawPointer(act.q8 + b * 256), sums = UnsafeRawPointer(act.bsums + b * 16)
                let l0 = blockLanes(w, y, sums), l1 = blockLanes(w + rowBytes, y, sums)
                let l2 = blockLanes(w + 2 * rowBytes, y, sums), l3 = blockLanes(w + 3 * rowBytes, y, sums)
                let isum = transposedSum(l0.0 &+ l0.1, l1.0 &+ l1.1, l2.0 &+ l2.1, l3.0 &+ l3.1)
                acc = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(isum) * WasmHalfTable.convert4(table, w + 208, rowBytes), SIMD4(repeating: act.d[b]), acc)
            }
            out[0] = acc[0]
            out[1] = acc[1]
            out[2] = acc[2]
            out[3] = acc[3]
        }

        /// A super-block's eight vec_dot lanes (Q6_K.Reference.vecDot), the −32 offset
        /// included: lanes 0–3 hold the first 16 values of every 32 (scale 2g), lanes 4–7 the
        /// second 16 (scale 2g + 1).
        @inline(__always)
        static func blockLanes(_ w: UnsafeRawPointer, _ y: UnsafeRawPointer, _ sums: UnsafeRawPointer) -> (SIMD4<Int32>, SIMD4<Int32>) {
            let scaleBytes = w.loadUnaligned(fromByteOffset: 192, as: SIMD16<Int8>.self)
            let scales = (tinylm_extend_low_i8(scaleBytes), tinylm_extend_high_i8(scaleBytes))
            var lanesLow = SIMD4<Int32>(), lanesHigh = SIMD4<Int32>()
            @inline(__always) func group(_ g: Int, _ first: SIMD8<UInt16>, _ second: SIMD8<UInt16>, _ scales: SIMD8<Int16>) {
                let a = y + 32 * g
                let s = 2 * (g & 3)
                lanesLow &+= tinylm_dot_i16x8(tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(as: SIMD16<Int8>.self), unsafeBitCast(first, to: SIMD16<Int8>.self)),
                                              splatInt16Lane(scales, s))
                lanesHigh &+= tinylm_dot_i16x8(tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self), unsafeBitCast(second, to: SIMD16<Int8>.self)),
                                               splatInt16Lane(scales, s + 1))
            }
            for n in 0..<2 {
                let ql = w + 64 * n, qh = w + 128 + 32 * n
                let l00 = ql.loadUnaligned(as: SIMD8<UInt16>.self), l01 = ql.loadUnaligned(fromByteOffset: 16, as: SIMD8<UInt16>.self)
                let l10 = ql.loadUnaligned(fromByteOffset: 32, as: SIMD8<UInt16>.self), l11 = ql.loadUnaligned(fromByteOffset: 48, as: SIMD8<UInt16>.self)
                let h0 = qh.loadUnaligned(as: SIMD8<UInt16>.self), h1 = qh.loadUnaligned(fromByteOffset: 16, as: SIMD8<UInt16>.self)
                let nibble: SIMD8<UInt16> = SIMD8(repeating: 0x0F0F)
                let groupScales = n == 0 ? scales.0 : scales.1
                // q = low nibble | two high bits << 4, shifted as 16-bit lanes (no byte shifts
                // in wasm) with masks that keep each byte's bits in the byte.
                group(4 * n, (l00 & nibble) | ((h0 & 0x0303) &<< 4), (l01 & nibble) | ((h1 & 0x0303) &<< 4), groupScales)
                group(4 * n + 1, (l10 & nibble) | ((h0 & 0x0C0C) &<< 2), (l11 & nibble) | ((h1 & 0x0C0C) &<< 2), groupScales)
                group(4 * n + 2, ((l00 &>> 4) & nibble) | (h0 & 0x3030), ((l01 &>> 4) & nibble) | (h1 & 0x3030), groupScales)
                group(4 * n + 3, ((l10 &>> 4) & nibble) | ((h0 &>> 2) & 0x3030), ((l11 &>> 4) & nibble) | ((h1 &>> 2) & 0x3030), groupScales)
            }
            // The −32 offset: lane l takes 32·(scale[2l]·T_2l + scale[2l+1]·T_2l+1), T the Q8_K
            // sums of 16 (|T| ≤ 16·127: Int16).
            let sumsLow = tinylm_narrow_i32(sums.loadUnaligned(as: SIMD4<Int32>.self), sums.loadUnaligned(fromByteOffset: 16, as: SIMD4<Int32>.self))
            let sumsHigh = tinylm_narrow_i32(sums.loadUnaligned(fromByteOffset: 32, as: SIMD4<Int32>.self), sums.loadUnaligned(fromByteOffset: 48, as: SIMD4<Int32>.self))
            lanesLow &-= tinylm_dot_i16x8(scales.0, sumsLow) &<< 5
            lanesHigh &-= tinylm_dot_i16x8(scales.1, sumsHigh) &<< 5
            return (lanesLow, lanesHigh)
        }
    }
}
#endif
