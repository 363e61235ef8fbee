/// A chat formatting request as the wasm ABI and the web API send it (JSON):
/// `{ "messages": [{role, content}, …], "tools": [...], "addGenerationPrompt": true,
///    "template": "custom Jinja (optional)", "now": [year, month, day, hour, minute, second],
///    "context": { extra template variables } }`.
public struct ChatRequest {
    public var context: JSONObject
    public var templateSource: String?
    public var now: TemplateDateTime?
    /// `"toolCalling": true`: the prompt is for a constrained tool call, so `tools` are prepared
    /// as `ToolCalling.prepare` does (described in the system message when the template
    /// ignores them) rather than handed to the template as they are.
    public var toolCalling = false

    public init(json bytes: [UInt8]) throws(TinyLMError) {
        let value: JSONValue
        do { value = try JSONValue(parsing: bytes) } catch {
            throw .invalidArgument("chat request is not valid JSON: \(error.description)")
        }
        guard let object = value.objectValue else { throw .invalidArgument("chat request must be a JSON object") }
        guard let messages = object["messages"], messages.arrayValue != nil else {
            throw .invalidArgument("chat request needs 'messages': an array of {role, content} objects")
        }
        var context = object["context"]?.objectValue ?? JSONObject()
        context["messages"] = messages
        if let tools = object["tools"], !tools.isNull { context["tools"] = tools }
        context["add_generation_prompt"] = .bool(object["addGenerationPrompt"]?.boolValue ?? true)
        self.context = context
        templateSource = object["template"]?.stringValue
        toolCalling = object["toolCalling"]?.boolValue ?? false
        if let parts = object["now"]?.arrayValue {
            var numbers: [Int] = []
            for part in parts {
                guard let n = part.intValue else { throw .invalidArgument("'now' must be [year, month, day, hour, minute, second]") }
                numbers.append(n)
            }
            guard numbers.count == 6 else { throw .invalidArgument("'now' must be [year, month, day, hour, minute, second]") }
            // A calendar date: the template's date arithmetic must not overflow, and a 32-bit
            // build (wasm) must accept exactly what a 64-bit one does.
            let ranges = [1...9999, 1...12, 1...31, 0...23, 0...59, 0...60]
            for (number, range) in zip(numbers, ranges) where !range.contains(number) {
                throw .invalidArgument("'now' must be a calendar date and time: [year 1-9999, month 1-12, day 1-31, hour 0-23, minute 0-59, second 0-60]")
            }
            now = TemplateDateTime(year: numbers[0], month: numbers[1], day: numbers[2],
                                   hour: numbers[3], minute: numbers[4], second: numbers[5])
        }
    }

    /// The prompt text and its tokens for `model`.
    public func render(for model: Model) throws(TinyLMError) -> (text: String, tokens: [Int32]) {
        let formatter = try ChatFormatter(model: model, templateSource: templateSource)
        let text = try promptText(formatter, model: model)
        return (text, formatter.tokens(forPrompt: text))
    }

    /// The prompt text `formatter` renders for this request (with `toolCalling`, after
    /// preparing the tools for the model's call format).
    public func promptText(_ formatter: ChatFormatter, model: Model) throws(TinyLMError) -> String {
        guard toolCalling, context["tools"] != nil else { return try formatter.prompt(context: context, now: now) }
        let format = ToolCallFormat(templateSource: templateSource ?? model.chatTemplateSource)
        return try formatter.prompt(context: try ToolCalling.prepare(context, format: format), now: now)
    }
}
