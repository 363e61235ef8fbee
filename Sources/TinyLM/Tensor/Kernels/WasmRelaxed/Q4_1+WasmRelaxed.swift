// Q4_1's relaxed-SIMD kernels (wasm): vec_dot's lanes with i32x4.relaxed_dot_i8x16_i7x16
// (the nibbles are the 0…127 operand): one row per decode pass, two per batch pass.

#if TINYLM_RELAXED_SIMD
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q4_1 {
    enum WasmRelaxed: WasmRelaxedOneRowFormat {
        static func multiply(_ job: KernelJob, rows: Range<Int>, chunk: Int) {
            WasmRelaxedBlock32.multiply(Self.self, job, rows: rows, chunk: chunk) { Q4_1.SIMD128.multiply(job, rows: $0) }
        }

        /// Two rows against one token.
        @inline(__always)
        static func dot2<M: WasmMultiplyAdd>(_: M.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                             _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
            var low0 = SIMD4<Float>(), high0 = SIMD4<Float>(), low1 = SIMD4<Float>(), high1 = SIMD4<Float>()
            var minSums = SIMD4<Float>()   // Σ m·s, lanes 0 and 1
            let table = UnsafePointer(WasmHalfTable.values.unsafelyUnwrapped)
            WasmRelaxedBlock32.forEachBlockAt(rows, blockBytes: 20, UnsafeRawPointer(act.q8), activationBytes: 32, act.d, act.s, blocks) { w, y, dp, sp in
                let y0 = y.loadUnaligned(as: SIMD16<Int8>.self), y1 = y.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self)
                let d = dp.loadUnaligned(as: Float.self)
                // The scales as scalars and the mins as one vector: a header vector d₀, m₀, d₁,
                // m₁ times act.d was scalarized by LLVM and then built a second time for the
                // mins, with spills (the same products and fused sums per lane either way).
                let scale0 = SIMD4(repeating: WasmHalfTable.convert(table, w) * d)
                let scale1 = SIMD4(repeating: WasmHalfTable.convert(table, w + rowBytes) * d)
                var mins = SIMD4<Float>()
                mins[0] = WasmHalfTable.convert(table, w + 2)
                mins[1] = WasmHalfTable.convert(table, w + rowBytes + 2)
                var lanes = nibbleLanes(w, y0, y1)
                low0 = M.apply(lanes.0, splat: scale0, low0); high0 = M.apply(lanes.1, splat: scale0, high0)
                lanes = nibbleLanes(w + rowBytes, y0, y1)
                low1 = M.apply(lanes.0, splat: scale1, low1); high1 = M.apply(lanes.1, splat: scale1, high1)
                minSums = M.apply(mins, sp.loadUnaligned(as: Float.self), minSums)
            }
            out[0] = LaneMath.horizontalSum(SIMD8(lowHalf: low0, highHalf: high0)) + minSums[0]
            out[1] = LaneMath.horizontalSum(SIMD8(lowHalf: low1, highHalf: high1)) + minSums[1]
        }

        /// One row against one token: dot2's steps for its row 0.
        @inline(__always)
        static func dot1<M: WasmMultiplyAdd>(_: M.Type, _ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations,
                                             _ out: UnsafeMutablePointer<Float>) {
            var low = SIMD4<Float>(), high = SIMD4<Float>()
            var minSums = SIMD4<Float>()   // Σ m·s in lane 0
            let table = UnsafePointer(WasmHalfTable.values.unsafelyUnwrapped)
            WasmRelaxedBlock32.forEachBlockAt(row, blockBytes: 20, UnsafeRawPointer(act.q8), activationBytes: 32, act.d, act.s, blocks) { w, y, dp, sp in
                let y0 = y.loadUnaligned(as: SIMD16<Int8>.self), y1 = y.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self)
                let scale = SIMD4(repeating: WasmHalfTable.convert(table, w) * dp.loadUnaligned(as: Float.self))
                var mins = SIMD4<Float>()
                mins[0] = WasmHalfTable.convert(table, w + 2)
                let lanes = nibbleLanes(w, y0, y1)
                low = M.apply(lanes.0, splat: scale, low); high = M.apply(lanes.1, splat: scale, high)
                minSums = M.apply(mins, sp.loadUnaligned(as: Float.self), minSums)
            }
            out[0] = LaneMath.horizontalSum(SIMD8(lowHalf: low, highHalf: high)) + minSums[0]
        }

        /// Per block: row 0's low and high nibbles, row 1's; the header d₀, m₀, d₁, m₁.
        static func unpack(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, into unpacked: WasmUnpackedPair) {
            let headers = unpacked.headers, bytes = unpacked.bytes
            for b in 0..<blocks {
                let w = rows + b * 20
                headers[b] = FP16.toFloat4(WasmRelaxedBlock32.halves(w.loadUnaligned(as: UInt32.self), (w + rowBytes).loadUnaligned(as: UInt32.self)))
                for row in 0..<2 {
                    let n = (w + row * rowBytes).loadUnaligned(fromByteOffset: 4, as: SIMD8<UInt16>.self)
                    bytes[8 * b + 2 * row] = unsafeBitCast(n & 0x0F0F, to: SIMD16<Int8>.self)
                    bytes[8 * b + 2 * row + 1] = unsafeBitCast((n &>> 4) & 0x0F0F, to: SIMD16<Int8>.self)
                }
            }
        }

        @inline(__always)
        static func unpackedDot<M: WasmMultiplyAdd>(_: M.Type, _ unpacked: WasmUnpackedPair, _ blocks: Int, _ act: Q8Activations,
                                                    _ out: UnsafeMutablePointer<Float>) {
            let headers = unpacked.headers, bytes = unpacked.bytes
            var low0 = SIMD4<Float>(), high0 = SIMD4<Float>(), low1 = SIMD4<Float>(), high1 = SIMD4<Float>()
            var minSums = SIMD4<Float>()   // lanes 1 and 3
            @inline(__always) func block(_ b: Int) {
                let y = UnsafeRawPointer(act.q8 + b * 32)
                let y0 = y.loadUnaligned(as: SIMD16<Int8>.self), y1 = y.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self)
                let header = headers[b]
                let scales = header * act.d[b]
                let scale0 = tinylm_splat_lane0(scales), scale1 = tinylm_splat_lane2(scales)
                let x = bytes + 8 * b
                low0 = M.apply(WasmUnpackedPair.lanes(y0, x[0]), splat: scale0, low0); high0 = M.apply(WasmUnpackedPair.lanes(y1, x[1]), splat: scale0, high0)
                low1 = M.apply(WasmUnpackedPair.lanes(y0, x[2]), splat: scale1, low1); high1 = M.apply(WasmUnpackedPair.lanes(y1, x[3]), splat: scale1, high1)
                minSums = M.apply(header, act.s[b], minSums)
            }
            WasmRelaxedBlock32.forEachBlock(blocks, block)
            out[0] = LaneMath.horizontalSum(SIMD8(lowHalf: low0, highHalf: high0)) + minSums[1]
            out[1] = LaneMath.horizontalSum(SIMD8(lowHalf: low1, highHalf: high1)) + minSums[3]
        }

        /// Q4_1's nibbles (16 bytes at offset 4: byte j holds elements j and j+16) against the
        /// activations' elements 0…15 (`y0`) and 16…31 (`y1`): lanes 0–3 and 4–7, as Floats.
        @inline(__always)
        static func nibbleLanes(_ block: UnsafeRawPointer, _ y0: SIMD16<Int8>, _ y1: SIMD16<Int8>) -> (SIMD4<Float>, SIMD4<Float>) {
            let n = block.loadUnaligned(fromByteOffset: 4, as: SIMD8<UInt16>.self)
            // Shifted as 16-bit lanes (wasm has no byte shift; engines emulate one in 3–4
            // instructions), then masked.
            let low = unsafeBitCast(n & 0x0F0F, to: SIMD16<Int8>.self)
            let high = unsafeBitCast((n &>> 4) & 0x0F0F, to: SIMD16<Int8>.self)
            // The four-product dot onto a zero vector: where the CPU has AVX-VNNI, V8 emits one
            // vpdpbusd (after a register copy) for it, against pmaddubsw, pmaddwd and the load
            // of pmaddwd's constant for the pair sums widened (perf: 8 of 136 instructions per
            // loop iteration). Without VNNI it is those three plus an add of the zero.
            return (tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y0, low, SIMD4<Int32>())),
                    tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y1, high, SIMD4<Int32>())))
        }
    }
}
#endif
