// Q4_K's relaxed-SIMD kernels (wasm), in all four of llama.cpp's orders, as ggml's own x86
// steps: i16x8.relaxed_dot_i8x16_i7x16 (pmaddubsw, the nibbles being the 0…127 operand) gives
// Int16 pair sums, i32x4.dot_i16x8 (pmaddwd) multiplies them by the sub-block's 6-bit scale.
// The repacked GEMV and GEMM orders (matrices whose row count is a multiple of 8: every decode
// step of such a model, and prompts in groups of four tokens) run here, four rows per pass:
// the sums are exact integers, so the four rows' sums transpose into one vector and the float
// steps are the SIMD128 kernel's. vec_dot and tiled (other row counts) are Q5_K's kernels
// (WasmRelaxedScaleMin.swift) over Q4_K's nibbles. Passes that mix orders and leftover rows
// take the SIMD128 kernel.

#if TINYLM_RELAXED_SIMD
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q4_K {
    enum WasmRelaxed: WasmRelaxedScaleMinFormat, WasmRelaxedKQuantKernels {
        static var blockBytes: Int { Q4_K.blockBytes }
        static var minsInLanes: Bool { true }
        typealias Shared = WasmRelaxedScaleMin

        static func vecDot(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
            Shared.vecDot(Self.self, row, blocks, act)
        }

        static func hasFourRowKernel(_ order: SummationOrder) -> Bool { true }

        @inline(__always)
        static func fourRows(_ order: SummationOrder, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                             _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
            switch order {
            case .gemv: gemv4(rows, rowBytes, blocks, act, out)
            case .gemm: gemm4(rows, rowBytes, blocks, act, out)
            default: Shared.tiled4(Self.self, rows, rowBytes, blocks, act, out)
            }
        }

        static func fallback(_ job: KernelJob, rows: Range<Int>) { Q4_K.SIMD128.multiply(job, rows: rows) }

        /// Four rows against one token in the GEMV order (see ReferenceOrders.gemv).
        @inline(__always)
        static func gemv4(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, _ act: Q8Activations,
                          _ out: UnsafeMutablePointer<Float>) {
            let table = WasmHalfTable.current
            var acc = SIMD4<Float>(), accMin = SIMD4<Float>()
            for b in 0..<blocks {
                let y = UnsafeRawPointer(act.q8 + b * 256)
                let subSums = Shared.subBlockSums(UnsafeRawPointer(act.bsums + b * 16))
                let w = rows + b * Q4_K.blockBytes
                let s0 = Shared.rowSums(Self.self, w, y, subSums), s1 = Shared.rowSums(Self.self, w + rowBytes, y, subSums)
                let s2 = Shared.rowSums(Self.self, w + 2 * rowBytes, y, subSums), s3 = Shared.rowSums(Self.self, w + 3 * rowBytes, y, subSums)
                let isum = transposedSum(s0.isum, s1.isum, s2.isum, s3.isum)
                let msum = transposedSum(s0.msum, s1.msum, s2.msum, s3.msum)
                let da = act.d[b]
                let scale = WasmHalfTable.convert4(table, w, rowBytes) * da, minScale = WasmHalfTable.convert4(table, w + 2, rowBytes) * da
                acc = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(isum), scale, acc)
                accMin = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(msum), minScale, accMin)
            }
            let result = acc - accMin
            out[0] = result[0]
            out[1] = result[1]
            out[2] = result[2]
            out[3] = result[3]
        }

        /// Four rows against one token in the 4-token GEMM's order (ReferenceOrders.gemm): the
        /// GEMV's steps per 64 values.
        @inline(__always)
        static func gemm4(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, _ act: Q8Activations,
                          _ out: UnsafeMutablePointer<Float>) {
            let table = WasmHalfTable.current
            var acc = SIMD4<Float>(), accMin = SIMD4<Float>()
            for b in 0..<blocks {
                let y = UnsafeRawPointer(act.q8 + b * 256)
                let subSums = Shared.subBlockSums(UnsafeRawPointer(act.bsums + b * 16))
                let w0 = rows + b * Q4_K.blockBytes, w1 = w0 + rowBytes, w2 = w0 + 2 * rowBytes, w3 = w0 + 3 * rowBytes
                let p0 = Shared.packedScales(w0), p1 = Shared.packedScales(w1), p2 = Shared.packedScales(w2), p3 = Shared.packedScales(w3)
                // Lane g: the mins' sum over values 64g ..< 64g + 64.
                let m0 = tinylm_dot_i16x8(tinylm_extend_high_u8(p0), subSums), m1 = tinylm_dot_i16x8(tinylm_extend_high_u8(p1), subSums)
                let m2 = tinylm_dot_i16x8(tinylm_extend_high_u8(p2), subSums), m3 = tinylm_dot_i16x8(tinylm_extend_high_u8(p3), subSums)
                let da = act.d[b]
                let scale = WasmHalfTable.convert4(table, w0, rowBytes) * da, minScale = WasmHalfTable.convert4(table, w0 + 2, rowBytes) * da
                // (A loop, not a local function: one that captures acc and accMin and is not
                // inlined boxes them on the heap, and helper threads must never allocate.)
                for g in 0..<4 {
                    let isum = transposedSum(spanDot(w0, y, p0, g), spanDot(w1, y, p1, g),
                                             spanDot(w2, y, p2, g), spanDot(w3, y, p3, g))
                    // All ones in lane g, zero elsewhere (lane-wise integer ops: a compare
                    // would be a per-lane loop).
                    let offset = SIMD4<UInt32>(0, 1, 2, 3) &- UInt32(truncatingIfNeeded: g)
                    let lane = unsafeBitCast(((offset | (0 &- offset)) &>> 31) &- 1, to: SIMD4<Int32>.self)
                    let msum = transposedSum(m0 & lane, m1 & lane, m2 & lane, m3 & lane)
                    acc = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(isum), scale, acc)
                    accMin = LaneMath.fusedMultiplyAdd(tinylm_float_i32x4(msum), minScale, accMin)
                }
            }
            let result = acc - accMin
            out[0] = result[0]
            out[1] = result[1]
            out[2] = result[2]
            out[3] = result[3]
        }

        /// Sub-blocks 2g (low nibbles of group g's 32 bytes) and 2g + 1 (high nibbles), scaled.
        @inline(__always)
        static func spanDot(_ w: UnsafeRawPointer, _ y: UnsafeRawPointer, _ packed: SIMD16<Int8>, _ g: Int) -> SIMD4<Int32> {
            let q = w + 16 + 32 * g
            let q0 = q.loadUnaligned(as: SIMD8<UInt16>.self), q1 = q.loadUnaligned(fromByteOffset: 16, as: SIMD8<UInt16>.self)
            let a = y + 64 * g
            let low = tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(as: SIMD16<Int8>.self), unsafeBitCast(q0 & 0x0F0F, to: SIMD16<Int8>.self))
                &+ tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self), unsafeBitCast(q1 & 0x0F0F, to: SIMD16<Int8>.self))
            let high = tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int8>.self), unsafeBitCast((q0 &>> 4) & 0x0F0F, to: SIMD16<Int8>.self))
                &+ tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(fromByteOffset: 48, as: SIMD16<Int8>.self), unsafeBitCast((q1 &>> 4) & 0x0F0F, to: SIMD16<Int8>.self))
            return Shared.spanDot(low, high, packed, g)
        }

        /// Nibbles of group g's 32 bytes: low (sub-block 2g) for k < 2, high (2g + 1) for k ≥ 2.
        @inline(__always)
        static func quarter(_ w: UnsafeRawPointer, _ g: Int, _ k: Int) -> SIMD16<Int8> {
            let q = (w + 16 + 32 * g + 16 * (k & 1)).loadUnaligned(as: SIMD8<UInt16>.self)
            return unsafeBitCast((k < 2 ? q : q &>> 4) & 0x0F0F, to: SIMD16<Int8>.self)
        }
    }
}
#endif
