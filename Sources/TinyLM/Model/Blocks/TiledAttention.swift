#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

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
    /// transposed; positions past `count` are zeros (their weight is 0). Keys go eight
    /// positions × eight dimensions at a time: an 8 × 8 transposition of the f16 bits
    /// (transposed8x8), then one conversion per dimension's eight positions.
    private func loadTiles(kvHead: Int, first: Int, count: Int, cache: KVCache,
                           keyTile: UnsafeMutablePointer<Float>, valueTile: UnsafeMutablePointer<Float>) {
        let tile = Self.tile
        let rowStride = cache.keyWidth
        let grouped = count / 8 * 8
        var k = 0
        while k < grouped {
            let rows = cache.key(layer: layer, position: first + k) + kvHead * keyLength
            var d = 0
            while d + 8 <= keyLength {
                @inline(__always) func row(_ i: Int) -> SIMD8<UInt16> {
                    UnsafeRawPointer(rows + i * rowStride + d).loadUnaligned(as: SIMD8<UInt16>.self)
                }
                let columns = transposed8x8(row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7))
                let out = keyTile + d * tile + k
                Self.store8(Self.toFloat8(columns.0), out)
                Self.store8(Self.toFloat8(columns.1), out + tile)
                Self.store8(Self.toFloat8(columns.2), out + 2 * tile)
                Self.store8(Self.toFloat8(columns.3), out + 3 * tile)
                Self.store8(Self.toFloat8(columns.4), out + 4 * tile)
                Self.store8(Self.toFloat8(columns.5), out + 5 * tile)
                Self.store8(Self.toFloat8(columns.6), out + 6 * tile)
                Self.store8(Self.toFloat8(columns.7), out + 7 * tile)
                d += 8
            }
            while d < keyLength {
                for i in 0..<8 { keyTile[d * tile + k + i] = FP16.toFloat(rows[i * rowStride + d]) }
                d += 1
            }
            k += 8
        }
        for k in grouped..<tile {
            guard k < count else {
                for d in 0..<keyLength { keyTile[d * tile + k] = 0 }
                continue
            }
            let keyRow = cache.key(layer: layer, position: first + k) + kvHead * keyLength
            for d in 0..<keyLength { keyTile[d * tile + k] = FP16.toFloat(keyRow[d]) }
        }
        for k in 0..<tile {
            let value = valueTile + k * valueLength
            guard k < count else {
                value.update(repeating: 0, count: valueLength)
                continue
            }
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
            var rowA = Chains32(), rowB = Chains32()
            var keys = keyTile + strip
            for d in 0..<keyLength {
                Chains32.add(a.query[d], to: &rowA, b.query[d], to: &rowB, times: keys)
                keys += tile
            }
            rowA.scaled(by: scoreScale).store(weightsA + strip)
            rowB.scaled(by: scoreScale).store(weightsB + strip)
            strip += 32
        }
        softmax(a, weights: weightsA, first: first)
        softmax(b, weights: weightsB, first: first)
        // Weighted values, 32 output elements of both rows at a time: per element a chain over
        // the tile's positions.
        var d = 0
        while d + 32 <= valueLength {
            var rowA = Chains32(loading: a.output + d), rowB = Chains32(loading: b.output + d)
            var values = valueTile + d
            for k in 0..<tile {
                Chains32.add(weightsA[k], to: &rowA, weightsB[k], to: &rowB, times: values)
                values += valueLength
            }
            rowA.store(a.output + d)
            rowB.store(b.output + d)
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
            var row = Chains32()
            var keys = keyTile + strip
            for d in 0..<keyLength {
                row.add(a.query[d], times: keys)
                keys += tile
            }
            row.scaled(by: scoreScale).store(weights + strip)
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
            var row = Chains32(loading: output + d)
            var values = valueTile + d
            for k in 0..<tile {
                row.add(weights[k], times: values)
                values += valueLength
            }
            row.store(output + d)
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

    /// 32 independent chains of fused multiply-adds (four eight-lane accumulators) of one row:
    /// the block both halves of `attendTile` repeat, scores over d and weighted values over
    /// positions.
    struct Chains32 {
        var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()

        init() {}

        @inline(__always)
        init(loading p: UnsafeMutablePointer<Float>) {
            (c0, c1, c2, c3) = (Attention.load8(p), Attention.load8(p + 8), Attention.load8(p + 16), Attention.load8(p + 24))
        }

        @inline(__always)
        func store(_ p: UnsafeMutablePointer<Float>) {
            Attention.store8(c0, p)
            Attention.store8(c1, p + 8)
            Attention.store8(c2, p + 16)
            Attention.store8(c3, p + 24)
        }

        @inline(__always)
        func scaled(by factor: Float) -> Chains32 {
            var r = Chains32()
            (r.c0, r.c1, r.c2, r.c3) = (c0 * factor, c1 * factor, c2 * factor, c3 * factor)
            return r
        }

        /// chain[i] += x·p[i], fused, for i < 32.
        @inline(__always)
        mutating func add(_ x: Float, times p: UnsafePointer<Float>) {
            c0 = LaneMath.fusedMultiplyAdd(x, Attention.load8(p), c0)
            c1 = LaneMath.fusedMultiplyAdd(x, Attention.load8(p + 8), c1)
            c2 = LaneMath.fusedMultiplyAdd(x, Attention.load8(p + 16), c2)
            c3 = LaneMath.fusedMultiplyAdd(x, Attention.load8(p + 24), c3)
        }

        /// Two rows against the same 32 lanes, loaded once: a += x·p, b += y·p.
        @inline(__always)
        static func add(_ x: Float, to a: inout Chains32, _ y: Float, to b: inout Chains32, times p: UnsafePointer<Float>) {
            let p0 = Attention.load8(p), p1 = Attention.load8(p + 8), p2 = Attention.load8(p + 16), p3 = Attention.load8(p + 24)
            a.c0 = LaneMath.fusedMultiplyAdd(x, p0, a.c0)
            a.c1 = LaneMath.fusedMultiplyAdd(x, p1, a.c1)
            a.c2 = LaneMath.fusedMultiplyAdd(x, p2, a.c2)
            a.c3 = LaneMath.fusedMultiplyAdd(x, p3, a.c3)
            b.c0 = LaneMath.fusedMultiplyAdd(y, p0, b.c0)
            b.c1 = LaneMath.fusedMultiplyAdd(y, p1, b.c1)
            b.c2 = LaneMath.fusedMultiplyAdd(y, p2, b.c2)
            b.c3 = LaneMath.fusedMultiplyAdd(y, p3, b.c3)
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
