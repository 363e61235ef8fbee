/// The one error type of the core. Every failure the core can report is a value of this type:
/// a machine-readable `kind` (stable numbers: the wasm ABI and the JS API map them to error
/// names) and a human message that says what went wrong and where.
public struct TinyLMError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Int32, Equatable, Sendable {
        /// The model bytes are not a well-formed GGUF file (truncated, corrupt, inconsistent).
        case malformedModel = 1
        /// Well-formed, but uses something this runtime does not implement (architecture,
        /// tensor type, tokenizer model).
        case unsupportedModel = 2
        /// The prompt plus generated tokens would not fit in the session's context.
        case contextOverflow = 3
        /// A caller passed a value outside its valid range (bad token id, bad sampling value…).
        case invalidArgument = 4
        /// A chat template failed to parse or raised while rendering.
        case template = 5
        /// A grammar or JSON schema is invalid or unsupported.
        case grammar = 6
        /// Memory for the session could not be reserved.
        case outOfMemory = 7
        /// A text generator (chat model) where an embedding model is expected, or the reverse.
        case wrongModelKind = 8
        /// A knowledge file that is not one, is truncated or corrupt, or has a bad checksum.
        case invalidKnowledgeFile = 9
        /// A knowledge file built with a different embedding model than the one given.
        case embedderMismatch = 10
        // LoRA adapters (Model/Adapters/LoRAAdapter.swift): one kind per way a file can fail to
        // fit a model, so callers can tell the user which.
        /// A GGUF file that is not a LoRA adapter (`general.type` or `adapter.type`).
        case notAnAdapter = 16
        /// An adapter made for another architecture than the model's.
        case adapterArchitecture = 17
        /// An adapter tensor that names no matrix of the model, or lacks its A/B partner.
        case adapterTensor = 18
        /// An adapter pair whose shape does not fit the matrix it changes.
        case adapterShape = 19
        /// An adapter pair whose A and B disagree on the rank.
        case adapterRank = 20
        /// A file manifest is malformed or inconsistent (FileManifest.swift).
        case invalidManifest = 11
        /// Bytes do not match the SHA-256 or the size a manifest gives for them.
        case integrity = 12
        // Session snapshots (Generation/SessionSnapshot.swift).
        /// A session snapshot made with another model file, other adapters, another chat
        /// template or another cache shape than the session it is restored into.
        case snapshotMismatch = 21
        /// Bytes that are not a session snapshot: wrong magic or version, truncated, a bad
        /// checksum, more tokens than the session's context, a token outside the vocabulary.
        case invalidSnapshot = 22
    }

    public let kind: Kind
    public let message: String

    /// Messages quote untrusted text (names, template excerpts): longer ones are cut here, so
    /// that an error about a corrupt file can never be as big as the file.
    public static let maximumMessageBytes = 4096

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        if message.utf8.count <= Self.maximumMessageBytes {
            self.message = message
        } else {
            self.message = String(decoding: message.utf8.prefix(Self.maximumMessageBytes), as: UTF8.self) + "…"
        }
    }

    public var description: String { message }

    public static func malformed(_ message: String) -> TinyLMError { TinyLMError(.malformedModel, message) }
    public static func unsupported(_ message: String) -> TinyLMError { TinyLMError(.unsupportedModel, message) }
    public static func invalidArgument(_ message: String) -> TinyLMError { TinyLMError(.invalidArgument, message) }
    public static func invalidManifest(_ message: String) -> TinyLMError { TinyLMError(.invalidManifest, message) }
    public static func integrity(_ message: String) -> TinyLMError { TinyLMError(.integrity, message) }
}
