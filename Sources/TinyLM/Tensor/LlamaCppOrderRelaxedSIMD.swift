// The wasm kernels for Q4_1 and Q8_0 with relaxed SIMD (build flag TINYLM_RELAXED_SIMD, the
// tinylm-relaxed*.wasm modules): the same lanes and float order as LlamaCppOrderKernels, so the
// same bits, in a fraction of the instructions.
//
// Two relaxed instructions carry the work, each used only where its result is not left to
// the engine:
// - i32x4.relaxed_dot_i8x16_i7x16_add_s sums four adjacent byte products per Int32 lane —
//   exactly ggml's lane. It is deterministic when the second operand is in 0…127: Q4_1's
//   nibbles are, and Q8_0's quants are through |x| (ggml's quantizer keeps |x| ≤ 127) with the
//   sign moved to the activation, as ggml's AVX2 kernel does with vpsignb. On x86 engines
//   lower it to ggml's own vpmaddubsw + vpmaddwd.
// - f32x4.relaxed_madd is fused on FMA hardware and unfused elsewhere. WasmFusedMultiplyAdd
//   probes it once at startup; the kernels are generic over the multiply-add and run the
//   relaxed one only when the probe found it fused, otherwise the exact f64 form.
//
// Baseline wasm (no relaxed SIMD: Safari, older engines) keeps the portable kernels.

#if TINYLM_RELAXED_SIMD
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

/// acc + s·x per lane with one rounding to Float.
protocol WasmMultiplyAdd {
    static func apply(_ x: SIMD4<Float>, _ s: Float, _ acc: SIMD4<Float>) -> SIMD4<Float>
}

/// f32x4.relaxed_madd, on machines where the startup probe found it fused.
enum RelaxedFusedMultiplyAdd: WasmMultiplyAdd {
    @inline(__always)
    static func apply(_ x: SIMD4<Float>, _ s: Float, _ acc: SIMD4<Float>) -> SIMD4<Float> {
        tinylm_relaxed_madd(x, SIMD4(repeating: s), acc)
    }
}

/// The product and sum formed in f64 and rounded once (machines without FMA hardware).
enum DoubleFusedMultiplyAdd: WasmMultiplyAdd {
    @inline(__always)
    static func apply(_ x: SIMD4<Float>, _ s: Float, _ acc: SIMD4<Float>) -> SIMD4<Float> {
        tinylm_fma_via_f64(x, s, acc)
    }
}

extension LlamaCppOrderKernels {
    enum RelaxedSIMD {
        /// Four rows of Q4_1 or Q8_0 (`type`) against one token's activations.
        @inline(__always)
        static func dot4(_ type: TensorType, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                         _ act: Q8Activations, _ q8: UnsafePointer<Int8>, _ out: UnsafeMutablePointer<Float>) {
            let fused = WasmFusedMultiplyAdd.relaxedIsFused
            if type == .q4_1 {
                if fused { dotQ4_1(RelaxedFusedMultiplyAdd.self, rows, rowBytes, blocks, act, q8, out) }
                else { dotQ4_1(DoubleFusedMultiplyAdd.self, rows, rowBytes, blocks, act, q8, out) }
            } else {
                if fused { dotQ8_0(RelaxedFusedMultiplyAdd.self, rows, rowBytes, blocks, act, q8, out) }
                else { dotQ8_0(DoubleFusedMultiplyAdd.self, rows, rowBytes, blocks, act, q8, out) }
            }
        }

        /// Eight float accumulators (two v128) per row, for four rows.
        struct Accumulators {
            var low = (SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>())
            var high = (SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>())

            /// ggml's hsum_float_8 of each row.
            @inline(__always)
            func sums() -> SIMD4<Float> {
                SIMD4(horizontalSum(SIMD8(lowHalf: low.0, highHalf: high.0)), horizontalSum(SIMD8(lowHalf: low.1, highHalf: high.1)),
                      horizontalSum(SIMD8(lowHalf: low.2, highHalf: high.2)), horizontalSum(SIMD8(lowHalf: low.3, highHalf: high.3)))
            }
        }

