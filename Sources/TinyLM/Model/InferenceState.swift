/// All mutable memory one forward pass needs — activations, the KV cache and
/// the quantized-activation scratch — allocated once when a session is created, so that
/// decoding a token allocates nothing.
final class InferenceState {
    let maxBatch: Int
    let contextLength: Int
    let cache: KVCache
    let scratch: MatmulScratch
    let executor: any ComputeExecutor

    /// batch × embedding: the residual stream.
    let residual: UnsafeMutablePointer<Float>
    /// batch × max(embedding, query dim): normalized input of a block / block outputs.
    let normalized: UnsafeMutablePointer<Float>
    let blockOutput: UnsafeMutablePointer<Float>
    /// batch × query/key/value dims.
    let queries: UnsafeMutablePointer<Float>
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>
    /// batch × heads × valueLength: attention output before the output projection.
    let attended: UnsafeMutablePointer<Float>
    /// batch × feedForwardLength, twice (gate and up).
    let gate: UnsafeMutablePointer<Float>
    let up: UnsafeMutablePointer<Float>
    /// RoPE (cos, sin) table for one position.
    let ropeTable: UnsafeMutablePointer<Float>
    /// vocabulary: logits of the last token of the last forward pass.
    let logits: UnsafeMutablePointer<Float>

    private var allocations: [UnsafeMutablePointer<Float>] = []
    private(set) var byteCount: Int = 0

    init(config: ModelConfig, contextLength: Int, maxBatch: Int, executor: any ComputeExecutor) {
        self.maxBatch = maxBatch
        self.contextLength = contextLength
        self.executor = executor
        cache = KVCache(layerCount: config.layerCount, capacity: contextLength,
                        keyWidth: config.keyValueDimension, valueWidth: config.valueDimension)
        let widest = max(config.embeddingLength, config.queryDimension, config.headCount * config.valueLength)
        scratch = MatmulScratch(maxColumns: max(widest, config.feedForwardLength), maxBatch: maxBatch)

        var allocations: [UnsafeMutablePointer<Float>] = []
        var bytes = 0
        func make(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            p.initialize(repeating: 0, count: count)
            allocations.append(p)
            bytes += count * MemoryLayout<Float>.size
            return p
        }
        residual = make(maxBatch * config.embeddingLength)
        normalized = make(maxBatch * widest)
        blockOutput = make(maxBatch * widest)
        queries = make(maxBatch * config.queryDimension)
        keys = make(maxBatch * config.keyValueDimension)
        values = make(maxBatch * config.valueDimension)
        attended = make(maxBatch * config.headCount * config.valueLength)
        gate = make(maxBatch * config.feedForwardLength)
        up = make(maxBatch * config.feedForwardLength)
        ropeTable = make(config.keyLength)
        logits = make(config.vocabularySize)
        self.allocations = allocations
        self.byteCount = bytes + cache.byteCount
    }

    deinit {
        for p in allocations { p.deallocate() }
    }
}
