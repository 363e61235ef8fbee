extension Architecture {
    /// Llama 2/3.x, SmolLM/SmolLM2, TinyLlama, Mistral-style decoders:
    ///
    ///     x = embed(token)
    ///     for each layer:
    ///         x += attention(rmsnorm(x))       // grouped-query, RoPE on adjacent pairs
    ///         x += swiglu_ffn(rmsnorm(x))
    ///     logits = output(rmsnorm(x))
    ///
    /// Llama 3.1+ files carry `rope_freqs.weight`: per-frequency divisors of the RoPE angles
    /// (the "llama3" scaling, computed by the converter from `rope_scaling`).
    public static let llama = Architecture(name: "llama", recipe: DecoderRecipe(
        ropeStyle: .adjacentPairs,
        ropeFrequencyFactors: true))
}
