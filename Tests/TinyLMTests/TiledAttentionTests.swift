import Foundation
import Testing
@testable import TinyLM

/// The tiled prompt attention (Model/Blocks/TiledAttention.swift) blocks its work for speed —
/// pairs of query rows, several accumulators, tokens split between workers — around the float
/// chains that give llama.cpp's bits. These tests hold it, bit for bit, to a plain per-row
/// statement of that arithmetic (one row, one tile, one position at a time), over shapes the
/// real models have and odd ones (head sizes that are not multiples of 32 or 8, a sliding
/// window, a batch that starts mid-tile, queries scaled before attention, any token split).
@Suite struct TiledAttentionTests {
    struct Shape: Sendable, CustomTestStringConvertible {
        let heads: Int, kvHeads: Int, keyLength: Int, valueLength: Int
        let window: Int, scalesQueries: Bool
        let startPosition: Int, batch: Int
        var testDescription: String {
            "\(heads)/\(kvHeads) heads, k\(keyLength) v\(valueLength), window \(window), from \(startPosition) × \(batch)"
        }
    }

    static let shapes: [Shape] = [
        // SmolLM2's heads; rows of a key/value head pair up across tokens.
        Shape(heads: 9, kvHeads: 3, keyLength: 64, valueLength: 64, window: 0, scalesQueries: false, startPosition: 130, batch: 100),
        // Gemma 3's: one key/value head, scaled queries, a sliding window shorter than the context.
        Shape(heads: 4, kvHeads: 1, keyLength: 256, valueLength: 256, window: 100, scalesQueries: true, startPosition: 200, batch: 70),
        // Dimensions that leave 8-lane and one-lane remainders, different key and value lengths.
        Shape(heads: 3, kvHeads: 3, keyLength: 44, valueLength: 44, window: 0, scalesQueries: false, startPosition: 0, batch: 67),
        Shape(heads: 2, kvHeads: 1, keyLength: 40, valueLength: 75, window: 64, scalesQueries: false, startPosition: 37, batch: 90),
    ]

    /// A small deterministic generator (xorshift), so every run sees the same values.
    struct Values {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        mutating func next(_ spread: Float) -> Float {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * spread
        }
    }

    @Test(arguments: shapes)
    func tiledAttentionIsThePerRowArithmetic(_ shape: Shape) throws {
        let (attention, config) = try TestSupport.attention(heads: shape.heads, kvHeads: shape.kvHeads, keyLength: shape.keyLength,
                                                            valueLength: shape.valueLength, window: shape.window,
                                                            scalesQueries: shape.scalesQueries)
        let end = shape.startPosition + shape.batch
        let state = InferenceState(config: config, contextLength: end + 16, maxBatch: shape.batch, executor: SerialExecutor())
        var values = Values()
        let kWidth = shape.kvHeads * shape.keyLength, vWidth = shape.kvHeads * shape.valueLength
        var k = [Float](repeating: 0, count: kWidth), v = [Float](repeating: 0, count: vWidth)
        for position in 0..<end {
            for i in 0..<kWidth { k[i] = values.next(3) }
            for i in 0..<vWidth { v[i] = values.next(1) }
            state.cache.store(layer: 0, position: position, keys: k, values: v)
        }
        let qStride = shape.heads * shape.keyLength
        let queries = (0..<shape.batch * qStride).map { _ in values.next(2) }
        let expected = reference(shape, queries: queries, cache: state.cache)
        let outputWidth = shape.heads * shape.valueLength

        for parts in 1...3 {
            var q = queries
            var covered = 0
            for part in 0..<parts {
                let tokens = attention.balancedTokenSplit(batch: shape.batch, startPosition: shape.startPosition, part: part, parts: parts)
                #expect(tokens.lowerBound == covered, "token ranges must be contiguous")
                covered = tokens.upperBound
                q.withUnsafeMutableBufferPointer {
                    attention.attendTiled(tokens: tokens, queries: $0.baseAddress!, qStride: qStride, startPosition: shape.startPosition,
                                          cache: state.cache, state: state, scratch: state.attentionSlot(0))
                }
            }
            #expect(covered == shape.batch)
            var differing = 0
            for i in 0..<shape.batch * outputWidth where state.attended[i].bitPattern != expected[i].bitPattern { differing += 1 }
            #expect(differing == 0, "\(parts) parts: \(differing) of \(shape.batch * outputWidth) outputs differ")
        }
    }

