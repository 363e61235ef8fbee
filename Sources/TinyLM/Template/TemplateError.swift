// The single error type of the template engine (typed throws everywhere).

/// An error from parsing or rendering a chat template.
public struct TemplateError: Error, Equatable {
    public enum Kind: Equatable, Sendable {
        /// The template source is malformed (or uses an unsupported tag).
        case syntax
        /// An undefined value was used in a way that requires a value (attribute access, call, arithmetic).
        case undefined
        /// An operation was applied to values of the wrong type (or invalid values).
        case type
        /// The template called `raise_exception(message)`.
        case raised
        /// A sandbox limit was exceeded (steps, loop iterations, recursion, output or value size).
        case limit
        /// The sandbox refused an operation (e.g. a mutating list/dict method).
        case security
        /// The render context is invalid (e.g. not a JSON object).
        case context
    }

    public var kind: Kind
    public var message: String
    /// 1-based template line where the error was detected (0 when unknown).
    public var line: Int

    public init(_ kind: Kind, _ message: String, line: Int = 0) {
        self.kind = kind
        self.message = message
        self.line = line
    }

    /// "line N: message" (or just the message when the line is unknown).
    public var description: String {
        line > 0 ? "line " + String(line) + ": " + message : message
    }
}

extension TemplateError: CustomStringConvertible {}
