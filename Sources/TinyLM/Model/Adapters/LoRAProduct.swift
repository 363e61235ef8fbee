#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

/// The dot products of a LoRA term (t = A·x, then B·t) for float adapter tensors, summed the
/// way llama.cpp's CPU backend sums a ggml_mul_mat of a float weight on x86 with AVX-512 (the
/// reference build), so that the adapter's contribution is its bit for bit:
///
/// - the activations are first converted to the weight's type (F16 → f16, BF16 → bf16; F32
///   stays), as ggml does for the weight's vec_dot_type;
/// - a batch of two or more tokens goes to tinyBLAS (llamafile_sgemm) when the row length k
///   is a multiple of 16 and the row count a multiple of 4: each output is one 16-lane
///   accumulator of fused multiply-adds over k/16 steps, reduced as _mm512_reduce_add_ps;
/// - otherwise (one token, or shapes tinyBLAS refuses, e.g. B's rows of rank 8)
///   ggml_vec_dot_*: four 16-lane accumulators over steps of 64, reduced (0+2, 1+3, 0+1, then
///   across lanes), and the k mod 64 remaining products added one by one — in double for
///   f16/bf16, with fused multiply-adds in float for f32.
///
/// That last, serial sum is all of a B row when the rank is under 64, so B's rows are taken
/// eight at a time, one per vector lane, each lane adding its products in ggml's order: from
/// the adapter's block layout (LoRALayout, `addByBlocks`), or in place after an 8 × 8
/// transposition where there is none (`HalfWidthElement.eightShortDots`).
///
/// Products of two f16 (or bf16) values are exact in Float, so a fused multiply-add is an
/// add there, in wasm too. F32 adapters need true FMAs: natively the hardware's; wasm forms
/// them in Double (rarely a double rounding away). BF16 adapters are summed in the same order,
/// but the reference machine has AVX512-BF16, whose dot instruction ggml uses instead: close,
/// not identical. Q8_0 adapters go through `MatrixMultiply` (llama.cpp's order already).
enum LoRAProduct {
    static func supports(_ type: TensorType) -> Bool {
        type == .f32 || type == .f16 || type == .bf16 || type == .q8_0
    }

    /// Whether `products` handles `type` (else `MatrixMultiply` does).
    static func isFloat(_ type: TensorType) -> Bool { type == .f32 || type == .f16 || type == .bf16 }

    enum Order {
        /// ggml_vec_dot_f16 / _bf16 / _f32.
        case vectorDot
        /// tinyBLAS.
        case tiled
    }

    /// The kernel llama.cpp picks for a mul_mat of a `rows` × `columns` float weight by
    /// `batch` tokens.
    static func order(rows: Int, columns: Int, batch: Int) -> Order {
        batch >= 2 && columns % 16 == 0 && rows % 4 == 0 ? .tiled : .vectorDot
    }

    /// `count` activations converted as ggml converts them for a `type` weight.
    static func round(_ x: UnsafePointer<Float>, count: Int, for type: TensorType, into out: UnsafeMutablePointer<Float>) {
        switch type {
        case .f16:
            var i = 0
            while i + 8 <= count {
                let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                #if TINYLM_HARDWARE_F16
                let rounded = FP16.round8(v)
                #else
                let rounded = SIMD8(lowHalf: FP16.round4(v.lowHalf), highHalf: FP16.round4(v.highHalf))
                #endif
                UnsafeMutableRawPointer(out + i).storeBytes(of: rounded, as: SIMD8<Float>.self)
                i += 8
            }
            while i < count {
                out[i] = FP16.round(x[i])
                i += 1
            }
        case .bf16:
            for i in 0..<count { out[i] = BF16.round(x[i]) }
        default:
            if UnsafePointer(out) != x { out.update(from: x, count: count) }
        }
    }

