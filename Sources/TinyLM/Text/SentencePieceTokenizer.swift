/// SentencePiece BPE (`tokenizer.ggml.model` = "llama"), as llama.cpp's `llm_tokenizer_spm`:
/// spaces become "▁" (U+2581), the text starts as one symbol per UTF-8 character, and the
/// adjacent pair whose concatenation is a vocabulary token with the highest score (ties:
/// leftmost) is merged until no pair forms a token. A final symbol that is not a token (a
/// character outside the vocabulary) is spelled with byte tokens "<0xNN>".
struct SentencePieceTokenizer {
    /// Byte → its byte token ("<0xNN>", else the one-byte string), -1 when neither exists.
    private var byteTokens = [Int32](repeating: -1, count: 256)
    private let unknown: Int32

    init(vocabulary: Vocabulary) {
        for b in 0..<256 {
            if let id = vocabulary.texts.find(Vocabulary.byteTokenText(UInt8(b))) {
                byteTokens[b] = Int32(id)
            } else if let id = vocabulary.texts.find([UInt8(b)]) {
                byteTokens[b] = Int32(id)
            }
        }
        unknown = vocabulary.unk
    }

    /// Appends the tokens of one plain-text fragment. `spacePrefix`: prepend a space first
    /// (llama.cpp does this for the first fragment and after each special token when
    /// `add_space_prefix` is on).
    func encode(_ text: UnsafeRawBufferPointer, spacePrefix: Bool, vocabulary: Vocabulary,
                into output: inout [Int32], scratch: inout SPMScratch) {
        // Escape spaces.
        var escaped: [UInt8] = []
        swap(&escaped, &scratch.escaped)
        escaped.removeAll(keepingCapacity: true)
        if spacePrefix { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) }
        for b in text {
            if b == 0x20 { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) } else { escaped.append(b) }
        }
        defer { swap(&escaped, &scratch.escaped) }
        let n = escaped.count
        if n == 0 { return }

        var symbols: [BPESymbol] = []
        var heap = MinHeap<ScoredBigram>()
        swap(&symbols, &scratch.symbols)
        swap(&heap, &scratch.heap)
        defer {
            swap(&symbols, &scratch.symbols)
            swap(&heap, &scratch.heap)
        }
        symbols.removeAll(keepingCapacity: true)
        heap.removeAll()

        escaped.withUnsafeBytes { bytes in
            // One symbol per UTF-8 character (length from the lead byte, clipped at the end).
            var offset = 0
            var index: Int32 = 0
            while offset < n {
                let length = min(UTF8Scanner.sequenceLength(lead: bytes[offset]), n - offset)
                offset += length
                symbols.append(BPESymbol(id: -1, start: Int32(offset - length), length: Int32(length),
                                         prev: index - 1, next: offset == n ? -1 : index + 1))
                index += 1
            }

            let scores = vocabulary.scores
            symbols.withUnsafeMutableBufferPointer { symbols in
                @inline(__always) func tryAdd(_ left: Int32, _ right: Int32) {
                    if left < 0 || right < 0 { return }
                    let l = symbols[Int(left)], r = symbols[Int(right)]
                    let start = Int(l.start), end = Int(l.start + l.length + r.length)
                    guard let id = vocabulary.texts.find(UnsafeRawBufferPointer(rebasing: bytes[start..<end])) else { return }
                    let score = scores.isEmpty ? 0 : scores[id]
                    heap.push(ScoredBigram(score: score, left: left, right: right, size: Int32(end - start)))
                }
                for i in 1..<symbols.count { tryAdd(Int32(i - 1), Int32(i)) }
                while let top = heap.pop() {
                    let li = Int(top.left), ri = Int(top.right)
                    let l = symbols[li], r = symbols[ri]
                    if l.length == 0 || r.length == 0 || l.length + r.length != top.size { continue }
                    symbols[li].length += r.length
                    symbols[ri].length = 0
                    symbols[li].next = r.next
                    if r.next >= 0 { symbols[Int(r.next)].prev = top.left }
                    tryAdd(symbols[li].prev, top.left)
                    tryAdd(top.left, symbols[li].next)
                }
            }

            var i: Int32 = 0
            while i >= 0 {
                let s = symbols[Int(i)]
                let piece = UnsafeRawBufferPointer(rebasing: bytes[Int(s.start)..<Int(s.start + s.length)])
                if let id = vocabulary.texts.find(piece) {
                    output.append(Int32(id))
                } else {
                    for b in piece {
                        let t = byteTokens[Int(b)]
                        if t >= 0 { output.append(t) } else if unknown >= 0 { output.append(unknown) }
                    }
                }
                i = s.next
            }
        }
    }
}

struct ScoredBigram: HeapItem {
    var score: Float
    var left: Int32
    var right: Int32
    var size: Int32

    /// Higher score first; on a tie the leftmost.
    @inline(__always)
    static func before(_ a: ScoredBigram, _ b: ScoredBigram) -> Bool {
        a.score > b.score || (a.score == b.score && a.left < b.left)
    }
}

struct SPMScratch {
    var escaped: [UInt8] = []
    var symbols: [BPESymbol] = []
    var heap = MinHeap<ScoredBigram>()
    init() {}
}
