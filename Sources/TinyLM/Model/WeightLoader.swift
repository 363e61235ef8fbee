/// Looks up a model's tensors by their GGUF names and checks each one's shape and type once,
/// at load time, so the forward pass can use them without any checks.
struct WeightLoader {
    let gguf: GGUFFile

    /// A matrix of `rows` × `columns` (GGUF shape [columns, rows]) in a format the kernels support.
    func matrix(_ name: String, rows: Int, columns: Int) throws(TinyLMError) -> WeightMatrix {
        guard let info = gguf.tensorInfo(named: name) else { throw .malformed("missing tensor '\(name)'") }
        return try matrix(info, rows: rows, columns: columns)
    }

    func optionalMatrix(_ name: String, rows: Int, columns: Int) throws(TinyLMError) -> WeightMatrix? {
        guard let info = gguf.tensorInfo(named: name) else { return nil }
        return try matrix(info, rows: rows, columns: columns)
    }

    private func matrix(_ info: GGUFTensorInfo, rows: Int, columns: Int) throws(TinyLMError) -> WeightMatrix {
        let shape = info.shape
        let actualRows = shape.count > 1 ? shape[1] : 1
        guard shape[0] == columns, actualRows == rows, shape.dropFirst(2).allSatisfy({ $0 == 1 }) else {
            throw .malformed("tensor '\(info.name)' has shape \(shape), expected [\(columns), \(rows)]")
        }
        guard MatrixMultiply.isSupported(info.type) else {
            throw .unsupported("tensor '\(info.name)' uses type \(info.type.name), which this runtime does not support yet")
        }
        return WeightMatrix(name: info.name, type: info.type, rows: rows, columns: columns, data: gguf.tensorData(info))
    }

    /// An F32 vector of `count` values (norm weights, biases).
    func vector(_ name: String, count: Int) throws(TinyLMError) -> UnsafePointer<Float> {
        guard let vector = try optionalVector(name, count: count) else { throw .malformed("missing tensor '\(name)'") }
        return vector
    }

    func optionalVector(_ name: String, count: Int) throws(TinyLMError) -> UnsafePointer<Float>? {
        guard let info = gguf.tensorInfo(named: name) else { return nil }
        guard info.elementCount == count else {
            throw .malformed("tensor '\(name)' has \(info.elementCount) values, expected \(count)")
        }
        guard info.type == .f32 else {
            throw .unsupported("tensor '\(name)' is \(info.type.name); norm weights and biases must be F32")
        }
        let raw = gguf.tensorData(info)
        guard Int(bitPattern: raw) % MemoryLayout<Float>.alignment == 0 else {
            throw .malformed("tensor '\(name)' data is not 4-byte aligned in memory")
        }
        return raw.assumingMemoryBound(to: Float.self)
    }
}
