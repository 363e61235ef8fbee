import Foundation
import Testing
@testable import TinyLM

/// The small random-weight models of Tests/models — one per architecture, one per weight
/// format (scripts/make-test-models.py) — against llama.cpp's outputs on them
/// (Tests/models/reference, scripts/llama-reference.py; same settings as ../shared/reference).
///
/// A model whose weight matrices all use formats of `bitExactFormats` must give llama.cpp's
/// logits bit for bit: the whole vocabulary at the end of every prompt (short prompts go
/// through llama.cpp's one-row flash attention, prompts of 64+ tokens through its tiled one),
/// and the reference top-5 at every teacher-forced decode step, so its greedy ids are
/// llama.cpp's outright. The other models are held to the reference README's rule (same
/// top-1, |Δlogit| about 1 at most; greedy ids exact up to the first fragile step) with
/// "fragile" scaled to these models: a step whose top-1/top-2 gap is under `fragileGap` (their
/// near-flat random logits move by up to about 0.3 when only the float order differs, where
/// the real models' move by a few hundredths).
@Suite struct TestModelReferenceTests {
    /// Weight formats whose kernels add in the order of llama.cpp's (x86, AVX-512 build). Move a
    /// format here when its kernels follow that order: its model is then checked bit for bit.
    /// (F32 and F16 matrices: llama.cpp's vec_dot_f16/f32 and tinyBLAS orders are not followed.)
    static let bitExactFormats: Set<TensorType> = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// Where a step counts as fragile when the case is not bit-exact.
    static let fragileGap = 0.5

    struct Case: Sendable, CustomTestStringConvertible {
        /// Folder of <models>/reference.
        let folder: String
        /// <models>/<model>
        let model: String
        /// The context llama.cpp ran with (LongRoPE picks its factors by it).
        let context: Int
        var testDescription: String { folder }
    }

    /// Tests/models, or $TINYLM_TEST_MODELS: any folder of GGUF files with a reference/ that
    /// scripts/llama-reference.py wrote (e.g. `make-test-models.py --shape` models, or real ones).
    static let root: URL = ProcessInfo.processInfo.environment["TINYLM_TEST_MODELS"].map { URL(fileURLWithPath: $0) }
        ?? TestSupport.testModelsRoot
    static let referenceRoot = root.appendingPathComponent("reference")

    /// Every folder of the reference's manifest.json.
    static let cases: [Case] = {
        guard let data = FileManager.default.contents(atPath: referenceRoot.appendingPathComponent("manifest.json").path),
              let manifest = try? JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else { return [] }
        return manifest.keys.sorted().map { folder in
            Case(folder: folder, model: manifest[folder]!["model"] as! String, context: manifest[folder]!["context"] as! Int)
        }
    }()

    static func model(_ c: Case) throws -> Model {
        try TestSupport.model(root.appendingPathComponent(c.model).path)
    }

    static func reference(_ c: Case) throws -> ReferenceVectors {
        try ReferenceVectors(c.folder, root: referenceRoot)
    }

    /// Whether every weight matrix of `model` uses a bit-exact format.
    static func isBitExact(_ model: Model) -> Bool {
        model.gguf.tensors.allSatisfy { $0.shape.count < 2 || bitExactFormats.contains($0.type) }
    }

    /// Room for the longest reference prompt in one batch, as llama.cpp evaluated it.
    static let batchSize = 128

    /// The committed test models: one per architecture, one per weight format.
    @Test func theTestModelsAreAllThere() throws {
        let expected = ["llama-smollm2", "llama3", "qwen2", "qwen3", "phi3", "phi3-longrope", "phi3-longrope-ctx8192", "gemma3"]
            + ["f32", "f16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k"].map { "llama-" + $0 }
        if Self.root == TestSupport.testModelsRoot {
            #expect(Set(Self.cases.map(\.folder)) == Set(expected))
        } else {
            #expect(!Self.cases.isEmpty, "no reference/manifest.json under \(Self.root.path)")
        }
    }

    /// What each architecture's recipe and metadata make of the committed models.
    @Test func configurationsComeFromMetadata() throws {
        func config(_ name: String) throws -> ModelConfig {
            try TestSupport.model(TestSupport.testModelsRoot.appendingPathComponent("\(name).gguf").path).config
        }
        let llama3 = try config("llama3")
        #expect(llama3.architecture == .llama && llama3.ropeStyle == .adjacentPairs && llama3.ropeBase == 500_000)
        #expect(llama3.headCount == 8 && llama3.kvHeadCount == 2 && llama3.keyLength == 32)
        let qwen3 = try config("qwen3")
        #expect(qwen3.architecture == .qwen3 && qwen3.ropeStyle == .halves && qwen3.keyLength == 128 && qwen3.queryDimension == 512)
        let phi3 = try config("phi3")
        #expect(phi3.architecture == .phi3 && phi3.slidingWindow == 0)  // the file's window is ignored, as llama.cpp does
        let longrope = try config("phi3-longrope")
        #expect(longrope.ropeDimensionCount == 48 && longrope.keyLength == 64 && longrope.ropeOriginalContextLength == 4096)
        #expect(abs(longrope.ropeAttentionFactor - 1.1902381) < 1e-6 && longrope.trainedContextLength == 131072)
        let gemma3 = try config("gemma3")
        #expect(gemma3.slidingWindow == 8 && gemma3.slidingWindowPattern == 2 && gemma3.ropeLocalBase == 10_000)
        #expect(gemma3.usesSlidingWindow(layer: 0) && !gemma3.usesSlidingWindow(layer: 1))
    }

