/// Splits text into the words that BPE merges within, by the rules of `tokenizer.ggml.pre`,
/// and carries the other per-pre-tokenizer choices llama.cpp makes (byte-level encoding,
/// space escaping, merge bypass, add-BOS default, detokenizer space clean-up).
///
/// Each rule set is llama.cpp's list of regexes for that pre-tokenizer, applied one after
/// another: every regex splits the pieces the previous one produced, and the text between its
/// matches stays a piece of its own. The regexes are implemented by hand as small scanners over
/// Unicode scalars (`PreTokenizerSplitter.swift`) — no regex engine — following what llama.cpp
/// runs for each: its hand-written versions of the GPT-2, Llama-3, Qwen 2 and Qwen 3.5 patterns,
/// quirks included, and for the others the leftmost-first matches of std::regex over its
/// "collapsed" text, where every non-ASCII whitespace counts as \s and \p{…} classes are Unicode
/// categories.
struct PreTokenizer {
    /// One regex of a rule set.
    enum Stage {
        /// `X` — every scalar of the class on its own.
        case each(SplitClass)
        /// `X+`
        case runs(SplitClass)
        /// `\s?X+`
        case spaceThenRuns(SplitClass)
        /// `[0-9][0-9][0-9]`
        case asciiDigitTriples
        /// `\s+$`
        case trailingWhitespace
        /// `[^\n]+|[\n]+`
        case newlineRuns
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
        case gpt2
        /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?L+|\p{N}{1,k}| ?[^\s L \p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
        /// with k = 3 (llama3) or 1 (qwen2, qwen35), and L = \p{L}, or [\p{L}\p{M}] when
        /// `marksJoinLetters` (qwen35).
        case llama3(maxDigits: Int, marksJoinLetters: Bool)
    }

    let name: String
    let stages: [Stage]
    /// llama.cpp's `ignore_merges`: a word that is itself a token is emitted whole.
    let ignoreMerges: Bool
    /// The add-BOS default for this pre-tokenizer (overridden by tokenizer.ggml.add_bos_token).
    let addBOSDefault: Bool
    /// llama.cpp's `clean_spaces` (clean_up_tokenization_spaces), applied when decoding.
    let cleanSpaces: Bool
    /// Words are GPT-2 byte-level encoded before merging (false: BPE over the raw UTF-8, with
    /// "<0xNN>" byte tokens as fallback, as Gemma 4).
    let byteLevel: Bool
    /// Spaces become "▁" (U+2581) before splitting, SentencePiece style (Gemma 4).
    let escapesSpaces: Bool
    /// llama.cpp's Gemma 4 rule: a word of newlines only that is itself a token is emitted whole.
    let newlineWordsWhole: Bool
    /// BOS is added even when tokenizer.ggml.add_bos_token says no (llama.cpp's Gemma 4 workaround).
    let alwaysAddsBOS: Bool

    private struct Rules {
        var names: [String]
        var stages: [Stage]
        var ignoreMerges = false
        var addBOSDefault = false
        var cleanSpaces = true
        var byteLevel = true
        var escapesSpaces = false
        var newlineWordsWhole = false
        var alwaysAddsBOS = false
    }

    /// llama.cpp's table (`llama_vocab::impl::load` and `llm_tokenizer_bpe`), for the
    /// pre-tokenizers implemented here.
    private static let table: [Rules] = [
        Rules(names: ["default"],
              stages: [.runs(.defaultPunctuation), .gpt2, .runs(.number), .asciiDigitTriples]),
        Rules(names: ["gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
                      "mellum", "modern-bert", "exaone4", "mpt", "olmo", "jais", "jina-v1-en", "jina-v2-code",
                      "roberta-bpe"],
              stages: [.gpt2]),
        Rules(names: ["trillion", "granite-docling"], stages: [.gpt2], cleanSpaces: false),
        Rules(names: ["starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2"],
              stages: [.each(.number), .gpt2]),
        Rules(names: ["smollm", "command-r"], stages: [.each(.number), .gpt2], cleanSpaces: false),
        Rules(names: ["falcon"], stages: [.runs(.falconPunctuation), .gpt2, .asciiDigitTriples]),
        Rules(names: ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
                      "jina-v5-nano"],
              stages: [.llama3(maxDigits: 3, marksJoinLetters: false)], ignoreMerges: true, addBOSDefault: true),
        Rules(names: ["dbrx", "smaug-bpe"], stages: [.llama3(maxDigits: 3, marksJoinLetters: false)]),
        Rules(names: ["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open"],
              stages: [.llama3(maxDigits: 1, marksJoinLetters: false)], cleanSpaces: false),
        Rules(names: ["megrez", "stablelm2"], stages: [.llama3(maxDigits: 1, marksJoinLetters: false)]),
        Rules(names: ["qwen35"], stages: [.llama3(maxDigits: 1, marksJoinLetters: true)], cleanSpaces: false),
        Rules(names: ["deepseek-llm"],
              stages: [.each(.lineBreak), .spaceThenRuns(.deepSeekLetter), .spaceThenRuns(.deepSeekPunctuation),
                       .trailingWhitespace, .runs(.cjk), .runs(.number)],
              cleanSpaces: false),
        Rules(names: ["deepseek-coder"],
              stages: [.each(.lineBreak), .spaceThenRuns(.letter), .spaceThenRuns(.punctuation), .runs(.cjk),
                       .each(.number)],
              cleanSpaces: false),
        Rules(names: ["gemma4", "granite-embed-multi-311m"], stages: [.newlineRuns],
              byteLevel: false, escapesSpaces: true, newlineWordsWhole: true, alwaysAddsBOS: true),
    ]

    /// Every `tokenizer.ggml.pre` value this implements, for error messages.
    static var supportedNames: [String] { table.flatMap { $0.names } }

    /// The pre-tokenizer for a `tokenizer.ggml.pre` value (nil / missing → "default"), or nil
    /// when it is not supported.
    static func named(_ pre: String?) -> PreTokenizer? {
        let name = pre ?? "default"
        for rules in table where rules.names.contains(name) {
            return PreTokenizer(name: name, stages: rules.stages, ignoreMerges: rules.ignoreMerges,
                                addBOSDefault: rules.addBOSDefault, cleanSpaces: rules.cleanSpaces,
                                byteLevel: rules.byteLevel, escapesSpaces: rules.escapesSpaces,
                                newlineWordsWhole: rules.newlineWordsWhole, alwaysAddsBOS: rules.alwaysAddsBOS)
        }
        return nil
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
                        var splitter = PreTokenizerSplitter(cps: cps, cls: cls, start: start, end: end)
                        switch stage {
                        case .each(let set): splitter.each(set, &next)
                        case .runs(let set): splitter.runs(set, &next)
                        case .spaceThenRuns(let set): splitter.spaceThenRuns(set, &next)
                        case .asciiDigitTriples: splitter.asciiDigitTriples(&next)
                        case .trailingWhitespace: splitter.trailingWhitespace(&next)
                        case .newlineRuns: splitter.newlineRuns(&next)
                        case .gpt2: splitter.gpt2(&next)
                        case .llama3(let maxDigits, let marks): splitter.llama3(&next, maxDigits: maxDigits, marksJoinLetters: marks)
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
