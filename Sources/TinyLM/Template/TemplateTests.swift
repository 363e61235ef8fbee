// Jinja "tests" (`value is defined`, `value is divisibleby 3`, ...).

enum TemplateTestKind {
    case defined, undefined, none, boolean, isFalse, isTrue, integer, float, number, string
    case mapping, iterable, sequence, callable, odd, even, divisibleBy
    case eq, ne, lt, le, gt, ge, isIn, lower, upper, sameAs, escaped, filter, test

    static func lookup(_ name: String) -> TemplateTestKind? {
        switch name {
        case "defined": return .defined
        case "undefined": return .undefined
        case "none": return TemplateTestKind.none
        case "boolean": return .boolean
        case "false": return .isFalse
        case "true": return .isTrue
        case "integer": return .integer
        case "float": return .float
        case "number": return .number
        case "string": return .string
        case "mapping": return .mapping
        case "iterable": return .iterable
        case "sequence": return .sequence
        case "callable": return .callable
        case "odd": return .odd
        case "even": return .even
        case "divisibleby": return .divisibleBy
        case "eq", "equalto", "==": return .eq
        case "ne", "!=": return .ne
        case "lt", "lessthan", "<": return .lt
        case "le", "<=": return .le
        case "gt", "greaterthan", ">": return .gt
        case "ge", ">=": return .ge
        case "in": return .isIn
        case "lower": return .lower
        case "upper": return .upper
        case "sameas": return .sameAs
        case "escaped": return .escaped
        case "filter": return .filter
        case "test": return .test
        default: return nil
        }
    }
}

extension TemplateInterpreter {
    func applyTest(_ name: String, _ kind: TemplateTestKind?, _ value: TemplateValue,
                   _ args: TemplateCallArguments) throws(TemplateError) -> Bool {
        guard let kind else { throw fail(.syntax, "no test named '" + name + "'") }
        func argument() throws(TemplateError) -> TemplateValue {
            guard let a = args.positional.first ?? args.values.first else {
                throw fail(.type, "test '" + name + "' requires an argument")
            }
            return a
        }
        func integer(_ v: TemplateValue) throws(TemplateError) -> Int {
            if let i = v.integerValue { return i }
            if case let .undefined(hint) = v { throw undefinedError(hint) }
            throw fail(.type, "test '" + name + "' requires an integer, got " + v.typeName)
        }
        switch kind {
        case .defined: return !value.isUndefined
        case .undefined: return value.isUndefined
        case .none: return value.isNone
        case .boolean:
            if case .bool = value { return true }
            return false
        case .isFalse:
            if case .bool(false) = value { return true }
            return false
        case .isTrue:
            if case .bool(true) = value { return true }
            return false
        case .integer:
            if case .int = value { return true }
            return false
        case .float:
            if case .float = value { return true }
            return false
        case .number:
            switch value {
            case .int, .float, .bool: return true
            default: return false
            }
        case .string:
            if case .string = value { return true }
            return false
        case .mapping:
            if case .dict = value { return true }
            return false
        case .iterable, .sequence:
            switch value {
            case .string, .list, .tuple, .dict, .undefined: return true
            case .loop, .generator: return kind == .iterable
            default: return false
            }
        case .callable:
            if case .callable = value { return true }
            return false
        case .odd: return try integer(value) & 1 == 1
        case .even: return try integer(value) & 1 == 0
        case .divisibleBy:
            let d = try integer(try argument())
            if d == 0 { throw fail(.type, "integer division or modulo by zero") }
            if d == -1 { return true }
            return try integer(value) % d == 0
        case .eq: return try compare(.eq, value, try argument())
        case .ne: return try compare(.ne, value, try argument())
        case .lt: return try compare(.lt, value, try argument())
        case .le: return try compare(.lteq, value, try argument())
        case .gt: return try compare(.gt, value, try argument())
        case .ge: return try compare(.gteq, value, try argument())
        case .isIn: return try contains(try argument(), value)
        case .lower, .upper:
            var hasCased = false
            for c in (try str(value)).unicodeScalars {
                if kind == .lower {
                    if isUpperScalar(c) { return false }
                    if isLowerScalar(c) { hasCased = true }
                } else {
                    if isLowerScalar(c) { return false }
                    if isUpperScalar(c) { hasCased = true }
                }
            }
            return hasCased
        case .sameAs:
            let other = try argument()
            switch (value, other) {
            case (.none, .none), (.undefined, .undefined): return true
            case let (.bool(a), .bool(b)): return a == b
            case let (.namespace(a), .namespace(b)): return a === b
            case let (.int(a), .int(b)): return a == b && a >= -5 && a <= 256  // CPython small-int cache
            default: return false
            }
        case .escaped: return false
        case .filter:
            if case let .string(s) = value { return TemplateFilterKind.lookup(s) != nil }
            return false
        case .test:
            if case let .string(s) = value { return TemplateTestKind.lookup(s) != nil }
            return false
        }
    }
}
