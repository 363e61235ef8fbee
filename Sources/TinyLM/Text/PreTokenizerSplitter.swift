/// A character class of a pre-tokenizer regex, as llama.cpp evaluates it: \p{…} classes by
/// Unicode category (`ScalarClass`), literal ranges by code point, where a non-ASCII
/// whitespace never matches a range (llama.cpp turns it into U+000B before matching).
enum SplitClass {
    /// `\p{N}`
    case number
    /// `\p{L}`
    case letter
    /// `\p{P}`
    case punctuation
    /// `[\p{P}\$\+<=>\^~\|]` (the default pre-tokenizer)
    case defaultPunctuation
    /// `[\p{P}\$\+<=>\^~\|`]` (falcon)
    case falconPunctuation
    /// `[\r\n]`
    case lineBreak
    /// `[一-龥ࠀ-一가-퟿]`: U+0800…U+9FA5 and U+AC00…U+D7FF (deepseek)
    case cjk
    /// DeepSeek LLM's list of cased-letter ranges (`DeepSeekLetters`)
    case deepSeekLetter
    /// `[!-/:-~！-／：-～‘-‟　-。]` (deepseek-llm)
    case deepSeekPunctuation
}

/// One fragment [start, end) of scalars being split by one regex; appends the end of every
/// piece (matches and the text between them; empty pieces are dropped).
struct PreTokenizerSplitter {
    let cps: UnsafeBufferPointer<UInt32>
    let cls: UnsafeBufferPointer<UInt8>
    let start: Int
    let end: Int
    private var prevEnd: Int

    static let outOfRange: UInt32 = 0xFFFF_FFFF

    init(cps: UnsafeBufferPointer<UInt32>, cls: UnsafeBufferPointer<UInt8>, start: Int, end: Int) {
        self.cps = cps; self.cls = cls; self.start = start; self.end = end; self.prevEnd = start
    }

    @inline(__always) func cpt(_ p: Int) -> UInt32 { p >= start && p < end ? cps[p] : Self.outOfRange }
    @inline(__always) func flags(_ p: Int) -> UInt8 { p >= start && p < end ? cls[p] : 0 }

    /// Ends a piece at `e` (empty pieces are dropped); returns its length.
    @discardableResult @inline(__always)
    mutating func add(_ e: Int, _ out: inout [Int]) -> Int {
        let len = e - prevEnd
        if len > 0 { out.append(e) }
        prevEnd = e
        return len
    }

    // MARK: Character-class regexes (leftmost-first matches, as std::regex finds them)

