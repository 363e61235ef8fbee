extension Architecture {
    /// Qwen 2 / 2.5: the llama graph with biases on q, k and v (in the file) and RoPE on the
    /// two halves of each head.
    public static let qwen2 = Architecture(name: "qwen2", recipe: DecoderRecipe(
        ropeStyle: .halves))
}
