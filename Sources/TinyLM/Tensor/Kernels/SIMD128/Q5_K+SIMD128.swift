// Q5_K's SIMD128 kernels: vec_dot row by row; the tiled order with four rows advancing together.

extension Q5_K {
    enum SIMD128 {
        /// Group (sub-block) `index`: 32 values, 0…31.
        @inline(__always)
        static func sub(_ block: UnsafeRawPointer, _ index: Int) -> Sub32 {
            let offset = 48 + (index >> 1) * 32
            let shift = UInt16((index & 1) * 4)
            let n0 = block.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt16>.self) &>> shift
            let n1 = block.loadUnaligned(fromByteOffset: offset + 16, as: SIMD8<UInt16>.self) &>> shift
            let bit = UInt16(index)
            let h0 = block.loadUnaligned(fromByteOffset: 16, as: SIMD8<UInt16>.self) &>> bit
            let h1 = block.loadUnaligned(fromByteOffset: 32, as: SIMD8<UInt16>.self) &>> bit
            // Bit 0 of each byte -> bit 4 of its lane.
            let he0 = unsafeBitCast((h0 & 0x0001) &<< 4, to: SIMD8<Int16>.self)
            let ho0 = unsafeBitCast((h0 & 0x0100) &>> 4, to: SIMD8<Int16>.self)
            let he1 = unsafeBitCast((h1 & 0x0001) &<< 4, to: SIMD8<Int16>.self)
            let ho1 = unsafeBitCast((h1 & 0x0100) &>> 4, to: SIMD8<Int16>.self)
            return Sub32(e0: lowNibblesE(n0) | he0, o0: lowNibblesO(n0) | ho0, e1: lowNibblesE(n1) | he1, o1: lowNibblesO(n1) | ho1)
        }

        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            let blocks = job.blocks, rowBytes = job.rowBytes
            SIMD128Block32.forEachGroup(job, rows: rows) { r, count, t in
                if job.order(ofToken: t) == .tiled {
                    tiled4(job.row(r), rowBytes, count, blocks, job.activations(t), job.results(t, r))
                } else {
                    for i in 0..<count { job.results(t, r)[i] = vecDot(job.row(r + i), blocks, job.activations(t)) }
                }
            }
        }

        /// Up to four rows against one token in the tiled order; missing rows repeat the first
        /// and are dropped.
        @inline(__always)
        static func tiled4(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ count: Int, _ blocks: Int,
                           _ act: Q8Activations, _ out: UnsafeMutablePointer<Float>) {
            let p1 = count > 1 ? rows + rowBytes : rows
            let p2 = count > 2 ? rows + 2 * rowBytes : rows
            let p3 = count > 3 ? rows + 3 * rowBytes : rows
            var acc = SIMD4<Float>()
            for b in 0..<blocks {
                let offset = b * Q5_K.blockBytes
                let w0 = rows + offset, w1 = p1 + offset, w2 = p2 + offset, w3 = p3 + offset
                let h0 = Q4_K.SIMD128.header(w0), h1 = Q4_K.SIMD128.header(w1)
                let h2 = Q4_K.SIMD128.header(w2), h3 = Q4_K.SIMD128.header(w3)
                let a = act.planes + b * 256
                let sums = act.bsums + b * 16
                @inline(__always) func rowSum(_ w: UnsafeRawPointer, _ h: Q4_K.SIMD128.Header) -> SIMD4<Int32> {
                    var s = SIMD4<Int32>()
                    for j in 0..<8 { s &+= subDotNarrow(sub(w, j), a + 32 * j) &* byteOf(h.scales, j) }
                    return s
                }
                let isum = transposedSum(rowSum(w0, h0), rowSum(w1, h1), rowSum(w2, h2), rowSum(w3, h3))
                var msum = SIMD4<Int32>()
                for j in 0..<8 {
                    msum &+= SIMD4(byteOf(h0.mins, j), byteOf(h1.mins, j), byteOf(h2.mins, j), byteOf(h3.mins, j))
                        &* (sums[2 * j] &+ sums[2 * j + 1])
                }
                let d = SIMD4(h0.d, h1.d, h2.d, h3.d), dmin = SIMD4(h0.dmin, h1.dmin, h2.dmin, h3.dmin)
                let block = LaneMath.fusedMultiplyAdd(-dmin, LaneMath.roundedFloats(msum), LaneMath.roundedFloats(isum) * d)
                acc = LaneMath.fusedMultiplyAdd(block, SIMD4(repeating: act.d[b]), acc)
            }
            for i in 0..<count { out[i] = acc[i] }
        }

        /// One row in the vec_dot order (see Q5_K.Reference.vecDot).
        static func vecDot(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
            var acc = SIMD8<Float>()
            var minSum: Float = 0
            for b in 0..<blocks {
                let w = row + b * Q5_K.blockBytes
                let h = Q4_K.SIMD128.header(w)
                let a = act.planes + b * 256
                let sums = act.bsums + b * 16
                let da = act.d[b]
                var mins: Int32 = 0
                var lanes = SIMD8<Int32>()
                for j in 0..<8 {
                    mins &+= byteOf(h.mins, j) &* (sums[2 * j] &+ sums[2 * j + 1])
                    let scale = byteOf(h.scales, j)
                    lanes &+= groupLanes(sub(w, j), a + j * 32, scale, scale)
                }
                minSum = LaneMath.fusedMultiplyAdd(-da * h.dmin, LaneMath.roundedFloat(mins), minSum)
                let d = SIMD4(repeating: da * h.d)
                acc = SIMD8(lowHalf: LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(lanes.lowHalf), d, acc.lowHalf),
                            highHalf: LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(lanes.highHalf), d, acc.highHalf))
            }
            return LaneMath.horizontalSum(acc) + minSum
        }
    }
}
