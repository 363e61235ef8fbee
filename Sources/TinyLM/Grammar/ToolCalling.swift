/// Tool (function) calling on top of constrained generation.
///
/// 1. The prompt: `ToolCalling.prepare(_:format:)` passes the tools to the chat template as
///    `tools`; when the template ignores tools (SmolLM2's does), it describes them in the
///    system message instead and turns earlier assistant `tool_calls` into text the template
///    can show. Messages with role "tool" pass through to the template.
/// 2. The output: `OutputConstraint.toolCalls(...)` constrains it to
///    `{"name": <a tool's name>, "arguments": <that tool's parameters>}`, inside the
///    template's own wrapper when it has one (Qwen/Hermes: `<tool_call>\n…\n</tool_call>`;
///    Phi-4-mini: `<|tool_call|>[…]<|/tool_call|>`; Llama 3.x: bare, with "parameters").
///    With `ToolChoice.auto` the constraint is lazy: the model writes freely, and only once it
///    opens a call (`ConstraintTrigger`) is the rest held to the grammar.
/// 3. The result: `ToolCalling.parse(_:format:)` (ToolCallOutput.swift) returns OpenAI-shaped
///    calls `[{id, type: "function", function: {name, arguments: "<JSON text>"}}]` from what
///    these families write, unconstrained too.

/// One function the model may call: OpenAI's `{type: "function", function: {name,
/// description, parameters}}` (a bare `{name, description, parameters}` is accepted too).
public struct ToolDefinition: Sendable {
    public var name: String
    public var description: String
    /// A JSON Schema for the arguments object.
    public var parameters: JSONValue

    public init(name: String, description: String = "", parameters: JSONValue = ["type": "object", "properties": [:]]) {
        self.name = name
        self.description = description
        self.parameters = parameters
    }

    /// Reads an array of tools.
    public static func list(from json: JSONValue) throws(TinyLMError) -> [ToolDefinition] {
        guard let items = json.arrayValue else { throw .invalidArgument("'tools' must be an array of {type: \"function\", function: {name, description, parameters}}") }
        var out: [ToolDefinition] = []
        for (i, item) in items.enumerated() {
            let function = item["function"] ?? item
            if let type = item["type"]?.stringValue, type != "function" {
                throw .invalidArgument("tools[\(i)]: unsupported tool type '\(type)' (only \"function\")")
            }
            guard let name = function["name"]?.stringValue, !name.isEmpty else {
                throw .invalidArgument("tools[\(i)] needs a function name")
            }
            if out.contains(where: { $0.name == name }) { throw .invalidArgument("tools[\(i)]: the name '\(name)' is used twice") }
            let parameters = function["parameters"] ?? ["type": "object", "properties": [:]]
            out.append(ToolDefinition(name: name, description: function["description"]?.stringValue ?? "", parameters: parameters))
        }
        if out.isEmpty { throw .invalidArgument("'tools' is empty") }
        return out
    }

    /// OpenAI's shape, as chat templates expect it.
    public var json: JSONValue {
        ["type": "function", "function": .object(JSONObject([("name", .string(name)), ("description", .string(description)), ("parameters", parameters)]))]
    }
}

/// Which tool calls are allowed.
public enum ToolChoice: Sendable, Equatable {
    /// The model chooses: it answers in text, or calls one of the tools (then the call, from
    /// its opening on, is constrained to a valid call). OpenAI's default when tools are given.
    case auto
    /// Exactly one call to one of the tools.
    case required
    /// No call: generation is not constrained.
    case none
    /// Exactly one call to this tool.
    case function(String)

    /// Reads OpenAI's `tool_choice`: "auto", "required", "none" or
    /// `{type: "function", function: {name}}`.
    public init(json: JSONValue) throws(TinyLMError) {
        if let s = json.stringValue {
            switch s {
            case "auto": self = .auto
            case "required", "any": self = .required
            case "none": self = .none
            default: throw .invalidArgument("toolChoice must be \"auto\", \"required\", \"none\" or {type: \"function\", function: {name}}")
            }
        } else if let name = json["function"]?["name"]?.stringValue ?? json["name"]?.stringValue {
            self = .function(name)
        } else {
            throw .invalidArgument("toolChoice must be \"auto\", \"required\", \"none\" or {type: \"function\", function: {name}}")
        }
    }
}

/// How a model writes a tool call, read from its chat template.
public struct ToolCallFormat: Sendable, Equatable {
    /// Text before and after the call's JSON (Hermes/Qwen: "<tool_call>\n" and "\n</tool_call>").
    public var prefix: String
    public var suffix: String
    /// The key holding the arguments: "arguments", or "parameters" (Llama 3.x).
    public var argumentsKey: String
    /// Whether the template renders `tools` itself; if not, `ToolCalling.prepare` describes them.
    public var templateHandlesTools: Bool
    /// The calls are a JSON array inside the wrapper (Phi-4-mini: `<|tool_call|>[{…}]<|/tool_call|>`).
    public var callsInList: Bool
    /// The template reads the tools as JSON text from the system message's `tools` field
    /// (Phi-4-mini's) rather than from a `tools` variable, and does not render tool calls.
    public var toolsInSystemMessage: Bool

