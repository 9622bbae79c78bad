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
 * Threading: Y is cut into blocks (tsr_cpu_gemm_split: row panels, or column panels when M is
 * small), one task of the backend's pool each: a single-threaded sgemm into the block, then the
 * block's epilogue while it is still in that core's cache. So the epilogue runs in parallel and
 * overlaps the other core's sgemm, instead of running on the calling thread while OpenBLAS's
 * threads wait; and OpenBLAS's own threads (which spin-yield for a while after each threaded call,
 * competing with the pool on a small machine) never run. Before this (each panel a threaded sgemm
 * call, epilogue on the caller) fused Linear+bias+ReLU was 13% / 34% slower than the bare GEMM at
 * [4096x256]x[256x256] / [65536x64]x[64x256] on the 2-core development VM.
 */
#include "backends/cpu/cpu_exec.h"
#include "backends/cpu/gemm_packed.h"

#include <cblas.h>
#include <math.h>
#include <limits.h>
#include <pthread.h>
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
    /* an empty operand (K == 0: ONNX allows zero-size tensors) is never addressed: the task
     * writes zeros (then the epilogue) without calling CBLAS */
    if ((g->M && g->K && g->lda < (min_lda > 1 ? min_lda : 1)) ||
        (g->K && g->N && g->ldb < (min_ldb > 1 ? min_ldb : 1)))
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
    case TSR_ACT_HARD_SIGMOID:
    case TSR_ACT_HARD_SWISH:
    case TSR_ACT_SILU:
    case TSR_ACT_GELU:
    case TSR_ACT_GELU_TANH:
        return 1;
    }
    return 0;
}

int tsr_cpu_act_clamp(tsr_activation act, float p0, float p1, float *lo, float *hi) {
    *lo = act == TSR_ACT_CLIP ? p0 : 0.0f;
    *hi = act == TSR_ACT_CLIP ? p1 : act == TSR_ACT_RELU ? INFINITY : 0.0f;
    return act == TSR_ACT_RELU || act == TSR_ACT_CLIP;
}

int tsr_cpu_act_epilogue(tsr_activation act, float p0, float p1, float *lo, float *hi) {
    if (tsr_cpu_act_clamp(act, p0, p1, lo, hi)) return TSR_EP_CLAMP;
    return act == TSR_ACT_HARD_SWISH ? TSR_EP_HSWISH : TSR_EP_NONE;
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
    case TSR_ACT_HARD_SIGMOID:
        env->ew->unary[TSR_EW_HARD_SIGMOID](n, y, y, p0, p1);
        break;
    case TSR_ACT_HARD_SWISH:
        env->ew->unary[TSR_EW_HARD_SWISH](n, y, y, p0, p1);
        break;
    case TSR_ACT_SILU:
        env->ew->unary[TSR_EW_SILU](n, y, y, p0, p1);
        break;
    case TSR_ACT_GELU:
        env->ew->unary[TSR_EW_GELU](n, y, y, p0, p1);
        break;
    case TSR_ACT_GELU_TANH:
        env->ew->unary[TSR_EW_GELU_TANH](n, y, y, p0, p1);
        break;
    case TSR_ACT_NONE:
        break;
    }
}

/* ---- OpenBLAS threads ---- */

static pthread_mutex_t tsr_blas_mu = PTHREAD_MUTEX_INITIALIZER;
static int tsr_blas_users; /* guarded by tsr_blas_mu */
static int tsr_blas_saved; /* OpenBLAS thread count before the first user; guarded */

void tsr_cpu_blas_single_enter(void) {
    pthread_mutex_lock(&tsr_blas_mu);
    if (tsr_blas_users++ == 0) {
        tsr_blas_saved = openblas_get_num_threads();
        if (tsr_blas_saved != 1) openblas_set_num_threads(1);
    }
    pthread_mutex_unlock(&tsr_blas_mu);
}

void tsr_cpu_blas_single_leave(void) {
    pthread_mutex_lock(&tsr_blas_mu);
    if (--tsr_blas_users == 0 && tsr_blas_saved != 1) openblas_set_num_threads(tsr_blas_saved);
    pthread_mutex_unlock(&tsr_blas_mu);
}

/* ---- partition ---- */

