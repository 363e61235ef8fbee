/// The BERT encoder as llama.cpp stores it in GGUF (`general.architecture` = "bert"):
///
///     x = LayerNorm(token_embd[id] + token_types[0] + position_embd[position])
///     for each layer:
///         x = LayerNorm(x + attn_output(attention(attn_q(x), attn_k(x), attn_v(x))))
///         x = LayerNorm(x + ffn_down(gelu(ffn_up(x))))
///
/// Attention is bidirectional (every token of a text sees every other token of that text,
/// never another text's), GELU is the exact one (with erf), every projection has a bias.
/// Many texts run as one packed batch: the token-wise steps (projections, norms, GELU) see all
/// tokens of all texts at once, only attention looks at the text boundaries.
struct BertModel {
    struct Layer {
        /// Either one fused projection to [q | k | v] (`attn_qkv`) or three.
        let fusedQKV: WeightMatrix?
        let query: WeightMatrix?
        let key: WeightMatrix?
        let value: WeightMatrix?
        let qkvBias: UnsafeMutablePointer<Float>
        let output: WeightMatrix
        let outputBias: UnsafePointer<Float>?
        let attentionNorm: LayerNorm
        let up: WeightMatrix
        let upBias: UnsafePointer<Float>?
        let down: WeightMatrix
        let downBias: UnsafePointer<Float>?
        let outputNorm: LayerNorm
    }

    let config: EncoderConfig
    let tokenEmbedding: WeightMatrix
    let positionEmbedding: WeightMatrix
    /// token_types row 0 ("sentence A", the only type a single text uses), or zeros.
    let tokenType: UnsafeMutablePointer<Float>
    let embeddingNorm: LayerNorm
    let layers: [Layer]
    private let owned: [UnsafeMutablePointer<Float>]

    init(gguf: GGUFFile, config c: EncoderConfig) throws(TinyLMError) {
        let w = WeightLoader(gguf: gguf)
        config = c
        let h = c.embeddingLength
        var owned: [UnsafeMutablePointer<Float>] = []
        func buffer(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            p.initialize(repeating: 0, count: count)
            owned.append(p)
            return p
        }
        do {
            tokenEmbedding = try w.matrix("token_embd.weight", rows: c.vocabularySize, columns: h)
            positionEmbedding = try w.matrix("position_embd.weight", rows: c.contextLength, columns: h)
            tokenType = buffer(h)
            if let types = gguf.tensorInfo(named: "token_types.weight") {
                let rows = types.shape.count > 1 ? types.shape[1] : 1
                let matrix = try w.matrix("token_types.weight", rows: rows, columns: h)
                MatrixMultiply.dequantizeRow(matrix, row: 0, into: tokenType)
            }
            embeddingNorm = LayerNorm(weight: try w.vector("token_embd_norm.weight", count: h),
                                      bias: try w.vector("token_embd_norm.bias", count: h), count: h, epsilon: c.layerNormEpsilon)
            var layers: [Layer] = []
            for i in 0..<c.layerCount {
                let p = "blk.\(i)."
                let fused = try w.optionalMatrix(p + "attn_qkv.weight", rows: 3 * h, columns: h)
                let qkvBias = buffer(3 * h)
                if fused != nil {
                    if let b = try w.optionalVector(p + "attn_qkv.bias", count: 3 * h) { qkvBias.update(from: b, count: 3 * h) }
                } else {
                    for (k, part) in ["attn_q", "attn_k", "attn_v"].enumerated() {
                        if let b = try w.optionalVector(p + part + ".bias", count: h) { (qkvBias + k * h).update(from: b, count: h) }
                    }
                }
                layers.append(Layer(
                    fusedQKV: fused,
                    query: fused == nil ? try w.matrix(p + "attn_q.weight", rows: h, columns: h) : nil,
                    key: fused == nil ? try w.matrix(p + "attn_k.weight", rows: h, columns: h) : nil,
                    value: fused == nil ? try w.matrix(p + "attn_v.weight", rows: h, columns: h) : nil,
                    qkvBias: qkvBias,
                    output: try w.matrix(p + "attn_output.weight", rows: h, columns: h),
                    outputBias: try w.optionalVector(p + "attn_output.bias", count: h),
                    attentionNorm: LayerNorm(weight: try w.vector(p + "attn_output_norm.weight", count: h),
                                             bias: try w.vector(p + "attn_output_norm.bias", count: h), count: h, epsilon: c.layerNormEpsilon),
                    up: try w.matrix(p + "ffn_up.weight", rows: c.feedForwardLength, columns: h),
                    upBias: try w.optionalVector(p + "ffn_up.bias", count: c.feedForwardLength),
                    down: try w.matrix(p + "ffn_down.weight", rows: h, columns: c.feedForwardLength),
                    downBias: try w.optionalVector(p + "ffn_down.bias", count: h),
                    outputNorm: LayerNorm(weight: try w.vector(p + "layer_output_norm.weight", count: h),
                                          bias: try w.vector(p + "layer_output_norm.bias", count: h), count: h, epsilon: c.layerNormEpsilon)))
            }
            self.layers = layers
        } catch {
            for p in owned { p.deallocate() }
            throw error
        }
        self.owned = owned
    }

