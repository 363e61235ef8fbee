/// The manifest published beside a file (a model, an adapter, a knowledge file): its name and
/// version, its size, the SHA-256 of the whole file and of each fixed-size chunk, and
/// optionally an Ed25519 signature. DESIGN.md ("File manifests") defines the format and the
/// canonical bytes a signature covers; web/manifest.js implements the same rules, and both
/// accept and refuse the same texts (the fuzz harness compares them).
///
/// The core reads, writes and checks manifests; it does not do Ed25519 (the CLI signs and
/// verifies with OpenSSL, the browser with WebCrypto).
public struct FileManifest {
    public static let format = "tinylm-manifest"
    public static let formatVersion = 1
    /// The chunk size of the browser's weight store (web/model-store.js CHUNK_SIZE).
    public static let defaultChunkSize = 4 << 20
    /// Chunk sizes are multiples of 64 (the store saves SHA-256 state at chunk boundaries).
    public static let minimumChunkSize = 64
    public static let maximumChunkSize = 1 << 30
    /// A larger text is refused unread (a 1 TB file at 4 MiB chunks needs about 17 MB).
    public static let maximumTextBytes = 32 << 20
    /// Deepest nesting of arrays and objects (the manifest itself needs 3).
    public static let maximumDepth = 16
    /// Every number must be an integer a JavaScript Number holds exactly.
    public static let maximumSafeInteger: Int64 = (1 << 53) - 1
    public static let maximumNameBytes = 255
    public static let maximumVersionBytes = 128

    public let name: String
    public let version: String
    public let size: Int64
    public let sha256: SHA256Digest
    public let chunkSize: Int
    public let chunks: [SHA256Digest]
    public private(set) var signature: Signature?
    /// Every member except `signature`, unknown ones included: the canonical bytes (what a
    /// signature covers) are made from these.
    public let members: JSONObject

    public struct Signature: Equatable {
        public static let algorithm = "Ed25519"
        /// The 64-byte Ed25519 signature of `FileManifest.canonicalBytes`.
        public let value: [UInt8]
        /// The signer's raw 32-byte public key, if the manifest names it (informational: a
        /// verifier checks against the key it trusts, not this one).
        public let publicKey: [UInt8]?

        public init(value: [UInt8], publicKey: [UInt8]?) {
            self.value = value
            self.publicKey = publicKey
        }

        var json: JSONValue {
            var object = JSONObject()
            object["algorithm"] = .string(Self.algorithm)
            if let publicKey { object["publicKey"] = .string(Hex.encode(publicKey)) }
            object["value"] = .string(Hex.encode(value))
            return .object(object)
        }
    }

    /// The number of chunks a file of `size` bytes has.
    public static func chunkCount(size: Int64, chunkSize: Int) -> Int64 {
        size == 0 ? 0 : (size - 1) / Int64(chunkSize) + 1
    }

    /// Describes `bytes` (hashes the file and each chunk). `version` must be 1…128 bytes; nil
    /// names the content: the first 16 hex digits of its SHA-256.
    public init(name: String, version: String?, describing bytes: UnsafeRawBufferPointer,
                chunkSize: Int = FileManifest.defaultChunkSize) throws(TinyLMError) {
        guard chunkSize >= Self.minimumChunkSize, chunkSize <= Self.maximumChunkSize, chunkSize % 64 == 0 else {
            throw .invalidArgument("chunk size \(chunkSize) must be a multiple of 64 between \(Self.minimumChunkSize) and \(Self.maximumChunkSize)")
        }
        var whole = SHA256()
        var digests: [SHA256Digest] = []
        var offset = 0
        while offset < bytes.count {
            let length = min(chunkSize, bytes.count - offset)
            let chunk = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
            digests.append(SHA256.hash(chunk))
            whole.update(chunk)
            offset += length
        }
        let digest = whole.finalize().hex
        var members = JSONObject()
        members["format"] = .string(Self.format)
        members["formatVersion"] = .integer(Self.formatVersion)
        members["name"] = .string(name)
        members["version"] = .string(version ?? String(digest.prefix(16)))
        members["size"] = Self.integerJSON(Int64(bytes.count))
        members["sha256"] = .string(digest)
        members["chunkSize"] = .integer(chunkSize)
        members["chunks"] = .array(digests.map { .string($0.hex) })
        try self.init(members: members, signature: nil)
    }

