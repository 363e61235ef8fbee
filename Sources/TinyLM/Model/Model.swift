/// A loaded model: its configuration, tokenizer and network, all viewing the GGUF bytes in
/// place. Immutable after loading; any number of sessions can share one model.
///
/// The caller owns the bytes and must keep them alive and unchanged while the model exists.
public final class Model {
    public let gguf: GGUFFile
    public let config: ModelConfig
    public let tokenizer: Tokenizer
    let network: Network
    /// `fingerprint`, once computed (Generation/SessionSnapshot.swift).
    var cachedFingerprint: UInt64? = nil

    /// The network. An enum rather than a protocol existential so that calls are static
    /// (Embedded Swift has no existentials of value protocols); every architecture so far is a
    /// `Decoder` built from its recipe.
    enum Network {
        case decoder(Decoder)

        func forward(_ tokens: UnsafeBufferPointer<Int32>, startPosition: Int, state: InferenceState) {
            switch self {
            case .decoder(let d): d.forward(tokens, startPosition: startPosition, state: state)
            }
        }

        /// The matrices LoRA adapters may change, by slot.
        var adaptable: [AdaptableMatrix] {
            switch self {
            case .decoder(let d): return d.adaptable
            }
        }

        /// The slot of the output projection, which only ever multiplies one token (nil when
        /// it is the tied embedding table).
        var outputSlot: Int? {
            switch self {
            case .decoder(let d): return d.output.slot
            }
        }
    }

    /// The matrices LoRA adapters may change (`LoRAAdapter`), by slot.
    var adaptableMatrices: [AdaptableMatrix] { network.adaptable }

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
        network = .decoder(try Decoder(gguf: gguf, config: config))
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
