/// Layer normalization: y = (x − mean(x)) / sqrt(var(x) + ε) · weight + bias, the BERT form
/// (mean subtracted, population variance, a learned bias).
///
/// The mean and the variance are summed in Double, in index order: the result does not depend
/// on vector width or platform (native and wasm give the same bits), and BERT's ε of 1e-12
/// is not lost against a Float sum.
struct LayerNorm {
    let weight: UnsafePointer<Float>
    let bias: UnsafePointer<Float>
    let count: Int
    let epsilon: Float

    /// Normalizes `rows` consecutive vectors of `count` values from `input` into `output`
    /// (which may be the same memory).
    func callAsFunction(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, rows: Int = 1) {
        for r in 0..<rows {
            let x = input + r * count
            let y = output + r * count
            var sum = 0.0
            for i in 0..<count { sum += Double(x[i]) }
            let mean = sum / Double(count)
            var squares = 0.0
            for i in 0..<count {
                let d = Double(x[i]) - mean
                squares += d * d
            }
            let variance = squares / Double(count)
            let scale = Float(1 / (variance + Double(epsilon)).squareRoot())
            let m = Float(mean)
            for i in 0..<count { y[i] = (x[i] - m) * scale * weight[i] + bias[i] }
        }
    }
}
