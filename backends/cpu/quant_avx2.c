/*
 * quant_avx2.c — AVX2 int16 dot product of the integer matmuls (backends/cpu/quant.h):
 * vpmaddwd multiplies 16 int16 pairs and adds adjacent products into 8 int32 lanes.
 * Compiled with -mavx2 only; called when the ISA in use is AVX2 or better.
 */
#include "backends/cpu/quant.h"

#include <immintrin.h>

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
