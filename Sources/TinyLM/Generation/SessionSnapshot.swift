/// A session's conversation saved as bytes and restored later (another process, a page reload),
/// so that a long chat continues without evaluating its history again.
///
/// What is saved: the token ids the cache holds, their keys and values exactly as the cache
/// keeps them (f16, only the filled positions), optionally the chat transcript (tokens and
/// text, `ChatTranscript`), and what the cache depends on: a fingerprint of the model file, the
/// adapters with their scales, and the chat template's identity. Restoring into a session with
/// anything else is refused with `snapshotMismatch`; bytes that are not an intact snapshot with
/// `invalidSnapshot`; the session is left untouched by a refused restore. The logits are not
/// saved: the next evaluation (at least one token, as `Session.prefill` always does) computes
/// them from the restored cache, bit for bit as if the cache had never left memory.
///
/// Layout (little-endian):
///
///     "TinyLMKV"                     magic, 8 bytes
///     u32 version                    1
///     u64 model fingerprint          Model.fingerprint
///     u64 template fingerprint       ContentHash of the template source; 0: the model's own
///     u32 adapter count, then per adapter: u64 fingerprint (ContentHash of its file), u32 scale (f32 bits)
///     u32 layers, u32 key width, u32 value width      the cache's shape (f16 values per row)
///     u32 n, i32 × n                 the tokens in the cache
///     u32 m, i32 × m, u32 t, u8 × t  the transcript's tokens and text (m = t = 0: none)
///     u16 keys   [layer][position < n][key width]
///     u16 values [layer][position < n][value width]
///     u64 ContentHash of every byte before it
public enum SessionSnapshot {
    static let magic: [UInt8] = Array("TinyLMKV".utf8)
    static let version: UInt32 = 1

    /// What a snapshot must agree with to be restored into a session.
    public struct Identity: Equatable {
        public var model: UInt64
        public var template: UInt64
        public var adapters: [AdapterIdentity]

        public struct AdapterIdentity: Equatable {
            public var fingerprint: UInt64
            public var scaleBits: UInt32
        }

        /// The identity of `session`'s cache with the chat template `templateSource` (nil: the
        /// model's own template, which the model fingerprint already covers).
        public init(session: Session, templateSource: String?) {
            model = session.model.fingerprint
            template = templateSource.map { SessionSnapshot.templateFingerprint($0) } ?? 0
            adapters = session.adapters.map {
                AdapterIdentity(fingerprint: ContentHash.of($0.adapter.gguf.bytes), scaleBits: $0.scale.bitPattern)
            }
        }

        init(model: UInt64, template: UInt64, adapters: [AdapterIdentity]) {
            self.model = model
            self.template = template
            self.adapters = adapters
        }
    }

    /// The template's identity in snapshots (nonzero, so it never reads as "the model's own").
    public static func templateFingerprint(_ source: String) -> UInt64 {
        var hash = ContentHash()
        hash.update(Array(source.utf8))
        return max(1, hash.finalize())
    }

    /// What `read` found in a snapshot, before any of it is copied into a session.
    struct Parsed {
        var identity: Identity
        var layerCount: Int
        var keyWidth: Int
        var valueWidth: Int
        var tokens: [Int32]
        var transcriptTokens: [Int32]
        var transcriptText: [UInt8]
        /// Byte offsets of the key and value rows.
        var keysOffset: Int
        var valuesOffset: Int
    }

