// Q5_1's SIMD128 kernel: vec_dot's eight lanes plus the separate Σ m·s (Q4_1's order).

extension Q5_1 {
    enum SIMD128: SIMD128PairedBlocks {
        static var blockBytes: Int { Q5_1.blockBytes }

        /// q = nibble | high bit << 4 (0…31).
        @inline(__always)
        static func pairs(_ block: UnsafeRawPointer) -> WeightPairs {
            WeightPairs(unpack5(block.loadUnaligned(fromByteOffset: 8, as: SIMD8<UInt16>.self),
                                block.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        }

        static func multiply(_ job: KernelJob, rows: Range<Int>, chunk: Int? = nil) {
            let blocks = job.blocks, rowBytes = job.rowBytes
            SIMD128Block32.multiply(Self.self, affine: true, job, rows: rows, chunk: chunk) { r, count, t in
                SIMD128Block32.affine(Self.self, job.row(r), rowBytes, count, blocks, job.activations(t), job.results(t, r))
            }
        }
    }
}