    /// For `rowCount` rows of a `type` matrix starting at `rows`, `rowBytes` apart, and `x`
    /// already converted (`round`): out[r] = Σ_c row_r[c]·x[c], or with a `factor`
    /// out[r] = out[r] + (Σ…)·factor (ggml_scale, then ggml_add: two roundings, never fused).
    static func products(_ type: TensorType, rows: UnsafeRawPointer, rowBytes: Int, rowCount: Int,
                         x: UnsafePointer<Float>, count: Int, order: Order, factor: Float?,
                         into out: UnsafeMutablePointer<Float>) {
        switch type {
        case .f16: products(HalfElement.self, rows, rowBytes, rowCount, x, count, order, factor, out)
        case .bf16: products(BrainHalfElement.self, rows, rowBytes, rowCount, x, count, order, factor, out)
        default: products(FloatElement.self, rows, rowBytes, rowCount, x, count, order, factor, out)
        }
    }

    // Not inlined: compiled once per element type, its loops keep their accumulators in whole
    // vector registers.
    @inline(never)
    static func products<E: LoRAElement>(_: E.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ rowCount: Int,
                                         _ x: UnsafePointer<Float>, _ count: Int, _ order: Order, _ factor: Float?,
                                         _ out: UnsafeMutablePointer<Float>) {
        @inline(__always) func store(_ r: Int, _ sum: Float) {
            if let factor { out[r] = out[r] + sum * factor } else { out[r] = sum }
        }
        var r = 0
        if order == .tiled {
            // Four rows at once: each keeps its own single accumulator chain (tinyBLAS's order),
            // and the four chains overlap.
            while r + 4 <= rowCount {
                let row = rows + r * rowBytes
                var s0 = Lanes16(), s1 = Lanes16(), s2 = Lanes16(), s3 = Lanes16()
                var l = 0
                while l < count {
                    s0.add(E.self, row, x, l)
                    s1.add(E.self, row + rowBytes, x, l)
                    s2.add(E.self, row + 2 * rowBytes, x, l)
                    s3.add(E.self, row + 3 * rowBytes, x, l)
                    l += 16
                }
                store(r, s0.sum); store(r + 1, s1.sum); store(r + 2, s2.sum); store(r + 3, s3.sum)
                r += 4
            }
        }
        if order == .vectorDot && count >= 64 {
            vectorDots(E.self, rows, rowBytes, rowCount, x, count, factor, out)
            return
        }
        if order == .vectorDot && count < 64 {
            while r + 8 <= rowCount {
                let sums = E.eightShortDots(rows + r * rowBytes, stride: rowBytes, x, count: count)
                let target = UnsafeMutableRawPointer(out + r)
                if let factor {
                    let y = target.loadUnaligned(as: SIMD8<Float>.self)
                    target.storeBytes(of: y + sums * factor, as: SIMD8<Float>.self)
                } else {
                    target.storeBytes(of: sums, as: SIMD8<Float>.self)
                }
                r += 8
            }
        }
        while r < rowCount {
            store(r, dot(E.self, rows + r * rowBytes, x, count: count, order: order))
            r += 1
        }
    }

    /// `addByBlocks` for blocks made from a `type` B in `form` (LoRALayout: 16-bit as stored,
    /// widened to f32, or packed: `PackedHalfElement.addByBlocks`).
    static func addByBlocks(_ type: TensorType, form: LoRALayout.HalfForm, _ blocks: UnsafeRawPointer, blockBytes: Int,
                            rows: Range<Int>, rank: Int, _ t: UnsafePointer<Float>, factor: Float,
                            into out: UnsafeMutablePointer<Float>) {
        if form == .packed {
            PackedHalfElement.addByBlocks(blocks, blockBytes: blockBytes, rows: rows, rank: rank, t, factor: factor, into: out)
        } else if form == .widened {
            addByBlocks(FloatElement.self, blocks, blockBytes: blockBytes, rows: rows, rank: rank, t, factor: factor, into: out)
        } else if type == .f16 {
            addByBlocks(HalfElement.self, blocks, blockBytes: blockBytes, rows: rows, rank: rank, t, factor: factor, into: out)
        } else {
            addByBlocks(BrainHalfElement.self, blocks, blockBytes: blockBytes, rows: rows, rank: rank, t, factor: factor, into: out)
        }
    }

