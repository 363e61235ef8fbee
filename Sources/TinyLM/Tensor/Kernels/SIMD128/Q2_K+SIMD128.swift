// Q2_K's SIMD128 kernels: vec_dot row by row; the repacked GEMV/GEMM and the tiled order with
// four rows advancing together.

extension Q2_K {
    enum SIMD128 {
        /// Group `index` (32 values, 0…3).
        @inline(__always)
        static func sub(_ block: UnsafeRawPointer, _ index: Int) -> Sub32 {
            let offset = 16 + (index >> 2) * 32
            let shift = UInt16((index & 3) * 2)
            let v0 = block.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt16>.self) &>> shift
            let v1 = block.loadUnaligned(fromByteOffset: offset + 16, as: SIMD8<UInt16>.self) &>> shift
            return Sub32(e0: unsafeBitCast(v0 & 0x0003, to: SIMD8<Int16>.self), o0: unsafeBitCast((v0 &>> 8) & 0x0003, to: SIMD8<Int16>.self),
                         e1: unsafeBitCast(v1 & 0x0003, to: SIMD8<Int16>.self), o1: unsafeBitCast((v1 &>> 8) & 0x0003, to: SIMD8<Int16>.self))
        }

        /// The sixteen scale bytes (low nibble: scale, high nibble: min), eight per word.
        @inline(__always)
        static func scaleWords(_ block: UnsafeRawPointer) -> (low: UInt64, high: UInt64) {
            (block.loadUnaligned(as: UInt64.self), block.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }

        /// The scaled vec_dot lanes of group `g`.
        @inline(__always)
        static func scaledLanes(_ w: UnsafeRawPointer, _ words: (low: UInt64, high: UInt64), _ g: Int, _ a: UnsafePointer<Int16>) -> SIMD8<Int32> {
            let word = g < 4 ? words.low : words.high
            return groupLanes(sub(w, g), a + 32 * g, byteOf(word, (g & 3) * 2) & 15, byteOf(word, (g & 3) * 2 + 1) & 15)
        }

        /// Σ min·T over the sixteen-value groups `groups` (T: their activation sums).
        @inline(__always)
        static func minSum(_ words: (low: UInt64, high: UInt64), _ sums: UnsafePointer<Int32>, _ groups: Range<Int>) -> Int32 {
            var total: Int32 = 0
            for c in groups { total &+= (byteOf(c < 8 ? words.low : words.high, c & 7) &>> 4) &* sums[c] }
            return total
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

        /// Up to four rows against one token in the GEMV, GEMM (per 128 values) or tiled order;
        /// missing rows repeat the first and are dropped.
        @inline(__always)
        static func dot4(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ count: Int, _ blocks: Int,
                         _ act: Q8Activations, _ order: SummationOrder, _ out: UnsafeMutablePointer<Float>) {
            let p1 = count > 1 ? rows + rowBytes : rows
            let p2 = count > 2 ? rows + 2 * rowBytes : rows
            let p3 = count > 3 ? rows + 3 * rowBytes : rows
            var acc = SIMD4<Float>(), accMin = SIMD4<Float>()
            for b in 0..<blocks {
                let offset = b * Q2_K.blockBytes
                let w0 = rows + offset, w1 = p1 + offset, w2 = p2 + offset, w3 = p3 + offset
                let s0 = scaleWords(w0), s1 = scaleWords(w1), s2 = scaleWords(w2), s3 = scaleWords(w3)
                let a = act.planes + b * 256
                let sums = act.bsums + b * 16
                let da = act.d[b]
                @inline(__always) func halves(_ offset: Int) -> SIMD4<Float> {
                    FP16.toFloat4(SIMD4(UInt32(w0.loadUnaligned(fromByteOffset: offset, as: UInt16.self)),
                                        UInt32(w1.loadUnaligned(fromByteOffset: offset, as: UInt16.self)),
                                        UInt32(w2.loadUnaligned(fromByteOffset: offset, as: UInt16.self)),
                                        UInt32(w3.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
                }
                let d = halves(80), dmin = halves(82)
                @inline(__always) func halfSum(_ w: UnsafeRawPointer, _ s: (low: UInt64, high: UInt64), _ half: Int) -> SIMD4<Int32> {
                    var lanes = SIMD8<Int32>()
                    for g in 4 * half ..< 4 * half + 4 { lanes &+= scaledLanes(w, s, g, a) }
                    return lanes.lowHalf &+ lanes.highHalf
                }
                @inline(__always) func halfMins(_ half: Int) -> SIMD4<Int32> {
                    let groups = 8 * half ..< 8 * half + 8
                    return SIMD4(minSum(s0, sums, groups), minSum(s1, sums, groups), minSum(s2, sums, groups), minSum(s3, sums, groups))
                }
                let isum0 = transposedSum(halfSum(w0, s0, 0), halfSum(w1, s1, 0), halfSum(w2, s2, 0), halfSum(w3, s3, 0))
                let isum1 = transposedSum(halfSum(w0, s0, 1), halfSum(w1, s1, 1), halfSum(w2, s2, 1), halfSum(w3, s3, 1))
                let msum0 = halfMins(0), msum1 = halfMins(1)
                let scale = d * da, minScale = dmin * da
                switch order {
                case .gemm:
                    acc = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(isum0), scale, acc)
                    accMin = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(msum0), minScale, accMin)
                    acc = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(isum1), scale, acc)
                    accMin = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(msum1), minScale, accMin)
                case .gemv:
                    acc = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(isum0 &+ isum1), scale, acc)
                    accMin = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(msum0 &+ msum1), minScale, accMin)
                default:
                    let block = LaneMath.fusedMultiplyAdd(-dmin, LaneMath.roundedFloats(msum0 &+ msum1),
                                                          LaneMath.roundedFloats(isum0 &+ isum1) * d)
                    acc = LaneMath.fusedMultiplyAdd(block, SIMD4(repeating: da), acc)
                }
            }
            let result = acc - accMin
            for i in 0..<count { out[i] = result[i] }
        }

        /// One row in the vec_dot order (see Q2_K.Reference.vecDot).
        static func vecDot(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
            var acc = SIMD8<Float>()
            for b in 0..<blocks {
                let w = row + b * Q2_K.blockBytes
                let s = scaleWords(w)
                let a = act.planes + b * 256
                let sums = act.bsums + b * 16
                let da = act.d[b]
                var mins = SIMD8<Int32>()
                for l in 0..<8 { mins[l] = minSum(s, sums, 2 * l ..< 2 * l + 2) }
                let minScale = SIMD4(repeating: -da * loadF16(w, 82))
                acc = SIMD8(lowHalf: LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(mins.lowHalf), minScale, acc.lowHalf),
                            highHalf: LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(mins.highHalf), minScale, acc.highHalf))
                var lanes = SIMD8<Int32>()
                for g in 0..<8 { lanes &+= scaledLanes(w, s, g, a) }
                let d = SIMD4(repeating: da * loadF16(w, 80))
                acc = SIMD8(lowHalf: LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(lanes.lowHalf), d, acc.lowHalf),
                            highHalf: LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(lanes.highHalf), d, acc.highHalf))
            }
            return LaneMath.horizontalSum(acc)
        }
    }
}
