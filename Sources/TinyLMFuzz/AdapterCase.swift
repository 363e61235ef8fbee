import TinyLM
import TinyLMWasm

/// One fuzz case's LoRA adapter file, loaded against its (unchanged) base model by the C ABI
/// calls the wasm module exports, in the same order as scripts/fuzz/wasm-worker.mjs: adapter
/// load, info, a session applying it at scale 1, and a few greedy tokens. The base model is
/// loaded once per seed and kept (its bytes are the pristine seed: adapter cases never edit it).
enum AdapterCase {
    nonisolated(unsafe) static var models: [Int: Int32] = [:]

    static func model(seedIndex: Int, file: UnsafeRawBufferPointer) -> Int32 {
        if let handle = models[seedIndex] { return handle }
        let handle = tinylm_model_load(file.baseAddress, Int32(file.count))
        models[seedIndex] = handle
        return handle
    }

    static func run(model handle: Int32, adapter file: UnsafeRawBufferPointer, options: [UInt8]) -> ModelCase.Outcome {
        guard handle != 0 else { return ModelCase.Outcome(loaded: false, errorKind: -1, errorMessage: "the base model does not load") }
        let adapter = tinylm_adapter_load(handle, file.baseAddress, Int32(file.count))
        guard adapter != 0 else {
            let (kind, message) = ModelCase.lastError()
            return ModelCase.Outcome(loaded: false, errorKind: kind, errorMessage: message)
        }
        defer { tinylm_adapter_free(adapter) }
        var parts: [String] = []
        func failed() -> String { "E\(ModelCase.lastError().0)" }
        parts.append("info:" + (tinylm_adapter_info(adapter) >= 0 ? Hex.encode(ModelCase.result()) : failed()))
        let loadSummary = Array(parts.joined(separator: "\n").utf8)
        var vocabulary = 0
        if tinylm_model_info(handle) >= 0, let info = try? JSONValue(parsing: ModelCase.result()) {
            vocabulary = info["vocabularySize"]?.intValue ?? 0
        }
        var finite = true
        let session = tinylm_session_create(handle, 64, 8)
        if session == 0 {
            parts.append("session:" + failed())
        } else {
            defer { tinylm_session_free(session) }
            let handles: [Int32] = [adapter], scales: [Float] = [1]
            let set = handles.withUnsafeBytes { h in scales.withUnsafeBytes { tinylm_session_set_adapters(session, h.baseAddress, $0.baseAddress, 1) } }
            parts.append("set:" + (set >= 0 ? String(set) : failed()))
            let count = ModelCase.sampleText.withUnsafeBytes { tinylm_tokenize(handle, $0.baseAddress, Int32($0.count), 3) }
            var prompt = count >= 0 ? Array(ModelCase.ids(ModelCase.result()).prefix(8)) : []
            if prompt.isEmpty { prompt = [0] }
            let start = prompt.withUnsafeBytes { ids in
                options.withUnsafeBytes { tinylm_generate_start(session, ids.baseAddress, Int32(prompt.count), $0.baseAddress, Int32($0.count)) }
            }
            parts.append("start:" + (start >= 0 ? String(start) : failed()))
            if start >= 0 {
                for _ in 0..<4 {
                    if vocabulary > 0, let logits = tinylm_logits(session) {
                        let values = logits.assumingMemoryBound(to: Float.self)
                        for i in 0..<vocabulary where !values[i].isFinite { finite = false; break }
                    }
                    let token = tinylm_generate_next(session)
                    if token == -2 { parts.append("next:" + failed()); break }
                    parts.append("next:\(token)")
                    if token == -1 { break }
                }
            }
        }
        return ModelCase.Outcome(loaded: true, summary: Array(parts.joined(separator: "\n").utf8), loadSummary: loadSummary, finiteLogits: finite)
    }
}
