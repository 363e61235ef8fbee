/// The Llama decoder (also SmolLM2, TinyLlama, Mistral-style, and Qwen 2 with its q/k/v biases):
///
///     x = embed(token)
///     for each layer:
///         x += attention(rmsnorm(x))       // grouped-query, RoPE, KV cache
///         x += swiglu_ffn(rmsnorm(x))
///     logits = output(rmsnorm(x))          // output = token embedding when output.weight is absent
struct LlamaModel {
    struct Layer {
        let attentionNorm: RMSNorm
        let attention: Attention
        let feedForwardNorm: RMSNorm
        let feedForward: FeedForward
    }

    let config: ModelConfig
    let tokenEmbedding: WeightMatrix
    let layers: [Layer]
    let outputNorm: RMSNorm
    let output: WeightMatrix

    init(gguf: GGUFFile, config c: ModelConfig) throws(TinyLMError) {
        let w = WeightLoader(gguf: gguf)
        config = c
        let embd = c.embeddingLength
        tokenEmbedding = try w.matrix("token_embd.weight", rows: c.vocabularySize, columns: embd)
        var layers: [Layer] = []
        for i in 0..<c.layerCount {
            let p = "blk.\(i)."
            let rope = RoPE(dimensions: c.ropeDimensionCount, headSize: c.keyLength, base: c.ropeBase,
                            positionScale: c.ropeScale, style: c.ropeStyle)
            let attention = Attention(
                query: try w.matrix(p + "attn_q.weight", rows: c.queryDimension, columns: embd),
                key: try w.matrix(p + "attn_k.weight", rows: c.keyValueDimension, columns: embd),
                value: try w.matrix(p + "attn_v.weight", rows: c.valueDimension, columns: embd),
                output: try w.matrix(p + "attn_output.weight", rows: embd, columns: c.headCount * c.valueLength),
                queryBias: try w.optionalVector(p + "attn_q.bias", count: c.queryDimension),
                keyBias: try w.optionalVector(p + "attn_k.bias", count: c.keyValueDimension),
                valueBias: try w.optionalVector(p + "attn_v.bias", count: c.valueDimension),
                queryNorm: nil, keyNorm: nil, rope: rope, layer: i,
                headCount: c.headCount, kvHeadCount: c.kvHeadCount,
                keyLength: c.keyLength, valueLength: c.valueLength,
                scale: c.attentionScale, scalesQueries: false, window: 0)
            let feedForward = FeedForward(
                gate: try w.matrix(p + "ffn_gate.weight", rows: c.feedForwardLength, columns: embd),
                up: try w.matrix(p + "ffn_up.weight", rows: c.feedForwardLength, columns: embd),
                down: try w.matrix(p + "ffn_down.weight", rows: embd, columns: c.feedForwardLength),
                activation: .silu)
            layers.append(Layer(
                attentionNorm: RMSNorm(weight: try w.vector(p + "attn_norm.weight", count: embd), count: embd, epsilon: c.rmsNormEpsilon),
                attention: attention,
                feedForwardNorm: RMSNorm(weight: try w.vector(p + "ffn_norm.weight", count: embd), count: embd, epsilon: c.rmsNormEpsilon),
                feedForward: feedForward))
        }
        self.layers = layers
        outputNorm = RMSNorm(weight: try w.vector("output_norm.weight", count: embd), count: embd, epsilon: c.rmsNormEpsilon)
        output = try w.optionalMatrix("output.weight", rows: c.vocabularySize, columns: embd) ?? tokenEmbedding
    }

    /// Runs `tokens` (at positions startPosition…) through the network, filling the KV cache,
    /// and leaves the logits of the last token in `state.logits`.
    func forward(_ tokens: UnsafeBufferPointer<Int32>, startPosition: Int, state: InferenceState) {
        let batch = tokens.count
        let embd = config.embeddingLength
        let x = state.residual
        for (t, token) in tokens.enumerated() {
            MatrixMultiply.dequantizeRow(tokenEmbedding, row: Int(token), into: x + t * embd)
        }
        for layer in layers {
            layer.attentionNorm(x, into: state.normalized, rows: batch)
            layer.attention(state.normalized, batch: batch, startPosition: startPosition, output: state.blockOutput, state: state)
            VectorMath.add(state.blockOutput, to: x, count: batch * embd)
            layer.feedForwardNorm(x, into: state.normalized, rows: batch)
            layer.feedForward(state.normalized, batch: batch, output: state.blockOutput,
                              gateBuffer: state.gate, upBuffer: state.up, scratch: state.scratch, executor: state.executor)
            VectorMath.add(state.blockOutput, to: x, count: batch * embd)
        }
        let last = x + (batch - 1) * embd
        outputNorm(last, into: state.normalized)
        MatrixMultiply.multiply(output, input: state.normalized, inputStride: embd, batch: 1,
                                output: state.logits, outputStride: config.vocabularySize,
                                scratch: state.scratch, executor: state.executor)
    }
}
