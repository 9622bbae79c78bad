/*
 * softmax.c — softmax executor (struct tsr_k_softmax) over the middle axis of
 * [outer, axis_len, inner], numerically stable (the max along the axis is subtracted first).
 *
 * inner == 1: each of the `outer` rows is contiguous: the ISA's softmax_row kernel.
 * inner > 1: the axis is strided by `inner`; the inner dim is processed in chunks of
 * TSR_SOFTMAX_CHUNK columns with the running max and sum of the chunk on the stack, every pass
 * over the axis using the contiguous vector kernels on one row segment at a time.
 * Parallel over outer (one task per outer index) when the tensor is large.
 * Group "reduce": mode TSR_SOFTMAX_LOG (LogSoftmax: (x - max) - log sum exp(x - max), computed
 * directly, never log of a softmax that may underflow to 0) and TSR_SOFTMAX_HARD (Hardmax).
 */
#include "backends/cpu/cpu_exec.h"

#include <math.h>

#define TSR_SOFTMAX_CHUNK 256

struct tsr_softmax_job {
    const struct tsr_cpu_env *env;
    const struct tsr_k_softmax *k;
    const float *x;
    float *y;
};

static void tsr_softmax_block(const struct tsr_cpu_ew_kernels *ew, int64_t L, int64_t inner,
                              const float *x, float *y) {
    float m[TSR_SOFTMAX_CHUNK], s[TSR_SOFTMAX_CHUNK];
    for (int64_t c0 = 0; c0 < inner; c0 += TSR_SOFTMAX_CHUNK) {
        const size_t w = (size_t)(inner - c0 < TSR_SOFTMAX_CHUNK ? inner - c0 : TSR_SOFTMAX_CHUNK);
        for (size_t c = 0; c < w; c++)
            m[c] = x[c0 + (int64_t)c];
        for (int64_t j = 1; j < L; j++) {
            const float *xr = x + j * inner + c0;
            for (size_t c = 0; c < w; c++)
                m[c] = fmaxf(m[c], xr[c]);
        }
        for (size_t c = 0; c < w; c++)
            s[c] = 0.0f;
        for (int64_t j = 0; j < L; j++) {
            const float *xr = x + j * inner + c0;
            float *yr = y + j * inner + c0;
            ew->binary[TSR_EW_SUB](w, xr, m, yr);
            ew->exp(w, yr, yr);
            ew->binary[TSR_EW_ADD](w, s, yr, s);
        }
        for (int64_t j = 0; j < L; j++) {
            float *yr = y + j * inner + c0;
            ew->binary[TSR_EW_DIV](w, yr, s, yr);
        }
    }
}

/* Group "reduce": LogSoftmax, y = (x - m) - log(sum exp(x - m)), over the strided axis in chunks
 * of columns (inner == 1: tsr_log_softmax_row). */
static void tsr_log_softmax_block(const struct tsr_cpu_ew_kernels *ew, int64_t L, int64_t inner,
                                  const float *x, float *y) {
    float m[TSR_SOFTMAX_CHUNK], s[TSR_SOFTMAX_CHUNK], t[TSR_SOFTMAX_CHUNK];
    for (int64_t c0 = 0; c0 < inner; c0 += TSR_SOFTMAX_CHUNK) {
        const size_t w = (size_t)(inner - c0 < TSR_SOFTMAX_CHUNK ? inner - c0 : TSR_SOFTMAX_CHUNK);
        for (size_t c = 0; c < w; c++)
            m[c] = x[c0 + (int64_t)c];
        for (int64_t j = 1; j < L; j++) {
            const float *xr = x + j * inner + c0;
            for (size_t c = 0; c < w; c++)
                m[c] = fmaxf(m[c], xr[c]);
        }
        for (size_t c = 0; c < w; c++)
            s[c] = 0.0f;
        for (int64_t j = 0; j < L; j++) {
            ew->binary[TSR_EW_SUB](w, x + j * inner + c0, m, t);
            ew->exp(w, t, t);
            ew->binary[TSR_EW_ADD](w, s, t, s);
        }
        ew->unary[TSR_EW_LOG](w, s, s, 0.0f, 0.0f);
        for (int64_t j = 0; j < L; j++) {
            float *yr = y + j * inner + c0;
            ew->binary[TSR_EW_SUB](w, x + j * inner + c0, m, yr);
            ew->binary[TSR_EW_SUB](w, yr, s, yr);
        }
    }
}

