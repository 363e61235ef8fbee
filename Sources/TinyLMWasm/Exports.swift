// The C ABI the browser (and Node) calls. Thin by design: every function validates its
// arguments, calls the core, and turns the outcome into numbers and bytes. No inference logic
// lives here.
//
// Conventions
// - Pointers and lengths are wasm32 byte offsets/counts (i32). Text is UTF-8, never
//   NUL-terminated on input.
// - Handles (models, tokenizers, sessions) are small positive integers; 0 means failure. Each
//   kind has its own numbering.
// - A function that can fail returns -1 (or 0 for handles) and records the error:
//   tinylm_last_error_code() gives TinyLMError.Kind's number (1 malformed model, 2 unsupported
//   model, 3 context overflow, 4 invalid argument, 5 template, 6 grammar, 7 out of memory,
//   8 wrong model kind, 9 invalid knowledge file, 10 embedder mismatch, 11 invalid manifest,
//   12 integrity, 16-20 adapter errors, 21 snapshot mismatch, 22 invalid snapshot: see
//   TinyLMError.Kind) and
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
//   tinylm_model_info(model) -> len            result: JSON object {name (readable, e.g.
//                                              "SmolLM2 135M Instruct"), ggufName (general.name),
//                                              architecture, vocabularySize, …, chatTemplate,
//                                              sampling: {temperature, topK, topP, minP,
//                                              repeatPenalty, repeatWindow, source: "gguf" |
//                                              "table" | "default", reference}} (ModelInfo.swift;
//                                              sampling: the model's recommended defaults,
//                                              RecommendedSampling.swift)
//   tinylm_tokenize(model, text, len, flags) -> count     flags: 1 add BOS/special, 2 parse
//                                              special tokens; result: little-endian i32 ids
//   tinylm_detokenize(model, ids, count) -> len           result: UTF-8 text
//   tinylm_token_piece(model, id) -> len       result: the token's raw bytes
//   tinylm_tokenizer_load(ptr, len) -> tokenizer          the tokenizer alone, from any GGUF
//                                              file's vocabulary, including vocabulary-only files
//                                              (no tensors; tinylm_model_load refuses those with
//                                              error 2); it copies what it keeps, so the bytes
//                                              may be freed as soon as it returns
//   tinylm_tokenizer_free(tokenizer)
//   tinylm_tokenizer_info(tokenizer) -> len    result: JSON {vocabularySize, bosTokenID,
//                                              eosTokenID, addsBOS, addsEOS}
//   tinylm_tokenizer_tokenize(tokenizer, text, len, flags) -> count
//   tinylm_tokenizer_detokenize(tokenizer, ids, count) -> len
//   tinylm_tokenizer_piece(tokenizer, id) -> len          as the three model functions above
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
//   tinylm_session_chat_tokens(session, json, len) -> count  the prompt for a chat request
//                                              (as tinylm_chat_tokenize; with "toolCalling":
//                                              true, tools prepared as tinylm_tool_prompt
//                                              does) that continues this
//                                              session's conversation: earlier prompts and
//                                              replies keep the tokens the model saw and
//                                              generated, so generating from them evaluates only
//                                              the new message and the template's glue
//                                              (ChatTranscript.swift). A generation started from
//                                              these ids adds its reply (even when stopped early)
//                                              once the next one starts; pass the reply text
//                                              unchanged as the assistant message. result: i32 ids
//   tinylm_session_create(model, context, batch) -> session
//   tinylm_session_free(session)               tinylm_session_reset(session)
//   tinylm_session_truncate(session, count)    tinylm_session_token_count(session) -> count
//   tinylm_session_memory(session) -> bytes
//   tinylm_evaluate(session, ids, count) -> 0  appends tokens to the context
//   tinylm_model_fingerprint(model) -> 16      result: the model file's fingerprint, 16 hex
//                                              digits (ContentHash of every byte; computed on
//                                              first use, tens of ms per 100 MB in wasm)
//   tinylm_session_snapshot(session, template, len) -> len  result: the session's conversation
//                                              as bytes (Generation/SessionSnapshot.swift: cached
//                                              token ids, their keys and values in f16, the chat
//                                              transcript, the model/adapters/template identity;
//                                              template: the source it was rendered with, len 0
//                                              the model's own). Ends the generation in progress
//                                              (its reply joins the transcript first)
//   tinylm_session_restore(session, ptr, len, template, templateLen) -> count  replaces the
//                                              session's cache and transcript with a snapshot's
//                                              (copied; returns the cached token count). Error 21
//                                              for another model file, adapter set, template or
//                                              cache shape, 22 for bytes that are not an intact
//                                              snapshot or do not fit the context: the session is
//                                              unchanged then. The logits are not restored: the
//                                              next generation evaluates at least one token
//   tinylm_logits(session) -> ptr              f32[vocabulary] of the next token
//   tinylm_generate_start(session, ids, count, options, optionsLen) -> reused
//                                              prefill the prompt (re-using the cached prefix);
//                                              options: JSON {temperature, topK, topP, minP,
//                                              repeatPenalty, repeatWindow, seed, maxTokens,
//                                              stop: [..], ignoreEOS} plus at most one output
//                                              constraint: jsonSchema: {…}, grammar: "GBNF",
//                                              json: true (any object), or tools: [...] with
//                                              toolChoice and toolCallFormat (from
//                                              tinylm_tool_prompt); errors in them: kind 6.
//                                              toolChoice "auto" (the default) is lazy: free
//                                              text until the model opens a call, then the
//                                              call's grammar (finish reason 5 or 6 = a call)
//   tinylm_generate_next(session) -> token     token ≥ 0: result holds the text to show now;
//                                              -1: finished, result holds the remaining text and
//                                              tinylm_generate_finish_reason() says why
//                                              (1 end-of-generation, 2 stop string, 3 max tokens,
//                                              4 context full, 5 the output constraint is
//                                              complete, 6 the output constraint is complete
//                                              because the token budget — maxTokens or the
//                                              context — steered it to a short completion:
//                                              valid, possibly cut short); -2: error
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
//   tinylm_matmul(type, rows, columns, weights, input, batch, output) -> 0
//                                              one matrix product through the weight format's
//                                              kernel, as the model runs it: output[b·rows + r] =
//                                              Σ_c W[r, c]·input[b·columns + c]; type: the ggml
//                                              type number (the tests compare the kernels with
//                                              llama.cpp's results)
//
// LoRA adapters (Model/Adapters/; error kinds 16 not an adapter, 17 another architecture than
// the model's, 18 a tensor that names no matrix of the model or lacks its A/B partner, 19 a
// pair whose shape does not fit its matrix, 20 A and B of different ranks; the model stays
// loaded and usable after any of them)
//   tinylm_adapter_load(model, ptr, len) -> adapter  a LoRA adapter's GGUF bytes (llama.cpp's
//                                              form), checked against the model; zero copy like
//                                              models: keep the bytes until tinylm_adapter_free
//   tinylm_adapter_free(adapter)               sessions applying it drop it first (their cache
//                                              is emptied), so its bytes may be freed after
//   tinylm_adapter_info(adapter) -> len        result: JSON {architecture, name, alpha,
//                                              matrices, maxRank, weightBytes}
//   tinylm_session_set_adapters(session, adapters, scales, count) -> 1/0
//                                              adapters: i32[count] handles, scales: f32[count];
//                                              the session applies them (in order, each
//                                              y += scale·alpha/rank·B·A·x) from its next
//                                              evaluation on; count 0: the base model alone.
//                                              1: the set changed, so the cache was emptied;
//                                              0: the same set, the cache kept

