/// The decoder every architecture shares (its recipe, Architectures/, picks the optional parts):
///
///     x = embed(token)                          // · √embedding (Gemma)
///     for each layer:
///         x += attention(rmsnorm(x))            // → post-norm first (Gemma)
///         x += feed_forward(rmsnorm(x))         // → post-norm first (Gemma)
///     logits = output(rmsnorm(x))               // output = token embedding when tied
///
/// with one rule of llama.cpp's graph for every architecture: only the last token's logits are
/// computed, so past the last layer's attention only the last token's row is carried on.
///
/// Every matrix is a `Linear` (the embedding table too, at slot `embeddingSlot`): the session's
/// LoRA adapters, if any, add their low-rank terms there (Adapters/).
struct Decoder {
    let config: ModelConfig
    let tokenEmbedding: WeightMatrix
    /// Multiplies the embeddings (nil: none).
    let embeddingScale: Float?
    let layers: [DecoderLayer]
    let outputNorm: RMSNorm
    let output: Linear
    /// The matrices adapters may change, by slot (`Linear.slot`).
    let adaptable: [AdaptableMatrix]
    let embeddingSlot: Int

    /// Runs `tokens` (at positions startPosition…) through the network, filling the KV cache,
    /// and leaves the logits of the last token in `state.logits`.
    func forward(_ tokens: UnsafeBufferPointer<Int32>, startPosition: Int, state: InferenceState) {
        let batch = tokens.count
        let embd = config.embeddingLength
        let x = state.residual
        for (t, token) in tokens.enumerated() {
            MatrixMultiply.dequantizeRow(tokenEmbedding, row: Int(token), into: x + t * embd)
        }
        // llama.cpp adds an embedding adapter's rows before Gemma's √embedding scale.
        state.adapters?.addToEmbeddings(slot: embeddingSlot, tokens: tokens, rows: x, state: state)
        if let scale = embeddingScale {
            for i in 0..<batch * embd { x[i] *= scale }
        }
        for (index, layer) in layers.enumerated() {
            // llama.cpp drops every row but the last right after the last layer's attention, so
            // the rest of that layer multiplies one token — with the single-token kernels and
            // their float order.
            let keptRows = index == layers.count - 1 ? 1 : batch
            layer(x, batch: batch, keptRows: keptRows, startPosition: startPosition, state: state)
        }
        let last = x + (batch - 1) * embd
        outputNorm(last, into: state.normalized)
        output(state.normalized, inputStride: embd, batch: 1, output: state.logits, outputStride: config.vocabularySize, state: state)
    }
}

/// One decoder layer: attention and a feed-forward block, each behind an RMS norm (and, in
/// Gemma, followed by one) and added to the residual stream.
struct DecoderLayer {
    let attentionNorm: RMSNorm
    let attention: Attention
    let postAttentionNorm: RMSNorm?
    let feedForwardNorm: RMSNorm
    let feedForward: FeedForward
    let postFeedForwardNorm: RMSNorm?

    /// Updates the residual stream `x` (batch rows) in place. Every row goes through
    /// attention (each token's keys and values are cached); after it only the last `keptRows`
    /// rows are computed further.
    func callAsFunction(_ x: UnsafeMutablePointer<Float>, batch: Int, keptRows rows: Int, startPosition: Int,
                        state: InferenceState) {
        let embd = attentionNorm.count
        attentionNorm(x, into: state.normalized, rows: batch)
        attention(state.normalized, batch: batch, startPosition: startPosition, output: state.blockOutput, state: state)
        let kept = x + (batch - rows) * embd
        let attended = state.blockOutput + (batch - rows) * embd
        postAttentionNorm?(attended, into: attended, rows: rows)
        VectorMath.add(attended, to: kept, count: rows * embd)
        feedForwardNorm(kept, into: state.normalized, rows: rows)
        feedForward(state.normalized, batch: rows, output: state.blockOutput, hiddenBuffer: state.feedForwardHidden, state: state)
        postFeedForwardNorm?(state.blockOutput, into: state.blockOutput, rows: rows)
        VectorMath.add(state.blockOutput, to: kept, count: rows * embd)
    }
}
