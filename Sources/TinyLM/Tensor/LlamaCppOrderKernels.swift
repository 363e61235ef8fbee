// Dot-product kernels that add in exactly the order llama.cpp's x86 kernels do, so our logits
// are bit-identical to llama.cpp's for these formats (measured: 0.0 difference over the whole
// vocabulary on all reference prompts). Why it matters: with 8-bit activations, a 1-ulp
// difference anywhere can flip a quantized activation in a later layer, and small models
// amplify that into logit differences of ~0.5 — enough to change greedy tokens. Matching the
// summation order bit for bit is the only way to track the reference token for token.
//
// ggml's order (vec_dot_q4_1_q8_1, vec_dot_q8_0_q8_0, vec_dot_q5_0_q8_0 and tinyBLAS for Q8_0,
// AVX2/AVX-512):
//   per 32-element block: eight Int32 lanes, lane l = Σ of the products of elements 4l…4l+3
//   (exact integers), then acc[l] = fma(d_w·d_a, Float(lane), acc[l]) with d_w·d_a rounded to
//   Float first; after the last block the eight lanes are summed as
//   ((a4+a0)+(a6+a2)) + ((a5+a1)+(a7+a3)); Q4_1 adds Σ fma(m_w, s_a) accumulated separately.
// Natively the fused multiply-add is the host's FMA instruction (TINYLM_HARDWARE_FMA, set by
// Package.swift). wasm has no FMA, so there it is evaluated in Double: the product of a 24-bit
// and a ≤17-bit integer is exact, and one rounding of the sum to Float gives the same bits
// (the tests check both builds against llama.cpp's logits).
//
// Q4_K and Q6_K, whose order depends on the batch, are in LlamaCppOrderKQuants.swift.

#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

enum LlamaCppOrderKernels {
    /// Whether `type` has a kernel here.
    static func handles(_ type: TensorType) -> Bool {
        switch type {
        case .q4_1, .q8_0, .q5_0, .q4_K, .q6_K: return true
        default: return false
        }
    }

    /// How many tokens the whole multiply has and where this pass's first one sits: llama.cpp
    /// picks some formats' kernels (and so their order) by the batch, not by our passes.
    typealias Tokens = (total: Int, first: Int)

    /// Rows `rows` of `weight` times the quantized activations of `batch` tokens.
    /// `chunk`: this pass's chunk of the multiply (`ComputeExecutor.parallelChunks`), which
    /// picks its unpacking slot in `scratch`.
    static func multiplyRows(_ weight: WeightMatrix, rows: Range<Int>, batch: Int, tokens: Tokens, scratch: MatmulScratch,
                             output: UnsafeMutablePointer<Float>, outputStride: Int, chunk: Int = 0) {
        let blocks = weight.columns / weight.type.blockElements
        let rowBytes = weight.rowBytes
        let type = weight.type
        #if TINYLM_X86_AVX2
        if batch >= 2 && (type == .q4_1 || type == .q8_0 || type == .q5_0) {
            AVX2.multiplyBatch(weight, rows: rows, batch: batch, scratch: scratch, output: output, outputStride: outputStride)
            return
        }
        if batch >= 2 && AVX2.kQuantBatchHandles(weight, tokens) {
            AVX2.multiplyKQuantBatch(weight, rows: rows, batch: batch, tokens: tokens, scratch: scratch,
                                     output: output, outputStride: outputStride)
            return
        }
        #endif
        #if TINYLM_RELAXED_SIMD
        if batch >= 2 && (type == .q4_1 || type == .q8_0), let slot = scratch.unpackSlot(chunk) {
            RelaxedSIMD.multiplyBatch(weight, rows: rows, batch: batch, scratch: scratch, unpacked: slot,
                                      output: output, outputStride: outputStride)
            return
        }
        #endif
        if type == .q6_K && kQuantPath(weight, token: 0, of: tokens.total) == .tiled {
            multiplyQ6_KTiled(weight, rows: rows, batch: batch, scratch: scratch, output: output, outputStride: outputStride)
            return
        }
        // Four rows at a time share each activation load; for a batch, the four rows' bytes
        // stay in L1 while every token passes over them.
        var r = rows.lowerBound
        while r < rows.upperBound {
            let count = Swift.min(4, rows.upperBound - r)
            for t in 0..<batch {
                let act = scratch.activations(t)
                let out = output + t * outputStride + r
                #if TINYLM_X86_AVX2
                // ggml's own AVX2 instruction sequence on the raw Int8 activations.
                if count == 4 {
                    let q8 = UnsafePointer(scratch.q8 + t * scratch.columnStride)
                    switch type {
                    case .q4_1: AVX2.dotQ4_1(weight.data + r * rowBytes, rowBytes, blocks, act, q8, out); continue
                    case .q8_0: AVX2.dotSigned(Q8_0.self, weight.data + r * rowBytes, rowBytes, blocks, act, q8, out); continue
                    case .q5_0: AVX2.dotSigned(Q5_0.self, weight.data + r * rowBytes, rowBytes, blocks, act, q8, out); continue
                    case .q4_K where kQuantPath(weight, token: tokens.first + t, of: tokens.total) == .gemv:
                        AVX2.dotQ4_KGemv(weight.data + r * rowBytes, rowBytes, blocks, act, q8, out); continue
                    case .q6_K where kQuantPath(weight, token: tokens.first + t, of: tokens.total) == .vecDot:
                        AVX2.dotQ6_KVecDot(weight.data + r * rowBytes, rowBytes, blocks, act, q8, out); continue
                    default: break
                    }
                }
                #endif
                #if TINYLM_RELAXED_SIMD
                if count == 4 && (type == .q4_1 || type == .q8_0) {
                    RelaxedSIMD.dot4(type, weight.data + r * rowBytes, rowBytes, blocks, act,
                                     UnsafePointer(scratch.q8 + t * scratch.columnStride), out)
                    continue
                }
                #endif
                switch type {
                case .q4_1: dotQ4_1(weight.data + r * rowBytes, rowBytes, count, blocks, act, out)
                case .q5_0: dotSymmetric(Q5_0.self, weight.data + r * rowBytes, rowBytes, count, blocks, act, out)
                case .q4_K: dotQ4_K(weight.data + r * rowBytes, rowBytes, count, blocks, act,
                                    kQuantPath(weight, token: tokens.first + t, of: tokens.total), out)
                case .q6_K: dotQ6_K(weight.data + r * rowBytes, rowBytes, count, blocks, act, out)
                default: dotSymmetric(Q8_0.self, weight.data + r * rowBytes, rowBytes, count, blocks, act, out)
                }
            }
            r += count
        }
    }

