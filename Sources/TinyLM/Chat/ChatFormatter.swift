/// Turns a conversation into the prompt a model was trained on: the model's own Jinja chat
/// template (`tokenizer.chat_template`) when it has one, a custom template when the caller
/// gives one, and otherwise a built-in format for the architecture (Gemma 3 base ships none).
public struct ChatFormatter {
    /// The built-in formats used when there is no template.
    public enum BuiltinFormat: Sendable {
        /// `<|im_start|>role\ncontent<|im_end|>\n` (SmolLM, Qwen).
        case chatML
        /// `<start_of_turn>user\ncontent<end_of_turn>\n` (Gemma; the model role is "model").
        case gemma
    }

    public enum Style {
        case template(ChatTemplate)
        case builtin(BuiltinFormat)
    }

    public let style: Style
    private let bosText: String
    private let eosText: String
    public let tokenizer: Tokenizer

    /// `templateSource` overrides the model's own template.
    public init(model: Model, templateSource: String? = nil) throws(TinyLMError) {
        tokenizer = model.tokenizer
        bosText = model.tokenizer.bosTokenID.map { String(decoding: model.tokenizer.pieceBytes($0), as: UTF8.self) } ?? ""
        eosText = model.tokenizer.eosTokenID.map { String(decoding: model.tokenizer.pieceBytes($0), as: UTF8.self) } ?? ""
        if let source = templateSource ?? model.chatTemplateSource {
            do {
                style = .template(try ChatTemplate(source: source))
            } catch {
                throw TinyLMError(.template, "the chat template does not parse: \(error.description)")
            }
        } else {
            style = .builtin(model.config.architecture == .gemma3 ? .gemma : .chatML)
        }
    }

    /// The prompt text for `messages`; with `addGenerationPrompt` it ends where the
    /// assistant's reply begins.
    public func prompt(for messages: [ChatMessage], addGenerationPrompt: Bool = true) throws(TinyLMError) -> String {
        var list: [JSONValue] = []
        for m in messages { list.append(.object(JSONObject([("role", .string(m.role)), ("content", .string(m.content))]))) }
        var context = JSONObject()
        context["messages"] = .array(list)
        context["add_generation_prompt"] = .bool(addGenerationPrompt)
        return try prompt(context: context)
    }

    /// The prompt for a full template context: `messages` (required), and optionally `tools`,
    /// `add_generation_prompt` (default true) and any variable a template reads.
    /// `bos_token` and `eos_token` come from the vocabulary unless given.
    public func prompt(context given: JSONObject, now: TemplateDateTime? = nil) throws(TinyLMError) -> String {
        guard let messages = given["messages"]?.arrayValue else {
            throw .invalidArgument("a chat needs 'messages': an array of {role, content} objects")
        }
        var context = given
        if context["add_generation_prompt"] == nil { context["add_generation_prompt"] = .bool(true) }
        if context["bos_token"] == nil { context["bos_token"] = .string(bosText) }
        if context["eos_token"] == nil { context["eos_token"] = .string(eosText) }
        switch style {
        case .template(let template):
            do {
                return try template.render(context: .object(context), options: TemplateRenderOptions(now: now))
            } catch {
                throw TinyLMError(.template, "chat template: \(error.description)")
            }
        case .builtin(let format):
            var turns: [ChatMessage] = []
            for m in messages {
                guard let role = m["role"]?.stringValue else { throw .invalidArgument("every message needs a string 'role'") }
                turns.append(ChatMessage(role: role, content: m["content"]?.stringValue ?? ""))
            }
            return Self.builtinPrompt(format, turns, addGenerationPrompt: context["add_generation_prompt"]?.boolValue ?? true)
        }
    }

    /// Tokens of a rendered chat prompt: special tokens are parsed, and BOS is added when the
    /// model wants one and the template did not already write it.
    public func tokens(forPrompt text: String) -> [Int32] {
        let startsWithBOS = !bosText.isEmpty && text.utf8.starts(with: bosText.utf8)
        return tokenizer.encode(text, addSpecial: !startsWithBOS, parseSpecial: true)
    }

    static func builtinPrompt(_ format: BuiltinFormat, _ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var text = ""
        switch format {
        case .chatML:
            for m in messages { text += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            if addGenerationPrompt { text += "<|im_start|>assistant\n" }
        case .gemma:
            // Gemma has no system role: a system message is prefixed to the first user turn.
            var pendingSystem = ""
            for m in messages {
                if m.role == "system" { pendingSystem += m.content + "\n\n"; continue }
                let role = m.role == "assistant" ? "model" : m.role
                var content = m.content
                if role == "user" && !pendingSystem.isEmpty { content = pendingSystem + content; pendingSystem = "" }
                text += "<start_of_turn>\(role)\n\(content)<end_of_turn>\n"
            }
            if addGenerationPrompt { text += "<start_of_turn>model\n" }
        }
        return text
    }
}