    /// A decode step's B product from B's blocks (LoRALayout): for the rows in `rows`,
    /// out[r] = out[r] + (Σ_c B[r][c]·t[c])·factor, each row's sum ggml_vec_dot's serial tail
    /// (`rank` < 64: products in float, added in double from c = 0 on, rounded once). Two
    /// to four blocks at a time, so independent chains of double additions overlap (two in wasm,
    /// whose engines keep 16 vector registers: four blocks' 16 double-pair sums spilled).
    @inline(never)
    static func addByBlocks<E: LoRAElement>(_: E.Type, _ blocks: UnsafeRawPointer, blockBytes: Int, rows: Range<Int>,
                                            rank: Int, _ t: UnsafePointer<Float>, factor: Float,
                                            into out: UnsafeMutablePointer<Float>) {
        @inline(__always) func add(_ sums: SIMD8<Float>, _ r: Int) {
            let y = UnsafeMutableRawPointer(out + r)
            y.storeBytes(of: y.loadUnaligned(as: SIMD8<Float>.self) + sums * factor, as: SIMD8<Float>.self)
        }
        var r = rows.lowerBound
        #if arch(wasm32)
        let fourBlocksAtOnce = false
        #else
        let fourBlocksAtOnce = true
        #endif
        while fourBlocksAtOnce && r & 7 == 0 && r + 32 <= rows.upperBound {
            var s0 = DoubleLanes8(), s1 = DoubleLanes8(), s2 = DoubleLanes8(), s3 = DoubleLanes8()
            let b0 = blocks + (r / 8) * blockBytes, b1 = b0 + blockBytes, b2 = b1 + blockBytes, b3 = b2 + blockBytes
            for c in 0..<rank {
                let tc = SIMD8(repeating: t[c])
                s0.add(E.load8(b0, c * 8) * tc)
                s1.add(E.load8(b1, c * 8) * tc)
                s2.add(E.load8(b2, c * 8) * tc)
                s3.add(E.load8(b3, c * 8) * tc)
            }
            add(s0.rounded, r)
            add(s1.rounded, r + 8)
            add(s2.rounded, r + 16)
            add(s3.rounded, r + 24)
            r += 32
        }
        addBlocks(ElementBlockSums<E>.self, blocks, blockBytes: blockBytes, rows: r..<rows.upperBound, rank: rank, t,
                  factor: factor, into: out)
    }

    /// The step of `addByBlocks` that every block form shares: for the rows in `rows`,
    /// out[r] = out[r] + sum_r·factor, two whole blocks at a time where they fit, else one; a
    /// block the range starts or ends inside adds only its rows in the range (its lanes past
    /// the matrix are zeros). (Generic rather than given closures: natively the closures'
    /// loops stayed calls.)
    @inline(__always)
    static func addBlocks<S: LoRABlockSums>(_: S.Type, _ blocks: UnsafeRawPointer, blockBytes: Int, rows: Range<Int>, rank: Int,
                                            _ t: UnsafePointer<Float>, factor: Float, into out: UnsafeMutablePointer<Float>) {
        @inline(__always) func add(_ sums: SIMD8<Float>, _ r: Int) {
            let y = UnsafeMutableRawPointer(out + r)
            y.storeBytes(of: y.loadUnaligned(as: SIMD8<Float>.self) + sums * factor, as: SIMD8<Float>.self)
        }
        var r = rows.lowerBound
        while r < rows.upperBound {
            let first = r & ~7
            let block = blocks + (first / 8) * blockBytes
            if r == first && r + 16 <= rows.upperBound {
                let (low, high) = S.pair(block, blockBytes: blockBytes, rank: rank, t)
                add(low, r)
                add(high, r + 8)
                r += 16
                continue
            }
            let sums = S.single(block, rank: rank, t)
            if r == first && r + 8 <= rows.upperBound {
                add(sums, r)
                r += 8
                continue
            }
            let end = Swift.min(first + 8, rows.upperBound)
            while r < end {
                out[r] = out[r] + sums[r - first] * factor
                r += 1
            }
        }
    }

