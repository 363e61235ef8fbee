/// A float adapter pair's tensors rearranged once, when the adapter is loaded, for the decode
/// step's product. Only where values are and how they are encoded change, never the products
/// or the order they are summed in, so the logits stay llama.cpp's to the bit.
///
/// - B in blocks of eight rows stored by columns. A decode step's B·t sums each output row's
///   `rank` products serially (ggml_vec_dot's tail when the rank is under 64), so eight rows go
///   side by side, one per vector lane. Stored as ggml stores it (rank values per row), each
///   8 × rank block had to be transposed in registers first; here block k holds, for c < rank,
///   B[8k..<8k+8][c] (zeros past the last row), so one vector load is column c of the block's
///   eight rows, and the blocks follow one another: one sequential stream, as before. (Whole
///   columns, `rows` apart, were tried: eight streams at once, slower from memory.)
/// - Builds whose CPU has no f16 conversion instruction (wasm) cannot load 16-bit values as
///   cheaply as the hardware converts them (`HalfForm`): F16 values are packed (A's rows too),
///   BF16 ones and F16 tensors holding an inf or NaN are widened to f32.
///
/// Pairs of other types (F32, Q8_0), B of rank 64 or more, and the embedding table's A (looked
/// up by row, not multiplied) are left in place.
struct LoRALayout {
    /// How a build keeps 16-bit (F16, BF16) adapter values for the per-token loops.
    enum HalfForm {
        /// As stored: the CPU converts them as it loads them (natively: F16C, or BF16's shift).
        case stored
        /// Widened to f32 (exact): the loops load floats, at twice the bytes.
        case widened
        /// F16 packed so that a few integer lane operations give f32 (A) or f64 (B) values a
        /// power of two too small (LoRAPackedHalves.swift), which the loops multiply by inputs
        /// scaled up by as much: the same exact products from the stored bytes. Finite F16 only.
        case packed
    }

    /// Block k of B is `bBlocks + k·bBlockBytes`, its column c `c·8` values further; nil: B is
    /// used in place.
    let bBlocks: UnsafeMutableRawPointer?
    let bBlockBytes: Int
    /// How B's blocks (and A's rows, when `aRows` is set) hold their values.
    let form: HalfForm
    /// A's rows in `form` (widened or packed), `aRowBytes` apart; nil: A is used in place.
    let aRows: UnsafeMutableRawPointer?
    let aRowBytes: Int

    static var inPlace: LoRALayout { LoRALayout(bBlocks: nil, bBlockBytes: 0, form: .stored, aRows: nil, aRowBytes: 0) }

    #if TINYLM_HARDWARE_F16
    static let convertsHalvesInHardware = true
    #else
    static let convertsHalvesInHardware = false
    #endif

    static func isHalf(_ type: TensorType) -> Bool { type == .f16 || type == .bf16 }

    /// The form this build gives `pair`'s 16-bit values.
    static func form(for pair: LoRAPair, isEmbedding: Bool) -> HalfForm {
        if convertsHalvesInHardware { return .stored }
        let packable = pair.a.type == .f16 && pair.b.type == .f16
            && PackedHalfElement.allFinite(pair.b) && (isEmbedding || PackedHalfElement.allFinite(pair.a))
        return packable ? .packed : .widened
    }

    /// Whether B is laid out in blocks: the rows' products are all ggml's serial tail.
    static func arrangesB(_ pair: LoRAPair) -> Bool { isHalf(pair.b.type) && pair.rank < 64 }

    static func arrangesA(_ pair: LoRAPair, isEmbedding: Bool, form: HalfForm) -> Bool {
        form != .stored && !isEmbedding && isHalf(pair.a.type)
    }

    static func elementBytes(_ form: HalfForm) -> Int { form == .widened ? 4 : 2 }

    /// A's row length in `form`: packed rows are whole groups of eight (zeros past the end).
    static func aRowBytes(_ pair: LoRAPair, form: HalfForm) -> Int {
        form == .packed ? (pair.a.columns + 7) / 8 * 16 : pair.a.columns * elementBytes(form)
    }

