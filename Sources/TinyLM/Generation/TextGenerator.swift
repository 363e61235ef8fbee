/// Why generation ended.
public enum FinishReason: String, Sendable {
    /// The model produced an end-of-generation token.
    case endOfGeneration = "eog"
    /// A stop string appeared in the output.
    case stopString = "stop"
    /// maxTokens tokens were generated.
    case maxTokens = "length"
    /// The context is full.
    case contextFull = "context"
    /// The output constraint is complete and nothing more may follow it.
    case grammarComplete = "grammar"
    /// The output constraint is complete, but only because the remaining budget (maxTokens or
    /// the context) steered it to its shortest completion: near the limit, only tokens that
    /// still let it finish in time were allowed (TokenMasker). Valid, possibly cut short.
    case constraintBudget = "constraint_budget"
}

/// Options for one generation beyond sampling.
public struct GenerationOptions: Sendable {
    public var sampling = SamplingParameters()
    /// Upper bound on generated tokens (the context length bounds it too).
    public var maxTokens = 256
    /// Generation stops before any of these strings; the string itself is not emitted.
    public var stopStrings: [String] = []
    /// Stop at end-of-generation tokens (false to generate through them, as the reference
    /// vectors do).
    public var stopAtEndOfGeneration = true
    /// Restricts the output to a grammar, a JSON Schema or a tool call (nil: free text).
    public var constraint: OutputConstraint? = nil

    public init() {}
}

/// Drives generation one token at a time: sample, decode to text safely across UTF-8
/// boundaries, watch for stop strings, feed the token back. The same step function serves
/// the CLI (a loop), the wasm ABI (one call per token, so the page can abort between tokens)
/// and tests.
public final class TextGenerator {
    public let session: Session
    public let options: GenerationOptions
    private let sampler: Sampler
    private var decoder = TextStreamDecoder()
    private var stopMatcher: StopSequenceMatcher
    /// Masks logits to the tokens the output constraint allows (nil without a constraint).
    public let masker: TokenMasker?
    /// A lazy constraint's trigger (nil: the constraint, if any, holds from the first token).
    public let trigger: ConstraintTrigger?
    /// The byte offset in the output where the constraint took hold: 0 for an ordinary
    /// constraint; for a lazy one nil until its trigger appears (and for good when the output
    /// shows it cannot). Nil without a constraint.
    public private(set) var constrainedFrom: Int?
    /// The output's last bytes while a lazy constraint waits for its trigger (as many as a
    /// trigger straddling the next token needs), and how many bytes came before them.
    private var waitingOutput: [UInt8] = []
    private var waitingOffset = 0
    /// The output shows that the lazy constraint's trigger can no longer appear.
    private var triggerExcluded = false
    /// The logits as the model gave them, kept while a lazy constraint waits: a token that opens
    /// the constrained part wrongly is sampled again under the grammar from these.
    private var waitingLogits: [Float] = []
    public private(set) var generated: [Int32] = []
    public private(set) var finishReason: FinishReason? = nil
    /// Whether the token budget has steered a constrained output (then a complete output
    /// finishes with `.constraintBudget`).
    public private(set) var budgetSteered = false
    /// How many prompt tokens were already in the session's cache and not evaluated again.
    public let reusedPrefix: Int

    public enum Step {
        /// A new token and the text that may be shown now (can be empty while a UTF-8
        /// character or a possible stop string is incomplete).
        case token(Int32, text: String)
        /// Generation ended; `text` is the held-back remainder to show.
        case finished(FinishReason, text: String)
    }

    /// Prefills `prompt` (re-using the session's cached prefix) and prepares to generate.
    public init(session: Session, prompt: [Int32], options: GenerationOptions) throws(TinyLMError) {
        guard options.maxTokens >= 0 else { throw .invalidArgument("maxTokens must be 0 or more") }
        self.session = session
        self.options = options
        sampler = try Sampler(vocabularySize: session.model.config.vocabularySize, parameters: options.sampling)
        stopMatcher = StopSequenceMatcher(options.stopStrings)
        masker = try options.constraint?.masker(for: session.model)
        trigger = masker == nil ? nil : options.constraint?.trigger(for: session.model)
        constrainedFrom = masker == nil || trigger != nil ? nil : 0
        if trigger != nil { waitingLogits = [Float](repeating: 0, count: session.model.config.vocabularySize) }
        reusedPrefix = try session.prefill(prompt)
    }

