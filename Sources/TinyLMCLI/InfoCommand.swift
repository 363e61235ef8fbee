import Foundation
import TinyLM
import TinyLMHost

/// `tinylm info`: what a GGUF file holds — architecture, sizes, tensor types, the recommended
/// sampling. Printed from the model info JSON (the wasm ABI's), so that the Node CLI prints
/// the same lines; `--json` prints that JSON.
func runInfo(_ arguments: [String]) throws -> Int32 {
    let a = try Arguments(arguments, valued: ["--model"], flags: ["--metadata", "--tensors", "--json"])
    if let vocabularyOnly = try VocabularyOnlyFile(path: a.value("--model")) {
        return vocabularyOnly.printInfo(metadata: a.has("--metadata"))
    }
    let loaded = try LoadedModel(path: a.value("--model"))
    let m = loaded.model
    let infoText = ModelInfo.json(m)
    if a.has("--json") {
        print(infoText)
        return 0
    }
    guard let info = try? JSONValue(parsing: infoText) else { throw CLIError(description: "model info is not JSON") }
    for line in infoLines(info, path: loaded.file.path) { print(line) }
    print(String(format: "load time:     %.1f ms", loaded.loadSeconds * 1000))
    let g = m.gguf
    if a.has("--metadata") {
        for key in g.metadataKeys { print("  \(key) = \(g[key]!.summary)") }
    }
    if a.has("--tensors") {
        for t in g.tensors { print("  \(t.name) \(t.type.name) \(t.shape)") }
    }
    return 0
}

/// A GGUF file with a vocabulary and no tensors (llama.cpp's ggml-vocab-*.gguf): `info`
/// describes its tokenizer instead of a network.
struct VocabularyOnlyFile {
    let path: String
    let file: MappedFile
    let gguf: GGUFFile

    /// nil when the file has tensors (or is not GGUF: LoadedModel then reports why).
    init?(path: String?) throws {
        let path = path ?? defaultModelPath()
        guard FileManager.default.fileExists(atPath: path), let file = try? MappedFile(path: path),
              let gguf = try? GGUFFile(bytes: file.bytes), gguf.tensors.isEmpty else { return nil }
        self.path = path; self.file = file; self.gguf = gguf
    }

    func printInfo(metadata: Bool) -> Int32 {
        print("file:          \(path) (\(formatBytes(file.bytes.count)), GGUF v\(gguf.version)), vocabulary only (no tensors)")
        print("architecture:  \(gguf.string("general.architecture") ?? "?")")
        print("tokenizer:     \(gguf.string("tokenizer.ggml.model") ?? "?")" + (gguf.string("tokenizer.ggml.pre").map { ", pre-tokenizer \($0)" } ?? ""))
        do {
            let t = try Tokenizer(gguf: gguf)
            print("vocabulary:    \(t.vocabularySize) tokens, BOS \(t.bosTokenID.map(String.init) ?? "none")\(t.addsBOS ? " (added)" : ""), EOS \(t.eosTokenID.map(String.init) ?? "none")")
        } catch {
            print("vocabulary:    not supported: \(error.message)")
        }
        if metadata {
            for key in gguf.metadataKeys { print("  \(key) = \(gguf[key]!.summary)") }
        }
        return 0
    }
}

/// The lines of `tinylm info` (scripts/tinylm-node.mjs infoLines prints the same).
func infoLines(_ info: JSONValue, path: String) -> [String] {
    func int(_ key: String) -> Int { info[key]?.intValue ?? 0 }
    let sampling = info["sampling"] ?? .null
    func s(_ key: String) -> String { swiftFloatText(sampling[key]?.doubleValue ?? 0) }
    let name = info["name"]?.stringValue ?? ""
    var lines: [String] = []
    lines.append("file:          \(path) (\(formatBytes(int("fileBytes"))), GGUF v\(int("ggufVersion")))")
    var nameLine = "name:          \(name)"
    if let gguf = info["ggufName"]?.stringValue, gguf != name { nameLine += " (GGUF general.name: \(gguf))" }
    lines.append(nameLine)
    lines.append("architecture:  \(info["architecture"]?.stringValue ?? "")")
    lines.append("layers:        \(int("layerCount"))")
    lines.append("embedding:     \(int("embeddingLength"))")
    lines.append("heads:         \(int("headCount")) query, \(int("kvHeadCount")) key/value, head size \(int("keyLength"))")
    lines.append("feed-forward:  \(int("feedForwardLength"))")
    lines.append("vocabulary:    \(int("vocabularySize"))")
    lines.append("context:       \(int("trainedContextLength")) (trained)")
    lines.append("rope:          \(info["rope"]?.stringValue ?? "")")
    lines.append("graph:         \(info["graph"]?.stringValue ?? "")")
    let types = (info["tensorTypes"]?.arrayValue ?? []).map { t in
        "\(t["type"]?.stringValue ?? "") × \(t["count"]?.intValue ?? 0) (\(formatBytes(t["bytes"]?.intValue ?? 0)))"
    }
    lines.append("tensors:       \(int("tensorCount")): " + types.joined(separator: ", "))
    lines.append("weights/token: \(formatBytes(int("weightBytesPerToken"))) read per decoded token")
    lines.append("chat template: \(info["chatTemplate"]?.stringValue == nil ? "none (built-in fallback)" : "yes")")
    let source = sampling["source"]?.stringValue ?? "default"
    let reference = sampling["reference"]?.stringValue
    let origin: String
    switch source {
    case "gguf": origin = "from the GGUF's general.sampling keys" + (reference.map { ", over the model card table: \($0)" } ?? "")
    case "table": origin = "model card table: " + (reference ?? "")
    default: origin = "llama.cpp's defaults: no recommendation known for this model"
    }
    lines.append("sampling:      temperature \(s("temperature")), top-k \(sampling["topK"]?.intValue ?? 0), top-p \(s("topP")), min-p \(s("minP")), repeat penalty \(s("repeatPenalty")) over \(sampling["repeatWindow"]?.intValue ?? 0) (\(origin))")
    return lines
}

/// A number as Swift prints a Float: "100000.0", "0.2", "1e+16".
func swiftFloatText(_ value: Double) -> String { "\(Float(value))" }

func formatBytes(_ n: Int) -> String {
    if n >= 1 << 30 { return String(format: "%.2f GiB", Double(n) / Double(1 << 30)) }
    if n >= 1 << 20 { return String(format: "%.1f MiB", Double(n) / Double(1 << 20)) }
    if n >= 1 << 10 { return String(format: "%.1f KiB", Double(n) / Double(1 << 10)) }
    return "\(n) B"
}

/// `tinylm tokenize`: the token ids of TEXT as a JSON array on one line. Reads only the
/// vocabulary, so vocabulary-only GGUF files work too.
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
