/// Which embedding model made a knowledge base's vectors: vectors of different models (or of
/// different weights of one model) are not comparable, so a query must be embedded by the same
/// one.
public struct EmbedderIdentity: Equatable, Sendable {
    /// `general.name` of the embedder's GGUF file.
    public var name: String
    /// ContentHash of the embedder's tensors (names and bytes) and vocabulary.
    public var fingerprint: UInt64
    public var dimensions: Int
    /// The pooling the vectors were made with (queries use the same).
    public var pooling: EmbeddingPooling

    public init(name: String, fingerprint: UInt64, dimensions: Int, pooling: EmbeddingPooling) {
        self.name = name
        self.fingerprint = fingerprint
        self.dimensions = dimensions
        self.pooling = pooling
    }

    /// "all-MiniLM-L6-v2 (ae41…)": how errors name an embedder.
    public var label: String { "'\(name)' (fingerprint \(ContentHash.hex(fingerprint)), \(dimensions) dimensions)" }
}

/// A document of a knowledge base: where its chunks came from.
public struct KnowledgeDocument: Equatable, Sendable {
    /// The caller's identifier (unique within a knowledge base; `remove` uses it).
    public var id: String
    public var title: String
    public var url: String
    /// Bytes of the source text the document was made from.
    public var sourceBytes: Int

    public init(id: String, title: String, url: String, sourceBytes: Int = 0) {
        self.id = id
        self.title = title
        self.url = url
        self.sourceBytes = sourceBytes
    }
}

/// A passage of a document: the unit that is embedded, searched and quoted.
public struct KnowledgeChunk: Equatable, Sendable {
    /// Index into `KnowledgeBase.documents`.
    public var document: Int
    /// The headings above the passage ("Ordering › Cakes"), possibly empty.
    public var heading: String
    public var text: String

    public init(document: Int, heading: String, text: String) {
        self.document = document
        self.heading = heading
        self.text = text
    }
}

/// One search result.
public struct KnowledgeHit: Sendable {
    public var chunk: Int
    public var score: Float
}

/// Documents, their chunks and one vector per chunk, with exact nearest-neighbour search.
/// Saved and loaded as a knowledge file (KnowledgeFile.swift, DESIGN.md); the browser keeps
/// one per document in IndexedDB and merges them.
public final class KnowledgeBase {
    public let embedder: EmbedderIdentity
    public let vectorForm: VectorForm
    public private(set) var documents: [KnowledgeDocument] = []
    public private(set) var chunks: [KnowledgeChunk] = []
    var vectors: VectorStore

    public var dimensions: Int { embedder.dimensions }

    public init(embedder: EmbedderIdentity, vectorForm: VectorForm = .int8) {
        self.embedder = embedder
        self.vectorForm = vectorForm
        vectors = VectorStore(form: vectorForm, dimensions: embedder.dimensions)
    }

    public func documentIndex(id: String) -> Int? { documents.firstIndex { $0.id == id } }

    /// Appends documents and chunks whose vectors the caller appends to `vectors` itself.
    func appendLoaded(_ newDocuments: [KnowledgeDocument], _ newChunks: [KnowledgeChunk]) {
        let offset = documents.count
        documents.append(contentsOf: newDocuments)
        for c in newChunks { chunks.append(KnowledgeChunk(document: c.document + offset, heading: c.heading, text: c.text)) }
    }

    /// Adds a document with its chunks and their vectors (`chunks.count` × dimensions floats,
    /// unit length), replacing a document with the same id.
    public func add(_ document: KnowledgeDocument, chunks newChunks: [(heading: String, text: String)],
                    vectors buffer: UnsafeBufferPointer<Float>) throws(TinyLMError) {
        guard buffer.count == newChunks.count * dimensions else {
            throw .invalidArgument("\(newChunks.count) chunks need \(newChunks.count * dimensions) vector values, got \(buffer.count)")
        }
        remove(documentID: document.id)
        guard let floats = buffer.baseAddress else {
            documents.append(document)
            return
        }
        let index = documents.count
        documents.append(document)
        vectors.reserve(newChunks.count)
        for (i, chunk) in newChunks.enumerated() {
            chunks.append(KnowledgeChunk(document: index, heading: chunk.heading, text: chunk.text))
            vectors.append(floats + i * dimensions)
        }
    }

