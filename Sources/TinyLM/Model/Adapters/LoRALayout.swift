/// A float adapter pair's tensors rearranged once, when the adapter is loaded, for the decode
/// step's product. Only where values are and how wide they are stored change, never their
/// values or the order they are summed in, so the logits stay llama.cpp's to the bit.
///
/// - B in blocks of eight rows stored by columns. A decode step's B·t sums each output row's
///   `rank` products serially (ggml_vec_dot's tail when the rank is under 64), so eight rows go
///   side by side, one per vector lane. Stored as ggml stores it (rank values per row), each
///   8 × rank block had to be transposed in registers first; here block k holds, for c < rank,
///   B[8k..<8k+8][c] (zeros past the last row), so one vector load is column c of the block's
///   eight rows, and the blocks follow one another: one sequential stream, as before. (Whole
///   columns, `rows` apart, were tried: eight streams at once, slower from memory.)
/// - Builds whose CPU has no f16 conversion instruction (wasm) widen F16 and BF16 values to
///   f32 here (exact), so the per-token loops load floats instead of converting bits: A's rows
///   are kept whole in f32 and B's columns are f32. That doubles those bytes; natively they stay
///   16-bit, where the conversion costs one instruction and the memory traffic counts more.
///
/// Pairs of other types (F32, Q8_0), B of rank 64 or more, and the embedding table's A (looked
/// up by row, not multiplied) are left in place.
struct LoRALayout {
    /// Block k of B is `bBlocks + k·bBlockBytes`, its column c `c·8` values further; nil: B is
    /// used in place.
    let bBlocks: UnsafeMutableRawPointer?
    let bBlockBytes: Int
    /// A's rows widened to f32, `columns` floats apart; nil: A is used in place.
    let aWidened: UnsafeMutablePointer<Float>?

    static var inPlace: LoRALayout { LoRALayout(bBlocks: nil, bBlockBytes: 0, aWidened: nil) }

    #if TINYLM_HARDWARE_F16
    static let widensHalves = false
    #else
    static let widensHalves = true
    #endif

    static func isHalf(_ type: TensorType) -> Bool { type == .f16 || type == .bf16 }

    static var bElementBytes: Int { widensHalves ? 4 : 2 }

    /// Whether B is laid out in blocks: the rows' products are all ggml's serial tail.
    static func arrangesB(_ pair: LoRAPair) -> Bool { isHalf(pair.b.type) && pair.rank < 64 }

    static func widensA(_ pair: LoRAPair, isEmbedding: Bool) -> Bool { widensHalves && !isEmbedding && isHalf(pair.a.type) }

    /// Bytes the layout of `pair` takes.
    static func byteCount(_ pair: LoRAPair, isEmbedding: Bool) -> Int {
        var bytes = 0
        if arrangesB(pair) { bytes += (pair.b.rows + 7) / 8 * 8 * pair.rank * bElementBytes }
        if widensA(pair, isEmbedding: isEmbedding) { bytes += pair.a.rows * pair.a.columns * 4 }
        return bytes
    }

    /// Makes the layout of `pair` (`byteCount` bytes, which the caller has checked it can have).
    static func make(_ pair: LoRAPair, isEmbedding: Bool) -> LoRALayout {
        var bBlocks: UnsafeMutableRawPointer? = nil, bBlockBytes = 0
        if arrangesB(pair) {
            let b = pair.b, rows = b.rows, rank = pair.rank, size = bElementBytes
            bBlockBytes = 8 * rank * size
            let blockCount = (rows + 7) / 8
            let blocks = UnsafeMutableRawPointer.allocate(byteCount: blockCount * bBlockBytes, alignment: 64)
            blocks.initializeMemory(as: UInt8.self, repeating: 0, count: blockCount * bBlockBytes)
            for o in 0..<rows {
                let row = b.row(o)
                for c in 0..<rank {
                    let offset = (o / 8) * bBlockBytes + (c * 8 + o % 8) * size
                    let bits = row.loadUnaligned(fromByteOffset: c * 2, as: UInt16.self)
                    if widensHalves {
                        let value = b.type == .f16 ? FP16.toFloat(bits) : BF16.toFloat(bits)
                        blocks.storeBytes(of: value, toByteOffset: offset, as: Float.self)
                    } else {
                        blocks.storeBytes(of: bits, toByteOffset: offset, as: UInt16.self)
                    }
                }
            }
            bBlocks = blocks
        }
        var aWidened: UnsafeMutablePointer<Float>? = nil
        if widensA(pair, isEmbedding: isEmbedding) {
            let a = pair.a, count = a.rows * a.columns
            let widened = UnsafeMutablePointer<Float>.allocate(capacity: count)
            for i in 0..<count {
                let bits = a.data.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                widened[i] = a.type == .f16 ? FP16.toFloat(bits) : BF16.toFloat(bits)
            }
            aWidened = widened
        }
        return LoRALayout(bBlocks: bBlocks, bBlockBytes: bBlockBytes, aWidened: aWidened)
    }

    func deallocate() {
        bBlocks?.deallocate()
        aWidened?.deallocate()
    }
}
