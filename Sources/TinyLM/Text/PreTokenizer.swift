/// Splits text into the words that byte-level BPE merges within, by the rules of
/// `tokenizer.ggml.pre`. Each rule set is llama.cpp's list of regexes for that pre-tokenizer,
/// applied one after another (every regex splits the pieces the previous one produced; text
/// between matches stays a piece of its own). The regexes are implemented by hand as small
/// scanners over Unicode scalars — no regex engine — following llama.cpp's own hand-written
/// versions of the GPT-2 and Llama-3 patterns exactly, quirks included.
struct PreTokenizer {
    enum Stage {
        /// `\p{N}` — every number character on its own.
        case eachNumber
        /// `\p{N}+`
        case numberRuns
        /// `[0-9][0-9][0-9]`
        case asciiDigitTriples
        /// `[\p{P}\$\+<=>\^~\|]+`
        case punctuationRuns
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
        case gpt2
        /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,k}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
        /// with k = 3 (llama3) or 1 (qwen2).
        case llama3(maxDigits: Int)
    }

    let name: String
    let stages: [Stage]
    /// llama.cpp's `ignore_merges`: a word that is itself a token is emitted whole.
    let ignoreMerges: Bool
    /// The add-BOS default for this pre-tokenizer (overridden by tokenizer.ggml.add_bos_token).
    let addBOSDefault: Bool

    /// The pre-tokenizer for a `tokenizer.ggml.pre` value (nil / missing → "default"), or nil
    /// when it is not supported.
    static func named(_ pre: String?) -> PreTokenizer? {
        let name = pre ?? "default"
        switch name {
        case "default":
            return PreTokenizer(name: name, stages: [.punctuationRuns, .gpt2, .numberRuns, .asciiDigitTriples],
                                ignoreMerges: false, addBOSDefault: false)
        case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
             "mellum", "modern-bert", "exaone4", "mpt", "olmo", "jais", "trillion", "granite-docling",
             "jina-v1-en", "jina-v2-code", "roberta-bpe":
            return PreTokenizer(name: name, stages: [.gpt2], ignoreMerges: false, addBOSDefault: false)
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2":
            return PreTokenizer(name: name, stages: [.eachNumber, .gpt2], ignoreMerges: false, addBOSDefault: false)
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano":
            return PreTokenizer(name: name, stages: [.llama3(maxDigits: 3)], ignoreMerges: true, addBOSDefault: true)
        case "dbrx", "smaug-bpe":
            return PreTokenizer(name: name, stages: [.llama3(maxDigits: 3)], ignoreMerges: false, addBOSDefault: false)
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open":
            return PreTokenizer(name: name, stages: [.llama3(maxDigits: 1)], ignoreMerges: false, addBOSDefault: false)
        default:
            return nil
        }
    }

    /// Appends the byte range of every word of `text` (valid UTF-8) to `words`, in order.
    /// `scratch` is reused between calls to avoid reallocating.
    func split(_ text: UnsafeRawBufferPointer, into words: inout [Range<Int>], scratch: inout PreTokenizerScratch) {
        scratch.load(text)
        let count = scratch.cps.count
        if count == 0 { return }
        var ends = scratch.ends
        var next = scratch.nextEnds
        ends.removeAll(keepingCapacity: true)
        ends.append(count)
        scratch.cps.withUnsafeBufferPointer { cps in
            scratch.cls.withUnsafeBufferPointer { cls in
                for stage in stages {
                    next.removeAll(keepingCapacity: true)
                    var start = 0
                    for end in ends {
                        var splitter = Splitter(cps: cps, cls: cls, start: start, end: end)
                        switch stage {
                        case .eachNumber: splitter.eachNumber(&next)
                        case .numberRuns: splitter.numberRuns(&next)
                        case .asciiDigitTriples: splitter.asciiDigitTriples(&next)
                        case .punctuationRuns: splitter.punctuationRuns(&next)
                        case .gpt2: splitter.gpt2(&next)
                        case .llama3(let maxDigits): splitter.llama3(&next, maxDigits: maxDigits)
                        }
                        start = end
                    }
                    swap(&ends, &next)
                }
            }
        }
        var start = 0
        for end in ends {
            words.append(Int(scratch.byteStarts[start])..<Int(scratch.byteStarts[end]))
            start = end
        }
        scratch.ends = ends
        scratch.nextEnds = next
    }
}

