/*
 * quant_avx2.c — AVX2 int16 dot product of the integer matmuls (backends/cpu/quant.h):
 * vpmaddwd multiplies 16 int16 pairs and adds adjacent products into 8 int32 lanes; and the two
 * passes of DynamicQuantizeLinear (range, then quantize), bit for bit the scalar ones.
 * Compiled with -mavx2 only; called when the ISA in use is AVX2 or better.
 */
#include "backends/cpu/quant.h"

#include "runtime/quant.h"

#include <immintrin.h>
#include <math.h>

int32_t tsr_cpu_dot_i16_avx2(const int16_t *a, const int16_t *b, int64_t K) {
    __m256i acc = _mm256_setzero_si256();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        __m256i va = _mm256_loadu_si256((const __m256i *)(a + k));
        __m256i vb = _mm256_loadu_si256((const __m256i *)(b + k));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(va, vb));
    }
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    int32_t r = _mm_cvtsi128_si32(s);
    for (; k < K; k++)
        r += (int32_t)a[k] * b[k];
    return r;
}

void tsr_cpu_minmax0_avx2(int64_t n, const float *x, float *lo, float *hi) {
    /* min_ps / max_ps return their second operand when either is NaN: x first, so a NaN x
     * leaves the accumulator as it was (fminf / fmaxf semantics) */
    __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        vlo = _mm256_min_ps(v, vlo);
        vhi = _mm256_max_ps(v, vhi);
    }
    float l[8], h[8];
    _mm256_storeu_ps(l, vlo);
    _mm256_storeu_ps(h, vhi);
    float rl = 0.0f, rh = 0.0f;
    for (int j = 0; j < 8; j++) {
        rl = fminf(rl, l[j]);
        rh = fmaxf(rh, h[j]);
    }
    for (; i < n; i++) {
        rl = fminf(rl, x[i]);
        rh = fmaxf(rh, x[i]);
    }
    *lo = rl;
    *hi = rh;
}

/* saturate(round_half_even(x[i] / scale) + zp) to [qmin, qmax] (0..255 or -128..127), NaN
 * giving zp, stored as bytes (is_signed: int8). */
static inline void quantize8(int64_t n, const float *x, float scale, int32_t zp, int32_t qmin,
                             int32_t qmax, int is_signed, void *y) {
    const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps((float)zp);
    /* clamp the rounded quotient to [qmin - zp, qmax - zp] before adding zp: exact in float32 */
    const __m256 qlo = _mm256_set1_ps((float)(qmin - zp)), qhi = _mm256_set1_ps((float)(qmax - zp));
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 r = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x + i), vs),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        r = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q)); /* NaN -> 0: the zero point */
        r = _mm256_add_ps(_mm256_min_ps(qhi, _mm256_max_ps(qlo, r)), vz);
        const __m256i q = _mm256_cvtps_epi32(r);
        const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
        /* in range already: the saturating packs only narrow */
        const __m128i w = is_signed ? _mm_packs_epi32(lo, hi) : _mm_packus_epi32(lo, hi);
        _mm_storel_epi64((__m128i *)((uint8_t *)y + i),
                         is_signed ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w));
    }
    for (; i < n; i++) {
        const int32_t v = tsr_quantize_one(x[i], scale, zp, qmin, qmax);
        if (is_signed)
            ((int8_t *)y)[i] = (int8_t)v;
        else
            ((uint8_t *)y)[i] = (uint8_t)v;
    }
}

void tsr_cpu_quantize_u8_avx2(int64_t n, const float *x, float scale, int32_t zp, uint8_t *y) {
    quantize8(n, x, scale, zp, 0, 255, 0, y);
}

void tsr_cpu_quantize_s8_avx2(int64_t n, const float *x, float scale, int32_t zp, int8_t *y) {
    quantize8(n, x, scale, zp, -128, 127, 1, y);
}

void tsr_cpu_dequantize_8_avx2(int64_t n, const void *x, int is_signed, float scale, int32_t zp,
                               float *y) {
    const __m256 vs = _mm256_set1_ps(scale);
    const __m256i vz = _mm256_set1_epi32(zp);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i b = _mm_loadl_epi64((const __m128i *)((const uint8_t *)x + i));
        const __m256i q = is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
        /* (float)(q - zp) is exact (|q - zp| <= 255), then one rounding of the product */
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, vz)), vs));
    }
    for (; i < n; i++)
        y[i] = tsr_dequantize_one(is_signed ? ((const int8_t *)x)[i] : ((const uint8_t *)x)[i],
                                  scale, zp);
}
