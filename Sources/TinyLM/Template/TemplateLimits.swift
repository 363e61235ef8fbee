// Sandbox bounds. Templates are untrusted downloads: every resource they can consume is capped,
// and exceeding a cap is a TemplateError(.limit), never a hang or a trap.

/// Resource limits for parsing and rendering a template.
public struct TemplateLimits: Sendable {
    /// Maximum template source size in bytes.
    public var maxSourceBytes: Int = 1 << 20
    /// Maximum nesting depth of blocks and expressions in the parser.
    public var maxNestingDepth: Int = 64
    /// Maximum interpreter steps per render (statements + expression nodes + charged work).
    public var maxSteps: Int = 5_000_000
    /// Maximum total loop iterations per render.
    public var maxLoopIterations: Int = 1_000_000
    /// Maximum macro call depth.
    public var maxCallDepth: Int = 32
    /// Maximum output size in bytes (also applies to captured macro/block output).
    public var maxOutputBytes: Int = 8 << 20
    /// Maximum size in bytes of any single string value produced by the template.
    public var maxStringBytes: Int = 4 << 20
    /// Maximum number of elements of any list/dict/range produced by the template.
    public var maxCollectionCount: Int = 1 << 20
    /// Maximum length of `range(...)` (jinja2's sandbox allows 100000).
    public var maxRangeLength: Int = 100_000
    /// Maximum nesting depth of values (printing, JSON conversion, comparison).
    public var maxValueDepth: Int = 128

    public init() {}
}

/// Mutable per-render accounting against `TemplateLimits`.
struct TemplateBudget {
    let limits: TemplateLimits
    var steps = 0
    var loopIterations = 0
    var callDepth = 0

    init(limits: TemplateLimits) { self.limits = limits }

    @inline(__always)
    mutating func step(_ line: Int) throws(TemplateError) {
        steps &+= 1
        if steps > limits.maxSteps { throw TemplateError(.limit, "template exceeded the step limit (" + String(limits.maxSteps) + ")", line: line) }
    }

    /// Charges work proportional to a produced size (bytes or elements).
    @inline(__always)
    mutating func charge(_ units: Int, line: Int) throws(TemplateError) {
        steps &+= units >> 4
        if steps > limits.maxSteps { throw TemplateError(.limit, "template exceeded the step limit (" + String(limits.maxSteps) + ")", line: line) }
    }

    mutating func loopIteration(_ line: Int) throws(TemplateError) {
        loopIterations &+= 1
        if loopIterations > limits.maxLoopIterations {
            throw TemplateError(.limit, "template exceeded the loop iteration limit (" + String(limits.maxLoopIterations) + ")", line: line)
        }
    }

    func checkString(_ byteCount: Int, line: Int) throws(TemplateError) {
        if byteCount > limits.maxStringBytes {
            throw TemplateError(.limit, "string value exceeds the size limit (" + String(limits.maxStringBytes) + " bytes)", line: line)
        }
    }

    func checkCount(_ count: Int, line: Int) throws(TemplateError) {
        if count > limits.maxCollectionCount {
            throw TemplateError(.limit, "collection exceeds the size limit (" + String(limits.maxCollectionCount) + " elements)", line: line)
        }
    }
}
