/// The incremental recognizer: a pushdown automaton over bytes, determinized lazily.
///
/// A *stack* is a list of grammar positions (the top is the next element to match; the ones
/// below are where to continue when the rule on top ends). Stacks are hash-consed into nodes
/// `(position, parent)`, so equal stacks are equal integers and common tails are shared.
/// A *state* is the set of stacks the output so far can be in, each expanded until its top is
/// a byte set (or empty: the output is a complete match). States are interned too, and the
/// transition `(state, byte) → state` is computed on first use and remembered — repeated
/// structure (the inside of a string, digits of a number) costs one table lookup per byte.
///
/// All tables are flat `Int32` arrays that grow geometrically; once the states a generation
/// visits are known, stepping and masking allocate nothing.
public final class GrammarAutomaton {
    public let grammar: Grammar
    private let elements: [Int32]
    private let remainingAtPosition: [Int32]

    // Stack nodes. Node 0 is the empty stack.
    private var nodePosition: [Int32] = [-1]
    private var nodeParent: [Int32] = [-1]
    private var nodeTable: [Int32]
    private var nodeMark: [UInt32] = [0]
    /// Per node: the fewest bytes that empty its stack (the shortest completion from there).
    private var nodeRemaining: [Int32] = [0]
    private var epoch: UInt32 = 0

    // States: sorted node lists in a pool. State 0 is the dead state (no stacks).
    private var statePool: [Int32] = []
    private var stateStart: [Int32] = []
    private var stateCount: [Int32] = []
    private var stateHash: [UInt32] = []
    private var stateTable: [Int32]
    /// `transitions[s * 256 + b]`: the state after byte b, or -1 when not computed yet.
    private(set) var transitions: [Int32] = []
    /// Per state: bit 0 — accepts (contains the empty stack); bit 1 — some byte may follow.
    private var stateFlags: [UInt8] = []
    /// Per state: the fewest bytes that complete the output (0 when accepting).
    private var stateRemaining: [Int32] = []

    // Scratch for computing a transition.
    private var scratch: [Int32] = []
    private var work: [Int32] = []

    public static let dead: Int32 = 0
    /// A state with more stacks than this means the grammar is ambiguous beyond use.
    public static let maxStacksPerState = 20_000
    /// Past this many states the caches are rebuilt (bounds memory: each state costs ~1 KiB).
    public static let stateLimit = 16_384
    /// Set when a transition hit `maxStacksPerState`; the transition is then dead.
    public private(set) var overflowed = false

    public init(grammar: Grammar) {
        self.grammar = grammar
        elements = grammar.elements
        remainingAtPosition = grammar.remainingBytes
        nodeTable = [Int32](repeating: -1, count: 1024)
        stateTable = [Int32](repeating: -1, count: 1024)
        // The dead state.
        _ = internState(sorted: [])
    }

    /// The state before any output.
    public func initialState() -> Int32 {
        scratch.removeAll(keepingCapacity: true)
        epoch &+= 1
        pushAlternatives(of: grammar.root, base: 0)
        drainWork()
        return finishState()
    }

    public var stateTotal: Int { stateStart.count }

    /// Whether the output that led to `state` is a complete match.
    @inline(__always)
    public func isAccepting(_ state: Int32) -> Bool { stateFlags[Int(state)] & 1 != 0 }

    /// Whether any byte can follow in `state`.
    @inline(__always)
    public func canContinue(_ state: Int32) -> Bool { stateFlags[Int(state)] & 2 != 0 }

    /// The fewest bytes that make the output a complete match from `state` (0: it is one;
    /// `Grammar.unreachable` for the dead state).
    @inline(__always)
    public func remainingBytes(_ state: Int32) -> Int { Int(stateRemaining[Int(state)]) }

    /// The state after `byte` (dead: `GrammarAutomaton.dead`).
    @inline(__always)
    public func next(_ state: Int32, _ byte: UInt8) -> Int32 {
        let t = transitions[Int(state) &* 256 &+ Int(byte)]
        if t >= 0 { return t }
        return computeTransition(state, byte)
    }

