// SIMD instructions that Swift's SIMD types cannot spell, as one-line inline wrappers over
// the compiler's intrinsics: AVX2's byte multiply-adds for the native x86-64 build, and
// wasm's i32x4.dot_i16x8_s. No logic lives here; the kernels that use them are Swift
// (Sources/TinyLM/Tensor/Kernels/). Natively the TinyLM target imports this
// as a module; build-wasm.sh passes it with -import-objc-header.
#ifndef TINYLM_INTRINSICS_H
#define TINYLM_INTRINSICS_H

typedef unsigned short tinylm_u16x8 __attribute__((ext_vector_type(8)));

/// Interleaves of the low or high halves of a and b in 16-, 32- or 64-bit elements
/// (punpck[lh]{wd,dq,qdq} on x86, one i8x16.shuffle in wasm; Swift's lane-by-lane SIMD
/// initializers become chains of inserts): the steps of an 8 × 8 transposition.
#define TINYLM_SHUFFLE static inline __attribute__((always_inline))
TINYLM_SHUFFLE tinylm_u16x8 tinylm_interleave_low16(tinylm_u16x8 a, tinylm_u16x8 b) { return __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11); }
TINYLM_SHUFFLE tinylm_u16x8 tinylm_interleave_high16(tinylm_u16x8 a, tinylm_u16x8 b) { return __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15); }
TINYLM_SHUFFLE tinylm_u16x8 tinylm_interleave_low32(tinylm_u16x8 a, tinylm_u16x8 b) { return __builtin_shufflevector(a, b, 0, 1, 8, 9, 2, 3, 10, 11); }
TINYLM_SHUFFLE tinylm_u16x8 tinylm_interleave_high32(tinylm_u16x8 a, tinylm_u16x8 b) { return __builtin_shufflevector(a, b, 4, 5, 12, 13, 6, 7, 14, 15); }
TINYLM_SHUFFLE tinylm_u16x8 tinylm_interleave_low64(tinylm_u16x8 a, tinylm_u16x8 b) { return __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11); }
TINYLM_SHUFFLE tinylm_u16x8 tinylm_interleave_high64(tinylm_u16x8 a, tinylm_u16x8 b) { return __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15); }
/// The odd 16-bit elements of a, then of b (the high halves of 32-bit lanes).
TINYLM_SHUFFLE tinylm_u16x8 tinylm_odd16(tinylm_u16x8 a, tinylm_u16x8 b) { return __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15); }

#if defined(__x86_64__)
#include <immintrin.h>

typedef signed char tinylm_i8x32 __attribute__((ext_vector_type(32)));
typedef unsigned char tinylm_u8x32 __attribute__((ext_vector_type(32)));
typedef signed char tinylm_i8x16 __attribute__((ext_vector_type(16)));
typedef unsigned char tinylm_u8x16 __attribute__((ext_vector_type(16)));
typedef short tinylm_i16x16 __attribute__((ext_vector_type(16)));
typedef int tinylm_i32x8 __attribute__((ext_vector_type(8)));
typedef float tinylm_f32x8 __attribute__((ext_vector_type(8)));
typedef int tinylm_i32x4 __attribute__((ext_vector_type(4)));
typedef float tinylm_f32x4 __attribute__((ext_vector_type(4)));

#define TINYLM_AVX2 static inline __attribute__((always_inline, target("avx2")))

typedef double tinylm_f64x4 __attribute__((ext_vector_type(4)));

/// vcvtph2ps: eight f16 bit patterns to f32 (Swift's SIMD8<Float>(SIMD8<Float16>) is a generic
/// conversion the optimizer leaves as an out-of-line lane loop).
static inline __attribute__((always_inline, target("avx2,f16c"))) tinylm_f32x8 tinylm_f16x8_to_f32(tinylm_u16x8 bits) {
    return (tinylm_f32x8)_mm256_cvtph_ps((__m128i)bits);
}

