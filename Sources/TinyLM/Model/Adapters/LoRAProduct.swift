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
/// Products of two f16 (or bf16) values are exact in Float, so a fused multiply-add is an
/// add there, in wasm too. F32 adapters need true FMAs: natively the hardware's; wasm forms
/// them in Double (rarely a double rounding away). BF16 adapters are summed in the same order,
/// but the reference machine has AVX512-BF16, whose dot instruction ggml uses instead: close,
/// not identical. Q8_0 adapters go through `MatrixMultiply` (llama.cpp's order already).
enum LoRAProduct {
    static func supports(_ type: TensorType) -> Bool {
        type == .f32 || type == .f16 || type == .bf16 || type == .q8_0
    }

    /// Whether `dot` handles `type` (else `MatrixMultiply` does).
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
            #if TINYLM_HARDWARE_F16
            while i + 8 <= count {
                UnsafeMutableRawPointer(out + i).storeBytes(of: FP16.round8(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)),
                                                            as: SIMD8<Float>.self)
                i += 8
            }
            #else
            while i + 4 <= count {
                UnsafeMutableRawPointer(out + i).storeBytes(of: FP16.round4(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD4<Float>.self)),
                                                            as: SIMD4<Float>.self)
                i += 4
            }
            #endif
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

    /// Σ_c row[c]·x[c] over `count` values of a `type` row, `x` already converted (`round`).
    @inline(__always)
    static func dot(_ type: TensorType, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int, order: Order) -> Float {
        switch type {
        case .f16: return dot(HalfElement.self, row, x, count: count, order: order)
        case .bf16: return dot(BrainHalfElement.self, row, x, count: count, order: order)
        default: return dot(FloatElement.self, row, x, count: count, order: order)
        }
    }

    @inline(__always)
    static func dot<E: LoRAElement>(_: E.Type, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int, order: Order) -> Float {
        let xr = UnsafeRawPointer(x)
        @inline(__always) func xs(_ i: Int) -> SIMD16<Float> { xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) }
        if order == .tiled {
            var acc = SIMD16<Float>()
            var l = 0
            while l < count {
                acc = E.multiplyAdd(E.load16(row, l), xs(l), acc)
                l += 16
            }
            return reduce(acc)
        }
        var i = 0
        var head: Float = 0
        if count >= 64 {
            var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
            while i + 64 <= count {
                s0 = E.multiplyAdd(E.load16(row, i), xs(i), s0)
                s1 = E.multiplyAdd(E.load16(row, i + 16), xs(i + 16), s1)
                s2 = E.multiplyAdd(E.load16(row, i + 32), xs(i + 32), s2)
                s3 = E.multiplyAdd(E.load16(row, i + 48), xs(i + 48), s3)
                i += 64
            }
            s0 += s2
            s1 += s3
            s0 += s1
            head = reduce(s0)
        }
        return E.addRemainder(head, row, x, from: i, to: count)
    }

    /// _mm512_reduce_add_ps: halves of 8, of 4, then lanes (0+2) + (1+3).
    @inline(__always)
    static func reduce(_ v: SIMD16<Float>) -> Float {
        let a = v.highHalf + v.lowHalf
        let b = a.highHalf + a.lowHalf
        return (b[0] + b[2]) + (b[1] + b[3])
    }
}

/// How one adapter tensor type loads and multiplies (generic, so each type's loop is
/// specialized).
protocol LoRAElement {
    static func load16(_ row: UnsafeRawPointer, _ index: Int) -> SIMD16<Float>
    static func load8(_ row: UnsafeRawPointer, _ index: Int) -> SIMD8<Float>
    static func load1(_ row: UnsafeRawPointer, _ index: Int) -> Float
    static func multiplyAdd(_ w: SIMD16<Float>, _ x: SIMD16<Float>, _ acc: SIMD16<Float>) -> SIMD16<Float>
    /// vec_dot's tail: the products from `start` on added to `head`.
    static func addRemainder(_ head: Float, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, from start: Int, to count: Int) -> Float
}

