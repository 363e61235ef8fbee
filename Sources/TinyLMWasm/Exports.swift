// The C ABI the browser (and Node) calls. Thin by design: every function validates its
// arguments, calls the core, and turns the outcome into numbers and bytes. No inference logic
// lives here.
//
// Conventions
// - Pointers and lengths are wasm32 byte offsets/counts (i32). Text is UTF-8, never
//   NUL-terminated on input.
// - Handles (models, sessions) are small positive integers; 0 means failure.
// - A function that can fail returns -1 (or 0 for handles) and records the error:
//   tinylm_last_error_code() gives TinyLMError.Kind's number (1 malformed model, 2 unsupported
//   model, 3 context overflow, 4 invalid argument, 5 template, 6 grammar, 7 out of memory,
//   8 invalid manifest, 9 integrity) and
//   tinylm_last_error_message() a NUL-terminated UTF-8 message. Errors never trap.
// - Functions that produce bytes (JSON, text, token ids) put them in one result buffer owned by
//   the module: read tinylm_result_pointer()/tinylm_result_length() before the next call.
//
// Functions
//   tinylm_alloc(bytes) -> ptr                 tinylm_free(ptr)
//   tinylm_last_error_code() -> kind           tinylm_last_error_message() -> ptr
//   tinylm_result_pointer() -> ptr             tinylm_result_length() -> bytes
//   tinylm_model_load(ptr, len) -> model       the GGUF bytes stay where they are (zero copy):
//                                              keep them allocated until tinylm_model_free
//   tinylm_model_free(model)
//   tinylm_model_info(model) -> len            result: JSON object
//   tinylm_tokenize(model, text, len, flags) -> count     flags: 1 add BOS/special, 2 parse
//                                              special tokens; result: little-endian i32 ids
//   tinylm_detokenize(model, ids, count) -> len           result: UTF-8 text
//   tinylm_token_piece(model, id) -> len       result: the token's raw bytes
//   tinylm_chat_format(model, json, len) -> len          result: the prompt text for a chat
//                                              request {messages, tools, addGenerationPrompt,
//                                              template, now, context} (ChatRequest.swift)
//   tinylm_chat_tokenize(model, json, len) -> count      result: its token ids (i32)
//   tinylm_tool_prompt(model, json, len) -> len          a chat request with `tools`, prepared
//                                              for tool calling (ToolCalling.swift: tools the
//                                              template ignores are described in the system
//                                              message); result: JSON {text, tokens: [ids],
//                                              format: {prefix, suffix, argumentsKey,
//                                              templateHandlesTools}}
//   tinylm_tool_calls(model, json, len) -> len            json {text, format?} (format from
//                                              tinylm_tool_prompt; default: the model's own);
//                                              result: JSON [{id, type: "function",
//                                              function: {name, arguments: "<JSON text>"}}];
//                                              error 6 (grammar) when the text holds no call
//   tinylm_session_create(model, context, batch) -> session
//   tinylm_session_free(session)               tinylm_session_reset(session)
//   tinylm_session_truncate(session, count)    tinylm_session_token_count(session) -> count
//   tinylm_session_memory(session) -> bytes
//   tinylm_evaluate(session, ids, count) -> 0  appends tokens to the context
//   tinylm_logits(session) -> ptr              f32[vocabulary] of the next token
//   tinylm_generate_start(session, ids, count, options, optionsLen) -> reused
//                                              prefill the prompt (re-using the cached prefix);
//                                              options: JSON {temperature, topK, topP, minP,
//                                              repeatPenalty, repeatWindow, seed, maxTokens,
//                                              stop: [..], ignoreEOS} plus at most one output
//                                              constraint: jsonSchema: {…}, grammar: "GBNF",
//                                              json: true (any object), or tools: [...] with
//                                              toolChoice and toolCallFormat (from
//                                              tinylm_tool_prompt); errors in them: kind 6
//   tinylm_generate_next(session) -> token     token ≥ 0: result holds the text to show now;
//                                              -1: finished, result holds the remaining text and
//                                              tinylm_generate_finish_reason() says why
//                                              (1 end-of-generation, 2 stop string, 3 max tokens,
//                                              4 context full, 5 the output constraint is
//                                              complete); -2: error
//   tinylm_generate_finish_reason(session) -> reason
//   tinylm_probe_fused_madd(a, c) -> 1/0       the relaxed-SIMD build: whether relaxed_madd is
//                                              fused here (then the kernels use it); call once
//                                              at startup with a = 1 + 2^-12, c = -(1 + 2^-11)
//   tinylm_set_threads(threads, tasksPerThread) -> threads   sessions created afterwards run
//                                              their kernels on this many threads, ranges cut in
//                                              tasksPerThread pieces per thread (shared-memory
//                                              build only, once its helper workers run; Threads.swift)
//   tinylm_run_task(index)                     runs one task of the parallel section in
//                                              progress (called by web/threads.js on any thread)

