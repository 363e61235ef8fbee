extension Architecture {
    /// Phi-3, Phi-3.5 and Phi-4-mini: one fused `attn_qkv` matrix, one fused gate+up `ffn_up`
    /// (2 × feed_forward_length rows), queries scaled by 1/√head before attention, RoPE on the
    /// halves of the first `rope.dimension_count` dimensions (Phi-4-mini rotates 3/4 of each
    /// head). The 128k models (LongRoPE) carry `rope_factors_short` and `rope_factors_long`:
    /// the long ones apply when a session's context exceeds
    /// `rope.scaling.original_context_length`; `rope.scaling.attn_factor` scales every rotation.
    /// Their `attention.sliding_window` is ignored, as llama.cpp does (it attends globally).
    public static let phi3 = Architecture(name: "phi3", recipe: DecoderRecipe(
        ropeStyle: .halves,
        feedForwardWeights: .fusedGateUp,
        scalesQueries: true,
        ropeFrequencyFactors: true))
}
