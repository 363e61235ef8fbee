import Testing
@testable import TinyLM

/// The decode layouts of an adapter pair (LoRALayout) only move and widen values: the sums they
/// feed must be the in-place product's to the bit, for shapes the reference adapter does not
/// have (row counts that are no multiple of 8, ranges that start or end inside a block, ranks
/// under 8, BF16, rows with a tail past the last 64).
@Suite struct LoRALayoutTests {
    /// A fixed pseudo-random sequence (the test's data is the same on every run).
    struct Numbers {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 400_000
        }
    }

    static func halfBits(_ value: Float, _ type: TensorType) -> UInt16 {
        type == .f16 ? FP16.fromFloat(value) : BF16.fromFloat(value)
    }

    static func rounded(_ value: Float, _ type: TensorType) -> Float {
        type == .f16 ? FP16.round(value) : BF16.round(value)
    }

    @Test(arguments: [TensorType.f16, .bf16], [(37, 8), (64, 8), (21, 5), (8, 1)])
    func blocksOfBSumAsTheRowsInPlace(type: TensorType, shape: (rows: Int, rank: Int)) {
        let (rows, rank) = shape
        var numbers = Numbers(state: UInt64(rows * 131 + rank))
        let bBits = (0..<rows * rank).map { _ in Self.halfBits(numbers.next(), type) }
        let aBits = (0..<rank * 64).map { _ in Self.halfBits(numbers.next(), type) }
        let t = (0..<rank).map { _ in Self.rounded(numbers.next(), type) }
        let start = (0..<rows).map { _ in numbers.next() * 8 }
        let factor: Float = 2.5
        bBits.withUnsafeBytes { b in
            aBits.withUnsafeBytes { a in
                let pair = LoRAPair(slot: 0, a: WeightMatrix(name: "a", type: type, rows: rank, columns: 64, data: a.baseAddress!),
                                    b: WeightMatrix(name: "b", type: type, rows: rows, columns: rank, data: b.baseAddress!),
                                    rank: rank)
                let layout = LoRALayout.make(pair, isEmbedding: false)
                defer { layout.deallocate() }
                guard let blocks = layout.bBlocks else {
                    Issue.record("no block layout for a \(type.name) B of rank \(rank)")
                    return
                }
                var expected = start
                LoRAProduct.products(type, rows: b.baseAddress!, rowBytes: rank * 2, rowCount: rows, x: t, count: rank,
                                     order: .vectorDot, factor: factor, into: &expected)
                // Whole, and split where a parallel section may split it or anywhere else.
                for split in Set([0, 3, 8, 16, rows / 2, rows - 1].filter { $0 >= 0 && $0 <= rows }).sorted() {
                    var got = start
                    for range in [0..<split, split..<rows] where !range.isEmpty {
                        LoRAProduct.addByBlocks(type, blocks, blockBytes: layout.bBlockBytes, rows: range, rank: rank, t,
                                                factor: factor, into: &got)
                    }
                    #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "\(type.name) \(rows)×\(rank), split at \(split)")
                }
            }
        }
    }

    /// A's rows as the builds without f16 conversion (wasm) keep them: widened to f32, summed as
    /// the 16-bit rows are.
    @Test(arguments: [TensorType.f16, .bf16], [100, 576, 40])
    func widenedRowsOfASumAsTheHalves(type: TensorType, columns: Int) {
        let rank = 8
        var numbers = Numbers(state: UInt64(columns))
        let bits = (0..<rank * columns).map { _ in Self.halfBits(numbers.next(), type) }
        let widened = bits.map { type == .f16 ? FP16.toFloat($0) : BF16.toFloat($0) }
        let x = (0..<columns).map { _ in Self.rounded(numbers.next(), type) }
        var expected = [Float](repeating: 0, count: rank), got = expected
        bits.withUnsafeBytes { halves in
            widened.withUnsafeBytes { floats in
                LoRAProduct.products(type, rows: halves.baseAddress!, rowBytes: columns * 2, rowCount: rank, x: x, count: columns,
                                     order: .vectorDot, factor: nil, into: &expected)
                LoRAProduct.products(WidenedHalfElement.self, floats.baseAddress!, columns * 4, rank, x, columns, .vectorDot, nil, &got)
            }
        }
        #expect(got.map(\.bitPattern) == expected.map(\.bitPattern))
        #expect(expected.contains { $0 != 0 })
    }
}
