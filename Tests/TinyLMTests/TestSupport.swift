import Foundation
import Testing
@testable import TinyLM
import TinyLMHost

/// Paths and loaders shared by the tests. Missing models or reference data fail loudly: a test
/// that silently skips cannot catch anything.
enum TestSupport {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let referenceRoot: URL = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/reference")

    static let smolLM2Path = repoRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    static let gemma3Path = repoRoot.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path

    struct Missing: Error, CustomStringConvertible { let description: String }

    static func requireFile(_ path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            throw Missing(description: "missing \(path): run scripts/fetch-models.sh all (models) or check ../shared/reference")
        }
        return path
    }

    /// The small random-weight models (scripts/make-test-models.py) and llama.cpp's vectors
    /// for them (scripts/llama-reference.py), committed with the repository.
    static let testModelsRoot = repoRoot.appendingPathComponent("Tests/models")

    /// An attention block of layer 0 of the small Llama test model reshaped to these head counts
    /// and lengths (the attention tests call its attention step only, never its projections),
    /// with the model configuration that sizes an InferenceState for it.
    static func attention(heads: Int, kvHeads: Int, keyLength: Int, valueLength: Int, window: Int,
                          scalesQueries: Bool) throws -> (Attention, ModelConfig) {
        let model = try TestSupport.model(testModelsRoot.appendingPathComponent("llama-q8_0.gguf").path)
        guard case .decoder(let decoder) = model.network else { throw Missing(description: "llama-q8_0.gguf is not a decoder") }
        let template = decoder.layers[0].attention
        var config = model.config
        (config.headCount, config.kvHeadCount, config.keyLength, config.valueLength) = (heads, kvHeads, keyLength, valueLength)
        let attention = Attention(projection: template.projection, output: template.output, queryBias: nil, keyBias: nil,
                                  valueBias: nil, queryNorm: nil, keyNorm: nil, rope: template.rope, layer: 0,
                                  headCount: heads, kvHeadCount: kvHeads, keyLength: keyLength, valueLength: valueLength,
                                  scale: 0.125, scalesQueries: scalesQueries, window: window)
        return (attention, config)
    }

    /// Each line of a JSONL reference file as a dictionary.
    static func jsonLines(_ relativePath: String, root: URL = referenceRoot) throws -> [[String: Any]] {
        let url = root.appendingPathComponent(relativePath)
        let text = try String(contentsOf: URL(fileURLWithPath: try requireFile(url.path)), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw Missing(description: "\(relativePath): a line is not a JSON object")
            }
            return object
        }
    }

    static func ids(_ value: Any?) -> [Int32] {
        ((value as? [Any]) ?? []).map { Int32(truncating: $0 as! NSNumber) }
    }

    /// Models are mapped once per test process and shared (they are immutable).
    nonisolated(unsafe) private static var loaded: [String: (MappedFile, Model)] = [:]
    private static let lock = NSLock()

    static func model(_ path: String) throws -> Model {
        lock.lock(); defer { lock.unlock() }
        if let entry = loaded[path] { return entry.1 }
        let file = try MappedFile(path: try requireFile(path))
        let model = try Model(bytes: file.bytes)
        loaded[path] = (file, model)
        return model
    }

    static func smolLM2() throws -> Model { try model(smolLM2Path) }
    static func gemma3() throws -> Model { try model(gemma3Path) }
}
