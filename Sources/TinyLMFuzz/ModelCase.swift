import TinyLM
import TinyLMWasm

/// One fuzz case's model file run through what a page does with it, by the same C ABI calls
/// the wasm module exports (Sources/TinyLMWasm/Exports.swift, compiled natively here), in the
/// same order as scripts/fuzz/wasm-worker.mjs: load, info, tokenize, detokenize, token pieces,
/// chat template, tool prompt, and (when asked) a session that generates a few tokens with the
/// case's options. Every outcome goes into a summary whose hash the driver compares between
/// the native and the wasm build.
enum ModelCase {
    static let sampleText = Array("Hello world! <|im_start|>user\n 123 ü 😀 <bos>\t  the json".utf8)

    struct Outcome {
        var loaded: Bool
        var errorKind: Int32 = 0
        var errorMessage = ""
        var summary: [UInt8] = []
        /// The summary of what happened before the session (comparable even when the
        /// weights gave NaN or infinite logits, whose int8 quantization differs between x86
        /// and wasm: cvttps2dq vs trunc_sat).
        var loadSummary: [UInt8] = []
        var finiteLogits = true
    }

    /// Whether every weight the file holds, and every float in its metadata, is finite. Only
    /// then must native and wasm generate the same tokens: NaN and infinities turn into
    /// different int8 values on x86 (cvttps2dq) and in wasm (trunc_sat), and can come out of
    /// the network as finite but different logits.
    static func weightsAreFinite(_ file: UnsafeRawBufferPointer) -> Bool {
        guard let gguf = try? GGUFFile(bytes: file) else { return true }
        for value in gguf.metadata.values {
            switch value {
            case .float32(let v) where !v.isFinite: return false
            case .float64(let v) where !v.isFinite: return false
            default: continue
            }
        }
        for tensor in gguf.tensors where MatrixMultiply.canDequantize(tensor.type) {
            let columns = tensor.shape[0]
            guard columns > 0 else { continue }
            let data = gguf.tensorData(tensor)
            // The loader refuses float tensors that are not aligned in memory; skip them too.
            if (tensor.type == .f32 && Int(bitPattern: data) % 4 != 0) || Int(bitPattern: data) % 2 != 0 { continue }
            let weights = WeightMatrix(name: tensor.name, type: tensor.type, rows: tensor.elementCount / columns, columns: columns, data: data)
            let row = UnsafeMutablePointer<Float>.allocate(capacity: columns)
            defer { row.deallocate() }
            for r in 0..<weights.rows {
                MatrixMultiply.dequantizeRow(weights, row: r, into: row)
                for i in 0..<columns where !row[i].isFinite { return false }
            }
        }
        return true
    }

    static func lastError() -> (Int32, String) {
        let code = tinylm_last_error_code()
        guard let pointer = tinylm_last_error_message() else { return (code, "") }
        return (code, String(cString: pointer.assumingMemoryBound(to: CChar.self)))
    }

