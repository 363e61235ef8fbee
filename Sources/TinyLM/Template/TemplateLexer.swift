// Tokenizer for the Jinja subset, reproducing jinja2's lexer with the settings Hugging Face
// transformers uses for chat templates: trim_blocks=True, lstrip_blocks=True,
// keep_trailing_newline=False, whitespace control with `-` and `+`.

enum TemplateOperator: Equatable {
    case add, sub, div, floorDiv, mul, pow, mod, tilde
    case lbracket, rbracket, lparen, rparen, lbrace, rbrace
    case eq, ne, gt, gteq, lt, lteq, assign, dot, colon, pipe, comma, semicolon
}

enum TemplateTokenKind: Equatable {
    case data
    case variableBegin, variableEnd, blockBegin, blockEnd
    case name, string, integer, float
    case op(TemplateOperator)
    case eof
}

struct TemplateToken {
    var kind: TemplateTokenKind
    /// Text of data, name and string tokens.
    var text: String = ""
    var intValue: Int = 0
    var floatValue: Double = 0
    var line: Int
}

struct TemplateLexer {
    var src: [UInt8] = []
    var pos = 0
    var line = 1
    var tokens: [TemplateToken] = []

    static func tokenize(_ source: String) throws(TemplateError) -> [TemplateToken] {
        var lexer = TemplateLexer()
        lexer.src = TemplateLexer.normalizeNewlines(source)
        try lexer.run()
        return lexer.tokens
    }

    /// \r\n and \r become \n; one trailing newline is dropped (keep_trailing_newline=False).
    static func normalizeNewlines(_ source: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(source.utf8.count)
        var previousCR = false
        for b in source.utf8 {
            if b == 0x0D {
                out.append(0x0A)
                previousCR = true
                continue
            }
            if b == 0x0A && previousCR { previousCR = false; continue }
            previousCR = false
            out.append(b)
        }
        if out.last == 0x0A { out.removeLast() }
        return out
    }

    func fail(_ message: String) -> TemplateError {
        TemplateError(.syntax, message, line: line)
    }

    func string(_ start: Int, _ end: Int) -> String {
        String(decoding: src[start..<end], as: UTF8.self)
    }

    mutating func advanceCountingLines(to end: Int) {
        while pos < end {
            if src[pos] == 0x0A { line += 1 }
            pos += 1
        }
    }

    mutating func emitData(_ start: Int, _ end: Int, line dataLine: Int) {
        if end > start {
            tokens.append(TemplateToken(kind: .data, text: string(start, end), line: dataLine))
        }
    }

    // MARK: root state

    mutating func run() throws(TemplateError) {
        let n = src.count
        var lineStarting = true
        while pos < n {
            // Find the next tag opener.
            var i = pos
            var found = -1
            while i + 1 < n {
                if src[i] == UInt8(ascii: "{") {
                    let c = src[i + 1]
                    if c == UInt8(ascii: "{") || c == UInt8(ascii: "%") || c == UInt8(ascii: "#") { found = i; break }
                }
                i += 1
            }
            if found < 0 {
                let startLine = line
                let start = pos
                advanceCountingLines(to: n)
                emitData(start, n, line: startLine)
                break
            }
            let kind = src[found + 1]
            var sign: UInt8 = 0
            if found + 2 < n, src[found + 2] == UInt8(ascii: "-") || src[found + 2] == UInt8(ascii: "+") {
                sign = src[found + 2]
            }
            // Text before the tag, with whitespace control applied.
            let textStart = pos
            var textEnd = found
            if sign == UInt8(ascii: "-") {
                textEnd = pythonRStripEnd(src, textStart, textEnd)
            } else if sign != UInt8(ascii: "+") && kind != UInt8(ascii: "{") {
                // lstrip_blocks: drop spaces/tabs between a line start and a block/comment tag.
                var lPos = textStart
                var k = textEnd
                while k > textStart {
                    if src[k - 1] == 0x0A { lPos = k; break }
                    k -= 1
                }
                if lPos > textStart || lineStarting {
                    if lPos < textEnd && isAllPythonWhitespace(src, lPos, textEnd) { textEnd = lPos }
                }
            }
            let dataLine = line
            advanceCountingLines(to: found)
            emitData(textStart, textEnd, line: dataLine)
            let openerLength = sign != 0 ? 3 : 2
            pos = found + openerLength
            if kind == UInt8(ascii: "#") {
                lineStarting = try lexComment()
            } else if kind == UInt8(ascii: "%"), let rawEnd = matchRawBegin() {
                pos = rawEnd
                lineStarting = try lexRaw()
            } else {
                lineStarting = try lexTag(isBlock: kind == UInt8(ascii: "%"))
            }
        }
        tokens.append(TemplateToken(kind: .eof, line: line))
    }

