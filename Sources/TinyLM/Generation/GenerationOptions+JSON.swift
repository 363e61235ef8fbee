extension GenerationOptions {
    /// Reads options from a JSON object as the wasm ABI and the web API pass them:
    /// `{temperature, topK, topP, minP, repeatPenalty, repeatWindow, seed, maxTokens, stop,
    /// ignoreEOS}`, and at most one output constraint: `jsonSchema` (a JSON Schema object or
    /// boolean), `grammar` (GBNF text), `json: true` (any JSON object), or `tools` (OpenAI tool
    /// list, with optional `toolChoice` — "auto" (the default: text or a call), "required",
    /// "none" or {type: "function", function: {name}} — and `toolCallFormat` {prefix, suffix,
    /// argumentsKey}).
    /// Missing keys keep their defaults; a key of the wrong type is an error, so a
    /// typo in the page's code is reported rather than silently ignored.
    public init(json bytes: [UInt8]) throws(TinyLMError) {
        self.init()
        if bytes.isEmpty { return }
        let value: JSONValue
        do { value = try JSONValue(parsing: bytes) } catch {
            throw .invalidArgument("generation options are not valid JSON: \(error.description)")
        }
        guard let object = value.objectValue else { throw .invalidArgument("generation options must be a JSON object") }
        var constraintKeys: [String] = []
        var tools: [ToolDefinition]? = nil
        var toolChoice = ToolChoice.auto  // OpenAI's default when tools are given
        var toolFormat: ToolCallFormat? = nil
        for (key, v) in object.entries {
            func number() throws(TinyLMError) -> Double {
                guard let d = v.doubleValue, d.isFinite else { throw .invalidArgument("option '\(key)' must be a number") }
                return d
            }
            func integer() throws(TinyLMError) -> Int {
                // 32 bits on every platform: wasm32's Int cannot hold more, and a page must get
                // the same answer from both builds.
                guard let i = v.intValue, i >= Int(Int32.min), i <= Int(Int32.max) else {
                    throw .invalidArgument("option '\(key)' must be a whole number between -2^31 and 2^31 - 1")
                }
                return i
            }
            switch key {
            case "temperature": sampling.temperature = Float(try number())
            case "topK": sampling.topK = try integer()
            case "topP": sampling.topP = Float(try number())
            case "minP": sampling.minP = Float(try number())
            case "repeatPenalty": sampling.repeatPenalty = Float(try number())
            case "repeatWindow": sampling.repeatWindow = try integer()
            case "seed":
                // Seeds go up to 2^53 (what a JS number holds exactly); Int is 32-bit in wasm32.
                guard let d = v.doubleValue, d >= 0, d < 9_007_199_254_740_992, d == d.rounded(.towardZero) else {
                    throw .invalidArgument("option 'seed' must be a whole number from 0 to 2^53")
                }
                sampling.seed = UInt64(d)
            case "maxTokens": maxTokens = try integer()
            case "stop":
                guard let list = v.arrayValue else { throw .invalidArgument("option 'stop' must be an array of strings") }
                var stops: [String] = []
                for item in list {
                    guard let s = item.stringValue else { throw .invalidArgument("option 'stop' must be an array of strings") }
                    stops.append(s)
                }
                stopStrings = stops
            case "ignoreEOS":
                guard let b = v.boolValue else { throw .invalidArgument("option 'ignoreEOS' must be true or false") }
                stopAtEndOfGeneration = !b
            case "jsonSchema":
                constraintKeys.append(key)
                constraint = try OutputConstraint.jsonSchema(v)
            case "grammar":
                guard let text = v.stringValue else { throw .invalidArgument("option 'grammar' must be a string of GBNF rules") }
                constraintKeys.append(key)
                constraint = try OutputConstraint.gbnf(text)
            case "json":
                guard let b = v.boolValue else { throw .invalidArgument("option 'json' must be true or false") }
                if b {
                    constraintKeys.append(key)
                    constraint = OutputConstraint.anyJSON(objectOnly: true)
                }
            case "tools":
                if v.isNull || v.arrayValue?.isEmpty == true { continue }  // no tools: no constraint
                constraintKeys.append(key)
                tools = try ToolDefinition.list(from: v)
            case "toolChoice":
                if v.isNull { continue }
                toolChoice = try ToolChoice(json: v)
            case "toolCallFormat":
                if v.isNull { continue }
                toolFormat = try ToolCallFormat(json: v)
            default:
                throw .invalidArgument("unknown generation option '\(key)'")
            }
        }
        if constraintKeys.count > 1 {
            throw .invalidArgument("options '\(constraintKeys[0])' and '\(constraintKeys[1])' cannot be combined: give one output constraint")
        }
        if let tools { constraint = try OutputConstraint.toolCalls(tools, choice: toolChoice, format: toolFormat) }
        try sampling.validate()
        guard maxTokens >= 0 else { throw .invalidArgument("option 'maxTokens' must be 0 or more") }
    }
}