    static func read(_ bytes: UnsafeRawBufferPointer, maximumTokens: Int) throws(TinyLMError) -> Parsed {
        guard bytes.count >= magic.count + 12, bytes.prefix(magic.count).elementsEqual(magic) else {
            throw TinyLMError(.invalidSnapshot, "not a TinyLM session snapshot (no TinyLMKV header)")
        }
        let body = UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 8)])
        let stored = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self))
        guard ContentHash.of(body) == stored else {
            throw TinyLMError(.invalidSnapshot, "the session snapshot is corrupt or truncated (checksum mismatch)")
        }
        do throws(TinyLMError) {
            var reader = ByteReader(body, offset: magic.count)
            let version = try reader.read(UInt32.self, "version")
            guard version == Self.version else {
                throw TinyLMError(.invalidSnapshot, "session snapshot version \(version) is not supported (this build reads version \(Self.version))")
            }
            let model = try reader.read(UInt64.self, "model fingerprint")
            let template = try reader.read(UInt64.self, "template fingerprint")
            let adapterCount = try count(&reader, "adapter count", limit: 1024)
            var adapters: [Identity.AdapterIdentity] = []
            for _ in 0..<adapterCount {
                let fingerprint = try reader.read(UInt64.self, "adapter fingerprint")
                adapters.append(.init(fingerprint: fingerprint, scaleBits: try reader.read(UInt32.self, "adapter scale")))
            }
            let layerCount = try count(&reader, "layer count", limit: 1 << 16)
            let keyWidth = try count(&reader, "key width", limit: 1 << 20)
            let valueWidth = try count(&reader, "value width", limit: 1 << 20)
            let tokenCount = try count(&reader, "token count", limit: maximumTokens)
            let tokens = try ids(&reader, tokenCount)
            let transcriptCount = try count(&reader, "transcript token count", limit: maximumTokens + 1)
            let transcriptTokens = try ids(&reader, transcriptCount)
            let textLength = try count(&reader, "transcript text length", limit: reader.remaining)
            let textStart = reader.offset
            try reader.skip(textLength, "transcript text")
            let transcriptText = Array(UnsafeRawBufferPointer(rebasing: body[textStart..<(textStart + textLength)]))
            // Untrusted sizes: their products may overflow a 32-bit Int.
            let keyBytes = SessionMemory.Checked(layerCount) * tokenCount * keyWidth * 2
            let valueBytes = SessionMemory.Checked(layerCount) * tokenCount * valueWidth * 2
            guard let k = keyBytes.value, let total = (keyBytes + valueBytes).value, total == reader.remaining else {
                throw TinyLMError(.invalidSnapshot, "the session snapshot's cache rows do not match its header (\(reader.remaining) bytes for \(tokenCount) tokens)")
            }
            return Parsed(identity: Identity(model: model, template: template, adapters: adapters),
                          layerCount: layerCount, keyWidth: keyWidth, valueWidth: valueWidth, tokens: tokens,
                          transcriptTokens: transcriptTokens, transcriptText: transcriptText,
                          keysOffset: reader.offset, valuesOffset: reader.offset + k)
        } catch {
            if error.kind == .invalidSnapshot { throw error }
            throw TinyLMError(.invalidSnapshot, "malformed session snapshot: \(error.message)")
        }
    }

    private static func count(_ reader: inout ByteReader, _ what: StaticString, limit: Int) throws(TinyLMError) -> Int {
        let raw = try reader.read(UInt32.self, what)
        guard let value = Int(exactly: raw), value <= limit else {
            throw TinyLMError(.invalidSnapshot, "session snapshot: \(what) \(raw) exceeds the limit \(limit)")
        }
        return value
    }

    private static func ids(_ reader: inout ByteReader, _ count: Int) throws(TinyLMError) -> [Int32] {
        try reader.require(count * 4, "token ids")
        var out: [Int32] = []
        out.reserveCapacity(count)
        for _ in 0..<count { out.append(try reader.read(Int32.self, "token id")) }
        return out
    }
}

extension Model {
    /// ContentHash of the whole GGUF file: any change to a weight, the vocabulary, the template
    /// or other metadata changes it. Computed once, on first use (it reads every byte of the
    /// file: tens of milliseconds per 100 MB).
    public var fingerprint: UInt64 {
        if let cachedFingerprint { return cachedFingerprint }
        let value = ContentHash.of(gguf.bytes)
        cachedFingerprint = value
        return value
    }
}

