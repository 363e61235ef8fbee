import Foundation
import Testing
import TinyLM
import TinyLMHost

// Dequantization of every block format against the `gguf` Python package's numpy reference
// (random blocks and real model tensors), and the activation quantizers against ggml's
// reference rounding rules. python3 with `gguf` must be installed: the tests fail (not skip)
// when it is missing.

/// Helpers shared by QuantFormatTests and MatrixMultiplyTests.
enum KernelFixtures {
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let modelsDirectory = repoRoot.appendingPathComponent("models")

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// A small deterministic generator (SplitMix64).
    struct RNG {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
        /// Uniform in [lo, hi).
        mutating func float(_ lo: Float, _ hi: Float) -> Float {
            lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
        }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    /// The formats with block layouts under test, with gguf-py's name for each.
    static let blockFormats: [TensorType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0,
                                             .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// Byte offsets of the f16 fields inside one block.
    static func f16Offsets(_ type: TensorType) -> [Int] {
        switch type {
        case .q4_0, .q5_0, .q8_0: return [0]
        case .q4_1, .q5_1, .q4_K, .q5_K: return [0, 2]
        case .q2_K: return [80, 82]
        case .q3_K: return [108]
        case .q6_K: return [208]
        default: return []
        }
    }

    /// A random f16 scale: mostly moderate magnitudes, sometimes tiny (subnormal) or zero.
    static func randomScale(_ rng: inout RNG) -> UInt16 {
        switch rng.int(20) {
        case 0: return 0
        case 1: return UInt16(1 + rng.int(1023)) | (rng.int(2) == 0 ? 0 : 0x8000)   // subnormal
        default:
            let magnitude = rng.float(0.0005, 0.05)
            return FP16.fromFloat(rng.int(4) == 0 ? -magnitude : magnitude)
        }
    }

    /// `blocks` random blocks of `type` with finite, valid scales.
    static func randomBlocks(_ type: TensorType, blocks: Int, rng: inout RNG) -> [UInt8] {
        var bytes = (0..<blocks * type.blockBytes).map { _ in rng.byte() }
        switch type {
        case .f32:
            for i in 0..<blocks {
                let v = rng.float(-2, 2)
                withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.replaceSubrange(i * 4 ..< i * 4 + 4, with: $0) }
            }
        case .f16:
            for i in 0..<blocks where bytes[i * 2 + 1] & 0x7C == 0x7C { bytes[i * 2 + 1] &= 0xBF }   // no inf/NaN
        case .bf16:
            for i in 0..<blocks where bytes[i * 2 + 1] & 0x7F == 0x7F && bytes[i * 2] & 0x80 != 0 { bytes[i * 2 + 1] &= 0xBF }
        default:
            for b in 0..<blocks {
                for offset in f16Offsets(type) {
                    let s = randomScale(&rng)
                    bytes[b * type.blockBytes + offset] = UInt8(s & 0xFF)
                    bytes[b * type.blockBytes + offset + 1] = UInt8(s >> 8)
                }
            }
        }
        return bytes
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tinylm-kernels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs a Python script with python3; fails with a clear message when python3 or the gguf
    /// package is missing.
    static func runPython(_ script: String, arguments: [String] = []) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch {
            throw Failure(description: "cannot run python3 (\(error)); install Python 3 and `pip install gguf numpy`")
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderr = String(decoding: errData, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            if stderr.contains("No module named") {
                throw Failure(description: "python3 lacks the gguf package (`pip install gguf numpy`): \(stderr)")
            }
            throw Failure(description: "python3 failed (status \(process.terminationStatus)): \(stderr)")
        }
        return String(decoding: outData, as: UTF8.self)
    }

    static func readFloats(_ url: URL) throws -> [Float] {
        let data = try Data(contentsOf: url)
        return data.withUnsafeBytes { raw in
            (0..<data.count / 4).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) }
        }
    }

