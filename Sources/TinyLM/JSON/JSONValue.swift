// A JSON value with integer/float distinction and insertion-ordered objects.
//
// Used for chat-template contexts (messages arrive as JSON), the wasm ABI and
// JSON-schema constrained generation. Pure Swift, Embedded-compatible: no Foundation,
// typed throws only.

/// A JSON document node.
///
/// Integers that fit in `Int` are kept as `.integer` so they print without a fraction
/// (`1` stays `1`, `1.0` stays `1.0`), matching how Python's `json` module round-trips them.
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

/// A JSON object whose keys keep their insertion order (like a Python `dict`).
///
/// Assigning to an existing key replaces its value in place (the key keeps its position);
/// duplicate keys in parsed input therefore keep the first position and the last value,
/// as Python's `json.loads` does.
public struct JSONObject: Sendable {
    public private(set) var keys: [String] = []
    public private(set) var values: [JSONValue] = []
    private var index: [String: Int] = [:]

    public init() {}

    /// Builds an object from pairs; a repeated key keeps its first position and last value.
    public init(_ pairs: [(String, JSONValue)]) {
        keys.reserveCapacity(pairs.count)
        values.reserveCapacity(pairs.count)
        for (key, value) in pairs { self[key] = value }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// The entries in insertion order.
    public var entries: [(key: String, value: JSONValue)] {
        var result: [(key: String, value: JSONValue)] = []
        result.reserveCapacity(keys.count)
        for i in 0..<keys.count { result.append((key: keys[i], value: values[i])) }
        return result
    }

    public func contains(_ key: String) -> Bool { index[key] != nil }

    /// Reads, replaces (in place), appends, or (with `nil`) removes a member.
    public subscript(key: String) -> JSONValue? {
        get {
            guard let i = index[key] else { return nil }
            return values[i]
        }
        set {
            if let newValue {
                if let i = index[key] {
                    values[i] = newValue
                } else {
                    index[key] = keys.count
                    keys.append(key)
                    values.append(newValue)
                }
            } else {
                _ = removeValue(forKey: key)
            }
        }
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let i = index[key] else { return nil }
        let old = values[i]
        keys.remove(at: i)
        values.remove(at: i)
        index[key] = nil
        if i < keys.count {
            for j in i..<keys.count { index[keys[j]] = j }
        }
        return old
    }
}

extension JSONObject: Equatable {
    /// Objects are equal when they hold the same keys with equal values (order ignored).
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        if lhs.count != rhs.count { return false }
        for i in 0..<lhs.keys.count {
            guard let other = rhs[lhs.keys[i]] else { return false }
            if other != lhs.values[i] { return false }
        }
        return true
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}

extension JSONValue: Equatable {
    /// Structural equality; `.integer(1) == .number(1.0)` (numbers compare by value).
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.integer(a), .integer(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.integer(a), .number(b)): return Double(a) == b
        case let (.number(a), .integer(b)): return a == Double(b)
        case let (.string(a), .string(b)): return a.utf8.elementsEqual(b.utf8)
        case let (.array(a), .array(b)):
            if a.count != b.count { return false }
            for i in 0..<a.count where a[i] != b[i] { return false }
            return true
        case let (.object(a), .object(b)): return a == b
        default: return false
        }
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}

extension JSONValue {
    /// Member of an object (nil for other kinds or a missing key).
    public subscript(key: String) -> JSONValue? {
        if case let .object(object) = self { return object[key] }
        return nil
    }

    /// Element of an array (nil for other kinds or out of range).
    public subscript(index: Int) -> JSONValue? {
        if case let .array(array) = self, index >= 0, index < array.count { return array[index] }
        return nil
    }

    public var isNull: Bool { if case .null = self { return true } else { return false } }

    public var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }

    public var boolValue: Bool? { if case let .bool(b) = self { return b } else { return nil } }

    /// The value as an `Int` when it is an integer (or a float with an exact integer value).
    public var intValue: Int? {
        switch self {
        case let .integer(i): return i
        case let .number(d):
            if d.isFinite, d == d.rounded(.towardZero) { return Int(exactly: d) }
            return nil
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case let .integer(i): return Double(i)
        case let .number(d): return d
        default: return nil
        }
    }

    public var arrayValue: [JSONValue]? { if case let .array(a) = self { return a } else { return nil } }

    public var objectValue: JSONObject? { if case let .object(o) = self { return o } else { return nil } }
}
