/// Linears of one block that multiply the same input (q, k and v; gate and up), run as one
/// parallel section where MatrixMultiply can group them (Tensor/SharedInputProducts.swift);
/// each then gets its adapters' terms exactly as `Linear` adds them (in a decode step, inside the
/// section: AdapterBinding.addRows). Where they cannot be grouped, each multiplies on its own.
/// The results are the same bits either way.
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
        if let adapters = state.adapters, addsInSection(adapters, batch: batch, first, second, third) {
            // A decode step: each chunk adds its rows of the terms after its rows of W·x
            // (AdapterBinding.multiplyLowRanks).
            let slots = (first.linear.slot, second.linear.slot, third.linear.slot)
            let outputs = (first.output, second.output, third.output)
            adapters.multiplyLowRanks(slots, input: input)
            adapters.prefetchLowRankInputs(after: slots.2 ?? slots.1 ?? slots.0, count: 3)
            MatrixMultiply.multiplyConcatenated(
                first.product, second.product, third.product, input: input, inputStride: a.columns, batch: batch,
                scratch: state.scratch, executor: state.executor,
                prepare: { rows0, rows1, rows2 in
                    adapters.prefetchRows(slot: slots.0, rows: rows0)
                    adapters.prefetchRows(slot: slots.1, rows: rows1)
                    adapters.prefetchRows(slot: slots.2, rows: rows2)
                },
                finish: { rows0, rows1, rows2 in
                    adapters.addRows(slot: slots.0, rows: rows0, output: outputs.0)
                    adapters.addRows(slot: slots.1, rows: rows1, output: outputs.1)
                    adapters.addRows(slot: slots.2, rows: rows2, output: outputs.2)
                })
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
    /// adapter terms must be added first or a decode step adds them there too; otherwise after
    /// them, split by tokens.
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
        if let adapters = state.adapters, addsInSection(adapters, batch: batch, first, second, nil) {
            // A decode step: each chunk adds its rows of the terms, then combines them.
            let slots = (first.linear.slot, second.linear.slot)
            let outputs = (first.output, second.output)
            adapters.multiplyLowRanks((slots.0, slots.1, nil), input: input)
            adapters.prefetchLowRankInputs(after: slots.1 ?? slots.0, count: 3)
            MatrixMultiply.multiplyPaired(first.product, second.product, input: input, inputStride: first.linear.columns, batch: batch,
                                          scratch: state.scratch, executor: state.executor,
                                          prepare: { rows in
                                              adapters.prefetchRows(slot: slots.0, rows: rows)
                                              adapters.prefetchRows(slot: slots.1, rows: rows)
                                          }) { rows in
                adapters.addRows(slot: slots.0, rows: rows, output: outputs.0)
                adapters.addRows(slot: slots.1, rows: rows, output: outputs.1)
                combine(rows, 0..<batch)
            }
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

    /// Whether a grouped decode step adds the parts' adapter terms inside its section: one
    /// token, some terms, and all of them of a form `AdapterBinding.addRows` takes.
    private static func addsInSection(_ adapters: AdapterBinding, batch: Int, _ first: Part, _ second: Part, _ third: Part?) -> Bool {
        let slots = (first.linear.slot, second.linear.slot, third?.linear.slot)
        guard batch == 1, adapters.hasTerms(slot: slots.0) || adapters.hasTerms(slot: slots.1) || adapters.hasTerms(slot: slots.2)
        else { return false }
        return adapters.addsInSection(slot: slots.0) && adapters.addsInSection(slot: slots.1) && adapters.addsInSection(slot: slots.2)
    }
}