    static func result() -> [UInt8] {
        let length = Int(tinylm_result_length())
        guard length > 0, let pointer = tinylm_result_pointer() else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: length))
    }

    static func ids(_ bytes: [UInt8]) -> [Int32] {
        stride(from: 0, to: bytes.count - 3, by: 4).map { i in
            Int32(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
    }

    private static func idList(_ ids: [Int32]) -> String { ids.map { String($0) }.joined(separator: ",") }

    static func run(_ file: UnsafeRawBufferPointer, options: [UInt8], chat: [UInt8], generate: Bool) -> Outcome {
        let handle = tinylm_model_load(file.baseAddress, Int32(file.count))
        guard handle != 0 else {
            let (kind, message) = lastError()
            return Outcome(loaded: false, errorKind: kind, errorMessage: message)
        }
        defer { tinylm_model_free(handle) }
        var parts: [String] = []
        func failed() -> String { "E\(lastError().0)" }

        var vocabulary = 0, trained = 0
        if tinylm_model_info(handle) >= 0 {
            let text = result()
            parts.append("info:" + Hex.encode(text))
            if let info = try? JSONValue(parsing: text) {
                vocabulary = info["vocabularySize"]?.intValue ?? 0
                trained = info["trainedContextLength"]?.intValue ?? 0
            }
        } else {
            parts.append("info:" + failed())
        }

        var tokens: [Int32] = []
        let count = sampleText.withUnsafeBytes { tinylm_tokenize(handle, $0.baseAddress, Int32($0.count), 3) }
        if count >= 0 {
            tokens = ids(result())
            parts.append("tok:" + idList(tokens))
        } else {
            parts.append("tok:" + failed())
        }
        let detokenized = tokens.withUnsafeBytes { tinylm_detokenize(handle, $0.baseAddress, Int32(tokens.count)) }
        parts.append("detok:" + (detokenized >= 0 ? Hex.encode(result()) : failed()))
        for id in [0, 1, vocabulary - 1, vocabulary, -1] {
            let piece = tinylm_token_piece(handle, Int32(truncatingIfNeeded: id))
            parts.append("piece:" + (piece >= 0 ? Hex.encode(result()) : failed()))
        }

        var chatTokens: [Int32] = []
        let chatCount = chat.withUnsafeBytes { tinylm_chat_tokenize(handle, $0.baseAddress, Int32($0.count)) }
        if chatCount >= 0 {
            chatTokens = ids(result())
            parts.append("chat:" + idList(chatTokens))
        } else {
            parts.append("chat:" + failed())
        }
        let toolPrompt = chat.withUnsafeBytes { tinylm_tool_prompt(handle, $0.baseAddress, Int32($0.count)) }
        parts.append("tools:" + (toolPrompt >= 0 ? Hex.encode(result()) : failed()))

        let loadSummary = Array(parts.joined(separator: "\n").utf8)
        var finite = true
        func checkLogits(_ session: Int32) {
            guard vocabulary > 0, let logits = tinylm_logits(session) else { return }
            let values = logits.assumingMemoryBound(to: Float.self)
            for i in 0..<vocabulary where !values[i].isFinite { finite = false; return }
        }
        if generate {
            let context = max(1, min(64, trained))
            let session = tinylm_session_create(handle, Int32(context), 8)
            if session == 0 {
                parts.append("session:" + failed())
            } else {
                defer { tinylm_session_free(session) }
                var prompt = Array((chatTokens.isEmpty ? tokens : chatTokens).prefix(12))
                if prompt.isEmpty { prompt = [0] }
                let start = prompt.withUnsafeBytes { ids in
                    options.withUnsafeBytes { tinylm_generate_start(session, ids.baseAddress, Int32(prompt.count), $0.baseAddress, Int32($0.count)) }
                }
                parts.append("start:" + (start >= 0 ? String(start) : failed()))
                var generated: [UInt8] = []
                if start >= 0 {
                    for _ in 0..<4 {
                        checkLogits(session)
                        let token = tinylm_generate_next(session)
                        let text = result()
                        if token == -2 { parts.append("next:" + failed()); break }
                        generated += text
                        parts.append("next:\(token):" + Hex.encode(text))
                        if token == -1 { parts.append("finish:\(tinylm_generate_finish_reason(session))"); break }
                    }
                }
                var request = JSONObject()
                request["text"] = .string(String(decoding: generated, as: UTF8.self))
                let callsJSON = Array(JSONValue.object(request).serialized().utf8)
                let calls = callsJSON.withUnsafeBytes { tinylm_tool_calls(handle, $0.baseAddress, Int32($0.count)) }
                parts.append("calls:" + (calls >= 0 ? Hex.encode(result()) : failed()))
            }
        }
        return Outcome(loaded: true, summary: Array(parts.joined(separator: "\n").utf8), loadSummary: loadSummary, finiteLogits: finite)
    }
}