    /// `products` in the vector-dot order for rows of 64 or more (A's, in a decode step): the
    /// same sums as `dot`, in a loop of its own with its eight 8-lane accumulators named, so
    /// they stay in registers (inlined into `products`, they were spilled to the stack).
    @inline(never)
    static func vectorDots<E: LoRAElement>(_: E.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ rowCount: Int,
                                           _ x: UnsafePointer<Float>, _ count: Int, _ factor: Float?,
                                           _ out: UnsafeMutablePointer<Float>) {
        let whole = count & ~63
        for r in 0..<rowCount {
            let row = rows + r * rowBytes
            var first = Lanes32(), second = Lanes32()
            var i = 0
            while i < whole {
                first.add(E.self, row, x, i)
                second.add(E.self, row, x, i + 32)
                i += 64
            }
            let sum = E.addRemainder(Lanes32.sum(first, second), row, x, from: whole, to: count)
            if let factor { out[r] = out[r] + sum * factor } else { out[r] = sum }
        }
    }

    /// `vectorDots` with half the accumulators live at a time: lanes 0–31 of ggml's four 16-lane
    /// sums over the whole row, then lanes 32–63 (each lane's sum is its own, so the order is
    /// the same). For wasm, whose engines have 16 vector registers: eight 8-lane accumulators
    /// are all 16, and spilled.
    @inline(never)
    static func vectorDotsInTwoPasses<E: LoRAElement>(_: E.Type, _ rows: UnsafeRawPointer, _ rowBytes: Int, _ rowCount: Int,
                                                      _ x: UnsafePointer<Float>, _ count: Int, into out: UnsafeMutablePointer<Float>) {
        let whole = count & ~63
        for r in 0..<rowCount {
            let row = rows + r * rowBytes
            @inline(__always) func half(_ first: Int) -> Lanes32 {
                var lanes = Lanes32()
                var i = first
                while i < whole {
                    lanes.add(E.self, row, x, i)
                    i += 64
                }
                return lanes
            }
            let first = half(0)
            let second = half(32)
            out[r] = E.addRemainder(Lanes32.sum(first, second), row, x, from: whole, to: count)
        }
    }

    /// Σ_c row[c]·x[c] in `order`.
    @inline(__always)
    static func dot<E: LoRAElement>(_: E.Type, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int, order: Order) -> Float {
        if order == .tiled {
            var acc = Lanes16()
            var l = 0
            while l < count {
                acc.add(E.self, row, x, l)
                l += 16
            }
            return acc.sum
        }
        var i = 0
        var head: Float = 0
        if count >= 64 {
            var s0 = Lanes16(), s1 = Lanes16(), s2 = Lanes16(), s3 = Lanes16()
            while i + 64 <= count {
                s0.add(E.self, row, x, i)
                s1.add(E.self, row, x, i + 16)
                s2.add(E.self, row, x, i + 32)
                s3.add(E.self, row, x, i + 48)
                i += 64
            }
            s0 += s2
            s1 += s3
            s0 += s1
            head = s0.sum
        }
        return E.addRemainder(head, row, x, from: i, to: count)
    }

    /// A 16-lane accumulator (one AVX-512 register in ggml) as two 8-lane halves, which
    /// compile to whole registers natively (AVX2) and to v128 pairs in wasm.
    struct Lanes16 {
        var low = SIMD8<Float>(), high = SIMD8<Float>()

        @inline(__always)
        mutating func add<E: LoRAElement>(_: E.Type, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ i: Int) {
            let xs = UnsafeRawPointer(x + i)
            low = E.multiplyAdd(E.load8(row, i), xs.loadUnaligned(as: SIMD8<Float>.self), low)
            high = E.multiplyAdd(E.load8(row, i + 8), xs.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self), high)
        }

        @inline(__always)
        static func += (a: inout Lanes16, b: Lanes16) {
            a.low += b.low
            a.high += b.high
        }

