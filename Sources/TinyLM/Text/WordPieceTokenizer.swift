// String._nfd (canonical decomposition, backed by the Unicode data tables the Embedded stdlib
// links) is the stdlib's own normalizer behind an SPI: the only decomposition the core can
// reach without carrying its own copy of UnicodeData.
@_spi(_Unicode) import Swift

/// WordPiece (`tokenizer.ggml.model` = "bert") exactly as llama.cpp runs it, over llama.cpp's
/// form of the vocabulary: a word-initial piece is stored with a "▁" (U+2581) prefix, a
/// continuation piece ("##ing" in vocab.txt) without any prefix.
///
/// Per code point, in order (`role(of:)`; Unicode data as of 15.1, llama.cpp's tables):
/// 1. Accent stripping on: the code point becomes the *first* code point of its canonical
///    decomposition (so "é" is "e", and a Hangul syllable is only its leading jamo: 한 → ᄒ).
/// 2. White space (the White_Space property: tab, LF, VT, FF, CR, U+0085, NBSP, …) ends a word.
/// 3. NUL, U+FFFD and control/format/private-use/surrogate code points are dropped; with
///    accent stripping, so are all marks (Mn, Mc, Me). Unassigned code points stay.
/// 4. Lower-casing on: the simple (one code point) lower-case mapping.
/// 5. Punctuation (P*), ASCII symbols (`$+<=>^`|~`) and CJK ideographs are words of their own.
/// Then each word, "▁"-prefixed, is cut greedily into the longest pieces the vocabulary has;
/// if some position matches nothing, the whole word is one `[UNK]` (there is no length limit).
///
/// Where this differs from Hugging Face's `BertTokenizer` (sentence-transformers), llama.cpp
/// wins: VT, FF and U+0085 split words instead of vanishing, Mc/Me marks are stripped too,
/// unassigned code points make a word unknown instead of vanishing, a Hangul syllable keeps
/// only its leading consonant, and words over 100 characters are cut into pieces.
struct WordPieceTokenizer {
    let lowercase: Bool
    let stripAccents: Bool
    let unknown: Int32
    /// Longest vocabulary entry in bytes: bounds the match search.
    let longestPiece: Int

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
        var word: [UInt8] = []
        swap(&word, &scratch.word)
        defer { swap(&word, &scratch.word) }
        word.removeAll(keepingCapacity: true)
        word.append(contentsOf: Self.wordPrefix)
        let prefixLength = Self.wordPrefix.count

        func finishWord() {
            guard word.count > prefixLength else { return }
            appendPieces(of: word, vocabulary: vocabulary, into: &output)
            word.removeSubrange(prefixLength...)
        }

