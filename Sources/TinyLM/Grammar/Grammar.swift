/// A compiled grammar: rules of alternatives, each a sequence of byte sets and rule
/// references, stored flat so the recognizer (`GrammarAutomaton`) walks plain integer arrays.
///
/// Every construct of `GrammarExpression` is lowered here: literals and character classes to
/// byte sets (multi-byte characters to their UTF-8 byte patterns), nested choices and
/// repetitions to auxiliary rules (`x*` → `r ::= x r | ε`, bounded repetitions to nested
/// optionals so they stay unambiguous). Grammars the recognizer cannot run — references to
/// undefined rules, left recursion, empty languages — are rejected with a `.grammar` error.
public struct Grammar: Sendable {
    /// The program: element ≥ 0 references that rule; `end` closes an alternative; ≤ -2 is
    /// the byte set `-(element + 2)`.
    let elements: [Int32]
    let byteSets: [ByteSet]
    /// Start positions (into `elements`) of the alternatives of rule r:
    /// `alternatives[alternativeOffsets[r] ..< alternativeOffsets[r + 1]]`.
    let alternatives: [Int32]
    let alternativeOffsets: [Int32]
    /// Rule names (auxiliary rules are named after the rule they came from).
    public let ruleNames: [String]
    let root: Int32
    /// Per position in `elements`: the fewest bytes that complete the alternative from there
    /// (`unreachable` when it cannot be completed). The recognizer adds these up along a stack
    /// to know how far the output is from a complete match (budget steering, TokenMasker).
    let remainingBytes: [Int32]

    /// "Cannot be completed" (sums saturate here).
    static let unreachable: Int32 = 1 << 29

    static let end: Int32 = -1
    /// Compiled size limit (elements): guards against `x{1000000}` and similar.
    public static let maxElements = 2_000_000

    /// Compiles `rules`; `root` names the start rule.
    public init(rules: [GrammarRule], root: String = "root") throws(TinyLMError) {
        var builder = GrammarBuilder()
        try builder.declare(rules)
        guard let rootIndex = builder.ruleIndex[root] else {
            throw TinyLMError(.grammar, "the grammar has no rule named '\(root)'")
        }
        for (i, rule) in rules.enumerated() {
            let alternatives = try builder.alternatives(of: rule.expression, in: rule.name)
            builder.ruleBodies[i] = alternatives
        }
        try builder.checkReferences()
        let flat = try builder.flatten()
        elements = flat.elements
        byteSets = builder.byteSets
        alternatives = flat.alternatives
        alternativeOffsets = flat.offsets
        ruleNames = builder.names
        self.root = Int32(rootIndex)
        remainingBytes = Self.shortestCompletions(elements: flat.elements, alternatives: flat.alternatives,
                                                  offsets: flat.offsets, ruleCount: builder.names.count)
        try checkWellFormed()
    }

    /// The shortest string each rule derives (a fixpoint, as for nullable rules), then for every
    /// position the shortest completion of its alternative: each byte set costs one byte.
    private static func shortestCompletions(elements: [Int32], alternatives: [Int32], offsets: [Int32], ruleCount: Int) -> [Int32] {
        func add(_ a: Int32, _ b: Int32) -> Int32 { min(unreachable, a + b) }
        var shortest = [Int32](repeating: unreachable, count: ruleCount)
        var changed = true
        while changed {
            changed = false
            for r in 0..<ruleCount {
                for a in Int(offsets[r])..<Int(offsets[r + 1]) {
                    var p = Int(alternatives[a])
                    var length: Int32 = 0
                    while elements[p] != end {
                        let e = elements[p]
                        length = add(length, e < 0 ? 1 : shortest[Int(e)])
                        p += 1
                    }
                    if length < shortest[r] { shortest[r] = length; changed = true }
                }
            }
        }
        var remaining = [Int32](repeating: 0, count: elements.count)
        var p = elements.count - 1
        while p >= 0 {
            let e = elements[p]
            if e == end {
                remaining[p] = 0
            } else {
                remaining[p] = add(e < 0 ? 1 : shortest[Int(e)], remaining[p + 1])
            }
            p -= 1
        }
        return remaining
    }

    public var ruleCount: Int { ruleNames.count }

    func alternativeStarts(of rule: Int32) -> Range<Int> {
        Int(alternativeOffsets[Int(rule)])..<Int(alternativeOffsets[Int(rule) + 1])
    }

