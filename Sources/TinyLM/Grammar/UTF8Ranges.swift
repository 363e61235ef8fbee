/// Turns sets of Unicode scalar values into byte-level patterns: the grammar matches bytes, so
/// a character class like `[^"\\]` or `[α-ω]` becomes alternatives of byte-set sequences that
/// match exactly the UTF-8 encodings of its characters (never a surrogate, never an overlong
/// form).
enum UTF8Ranges {
    static let maxScalar: UInt32 = 0x10FFFF

    /// Sorted, merged ranges of scalar values, with surrogates removed and the result clamped to
    /// 0...0x10FFFF. `negated` complements the set first.
    static func normalize(_ ranges: [(UInt32, UInt32)], negated: Bool) -> [(UInt32, UInt32)] {
        var list = ranges.filter { $0.0 <= $0.1 && $0.0 <= maxScalar }.map { ($0.0, min($0.1, maxScalar)) }
        list.sort { $0.0 < $1.0 }
        var merged: [(UInt32, UInt32)] = []
        for r in list {
            if let last = merged.last, r.0 <= last.1 &+ 1 {
                merged[merged.count - 1].1 = max(last.1, r.1)
            } else {
                merged.append(r)
            }
        }
        if negated {
            var complement: [(UInt32, UInt32)] = []
            var next: UInt32 = 0
            for r in merged {
                if r.0 > next { complement.append((next, r.0 - 1)) }
                next = r.1 &+ 1
                if r.1 == maxScalar { next = maxScalar + 1 }
            }
            if next <= maxScalar { complement.append((next, maxScalar)) }
            merged = complement
        }
        // Remove the surrogate block D800...DFFF.
        var out: [(UInt32, UInt32)] = []
        for r in merged {
            if r.1 < 0xD800 || r.0 > 0xDFFF { out.append(r); continue }
            if r.0 < 0xD800 { out.append((r.0, 0xD7FF)) }
            if r.1 > 0xDFFF { out.append((0xE000, r.1)) }
        }
        return out
    }

    /// Alternatives, each a sequence of byte sets, matching the UTF-8 encodings of the scalars
    /// in `ranges` (already normalized). One-byte characters come first, merged into one set.
    static func sequences(_ ranges: [(UInt32, UInt32)]) -> [[ByteSet]] {
        var ascii = ByteSet()
        var out: [[ByteSet]] = []
        let bounds: [(UInt32, UInt32)] = [(0, 0x7F), (0x80, 0x7FF), (0x800, 0xFFFF), (0x10000, 0x10FFFF)]
        for r in ranges {
            for (length, b) in bounds.enumerated() {
                let lo = max(r.0, b.0), hi = min(r.1, b.1)
                if lo > hi { continue }
                if length == 0 {
                    ascii.formUnion(ByteSet(UInt8(lo), UInt8(hi)))
                } else {
                    split(encode(lo), encode(hi), 0, prefix: [], into: &out)
                }
            }
        }
        if !ascii.isEmpty { out.insert([ascii], at: 0) }
        return out
    }

    static func encode(_ scalar: UInt32) -> [UInt8] {
        switch scalar {
        case 0..<0x80:
            return [UInt8(scalar)]
        case 0x80..<0x800:
            return [UInt8(0xC0 | (scalar >> 6)), UInt8(0x80 | (scalar & 0x3F))]
        case 0x800..<0x10000:
            return [UInt8(0xE0 | (scalar >> 12)), UInt8(0x80 | ((scalar >> 6) & 0x3F)), UInt8(0x80 | (scalar & 0x3F))]
        default:
            return [UInt8(0xF0 | (scalar >> 18)), UInt8(0x80 | ((scalar >> 12) & 0x3F)),
                    UInt8(0x80 | ((scalar >> 6) & 0x3F)), UInt8(0x80 | (scalar & 0x3F))]
        }
    }

    /// All byte strings from `lo` to `hi` (same length, equal before `i`) whose bytes after the
    /// first are continuation bytes, as byte-set sequences.
    private static func split(_ lo: [UInt8], _ hi: [UInt8], _ i: Int, prefix: [ByteSet], into out: inout [[ByteSet]]) {
        let n = lo.count
        if i == n - 1 {
            out.append(prefix + [ByteSet(lo[i], hi[i])])
            return
        }
        if lo[i] == hi[i] {
            split(lo, hi, i + 1, prefix: prefix + [ByteSet(lo[i])], into: &out)
            return
        }
        let any = ByteSet(0x80, 0xBF)
        var tailIsMin = true, tailIsMax = true
        for j in (i + 1)..<n {
            if lo[j] != 0x80 { tailIsMin = false }
            if hi[j] != 0xBF { tailIsMax = false }
        }
        var midLo = lo[i], midHi = hi[i]
        if !tailIsMin {
            var top = lo
            for j in (i + 1)..<n { top[j] = 0xBF }
            split(lo, top, i + 1, prefix: prefix + [ByteSet(lo[i])], into: &out)
            midLo += 1
        }
        if !tailIsMax { midHi -= 1 }
        if midLo <= midHi {
            out.append(prefix + [ByteSet(midLo, midHi)] + Array(repeating: any, count: n - 1 - i))
        }
        if !tailIsMax {
            var bottom = hi
            for j in (i + 1)..<n { bottom[j] = 0x80 }
            split(bottom, hi, i + 1, prefix: prefix + [ByteSet(hi[i])], into: &out)
        }
    }
}
