import Testing
@testable import TinyLM

/// A constrained output is complete and valid within maxTokens: near the limit, the masker
/// steers to a shortest completion (FinishReason.constraintBudget).
@Suite(.serialized) struct ConstraintBudgetTests {
    @Test func shortestCompletionLengths() throws {
        let schema = try JSONValue(parsing: #"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"array","items":{"type":"string"}}},"required":["a","b"]}"#)
        let automaton = GrammarAutomaton(grammar: try JSONSchemaGrammar.grammar(for: schema))
        var state = automaton.initialState()
        #expect(automaton.remainingBytes(state) == #"{"a":0,"b":[]}"#.utf8.count)
        for (prefix, remaining) in [(#"{"a":"#, #"0,"b":[]}"#), (#"{"a":12"#, #","b":[]}"#), (#"{"a":12,"b":["x"#, #""]}"#)] {
            state = automaton.next(automaton.initialState(), bytes: Array(prefix.utf8))
            #expect(automaton.remainingBytes(state) == remaining.utf8.count, "\(prefix)")
        }
        state = automaton.next(automaton.initialState(), bytes: Array(#"{"a":1,"b":[]}"#.utf8))
        #expect(automaton.remainingBytes(state) == 0 && automaton.isAccepting(state))
    }

    /// A vocabulary that would rather repeat "x" forever: the budget must still close the list.
    @Test func steersToACompleteOutputAtTheLimit() throws {
        let grammar = try GBNFParser.parse(#"root ::= "<" ("x" | "y")* ">""#)
        let pieces: [[UInt8]] = ["<", "x", "xx", "xxxx", ">", "x>", "y"].map { Array($0.utf8) } + [[]]
        let trie = VocabularyTrie(pieces: pieces, endOfGeneration: [7])
        for maxTokens in 2...6 {
            let masker = TokenMasker(grammar: grammar, trie: trie)
            var logits = [Float](repeating: 0, count: pieces.count)
            var output: [UInt8] = []
            var steered = false
            for generated in 0..<maxTokens {
                if masker.isFinished { break }
                // "xxxx" most liked, then "xx", "x", ...: the model never wants to stop.
                logits = [1, 5, 6, 7, 0, 0, 2, 0]
                let budget = maxTokens - generated
                if try masker.apply(to: &logits, count: logits.count, budget: budget) { steered = true }
                let token = Int32(logits.indices.max { logits[$0] < logits[$1] }!)
                try masker.accept(token)
                output += pieces[Int(token)]
            }
            let text = String(decoding: output, as: UTF8.self)
            #expect(masker.isComplete, "maxTokens \(maxTokens): \(text)")
            #expect(text.hasPrefix("<") && text.hasSuffix(">"), "maxTokens \(maxTokens): \(text)")
            #expect(steered)
        }
        // A budget of one token cannot hold "<" and ">": the nearest completion is taken and
        // the output stays incomplete (reported as such, never as complete).
        let masker = TokenMasker(grammar: grammar, trie: trie)
        var logits: [Float] = [1, 5, 6, 7, 0, 0, 2, 0]
        try masker.apply(to: &logits, count: logits.count, budget: 1)
        #expect(logits[0] == 1 && logits[1].isInfinite)
    }

    @Test func unboundedStringsGetTheDefaultMaximum() throws {
        let bounded = GrammarAutomaton(grammar: try JSONSchemaGrammar.grammar(for: try JSONValue(parsing: #"{"type":"string"}"#)))
        let limit = JSONSchemaGrammar.defaultMaxStringLength
        func quoted(_ n: Int) -> [UInt8] { Array(("\"" + String(repeating: "a", count: n) + "\"").utf8) }
        #expect(bounded.matches(quoted(limit)))
        #expect(!bounded.matches(quoted(limit + 1)))
        let explicit = GrammarAutomaton(grammar: try JSONSchemaGrammar.grammar(for: try JSONValue(parsing: #"{"type":"string","maxLength":2000}"#)))
        #expect(explicit.matches(quoted(2000)))
    }

    /// The issue's check: schemas × prompts × seeds with SmolLM2 at its model card's sampling
    /// (temperature 0.2, top-p 0.9, and no repetition penalty: it falls into loops inside
    /// strings and arrays), 400 tokens. Before budget steering, 10 of these 24 ended mid-output
    /// (4 with TinyLM's repetition penalty 1.1); every one must now parse and match its schema.
    static let schemas: [(schema: String, prompts: [String])] = [
        (#"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"occupation":{"type":"string"},"hobbies":{"type":"array","items":{"type":"string"}}},"required":["name","age","occupation","hobbies"]}"#,
         ["Maria is a 34 year old engineer from Lisbon who enjoys surfing and chess. Extract her details as JSON.",
          "Invent a fictional character and describe them as JSON."]),
        (#"{"type":"object","properties":{"title":{"type":"string"},"summary":{"type":"string"},"date":{"type":["string","null"]},"tags":{"type":"array","items":{"type":"string"}},"actionItems":{"type":"array","items":{"type":"string"}}},"required":["title","summary","date","tags","actionItems"]}"#,
         ["Turn these meeting notes into JSON: Budget review with Sam and Priya. Marketing spend is 10% over plan. Sam will send the revised numbers by Friday; Priya will book a follow-up meeting.",
          "Turn this note into JSON: buy milk, eggs and bread; call the plumber about the kitchen sink."]),
        (#"{"type":"object","properties":{"dish":{"type":"string"},"servings":{"type":"integer","minimum":1,"maximum":20},"ingredients":{"type":"array","items":{"type":"object","properties":{"item":{"type":"string"},"amount":{"type":"string"}},"required":["item","amount"]}},"steps":{"type":"array","items":{"type":"string"}}},"required":["dish","servings","ingredients","steps"]}"#,
         ["Give a simple pancake recipe as JSON.", "How do I make a tomato salad? Answer as JSON."]),
    ]

    @Test func smolLM2SchemaOutputsAreAlwaysCompleteAndValid() throws {
        let model = try TestSupport.smolLM2()
        let trie = VocabularyTrie(tokenizer: model.tokenizer)
        let session = try Session(model: model, contextLength: 1024)
        var cases = 0, steered = 0
        for (schemaText, prompts) in Self.schemas {
            let schema = try JSONValue(parsing: schemaText)
            var constraint = try OutputConstraint.jsonSchema(schema)
            constraint.vocabulary = trie
            for prompt in prompts {
                for seed: UInt64 in 1...4 {
                    var options = GenerationOptions()
                    options.sampling = model.recommendedSampling.parameters
                    options.sampling.repeatPenalty = 1
                    options.sampling.seed = seed
                    options.maxTokens = 400
                    options.constraint = constraint
                    let generator = try TextGenerator(session: session, prompt: try StructuredOutputTests.chatPrompt(model, prompt), options: options)
                    let (text, reason) = try StructuredOutputTests.run(generator)
                    cases += 1
                    if reason == .constraintBudget { steered += 1 }
                    #expect([.grammarComplete, .endOfGeneration, .constraintBudget].contains(reason), "seed \(seed), \(prompt): \(reason) \(text)")
                    #expect(generator.generated.count <= 400)
                    do {
                        let value = try JSONValue(parsing: text)
                        let problem = SchemaValidator.validate(value, schema)
                        #expect(problem == nil, "seed \(seed), \(prompt): \(problem ?? "") in \(text)")
                    } catch {
                        Issue.record("seed \(seed), \(prompt): not JSON (\(error)): \(text)")
                    }
                }
            }
        }
        #expect(cases == 24)
        print("[budget] \(cases) schema outputs, all complete; \(steered) steered to fit 400 tokens")
    }
}
