/// One pass of `MatrixMultiply.multiply` as a kernel sees it: the weight, the pass's tokens
/// (their quantized activations are in `scratch`) and where the results go. A kernel computes
/// `results(t, r)` for its rows r and every token t of the pass.
struct KernelJob {
    let weight: WeightMatrix
    /// Tokens in this pass.
    let batch: Int
    /// How many tokens the whole multiply has, and where this pass's first one sits: llama.cpp
    /// picks some formats' kernels (and so their order) by the whole batch, not by our passes.
    let totalTokens: Int
    let firstToken: Int
    let scratch: MatmulScratch
    /// The scratch token of this pass's first token.
    let scratchToken: Int
    let output: UnsafeMutablePointer<Float>
    let outputStride: Int

    /// Weight blocks per row.
    @inline(__always) var blocks: Int { weight.columns / weight.type.blockElements }

    @inline(__always) var rowBytes: Int { weight.rowBytes }

    @inline(__always) func row(_ r: Int) -> UnsafeRawPointer { weight.data + r * weight.rowBytes }

    @inline(__always) func activations(_ t: Int) -> Q8Activations { scratch.activations(scratchToken + t) }

    /// Where row `r` of token `t`'s result goes (rows r, r + 1, … follow it).
    @inline(__always) func results(_ t: Int, _ r: Int) -> UnsafeMutablePointer<Float> { output + t * outputStride + r }

    /// llama.cpp's order for token `t` of this pass.
    @inline(__always)
    func order(ofToken t: Int) -> SummationOrder {
        SummationOrder.of(weight.type, rows: weight.rows, token: firstToken + t, of: totalTokens)
    }

    /// The same job for tokens `tokens` of this pass only.
    @inline(__always)
    func tokens(_ tokens: Range<Int>) -> KernelJob {
        KernelJob(weight: weight, batch: tokens.count, totalTokens: totalTokens, firstToken: firstToken + tokens.lowerBound,
                  scratch: scratch, scratchToken: scratchToken + tokens.lowerBound, output: output + tokens.lowerBound * outputStride,
                  outputStride: outputStride)
    }

    /// Whether every token of this pass takes `order`.
    @inline(__always)
    func allTokens(take order: SummationOrder) -> Bool {
        batch > 0 && self.order(ofToken: 0) == order && self.order(ofToken: batch - 1) == order
    }
}