    /// Up to four Q4_1 rows against Q8_1 activations.
    @inline(__always)
    static func dotQ4_1(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ count: Int, _ blocks: Int,
                        _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        if count < 4 {
            for i in 0..<count { out[i] = dotQ4_1Row(rows + i * rowBytes, blocks, act) }
            return
        }
        // Four rows unrolled, so the accumulators stay in registers; the four rows' f16 scales
        // are converted together.
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        var minSums = MinSums()
        for b in 0..<blocks {
            let a = ActivationPairs(act.q + b * 32)
            let w = rows + b * 20
            let words = LlamaCppOrderKernels.headerWords4(w, rowBytes)
            let scales = FP16.toFloat4(words & 0xFFFF) * act.d[b]   // d_w·d_a, rounded to Float
            acc0 = fusedMultiplyAdd(scales[0], blockLanes(q4_1Pairs(w), a), acc0)
            acc1 = fusedMultiplyAdd(scales[1], blockLanes(q4_1Pairs(w + rowBytes), a), acc1)
            acc2 = fusedMultiplyAdd(scales[2], blockLanes(q4_1Pairs(w + 2 * rowBytes), a), acc2)
            acc3 = fusedMultiplyAdd(scales[3], blockLanes(q4_1Pairs(w + 3 * rowBytes), a), acc3)
            minSums.add(FP16.toFloat4(words &>> 16), act.s[b])
        }
        let m = minSums.value
        out[0] = horizontalSum(acc0) + m[0]
        out[1] = horizontalSum(acc1) + m[1]
        out[2] = horizontalSum(acc2) + m[2]
        out[3] = horizontalSum(acc3) + m[3]
    }

    static func dotQ4_1Row(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
        var acc = SIMD8<Float>()
        var minSum: Float = 0
        for b in 0..<blocks {
            let a = act.q + b * 32
            let w = row + b * 20
            let h = Q4_1.header(w)
            acc = fusedMultiplyAdd(h[0] * act.d[b], blockLanes(q4_1Pairs(w), ActivationPairs(a)), acc)
            minSum = fusedMultiplyAdd(h[1], act.s[b], minSum)
        }
        return horizontalSum(acc) + minSum
    }

