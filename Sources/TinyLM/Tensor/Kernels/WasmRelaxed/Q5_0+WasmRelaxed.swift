// Q5_0's relaxed-SIMD kernels (wasm): vec_dot's lanes with i32x4.relaxed_dot_i8x16_i7x16, one
// row per decode pass, two per batch pass. The stored 5-bit q (0…31) is the 0…127 operand; the
// −16 offset comes from the activations alone, Σ(q − 16)·a = Σ q·a − 16·Σ a per lane, so each
// block's −16·Σ a lanes are formed once per token, as the activations are quantized
// (writeOffsetLanes), and fed to the dot product as its accumulator.

#if TINYLM_RELAXED_SIMD
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q5_0 {
    enum WasmRelaxed: WasmRelaxedOneRowFormat {
        static func multiply(_ job: KernelJob, rows: Range<Int>, chunk: Int) {
            WasmRelaxedBlock32.multiply(Self.self, job, rows: rows, chunk: chunk) { Q5_0.SIMD128.multiply(job, rows: $0) }
        }

        /// Two rows against one token.
        @inline(__always)
        static func dot2<M: WasmMultiplyAdd>(_: M.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                             _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
            var low0 = SIMD4<Float>(), high0 = SIMD4<Float>(), low1 = SIMD4<Float>(), high1 = SIMD4<Float>()
            @inline(__always) func block(_ b: Int, _ d0: Float, _ d1: Float) {
                let y = UnsafeRawPointer(act.q8 + b * 32)
                let y0 = y.loadUnaligned(as: SIMD16<Int8>.self), y1 = y.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self)
                let o = act.q5Offsets + b * 32
                let offset0 = o.loadUnaligned(as: SIMD4<Int32>.self), offset1 = o.loadUnaligned(fromByteOffset: 16, as: SIMD4<Int32>.self)
                let w = rows + b * 22
                var q = quants(w)
                let scale0 = d0 * act.d[b], scale1 = d1 * act.d[b]
                low0 = M.apply(tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y0, q.0, offset0)), scale0, low0)
                high0 = M.apply(tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y1, q.1, offset1)), scale0, high0)
                q = quants(w + rowBytes)
                low1 = M.apply(tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y0, q.0, offset0)), scale1, low1)
                high1 = M.apply(tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y1, q.1, offset1)), scale1, high1)
            }
            WasmRelaxedBlock32.forEachBlockScales(rows, rowBytes, blocks, blockBytes: 22, block)
            out[0] = LaneMath.horizontalSum(SIMD8(lowHalf: low0, highHalf: high0))
            out[1] = LaneMath.horizontalSum(SIMD8(lowHalf: low1, highHalf: high1))
        }

        /// One row against one token: dot2's steps for its row 0.
        @inline(__always)
        static func dot1<M: WasmMultiplyAdd>(_: M.Type, _ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations,
                                             _ out: UnsafeMutablePointer<Float>) {
            var low = SIMD4<Float>(), high = SIMD4<Float>()
            let table = UnsafePointer(WasmHalfTable.values.unsafelyUnwrapped)
            WasmRelaxedBlock32.forEachBlockAt(row, blockBytes: 22, UnsafeRawPointer(act.q8), activationBytes: 32, act.d,
                                              act.q5Offsets, sBytes: 32, blocks) { w, y, dp, o in
                let y0 = y.loadUnaligned(as: SIMD16<Int8>.self), y1 = y.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self)
                let q = quants(w)
                let scale = WasmHalfTable.convert(table, w) * dp.loadUnaligned(as: Float.self)
                low = M.apply(tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y0, q.0, o.loadUnaligned(as: SIMD4<Int32>.self))), scale, low)
                high = M.apply(tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y1, q.1, o.loadUnaligned(fromByteOffset: 16, as: SIMD4<Int32>.self))), scale, high)
            }
            out[0] = LaneMath.horizontalSum(SIMD8(lowHalf: low, highHalf: high))
        }

        /// Per block: row 0's q for values 0…15 and 16…31, row 1's; the header d₀, 0, d₁, 0.
        static func unpack(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, into unpacked: WasmUnpackedPair) {
            let headers = unpacked.headers, bytes = unpacked.bytes
            for b in 0..<blocks {
                let w = rows + b * 22
                headers[b] = FP16.toFloat4(WasmRelaxedBlock32.halves(UInt32(w.loadUnaligned(as: UInt16.self)), UInt32((w + rowBytes).loadUnaligned(as: UInt16.self))))
                for row in 0..<2 {
                    let q = quants(w + row * rowBytes)
                    bytes[8 * b + 2 * row] = q.0
                    bytes[8 * b + 2 * row + 1] = q.1
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
                let o = act.q5Offsets + b * 32
                let offset0 = o.loadUnaligned(as: SIMD4<Int32>.self), offset1 = o.loadUnaligned(fromByteOffset: 16, as: SIMD4<Int32>.self)
                let scales = headers[b] * act.d[b]
                let scale0 = tinylm_splat_lane0(scales), scale1 = tinylm_splat_lane2(scales)
                let x = bytes + 8 * b
                low0 = M.apply(tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y0, x[0], offset0)), splat: scale0, low0)
                high0 = M.apply(tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y1, x[1], offset1)), splat: scale0, high0)
                low1 = M.apply(tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y0, x[2], offset0)), splat: scale1, low1)
                high1 = M.apply(tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y1, x[3], offset1)), splat: scale1, high1)
            }
            WasmRelaxedBlock32.forEachBlock(blocks, block)
            out[0] = LaneMath.horizontalSum(SIMD8(lowHalf: low0, highHalf: high0))
            out[1] = LaneMath.horizontalSum(SIMD8(lowHalf: low1, highHalf: high1))
        }

        /// Writes −16 · the sum of each four of `count` Q8_0 activations as Int32 (lane i of
        /// each 16: values 4i…4i+3), once per token. |a| ≤ 127, so −a is a byte too. `count`
        /// is a multiple of 32.
        static func writeOffsetLanes(_ q8: UnsafePointer<Int8>, count: Int, into offsets: UnsafeMutablePointer<Int32>) {
            let source = UnsafeRawPointer(q8), target = UnsafeMutableRawPointer(offsets)
            var offset = 0
            while offset + 16 <= count {
                let y = source.loadUnaligned(fromByteOffset: offset, as: SIMD16<Int8>.self)
                target.storeBytes(of: tinylm_relaxed_dot4_i8_i7(SIMD16<Int8>() &- y, SIMD16(repeating: 16), SIMD4()),
                                  toByteOffset: offset, as: SIMD4<Int32>.self)
                offset += 16
            }
        }

        /// A block's stored q = nibble | high bit << 4 (0…31), values 0…15 and 16…31. The high
        /// bits: byte i of the word qh spread over eight bytes, each tested against its own bit.
        @inline(__always)
        static func quants(_ block: UnsafeRawPointer) -> (SIMD16<Int8>, SIMD16<Int8>) {
            let n = block.loadUnaligned(fromByteOffset: 6, as: SIMD8<UInt16>.self)
            let qh = unsafeBitCast(SIMD4<UInt32>(repeating: block.loadUnaligned(fromByteOffset: 2, as: UInt32.self)), to: SIMD16<Int8>.self)
            let bits = SIMD16<Int8>(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128)
            let lowBytes = tinylm_swizzle_i8(qh, SIMD16<Int8>(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)) & bits
            let highBytes = tinylm_swizzle_i8(qh, SIMD16<Int8>(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3)) & bits
            let sixteen = SIMD16<Int8>(repeating: 16)
            let low = unsafeBitCast(n & 0x0F0F, to: SIMD16<Int8>.self) | (tinylm_equal_i8(lowBytes, bits) & sixteen)
            let high = unsafeBitCast((n &>> 4) & 0x0F0F, to: SIMD16<Int8>.self) | (tinylm_equal_i8(highBytes, bits) & sixteen)
            return (low, high)
        }
    }
}
#endif
