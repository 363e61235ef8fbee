import Foundation
import Testing
@testable import TinyLM
import TinyLMHost

/// Knowledge files, chunking, the content hash, and encoder files in llama.cpp's other
/// layouts (tiny generated BERT models).
@Suite(.serialized) struct KnowledgeTests {
    // MARK: ContentHash: the documented definition (values from an independent Python
    // implementation of the doc comment).

    @Test func contentHashMatchesItsDefinition() {
        #expect(ContentHash.of(UnsafeRawBufferPointer(start: nil, count: 0)) == 0x2412_0017_a24f_783c)
        #expect(Array("abc".utf8).withUnsafeBytes { ContentHash.of($0) } == 0x3984_b2ce_84b3_ab97)
        let hundred = (0..<100).map { UInt8($0) }
        #expect(hundred.withUnsafeBytes { ContentHash.of($0) } == 0x9792_ec62_7c95_a35e)
        // Fed in uneven pieces, the same value.
        var split = ContentHash()
        split.update(Array(hundred[0..<7])); split.update(Array(hundred[7..<40])); split.update(Array(hundred[40...]))
        #expect(split.finalize() == 0x9792_ec62_7c95_a35e)
    }

    // MARK: Document text

    @Test func markdownHeadingsFrontMatterFencesAndLinks() {
        let md = """
        ---
        title: "Bakery hours"
        ---
        # Hours

        Open **Monday** to [Friday](/days).

        Setext heading
        --------------

        ```
        code block

        with a blank line
        ```
        """
        let doc = DocumentText(md, format: .markdown)
        #expect(doc.title == "Bakery hours")
        #expect(doc.blocks == [
            .init(level: 1, text: "Hours"), .init(level: 0, text: "Open Monday to Friday."),
            .init(level: 2, text: "Setext heading"), .init(level: 0, text: "```\ncode block\n\nwith a blank line\n```"),
        ])
    }

    @Test func htmlTitleHeadingsAndSkippedParts() {
        let html = """
        <!doctype html><html><head><title>Allergens &amp; more</title><script>var x = "<h1>no</h1>";</script></head>
        <body><nav><a href="/">Home</a></nav><h1>Allergens</h1><p>Gluten in <b>all</b>&nbsp;bread.<br>Nuts: yes &#8211; some.</p>
        <ul><li>Rye</li><li>Spelt</li></ul><!-- <p>hidden</p> --><h2 class="x">Dairy</h2><p>Milk &lt;1%</p></body></html>
        """
        let doc = DocumentText(html, format: .html)
        #expect(doc.title == "Allergens & more")
        #expect(doc.blocks.map(\.level) == [1, 0, 0, 0, 2, 0])
        #expect(doc.blocks[1].text == "Gluten in all bread. Nuts: yes – some.")
        #expect(doc.blocks[2].text == "- Rye")
        #expect(doc.blocks[5].text == "Milk <1%")
    }

    @Test func chunksStayWithinTheirSectionAndSizeAndOverlap() throws {
        let embedder = try EmbeddingSupport.miniLM()
        let chunker = DocumentChunker(tokenizer: embedder.tokenizer, maxTokens: 40, overlapTokens: 12)
        var sentences: [String] = []
        for i in 1...30 { sentences.append("Sentence number \(i) talks about bread and cakes.") }
        let md = "# Shop\n\n## Long\n\n" + sentences.joined(separator: " ") + "\n\n## Short\n\nOne line."
        let doc = DocumentText(md, format: .markdown)
        let chunks = chunker.chunks(of: doc, title: "Shop")
        let long = chunks.filter { $0.heading == "Long" }
        #expect(long.count > 3)
        #expect(chunks.last == DocumentChunker.Chunk(heading: "Short", text: "One line."))
        for chunk in chunks {
            let text = DocumentChunker.embeddingText(title: "Shop", heading: chunk.heading, text: chunk.text)
            #expect(embedder.tokenizer.encode(text, addSpecial: false).count <= 40, "\(text)")
        }
        // Every sentence is in some chunk, and consecutive chunks share their boundary sentence.
        for s in sentences { #expect(long.contains { $0.text.contains(s) }, "\(s)") }
        for (a, b) in zip(long, long.dropFirst()) {
            let lastOfA = DocumentChunker.sentences(a.text).last!
            #expect(b.text.hasPrefix(lastOfA), "no overlap between '\(a.text)' and '\(b.text)'")
        }
    }

    // MARK: Knowledge files

    private func sampleBase(_ embedder: TextEmbedder, form: VectorForm = .int8) throws -> KnowledgeBase {
        let base = KnowledgeBase(embedder: embedder.identity, vectorForm: form)
        let chunker = DocumentChunker(tokenizer: embedder.tokenizer)
        let sources = [
            KnowledgeSource(id: "hours.md", url: "/hours", text: "# Hours\n\nOpen Monday to Saturday, 8 to 18.\n\n## Sunday\n\nClosed.", format: .markdown),
            KnowledgeSource(id: "prices.txt", title: "Prices", text: "A loaf costs 4 euros.\n\nA cake costs 30 euros.", format: .text),
            KnowledgeSource(id: "ünïcode", title: "Ünïcode 東京", url: "/ü", text: "Café, naïve — 東京。", format: .text),
        ]
        for s in sources { try KnowledgeIndexer.add(KnowledgeIndexer.prepare(s, chunker: chunker), to: base, embedder: embedder) }
        return base
    }

    @Test func knowledgeFileRoundTrip() throws {
        let embedder = try EmbeddingSupport.miniLM()
        for form in [VectorForm.float32, .float16, .int8] {
            let base = try sampleBase(embedder, form: form)
            let bytes = KnowledgeFile.write(base)
            let read = try bytes.withUnsafeBytes { try KnowledgeFile.read($0, expecting: embedder.identity) }
            #expect(read.documents == base.documents)
            #expect(read.chunks == base.chunks)
            #expect(read.vectorForm == form)
            for i in 0..<base.chunks.count { #expect(read.vector(i) == base.vector(i)) }
            #expect(KnowledgeFile.write(read) == bytes)
            // One document's own file.
            let single = try KnowledgeFile.write(base, only: [1]).withUnsafeBytes { try KnowledgeFile.read($0) }
            #expect(single.documents.map(\.id) == ["prices.txt"])
            #expect(single.chunks.allSatisfy { $0.document == 0 })
        }
    }

    @Test func compactVectorsFindTheSameAsFloat32() throws {
        let embedder = try EmbeddingSupport.miniLM()
        let exact = try sampleBase(embedder, form: .float32)
        let compact = try sampleBase(embedder, form: .int8)
        for question in ["When are you open?", "How much is a cake?", "Tokyo café"] {
            let a = try KnowledgeIndexer.search(question, in: exact, embedder: embedder, k: 3)
            let b = try KnowledgeIndexer.search(question, in: compact, embedder: embedder, k: 3)
            #expect(a.map(\.chunk) == b.map(\.chunk), "\(question)")
            for (x, y) in zip(a, b) { #expect(abs(x.score - y.score) < 0.01) }
        }
    }

    @Test func damagedKnowledgeFilesFailWithANamedErrorNeverACrash() throws {
        let embedder = try EmbeddingSupport.miniLM()
        let bytes = KnowledgeFile.write(try sampleBase(embedder))
        func kind(_ data: [UInt8]) -> TinyLMError.Kind? {
            do { _ = try data.withUnsafeBytes { try KnowledgeFile.read($0, expecting: embedder.identity) }; return nil } catch { return (error as? TinyLMError)?.kind }
        }
        for length in stride(from: 0, to: bytes.count, by: 7) {
            #expect(kind(Array(bytes[0..<length])) == .invalidKnowledgeFile, "truncated to \(length)")
        }
        for position in stride(from: 0, to: bytes.count, by: 5) {
            var flipped = bytes
            flipped[position] ^= 0x20
            // The checksum covers the header too: a flipped fingerprint is damage, not another embedder.
            #expect(kind(flipped) == .invalidKnowledgeFile, "byte \(position)")
        }
        #expect(kind(Array("TINYLMKB but not really".utf8)) == .invalidKnowledgeFile)
    }

    @Test func aFileFromAnotherEmbedderNamesBoth() throws {
        let embedder = try EmbeddingSupport.miniLM()
        let bytes = KnowledgeFile.write(try sampleBase(embedder))
        let other = EmbedderIdentity(name: "bge-small-en-v1.5", fingerprint: 0x1234, dimensions: 384, pooling: .cls)
        #expect {
            _ = try bytes.withUnsafeBytes { try KnowledgeFile.read($0, expecting: other) }
        } throws: { error in
            let e = error as! TinyLMError
            return e.kind == .embedderMismatch && e.message.contains("'all-MiniLM-L6-v2'") && e.message.contains("'bge-small-en-v1.5'")
                && e.message.contains(ContentHash.hex(embedder.fingerprint)) && e.message.contains("0000000000001234")
        }
    }

    @Test func removeAndMerge() throws {
        let embedder = try EmbeddingSupport.miniLM()
        let base = try sampleBase(embedder)
        let hoursChunks = base.chunks.filter { base.documents[$0.document].id == "hours.md" }.count
        let total = base.chunks.count
        #expect(base.remove(documentID: "hours.md"))
        #expect(!base.remove(documentID: "hours.md"))
        #expect(base.chunks.count == total - hoursChunks)
        #expect(base.chunks.allSatisfy { $0.document < base.documents.count })
        for hit in try KnowledgeIndexer.search("opening hours", in: base, embedder: embedder, k: 10) {
            #expect(base.documents[base.chunks[hit.chunk].document].id != "hours.md")
        }
        let fresh = try sampleBase(embedder)
        try base.merge(fresh)
        #expect(base.documents.count == 3)
        #expect(base.chunks.count == total)
    }

    @Test func groundedPromptLayout() {
        let messages = GroundedPrompt.messages([.system("Be brief."), .user("Hi"), .assistant("Hello"), .user("Open on Sunday?")],
                                               passages: [.init(title: "Hours", url: "/hours", heading: "Sunday", text: "Closed.")])
        #expect(messages.count == 4)
        #expect(messages[1].content == "Hi")
        #expect(messages[3].content == GroundedPrompt.instruction + "\n\n[1] Hours › Sunday (/hours)\nClosed.\n\nQuestion: Open on Sunday?")
        #expect(GroundedPrompt.messages([.user("x")], passages: []) == [.user("x")])
    }

    // MARK: Encoder files in llama.cpp's other layouts (tiny generated models)

    /// A 2-layer BERT with hidden size 8, random F32 weights; `fused`: attn_qkv instead of
    /// attn_q/k/v; `typeRows`: rows of token_types (0: no tensor).
    static func tinyBERT(fused: Bool = false, typeRows: Int = 2, pooling: Int? = 1, causal: Bool = false,
                         skip: String? = nil, f16: Bool = false) -> [UInt8] {
        var rng = SeededRandom(seed: 42)
        func values(_ n: Int, scale: Float = 0.3) -> [Float] {
            (0..<n).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1) * scale }
        }
        func f32(_ v: [Float]) -> [UInt8] { v.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }
        let h = 8, ff = 16, layers = 2, ctx = 16
        let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "▁hello", "▁world", "s", "▁a", "▁b", "b"]
        var w = GGUFWriter()
        w.metadata = [
            ("general.architecture", .string("bert")), ("general.name", .string("tiny-bert")),
            ("bert.block_count", .u32(UInt32(layers))), ("bert.context_length", .u32(UInt32(ctx))),
            ("bert.embedding_length", .u32(UInt32(h))), ("bert.feed_forward_length", .u32(UInt32(ff))),
            ("bert.attention.head_count", .u32(2)), ("bert.attention.layer_norm_epsilon", .f32(1e-12)),
            ("bert.attention.causal", .bool(causal)),
            ("tokenizer.ggml.model", .string("bert")), ("tokenizer.ggml.token_type_count", .u32(2)),
            ("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(.int32, tokens.indices.map { .i32($0 < 5 ? 3 : 1) })),
            ("tokenizer.ggml.bos_token_id", .u32(2)), ("tokenizer.ggml.seperator_token_id", .u32(3)),
            ("tokenizer.ggml.unknown_token_id", .u32(1)), ("tokenizer.ggml.padding_token_id", .u32(0)),
        ]
        if let pooling { w.metadata.append(("bert.pooling_type", .u32(UInt32(pooling)))) }
        func matrix(_ name: String, rows: Int, columns: Int) {
            let v = values(rows * columns)
            if f16 {
                w.tensors.append((name, [columns, rows], .f16, v.flatMap { withUnsafeBytes(of: HalfFloat.bits($0).littleEndian, Array.init) }))
            } else {
                w.tensors.append((name, [columns, rows], .f32, f32(v)))
            }
        }
        func vector(_ name: String, _ n: Int, around: Float = 0) {
            w.tensors.append((name, [n], .f32, f32(values(n, scale: 0.1).map { $0 + around })))
        }
        matrix("token_embd.weight", rows: tokens.count, columns: h)
        w.tensors.append(("position_embd.weight", [h, ctx], .f32, f32(values(h * ctx))))
        let typeRow1 = values(h)  // drawn either way, so the other weights do not depend on typeRows
        if typeRows > 0 { w.tensors.append(("token_types.weight", [h, typeRows], .f32, f32([Float](repeating: 0, count: h) + typeRow1))) }
        vector("token_embd_norm.weight", h, around: 1); vector("token_embd_norm.bias", h)
        // The same random stream for the fused and the separate file: q, k, v rows in order.
        for i in 0..<layers {
            let p = "blk.\(i)."
            let q = values(h * h), k = values(h * h), v = values(h * h), bq = values(h, scale: 0.1), bk = values(h, scale: 0.1), bv = values(h, scale: 0.1)
            if fused {
                w.tensors.append((p + "attn_qkv.weight", [h, 3 * h], .f32, f32(q + k + v)))
                w.tensors.append((p + "attn_qkv.bias", [3 * h], .f32, f32(bq + bk + bv)))
            } else {
                w.tensors.append((p + "attn_q.weight", [h, h], .f32, f32(q))); w.tensors.append((p + "attn_q.bias", [h], .f32, f32(bq)))
                w.tensors.append((p + "attn_k.weight", [h, h], .f32, f32(k))); w.tensors.append((p + "attn_k.bias", [h], .f32, f32(bk)))
                w.tensors.append((p + "attn_v.weight", [h, h], .f32, f32(v))); w.tensors.append((p + "attn_v.bias", [h], .f32, f32(bv)))
            }
            matrix(p + "attn_output.weight", rows: h, columns: h); vector(p + "attn_output.bias", h)
            vector(p + "attn_output_norm.weight", h, around: 1); vector(p + "attn_output_norm.bias", h)
            matrix(p + "ffn_up.weight", rows: ff, columns: h); vector(p + "ffn_up.bias", ff)
            matrix(p + "ffn_down.weight", rows: h, columns: ff); vector(p + "ffn_down.bias", h)
            vector(p + "layer_output_norm.weight", h, around: 1); vector(p + "layer_output_norm.bias", h)
        }
        if let skip { w.tensors.removeAll { $0.name == skip } }
        return w.bytes()
    }

    private func embed(_ file: [UInt8], _ texts: [String], pooling: EmbeddingPooling? = nil) throws -> [Float] {
        try file.withUnsafeBytes { raw in try TextEmbedder(bytes: raw).embed(texts, pooling: pooling).vectors }
    }

    @Test func fusedQKVAndMissingTokenTypesGiveTheSameVectors() throws {
        let texts = ["hello world", "a b", "hellos", ""]
        let separate = try embed(Self.tinyBERT(), texts)
        #expect(try embed(Self.tinyBERT(fused: true), texts) == separate)
        #expect(try embed(Self.tinyBERT(typeRows: 0), texts) == separate)
        #expect(try Self.tinyBERT().withUnsafeBytes { try TextEmbedder(bytes: $0).tokenize("hellos b").ids } == [2, 5, 7, 9, 3])
    }

    @Test func poolingFromMetadataAndDefaults() throws {
        let texts = ["hello world"]
        let cls = try embed(Self.tinyBERT(pooling: 2), texts)
        #expect(cls == (try embed(Self.tinyBERT(), texts, pooling: .cls)))
        #expect(cls != (try embed(Self.tinyBERT(), texts)))
        // No pooling type in the file: mean.
        #expect(try embed(Self.tinyBERT(pooling: nil), texts) == (try embed(Self.tinyBERT(), texts)))
        #expect(try Self.tinyBERT(pooling: nil).withUnsafeBytes { try TextEmbedder(bytes: $0).maxTokens } == 16)
    }

    @Test func f16WeightsStayCloseToF32() throws {
        let texts = ["hello world", "a b b"]
        let a = try embed(Self.tinyBERT(), texts), b = try embed(Self.tinyBERT(f16: true), texts)
        for t in 0..<2 {
            var dot: Float = 0
            for i in 0..<8 { dot += a[t * 8 + i] * b[t * 8 + i] }
            #expect(dot > 0.999)
        }
    }

    @Test func badEncoderFilesFailWithNamedErrors() {
        func error(_ file: [UInt8]) -> TinyLMError? {
            do { _ = try file.withUnsafeBytes { try TextEmbedder(bytes: $0) }; return nil } catch { return error as? TinyLMError }
        }
        let missing = error(Self.tinyBERT(skip: "blk.1.ffn_down.weight"))
        #expect(missing?.kind == .malformedModel && missing!.message.contains("blk.1.ffn_down.weight"))
        #expect(error(Self.tinyBERT(causal: true))?.kind == .unsupportedModel)
        #expect(error(Self.tinyBERT(pooling: 4))?.kind == .unsupportedModel)
    }
}