    /// Rejects left recursion (the recognizer would expand forever) and rules that can never
    /// match anything (a required part that cannot be produced).
    private func checkWellFormed() throws(TinyLMError) {
        let n = ruleCount
        // Nullable rules: fixpoint.
        var nullable = [Bool](repeating: false, count: n)
        var changed = true
        while changed {
            changed = false
            for r in 0..<n where !nullable[r] {
                for a in alternativeStarts(of: Int32(r)) {
                    var p = Int(alternatives[a])
                    var ok = true
                    while elements[p] != Grammar.end {
                        let e = elements[p]
                        if e < 0 || !nullable[Int(e)] { ok = false; break }
                        p += 1
                    }
                    if ok { nullable[r] = true; changed = true; break }
                }
            }
        }
        // Productive rules (derive at least one finite string): fixpoint.
        var productive = [Bool](repeating: false, count: n)
        changed = true
        while changed {
            changed = false
            for r in 0..<n where !productive[r] {
                for a in alternativeStarts(of: Int32(r)) {
                    var p = Int(alternatives[a])
                    var ok = true
                    while elements[p] != Grammar.end {
                        let e = elements[p]
                        if e >= 0 && !productive[Int(e)] { ok = false; break }
                        p += 1
                    }
                    if ok { productive[r] = true; changed = true; break }
                }
            }
        }
        if !productive[Int(root)] {
            throw TinyLMError(.grammar, "rule '\(ruleNames[Int(root)])' can never be completed (every alternative needs a rule that never ends)")
        }
        // Left recursion: rule A reaches A through first elements (after nullable prefixes).
        var edges = [[Int32]](repeating: [], count: n)
        for r in 0..<n {
            for a in alternativeStarts(of: Int32(r)) {
                var p = Int(alternatives[a])
                while elements[p] != Grammar.end {
                    let e = elements[p]
                    if e < 0 { break }
                    edges[r].append(e)
                    if !nullable[Int(e)] { break }
                    p += 1
                }
            }
        }
        var color = [UInt8](repeating: 0, count: n)  // 0 new, 1 on the path, 2 done
        for start in 0..<n where color[start] == 0 {
            var stack: [(rule: Int, next: Int)] = [(start, 0)]
            color[start] = 1
            while let top = stack.last {
                if top.next < edges[top.rule].count {
                    stack[stack.count - 1].next += 1
                    let target = Int(edges[top.rule][top.next])
                    if color[target] == 1 {
                        throw TinyLMError(.grammar, "rule '\(ruleNames[target])' is left-recursive (it can reach itself without consuming input)")
                    }
                    if color[target] == 0 {
                        color[target] = 1
                        stack.append((target, 0))
                    }
                } else {
                    color[top.rule] = 2
                    stack.removeLast()
                }
            }
        }
    }
}

/// Lowers expressions into rules of element sequences.
struct GrammarBuilder {
    enum Element: Equatable { case set(Int32), rule(Int32) }

    var names: [String] = []
    var ruleIndex: [String: Int] = [:]
    var ruleBodies: [[[Element]]] = []
    var byteSets: [ByteSet] = []
    private var setIndex: [ByteSet: Int32] = [:]
    private var size = 0
    /// The first reference to each rule name that was not defined, for the error.
    private var undefined: [(name: String, from: String)] = []

    mutating func declare(_ rules: [GrammarRule]) throws(TinyLMError) {
        for rule in rules {
            if ruleIndex[rule.name] != nil { throw TinyLMError(.grammar, "rule '\(rule.name)' is defined twice") }
            ruleIndex[rule.name] = names.count
            names.append(rule.name)
            ruleBodies.append([])
        }
    }

    mutating func checkReferences() throws(TinyLMError) {
        if let first = undefined.first {
            throw TinyLMError(.grammar, "rule '\(first.from)' refers to undefined rule '\(first.name)'")
        }
    }

    private mutating func set(_ s: ByteSet) -> Element {
        if let i = setIndex[s] { return .set(i) }
        let i = Int32(byteSets.count)
        byteSets.append(s)
        setIndex[s] = i
        return .set(i)
    }

    private mutating func newRule(_ base: String, _ body: [[Element]]) -> Element {
        let index = names.count
        names.append("\(base)-\(index)")
        ruleBodies.append(body)
        return .rule(Int32(index))
    }

    private mutating func grow(_ n: Int) throws(TinyLMError) {
        size += n
        if size > Grammar.maxElements {
            throw TinyLMError(.grammar, "the grammar is too large (over \(Grammar.maxElements) elements once repetitions are expanded)")
        }
    }

