/*
 * gemm.c — GEMM executor (struct tsr_k_gemm): matrix products through CBLAS (OpenBLAS,
 * row-major cblas_sgemm), epilogue (beta * C broadcast add, residual add, activation incl.
 * LEAKY_RELU / CLIP with act_p0 / act_p1) fused per row panel.
 *
 * Why panels: the epilogue reads and rewrites all of Y. Run after a whole-matrix sgemm it would
 * stream Y from memory a second time (2 * M * N * 4 bytes of extra traffic). Instead M is cut
 * into panels whose Y rows (plus the A rows the sgemm call reads) fit in half of the cache the
 * backend gives a panel (env->panel_cache_bytes: the per-core L2 when hwloc reports one, else the
 * LLC share — an L3 shared by every core, 480 MiB on some servers, would give panels that no
 * longer fit anywhere near the core); sgemm writes a panel, and the epilogue runs on it at once,
 * while it is still in cache. Half, because B's packed blocks, the C rows of the epilogue and the
 * BLAS library's own buffers need the other half. Panels smaller than 16 rows are not made
 * (unless M itself is smaller): below that the per-call overhead of sgemm (packing B again for
 * every call) dominates.
 *
 * Threading: OpenBLAS parallelises each sgemm call with its own threads; the panels run in order
 * on the calling thread (concurrent sgemm calls would oversubscribe the cores).
 */
#include "backends/cpu/cpu_exec.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

#define TSR_GEMM_MIN_PANEL_ROWS 16

int64_t tsr_cpu_gemm_panel_rows(int64_t M, int64_t N, int64_t K, size_t panel_cache_bytes) {
    if (M <= 0) return 1;
    if (panel_cache_bytes == 0)
        panel_cache_bytes = (size_t)1 << 20; /* 1 MiB: tsr_topology_llc_bytes' default */
    const int64_t row_bytes = (N + K) * (int64_t)sizeof(float);
    int64_t rows = row_bytes > 0 ? (int64_t)(panel_cache_bytes / 2) / row_bytes : M;
    if (rows < TSR_GEMM_MIN_PANEL_ROWS) rows = TSR_GEMM_MIN_PANEL_ROWS;
    if (rows > M) rows = M;
    return rows;
}

tsr_status tsr_cpu_gemm_check(tsr_context *ctx, const char *name, const struct tsr_k_gemm *g) {
    if (!g) return TSR_ERR(ctx, TSR_E_INVALID_ARG, "gemm kernel '%s': no geometry", name);
    if (g->batch < 0 || g->M < 0 || g->N < 0 || g->K < 0)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                       "gemm kernel '%s': negative size (batch %lld, M %lld, N %lld, K %lld)", name,
                       (long long)g->batch, (long long)g->M, (long long)g->N, (long long)g->K);
    if (g->M > INT_MAX || g->N > INT_MAX || g->K > INT_MAX || g->lda > INT_MAX || g->ldb > INT_MAX)
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "gemm kernel '%s': M %lld, N %lld, K %lld or a leading dim exceeds the "
                       "CBLAS int range",
                       name, (long long)g->M, (long long)g->N, (long long)g->K);
    const int64_t min_lda = g->trans_a ? g->M : g->K;
    const int64_t min_ldb = g->trans_b ? g->K : g->N;
    if (g->lda < (min_lda > 1 ? min_lda : 1) || g->ldb < (min_ldb > 1 ? min_ldb : 1))
        return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                       "gemm kernel '%s': lda %lld / ldb %lld too small for M %lld N %lld K %lld "
                       "(trans_a %d, trans_b %d)",
                       name, (long long)g->lda, (long long)g->ldb, (long long)g->M, (long long)g->N,
                       (long long)g->K, g->trans_a, g->trans_b);
    if (g->stride_a < 0 || g->stride_b < 0 ||
        (g->has_c && (g->c_stride_b < 0 || g->c_stride_m < 0 || g->c_stride_n < 0)))
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "gemm kernel '%s': negative stride", name);
    if (!tsr_cpu_act_valid(g->act))
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED, "gemm kernel '%s': unknown activation %d", name,
                       (int)g->act);
    return TSR_OK;
}

int tsr_cpu_act_valid(tsr_activation act) {
    switch (act) {
    case TSR_ACT_NONE:
    case TSR_ACT_RELU:
    case TSR_ACT_SIGMOID:
    case TSR_ACT_TANH:
    case TSR_ACT_LEAKY_RELU:
    case TSR_ACT_CLIP:
        return 1;
    }
    return 0;
}

