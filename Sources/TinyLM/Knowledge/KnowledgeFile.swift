/// The knowledge file: one binary file holding a knowledge base (documents, chunks, vectors)
/// and naming the embedder that made it. `tinylm index` writes it, `tinylm chat --knowledge`
/// and the browser read it; the browser's export/import and its IndexedDB records are the same
/// format. Little-endian throughout; DESIGN.md has the table.
///
///     offset  size  field
///          0     8  magic "TINYLMKB"
///          8     4  version (1)
///         12     4  vector form: 0 f32, 1 f16, 2 int8 with a Float scale per vector
///         16     4  dimensions
///         20     4  pooling the vectors were made with: 1 mean, 2 CLS, 3 last
///         24     4  document count
///         28     4  chunk count
///         32     8  embedder fingerprint (ContentHash of its tensors and vocabulary)
///         40     4  embedder name length in bytes
///         44     4  reserved, 0
///         48     8  payload length: bytes after this 64-byte header
///         56     8  checksum: ContentHash of bytes 0..<56 and the payload (all but itself)
///         64        payload:
///                     vectors   chunk count × row (f32: 4·d, f16: 2·d, int8: d bytes)
///                     scales    int8 only: chunk count × f32
///                     the embedder's name (UTF-8)
///                     documents: u32 id length, u32 title length, u32 URL length,
///                                u32 source bytes, then id, title, URL (UTF-8)
///                     chunks:    u32 document index, u32 heading length, u32 text length,
///                                then heading and text (UTF-8)
///
/// Vectors come first so that they start 64 bytes in (aligned for SIMD loads).
public enum KnowledgeFile {
    static let magic: [UInt8] = Array("TINYLMKB".utf8)
    public static let version: UInt32 = 1
    static let headerBytes = 64

    /// The file of a whole knowledge base, or of the documents `only` (by index) of it.
    public static func write(_ base: KnowledgeBase, only: [Int]? = nil) -> [UInt8] {
        let documentIndices = only ?? Array(base.documents.indices)
        var newIndex = [Int](repeating: -1, count: base.documents.count)
        for (i, d) in documentIndices.enumerated() { newIndex[d] = i }
        var chunkIndices: [Int] = []
        for (i, c) in base.chunks.enumerated() where newIndex[c.document] >= 0 { chunkIndices.append(i) }

        var payload: [UInt8] = []
        let rowBytes = base.vectors.rowBytes
        base.vectors.rows.withUnsafeBytes { rows in
            for c in chunkIndices { payload.append(contentsOf: UnsafeRawBufferPointer(rebasing: rows[c * rowBytes..<(c + 1) * rowBytes])) }
        }
        if base.vectorForm == .int8 {
            for c in chunkIndices { appendU32(base.vectors.scales[c].bitPattern, to: &payload) }
        }
        let name = Array(base.embedder.name.utf8)
        payload.append(contentsOf: name)
        for d in documentIndices {
            let doc = base.documents[d]
            let id = Array(doc.id.utf8), title = Array(doc.title.utf8), url = Array(doc.url.utf8)
            appendU32(UInt32(id.count), to: &payload)
            appendU32(UInt32(title.count), to: &payload)
            appendU32(UInt32(url.count), to: &payload)
            appendU32(UInt32(clamping: doc.sourceBytes), to: &payload)
            payload.append(contentsOf: id)
            payload.append(contentsOf: title)
            payload.append(contentsOf: url)
        }
        for c in chunkIndices {
            let chunk = base.chunks[c]
            let heading = Array(chunk.heading.utf8), text = Array(chunk.text.utf8)
            appendU32(UInt32(newIndex[chunk.document]), to: &payload)
            appendU32(UInt32(heading.count), to: &payload)
            appendU32(UInt32(text.count), to: &payload)
            payload.append(contentsOf: heading)
            payload.append(contentsOf: text)
        }

        var out: [UInt8] = magic
        out.reserveCapacity(headerBytes + payload.count)
        appendU32(version, to: &out)
        appendU32(base.vectorForm.rawValue, to: &out)
        appendU32(UInt32(base.dimensions), to: &out)
        appendU32(UInt32(bitPattern: base.embedder.pooling.rawValue), to: &out)
        appendU32(UInt32(documentIndices.count), to: &out)
        appendU32(UInt32(chunkIndices.count), to: &out)
        appendU64(base.embedder.fingerprint, to: &out)
        appendU32(UInt32(name.count), to: &out)
        appendU32(0, to: &out)
        appendU64(UInt64(payload.count), to: &out)
        var hash = ContentHash()
        hash.update(out)
        hash.update(payload)
        appendU64(hash.finalize(), to: &out)
        out.append(contentsOf: payload)
        return out
    }