// Embeddings and knowledge (Model/Encoder/, Knowledge/; error kinds 8 wrong model kind, 9 invalid
// knowledge file, 10 knowledge from another embedder)
//   tinylm_embedder_load(ptr, len) -> embedder  a sentence-embedding model's GGUF bytes (zero copy,
//                                              like models; a chat model fails with kind 8, and
//                                              tinylm_model_load of an embedder too)
//   tinylm_embedder_free(embedder)
//   tinylm_embedder_info(embedder) -> len      result: JSON {name, architecture, dimensions,
//                                              layerCount, headCount, contextLength, maxTokens,
//                                              pooling, vocabularySize, fingerprint, fileBytes,
//                                              memoryBytes}
//   tinylm_embedder_set_max_tokens(embedder, n) -> n      where texts are cut (2…contextLength)
//   tinylm_embedder_tokenize(embedder, text, len) -> count  result: the i32 ids a text is
//                                              embedded with ([CLS] … [SEP], cut)
//   tinylm_embed(embedder, texts, textsLen, lengths, count, pooling) -> count
//                                              texts: UTF-8 of all texts back to back, lengths:
//                                              i32[count] their byte lengths; pooling 0 the
//                                              model's, 1 mean, 2 CLS, 3 last; result:
//                                              f32[count × dimensions] unit vectors, then
//                                              i32[count] tokens embedded, then i32[count] tokens
//                                              of the whole text (more than embedded: it was cut)
//   tinylm_knowledge_create(embedder, form) -> kb          an empty knowledge base for this
//                                              embedder's vectors; form 0 f32, 1 f16, 2 int8
//   tinylm_knowledge_open(embedder, ptr, len, form) -> kb  reads a knowledge file (copied; form
//                                              -1 keeps the file's); kind 9 if corrupt, 10 if
//                                              built with another embedder (the message names both)
//   tinylm_knowledge_merge(kb, ptr, len) -> documents      adds a knowledge file's documents
//                                              (same checks), replacing same-id ones
//   tinylm_knowledge_free(kb)
//   tinylm_knowledge_info(kb) -> len           result: JSON {embedder: {name, fingerprint,
//                                              dimensions, pooling}, vectorForm, chunks,
//                                              documents: [{id, title, url, sourceBytes, chunks}]}
//   tinylm_knowledge_prepare(embedder, json, len) -> chunks   json {id, title?, url?, text,
//                                              format: "text"|"markdown"|"html", maxTokens?,
//                                              overlapTokens?}; result: JSON {document, chunks:
//                                              [{heading, text}], embeddingTexts: [...]}
//   tinylm_knowledge_add(kb, json, len, vectors) -> chunks    json {document, chunks} as prepared;
//                                              vectors: f32[chunks × dimensions], the
//                                              tinylm_embed vectors of its embeddingTexts
//   tinylm_knowledge_remove(kb, id, len) -> 1/0
//   tinylm_knowledge_search(kb, query, k) -> count  query: f32[dimensions] (a tinylm_embed
//                                              vector); result: JSON [{chunk, score, documentId,
//                                              title, url, heading, text}], best first
//   tinylm_knowledge_export(kb, id, len) -> bytes   result: the knowledge file of every document
//                                              (len 0) or of the document `id` alone
//   tinylm_grounded_messages(json, len) -> len json {messages: [{role, content}], passages:
//                                              [{title, url, heading, text}]}; result: JSON
//                                              messages with the last user turn grounded
//                                              (GroundedPrompt.swift's layout)

