// WebAssembly SIMD instructions that Swift's SIMD types cannot spell. Only the wasm build
// imports this header (build-wasm.sh passes -import-objc-header); native builds use the host
// vector code paths instead. Each wrapper compiles to a single instruction after wasm-opt
// inlines it.
#ifndef TINYLM_WASM_SIMD_H
#define TINYLM_WASM_SIMD_H

typedef short tinylm_i16x8 __attribute__((ext_vector_type(8)));
typedef int tinylm_i32x4 __attribute__((ext_vector_type(4)));

/// i32x4.dot_i16x8_s: lane i = a[2i]·b[2i] + a[2i+1]·b[2i+1], exact in Int32.
static inline __attribute__((always_inline)) tinylm_i32x4 tinylm_dot_i16x8(tinylm_i16x8 a, tinylm_i16x8 b) {
    return (tinylm_i32x4)__builtin_wasm_dot_s_i32x4_i16x8(a, b);
}

#endif
