// Public entry point: a sandboxed Jinja-subset renderer for Hugging Face chat templates that
// reproduces Python jinja2 (as configured by transformers) byte for byte.

/// Options for one render.
public struct TemplateRenderOptions: Sendable {
    /// Sandbox limits for the render.
    public var limits: TemplateLimits
    /// The local date and time `strftime_now(format)` reports. When nil, `strftime_now` is
    /// undefined (templates that test `strftime_now is defined` fall back; calling it fails).
    public var now: TemplateDateTime?

    public init(limits: TemplateLimits = TemplateLimits(), now: TemplateDateTime? = nil) {
        self.limits = limits
        self.now = now
    }
}

/// A parsed chat template. Parse once, render many times; rendering has no side effects and
/// performs no I/O.
///
///     let template = try ChatTemplate(source: text)
///     let prompt = try template.render(context: [
///         "messages": [["role": "user", "content": "Hi"]],
///         "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
///     ])
public struct ChatTemplate: @unchecked Sendable {  // immutable after parsing; constants are scalars
    let nodes: [TemplateNode]

    /// Parses `source` (jinja2 syntax with trim_blocks and lstrip_blocks enabled).
    public init(source: String, limits: TemplateLimits = TemplateLimits()) throws(TemplateError) {
        nodes = try TemplateParser.parse(source, limits: limits)
    }

    /// Renders with `context` (a JSON object whose members become template variables, e.g.
    /// messages, tools, add_generation_prompt, bos_token, eos_token).
    public func render(context: JSONValue, options: TemplateRenderOptions = TemplateRenderOptions()) throws(TemplateError) -> String {
        guard case let .object(object) = context else {
            throw TemplateError(.context, "the render context must be a JSON object")
        }
        let root = TemplateScope(parent: nil)
        let keys = object.keys
        let values = object.values
        for i in 0..<keys.count {
            root.variables[keys[i]] = try TemplateValue(json: values[i], maxDepth: options.limits.maxValueDepth)
        }
        let interpreter = TemplateInterpreter(limits: options.limits, now: options.now)
        return try interpreter.render(nodes, root: root)
    }
}
