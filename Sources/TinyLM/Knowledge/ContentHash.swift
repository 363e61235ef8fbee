/// A fast 64-bit content hash (not cryptographic) for knowledge-file checksums and embedder
/// fingerprints, defined by its arithmetic so that any implementation gives the same value:
///
/// - eight 32-bit lanes, lane i starting at 0x9E3779B9 · (i + 1) (mod 2³²);
/// - each 32-byte block, read as eight little-endian UInt32 w[i]:
///   lane[i] = rotl((lane[i] ^ w[i]) · 0x85EBCA77, 13) · 0xC2B2AE3D (all mod 2³²);
/// - the tail (fewer than 32 bytes) zero-padded to one more block;
/// - then h = byte count, and for each lane in order h = mix(h ^ lane), mix being
///   x ^= x >> 33; x ·= 0xFF51AFD7ED558CCD; x ^= x >> 33; x ·= 0xC4CEB9FE1A85EC53; x ^= x >> 33.
///
/// (Words are read in host order: every platform TinyLM runs on is little-endian.)
/// 32-bit lane multiplies vectorize on every SIMD unit (wasm's i32x4.mul included): hashing
/// a 46 MB model takes milliseconds.
public struct ContentHash {
    private var lanes: SIMD8<UInt32>
    private var count: UInt64 = 0
    private var pending: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var pendingCount = 0

    public init() {
        var l = SIMD8<UInt32>()
        for i in 0..<8 { l[i] = 0x9E37_79B9 &* UInt32(i + 1) }
        lanes = l
    }

    @inline(__always)
    private static func round(_ lanes: SIMD8<UInt32>, _ words: SIMD8<UInt32>) -> SIMD8<UInt32> {
        var x = (lanes ^ words) &* SIMD8(repeating: 0x85EB_CA77)
        x = (x &<< 13) | (x &>> 19)
        return x &* SIMD8(repeating: 0xC2B2_AE3D)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var offset = 0
        let n = bytes.count
        count &+= UInt64(n)
        // Finish a partly filled block first.
        if pendingCount > 0 {
            withUnsafeMutableBytes(of: &pending) { block in
                while pendingCount < 32 && offset < n {
                    block[pendingCount] = base.load(fromByteOffset: offset, as: UInt8.self)
                    pendingCount += 1
                    offset += 1
                }
                if pendingCount == 32 {
                    lanes = Self.round(lanes, block.loadUnaligned(as: SIMD8<UInt32>.self))
                    pendingCount = 0
                }
            }
        }
        var l = lanes
        while offset + 32 <= n {
            l = Self.round(l, base.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt32>.self))
            offset += 32
        }
        lanes = l
        if offset < n {
            pending = (0, 0, 0, 0)
            withUnsafeMutableBytes(of: &pending) { block in
                while offset < n {
                    block[pendingCount] = base.load(fromByteOffset: offset, as: UInt8.self)
                    pendingCount += 1
                    offset += 1
                }
            }
        }
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public func finalize() -> UInt64 {
        var l = lanes
        if pendingCount > 0 {
            var block = pending
            withUnsafeMutableBytes(of: &block) { raw in
                for i in pendingCount..<32 { raw[i] = 0 }
                l = Self.round(l, raw.loadUnaligned(as: SIMD8<UInt32>.self))
            }
        }
        var h = count
        for i in 0..<8 { h = Self.mix(h ^ UInt64(l[i])) }
        return h
    }

    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var x = value
        x ^= x >> 33
        x = x &* 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        x = x &* 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 33
        return x
    }

    public static func of(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash = ContentHash()
        hash.update(bytes)
        return hash.finalize()
    }

    /// Sixteen lower-case hex digits.
    public static func hex(_ value: UInt64) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for shift in stride(from: 60, through: 0, by: -4) { out.append(digits[Int((value >> UInt64(shift)) & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