    /// Reads and validates a manifest text; any defect is an `invalidManifest` error.
    public init(parsing text: [UInt8]) throws(TinyLMError) {
        guard text.count <= Self.maximumTextBytes else {
            throw .invalidManifest("the manifest is \(text.count) bytes, more than the limit \(Self.maximumTextBytes)")
        }
        guard String(decoding: text, as: UTF8.self).utf8.elementsEqual(text) else {
            throw .invalidManifest("the manifest is not valid UTF-8")
        }
        // JavaScript keeps an escaped lone surrogate ("\udc00") in a string and Swift cannot,
        // so the two would sign different bytes: refuse them on both sides.
        if let offset = Self.loneSurrogateEscape(in: text) {
            throw .invalidManifest("the manifest escapes a lone UTF-16 surrogate at offset \(offset)")
        }
        let document: JSONValue
        do {
            document = try JSONValue(parsing: text, maxDepth: Self.maximumDepth)
        } catch {
            throw .invalidManifest("the manifest is not valid JSON: \(error.description)")
        }
        guard case .object(var members) = document else {
            throw .invalidManifest("the manifest must be a JSON object")
        }
        try Self.checkPortable(.object(members), path: "manifest")
        let signatureValue = members.removeValue(forKey: "signature")
        var signature: Signature? = nil
        if let signatureValue { signature = try Self.readSignature(signatureValue) }
        try self.init(members: members, signature: signature)
    }

    private init(members: JSONObject, signature: Signature?) throws(TinyLMError) {
        func string(_ key: String) throws(TinyLMError) -> String {
            guard let value = members[key] else { throw .invalidManifest("the manifest has no '\(key)'") }
            guard let text = value.stringValue else { throw .invalidManifest("'\(key)' must be a string") }
            return text
        }
        func integer(_ key: String) throws(TinyLMError) -> Int64 {
            guard let value = members[key] else { throw .invalidManifest("the manifest has no '\(key)'") }
            guard let number = Self.safeInteger(value) else { throw .invalidManifest("'\(key)' must be an integer") }
            return number
        }
        func digest(_ text: String, _ what: String) throws(TinyLMError) -> SHA256Digest {
            guard let digest = SHA256Digest(hex: text) else {
                throw .invalidManifest("\(what) must be 64 lowercase hex digits")
            }
            return digest
        }

        // Compared as bytes: String's == would also accept canonically equivalent spellings.
        guard try string("format").utf8.elementsEqual(Self.format.utf8) else {
            throw .invalidManifest("'format' must be \"\(Self.format)\"")
        }
        let formatVersion = try integer("formatVersion")
        guard formatVersion == Int64(Self.formatVersion) else {
            throw .invalidManifest("manifest format version \(formatVersion) is not supported (this reader knows version \(Self.formatVersion))")
        }
        name = try string("name")
        guard Self.isFileName(name) else {
            throw .invalidManifest("'name' must be a file name of 1 to \(Self.maximumNameBytes) bytes without '/', '\\\\' or control characters")
        }
        version = try string("version")
        guard !version.isEmpty, version.utf8.count <= Self.maximumVersionBytes else {
            throw .invalidManifest("'version' must be 1 to \(Self.maximumVersionBytes) bytes")
        }
        size = try integer("size")
        guard size >= 0 else { throw .invalidManifest("'size' must not be negative") }
        sha256 = try digest(try string("sha256"), "'sha256'")
        let rawChunkSize = try integer("chunkSize")
        guard rawChunkSize >= Int64(Self.minimumChunkSize), rawChunkSize <= Int64(Self.maximumChunkSize), rawChunkSize % 64 == 0 else {
            throw .invalidManifest("'chunkSize' \(rawChunkSize) must be a multiple of 64 between \(Self.minimumChunkSize) and \(Self.maximumChunkSize)")
        }
        chunkSize = Int(rawChunkSize)
        guard let chunkList = members["chunks"] else { throw .invalidManifest("the manifest has no 'chunks'") }
        guard let chunkValues = chunkList.arrayValue else { throw .invalidManifest("'chunks' must be an array") }
        let expected = Self.chunkCount(size: size, chunkSize: chunkSize)
        guard Int64(chunkValues.count) == expected else {
            throw .invalidManifest("'chunks' lists \(chunkValues.count) hashes, but \(size) bytes in chunks of \(chunkSize) make \(expected)")
        }
        var digests: [SHA256Digest] = []
        digests.reserveCapacity(chunkValues.count)
        for (index, value) in chunkValues.enumerated() {
            guard let text = value.stringValue else { throw .invalidManifest("'chunks'[\(index)] must be a string") }
            digests.append(try digest(text, "'chunks'[\(index)]"))
        }
        chunks = digests
        self.signature = signature
        self.members = members
    }