/* LogSoftmax of one contiguous row of L >= 1 elements: max, then chunks of exp(x - m) summed. */
static void tsr_log_softmax_row(const struct tsr_cpu_ew_kernels *ew, int64_t L, const float *x,
                                float *y) {
    float t[TSR_SOFTMAX_CHUNK];
    const float m = ew->max_row((size_t)L, x);
    float sum = 0.0f;
    for (int64_t i = 0; i < L; i += TSR_SOFTMAX_CHUNK) {
        const size_t w = (size_t)(L - i < TSR_SOFTMAX_CHUNK ? L - i : TSR_SOFTMAX_CHUNK);
        ew->binary_vs[TSR_EW_SUB](w, x + i, &m, t);
        ew->exp(w, t, t);
        sum += ew->sum_row(w, t);
    }
    const float ls = logf(sum);
    ew->binary_vs[TSR_EW_SUB]((size_t)L, x, &m, y);
    ew->binary_vs[TSR_EW_SUB]((size_t)L, y, &ls, y);
}

/* Hardmax: 1 at the first maximum along the axis, 0 elsewhere (y may equal x: the maxima are
 * found before anything is written, per column). */
static void tsr_hardmax_block(int64_t L, int64_t inner, const float *x, float *y) {
    for (int64_t c = 0; c < inner; c++) {
        int64_t arg = 0;
        for (int64_t j = 1; j < L; j++)
            if (x[j * inner + c] > x[arg * inner + c]) arg = j;
        for (int64_t j = 0; j < L; j++)
            y[j * inner + c] = j == arg ? 1.0f : 0.0f;
    }
}

static void tsr_softmax_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    const struct tsr_softmax_job *job = arg;
    const int64_t L = job->k->axis_len, inner = job->k->inner;
    const int64_t base = (int64_t)task * L * inner;
    const struct tsr_cpu_ew_kernels *ew = job->env->ew;
    if (job->k->mode == TSR_SOFTMAX_HARD)
        tsr_hardmax_block(L, inner, job->x + base, job->y + base);
    else if (job->k->mode == TSR_SOFTMAX_LOG && inner == 1)
        tsr_log_softmax_row(ew, L, job->x + base, job->y + base);
    else if (job->k->mode == TSR_SOFTMAX_LOG)
        tsr_log_softmax_block(ew, L, inner, job->x + base, job->y + base);
    else if (inner == 1)
        ew->softmax_row((size_t)L, job->x + base, job->y + base);
    else
        tsr_softmax_block(ew, L, inner, job->x + base, job->y + base);
}

void tsr_cpu_softmax_run(const struct tsr_cpu_env *env, const struct tsr_k_softmax *k,
                         const float *x, float *y) {
    if (k->outer <= 0 || k->axis_len <= 0 || k->inner <= 0) return;
    struct tsr_softmax_job job = {.env = env, .k = k, .x = x, .y = y};
    const int64_t total = k->outer * k->axis_len * k->inner;
    if (total > TSR_CPU_EW_PARALLEL_MIN && k->outer > 1 && env->pool && env->n_threads > 1)
        tsr_cpu_pool_parallel_for(env->pool, (size_t)k->outer, tsr_softmax_task, &job);
    else
        for (int64_t o = 0; o < k->outer; o++)
            tsr_softmax_task(&job, (size_t)o, 0);
}
