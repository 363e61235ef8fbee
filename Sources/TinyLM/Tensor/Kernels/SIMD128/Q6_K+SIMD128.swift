// Q6_K's SIMD128 kernels: vec_dot row by row, and the tiled order row by row with four tokens
// at a time (each weight group is unpacked once for four tokens).

extension Q6_K {
    enum SIMD128 {
        /// A block's d and its sixteen int8 scales, eight per word.
        struct Header {
            var d: Float
            var scalesLow: UInt64
            var scalesHigh: UInt64
        }

        @inline(__always)
        static func header(_ block: UnsafeRawPointer) -> Header {
            Header(d: loadF16(block, 208), scalesLow: block.loadUnaligned(fromByteOffset: 192, as: UInt64.self),
                   scalesHigh: block.loadUnaligned(fromByteOffset: 200, as: UInt64.self))
        }

        /// Group `index` (32 values) as the stored 6-bit q (0…63), before the −32 offset.
        @inline(__always)
        static func unsignedSub(_ block: UnsafeRawPointer, _ index: Int) -> Sub32 {
            let n = index >> 2, k = index & 3
            let qlOffset = n * 64 + (k & 1) * 32
            let nibbleShift = UInt16((k >> 1) * 4)
            let l0 = block.loadUnaligned(fromByteOffset: qlOffset, as: SIMD8<UInt16>.self) &>> nibbleShift
            let l1 = block.loadUnaligned(fromByteOffset: qlOffset + 16, as: SIMD8<UInt16>.self) &>> nibbleShift
            let highShift = UInt16(2 * k)
            let h0 = block.loadUnaligned(fromByteOffset: 128 + n * 32, as: SIMD8<UInt16>.self) &>> highShift
            let h1 = block.loadUnaligned(fromByteOffset: 128 + n * 32 + 16, as: SIMD8<UInt16>.self) &>> highShift
            // Bits 0-1 of each byte -> bits 4-5 of its lane.
            return Sub32(e0: lowNibblesE(l0) | unsafeBitCast((h0 & 0x0003) &<< 4, to: SIMD8<Int16>.self),
                         o0: lowNibblesO(l0) | unsafeBitCast((h0 & 0x0300) &>> 4, to: SIMD8<Int16>.self),
                         e1: lowNibblesE(l1) | unsafeBitCast((h1 & 0x0003) &<< 4, to: SIMD8<Int16>.self),
                         o1: lowNibblesO(l1) | unsafeBitCast((h1 & 0x0300) &>> 4, to: SIMD8<Int16>.self))
        }

        /// Group `index` as q − 32.
        @inline(__always)
        static func sub(_ block: UnsafeRawPointer, _ index: Int) -> Sub32 {
            let u = unsignedSub(block, index)
            return Sub32(e0: u.e0 &- 32, o0: u.o0 &- 32, e1: u.e1 &- 32, o1: u.o1 &- 32)
        }

        /// Σ scale·(q − 32)·a over group `index`, as four Int32 partial sums: |q−32|·|a| ≤ 32·127,
        /// so two products per lane fit Int16; widened per 16-value chunk, then scaled.
        @inline(__always)
        static func subDot(_ sub: Sub32, _ header: Header, _ index: Int, _ a: UnsafePointer<Int16>) -> SIMD4<Int32> {
            let word = index < 4 ? header.scalesLow : header.scalesHigh
            let s0 = signedByteOf(word, (index & 3) * 2)
            let s1 = signedByteOf(word, (index & 3) * 2 + 1)
            return widenPairs(chunkProducts(sub.e0, sub.o0, a, 0)) &* s0 &+ widenPairs(chunkProducts(sub.e1, sub.o1, a, 16)) &* s1
        }

        static func multiply(_ job: KernelJob, rows: Range<Int>) {
            if job.allTokens(take: .tiled) {
                multiplyTiled(job, rows: rows)
                return
            }
            let blocks = job.blocks
            SIMD128Block32.forEachGroup(job, rows: rows) { r, count, t in
                for i in 0..<count { job.results(t, r)[i] = vecDot(job.row(r + i), blocks, job.activations(t)) }
            }
        }

