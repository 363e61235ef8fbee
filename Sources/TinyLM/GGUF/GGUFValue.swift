/// The value types a GGUF metadata entry can hold (the file stores them as a u32 tag).
public enum GGUFValueType: UInt32, Sendable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6
    case bool = 7, string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Size of one value of a fixed-size type; nil for strings and arrays.
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }
}

/// One metadata value. Arrays are kept as views into the file and decoded on demand, because
/// a vocabulary array holds hundreds of thousands of strings that most callers read only once.
public enum GGUFValue {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool)
    case string(String)
    case array(GGUFArray)

    /// The value as an Int when it is an integer that fits (any width, any sign).
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        // Int(exactly:): on wasm32 Int has 32 bits, and a value that does not fit is no Int.
        case .uint32(let v): return Int(exactly: v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(exactly: v)
        case .bool(let v): return v ? 1 : 0
        default: return nil
        }
    }

    /// The value as a Float when it is any number.
    public var floatValue: Float? {
        switch self {
        case .float32(let v): return v
        case .float64(let v): return Float(v)
        // Converted directly: through Int, large values would be nil on wasm32 only.
        case .uint32(let v): return Float(v)
        case .uint64(let v): return Float(v)
        case .int64(let v): return Float(v)
        default: return intValue.map { Float($0) }
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        switch self {
        case .bool(let v): return v
        // Compared without converting to Int, which fails for large values on wasm32.
        case .uint32(let v): return v != 0
        case .uint64(let v): return v != 0
        case .int64(let v): return v != 0
        default: return intValue.map { $0 != 0 }
        }
    }

    public var arrayValue: GGUFArray? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// A short human-readable rendering for `tinylm info`.
    public var summary: String {
        switch self {
        case .uint8(let v): return "\(v)"
        case .int8(let v): return "\(v)"
        case .uint16(let v): return "\(v)"
        case .int16(let v): return "\(v)"
        case .uint32(let v): return "\(v)"
        case .int32(let v): return "\(v)"
        case .uint64(let v): return "\(v)"
        case .int64(let v): return "\(v)"
        case .float32(let v): return "\(v)"
        case .float64(let v): return "\(v)"
        case .bool(let v): return v ? "true" : "false"
        case .string(let s):
            var utf8 = Array(s.utf8)
            if utf8.count > 60 { utf8 = Array(utf8[0..<60]); return "\"\(String(decoding: utf8, as: UTF8.self))…\"" }
            return "\"\(s)\""
        case .array(let a): return "[\(a.elementType) × \(a.count)]"
        }
    }
}

/// An array inside the metadata, validated at parse time and read lazily from the file bytes.
public struct GGUFArray {
    public let elementType: GGUFValueType
    public let count: Int
    /// The file and the offset of the first element.
    let file: UnsafeRawBufferPointer
    let elementsOffset: Int

    /// Calls `body` with each string element's raw UTF-8 bytes (a view into the file).
    public func forEachStringBytes(_ body: (Int, UnsafeRawBufferPointer) -> Void) {
        guard elementType == .string else { return }
        var offset = elementsOffset
        for index in 0..<count {
            let length = Int(UInt64(littleEndian: file.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
            offset += 8
            body(index, UnsafeRawBufferPointer(rebasing: file[offset..<(offset + length)]))
            offset += length
        }
    }

    public var strings: [String] {
        var result: [String] = []
        result.reserveCapacity(count)
        forEachStringBytes { _, bytes in result.append(String(decoding: bytes, as: UTF8.self)) }
        return result
    }

    /// Numeric elements converted to Float (empty for non-numeric arrays).
    public var floats: [Float] {
        var result: [Float] = []
        result.reserveCapacity(count)
        forEachNumber { result.append(Float($0)) }
        return result
    }

    /// Integer elements converted to Int (empty for non-integer arrays).
    public var ints: [Int] {
        var result: [Int] = []
        result.reserveCapacity(count)
        forEachNumber { result.append(Int(exactly: $0.rounded(.towardZero)) ?? 0) }
        return result
    }

    private func forEachNumber(_ body: (Double) -> Void) {
        guard let size = elementType.fixedSize else { return }
        for index in 0..<count {
            let at = elementsOffset + index * size
            let value: Double
            switch elementType {
            case .uint8, .bool: value = Double(file.load(fromByteOffset: at, as: UInt8.self))
            case .int8: value = Double(file.load(fromByteOffset: at, as: Int8.self))
            case .uint16: value = Double(UInt16(littleEndian: file.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
            case .int16: value = Double(Int16(littleEndian: file.loadUnaligned(fromByteOffset: at, as: Int16.self)))
            case .uint32: value = Double(UInt32(littleEndian: file.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
            case .int32: value = Double(Int32(littleEndian: file.loadUnaligned(fromByteOffset: at, as: Int32.self)))
            case .uint64: value = Double(UInt64(littleEndian: file.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
            case .int64: value = Double(Int64(littleEndian: file.loadUnaligned(fromByteOffset: at, as: Int64.self)))
            case .float32: value = Double(Float(bitPattern: UInt32(littleEndian: file.loadUnaligned(fromByteOffset: at, as: UInt32.self))))
            case .float64: value = Double(bitPattern: UInt64(littleEndian: file.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
            case .string, .array: return
            }
            body(value)
        }
    }

    /// Every element as a GGUFValue, nested arrays included (for inspection tools and tests).
    public var values: [GGUFValue] {
        var reader = ByteReader(file, offset: elementsOffset)
        var result: [GGUFValue] = []
        result.reserveCapacity(count)
        for _ in 0..<count {
            // Already validated by the parser, so this cannot fail.
            guard let value = try? GGUFParser.readValue(type: elementType, from: &reader, depth: 1) else { break }
            result.append(value)
        }
        return result
    }
}
