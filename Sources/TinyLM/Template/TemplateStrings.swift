// Python `str` semantics on Swift strings, implemented over Unicode scalars / UTF-8 (no
// Character-level APIs). Indices and lengths are in code points, as in Python.
// Case mapping covers ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic and full-width Latin
// (one-to-one mappings only; e.g. 'ß'.upper() stays 'ß').

typealias Scalars = [Unicode.Scalar]

@inline(__always) func scalars(_ s: String) -> Scalars { Array(s.unicodeScalars) }

func stringFromScalars<C: Collection>(_ c: C) -> String where C.Element == Unicode.Scalar {
    var view = String.UnicodeScalarView()
    view.append(contentsOf: c)
    return String(view)
}

func codePointCount(_ s: String) -> Int {
    var n = 0
    for b in s.utf8 where b & 0xC0 != 0x80 { n += 1 }
    return n
}

/// Python str.isspace for one code point.
func isPythonSpace(_ c: Unicode.Scalar) -> Bool {
    let v = c.value
    if v < 0x80 { return (v >= 0x09 && v <= 0x0D) || (v >= 0x1C && v <= 0x20) }
    switch v {
    case 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
    default: return false
    }
}

// MARK: case mapping

func upperScalarValue(_ v: UInt32) -> UInt32 {
    switch v {
    case 0x61...0x7A: return v - 0x20
    case 0xB5: return 0x39C
    case 0xE0...0xFE: return v == 0xF7 ? v : v - 0x20
    case 0xFF: return 0x178
    case 0x100...0x137, 0x14A...0x177: return v & 1 == 1 ? v - 1 : v
    case 0x139...0x148, 0x179...0x17E: return v & 1 == 0 ? v - 1 : v
    case 0x17F: return 0x53
    case 0x3AC: return 0x386
    case 0x3AD...0x3AF: return v - 0x25
    case 0x3B1...0x3C1, 0x3C3...0x3CB: return v - 0x20
    case 0x3C2: return 0x3A3
    case 0x3CC: return 0x38C
    case 0x3CD, 0x3CE: return v - 0x3F
    case 0x430...0x44F: return v - 0x20
    case 0x450...0x45F: return v - 0x50
    case 0x460...0x481, 0x48A...0x4BF: return v & 1 == 1 ? v - 1 : v
    case 0xFF41...0xFF5A: return v - 0x20
    default: return v
    }
}

func lowerScalarValue(_ v: UInt32) -> UInt32 {
    switch v {
    case 0x41...0x5A: return v + 0x20
    case 0xC0...0xDE: return v == 0xD7 ? v : v + 0x20
    case 0x178: return 0xFF
    case 0x100...0x137, 0x14A...0x177: return v & 1 == 0 ? v + 1 : v
    case 0x139...0x148, 0x179...0x17E: return v & 1 == 1 ? v + 1 : v
    case 0x386: return 0x3AC
    case 0x388...0x38A: return v + 0x25
    case 0x38C: return 0x3CC
    case 0x38E, 0x38F: return v + 0x3F
    case 0x391...0x3A1, 0x3A3...0x3AB: return v + 0x20
    case 0x400...0x40F: return v + 0x50
    case 0x410...0x42F: return v + 0x20
    case 0x460...0x481, 0x48A...0x4BF: return v & 1 == 0 ? v + 1 : v
    case 0xFF21...0xFF3A: return v + 0x20
    default: return v
    }
}

@inline(__always) func upperScalar(_ c: Unicode.Scalar) -> Unicode.Scalar {
    if c.value < 0x80 { return c.value >= 0x61 && c.value <= 0x7A ? Unicode.Scalar(UInt8(c.value - 0x20)) : c }
    return Unicode.Scalar(upperScalarValue(c.value)) ?? c
}

@inline(__always) func lowerScalar(_ c: Unicode.Scalar) -> Unicode.Scalar {
    if c.value < 0x80 { return c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(UInt8(c.value + 0x20)) : c }
    return Unicode.Scalar(lowerScalarValue(c.value)) ?? c
}

func isCasedScalar(_ c: Unicode.Scalar) -> Bool {
    upperScalar(c) != c || lowerScalar(c) != c || c.value == 0x3C2 || c.value == 0xDF
}

