/// Keys and values of every position seen so far, for every layer, stored as f16 (half the
/// memory of f32, and the precision llama.cpp's default cache keeps, so attention rounds the
/// same way). Sized once for the session's context. Layout: [layer][position][kvHeads × head],
/// so the keys of one position are contiguous and appending a token writes one row per layer.
final class KVCache {
    let layerCount: Int
    let capacity: Int
    let keyWidth: Int
    let valueWidth: Int
    let keys: UnsafeMutablePointer<UInt16>
    let values: UnsafeMutablePointer<UInt16>

    init(layerCount: Int, capacity: Int, keyWidth: Int, valueWidth: Int) {
        self.layerCount = layerCount
        self.capacity = capacity
        self.keyWidth = keyWidth
        self.valueWidth = valueWidth
        keys = .allocate(capacity: layerCount * capacity * keyWidth)
        values = .allocate(capacity: layerCount * capacity * valueWidth)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    var byteCount: Int { layerCount * capacity * (keyWidth + valueWidth) * MemoryLayout<UInt16>.size }

    @inline(__always) func key(layer: Int, position: Int) -> UnsafeMutablePointer<UInt16> {
        keys + (layer * capacity + position) * keyWidth
    }

    @inline(__always) func value(layer: Int, position: Int) -> UnsafeMutablePointer<UInt16> {
        values + (layer * capacity + position) * valueWidth
    }

    /// Stores one position's keys and values (rounded to f16).
    func store(layer: Int, position: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        FP16.fromFloatRow(k, count: keyWidth, into: key(layer: layer, position: position))
        FP16.fromFloatRow(v, count: valueWidth, into: value(layer: layer, position: position))
    }
}