    /// Up to four rows of a format with one scale per 32 values and signed quants (Q8_0, Q5_0)
    /// against Q8_0 activations.
    @inline(__always)
    static func dotSymmetric<F: QuantizedDotFormat>(_: F.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ count: Int, _ blocks: Int,
                                                   _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>)
    where F: SymmetricPairsFormat, F.Header == Float {
        if count < 4 {
            for i in 0..<count {
                var acc = SIMD8<Float>()
                let row = rows + i * rowBytes
                for b in 0..<blocks {
                    let a = act.q + b * 32
                    let w = row + b * F.blockBytes
                    let d = F.header(w)
                    acc = fusedMultiplyAdd(d * act.d[b], blockLanes(F.pairs(w), ActivationPairs(a)), acc)
                }
                out[i] = horizontalSum(acc)
            }
            return
        }
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        for b in 0..<blocks {
            let a = ActivationPairs(act.q + b * 32)
            let w = rows + b * F.blockBytes
            // The f16 scale opens every block of these formats: the four rows' scales convert together.
            let halves = LlamaCppOrderKernels.headerHalves4(w, rowBytes)
            let scales = FP16.toFloat4(halves) * act.d[b]
            acc0 = fusedMultiplyAdd(scales[0], blockLanes(F.pairs(w), a), acc0)
            acc1 = fusedMultiplyAdd(scales[1], blockLanes(F.pairs(w + rowBytes), a), acc1)
            acc2 = fusedMultiplyAdd(scales[2], blockLanes(F.pairs(w + 2 * rowBytes), a), acc2)
            acc3 = fusedMultiplyAdd(scales[3], blockLanes(F.pairs(w + 3 * rowBytes), a), acc3)
        }
        out[0] = horizontalSum(acc0)
        out[1] = horizontalSum(acc1)
        out[2] = horizontalSum(acc2)
        out[3] = horizontalSum(acc3)
    }

    /// The first 32-bit word of the same block in four consecutive rows (Q4_1: d | m << 16).
    @inline(__always)
    static func headerWords4(_ w: UnsafeRawPointer, _ rowBytes: Int) -> SIMD4<UInt32> {
        SIMD4(w.loadUnaligned(as: UInt32.self), (w + rowBytes).loadUnaligned(as: UInt32.self),
              (w + 2 * rowBytes).loadUnaligned(as: UInt32.self), (w + 3 * rowBytes).loadUnaligned(as: UInt32.self))
    }

    /// The leading f16 scale of the same block in four consecutive rows (Q8_0, Q5_0).
    @inline(__always)
    static func headerHalves4(_ w: UnsafeRawPointer, _ rowBytes: Int) -> SIMD4<UInt32> {
        SIMD4(UInt32(w.loadUnaligned(as: UInt16.self)), UInt32((w + rowBytes).loadUnaligned(as: UInt16.self)),
              UInt32((w + 2 * rowBytes).loadUnaligned(as: UInt16.self)), UInt32((w + 3 * rowBytes).loadUnaligned(as: UInt16.self)))
    }

    /// The eight per-4-element integer sums of one 32-element block, as exact Floats. Weights
    /// and activations come as (even, odd) element pairs of 16 Int16 lanes, so each lane of
    /// even·even + odd·odd sums two neighbouring products and adjacent lanes widen to the sum
    /// of four (products fit Int16: |w·a| ≤ 128·127). Written on 16 lanes so that AVX2 does a
    /// block in a few 256-bit instructions; wasm splits them into v128 halves.
    @inline(__always)
    static func blockLanes(_ w: WeightPairs, _ a: ActivationPairs) -> SIMD8<Float> {
        #if arch(wasm32)
        // i32x4.dot_i16x8_s pairs lanes 2i, 2i+1 of a plane: elements 4i and 4i+2 (even
        // plane) or 4i+1 and 4i+3 (odd plane).
        let low = tinylm_dot_i16x8(w.even.lowHalf, a.even.lowHalf) &+ tinylm_dot_i16x8(w.odd.lowHalf, a.odd.lowHalf)
        let high = tinylm_dot_i16x8(w.even.highHalf, a.even.highHalf) &+ tinylm_dot_i16x8(w.odd.highHalf, a.odd.highHalf)
        return exactFloats(SIMD8(lowHalf: low, highHalf: high))
        #else
        let p = w.even &* a.even &+ w.odd &* a.odd
        let v = unsafeBitCast(p, to: SIMD8<Int32>.self)
        return exactFloats(((v &<< 16) &>> 16) &+ (v &>> 16))
        #endif
    }

    /// Int32 → Float for |x| < 2^22 with bit operations only (a plain conversion is a
    /// per-lane helper call in Embedded wasm): 1.5·2^23 + x has x in its low mantissa bits.
    @inline(__always)
    static func exactFloats(_ x: SIMD8<Int32>) -> SIMD8<Float> {
        let magic: Int32 = 0x4B40_0000
        return unsafeBitCast(x &+ magic, to: SIMD8<Float>.self) - 12_582_912.0
    }

    /// Q4_1's 32 nibbles as pairs: byte j holds elements j (low) and j+16 (high), so the
    /// low half of the vector takes the low nibbles and the high half the high ones.
    @inline(__always)
    static func q4_1Pairs(_ block: UnsafeRawPointer) -> WeightPairs {
        let n = block.loadUnaligned(fromByteOffset: 4, as: SIMD8<UInt16>.self)
        let both = SIMD16<UInt16>(lowHalf: n, highHalf: n &>> 4)
        return WeightPairs(even: unsafeBitCast(both & 0x000F, to: SIMD16<Int16>.self),
                           odd: unsafeBitCast((both &>> 8) & 0x000F, to: SIMD16<Int16>.self))
    }