func isLowerScalar(_ c: Unicode.Scalar) -> Bool { upperScalar(c) != c || c.value == 0xDF }
func isUpperScalar(_ c: Unicode.Scalar) -> Bool { lowerScalar(c) != c }

func pyUpper(_ s: String) -> String {
    var ascii = true
    for b in s.utf8 where b >= 0x80 { ascii = false; break }
    if ascii {
        return String(decoding: s.utf8.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self)
    }
    return stringFromScalars(s.unicodeScalars.map(upperScalar))
}

func pyLower(_ s: String) -> String {
    var ascii = true
    for b in s.utf8 where b >= 0x80 { ascii = false; break }
    if ascii {
        return String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
    }
    return stringFromScalars(s.unicodeScalars.map(lowerScalar))
}

/// Python str.title(): upper-case after an uncased character, lower-case after a cased one.
func pyTitle(_ s: String) -> String {
    var out = String.UnicodeScalarView()
    var previousCased = false
    for c in s.unicodeScalars {
        if previousCased { out.append(lowerScalar(c)) } else { out.append(upperScalar(c)) }
        previousCased = isCasedScalar(c)
    }
    return String(out)
}

/// Python str.capitalize(): first character upper, the rest lower.
func pyCapitalize(_ s: String) -> String {
    var out = String.UnicodeScalarView()
    var first = true
    for c in s.unicodeScalars {
        out.append(first ? upperScalar(c) : lowerScalar(c))
        first = false
    }
    return String(out)
}

/// jinja2's `title` filter: words start after runs of `-`, whitespace, `(`, `{`, `[`, `<`.
func jinjaTitle(_ s: String) -> String {
    var out = String.UnicodeScalarView()
    var atWordStart = true
    for c in s.unicodeScalars {
        let v = c.value
        let isSeparator = isPythonSpace(c) || v == 0x2D || v == 0x28 || v == 0x7B || v == 0x5B || v == 0x3C
        if isSeparator {
            out.append(c)
            atWordStart = true
        } else {
            out.append(atWordStart ? upperScalar(c) : lowerScalar(c))
            atWordStart = false
        }
    }
    return String(out)
}

// MARK: strip / split / search

/// Python strip family; `chars == nil` strips whitespace.
func pyStrip(_ s: String, _ chars: String?, left: Bool, right: Bool) -> String {
    let a = scalars(s)
    let set: Scalars? = chars.map { scalars($0) }
    func strippable(_ c: Unicode.Scalar) -> Bool {
        if let set { return set.contains(c) }
        return isPythonSpace(c)
    }
    var start = 0
    var end = a.count
    if left { while start < end, strippable(a[start]) { start += 1 } }
    if right { while end > start, strippable(a[end - 1]) { end -= 1 } }
    if start == 0 && end == a.count { return s }
    return stringFromScalars(a[start..<end])
}

/// Byte offsets of non-overlapping occurrences of `needle` in `hay` (UTF-8), at most `limit`.
func utf8Occurrences(_ hay: [UInt8], _ needle: [UInt8], limit: Int = Int.max) -> [Int] {
    var result: [Int] = []
    let n = hay.count
    let m = needle.count
    if m == 0 || m > n { return result }
    let first = needle[0]
    var i = 0
    while i <= n - m && result.count < limit {
        if hay[i] == first {
            var j = 1
            while j < m && hay[i + j] == needle[j] { j += 1 }
            if j == m {
                result.append(i)
                i += m
                continue
            }
        }
        i += 1
    }
    return result
}

func utf8Contains(_ hay: String, _ needle: String) -> Bool {
    if needle.isEmpty { return true }
    return !utf8Occurrences(Array(hay.utf8), Array(needle.utf8), limit: 1).isEmpty
}

func utf8HasPrefix(_ s: String, _ prefix: String) -> Bool {
    let a = s.utf8, p = prefix.utf8
    if p.count > a.count { return false }
    return a.starts(with: p)
}

func utf8HasSuffix(_ s: String, _ suffix: String) -> Bool {
    let a = Array(s.utf8), p = Array(suffix.utf8)
    if p.count > a.count { return false }
    return a[(a.count - p.count)...].elementsEqual(p)
}

