import Testing
@testable import TinyLM

/// FirstLargest (greedy decoding's argmax, eight lanes at a time) against the scalar scan it
/// replaces, on ties, NaNs, infinities, signed zeros and every length around the lane width.
@Suite struct FirstLargestTests {
    /// The scan: the first of the largest values, NaNs never winning (a NaN first value does).
    private func scan(_ values: [Float]) -> Int {
        var best = 0
        for i in 1..<values.count where values[i] > values[best] { best = i }
        return best
    }

    private func check(_ values: [Float], _ label: String) {
        let found = values.withUnsafeBufferPointer { FirstLargest.index($0.baseAddress!, count: $0.count) }
        #expect(found == scan(values), "\(label): \(values.count) values")
    }

    @Test func matchesTheScalarScan() {
        var state: UInt32 = 7
        func next() -> UInt32 { state = state &* 1_664_525 &+ 1_013_904_223; return state >> 8 }
        for count in [1, 2, 7, 8, 15, 16, 17, 23, 24, 31, 33, 64, 100, 1000, 49_152] {
            // Few distinct values, so the largest repeats in several lanes and the tail.
            let small = (0..<count).map { _ in Float(next() % 5) }
            check(small, "ties")
            let wide = (0..<count).map { _ in Float(Int(next() % 20_001) - 10_000) / 7 }
            check(wide, "random")
            var nanFirst = wide; nanFirst[0] = .nan
            check(nanFirst, "NaN first")
            var nans = wide
            for i in stride(from: 1, to: count, by: 3) { nans[i] = .nan }
            check(nans, "NaNs")
            check([Float](repeating: -.infinity, count: count), "all -inf")
            var infinite = [Float](repeating: -.infinity, count: count); infinite[count - 1] = .infinity
            check(infinite, "+inf last")
            check((0..<count).map { $0 % 2 == 0 ? -0.0 : 0.0 }, "signed zeros")
            check((0..<count).map { Float(count - $0) }, "descending")
            check((0..<count).map { Float($0) }, "ascending")
        }
    }

    @Test func samplerGreedyUsesIt() throws {
        let sampler = try Sampler(vocabularySize: 40, parameters: .greedy)
        var logits = (0..<40).map { Float($0 % 9) }
        let id = logits.withUnsafeMutableBufferPointer { sampler.sample($0.baseAddress!) }
        #expect(id == 8)
    }
}
