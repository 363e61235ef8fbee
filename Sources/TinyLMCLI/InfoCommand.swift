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
    print("architecture:  \(c.architecture.rawValue)")
    print("layers:        \(c.layerCount)")
    print("embedding:     \(c.embeddingLength)")
    print("heads:         \(c.headCount) query, \(c.kvHeadCount) key/value, head size \(c.keyLength)")
    print("feed-forward:  \(c.feedForwardLength)")
    print("vocabulary:    \(c.vocabularySize)")
    print("context:       \(c.trainedContextLength) (trained)")
    print("rope:          base \(c.ropeBase), \(c.ropeDimensionCount) dims" + (c.slidingWindow > 0 ? ", local base \(c.ropeLocalBase), sliding window \(c.slidingWindow)" : ""))
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
    let tokenizer = try LoadedTokenizer(path: a.value("--model")).tokenizer
    let ids = tokenizer.encode(a.positional[0], addSpecial: a.has("--add-bos"), parseSpecial: !a.has("--no-special"))
    print(jsonIDList(ids))
    if a.has("--pieces") {
        for id in ids { print("\(id)\t\(String(decoding: tokenizer.pieceBytes(id), as: UTF8.self).debugDescription)") }
    }
    return 0
}
