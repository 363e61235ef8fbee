// Q3_K's SIMD128 kernels: vec_dot and the tiled order, row by row.

extension Q3_K {
    enum SIMD128 {
        /// Group `index` (32 values) as code − 4 = q2 − (high bit ? 0 : 4).
        @inline(__always)
        static func sub(_ block: UnsafeRawPointer, _ index: Int) -> Sub32 {
            let offset = 32 + (index >> 2) * 32
            let shift = UInt16((index & 3) * 2)
            let v0 = block.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt16>.self) &>> shift
            let v1 = block.loadUnaligned(fromByteOffset: offset + 16, as: SIMD8<UInt16>.self) &>> shift
            let bit = UInt16(index)
            let h0 = block.loadUnaligned(as: SIMD8<UInt16>.self) &>> bit
            let h1 = block.loadUnaligned(fromByteOffset: 16, as: SIMD8<UInt16>.self) &>> bit
            let e0 = (v0 & 0x0003) | ((h0 & 0x0001) &<< 2)
            let o0 = ((v0 &>> 8) & 0x0003) | ((h0 & 0x0100) &>> 6)
            let e1 = (v1 & 0x0003) | ((h1 & 0x0001) &<< 2)
            let o1 = ((v1 &>> 8) & 0x0003) | ((h1 & 0x0100) &>> 6)
            return Sub32(e0: unsafeBitCast(e0, to: SIMD8<Int16>.self) &- 4, o0: unsafeBitCast(o0, to: SIMD8<Int16>.self) &- 4,
                         e1: unsafeBitCast(e1, to: SIMD8<Int16>.self) &- 4, o1: unsafeBitCast(o1, to: SIMD8<Int16>.self) &- 4)
        }

        /// The eight vec_dot lanes of a super-block: each value's −4 offset stays in its lane.
        @inline(__always)
        static func lanes(_ w: UnsafeRawPointer, _ a: UnsafePointer<Int16>) -> SIMD8<Int32> {
            let scales = Q3_K.unpackScales(w + 96)
            var lanes = SIMD8<Int32>()
            for g in 0..<8 {
                let word = g < 4 ? scales.low : scales.high
                lanes &+= groupLanes(sub(w, g), a + 32 * g, byteOf(word, (g & 3) * 2) &- 32, byteOf(word, (g & 3) * 2 + 1) &- 32)
            }
            return lanes
        }

        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            let blocks = job.blocks
            SIMD128Block32.forEachGroup(job, rows: rows) { r, count, t in
                let act = job.activations(t), tiled = job.order(ofToken: t) == .tiled
                for i in 0..<count {
                    let row = job.row(r + i)
                    job.results(t, r)[i] = tiled ? self.tiled(row, blocks, act) : vecDot(row, blocks, act)
                }
            }
        }

        /// One row in the vec_dot order (see Q3_K.Reference.vecDot).
        static func vecDot(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
            var acc = SIMD8<Float>()
            for b in 0..<blocks {
                let w = row + b * Q3_K.blockBytes
                let l = lanes(w, act.planes + b * 256)
                let d = SIMD4(repeating: act.d[b] * loadF16(w, 108))
                acc = SIMD8(lowHalf: LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(l.lowHalf), d, acc.lowHalf),
                            highHalf: LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(l.highHalf), d, acc.highHalf))
            }
            return LaneMath.horizontalSum(acc)
        }

        /// One row in the tiled order: acc = fma(isum·d_w, d_a, acc) per super-block.
        static func tiled(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
            var acc: Float = 0
            for b in 0..<blocks {
                let w = row + b * Q3_K.blockBytes
                let isum = horizontalSum(lanes(w, act.planes + b * 256))
                acc = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloat(isum) * loadF16(w, 108), act.d[b], acc)
            }
            return acc
        }
    }
}