/// Python str.split(sep, maxsplit).
func pySplit(_ s: String, _ sep: String?, maxSplit: Int) -> [String] {
    if let sep {
        let hay = Array(s.utf8)
        let needle = Array(sep.utf8)
        let positions = utf8Occurrences(hay, needle, limit: maxSplit < 0 ? Int.max : maxSplit)
        var parts: [String] = []
        var start = 0
        for p in positions {
            parts.append(String(decoding: hay[start..<p], as: UTF8.self))
            start = p + needle.count
        }
        parts.append(String(decoding: hay[start...], as: UTF8.self))
        return parts
    }
    let a = scalars(s)
    var parts: [String] = []
    var i = 0
    var splits = 0
    while i < a.count {
        while i < a.count, isPythonSpace(a[i]) { i += 1 }
        if i >= a.count { break }
        if maxSplit >= 0 && splits >= maxSplit {
            var end = a.count
            while end > i, isPythonSpace(a[end - 1]) { end -= 1 }
            parts.append(stringFromScalars(a[i..<end]))
            break
        }
        let start = i
        while i < a.count, !isPythonSpace(a[i]) { i += 1 }
        parts.append(stringFromScalars(a[start..<i]))
        splits += 1
    }
    return parts
}

/// Python str.rsplit(sep, maxsplit).
func pyRSplit(_ s: String, _ sep: String?, maxSplit: Int) -> [String] {
    if maxSplit < 0 { return pySplit(s, sep, maxSplit: -1) }
    if let sep {
        let hay = Array(s.utf8)
        let needle = Array(sep.utf8)
        let all = utf8Occurrences(hay, needle)  // non-overlapping from the left; fine for typical separators
        let used = all.suffix(maxSplit)
        var parts: [String] = []
        var start = 0
        for p in used {
            parts.append(String(decoding: hay[start..<p], as: UTF8.self))
            start = p + needle.count
        }
        parts.append(String(decoding: hay[start...], as: UTF8.self))
        return parts
    }
    let a = scalars(s)
    var parts: [String] = []
    var i = a.count
    var splits = 0
    while i > 0 {
        while i > 0, isPythonSpace(a[i - 1]) { i -= 1 }
        if i == 0 { break }
        if splits >= maxSplit {
            var start = 0
            while start < i, isPythonSpace(a[start]) { start += 1 }
            parts.append(stringFromScalars(a[start..<i]))
            break
        }
        let end = i
        while i > 0, !isPythonSpace(a[i - 1]) { i -= 1 }
        parts.append(stringFromScalars(a[i..<end]))
        splits += 1
    }
    return parts.reversed()
}

/// Python str.splitlines(keepends).
func pySplitLines(_ s: String, keepEnds: Bool) -> [String] {
    let a = scalars(s)
    var lines: [String] = []
    var start = 0
    var i = 0
    while i < a.count {
        let v = a[i].value
        let isBreak = v == 0x0A || v == 0x0D || v == 0x0B || v == 0x0C || v == 0x1C || v == 0x1D || v == 0x1E || v == 0x85 || v == 0x2028 || v == 0x2029
        if isBreak {
            var end = i + 1
            if v == 0x0D, i + 1 < a.count, a[i + 1].value == 0x0A { end = i + 2 }
            lines.append(stringFromScalars(a[start..<(keepEnds ? end : i)]))
            start = end
            i = end
        } else {
            i += 1
        }
    }
    if start < a.count { lines.append(stringFromScalars(a[start...])) }
    return lines
}

/// Python str.replace(old, new, count).
func pyReplace(_ s: String, _ old: String, _ new: String, count: Int) -> String {
    if old.isEmpty {
        // Insert `new` before every code point and at the end (up to count times).
        var out = ""
        var done = 0
        for c in s.unicodeScalars {
            if count < 0 || done < count { out += new; done += 1 }
            out.unicodeScalars.append(c)
        }
        if count < 0 || done < count { out += new }
        return out
    }
    let hay = Array(s.utf8)
    let needle = Array(old.utf8)
    let positions = utf8Occurrences(hay, needle, limit: count < 0 ? Int.max : count)
    if positions.isEmpty { return s }
    var out: [UInt8] = []
    out.reserveCapacity(hay.count + positions.count * max(0, new.utf8.count - needle.count))
    var start = 0
    for p in positions {
        out.append(contentsOf: hay[start..<p])
        out.append(contentsOf: new.utf8)
        start = p + needle.count
    }
    out.append(contentsOf: hay[start...])
    return String(decoding: out, as: UTF8.self)
}

