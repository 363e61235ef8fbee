/// Finds stop strings in streamed text. Text that might still turn out to be the start of a
/// stop string is held back until it can be decided, so a caller never shows text that a stop
/// string then has to take back.
public struct StopSequenceMatcher {
    private let stops: [[UInt8]]
    private var pending: [UInt8] = []

    public init(_ stopStrings: [String]) {
        stops = stopStrings.map { Array($0.utf8) }.filter { !$0.isEmpty }
    }

    public enum Result: Equatable {
        /// Text that is safe to emit now (possibly empty).
        case text(String)
        /// A stop string was found: emit this text, which precedes it, and stop.
        case stop(String)
    }

    /// Adds newly decoded text.
    public mutating func append(_ text: String) -> Result {
        if stops.isEmpty { return .text(text) }
        pending.append(contentsOf: text.utf8)
        // Earliest complete occurrence of any stop string.
        var cut: Int? = nil
        for stop in stops {
            if let at = Self.find(stop, in: pending), at < (cut ?? Int.max) { cut = at }
        }
        if let cut {
            let before = String(decoding: pending[0..<cut], as: UTF8.self)
            pending.removeAll()
            return .stop(before)
        }
        // Hold back the longest suffix that is a proper prefix of some stop string.
        var hold = 0
        for stop in stops {
            var n = min(stop.count - 1, pending.count)
            while n > hold {
                if pending[(pending.count - n)...].elementsEqual(stop[0..<n]) { hold = n; break }
                n -= 1
            }
        }
        let emitCount = pending.count - hold
        let out = String(decoding: pending[0..<emitCount], as: UTF8.self)
        pending.removeFirst(emitCount)
        return .text(out)
    }

    /// The text still held back, once generation has ended without a stop string.
    public mutating func flush() -> String {
        let out = String(decoding: pending, as: UTF8.self)
        pending.removeAll()
        return out
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start }
        }
        return nil
    }
}
