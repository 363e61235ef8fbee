/// A sentence-embedding model (BERT family, e.g. all-MiniLM-L6-v2, bge-small, e5-small): text
/// in, one unit-length vector per text out. Separate from `Model`, the text generator:
/// passing one kind of file where the other is expected fails with `.wrongModelKind`.
///
/// Texts are tokenized as `[CLS] … [SEP]`, cut at `maxTokens` (the special tokens included,
/// as sentence-transformers does; the result says which texts were cut), packed into batches
/// of up to `batchTokens` tokens, run through the encoder, pooled (mean or CLS) and
/// L2-normalized. All working memory is allocated once, when the embedder is made.
///
/// Not thread-safe: one `embed` call at a time (the executor parallelizes inside a call).
/// The caller keeps `bytes` alive and unchanged while the embedder exists.
public final class TextEmbedder {
    public let gguf: GGUFFile
    public let config: EncoderConfig
    public let tokenizer: Tokenizer
    let network: BertModel
    let state: EncoderState
    /// Where texts are cut, in tokens ([CLS] and [SEP] included): `config.maxTokens` unless
    /// changed (2…`config.contextLength`).
    public private(set) var maxTokens: Int
    /// ContentHash of the weights and vocabulary, computed on first use (Knowledge/).
    var cachedFingerprint: UInt64? = nil

    public var dimensions: Int { config.embeddingLength }
    /// Bytes of working memory (activations, scratch).
    public var memoryBytes: Int { state.byteCount }

    /// `batchTokens`: tokens per encoder pass (at least the context length, so any text fits);
    /// each pass unpacks every weight once, so fewer, larger passes spend less on that.
    public init(bytes: UnsafeRawBufferPointer, executor: any ComputeExecutor = SerialExecutor(),
                batchTokens: Int = 512) throws(TinyLMError) {
        gguf = try GGUFFile(bytes: bytes)
        config = try EncoderConfig(gguf: gguf)
        tokenizer = try Tokenizer(gguf: gguf)
        guard tokenizer.vocabularySize == config.vocabularySize else {
            throw .malformed("tokenizer has \(tokenizer.vocabularySize) tokens but the model expects \(config.vocabularySize)")
        }
        guard tokenizer.bosTokenID != nil, tokenizer.separatorTokenID != nil else {
            throw .malformed("the vocabulary has no [CLS]/[SEP] tokens (tokenizer.ggml.bos_token_id / seperator_token_id)")
        }
        network = try BertModel(gguf: gguf, config: config)
        state = EncoderState(config: config, capacity: max(batchTokens, config.contextLength), executor: executor)
        maxTokens = config.maxTokens
    }

    deinit { network.release() }

    /// Sets where texts are cut (2…`config.contextLength` tokens, [CLS] and [SEP] included).
    public func setMaxTokens(_ count: Int) throws(TinyLMError) {
        guard count >= 2, count <= config.contextLength else {
            throw .invalidArgument("maximum tokens \(count) is outside 2…\(config.contextLength) for this model")
        }
        maxTokens = count
    }

    /// The ids a text is embedded with: `[CLS]`, its tokens, `[SEP]`, cut to `maxTokens`.
    public struct TokenizedText: Sendable {
        public var ids: [Int32]
        /// Length before cutting ([CLS] and [SEP] included).
        public var fullCount: Int
        public var truncated: Bool { fullCount > ids.count }
    }

    public func tokenize(_ text: String) -> TokenizedText {
        var body = tokenizer.encode(text, addSpecial: false, parseSpecial: true)
        let full = body.count + 2
        if full > maxTokens { body.removeLast(full - maxTokens) }
        var ids: [Int32] = []
        ids.reserveCapacity(body.count + 2)
        ids.append(tokenizer.bosTokenID!)
        ids.append(contentsOf: body)
        ids.append(tokenizer.separatorTokenID!)
        return TokenizedText(ids: ids, fullCount: full)
    }

