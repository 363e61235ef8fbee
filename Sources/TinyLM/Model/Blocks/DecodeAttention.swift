#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif
#if canImport(TinyLMAVX512) && TINYLM_X86_AVX2
import TinyLMAVX512
#endif

/// The attention of a decode step (and of batches too short for TiledAttention): each query
/// row against every cached position it sees, with the arithmetic of llama.cpp's one-row CPU
/// flash attention for an f16 cache, so the logits track the reference vectors:
/// - the query is rounded to f16 like the cached keys; a score is `scoreDot` times the scale;
/// - softmax runs online, position by position: where a score exceeds the running maximum M,
///   the accumulator and sum are rescaled by expf(M − score) (glibc's expf) and the position
///   weighs 1; otherwise it weighs expf(score − M); the sum is `S·rescale + weight`, fused;
/// - the weighted values accumulate in f16: after every position (and every rescale) each
///   element is rounded to f16 (llama.cpp keeps that accumulator as f16 values).
///
/// Those chains fix the bits; the work runs in blocks of `decodeBlock` positions around them.
/// A block's scores do not depend on the accumulator, so they come first (each cached row
/// converted from f16 once for every head of its key/value head); then per head a scalar pass
/// over the scores settles each position's running maximum, so its expf argument is known and
/// the block's expf run over lanes (Math.expfInPlace); then the accumulator takes the block's
/// positions in order with its elements held in registers, rounded to f16 after each step as
/// before, instead of a store and reload per position.
extension Attention {
    static let decodeBlock = 32

    /// Floats of an attention slot (InferenceState.attentionSlot) for this path: per head its
    /// maximum, sum, block of scores and a block's rescale factors and weights; one key row;
    /// the block's value rows of each key/value head.
    static func decodeSlotFloats(keyLength: Int, valueLength: Int, heads: Int, kvHeads: Int) -> Int {
        heads * (2 + 3 * decodeBlock) + keyLength + Swift.min(heads, kvHeads) * decodeBlock * valueLength
    }

    /// `heads` query heads that share key/value head `kvHead` over the cached positions
    /// `positions`; `output` gets their rows. Each head's arithmetic is the same however many
    /// run together. `scratch`: this chunk's slot.
    func attend(heads: Int, query: UnsafeMutablePointer<Float>, kvHead: Int, positions: ClosedRange<Int>,
                cache: KVCache, output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        attend(heads: heads, query: query, firstHead: kvHead * (headCount / kvHeadCount), positions: positions,
               cache: cache, output: output, scratch: scratch)
    }