/// vcvtps2ph, rounding to nearest even: eight f32 to f16 bit patterns (the reverse of the
/// above, and the same out-of-line loop in Swift's SIMD8<Float16>(SIMD8<Float>)).
static inline __attribute__((always_inline, target("avx2,f16c"))) tinylm_u16x8 tinylm_f32x8_to_f16(tinylm_f32x8 a) {
    return (tinylm_u16x8)_mm256_cvtps_ph((__m256)a, _MM_FROUND_TO_NEAREST_INT);
}

/// vcvtps2pd: four f32 to f64 (exact).
TINYLM_AVX2 tinylm_f64x4 tinylm_f32x4_to_f64(tinylm_f32x4 a) {
    return (tinylm_f64x4)_mm256_cvtps_pd((__m128)a);
}

/// vcvtpd2ps: four f64 to f32, rounded to nearest even.
TINYLM_AVX2 tinylm_f32x4 tinylm_f64x4_to_f32(tinylm_f64x4 a) {
    return (tinylm_f32x4)_mm256_cvtpd_ps((__m256d)a);
}

/// vpmaddubsw then vpmaddwd with ones: lane i = Σ a[j]·b[j] for j in 4i..<4i+4, a unsigned,
/// b signed (the 16-bit pair sums saturate; callers keep |a·b| ≤ 128·127).
TINYLM_AVX2 tinylm_i32x8 tinylm_dot4_u8i8(tinylm_u8x32 a, tinylm_i8x32 b) {
    return (tinylm_i32x8)_mm256_madd_epi16(_mm256_maddubs_epi16((__m256i)a, (__m256i)b), _mm256_set1_epi16(1));
}

/// vpsignb: b negated where a < 0, zeroed where a == 0.
TINYLM_AVX2 tinylm_i8x32 tinylm_sign_i8(tinylm_i8x32 b, tinylm_i8x32 a) {
    return (tinylm_i8x32)_mm256_sign_epi8((__m256i)b, (__m256i)a);
}

/// prefetcht0: asks for the cache line at p ahead of use (never faults).
TINYLM_AVX2 void tinylm_prefetch(const void *p) {
    _mm_prefetch((const char *)p, _MM_HINT_T0);
}

/// vpmaddubsw alone: lane i = a[2i]·b[2i] + a[2i+1]·b[2i+1] in Int16 (saturating), a unsigned.
TINYLM_AVX2 tinylm_i16x16 tinylm_maddubs_u8i8(tinylm_u8x32 a, tinylm_i8x32 b) {
    return (tinylm_i16x16)_mm256_maddubs_epi16((__m256i)a, (__m256i)b);
}

/// vpmaddwd: lane i = a[2i]·b[2i] + a[2i+1]·b[2i+1] in Int32.
TINYLM_AVX2 tinylm_i32x8 tinylm_madd_i16(tinylm_i16x16 a, tinylm_i16x16 b) {
    return (tinylm_i32x8)_mm256_madd_epi16((__m256i)a, (__m256i)b);
}

/// vpshufb: byte i = a[index[i] & 15] of the same 128-bit half (0 where index[i] < 0).
TINYLM_AVX2 tinylm_u8x32 tinylm_shuffle_u8(tinylm_u8x32 a, tinylm_u8x32 index) {
    return (tinylm_u8x32)_mm256_shuffle_epi8((__m256i)a, (__m256i)index);
}

/// vpcmpeqb: 0xFF where a[i] == b[i], else 0.
TINYLM_AVX2 tinylm_u8x32 tinylm_equal_u8(tinylm_u8x32 a, tinylm_u8x32 b) {
    return (tinylm_u8x32)_mm256_cmpeq_epi8((__m256i)a, (__m256i)b);
}

/// vpmovzxbw: sixteen bytes zero-extended to Int16.
TINYLM_AVX2 tinylm_i16x16 tinylm_widen_u8_i16(tinylm_u8x16 a) {
    return (tinylm_i16x16)_mm256_cvtepu8_epi16((__m128i)a);
}