extension LoRAElement {
    /// For f16 and bf16 (exact products): ggml_float sumf = head; sumf += (double)(w·x)…
    @inline(__always)
    static func addRemainderInDouble(_ head: Float, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, from start: Int, to count: Int) -> Float {
        var sum = Double(head)
        var i = start
        while i + 8 <= count {
            let p = load8(row, i) * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            sum += Double(p[0]); sum += Double(p[1]); sum += Double(p[2]); sum += Double(p[3])
            sum += Double(p[4]); sum += Double(p[5]); sum += Double(p[6]); sum += Double(p[7])
            i += 8
        }
        while i < count {
            sum += Double(load1(row, i) * x[i])
            i += 1
        }
        return Float(sum)
    }
}

enum HalfElement: LoRAElement {
    @inline(__always)
    static func load16(_ row: UnsafeRawPointer, _ index: Int) -> SIMD16<Float> {
        let h = row.loadUnaligned(fromByteOffset: index * 2, as: SIMD16<UInt16>.self)
        return SIMD16(lowHalf: FP16.toFloat8(h.lowHalf), highHalf: FP16.toFloat8(h.highHalf))
    }
    @inline(__always)
    static func load8(_ row: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        FP16.toFloat8(row.loadUnaligned(fromByteOffset: index * 2, as: SIMD8<UInt16>.self))
    }
    @inline(__always)
    static func load1(_ row: UnsafeRawPointer, _ index: Int) -> Float {
        FP16.toFloat(row.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
    }
    @inline(__always)
    static func multiplyAdd(_ w: SIMD16<Float>, _ x: SIMD16<Float>, _ acc: SIMD16<Float>) -> SIMD16<Float> { acc + w * x }
    @inline(__always)
    static func addRemainder(_ head: Float, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, from start: Int, to count: Int) -> Float {
        addRemainderInDouble(head, row, x, from: start, to: count)
    }
}

enum BrainHalfElement: LoRAElement {
    @inline(__always)
    static func load16(_ row: UnsafeRawPointer, _ index: Int) -> SIMD16<Float> {
        let h = SIMD16<UInt32>(truncatingIfNeeded: row.loadUnaligned(fromByteOffset: index * 2, as: SIMD16<UInt16>.self))
        return unsafeBitCast(h &<< 16, to: SIMD16<Float>.self)
    }
    @inline(__always)
    static func load8(_ row: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        let h = SIMD8<UInt32>(truncatingIfNeeded: row.loadUnaligned(fromByteOffset: index * 2, as: SIMD8<UInt16>.self))
        return unsafeBitCast(h &<< 16, to: SIMD8<Float>.self)
    }
    @inline(__always)
    static func load1(_ row: UnsafeRawPointer, _ index: Int) -> Float {
        BF16.toFloat(row.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
    }
    @inline(__always)
    static func multiplyAdd(_ w: SIMD16<Float>, _ x: SIMD16<Float>, _ acc: SIMD16<Float>) -> SIMD16<Float> { acc + w * x }
    @inline(__always)
    static func addRemainder(_ head: Float, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, from start: Int, to count: Int) -> Float {
        addRemainderInDouble(head, row, x, from: start, to: count)
    }
}

enum FloatElement: LoRAElement {
    @inline(__always)
    static func load16(_ row: UnsafeRawPointer, _ index: Int) -> SIMD16<Float> {
        row.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self)
    }
    @inline(__always)
    static func load8(_ row: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        row.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
    }
    @inline(__always)
    static func load1(_ row: UnsafeRawPointer, _ index: Int) -> Float {
        row.loadUnaligned(fromByteOffset: index * 4, as: Float.self)
    }
    @inline(__always)
    static func multiplyAdd(_ w: SIMD16<Float>, _ x: SIMD16<Float>, _ acc: SIMD16<Float>) -> SIMD16<Float> {
        #if TINYLM_HARDWARE_FMA
        return acc.addingProduct(w, x)
        #else
        return SIMD16<Float>(SIMD16<Double>(w) * SIMD16<Double>(x) + SIMD16<Double>(acc))
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
}
