/// A LoRA adapter in the GGUF form llama.cpp reads (its `convert_lora_to_gguf.py` writes it;
/// so does scripts/convert-lora.py): metadata `general.type = "adapter"`, `adapter.type =
/// "lora"`, `adapter.lora.alpha`, `general.architecture` equal to the base model's, and for
/// every matrix W it changes two tensors named after W:
///
///     <W>.lora_a   ggml shape [in, rank]    (rank rows of `in` values)
///     <W>.lora_b   ggml shape [rank, out]   (`out` rows of `rank` values)
///
/// so that W·x becomes W·x + scale·(alpha/rank)·B·(A·x). For the embedding table, which is
/// looked up rather than multiplied, A is [rank, vocabulary] (one row of A per token) and B
/// [rank, embedding]. Types: F32, F16, BF16 or Q8_0. Norm tensors (`…_norm.weight`) are
/// skipped, as llama.cpp skips them.
///
/// Validated against one model, once; the forward pass then needs no checks. The bytes are
/// used in place (zero copy): the caller keeps them alive and unchanged while the adapter
/// exists. Applying it is a session's choice (`Session.setAdapters`): the model is never
/// changed, so any number of sessions share it with or without adapters.
public final class LoRAAdapter {
    public let model: Model
    public let gguf: GGUFFile
    /// `adapter.lora.alpha` (0 when absent: then the user scale alone multiplies B·A·x).
    public let alpha: Float
    /// The adapted matrices, in the model's slot order.
    let pairs: [LoRAPair]

    /// How many of the model's matrices it changes.
    public var adaptedMatrixCount: Int { pairs.count }
    /// The largest rank among them.
    public var maxRank: Int { pairs.reduce(0) { Swift.max($0, $1.rank) } }
    /// Bytes of its A and B tensors.
    public var weightBytes: Int { pairs.reduce(0) { $0 + $1.a.rows * $1.a.rowBytes + $1.b.rows * $1.b.rowBytes } }

    public init(bytes: UnsafeRawBufferPointer, model: Model) throws(TinyLMError) {
        let gguf = try GGUFFile(bytes: bytes)
        try Self.checkMetadata(gguf, model: model)
        var alpha: Float = 0
        if let value = gguf["adapter.lora.alpha"] {
            guard let number = value.floatValue, number.isFinite else {
                throw .malformed("adapter.lora.alpha should be a finite number, found \(value.summary)")
            }
            alpha = number
        }
        self.model = model
        self.gguf = gguf
        self.alpha = alpha
        pairs = Self.arranged(try Self.pairs(gguf, model: model), model: model, fileBytes: bytes.count)
    }

    deinit {
        for pair in pairs { pair.layout.deallocate() }
    }

    /// The pairs with their decode layouts (LoRALayout), when the memory for them can be had and
    /// stays within three times the file's size (f16 widened to f32 is twice; a hostile file can point
    /// many tensors at the same bytes) and 256 MiB; otherwise all in place, which gives the
    /// same results, slower.
    private static func arranged(_ pairs: [LoRAPair], model: Model, fileBytes: Int) -> [LoRAPair] {
        let limit = fileBytes >= (256 << 20) / 3 ? 256 << 20 : fileBytes * 3
        let matrices = model.adaptableMatrices
        var total = 0
        for pair in pairs {
            let bytes = LoRALayout.byteCount(pair, isEmbedding: matrices[pair.slot].isEmbedding)
            let (sum, overflow) = total.addingReportingOverflow(bytes)
            guard !overflow, sum <= limit else { return pairs }
            total = sum
        }
        guard total > 0, SessionMemory.isAvailable(total) else { return pairs }
        return pairs.map { pair in
            var arranged = pair
            arranged.layout = LoRALayout.make(pair, isEmbedding: matrices[pair.slot].isEmbedding)
            return arranged
        }
    }

    private static func checkMetadata(_ gguf: GGUFFile, model: Model) throws(TinyLMError) {
        let type = gguf.string("general.type")
        guard type == "adapter" else {
            throw TinyLMError(.notAnAdapter, type.map { "not a LoRA adapter: general.type is '\($0)', expected 'adapter'" }
                                             ?? "not a LoRA adapter: the file has no general.type (a model file?)")
        }
        let adapterType = gguf.string("adapter.type")
        guard adapterType == "lora" else {
            throw TinyLMError(.notAnAdapter, "not a LoRA adapter: adapter.type is '\(adapterType ?? "missing")', expected 'lora'")
        }
        let architecture = gguf.string("general.architecture") ?? "missing"
        let base = model.gguf.string("general.architecture") ?? model.config.architecture.name
        guard architecture == base else {
            throw TinyLMError(.adapterArchitecture, "the adapter is for architecture '\(architecture)' but the model is '\(base)'")
        }
    }