    /// The state after `bytes`, or dead.
    public func next(_ state: Int32, bytes: [UInt8]) -> Int32 {
        var s = state
        for b in bytes {
            s = next(s, b)
            if s == Self.dead { return s }
        }
        return s
    }

    /// Whether `bytes` (from the start) is a prefix of some string of the grammar.
    public func isPrefix(_ bytes: [UInt8]) -> Bool { next(initialState(), bytes: bytes) != Self.dead }

    /// Whether `bytes` is a complete string of the grammar.
    public func matches(_ bytes: [UInt8]) -> Bool {
        let s = next(initialState(), bytes: bytes)
        return s != Self.dead && isAccepting(s)
    }

    /// The set of bytes allowed next in `state`.
    public func allowedBytes(_ state: Int32) -> ByteSet {
        var set = ByteSet()
        let start = Int(stateStart[Int(state)]), count = Int(stateCount[Int(state)])
        for k in start..<(start + count) {
            let node = statePool[k]
            if node == 0 { continue }
            set.formUnion(grammar.byteSets[Int(-(elements[Int(nodePosition[Int(node)])] + 2))])
        }
        return set
    }

    // MARK: - Re-basing

    /// The stacks of `state` as position lists (top first), to rebuild it in a fresh automaton.
    func snapshot(_ state: Int32) -> [[Int32]] {
        var out: [[Int32]] = []
        let start = Int(stateStart[Int(state)]), count = Int(stateCount[Int(state)])
        for k in start..<(start + count) {
            var node = statePool[k]
            var positions: [Int32] = []
            while node != 0 {
                positions.append(nodePosition[Int(node)])
                node = nodeParent[Int(node)]
            }
            out.append(positions)
        }
        return out
    }

    /// Interns a state from a snapshot (see `snapshot`).
    func restore(_ stacks: [[Int32]]) -> Int32 {
        scratch.removeAll(keepingCapacity: true)
        for positions in stacks {
            var node: Int32 = 0
            for p in positions.reversed() { node = internNode(p, node) }
            scratch.append(node)
        }
        return finishState()
    }

    // MARK: - Transitions

    private func computeTransition(_ state: Int32, _ byte: UInt8) -> Int32 {
        scratch.removeAll(keepingCapacity: true)
        epoch &+= 1
        let start = Int(stateStart[Int(state)]), count = Int(stateCount[Int(state)])
        for k in start..<(start + count) {
            let node = statePool[k]
            if node == 0 { continue }
            let position = Int(nodePosition[Int(node)])
            let set = grammar.byteSets[Int(-(elements[position] + 2))]
            guard set.contains(byte) else { continue }
            let parent = nodeParent[Int(node)]
            if elements[position + 1] == Grammar.end {
                work.append(parent)
            } else {
                work.append(internNode(Int32(position + 1), parent))
            }
            drainWork()
        }
        let result = finishState()
        transitions[Int(state) * 256 + Int(byte)] = result
        return result
    }

    /// Expands the nodes on the work list until their tops are byte sets (or empty), adding
    /// them to `scratch`.
    private func drainWork() {
        while let node = work.popLast() {
            if nodeMark[Int(node)] == epoch { continue }
            nodeMark[Int(node)] = epoch
            if node == 0 { scratch.append(0); continue }
            let position = Int(nodePosition[Int(node)])
            let e = elements[position]
            if e < -1 {
                scratch.append(node)
                if scratch.count > Self.maxStacksPerState {
                    overflowed = true
                    scratch.removeAll(keepingCapacity: true)
                    work.removeAll(keepingCapacity: true)
                    return
                }
            } else if e == Grammar.end {
                work.append(nodeParent[Int(node)])
            } else {
                let parent = nodeParent[Int(node)]
                let base = elements[position + 1] == Grammar.end ? parent : internNode(Int32(position + 1), parent)
                pushAlternatives(of: e, base: base)
            }
        }
    }

    private func pushAlternatives(of rule: Int32, base: Int32) {
        for a in grammar.alternativeStarts(of: rule) {
            let start = grammar.alternatives[a]
            if elements[Int(start)] == Grammar.end {
                work.append(base)
            } else {
                work.append(internNode(start, base))
            }
        }
    }

