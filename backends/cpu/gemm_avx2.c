/*
 * gemm_avx2.c — the AVX2+FMA GEMM register tile of the pre-packed GEMM (gemm_packed.c), the
 * im2col conv path (conv.c) and the direct conv's pointwise tile (conv_direct.c), for hosts
 * without AVX-512 (compiled with -mavx2 -mfma only).
 *
 * Same contract as tsr_cpu_gemm_tile_avx512 (gemm_packed.h): up to 8 rows x 48 columns of one
 * packed panel [K][48]. With 16 ymm registers the 8 x 48 block is computed as 2 x 2 sub-tiles
 * of 4 rows x 24 columns (12 accumulators, 3 vectors of B, 1 broadcast of A: 16 registers), the
 * BLIS-style broadcast-A / vector-B micro-kernel at 8 floats. The panel is zero-padded to 48
 * columns, so B is read with full loads; the bias row, residual and Y use masked loads / stores
 * (_mm256_maskload_ps / _mm256_maskstore_ps) on the last vector of a short tile.
 */
#include "backends/cpu/conv_direct.h"
#include "backends/cpu/cpu_exec.h"
#include "backends/cpu/gemm_packed.h"

#include <immintrin.h>

#define TSR_GEMM2_INLINE inline __attribute__((always_inline))
#define TSR_GEMM2_MR     4
#define TSR_GEMM2_NC     24

/* ONNX HardSwish as act_avx512.h's tsr_avx512_hswish (the rounding of ew_vmath.h's
 * v_u_hard_swish); NaN propagates (max / min return their second operand for NaN). */
static TSR_GEMM2_INLINE __m256 tsr_gemm2_hswish(__m256 y) {
    const __m256 t =
        _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(1.0f / 6.0f), y), _mm256_set1_ps(0.5f));
    return _mm256_mul_ps(
        y, _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_max_ps(_mm256_setzero_ps(), t)));
}

/* Lane mask of the first n (0..8) floats of a vector. */
static TSR_GEMM2_INLINE __m256i tsr_gemm2_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* rows (1..4) x cols (1..24, NV = ceil(cols / 8) vectors) of Y; A(i, k) = a[i * ai + k * ak]
 * (GEMM: rows of A, ai = lda, ak = 1; pointwise conv: the packed [K][32] weight block, ai = 1,
 * ak = 32); b: B at the chunk's first column, row stride ldb (the zero-padded panel,
 * TSR_GEMMP_NR, read with full loads; or the NCHW input in place, BMASK = 1: the last vector
 * masked, nothing read past the cols columns); c / r / y at the chunk's first column. */
static TSR_GEMM2_INLINE void tsr_gemm2_sub(int64_t K, const float *restrict a, int64_t ai,
                                           int64_t ak, const float *restrict b, int64_t ldb,
                                           const float *restrict c, float beta,
                                           const float *restrict rb, const float *r, int64_t ldr,
                                           float *y, int64_t ldy, int rows, int cols, int clamp,
                                           float lo, float hi, const int NV, const int BMASK) {
    const __m256i last = tsr_gemm2_mask(cols - 8 * (NV - 1));
    __m256 acc[TSR_GEMM2_MR][3];
    {
        __m256 c0[3];
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++)
            c0[v] = c ? _mm256_mul_ps(_mm256_set1_ps(beta),
                                      v == NV - 1 ? _mm256_maskload_ps(c + 8 * v, last)
                                                  : _mm256_loadu_ps(c + 8 * v))
                      : _mm256_setzero_ps();
#pragma GCC unroll 4
        for (int i = 0; i < TSR_GEMM2_MR; i++) {
            /* a row bias (conv: one per output channel) on top of the column bias row */
            const __m256 ri =
                rb ? _mm256_set1_ps(rb[i < rows ? i : rows - 1]) : _mm256_setzero_ps();
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++)
                acc[i][v] = rb ? _mm256_add_ps(c0[v], ri) : c0[v];
        }
    }
    /* row pointers clamped to the valid rows (a short tile reads nothing past A) */
    const float *ar[TSR_GEMM2_MR];
