/// BPE with merge ranks (`tokenizer.ggml.model` "gpt2", and "gemma4"): the text is split into
/// words by the pre-tokenizer, each word starts as one symbol per character, and the adjacent
/// pair with the lowest merge rank (ties: leftmost) is merged until no listed merge applies —
/// llama.cpp's `llm_tokenizer_bpe_session`. Byte-level vocabularies (GPT-2 style) merge over
/// the byte-level encoding of the word, one symbol per byte; the others (Gemma 4) over its raw
/// UTF-8, one symbol per scalar, with spaces written "▁".
///
/// Symbols are identified by number rather than text: the vocabulary's token ids, plus extra
/// numbers for any merge operand or result whose text is not itself a token. The merge list
/// then becomes a hash table (left id, right id) → (rank, result id), so merging never hashes
/// or compares strings.
struct BPETokenizer {
    let preTokenizer: PreTokenizer
    private let vocabCount: Int
    /// Symbol texts (as the merges spell them) that are not vocabulary tokens: symbol vocabCount + i.
    private var extras = ByteStringTable(expectedCount: 16)
    /// Byte-level: raw byte → the symbol of its one-character text (-1: none).
    private var byteSymbol = [Int32](repeating: -1, count: 256)
    /// Raw byte → the tokens that spell it when a final symbol is not a token: byte-level, the
    /// single-byte strings of its encoded text (llama.cpp's lookup); otherwise its "<0xNN>" token.
    private var byteFallback = [[Int32]](repeating: [], count: 256)
    private var merges: MergeTable

    init(vocabulary: Vocabulary, gguf: GGUFFile, preTokenizer: PreTokenizer) throws(TinyLMError) {
        self.preTokenizer = preTokenizer
        self.vocabCount = vocabulary.count
        let mergeArray = try gguf.requireArray("tokenizer.ggml.merges")
        guard mergeArray.elementType == .string else {
            throw .malformed("metadata 'tokenizer.ggml.merges' should be an array of strings, found \(mergeArray.elementType)")
        }
        var table = MergeTable(expectedCount: mergeArray.count)
        var extras = ByteStringTable(expectedCount: 16)
        let vocabCount = vocabulary.count

        func symbol(_ bytes: UnsafeRawBufferPointer) -> Int32 {
            if let id = vocabulary.texts.find(bytes) { return Int32(id) }
            if let id = extras.find(bytes) { return Int32(vocabCount + id) }
            extras.append(bytes)
            return Int32(vocabCount + extras.count - 1)
        }

        mergeArray.forEachStringBytes { rank, merge in
            // "first second", split at the first space after the first byte.
            var split = -1
            var i = 1
            while i < merge.count {
                if merge[i] == 0x20 { split = i; break }
                i += 1
            }
            if split < 0 { return }  // llama.cpp records ("", ""), which can never match
            let first = UnsafeRawBufferPointer(rebasing: merge[0..<split])
            let second = UnsafeRawBufferPointer(rebasing: merge[(split + 1)...])
            if second.isEmpty { return }
            let left = symbol(first)
            let right = symbol(second)
            let result: Int32
            if let id = vocabulary.texts.find(first, second) {
                result = Int32(id)
            } else if let id = extras.find(first, second) {
                result = Int32(vocabCount + id)
            } else {
                extras.append(Array(first) + Array(second))
                result = Int32(vocabCount + extras.count - 1)
            }
            table.insertIfAbsent(left: left, right: right, rank: Int32(rank), result: result)
        }
        self.merges = table

        for b in 0..<256 {
            if preTokenizer.byteLevel {
                let encoded = ByteLevelEncoding.encoded[b]
                let id: Int32? = encoded.withUnsafeBytes { e in
                    if let id = vocabulary.texts.find(e) { return Int32(id) }
                    if let id = extras.find(e) { return Int32(vocabCount + id) }
                    return nil
                }
                byteSymbol[b] = id ?? -1
                var fallback: [Int32] = []
                for e in encoded {
                    if let id = vocabulary.texts.find([e]) { fallback.append(Int32(id)) }
                }
                byteFallback[b] = fallback
            } else if let id = vocabulary.texts.find(Vocabulary.byteTokenText(UInt8(b))) {
                byteFallback[b] = [Int32(id)]
            }
        }
        self.extras = extras
    }

