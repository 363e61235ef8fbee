/// How a knowledge base stores its vectors (the file's `vector form`).
public enum VectorForm: UInt32, Sendable {
    /// 4 bytes per dimension, as the embedder computed them.
    case float32 = 0
    /// IEEE half precision, 2 bytes per dimension.
    case float16 = 1
    /// One signed byte per dimension and one Float scale per vector: x ≈ q · scale,
    /// scale = max|x| / 127. Searched with integer dot products against the query quantized
    /// the same way.
    case int8 = 2

    public init?(name: String) {
        switch name {
        case "f32", "float32": self = .float32
        case "f16", "float16": self = .float16
        case "int8", "i8": self = .int8
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .float32: return "f32"
        case .float16: return "f16"
        case .int8: return "int8"
        }
    }

    /// Bytes of one vector's row (the int8 scale is stored apart).
    public func rowBytes(dimensions: Int) -> Int {
        switch self {
        case .float32: return dimensions * 4
        case .float16: return dimensions * 2
        case .int8: return dimensions
        }
    }
}

/// Vectors of one form, back to back, growable; exact (brute-force) search over all of them.
struct VectorStore {
    let form: VectorForm
    let dimensions: Int
    let rowBytes: Int
    private(set) var rows: [UInt8] = []
    /// int8 only: one scale per vector.
    private(set) var scales: [Float] = []
    private(set) var count = 0

    init(form: VectorForm, dimensions: Int) {
        self.form = form
        self.dimensions = dimensions
        rowBytes = form.rowBytes(dimensions: dimensions)
    }

    mutating func reserve(_ extra: Int) {
        rows.reserveCapacity((count + extra) * rowBytes)
        if form == .int8 { scales.reserveCapacity(count + extra) }
    }

    /// Appends one vector given as floats, converting it to the store's form.
    mutating func append(_ vector: UnsafePointer<Float>) {
        let d = dimensions
        switch form {
        case .float32:
            UnsafeRawPointer(vector).withMemoryRebound(to: UInt8.self, capacity: d * 4) { rows.append(contentsOf: UnsafeBufferPointer(start: $0, count: d * 4)) }
        case .float16:
            for i in 0..<d {
                let h = HalfFloat.bits(vector[i])
                rows.append(UInt8(h & 0xFF))
                rows.append(UInt8(h >> 8))
            }
        case .int8:
            let scale = Int8Quantizer.scale(vector, count: d)
            scales.append(scale)
            let inverse: Float = scale > 0 ? 1 / scale : 0
            for i in 0..<d { rows.append(UInt8(bitPattern: Int8Quantizer.quantize(vector[i], inverse))) }
        }
        count += 1
    }

