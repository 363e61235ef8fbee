import Foundation
import TinyLM

/// Options shared by `generate` and `chat` for sampling and the session.
struct SamplingFlags {
    static let valued: Set<String> = Set(["--temperature", "--top-k", "--top-p", "--min-p", "--seed",
                                      "--repeat-penalty", "--repeat-last-n", "--max-tokens", "--stop",
                                      "--threads", "--context", "--json-schema", "--grammar"]).union(AdapterFlags.valued)

    static func options(from a: Arguments, defaults: GenerationOptions) throws -> GenerationOptions {
        var o = defaults
        o.maxTokens = try a.int("--max-tokens", default: o.maxTokens)
        o.sampling.temperature = try a.float("--temperature", default: o.sampling.temperature)
        o.sampling.topK = try a.int("--top-k", default: o.sampling.topK)
        o.sampling.topP = try a.float("--top-p", default: o.sampling.topP)
        o.sampling.minP = try a.float("--min-p", default: o.sampling.minP)
        o.sampling.repeatPenalty = try a.float("--repeat-penalty", default: o.sampling.repeatPenalty)
        o.sampling.repeatWindow = try a.int("--repeat-last-n", default: o.sampling.repeatWindow)
        if let seed = a.value("--seed") {
            guard let value = UInt64(seed) else { throw CLIError(description: "--seed expects a non-negative whole number") }
            o.sampling.seed = value
        } else {
            o.sampling.seed = UInt64.random(in: 0...UInt64.max)
        }
        o.stopStrings = a.values("--stop")
        o.constraint = try constraint(from: a)
        return o
    }

    /// `--json-schema FILE`, `--grammar FILE` (GBNF) or `--json` (any JSON object).
    static func constraint(from a: Arguments) throws -> OutputConstraint? {
        let given = [a.value("--json-schema") != nil, a.value("--grammar") != nil, a.has("--json")].filter { $0 }.count
        guard given <= 1 else { throw CLIError(description: "give at most one of --json-schema, --grammar and --json") }
        func read(_ path: String) throws -> String {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError(description: "cannot read \(path)") }
            return text
        }
        do {
            if let path = a.value("--json-schema") { return try OutputConstraint.jsonSchema(text: try read(path)) }
            if let path = a.value("--grammar") { return try OutputConstraint.gbnf(try read(path)) }
        } catch let error as TinyLMError {
            throw CLIError(description: error.message)
        }
        return a.has("--json") ? OutputConstraint.anyJSON() : nil
    }

    static func makeSession(_ loaded: LoadedModel, _ a: Arguments) throws -> Session {
        let threads = try a.int("--threads", default: defaultThreadCount())
        let context = try a.int("--context", default: min(Session.defaultContextLength, loaded.model.config.trainedContextLength))
        let session: Session
        do {
            session = try Session(model: loaded.model, contextLength: context, executor: makeExecutor(threads: threads))
        } catch {
            throw CLIError(description: error.message)
        }
        try AdapterFlags.apply(a, for: loaded, to: session)
        return session
    }
}

/// `tinylm generate`: raw completion of a prompt, no chat template.
func runGenerate(_ arguments: [String]) throws -> Int32 {
    let a = try Arguments(arguments, valued: SamplingFlags.valued.union(["--model", "--prompt", "--prompt-ids"]),
                          flags: ["--ids", "--ignore-eos", "--verbose", "--json"])
    let loaded = try LoadedModel(path: a.value("--model"))
    let model = loaded.model
    let prompt: [Int32]
    if let idsText = a.value("--prompt-ids") {
        prompt = try parseIDList(idsText)
    } else if let text = a.value("--prompt") ?? a.positional.first {
        prompt = model.tokenizer.encode(text, addSpecial: true, parseSpecial: true)
    } else {
        throw CLIError(description: "generate needs --prompt TEXT or --prompt-ids JSON")
    }
    var defaults = GenerationOptions()
    defaults.sampling = model.recommendedSampling.parameters
    defaults.maxTokens = 128
    var options = try SamplingFlags.options(from: a, defaults: defaults)
    options.stopAtEndOfGeneration = !a.has("--ignore-eos")
    let session = try SamplingFlags.makeSession(loaded, a)

    let start = Date()
    let generator: TextGenerator
    do {
        generator = try TextGenerator(session: session, prompt: prompt, options: options)
    } catch {
        throw CLIError(description: error.message)
    }
    let prefillSeconds = Date().timeIntervalSince(start)
    let printIDs = a.has("--ids")
    var reason = FinishReason.maxTokens
    loop: while true {
        let step: TextGenerator.Step
        do { step = try generator.next() } catch { throw CLIError(description: error.message) }
        switch step {
        case .token(_, let text):
            if !printIDs { emit(text) }
        case .finished(let why, let text):
            if !printIDs { emit(text) }
            reason = why
            break loop
        }
    }
    let total = Date().timeIntervalSince(start)
    if printIDs {
        print(jsonIDList(generator.generated))
    } else {
        emit("\n")
    }
    if let note = finishNote(reason, maxTokens: options.maxTokens) {
        FileHandle.standardError.write("[\(note)]\n".data(using: .utf8)!)
    }
    if a.has("--verbose") {
        let n = generator.generated.count
        let decode = total - prefillSeconds
        FileHandle.standardError.write(String(format: "[prompt %d tokens in %.3fs (%.1f t/s); generated %d tokens in %.3fs (%.1f t/s); stop: %@]\n",
                                              prompt.count, prefillSeconds, Double(prompt.count) / prefillSeconds,
                                              n, decode, Double(n) / max(decode, 1e-9), reason.rawValue).data(using: .utf8)!)
    }
    return 0
}

/// What a user should know about why a generation ended (nil when it simply finished).
func finishNote(_ reason: FinishReason, maxTokens: Int) -> String? {
    switch reason {
    case .maxTokens: return "stopped at the --max-tokens limit (\(maxTokens)); the answer may be cut short"
    case .contextFull: return "stopped: the context is full"
    case .constraintBudget:
        return "finish reason constraint_budget: the output was steered to its shortest valid completion to fit --max-tokens (\(maxTokens)) or the context"
    default: return nil
    }
}
