/// Text ↔ token ids for a GGUF model, matching llama.cpp's tokenizer id for id.
///
/// Supported: `tokenizer.ggml.model` "gpt2" (byte-level BPE with the pre-tokenizers of
/// `PreTokenizer.swift`: default, gpt-2, starcoder, falcon, llama-bpe, qwen2, qwen35,
/// deepseek-llm, deepseek-coder and their aliases), "gemma4" (BPE over UTF-8 with ▁ for spaces)
/// and "llama" (SentencePiece BPE with scores and byte fallback, e.g. Gemma 3).
///
/// Needs only the vocabulary metadata of a GGUF file, so it also loads from vocabulary-only
/// files (no tensors, as llama.cpp's `vocab_only`), and it copies what it keeps: the file's
/// bytes may go once it exists.
public struct Tokenizer: Sendable {
    private enum Model {
        case bpe(BPETokenizer)
        case sentencePiece(SentencePieceTokenizer)
        case wordPiece(WordPieceTokenizer)
    }

    private let vocabulary: Vocabulary
    private let model: Model
    private let specials: SpecialTokenMatcher
    /// llama.cpp's `clean_spaces` (clean_up_tokenization_spaces), applied by `decode`.
    private let cleanSpaces: Bool

    public init(gguf: GGUFFile) throws(TinyLMError) {
        guard let modelName = gguf.string("tokenizer.ggml.model") else {
            throw .malformed("missing required metadata 'tokenizer.ggml.model'")
        }
        switch modelName {
        case "gpt2", "gemma4":
            // llama.cpp gives "gemma4" vocabularies the gemma4 pre-tokenizer, whatever the file says.
            let preName = modelName == "gemma4" ? "gemma4" : gguf.string("tokenizer.ggml.pre")
            guard let pre = PreTokenizer.named(preName) else {
                var supported = ""
                for name in PreTokenizer.supportedNames { supported += (supported.isEmpty ? "" : ", ") + name }
                throw .unsupported("unsupported pre-tokenizer '\(preName ?? "")' (tokenizer.ggml.pre); supported: \(supported)")
            }
            let vocabulary = try Vocabulary(gguf: gguf, kind: modelName == "gemma4" ? .gemma4BPE : .byteLevelBPE,
                                            addBOSDefault: pre.addBOSDefault, alwaysAddBOS: pre.alwaysAddsBOS)
            self.vocabulary = vocabulary
            self.model = .bpe(try BPETokenizer(vocabulary: vocabulary, gguf: gguf, preTokenizer: pre))
            cleanSpaces = pre.cleanSpaces
        case "llama":
            let vocabulary = try Vocabulary(gguf: gguf, kind: .sentencePiece, addBOSDefault: true)
            self.vocabulary = vocabulary
            self.model = .sentencePiece(SentencePieceTokenizer(vocabulary: vocabulary))
            cleanSpaces = false
        case "bert":
            let vocabulary = try Vocabulary(gguf: gguf, kind: .wordPiece, addBOSDefault: true)
            self.vocabulary = vocabulary
            // llama.cpp's defaults: lower-case, and strip accents when lower-casing.
            let lowercase = gguf.bool("tokenizer.ggml.normalizer.lowercase") ?? true
            let stripAccents = gguf.bool("tokenizer.ggml.normalizer.strip_accents") ?? lowercase
            self.model = .wordPiece(WordPieceTokenizer(vocabulary: vocabulary, lowercase: lowercase, stripAccents: stripAccents))
            cleanSpaces = true
        default:
            throw .unsupported("unsupported tokenizer model '\(modelName)' (tokenizer.ggml.model); supported: gpt2, gemma4, llama, bert")
        }
        self.specials = SpecialTokenMatcher(vocabulary: vocabulary)
    }

    // MARK: Vocabulary facts