    /// Query heads firstHead ..< firstHead + heads, of any key/value heads, over the cached
    /// positions `positions`; `query` and `output` start at the first head's rows. One walk over
    /// the positions serves every key/value head of the range: a position's row holds them
    /// all side by side, so the cache streams in order instead of in strided pieces, once per
    /// key/value head.
    func attend(heads: Int, query: UnsafeMutablePointer<Float>, firstHead: Int, positions: ClosedRange<Int>,
                cache: KVCache, output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let block = Self.decodeBlock
        let groupSize = headCount / kvHeadCount
        let firstKV = firstHead / groupSize, kvSpan = (firstHead + heads - 1) / groupSize - firstKV + 1
        let maxima = scratch, sums = maxima + heads, scores = sums + heads
        let rescales = scores + heads * block, weights = rescales + heads * block
        let keyRow = weights + heads * block, valueBlocks = keyRow + keyLength
        let scoreScale: Float = scalesQueries ? 1 : scale
        // Key/value head firstKV + s serves the call's heads headRange(s).
        @inline(__always) func headRange(_ s: Int) -> Range<Int> {
            Swift.max(firstHead, (firstKV + s) * groupSize) - firstHead ..< Swift.min(firstHead + heads, (firstKV + s + 1) * groupSize) - firstHead
        }
        for h in 0..<heads {
            Self.roundToHalf(query + h * keyLength, count: keyLength, scaledBy: scalesQueries ? scale : 1)
            (output + h * valueLength).update(repeating: 0, count: valueLength)
            maxima[h] = -Float.infinity
            sums[h] = 0
        }
        var first = positions.lowerBound
        while first <= positions.upperBound {
            let count = Swift.min(block, positions.upperBound + 1 - first)
            #if TINYLM_X86_AVX2
            // The cache of a long context streams from memory (the weights push it out of the
            // last-level cache every token): ask for the next block's rows ahead.
            let ahead = Swift.min(block, positions.upperBound + 1 - first - count)
            let keyBytes = kvSpan * keyLength * 2, valueBytes = kvSpan * valueLength * 2
            for j in 0..<ahead {
                let k = UnsafeRawPointer(cache.key(layer: layer, position: first + count + j) + firstKV * keyLength)
                let v = UnsafeRawPointer(cache.value(layer: layer, position: first + count + j) + firstKV * valueLength)
                var offset = 0
                while offset < keyBytes { tinylm_prefetch(k + offset); offset += 64 }
                tinylm_prefetch(k + keyBytes - 1)
                offset = 0
                while offset < valueBytes { tinylm_prefetch(v + offset); offset += 64 }
                tinylm_prefetch(v + valueBytes - 1)
            }
            #endif
            for j in 0..<count {
                let keys = cache.key(layer: layer, position: first + j), values = cache.value(layer: layer, position: first + j)
                for s in 0..<kvSpan {
                    let kvHead = firstKV + s
                    Self.convertRow(keys + kvHead * keyLength, count: keyLength, into: keyRow)
                    Self.convertRow(values + kvHead * valueLength, count: valueLength, into: valueBlocks + (s * block + j) * valueLength)
                    for h in headRange(s) {
                        scores[h * block + j] = Self.scoreDot(keyRow, query + h * keyLength, count: keyLength) * scoreScale
                    }
                }
            }
            // Every head's scalar pass before any head's expf lanes: those load four of the
            // scalar pass's stores at once, which stalls while the stores are still queued.
            for h in 0..<heads {
                Self.softmaxArguments(scores + h * block, count: count, maximum: &maxima[h],
                                      rescales: rescales + h * block, weights: weights + h * block)
            }
            for h in 0..<heads {
                let r = rescales + h * block, w = weights + h * block
                Self.softmaxFactors(count: count, rescales: r, weights: w)
                var sum = sums[h]
                #if TINYLM_HARDWARE_FMA
                for j in 0..<count { sum = LaneMath.fusedMultiplyAdd(sum, r[j], w[j]) }
                #else
                // fma(S, 1, w) is S + w rounded once, which a plain addition is: only the rare
                // rescale needs the fused step (a software routine without an FMA instruction).
                for j in 0..<count {
                    sum = r[j] == 1 ? sum + w[j] : LaneMath.fusedMultiplyAdd(sum, r[j], w[j])
                }
                #endif
                sums[h] = sum
            }
            for s in 0..<kvSpan {
                let range = headRange(s)
                accumulateBlock(valueBlocks + s * block * valueLength, count: count, heads: range.count,
                                rescales: rescales + range.lowerBound * block, weights: weights + range.lowerBound * block,
                                into: output + range.lowerBound * valueLength)
            }
            first += count
        }
        for h in 0..<heads {
            let inverse = sums[h] == 0 ? 0 : 1 / sums[h]
            let out = output + h * valueLength
            for i in 0..<valueLength { out[i] *= inverse }
        }
    }

    /// One head's scores of a block → per position the argument of its expf (weights) and 0
    /// where the running maximum moves, 1 where it stays (rescales), advancing the maximum.
    @inline(__always)
    static func softmaxArguments(_ scores: UnsafePointer<Float>, count: Int, maximum: inout Float,
                                 rescales: UnsafeMutablePointer<Float>, weights: UnsafeMutablePointer<Float>) {
        var m = maximum
        for j in 0..<count {
            let score = scores[j]
            if score > m {
                weights[j] = m - score
                rescales[j] = 0
                m = score
            } else {
                weights[j] = score - m
                rescales[j] = 1
            }
        }
        maximum = m
    }

