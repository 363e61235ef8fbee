/// Per-token attributes, as llama.cpp derives them from `tokenizer.ggml.token_type` and then
/// adjusts by token text (same bit values as llama.cpp's `llama_token_attr`).
struct TokenAttributes: OptionSet, Sendable {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }

    static let unknown = TokenAttributes(rawValue: 1 << 0)
    static let unused = TokenAttributes(rawValue: 1 << 1)
    static let normal = TokenAttributes(rawValue: 1 << 2)
    static let control = TokenAttributes(rawValue: 1 << 3)
    static let userDefined = TokenAttributes(rawValue: 1 << 4)
    static let byte = TokenAttributes(rawValue: 1 << 5)
    /// Matched in the text, the special token also takes the whitespace before it…
    static let lstrip = TokenAttributes(rawValue: 1 << 7)
    /// …or after it (llama.cpp sets these by model name; see `applyStripRules`).
    static let rstrip = TokenAttributes(rawValue: 1 << 8)

    /// From a GGUF token type (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).
    init(tokenType: Int) {
        switch tokenType {
        case 1: self = .normal
        case 2: self = .unknown
        case 3: self = .control
        case 4: self = .userDefined
        case 5: self = .unused
        case 6: self = .byte
        default: self = []  // undefined
        }
    }
}

/// Which tokenizer algorithm a vocabulary belongs to (`tokenizer.ggml.model`).
enum VocabularyKind {
    /// "llama": SentencePiece BPE over scores, ▁ for spaces, <0xNN> byte fallback.
    case sentencePiece
    /// "gpt2": byte-level BPE with merge ranks and a regex pre-tokenizer.
    case byteLevelBPE
    /// "gemma4": BPE with merge ranks over UTF-8 with ▁ for spaces and <0xNN> byte tokens.
    case gemma4BPE
    /// "bert": WordPiece, word-initial pieces "▁"-prefixed (WordPieceTokenizer.swift).
    case wordPiece
}

/// The token list of a model and everything llama.cpp derives from its metadata: token bytes,
/// scores, attributes, the special ids (BOS/EOS/EOT/EOM/UNK/SEP/PAD/FIM), the add-BOS/EOS and
/// space-prefix policy, and the set of end-of-generation tokens.
struct Vocabulary {
    let kind: VocabularyKind
    /// Token texts exactly as stored in the file (▁-escaped for SPM, byte-level-encoded for gpt2).
    let texts: ByteStringTable
    /// SentencePiece scores (empty when the file has none: all 0).
    let scores: [Float]
    private(set) var attributes: [TokenAttributes]

    private(set) var bos: Int32 = -1
    private(set) var eos: Int32 = -1
    private(set) var eot: Int32 = -1
    private(set) var eom: Int32 = -1
    private(set) var unk: Int32 = -1
    private(set) var sep: Int32 = -1
    private(set) var pad: Int32 = -1
    private(set) var mask: Int32 = -1
    private(set) var fimPre: Int32 = -1
    private(set) var fimSuf: Int32 = -1
    private(set) var fimMid: Int32 = -1
    private(set) var fimPad: Int32 = -1
    private(set) var fimRep: Int32 = -1
    private(set) var fimSep: Int32 = -1

    var addBOS: Bool
    var addEOS: Bool
    var addSpacePrefix: Bool

    /// End-of-generation ids, sorted.
    private(set) var endOfGeneration: [Int32] = []

    var count: Int { texts.count }