extension Session {
    /// The bytes of this session's conversation (SessionSnapshot's layout): the cached tokens
    /// with their keys and values, and `transcript` when given. `templateSource`: the chat
    /// template the conversation was rendered with when it is not the model's own.
    public func snapshot(transcript: ChatTranscript? = nil, templateSource: String? = nil) -> [UInt8] {
        let identity = SessionSnapshot.Identity(session: self, templateSource: templateSource)
        let cache = state.cache
        var out: [UInt8] = []
        let n = tokens.count
        let transcriptText = transcript?.textBytes ?? []
        let transcriptTokens = transcript?.tokens ?? []
        out.reserveCapacity(64 + 12 * identity.adapters.count + 4 * (n + transcriptTokens.count) + transcriptText.count
                            + cache.layerCount * n * (cache.keyWidth + cache.valueWidth) * 2)
        func put<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
        }
        out.append(contentsOf: SessionSnapshot.magic)
        put(SessionSnapshot.version)
        put(identity.model)
        put(identity.template)
        put(UInt32(identity.adapters.count))
        for adapter in identity.adapters {
            put(adapter.fingerprint)
            put(adapter.scaleBits)
        }
        put(UInt32(cache.layerCount))
        put(UInt32(cache.keyWidth))
        put(UInt32(cache.valueWidth))
        put(UInt32(n))
        for id in tokens { put(id) }
        put(UInt32(transcriptTokens.count))
        for id in transcriptTokens { put(id) }
        put(UInt32(transcriptText.count))
        out.append(contentsOf: transcriptText)
        // Positions of one layer are contiguous in the cache: one copy per layer.
        for layer in 0..<cache.layerCount {
            out.append(contentsOf: UnsafeRawBufferPointer(start: cache.key(layer: layer, position: 0), count: n * cache.keyWidth * 2))
        }
        for layer in 0..<cache.layerCount {
            out.append(contentsOf: UnsafeRawBufferPointer(start: cache.value(layer: layer, position: 0), count: n * cache.valueWidth * 2))
        }
        let checksum = out.withUnsafeBytes { ContentHash.of($0) }
        put(checksum)
        return out
    }

    /// Makes this session hold the conversation saved in `bytes` (replacing what it held) and
    /// returns the transcript saved with it (nil when none was). Throws `snapshotMismatch` when
    /// the snapshot belongs to another model file, adapter set, template (`templateSource` as
    /// given to `snapshot`) or cache shape, `invalidSnapshot` when the bytes are not an intact
    /// snapshot or hold more tokens than this session's context; the session is unchanged then.
    @discardableResult
    public func restore(snapshot bytes: UnsafeRawBufferPointer, templateSource: String? = nil) throws(TinyLMError) -> ChatTranscript? {
        let parsed = try SessionSnapshot.read(bytes, maximumTokens: contextLength)
        let cache = state.cache
        guard parsed.layerCount == cache.layerCount, parsed.keyWidth == cache.keyWidth, parsed.valueWidth == cache.valueWidth else {
            throw TinyLMError(.snapshotMismatch, "the session snapshot's cache has \(parsed.layerCount) layers of \(parsed.keyWidth)+\(parsed.valueWidth) values per position; this session's has \(cache.layerCount) of \(cache.keyWidth)+\(cache.valueWidth)")
        }
        let expected = SessionSnapshot.Identity(session: self, templateSource: templateSource)
        guard parsed.identity.model == expected.model else {
            throw TinyLMError(.snapshotMismatch, "the session snapshot was made with another model file (fingerprint \(ContentHash.hex(parsed.identity.model)), this session's model is \(ContentHash.hex(expected.model)))")
        }
        guard parsed.identity.adapters == expected.adapters else {
            throw TinyLMError(.snapshotMismatch, "the session snapshot was made with other adapters (\(parsed.identity.adapters.count) given then, \(expected.adapters.count) now, or other files or scales)")
        }
        guard parsed.identity.template == expected.template else {
            throw TinyLMError(.snapshotMismatch, "the session snapshot was made with another chat template")
        }
        let vocabulary = model.config.vocabularySize
        for id in parsed.tokens + parsed.transcriptTokens where id < 0 || Int(id) >= vocabulary {
            throw TinyLMError(.invalidSnapshot, "the session snapshot holds token id \(id), outside the vocabulary (0..<\(vocabulary))")
        }
        let n = parsed.tokens.count
        for layer in 0..<cache.layerCount {
            let keyRow = bytes.baseAddress! + parsed.keysOffset + layer * n * cache.keyWidth * 2
            UnsafeMutableRawPointer(cache.key(layer: layer, position: 0)).copyMemory(from: keyRow, byteCount: n * cache.keyWidth * 2)
            let valueRow = bytes.baseAddress! + parsed.valuesOffset + layer * n * cache.valueWidth * 2
            UnsafeMutableRawPointer(cache.value(layer: layer, position: 0)).copyMemory(from: valueRow, byteCount: n * cache.valueWidth * 2)
        }
        replaceTokens(parsed.tokens)
        if parsed.transcriptTokens.isEmpty && parsed.transcriptText.isEmpty { return nil }
        return ChatTranscript(tokens: parsed.transcriptTokens, text: parsed.transcriptText, tokenizer: model.tokenizer)
    }

    /// Convenience for arrays.
    @discardableResult
    public func restore(snapshot bytes: [UInt8], templateSource: String? = nil) throws(TinyLMError) -> ChatTranscript? {
        var restored: ChatTranscript? = nil
        var failure: TinyLMError? = nil
        bytes.withUnsafeBytes { raw in
            do throws(TinyLMError) {
                restored = try restore(snapshot: raw, templateSource: templateSource)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return restored
    }
}
