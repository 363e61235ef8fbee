/// Where one tensor lives in a GGUF file. `shape` is in ggml order: shape[0] is the number of
/// values in one row (the fastest-varying dimension).
public struct GGUFTensorInfo {
    public let name: String
    public let shape: [Int]
    public let type: TensorType
    /// Offset from the start of the file (already includes the data section offset).
    public let fileOffset: Int
    public let byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A parsed GGUF file (versions 2 and 3). Parsing validates the whole header — every length,
/// count, offset and type — against the buffer, so later reads of metadata and tensors need no
/// checks. The file's bytes are not copied: the caller keeps `bytes` alive (mmap natively, the
/// wasm memory the page filled in the browser) for as long as the file or any model built
/// from it is in use.
public struct GGUFFile {
    public let version: UInt32
    public let bytes: UnsafeRawBufferPointer
    public let alignment: Int
    /// Start of the tensor data section.
    public let dataOffset: Int
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    public let tensors: [GGUFTensorInfo]
    private let tensorIndexByName: [String: Int]

    public init(bytes: UnsafeRawBufferPointer) throws(TinyLMError) {
        let parsed = try GGUFParser.parse(bytes)
        self.version = parsed.version
        self.bytes = bytes
        self.alignment = parsed.alignment
        self.dataOffset = parsed.dataOffset
        self.metadataKeys = parsed.keys
        self.metadata = parsed.metadata
        self.tensors = parsed.tensors
        var index: [String: Int] = [:]
        for (i, tensor) in parsed.tensors.enumerated() { index[tensor.name] = i }
        self.tensorIndexByName = index
    }

    public func tensorInfo(named name: String) -> GGUFTensorInfo? {
        tensorIndexByName[name].map { tensors[$0] }
    }

    /// A view of the tensor's bytes (no copy).
    public func tensorData(_ info: GGUFTensorInfo) -> UnsafeRawPointer {
        bytes.baseAddress! + info.fileOffset
    }

    // MARK: Typed metadata access

    public subscript(key: String) -> GGUFValue? { metadata[key] }

    public func string(_ key: String) -> String? { metadata[key]?.stringValue }
    public func int(_ key: String) -> Int? { metadata[key]?.intValue }
    public func float(_ key: String) -> Float? { metadata[key]?.floatValue }
    public func bool(_ key: String) -> Bool? { metadata[key]?.boolValue }
    public func array(_ key: String) -> GGUFArray? { metadata[key]?.arrayValue }

    public func requireString(_ key: String) throws(TinyLMError) -> String {
        guard let value = metadata[key] else { throw .malformed("missing required metadata '\(key)'") }
        guard let string = value.stringValue else { throw .malformed("metadata '\(key)' should be a string, found \(value.summary)") }
        return string
    }

    public func requireInt(_ key: String) throws(TinyLMError) -> Int {
        guard let value = metadata[key] else { throw .malformed("missing required metadata '\(key)'") }
        guard let int = value.intValue else { throw .malformed("metadata '\(key)' should be an integer, found \(value.summary)") }
        return int
    }

    /// An optional integer: nil when the key is absent, an error when it is present but not an
    /// integer that fits in an Int. (`int(_:)` would give nil for both, and on wasm32 a value
    /// beyond 2^31 would then quietly become the default where a 64-bit build refuses it.)
    public func optionalInt(_ key: String) throws(TinyLMError) -> Int? {
        guard let value = metadata[key] else { return nil }
        guard let int = value.intValue else {
            throw .malformed("metadata '\(key)' should be an integer this platform can represent, found \(value.summary)")
        }
        return int
    }

    public func requireArray(_ key: String) throws(TinyLMError) -> GGUFArray {
        guard let value = metadata[key] else { throw .malformed("missing required metadata '\(key)'") }
        guard let array = value.arrayValue else { throw .malformed("metadata '\(key)' should be an array, found \(value.summary)") }
        return array
    }
}
