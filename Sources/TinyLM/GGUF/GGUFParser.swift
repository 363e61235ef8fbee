/// Reads and validates the GGUF header. Layout (all little-endian):
///   magic "GGUF", u32 version, u64 tensor count, u64 metadata count,
///   metadata: (string key, u32 value type, value)*,
///   tensor infos: (string name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset)*,
///   padding to `general.alignment` (default 32), tensor data.
/// A string is a u64 byte count followed by the bytes; an array is u32 element type, u64 count,
/// then the elements.
enum GGUFParser {
    struct Parsed {
        var version: UInt32
        var alignment: Int
        var dataOffset: Int
        var keys: [String]
        var metadata: [String: GGUFValue]
        var tensors: [GGUFTensorInfo]
    }

    static let magic: UInt32 = 0x4655_4747  // "GGUF" read as little-endian u32
    static let maxDimensions = 4
    static let maxArrayNesting = 8
    /// The GGUF specification's limit for keys, and ggml's for tensor names (GGML_MAX_NAME
    /// with its terminating NUL): a corrupt length must not make a key of the whole file.
    static let maxKeyBytes = 65535
    static let maxTensorNameBytes = 63
    /// How much of an untrusted key or name an error message quotes.
    static let quotedBytes = 80

    static func parse(_ bytes: UnsafeRawBufferPointer) throws(TinyLMError) -> Parsed {
        guard bytes.baseAddress != nil, bytes.count > 0 else { throw .malformed("empty file: not a GGUF model") }
        var reader = ByteReader(bytes)
        let magicValue = try reader.read(UInt32.self, "magic")
        guard magicValue == magic else {
            throw .malformed("not a GGUF file: bad magic \(hex(magicValue)) at offset 0 (expected \"GGUF\")")
        }
        let version = try reader.read(UInt32.self, "version")
        guard version == 2 || version == 3 else {
            throw .unsupported("unsupported GGUF version \(version) (this reader handles versions 2 and 3)")
        }
        // The smallest tensor info is 24 bytes and the smallest metadata entry 13: a count that
        // could not fit in the rest of the file is corrupt, and must not drive an allocation.
        let tensorCount = try reader.readCount("tensor count", limit: reader.remaining / 24)
        let metadataCount = try reader.readCount("metadata count", limit: reader.remaining / 13)

        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        keys.reserveCapacity(metadataCount)
        for index in 0..<metadataCount {
            let keyOffset = reader.offset
            let key = try reader.readString("metadata key", limit: maxKeyBytes)
            let rawType = try reader.read(UInt32.self, "metadata value type")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw .malformed("metadata entry \(index) '\(quoted(key))' at offset \(keyOffset) has unknown value type \(rawType)")
            }
            let value = try readValue(type: type, from: &reader, depth: 0)
            if metadata[key] != nil {
                throw .malformed("duplicate metadata key '\(quoted(key))' at offset \(keyOffset)")
            }
            keys.append(key)
            metadata[key] = value
        }

        var alignment = 32
        if let value = metadata["general.alignment"] {
            guard case .uint32(let a) = value, a > 0, a & (a - 1) == 0, a <= 1 << 20 else {
                throw .malformed("general.alignment must be a power-of-two u32, found \(value.summary)")
            }
            alignment = Int(a)
        }

