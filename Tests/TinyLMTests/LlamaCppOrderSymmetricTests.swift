import Foundation
import Testing
import TinyLM

/// Q8_0 and Q5_0 (Gemma 3 and SmolLM2 use both) add in the order of llama.cpp's
/// vec_dot_q8_0_q8_0 / vec_dot_q5_0_q8_0 and tinyBLAS (LlamaCppOrderKernels.swift). This restates
/// that order as scalar loops over the decoded integers and checks MatrixMultiply against it bit
/// for bit, for a single token (decode) and for batches (prompts), with row counts that do and
/// do not split into groups of four (the AVX2 kernels take four rows at a time).
@Suite struct LlamaCppOrderSymmetricTests {
    typealias F = KernelFixtures

    /// A block's 32 signed values (q for Q8_0, q − 16 for Q5_0) and its scale.
    static func decode(_ type: TensorType, _ b: ArraySlice<UInt8>) -> (d: Float, q: [Int32]) {
        let o = b.startIndex
        let d = FP16.toFloat(UInt16(b[o]) | UInt16(b[o + 1]) << 8)
        if type == .q8_0 { return (d, (0..<32).map { Int32(Int8(bitPattern: b[o + 2 + $0])) }) }
        let qh = (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[o + 2 + $1]) << (8 * UInt32($1)) }
        let q = (0..<32).map { i -> Int32 in
            let nibble = i < 16 ? Int32(b[o + 6 + i] & 15) : Int32(b[o + 6 + i - 16] >> 4)
            return nibble | Int32((qh >> UInt32(i)) & 1) << 4 - 16
        }
        return (d, q)
    }

    /// Eight lanes of four products each, acc[l] = fma(d_w·d_a, lane, acc[l]); hsum_float_8.
    static func expected(_ type: TensorType, _ row: ArraySlice<UInt8>, _ q: [Int8], _ d: [Float]) -> Float {
        var acc = [Float](repeating: 0, count: 8)
        for b in 0..<d.count {
            let w = decode(type, row[row.startIndex + b * type.blockBytes ..< row.startIndex + (b + 1) * type.blockBytes])
            for l in 0..<8 {
                var lane: Int32 = 0
                for k in 0..<4 { lane += w.q[4 * l + k] * Int32(q[32 * b + 4 * l + k]) }
                acc[l] = acc[l].addingProduct(w.d * d[b], Float(lane))
            }
        }
        return ((acc[4] + acc[0]) + (acc[6] + acc[2])) + ((acc[5] + acc[1]) + (acc[7] + acc[3]))
    }

    @Test(arguments: [TensorType.q8_0, .q5_0], [48, 45])
    func kernelsAddInLlamaCppOrder(type: TensorType, rows: Int) {
        let columns = 160
        var rng = F.RNG(seed: 11 &+ UInt64(rows))
        var weights = F.randomBlocks(type, blocks: rows * columns / 32, rng: &rng)
        // Moderate scales: random f16 bit patterns include infinities and NaNs.
        for block in 0..<rows * columns / 32 {
            let bits = FP16.fromFloat(rng.float(0.001, 0.1))
            weights[block * type.blockBytes] = UInt8(bits & 0xFF)
            weights[block * type.blockBytes + 1] = UInt8(bits >> 8)
        }
        let rowBytes = columns / 32 * type.blockBytes
        for batch in [1, 3, 11] {
            let x = MatrixMultiplyTests.activations(batch: batch, columns: columns, stride: columns, seed: UInt64(batch))
            let output = MatrixMultiplyTests.multiplied(type, weights: weights, rows: rows, columns: columns, x: x, batch: batch,
                                                        maxBatch: 8)
            for t in 0..<batch {
                var q = [Int8](repeating: 0, count: columns)
                var q16 = [Int16](repeating: 0, count: columns)
                var d = [Float](repeating: 0, count: columns / 32)
                x.withUnsafeBufferPointer { xp in
                    Q8_0.quantizeActivations(xp.baseAddress! + t * columns, count: columns, q8: &q, q: &q16, d: &d, s: nil)
                }
                for r in 0..<rows {
                    let want = Self.expected(type, weights[r * rowBytes ..< (r + 1) * rowBytes], q, d)
                    #expect(output[t * rows + r].bitPattern == want.bitPattern,
                            "\(type.name) \(rows) rows, batch \(batch), token \(t), row \(r): \(output[t * rows + r]) vs \(want)")
                }
            }
        }
    }
}
