/// A set of byte strings stored back to back in one buffer, numbered 0..<count in insertion
/// order, with an open-addressing hash index from bytes to number. This is how the tokenizer
/// maps text to token ids without building a `String` (or any per-token allocation) for each of
/// the hundreds of thousands of vocabulary entries.
struct ByteStringTable {
    /// All strings, concatenated.
    private(set) var storage: [UInt8] = []
    /// `offsets[i] ..< offsets[i + 1]` is string i in `storage`.
    private(set) var offsets: [Int32] = [0]
    /// Hash index, one word per slot: high 32 bits a hash tag, low 32 bits string number + 1
    /// (0 = empty). One memory access per probe. Capacity is a power of two, at most half full.
    private var slots: [UInt64] = []
    private var mask: Int = 0

    var count: Int { offsets.count - 1 }

    init() {}

    /// Prepares for `expectedCount` strings totalling about `expectedBytes` bytes.
    init(expectedCount: Int, expectedBytes: Int = 0) {
        storage.reserveCapacity(expectedBytes)
        offsets.reserveCapacity(expectedCount + 1)
        var capacity = 16
        while capacity < expectedCount * 2 { capacity <<= 1 }
        slots = [UInt64](repeating: 0, count: capacity)
        mask = capacity - 1
    }

    // MARK: Hashing (8 bytes at a time, multiply-xorshift mixing)

    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let n = bytes.count
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(n)
        guard let base = bytes.baseAddress else { return mix(h) }
        var i = 0
        while i + 8 <= n {
            h = (h ^ base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        if i < n {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                tail |= UInt64(base.load(fromByteOffset: i, as: UInt8.self)) << shift
                shift += 8
                i += 1
            }
            h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
        }
        return mix(h)
    }

    @inline(__always)
    private static func mix(_ h: UInt64) -> UInt64 {
        var x = h
        x ^= x >> 33
        x = x &* 0xff51_afd7_ed55_8ccd
        x ^= x >> 33
        return x
    }

    // MARK: Access

    /// String `index` as a view into the storage (valid only inside `body`).
    @inline(__always)
    func withBytes<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let start = Int(offsets[index]), end = Int(offsets[index + 1])
        return storage.withUnsafeBytes { raw in
            body(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
        }
    }

    func bytes(_ index: Int) -> [UInt8] {
        Array(storage[Int(offsets[index])..<Int(offsets[index + 1])])
    }

    func length(_ index: Int) -> Int { Int(offsets[index + 1] - offsets[index]) }

    // MARK: Insert / lookup

    /// Appends `bytes` as string number `count` and indexes it. Returns the number of an equal
    /// string already present instead (the new one is still appended, so numbering stays
    /// aligned with the caller's ids), or nil when it was new.
    @discardableResult
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let index = count
        if (index + 1) * 2 > slots.count { grow(to: index + 1) }
        let h = Self.hash(bytes)
        let existing = find(bytes, hash: h)
        if bytes.count > 0 {
            storage.append(contentsOf: UnsafeBufferPointer(start: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: bytes.count))
        }
        offsets.append(Int32(storage.count))
        if existing == nil { insertIndex(index, hash: h) }
        return existing
    }

    @discardableResult
    mutating func append(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { append($0) }
    }

    @inline(__always)
    private mutating func insertIndex(_ index: Int, hash h: UInt64) {
        let entry = (h & 0xFFFF_FFFF_0000_0000) | UInt64(index + 1)
        var slot = Int(truncatingIfNeeded: h) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = entry
    }

    private mutating func grow(to needed: Int) {
        var capacity = max(16, slots.count * 2)
        while capacity < needed * 2 { capacity <<= 1 }
        slots = [UInt64](repeating: 0, count: capacity)
        mask = capacity - 1
        for i in 0..<count {
            let h = withBytes(i) { Self.hash($0) }
            insertIndex(i, hash: h)
        }
    }

    /// The number of the string equal to `bytes`, or nil.
    @inline(__always)
    func find(_ bytes: UnsafeRawBufferPointer) -> Int? {
        if slots.isEmpty { return nil }
        return find(bytes, hash: Self.hash(bytes))
    }

    func find(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { find($0) }
    }

    func find(_ text: String) -> Int? {
        var text = text
        return text.withUTF8 { find(UnsafeRawBufferPointer($0)) }
    }

    /// The number of the string equal to `first` followed by `second`, or nil.
    func find(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> Int? {
        let n1 = first.count, n = first.count + second.count
        return withUnsafeTemporaryAllocation(byteCount: max(n, 1), alignment: 8) { joined in
            if n1 > 0 { joined.baseAddress!.copyMemory(from: first.baseAddress!, byteCount: n1) }
            if n > n1 { (joined.baseAddress! + n1).copyMemory(from: second.baseAddress!, byteCount: n - n1) }
            return find(UnsafeRawBufferPointer(rebasing: joined[0..<n]))
        }
    }

    private func find(_ bytes: UnsafeRawBufferPointer, hash h: UInt64) -> Int? {
        let tag = h & 0xFFFF_FFFF_0000_0000
        let n = bytes.count
        return slots.withUnsafeBufferPointer { slots in
            offsets.withUnsafeBufferPointer { offsets in
                storage.withUnsafeBytes { storage in
                    var slot = Int(truncatingIfNeeded: h) & mask
                    while true {
                        let entry = slots[slot]
                        if entry == 0 { return nil }
                        if entry & 0xFFFF_FFFF_0000_0000 == tag {
                            let i = Int(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1
                            let start = Int(offsets[i])
                            if Int(offsets[i + 1]) - start == n
                                && (n == 0 || memoryEqual(storage.baseAddress! + start, bytes.baseAddress!, n)) {
                                return i
                            }
                        }
                        slot = (slot + 1) & mask
                    }
                }
            }
        }
    }
}

@inline(__always)
func memoryEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    var i = 0
    while i + 8 <= count {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
        i += 8
    }
    while i < count {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}
