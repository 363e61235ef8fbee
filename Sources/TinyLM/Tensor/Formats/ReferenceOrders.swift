// The scalar loops the formats' reference kernels share: llama.cpp's float orders
// (Kernels/SummationOrder.swift) written out element by element over the decoded integers,
// with no vectors. Each format's `Reference` (in its Formats/ file) names the orders it has;
// every other kernel of the table must give these results bit for bit (KernelTableTests).

/// A format of 32-value blocks: an f16 scale d at byte 0, for affine formats an f16 minimum m
/// at byte 2, and integer values q with value = d·q (+ m).
protocol Block32Format {
    static var blockBytes: Int { get }
    static var isAffine: Bool { get }
    /// The integer q of value `i` (0..<32) of a block.
    static func quant(_ block: UnsafeRawPointer, _ i: Int) -> Int32
}

/// A K-quant: super-blocks of 256 values in groups of `scaleGroup` values, each with an integer
/// scale (and, for formats with mins, an integer minimum), under the block's f16 d (and dmin):
/// value i = d·scale·quant − dmin·minimum.
protocol SuperBlockFormat {
    static var blockBytes: Int { get }
    /// Values per scale: 16 or 32.
    static var scaleGroup: Int { get }
    static var hasMins: Bool { get }
    /// Values per accumulator update of llama.cpp's repacked GEMM (Q4_K: 64, Q2_K: 128; only
    /// those two are repacked on x86).
    static var gemmSpan: Int { get }
    static func d(_ block: UnsafeRawPointer) -> Float
    static func dmin(_ block: UnsafeRawPointer) -> Float
    /// The integer value i (0..<256) multiplies its scale with (Q3_K: code − 4, Q6_K: q − 32).
    static func quant(_ block: UnsafeRawPointer, _ i: Int) -> Int32
    static func scale(_ block: UnsafeRawPointer, _ group: Int) -> Int32
    static func minimum(_ block: UnsafeRawPointer, _ group: Int) -> Int32
}

enum ReferenceOrders {
    /// A value of a Q8 activation block, by index in the row.
    @inline(__always)
    static func activation(_ a: Q8Activations, _ i: Int) -> Int32 { Int32(a.q8[i]) }

    // MARK: 32-value formats

    /// vec_dot (and tinyBLAS): per block, eight lanes, lane l = Σ of the products of values
    /// 4l…4l+3, acc[l] = fma(d_w·d_a, lane, acc[l]); the result is hsum8(acc), plus for affine
    /// formats Σ fma(m_w, s_a), accumulated apart.
    static func vecDot32<F: Block32Format>(_: F.Type, _ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations) -> Float {
        var acc = SIMD8<Float>()
        var minSum: Float = 0
        for b in 0..<blocks {
            let block = row + b * F.blockBytes
            let scale = loadF16(block, 0) * a.d[b]
            for l in 0..<8 {
                var lane: Int32 = 0
                for k in 0..<4 { lane += F.quant(block, 4 * l + k) * activation(a, 32 * b + 4 * l + k) }
                acc[l] = LaneMath.fusedMultiplyAdd(scale, LaneMath.roundedFloat(lane), acc[l])
            }
            if F.isAffine { minSum = LaneMath.fusedMultiplyAdd(loadF16(block, 2), a.s[b], minSum) }
        }
        return LaneMath.horizontalSum(acc) + minSum
    }

