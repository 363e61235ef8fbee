/// GPT-2's reversible byte ↔ unicode map: byte-level BPE vocabularies store every token as
/// text in which each raw byte is one printable code point. Printable Latin-1 bytes
/// ('!'…'~', '¡'…'¬', '®'…'ÿ') stand for themselves; the other 68 bytes are numbered in order
/// and mapped to U+0100, U+0101, … (so space 0x20 is 'Ġ' U+0120 and '\n' is 'Ċ' U+010A).
enum ByteLevelEncoding {
    @inline(__always)
    static func isSelfMapped(_ b: UInt8) -> Bool {
        (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)
    }

    /// UTF-8 of the code point for every byte: `encoded[b]`.
    static let encoded: [[UInt8]] = {
        var table: [[UInt8]] = []
        table.reserveCapacity(256)
        var extra: UInt32 = 0
        for b in 0..<256 {
            let cp: UInt32
            if isSelfMapped(UInt8(b)) { cp = UInt32(b) } else { cp = 256 + extra; extra += 1 }
            table.append(utf8(cp))
        }
        return table
    }()

    /// The byte a code point stands for, or nil when it is not one of the 256 (code points
    /// 0…0x143 cover the whole map).
    @inline(__always)
    static func byte(for scalar: UInt32) -> UInt8? {
        decodeTable.withUnsafeBufferPointer { t in
            scalar < UInt32(t.count) && t[Int(scalar)] >= 0 ? UInt8(t[Int(scalar)]) : nil
        }
    }

    private static let decodeTable: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        var extra = 0
        for b in 0..<256 {
            if isSelfMapped(UInt8(b)) { table[b] = Int16(b) } else { table[256 + extra] = Int16(b); extra += 1 }
        }
        return table
    }()

    static func utf8(_ cp: UInt32) -> [UInt8] {
        if cp < 0x80 { return [UInt8(cp)] }
        if cp < 0x800 { return [UInt8(0xC0 | (cp >> 6)), UInt8(0x80 | (cp & 0x3F))] }
        if cp < 0x10000 {
            return [UInt8(0xE0 | (cp >> 12)), UInt8(0x80 | ((cp >> 6) & 0x3F)), UInt8(0x80 | (cp & 0x3F))]
        }
        return [UInt8(0xF0 | (cp >> 18)), UInt8(0x80 | ((cp >> 12) & 0x3F)), UInt8(0x80 | ((cp >> 6) & 0x3F)), UInt8(0x80 | (cp & 0x3F))]
    }

    /// Decodes a vocabulary token's text back to raw bytes, as llama.cpp's `llama_decode_text`
    /// does: each code point maps back to its byte; a code point outside the map is rendered
    /// as "[UNK_BYTE_0x<hex of its UTF-8>" + the whole token text + "]".
    static func decode(_ text: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        var i = 0
        let n = text.count
        while i < n {
            let (cp, len) = UTF8Scanner.decode(text, at: i)
            if let b = byte(for: cp) {
                out.append(b)
            } else {
                out.append(contentsOf: Array("[UNK_BYTE_0x".utf8))
                for k in i..<(i + len) {
                    let v = text[k]
                    out.append(hexDigit(v >> 4)); out.append(hexDigit(v & 15))
                }
                out.append(contentsOf: text)
                out.append(UInt8(ascii: "]"))
            }
            i += len
        }
    }

    @inline(__always)
    static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x61 + v - 10 }

    @inline(__always)
    static func hexDigitUpper(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x41 + v - 10 }
}

/// Minimal UTF-8 decoding over raw bytes, with llama.cpp's error policy: an invalid or
/// truncated sequence yields U+FFFD and consumes one byte.
enum UTF8Scanner {
    @inline(__always)
    static func sequenceLength(lead: UInt8) -> Int {
        // llama.cpp's unicode_len_utf8: by the high nibble only.
        switch lead >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }

    /// (code point, bytes consumed) at `i`.
    @inline(__always)
    static func decode(_ b: UnsafeRawBufferPointer, at i: Int) -> (UInt32, Int) {
        let n = b.count
        let c0 = b[i]
        if c0 < 0x80 { return (UInt32(c0), 1) }
        if c0 & 0x40 == 0 { return (0xFFFD, 1) }
        @inline(__always) func cont(_ k: Int) -> UInt32? {
            guard i + k < n, b[i + k] & 0xC0 == 0x80 else { return nil }
            return UInt32(b[i + k] & 0x3F)
        }
        if c0 & 0x20 == 0 {
            guard let c1 = cont(1) else { return (0xFFFD, 1) }
            return ((UInt32(c0 & 0x1F) << 6) | c1, 2)
        }
        if c0 & 0x10 == 0 {
            guard let c1 = cont(1), let c2 = cont(2) else { return (0xFFFD, 1) }
            return ((UInt32(c0 & 0x0F) << 12) | (c1 << 6) | c2, 3)
        }
        if c0 & 0x08 == 0 {
            guard let c1 = cont(1), let c2 = cont(2), let c3 = cont(3) else { return (0xFFFD, 1) }
            return ((UInt32(c0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3, 4)
        }
        return (0xFFFD, 1)
    }
}