    @inline(__always)
    func isMember(_ p: Int, _ set: SplitClass) -> Bool {
        let c = cps[p], f = cls[p]
        switch set {
        case .number: return f & ScalarClass.number != 0
        case .letter: return f & ScalarClass.letter != 0
        case .punctuation: return f & ScalarClass.punctuation != 0
        case .defaultPunctuation, .falconPunctuation:
            if f & ScalarClass.punctuation != 0 { return true }
            switch c {
            case 0x24, 0x2B, 0x3C, 0x3D, 0x3E, 0x5E, 0x7E, 0x7C: return true
            case 0x60: return set == .falconPunctuation
            default: return false
            }
        case .lineBreak: return c == 0x0D || c == 0x0A
        case .cjk:
            return f & ScalarClass.whitespace == 0 && ((c >= 0x0800 && c <= 0x9FA5) || (c >= 0xAC00 && c <= 0xD7FF))
        case .deepSeekLetter:
            return f & ScalarClass.whitespace == 0 && DeepSeekLetters.contains(c)
        case .deepSeekPunctuation:
            if f & ScalarClass.whitespace != 0 { return false }
            return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x7E) || (c >= 0xFF01 && c <= 0xFF0F)
                || (c >= 0xFF1A && c <= 0xFF5E) || (c >= 0x2018 && c <= 0x201F) || (c >= 0x3000 && c <= 0x3002)
        }
    }

    mutating func each(_ set: SplitClass, _ out: inout [Int]) {
        var p = start
        while p < end {
            if isMember(p, set) {
                add(p, &out)
                add(p + 1, &out)
            }
            p += 1
        }
        add(end, &out)
    }

    mutating func runs(_ set: SplitClass, _ out: inout [Int]) {
        var p = start
        while p < end {
            if isMember(p, set) {
                add(p, &out)
                while p < end && isMember(p, set) { p += 1 }
                add(p, &out)
            } else {
                p += 1
            }
        }
        add(end, &out)
    }

    /// `\s?X+`: no class used here contains whitespace, so a match is a whitespace followed
    /// by a member, or a member, extended over the following members.
    mutating func spaceThenRuns(_ set: SplitClass, _ out: inout [Int]) {
        var p = start
        while p < end {
            let spaceFirst = cls[p] & ScalarClass.whitespace != 0 && p + 1 < end && isMember(p + 1, set)
            if spaceFirst || isMember(p, set) {
                add(p, &out)
                p += spaceFirst ? 2 : 1
                while p < end && isMember(p, set) { p += 1 }
                add(p, &out)
            } else {
                p += 1
            }
        }
        add(end, &out)
    }

    mutating func asciiDigitTriples(_ out: inout [Int]) {
        @inline(__always) func digit(_ p: Int) -> Bool { p < end && cps[p] >= 0x30 && cps[p] <= 0x39 }
        var p = start
        while p < end {
            if digit(p) && digit(p + 1) && digit(p + 2) {
                add(p, &out)
                add(p + 3, &out)
                p += 3
            } else {
                p += 1
            }
        }
        add(end, &out)
    }

    /// `\s+$`: the whitespace that ends the fragment.
    mutating func trailingWhitespace(_ out: inout [Int]) {
        var p = end
        while p > start && cls[p - 1] & ScalarClass.whitespace != 0 { p -= 1 }
        add(p, &out)
        add(end, &out)
    }

    mutating func newlineRuns(_ out: inout [Int]) {
        var p = start
        while p < end {
            let newline = cps[p] == 0x0A
            while p < end && (cps[p] == 0x0A) == newline { p += 1 }
            add(p, &out)
        }
    }

    // MARK: GPT-2

    mutating func gpt2(_ out: inout [Int]) {
        let L = ScalarClass.letter, N = ScalarClass.number, W = ScalarClass.whitespace
        var pos = start
        while pos < end {
            let c = cpt(pos)
            let f = flags(pos)

            // 's|'t|'re|'ve|'m|'ll|'d
            if c == 0x27 && pos + 1 < end {
                let n = cpt(pos + 1)
                if n == 0x73 || n == 0x74 || n == 0x6D || n == 0x64 {  // s t m d
                    pos += add(pos + 2, &out)
                    continue
                }
                if pos + 2 < end {
                    let nn = cpt(pos + 2)
                    if (n == 0x72 && nn == 0x65) || (n == 0x76 && nn == 0x65) || (n == 0x6C && nn == 0x6C) {  // re ve ll
                        pos += add(pos + 3, &out)
                        continue
                    }
                }
            }

            var f2 = c == 0x20 ? flags(pos + 1) : f
            // <space>?\p{L}+
            if f2 & L != 0 {
                if c == 0x20 { pos += 1 }
                while f2 & L != 0 { pos += 1; f2 = flags(pos) }
                add(pos, &out)
                continue
            }
            // <space>?\p{N}+
            if f2 & N != 0 {
                if c == 0x20 { pos += 1 }
                while f2 & N != 0 { pos += 1; f2 = flags(pos) }
                add(pos, &out)
                continue
            }
            // <space>?[^\s\p{L}\p{N}]+
            if f2 & (W | L | N) == 0 && f2 != 0 {
                if c == 0x20 { pos += 1 }
                while f2 & (W | L | N) == 0 && f2 != 0 { pos += 1; f2 = flags(pos) }
                add(pos, &out)
                continue
            }

            var spaces = 0
            while flags(pos + spaces) & W != 0 { spaces += 1 }
            pos = endOfWhitespace(pos, spaces: spaces)
            add(pos, &out)
        }
    }

    /// The last alternatives of both patterns, at `pos` followed by `spaces` whitespace
    /// characters: \s+(?!\S) (the run but its last space, which goes with the word after it),
    /// else \s+, else the one character. Where that match ends.
    @inline(__always)
    func endOfWhitespace(_ pos: Int, spaces: Int) -> Int {
        if spaces > 1 && cpt(pos + spaces) != Self.outOfRange { return pos + spaces - 1 }
        return pos + max(spaces, 1)
    }

    // MARK: Llama 3 / Qwen 2 / Qwen 3.5

    mutating func llama3(_ out: inout [Int], maxDigits: Int, marksJoinLetters: Bool) {
        let L = marksJoinLetters ? ScalarClass.letter | ScalarClass.mark : ScalarClass.letter
        let N = ScalarClass.number, W = ScalarClass.whitespace
        let CR: UInt32 = 0x0D, LF: UInt32 = 0x0A
        var pos = start
        while pos < end {
            let c = cpt(pos)
            let f = flags(pos)

            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if c == 0x27 && pos + 1 < end {
                let n = ScalarClass.lowerASCII(cpt(pos + 1))
                if n == 0x73 || n == 0x74 || n == 0x6D || n == 0x64 {
                    pos += add(pos + 2, &out)
                    continue
                }
                if pos + 2 < end {
                    let nn = ScalarClass.lowerASCII(cpt(pos + 2))
                    if (n == 0x72 && nn == 0x65) || (n == 0x76 && nn == 0x65) || (n == 0x6C && nn == 0x6C) {
                        pos += add(pos + 3, &out)
                        continue
                    }
                }
            }

            // [^\r\n\p{L}\p{N}]?L+
            if !(c == CR || c == LF || f & N != 0) {
                if f & L != 0 || flags(pos + 1) & L != 0 {
                    pos += 1
                    while flags(pos) & L != 0 { pos += 1 }
                    add(pos, &out)
                    continue
                }
            }

            // \p{N}{1,maxDigits}
            if f & N != 0 {
                var ini = pos
                while flags(pos) & N != 0 {
                    pos += 1
                    if pos - ini >= maxDigits {
                        add(pos, &out)
                        ini = pos
                    }
                }
                add(pos, &out)
                continue
            }

            // <space>?[^\s L \p{N}]+[\r\n]*
            var f2 = c == 0x20 ? flags(pos + 1) : f
            if f2 & (W | L | N) == 0 && f != 0 {
                if c == 0x20 { pos += 1 }
                while f2 & (W | L | N) == 0 && f2 != 0 { pos += 1; f2 = flags(pos) }
                var c2 = cpt(pos)
                while c2 == CR || c2 == LF { pos += 1; c2 = cpt(pos) }
                add(pos, &out)
                continue
            }

            var spaces = 0
            var lastLineBreakEnd = 0
            while flags(pos + spaces) & W != 0 {
                let c2 = cpt(pos + spaces)
                if c2 == CR || c2 == LF { lastLineBreakEnd = pos + spaces + 1 }
                spaces += 1
            }
            // \s*[\r\n]+
            if lastLineBreakEnd > 0 {
                pos = lastLineBreakEnd
                add(pos, &out)
                continue
            }
            pos = endOfWhitespace(pos, spaces: spaces)
            add(pos, &out)
        }
    }
}
