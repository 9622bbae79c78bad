/*
 * ew_avx512.c — AVX-512 (F + DQ + VL) elementwise kernels (compiled with -mavx512f -mavx512dq
 * -mavx512vl -mavx2 -mfma; only called when tsr_cpu_detect_isa() == TSR_ISA_AVX512). 16 floats
 * per vector; the tail (n % 16 elements) uses a __mmask16 on load and store, so every element
 * goes through the same formula. exp/tanh: the Cephes algorithms described in ew_avx2.c, with
 * the same constants. Accuracy: see ew_kernels.h.
 */
#include "backends/cpu/ew_kernels.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#define W 16

/* Mask with the first r (0 .. 16) lanes set. */
static inline __mmask16 tail_mask(size_t r) {
    return (__mmask16)((1u << r) - 1u);
}

typedef __m512 vf;
typedef __mmask16 vm;

static inline vf v_ld(const float *p) {
    return _mm512_loadu_ps(p);
}
static inline void v_st(float *p, vf v) {
    _mm512_storeu_ps(p, v);
}
/* Non-temporal store of W floats; p 64-byte aligned. */
static inline void v_st_nt(float *p, vf v) {
    _mm512_stream_ps(p, v);
}
static inline vf v_ld_n(const float *p, size_t r) {
    return _mm512_maskz_loadu_ps(tail_mask(r), p);
}
static inline void v_st_n(float *p, size_t r, vf v) {
    _mm512_mask_storeu_ps(p, tail_mask(r), v);
}
static inline vf v_set(float f) {
    return _mm512_set1_ps(f);
}
static inline vf v_fma(vf a, vf b, vf c) {
    return _mm512_fmadd_ps(a, b, c);
}
static inline vf v_sqrt(vf x) {
    return _mm512_sqrt_ps(x);
}
static inline vf v_abs(vf x) {
    return _mm512_abs_ps(x);
}
static inline vf v_floor(vf x) {
    return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}
/* Round to nearest, ties to even (ONNX Round). */
static inline vf v_rint(vf x) {
    return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vf v_max(vf a, vf b) {
    return _mm512_max_ps(a, b);
}
static inline vf v_min(vf a, vf b) {
    return _mm512_min_ps(a, b);
}
static inline vm v_lt(vf a, vf b) {
    return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ);
}
static inline vm v_le(vf a, vf b) {
    return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ);
}
static inline vm v_gt(vf a, vf b) {
    return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ);
}
static inline vm v_ge(vf a, vf b) {
    return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ);
}
static inline vm v_eq(vf a, vf b) {
    return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ);
}
static inline vm v_neq(vf a, vf b) {
    return _mm512_cmp_ps_mask(a, b, _CMP_NEQ_UQ);
}
static inline vm m_and(vm a, vm b) {
    return (vm)(a & b);
}
static inline vm m_or(vm a, vm b) {
    return (vm)(a | b);
}
static inline vm m_not(vm a) {
    return (vm)~a;
}
static inline vf v_sel(vm m, vf t, vf f) {
    return _mm512_mask_blend_ps(m, f, t);
}
/* x = m * 2^e, m in [0.5, 1), for finite normal x > 0 (IEEE 754 binary32 fields). */
static inline vf v_frexp(vf x, vf *e) {
    const __m512i bits = _mm512_castps_si512(x);
    *e = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(126)));
    return _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x3f000000)));
}

/* exp(S x) for S = +1 or -1 and x already clamped to the finite range (NaN propagates): the
 * Cody-Waite reduction S x = n ln2 + r with ln2 = 0.693359375 - 2.12194440e-4, then Cephes'
 * polynomial exp(r) = 1 + r + r^2 P(r). For S = -1 the same steps run in x, r1 = -r (the
 * product n ln2 added instead of subtracted, P's odd coefficients negated), never forming -x:
 * every step is the exact negation or the same value of the S = +1 steps on -x (rounding is
 * symmetric), so the result is bit-identical to exp(-x) and two instructions shorter. */
