/// The sampling a model's authors recommend, and where that recommendation came from.
///
/// Small models are sensitive to sampling: SmolLM2-135M answers "What is the capital of
/// France?" sensibly at its card's temperature 0.2 and drifts into other languages at 0.7.
/// So the CLI, the wasm ABI's model info and through it the web API start from this value:
/// 1. the GGUF's `general.sampling.*` keys, llama.cpp's names (top_k, top_p, min_p, temp,
///    penalty_repeat, penalty_last_n), each over the values below, as llama.cpp applies them;
///    keys for samplers TinyLM does not have (mirostat, xtc, sequence) are ignored, and so is a
///    value outside its meaningful range;
/// 2. else the model card table below, matched on `general.basename`, `general.name` or the
///    architecture;
/// 3. else `SamplingParameters()` (llama.cpp's defaults).
/// Parameters a source does not mention keep llama.cpp's defaults (top-k 40, min-p 0.05,
/// repetition penalty 1 over 64 tokens).
public struct RecommendedSampling: Sendable {
    public enum Source: String, Sendable {
        /// The GGUF file's `general.sampling.*` metadata.
        case gguf
        /// `RecommendedSampling.modelCards`, from the model's published card or generation config.
        case table
        /// Neither: llama.cpp's defaults.
        case defaults = "default"
    }

    /// One entry of the model card table.
    public struct ModelCard: Sendable {
        /// Matched against the start of the model's identity (basename, name or architecture)
        /// lower-cased without spaces, hyphens and underscores: "smollm2" matches
        /// "SmolLM2", "smollm2-360m" …
        public var identityPrefix: String
        public var temperature: Float
        public var topK: Int?
        public var topP: Float?
        public var minP: Float?
        public var repeatPenalty: Float?
        /// Where the numbers come from.
        public var reference: String
    }

    public var parameters: SamplingParameters
    public var source: Source
    /// The model card entry the values come from (source `.table`, or `.gguf` over a table entry).
    public var reference: String?

    /// Published recommendations, each with its origin. Values the origin does not give are
    /// nil and keep llama.cpp's defaults.
    public static let modelCards: [ModelCard] = [
        // The repetition penalty is TinyLM's, not the card's: at the card's settings the 135M
        // model falls into loops ("la France, la France, …"). "What is the capital of France?"
        // over seeds 1-8: 5 answers name Paris and 2 loop without it, all 8 name Paris with 1.1.
        ModelCard(identityPrefix: "smollm2", temperature: 0.2, topP: 0.9, repeatPenalty: 1.1,
                  reference: "HuggingFaceTB/SmolLM2-135M-Instruct model card: generate(temperature=0.2, top_p=0.9); repeat penalty 1.1 added by TinyLM against loops"),
        ModelCard(identityPrefix: "gemma3", temperature: 1.0, topK: 64, topP: 0.95, minP: 0,
                  reference: "Gemma 3 (google/gemma-3-*-it): generation_config.json top_k 64, top_p 0.95; Google's recommended temperature 1.0, min_p 0"),
        ModelCard(identityPrefix: "qwen2.5", temperature: 0.7, topK: 20, topP: 0.8, repeatPenalty: 1.05,
                  reference: "Qwen/Qwen2.5-*-Instruct generation_config.json (the card's recommended settings): temperature 0.7, top_p 0.8, top_k 20, repetition_penalty 1.05"),
        ModelCard(identityPrefix: "qwen3", temperature: 0.6, topK: 20, topP: 0.95, minP: 0,
                  reference: "Qwen/Qwen3 model card, best practices for thinking mode (the template's default): temperature 0.6, top_p 0.95, top_k 20, min_p 0"),
        ModelCard(identityPrefix: "llama3.2", temperature: 0.6, topP: 0.9,
                  reference: "meta-llama/Llama-3.2-*-Instruct generation_config.json: temperature 0.6, top_p 0.9"),
    ]

    public init(parameters: SamplingParameters, source: Source, reference: String? = nil) {
        self.parameters = parameters
        self.source = source
        self.reference = reference
    }