    /// Embeds `texts` (an empty text is `[CLS] [SEP]`, a defined vector). `pooling`: the
    /// model's own (`config.pooling`) unless given.
    public func embed(_ texts: [String], pooling: EmbeddingPooling? = nil) throws(TinyLMError) -> Embeddings {
        var tokenized: [TokenizedText] = []
        tokenized.reserveCapacity(texts.count)
        for text in texts { tokenized.append(tokenize(text)) }
        return try embed(tokenized: tokenized, pooling: pooling)
    }

    public func embed(tokenized texts: [TokenizedText], pooling: EmbeddingPooling? = nil) throws(TinyLMError) -> Embeddings {
        let d = dimensions
        var vectors = [Float](repeating: 0, count: texts.count * d)
        try vectors.withUnsafeMutableBufferPointer { (out: inout UnsafeMutableBufferPointer<Float>) throws(TinyLMError) in
            try embed(texts.count, ids: { texts[$0].ids }, pooling: pooling ?? config.pooling, into: out.baseAddress!)
        }
        return Embeddings(dimensions: d, vectors: vectors, tokenCounts: texts.map { $0.ids.count },
                          truncated: texts.map { $0.truncated })
    }

    /// The core loop: texts `0..<count` (ids of text i from `ids(i)`), vectors into
    /// `output` (count × dimensions floats).
    public func embed(_ count: Int, ids: (Int) -> [Int32], pooling: EmbeddingPooling,
                      into output: UnsafeMutablePointer<Float>) throws(TinyLMError) {
        var next = 0
        while next < count {
            state.reset()
            let firstText = next
            while next < count {
                let textIDs = ids(next)
                guard !textIDs.isEmpty, textIDs.count <= config.contextLength else {
                    throw .invalidArgument("text \(next) has \(textIDs.count) tokens; an encoder input needs 1…\(config.contextLength)")
                }
                for id in textIDs where id < 0 || Int(id) >= config.vocabularySize {
                    throw .invalidArgument("token id \(id) is outside the vocabulary")
                }
                if !state.fits(textIDs.count) { break }
                textIDs.withUnsafeBufferPointer { state.append($0) }
                next += 1
            }
            network.forward(state: state)
            for s in 0..<state.spanCount {
                pool(state.spans[s], pooling, into: output + (firstText + s) * dimensions)
            }
        }
    }

    /// One text's vector from its token states, L2-normalized (sums in token order, the norm
    /// in Double: the same bits on every platform).
    private func pool(_ span: EncoderState.Span, _ pooling: EmbeddingPooling, into out: UnsafeMutablePointer<Float>) {
        let d = dimensions
        let states = state.hidden
        switch pooling {
        case .mean:
            out.initialize(repeating: 0, count: d)
            for t in span.start..<span.start + span.count { VectorMath.add(states + t * d, to: out, count: d) }
            VectorMath.scale(out, by: 1 / Float(span.count), count: d)
        case .cls:
            out.update(from: states + span.start * d, count: d)
        case .last:
            out.update(from: states + (span.start + span.count - 1) * d, count: d)
        }
        var squares = 0.0
        for i in 0..<d { squares += Double(out[i]) * Double(out[i]) }
        if squares > 0 { VectorMath.scale(out, by: Float(1 / squares.squareRoot()), count: d) }
    }
}

/// Vectors of a batch of texts, one after another (`dimensions` floats each), with what was
/// embedded of each text.
public struct Embeddings: Sendable {
    public let dimensions: Int
    public let vectors: [Float]
    /// Tokens embedded per text ([CLS] and [SEP] included).
    public let tokenCounts: [Int]
    /// Whether the text was longer than the embedder's limit (and cut).
    public let truncated: [Bool]

    public var count: Int { tokenCounts.count }

    public func vector(_ index: Int) -> ArraySlice<Float> {
        vectors[index * dimensions..<(index + 1) * dimensions]
    }
}
