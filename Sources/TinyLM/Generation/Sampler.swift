/// Picks the next token from a logit vector: repetition penalty, then top-k, top-p and min-p
/// filtering, then temperature and a draw from the seeded generator — llama.cpp's default
/// chain. All working memory is allocated once, so sampling allocates nothing per token.
public final class Sampler {
    public let parameters: SamplingParameters
    public let vocabularySize: Int
    private var random: SeededRandom
    private let ids: UnsafeMutablePointer<Int32>
    private let values: UnsafeMutablePointer<Float>

    public init(vocabularySize: Int, parameters: SamplingParameters) throws(TinyLMError) {
        try parameters.validate()
        self.parameters = parameters
        self.vocabularySize = vocabularySize
        random = SeededRandom(seed: parameters.seed)
        ids = .allocate(capacity: vocabularySize)
        values = .allocate(capacity: vocabularySize)
    }

    deinit {
        ids.deallocate()
        values.deallocate()
    }

    /// Applies the repetition penalty in place to the logits of tokens in `recent`.
    public func penalize(_ logits: UnsafeMutablePointer<Float>, recent: ArraySlice<Int32>) {
        let penalty = parameters.repeatPenalty
        guard penalty != 1, parameters.repeatWindow > 0 else { return }
        let window = recent.suffix(parameters.repeatWindow)
        // Each distinct token is penalized once, however often it appears.
        for (offset, token) in window.enumerated() {
            if window.prefix(offset).contains(token) { continue }
            let id = Int(token)
            guard id >= 0, id < vocabularySize else { continue }
            logits[id] = logits[id] > 0 ? logits[id] / penalty : logits[id] * penalty
        }
    }

    /// Chooses a token. `allowed` (when given) masks out tokens that must not be produced.
    public func sample(_ logits: UnsafeMutablePointer<Float>, recent: ArraySlice<Int32> = []) -> Int32 {
        penalize(logits, recent: recent)
        if parameters.temperature <= 0 { return Self.argmax(logits, count: vocabularySize) }

        // Candidates sorted by logit, descending: a bounded selection when top-k is small.
        var count = vocabularySize
        let k = parameters.topK > 0 ? min(parameters.topK, vocabularySize) : vocabularySize
        for i in 0..<vocabularySize {
            ids[i] = Int32(i)
            values[i] = logits[i]
        }
        if k < vocabularySize {
            selectTop(k)
            count = k
        }
        sortDescending(count)

        // Probabilities of the survivors (before temperature, as llama.cpp computes top-p).
        let maxLogit = values[0]
        var sum: Float = 0
        for i in 0..<count { sum += Math.exp(values[i] - maxLogit) }
        if parameters.topP < 1 {
            var cumulative: Float = 0
            for i in 0..<count {
                cumulative += Math.exp(values[i] - maxLogit) / sum
                if cumulative >= parameters.topP { count = i + 1; break }
            }
        }
        if parameters.minP > 0 {
            // p_i ≥ minP · p_max  ⇔  logit_i ≥ logit_max + ln(minP)
            let threshold = maxLogit + Math.log(parameters.minP)
            var kept = 1
            while kept < count && values[kept] >= threshold { kept += 1 }
            count = kept
        }

        let temperature = parameters.temperature
        var total = 0.0
        for i in 0..<count {
            let p = Double(Math.exp((values[i] - maxLogit) / temperature))
            values[i] = Float(p)
            total += p
        }
        let target = random.nextUnitDouble() * total
        var cumulative = 0.0
        for i in 0..<count {
            cumulative += Double(values[i])
            if target < cumulative { return ids[i] }
        }
        return ids[count - 1]
    }

    /// Index of the largest value; the lowest index wins ties.
    public static func argmax(_ values: UnsafePointer<Float>, count: Int) -> Int32 {
        Int32(FirstLargest.index(values, count: count))
    }

    /// Moves the k largest (value, id) pairs to the front (unordered), using a min-heap of k.
    private func selectTop(_ k: Int) {
        // Build a min-heap over the first k entries, then replace its root when larger.
        for i in stride(from: k / 2 - 1, through: 0, by: -1) { siftDown(i, k) }
        for i in k..<vocabularySize where isBefore(i, 0) {
            swapAt(0, i)
            siftDown(0, k)
        }
    }

    /// Heap order: the root is the "worst" candidate (lowest value, highest id on ties).
    private func isBefore(_ a: Int, _ b: Int) -> Bool {
        values[a] > values[b] || (values[a] == values[b] && ids[a] < ids[b])
    }

    private func siftDown(_ start: Int, _ size: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var worst = i
            if l < size && isBefore(worst, l) { worst = l }
            if r < size && isBefore(worst, r) { worst = r }
            if worst == i { return }
            swapAt(i, worst)
            i = worst
        }
    }

    private func swapAt(_ a: Int, _ b: Int) {
        let id = ids[a]; ids[a] = ids[b]; ids[b] = id
        let v = values[a]; values[a] = values[b]; values[b] = v
    }

    /// Heap sort into descending order (ties by ascending id): in place, no allocation.
    private func sortDescending(_ count: Int) {
        for i in stride(from: count / 2 - 1, through: 0, by: -1) { siftDown(i, count) }
        var end = count - 1
        while end > 0 {
            swapAt(0, end)
            siftDown(0, end)
            end -= 1
        }
    }
}
