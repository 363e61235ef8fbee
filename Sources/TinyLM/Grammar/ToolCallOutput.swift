/// Reading tool calls out of generated text, as the model families write them:
///
///     Qwen 2.5/3, Hermes   <tool_call>\n{"name": "f", "arguments": {…}}\n</tool_call>   (one block per call)
///     Llama 3.x            {"name": "f", "parameters": {…}}   (also after <|python_tag|>, several
///                          separated by ";"), and the built-in tools' <|python_tag|>f.call(k="v")
///     Phi-4-mini           <|tool_call|>[{"name": "f", "arguments": {…}}, …]<|/tool_call|>
///                          (the closing tag or the brackets may be missing), or functools[…]
///     no template format   {"name": "f", "arguments": {…}}
///
/// Text outside the wrappers is ignored; a wrapper that is missing altogether (a model that
/// skipped it, or a renderer that dropped special tokens) is not required.
extension ToolCalling {
    /// Parses generated text into OpenAI-shaped tool calls:
    /// `[{id, type: "function", function: {name, arguments: "<compact JSON>"}}]`.
    public static func parse(_ text: String, format: ToolCallFormat) throws(TinyLMError) -> JSONValue {
        let bytes = Array(text.utf8)
        var bodies: [ArraySlice<UInt8>] = []
        let prefix = Array(format.prefix.utf8), suffix = Array(format.suffix.utf8)
        if !prefix.isEmpty {
            var i = 0
            while let start = find(prefix, in: bytes, from: i) {
                let bodyStart = start + prefix.count
                let end = suffix.isEmpty ? nil : find(suffix, in: bytes, from: bodyStart)
                // A body without its closing tag runs to the next opening tag or the end.
                let stop = end ?? find(prefix, in: bytes, from: bodyStart) ?? bytes.count
                bodies.append(bytes[bodyStart..<stop])
                i = end.map { $0 + suffix.count } ?? stop
            }
        }
        if bodies.isEmpty { bodies.append(bytes[...]) }
        var calls: [JSONValue] = []
        for body in bodies {
            for (name, argumentsText) in try callsIn(body, argumentsKey: format.argumentsKey) {
                var hash: UInt32 = 0x811C_9DC5
                for b in body { hash = (hash ^ UInt32(b)) &* 0x0100_0193 }
                hash = (hash ^ UInt32(truncatingIfNeeded: calls.count)) &* 0x0100_0193
                calls.append(.object(JSONObject([
                    ("id", .string("call_" + hex(hash))), ("type", "function"),
                    ("function", .object(JSONObject([("name", .string(name)), ("arguments", .string(argumentsText))]))),
                ])))
            }
        }
        if calls.isEmpty {
            throw TinyLMError(.grammar, format.prefix.isEmpty ? "the output holds no tool call"
                                                              : "the output holds no tool call (no '\(format.prefix)')")
        }
        return .array(calls)
    }

    /// The calls in one body: JSON objects (or arrays of them) separated by whitespace, "," or
    /// ";", each `{"name": …, argumentsKey: …}`; or Python-style `name.call(k=v, …)` /
    /// `name(k=v, …)` calls. Each with its arguments' text: as the model wrote the JSON value
    /// (what a stream of the call sends piece by piece), the content of a JSON string holding
    /// them, or the compact JSON of Python-style keyword arguments.
    static func callsIn(_ body: ArraySlice<UInt8>, argumentsKey: String) throws(TinyLMError) -> [(String, String)] {
        var scanner = CallScanner(bytes: Array(body))
        var calls: [(String, String)] = []
        scanner.skip(["<|python_tag|>", "functools"])
        while true {
            scanner.skipSeparators()
            scanner.skip(["<|python_tag|>"])
            guard let byte = scanner.peek else { break }
            if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                let start = scanner.position
                let value = try scanner.json()
                let objectStarts = byte == UInt8(ascii: "[") ? Self.elementStarts(scanner.bytes, arrayAt: start) : [start]
                for (i, call) in (value.arrayValue ?? [value]).enumerated() {
                    guard let name = call["name"]?.stringValue else {
                        throw TinyLMError(.grammar, "the tool call has no \"name\"")
                    }
                    var key = argumentsKey
                    if call[key] == nil { key = call["arguments"] != nil ? "arguments" : "parameters" }
                    guard let arguments = call[key] else { calls.append((name, "{}")); continue }
                    if let text = arguments.stringValue {
                        calls.append((name, text))
                    } else if i < objectStarts.count, let raw = Self.memberText(key, objectAt: objectStarts[i], in: scanner.bytes) {
                        calls.append((name, raw))
                    } else {
                        calls.append((name, JSONSchemaGrammar.serialize(arguments)))
                    }
                }
            } else if CallScanner.isIdentifierStart(byte) {
                let (name, arguments) = try scanner.pythonCall()
                calls.append((name, JSONSchemaGrammar.serialize(arguments)))
            } else {
                throw TinyLMError(.grammar, "the tool call is neither JSON nor a function call: unexpected '\(String(decoding: [byte], as: UTF8.self))'")
            }
        }
        return calls
    }

    /// Where each element of the (valid) JSON array at `start` begins.
    static func elementStarts(_ bytes: [UInt8], arrayAt start: Int) -> [Int] {
        var parser = JSONParser(bytes: bytes, maxDepth: JSONValue.defaultMaxDepth)
        parser.pos = start + 1
        var starts: [Int] = []
        while true {
            parser.skipWhitespace()
            guard parser.pos < bytes.count, bytes[parser.pos] != UInt8(ascii: "]") else { return starts }
            starts.append(parser.pos)
            do { _ = try parser.parseValue() } catch { return starts }
            parser.skipWhitespace()
            guard parser.pos < bytes.count, bytes[parser.pos] == UInt8(ascii: ",") else { return starts }
            parser.pos += 1
        }
    }

    /// The text of the value of `key` (its last occurrence, as the parsed object keeps) in the
    /// (valid) JSON object at `start`, exactly as written.
    static func memberText(_ key: String, objectAt start: Int, in bytes: [UInt8]) -> String? {
        guard start < bytes.count, bytes[start] == UInt8(ascii: "{") else { return nil }
        var parser = JSONParser(bytes: bytes, maxDepth: JSONValue.defaultMaxDepth)
        parser.pos = start + 1
        var found: String? = nil
        while true {
            parser.skipWhitespace()
            guard parser.pos < bytes.count, bytes[parser.pos] == UInt8(ascii: "\"") else { return found }
            guard let name = try? parser.parseString() else { return found }
            parser.skipWhitespace()
            guard parser.pos < bytes.count, bytes[parser.pos] == UInt8(ascii: ":") else { return found }
            parser.pos += 1
            parser.skipWhitespace()
            let valueStart = parser.pos
            do { _ = try parser.parseValue() } catch { return found }
            if name == key { found = String(decoding: bytes[valueStart..<parser.pos], as: UTF8.self) }
            parser.skipWhitespace()
            guard parser.pos < bytes.count, bytes[parser.pos] == UInt8(ascii: ",") else { return found }
            parser.pos += 1
        }
    }

    private static func hex(_ v: UInt32) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for shift in stride(from: 28, through: 0, by: -4) { out.append(digits[Int((v >> UInt32(shift)) & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        for start in from...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start }
        }
        return nil
    }
}