    func release() {
        for p in owned { p.deallocate() }
    }

    /// Runs the packed batch in `state` (tokens, positions and text spans already filled in)
    /// and leaves the last layer's states in `state.hidden` (tokens × embedding).
    func forward(state: EncoderState) {
        let tokens = state.tokenCount
        let h = config.embeddingLength
        let x = state.hidden
        let executor = state.executor
        executor.parallelRanges(tokens) { range in
            for t in range {
                let row = x + t * h
                MatrixMultiply.dequantizeRow(tokenEmbedding, row: Int(state.tokens[t]), into: row)
                MatrixMultiply.dequantizeRow(positionEmbedding, row: Int(state.positions[t]), into: state.block + t * h)
                for i in 0..<h { row[i] = (row[i] + tokenType[i]) + state.block[t * h + i] }
                embeddingNorm(row, into: row)
            }
        }
        for layer in layers {
            // [q | k | v] per token, biases added.
            let qkv = state.qkv
            if let fused = layer.fusedQKV {
                multiply(fused, x, tokens: tokens, into: qkv, stride: 3 * h, state: state)
            } else {
                multiply(layer.query!, x, tokens: tokens, into: qkv, stride: 3 * h, state: state)
                multiply(layer.key!, x, tokens: tokens, into: qkv + h, stride: 3 * h, state: state)
                multiply(layer.value!, x, tokens: tokens, into: qkv + 2 * h, stride: 3 * h, state: state)
            }
            addBias(UnsafePointer(layer.qkvBias), to: qkv, width: 3 * h, tokens: tokens, executor: executor)
            attention(state: state)
            multiply(layer.output, state.attended, tokens: tokens, into: state.block, stride: h, state: state)
            executor.parallelRanges(tokens) { range in
                for t in range {
                    let row = x + t * h, out = state.block + t * h
                    if let b = layer.outputBias { for i in 0..<h { out[i] += b[i] } }
                    for i in 0..<h { row[i] += out[i] }
                    layer.attentionNorm(row, into: row)
                }
            }
            let f = config.feedForwardLength
            multiply(layer.up, x, tokens: tokens, into: state.feedForward, stride: f, state: state)
            executor.parallelRanges(tokens) { range in
                for t in range {
                    let row = state.feedForward + t * f
                    if let b = layer.upBias { for i in 0..<f { row[i] += b[i] } }
                    ExactGELU.apply(row, count: f)
                }
            }
            multiply(layer.down, state.feedForward, tokens: tokens, into: state.block, stride: h, state: state)
            executor.parallelRanges(tokens) { range in
                for t in range {
                    let row = x + t * h, out = state.block + t * h
                    if let b = layer.downBias { for i in 0..<h { out[i] += b[i] } }
                    for i in 0..<h { row[i] += out[i] }
                    layer.outputNorm(row, into: row)
                }
            }
        }
    }

    /// Through FloatGEMM (f32 activations, weights unpacked panel by panel) for every format it
    /// reads, else MatrixMultiply.
    private func multiply(_ weight: WeightMatrix, _ input: UnsafePointer<Float>, tokens: Int,
                          into output: UnsafeMutablePointer<Float>, stride: Int, state: EncoderState) {
        if FloatGEMM.supports(weight.type) {
            FloatGEMM.multiply(weight, input: input, inputStride: weight.columns, tokens: tokens, output: output, outputStride: stride,
                               scratch: state.gemmScratch, slots: state.gemmSlots, executor: state.executor)
        } else {
            MatrixMultiply.multiply(weight, input: input, inputStride: weight.columns, batch: tokens,
                                    output: output, outputStride: stride, scratch: state.scratch, executor: state.executor)
        }
    }

    private func addBias(_ bias: UnsafePointer<Float>, to rows: UnsafeMutablePointer<Float>, width: Int, tokens: Int,
                         executor: any ComputeExecutor) {
        executor.parallelRanges(tokens) { range in
            for t in range {
                let row = rows + t * width
                for i in 0..<width { row[i] += bias[i] }
            }
        }
    }

