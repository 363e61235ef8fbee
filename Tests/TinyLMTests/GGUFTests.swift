import Foundation
import Testing
@testable import TinyLM

@Suite struct GGUFTests {
    /// Parses `bytes` and returns the tensor infos (the file itself views the buffer, so it
    /// must not outlive this call).
    private func parse(_ bytes: [UInt8]) throws(TinyLMError) -> [GGUFTensorInfo] {
        let outcome: Result<[GGUFTensorInfo], TinyLMError> = bytes.withUnsafeBytes { raw in
            do throws(TinyLMError) { return .success(try GGUFFile(bytes: raw).tensors) } catch { return .failure(error) }
        }
        return try outcome.get()
    }

    @Test func readsEveryValueTypeAndTensor() throws {
        let bytes = GGUFWriter.sample().bytes()
        try bytes.withUnsafeBytes { raw in
            let f = try GGUFFile(bytes: raw)
            #expect(f.version == 3)
            #expect(f.string("general.name") == "tiny ü")
            #expect(f.int("t.u8") == 200 && f.int("t.i8") == -5 && f.int("t.u16") == 60000 && f.int("t.i16") == -300)
            #expect(f.int("t.u32") == 4_000_000_000 && f.int("t.i32") == -70000)
            #expect(f.int("t.u64") == 1 << 40 && f.int("t.i64") == -(1 << 40))
            #expect(f.float("t.f32") == 1.5 && f.float("t.f64") == 2.25 && f.bool("t.bool") == true)
            #expect(f.array("t.strings")?.strings == ["a", "", "ĠHello"])
            #expect(f.array("t.floats")?.floats == [0.5, -1])
            let nested = f.array("t.nested")!.values
            #expect(nested.count == 2)
            #expect(nested[0].arrayValue?.ints == [1, 2])
            #expect(nested[1].arrayValue?.strings == ["x"])
            #expect(f.metadataKeys.first == "general.architecture")
            let a = try #require(f.tensorInfo(named: "a.weight"))
            #expect(a.shape == [4, 2] && a.type == .f32 && a.byteCount == 32)
            #expect(a.fileOffset == f.dataOffset && f.dataOffset % 32 == 0)
            #expect(f.tensorData(a).load(fromByteOffset: 5, as: UInt8.self) == 5)
            let b = try #require(f.tensorInfo(named: "b.weight"))
            #expect(b.type == .q8_0 && b.byteCount == 34 && b.fileOffset == f.dataOffset + 32)
        }
    }

    @Test func readsVersion2() throws {
        var w = GGUFWriter.sample()
        w.version = 2
        let bytes = w.bytes()
        try bytes.withUnsafeBytes { raw in
            let f = try GGUFFile(bytes: raw)
            #expect(f.version == 2 && f.tensors.count == 2)
        }
    }

    @Test func honoursAlignment() throws {
        var w = GGUFWriter.sample()
        w.alignment = 64
        w.metadata.append(("general.alignment", .u32(64)))
        let bytes = w.bytes()
        try bytes.withUnsafeBytes { raw in
            let f = try GGUFFile(bytes: raw)
            #expect(f.alignment == 64 && f.dataOffset % 64 == 0)
            #expect(f.tensorInfo(named: "b.weight")!.fileOffset == f.dataOffset + 64)
        }
    }

    private func expectError(_ bytes: [UInt8], kind: TinyLMError.Kind = .malformedModel, containing text: String) {
        do {
            _ = try parse(bytes)
            Issue.record("expected an error containing '\(text)'")
        } catch {
            #expect(error.kind == kind)
            #expect(error.message.contains(text), "message was: \(error.message)")
        }
    }