/// vpmovsxbw: sixteen signed bytes sign-extended to Int16.
TINYLM_AVX2 tinylm_i16x16 tinylm_widen_i8_i16(tinylm_i8x16 a) {
    return (tinylm_i16x16)_mm256_cvtepi8_epi16((__m128i)a);
}

/// vpmovzxbd: the low eight bytes zero-extended to Int32.
TINYLM_AVX2 tinylm_i32x8 tinylm_widen_u8_i32(tinylm_u8x16 a) {
    return (tinylm_i32x8)_mm256_cvtepu8_epi32((__m128i)a);
}

/// vpackssdw then vpermq: a's and b's Int32 lanes as sixteen Int16 in order (saturating).
TINYLM_AVX2 tinylm_i16x16 tinylm_narrow_i32_i16(tinylm_i32x8 a, tinylm_i32x8 b) {
    return (tinylm_i16x16)_mm256_permute4x64_epi64(_mm256_packs_epi32((__m256i)a, (__m256i)b), 0xD8);
}

/// vphaddd: [a0+a1, a2+a3, b0+b1, b2+b3, a4+a5, a6+a7, b4+b5, b6+b7].
TINYLM_AVX2 tinylm_i32x8 tinylm_hadd_i32(tinylm_i32x8 a, tinylm_i32x8 b) {
    return (tinylm_i32x8)_mm256_hadd_epi32((__m256i)a, (__m256i)b);
}

/// vcvtdq2ps.
TINYLM_AVX2 tinylm_f32x8 tinylm_float_i32(tinylm_i32x8 a) {
    return (tinylm_f32x8)_mm256_cvtepi32_ps((__m256i)a);
}

/// vpsubb: a − b byte by byte, wrapping (Swift's operators on 32-byte vectors become per-byte
/// loops).
TINYLM_AVX2 tinylm_i8x32 tinylm_sub_i8(tinylm_i8x32 a, tinylm_i8x32 b) {
    return (tinylm_i8x32)_mm256_sub_epi8((__m256i)a, (__m256i)b);
}

/// vpunpckldq / vpunpckhdq: the low (high) two 32-bit lanes of each 128-bit half of a and b,
/// interleaved: [a0, b0, a1, b1 | a4, b4, a5, b5] ([a2, b2, a3, b3 | a6, b6, a7, b7]).
TINYLM_AVX2 tinylm_i32x8 tinylm_unpacklo_i32(tinylm_i32x8 a, tinylm_i32x8 b) {
    return (tinylm_i32x8)_mm256_unpacklo_epi32((__m256i)a, (__m256i)b);
}
TINYLM_AVX2 tinylm_i32x8 tinylm_unpackhi_i32(tinylm_i32x8 a, tinylm_i32x8 b) {
    return (tinylm_i32x8)_mm256_unpackhi_epi32((__m256i)a, (__m256i)b);
}

/// vpunpcklqdq / vpunpckhqdq: the same with 64-bit lanes.
TINYLM_AVX2 tinylm_i32x8 tinylm_unpacklo_i64(tinylm_i32x8 a, tinylm_i32x8 b) {
    return (tinylm_i32x8)_mm256_unpacklo_epi64((__m256i)a, (__m256i)b);
}
TINYLM_AVX2 tinylm_i32x8 tinylm_unpackhi_i64(tinylm_i32x8 a, tinylm_i32x8 b) {
    return (tinylm_i32x8)_mm256_unpackhi_epi64((__m256i)a, (__m256i)b);
}

/// vperm2i128: the low 128 bits of a and of b ([a.low | b.low]), or the high ones.
TINYLM_AVX2 tinylm_i32x8 tinylm_low_halves(tinylm_i32x8 a, tinylm_i32x8 b) {
    return (tinylm_i32x8)_mm256_permute2x128_si256((__m256i)a, (__m256i)b, 0x20);
}
TINYLM_AVX2 tinylm_i32x8 tinylm_high_halves(tinylm_i32x8 a, tinylm_i32x8 b) {
    return (tinylm_i32x8)_mm256_permute2x128_si256((__m256i)a, (__m256i)b, 0x31);
}

