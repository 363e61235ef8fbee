import Foundation
import Testing
import TinyLM

/// The 32-value formats add in the order of llama.cpp's vec_dot kernels (vec_dot_q8_0_q8_0,
/// vec_dot_q5_0_q8_0, vec_dot_q4_0_q8_0, vec_dot_q4_1_q8_1, vec_dot_q5_1_q8_1) and tinyBLAS, or,
/// for Q4_0 matrices whose row count is a multiple of 8, of the repacked Q4_0 GEMM/GEMV
/// (Kernels/SummationOrder.swift). This restates those orders as scalar loops over the decoded
/// integers and checks MatrixMultiply against them bit for bit, for a single token (decode) and
/// for batches (prompts), with row counts that do and do not split into groups of four (the
/// AVX2 kernels take four rows at a time) and of eight (repacking).
@Suite struct LlamaCppOrderSymmetricTests {
    typealias F = KernelFixtures

    static func f16(_ b: ArraySlice<UInt8>, _ offset: Int) -> Float {
        FP16.toFloat(UInt16(b[b.startIndex + offset]) | UInt16(b[b.startIndex + offset + 1]) << 8)
    }

    /// A block's 32 integer values (q for Q8_0, Q4_1, Q5_1; q − 16 for Q5_0; q − 8 for Q4_0), its
    /// scale d and, for Q4_1/Q5_1, its minimum m.
    static func decode(_ type: TensorType, _ b: ArraySlice<UInt8>) -> (d: Float, m: Float, q: [Int32]) {
        let o = b.startIndex
        let d = f16(b, 0)
        func nibble(_ at: Int, _ i: Int) -> Int32 { i < 16 ? Int32(b[o + at + i] & 15) : Int32(b[o + at + i - 16] >> 4) }
        func bits(_ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[o + at + $1]) << (8 * UInt32($1)) } }
        switch type {
        case .q8_0: return (d, 0, (0..<32).map { Int32(Int8(bitPattern: b[o + 2 + $0])) })
        case .q4_0: return (d, 0, (0..<32).map { nibble(2, $0) - 8 })
        case .q4_1: return (d, f16(b, 2), (0..<32).map { nibble(4, $0) })
        case .q5_1: return (d, f16(b, 2), (0..<32).map { nibble(8, $0) | Int32((bits(4) >> UInt32($0)) & 1) << 4 })
        default: return (d, 0, (0..<32).map { nibble(6, $0) | Int32((bits(2) >> UInt32($0)) & 1) << 4 - 16 })
        }
    }

    /// vec_dot: eight lanes of four products each, acc[l] = fma(d_w·d_a, lane, acc[l]);
    /// hsum_float_8, plus Σ fma(m_w, s_a) for Q4_1/Q5_1.
    static func vecDot(_ type: TensorType, _ row: ArraySlice<UInt8>, _ q: [Int8], _ d: [Float], _ s: [Float]) -> Float {
        var acc = [Float](repeating: 0, count: 8)
        var minSum: Float = 0
        for b in 0..<d.count {
            let w = decode(type, row[row.startIndex + b * type.blockBytes ..< row.startIndex + (b + 1) * type.blockBytes])
            for l in 0..<8 {
                var lane: Int32 = 0
                for k in 0..<4 { lane += w.q[4 * l + k] * Int32(q[32 * b + 4 * l + k]) }
                acc[l] = acc[l].addingProduct(w.d * d[b], Float(lane))
            }
            minSum = minSum.addingProduct(w.m, s[b])
        }
        let sum = ((acc[4] + acc[0]) + (acc[6] + acc[2])) + ((acc[5] + acc[1]) + (acc[7] + acc[3]))
        return type == .q4_1 || type == .q5_1 ? sum + minSum : sum
    }

    /// The repacked Q4_0 GEMM and GEMV: per block, acc = fma(Σ q·a, d_w·d_a, acc).
    static func repacked(_ row: ArraySlice<UInt8>, _ q: [Int8], _ d: [Float]) -> Float {
        var acc: Float = 0
        for b in 0..<d.count {
            let w = decode(.q4_0, row[row.startIndex + b * 18 ..< row.startIndex + (b + 1) * 18])
            var sum: Int32 = 0
            for i in 0..<32 { sum += w.q[i] * Int32(q[32 * b + i]) }
            acc = acc.addingProduct(Float(sum), w.d * d[b])
        }
        return acc
    }

    @Test(arguments: [TensorType.q8_0, .q5_0, .q4_0, .q4_1, .q5_1], [48, 45])
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
                var s = [Float](repeating: 0, count: columns / 32)
                x.withUnsafeBufferPointer { xp in
                    Q8_1.quantizeActivations(xp.baseAddress! + t * columns, count: columns, q8: &q, q: &q16, d: &d, s: &s)
                }
                for r in 0..<rows {
                    let row = weights[r * rowBytes ..< (r + 1) * rowBytes]
                    // Q4_0 matrices of 8k rows are repacked (GEMM and GEMV add alike); the rest take
                    // vec_dot (or tinyBLAS, in the same order).
                    let want = type == .q4_0 && rows % 8 == 0 ? Self.repacked(row, q, d) : Self.vecDot(type, row, q, d, s)
                    #expect(output[t * rows + r].bitPattern == want.bitPattern,
                            "\(type.name) \(rows) rows, batch \(batch), token \(t), row \(r): \(output[t * rows + r]) vs \(want)")
                }
            }
        }
    }
}
