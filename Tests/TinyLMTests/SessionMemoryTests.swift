import Foundation
import Testing
@testable import TinyLM

/// A GGUF file is untrusted: its metadata decides how much memory a session needs. These
/// files are small but claim models whose sessions could never be allocated.
@Suite struct SessionMemoryTests {
    /// A llama model of `layers` layers with 1024 query and key/value heads of 64 values and a
    /// one-value embedding, every tensor pointing at one 256 KiB block: about a megabyte of
    /// file, 256 MiB of keys and values per token for 1024 layers.
    static func amplifiedModel(layers: Int) -> [UInt8] {
        let heads = 1024, head = 64
        var w = GGUFWriter()
        w.sharedData = true
        w.metadata = [
            ("general.architecture", .string("llama")), ("llama.context_length", .u32(1 << 20)),
            ("llama.embedding_length", .u32(1)), ("llama.block_count", .u32(UInt32(layers))),
            ("llama.feed_forward_length", .u32(1)), ("llama.attention.head_count", .u32(UInt32(heads))),
            ("llama.attention.head_count_kv", .u32(UInt32(heads))), ("llama.attention.key_length", .u32(UInt32(head))),
            ("llama.attention.value_length", .u32(UInt32(head))), ("llama.rope.dimension_count", .u32(UInt32(head))),
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("gpt-2")),
            ("tokenizer.ggml.tokens", .array(.string, (0..<256).map { .string("t\($0)") })),
            ("tokenizer.ggml.merges", .array(.string, [])),
        ]
        let block = [UInt8](repeating: 0, count: heads * head * 4)
        func f32(_ name: String, _ shape: [Int]) -> (name: String, shape: [Int], type: TensorType, data: [UInt8]) {
            (name, shape, .f32, Array(block.prefix(shape.reduce(1, *) * 4)))
        }
        w.tensors = [f32("token_embd.weight", [1, 256]), f32("output_norm.weight", [1])]
        for i in 0..<layers {
            let p = "blk.\(i)."
            w.tensors += [f32(p + "attn_norm.weight", [1]), f32(p + "ffn_norm.weight", [1]),
                          f32(p + "attn_q.weight", [1, heads * head]), f32(p + "attn_k.weight", [1, heads * head]),
                          f32(p + "attn_v.weight", [1, heads * head]), f32(p + "attn_output.weight", [heads * head, 1]),
                          f32(p + "ffn_gate.weight", [1, 1]), f32(p + "ffn_up.weight", [1, 1]), f32(p + "ffn_down.weight", [1, 1])]
        }
        return w.bytes()
    }

    @Test func hugeSessionOfASmallFileIsAnErrorNotACrash() throws {
        let bytes = Self.amplifiedModel(layers: 1024)
        #expect(bytes.count < 2 << 20)
        try bytes.withUnsafeBytes { raw in
            let model = try Model(bytes: raw)
            #expect(model.config.layerCount == 1024 && model.config.keyValueDimension == 65536)
            // 2^20 tokens × 256 MiB: more than any address space.
            do {
                _ = try Session(model: model, contextLength: 1 << 20)
                Issue.record("a session of 2^49 bytes was created")
            } catch let error as TinyLMError {
                #expect(error.kind == .outOfMemory, "\(error.message)")
            }
            // 64 tokens need 16 GiB, which some systems grant lazily: the estimate must count them.
            let estimate = try #require(SessionMemory.requiredBytes(config: model.config, contextLength: 64, maxBatch: 64, concurrency: 1))
            #expect(estimate >= 1024 * 64 * 65536 * 2 * 2)
        }
    }

    @Test func estimateBoundsWhatASessionAllocates() throws {
        let model = try TestSupport.smolLM2()
        for (context, batch) in [(16, 1), (512, 64), (2048, 8)] {
            let session = try Session(model: model, contextLength: context, batchSize: batch)
            let estimate = try #require(SessionMemory.requiredBytes(config: model.config, contextLength: context, maxBatch: batch, concurrency: 1))
            #expect(estimate >= session.memoryBytes, "context \(context), batch \(batch)")
            #expect(estimate <= session.memoryBytes * 2 + (1 << 20), "a loose bound refuses sessions that would fit")
        }
    }

    @Test func overflowIsReportedNotTrapped() throws {
        var config = try TestSupport.smolLM2().config
        config.layerCount = Int.max / 2
        #expect(SessionMemory.requiredBytes(config: config, contextLength: 1 << 20, maxBatch: 64, concurrency: 1) == nil)
    }
}