    // MARK: - Interning

    @inline(__always)
    private static func mix(_ a: UInt32, _ b: UInt32) -> UInt32 {
        var h = a &* 0x9E37_79B1 ^ (b &+ 0x7F4A_7C15 &+ (a << 6) &+ (a >> 2))
        h ^= h >> 15
        h = h &* 0x2C1B_3C6D
        h ^= h >> 12
        return h
    }

    private func internNode(_ position: Int32, _ parent: Int32) -> Int32 {
        var mask = nodeTable.count - 1
        var slot = Int(truncatingIfNeeded: Self.mix(UInt32(bitPattern: position), UInt32(bitPattern: parent))) & mask
        while true {
            let n = nodeTable[slot]
            if n < 0 { break }
            if nodePosition[Int(n)] == position && nodeParent[Int(n)] == parent { return n }
            slot = (slot + 1) & mask
        }
        let id = Int32(nodePosition.count)
        nodePosition.append(position)
        nodeParent.append(parent)
        nodeMark.append(0)
        nodeRemaining.append(min(Grammar.unreachable, remainingAtPosition[Int(position)] + nodeRemaining[Int(parent)]))
        if nodePosition.count * 2 > nodeTable.count {
            nodeTable = [Int32](repeating: -1, count: nodeTable.count * 2)
            mask = nodeTable.count - 1
            for i in 1..<nodePosition.count {
                var s = Int(truncatingIfNeeded: Self.mix(UInt32(bitPattern: nodePosition[i]), UInt32(bitPattern: nodeParent[i]))) & mask
                while nodeTable[s] >= 0 { s = (s + 1) & mask }
                nodeTable[s] = Int32(i)
            }
        } else {
            nodeTable[slot] = id
        }
        return id
    }

    /// Sorts and de-duplicates `scratch` and interns it as a state.
    private func finishState() -> Int32 {
        scratch.sort()
        var w = 0
        for i in 0..<scratch.count where i == 0 || scratch[i] != scratch[i - 1] {
            scratch[w] = scratch[i]
            w += 1
        }
        scratch.removeLast(scratch.count - w)
        return internState(sorted: scratch)
    }

    private func hashOf(_ nodes: [Int32]) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        for n in nodes { h = Self.mix(h, UInt32(bitPattern: n)) }
        return h
    }

    private func equalState(_ s: Int, _ nodes: [Int32]) -> Bool {
        let count = Int(stateCount[s])
        guard count == nodes.count else { return false }
        let start = Int(stateStart[s])
        for i in 0..<count where statePool[start + i] != nodes[i] { return false }
        return true
    }

    private func internState(sorted nodes: [Int32]) -> Int32 {
        let h = hashOf(nodes)
        var mask = stateTable.count - 1
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = stateTable[slot]
            if s < 0 { break }
            if stateHash[Int(s)] == h && equalState(Int(s), nodes) { return s }
            slot = (slot + 1) & mask
        }
        let id = Int32(stateStart.count)
        stateStart.append(Int32(statePool.count))
        stateCount.append(Int32(nodes.count))
        stateHash.append(h)
        statePool.append(contentsOf: nodes)
        var flags: UInt8 = 0
        var remaining = Grammar.unreachable
        for n in nodes {
            if n == 0 { flags |= 1 } else { flags |= 2 }
            remaining = min(remaining, nodeRemaining[Int(n)])
        }
        stateFlags.append(flags)
        stateRemaining.append(remaining)
        // A dead state goes nowhere; its row is filled so lookups never compute.
        let fill: Int32 = id == 0 ? 0 : -1
        transitions.append(contentsOf: repeatElement(fill, count: 256))
        if stateStart.count * 2 > stateTable.count {
            stateTable = [Int32](repeating: -1, count: stateTable.count * 2)
            mask = stateTable.count - 1
            for i in 0..<stateStart.count {
                var s = Int(truncatingIfNeeded: stateHash[i]) & mask
                while stateTable[s] >= 0 { s = (s + 1) & mask }
                stateTable[s] = Int32(i)
            }
        } else {
            stateTable[slot] = id
        }
        return id
    }
}
