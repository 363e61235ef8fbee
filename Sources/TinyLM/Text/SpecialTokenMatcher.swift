/// Finds special tokens written in the raw text before the model's own splitting, the way
/// llama.cpp's `tokenizer_st_partition` does: every control, user-defined and unknown token is
/// a candidate; candidates are tried longest first, and each one splits every remaining plain
/// text fragment at all its (non-overlapping, leftmost-first) occurrences. Without special
/// parsing, control and unknown tokens are skipped but user-defined ones still match. A token
/// with the lstrip (rstrip) attribute also swallows the ASCII whitespace before (after) it.
///
/// Rather than searching the text once per special token (Gemma has over 6 000), a byte trie
/// of all of them finds, in one pass, which ones occur and where; llama.cpp's partitioning then
/// runs over just those.
struct SpecialTokenMatcher {
    /// A piece of the input: plain text `start..<end` (token < 0) or a special token.
    struct Fragment {
        var start: Int
        var end: Int
        var token: Int32
    }

    private struct Node {
        var firstChild: Int32 = -1
        var nextSibling: Int32 = -1
        var byte: UInt8 = 0
        var token: Int32 = -1
    }

    private var nodes: [Node] = [Node()]
    /// Byte length of each token id that is in the trie (0 for the others).
    private var lengths: [Int32]
    /// Tokens that match only with special parsing on (control / unknown).
    private var parseOnly: [Bool]
    /// Per token: whether it takes the whitespace before it / after it.
    private var stripsBefore: [Bool]
    private var stripsAfter: [Bool]
    private(set) var isEmpty = true

    init(vocabulary: Vocabulary) {
        let n = vocabulary.count
        lengths = [Int32](repeating: 0, count: n)
        parseOnly = [Bool](repeating: false, count: n)
        stripsBefore = [Bool](repeating: false, count: n)
        stripsAfter = [Bool](repeating: false, count: n)
        var any = false
        for id in 0..<n {
            let attrs = vocabulary.attributes[id]
            guard !attrs.isDisjoint(with: [.control, .userDefined, .unknown]) else { continue }
            let length = vocabulary.texts.length(id)
            if length == 0 { continue }
            any = true
            lengths[id] = Int32(length)
            parseOnly[id] = !attrs.isDisjoint(with: [.control, .unknown])
            stripsBefore[id] = attrs.contains(.lstrip)
            stripsAfter[id] = attrs.contains(.rstrip)
            vocabulary.texts.withBytes(id) { insert($0, token: Int32(id)) }
        }
        isEmpty = !any
    }

    private mutating func insert(_ bytes: UnsafeRawBufferPointer, token: Int32) {
        var node = 0
        for b in bytes {
            var child = nodes[node].firstChild
            while child >= 0 && nodes[Int(child)].byte != b { child = nodes[Int(child)].nextSibling }
            if child < 0 {
                var fresh = Node()
                fresh.byte = b
                fresh.nextSibling = nodes[node].firstChild
                nodes.append(fresh)
                child = Int32(nodes.count - 1)
                nodes[node].firstChild = child
            }
            node = Int(child)
        }
        // Token texts are unique, so each terminal holds one token.
        nodes[node].token = token
    }

    /// Splits `text` into plain-text fragments and special tokens.
    func partition(_ text: UnsafeRawBufferPointer, parseSpecial: Bool) -> [Fragment] {
        let n = text.count
        if n == 0 { return [] }
        if isEmpty { return [Fragment(start: 0, end: n, token: -1)] }

        // 1. Every occurrence of every eligible special token: (token, position).
        var occurrences: [(token: Int32, position: Int32)] = []
        nodes.withUnsafeBufferPointer { nodes in
            for i in 0..<n {
                var node = 0
                var j = i
                while j < n {
                    let b = text[j]
                    var child = nodes[node].firstChild
                    while child >= 0 && nodes[Int(child)].byte != b { child = nodes[Int(child)].nextSibling }
                    if child < 0 { break }
                    node = Int(child)
                    j += 1
                    let t = nodes[node].token
                    if t >= 0 && (parseSpecial || !parseOnly[Int(t)]) {
                        occurrences.append((t, Int32(i)))
                    }
                }
            }
        }
        if occurrences.isEmpty { return [Fragment(start: 0, end: n, token: -1)] }

        // 2. Group by token, longest token first (ties by id), positions ascending.
        occurrences.sort { a, b in
            let la = lengths[Int(a.token)], lb = lengths[Int(b.token)]
            if la != lb { return la > lb }
            if a.token != b.token { return a.token < b.token }
            return a.position < b.position
        }

        // 3. llama.cpp's partitioning, one token at a time.
        var fragments = [Fragment(start: 0, end: n, token: -1)]
        var next: [Fragment] = []
        var groupStart = 0
        while groupStart < occurrences.count {
            let token = occurrences[groupStart].token
            var groupEnd = groupStart
            while groupEnd < occurrences.count && occurrences[groupEnd].token == token { groupEnd += 1 }
            let length = Int(lengths[Int(token)])
            let stripBefore = stripsBefore[Int(token)], stripAfter = stripsAfter[Int(token)]
            // C's isspace: what llama.cpp strips.
            @inline(__always) func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

            next.removeAll(keepingCapacity: true)
            for fragment in fragments {
                if fragment.token >= 0 { next.append(fragment); continue }
                // First occurrence at or after the fragment start (binary search).
                var lo = groupStart, hi = groupEnd
                while lo < hi {
                    let mid = (lo + hi) >> 1
                    if Int(occurrences[mid].position) < fragment.start { lo = mid + 1 } else { hi = mid }
                }
                var cursor = fragment.start
                var k = lo
                while k < groupEnd {
                    let p = Int(occurrences[k].position)
                    if p + length > fragment.end { break }
                    if p >= cursor {
                        var leftEnd = p
                        if stripBefore { while leftEnd > cursor && isSpace(text[leftEnd - 1]) { leftEnd -= 1 } }
                        if leftEnd > cursor { next.append(Fragment(start: cursor, end: leftEnd, token: -1)) }
                        next.append(Fragment(start: p, end: p + length, token: token))
                        cursor = p + length
                        if stripAfter { while cursor < fragment.end && isSpace(text[cursor]) { cursor += 1 } }
                    }
                    k += 1
                }
                if cursor < fragment.end { next.append(Fragment(start: cursor, end: fragment.end, token: -1)) }
            }
            swap(&fragments, &next)
            groupStart = groupEnd
        }
        return fragments
    }
}