    /// After `{#`: skips to `#}` and applies the closing whitespace control.
    mutating func lexComment() throws(TemplateError) -> Bool {
        let n = src.count
        var i = pos
        while i + 1 < n {
            if src[i] == UInt8(ascii: "#") && src[i + 1] == UInt8(ascii: "}") { break }
            i += 1
        }
        if i + 1 >= n { throw fail("missing end of comment tag") }
        let marker: UInt8 = i > pos ? src[i - 1] : 0
        advanceCountingLines(to: i + 2)
        return applyTagEnd(marker: marker, trimNewline: true)
    }

    /// Applies `-`/`+`/plain end-of-tag whitespace handling at `pos` (just after the tag end)
    /// and returns whether the consumed text ends with a newline (jinja2's line_starting).
    mutating func applyTagEnd(marker: UInt8, trimNewline: Bool) -> Bool {
        if marker == UInt8(ascii: "-") {
            let start = pos
            let end = pythonWhitespaceRunEnd(src, pos)
            advanceCountingLines(to: end)
            if end > start { return src[end - 1] == 0x0A }
            return false
        }
        if marker != UInt8(ascii: "+") && trimNewline && pos < src.count && src[pos] == 0x0A {
            advanceCountingLines(to: pos + 1)
            return true
        }
        return false
    }

    /// If a `raw` tag starts at `pos` (after `{%` and its sign), returns the offset after its `%}`.
    mutating func matchRawBegin() -> Int? {
        var i = pythonWhitespaceRunEnd(src, pos)
        guard i + 3 <= src.count, src[i] == UInt8(ascii: "r"), src[i + 1] == UInt8(ascii: "a"), src[i + 2] == UInt8(ascii: "w") else { return nil }
        i += 3
        i = pythonWhitespaceRunEnd(src, i)
        if i + 2 < src.count, src[i] == UInt8(ascii: "-"), src[i + 1] == UInt8(ascii: "%"), src[i + 2] == UInt8(ascii: "}") {
            return pythonWhitespaceRunEnd(src, i + 3)
        }
        if i + 1 < src.count, src[i] == UInt8(ascii: "%"), src[i + 1] == UInt8(ascii: "}") { return i + 2 }
        return nil
    }

    /// Raw block body up to `{% endraw %}`.
    mutating func lexRaw() throws(TemplateError) -> Bool {
        let n = src.count
        var i = pos
        while i + 1 < n {
            if src[i] == UInt8(ascii: "{") && src[i + 1] == UInt8(ascii: "%") {
                var j = i + 2
                var sign: UInt8 = 0
                if j < n, src[j] == UInt8(ascii: "-") || src[j] == UInt8(ascii: "+") { sign = src[j]; j += 1 }
                j = pythonWhitespaceRunEnd(src, j)
                if j + 6 <= n, string(j, j + 6) == "endraw" {
                    var k = pythonWhitespaceRunEnd(src, j + 6)
                    var marker: UInt8 = 0
                    if k < n, src[k] == UInt8(ascii: "-") || src[k] == UInt8(ascii: "+") { marker = src[k]; k += 1 }
                    if k + 1 < n, src[k] == UInt8(ascii: "%"), src[k + 1] == UInt8(ascii: "}") {
                        var textEnd = i
                        if sign == UInt8(ascii: "-") { textEnd = pythonRStripEnd(src, pos, i) }
                        let dataLine = line
                        let start = pos
                        advanceCountingLines(to: k + 2)
                        emitData(start, textEnd, line: dataLine)
                        return applyTagEnd(marker: marker, trimNewline: true)
                    }
                }
            }
            i += 1
        }
        throw fail("missing end of raw directive")
    }

    // MARK: tag state

