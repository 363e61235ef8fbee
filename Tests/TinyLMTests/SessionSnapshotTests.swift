import Foundation
import Testing
@testable import TinyLM

/// A session saved as a snapshot and restored elsewhere continues exactly where it was: the
/// next token's logits are bit for bit those of the session that never left memory, and a chat
/// resumes evaluating only the new message. Snapshots of anything else are refused.
@Suite(.serialized) struct SessionSnapshotTests {
    static let text = """
        The history of the bicycle starts in the early nineteenth century, when inventors in \
        Germany and France built wooden machines that riders pushed along with their feet. Pedals \
        on the front wheel came decades later, and the safety bicycle, with two wheels of equal \
        size and a chain to the rear one, made cycling popular across Europe and America.
        """

    static func bits(_ logits: UnsafeMutableBufferPointer<Float>) -> [UInt32] { logits.map(\.bitPattern) }

    static func argmax(_ logits: UnsafeMutableBufferPointer<Float>) -> Int32 {
        var best = 0
        for i in 1..<logits.count where logits[i] > logits[best] { best = i }
        return Int32(best)
    }

    @Test func restoredSessionGivesBitIdenticalLogits() throws {
        let model = try TestSupport.smolLM2()
        let prompt = model.tokenizer.encode(Self.text, addSpecial: true, parseSpecial: false)
        let original = try Session(model: model, contextLength: 512)
        try original.evaluate(prompt)
        let snapshot = original.snapshot()
        // Only the filled positions are saved: the size follows the tokens, not the context.
        let rowBytes = model.config.layerCount * (model.config.keyValueDimension + model.config.valueDimension) * 2
        #expect(snapshot.count > prompt.count * rowBytes && snapshot.count < prompt.count * rowBytes + 4 * prompt.count + 256)

        // Restored into a session that held another text, with another context length.
        let restored = try Session(model: model, contextLength: 1024)
        try restored.evaluate(model.tokenizer.encode("Something else entirely, longer than nothing.", addSpecial: true, parseSpecial: false))
        #expect(try restored.restore(snapshot: snapshot) == nil)
        #expect(restored.tokens == original.tokens)

        var next = Self.argmax(original.logits)
        for _ in 0..<4 {
            try original.evaluate([next])
            try restored.evaluate([next])
            #expect(Self.bits(restored.logits) == Self.bits(original.logits))
            next = Self.argmax(original.logits)
        }
        // And a prompt that shares the prefix evaluates only the rest.
        let extended = original.tokens + model.tokenizer.encode(" Today", addSpecial: false, parseSpecial: false)
        let again = try Session(model: model, contextLength: 512)
        try again.restore(snapshot: original.snapshot())
        #expect(try again.prefill(extended) == original.tokens.count)
        try original.evaluate(Array(extended[original.tokens.count...]))
        #expect(Self.bits(again.logits) == Self.bits(original.logits))
    }

    /// A chat saved after its second answer and restored into a new session: the third turn
    /// evaluates only the new message and its glue, and answers with the same text.
    @Test func restoredChatResumesWithoutPrefill() throws {
        let model = try TestSupport.smolLM2()
        let formatter = try ChatFormatter(model: model)
        var options = GenerationOptions()
        options.sampling = model.recommendedSampling.parameters
        options.maxTokens = 24

        func turn(_ session: Session, _ transcript: inout ChatTranscript, _ messages: inout [ChatMessage],
                  _ question: String, seed: UInt64) throws -> (reply: String, reused: Int, promptCount: Int) {
            messages.append(.user(question))
            let prompt = transcript.extend(to: try formatter.prompt(for: messages), formatter: formatter)
            options.sampling.seed = seed
            let generator = try TextGenerator(session: session, prompt: prompt, options: options)
            var reply = ""
            while true {
                let step = try generator.next()
                if case .token(_, let piece) = step { reply += piece }
                if case .finished(_, let piece) = step { reply += piece; break }
            }
            transcript.append(generated: generator.generated, tokenizer: model.tokenizer)
            messages.append(.assistant(reply))
            return (reply, generator.reusedPrefix, prompt.count)
        }

        let session = try Session(model: model, contextLength: 1024)
        var transcript = ChatTranscript()
        var messages: [ChatMessage] = [.system("You are a helpful assistant. Answer briefly.")]
        _ = try turn(session, &transcript, &messages, "What is the capital of France?", seed: 1)
        _ = try turn(session, &transcript, &messages, "And of Germany?", seed: 2)
        let snapshot = session.snapshot(transcript: transcript)

        let resumed = try Session(model: model, contextLength: 1024)
        var resumedTranscript = try #require(try resumed.restore(snapshot: snapshot))
        #expect(resumedTranscript.tokens == transcript.tokens)
        var resumedMessages = messages
        let expected = try turn(session, &transcript, &messages, "Name a river there.", seed: 3)
        let got = try turn(resumed, &resumedTranscript, &resumedMessages, "Name a river there.", seed: 3)
        #expect(got.reply == expected.reply)
        #expect(got.reused == expected.reused)
        let glue = "<|im_end|>\n<|im_start|>user\nName a river there.<|im_end|>\n<|im_start|>assistant\n"
        #expect(got.promptCount - got.reused == model.tokenizer.encode(glue, addSpecial: false, parseSpecial: true).count)
    }

