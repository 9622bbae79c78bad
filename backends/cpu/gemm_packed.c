/*
 * gemm_packed.c — GEMM on pre-packed weights (gemm_packed.h): packing at prepare, the split of
 * Y into pool tasks (32 rows x all columns: every packed panel is used by the task's four 8-row
 * tiles while it is in L1/L2, and the rows' activation pass runs on contiguous rows) and the
 * epilogue that is not done in registers.
 */
#include "backends/cpu/gemm_packed.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_exec.h"

#include <stdlib.h>
#include <string.h>

#define TSR_GEMMP_TASK_ROWS 32

typedef void (*tsr_gemmp_tile_fn)(int64_t K, const float *a, int64_t lda, const float *bp,
                                  const float *c, float beta, const float *r, int64_t ldr, float *y,
                                  int64_t ldy, int rows, int cols, int clamp, float lo, float hi);

int tsr_cpu_gemmp_supported(int isa, const struct tsr_k_gemm *g) {
    if (isa < TSR_ISA_AVX2 || !g || g->trans_a || g->K <= 0 || g->M < 2 || g->N <= 0) return 0;
    if (g->batch > 1 && g->stride_b != 0) return 0;
    if (g->has_c && (g->c_stride_m != 0 || g->c_stride_n != 1 || (g->batch > 1 && g->c_stride_b)))
        return 0;
    return tsr_cpu_act_valid(g->act);
}

void tsr_cpu_gemmp_free(struct tsr_cpu_gemmp *p) {
    if (!p) return;
    free(p->bp);
    free(p);
}

/* alpha * B' of g packed into bp: [ceil(N / 48)][K][48], zero columns past N. */
static void gemmp_pack(const struct tsr_k_gemm *g, const float *B, float *bp) {
    const int64_t n_panels = (g->N + TSR_GEMMP_NR - 1) / TSR_GEMMP_NR;
    if (!g->trans_b) { /* rows of B: contiguous runs of up to 48 (the per-batch packing's case) */
        for (int64_t j = 0; j < n_panels; j++) {
            const int64_t n0 = j * TSR_GEMMP_NR;
            const int64_t w = g->N - n0 < TSR_GEMMP_NR ? g->N - n0 : TSR_GEMMP_NR;
            for (int64_t k = 0; k < g->K; k++) {
                float *dst = bp + (j * g->K + k) * TSR_GEMMP_NR;
                const float *src = B + k * g->ldb + n0;
                if (g->alpha == 1.0f) {
                    memcpy(dst, src, (size_t)w * sizeof(float));
                } else {
                    for (int64_t c = 0; c < w; c++)
                        dst[c] = g->alpha * src[c];
                }
                if (w < TSR_GEMMP_NR)
                    memset(dst + w, 0, (size_t)(TSR_GEMMP_NR - w) * sizeof(float));
            }
        }
        return;
    }
    for (int64_t j = 0; j < n_panels; j++) /* B^T [N][ldb]: a strided gather per column */
        for (int64_t k = 0; k < g->K; k++) {
            float *dst = bp + (j * g->K + k) * TSR_GEMMP_NR;
            for (int64_t c = 0; c < TSR_GEMMP_NR; c++) {
                const int64_t n = j * TSR_GEMMP_NR + c;
                dst[c] = n >= g->N ? 0.0f : g->alpha * B[n * g->ldb + k];
            }
        }
}

int tsr_cpu_gemmp_prepare(const struct tsr_k_gemm *g, const float *B, struct tsr_cpu_gemmp **out) {
    *out = NULL;
    struct tsr_cpu_gemmp *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->g = *g;
    p->n_panels = (g->N + TSR_GEMMP_NR - 1) / TSR_GEMMP_NR;
    void *bp = NULL;
    if (posix_memalign(&bp, 64, (size_t)(p->n_panels * g->K) * TSR_GEMMP_NR * sizeof(float))) {
        free(p);
        return -1;
    }
    p->bp = bp;
    gemmp_pack(g, B, p->bp);
    *out = p;
    return 0;
}

/* The register tiles of rows [m0, m1) x panels [j0, j1) of one batch: A, R, Y that batch's
 * (R NULL: none), bp the packed B ([n_panels][K][48]), C the bias row or NULL. */
