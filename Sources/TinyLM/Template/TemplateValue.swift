// Runtime values of the template language, with Python semantics for truthiness, str()/repr()
// and equality (templates are written against Python's jinja2).

indirect enum TemplateValue {
    /// jinja2's default Undefined: prints empty, is falsy, iterates as empty; attribute access,
    /// subscripting, calling and arithmetic on it fail. The payload is the name or a hint.
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case list([TemplateValue])
    case tuple([TemplateValue])
    case dict(TemplateDict)
    case namespace(TemplateNamespace)
    case loop(TemplateLoopContext)
    case callable(TemplateCallable)
    /// What jinja2's select, reject, selectattr, rejectattr and map filters return.
    case generator(TemplateGenerator)
}

/// An insertion-ordered dictionary with Python key equality.
struct TemplateDict {
    private(set) var keys: [TemplateValue] = []
    private(set) var values: [TemplateValue] = []
    /// Index of string keys, built once the dictionary grows past a few entries.
    private var stringIndex: [String: Int]? = nil

    init() {}

    var count: Int { keys.count }

    func find(_ key: TemplateValue) -> Int? {
        if case let .string(s) = key { return find(string: s) }
        for i in 0..<keys.count where templateKeyEquals(keys[i], key) { return i }
        return nil
    }

    func find(string s: String) -> Int? {
        if let stringIndex { return stringIndex[s] }
        for i in 0..<keys.count {
            if case let .string(k) = keys[i], k.utf8.count == s.utf8.count, k.utf8.elementsEqual(s.utf8) { return i }
        }
        return nil
    }

    func get(_ key: TemplateValue) -> TemplateValue? {
        guard let i = find(key) else { return nil }
        return values[i]
    }

    func get(string s: String) -> TemplateValue? {
        guard let i = find(string: s) else { return nil }
        return values[i]
    }

    mutating func set(_ key: TemplateValue, _ value: TemplateValue) {
        if let i = find(key) {
            values[i] = value
            return
        }
        keys.append(key)
        values.append(value)
        if case let .string(s) = key, stringIndex != nil {
            stringIndex![s] = keys.count - 1
        }
        if stringIndex == nil && keys.count > 12 {
            var index: [String: Int] = [:]
            for i in 0..<keys.count {
                if case let .string(k) = keys[i] { index[k] = i }
            }
            stringIndex = index
        }
    }
}

/// Python dict-key equality (1 == 1.0 == True; strings by code points).
func templateKeyEquals(_ a: TemplateValue, _ b: TemplateValue) -> Bool {
    switch (a, b) {
    case let (.string(x), .string(y)): return x.utf8.count == y.utf8.count && x.utf8.elementsEqual(y.utf8)
    case (.none, .none): return true
    default:
        if let x = a.integerValue, let y = b.integerValue { return x == y }
        if let x = a.numericValue, let y = b.numericValue { return x == y }
        return false
    }
}

/// `namespace(...)`: the only mutable object templates can create.
final class TemplateNamespace {
    var attributes = TemplateDict()
    init() {}
}

/// The `loop` variable of a for loop.
final class TemplateLoopContext {
    let items: [TemplateValue]
    var index0 = 0
    var lastChanged: [TemplateValue]? = nil

    init(items: [TemplateValue]) { self.items = items }
}

/// A Python generator, as jinja2's select/reject/selectattr/rejectattr/map filters return
/// one: always truthy, without len(), consumed by the first pass over it, not JSON, printed
/// as its repr. Templates see those differences (`none|selectattr('x')|length` raises in
/// jinja2, `{% if list|select %}` is always true), so the items, computed eagerly, are kept
/// behind this single-pass wrapper rather than returned as a list.
final class TemplateGenerator {
    /// The Python function that made it, for its repr (jinja2: select_or_reject, sync_do_map).
    let function: String
    private var remaining: [TemplateValue]

    init(function: String, items: [TemplateValue]) {
        self.function = function
        remaining = items
    }

    /// The items not yet consumed; a second pass gets nothing, as in Python.
    func consume() -> [TemplateValue] {
        let out = remaining
        remaining = []
        return out
    }
}

/// A macro value: its definition plus the scope it was defined in.
final class TemplateMacro {
    let definition: TemplateMacroDefinition
    let closure: TemplateScope

    init(definition: TemplateMacroDefinition, closure: TemplateScope) {
        self.definition = definition
        self.closure = closure
    }
}

/// A method bound to its receiver (`"abc".upper`, `dict.get`, `loop.cycle`).
final class TemplateBoundMethod {
    let receiver: TemplateValue
    let name: String