    /// The alternatives of `e`: a top-level choice gives several, anything else one.
    mutating func alternatives(of e: GrammarExpression, in rule: String) throws(TinyLMError) -> [[Element]] {
        switch e {
        case .choice(let options):
            if options.isEmpty { throw TinyLMError(.grammar, "rule '\(rule)' has an empty choice") }
            var out: [[Element]] = []
            for option in options { out += try alternatives(of: option, in: rule) }
            return out
        case .characters(let ranges, let negated):
            return try characterAlternatives(ranges, negated: negated, in: rule)
        default:
            return [try sequence(of: e, in: rule)]
        }
    }

    private mutating func characterAlternatives(_ ranges: [ClosedRange<UInt32>], negated: Bool, in rule: String) throws(TinyLMError) -> [[Element]] {
        let normalized = UTF8Ranges.normalize(ranges.map { ($0.lowerBound, $0.upperBound) }, negated: negated)
        let sequences = UTF8Ranges.sequences(normalized)
        if sequences.isEmpty { throw TinyLMError(.grammar, "rule '\(rule)' has a character class that matches no character") }
        var out: [[Element]] = []
        for s in sequences {
            var seq: [Element] = []
            for b in s { seq.append(set(b)) }
            try grow(seq.count)
            out.append(seq)
        }
        return out
    }

    /// `e` as one sequence of elements (choices and repetitions become auxiliary rules).
    mutating func sequence(of e: GrammarExpression, in rule: String) throws(TinyLMError) -> [Element] {
        switch e {
        case .bytes(let s):
            if s.isEmpty { throw TinyLMError(.grammar, "rule '\(rule)' has an empty byte set") }
            try grow(1)
            return [set(s)]
        case .literal(let bytes):
            try grow(bytes.count)
            var out: [Element] = []
            for b in bytes { out.append(set(ByteSet(b))) }
            return out
        case .characters(let ranges, let negated):
            let alts = try characterAlternatives(ranges, negated: negated, in: rule)
            if alts.count == 1 { return alts[0] }
            return [newRule(rule, alts)]
        case .reference(let name):
            try grow(1)
            guard let i = ruleIndex[name] else {
                undefined.append((name, rule))
                return [.rule(0)]
            }
            return [.rule(Int32(i))]
        case .sequence(let items):
            var out: [Element] = []
            for item in items { out += try sequence(of: item, in: rule) }
            return out
        case .choice(let options):
            if options.count == 1 { return try sequence(of: options[0], in: rule) }
            let alts = try alternatives(of: e, in: rule)
            try grow(1)
            return [newRule(rule, alts)]
        case .repetition(let item, let min, let max):
            if min < 0 { throw TinyLMError(.grammar, "rule '\(rule)' has a negative repetition count") }
            if let max, max < min {
                throw TinyLMError(.grammar, "rule '\(rule)' has a repetition {\(min),\(max)} whose maximum is below its minimum")
            }
            var unit = try sequence(of: item, in: rule)
            if unit.count > 1 { unit = [newRule(rule, [unit])] }
            var out: [Element] = []
            if unit.isEmpty { return out }
            for _ in 0..<min { out += unit }
            try grow(min)
            if let max {
                // (x (x (x)?)?)? — nested, so each count has exactly one parse.
                if max > min {
                    var inner: Element? = nil
                    for _ in 0..<(max - min) {
                        let body: [[Element]] = inner.map { [unit + [$0], []] } ?? [unit, []]
                        inner = newRule(rule, body)
                        try grow(unit.count + 2)
                    }
                    out.append(inner!)
                }
            } else {
                // r ::= x r | ε
                let index = Int32(names.count)
                names.append("\(rule)-\(index)")
                ruleBodies.append([unit + [.rule(index)], []])
                try grow(unit.count + 2)
                out.append(.rule(index))
            }
            return out
        }
    }

    /// The flat program.
    func flatten() throws(TinyLMError) -> (elements: [Int32], alternatives: [Int32], offsets: [Int32]) {
        var elements: [Int32] = []
        var alternatives: [Int32] = []
        var offsets: [Int32] = [0]
        elements.reserveCapacity(size + 16)
        for body in ruleBodies {
            for alt in body {
                alternatives.append(Int32(elements.count))
                for e in alt {
                    switch e {
                    case .set(let i): elements.append(-(i + 2))
                    case .rule(let r): elements.append(r)
                    }
                }
                elements.append(Grammar.end)
            }
            offsets.append(Int32(alternatives.count))
        }
        return (elements, alternatives, offsets)
    }
}