    @Test func mismatchedSnapshotsAreRefusedAndLeaveTheSessionAlone() throws {
        let model = try TestSupport.smolLM2()
        let session = try Session(model: model, contextLength: 256)
        try session.evaluate(model.tokenizer.encode(Self.text, addSpecial: true, parseSpecial: false))
        let snapshot = session.snapshot(templateSource: "{{ messages }}")

        let target = try Session(model: model, contextLength: 256)
        let held = model.tokenizer.encode("Kept.", addSpecial: true, parseSpecial: false)
        try target.evaluate(held)
        func refused(_ bytes: [UInt8], template: String? = "{{ messages }}", into session: Session? = nil) -> TinyLMError.Kind? {
            let into = session ?? target
            let before = into.tokens
            do {
                try into.restore(snapshot: bytes, templateSource: template)
                return nil
            } catch {
                #expect(into.tokens == before, "a refused restore leaves the session as it was")
                return error.kind
            }
        }
        // Another template, or the model's own.
        #expect(refused(snapshot, template: "{{ other }}") == .snapshotMismatch)
        #expect(refused(snapshot, template: nil) == .snapshotMismatch)
        // Adapters the snapshot was not made with.
        try target.setAdapters([ScaledAdapter(try LoRAReferenceTests.adapter(), scale: 1)])
        try target.evaluate(held)
        #expect(refused(snapshot) == .snapshotMismatch)
        try target.setAdapters([])
        try target.evaluate(held)
        // Another model file of the same shape: one byte of the last tensor changed.
        let original = model.gguf.bytes
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: original.count, alignment: 64)
        defer { copy.deallocate() }
        copy.copyMemory(from: original)
        copy[copy.count - 1] ^= 1
        let changed = try Model(bytes: UnsafeRawBufferPointer(copy))
        #expect(refused(snapshot, into: try Session(model: changed, contextLength: 256)) == .snapshotMismatch)
        // Another architecture (another cache shape).
        #expect(refused(snapshot, into: try Session(model: try TestSupport.gemma3(), contextLength: 256)) == .snapshotMismatch)
        // Damaged bytes: every kind of cut, a flipped bit, another magic, a context too short.
        for length in [0, 7, 20, snapshot.count / 2, snapshot.count - 1] {
            #expect(refused(Array(snapshot.prefix(length))) == .invalidSnapshot)
        }
        var flipped = snapshot
        flipped[flipped.count / 3] ^= 0x10
        #expect(refused(flipped) == .invalidSnapshot)
        var magic = snapshot
        magic[0] = UInt8(ascii: "X")
        #expect(refused(magic) == .invalidSnapshot)
        #expect(refused(snapshot, into: try Session(model: model, contextLength: 16)) == .invalidSnapshot)
        // The intact snapshot still restores.
        #expect(refused(snapshot, template: "{{ messages }}", into: try Session(model: model, contextLength: 256)) == nil)
    }

    /// Headers that lie about their sizes are refused before anything is read or copied, even
    /// when the checksum is recomputed to match.
    @Test func forgedSizesAreRefused() throws {
        let model = try TestSupport.smolLM2()
        let session = try Session(model: model, contextLength: 64)
        try session.evaluate(model.tokenizer.encode("Hello there.", addSpecial: true, parseSpecial: false))
        let snapshot = session.snapshot()
        let layersOffset = 8 + 4 + 8 + 8 + 4
        for (offset, value) in [(layersOffset, UInt32.max), (layersOffset + 4, 1 << 19), (layersOffset + 12, 60), (layersOffset + 12, UInt32.max)] {
            var forged = Array(snapshot.dropLast(8))
            withUnsafeBytes(of: value.littleEndian) { forged.replaceSubrange(offset..<(offset + 4), with: $0) }
            let checksum = forged.withUnsafeBytes { ContentHash.of($0) }
            withUnsafeBytes(of: checksum.littleEndian) { forged.append(contentsOf: $0) }
            let target = try Session(model: model, contextLength: 64)
            #expect(throws: TinyLMError.self) { try target.restore(snapshot: forged) }
            do { try target.restore(snapshot: forged) } catch { #expect(error.kind == .invalidSnapshot || error.kind == .snapshotMismatch) }
            #expect(target.tokens.isEmpty)
        }
    }
}
