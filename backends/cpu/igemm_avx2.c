/*
 * igemm_avx2.c — AVX2 register tile of the integer GEMM (igemm.h): up to 6 rows x 16 int32
 * columns in 12 accumulators; per k-pair one 32-bit broadcast of a row's int16 pair and two
 * vpmaddwd against the panel's 16 column pairs. Compiled with -mavx2 only.
 */
#include "backends/cpu/igemm.h"

#include <immintrin.h>
#include <string.h>

static inline __m256i bcast_pair(const int16_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

#define TILE_ROWS(R)                                                                               \
    static void tile_##R(int64_t Kp, const int16_t *a, int64_t lda, const int16_t *bp,             \
                         int32_t *t) {                                                             \
        __m256i c0[R], c1[R];                                                                      \
        for (int i = 0; i < R; i++)                                                                \
            c0[i] = c1[i] = _mm256_setzero_si256();                                                \
        for (int64_t kp = 0; kp < Kp; kp++) {                                                      \
            const __m256i b0 = _mm256_load_si256((const __m256i *)(bp + kp * 32));                 \
            const __m256i b1 = _mm256_load_si256((const __m256i *)(bp + kp * 32 + 16));            \
            for (int i = 0; i < R; i++) {                                                          \
                const __m256i av = bcast_pair(a + i * lda + 2 * kp);                               \
                c0[i] = _mm256_add_epi32(c0[i], _mm256_madd_epi16(av, b0));                        \
                c1[i] = _mm256_add_epi32(c1[i], _mm256_madd_epi16(av, b1));                        \
            }                                                                                      \
        }                                                                                          \
        for (int i = 0; i < R; i++) {                                                              \
            _mm256_storeu_si256((__m256i *)(t + i * 16), c0[i]);                                   \
            _mm256_storeu_si256((__m256i *)(t + i * 16 + 8), c1[i]);                               \
        }                                                                                          \
    }
TILE_ROWS(1)
TILE_ROWS(2)
TILE_ROWS(3)
TILE_ROWS(4)
TILE_ROWS(5)
TILE_ROWS(6)

void tsr_cpu_igemm_tile_avx2(int64_t Kp, const int16_t *a, int64_t lda, const int16_t *bp,
                             int32_t *t, int rows) {
    switch (rows) {
    case 1:
        tile_1(Kp, a, lda, bp, t);
        break;
    case 2:
        tile_2(Kp, a, lda, bp, t);
        break;
    case 3:
        tile_3(Kp, a, lda, bp, t);
        break;
    case 4:
        tile_4(Kp, a, lda, bp, t);
        break;
    case 5:
        tile_5(Kp, a, lda, bp, t);
        break;
    default:
        tile_6(Kp, a, lda, bp, t);
        break;
    }
}
