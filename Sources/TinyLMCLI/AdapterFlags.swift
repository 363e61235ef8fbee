import Foundation
import TinyLM
import TinyLMHost

/// `--lora FILE` (scale 1) and `--lora-scaled FILE:SCALE`, spelled as llama.cpp spells them:
/// each may be repeated or list several adapters separated by commas.
enum AdapterFlags {
    static let valued: Set<String> = ["--lora", "--lora-scaled"]

    /// The adapters the arguments name, mapped and checked against `loaded`'s model (which
    /// keeps their files mapped), in order: the --lora ones, then the --lora-scaled ones.
    static func load(_ a: Arguments, for loaded: LoadedModel) throws -> [ScaledAdapter] {
        var requests: [(path: String, scale: Float)] = []
        for value in a.values("--lora") {
            for path in value.split(separator: ",") { requests.append((String(path), 1)) }
        }
        for value in a.values("--lora-scaled") {
            for item in value.split(separator: ",") {
                guard let colon = item.lastIndex(of: ":"), let scale = Float(item[item.index(after: colon)...]), scale.isFinite else {
                    throw CLIError(description: "--lora-scaled expects FILE:SCALE, got '\(item)'")
                }
                requests.append((String(item[..<colon]), scale))
            }
        }
        return try requests.map { try ScaledAdapter(loaded.adapter(at: $0.path), scale: $0.scale) }
    }

    /// `load`, then applied to `session`.
    static func apply(_ a: Arguments, for loaded: LoadedModel, to session: Session) throws {
        let adapters = try load(a, for: loaded)
        do { try session.setAdapters(adapters) } catch { throw CLIError(description: error.message) }
    }
}

extension LoadedModel {
    /// The adapter file at `path`, mapped (once per path) and checked against this model.
    func adapter(at path: String) throws -> LoRAAdapter {
        if let known = adapters.first(where: { $0.path == path }) { return known.adapter }
        guard FileManager.default.fileExists(atPath: path) else { throw CLIError(description: "adapter file not found: \(path)") }
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw CLIError(description: "\(error)") }
        do {
            let adapter = try LoRAAdapter(bytes: file.bytes, model: model)
            adapters.append((path, file, adapter))
            return adapter
        } catch {
            throw CLIError(description: "cannot use adapter \(path): \(error.message)")
        }
    }
}
