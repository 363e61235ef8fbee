/// A decoder architecture this runtime implements (GGUF `general.architecture`): its name and
/// its recipe. Each one is declared in its own file of this folder and listed in `all`.
public struct Architecture: Sendable, Equatable {
    /// The GGUF name (`general.architecture`), which also prefixes its metadata keys.
    public let name: String
    let recipe: DecoderRecipe

    /// The registry: every architecture a GGUF file may name.
    static let all: [Architecture] = [.llama, .qwen2, .qwen3, .phi3, .gemma3]

    static func named(_ name: String) -> Architecture? {
        all.first { $0.name == name }
    }

    /// "llama, qwen2, …" for error messages.
    static var supportedNames: String {
        var text = ""
        for architecture in all { text += (text.isEmpty ? "" : ", ") + architecture.name }
        return text
    }

    public static func == (a: Architecture, b: Architecture) -> Bool { a.name == b.name }
}