    /// The embedder named in a knowledge file's header (checks only the header).
    public static func embedder(of bytes: UnsafeRawBufferPointer) throws(TinyLMError) -> EmbedderIdentity {
        try Header(bytes).embedder(bytes)
    }

    /// Reads a knowledge file. `expecting`: the embedder that will embed the queries; a file
    /// from another embedder fails with `.embedderMismatch`, naming both.
    public static func read(_ bytes: UnsafeRawBufferPointer, expecting: EmbedderIdentity? = nil,
                            vectorForm wanted: VectorForm? = nil) throws(TinyLMError) -> KnowledgeBase {
        let header = try Header(bytes)
        let payload = UnsafeRawBufferPointer(rebasing: bytes[headerBytes..<bytes.count])
        var hash = ContentHash()
        hash.update(UnsafeRawBufferPointer(rebasing: bytes[0..<56]))
        hash.update(payload)
        guard hash.finalize() == header.checksum else {
            throw corrupt("checksum mismatch: the file is damaged")
        }
        let embedder = try header.embedder(bytes)
        if let expecting, expecting.fingerprint != embedder.fingerprint || expecting.dimensions != embedder.dimensions {
            throw TinyLMError(.embedderMismatch,
                              "this knowledge file was built with the embedder \(embedder.label), but the embedder given is \(expecting.label): rebuild the knowledge with it, or load the embedder the file was built with")
        }
        var reader = FieldReader(bytes: payload, offset: header.textOffset)
        var documents: [KnowledgeDocument] = []
        documents.reserveCapacity(header.documentCount)
        for _ in 0..<header.documentCount {
            let idLength = try reader.length(), titleLength = try reader.length(), urlLength = try reader.length()
            let sourceBytes = try reader.length()
            let id = try reader.string(idLength), title = try reader.string(titleLength), url = try reader.string(urlLength)
            documents.append(KnowledgeDocument(id: id, title: title, url: url, sourceBytes: sourceBytes))
        }
        let base = KnowledgeBase(embedder: embedder, vectorForm: header.form)
        var chunks: [(document: Int, heading: String, text: String)] = []
        chunks.reserveCapacity(header.chunkCount)
        for _ in 0..<header.chunkCount {
            let document = try reader.length()
            guard document < header.documentCount else { throw corrupt("a chunk names document \(document) of \(header.documentCount)") }
            let headingLength = try reader.length(), textLength = try reader.length()
            chunks.append((document, try reader.string(headingLength), try reader.string(textLength)))
        }
        guard reader.offset == payload.count else { throw corrupt("\(payload.count - reader.offset) bytes after the last chunk") }
        base.load(documents: documents, chunks: chunks,
                  rows: UnsafeRawBufferPointer(rebasing: payload[0..<header.chunkCount * header.rowBytes]),
                  scales: header.form == .int8 ? UnsafeRawBufferPointer(rebasing: payload[header.scalesOffset..<header.scalesOffset + header.chunkCount * 4]) : nil)
        if let wanted, wanted != header.form { return base.converted(to: wanted) }
        return base
    }

    static func corrupt(_ message: String) -> TinyLMError {
        TinyLMError(.invalidKnowledgeFile, "not a valid knowledge file: \(message)")
    }

    /// The fixed header, every size checked against the buffer (Int may be 32-bit).
    struct Header {
        var form: VectorForm
        var dimensions: Int
        var pooling: EmbeddingPooling
        var documentCount: Int
        var chunkCount: Int
        var fingerprint: UInt64
        var nameLength: Int
        var checksum: UInt64
        var rowBytes: Int
        var scalesOffset: Int
        var textOffset: Int

