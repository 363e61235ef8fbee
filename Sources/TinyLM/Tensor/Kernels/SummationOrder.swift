// Which of llama.cpp's kernels, and so which float order, a token of a multiply goes through.
//
// Why the order matters: the integer block sums are exact everywhere, but the float steps
// that combine them round, and with 8-bit activations a 1-ulp difference anywhere can flip a
// quantized activation in a later layer; small models amplify that into logit differences of
// ~0.5, enough to change greedy tokens. Adding in llama.cpp's order, bit for bit, is the only
// way to track the reference token for token.
//
// The reference is llama.cpp's CPU backend as built on this project's machine (commit
// 0c1e57098bba, vendored in llama-cpp-python 0.3.36; x86-64 with AVX2, AVX-512 and VNNI,
// GGML_NATIVE, default "extra buffer types" on). What it runs, by weight format:
// - Repacked at load time into an interleaved layout with its own GEMM/GEMV kernels: Q4_0 and
//   Q4_K (AVX2) and Q2_K (AVX-512), each only when the row count is a multiple of 8 (IQ4_NL
//   and MXFP4 too, which TinyLM does not read). A tied output matrix counts: llama.cpp loads a
//   second, repacked copy of token_embd for it. Q5_K, Q6_K, Q8_0, Q5_0, Q4_1 and Q5_1 are
//   repacked only on ARM/RISC-V.
// - A repacked matrix times n tokens: the first n − n mod 4 tokens go through the 4-token GEMM,
//   the last n mod 4 (so a single decode token too) through the GEMV. For Q4_0 both add each
//   32-value block into one accumulator the same way; for the K-quants they differ (below).
//   The AVX-512 and AVX2 variants of a GEMM, picked by how many columns a thread's chunk has,
//   share its order.
// - Not repacked, K-quants (Q2_K…Q6_K) times a batch of 8 or more tokens: the "tiled" matmul
//   (its AVX-512 VNNI micro-kernel in this build).
// - Not repacked, Q8_0, Q5_0 and Q4_0 times 2 or more tokens: tinyBLAS (llamafile's sgemm),
//   whose per-token order is vec_dot's.
// - Everything else, every single token included: the per-row vec_dot kernel. Q4_1 and Q5_1
//   always take vec_dot.
// The activations are quantized to the same values on every path (the 4-token quantizers of
// the GEMMs only change the layout; where +max and −max tie, the Q8_K one may negate a whole
// block, d included, which leaves every product the same bits). In the last layer llama.cpp
// keeps only the last token after attention, so that layer's feed-forward runs single-token
// kernels; the model code does the same.
//
// The float steps of each order, per format, are written out as plain loops in the format's
// scalar reference (Formats/<Format>.swift, `Reference`); every other kernel of the table
// (KernelTable.swift) computes the same integers and repeats those float steps exactly.
// Throughout: d·d products are rounded to Float, every accumulator update is one fused
// multiply-add, Int32 → Float rounds to nearest (cvtdq2ps; K-quant sums can pass 2^24), and
// hsum8 is ggml's hsum_float_8, ((a4+a0)+(a6+a2)) + ((a5+a1)+(a7+a3)).

/// One of llama.cpp's float orders for a weight × token product.
enum SummationOrder {
    /// The per-row vec_dot kernel (and tinyBLAS, which adds in the same order).
    case vecDot
    /// A repacked matrix's single-token kernel.
    case gemv
    /// A repacked matrix's 4-token kernel.
    case gemm
    /// The tiled K-quant matmul (batches of 8 or more).
    case tiled

    /// The order token `token` of a multiply of `total` tokens by a `type` matrix of `rows` rows
    /// takes in llama.cpp (see the file comment).
    @inline(__always)
    static func of(_ type: TensorType, rows: Int, token: Int, of total: Int) -> SummationOrder {
        if isRepacked(type, rows: rows) { return token < total - total % 4 ? .gemm : .gemv }
        switch type {
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: return total >= 8 ? .tiled : .vecDot
        default: return .vecDot
        }
    }

    /// Whether llama.cpp repacks a `type` matrix of `rows` rows at load time on this machine.
    @inline(__always)
    static func isRepacked(_ type: TensorType, rows: Int) -> Bool {
        (type == .q4_0 || type == .q4_K || type == .q2_K) && rows % 8 == 0
    }
}
