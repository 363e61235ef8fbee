// Python semantics of attribute/item access, slicing, iteration, arithmetic and comparison,
// with overflow, division-by-zero and size checks turned into TemplateErrors.

extension TemplateInterpreter {
    // MARK: attribute and item access

    static func unsafeHint(_ name: String, _ type: String) -> String {
        "access to attribute '" + name + "' of '" + type + "' object is unsafe."
    }

    func getAttribute(_ object: TemplateValue, _ name: String) throws(TemplateError) -> TemplateValue {
        switch object {
        case let .undefined(hint):
            throw undefinedError(hint)
        case let .dict(d):
            switch name {
            case "get", "items", "keys", "values", "copy":
                return .callable(.method(TemplateBoundMethod(receiver: object, name: name)))
            case "pop", "popitem", "setdefault", "update", "clear":
                return .undefined(TemplateInterpreter.unsafeHint(name, "dict"))
            default:
                if let v = d.get(string: name) { return v }
                return .undefined("'dict object' has no attribute '" + name + "'")
            }
        case .string:
            if TemplateInterpreter.stringMethodNames.contains(name) {
                return .callable(.method(TemplateBoundMethod(receiver: object, name: name)))
            }
            return .undefined("'str object' has no attribute '" + name + "'")
        case .list, .tuple:
            switch name {
            case "count", "index":
                return .callable(.method(TemplateBoundMethod(receiver: object, name: name)))
            case "append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear":
                return .undefined(TemplateInterpreter.unsafeHint(name, object.typeName))
            default:
                return .undefined("'" + object.typeName + " object' has no attribute '" + name + "'")
            }
        case let .namespace(ns):
            if let v = ns.attributes.get(string: name) { return v }
            return .undefined("'Namespace object' has no attribute '" + name + "'")
        case let .loop(loop):
            return loopAttribute(loop, name, object)
        default:
            return .undefined("'" + object.typeName + " object' has no attribute '" + name + "'")
        }
    }

    func loopAttribute(_ loop: TemplateLoopContext, _ name: String, _ object: TemplateValue) -> TemplateValue {
        let n = loop.items.count
        let i = loop.index0
        switch name {
        case "index": return .int(i + 1)
        case "index0": return .int(i)
        case "revindex": return .int(n - i)
        case "revindex0": return .int(n - i - 1)
        case "first": return .bool(i == 0)
        case "last": return .bool(i == n - 1)
        case "length": return .int(n)
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem": return i > 0 ? loop.items[i - 1] : .undefined("there is no previous item")
        case "nextitem": return i + 1 < n ? loop.items[i + 1] : .undefined("there is no next item")
        case "cycle", "changed": return .callable(.method(TemplateBoundMethod(receiver: object, name: name)))
        default: return .undefined("'LoopContext object' has no attribute '" + name + "'")
        }
    }

    func getItem(_ object: TemplateValue, _ key: TemplateValue) throws(TemplateError) -> TemplateValue {
        switch object {
        case let .undefined(hint):
            throw undefinedError(hint)
        case let .dict(d):
            if let v = d.get(key) { return v }
            if case let .string(name) = key {
                switch name {
                case "get", "items", "keys", "values", "copy", "pop", "popitem", "setdefault", "update", "clear":
                    return try getAttribute(object, name)
                default: break
                }
            }
            var keyText = ""
            try key.appendRepr(to: &keyText, depth: 0, maxDepth: limits.maxValueDepth)
            return .undefined("'dict object' has no attribute " + keyText)
        case let .list(items), let .tuple(items):
            if let i = key.integerValue {
                let index = i < 0 ? i + items.count : i
                if index >= 0 && index < items.count { return items[index] }
                return .undefined("'" + object.typeName + " object' has no element " + String(i))
            }
            if case let .string(name) = key { return try getAttribute(object, name) }
            return .undefined("'" + object.typeName + " object' has no element")
        case let .string(s):
            if let i = key.integerValue {
                let a = scalars(s)
                let index = i < 0 ? i + a.count : i
                if index >= 0 && index < a.count { return .string(String(a[index])) }
                return .undefined("'str object' has no element " + String(i))
            }
            if case let .string(name) = key { return try getAttribute(object, name) }
            return .undefined("'str object' has no element")
        case .namespace, .loop:
            if case let .string(name) = key { return try getAttribute(object, name) }
            return .undefined("'" + object.typeName + " object' has no element")
        default:
            return .undefined("'" + object.typeName + " object' has no element")
        }
    }

