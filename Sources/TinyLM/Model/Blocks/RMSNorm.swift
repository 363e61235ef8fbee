/// Root-mean-square normalization: y = x / sqrt(mean(x²) + ε) · weight.
/// The sum of squares is accumulated in Double, as ggml does, so long rows lose nothing.
/// Gemma's "(1 + weight)" convention needs no special case: its GGUF converter stores 1 + w.
struct RMSNorm {
    let weight: UnsafePointer<Float>
    let count: Int
    let epsilon: Float

    /// Normalizes `rows` consecutive vectors of `count` values from `input` into `output`
    /// (which may be the same memory).
    func callAsFunction(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, rows: Int = 1) {
        for r in 0..<rows {
            let x = input + r * count
            let y = output + r * count
            var sum = 0.0
            for i in 0..<count { sum += Double(x[i] * x[i]) }
            let scale = 1 / (Float(sum / Double(count)) + epsilon).squareRoot()
            for i in 0..<count { y[i] = (x[i] * scale) * weight[i] }
        }
    }
}
