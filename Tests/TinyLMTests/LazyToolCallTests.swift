import Testing
@testable import TinyLM

/// tool_choice "auto": generation runs free and the tool-call grammar takes hold only once the
/// model opens a call (ConstraintTrigger), so a model may answer in text or call a tool.
@Suite struct LazyToolCallTests {
    static let weatherTool: JSONValue = ["type": "function", "function": ["name": "get_weather",
        "description": "Current weather in a city",
        "parameters": ["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]]]]

    @Test func triggersFollowEachFamilysCallFormat() throws {
        let qwen = ConstraintTrigger(toolCallFormat: ToolCallFormat(templateSource: try ToolCallFamilyTests.template("Qwen-Qwen2.5-7B-Instruct")))
        #expect(qwen.kind == .marker(Array("<tool_call>".utf8)))  // the grammar still asks for the "\n" after it
        let phi4 = ConstraintTrigger(toolCallFormat: ToolCallFormat(templateSource: ToolCallFamilyTests.phi4MiniStyle))
        #expect(phi4.kind == .marker(Array("<|tool_call|>".utf8)))
        let llama = ConstraintTrigger(toolCallFormat: ToolCallFormat(templateSource: try ToolCallFamilyTests.template("meta-llama-Llama-3.2-3B-Instruct")))
        #expect(llama.kind == .leadingByte([UInt8(ascii: "{")]))
        // SmolLM2's template knows no tools: a call is a JSON object at the start of the answer.
        let smol = ConstraintTrigger(toolCallFormat: ToolCallFormat(templateSource: try ToolCallFamilyTests.template("HuggingFaceTB-SmolLM2-135M-Instruct")))
        #expect(smol.kind == .leadingByte([UInt8(ascii: "{")]))
    }

    @Test func markersAreFoundAcrossTokensAndLeadingBytesOnlyAtTheStart() {
        let marker = ConstraintTrigger(.marker(Array("<tool_call>".utf8)))
        var output = Array("Let me check. <tool".utf8)
        #expect(marker.start(in: output, newFrom: 0) == nil)
        let before = output.count
        output += Array("_call>\n{".utf8)
        #expect(marker.start(in: output, newFrom: before) == 14)
        #expect(marker.bytesToKeep == 10 && !marker.isExcluded(by: Array("anything".utf8)))

        let leading = ConstraintTrigger(.leadingByte([UInt8(ascii: "{")]))
        #expect(leading.start(in: Array(" \n".utf8), newFrom: 0) == nil)
        #expect(!leading.isExcluded(by: Array(" \n".utf8)))
        #expect(leading.start(in: Array(" \n{\"na".utf8), newFrom: 2) == 2)
        #expect(leading.start(in: Array("I {".utf8), newFrom: 0) == nil)
        #expect(leading.isExcluded(by: Array("I {".utf8)))
    }

    @Test func autoIsLazyAndTheOthersAreNot() throws {
        #expect(try ToolChoice(json: "auto") == .auto)
        #expect(try ToolChoice(json: "required") == .required)
        #expect(try ToolChoice(json: ["type": "function", "function": ["name": "f"]]) == .function("f"))
        let model = try TestSupport.smolLM2()
        let tools = try ToolDefinition.list(from: [Self.weatherTool])
        #expect(try OutputConstraint.toolCalls(tools, choice: .auto)?.trigger(for: model) != nil)
        #expect(try OutputConstraint.toolCalls(tools, choice: .required)?.trigger(for: model) == nil)
        #expect(try OutputConstraint.toolCalls(tools, choice: .function("get_weather"))?.trigger(for: model) == nil)
        #expect(try OutputConstraint.toolCalls(tools, choice: .none) == nil)
        // "auto" is the default of the options the wasm ABI reads (OpenAI's default with tools).
        let options = try GenerationOptions(json: Array(#"{"tools":[{"type":"function","function":{"name":"f"}}]}"#.utf8))
        #expect(options.constraint?.trigger(for: model) != nil)
    }

    /// Runs a SmolLM2 chat with the weather tool (greedy) under `choice`.
    static func chat(_ question: String, _ choice: ToolChoice, format: ToolCallFormat? = nil, maxTokens: Int = 80)
        throws -> (text: String, reason: FinishReason, constrainedFrom: Int?, format: ToolCallFormat) {
        let model = try TestSupport.smolLM2()
        var request = try ChatRequest(json: Array(#"{"messages":[]}"#.utf8))
        request.context["messages"] = [["role": "user", "content": .string(question)]]
        request.context["tools"] = [Self.weatherTool]
        let prompt = try request.renderWithTools(for: model)
        var options = GenerationOptions()
        options.sampling = .greedy
        options.maxTokens = maxTokens
        options.constraint = try OutputConstraint.toolCalls(try ToolDefinition.list(from: [Self.weatherTool]), choice: choice,
                                                            format: format ?? prompt.format)
        let generator = try TextGenerator(session: try Session(model: model, contextLength: 1024), prompt: prompt.tokens, options: options)
        let (text, reason) = try StructuredOutputTests.run(generator)
        print("[lazy tool call] \(choice) \(question.debugDescription): \(reason) \(text.debugDescription)")
        return (text, reason, generator.constrainedFrom, format ?? prompt.format)
    }

    @Test func autoCallsTheToolWhenTheModelOpensACall() throws {
        // (SmolLM2-135M answers most weather questions from its imagination; this one it calls.)
        let answer = try Self.chat("Call get_weather for Paris.", .auto)
        #expect(answer.reason == .grammarComplete)
        #expect(answer.constrainedFrom == 0)
        let calls = try ToolCalling.parse(answer.text, format: answer.format)
        #expect(calls[0]?["function"]?["name"] == "get_weather")
        let arguments = try JSONValue(parsing: try #require(calls[0]?["function"]?["arguments"]?.stringValue))
        #expect(SchemaValidator.validate(arguments, try ToolDefinition.list(from: [Self.weatherTool])[0].parameters) == nil)
    }

    @Test func autoAnswersInTextWhenTheModelWritesText() throws {
        let question = "What is the capital of France?"
        let answer = try Self.chat(question, .auto)
        #expect(answer.reason == .endOfGeneration)
        #expect(answer.constrainedFrom == nil)
        #expect(!answer.text.isEmpty)
        #expect(throws: TinyLMError.self) { try ToolCalling.parse(answer.text, format: answer.format) }
        // The same question under "required" is a call: "auto" did not force one.
        let forced = try Self.chat(question, .required)
        #expect(forced.reason == .grammarComplete && forced.constrainedFrom == 0)
        #expect(try ToolCalling.parse(forced.text, format: forced.format)[0]?["function"]?["name"] == "get_weather")
    }

    /// A trigger in the middle of the answer, inside a token whose bytes after it the grammar
    /// rejects: the text before stays as the model wrote it, and that step is sampled again
    /// under the grammar (here the marker is "Par", which SmolLM2 writes inside " Paris").
    @Test func aTriggerInsideATokenResamplesThatStepUnderTheGrammar() throws {
        let question = "What is the capital of France?"
        let free = try Self.chat(question, .none)
        let freeBytes = Array(free.text.utf8)
        let paris = try #require(ToolCalling.find(Array(" Paris".utf8), in: freeBytes, from: 0))
        let format = ToolCallFormat(prefix: "Par", suffix: "")
        let answer = try Self.chat(question, .auto, format: format)
        let bytes = Array(answer.text.utf8)
        #expect(answer.reason == .grammarComplete)
        // The token " Paris" gave way to one the grammar allows, from where it began.
        #expect(answer.constrainedFrom == paris)
        #expect(bytes[..<paris].elementsEqual(freeBytes[..<paris]))
        #expect(bytes[paris...].starts(with: Array("Par{\"name\":".utf8)))
        // (Parsed without the marker: "Par" also begins the argument "Paris".)
        let calls = try ToolCalling.parse(String(decoding: bytes[(paris + 3)...], as: UTF8.self), format: ToolCallFormat())
        #expect(calls[0]?["function"]?["name"] == "get_weather")
    }
}