/// Reads one tool-call body left to right.
private struct CallScanner {
    let bytes: [UInt8]
    var position = 0

    var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    static func isIdentifierStart(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || b == 0x5F
    }

    static func isIdentifier(_ b: UInt8) -> Bool { isIdentifierStart(b) || (b >= 0x30 && b <= 0x39) }

    mutating func skipWhitespace() {
        while let b = peek, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { position += 1 }
    }

    mutating func skipSeparators() {
        while let b = peek, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 || b == UInt8(ascii: ",") || b == UInt8(ascii: ";") {
            position += 1
        }
    }

    /// Skips any of `words` (and whitespace around them) at the current position.
    mutating func skip(_ words: [String]) {
        skipWhitespace()
        for word in words {
            let w = Array(word.utf8)
            if bytes.count - position >= w.count && bytes[position..<(position + w.count)].elementsEqual(w) {
                position += w.count
                skipWhitespace()
            }
        }
    }

    mutating func json() throws(TinyLMError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maxDepth: JSONValue.defaultMaxDepth)
        parser.pos = position
        do {
            let value = try parser.parseValue()
            position = parser.pos
            return value
        } catch {
            throw TinyLMError(.grammar, "the tool call is not valid JSON: \(error.description)")
        }
    }

    /// `name.call(k=v, …)` (Llama 3.1's built-in tools) or `name(k=v, …)`: the name without
    /// ".call", and the keyword arguments as an object (values: Python strings, numbers,
    /// True/False/None, or JSON).
    mutating func pythonCall() throws(TinyLMError) -> (String, JSONValue) {
        let start = position
        while let b = peek, Self.isIdentifier(b) || b == UInt8(ascii: ".") { position += 1 }
        var name = String(decoding: bytes[start..<position], as: UTF8.self)
        if name.hasSuffix(".call") { name = String(name.dropLast(5)) }
        guard peek == UInt8(ascii: "(") else { throw TinyLMError(.grammar, "the tool call '\(name)' has no argument list") }
        position += 1
        var arguments = JSONObject()
        while true {
            skipWhitespace()
            if peek == UInt8(ascii: ")") { position += 1; break }
            let keyStart = position
            while let b = peek, Self.isIdentifier(b) { position += 1 }
            guard position > keyStart else { throw TinyLMError(.grammar, "the call to '\(name)' has a malformed argument list") }
            let key = String(decoding: bytes[keyStart..<position], as: UTF8.self)
            skipWhitespace()
            guard peek == UInt8(ascii: "=") else { throw TinyLMError(.grammar, "argument '\(key)' of '\(name)' has no value") }
            position += 1
            skipWhitespace()
            arguments[key] = try pythonValue()
            skipWhitespace()
            if peek == UInt8(ascii: ",") { position += 1 } else if peek != UInt8(ascii: ")") {
                throw TinyLMError(.grammar, "the call to '\(name)' is not closed")
            }
        }
        return (name, .object(arguments))
    }

    mutating func pythonValue() throws(TinyLMError) -> JSONValue {
        guard let b = peek else { throw TinyLMError(.grammar, "a call argument has no value") }
        if b == UInt8(ascii: "'") || b == UInt8(ascii: "\"") {
            position += 1
            var out: [UInt8] = []
            while let c = peek, c != b {
                if c == UInt8(ascii: "\\"), position + 1 < bytes.count {
                    position += 1
                    let e = bytes[position]
                    out.append(e == UInt8(ascii: "n") ? 0x0A : e == UInt8(ascii: "t") ? 0x09 : e)
                } else {
                    out.append(c)
                }
                position += 1
            }
            guard peek == b else { throw TinyLMError(.grammar, "a string argument is not closed") }
            position += 1
            return .string(String(decoding: out, as: UTF8.self))
        }
        for (word, value) in [("True", JSONValue.bool(true)), ("False", .bool(false)), ("None", .null)] {
            let w = Array(word.utf8)
            if bytes.count - position >= w.count && bytes[position..<(position + w.count)].elementsEqual(w) {
                position += w.count
                return value
            }
        }
        return try json()
    }
}
