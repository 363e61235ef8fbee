/// A bounds-checked little-endian cursor over untrusted bytes. Every read either returns a value
/// that lies entirely inside the buffer or throws `malformedModel` naming what was being read
/// and at which offset, so a truncated or corrupt file can never read out of bounds.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    /// Throws unless `count` more bytes are available; `what` names the field for the message.
    func require(_ count: Int, _ what: StaticString) throws(TinyLMError) {
        if count < 0 || count > remaining {
            throw .malformed("truncated file: \(what) needs \(count) bytes at offset \(offset), but only \(remaining) remain")
        }
    }

    mutating func skip(_ count: Int, _ what: StaticString) throws(TinyLMError) {
        try require(count, what)
        offset += count
    }

    mutating func read<T: FixedWidthInteger>(_ type: T.Type, _ what: StaticString) throws(TinyLMError) -> T {
        try require(MemoryLayout<T>.size, what)
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    mutating func readFloat(_ what: StaticString) throws(TinyLMError) -> Float {
        Float(bitPattern: try read(UInt32.self, what))
    }

    mutating func readDouble(_ what: StaticString) throws(TinyLMError) -> Double {
        Double(bitPattern: try read(UInt64.self, what))
    }

    /// Reads a u64 count and checks that it fits in an Int and is at most `limit`.
    mutating func readCount(_ what: StaticString, limit: Int) throws(TinyLMError) -> Int {
        let start = offset
        let raw = try read(UInt64.self, what)
        if raw > UInt64(limit) {
            throw .malformed("\(what) at offset \(start) is \(raw), more than the limit \(limit) (truncated or corrupt file)")
        }
        return Int(raw)
    }

    /// A GGUF string: u64 byte length, then that many bytes (UTF-8, not terminated).
    mutating func readStringBytes(_ what: StaticString) throws(TinyLMError) -> UnsafeRawBufferPointer {
        let length = try readCount(what, limit: remaining)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
        offset += length
        return slice
    }

    mutating func readString(_ what: StaticString) throws(TinyLMError) -> String {
        String(decoding: try readStringBytes(what), as: UTF8.self)
    }

    /// A GGUF string of at most `limit` bytes (keys and names have limits of their own).
    mutating func readString(_ what: StaticString, limit: Int) throws(TinyLMError) -> String {
        let start = offset
        let length = try read(UInt64.self, what)
        guard length <= UInt64(limit) else {
            throw .malformed("\(what) at offset \(start) is \(length) bytes long, more than the limit \(limit) (truncated or corrupt file)")
        }
        offset = start
        return try readString(what)
    }
}