        /// _mm512_reduce_add_ps: halves of 8, of 4, then lanes (0+2) + (1+3).
        @inline(__always)
        var sum: Float {
            let a = high + low
            let b = a.highHalf + a.lowHalf
            return (b[0] + b[2]) + (b[1] + b[3])
        }
    }

    /// Half of ggml_vec_dot's 64 lanes per step as four 8-lane accumulators: lanes 0–31 of a
    /// row's steps of 64 (`first`) or lanes 32–63 (`second`), each lane its own sum, so they
    /// may be run in one loop or in two (`vectorDots`, `vectorDotsInTwoPasses`).
    struct Lanes32 {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()

        /// Adds the products of row values i ..< i + 32 with x's.
        @inline(__always)
        mutating func add<E: LoRAElement>(_: E.Type, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ i: Int) {
            let xs = UnsafeRawPointer(x + i)
            a0 = E.multiplyAdd(E.load8(row, i), xs.loadUnaligned(as: SIMD8<Float>.self), a0)
            a1 = E.multiplyAdd(E.load8(row, i + 8), xs.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self), a1)
            a2 = E.multiplyAdd(E.load8(row, i + 16), xs.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), a2)
            a3 = E.multiplyAdd(E.load8(row, i + 24), xs.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self), a3)
        }

        /// ggml's four 16-lane sums are (first.a0, first.a1) … (second.a2, second.a3), reduced
        /// 0+2, 1+3, 0+1, then across lanes (Lanes16.sum).
        @inline(__always)
        static func sum(_ first: Lanes32, _ second: Lanes32) -> Float {
            var s = Lanes16(low: first.a0 + second.a0, high: first.a1 + second.a1)
            s += Lanes16(low: first.a2 + second.a2, high: first.a3 + second.a3)
            return s.sum
        }
    }
}

/// How one adapter tensor type loads and multiplies (generic, so each type's loop is
/// specialized).
protocol LoRAElement {
    static func load8(_ row: UnsafeRawPointer, _ index: Int) -> SIMD8<Float>
    static func load1(_ row: UnsafeRawPointer, _ index: Int) -> Float
    static func multiplyAdd(_ w: SIMD8<Float>, _ x: SIMD8<Float>, _ acc: SIMD8<Float>) -> SIMD8<Float>
    /// vec_dot's tail: the products from `start` on added to `head`.
    static func addRemainder(_ head: Float, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, from start: Int, to count: Int) -> Float
    /// The vector-dot sums of eight rows `stride` bytes apart, `count` < 64 (all tail).
    static func eightShortDots(_ row: UnsafeRawPointer, stride: Int, _ x: UnsafePointer<Float>, count: Int) -> SIMD8<Float>
}

/// F16 or BF16 values, as stored or widened to f32: their products with converted activations
/// are exact in Float, so a multiply-add is a plain add, and ggml adds vec_dot's tail in double
/// (ggml_float sumf = head; sumf += (double)(w·x)…).
protocol ExactProductElement: LoRAElement {}

extension ExactProductElement {
    @inline(__always)
    static func multiplyAdd(_ w: SIMD8<Float>, _ x: SIMD8<Float>, _ acc: SIMD8<Float>) -> SIMD8<Float> { acc + w * x }

    @inline(__always)
    static func addRemainder(_ head: Float, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, from start: Int, to count: Int) -> Float {
        var sum = Double(head)
        for i in start..<count { sum += Double(load1(row, i) * x[i]) }
        return Float(sum)
    }
}

/// F16 and BF16 as stored: 16-bit values widened as they are loaded.
protocol HalfWidthElement: ExactProductElement {
    static func widen8(_ bits: SIMD8<UInt16>) -> SIMD8<Float>
    static func widen1(_ bits: UInt16) -> Float
}

extension HalfWidthElement {
    @inline(__always)
    static func load8(_ row: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        widen8(row.loadUnaligned(fromByteOffset: index * 2, as: SIMD8<UInt16>.self))
    }

