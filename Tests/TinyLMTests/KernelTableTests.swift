import Foundation
import Testing
@testable import TinyLM

/// Every kernel of the table (Kernels/KernelTable.swift) that this build has gives its format's
/// scalar reference's bits, for every order llama.cpp uses: single tokens and batches of
/// 3, 5 (a GEMM group and a GEMV tail), 8 and 11 (tiled for the K-quants), row counts that are
/// and are not a multiple of 8 (repacking) and of 4 (the SIMD kernels' groups), and rows split
/// into two chunks as the executor splits them. The natively built SIMD128 kernels are checked
/// here too (they are what the wasm module runs); the relaxed-SIMD ones in Chromium
/// (Tests/browser/test_relaxed_simd.py).
@Suite struct KernelTableTests {
    typealias F = KernelFixtures

    static let formats: [TensorType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// Rows `rows` (in two chunks) × a batch, through the kernels of `isa`.
    static func run(_ isa: KernelISA, _ weight: WeightMatrix, x: [Float], batch: Int, scratch: MatmulScratch) -> [Float] {
        var output = [Float](repeating: .nan, count: batch * weight.rows)
        x.withUnsafeBufferPointer { xp in
            MatrixMultiply.quantizeActivations(MatrixMultiply.activationFormat(weight.type), weight.columns, xp.baseAddress!, weight.columns,
                                               batch, scratch, SerialExecutor())
        }
        output.withUnsafeMutableBufferPointer { op in
            let job = KernelJob(weight: weight, batch: batch, totalTokens: batch, firstToken: 0, scratch: scratch, scratchToken: 0,
                                output: op.baseAddress!, outputStride: weight.rows)
            let split = weight.rows / 2 / 4 * 4
            KernelTable.multiply(job, rows: 0..<split, chunk: 0, isa: isa)
            KernelTable.multiply(job, rows: split..<weight.rows, chunk: 1, isa: isa)
        }
        return output
    }

    @Test(arguments: formats, [48, 45])
    func everyKernelGivesTheReferenceBits(type: TensorType, rows: Int) {
        let columns = type.blockElements == 256 ? 512 : 160
        var rng = F.RNG(seed: 29 &+ UInt64(rows) &+ UInt64(type.rawValue) << 8)
        let weights = F.randomBlocks(type, blocks: rows * columns / type.blockElements, rng: &rng)
        let scratch = MatmulScratch(maxColumns: columns, maxBatch: 11, workers: 2)
        let isas = KernelISA.allCases.filter { $0 != .reference && KernelTable.has($0) }
        #expect(isas.contains(.simd128))
        weights.withUnsafeBytes { w in
            let weight = WeightMatrix(name: "test", type: type, rows: rows, columns: columns, data: w.baseAddress!)
            for batch in [1, 3, 5, 8, 11] {
                let x = MatrixMultiplyTests.activations(batch: batch, columns: columns, stride: columns, seed: UInt64(batch))
                let reference = Self.run(.reference, weight, x: x, batch: batch, scratch: scratch)
                for isa in isas {
                    let output = Self.run(isa, weight, x: x, batch: batch, scratch: scratch)
                    var mismatches = 0
                    for i in 0..<output.count where output[i].bitPattern != reference[i].bitPattern {
                        if mismatches < 3 {
                            Issue.record("\(type.name) \(isa) \(rows) rows, batch \(batch), token \(i / rows), row \(i % rows): \(output[i]) vs reference \(reference[i])")
                        }
                        mismatches += 1
                    }
                    #expect(mismatches == 0, "\(type.name) \(isa) \(rows) rows, batch \(batch): \(mismatches) results differ from the reference")
                }
            }
        }
    }
}