        init(_ bytes: UnsafeRawBufferPointer) throws(TinyLMError) {
            guard bytes.count >= headerBytes else { throw corrupt("\(bytes.count) bytes, shorter than the 64-byte header") }
            for i in 0..<8 where bytes[i] != magic[i] { throw corrupt("it does not start with TINYLMKB") }
            func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
            func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
            let version = u32(8)
            guard version == KnowledgeFile.version else {
                throw TinyLMError(.invalidKnowledgeFile, "knowledge file version \(version) is not supported (this runtime reads version \(KnowledgeFile.version))")
            }
            guard let form = VectorForm(rawValue: u32(12)) else { throw corrupt("unknown vector form \(u32(12))") }
            self.form = form
            guard let raw = Int32(exactly: u32(20)), let pooling = EmbeddingPooling(rawValue: raw) else { throw corrupt("unknown pooling \(u32(20))") }
            self.pooling = pooling
            guard u32(44) == 0 else { throw corrupt("reserved header field is not 0") }
            guard let d = Int(exactly: u32(16)), d > 0, d <= 1 << 16,
                  let documents = Int(exactly: u32(24)), let chunks = Int(exactly: u32(28)),
                  let nameLength = Int(exactly: u32(40)), nameLength <= 4096,
                  let payloadLength = Int(exactly: u64(48)) else {
                throw corrupt("header sizes out of range")
            }
            guard payloadLength == bytes.count - headerBytes else {
                throw corrupt("the header announces \(payloadLength) bytes after it, the file has \(bytes.count - headerBytes) (truncated or padded)")
            }
            dimensions = d
            documentCount = documents
            chunkCount = chunks
            fingerprint = u64(32)
            self.nameLength = nameLength
            checksum = u64(56)
            rowBytes = form.rowBytes(dimensions: d)
            // Each document and chunk takes at least 16 and 12 bytes: counts are bounded by
            // the payload before any multiplication.
            guard documents <= payloadLength / 16, chunks <= payloadLength / 12 else { throw corrupt("counts larger than the file") }
            let (vectorBytes, o1) = chunks.multipliedReportingOverflow(by: rowBytes)
            let scaleBytes = form == .int8 ? chunks * 4 : 0
            guard !o1, vectorBytes <= payloadLength, scaleBytes <= payloadLength - vectorBytes,
                  nameLength <= payloadLength - vectorBytes - scaleBytes else {
                throw corrupt("\(chunks) vectors of \(d) dimensions do not fit in the file")
            }
            scalesOffset = vectorBytes
            textOffset = vectorBytes + scaleBytes + nameLength
        }

        func embedder(_ bytes: UnsafeRawBufferPointer) throws(TinyLMError) -> EmbedderIdentity {
            let start = headerBytes + scalesOffset + (form == .int8 ? chunkCount * 4 : 0)
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<start + nameLength]), as: UTF8.self)
            return EmbedderIdentity(name: name, fingerprint: fingerprint, dimensions: dimensions, pooling: pooling)
        }
    }

    struct FieldReader {
        let bytes: UnsafeRawBufferPointer
        var offset: Int

        mutating func length() throws(TinyLMError) -> Int {
            guard bytes.count - offset >= 4 else { throw corrupt("truncated record at byte \(offset + 64)") }
            let value = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            offset += 4
            guard let n = Int(exactly: value), n <= bytes.count else { throw corrupt("length \(value) larger than the file") }
            return n
        }

        mutating func string(_ count: Int) throws(TinyLMError) -> String {
            guard bytes.count - offset >= count else { throw corrupt("a string runs past the end of the file") }
            let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]), as: UTF8.self)
            offset += count
            return s
        }
    }

    static func appendU32(_ v: UInt32, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    static func appendU64(_ v: UInt64, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }
}

extension KnowledgeBase {
    func load(documents newDocuments: [KnowledgeDocument], chunks newChunks: [(document: Int, heading: String, text: String)],
              rows: UnsafeRawBufferPointer, scales: UnsafeRawBufferPointer?) {
        precondition(documents.isEmpty)
        appendLoaded(newDocuments, newChunks.map { KnowledgeChunk(document: $0.document, heading: $0.heading, text: $0.text) })
        vectors.appendRaw(rows, scales: scales, count: newChunks.count)
    }

    /// The same knowledge with its vectors stored in `form` (through floats).
    func converted(to form: VectorForm) -> KnowledgeBase {
        let copy = KnowledgeBase(embedder: embedder, vectorForm: form)
        copy.appendLoaded(documents, chunks)
        var v = [Float](repeating: 0, count: dimensions)
        for i in 0..<chunks.count {
            v.withUnsafeMutableBufferPointer { p in
                vectors.vector(i, into: p.baseAddress!)
                copy.vectors.append(p.baseAddress!)
            }
        }
        return copy
    }
}