/// Python str.find / rfind (code-point index or -1).
func pyFind(_ s: String, _ sub: String, reverse: Bool) -> Int {
    let hay = Array(s.utf8)
    let needle = Array(sub.utf8)
    var byteIndex = -1
    if needle.isEmpty {
        byteIndex = reverse ? hay.count : 0
    } else if needle.count <= hay.count {
        if reverse {
            var i = hay.count - needle.count
            while i >= 0 {
                if hay[i..<(i + needle.count)].elementsEqual(needle) { byteIndex = i; break }
                i -= 1
            }
        } else {
            byteIndex = utf8Occurrences(hay, needle, limit: 1).first ?? -1
        }
    }
    if byteIndex < 0 { return -1 }
    var cp = 0
    for k in 0..<byteIndex where hay[k] & 0xC0 != 0x80 { cp += 1 }
    return cp
}

func pyCount(_ s: String, _ sub: String) -> Int {
    if sub.isEmpty { return codePointCount(s) + 1 }
    return utf8Occurrences(Array(s.utf8), Array(sub.utf8)).count
}

/// Python str.center / ljust / rjust with a fill character.
func pyPad(_ s: String, width: Int, fill: Unicode.Scalar, mode: Int) -> String {
    let length = codePointCount(s)
    if width <= length { return s }
    let total = width - length
    var left = 0
    switch mode {
    case 0:  // center (CPython: left = total/2 + (total & width & 1))
        left = total / 2 + (total & width & 1)
    case 1: left = 0  // ljust
    default: left = total  // rjust
    }
    var out = String.UnicodeScalarView()
    for _ in 0..<left { out.append(fill) }
    out.append(contentsOf: s.unicodeScalars)
    for _ in 0..<(total - left) { out.append(fill) }
    return String(out)
}

// MARK: repr

func isPythonPrintable(_ v: UInt32) -> Bool {
    if v < 0x20 || v == 0x7F { return false }
    if v < 0x7F { return true }
    switch v {
    case 0x80...0xA0, 0xAD, 0x600...0x605, 0x61C, 0x6DD, 0x70F, 0x180E, 0x1680,
         0x2000...0x200F, 0x2028...0x202F, 0x205F...0x206F, 0x3000, 0xD800...0xF8FF,
         0xFEFF, 0xFFF9...0xFFFB, 0xE0000...0xE0FFF, 0xF0000...0x10FFFF:
        return false
    default:
        return v & 0xFFFE != 0xFFFE
    }
}

/// Python repr() of a str.
func pyReprString(_ s: String) -> String {
    var hasSingle = false
    var hasDouble = false
    for b in s.utf8 {
        if b == 0x27 { hasSingle = true } else if b == 0x22 { hasDouble = true }
    }
    let quote: UInt8 = hasSingle && !hasDouble ? 0x22 : 0x27
    var out: [UInt8] = [quote]
    let hex: [UInt8] = Array("0123456789abcdef".utf8)
    func appendHex(_ v: UInt32, digits: Int) {
        var k = digits - 1
        while k >= 0 {
            out.append(hex[Int((v >> UInt32(k * 4)) & 0xF)])
            k -= 1
        }
    }
    for c in s.unicodeScalars {
        let v = c.value
        switch v {
        case 0x5C: out.append(0x5C); out.append(0x5C)
        case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
        case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
        default:
            if v == UInt32(quote) {
                out.append(0x5C)
                out.append(quote)
            } else if isPythonPrintable(v) {
                appendUTF8(v, to: &out)
            } else if v < 0x100 {
                out.append(0x5C); out.append(UInt8(ascii: "x")); appendHex(v, digits: 2)
            } else if v < 0x10000 {
                out.append(0x5C); out.append(UInt8(ascii: "u")); appendHex(v, digits: 4)
            } else {
                out.append(0x5C); out.append(UInt8(ascii: "U")); appendHex(v, digits: 8)
            }
        }
    }
    out.append(quote)
    return String(decoding: out, as: UTF8.self)
}

/// Python string ordering (by code point; UTF-8 byte order is equivalent).
func pyStringLess(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}