    /// Removes a document and its chunks; false if there is none with that id.
    @discardableResult
    public func remove(documentID: String) -> Bool {
        guard let index = documentIndex(id: documentID) else { return false }
        let keep = chunks.map { $0.document != index }
        vectors.filter { keep[$0] }
        chunks = chunks.filter { $0.document != index }.map { chunk in
            var c = chunk
            if c.document > index { c.document -= 1 }
            return c
        }
        documents.remove(at: index)
        return true
    }

    /// Adds every document of `other` (same embedder and vector form), replacing same-id ones.
    public func merge(_ other: KnowledgeBase) throws(TinyLMError) {
        guard other.embedder.fingerprint == embedder.fingerprint, other.embedder.dimensions == embedder.dimensions else {
            throw TinyLMError(.embedderMismatch, "cannot merge knowledge built with \(other.embedder.label) into knowledge built with \(embedder.label)")
        }
        guard other.vectorForm == vectorForm else {
            throw .invalidArgument("cannot merge \(other.vectorForm.name) vectors into a \(vectorForm.name) knowledge base")
        }
        for d in other.documents { remove(documentID: d.id) }
        let offset = documents.count
        documents.append(contentsOf: other.documents)
        for c in other.chunks { chunks.append(KnowledgeChunk(document: c.document + offset, heading: c.heading, text: c.text)) }
        vectors.append(from: other.vectors, 0..<other.chunks.count)
    }

    /// The `k` chunks most similar to `query` (a unit vector from the same embedder), best
    /// first; equal scores in chunk order.
    public func search(_ query: UnsafePointer<Float>, k: Int, executor: any ComputeExecutor = SerialExecutor()) -> [KnowledgeHit] {
        let n = chunks.count
        guard n > 0, k > 0 else { return [] }
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { scores.deallocate() }
        vectors.scores(query, into: scores, executor: executor)
        return Self.best(scores, count: n, k: min(k, n))
    }

    public func search(_ query: [Float], k: Int, executor: any ComputeExecutor = SerialExecutor()) throws(TinyLMError) -> [KnowledgeHit] {
        guard query.count == dimensions else {
            throw .invalidArgument("query has \(query.count) dimensions; this knowledge base has \(dimensions)")
        }
        return query.withUnsafeBufferPointer { search($0.baseAddress!, k: k, executor: executor) }
    }

    /// Top k of `scores` by a small sorted buffer (k is small: a few passages).
    static func best(_ scores: UnsafePointer<Float>, count: Int, k: Int) -> [KnowledgeHit] {
        var top: [KnowledgeHit] = []
        top.reserveCapacity(k + 1)
        var threshold = -Float.infinity
        for i in 0..<count {
            let s = scores[i]
            if top.count == k && !(s > threshold) { continue }
            var j = top.count
            while j > 0 && top[j - 1].score < s { j -= 1 }
            top.insert(KnowledgeHit(chunk: i, score: s), at: j)
            if top.count > k { top.removeLast() }
            if top.count == k { threshold = top[k - 1].score }
        }
        return top
    }

    /// The stored vector of chunk `index`, as floats (after the storage's rounding).
    public func vector(_ index: Int) -> [Float] {
        var out = [Float](repeating: 0, count: dimensions)
        out.withUnsafeMutableBufferPointer { vectors.vector(index, into: $0.baseAddress!) }
        return out
    }

    /// Bytes a chunk takes in a knowledge file, averaged (vector, scale, text and framing).
    public var bytesPerChunk: Double {
        chunks.isEmpty ? 0 : Double(KnowledgeFile.write(self).count) / Double(chunks.count)
    }
}
