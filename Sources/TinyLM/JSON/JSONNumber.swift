// Number text conversions without libc: correctly rounded decimal -> Double, and
// Double -> text in Python `repr` style (shortest round-trip digits).

enum DecimalConversion {
    /// Exact powers of ten representable as Double.
    static let exactPowers: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// The Double nearest to `digits × 10^exponent` (digits are 0...9 values, most significant
    /// first), rounding half to even.
    static func double(digits rawDigits: [UInt8], exponent rawExponent: Int) -> Double {
        // Strip leading zeros; trailing zeros move into the exponent.
        var start = 0
        while start < rawDigits.count, rawDigits[start] == 0 { start += 1 }
        var end = rawDigits.count
        var exponent = rawExponent
        while end > start, rawDigits[end - 1] == 0 { end -= 1; exponent += 1 }
        if start == end { return 0 }
        var count = end - start
        // Keep at most 800 significant digits; the rest only matters as a sticky bit.
        var truncated = false
        if count > 800 {
            for k in (start + 800)..<end where rawDigits[k] != 0 { truncated = true; break }
            exponent += count - 800
            count = 800
        }
        // Magnitude checks: value lies in [10^(count-1+exponent), 10^(count+exponent)).
        if count + exponent > 310 { return .infinity }
        if count + exponent < -330 { return 0 }
        if !truncated, count <= 15, exponent >= -22, exponent <= 22 {
            var v: Int64 = 0
            for k in start..<(start + count) { v = v * 10 + Int64(rawDigits[k]) }
            let d = Double(v)
            return exponent >= 0 ? d * exactPowers[exponent] : d / exactPowers[-exponent]
        }
        var mantissa = BigUInt(0)
        for k in start..<(start + count) {
            mantissa.multiply(by: 10)
            mantissa.add(UInt32(rawDigits[k]))
        }
        if exponent >= 0 {
            mantissa.multiply(byPowerOfTen: exponent)
            return roundToDouble(mantissa, sticky: truncated, binaryExponent: 0)
        }
        var divisor = BigUInt(1)
        divisor.multiply(byPowerOfTen: -exponent)
        let shift = max(0, divisor.bitLength - mantissa.bitLength + 66)
        mantissa.shiftLeft(shift)
        let (quotient, remainderIsZero) = mantissa.divided(by: divisor)
        return roundToDouble(quotient, sticky: truncated || !remainderIsZero, binaryExponent: -shift)
    }

    /// Rounds `(q + f) × 2^binaryExponent` (0 ≤ f < 1, f > 0 iff sticky) to the nearest Double.
    static func roundToDouble(_ q: BigUInt, sticky: Bool, binaryExponent: Int) -> Double {
        let length = q.bitLength
        if length == 0 { return 0 }
        let leading = length - 1 + binaryExponent
        if leading > 1023 { return .infinity }
        let precision = leading >= -1022 ? 53 : leading + 1075
        if precision < 0 { return 0 }
        if precision == 0 {
            // Value in [2^-1075, 2^-1074): ties (exactly 2^-1075) go to even (zero).
            let exactHalf = !sticky && q.isPowerOfTwo
            return exactHalf ? 0 : Double.leastNonzeroMagnitude
        }
        let shift = length - precision
        var m: UInt64
        if shift <= 0 {
            m = q.low64 << UInt64(-shift)
        } else {
            m = q.bits(from: shift, count: precision)
            let roundBit = q.bit(shift - 1)
            let below = sticky || q.anyBitSet(below: shift - 1)
            if roundBit && (below || (m & 1) == 1) { m += 1 }
        }
        return Double(sign: .plus, exponent: binaryExponent + shift, significand: Double(m))
    }
}

/// Minimal arbitrary-precision unsigned integer (little-endian 32-bit limbs) for decimal conversion.
struct BigUInt {
    var limbs: [UInt32]

    init(_ value: UInt32) { limbs = value == 0 ? [] : [value] }

