import Foundation
import Testing
import TinyLM

/// The K-quant kernels add in llama.cpp's x86 orders (Kernels/SummationOrder.swift). This
/// restates each of llama.cpp's orders as plain scalar loops over the decoded integers and
/// checks MatrixMultiply against them bit for bit, for the batch sizes that select each kernel:
/// a single token, fewer than eight, a batch with a tail of n mod 4 tokens, and rows that are or
/// are not a multiple of 8 (Q4_K and Q2_K are repacked only then).
@Suite struct LlamaCppOrderKQuantTests {
    typealias F = KernelFixtures

    /// One block of Q8_K activations, decoded.
    struct Activation {
        var d: Float
        var q: [Int32]      // 256
        var sums16: [Int32] // 16
    }

    static func quantize(_ x: [Float]) -> [Activation] {
        let blocks = x.count / 256
        var packed = [UInt8](repeating: 0, count: blocks * 292)
        x.withUnsafeBufferPointer { xp in
            packed.withUnsafeMutableBytes { Q8_K.quantizeRow(xp.baseAddress!, count: x.count, into: $0.baseAddress!) }
        }
        return (0..<blocks).map { b in
            packed.withUnsafeBytes { p in
                let block = p.baseAddress! + b * 292
                let q = (0..<256).map { Int32(block.load(fromByteOffset: 4 + $0, as: Int8.self)) }
                return Activation(d: block.loadUnaligned(as: Float.self), q: q,
                                  sums16: (0..<16).map { j in q[16 * j ..< 16 * j + 16].reduce(0, +) })
            }
        }
    }

    static func f16(_ bytes: ArraySlice<UInt8>, _ offset: Int) -> Float {
        let i = bytes.startIndex + offset
        return FP16.toFloat(UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8)
    }

    /// A Q4_K block: d, dmin, eight 6-bit scales and mins, 256 quants (0…15).
    static func decodeQ4_K(_ b: ArraySlice<UInt8>) -> (d: Float, dmin: Float, sc: [Int32], m: [Int32], q: [Int32]) {
        let s = Array(b[b.startIndex + 4 ..< b.startIndex + 16]).map(Int32.init)
        var sc = [Int32](repeating: 0, count: 8), m = sc
        for j in 0..<4 {
            sc[j] = s[j] & 63
            m[j] = s[j + 4] & 63
            sc[j + 4] = (s[j + 8] & 15) | (s[j] >> 6) << 4
            m[j + 4] = (s[j + 8] >> 4) | (s[j + 4] >> 6) << 4
        }
        var q = [Int32](repeating: 0, count: 256)
        for j in 0..<8 {
            for l in 0..<32 {
                let byte = Int32(b[b.startIndex + 16 + (j / 2) * 32 + l])
                q[32 * j + l] = j % 2 == 0 ? byte & 15 : byte >> 4
            }
        }
        return (f16(b, 0), f16(b, 2), sc, m, q)
    }

    /// A Q6_K block: d, sixteen int8 scales, 256 stored quants (0…63, value q − 32).
    static func decodeQ6_K(_ b: ArraySlice<UInt8>) -> (d: Float, sc: [Int32], q: [Int32]) {
        let o = b.startIndex
        var q = [Int32](repeating: 0, count: 256)
        for i in 0..<256 {
            let n = i / 128, k = (i / 32) % 4, l = i % 32
            let low = Int32(b[o + n * 64 + (k % 2) * 32 + l]) >> Int32((k / 2) * 4) & 15
            let high = Int32(b[o + 128 + n * 32 + l]) >> Int32(2 * k) & 3
            q[i] = low | high << 4
        }
        return (f16(b, 208), (0..<16).map { Int32(Int8(bitPattern: b[o + 192 + $0])) }, q)
    }

    /// A Q5_K block: Q4_K's scales and mins, 256 quants (0…31).
    static func decodeQ5_K(_ b: ArraySlice<UInt8>) -> (d: Float, dmin: Float, sc: [Int32], m: [Int32], q: [Int32]) {
        let q4 = decodeQ4_K(b)   // scales and mins share the layout; the quants differ
        var q = [Int32](repeating: 0, count: 256)
        for j in 0..<8 {
            for l in 0..<32 {
                let byte = Int32(b[b.startIndex + 48 + (j / 2) * 32 + l])
                let high = Int32(b[b.startIndex + 16 + l]) >> Int32(j) & 1
                q[32 * j + l] = (j % 2 == 0 ? byte & 15 : byte >> 4) | high << 4
            }
        }
        return (q4.d, q4.dmin, q4.sc, q4.m, q)
    }

