/// Linears of one block that multiply the same input (q, k and v; gate and up), run as one
/// parallel section where MatrixMultiply can group them (Tensor/SharedInputProducts.swift);
/// each then gets its adapters' terms exactly as `Linear` adds them. Where they cannot be
/// grouped, each multiplies on its own. The results are the same bits either way.
enum LinearGroup {
    /// One matrix of a group and where its results go.
    struct Part {
        let linear: Linear
        let output: UnsafeMutablePointer<Float>
        let outputStride: Int

        var product: MatrixMultiply.Product {
            MatrixMultiply.Product(weight: linear.weight, output: output, outputStride: outputStride)
        }

        func multiplyAlone(_ input: UnsafePointer<Float>, batch: Int, state: InferenceState) {
            linear(input, inputStride: linear.columns, batch: batch, output: output, outputStride: outputStride, state: state)
        }

        func addAdapterTerms(_ input: UnsafePointer<Float>, batch: Int, state: InferenceState) {
            linear.addAdapterTerms(input, inputStride: linear.columns, batch: batch, output: output, outputStride: outputStride, state: state)
        }
    }

    /// first, second and third times `input` (batch rows of `first.linear.columns` values).
    static func multiply(_ first: Part, _ second: Part, _ third: Part, input: UnsafePointer<Float>, batch: Int, state: InferenceState) {
        let (a, b, c) = (first.linear.weight, second.linear.weight, third.linear.weight)
        guard a.rows % 8 == 0, b.rows % 8 == 0,
              MatrixMultiply.canShareSection(a, b, batch: batch, scratch: state.scratch),
              MatrixMultiply.canShareSection(a, c, batch: batch, scratch: state.scratch) else {
            first.multiplyAlone(input, batch: batch, state: state)
            second.multiplyAlone(input, batch: batch, state: state)
            third.multiplyAlone(input, batch: batch, state: state)
            return
        }
        first.linear.prefetchAdapterTerms(batch: batch, state: state)
        second.linear.prefetchAdapterTerms(batch: batch, state: state)
        third.linear.prefetchAdapterTerms(batch: batch, state: state)
        MatrixMultiply.multiplyConcatenated(first.product, second.product, third.product, input: input, inputStride: a.columns,
                                            batch: batch, scratch: state.scratch, executor: state.executor)
        first.addAdapterTerms(input, batch: batch, state: state)
        second.addAdapterTerms(input, batch: batch, state: state)
        third.addAdapterTerms(input, batch: batch, state: state)
    }

    /// first and second (the same row count) times `input`, then `combine(rows, tokens)` over
    /// pieces covering all rows × tokens: inside the section, row chunk by row chunk, when no
    /// adapter terms must be added first; otherwise after them, split by tokens.
    static func multiplyPaired(_ first: Part, _ second: Part, input: UnsafePointer<Float>, batch: Int, state: InferenceState,
                               combine: (_ rows: Range<Int>, _ tokens: Range<Int>) -> Void) {
        let rows = first.linear.rows
        guard rows == second.linear.rows,
              MatrixMultiply.canShareSection(first.linear.weight, second.linear.weight, batch: batch, scratch: state.scratch) else {
            first.multiplyAlone(input, batch: batch, state: state)
            second.multiplyAlone(input, batch: batch, state: state)
            state.executor.parallelRanges(batch) { tokens in combine(0..<rows, tokens) }
            return
        }
        let adapted = state.adapters != nil
        first.linear.prefetchAdapterTerms(batch: batch, state: state)
        second.linear.prefetchAdapterTerms(batch: batch, state: state)
        MatrixMultiply.multiplyPaired(first.product, second.product, input: input, inputStride: first.linear.columns, batch: batch,
                                      scratch: state.scratch, executor: state.executor) { chunk in
            if !adapted { combine(chunk, 0..<batch) }
        }
        if adapted {
            first.addAdapterTerms(input, batch: batch, state: state)
            second.addAdapterTerms(input, batch: batch, state: state)
            state.executor.parallelRanges(batch) { tokens in combine(0..<rows, tokens) }
        }
    }
}