        struct RawTensor { var name: String; var shape: [Int]; var type: TensorType; var offset: Int; var byteCount: Int; var headerOffset: Int }
        var raw: [RawTensor] = []
        raw.reserveCapacity(tensorCount)
        for index in 0..<tensorCount {
            let headerOffset = reader.offset
            let name = try reader.readString("tensor name", limit: maxTensorNameBytes)
            let dimensionCount = try reader.read(UInt32.self, "tensor dimension count")
            guard dimensionCount >= 1, dimensionCount <= UInt32(maxDimensions) else {
                throw .malformed("tensor \(index) '\(name)' at offset \(headerOffset) has \(dimensionCount) dimensions (1...\(maxDimensions) allowed)")
            }
            var shape: [Int] = []
            var elements = 1
            for _ in 0..<Int(dimensionCount) {
                let dimension = try reader.readCount("tensor dimension", limit: Int(Int32.max))
                shape.append(dimension)
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw .malformed("tensor '\(name)' at offset \(headerOffset): element count overflows") }
                elements = product
            }
            let rawType = try reader.read(UInt32.self, "tensor type")
            guard let type = TensorType(rawValue: rawType) else {
                throw .malformed("tensor '\(name)' at offset \(headerOffset) has unknown tensor type id \(rawType)")
            }
            guard shape[0] % type.blockElements == 0, let byteCount = type.byteCount(elements: elements) else {
                throw .malformed("tensor '\(name)': row length \(shape[0]) is not a multiple of the \(type.name) block size \(type.blockElements)")
            }
            let offset = try reader.readCount("tensor data offset", limit: bytes.count)
            guard offset % alignment == 0 else {
                throw .malformed("tensor '\(name)' data offset \(offset) is not aligned to \(alignment)")
            }
            raw.append(RawTensor(name: name, shape: shape, type: type, offset: offset, byteCount: byteCount, headerOffset: headerOffset))
        }

        // The data section starts at the next multiple of the alignment (it may be empty).
        let headerEnd = reader.offset
        let (padded, overflow) = headerEnd.addingReportingOverflow(alignment - 1)
        guard !overflow else { throw .malformed("header size overflows") }
        let dataOffset = padded / alignment * alignment

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(raw.count)
        var seen: Set<String> = []
        for tensor in raw {
            guard seen.insert(tensor.name).inserted else {
                throw .malformed("duplicate tensor name '\(tensor.name)' at offset \(tensor.headerOffset)")
            }
            let (start, o1) = dataOffset.addingReportingOverflow(tensor.offset)
            let (end, o2) = start.addingReportingOverflow(tensor.byteCount)
            guard !o1, !o2, end <= bytes.count else {
                throw .malformed("truncated file: tensor '\(tensor.name)' needs bytes \(dataOffset + tensor.offset)..<\(dataOffset + tensor.offset + tensor.byteCount), file has \(bytes.count)")
            }
            tensors.append(GGUFTensorInfo(name: tensor.name, shape: tensor.shape, type: tensor.type, fileOffset: start, byteCount: tensor.byteCount))
        }
        return Parsed(version: version, alignment: alignment, dataOffset: dataOffset, keys: keys, metadata: metadata, tensors: tensors)
    }

    static func readValue(type: GGUFValueType, from reader: inout ByteReader, depth: Int) throws(TinyLMError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try reader.read(UInt8.self, "u8 value"))
        case .int8: return .int8(try reader.read(Int8.self, "i8 value"))
        case .uint16: return .uint16(try reader.read(UInt16.self, "u16 value"))
        case .int16: return .int16(try reader.read(Int16.self, "i16 value"))
        case .uint32: return .uint32(try reader.read(UInt32.self, "u32 value"))
        case .int32: return .int32(try reader.read(Int32.self, "i32 value"))
        case .uint64: return .uint64(try reader.read(UInt64.self, "u64 value"))
        case .int64: return .int64(try reader.read(Int64.self, "i64 value"))
        case .float32: return .float32(try reader.readFloat("f32 value"))
        case .float64: return .float64(try reader.readDouble("f64 value"))
        case .bool:
            let at = reader.offset
            let byte = try reader.read(UInt8.self, "bool value")
            guard byte <= 1 else { throw .malformed("bool value at offset \(at) is \(byte), not 0 or 1") }
            return .bool(byte == 1)
        case .string:
            return .string(try reader.readString("string value"))
        case .array:
            let at = reader.offset
            guard depth < maxArrayNesting else { throw .malformed("arrays nested deeper than \(maxArrayNesting) at offset \(at)") }
            let rawType = try reader.read(UInt32.self, "array element type")
            guard let elementType = GGUFValueType(rawValue: rawType) else {
                throw .malformed("array at offset \(at) has unknown element type \(rawType)")
            }
            let minimumElementSize = elementType.fixedSize ?? (elementType == .string ? 8 : 12)
            let count = try reader.readCount("array length", limit: reader.remaining / minimumElementSize)
            let elementsOffset = reader.offset
            // Walk the elements once to validate them and find the end of the array.
            if let size = elementType.fixedSize {
                try reader.skip(count * size, "array elements")
                if elementType == .bool {
                    for i in 0..<count where reader.bytes[elementsOffset + i] > 1 {
                        throw .malformed("bool array element \(i) at offset \(elementsOffset + i) is not 0 or 1")
                    }
                }
            } else if elementType == .string {
                for _ in 0..<count { _ = try reader.readStringBytes("array string element") }
            } else {
                for _ in 0..<count { _ = try readValue(type: .array, from: &reader, depth: depth + 1) }
            }
            return .array(GGUFArray(elementType: elementType, count: count, file: reader.bytes, elementsOffset: elementsOffset))
        }
    }

    /// An untrusted key, cut short for an error message.
    private static func quoted(_ text: String) -> String {
        let bytes = text.utf8
        if bytes.count <= quotedBytes { return text }
        return String(decoding: bytes.prefix(quotedBytes), as: UTF8.self) + "…"
    }

    private static func hex(_ value: UInt32) -> String {
        let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
        var s = "0x"
        for shift in stride(from: 28, through: 0, by: -4) { s.append(digits[Int((value >> UInt32(shift)) & 0xF)]) }
        return s
    }
}
