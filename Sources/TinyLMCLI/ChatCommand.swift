import Foundation
import TinyLM

/// `tinylm chat`: an interactive conversation that streams replies. The model's chat format is
/// applied to the whole conversation each turn; the session re-uses the cached prefix, so only
/// the new turn is evaluated. `--json-schema`/`--grammar`/`--json` constrain every reply;
/// `--tools FILE` (an OpenAI tool list) lets each reply call one of the tools, printed as
/// OpenAI-shaped JSON; `--tool-choice` says whether it must (`toolChoice(_:)`).
func runChat(_ arguments: [String]) throws -> Int32 {
    let a = try Arguments(arguments, valued: SamplingFlags.valued.union(["--model", "--prompt", "--system", "--chat-template", "--tools", "--tool-choice"])
                            .union(ChatKnowledge.valued),
                          flags: ["--verbose", "--show-prompt", "--json"])
    let knowledge = try ChatKnowledge.load(a)
    let loaded = try LoadedModel(path: a.value("--model"))
    let model = loaded.model
    var defaults = GenerationOptions()
    // The model's recommended sampling (GGUF metadata or its card; RecommendedSampling.swift):
    // small models wander at generic settings.
    defaults.sampling = model.recommendedSampling.parameters
    defaults.maxTokens = 512
    var options = try SamplingFlags.options(from: a, defaults: defaults)
    let session = try SamplingFlags.makeSession(loaded, a)
    var customTemplate: String? = nil
    if let path = a.value("--chat-template") {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError(description: "cannot read chat template \(path)") }
        customTemplate = text
    }
    let formatter: ChatFormatter
    do { formatter = try ChatFormatter(model: model, templateSource: customTemplate) } catch { throw CLIError(description: error.message) }
    var messages: [ChatMessage] = []
    if let system = a.value("--system") { messages.append(.system(system)) }
    var tools: JSONValue? = nil
    let toolFormat = ToolCallFormat(templateSource: customTemplate ?? model.chatTemplateSource)
    let choice = toolChoice(a.value("--tool-choice"))
    if a.value("--tool-choice") != nil && a.value("--tools") == nil { throw CLIError(description: "--tool-choice needs --tools") }
    if let path = a.value("--tools") {
        guard options.constraint == nil else { throw CLIError(description: "--tools cannot be combined with --json-schema, --grammar or --json") }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError(description: "cannot read tools \(path)") }
        let list: JSONValue
        do { list = try JSONValue(parsing: text) } catch { throw CLIError(description: "--tools: \(path) is not valid JSON: \(error)") }
        let definitions: [ToolDefinition]
        do { definitions = try ToolDefinition.list(from: list) } catch { throw CLIError(description: "--tools: \(error.message)") }
        if case .function(let name) = choice, !definitions.contains(where: { $0.name == name }) {
            throw CLIError(description: "--tool-choice: \(path) has no tool named '\(name)' (the choices: auto, required, none or a tool's name)")
        }
        // 'none': a chat as without the tools (as the web API's toolChoice 'none').
        if choice != .none {
            tools = list
            do {
                options.constraint = try OutputConstraint.toolCalls(definitions, choice: choice, format: toolFormat)
            } catch {
                throw CLIError(description: "--tools: \(error.message)")
            }
        }
    }
    // One vocabulary trie for every turn (building it takes up to half a second).
    if options.constraint != nil { options.constraint?.vocabulary = VocabularyTrie(tokenizer: model.tokenizer) }

    var transcript = ChatTranscript()

    func reply(to userText: String) throws {
        messages.append(.user(userText))
        var answer = ""
        do {
            let promptText: String
            if let tools {
                var context = JSONObject()
                context["messages"] = .array(messages.map { ["role": .string($0.role), "content": .string($0.content)] })
                context["tools"] = tools
                promptText = try formatter.prompt(context: try ToolCalling.prepare(context, format: toolFormat))
            } else {
                promptText = try formatter.prompt(for: try knowledge?.ground(messages) ?? messages, addGenerationPrompt: true)
            }
            // The transcript keeps every earlier prompt and reply as the model saw them, so only
            // the new message and the template's glue are evaluated (ChatTranscript.swift).
            let prompt = transcript.extend(to: promptText, formatter: formatter)
            if a.has("--show-prompt") {
                FileHandle.standardError.write("[prompt: \(promptText.debugDescription)]\n[ids: \(jsonIDList(prompt))]\n".data(using: .utf8)!)
            }
            let start = Date()
            let generator = try TextGenerator(session: session, prompt: prompt, options: options)
            defer { transcript.append(generated: generator.generated, tokenizer: model.tokenizer) }
            var firstToken: Date? = nil
            loop: while true {
                let step = try generator.next()
                if firstToken == nil { firstToken = Date() }
                switch step {
                case .token(_, let text):
                    emit(text); answer += text
                case .finished(let reason, let text):
                    emit(text); answer += text
                    if let note = finishNote(reason, maxTokens: options.maxTokens) {
                        emit("\n"); FileHandle.standardError.write("[\(note)]".data(using: .utf8)!)
                    }
                    break loop
                }
            }
            if a.has("--verbose") {
                let evaluated = prompt.count - generator.reusedPrefix
                let ttft = (firstToken ?? Date()).timeIntervalSince(start) * 1000
                FileHandle.standardError.write(String(format: "\n[prompt %d tokens: %d evaluated, %d reused from the cache; first token after %.0f ms; %d generated; stop: %@]",
                                                      prompt.count, evaluated, generator.reusedPrefix, ttft, generator.generated.count,
                                                      (generator.finishReason ?? .maxTokens).rawValue).data(using: .utf8)!)
            }
        } catch {
            messages.removeLast()
            throw CLIError(description: error.message)
        }
        emit("\n")
        if let knowledge { emit(knowledge.sourcesText) }
        if tools != nil, let calls = try? ToolCalling.parse(answer, format: toolFormat) {
            emit(calls.serialized(.python) + "\n")
        }
        messages.append(.assistant(answer))
    }

    if let prompt = a.value("--prompt") ?? a.positional.first {
        try reply(to: prompt)
        return 0
    }
    let interactive = isatty(0) != 0
    if interactive {
        FileHandle.standardError.write("\(model.displayName) — type a message, /reset to start over, Ctrl-D to quit.\n".data(using: .utf8)!)
    }
    while true {
        if interactive { emit("> ") }
        guard let line = readLine() else { break }
        let text = line.trimmingCharacters(in: .whitespaces)
        if text.isEmpty { continue }
        if text == "/reset" {
            messages.removeAll { $0.role != "system" }
            session.reset()
            transcript.reset()
            continue
        }
        do {
            try reply(to: text)
        } catch {
            FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
            if "\(error)".contains("context overflow") { messages.removeAll { $0.role != "system" }; session.reset(); transcript.reset() }
        }
    }
    return 0
}

/// `--tool-choice`: OpenAI's tool_choice as one word. "auto" (the default, as in the web API
/// and OpenAI's): the model answers in text or calls a tool, and only a call it opens is held to
/// the grammar (a lazy constraint, ConstraintTrigger.swift); "required": the reply is a call;
/// "none": the tools are left out; any other word names the one tool the reply must call.
func toolChoice(_ flag: String?) -> ToolChoice {
    switch flag {
    case nil, "auto": return .auto
    case "required": return .required
    case "none": return .none
    case let name?: return .function(name)
    }
}
