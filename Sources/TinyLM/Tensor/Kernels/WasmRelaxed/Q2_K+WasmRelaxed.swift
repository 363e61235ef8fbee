// Q2_K's relaxed-SIMD kernels (wasm), in all four of llama.cpp's orders: vec_dot (fewer than
// 8 tokens) row by row; the repacked GEMV (matrices whose row count is a multiple of 8: every
// decode step of such a model), the repacked GEMM (per 128 values: prompts in groups of four
// tokens) and the tiled order (batches of 8+ otherwise) four rows at a time. The 2-bit q
// (0…3) is the 0…127 operand of i16x8.relaxed_dot_i8x16_i7x16 (pmaddubsw); i32x4.dot_i16x8
// (pmaddwd) applies each 16 values' 4-bit scale, and again multiplies the 4-bit mins by the
// Q8_K sums of 16. The sums are exact integers, so the float steps are the SIMD128 kernel's
// (Q2_K.Reference). Passes that mix orders and leftover rows take the SIMD128 kernel.

#if TINYLM_RELAXED_SIMD
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q2_K {
    enum WasmRelaxed: WasmRelaxedKQuantKernels {
        static func hasFourRowKernel(_ order: SummationOrder) -> Bool { true }

        @inline(__always)
        static func fourRows(_ order: SummationOrder, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                             _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
            switch order {
            case .gemv: dot4(rows, rowBytes, blocks, act, out, order: .gemv)
            case .gemm: dot4(rows, rowBytes, blocks, act, out, order: .gemm)
            default: dot4(rows, rowBytes, blocks, act, out, order: .tiled)
            }
        }

        static func fallback(_ job: KernelJob, rows: Range<Int>) { Q2_K.SIMD128.multiply(job, rows: rows) }

        /// One row in the vec_dot order: per super-block the mins first,
        /// acc[l] = fma(−d_a·dmin_w, m_2l·T_2l + m_2l+1·T_2l+1, acc[l]), then the products,
        /// acc[l] = fma(d_a·d_w, lane l, acc[l]).
        static func vecDot(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
            let table = WasmHalfTable.current
            var low = SIMD4<Float>(), high = SIMD4<Float>()
            for b in 0..<blocks {
                let w = row + b * Q2_K.blockBytes
                let y = UnsafeRawPointer(act.q8 + b * 256), sums = UnsafeRawPointer(act.bsums + b * 16)
                let da = act.d[b]
                let minScale = SIMD4(repeating: -da * WasmHalfTable.convert(table, w + 82))
                low = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(minSums(w, sums, 0)), minScale, low)
                high = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(minSums(w, sums, 1)), minScale, high)
                var lanesLow = SIMD4<Int32>(), lanesHigh = SIMD4<Int32>()
                for half in 0..<2 {
                    let s = scales(w, half)
                    for g in 0..<4 {
                        lanesLow &+= scaledVector(w, y, s, 8 * half + 2 * g)
                        lanesHigh &+= scaledVector(w, y, s, 8 * half + 2 * g + 1)
                    }
                }
                let d = SIMD4(repeating: da * WasmHalfTable.convert(table, w + 80))
                low = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(lanesLow), d, low)
                high = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(lanesHigh), d, high)
            }
            return LaneMath.horizontalSum(SIMD8(lowHalf: low, highHalf: high))
        }

        /// Four rows against one token in the repacked GEMV order (per super-block), the
        /// repacked GEMM's (per 128 values) or the tiled one (ReferenceOrders), the four rows'
        /// float steps as one vector. Each sum is transposed as soon as it is formed, so few
        /// v128 values are live at once.
        @inline(__always)
        static func dot4(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, _ act: Q8Activations,
                         _ out: UnsafeMutablePointer<Float>, order: SummationOrder) {
            let table = WasmHalfTable.current
            var acc = SIMD4<Float>(), accMin = SIMD4<Float>()
            for b in 0..<blocks {
                let w0 = rows + b * Q2_K.blockBytes, w1 = w0 + rowBytes, w2 = w0 + 2 * rowBytes, w3 = w0 + 3 * rowBytes
                let y = UnsafeRawPointer(act.q8 + b * 256), sums = UnsafeRawPointer(act.bsums + b * 16)
                let d = WasmHalfTable.convert4(table, w0 + 80, rowBytes), dmin = WasmHalfTable.convert4(table, w0 + 82, rowBytes)
                let isum0 = transposedSum(halfSum(w0, y, 0), halfSum(w1, y, 0), halfSum(w2, y, 0), halfSum(w3, y, 0))
                let msum0 = transposedSum(minSums(w0, sums, 0), minSums(w1, sums, 0), minSums(w2, sums, 0), minSums(w3, sums, 0))
                let da = act.d[b]
                if order == .gemm {
                    let scale = d * da, minScale = dmin * da
                    acc = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(isum0), scale, acc)
                    accMin = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(msum0), minScale, accMin)
                    let isum1 = transposedSum(halfSum(w0, y, 1), halfSum(w1, y, 1), halfSum(w2, y, 1), halfSum(w3, y, 1))
                    let msum1 = transposedSum(minSums(w0, sums, 1), minSums(w1, sums, 1), minSums(w2, sums, 1), minSums(w3, sums, 1))
                    acc = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(isum1), scale, acc)
                    accMin = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(msum1), minScale, accMin)
                    continue
                }
                let isum = isum0 &+ transposedSum(halfSum(w0, y, 1), halfSum(w1, y, 1), halfSum(w2, y, 1), halfSum(w3, y, 1))
                let msum = msum0 &+ transposedSum(minSums(w0, sums, 1), minSums(w1, sums, 1), minSums(w2, sums, 1), minSums(w3, sums, 1))
                if order == .gemv {
                    acc = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(isum), d * da, acc)
                    accMin = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(msum), dmin * da, accMin)
                } else {
                    let block = LaneMath.fusedMultiplyAdd(-dmin, tinylm_float_i32x4(msum), tinylm_float_i32x4(isum) * d)
                    acc = LaneMath.fusedMultiplyAdd(block, SIMD4(repeating: da), acc)
                }
            }
            let result = acc - accMin
            out[0] = result[0]
            out[1] = result[1]
            out[2] = result[2]
            out[3] = result[3]
        }

        /// Σ_c scale_c·Σ q·a over values 128·half ..< 128·half + 128, as four Int32 partial sums.
        @inline(__always)
        static func halfSum(_ w: UnsafeRawPointer, _ y: UnsafeRawPointer, _ half: Int) -> SIMD4<Int32> {
            let s = scales(w, half)
            var sum = SIMD4<Int32>()
            for k in 0..<8 { sum &+= scaledVector(w, y, s, 8 * half + k) }
            return sum
        }

        /// Values 16c ..< 16c + 16 (q = qs[32n + l] >> 2j & 3 for value 128n + 32j + l) against
        /// the activations, times scale c: four Int32 lanes of four values each.
        @inline(__always)
        static func scaledVector(_ w: UnsafeRawPointer, _ y: UnsafeRawPointer, _ halfScales: SIMD8<Int16>, _ c: Int) -> SIMD4<Int32> {
            let n = c >> 3, j = (c >> 1) & 3, part = c & 1
            let q = (w + 16 + 32 * n + 16 * part).loadUnaligned(as: SIMD8<UInt16>.self) &>> UInt16(truncatingIfNeeded: 2 * j)
            let pairs = tinylm_relaxed_dot2_i8_i7((y + 16 * c).loadUnaligned(as: SIMD16<Int8>.self), unsafeBitCast(q & 0x0303, to: SIMD16<Int8>.self))
            return tinylm_dot_i16x8(pairs, splatInt16Lane(halfScales, c & 7))
        }

        /// The 4-bit scales of values 128·half ..< 128·half + 128, one per 16, as Int16.
        @inline(__always)
        static func scales(_ w: UnsafeRawPointer, _ half: Int) -> SIMD8<Int16> {
            let bytes = unsafeBitCast(w.loadUnaligned(as: SIMD8<UInt16>.self) & 0x0F0F, to: SIMD16<Int8>.self)
            return half == 0 ? tinylm_extend_low_i8(bytes) : tinylm_extend_high_i8(bytes)
        }

        /// Lane l: m_2l·T_2l + m_2l+1·T_2l+1 for the eight 16-value groups of half `half`
        /// (T: the Q8_K sums of 16, |T| ≤ 16·127).
        @inline(__always)
        static func minSums(_ w: UnsafeRawPointer, _ sums: UnsafeRawPointer, _ half: Int) -> SIMD4<Int32> {
            let bytes = unsafeBitCast((w.loadUnaligned(as: SIMD8<UInt16>.self) &>> 4) & 0x0F0F, to: SIMD16<Int8>.self)
            let mins = half == 0 ? tinylm_extend_low_i8(bytes) : tinylm_extend_high_i8(bytes)
            let t = sums + 32 * half
            return tinylm_dot_i16x8(mins, tinylm_narrow_i32(t.loadUnaligned(as: SIMD4<Int32>.self), t.loadUnaligned(fromByteOffset: 16, as: SIMD4<Int32>.self)))
        }
    }
}
#endif
