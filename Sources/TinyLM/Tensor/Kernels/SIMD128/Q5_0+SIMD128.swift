// Q5_0's SIMD128 kernel: vec_dot's eight lanes.

extension Q5_0 {
    enum SIMD128: SIMD128PairedBlocks {
        static var blockBytes: Int { Q5_0.blockBytes }

        /// q − 16, q = nibble | high bit << 4.
        @inline(__always)
        static func pairs(_ block: UnsafeRawPointer) -> WeightPairs {
            let s = unpack5(block.loadUnaligned(fromByteOffset: 6, as: SIMD8<UInt16>.self),
                            block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            return WeightPairs(Sub32(e0: s.e0 &- 16, o0: s.o0 &- 16, e1: s.e1 &- 16, o1: s.o1 &- 16))
        }

        static func multiply(_ job: KernelJob, rows: Range<Int>, chunk: Int? = nil) {
            let blocks = job.blocks, rowBytes = job.rowBytes
            SIMD128Block32.multiply(Self.self, affine: false, job, rows: rows, chunk: chunk) { r, count, t in
                SIMD128Block32.symmetric(Self.self, job.row(r), rowBytes, count, blocks, job.activations(t), job.results(t, r))
            }
        }
    }
}