/// vcvtdq2ps on four lanes.
TINYLM_AVX2 tinylm_f32x4 tinylm_float4_i32(tinylm_i32x4 a) {
    return (tinylm_f32x4)_mm_cvtepi32_ps((__m128i)a);
}

// AVX-512 with VNNI: only for the TinyLMAVX512 module, which is compiled for such a CPU
// (Package.swift) and runs only after tinylm_cpu_has_avx512_vnni() said yes; the rest of the
// native build targets AVX2 and never calls these.
#define TINYLM_AVX512 static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))

/// vpdpbusd: lane i = acc[i] + Σ a[j]·b[j] for j in 4i..<4i+4, a unsigned, b signed (exact in
/// Int32, no saturation).
TINYLM_AVX512 tinylm_i32x8 tinylm_dpbusd(tinylm_i32x8 acc, tinylm_u8x32 a, tinylm_i8x32 b) {
    return (tinylm_i32x8)_mm256_dpbusd_epi32((__m256i)acc, (__m256i)a, (__m256i)b);
}

/// vpmaddubsw, vpmaddwd and vcvtdq2ps for the AVX-512 module (the AVX2 wrappers above carry
/// another target attribute).
TINYLM_AVX512 tinylm_i16x16 tinylm_maddubs_512(tinylm_u8x32 a, tinylm_i8x32 b) {
    return (tinylm_i16x16)_mm256_maddubs_epi16((__m256i)a, (__m256i)b);
}
TINYLM_AVX512 tinylm_i32x8 tinylm_madd_512(tinylm_i16x16 a, tinylm_i16x16 b) {
    return (tinylm_i32x8)_mm256_madd_epi16((__m256i)a, (__m256i)b);
}
TINYLM_AVX512 tinylm_f32x8 tinylm_float_512(tinylm_i32x8 a) {
    return (tinylm_f32x8)_mm256_cvtepi32_ps((__m256i)a);
}

/// vpackssdw then vpermq: a's and b's Int32 lanes as sixteen Int16 in order (saturating).
TINYLM_AVX512 tinylm_i16x16 tinylm_narrow_512(tinylm_i32x8 a, tinylm_i32x8 b) {
    return (tinylm_i16x16)_mm256_permute4x64_epi64(_mm256_packs_epi32((__m256i)a, (__m256i)b), 0xD8);
}

typedef float tinylm_f32x16 __attribute__((ext_vector_type(16)));

/// vcvtps2ph (nearest even) then vcvtph2ps on sixteen lanes: each value after a round trip
/// through f16 (the decode attention's f16 accumulator).
TINYLM_AVX512 tinylm_f32x16 tinylm_round_half_512(tinylm_f32x16 a) {
    return (tinylm_f32x16)_mm512_cvtph_ps(_mm512_cvtps_ph((__m512)a, _MM_FROUND_TO_NEAREST_INT));
}

#include <cpuid.h>

/// Whether this CPU and OS run AVX-512 F/BW/DQ/CD/VL with VNNI (what the TinyLMAVX512 module
/// is compiled for): the CPUID feature bits, and XCR0 showing the OS saves the AVX-512 state.
static inline int tinylm_cpu_has_avx512_vnni(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;            // OSXSAVE
    unsigned low, high;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    if ((low & 0xE6) != 0xE6) return 0;                  // SSE, AVX, opmask, ZMM state enabled
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const unsigned needed = (1u << 3) | (1u << 5) | (1u << 8) | (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);
    return (b & needed) == needed && (c & (1u << 11));   // BMI1, AVX2, BMI2, F, DQ, CD, BW, VL; VNNI
}
#endif

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

typedef short tinylm_i16x8 __attribute__((ext_vector_type(8)));
typedef int tinylm_i32x4 __attribute__((ext_vector_type(4)));
typedef float tinylm_f32x4 __attribute__((ext_vector_type(4)));

