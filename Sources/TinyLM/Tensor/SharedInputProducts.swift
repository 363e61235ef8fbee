// Several matrices multiplied by the same activations in one parallel section.
//
// A decode step's sections are short (a few to a few tens of µs of work each), so publishing
// each one to the threads and waiting for the slowest is a large part of the step, above all
// in wasm. q, k and v share their input, and so do gate and up: their rows can be one range of
// tasks. The activations are quantized once, as each separate multiply would quantize them
// (same columns, same activation format), and every row is still computed by the same kernel,
// in the same order, with chunk starts at multiples of 8 rows of its own matrix: the results
// are bit for bit those of separate `MatrixMultiply.multiply` calls.

extension MatrixMultiply {
    /// One matrix of a group: its weight and where its results go (token t's row r at
    /// output + t·outputStride + r).
    struct Product {
        let weight: WeightMatrix
        let output: UnsafeMutablePointer<Float>
        let outputStride: Int
    }

    /// Whether `a` and `b` can share a section for a batch of `batch` tokens: quantized formats
    /// with the same activation format and columns, and a batch that fits one pass.
    static func canShareSection(_ a: WeightMatrix, _ b: WeightMatrix, batch: Int, scratch: MatmulScratch) -> Bool {
        guard batch >= 1, batch <= scratch.maxBatch, a.columns == b.columns, a.columns <= scratch.maxColumns,
              usesKernelTable(a.type), usesKernelTable(b.type),
              a.columns % a.type.blockElements == 0, b.columns % b.type.blockElements == 0 else { return false }
        return activationFormat(a.type) == activationFormat(b.type)
    }

    /// The formats `multiplyPass` runs through KernelTable (quantized activations).
    static func usesKernelTable(_ type: TensorType) -> Bool {
        switch type {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: return true
        default: return false
        }
    }

    /// The products of `first`, `second` and `third` with one input, as one range of rows
    /// (first's, then second's, then third's). Requires `canShareSection` for every pair, and
    /// the row counts of `first` and `second` to be multiples of 8 (so each matrix's chunks
    /// start at multiples of 8 of its own rows). Each chunk calls `prepare` before its rows and
    /// `finish` after them, with the rows it covers of each matrix (in the matrix's numbering,
    /// possibly empty): room for per-row steps that must follow W·x, such as adapter terms.
    static func multiplyConcatenated(_ first: Product, _ second: Product, _ third: Product,
                                     input: UnsafePointer<Float>, inputStride: Int, batch: Int,
                                     scratch: MatmulScratch, executor: any ComputeExecutor,
                                     prepare: (Range<Int>, Range<Int>, Range<Int>) -> Void = { _, _, _ in },
                                     finish: (Range<Int>, Range<Int>, Range<Int>) -> Void = { _, _, _ in }) {
        precondition(first.weight.rows % 8 == 0 && second.weight.rows % 8 == 0, "MatrixMultiply: grouped rows not in eights")
        let columns = first.weight.columns
        quantizeActivations(activationFormat(first.weight.type), columns, input, inputStride, batch, scratch, executor)
        let jobs = (job(first, batch: batch, scratch: scratch), job(second, batch: batch, scratch: scratch),
                    job(third, batch: batch, scratch: scratch))
        let secondStart = first.weight.rows, thirdStart = secondStart + second.weight.rows
        executor.parallelChunks(thirdStart + third.weight.rows, granularity: 8) { chunk, rows in
            let parts = (partRows(rows, from: 0, count: first.weight.rows),
                         partRows(rows, from: secondStart, count: second.weight.rows),
                         partRows(rows, from: thirdStart, count: third.weight.rows))
            prepare(parts.0, parts.1, parts.2)
            if !parts.0.isEmpty { KernelTable.multiply(jobs.0, rows: parts.0, chunk: chunk) }
            if !parts.1.isEmpty { KernelTable.multiply(jobs.1, rows: parts.1, chunk: chunk) }
            if !parts.2.isEmpty { KernelTable.multiply(jobs.2, rows: parts.2, chunk: chunk) }
            finish(parts.0, parts.1, parts.2)
        }
    }

    /// The products of `first` and `second` (the same row count) with one input: each chunk of
    /// rows calls `prepare(rows)`, is multiplied in both, then `finish(rows)` runs on the chunk
    /// (an element-wise step that combines the two, such as the gated activation). Requires
    /// `canShareSection`.
    static func multiplyPaired(_ first: Product, _ second: Product,
                               input: UnsafePointer<Float>, inputStride: Int, batch: Int,
                               scratch: MatmulScratch, executor: any ComputeExecutor,
                               prepare: (Range<Int>) -> Void = { _ in },
                               finish: (Range<Int>) -> Void) {
        precondition(first.weight.rows == second.weight.rows, "MatrixMultiply: paired matrices differ in rows")
        quantizeActivations(activationFormat(first.weight.type), first.weight.columns, input, inputStride, batch, scratch, executor)
        let jobs = (job(first, batch: batch, scratch: scratch), job(second, batch: batch, scratch: scratch))
        executor.parallelChunks(first.weight.rows, granularity: 8) { chunk, rows in
            prepare(rows)
            KernelTable.multiply(jobs.0, rows: rows, chunk: chunk)
            KernelTable.multiply(jobs.1, rows: rows, chunk: chunk)
            finish(rows)
        }
    }

    /// One matrix's product, as `multiply` computes it for a batch that fits one pass, with
    /// `prepare(rows)` and `finish(rows)` around each chunk's rows. Requires
    /// `canShareSection(weight, weight, …)`.
    static func multiplyInChunks(_ product: Product, input: UnsafePointer<Float>, inputStride: Int, batch: Int,
                                 scratch: MatmulScratch, executor: any ComputeExecutor,
                                 prepare: (Range<Int>) -> Void, finish: (Range<Int>) -> Void) {
        quantizeActivations(activationFormat(product.weight.type), product.weight.columns, input, inputStride, batch, scratch, executor)
        let pass = job(product, batch: batch, scratch: scratch)
        executor.parallelChunks(product.weight.rows, granularity: 8) { chunk, rows in
            prepare(rows)
            KernelTable.multiply(pass, rows: rows, chunk: chunk)
            finish(rows)
        }
    }

    /// The single pass `multiply` makes for a batch that fits the scratch.
    @inline(__always)
    private static func job(_ product: Product, batch: Int, scratch: MatmulScratch) -> KernelJob {
        KernelJob(weight: product.weight, batch: batch, totalTokens: batch, firstToken: 0, scratch: scratch,
                  scratchToken: 0, output: product.output, outputStride: product.outputStride)
    }

    /// The rows of `rows` (in the group's numbering) that belong to the matrix of `count` rows
    /// starting at `start`, in its own numbering (empty if none).
    @inline(__always)
    private static func partRows(_ rows: Range<Int>, from start: Int, count: Int) -> Range<Int> {
        let lower = Swift.max(rows.lowerBound - start, 0), upper = Swift.min(rows.upperBound - start, count)
        return lower < upper ? lower..<upper : 0..<0
    }
}
