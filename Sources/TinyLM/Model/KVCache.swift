/// Keys and values of every position seen so far, for every layer, sized once for the
/// session's context. Layout: [layer][position][kvHeads × headSize], so the keys of one
/// position are contiguous and appending a token writes one row per layer.
final class KVCache {
    let layerCount: Int
    let capacity: Int
    let keyWidth: Int
    let valueWidth: Int
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>

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

    var byteCount: Int { layerCount * capacity * (keyWidth + valueWidth) * MemoryLayout<Float>.size }

    @inline(__always) func key(layer: Int, position: Int) -> UnsafeMutablePointer<Float> {
        keys + (layer * capacity + position) * keyWidth
    }

    @inline(__always) func value(layer: Int, position: Int) -> UnsafeMutablePointer<Float> {
        values + (layer * capacity + position) * valueWidth
    }
}