    @Test func specificErrorsSayWhatAndWhere() {
        let good = GGUFWriter.sample().bytes()
        expectError([], containing: "empty file")
        expectError(Array("GGML".utf8) + good.dropFirst(4), containing: "bad magic")
        var v1 = good; v1[4] = 1
        expectError(v1, kind: .unsupportedModel, containing: "version 1")
        expectError(Array(good.prefix(10)), containing: "truncated")
        expectError(Array(good.dropLast(40)), containing: "tensor 'b.weight' needs bytes")

        var badType = GGUFWriter.sample(); badType.tensors[0].type = .f32
        var bytes = badType.bytes()
        // Patch the first tensor's type id (u32 after its dims) to an unknown value.
        let name = Array("a.weight".utf8)
        let at = (0..<bytes.count - name.count).first { Array(bytes[$0..<$0 + name.count]) == name }! + name.count + 4 + 16
        bytes[at] = 77
        expectError(bytes, containing: "unknown tensor type id 77")

        var huge = good
        // Tensor count (u64 at offset 8) far larger than the file could hold.
        for i in 8..<16 { huge[i] = 0xFF }
        expectError(huge, containing: "tensor count")

        var misaligned = GGUFWriter.sample()
        misaligned.tensors[0].shape = [3, 2]  // 6 F32 values but 32 bytes of data: offsets stay aligned
        misaligned.tensors[1].shape = [31]     // not a multiple of the Q8_0 block
        expectError(misaligned.bytes(), containing: "not a multiple")
    }

    /// A header whose one metadata value is `value` (type tag + bytes), as raw bytes.
    private func header(key: String = "k", type: UInt32, value: [UInt8], metadataCount: UInt64 = 1) -> [UInt8] {
        var out = Array("GGUF".utf8)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(UInt32(3)); put(UInt64(0)); put(metadataCount)
        put(UInt64(key.utf8.count)); out += Array(key.utf8); put(type)
        return out + value + [UInt8](repeating: 0, count: 64)
    }

    @Test func hugeCountsAndLengthsFailBeforeAnyAllocation() {
        func u64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        // Arrays claiming 2^40 elements of every kind, and the largest counts there are.
        for (elementType, count) in [(UInt32(0), UInt64(1) << 40), (8, 1 << 40), (9, 1 << 40), (12, UInt64.max), (8, UInt64.max / 2)] {
            expectError(header(type: 9, value: u32(elementType) + u64(count)), containing: "array length")
        }
        // Strings claiming 2^63 and 2^64 - 1 bytes, as a value and as a key.
        expectError(header(type: 8, value: u64(1 << 63)), containing: "string value")
        expectError(header(type: 8, value: u64(.max)), containing: "string value")
        var key = header(type: 4, value: u32(1))
        for i in 24..<32 { key[i] = 0xFF }
        expectError(key, containing: "metadata key")
        expectError(header(type: 4, value: u32(1), metadataCount: 1 << 40), containing: "metadata count")
        // Nested arrays each claiming 2^40 elements.
        expectError(header(type: 9, value: u32(9) + u64(1) + u32(9) + u64(1 << 40)), containing: "array length")
    }

    @Test func keysAndTensorNamesHaveTheirLimits() throws {
        // A 70 000-byte key fits in the file, but GGUF keys are at most 65 535 bytes: a corrupt
        // length must not turn the rest of the file into a key (and an error message).
        var longKey = GGUFWriter.sample()
        longKey.metadata.append((String(repeating: "k", count: 70_000), .u8(1)))
        expectError(longKey.bytes(), containing: "more than the limit 65535")
        var longName = GGUFWriter.sample()
        longName.tensors[0].name = String(repeating: "n", count: 64)
        expectError(longName.bytes(), containing: "more than the limit 63")
        longName.tensors[0].name = String(repeating: "n", count: 63)
        _ = try parse(longName.bytes())
        // Messages are bounded whatever they quote.
        let error = TinyLMError.malformed("bad key '" + String(repeating: "x", count: 100_000) + "'")
        #expect(error.message.utf8.count <= TinyLMError.maximumMessageBytes + 3)
    }

