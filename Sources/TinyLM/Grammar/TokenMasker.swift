/// Decides, at each step of a constrained generation, which tokens keep the output a valid
/// prefix of the grammar: walks the vocabulary trie together with the grammar automaton
/// (a rejected byte prunes the whole subtree below it) and caches the resulting mask per
/// automaton state, since states repeat (every character inside a string leads back to the
/// same state). Masks are bit sets over the vocabulary; all buffers are allocated up front.
///
/// Budget steering: given how many tokens may still be generated, `apply(to:count:budget:)`
/// also removes every token after which the shortest completion (in bytes,
/// `GrammarAutomaton.remainingBytes`) would no longer fit in the tokens left. Each byte of a
/// shortest completion is a token of its own at worst (byte-level BPE and byte-fallback
/// vocabularies have one for every byte), so an output steered this way is always complete
/// when the budget runs out: near the end, only tokens on a shortest path to acceptance remain.
public final class TokenMasker {
    public let trie: VocabularyTrie
    private var automaton: GrammarAutomaton
    /// The current automaton state (after the output so far).
    public private(set) var state: Int32
    private let words: Int
    private var mask: [UInt64]
    private var depthState: [Int32]
    private var maskState: Int32 = -1
    // Mask cache: slot per state (-1 none); the pool grows to `maxSlots` slots, then slots are
    // reused round-robin.
    private var cacheSlot: [Int32] = []
    private var slotOwner: [Int32] = []
    private var cachePool: [UInt64] = []
    /// Per cache slot: the largest `remainingBytes` after any token the mask allows (EOG aside).
    private var slotFarthest: [Int32] = []
    /// The same for `mask` (valid while `maskState == state`).
    private var maskFarthest: Int32 = 0
    private let maxSlots: Int
    private var nextSlot = 0
    /// Statistics: masks computed by walking the trie, and served from the cache.
    public private(set) var walks = 0
    public private(set) var cacheHits = 0

    /// Memory for cached masks.
    public static let cacheBytes = 16 << 20

    public init(grammar: Grammar, trie: VocabularyTrie) {
        self.trie = trie
        automaton = GrammarAutomaton(grammar: grammar)
        state = automaton.initialState()
        words = (trie.vocabularySize + 63) / 64
        mask = [UInt64](repeating: 0, count: words)
        depthState = [Int32](repeating: 0, count: trie.maxDepth + 1)
        maxSlots = max(4, min(4096, Self.cacheBytes / max(8, words * 8)))
    }

    /// Whether the output so far is a complete match of the grammar.
    public var isComplete: Bool { automaton.isAccepting(state) }

    /// Complete, and nothing may follow: generation should end here.
    public var isFinished: Bool { automaton.isAccepting(state) && !automaton.canContinue(state) }

    /// The grammar automaton (for tests and diagnostics).
    public var grammarAutomaton: GrammarAutomaton { automaton }

    /// Whether token `id` may come next.
    public func isAllowed(_ id: Int32) -> Bool {
        computeMask()
        return mask[Int(id) >> 6] & (UInt64(1) << UInt64(id & 63)) != 0
    }

    /// How many tokens may come next.
    public func allowedCount() -> Int {
        computeMask()
        var n = 0
        for w in mask { n += w.nonzeroBitCount }
        return n
    }

    /// The fewest bytes that complete the output from here (0 once it is complete).
    public var remainingBytes: Int { automaton.remainingBytes(state) }

    /// Sets the logits of every token that may not come next to -infinity. Throws when no token
    /// is allowed (the grammar needs bytes no token of the vocabulary can produce).
    ///
    /// `budget`: how many tokens may still be generated, this one included (nil: no limit).
    /// Tokens after which the output could not be completed in the rest of the budget are
    /// masked too; returns true when that removed any token the grammar allows (the output is
    /// being steered to a short completion).
    @discardableResult
    public func apply(to logits: UnsafeMutablePointer<Float>, count: Int, budget: Int? = nil) throws(TinyLMError) -> Bool {
        computeMask()
        var steered = false
        if let budget, Int(maskFarthest) > budget - 1 {
            steerWalk(limit: max(0, budget - 1))
            steered = true
        }
        let n = min(count, trie.vocabularySize)
        var any = false
        mask.withUnsafeBufferPointer { m in
            for w in 0..<words {
                let bits = m[w]
                if bits != 0 { any = true }
                if bits == ~UInt64(0) { continue }
                let base = w << 6
                let end = min(base + 64, n)
                if base >= end { break }
                for i in base..<end where bits & (UInt64(1) << UInt64(i - base)) == 0 {
                    logits[i] = -Float.infinity
                }
            }
        }
        for i in n..<count { logits[i] = -Float.infinity }
        if !any {
            throw TinyLMError(.grammar, "no token can continue the constrained output (the grammar needs bytes the vocabulary cannot produce)")
        }
        return steered
    }

    /// Advances past token `id`. End-of-generation tokens are accepted only when the output is
    /// complete (and leave the state as it is).
    public func accept(_ id: Int32) throws(TinyLMError) {
        guard id >= 0, Int(id) < trie.vocabularySize else { throw .invalidArgument("token id \(id) is outside the vocabulary") }
        if trie.endOfGenerationIDs.contains(id) {
            guard isComplete else { throw TinyLMError(.grammar, "end of generation before the constrained output is complete") }
            return
        }
        let piece = trie.piece(id)
        if piece.isEmpty { throw TinyLMError(.grammar, "token \(id) cannot appear in constrained output") }
        var s = state
        for b in piece {
            s = automaton.next(s, b)
            if s == GrammarAutomaton.dead { break }
        }
        if automaton.overflowed {
            throw TinyLMError(.grammar, "the grammar is too ambiguous (over \(GrammarAutomaton.maxStacksPerState) parses at once)")
        }
        guard s != GrammarAutomaton.dead else {
            throw TinyLMError(.grammar, "token \(id) does not continue the constrained output")
        }
        state = s
    }