#pragma GCC unroll 4
    for (int i = 0; i < TSR_GEMM2_MR; i++)
        ar[i] = a + (i < rows ? i : rows - 1) * ai;
    for (int64_t k = 0; k < K; k++) {
        const float *restrict bk = b + k * ldb;
        __m256 bv[3];
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) /* a zero-padded panel: always in bounds */
            bv[v] = BMASK && v == NV - 1 ? _mm256_maskload_ps(bk + 8 * v, last)
                                         : _mm256_loadu_ps(bk + 8 * v);
#pragma GCC unroll 4
        for (int i = 0; i < TSR_GEMM2_MR; i++) {
            const __m256 av = _mm256_broadcast_ss(ar[i] + k * ak);
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++)
                acc[i][v] = _mm256_fmadd_ps(av, bv[v], acc[i][v]);
        }
    }
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
#pragma GCC unroll 4
    for (int i = 0; i < TSR_GEMM2_MR; i++) {
        if (i >= rows) continue;
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) {
            const int full = v < NV - 1;
            __m256 s = acc[i][v];
            if (r) {
                const float *rp = r + i * ldr + 8 * v;
                s = _mm256_add_ps(s, full ? _mm256_loadu_ps(rp) : _mm256_maskload_ps(rp, last));
            }
            if (clamp == TSR_EP_CLAMP)
                s = _mm256_min_ps(vhi, _mm256_max_ps(vlo, s)); /* s second: NaN propagates */
            else if (clamp == TSR_EP_HSWISH)
                s = tsr_gemm2_hswish(s);
            if (full)
                _mm256_storeu_ps(y + i * ldy + 8 * v, s);
            else
                _mm256_maskstore_ps(y + i * ldy + 8 * v, last, s);
        }
    }
}

/* The 8 x 48 tile as 4 x 24 sub-tiles; rb: a row bias or NULL; A and B as tsr_gemm2_sub's
 * (ai, ak, ldb, BMASK). */
static TSR_GEMM2_INLINE void tsr_gemm2_tile(int64_t K, const float *a, int64_t ai, int64_t ak,
                                            const float *bp, int64_t ldb, const float *c,
                                            float beta, const float *rb, const float *r,
                                            int64_t ldr, float *y, int64_t ldy, int rows, int cols,
                                            int clamp, float lo, float hi, const int BMASK) {
    for (int n0 = 0; n0 < cols; n0 += TSR_GEMM2_NC) {
        const int nc = cols - n0 < TSR_GEMM2_NC ? cols - n0 : TSR_GEMM2_NC;
        const int nv = (nc + 7) / 8;
        for (int m0 = 0; m0 < rows; m0 += TSR_GEMM2_MR) {
            const int mr = rows - m0 < TSR_GEMM2_MR ? rows - m0 : TSR_GEMM2_MR;
            const float *am = a + m0 * ai, *cn = c ? c + n0 : NULL;
            const float *rbm = rb ? rb + m0 : NULL;
            const float *rm = r ? r + m0 * ldr + n0 : NULL;
            float *ym = y + m0 * ldy + n0;
            if (nv == 3)
                tsr_gemm2_sub(K, am, ai, ak, bp + n0, ldb, cn, beta, rbm, rm, ldr, ym, ldy, mr, nc,
                              clamp, lo, hi, 3, BMASK);
            else if (nv == 2)
                tsr_gemm2_sub(K, am, ai, ak, bp + n0, ldb, cn, beta, rbm, rm, ldr, ym, ldy, mr, nc,
                              clamp, lo, hi, 2, BMASK);
            else
                tsr_gemm2_sub(K, am, ai, ak, bp + n0, ldb, cn, beta, rbm, rm, ldr, ym, ldy, mr, nc,
                              clamp, lo, hi, 1, BMASK);
        }
    }
}

void tsr_cpu_gemm_tile_avx2(int64_t K, const float *a, int64_t lda, const float *bp, const float *c,
                            float beta, const float *r, int64_t ldr, float *y, int64_t ldy,
                            int rows, int cols, int clamp, float lo, float hi) {
    tsr_gemm2_tile(K, a, lda, 1, bp, TSR_GEMMP_NR, c, beta, NULL, r, ldr, y, ldy, rows, cols, clamp,
                   lo, hi, 0);
}