    static func modelPath(_ name: String) throws -> String {
        let path = modelsDirectory.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failure(description: "missing model \(path): run scripts/fetch-models.sh all")
        }
        return path
    }

    /// Our dequantization of `bytes` (whole blocks of `type`).
    static func dequantize(_ type: TensorType, _ bytes: [UInt8]) -> [Float] {
        let count = bytes.count / type.blockBytes * type.blockElements
        var out = [Float](repeating: .nan, count: count)
        bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { MatrixMultiply.dequantize(type, raw.baseAddress!, count: count, into: $0.baseAddress!) }
        }
        return out
    }

    /// Same value, or both NaN, or within `relative` of the block's largest magnitude.
    static func close(_ a: Float, _ b: Float, scale: Float, relative: Float = 1e-6) -> Bool {
        if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
        return a == b || abs(a - b) <= relative * max(scale, Float.leastNormalMagnitude)
    }
}

@Suite struct QuantFormatTests {
    typealias F = KernelFixtures

    @Test func dequantizeRandomBlocksMatchesGGUFPy() throws {
        var rng = F.RNG(seed: 0x5EED_0001)
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var jobs: [String] = []
        var inputs: [TensorType: [UInt8]] = [:]
        for type in F.blockFormats {
            let blocks = type.blockElements == 1 ? 4096 : (type.blockElements == 32 ? 512 : 64)
            let bytes = F.randomBlocks(type, blocks: blocks, rng: &rng)
            inputs[type] = bytes
            let input = dir.appendingPathComponent("\(type.name).bin")
            try Data(bytes).write(to: input)
            jobs.append("\(type.name) \(input.path) \(dir.appendingPathComponent("\(type.name).out").path)")
        }
        let script = """
        import sys, numpy as np
        from gguf.quants import dequantize
        from gguf import GGMLQuantizationType as T
        for job in sys.argv[1:]:
            name, src, dst = job.split(' ')
            raw = np.fromfile(src, dtype=np.uint8)
            t = T[name]
            if t == T.F32: arr = raw.view(np.float32)
            elif t == T.F16: arr = raw.view(np.float16)
            else: arr = raw
            dequantize(arr, t).astype(np.float32).tofile(dst)
        """
        _ = try F.runPython(script, arguments: jobs)
        for type in F.blockFormats {
            let expected = try F.readFloats(dir.appendingPathComponent("\(type.name).out"))
            let ours = F.dequantize(type, inputs[type]!)
            #expect(expected.count == ours.count, "\(type.name): count")
            guard expected.count == ours.count else { continue }
            var mismatches = 0
            let blockElements = max(type.blockElements, 32)
            for start in stride(from: 0, to: ours.count, by: blockElements) {
                let range = start ..< min(start + blockElements, ours.count)
                let scale = range.map { abs(expected[$0]) }.max() ?? 0
                for i in range where !F.close(ours[i], expected[i], scale: scale) {
                    if mismatches < 5 { Issue.record("\(type.name)[\(i)]: ours \(ours[i]) gguf \(expected[i])") }
                    mismatches += 1
                }
            }
            #expect(mismatches == 0, "\(type.name): \(mismatches) mismatches")
        }
    }

