/*
 * gemm_avx512.c — the AVX-512 GEMM register tile shared by the pre-packed GEMM (gemm_packed.c)
 * and the pointwise convolution (conv_direct.c).
 *
 * One tile computes up to 8 rows x 48 columns (3 zmm per row, the last one masked) of
 *   Y[i][n] = clamp( bias_i + beta * c[n] + sum_k A(i, k) * B(k, n) (+ R[i][n]) )
 * with the 24 accumulators in registers for all of K: each k broadcasts 8 values of A and loads
 * 3 vectors of B, 24 FMAs — the broadcast-A / vector-B micro-kernel of BLIS's AVX-512 SGEMM
 * (Van Zee & van de Geijn, "BLIS: A Framework for Rapidly Instantiating BLAS Functionality",
 * TOMS 2015), with the epilogue applied while the tile is in registers. Two operand layouts:
 *  - GEMM (tsr_cpu_gemm_tile_avx512): A row-major [rows][lda] as given by the caller (no
 *    packing: rows of activations), B a pre-packed panel [K][48] of the weights;
 *  - pointwise conv (tsr_cpu_convp_tile_avx512): A the packed weight block [K][32] of
 *    conv_direct.c (channel i at a[32 k + i]), B the NCHW input itself (row stride = H * W).
 */
#include "backends/cpu/act_avx512.h"
#include "backends/cpu/conv_direct.h"
#include "backends/cpu/gemm_packed.h"

#include <immintrin.h>

#define TSR_GEMMT_INLINE inline __attribute__((always_inline))

/* CONV: A(i, k) = a[32 k + i], per-row bias rb[i]; else A(i, k) = a_rows[i][k], per-column
 * bias beta * cb[n] (cb NULL: none). B(k, n) = b[k * ldb + n]. */
static TSR_GEMMT_INLINE void tsr_gemm_tile(int64_t K, const float *restrict a, int64_t lda,
                                           const float *restrict b, int64_t ldb,
                                           const float *restrict rb, const float *restrict cb,
                                           float beta, const float *r, int64_t ldr, float *y,
                                           int64_t ldy, int rows, __mmask16 last, int clamp,
                                           float lo, float hi, const int NV, const int CONV) {
    __m512 acc[8][3];
    if (CONV) {
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++)
                acc[i][v] = _mm512_set1_ps(rb[i]);
    } else {
        __m512 c0[3];
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++)
            c0[v] = cb ? _mm512_mul_ps(_mm512_set1_ps(beta),
                                       v == NV - 1 ? _mm512_maskz_loadu_ps(last, cb + 16 * v)
                                                   : _mm512_loadu_ps(cb + 16 * v))
                       : _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++)
                acc[i][v] = c0[v];
    }
    /* GEMM: row pointers clamped to the valid rows (a short last tile reads nothing past A) */
    const float *ar[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        ar[i] = CONV ? a + i : a + (i < rows ? i : rows - 1) * lda;
    for (int64_t k = 0; k < K; k++) {
        const float *restrict bk = b + k * ldb;
        __m512 bv[3];
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++)
            bv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last, bk + 16 * v)
                                : _mm512_loadu_ps(bk + 16 * v);
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            const __m512 av = _mm512_set1_ps(CONV ? ar[i][32 * k] : ar[i][k]);
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++)
                acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
    }
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        if (i >= rows) continue;
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) {
            const __mmask16 m = v == NV - 1 ? last : (__mmask16)0xffff;
            __m512 s = acc[i][v];
            if (r) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, r + i * ldr + 16 * v));
            if (clamp == TSR_EP_CLAMP)
                s = _mm512_min_ps(vhi, _mm512_max_ps(vlo, s)); /* s second: NaN propagates */
            else if (clamp == TSR_EP_HSWISH)
                s = tsr_avx512_hswish(s);
            _mm512_mask_storeu_ps(y + i * ldy + 16 * v, m, s);
        }
    }
}

static __mmask16 tsr_gemm_last_mask(int cols, int *nv) {
    *nv = (cols + 15) / 16;
    const int tail = cols - 16 * (*nv - 1);
    return tail >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << tail) - 1);
}

void tsr_cpu_convp_tile_avx512(int64_t K, const float *a, const float *x, int64_t ldx,
                               const float *bias, const float *r, float *y, int64_t ldy, int rows,
                               int npx, int clamp, float lo, float hi) {
    int nv;
    const __mmask16 last = tsr_gemm_last_mask(npx, &nv);
    if (nv >= 3)
        tsr_gemm_tile(K, a, 0, x, ldx, bias, NULL, 0.0f, r, ldy, y, ldy, rows, last, clamp, lo, hi,
                      3, 1);
    else if (nv == 2)
        tsr_gemm_tile(K, a, 0, x, ldx, bias, NULL, 0.0f, r, ldy, y, ldy, rows, last, clamp, lo, hi,
                      2, 1);
    else
        tsr_gemm_tile(K, a, 0, x, ldx, bias, NULL, 0.0f, r, ldy, y, ldy, rows, last, clamp, lo, hi,
                      1, 1);
}

void tsr_cpu_gemm_tile_avx512(int64_t K, const float *a, int64_t lda, const float *bp,
                              const float *c, float beta, const float *r, int64_t ldr, float *y,
                              int64_t ldy, int rows, int cols, int clamp, float lo, float hi) {
    int nv;
    const __mmask16 last = tsr_gemm_last_mask(cols, &nv);
    if (nv >= 3)
        tsr_gemm_tile(K, a, lda, bp, TSR_GEMMP_NR, NULL, c, beta, r, ldr, y, ldy, rows, last, clamp,
                      lo, hi, 3, 0);
    else if (nv == 2)
        tsr_gemm_tile(K, a, lda, bp, TSR_GEMMP_NR, NULL, c, beta, r, ldr, y, ldy, rows, last, clamp,
                      lo, hi, 2, 0);
    else
        tsr_gemm_tile(K, a, lda, bp, TSR_GEMMP_NR, NULL, c, beta, r, ldr, y, ldy, rows, last, clamp,
                      lo, hi, 1, 0);
}
