#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

/// The LoRA adapters one session applies, resolved for its forward pass: for every adaptable
/// matrix, the low-rank terms to add there, and the scratch memory they need — allocated here,
/// once per choice of adapters, so that the forward pass allocates nothing.
///
/// Each term follows llama.cpp's graph (llm_build_lora_mm), one ggml operation per step:
///
///     t = A·x            mul_mat: x converted to A's type, rank outputs per token
///     d = B·t            mul_mat: t converted to B's type
///     y = y + d·factor   ggml_scale, then ggml_add (two roundings, never fused)
///
/// with factor = scale·alpha/rank. Several adapters on one matrix add in the order they were
/// given: y = ((W·x + d₁) + d₂)…. The embedding table's terms add B·(A's row of the token).
final class AdapterBinding {
    struct Term {
        let a: Operand
        let b: Operand
        let rank: Int
        let factor: Float
        let layout: LoRALayout
    }

    /// An adapter tensor as the product reads it: a WeightMatrix without its name, so that
    /// copying a term in the decode loop retains and releases nothing.
    struct Operand {
        let type: TensorType
        let rows: Int
        let columns: Int
        let data: UnsafeRawPointer
        let rowBytes: Int

        init(_ matrix: WeightMatrix) {
            type = matrix.type
            rows = matrix.rows
            columns = matrix.columns
            data = matrix.data
            rowBytes = matrix.rowBytes
        }

        func row(_ index: Int) -> UnsafeRawPointer { data + index * rowBytes }

        /// For MatrixMultiply (quantized tensors, embedding rows): off the float decode path.
        var matrix: WeightMatrix { WeightMatrix(name: "", type: type, rows: rows, columns: columns, data: data) }
    }

    let adapters: [ScaledAdapter]
    private let terms: [Term]
    /// Slot s's terms are terms[firstTerm[s]..<firstTerm[s + 1]].
    private let firstTerm: [Int]
    private let maxBatch: Int
    /// batch × widest A input: the activations converted to A's type.
    private let converted: UnsafeMutablePointer<Float>
    private let convertedStride: Int
    /// batch × largest rank: t = A·x, converted to B's type.
    private let lowRank: UnsafeMutablePointer<Float>
    private let lowRankStride: Int
    /// B·t of a quantized B, before it is scaled and added (MatrixMultiply writes whole rows).
    private let product: UnsafeMutablePointer<Float>
    private let productCapacity: Int
    /// A decode step's t = A·x of every term (term i at i × lowRankStride), which the chunks of
    /// the base matmul's parallel section read (`addRows`).
    private let termLowRank: UnsafeMutablePointer<Float>
    /// Per slot: whether a decode step adds its terms inside the W·x section (`addsInSection`).
    private let slotAddsInSection: [Bool]
    /// The last slot whose A `prefetchLowRankInputs` asked for.
    private var prefetchedThrough = -1

    /// `adapters` must belong to `model` (Session.setAdapters checks).
    init(adapters: [ScaledAdapter], model: Model, maxBatch: Int) {
        self.adapters = adapters
        self.maxBatch = maxBatch
        let slots = model.adaptableMatrices.count
        let outputSlot = model.network.outputSlot
        var bySlot = [[Term]](repeating: [], count: slots)
        var widest = 1, largestRank = 1, productCapacity = 0
        for use in adapters {
            for pair in use.adapter.pairs {
                bySlot[pair.slot].append(Term(a: Operand(pair.a), b: Operand(pair.b), rank: pair.rank,
                                              factor: pair.factor(alpha: use.adapter.alpha, scale: use.scale),
                                              layout: pair.layout))
                widest = max(widest, pair.a.columns)
                largestRank = max(largestRank, pair.rank)
                if !LoRAProduct.isFloat(pair.b.type) {
                    // The output projection multiplies only the last token.
                    productCapacity = max(productCapacity, pair.b.rows * (pair.slot == outputSlot ? 1 : maxBatch))
                }
            }
        }
        var terms: [Term] = [], firstTerm: [Int] = [], slotAddsInSection: [Bool] = []
        for list in bySlot {
            firstTerm.append(terms.count)
            terms += list
            slotAddsInSection.append(list.allSatisfy { LoRAProduct.isFloat($0.a.type) && $0.layout.bBlocks != nil })
        }
        self.slotAddsInSection = slotAddsInSection
        termLowRank = .allocate(capacity: max(1, terms.count) * largestRank)
        firstTerm.append(terms.count)
        self.terms = terms
        self.firstTerm = firstTerm
        convertedStride = widest
        lowRankStride = largestRank
        converted = .allocate(capacity: maxBatch * widest)
        lowRank = .allocate(capacity: maxBatch * largestRank)
        self.productCapacity = productCapacity
        product = .allocate(capacity: max(1, productCapacity))
    }

