/// A 2-D weight tensor used in place: `rows` output features, each a packed row of `columns`
/// input values in `type`'s block format. The pointer views the model file's bytes.
public struct WeightMatrix {
    public let name: String
    public let type: TensorType
    public let rows: Int
    public let columns: Int
    public let data: UnsafeRawPointer

    public init(name: String, type: TensorType, rows: Int, columns: Int, data: UnsafeRawPointer) {
        self.name = name
        self.type = type
        self.rows = rows
        self.columns = columns
        self.data = data
    }

    /// Bytes in one packed row.
    public var rowBytes: Int { columns / type.blockElements * type.blockBytes }

    public func row(_ index: Int) -> UnsafeRawPointer { data + index * rowBytes }
}
