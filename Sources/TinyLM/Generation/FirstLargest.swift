/// The index a scan `for i in 1..<count where values[i] > values[best] { best = i }` finds (the
/// first of the largest values; NaNs never win, a NaN first value does), eight lanes at a time.
/// Greedy decoding runs it over the whole vocabulary every token, between the parallel sections
/// of a threaded step: the scalar scan of SmolLM2's 49 152 logits was about a tenth of that
/// serial work in wasm.
enum FirstLargest {
    static func index(_ values: UnsafePointer<Float>, count: Int) -> Int {
        precondition(count > 0, "FirstLargest: no values")
        var best = 0
        var bestValue = values[0]
        // Nothing compares greater than a NaN first value: the scan keeps it.
        if bestValue.isNaN { return 0 }
        var i = 0
        if count >= 16 {
            // Each lane keeps the first of the largest values it saw (above −∞) and its index;
            // the lanes then merge as the scan would (the larger value, the lower index on ties).
            var laneBest = SIMD8<Float>(repeating: -.infinity)
            var laneIndex = SIMD8<Int32>(repeating: 0)
            var index = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
            while i + 8 <= count {
                let v = UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self)
                let greater = v .> laneBest
                laneBest.replace(with: v, where: greater)
                laneIndex.replace(with: index, where: greater)
                index &+= 8
                i += 8
            }
            for lane in 0..<8 {
                let value = laneBest[lane], at = Int(laneIndex[lane])
                if value > bestValue || (value == bestValue && at < best) {
                    best = at
                    bestValue = value
                }
            }
        }
        // The rest (after every lane's index, so only a larger value wins).
        while i < count {
            if values[i] > bestValue {
                best = i
                bestValue = values[i]
            }
            i += 1
        }
        return best
    }
}