    public init(prefix: String = "", suffix: String = "", argumentsKey: String = "arguments", templateHandlesTools: Bool = false,
                callsInList: Bool = false, toolsInSystemMessage: Bool = false) {
        self.prefix = prefix
        self.suffix = suffix
        self.argumentsKey = argumentsKey
        self.templateHandlesTools = templateHandlesTools
        self.callsInList = callsInList
        self.toolsInSystemMessage = toolsInSystemMessage
    }

    /// The format the template `source` asks for (nil: no template, plain JSON calls).
    public init(templateSource source: String?) {
        self.init()
        guard let source else { return }
        templateHandlesTools = Self.contains(source, "tools")
        if Self.contains(source, "<tool_call>") {
            // Hermes, Qwen 2.5, Qwen 3.
            prefix = "<tool_call>\n"
            suffix = "\n</tool_call>"
        } else if Self.contains(source, "<|tool|>") {
            // Phi-4-mini: tools in the system message between <|tool|> and <|/tool|>; the model
            // answers <|tool_call|>[{"name": …, "arguments": …}]<|/tool_call|>.
            prefix = "<|tool_call|>"
            suffix = "<|/tool_call|>"
            callsInList = true
            toolsInSystemMessage = true
        } else if Self.contains(source, "\"parameters\": dictionary") {
            // Llama 3.1-3.3: {"name": …, "parameters": …}, after <|python_tag|> at times.
            argumentsKey = "parameters"
        }
    }

    public init(model: Model) { self.init(templateSource: model.chatTemplateSource) }

    public var json: JSONValue {
        .object(JSONObject([("prefix", .string(prefix)), ("suffix", .string(suffix)), ("argumentsKey", .string(argumentsKey)),
                            ("templateHandlesTools", .bool(templateHandlesTools)), ("callsInList", .bool(callsInList)),
                            ("toolsInSystemMessage", .bool(toolsInSystemMessage))]))
    }

    /// Reads `{prefix, suffix, argumentsKey, templateHandlesTools, callsInList,
    /// toolsInSystemMessage}` (missing keys keep the plain-JSON defaults).
    public init(json: JSONValue) throws(TinyLMError) {
        self.init()
        guard let o = json.objectValue else { throw .invalidArgument("toolCallFormat must be an object {prefix, suffix, argumentsKey}") }
        if let v = o["prefix"] { guard let s = v.stringValue else { throw .invalidArgument("toolCallFormat.prefix must be a string") }; prefix = s }
        if let v = o["suffix"] { guard let s = v.stringValue else { throw .invalidArgument("toolCallFormat.suffix must be a string") }; suffix = s }
        if let v = o["argumentsKey"] { guard let s = v.stringValue, !s.isEmpty else { throw .invalidArgument("toolCallFormat.argumentsKey must be a string") }; argumentsKey = s }
        templateHandlesTools = o["templateHandlesTools"]?.boolValue ?? false
        callsInList = o["callsInList"]?.boolValue ?? false
        toolsInSystemMessage = o["toolsInSystemMessage"]?.boolValue ?? false
    }

    static func contains(_ text: String, _ needle: String) -> Bool {
        let h = Array(text.utf8), n = Array(needle.utf8)
        guard n.count <= h.count else { return false }
        for start in 0...(h.count - n.count) where h[start] == n[0] {
            if h[start..<(start + n.count)].elementsEqual(n) { return true }
        }
        return false
    }
}

/// Tools plus choice, compiled to a grammar once the call format is known.
struct ToolCallSpec: Sendable {
    var tools: [ToolDefinition]
    var choice: ToolChoice
    var format: ToolCallFormat?

    func grammar(format: ToolCallFormat) throws(TinyLMError) -> Grammar {
        var compiler = JSONSchemaGrammar()
        var calls: [GrammarExpression] = []
        let space = GrammarExpression.optional(.literal([0x20]))
        for (i, tool) in tools.enumerated() {
            if case .function(let name) = choice, name != tool.name { continue }
            let arguments: GrammarExpression
            do {
                arguments = try compiler.expression(forDocument: tool.parameters, prefix: "tool\(i)-")
            } catch {
                throw TinyLMError(.grammar, "tool '\(tool.name)' parameters: \(error.message)")
            }
            calls.append(.sequence([
                .string("{\"name\":"), space, .string(JSONSchemaGrammar.serialize(.string(tool.name))), .string(","), space,
                .string(JSONSchemaGrammar.serialize(.string(format.argumentsKey))), .string(":"), space, arguments, .string("}"),
            ]))
        }
        if calls.isEmpty {
            if case .function(let name) = choice { throw .invalidArgument("toolChoice names '\(name)', which is not one of the tools") }
            throw .invalidArgument("no tools to call")
        }
        let open = format.callsInList ? "[" : "", close = format.callsInList ? "]" : ""
        return try compiler.grammar(root: .sequence([.string(format.prefix + open), .choice(calls), .string(close + format.suffix)]))
    }
}