    /// acc + scale·lanes with one rounding to Float, per lane (a fused multiply-add).
    @inline(__always)
    static func fusedMultiplyAdd(_ scale: Float, _ lanes: SIMD8<Float>, _ acc: SIMD8<Float>) -> SIMD8<Float> {
        #if TINYLM_HARDWARE_FMA
        return acc.addingProduct(lanes, SIMD8(repeating: scale))
        #elseif arch(wasm32)
        return SIMD8(lowHalf: WasmFusedMultiplyAdd.apply(lanes.lowHalf, scale, acc.lowHalf),
                     highHalf: WasmFusedMultiplyAdd.apply(lanes.highHalf, scale, acc.highHalf))
        #else
        let s = Double(scale)
        let r0 = widen(lanes.lowHalf.lowHalf) * s + widen(acc.lowHalf.lowHalf)
        let r1 = widen(lanes.lowHalf.highHalf) * s + widen(acc.lowHalf.highHalf)
        let r2 = widen(lanes.highHalf.lowHalf) * s + widen(acc.highHalf.lowHalf)
        let r3 = widen(lanes.highHalf.highHalf) * s + widen(acc.highHalf.highHalf)
        return SIMD8(lowHalf: SIMD4(lowHalf: narrow(r0), highHalf: narrow(r1)),
                     highHalf: SIMD4(lowHalf: narrow(r2), highHalf: narrow(r3)))
        #endif
    }

    /// acc + a·b with one rounding to Float.
    @inline(__always)
    static func fusedMultiplyAdd(_ a: Float, _ b: Float, _ acc: Float) -> Float {
        #if TINYLM_HARDWARE_FMA
        return acc.addingProduct(a, b)
        #else
        return Float(Double(a) * Double(b) + Double(acc))
        #endif
    }

    /// Q4_1's Σ m_w·s_a for four rows, one fused multiply-add per block as ggml's loop.
    struct MinSums {
        #if TINYLM_HARDWARE_FMA
        var sums = SIMD4<Float>()
        @inline(__always) mutating func add(_ mins: SIMD4<Float>, _ s: Float) { sums = sums.addingProduct(mins, SIMD4(repeating: s)) }
        @inline(__always) var value: SIMD4<Float> { sums }
        #elseif arch(wasm32)
        var sums = SIMD4<Float>()
        @inline(__always) mutating func add(_ mins: SIMD4<Float>, _ s: Float) { sums = WasmFusedMultiplyAdd.apply(mins, s, sums) }
        @inline(__always) var value: SIMD4<Float> { sums }
        #else
        var sums = SIMD4<Double>()
        @inline(__always) mutating func add(_ mins: SIMD4<Float>, _ s: Float) {
            let m = SIMD4<Double>(Double(mins[0]), Double(mins[1]), Double(mins[2]), Double(mins[3]))
            sums = roundedToFloat(m * Double(s) + sums)
        }
        @inline(__always) var value: SIMD4<Float> { SIMD4(Float(sums[0]), Float(sums[1]), Float(sums[2]), Float(sums[3])) }
        #endif
    }

    // Lane-wise conversions written out, so they lower to the two-lane convert instructions
    // (cvtps2pd/cvtpd2ps, f64x2.promote_low_f32x4/f32x4.demote_f64x2_zero) rather than a
    // generic per-lane loop.
    @inline(__always) static func widen(_ x: SIMD2<Float>) -> SIMD2<Double> { SIMD2(Double(x[0]), Double(x[1])) }
    @inline(__always) static func narrow(_ x: SIMD2<Double>) -> SIMD2<Float> { SIMD2(Float(x[0]), Float(x[1])) }

    @inline(__always)
    static func roundedToFloat(_ x: SIMD4<Double>) -> SIMD4<Double> {
        SIMD4(Double(Float(x[0])), Double(Float(x[1])), Double(Float(x[2])), Double(Float(x[3])))
    }

    /// ggml's hsum_float_8.
    @inline(__always)
    static func horizontalSum(_ a: SIMD8<Float>) -> Float {
        ((a[4] + a[0]) + (a[6] + a[2])) + ((a[5] + a[1]) + (a[7] + a[3]))
    }
}

/// A block's 32 weights as Int16 element pairs: `even` holds elements 2i (of the low 16, then
/// the high 16) and `odd` elements 2i+1, matching `ActivationPairs`.
struct WeightPairs {
    var even: SIMD16<Int16>
    var odd: SIMD16<Int16>
}

/// A block's 32 quantized activations in the same pairing, read from the plane layout
/// (per 16 elements: 8 even, then 8 odd; see writePlanes).
struct ActivationPairs {
    var even: SIMD16<Int16>
    var odd: SIMD16<Int16>

