import Foundation
import Testing
@testable import TinyLM

/// The decode attention (Model/Blocks/DecodeAttention.swift) works in blocks of positions —
/// scores first, expf over lanes, the f16 accumulator in registers across a block — around the
/// chains that give llama.cpp's one-row flash attention its bits. These tests hold it, bit for
/// bit, to a plain statement of that arithmetic, one position at a time with glibc's expf, over
/// the real models' shapes and odd ones (head sizes with 8-, 4- and one-lane remainders, a
/// sliding window, scaled queries, ranges that end mid-block, any subset of a group's heads).
@Suite struct DecodeAttentionTests {
    struct Shape: Sendable, CustomTestStringConvertible {
        let heads: Int, kvHeads: Int, keyLength: Int, valueLength: Int
        let window: Int, scalesQueries: Bool
        let position: Int
        var testDescription: String {
            "\(heads)/\(kvHeads) heads, k\(keyLength) v\(valueLength), window \(window), at \(position)"
        }
    }

    static let shapes: [Shape] = [
        Shape(heads: 9, kvHeads: 3, keyLength: 64, valueLength: 64, window: 0, scalesQueries: false, position: 300),
        Shape(heads: 4, kvHeads: 1, keyLength: 256, valueLength: 256, window: 100, scalesQueries: true, position: 250),
        Shape(heads: 3, kvHeads: 3, keyLength: 44, valueLength: 44, window: 0, scalesQueries: false, position: 70),
        Shape(heads: 2, kvHeads: 1, keyLength: 40, valueLength: 75, window: 0, scalesQueries: false, position: 31),
        Shape(heads: 2, kvHeads: 1, keyLength: 64, valueLength: 66, window: 37, scalesQueries: false, position: 5),
    ]

    @Test(arguments: shapes)
    func blockedDecodeIsThePerPositionArithmetic(_ shape: Shape) throws {
        let (attention, config) = try TestSupport.attention(heads: shape.heads, kvHeads: shape.kvHeads, keyLength: shape.keyLength,
                                                            valueLength: shape.valueLength, window: shape.window,
                                                            scalesQueries: shape.scalesQueries)
        let state = InferenceState(config: config, contextLength: shape.position + 16, maxBatch: 1, executor: SerialExecutor())
        var values = TiledAttentionTests.Values()
        let kWidth = shape.kvHeads * shape.keyLength, vWidth = shape.kvHeads * shape.valueLength
        var k = [Float](repeating: 0, count: kWidth), v = [Float](repeating: 0, count: vWidth)
        for position in 0...shape.position {
            // Keys that drift upwards now and then, so the running maximum also moves late.
            let drift: Float = position % 53 == 0 ? 2 : 0
            for i in 0..<kWidth { k[i] = values.next(3) + drift }
            for i in 0..<vWidth { v[i] = values.next(1) }
            state.cache.store(layer: 0, position: position, keys: k, values: v)
        }
        let queries = (0..<shape.heads * shape.keyLength).map { _ in values.next(2) }
        let first = shape.window > 0 ? max(0, shape.position - shape.window + 1) : 0
        let groupSize = shape.heads / shape.kvHeads
        // Every position range ending at the query's (shorter ones end mid-block), and heads of
        // a group one at a time as well as all together.
        for end in [shape.position, shape.position - 1, first + 32, first] where end >= first && end <= shape.position {
            for together in Set([1, groupSize]) {
                var q = queries
                var out = [Float](repeating: 0, count: shape.heads * shape.valueLength)
                var h = 0
                while h < shape.heads {
                    let count = min(together, groupSize - h % groupSize)
                    q.withUnsafeMutableBufferPointer { qp in
                        out.withUnsafeMutableBufferPointer { op in
                            attention.attend(heads: count, query: qp.baseAddress! + h * shape.keyLength, kvHead: h / groupSize,
                                             positions: first...end, cache: state.cache,
                                             output: op.baseAddress! + h * shape.valueLength, scratch: state.attentionSlot(0))
                        }
                    }
                    h += count
                }
                let expected = reference(shape, queries: queries, positions: first...end, cache: state.cache)
                var differing = 0
                for i in out.indices where out[i].bitPattern != expected[i].bitPattern { differing += 1 }
                #expect(differing == 0, "positions \(first)...\(end), \(together) heads at once: \(differing) of \(out.count) differ")
            }
        }
    }

