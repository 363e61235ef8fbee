// Q4_K's SIMD128 kernels: four rows advance together in the repacked GEMV/GEMM and the tiled
// orders (their integer sums transpose into one vector, so the float steps are vector ops);
// vec_dot goes row by row.

extension Q4_K {
    enum SIMD128 {
        /// A block's f16 scales and its eight 6-bit scales and mins, one per byte.
        struct Header {
            var d: Float
            var dmin: Float
            var scales: UInt64
            var mins: UInt64
        }

        @inline(__always)
        static func header(_ block: UnsafeRawPointer) -> Header {
            let bits = block.loadUnaligned(as: UInt32.self)
            let sm = unpackScaleMin(block + 4)
            return Header(d: FP16.toFloat(UInt16(truncatingIfNeeded: bits)), dmin: FP16.toFloat(UInt16(truncatingIfNeeded: bits >> 16)),
                          scales: sm.scales, mins: sm.mins)
        }

        /// Sub-block `index` (32 values, 0…15).
        @inline(__always)
        static func sub(_ block: UnsafeRawPointer, _ index: Int) -> Sub32 {
            let offset = 16 + (index >> 1) * 32
            let shift = UInt16((index & 1) * 4)
            let n0 = block.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt16>.self) &>> shift
            let n1 = block.loadUnaligned(fromByteOffset: offset + 16, as: SIMD8<UInt16>.self) &>> shift
            return Sub32(e0: lowNibblesE(n0), o0: lowNibblesO(n0), e1: lowNibblesE(n1), o1: lowNibblesO(n1))
        }

        /// sc_j·Σ q·a + sc_j+1·Σ q·a over sub-blocks j and j + 1, as four Int32 partial sums.
        @inline(__always)
        static func pairDot(_ w: UnsafeRawPointer, _ h: Header, _ j: Int, _ a: UnsafePointer<Int16>) -> SIMD4<Int32> {
            subDotNarrow(sub(w, j), a + j * 32) &* byteOf(h.scales, j) &+ subDotNarrow(sub(w, j + 1), a + j * 32 + 32) &* byteOf(h.scales, j + 1)
        }

        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            let blocks = job.blocks, rowBytes = job.rowBytes
            SIMD128Block32.forEachGroup(job, rows: rows) { r, count, t in
                let order = job.order(ofToken: t)
                if order == .vecDot {
                    for i in 0..<count { job.results(t, r)[i] = vecDot(job.row(r + i), blocks, job.activations(t)) }
                } else {
                    dot4(job.row(r), rowBytes, count, blocks, job.activations(t), order, job.results(t, r))
                }
            }
        }

        /// Up to four rows against one token in the GEMV, GEMM or tiled order; missing rows
        /// repeat the first and are dropped.
        @inline(__always)
        static func dot4(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ count: Int, _ blocks: Int,
                         _ act: Q8Activations, _ order: SummationOrder, _ out: UnsafeMutablePointer<Float>) {
            let p1 = count > 1 ? rows + rowBytes : rows
            let p2 = count > 2 ? rows + 2 * rowBytes : rows
            let p3 = count > 3 ? rows + 3 * rowBytes : rows
            var acc = SIMD4<Float>(), accMin = SIMD4<Float>()
            for b in 0..<blocks {
                let offset = b * Q4_K.blockBytes
                let w0 = rows + offset, w1 = p1 + offset, w2 = p2 + offset, w3 = p3 + offset
                let h0 = header(w0), h1 = header(w1), h2 = header(w2), h3 = header(w3)
                let a = act.planes + b * 256
                let sums = act.bsums + b * 16
                let da = act.d[b]
                let d = SIMD4(h0.d, h1.d, h2.d, h3.d), dmin = SIMD4(h0.dmin, h1.dmin, h2.dmin, h3.dmin)
                let scale = d * da, minScale = dmin * da
                var isum = SIMD4<Int32>(), msum = SIMD4<Int32>()
                for pair in 0..<4 {
                    let j = 2 * pair
                    let s = transposedSum(pairDot(w0, h0, j, a), pairDot(w1, h1, j, a), pairDot(w2, h2, j, a), pairDot(w3, h3, j, a))
                    let m = SIMD4(byteOf(h0.mins, j), byteOf(h1.mins, j), byteOf(h2.mins, j), byteOf(h3.mins, j))
                        &* (sums[2 * j] &+ sums[2 * j + 1])
                        &+ SIMD4(byteOf(h0.mins, j + 1), byteOf(h1.mins, j + 1), byteOf(h2.mins, j + 1), byteOf(h3.mins, j + 1))
                        &* (sums[2 * j + 2] &+ sums[2 * j + 3])
                    if order == .gemm {
                        acc = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(s), scale, acc)
                        accMin = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(m), minScale, accMin)
                    } else {
                        isum &+= s
                        msum &+= m
                    }
                }
                if order == .gemv {
                    acc = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(isum), scale, acc)
                    accMin = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(msum), minScale, accMin)
                } else if order == .tiled {
                    let block = LaneMath.fusedMultiplyAdd(-dmin, LaneMath.roundedFloats(msum), LaneMath.roundedFloats(isum) * d)
                    acc = LaneMath.fusedMultiplyAdd(block, SIMD4(repeating: da), acc)
                }
            }
            let result = acc - accMin
            for i in 0..<count { out[i] = result[i] }
        }

        /// One row in the vec_dot order (see Q4_K.Reference.vecDot).
        static func vecDot(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
            var acc = SIMD8<Float>()
            var accMin = SIMD4<Float>()
            for b in 0..<blocks {
                let w = row + b * Q4_K.blockBytes
                let h = header(w)
                let a = act.planes + b * 256
                let sums = act.bsums + b * 16
                let da = act.d[b]
                var minLanes = SIMD4<Int32>()
                for i in 0..<4 {
                    minLanes[i] = byteOf(h.mins, 2 * i) &* (sums[4 * i] &+ sums[4 * i + 1])
                        &+ byteOf(h.mins, 2 * i + 1) &* (sums[4 * i + 2] &+ sums[4 * i + 3])
                }
                accMin = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(minLanes), SIMD4(repeating: -da * h.dmin), accMin)
                var lanes = SIMD8<Int32>()
                for j in 0..<8 {
                    let scale = byteOf(h.scales, j)
                    lanes &+= groupLanes(sub(w, j), a + j * 32, scale, scale)
                }
                let d = SIMD4(repeating: da * h.d)
                acc = SIMD8(lowHalf: LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(lanes.lowHalf), d, acc.lowHalf),
                            highHalf: LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(lanes.highHalf), d, acc.highHalf))
            }
            return LaneMath.horizontalSum(acc) + ((accMin[0] + accMin[2]) + (accMin[1] + accMin[3]))
        }
    }
}