    /// Bytes the layout of `pair` takes.
    static func byteCount(_ pair: LoRAPair, isEmbedding: Bool) -> Int {
        byteCount(pair, isEmbedding: isEmbedding, form: form(for: pair, isEmbedding: isEmbedding))
    }

    static func byteCount(_ pair: LoRAPair, isEmbedding: Bool, form: HalfForm) -> Int {
        var bytes = 0
        if arrangesB(pair) { bytes += (pair.b.rows + 7) / 8 * 8 * pair.rank * elementBytes(form) }
        if arrangesA(pair, isEmbedding: isEmbedding, form: form) { bytes += pair.a.rows * aRowBytes(pair, form: form) }
        return bytes
    }

    /// Makes the layout of `pair` (`byteCount` bytes, which the caller has checked it can have).
    static func make(_ pair: LoRAPair, isEmbedding: Bool) -> LoRALayout {
        make(pair, isEmbedding: isEmbedding, form: form(for: pair, isEmbedding: isEmbedding))
    }

    /// `form` other than this build's own is for tests (`.packed` wants finite F16 tensors).
    static func make(_ pair: LoRAPair, isEmbedding: Bool, form: HalfForm) -> LoRALayout {
        @inline(__always) func widen(_ type: TensorType, _ bits: UInt16) -> Float {
            type == .f16 ? FP16.toFloat(bits) : BF16.toFloat(bits)
        }
        var bBlocks: UnsafeMutableRawPointer? = nil, bBlockBytes = 0
        if arrangesB(pair) {
            let b = pair.b, rows = b.rows, rank = pair.rank, size = elementBytes(form)
            bBlockBytes = 8 * rank * size
            let blockCount = (rows + 7) / 8
            let blocks = UnsafeMutableRawPointer.allocate(byteCount: blockCount * bBlockBytes, alignment: 64)
            blocks.initializeMemory(as: UInt8.self, repeating: 0, count: blockCount * bBlockBytes)
            for o in 0..<rows {
                let row = b.row(o)
                for c in 0..<rank {
                    let lane = form == .packed ? PackedHalfElement.blockPosition(o % 8) : o % 8
                    let offset = (o / 8) * bBlockBytes + (c * 8 + lane) * size
                    let bits = row.loadUnaligned(fromByteOffset: c * 2, as: UInt16.self)
                    if form == .widened {
                        blocks.storeBytes(of: widen(b.type, bits), toByteOffset: offset, as: Float.self)
                    } else {
                        blocks.storeBytes(of: bits, toByteOffset: offset, as: UInt16.self)
                    }
                }
            }
            bBlocks = blocks
        }
        var aRows: UnsafeMutableRawPointer? = nil, rowBytes = 0
        if arrangesA(pair, isEmbedding: isEmbedding, form: form) {
            let a = pair.a
            rowBytes = aRowBytes(pair, form: form)
            let rows = UnsafeMutableRawPointer.allocate(byteCount: max(1, a.rows * rowBytes), alignment: 64)
            rows.initializeMemory(as: UInt8.self, repeating: 0, count: a.rows * rowBytes)
            for r in 0..<a.rows {
                let source = a.row(r), target = rows + r * rowBytes
                for c in 0..<a.columns {
                    let bits = source.loadUnaligned(fromByteOffset: c * 2, as: UInt16.self)
                    if form == .widened {
                        target.storeBytes(of: widen(a.type, bits), toByteOffset: c * 4, as: Float.self)
                    } else {
                        target.storeBytes(of: bits, toByteOffset: ((c & ~7) + PackedHalfElement.position(c & 7)) * 2, as: UInt16.self)
                    }
                }
            }
            aRows = rows
        }
        return LoRALayout(bBlocks: bBlocks, bBlockBytes: bBlockBytes, form: form, aRows: aRows, aRowBytes: rowBytes)
    }

    /// Whether A's input (x) must be multiplied by `PackedHalfElement.inputScale`.
    var scalesAInput: Bool { form == .packed && aRows != nil }

    func deallocate() {
        bBlocks?.deallocate()
        aRows?.deallocate()
    }
}