#if !TINYLM_WASM_SINGLE_MODULE
import TinyLM
#endif

// MARK: - State

/// Module-wide state: the engine runs on one thread per instance, so plain globals suffice.
nonisolated(unsafe) private var models: [Model?] = []
/// Per model (same index): its vocabulary trie for constrained generation, built on first use.
nonisolated(unsafe) private var vocabularyTries: [VocabularyTrie?] = []
nonisolated(unsafe) private var sessions: [SessionEntry?] = []
nonisolated(unsafe) private var lastError: TinyLMError? = nil
nonisolated(unsafe) private var errorMessage: [UInt8] = [0]
nonisolated(unsafe) private var result: [UInt8] = []

private final class SessionEntry {
    let session: Session
    var generator: TextGenerator? = nil
    init(session: Session) { self.session = session }
}

private func fail(_ error: TinyLMError) {
    lastError = error
    errorMessage = Array(error.message.utf8) + [0]
}

private func setResult(_ bytes: [UInt8]) -> Int32 {
    result = bytes
    return Int32(bytes.count)
}

private func setIDs(_ ids: [Int32]) {
    var out: [UInt8] = []
    out.reserveCapacity(ids.count * 4)
    for id in ids { withUnsafeBytes(of: id.littleEndian) { out.append(contentsOf: $0) } }
    result = out
}

private func model(_ handle: Int32) -> Model? {
    let index = Int(handle) - 1
    guard index >= 0, index < models.count, let m = models[index] else {
        fail(.invalidArgument("no model with handle \(handle)"))
        return nil
    }
    return m
}

private func entry(_ handle: Int32) -> SessionEntry? {
    let index = Int(handle) - 1
    guard index >= 0, index < sessions.count, let s = sessions[index] else {
        fail(.invalidArgument("no session with handle \(handle)"))
        return nil
    }
    return s
}

private func store<T>(_ value: T, in table: inout [T?]) -> Int32 {
    if let free = table.firstIndex(where: { $0 == nil }) {
        table[free] = value
        return Int32(free + 1)
    }
    table.append(value)
    return Int32(table.count)
}

private func bytes(_ pointer: UnsafeRawPointer?, _ length: Int32) -> UnsafeRawBufferPointer? {
    guard length >= 0 else { fail(.invalidArgument("negative length \(length)")); return nil }
    if length == 0 { return UnsafeRawBufferPointer(start: nil, count: 0) }
    guard let pointer else { fail(.invalidArgument("null pointer")); return nil }
    return UnsafeRawBufferPointer(start: pointer, count: Int(length))
}

private func ids(_ pointer: UnsafeRawPointer?, _ count: Int32) -> [Int32]? {
    guard count >= 0, count <= Int32.max / 4, let raw = bytes(pointer, count * 4) else { return nil }
    return (0..<Int(count)).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
}

private func text(_ pointer: UnsafeRawPointer?, _ length: Int32) -> String? {
    guard let raw = bytes(pointer, length) else { return nil }
    return String(decoding: raw, as: UTF8.self)
}

// MARK: - Memory and errors

@_cdecl("tinylm_alloc")
public func tinylm_alloc(_ size: Int32) -> UnsafeMutableRawPointer? {
    guard size > 0 else { return nil }
    return UnsafeMutableRawPointer.allocate(byteCount: Int(size), alignment: 16)
}

@_cdecl("tinylm_free")
public func tinylm_free(_ pointer: UnsafeMutableRawPointer?) {
    pointer?.deallocate()
}

@_cdecl("tinylm_last_error_code")
public func tinylm_last_error_code() -> Int32 { lastError?.kind.rawValue ?? 0 }

@_cdecl("tinylm_last_error_message")
public func tinylm_last_error_message() -> UnsafeRawPointer? {
    errorMessage.withUnsafeBytes { $0.baseAddress }
}

@_cdecl("tinylm_result_pointer")
public func tinylm_result_pointer() -> UnsafeRawPointer? {
    result.withUnsafeBytes { $0.baseAddress }
}

@_cdecl("tinylm_result_length")
public func tinylm_result_length() -> Int32 { Int32(result.count) }

// MARK: - Models

@_cdecl("tinylm_model_load")
public func tinylm_model_load(_ pointer: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let raw = bytes(pointer, length) else { return 0 }
    do {
        return store(try Model(bytes: raw), in: &models)
    } catch {
        fail(error)
        return 0
    }
}