    deinit {
        converted.deallocate()
        lowRank.deallocate()
        termLowRank.deallocate()
        product.deallocate()
    }

    /// Bytes of scratch memory it holds.
    var byteCount: Int {
        (maxBatch * (convertedStride + lowRankStride) + max(1, productCapacity) + max(1, terms.count) * lowRankStride)
            * MemoryLayout<Float>.size
    }

    /// Adds the terms of matrix `slot` to `output` (W·input, already there).
    func add(slot: Int, input: UnsafePointer<Float>, inputStride: Int, batch: Int,
             output: UnsafeMutablePointer<Float>, outputStride: Int, state: InferenceState) {
        var index = firstTerm[slot]
        while index < firstTerm[slot + 1] {
            let term = terms[index]
            multiplyA(term, input: input, inputStride: inputStride, batch: batch, state: state)
            addB(term, batch: batch, output: output, outputStride: outputStride, state: state)
            index += 1
        }
    }

    /// Adds the terms of the embedding table (`slot`) to the looked-up rows of `tokens`.
    func addToEmbeddings(slot: Int, tokens: UnsafeBufferPointer<Int32>, rows: UnsafeMutablePointer<Float>, state: InferenceState) {
        var index = firstTerm[slot]
        while index < firstTerm[slot + 1] {
            let term = terms[index]
            for (t, token) in tokens.enumerated() {
                // ggml_get_rows of A gives F32 rows, which B's mul_mat converts to B's type.
                let row = lowRank + t * lowRankStride
                MatrixMultiply.dequantizeRow(term.a.matrix, row: Int(token), into: row)
                LoRAProduct.round(row, count: term.rank, for: term.b.type, into: row)
            }
            addB(term, batch: tokens.count, output: rows, outputStride: term.b.rows, state: state)
            index += 1
        }
    }

    // MARK: A decode step's terms inside the W·x parallel section
    //
    // With several threads, a product added after the base matmul's section runs on the calling
    // thread alone while the others wait. So a decode step (one token) splits it: the calling
    // thread computes each term's t = A·x before the section (rank outputs: a few µs per
    // layer), then every chunk of the section, after its rows of W·x, adds its rows of
    // factor·(B·t). Each row is still W·x first, then its terms in order, with the same sums.

    /// Whether matrix `slot`'s terms have any.
    func hasTerms(slot: Int?) -> Bool {
        guard let slot else { return false }
        return firstTerm[slot] < firstTerm[slot + 1]
    }

    /// Whether a decode step can add matrix `slot`'s terms inside its W·x section: float A,
    /// and B in blocks (LoRALayout). True for a matrix without terms.
    func addsInSection(slot: Int?) -> Bool {
        guard let slot else { return true }
        return slotAddsInSection[slot]
    }

    /// For a decode step, before the section: t = A·x of every term of the (up to three)
    /// matrices multiplying `input`, which is converted once for all of them where their A
    /// types agree (q, k and v share it; so do gate and up).
    func multiplyLowRanks(_ slots: (Int?, Int?, Int?), input: UnsafePointer<Float>) {
        var convertedType: TensorType? = nil, convertedColumns = 0, convertedScaled = false
        for which in 0..<3 {
            guard let slot = which == 0 ? slots.0 : which == 1 ? slots.1 : slots.2 else { continue }
            var index = firstTerm[slot]
            while index < firstTerm[slot + 1] {
                let term = terms[index]
                if term.a.type != convertedType || term.a.columns != convertedColumns || term.layout.scalesAInput != convertedScaled {
                    convertInput(term, input, into: converted)
                    convertedType = term.a.type
                    convertedColumns = term.a.columns
                    convertedScaled = term.layout.scalesAInput
                }
                lowRankOfToken(term, x: converted, order: .vectorDot, into: termLowRank + index * lowRankStride)
                index += 1
            }
        }
    }

