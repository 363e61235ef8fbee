/// The architectures this runtime implements (GGUF `general.architecture`).
public enum Architecture: String, Sendable {
    /// Llama, SmolLM, TinyLlama, Mistral-style decoders.
    case llama
    /// Qwen 2 / 2.5: the llama graph with biases on q, k and v and NeoX-style RoPE.
    case qwen2
    /// Gemma 3: scaled embeddings, q/k norms, sandwich norms, GELU, local/global attention.
    case gemma3
}

/// How RoPE pairs up the dimensions of a head: adjacent pairs (the original GPT-J/llama
/// layout as GGUF stores llama weights) or the two halves of the head (GPT-NeoX layout).
public enum RoPEStyle: Sendable {
    case adjacentPairs
    case halves
}

/// Everything the forward pass needs to know about a model's shape, read once from GGUF
/// metadata (`<arch>.*` keys) into plain typed fields.
public struct ModelConfig: Sendable {
    public var architecture: Architecture
    public var name: String
    public var embeddingLength: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    /// Per-head dimension of queries and keys, and of values.
    public var keyLength: Int
    public var valueLength: Int
    public var feedForwardLength: Int
    public var vocabularySize: Int
    /// The context the model was trained with (an upper bound for sessions).
    public var trainedContextLength: Int
    public var rmsNormEpsilon: Float
    public var ropeBase: Float
    /// RoPE base of the sliding-window (local) layers, where the architecture has them.
    public var ropeLocalBase: Float
    public var ropeDimensionCount: Int
    public var ropeScale: Float
    public var ropeStyle: RoPEStyle
    /// Sliding-window size for local-attention layers (0: every layer attends globally).
    public var slidingWindow: Int
    /// Every `slidingWindowPattern`-th layer is global; the others use the window.
    public var slidingWindowPattern: Int
    /// Multiplier applied to q·k (1/sqrt(keyLength) unless the architecture says otherwise).
    public var attentionScale: Float
    /// Soft-capping of final logits (0 = none).
    public var finalLogitSoftcap: Float

    public var queryDimension: Int { headCount * keyLength }
    public var keyValueDimension: Int { kvHeadCount * keyLength }
    public var valueDimension: Int { kvHeadCount * valueLength }

    public func usesSlidingWindow(layer: Int) -> Bool {
        slidingWindow > 0 && slidingWindowPattern > 0 && (layer + 1) % slidingWindowPattern != 0
    }

    public init(gguf: GGUFFile) throws(TinyLMError) {
        let archName = try gguf.requireString("general.architecture")
        guard let architecture = Architecture(rawValue: archName) else {
            throw .unsupported("unsupported model architecture '\(archName)' (supported: llama, qwen2, gemma3)")
        }
        self.architecture = architecture
        let a = archName
        name = gguf.string("general.name") ?? archName
        embeddingLength = try gguf.requireInt("\(a).embedding_length")
        layerCount = try gguf.requireInt("\(a).block_count")
        headCount = try gguf.requireInt("\(a).attention.head_count")
        kvHeadCount = try gguf.optionalInt("\(a).attention.head_count_kv") ?? headCount
        feedForwardLength = try gguf.requireInt("\(a).feed_forward_length")
        trainedContextLength = try gguf.requireInt("\(a).context_length")
        guard embeddingLength > 0, layerCount > 0, headCount > 0, kvHeadCount > 0, feedForwardLength > 0,
              headCount % kvHeadCount == 0, embeddingLength <= 1 << 16, layerCount <= 1024, headCount <= 1024
        else {
            throw .malformed("inconsistent model dimensions: embedding \(embeddingLength), layers \(layerCount), heads \(headCount)/\(kvHeadCount)")
        }
        // Bounded to 32 bits, so that a 64-bit build accepts what wasm32 can represent.
        guard trainedContextLength > 0, trainedContextLength <= Int(Int32.max) else {
            throw .malformed("\(a).context_length must be between 1 and 2^31 - 1, found \(trainedContextLength)")
        }
        guard feedForwardLength <= Int(Int32.max) else {
            throw .malformed("\(a).feed_forward_length must be below 2^31, found \(feedForwardLength)")
        }
        keyLength = try gguf.optionalInt("\(a).attention.key_length") ?? embeddingLength / headCount
        valueLength = try gguf.optionalInt("\(a).attention.value_length") ?? keyLength
        guard keyLength > 0, keyLength % 2 == 0, valueLength > 0, keyLength <= 1024, valueLength <= 1024 else {
            throw .malformed("invalid attention head size \(keyLength)/\(valueLength)")
        }
        if let tokens = gguf.array("tokenizer.ggml.tokens") {
            vocabularySize = tokens.count
        } else {
            vocabularySize = try gguf.requireInt("\(a).vocab_size")
            guard vocabularySize > 0, vocabularySize <= Int(Int32.max) else {
                throw .malformed("\(a).vocab_size must be between 1 and 2^31 - 1, found \(vocabularySize)")
            }
        }
        rmsNormEpsilon = gguf.float("\(a).attention.layer_norm_rms_epsilon") ?? 1e-5
        ropeBase = gguf.float("\(a).rope.freq_base") ?? 10_000
        ropeDimensionCount = try gguf.optionalInt("\(a).rope.dimension_count") ?? keyLength
        guard ropeDimensionCount > 0, ropeDimensionCount <= keyLength, ropeDimensionCount % 2 == 0 else {
            throw .malformed("invalid rope.dimension_count \(ropeDimensionCount) for head size \(keyLength)")
        }
        var scale: Float = 1
        if let factor = gguf.float("\(a).rope.scaling.factor"), factor > 0,
           (gguf.string("\(a).rope.scaling.type") ?? "linear") == "linear" {
            scale = 1 / factor
        }
        ropeScale = scale
        attentionScale = 1 / Float(keyLength).squareRoot()
        finalLogitSoftcap = gguf.float("\(a).final_logit_softcapping") ?? 0
        slidingWindow = 0
        slidingWindowPattern = 0
        ropeLocalBase = ropeBase

        switch architecture {
        case .llama:
            ropeStyle = .adjacentPairs
        case .qwen2:
            ropeStyle = .halves
        case .gemma3:
            ropeStyle = .halves
            // Gemma 3: every sixth layer is global; the others see a sliding window and use
            // RoPE base 10 000 (the checkpoint's freq_base applies to the global layers).
            slidingWindow = try gguf.optionalInt("\(a).attention.sliding_window") ?? 0
            guard slidingWindow >= 0, slidingWindow <= Int(Int32.max) else {
                throw .malformed("\(a).attention.sliding_window must be between 0 and 2^31 - 1, found \(slidingWindow)")
            }
            slidingWindowPattern = 6
            ropeLocalBase = 10_000
            if let scale = gguf.float("\(a).attention.query_pre_attn_scalar"), scale > 0 {
                attentionScale = 1 / scale.squareRoot()
            }
        }
    }
}