    /// The same manifest with `signature` attached (the members, and so the canonical bytes,
    /// are unchanged).
    public func signed(_ signature: Signature) -> FileManifest {
        var copy = self
        copy.signature = signature
        return copy
    }

    // MARK: Checking bytes

    /// Where chunk `index` lies in the file.
    public func chunkRange(_ index: Int) -> (offset: Int64, length: Int) {
        let offset = Int64(index) * Int64(chunkSize)
        return (offset, Int(min(Int64(chunkSize), size - offset)))
    }

    /// Checks one chunk's length and SHA-256.
    public func verifyChunk(_ index: Int, _ bytes: UnsafeRawBufferPointer) throws(TinyLMError) {
        guard index >= 0, index < chunks.count else {
            throw .integrity("chunk \(index) does not exist: \(name) has \(chunks.count) chunks")
        }
        let expectedLength = chunkRange(index).length
        guard bytes.count == expectedLength else {
            throw .integrity("chunk \(index) of \(name) is \(bytes.count) bytes, the manifest says \(expectedLength)")
        }
        guard SHA256.hash(bytes) == chunks[index] else {
            throw .integrity("chunk \(index) of \(name) does not match its SHA-256 in the manifest")
        }
    }

    /// Checks a whole file: its size, every chunk and the whole-file SHA-256.
    public func verify(_ bytes: UnsafeRawBufferPointer) throws(TinyLMError) {
        guard Int64(bytes.count) == size else {
            throw .integrity("\(name) is \(bytes.count) bytes, the manifest says \(size)")
        }
        var whole = SHA256()
        for index in 0..<chunks.count {
            let (offset, length) = chunkRange(index)
            let chunk = UnsafeRawBufferPointer(rebasing: bytes[Int(offset)..<(Int(offset) + length)])
            try verifyChunk(index, chunk)
            whole.update(chunk)
        }
        guard whole.finalize() == sha256 else {
            throw .integrity("\(name) does not match the SHA-256 in the manifest")
        }
    }

    // MARK: Writing

