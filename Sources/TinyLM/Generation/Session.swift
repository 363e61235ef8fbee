/// One conversation's state on a model: the KV cache, the tokens it holds and the working
/// memory of the forward pass, all sized once at creation for `contextLength` tokens.
public final class Session {
    public let model: Model
    public let contextLength: Int
    let state: InferenceState
    /// The tokens whose keys and values are in the cache, in order.
    public private(set) var tokens: [Int32] = []

    /// Prompt tokens are evaluated in chunks of at most this many (bounds activation memory;
    /// larger chunks reuse each weight block across more tokens).
    public static let defaultBatchSize = 64
    public static let defaultContextLength = 2048

    public init(model: Model, contextLength: Int = Session.defaultContextLength,
                batchSize: Int = Session.defaultBatchSize,
                executor: any ComputeExecutor = SerialExecutor()) throws(TinyLMError) {
        guard contextLength > 0 else { throw .invalidArgument("context length must be positive, got \(contextLength)") }
        guard contextLength <= model.config.trainedContextLength else {
            throw .invalidArgument("context length \(contextLength) exceeds the model's trained context of \(model.config.trainedContextLength)")
        }
        guard batchSize > 0, batchSize <= 4096 else { throw .invalidArgument("batch size must be in 1...4096, got \(batchSize)") }
        guard let bytes = SessionMemory.requiredBytes(config: model.config, contextLength: contextLength,
                                                      maxBatch: batchSize, concurrency: executor.concurrency) else {
            throw TinyLMError(.outOfMemory, "a session of \(contextLength) tokens on this model needs more memory than this platform can address")
        }
        guard SessionMemory.isAvailable(bytes) else {
            throw TinyLMError(.outOfMemory, "a session of \(contextLength) tokens on this model needs \(bytes / (1 << 20)) MiB, more than is available; try a shorter context")
        }
        self.model = model
        self.contextLength = contextLength
        state = InferenceState(config: model.config, contextLength: contextLength, maxBatch: batchSize, executor: executor)
        tokens.reserveCapacity(contextLength)
    }

    /// Bytes of working memory this session holds (KV cache plus activations).
    public var memoryBytes: Int { state.byteCount + (state.adapters?.byteCount ?? 0) }

    /// The LoRA adapters applied from the next evaluation on, in order, with their scales
    /// (empty: the base model alone).
    public var adapters: [ScaledAdapter] { state.adapters?.adapters ?? [] }

    /// Chooses the LoRA adapters (and scales) the following requests run with. The model is
    /// not touched: the adapters' terms are added in this session's forward pass. Adapters at
    /// scale 0 change nothing and are left out. If the set differs from the current one
    /// (other adapters, scales or order), the cached keys and values were computed with other
    /// weights from position 0 on, so the cache is emptied; the same set keeps it. Returns
    /// whether the cache was emptied.
    @discardableResult
    public func setAdapters(_ list: [ScaledAdapter]) throws(TinyLMError) -> Bool {
        for use in list {
            guard use.adapter.model === model else {
                throw .invalidArgument("the adapter was loaded for another model than this session's")
            }
            guard use.scale.isFinite else { throw .invalidArgument("adapter scale \(use.scale) is not a finite number") }
        }
        let active = list.filter { $0.scale != 0 }
        let current = adapters
        if active.count == current.count && zip(active, current).allSatisfy({ $0.isSame(as: $1) }) { return false }
        state.adapters = active.isEmpty ? nil : AdapterBinding(adapters: active, model: model, maxBatch: state.maxBatch)
        reset()
        return true
    }

    /// Logits of the next token after `tokens` (valid after a successful `evaluate`).
    public var logits: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: state.logits, count: model.config.vocabularySize)
    }

    /// Appends `newTokens` to the context and runs them through the model.
    public func evaluate(_ newTokens: [Int32]) throws(TinyLMError) {
        guard !newTokens.isEmpty else { return }
        guard tokens.count + newTokens.count <= contextLength else {
            throw TinyLMError(.contextOverflow, "context overflow: \(tokens.count) tokens in context + \(newTokens.count) new exceed the context length \(contextLength)")
        }
        let vocabulary = model.config.vocabularySize
        for id in newTokens where id < 0 || Int(id) >= vocabulary {
            throw .invalidArgument("token id \(id) is outside the vocabulary (0..<\(vocabulary))")
        }
        newTokens.withUnsafeBufferPointer { all in
            var start = 0
            while start < all.count {
                let end = min(all.count, start + state.maxBatch)
                let chunk = UnsafeBufferPointer(rebasing: all[start..<end])
                model.network.forward(chunk, startPosition: tokens.count, state: state)
                tokens.append(contentsOf: chunk)
                start = end
            }
        }
    }

    /// Forgets every token from `count` on; the cache keeps the first `count`.
    public func truncate(to count: Int) {
        if count < tokens.count { tokens.removeLast(tokens.count - max(0, count)) }
    }

    public func reset() { tokens.removeAll(keepingCapacity: true) }

    /// Says the cache holds `ids` (a restored snapshot copied their keys and values in).
    func replaceTokens(_ ids: [Int32]) {
        tokens.removeAll(keepingCapacity: true)
        tokens.append(contentsOf: ids)
    }

    /// Makes the context hold exactly `prompt`, re-using the cached prefix it shares with what is
    /// already there (multi-turn chat evaluates only the new turn). Returns how many tokens were
    /// reused. At least one token is always evaluated so that `logits` belong to `prompt`.
    @discardableResult
    public func prefill(_ prompt: [Int32]) throws(TinyLMError) -> Int {
        guard !prompt.isEmpty else { throw .invalidArgument("the prompt is empty") }
        guard prompt.count <= contextLength else {
            throw TinyLMError(.contextOverflow, "context overflow: the prompt has \(prompt.count) tokens but the context holds \(contextLength)")
        }
        var shared = 0
        while shared < tokens.count && shared < prompt.count && tokens[shared] == prompt[shared] { shared += 1 }
        shared = min(shared, prompt.count - 1)
        truncate(to: shared)
        try evaluate(Array(prompt[shared...]))
        return shared
    }
}
