/// How much memory a session needs, found out before any of it is allocated. A session's size
/// follows the model's metadata, which is untrusted: a file of under a megabyte can claim a
/// thousand layers of 64k-wide keys by pointing every tensor at the same bytes, and its session
/// would need gigabytes per token. Swift's own allocation traps when memory runs out (and wasm32
/// has 4 GiB, its Int 32 bits), so Session.init asks here first and throws `outOfMemory`.
enum SessionMemory {
    /// An upper bound of the bytes InferenceState, its KVCache and MatmulScratch allocate for
    /// these sizes; nil when it does not fit in an Int.
    static func requiredBytes(config c: ModelConfig, contextLength: Int, maxBatch: Int, concurrency: Int) -> Int? {
        var total = Checked(0)
        // KV cache: f16 keys and values per layer and position.
        total += Checked(c.layerCount) * contextLength * (Checked(c.keyValueDimension) + c.valueDimension) * 2
        // Activations (Float): per batch row, then the per-session vectors.
        let widest = Checked(max(c.embeddingLength, c.headCount * c.valueLength)) + c.queryDimension
        let perRow = Checked(c.embeddingLength) + widest * 2 + c.queryDimension + c.keyValueDimension + c.valueDimension
            + c.headCount * c.valueLength + Checked(c.feedForwardLength) * 2
        total += perRow * maxBatch * 4
        total += (Checked(c.keyLength) * 2 + c.vocabularySize) * 4
        total += Checked(max(1, concurrency)) * (Checked(c.headCount) * 2 + c.keyLength + c.valueLength) * 4
        // Quantized-activation scratch (about 8 bytes per column and batch row) and the
        // per-worker unpack slots (5 bytes per column).
        let columns = (Checked(max(c.embeddingLength, c.feedForwardLength)) + widest + 255)
        total += columns * maxBatch * 8 + columns * max(1, concurrency) * 8
        return total.value
    }

    /// Whether `byteCount` bytes can be had right now: the C allocator is asked for them once
    /// and they are given back (in wasm the heap keeps the grown memory for the allocations
    /// that follow).
    static func isAvailable(_ byteCount: Int) -> Bool {
        var probe: UnsafeMutableRawPointer? = nil
        guard allocateAligned(&probe, 16, byteCount) == 0, let probe else { return false }
        // Swift's deallocation is free(), on Linux as in Embedded Swift on WASI, which is also
        // how Swift's own allocations come from posix_memalign there.
        probe.deallocate()
        return true
    }

    /// An Int that remembers overflow.
    struct Checked {
        var value: Int?
        init(_ value: Int?) { self.value = value }

        static func + (a: Checked, b: Checked) -> Checked {
            guard let x = a.value, let y = b.value else { return Checked(nil) }
            let (sum, overflow) = x.addingReportingOverflow(y)
            return Checked(overflow ? nil : sum)
        }

        static func * (a: Checked, b: Checked) -> Checked {
            guard let x = a.value, let y = b.value else { return Checked(nil) }
            let (product, overflow) = x.multipliedReportingOverflow(by: y)
            return Checked(overflow ? nil : product)
        }

        static func + (a: Checked, b: Int) -> Checked { a + Checked(b) }
        static func * (a: Checked, b: Int) -> Checked { a * Checked(b) }
        static func += (a: inout Checked, b: Checked) { a = a + b }
    }
}

// The C allocator itself: unlike Swift's allocation, it reports failure (malloc and free are
// reserved names for the Swift runtime; posix_memalign is what that runtime calls).
@_extern(c, "posix_memalign")
private func allocateAligned(_ pointer: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ alignment: Int, _ byteCount: Int) -> Int32
