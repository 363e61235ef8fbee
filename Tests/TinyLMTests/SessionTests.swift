import Testing
@testable import TinyLM

@Suite(.serialized) struct SessionTests {
    @Test func contextOverflowIsATypedError() throws {
        let model = try TestSupport.smolLM2()
        let session = try Session(model: model, contextLength: 8)
        do {
            try session.prefill(Array(repeating: 504, count: 9))
            Issue.record("expected a context overflow")
        } catch {
            #expect(error.kind == .contextOverflow)
            #expect(error.message.contains("9 tokens"))
        }
        try session.evaluate(Array(repeating: 504, count: 6))
        #expect(throws: TinyLMError.self) { try session.evaluate([1, 2, 3]) }
        #expect(session.tokens.count == 6)  // a failed evaluate changes nothing
    }

    @Test func badTokenIDsAndContextSizesAreErrors() throws {
        let model = try TestSupport.smolLM2()
        #expect(throws: TinyLMError.self) { _ = try Session(model: model, contextLength: 0) }
        #expect(throws: TinyLMError.self) { _ = try Session(model: model, contextLength: 1 << 20) }
        let session = try Session(model: model, contextLength: 16)
        #expect(throws: TinyLMError.self) { try session.evaluate([49152]) }
        #expect(throws: TinyLMError.self) { try session.evaluate([-1]) }
    }

    /// A follow-up prompt that extends the cached one evaluates only the new tokens and gives
    /// the same logits as evaluating everything from scratch.
    @Test func cachedPrefixIsReused() throws {
        let model = try TestSupport.smolLM2()
        let first = model.tokenizer.encode("The capital of France is Paris. The capital of Italy")
        let second = first + model.tokenizer.encode(" is Rome. The capital of Spain is")
        let session = try Session(model: model, contextLength: 64)
        try session.prefill(first)
        let reused = try session.prefill(second)
        #expect(reused == first.count)
        let fresh = try Session(model: model, contextLength: 64)
        try fresh.prefill(second)
        var worst: Float = 0
        for i in 0..<fresh.logits.count { worst = max(worst, abs(fresh.logits[i] - session.logits[i])) }
        #expect(worst < 0.05)
        // A prompt that diverges keeps only the common prefix.
        let other = first.prefix(3) + model.tokenizer.encode(" something else")
        #expect(try session.prefill(Array(other)) == 3)
    }

    @Test func generationStopsAtStopStringsAndMaxTokens() throws {
        let model = try TestSupport.smolLM2()
        let session = try Session(model: model, contextLength: 128)
        let prompt = model.tokenizer.encode("The capital of France is")
        var options = GenerationOptions()
        options.sampling = .greedy
        options.maxTokens = 40
        options.stopStrings = ["\n"]
        let generator = try TextGenerator(session: session, prompt: prompt, options: options)
        var text = ""
        var reason: FinishReason?
        while reason == nil {
            switch try generator.next() {
            case .token(_, let piece): text += piece
            case .finished(let why, let piece): text += piece; reason = why
            }
        }
        #expect(reason == .stopString)
        #expect(text == " Paris.")  // llama.cpp's greedy continuation is " Paris.\n\nThe United…"

        options.stopStrings = []
        options.maxTokens = 5
        let limited = try TextGenerator(session: session, prompt: prompt, options: options)
        var count = 0
        while case .token = try limited.next() { count += 1 }
        #expect(count == 5 && limited.finishReason == .maxTokens)
    }

    @Test func seededSamplingIsReproducible() throws {
        let model = try TestSupport.smolLM2()
        func run(seed: UInt64) throws -> [Int32] {
            let session = try Session(model: model, contextLength: 64)
            var options = GenerationOptions()
            options.sampling.seed = seed
            options.sampling.temperature = 1.0
            options.maxTokens = 12
            options.stopAtEndOfGeneration = false
            let g = try TextGenerator(session: session, prompt: model.tokenizer.encode("Once upon a time"), options: options)
            while case .token = try g.next() {}
            return g.generated
        }
        let a = try run(seed: 11)
        #expect(a == (try run(seed: 11)))
        #expect(a != (try run(seed: 12)))
    }
}
