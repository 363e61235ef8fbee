/// Every token's output bytes in one byte trie, laid out in preorder: walking it together with
/// the grammar automaton decides a whole subtree of tokens with one transition (a byte the
/// grammar rejects prunes every token that continues with it).
///
/// Built once per vocabulary (a few tens of milliseconds for 262k tokens) and immutable, so one
/// trie serves any number of grammars and generations.
public final class VocabularyTrie: @unchecked Sendable {
    /// Per node, in preorder: the byte on the edge into it, its depth (1 for the first byte),
    /// and the index just past its subtree.
    let nodeByte: [UInt8]
    let nodeDepth: [UInt16]
    let nodeEnd: [Int32]
    /// Tokens whose bytes end at node i: `tokenIDs[tokenStart[i] ..< tokenStart[i + 1]]`.
    let tokenStart: [Int32]
    let tokenIDs: [Int32]
    /// Tokens that end generation (allowed only when the output is complete).
    public let endOfGenerationIDs: [Int32]
    public let vocabularySize: Int
    public let maxDepth: Int
    /// Every token's bytes (offsets into `pieceBytes`), for stepping the automaton.
    let pieceOffsets: [Int32]
    let pieceBytes: [UInt8]

    /// Control tokens (other than end-of-generation) and tokens with no bytes are left out:
    /// a constrained output never contains them.
    public convenience init(tokenizer: Tokenizer) {
        var pieces: [[UInt8]] = []
        pieces.reserveCapacity(tokenizer.vocabularySize)
        var eog: [Int32] = []
        for id in 0..<tokenizer.vocabularySize {
            let token = Int32(id)
            if tokenizer.isEndOfGeneration(token) { eog.append(token); pieces.append([]); continue }
            if tokenizer.isControl(token) { pieces.append([]); continue }
            pieces.append(tokenizer.pieceBytes(token))
        }
        self.init(pieces: pieces, endOfGeneration: eog)
    }

    /// A trie over explicit pieces (token id = index); empty pieces are never allowed.
    public init(pieces: [[UInt8]], endOfGeneration: [Int32]) {
        vocabularySize = pieces.count
        endOfGenerationIDs = endOfGeneration
        var offsets: [Int32] = [0]
        offsets.reserveCapacity(pieces.count + 1)
        var pool: [UInt8] = []
        for p in pieces { pool.append(contentsOf: p); offsets.append(Int32(pool.count)) }
        pieceOffsets = offsets
        pieceBytes = pool

        var order: [Int32] = []
        order.reserveCapacity(pieces.count)
        for (i, p) in pieces.enumerated() where !p.isEmpty { order.append(Int32(i)) }
        pool.withUnsafeBufferPointer { bytes in
            offsets.withUnsafeBufferPointer { off in
                order.sort { a, b in
                    var i = Int(off[Int(a)]), j = Int(off[Int(b)])
                    let ie = Int(off[Int(a) + 1]), je = Int(off[Int(b) + 1])
                    while i < ie && j < je {
                        if bytes[i] != bytes[j] { return bytes[i] < bytes[j] }
                        i += 1; j += 1
                    }
                    if i == ie && j == je { return a < b }
                    return i == ie
                }
            }
        }

        var byte: [UInt8] = [], depth: [UInt16] = [], end: [Int32] = [], start: [Int32] = []
        var ids: [Int32] = []
        var open: [Int32] = []  // node index at each depth - 1 along the current path
        var previous: [UInt8] = []
        var deepest = 0
        for id in order {
            let piece = pieces[Int(id)]
            var common = 0
            while common < piece.count && common < previous.count && piece[common] == previous[common] { common += 1 }
            // Close nodes deeper than the common prefix.
            while open.count > common {
                end[Int(open.removeLast())] = Int32(byte.count)
            }
            for k in common..<piece.count {
                open.append(Int32(byte.count))
                byte.append(piece[k])
                depth.append(UInt16(clamping: k + 1))
                end.append(0)
                start.append(Int32(ids.count))
            }
            // Tokens attach to the node of their last byte; equal pieces share it. Ids are
            // appended in preorder, so a node's tokens are contiguous.
            ids.append(id)
            deepest = max(deepest, piece.count)
            previous = piece
        }
        while let n = open.popLast() { end[Int(n)] = Int32(byte.count) }
        start.append(Int32(ids.count))
        // `start[i]` was recorded when node i opened; tokens for node i are those appended
        // before the next node opened.
        nodeByte = byte
        nodeDepth = depth
        nodeEnd = end
        tokenStart = start
        tokenIDs = ids
        maxDepth = deepest
    }

    public var nodeCount: Int { nodeByte.count }

    /// The bytes of token `id` (empty for left-out tokens).
    func piece(_ id: Int32) -> ArraySlice<UInt8> {
        pieceBytes[Int(pieceOffsets[Int(id)])..<Int(pieceOffsets[Int(id) + 1])]
    }
}
