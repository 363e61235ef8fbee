#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

/// Grouped-query self-attention with rotary positions and a KV cache.
/// For each token of the batch: project to queries, keys and values (optional biases and
/// per-head RMS norms), rotate queries and keys, append keys and values to the cache, then
/// every query head attends over the cached positions it may see (causal, optionally within a
/// sliding window) using the key/value head its group shares.
struct Attention {
    /// The q, k and v projections: three matrices, or one whose rows are q's, k's, then v's
    /// (`attn_qkv`), multiplied as one matrix as llama.cpp does (its kernel choice, and so its
    /// float order, can depend on the row count).
    enum Projection {
        case separate(query: Linear, key: Linear, value: Linear)
        case fused(Linear)
    }

    let projection: Projection
    let output: Linear
    let queryBias: UnsafePointer<Float>?
    let keyBias: UnsafePointer<Float>?
    let valueBias: UnsafePointer<Float>?
    let queryNorm: RMSNorm?
    let keyNorm: RMSNorm?
    let rope: RoPE
    let layer: Int
    let headCount: Int
    let kvHeadCount: Int
    let keyLength: Int
    let valueLength: Int
    let scale: Float
    /// Where `scale` applies. Gemma's and Phi-3's graphs multiply the queries before
    /// attention, so the scaled query is what gets rounded to f16 (small components land in
    /// f16's subnormal range, which changes their rounding); llama's multiplies the scores.
    let scalesQueries: Bool
    /// 0: attend to every earlier position; otherwise only the last `window` positions.
    let window: Int

    /// `input` (batch × embedding, already normalized) → `output` (batch × embedding).
    func callAsFunction(_ input: UnsafePointer<Float>, batch: Int, startPosition: Int,
                        output result: UnsafeMutablePointer<Float>, state: InferenceState) {
        let executor = state.executor
        let qWidth = headCount * keyLength, kWidth = kvHeadCount * keyLength, vWidth = kvHeadCount * valueLength
        // Token t's queries, keys and values start at queries + t·qStride, keys + t·kStride…
        let queries: UnsafeMutablePointer<Float>, keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>
        let qStride: Int, kStride: Int, vStride: Int
        switch projection {
        case .separate(let query, let key, let value):
            (queries, keys, values) = (state.queries, state.keys, state.values)
            (qStride, kStride, vStride) = (qWidth, kWidth, vWidth)
            // One parallel section for the three where they can share it (LinearGroup).
            LinearGroup.multiply(.init(linear: query, output: queries, outputStride: qWidth),
                                 .init(linear: key, output: keys, outputStride: kWidth),
                                 .init(linear: value, output: values, outputStride: vWidth),
                                 input: input, batch: batch, state: state)
        case .fused(let qkv):
            (queries, keys, values) = (state.queries, state.queries + qWidth, state.queries + qWidth + kWidth)
            qStride = qkv.rows
            (kStride, vStride) = (qStride, qStride)
            qkv(input, inputStride: qkv.columns, batch: batch, output: queries, outputStride: qStride, state: state)
        }

        let cache = state.cache
        // Token t's biases, norms and rotation, then its cache row.
        func prepare(_ t: Int, table: UnsafePointer<Float>) {
            let q = queries + t * qStride
            let k = keys + t * kStride
            let v = values + t * vStride
            if let b = queryBias { for i in 0..<qWidth { q[i] += b[i] } }
            if let b = keyBias { for i in 0..<kWidth { k[i] += b[i] } }
            if let b = valueBias { for i in 0..<vWidth { v[i] += b[i] } }
            if let norm = queryNorm { norm(q, into: q, rows: headCount) }
            if let norm = keyNorm { norm(k, into: k, rows: kvHeadCount) }
            rope.apply(q, heads: headCount, table: table)
            rope.apply(k, heads: kvHeadCount, table: table)
            cache.store(layer: layer, position: startPosition + t, keys: k, values: v)
        }
        if batch >= Self.tiledRows && executor.concurrency > 1 {
            // A prompt's tokens in parallel (serial, this was a few % of a two-thread prompt),
            // each chunk filling its own rotation table in its attention slot (the same values
            // state.ropeTable caches for decode).
            executor.parallelChunks(batch, maxChunks: state.attentionSlots) { chunk, tokens in
                let table = state.attentionSlot(chunk)
                for t in tokens {
                    rope.fillTable(table, position: startPosition + t, contextLength: state.contextLength)
                    prepare(t, table: table)
                }
            }
        } else {
            for t in 0..<batch { prepare(t, table: state.ropeTable(rope, position: startPosition + t)) }
        }

        if batch >= Self.tiledRows {
            // llama.cpp's tiled flash attention (TiledAttention.swift). The tokens are split, not
            // the heads (9 heads do not halve), in ranges of about equal work.
            let parts = Swift.min(executor.concurrency, state.attentionSlots, batch)
            executor.parallelFor(parts) { part in
                attendTiled(tokens: balancedTokenSplit(batch: batch, startPosition: startPosition, part: part, parts: parts),
                            queries: queries, qStride: qStride, startPosition: startPosition,
                            cache: cache, state: state, scratch: state.attentionSlot(part))
            }
            output(state.attended, inputStride: headCount * valueLength, batch: batch, output: result, outputStride: output.rows, state: state)
            return
        }
        for t in 0..<batch {
            let position = startPosition + t
            let first = window > 0 ? max(0, position - window + 1) : 0
            let q = queries + t * qStride
            let out = state.attended + t * headCount * valueLength
            // Heads in contiguous chunks, each chunk's heads in one walk over the cache
            // (DecodeAttention.swift).
            executor.parallelChunks(headCount, maxChunks: state.attentionSlots) { chunk, heads in
                attend(heads: heads.count, query: q + heads.lowerBound * keyLength, firstHead: heads.lowerBound,
                       positions: first...position, cache: cache, output: out + heads.lowerBound * valueLength,
                       scratch: state.attentionSlot(chunk))
            }
        }
        output(state.attended, inputStride: headCount * valueLength, batch: batch, output: result, outputStride: output.rows, state: state)
    }

