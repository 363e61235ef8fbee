import Foundation
import Testing
@testable import TinyLM

/// Bit-identity with llama.cpp itself, kernel by kernel: Tests/vectors/llama-kernels holds
/// random matrices in every weight format TinyLM reads, activations, and what llama.cpp's CPU
/// backend computed for them at batch sizes 1…8, 16 and 64 (made by
/// scripts/kernel-vectors/make.py; manifest.json says where llama.cpp put each matrix —
/// repacked or not). MatrixMultiply must give the same bits for every batch, split into passes
/// and threads, and so must every kernel of the table this build has.
@Suite struct KernelVectorTests {
    static let directory = TestSupport.repoRoot.appendingPathComponent("Tests/vectors/llama-kernels")

    struct Manifest: Decodable {
        struct Matrix: Decodable {
            let type: String
            let rows: Int
            let buffer: String
        }
        let columns: Int
        let batches: [Int]
        let matrices: [Matrix]
    }

    static func manifest() throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: directory.appendingPathComponent("manifest.json")))
    }

    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func type(named name: String) throws -> TensorType {
        guard let type = TensorType.allCases.first(where: { $0.name.lowercased() == name.lowercased() }) else {
            throw TestSupport.Missing(description: "unknown type \(name) in manifest.json")
        }
        return type
    }

    @Test func everyMatrixOfTheManifestIsHere() throws {
        let manifest = try Self.manifest()
        let types = Set(try manifest.matrices.map { try Self.type(named: $0.type) })
        #expect(types == Set(MatrixMultiplyTests.quantizedFormats))
        #expect(manifest.batches.contains(1) && manifest.batches.contains(64))
    }

    @Test(arguments: MatrixMultiplyTests.quantizedFormats)
    func resultsAreLlamaCppBits(type: TensorType) throws {
        let manifest = try Self.manifest()
        let activations = try Self.floats("activations.f32")
        let columns = manifest.columns
        for matrix in manifest.matrices where try Self.type(named: matrix.type) == type {
            let rows = matrix.rows
            // Where llama.cpp put the matrix is what SummationOrder assumes.
            #expect((matrix.buffer == "CPU_REPACK") == SummationOrder.isRepacked(type, rows: rows), "\(type.name) \(rows) rows: \(matrix.buffer)")
            let weights = try Data(contentsOf: Self.directory.appendingPathComponent("\(matrix.type)-r\(rows).weights"))
            let expected = try Self.floats("\(matrix.type)-r\(rows).out")
            #expect(weights.count == rows * columns / type.blockElements * type.blockBytes)
            try weights.withUnsafeBytes { w in
                let weight = WeightMatrix(name: "test", type: type, rows: rows, columns: columns, data: w.baseAddress!)
                var offset = 0
                for batch in manifest.batches {
                    let want = Array(expected[offset ..< offset + batch * rows])
                    offset += batch * rows
                    let x = Array(activations[0 ..< batch * columns])
                    // The public path: the whole batch at once on two threads, and in passes of 6.
                    for (maxBatch, executor) in [(64, DispatchExecutor(concurrency: 2) as any ComputeExecutor), (6, ReverseOrderExecutor())] {
                        var got = [Float](repeating: .nan, count: batch * rows)
                        let scratch = MatmulScratch(maxColumns: columns, maxBatch: maxBatch, workers: executor.concurrency)
                        x.withUnsafeBufferPointer { xp in
                            got.withUnsafeMutableBufferPointer { op in
                                MatrixMultiply.multiply(weight, input: xp.baseAddress!, inputStride: columns, batch: batch,
                                                        output: op.baseAddress!, outputStride: rows, scratch: scratch, executor: executor)
                            }
                        }
                        try Self.compare(got, want, "\(type.name) \(rows) rows, batch \(batch), passes of \(maxBatch)")
                    }
                    // Each kernel of the table, the scalar reference included.
                    for isa in KernelISA.allCases where KernelTable.has(isa) {
                        let scratch = MatmulScratch(maxColumns: columns, maxBatch: batch, workers: 2)
                        let got = KernelTableTests.run(isa, weight, x: x, batch: batch, scratch: scratch)
                        try Self.compare(got, want, "\(type.name) \(isa) \(rows) rows, batch \(batch)")
                    }
                }
                #expect(offset == expected.count)
            }
        }
    }

    static func compare(_ got: [Float], _ want: [Float], _ what: String) throws {
        let differing = zip(got, want).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
        if let first = differing.first {
            Issue.record("\(what): \(differing.count) of \(want.count) results differ from llama.cpp's, first at \(first.offset): \(first.element.0) vs \(first.element.1)")
        }
    }
}