    mutating func lexTag(isBlock: Bool) throws(TemplateError) -> Bool {
        tokens.append(TemplateToken(kind: isBlock ? .blockBegin : .variableBegin, line: line))
        let n = src.count
        var balance: [UInt8] = []
        while true {
            if pos >= n { throw fail(isBlock ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'") }
            let c = src[pos]
            if balance.isEmpty {
                let closer = isBlock ? UInt8(ascii: "%") : UInt8(ascii: "}")
                if c == UInt8(ascii: "-") || (isBlock && c == UInt8(ascii: "+")),
                   pos + 2 < n, src[pos + 1] == closer, src[pos + 2] == UInt8(ascii: "}")
                {
                    tokens.append(TemplateToken(kind: isBlock ? .blockEnd : .variableEnd, line: line))
                    pos += 3
                    return applyTagEnd(marker: c, trimNewline: isBlock)
                }
                if c == closer, pos + 1 < n, src[pos + 1] == UInt8(ascii: "}") {
                    tokens.append(TemplateToken(kind: isBlock ? .blockEnd : .variableEnd, line: line))
                    pos += 2
                    return applyTagEnd(marker: 0, trimNewline: isBlock)
                }
            }
            let ws = pythonWhitespaceLength(src, pos)
            if ws > 0 {
                advanceCountingLines(to: pos + ws)
                continue
            }
            if isDigit(c) {
                try lexNumber()
                continue
            }
            if isNameStart(c) {
                let start = pos
                while pos < n, isNameContinue(src[pos]) { pos += 1 }
                tokens.append(TemplateToken(kind: .name, text: string(start, pos), line: line))
                continue
            }
            if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
                try lexString(quote: c)
                continue
            }
            let op = try lexOperator()
            switch op {
            case .lparen: balance.append(UInt8(ascii: ")"))
            case .lbracket: balance.append(UInt8(ascii: "]"))
            case .lbrace: balance.append(UInt8(ascii: "}"))
            case .rparen, .rbracket, .rbrace:
                let expected: UInt8 = op == .rparen ? UInt8(ascii: ")") : op == .rbracket ? UInt8(ascii: "]") : UInt8(ascii: "}")
                guard let last = balance.last else { throw fail("unexpected '" + String(decoding: [expected], as: UTF8.self) + "'") }
                if last != expected {
                    throw fail("unexpected '" + String(decoding: [expected], as: UTF8.self) + "', expected '" + String(decoding: [last], as: UTF8.self) + "'")
                }
                balance.removeLast()
            default: break
            }
            tokens.append(TemplateToken(kind: .op(op), line: line))
        }
    }

    func isNameStart(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || c == UInt8(ascii: "_") || c >= 0x80
    }

    func isNameContinue(_ c: UInt8) -> Bool { isNameStart(c) || isDigit(c) }

    mutating func lexOperator() throws(TemplateError) -> TemplateOperator {
        let c = src[pos]
        let next: UInt8 = pos + 1 < src.count ? src[pos + 1] : 0
        var length = 1
        let op: TemplateOperator
        switch c {
        case UInt8(ascii: "+"): op = .add
        case UInt8(ascii: "-"): op = .sub
        case UInt8(ascii: "/"):
            if next == UInt8(ascii: "/") { op = .floorDiv; length = 2 } else { op = .div }
        case UInt8(ascii: "*"):
            if next == UInt8(ascii: "*") { op = .pow; length = 2 } else { op = .mul }
        case UInt8(ascii: "%"): op = .mod
        case UInt8(ascii: "~"): op = .tilde
        case UInt8(ascii: "["): op = .lbracket
        case UInt8(ascii: "]"): op = .rbracket
        case UInt8(ascii: "("): op = .lparen
        case UInt8(ascii: ")"): op = .rparen
        case UInt8(ascii: "{"): op = .lbrace
        case UInt8(ascii: "}"): op = .rbrace
        case UInt8(ascii: "="):
            if next == UInt8(ascii: "=") { op = .eq; length = 2 } else { op = .assign }
        case UInt8(ascii: "!"):
            guard next == UInt8(ascii: "=") else { throw fail("unexpected character '!'") }
            op = .ne
            length = 2
        case UInt8(ascii: ">"):
            if next == UInt8(ascii: "=") { op = .gteq; length = 2 } else { op = .gt }
        case UInt8(ascii: "<"):
            if next == UInt8(ascii: "=") { op = .lteq; length = 2 } else { op = .lt }
        case UInt8(ascii: "."): op = .dot
        case UInt8(ascii: ":"): op = .colon
        case UInt8(ascii: "|"): op = .pipe
        case UInt8(ascii: ","): op = .comma
        case UInt8(ascii: ";"): op = .semicolon
        default:
            throw fail("unexpected character '" + String(decoding: [c], as: UTF8.self) + "'")
        }
        pos += length
        return op
    }

    /// Reads `(\d+_)*\d+` starting at pos; returns the digits without underscores.
    mutating func readDigitRun() -> [UInt8] {
        var digits: [UInt8] = []
        while pos < src.count {
            let c = src[pos]
            if isDigit(c) {
                digits.append(c - 48)
                pos += 1
            } else if c == UInt8(ascii: "_"), pos + 1 < src.count, isDigit(src[pos + 1]), !digits.isEmpty {
                pos += 1
            } else {
                break
            }
        }
        return digits
    }

    mutating func lexNumber() throws(TemplateError) {
        let n = src.count
        // Prefixed integers: 0x, 0o, 0b.
        if src[pos] == UInt8(ascii: "0"), pos + 1 < n {
            let p = src[pos + 1] | 0x20
            var radix = 0
            if p == UInt8(ascii: "x") { radix = 16 } else if p == UInt8(ascii: "o") { radix = 8 } else if p == UInt8(ascii: "b") { radix = 2 }
            if radix != 0 {
                var i = pos + 2
                var value = 0
                var any = false
                while i < n {
                    let c = src[i]
                    if c == UInt8(ascii: "_") { i += 1; continue }
                    var d = -1
                    if isDigit(c) { d = Int(c - 48) } else if (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "f") { d = Int((c | 0x20) - UInt8(ascii: "a")) + 10 }
                    if d < 0 || d >= radix { break }
                    let (m, o1) = value.multipliedReportingOverflow(by: radix)
                    let (s, o2) = m.addingReportingOverflow(d)
                    if o1 || o2 { throw fail("integer literal is too large") }
                    value = s
                    any = true
                    i += 1
                }
                if any {
                    pos = i
                    tokens.append(TemplateToken(kind: .integer, intValue: value, line: line))
                    return
                }
            }
        }
        let intDigits = readDigitRun()
        var fracDigits: [UInt8] = []
        var isFloat = false
        var exponent = 0
        if pos + 1 < n, src[pos] == UInt8(ascii: "."), isDigit(src[pos + 1]) {
            pos += 1
            fracDigits = readDigitRun()
            isFloat = true
        }
        if pos < n, src[pos] | 0x20 == UInt8(ascii: "e") {
            var i = pos + 1
            var negative = false
            if i < n, src[i] == UInt8(ascii: "+") || src[i] == UInt8(ascii: "-") { negative = src[i] == UInt8(ascii: "-"); i += 1 }
            if i < n, isDigit(src[i]) {
                pos = i
                let expDigits = readDigitRun()
                for d in expDigits where exponent < 100_000 { exponent = exponent * 10 + Int(d) }
                if negative { exponent = -exponent }
                isFloat = true
            }
        }
        if isFloat {
            let value = DecimalConversion.double(digits: intDigits + fracDigits, exponent: exponent - fracDigits.count)
            tokens.append(TemplateToken(kind: .float, floatValue: value, line: line))
            return
        }
        var value = 0
        for d in intDigits {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(d))
            if o1 || o2 { throw fail("integer literal is too large") }
            value = s
        }
        tokens.append(TemplateToken(kind: .integer, intValue: value, line: line))
    }

