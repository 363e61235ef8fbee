import Foundation
import Testing
@testable import TinyLM
import TinyLMHost

/// SmolLM2-135M-Instruct with the rank-8 F16 test adapter of ../shared/reference/smollm2-lora/
/// (every attention and feed-forward matrix of all 30 layers, alpha 16) against llama.cpp's
/// outputs at scales 1.0 and 0.5.
@Suite(.serialized) struct LoRAReferenceTests {
    static let adapterPath = TestSupport.referenceRoot.appendingPathComponent("smollm2-lora/smollm2-test-lora.gguf").path

    /// The adapter, mapped once per test process (its bytes must outlive it).
    nonisolated(unsafe) private static var loaded: (MappedFile, LoRAAdapter)? = nil
    private static let lock = NSLock()

    static func adapter() throws -> LoRAAdapter {
        lock.lock(); defer { lock.unlock() }
        if let loaded { return loaded.1 }
        let file = try MappedFile(path: try TestSupport.requireFile(adapterPath))
        let adapter = try LoRAAdapter(bytes: file.bytes, model: try TestSupport.smolLM2())
        loaded = (file, adapter)
        return adapter
    }

    @Test func readsTheAdapter() throws {
        let adapter = try Self.adapter()
        #expect(adapter.alpha == 16)
        #expect(adapter.adaptedMatrixCount == 30 * 7)
        #expect(adapter.maxRank == 8)
    }

    /// The adapter's product adds in ggml's order (LoRAProduct.swift), so the prompt logits are
    /// llama.cpp's to the bit over the whole vocabulary, at both scales.
    @Test(arguments: [Float(1.0), 0.5]) func promptLogitsAreBitIdenticalToLlamaCpp(scale: Float) throws {
        let model = try TestSupport.smolLM2()
        try ReferenceVectors.checkFullLogitsBitIdentical(model, "smollm2-lora/scale-\(scale)",
                                                          adapters: [ScaledAdapter(try Self.adapter(), scale: scale)])
    }

    /// Greedy ids by the reference rule, and the decode steps to the bit (teacher-forced top-5).
    @Test(arguments: [Float(1.0), 0.5]) func greedyContinuationsMatchLlamaCpp(scale: Float) throws {
        let model = try TestSupport.smolLM2()
        let reference = try ReferenceVectors("smollm2-lora/scale-\(scale)")
        #expect(reference.greedy.count == 8)
        for c in reference.greedy {
            let summary = try ReferenceVectors.check(model, c, adapters: [ScaledAdapter(try Self.adapter(), scale: scale)])
            print("scale \(scale) " + summary.line)
            #expect(summary.maxTop5Difference == 0, "\(c.name): teacher-forced logits differ from llama.cpp's by up to \(summary.maxTop5Difference)")
        }
    }

    /// One session: base, adapter, base again. Switching drops the cache exactly when the set
    /// changes, and without the adapter the logits are the base model's to the bit.
    @Test func switchingAdaptersInOneSession() throws {
        let model = try TestSupport.smolLM2()
        let adapter = try Self.adapter()
        let prompt = try ReferenceVectors("smollm2").greedy[5].promptIDs
        let session = try Session(model: model, contextLength: 128)

        try session.prefill(prompt)
        let base = Array(session.logits)
        #expect(try session.setAdapters([]) == false)
        #expect(try session.prefill(prompt) == prompt.count - 1, "the same (empty) set keeps the cache")

        #expect(try session.setAdapters([ScaledAdapter(adapter)]) == true)
        #expect(session.tokens.isEmpty)
        #expect(try session.prefill(prompt) == 0)
        let adapted = Array(session.logits)
        #expect(adapted != base)
        #expect(try session.setAdapters([ScaledAdapter(adapter, scale: 1)]) == false)
        #expect(try session.prefill(prompt) == prompt.count - 1, "the same set keeps the cache")
        #expect(Array(session.logits) == adapted)

        #expect(try session.setAdapters([ScaledAdapter(adapter, scale: 0)]) == true, "scale 0 is no adapter")
        #expect(try session.prefill(prompt) == 0)
        #expect(Array(session.logits) == base)
        #expect(session.adapters.isEmpty)

        // Other sessions of the same model are untouched by this one's adapters.
        try session.setAdapters([ScaledAdapter(adapter)])
        let other = try Session(model: model, contextLength: 128)
        try other.prefill(prompt)
        #expect(Array(other.logits) == base)
    }