    /// The recommendation for the model in `gguf` (`Model.recommendedSampling`).
    public init(gguf: GGUFFile) {
        var parameters = SamplingParameters()
        var source = Source.defaults
        var reference: String? = nil
        if let card = Self.modelCard(gguf: gguf) {
            parameters.temperature = card.temperature
            if let v = card.topK { parameters.topK = v }
            if let v = card.topP { parameters.topP = v }
            if let v = card.minP { parameters.minP = v }
            if let v = card.repeatPenalty { parameters.repeatPenalty = v }
            source = .table
            reference = card.reference
        }
        if Self.applyMetadata(gguf, to: &parameters) { source = .gguf }
        self.init(parameters: parameters, source: source, reference: reference)
    }

    /// The table entry for the model, if any.
    public static func modelCard(gguf: GGUFFile) -> ModelCard? {
        let identities = [gguf.string("general.basename"), gguf.string("general.name"), gguf.string("general.architecture")]
        for case let identity? in identities {
            let key = normalizedIdentity(identity)
            if key.isEmpty { continue }
            for card in modelCards where key.utf8.starts(with: card.identityPrefix.utf8) { return card }
        }
        return nil
    }

    /// Lower case without spaces, hyphens and underscores: "Gemma 3" and "gemma-3" → "gemma3".
    static func normalizedIdentity(_ text: String) -> String {
        var bytes: [UInt8] = []
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "_"): continue
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): bytes.append(b + 32)
            default: bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Applies the `general.sampling.*` keys present in `gguf`; returns whether any applied.
    static func applyMetadata(_ gguf: GGUFFile, to p: inout SamplingParameters) -> Bool {
        var applied = false
        // llama.cpp reads each value through its text form, so any numeric type (or a numeric
        // string) is accepted.
        func number(_ key: String) -> Double? {
            guard let value = gguf[key] else { return nil }
            if let f = value.floatValue { return Double(f) }
            if let s = value.stringValue, let json = try? JSONValue(parsing: s), let d = json.doubleValue { return d }
            return nil
        }
        if let v = number("general.sampling.temp"), v.isFinite, v >= 0, v <= 100 {
            p.temperature = Float(v); applied = true
        }
        if let v = number("general.sampling.top_k"), v >= 0, v <= 1_000_000, let k = Int(exactly: v.rounded(.towardZero)) {
            p.topK = k; applied = true
        }
        if let v = number("general.sampling.top_p"), v > 0, v <= 1 {
            p.topP = Float(v); applied = true
        }
        if let v = number("general.sampling.min_p"), v >= 0, v <= 1 {
            p.minP = Float(v); applied = true
        }
        if let v = number("general.sampling.penalty_repeat"), v.isFinite, v > 0, v <= 100 {
            p.repeatPenalty = Float(v); applied = true
        }
        if let v = number("general.sampling.penalty_last_n"), v >= -1, v <= 1_000_000, let n = Int(exactly: v.rounded(.towardZero)) {
            // llama.cpp: -1 means the whole context.
            p.repeatWindow = n < 0 ? Int(Int32.max) : n
            applied = true
        }
        return applied
    }

    /// `{"temperature", "topK", "topP", "minP", "repeatPenalty", "repeatWindow", "source",
    /// "reference"}`: the object the model info JSON carries as "sampling" (the web API's
    /// defaults).
    public var json: JSONValue {
        var object = JSONObject()
        object["temperature"] = .number(Self.shortestDouble(parameters.temperature))
        object["topK"] = .integer(parameters.topK)
        object["topP"] = .number(Self.shortestDouble(parameters.topP))
        object["minP"] = .number(Self.shortestDouble(parameters.minP))
        object["repeatPenalty"] = .number(Self.shortestDouble(parameters.repeatPenalty))
        object["repeatWindow"] = .integer(parameters.repeatWindow)
        object["source"] = .string(source.rawValue)
        object["reference"] = reference.map { .string($0) } ?? .null
        return .object(object)
    }

    /// The Double with the fewest decimals that rounds to `value` as a Float, so that 0.2
    /// reads 0.2 in JSON rather than 0.20000000298023224.
    static func shortestDouble(_ value: Float) -> Double {
        guard value.isFinite else { return Double(value) }
        var scale = 1.0
        for _ in 0...9 {
            let candidate = (Double(value) * scale).rounded() / scale
            if Float(candidate) == value { return candidate }
            scale *= 10
        }
        return Double(value)
    }
}

extension Model {
    /// The sampling this model's authors recommend (GGUF metadata, model card table, or
    /// llama.cpp's defaults): the defaults of `tinylm generate/chat` and of the web API.
    public var recommendedSampling: RecommendedSampling { RecommendedSampling(gguf: gguf) }
}
