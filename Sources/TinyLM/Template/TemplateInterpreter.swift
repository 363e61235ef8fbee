// Tree-walking interpreter for parsed templates. Scoping follows jinja2: each for-loop
// iteration, macro call and captured block runs in its own child scope; `if` does not create one.

/// Evaluated call arguments.
struct TemplateCallArguments {
    var positional: [TemplateValue] = []
    var names: [String] = []
    var values: [TemplateValue] = []

    func keyword(_ name: String) -> TemplateValue? {
        for i in 0..<names.count where names[i] == name { return values[i] }
        return nil
    }

    /// Argument by position, or by keyword name.
    func argument(_ position: Int, _ name: String) -> TemplateValue? {
        if position < positional.count { return positional[position] }
        return keyword(name)
    }

    var isEmpty: Bool { positional.isEmpty && names.isEmpty }
}

enum TemplateFlow {
    case normal, breakLoop, continueLoop
}

final class TemplateInterpreter {
    var budget: TemplateBudget
    let limits: TemplateLimits
    let now: TemplateDateTime?
    var out = ""
    var line = 0

    init(limits: TemplateLimits, now: TemplateDateTime?) {
        self.limits = limits
        self.budget = TemplateBudget(limits: limits)
        self.now = now
    }

    func fail(_ kind: TemplateError.Kind, _ message: String) -> TemplateError {
        TemplateError(kind, message, line: line)
    }

    /// The error raised when an undefined value is used.
    func undefinedError(_ hint: String) -> TemplateError {
        if hint.utf8.contains(0x20) {
            let unsafe = utf8HasPrefix(hint, "access to attribute")
            return fail(unsafe ? .security : .undefined, hint)
        }
        return fail(.undefined, "'" + hint + "' is undefined")
    }

    func render(_ nodes: [TemplateNode], root: TemplateScope) throws(TemplateError) -> String {
        out.reserveCapacity(4096)
        _ = try execute(nodes, root)
        return out
    }

    // MARK: output

    @inline(__always)
    func emit(_ s: String) throws(TemplateError) {
        out += s
        let size = out.utf8.count
        if size > limits.maxOutputBytes {
            throw fail(.limit, "output exceeds the size limit (" + String(limits.maxOutputBytes) + " bytes)")
        }
        try budget.charge(s.utf8.count, line: line)
    }

    func str(_ v: TemplateValue) throws(TemplateError) -> String {
        if case let .string(s) = v { return s }
        return try v.pyStr(maxDepth: limits.maxValueDepth)
    }

    /// Runs `nodes` with output redirected into a new buffer and returns what they printed.
    func capture(_ nodes: [TemplateNode], _ scope: TemplateScope) throws(TemplateError) -> String {
        let saved = out
        out = ""
        _ = try execute(nodes, scope)
        let result = out
        out = saved
        return result
    }

    func checkedString(_ s: String) throws(TemplateError) -> TemplateValue {
        try budget.checkString(s.utf8.count, line: line)
        try budget.charge(s.utf8.count, line: line)
        return .string(s)
    }

    // MARK: statements