void tsr_cpu_gemm_split(const struct tsr_cpu_env *env, const struct tsr_k_gemm *g, int64_t *mb,
                        int64_t *nb) {
    const int64_t M = g->M, N = g->N, K = g->K, B = g->batch > 0 ? g->batch : 1;
    const int T = env->n_threads > 1 && env->pool ? env->n_threads : 1;
    /* a streamed output goes through per-thread scratch blocks, sized like epilogue panels */
    const int epilogue =
        g->has_c || g->has_residual || g->act != TSR_ACT_NONE || tsr_cpu_gemm_streams(g);
    *nb = N;
    /* tiny products: one task per batch (the pool's wake-up would cost more than the work) */
    if (T == 1 ||
        2.0 * (double)M * (double)N * (double)K * (double)B < TSR_CPU_GEMM_PARALLEL_FLOPS) {
        *mb = epilogue ? tsr_cpu_gemm_panel_rows(M, N, K, env->panel_cache_bytes) : M;
        return;
    }
    /* Tasks wanted: T (one contiguous block per thread, B packed once per thread); with an
     * epilogue the blocks are further cut to panels that fit the cache. (4 tasks per thread, to
     * even out a core stolen by another process, cost 3-4 % at 4096x256x256 on a quiet machine:
     * every extra sgemm call packs B again — measured with `tessera bench --suite fusion`.) */
    const int64_t want = (int64_t)T;
    int64_t per_batch = (want + B - 1) / B; /* tasks wanted in each batch */
    int64_t rows = (M + per_batch - 1) / per_batch;
    if (epilogue) {
        const int64_t cache_rows = tsr_cpu_gemm_panel_rows(M, N, K, env->panel_cache_bytes);
        if (cache_rows < rows) rows = cache_rows;
    }
    if (rows >= TSR_GEMM_MIN_PANEL_ROWS || rows >= M) {
        *mb = rows < TSR_GEMM_MIN_PANEL_ROWS ? TSR_GEMM_MIN_PANEL_ROWS : rows;
        if (*mb > M) *mb = M;
        return;
    }
    /* few rows (M small, e.g. a batch of a few samples): split the columns instead, in multiples
     * of 16 (whole vectors for the epilogue) */
    *mb = M;
    const int64_t m_tasks = (M + TSR_GEMM_MIN_PANEL_ROWS - 1) / TSR_GEMM_MIN_PANEL_ROWS;
    if (m_tasks < per_batch) {
        const int64_t n_parts = (per_batch + m_tasks - 1) / m_tasks;
        int64_t cols = (N + n_parts - 1) / n_parts;
        cols = (cols + 15) & ~(int64_t)15;
        if (cols < 16) cols = 16;
        *nb = cols < N ? cols : N;
        *mb = M < TSR_GEMM_MIN_PANEL_ROWS ? M : TSR_GEMM_MIN_PANEL_ROWS;
    }
}

/* ---- execution ---- */

struct tsr_gemm_job {
    const struct tsr_cpu_env *env;
    const struct tsr_k_gemm *g;
    const float *A, *B, *C, *R;
    float *Y;
    int in_place;
    int stream;               /* blocks through scratch, rows out with streaming stores */
    int64_t mb, nb;           /* block of Y per task */
    int64_t m_tasks, n_tasks; /* per batch */
};

/* Epilogue of row m, columns [n0, n0 + len) of batch b, on y (that row's values; Y itself or a
 * scratch copy): + beta * C, + R (NULL = none; same layout as Y), activation. */
static void tsr_gemm_epilogue_row(const struct tsr_cpu_env *env, const struct tsr_k_gemm *g,
                                  const float *C, const float *R, int64_t b, int64_t m, int64_t n0,
                                  size_t len, float *y) {
    const float *crow = NULL; /* C row with unit stride, left to the fused bias_act pass */
    if (g->has_c) {
        const float *c = C + b * g->c_stride_b + m * g->c_stride_m + n0 * g->c_stride_n;
        if (g->beta == 0.0f) {
            /* ONNX still computes 0 * C (NaN/inf in C propagate) */
            for (size_t n = 0; n < len; n++)
                y[n] += 0.0f * c[(int64_t)n * g->c_stride_n];
        } else if (g->c_stride_n == 1) {
            crow = c;
        } else if (g->c_stride_n == 0) {
            const float v = g->beta * c[0];
            env->ew->binary_vs[TSR_EW_ADD](len, y, &v, y);
        } else {
            for (size_t n = 0; n < len; n++)
                y[n] += g->beta * c[(int64_t)n * g->c_stride_n];
        }
    }
    if (R) {
        /* the residual comes after C: add C first when it is still pending */
        if (crow) env->ew->axpy(len, g->beta, crow, y);
        crow = NULL;
        env->ew->binary[TSR_EW_ADD](len, y, R + (b * g->M + m) * g->N + n0, y);
    }
    if (crow || g->act != TSR_ACT_NONE)
        env->ew->bias_act(len, g->beta, crow, y, g->act, g->act_p0, g->act_p1);
}