    var bitLength: Int {
        guard let top = limbs.last else { return 0 }
        return (limbs.count - 1) * 32 + (32 - top.leadingZeroBitCount)
    }

    var isPowerOfTwo: Bool {
        guard let top = limbs.last else { return false }
        if top.nonzeroBitCount != 1 { return false }
        for i in 0..<(limbs.count - 1) where limbs[i] != 0 { return false }
        return true
    }

    var low64: UInt64 {
        var v: UInt64 = 0
        if limbs.count > 0 { v = UInt64(limbs[0]) }
        if limbs.count > 1 { v |= UInt64(limbs[1]) << 32 }
        return v
    }

    func bit(_ i: Int) -> Bool {
        if i < 0 { return false }
        let limb = i / 32
        if limb >= limbs.count { return false }
        return (limbs[limb] >> UInt32(i % 32)) & 1 == 1
    }

    /// Bits [from, from + count) as an integer (count ≤ 64).
    func bits(from: Int, count: Int) -> UInt64 {
        var v: UInt64 = 0
        var i = count - 1
        while i >= 0 {
            v = v << 1 | (bit(from + i) ? 1 : 0)
            i -= 1
        }
        return v
    }

    func anyBitSet(below n: Int) -> Bool {
        if n <= 0 { return false }
        let fullLimbs = n / 32
        for i in 0..<min(fullLimbs, limbs.count) where limbs[i] != 0 { return true }
        let rem = n % 32
        if rem > 0, fullLimbs < limbs.count {
            if limbs[fullLimbs] & ((UInt32(1) << UInt32(rem)) - 1) != 0 { return true }
        }
        return false
    }

    mutating func multiply(by factor: UInt32) {
        var carry: UInt64 = 0
        for i in 0..<limbs.count {
            let p = UInt64(limbs[i]) * UInt64(factor) + carry
            limbs[i] = UInt32(truncatingIfNeeded: p)
            carry = p >> 32
        }
        if carry != 0 { limbs.append(UInt32(carry)) }
    }

    mutating func multiply(byPowerOfTen n: Int) {
        var remaining = n
        while remaining >= 9 { multiply(by: 1_000_000_000); remaining -= 9 }
        var f: UInt32 = 1
        while remaining > 0 { f *= 10; remaining -= 1 }
        if f > 1 { multiply(by: f) }
    }

    mutating func add(_ value: UInt32) {
        var carry = UInt64(value)
        var i = 0
        while carry != 0 {
            if i == limbs.count { limbs.append(0) }
            let s = UInt64(limbs[i]) + carry
            limbs[i] = UInt32(truncatingIfNeeded: s)
            carry = s >> 32
            i += 1
        }
    }

    mutating func shiftLeft(_ n: Int) {
        if n <= 0 || limbs.isEmpty { return }
        let limbShift = n / 32
        let bitShift = UInt32(n % 32)
        if bitShift > 0 {
            var carry: UInt32 = 0
            for i in 0..<limbs.count {
                let v = limbs[i]
                limbs[i] = (v << bitShift) | carry
                carry = v >> (32 - bitShift)
            }
            if carry != 0 { limbs.append(carry) }
        }
        if limbShift > 0 { limbs.insert(contentsOf: [UInt32](repeating: 0, count: limbShift), at: 0) }
    }

    static func compare(_ a: [UInt32], _ b: [UInt32]) -> Int {
        if a.count != b.count { return a.count < b.count ? -1 : 1 }
        var i = a.count - 1
        while i >= 0 {
            if a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
            i -= 1
        }
        return 0
    }

    /// a -= b (requires a ≥ b); trims leading zero limbs.
    static func subtract(_ a: inout [UInt32], _ b: [UInt32]) {
        var borrow: Int64 = 0
        for i in 0..<a.count {
            var d = Int64(a[i]) - borrow - (i < b.count ? Int64(b[i]) : 0)
            if d < 0 { d += 1 << 32; borrow = 1 } else { borrow = 0 }
            a[i] = UInt32(d)
        }
        while let last = a.last, last == 0 { a.removeLast() }
    }

