/// Quantized-activation buffers for `MatrixMultiply.multiply`, sized once per session for the
/// widest matrix input (`maxColumns`) and the largest batch, and reused for every call: the
/// multiply itself allocates nothing.
public final class MatmulScratch {
    public let maxColumns: Int
    public let maxBatch: Int
    /// Per-token strides (elements) of the buffers below.
    let columnStride: Int
    let blockStride: Int
    /// The quants in element order (what the AVX2, relaxed-SIMD and scalar kernels read).
    let q8: UnsafeMutablePointer<Int8>
    /// The same quants in the SIMD128 kernels' plane order (Kernels/SIMD128/SIMD128Lanes.swift).
    let planes: UnsafeMutablePointer<Int16>
    let d: UnsafeMutablePointer<Float>
    let s: UnsafeMutablePointer<Float>
    let bsums: UnsafeMutablePointer<Int32>
    let f: UnsafeMutablePointer<Float>
    #if TINYLM_X86_AVX2
    /// The Q8_0/Q8_1 quants plus 128, as unsigned bytes: the AVX-512 kernels' vpdpbusd takes
    /// them as its unsigned operand (Kernels/AVX512/AVX512Kernels.swift).
    let q8Biased: UnsafeMutablePointer<UInt8>
    #endif
    #if TINYLM_RELAXED_SIMD
    /// Q8_0 activations' positive and negative parts, two bytes per element: the relaxed Q8_0
    /// decode kernel's dot operands (Kernels/WasmRelaxed/Q8SignSplit.swift).
    let q8Split: UnsafeMutablePointer<Int8>
    /// Q8_0 activations' −16·Σ of each four, as Int32 lanes (one byte per element): the
    /// relaxed Q5_0 kernels' dot accumulators (Kernels/WasmRelaxed/Q5_0+WasmRelaxed.swift).
    let q5Offsets: UnsafeMutablePointer<Int32>
    #endif
    /// One slot per concurrent chunk (`ComputeExecutor.parallelChunks`) for kernels that
    /// unpack weights once per batch: threads must not allocate (wasm helper threads may not
    /// call malloc, and a temporary allocation this large is not on the stack).
    let unpackSlots: Int
    let unpackSlotBytes: Int
    private let unpacked: UnsafeMutableRawPointer

    /// `workers`: how many chunks of a multiply can run at once (the executor's concurrency).
    public init(maxColumns: Int, maxBatch: Int, workers: Int = 1) {
        let columns = (Swift.max(maxColumns, 1) + 255) / 256 * 256
        let batch = Swift.max(maxBatch, 1)
        self.maxColumns = columns
        self.maxBatch = batch
        self.columnStride = columns
        self.blockStride = columns / 16
        q8 = .allocate(capacity: batch * columns)
        planes = .allocate(capacity: batch * columns)
        d = .allocate(capacity: batch * columns / 16)
        s = .allocate(capacity: batch * columns / 16)
        bsums = .allocate(capacity: batch * columns / 16)
        f = .allocate(capacity: batch * columns)
        #if TINYLM_X86_AVX2
        q8Biased = .allocate(capacity: batch * columns)
        #endif
        #if TINYLM_RELAXED_SIMD
        q8Split = .allocate(capacity: 2 * batch * columns)
        q8Split.initialize(repeating: 0, count: 2 * batch * columns)
        q5Offsets = .allocate(capacity: batch * columns / 4)
        q5Offsets.initialize(repeating: 0, count: batch * columns / 4)
        #endif
        unpackSlots = Swift.max(workers, 1)
        unpackSlotBytes = 160 * (columns / 32)   // 32-value blocks × (eight 16-byte vectors + a header vector)
        unpacked = .allocate(byteCount: unpackSlots * unpackSlotBytes, alignment: 16)
        q8.initialize(repeating: 0, count: batch * columns)
        planes.initialize(repeating: 0, count: batch * columns)
        d.initialize(repeating: 0, count: batch * columns / 16)
        s.initialize(repeating: 0, count: batch * columns / 16)
        bsums.initialize(repeating: 0, count: batch * columns / 16)
    }

    deinit {
        q8.deallocate()
        planes.deallocate()
        d.deallocate()
        s.deallocate()
        bsums.deallocate()
        f.deallocate()
        #if TINYLM_X86_AVX2
        q8Biased.deallocate()
        #endif
        #if TINYLM_RELAXED_SIMD
        q8Split.deallocate()
        q5Offsets.deallocate()
        #endif
        unpacked.deallocate()
    }

    /// The unpacking slot of chunk `chunk`, or nil when the executor runs more chunks than
    /// the scratch was made for (the kernels then skip unpacking).
    @inline(__always)
    func unpackSlot(_ chunk: Int) -> UnsafeMutableRawPointer? {
        chunk < unpackSlots ? unpacked + chunk * unpackSlotBytes : nil
    }

    @inline(__always)
    func activations(_ token: Int) -> Q8Activations {
        var activations = Q8Activations(q8: q8 + token * columnStride, planes: planes + token * columnStride, d: d + token * blockStride,
                                        s: s + token * blockStride, bsums: bsums + token * blockStride)
        #if TINYLM_RELAXED_SIMD
        activations.split = UnsafePointer(q8Split + 2 * token * columnStride)
        activations.q5Offsets = UnsafeRawPointer(q5Offsets + token * columnStride / 4)
        #endif
        return activations
    }
}

/// One token's activations quantized to 8 bits (ggml's Q8_0, Q8_1 or Q8_K values, chosen by
/// the weight format), as the kernels read them.
struct Q8Activations {
    /// The quants in element order.
    var q8: UnsafePointer<Int8>
    /// The same quants as Int16 in the SIMD128 kernels' plane order.
    var planes: UnsafePointer<Int16>
    /// One scale per block: 32 values for Q8_0/Q8_1 (f16-rounded, as ggml stores it), 256 for Q8_K.
    var d: UnsafePointer<Float>
    /// Q8_1 only: f16(d · Σq) per block of 32.
    var s: UnsafePointer<Float>
    /// Q8_K only: Σq per 16 values.
    var bsums: UnsafePointer<Int32>
    #if TINYLM_RELAXED_SIMD
    /// Q8_0 only: per block of 32, y⁺ and y⁻ of elements 0…15, then of 16…31 (Q8SignSplit).
    var split: UnsafePointer<Int8>
    /// Q8_0 only: per block of 32, −16·Σ of each four elements as Int32, elements 0…15 then
    /// 16…31 (Q5_0.WasmRelaxed.writeOffsetLanes).
    var q5Offsets: UnsafeRawPointer
    #endif

    @inline(__always)
    init(q8: UnsafePointer<Int8>, planes: UnsafePointer<Int16>, d: UnsafePointer<Float>, s: UnsafePointer<Float>,
         bsums: UnsafePointer<Int32>) {
        self.q8 = q8
        self.planes = planes
        self.d = d
        self.s = s
        self.bsums = bsums
        #if TINYLM_RELAXED_SIMD
        self.split = q8   // MatmulScratch.activations sets the real ones
        self.q5Offsets = UnsafeRawPointer(q8)
        #endif
    }
}