static inline __m512 v_exp_core(__m512 x, const float S) {
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(S * 1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(S * 0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(S * -2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(S * 1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(S * 8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(S * 1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 y = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r),
                               _mm512_fmadd_ps(_mm512_set1_ps(S), r, _mm512_set1_ps(1.0f)));
    /* y * 2^n in one rounding (vscalefps), through the denormals to 0 and to +inf as the
     * two-step power-of-two multiply of ew_avx2.c does */
    return _mm512_scalef_ps(y, n);
}

static inline vf v_exp(vf x) {
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x); /* NaN (second operand) propagates */
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
    return v_exp_core(x, 1.0f);
}

/* exp(-x) for x clamped to [-88, 104] (the range v_sigmoid needs). */
static inline __m512 v_exp_neg(__m512 x) {
    x = _mm512_min_ps(_mm512_set1_ps(104.0f), _mm512_max_ps(_mm512_set1_ps(-88.0f), x));
    return v_exp_core(x, -1.0f);
}

/* 1 / (1 + exp(-x)), with x clamped to [-88, 104] (exp stays finite, the reciprocal's Newton
 * step stays defined) and Sigmoid(-inf) = 0 exactly, as 1 / (1 + inf) is: the clamp would give
 * ~6e-39 there, and SiLU = x * Sigmoid(x) would then be -inf where the unfused Sigmoid + Mul
 * (and ONNX Runtime, PyTorch) give -inf * 0 = NaN. 1 / d by vrcp14ps and one Newton-Raphson
 * step r (2 - d r) (relative error about 2^-28 before the two roundings) instead of a division,
 * whose throughput bounds SiLU; d >= 1 and finite, so the step is well defined; NaN
 * propagates. */
static inline __m512 v_sigmoid(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 d = _mm512_add_ps(one, v_exp_neg(x));
    const __m512 r = _mm512_rcp14_ps(d);
    const __mmask16 finite_or_nan = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-INFINITY), _CMP_NEQ_UQ);
    return _mm512_maskz_mul_ps(finite_or_nan, r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

static inline __m512 v_tanh(__m512 x) {
    const __m512 sign = _mm512_set1_ps(-0.0f), one = _mm512_set1_ps(1.0f);
    __m512 z = _mm512_andnot_ps(sign, x);
    __m512 e = v_exp(_mm512_add_ps(z, z));
    __m512 big = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
    big = _mm512_or_ps(big, _mm512_and_ps(sign, x));
    __m512 z2 = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(2.06390887954e-2f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-5.37397155531e-2f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(1.33314422036e-1f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-3.33332819422e-1f));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z2), x, x);
    __mmask16 use_small = _mm512_cmp_ps_mask(z, _mm512_set1_ps(0.625f), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(use_small, big, small);
}

static inline __m512 v_relu(__m512 x) {
    return _mm512_max_ps(_mm512_setzero_ps(), x); /* x second: NaN propagates */
}
static inline __m512 v_add(__m512 a, __m512 b) {
    return _mm512_add_ps(a, b);
}
static inline __m512 v_sub(__m512 a, __m512 b) {
    return _mm512_sub_ps(a, b);
}
static inline __m512 v_mul(__m512 a, __m512 b) {
    return _mm512_mul_ps(a, b);
}
static inline __m512 v_div(__m512 a, __m512 b) {
    return _mm512_div_ps(a, b);
}

#include "backends/cpu/ew_vmath.h"

static void softmax_row(size_t n, const float *x, float *y) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 vmx = ninf;
    size_t i = 0;
    for (; i + W <= n; i += W)
        vmx = _mm512_max_ps(vmx, _mm512_loadu_ps(x + i));
    if (i < n)
        vmx = _mm512_mask_max_ps(vmx, tail_mask(n - i), vmx,
                                 _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmx));
    __m512 vs = _mm512_setzero_ps();
    for (i = 0; i + W <= n; i += W) {
        __m512 e = v_exp(_mm512_sub_ps(_mm512_loadu_ps(x + i), mx));
        vs = _mm512_add_ps(vs, e);
        _mm512_storeu_ps(y + i, e);
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 e = v_exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mx));
        vs = _mm512_mask_add_ps(vs, m, vs, e);
        _mm512_mask_storeu_ps(y + i, m, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vs));
    for (i = 0; i + W <= n; i += W)
        _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(y + i), inv));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + i), inv));
    }
}

const struct tsr_cpu_ew_kernels tsr_cpu_ew_avx512 = {
    .isa = TSR_ISA_AVX512,
    TSR_V_TABLE_ENTRIES,
    .softmax_row = softmax_row,
};