    /// Two copies of the adapter at 0.5 each change the model as one at 1.0 does, within float
    /// tolerance. Each half is rounded on its own, and this quantized model amplifies any
    /// rounding difference (its activations are quantized to 8 bits before every matrix): a
    /// scale one ulp above 1.0 moves its logits as much (rms up to 0.3, max 1.0), like toggling
    /// flash attention does in llama.cpp. So here the reference README's rule applies (same
    /// top-1, |Δlogit| about 1), and an F32 test model, which quantizes nothing, shows the
    /// float tolerance itself (1e-4).
    @Test func twoHalfScalesEqualOneFullScale() throws {
        let model = try TestSupport.smolLM2()
        let adapter = try Self.adapter()
        let file = try MappedFile(path: Self.adapterPath)
        let copy = try LoRAAdapter(bytes: file.bytes, model: model)
        for c in try ReferenceVectors("smollm2").greedy {
            func logits(_ adapters: [ScaledAdapter]) throws -> [Float] {
                let session = try Session(model: model, contextLength: 128)
                try session.setAdapters(adapters)
                try session.prefill(c.promptIDs)
                return Array(session.logits)
            }
            let base = try logits([]), full = try logits([ScaledAdapter(adapter)])
            let halves = try logits([ScaledAdapter(adapter, scale: 0.5), ScaledAdapter(copy, scale: 0.5)])
            let nudged = try logits([ScaledAdapter(adapter, scale: Float(1).nextUp)])
            print("\(c.name): scale 1 + 1 ulp vs 1.0: rms \(Self.rms(full, nudged)) max \(zip(full, nudged).map { abs($0 - $1) }.max()!)")
            let worst = zip(full, halves).map { abs($0 - $1) }.max()!
            print("\(c.name): 0.5 + 0.5 vs 1.0: max |Δlogit| \(worst), rms \(Self.rms(full, halves)) (the adapter's effect: rms \(Self.rms(full, base)))")
            #expect(Sampler.argmax(full, count: full.count) == Sampler.argmax(halves, count: halves.count))
            #expect(worst <= 1.5)
        }
        withExtendedLifetime(file) {}

        let f32 = try TestSupport.model(TestSupport.testModelsRoot.appendingPathComponent("llama-f32.gguf").path)
        let bytes = LoRAValidationTests.Bytes(LoRAValidationTests.writer(f32).bytes())
        let one = try LoRAAdapter(bytes: bytes.view, model: f32), two = try LoRAAdapter(bytes: bytes.view, model: f32)
        let full = try LoRAValidationTests.logits(f32, adapters: [ScaledAdapter(one)])
        let halves = try LoRAValidationTests.logits(f32, adapters: [ScaledAdapter(one, scale: 0.5), ScaledAdapter(two, scale: 0.5)])
        let base = try LoRAValidationTests.logits(f32)
        let worst = zip(full, halves).map { abs($0 - $1) }.max()!
        print("F32 test model: 0.5 + 0.5 vs 1.0: max |Δlogit| \(worst) (the adapter's effect: rms \(Self.rms(full, base)))")
        #expect(worst < 1e-4)
    }

    static func rms(_ a: [Float], _ b: [Float]) -> Float {
        (zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Float(a.count)).squareRoot()
    }

    /// Threads split the adapter's rows and tokens without changing a bit.
    @Test func threadedMatchesSerialExactly() throws {
        let model = try TestSupport.smolLM2()
        let c = try ReferenceVectors("smollm2-lora/scale-1.0").greedy[4]
        let pool = ThreadPool(threads: 2)
        defer { pool.shutdown() }
        let adapters = [ScaledAdapter(try Self.adapter())]
        let serial = try ReferenceVectors.teacherForce(model, c, adapters: adapters)
        let threaded = try ReferenceVectors.teacherForce(model, c, executor: pool, adapters: adapters)
        #expect(serial.top1 == threaded.top1)
        #expect(serial.logitsOfReferenceTop5 == threaded.logitsOfReferenceTop5)
    }

    /// An adapter is bound to the model it was checked against.
    @Test func refusesAnotherModelsAdapter() throws {
        let smol = try TestSupport.smolLM2()
        let other = try LoRAValidationTests.model()
        let session = try Session(model: other, contextLength: 16)
        #expect(throws: TinyLMError.self) { try session.setAdapters([ScaledAdapter(try Self.adapter())]) }
        let own = try Session(model: smol, contextLength: 16)
        #expect(throws: TinyLMError.self) { try own.setAdapters([ScaledAdapter(try Self.adapter(), scale: .nan)]) }
    }
}