    func execute(_ nodes: [TemplateNode], _ scope: TemplateScope) throws(TemplateError) -> TemplateFlow {
        for node in nodes {
            line = node.line
            try budget.step(line)
            switch node.kind {
            case let .text(s):
                try emit(s)
            case let .output(expr):
                let value = try evaluate(expr, scope)
                try emit(try str(value))
            case let .ifBlock(conditions, bodies, elseBody):
                var taken = false
                for i in 0..<conditions.count {
                    if try evaluate(conditions[i], scope).isTruthy {
                        taken = true
                        let flow = try execute(bodies[i], scope)
                        if flow != .normal { return flow }
                        break
                    }
                }
                if !taken {
                    let flow = try execute(elseBody, scope)
                    if flow != .normal { return flow }
                }
            case let .forLoop(loop):
                let flow = try executeFor(loop, scope)
                if flow != .normal { return flow }
            case let .set(target, expr):
                let value = try evaluate(expr, scope)
                try assign(target, value, scope)
            case let .setBlock(target, body, filters):
                var value = TemplateValue.string(try capture(body, TemplateScope(parent: scope)))
                for f in filters { value = try applyFilter(f, to: value, scope) }
                try assign(target, value, scope)
            case let .macro(definition):
                scope.variables[definition.name] = .callable(.macro(TemplateMacro(definition: definition, closure: scope)))
            case let .callBlock(callerDefinition, call):
                guard case let .call(callee, arguments) = call else { throw fail(.syntax, "expected a call") }
                let caller = TemplateMacro(definition: callerDefinition, closure: scope)
                let value = try evaluateCall(callee, arguments, scope, caller: caller)
                try emit(try str(value))
            case let .filterBlock(body, filters):
                var value = TemplateValue.string(try capture(body, TemplateScope(parent: scope)))
                for f in filters { value = try applyFilter(f, to: value, scope) }
                try emit(try str(value))
            case let .with(targets, values, body):
                let child = TemplateScope(parent: scope)
                for i in 0..<targets.count {
                    try assign(targets[i], try evaluate(values[i], scope), child)
                }
                let flow = try execute(body, child)
                if flow != .normal { return flow }
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            case let .scope(body):
                let flow = try execute(body, TemplateScope(parent: scope))
                if flow != .normal { return flow }
            }
        }
        return .normal
    }