    /// Σ k[i]·q[i] for a key row already converted from f16 and q already f16-rounded (so
    /// every product is exact in Float), summed in the order of llama.cpp's x86 AVX-512
    /// ggml_vec_dot_f16: four 16-lane accumulators over 64-element steps, reduced 0+2, 1+3,
    /// then 0+1, then across lanes as _mm512_reduce_add_ps does (halves of 8, of 4, then lanes
    /// 0+2 and 1+3); a remainder of fewer than 64 elements is added in Double.
    @inline(__always)
    static func scoreDot(_ k: UnsafePointer<Float>, _ q: UnsafePointer<Float>, count: Int) -> Float {
        @inline(__always) func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD16<Float> {
            UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
        }
        var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
        var i = 0
        while i + 64 <= count {
            s0 += load(k, i) * load(q, i)
            s1 += load(k, i + 16) * load(q, i + 16)
            s2 += load(k, i + 32) * load(q, i + 32)
            s3 += load(k, i + 48) * load(q, i + 48)
            i += 64
        }
        s0 += s2
        s1 += s3
        s0 += s1
        let a = s0.highHalf + s0.lowHalf
        let b = a.highHalf + a.lowHalf
        var sum = Double((b[0] + b[2]) + (b[1] + b[3]))
        while i < count {
            sum += Double(k[i] * q[i])
            i += 1
        }
        return Float(sum)
    }

    /// f16 → f32 for a cached row.
    @inline(__always)
    static func convertRow(_ row: UnsafePointer<UInt16>, count: Int, into out: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 8 <= count {
            UnsafeMutableRawPointer(out + i).storeBytes(of: toFloat8(UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<UInt16>.self)),
                                                        as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            out[i] = FP16.toFloat(row[i])
            i += 1
        }
    }

    /// x[i] = f16(x[i]·factor) (the product rounded to Float first), four lanes at a time.
    @inline(__always)
    static func roundToHalf(_ x: UnsafeMutablePointer<Float>, count: Int, scaledBy factor: Float) {
        var i = 0
        while i + 4 <= count {
            let p = UnsafeMutableRawPointer(x + i)
            p.storeBytes(of: FP16.round4(p.loadUnaligned(as: SIMD4<Float>.self) * factor), as: SIMD4<Float>.self)
            i += 4
        }
        while i < count {
            x[i] = FP16.round(x[i] * factor)
            i += 1
        }
    }

    /// FP16.toFloat8, with F16C's instruction spelled out on x86: the generic SIMD conversion
    /// behind FP16.toFloat8 stays an out-of-line call where the caller is a large loop.
    @inline(__always)
    static func toFloat8(_ h: SIMD8<UInt16>) -> SIMD8<Float> {
        #if TINYLM_X86_AVX2
        return tinylm_f16x8_to_f32(h)
        #else
        return FP16.toFloat8(h)
        #endif
    }
}