/* One block: sgemm (single-threaded OpenBLAS), then the block's epilogue while it is in this
 * core's cache. Streaming (job->stream): sgemm writes the block into this thread's scratch (it
 * stays cached from one block to the next, so no line of Y is read for ownership), each row gets
 * its epilogue there and goes to Y with streaming stores. */
static void tsr_gemm_task(void *arg, size_t task, int thread_id) {
    const struct tsr_gemm_job *job = arg;
    const struct tsr_k_gemm *g = job->g;
    const struct tsr_cpu_env *env = job->env;
    const int64_t per_batch = job->m_tasks * job->n_tasks;
    const int64_t b = (int64_t)task / per_batch, t = (int64_t)task % per_batch;
    const int64_t m0 = (t / job->n_tasks) * job->mb, n0 = (t % job->n_tasks) * job->nb;
    const int64_t rows = g->M - m0 < job->mb ? g->M - m0 : job->mb;
    const int64_t cols = g->N - n0 < job->nb ? g->N - n0 : job->nb;
    float *Yp = job->Y + b * g->M * g->N + m0 * g->N + n0;
    float *dst = Yp;
    int64_t ldd = g->N;
    if (job->stream) {
        dst = env->scratch + (size_t)thread_id * env->scratch_floats;
        ldd = cols;
    }
    if (g->K == 0) {
        if (!job->in_place)
            for (int64_t r = 0; r < rows; r++)
                memset(dst + r * ldd, 0, (size_t)cols * sizeof(float));
    } else {
        const float *Ab = job->A + b * g->stride_a, *Bb = job->B + b * g->stride_b;
        /* A'[m0 + r, k]: row-major A at row m0, or column m0 of the stored A^T; B'[k, n0 + c]:
         * column n0 of B, or row n0 of the stored B^T */
        const float *Ap = g->trans_a ? Ab + m0 : Ab + m0 * g->lda;
        const float *Bp = g->trans_b ? Bb + n0 * g->ldb : Bb + n0;
        cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                    g->trans_b ? CblasTrans : CblasNoTrans, (int)rows, (int)cols, (int)g->K,
                    g->alpha, Ap, (int)g->lda, Bp, (int)g->ldb, job->in_place ? 1.0f : 0.0f, dst,
                    (int)ldd);
    }
    const float *R = job->in_place ? NULL : job->R;
    /* streamed with a bias row (or nothing) and an activation: one pass from scratch to Y */
    const int one_pass =
        job->stream && !R && (!g->has_c || (g->c_stride_n == 1 && g->beta != 0.0f));
    for (int64_t r = 0; r < rows; r++) {
        float *row = dst + r * ldd;
        if (one_pass) {
            const float *c =
                g->has_c ? job->C + b * g->c_stride_b + (m0 + r) * g->c_stride_m + n0 : NULL;
            env->ew->bias_act_stream((size_t)cols, g->beta, c, row, Yp + r * g->N, g->act,
                                     g->act_p0, g->act_p1);
            continue;
        }
        tsr_gemm_epilogue_row(env, g, job->C, R, b, m0 + r, n0, (size_t)cols, row);
        if (job->stream) env->ew->stream_copy((size_t)cols, row, Yp + r * g->N);
    }
    if (job->stream) env->ew->store_fence();
}

int tsr_cpu_gemm_streams(const struct tsr_k_gemm *g) {
    return (uint64_t)(g->batch * g->M * g->N) * sizeof(float) >= TSR_CPU_EW_STREAM_MIN_BYTES;
}