        @inline(__always)
        static func dotQ4_1<M: WasmMultiplyAdd>(_: M.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                                _ act: Q8Activations, _ q8: UnsafePointer<Int8>, _ out: UnsafeMutablePointer<Float>) {
            var acc = Accumulators()
            var minSums = MinSums()
            for b in 0..<blocks {
                let y = UnsafeRawPointer(q8 + b * 32)
                let y0 = y.loadUnaligned(as: SIMD16<Int8>.self), y1 = y.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self)
                let w = rows + b * 20
                let words = LlamaCppOrderKernels.headerWords4(w, rowBytes)
                let scales = FP16.toFloat4(words & 0xFFFF) * act.d[b]
                var lanes = nibbleLanes(w, y0, y1)
                acc.low.0 = M.apply(lanes.0, scales[0], acc.low.0); acc.high.0 = M.apply(lanes.1, scales[0], acc.high.0)
                lanes = nibbleLanes(w + rowBytes, y0, y1)
                acc.low.1 = M.apply(lanes.0, scales[1], acc.low.1); acc.high.1 = M.apply(lanes.1, scales[1], acc.high.1)
                lanes = nibbleLanes(w + 2 * rowBytes, y0, y1)
                acc.low.2 = M.apply(lanes.0, scales[2], acc.low.2); acc.high.2 = M.apply(lanes.1, scales[2], acc.high.2)
                lanes = nibbleLanes(w + 3 * rowBytes, y0, y1)
                acc.low.3 = M.apply(lanes.0, scales[3], acc.low.3); acc.high.3 = M.apply(lanes.1, scales[3], acc.high.3)
                minSums.add(FP16.toFloat4(words &>> 16), act.s[b])
            }
            UnsafeMutableRawPointer(out).storeBytes(of: acc.sums() + minSums.value, as: SIMD4<Float>.self)
        }

        @inline(__always)
        static func dotQ8_0<M: WasmMultiplyAdd>(_: M.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                                _ act: Q8Activations, _ q8: UnsafePointer<Int8>, _ out: UnsafeMutablePointer<Float>) {
            var acc = Accumulators()
            for b in 0..<blocks {
                let y = UnsafeRawPointer(q8 + b * 32)
                let y0 = y.loadUnaligned(as: SIMD16<Int8>.self), y1 = y.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self)
                let w = rows + b * 34
                let scales = FP16.toFloat4(LlamaCppOrderKernels.headerHalves4(w, rowBytes)) * act.d[b]
                var lanes = signedLanes(w, y0, y1)
                acc.low.0 = M.apply(lanes.0, scales[0], acc.low.0); acc.high.0 = M.apply(lanes.1, scales[0], acc.high.0)
                lanes = signedLanes(w + rowBytes, y0, y1)
                acc.low.1 = M.apply(lanes.0, scales[1], acc.low.1); acc.high.1 = M.apply(lanes.1, scales[1], acc.high.1)
                lanes = signedLanes(w + 2 * rowBytes, y0, y1)
                acc.low.2 = M.apply(lanes.0, scales[2], acc.low.2); acc.high.2 = M.apply(lanes.1, scales[2], acc.high.2)
                lanes = signedLanes(w + 3 * rowBytes, y0, y1)
                acc.low.3 = M.apply(lanes.0, scales[3], acc.low.3); acc.high.3 = M.apply(lanes.1, scales[3], acc.high.3)
            }
            UnsafeMutableRawPointer(out).storeBytes(of: acc.sums(), as: SIMD4<Float>.self)
        }

        /// Q4_1's nibbles (16 bytes at offset 4: byte j holds elements j and j+16) against the
        /// activations' elements 0…15 (`y0`) and 16…31 (`y1`): lanes 0–3 and 4–7, as Floats.
        @inline(__always)
        static func nibbleLanes(_ block: UnsafeRawPointer, _ y0: SIMD16<Int8>, _ y1: SIMD16<Int8>) -> (SIMD4<Float>, SIMD4<Float>) {
            let n = block.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)
            let low = unsafeBitCast(n & 0x0F, to: SIMD16<Int8>.self)
            let high = unsafeBitCast(n &>> 4, to: SIMD16<Int8>.self)
            return (tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y0, low, SIMD4())),
                    tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y1, high, SIMD4())))
        }

        /// Q8_0's 32 signed quants (at offset 2) against y: |x| times y carrying x's sign.
        @inline(__always)
        static func signedLanes(_ block: UnsafeRawPointer, _ y0: SIMD16<Int8>, _ y1: SIMD16<Int8>) -> (SIMD4<Float>, SIMD4<Float>) {
            let x0 = block.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)
            let x1 = block.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)
            let sign0 = x0 &>> 7, sign1 = x1 &>> 7   // −1 where x < 0, else 0
            let magnitude0 = (x0 ^ sign0) &- sign0, magnitude1 = (x1 ^ sign1) &- sign1
            let signed0 = (y0 ^ sign0) &- sign0, signed1 = (y1 ^ sign1) &- sign1
            return (tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(signed0, magnitude0, SIMD4())),
                    tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(signed1, magnitude1, SIMD4())))
        }
    }
}
#endif