    public var vocabularySize: Int { vocabulary.count }
    public var bosTokenID: Int32? { vocabulary.bos >= 0 ? vocabulary.bos : nil }
    public var eosTokenID: Int32? { vocabulary.eos >= 0 ? vocabulary.eos : nil }
    /// The separator token ([SEP] of BERT vocabularies).
    public var separatorTokenID: Int32? { vocabulary.sep >= 0 ? vocabulary.sep : nil }
    /// Whether the model wants BOS at the start of a prompt (tokenizer.ggml.add_bos_token, else
    /// llama.cpp's default for the tokenizer type).
    public var addsBOS: Bool { vocabulary.addBOS }
    /// Whether the model wants EOS appended to a prompt (tokenizer.ggml.add_eos_token).
    public var addsEOS: Bool { vocabulary.addEOS }
    /// Every token that ends generation (llama.cpp's EOG set), ascending.
    public var endOfGenerationIDs: [Int32] { vocabulary.endOfGeneration }

    public func isEndOfGeneration(_ id: Int32) -> Bool { vocabulary.isEndOfGeneration(id) }

    public func isControl(_ id: Int32) -> Bool {
        vocabulary.contains(id) && vocabulary.attributes[Int(id)].contains(.control)
    }

    /// The id of the token whose vocabulary text is exactly `piece` (e.g. "<|im_end|>"; for
    /// byte-level vocabularies in their encoded form, e.g. "Ġthe").
    public func tokenID(for piece: String) -> Int32? { vocabulary.id(of: piece) }

    // MARK: Encoding

    /// Tokenizes `text` as llama.cpp's `llama_tokenize` does. `addSpecial`: prepend BOS when
    /// the model adds it (and append EOS when it adds that). `parseSpecial`: match control
    /// tokens written in the text (user-defined tokens always match).
    public func encode(_ text: String, addSpecial: Bool = false, parseSpecial: Bool = true) -> [Int32] {
        var output: [Int32] = []
        if addSpecial && vocabulary.addBOS && vocabulary.bos >= 0 { output.append(vocabulary.bos) }
        var text = text
        text.withUTF8 { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            let fragments = specials.partition(bytes, parseSpecial: parseSpecial)
            switch model {
            case .bpe(let bpe):
                var scratch = BPEScratch()
                for fragment in fragments {
                    if fragment.token >= 0 {
                        output.append(fragment.token)
                    } else {
                        bpe.encode(UnsafeRawBufferPointer(rebasing: bytes[fragment.start..<fragment.end]),
                                   vocabulary: vocabulary, into: &output, scratch: &scratch)
                    }
                }
            case .sentencePiece(let spm):
                var scratch = SPMScratch()
                var previousWasSpecial = true
                for fragment in fragments {
                    if fragment.token >= 0 {
                        output.append(fragment.token)
                        previousWasSpecial = true
                    } else {
                        spm.encode(UnsafeRawBufferPointer(rebasing: bytes[fragment.start..<fragment.end]),
                                   spacePrefix: vocabulary.addSpacePrefix && previousWasSpecial,
                                   vocabulary: vocabulary, into: &output, scratch: &scratch)
                        previousWasSpecial = false
                    }
                }
            case .wordPiece(let wpm):
                var scratch = WordPieceScratch()
                for fragment in fragments {
                    if fragment.token >= 0 {
                        output.append(fragment.token)
                    } else {
                        wpm.encode(UnsafeRawBufferPointer(rebasing: bytes[fragment.start..<fragment.end]),
                                   vocabulary: vocabulary, into: &output, scratch: &scratch)
                    }
                }
            }
        }
        if case .wordPiece = model {
            // llama.cpp's WPM rule: [CLS] … [SEP] whenever special tokens are added.
            if addSpecial && vocabulary.sep >= 0 { output.append(vocabulary.sep) }
            return output
        }
        if addSpecial && vocabulary.addEOS && vocabulary.eos >= 0 { output.append(vocabulary.eos) }
        return output
    }

    // MARK: Decoding