    /// Appends the tokens of `text` (a fragment without special tokens; valid UTF-8).
    func encode(_ text: UnsafeRawBufferPointer, vocabulary: Vocabulary, into output: inout [Int32], scratch: inout BPEScratch) {
        if preTokenizer.escapesSpaces {
            var escaped: [UInt8] = []
            swap(&escaped, &scratch.escaped)
            escaped.removeAll(keepingCapacity: true)
            for b in text {
                if b == 0x20 { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) } else { escaped.append(b) }
            }
            escaped.withUnsafeBytes { encodeWords($0, vocabulary: vocabulary, into: &output, scratch: &scratch) }
            swap(&escaped, &scratch.escaped)
        } else {
            encodeWords(text, vocabulary: vocabulary, into: &output, scratch: &scratch)
        }
    }

    private func encodeWords(_ text: UnsafeRawBufferPointer, vocabulary: Vocabulary, into output: inout [Int32], scratch: inout BPEScratch) {
        scratch.words.removeAll(keepingCapacity: true)
        preTokenizer.split(text, into: &scratch.words, scratch: &scratch.pre)
        for word in scratch.words {
            let bytes = UnsafeRawBufferPointer(rebasing: text[word])
            if preTokenizer.ignoreMerges {
                let id: Int?
                if preTokenizer.byteLevel {
                    scratch.encoded.removeAll(keepingCapacity: true)
                    for b in bytes { scratch.encoded.append(contentsOf: ByteLevelEncoding.encoded[Int(b)]) }
                    id = vocabulary.texts.find(scratch.encoded)
                } else {
                    id = vocabulary.texts.find(bytes)
                }
                if let id {
                    output.append(Int32(id))
                    continue
                }
            }
            if preTokenizer.newlineWordsWhole && !bytes.contains(where: { $0 != 0x0A }), let id = vocabulary.texts.find(bytes) {
                output.append(Int32(id))
                continue
            }
            encodeWord(bytes, vocabulary: vocabulary, into: &output, scratch: &scratch)
        }
    }

    /// The symbol of a text that is not one byte of a byte-level word: a token, a merge
    /// operand, or -1 (it can take part in no merge).
    private func symbol(_ bytes: UnsafeRawBufferPointer, vocabulary: Vocabulary) -> Int32 {
        if let id = vocabulary.texts.find(bytes) { return Int32(id) }
        if let id = extras.find(bytes) { return Int32(vocabCount + id) }
        return -1
    }

    private func encodeWord(_ word: UnsafeRawBufferPointer, vocabulary: Vocabulary, into output: inout [Int32], scratch: inout BPEScratch) {
        let n = word.count
        if n == 0 { return }
        if n == 1 && preTokenizer.byteLevel {
            emit(symbol: byteSymbol[Int(word[0])], bytes: word, into: &output)
            return
        }
        var symbols: [BPESymbol] = []
        var heap = MinHeap<Bigram>()
        swap(&symbols, &scratch.symbols)
        swap(&heap, &scratch.heap)
        symbols.removeAll(keepingCapacity: true)
        heap.removeAll()
        if preTokenizer.byteLevel {
            for i in 0..<n {
                symbols.append(BPESymbol(id: byteSymbol[Int(word[i])], start: Int32(i), length: 1,
                                         prev: Int32(i - 1), next: i + 1 < n ? Int32(i + 1) : -1))
            }
        } else {
            // One symbol per UTF-8 character (length from the lead byte, clipped at the end).
            var offset = 0
            var index: Int32 = 0
            while offset < n {
                let length = min(UTF8Scanner.sequenceLength(lead: word[offset]), n - offset)
                let id = symbol(UnsafeRawBufferPointer(rebasing: word[offset..<(offset + length)]), vocabulary: vocabulary)
                offset += length
                symbols.append(BPESymbol(id: id, start: Int32(offset - length), length: Int32(length),
                                         prev: index - 1, next: offset == n ? -1 : index + 1))
                index += 1
            }
        }
        let count = symbols.count
        merges.withLookup { lookup in
            symbols.withUnsafeMutableBufferPointer { symbols in
                @inline(__always) func tryAdd(_ left: Int32, _ right: Int32) {
                    if left < 0 || right < 0 { return }
                    let l = symbols[Int(left)].id, r = symbols[Int(right)].id
                    if l < 0 || r < 0 { return }
                    if let found = lookup(l, r) {
                        heap.push(Bigram(rank: found.0, left: left, right: right, leftID: l, rightID: r))
                    }
                }
                for i in 1..<max(count, 1) { tryAdd(Int32(i - 1), Int32(i)) }
                while let top = heap.pop() {
                    let li = Int(top.left), ri = Int(top.right)
                    if symbols[li].length == 0 || symbols[ri].length == 0 { continue }
                    if symbols[li].id != top.leftID || symbols[ri].id != top.rightID { continue }
                    guard let found = lookup(top.leftID, top.rightID) else { continue }
                    symbols[li].id = found.1
                    symbols[li].length += symbols[ri].length
                    symbols[ri].length = 0
                    let next = symbols[ri].next
                    symbols[li].next = next
                    if next >= 0 { symbols[Int(next)].prev = top.left }
                    tryAdd(symbols[li].prev, top.left)
                    tryAdd(top.left, next)
                }
            }
        }
        var i: Int32 = 0
        while i >= 0 {
            let s = symbols[Int(i)]
            if s.length > 0 {
                let bytes = UnsafeRawBufferPointer(rebasing: word[Int(s.start)..<Int(s.start + s.length)])
                emit(symbol: s.id, bytes: bytes, into: &output)
            }
            i = s.next
        }
        swap(&symbols, &scratch.symbols)
        swap(&heap, &scratch.heap)
    }

    @inline(__always)
    private func emit(symbol: Int32, bytes: UnsafeRawBufferPointer, into output: inout [Int32]) {
        if symbol >= 0 && Int(symbol) < vocabCount {
            output.append(symbol)
        } else {
            for b in bytes { output.append(contentsOf: byteFallback[Int(b)]) }
        }
    }
}