    public func next() throws(TinyLMError) -> Step {
        if let reason = finishReason { return .finished(reason, text: "") }
        let constrained = constrainedFrom != nil ? masker : nil
        if let constrained, constrained.isFinished { return finish(.grammarComplete) }
        if generated.count >= options.maxTokens { return finish(.maxTokens) }
        if session.tokens.count >= session.contextLength { return finish(.contextFull) }

        let tokenizer = session.model.tokenizer
        let logits = session.logits
        // The constraint masks the logits before any sampling step sees them, keeping the output
        // completable within the tokens left.
        if let constrained {
            if try constrained.apply(to: logits.baseAddress!, count: logits.count, budget: tokenBudget) { budgetSteered = true }
        }
        let waiting = masker != nil && constrained == nil && isWaitingForTrigger
        if waiting {
            let n = min(waitingLogits.count, logits.count)
            waitingLogits.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: logits.baseAddress!, count: n) }
        }
        var token = sampler.sample(logits.baseAddress!, recent: session.tokens[...])
        if let constrained {
            try constrained.accept(token)
        } else if waiting, !tokenizer.isEndOfGeneration(token) {
            token = try watchTrigger(after: token, logits: logits)
        }
        generated.append(token)
        if tokenizer.isEndOfGeneration(token) && (options.stopAtEndOfGeneration || masker != nil) {
            return finish(.endOfGeneration)
        }
        // Feed the token back now so the logits for the next step are ready; the last token
        // of a generation is evaluated too, so a follow-up turn can reuse the cache.
        try session.evaluate([token])
        let text = decoder.append(tokenizer.pieceBytes(token))
        switch stopMatcher.append(text) {
        case .text(let shown):
            return .token(token, text: shown)
        case .stop(let shown):
            finishReason = .stopString
            return .finished(.stopString, text: shown)
        }
    }

    /// How many tokens may still be generated, this one included.
    private var tokenBudget: Int { min(options.maxTokens - generated.count, session.contextLength - session.tokens.count) }

    /// Whether a lazy constraint may still take hold.
    private var isWaitingForTrigger: Bool {
        trigger != nil && constrainedFrom == nil && !triggerExcluded
    }

    /// Adds sampled `token` to the output a lazy constraint watches. When the trigger appears,
    /// the constraint takes hold from its first byte; if this token's bytes after the trigger do
    /// not fit the grammar, the step is sampled again under the grammar (from the bytes the
    /// constrained part had before this token), and that token is returned instead.
    private func watchTrigger(after token: Int32, logits: UnsafeMutableBufferPointer<Float>) throws(TinyLMError) -> Int32 {
        guard let masker, let trigger else { return token }
        let piece = session.model.tokenizer.pieceBytes(token)
        let before = waitingOutput.count
        waitingOutput.append(contentsOf: piece)
        guard let start = trigger.start(in: waitingOutput, newFrom: before) else {
            if trigger.isExcluded(by: waitingOutput) { triggerExcluded = true }
            let keep = trigger.bytesToKeep
            if waitingOutput.count > keep {
                waitingOffset += waitingOutput.count - keep
                waitingOutput.removeFirst(waitingOutput.count - keep)
            }
            return token
        }
        if masker.accept(bytes: Array(waitingOutput[start...])) {
            constrainedFrom = waitingOffset + start
            waitingOutput = []
            return token
        }
        let head = start < before ? Array(waitingOutput[start..<before]) : []
        guard masker.accept(bytes: head) else {
            throw TinyLMError(.grammar, "the constrained output's trigger does not begin its grammar")
        }
        for i in 0..<min(waitingLogits.count, logits.count) { logits[i] = waitingLogits[i] }
        if try masker.apply(to: logits.baseAddress!, count: logits.count, budget: tokenBudget) { budgetSteered = true }
        let again = sampler.sample(logits.baseAddress!, recent: session.tokens[...])
        try masker.accept(again)
        constrainedFrom = waitingOffset + min(start, before)
        waitingOutput = []
        return again
    }

    private func finish(_ given: FinishReason) -> Step {
        var reason = given
        if budgetSteered, constrainedFrom != nil, let masker, masker.isComplete, reason != .stopString { reason = .constraintBudget }
        finishReason = reason
        switch stopMatcher.append(decoder.finish()) {
        case .text(let shown):
            return .finished(reason, text: shown + stopMatcher.flush())
        case .stop(let shown):
            finishReason = .stopString
            return .finished(.stopString, text: shown)
        }
    }
}
