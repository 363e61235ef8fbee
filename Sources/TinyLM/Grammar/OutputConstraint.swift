/// What a constrained generation must produce: a grammar (from GBNF text, a JSON Schema, or
/// "any JSON"), or a tool call whose exact shape depends on the model's chat template and is
/// settled when generation starts (`grammar(for:)`).
///
/// Set `GenerationOptions.constraint`; at each step only tokens that keep the output a valid
/// prefix can be sampled, end-of-generation only once the output is complete, and generation
/// ends by itself (`FinishReason.grammarComplete`) when nothing more can follow.
public struct OutputConstraint: Sendable {
    enum Source: Sendable {
        case grammar(Grammar)
        case toolCalls(ToolCallSpec)
    }

    let source: Source
    /// A vocabulary trie built earlier for the same model (building one takes tens of
    /// milliseconds on a 262k vocabulary); nil builds it when generation starts.
    public var vocabulary: VocabularyTrie?

    public init(grammar: Grammar) {
        source = .grammar(grammar)
    }

    init(toolCalls spec: ToolCallSpec) {
        source = .toolCalls(spec)
    }

    /// JSON matching `schema` (see `JSONSchemaGrammar` for the supported subset).
    public static func jsonSchema(_ schema: JSONValue) throws(TinyLMError) -> OutputConstraint {
        OutputConstraint(grammar: try JSONSchemaGrammar.grammar(for: schema))
    }

    /// JSON matching the schema in `text`.
    public static func jsonSchema(text: String) throws(TinyLMError) -> OutputConstraint {
        let schema: JSONValue
        do { schema = try JSONValue(parsing: text) } catch {
            throw TinyLMError(.grammar, "the JSON schema is not valid JSON: \(error.description)")
        }
        return try jsonSchema(schema)
    }

    /// Text matching a GBNF grammar (llama.cpp's format; the start rule is `root`).
    public static func gbnf(_ text: String) throws(TinyLMError) -> OutputConstraint {
        OutputConstraint(grammar: try GBNFParser.parse(text))
    }

    /// Any JSON object (`objectOnly`, like OpenAI's json_object mode) or any JSON value.
    public static func anyJSON(objectOnly: Bool = true) -> OutputConstraint {
        // The built-in JSON grammar always compiles.
        OutputConstraint(grammar: (try? JSONSchemaGrammar.anyJSON(objectOnly: objectOnly))!)
    }

    /// The grammar to enforce with `model` (tool calls take the model's call format).
    public func grammar(for model: Model) throws(TinyLMError) -> Grammar {
        switch source {
        case .grammar(let g): return g
        case .toolCalls(let spec): return try spec.grammar(format: spec.format ?? ToolCallFormat(model: model))
        }
    }

    /// Where the constraint begins when it is lazy (tool choice "auto": at the call's opening in
    /// the model's format); nil when it holds from the first token.
    public func trigger(for model: Model) -> ConstraintTrigger? {
        switch source {
        case .grammar: return nil
        case .toolCalls(let spec):
            guard spec.choice == .auto else { return nil }
            return ConstraintTrigger(toolCallFormat: spec.format ?? ToolCallFormat(model: model))
        }
    }

    /// A masker for generation with `model`.
    public func masker(for model: Model) throws(TinyLMError) -> TokenMasker {
        let grammar = try grammar(for: model)
        let trie = vocabulary ?? VocabularyTrie(tokenizer: model.tokenizer)
        guard trie.vocabularySize == model.config.vocabularySize else {
            throw .invalidArgument("the constraint's vocabulary has \(trie.vocabularySize) tokens but the model has \(model.config.vocabularySize)")
        }
        return TokenMasker(grammar: grammar, trie: trie)
    }
}
