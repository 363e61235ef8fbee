import Foundation
import TinyLM
import TinyLMHost

/// The embedding model used when --model/--embedder is not given: the one
/// `scripts/fetch-models.sh minilm` converts.
let defaultEmbedderRelativePath = "models/all-MiniLM-L6-v2.gguf"

/// An embedding model mapped from disk, kept alive together with its bytes.
final class LoadedEmbedder {
    let file: MappedFile
    let embedder: TextEmbedder

    init(path: String?, threads: Int, batchTokens: Int = 512) throws {
        let path = path ?? locateDefault(defaultEmbedderRelativePath, environment: "TINYLM_EMBEDDER")
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIError(description: "embedding model not found: \(path)\n(run scripts/fetch-models.sh minilm, or pass --model PATH)")
        }
        do { file = try MappedFile(path: path) } catch { throw CLIError(description: "\(error)") }
        do {
            embedder = try TextEmbedder(bytes: file.bytes, executor: makeExecutor(threads: threads), batchTokens: batchTokens)
        } catch {
            throw CLIError(description: "cannot load \(path) as an embedding model: \(error.message)")
        }
    }
}

/// `path` under the current directory or the checkout the executable was built in, unless
/// the environment variable names a file.
func locateDefault(_ relativePath: String, environment: String) -> String {
    if let path = ProcessInfo.processInfo.environment[environment], !path.isEmpty { return path }
    let fm = FileManager.default
    if fm.fileExists(atPath: relativePath) { return relativePath }
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<5 {
        let candidate = dir.appendingPathComponent(relativePath).path
        if fm.fileExists(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return relativePath
}

/// `tinylm embed`: one JSON array per TEXT, one per line, in order. Texts longer than the
/// model's limit are cut (sentence-transformers' truncation) and a note on stderr says so.
func runEmbed(_ arguments: [String]) throws -> Int32 {
    let a = try Arguments(arguments, valued: ["--model", "--pooling", "--threads", "--max-tokens", "--repeat", "--batch-tokens"], flags: ["--ids", "--verbose"])
    guard !a.positional.isEmpty else { throw CLIError(description: "embed needs at least one TEXT (use -- before text that starts with a dash)") }
    let loaded = try LoadedEmbedder(path: a.value("--model"), threads: try a.int("--threads", default: 1),
                                    batchTokens: try a.int("--batch-tokens", default: 512))
    let embedder = loaded.embedder
    var pooling: EmbeddingPooling? = nil
    if let name = a.value("--pooling") {
        guard let value = EmbeddingPooling(name: name) else { throw CLIError(description: "--pooling expects mean, cls or last, got '\(name)'") }
        pooling = value
    }
    if let limit = a.value("--max-tokens") {
        guard let count = Int(limit) else { throw CLIError(description: "--max-tokens expects a whole number") }
        do { try embedder.setMaxTokens(count) } catch { throw CLIError(description: error.message) }
    }
    let texts = a.positional.map { embedder.tokenize($0) }
    for (i, text) in texts.enumerated() where text.truncated {
        FileHandle.standardError.write("note: text \(i + 1) has \(text.fullCount) tokens; embedded its first \(text.ids.count) (the model's limit)\n".data(using: .utf8)!)
    }
    if a.has("--ids") {
        for text in texts { print(jsonIDList(text.ids)) }
        return 0
    }
    var result: Embeddings? = nil
    // --repeat N: embed the batch N times and report the fastest (benchmarks; scripts/bench-embed.py).
    var best = Double.infinity
    for _ in 0..<max(1, try a.int("--repeat", default: 1)) {
        let start = Date()
        do { result = try embedder.embed(tokenized: texts, pooling: pooling) } catch { throw CLIError(description: error.message) }
        best = min(best, Date().timeIntervalSince(start))
    }
    let tokens = texts.reduce(0) { $0 + $1.ids.count }
    if a.has("--verbose") {
        FileHandle.standardError.write(String(format: "[%d texts, %d tokens: %.2f ms, %.1f texts/s, %.0f tokens/s; threads %@]\n",
                                              texts.count, tokens, best * 1000, Double(texts.count) / best, Double(tokens) / best,
                                              a.value("--threads") ?? "1").data(using: .utf8)!)
    }
    guard let result else { return 1 }
    var out = ""
    for i in 0..<result.count {
        out += "[" + result.vector(i).map { "\($0)" }.joined(separator: ", ") + "]\n"
    }
    emit(out)
    return 0
}
