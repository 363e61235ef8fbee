/// How the next token is chosen from the logits. The defaults are llama.cpp's.
public struct SamplingParameters: Sendable {
    /// 0 (or less) means greedy: always the most likely token (ties go to the lowest id).
    public var temperature: Float = 0.8
    /// Keep only the k most likely tokens (0 = all).
    public var topK: Int = 40
    /// Keep the smallest set of most likely tokens whose probabilities add up to p (1 = all).
    public var topP: Float = 0.95
    /// Drop tokens less likely than minP × the most likely token's probability (0 = none).
    public var minP: Float = 0.05
    /// Divide positive (multiply negative) logits of recently seen tokens by this (1 = off).
    public var repeatPenalty: Float = 1.0
    /// How many of the most recent tokens the repetition penalty looks at.
    public var repeatWindow: Int = 64
    public var seed: UInt64 = 0

    public init() {}

    public static var greedy: SamplingParameters {
        var p = SamplingParameters()
        p.temperature = 0
        return p
    }

    /// Throws `invalidArgument` for values outside their meaningful ranges.
    public func validate() throws(TinyLMError) {
        guard temperature.isFinite else { throw .invalidArgument("temperature must be a finite number") }
        guard topK >= 0 else { throw .invalidArgument("topK must be 0 or more, got \(topK)") }
        guard topP > 0, topP <= 1 else { throw .invalidArgument("topP must be in (0, 1], got \(topP)") }
        guard minP >= 0, minP <= 1 else { throw .invalidArgument("minP must be in [0, 1], got \(minP)") }
        guard repeatPenalty > 0, repeatPenalty.isFinite else { throw .invalidArgument("repeatPenalty must be positive, got \(repeatPenalty)") }
        guard repeatWindow >= 0 else { throw .invalidArgument("repeatWindow must be 0 or more") }
    }
}