    @inline(__always)
    init(_ a: UnsafePointer<Int16>) {
        even = SIMD16(lowHalf: loadPlane(a, 0), highHalf: loadPlane(a, 16))
        odd = SIMD16(lowHalf: loadPlane(a, 8), highHalf: loadPlane(a, 24))
    }
}

/// Formats with one f16 scale and 32 signed quants per block (Q8_0, Q5_0), as pairs.
protocol SymmetricPairsFormat: QuantizedDotFormat {
    static func pairs(_ block: UnsafeRawPointer) -> WeightPairs
}

extension Q8_0: SymmetricPairsFormat {
    @inline(__always)
    static func pairs(_ block: UnsafeRawPointer) -> WeightPairs {
        let v = block.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int16>.self)
        return WeightPairs(even: (v &<< 8) &>> 8, odd: v &>> 8)
    }
}

extension Q5_0: SymmetricPairsFormat {
    @inline(__always)
    static func pairs(_ block: UnsafeRawPointer) -> WeightPairs {
        let s = sub(block, 0, 0)
        return WeightPairs(even: SIMD16(lowHalf: s.e0, highHalf: s.e1), odd: SIMD16(lowHalf: s.o0, highHalf: s.o1))
    }
}

#if TINYLM_X86_AVX2
extension LlamaCppOrderKernels {
    /// Four rows at a time with the instructions ggml's AVX2 kernels use: bytes multiplied
    /// pairwise into Int16 (vpmaddubsw), pairs summed into the eight Int32 lanes (vpmaddwd),
    /// converted and fused into the accumulators. Same lanes, same order, same bits as the
    /// portable kernels above, in about half the instructions.
    enum AVX2 {
        @inline(__always)
        static func dotQ4_1(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, _ act: Q8Activations,
                            _ q8: UnsafePointer<Int8>, _ out: UnsafeMutablePointer<Float>) {
            var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
            var minSums = MinSums()
            for b in 0..<blocks {
                let y = UnsafeRawPointer(q8 + b * 32).loadUnaligned(as: SIMD32<Int8>.self)
                let w = rows + b * 20
                prefetchNextRows(rows, rowBytes, b, 20)
                let words = LlamaCppOrderKernels.headerWords4(w, rowBytes)
                let scales = FP16.toFloat4(words & 0xFFFF) * act.d[b]
                acc0 = acc0.addingProduct(nibbleLanes(w, y), SIMD8(repeating: scales[0]))
                acc1 = acc1.addingProduct(nibbleLanes(w + rowBytes, y), SIMD8(repeating: scales[1]))
                acc2 = acc2.addingProduct(nibbleLanes(w + 2 * rowBytes, y), SIMD8(repeating: scales[2]))
                acc3 = acc3.addingProduct(nibbleLanes(w + 3 * rowBytes, y), SIMD8(repeating: scales[3]))
                minSums.add(FP16.toFloat4(words &>> 16), act.s[b])
            }
            let m = minSums.value
            out[0] = horizontalSum(acc0) + m[0]
            out[1] = horizontalSum(acc1) + m[1]
            out[2] = horizontalSum(acc2) + m[2]
            out[3] = horizontalSum(acc3) + m[3]
        }

