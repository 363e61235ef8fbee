// f16 → f32 by table for the relaxed-SIMD kernels' block scales. wasm has no conversion
// instruction, and FP16.toFloat4's dozen lane operations (plus the constants V8 materializes
// again for every use, three instructions each) were 40% of Q4_1's decode kernel in Chromium
// (perf); one load from a 256 KiB table is exact by construction (the table holds
// FP16.toFloat4's own results) and a model's scales touch only a few of its cache lines.

#if TINYLM_RELAXED_SIMD
enum WasmHalfTable {
    /// Value i is f16 bit pattern i as a Float. Made once, before the first kernel runs
    /// (WasmFusedMultiplyAdd.probe at startup; `prepare` in the kernel drivers otherwise).
    nonisolated(unsafe) static var values: UnsafeMutablePointer<Float>? = nil

    @discardableResult
    static func prepare() -> UnsafePointer<Float> {
        if let values { return UnsafePointer(values) }
        let table = UnsafeMutablePointer<Float>.allocate(capacity: 65536)
        var h: UInt32 = 0
        while h < 65536 {
            UnsafeMutableRawPointer(table + Int(h)).storeBytes(of: FP16.toFloat4(SIMD4(h, h + 1, h + 2, h + 3)), as: SIMD4<Float>.self)
            h += 4
        }
        values = table
        return UnsafePointer(table)
    }

    /// The table, once `prepare` has run.
    @inline(__always)
    static var current: UnsafePointer<Float> { UnsafePointer(values.unsafelyUnwrapped) }

    /// The f16 value at `p`.
    @inline(__always)
    static func convert(_ table: UnsafePointer<Float>, _ p: UnsafeRawPointer) -> Float {
        table[Int(p.loadUnaligned(as: UInt16.self))]
    }

    /// The f16 values at `p` and at the same place in the next three rows (`rowBytes` apart).
    @inline(__always)
    static func convert4(_ table: UnsafePointer<Float>, _ p: UnsafeRawPointer, _ rowBytes: Int) -> SIMD4<Float> {
        SIMD4(convert(table, p), convert(table, p + rowBytes), convert(table, p + 2 &* rowBytes), convert(table, p + 3 &* rowBytes))
    }
}
#endif
