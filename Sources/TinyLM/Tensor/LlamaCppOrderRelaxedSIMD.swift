// The wasm kernels for Q4_1 and Q8_0 with relaxed SIMD (build flag TINYLM_RELAXED_SIMD, the
// tinylm-relaxed*.wasm modules): the same lanes and float order as LlamaCppOrderKernels, so the
// same bits, in a fraction of the instructions.
//
// Two relaxed instructions carry the work, each used only where its result is not left to
// the engine:
// - i32x4.relaxed_dot_i8x16_i7x16_add_s sums four adjacent byte products per Int32 lane —
//   exactly ggml's lane. It is deterministic when the second operand is in 0…127: Q4_1's
//   nibbles are, and for Q8_0 the activations are split into positive and negative parts
//   (a token's decode) or x's sign is moved onto them (prompts, with |x| unpacked once;
//   ggml's quantizer keeps every |value| ≤ 127). On x86 engines
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

extension LlamaCppOrderKernels {
    enum RelaxedSIMD {
        /// Four rows of Q4_1 or Q8_0 (`type`) against one token's activations, two rows per
        /// pass: four rows' eight accumulators each, plus the activations and constants, are
        /// more v128 values than x86 has registers, and V8 then spills in the inner loop
        /// (perf: a third of the kernel's time went to stack moves).
        @inline(__always)
        static func dot4(_ type: TensorType, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                         _ act: Q8Activations, _ q8: UnsafePointer<Int8>, _ out: UnsafeMutablePointer<Float>) {
            let fused = WasmFusedMultiplyAdd.relaxedIsFused
            for pass in 0..<2 {
                let first = rows + 2 * pass * rowBytes, results = out + 2 * pass
                if type == .q4_1 {
                    if fused { dotQ4_1(RelaxedFusedMultiplyAdd.self, first, rowBytes, blocks, act, q8, results) }
                    else { dotQ4_1(DoubleFusedMultiplyAdd.self, first, rowBytes, blocks, act, q8, results) }
                } else {
                    if fused { dotQ8_0(RelaxedFusedMultiplyAdd.self, first, rowBytes, blocks, act, q8, results) }
                    else { dotQ8_0(DoubleFusedMultiplyAdd.self, first, rowBytes, blocks, act, q8, results) }
                }
            }
        }

        /// Two rows of Q4_1.
        @inline(__always)
        static func dotQ4_1<M: WasmMultiplyAdd>(_: M.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                                _ act: Q8Activations, _ q8: UnsafePointer<Int8>, _ out: UnsafeMutablePointer<Float>) {
            var low0 = SIMD4<Float>(), high0 = SIMD4<Float>(), low1 = SIMD4<Float>(), high1 = SIMD4<Float>()
            var minSums = SIMD4<Float>()   // Σ m·s, lanes 1 and 3
            @inline(__always) func block(_ b: Int) {
                let y = UnsafeRawPointer(q8 + b * 32)
                let y0 = y.loadUnaligned(as: SIMD16<Int8>.self), y1 = y.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self)
                let w = rows + b * 20
                // Both rows' (d, m) converted together: lanes d₀, m₀, d₁, m₁.
                let header = FP16.toFloat4(halves(w.loadUnaligned(as: UInt32.self), (w + rowBytes).loadUnaligned(as: UInt32.self)))
                let scales = header * act.d[b]
                let scale0 = tinylm_splat_lane0(scales), scale1 = tinylm_splat_lane2(scales)
                var lanes = nibbleLanes(w, y0, y1)
                low0 = M.apply(lanes.0, splat: scale0, low0); high0 = M.apply(lanes.1, splat: scale0, high0)
                lanes = nibbleLanes(w + rowBytes, y0, y1)
                low1 = M.apply(lanes.0, splat: scale1, low1); high1 = M.apply(lanes.1, splat: scale1, high1)
                minSums = M.apply(header, act.s[b], minSums)
            }
            forEachBlock(blocks, block)
            out[0] = horizontalSum(SIMD8(lowHalf: low0, highHalf: high0)) + minSums[1]
            out[1] = horizontalSum(SIMD8(lowHalf: low1, highHalf: high1)) + minSums[3]
        }