extension OutputConstraint {
    /// A tool call (see `ToolCalling`); `format` nil uses the model's template's format.
    /// `.auto` makes the constraint lazy (see `trigger(for:)`); `.none` gives no constraint.
    public static func toolCalls(_ tools: [ToolDefinition], choice: ToolChoice = .required,
                                 format: ToolCallFormat? = nil) throws(TinyLMError) -> OutputConstraint? {
        if choice == .none { return nil }
        let spec = ToolCallSpec(tools: tools, choice: choice, format: format)
        // Compile once now so bad schemas are reported before generation starts.
        _ = try spec.grammar(format: format ?? ToolCallFormat())
        return OutputConstraint(toolCalls: spec)
    }
}

public enum ToolCalling {
    /// The template context for a conversation with tools: `context` holds `messages` and
    /// `tools` (OpenAI shapes). Templates that render tools get them as they are; Phi-4-mini's
    /// gets them as JSON text in the system message's `tools` field; for others the tools are
    /// described in the system message. Where the template does not render assistant
    /// `tool_calls`, they are written out as the text of the calls.
    public static func prepare(_ context: JSONObject, format: ToolCallFormat) throws(TinyLMError) -> JSONObject {
        guard let toolsJSON = context["tools"], !toolsJSON.isNull, toolsJSON.arrayValue?.isEmpty != true else { return context }
        let tools = try ToolDefinition.list(from: toolsJSON)
        var out = context
        out["tools"] = .array(tools.map { $0.json })
        if format.templateHandlesTools && !format.toolsInSystemMessage { return out }
        guard let messages = context["messages"]?.arrayValue else {
            throw .invalidArgument("a chat needs 'messages': an array of {role, content} objects")
        }
        var description = "You can call these tools (JSON Schema parameters):\n"
        for tool in tools {
            description += JSONSchemaGrammar.serialize(.object(JSONObject([("name", .string(tool.name)), ("description", .string(tool.description)),
                                                                          ("parameters", tool.parameters)])))
            description += "\n"
        }
        description += "To call a tool, reply with \(format.prefix){\"name\": <tool name>, \"\(format.argumentsKey)\": <arguments object>}\(format.suffix)"
        var rewritten: [JSONValue] = []
        for m in messages {
            guard var o = m.objectValue else { rewritten.append(m); continue }
            if o["role"]?.stringValue == "assistant", let calls = o["tool_calls"]?.arrayValue {
                var text = o["content"]?.stringValue ?? ""
                for call in calls {
                    let f = call["function"] ?? call
                    var arguments = f["arguments"] ?? .object(JSONObject())
                    if let s = arguments.stringValue, let parsed = try? JSONValue(parsing: s) { arguments = parsed }
                    let body = JSONValue.object(JSONObject([("name", f["name"] ?? .string("")), (format.argumentsKey, arguments)]))
                    if !text.isEmpty { text += "\n" }
                    let call = format.callsInList ? "[" + body.serialized(.python) + "]" : body.serialized(.python)
                    text += format.prefix + call + format.suffix
                }
                o["content"] = .string(text)
                o["tool_calls"] = nil
            }
            if o["content"] == nil || o["content"]!.isNull { o["content"] = .string("") }
            rewritten.append(.object(o))
        }
        if format.toolsInSystemMessage {
            // Phi-4-mini's documented form: the function objects as a JSON array.
            let list = JSONValue.array(tools.map { tool in
                .object(JSONObject([("name", .string(tool.name)), ("description", .string(tool.description)), ("parameters", tool.parameters)]))
            })
            if var system = rewritten.first?.objectValue, system["role"]?.stringValue == "system" {
                system["tools"] = .string(list.serialized(.python))
                rewritten[0] = .object(system)
            } else {
                rewritten.insert(["role": "system", "content": "You are a helpful assistant with some tools.",
                                  "tools": .string(list.serialized(.python))], at: 0)
            }
        } else if let first = rewritten.first?.objectValue, first["role"]?.stringValue == "system" {
            var system = first
            system["content"] = .string((first["content"]?.stringValue ?? "") + "\n\n" + description)
            rewritten[0] = .object(system)
        } else {
            rewritten.insert(["role": "system", "content": .string(description)], at: 0)
        }
        out["messages"] = .array(rewritten)
        return out
    }
}

extension ChatRequest {
    /// Like `render(for:)`, with the tools prepared for the template (see `ToolCalling`).
    public func renderWithTools(for model: Model) throws(TinyLMError) -> (text: String, tokens: [Int32], format: ToolCallFormat) {
        let format = ToolCallFormat(templateSource: templateSource ?? model.chatTemplateSource)
        var request = self
        request.context = try ToolCalling.prepare(context, format: format)
        request.toolCalling = false
        let prompt = try request.render(for: model)
        return (prompt.text, prompt.tokens, format)
    }
}