    /// Advances past raw bytes (e.g. text forced into the output); false when they are invalid
    /// (the state is then unchanged).
    public func accept(bytes: [UInt8]) -> Bool {
        let s = automaton.next(state, bytes: bytes)
        if s == GrammarAutomaton.dead { return false }
        state = s
        return true
    }

    // MARK: - Masks

    private func computeMask() {
        if maskState == state { return }
        if automaton.stateTotal > GrammarAutomaton.stateLimit { rebuildAutomaton() }
        let s = Int(state)
        if s < cacheSlot.count, cacheSlot[s] >= 0 {
            let slot = Int(cacheSlot[s])
            let base = slot * words
            for w in 0..<words { mask[w] = cachePool[base + w] }
            maskFarthest = slotFarthest[slot]
            cacheHits += 1
            maskState = state
            return
        }
        maskFarthest = walk(limit: nil)
        walks += 1
        maskState = state
        // Remember it.
        while cacheSlot.count < automaton.stateTotal { cacheSlot.append(-1) }
        if slotOwner.count < maxSlots {
            slotOwner.append(-1)
            slotFarthest.append(0)
            cachePool.append(contentsOf: repeatElement(0, count: words))
        }
        let slot = nextSlot
        nextSlot = (nextSlot + 1) % maxSlots
        if slotOwner[slot] >= 0 { cacheSlot[Int(slotOwner[slot])] = -1 }
        slotOwner[slot] = state
        cacheSlot[s] = Int32(slot)
        slotFarthest[slot] = maskFarthest
        let base = slot * words
        for w in 0..<words { cachePool[base + w] = mask[w] }
    }

    /// Replaces the mask by the tokens after which at most `limit` bytes complete the output;
    /// if there are none (the vocabulary lacks a token for some byte of every short path),
    /// by the tokens that leave the least to complete.
    private func steerWalk(limit: Int) {
        let nearest = walk(limit: Int32(min(limit, Int(Grammar.unreachable))))
        if nearest < 0 { _ = walk(limit: -nearest - 1) }
        // The mask no longer belongs to the cached state.
        maskState = -1
    }

    /// The trie walk: preorder, a dead transition skips the node's subtree.
    ///
    /// Without `limit`: every token that keeps the output a valid prefix; returns the largest
    /// shortest-completion length after any of them. With `limit`: only tokens after which at
    /// most `limit` bytes complete the output (and end-of-generation when the output is
    /// complete); returns `limit`, or, when no token qualifies, -(1 + the smallest completion
    /// length any token leaves).
    @discardableResult
    private func walk(limit: Int32?) -> Int32 {
        for w in 0..<words { mask[w] = 0 }
        let a = automaton
        let start = state
        let bound = limit ?? Grammar.unreachable
        var farthest: Int32 = 0
        var nearest: Int32 = Grammar.unreachable
        var allowed = false
        depthState[0] = start
        trie.nodeByte.withUnsafeBufferPointer { bytes in
        trie.nodeDepth.withUnsafeBufferPointer { depths in
        trie.nodeEnd.withUnsafeBufferPointer { ends in
        trie.tokenStart.withUnsafeBufferPointer { tokenStart in
        trie.tokenIDs.withUnsafeBufferPointer { ids in
        depthState.withUnsafeMutableBufferPointer { stack in
        mask.withUnsafeMutableBufferPointer { m in
            let n = bytes.count
            var i = 0
            while i < n {
                let d = Int(depths[i])
                let s = a.next(stack[d - 1], bytes[i])
                if s == GrammarAutomaton.dead {
                    i = Int(ends[i])
                    continue
                }
                stack[d] = s
                var k = Int(tokenStart[i])
                let e = Int(tokenStart[i + 1])
                if k < e {
                    let remaining = Int32(a.remainingBytes(s))
                    if remaining <= bound {
                        if remaining > farthest { farthest = remaining }
                        allowed = true
                        while k < e {
                            let id = ids[k]
                            m[Int(id) >> 6] |= UInt64(1) << UInt64(id & 63)
                            k += 1
                        }
                    } else if remaining < nearest {
                        nearest = remaining
                    }
                }
                i += 1
            }
        }}}}}}}
        if a.isAccepting(start) {
            for id in trie.endOfGenerationIDs { mask[Int(id) >> 6] |= UInt64(1) << UInt64(id & 63) }
            allowed = true
        }
        guard let limit else { return farthest }
        return allowed || nearest >= Grammar.unreachable ? limit : -(1 + nearest)
    }

    /// Starts a fresh automaton holding only the current state (bounds memory in very long
    /// generations that keep reaching new states).
    private func rebuildAutomaton() {
        let snapshot = automaton.snapshot(state)
        automaton = GrammarAutomaton(grammar: automaton.grammar)
        state = automaton.restore(snapshot)
        for i in 0..<cacheSlot.count { cacheSlot[i] = -1 }
        for i in 0..<slotOwner.count { slotOwner[i] = -1 }
        maskState = -1
    }
}
