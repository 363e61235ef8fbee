// Q4_1's SIMD128 kernel: vec_dot's eight lanes plus the separate Σ m·s.

extension Q4_1 {
    enum SIMD128: SIMD128PairedBlocks {
        static var blockBytes: Int { Q4_1.blockBytes }

        /// The 32 nibbles: byte j holds values j (low) and j + 16 (high), so the low half of the
        /// vector takes the low nibbles and the high half the high ones.
        @inline(__always)
        static func pairs(_ block: UnsafeRawPointer) -> WeightPairs {
            let n = block.loadUnaligned(fromByteOffset: 4, as: SIMD8<UInt16>.self)
            let both = SIMD16<UInt16>(lowHalf: n, highHalf: n &>> 4)
            return WeightPairs(even: unsafeBitCast(both & 0x000F, to: SIMD16<Int16>.self),
                               odd: unsafeBitCast((both &>> 8) & 0x000F, to: SIMD16<Int16>.self))
        }

        static func multiply(_ job: KernelJob, rows: Range<Int>, chunk: Int? = nil) {
            let blocks = job.blocks, rowBytes = job.rowBytes
            SIMD128Block32.multiply(Self.self, affine: true, job, rows: rows, chunk: chunk) { r, count, t in
                SIMD128Block32.affine(Self.self, job.row(r), rowBytes, count, blocks, job.activations(t), job.results(t, r))
            }
        }
    }
}
