// Strict RFC 8259 JSON parser with a nesting-depth limit and typed errors.

/// A JSON syntax error. `offset` is the byte offset in the input; `line` and `column`
/// are 1-based (column counts bytes).
public struct JSONError: Error, Equatable {
    public var message: String
    public var offset: Int
    public var line: Int
    public var column: Int

    public init(message: String, offset: Int, line: Int, column: Int) {
        self.message = message
        self.offset = offset
        self.line = line
        self.column = column
    }

    /// "message at line L, column C (offset O)".
    public var description: String {
        message + " at line " + String(line) + ", column " + String(column) + " (offset " + String(offset) + ")"
    }
}

extension JSONValue {
    /// Default maximum nesting depth of arrays/objects accepted by the parser.
    public static let defaultMaxDepth = 128

    /// Parses one JSON document from UTF-8 bytes (surrounding whitespace allowed).
    public init(parsing bytes: [UInt8], maxDepth: Int = JSONValue.defaultMaxDepth) throws(JSONError) {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        self = try parser.parseDocument()
    }

    /// Parses one JSON document from a string.
    public init(parsing text: String, maxDepth: Int = JSONValue.defaultMaxDepth) throws(JSONError) {
        try self.init(parsing: Array(text.utf8), maxDepth: maxDepth)
    }
}

struct JSONParser {
    let bytes: [UInt8]
    let maxDepth: Int
    var pos = 0
    var depth = 0

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    func error(_ message: String, at offset: Int? = nil) -> JSONError {
        let off = min(offset ?? pos, bytes.count)
        var line = 1
        var column = 1
        var i = 0
        while i < off {
            if bytes[i] == 0x0A { line += 1; column = 1 } else { column += 1 }
            i += 1
        }
        return JSONError(message: message, offset: off, line: line, column: column)
    }

    mutating func parseDocument() throws(JSONError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if pos < bytes.count { throw error("unexpected trailing characters") }
        return value
    }

    mutating func skipWhitespace() {
        while pos < bytes.count {
            let b = bytes[pos]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { pos += 1 } else { return }
        }
    }

    mutating func parseValue() throws(JSONError) -> JSONValue {
        guard pos < bytes.count else { throw error("unexpected end of input, expected a value") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character, expected a value")
        }
    }

    mutating func expectWord(_ word: StaticString) throws(JSONError) {
        let start = pos
        let count = word.utf8CodeUnitCount
        let p = word.utf8Start
        for i in 0..<count {
            if pos >= bytes.count || bytes[pos] != p[i] { throw error("invalid literal", at: start) }
            pos += 1
        }
    }

    mutating func enter() throws(JSONError) {
        depth += 1
        if depth > maxDepth { throw error("nesting depth exceeds " + String(maxDepth)) }
    }

    mutating func parseArray() throws(JSONError) -> JSONValue {
        try enter()
        pos += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") {
            pos += 1
            depth -= 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue())
            skipWhitespace()
            guard pos < bytes.count else { throw error("unexpected end of input in array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; break }
            throw error("expected ',' or ']' in array")
        }
        depth -= 1
        return .array(items)
    }

    mutating func parseObject() throws(JSONError) -> JSONValue {
        try enter()
        pos += 1
        var object = JSONObject()
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") {
            pos += 1
            depth -= 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else {
                throw error("expected a string key in object")
            }
            let key = try parseString()
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw error("expected ':' after object key") }
            pos += 1
            skipWhitespace()
            let value = try parseValue()
            object[key] = value
            skipWhitespace()
            guard pos < bytes.count else { throw error("unexpected end of input in object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; break }
            throw error("expected ',' or '}' in object")
        }
        depth -= 1
        return .object(object)
    }