        /// A batch (prompt): each group of four rows is unpacked once into bytes ready for
        /// vpmaddubsw and f32 scales, then every token runs over the unpacked copy, which
        /// stays in L1. Same per-token arithmetic as dotQ4_1/dotSigned.
        static func multiplyBatch(_ weight: WeightMatrix, rows: Range<Int>, batch: Int, scratch: MatmulScratch,
                                  output: UnsafeMutablePointer<Float>, outputStride: Int) {
            let blocks = weight.columns / 32
            let rowBytes = weight.rowBytes
            let isQ4_1 = weight.type == .q4_1
            let isQ5_0 = weight.type == .q5_0
            let blockBytes = isQ4_1 ? 20 : isQ5_0 ? 22 : 34
            withUnsafeTemporaryAllocation(of: SIMD32<Int8>.self, capacity: 8 * blocks) { bytes in
                withUnsafeTemporaryAllocation(of: SIMD4<Float>.self, capacity: 2 * blocks) { scales in
                    var r = rows.lowerBound
                    while r + 4 <= rows.upperBound {
                        let group = weight.data + r * rowBytes
                        for b in 0..<blocks {
                            let w = group + b * blockBytes
                            if isQ4_1 {
                                for i in 0..<4 {
                                    let n = (w + i * rowBytes).loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)
                                    bytes[8 * b + i] = unsafeBitCast(SIMD32<UInt8>(lowHalf: n & 0x0F, highHalf: n &>> 4), to: SIMD32<Int8>.self)
                                }
                                let words = LlamaCppOrderKernels.headerWords4(w, rowBytes)
                                scales[2 * b] = FP16.toFloat4(words & 0xFFFF)
                                scales[2 * b + 1] = FP16.toFloat4(words &>> 16)
                            } else if isQ5_0 {
                                // Q5_0 stays unsigned (q = value + 16, 0…31, which is
                                // (value ^ 0x10) & 0x1F for value in −16…15): vpmaddubsw takes it
                                // as is and each token subtracts 16·(pair sums of y) once per block.
                                for i in 0..<4 {
                                    let x = unsafeBitCast(Q5_0.signedQuants(w + i * rowBytes), to: SIMD4<UInt64>.self)
                                    bytes[8 * b + i] = unsafeBitCast((x ^ repeatedByte(0x10)) & repeatedByte(0x1F), to: SIMD32<Int8>.self)
                                }
                                let halves = LlamaCppOrderKernels.headerHalves4(w, rowBytes)
                                scales[2 * b] = FP16.toFloat4(halves)
                            } else {
                                for i in 0..<4 {
                                    let x = Q8_0.signedQuants(w + i * rowBytes)
                                    bytes[8 * b + i] = tinylm_sign_i8(x, x)
                                    bytes[8 * b + 4 + i] = x
                                }
                                let halves = LlamaCppOrderKernels.headerHalves4(w, rowBytes)
                                scales[2 * b] = FP16.toFloat4(halves)
                            }
                        }
                        for t in 0..<batch {
                            let act = scratch.activations(t)
                            let q8 = UnsafeRawPointer(scratch.q8 + t * scratch.columnStride)
                            var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
                            var minSums = MinSums()
                            for b in 0..<blocks {
                                let y = q8.loadUnaligned(fromByteOffset: b * 32, as: SIMD32<Int8>.self)
                                let s = scales[2 * b] * act.d[b]
                                if isQ4_1 {
                                    acc0 = acc0.addingProduct(lanes(bytes[8 * b], y), SIMD8(repeating: s[0]))
                                    acc1 = acc1.addingProduct(lanes(bytes[8 * b + 1], y), SIMD8(repeating: s[1]))
                                    acc2 = acc2.addingProduct(lanes(bytes[8 * b + 2], y), SIMD8(repeating: s[2]))
                                    acc3 = acc3.addingProduct(lanes(bytes[8 * b + 3], y), SIMD8(repeating: s[3]))
                                    minSums.add(scales[2 * b + 1], act.s[b])
                                } else if isQ5_0 {
                                    let offset = tinylm_maddubs_u8i8(SIMD32(repeating: 16), y)
                                    acc0 = acc0.addingProduct(offsetLanes(bytes[8 * b], y, offset), SIMD8(repeating: s[0]))
                                    acc1 = acc1.addingProduct(offsetLanes(bytes[8 * b + 1], y, offset), SIMD8(repeating: s[1]))
                                    acc2 = acc2.addingProduct(offsetLanes(bytes[8 * b + 2], y, offset), SIMD8(repeating: s[2]))
                                    acc3 = acc3.addingProduct(offsetLanes(bytes[8 * b + 3], y, offset), SIMD8(repeating: s[3]))
                                } else {
                                    acc0 = acc0.addingProduct(lanes(bytes[8 * b], tinylm_sign_i8(y, bytes[8 * b + 4])), SIMD8(repeating: s[0]))
                                    acc1 = acc1.addingProduct(lanes(bytes[8 * b + 1], tinylm_sign_i8(y, bytes[8 * b + 5])), SIMD8(repeating: s[1]))
                                    acc2 = acc2.addingProduct(lanes(bytes[8 * b + 2], tinylm_sign_i8(y, bytes[8 * b + 6])), SIMD8(repeating: s[2]))
                                    acc3 = acc3.addingProduct(lanes(bytes[8 * b + 3], tinylm_sign_i8(y, bytes[8 * b + 7])), SIMD8(repeating: s[3]))
                                }
                            }
                            let m = isQ4_1 ? minSums.value : SIMD4<Float>()
                            let out = output + t * outputStride + r
                            out[0] = horizontalSum(acc0) + m[0]
                            out[1] = horizontalSum(acc1) + m[1]
                            out[2] = horizontalSum(acc2) + m[2]
                            out[3] = horizontalSum(acc3) + m[3]
                        }
                        r += 4
                    }
                    // Leftover rows (fewer than four) take the portable kernels.
                    if r < rows.upperBound {
                        for t in 0..<batch {
                            let act = scratch.activations(t)
                            let out = output + t * outputStride + r
                            let count = rows.upperBound - r
                            if isQ4_1 {
                                LlamaCppOrderKernels.dotQ4_1(weight.data + r * rowBytes, rowBytes, count, blocks, act, out)
                            } else if isQ5_0 {
                                LlamaCppOrderKernels.dotSymmetric(Q5_0.self, weight.data + r * rowBytes, rowBytes, count, blocks, act, out)
                            } else {
                                LlamaCppOrderKernels.dotSymmetric(Q8_0.self, weight.data + r * rowBytes, rowBytes, count, blocks, act, out)
                            }
                        }
                    }
                }
            }
        }

