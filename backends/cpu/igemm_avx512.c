/*
 * igemm_avx512.c — AVX-512 VNNI register tile of the integer GEMM (igemm.h, k-quad format): up
 * to 6 rows x 64 int32 columns in 24 zmm accumulators; per k-quad one 32-bit broadcast of a
 * row's four uint8 a' and four vpdpbusd against the panel's 64 columns of four int8 b' (Intel
 * SDM vol. 2, VPDPBUSD: each int32 lane adds the four u8 x s8 products, no saturation), then
 * the zero-point correction of igemm.h in int32 (vpmulld, wrapping). Compiled with
 * -mavx512f -mavx512bw -mavx512vnni only.
 */
#include "backends/cpu/igemm.h"

#include <immintrin.h>
#include <string.h>

static inline __m512i bcast_quad(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

/* c += a (uint8 quads) . b (int8 quads), VPDPBUSD zmm. Inline asm instead of
 * _mm512_dpbusd_epi32: GCC 12 copied every accumulator with vmovdqa around each one (51 copies
 * for 20 products in the 5-row loop), which halved the tile's rate. */
#define DPBUSD(c, av, bv) __asm__("vpdpbusd %2, %1, %0" : "+v"(c) : "v"(av), "v"(bv))

/* Accumulators of row i: ci0..ci3 (named, not arrays: GCC 12 kept arrays of __m512i in memory
 * and stored every accumulator each k-quad, ~4x slower). */
#define ROW_DECL(i)                                                                                \
    __m512i c##i##0 = _mm512_setzero_si512(), c##i##1 = c##i##0, c##i##2 = c##i##0,                \
            c##i##3 = c##i##0
#define ROW_DOT(i)                                                                                 \
    if (ROWS > i) {                                                                                \
        const __m512i av = bcast_quad(a + i * lda + 4 * kq);                                       \
        DPBUSD(c##i##0, av, b0);                                                                   \
        DPBUSD(c##i##1, av, b1);                                                                   \
        DPBUSD(c##i##2, av, b2);                                                                   \
        DPBUSD(c##i##3, av, b3);                                                                   \
    }
/* c - (rowsum(a') zb' + za' (colsum(b') - K zb')), igemm.h */
#define CORR(c, r, z, zbv, czv)                                                                    \
    _mm512_sub_epi32(c, _mm512_add_epi32(_mm512_mullo_epi32(r, zbv), _mm512_mullo_epi32(z, czv)))
#define ROW_STORE(i)                                                                               \
    if (ROWS > i) {                                                                                \
        const __m512i r = _mm512_set1_epi32(rs[i]), z = _mm512_set1_epi32(za[i]);                  \
        int32_t *ti = t + i * TSR_IGEMM_VNNI_NR;                                                   \
        _mm512_store_si512(ti, CORR(c##i##0, r, z, zb0, cz0));                                     \
        _mm512_store_si512(ti + 16, CORR(c##i##1, r, z, zb1, cz1));                                \
        _mm512_store_si512(ti + 32, CORR(c##i##2, r, z, zb2, cz2));                                \
        _mm512_store_si512(ti + 48, CORR(c##i##3, r, z, zb3, cz3));                                \
    }

#define VTILE_ROWS(R)                                                                              \
    static void vtile_##R(int64_t Kq, const uint8_t *a, int64_t lda, const int8_t *bq,             \
                          const int32_t *rs, const int32_t *za, const int32_t *zb,                 \
                          const int32_t *cz, int32_t *t) {                                         \
        enum { ROWS = R };                                                                         \
        ROW_DECL(0);                                                                               \
        ROW_DECL(1);                                                                               \
        ROW_DECL(2);                                                                               \
        ROW_DECL(3);                                                                               \
        ROW_DECL(4);                                                                               \
        ROW_DECL(5);                                                                               \
        for (int64_t kq = 0; kq < Kq; kq++) {                                                      \
            const int8_t *bk = bq + kq * (TSR_IGEMM_VNNI_NR * 4);                                  \
            const __m512i b0 = _mm512_load_si512((const void *)bk);                                \
            const __m512i b1 = _mm512_load_si512((const void *)(bk + 64));                         \
            const __m512i b2 = _mm512_load_si512((const void *)(bk + 128));                        \
            const __m512i b3 = _mm512_load_si512((const void *)(bk + 192));                        \
            ROW_DOT(0)                                                                             \
            ROW_DOT(1)                                                                             \
            ROW_DOT(2)                                                                             \
            ROW_DOT(3)                                                                             \
            ROW_DOT(4)                                                                             \
            ROW_DOT(5)                                                                             \
        }                                                                                          \
        const __m512i zb0 = _mm512_loadu_si512(zb), zb1 = _mm512_loadu_si512(zb + 16);             \
        const __m512i zb2 = _mm512_loadu_si512(zb + 32), zb3 = _mm512_loadu_si512(zb + 48);        \
        const __m512i cz0 = _mm512_loadu_si512(cz), cz1 = _mm512_loadu_si512(cz + 16);             \
        const __m512i cz2 = _mm512_loadu_si512(cz + 32), cz3 = _mm512_loadu_si512(cz + 48);        \
        ROW_STORE(0)                                                                               \
        ROW_STORE(1)                                                                               \
        ROW_STORE(2)                                                                               \
        ROW_STORE(3)                                                                               \
        ROW_STORE(4)                                                                               \
        ROW_STORE(5)                                                                               \
    }
VTILE_ROWS(1)
VTILE_ROWS(2)
VTILE_ROWS(3)
VTILE_ROWS(4)
VTILE_ROWS(5)
VTILE_ROWS(6)

void tsr_cpu_igemm_tile_vnni(int64_t Kq, const uint8_t *a, int64_t lda, const int8_t *bq,
                             const int32_t *rs, const int32_t *za, const int32_t *zb,
                             const int32_t *cz, int32_t *t, int rows) {
    switch (rows) {
    case 1:
        vtile_1(Kq, a, lda, bq, rs, za, zb, cz, t);
        break;
    case 2:
        vtile_2(Kq, a, lda, bq, rs, za, zb, cz, t);
        break;
    case 3:
        vtile_3(Kq, a, lda, bq, rs, za, zb, cz, t);
        break;
    case 4:
        vtile_4(Kq, a, lda, bq, rs, za, zb, cz, t);
        break;
    case 5:
        vtile_5(Kq, a, lda, bq, rs, za, zb, cz, t);
        break;
    default:
        vtile_6(Kq, a, lda, bq, rs, za, zb, cz, t);
        break;
    }
}

void tsr_cpu_igemm_deq_avx512(const int32_t *t, int ldt, int rows, int cols, const float *scale,
                              int64_t scale_len, const float *bias, int64_t bias_len, float *y,
                              int64_t ldy) {
    for (int i = 0; i < rows; i++) {
        const int32_t *ti = t + (int64_t)i * ldt;
        float *yi = y + i * ldy;
        for (int j = 0; j < cols; j += 16) {
            const __mmask16 m =
                cols - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - j)) - 1u);
            __m512 v = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, ti + j));
            if (scale)
                v = _mm512_mul_ps(v, scale_len > 1 ? _mm512_maskz_loadu_ps(m, scale + j)
                                                   : _mm512_set1_ps(scale[0]));
            if (bias)
                v = _mm512_add_ps(v, bias_len > 1 ? _mm512_maskz_loadu_ps(m, bias + j)
                                                  : _mm512_set1_ps(bias[0]));
            _mm512_mask_storeu_ps(yi + j, m, v);
        }
    }
}