        /// Rows `rows` times every token in the tiled order: one exact integer sum per
        /// super-block and token. Row by row, four tokens at a time, so each weight group is
        /// unpacked once for four tokens (missing tokens repeat the first and are dropped).
        static func multiplyTiled(_ job: KernelJob, rows: Range<Int>) {
            let blocks = job.blocks
            for r in rows {
                let row = job.row(r)
                var t = 0
                while t < job.batch {
                    let count = Swift.min(4, job.batch - t)
                    let a0 = job.activations(t)
                    let a1 = job.activations(count > 1 ? t + 1 : t)
                    let a2 = job.activations(count > 2 ? t + 2 : t)
                    let a3 = job.activations(count > 3 ? t + 3 : t)
                    var acc = SIMD4<Float>()
                    for b in 0..<blocks {
                        let w = row + b * Q6_K.blockBytes
                        let h = header(w)
                        let o = b * 256
                        var i0 = SIMD4<Int32>(), i1 = SIMD4<Int32>(), i2 = SIMD4<Int32>(), i3 = SIMD4<Int32>()
                        for j in 0..<8 {
                            let u = sub(w, j)
                            i0 &+= subDot(u, h, j, a0.planes + o + j * 32)
                            i1 &+= subDot(u, h, j, a1.planes + o + j * 32)
                            i2 &+= subDot(u, h, j, a2.planes + o + j * 32)
                            i3 &+= subDot(u, h, j, a3.planes + o + j * 32)
                        }
                        let da = SIMD4(a0.d[b], a1.d[b], a2.d[b], a3.d[b])
                        acc = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(transposedSum(i0, i1, i2, i3)) * h.d, da, acc)
                    }
                    for k in 0..<count { job.results(t + k, r)[0] = acc[k] }
                    t += count
                }
            }
        }

        /// One row in the vec_dot order (see Q6_K.Reference.vecDot).
        static func vecDot(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
            var acc = SIMD8<Float>()
            for b in 0..<blocks {
                let w = row + b * Q6_K.blockBytes
                let a = act.planes + b * 256
                let scalesLow = w.loadUnaligned(fromByteOffset: 192, as: UInt64.self)
                let scalesHigh = w.loadUnaligned(fromByteOffset: 200, as: UInt64.self)
                // Lanes 0-3 hold values 0..<16 of each group (scale 2g), lanes 4-7 values 16..<32 (2g + 1).
                var lanes = SIMD8<Int32>()
                for g in 0..<8 {
                    let word = g < 4 ? scalesLow : scalesHigh
                    lanes &+= groupLanes(unsignedSub(w, g), a + g * 32, signedByteOf(word, (g & 3) * 2), signedByteOf(word, (g & 3) * 2 + 1))
                }
                // The −32 offset: lane l takes 32·(scale[2l]·T_2l + scale[2l+1]·T_2l+1).
                let sums = act.bsums + b * 16
                var offset = SIMD8<Int32>()
                for l in 0..<8 {
                    let word = l < 4 ? scalesLow : scalesHigh
                    offset[l] = (signedByteOf(word, (l & 3) * 2) &* sums[2 * l]
                        &+ signedByteOf(word, (l & 3) * 2 + 1) &* sums[2 * l + 1]) &<< 5
                }
                lanes &-= offset
                let d = SIMD4(repeating: act.d[b] * FP16.toFloat(w.loadUnaligned(fromByteOffset: 208, as: UInt16.self)))
                acc = SIMD8(lowHalf: LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(lanes.lowHalf), d, acc.lowHalf),
                            highHalf: LaneMath.fusedMultiplyAdd(LaneMath.roundedFloats(lanes.highHalf), d, acc.highHalf))
            }
            return LaneMath.horizontalSum(acc)
        }
    }
}