    /// Python slice index computation.
    func sliceIndices(count: Int, _ start: TemplateValue?, _ stop: TemplateValue?, _ step: TemplateValue?) throws(TemplateError) -> [Int] {
        func bound(_ v: TemplateValue?) throws(TemplateError) -> Int? {
            guard let v else { return nil }
            if case .none = v { return nil }
            if let i = v.integerValue { return i }
            if case let .undefined(hint) = v { throw undefinedError(hint) }
            throw fail(.type, "slice indices must be integers or None")
        }
        let stepValue = try bound(step) ?? 1
        if stepValue == 0 { throw fail(.type, "slice step cannot be zero") }
        let lower = stepValue > 0 ? 0 : -1
        let upper = stepValue > 0 ? count : count - 1
        func clamp(_ raw: Int?, _ defaultValue: Int) -> Int {
            guard var v = raw else { return defaultValue }
            if v < 0 {
                v = v &+ count
                if v < lower { v = lower }
            } else if v > upper {
                v = upper
            }
            return v
        }
        let first = clamp(try bound(start), stepValue > 0 ? lower : upper)
        let end = clamp(try bound(stop), stepValue > 0 ? upper : lower)
        var indices: [Int] = []
        var i = first
        while stepValue > 0 ? i < end : i > end {
            indices.append(i)
            let (next, overflow) = i.addingReportingOverflow(stepValue)
            if overflow { break }
            i = next
        }
        return indices
    }

    func slice(_ object: TemplateValue, _ start: TemplateValue?, _ stop: TemplateValue?, _ step: TemplateValue?) throws(TemplateError) -> TemplateValue {
        switch object {
        case let .undefined(hint):
            throw undefinedError(hint)
        case let .list(items), let .tuple(items):
            let indices = try sliceIndices(count: items.count, start, stop, step)
            var out: [TemplateValue] = []
            out.reserveCapacity(indices.count)
            for i in indices { out.append(items[i]) }
            try budget.charge(out.count, line: line)
            if case .tuple = object { return .tuple(out) }
            return .list(out)
        case let .string(s):
            let a = scalars(s)
            let indices = try sliceIndices(count: a.count, start, stop, step)
            var view = String.UnicodeScalarView()
            for i in indices { view.append(a[i]) }
            return try checkedString(String(view))
        default:
            return .undefined("'" + object.typeName + " object' is not subscriptable")
        }
    }

    /// Materializes an iterable (Python iteration order: dicts give keys, strings characters).
    func iterate(_ value: TemplateValue) throws(TemplateError) -> [TemplateValue] {
        switch value {
        case let .list(items), let .tuple(items): return items
        case let .generator(g): return g.consume()
        case let .dict(d): return d.keys
        case let .string(s):
            var out: [TemplateValue] = []
            for c in s.unicodeScalars { out.append(.string(String(c))) }
            try budget.charge(out.count, line: line)
            return out
        case .undefined: return []
        default: throw fail(.type, "'" + value.typeName + "' object is not iterable")
        }
    }

    /// Python len().
    func length(_ value: TemplateValue) throws(TemplateError) -> Int {
        switch value {
        case let .string(s): return codePointCount(s)
        case let .list(items), let .tuple(items): return items.count
        case let .dict(d): return d.count
        case .undefined: return 0
        case let .namespace(ns): return ns.attributes.count
        default: throw fail(.type, "object of type '" + value.typeName + "' has no len()")
        }
    }