size_t tsr_cpu_gemm_scratch_floats(const struct tsr_cpu_env *env, const struct tsr_k_gemm *g) {
    const size_t batched = tsr_cpu_gemmb_scratch_floats(env->ew->isa, g);
    if (batched) return batched;
    if (!tsr_cpu_gemm_streams(g) || tsr_cpu_gemm_blas_threaded(env, g)) return 0;
    int64_t mb, nb;
    tsr_cpu_gemm_split(env, g, &mb, &nb);
    return (size_t)(mb * nb);
}

int tsr_cpu_gemm_blas_threaded(const struct tsr_cpu_env *env, const struct tsr_k_gemm *g) {
    return env->n_threads > 1 && env->pool && g->K > 0 && g->M >= 64 &&
           (uint64_t)g->K * (uint64_t)g->N * sizeof(float) >
               4 * (uint64_t)(env->panel_cache_bytes ? env->panel_cache_bytes : (1u << 20));
}

/* Epilogue task of the OpenBLAS-threaded path: row panel `task` of every batch. */
static void tsr_gemm_epilogue_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    const struct tsr_gemm_job *job = arg;
    const struct tsr_k_gemm *g = job->g;
    const int64_t b = (int64_t)task / job->m_tasks, m0 = ((int64_t)task % job->m_tasks) * job->mb;
    const int64_t rows = g->M - m0 < job->mb ? g->M - m0 : job->mb;
    const float *R = job->in_place ? NULL : job->R;
    for (int64_t r = 0; r < rows; r++)
        tsr_gemm_epilogue_row(job->env, g, job->C, R, b, m0 + r, 0, (size_t)g->N,
                              job->Y + (b * g->M + m0 + r) * g->N);
}

/* Large B (tsr_cpu_gemm_blas_threaded): one sgemm per batch on the calling thread with
 * OpenBLAS's own threads, which share one packed copy of B (separate calls per block would each
 * pack all of B: sgemm 2048 ran 30% slower that way), then the epilogue (if any) over the pool in
 * row panels. The epilogue re-reads Y, O(M*N) against the product's O(M*N*K) with K*N large. */
static void tsr_gemm_run_blas_threaded(struct tsr_gemm_job *job) {
    const struct tsr_k_gemm *g = job->g;
    for (int64_t b = 0; b < g->batch; b++)
        cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                    g->trans_b ? CblasTrans : CblasNoTrans, (int)g->M, (int)g->N, (int)g->K,
                    g->alpha, job->A + b * g->stride_a, (int)g->lda, job->B + b * g->stride_b,
                    (int)g->ldb, job->in_place ? 1.0f : 0.0f, job->Y + b * g->M * g->N, (int)g->N);
    if (!g->has_c && (!g->has_residual || job->in_place) && g->act == TSR_ACT_NONE) return;
    job->mb = 64;
    job->m_tasks = (g->M + job->mb - 1) / job->mb;
    tsr_cpu_pool_parallel_for(job->env->pool, (size_t)(g->batch * job->m_tasks),
                              tsr_gemm_epilogue_task, job);
}

/* ---- M = 1: matrix-vector products ---- */

/* A single output row (a fully connected layer at batch 1) is a GEMV: sgemm would pack all of B
 * (the weights, often MBs) on every call for one row of output — 0.7-0.9 ms for the 1024 x 1000
 * classifier of MobileNetV3 where streaming B once takes about 0.1 ms. Each task runs
 * cblas_sgemv on a slice of the N outputs (the rows of B^T, or a column block of B), then the
 * slice's epilogue. */
#define TSR_GEMV_MIN_COLS 64

static void tsr_gemv_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    const struct tsr_gemm_job *job = arg;
    const struct tsr_k_gemm *g = job->g;
    const int64_t b = (int64_t)task / job->n_tasks, n0 = ((int64_t)task % job->n_tasks) * job->nb;
    const int64_t cols = g->N - n0 < job->nb ? g->N - n0 : job->nb;
    const float *x = job->A + b * g->stride_a, *Bb = job->B + b * g->stride_b;
    const int incx = g->trans_a ? (int)g->lda : 1;
    float *y = job->Y + b * g->N + n0;
    const float beta = job->in_place ? 1.0f : 0.0f;
    if (g->trans_b) /* B^T stored [N][ldb]: y = B^T-rows . x */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)cols, (int)g->K, g->alpha, Bb + n0 * g->ldb,
                    (int)g->ldb, x, incx, beta, y, 1);
    else /* B stored [K][ldb]: y = (column block of B)^T . x */
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)g->K, (int)cols, g->alpha, Bb + n0, (int)g->ldb,
                    x, incx, beta, y, 1);
    tsr_gemm_epilogue_row(job->env, g, job->C, job->in_place ? NULL : job->R, b, 0, n0,
                          (size_t)cols, y);
}