    /// Pairs `<W>.lora_a` with `<W>.lora_b` and checks each pair against W.
    private static func pairs(_ gguf: GGUFFile, model: Model) throws(TinyLMError) -> [LoRAPair] {
        let matrices = model.adaptableMatrices
        var slotByName: [String: Int] = [:]
        for (slot, matrix) in matrices.enumerated() { slotByName[matrix.name] = slot }

        var halves: [Int: (a: GGUFTensorInfo?, b: GGUFTensorInfo?)] = [:]
        for tensor in gguf.tensors {
            let name = tensor.name
            let isA = name.hasSuffix(".lora_a"), isB = name.hasSuffix(".lora_b")
            guard isA || isB else {
                if name.hasSuffix("_norm.weight") { continue }
                throw TinyLMError(.adapterTensor, "adapter tensor '\(name)' is neither a .lora_a nor a .lora_b")
            }
            let base = String(name.dropLast(7))
            guard let slot = slotByName[base] else {
                throw TinyLMError(.adapterTensor, "adapter tensor '\(name)' names '\(base)', which is no matrix of this model")
            }
            var pair = halves[slot] ?? (nil, nil)
            if isA { pair.a = tensor } else { pair.b = tensor }
            halves[slot] = pair
        }

        var pairs: [LoRAPair] = []
        for slot in halves.keys.sorted() {
            let matrix = matrices[slot]
            guard let a = halves[slot]?.a, let b = halves[slot]?.b else {
                let missing = halves[slot]?.a == nil ? "lora_a" : "lora_b"
                throw TinyLMError(.adapterTensor, "adapter has no \(matrix.name).\(missing) to pair with its other half")
            }
            pairs.append(try pair(slot: slot, matrix: matrix, a: a, b: b, gguf: gguf, model: model))
        }
        return pairs
    }

    private static func pair(slot: Int, matrix m: AdaptableMatrix, a: GGUFTensorInfo, b: GGUFTensorInfo,
                             gguf: GGUFFile, model: Model) throws(TinyLMError) -> LoRAPair {
        for t in [a, b] {
            guard t.shape.count <= 2 || t.shape.dropFirst(2).allSatisfy({ $0 == 1 }) else {
                throw TinyLMError(.adapterShape, "adapter tensor '\(t.name)' has shape \(t.shape); a 2-D matrix is expected")
            }
            guard LoRAProduct.supports(t.type) else {
                throw .unsupported("adapter tensor '\(t.name)' is \(t.type.name); adapters may be F32, F16, BF16 or Q8_0")
            }
        }
        let a0 = a.shape[0], a1 = a.shape.count > 1 ? a.shape[1] : 1
        let b0 = b.shape[0], b1 = b.shape.count > 1 ? b.shape[1] : 1
        // [in, rank] and [rank, out]; the embedding's [rank, vocabulary] and [rank, embedding].
        let (aRank, expectedA, expectedB) = m.isEmbedding
            ? (a0, "[rank, \(m.rows)]", "[rank, \(m.columns)]")
            : (a1, "[\(m.columns), rank]", "[rank, \(m.rows)]")
        let fits = m.isEmbedding ? (a1 == m.rows && b1 == m.columns) : (a0 == m.columns && b1 == m.rows)
        guard fits else {
            throw TinyLMError(.adapterShape, "adapter pair for '\(m.name)' (\(m.rows)×\(m.columns)) has lora_a \(a.shape) and lora_b \(b.shape); expected \(expectedA) and \(expectedB)")
        }
        guard aRank == b0 else {
            throw TinyLMError(.adapterRank, "adapter pair for '\(m.name)': lora_a has rank \(aRank) but lora_b has rank \(b0)")
        }
        // The activation scratch of a session is as wide as the model's widest matrix input.
        let widest = Swift.max(model.config.embeddingLength, model.config.feedForwardLength)
        guard aRank >= 1, aRank <= widest else {
            throw TinyLMError(.adapterShape, "adapter pair for '\(m.name)' has rank \(aRank); 1…\(widest) is supported")
        }
        let rank = aRank
        let aMatrix = m.isEmbedding
            ? WeightMatrix(name: a.name, type: a.type, rows: m.rows, columns: rank, data: gguf.tensorData(a))
            : WeightMatrix(name: a.name, type: a.type, rows: rank, columns: m.columns, data: gguf.tensorData(a))
        let bMatrix = WeightMatrix(name: b.name, type: b.type, rows: m.rows, columns: rank, data: gguf.tensorData(b))
        return LoRAPair(slot: slot, a: aMatrix, b: bMatrix, rank: rank)
    }
}

/// The low-rank pair of one adapted matrix.
struct LoRAPair {
    /// The matrix it changes (`Decoder.adaptable`).
    let slot: Int
    /// rank × in; for the embedding table vocabulary × rank (row = token).
    let a: WeightMatrix
    /// out × rank.
    let b: WeightMatrix
    let rank: Int
    /// Its tensors as the decode step reads them; owned by the adapter.
    var layout = LoRALayout.inPlace

    /// The factor B·(A·x) is multiplied by at user scale `scale`, computed as llama.cpp's
    /// `llama_adapter_lora_weight::get_scale` does (in Float, scale·alpha first).
    func factor(alpha: Float, scale: Float) -> Float {
        alpha != 0 ? scale * alpha / Float(rank) : scale
    }
}

/// An adapter and the scale a session applies it with (llama.cpp's `--lora-scaled FILE:SCALE`).
public struct ScaledAdapter {
    public let adapter: LoRAAdapter
    public let scale: Float

    public init(_ adapter: LoRAAdapter, scale: Float = 1) {
        self.adapter = adapter
        self.scale = scale
    }

    /// The same adapter object at the same scale (bit for bit): the cached keys and values of
    /// one are valid for the other.
    func isSame(as other: ScaledAdapter) -> Bool {
        adapter === other.adapter && scale.bitPattern == other.scale.bitPattern
    }
}