#if !TINYLM_WASM_SINGLE_MODULE
import TinyLM
#endif

// MARK: - State

/// Module-wide state: the engine runs on one thread per instance, so plain globals suffice.
nonisolated(unsafe) private var models: [Model?] = []
nonisolated(unsafe) private var tokenizers: [Tokenizer?] = []
/// Per model (same index): its vocabulary trie for constrained generation, built on first use.
nonisolated(unsafe) private var vocabularyTries: [VocabularyTrie?] = []
nonisolated(unsafe) private var sessions: [SessionEntry?] = []
nonisolated(unsafe) private var lastError: TinyLMError? = nil
nonisolated(unsafe) private var errorMessage: [UInt8] = [0]
nonisolated(unsafe) private var result: [UInt8] = []

private final class SessionEntry {
    let session: Session
    var generator: TextGenerator? = nil
    /// The conversation as the model saw it (tinylm_session_chat_tokens).
    var transcript = ChatTranscript()
    /// Whether `generator` started from the transcript's tokens (its reply belongs to it).
    var generatorContinuesTranscript = false
    init(session: Session) { self.session = session }

    /// Ends the generation in progress, recording its reply in the transcript when it was a
    /// chat turn.
    func endGeneration() {
        if let generator, generatorContinuesTranscript {
            transcript.append(generated: generator.generated, tokenizer: session.model.tokenizer)
        }
        generator = nil
        generatorContinuesTranscript = false
    }
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

private func tokenize(_ tokenizer: Tokenizer, _ pointer: UnsafeRawPointer?, _ length: Int32, _ flags: Int32) -> Int32 {
    guard let input = text(pointer, length) else { return -1 }
    let tokens = tokenizer.encode(input, addSpecial: flags & 1 != 0, parseSpecial: flags & 2 != 0)
    setIDs(tokens)
    return Int32(tokens.count)
}

private func detokenize(_ tokenizer: Tokenizer, _ pointer: UnsafeRawPointer?, _ count: Int32) -> Int32 {
    guard let list = ids(pointer, count) else { return -1 }
    for id in list where id < 0 || Int(id) >= tokenizer.vocabularySize {
        fail(.invalidArgument("token id \(id) is outside the vocabulary"))
        return -1
    }
    return setResult(Array(tokenizer.decode(list).utf8))
}

private func piece(_ tokenizer: Tokenizer, _ id: Int32) -> Int32 {
    guard id >= 0, Int(id) < tokenizer.vocabularySize else {
        fail(.invalidArgument("token id \(id) is outside the vocabulary"))
        return -1
    }
    return setResult(tokenizer.pieceBytes(id))
}

@_cdecl("tinylm_tokenize")
public func tinylm_tokenize(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32, _ flags: Int32) -> Int32 {
    guard let m = model(handle) else { return -1 }
    return tokenize(m.tokenizer, pointer, length, flags)
}

@_cdecl("tinylm_detokenize")
public func tinylm_detokenize(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ count: Int32) -> Int32 {
    guard let m = model(handle) else { return -1 }
    return detokenize(m.tokenizer, pointer, count)
}

@_cdecl("tinylm_token_piece")
public func tinylm_token_piece(_ handle: Int32, _ id: Int32) -> Int32 {
    guard let m = model(handle) else { return -1 }
    return piece(m.tokenizer, id)
}

// MARK: - Tokenizers without a model

private func tokenizer(_ handle: Int32) -> Tokenizer? {
    let index = Int(handle) - 1
    guard index >= 0, index < tokenizers.count, let t = tokenizers[index] else {
        fail(.invalidArgument("no tokenizer with handle \(handle)"))
        return nil
    }
    return t
}

@_cdecl("tinylm_tokenizer_load")
public func tinylm_tokenizer_load(_ pointer: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let raw = bytes(pointer, length) else { return 0 }
    do {
        return store(try Tokenizer(gguf: try GGUFFile(bytes: raw)), in: &tokenizers)
    } catch {
        fail(error)
        return 0
    }
}

@_cdecl("tinylm_tokenizer_free")
public func tinylm_tokenizer_free(_ handle: Int32) {
    let index = Int(handle) - 1
    guard index >= 0, index < tokenizers.count else { return }
    tokenizers[index] = nil
}

@_cdecl("tinylm_tokenizer_info")
public func tinylm_tokenizer_info(_ handle: Int32) -> Int32 {
    guard let t = tokenizer(handle) else { return -1 }
    var object = JSONObject()
    object["vocabularySize"] = .integer(t.vocabularySize)
    object["bosTokenID"] = t.bosTokenID.map { .integer(Int($0)) } ?? .null
    object["eosTokenID"] = t.eosTokenID.map { .integer(Int($0)) } ?? .null
    object["addsBOS"] = .bool(t.addsBOS)
    object["addsEOS"] = .bool(t.addsEOS)
    return setResult(Array(JSONValue.object(object).serialized(.compact).utf8))
}

@_cdecl("tinylm_tokenizer_tokenize")
public func tinylm_tokenizer_tokenize(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32, _ flags: Int32) -> Int32 {
    guard let t = tokenizer(handle) else { return -1 }
    return tokenize(t, pointer, length, flags)
}

@_cdecl("tinylm_tokenizer_detokenize")
public func tinylm_tokenizer_detokenize(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ count: Int32) -> Int32 {
    guard let t = tokenizer(handle) else { return -1 }
    return detokenize(t, pointer, count)
}

@_cdecl("tinylm_tokenizer_piece")
public func tinylm_tokenizer_piece(_ handle: Int32, _ id: Int32) -> Int32 {
    guard let t = tokenizer(handle) else { return -1 }
    return piece(t, id)
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
    e.endGeneration()
    e.transcript.reset()
    e.session.reset()
}

@_cdecl("tinylm_session_truncate")
public func tinylm_session_truncate(_ handle: Int32, _ count: Int32) {
    guard let e = entry(handle) else { return }
    e.endGeneration()
    e.session.truncate(to: Int(count))
}

@_cdecl("tinylm_session_chat_tokens")
public func tinylm_session_chat_tokens(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let e = entry(handle), let raw = bytes(pointer, length) else { return -1 }
    do {
        let request = try ChatRequest(json: Array(raw))
        let formatter = try ChatFormatter(model: e.session.model, templateSource: request.templateSource)
        let text = try request.promptText(formatter, model: e.session.model)
        e.endGeneration()
        let tokens = e.transcript.extend(to: text, formatter: formatter)
        setIDs(tokens)
        return Int32(tokens.count)
    } catch {
        fail(error)
        return -1
    }
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
        e.endGeneration()
        try e.session.evaluate(list)
        return 0
    } catch {
        fail(error)
        return -1
    }
}

