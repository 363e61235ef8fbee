/// Where a lazily constrained output begins (llama.cpp's "lazy grammar"): generation runs free,
/// and once the output reaches the trigger the grammar takes over from the trigger's first byte,
/// so that what follows is always a valid match. This is how tool_choice "auto" lets a model
/// either answer in text or call a tool: the call's opening is the trigger.
///
/// `TextGenerator` watches the output bytes with `start(in:newFrom:)` until the trigger appears
/// (or can no longer appear).
public struct ConstraintTrigger: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// This text anywhere in the output (a template's call opening, e.g. `<tool_call>`).
        case marker([UInt8])
        /// The output's first byte other than whitespace is one of these (a call written as bare
        /// JSON at the start of the answer, by templates without a marker).
        case leadingByte([UInt8])
    }

    public var kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    /// The trigger for a tool call in `format`: its opening marker without trailing whitespace
    /// (the grammar still asks for the rest), or, without one, a JSON object or list at the start.
    public init(toolCallFormat format: ToolCallFormat) {
        var marker = Array(format.prefix.utf8)
        while let last = marker.last, Self.isWhitespace(last) { marker.removeLast() }
        if marker.isEmpty {
            kind = .leadingByte(format.callsInList ? [UInt8(ascii: "[")] : [UInt8(ascii: "{")])
        } else {
            kind = .marker(marker)
        }
    }

    /// The byte offset in `output` where the constrained part starts, once the trigger is there;
    /// nil while it is not. `newFrom`: how many bytes of `output` were already looked at (a
    /// marker may straddle them and the new ones).
    public func start(in output: [UInt8], newFrom: Int) -> Int? {
        switch kind {
        case .marker(let marker):
            guard output.count >= marker.count else { return nil }
            let first = max(0, newFrom - marker.count + 1)
            guard first <= output.count - marker.count else { return nil }
            for start in first...(output.count - marker.count) where output[start] == marker[0] {
                var i = 1
                while i < marker.count && output[start + i] == marker[i] { i += 1 }
                if i == marker.count { return start }
            }
            return nil
        case .leadingByte(let bytes):
            for (i, b) in output.enumerated() where !Self.isWhitespace(b) {
                return bytes.contains(b) ? i : nil
            }
            return nil
        }
    }

    /// Whether the trigger can no longer appear in an output that begins with `output`.
    public func isExcluded(by output: [UInt8]) -> Bool {
        guard case .leadingByte(let bytes) = kind else { return false }
        for b in output where !Self.isWhitespace(b) { return !bytes.contains(b) }
        return false
    }

    /// How many of the output's last bytes `start(in:newFrom:)` needs to find a trigger that
    /// begins before the next token: a marker's length less one. (A leading byte needs none: the
    /// output before it is whitespace, and `isExcluded` settles the rest.)
    public var bytesToKeep: Int {
        switch kind {
        case .marker(let marker): return marker.count - 1
        case .leadingByte: return 0
        }
    }

    static func isWhitespace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }
}