    /// A Q2_K block: d, dmin, sixteen 4-bit scales and mins, 256 quants (0…3).
    static func decodeQ2_K(_ b: ArraySlice<UInt8>) -> (d: Float, dmin: Float, sc: [Int32], m: [Int32], q: [Int32]) {
        let o = b.startIndex
        let q = (0..<256).map { i -> Int32 in Int32(b[o + 16 + 32 * (i / 128) + i % 32]) >> Int32(2 * ((i / 32) % 4)) & 3 }
        return (f16(b, 80), f16(b, 82), (0..<16).map { Int32(b[o + $0] & 15) }, (0..<16).map { Int32(b[o + $0] >> 4) }, q)
    }

    /// A Q3_K block: d, sixteen scales (s − 32), 256 values q2 − (high bit ? 0 : 4).
    static func decodeQ3_K(_ b: ArraySlice<UInt8>) -> (d: Float, sc: [Int32], q: [Int32]) {
        let o = b.startIndex
        let raw = (0..<12).map { Int32(b[o + 96 + $0]) }
        let sc = (0..<16).map { j -> Int32 in
            let low = j < 8 ? raw[j] & 15 : raw[j - 8] >> 4
            let high = raw[8 + j % 4] >> Int32(2 * (j / 4)) & 3
            return (low | high << 4) - 32
        }
        let q = (0..<256).map { i -> Int32 in
            let n = i / 128, j = (i / 32) % 4, l = i % 32
            let low = Int32(b[o + 32 + 32 * n + l]) >> Int32(2 * j) & 3
            let high = Int32(b[o + l]) >> Int32(4 * n + j) & 1
            return low - (high == 1 ? 0 : 4)
        }
        return (f16(b, 108), sc, q)
    }

    /// fma, as the x86 instruction.
    static func fma(_ a: Float, _ b: Float, _ c: Float) -> Float { c.addingProduct(a, b) }

    /// ggml's hsum_float_8.
    static func hsum8(_ a: [Float]) -> Float { ((a[4] + a[0]) + (a[6] + a[2])) + ((a[5] + a[1]) + (a[7] + a[3])) }

    enum Path { case gemv, gemm, tiled, vecDot }

    static func q4_K(_ row: ArraySlice<UInt8>, _ act: [Activation], _ path: Path) -> Float {
        var acc: Float = 0, accMin: Float = 0
        var lanes = [Float](repeating: 0, count: 8), minLanes = [Float](repeating: 0, count: 4)
        for (bi, a) in act.enumerated() {
            let w = decodeQ4_K(row[row.startIndex + bi * 144 ..< row.startIndex + bi * 144 + 144])
            var dots = [Int32](repeating: 0, count: 8)
            for i in 0..<256 { dots[i / 32] += w.q[i] * a.q[i] }
            let sums = (0..<8).map { j in a.sums16[2 * j] + a.sums16[2 * j + 1] }
            switch path {
            case .gemv, .tiled:
                let isum = (0..<8).reduce(Int32(0)) { $0 + w.sc[$1] * dots[$1] }
                let msum = (0..<8).reduce(Int32(0)) { $0 + w.m[$1] * sums[$1] }
                if path == .gemv {
                    acc = fma(Float(isum), w.d * a.d, acc)
                    accMin = fma(Float(msum), w.dmin * a.d, accMin)
                } else {
                    acc = fma(fma(-w.dmin, Float(msum), Float(isum) * w.d), a.d, acc)
                }
            case .gemm:
                for p in 0..<4 {
                    acc = fma(Float(w.sc[2 * p] * dots[2 * p] + w.sc[2 * p + 1] * dots[2 * p + 1]), w.d * a.d, acc)
                    accMin = fma(Float(w.m[2 * p] * sums[2 * p] + w.m[2 * p + 1] * sums[2 * p + 1]), w.dmin * a.d, accMin)
                }
            case .vecDot:
                for l in 0..<8 {
                    var lane: Int32 = 0
                    for j in 0..<8 {
                        for k in 0..<4 { lane += w.sc[j] * w.q[32 * j + 4 * l + k] * a.q[32 * j + 4 * l + k] }
                    }
                    lanes[l] = fma(a.d * w.d, Float(lane), lanes[l])
                }
                for i in 0..<4 {
                    minLanes[i] = fma(-a.d * w.dmin, Float(w.m[2 * i] * sums[2 * i] + w.m[2 * i + 1] * sums[2 * i + 1]), minLanes[i])
                }
            }
        }
        if path == .vecDot { return hsum8(lanes) + ((minLanes[0] + minLanes[2]) + (minLanes[1] + minLanes[3])) }
        return acc - accMin
    }