    /// softmaxArguments' output → per position its rescale factor (1 where the maximum stays)
    /// and weight (1 where it moves).
    @inline(__always)
    static func softmaxFactors(count: Int, rescales: UnsafeMutablePointer<Float>, weights: UnsafeMutablePointer<Float>) {
        Math.expfInPlace(weights, count: count)
        // Both stored at every position: a conditional store became masked vector stores,
        // slow on some CPUs and stalling the loads of the same rows that follow.
        for j in 0..<count {
            let moved = rescales[j] == 0, e = weights[j]
            rescales[j] = moved ? e : 1
            weights[j] = moved ? 1 : e
        }
    }

    /// The f16 accumulators of `heads` heads (rows of `valueLength` at `out`) over a block:
    /// per head h and position j, out = f16(out·r[j]) where that factor is not 1 (out is
    /// already f16, so ·1 would change nothing), then out[i] = f16(fma(v[i], w[j], out[i])),
    /// with r and w the head's rows of `rescales` and `weights` (`decodeBlock` apart). Each
    /// element's chain is the same in any grouping, so elements are taken in register-sized
    /// groups across the whole block. A step is a chain of an FMA and two conversions, so one
    /// head's 64 elements in eight registers wait on its latency; with AVX2, three heads
    /// of a group share the value rows and run 32 elements each (12 chains) at once.
    @inline(__always)
    func accumulateBlock(_ valueBlock: UnsafePointer<Float>, count: Int, heads: Int, rescales: UnsafePointer<Float>,
                         weights: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let block = Self.decodeBlock
        var h = 0
        #if canImport(TinyLMAVX512) && TINYLM_X86_AVX2
        if AVX512Kernels.available && MatrixMultiply.allowsAVX512 {
            while h < heads {
                let n = Swift.min(4, heads - h)
                let start = AVX512HalfAccumulator.accumulate(values: valueBlock, valueStride: valueLength, count: count, heads: n,
                                                             rescales: rescales + h * block, weights: weights + h * block,
                                                             factorStride: block, out: out + h * valueLength,
                                                             outStride: valueLength, elements: valueLength)
                if start < valueLength {
                    for g in h..<h + n {
                        accumulateHead(valueBlock, count: count, rescales: rescales + g * block, weights: weights + g * block,
                                       into: out + g * valueLength, from: start)
                    }
                }
                h += n
            }
            return
        }
        #endif
        #if TINYLM_X86_AVX2
        while h + 3 <= heads {
            let start = accumulateThreeHeads(valueBlock, count: count, rescales: rescales + h * block, weights: weights + h * block,
                                             into: out + h * valueLength)
            for g in h..<h + 3 {
                accumulateHead(valueBlock, count: count, rescales: rescales + g * block, weights: weights + g * block,
                               into: out + g * valueLength, from: start)
            }
            h += 3
        }
        #endif
        while h < heads {
            accumulateHead(valueBlock, count: count, rescales: rescales + h * block, weights: weights + h * block,
                           into: out + h * valueLength, from: 0)
            h += 1
        }
    }

