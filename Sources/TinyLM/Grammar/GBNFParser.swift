/// Parses grammars in llama.cpp's GBNF format:
///
///     root   ::= object
///     object ::= "{" ws ( pair ( "," ws pair )* )? "}"   # comments run to the end of a line
///     pair   ::= string ":" ws value
///     string ::= "\"" [^"\\]* "\""
///     ws     ::= [ \t\n]{0,2}
///
/// Terminals are strings (`"…"`) and character classes (`[a-z]`, `[^"\\]`, escapes `\n \t \r
/// \\ \" \[ \] \xHH \uHHHH \UHHHHHHHH`) and `.` (any character); groups `( … )`,
/// alternatives `|`, repetition `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}`. A rule's definition runs
/// until the next `name ::=`, so it may span lines. Errors give the line and column.
public enum GBNFParser {
    public static func parse(_ text: String, root: String = "root") throws(TinyLMError) -> Grammar {
        var parser = Parser(bytes: Array(text.utf8))
        let rules = try parser.parseRules()
        guard rules.contains(where: { $0.name == root }) else {
            throw TinyLMError(.grammar, "the grammar has no '\(root)' rule (write '\(root) ::= …')")
        }
        return try Grammar(rules: rules, root: root)
    }

    /// The rules of a GBNF text, unchecked (for combining with other rules).
    public static func rules(_ text: String) throws(TinyLMError) -> [GrammarRule] {
        var parser = Parser(bytes: Array(text.utf8))
        return try parser.parseRules()
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0
        var references: [(name: String, at: Int)] = []

        init(bytes: [UInt8]) { self.bytes = bytes }

        func error(_ message: String, at offset: Int? = nil) -> TinyLMError {
            let at = min(offset ?? i, bytes.count)
            var line = 1, column = 1
            for k in 0..<at {
                if bytes[k] == 0x0A { line += 1; column = 1 } else if bytes[k] & 0xC0 != 0x80 { column += 1 }
            }
            return TinyLMError(.grammar, "grammar line \(line), column \(column): \(message)")
        }

        var atEnd: Bool { i >= bytes.count }
        var current: UInt8 { bytes[i] }

        static func isNameByte(_ b: UInt8) -> Bool {
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x5F
        }

        mutating func skipSpace() {
            while i < bytes.count {
                let b = bytes[i]
                if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D {
                    i += 1
                } else if b == 0x23 {  // '#'
                    while i < bytes.count && bytes[i] != 0x0A { i += 1 }
                } else {
                    break
                }
            }
        }

        mutating func name() -> String? {
            let start = i
            while i < bytes.count && Self.isNameByte(bytes[i]) { i += 1 }
            return i > start ? String(decoding: bytes[start..<i], as: UTF8.self) : nil
        }

        /// Whether a `name ::=` starts at the current position.
        func atRuleStart() -> Bool {
            var j = i
            while j < bytes.count && Self.isNameByte(bytes[j]) { j += 1 }
            if j == i { return false }
            while j < bytes.count && (bytes[j] == 0x20 || bytes[j] == 0x09 || bytes[j] == 0x0A || bytes[j] == 0x0D) { j += 1 }
            return j + 2 < bytes.count && bytes[j] == 0x3A && bytes[j + 1] == 0x3A && bytes[j + 2] == 0x3D
        }

        mutating func parseRules() throws(TinyLMError) -> [GrammarRule] {
            var rules: [GrammarRule] = []
            var defined: [String: Int] = [:]
            skipSpace()
            if atEnd { throw error("the grammar is empty") }
            while !atEnd {
                let start = i
                guard let ruleName = name() else { throw error("expected a rule name") }
                if defined[ruleName] != nil { throw error("rule '\(ruleName)' is defined twice", at: start) }
                defined[ruleName] = start
                skipSpace()
                guard i + 3 <= bytes.count, bytes[i] == 0x3A, bytes[i + 1] == 0x3A, bytes[i + 2] == 0x3D else {
                    throw error("expected '::=' after rule name '\(ruleName)'")
                }
                i += 3
                skipSpace()
                let e = try alternatives(depth: 0)
                rules.append(GrammarRule(ruleName, e))
                skipSpace()
            }
            for r in references where defined[r.name] == nil {
                throw error("undefined rule '\(r.name)'", at: r.at)
            }
            return rules
        }

        mutating func alternatives(depth: Int) throws(TinyLMError) -> GrammarExpression {
            guard depth < 200 else { throw error("groups are nested too deeply") }
            var options: [GrammarExpression] = [try sequence(depth: depth)]
            while !atEnd && current == 0x7C {  // '|'
                i += 1
                skipSpace()
                options.append(try sequence(depth: depth))
            }
            return options.count == 1 ? options[0] : .choice(options)
        }

        mutating func sequence(depth: Int) throws(TinyLMError) -> GrammarExpression {
            var items: [GrammarExpression] = []
            while !atEnd {
                let b = current
                if b == 0x7C || b == 0x29 { break }  // '|' ')'
                if Self.isNameByte(b) && atRuleStart() { break }
                var item = try primary(depth: depth)
                skipSpace()
                item = try postfix(item)
                items.append(item)
            }
            return items.count == 1 ? items[0] : .sequence(items)
        }

        mutating func postfix(_ base: GrammarExpression) throws(TinyLMError) -> GrammarExpression {
            var e = base
            while !atEnd {
                switch current {
                case 0x2A: e = .zeroOrMore(e); i += 1  // '*'
                case 0x2B: e = .oneOrMore(e); i += 1  // '+'
                case 0x3F: e = .optional(e); i += 1  // '?'
                case 0x7B:  // '{'
                    let open = i
                    i += 1
                    skipSpace()
                    let min = try number() ?? 0
                    skipSpace()
                    var max: Int? = min
                    if !atEnd && current == 0x2C {  // ','
                        i += 1
                        skipSpace()
                        max = try number()
                        skipSpace()
                    }
                    guard !atEnd && current == 0x7D else { throw error("expected '}' to close the repetition", at: open) }
                    i += 1
                    if let max, max < min { throw error("repetition {\(min),\(max)} has its maximum below its minimum", at: open) }
                    e = .repetition(e, min: min, max: max)
                default:
                    return e
                }
                skipSpace()
            }
            return e
        }

        mutating func number() throws(TinyLMError) -> Int? {
            let start = i
            var value = 0
            while !atEnd && current >= 0x30 && current <= 0x39 {
                value = value * 10 + Int(current - 0x30)
                if value > 100_000 { throw error("repetition count too large", at: start) }
                i += 1
            }
            return i > start ? value : nil
        }

        mutating func primary(depth: Int) throws(TinyLMError) -> GrammarExpression {
            let b = current
            switch b {
            case 0x22:  // '"'
                let open = i
                i += 1
                var literal: [UInt8] = []
                while true {
                    guard !atEnd else { throw error("unterminated string (missing '\"')", at: open) }
                    let c = current
                    if c == 0x22 { i += 1; break }
                    if c == 0x0A { throw error("unterminated string (missing '\"' before the end of the line)", at: open) }
                    if c == 0x5C {
                        literal += UTF8Ranges.encode(try escape())
                    } else {
                        literal.append(c)
                        i += 1
                    }
                }
                return .literal(literal)
            case 0x5B:  // '['
                let open = i
                i += 1
                var negated = false
                if !atEnd && current == 0x5E { negated = true; i += 1 }
                var ranges: [ClosedRange<UInt32>] = []
                while true {
                    guard !atEnd else { throw error("unterminated character class (missing ']')", at: open) }
                    if current == 0x5D { i += 1; break }
                    let lo = try classCharacter()
                    var hi = lo
                    if i + 1 < bytes.count && current == 0x2D && bytes[i + 1] != 0x5D {  // '-' not before ']'
                        i += 1
                        hi = try classCharacter()
                        if hi < lo { throw error("character range is reversed", at: open) }
                    }
                    ranges.append(lo...hi)
                }
                if ranges.isEmpty && !negated { throw error("empty character class matches nothing", at: open) }
                return .characters(ranges, negated: negated)
            case 0x28:  // '('
                let open = i
                i += 1
                skipSpace()
                let e = try alternatives(depth: depth + 1)
                guard !atEnd && current == 0x29 else { throw error("expected ')' to close the group", at: open) }
                i += 1
                return e
            case 0x2E:  // '.'
                i += 1
                return .anyCharacter
            default:
                if Self.isNameByte(b) {
                    let at = i
                    let n = name()!
                    references.append((n, at))
                    return .reference(n)
                }
                throw error("unexpected '\(String(decoding: [b], as: UTF8.self))'")
            }
        }

        mutating func classCharacter() throws(TinyLMError) -> UInt32 {
            if current == 0x5C { return try escape() }
            return decodeScalar()
        }

        /// One UTF-8 character at `i` as a scalar value.
        mutating func decodeScalar() -> UInt32 {
            let b0 = UInt32(current)
            var n = 1
            var value = b0
            if b0 >= 0xF0 { n = 4; value = b0 & 0x07 } else if b0 >= 0xE0 { n = 3; value = b0 & 0x0F } else if b0 >= 0xC0 { n = 2; value = b0 & 0x1F }
            i += 1
            for _ in 1..<n {
                guard !atEnd, current & 0xC0 == 0x80 else { return 0xFFFD }
                value = (value << 6) | UInt32(current & 0x3F)
                i += 1
            }
            return value
        }

        mutating func escape() throws(TinyLMError) -> UInt32 {
            let start = i
            i += 1
            guard !atEnd else { throw error("unfinished escape", at: start) }
            let c = current
            i += 1
            switch c {
            case 0x6E: return 0x0A  // n
            case 0x72: return 0x0D  // r
            case 0x74: return 0x09  // t
            case 0x30: return 0  // 0
            case 0x78: return try hex(2, start)  // x
            case 0x75: return try hex(4, start)  // u
            case 0x55: return try hex(8, start)  // U
            case 0x5C, 0x22, 0x5B, 0x5D, 0x2D, 0x5E, 0x2F, 0x27: return UInt32(c)
            default:
                throw error("unknown escape '\\\(String(decoding: [c], as: UTF8.self))'", at: start)
            }
        }

        mutating func hex(_ count: Int, _ start: Int) throws(TinyLMError) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<count {
                guard !atEnd else { throw error("expected \(count) hex digits", at: start) }
                let c = current
                let d: UInt32
                if c >= 0x30 && c <= 0x39 { d = UInt32(c - 0x30) } else if c >= 0x61 && c <= 0x66 { d = UInt32(c - 0x61 + 10) } else if c >= 0x41 && c <= 0x46 { d = UInt32(c - 0x41 + 10) } else {
                    throw error("expected \(count) hex digits", at: start)
                }
                value = value << 4 | d
                i += 1
            }
            guard value <= 0x10FFFF else { throw error("escape is beyond U+10FFFF", at: start) }
            return value
        }
    }
}
