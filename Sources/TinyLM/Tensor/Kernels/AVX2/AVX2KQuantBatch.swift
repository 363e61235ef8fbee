// The AVX2 batch kernel of Q4_K (the repacked GEMM and GEMV orders, and the tiled order) and
// Q6_K (tiled). Per 32 values: vpmaddubsw (unsigned 4- or 6-bit quants times the signed
// activations, pairs summed in Int16: at most 2·63·127) and vpmaddwd by a vector of the per-16
// or per-32 scales gives eight exact Int32 lanes. The integer sums the orders need (per pair of
// sub-blocks or per super-block) are sums of those lanes, and the float steps are the scalar
// reference's (Int32 → Float is vcvtdq2ps, which rounds to nearest). Each group of four rows is
// unpacked once into bytes ready for vpmaddubsw (one vector per 32 values) and the matching
// scale vectors for vpmaddwd; every token then runs over the unpacked copy, which stays in L1.

#if TINYLM_X86_AVX2
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

enum AVX2KQuantBatch {
    static func multiply(_ job: KernelJob, rows: Range<Int>) {
        let weight = job.weight, batch = job.batch
        let blocks = weight.columns / 256
        let rowBytes = weight.rowBytes
        let isQ4_K = weight.type == .q4_K
        let blockBytes = isQ4_K ? Q4_K.blockBytes : Q6_K.blockBytes
        withUnsafeTemporaryAllocation(of: SIMD32<UInt8>.self, capacity: 32 * blocks) { quants in
        withUnsafeTemporaryAllocation(of: SIMD16<Int16>.self, capacity: 32 * blocks) { scales in
        // Q4_K: the four rows' mins, per block and sub-block (SIMD4, one lane per row).
        // Q6_K: each row's sixteen scales widened, per block (SIMD16), for the −32 offset.
        withUnsafeTemporaryAllocation(of: SIMD4<Int32>.self, capacity: 8 * blocks) { extra in
        withUnsafeTemporaryAllocation(of: SIMD4<Float>.self, capacity: 2 * blocks) { d in
            let extraBytes = UnsafeMutableRawPointer(extra.baseAddress!)
            var r = rows.lowerBound
            while r + 4 <= rows.upperBound {
                let group = weight.data + r * rowBytes
                for i in 0..<4 {
                    for b in 0..<blocks {
                        let w = group + i * rowBytes + b * blockBytes
                        let v = (i * blocks + b) * 8
                        if isQ4_K {
                            let s = Q4_K.AVX2.scales(w)
                            for pair in 0..<4 {
                                let x = w.loadUnaligned(fromByteOffset: 16 + 32 * pair, as: SIMD4<UInt64>.self)
                                quants[v + 2 * pair] = AVX2Lanes.bytes(x & AVX2Lanes.repeatedByte(0x0F))
                                quants[v + 2 * pair + 1] = AVX2Lanes.bytes((x &>> 4) & AVX2Lanes.repeatedByte(0x0F))
                                scales[v + 2 * pair] = AVX2Lanes.broadcastLanes(s.scales, 2 * pair, 2 * pair)
                                scales[v + 2 * pair + 1] = AVX2Lanes.broadcastLanes(s.scales, 2 * pair + 1, 2 * pair + 1)
                            }
                            for j in 0..<8 {
                                extraBytes.storeBytes(of: s.mins[j], toByteOffset: 4 * (4 * (8 * b + j) + i), as: Int32.self)
                            }
                        } else {
                            for half in 0..<2 {
                                let sv = Q6_K.AVX2.halfScales(w, half)
                                let q = Q6_K.AVX2.quants(w, half)
                                quants[v + 4 * half] = q.0
                                quants[v + 4 * half + 1] = q.1
                                quants[v + 4 * half + 2] = q.2
                                quants[v + 4 * half + 3] = q.3
                                for k in 0..<4 { scales[v + 4 * half + k] = AVX2Lanes.broadcastLanes(sv, 2 * k, 2 * k + 1) }
                            }
                            extraBytes.storeBytes(of: Q6_K.AVX2.wideScales(w), toByteOffset: 32 * (i * blocks + b), as: SIMD16<Int16>.self)
                        }
                    }
                }
                for b in 0..<blocks {
                    let w = group + b * blockBytes
                    if isQ4_K {
                        let words = headerWords4(w, rowBytes)
                        d[2 * b] = FP16.toFloat4(words & 0xFFFF)
                        d[2 * b + 1] = FP16.toFloat4(words &>> 16)
                    } else {
                        d[2 * b] = FP16.toFloat4(headerHalves4(w + 208, rowBytes))
                    }
                }
                let v0 = 0, v1 = 8 * blocks, v2 = 16 * blocks, v3 = 24 * blocks
                @inline(__always) func lanes(_ v: Int, _ y: SIMD32<Int8>) -> SIMD8<Int32> {
                    tinylm_madd_i16(tinylm_maddubs_u8i8(quants[v], y), scales[v])
                }
                for t in 0..<batch {
                    let path = job.order(ofToken: t)
                    let act = job.activations(t)
                    let q8 = UnsafeRawPointer(act.q8)
                    var acc = SIMD4<Float>(), accMin = SIMD4<Float>()
                    for b in 0..<blocks {
                        let a = q8 + 256 * b
                        let bsums = AVX2Lanes.narrowSums(act, b)
                        let da = act.d[b]
                        let o = 8 * b
                        /// The four rows' Int32 sums over the super-block's eight 32-byte groups,
                        /// the lanes starting from `start` (Q6_K's −32 offset).
                        @inline(__always) func superBlockSums(from start: (SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>))
                            -> SIMD4<Int32> {
                            var (l0, l1, l2, l3) = start
                            for j in 0..<8 {
                                let y = a.loadUnaligned(fromByteOffset: 32 * j, as: SIMD32<Int8>.self)
                                l0 &+= lanes(v0 + o + j, y)
                                l1 &+= lanes(v1 + o + j, y)
                                l2 &+= lanes(v2 + o + j, y)
                                l3 &+= lanes(v3 + o + j, y)
                            }
                            return AVX2Lanes.rowSums(l0, l1, l2, l3)
                        }
                        if isQ4_K {
                            let pairSums = tinylm_madd_i16(bsums, SIMD16(repeating: 1))
                            let mins = UnsafeRawPointer(extraBytes + 128 * b)
                            @inline(__always) func minPair(_ pair: Int) -> SIMD4<Int32> {
                                mins.loadUnaligned(fromByteOffset: 32 * pair, as: SIMD4<Int32>.self) &* pairSums[2 * pair]
                                    &+ mins.loadUnaligned(fromByteOffset: 32 * pair + 16, as: SIMD4<Int32>.self) &* pairSums[2 * pair + 1]
                            }
                            let scale = d[2 * b] * da, minScale = d[2 * b + 1] * da
                            if path == .gemm {
                                for pair in 0..<4 {
                                    let y0 = a.loadUnaligned(fromByteOffset: 64 * pair, as: SIMD32<Int8>.self)
                                    let y1 = a.loadUnaligned(fromByteOffset: 64 * pair + 32, as: SIMD32<Int8>.self)
                                    let j = o + 2 * pair
                                    let s = AVX2Lanes.rowSums(lanes(v0 + j, y0) &+ lanes(v0 + j + 1, y1), lanes(v1 + j, y0) &+ lanes(v1 + j + 1, y1),
                                                    lanes(v2 + j, y0) &+ lanes(v2 + j + 1, y1), lanes(v3 + j, y0) &+ lanes(v3 + j + 1, y1))
                                    acc = LaneMath.fusedMultiplyAdd(tinylm_float4_i32(s), scale, acc)
                                    accMin = LaneMath.fusedMultiplyAdd(tinylm_float4_i32(minPair(pair)), minScale, accMin)
                                }
                            } else {
                                let isum = superBlockSums(from: (SIMD8(), SIMD8(), SIMD8(), SIMD8()))
                                let msum = minPair(0) &+ minPair(1) &+ minPair(2) &+ minPair(3)
                                if path == .gemv {
                                    acc = LaneMath.fusedMultiplyAdd(tinylm_float4_i32(isum), scale, acc)
                                    accMin = LaneMath.fusedMultiplyAdd(tinylm_float4_i32(msum), minScale, accMin)
                                } else {
                                    let block = LaneMath.fusedMultiplyAdd(-d[2 * b + 1], tinylm_float4_i32(msum),
                                                                                       tinylm_float4_i32(isum) * d[2 * b])
                                    acc = LaneMath.fusedMultiplyAdd(block, SIMD4(repeating: da), acc)
                                }
                            }
                        } else {
                            @inline(__always) func offset(_ i: Int) -> SIMD8<Int32> {
                                let scales = UnsafeRawPointer(extraBytes).loadUnaligned(fromByteOffset: 32 * (i * blocks + b), as: SIMD16<Int16>.self)
                                return tinylm_madd_i16(scales, bsums) &<< 5
                            }
                            let zero = SIMD8<Int32>()
                            let isum = superBlockSums(from: (zero &- offset(0), zero &- offset(1), zero &- offset(2), zero &- offset(3)))
                            acc = LaneMath.fusedMultiplyAdd(tinylm_float4_i32(isum) * d[2 * b],
                                                                        SIMD4(repeating: da), acc)
                        }
                    }
                    let result = acc - accMin
                    let out = job.results(t, r)
                    for i in 0..<4 { out[i] = result[i] }
                }
                r += 4
            }
            // Leftover rows (fewer than four) take the SIMD128 kernels.
            if r < rows.upperBound {
                if isQ4_K { Q4_K.SIMD128.multiply(job, rows: r..<rows.upperBound) } else { Q6_K.SIMD128.multiply(job, rows: r..<rows.upperBound) }
            }
        }
        }
        }
        }
    }
}
#endif