    /// Asks for the A tensors of the `count` matrices after `slot`: slots are numbered in the
    /// order a decode step multiplies the matrices, so these are the next sections' A·x, which
    /// the calling thread computes right before each (without this, perf showed A·x waiting
    /// on memory from its first row on). Called before the section, whose W·x hides the wait.
    func prefetchLowRankInputs(after slot: Int?, count: Int) {
        #if TINYLM_X86_AVX2
        guard let slot else { return }
        // Overlapping windows (the next three after q/k/v, then after o…) ask for each A once.
        let first = slot < prefetchedThrough && prefetchedThrough <= slot + count ? prefetchedThrough + 1 : slot + 1
        let end = Swift.min(slot + 1 + count, firstTerm.count - 1)
        guard first < end else { return }
        prefetchedThrough = end - 1
        var index = firstTerm[first]
        while index < firstTerm[end] {
            let a = terms[index].a
            let layout = terms[index].layout
            let start = layout.aRows.map { UnsafeRawPointer($0) } ?? a.data
            let bytes = a.rows * (layout.aRows != nil ? layout.aRowBytes : a.rowBytes)
            ask(start, bytes)
            index += 1
        }
        #endif
    }

    /// Asks for `bytes` bytes from `start` ahead of their use (prefetch instructions; wasm has
    /// none, and loading a word of each line ahead instead did not help there).
    @inline(__always)
    private func ask(_ start: UnsafeRawPointer, _ bytes: Int) {
        #if TINYLM_X86_AVX2
        var offset = 0
        while offset < bytes {
            tinylm_prefetch(start + offset)
            offset += 64
        }
        #endif
    }

    /// Inside a decode step's section, after W·x of `rows`: output[r] += factor·(B·t)[r] for
    /// those rows, term by term (`multiplyLowRanks` made t).
    func addRows(slot: Int?, rows: Range<Int>, output: UnsafeMutablePointer<Float>) {
        guard let slot, !rows.isEmpty else { return }
        var index = firstTerm[slot]
        while index < firstTerm[slot + 1] {
            let term = terms[index]
            if let blocks = term.layout.bBlocks {
                LoRAProduct.addByBlocks(term.b.type, form: term.layout.form, blocks, blockBytes: term.layout.bBlockBytes, rows: rows,
                                        rank: term.rank, termLowRank + index * lowRankStride, factor: term.factor, into: output)
            }
            index += 1
        }
    }

    /// Inside a decode step's section, before W·x of `rows`: asks for the B blocks of those
    /// rows, so they arrive in this thread's cache while its share of W·x runs.
    func prefetchRows(slot: Int?, rows: Range<Int>) {
        #if TINYLM_X86_AVX2
        guard let slot, !rows.isEmpty else { return }
        var index = firstTerm[slot]
        while index < firstTerm[slot + 1] {
            let term = terms[index]
            if let blocks = term.layout.bBlocks {
                let bytes = term.layout.bBlockBytes
                let offset = rows.lowerBound / 8 * bytes
                ask(UnsafeRawPointer(blocks) + offset, (rows.upperBound + 7) / 8 * bytes - offset)
            }
            index += 1
        }
        #endif
    }

    /// `count` activations converted to A's type (and scaled where A is packed:
    /// PackedHalfElement), as `lowRankOfToken` takes them.
    @inline(__always)
    private func convertInput(_ term: Term, _ input: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>) {
        LoRAProduct.round(input, count: term.a.columns, for: term.a.type, into: x)
        if term.layout.scalesAInput { PackedHalfElement.scaleInputs(x, count: term.a.columns) }
    }

    /// out = A·x (x from `convertInput`), converted to B's type.
    @inline(__always)
    private func lowRankOfToken(_ term: Term, x: UnsafePointer<Float>, order: LoRAProduct.Order, into out: UnsafeMutablePointer<Float>) {
        let a = term.a, layout = term.layout
        if let rows = layout.aRows {
            if layout.form == .packed {
                if order == .vectorDot && a.columns >= 64 {
                    LoRAProduct.vectorDotsInTwoPasses(PackedHalfElement.self, UnsafeRawPointer(rows), layout.aRowBytes, term.rank, x,
                                                      a.columns, into: out)
                } else {
                    LoRAProduct.products(PackedHalfElement.self, UnsafeRawPointer(rows), layout.aRowBytes, term.rank, x, a.columns,
                                         order, nil, out)
                }
            } else {
                LoRAProduct.products(WidenedHalfElement.self, UnsafeRawPointer(rows), layout.aRowBytes, term.rank, x, a.columns,
                                     order, nil, out)
            }
        } else {
            LoRAProduct.products(a.type, rows: a.data, rowBytes: a.rowBytes, rowCount: term.rank, x: x, count: a.columns,
                                 order: order, factor: nil, into: out)
        }
        LoRAProduct.round(out, count: term.rank, for: term.b.type, into: out)
    }

