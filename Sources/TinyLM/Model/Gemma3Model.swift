/// Gemma 3 (text): the llama blocks with Gemma's differences, all driven by ModelConfig.
///
///     x = embed(token) · √embedding
///     for each layer:
///         x += post_attention_norm( attention(rmsnorm(x)) )   // q/k RMS-normed per head;
///                                                             // local layers: sliding window, RoPE base 10 000
///         x += post_ffn_norm( gelu_ffn(rmsnorm(x)) )
///     logits = embedding(rmsnorm(x))                           // tied output
struct Gemma3Model {
    struct Layer {
        let attentionNorm: RMSNorm
        let attention: Attention
        let postAttentionNorm: RMSNorm
        let feedForwardNorm: RMSNorm
        let feedForward: FeedForward
        let postFeedForwardNorm: RMSNorm
    }

    let config: ModelConfig
    let tokenEmbedding: WeightMatrix
    let embeddingScale: Float
    let layers: [Layer]
    let outputNorm: RMSNorm
    let output: WeightMatrix

    init(gguf: GGUFFile, config c: ModelConfig) throws(TinyLMError) {
        let w = WeightLoader(gguf: gguf)
        config = c
        let embd = c.embeddingLength
        let eps = c.rmsNormEpsilon
        tokenEmbedding = try w.matrix("token_embd.weight", rows: c.vocabularySize, columns: embd)
        embeddingScale = Float(embd).squareRoot()
        func norm(_ name: String, _ count: Int) throws(TinyLMError) -> RMSNorm {
            RMSNorm(weight: try w.vector(name, count: count), count: count, epsilon: eps)
        }
        var layers: [Layer] = []
        let gelu = GeluTable()
        for i in 0..<c.layerCount {
            let p = "blk.\(i)."
            let local = c.usesSlidingWindow(layer: i)
            let rope = RoPE(dimensions: c.ropeDimensionCount, headSize: c.keyLength,
                            base: local ? c.ropeLocalBase : c.ropeBase,
                            positionScale: local ? 1 : c.ropeScale, style: c.ropeStyle)
            let attention = Attention(
                query: try w.matrix(p + "attn_q.weight", rows: c.queryDimension, columns: embd),
                key: try w.matrix(p + "attn_k.weight", rows: c.keyValueDimension, columns: embd),
                value: try w.matrix(p + "attn_v.weight", rows: c.valueDimension, columns: embd),
                output: try w.matrix(p + "attn_output.weight", rows: embd, columns: c.headCount * c.valueLength),
                queryBias: nil, keyBias: nil, valueBias: nil,
                queryNorm: try norm(p + "attn_q_norm.weight", c.keyLength),
                keyNorm: try norm(p + "attn_k_norm.weight", c.keyLength),
                rope: rope, layer: i,
                headCount: c.headCount, kvHeadCount: c.kvHeadCount,
                keyLength: c.keyLength, valueLength: c.valueLength,
                scale: c.attentionScale, scalesQueries: true, window: local ? c.slidingWindow : 0)
            let feedForward = FeedForward(
                gate: try w.matrix(p + "ffn_gate.weight", rows: c.feedForwardLength, columns: embd),
                up: try w.matrix(p + "ffn_up.weight", rows: c.feedForwardLength, columns: embd),
                down: try w.matrix(p + "ffn_down.weight", rows: embd, columns: c.feedForwardLength),
                activation: .geluTanh(gelu))
            layers.append(Layer(
                attentionNorm: try norm(p + "attn_norm.weight", embd),
                attention: attention,
                postAttentionNorm: try norm(p + "post_attention_norm.weight", embd),
                feedForwardNorm: try norm(p + "ffn_norm.weight", embd),
                feedForward: feedForward,
                postFeedForwardNorm: try norm(p + "post_ffw_norm.weight", embd)))
        }
        self.layers = layers
        outputNorm = try norm("output_norm.weight", embd)
        output = try w.optionalMatrix("output.weight", rows: c.vocabularySize, columns: embd) ?? tokenEmbedding
    }

    func forward(_ tokens: UnsafeBufferPointer<Int32>, startPosition: Int, state: InferenceState) {
        let batch = tokens.count
        let embd = config.embeddingLength
        let x = state.residual
        for (t, token) in tokens.enumerated() {
            let row = x + t * embd
            MatrixMultiply.dequantizeRow(tokenEmbedding, row: Int(token), into: row)
            for i in 0..<embd { row[i] *= embeddingScale }
        }
        for (index, layer) in layers.enumerated() {
            layer.attentionNorm(x, into: state.normalized, rows: batch)
            layer.attention(state.normalized, batch: batch, startPosition: startPosition, output: state.blockOutput, state: state)
            // Past the last layer's attention only the last token matters (its logits are all we
            // compute). llama.cpp drops the other rows right there, so the rest of that layer
            // multiplies a single token — with the single-token kernels and their float order.
            let rows = index == layers.count - 1 ? 1 : batch
            let xs = x + (batch - rows) * embd
            let attended = state.blockOutput + (batch - rows) * embd
            layer.postAttentionNorm(attended, into: attended, rows: rows)
            VectorMath.add(attended, to: xs, count: rows * embd)
            layer.feedForwardNorm(xs, into: state.normalized, rows: rows)
            layer.feedForward(state.normalized, batch: rows, output: state.blockOutput,
                              gateBuffer: state.gate, upBuffer: state.up, scratch: state.scratch, executor: state.executor)
            layer.postFeedForwardNorm(state.blockOutput, into: state.blockOutput, rows: rows)
            VectorMath.add(state.blockOutput, to: xs, count: rows * embd)
        }
        let last = x + (batch - 1) * embd
        outputNorm(last, into: state.normalized)
        MatrixMultiply.multiply(output, input: state.normalized, inputStride: embd, batch: 1,
                                output: state.logits, outputStride: config.vocabularySize,
                                scratch: state.scratch, executor: state.executor)
    }
}
