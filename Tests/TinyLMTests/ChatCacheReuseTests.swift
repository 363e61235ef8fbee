import Foundation
import Testing
@testable import TinyLM

/// Every chat turn reuses the KV cache of the previous ones, the assistant's replies as
/// generated included: the prompt tokens evaluated at a turn are the new user message and the
/// template's glue, however long the conversation (ChatTranscript).
@Suite(.serialized) struct ChatCacheReuseTests {
    static let questions = [
        "What is the capital of France?", "And of Germany?", "Name a famous river in Europe.",
        "How long is it?", "Which countries does it flow through?", "What is a good book about travel?",
        "Who wrote it?", "Give me one tip for packing light.", "What should I eat in Rome?",
        "Thanks! Summarize our chat in one sentence.",
    ]

    @Test func tenTurnsEvaluateOnlyTheNewMessage() throws {
        let model = try TestSupport.smolLM2()
        let tokenizer = model.tokenizer
        let formatter = try ChatFormatter(model: model)
        let session = try Session(model: model, contextLength: 2048)
        var transcript = ChatTranscript()
        var messages: [ChatMessage] = [.system("You are a helpful assistant. Answer briefly.")]
        var options = GenerationOptions()
        options.sampling = model.recommendedSampling.parameters
        options.maxTokens = 48
        var naiveReuseShortfall = 0
        var firstTokenMilliseconds: [Double] = []
        for (turn, question) in Self.questions.enumerated() {
            messages.append(.user(question))
            let text = try formatter.prompt(for: messages)
            let cachedBefore = session.tokens
            let start = ContinuousClock.now
            let prompt = transcript.extend(to: text, formatter: formatter)
            options.sampling.seed = UInt64(turn + 1)
            let generator = try TextGenerator(session: session, prompt: prompt, options: options)
            var reply = ""
            var step = try generator.next()
            firstTokenMilliseconds.append(Self.milliseconds(ContinuousClock.now - start))
            while true {
                switch step {
                case .token(_, let piece): reply += piece
                case .finished(_, let piece): reply += piece
                }
                if case .finished = step { break }
                step = try generator.next()
            }
            transcript.append(generated: generator.generated, tokenizer: tokenizer)

            let evaluated = prompt.count - generator.reusedPrefix
            if turn == 0 {
                #expect(generator.reusedPrefix == 0)
            } else {
                // ChatML's glue around the new message; the end-of-turn token of the previous
                // reply is in it, sampled then but evaluated now.
                let glue = "<|im_end|>\n<|im_start|>user\n" + question + "<|im_end|>\n<|im_start|>assistant\n"
                let expected = tokenizer.encode(glue, addSpecial: false, parseSpecial: true).count
                #expect(evaluated == expected, "turn \(turn + 1): evaluated \(evaluated) prompt tokens, expected \(expected)")
                #expect(generator.reusedPrefix == cachedBefore.count, "turn \(turn + 1): the whole cache is reused")
            }
            // What re-tokenizing the whole conversation would have reused instead.
            let naive = formatter.tokens(forPrompt: text)
            var shared = 0
            while shared < naive.count && shared < cachedBefore.count && naive[shared] == cachedBefore[shared] { shared += 1 }
            naiveReuseShortfall += cachedBefore.count - shared
            print("[chat cache] turn \(turn + 1): prompt \(prompt.count) tokens, \(evaluated) evaluated, \(generator.reusedPrefix) reused (re-tokenizing would reuse \(shared)); reply \(generator.generated.count) tokens: \(reply.debugDescription)")
            messages.append(.assistant(reply))
        }
        print("[chat cache] time to first token, turns 1/5/10: " + [0, 4, 9].map { String(format: "%.0f ms", firstTokenMilliseconds[$0]) }.joined(separator: " / ")
              + "; re-tokenizing the conversation each turn would have re-evaluated \(naiveReuseShortfall) cached tokens in all")
    }

    /// The same conversation prefix with the cache dropped before each turn, for comparison
    /// with the reuse above (printed only: timing belongs in benchmarks).
    @Test func firstTokenTimesWithoutReuseForComparison() throws {
        let model = try TestSupport.smolLM2()
        let formatter = try ChatFormatter(model: model)
        let session = try Session(model: model, contextLength: 2048)
        var messages: [ChatMessage] = [.system("You are a helpful assistant. Answer briefly.")]
        var times: [String] = []
        for (turn, question) in Self.questions.enumerated() {
            messages.append(.user(question))
            let prompt = formatter.tokens(forPrompt: try formatter.prompt(for: messages))
            session.reset()
            let start = ContinuousClock.now
            try session.prefill(prompt)
            if [0, 4, 9].contains(turn) { times.append(String(format: "%.0f ms (%d tokens)", Self.milliseconds(ContinuousClock.now - start), prompt.count)) }
            // A fixed stand-in reply of typical length keeps the prompts growing as in a chat.
            messages.append(.assistant("Here is a short answer to your question, in about twenty tokens or so, as a small model would write it."))
        }
        print("[chat cache] without reuse, prefill at turns 1/5/10: " + times.joined(separator: " / "))
    }

    static func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }
}
