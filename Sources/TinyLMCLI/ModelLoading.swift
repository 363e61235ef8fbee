import Foundation
import TinyLM
import TinyLMHost

/// The model file used when --model is not given: the one scripts/fetch-models.sh fetches.
let defaultModelRelativePath = "models/SmolLM2-135M-Instruct.Q4_1.gguf"

/// Finds the default model: $TINYLM_MODEL, then models/ under the current directory, then
/// models/ under the checkout the executable was built in (.build/<config>/tinylm).
func defaultModelPath() -> String {
    if let path = ProcessInfo.processInfo.environment["TINYLM_MODEL"], !path.isEmpty { return path }
    let fm = FileManager.default
    if fm.fileExists(atPath: defaultModelRelativePath) { return defaultModelRelativePath }
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<5 {
        let candidate = dir.appendingPathComponent(defaultModelRelativePath).path
        if fm.fileExists(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return defaultModelRelativePath
}

struct CLIError: Error, CustomStringConvertible { let description: String }

/// A model mapped from disk, kept alive together with its bytes.
final class LoadedModel {
    let file: MappedFile
    let model: Model
    let loadSeconds: Double
    /// LoRA adapters mapped for this model (AdapterFlags), kept as long as the model.
    var adapters: [(path: String, file: MappedFile, adapter: LoRAAdapter)] = []

    init(path: String?) throws {
        let path = path ?? defaultModelPath()
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIError(description: "model file not found: \(path)\n(run scripts/fetch-models.sh to fetch the default model, or pass --model PATH)")
        }
        let start = Date()
        do {
            file = try MappedFile(path: path)
        } catch {
            throw CLIError(description: "\(error)")
        }
        do {
            model = try Model(bytes: file.bytes)
        } catch {
            throw CLIError(description: "cannot load \(path): \(error.message)")
        }
        loadSeconds = Date().timeIntervalSince(start)
    }
}

/// The tokenizer of a GGUF file, loaded from its vocabulary metadata alone: works on full
/// models and on vocabulary-only files (no tensors), as llama.cpp's `llama-tokenize`.
final class LoadedTokenizer {
    let tokenizer: Tokenizer

    init(path: String?) throws {
        let path = path ?? defaultModelPath()
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIError(description: "model file not found: \(path)\n(run scripts/fetch-models.sh to fetch the default model, or pass --model PATH)")
        }
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw CLIError(description: "\(error)")
        }
        do {
            // The tokenizer copies what it keeps, so the mapping can go when this returns.
            tokenizer = try Tokenizer(gguf: try GGUFFile(bytes: file.bytes))
        } catch {
            throw CLIError(description: "cannot load the vocabulary of \(path): \(error.message)")
        }
    }
}

func makeExecutor(threads: Int) -> any ComputeExecutor {
    threads <= 1 ? SerialExecutor() : ThreadPool(threads: threads)
}

/// Default thread count: every core the process may use (the machine has 2).
func defaultThreadCount() -> Int { max(1, ThreadPool.availableProcessors) }

func parseIDList(_ text: String) throws -> [Int32] {
    guard let data = text.data(using: .utf8),
          let array = try? JSONSerialization.jsonObject(with: data) as? [Any] else {
        throw CLIError(description: "--prompt-ids expects a JSON array of token ids, e.g. [1, 2, 3]")
    }
    return try array.map { element in
        guard let number = element as? NSNumber, let id = Int32(exactly: number.doubleValue) else {
            throw CLIError(description: "--prompt-ids: \(element) is not a token id")
        }
        return id
    }
}

func jsonIDList(_ ids: [Int32]) -> String { "[" + ids.map(String.init).joined(separator: ", ") + "]" }

/// Writes text to stdout immediately (streaming output must not wait for a newline).
func emit(_ text: String) {
    guard !text.isEmpty else { return }
    FileHandle.standardOutput.write(text.data(using: .utf8)!)
}