    /// Quotient and whether the remainder is zero (binary long division).
    func divided(by divisor: BigUInt) -> (BigUInt, Bool) {
        var remainder = self
        var quotient = BigUInt(0)
        let diff = bitLength - divisor.bitLength
        if diff < 0 { return (quotient, limbs.isEmpty) }
        quotient.limbs = [UInt32](repeating: 0, count: diff / 32 + 1)
        var shifted = divisor
        shifted.shiftLeft(diff)
        var i = diff
        while i >= 0 {
            if BigUInt.compare(remainder.limbs, shifted.limbs) >= 0 {
                BigUInt.subtract(&remainder.limbs, shifted.limbs)
                quotient.limbs[i / 32] |= UInt32(1) << UInt32(i % 32)
            }
            shifted.shiftRightOne()
            i -= 1
        }
        while let last = quotient.limbs.last, last == 0 { quotient.limbs.removeLast() }
        return (quotient, remainder.limbs.isEmpty)
    }

    mutating func shiftRightOne() {
        var carry: UInt32 = 0
        var i = limbs.count - 1
        while i >= 0 {
            let v = limbs[i]
            limbs[i] = (v >> 1) | carry
            carry = v << 31
            i -= 1
        }
        while let last = limbs.last, last == 0 { limbs.removeLast() }
    }
}

enum PythonFloatFormat {
    /// `repr(x)` of a Python float: shortest round-trip digits, fixed notation for decimal
    /// exponents in [-4, 16), otherwise `d.ddde+XX`; "inf", "-inf", "nan".
    static func repr(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description yields the shortest round-trip digits; re-layout them.
        let text = value.description
        var digits: [UInt8] = []
        var pointPosition: Int? = nil
        var exponent = 0
        var negative = false
        var sawExponent = false
        var expSign = 1
        for b in text.utf8 {
            if sawExponent {
                if b == UInt8(ascii: "-") { expSign = -1 } else if isDigit(b) { exponent = exponent * 10 + Int(b - 48) }
                continue
            }
            switch b {
            case UInt8(ascii: "-"): negative = true
            case UInt8(ascii: "."): pointPosition = digits.count
            case UInt8(ascii: "e"), UInt8(ascii: "E"): sawExponent = true
            default: if isDigit(b) { digits.append(b) }
            }
        }
        exponent *= expSign
        // value = 0.d1d2d3... × 10^(point + exponent) in "digits with point" form.
        var point = (pointPosition ?? digits.count) + exponent
        while let first = digits.first, first == UInt8(ascii: "0") {
            digits.removeFirst()
            point -= 1
        }
        while let last = digits.last, last == UInt8(ascii: "0") { digits.removeLast() }
        if digits.isEmpty { return negative ? "-0.0" : "0.0" }
        let decimalExponent = point - 1  // exponent of the first significant digit
        var out: [UInt8] = []
        if negative { out.append(UInt8(ascii: "-")) }
        if decimalExponent >= -4 && decimalExponent < 16 {
            if point <= 0 {
                out.append(UInt8(ascii: "0"))
                out.append(UInt8(ascii: "."))
                for _ in 0..<(-point) { out.append(UInt8(ascii: "0")) }
                out.append(contentsOf: digits)
            } else if point >= digits.count {
                out.append(contentsOf: digits)
                for _ in 0..<(point - digits.count) { out.append(UInt8(ascii: "0")) }
                out.append(UInt8(ascii: "."))
                out.append(UInt8(ascii: "0"))
            } else {
                out.append(contentsOf: digits[0..<point])
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: digits[point...])
            }
        } else {
            out.append(digits[0])
            if digits.count > 1 {
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: digits[1...])
            }
            out.append(UInt8(ascii: "e"))
            out.append(decimalExponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            let e = decimalExponent < 0 ? -decimalExponent : decimalExponent
            if e < 10 { out.append(UInt8(ascii: "0")) }
            out.append(contentsOf: Array(String(e).utf8))
        }
        return String(decoding: out, as: UTF8.self)
    }
}