        // Byte vectors are bitcast to 64-bit lanes for bitwise operations and shifts: Swift's
        // operators on SIMD32<UInt8> become per-byte loops. Shifts then cross into the
        // neighbouring byte, which the masks around them clear.
        @inline(__always) static func words(_ x: SIMD32<UInt8>) -> SIMD4<UInt64> { unsafeBitCast(x, to: SIMD4<UInt64>.self) }
        @inline(__always) static func bytes(_ x: SIMD4<UInt64>) -> SIMD32<UInt8> { unsafeBitCast(x, to: SIMD32<UInt8>.self) }
        @inline(__always) static func repeatedByte(_ b: UInt64) -> SIMD4<UInt64> { SIMD4(repeating: b &* 0x0101_0101_0101_0101) }

        /// Lanes of unsigned quants q = x + c against y, minus `offset` = c·(pair sums of y)
        /// taken off in Int16 (exact: |q·y| pairs stay under 2^15 for Q5_0's c = 16).
        @inline(__always)
        static func offsetLanes(_ q: SIMD32<Int8>, _ y: SIMD32<Int8>, _ offset: SIMD16<Int16>) -> SIMD8<Float> {
            let pairs = tinylm_maddubs_u8i8(unsafeBitCast(q, to: SIMD32<UInt8>.self), y) &- offset
            return tinylm_float_i32(tinylm_madd_i16(pairs, SIMD16(repeating: 1)))
        }

        /// Lanes of an unpacked unsigned weight block against signed activations.
        @inline(__always)
        static func lanes(_ x: SIMD32<Int8>, _ y: SIMD32<Int8>) -> SIMD8<Float> {
            tinylm_float_i32(tinylm_dot4_u8i8(unsafeBitCast(x, to: SIMD32<UInt8>.self), y))
        }

        /// The next four rows are the next 4·rowBytes bytes: while block b of these rows is
        /// used, fetch the same share of those (4·blockBytes bytes, up to three lines). The
        /// hardware prefetcher alone leaves the decode loop waiting on memory (perf: the
        /// hottest instructions were the ones right after the weight loads).
        @inline(__always)
        static func prefetchNextRows(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ block: Int, _ blockBytes: Int) {
            let ahead = rows + 4 * rowBytes + block * 4 * blockBytes
            tinylm_prefetch(ahead)
            tinylm_prefetch(ahead + 64)
            if blockBytes * 4 > 128 { tinylm_prefetch(ahead + 128) }
        }

        /// Q4_1's 16 bytes of nibbles (at offset 4) spread to 32 bytes in element order, dotted with y.
        @inline(__always)
        static func nibbleLanes(_ block: UnsafeRawPointer, _ y: SIMD32<Int8>) -> SIMD8<Float> {
            let n = block.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)
            let x = SIMD32<UInt8>(lowHalf: n & 0x0F, highHalf: n &>> 4)
            return tinylm_float_i32(tinylm_dot4_u8i8(x, y))
        }

        /// Four rows of Q8_0 or Q5_0 (signed quants, one f16 scale per 32).
        @inline(__always)
        static func dotSigned<F: AVX2SignedQuants>(_: F.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, _ act: Q8Activations,
                                                   _ q8: UnsafePointer<Int8>, _ out: UnsafeMutablePointer<Float>) {
            var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
            for b in 0..<blocks {
                let y = UnsafeRawPointer(q8 + b * 32).loadUnaligned(as: SIMD32<Int8>.self)
                let w = rows + b * F.blockBytes
                prefetchNextRows(rows, rowBytes, b, F.blockBytes)
                let halves = LlamaCppOrderKernels.headerHalves4(w, rowBytes)
                let scales = FP16.toFloat4(halves) * act.d[b]
                acc0 = acc0.addingProduct(signedLanes(F.signedQuants(w), y), SIMD8(repeating: scales[0]))
                acc1 = acc1.addingProduct(signedLanes(F.signedQuants(w + rowBytes), y), SIMD8(repeating: scales[1]))
                acc2 = acc2.addingProduct(signedLanes(F.signedQuants(w + 2 * rowBytes), y), SIMD8(repeating: scales[2]))
                acc3 = acc3.addingProduct(signedLanes(F.signedQuants(w + 3 * rowBytes), y), SIMD8(repeating: scales[3]))
            }
            out[0] = horizontalSum(acc0)
            out[1] = horizontalSum(acc1)
            out[2] = horizontalSum(acc2)
            out[3] = horizontalSum(acc3)
        }

        /// Signed quants x dotted with y: vpmaddubsw wants one unsigned operand, so |x| is
        /// multiplied by y carrying x's sign (exact: |x| ≤ 128).
        @inline(__always)
        static func signedLanes(_ x: SIMD32<Int8>, _ y: SIMD32<Int8>) -> SIMD8<Float> {
            let magnitude = unsafeBitCast(tinylm_sign_i8(x, x), to: SIMD32<UInt8>.self)
            return tinylm_float_i32(tinylm_dot4_u8i8(magnitude, tinylm_sign_i8(y, x)))
        }
    }
}