    @inline(__always)
    static func load1(_ row: UnsafeRawPointer, _ index: Int) -> Float {
        widen1(row.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
    }

    /// Eight rows side by side: each 8 × 8 block of their raw 16-bit values is transposed, so
    /// that one vector holds column c of all eight rows, and lane r adds row r's products in
    /// column order, in double, exactly as `addRemainder` does for one row.
    @inline(__always)
    static func eightShortDots(_ row: UnsafeRawPointer, stride: Int, _ x: UnsafePointer<Float>, count: Int) -> SIMD8<Float> {
        var sum = DoubleLanes8()
        @inline(__always) func add(_ column: SIMD8<UInt16>, _ c: Int) { sum.add(widen8(column) * SIMD8(repeating: x[c])) }
        var c = 0
        while c + 8 <= count {
            @inline(__always) func bits(_ r: Int) -> SIMD8<UInt16> { row.loadUnaligned(fromByteOffset: r * stride + c * 2, as: SIMD8<UInt16>.self) }
            let columns = transposed8x8(bits(0), bits(1), bits(2), bits(3), bits(4), bits(5), bits(6), bits(7))
            add(columns.0, c); add(columns.1, c + 1); add(columns.2, c + 2); add(columns.3, c + 3)
            add(columns.4, c + 4); add(columns.5, c + 5); add(columns.6, c + 6); add(columns.7, c + 7)
            c += 8
        }
        while c < count {
            @inline(__always) func at(_ r: Int) -> UInt16 { row.loadUnaligned(fromByteOffset: r * stride + c * 2, as: UInt16.self) }
            add(SIMD8(at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7)), c)
            c += 1
        }
        return sum.rounded
    }
}

/// One block form's row sums (LoRALayout) for `LoRAProduct.addBlocks`: Σ_c B[r][c]·t[c] for a
/// block's eight rows, added in double from c = 0 on and rounded once.
protocol LoRABlockSums {
    /// The block at `block` and the next one (`blockBytes` on), their chains interleaved.
    static func pair(_ block: UnsafeRawPointer, blockBytes: Int, rank: Int, _ t: UnsafePointer<Float>) -> (SIMD8<Float>, SIMD8<Float>)
    static func single(_ block: UnsafeRawPointer, rank: Int, _ t: UnsafePointer<Float>) -> SIMD8<Float>
}

/// Blocks of an element type's values (each column's eight in row order).
enum ElementBlockSums<E: LoRAElement>: LoRABlockSums {
    @inline(__always)
    static func pair(_ block: UnsafeRawPointer, blockBytes: Int, rank: Int, _ t: UnsafePointer<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
        var low = DoubleLanes8(), high = DoubleLanes8()
        let next = block + blockBytes
        for c in 0..<rank {
            let tc = SIMD8(repeating: t[c])
            low.add(E.load8(block, c * 8) * tc)
            high.add(E.load8(next, c * 8) * tc)
        }
        return (low.rounded, high.rounded)
    }

    @inline(__always)
    static func single(_ block: UnsafeRawPointer, rank: Int, _ t: UnsafePointer<Float>) -> SIMD8<Float> {
        var sum = DoubleLanes8()
        for c in 0..<rank { sum.add(E.load8(block, c * 8) * SIMD8(repeating: t[c])) }
        return sum.rounded
    }
}

/// Eight double sums, each lane adding its own products in turn.
struct DoubleLanes8 {
    #if TINYLM_X86_AVX2
    var low = SIMD4<Double>(), high = SIMD4<Double>()

    @inline(__always)
    mutating func add(_ p: SIMD8<Float>) {
        low += tinylm_f32x4_to_f64(p.lowHalf)
        high += tinylm_f32x4_to_f64(p.highHalf)
    }

    @inline(__always)
    var rounded: SIMD8<Float> { SIMD8(lowHalf: tinylm_f64x4_to_f32(low), highHalf: tinylm_f64x4_to_f32(high)) }
    #elseif arch(wasm32)
    var l0 = SIMD2<Double>(), l1 = SIMD2<Double>(), l2 = SIMD2<Double>(), l3 = SIMD2<Double>()

    @inline(__always)
    mutating func add(_ p: SIMD8<Float>) {
        l0 += tinylm_promote_low_f32(p.lowHalf)
        l1 += tinylm_promote_high_f32(p.lowHalf)
        l2 += tinylm_promote_low_f32(p.highHalf)
        l3 += tinylm_promote_high_f32(p.highHalf)
    }

