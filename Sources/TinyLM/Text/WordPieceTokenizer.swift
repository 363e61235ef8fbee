// String._nfd (canonical decomposition, backed by the Unicode data tables the Embedded stdlib
// links) is the stdlib's own normalizer behind an SPI: the only decomposition the core can
// reach without carrying its own copy of UnicodeData.
@_spi(_Unicode) import Swift

/// WordPiece (`tokenizer.ggml.model` = "bert"), with the behaviour of Hugging Face's
/// `BertNormalizer` + `BertPreTokenizer` + `WordPiece` (what sentence-transformers runs), over
/// llama.cpp's form of the vocabulary: a word-initial piece is stored with a "▁" (U+2581)
/// prefix, a continuation piece ("##ing" in vocab.txt) without any prefix.
///
/// 1. Clean: drop NUL, U+FFFD and control/format/unassigned/private-use characters (tab, LF
///    and CR excepted); every white-space character becomes a space.
/// 2. Put spaces around CJK ideographs (the BERT ranges), so each is a word of its own.
/// 3. Uncased models: canonical decomposition (NFD) with the non-spacing marks removed
///    (accents stripped), then each character lower-cased on its own (no context rules).
/// 4. Split at spaces; every punctuation character (Unicode P*, and all ASCII symbols such as
///    `$+<=>^|~`) is a word of its own.
/// 5. Each word: `[UNK]` if longer than 100 characters; otherwise greedy longest-match-first
///    pieces, the first one "▁"-prefixed; if some position matches no piece, the whole word is
///    `[UNK]`.
struct WordPieceTokenizer {
    let lowercase: Bool
    let stripAccents: Bool
    let unknown: Int32
    /// Longest vocabulary entry in bytes: bounds the match search.
    let longestPiece: Int
    /// Words longer than this many characters are one unknown token (BERT's limit).
    static let maxWordCharacters = 100

    init(vocabulary: Vocabulary, lowercase: Bool, stripAccents: Bool) {
        self.lowercase = lowercase
        self.stripAccents = stripAccents
        unknown = vocabulary.unk
        var longest = 1
        for i in 0..<vocabulary.count { longest = max(longest, vocabulary.texts.length(i)) }
        longestPiece = longest
    }

    /// Appends the pieces of one plain-text fragment (no special tokens in it).
    func encode(_ text: UnsafeRawBufferPointer, vocabulary: Vocabulary, into output: inout [Int32],
                scratch: inout WordPieceScratch) {
        var scalars: [UInt32] = []
        swap(&scalars, &scratch.scalars)
        defer { swap(&scalars, &scratch.scalars) }
        normalize(text, into: &scalars, scratch: &scratch)
        var word: [UInt8] = []
        swap(&word, &scratch.word)
        defer { swap(&word, &scratch.word) }
        word.removeAll(keepingCapacity: true)
        var characters = 0

        func finishWord() {
            guard characters > 0 else { return }
            appendPieces(of: word, characters: characters, vocabulary: vocabulary, into: &output)
            word.removeAll(keepingCapacity: true)
            characters = 0
        }

        for scalar in scalars {
            if scalar == 0x20 || Self.isWhitespace(scalar) {
                finishWord()
            } else if Self.isPunctuation(scalar) {
                finishWord()
                Self.appendUTF8(scalar, to: &word)
                characters = 1
                finishWord()
            } else {
                Self.appendUTF8(scalar, to: &word)
                characters += 1
            }
        }
        finishWord()
    }

    /// Steps 1–3: the normalized text as scalars.
    private func normalize(_ text: UnsafeRawBufferPointer, into out: inout [UInt32], scratch: inout WordPieceScratch) {
        out.removeAll(keepingCapacity: true)
        var cleaned: [UInt32] = []
        swap(&cleaned, &scratch.cleaned)
        defer { swap(&cleaned, &scratch.cleaned) }
        cleaned.removeAll(keepingCapacity: true)
        var allASCII = true
        var offset = 0
        while offset < text.count {
            let (scalar, length) = UTF8Scanner.decode(text, at: offset)
            offset += length
            if scalar == 0 || scalar == 0xFFFD { continue }
            if scalar == 0x09 || scalar == 0x0A || scalar == 0x0D { cleaned.append(0x20); continue }
            if Self.isControl(scalar) { continue }
            if Self.isWhitespace(scalar) { cleaned.append(0x20); continue }
            if Self.isCJK(scalar) {
                cleaned.append(0x20)
                cleaned.append(scalar)
                cleaned.append(0x20)
                allASCII = false
                continue
            }
            if scalar >= 0x80 { allASCII = false }
            cleaned.append(scalar)
        }
        if allASCII {
            // ASCII is its own NFD and has no marks: only the case changes.
            for c in cleaned { out.append(lowercase && c >= 0x41 && c <= 0x5A ? c + 32 : c) }
            return
        }
        if stripAccents {
            var view = String.UnicodeScalarView()
            for c in cleaned { view.append(Unicode.Scalar(c) ?? "\u{FFFD}") }
            let decomposed = String(view)
            for scalar in decomposed._nfd where scalar.properties.generalCategory != .nonspacingMark {
                appendCased(scalar, to: &out)
            }
        } else {
            for c in cleaned { appendCased(Unicode.Scalar(c) ?? "\u{FFFD}", to: &out) }
        }
    }

