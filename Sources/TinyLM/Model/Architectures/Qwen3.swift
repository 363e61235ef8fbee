extension Architecture {
    /// Qwen 3 (dense): the Qwen 2 graph without biases, with each head's queries and keys
    /// RMS-normed before RoPE.
    public static let qwen3 = Architecture(name: "qwen3", recipe: DecoderRecipe(
        ropeStyle: .halves,
        queryKeyNorms: true))
}
