// Q8_0's SIMD128 kernel: vec_dot's eight lanes.

extension Q8_0 {
    enum SIMD128: SIMD128PairedBlocks {
        static var blockBytes: Int { Q8_0.blockBytes }

        @inline(__always)
        static func pairs(_ block: UnsafeRawPointer) -> WeightPairs {
            let v = block.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int16>.self)
            return WeightPairs(even: (v &<< 8) &>> 8, odd: v &>> 8)
        }

        static func multiply(_ job: KernelJob, rows: Range<Int>, chunk: Int? = nil) {
            let blocks = job.blocks, rowBytes = job.rowBytes
            SIMD128Block32.multiply(Self.self, affine: false, job, rows: rows, chunk: chunk) { r, count, t in
                SIMD128Block32.symmetric(Self.self, job.row(r), rowBytes, count, blocks, job.activations(t), job.results(t, r))
            }
        }
    }
}
