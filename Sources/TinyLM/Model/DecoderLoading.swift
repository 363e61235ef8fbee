/// Builds a Decoder from GGUF tensors (llama.cpp's names) as the architecture's recipe says.
/// Every shape and type is checked here, once.
extension Decoder {
    init(gguf: GGUFFile, config c: ModelConfig) throws(TinyLMError) {
        let recipe = c.architecture.recipe
        let w = WeightLoader(gguf: gguf)
        let embd = c.embeddingLength
        func norm(_ name: String, _ count: Int) throws(TinyLMError) -> RMSNorm {
            RMSNorm(weight: try w.vector(name, count: count), count: count, epsilon: c.rmsNormEpsilon)
        }
        // Every matrix gets a slot adapters can name it by.
        var adaptable: [AdaptableMatrix] = []
        func register(_ m: WeightMatrix, isEmbedding: Bool = false) -> Linear {
            adaptable.append(AdaptableMatrix(name: m.name, rows: m.rows, columns: m.columns, isEmbedding: isEmbedding))
            return Linear(weight: m, slot: adaptable.count - 1)
        }
        func linear(_ name: String, rows: Int, columns: Int) throws(TinyLMError) -> Linear {
            register(try w.matrix(name, rows: rows, columns: columns))
        }
        config = c
        tokenEmbedding = try w.matrix("token_embd.weight", rows: c.vocabularySize, columns: embd)
        embeddingSlot = register(tokenEmbedding, isEmbedding: true).slot!
        embeddingScale = recipe.scalesEmbeddings ? Float(embd).squareRoot() : nil

        // RoPE frequency factors: one tensor shared by every layer, as the converters write it.
        let pairs = c.ropeDimensionCount / 2
        var shortFactors: UnsafePointer<Float>? = nil, longFactors: UnsafePointer<Float>? = nil
        if recipe.ropeFrequencyFactors {
            shortFactors = try w.optionalVector("rope_freqs.weight", count: pairs)
            if shortFactors == nil {
                shortFactors = try w.optionalVector("rope_factors_short.weight", count: pairs)
                longFactors = try w.optionalVector("rope_factors_long.weight", count: pairs)
            }
        }
        let activation: FeedForward.Activation
        switch recipe.activation {
        case .silu: activation = .silu
        case .geluTanh: activation = .geluTanh(GeluTable())
        }

        var layers: [DecoderLayer] = []
        for i in 0..<c.layerCount {
            let p = "blk.\(i)."
            let local = c.usesSlidingWindow(layer: i)
            let rope = RoPE(dimensions: c.ropeDimensionCount, headSize: c.keyLength,
                            base: local ? c.ropeLocalBase : c.ropeBase,
                            positionScale: local ? 1 : c.ropeScale, style: c.ropeStyle,
                            frequencyFactors: shortFactors, longContextFactors: longFactors,
                            originalContextLength: c.ropeOriginalContextLength, magnitude: c.ropeAttentionFactor)
            let attention = Attention(
                projection: try Self.projection(w, prefix: p, config: c, register: { register($0) }),
                output: try linear(p + "attn_output.weight", rows: embd, columns: c.headCount * c.valueLength),
                queryBias: try Self.bias(w, prefix: p, part: 0, config: c),
                keyBias: try Self.bias(w, prefix: p, part: 1, config: c),
                valueBias: try Self.bias(w, prefix: p, part: 2, config: c),
                queryNorm: recipe.queryKeyNorms ? try norm(p + "attn_q_norm.weight", c.keyLength) : nil,
                keyNorm: recipe.queryKeyNorms ? try norm(p + "attn_k_norm.weight", c.keyLength) : nil,
                rope: rope, layer: i,
                headCount: c.headCount, kvHeadCount: c.kvHeadCount,
                keyLength: c.keyLength, valueLength: c.valueLength,
                scale: c.attentionScale, scalesQueries: recipe.scalesQueries, window: local ? c.slidingWindow : 0)
            let ffn = c.feedForwardLength
            let gateAndUp: FeedForward.GateAndUp
            switch recipe.feedForwardWeights {
            case .gateAndUp:
                gateAndUp = .separate(gate: try linear(p + "ffn_gate.weight", rows: ffn, columns: embd),
                                      up: try linear(p + "ffn_up.weight", rows: ffn, columns: embd))
            case .fusedGateUp:
                gateAndUp = .fused(try linear(p + "ffn_up.weight", rows: 2 * ffn, columns: embd))
            }
            layers.append(DecoderLayer(
                attentionNorm: try norm(p + "attn_norm.weight", embd),
                attention: attention,
                postAttentionNorm: recipe.postNorms ? try norm(p + "post_attention_norm.weight", embd) : nil,
                feedForwardNorm: try norm(p + "ffn_norm.weight", embd),
                feedForward: FeedForward(gateAndUp: gateAndUp,
                                         down: try linear(p + "ffn_down.weight", rows: embd, columns: ffn),
                                         activation: activation),
                postFeedForwardNorm: recipe.postNorms ? try norm(p + "post_ffw_norm.weight", embd) : nil))
        }
        self.layers = layers
        outputNorm = try norm("output_norm.weight", embd)
        // A tied output projection is the embedding table; an adapter on `token_embd` changes
        // only the lookup, as PEFT applies it (llama.cpp stops with a shape error there).
        if let untied = try w.optionalMatrix("output.weight", rows: c.vocabularySize, columns: embd) {
            output = register(untied)
        } else {
            output = Linear(weight: tokenEmbedding, slot: nil)
        }
        self.adaptable = adaptable
    }

    /// `attn_qkv` when the file has it (llama.cpp looks for it first in every architecture),
    /// else `attn_q`, `attn_k`, `attn_v`.
    private static func projection(_ w: WeightLoader, prefix p: String, config c: ModelConfig,
                                   register: (WeightMatrix) -> Linear) throws(TinyLMError) -> Attention.Projection {
        let embd = c.embeddingLength
        if let fused = try w.optionalMatrix(p + "attn_qkv.weight", rows: c.queryDimension + c.keyValueDimension + c.valueDimension,
                                            columns: embd) {
            return .fused(register(fused))
        }
        let query = register(try w.matrix(p + "attn_q.weight", rows: c.queryDimension, columns: embd))
        let key = register(try w.matrix(p + "attn_k.weight", rows: c.keyValueDimension, columns: embd))
        let value = register(try w.matrix(p + "attn_v.weight", rows: c.valueDimension, columns: embd))
        return .separate(query: query, key: key, value: value)
    }

    /// The bias of q (part 0), k (1) or v (2): its own tensor, or its slice of `attn_qkv.bias`.
    private static func bias(_ w: WeightLoader, prefix p: String, part: Int, config c: ModelConfig) throws(TinyLMError) -> UnsafePointer<Float>? {
        let widths = [c.queryDimension, c.keyValueDimension, c.valueDimension]
        if let fused = try w.optionalVector(p + "attn_qkv.bias", count: widths[0] + widths[1] + widths[2]) {
            return fused + widths[..<part].reduce(0, +)
        }
        return try w.optionalVector(p + ["attn_q.bias", "attn_k.bias", "attn_v.bias"][part], count: widths[part])
    }
}
