/*
 * ew_avx2.c — AVX2 + FMA elementwise kernels (compiled with -mavx2 -mfma; only called when
 * tsr_cpu_detect_isa() >= TSR_ISA_AVX2). 8 floats per vector; the tail (n % 8 elements) goes
 * through the same vector code with _mm256_maskload_ps/_mm256_maskstore_ps, so every element is
 * computed by the same formula (masked-out lanes are neither read nor written).
 *
 * exp: Cephes expf (Stephen L. Moshier, Cephes Math Library, expf.c): n = round(x * log2(e)),
 * r = x - n * ln2 in two parts (C1 = 0.693359375, C2 = -2.12194440e-4), degree-5 polynomial,
 * scaled by 2^n. 2^n is applied as two factors 2^(n/2) * 2^(n - n/2) so that results between
 * FLT_MAX and the smallest denormal are produced without overflowing the exponent field; x is
 * clamped to [-104, 89] first (exp(-104) < smallest denormal, exp(89) > FLT_MAX), NaN propagates.
 * tanh: Cephes tanhf. Accuracy: see ew_kernels.h.
 */
#include "backends/cpu/ew_kernels.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#define W 8

static const int32_t tsr_mask_tbl[2 * W] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Lane mask with the first r (1 .. 8) lanes set. */
static inline __m256i tail_mask(size_t r) {
    return _mm256_loadu_si256((const __m256i *)(tsr_mask_tbl + W - r));
}

typedef __m256 vf;
typedef __m256 vm; /* all-ones / all-zeros lanes */

static inline vf v_ld(const float *p) {
    return _mm256_loadu_ps(p);
}
static inline void v_st(float *p, vf v) {
    _mm256_storeu_ps(p, v);
}
/* Non-temporal store of W floats; p 32-byte aligned. */
static inline void v_st_nt(float *p, vf v) {
    _mm256_stream_ps(p, v);
}
static inline vf v_ld_n(const float *p, size_t r) {
    return _mm256_maskload_ps(p, tail_mask(r));
}
static inline void v_st_n(float *p, size_t r, vf v) {
    _mm256_maskstore_ps(p, tail_mask(r), v);
}
static inline vf v_set(float f) {
    return _mm256_set1_ps(f);
}
static inline vf v_fma(vf a, vf b, vf c) {
    return _mm256_fmadd_ps(a, b, c);
}
static inline vf v_sqrt(vf x) {
    return _mm256_sqrt_ps(x);
}
static inline vf v_abs(vf x) {
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
}
static inline vf v_floor(vf x) {
    return _mm256_round_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}
/* Round to nearest, ties to even (ONNX Round). */
static inline vf v_rint(vf x) {
    return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vf v_max(vf a, vf b) {
    return _mm256_max_ps(a, b);
}
static inline vf v_min(vf a, vf b) {
    return _mm256_min_ps(a, b);
}
static inline vm v_lt(vf a, vf b) {
    return _mm256_cmp_ps(a, b, _CMP_LT_OQ);
}
static inline vm v_le(vf a, vf b) {
    return _mm256_cmp_ps(a, b, _CMP_LE_OQ);
}
static inline vm v_gt(vf a, vf b) {
    return _mm256_cmp_ps(a, b, _CMP_GT_OQ);
}
static inline vm v_ge(vf a, vf b) {
    return _mm256_cmp_ps(a, b, _CMP_GE_OQ);
}
static inline vm v_eq(vf a, vf b) {
    return _mm256_cmp_ps(a, b, _CMP_EQ_OQ);
}
static inline vm v_neq(vf a, vf b) {
    return _mm256_cmp_ps(a, b, _CMP_NEQ_UQ);
}
static inline vm m_and(vm a, vm b) {
    return _mm256_and_ps(a, b);
}
static inline vm m_or(vm a, vm b) {
    return _mm256_or_ps(a, b);
}
static inline vm m_not(vm a) {
    return _mm256_xor_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
}
static inline vf v_sel(vm m, vf t, vf f) {
    return _mm256_blendv_ps(f, t, m);
}
/* x = m * 2^e, m in [0.5, 1), for finite normal x > 0 (IEEE 754 binary32 fields). */
static inline vf v_frexp(vf x, vf *e) {
    const __m256i bits = _mm256_castps_si256(x);
    *e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126)));
    return _mm256_castsi256_ps(_mm256_or_si256(
        _mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f000000)));
}