    init(receiver: TemplateValue, name: String) {
        self.receiver = receiver
        self.name = name
    }
}

enum TemplateBuiltin {
    case range, namespace, dict, raiseException, strftimeNow
}

enum TemplateCallable {
    case macro(TemplateMacro)
    case builtin(TemplateBuiltin)
    case method(TemplateBoundMethod)
}

/// Variable scope: a chain of frames. For-loop iterations, macro calls and blocks get their own.
final class TemplateScope {
    var variables: [String: TemplateValue] = [:]
    let parent: TemplateScope?

    init(parent: TemplateScope?) { self.parent = parent }

    func lookup(_ name: String) -> TemplateValue? {
        var scope: TemplateScope? = self
        while let s = scope {
            if let v = s.variables[name] { return v }
            scope = s.parent
        }
        return nil
    }
}

// MARK: - basic properties

extension TemplateValue {
    var isUndefined: Bool { if case .undefined = self { return true } else { return false } }
    var isNone: Bool { if case .none = self { return true } else { return false } }

    /// Python's numeric value for int/float/bool.
    var numericValue: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .float(d): return d
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }

    /// Integer value for int and bool.
    var integerValue: Int? {
        switch self {
        case let .int(i): return i
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }

    /// Python truthiness.
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case let .bool(b): return b
        case let .int(i): return i != 0
        case let .float(d): return d != 0
        case let .string(s): return !s.isEmpty
        case let .list(a), let .tuple(a): return !a.isEmpty
        case let .dict(d): return d.count > 0
        case .namespace, .loop, .callable, .generator: return true
        }
    }

    /// Python type name, for error messages.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .loop: return "LoopContext"
        case .generator: return "generator"
        case let .callable(c):
            switch c {
            case .macro: return "Macro"
            case .builtin: return "builtin_function_or_method"
            case .method: return "method"
            }
        }
    }
}

// MARK: - JSON conversion

extension TemplateValue {
    init(json: JSONValue, depth: Int = 0, maxDepth: Int) throws(TemplateError) {
        if depth > maxDepth { throw TemplateError(.limit, "context value nesting exceeds the depth limit (" + String(maxDepth) + ")") }
        switch json {
        case .null: self = .none
        case let .bool(b): self = .bool(b)
        case let .integer(i): self = .int(i)
        case let .number(d): self = .float(d)
        case let .string(s): self = .string(s)
        case let .array(items):
            var out: [TemplateValue] = []
            out.reserveCapacity(items.count)
            for item in items { out.append(try TemplateValue(json: item, depth: depth + 1, maxDepth: maxDepth)) }
            self = .list(out)
        case let .object(object):
            var dict = TemplateDict()
            let keys = object.keys
            let values = object.values
            for i in 0..<keys.count {
                dict.set(.string(keys[i]), try TemplateValue(json: values[i], depth: depth + 1, maxDepth: maxDepth))
            }
            self = .dict(dict)
        }
    }

    /// Conversion for `tojson` (Python json.dumps rules for keys and values).
    func toJSON(depth: Int = 0, maxDepth: Int) throws(TemplateError) -> JSONValue {
        if depth > maxDepth { throw TemplateError(.limit, "value nesting exceeds the depth limit (" + String(maxDepth) + ")") }
        switch self {
        case .none: return .null
        case let .bool(b): return .bool(b)
        case let .int(i): return .integer(i)
        case let .float(d): return .number(d)
        case let .string(s): return .string(s)
        case let .list(items), let .tuple(items):
            var out: [JSONValue] = []
            out.reserveCapacity(items.count)
            for item in items { out.append(try item.toJSON(depth: depth + 1, maxDepth: maxDepth)) }
            return .array(out)
        case let .dict(dict):
            var object = JSONObject()
            for i in 0..<dict.count {
                let key: String
                switch dict.keys[i] {
                case let .string(s): key = s
                case let .int(n): key = String(n)
                case let .float(d): key = PythonFloatFormat.repr(d)
                case let .bool(b): key = b ? "true" : "false"
                case .none: key = "null"
                default:
                    throw TemplateError(.type, "keys must be str, int, float, bool or None, not " + dict.keys[i].typeName)
                }
                object[key] = try dict.values[i].toJSON(depth: depth + 1, maxDepth: maxDepth)
            }
            return .object(object)
        case .undefined:
            throw TemplateError(.undefined, "Object of type Undefined is not JSON serializable")
        default:
            throw TemplateError(.type, "Object of type " + typeName + " is not JSON serializable")
        }
    }
}

// MARK: - str() and repr()

