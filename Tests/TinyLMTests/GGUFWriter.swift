import Foundation
@testable import TinyLM

/// Builds small GGUF files in memory for parser tests.
struct GGUFWriter {
    var version: UInt32 = 3
    var metadata: [(String, Value)] = []
    var tensors: [(name: String, shape: [Int], type: TensorType, data: [UInt8])] = []
    var alignment = 32
    /// Every tensor's data at offset 0 (one block, as long as the largest tensor): how a small
    /// file can claim a huge model.
    var sharedData = false

    indirect enum Value {
        case u8(UInt8), i8(Int8), u16(UInt16), i16(Int16), u32(UInt32), i32(Int32), f32(Float), bool(Bool)
        case string(String), array(GGUFValueType, [Value]), u64(UInt64), i64(Int64), f64(Double)

        var type: UInt32 {
            switch self {
            case .u8: 0; case .i8: 1; case .u16: 2; case .i16: 3; case .u32: 4; case .i32: 5; case .f32: 6
            case .bool: 7; case .string: 8; case .array: 9; case .u64: 10; case .i64: 11; case .f64: 12
            }
        }
    }

    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func putString(_ s: String) { put(UInt64(s.utf8.count)); out.append(contentsOf: s.utf8) }
        func putValue(_ v: Value) {
            switch v {
            case .u8(let x): put(x)
            case .i8(let x): put(x)
            case .u16(let x): put(x)
            case .i16(let x): put(x)
            case .u32(let x): put(x)
            case .i32(let x): put(x)
            case .f32(let x): put(x.bitPattern)
            case .bool(let x): put(UInt8(x ? 1 : 0))
            case .string(let s): putString(s)
            case .array(let t, let items):
                put(t.rawValue); put(UInt64(items.count))
                for item in items { putValue(item) }
            case .u64(let x): put(x)
            case .i64(let x): put(x)
            case .f64(let x): put(x.bitPattern)
            }
        }
        out.append(contentsOf: Array("GGUF".utf8))
        put(version)
        put(UInt64(tensors.count))
        put(UInt64(metadata.count))
        for (key, value) in metadata { putString(key); put(value.type); putValue(value) }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(sharedData ? 0 : offset)
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        for (t, o) in zip(tensors, offsets) {
            putString(t.name); put(UInt32(t.shape.count))
            for d in t.shape { put(UInt64(d)) }
            put(t.type.rawValue); put(UInt64(o))
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in sharedData ? [tensors.max { $0.data.count < $1.data.count }!] : tensors {
            out.append(contentsOf: t.data)
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    /// A file with every metadata value type, nested arrays and two tensors.
    static func sample() -> GGUFWriter {
        var w = GGUFWriter()
        w.metadata = [
            ("general.architecture", .string("llama")),
            ("general.name", .string("tiny ü")),
            ("t.u8", .u8(200)), ("t.i8", .i8(-5)), ("t.u16", .u16(60000)), ("t.i16", .i16(-300)),
            ("t.u32", .u32(4_000_000_000)), ("t.i32", .i32(-70000)), ("t.f32", .f32(1.5)), ("t.bool", .bool(true)),
            ("t.u64", .u64(1 << 40)), ("t.i64", .i64(-(1 << 40))), ("t.f64", .f64(2.25)),
            ("t.strings", .array(.string, [.string("a"), .string(""), .string("ĠHello")])),
            ("t.floats", .array(.float32, [.f32(0.5), .f32(-1)])),
            ("t.nested", .array(.array, [.array(.int32, [.i32(1), .i32(2)]), .array(.string, [.string("x")])])),
        ]
        w.tensors = [
            ("a.weight", [4, 2], .f32, (0..<32).map { UInt8($0) }),
            ("b.weight", [32], .q8_0, (0..<34).map { UInt8($0 &* 7) }),
        ]
        return w
    }
}