/// Formats whose blocks are one f16 scale and 32 signed quants, as bytes in element order.
protocol AVX2SignedQuants: QuantizedDotFormat {
    static func signedQuants(_ block: UnsafeRawPointer) -> SIMD32<Int8>
}

extension Q8_0: AVX2SignedQuants {
    @inline(__always)
    static func signedQuants(_ block: UnsafeRawPointer) -> SIMD32<Int8> {
        block.loadUnaligned(fromByteOffset: 2, as: SIMD32<Int8>.self)
    }
}

extension Q5_0: AVX2SignedQuants {
    /// q − 16 = nibble − 16 + 16·high bit: bytes whose high bit (bit i of qh for element i) is
    /// clear get 0xF0 ORed in, which is nibble − 16 in two's complement. vpshufb copies qh's
    /// byte i/8 to byte i, and each byte tests its own bit, i mod 8.
    @inline(__always)
    static func signedQuants(_ block: UnsafeRawPointer) -> SIMD32<Int8> {
        typealias Bytes = LlamaCppOrderKernels.AVX2
        let n = block.loadUnaligned(fromByteOffset: 6, as: SIMD2<UInt64>.self)
        let nibbles = SIMD4<UInt64>(lowHalf: n, highHalf: n &>> 4) & Bytes.repeatedByte(0x0F)
        let qh = block.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
        let byteIndex = Bytes.bytes(SIMD4<UInt64>(0, 0x0101_0101_0101_0101, 0x0202_0202_0202_0202, 0x0303_0303_0303_0303))
        let spread = Bytes.words(tinylm_shuffle_u8(unsafeBitCast(SIMD8<UInt32>(repeating: qh), to: SIMD32<UInt8>.self), byteIndex))
        let clear = tinylm_equal_u8(Bytes.bytes(spread & SIMD4(repeating: 0x8040_2010_0804_0201)), SIMD32<UInt8>())
        return unsafeBitCast(nibbles | (Bytes.words(clear) & Bytes.repeatedByte(0xF0)), to: SIMD32<Int8>.self)
    }
}
#endif

#if arch(wasm32)
/// The fused multiply-add of the wasm build. wasm has no exact FMA instruction; relaxed SIMD's
/// f32x4.relaxed_madd is fused on machines with FMA hardware and unfused elsewhere. The build
/// with relaxed SIMD (TINYLM_RELAXED_SIMD) asks once, at startup, which one this machine does
/// (`probe`), and uses it only if fused; otherwise, and in the baseline build, the product and
/// sum are formed in f64 and rounded once. Either way the bits are the same.
public enum WasmFusedMultiplyAdd {
    #if TINYLM_RELAXED_SIMD
    nonisolated(unsafe) static var relaxedIsFused = false

    /// Decides from a product whose exact value needs the fused rounding: with
    /// a = 1 + 2^-12 and c = -(1 + 2^-11), a·a + c is 2^-24 when fused and 0 when the product
    /// is rounded first. The inputs come from the caller so that nothing is constant-folded.
    /// The f64 form is probed the same way: (1 + 2^-27)² − (1 + 2^-26) is 2^-54 only when fused.
    public static func probe(_ a: Float, _ c: Float) -> Bool {
        let r = tinylm_relaxed_madd(SIMD4(repeating: a), SIMD4(repeating: a), SIMD4(repeating: c))
        let a64 = 1 + (Double(a) - 1) * 0x1p-15, c64 = -1 - (-Double(c) - 1) * 0x1p-15
        relaxedIsFused = r[0] == 0x1p-24 && r[1] == 0x1p-24 && r[2] == 0x1p-24 && r[3] == 0x1p-24
            && tinylm_relaxed_madd_f64(a64, a64, c64) == 0x1p-54
        return relaxedIsFused
    }
    #else
    public static func probe(_ a: Float, _ c: Float) -> Bool { false }
    #endif

    @inline(__always)
    static func apply(_ x: SIMD4<Float>, _ s: Float, _ acc: SIMD4<Float>) -> SIMD4<Float> {
        #if TINYLM_RELAXED_SIMD
        if relaxedIsFused { return tinylm_relaxed_madd(x, SIMD4(repeating: s), acc) }
        #endif
        return tinylm_fma_via_f64(x, s, acc)
    }
}
#endif
