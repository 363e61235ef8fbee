// JSON serialization with Python `json.dumps`-compatible layouts.

/// Layout options for `JSONValue.serialized(_:)`.
public struct JSONFormat: Sendable {
    /// Indentation unit; nil puts everything on one line.
    public var indent: String?
    /// Separator between items (Python uses ", " without indent and "," with indent).
    public var itemSeparator: String
    /// Separator between a key and its value.
    public var keySeparator: String
    /// Escape every non-ASCII character as \uXXXX (Python's `ensure_ascii=True`).
    public var escapeNonASCII: Bool
    /// Sort object keys by code point (Python's `sort_keys=True`).
    public var sortKeys: Bool

    public init(indent: String? = nil, itemSeparator: String = ",", keySeparator: String = ":",
                escapeNonASCII: Bool = false, sortKeys: Bool = false) {
        self.indent = indent
        self.itemSeparator = itemSeparator
        self.keySeparator = keySeparator
        self.escapeNonASCII = escapeNonASCII
        self.sortKeys = sortKeys
    }

    /// `{"a":1,"b":[1,2]}`
    public static var compact: JSONFormat { JSONFormat() }

    /// Python `json.dumps(x, ensure_ascii=False)`: `{"a": 1, "b": [1, 2]}`.
    public static var python: JSONFormat { JSONFormat(itemSeparator: ", ", keySeparator: ": ") }

    /// Python `json.dumps(x, ensure_ascii=False, indent=n)`.
    public static func pythonIndented(_ spaces: Int) -> JSONFormat {
        var unit = ""
        if spaces > 0 { for _ in 0..<spaces { unit += " " } }
        return JSONFormat(indent: unit, itemSeparator: ",", keySeparator: ": ")
    }
}

extension JSONValue {
    /// Serializes the value. Non-finite numbers are written as Python does (NaN, Infinity,
    /// -Infinity), which is not strict JSON; floats use Python `repr` digits.
    public func serialized(_ format: JSONFormat = .compact) -> String {
        var writer = JSONWriter(format: format)
        writer.write(self, level: 0)
        return String(decoding: writer.out, as: UTF8.self)
    }

    /// Compact serialization (`{"a":1}`).
    public var description: String { serialized(.compact) }
}

struct JSONWriter {
    let format: JSONFormat
    var out: [UInt8] = []

    init(format: JSONFormat) { self.format = format }

    mutating func newline(_ level: Int) {
        guard let unit = format.indent else { return }
        out.append(0x0A)
        for _ in 0..<level { out.append(contentsOf: unit.utf8) }
    }

    mutating func write(_ value: JSONValue, level: Int) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case let .bool(b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case let .integer(i): out.append(contentsOf: String(i).utf8)
        case let .number(d): JSONWriter.writeDouble(d, to: &out)
        case let .string(s): JSONWriter.writeString(s, escapeNonASCII: format.escapeNonASCII, to: &out)
        case let .array(items):
            if items.isEmpty { out.append(contentsOf: "[]".utf8); return }
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(contentsOf: format.itemSeparator.utf8) }
                newline(level + 1)
                write(item, level: level + 1)
            }
            newline(level)
            out.append(UInt8(ascii: "]"))
        case let .object(object):
            if object.isEmpty { out.append(contentsOf: "{}".utf8); return }
            out.append(UInt8(ascii: "{"))
            var order = Array(0..<object.count)
            if format.sortKeys {
                let keys = object.keys
                stableMergeSort(&order) { (a: Int, b: Int) -> Bool in keys[a].utf8.lexicographicallyPrecedes(keys[b].utf8) }
            }
            for (n, i) in order.enumerated() {
                if n > 0 { out.append(contentsOf: format.itemSeparator.utf8) }
                newline(level + 1)
                JSONWriter.writeString(object.keys[i], escapeNonASCII: format.escapeNonASCII, to: &out)
                out.append(contentsOf: format.keySeparator.utf8)
                write(object.values[i], level: level + 1)
            }
            newline(level)
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeDouble(_ d: Double, to out: inout [UInt8]) {
        if d.isNaN { out.append(contentsOf: "NaN".utf8); return }
        if d.isInfinite { out.append(contentsOf: (d < 0 ? "-Infinity" : "Infinity").utf8); return }
        out.append(contentsOf: PythonFloatFormat.repr(d).utf8)
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func appendUnicodeEscape(_ v: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\"))
        out.append(UInt8(ascii: "u"))
        out.append(hexDigits[Int((v >> 12) & 0xF)])
        out.append(hexDigits[Int((v >> 8) & 0xF)])
        out.append(hexDigits[Int((v >> 4) & 0xF)])
        out.append(hexDigits[Int(v & 0xF)])
    }

    /// Writes a quoted JSON string as Python's json module does.
    static func writeString(_ s: String, escapeNonASCII: Bool, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        if escapeNonASCII {
            for scalar in s.unicodeScalars {
                let v = scalar.value
                if v < 0x80 {
                    appendEscapedASCII(UInt8(v), to: &out)
                } else if v < 0x10000 {
                    appendUnicodeEscape(v, to: &out)
                } else {
                    let u = v - 0x10000
                    appendUnicodeEscape(0xD800 + (u >> 10), to: &out)
                    appendUnicodeEscape(0xDC00 + (u & 0x3FF), to: &out)
                }
            }
        } else {
            for b in s.utf8 {
                if b < 0x80 { appendEscapedASCII(b, to: &out) } else { out.append(b) }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    static func appendEscapedASCII(_ b: UInt8, to out: inout [UInt8]) {
        switch b {
        case 0x22: out.append(0x5C); out.append(0x22)
        case 0x5C: out.append(0x5C); out.append(0x5C)
        case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
        case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
        case 0x08: out.append(0x5C); out.append(UInt8(ascii: "b"))
        case 0x0C: out.append(0x5C); out.append(UInt8(ascii: "f"))
        default:
            if b < 0x20 { appendUnicodeEscape(UInt32(b), to: &out) } else { out.append(b) }
        }
    }
}

/// Stable merge sort with a (typed) throwing comparator. O(n log n) comparisons.
func stableMergeSort<T, E: Error>(_ a: inout [T], by less: (T, T) throws(E) -> Bool) throws(E) {
    let n = a.count
    if n < 2 { return }
    var src = a
    var dst = a
    var width = 1
    while width < n {
        var lo = 0
        while lo < n {
            let mid = min(lo + width, n)
            let hi = min(lo + 2 * width, n)
            var i = lo
            var j = mid
            var k = lo
            while i < mid && j < hi {
                // Take from the right run only when strictly smaller (stability).
                if try less(src[j], src[i]) { dst[k] = src[j]; j += 1 } else { dst[k] = src[i]; i += 1 }
                k += 1
            }
            while i < mid { dst[k] = src[i]; i += 1; k += 1 }
            while j < hi { dst[k] = src[j]; j += 1; k += 1 }
            lo = hi
        }
        swap(&src, &dst)
        width *= 2
    }
    a = src
}

extension JSONValue: CustomStringConvertible {}
