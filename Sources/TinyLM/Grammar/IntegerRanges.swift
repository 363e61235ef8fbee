/// Grammars for decimal numbers within bounds: the digit strings of an integer range split
/// into prefix-sharing pieces (like `1[8-9] | [2-9][0-9] | [1-9][0-9]{2,15}` for ≥ 18), and
/// decimal fractions around whole-number bounds.
enum IntegerRanges {
    /// Unbounded magnitudes have at most this many digits (keeps outputs within Int64 and
    /// keeps a small model from writing digits forever).
    static let maxDigits = 16

    private static let digit = GrammarExpression.bytes(ByteSet(0x30, 0x39))

    /// Integers in `lo...hi` (nil: unbounded on that side), without leading zeros or `-0`.
    static func expression(_ lo: Int64?, _ hi: Int64?) -> GrammarExpression {
        var options: [GrammarExpression] = []
        if lo == nil || lo! < 0 {
            let magnitudeLo: Int64 = (hi == nil || hi! >= 0) ? 1 : -hi!
            let magnitudeHi: Int64? = lo.map { -$0 }
            options.append(.sequence([.string("-"), .choice(unsigned(magnitudeLo, magnitudeHi))]))
        }
        if hi == nil || hi! >= 0 {
            options.insert(.choice(unsigned(max(lo ?? 0, 0), hi)), at: 0)
        }
        return options.count == 1 ? options[0] : .choice(options)
    }

    /// Decimal numbers (no exponent) in the interval with whole-number bounds.
    static func decimalExpression(lo: Int64?, loExclusive: Bool, hi: Int64?, hiExclusive: Bool) -> GrammarExpression {
        var options: [GrammarExpression] = []
        let positive = hi == nil || hi! > 0 || (hi! == 0 && !hiExclusive)
        if positive {
            let start = max(lo ?? 0, 0)
            let startExclusive = (lo ?? -1) >= 0 ? loExclusive : false
            options.append(.choice(magnitude(start, startExclusive, hi, hiExclusive)))
        }
        if lo == nil || lo! < 0 {
            let mLo: Int64 = (hi == nil || hi! >= 0) ? 0 : -hi!
            let mLoExclusive = (hi == nil || hi! >= 0) ? true : hiExclusive
            let mHi: Int64? = lo.map { -$0 }
            options.append(.sequence([.string("-"), .choice(magnitude(mLo, mLoExclusive, mHi, loExclusive))]))
        }
        return options.count == 1 ? options[0] : .choice(options)
    }

    /// Non-negative decimals m with a ≤ m ≤ b (exclusive where flagged), `b` nil = unbounded.
    private static func magnitude(_ a: Int64, _ aExclusive: Bool, _ b: Int64?, _ bExclusive: Bool) -> [GrammarExpression] {
        let anyFraction = GrammarExpression.optional(.sequence([.string("."), .repetition(digit, min: 1, max: maxDigits)]))
        let zeroFraction = GrammarExpression.optional(.sequence([.string("."), .repetition(.string("0"), min: 1, max: maxDigits)]))
        let nonZeroFraction = GrammarExpression.sequence([
            .string("."), .repetition(.string("0"), min: 0, max: maxDigits - 1),
            .bytes(ByteSet(0x31, 0x39)), .repetition(digit, min: 0, max: maxDigits - 1),
        ])
        func whole(_ v: Int64) -> GrammarExpression { .string(String(v)) }
        if let b, b == a { return [.sequence([whole(a), zeroFraction])] }
        var out: [GrammarExpression] = []
        out.append(.sequence([whole(a), aExclusive ? nonZeroFraction : anyFraction]))
        if b == nil || b! - 1 >= a + 1 {
            out.append(.sequence([.choice(unsigned(a + 1, b.map { $0 - 1 })), anyFraction]))
        }
        if let b, !bExclusive { out.append(.sequence([whole(b), zeroFraction])) }
        return out
    }

    /// Alternatives matching the decimal digits of every integer in a...b (a ≥ 0; b nil:
    /// up to `maxDigits` digits).
    static func unsigned(_ a: Int64, _ b: Int64?) -> [GrammarExpression] {
        let first = digitCount(a)
        var out: [GrammarExpression] = []
        if let b {
            if b < a { return [] }
            for length in first...digitCount(b) {
                let lo = max(a, length == 1 ? 0 : power(length - 1))
                let hi = min(b, power(length) - 1)
                if lo <= hi { out += sameLength(digits(lo), digits(hi), 0) }
            }
        } else {
            out += sameLength(digits(a), digits(power(first) - 1), 0)
            if first < maxDigits {
                out.append(.sequence([.bytes(ByteSet(0x31, 0x39)), .repetition(digit, min: first, max: maxDigits - 1)]))
            }
        }
        return out
    }

    private static func power(_ n: Int) -> Int64 {
        var p: Int64 = 1
        for _ in 0..<n { p *= 10 }
        return p
    }

    private static func digitCount(_ v: Int64) -> Int {
        var n = 1, x = v
        while x >= 10 { x /= 10; n += 1 }
        return n
    }

    private static func digits(_ v: Int64) -> [UInt8] { Array(String(v).utf8) }

    /// Digit strings from A to B (same length, equal before i).
    private static func sameLength(_ A: [UInt8], _ B: [UInt8], _ i: Int) -> [GrammarExpression] {
        let n = A.count
        if i == n - 1 { return [.bytes(ByteSet(A[i], B[i]))] }
        if A[i] == B[i] { return [.sequence([.literal([A[i]]), .choice(sameLength(A, B, i + 1))])] }
        var tailIsMin = true, tailIsMax = true
        for j in (i + 1)..<n {
            if A[j] != 0x30 { tailIsMin = false }
            if B[j] != 0x39 { tailIsMax = false }
        }
        var out: [GrammarExpression] = []
        var midLo = A[i], midHi = B[i]
        if !tailIsMin {
            var top = A
            for j in (i + 1)..<n { top[j] = 0x39 }
            out.append(.sequence([.literal([A[i]]), .choice(sameLength(A, top, i + 1))]))
            midLo += 1
        }
        if !tailIsMax { midHi -= 1 }
        if midLo <= midHi {
            out.append(.sequence([.bytes(ByteSet(midLo, midHi)), .repetition(digit, min: n - 1 - i, max: n - 1 - i)]))
        }
        if !tailIsMax {
            var bottom = B
            for j in (i + 1)..<n { bottom[j] = 0x30 }
            out.append(.sequence([.literal([B[i]]), .choice(sameLength(bottom, B, i + 1))]))
        }
        return out
    }
}