    @inline(__always)
    private func appendCased(_ scalar: Unicode.Scalar, to out: inout [UInt32]) {
        let c = scalar.value
        if !lowercase { out.append(c); return }
        if c < 0x80 { out.append(c >= 0x41 && c <= 0x5A ? c + 32 : c); return }
        for lower in scalar.properties.lowercaseMapping.unicodeScalars { out.append(lower.value) }
    }

    /// Step 5 for one word (UTF-8 `word`, `characters` scalars long).
    private func appendPieces(of word: [UInt8], characters: Int, vocabulary: Vocabulary, into output: inout [Int32]) {
        if characters > Self.maxWordCharacters {
            output.append(unknown)
            return
        }
        let firstOutput = output.count
        let matched: Bool = word.withUnsafeBytes { bytes in
            let n = bytes.count
            var start = 0
            while start < n {
                // Longest piece first; ends only at character boundaries.
                var end = min(n, start + longestPiece)
                var found: Int? = nil
                while end > start {
                    if end == n || bytes[end] & 0xC0 != 0x80 {
                        let piece = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                        found = start == 0 ? Self.findWordInitial(piece, vocabulary) : vocabulary.texts.find(piece)
                        if found != nil { break }
                    }
                    end -= 1
                }
                guard let id = found else { return false }
                output.append(Int32(id))
                start = end
            }
            return true
        }
        if !matched {
            output.removeLast(output.count - firstOutput)
            output.append(unknown)
        }
    }

    private static let wordPrefix: [UInt8] = [0xE2, 0x96, 0x81]  // "▁"

    @inline(__always)
    private static func findWordInitial(_ piece: UnsafeRawBufferPointer, _ vocabulary: Vocabulary) -> Int? {
        wordPrefix.withUnsafeBytes { prefix in vocabulary.texts.find(prefix, piece) }
    }

    // MARK: Character classes (as the Hugging Face BERT normalizer and pre-tokenizer define them)

    /// Control characters removed by the cleaning step: categories Cc, Cf, Cn, Co, Cs.
    static func isControl(_ c: UInt32) -> Bool {
        if c < 0x80 { return c < 0x20 || c == 0x7F }
        guard let scalar = Unicode.Scalar(c) else { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    static func isWhitespace(_ c: UInt32) -> Bool {
        if c < 0x80 { return c == 0x20 || (c >= 0x09 && c <= 0x0D) }
        guard let scalar = Unicode.Scalar(c) else { return false }
        return scalar.properties.isWhitespace
    }

    /// ASCII punctuation and symbols, and Unicode punctuation (P*).
    static func isPunctuation(_ c: UInt32) -> Bool {
        if c < 0x80 {
            return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)
        }
        guard let scalar = Unicode.Scalar(c) else { return false }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// The CJK ideograph blocks BERT isolates (the 0x2B920 start is the reference
    /// implementation's, kept for identical ids).
    static func isCJK(_ c: UInt32) -> Bool {
        (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
            || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF)
            || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F)
    }

    @inline(__always)
    static func appendUTF8(_ c: UInt32, to out: inout [UInt8]) {
        if c < 0x80 {
            out.append(UInt8(c))
        } else if c < 0x800 {
            out.append(UInt8(0xC0 | (c >> 6)))
            out.append(UInt8(0x80 | (c & 0x3F)))
        } else if c < 0x10000 {
            out.append(UInt8(0xE0 | (c >> 12)))
            out.append(UInt8(0x80 | ((c >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (c & 0x3F)))
        } else {
            out.append(UInt8(0xF0 | (c >> 18)))
            out.append(UInt8(0x80 | ((c >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((c >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (c & 0x3F)))
        }
    }
}

/// Buffers one `WordPieceTokenizer.encode` call reuses across fragments.
struct WordPieceScratch {
    var cleaned: [UInt32] = []
    var scalars: [UInt32] = []
    var word: [UInt8] = []
}
