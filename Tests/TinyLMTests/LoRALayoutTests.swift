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
                        LoRAProduct.addByBlocks(type, form: layout.form, blocks, blockBytes: layout.bBlockBytes, rows: range,
                                                rank: rank, t, factor: factor, into: &got)
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

    /// Values across F16's range, subnormals (and ±0) among them, for the packed form.
    static func f16Values(_ count: Int, _ numbers: inout Numbers) -> [UInt16] {
        (0..<count).map { i in
            let value = numbers.next()
            switch i % 7 {
            case 0: return FP16.fromFloat(value * 0x1p-20)   // subnormal
            case 1: return FP16.fromFloat(value * 20_000)    // near the largest
            case 2: return i % 2 == 0 ? 0x8000 : 0           // -0, +0
            case 3: return FP16.fromFloat(value * 0x1p-12)
            default: return FP16.fromFloat(value)
            }
        }
    }

    /// B's packed blocks (wasm's form) against the F16 rows in place.
    @Test(arguments: [(37, 8), (64, 8), (21, 5), (8, 1), (576, 8)])
    func packedBlocksOfBSumAsTheRowsInPlace(shape: (rows: Int, rank: Int)) {
        let (rows, rank) = shape
        var numbers = Numbers(state: UInt64(rows * 17 + rank))
        let bBits = Self.f16Values(rows * rank, &numbers)
        let aBits = Self.f16Values(rank * 64, &numbers)
        let t = (0..<rank).map { c in FP16.round(c % 3 == 0 ? numbers.next() * 8_000 : numbers.next()) }
        let start = (0..<rows).map { _ in numbers.next() * 8 }
        let factor: Float = 2.5
        bBits.withUnsafeBytes { b in
            aBits.withUnsafeBytes { a in
                let pair = LoRAPair(slot: 0, a: WeightMatrix(name: "a", type: .f16, rows: rank, columns: 64, data: a.baseAddress!),
                                    b: WeightMatrix(name: "b", type: .f16, rows: rows, columns: rank, data: b.baseAddress!),
                                    rank: rank)
                #expect(PackedHalfElement.allFinite(pair.a) && PackedHalfElement.allFinite(pair.b))
                let layout = LoRALayout.make(pair, isEmbedding: false, form: .packed)
                defer { layout.deallocate() }
                guard let blocks = layout.bBlocks else {
                    Issue.record("no packed block layout for a B of rank \(rank)")
                    return
                }
                #expect(layout.scalesAInput)
                var expected = start
                LoRAProduct.products(.f16, rows: b.baseAddress!, rowBytes: rank * 2, rowCount: rows, x: t, count: rank,
                                     order: .vectorDot, factor: factor, into: &expected)
                for split in Set([0, 3, 8, 16, rows / 2, rows - 1].filter { $0 >= 0 && $0 <= rows }).sorted() {
                    var got = start
                    for range in [0..<split, split..<rows] where !range.isEmpty {
                        LoRAProduct.addByBlocks(.f16, form: .packed, blocks, blockBytes: layout.bBlockBytes, rows: range, rank: rank,
                                                t, factor: factor, into: &got)
                    }
                    #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "\(rows)×\(rank), split at \(split)")
                }
            }
        }
    }

    /// A's packed rows (wasm's form) against the F16 rows in place, x scaled as the packed form
    /// wants it: every value, in both orders (one token; a batch's tinyBLAS order) and both
    /// loops of the one-token order (`vectorDotsInTwoPasses` for rows of 64 or more).
    @Test(arguments: [576, 1536, 100, 40, 64, 13])
    func packedRowsOfASumAsTheHalves(columns: Int) {
        let rank = 8
        var numbers = Numbers(state: UInt64(columns * 3))
        let bits = Self.f16Values(rank * columns, &numbers)
        let bBits = Self.f16Values(16 * rank, &numbers)
        let x = (0..<columns).map { i in FP16.round(i % 5 == 0 ? numbers.next() * 0x1p-18 : numbers.next() * 3) }
        let scaled = x.map { $0 * PackedHalfElement.inputScale }
        bits.withUnsafeBytes { a in
            bBits.withUnsafeBytes { b in
                let pair = LoRAPair(slot: 0, a: WeightMatrix(name: "a", type: .f16, rows: rank, columns: columns, data: a.baseAddress!),
                                    b: WeightMatrix(name: "b", type: .f16, rows: 16, columns: rank, data: b.baseAddress!),
                                    rank: rank)
                let layout = LoRALayout.make(pair, isEmbedding: false, form: .packed)
                defer { layout.deallocate() }
                guard let rows = layout.aRows else {
                    Issue.record("A was not packed")
                    return
                }
                for c in 0..<columns {
                    #expect(PackedHalfElement.load1(rows + 2 * layout.aRowBytes, c) * PackedHalfElement.inputScale
                            == FP16.toFloat(bits[2 * columns + c]), "value \(c)")
                }
                var orders: [LoRAProduct.Order] = [.vectorDot]
                if columns % 16 == 0 { orders.append(.tiled) }
                for order in orders {
                    var expected = [Float](repeating: 0, count: rank), got = expected
                    LoRAProduct.products(.f16, rows: a.baseAddress!, rowBytes: columns * 2, rowCount: rank, x: x, count: columns,
                                         order: order, factor: nil, into: &expected)
                    LoRAProduct.products(PackedHalfElement.self, UnsafeRawPointer(rows), layout.aRowBytes, rank, scaled, columns,
                                         order, nil, &got)
                    #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "\(order)")
                    #expect(expected.contains { $0 != 0 })
                    if order == .vectorDot && columns >= 64 {
                        var twoPasses = [Float](repeating: 0, count: rank)
                        LoRAProduct.vectorDotsInTwoPasses(PackedHalfElement.self, UnsafeRawPointer(rows), layout.aRowBytes, rank,
                                                          scaled, columns, into: &twoPasses)
                        #expect(twoPasses.map(\.bitPattern) == expected.map(\.bitPattern))
                    }
                }
            }
        }
    }

    /// F16 tensors with an inf or NaN cannot be packed (their exponent would become finite).
    @Test func nonFiniteHalvesAreNotPacked() {
        for special: UInt16 in [0x7C00, 0xFC00, 0x7E00] {
            var bits = [UInt16](repeating: FP16.fromFloat(0.5), count: 64)
            bits[37] = special
            bits.withUnsafeBytes { raw in
                #expect(!PackedHalfElement.allFinite(WeightMatrix(name: "a", type: .f16, rows: 8, columns: 8, data: raw.baseAddress!)))
            }
        }
    }
}
