import Foundation
import TinyLM
import TinyLMHost

/// `tinylm index`: builds a knowledge file from folders and files of .md, .txt and .html.
/// Each file is a document: its id is its path relative to the folder given (or its name),
/// its URL `--base-url` + that path (or the path alone).
func runIndex(_ arguments: [String]) throws -> Int32 {
    let a = try Arguments(arguments, valued: ["--embedder", "--out", "--vectors", "--chunk-tokens", "--overlap", "--threads", "--base-url", "--batch"],
                          flags: ["--quiet"])
    guard let out = a.value("--out") else { throw CLIError(description: "index needs --out FILE") }
    guard !a.positional.isEmpty else { throw CLIError(description: "index needs at least one folder or file") }
    let form = try VectorForm(name: a.value("--vectors") ?? "int8").orThrow("--vectors expects int8, f16 or f32")
    let loaded = try LoadedEmbedder(path: a.value("--embedder"), threads: try a.int("--threads", default: defaultThreadCount()))
    let embedder = loaded.embedder
    let chunker = DocumentChunker(tokenizer: embedder.tokenizer,
                                  maxTokens: try a.int("--chunk-tokens", default: min(160, embedder.maxTokens - 2)),
                                  overlapTokens: try a.int("--overlap", default: 32))
    let baseURL = a.value("--base-url") ?? ""

    // Collect the files first, so the progress bar knows the total.
    var sources: [KnowledgeSource] = []
    let fm = FileManager.default
    for root in a.positional {
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDirectory) else { throw CLIError(description: "no such file or folder: \(root)") }
        var files: [(path: String, relative: String)] = []
        if isDirectory.boolValue {
            let rootURL = URL(fileURLWithPath: root).standardizedFileURL
            let enumerator = fm.enumerator(at: rootURL, includingPropertiesForKeys: [.isRegularFileKey])
            while let url = enumerator?.nextObject() as? URL {
                guard DocumentFormat(fileExtension: url.pathExtension) != nil else { continue }
                let relative = String(url.standardizedFileURL.path.dropFirst(rootURL.path.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
                files.append((url.path, relative))
            }
            files.sort { $0.relative < $1.relative }
        } else {
            files.append((root, URL(fileURLWithPath: root).lastPathComponent))
        }
        for file in files {
            guard let format = DocumentFormat(fileExtension: URL(fileURLWithPath: file.path).pathExtension) else {
                throw CLIError(description: "\(file.path): not .md, .txt or .html")
            }
            guard let data = fm.contents(atPath: file.path) else { throw CLIError(description: "cannot read \(file.path)") }
            sources.append(KnowledgeSource(id: file.relative, url: baseURL + file.relative,
                                           text: String(decoding: data, as: UTF8.self), format: format))
        }
    }
    let start = Date()
    let prepared = sources.map { KnowledgeIndexer.prepare($0, chunker: chunker) }
    let total = prepared.reduce(0) { $0 + $1.chunks.count }
    let base = KnowledgeBase(embedder: embedder.identity, vectorForm: form)
    let progress = ProgressBar(total: total, quiet: a.has("--quiet"))
    var done = 0
    for document in prepared {
        do {
            try KnowledgeIndexer.add(document, to: base, embedder: embedder, batch: try a.int("--batch", default: 32)) { n in
                progress.update(done + n, note: document.document.id)
            }
        } catch let error as TinyLMError {
            throw CLIError(description: "\(document.document.id): \(error.message)")
        }
        done += document.chunks.count
    }
    progress.finish()
    let bytes = KnowledgeFile.write(base)
    do { try Data(bytes).write(to: URL(fileURLWithPath: out)) } catch { throw CLIError(description: "cannot write \(out): \(error.localizedDescription)") }
    let seconds = Date().timeIntervalSince(start)
    FileHandle.standardError.write(String(format: "%@: %d documents, %d chunks, %@ (%.0f bytes per chunk, %@ vectors), %.1f s\n",
                                          out, base.documents.count, base.chunks.count, formatBytes(bytes.count),
                                          base.chunks.isEmpty ? 0 : Double(bytes.count) / Double(base.chunks.count), form.name, seconds).data(using: .utf8)!)
    return 0
}

/// A one-line progress bar on stderr (redrawn in place on a terminal, a few lines otherwise).
final class ProgressBar {
    let total: Int
    let quiet: Bool
    let terminal = isatty(2) != 0
    private var lastDrawn = Date.distantPast
    private var lastPercent = -1

    init(total: Int, quiet: Bool) {
        self.total = total
        self.quiet = quiet
    }

    func update(_ done: Int, note: String) {
        guard !quiet, total > 0 else { return }
        let percent = done * 100 / total
        if terminal {
            guard Date().timeIntervalSince(lastDrawn) > 0.1 || done == total else { return }
            lastDrawn = Date()
            let width = 30, filled = done * width / total
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            FileHandle.standardError.write("\r[\(bar)] \(done)/\(total) chunks  \(note.prefix(40))\u{1B}[K".data(using: .utf8)!)
        } else if percent / 25 != lastPercent / 25 {
            lastPercent = percent
            FileHandle.standardError.write("indexed \(done)/\(total) chunks\n".data(using: .utf8)!)
        }
    }

    func finish() {
        if terminal && !quiet && total > 0 { FileHandle.standardError.write("\n".data(using: .utf8)!) }
    }
}

extension Optional {
    func orThrow(_ message: String) throws -> Wrapped {
        guard let value = self else { throw CLIError(description: message) }
        return value
    }
}

/// `tinylm chat --knowledge FILE --embedder PATH [--k N]`: each question is searched in the
/// knowledge file, the best passages go into the prompt (GroundedPrompt's layout) and the
/// sources are printed after the answer.
final class ChatKnowledge {
    static let valued: Set<String> = ["--knowledge", "--embedder", "--k"]

    let file: MappedFile
    let embedder: LoadedEmbedder
    let base: KnowledgeBase
    let k: Int
    private(set) var lastPassages: [GroundedPrompt.Passage] = []

    /// nil when --knowledge is not given.
    static func load(_ a: Arguments) throws -> ChatKnowledge? {
        guard let path = a.value("--knowledge") else {
            if a.value("--embedder") != nil { throw CLIError(description: "--embedder needs --knowledge FILE") }
            return nil
        }
        return try ChatKnowledge(path: path, embedderPath: a.value("--embedder"), k: try a.int("--k", default: 3))
    }

    init(path: String, embedderPath: String?, k: Int) throws {
        do { file = try MappedFile(path: path) } catch { throw CLIError(description: "\(error)") }
        embedder = try LoadedEmbedder(path: embedderPath, threads: 1)
        do {
            base = try KnowledgeFile.read(file.bytes, expecting: embedder.embedder.identity)
        } catch {
            throw CLIError(description: "cannot use the knowledge file \(path): \(error.message)")
        }
        self.k = max(1, k)
    }

    /// The conversation to format: the last user message grounded in the passages found for it.
    func ground(_ messages: [ChatMessage]) throws(TinyLMError) -> [ChatMessage] {
        guard let question = GroundedPrompt.question(in: messages) else { return messages }
        let hits = try KnowledgeIndexer.search(question, in: base, embedder: embedder.embedder, k: k)
        lastPassages = GroundedPrompt.passages(hits, in: base)
        return GroundedPrompt.messages(messages, passages: lastPassages)
    }

    /// "Sources:" and one line per passage used.
    var sourcesText: String {
        guard !lastPassages.isEmpty else { return "" }
        var text = "Sources:\n"
        for (i, p) in lastPassages.enumerated() {
            let place = p.heading.isEmpty ? p.title : p.title + " › " + p.heading
            text += String(format: "  [%d] %@%@ (score %.3f)\n", i + 1, place, p.url.isEmpty ? "" : " — " + p.url, p.score)
        }
        return text
    }
}

/// `tinylm search`: the passages a knowledge file holds for each QUERY, best first, with
/// scores. `--synthetic N` searches N random unit vectors instead (a benchmark of the exact
/// search: `--repeat R --verbose` prints the best time per query).
func runSearch(_ arguments: [String]) throws -> Int32 {
    let a = try Arguments(arguments, valued: ["--knowledge", "--embedder", "--k", "--synthetic", "--vectors", "--repeat", "--threads"],
                          flags: ["--verbose"])
    guard !a.positional.isEmpty else { throw CLIError(description: "search needs at least one QUERY") }
    let threads = try a.int("--threads", default: 1)
    let loaded = try LoadedEmbedder(path: a.value("--embedder"), threads: 1)
    let embedder = loaded.embedder
    let base: KnowledgeBase
    var file: MappedFile? = nil
    if let count = a.value("--synthetic") {
        guard let n = Int(count), n > 0 else { throw CLIError(description: "--synthetic expects a number of chunks") }
        let form = try VectorForm(name: a.value("--vectors") ?? "int8").orThrow("--vectors expects int8, f16 or f32")
        base = KnowledgeBase(embedder: embedder.identity, vectorForm: form)
        var generator = SeededRandom(seed: 7)
        let d = embedder.dimensions
        var vectors = [Float](repeating: 0, count: 1000 * d)
        var added = 0
        while added < n {
            let batch = min(1000, n - added)
            for i in 0..<batch {
                var norm: Float = 0
                for j in 0..<d { let x = Float(Double(generator.next() >> 11) / Double(1 << 53) * 2 - 1); vectors[i * d + j] = x; norm += x * x }
                let scale = 1 / norm.squareRoot()
                for j in 0..<d { vectors[i * d + j] *= scale }
            }
            let chunks = (0..<batch).map { (heading: "", text: "synthetic chunk \(added + $0)") }
            try vectors.withUnsafeBufferPointer { v in
                try base.add(KnowledgeDocument(id: "synthetic-\(added)", title: "synthetic", url: ""), chunks: chunks,
                             vectors: UnsafeBufferPointer(rebasing: v[0..<batch * d]))
            }
            added += batch
        }
    } else {
        guard let path = a.value("--knowledge") else { throw CLIError(description: "search needs --knowledge FILE (or --synthetic N)") }
        do { file = try MappedFile(path: path) } catch { throw CLIError(description: "\(error)") }
        do { base = try KnowledgeFile.read(file!.bytes, expecting: embedder.identity) } catch {
            throw CLIError(description: "cannot use the knowledge file \(path): \(error.message)")
        }
    }
    let executor = makeExecutor(threads: threads)
    let k = try a.int("--k", default: 3)
    for query in a.positional {
        let vector = try embedder.embed([query], pooling: base.embedder.pooling).vectors
        var best = Double.infinity
        var hits: [KnowledgeHit] = []
        for _ in 0..<max(1, try a.int("--repeat", default: 1)) {
            let start = Date()
            hits = try base.search(vector, k: k, executor: executor)
            best = min(best, Date().timeIntervalSince(start))
        }
        print("\(query)")
        for p in GroundedPrompt.passages(hits, in: base) {
            let place = p.heading.isEmpty ? p.title : p.title + " › " + p.heading
            print(String(format: "  %.4f  %@%@\n          %@", p.score, place, p.url.isEmpty ? "" : " — " + p.url,
                         String(p.text.prefix(160)).replacingOccurrences(of: "\n", with: " ")))
        }
        if a.has("--verbose") {
            FileHandle.standardError.write(String(format: "[%d chunks, %@ vectors: %.2f ms per search; threads %d]\n",
                                                  base.chunks.count, base.vectorForm.name, best * 1000, threads).data(using: .utf8)!)
        }
    }
    _ = file
    return 0
}
