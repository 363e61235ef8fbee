/// A loaded model: its configuration, tokenizer and network, all viewing the GGUF bytes in
/// place. Immutable after loading; any number of sessions can share one model.
///
/// The caller owns the bytes and must keep them alive and unchanged while the model exists.
public final class Model {
    public let gguf: GGUFFile
    public let config: ModelConfig
    public let tokenizer: Tokenizer
    let network: Network

    /// The architecture-specific graph. An enum rather than a protocol existential so that
    /// calls are static (Embedded Swift has no existentials of value protocols).
    enum Network {
        case llama(LlamaModel)
        case gemma3(Gemma3Model)

        func forward(_ tokens: UnsafeBufferPointer<Int32>, startPosition: Int, state: InferenceState) {
            switch self {
            case .llama(let m): m.forward(tokens, startPosition: startPosition, state: state)
            case .gemma3(let m): m.forward(tokens, startPosition: startPosition, state: state)
            }
        }
    }

    public init(bytes: UnsafeRawBufferPointer) throws(TinyLMError) {
        gguf = try GGUFFile(bytes: bytes)
        guard !gguf.tensors.isEmpty else {
            throw .unsupported("this GGUF file holds a vocabulary only (no tensors): it can tokenize (Tokenizer(gguf:), tinylm tokenize, tinylm_tokenizer_load) but not run")
        }
        config = try ModelConfig(gguf: gguf)
        tokenizer = try Tokenizer(gguf: gguf)
        guard tokenizer.vocabularySize == config.vocabularySize else {
            throw .malformed("tokenizer has \(tokenizer.vocabularySize) tokens but the model expects \(config.vocabularySize)")
        }
        switch config.architecture {
        case .llama, .qwen2: network = .llama(try LlamaModel(gguf: gguf, config: config))
        case .gemma3: network = .gemma3(try Gemma3Model(gguf: gguf, config: config))
        }
    }

    /// The model's own chat template (`tokenizer.chat_template`), if it ships one.
    public var chatTemplateSource: String? { gguf.string("tokenizer.chat_template") }

    /// Bytes of weights a single decode step reads (every tensor but the embedding lookup,
    /// which reads one row): the figure that bounds decode speed by memory bandwidth.
    public var weightBytesPerToken: Int {
        var total = 0
        for tensor in gguf.tensors where tensor.name != "token_embd.weight" { total += tensor.byteCount }
        if gguf.tensorInfo(named: "output.weight") == nil, let embedding = gguf.tensorInfo(named: "token_embd.weight") {
            total += embedding.byteCount
        }
        return total
    }
}
