/// All memory one encoder pass needs, allocated once per embedder for `capacity` tokens, so
/// that embedding texts allocates nothing per text or per pass: the packed batch (ids,
/// positions, text spans), the activations and the matmul scratch.
final class EncoderState {
    /// A text's tokens in the packed batch.
    struct Span {
        var start: Int
        var count: Int
    }

    let capacity: Int
    let executor: any ComputeExecutor
    let scratch: MatmulScratch

    let tokens: UnsafeMutablePointer<Int32>
    let positions: UnsafeMutablePointer<Int32>
    let spans: UnsafeMutablePointer<Span>
    private(set) var tokenCount = 0
    private(set) var spanCount = 0

    /// tokens × embedding: the residual stream, and a block's output.
    let hidden: UnsafeMutablePointer<Float>
    let block: UnsafeMutablePointer<Float>
    /// tokens × 3·embedding: [q | k | v] of each token.
    let qkv: UnsafeMutablePointer<Float>
    /// tokens × embedding: attention output before its projection.
    let attended: UnsafeMutablePointer<Float>
    /// tokens × feed-forward width.
    let feedForward: UnsafeMutablePointer<Float>
    /// One score row (longest text) per concurrent chunk of attention work.
    let attentionSlots: Int
    private let slotFloats: Int
    private let slots: UnsafeMutablePointer<Float>

    /// FloatGEMM's panels, one slot per concurrent chunk.
    let gemmSlots: Int
    let gemmScratch: UnsafeMutablePointer<Float>

    private var floatBuffers: [UnsafeMutablePointer<Float>] = []
    private(set) var byteCount = 0

    init(config: EncoderConfig, capacity: Int, executor: any ComputeExecutor) {
        self.capacity = capacity
        self.executor = executor
        let h = config.embeddingLength
        scratch = MatmulScratch(maxColumns: max(h, config.feedForwardLength), maxBatch: min(capacity, 128),
                                workers: executor.concurrency)
        tokens = .allocate(capacity: capacity)
        positions = .allocate(capacity: capacity)
        spans = .allocate(capacity: capacity)
        var buffers: [UnsafeMutablePointer<Float>] = []
        var bytes = capacity * 16
        func make(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            p.initialize(repeating: 0, count: count)
            buffers.append(p)
            bytes += count * 4
            return p
        }
        hidden = make(capacity * h)
        block = make(capacity * h)
        qkv = make(capacity * 3 * h)
        attended = make(capacity * h)
        feedForward = make(capacity * config.feedForwardLength)
        attentionSlots = max(1, executor.concurrency)
        slotFloats = config.contextLength
        slots = make(attentionSlots * slotFloats)
        gemmSlots = max(1, executor.concurrency)
        gemmScratch = make(gemmSlots * FloatGEMM.slotFloats)
        floatBuffers = buffers
        byteCount = bytes
    }

    deinit {
        tokens.deallocate()
        positions.deallocate()
        spans.deallocate()
        for p in floatBuffers { p.deallocate() }
    }

    @inline(__always)
    func attentionSlot(_ chunk: Int) -> UnsafeMutablePointer<Float> { slots + chunk * slotFloats }

    func reset() {
        tokenCount = 0
        spanCount = 0
    }

    /// Whether a text of `count` tokens still fits in this pass.
    func fits(_ count: Int) -> Bool { tokenCount + count <= capacity }

    /// Appends one text's ids (count ≤ capacity − tokenCount, ids already checked).
    func append(_ ids: UnsafeBufferPointer<Int32>) {
        let start = tokenCount
        for (i, id) in ids.enumerated() {
            tokens[start + i] = id
            positions[start + i] = Int32(i)
        }
        spans[spanCount] = Span(start: start, count: ids.count)
        spanCount += 1
        tokenCount += ids.count
    }
}