    func executeFor(_ loop: TemplateForLoop, _ scope: TemplateScope) throws(TemplateError) -> TemplateFlow {
        let iterable = try evaluate(loop.iterable, scope)
        var items = try iterate(iterable)
        let loopLine = line
        if let condition = loop.condition {
            var kept: [TemplateValue] = []
            for item in items {
                try budget.loopIteration(loopLine)
                let s = TemplateScope(parent: scope)
                try assign(loop.target, item, s, checked: false)
                if try evaluate(condition, s).isTruthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            return try execute(loop.elseBody, TemplateScope(parent: scope))
        }
        let context = TemplateLoopContext(items: items)
        for i in 0..<items.count {
            try budget.loopIteration(loopLine)
            context.index0 = i
            let s = TemplateScope(parent: scope)
            s.variables["loop"] = .loop(context)
            try assign(loop.target, items[i], s, checked: false)
            if try execute(loop.body, s) == .breakLoop { break }
        }
        return .normal
    }

    /// Whether `value` nests containers deeper than `limit` (cycles count as too deep).
    /// `visited` accumulates the number of elements inspected.
    func exceedsNesting(_ value: TemplateValue, depth: Int, limit: Int, visited: inout Int) -> Bool {
        switch value {
        case let .list(items), let .tuple(items):
            if depth >= limit { return true }
            visited += items.count
            for item in items where exceedsNesting(item, depth: depth + 1, limit: limit, visited: &visited) { return true }
            return false
        case let .dict(d):
            if depth >= limit { return true }
            visited += d.count
            for v in d.values where exceedsNesting(v, depth: depth + 1, limit: limit, visited: &visited) { return true }
            for k in d.keys where exceedsNesting(k, depth: depth + 1, limit: limit, visited: &visited) { return true }
            return false
        case let .namespace(ns):
            if depth >= limit { return true }
            visited += ns.attributes.count
            for v in ns.attributes.values where exceedsNesting(v, depth: depth + 1, limit: limit, visited: &visited) { return true }
            return false
        default:
            return false
        }
    }

    /// Values stored in variables can grow across loop iterations (`set x = [x]`); bounding
    /// their nesting keeps printing, comparison and deallocation recursion bounded.
    func checkStoredValue(_ value: TemplateValue) throws(TemplateError) {
        switch value {
        case .list, .tuple, .dict, .namespace:
            var visited = 0
            if exceedsNesting(value, depth: 0, limit: limits.maxValueDepth, visited: &visited) {
                throw fail(.limit, "value nesting exceeds the depth limit (" + String(limits.maxValueDepth) + ")")
            }
            try budget.charge(visited, line: line)
        default:
            return
        }
    }

    /// `checked: false` is for loop targets, which are elements of an already-bounded value.
    func assign(_ target: TemplateTarget, _ value: TemplateValue, _ scope: TemplateScope, checked: Bool = true) throws(TemplateError) {
        switch target {
        case let .name(name):
            if checked { try checkStoredValue(value) }
            scope.variables[name] = value
        case let .attribute(name, attribute):
            if checked { try checkStoredValue(value) }
            guard let object = scope.lookup(name) else { throw fail(.undefined, "'" + name + "' is undefined") }
            guard case let .namespace(ns) = object else {
                throw fail(.type, "cannot assign attribute on non-namespace object")
            }
            ns.attributes.set(.string(attribute), value)
        case let .tuple(targets):
            let items = try iterate(value)
            if items.count != targets.count {
                throw fail(.type, (items.count > targets.count ? "too many" : "not enough") + " values to unpack (expected "
                    + String(targets.count) + ", got " + String(items.count) + ")")
            }
            for i in 0..<targets.count { try assign(targets[i], items[i], scope, checked: checked) }
        }
    }

    // MARK: expressions

    func lookup(_ name: String, _ scope: TemplateScope) -> TemplateValue {
        if let v = scope.lookup(name) { return v }
        switch name {
        case "range": return .callable(.builtin(.range))
        case "namespace": return .callable(.builtin(.namespace))
        case "dict": return .callable(.builtin(.dict))
        case "raise_exception": return .callable(.builtin(.raiseException))
        case "strftime_now": return now == nil ? .undefined(name) : .callable(.builtin(.strftimeNow))
        default: return .undefined(name)
        }
    }

    func evaluate(_ expr: TemplateExpr, _ scope: TemplateScope) throws(TemplateError) -> TemplateValue {
        try budget.step(line)
        switch expr {
        case let .constant(v):
            return v
        case let .name(name):
            return lookup(name, scope)
        case let .list(items):
            var values: [TemplateValue] = []
            values.reserveCapacity(items.count)
            for item in items { values.append(try evaluate(item, scope)) }
            return .list(values)
        case let .tuple(items):
            var values: [TemplateValue] = []
            values.reserveCapacity(items.count)
            for item in items { values.append(try evaluate(item, scope)) }
            return .tuple(values)
        case let .dict(keys, values):
            var dict = TemplateDict()
            for i in 0..<keys.count {
                let key = try evaluate(keys[i], scope)
                try checkHashable(key)
                dict.set(key, try evaluate(values[i], scope))
            }
            return .dict(dict)
        case let .getAttr(objectExpr, name):
            return try getAttribute(try evaluate(objectExpr, scope), name)
        case let .getItem(objectExpr, keyExpr):
            let object = try evaluate(objectExpr, scope)
            return try getItem(object, try evaluate(keyExpr, scope))
        case let .slice(objectExpr, startExpr, stopExpr, stepExpr):
            let object = try evaluate(objectExpr, scope)
            var start: TemplateValue? = nil
            var stop: TemplateValue? = nil
            var step: TemplateValue? = nil
            if let e = startExpr { start = try evaluate(e, scope) }
            if let e = stopExpr { stop = try evaluate(e, scope) }
            if let e = stepExpr { step = try evaluate(e, scope) }
            return try slice(object, start, stop, step)
        case let .call(callee, arguments):
            return try evaluateCall(callee, arguments, scope, caller: nil)
        case let .filter(valueExpr, call):
            return try applyFilter(call, to: try evaluate(valueExpr, scope), scope)
        case let .test(valueExpr, name, kind, arguments, negated):
            let value = try evaluate(valueExpr, scope)
            let args = try evaluateArguments(arguments, scope)
            let result = try applyTest(name, kind, value, args)
            return .bool(negated ? !result : result)
        case let .not(inner):
            return .bool(!(try evaluate(inner, scope).isTruthy))
        case let .negate(inner):
            return try negate(try evaluate(inner, scope))
        case let .positive(inner):
            let v = try evaluate(inner, scope)
            switch v {
            case .int, .float: return v
            case let .bool(b): return .int(b ? 1 : 0)
            case let .undefined(hint): throw undefinedError(hint)
            default: throw fail(.type, "bad operand type for unary +: '" + v.typeName + "'")
            }
        case let .binary(op, leftExpr, rightExpr):
            let left = try evaluate(leftExpr, scope)
            let right = try evaluate(rightExpr, scope)
            return try binary(op, left, right)
        case let .and(leftExpr, rightExpr):
            let left = try evaluate(leftExpr, scope)
            if !left.isTruthy { return left }
            return try evaluate(rightExpr, scope)
        case let .or(leftExpr, rightExpr):
            let left = try evaluate(leftExpr, scope)
            if left.isTruthy { return left }
            return try evaluate(rightExpr, scope)
        case let .compare(firstExpr, operators, operands):
            var left = try evaluate(firstExpr, scope)
            for i in 0..<operators.count {
                let right = try evaluate(operands[i], scope)
                if !(try compare(operators[i], left, right)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case let .concat(items):
            var s = ""
            for item in items {
                s += try str(try evaluate(item, scope))
                try budget.checkString(s.utf8.count, line: line)
            }
            return try checkedString(s)
        case let .conditional(condition, thenExpr, otherwise):
            if try evaluate(condition, scope).isTruthy { return try evaluate(thenExpr, scope) }
            if let otherwise { return try evaluate(otherwise, scope) }
            return .undefined("the inline if-expression evaluated to false and no else section was defined")
        }
    }

    func checkHashable(_ key: TemplateValue) throws(TemplateError) {
        switch key {
        case .list, .dict, .namespace, .loop: throw fail(.type, "unhashable type: '" + key.typeName + "'")
        default: return
        }
    }

    func evaluateArguments(_ arguments: TemplateArguments, _ scope: TemplateScope) throws(TemplateError) -> TemplateCallArguments {
        var result = TemplateCallArguments()
        if arguments.positional.isEmpty && arguments.keywordNames.isEmpty { return result }
        result.positional.reserveCapacity(arguments.positional.count)
        for e in arguments.positional { result.positional.append(try evaluate(e, scope)) }
        result.names = arguments.keywordNames
        for e in arguments.keywordValues { result.values.append(try evaluate(e, scope)) }
        return result
    }

    func evaluateCall(_ callee: TemplateExpr, _ arguments: TemplateArguments, _ scope: TemplateScope,
                      caller: TemplateMacro?) throws(TemplateError) -> TemplateValue {
        if case let .getAttr(objectExpr, name) = callee {
            let object = try evaluate(objectExpr, scope)
            if case let .undefined(hint) = object { throw undefinedError(hint) }
            let args = try evaluateArguments(arguments, scope)
            if let result = try callMethod(object, name, args) { return result }
            return try callValue(try getAttribute(object, name), args, caller: caller)
        }
        let function = try evaluate(callee, scope)
        let args = try evaluateArguments(arguments, scope)
        return try callValue(function, args, caller: caller)
    }

    func callValue(_ function: TemplateValue, _ args: TemplateCallArguments, caller: TemplateMacro?) throws(TemplateError) -> TemplateValue {
        switch function {
        case let .callable(callable):
            switch callable {
            case let .macro(macro): return try callMacro(macro, args, caller: caller)
            case let .builtin(builtin): return try callBuiltin(builtin, args)
            case let .method(method):
                if let result = try callMethod(method.receiver, method.name, args) { return result }
                throw fail(.type, "'" + method.name + "' is not callable")
            }
        case let .undefined(hint):
            throw undefinedError(hint)
        default:
            throw fail(.type, "'" + function.typeName + "' object is not callable")
        }
    }

    func callMacro(_ macro: TemplateMacro, _ args: TemplateCallArguments, caller: TemplateMacro?) throws(TemplateError) -> TemplateValue {
        let definition = macro.definition
        budget.callDepth += 1
        defer { budget.callDepth -= 1 }
        if budget.callDepth > limits.maxCallDepth {
            throw fail(.limit, "macro recursion exceeds the depth limit (" + String(limits.maxCallDepth) + ")")
        }
        let scope = TemplateScope(parent: macro.closure)
        let params = definition.parameters
        var extraPositional: [TemplateValue] = []
        if args.positional.count > params.count {
            extraPositional = Array(args.positional[params.count...])
        }
        var extraKeywords = TemplateDict()
        for i in 0..<args.names.count {
            let name = args.names[i]
            if let p = params.firstIndex(of: name) {
                if p < args.positional.count {
                    throw fail(.type, "macro '" + definition.name + "' got multiple values for argument '" + name + "'")
                }
            } else {
                extraKeywords.set(.string(name), args.values[i])
            }
        }
        for i in 0..<params.count {
            let name = params[i]
            if i < args.positional.count {
                scope.variables[name] = args.positional[i]
            } else if let v = args.keyword(name) {
                scope.variables[name] = v
            } else if let d = definition.defaults[i] {
                scope.variables[name] = try evaluate(d, scope)
            } else {
                scope.variables[name] = .undefined(name)
            }
        }
        scope.variables["varargs"] = .tuple(extraPositional)
        scope.variables["kwargs"] = .dict(extraKeywords)
        if let caller { scope.variables["caller"] = .callable(.macro(caller)) }
        let savedLine = line
        let text = try capture(definition.body, scope)
        line = savedLine
        return .string(text)
    }

    func callBuiltin(_ builtin: TemplateBuiltin, _ args: TemplateCallArguments) throws(TemplateError) -> TemplateValue {
        switch builtin {
        case .range:
            if !args.names.isEmpty { throw fail(.type, "range() takes no keyword arguments") }
            var bounds: [Int] = []
            for a in args.positional {
                guard let i = a.integerValue else {
                    if case let .undefined(hint) = a { throw undefinedError(hint) }
                    throw fail(.type, "'" + a.typeName + "' object cannot be interpreted as an integer")
                }
                bounds.append(i)
            }
            var start = 0, stop = 0, step = 1
            switch bounds.count {
            case 1: stop = bounds[0]
            case 2: start = bounds[0]; stop = bounds[1]
            case 3: start = bounds[0]; stop = bounds[1]; step = bounds[2]
            default: throw fail(.type, "range expected 1 to 3 arguments, got " + String(bounds.count))
            }
            if step == 0 { throw fail(.type, "range() arg 3 must not be zero") }
            // Length computed in Double to avoid overflow; checked before allocating.
            let span = step > 0 ? Double(stop) - Double(start) : Double(start) - Double(stop)
            let magnitude = step > 0 ? Double(step) : -Double(step)
            let approximateLength = span <= 0 ? 0 : ((span + magnitude - 1) / magnitude).rounded(.down)
            if approximateLength > Double(limits.maxRangeLength) {
                throw fail(.limit, "range too big (the sandbox allows " + String(limits.maxRangeLength) + " items)")
            }
            let length = Int(approximateLength)
            var items: [TemplateValue] = []
            items.reserveCapacity(length)
            var v = start
            for _ in 0..<length {
                items.append(.int(v))
                v = v &+ step
            }
            try budget.charge(length, line: line)
            return .list(items)
        case .namespace:
            let ns = TemplateNamespace()
            for a in args.positional {
                guard case let .dict(d) = a else { throw fail(.type, "namespace() positional argument must be a mapping") }
                for i in 0..<d.count { ns.attributes.set(d.keys[i], d.values[i]) }
            }
            for i in 0..<args.names.count { ns.attributes.set(.string(args.names[i]), args.values[i]) }
            return .namespace(ns)
        case .dict:
            var d = TemplateDict()
            if args.positional.count > 1 { throw fail(.type, "dict expected at most 1 argument") }
            if let first = args.positional.first {
                switch first {
                case let .dict(other): d = other
                default:
                    for pair in try iterate(first) {
                        let kv = try iterate(pair)
                        if kv.count != 2 { throw fail(.type, "dictionary update sequence element has length " + String(kv.count) + "; 2 is required") }
                        try checkHashable(kv[0])
                        d.set(kv[0], kv[1])
                    }
                }
            }
            for i in 0..<args.names.count { d.set(.string(args.names[i]), args.values[i]) }
            return .dict(d)
        case .raiseException:
            let message = try str(args.argument(0, "message") ?? .string(""))
            throw fail(.raised, message)
        case .strftimeNow:
            guard let now else { throw fail(.undefined, "'strftime_now' is undefined") }
            guard let format = args.argument(0, "format") else { throw fail(.type, "strftime_now() missing argument 'format'") }
            return try checkedString(now.strftime(try str(format)))
        }
    }
}