    /// Reads the token list and special-token metadata. `addBOSDefault` is the model/pre-tokenizer
    /// dependent default llama.cpp uses when `tokenizer.ggml.add_bos_token` is absent;
    /// `alwaysAddBOS` overrides a false there (llama.cpp's Gemma 4 workaround).
    init(gguf: GGUFFile, kind: VocabularyKind, addBOSDefault: Bool, alwaysAddBOS: Bool = false) throws(TinyLMError) {
        self.kind = kind
        let tokens = try gguf.requireArray("tokenizer.ggml.tokens")
        guard tokens.elementType == .string else {
            throw .malformed("metadata 'tokenizer.ggml.tokens' should be an array of strings, found \(tokens.elementType)")
        }
        let n = tokens.count
        guard n > 0, n < Int(Int32.max) else { throw .malformed("tokenizer.ggml.tokens has \(n) entries") }

        // Token texts. Sizes first, so the storage is allocated once.
        var totalBytes = 0
        tokens.forEachStringBytes { _, bytes in totalBytes += bytes.count }
        var table = ByteStringTable(expectedCount: n, expectedBytes: totalBytes)
        var duplicate: (Int, Int)? = nil
        tokens.forEachStringBytes { index, bytes in
            let existing: Int?
            if bytes.count == 0 {
                // llama.cpp renames empty tokens so they stay unique and never match text.
                existing = table.append(Array("[EMPTY_\(index)]".utf8))
            } else {
                existing = table.append(bytes)
            }
            if let existing, duplicate == nil { duplicate = (existing, index) }
        }
        if let (first, second) = duplicate {
            let text = String(decoding: table.bytes(first), as: UTF8.self)
            throw .malformed("duplicate token in vocabulary: '\(text)' has ids \(first) and \(second)")
        }
        self.texts = table

        // Scores (optional).
        if let scoresArray = gguf.array("tokenizer.ggml.scores") {
            guard scoresArray.elementType == .float32 || scoresArray.elementType == .int32 else {
                throw .malformed("metadata 'tokenizer.ggml.scores' should be float32 or int32, found \(scoresArray.elementType)")
            }
            guard scoresArray.count >= n else { throw .malformed("tokenizer.ggml.scores has \(scoresArray.count) entries for \(n) tokens") }
            var s = scoresArray.floats
            if s.count > n { s.removeLast(s.count - n) }
            self.scores = s
        } else {
            self.scores = []
        }

        // Attributes from token types (all normal when absent).
        if let typesArray = gguf.array("tokenizer.ggml.token_type") {
            guard typesArray.elementType == .int32 else {
                throw .malformed("metadata 'tokenizer.ggml.token_type' should be int32, found \(typesArray.elementType)")
            }
            guard typesArray.count >= n else { throw .malformed("tokenizer.ggml.token_type has \(typesArray.count) entries for \(n) tokens") }
            var attrs = [TokenAttributes](repeating: [], count: n)
            let types = typesArray.ints
            for i in 0..<n { attrs[i] = TokenAttributes(tokenType: types[i]) }
            self.attributes = attrs
        } else {
            self.attributes = [TokenAttributes](repeating: .normal, count: n)
        }

        // Defaults per model type (llama.cpp `llama_vocab::impl::load`).
        switch kind {
        case .sentencePiece:
            bos = 1; eos = 2; unk = 0
            addSpacePrefix = true
            addEOS = false
        case .byteLevelBPE:
            bos = 11; eos = 11
            addSpacePrefix = false
            addEOS = false
        case .gemma4BPE:
            addSpacePrefix = false
            addEOS = false
        case .wordPiece:
            bos = 101; unk = 100; sep = 102; pad = 0; mask = 103
            addSpacePrefix = false
            addEOS = false
        }
        addBOS = addBOSDefault
        if let v = gguf.bool("tokenizer.ggml.add_space_prefix") { addSpacePrefix = v }

        // Explicit special ids; out-of-range defaults are disabled, bad explicit ids ignored.
        func special(_ key: String, _ id: inout Int32) {
            if id >= 0 && Int(id) >= n { id = -1 }
            if let v = gguf.int("tokenizer.ggml." + key), v >= 0, v < n { id = Int32(v) }
        }
        special("bos_token_id", &bos)
        special("eos_token_id", &eos)
        special("eot_token_id", &eot)
        special("eom_token_id", &eom)
        special("unknown_token_id", &unk)
        special("seperator_token_id", &sep)  // sic: llama.cpp's key
        special("padding_token_id", &pad)
        special("mask_token_id", &mask)
        special("fim_pre_token_id", &fimPre)
        special("fim_suf_token_id", &fimSuf)
        special("fim_mid_token_id", &fimMid)
        special("fim_pad_token_id", &fimPad)
        special("fim_rep_token_id", &fimRep)
        special("fim_sep_token_id", &fimSep)
        special("prefix_token_id", &fimPre)
        special("suffix_token_id", &fimSuf)
        special("middle_token_id", &fimMid)

        if let v = gguf.bool("tokenizer.ggml.add_bos_token") { addBOS = v }
        if let v = gguf.bool("tokenizer.ggml.add_eos_token") { addEOS = v }
        if alwaysAddBOS { addBOS = true }
        if addBOS && bos < 0 { throw .malformed("tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set") }
        if addEOS && eos < 0 { throw .malformed("tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set") }

        detectSpecialTokensByText()
        applyStripRules(gguf: gguf)
    }

