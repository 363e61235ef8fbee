import Foundation
import TinyLM

/// `tinylm info`: what a GGUF file holds — architecture, sizes, tensor types, metadata.
func runInfo(_ arguments: [String]) throws -> Int32 {
    let a = try Arguments(arguments, valued: ["--model"], flags: ["--metadata", "--tensors"])
    let loaded = try LoadedModel(path: a.value("--model"))
    let m = loaded.model
    let c = m.config
    let g = m.gguf
    var typeCounts: [String: (count: Int, bytes: Int)] = [:]
    for t in g.tensors { typeCounts[t.type.name, default: (0, 0)].count += 1; typeCounts[t.type.name]!.bytes += t.byteCount }
    print("file:          \(loaded.file.path) (\(formatBytes(loaded.file.bytes.count)), GGUF v\(g.version))")
    print("name:          \(c.name)")
    print("architecture:  \(c.architecture.name)")
    print("layers:        \(c.layerCount)")
    print("embedding:     \(c.embeddingLength)")
    print("heads:         \(c.headCount) query, \(c.kvHeadCount) key/value, head size \(c.keyLength)")
    print("feed-forward:  \(c.feedForwardLength)")
    print("vocabulary:    \(c.vocabularySize)")
    print("context:       \(c.trainedContextLength) (trained)")
    print("rope:          " + ropeDescription(c, g))
    print("graph:         " + graphDescription(g))
    print("tensors:       \(g.tensors.count): " + typeCounts.sorted { $0.value.bytes > $1.value.bytes }
        .map { "\($0.key) × \($0.value.count) (\(formatBytes($0.value.bytes)))" }.joined(separator: ", "))
    print("weights/token: \(formatBytes(m.weightBytesPerToken)) read per decoded token")
    print("chat template: \(m.chatTemplateSource == nil ? "none (built-in fallback)" : "yes")")
    print(String(format: "load time:     %.1f ms", loaded.loadSeconds * 1000))
    if a.has("--metadata") {
        for key in g.metadataKeys { print("  \(key) = \(g[key]!.summary)") }
    }
    if a.has("--tensors") {
        for t in g.tensors { print("  \(t.name) \(t.type.name) \(t.shape)") }
    }
    return 0
}

/// RoPE as the model runs it: base, rotated dimensions, pairing, scaling.
func ropeDescription(_ c: ModelConfig, _ g: GGUFFile) -> String {
    var parts = ["base \(c.ropeBase)", "\(c.ropeDimensionCount) of \(c.keyLength) dims",
                 c.ropeStyle == .adjacentPairs ? "adjacent pairs" : "halves (NeoX)"]
    if c.ropeScale != 1 { parts.append("linear scale \(c.ropeScale)") }
    if g.tensorInfo(named: "rope_freqs.weight") != nil { parts.append("frequency factors (rope_freqs: llama3 scaling)") }
    if g.tensorInfo(named: "rope_factors_long.weight") != nil {
        parts.append("LongRoPE factors (long ones past \(c.ropeOriginalContextLength) tokens)")
    }
    if c.ropeAttentionFactor != 1 { parts.append("attention factor \(c.ropeAttentionFactor)") }
    if c.slidingWindow > 0 {
        parts.append("local layers: base \(c.ropeLocalBase), sliding window \(c.slidingWindow), one layer in \(c.slidingWindowPattern) global")
    }
    return parts.joined(separator: ", ")
}

/// The layer's parts as the file has them (the first layer's tensors).
func graphDescription(_ g: GGUFFile) -> String {
    func has(_ name: String) -> Bool { g.tensorInfo(named: name) != nil }
    var parts = [has("blk.0.attn_qkv.weight") ? "fused q/k/v" : "q, k, v"]
    if has("blk.0.attn_q.bias") || has("blk.0.attn_qkv.bias") { parts.append("q/k/v biases") }
    if has("blk.0.attn_q_norm.weight") { parts.append("q/k norms") }
    if has("blk.0.post_attention_norm.weight") { parts.append("post-norms") }
    parts.append(has("blk.0.ffn_gate.weight") ? "gate, up" : "fused gate+up")
    parts.append(has("output.weight") ? "output matrix" : "output tied to the embeddings")
    return parts.joined(separator: ", ")
}

func formatBytes(_ n: Int) -> String {
    if n >= 1 << 30 { return String(format: "%.2f GiB", Double(n) / Double(1 << 30)) }
    if n >= 1 << 20 { return String(format: "%.1f MiB", Double(n) / Double(1 << 20)) }
    if n >= 1 << 10 { return String(format: "%.1f KiB", Double(n) / Double(1 << 10)) }
    return "\(n) B"
}

/// `tinylm tokenize`: the token ids of TEXT as a JSON array on one line.
func runTokenize(_ arguments: [String]) throws -> Int32 {
    let a = try Arguments(arguments, valued: ["--model"], flags: ["--no-special", "--add-bos", "--pieces"])
    guard a.positional.count == 1 else { throw CLIError(description: "tokenize needs exactly one TEXT argument (use -- before text that starts with a dash)") }
    let loaded = try LoadedModel(path: a.value("--model"))
    let tokenizer = loaded.model.tokenizer
    let ids = tokenizer.encode(a.positional[0], addSpecial: a.has("--add-bos"), parseSpecial: !a.has("--no-special"))
    print(jsonIDList(ids))
    if a.has("--pieces") {
        for id in ids { print("\(id)\t\(String(decoding: tokenizer.pieceBytes(id), as: UTF8.self).debugDescription)") }
    }
    return 0
}
