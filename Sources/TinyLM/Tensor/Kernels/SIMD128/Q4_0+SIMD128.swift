// Q4_0's SIMD128 kernels: vec_dot's eight lanes, and the repacked GEMM/GEMV's one sum per block.

extension Q4_0 {
    enum SIMD128: SIMD128PairedBlocks {
        static var blockBytes: Int { Q4_0.blockBytes }

        /// nibble − 8: byte j holds values j (low nibble) and j + 16 (high nibble).
        @inline(__always)
        static func pairs(_ block: UnsafeRawPointer) -> WeightPairs {
            let n = block.loadUnaligned(fromByteOffset: 2, as: SIMD8<UInt16>.self)
            return WeightPairs(Sub32(e0: lowNibblesE(n) &- 8, o0: lowNibblesO(n) &- 8, e1: highNibblesE(n) &- 8, o1: highNibblesO(n) &- 8))
        }

        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            let blocks = job.blocks, rowBytes = job.rowBytes
            SIMD128Block32.forEachGroup(job, rows: rows) { r, count, t in
                if job.order(ofToken: t) == .vecDot {
                    SIMD128Block32.symmetric(Self.self, job.row(r), rowBytes, count, blocks, job.activations(t), job.results(t, r))
                } else {
                    SIMD128Block32.blockwise(Self.self, job.row(r), rowBytes, count, blocks, job.activations(t), job.results(t, r))
                }
            }
        }
    }
}