    /// The repacked GEMM and GEMV of Q4_0 (the same order): per block, the whole block's integer
    /// sum, acc = fma(sum, d_w·d_a, acc).
    static func blockwise32<F: Block32Format>(_: F.Type, _ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations) -> Float {
        var acc: Float = 0
        for b in 0..<blocks {
            let block = row + b * F.blockBytes
            var sum: Int32 = 0
            for i in 0..<32 { sum += F.quant(block, i) * activation(a, 32 * b + i) }
            acc = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloat(sum), loadF16(block, 0) * a.d[b], acc)
        }
        return acc
    }

    // MARK: K-quants

    /// Σ scale·Σ quant·a and Σ minimum·Σ a over values `values` of a super-block (whole groups).
    static func integerSums<F: SuperBlockFormat>(_: F.Type, _ block: UnsafeRawPointer, _ a: Q8Activations, blockIndex b: Int,
                                                 values: Range<Int>) -> (isum: Int32, msum: Int32) {
        var isum: Int32 = 0, msum: Int32 = 0
        var g = values.lowerBound / F.scaleGroup
        while g * F.scaleGroup < values.upperBound {
            var dot: Int32 = 0, sum: Int32 = 0
            for i in g * F.scaleGroup ..< (g + 1) * F.scaleGroup {
                dot += F.quant(block, i) * activation(a, 256 * b + i)
                sum += activation(a, 256 * b + i)
            }
            isum += F.scale(block, g) * dot
            msum += F.minimum(block, g) * sum
            g += 1
        }
        return (isum, msum)
    }

    /// Repacked GEMV: per super-block acc = fma(isum, d_w·d_a, acc) and
    /// accMin = fma(msum, dmin_w·d_a, accMin); the result is acc − accMin.
    static func gemv<F: SuperBlockFormat>(_: F.Type, _ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations) -> Float {
        repacked(F.self, row, blocks: blocks, a, span: 256)
    }

    /// Repacked GEMM: the same per `gemmSpan` values.
    static func gemm<F: SuperBlockFormat>(_: F.Type, _ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations) -> Float {
        repacked(F.self, row, blocks: blocks, a, span: F.gemmSpan)
    }

    static func repacked<F: SuperBlockFormat>(_: F.Type, _ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations, span: Int) -> Float {
        var acc: Float = 0, accMin: Float = 0
        for b in 0..<blocks {
            let block = row + b * F.blockBytes
            let scale = F.d(block) * a.d[b], minScale = F.dmin(block) * a.d[b]
            var start = 0
            while start < 256 {
                let s = integerSums(F.self, block, a, blockIndex: b, values: start ..< start + span)
                acc = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloat(s.isum), scale, acc)
                accMin = LaneMath.fusedMultiplyAdd(LaneMath.roundedFloat(s.msum), minScale, accMin)
                start += span
            }
        }
        return acc - accMin
    }

    /// The tiled matmul (AVX-512 VNNI micro-kernel): per super-block, block = isum·d_w, for
    /// formats with mins block = fma(−dmin_w, msum, block), then acc = fma(block, d_a, acc).
    static func tiled<F: SuperBlockFormat>(_: F.Type, _ row: UnsafeRawPointer, blocks: Int, _ a: Q8Activations) -> Float {
        var acc: Float = 0
        for b in 0..<blocks {
            let block = row + b * F.blockBytes
            let s = integerSums(F.self, block, a, blockIndex: b, values: 0..<256)
            var value = LaneMath.roundedFloat(s.isum) * F.d(block)
            if F.hasMins { value = LaneMath.fusedMultiplyAdd(-F.dmin(block), LaneMath.roundedFloat(s.msum), value) }
            acc = LaneMath.fusedMultiplyAdd(value, a.d[b], acc)
        }
        return acc
    }

    /// The eight vec_dot lanes of a super-block that all K-quant vec_dots share: lane l holds,
    /// for every 32-value group g, scale × the products of values 32g + 16(l/4) + 4(l mod 4) … + 3
    /// (the scale of those values: per 16 or per 32).
    static func vecDotLanes<F: SuperBlockFormat>(_: F.Type, _ block: UnsafeRawPointer, _ a: Q8Activations, blockIndex b: Int) -> SIMD8<Int32> {
        var lanes = SIMD8<Int32>()
        for g in 0..<8 {
            for l in 0..<8 {
                let first = 32 * g + 16 * (l / 4) + 4 * (l % 4)
                var dot: Int32 = 0
                for i in first ..< first + 4 { dot += F.quant(block, i) * activation(a, 256 * b + i) }
                lanes[l] += F.scale(block, first / F.scaleGroup) * dot
            }
        }
        return lanes
    }

    /// Σ over value group `group` (of `size` values) of the activations, from the Q8_K sums.
    @inline(__always)
    static func activationSum(_ a: Q8Activations, blockIndex b: Int, group: Int, size: Int) -> Int32 {
        var sum: Int32 = 0
        for j in 0 ..< size / 16 { sum += a.bsums[16 * b + group * size / 16 + j] }
        return sum
    }
}
