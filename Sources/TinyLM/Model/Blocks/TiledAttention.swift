/// Attention for batches of `Attention.tiledRows` query rows or more, with the arithmetic of
/// llama.cpp's tiled CPU flash attention (which it uses for such batches instead of its
/// one-row kernel, `Attention.attend`):
/// - the keys are taken in tiles of 64 cache positions from position 0; a query row skips the
///   tiles it cannot see;
/// - the query stays f32 (no f16 rounding); each score is one chain of fused multiply-adds over
///   the head's dimensions, from 0, then multiplied by the score scale;
/// - per tile the running maximum moves to the tile's maximum (rescaling the sums by glibc's
///   expf of the difference), the tile's weights are ggml_v_expf(score − max) (the polynomial
///   of FeedForward.expApprox), summed 16 at a time as _mm512_reduce_add_ps does into a Double
///   that is added to the Float sum;
/// - the weighted values accumulate in f32: each output element one chain of fused
///   multiply-adds over the tile's positions; at the end they are divided by the sum.
/// Positions a row may not see (later ones, outside its window, past the cache) weigh 0, as
/// llama.cpp's −∞ mask makes them.
extension Attention {
    static let tiledRows = 64
    static let tile = 64

    /// Floats of an attention slot (InferenceState.attentionSlot) for this path: the key tile
    /// (transposed: dimension-major, positions contiguous), the value tile, one row of weights,
    /// and the running maximum and sum of every (token, head) of a batch.
    static func tiledSlotFloats(keyLength: Int, valueLength: Int, heads: Int, maxBatch: Int) -> Int {
        tile * (keyLength + valueLength) + tile + 2 * heads * maxBatch
    }

    /// The heads `heads` (contiguous, any key/value heads) of every token of the batch; keys and
    /// values of the batch are cached already. `queries` + t·qStride is token t's query row;
    /// outputs go to state.attended like `attend`'s.
    func attendTiled(heads: Range<Int>, queries: UnsafeMutablePointer<Float>, qStride: Int, batch: Int, startPosition: Int,
                     cache: KVCache, state: InferenceState, scratch: UnsafeMutablePointer<Float>) {
        let tile = Self.tile
        let keyTile = scratch, valueTile = keyTile + tile * keyLength, weights = valueTile + tile * valueLength
        let maxima = weights + tile, sums = maxima + batch * heads.count
        let groupSize = headCount / kvHeadCount
        let queryScale: Float = scalesQueries ? scale : 1, scoreScale: Float = scalesQueries ? 1 : scale
        let outputStride = headCount * valueLength
        for t in 0..<batch {
            for (i, h) in heads.enumerated() {
                let q = queries + t * qStride + h * keyLength
                // ggml_scale's product, where the graph scales the queries (Gemma, Phi-3).
                if queryScale != 1 { for d in 0..<keyLength { q[d] *= queryScale } }
                (state.attended + t * outputStride + h * valueLength).update(repeating: 0, count: valueLength)
                maxima[t * heads.count + i] = -Float.infinity
                sums[t * heads.count + i] = 0
            }
        }
        let lastPosition = startPosition + batch - 1
        // Tiles wholly before every row's window are skipped by every row.
        let firstTile = window > 0 ? Swift.max(0, startPosition - window + 1) / tile * tile : 0
        var h = heads.lowerBound
        while h < heads.upperBound {
            let kvHead = h / groupSize
            let groupEnd = Swift.min(heads.upperBound, (kvHead + 1) * groupSize)
            var first = firstTile
            while first <= lastPosition {
                let cached = Swift.min(tile, lastPosition + 1 - first)
                loadTiles(kvHead: kvHead, first: first, count: cached, cache: cache, keyTile: keyTile, valueTile: valueTile)
                for t in 0..<batch {
                    let position = startPosition + t
                    let lowest = Swift.max(window > 0 ? position - window + 1 : 0, first)
                    let highest = Swift.min(position, first + cached - 1)
                    // A tile this row sees nothing of leaves its state as it is.
                    guard lowest <= highest else { continue }
                    for head in h..<groupEnd {
                        let slot = t * heads.count + (head - heads.lowerBound)
                        attendTile(query: queries + t * qStride + head * keyLength, scoreScale: scoreScale,
                                   visible: lowest...highest, first: first, keyTile: keyTile, valueTile: valueTile, weights: weights,
                                   maximum: maxima + slot, sum: sums + slot,
                                   output: state.attended + t * outputStride + head * valueLength)
                    }
                }
                first += tile
            }
            h = groupEnd
        }
        for t in 0..<batch {
            for (i, head) in heads.enumerated() {
                let sum = sums[t * heads.count + i]
                let inverse: Float = sum == 0 ? 0 : 1 / sum
                let out = state.attended + t * outputStride + head * valueLength
                for d in 0..<valueLength { out[d] *= inverse }
            }
        }
    }

