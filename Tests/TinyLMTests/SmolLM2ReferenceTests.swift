import Foundation
import Testing
@testable import TinyLM
import TinyLMHost

/// SmolLM2-135M-Instruct Q4_1 against llama.cpp's reference vectors.
@Suite(.serialized) struct SmolLM2ReferenceTests {
    @Test func greedyContinuationsMatchLlamaCpp() throws {
        let model = try TestSupport.smolLM2()
        let reference = try ReferenceVectors("smollm2")
        #expect(reference.greedy.count == 8)
        for c in reference.greedy {
            let summary = try ReferenceVectors.check(model, c)
            print(summary.line)
            // Decode steps are llama.cpp's to the bit too (its top-5 logits at every step).
            #expect(summary.maxTop5Difference == 0, "\(c.name): teacher-forced logits differ from llama.cpp's by up to \(summary.maxTop5Difference)")
        }
    }

    @Test func promptLogitsMatchLlamaCpp() throws {
        let model = try TestSupport.smolLM2()
        for c in try ReferenceVectors("smollm2").logits {
            let worst = try ReferenceVectors.checkLogits(model, c, tolerance: 1.0)
            print("\(c.name): max |Δlogit| over top-10 = \(worst)")
        }
    }

    /// Q4_1 and Q8_0 kernels, attention, RoPE and SwiGLU add in llama.cpp's order (see
    /// Kernels/SummationOrder.swift), so the last-position logits are the reference's to the
    /// bit, over the whole vocabulary.
    @Test func fullLogitsAreBitIdenticalToLlamaCpp() throws {
        let model = try TestSupport.smolLM2()
        try ReferenceVectors.checkFullLogitsBitIdentical(model, "smollm2")
    }

    /// `tinylm chat` formats with the GGUF's own template: the chat prompts must be exactly the
    /// reference prompt ids (the template inserts SmolLM's default system prompt).
    @Test func chatPromptsMatchReference() throws {
        let model = try TestSupport.smolLM2()
        let formatter = try ChatFormatter(model: model)
        guard case .template = formatter.style else { Issue.record("SmolLM2 ships a chat template"); return }
        var checked = 0
        for c in try ReferenceVectors("smollm2").greedy where c.promptText.contains("<|im_start|>user") {
            let user = c.promptText.components(separatedBy: "<|im_start|>user\n")[1].components(separatedBy: "<|im_end|>")[0]
            let text = try formatter.prompt(for: [.user(user)])
            #expect(text == c.promptText)
            #expect(formatter.tokens(forPrompt: text) == c.promptIDs, "\(c.name)")
            checked += 1
        }
        #expect(checked == 3)
    }

    /// Splitting rows across threads must not change a single bit of the result.
    @Test func threadedMatchesSerialExactly() throws {
        let model = try TestSupport.smolLM2()
        let c = try ReferenceVectors("smollm2").greedy[0]
        let pool = ThreadPool(threads: 2)
        defer { pool.shutdown() }
        let serial = try ReferenceVectors.teacherForce(model, c)
        let threaded = try ReferenceVectors.teacherForce(model, c, executor: pool)
        #expect(serial.top1 == threaded.top1)
        #expect(serial.logitsOfReferenceTop5 == threaded.logitsOfReferenceTop5)
    }

    /// Prefill in one batch and token-by-token decode are two code paths (matrix-matrix vs
    /// matrix-vector): they must agree.
    @Test func batchedPrefillAgreesWithTokenByToken() throws {
        let model = try TestSupport.smolLM2()
        let prompt = try ReferenceVectors("smollm2").greedy[5].promptIDs  // a chat prompt, 37 tokens
        let batched = try Session(model: model, contextLength: 128)
        try batched.evaluate(prompt)
        let stepwise = try Session(model: model, contextLength: 128, batchSize: 1)
        for id in prompt { try stepwise.evaluate([id]) }
        var worst: Float = 0
        for i in 0..<batched.logits.count { worst = max(worst, abs(batched.logits[i] - stepwise.logits[i])) }
        #expect(worst < 0.05, "max |Δlogit| between batched and stepwise prefill: \(worst)")
        #expect(Sampler.argmax(batched.logits.baseAddress!, count: batched.logits.count)
                == Sampler.argmax(stepwise.logits.baseAddress!, count: stepwise.logits.count))
    }
}
