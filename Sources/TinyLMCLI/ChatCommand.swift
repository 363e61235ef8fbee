import Foundation
import TinyLM

/// `tinylm chat`: an interactive conversation that streams replies. The model's chat format is
/// applied to the whole conversation each turn; the session re-uses the cached prefix, so only
/// the new turn is evaluated.
func runChat(_ arguments: [String]) throws -> Int32 {
    let a = try Arguments(arguments, valued: SamplingFlags.valued.union(["--model", "--prompt", "--system", "--chat-template"]),
                          flags: ["--verbose", "--show-prompt"])
    let loaded = try LoadedModel(path: a.value("--model"))
    let model = loaded.model
    var defaults = GenerationOptions()
    // SmolLM2's authors suggest a low temperature; small models wander otherwise, and at low
    // temperature a 135M model falls into loops ("la femme, la femme, …") without a mild
    // repetition penalty.
    defaults.sampling.temperature = 0.2
    defaults.sampling.topP = 0.9
    defaults.sampling.repeatPenalty = 1.1
    defaults.maxTokens = 512
    let options = try SamplingFlags.options(from: a, defaults: defaults)
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

    func reply(to userText: String) throws {
        messages.append(.user(userText))
        var answer = ""
        do {
            let promptText = try formatter.prompt(for: messages, addGenerationPrompt: true)
            let prompt = formatter.tokens(forPrompt: promptText)
            if a.has("--show-prompt") {
                FileHandle.standardError.write("[prompt: \(promptText.debugDescription)]\n[ids: \(jsonIDList(prompt))]\n".data(using: .utf8)!)
            }
            let generator = try TextGenerator(session: session, prompt: prompt, options: options)
            loop: while true {
                switch try generator.next() {
                case .token(_, let text):
                    emit(text); answer += text
                case .finished(_, let text):
                    emit(text); answer += text
                    break loop
                }
            }
        } catch {
            messages.removeLast()
            throw CLIError(description: error.message)
        }
        emit("\n")
        messages.append(.assistant(answer))
    }

    if let prompt = a.value("--prompt") ?? a.positional.first {
        try reply(to: prompt)
        return 0
    }
    let interactive = isatty(0) != 0
    if interactive {
        FileHandle.standardError.write("\(model.config.name) — type a message, /reset to start over, Ctrl-D to quit.\n".data(using: .utf8)!)
    }
    while true {
        if interactive { emit("> ") }
        guard let line = readLine() else { break }
        let text = line.trimmingCharacters(in: .whitespaces)
        if text.isEmpty { continue }
        if text == "/reset" {
            messages.removeAll { $0.role != "system" }
            session.reset()
            continue
        }
        do {
            try reply(to: text)
        } catch {
            FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
            if "\(error)".contains("context overflow") { messages.removeAll { $0.role != "system" }; session.reset() }
        }
    }
    return 0
}