    /// What a signature covers: the manifest without `signature`, as JSON with object keys
    /// sorted, no whitespace, strings escaped only where JSON requires (control characters as
    /// \b \t \n \f \r or \u00xx, plus \" and \\), integers in plain decimal; UTF-8. This is
    /// JSON.stringify of the key-sorted object (and RFC 8785 for these values).
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        Self.writeCanonical(.object(members), to: &out)
        return out
    }

    /// The file form: the members in order, then the signature, indented for people to read.
    public var fileText: String {
        var object = members
        if let signature { object["signature"] = signature.json }
        return JSONValue.object(object).serialized(.pythonIndented(2)) + "\n"
    }

    // MARK: Rules shared with web/manifest.js

    static func integerJSON(_ value: Int64) -> JSONValue {
        if let small = Int(exactly: value) { return .integer(small) }
        return .number(Double(value))
    }

    /// An integer of magnitude at most 2^53 − 1, written in any JSON number form.
    static func safeInteger(_ value: JSONValue) -> Int64? {
        switch value {
        case .integer(let i):
            let wide = Int64(i)
            return wide >= -maximumSafeInteger && wide <= maximumSafeInteger ? wide : nil
        case .number(let d):
            guard d.isFinite, d == d.rounded(.towardZero), d >= -Double(maximumSafeInteger), d <= Double(maximumSafeInteger) else { return nil }
            return Int64(d)
        default:
            return nil
        }
    }

    /// Every key ASCII (so byte order, UTF-16 order and code-point order agree when sorting)
    /// and every number a safe integer (so every implementation writes it the same way).
    static func checkPortable(_ value: JSONValue, path: String) throws(TinyLMError) {
        switch value {
        case .integer, .number:
            if safeInteger(value) == nil { throw .invalidManifest("\(path): numbers must be integers of magnitude below 2^53") }
        case .array(let items):
            for item in items { try checkPortable(item, path: path) }
        case .object(let object):
            for (key, item) in object.entries {
                guard key.utf8.allSatisfy({ $0 < 0x80 }) else { throw .invalidManifest("\(path): object keys must be ASCII") }
                try checkPortable(item, path: path)
            }
        case .null, .bool, .string:
            break
        }
    }

    static func isFileName(_ name: String) -> Bool {
        let bytes = name.utf8
        guard !bytes.isEmpty, bytes.count <= maximumNameBytes, !bytes.elementsEqual(".".utf8), !bytes.elementsEqual("..".utf8) else { return false }
        return bytes.allSatisfy { $0 >= 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "\\") }
    }

    static func readSignature(_ value: JSONValue) throws(TinyLMError) -> Signature {
        guard let object = value.objectValue else { throw .invalidManifest("'signature' must be an object") }
        guard let algorithm = object["algorithm"]?.stringValue, algorithm.utf8.elementsEqual(Signature.algorithm.utf8) else {
            throw .invalidManifest("'signature.algorithm' must be \"\(Signature.algorithm)\"")
        }
        guard let valueText = object["value"]?.stringValue, let signatureBytes = Hex.decode(valueText, count: 64) else {
            throw .invalidManifest("'signature.value' must be 128 lowercase hex digits (64 bytes)")
        }
        var publicKey: [UInt8]? = nil
        if let keyValue = object["publicKey"] {
            guard let keyText = keyValue.stringValue, let key = Hex.decode(keyText, count: 32) else {
                throw .invalidManifest("'signature.publicKey' must be 64 lowercase hex digits (32 bytes)")
            }
            publicKey = key
        }
        return Signature(value: signatureBytes, publicKey: publicKey)
    }

    /// The offset of a `\uD800`–`\uDFFF` escape inside a string that is not a high surrogate
    /// directly followed by an escaped low one; nil when there is none.
    static func loneSurrogateEscape(in text: [UInt8]) -> Int? {
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= text.count else { return nil }
            var value: UInt32 = 0
            for i in at..<(at + 4) {
                let b = text[i]
                let digit: UInt32
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
                default: return nil
                }
                value = value << 4 | digit
            }
            return value
        }
        var inString = false
        var i = 0
        while i < text.count {
            let b = text[i]
            if !inString {
                if b == UInt8(ascii: "\"") { inString = true }
                i += 1
                continue
            }
            if b == UInt8(ascii: "\"") { inString = false; i += 1; continue }
            if b != UInt8(ascii: "\\") { i += 1; continue }
            guard i + 1 < text.count else { return nil }
            guard text[i + 1] == UInt8(ascii: "u"), let code = hex4(i + 2) else { i += 2; continue }
            if code >= 0xDC00 && code <= 0xDFFF { return i }
            if code >= 0xD800 && code <= 0xDBFF {
                guard i + 7 < text.count, text[i + 6] == UInt8(ascii: "\\"), text[i + 7] == UInt8(ascii: "u"),
                      let low = hex4(i + 8), low >= 0xDC00, low <= 0xDFFF else { return i }
                i += 12
                continue
            }
            i += 6
        }
        return nil
    }

    static func writeCanonical(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .integer, .number:
            // Validated: a safe integer (and -0 is written 0, as JSON.stringify does).
            out.append(contentsOf: String(safeInteger(value) ?? 0).utf8)
        case .string(let s): JSONWriter.writeString(s, escapeNonASCII: false, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeCanonical(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            var order = Array(0..<object.count)
            let keys = object.keys
            stableMergeSort(&order) { (a: Int, b: Int) -> Bool in keys[a].utf8.lexicographicallyPrecedes(keys[b].utf8) }
            for (n, i) in order.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.writeString(keys[i], escapeNonASCII: false, to: &out)
                out.append(UInt8(ascii: ":"))
                writeCanonical(object.values[i], to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }
}