    static func q6_K(_ row: ArraySlice<UInt8>, _ act: [Activation], _ path: Path) -> Float {
        var acc: Float = 0
        var lanes = [Float](repeating: 0, count: 8)
        for (bi, a) in act.enumerated() {
            let w = decodeQ6_K(row[row.startIndex + bi * 210 ..< row.startIndex + bi * 210 + 210])
            if path == .tiled {
                var isum: Int32 = 0
                for i in 0..<256 { isum += w.sc[i / 16] * (w.q[i] - 32) * a.q[i] }
                acc = fma(Float(isum) * w.d, a.d, acc)
                continue
            }
            for l in 0..<8 {
                var lane: Int32 = 0
                for g in 0..<8 {
                    for k in 0..<4 {
                        let i = 32 * g + 16 * (l / 4) + 4 * (l % 4) + k
                        lane += w.sc[i / 16] * w.q[i] * a.q[i]
                    }
                }
                lane -= 32 * (w.sc[2 * l] * a.sums16[2 * l] + w.sc[2 * l + 1] * a.sums16[2 * l + 1])
                lanes[l] = fma(a.d * w.d, Float(lane), lanes[l])
            }
        }
        return path == .tiled ? acc : hsum8(lanes)
    }

    /// The orders every K-quant shares, from per-group integer sums: `dots[c]` = Σ q·a over value
    /// group c (of `group` values), `sums[c]` = Σ a over it.
    static func repackedOrTiled(_ path: Path, d: Float, dmin: Float, sc: [Int32], m: [Int32], dots: [Int32], sums: [Int32],
                                da: Float, gemmGroups: Int, acc: inout Float, accMin: inout Float) {
        func sum(_ range: Range<Int>) -> (Int32, Int32) {
            (range.reduce(0) { $0 + sc[$1] * dots[$1] }, range.reduce(0) { $0 + m[$1] * sums[$1] })
        }
        switch path {
        case .gemm:
            for start in stride(from: 0, to: sc.count, by: gemmGroups) {
                let (isum, msum) = sum(start ..< start + gemmGroups)
                acc = fma(Float(isum), d * da, acc)
                accMin = fma(Float(msum), dmin * da, accMin)
            }
        case .gemv:
            let (isum, msum) = sum(0 ..< sc.count)
            acc = fma(Float(isum), d * da, acc)
            accMin = fma(Float(msum), dmin * da, accMin)
        default:
            let (isum, msum) = sum(0 ..< sc.count)
            acc = fma(fma(-dmin, Float(msum), Float(isum) * d), da, acc)
        }
    }

    /// vec_dot's eight lanes: lane l holds, for every 32-value group g, scale × the products of
    /// values 32g + 16(l/4) + 4(l mod 4) … + 3.
    static func vecDotLanes(_ q: [Int32], _ a: [Int32], scale: (Int) -> Int32) -> [Int32] {
        (0..<8).map { l in
            (0..<8).reduce(Int32(0)) { lane, g in
                let first = 32 * g + 16 * (l / 4) + 4 * (l % 4)
                return lane + scale(first) * (first ..< first + 4).reduce(Int32(0)) { $0 + q[$1] * a[$1] }
            }
        }
    }

    static func q2_K(_ row: ArraySlice<UInt8>, _ act: [Activation], _ path: Path) -> Float {
        var acc: Float = 0, accMin: Float = 0
        var lanes = [Float](repeating: 0, count: 8)
        for (bi, a) in act.enumerated() {
            let w = decodeQ2_K(row[row.startIndex + bi * 84 ..< row.startIndex + bi * 84 + 84])
            if path == .vecDot {
                // vec_dot_q2_K_q8_K: the mins into the lanes first, then the scaled products.
                for l in 0..<8 { lanes[l] = fma(-a.d * w.dmin, Float(w.m[2 * l] * a.sums16[2 * l] + w.m[2 * l + 1] * a.sums16[2 * l + 1]), lanes[l]) }
                let l8 = vecDotLanes(w.q, a.q) { w.sc[$0 / 16] }
                for l in 0..<8 { lanes[l] = fma(a.d * w.d, Float(l8[l]), lanes[l]) }
                continue
            }
            let dots = (0..<16).map { c in (16 * c ..< 16 * c + 16).reduce(Int32(0)) { $0 + w.q[$1] * a.q[$1] } }
            repackedOrTiled(path, d: w.d, dmin: w.dmin, sc: w.sc, m: w.m, dots: dots, sums: a.sums16, da: a.d, gemmGroups: 8,
                            acc: &acc, accMin: &accMin)
        }
        return path == .vecDot ? hsum8(lanes) : acc - accMin
    }