static void tsr_gemv_run(struct tsr_gemm_job *job) {
    const struct tsr_k_gemm *g = job->g;
    const struct tsr_cpu_env *env = job->env;
    const int T = env->pool && env->n_threads > 1 ? env->n_threads : 1;
    int64_t parts = (double)g->K * (double)g->N < 65536.0 ? 1 : T;
    int64_t cols = (g->N + parts - 1) / parts;
    cols = (cols + 15) & ~(int64_t)15;
    if (cols < TSR_GEMV_MIN_COLS) cols = TSR_GEMV_MIN_COLS;
    if (cols > g->N) cols = g->N;
    job->nb = cols;
    job->n_tasks = (g->N + cols - 1) / cols;
    const int64_t n_tasks = g->batch * job->n_tasks;
    tsr_cpu_blas_single_enter();
    if (n_tasks > 1 && T > 1)
        tsr_cpu_pool_parallel_for(env->pool, (size_t)n_tasks, tsr_gemv_task, job);
    else
        for (int64_t t = 0; t < n_tasks; t++)
            tsr_gemv_task(job, (size_t)t, 0);
    tsr_cpu_blas_single_leave();
}

void tsr_cpu_gemm_run(const struct tsr_cpu_env *env, const struct tsr_k_gemm *g, const float *A,
                      const float *B, const float *C, const float *R, float *Y) {
    if (g->M == 0 || g->N == 0 || g->batch == 0) return;
    const size_t batched = tsr_cpu_gemmb_scratch_floats(env->ew->isa, g);
    if (batched && env->scratch && env->scratch_floats >= batched) { /* gemm_packed.h */
        tsr_cpu_gemmb_run(env, g, A, B, C, R, Y);
        return;
    }
    if (g->M == 1 && g->K > 0) {
        struct tsr_gemm_job job = {.env = env, .g = g, .A = A, .B = B, .C = C, .R = R, .Y = Y};
        job.in_place = R != NULL && R == Y;
        tsr_gemv_run(&job);
        return;
    }
    if (tsr_cpu_gemm_blas_threaded(env, g)) {
        struct tsr_gemm_job job = {.env = env, .g = g, .A = A, .B = B, .C = C, .R = R, .Y = Y};
        job.in_place = R != NULL && R == Y;
        tsr_gemm_run_blas_threaded(&job);
        return;
    }
    struct tsr_gemm_job job = {.env = env, .g = g, .A = A, .B = B, .C = C, .R = R, .Y = Y};
    /* Y == R (in-place residual): sgemm accumulates onto the residual with beta = 1. */
    job.in_place = R != NULL && R == Y;
    tsr_cpu_gemm_split(env, g, &job.mb, &job.nb);
    job.m_tasks = (g->M + job.mb - 1) / job.mb;
    job.n_tasks = (g->N + job.nb - 1) / job.nb;
    job.stream = tsr_cpu_gemm_streams(g) && !job.in_place && g->K > 0 && env->scratch &&
                 env->scratch_floats >= (size_t)(job.mb * job.nb);
    const int64_t n_tasks = g->batch * job.m_tasks * job.n_tasks;
    const int parallel = n_tasks > 1 && env->pool && env->n_threads > 1;
    /* Tiny products on the calling thread skip the OpenBLAS thread switch (two mutex operations,
     * a noticeable share of a 1 us inference): OpenBLAS runs sgemm calls with M*N*K <= 65536 * 4
     * single-threaded anyway (interface/gemm.c, SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD);
     * the bound here is a quarter of that. */
    const int hold = parallel || (double)job.mb * (double)job.nb * (double)g->K > 65536.0;
    if (hold) tsr_cpu_blas_single_enter();
    if (parallel)
        tsr_cpu_pool_parallel_for(env->pool, (size_t)n_tasks, tsr_gemm_task, &job);
    else
        for (int64_t t = 0; t < n_tasks; t++)
            tsr_gemm_task(&job, (size_t)t, 0);
    if (hold) tsr_cpu_blas_single_leave();
}