    /// The id of the token whose text is exactly `text`.
    func id(of text: String) -> Int32? { texts.find(text).map { Int32($0) } }

    func contains(_ id: Int32) -> Bool { id >= 0 && Int(id) < count }

    func isEndOfGeneration(_ id: Int32) -> Bool {
        // The set is tiny (a handful of ids): a linear scan beats hashing.
        for e in endOfGeneration where e == id { return true }
        return false
    }

    // MARK: Text-based detection (llama.cpp's workaround for converters that omit the ids)

    private static let eotTexts = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
        "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
    ]
    private static let eomTexts = ["<|eom_id|>"]
    private static let fimPreTexts = ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"]
    private static let fimSufTexts = ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"]
    private static let fimMidTexts = ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"]
    private static let fimPadTexts = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]
    private static let fimRepTexts = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]
    private static let fimSepTexts = ["<|file_sep|>"]
    private static let eogTexts = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
        "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        "<｜end▁of▁sentence｜>", "[e~[",
    ]

    /// The lowest id among tokens whose text is one of `candidates`. (llama.cpp takes the first
    /// one its hash map yields; with several candidates present the choice is unspecified there.)
    private func firstID(_ candidates: [String]) -> Int32? {
        var best: Int32? = nil
        for text in candidates {
            if let id = id(of: text), best == nil || id < best! { best = id }
        }
        return best
    }

    private mutating func markControl(_ id: Int32) {
        attributes[Int(id)].insert(.control)
    }

    private mutating func detect(_ slot: inout Int32, _ candidates: [String]) {
        if slot >= 0 { return }
        if let id = firstID(candidates) {
            slot = id
            markControl(id)
        }
    }

    private mutating func detectSpecialTokensByText() {
        var e = eot, m = eom, fp = fimPre, fs = fimSuf, fm = fimMid, fpad = fimPad, fr = fimRep, fsep = fimSep
        detect(&e, Self.eotTexts)
        detect(&m, Self.eomTexts)
        detect(&fp, Self.fimPreTexts)
        detect(&fs, Self.fimSufTexts)
        detect(&fm, Self.fimMidTexts)
        detect(&fpad, Self.fimPadTexts)
        detect(&fr, Self.fimRepTexts)
        detect(&fsep, Self.fimSepTexts)
        eot = e; eom = m; fimPre = fp; fimSuf = fs; fimMid = fm; fimPad = fpad; fimRep = fr; fimSep = fsep

        var eog: [Int32] = []
        func add(_ id: Int32) { if id >= 0 && !eog.contains(id) { eog.append(id) } }
        add(fimPad); add(fimRep); add(fimSep)
        for text in Self.eogTexts {
            if let id = id(of: text) {
                add(id)
                markControl(id)
            }
        }
        // gpt-oss: these always render and are never control.
        for text in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let id = id(of: text) { attributes[Int(id)] = .userDefined }
        }
        add(eos); add(eot); add(eom)

        // o200k_harmony / solar-open: "<|end|>" is not end-of-generation when the
        // return/call (or calls/flush) tokens exist.
        func inEOG(_ text: String) -> Int32? {
            guard let id = id(of: text), eog.contains(id) else { return nil }
            return id
        }
        if let end = inEOG("<|end|>") {
            let hasReturn = inEOG("<|return|>") != nil
            let hasCall = inEOG("<|call|>") != nil || inEOG("<|calls|>") != nil
            let hasFlush = inEOG("<|flush|>") != nil
            if (hasReturn && hasCall) || (hasCall && hasFlush) {
                eog.removeAll { $0 == end }
                attributes[Int(end)] = .userDefined
            }
        }
        // gemma4 / paddleocr: "</s>" is not end-of-generation next to "<|tool_response>".
        if let s = inEOG("</s>"), inEOG("<|tool_response>") != nil {
            eog.removeAll { $0 == s }
            attributes[Int(s)] = .normal
        }
        eog.sort()
        endOfGeneration = eog
    }

    // MARK: Whitespace stripping around special tokens (llama.cpp's per-model attributes)

    /// llama.cpp's rules by model name, pre-tokenizer and architecture: a "<mask>" or "[MASK]"
    /// that takes the whitespace before it (Jina v2, Nomic BERT MoE, Jina BERT v3, ModernBERT);
    /// for Phi-3, every special token but <unk>, <s> and <|endoftext|> takes the whitespace
    /// after it.
    private mutating func applyStripRules(gguf: GGUFFile) {
        let name = (gguf.string("general.name") ?? "").utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 }
        let pre = Array((gguf.string("tokenizer.ggml.pre") ?? "").utf8)
        let architecture = Array((gguf.string("general.architecture") ?? "").utf8)
        func mentions(_ text: [UInt8], _ parts: [String]) -> Bool {
            for part in parts where Self.contains(text, Array(part.utf8)) { return true }
            return false
        }
        func set(_ text: String, _ attribute: TokenAttributes, _ on: Bool) {
            guard let id = id(of: text) else { return }
            if on { attributes[Int(id)].insert(attribute) } else { attributes[Int(id)].remove(attribute) }
        }
        if mentions(pre, ["jina-v2-de", "jina-v2-es", "jina-v2-code"]) || mentions(architecture, ["nomic-bert-moe", "jina-bert-v3"]) {
            set("<mask>", .lstrip, true)
        } else if mentions(name, ["phi-3", "phi3"]) {
            for id in 0..<count where !attributes[id].isDisjoint(with: [.control, .userDefined, .unknown]) {
                attributes[id].insert(.rstrip)
            }
            set("</s>", .rstrip, true)
            for text in ["<unk>", "<s>", "<|endoftext|>"] { set(text, .rstrip, false) }
        } else if mentions(name, ["modern-bert"]) {
            set("[MASK]", .lstrip, true)
        }
    }

    private static func contains(_ text: [UInt8], _ part: [UInt8]) -> Bool {
        if part.isEmpty { return true }
        if part.count > text.count { return false }
        for start in 0...(text.count - part.count) where text[start..<(start + part.count)].elementsEqual(part) {
            return true
        }
        return false
    }

    // MARK: Pieces

    /// The text of the byte token for `b`: "<0xNN>", upper-case hex.
    static func byteTokenText(_ b: UInt8) -> [UInt8] {
        [0x3C, 0x30, 0x78, ByteLevelEncoding.hexDigitUpper(b >> 4), ByteLevelEncoding.hexDigitUpper(b & 15), 0x3E]
    }

    /// For SPM/byte tokens: the byte value of a "<0xNN>" token.
    func byteValue(_ id: Int) -> UInt8? {
        texts.withBytes(id) { b -> UInt8? in
            guard b.count == 6, b[0] == UInt8(ascii: "<"), b[1] == UInt8(ascii: "0"), b[2] == UInt8(ascii: "x"),
                  b[5] == UInt8(ascii: ">"), let hi = hexValue(b[3]), let lo = hexValue(b[4]) else { return nil }
            return hi << 4 | lo
        }
    }
}

@inline(__always)
func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}
