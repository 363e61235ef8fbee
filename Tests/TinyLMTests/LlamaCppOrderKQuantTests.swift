import Foundation
import Testing
import TinyLM

/// The Q4_K and Q6_K kernels add in llama.cpp's x86 order (LlamaCppOrderKQuants.swift). This
/// restates each of llama.cpp's orders as plain scalar loops over the decoded integers and
/// checks MatrixMultiply against them bit for bit, for the batch sizes that select each kernel:
/// a single token, fewer than eight, a batch with a tail of n mod 4 tokens, and rows that are or
/// are not a multiple of 8 (Q4_K is repacked only then).
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

    @Test(arguments: [TensorType.q4_K, .q6_K], [48, 45])
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
                // Which kernel llama.cpp runs for this token (see LlamaCppOrderKQuants.swift).
                let path: Path
                if type == .q4_K && rows % 8 == 0 {
                    path = t < batch - batch % 4 ? .gemm : .gemv
                } else {
                    path = batch >= 8 ? .tiled : .vecDot
                }
                for r in 0..<rows {
                    let row = weights[r * rowBytes ..< (r + 1) * rowBytes]
                    let expected = type == .q4_K ? Self.q4_K(row, act, path) : Self.q6_K(row, act, path)
                    #expect(output[t * rows + r].bitPattern == expected.bitPattern,
                            "\(type.name) \(rows) rows, batch \(batch), token \(t) (\(path)), row \(r): \(output[t * rows + r]) vs \(expected)")
                }
            }
        }
    }
}
