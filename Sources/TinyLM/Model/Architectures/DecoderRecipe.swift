/// What sets one decoder architecture apart from the others, as data. The decoder (Decoder.swift)
/// is the same for all: embeddings, then per layer attention and a gated feed-forward block,
/// each behind an RMS norm and added to the residual stream, then the output norm and matrix.
/// A recipe says which optional parts a layer has and how its RoPE, attention scale and
/// activation work; ModelConfig reads the metadata, Decoder the tensors, by llama.cpp's names.
///
/// Whatever the architecture, these come from the file when present, as llama.cpp loads them:
/// a fused `attn_qkv` instead of `attn_q/k/v`, q/k/v biases (`attn_q.bias`…, `attn_qkv.bias`),
/// an `output.weight` (tied to `token_embd.weight` when absent), linear RoPE scaling
/// (`rope.scaling.factor`).
struct DecoderRecipe: Sendable {
    enum Activation: Sendable {
        /// silu(gate)·up (SwiGLU).
        case silu
        /// gelu_tanh(gate)·up (GeGLU with the tanh approximation).
        case geluTanh
    }

    enum FeedForwardWeights: Sendable {
        /// `ffn_gate` and `ffn_up`, feedForwardLength rows each.
        case gateAndUp
        /// One `ffn_up` of 2 × feedForwardLength rows: the gate's rows, then the up rows.
        case fusedGateUp
    }

    /// Layers that attend within a sliding window, with their own RoPE base.
    struct LocalAttention: Sendable {
        /// Every `pattern`-th layer is global, the others local.
        var pattern: Int
        var ropeBase: Float
    }

    var ropeStyle: RoPEStyle
    var activation: Activation = .silu
    var feedForwardWeights: FeedForwardWeights = .gateAndUp
    /// Token embeddings are multiplied by √embeddingLength.
    var scalesEmbeddings = false
    /// Each head's queries and keys are RMS-normed before RoPE (`attn_q_norm`, `attn_k_norm`).
    var queryKeyNorms = false
    /// The attention and feed-forward outputs are RMS-normed before the residual add
    /// (`post_attention_norm`, `post_ffw_norm`).
    var postNorms = false
    /// The attention scale multiplies the queries (after RoPE) rather than the scores, so the
    /// scaled queries are what gets rounded to f16: the graph of Gemma and Phi-3 in llama.cpp.
    var scalesQueries = false
    /// RoPE frequency factors from the file: `rope_freqs` (Llama 3.1+ "llama3" scaling) or
    /// `rope_factors_long`/`rope_factors_short` (LongRoPE: Phi-3 128k, Phi-3.5, Phi-4-mini).
    var ropeFrequencyFactors = false
    /// Sliding-window layers (window size from `attention.sliding_window`).
    var localAttention: LocalAttention? = nil
    /// The attention scale is 1/√`attention.query_pre_attn_scalar` when the file has it.
    var queryPreAttentionScalar = false
}