    /// String literal with Python unicode-escape semantics for backslash sequences.
    mutating func lexString(quote: UInt8) throws(TemplateError) {
        let startLine = line
        let n = src.count
        pos += 1
        var out: [UInt8] = []
        while true {
            guard pos < n else {
                line = startLine
                throw fail("unexpected end of string")
            }
            let c = src[pos]
            if c == quote { pos += 1; break }
            if c == 0x0A { line += 1 }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                pos += 1
                continue
            }
            guard pos + 1 < n else { throw fail("unexpected end of string") }
            let e = src[pos + 1]
            pos += 2
            switch e {
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "'"): out.append(0x27)
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "v"): out.append(0x0B)
            case 0x0A: line += 1  // line continuation
            case UInt8(ascii: "N"): throw fail("named Unicode escapes (\\N{...}) are not supported")
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var v = UInt32(e - 48)
                var k = 0
                while k < 2, pos < n, src[pos] >= UInt8(ascii: "0"), src[pos] <= UInt8(ascii: "7") {
                    v = v * 8 + UInt32(src[pos] - 48)
                    pos += 1
                    k += 1
                }
                appendUTF8(v, to: &out)
            case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                let count = e == UInt8(ascii: "x") ? 2 : e == UInt8(ascii: "u") ? 4 : 8
                var v: UInt32 = 0
                for _ in 0..<count {
                    guard pos < n, let d = hexValue(src[pos]) else { throw fail("truncated \\" + String(decoding: [e], as: UTF8.self) + " escape in string literal") }
                    v = v << 4 | d
                    pos += 1
                }
                if v > 0x10FFFF { throw fail("illegal Unicode character in string literal") }
                appendUTF8(v, to: &out)
            default:
                out.append(0x5C)
                out.append(e)
            }
        }
        tokens.append(TemplateToken(kind: .string, text: String(decoding: out, as: UTF8.self), line: startLine))
    }

    func hexValue(_ c: UInt8) -> UInt32? {
        if isDigit(c) { return UInt32(c - 48) }
        let l = c | 0x20
        if l >= UInt8(ascii: "a") && l <= UInt8(ascii: "f") { return UInt32(l - UInt8(ascii: "a") + 10) }
        return nil
    }
}

