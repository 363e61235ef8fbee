/// A document to add to a knowledge base: its text and where it came from.
public struct KnowledgeSource: Sendable {
    public var id: String
    /// nil: the title the text declares (HTML <title>, front matter, first heading), else the id.
    public var title: String?
    public var url: String
    public var text: String
    public var format: DocumentFormat

    public init(id: String, title: String? = nil, url: String = "", text: String, format: DocumentFormat) {
        self.id = id
        self.title = title
        self.url = url
        self.text = text
        self.format = format
    }
}

/// A document cut into chunks, ready to be embedded.
public struct PreparedDocument: Sendable {
    public var document: KnowledgeDocument
    public var chunks: [DocumentChunker.Chunk]
    /// What the embedder sees for each chunk (title and heading line, then the text).
    public var embeddingTexts: [String]
}

/// Building knowledge: chunk, embed (in batches, reporting progress), store. The CLI's
/// `tinylm index` and the browser (through the wasm ABI) both go this way.
public enum KnowledgeIndexer {
    public static func prepare(_ source: KnowledgeSource, chunker: DocumentChunker) -> PreparedDocument {
        let parsed = DocumentText(source.text, format: source.format)
        let title = source.title ?? parsed.title ?? source.id
        let chunks = chunker.chunks(of: parsed, title: title)
        let document = KnowledgeDocument(id: source.id, title: title, url: source.url, sourceBytes: source.text.utf8.count)
        return PreparedDocument(document: document, chunks: chunks,
                                embeddingTexts: chunks.map { DocumentChunker.embeddingText(title: title, heading: $0.heading, text: $0.text) })
    }

    /// Embeds the chunks `batch` at a time (`progress(done)` after each batch) and adds the
    /// document to `base`, replacing one with the same id. Nothing is added if embedding fails.
    public static func add(_ prepared: PreparedDocument, to base: KnowledgeBase, embedder: TextEmbedder, batch: Int = 32,
                           progress: (Int) -> Void = { _ in }) throws(TinyLMError) {
        try requireSameEmbedder(base, embedder)
        let texts = prepared.embeddingTexts
        var vectors = [Float](repeating: 0, count: texts.count * base.dimensions)
        var done = 0
        while done < texts.count {
            let end = min(texts.count, done + max(1, batch))
            let result = try embedder.embed(Array(texts[done..<end]), pooling: base.embedder.pooling)
            for i in 0..<result.vectors.count { vectors[done * base.dimensions + i] = result.vectors[i] }
            done = end
            progress(done)
        }
        try vectors.withUnsafeBufferPointer { (v) throws(TinyLMError) in
            try base.add(prepared.document, chunks: prepared.chunks.map { ($0.heading, $0.text) }, vectors: v)
        }
    }

    /// The passages most relevant to `question`: embedded with the knowledge base's pooling,
    /// searched exactly.
    public static func search(_ question: String, in base: KnowledgeBase, embedder: TextEmbedder, k: Int,
                              executor: any ComputeExecutor = SerialExecutor()) throws(TinyLMError) -> [KnowledgeHit] {
        try requireSameEmbedder(base, embedder)
        let query = try embedder.embed([question], pooling: base.embedder.pooling)
        return try base.search(query.vectors, k: k, executor: executor)
    }

    static func requireSameEmbedder(_ base: KnowledgeBase, _ embedder: TextEmbedder) throws(TinyLMError) {
        let given = embedder.identity
        guard given.fingerprint == base.embedder.fingerprint, given.dimensions == base.dimensions else {
            throw TinyLMError(.embedderMismatch,
                              "this knowledge was built with the embedder \(base.embedder.label), but the embedder given is \(given.label): rebuild the knowledge with it, or load the embedder it was built with")
        }
    }
}