@_cdecl("tinylm_model_fingerprint")
public func tinylm_model_fingerprint(_ handle: Int32) -> Int32 {
    guard let m = model(handle) else { return -1 }
    return setResult(Array(ContentHash.hex(m.fingerprint).utf8))
}

@_cdecl("tinylm_session_snapshot")
public func tinylm_session_snapshot(_ handle: Int32, _ templatePointer: UnsafeRawPointer?, _ templateLength: Int32) -> Int32 {
    guard let e = entry(handle), let template = text(templatePointer, templateLength) else { return -1 }
    e.endGeneration()
    return setResult(e.session.snapshot(transcript: e.transcript, templateSource: template.isEmpty ? nil : template))
}

@_cdecl("tinylm_session_restore")
public func tinylm_session_restore(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32,
                                   _ templatePointer: UnsafeRawPointer?, _ templateLength: Int32) -> Int32 {
    guard let e = entry(handle), let raw = bytes(pointer, length),
          let template = text(templatePointer, templateLength) else { return -1 }
    do {
        let transcript = try e.session.restore(snapshot: raw, templateSource: template.isEmpty ? nil : template)
        e.generator = nil
        e.generatorContinuesTranscript = false
        e.transcript = transcript ?? ChatTranscript()
        return Int32(e.session.tokens.count)
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
        e.endGeneration()
        let generator = try TextGenerator(session: e.session, prompt: prompt, options: options)
        e.generator = generator
        e.generatorContinuesTranscript = !prompt.isEmpty && prompt == e.transcript.tokens
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
    case .constraintBudget: return 6
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

@_cdecl("tinylm_matmul")
public func tinylm_matmul(_ type: Int32, _ rows: Int32, _ columns: Int32, _ weights: UnsafeRawPointer?,
                          _ input: UnsafePointer<Float>?, _ batch: Int32, _ output: UnsafeMutablePointer<Float>?) -> Int32 {
    guard let tensorType = TensorType(rawValue: UInt32(bitPattern: type)), MatrixMultiply.isSupported(tensorType) else {
        fail(.unsupported("tinylm_matmul: weight type \(type) has no kernel"))
        return -1
    }
    guard rows > 0, columns > 0, batch > 0, Int(columns) % tensorType.blockElements == 0 else {
        fail(.invalidArgument("tinylm_matmul: \(rows) rows, \(columns) columns, batch \(batch)"))
        return -1
    }
    guard let weights, let input, let output else {
        fail(.invalidArgument("tinylm_matmul: null pointer"))
        return -1
    }
    let weight = WeightMatrix(name: "matmul", type: tensorType, rows: Int(rows), columns: Int(columns), data: weights)
    let scratch = MatmulScratch(maxColumns: Int(columns), maxBatch: Int(batch))
    MatrixMultiply.multiply(weight, input: input, inputStride: Int(columns), batch: Int(batch), output: output,
                            outputStride: Int(rows), scratch: scratch, executor: SerialExecutor())
    return 0
}

// MARK: - LoRA adapters (Model/Adapters/)

nonisolated(unsafe) private var loraAdapters: [LoRAAdapter?] = []

private func loraAdapter(_ handle: Int32) -> LoRAAdapter? {
    let index = Int(handle) - 1
    guard index >= 0, index < loraAdapters.count, let a = loraAdapters[index] else {
        fail(.invalidArgument("no adapter with handle \(handle)"))
        return nil
    }
    return a
}

@_cdecl("tinylm_adapter_load")
public func tinylm_adapter_load(_ modelHandle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let m = model(modelHandle), let raw = bytes(pointer, length) else { return 0 }
    do {
        return store(try LoRAAdapter(bytes: raw, model: m), in: &loraAdapters)
    } catch {
        fail(error)
        return 0
    }
}

@_cdecl("tinylm_adapter_free")
public func tinylm_adapter_free(_ handle: Int32) {
    let index = Int(handle) - 1
    guard index >= 0, index < loraAdapters.count, let adapter = loraAdapters[index] else { return }
    // Its bytes are freed next (by the caller): no session may keep multiplying by them.
    for case let e? in sessions where e.session.adapters.contains(where: { $0.adapter === adapter }) {
        e.endGeneration()
        _ = try? e.session.setAdapters(e.session.adapters.filter { $0.adapter !== adapter })
    }
    loraAdapters[index] = nil
}

@_cdecl("tinylm_adapter_info")
public func tinylm_adapter_info(_ handle: Int32) -> Int32 {
    guard let a = loraAdapter(handle) else { return -1 }
    let info = JSONValue.object(JSONObject([
        ("architecture", .string(a.gguf.string("general.architecture") ?? "")),
        ("name", .string(a.gguf.string("general.name") ?? "")),
        ("alpha", .number(Double(a.alpha))),
        ("matrices", .integer(a.adaptedMatrixCount)),
        ("maxRank", .integer(a.maxRank)),
        ("weightBytes", .integer(a.weightBytes)),
    ]))
    return setResult(Array(info.serialized().utf8))
}

@_cdecl("tinylm_session_set_adapters")
public func tinylm_session_set_adapters(_ handle: Int32, _ handlesPointer: UnsafeRawPointer?,
                                        _ scalesPointer: UnsafeRawPointer?, _ count: Int32) -> Int32 {
    guard let e = entry(handle), let list = ids(handlesPointer, count), let scales = bytes(scalesPointer, count * 4) else { return -1 }
    var chosen: [ScaledAdapter] = []
    for (i, adapterHandle) in list.enumerated() {
        guard let adapter = loraAdapter(adapterHandle) else { return -1 }
        let scale = Float(bitPattern: UInt32(littleEndian: scales.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
        chosen.append(ScaledAdapter(adapter, scale: scale))
    }
    do {
        e.endGeneration()
        return try e.session.setAdapters(chosen) ? 1 : 0
    } catch {
        fail(error)
        return -1
    }
}

// MARK: - Embeddings and knowledge (Model/Encoder/, Knowledge/)

nonisolated(unsafe) private var embedders: [TextEmbedder?] = []
nonisolated(unsafe) private var knowledgeBases: [KnowledgeBase?] = []

private func embedder(_ handle: Int32) -> TextEmbedder? {
    let index = Int(handle) - 1
    guard index >= 0, index < embedders.count, let e = embedders[index] else {
        fail(.invalidArgument("no embedder with handle \(handle)"))
        return nil
    }
    return e
}

private func knowledgeBase(_ handle: Int32) -> KnowledgeBase? {
    let index = Int(handle) - 1
    guard index >= 0, index < knowledgeBases.count, let k = knowledgeBases[index] else {
        fail(.invalidArgument("no knowledge base with handle \(handle)"))
        return nil
    }
    return k
}

private func json(_ pointer: UnsafeRawPointer?, _ length: Int32, _ what: String) throws(TinyLMError) -> JSONValue {
    guard let raw = bytes(pointer, length) else { throw lastError ?? .invalidArgument("bad \(what)") }
    do { return try JSONValue(parsing: Array(raw)) } catch {
        throw TinyLMError.invalidArgument("\(what) is not valid JSON: \(error.description)")
    }
}

private func floats(_ pointer: UnsafeRawPointer?, _ count: Int) -> UnsafeBufferPointer<Float>? {
    guard count >= 0, count <= Int(Int32.max) / 4 else { fail(.invalidArgument("vector count out of range")); return nil }
    if count == 0 { return UnsafeBufferPointer(start: nil, count: 0) }
    guard let pointer, Int(bitPattern: pointer) % 4 == 0 else { fail(.invalidArgument("null or misaligned f32 pointer")); return nil }
    return UnsafeBufferPointer(start: pointer.assumingMemoryBound(to: Float.self), count: count)
}

@_cdecl("tinylm_embedder_load")
public func tinylm_embedder_load(_ pointer: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let raw = bytes(pointer, length) else { return 0 }
    do throws(TinyLMError) {
        return store(try TextEmbedder(bytes: raw, executor: sessionExecutor()), in: &embedders)
    } catch {
        fail(error)
        return 0
    }
}

@_cdecl("tinylm_embedder_free")
public func tinylm_embedder_free(_ handle: Int32) {
    let index = Int(handle) - 1
    guard index >= 0, index < embedders.count else { return }
    embedders[index] = nil
}

private func identityJSON(_ identity: EmbedderIdentity) -> JSONValue {
    .object(JSONObject([
        ("name", .string(identity.name)),
        ("fingerprint", .string(ContentHash.hex(identity.fingerprint))),
        ("dimensions", .integer(identity.dimensions)),
        ("pooling", .string(identity.pooling.name)),
    ]))
}

@_cdecl("tinylm_embedder_info")
public func tinylm_embedder_info(_ handle: Int32) -> Int32 {
    guard let e = embedder(handle) else { return -1 }
    let c = e.config
    let info = JSONValue.object(JSONObject([
        ("name", .string(c.name)), ("architecture", .string(c.architecture)),
        ("dimensions", .integer(e.dimensions)), ("layerCount", .integer(c.layerCount)), ("headCount", .integer(c.headCount)),
        ("contextLength", .integer(c.contextLength)), ("maxTokens", .integer(e.maxTokens)),
        ("pooling", .string(c.pooling.name)), ("vocabularySize", .integer(c.vocabularySize)),
        ("fingerprint", .string(ContentHash.hex(e.fingerprint))), ("fileBytes", .integer(e.gguf.bytes.count)),
        ("memoryBytes", .integer(e.memoryBytes)),
    ]))
    return setResult(Array(info.serialized().utf8))
}

@_cdecl("tinylm_embedder_set_max_tokens")
public func tinylm_embedder_set_max_tokens(_ handle: Int32, _ count: Int32) -> Int32 {
    guard let e = embedder(handle) else { return -1 }
    do { try e.setMaxTokens(Int(count)) } catch { fail(error); return -1 }
    return count
}

@_cdecl("tinylm_embedder_tokenize")
public func tinylm_embedder_tokenize(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let e = embedder(handle), let input = text(pointer, length) else { return -1 }
    let ids = e.tokenize(input).ids
    setIDs(ids)
    return Int32(ids.count)
}

@_cdecl("tinylm_embed")
public func tinylm_embed(_ handle: Int32, _ textsPointer: UnsafeRawPointer?, _ textsLength: Int32,
                         _ lengthsPointer: UnsafeRawPointer?, _ count: Int32, _ pooling: Int32) -> Int32 {
    guard let e = embedder(handle), let all = bytes(textsPointer, textsLength), let lengths = ids(lengthsPointer, count) else { return -1 }
    var chosen: EmbeddingPooling? = nil
    if pooling != 0 {
        guard let p = EmbeddingPooling(rawValue: pooling) else { fail(.invalidArgument("pooling \(pooling): 0 the model's, 1 mean, 2 CLS, 3 last")); return -1 }
        chosen = p
    }
    var tokenized: [TextEmbedder.TokenizedText] = []
    var offset = 0
    for n in lengths {
        guard n >= 0, Int(n) <= all.count - offset else { fail(.invalidArgument("text lengths exceed the \(all.count) bytes given")); return -1 }
        tokenized.append(e.tokenize(String(decoding: UnsafeRawBufferPointer(rebasing: all[offset..<offset + Int(n)]), as: UTF8.self)))
        offset += Int(n)
    }
    do throws(TinyLMError) {
        let result = try e.embed(tokenized: tokenized, pooling: chosen)
        var out: [UInt8] = []
        out.reserveCapacity(result.vectors.count * 4 + tokenized.count * 8)
        result.vectors.withUnsafeBytes { out.append(contentsOf: $0) }
        for t in tokenized { withUnsafeBytes(of: Int32(t.ids.count).littleEndian) { out.append(contentsOf: $0) } }
        for t in tokenized { withUnsafeBytes(of: Int32(clamping: t.fullCount).littleEndian) { out.append(contentsOf: $0) } }
        result_set(out)
        return Int32(tokenized.count)
    } catch {
        fail(error)
        return -1
    }
}

private func result_set(_ bytes: [UInt8]) { _ = setResult(bytes) }

@_cdecl("tinylm_knowledge_create")
public func tinylm_knowledge_create(_ embedderHandle: Int32, _ form: Int32) -> Int32 {
    guard let e = embedder(embedderHandle) else { return 0 }
    guard form >= 0, let vectorForm = VectorForm(rawValue: UInt32(form)) else { fail(.invalidArgument("vector form \(form): 0 f32, 1 f16, 2 int8")); return 0 }
    return store(KnowledgeBase(embedder: e.identity, vectorForm: vectorForm), in: &knowledgeBases)
}

@_cdecl("tinylm_knowledge_open")
public func tinylm_knowledge_open(_ embedderHandle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32, _ form: Int32) -> Int32 {
    guard let e = embedder(embedderHandle), let raw = bytes(pointer, length) else { return 0 }
    var wanted: VectorForm? = nil
    if form >= 0 {
        guard let f = VectorForm(rawValue: UInt32(form)) else { fail(.invalidArgument("vector form \(form): 0 f32, 1 f16, 2 int8, -1 the file's")); return 0 }
        wanted = f
    }
    do throws(TinyLMError) {
        return store(try KnowledgeFile.read(raw, expecting: e.identity, vectorForm: wanted), in: &knowledgeBases)
    } catch {
        fail(error)
        return 0
    }
}

@_cdecl("tinylm_knowledge_merge")
public func tinylm_knowledge_merge(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let k = knowledgeBase(handle), let raw = bytes(pointer, length) else { return -1 }
    do throws(TinyLMError) {
        let other = try KnowledgeFile.read(raw, expecting: k.embedder, vectorForm: k.vectorForm)
        try k.merge(other)
        return Int32(other.documents.count)
    } catch {
        fail(error)
        return -1
    }
}

@_cdecl("tinylm_knowledge_free")
public func tinylm_knowledge_free(_ handle: Int32) {
    let index = Int(handle) - 1
    guard index >= 0, index < knowledgeBases.count else { return }
    knowledgeBases[index] = nil
}

@_cdecl("tinylm_knowledge_info")
public func tinylm_knowledge_info(_ handle: Int32) -> Int32 {
    guard let k = knowledgeBase(handle) else { return -1 }
    var counts = [Int](repeating: 0, count: k.documents.count)
    for c in k.chunks { counts[c.document] += 1 }
    let documents: [JSONValue] = k.documents.enumerated().map { i, d in
        .object(JSONObject([("id", .string(d.id)), ("title", .string(d.title)), ("url", .string(d.url)),
                            ("sourceBytes", .integer(d.sourceBytes)), ("chunks", .integer(counts[i]))]))
    }
    let info = JSONValue.object(JSONObject([
        ("embedder", identityJSON(k.embedder)), ("vectorForm", .string(k.vectorForm.name)),
        ("chunks", .integer(k.chunks.count)), ("documents", .array(documents)),
    ]))
    return setResult(Array(info.serialized().utf8))
}

private func prepare(_ e: TextEmbedder, _ request: JSONValue) throws(TinyLMError) -> PreparedDocument {
    guard let id = request["id"]?.stringValue, !id.isEmpty else { throw TinyLMError.invalidArgument("a document needs a non-empty 'id'") }
    guard let text = request["text"]?.stringValue else { throw TinyLMError.invalidArgument("document '\(id)' needs 'text'") }
    let formatName = request["format"]?.stringValue ?? "text"
    guard let format = DocumentFormat(name: formatName) else { throw TinyLMError.invalidArgument("format '\(formatName)': text, markdown or html") }
    let maxTokens = request["maxTokens"]?.intValue ?? min(160, e.maxTokens - 2)
    let overlap = request["overlapTokens"]?.intValue ?? 32
    guard maxTokens >= 16, maxTokens <= e.maxTokens - 2, overlap >= 0 else {
        throw TinyLMError.invalidArgument("maxTokens must be 16…\(e.maxTokens - 2) and overlapTokens ≥ 0")
    }
    let source = KnowledgeSource(id: id, title: request["title"]?.stringValue, url: request["url"]?.stringValue ?? "",
                                 text: text, format: format)
    return KnowledgeIndexer.prepare(source, chunker: DocumentChunker(tokenizer: e.tokenizer, maxTokens: maxTokens, overlapTokens: overlap))
}

private func documentJSON(_ d: KnowledgeDocument) -> JSONValue {
    .object(JSONObject([("id", .string(d.id)), ("title", .string(d.title)), ("url", .string(d.url)), ("sourceBytes", .integer(d.sourceBytes))]))
}

@_cdecl("tinylm_knowledge_prepare")
public func tinylm_knowledge_prepare(_ embedderHandle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let e = embedder(embedderHandle) else { return -1 }
    do throws(TinyLMError) {
        let prepared = try prepare(e, try json(pointer, length, "document"))
        let reply = JSONValue.object(JSONObject([
            ("document", documentJSON(prepared.document)),
            ("chunks", .array(prepared.chunks.map { .object(JSONObject([("heading", .string($0.heading)), ("text", .string($0.text))])) })),
            ("embeddingTexts", .array(prepared.embeddingTexts.map { .string($0) })),
        ]))
        _ = setResult(Array(reply.serialized().utf8))
        return Int32(prepared.chunks.count)
    } catch {
        fail(error)
        return -1
    }
}

@_cdecl("tinylm_knowledge_add")
public func tinylm_knowledge_add(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32, _ vectors: UnsafeRawPointer?) -> Int32 {
    guard let k = knowledgeBase(handle) else { return -1 }
    do throws(TinyLMError) {
        let request = try json(pointer, length, "prepared document")
        guard let d = request["document"], let id = d["id"]?.stringValue, !id.isEmpty, let list = request["chunks"]?.arrayValue else {
            throw TinyLMError.invalidArgument("expected {document: {id, title, url}, chunks: [{heading, text}]}")
        }
        var chunks: [(heading: String, text: String)] = []
        for c in list {
            guard let text = c["text"]?.stringValue else { throw TinyLMError.invalidArgument("every chunk needs 'text'") }
            chunks.append((c["heading"]?.stringValue ?? "", text))
        }
        guard let values = floats(vectors, chunks.count * k.dimensions) else { return -1 }
        let document = KnowledgeDocument(id: id, title: d["title"]?.stringValue ?? id, url: d["url"]?.stringValue ?? "",
                                         sourceBytes: d["sourceBytes"]?.intValue ?? 0)
        try k.add(document, chunks: chunks, vectors: values)
        return Int32(chunks.count)
    } catch {
        fail(error)
        return -1
    }
}

@_cdecl("tinylm_knowledge_remove")
public func tinylm_knowledge_remove(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let k = knowledgeBase(handle), let id = text(pointer, length) else { return -1 }
    return k.remove(documentID: id) ? 1 : 0
}

@_cdecl("tinylm_knowledge_search")
public func tinylm_knowledge_search(_ handle: Int32, _ query: UnsafeRawPointer?, _ k: Int32) -> Int32 {
    guard let base = knowledgeBase(handle), let vector = floats(query, base.dimensions) else { return -1 }
    guard k > 0 else { fail(.invalidArgument("k must be at least 1")); return -1 }
    let hits = base.search(vector.baseAddress!, k: Int(k), executor: sessionExecutor())
    let list: [JSONValue] = hits.map { hit in
        let chunk = base.chunks[hit.chunk]
        let d = base.documents[chunk.document]
        return .object(JSONObject([
            ("chunk", .integer(hit.chunk)), ("score", .number(Double(hit.score))),
            ("documentId", .string(d.id)), ("title", .string(d.title)), ("url", .string(d.url)),
            ("heading", .string(chunk.heading)), ("text", .string(chunk.text)),
        ]))
    }
    _ = setResult(Array(JSONValue.array(list).serialized().utf8))
    return Int32(hits.count)
}

@_cdecl("tinylm_knowledge_export")
public func tinylm_knowledge_export(_ handle: Int32, _ pointer: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let k = knowledgeBase(handle), let id = text(pointer, length) else { return -1 }
    if id.isEmpty { return setResult(KnowledgeFile.write(k)) }
    guard let index = k.documentIndex(id: id) else { fail(.invalidArgument("no document '\(id)' in this knowledge base")); return -1 }
    return setResult(KnowledgeFile.write(k, only: [index]))
}

@_cdecl("tinylm_grounded_messages")
public func tinylm_grounded_messages(_ pointer: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    do throws(TinyLMError) {
        let request = try json(pointer, length, "grounding request")
        guard let list = request["messages"]?.arrayValue else { throw TinyLMError.invalidArgument("expected {messages: [{role, content}], passages: [...]}") }
        var messages: [ChatMessage] = []
        for m in list {
            guard let role = m["role"]?.stringValue, let content = m["content"]?.stringValue else { throw TinyLMError.invalidArgument("every message needs 'role' and 'content' strings") }
            messages.append(ChatMessage(role: role, content: content))
        }
        var passages: [GroundedPrompt.Passage] = []
        for p in request["passages"]?.arrayValue ?? [] {
            passages.append(GroundedPrompt.Passage(title: p["title"]?.stringValue ?? "", url: p["url"]?.stringValue ?? "",
                                                   heading: p["heading"]?.stringValue ?? "", text: p["text"]?.stringValue ?? ""))
        }
        let grounded = GroundedPrompt.messages(messages, passages: passages)
        let reply = JSONValue.array(grounded.map { .object(JSONObject([("role", .string($0.role)), ("content", .string($0.content))])) })
        return setResult(Array(reply.serialized().utf8))
    } catch {
        fail(error)
        return -1
    }
}
