import Foundation
import Testing
@testable import TinyLM

/// Gemma 3 270M Q4_K_M (Q8_0/Q5_0/Q4_K/Q6_K weights, sliding-window attention) against
/// llama.cpp's reference vectors.
///
/// Why the rule is looser than SmolLM2's: SmolLM2 matches llama.cpp to the bit because every
/// kernel it uses adds in ggml's order; Gemma's Q4_K and Q6_K kernels (×Q8_K) do not yet, and
/// with 8-bit activations their 1-ulp differences grow to logit differences of ~1 (the same
/// effect measured on SmolLM2 before its kernels were reordered: 0.13–0.5 RMS, now 0.0).
/// Until those kernels follow ggml's order, Gemma is held to the README's "prompt logits: same
/// top-1, |Δlogit| about 1" and to a high teacher-forced agreement.
@Suite(.serialized) struct Gemma3ReferenceTests {
    @Test func greedyContinuationsFollowLlamaCpp() throws {
        let model = try TestSupport.gemma3()
        let reference = try ReferenceVectors("gemma3")
        #expect(reference.greedy.count == 8)
        var clear = 0, agree = 0
        for c in reference.greedy {
            let summary = try ReferenceVectors.check(model, c, rule: .approximate(exactPrefix: 4))
            print(summary.line)
            clear += summary.clearSteps
            agree += summary.clearAgreements
        }
        #expect(Double(agree) >= 0.95 * Double(clear), "teacher-forced top-1 agrees at only \(agree) of \(clear) clear steps")
    }

    @Test func promptLogitsFollowLlamaCpp() throws {
        let model = try TestSupport.gemma3()
        for c in try ReferenceVectors("gemma3").logits {
            let worst = try ReferenceVectors.checkLogits(model, c, tolerance: 1.5)
            print("\(c.name): max |Δlogit| over top-10 = \(worst)")
        }
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