void tsr_cpu_act_apply(const struct tsr_cpu_env *env, tsr_activation act, float p0, float p1,
                       size_t n, float *y) {
    switch (act) {
    case TSR_ACT_RELU:
        env->ew->unary[TSR_EW_RELU](n, y, y, 0.0f, 0.0f);
        break;
    case TSR_ACT_SIGMOID:
        env->ew->unary[TSR_EW_SIGMOID](n, y, y, 0.0f, 0.0f);
        break;
    case TSR_ACT_TANH:
        env->ew->unary[TSR_EW_TANH](n, y, y, 0.0f, 0.0f);
        break;
    case TSR_ACT_LEAKY_RELU:
        env->ew->unary[TSR_EW_LEAKY_RELU](n, y, y, p0, p1);
        break;
    case TSR_ACT_CLIP:
        env->ew->unary[TSR_EW_CLIP](n, y, y, p0, p1);
        break;
    case TSR_ACT_NONE:
        break;
    }
}

/* Epilogue on rows [m0, m0 + rows) of batch b: Yp (rows x N, contiguous) =
 * act(Yp + beta * C + R) with R (NULL = none) at the same offset as Yp. */
static void tsr_gemm_epilogue(const struct tsr_cpu_env *env, const struct tsr_k_gemm *g,
                              const float *C, const float *Rp, int64_t b, int64_t m0, int64_t rows,
                              float *Yp) {
    const size_t N = (size_t)g->N;
    if (g->has_c && g->beta != 0.0f) {
        for (int64_t r = 0; r < rows; r++) {
            const float *c = C + b * g->c_stride_b + (m0 + r) * g->c_stride_m;
            float *y = Yp + (size_t)r * N;
            if (g->c_stride_n == 1) {
                env->ew->axpy(N, g->beta, c, y);
            } else if (g->c_stride_n == 0) {
                const float v = g->beta * c[0];
                env->ew->binary_vs[TSR_EW_ADD](N, y, &v, y);
            } else {
                for (size_t n = 0; n < N; n++)
                    y[n] += g->beta * c[(int64_t)n * g->c_stride_n];
            }
        }
    } else if (g->has_c) {
        /* beta == 0: ONNX still computes 0 * C (NaN/inf in C propagate) */
        for (int64_t r = 0; r < rows; r++) {
            const float *c = C + b * g->c_stride_b + (m0 + r) * g->c_stride_m;
            float *y = Yp + (size_t)r * N;
            for (size_t n = 0; n < N; n++)
                y[n] += 0.0f * c[(int64_t)n * g->c_stride_n];
        }
    }
    const size_t total = (size_t)rows * N;
    if (Rp) env->ew->binary[TSR_EW_ADD](total, Yp, Rp, Yp);
    tsr_cpu_act_apply(env, g->act, g->act_p0, g->act_p1, total, Yp);
}

void tsr_cpu_gemm_run(const struct tsr_cpu_env *env, const struct tsr_k_gemm *g, const float *A,
                      const float *B, const float *C, const float *R, float *Y) {
    const int64_t M = g->M, N = g->N, K = g->K;
    if (M == 0 || N == 0) return;
    const int64_t panel = tsr_cpu_gemm_panel_rows(M, N, K, env->panel_cache_bytes);
    /* Y == R (in-place residual): sgemm accumulates onto the residual with beta = 1. */
    const int in_place = R != NULL && R == Y;
    for (int64_t b = 0; b < g->batch; b++) {
        const float *Ab = A + b * g->stride_a;
        const float *Bb = B + b * g->stride_b;
        float *Yb = Y + b * M * N;
        for (int64_t m0 = 0; m0 < M; m0 += panel) {
            const int64_t rows = M - m0 < panel ? M - m0 : panel;
            float *Yp = Yb + m0 * N;
            if (K == 0) {
                if (!in_place) memset(Yp, 0, (size_t)(rows * N) * sizeof(float));
            } else {
                /* A'[m0 + r, k]: row-major A at row m0, or column m0 of the stored A^T. */
                const float *Ap = g->trans_a ? Ab + m0 : Ab + m0 * g->lda;
                cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                            g->trans_b ? CblasTrans : CblasNoTrans, (int)rows, (int)N, (int)K,
                            g->alpha, Ap, (int)g->lda, Bb, (int)g->ldb, in_place ? 1.0f : 0.0f, Yp,
                            (int)N);
            }
            tsr_gemm_epilogue(env, g, C, R && !in_place ? R + b * M * N + m0 * N : NULL, b, m0,
                              rows, Yp);
        }
    }
}
