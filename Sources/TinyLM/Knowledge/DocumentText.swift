/// The kinds of source text a knowledge base takes.
public enum DocumentFormat: Sendable {
    case text
    case markdown
    case html

    /// By file extension (md, markdown, txt, text, html, htm), case-insensitive.
    public init?(fileExtension: String) {
        var lower = ""
        for scalar in fileExtension.unicodeScalars {
            lower.unicodeScalars.append(scalar.value >= 0x41 && scalar.value <= 0x5A ? Unicode.Scalar(scalar.value + 32)! : scalar)
        }
        switch lower {
        case "md", "markdown", "mdown", "mkd": self = .markdown
        case "txt", "text": self = .text
        case "html", "htm", "xhtml": self = .html
        default: return nil
        }
    }

    public init?(name: String) {
        switch name {
        case "text", "txt", "plain": self = .text
        case "markdown", "md": self = .markdown
        case "html", "htm": self = .html
        default: return nil
        }
    }
}

/// A document reduced to what chunking needs: headings (level 1–6) and paragraphs of plain
/// text, in order, and the title it declares (HTML <title>, Markdown front matter or its
/// first level-1 heading).
public struct DocumentText: Sendable {
    public struct Block: Sendable, Equatable {
        /// 1–6 for a heading, 0 for a paragraph.
        public var level: Int
        public var text: String
    }

    public var title: String?
    public var blocks: [Block] = []

    public init(_ source: String, format: DocumentFormat) {
        switch format {
        case .text: parsePlain(source)
        case .markdown: parseMarkdown(source)
        case .html: parseHTML(source)
        }
        if title == nil, let first = blocks.first(where: { $0.level == 1 }) { title = first.text }
    }

    private mutating func paragraph(_ text: String) {
        let trimmed = Self.trim(text)
        if !trimmed.isEmpty { blocks.append(Block(level: 0, text: trimmed)) }
    }

    private mutating func heading(_ level: Int, _ text: String) {
        let trimmed = Self.collapseSpaces(text)
        if !trimmed.isEmpty { blocks.append(Block(level: level, text: trimmed)) }
    }

    // MARK: Plain text: paragraphs are separated by blank lines.

    private mutating func parsePlain(_ source: String) {
        var current: [Substring] = []
        for line in Self.lines(source) {
            if Self.isBlank(line) {
                paragraph(current.joined(separator: "\n"))
                current.removeAll()
            } else {
                current.append(line)
            }
        }
        paragraph(current.joined(separator: "\n"))
    }

    // MARK: Markdown: ATX and setext headings, paragraphs, fenced code kept whole,
    // front matter's title; links reduced to their text, emphasis markers removed.