    // MARK: arithmetic

    func negate(_ value: TemplateValue) throws(TemplateError) -> TemplateValue {
        switch value {
        case let .int(i):
            if i == Int.min { throw fail(.type, "integer overflow") }
            return .int(-i)
        case let .bool(b): return .int(b ? -1 : 0)
        case let .float(d): return .float(-d)
        case let .undefined(hint): throw undefinedError(hint)
        default: throw fail(.type, "bad operand type for unary -: '" + value.typeName + "'")
        }
    }

    func unsupported(_ symbol: String, _ a: TemplateValue, _ b: TemplateValue) -> TemplateError {
        fail(.type, "unsupported operand type(s) for " + symbol + ": '" + a.typeName + "' and '" + b.typeName + "'")
    }

    func overflow() -> TemplateError { fail(.type, "integer overflow") }

    func repeatCount(_ v: TemplateValue) -> Int? {
        if case .float = v { return nil }
        return v.integerValue
    }

    func binary(_ op: TemplateBinaryOperator, _ a: TemplateValue, _ b: TemplateValue) throws(TemplateError) -> TemplateValue {
        if case let .undefined(hint) = a { throw undefinedError(hint) }
        if case let .undefined(hint) = b { throw undefinedError(hint) }
        switch op {
        case .add:
            switch (a, b) {
            case let (.string(x), .string(y)):
                try budget.checkString(x.utf8.count + y.utf8.count, line: line)
                try budget.charge(x.utf8.count + y.utf8.count, line: line)
                return .string(x + y)
            case let (.list(x), .list(y)):
                try budget.checkCount(x.count + y.count, line: line)
                try budget.charge(x.count + y.count, line: line)
                return .list(x + y)
            case let (.tuple(x), .tuple(y)):
                try budget.checkCount(x.count + y.count, line: line)
                try budget.charge(x.count + y.count, line: line)
                return .tuple(x + y)
            case (.string, _), (_, .string):
                if case .string = a {
                    throw fail(.type, "can only concatenate str (not \"" + b.typeName + "\") to str")
                }
                throw unsupported("+", a, b)
            default:
                if let x = a.integerValue, let y = b.integerValue {
                    let (r, o) = x.addingReportingOverflow(y)
                    if o { throw overflow() }
                    return .int(r)
                }
                if let x = a.numericValue, let y = b.numericValue { return .float(x + y) }
                throw unsupported("+", a, b)
            }
        case .sub:
            if let x = a.integerValue, let y = b.integerValue {
                let (r, o) = x.subtractingReportingOverflow(y)
                if o { throw overflow() }
                return .int(r)
            }
            if let x = a.numericValue, let y = b.numericValue { return .float(x - y) }
            throw unsupported("-", a, b)
        case .mul:
            switch (a, b) {
            case let (.string(s), n), let (n, .string(s)):
                guard let count = repeatCount(n) else { throw fail(.type, "can't multiply sequence by non-int of type '" + n.typeName + "'") }
                if count <= 0 || s.isEmpty { return .string("") }
                let (total, o) = s.utf8.count.multipliedReportingOverflow(by: count)
                if o { throw fail(.limit, "string value exceeds the size limit") }
                try budget.checkString(total, line: line)
                try budget.charge(total, line: line)
                var out = ""
                out.reserveCapacity(total)
                for _ in 0..<count { out += s }
                return .string(out)
            case let (.list(items), n), let (n, .list(items)), let (.tuple(items), n), let (n, .tuple(items)):
                guard let count = repeatCount(n) else { throw fail(.type, "can't multiply sequence by non-int of type '" + n.typeName + "'") }
                var isTuple = false
                if case .tuple = a { isTuple = true } else if case .tuple = b { isTuple = true }
                if count <= 0 || items.isEmpty { return isTuple ? .tuple([]) : .list([]) }
                let (total, o) = items.count.multipliedReportingOverflow(by: count)
                if o { throw fail(.limit, "collection exceeds the size limit") }
                try budget.checkCount(total, line: line)
                try budget.charge(total, line: line)
                var out: [TemplateValue] = []
                out.reserveCapacity(total)
                for _ in 0..<count { out.append(contentsOf: items) }
                return isTuple ? .tuple(out) : .list(out)
            default:
                if let x = a.integerValue, let y = b.integerValue {
                    let (r, o) = x.multipliedReportingOverflow(by: y)
                    if o { throw overflow() }
                    return .int(r)
                }
                if let x = a.numericValue, let y = b.numericValue { return .float(x * y) }
                throw unsupported("*", a, b)
            }
        case .div:
            guard let x = a.numericValue, let y = b.numericValue else { throw unsupported("/", a, b) }
            if y == 0 { throw fail(.type, "division by zero") }
            return .float(x / y)
        case .floorDiv:
            if let x = a.integerValue, let y = b.integerValue {
                if y == 0 { throw fail(.type, "integer division or modulo by zero") }
                if x == Int.min && y == -1 { throw overflow() }
                var q = x / y
                if (x % y != 0) && ((x < 0) != (y < 0)) { q -= 1 }
                return .int(q)
            }
            guard let x = a.numericValue, let y = b.numericValue else { throw unsupported("//", a, b) }
            if y == 0 { throw fail(.type, "float floor division by zero") }
            return .float((x / y).rounded(.down))
        case .mod:
            if case let .string(format) = a { return try checkedString(try percentFormat(format, b)) }
            if let x = a.integerValue, let y = b.integerValue {
                if y == 0 { throw fail(.type, "integer division or modulo by zero") }
                if y == -1 { return .int(0) }
                var r = x % y
                if r != 0 && ((r < 0) != (y < 0)) { r += y }
                return .int(r)
            }
            guard let x = a.numericValue, let y = b.numericValue else { throw unsupported("%", a, b) }
            if y == 0 { throw fail(.type, "float modulo") }
            var r = x - y * (x / y).rounded(.towardZero)
            if r != 0 && ((r < 0) != (y < 0)) { r += y }
            return .float(r)
        case .pow:
            if let x = a.integerValue, let y = b.integerValue, y >= 0 {
                var result = 1
                var base = x
                var e = y
                while e > 0 {
                    if e & 1 == 1 {
                        let (r, o) = result.multipliedReportingOverflow(by: base)
                        if o { throw overflow() }
                        result = r
                    }
                    e >>= 1
                    if e > 0 {
                        let (sq, o) = base.multipliedReportingOverflow(by: base)
                        if o { throw overflow() }
                        base = sq
                    }
                }
                return .int(result)
            }
            guard let x = a.numericValue, let y = b.numericValue else { throw unsupported("** or pow()", a, b) }
            guard y == y.rounded(.towardZero), abs(y) < 1e9 else {
                throw fail(.type, "non-integer exponents are not supported")
            }
            if x == 0 && y < 0 { throw fail(.type, "0.0 cannot be raised to a negative power") }
            var result = 1.0
            var base = x
            var e = Int(abs(y))
            while e > 0 {
                if e & 1 == 1 { result *= base }
                base *= base
                e >>= 1
            }
            return .float(y < 0 ? 1 / result : result)
        }
    }

