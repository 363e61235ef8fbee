import TinyLM
import TinyLMWasm

/// One fuzz case's knowledge file, opened for an (unchanged) embedder by the C ABI calls the
/// wasm module exports, in the same order as scripts/fuzz/wasm-worker.mjs: open (in the
/// file's vector form or converted to another), info, one search with the driver's query
/// vector, the file written back out, and the file merged into what it opened as. The embedder is loaded once per seed and kept.
enum KnowledgeCase {
    nonisolated(unsafe) static var embedders: [Int: Int32] = [:]

    static func embedder(seedIndex: Int, file: UnsafeRawBufferPointer) -> Int32 {
        if let handle = embedders[seedIndex] { return handle }
        let handle = tinylm_embedder_load(file.baseAddress, Int32(file.count))
        embedders[seedIndex] = handle
        return handle
    }

    static func run(embedder: Int32, file: [UInt8], form: Int32, query: [UInt8]) -> ModelCase.Outcome {
        guard embedder != 0 else { return ModelCase.Outcome(loaded: false, errorKind: -1, errorMessage: "the embedder does not load") }
        let base = file.withUnsafeBytes { tinylm_knowledge_open(embedder, $0.baseAddress, Int32($0.count), form) }
        guard base != 0 else {
            let (kind, message) = ModelCase.lastError()
            return ModelCase.Outcome(loaded: false, errorKind: kind, errorMessage: message)
        }
        defer { tinylm_knowledge_free(base) }
        var parts: [String] = []
        func failed() -> String { "E\(ModelCase.lastError().0)" }
        parts.append("info:" + (tinylm_knowledge_info(base) >= 0 ? Hex.encode(ModelCase.result()) : failed()))
        let loadSummary = Array(parts.joined(separator: "\n").utf8)
        let hits = query.withUnsafeBytes { tinylm_knowledge_search(base, $0.baseAddress, 3) }
        parts.append("search:" + (hits >= 0 ? Hex.encode(ModelCase.result()) : failed()))
        let exported = tinylm_knowledge_export(base, nil, 0)
        parts.append("export:" + (exported >= 0 ? SHA256.hash(ModelCase.result()).hex : failed()))
        // Merging the file into what it opened as replaces every document by itself.
        let merged = file.withUnsafeBytes { tinylm_knowledge_merge(base, $0.baseAddress, Int32($0.count)) }
        parts.append("merge:" + (merged >= 0 ? String(merged) : failed()))
        parts.append("info:" + (tinylm_knowledge_info(base) >= 0 ? Hex.encode(ModelCase.result()) : failed()))
        return ModelCase.Outcome(loaded: true, summary: Array(parts.joined(separator: "\n").utf8), loadSummary: loadSummary)
    }
}