/// i32x4.dot_i16x8_s: lane i = a[2i]·b[2i] + a[2i+1]·b[2i+1], exact in Int32.
static inline __attribute__((always_inline)) tinylm_i32x4 tinylm_dot_i16x8(tinylm_i16x8 a, tinylm_i16x8 b) {
    return (tinylm_i32x4)__builtin_wasm_dot_s_i32x4_i16x8(a, b);
}

typedef unsigned int tinylm_u32x4 __attribute__((ext_vector_type(4)));

/// i32x4.extend_low_i16x8_u: lanes 0–3 widened (Swift's truncatingIfNeeded init is a call).
static inline __attribute__((always_inline)) tinylm_u32x4 tinylm_widen_low_u16(tinylm_u16x8 a) {
    return (tinylm_u32x4)wasm_u32x4_extend_low_u16x8((v128_t)a);
}

/// i32x4.extend_high_i16x8_u: lanes 4–7 widened.
static inline __attribute__((always_inline)) tinylm_u32x4 tinylm_widen_high_u16(tinylm_u16x8 a) {
    return (tinylm_u32x4)wasm_u32x4_extend_high_u16x8((v128_t)a);
}

typedef double tinylm_f64x2 __attribute__((ext_vector_type(2)));

/// f64x2.promote_low_f32x4: lanes 0–1 of a to f64 (exact).
static inline __attribute__((always_inline)) tinylm_f64x2 tinylm_promote_low_f32(tinylm_f32x4 a) {
    return (tinylm_f64x2)wasm_f64x2_promote_low_f32x4((v128_t)a);
}

/// f64x2.promote_low_f32x4 of lanes 2–3 of a.
static inline __attribute__((always_inline)) tinylm_f64x2 tinylm_promote_high_f32(tinylm_f32x4 a) {
    return (tinylm_f64x2)wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle((v128_t)a, (v128_t)a, 2, 3, 2, 3));
}

/// f32x4.demote_f64x2_zero of a and b, joined: [a0, a1, b0, b1] rounded to nearest even.
static inline __attribute__((always_inline)) tinylm_f32x4 tinylm_demote_f64(tinylm_f64x2 a, tinylm_f64x2 b) {
    return (tinylm_f32x4)wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero((v128_t)a), wasm_f32x4_demote_f64x2_zero((v128_t)b), 0, 1, 4, 5);
}

/// i32x4.lt_u as an all-ones/zero mask (Swift's compare-then-cast is a per-lane loop).
static inline __attribute__((always_inline)) tinylm_u32x4 tinylm_less_u32(tinylm_u32x4 a, tinylm_u32x4 b) {
    return (tinylm_u32x4)wasm_u32x4_lt((v128_t)a, (v128_t)b);
}

/// i32x4.max_u then i32x4.min_u: a limited to low … high per lane.
static inline __attribute__((always_inline)) tinylm_u32x4 tinylm_clamp_u32(tinylm_u32x4 a, tinylm_u32x4 low, tinylm_u32x4 high) {
    return (tinylm_u32x4)wasm_u32x4_min(wasm_u32x4_max((v128_t)a, (v128_t)low), (v128_t)high);
}

/// i32x4.max_u.
static inline __attribute__((always_inline)) tinylm_u32x4 tinylm_max_u32(tinylm_u32x4 a, tinylm_u32x4 b) {
    return (tinylm_u32x4)wasm_u32x4_max((v128_t)a, (v128_t)b);
}

/// f32x4.pmin: b < a ? b : a per lane (a where either is NaN).
static inline __attribute__((always_inline)) tinylm_f32x4 tinylm_pmin_f32(tinylm_f32x4 a, tinylm_f32x4 b) {
    return (tinylm_f32x4)wasm_f32x4_pmin((v128_t)a, (v128_t)b);
}

/// v128.bitselect: bits of a where mask is 1, of b where it is 0.
static inline __attribute__((always_inline)) tinylm_u32x4 tinylm_select_u32(tinylm_u32x4 a, tinylm_u32x4 b, tinylm_u32x4 mask) {
    return (tinylm_u32x4)wasm_v128_bitselect((v128_t)a, (v128_t)b, (v128_t)mask);
}