/// Buffers reused while encoding.
struct BPEScratch {
    var pre = PreTokenizerScratch()
    var escaped: [UInt8] = []
    var words: [Range<Int>] = []
    var encoded: [UInt8] = []
    var symbols: [BPESymbol] = []
    var heap = MinHeap<Bigram>()
    init() {}
}

struct BPESymbol {
    var id: Int32
    var start: Int32
    var length: Int32
    var prev: Int32
    var next: Int32
}

struct Bigram: HeapItem {
    /// Merge rank.
    var rank: Int32
    var left: Int32
    var right: Int32
    var leftID: Int32
    var rightID: Int32

    /// Lower rank first; on a tie the leftmost.
    @inline(__always)
    static func before(_ a: Bigram, _ b: Bigram) -> Bool {
        a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
    }
}

/// An ordering for `MinHeap`: `before(a, b)` when a must come out first.
protocol HeapItem {
    static func before(_ a: Self, _ b: Self) -> Bool
}

/// A binary heap; `pop` returns the item that comes first by `T.before`.
struct MinHeap<T: HeapItem> {
    private var items: [T] = []
    init() {}

    var isEmpty: Bool { items.isEmpty }

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(_ item: T) {
        items.append(item)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) >> 1
            if T.before(items[i], items[parent]) {
                items.swapAt(i, parent)
                i = parent
            } else {
                break
            }
        }
    }

    mutating func pop() -> T? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return first }
        items[0] = last
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < n && T.before(items[l], items[best]) { best = l }
            if r < n && T.before(items[r], items[best]) { best = r }
            if best == i { break }
            items.swapAt(i, best)
            i = best
        }
        return first
    }
}

/// (left symbol, right symbol) → (rank, merged symbol), open addressing.
struct MergeTable {
    private var keys: [UInt64]
    private var ranks: [Int32]
    private var results: [Int32]
    private var mask: Int
    private var count = 0
    private static let empty = UInt64.max

    init(expectedCount: Int) {
        var capacity = 16
        while capacity < expectedCount * 2 { capacity <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: capacity)
        ranks = [Int32](repeating: 0, count: capacity)
        results = [Int32](repeating: 0, count: capacity)
        mask = capacity - 1
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        var x = key &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 29
        return Int(truncatingIfNeeded: x) & mask
    }

    /// Records the merge unless the pair is already listed (the first listing wins).
    mutating func insertIfAbsent(left: Int32, right: Int32, rank: Int32, result: Int32) {
        if (count + 1) * 2 > keys.count { grow() }
        let k = Self.key(left, right)
        var s = Self.slot(k, mask)
        while keys[s] != Self.empty {
            if keys[s] == k { return }
            s = (s + 1) & mask
        }
        keys[s] = k
        ranks[s] = rank
        results[s] = result
        count += 1
    }

    private mutating func grow() {
        let oldKeys = keys, oldRanks = ranks, oldResults = results
        let capacity = keys.count * 2
        keys = [UInt64](repeating: Self.empty, count: capacity)
        ranks = [Int32](repeating: 0, count: capacity)
        results = [Int32](repeating: 0, count: capacity)
        mask = capacity - 1
        for i in 0..<oldKeys.count where oldKeys[i] != Self.empty {
            var s = Self.slot(oldKeys[i], mask)
            while keys[s] != Self.empty { s = (s + 1) & mask }
            keys[s] = oldKeys[i]; ranks[s] = oldRanks[i]; results[s] = oldResults[i]
        }
    }

    /// Calls `body` with a fast lookup function valid during the call.
    @inline(__always)
    func withLookup<R>(_ body: ((Int32, Int32) -> (Int32, Int32)?) -> R) -> R {
        keys.withUnsafeBufferPointer { keys in
            ranks.withUnsafeBufferPointer { ranks in
                results.withUnsafeBufferPointer { results in
                    let mask = self.mask
                    return body { left, right in
                        let k = Self.key(left, right)
                        var s = Self.slot(k, mask)
                        while true {
                            let stored = keys[s]
                            if stored == k { return (ranks[s], results[s]) }
                            if stored == Self.empty { return nil }
                            s = (s + 1) & mask
                        }
                    }
                }
            }
        }
    }
}