    /// llama.cpp's tiled flash attention, one query row and one position at a time.
    func reference(_ shape: Shape, queries: [Float], cache: KVCache) -> [Float] {
        let tile = 64
        let end = shape.startPosition + shape.batch
        let groupSize = shape.heads / shape.kvHeads
        var output = [Float](repeating: 0, count: shape.batch * shape.heads * shape.valueLength)
        func key(_ position: Int, _ kvHead: Int, _ d: Int) -> Float {
            position < end ? FP16.toFloat(cache.key(layer: 0, position: position)[kvHead * shape.keyLength + d]) : 0
        }
        func value(_ position: Int, _ kvHead: Int, _ d: Int) -> Float {
            position < end ? FP16.toFloat(cache.value(layer: 0, position: position)[kvHead * shape.valueLength + d]) : 0
        }
        for t in 0..<shape.batch {
            let position = shape.startPosition + t
            let lowest = shape.window > 0 ? max(0, position - shape.window + 1) : 0
            for h in 0..<shape.heads {
                let kvHead = h / groupSize
                let q = (0..<shape.keyLength).map { d in
                    let x = queries[t * shape.heads * shape.keyLength + h * shape.keyLength + d]
                    return shape.scalesQueries ? x * 0.125 : x
                }
                var out = [Float](repeating: 0, count: shape.valueLength)
                var maximum = -Float.infinity, sum: Float = 0
                for first in stride(from: 0, to: end, by: tile) where first + tile - 1 >= lowest && first <= position {
                    var scores = [Float](repeating: 0, count: tile)
                    for j in 0..<tile {
                        var s: Float = 0
                        for d in 0..<shape.keyLength { s = s.addingProduct(q[d], key(first + j, kvHead, d)) }
                        s *= shape.scalesQueries ? 1 : 0.125
                        scores[j] = (lowest...position).contains(first + j) ? s + 0 : -.infinity
                    }
                    let newMaximum = max(maximum, scores.max()!)
                    if newMaximum > maximum {
                        let rescale = Math.expf(maximum - newMaximum)
                        for d in 0..<shape.valueLength { out[d] *= rescale }
                        sum *= rescale
                    }
                    maximum = newMaximum
                    var weights = [Float](repeating: 0, count: tile)
                    var total = 0.0
                    for group in stride(from: 0, to: tile, by: 16) {
                        var lanes = [Float](repeating: 0, count: 16)
                        for half in 0..<2 {
                            var x = SIMD8<Float>()
                            for i in 0..<8 { x[i] = scores[group + 8 * half + i] - newMaximum }
                            let e = FeedForward.expApprox(x)
                            for i in 0..<8 { lanes[8 * half + i] = e[i]; weights[group + 8 * half + i] = e[i] }
                        }
                        // _mm512_reduce_add_ps: halves of 8, of 4, then lanes 0+2 and 1+3.
                        let a = (0..<8).map { lanes[$0 + 8] + lanes[$0] }
                        let b = (0..<4).map { a[$0 + 4] + a[$0] }
                        total += Double((b[0] + b[2]) + (b[1] + b[3]))
                    }
                    sum = Float(Double(sum) + total)
                    for d in 0..<shape.valueLength {
                        var acc = out[d]
                        for j in 0..<tile { acc = acc.addingProduct(weights[j], value(first + j, kvHead, d)) }
                        out[d] = acc
                    }
                }
                let inverse: Float = sum == 0 ? 0 : 1 / sum
                for d in 0..<shape.valueLength {
                    output[(t * shape.heads + h) * shape.valueLength + d] = out[d] * inverse
                }
            }
        }
        return output
    }
}
