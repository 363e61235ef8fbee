/// The gated feed-forward block: down( act(gate(x)) ⊙ up(x) ), with SiLU (SwiGLU, llama) or
/// tanh-approximated GELU (Gemma) as the activation.
struct FeedForward {
    enum Activation { case silu, geluTanh }

    let gate: WeightMatrix
    let up: WeightMatrix
    let down: WeightMatrix
    let activation: Activation

    /// `input`: batch × embedding; `output`: batch × embedding. `gateBuffer`/`upBuffer` hold
    /// batch × feedForwardLength.
    func callAsFunction(_ input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>,
                        gateBuffer: UnsafeMutablePointer<Float>, upBuffer: UnsafeMutablePointer<Float>,
                        scratch: MatmulScratch, executor: any ComputeExecutor) {
        let hidden = gate.rows
        MatrixMultiply.multiply(gate, input: input, inputStride: gate.columns, batch: batch,
                                output: gateBuffer, outputStride: hidden, scratch: scratch, executor: executor)
        MatrixMultiply.multiply(up, input: input, inputStride: up.columns, batch: batch,
                                output: upBuffer, outputStride: hidden, scratch: scratch, executor: executor)
        let count = batch * hidden
        switch activation {
        case .silu:
            for i in 0..<count {
                let g = gateBuffer[i]
                gateBuffer[i] = g / (1 + Math.exp(-g)) * upBuffer[i]
            }
        case .geluTanh:
            for i in 0..<count {
                gateBuffer[i] = Self.gelu(gateBuffer[i]) * upBuffer[i]
            }
        }
        MatrixMultiply.multiply(down, input: gateBuffer, inputStride: hidden, batch: batch,
                                output: output, outputStride: down.rows, scratch: scratch, executor: executor)
    }

    /// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    static func gelu(_ x: Float) -> Float {
        if x <= -10 { return 0 }
        if x >= 10 { return x }
        return 0.5 * x * (1 + Math.tanh(0.7978845608028654 * x * (1 + 0.044715 * x * x)))
    }
}