    mutating func parseHex4() throws(JSONError) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[pos]
            let d: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    /// Parses a string starting at the opening quote. Invalid UTF-8 is replaced by U+FFFD,
    /// as are unpaired surrogate escapes (Swift strings cannot hold them).
    mutating func parseString() throws(JSONError) -> String {
        let start = pos
        pos += 1
        // Fast path: no escapes.
        var i = pos
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: bytes[pos..<i], as: UTF8.self)
                pos = i + 1
                return s
            }
            if b == UInt8(ascii: "\\") || b < 0x20 { break }
            i += 1
        }
        var buffer: [UInt8] = []
        buffer.append(contentsOf: bytes[pos..<i])
        pos = i
        while true {
            guard pos < bytes.count else { throw error("unterminated string", at: start) }
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") { pos += 1; break }
            if b < 0x20 { throw error("unescaped control character in string") }
            if b != UInt8(ascii: "\\") {
                buffer.append(b)
                pos += 1
                continue
            }
            pos += 1
            guard pos < bytes.count else { throw error("unterminated escape", at: start) }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): buffer.append(0x22)
            case UInt8(ascii: "\\"): buffer.append(0x5C)
            case UInt8(ascii: "/"): buffer.append(0x2F)
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if code >= 0xD800 && code < 0xDC00 {
                    // High surrogate: combine with a following low surrogate escape.
                    if pos + 6 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                        let save = pos
                        pos += 2
                        let low = try parseHex4()
                        if low >= 0xDC00 && low < 0xE000 {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            pos = save
                            code = 0xFFFD
                        }
                    } else {
                        code = 0xFFFD
                    }
                } else if code >= 0xDC00 && code < 0xE000 {
                    code = 0xFFFD
                }
                appendUTF8(code, to: &buffer)
            default:
                throw error("invalid escape character in string", at: pos - 1)
            }
        }
        return String(decoding: buffer, as: UTF8.self)
    }

    mutating func parseNumber() throws(JSONError) -> JSONValue {
        let start = pos
        var negative = false
        if bytes[pos] == UInt8(ascii: "-") { negative = true; pos += 1 }
        guard pos < bytes.count, isDigit(bytes[pos]) else { throw error("invalid number", at: start) }
        let intStart = pos
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
            if pos < bytes.count, isDigit(bytes[pos]) { throw error("leading zeros are not allowed", at: start) }
        } else {
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        }
        let intEnd = pos
        var fracStart = pos
        var fracEnd = pos
        var isFloat = false
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            fracStart = pos
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw error("expected digits after '.'", at: pos) }
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
            fracEnd = pos
            isFloat = true
        }
        var exponent = 0
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            pos += 1
            isFloat = true
            var expNegative = false
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") {
                expNegative = bytes[pos] == UInt8(ascii: "-")
                pos += 1
            }
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw error("expected digits in exponent", at: pos) }
            while pos < bytes.count, isDigit(bytes[pos]) {
                if exponent < 100_000_000 { exponent = exponent * 10 + Int(bytes[pos] - 48) }
                pos += 1
            }
            if expNegative { exponent = -exponent }
        }
        if !isFloat {
            var value = 0
            var overflow = false
            for k in intStart..<intEnd {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let digit = Int(bytes[k] - 48)
                let (s, o2) = negative ? m.subtractingReportingOverflow(digit) : m.addingReportingOverflow(digit)
                if o1 || o2 { overflow = true; break }
                value = s
            }
            if !overflow { return .integer(value) }
        }
        var digits: [UInt8] = []
        digits.reserveCapacity(intEnd - intStart + fracEnd - fracStart)
        for k in intStart..<intEnd { digits.append(bytes[k] - 48) }
        for k in fracStart..<fracEnd { digits.append(bytes[k] - 48) }
        let value = DecimalConversion.double(digits: digits, exponent: exponent - (fracEnd - fracStart))
        return .number(negative ? -value : value)
    }
}

@inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

/// Appends the UTF-8 encoding of a Unicode scalar value (invalid values become U+FFFD).
func appendUTF8(_ code: UInt32, to buffer: inout [UInt8]) {
    var c = code
    if c > 0x10FFFF || (c >= 0xD800 && c < 0xE000) { c = 0xFFFD }
    if c < 0x80 {
        buffer.append(UInt8(c))
    } else if c < 0x800 {
        buffer.append(UInt8(0xC0 | (c >> 6)))
        buffer.append(UInt8(0x80 | (c & 0x3F)))
    } else if c < 0x10000 {
        buffer.append(UInt8(0xE0 | (c >> 12)))
        buffer.append(UInt8(0x80 | ((c >> 6) & 0x3F)))
        buffer.append(UInt8(0x80 | (c & 0x3F)))
    } else {
        buffer.append(UInt8(0xF0 | (c >> 18)))
        buffer.append(UInt8(0x80 | ((c >> 12) & 0x3F)))
        buffer.append(UInt8(0x80 | ((c >> 6) & 0x3F)))
        buffer.append(UInt8(0x80 | (c & 0x3F)))
    }
}

extension JSONError: CustomStringConvertible {}