    @Test func missingRequiredMetadataIsNamed() throws {
        var w = GGUFWriter.sample()
        w.metadata.removeAll { $0.0 == "general.architecture" }
        let bytes = w.bytes()
        try bytes.withUnsafeBytes { raw in
            let f = try GGUFFile(bytes: raw)
            #expect(throws: TinyLMError.malformed("missing required metadata 'general.architecture'")) {
                _ = try ModelConfig(gguf: f)
            }
        }
    }

    @Test func unsupportedArchitectureIsNamed() throws {
        var w = GGUFWriter.sample()
        w.metadata[0] = ("general.architecture", .string("mamba"))
        let bytes = w.bytes()
        try bytes.withUnsafeBytes { raw in
            let f = try GGUFFile(bytes: raw)
            do {
                _ = try ModelConfig(gguf: f)
                Issue.record("expected an error")
            } catch let error as TinyLMError {
                #expect(error.kind == .unsupportedModel && error.message.contains("'mamba'"))
                #expect(error.message.contains("llama, qwen2, qwen3, phi3, gemma3"))
            }
        }
    }

    /// A negative sliding window once loaded natively as "no window" while wasm32 (where most
    /// such values do not fit an Int) refused the file: both must refuse it.
    @Test func negativeSlidingWindowIsMalformed() throws {
        for window: GGUFWriter.Value in [.i32(-1), .i64(.min)] {
            var w = GGUFWriter()
            w.metadata = [
                ("general.architecture", .string("gemma3")), ("gemma3.embedding_length", .u32(64)),
                ("gemma3.block_count", .u32(2)), ("gemma3.attention.head_count", .u32(4)),
                ("gemma3.attention.head_count_kv", .u32(2)), ("gemma3.feed_forward_length", .u32(128)),
                ("gemma3.context_length", .u32(256)), ("gemma3.vocab_size", .u32(300)),
                ("gemma3.attention.sliding_window", window),
            ]
            let bytes = w.bytes()
            try bytes.withUnsafeBytes { raw in
                let f = try GGUFFile(bytes: raw)
                do {
                    _ = try ModelConfig(gguf: f)
                    Issue.record("a negative sliding window was accepted")
                } catch let error as TinyLMError {
                    #expect(error.kind == .malformedModel && error.message.contains("sliding_window"), "message was: \(error.message)")
                }
            }
        }
    }

    /// Every truncation of a valid file, and thousands of random corruptions, must come back as
    /// an error value or a successfully parsed file — never a trap, crash or hang.
    @Test func truncatedAndMutatedFilesNeverCrash() throws {
        let good = GGUFWriter.sample().bytes()
        var errors = 0
        for length in 0..<good.count {
            do { _ = try parse(Array(good.prefix(length))) } catch { errors += 1; #expect(!error.message.isEmpty) }
        }
        // Truncation inside the header or tensor data must always be detected.
        #expect(errors >= good.count - 32)

        var random = SeededRandom(seed: 7)
        var outcomes = (ok: 0, failed: 0)
        for _ in 0..<5000 {
            var bytes = good
            let edits = 1 + Int(random.next() % 4)
            for _ in 0..<edits {
                let at = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes[at] ^= 1 << UInt8(random.next() % 8)
                default: bytes[at] = [0x00, 0xFF, 0x7F, 0x80][Int(random.next() % 4)]
                }
            }
            do {
                let tensors = try parse(bytes)
                // Whatever parsed must be internally consistent.
                for t in tensors { #expect(t.fileOffset + t.byteCount <= bytes.count) }
                outcomes.ok += 1
            } catch {
                #expect(!error.message.isEmpty)
                outcomes.failed += 1
            }
        }
        #expect(outcomes.failed > 1000)
    }

    @Test func realModelsParse() throws {
        let smol = try TestSupport.smolLM2()
        #expect(smol.gguf.version == 3)
        #expect(smol.config.architecture == .llama)
        #expect(smol.config.layerCount == 30 && smol.config.embeddingLength == 576)
        #expect(smol.config.headCount == 9 && smol.config.kvHeadCount == 3 && smol.config.keyLength == 64)
        #expect(smol.config.vocabularySize == 49152)
        #expect(smol.gguf.tensors.count == 272)
        #expect(smol.gguf.tensorInfo(named: "blk.0.ffn_down.weight")?.type == .q4_1)

        let gemma = try TestSupport.gemma3()
        #expect(gemma.config.architecture == .gemma3)
        #expect(gemma.config.keyLength == 256 && gemma.config.kvHeadCount == 1 && gemma.config.slidingWindow == 512)
        #expect(gemma.config.vocabularySize == 262144)
        #expect((0..<18).filter { !gemma.config.usesSlidingWindow(layer: $0) } == [5, 11, 17])
    }

    /// Truncating the real model anywhere must give a typed error, never a crash.
    @Test func truncatedRealModelIsAnError() throws {
        let smol = try TestSupport.smolLM2()
        let bytes = smol.gguf.bytes
        for fraction in [0.0001, 0.001, 0.01, 0.3, 0.999] {
            let cut = UnsafeRawBufferPointer(rebasing: bytes[0..<Int(Double(bytes.count) * fraction)])
            #expect(throws: TinyLMError.self) { _ = try Model(bytes: cut) }
        }
    }
}