    private mutating func parseMarkdown(_ source: String) {
        var lines = Self.lines(source)
        if let first = lines.first, first.trimmingSpaces == "---",
           let end = lines.dropFirst().firstIndex(where: { $0.trimmingSpaces == "---" || $0.trimmingSpaces == "..." }) {
            for line in lines[1..<end] where line.hasPrefix("title:") {
                var value = Self.trim(String(line.dropFirst(6)))
                if value.count >= 2, (value.first == "\"" && value.last == "\"") || (value.first == "'" && value.last == "'") {
                    value = String(value.dropFirst().dropLast())
                }
                if !value.isEmpty { title = value }
            }
            lines.removeSubrange(0...end)
        }
        var current: [String] = []
        var fence: Substring? = nil
        func flush() {
            paragraph(current.joined(separator: "\n"))
            current.removeAll()
        }
        for line in lines {
            let trimmed = line.trimmingSpaces
            if let open = fence {
                current.append(String(line))
                if trimmed.hasPrefix(open) { fence = nil; flush() }
                continue
            }
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
                flush()
                fence = trimmed.prefix(3)
                current.append(String(line))
                continue
            }
            if Self.isBlank(line) { flush(); continue }
            var level = 0
            for c in trimmed.utf8 { if c == UInt8(ascii: "#") { level += 1 } else { break } }
            if level >= 1, level <= 6, trimmed.count == level || trimmed.utf8.dropFirst(level).first == UInt8(ascii: " ") {
                flush()
                var text = Substring(trimmed.dropFirst(level))
                while text.last == "#" || text.last == " " { text = text.dropLast() }
                heading(level, Self.inlineMarkdown(String(text)))
                continue
            }
            if current.count == 1, !trimmed.isEmpty, trimmed.allSatisfy({ $0 == "=" }) || (trimmed.count >= 2 && trimmed.allSatisfy({ $0 == "-" })) {
                let text = current[0]
                current.removeAll()
                heading(trimmed.first == "=" ? 1 : 2, text)
                continue
            }
            current.append(Self.inlineMarkdown(String(line)))
        }
        flush()
    }

    /// [text](url) → text, ![alt](src) → alt, **x** / __x__ → x.
    static func inlineMarkdown(_ line: String) -> String {
        var out = ""
        var scalars = Array(line.unicodeScalars)
        var i = 0
        scalars.append(" ")  // sentinel
        let n = scalars.count - 1
        while i < n {
            let c = scalars[i]
            if (c == "*" && scalars[i + 1] == "*") || (c == "_" && scalars[i + 1] == "_") {
                i += 2
                continue
            }
            if c == "[" || (c == "!" && scalars[i + 1] == "[") {
                let open = c == "[" ? i : i + 1
                if let close = scalars[open...].firstIndex(of: "]"), close + 1 < n, scalars[close + 1] == "(",
                   let end = scalars[(close + 1)...].firstIndex(of: ")"), end < n {
                    for s in scalars[(open + 1)..<close] { out.unicodeScalars.append(s) }
                    i = end + 1
                    continue
                }
            }
            out.unicodeScalars.append(c)
            i += 1
        }
        return out
    }

    // MARK: HTML: a tolerant scan of tags; scripts, styles and navigation skipped; block
    // elements end paragraphs; entities decoded; white space collapsed.

    private static let blockTags: Set<String> = [
        "p", "div", "section", "article", "main", "header", "footer", "aside", "ul", "ol", "li", "table",
        "thead", "tbody", "tr", "td", "th", "blockquote", "pre", "dl", "dt", "dd", "figure", "figcaption",
        "form", "fieldset", "address", "details", "summary", "hr", "body", "html", "caption",
    ]
    private static let skippedTags: Set<String> = ["script", "style", "noscript", "template", "svg", "nav", "head", "iframe", "object", "canvas", "button", "select"]

    private mutating func parseHTML(_ source: String) {
        let s = Array(source.unicodeScalars)
        let n = s.count
        var i = 0
        var text = ""
        var headingLevel = 0
        var skipping: String? = nil
        var inTitle = false
        var titleText = ""
        var preformatted = 0
        func flushText() {
            if headingLevel > 0 { return }
            paragraph(preformatted > 0 ? text : Self.collapseSpaces(text))
            text = ""
        }
        while i < n {
            let c = s[i]
            if c != "<" {
                var j = i
                while j < n && s[j] != "<" { j += 1 }
                if inTitle || skipping == nil {
                    var chunk = String.UnicodeScalarView()
                    chunk.append(contentsOf: s[i..<j])
                    let decoded = Self.decodeEntities(String(chunk))
                    if inTitle { titleText += decoded } else { text += decoded }
                }
                i = j
                continue
            }
            // Comments, doctype, CDATA.
            if i + 3 < n, s[i + 1] == "!", s[i + 2] == "-", s[i + 3] == "-" {
                var j = i + 4
                while j + 2 < n && !(s[j] == "-" && s[j + 1] == "-" && s[j + 2] == ">") { j += 1 }
                i = min(n, j + 3)
                continue
            }
            var j = i + 1
            var quote: Unicode.Scalar? = nil
            while j < n {
                if let q = quote { if s[j] == q { quote = nil } } else if s[j] == "\"" || s[j] == "'" { quote = s[j] } else if s[j] == ">" { break }
                j += 1
            }
            // The tag's name, lower-cased.
            var k = i + 1
            let closing = k < n && s[k] == "/"
            if closing { k += 1 }
            var name = ""
            while k < j, let v = Optional(s[k].value), (v >= 0x61 && v <= 0x7A) || (v >= 0x41 && v <= 0x5A) || (v >= 0x30 && v <= 0x39) {
                name.unicodeScalars.append(Unicode.Scalar(v >= 0x41 && v <= 0x5A ? v + 32 : v)!)
                k += 1
            }
            let selfClosing = j > i && j - 1 < n && s[j - 1] == "/"
            i = min(n, j + 1)
            if name.isEmpty { continue }
            if name == "title" {
                inTitle = !closing
                if closing, title == nil { let t = Self.collapseSpaces(titleText); if !t.isEmpty { title = t } }
                continue
            }
            if let skipped = skipping {
                if closing && name == skipped { skipping = nil }
                continue
            }
            if Self.skippedTags.contains(name) {
                if !closing && !selfClosing {
                    flushText()
                    skipping = name  // (a <title> inside <head> is still read)
                }
                continue
            }
            if name.count == 2, name.hasPrefix("h"), let digit = name.unicodeScalars.last?.value, digit >= 0x31, digit <= 0x36 {
                if closing {
                    if headingLevel > 0 {
                        let level = headingLevel
                        headingLevel = 0
                        heading(level, text)
                        text = ""
                    }
                } else {
                    flushText()
                    headingLevel = Int(digit - 0x30)
                }
                continue
            }
            if name == "br" { text += "\n"; continue }
            if name == "pre" { flushText(); preformatted += closing ? -1 : 1; preformatted = max(0, preformatted); continue }
            if name == "li" && !closing { flushText(); text = "- "; continue }
            if Self.blockTags.contains(name) { flushText() }
        }
        if headingLevel > 0 { heading(headingLevel, text) } else { flushText() }
    }

    private static let namedEntities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ", "ndash": "–", "mdash": "—",
        "hellip": "…", "copy": "©", "reg": "®", "trade": "™", "euro": "€", "pound": "£", "yen": "¥",
        "laquo": "«", "raquo": "»", "lsquo": "‘", "rsquo": "’", "ldquo": "“", "rdquo": "”", "middot": "·",
        "deg": "°", "times": "×", "eacute": "é", "egrave": "è", "agrave": "à", "ccedil": "ç", "uuml": "ü",
        "ouml": "ö", "auml": "ä", "szlig": "ß", "bull": "•", "frac12": "½",
    ]

    static func decodeEntities(_ text: String) -> String {
        guard text.unicodeScalars.contains("&") else { return text }
        var out = String.UnicodeScalarView()
        let s = Array(text.unicodeScalars)
        var i = 0
        while i < s.count {
            if s[i] == "&", let semicolon = s[(i + 1)..<min(s.count, i + 12)].firstIndex(of: ";") {
                var name = ""
                name.unicodeScalars.append(contentsOf: s[(i + 1)..<semicolon])
                var replacement: String? = namedEntities[name]
                if replacement == nil, name.hasPrefix("#") {
                    let digits = name.dropFirst()
                    let value = digits.hasPrefix("x") || digits.hasPrefix("X") ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits, radix: 10)
                    if let value, let scalar = Unicode.Scalar(value) { replacement = String(Character(scalar)) }
                }
                if let replacement {
                    out.append(contentsOf: replacement.unicodeScalars)
                    i = semicolon + 1
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return String(out)
    }

    // MARK: Helpers

    static func lines(_ source: String) -> [Substring] {
        source.split(separator: "\n", omittingEmptySubsequences: false).map { $0.last == "\r" ? $0.dropLast() : $0 }
    }

    static func isBlank(_ line: Substring) -> Bool { line.allSatisfy { $0 == " " || $0 == "\t" } }

    static func trim(_ text: String) -> String {
        var scalars = Substring(text).unicodeScalars[...]
        while let f = scalars.first, f.properties.isWhitespace { scalars = scalars.dropFirst() }
        while let l = scalars.last, l.properties.isWhitespace { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }

    /// Runs of white space become one space; leading and trailing space removed.
    static func collapseSpaces(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var space = false
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace {
                space = !out.isEmpty
            } else {
                if space { out.append(" ") }
                space = false
                out.append(scalar)
            }
        }
        return String(out)
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