@_cdecl("tinylm_model_free")
public func tinylm_model_free(_ handle: Int32) {
    let index = Int(handle) - 1
    guard index >= 0, index < models.count else { return }
    models[index] = nil
    if index < vocabularyTries.count { vocabularyTries[index] = nil }
}

@_cdecl("tinylm_model_info")
public func tinylm_model_info(_ handle: Int32) -> Int32 {
    guard let m = model(handle) else { return -1 }
    return setResult(Array(ModelInfo.json(m).utf8))
}

// MARK: - Tokens

@_cdecl("tinylm_tokenize")
public func tinylm_tokenize(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32, _ flags: Int32) -> Int32 {
    guard let m = model(handle), let input = text(pointer, length) else { return -1 }
    let tokens = m.tokenizer.encode(input, addSpecial: flags & 1 != 0, parseSpecial: flags & 2 != 0)
    setIDs(tokens)
    return Int32(tokens.count)
}

@_cdecl("tinylm_detokenize")
public func tinylm_detokenize(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ count: Int32) -> Int32 {
    guard let m = model(handle), let list = ids(pointer, count) else { return -1 }
    for id in list where id < 0 || Int(id) >= m.config.vocabularySize {
        fail(.invalidArgument("token id \(id) is outside the vocabulary"))
        return -1
    }
    return setResult(Array(m.tokenizer.decode(list).utf8))
}

@_cdecl("tinylm_token_piece")
public func tinylm_token_piece(_ handle: Int32, _ id: Int32) -> Int32 {
    guard let m = model(handle) else { return -1 }
    guard id >= 0, Int(id) < m.config.vocabularySize else {
        fail(.invalidArgument("token id \(id) is outside the vocabulary"))
        return -1
    }
    return setResult(m.tokenizer.pieceBytes(id))
}

// MARK: - Chat

private func chatPrompt(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32) -> (text: String, tokens: [Int32])? {
    guard let m = model(handle), let raw = bytes(pointer, length) else { return nil }
    do {
        return try ChatRequest(json: Array(raw)).render(for: m)
    } catch {
        fail(error)
        return nil
    }
}

@_cdecl("tinylm_chat_format")
public func tinylm_chat_format(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let prompt = chatPrompt(handle, pointer, length) else { return -1 }
    return setResult(Array(prompt.text.utf8))
}

@_cdecl("tinylm_chat_tokenize")
public func tinylm_chat_tokenize(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let prompt = chatPrompt(handle, pointer, length) else { return -1 }
    setIDs(prompt.tokens)
    return Int32(prompt.tokens.count)
}

/// The model's vocabulary trie, cached by model handle (built once: ~0.5 s for 262k tokens).
private func vocabularyTrie(for m: Model) -> VocabularyTrie {
    guard let index = models.firstIndex(where: { $0 === m }) else { return VocabularyTrie(tokenizer: m.tokenizer) }
    while vocabularyTries.count <= index { vocabularyTries.append(nil) }
    if let trie = vocabularyTries[index] { return trie }
    let trie = VocabularyTrie(tokenizer: m.tokenizer)
    vocabularyTries[index] = trie
    return trie
}

@_cdecl("tinylm_tool_prompt")
public func tinylm_tool_prompt(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let m = model(handle), let raw = bytes(pointer, length) else { return -1 }
    do {
        let prompt = try ChatRequest(json: Array(raw)).renderWithTools(for: m)
        let reply = JSONValue.object(JSONObject([
            ("text", .string(prompt.text)),
            ("tokens", .array(prompt.tokens.map { .integer(Int($0)) })),
            ("format", prompt.format.json),
        ]))
        return setResult(Array(reply.serialized().utf8))
    } catch {
        fail(error)
        return -1
    }
}

private func toolCalls(_ m: Model, _ raw: UnsafeRawBufferPointer) throws(TinyLMError) -> JSONValue {
    let request: JSONValue
    do { request = try JSONValue(parsing: Array(raw)) } catch {
        throw .invalidArgument("tool-call request is not valid JSON: \(error.description)")
    }
    guard let text = request["text"]?.stringValue else { throw .invalidArgument("tool-call request needs 'text'") }
    var format = ToolCallFormat(model: m)
    if let given = request["format"], !given.isNull { format = try ToolCallFormat(json: given) }
    return try ToolCalling.parse(text, format: format)
}

@_cdecl("tinylm_tool_calls")
public func tinylm_tool_calls(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let m = model(handle), let raw = bytes(pointer, length) else { return -1 }
    do {
        return setResult(Array(try toolCalls(m, raw).serialized().utf8))
    } catch {
        fail(error)
        return -1
    }
}