void tsr_cpu_conv_tile_avx2(int64_t K, const float *a, int64_t lda, const float *bp,
                            const float *bias, const float *r, int64_t ldr, float *y, int64_t ldy,
                            int rows, int cols, int clamp, float lo, float hi) {
    tsr_gemm2_tile(K, a, lda, 1, bp, TSR_GEMMP_NR, NULL, 0.0f, bias, r, ldr, y, ldy, rows, cols,
                   clamp, lo, hi, 0);
}

void tsr_cpu_convp_tile_avx2(int64_t K, const float *a, const float *x, int64_t ldx,
                             const float *bias, const float *r, float *y, int64_t ldy, int rows,
                             int npx, int clamp, float lo, float hi) {
    if (npx & 7) /* a partial vector: masked loads of x, which is read in place */
        tsr_gemm2_tile(K, a, 1, 32, x, ldx, NULL, 0.0f, bias, r, ldy, y, ldy, rows, npx, clamp, lo,
                       hi, 1);
    else
        tsr_gemm2_tile(K, a, 1, 32, x, ldx, NULL, 0.0f, bias, r, ldy, y, ldy, rows, npx, clamp, lo,
                       hi, 0);
}

/* Packs rows [0, kb) x columns [0, nc) (nc <= 48) of x (row stride ldx) into col [kb][48],
 * zeros in columns [nc, 48): the packed-B panel the tile reads with full loads. */
static void tsr_convp_pack_avx2(const float *x, int64_t ldx, int64_t kb, int nc, float *col) {
    if (nc == TSR_GEMMP_NR) {
        for (int64_t k = 0; k < kb; k++) {
            const float *xs = x + k * ldx;
            float *cd = col + k * TSR_GEMMP_NR;
#pragma GCC unroll 6
            for (int v = 0; v < 6; v++)
                _mm256_storeu_ps(cd + 8 * v, _mm256_loadu_ps(xs + 8 * v));
        }
        return;
    }
    const int nv = nc / 8, rem = nc % 8;
    const __m256i last = tsr_gemm2_mask(rem);
    for (int64_t k = 0; k < kb; k++) {
        const float *xs = x + k * ldx;
        float *cd = col + k * TSR_GEMMP_NR;
        int v = 0;
        for (; v < nv; v++)
            _mm256_storeu_ps(cd + 8 * v, _mm256_loadu_ps(xs + 8 * v));
        if (rem) {
            _mm256_storeu_ps(cd + 8 * v, _mm256_maskload_ps(xs + 8 * v, last));
            v++;
        }
        for (; v < 6; v++)
            _mm256_storeu_ps(cd + 8 * v, _mm256_setzero_ps());
    }
}

void tsr_cpu_convp_blocked_avx2(int64_t K, const float *a8, const float *x, int64_t ldx, int64_t np,
                                const float *bias, const float *r, float *y, int64_t ldy,
                                int64_t rows, float *col, int clamp, float lo, float hi) {
    for (int64_t j0 = 0; j0 < np; j0 += TSR_GEMMP_NR) {
        const int nc = np - j0 < TSR_GEMMP_NR ? (int)(np - j0) : TSR_GEMMP_NR;
        for (int64_t k0 = 0; k0 < K; k0 += TSR_CPU_CONV_TILE_KB) {
            const int64_t kb = K - k0 < TSR_CPU_CONV_TILE_KB ? K - k0 : TSR_CPU_CONV_TILE_KB;
            tsr_convp_pack_avx2(x + k0 * ldx + j0, ldx, kb, nc, col);
            const int ep = k0 + kb == K ? clamp : TSR_EP_NONE;
            for (int64_t s = 0; s < rows; s += 8) {
                const int rr = rows - s < 8 ? (int)(rows - s) : 8;
                float *ys = y + s * ldy + j0;
                /* the first block starts from bias (+ R), the next ones accumulate onto Y */
                const float *rs = k0 > 0 ? ys : r ? r + s * ldy + j0 : NULL;
                tsr_gemm2_tile(kb, a8 + s * K + k0 * 8, 1, 8, col, TSR_GEMMP_NR, NULL, 0.0f,
                               k0 == 0 ? bias + s : NULL, rs, ldy, ys, ldy, rr, nc, ep, lo, hi, 0);
            }
        }
    }
}
