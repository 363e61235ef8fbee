// Q6_K's relaxed-SIMD kernel (wasm): vec_dot (llama.cpp's order for fewer than 8 tokens: every
// decode step) row by row, as ggml's x86 steps: the stored 6-bit q (0…63) is the 0…127 operand
// of i16x8.relaxed_dot_i8x16_i7x16 (pmaddubsw), i32x4.dot_i16x8 (pmaddwd) multiplies each
// 16 values' pair sums by their int8 scale, and the −32 offset is subtracted per lane from the
// Q8_K sums (Q6_K.Reference.vecDot). The tiled order (batches of 8+) takes the SIMD128 kernel.

#if TINYLM_RELAXED_SIMD
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q6_K {
    enum WasmRelaxed {
        static func multiply(_ job: KernelJob, rows: Range<Int>, chunk: Int) {
            guard job.allTokens(take: .vecDot) else {
                Q6_K.SIMD128.multiply(job, rows: rows)
                return
            }
            let blocks = job.blocks
            for t in 0..<job.batch {
                let act = job.activations(t), results = job.results(t, rows.lowerBound)
                for r in rows { results[r - rows.lowerBound] = vecDot(job.row(r), blocks, act) }
            }
        }

        /// One row in the vec_dot order.
        static func vecDot(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
            var low = SIMD4<Float>(), high = SIMD4<Float>()
            for b in 0..<blocks {
                let w = row + b * Q6_K.blockBytes
                let y = UnsafeRawPointer(act.q8 + b * 256)
                let scaleBytes = w.loadUnaligned(fromByteOffset: 192, as: SIMD16<Int8>.self)
                let scales = (tinylm_extend_low_i8(scaleBytes), tinylm_extend_high_i8(scaleBytes))
                // Lanes 0–3: the first 16 values of every 32 (scale 2g), lanes 4–7 the second 16
                // (scale 2g + 1).
                var lanesLow = SIMD4<Int32>(), lanesHigh = SIMD4<Int32>()
                @inline(__always) func group(_ g: Int, _ first: SIMD8<UInt16>, _ second: SIMD8<UInt16>, _ scales: SIMD8<Int16>) {
                    let a = y + 32 * g
                    let s = 2 * (g & 3)
                    lanesLow &+= tinylm_dot_i16x8(tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(as: SIMD16<Int8>.self), unsafeBitCast(first, to: SIMD16<Int8>.self)),
                                                  splatLane(scales, s))
                    lanesHigh &+= tinylm_dot_i16x8(tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self), unsafeBitCast(second, to: SIMD16<Int8>.self)),
                                                   splatLane(scales, s + 1))
                }
                for n in 0..<2 {
                    let ql = w + 64 * n, qh = w + 128 + 32 * n
                    let l00 = ql.loadUnaligned(as: SIMD8<UInt16>.self), l01 = ql.loadUnaligned(fromByteOffset: 16, as: SIMD8<UInt16>.self)
                    let l10 = ql.loadUnaligned(fromByteOffset: 32, as: SIMD8<UInt16>.self), l11 = ql.loadUnaligned(fromByteOffset: 48, as: SIMD8<UInt16>.self)
                    let h0 = qh.loadUnaligned(as: SIMD8<UInt16>.self), h1 = qh.loadUnaligned(fromByteOffset: 16, as: SIMD8<UInt16>.self)
                    let nibble: SIMD8<UInt16> = SIMD8(repeating: 0x0F0F)
                    let groupScales = n == 0 ? scales.0 : scales.1
                    // q = low nibble | two high bits << 4, shifted as 16-bit lanes (no byte
                    // shifts in wasm) with masks that keep each byte's bits in the byte.
                    group(4 * n, (l00 & nibble) | ((h0 & 0x0303) &<< 4), (l01 & nibble) | ((h1 & 0x0303) &<< 4), groupScales)
                    group(4 * n + 1, (l10 & nibble) | ((h0 & 0x0C0C) &<< 2), (l11 & nibble) | ((h1 & 0x0C0C) &<< 2), groupScales)
                    group(4 * n + 2, ((l00 &>> 4) & nibble) | (h0 & 0x3030), ((l01 &>> 4) & nibble) | (h1 & 0x3030), groupScales)
                    group(4 * n + 3, ((l10 &>> 4) & nibble) | ((h0 &>> 2) & 0x3030), ((l11 &>> 4) & nibble) | ((h1 &>> 2) & 0x3030), groupScales)
                }
                // The −32 offset: lane l takes 32·(scale[2l]·T_2l + scale[2l+1]·T_2l+1), T the
                // Q8_K sums of 16 (|T| ≤ 16·127: Int16).
                let sums = UnsafeRawPointer(act.bsums + b * 16)
                let sumsLow = tinylm_narrow_i32(sums.loadUnaligned(as: SIMD4<Int32>.self), sums.loadUnaligned(fromByteOffset: 16, as: SIMD4<Int32>.self))
                let sumsHigh = tinylm_narrow_i32(sums.loadUnaligned(fromByteOffset: 32, as: SIMD4<Int32>.self), sums.loadUnaligned(fromByteOffset: 48, as: SIMD4<Int32>.self))
                lanesLow &-= tinylm_dot_i16x8(scales.0, sumsLow) &<< 5
                lanesHigh &-= tinylm_dot_i16x8(scales.1, sumsHigh) &<< 5
                let d = SIMD4(repeating: act.d[b] * FP16.toFloat(w.loadUnaligned(fromByteOffset: 208, as: UInt16.self)))
                low = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(lanesLow), d, low)
                high = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(lanesHigh), d, high)
            }
            return LaneMath.horizontalSum(SIMD8(lowHalf: low, highHalf: high))
        }

        /// Int16 lane `index` of `v` in every lane (one swizzle).
        @inline(__always)
        static func splatLane(_ v: SIMD8<Int16>, _ index: Int) -> SIMD8<Int16> {
            let pair = UInt16(truncatingIfNeeded: 2 * index) | UInt16(truncatingIfNeeded: 2 * index + 1) << 8
            return unsafeBitCast(tinylm_swizzle_i8(unsafeBitCast(v, to: SIMD16<Int8>.self), unsafeBitCast(SIMD8<UInt16>(repeating: pair), to: SIMD16<Int8>.self)),
                                 to: SIMD8<Int16>.self)
        }
    }
}
#endif
