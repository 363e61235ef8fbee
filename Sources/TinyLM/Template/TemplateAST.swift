// Syntax tree of a parsed template.

enum TemplateBinaryOperator {
    case add, sub, mul, div, floorDiv, mod, pow
}

enum TemplateCompareOperator {
    case eq, ne, lt, lteq, gt, gteq, isIn, notIn
}

/// Call arguments: positional expressions and keyword (name, expression) pairs.
struct TemplateArguments {
    var positional: [TemplateExpr] = []
    var keywordNames: [String] = []
    var keywordValues: [TemplateExpr] = []
}

/// A filter application `| name(args)`.
struct TemplateFilterCall {
    var name: String
    var kind: TemplateFilterKind?
    var arguments: TemplateArguments
}

indirect enum TemplateExpr {
    case constant(TemplateValue)
    case name(String)
    case list([TemplateExpr])
    case tuple([TemplateExpr])
    case dict(keys: [TemplateExpr], values: [TemplateExpr])
    case getAttr(TemplateExpr, String)
    case getItem(TemplateExpr, TemplateExpr)
    case slice(TemplateExpr, start: TemplateExpr?, stop: TemplateExpr?, step: TemplateExpr?)
    case call(TemplateExpr, TemplateArguments)
    case filter(TemplateExpr, TemplateFilterCall)
    case test(TemplateExpr, name: String, kind: TemplateTestKind?, arguments: TemplateArguments, negated: Bool)
    case not(TemplateExpr)
    case negate(TemplateExpr)
    case positive(TemplateExpr)
    case binary(TemplateBinaryOperator, TemplateExpr, TemplateExpr)
    case and(TemplateExpr, TemplateExpr)
    case or(TemplateExpr, TemplateExpr)
    case compare(TemplateExpr, operators: [TemplateCompareOperator], operands: [TemplateExpr])
    case concat([TemplateExpr])
    case conditional(condition: TemplateExpr, then: TemplateExpr, otherwise: TemplateExpr?)
}

/// Assignment targets of `set`, `for` and `with`.
enum TemplateTarget {
    case name(String)
    /// `namespace.attribute`
    case attribute(String, String)
    case tuple([TemplateTarget])
}

struct TemplateNode {
    var line: Int
    var kind: TemplateNodeKind
}

/// A `for` loop (a class to keep the node enum small).
final class TemplateForLoop {
    let target: TemplateTarget
    let iterable: TemplateExpr
    let condition: TemplateExpr?
    let body: [TemplateNode]
    let elseBody: [TemplateNode]

    init(target: TemplateTarget, iterable: TemplateExpr, condition: TemplateExpr?, body: [TemplateNode], elseBody: [TemplateNode]) {
        self.target = target
        self.iterable = iterable
        self.condition = condition
        self.body = body
        self.elseBody = elseBody
    }
}

/// A macro definition (also used for the implicit `caller` of a call block).
final class TemplateMacroDefinition {
    let name: String
    let parameters: [String]
    /// Default expressions aligned with `parameters` (nil = no default).
    let defaults: [TemplateExpr?]
    let body: [TemplateNode]

    init(name: String, parameters: [String], defaults: [TemplateExpr?], body: [TemplateNode]) {
        self.name = name
        self.parameters = parameters
        self.defaults = defaults
        self.body = body
    }
}

indirect enum TemplateNodeKind {
    case text(String)
    case output(TemplateExpr)
    case ifBlock(conditions: [TemplateExpr], bodies: [[TemplateNode]], elseBody: [TemplateNode])
    case forLoop(TemplateForLoop)
    case set(TemplateTarget, TemplateExpr)
    case setBlock(TemplateTarget, body: [TemplateNode], filters: [TemplateFilterCall])
    case macro(TemplateMacroDefinition)
    case callBlock(caller: TemplateMacroDefinition, call: TemplateExpr)
    case filterBlock(body: [TemplateNode], filters: [TemplateFilterCall])
    case with(targets: [TemplateTarget], values: [TemplateExpr], body: [TemplateNode])
    case breakLoop
    case continueLoop
    /// A body run in its own variable scope (`{% generation %}`).
    case scope([TemplateNode])
}
