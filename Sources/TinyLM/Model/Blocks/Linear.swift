/// A weight matrix of the forward pass, y = W·x, and the one place where the session's LoRA
/// adapters add their low-rank product to it (Adapters/AdapterBinding.swift): every block
/// multiplies through this type, so no block knows about adapters.
struct Linear {
    let weight: WeightMatrix
    /// This matrix's index among the decoder's adaptable matrices (`Decoder.adaptable`); nil
    /// for one adapters cannot change (the output projection when it is the tied embedding).
    let slot: Int?

    var rows: Int { weight.rows }
    var columns: Int { weight.columns }

    /// output[b·outputStride + r] = Σ_c W[r,c]·input[b·inputStride + c] (+ the adapters' terms).
    func callAsFunction(_ input: UnsafePointer<Float>, inputStride: Int, batch: Int,
                        output: UnsafeMutablePointer<Float>, outputStride: Int, state: InferenceState) {
        if batch == 1, let adapters = state.adapters, adapters.hasTerms(slot: slot), adapters.addsInSection(slot: slot),
           MatrixMultiply.canShareSection(weight, weight, batch: batch, scratch: state.scratch) {
            // A decode step: each chunk of W·x's section adds its rows of the terms
            // (AdapterBinding.multiplyLowRanks).
            let slot = self.slot
            adapters.multiplyLowRanks((slot, nil, nil), input: input)
            adapters.prefetchLowRankInputs(after: slot, count: 3)
            MatrixMultiply.multiplyInChunks(.init(weight: weight, output: output, outputStride: outputStride), input: input,
                                            inputStride: inputStride, batch: batch, scratch: state.scratch, executor: state.executor,
                                            prepare: { rows in adapters.prefetchRows(slot: slot, rows: rows) },
                                            finish: { rows in adapters.addRows(slot: slot, rows: rows, output: output) })
            return
        }
        prefetchAdapterTerms(batch: batch, state: state)
        MatrixMultiply.multiply(weight, input: input, inputStride: inputStride, batch: batch,
                                output: output, outputStride: outputStride, scratch: state.scratch, executor: state.executor)
        addAdapterTerms(input, inputStride: inputStride, batch: batch, output: output, outputStride: outputStride, state: state)
    }

    /// Asks for this matrix's adapter bytes before a decode step's W·x, so they arrive while it
    /// runs (they come from memory every token: the model's weights pass through the caches in between).
    func prefetchAdapterTerms(batch: Int, state: InferenceState) {
        if batch == 1, let slot, let adapters = state.adapters { adapters.prefetch(slot: slot) }
    }

    /// Adds the adapters' low-rank products for this matrix to `output`, which already holds
    /// W·x (LinearGroup multiplies several matrices in one section, then calls this for each).
    func addAdapterTerms(_ input: UnsafePointer<Float>, inputStride: Int, batch: Int,
                         output: UnsafeMutablePointer<Float>, outputStride: Int, state: InferenceState) {
        if let slot, let adapters = state.adapters {
            adapters.add(slot: slot, input: input, inputStride: inputStride, batch: batch,
                         output: output, outputStride: outputStride, state: state)
        }
    }
}

/// A matrix of the model an adapter may name (`<name>.lora_a` / `.lora_b`): its GGUF name and
/// shape. The embedding table is looked up rather than multiplied, so its adapter pairs are
/// laid out the other way round (llama.cpp's rule).
struct AdaptableMatrix {
    let name: String
    let rows: Int
    let columns: Int
    let isEmbedding: Bool
}
