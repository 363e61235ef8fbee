/// Turns a conversation into the prompt text a model was trained on.
public struct ChatFormatter {
    /// The built-in formats used when a model ships no chat template.
    public enum BuiltinFormat: Sendable {
        /// `<|im_start|>role\ncontent<|im_end|>\n` (SmolLM, Qwen).
        case chatML
        /// `<start_of_turn>user\ncontent<end_of_turn>\n` (Gemma; the model role is "model").
        case gemma
    }

    public let format: BuiltinFormat

    public init(model: Model) {
        switch model.config.architecture {
        case .gemma3: format = .gemma
        case .llama, .qwen2: format = .chatML
        }
    }

    public init(format: BuiltinFormat) { self.format = format }

    /// The prompt text for `messages`; with `addGenerationPrompt` it ends where the
    /// assistant's reply begins.
    public func prompt(for messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
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