/// acc + s·x per lane with a single rounding to f32, for |s·x| exact in f64 (s a float, x an
/// integer below 2^29): wasm has no fused multiply-add, so the product and sum are formed in
/// f64 (f64x2.promote_low_f32x4, f32x4.demote_f64x2_zero), whose one rounding back to f32 is
/// then correctly rounded. Swift would scalarize the lane conversions.
static inline __attribute__((always_inline)) tinylm_f32x4 tinylm_fma_via_f64(tinylm_f32x4 x, float s, tinylm_f32x4 acc) {
    v128_t scale = wasm_f64x2_splat((double)s);
    v128_t xh = wasm_i32x4_shuffle((v128_t)x, (v128_t)x, 2, 3, 2, 3);
    v128_t ah = wasm_i32x4_shuffle((v128_t)acc, (v128_t)acc, 2, 3, 2, 3);
    v128_t lo = wasm_f64x2_add(wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4((v128_t)x), scale), wasm_f64x2_promote_low_f32x4((v128_t)acc));
    v128_t hi = wasm_f64x2_add(wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(xh), scale), wasm_f64x2_promote_low_f32x4(ah));
    return (tinylm_f32x4)wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(lo), wasm_f32x4_demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/// p itself, hidden from LLVM's loop optimizations. Loop strength reduction rewrites a kernel
/// loop's addresses as one induction variable plus constants added without the no-wrap flag,
/// so the constants stay out of the wasm loads' offset field and V8 computes each address with
/// a separate instruction; from a hidden base, a block's fields are offsets inside the loads.
static inline __attribute__((always_inline)) const void *_Nonnull tinylm_hide_address(const void *_Nonnull p) {
    __asm__("" : "+r"(p));
    return p;
}
#endif

#if defined(__wasm_relaxed_simd__)
/// f32x4.relaxed_madd: a·b + c, fused or not depending on the machine (the kernels use it only
/// after a probe showed it fused, so the result is the same as tinylm_fma_via_f64's).
static inline __attribute__((always_inline)) tinylm_f32x4 tinylm_relaxed_madd(tinylm_f32x4 a, tinylm_f32x4 b, tinylm_f32x4 c) {
    return (tinylm_f32x4)__builtin_wasm_relaxed_madd_f32x4((v128_t)a, (v128_t)b, (v128_t)c);
}

/// f64x2.relaxed_madd on one value: a·b + c, fused or not depending on the machine (used only
/// after the probe found it fused, in place of a software fma call).
static inline __attribute__((always_inline)) double tinylm_relaxed_madd_f64(double a, double b, double c) {
    return wasm_f64x2_extract_lane(wasm_f64x2_relaxed_madd(wasm_f64x2_splat(a), wasm_f64x2_splat(b), wasm_f64x2_splat(c)), 0);
}

typedef signed char tinylm_i8x16 __attribute__((ext_vector_type(16)));

/// i32x4.relaxed_dot_i8x16_i7x16_add_s: lane i = acc[i] + Σ a[j]·b[j] for j in 4i..<4i+4.
/// Deterministic (and exact) when every b[j] is in 0…127, which callers guarantee: x86 engines
/// lower it to ggml's own pmaddubsw + pmaddwd pair, b being the unsigned operand.
static inline __attribute__((always_inline)) tinylm_i32x4 tinylm_relaxed_dot4_i8_i7(tinylm_i8x16 a, tinylm_i8x16 b, tinylm_i32x4 acc) {
    return (tinylm_i32x4)wasm_i32x4_relaxed_dot_i8x16_i7x16_add((v128_t)a, (v128_t)b, (v128_t)acc);
}

/// Lane 0 (lane 2) of v in every lane: one shuffle (Swift's SIMD4(repeating: v[0]) becomes an
/// extract, a scalar op and a splat).
static inline __attribute__((always_inline)) tinylm_f32x4 tinylm_splat_lane0(tinylm_f32x4 v) {
    return (tinylm_f32x4)wasm_i32x4_shuffle((v128_t)v, (v128_t)v, 0, 0, 0, 0);
}