    /// Softmax attention of every token over the tokens of its own text, head by head.
    /// Work items are (text, head) pairs; each chunk of them has its own score row.
    private func attention(state: EncoderState) {
        let h = config.embeddingLength, heads = config.headCount, d = config.headSize
        let scale = 1 / Float(d).squareRoot()
        let items = state.spanCount * heads
        state.executor.parallelChunks(items, maxChunks: state.attentionSlots) { chunk, range in
            let scores = state.attentionSlot(chunk)
            for item in range {
                let span = state.spans[item / heads]
                let head = item % heads
                let first = span.start, n = span.count
                for i in 0..<n {
                    let q = state.qkv + (first + i) * 3 * h + head * d
                    var largest = -Float.infinity
                    for j in 0..<n {
                        let k = state.qkv + (first + j) * 3 * h + h + head * d
                        let s = VectorMath.dot(q, k, count: d) * scale
                        scores[j] = s
                        if s > largest { largest = s }
                    }
                    let sum = ExactGELU.softmaxNumerators(scores, count: n, largest: largest)
                    let out = state.attended + (first + i) * h + head * d
                    out.initialize(repeating: 0, count: d)
                    for j in 0..<n {
                        let v = state.qkv + (first + j) * 3 * h + 2 * h + head * d
                        VectorMath.axpy(scores[j], v, out, count: d)
                    }
                    VectorMath.scale(out, by: 1 / sum, count: d)
                }
            }
        }
    }
}

/// GELU with the error function, 0.5·x·(1 + erf(x/√2)), as BERT defines it (not the tanh
/// approximation). erf is Abramowitz & Stegun's 7.1.28, 1 − (1 + a₁x + … + a₆x⁶)^−16, within
/// 3·10⁻⁷ of the true value: only multiplications, additions and one division, so it
/// vectorizes and gives the same bits natively and in wasm.
enum ExactGELU {
    static func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let raw = UnsafeMutableRawPointer(x)
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            raw.storeBytes(of: gelu(v), toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            x[i] = gelu(SIMD8<Float>(repeating: x[i]))[0]
            i += 1
        }
    }

    /// scores[j] = e^(scores[j] − largest) for j < count; returns their sum (added in index
    /// order).
    static func softmaxNumerators(_ scores: UnsafeMutablePointer<Float>, count: Int, largest: Float) -> Float {
        let raw = UnsafeMutableRawPointer(scores)
        var j = 0
        while j + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) - SIMD8(repeating: largest)
            raw.storeBytes(of: exp(v), toByteOffset: j * 4, as: SIMD8<Float>.self)
            j += 8
        }
        while j < count {
            scores[j] = exp(SIMD8<Float>(repeating: scores[j] - largest))[0]
            j += 1
        }
        var sum: Float = 0
        for i in 0..<count { sum += scores[i] }
        return sum
    }

    /// e^x for x ≤ 0 (softmax arguments): x = n·ln2 + r with |r| ≤ ln2/2, e^r by its Taylor
    /// polynomial to r⁷ (relative error below 2·10⁻⁷), times 2^n built in the exponent bits;
    /// 0 below −87. Multiplications and additions only: the same bits natively and in wasm.
    @inline(__always)
    static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let clamped = x.replacing(with: -87, where: x .< -87)
        // n = round(x / ln2) by adding 1.5·2^23 (the addition rounds; n is then in the low
        // mantissa bits of z), which vectorizes where a float-to-int conversion does not.
        let magic = SIMD8<Float>(repeating: 0x1.8p23)
        let z = clamped * SIMD8(repeating: 1.44269504088896341) + magic
        let n = z - magic
        let r = (clamped - n * SIMD8(repeating: 0.693145751953125)) - n * SIMD8(repeating: 1.42860682030941723e-06)
        var p = SIMD8<Float>(repeating: 1.0 / 5040)
        p = p * r + SIMD8(repeating: 1.0 / 720)
        p = p * r + SIMD8(repeating: 1.0 / 120)
        p = p * r + SIMD8(repeating: 1.0 / 24)
        p = p * r + SIMD8(repeating: 1.0 / 6)
        p = p * r + SIMD8(repeating: 0.5)
        p = p * r + SIMD8(repeating: 1)
        p = p * r + SIMD8(repeating: 1)
        let k = (unsafeBitCast(z, to: SIMD8<Int32>.self) & 0x7F_FFFF) &- 0x40_0000
        let scale = unsafeBitCast((k &+ 127) &<< 23, to: SIMD8<Float>.self)
        return (p * scale).replacing(with: 0, where: x .< -87)
    }

    @inline(__always)
    static func gelu(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let z = x * SIMD8(repeating: 0.70710678118654752)
        let a = z.replacing(with: -z, where: z .< 0)
        var p = SIMD8<Float>(repeating: 0.0000430638)
        p = p * a + SIMD8(repeating: 0.0002765672)
        p = p * a + SIMD8(repeating: 0.0001520143)
        p = p * a + SIMD8(repeating: 0.0092705272)
        p = p * a + SIMD8(repeating: 0.0422820123)
        p = p * a + SIMD8(repeating: 0.0705230784)
        p = p * a + SIMD8(repeating: 1)
        p = p * p   // ^2
        p = p * p   // ^4
        p = p * p   // ^8
        p = p * p   // ^16
        var erf = SIMD8<Float>(repeating: 1) - SIMD8(repeating: 1) / p
        erf.replace(with: -erf, where: z .< 0)
        return SIMD8(repeating: 0.5) * x * (SIMD8(repeating: 1) + erf)
    }
}