    #if TINYLM_X86_AVX2
    /// accumulateBlock's chains for three heads (rows of `valueLength` at `out`, their factors
    /// `decodeBlock` apart) over their first elements in groups of 32; returns where it stopped.
    @inline(__always)
    func accumulateThreeHeads(_ valueBlock: UnsafePointer<Float>, count: Int, rescales: UnsafePointer<Float>,
                              weights: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) -> Int {
        let block = Self.decodeBlock
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
        @inline(__always) func store(_ x: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: x, as: SIMD8<Float>.self) }
        @inline(__always) func round8(_ x: SIMD8<Float>) -> SIMD8<Float> { tinylm_f16x8_to_f32(tinylm_f32x8_to_f16(x)) }
        let r0 = rescales, r1 = rescales + block, r2 = rescales + 2 * block
        let w0 = weights, w1 = weights + block, w2 = weights + 2 * block
        var start = 0
        while start + 32 <= valueLength {
            let o0 = out + start, o1 = o0 + valueLength, o2 = o1 + valueLength
            var a00 = load(o0), a01 = load(o0 + 8), a02 = load(o0 + 16), a03 = load(o0 + 24)
            var a10 = load(o1), a11 = load(o1 + 8), a12 = load(o1 + 16), a13 = load(o1 + 24)
            var a20 = load(o2), a21 = load(o2 + 8), a22 = load(o2 + 16), a23 = load(o2 + 24)
            var v = valueBlock + start
            for j in 0..<count {
                if r0[j] != 1 {
                    let f = r0[j]
                    a00 = round8(a00 * f); a01 = round8(a01 * f); a02 = round8(a02 * f); a03 = round8(a03 * f)
                }
                if r1[j] != 1 {
                    let f = r1[j]
                    a10 = round8(a10 * f); a11 = round8(a11 * f); a12 = round8(a12 * f); a13 = round8(a13 * f)
                }
                if r2[j] != 1 {
                    let f = r2[j]
                    a20 = round8(a20 * f); a21 = round8(a21 * f); a22 = round8(a22 * f); a23 = round8(a23 * f)
                }
                let x0 = SIMD8<Float>(repeating: w0[j]), x1 = SIMD8<Float>(repeating: w1[j]), x2 = SIMD8<Float>(repeating: w2[j])
                a00 = round8(a00.addingProduct(load(v), x0)); a10 = round8(a10.addingProduct(load(v), x1))
                a20 = round8(a20.addingProduct(load(v), x2))
                a01 = round8(a01.addingProduct(load(v + 8), x0)); a11 = round8(a11.addingProduct(load(v + 8), x1))
                a21 = round8(a21.addingProduct(load(v + 8), x2))
                a02 = round8(a02.addingProduct(load(v + 16), x0)); a12 = round8(a12.addingProduct(load(v + 16), x1))
                a22 = round8(a22.addingProduct(load(v + 16), x2))
                a03 = round8(a03.addingProduct(load(v + 24), x0)); a13 = round8(a13.addingProduct(load(v + 24), x1))
                a23 = round8(a23.addingProduct(load(v + 24), x2))
                v += valueLength
            }
            store(a00, o0); store(a01, o0 + 8); store(a02, o0 + 16); store(a03, o0 + 24)
            store(a10, o1); store(a11, o1 + 8); store(a12, o1 + 16); store(a13, o1 + 24)
            store(a20, o2); store(a21, o2 + 8); store(a22, o2 + 16); store(a23, o2 + 24)
            start += 32
        }
        return start
    }
    #endif

    /// accumulateBlock for one head, from element `start` on.
    @inline(__always)
    func accumulateHead(_ valueBlock: UnsafePointer<Float>, count: Int, rescales: UnsafePointer<Float>,
                        weights: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, from start: Int) {
        var start = start
        #if TINYLM_HARDWARE_F16 && TINYLM_HARDWARE_FMA
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
        @inline(__always) func store(_ x: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: x, as: SIMD8<Float>.self) }
        @inline(__always) func round8(_ x: SIMD8<Float>) -> SIMD8<Float> {
            #if TINYLM_X86_AVX2
            // F16C both ways; FP16.round8's generic conversions became calls in this loop.
            return tinylm_f16x8_to_f32(tinylm_f32x8_to_f16(x))
            #else
            return FP16.round8(x)
            #endif
        }
        @inline(__always) func rescaled(_ x: SIMD8<Float>, _ factor: Float) -> SIMD8<Float> {
            #if TINYLM_X86_AVX2
            // The conversions, as in the step: round4's integer lanes and constants made the
            // compiler spill an accumulator to the stack in every step.
            return round8(x * factor)
            #else
            let p = x * factor
            return SIMD8(lowHalf: FP16.round4(p.lowHalf), highHalf: FP16.round4(p.highHalf))
            #endif
        }
        // 64 elements: eight independent chains in eight registers.
        while start + 64 <= valueLength {
            let o = out + start
            var a0 = load(o), a1 = load(o + 8), a2 = load(o + 16), a3 = load(o + 24)
            var a4 = load(o + 32), a5 = load(o + 40), a6 = load(o + 48), a7 = load(o + 56)
            var v = valueBlock + start
            for j in 0..<count {
                let factor = rescales[j]
                if factor != 1 {
                    a0 = rescaled(a0, factor); a1 = rescaled(a1, factor); a2 = rescaled(a2, factor); a3 = rescaled(a3, factor)
                    a4 = rescaled(a4, factor); a5 = rescaled(a5, factor); a6 = rescaled(a6, factor); a7 = rescaled(a7, factor)
                }
                let w = SIMD8<Float>(repeating: weights[j])
                a0 = round8(a0.addingProduct(load(v), w))
                a1 = round8(a1.addingProduct(load(v + 8), w))
                a2 = round8(a2.addingProduct(load(v + 16), w))
                a3 = round8(a3.addingProduct(load(v + 24), w))
                a4 = round8(a4.addingProduct(load(v + 32), w))
                a5 = round8(a5.addingProduct(load(v + 40), w))
                a6 = round8(a6.addingProduct(load(v + 48), w))
                a7 = round8(a7.addingProduct(load(v + 56), w))
                v += valueLength
            }
            store(a0, o); store(a1, o + 8); store(a2, o + 16); store(a3, o + 24)
            store(a4, o + 32); store(a5, o + 40); store(a6, o + 48); store(a7, o + 56)
            start += 64
        }
        while start + 8 <= valueLength {
            var a = load(out + start)
            var v = valueBlock + start
            for j in 0..<count {
                if rescales[j] != 1 { a = rescaled(a, rescales[j]) }
                a = round8(a.addingProduct(load(v), SIMD8(repeating: weights[j])))
                v += valueLength
            }
            store(a, out + start)
            start += 8
        }
        #elseif arch(wasm32)
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD4<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) }
        @inline(__always) func store(_ x: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: x, as: SIMD4<Float>.self) }
        @inline(__always) func step(_ a: SIMD4<Float>, _ v: UnsafePointer<Float>, _ w: Float) -> SIMD4<Float> {
            FP16.round4ByAddition(WasmFusedMultiplyAdd.apply(load(v), w, a))
        }
        // 32 elements: eight v128 chains (more would not stay in an x86 engine's registers).
        while start + 32 <= valueLength {
            let o = out + start
            var a0 = load(o), a1 = load(o + 4), a2 = load(o + 8), a3 = load(o + 12)
            var a4 = load(o + 16), a5 = load(o + 20), a6 = load(o + 24), a7 = load(o + 28)
            var v = valueBlock + start
            for j in 0..<count {
                let factor = rescales[j]
                if factor != 1 {
                    a0 = FP16.round4(a0 * factor); a1 = FP16.round4(a1 * factor); a2 = FP16.round4(a2 * factor)
                    a3 = FP16.round4(a3 * factor); a4 = FP16.round4(a4 * factor); a5 = FP16.round4(a5 * factor)
                    a6 = FP16.round4(a6 * factor); a7 = FP16.round4(a7 * factor)
                }
                let w = weights[j]
                a0 = step(a0, v, w); a1 = step(a1, v + 4, w); a2 = step(a2, v + 8, w); a3 = step(a3, v + 12, w)
                a4 = step(a4, v + 16, w); a5 = step(a5, v + 20, w); a6 = step(a6, v + 24, w); a7 = step(a7, v + 28, w)
                v += valueLength
            }
            store(a0, o); store(a1, o + 4); store(a2, o + 8); store(a3, o + 12)
            store(a4, o + 16); store(a5, o + 20); store(a6, o + 24); store(a7, o + 28)
            start += 32
        }
        while start + 4 <= valueLength {
            var a = load(out + start)
            var v = valueBlock + start
            for j in 0..<count {
                if rescales[j] != 1 { a = FP16.round4(a * rescales[j]) }
                a = step(a, v, weights[j])
                v += valueLength
            }
            store(a, out + start)
            start += 4
        }
        #endif
        for i in start..<valueLength {
            var a = out[i]
            for j in 0..<count {
                if rescales[j] != 1 { a = FP16.round(a * rescales[j]) }
                a = FP16.round(LaneMath.fusedMultiplyAdd(valueBlock[j * valueLength + i], weights[j], a))
            }
            out[i] = a
        }
    }
}
