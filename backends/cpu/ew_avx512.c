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

static inline __m512 v_exp(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x); /* NaN (second operand) propagates */
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 y = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i ni = _mm512_cvtps_epi32(n);
    __m512i n1 = _mm512_srai_epi32(ni, 1);
    __m512i n2 = _mm512_sub_epi32(ni, n1);
    const __m512i bias = _mm512_set1_epi32(127);
    __m512 f1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
    __m512 f2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
    return _mm512_mul_ps(_mm512_mul_ps(y, f1), f2);
}

static inline __m512 v_sigmoid(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 e = v_exp(_mm512_sub_ps(_mm512_setzero_ps(), x));
    return _mm512_div_ps(one, _mm512_add_ps(one, e));
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
    return _mm512_max_ps(x, _mm512_setzero_ps());
}
static inline __m512 v_copy(__m512 x) {
    return x;
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

#define TSR_V_UNARY(name)                                                                          \
    static void name##_u(size_t n, const float *x, float *y) {                                     \
        size_t i = 0;                                                                              \
        for (; i + W <= n; i += W)                                                                 \
            _mm512_storeu_ps(y + i, v_##name(_mm512_loadu_ps(x + i)));                             \
        if (i < n) {                                                                               \
            __mmask16 m = tail_mask(n - i);                                                        \
            _mm512_mask_storeu_ps(y + i, m, v_##name(_mm512_maskz_loadu_ps(m, x + i)));            \
        }                                                                                          \
    }

#define TSR_V_BINARY(name)                                                                         \
    static void name##_vv(size_t n, const float *a, const float *b, float *y) {                    \
        size_t i = 0;                                                                              \
        for (; i + W <= n; i += W)                                                                 \
            _mm512_storeu_ps(y + i, v_##name(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));     \
        if (i < n) {                                                                               \
            __mmask16 m = tail_mask(n - i);                                                        \
            _mm512_mask_storeu_ps(                                                                 \
                y + i, m,                                                                          \
                v_##name(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));       \
        }                                                                                          \
    }                                                                                              \
    static void name##_vs(size_t n, const float *a, const float *b, float *y) {                    \
        const __m512 s = _mm512_set1_ps(*b);                                                       \
        size_t i = 0;                                                                              \
        for (; i + W <= n; i += W)                                                                 \
            _mm512_storeu_ps(y + i, v_##name(_mm512_loadu_ps(a + i), s));                          \
        if (i < n) {                                                                               \
            __mmask16 m = tail_mask(n - i);                                                        \
            _mm512_mask_storeu_ps(y + i, m, v_##name(_mm512_maskz_loadu_ps(m, a + i), s));         \
        }                                                                                          \
    }                                                                                              \
    static void name##_sv(size_t n, const float *a, const float *b, float *y) {                    \
        const __m512 s = _mm512_set1_ps(*a);                                                       \
        size_t i = 0;                                                                              \
        for (; i + W <= n; i += W)                                                                 \
            _mm512_storeu_ps(y + i, v_##name(s, _mm512_loadu_ps(b + i)));                          \
        if (i < n) {                                                                               \
            __mmask16 m = tail_mask(n - i);                                                        \
            _mm512_mask_storeu_ps(y + i, m, v_##name(s, _mm512_maskz_loadu_ps(m, b + i)));         \
        }                                                                                          \
    }

TSR_V_BINARY(add)
TSR_V_BINARY(sub)
TSR_V_BINARY(mul)
TSR_V_BINARY(div)
TSR_V_UNARY(relu)
TSR_V_UNARY(sigmoid)
TSR_V_UNARY(tanh)
TSR_V_UNARY(copy)
TSR_V_UNARY(exp)

static void axpy(size_t n, float alpha, const float *x, float *y) {
    const __m512 al = _mm512_set1_ps(alpha);
    size_t i = 0;
    for (; i + W <= n; i += W)
        _mm512_storeu_ps(y + i,
                         _mm512_fmadd_ps(al, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(
            y + i, m,
            _mm512_fmadd_ps(al, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

static void softmax_row(size_t n, const float *x, float *y) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 vm = ninf;
    size_t i = 0;
    for (; i + W <= n; i += W)
        vm = _mm512_max_ps(vm, _mm512_loadu_ps(x + i));
    if (i < n)
        vm = _mm512_mask_max_ps(vm, tail_mask(n - i), vm,
                                _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vm));
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
    .unary = {[TSR_EW_RELU] = relu_u,
              [TSR_EW_SIGMOID] = sigmoid_u,
              [TSR_EW_TANH] = tanh_u,
              [TSR_EW_COPY] = copy_u},
    .binary = {[TSR_EW_ADD] = add_vv,
               [TSR_EW_SUB] = sub_vv,
               [TSR_EW_MUL] = mul_vv,
               [TSR_EW_DIV] = div_vv},
    .binary_vs = {[TSR_EW_ADD] = add_vs,
                  [TSR_EW_SUB] = sub_vs,
                  [TSR_EW_MUL] = mul_vs,
                  [TSR_EW_DIV] = div_vs},
    .binary_sv = {[TSR_EW_ADD] = add_sv,
                  [TSR_EW_SUB] = sub_sv,
                  [TSR_EW_MUL] = mul_sv,
                  [TSR_EW_DIV] = div_sv},
    .exp = exp_u,
    .axpy = axpy,
    .softmax_row = softmax_row,
};