    /// Asks for the bytes of matrix `slot`'s terms ahead of their use, while W·x runs: they are
    /// read once per token and the model's weights stream through the caches in between, so
    /// without this each of a decode step's small A and B regions starts with a wait on memory
    /// (perf: the hottest instruction of the product was its first load of A).
    func prefetch(slot: Int) {
        #if TINYLM_X86_AVX2
        @inline(__always) func ask(_ start: UnsafeRawPointer, _ bytes: Int) {
            var offset = 0
            while offset < bytes {
                tinylm_prefetch(start + offset)
                offset += 64
            }
        }
        var index = firstTerm[slot]
        while index < firstTerm[slot + 1] {
            let term = terms[index]
            ask(term.a.data, term.a.rows * term.a.rowBytes)
            if let blocks = term.layout.bBlocks {
                ask(blocks, (term.b.rows + 7) / 8 * term.layout.bBlockBytes)
            } else {
                ask(term.b.data, term.b.rows * term.b.rowBytes)
            }
            index += 1
        }
        #endif
    }

    /// lowRank[t] = A·x_t, converted to B's type. A decode step (one token) runs on the calling
    /// thread: rank rows are too few to be worth a parallel section.
    private func multiplyA(_ term: Term, input: UnsafePointer<Float>, inputStride: Int, batch: Int, state: InferenceState) {
        let a = term.a, rank = term.rank, bType = term.b.type
        guard LoRAProduct.isFloat(a.type) else {
            MatrixMultiply.multiply(a.matrix, input: input, inputStride: inputStride, batch: batch, output: lowRank,
                                    outputStride: lowRankStride, scratch: state.scratch, executor: state.executor)
            for t in 0..<batch { LoRAProduct.round(lowRank + t * lowRankStride, count: rank, for: bType, into: lowRank + t * lowRankStride) }
            return
        }
        let order = LoRAProduct.order(rows: rank, columns: a.columns, batch: batch)
        func run(_ tokens: Range<Int>) {
            for t in tokens {
                let x = converted + t * convertedStride
                convertInput(term, input + t * inputStride, into: x)
                lowRankOfToken(term, x: x, order: order, into: lowRank + t * lowRankStride)
            }
        }
        if batch >= 2 {
            state.executor.parallelRanges(batch) { run($0) }
        } else {
            run(0..<batch)
        }
    }

    /// output[t] += factor·(B·lowRank[t]).
    private func addB(_ term: Term, batch: Int, output: UnsafeMutablePointer<Float>, outputStride: Int, state: InferenceState) {
        let b = term.b, rank = term.rank, factor = term.factor
        guard LoRAProduct.isFloat(b.type) else {
            precondition(batch * b.rows <= productCapacity, "AdapterBinding: batch larger than the product scratch")
            MatrixMultiply.multiply(b.matrix, input: lowRank, inputStride: lowRankStride, batch: batch, output: product,
                                    outputStride: b.rows, scratch: state.scratch, executor: state.executor)
            for t in 0..<batch {
                let y = output + t * outputStride, d = product + t * b.rows
                for o in 0..<b.rows { y[o] = y[o] + d[o] * factor }
            }
            return
        }
        let order = LoRAProduct.order(rows: b.rows, columns: rank, batch: batch)
        let low = lowRank, lowStride = lowRankStride
        let blocks = order == .vectorDot ? term.layout.bBlocks : nil, blockBytes = term.layout.bBlockBytes, form = term.layout.form
        func run(_ rows: Range<Int>) {
            if let blocks {
                for t in 0..<batch {
                    LoRAProduct.addByBlocks(b.type, form: form, blocks, blockBytes: blockBytes, rows: rows, rank: rank,
                                            low + t * lowStride, factor: factor, into: output + t * outputStride)
                }
                return
            }
            for t in 0..<batch {
                LoRAProduct.products(b.type, rows: b.row(rows.lowerBound), rowBytes: b.rowBytes, rowCount: rows.count,
                                     x: low + t * lowStride, count: rank, order: order, factor: factor,
                                     into: output + t * outputStride + rows.lowerBound)
            }
        }
        if batch >= 2 {
            state.executor.parallelRanges(b.rows, granularity: 16) { run($0) }
        } else {
            run(0..<b.rows)
        }
    }
}
