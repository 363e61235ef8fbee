// Recursive-descent parser mirroring jinja2's grammar and operator precedence:
//   condexpr > or > and > not > compare (==, in, not in, ...) > + - > ~ > * / // % > ** >
//   unary (- +) > primary with postfix (.attr, [item], (call)) and filters/tests (| f, is t).

struct TemplateParser {
    var tokens: [TemplateToken]
    var index = 0
    var depth = 0
    let maxDepth: Int
    var loopDepth = 0

    init(tokens: [TemplateToken], maxDepth: Int) {
        self.tokens = tokens
        self.maxDepth = maxDepth
    }

    static func parse(_ source: String, limits: TemplateLimits) throws(TemplateError) -> [TemplateNode] {
        if source.utf8.count > limits.maxSourceBytes {
            throw TemplateError(.limit, "template source exceeds " + String(limits.maxSourceBytes) + " bytes")
        }
        var parser = TemplateParser(tokens: try TemplateLexer.tokenize(source), maxDepth: limits.maxNestingDepth)
        let body = try parser.subparse(endNames: [])
        if parser.current.kind != .eof { throw parser.fail("unexpected tag '" + parser.current.text + "'") }
        return body
    }

    // MARK: token helpers

    var current: TemplateToken { tokens[index] }

    func peek(_ offset: Int = 1) -> TemplateToken {
        let i = index + offset
        return i < tokens.count ? tokens[i] : tokens[tokens.count - 1]
    }

