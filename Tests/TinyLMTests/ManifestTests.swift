import Foundation
import Testing
@testable import TinyLM

@Suite struct SHA256Tests {
    @Test func knownAnswers() {
        // FIPS 180-4 examples and the NIST one-million-'a' vector.
        #expect(SHA256.hash([UInt8]()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hash(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hex
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)).hex
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func incrementalUpdatesEqualOneShot() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<5000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let expected = SHA256.hash(bytes)
        for split in [0, 1, 55, 56, 63, 64, 65, 127, 128, 4999] {
            var hasher = SHA256()
            hasher.update(Array(bytes[..<split]))
            hasher.update(Array(bytes[split...]))
            #expect(hasher.finalize() == expected, "split at \(split)")
        }
        var bytewise = SHA256()
        for byte in bytes.prefix(300) { bytewise.update([byte]) }
        #expect(bytewise.finalize() == SHA256.hash(Array(bytes.prefix(300))))
    }
}

@Suite struct FileManifestTests {
    private func describe(_ bytes: [UInt8], chunkSize: Int = 64, version: String = "1") throws -> FileManifest {
        try bytes.withUnsafeBytes { try FileManifest(name: "file.bin", version: version, describing: $0, chunkSize: chunkSize) }
    }

    private func expectInvalid(_ text: String, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try FileManifest(parsing: Array(text.utf8))
            Issue.record("accepted: \(text.prefix(120))", sourceLocation: sourceLocation)
        } catch {
            #expect(error.kind == .invalidManifest, sourceLocation: sourceLocation)
            #expect(error.message.contains(fragment), "message was: \(error.message)", sourceLocation: sourceLocation)
        }
    }

    @Test func describesChunksAndRoundTrips() throws {
        let bytes = (0..<200).map { UInt8($0) }
        let manifest = try describe(bytes)
        #expect(manifest.size == 200 && manifest.chunks.count == 4)
        #expect(manifest.sha256 == SHA256.hash(bytes))
        #expect(manifest.chunks[3] == SHA256.hash(Array(bytes[192...])))
        let reread = try FileManifest(parsing: Array(manifest.fileText.utf8))
        #expect(reread.canonicalBytes == manifest.canonicalBytes)
        try bytes.withUnsafeBytes { try reread.verify($0) }
        // Without a version, the content names it.
        let unversioned = try bytes.withUnsafeBytes { try FileManifest(name: "file.bin", version: nil, describing: $0) }
        #expect(unversioned.version == String(SHA256.hash(bytes).hex.prefix(16)) && unversioned.chunks.count == 1)
        // The canonical form, spelled out: sorted keys, no whitespace.
        let canonical = String(decoding: manifest.canonicalBytes, as: UTF8.self)
        #expect(canonical.hasPrefix("{\"chunkSize\":64,\"chunks\":[\"\(manifest.chunks[0].hex)\","))
        #expect(canonical.hasSuffix("\"format\":\"tinylm-manifest\",\"formatVersion\":1,\"name\":\"file.bin\",\"sha256\":\"\(manifest.sha256.hex)\",\"size\":200,\"version\":\"1\"}"))
    }

    @Test func emptyFileHasNoChunks() throws {
        let manifest = try describe([])
        #expect(manifest.chunks.isEmpty && manifest.size == 0)
        #expect(manifest.sha256.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        try [UInt8]().withUnsafeBytes { try manifest.verify($0) }
    }

    /// The error `verify` reports for `bytes`, nil when they pass.
    private func verifyError(_ manifest: FileManifest, _ bytes: [UInt8]) -> TinyLMError? {
        bytes.withUnsafeBytes { raw -> TinyLMError? in
            do throws(TinyLMError) { try manifest.verify(raw); return nil } catch { return error }
        }
    }

    @Test func verifyNamesTheBadChunk() throws {
        var bytes = (0..<200).map { UInt8($0) }
        let manifest = try describe(bytes)
        #expect(verifyError(manifest, bytes) == nil)
        bytes[130] ^= 1
        let changed = try #require(verifyError(manifest, bytes))
        #expect(changed.kind == .integrity && changed.message.contains("chunk 2 "), "\(changed.message)")
        let truncated = try #require(verifyError(manifest, Array(bytes.dropLast())))
        #expect(truncated.kind == .integrity && truncated.message.contains("199 bytes"), "\(truncated.message)")
    }

    @Test func canonicalFormIgnoresLayoutAndKeepsUnknownMembers() throws {
        let manifest = try describe(Array(repeating: 7, count: 10), version: "é\"\\\n\u{1}")
        var object = try #require(try JSONValue(parsing: manifest.fileText).objectValue)
        object["zeta"] = .array([.integer(1), .number(2e3), .object(JSONObject([("b", .null), ("a", .bool(true))]))])
        let text = JSONValue.object(object).serialized(.python)
        let parsed = try FileManifest(parsing: Array(text.utf8))
        let canonical = String(decoding: parsed.canonicalBytes, as: UTF8.self)
        #expect(canonical.contains("\"version\":\"é\\\"\\\\\\n\\u0001\""))
        #expect(canonical.hasSuffix(",\"zeta\":[1,2000,{\"a\":true,\"b\":null}]}"))
        // Escapes and number spellings do not change it.
        let respelled = text.replacingOccurrences(of: "\"format\"", with: "\"\\u0066ormat\"").replacingOccurrences(of: "2000.0", with: "2e3")
        #expect(try FileManifest(parsing: Array(respelled.utf8)).canonicalBytes == parsed.canonicalBytes)
    }

    @Test func refusesMalformedManifests() throws {
        let good = try describe(Array(repeating: 1, count: 100)).fileText
        expectInvalid("{", "not valid JSON")
        expectInvalid("[1]", "must be a JSON object")
        expectInvalid(good.replacingOccurrences(of: "\"size\": 100", with: "\"size\": 129"), "make 3")
        expectInvalid(good.replacingOccurrences(of: "\"size\": 100", with: "\"size\": 1152921504606846976"), "integers of magnitude")
        expectInvalid(good.replacingOccurrences(of: "\"size\": 100", with: "\"size\": 1e400"), "integers of magnitude")
        expectInvalid(good.replacingOccurrences(of: "\"size\": 100", with: "\"size\": -64"), "negative")
        expectInvalid(good.replacingOccurrences(of: "\"size\": 100", with: "\"size\": 100.5"), "integers of magnitude")
        expectInvalid(good.replacingOccurrences(of: "\"chunkSize\": 64", with: "\"chunkSize\": 96"), "'chunkSize' 96")
        expectInvalid(good.replacingOccurrences(of: "\"formatVersion\": 1", with: "\"formatVersion\": 2"), "version 2 is not supported")
        expectInvalid(good.replacingOccurrences(of: "\"file.bin\"", with: "\"a/b\""), "'name' must be a file name")
        expectInvalid(good.replacingOccurrences(of: "\"file.bin\"", with: "\"a\\udc00b\""), "lone UTF-16 surrogate")
        expectInvalid(good.replacingOccurrences(of: "\"file.bin\"", with: "\"a\\ud800\\u0041\""), "lone UTF-16 surrogate")
        expectInvalid(good.replacingOccurrences(of: "\"name\"", with: "\"nämé\": 1, \"name\""), "keys must be ASCII")
        expectInvalid(good.replacingOccurrences(of: "\"sha256\": \"", with: "\"sha256\": \"A"), "'sha256'")
        expectInvalid("\u{FEFF}" + good, "not valid JSON")
        expectInvalid(good.replacingOccurrences(of: "\"chunks\"", with: "\"deep\": " + String(repeating: "[", count: 16) + String(repeating: "]", count: 16) + ", \"chunks\""), "nesting depth")
        do {
            _ = try FileManifest(parsing: [0x7B, 0xFF, 0x7D])
            Issue.record("invalid UTF-8 accepted")
        } catch {
            #expect(error.kind == .invalidManifest)
        }
        // A surrogate pair written as escapes is fine.
        _ = try FileManifest(parsing: Array(good.replacingOccurrences(of: "\"file.bin\"", with: "\"\\ud834\\udd1e.bin\"").utf8))
    }

    @Test func signatureMemberIsReadButNotSigned() throws {
        let manifest = try describe([1, 2, 3])
        let signed = manifest.signed(.init(value: Array(repeating: 0xAB, count: 64), publicKey: Array(repeating: 0x01, count: 32)))
        #expect(signed.canonicalBytes == manifest.canonicalBytes)
        let reread = try FileManifest(parsing: Array(signed.fileText.utf8))
        #expect(reread.signature == signed.signature)
        #expect(reread.canonicalBytes == manifest.canonicalBytes)
        expectInvalid(signed.fileText.replacingOccurrences(of: "\"Ed25519\"", with: "\"Ed448\""), "signature.algorithm")
    }
}