    /// The bytes token `id` adds to generated text (llama.cpp's `token_to_piece` with
    /// special = true): control, unknown and user-defined tokens render as their text, byte
    /// tokens as their byte, normal tokens decoded (byte-level map for gpt2, "▁" → space for
    /// SentencePiece and Gemma 4). Unknown ids and unused/undefined tokens give no bytes.
    public func pieceBytes(_ id: Int32) -> [UInt8] {
        guard vocabulary.contains(id) else { return [] }
        let index = Int(id)
        let attrs = vocabulary.attributes[index]
        if !attrs.isDisjoint(with: [.unknown, .control, .userDefined]) {
            return vocabulary.texts.bytes(index)
        }
        if attrs.contains(.normal) {
            var out: [UInt8] = []
            let spacesEscaped: Bool
            switch model {
            case .bpe(let bpe): spacesEscaped = bpe.preTokenizer.escapesSpaces
            case .sentencePiece, .wordPiece: spacesEscaped = true
            }
            vocabulary.texts.withBytes(index) { text in
                if !spacesEscaped {
                    ByteLevelEncoding.decode(text, into: &out)
                } else {
                    out.reserveCapacity(text.count)
                    var i = 0
                    while i < text.count {
                        if i + 2 < text.count && text[i] == 0xE2 && text[i + 1] == 0x96 && text[i + 2] == 0x81 {
                            out.append(0x20)
                            i += 3
                        } else {
                            out.append(text[i])
                            i += 1
                        }
                    }
                }
            }
            return out
        }
        if attrs.contains(.byte), let b = vocabulary.byteValue(index) { return [b] }
        return []
    }

    /// The text of `ids`, as llama.cpp's `llama_detokenize` (special tokens rendered, nothing
    /// removed): pieces concatenated, the leading space of the first piece dropped when the
    /// model adds a space prefix, and for byte-level BPE models that ask for it, the
    /// clean-up of spaces before punctuation and contractions. Invalid UTF-8 becomes U+FFFD.
    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        var first = true
        for id in ids {
            var piece = pieceBytes(id)
            if first && vocabulary.addSpacePrefix && piece.first == 0x20 { piece.removeFirst() }
            first = false
            bytes.append(contentsOf: piece)
        }
        if cleanSpaces { bytes = Self.cleanUpSpaces(bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// llama.cpp's three clean-up passes: " ?" " !" " ." " ," lose the space; " ' " loses both
    /// spaces; " 's" " 'm" " 're" " 've" lose the space.
    private static func cleanUpSpaces(_ input: [UInt8]) -> [UInt8] {
        let space = UInt8(ascii: " "), quote = UInt8(ascii: "'")
        var text = input
        // Pass 1.
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        for (i, x) in text.enumerated() {
            if i > 0 && text[i - 1] == space && out.last == space
                && (x == UInt8(ascii: "?") || x == UInt8(ascii: "!") || x == UInt8(ascii: ".") || x == UInt8(ascii: ",")) {
                out.removeLast()
            }
            out.append(x)
        }
        // Pass 2.
        text = out
        out.removeAll(keepingCapacity: true)
        var i = 0
        var previousDropped = false  // llama.cpp overwrites the dropped space with NUL
        while i < text.count {
            let x = text[i]
            if i > 0 && x == quote && i + 1 < text.count && !previousDropped && text[i - 1] == space && text[i + 1] == space {
                if out.last == space { out.removeLast() }
                out.append(x)
                i += 2  // drop the next space
                previousDropped = true
                continue
            }
            previousDropped = false
            out.append(x)
            i += 1
        }
        // Pass 3.
        text = out
        out.removeAll(keepingCapacity: true)
        for (i, x) in text.enumerated() {
            if i > 0 && text[i - 1] == space && x == quote && i + 1 < text.count {
                let x1 = text[i + 1]
                var drop = x1 == UInt8(ascii: "s") || x1 == UInt8(ascii: "m")
                if !drop && !(x1 == UInt8(ascii: "t") || x1 == UInt8(ascii: "d")) && i + 2 < text.count {
                    let x2 = text[i + 2]
                    drop = (x1 == UInt8(ascii: "r") && x2 == UInt8(ascii: "e")) || (x1 == UInt8(ascii: "v") && x2 == UInt8(ascii: "e"))
                }
                if drop && out.last == space { out.removeLast() }
            }
            out.append(x)
        }
        return out
    }
}
