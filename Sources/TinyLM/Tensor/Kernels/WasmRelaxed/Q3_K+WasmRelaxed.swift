// Q3_K's relaxed-SIMD kernels (wasm): vec_dot (fewer than 8 tokens: every decode step) row by
// row, and the tiled order (batches of 8+) four rows at a time. The stored code q2 | high << 2
// (0…7) is the 0…127 operand of i16x8.relaxed_dot_i8x16_i7x16 (pmaddubsw); value = code − 4,
// and i32x4.dot_i16x8 (pmaddwd) applies each 16 values' scale s − 32. vec_dot keeps each
// value's −4 inside its own lane, as ggml's x86 kernel does (a second pmaddubsw of the
// activations against 4, subtracted from the pair sums); the tiled order needs only the whole
// sum, so there the −4 comes from the Q8_K sums of 16 (Q3_K.Reference.vecDot,
// ReferenceOrders.tiled).

#if TINYLM_RELAXED_SIMD
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q3_K {
    enum WasmRelaxed: WasmRelaxedTiledOnlyKernels {
        static func fallback(_ job: KernelJob, rows: Range<Int>) { Q3_K.SIMD128.multiply(job, rows: rows) }

        /// One row in the vec_dot order: eight lanes, acc[l] = fma(d_a·d_w, lane l, acc[l]).
        static func vecDot(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
            let table = WasmHalfTable.current
            var low = SIMD4<Float>(), high = SIMD4<Float>()
            for b in 0..<blocks {
                let w = row + b * Q3_K.blockBytes
                let lanes = blockLanes(w, UnsafeRawPointer(act.q8 + b * 256), signedScales(w), offsetInLanes: true)
                let d = SIMD4(repeating: act.d[b] * WasmHalfTable.convert(table, w + 108))
                low = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(lanes.low), d, low)
                high = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(lanes.high), d, high)
            }
            return LaneMath.horizontalSum(SIMD8(lowHalf: low, highHalf: high))
        }

        /// Four rows against one token in the tiled order: per super-block and row the whole
        /// integer sum, acc = fma(isum·d_w, d_a, acc), the four rows as one vector.
        static func tiled4(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, _ act: Q8Activations,
                           _ out: UnsafeMutablePointer<Float>) {
            let table = WasmHalfTable.current
            var acc = SIMD4<Float>()
            for b in 0..<blocks {
                let w = rows + b * Q3_K.blockBytes
                let y = UnsafeRawPointer(act.q8 + b * 256), sums = UnsafeRawPointer(act.bsums + b * 16)
                let isum = transposedSum(rowSum(w, y, sums), rowSum(w + rowBytes, y, sums),
                                         rowSum(w + 2 * rowBytes, y, sums), rowSum(w + 3 * rowBytes, y, sums))
                acc = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(isum) * WasmHalfTable.convert4(table, w + 108, rowBytes), SIMD4(repeating: act.d[b]), acc)
            }
            out[0] = acc[0]
            out[1] = acc[1]
            out[2] = acc[2]
            out[3] = acc[3]
        }

        /// One row's Σ_c (s_c − 32)·Σ (code − 4)·a over a super-block as four Int32 partial
        /// sums: Σ_c (s_c − 32)·Σ code·a − 4·Σ_c (s_c − 32)·T_c, T the Q8_K sums of 16
        /// (|T| ≤ 16·127: Int16).
        @inline(__always)
        static func rowSum(_ w: UnsafeRawPointer, _ y: UnsafeRawPointer, _ sums: UnsafeRawPointer) -> SIMD4<Int32> {
            let scales = signedScales(w)
            let lanes = blockLanes(w, y, scales, offsetInLanes: false)
            let sumsLow = tinylm_narrow_i32(sums.loadUnaligned(as: SIMD4<Int32>.self), sums.loadUnaligned(fromByteOffset: 16, as: SIMD4<Int32>.self))
            let sumsHigh = tinylm_narrow_i32(sums.loadUnaligned(fromByteOffset: 32, as: SIMD4<Int32>.self), sums.loadUnaligned(fromByteOffset: 48, as: SIMD4<Int32>.self))
            let offset = tinylm_dot_i16x8(scales.low, sumsLow) &+ tinylm_dot_i16x8(scales.high, sumsHigh)
            return lanes.low &+ lanes.high &- (offset &<< 2)
        }

        /// A super-block's eight vec_dot lanes: lanes 0–3 (`low`) hold the first 16 values of
        /// every 32, lanes 4–7 (`high`) the second 16, each times its scale s − 32. With
        /// `offsetInLanes` each value's −4 is in its lane (pair sums of code·a − 4·a: at most
        /// 2·127·7 + 4·2·127 in magnitude, Int16); without it the lanes hold Σ code·a only.
        @inline(__always)
        static func blockLanes(_ w: UnsafeRawPointer, _ y: UnsafeRawPointer, _ scales: (low: SIMD8<Int16>, high: SIMD8<Int16>),
                               offsetInLanes: Bool) -> (low: SIMD4<Int32>, high: SIMD4<Int32>) {
            let four = SIMD16<Int8>(repeating: 4)
            var low = SIMD4<Int32>(), high = SIMD4<Int32>()
            for g in 0..<8 {
                // Values 32g ..< 32g + 32: qs bits 2j of bytes 32n ..< 32n + 32, hmask bit g.
                let n = g >> 2, j = g & 3
                for half in 0..<2 {
                    let q = (w + 32 + 32 * n + 16 * half).loadUnaligned(as: SIMD8<UInt16>.self) &>> UInt16(truncatingIfNeeded: 2 * j)
                    let h = (w + 16 * half).loadUnaligned(as: SIMD8<UInt16>.self) &>> UInt16(truncatingIfNeeded: g)
                    let code = unsafeBitCast((q & 0x0303) | ((h & 0x0101) &<< 2), to: SIMD16<Int8>.self)
                    let a = (y + 32 * g + 16 * half).loadUnaligned(as: SIMD16<Int8>.self)
                    var pairs = tinylm_relaxed_dot2_i8_i7(a, code)
                    if offsetInLanes { pairs &-= tinylm_relaxed_dot2_i8_i7(a, four) }
                    let c = 2 * g + half
                    let products = tinylm_dot_i16x8(pairs, splatInt16Lane(c < 8 ? scales.low : scales.high, c & 7))
                    if half == 0 { low &+= products } else { high &+= products }
                }
            }
            return (low, high)
        }

        /// The sixteen scales s − 32 (−32…31), values 16c ..< 16c + 16 each: c < 8 in `low`.
        @inline(__always)
        static func signedScales(_ w: UnsafeRawPointer) -> (low: SIMD8<Int16>, high: SIMD8<Int16>) {
            let words = Q3_K.unpackScales(w + 96)
            let bytes = unsafeBitCast(SIMD2<UInt64>(words.low, words.high), to: SIMD16<Int8>.self)
            return (tinylm_extend_low_i8(bytes) &- 32, tinylm_extend_high_i8(bytes) &- 32)
        }
    }
}
#endif
