// The AVX-512/VNNI kernels (x86-64 native builds, where the CPU has them): prompt batches of
// every format, the part of a prompt that llama.cpp's VNNI kernels make fastest. The rows are
// unpacked here with the AVX2 code (as the AVX2 batch kernels unpack them), and the loops over
// the tokens run in the TinyLMAVX512 module (Sources/TinyLMAVX512/), compiled for an AVX-512
// CPU: vpdpbusd does a 32-value block product in one instruction. Same integers and float
// steps as the AVX2 kernels, so the same bits. Single tokens keep the AVX2 kernels (decode is
// bound by memory, not by instructions).

#if canImport(TinyLMAVX512) && TINYLM_X86_AVX2
import TinyLMAVX512
import TinyLMIntrinsics

enum AVX512Kernels {
    /// Whether this CPU and OS run the module's instructions (checked once).
    static let available: Bool = tinylm_cpu_has_avx512_vnni() != 0

    /// A 32-value format: batches through the module, eight rows at a time; single tokens and
    /// leftover rows as the AVX2 kernel does.
    static func multiply<F: AVX2Block32Format>(_: F.Type, _ job: KernelJob, rows: Range<Int>, leftover: (Range<Int>) -> Void) {
        if job.batch < 2 {
            AVX2Block32.multiply(F.self, job, rows: rows, leftover: leftover)
            return
        }
        let blocks = job.blocks, rowBytes = job.rowBytes
        let first = job.activations(0)
        let blockwise = job.order(ofToken: 0) != .vecDot
        withUnsafeTemporaryAllocation(of: SIMD8<Int32>.self, capacity: 16 * blocks) { unpacked in
            withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 2 * blocks) { scales in
                var r = rows.lowerBound
                while r + 8 <= rows.upperBound {
                    unpack8(F.self, job.row(r), rowBytes, blocks, unpacked.baseAddress!, scales.baseAddress!)
                    if r + 16 <= rows.upperBound { AVX2Lanes.prefetch(job.row(r + 8), bytes: 8 * rowBytes) }
                    AVX512Block32.multiply(unpacked: unpacked.baseAddress!, scales: scales.baseAddress!, blocks: blocks,
                                           affine: F.isAffine, blockwise: blockwise, tokens: job.batch,
                                           q8Biased: job.scratch.q8Biased + job.scratchToken * job.scratch.columnStride,
                                           q8Stride: job.scratch.columnStride, d: first.d, s: first.s,
                                           blockStride: job.scratch.blockStride, out: job.results(0, r), outStride: job.outputStride)
                    r += 8
                }
                if r < rows.upperBound { AVX2Block32.multiplyBatch(F.self, job, rows: r..<rows.upperBound, leftover: leftover) }
            }
        }
    }

    /// Eight rows' blocks into the module's layout (AVX512Block32.multiply): per block b at
    /// 16b, for vec_dot lane l at l the rows' four weight values (lane i: row i's), at 8 + l
    /// −128·their sum; the rows' d at scales[2b] and m at scales[2b + 1].
    @inline(__always)
    static func unpack8<F: AVX2Block32Format>(_: F.Type, _ group: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int,
                                              _ unpacked: UnsafeMutablePointer<SIMD8<Int32>>, _ scales: UnsafeMutablePointer<SIMD8<Float>>) {
        withUnsafeTemporaryAllocation(of: SIMD8<Int32>.self, capacity: 16) { rowVectors in
            let values = rowVectors.baseAddress!, sums = values + 8
            for b in 0..<blocks {
                let w = group + b * F.blockBytes
                for i in 0..<8 {
                    let v = F.values(w + i * rowBytes)
                    values[i] = unsafeBitCast(v, to: SIMD8<Int32>.self)
                    let laneSums = tinylm_madd_i16(tinylm_maddubs_u8i8(SIMD32(repeating: 1), v), SIMD16(repeating: 1))
                    sums[i] = SIMD8() &- (laneSums &<< 7)
                }
                AVX2SuperBlock.transpose(values, stride: 1, into: unpacked + 16 * b)
                AVX2SuperBlock.transpose(sums, stride: 1, into: unpacked + 16 * b + 8)
                scales[2 * b] = SIMD8(lowHalf: FP16.toFloat4(headerHalves4(w, rowBytes)), highHalf: FP16.toFloat4(headerHalves4(w + 4 * rowBytes, rowBytes)))
                if F.isAffine {
                    scales[2 * b + 1] = SIMD8(lowHalf: FP16.toFloat4(headerHalves4(w + 2, rowBytes)),
                                              highHalf: FP16.toFloat4(headerHalves4(w + 2 + 4 * rowBytes, rowBytes)))
                }
            }
        }
    }

    /// A K-quant: batches in the GEMM, GEMV or tiled order through the module, eight rows at a
    /// time; the rest as the AVX2 kernel does.
    static func multiply<F: AVX2SuperBlockFormat>(_: F.Type, _ format: AVX512SuperBlock.Format, _ job: KernelJob, rows: Range<Int>,
                                                  fallback: (KernelJob, Range<Int>) -> Void) {
        if job.batch < 2 || job.order(ofToken: 0) == .vecDot {
            AVX2SuperBlock.multiply(F.self, job, rows: rows, fallback: fallback)
            return
        }
        let blocks = job.blocks, rowBytes = job.rowBytes
        let first = job.activations(0)
        var gemmTokens = 0
        while gemmTokens < job.batch && job.order(ofToken: gemmTokens) == .gemm { gemmTokens += 1 }
        let tiled = job.order(ofToken: job.batch - 1) == .tiled
        withUnsafeTemporaryAllocation(of: SIMD8<Int32>.self, capacity: 96 * blocks) { unpacked in
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 2 * blocks) { d in
        withUnsafeTemporaryAllocation(of: SIMD32<UInt8>.self, capacity: 64) { rowCodes in
            var r = rows.lowerBound
            while r + 8 <= rows.upperBound {
                AVX2SuperBlock.unpack8(F.self, job.row(r), rowBytes, blocks, unpacked.baseAddress!, d.baseAddress!, rowCodes.baseAddress!,
                                       int32Scales: true)
                if r + 16 <= rows.upperBound { AVX2Lanes.prefetch(job.row(r + 8), bytes: 8 * rowBytes) }
                AVX512SuperBlock.multiply(format, unpacked: unpacked.baseAddress!, d: d.baseAddress!, blocks: blocks,
                                          gemmTokens: gemmTokens, tiled: tiled, tokens: job.batch,
                                          q8: first.q8, q8Stride: job.scratch.columnStride, da: first.d, bsums: first.bsums,
                                          blockStride: job.scratch.blockStride, out: job.results(0, r), outStride: job.outputStride)
                r += 8
            }
            if r < rows.upperBound { fallback(job, r..<rows.upperBound) }
        }
        }
        }
    }
}
#endif
