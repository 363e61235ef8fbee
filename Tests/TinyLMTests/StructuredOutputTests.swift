import Testing
@testable import TinyLM

/// Constrained generation with the real models: every output parses and matches its schema.
@Suite(.serialized) struct StructuredOutputTests {
    static let cases: [(schema: String, prompt: String)] = [
        (#"{"type":"object","properties":{"name":{"type":"string","maxLength":30},"age":{"type":"integer","minimum":0,"maximum":120},"city":{"type":"string","maxLength":30}},"required":["name","age","city"]}"#,
         "Extract the person as JSON with name, age and city: Maria is a 34 year old engineer from Lisbon."),
        (#"{"type":"object","properties":{"sentiment":{"enum":["positive","negative","neutral"]},"confident":{"type":"boolean"}},"required":["sentiment","confident"]}"#,
         "Classify the sentiment of this review as JSON: I love this phone, the battery lasts forever!"),
        (#"{"type":"object","properties":{"fruits":{"type":"array","items":{"type":"string","maxLength":20},"minItems":2,"maxItems":4}},"required":["fruits"]}"#,
         "List three fruits as JSON."),
        (##"{"type":"object","properties":{"title":{"type":"string","maxLength":40},"author":{"$ref":"#/$defs/person"},"year":{"anyOf":[{"type":"integer","minimum":1000,"maximum":2100},{"type":"null"}]}},"required":["title","author","year"],"$defs":{"person":{"type":"object","properties":{"first":{"type":"string","maxLength":20},"last":{"type":"string","maxLength":20}},"required":["first","last"]}}}"##,
         "Give the book 1984 by George Orwell as JSON."),
    ]

    static func chatPrompt(_ model: Model, _ text: String) throws -> [Int32] {
        let formatter = try ChatFormatter(model: model)
        return formatter.tokens(forPrompt: try formatter.prompt(for: [.user(text)]))
    }

    /// Runs a generation to the end; returns the text and why it ended.
    static func run(_ generator: TextGenerator) throws -> (String, FinishReason) {
        var text = ""
        while true {
            switch try generator.next() {
            case .token(_, let piece): text += piece
            case .finished(let why, let piece): return (text + piece, why)
            }
        }
    }

    @Test func smolLM2OutputsMatchTheirSchemas() throws {
        let model = try TestSupport.smolLM2()
        let trie = VocabularyTrie(tokenizer: model.tokenizer)
        let session = try Session(model: model, contextLength: 512)
        for (schemaText, prompt) in Self.cases {
            let schema = try JSONValue(parsing: schemaText)
            var constraint = try OutputConstraint.jsonSchema(schema)
            constraint.vocabulary = trie
            for seed in [nil, 1, 2] as [UInt64?] {
                var options = GenerationOptions()
                options.maxTokens = 120
                options.constraint = constraint
                if let seed {
                    options.sampling.seed = seed
                    options.sampling.temperature = 0.8
                } else {
                    options.sampling = .greedy
                }
                let generator = try TextGenerator(session: session, prompt: try Self.chatPrompt(model, prompt), options: options)
                let (text, reason) = try Self.run(generator)
                #expect(reason == .grammarComplete, "\(text)")
                let value = try JSONValue(parsing: text)
                #expect(SchemaValidator.validate(value, schema) == nil, "\(text): \(SchemaValidator.validate(value, schema) ?? "")")
                print("[structured] seed \(seed.map { String($0) } ?? "greedy"): \(text)")
            }
        }
    }