// MARK: Python whitespace (str.isspace) on UTF-8 bytes

/// Byte length of the Python whitespace character at `i`, or 0.
func pythonWhitespaceLength(_ s: [UInt8], _ i: Int) -> Int {
    let n = s.count
    guard i < n else { return 0 }
    let c = s[i]
    if c < 0x80 {
        return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) ? 1 : 0
    }
    if c == 0xC2, i + 1 < n { return s[i + 1] == 0x85 || s[i + 1] == 0xA0 ? 2 : 0 }
    if c == 0xE1, i + 2 < n { return s[i + 1] == 0x9A && s[i + 2] == 0x80 ? 3 : 0 }
    if c == 0xE2, i + 2 < n {
        let b1 = s[i + 1], b2 = s[i + 2]
        if b1 == 0x80 && ((b2 >= 0x80 && b2 <= 0x8A) || b2 == 0xA8 || b2 == 0xA9 || b2 == 0xAF) { return 3 }
        if b1 == 0x81 && b2 == 0x9F { return 3 }
        return 0
    }
    if c == 0xE3, i + 2 < n { return s[i + 1] == 0x80 && s[i + 2] == 0x80 ? 3 : 0 }
    return 0
}

/// End of the run of Python whitespace starting at `i`.
func pythonWhitespaceRunEnd(_ s: [UInt8], _ i: Int) -> Int {
    var p = i
    while true {
        let w = pythonWhitespaceLength(s, p)
        if w == 0 { return p }
        p += w
    }
}

/// End offset of `s[start..<end]` after Python `rstrip()`.
func pythonRStripEnd(_ s: [UInt8], _ start: Int, _ end: Int) -> Int {
    var p = start
    var lastNonSpace = start
    while p < end {
        let w = pythonWhitespaceLength(s, p)
        if w > 0 && p + w <= end {
            p += w
        } else {
            p += utf8SequenceLength(s[p])
            lastNonSpace = min(p, end)
        }
    }
    return lastNonSpace
}

func isAllPythonWhitespace(_ s: [UInt8], _ start: Int, _ end: Int) -> Bool {
    var p = start
    while p < end {
        let w = pythonWhitespaceLength(s, p)
        if w == 0 { return false }
        p += w
    }
    return true
}

@inline(__always) func utf8SequenceLength(_ lead: UInt8) -> Int {
    if lead < 0x80 { return 1 }
    if lead < 0xE0 { return 2 }
    if lead < 0xF0 { return 3 }
    return 4
}
