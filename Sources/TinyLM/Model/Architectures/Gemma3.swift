extension Architecture {
    /// Gemma 3 (text):
    ///
    ///     x = embed(token) · √embedding
    ///     for each layer:
    ///         x += post_attention_norm( attention(rmsnorm(x)) )   // q/k RMS-normed per head;
    ///                                                             // local layers: sliding window, RoPE base 10 000
    ///         x += post_ffn_norm( gelu_ffn(rmsnorm(x)) )
    ///     logits = embedding(rmsnorm(x))                           // tied output
    ///
    /// Every sixth layer is global (`attention.sliding_window_pattern`); the checkpoint's
    /// `rope.freq_base` applies to those, `rope.freq_base_swa` (10 000) to the others.
    public static let gemma3 = Architecture(name: "gemma3", recipe: DecoderRecipe(
        ropeStyle: .halves,
        activation: .geluTanh,
        scalesEmbeddings: true,
        queryKeyNorms: true,
        postNorms: true,
        scalesQueries: true,
        localAttention: .init(pattern: 6, ropeBase: 10_000),
        queryPreAttentionScalar: true))
}