    // MARK: comparison

    /// Python `<` (numbers, strings, and sequences lexicographically).
    func lessThan(_ a: TemplateValue, _ b: TemplateValue, depth: Int = 0) throws(TemplateError) -> Bool {
        if depth > limits.maxValueDepth { throw fail(.limit, "value nesting exceeds the depth limit") }
        switch (a, b) {
        case let (.string(x), .string(y)): return pyStringLess(x, y)
        case let (.list(x), .list(y)), let (.tuple(x), .tuple(y)):
            let n = min(x.count, y.count)
            for i in 0..<n {
                if try templateEquals(x[i], y[i], maxDepth: limits.maxValueDepth) { continue }
                return try lessThan(x[i], y[i], depth: depth + 1)
            }
            return x.count < y.count
        case let (.undefined(hint), _), let (_, .undefined(hint)):
            throw undefinedError(hint)
        default:
            if let x = a.integerValue, let y = b.integerValue { return x < y }
            if let x = a.numericValue, let y = b.numericValue { return x < y }
            throw fail(.type, "'<' not supported between instances of '" + a.typeName + "' and '" + b.typeName + "'")
        }
    }

    func compare(_ op: TemplateCompareOperator, _ a: TemplateValue, _ b: TemplateValue) throws(TemplateError) -> Bool {
        switch op {
        case .eq: return try templateEquals(a, b, maxDepth: limits.maxValueDepth)
        case .ne: return !(try templateEquals(a, b, maxDepth: limits.maxValueDepth))
        case .lt: return try lessThan(a, b)
        case .gt: return try lessThan(b, a)
        case .lteq: return !(try lessThan(b, a))
        case .gteq: return !(try lessThan(a, b))
        case .isIn: return try contains(b, a)
        case .notIn: return !(try contains(b, a))
        }
    }

