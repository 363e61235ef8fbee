import Testing
@testable import TinyLM

@Suite struct SamplerTests {
    private func logits(_ values: [Float]) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: values.count)
        p.initialize(from: values, count: values.count)
        return p
    }

    @Test func greedyPicksMaxAndLowestIdOnTies() throws {
        let s = try Sampler(vocabularySize: 5, parameters: .greedy)
        let l = logits([1, 3, 3, -2, 0]); defer { l.deallocate() }
        #expect(s.sample(l) == 1)
    }

    @Test func sameSeedSameSequenceDifferentSeedDifferent() throws {
        func draw(seed: UInt64) throws -> [Int32] {
            var p = SamplingParameters(); p.seed = seed; p.temperature = 1; p.topK = 0; p.topP = 1; p.minP = 0
            let s = try Sampler(vocabularySize: 50, parameters: p)
            let l = logits((0..<50).map { Float($0 % 7) * 0.3 }); defer { l.deallocate() }
            return (0..<40).map { _ in s.sample(l) }
        }
        #expect(try draw(seed: 1) == draw(seed: 1))
        #expect(try draw(seed: 1) != draw(seed: 2))
    }

    @Test func topKOneIsGreedy() throws {
        var p = SamplingParameters(); p.topK = 1; p.temperature = 5
        let s = try Sampler(vocabularySize: 6, parameters: p)
        let l = logits([0.1, 0.5, 2, 1.9, -1, 0]); defer { l.deallocate() }
        for _ in 0..<20 { #expect(s.sample(l) == 2) }
    }

    @Test func minPAndTopPRestrictTheChoice() throws {
        var p = SamplingParameters(); p.topK = 0; p.temperature = 1; p.topP = 1; p.minP = 0.5
        let s = try Sampler(vocabularySize: 4, parameters: p)
        // probabilities ∝ e^[2, 1.8, 0, -5]: min-p 0.5 keeps ids 0 and 1 only
        let l = logits([2, 1.8, 0, -5]); defer { l.deallocate() }
        var seen = Set<Int32>()
        for _ in 0..<300 { seen.insert(s.sample(l)) }
        #expect(seen == [0, 1])

        var q = SamplingParameters(); q.topK = 0; q.temperature = 1; q.topP = 0.5; q.minP = 0
        let t = try Sampler(vocabularySize: 4, parameters: q)
        for _ in 0..<100 { #expect(t.sample(l) == 0) }  // p(id 0) ≈ 0.54 ≥ 0.5
    }

    @Test func frequenciesFollowTheDistribution() throws {
        var p = SamplingParameters(); p.topK = 0; p.topP = 1; p.minP = 0; p.temperature = 1; p.seed = 3
        let s = try Sampler(vocabularySize: 3, parameters: p)
        let l = logits([0, Math.log(2), Math.log(7)]); defer { l.deallocate() }  // 0.1, 0.2, 0.7
        var counts = [0, 0, 0]
        for _ in 0..<10_000 { counts[Int(s.sample(l))] += 1 }
        #expect(abs(counts[0] - 1000) < 150 && abs(counts[1] - 2000) < 200 && abs(counts[2] - 7000) < 250)
    }

    @Test func repetitionPenaltyDemotesRecentTokens() throws {
        var p = SamplingParameters.greedy; p.repeatPenalty = 2
        let s = try Sampler(vocabularySize: 3, parameters: p)
        let l = logits([1.0, 1.5, -1]); defer { l.deallocate() }
        #expect(s.sample(l, recent: [1, 1]) == 0)  // 1.5 / 2 < 1.0
        #expect(l[2] == -1)
    }

    @Test func invalidParametersAreErrors() {
        var p = SamplingParameters(); p.topP = 0
        #expect(throws: TinyLMError.self) { _ = try Sampler(vocabularySize: 3, parameters: p) }
        p = SamplingParameters(); p.temperature = .nan
        #expect(throws: TinyLMError.self) { _ = try Sampler(vocabularySize: 3, parameters: p) }
    }

    @Test func stopMatcherHoldsBackPossiblePrefixes() {
        var m = StopSequenceMatcher(["</end>", "STOP"])
        #expect(m.append("Hello <") == .text("Hello "))
        #expect(m.append("/en") == .text(""))
        #expect(m.append("x and ST") == .text("</enx and "))
        #expect(m.append("OP more") == .stop(""))
        var n = StopSequenceMatcher(["\n\n"])
        #expect(n.append("a\n") == .text("a"))
        #expect(n.flush() == "\n")
        var none = StopSequenceMatcher([])
        #expect(none.append("anything") == .text("anything"))
    }

    @Test func randomIsStableAcrossPlatforms() {
        // Fixed values: the same seed must give the same stream natively and in wasm.
        var r = SeededRandom(seed: 0)
        let first = (0..<3).map { _ in r.next() }
        var again = SeededRandom(seed: 0)
        #expect(first == (0..<3).map { _ in again.next() })
        #expect(first[0] != first[1])
        var u = SeededRandom(seed: 9)
        for _ in 0..<1000 { let x = u.nextUnitDouble(); #expect(x >= 0 && x < 1) }
    }
}