// MARK: - Sessions

@_cdecl("tinylm_session_create")
public func tinylm_session_create(_ handle: Int32, _ contextLength: Int32, _ batchSize: Int32) -> Int32 {
    guard let m = model(handle) else { return 0 }
    do {
        let session = try Session(model: m, contextLength: Int(contextLength),
                                  batchSize: batchSize > 0 ? Int(batchSize) : Session.defaultBatchSize,
                                  executor: sessionExecutor())
        return store(SessionEntry(session: session), in: &sessions)
    } catch {
        fail(error)
        return 0
    }
}

@_cdecl("tinylm_session_free")
public func tinylm_session_free(_ handle: Int32) {
    let index = Int(handle) - 1
    guard index >= 0, index < sessions.count else { return }
    sessions[index] = nil
}

@_cdecl("tinylm_session_reset")
public func tinylm_session_reset(_ handle: Int32) {
    guard let e = entry(handle) else { return }
    e.generator = nil
    e.session.reset()
}

@_cdecl("tinylm_session_truncate")
public func tinylm_session_truncate(_ handle: Int32, _ count: Int32) {
    guard let e = entry(handle) else { return }
    e.generator = nil
    e.session.truncate(to: Int(count))
}

@_cdecl("tinylm_session_token_count")
public func tinylm_session_token_count(_ handle: Int32) -> Int32 {
    guard let e = entry(handle) else { return -1 }
    return Int32(e.session.tokens.count)
}

@_cdecl("tinylm_session_memory")
public func tinylm_session_memory(_ handle: Int32) -> Int32 {
    guard let e = entry(handle) else { return -1 }
    return Int32(clamping: e.session.memoryBytes)
}

@_cdecl("tinylm_evaluate")
public func tinylm_evaluate(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ count: Int32) -> Int32 {
    guard let e = entry(handle), let list = ids(pointer, count) else { return -1 }
    do {
        e.generator = nil
        try e.session.evaluate(list)
        return 0
    } catch {
        fail(error)
        return -1
    }
}

@_cdecl("tinylm_logits")
public func tinylm_logits(_ handle: Int32) -> UnsafeMutableRawPointer? {
    guard let e = entry(handle) else { return nil }
    return UnsafeMutableRawPointer(e.session.logits.baseAddress)
}

// MARK: - Generation

@_cdecl("tinylm_generate_start")
public func tinylm_generate_start(_ handle: Int32, _ idsPointer: UnsafeRawPointer?, _ count: Int32,
                                  _ optionsPointer: UnsafeRawPointer?, _ optionsLength: Int32) -> Int32 {
    guard let e = entry(handle), let prompt = ids(idsPointer, count), let raw = bytes(optionsPointer, optionsLength) else { return -1 }
    do {
        var options = try GenerationOptions(json: Array(raw))
        if options.constraint != nil, options.constraint?.vocabulary == nil {
            options.constraint?.vocabulary = vocabularyTrie(for: e.session.model)
        }
        e.generator = nil
        let generator = try TextGenerator(session: e.session, prompt: prompt, options: options)
        e.generator = generator
        return Int32(generator.reusedPrefix)
    } catch {
        fail(error)
        return -1
    }
}

@_cdecl("tinylm_generate_next")
public func tinylm_generate_next(_ handle: Int32) -> Int32 {
    guard let e = entry(handle) else { return -2 }
    guard let generator = e.generator else {
        fail(.invalidArgument("no generation in progress: call tinylm_generate_start first"))
        return -2
    }
    do {
        switch try generator.next() {
        case .token(let id, let text):
            result = Array(text.utf8)
            return id
        case .finished(_, let text):
            result = Array(text.utf8)
            return -1
        }
    } catch {
        fail(error)
        return -2
    }
}

@_cdecl("tinylm_generate_finish_reason")
public func tinylm_generate_finish_reason(_ handle: Int32) -> Int32 {
    guard let e = entry(handle), let reason = e.generator?.finishReason else { return 0 }
    switch reason {
    case .endOfGeneration: return 1
    case .stopString: return 2
    case .maxTokens: return 3
    case .contextFull: return 4
    case .grammarComplete: return 5
    }
}

@_cdecl("tinylm_probe_fused_madd")
public func tinylm_probe_fused_madd(_ a: Float, _ c: Float) -> Int32 {
    #if arch(wasm32)
    return WasmFusedMultiplyAdd.probe(a, c) ? 1 : 0
    #else
    return 0
    #endif
}