static void gemmp_tiles(tsr_gemmp_tile_fn tile, const struct tsr_k_gemm *g, const float *A,
                        const float *bp, const float *C, const float *R, float *Y, int64_t m0,
                        int64_t m1, int64_t j0, int64_t j1, int clamp, float lo, float hi) {
    for (int64_t j = j0; j < j1; j++) {
        const int64_t n0 = j * TSR_GEMMP_NR;
        const int cols = (int)(g->N - n0 < TSR_GEMMP_NR ? g->N - n0 : TSR_GEMMP_NR);
        const float *c = C ? C + n0 : NULL;
        for (int64_t m = m0; m < m1; m += TSR_GEMMP_MR) {
            const int rows = (int)(m1 - m < TSR_GEMMP_MR ? m1 - m : TSR_GEMMP_MR);
            tile(g->K, A + m * g->lda, g->lda, bp + j * g->K * TSR_GEMMP_NR, c, g->beta,
                 R ? R + m * g->N + n0 : NULL, g->N, Y + m * g->N + n0, g->N, rows, cols, clamp, lo,
                 hi);
        }
    }
}

static tsr_gemmp_tile_fn gemmp_tile_for(int isa) {
    return isa == TSR_ISA_AVX512 ? tsr_cpu_gemm_tile_avx512 : tsr_cpu_gemm_tile_avx2;
}

/* ---- batched small products: B packed per batch into the thread's scratch ---- */

size_t tsr_cpu_gemmb_scratch_floats(int isa, const struct tsr_k_gemm *g) {
    if (isa < TSR_ISA_AVX2 || !g || g->trans_a || g->K <= 0 || g->M < 2 || g->N <= 0 ||
        g->batch < 2 || g->stride_b == 0 || !tsr_cpu_act_valid(g->act))
        return 0;
    if (g->has_c && (g->c_stride_m != 0 || g->c_stride_n != 1 || g->c_stride_b != 0)) return 0;
    if (2.0 * (double)g->M * (double)g->N * (double)g->K > TSR_GEMMB_MAX_FLOPS) return 0;
    const int64_t n_panels = (g->N + TSR_GEMMP_NR - 1) / TSR_GEMMP_NR;
    const int64_t need = n_panels * g->K * TSR_GEMMP_NR;
    return need <= TSR_GEMMB_MAX_PACK_FLOATS ? (size_t)need : 0;
}

struct tsr_gemmb_job {
    const struct tsr_cpu_env *env;
    const struct tsr_k_gemm *g;
    const float *A, *B, *C, *R;
    float *Y;
    tsr_gemmp_tile_fn tile;
};

/* Batch `task`: its B packed into this thread's scratch, then every register tile. */
static void tsr_gemmb_task(void *arg, size_t task, int thread_id) {
    const struct tsr_gemmb_job *job = arg;
    const struct tsr_k_gemm *g = job->g;
    const int64_t b = (int64_t)task;
    float *bp = job->env->scratch + (size_t)thread_id * job->env->scratch_floats;
    gemmp_pack(g, job->B + b * g->stride_b, bp);
    const float *A = job->A + b * g->stride_a;
    float *Y = job->Y + b * g->M * g->N;
    const float *R = job->R ? job->R + b * g->M * g->N : NULL;
    float lo, hi;
    const int clamp = tsr_cpu_act_epilogue(g->act, g->act_p0, g->act_p1, &lo, &hi);
    const int64_t n_panels = (g->N + TSR_GEMMP_NR - 1) / TSR_GEMMP_NR;
    gemmp_tiles(job->tile, g, A, bp, job->C, R, Y, 0, g->M, 0, n_panels, clamp, lo, hi);
    if (g->act != TSR_ACT_NONE && !clamp)
        tsr_cpu_act_apply(job->env, g->act, g->act_p0, g->act_p1, (size_t)(g->M * g->N), Y);
}

void tsr_cpu_gemmb_run(const struct tsr_cpu_env *env, const struct tsr_k_gemm *g, const float *A,
                       const float *B, const float *C, const float *R, float *Y) {
    struct tsr_gemmb_job job = {.env = env,
                                .g = g,
                                .A = A,
                                .B = B,
                                .C = g->has_c ? C : NULL,
                                .R = R,
                                .Y = Y,
                                .tile = gemmp_tile_for(env->ew->isa)};
    const double flops = 2.0 * (double)g->batch * (double)g->M * (double)g->N * (double)g->K;
    if (env->pool && env->n_threads > 1 && flops >= TSR_CPU_GEMM_PARALLEL_FLOPS)
        tsr_cpu_pool_parallel_for(env->pool, (size_t)g->batch, tsr_gemmb_task, &job);
    else
        for (int64_t b = 0; b < g->batch; b++)
            tsr_gemmb_task(&job, (size_t)b, 0);
}

struct tsr_gemmp_job {
    const struct tsr_cpu_env *env;
    const struct tsr_cpu_gemmp *p;
    const float *A, *C, *R;
    float *Y;
    tsr_gemmp_tile_fn tile; /* by the ISA tier */
    int64_t m_tasks, n_splits, panels_per_split;
};