    /// A few rows of real tensors of every type in the two model files against gguf's reader.
    @Test(arguments: ["SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf"])
    func dequantizeRealTensorsMatchesGGUFPy(model: String) throws {
        let path = try F.modelPath(model)
        let file = try MappedFile(path: path)
        let gguf = try GGUFFile(bytes: file.bytes)
        // Up to two tensors per type (the first and the last), four rows each.
        var chosen: [(GGUFTensorInfo, [Int])] = []
        var byType: [TensorType: [GGUFTensorInfo]] = [:]
        for info in gguf.tensors { byType[info.type, default: []].append(info) }
        for (_, infos) in byType.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            for info in Set([0, infos.count - 1]).sorted().map({ infos[$0] }) {
                let rows = info.shape.count > 1 ? info.shape[1...].reduce(1, *) : 1
                chosen.append((info, Array(Set([0, 1 % rows, rows / 2, rows - 1])).sorted()))
            }
        }
        let types = Set(chosen.map { $0.0.type })
        #expect(types.isSubset(of: Set(F.blockFormats)))
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let jobs = chosen.enumerated().map { i, c in "\(c.0.name)|\(c.1.map(String.init).joined(separator: ","))|\(dir.appendingPathComponent("\(i).out").path)" }
        let script = """
        import sys, numpy as np
        from gguf import GGUFReader
        from gguf.quants import dequantize
        r = GGUFReader(sys.argv[1])
        tensors = {t.name: t for t in r.tensors}
        for job in sys.argv[2:]:
            name, rows, dst = job.split('|')
            t = tensors[name]
            data = t.data.reshape(-1, t.data.shape[-1]) if t.data.ndim > 1 else t.data.reshape(1, -1)
            rows = [int(x) for x in rows.split(',')]
            out = np.concatenate([dequantize(np.ascontiguousarray(data[r]), t.tensor_type).reshape(-1).astype(np.float32) for r in rows])
            out.tofile(dst)
        """
        _ = try F.runPython(script, arguments: [path] + jobs)
        for (i, (info, rows)) in chosen.enumerated() {
            let expected = try F.readFloats(dir.appendingPathComponent("\(i).out"))
            let columns = info.shape[0]
            let weight = WeightMatrix(name: info.name, type: info.type, rows: info.shape.count > 1 ? info.shape[1...].reduce(1, *) : 1,
                                      columns: columns, data: gguf.tensorData(info))
            #expect(expected.count == rows.count * columns, "\(info.name): count")
            guard expected.count == rows.count * columns else { continue }
            var ours = [Float](repeating: .nan, count: columns)
            var mismatches = 0
            for (k, row) in rows.enumerated() {
                ours.withUnsafeMutableBufferPointer { MatrixMultiply.dequantizeRow(weight, row: row, into: $0.baseAddress!) }
                let reference = Array(expected[k * columns ..< (k + 1) * columns])
                let scale = reference.map(abs).max() ?? 0
                for c in 0..<columns where !F.close(ours[c], reference[c], scale: scale) {
                    if mismatches < 3 { Issue.record("\(info.name) (\(info.type.name)) row \(row) col \(c): ours \(ours[c]) gguf \(reference[c])") }
                    mismatches += 1
                }
            }
            #expect(mismatches == 0, "\(info.name) \(info.type.name): \(mismatches) mismatches")
        }
        print("checked \(chosen.count) tensors of types \(types.map(\.name).sorted()) in \(model)")
    }

    // MARK: Activation quantization

    /// Activations with exact rounding ties (x·id = k + 0.5) and ordinary values.
    static func activationSamples(count: Int, seed: UInt64) -> [Float] {
        var rng = F.RNG(seed: seed)
        var x = (0..<count).map { _ in rng.float(-3, 3) }
        // First block: amax 127 so d = 1 (Q8_0) / iscale = ∓1 (Q8_K): ties at k + 0.5.
        x[0] = 127
        for i in 1..<32 { x[i] = Float(i % 9) - 4.5 }
        // A block of zeros.
        for i in 32..<64 { x[i] = 0 }
        // Q8_K block 1 (256..<512) with a negative max and ties.
        if count >= 512 {
            x[256] = -127
            for i in 257..<300 { x[i] = Float(i % 7) - 3.5 }
        }
        return x
    }

    /// Against numpy doing what llama.cpp's x86 quantize_row_q8_0 does (float32 throughout:
    /// d = amax/127, id = 127/amax, quants rounded to nearest even, f16(d)). gguf-py's
    /// `quantize` follows quantize_row_q8_0_ref instead (1/d, ties away from zero).
    @Test func q8_0MatchesGGUFPyQuantize() throws {
        let x = Self.activationSamples(count: 1024, seed: 7)
        var ours = [UInt8](repeating: 0, count: 1024 / 32 * 34)
        x.withUnsafeBufferPointer { xp in ours.withUnsafeMutableBytes { Q8_0.quantizeRow(xp.baseAddress!, count: 1024, into: $0.baseAddress!) } }
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("x.f32"), output = dir.appendingPathComponent("q.bin")
        try x.withUnsafeBytes { try Data($0).write(to: input) }
        _ = try F.runPython("""
        import sys, numpy as np
        x = np.fromfile(sys.argv[1], dtype=np.float32).reshape(-1, 32)
        amax = np.abs(x).max(axis=1, keepdims=True)
        d = (amax / np.float32(127)).astype(np.float32)
        with np.errstate(divide="ignore"):
            id = np.where(amax != 0, np.float32(127) / amax, np.float32(0)).astype(np.float32)
        q = np.rint((x * id).astype(np.float32)).astype(np.int8)
        out = np.concatenate([d.astype(np.float16).view(np.uint8), q.view(np.uint8)], axis=1)
        out.tofile(sys.argv[2])
        """, arguments: [input.path, output.path])
        let expected = [UInt8](try Data(contentsOf: output))
        #expect(expected == ours)
    }

    /// What llama.cpp's x86 SIMD quantize_row_q8_0 / q8_1 compute (not the _ref C code):
    /// id = 127/amax and quants rounded to nearest even (_mm256_round_ps).
    static func referenceQ8_1(_ x: [Float]) -> (d: [UInt16], s: [UInt16], q: [Int8]) {
        var d: [UInt16] = [], s: [UInt16] = [], q: [Int8] = []
        for b in 0..<x.count / 32 {
            let block = x[b * 32 ..< b * 32 + 32]
            let amax = block.map { fabsf($0) }.max()!
            let scale = amax / 127
            let id: Float = amax != 0 ? 127 / amax : 0
            var sum = 0
            for v in block {
                let r = Int8((v * id).rounded(.toNearestOrEven))
                q.append(r)
                sum += Int(r)
            }
            d.append(FP16.fromFloat(scale))
            s.append(FP16.fromFloat(Float(sum) * scale))
        }
        return (d, s, q)
    }

    /// ggml's quantize_row_q8_K_ref, transcribed.
    static func referenceQ8_K(_ x: [Float]) -> (d: [Float], q: [Int8], bsums: [Int16]) {
        var d: [Float] = [], q: [Int8] = [], bsums: [Int16] = []
        for b in 0..<x.count / 256 {
            let block = Array(x[b * 256 ..< b * 256 + 256])
            var amax: Float = 0, maxValue: Float = 0
            for v in block where fabsf(v) > amax { amax = fabsf(v); maxValue = v }
            if amax == 0 {
                d.append(0); q += [Int8](repeating: 0, count: 256); bsums += [Int16](repeating: 0, count: 16)
                continue
            }
            let iscale = -127 / maxValue
            let qs = block.map { Int8(min(127, Int((iscale * $0).rounded(.toNearestOrEven)))) }
            q += qs
            for j in 0..<16 { bsums.append(Int16(qs[j * 16 ..< j * 16 + 16].reduce(0) { $0 + Int($1) })) }
            d.append(1 / iscale)
        }
        return (d, q, bsums)
    }

    @Test func q8_1MatchesReference() {
        let x = Self.activationSamples(count: 1024, seed: 11)
        let reference = Self.referenceQ8_1(x)
        var blocks = [UInt8](repeating: 0, count: 1024 / 32 * 36)
        x.withUnsafeBufferPointer { xp in blocks.withUnsafeMutableBytes { Q8_1.quantizeRow(xp.baseAddress!, count: 1024, into: $0.baseAddress!) } }
        for b in 0..<32 {
            let base = b * 36
            #expect(UInt16(blocks[base]) | UInt16(blocks[base + 1]) << 8 == reference.d[b], "d of block \(b)")
            #expect(UInt16(blocks[base + 2]) | UInt16(blocks[base + 3]) << 8 == reference.s[b], "s of block \(b)")
            for i in 0..<32 { #expect(Int8(bitPattern: blocks[base + 4 + i]) == reference.q[b * 32 + i], "q[\(b * 32 + i)]") }
        }
        // Ties go to even: x = k + 0.5 with d = 1.
        #expect(reference.q[1] == Int8(x[1].rounded(.toNearestOrEven)))
    }

    @Test func q8_KMatchesReference() {
        let x = Self.activationSamples(count: 1024, seed: 13)
        let reference = Self.referenceQ8_K(x)
        var blocks = [UInt8](repeating: 0, count: 4 * 292)
        x.withUnsafeBufferPointer { xp in blocks.withUnsafeMutableBytes { Q8_K.quantizeRow(xp.baseAddress!, count: 1024, into: $0.baseAddress!) } }
        blocks.withUnsafeBytes { raw in
            for b in 0..<4 {
                let base = b * 292
                #expect(raw.loadUnaligned(fromByteOffset: base, as: Float.self) == reference.d[b], "d of block \(b)")
                for i in 0..<256 { #expect(Int8(bitPattern: raw[base + 4 + i]) == reference.q[b * 256 + i]) }
                for j in 0..<16 { #expect(raw.loadUnaligned(fromByteOffset: base + 260 + 2 * j, as: Int16.self) == reference.bsums[b * 16 + j]) }
            }
        }
        // The sign convention: d = 1/(−127/max) is negative when the largest-|x| value is positive.
        #expect(reference.d[0] < 0 && reference.d[1] > 0)
    }

    /// The activation planes the kernels read hold exactly the block values.
    @Test func activationPlanesMatchBlocks() {
        let n = 512
        let x = Self.activationSamples(count: n, seed: 17)
        let r1 = Self.referenceQ8_1(x)
        let rK = Self.referenceQ8_K(x)
        var q8 = [Int8](repeating: 0, count: n), q = [Int16](repeating: 0, count: n)
        var d = [Float](repeating: 0, count: n / 16), s = [Float](repeating: 0, count: n / 16)
        var bsums = [Int32](repeating: 0, count: n / 16)
        /// Plane index of element i.
        func plane(_ i: Int) -> Int { i / 16 * 16 + (i % 2) * 8 + (i % 16) / 2 }
        x.withUnsafeBufferPointer { xp in
            Q8_1.quantizeActivations(xp.baseAddress!, count: n, q8: &q8, q: &q, d: &d, s: &s)
        }
        for i in 0..<n { #expect(q[plane(i)] == Int16(r1.q[i])) }
        for b in 0..<n / 32 {
            #expect(d[b] == FP16.toFloat(r1.d[b]))
            #expect(s[b] == FP16.toFloat(r1.s[b]))
        }
        x.withUnsafeBufferPointer { xp in
            Q8_K.quantizeActivations(xp.baseAddress!, count: n, q8: &q8, q: &q, d: &d, bsums: &bsums)
        }
        for i in 0..<n { #expect(q[plane(i)] == Int16(rK.q[i])) }
        for b in 0..<n / 256 { #expect(d[b] == rK.d[b]) }
        for j in 0..<n / 16 { #expect(bsums[j] == Int32(rK.bsums[j])) }
    }

    @Test func halfConversionsAreExact() {
        // Every f16 bit pattern round-trips through f32 (NaNs stay NaN).
        for bits in 0...UInt16.max {
            let f = FP16.toFloat(bits)
            let native = Float(Float16(bitPattern: bits))
            if native.isNaN {
                #expect(f.isNaN)
            } else {
                #expect(f.bitPattern == native.bitPattern, "f16 \(bits)")
                #expect(FP16.fromFloat(f) == bits)
            }
        }
        // f32 -> f16 rounding matches the hardware conversion on random and edge values.
        var rng = F.RNG(seed: 99)
        for _ in 0..<200_000 {
            let f = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
            if f.isNaN { continue }
            #expect(FP16.fromFloat(f) == Float16(f).bitPattern, "f32 \(f)")
        }
        for f: Float in [65504, 65520, 65519.99, 1e-8, 2.98e-8, 5.96e-8, -0.0, .infinity, -.infinity, 6.1035e-5] {
            #expect(FP16.fromFloat(f) == Float16(f).bitPattern, "f32 \(f)")
        }
        // The four-lane roundings (attention's accumulators) equal the scalar one everywhere:
        // random bit patterns, every f16 value and its neighbours, and the range edges.
        func expectRound4(_ values: SIMD4<Float>) {
            let r = FP16.round4(values), added = FP16.round4ByAddition(values)
            for lane in 0..<4 {
                let expected = FP16.round(values[lane])
                if expected.isNaN { #expect(r[lane].isNaN && added[lane].isNaN) } else {
                    #expect(r[lane].bitPattern == expected.bitPattern, "round4 \(values[lane])")
                    #expect(added[lane].bitPattern == expected.bitPattern, "round4ByAddition \(values[lane])")
                }
            }
        }
        for _ in 0..<100_000 {
            expectRound4(SIMD4((0..<4).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }))
        }
        for bits in stride(from: 0, through: Int(UInt16.max), by: 1) {
            let f = FP16.toFloat(UInt16(bits))
            expectRound4(SIMD4(f, f.nextUp, f.nextDown, (f + f.nextUp) / 2))
        }
        expectRound4(SIMD4(65504, 65520, 65519.99, 65536))
        expectRound4(SIMD4(.infinity, -.infinity, .nan, -0.0))
        expectRound4(SIMD4(0x1p-14, Float(0x1p-14).nextDown, 0x1p-25, 0x1.8p-25))
        // Eight-lane f32 → f16 (the KV cache's row write) equals the scalar conversion, NaNs
        // and their signs included: random bit patterns, every f16 value with its neighbours and
        // the midpoint to the next, and the edges of each range.
        func expectFromFloat8(_ values: SIMD8<Float>) {
            let h = FP16.fromFloat8(values)
            for lane in 0..<8 {
                #expect(h[lane] == FP16.fromFloat(values[lane]), "fromFloat8 \(values[lane].bitPattern)")
            }
        }
        for _ in 0..<100_000 {
            expectFromFloat8(SIMD8((0..<8).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }))
        }
        for bits in 0...Int(UInt16.max) {
            let f = FP16.toFloat(UInt16(bits)), next = FP16.toFloat(UInt16((bits + 1) & 0xFFFF))
            expectFromFloat8(SIMD8(f, f.nextUp, f.nextDown, (f + next) / 2, ((f + next) / 2).nextUp, ((f + next) / 2).nextDown, -f, f * 0x1p-13))
        }
        expectFromFloat8(SIMD8(65504, 65520, 65519.99, 65536, .infinity, -.infinity, .greatestFiniteMagnitude, -0x1p115))
        expectFromFloat8(SIMD8(.nan, -.nan, Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFFFF_FFFF),
                               Float(bitPattern: 0x7FBF_FFFF), .signalingNaN, 0x1.fffffep115, 0x1p116))
        expectFromFloat8(SIMD8(0, -0.0, 0x1p-14, Float(0x1p-14).nextDown, 0x1p-25, 0x1.8p-25, Float(0x1p-25).nextUp, .leastNonzeroMagnitude))
        expectFromFloat8(SIMD8(0x1p-24, 0x1.8p-24, 0x1.4p-24, 0x1p-149, -0x1p-126, 0x1.ffcp-15, 0x1.ffep-15, -0x1.ffdp-15))
        // A row of any length: whole eights and the scalar tail.
        let row: [Float] = (0..<29).map { Float($0) * 1.37 - 17 }
        var halves = [UInt16](repeating: 0, count: 29)
        row.withUnsafeBufferPointer { FP16.fromFloatRow($0.baseAddress!, count: 29, into: &halves) }
        #expect(halves == row.map { FP16.fromFloat($0) })
        // Eight-lane f16 → f32 equals the scalar conversion.
        for start in stride(from: 0, to: 65536, by: 8) {
            let h = SIMD8<UInt16>((0..<8).map { UInt16(start + $0) })
            let f = FP16.toFloat8(h)
            for lane in 0..<8 where !f[lane].isNaN { #expect(f[lane].bitPattern == FP16.toFloat(h[lane]).bitPattern) }
        }
        // bf16: round to nearest even, like ggml.
        #expect(BF16.fromFloat(Float(bitPattern: 0x3F80_8000)) == 0x3F80)
        #expect(BF16.fromFloat(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
        #expect(BF16.fromFloat(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(BF16.toFloat(0x3F80) == 1)
    }
}
