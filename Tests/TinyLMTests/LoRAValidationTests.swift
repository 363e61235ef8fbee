import Foundation
import Testing
@testable import TinyLM
import TinyLMHost

/// Adapter files that do not fit the model: each gets its own error kind, and the model stays
/// loaded and gives exactly its own logits afterwards. The base is the llama-smollm2 test model
/// (Tests/models); the adapters are written here with GGUFWriter.
@Suite struct LoRAValidationTests {
    /// Keeps test buffers alive as long as the adapters made from them.
    final class Bytes {
        let pointer: UnsafeMutableRawBufferPointer
        init(_ bytes: [UInt8]) {
            pointer = .allocate(byteCount: max(1, bytes.count), alignment: 64)
            pointer.copyMemory(from: UnsafeRawBufferPointer(start: bytes, count: bytes.count))
        }
        var view: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: pointer[0..<pointer.count]) }
        deinit { pointer.deallocate() }
    }

    static func model() throws -> Model {
        try TestSupport.model(TestSupport.testModelsRoot.appendingPathComponent("llama-smollm2.gguf").path)
    }

    /// `count` f16 values, small and seeded.
    static func halves(_ count: Int, seed: UInt64, magnitude: Float = 0.05) -> [UInt8] {
        var random = SeededRandom(seed: seed)
        var out: [UInt8] = []
        for _ in 0..<count {
            let value = (Float(random.next() % 2001) / 1000 - 1) * magnitude
            let bits = FP16.fromFloat(value)
            out.append(UInt8(bits & 0xFF))
            out.append(UInt8(bits >> 8))
        }
        return out
    }

    /// A valid rank-`rank` F16 adapter on blk.0.attn_q.weight and blk.1.ffn_down.weight.
    static func writer(_ model: Model, rank: Int = 4, zeroB: Bool = false) -> GGUFWriter {
        let c = model.config
        var w = GGUFWriter()
        w.metadata = [("general.type", .string("adapter")), ("general.architecture", .string("llama")),
                      ("adapter.type", .string("lora")), ("adapter.lora.alpha", .f32(8))]
        func pair(_ name: String, rows: Int, columns: Int, seed: UInt64) {
            w.tensors.append((name + ".lora_a", [columns, rank], .f16, halves(columns * rank, seed: seed)))
            w.tensors.append((name + ".lora_b", [rank, rows], .f16,
                              zeroB ? [UInt8](repeating: 0, count: 2 * rank * rows) : halves(rank * rows, seed: seed + 1)))
        }
        pair("blk.0.attn_q.weight", rows: c.queryDimension, columns: c.embeddingLength, seed: 1)
        pair("blk.1.ffn_down.weight", rows: c.embeddingLength, columns: c.feedForwardLength, seed: 3)
        return w
    }

    static func logits(_ model: Model, adapters: [ScaledAdapter] = []) throws -> [Float] {
        let session = try Session(model: model, contextLength: 32)
        try session.setAdapters(adapters)
        try session.evaluate([1, 2, 3, 50, 400, 7])
        return Array(session.logits)
    }

    @Test func aValidAdapterChangesTheLogits() throws {
        let model = try Self.model()
        let base = try Self.logits(model)
        let bytes = Bytes(Self.writer(model).bytes())
        let adapter = try LoRAAdapter(bytes: bytes.view, model: model)
        #expect(adapter.adaptedMatrixCount == 2)
        #expect(adapter.maxRank == 4)
        #expect(try Self.logits(model, adapters: [ScaledAdapter(adapter)]) != base)
        // B = 0 adds exactly nothing.
        let zero = Bytes(Self.writer(model, zeroB: true).bytes())
        #expect(try Self.logits(model, adapters: [ScaledAdapter(try LoRAAdapter(bytes: zero.view, model: model))]) == base)
    }

    @Test func eachMalformedAdapterGetsItsNamedError() throws {
        let model = try Self.model()
        let c = model.config
        let base = try Self.logits(model)
        typealias Edit = (inout GGUFWriter) -> Void
        func setMetadata(_ key: String, _ value: GGUFWriter.Value?) -> Edit {
            { w in
                w.metadata.removeAll { $0.0 == key }
                if let value { w.metadata.append((key, value)) }
            }
        }
        func replaceTensor(_ name: String, shape: [Int], type: TensorType = .f16) -> Edit {
            { w in
                let index = w.tensors.firstIndex { $0.name == name }!
                let count = shape.reduce(1, *)
                let data = type == .f16 ? Self.halves(count, seed: 9) : [UInt8](repeating: 0, count: count / 32 * 18)
                w.tensors[index] = (name, shape, type, data)
            }
        }
        let q = "blk.0.attn_q.weight"
        let cases: [(String, Edit, TinyLMError.Kind)] = [
            ("a model file, not an adapter", setMetadata("general.type", .string("model")), .notAnAdapter),
            ("no general.type", setMetadata("general.type", nil), .notAnAdapter),
            ("a control vector", setMetadata("adapter.type", .string("control_vector")), .notAnAdapter),
            ("another architecture", setMetadata("general.architecture", .string("qwen2")), .adapterArchitecture),
            ("a layer the model lacks", { w in
                w.tensors = w.tensors.map { ($0.name.replacingOccurrences(of: "blk.1.", with: "blk.9."), $0.shape, $0.type, $0.data) }
            }, .adapterTensor),
            ("a tensor with another suffix", { w in w.tensors[0].name = q + ".lora_c" }, .adapterTensor),
            ("lora_a without lora_b", { w in w.tensors.remove(at: 1) }, .adapterTensor),
            ("A wider than the matrix's input", replaceTensor(q + ".lora_a", shape: [c.embeddingLength + 32, 4]), .adapterShape),
            ("B taller than the matrix's output", replaceTensor(q + ".lora_b", shape: [4, c.queryDimension * 2]), .adapterShape),
            ("A and B swapped", { w in
                let a = w.tensors[0], b = w.tensors[1]
                w.tensors[0] = (a.name, b.shape, b.type, b.data)
                w.tensors[1] = (b.name, a.shape, a.type, a.data)
            }, .adapterShape),
            ("rank 4 in A, 8 in B", replaceTensor(q + ".lora_b", shape: [8, c.queryDimension]), .adapterRank),
            ("a 3-D tensor", replaceTensor(q + ".lora_a", shape: [c.embeddingLength, 2, 2]), .adapterShape),
            ("a Q4_0 tensor", replaceTensor(q + ".lora_a", shape: [c.embeddingLength, 4], type: .q4_0), .unsupportedModel),
        ]
        for (name, edit, kind) in cases {
            var w = Self.writer(model)
            edit(&w)
            let bytes = Bytes(w.bytes())
            do {
                _ = try LoRAAdapter(bytes: bytes.view, model: model)
                Issue.record("\(name): loaded without error")
            } catch {
                #expect(error.kind == kind, "\(name): \(error.kind) (\(error.message)), expected \(kind)")
                print("\(name): \(error.message)")
            }
            // The model is still there and unchanged.
            #expect(try Self.logits(model) == base, "\(name): the model changed")
        }
        // Not GGUF at all, and a truncated adapter: the GGUF reader's own errors.
        for bytes in [Bytes(Array("not a gguf file at all".utf8)), Bytes(Array(Self.writer(model).bytes().dropLast(100)))] {
            #expect(throws: TinyLMError.self) { try LoRAAdapter(bytes: bytes.view, model: model) }
        }
        #expect(try Self.logits(model) == base)
    }

    /// Norm tensors in an adapter are skipped, as llama.cpp skips them.
    @Test func normTensorsAreSkipped() throws {
        let model = try Self.model()
        var w = Self.writer(model)
        w.tensors.append(("blk.0.attn_norm.weight", [model.config.embeddingLength], .f32,
                          [UInt8](repeating: 0, count: 4 * model.config.embeddingLength)))
        let bytes = Bytes(w.bytes())
        #expect(try LoRAAdapter(bytes: bytes.view, model: model).adaptedMatrixCount == 2)
    }
}