    static func q3_K(_ row: ArraySlice<UInt8>, _ act: [Activation], _ path: Path) -> Float {
        var acc: Float = 0, accMin: Float = 0
        var lanes = [Float](repeating: 0, count: 8)
        for (bi, a) in act.enumerated() {
            let w = decodeQ3_K(row[row.startIndex + bi * 110 ..< row.startIndex + bi * 110 + 110])
            if path == .vecDot {
                // vec_dot_q3_K_q8_K: each value's −4 stays in its own lane.
                let l8 = vecDotLanes(w.q, a.q) { w.sc[$0 / 16] }
                for l in 0..<8 { lanes[l] = fma(a.d * w.d, Float(l8[l]), lanes[l]) }
                continue
            }
            let dots = (0..<16).map { c in (16 * c ..< 16 * c + 16).reduce(Int32(0)) { $0 + w.q[$1] * a.q[$1] } }
            repackedOrTiled(.tiled, d: w.d, dmin: 0, sc: w.sc, m: [Int32](repeating: 0, count: 16), dots: dots, sums: a.sums16, da: a.d,
                            gemmGroups: 16, acc: &acc, accMin: &accMin)
        }
        return path == .vecDot ? hsum8(lanes) : acc - accMin
    }

    static func q5_K(_ row: ArraySlice<UInt8>, _ act: [Activation], _ path: Path) -> Float {
        var acc: Float = 0, accMin: Float = 0, summs: Float = 0
        var lanes = [Float](repeating: 0, count: 8)
        for (bi, a) in act.enumerated() {
            let w = decodeQ5_K(row[row.startIndex + bi * 176 ..< row.startIndex + bi * 176 + 176])
            let sums = (0..<8).map { j in a.sums16[2 * j] + a.sums16[2 * j + 1] }
            if path == .vecDot {
                // vec_dot_q5_K_q8_K: the mins as one scalar per super-block.
                summs = fma(-a.d * w.dmin, Float((0..<8).reduce(Int32(0)) { $0 + w.m[$1] * sums[$1] }), summs)
                let l8 = vecDotLanes(w.q, a.q) { w.sc[$0 / 32] }
                for l in 0..<8 { lanes[l] = fma(a.d * w.d, Float(l8[l]), lanes[l]) }
                continue
            }
            let dots = (0..<8).map { j in (32 * j ..< 32 * j + 32).reduce(Int32(0)) { $0 + w.q[$1] * a.q[$1] } }
            repackedOrTiled(.tiled, d: w.d, dmin: w.dmin, sc: w.sc, m: w.m, dots: dots, sums: sums, da: a.d, gemmGroups: 8,
                            acc: &acc, accMin: &accMin)
        }
        return path == .vecDot ? hsum8(lanes) + summs : acc - accMin
    }

    @Test(arguments: [TensorType.q2_K, .q3_K, .q4_K, .q5_K, .q6_K], [48, 45])
    func kernelsAddInLlamaCppOrder(type: TensorType, rows: Int) {
        let columns = 768
        var rng = F.RNG(seed: 7 &+ UInt64(rows))
        let weights = F.randomBlocks(type, blocks: rows * columns / 256, rng: &rng)
        let rowBytes = columns / 256 * type.blockBytes
        for batch in [1, 3, 8, 11] {
            let x = MatrixMultiplyTests.activations(batch: batch, columns: columns, stride: columns, seed: UInt64(batch))
            let output = MatrixMultiplyTests.multiplied(type, weights: weights, rows: rows, columns: columns, x: x, batch: batch,
                                                        maxBatch: 6)   // 11 tokens: two passes
            for t in 0..<batch {
                let act = Self.quantize(Array(x[t * columns ..< (t + 1) * columns]))
                // Which kernel llama.cpp runs for this token (see Kernels/SummationOrder.swift).
                let path: Path
                if (type == .q4_K || type == .q2_K) && rows % 8 == 0 {
                    path = t < batch - batch % 4 ? .gemm : .gemv
                } else {
                    path = batch >= 8 ? .tiled : .vecDot
                }
                for r in 0..<rows {
                    let row = weights[r * rowBytes ..< (r + 1) * rowBytes]
                    let expected: Float
                    switch type {
                    case .q2_K: expected = Self.q2_K(row, act, path)
                    case .q3_K: expected = Self.q3_K(row, act, path)
                    case .q4_K: expected = Self.q4_K(row, act, path)
                    case .q5_K: expected = Self.q5_K(row, act, path)
                    default: expected = Self.q6_K(row, act, path)
                    }
                    #expect(output[t * rows + r].bitPattern == expected.bitPattern,
                            "\(type.name) \(rows) rows, batch \(batch), token \(t) (\(path)), row \(r): \(output[t * rows + r]) vs \(expected)")
                }
            }
        }
    }
}