    /// Appends rows already in this form (from a file): `rowBytes` each, and their scales.
    mutating func appendRaw(_ bytes: UnsafeRawBufferPointer, scales newScales: UnsafeRawBufferPointer?, count n: Int) {
        rows.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<n * rowBytes]))
        if form == .int8, let newScales {
            for i in 0..<n { scales.append(newScales.loadUnaligned(fromByteOffset: i * 4, as: Float.self)) }
        }
        count += n
    }

    /// Appends vectors `range` of another store of the same form.
    mutating func append(from other: VectorStore, _ range: Range<Int>) {
        rows.append(contentsOf: other.rows[range.lowerBound * rowBytes..<range.upperBound * rowBytes])
        if form == .int8 { scales.append(contentsOf: other.scales[range]) }
        count += range.count
    }

    /// Keeps only the vectors whose `keep(index)` is true, in order.
    mutating func filter(_ keep: (Int) -> Bool) {
        var newRows: [UInt8] = []
        var newScales: [Float] = []
        var kept = 0
        for i in 0..<count where keep(i) {
            newRows.append(contentsOf: rows[i * rowBytes..<(i + 1) * rowBytes])
            if form == .int8 { newScales.append(scales[i]) }
            kept += 1
        }
        rows = newRows
        scales = newScales
        count = kept
    }

    /// Vector `index` as floats (dequantized).
    func vector(_ index: Int, into out: UnsafeMutablePointer<Float>) {
        rows.withUnsafeBytes { raw in
            let row = raw.baseAddress! + index * rowBytes
            switch form {
            case .float32:
                for i in 0..<dimensions { out[i] = row.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
            case .float16:
                for i in 0..<dimensions { out[i] = HalfFloat.value(row.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
            case .int8:
                let s = scales[index]
                for i in 0..<dimensions { out[i] = Float(row.load(fromByteOffset: i, as: Int8.self)) * s }
            }
        }
    }

    /// Scores of every vector against `query` (floats, `dimensions` long): dot products, which
    /// for unit vectors are cosine similarities.
    func scores(_ query: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, executor: any ComputeExecutor) {
        let d = dimensions
        rows.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            switch form {
            case .float32:
                executor.parallelRanges(count, granularity: 64) { range in
                    for r in range {
                        out[r] = VectorMath.dot(query, (base + r * rowBytes).assumingMemoryBound(to: Float.self), count: d)
                    }
                }
            case .float16:
                // Rows widened with the f16 kernels' conversion (F16C natively) into one row
                // buffer per concurrent chunk, allocated here: helper threads must not allocate.
                let slots = max(1, executor.concurrency)
                let widened = UnsafeMutablePointer<Float>.allocate(capacity: slots * d)
                defer { widened.deallocate() }
                executor.parallelChunks(count, granularity: 64, maxChunks: slots) { chunk, range in
                    let row = widened + chunk * d
                    for r in range {
                        MatrixMultiply.dequantize(.f16, base + r * rowBytes, count: d, into: row)
                        out[r] = VectorMath.dot(query, row, count: d)
                    }
                }
            case .int8:
                // The query quantized like the stored vectors, widened once to Int16.
                withUnsafeTemporaryAllocation(of: Int16.self, capacity: (d + 15) / 16 * 16) { q in
                    let scale = Int8Quantizer.scale(query, count: d)
                    let inverse: Float = scale > 0 ? 1 / scale : 0
                    for i in 0..<q.count { q[i] = i < d ? Int16(Int8Quantizer.quantize(query[i], inverse)) : 0 }
                    let qPointer = UnsafePointer(q.baseAddress!)
                    scales.withUnsafeBufferPointer { rowScales in
                        executor.parallelRanges(count, granularity: 64) { range in
                            for r in range {
                                let dot = Int8Quantizer.dot(base + r * rowBytes, qPointer, count: d)
                                out[r] = Float(dot) * (scale * rowScales[r])
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Symmetric int8 quantization of a vector with one scale.
enum Int8Quantizer {
    static func scale(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var largest: Float = 0
        for i in 0..<count { largest = max(largest, abs(x[i])) }
        return largest / 127
    }

    @inline(__always)
    static func quantize(_ x: Float, _ inverseScale: Float) -> Int8 {
        let v = (x * inverseScale).rounded(.toNearestOrEven)
        return Int8(max(-127, min(127, v)))
    }

    /// Σ row[i]·q[i] in Int32 (exact): sixteen lanes at a time, the int8 row widened to Int16;
    /// |row·q| ≤ 127² fits Int16 products, summed in Int32 lanes.
    @inline(__always)
    static func dot(_ row: UnsafeRawPointer, _ q: UnsafePointer<Int16>, count: Int) -> Int32 {
        var acc = SIMD16<Int32>()
        var i = 0
        let qRaw = UnsafeRawPointer(q)
        while i + 16 <= count {
            let a = SIMD16<Int16>(truncatingIfNeeded: row.loadUnaligned(fromByteOffset: i, as: SIMD16<Int8>.self))
            let b = qRaw.loadUnaligned(fromByteOffset: i * 2, as: SIMD16<Int16>.self)
            acc &+= SIMD16<Int32>(truncatingIfNeeded: a &* b)
            i += 16
        }
        var sum = acc.wrappedSum()
        while i < count {
            sum &+= Int32(row.load(fromByteOffset: i, as: Int8.self)) * Int32(q[i])
            i += 1
        }
        return sum
    }
}

/// IEEE 754 half precision by bit arithmetic (no hardware conversion needed; round to
/// nearest even).
enum HalfFloat {
    static func bits(_ value: Float) -> UInt16 {
        let x = value.bitPattern
        let sign = UInt16((x >> 16) & 0x8000)
        let exponent = Int((x >> 23) & 0xFF)
        var mantissa = x & 0x7F_FFFF
        if exponent == 0xFF { return sign | 0x7C00 | (mantissa != 0 ? 0x200 : 0) }
        var e = exponent - 127 + 15
        if e >= 0x1F { return sign | 0x7C00 }
        if e <= 0 {
            if e < -10 { return sign }
            mantissa |= 0x80_0000
            let shift = UInt32(14 - e)
            var half = mantissa >> shift
            let rest = mantissa & ((1 << shift) - 1)
            let halfway = UInt32(1) << (shift - 1)
            if rest > halfway || (rest == halfway && half & 1 == 1) { half += 1 }
            return sign | UInt16(half)
        }
        var half = mantissa >> 13
        let rest = mantissa & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && half & 1 == 1) {
            half += 1
            if half == 0x400 {
                half = 0
                e += 1
                if e >= 0x1F { return sign | 0x7C00 }
            }
        }
        return sign | UInt16(e << 10) | UInt16(half)
    }

    static func value(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            let v = Float(mantissa) * (1.0 / 16_777_216.0)   // 2^-24
            return sign != 0 ? -v : v
        }
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }
}
