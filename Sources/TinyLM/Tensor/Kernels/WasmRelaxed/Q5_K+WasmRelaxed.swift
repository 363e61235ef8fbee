// Q5_K's relaxed-SIMD kernels (wasm): vec_dot (llama.cpp's order for fewer than 8 tokens:
// every decode step) row by row, and the tiled order (batches of 8+) four rows at a time, with
// Q4_K's steps (WasmRelaxedScaleMin.swift): the stored 5-bit q (0…31) is the 0…127 operand of
// i16x8.relaxed_dot_i8x16_i7x16 (pmaddubsw), i32x4.dot_i16x8 (pmaddwd) applies the scales.

#if TINYLM_RELAXED_SIMD
#if canImport(TinyLMIntrinsics)
import TinyLMIntrinsics
#endif

extension Q5_K {
    enum WasmRelaxed: WasmRelaxedScaleMinFormat, WasmRelaxedTiledOnlyKernels {
        static var blockBytes: Int { Q5_K.blockBytes }
        static var minsInLanes: Bool { false }

        static func vecDot(_ row: UnsafeRawPointer, _ blocks: Int, _ act: Q8Activations) -> Float {
            WasmRelaxedScaleMin.vecDot(Self.self, row, blocks, act)
        }

        @inline(__always)
        static func tiled4(_ rows: UnsafeRawPointer, _ rowBytes: Int, _ blocks: Int, _ act: Q8Activations,
                           _ out: UnsafeMutablePointer<Float>) {
            WasmRelaxedScaleMin.tiled4(Self.self, rows, rowBytes, blocks, act, out)
        }

        static func fallback(_ job: KernelJob, rows: Range<Int>) { Q5_K.SIMD128.multiply(job, rows: rows) }

        /// Sub-blocks 2g and 2g + 1 (see `quarter`), scaled.
        @inline(__always)
        static func spanDot(_ w: UnsafeRawPointer, _ y: UnsafeRawPointer, _ packed: SIMD16<Int8>, _ g: Int) -> SIMD4<Int32> {
            let q = w + 48 + 32 * g
            let q0 = q.loadUnaligned(as: SIMD8<UInt16>.self), q1 = q.loadUnaligned(fromByteOffset: 16, as: SIMD8<UInt16>.self)
            let shift = UInt16(truncatingIfNeeded: 2 * g)
            let h0 = w.loadUnaligned(fromByteOffset: 16, as: SIMD8<UInt16>.self) &>> shift
            let h1 = w.loadUnaligned(fromByteOffset: 32, as: SIMD8<UInt16>.self) &>> shift
            let a = y + 64 * g
            let first = tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(as: SIMD16<Int8>.self), unsafeBitCast((q0 & 0x0F0F) | ((h0 & 0x0101) &<< 4), to: SIMD16<Int8>.self))
                &+ tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self), unsafeBitCast((q1 & 0x0F0F) | ((h1 & 0x0101) &<< 4), to: SIMD16<Int8>.self))
            let second = tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int8>.self), unsafeBitCast(((q0 &>> 4) & 0x0F0F) | ((h0 & 0x0202) &<< 3), to: SIMD16<Int8>.self))
                &+ tinylm_relaxed_dot2_i8_i7(a.loadUnaligned(fromByteOffset: 48, as: SIMD16<Int8>.self), unsafeBitCast(((q1 &>> 4) & 0x0F0F) | ((h1 & 0x0202) &<< 3), to: SIMD16<Int8>.self))
            return WasmRelaxedScaleMin.spanDot(first, second, packed, g)
        }

        /// Sub-block 2g + k / 2, values 16·(k mod 2) ..< +16: the low (k < 2) or high nibbles
        /// of qs group g, with the high bit from qh (bit j of byte l: element l of sub-block j)
        /// moved to bit 4. Shifted as 16-bit lanes (no byte shifts in wasm) with masks that
        /// keep each byte's own bits.
        @inline(__always)
        static func quarter(_ w: UnsafeRawPointer, _ g: Int, _ k: Int) -> SIMD16<Int8> {
            let q = (w + 48 + 32 * g + 16 * (k & 1)).loadUnaligned(as: SIMD8<UInt16>.self)
            let h = (w + 16 + 16 * (k & 1)).loadUnaligned(as: SIMD8<UInt16>.self) &>> UInt16(truncatingIfNeeded: 2 * g + (k >> 1))
            return unsafeBitCast(((k < 2 ? q : q &>> 4) & 0x0F0F) | ((h & 0x0101) &<< 4), to: SIMD16<Int8>.self)
        }
    }
}
#endif