    mutating func advance() -> TemplateToken {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    func fail(_ message: String) -> TemplateError {
        TemplateError(.syntax, message, line: current.line)
    }

    func isName(_ name: String) -> Bool {
        current.kind == .name && current.text == name
    }

    func isOp(_ op: TemplateOperator) -> Bool { current.kind == .op(op) }

    mutating func skipName(_ name: String) -> Bool {
        if isName(name) { _ = advance(); return true }
        return false
    }

    mutating func skipOp(_ op: TemplateOperator) -> Bool {
        if isOp(op) { _ = advance(); return true }
        return false
    }

    mutating func expectOp(_ op: TemplateOperator, _ what: String) throws(TemplateError) {
        if !skipOp(op) { throw fail("expected '" + what + "', got " + describe(current)) }
    }

    mutating func expectName() throws(TemplateError) -> String {
        guard current.kind == .name else { throw fail("expected a name, got " + describe(current)) }
        return advance().text
    }

    mutating func expectBlockEnd() throws(TemplateError) {
        guard current.kind == .blockEnd else { throw fail("expected end of statement block, got " + describe(current)) }
        _ = advance()
    }

    func describe(_ t: TemplateToken) -> String {
        switch t.kind {
        case .name: return "'" + t.text + "'"
        case .string: return "string literal"
        case .integer, .float: return "number"
        case .eof: return "end of template"
        case .blockEnd: return "end of statement block"
        case .variableEnd: return "end of print statement"
        case .blockBegin: return "begin of statement block"
        case .variableBegin: return "begin of print statement"
        case .data: return "template data"
        case .op: return "operator"
        }
    }

    mutating func enter() throws(TemplateError) {
        depth += 1
        if depth > maxDepth {
            throw TemplateError(.limit, "template nesting exceeds the depth limit (" + String(maxDepth) + ")", line: current.line)
        }
    }

    mutating func leave(_ n: Int = 1) { depth -= n }

    // MARK: statements

    /// Parses nodes until a block tag whose name is in `endNames` (left unconsumed, after its
    /// `{%`) or the end of the template.
    mutating func subparse(endNames: [String]) throws(TemplateError) -> [TemplateNode] {
        try enter()
        defer { leave() }
        var body: [TemplateNode] = []
        while true {
            let token = current
            switch token.kind {
            case .eof:
                if !endNames.isEmpty {
                    throw fail("unexpected end of template, expected " + endNames.joinedQuoted())
                }
                return body
            case .data:
                _ = advance()
                body.append(TemplateNode(line: token.line, kind: .text(token.text)))
            case .variableBegin:
                _ = advance()
                let expr = try parseTuple(withCondExpr: true)
                guard current.kind == .variableEnd else { throw fail("expected end of print statement, got " + describe(current)) }
                _ = advance()
                body.append(TemplateNode(line: token.line, kind: .output(expr)))
            case .blockBegin:
                _ = advance()
                if current.kind == .name, endNames.contains(current.text) { return body }
                let node = try parseStatement()
                try expectBlockEnd()
                body.append(node)
            default:
                throw fail("unexpected " + describe(token))
            }
        }
    }

    /// After the opening tag's keywords: expects `%}`, parses the body up to one of `endNames`,
    /// and consumes the end name when `dropNeedle` is set.
    mutating func parseStatements(_ endNames: [String], dropNeedle: Bool = false) throws(TemplateError) -> [TemplateNode] {
        _ = skipOp(.colon)
        try expectBlockEnd()
        let body = try subparse(endNames: endNames)
        if dropNeedle { _ = advance() }
        return body
    }

    mutating func parseStatement() throws(TemplateError) -> TemplateNode {
        let token = current
        guard token.kind == .name else { throw fail("tag name expected") }
        let line = token.line
        switch token.text {
        case "if": return TemplateNode(line: line, kind: try parseIf())
        case "for": return TemplateNode(line: line, kind: try parseFor())
        case "set": return TemplateNode(line: line, kind: try parseSet())
        case "macro": return TemplateNode(line: line, kind: try parseMacro())
        case "call": return TemplateNode(line: line, kind: try parseCallBlock())
        case "filter": return TemplateNode(line: line, kind: try parseFilterBlock())
        case "with": return TemplateNode(line: line, kind: try parseWith())
        case "generation":
            _ = advance()
            return TemplateNode(line: line, kind: .scope(try parseStatements(["endgeneration"], dropNeedle: true)))
        case "break", "continue":
            _ = advance()
            if loopDepth == 0 { throw TemplateError(.syntax, "'" + token.text + "' outside of a loop", line: line) }
            return TemplateNode(line: line, kind: token.text == "break" ? .breakLoop : .continueLoop)
        case "include", "extends", "import", "from", "block":
            throw TemplateError(.syntax, "the '" + token.text + "' tag is not supported (templates cannot load other templates)", line: line)
        default:
            throw TemplateError(.syntax, "encountered unknown tag '" + token.text + "'", line: line)
        }
    }

    mutating func parseIf() throws(TemplateError) -> TemplateNodeKind {
        _ = advance()
        var conditions: [TemplateExpr] = [try parseTuple(withCondExpr: false)]
        var bodies: [[TemplateNode]] = [try parseStatements(["elif", "else", "endif"])]
        var elseBody: [TemplateNode] = []
        while true {
            let tag = advance()
            if tag.text == "elif" {
                conditions.append(try parseTuple(withCondExpr: false))
                bodies.append(try parseStatements(["elif", "else", "endif"]))
                continue
            }
            if tag.text == "else" {
                elseBody = try parseStatements(["endif"], dropNeedle: true)
            }
            break
        }
        return .ifBlock(conditions: conditions, bodies: bodies, elseBody: elseBody)
    }

    mutating func parseFor() throws(TemplateError) -> TemplateNodeKind {
        _ = advance()
        let target = try parseAssignTarget(extraEnd: "in", withNamespace: false)
        guard skipName("in") else { throw fail("expected 'in', got " + describe(current)) }
        let iterable = try parseTuple(withCondExpr: false, extraEnd: "recursive")
        var condition: TemplateExpr? = nil
        if skipName("if") { condition = try parseExpression(withCondExpr: true) }
        if isName("recursive") { throw fail("recursive for loops are not supported") }
        loopDepth += 1
        let body = try parseStatements(["endfor", "else"])
        loopDepth -= 1
        var elseBody: [TemplateNode] = []
        if advance().text == "else" {
            elseBody = try parseStatements(["endfor"], dropNeedle: true)
        }
        return .forLoop(TemplateForLoop(target: target, iterable: iterable, condition: condition, body: body, elseBody: elseBody))
    }

    mutating func parseSet() throws(TemplateError) -> TemplateNodeKind {
        _ = advance()
        let target = try parseAssignTarget(extraEnd: nil, withNamespace: true)
        if skipOp(.assign) {
            return .set(target, try parseTuple(withCondExpr: true))
        }
        var filters: [TemplateFilterCall] = []
        while skipOp(.pipe) { filters.append(try parseFilterCall()) }
        let body = try parseStatements(["endset"], dropNeedle: true)
        return .setBlock(target, body: body, filters: filters)
    }

    mutating func parseSignature() throws(TemplateError) -> ([String], [TemplateExpr?]) {
        try expectOp(.lparen, "(")
        var names: [String] = []
        var defaults: [TemplateExpr?] = []
        while !isOp(.rparen) {
            if !names.isEmpty { try expectOp(.comma, ",") }
            if isOp(.rparen) { break }
            let name = try expectName()
            names.append(name)
            if skipOp(.assign) {
                defaults.append(try parseExpression(withCondExpr: true))
            } else {
                if defaults.contains(where: { $0 != nil }) { throw fail("non-default argument follows default argument") }
                defaults.append(nil)
            }
        }
        try expectOp(.rparen, ")")
        return (names, defaults)
    }

    mutating func parseMacro() throws(TemplateError) -> TemplateNodeKind {
        _ = advance()
        let name = try expectName()
        let (params, defaults) = try parseSignature()
        let savedLoops = loopDepth
        loopDepth = 0
        let body = try parseStatements(["endmacro"], dropNeedle: true)
        loopDepth = savedLoops
        return .macro(TemplateMacroDefinition(name: name, parameters: params, defaults: defaults, body: body))
    }

    mutating func parseCallBlock() throws(TemplateError) -> TemplateNodeKind {
        _ = advance()
        var params: [String] = []
        var defaults: [TemplateExpr?] = []
        if isOp(.lparen) { (params, defaults) = try parseSignature() }
        let call = try parseExpression(withCondExpr: true)
        guard case .call = call else { throw fail("expected a macro call in call block") }
        let savedLoops = loopDepth
        loopDepth = 0
        let body = try parseStatements(["endcall"], dropNeedle: true)
        loopDepth = savedLoops
        return .callBlock(caller: TemplateMacroDefinition(name: "caller", parameters: params, defaults: defaults, body: body), call: call)
    }

    mutating func parseFilterBlock() throws(TemplateError) -> TemplateNodeKind {
        _ = advance()
        var filters: [TemplateFilterCall] = [try parseFilterCall()]
        while skipOp(.pipe) { filters.append(try parseFilterCall()) }
        let body = try parseStatements(["endfilter"], dropNeedle: true)
        return .filterBlock(body: body, filters: filters)
    }

    mutating func parseWith() throws(TemplateError) -> TemplateNodeKind {
        _ = advance()
        var targets: [TemplateTarget] = []
        var values: [TemplateExpr] = []
        while current.kind != .blockEnd {
            if !targets.isEmpty { try expectOp(.comma, ",") }
            targets.append(try parseAssignTarget(extraEnd: nil, withNamespace: false))
            try expectOp(.assign, "=")
            values.append(try parseExpression(withCondExpr: true))
        }
        let body = try parseStatements(["endwith"], dropNeedle: true)
        return .with(targets: targets, values: values, body: body)
    }

    mutating func parseAssignTarget(extraEnd: String?, withNamespace: Bool) throws(TemplateError) -> TemplateTarget {
        if withNamespace, current.kind == .name, peek().kind == .op(.dot) {
            let ns = advance().text
            _ = advance()
            let attr = try expectName()
            return .attribute(ns, attr)
        }
        var items: [TemplateTarget] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(.comma, ",") }
            if current.kind == .blockEnd || isOp(.rparen) || isOp(.assign) { break }
            if let extraEnd, isName(extraEnd) { break }
            items.append(try parseSimpleTarget())
            if isOp(.comma) { isTuple = true } else { break }
        }
        if items.isEmpty { throw fail("expected an assignment target") }
        return isTuple ? .tuple(items) : items[0]
    }

    mutating func parseSimpleTarget() throws(TemplateError) -> TemplateTarget {
        if skipOp(.lparen) {
            var items: [TemplateTarget] = []
            while !isOp(.rparen) {
                if !items.isEmpty { try expectOp(.comma, ",") }
                if isOp(.rparen) { break }
                items.append(try parseSimpleTarget())
            }
            try expectOp(.rparen, ")")
            return .tuple(items)
        }
        let name = try expectName()
        if ["true", "false", "none", "True", "False", "None"].contains(name) { throw fail("cannot assign to '" + name + "'") }
        return .name(name)
    }

    // MARK: expressions

    mutating func parseExpression(withCondExpr: Bool) throws(TemplateError) -> TemplateExpr {
        withCondExpr ? try parseCondExpr() : try parseOr()
    }

    func isTupleEnd(_ extraEnd: String?) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .op(.rparen): return true
        default:
            if let extraEnd { return isName(extraEnd) }
            return false
        }
    }

    mutating func parseTuple(withCondExpr: Bool, extraEnd: String? = nil, explicitParentheses: Bool = false) throws(TemplateError) -> TemplateExpr {
        var items: [TemplateExpr] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(.comma, ",") }
            if isTupleEnd(extraEnd) { break }
            items.append(try parseExpression(withCondExpr: withCondExpr))
            if isOp(.comma) { isTuple = true } else { break }
        }
        if !isTuple {
            if let first = items.first { return first }
            if !explicitParentheses { throw fail("expected an expression, got " + describe(current)) }
        }
        return .tuple(items)
    }

    mutating func parseCondExpr() throws(TemplateError) -> TemplateExpr {
        var expr = try parseOr()
        var wraps = 0
        while skipName("if") {
            let condition = try parseOr()
            var otherwise: TemplateExpr? = nil
            if skipName("else") { otherwise = try parseCondExpr() }
            expr = .conditional(condition: condition, then: expr, otherwise: otherwise)
            try enter()
            wraps += 1
        }
        leave(wraps)
        return expr
    }

    mutating func parseOr() throws(TemplateError) -> TemplateExpr {
        try enter()
        defer { leave() }
        var left = try parseAnd()
        var wraps = 0
        while skipName("or") {
            let right = try parseAnd()
            left = .or(left, right)
            try enter()
            wraps += 1
        }
        leave(wraps)
        return left
    }

    mutating func parseAnd() throws(TemplateError) -> TemplateExpr {
        var left = try parseNot()
        var wraps = 0
        while skipName("and") {
            let right = try parseNot()
            left = .and(left, right)
            try enter()
            wraps += 1
        }
        leave(wraps)
        return left
    }

    mutating func parseNot() throws(TemplateError) -> TemplateExpr {
        if skipName("not") {
            try enter()
            defer { leave() }
            return .not(try parseNot())
        }
        return try parseCompare()
    }

    mutating func parseCompare() throws(TemplateError) -> TemplateExpr {
        let first = try parseMath1()
        var ops: [TemplateCompareOperator] = []
        var operands: [TemplateExpr] = []
        while true {
            let op: TemplateCompareOperator
            switch current.kind {
            case .op(.eq): op = .eq
            case .op(.ne): op = .ne
            case .op(.lt): op = .lt
            case .op(.lteq): op = .lteq
            case .op(.gt): op = .gt
            case .op(.gteq): op = .gteq
            default:
                if isName("in") {
                    op = .isIn
                } else if isName("not"), peek().kind == .name, peek().text == "in" {
                    _ = advance()
                    op = .notIn
                } else {
                    if ops.isEmpty { return first }
                    return .compare(first, operators: ops, operands: operands)
                }
            }
            _ = advance()
            ops.append(op)
            operands.append(try parseMath1())
        }
    }

    mutating func parseMath1() throws(TemplateError) -> TemplateExpr {
        var left = try parseConcat()
        var wraps = 0
        while true {
            let op: TemplateBinaryOperator
            if isOp(.add) { op = .add } else if isOp(.sub) { op = .sub } else { break }
            _ = advance()
            let right = try parseConcat()
            left = .binary(op, left, right)
            try enter()
            wraps += 1
        }
        leave(wraps)
        return left
    }

    mutating func parseConcat() throws(TemplateError) -> TemplateExpr {
        let first = try parseMath2()
        if !isOp(.tilde) { return first }
        var items = [first]
        while skipOp(.tilde) { items.append(try parseMath2()) }
        return .concat(items)
    }

    mutating func parseMath2() throws(TemplateError) -> TemplateExpr {
        var left = try parsePow()
        var wraps = 0
        while true {
            let op: TemplateBinaryOperator
            switch current.kind {
            case .op(.mul): op = .mul
            case .op(.div): op = .div
            case .op(.floorDiv): op = .floorDiv
            case .op(.mod): op = .mod
            default:
                leave(wraps)
                return left
            }
            _ = advance()
            let right = try parsePow()
            left = .binary(op, left, right)
            try enter()
            wraps += 1
        }
    }

    mutating func parsePow() throws(TemplateError) -> TemplateExpr {
        var left = try parseUnary(withFilter: true)
        var wraps = 0
        while skipOp(.pow) {
            let right = try parseUnary(withFilter: true)
            left = .binary(.pow, left, right)
            try enter()
            wraps += 1
        }
        leave(wraps)
        return left
    }

    mutating func parseUnary(withFilter: Bool) throws(TemplateError) -> TemplateExpr {
        var node: TemplateExpr
        var wraps = 0
        if skipOp(.sub) {
            try enter()
            wraps += 1
            node = .negate(try parseUnary(withFilter: false))
        } else if skipOp(.add) {
            try enter()
            wraps += 1
            node = .positive(try parseUnary(withFilter: false))
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node, &wraps)
        if withFilter { node = try parseFilterExpr(node, &wraps) }
        leave(wraps)
        return node
    }

    mutating func parsePrimary() throws(TemplateError) -> TemplateExpr {
        let token = current
        switch token.kind {
        case .name:
            _ = advance()
            switch token.text {
            case "true", "True": return .constant(.bool(true))
            case "false", "False": return .constant(.bool(false))
            case "none", "None": return .constant(.none)
            default: return .name(token.text)
            }
        case .string:
            _ = advance()
            var text = token.text
            while current.kind == .string { text += advance().text }
            return .constant(.string(text))
        case .integer:
            _ = advance()
            return .constant(.int(token.intValue))
        case .float:
            _ = advance()
            return .constant(.float(token.floatValue))
        case .op(.lparen):
            _ = advance()
            try enter()
            defer { leave() }
            let inner = try parseTuple(withCondExpr: true, explicitParentheses: true)
            try expectOp(.rparen, ")")
            return inner
        case .op(.lbracket):
            _ = advance()
            try enter()
            defer { leave() }
            var items: [TemplateExpr] = []
            while !isOp(.rbracket) {
                if !items.isEmpty { try expectOp(.comma, ",") }
                if isOp(.rbracket) { break }
                items.append(try parseExpression(withCondExpr: true))
            }
            try expectOp(.rbracket, "]")
            return .list(items)
        case .op(.lbrace):
            _ = advance()
            try enter()
            defer { leave() }
            var keys: [TemplateExpr] = []
            var values: [TemplateExpr] = []
            while !isOp(.rbrace) {
                if !keys.isEmpty { try expectOp(.comma, ",") }
                if isOp(.rbrace) { break }
                keys.append(try parseExpression(withCondExpr: true))
                try expectOp(.colon, ":")
                values.append(try parseExpression(withCondExpr: true))
            }
            try expectOp(.rbrace, "}")
            return .dict(keys: keys, values: values)
        default:
            throw fail("unexpected " + describe(token))
        }
    }

    mutating func parsePostfix(_ start: TemplateExpr, _ wraps: inout Int) throws(TemplateError) -> TemplateExpr {
        var node = start
        while true {
            if skipOp(.dot) {
                let t = advance()
                if t.kind == .name {
                    node = .getAttr(node, t.text)
                } else if t.kind == .integer {
                    node = .getItem(node, .constant(.int(t.intValue)))
                } else {
                    throw fail("expected name or number after '.'")
                }
            } else if skipOp(.lbracket) {
                var args: [TemplateExpr] = []
                while !isOp(.rbracket) {
                    if !args.isEmpty { try expectOp(.comma, ",") }
                    args.append(try parseSubscribed(node))
                }
                try expectOp(.rbracket, "]")
                if args.count == 1 {
                    if case let .slice(_, start, stop, step) = args[0] {
                        node = .slice(node, start: start, stop: stop, step: step)
                    } else {
                        node = .getItem(node, args[0])
                    }
                } else {
                    node = .getItem(node, .tuple(args))
                }
            } else if isOp(.lparen) {
                node = .call(node, try parseCallArguments())
            } else {
                return node
            }
            try enter()
            wraps += 1
        }
    }

    /// One subscript: an expression or a slice `start:stop:step` (returned as `.slice` with a
    /// placeholder target that the caller replaces).
    mutating func parseSubscribed(_ target: TemplateExpr) throws(TemplateError) -> TemplateExpr {
        var start: TemplateExpr? = nil
        if isOp(.colon) {
            _ = advance()
        } else {
            let e = try parseExpression(withCondExpr: true)
            if !isOp(.colon) { return e }
            _ = advance()
            start = e
        }
        var stop: TemplateExpr? = nil
        if !isOp(.colon) && !isOp(.rbracket) && !isOp(.comma) { stop = try parseExpression(withCondExpr: true) }
        var step: TemplateExpr? = nil
        if skipOp(.colon) {
            if !isOp(.rbracket) && !isOp(.comma) { step = try parseExpression(withCondExpr: true) }
        }
        return .slice(.constant(.none), start: start, stop: stop, step: step)
    }

    mutating func parseCallArguments() throws(TemplateError) -> TemplateArguments {
        try expectOp(.lparen, "(")
        var args = TemplateArguments()
        var requireComma = false
        while !isOp(.rparen) {
            if requireComma {
                try expectOp(.comma, ",")
                if isOp(.rparen) { break }
            }
            if isOp(.mul) || isOp(.pow) { throw fail("*args and **kwargs in calls are not supported") }
            if current.kind == .name, peek().kind == .op(.assign) {
                let key = advance().text
                _ = advance()
                args.keywordNames.append(key)
                args.keywordValues.append(try parseExpression(withCondExpr: true))
            } else {
                if !args.keywordNames.isEmpty { throw fail("positional argument follows keyword argument") }
                args.positional.append(try parseExpression(withCondExpr: true))
            }
            requireComma = true
        }
        try expectOp(.rparen, ")")
        return args
    }

    mutating func parseFilterExpr(_ start: TemplateExpr, _ wraps: inout Int) throws(TemplateError) -> TemplateExpr {
        var node = start
        while true {
            if skipOp(.pipe) {
                node = .filter(node, try parseFilterCall())
            } else if isName("is") {
                node = try parseTest(node)
            } else if isOp(.lparen) {
                node = .call(node, try parseCallArguments())
            } else {
                return node
            }
            try enter()
            wraps += 1
        }
    }

    mutating func parseDottedName() throws(TemplateError) -> String {
        var name = try expectName()
        while skipOp(.dot) { name += "." + (try expectName()) }
        return name
    }

    mutating func parseFilterCall() throws(TemplateError) -> TemplateFilterCall {
        let name = try parseDottedName()
        var args = TemplateArguments()
        if isOp(.lparen) { args = try parseCallArguments() }
        return TemplateFilterCall(name: name, kind: TemplateFilterKind.lookup(name), arguments: args)
    }

    mutating func parseTest(_ node: TemplateExpr) throws(TemplateError) -> TemplateExpr {
        _ = advance()  // 'is'
        let negated = skipName("not")
        let name = try parseDottedName()
        var args = TemplateArguments()
        if isOp(.lparen) {
            args = try parseCallArguments()
        } else {
            var takesArgument = false
            switch current.kind {
            case .name: takesArgument = !(isName("else") || isName("or") || isName("and"))
            case .string, .integer, .float, .op(.lparen), .op(.lbracket), .op(.lbrace): takesArgument = true
            default: break
            }
            if takesArgument {
                if isName("is") { throw fail("you cannot chain multiple tests with is") }
                var wraps = 0
                let arg = try parsePostfix(try parsePrimary(), &wraps)
                leave(wraps)
                args.positional.append(arg)
            }
        }
        return .test(node, name: name, kind: TemplateTestKind.lookup(name), arguments: args, negated: negated)
    }
}

extension Array where Element == String {
    func joinedQuoted() -> String {
        var s = ""
        for (i, e) in enumerated() {
            if i > 0 { s += " or " }
            s += "'" + e + "'"
        }
        return s
    }
}