    @Test func gbnfAndAnyJSONWithSmolLM2() throws {
        let model = try TestSupport.smolLM2()
        let session = try Session(model: model, contextLength: 256)
        var options = GenerationOptions()
        options.sampling = .greedy
        options.maxTokens = 60
        options.constraint = try .gbnf(#"root ::= ("yes" | "no") ", because " [a-z ]{1,40} "."?"#)
        var generator = try TextGenerator(session: session, prompt: try Self.chatPrompt(model, "Is the sky blue? Answer yes or no and why."), options: options)
        var (text, _) = try Self.run(generator)
        #expect(text.hasPrefix("yes, because ") || text.hasPrefix("no, because "), "\(text)")
        #expect(GrammarAutomaton(grammar: try GBNFParser.parse(#"root ::= ("yes" | "no") ", because " [a-z ]{1,40} "."?"#)).matches(Array(text.utf8)))

        options.constraint = .anyJSON()
        options.maxTokens = 100
        options.sampling.seed = 5
        options.sampling.temperature = 0.7
        generator = try TextGenerator(session: session, prompt: try Self.chatPrompt(model, "Describe a cat as a JSON object."), options: options)
        (text, _) = try Self.run(generator)
        print("[structured] any JSON: \(text) (\(generator.finishReason!))")
        // Complete either way: by itself, or steered to a short completion within 100 tokens.
        #expect([.grammarComplete, .constraintBudget].contains(generator.finishReason!))
        #expect(try JSONValue(parsing: text).objectValue != nil)
    }

    @Test func toolCallWithSmolLM2() throws {
        let model = try TestSupport.smolLM2()
        let request = try ChatRequest(json: Array(#"""
        {"messages":[{"role":"user","content":"What is the weather like in Paris today?"}],
         "tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather for a city",
                   "parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":30},"unit":{"enum":["celsius","fahrenheit"]}},"required":["city","unit"]}}},
                  {"type":"function","function":{"name":"get_time","description":"Current time in a timezone",
                   "parameters":{"type":"object","properties":{"timezone":{"type":"string","maxLength":30}},"required":["timezone"]}}}]}
        """#.utf8))
        let prompt = try request.renderWithTools(for: model)
        #expect(!prompt.format.templateHandlesTools)
        #expect(prompt.text.contains("get_weather"))  // described in the system message
        let tools = try ToolDefinition.list(from: request.context["tools"]!)
        var options = GenerationOptions()
        options.sampling = .greedy
        options.maxTokens = 80
        options.constraint = try OutputConstraint.toolCalls(tools, format: prompt.format)
        let session = try Session(model: model, contextLength: 1024)
        let generator = try TextGenerator(session: session, prompt: prompt.tokens, options: options)
        let (text, reason) = try Self.run(generator)
        print("[structured] tool call: \(text)")
        #expect(reason == .grammarComplete)
        let calls = try ToolCalling.parse(text, format: prompt.format)
        let call = try #require(calls[0])
        let name = try #require(call["function"]?["name"]?.stringValue)
        let tool = try #require(tools.first { $0.name == name })
        let arguments = try JSONValue(parsing: try #require(call["function"]?["arguments"]?.stringValue))
        #expect(SchemaValidator.validate(arguments, tool.parameters) == nil)

        // The next turn: the call and its result pass through the template.
        var next = request
        var messages = request.context["messages"]!.arrayValue!
        messages.append(["role": "assistant", "content": .null, "tool_calls": calls])
        messages.append(["role": "tool", "tool_call_id": call["id"]!, "content": "{\"temperature\": 18}"])
        next.context["messages"] = .array(messages)
        let followUp = try next.renderWithTools(for: model)
        #expect(followUp.text.contains("<|im_start|>tool\n{\"temperature\": 18}<|im_end|>"))
        #expect(followUp.text.contains("\"name\": \"\(name)\""))
    }

    /// Mask cost per token against a decode step, for both vocabularies (printed; the
    /// assertions only catch gross regressions).
    @Test(arguments: ["smollm2", "gemma3"]) func maskOverhead(_ which: String) throws {
        let model = which == "smollm2" ? try TestSupport.smolLM2() : try TestSupport.gemma3()
        let clock = ContinuousClock()
        var trie: VocabularyTrie! = nil
        let trieTime = clock.measure { trie = VocabularyTrie(tokenizer: model.tokenizer) }
        // Plain strings: the state inside a string repeats, so its mask comes from the cache.
        let schema = #"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"job":{"type":"string"},"city":{"type":"string"}},"required":["name","age","job","city"]}"#
        var constraint = try OutputConstraint.jsonSchema(try JSONValue(parsing: schema))
        constraint.vocabulary = trie
        let masker = try constraint.masker(for: model)
        let session = try Session(model: model, contextLength: 256)
        try session.prefill(try Self.chatPrompt(model, "Extract the person as JSON with name, age, job and city: Maria Fernanda Alves is a 34 year old software engineer from Lisbon, Portugal."))
        let sampler = try Sampler(vocabularySize: model.config.vocabularySize, parameters: .greedy)
        var walkTimes: [Duration] = [], cachedTimes: [Duration] = [], decodeTimes: [Duration] = []
        var text: [UInt8] = []
        for _ in 0..<60 {
            if masker.isFinished { break }
            let walksBefore = masker.walks
            let t = try clock.measure { try masker.apply(to: session.logits.baseAddress!, count: session.logits.count) }
            if masker.walks > walksBefore { walkTimes.append(t) } else { cachedTimes.append(t) }
            let token = sampler.sample(session.logits.baseAddress!)
            try masker.accept(token)
            if model.tokenizer.isEndOfGeneration(token) { break }
            text += model.tokenizer.pieceBytes(token)
            decodeTimes.append(try clock.measure { try session.evaluate([token]) })
        }
        func ms(_ list: [Duration]) -> Double {
            guard !list.isEmpty else { return 0 }
            let total = list.reduce(Duration.zero, +)
            return Double(total.components.seconds) * 1000 / Double(list.count) + Double(total.components.attoseconds) / 1e15 / Double(list.count)
        }
        let steps = walkTimes.count + cachedTimes.count
        let maskAverage = ms(walkTimes + cachedTimes)
        print("[mask] \(which): vocabulary \(trie.vocabularySize), trie \(trie.nodeCount) nodes built in \(trieTime); \(steps) steps: mask \(maskAverage) ms/token on average (\(walkTimes.count) trie walks at \(ms(walkTimes)) ms, \(cachedTimes.count) cached at \(ms(cachedTimes)) ms); decode step \(ms(decodeTimes)) ms → \(Int(100 * maskAverage / max(ms(decodeTimes), 1e-9)))%; automaton states \(masker.grammarAutomaton.stateTotal)")
        print("[mask] \(which) output: \(String(decoding: text, as: UTF8.self))")
        #expect(try JSONValue(parsing: text).objectValue != nil)
        #expect(maskAverage < 5 * ms(decodeTimes))
    }

    @Test func gemma3OutputMatchesSchema() throws {
        let model = try TestSupport.gemma3()
        let session = try Session(model: model, contextLength: 512)
        let schema = try JSONValue(parsing: Self.cases[1].schema)
        var options = GenerationOptions()
        options.sampling = .greedy
        options.maxTokens = 60
        options.constraint = try .jsonSchema(schema)
        let generator = try TextGenerator(session: session, prompt: try Self.chatPrompt(model, Self.cases[1].prompt), options: options)
        let (text, reason) = try Self.run(generator)
        print("[structured] gemma3: \(text)")
        #expect(reason == .grammarComplete)
        #expect(SchemaValidator.validate(try JSONValue(parsing: text), schema) == nil)
    }
}
