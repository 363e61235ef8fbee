import Foundation
import Testing
@testable import TinyLM

/// Gemma 3 270M Q4_K_M (Q8_0/Q5_0/Q4_K/Q6_K weights, sliding-window attention) against
/// llama.cpp's reference vectors.
///
/// Every kernel adds in the order of the reference build's (x86, AVX-512) kernels — including
/// the batch-dependent ones llama.cpp picks for K-quants (Kernels/SummationOrder.swift) — and
/// expf, sinf and cosf give glibc's results, so our logits are llama.cpp's to the bit: the full
/// prompt logits, and the reference top-5 of every teacher-forced decode step.
@Suite(.serialized) struct Gemma3ReferenceTests {
    @Test func greedyContinuationsMatchLlamaCpp() throws {
        let model = try TestSupport.gemma3()
        let reference = try ReferenceVectors("gemma3")
        #expect(reference.greedy.count == 8)
        for c in reference.greedy {
            let summary = try ReferenceVectors.check(model, c)
            print(summary.line)
            #expect(summary.maxTop5Difference == 0, "\(c.name): teacher-forced logits differ from llama.cpp's by up to \(summary.maxTop5Difference)")
        }
    }

    @Test func promptLogitsMatchLlamaCpp() throws {
        let model = try TestSupport.gemma3()
        for c in try ReferenceVectors("gemma3").logits {
            let worst = try ReferenceVectors.checkLogits(model, c, tolerance: 0)
            print("\(c.name): max |Δlogit| over top-10 = \(worst)")
        }
    }

    /// The last-position logits equal llama.cpp's over the whole vocabulary.
    @Test func fullLogitsAreBitIdenticalToLlamaCpp() throws {
        let model = try TestSupport.gemma3()
        try ReferenceVectors.checkFullLogitsBitIdentical(model, "gemma3")
    }

    @Test func configurationComesFromMetadata() throws {
        let c = try TestSupport.gemma3().config
        #expect(c.architecture == .gemma3)
        #expect(c.attentionScale == 1.0 / 16)  // 1/sqrt(key_length 256)
        #expect(c.ropeBase == 1_000_000 && c.ropeLocalBase == 10_000)
        #expect(c.ropeStyle == .halves)
    }

    /// The builtin Gemma chat format reproduces the reference chat prompts token for token.
    @Test func chatPromptsMatchReference() throws {
        let model = try TestSupport.gemma3()
        let formatter = try ChatFormatter(model: model)
        for c in try ReferenceVectors("gemma3").greedy where c.promptText.hasPrefix("<start_of_turn>") {
            let user = c.promptText.components(separatedBy: "<start_of_turn>user\n")[1].components(separatedBy: "<end_of_turn>")[0]
            let text = try formatter.prompt(for: [.user(user)])
            #expect(text == c.promptText)
            #expect(formatter.tokens(forPrompt: text) == c.promptIDs, "\(c.name)")
        }
    }
}
