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
///
/// Only those chains fix the bits, so the work is blocked for speed around them the way
/// llama.cpp's simd_gemm blocks it: two query rows at a time (any tokens, any heads of the
/// key/value head) share every key and value load, and each row keeps four or eight
/// independent accumulators, so the fused multiply-adds are not waiting on one another.
extension Attention {
    static let tiledRows = 64
    static let tile = 64

    /// Floats of an attention slot (InferenceState.attentionSlot) for this path: the key tile
    /// (transposed: dimension-major, positions contiguous), the value tile, the weights of two
    /// rows, and the running maximum and sum of every (token, head) of a batch.
    static func tiledSlotFloats(keyLength: Int, valueLength: Int, heads: Int, maxBatch: Int) -> Int {
        tile * (keyLength + valueLength) + 2 * tile + 2 * heads * maxBatch
    }

    /// One query row's part in a tile: its query, its output row and online-softmax state, and
    /// the cache positions it sees.
    struct TileRow {
        let query: UnsafePointer<Float>
        let output: UnsafeMutablePointer<Float>
        let maximum: UnsafeMutablePointer<Float>
        let sum: UnsafeMutablePointer<Float>
        let visible: ClosedRange<Int>
    }

    /// The tokens `tokens` (contiguous) of the batch, every head; keys and values of the whole
    /// batch are cached already. `queries` + t·qStride is token t's query row; outputs go to
    /// state.attended like `attend`'s.
    func attendTiled(tokens: Range<Int>, queries: UnsafeMutablePointer<Float>, qStride: Int, startPosition: Int,
                     cache: KVCache, state: InferenceState, scratch: UnsafeMutablePointer<Float>) {
        guard !tokens.isEmpty else { return }
        let tile = Self.tile
        let keyTile = scratch, valueTile = keyTile + tile * keyLength, weights = valueTile + tile * valueLength
        let maxima = weights + 2 * tile, sums = maxima + tokens.count * headCount
        let groupSize = headCount / kvHeadCount
        let queryScale: Float = scalesQueries ? scale : 1, scoreScale: Float = scalesQueries ? 1 : scale
        let outputStride = headCount * valueLength
        for t in tokens {
            for h in 0..<headCount {
                let q = queries + t * qStride + h * keyLength
                // ggml_scale's product, where the graph scales the queries (Gemma, Phi-3).
                if queryScale != 1 { for d in 0..<keyLength { q[d] *= queryScale } }
                (state.attended + t * outputStride + h * valueLength).update(repeating: 0, count: valueLength)
                maxima[(t - tokens.lowerBound) * headCount + h] = -Float.infinity
                sums[(t - tokens.lowerBound) * headCount + h] = 0
            }
        }
        let lastPosition = startPosition + tokens.upperBound - 1
        let firstPosition = startPosition + tokens.lowerBound
        // Tiles wholly before every row's window are skipped by every row.
        let firstTile = window > 0 ? Swift.max(0, firstPosition - window + 1) / tile * tile : 0
        for kvHead in 0..<kvHeadCount {
            var first = firstTile
            while first <= lastPosition {
                let cached = Swift.min(tile, lastPosition + 1 - first)
                loadTiles(kvHead: kvHead, first: first, count: cached, cache: cache, keyTile: keyTile, valueTile: valueTile)
                // The rows that see this tile, two at a time.
                var pending: TileRow? = nil
                for t in tokens {
                    let position = startPosition + t
                    let lowest = Swift.max(window > 0 ? position - window + 1 : 0, first)
                    let highest = Swift.min(position, first + cached - 1)
                    // A tile this row sees nothing of leaves its state as it is.
                    guard lowest <= highest else { continue }
                    for head in kvHead * groupSize..<(kvHead + 1) * groupSize {
                        let slot = (t - tokens.lowerBound) * headCount + head
                        let row = TileRow(query: queries + t * qStride + head * keyLength,
                                          output: state.attended + t * outputStride + head * valueLength,
                                          maximum: maxima + slot, sum: sums + slot, visible: lowest...highest)
                        if let other = pending {
                            attendTile(other, row, first: first, scoreScale: scoreScale, keyTile: keyTile, valueTile: valueTile,
                                       weights: weights)
                            pending = nil
                        } else {
                            pending = row
                        }
                    }
                }
                if let row = pending {
                    attendTile(row, first: first, scoreScale: scoreScale, keyTile: keyTile, valueTile: valueTile, weights: weights)
                }
                first += tile
            }
        }
        for t in tokens {
            for head in 0..<headCount {
                let sum = sums[(t - tokens.lowerBound) * headCount + head]
                let inverse: Float = sum == 0 ? 0 : 1 / sum
                let out = state.attended + t * outputStride + head * valueLength
                for d in 0..<valueLength { out[d] *= inverse }
            }
        }
    }