static void tsr_gemmp_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    const struct tsr_gemmp_job *job = arg;
    const struct tsr_k_gemm *g = &job->p->g;
    const int64_t split = (int64_t)task % job->n_splits, mt = (int64_t)task / job->n_splits;
    const int64_t b = mt / job->m_tasks;
    const int64_t m0 = (mt % job->m_tasks) * TSR_GEMMP_TASK_ROWS;
    const int64_t j0 = split * job->panels_per_split;
    const int64_t j1 = j0 + job->panels_per_split < job->p->n_panels ? j0 + job->panels_per_split
                                                                     : job->p->n_panels;
    const int64_t m1 = m0 + TSR_GEMMP_TASK_ROWS < g->M ? m0 + TSR_GEMMP_TASK_ROWS : g->M;
    const float *A = job->A + b * g->stride_a;
    float *Y = job->Y + b * g->M * g->N;
    const float *R = job->R ? job->R + b * g->M * g->N : NULL;
    float lo, hi;
    const int clamp = tsr_cpu_act_epilogue(g->act, g->act_p0, g->act_p1, &lo, &hi);
    gemmp_tiles(job->tile, g, A, job->p->bp, job->C, R, Y, m0, m1, j0, j1, clamp, lo, hi);
    const int64_t n0 = j0 * TSR_GEMMP_NR, n1 = j1 * TSR_GEMMP_NR < g->N ? j1 * TSR_GEMMP_NR : g->N;
    if (g->act != TSR_ACT_NONE && !clamp && n1 > n0)
        for (int64_t m = m0; m < m1; m++)
            tsr_cpu_act_apply(job->env, g->act, g->act_p0, g->act_p1, (size_t)(n1 - n0),
                              Y + m * g->N + n0);
}

void tsr_cpu_gemmp_run(const struct tsr_cpu_env *env, const struct tsr_cpu_gemmp *p, const float *A,
                       const float *C, const float *R, float *Y) {
    const struct tsr_k_gemm *g = &p->g;
    if (g->M == 0 || g->N == 0 || g->batch == 0) return;
    struct tsr_gemmp_job job = {.env = env,
                                .p = p,
                                .A = A,
                                .C = g->has_c ? C : NULL,
                                .R = R,
                                .Y = Y,
                                .tile = gemmp_tile_for(env->ew->isa)};
    job.m_tasks = (g->M + TSR_GEMMP_TASK_ROWS - 1) / TSR_GEMMP_TASK_ROWS;
    /* few row tasks (a batch-8 classifier: M = 8): the panels are split too, so every thread
     * streams its share of the weights (2 tasks per thread) */
    const int64_t row_tasks = g->batch * job.m_tasks, want = 2 * (int64_t)env->n_threads;
    job.n_splits = 1;
    if (env->pool && env->n_threads > 1 && row_tasks < want) {
        job.n_splits = (want + row_tasks - 1) / row_tasks;
        if (job.n_splits > p->n_panels) job.n_splits = p->n_panels;
    }
    job.panels_per_split = (p->n_panels + job.n_splits - 1) / job.n_splits;
    job.n_splits = (p->n_panels + job.panels_per_split - 1) / job.panels_per_split;
    const int64_t n_tasks = row_tasks * job.n_splits;
    const double flops = 2.0 * (double)g->batch * (double)g->M * (double)g->N * (double)g->K;
    if (n_tasks > 1 && env->pool && env->n_threads > 1 && flops >= TSR_CPU_GEMM_PARALLEL_FLOPS)
        tsr_cpu_pool_parallel_for(env->pool, (size_t)n_tasks, tsr_gemmp_task, &job);
    else
        for (int64_t t = 0; t < n_tasks; t++)
            tsr_gemmp_task(&job, (size_t)t, 0);
}

int tsr_cpu_conv_as_gemm(const struct tsr_k_conv *c, struct tsr_k_gemm *g) {
    if (c->group != 1 || c->KH != 1 || c->KW != 1 || c->H != 1 || c->W != 1 || c->OH != 1 ||
        c->OW != 1 || c->pad_t != 0 || c->pad_l != 0)
        return 0;
    *g = (struct tsr_k_gemm){.batch = 1,
                             .M = c->N,
                             .N = c->M,
                             .K = c->C,
                             .trans_b = 1,
                             .lda = c->C,
                             .ldb = c->C,
                             .alpha = 1.0f,
                             .has_c = c->has_bias,
                             .beta = 1.0f,
                             .c_stride_n = 1,
                             .has_residual = c->has_residual,
                             .act = c->act,
                             .act_p0 = c->act_p0,
                             .act_p1 = c->act_p1};
    return 1;
}
