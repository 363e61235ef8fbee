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
    /// Linear position scaling (1 / `rope.scaling.factor`; 1 = none).
    public var ropeScale: Float
    public var ropeStyle: RoPEStyle
    /// Multiplies every RoPE sine and cosine (`rope.scaling.attn_factor`, LongRoPE models).
    public var ropeAttentionFactor: Float
    /// The context the RoPE frequencies were trained for before long-context scaling
    /// (`rope.scaling.original_context_length`): longer sessions use the long-context factors.
    public var ropeOriginalContextLength: Int
    /// Sliding-window size for local-attention layers (0: every layer attends globally).
    public var slidingWindow: Int
    /// Every `slidingWindowPattern`-th layer is global; the others use the window (0: all do).
    public var slidingWindowPattern: Int
    /// Multiplier applied to q·k (1/sqrt(keyLength) unless the architecture says otherwise).
    public var attentionScale: Float

    public var queryDimension: Int { headCount * keyLength }
    public var keyValueDimension: Int { kvHeadCount * keyLength }
    public var valueDimension: Int { kvHeadCount * valueLength }

    private static func checkedSlidingWindow(_ window: Int, key: String) throws(TinyLMError) -> Int {
        guard window >= 0, window <= Int(Int32.max) else {
            throw .malformed("\(key) must be between 0 and 2^31 - 1, found \(window)")
        }
        return window
    }

    public func usesSlidingWindow(layer: Int) -> Bool {
        slidingWindow > 0 && (slidingWindowPattern == 0 || (layer + 1) % slidingWindowPattern != 0)
    }

    public init(gguf: GGUFFile) throws(TinyLMError) {
        let archName = try gguf.requireString("general.architecture")
        guard let architecture = Architecture.named(archName) else {
            if EncoderConfig.architectures.contains(archName) {
                throw TinyLMError(.wrongModelKind, "this is a '\(archName)' embedding model (a sentence encoder), not a text generator: load it as an embedder (TextEmbedder, `tinylm embed`, TinyLM.loadEmbedder)")
            }
            throw .unsupported("unsupported model architecture '\(archName)' (supported: \(Architecture.supportedNames))")
        }
        self.architecture = architecture
        let recipe = architecture.recipe
        let a = archName
        name = gguf.string("general.name") ?? archName
        embeddingLength = try gguf.requireInt("\(a).embedding_length")
        layerCount = try gguf.requireInt("\(a).block_count")
        headCount = try gguf.requireInt("\(a).attention.head_count")
        kvHeadCount = try gguf.optionalInt("\(a).attention.head_count_kv") ?? headCount
        feedForwardLength = try gguf.requireInt("\(a).feed_forward_length")
        trainedContextLength = try gguf.requireInt("\(a).context_length")
        guard embeddingLength > 0, layerCount > 0, headCount > 0, kvHeadCount > 0, feedForwardLength > 0,
              headCount % kvHeadCount == 0, embeddingLength <= 1 << 16, layerCount <= 1024, headCount <= 1024,
              feedForwardLength <= 1 << 18, trainedContextLength > 0
        else {
            throw .malformed("inconsistent model dimensions: embedding \(embeddingLength), layers \(layerCount), heads \(headCount)/\(kvHeadCount), feed-forward \(feedForwardLength), context \(trainedContextLength)")
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
        ropeStyle = recipe.ropeStyle
        ropeBase = gguf.float("\(a).rope.freq_base") ?? 10_000
        ropeDimensionCount = try gguf.optionalInt("\(a).rope.dimension_count") ?? keyLength
        guard ropeDimensionCount > 0, ropeDimensionCount <= keyLength, ropeDimensionCount % 2 == 0 else {
            throw .malformed("invalid rope.dimension_count \(ropeDimensionCount) for head size \(keyLength)")
        }
        // As llama.cpp: a scaling factor divides the positions unless the type is "none";
        // "llama3" and LongRoPE scaling come as frequency-factor tensors (DecoderRecipe).
        let scalingType = gguf.string("\(a).rope.scaling.type") ?? "linear"
        guard scalingType == "linear" || scalingType == "none" || scalingType == "longrope" else {
            throw .unsupported("RoPE scaling type '\(scalingType)' is not supported (supported: linear, longrope, none)")
        }
        ropeScale = 1
        if scalingType != "none", let factor = gguf.float("\(a).rope.scaling.factor"), factor != 0 {
            guard factor > 0, factor.isFinite else { throw .malformed("invalid rope.scaling.factor \(factor)") }
            ropeScale = 1 / factor
        }
        ropeAttentionFactor = gguf.float("\(a).rope.scaling.attn_factor") ?? 1
        guard ropeAttentionFactor > 0, ropeAttentionFactor.isFinite else {
            throw .malformed("invalid rope.scaling.attn_factor \(ropeAttentionFactor)")
        }
        ropeOriginalContextLength = try gguf.optionalInt("\(a).rope.scaling.original_context_length") ?? trainedContextLength
        guard ropeOriginalContextLength > 0, ropeOriginalContextLength <= Int(Int32.max) else {
            throw .malformed("\(a).rope.scaling.original_context_length must be between 1 and 2^31 - 1, found \(ropeOriginalContextLength)")
        }
        attentionScale = 1 / Float(keyLength).squareRoot()
        if recipe.queryPreAttentionScalar, let scalar = gguf.float("\(a).attention.query_pre_attn_scalar"), scalar > 0 {
            attentionScale = 1 / scalar.squareRoot()
        }
        slidingWindow = 0
        slidingWindowPattern = 0
        ropeLocalBase = ropeBase
        // A negative window is malformed, not "no window": wasm32 cannot even represent most of
        // them, and both builds must say the same about one file.
        if let local = recipe.localAttention, let window = try gguf.optionalInt("\(a).attention.sliding_window"),
           try Self.checkedSlidingWindow(window, key: "\(a).attention.sliding_window") > 0 {
            slidingWindow = window
            if let value = gguf["\(a).attention.sliding_window_pattern"], value.intValue == nil {
                throw .unsupported("a per-layer attention.sliding_window_pattern is not supported (only a period)")
            }
            slidingWindowPattern = try gguf.optionalInt("\(a).attention.sliding_window_pattern") ?? local.pattern
            guard slidingWindowPattern >= 0, slidingWindowPattern <= Int(Int32.max) else { throw .malformed("invalid attention.sliding_window_pattern \(slidingWindowPattern)") }
            ropeLocalBase = gguf.float("\(a).rope.freq_base_swa") ?? local.ropeBase
        }
    }
}