    @inline(__always)
    var rounded: SIMD8<Float> { SIMD8(lowHalf: tinylm_demote_f64(l0, l1), highHalf: tinylm_demote_f64(l2, l3)) }
    #else
    var lanes = SIMD8<Double>()

    @inline(__always)
    mutating func add(_ p: SIMD8<Float>) { lanes += SIMD8<Double>(p) }

    @inline(__always)
    var rounded: SIMD8<Float> { SIMD8<Float>(lanes) }
    #endif
}

enum HalfElement: HalfWidthElement {
    @inline(__always)
    static func widen8(_ bits: SIMD8<UInt16>) -> SIMD8<Float> {
        #if TINYLM_X86_AVX2
        return tinylm_f16x8_to_f32(bits)
        #else
        return FP16.toFloat8(bits)
        #endif
    }
    @inline(__always)
    static func widen1(_ bits: UInt16) -> Float { FP16.toFloat(bits) }
}

enum BrainHalfElement: HalfWidthElement {
    @inline(__always)
    static func widen8(_ bits: SIMD8<UInt16>) -> SIMD8<Float> {
        unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: bits) &<< 16, to: SIMD8<Float>.self)
    }
    @inline(__always)
    static func widen1(_ bits: UInt16) -> Float { BF16.toFloat(bits) }
}

/// F16 or BF16 values widened to f32 at load (LoRALayout): loaded as floats, summed as the
/// 16-bit types are (ExactProductElement).
enum WidenedHalfElement: ExactProductElement {
    @inline(__always)
    static func load8(_ row: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> { FloatElement.load8(row, index) }
    @inline(__always)
    static func load1(_ row: UnsafeRawPointer, _ index: Int) -> Float { FloatElement.load1(row, index) }
    /// Row by row: only A's rows are widened, and they are shorter than 64 only in tiny models.
    @inline(__always)
    static func eightShortDots(_ row: UnsafeRawPointer, stride: Int, _ x: UnsafePointer<Float>, count: Int) -> SIMD8<Float> {
        var sums = SIMD8<Float>()
        for r in 0..<8 { sums[r] = addRemainder(0, row + r * stride, x, from: 0, to: count) }
        return sums
    }
}

enum FloatElement: LoRAElement {
    @inline(__always)
    static func load8(_ row: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        row.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
    }
    @inline(__always)
    static func load1(_ row: UnsafeRawPointer, _ index: Int) -> Float {
        row.loadUnaligned(fromByteOffset: index * 4, as: Float.self)
    }
    @inline(__always)
    static func multiplyAdd(_ w: SIMD8<Float>, _ x: SIMD8<Float>, _ acc: SIMD8<Float>) -> SIMD8<Float> {
        #if TINYLM_HARDWARE_FMA
        return acc.addingProduct(w, x)
        #else
        return SIMD8<Float>(SIMD8<Double>(w) * SIMD8<Double>(x) + SIMD8<Double>(acc))
        #endif
    }
    /// ggml_vec_dot_f32's tail: float sumf, `sumf += x[i]*y[i]` contracted to a fused multiply-add.
    @inline(__always)
    static func addRemainder(_ head: Float, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, from start: Int, to count: Int) -> Float {
        var sum = head
        for i in start..<count {
            let w = load1(row, i)
            #if TINYLM_HARDWARE_FMA
            sum = sum.addingProduct(w, x[i])
            #else
            sum = Float(Double(w) * Double(x[i]) + Double(sum))
            #endif
        }
        return sum
    }
    /// Row by row (F32 adapters are rare; their serial fused sums stay scalar).
    @inline(__always)
    static func eightShortDots(_ row: UnsafeRawPointer, stride: Int, _ x: UnsafePointer<Float>, count: Int) -> SIMD8<Float> {
        var sums = SIMD8<Float>()
        for r in 0..<8 { sums[r] = addRemainder(0, row + r * stride, x, from: 0, to: count) }
        return sums
    }
}
