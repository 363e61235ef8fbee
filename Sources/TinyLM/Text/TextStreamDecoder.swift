/// Turns the bytes of generated tokens, arriving a token at a time, into text that is safe to
/// show immediately: only complete UTF-8 characters come out, an incomplete character at the
/// end is held back until the next bytes complete it, and bytes that can no longer form a
/// character become U+FFFD (one per maximal invalid subsequence, as Unicode recommends and
/// Swift's own decoding does).
public struct TextStreamDecoder: Sendable {
    private var pending: [UInt8] = []

    public init() {}

    /// Adds the next bytes; returns the text that is now complete (possibly empty).
    public mutating func append(_ bytes: [UInt8]) -> String {
        pending.append(contentsOf: bytes)
        return drain(final: false)
    }

    /// Ends the stream: whatever is held back can no longer complete and becomes U+FFFD.
    public mutating func finish() -> String {
        drain(final: true)
    }

    /// The number of bytes currently held back.
    public var pendingByteCount: Int { pending.count }

    private mutating func drain(final: Bool) -> String {
        if pending.isEmpty { return "" }
        var out: [UInt8] = []
        out.reserveCapacity(pending.count)
        var i = 0
        let n = pending.count
        while i < n {
            let b = pending[i]
            if b < 0x80 { out.append(b); i += 1; continue }
            let need: Int
            var lo: UInt8 = 0x80, hi: UInt8 = 0xBF  // allowed range of the second byte
            switch b {
            case 0xC2...0xDF: need = 1
            case 0xE0: need = 2; lo = 0xA0
            case 0xE1...0xEC, 0xEE, 0xEF: need = 2
            case 0xED: need = 2; hi = 0x9F
            case 0xF0: need = 3; lo = 0x90
            case 0xF1...0xF3: need = 3
            case 0xF4: need = 3; hi = 0x8F
            default:
                // Never a valid lead byte.
                out.append(contentsOf: Self.replacement)
                i += 1
                continue
            }
            // Count the valid continuation bytes present.
            var k = 1
            var valid = true
            while k <= need {
                if i + k >= n { break }
                let c = pending[i + k]
                let ok = k == 1 ? (c >= lo && c <= hi) : (c & 0xC0 == 0x80)
                if !ok { valid = false; break }
                k += 1
            }
            if valid && k > need {
                out.append(contentsOf: pending[i...(i + need)])
                i += need + 1
            } else if valid {
                // Ran out of bytes: a valid prefix that may still complete.
                if final {
                    out.append(contentsOf: Self.replacement)
                    i = n
                } else {
                    break
                }
            } else {
                // The maximal valid prefix (lead + k-1 continuations) is one error.
                out.append(contentsOf: Self.replacement)
                i += k
            }
        }
        if i >= n { pending.removeAll(keepingCapacity: true) } else { pending.removeFirst(i) }
        return String(decoding: out, as: UTF8.self)
    }

    private static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]
}
