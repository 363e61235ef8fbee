/// Lowercase hexadecimal, strict: the spelling of hashes, keys and signatures in manifests.
public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Exactly `count` bytes written as 2·count lowercase hex digits; nil otherwise.
    public static func decode(_ text: String, count: Int) -> [UInt8]? {
        guard text.utf8.count == count * 2 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var high: UInt8 = 0
        for (i, unit) in text.utf8.enumerated() {
            let value: UInt8
            switch unit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = unit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = unit - UInt8(ascii: "a") + 10
            default: return nil
            }
            if i % 2 == 0 { high = value } else { out.append(high << 4 | value) }
        }
        return out
    }
}