static inline vf v_exp(vf x) {
    const __m256 lo = _mm256_set1_ps(-104.0f), hi = _mm256_set1_ps(89.0f);
    x = _mm256_max_ps(lo, x); /* second operand returned when NaN: NaN propagates */
    x = _mm256_min_ps(hi, x);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1);
    __m256i n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 f1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 f2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(y, f1), f2);
}

static inline __m256 v_sigmoid(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = v_exp(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(one, _mm256_add_ps(one, e));
}

static inline __m256 v_tanh(__m256 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    __m256 z = _mm256_andnot_ps(sign, x);
    /* |x| >= 0.625: 1 - 2 / (exp(2|x|) + 1), sign of x */
    __m256 e = v_exp(_mm256_add_ps(z, z));
    __m256 big = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
    big = _mm256_or_ps(big, _mm256_and_ps(sign, x));
    /* |x| < 0.625: x + x^3 P(x^2) */
    __m256 z2 = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
    p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(2.06390887954e-2f));
    p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(-5.37397155531e-2f));
    p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(1.33314422036e-1f));
    p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(-3.33332819422e-1f));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z2), x, x);
    __m256 use_small = _mm256_cmp_ps(z, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
    return _mm256_blendv_ps(big, small, use_small);
}

/* vmaxps returns its second operand when either is NaN: x second, NaN propagates (no cost) */
static inline __m256 v_relu(__m256 x) {
    return _mm256_max_ps(_mm256_setzero_ps(), x);
}
static inline __m256 v_add(__m256 a, __m256 b) {
    return _mm256_add_ps(a, b);
}
static inline __m256 v_sub(__m256 a, __m256 b) {
    return _mm256_sub_ps(a, b);
}
static inline __m256 v_mul(__m256 a, __m256 b) {
    return _mm256_mul_ps(a, b);
}
static inline __m256 v_div(__m256 a, __m256 b) {
    return _mm256_div_ps(a, b);
}

#include "backends/cpu/ew_vmath.h"

static inline float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

static void softmax_row(size_t n, const float *x, float *y) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 vmx = ninf;
    size_t i = 0;
    for (; i + W <= n; i += W)
        vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(x + i));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        __m256 v = _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + i, m), _mm256_castsi256_ps(m));
        vmx = _mm256_max_ps(vmx, v);
    }
    const __m256 mx = _mm256_set1_ps(hmax(vmx));
    __m256 vs = _mm256_setzero_ps();
    for (i = 0; i + W <= n; i += W) {
        __m256 e = v_exp(_mm256_sub_ps(_mm256_loadu_ps(x + i), mx));
        vs = _mm256_add_ps(vs, e);
        _mm256_storeu_ps(y + i, e);
    }
    if (i < n) {
        __m256i m = tail_mask(n - i);
        __m256 e = v_exp(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), mx));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(m));
        vs = _mm256_add_ps(vs, e);
        _mm256_maskstore_ps(y + i, m, e);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / hsum(vs));
    for (i = 0; i + W <= n; i += W)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), inv));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, _mm256_mul_ps(_mm256_maskload_ps(y + i, m), inv));
    }
}

const struct tsr_cpu_ew_kernels tsr_cpu_ew_avx2 = {
    .isa = TSR_ISA_AVX2,
    TSR_V_TABLE_ENTRIES,
    .softmax_row = softmax_row,
};