    /// Python `item in container`.
    func contains(_ container: TemplateValue, _ item: TemplateValue) throws(TemplateError) -> Bool {
        switch container {
        case let .string(s):
            guard case let .string(needle) = item else {
                if case let .undefined(hint) = item { throw undefinedError(hint) }
                throw fail(.type, "'in <string>' requires string as left operand, not " + item.typeName)
            }
            return utf8Contains(s, needle)
        case let .list(items), let .tuple(items):
            for x in items where try templateEquals(x, item, maxDepth: limits.maxValueDepth) { return true }
            return false
        case let .generator(g):
            for x in g.consume() where try templateEquals(x, item, maxDepth: limits.maxValueDepth) { return true }
            return false
        case let .dict(d):
            try checkHashable(item)
            return d.find(item) != nil
        case .undefined:
            return false
        default:
            throw fail(.type, "argument of type '" + container.typeName + "' is not iterable")
        }
    }

    // MARK: printf-style formatting

    /// Python `format % values` for the conversions s, r, d, i, f, F, x, X, o, c and %%,
    /// with flags `-`, `0`, `+`, space, a width and a precision. `%(name)s` takes from a dict.
    func percentFormat(_ format: String, _ values: TemplateValue) throws(TemplateError) -> String {
        var positional: [TemplateValue] = []
        var mapping: TemplateDict? = nil
        switch values {
        case let .tuple(items): positional = items
        case let .dict(d): mapping = d; positional = [values]
        default: positional = [values]
        }
        let f = scalars(format)
        var out = ""
        var next = 0
        var i = 0
        while i < f.count {
            let c = f[i]
            i += 1
            if c != "%" { out.unicodeScalars.append(c); continue }
            guard i < f.count else { throw fail(.type, "incomplete format") }
            var value: TemplateValue? = nil
            if f[i] == "(" {
                var j = i + 1
                while j < f.count && f[j] != ")" { j += 1 }
                guard j < f.count, let mapping else { throw fail(.type, "format requires a mapping") }
                let key = stringFromScalars(f[(i + 1)..<j])
                guard let v = mapping.get(string: key) else { throw fail(.type, "KeyError: '" + key + "'") }
                value = v
                i = j + 1
            }
            var leftAlign = false, zeroPad = false, plus = false, space = false
            while i < f.count, f[i] == "-" || f[i] == "0" || f[i] == "+" || f[i] == " " || f[i] == "#" {
                switch f[i] {
                case "-": leftAlign = true
                case "0": zeroPad = true
                case "+": plus = true
                case " ": space = true
                default: break
                }
                i += 1
            }
            var width = 0
            while i < f.count, f[i].value >= 0x30, f[i].value <= 0x39 { width = Swift.min(width * 10 + Int(f[i].value - 0x30), 100_000); i += 1 }
            var precision: Int? = nil
            if i < f.count, f[i] == "." {
                i += 1
                var p = 0
                while i < f.count, f[i].value >= 0x30, f[i].value <= 0x39 { p = Swift.min(p * 10 + Int(f[i].value - 0x30), 100); i += 1 }
                precision = p
            }
            guard i < f.count else { throw fail(.type, "incomplete format") }
            let conversion = f[i]
            i += 1
            if conversion == "%" { out += "%"; continue }
            if value == nil {
                guard next < positional.count else { throw fail(.type, "not enough arguments for format string") }
                value = positional[next]
                next += 1
            }
            let v = value!
            var body: String
            var numeric = false
            var negative = false
            switch conversion {
            case "s":
                body = try str(v)
                if let precision { body = stringFromScalars(scalars(body).prefix(precision)) }
            case "r":
                body = ""
                try v.appendRepr(to: &body, depth: 0, maxDepth: limits.maxValueDepth)
            case "d", "i", "x", "X", "o":
                var n: Int
                if let k = v.integerValue { n = k } else if case let .float(d) = v, d.isFinite, let i = Int(exactly: d.rounded(.towardZero)) { n = i } else {
                    throw fail(.type, "%" + String(conversion) + " format: a real number is required, not " + v.typeName)
                }
                negative = n < 0
                let magnitude = n.magnitude
                let radix = conversion == "d" || conversion == "i" ? 10 : conversion == "o" ? 8 : 16
                body = String(magnitude, radix: radix, uppercase: conversion == "X")
                numeric = true
            case "f", "F":
                guard let d = v.numericValue else { throw fail(.type, "must be real number, not " + v.typeName) }
                negative = d < 0 || (d == 0 && d.sign == .minus)
                body = fixedPoint(Swift.abs(d), precision ?? 6)
                numeric = true
            case "c":
                if case let .string(s) = v, codePointCount(s) == 1 { body = s } else if let k = v.integerValue, let u = Unicode.Scalar(UInt32(truncatingIfNeeded: k)) {
                    body = String(u)
                } else { throw fail(.type, "%c requires an int or a char") }
            default:
                throw fail(.type, "unsupported format character '" + String(conversion) + "'")
            }
            if numeric {
                let sign = negative ? "-" : plus ? "+" : space ? " " : ""
                if zeroPad && !leftAlign {
                    while codePointCount(body) + sign.utf8.count < width { body = "0" + body }
                }
                body = sign + body
            }
            let padding = width - codePointCount(body)
            if padding > 0 {
                var pad = ""
                for _ in 0..<padding { pad += " " }
                body = leftAlign ? body + pad : pad + body
            }
            out += body
            try budget.checkString(out.utf8.count, line: line)
        }
        if mapping == nil && next < positional.count {
            throw fail(.type, "not all arguments converted during string formatting")
        }
        return out
    }

    /// Fixed-point text of a non-negative finite double with `digits` decimals.
    func fixedPoint(_ x: Double, _ digits: Int) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return "inf" }
        var scale = 1.0
        for _ in 0..<Swift.min(digits, 22) { scale *= 10 }
        let scaled = (x * scale).rounded(.toNearestOrEven)
        if scaled >= 9.2e18 { return PythonFloatFormat.repr(x) }
        let n = UInt64(scaled)
        var text = String(n)
        if digits == 0 { return text }
        while text.utf8.count <= digits { text = "0" + text }
        let bytes = Array(text.utf8)
        let split = bytes.count - digits
        return String(decoding: bytes[0..<split], as: UTF8.self) + "." + String(decoding: bytes[split...], as: UTF8.self)
    }
}