extension TemplateValue {
    /// Python `str(value)` (jinja2 prints Undefined as the empty string).
    func pyStr(maxDepth: Int) throws(TemplateError) -> String {
        switch self {
        case let .string(s): return s
        case .undefined: return ""
        default:
            var out = ""
            try appendRepr(to: &out, depth: 0, maxDepth: maxDepth)
            return out
        }
    }

    /// Python `repr(value)`.
    func appendRepr(to out: inout String, depth: Int, maxDepth: Int) throws(TemplateError) {
        if depth > maxDepth { throw TemplateError(.limit, "value nesting exceeds the depth limit (" + String(maxDepth) + ")") }
        switch self {
        case .undefined: out += "Undefined"  // jinja2's Undefined.__repr__ (str() is empty: pyStr)
        case .none: out += "None"
        case let .bool(b): out += b ? "True" : "False"
        case let .int(i): out += String(i)
        case let .float(d): out += PythonFloatFormat.repr(d)
        case let .string(s): out += pyReprString(s)
        case let .list(items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                try item.appendRepr(to: &out, depth: depth + 1, maxDepth: maxDepth)
            }
            out += "]"
        case let .tuple(items):
            out += "("
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                try item.appendRepr(to: &out, depth: depth + 1, maxDepth: maxDepth)
            }
            if items.count == 1 { out += "," }
            out += ")"
        case let .dict(dict):
            out += "{"
            for i in 0..<dict.count {
                if i > 0 { out += ", " }
                try dict.keys[i].appendRepr(to: &out, depth: depth + 1, maxDepth: maxDepth)
                out += ": "
                try dict.values[i].appendRepr(to: &out, depth: depth + 1, maxDepth: maxDepth)
            }
            out += "}"
        case let .namespace(ns):
            out += "<Namespace "
            try TemplateValue.dict(ns.attributes).appendRepr(to: &out, depth: depth + 1, maxDepth: maxDepth)
            out += ">"
        case let .loop(loop):
            out += "<LoopContext " + String(loop.index0 + 1) + "/" + String(loop.items.count) + ">"
        case let .generator(g):
            // Python adds the object's address, which no other renderer can reproduce.
            out += "<generator object " + g.function + ">"
        case let .callable(c):
            switch c {
            case let .macro(m): out += "<Macro '" + m.definition.name + "'>"
            case let .builtin(b): out += "<built-in function " + TemplateValue.builtinName(b) + ">"
            case let .method(m): out += "<built-in method " + m.name + " of " + m.receiver.typeName + " object>"
            }
        }
    }

    static func builtinName(_ b: TemplateBuiltin) -> String {
        switch b {
        case .range: return "range"
        case .namespace: return "namespace"
        case .dict: return "dict"
        case .raiseException: return "raise_exception"
        case .strftimeNow: return "strftime_now"
        }
    }
}

// MARK: - equality

/// Python `==` (numbers across int/float/bool, strings by code points, containers deeply).
func templateEquals(_ a: TemplateValue, _ b: TemplateValue, depth: Int = 0, maxDepth: Int) throws(TemplateError) -> Bool {
    if depth > maxDepth { throw TemplateError(.limit, "value nesting exceeds the depth limit (" + String(maxDepth) + ")") }
    switch (a, b) {
    case let (.string(x), .string(y)): return x.utf8.count == y.utf8.count && x.utf8.elementsEqual(y.utf8)
    case (.none, .none): return true
    case (.undefined, .undefined): return true
    case let (.list(x), .list(y)), let (.tuple(x), .tuple(y)):
        if x.count != y.count { return false }
        for i in 0..<x.count where !(try templateEquals(x[i], y[i], depth: depth + 1, maxDepth: maxDepth)) { return false }
        return true
    case let (.dict(x), .dict(y)):
        if x.count != y.count { return false }
        for i in 0..<x.count {
            guard let other = y.get(x.keys[i]) else { return false }
            if !(try templateEquals(x.values[i], other, depth: depth + 1, maxDepth: maxDepth)) { return false }
        }
        return true
    case let (.namespace(x), .namespace(y)): return x === y
    case let (.loop(x), .loop(y)): return x === y
    case let (.generator(x), .generator(y)): return x === y
    case let (.callable(x), .callable(y)):
        switch (x, y) {
        case let (.macro(m), .macro(n)): return m === n
        case let (.method(m), .method(n)): return m === n
        case let (.builtin(m), .builtin(n)): return m == n
        default: return false
        }
    default:
        if let x = a.integerValue, let y = b.integerValue { return x == y }
        if let x = a.numericValue, let y = b.numericValue { return x == y }
        return false
    }
}
