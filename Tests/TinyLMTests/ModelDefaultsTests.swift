import Testing
@testable import TinyLM

/// A model's readable name and recommended sampling: from the real models' metadata, and from
/// GGUF files written here to cover the GGUF keys and the fallbacks.
@Suite struct ModelDefaultsTests {
    /// Runs `body` on a metadata-only GGUF file.
    private func withGGUF<T>(_ metadata: [(String, GGUFWriter.Value)], _ body: (GGUFFile) throws -> T) throws -> T {
        var writer = GGUFWriter()
        writer.metadata = metadata
        let bytes = writer.bytes()
        return try bytes.withUnsafeBytes { raw in try body(try GGUFFile(bytes: raw)) }
    }

    @Test func realModelsHaveReadableNamesAndTheirCardsSampling() throws {
        let smol = try TestSupport.smolLM2()
        #expect(smol.displayName == "SmolLM2 135M Instruct")
        let smolSampling = smol.recommendedSampling
        #expect(smolSampling.source == .table)
        #expect(smolSampling.parameters.temperature == 0.2 && smolSampling.parameters.topP == 0.9 && smolSampling.parameters.repeatPenalty == 1.1)

        let gemma = try TestSupport.gemma3()
        #expect(gemma.displayName == "Gemma 3 270M")
        let g = gemma.recommendedSampling.parameters
        #expect(gemma.recommendedSampling.source == .table)
        #expect(g.temperature == 1.0 && g.topK == 64 && g.topP == 0.95 && g.minP == 0)

        // The info JSON the web API reads.
        let info = try JSONValue(parsing: ModelInfo.json(smol))
        #expect(info["name"]?.stringValue == "SmolLM2 135M Instruct")
        #expect(info["ggufName"]?.stringValue == "Smollm2 135M 8k Lc100K Mix1 Ep2")
        let sampling = try #require(info["sampling"])
        #expect(sampling["temperature"]?.doubleValue == 0.2)
        #expect(sampling["topK"]?.intValue == 40)
        #expect(sampling["topP"]?.doubleValue == 0.9)
        #expect(sampling["minP"]?.doubleValue == 0.05)
        #expect(sampling["repeatPenalty"]?.doubleValue == 1.1)
        #expect(sampling["source"]?.stringValue == "table")
    }

    @Test func ggufSamplingKeysComeFirstAndOverlayTheTable() throws {
        let sampling = try withGGUF([
            ("general.architecture", .string("llama")), ("general.basename", .string("SmolLM2")),
            ("general.sampling.temp", .f32(0.6)), ("general.sampling.top_k", .i32(20)),
            ("general.sampling.penalty_repeat", .f32(1.05)), ("general.sampling.penalty_last_n", .i32(-1)),
            ("general.sampling.mirostat", .i32(2)),
        ]) { RecommendedSampling(gguf: $0) }
        #expect(sampling.source == .gguf)
        #expect(sampling.parameters.temperature == 0.6 && sampling.parameters.topK == 20)
        #expect(sampling.parameters.repeatPenalty == 1.05 && sampling.parameters.repeatWindow == Int(Int32.max))
        #expect(sampling.parameters.topP == 0.9)  // from the SmolLM2 entry, which the keys do not override

        // Out-of-range values are ignored, not trusted.
        let bad = try withGGUF([("general.architecture", .string("llama")), ("general.sampling.top_p", .f32(1.5)),
                                ("general.sampling.temp", .f32(-1))]) { RecommendedSampling(gguf: $0) }
        #expect(bad.source == .defaults)
        #expect(bad.parameters.topP == SamplingParameters().topP && bad.parameters.temperature == SamplingParameters().temperature)
    }

    @Test func tableMatchesOnBasenameNameOrArchitecture() throws {
        let qwen = try withGGUF([("general.architecture", .string("qwen2")), ("general.name", .string("Qwen2.5 0.5B Instruct"))]) { RecommendedSampling(gguf: $0) }
        #expect(qwen.source == .table && qwen.parameters.topK == 20 && qwen.parameters.repeatPenalty == 1.05)
        let llama = try withGGUF([("general.architecture", .string("llama")), ("general.basename", .string("Llama-3.2"))]) { RecommendedSampling(gguf: $0) }
        #expect(llama.source == .table && llama.parameters.temperature == 0.6)
        let gemma = try withGGUF([("general.architecture", .string("gemma3"))]) { RecommendedSampling(gguf: $0) }
        #expect(gemma.source == .table && gemma.parameters.topK == 64)
        let unknown = try withGGUF([("general.architecture", .string("llama")), ("general.name", .string("Mystery 1B"))]) { RecommendedSampling(gguf: $0) }
        #expect(unknown.source == .defaults && unknown.reference == nil)
    }

    @Test func displayNames() {
        func name(_ basename: String?, _ size: String?, _ finetune: String?, _ generalName: String? = nil) -> String {
            ModelDisplayName(basename: basename, sizeLabel: size, finetune: finetune, name: generalName, architecture: "llama").text
        }
        #expect(name("smollm2", "135M", "8k-lc100k-mix1-ep2", "Smollm2 135M 8k Lc100K Mix1 Ep2") == "SmolLM2 135M Instruct")
        #expect(name("smollm2", "360M", "instruct") == "SmolLM2 360M Instruct")
        #expect(name("gemma-3", "270m", "it") == "Gemma 3 270M IT")
        #expect(name("Qwen2.5", "0.5B", "Instruct") == "Qwen2.5 0.5B Instruct")
        #expect(name("Meta-Llama-3.1", "8B", "Instruct") == "Meta Llama 3.1 8B Instruct")
        #expect(name("tinyllama", "1.1b", "chat-v1.0") == "TinyLlama 1.1B")
        #expect(name(nil, nil, nil, "My Model") == "My Model")
        #expect(name(nil, nil, nil, nil) == "llama")
        #expect(name("  ", "1B", nil, "Named") == "Named")
    }
}