static inline __attribute__((always_inline)) tinylm_f32x4 tinylm_splat_lane2(tinylm_f32x4 v) {
    return (tinylm_f32x4)wasm_i32x4_shuffle((v128_t)v, (v128_t)v, 2, 2, 2, 2);
}

/// i8x16.max_s.
static inline __attribute__((always_inline)) tinylm_i8x16 tinylm_max_i8(tinylm_i8x16 a, tinylm_i8x16 b) {
    return (tinylm_i8x16)wasm_i8x16_max((v128_t)a, (v128_t)b);
}

/// i16x8.relaxed_dot_i8x16_i7x16_s: lane i = a[2i]·b[2i] + a[2i+1]·b[2i+1]. Deterministic and
/// exact when every b[j] is in 0…127 (the sum then fits Int16): x86 engines lower it to one
/// pmaddubsw, ggml's own first step, b being the unsigned operand.
static inline __attribute__((always_inline)) tinylm_i16x8 tinylm_relaxed_dot2_i8_i7(tinylm_i8x16 a, tinylm_i8x16 b) {
    return (tinylm_i16x8)wasm_i16x8_relaxed_dot_i8x16_i7x16((v128_t)a, (v128_t)b);
}

/// i8x16.swizzle: byte i = v[index[i]], or 0 where index[i] > 15.
static inline __attribute__((always_inline)) tinylm_i8x16 tinylm_swizzle_i8(tinylm_i8x16 v, tinylm_i8x16 index) {
    return (tinylm_i8x16)wasm_i8x16_swizzle((v128_t)v, (v128_t)index);
}

/// i16x8.narrow_i32x4_s: a's four lanes then b's, as Int16 (saturating; callers pass values
/// that fit).
static inline __attribute__((always_inline)) tinylm_i16x8 tinylm_narrow_i32(tinylm_i32x4 a, tinylm_i32x4 b) {
    return (tinylm_i16x8)wasm_i16x8_narrow_i32x4((v128_t)a, (v128_t)b);
}

/// i16x8.extend_low_i8x16_s / extend_high: bytes 0–7 (8–15) sign-extended.
static inline __attribute__((always_inline)) tinylm_i16x8 tinylm_extend_low_i8(tinylm_i8x16 a) {
    return (tinylm_i16x8)wasm_i16x8_extend_low_i8x16((v128_t)a);
}

static inline __attribute__((always_inline)) tinylm_i16x8 tinylm_extend_high_i8(tinylm_i8x16 a) {
    return (tinylm_i16x8)wasm_i16x8_extend_high_i8x16((v128_t)a);
}

/// i16x8.extend_high_i8x16_u: bytes 8–15 zero-extended.
static inline __attribute__((always_inline)) tinylm_i16x8 tinylm_extend_high_u8(tinylm_i8x16 a) {
    return (tinylm_i16x8)wasm_u16x8_extend_high_u8x16((v128_t)a);
}

/// i32x4.extadd_pairwise_i16x8_s: lane i = a[2i] + a[2i+1].
static inline __attribute__((always_inline)) tinylm_i32x4 tinylm_pair_sums_i16(tinylm_i16x8 a) {
    return (tinylm_i32x4)wasm_i32x4_extadd_pairwise_i16x8((v128_t)a);
}

/// i8x16.eq as an all-ones/zero byte mask.
static inline __attribute__((always_inline)) tinylm_i8x16 tinylm_equal_i8(tinylm_i8x16 a, tinylm_i8x16 b) {
    return (tinylm_i8x16)wasm_i8x16_eq((v128_t)a, (v128_t)b);
}

/// f32x4.convert_i32x4_s (Swift scalarizes the conversion in Embedded wasm).
static inline __attribute__((always_inline)) tinylm_f32x4 tinylm_float_i32x4(tinylm_i32x4 a) {
    return (tinylm_f32x4)wasm_f32x4_convert_i32x4((v128_t)a);
}

#endif

#endif