    /// llama.cpp's one-row flash attention for an f16 cache, one position at a time.
    func reference(_ shape: Shape, queries: [Float], positions: ClosedRange<Int>, cache: KVCache) -> [Float] {
        let groupSize = shape.heads / shape.kvHeads
        var output = [Float](repeating: 0, count: shape.heads * shape.valueLength)
        for h in 0..<shape.heads {
            let kvHead = h / groupSize
            let q = (0..<shape.keyLength).map { d in
                FP16.round(queries[h * shape.keyLength + d] * (shape.scalesQueries ? 0.125 : 1))
            }
            var out = [Float](repeating: 0, count: shape.valueLength)
            var maximum = -Float.infinity, sum: Float = 0
            var key = [Float](repeating: 0, count: shape.keyLength)
            for position in positions {
                for d in 0..<shape.keyLength { key[d] = FP16.toFloat(cache.key(layer: 0, position: position)[kvHead * shape.keyLength + d]) }
                let score = key.withUnsafeBufferPointer { k in
                    q.withUnsafeBufferPointer { Attention.scoreDot(k.baseAddress!, $0.baseAddress!, count: shape.keyLength) }
                } * (shape.scalesQueries ? 1 : 0.125)
                var rescale: Float = 1, weight: Float = 1
                if score > maximum {
                    rescale = Foundation.expf(maximum - score)
                    maximum = score
                    for d in 0..<shape.valueLength { out[d] = FP16.round(out[d] * rescale) }
                } else {
                    weight = Foundation.expf(score - maximum)
                }
                for d in 0..<shape.valueLength {
                    let value = FP16.toFloat(cache.value(layer: 0, position: position)[kvHead * shape.valueLength + d])
                    out[d] = FP16.round(out[d].addingProduct(value, weight))
                }
                sum = weight.addingProduct(sum, rescale)  // S·ms + vs, fused
            }
            let inverse: Float = sum == 0 ? 0 : 1 / sum
            for d in 0..<shape.valueLength { output[h * shape.valueLength + d] = out[d] * inverse }
        }
        return output
    }

    /// Math.expfInPlace (lanes) gives Math.expf's bits, which are glibc's: every 41st Float from
    /// −104 to 89 in runs of every length up to 9 (lane groups and their remainders), with
    /// arguments out of the polynomial's range (±inf, NaN, below −88) among them.
    @Test func expfOverLanesIsGlibcs() {
        var arguments: [Float] = []
        var bits = Float(-104).bitPattern
        while bits > Float(-0.0).bitPattern { arguments.append(Float(bitPattern: bits)); bits -= 41 }
        bits = 0
        while bits < Float(89).bitPattern { arguments.append(Float(bitPattern: bits)); bits += 41 }
        for (i, special) in [-Float.infinity, .infinity, .nan, -0.0, -87.9, -88.1, -103.97, 88.72, 88.73].enumerated() {
            arguments.insert(special, at: i * 1000 + 3)
        }
        var differing = 0
        var start = 0, length = 1
        while start < arguments.count {
            let count = min(length, arguments.count - start)
            var lanes = Array(arguments[start..<start + count])
            lanes.withUnsafeMutableBufferPointer { Math.expfInPlace($0.baseAddress!, count: count) }
            for i in 0..<count {
                let expected = Foundation.expf(arguments[start + i])
                if lanes[i].bitPattern != expected.bitPattern && !(lanes[i].isNaN && expected.isNaN) {
                    differing += 1
                    if differing <= 5 { Issue.record("x = \(arguments[start + i]): lanes \(lanes[i]), glibc \(expected)") }
                }
            }
            start += count
            length = length % 9 + 1
        }
        #expect(differing == 0, "\(differing) of \(arguments.count) differ")
    }
}
