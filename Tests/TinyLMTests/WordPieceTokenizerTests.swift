import Testing
@testable import TinyLM

/// llama.cpp's WordPiece preprocessing rules, each checked as an equivalence of two texts on
/// the bert-bge vocabulary (uncased, accents stripped), so a rule that stops holding fails
/// whatever the ids are. The id-for-id comparison with llama.cpp is LlamaCppTokenizerSuiteTests.
@Suite("WordPiece rules")
struct WordPieceTokenizerTests {
    func encode(_ text: String) throws -> [Int32] {
        try LlamaCppTokenizerSuite.tokenizer("bert-bge").encode(text, addSpecial: false, parseSpecial: false)
    }

    @Test("a Hangul syllable keeps only its leading consonant (first code point of its NFD)")
    func hangulSyllables() throws {
        #expect(try encode("한국어 가나") == encode("\u{1112}\u{1100}\u{110B} \u{1100}\u{1102}"))
        #expect(try encode("한국어") != encode("\u{1112}\u{1161}\u{11AB}\u{1100}\u{116E}\u{11A8}\u{110B}\u{1165}"))
    }

    @Test("every White_Space character ends a word, VT, FF and U+0085 included; other controls vanish")
    func whitespaceAndControls() throws {
        #expect(try encode("over\u{0B}the\u{0C}lazy\u{85}dog\u{2028}now") == encode("over the lazy dog now"))
        #expect(try encode("over\u{1C}the\u{200B}lazy\u{7F}dog") == encode("overthelazydog"))
    }

    @Test("accent stripping drops every mark (Mn, Mc, Me) and works on the decomposition's first code point")
    func marks() throws {
        #expect(try encode("café Ångström") == encode("cafe angstrom"))
        #expect(try encode("नमस्ते") == encode("नमसत"))  // virama (Mn) and vowel sign E (Mc)
        #expect(try encode("x≠y") == encode("x = y"))  // ≠ decomposes to "=" + U+0338: an ASCII symbol
    }

    @Test("lower case is the one-code-point mapping, applied after decomposition")
    func lowerCase() throws {
        #expect(try encode("ΣΟΦΟΣ") == encode("σοφοσ"))  // no final-sigma rule
        #expect(try encode("İstanbul") == encode("istanbul"))
    }

    @Test("a code point unassigned in Unicode 15.1 stays in its word and makes it unknown")
    func unassignedCodePoints() throws {
        let unknown = try #require(LlamaCppTokenizerSuite.tokenizer("bert-bge").tokenID(for: "[UNK]"))
        #expect(try encode("hello wor\u{0378}ld") == encode("hello") + [unknown])
        #expect(try encode("\u{1C89}") == [unknown])  // a Unicode 16 letter: no lower case in 15.1
    }

    @Test("a word of any length is cut into pieces; there is no 100-character limit")
    func longWords() throws {
        let word = String(repeating: "unbelievable", count: 12)
        let pieces = try encode(word)
        #expect(pieces.count > 12)
        let tokenizer = try LlamaCppTokenizerSuite.tokenizer("bert-bge")
        #expect(tokenizer.decode(pieces).filter { $0 != " " } == word)
        let unknown = try #require(tokenizer.tokenID(for: "[UNK]"))
        #expect(!pieces.contains(unknown))
    }
}
