/// All mutable memory one forward pass needs — activations, the KV cache and
/// the quantized-activation scratch — allocated once when a session is created, so that
/// decoding a token allocates nothing.
final class InferenceState {
    let maxBatch: Int
    let contextLength: Int
    let cache: KVCache
    let scratch: MatmulScratch
    let executor: any ComputeExecutor
    /// The LoRA adapters this session applies (nil: the base model alone).
    var adapters: AdapterBinding? = nil

    /// batch × embedding: the residual stream.
    let residual: UnsafeMutablePointer<Float>
    /// batch × max(embedding, query dim): normalized input of a block / block outputs.
    let normalized: UnsafeMutablePointer<Float>
    let blockOutput: UnsafeMutablePointer<Float>
    /// batch × query/key/value dims (`queries` holds all three for a fused projection).
    let queries: UnsafeMutablePointer<Float>
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>
    /// batch × heads × valueLength: attention output before the output projection.
    let attended: UnsafeMutablePointer<Float>
    /// batch × 2 × feedForwardLength: each token's gate values, then its up values.
    let feedForwardHidden: UnsafeMutablePointer<Float>
    /// Two RoPE (cos, sin) tables, for the two (rotation, position) pairs used last.
    let ropeTables: UnsafeMutablePointer<Float>
    private let ropeTableWidth: Int
    private var ropeKeys: (RoPE.TableKey?, RoPE.TableKey?) = (nil, nil)
    private var ropeNextSlot = 0
    /// vocabulary: logits of the last token of the last forward pass.
    let logits: UnsafeMutablePointer<Float>
    /// Per concurrent chunk of attention heads (`attentionSlot`): the online-softmax state of
    /// its heads and the cached rows it has converted from f16 (DecodeAttention.swift,
    /// TiledAttention.swift).
    let attentionSlots: Int
    let attentionSlotFloats: Int
    private let attentionScratch: UnsafeMutablePointer<Float>

    @inline(__always)
    func attentionSlot(_ chunk: Int) -> UnsafeMutablePointer<Float> { attentionScratch + chunk * attentionSlotFloats }

    private var allocations: [UnsafeMutablePointer<Float>] = []
    private(set) var byteCount: Int = 0

    init(config: ModelConfig, contextLength: Int, maxBatch: Int, executor: any ComputeExecutor) {
        self.maxBatch = maxBatch
        self.contextLength = contextLength
        self.executor = executor
        cache = KVCache(layerCount: config.layerCount, capacity: contextLength,
                        keyWidth: config.keyValueDimension, valueWidth: config.valueDimension)
        let widest = max(config.embeddingLength, config.queryDimension, config.headCount * config.valueLength)
        scratch = MatmulScratch(maxColumns: max(widest, config.feedForwardLength), maxBatch: maxBatch,
                                workers: executor.concurrency)

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
        queries = make(maxBatch * (config.queryDimension + config.keyValueDimension + config.valueDimension))
        keys = make(maxBatch * config.keyValueDimension)
        values = make(maxBatch * config.valueDimension)
        attended = make(maxBatch * config.headCount * config.valueLength)
        feedForwardHidden = make(maxBatch * 2 * config.feedForwardLength)
        ropeTableWidth = config.keyLength
        ropeTables = make(2 * config.keyLength)
        logits = make(config.vocabularySize)
        attentionSlots = max(1, executor.concurrency)
        attentionSlotFloats = max(Attention.decodeSlotFloats(keyLength: config.keyLength, valueLength: config.valueLength,
                                                             heads: config.headCount, kvHeads: config.kvHeadCount),
                                  maxBatch >= Attention.tiledRows
                                      ? Attention.tiledSlotFloats(keyLength: config.keyLength, valueLength: config.valueLength,
                                                                  heads: config.headCount, maxBatch: maxBatch)
                                      : 0)
        attentionScratch = make(attentionSlots * attentionSlotFloats)
        self.allocations = allocations
        self.byteCount = bytes + cache.byteCount
    }

    /// `rope`'s table for `position`. Layers with the same rotation share it, so a decode step
    /// computes one table per distinct RoPE (Gemma has two) instead of one per layer.
    func ropeTable(_ rope: RoPE, position: Int) -> UnsafePointer<Float> {
        let key = rope.tableKey(position: position, contextLength: contextLength)
        if ropeKeys.0 == key { return UnsafePointer(ropeTables) }
        if ropeKeys.1 == key { return UnsafePointer(ropeTables + ropeTableWidth) }
        let slot = ropeNextSlot
        ropeNextSlot ^= 1
        if slot == 0 { ropeKeys.0 = key } else { ropeKeys.1 = key }
        let table = ropeTables + slot * ropeTableWidth
        rope.fillTable(table, position: position, contextLength: contextLength)
        return UnsafePointer(table)
    }

    deinit {
        for p in allocations { p.deallocate() }
    }
}