    /// Token ranges for `parts` workers with about equal attention work: a row's work grows with
    /// the positions it sees (all earlier ones, or its window).
    func balancedTokenSplit(batch: Int, startPosition: Int, part: Int, parts: Int) -> Range<Int> {
        func work(_ t: Int) -> Int {
            let seen = startPosition + t + 1
            return window > 0 ? Swift.min(seen, window) : seen
        }
        var total = 0
        for t in 0..<batch { total += work(t) }
        func boundary(_ p: Int) -> Int {
            if p <= 0 { return 0 }
            if p >= parts { return batch }
            let target = total * p / parts
            var running = 0, t = 0
            while t < batch && running + work(t) / 2 < target { running += work(t); t += 1 }
            return t
        }
        return boundary(part)..<boundary(part + 1)
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

    /// Two query rows against one tile of keys and values: see the type's comment.
    private func attendTile(_ a: TileRow, _ b: TileRow, first: Int, scoreScale: Float, keyTile: UnsafePointer<Float>,
                            valueTile: UnsafePointer<Float>, weights: UnsafeMutablePointer<Float>) {
        let tile = Self.tile
        let weightsA = weights, weightsB = weights + tile
        // Scores, 32 positions of both rows at a time: eight independent chains over d.
        var strip = 0
        while strip < tile {
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>()
            var keys = keyTile + strip
            for d in 0..<keyLength {
                let k0 = Self.load8(keys), k1 = Self.load8(keys + 8), k2 = Self.load8(keys + 16), k3 = Self.load8(keys + 24)
                keys += tile
                let x = a.query[d], y = b.query[d]
                a0 = LaneMath.fusedMultiplyAdd(x, k0, a0)
                a1 = LaneMath.fusedMultiplyAdd(x, k1, a1)
                a2 = LaneMath.fusedMultiplyAdd(x, k2, a2)
                a3 = LaneMath.fusedMultiplyAdd(x, k3, a3)
                b0 = LaneMath.fusedMultiplyAdd(y, k0, b0)
                b1 = LaneMath.fusedMultiplyAdd(y, k1, b1)
                b2 = LaneMath.fusedMultiplyAdd(y, k2, b2)
                b3 = LaneMath.fusedMultiplyAdd(y, k3, b3)
            }
            Self.store8(a0 * scoreScale, weightsA + strip)
            Self.store8(a1 * scoreScale, weightsA + strip + 8)
            Self.store8(a2 * scoreScale, weightsA + strip + 16)
            Self.store8(a3 * scoreScale, weightsA + strip + 24)
            Self.store8(b0 * scoreScale, weightsB + strip)
            Self.store8(b1 * scoreScale, weightsB + strip + 8)
            Self.store8(b2 * scoreScale, weightsB + strip + 16)
            Self.store8(b3 * scoreScale, weightsB + strip + 24)
            strip += 32
        }
        softmax(a, weights: weightsA, first: first)
        softmax(b, weights: weightsB, first: first)
        // Weighted values, 32 output elements of both rows at a time: per element a chain over
        // the tile's positions.
        var d = 0
        while d + 32 <= valueLength {
            var a0 = Self.load8(a.output + d), a1 = Self.load8(a.output + d + 8)
            var a2 = Self.load8(a.output + d + 16), a3 = Self.load8(a.output + d + 24)
            var b0 = Self.load8(b.output + d), b1 = Self.load8(b.output + d + 8)
            var b2 = Self.load8(b.output + d + 16), b3 = Self.load8(b.output + d + 24)
            var values = valueTile + d
            for k in 0..<tile {
                let v0 = Self.load8(values), v1 = Self.load8(values + 8), v2 = Self.load8(values + 16), v3 = Self.load8(values + 24)
                values += valueLength
                let x = weightsA[k], y = weightsB[k]
                a0 = LaneMath.fusedMultiplyAdd(x, v0, a0)
                a1 = LaneMath.fusedMultiplyAdd(x, v1, a1)
                a2 = LaneMath.fusedMultiplyAdd(x, v2, a2)
                a3 = LaneMath.fusedMultiplyAdd(x, v3, a3)
                b0 = LaneMath.fusedMultiplyAdd(y, v0, b0)
                b1 = LaneMath.fusedMultiplyAdd(y, v1, b1)
                b2 = LaneMath.fusedMultiplyAdd(y, v2, b2)
                b3 = LaneMath.fusedMultiplyAdd(y, v3, b3)
            }
            Self.store8(a0, a.output + d)
            Self.store8(a1, a.output + d + 8)
            Self.store8(a2, a.output + d + 16)
            Self.store8(a3, a.output + d + 24)
            Self.store8(b0, b.output + d)
            Self.store8(b1, b.output + d + 8)
            Self.store8(b2, b.output + d + 16)
            Self.store8(b3, b.output + d + 24)
            d += 32
        }
        accumulateValues(weightsA, valueTile: valueTile, into: a.output, from: d)
        accumulateValues(weightsB, valueTile: valueTile, into: b.output, from: d)
    }

    /// One query row against one tile of keys and values (the odd row out of the pairs).
    private func attendTile(_ a: TileRow, first: Int, scoreScale: Float, keyTile: UnsafePointer<Float>,
                            valueTile: UnsafePointer<Float>, weights: UnsafeMutablePointer<Float>) {
        let tile = Self.tile
        var strip = 0
        while strip < tile {
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var keys = keyTile + strip
            for d in 0..<keyLength {
                let x = a.query[d]
                a0 = LaneMath.fusedMultiplyAdd(x, Self.load8(keys), a0)
                a1 = LaneMath.fusedMultiplyAdd(x, Self.load8(keys + 8), a1)
                a2 = LaneMath.fusedMultiplyAdd(x, Self.load8(keys + 16), a2)
                a3 = LaneMath.fusedMultiplyAdd(x, Self.load8(keys + 24), a3)
                keys += tile
            }
            Self.store8(a0 * scoreScale, weights + strip)
            Self.store8(a1 * scoreScale, weights + strip + 8)
            Self.store8(a2 * scoreScale, weights + strip + 16)
            Self.store8(a3 * scoreScale, weights + strip + 24)
            strip += 32
        }
        softmax(a, weights: weights, first: first)
        accumulateValues(weights, valueTile: valueTile, into: a.output, from: 0)
    }

    /// The row's scores → its weights: the mask, the running maximum (rescaling its output and
    /// sum when the maximum moves) and the tile's share of the sum.
    @inline(__always)
    private func softmax(_ row: TileRow, weights: UnsafeMutablePointer<Float>, first: Int) {
        let tile = Self.tile
        // The mask: 0 added where the row sees the position, −∞ elsewhere.
        var tileMaximum = -Float.infinity
        if row.visible.lowerBound <= first && row.visible.upperBound >= first + tile - 1 {
            var maxima = SIMD8<Float>(repeating: -.infinity)
            var k = 0
            while k < tile {
                let w = Self.load8(weights + k) + 0
                Self.store8(w, weights + k)
                // Spelled out: the generic pointwiseMax and max() were calls, not instructions.
                maxima.replace(with: w, where: w .> maxima)
                k += 8
            }
            for lane in 0..<8 { tileMaximum = Swift.max(tileMaximum, maxima[lane]) }
        } else {
            for k in 0..<tile {
                if row.visible.contains(first + k) {
                    weights[k] = weights[k] + 0
                    tileMaximum = Swift.max(tileMaximum, weights[k])
                } else {
                    weights[k] = -.infinity
                }
            }
        }
        let maximum = row.maximum.pointee
        let newMaximum = Swift.max(maximum, tileMaximum)
        if newMaximum > maximum {
            let rescale = Math.expf(maximum - newMaximum)
            var d = 0
            while d + 8 <= valueLength {
                Self.store8(Self.load8(row.output + d) * rescale, row.output + d)
                d += 8
            }
            while d < valueLength {
                row.output[d] *= rescale
                d += 1
            }
            row.sum.pointee *= rescale
        }
        row.maximum.pointee = newMaximum
        var total = 0.0
        var k = 0
        while k < tile {
            let low = FeedForward.expApprox(Self.load8(weights + k) - newMaximum)
            let high = FeedForward.expApprox(Self.load8(weights + k + 8) - newMaximum)
            Self.store8(low, weights + k)
            Self.store8(high, weights + k + 8)
            total += Double(Self.reduceAdd16(low, high))
            k += 16
        }
        row.sum.pointee = Float(Double(row.sum.pointee) + total)
    }

    /// output[d] for d ≥ `start`: each element one chain of fused multiply-adds over the tile's
    /// positions, 32 elements at a time (independent chains), then 8, then one.
    private func accumulateValues(_ weights: UnsafePointer<Float>, valueTile: UnsafePointer<Float>,
                                  into output: UnsafeMutablePointer<Float>, from start: Int) {
        let tile = Self.tile
        var d = start
        while d + 32 <= valueLength {
            var a0 = Self.load8(output + d), a1 = Self.load8(output + d + 8)
            var a2 = Self.load8(output + d + 16), a3 = Self.load8(output + d + 24)
            var values = valueTile + d
            for k in 0..<tile {
                let x = weights[k]
                a0 = LaneMath.fusedMultiplyAdd(x, Self.load8(values), a0)
                a1 = LaneMath.fusedMultiplyAdd(x, Self.load8(values + 8), a1)
                a2 = LaneMath.fusedMultiplyAdd(x, Self.load8(values + 16), a2)
                a3 = LaneMath.fusedMultiplyAdd(x, Self.load8(values + 24), a3)
                values += valueLength
            }
            Self.store8(a0, output + d)
            Self.store8(a1, output + d + 8)
            Self.store8(a2, output + d + 16)
            Self.store8(a3, output + d + 24)
            d += 32
        }
        while d + 8 <= valueLength {
            var acc = Self.load8(output + d)
            var values = valueTile + d
            for k in 0..<tile {
                acc = LaneMath.fusedMultiplyAdd(weights[k], Self.load8(values), acc)
                values += valueLength
            }
            Self.store8(acc, output + d)
            d += 8
        }
        while d < valueLength {
            var acc = output[d]
            for k in 0..<tile { acc = LaneMath.fusedMultiplyAdd(valueTile[k * valueLength + d], weights[k], acc) }
            output[d] = acc
            d += 1
        }
    }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store8(_ x: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: x, as: SIMD8<Float>.self)
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