        /// Two rows of Q8_0. Both operands are signed here, so the activations are split
        /// into their positive and negative parts (each in 0…127: ggml's Q8 activations stay
        /// within ±127) and x·y = x·y⁺ + (−x)·y⁻, exactly. (Moving x's sign onto y instead, as
        /// ggml's vpsignb does, needs a byte compare that LLVM turns into an arithmetic byte
        /// shift, which x86 engines emulate in five instructions.)
        @inline(__always)
        static func dotQ8_0<M: WasmMultiplyAdd>(_: M.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                                _ act: Q8Activations, _ q8: UnsafePointer<Int8>, _ out: UnsafeMutablePointer<Float>) {
            var low0 = SIMD4<Float>(), high0 = SIMD4<Float>(), low1 = SIMD4<Float>(), high1 = SIMD4<Float>()
            @inline(__always) func block(_ b: Int, _ d0: Float, _ d1: Float) {
                let y = UnsafeRawPointer(q8 + b * 32)
                let y0 = y.loadUnaligned(as: SIMD16<Int8>.self), y1 = y.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self)
                let zero = SIMD16<Int8>()
                let positive0 = tinylm_max_i8(y0, zero), negative0 = tinylm_max_i8(zero &- y0, zero)
                let positive1 = tinylm_max_i8(y1, zero), negative1 = tinylm_max_i8(zero &- y1, zero)
                let w = rows + b * 34
                var lanes = splitLanes(w, positive0, negative0, positive1, negative1)
                let scale0 = d0 * act.d[b], scale1 = d1 * act.d[b]
                low0 = M.apply(lanes.0, scale0, low0); high0 = M.apply(lanes.1, scale0, high0)
                lanes = splitLanes(w + rowBytes, positive0, negative0, positive1, negative1)
                low1 = M.apply(lanes.0, scale1, low1); high1 = M.apply(lanes.1, scale1, high1)
            }
            var b = 0
            while b < blocks {
                // The scales of blocks b and b+1 of both rows converted together: with two
                // lanes unused LLVM scalarizes the conversion.
                let w = rows + b * 34
                let next = b + 1 < blocks ? 34 : 0
                var h = SIMD4<UInt32>()
                h[0] = UInt32(w.loadUnaligned(as: UInt16.self))
                h[1] = UInt32((w + rowBytes).loadUnaligned(as: UInt16.self))
                h[2] = UInt32((w + next).loadUnaligned(as: UInt16.self))
                h[3] = UInt32((w + rowBytes + next).loadUnaligned(as: UInt16.self))
                let d = FP16.toFloat4(h)
                block(b, d[0], d[1])
                if next != 0 { block(b + 1, d[2], d[3]) }
                b += 2
            }
            out[0] = horizontalSum(SIMD8(lowHalf: low0, highHalf: high0))
            out[1] = horizontalSum(SIMD8(lowHalf: low1, highHalf: high1))
        }

        /// A batch (prompt) of tokens: each pair of rows is unpacked once — nibbles or |x| and
        /// signs as bytes ready for the dot instruction, f16 scales as Floats — and every token
        /// runs over the unpacked copy, which stays in L1. The same per-token arithmetic as
        /// dotQ4_1/dotQ8_0, so the same bits.
        /// `unpacked`: this chunk's slot of scratch memory (160 bytes per block).
        static func multiplyBatch(_ weight: WeightMatrix, rows: Range<Int>, batch: Int, scratch: MatmulScratch,
                                  unpacked slot: UnsafeMutableRawPointer, output: UnsafeMutablePointer<Float>, outputStride: Int) {
            let blocks = weight.columns / 32
            let isQ4_1 = weight.type == .q4_1
            let fused = WasmFusedMultiplyAdd.relaxedIsFused
            let unpacked = UnpackedPair(bytes: slot.assumingMemoryBound(to: SIMD16<Int8>.self),
                                        headers: (slot + 128 * blocks).assumingMemoryBound(to: SIMD4<Float>.self))
            var r = rows.lowerBound
            while r + 2 <= rows.upperBound {
                let pair = weight.data + r * weight.rowBytes
                if isQ4_1 { unpacked.unpackQ4_1(pair, weight.rowBytes, blocks) } else { unpacked.unpackQ8_0(pair, weight.rowBytes, blocks) }
                for t in 0..<batch {
                    let act = scratch.activations(t)
                    let q8 = UnsafePointer(scratch.q8 + t * scratch.columnStride)
                    let out = output + t * outputStride + r
                    switch (isQ4_1, fused) {
                    case (true, true): unpacked.dotQ4_1(RelaxedFusedMultiplyAdd.self, blocks, act, q8, out)
                    case (true, false): unpacked.dotQ4_1(DoubleFusedMultiplyAdd.self, blocks, act, q8, out)
                    case (false, true): unpacked.dotQ8_0(RelaxedFusedMultiplyAdd.self, blocks, act, q8, out)
                    case (false, false): unpacked.dotQ8_0(DoubleFusedMultiplyAdd.self, blocks, act, q8, out)
                    }
                }
                r += 2
            }
            // An odd last row takes the portable kernels.
            if r < rows.upperBound {
                let blocksOfRow = weight.data + r * weight.rowBytes
                for t in 0..<batch {
                    let out = output + t * outputStride + r
                    if isQ4_1 {
                        LlamaCppOrderKernels.dotQ4_1(blocksOfRow, weight.rowBytes, 1, blocks, scratch.activations(t), out)
                    } else {
                        LlamaCppOrderKernels.dotSymmetric(Q8_0.self, blocksOfRow, weight.rowBytes, 1, blocks, scratch.activations(t), out)
                    }
                }
            }
        }

        /// Two rows unpacked for a batch: per block, eight byte vectors (Q4_1: row 0's low and
        /// high nibbles, row 1's; Q8_0: row 0's |x| halves and sign masks, row 1's) and the
        /// converted f16 header (Q4_1: d₀, m₀, d₁, m₁; Q8_0: d₀, 0, d₁, 0).
        struct UnpackedPair {
            let bytes: UnsafeMutablePointer<SIMD16<Int8>>
            let headers: UnsafeMutablePointer<SIMD4<Float>>

            func unpackQ4_1(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int) {
                for b in 0..<blocks {
                    let w = rows + b * 20
                    headers[b] = FP16.toFloat4(halves(w.loadUnaligned(as: UInt32.self), (w + rowBytes).loadUnaligned(as: UInt32.self)))
                    for row in 0..<2 {
                        let n = (w + row * rowBytes).loadUnaligned(fromByteOffset: 4, as: SIMD8<UInt16>.self)
                        bytes[8 * b + 2 * row] = unsafeBitCast(n & 0x0F0F, to: SIMD16<Int8>.self)
                        bytes[8 * b + 2 * row + 1] = unsafeBitCast((n &>> 4) & 0x0F0F, to: SIMD16<Int8>.self)
                    }
                }
            }

            func unpackQ8_0(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int) {
                for b in 0..<blocks {
                    let w = rows + b * 34
                    headers[b] = FP16.toFloat4(halves(UInt32(w.loadUnaligned(as: UInt16.self)), UInt32((w + rowBytes).loadUnaligned(as: UInt16.self))))
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
            func dotQ4_1<M: WasmMultiplyAdd>(_: M.Type, _ blocks: Int, _ act: Q8Activations, _ q8: UnsafePointer<Int8>,
                                             _ out: UnsafeMutablePointer<Float>) {
                var low0 = SIMD4<Float>(), high0 = SIMD4<Float>(), low1 = SIMD4<Float>(), high1 = SIMD4<Float>()
                var minSums = SIMD4<Float>()   // lanes 1 and 3
                @inline(__always) func block(_ b: Int) {
                    let y = UnsafeRawPointer(q8 + b * 32)
                    let y0 = y.loadUnaligned(as: SIMD16<Int8>.self), y1 = y.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self)
                    let header = headers[b]
                    let scales = header * act.d[b]
                    let scale0 = tinylm_splat_lane0(scales), scale1 = tinylm_splat_lane2(scales)
                    let x = bytes + 8 * b
                    low0 = M.apply(lanes(y0, x[0]), splat: scale0, low0); high0 = M.apply(lanes(y1, x[1]), splat: scale0, high0)
                    low1 = M.apply(lanes(y0, x[2]), splat: scale1, low1); high1 = M.apply(lanes(y1, x[3]), splat: scale1, high1)
                    minSums = M.apply(header, act.s[b], minSums)
                }
                forEachBlock(blocks, block)
                out[0] = horizontalSum(SIMD8(lowHalf: low0, highHalf: high0)) + minSums[1]
                out[1] = horizontalSum(SIMD8(lowHalf: low1, highHalf: high1)) + minSums[3]
            }

            @inline(__always)
            func dotQ8_0<M: WasmMultiplyAdd>(_: M.Type, _ blocks: Int, _ act: Q8Activations, _ q8: UnsafePointer<Int8>,
                                             _ out: UnsafeMutablePointer<Float>) {
                var low0 = SIMD4<Float>(), high0 = SIMD4<Float>(), low1 = SIMD4<Float>(), high1 = SIMD4<Float>()
                @inline(__always) func block(_ b: Int) {
                    let y = UnsafeRawPointer(q8 + b * 32)
                    let y0 = y.loadUnaligned(as: SIMD16<Int8>.self), y1 = y.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self)
                    let scales = headers[b] * act.d[b]
                    let scale0 = tinylm_splat_lane0(scales), scale1 = tinylm_splat_lane2(scales)
                    let x = bytes + 8 * b
                    low0 = M.apply(lanes((y0 ^ x[2]) &- x[2], x[0]), splat: scale0, low0)
                    high0 = M.apply(lanes((y1 ^ x[3]) &- x[3], x[1]), splat: scale0, high0)
                    low1 = M.apply(lanes((y0 ^ x[6]) &- x[6], x[4]), splat: scale1, low1)
                    high1 = M.apply(lanes((y1 ^ x[7]) &- x[7], x[5]), splat: scale1, high1)
                }
                forEachBlock(blocks, block)
                out[0] = horizontalSum(SIMD8(lowHalf: low0, highHalf: high0))
                out[1] = horizontalSum(SIMD8(lowHalf: low1, highHalf: high1))
            }

            @inline(__always)
            func lanes(_ y: SIMD16<Int8>, _ x: SIMD16<Int8>) -> SIMD4<Float> {
                tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y, x, SIMD4()))
            }
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

        /// The four 16-bit halves of two 32-bit words, one per lane (low half first).
        @inline(__always)
        static func halves(_ first: UInt32, _ second: UInt32) -> SIMD4<UInt32> {
            var words = SIMD4<UInt32>()
            words[0] = first
            words[1] = second
            return tinylm_widen_low_u16(unsafeBitCast(words, to: SIMD8<UInt16>.self))
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
            return (tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y0, low, SIMD4())),
                    tinylm_float_i32x4(tinylm_relaxed_dot4_i8_i7(y1, high, SIMD4())))
        }

        /// Q8_0's 32 signed quants (at offset 2) against y = y⁺ − y⁻.
        @inline(__always)
        static func splitLanes(_ block: UnsafeRawPointer, _ positive0: SIMD16<Int8>, _ negative0: SIMD16<Int8>,
                               _ positive1: SIMD16<Int8>, _ negative1: SIMD16<Int8>) -> (SIMD4<Float>, SIMD4<Float>) {
            let x0 = block.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)
            let x1 = block.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)
            let zero = SIMD16<Int8>()
            let low = tinylm_relaxed_dot4_i8_i7(x0, positive0, tinylm_relaxed_dot4_i8_i7(zero &- x0, negative0, SIMD4()))
            let high = tinylm_relaxed_dot4_i8_i7(x1, positive1, tinylm_relaxed_dot4_i8_i7(zero &- x1, negative1, SIMD4()))
            return (tinylm_float_i32x4(low), tinylm_float_i32x4(high))
        }
    }
}
#endif