/// Buffers reused by `PreTokenizer.split`.
struct PreTokenizerScratch {
    var cps: [UInt32] = []
    var cls: [UInt8] = []
    /// Byte offset of each scalar, plus the total length at the end.
    var byteStarts: [Int32] = []
    var ends: [Int] = []
    var nextEnds: [Int] = []

    init() {}

    mutating func load(_ text: UnsafeRawBufferPointer) {
        cps.removeAll(keepingCapacity: true)
        cls.removeAll(keepingCapacity: true)
        byteStarts.removeAll(keepingCapacity: true)
        var i = 0
        while i < text.count {
            let (cp, len) = UTF8Scanner.decode(text, at: i)
            cps.append(cp)
            cls.append(ScalarClass.of(cp))
            byteStarts.append(Int32(i))
            i += len
        }
        byteStarts.append(Int32(text.count))
    }
}

/// One fragment [start, end) of scalars being split; appends the end of every piece.
private struct Splitter {
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

    // MARK: Simple character-class regexes (llama.cpp runs these through std::regex; a match
    // and the unmatched text around it each become a piece)

    mutating func eachNumber(_ out: inout [Int]) {
        var p = start
        while p < end {
            if cls[p] & ScalarClass.number != 0 {
                add(p, &out)
                add(p + 1, &out)
            }
            p += 1
        }
        add(end, &out)
    }

    mutating func numberRuns(_ out: inout [Int]) {
        runs(&out) { $0 & ScalarClass.number != 0 }
    }

    mutating func punctuationRuns(_ out: inout [Int]) {
        // \p{P} plus $ + < = > ^ ~ |  (no other symbols; whitespace never matches)
        runs(&out) { c in c & ScalarClass.punctuation != 0 }
    }

    private mutating func runs(_ out: inout [Int], _ match: (UInt8) -> Bool) {
        var p = start
        while p < end {
            if match(classForRuns(p)) {
                add(p, &out)
                while p < end && match(classForRuns(p)) { p += 1 }
                add(p, &out)
            } else {
                p += 1
            }
        }
        add(end, &out)
    }

    /// The class used by the run splitters: as `cls`, but the ASCII symbols the default
    /// pre-tokenizer lists next to \p{P} count as punctuation.
    @inline(__always) private func classForRuns(_ p: Int) -> UInt8 {
        let c = cps[p]
        switch c {
        case 0x24, 0x2B, 0x3C, 0x3D, 0x3E, 0x5E, 0x7E, 0x7C: return cls[p] | ScalarClass.punctuation
        default: return cls[p]
        }
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
            // \s+(?!\S)
            if spaces > 1 && cpt(pos + spaces) != Self.outOfRange {
                pos += spaces - 1
                add(pos, &out)
                continue
            }
            // \s+
            if spaces > 0 {
                pos += spaces
                add(pos, &out)
                continue
            }
            pos += 1
            add(pos, &out)
        }
    }

    // MARK: Llama 3 / Qwen 2

    mutating func llama3(_ out: inout [Int], maxDigits: Int) {
        let L = ScalarClass.letter, N = ScalarClass.number, W = ScalarClass.whitespace
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

            // [^\r\n\p{L}\p{N}]?\p{L}+
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

            // <space>?[^\s\p{L}\p{N}]+[\r\n]*
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
            // \s+(?!\S)
            if spaces > 1 && cpt(pos + spaces) != Self.outOfRange {
                pos += spaces - 1
                add(pos, &out)
                continue
            }
            // \s+
            if spaces > 0 {
                pos += spaces
                add(pos, &out)
                continue
            }
            pos += 1
            add(pos, &out)
        }
    }
}