        var offset = 0
        while offset < text.count {
            let (scalar, length) = UTF8Scanner.decode(text, at: offset)
            offset += length
            switch Self.role(of: scalar, lowercase: lowercase, stripAccents: stripAccents) {
            case .separator:
                finishWord()
            case .dropped:
                break
            case .isolated(let c):
                finishWord()
                Self.appendUTF8(c, to: &word)
                finishWord()
            case .joined(let c):
                Self.appendUTF8(c, to: &word)
            }
        }
        finishWord()
    }

    /// Greedy longest-match-first pieces of one "▁"-prefixed word (UTF-8), or `[UNK]`.
    private func appendPieces(of word: [UInt8], vocabulary: Vocabulary, into output: inout [Int32]) {
        let firstOutput = output.count
        word.withUnsafeBytes { bytes in
            let n = bytes.count
            var start = 0
            while start < n {
                var end = min(n, start + longestPiece)
                var matched = false
                while end > start {
                    if let id = vocabulary.texts.find(UnsafeRawBufferPointer(rebasing: bytes[start..<end])) {
                        output.append(Int32(truncatingIfNeeded: id))
                        matched = true
                        break
                    }
                    end -= 1
                }
                guard matched else {
                    output.removeLast(output.count - firstOutput)
                    return
                }
                start = end
            }
        }
        if output.count == firstOutput { output.append(unknown) }
    }

    private static let wordPrefix: [UInt8] = [0xE2, 0x96, 0x81]  // "▁"

    // MARK: What each code point does (llama.cpp's rules over its Unicode 15.1 data)

    enum Role: Equatable {
        /// Ends the current word.
        case separator
        /// Vanishes without ending the word.
        case dropped
        /// A word of its own: this code point.
        case isolated(UInt32)
        /// Appended to the current word: this code point.
        case joined(UInt32)
    }

    static func role(of original: UInt32, lowercase: Bool, stripAccents: Bool) -> Role {
        // Decomposition comes first: "≠" becomes "=", an ASCII symbol.
        let c = stripAccents ? decompositionStart(original) : original
        if c < 0x80 {
            if c == 0x20 || (c >= 0x09 && c <= 0x0D) { return .separator }
            if c < 0x20 || c == 0x7F { return .dropped }
            if (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126) {
                return .isolated(c)
            }
            return .joined(lowercase && c >= 0x41 && c <= 0x5A ? c + 32 : c)
        }
        if isWhitespace(c) { return .separator }
        if c == 0xFFFD { return .dropped }
        // Surrogates (from lenient UTF-8) are category Cs; past U+10FFFF llama.cpp cannot
        // encode the code point again (it throws): both vanish here.
        guard let scalar = Unicode.Scalar(c) else { return .dropped }
        let properties = scalar.properties
        if isAssignedInTables(properties) {
            switch properties.generalCategory {
            case .control, .format, .privateUse, .surrogate:
                return .dropped
            case .nonspacingMark, .spacingMark, .enclosingMark:
                if stripAccents { return .dropped }
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                 .initialPunctuation, .finalPunctuation, .otherPunctuation:
                return .isolated(lowercase ? simpleLowercase(scalar) : c)
            default:
                break
            }
            if isCJK(c) { return .isolated(c) }
            return .joined(lowercase ? simpleLowercase(scalar) : c)
        }
        // Unassigned in llama.cpp's tables: no flags, no case; the CJK test is by range only.
        return isCJK(c) ? .isolated(c) : .joined(c)
    }

    /// llama.cpp's tables are Unicode 15.1 (the stdlib's are newer): a code point assigned
    /// later has no category, case mapping or decomposition there.
    @inline(__always)
    static func isAssignedInTables(_ properties: Unicode.Scalar.Properties) -> Bool {
        guard let age = properties.age else { return false }
        return age.major < 15 || (age.major == 15 && age.minor <= 1)
    }

    /// The first code point of the canonical decomposition (NFD) of `c`, or `c`.
    static func decompositionStart(_ c: UInt32) -> UInt32 {
        if c < 0xC0 { return c }  // nothing below U+00C0 decomposes
        // Hangul syllables decompose algorithmically (Unicode §3.12); the leading consonant
        // is the syllable index divided by 21 vowels × 28 trailing consonants.
        if c >= 0xAC00 && c <= 0xD7A3 { return 0x1100 + (c - 0xAC00) / 588 }
        if (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) { return c }  // no decompositions
        guard let scalar = Unicode.Scalar(c), isAssignedInTables(scalar.properties) else { return c }
        var single = String()
        single.unicodeScalars.append(scalar)  // a small string: no allocation
        var decomposed = single._nfd.makeIterator()
        return decomposed.next()?.value ?? c
    }

    /// The one-code-point lower-case mapping (UnicodeData's field 13). The stdlib gives the
    /// full mapping; the only code point whose full lower case is longer is U+0130 (İ → i̇),
    /// whose simple lower case is "i".
    static func simpleLowercase(_ scalar: Unicode.Scalar) -> UInt32 {
        if scalar.value == 0x130 { return 0x69 }
        let mapping = scalar.properties.lowercaseMapping.unicodeScalars
        guard let first = mapping.first, mapping.index(after: mapping.startIndex) == mapping.endIndex else {
            return scalar.value
        }
        return first.value
    }

    /// The White_Space property (non-ASCII part).
    static func isWhitespace(_ c: UInt32) -> Bool {
        switch c {
        case 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
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
    var word: [UInt8] = []
}
