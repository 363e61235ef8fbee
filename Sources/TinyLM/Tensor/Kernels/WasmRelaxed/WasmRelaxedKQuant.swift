// How the relaxed-SIMD K-quant kernels (Q2_K … Q6_K) split a pass: llama.cpp picks one
// summation order per token (SummationOrder), and a pass whose tokens all take the same order
// runs here. vec_dot goes row by row; the format's other relaxed orders take four rows at a
// time, whose exact integer sums transpose into one vector for the float steps. Passes that
// mix orders, orders without a relaxed kernel and a last group of fewer than four rows take
// the format's SIMD128 kernel.

#if TINYLM_RELAXED_SIMD

/// A K-quant's relaxed-SIMD kernels, as WasmRelaxedKQuant.multiply runs them.
protocol WasmRelaxedKQuantKernels {
    /// One row against one token in the vec_dot order.
    static func vecDot(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float
    /// Whether `fourRows` runs `order` (never asked for vec_dot).
    static func hasFourRowKernel(_ order: SummationOrder) -> Bool
    /// Four rows (`rowBytes` apart) against one token in `order`. Called once per token and
    /// four rows: a format whose kernel is written for a constant order switches here, so
    /// that the order's branches stay out of its block loop.
    static func fourRows(_ order: SummationOrder, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                         _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>)
    /// The format's SIMD128 kernel, for the rows and passes the relaxed kernels leave.
    static func fallback(_ job: KernelJob, rows: Range<Int>)
}

/// A K-quant whose only four-row relaxed kernel is the tiled order (Q3_K, Q5_K, Q6_K): the
/// other orders take the SIMD128 kernel.
protocol WasmRelaxedTiledOnlyKernels: WasmRelaxedKQuantKernels {
    /// Four rows (`rowBytes` apart) against one token in the tiled order.
    static func tiled4(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, _ act: Q8Activations,
                       _ out: UnsafeMutablePointer<Float>)
}

extension WasmRelaxedTiledOnlyKernels {
    static func hasFourRowKernel(_ order: SummationOrder) -> Bool { order == .tiled }

    @inline(__always)
    static func fourRows(_ order: SummationOrder, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                         _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
        tiled4(rows, rowBytes, blocks, act, out)
    }
}

extension WasmRelaxedKQuantKernels {
    /// The kernel table's entry point.
    static func multiply(_ job: KernelJob, rows: Range<Int>, chunk: Int) {
        WasmRelaxedKQuant.multiply(Self.self, job, rows: rows)
    }
}

enum WasmRelaxedKQuant {
    static func multiply<F: WasmRelaxedKQuantKernels>(_: F.Type, _ job: KernelJob, rows: Range<Int>) {
        WasmHalfTable.prepare()  // (made at startup: one load and branch)
        let blocks = job.blocks
        if job.allTokens(take: .vecDot) {
            for t in 0..<job.batch {
                let act = job.activations(t), results = job.results(t, rows.lowerBound)
                for r in rows { results[r - rows.lowerBound] = F.vecDot(job.row(r), blocks, act) }
            }
            return
        }
        let order = job.order(ofToken: 0)
        guard order != .vecDot, F.hasFourRowKernel(order), job.allTokens(take: order) else {
            F.fallback(job, rows: rows)
            return
        }
        var r = rows.lowerBound
        while r + 4 <= rows.upperBound {
            for t in 0..<job.batch { F.fourRows(order, job.row(r), job.rowBytes, blocks, job.activations(t), job.results(t, r)) }
            r += 4
        }
        if r < rows.upperBound { F.fallback(job, rows: r..<rows.upperBound) }
    }
}
#endif