    /// The key and value rows of cache positions first..<first+count of `kvHead` as f32, keys
    /// transposed; positions past `count` are zeros (their weight is 0).
    private func loadTiles(kvHead: Int, first: Int, count: Int, cache: KVCache,
                           keyTile: UnsafeMutablePointer<Float>, valueTile: UnsafeMutablePointer<Float>) {
        let tile = Self.tile
        for k in 0..<tile {
            let value = valueTile + k * valueLength
            guard k < count else {
                for d in 0..<keyLength { keyTile[d * tile + k] = 0 }
                value.update(repeating: 0, count: valueLength)
                continue
            }
            let keyRow = cache.key(layer: layer, position: first + k) + kvHead * keyLength
            for d in 0..<keyLength { keyTile[d * tile + k] = FP16.toFloat(keyRow[d]) }
            Self.convertRow(cache.value(layer: layer, position: first + k) + kvHead * valueLength, count: valueLength, into: value)
        }
    }

    /// One query row against one tile of keys and values: see the type's comment.
    private func attendTile(query: UnsafePointer<Float>, scoreScale: Float, visible: ClosedRange<Int>, first: Int,
                            keyTile: UnsafePointer<Float>, valueTile: UnsafePointer<Float>, weights: UnsafeMutablePointer<Float>,
                            maximum: UnsafeMutablePointer<Float>, sum: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let tile = Self.tile
        // Scores, eight positions per lane group, each a chain of fused multiply-adds over d.
        var group = 0
        while group < tile {
            var acc = SIMD8<Float>()
            for d in 0..<keyLength {
                acc = LaneMath.fusedMultiplyAdd(query[d],
                                                            UnsafeRawPointer(keyTile + d * tile + group).loadUnaligned(as: SIMD8<Float>.self), acc)
            }
            UnsafeMutableRawPointer(weights + group).storeBytes(of: acc * scoreScale, as: SIMD8<Float>.self)
            group += 8
        }
        // The mask: 0 added where the row sees the position, −∞ elsewhere.
        var tileMaximum = -Float.infinity
        for k in 0..<tile {
            if visible.contains(first + k) {
                weights[k] = weights[k] + 0
                tileMaximum = Swift.max(tileMaximum, weights[k])
            } else {
                weights[k] = -.infinity
            }
        }
        let newMaximum = Swift.max(maximum.pointee, tileMaximum)
        if newMaximum > maximum.pointee {
            let rescale = Math.expf(maximum.pointee - newMaximum)
            for d in 0..<valueLength { output[d] *= rescale }
            sum.pointee *= rescale
        }
        maximum.pointee = newMaximum
        var total = 0.0
        var k = 0
        while k < tile {
            let p = UnsafeMutableRawPointer(weights + k)
            let low = FeedForward.expApprox(p.loadUnaligned(as: SIMD8<Float>.self) - newMaximum)
            let high = FeedForward.expApprox(p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self) - newMaximum)
            p.storeBytes(of: low, as: SIMD8<Float>.self)
            p.storeBytes(of: high, toByteOffset: 32, as: SIMD8<Float>.self)
            total += Double(Self.reduceAdd16(low, high))
            k += 16
        }
        sum.pointee = Float(Double(sum.pointee) + total)
        // Weighted values: per output element a chain over the tile's positions.
        var d = 0
        while d + 8 <= valueLength {
            let o = UnsafeMutableRawPointer(output + d)
            var acc = o.loadUnaligned(as: SIMD8<Float>.self)
            for k in 0..<tile {
                acc = LaneMath.fusedMultiplyAdd(weights[k],
                                                            UnsafeRawPointer(valueTile + k * valueLength + d).loadUnaligned(as: SIMD8<Float>.self), acc)
            }
            o.storeBytes(of: acc, as: SIMD8<Float>.self)
            d += 8
        }
        while d < valueLength {
            var acc = output[d]
            for k in 0..<tile { acc = LaneMath.fusedMultiplyAdd(valueTile[k * valueLength + d], weights[k], acc) }
            output[d] = acc
            d += 1
        }
    }

    /// The sum of 16 lanes (`low` = lanes 0…7) in the order of _mm512_reduce_add_ps: halves of
    /// 8, of 4, then lanes 0+2 and 1+3.
    @inline(__always)
    static func reduceAdd16(_ low: SIMD8<Float>, _ high: SIMD8<Float>) -> Float {
        let a = high + low
        let b = a.highHalf + a.lowHalf
        return (b[0] + b[2]) + (b[1] + b[3])
    }
}
