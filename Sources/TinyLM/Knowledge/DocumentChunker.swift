/// Splits a document into passages small enough to embed well, along its structure:
///
/// - a chunk never crosses a heading: each section (the paragraphs under one heading) is
///   chunked on its own, and the chunk carries the heading path ("Ordering › Cakes");
/// - paragraphs are packed whole while the chunk stays within `maxTokens` (counted with the
///   embedder's tokenizer, the heading line included); a paragraph too long for one chunk is
///   split at sentence ends, a sentence too long at spaces;
/// - consecutive chunks of one section overlap: the next one starts with the last pieces
///   (paragraphs or sentences) of the previous one, up to `overlapTokens`.
///
/// What is embedded for a chunk is `embeddingText(title:heading:text:)`: the document title
/// and heading path on a first line, then the passage.
public struct DocumentChunker {
    public var maxTokens: Int
    public var overlapTokens: Int
    let tokenizer: Tokenizer

    /// Defaults fit all-MiniLM-L6-v2 (trained on passages of up to 128–256 tokens).
    public init(tokenizer: Tokenizer, maxTokens: Int = 160, overlapTokens: Int = 32) {
        self.tokenizer = tokenizer
        self.maxTokens = max(16, maxTokens)
        self.overlapTokens = max(0, min(overlapTokens, self.maxTokens / 2))
    }

    public struct Chunk: Sendable, Equatable {
        public var heading: String
        public var text: String
    }

    /// The line that introduces a chunk to the embedder.
    public static func embeddingText(title: String, heading: String, text: String) -> String {
        let context = heading.isEmpty ? title : (title.isEmpty ? heading : title + " › " + heading)
        return context.isEmpty ? text : context + "\n" + text
    }

    public func chunks(of document: DocumentText, title: String) -> [Chunk] {
        var result: [Chunk] = []
        var path: [(level: Int, text: String)] = []
        var paragraphs: [String] = []
        func flushSection() {
            if !paragraphs.isEmpty {
                chunkSection(heading: path.map { $0.text }.joined(separator: " › "), paragraphs: paragraphs, title: title, into: &result)
            }
            paragraphs.removeAll()
        }
        for block in document.blocks {
            if block.level > 0 {
                flushSection()
                while let last = path.last, last.level >= block.level { path.removeLast() }
                // The title heading itself adds nothing to the path.
                if !(path.isEmpty && block.level == 1 && block.text == title) { path.append((block.level, block.text)) }
            } else {
                paragraphs.append(block.text)
            }
        }
        flushSection()
        return result
    }

    private struct Piece {
        var text: String
        var tokens: Int
        /// Joined to the previous piece with a space (a sentence of the same paragraph)
        /// rather than a blank line.
        var continuesParagraph: Bool
    }

    private func count(_ text: String) -> Int { tokenizer.encode(text, addSpecial: false, parseSpecial: false).count }

    private func chunkSection(heading: String, paragraphs: [String], title: String, into result: inout [Chunk]) {
        let headingTokens = count(Self.embeddingText(title: title, heading: heading, text: "x")) - 1
        let budget = max(8, maxTokens - headingTokens)
        var pieces: [Piece] = []
        for paragraph in paragraphs {
            let tokens = count(paragraph)
            if tokens <= budget {
                pieces.append(Piece(text: paragraph, tokens: tokens, continuesParagraph: false))
                continue
            }
            var first = true
            for sentence in Self.sentences(paragraph) {
                let t = count(sentence)
                if t <= budget {
                    pieces.append(Piece(text: sentence, tokens: t, continuesParagraph: !first))
                } else {
                    for window in words(sentence, budget: budget) {
                        pieces.append(Piece(text: window.text, tokens: window.tokens, continuesParagraph: !first))
                        first = false
                    }
                }
                first = false
            }
        }
        var current: [Piece] = []
        var used = 0
        var fresh = 0  // pieces in `current` not already emitted in the previous chunk
        func emit() {
            guard fresh > 0 else { return }
            var text = ""
            for (i, piece) in current.enumerated() {
                if i > 0 { text += piece.continuesParagraph ? " " : "\n\n" }
                text += piece.text
            }
            result.append(Chunk(heading: heading, text: text))
            // Overlap: the trailing pieces that fit in overlapTokens start the next chunk.
            var kept: [Piece] = []
            var keptTokens = 0
            for piece in current.reversed() {
                if keptTokens + piece.tokens > overlapTokens || kept.count + 1 >= current.count { break }
                kept.insert(piece, at: 0)
                keptTokens += piece.tokens
            }
            current = kept
            used = keptTokens
            fresh = 0
        }
        for piece in pieces {
            if used + piece.tokens > budget && fresh > 0 { emit() }
            if used + piece.tokens > budget {
                // The overlap and the new piece do not fit together: drop the overlap.
                current.removeAll()
                used = 0
            }
            current.append(piece)
            used += piece.tokens
            fresh += 1
        }
        emit()
    }

    /// Sentence ends: ".", "!", "?" (and their CJK forms) followed by white space, and line breaks.
    static func sentences(_ paragraph: String) -> [String] {
        var result: [String] = []
        var current = String.UnicodeScalarView()
        let scalars = Array(paragraph.unicodeScalars)
        for (i, c) in scalars.enumerated() {
            if c == "\n" {
                let s = DocumentText.trim(String(current))
                if !s.isEmpty { result.append(s) }
                current.removeAll()
                continue
            }
            current.append(c)
            let end = c == "." || c == "!" || c == "?" || c == "。" || c == "！" || c == "？"
            if end && (i + 1 == scalars.count || scalars[i + 1].properties.isWhitespace) {
                let s = DocumentText.trim(String(current))
                if !s.isEmpty { result.append(s) }
                current.removeAll()
            }
        }
        let s = DocumentText.trim(String(current))
        if !s.isEmpty { result.append(s) }
        return result
    }

    /// A long sentence cut at spaces into pieces of at most `budget` tokens (a single word
    /// longer than that stays whole: the embedder cuts it).
    private func words(_ sentence: String, budget: Int) -> [(text: String, tokens: Int)] {
        var result: [(text: String, tokens: Int)] = []
        var current = ""
        var used = 0
        for word in sentence.split(separator: " ", omittingEmptySubsequences: true) {
            let t = count(String(word))
            if used + t > budget && !current.isEmpty {
                result.append((current, used))
                current = ""
                used = 0
            }
            current += current.isEmpty ? String(word) : " " + word
            used += t
        }
        if !current.isEmpty { result.append((current, used)) }
        return result
    }
}
