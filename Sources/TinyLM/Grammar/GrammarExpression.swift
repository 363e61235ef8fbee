/// The grammar-building language: what the GBNF parser, the JSON-schema compiler and the
/// tool-call builder produce, and what `Grammar` compiles into its flat, byte-level form.
public indirect enum GrammarExpression: Sendable {
    /// One byte from the set.
    case bytes(ByteSet)
    /// Exactly these bytes.
    case literal([UInt8])
    /// One Unicode character (UTF-8 encoded) from the scalar ranges, or — negated — not in
    /// them.
    case characters([ClosedRange<UInt32>], negated: Bool)
    /// The rule with this name.
    case reference(String)
    /// Each in order (empty: matches nothing, the empty string).
    case sequence([GrammarExpression])
    /// Any one of them.
    case choice([GrammarExpression])
    /// `min` to `max` repetitions (`max` nil: unbounded).
    case repetition(GrammarExpression, min: Int, max: Int?)

    /// The UTF-8 bytes of `text`.
    public static func string(_ text: String) -> GrammarExpression { .literal(Array(text.utf8)) }

    /// The empty string.
    public static var empty: GrammarExpression { .sequence([]) }

    public static func optional(_ e: GrammarExpression) -> GrammarExpression { .repetition(e, min: 0, max: 1) }

    public static func zeroOrMore(_ e: GrammarExpression) -> GrammarExpression { .repetition(e, min: 0, max: nil) }

    public static func oneOrMore(_ e: GrammarExpression) -> GrammarExpression { .repetition(e, min: 1, max: nil) }

    /// Any one Unicode character.
    public static var anyCharacter: GrammarExpression { .characters([], negated: true) }
}

/// A named rule of a grammar under construction.
public struct GrammarRule: Sendable {
    public var name: String
    public var expression: GrammarExpression

    public init(_ name: String, _ expression: GrammarExpression) {
        self.name = name
        self.expression = expression
    }
}
