/// How an encoder turns its per-token states into one vector per text.
public enum EmbeddingPooling: Int32, Sendable {
    /// The average over every token of the text, [CLS] and [SEP] included (sentence-transformers'
    /// mean pooling).
    case mean = 1
    /// The state of the first token ([CLS]).
    case cls = 2
    /// The state of the last token.
    case last = 3

    /// From GGUF's `<arch>.pooling_type` numbering (llama.cpp's enum: 1 mean, 2 CLS, 3 last).
    public init?(ggufValue: Int) {
        guard let raw = Int32(exactly: ggufValue), let pooling = EmbeddingPooling(rawValue: raw) else { return nil }
        self = pooling
    }

    public init?(name: String) {
        switch name {
        case "mean": self = .mean
        case "cls", "CLS": self = .cls
        case "last": self = .last
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .mean: return "mean"
        case .cls: return "cls"
        case .last: return "last"
        }
    }
}

/// The shape of a sentence encoder, read once from GGUF metadata (`bert.*`, as llama.cpp's
/// converter writes them).
public struct EncoderConfig: Sendable {
    /// GGUF architectures that are encoders (embedding models), not decoders.
    public static let architectures = ["bert"]

    public var architecture: String
    public var name: String
    public var embeddingLength: Int
    public var layerCount: Int
    public var headCount: Int
    public var headSize: Int
    public var feedForwardLength: Int
    public var vocabularySize: Int
    /// Rows of the position table: the longest input the network can take.
    public var contextLength: Int
    /// Where texts are cut: `sentence_transformers.max_seq_length` when the file has it (the
    /// length the model was trained for), else `contextLength`.
    public var maxTokens: Int
    public var layerNormEpsilon: Float
    public var tokenTypeCount: Int
    /// `bert.pooling_type`; mean when the file does not say.
    public var pooling: EmbeddingPooling

    /// Whether a GGUF file holds an encoder (by `general.architecture`).
    public static func isEncoder(_ gguf: GGUFFile) -> Bool {
        guard let architecture = gguf.string("general.architecture") else { return false }
        return architectures.contains(architecture)
    }

    public init(gguf: GGUFFile) throws(TinyLMError) {
        let a = try gguf.requireString("general.architecture")
        guard Self.architectures.contains(a) else {
            throw TinyLMError(.wrongModelKind,
                              "this is a '\(a)' model, a text generator (chat model), not an embedding model: load it as a model, not as an embedder (embedding architectures: \(Self.architectures.joined(separator: ", ")))")
        }
        architecture = a
        name = gguf.string("general.name") ?? a
        embeddingLength = try gguf.requireInt("\(a).embedding_length")
        layerCount = try gguf.requireInt("\(a).block_count")
        headCount = try gguf.requireInt("\(a).attention.head_count")
        feedForwardLength = try gguf.requireInt("\(a).feed_forward_length")
        contextLength = try gguf.requireInt("\(a).context_length")
        guard embeddingLength > 0, embeddingLength <= 1 << 14, layerCount > 0, layerCount <= 256,
              headCount > 0, headCount <= 256, embeddingLength % headCount == 0,
              feedForwardLength > 0, feedForwardLength <= 1 << 16, contextLength > 1, contextLength <= 1 << 16 else {
            throw .malformed("inconsistent encoder dimensions: embedding \(embeddingLength), layers \(layerCount), heads \(headCount), feed-forward \(feedForwardLength), context \(contextLength)")
        }
        // optionalInt rather than int(): a value wasm32 cannot hold is an error in both builds,
        // never a silent default in one of them.
        if let kv = try gguf.optionalInt("\(a).attention.head_count_kv"), kv != headCount {
            throw .unsupported("encoder with \(kv) key/value heads for \(headCount) query heads is not supported")
        }
        if gguf.bool("\(a).attention.causal") == true {
            throw .unsupported("'\(a).attention.causal' is true: only bidirectional (non-causal) encoders are supported")
        }
        headSize = embeddingLength / headCount
        if let tokens = gguf.array("tokenizer.ggml.tokens") {
            vocabularySize = tokens.count
        } else {
            vocabularySize = try gguf.requireInt("\(a).vocab_size")
        }
        layerNormEpsilon = gguf.float("\(a).attention.layer_norm_epsilon") ?? 1e-12
        guard layerNormEpsilon.isFinite, layerNormEpsilon >= 0 else {
            throw .malformed("invalid \(a).attention.layer_norm_epsilon \(layerNormEpsilon)")
        }
        tokenTypeCount = try gguf.optionalInt("tokenizer.ggml.token_type_count") ?? 1
        if let value = try gguf.optionalInt("\(a).pooling_type"), value != 0 {
            guard let pooling = EmbeddingPooling(ggufValue: value) else {
                throw .unsupported("pooling type \(value) (\(a).pooling_type) is not supported: 1 mean, 2 CLS, 3 last")
            }
            self.pooling = pooling
        } else {
            pooling = .mean
        }
        maxTokens = contextLength
        if let limit = try gguf.optionalInt("sentence_transformers.max_seq_length"), limit >= 2, limit < contextLength {
            maxTokens = limit
        }
    }
}
