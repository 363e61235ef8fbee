import Foundation
import Testing
@testable import TinyLM
import TinyLMHost

/// all-MiniLM-L6-v2 (F16 GGUF from scripts/fetch-models.sh minilm) against the
/// sentence-transformers reference in ../shared/reference/minilm/.
enum EmbeddingSupport {
    static let miniLMPath = TestSupport.repoRoot.appendingPathComponent("models/all-MiniLM-L6-v2.gguf").path

    struct Reference {
        let id: String
        let text: String
        let ids: [Int32]
        let embedding: [Double]
    }

    static func references() throws -> [Reference] {
        try TestSupport.jsonLines("minilm/embeddings.jsonl").map { line in
            Reference(id: line["id"] as! String, text: line["text"] as! String,
                      ids: TestSupport.ids(line["ids"]),
                      embedding: (line["embedding"] as! [Any]).map { ($0 as! NSNumber).doubleValue })
        }
    }

    nonisolated(unsafe) private static var file: MappedFile? = nil
    private static let lock = NSLock()

    /// The model's bytes, mapped once per test process.
    static func miniLMBytes() throws -> UnsafeRawBufferPointer {
        lock.lock(); defer { lock.unlock() }
        if let file { return file.bytes }
        let mapped = try MappedFile(path: try TestSupport.requireFile(miniLMPath))
        file = mapped
        return mapped.bytes
    }

    static func miniLM(threads: Int = 1) throws -> TextEmbedder {
        let executor: any ComputeExecutor = threads > 1 ? ThreadPool(threads: threads) : SerialExecutor()
        return try TextEmbedder(bytes: try miniLMBytes(), executor: executor)
    }

    static func cosine(_ a: ArraySlice<Float>, _ b: [Double]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for (x, y) in zip(a, b) {
            dot += Double(x) * y
            na += Double(x) * Double(x)
            nb += y * y
        }
        return dot / (na.squareRoot() * nb.squareRoot())
    }
}

@Suite(.serialized) struct EmbeddingReferenceTests {
    @Test func tokenIDsEqualTheReference() throws {
        let embedder = try EmbeddingSupport.miniLM()
        for r in try EmbeddingSupport.references() {
            let tokenized = embedder.tokenize(r.text)
            #expect(tokenized.ids == r.ids, "\(r.id) \(r.text.debugDescription)")
        }
    }

    @Test func embeddingsMatchSentenceTransformers() throws {
        let embedder = try EmbeddingSupport.miniLM()
        let references = try EmbeddingSupport.references()
        let result = try embedder.embed(references.map(\.text))
        #expect(result.count == references.count)
        var worst = 1.0
        for (i, r) in references.enumerated() {
            let c = EmbeddingSupport.cosine(result.vector(i), r.embedding)
            worst = min(worst, c)
            #expect(c >= 0.9999, "\(r.id): cosine \(c)")
        }
        print("all-MiniLM-L6-v2 F16: lowest cosine to the reference \(worst)")
    }

    @Test func longTextIsCutAtTheModelsLimitAndSaysSo() throws {
        let embedder = try EmbeddingSupport.miniLM()
        #expect(embedder.maxTokens == 256)
        let long = try EmbeddingSupport.references().first { $0.ids.count == 256 }!
        let tokenized = embedder.tokenize(long.text)
        #expect(tokenized.truncated)
        #expect(tokenized.fullCount > 256)
        #expect(tokenized.ids.count == 256 && tokenized.ids.last == 102)
        let result = try embedder.embed([long.text, "short"])
        #expect(result.truncated == [true, false])
        #expect(result.tokenCounts[0] == 256)
        // A limit below the model's is honoured too.
        try embedder.setMaxTokens(16)
        #expect(embedder.tokenize(long.text).ids.count == 16)
        #expect(throws: TinyLMError.self) { try embedder.setMaxTokens(513) }
        try embedder.setMaxTokens(256)
    }

    @Test func emptyTextIsClsSepWithAUnitVector() throws {
        let embedder = try EmbeddingSupport.miniLM()
        #expect(embedder.tokenize("").ids == [101, 102])
        #expect(embedder.tokenize(" \t\n").ids == [101, 102])
        let result = try embedder.embed(["", "a"])
        var norm: Float = 0
        for x in result.vector(0) { norm += x * x }
        #expect(abs(norm - 1) < 1e-5)
        #expect(result.vector(0) != result.vector(1))
        #expect(try embedder.embed([]).count == 0)
    }

    /// Packing many texts into one pass, splitting them over passes and threads never changes
    /// a text's vector: each is its own computation, in the same order.
    @Test func batchingAndThreadsGiveTheSameBits() throws {
        let texts = try EmbeddingSupport.references().map(\.text)
        let together = try EmbeddingSupport.miniLM().embed(texts)
        let threaded = try EmbeddingSupport.miniLM(threads: 2).embed(texts)
        #expect(together.vectors == threaded.vectors)
        let oneByOne = try EmbeddingSupport.miniLM()
        for (i, text) in texts.enumerated() {
            #expect(Array(try oneByOne.embed([text]).vector(0)) == Array(together.vector(i)), "\(i)")
        }
    }

    @Test func poolingFromTheFileAndOverridden() throws {
        let embedder = try EmbeddingSupport.miniLM()
        #expect(embedder.config.pooling == .mean)
        let mean = try embedder.embed(["Paris is the capital of France."])
        let cls = try embedder.embed(["Paris is the capital of France."], pooling: .cls)
        #expect(mean.vectors != cls.vectors)
        var norm: Float = 0
        for x in cls.vectors { norm += x * x }
        #expect(abs(norm - 1) < 1e-5)
    }

    /// Similar sentences score higher than unrelated ones (what retrieval relies on).
    @Test func paraphrasesAreCloserThanUnrelatedTexts() throws {
        let e = try EmbeddingSupport.miniLM().embed([
            "The cat sits on the mat.", "A feline is resting on a rug.", "Stock markets fell sharply today."])
        func dot(_ a: Int, _ b: Int) -> Float { zip(e.vector(a), e.vector(b)).reduce(0) { $0 + $1.0 * $1.1 } }
        #expect(dot(0, 1) > dot(0, 2) + 0.3)
    }

    @Test func chatModelAndEmbedderAreNotInterchangeable() throws {
        let chat = try MappedFile(path: try TestSupport.requireFile(TestSupport.smolLM2Path))
        #expect {
            _ = try TextEmbedder(bytes: chat.bytes)
        } throws: { error in
            let e = error as! TinyLMError
            return e.kind == .wrongModelKind && e.message.contains("'llama'") && e.message.contains("not an embedding model")
        }
        #expect {
            _ = try Model(bytes: try EmbeddingSupport.miniLMBytes())
        } throws: { error in
            let e = error as! TinyLMError
            return e.kind == .wrongModelKind && e.message.contains("'bert'") && e.message.contains("embedding model")
        }
    }

    /// `Tokenizer` alone (what `tinylm tokenize` uses) reads the embedder's vocabulary and adds
    /// [CLS] … [SEP] as llama.cpp does for WordPiece vocabularies.
    @Test func tokenizerAloneAddsClsAndSep() throws {
        let tokenizer = try Tokenizer(gguf: try GGUFFile(bytes: try EmbeddingSupport.miniLMBytes()))
        #expect(tokenizer.encode("Hello, world!", addSpecial: true) == [101, 7592, 1010, 2088, 999, 102])
        #expect(tokenizer.encode("unaffable", addSpecial: false) == [14477, 20961, 3468])
        #expect(tokenizer.decode([7592, 1010, 2088]) == " hello, world")
    }
}