    @Test(arguments: cases) func promptLogits(_ c: Case) throws {
        let model = try Self.model(c)
        let reference = try Self.reference(c)
        let folder = Self.referenceRoot.appendingPathComponent("\(c.folder)/logits_full")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(files.count == reference.logits.count)
        let exact = Self.isBitExact(model)
        var worst: Float = 0
        for l in reference.logits {
            let file = try #require(files.first { $0.dropFirst(3) == "\(l.name).f32" }, "no full logits for \(l.name)")
            let data = try Data(contentsOf: folder.appendingPathComponent(file))
            let expected = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let session = try Session(model: model, contextLength: c.context, batchSize: Self.batchSize)
            try session.evaluate(l.promptIDs)
            let logits = Array(session.logits)
            try #require(logits.count == expected.count)
            let differing = zip(logits, expected).filter { $0 != $1 }.count
            for (ours, theirs) in zip(logits, expected) { worst = max(worst, abs(ours - theirs)) }
            if exact {
                #expect(differing == 0, "\(c.folder)/\(l.name): \(differing) of \(expected.count) logits differ from llama.cpp's")
            } else {
                let gap = try #require(reference.greedy.first { $0.name == l.name }).gaps[0]
                if gap >= Self.fragileGap {
                    #expect(Sampler.argmax(logits, count: logits.count) == l.topIDs[0], "\(c.folder)/\(l.name): top-1 differs")
                }
                for id in l.topIDs {
                    #expect(abs(logits[Int(id)] - expected[Int(id)]) <= 1, "\(c.folder)/\(l.name): logit of \(id) is \(logits[Int(id)]), llama.cpp \(expected[Int(id)])")
                }
            }
        }
        print("\(c.folder): prompt logits \(exact ? "bit-exact" : "by the README rule"), max |Δ| over the vocabulary \(worst)")
    }

    @Test(arguments: cases) func greedyContinuations(_ c: Case) throws {
        let model = try Self.model(c)
        let exact = Self.isBitExact(model)
        for g in try Self.reference(c).greedy {
            let summary = try ReferenceVectors.check(model, g, contextLength: c.context, batchSize: Self.batchSize,
                                                     fragileGap: exact ? ReferenceVectors.fragileGap : Self.fragileGap)
            print("\(c.folder) \(exact ? "[bit-exact]" : "[README rule]") \(summary.line)")
            if exact {
                #expect(summary.maxTop5Difference == 0, "\(c.folder)/\(g.name): decode-step logits differ from llama.cpp's by up to \(summary.maxTop5Difference)")
                let run = try ReferenceVectors.teacherForce(model, g, contextLength: c.context, batchSize: Self.batchSize)
                #expect(run.top1 == g.generatedIDs, "\(c.folder)/\(g.name): greedy ids differ from llama.cpp's")
            } else {
                #expect(summary.maxTop5Difference <= 1, "\(c.folder)/\(g.name): decode-step logits differ from llama.cpp's by up to \(summary.maxTop5Difference)")
            }
        }
    }

    @Test(arguments: cases.filter { $0.context == 2048 }) func tokenizationMatchesLlamaCpp(_ c: Case) throws {
        let model = try Self.model(c)
        for line in try TestSupport.jsonLines("\(c.folder)/tokenize.jsonl", root: Self.referenceRoot) {
            let text = line["text"] as! String
            let ids = model.tokenizer.encode(text, addSpecial: line["add_special"] as! Bool, parseSpecial: line["parse_special"] as! Bool)
            #expect(ids == TestSupport.ids(line["ids"]), "\(c.folder): \(text.debugDescription)")
        }
    }

    @Test(arguments: cases.filter { $0.context == 2048 }) func endOfGenerationTokensMatchLlamaCpp(_ c: Case) throws {
        let model = try Self.model(c)
        let url = Self.referenceRoot.appendingPathComponent("\(c.folder)/vocabulary.json")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        #expect(model.tokenizer.endOfGenerationIDs == TestSupport.ids(object["end_of_generation_ids"]), "\(c.folder)")
    }

    /// The chat prompts come from each model's own template (Gemma's: the built-in format);
    /// rendered by ChatFormatter they must be the reference's text and tokens.
    @Test(arguments: cases.filter { $0.context == 2048 }) func chatPromptsMatchReference(_ c: Case) throws {
        let model = try Self.model(c)
        let formatter = try ChatFormatter(model: model)
        var checked = 0
        for line in try TestSupport.jsonLines("\(c.folder)/greedy.jsonl", root: Self.referenceRoot)
        where line["kind"] as? String == "chat" {
            let message = line["user_message"] as! String
            var context = JSONObject()
            context["messages"] = .array([.object(JSONObject([("role", .string("user")), ("content", .string(message))]))])
            let text = try formatter.prompt(context: context, now: TemplateDateTime(year: 2026, month: 1, day: 2, hour: 3, minute: 4, second: 5))
            #expect(text == line["prompt_text"] as! String, "\(c.folder)")
            #expect(formatter.tokens(forPrompt: text) == TestSupport.ids(line["prompt_ids"]), "\(c.folder)")
            checked += 1
        }
        #expect(checked == 2)
    }
}

extension Sampler {
    static func argmax(_ values: [Float], count: Int) -> Int32 {
        values.withUnsafeBufferPointer { argmax($0.baseAddress!, count: count) }
    }
}
