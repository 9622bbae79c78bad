/*
 * reduce.c — the reductions of struct tsr_k_reduce (sum, mean, max; group "reduce": min, prod,
 * sum of squares, L1, L2, log-sum, log-sum-exp) over the middle axis of [outer, len, inner],
 * parallel over outer.
 *
 * inner == 1: every output is the reduction of one contiguous row of len: the ISA's sum_row /
 * max_row (vectorised along len). inner > 1: the len rows of `inner` elements are accumulated
 * into the output row with the ISA's vector add / max (vectorised along inner), so x is read
 * once, sequentially. Mean divides the sum by len. len == 0: sum 0, mean NaN, max -inf.
 * Max and min propagate NaN (the tier's MAX / MIN instructions, numpy maximum / minimum). The
 * other kinds map a chunk of TSR_REDUCE_CHUNK elements (x^2, |x|) on the stack, then sum it;
 * log-sum-exp takes the max first (two passes, stable).
 */
#include "backends/cpu/cpu_exec.h"

#include <math.h>
#include <string.h>

struct tsr_reduce_job {
    const struct tsr_cpu_env *env;
    const struct tsr_k_reduce *k;
    const float *x;
    float *y;
    int64_t outer_per_task;
};

/* Value of a reduction over no element (program.h). */
static float tsr_reduce_empty(tsr_reduce_kind kind) {
    switch (kind) {
    case TSR_REDUCE_MEAN:
        return NAN;
    case TSR_REDUCE_MAX:
    case TSR_REDUCE_LOG_SUM:
    case TSR_REDUCE_LOG_SUM_EXP:
        return -INFINITY;
    case TSR_REDUCE_MIN:
        return INFINITY;
    case TSR_REDUCE_PROD:
        return 1.0f;
    default:
        return 0.0f;
    }
}

/* Columns of an inner > 1 reduction (and elements of a row) processed per step, on the stack. */
#define TSR_REDUCE_CHUNK 256

/* The binary instruction that combines partial results of kind (NaN-propagating MIN / MAX). */
static tsr_ew_op tsr_reduce_combine_op(tsr_reduce_kind kind) {
    switch (kind) {
    case TSR_REDUCE_MAX:
    case TSR_REDUCE_LOG_SUM_EXP: /* its first pass */
        return TSR_EW_MAX;
    case TSR_REDUCE_MIN:
        return TSR_EW_MIN;
    case TSR_REDUCE_PROD:
        return TSR_EW_MUL;
    default:
        return TSR_EW_ADD;
    }
}

/* t[0..w) = the per-element map of kind applied to x (x^2, |x|); NULL when kind has none. */
static const float *tsr_reduce_map(const struct tsr_cpu_ew_kernels *ew, tsr_reduce_kind kind,
                                   size_t w, const float *x, float *t) {
    switch (kind) {
    case TSR_REDUCE_SUM_SQUARE:
    case TSR_REDUCE_L2:
        ew->binary[TSR_EW_MUL](w, x, x, t);
        return t;
    case TSR_REDUCE_L1:
        ew->unary[TSR_EW_ABS](w, x, t, 0.0f, 0.0f);
        return t;
    default:
        return x;
    }
}

/* acc[0..w) = the kind's reduction of the L rows x + j * stride (j < L, w contiguous columns
 * each), before its final step (mean's division, L2's sqrt, the logs). LOG_SUM_EXP: acc is the
 * sum of exp(x - m) with m[0..w) its max, computed here. L >= 1. */
static void tsr_reduce_cols(const struct tsr_cpu_ew_kernels *ew, tsr_reduce_kind kind, int64_t L,
                            int64_t stride, size_t w, const float *x, float *acc, float *m) {
    float t[TSR_REDUCE_CHUNK];
    if (kind == TSR_REDUCE_LOG_SUM_EXP) {
        memcpy(m, x, w * sizeof(float));
        for (int64_t j = 1; j < L; j++)
            ew->binary[TSR_EW_MAX](w, m, x + j * stride, m);
        for (size_t c = 0; c < w; c++)
            acc[c] = 0.0f;
        for (int64_t j = 0; j < L; j++) {
            ew->binary[TSR_EW_SUB](w, x + j * stride, m, t);
            ew->exp(w, t, t);
            ew->binary[TSR_EW_ADD](w, acc, t, acc);
        }
        return;
    }
    const tsr_ew_op op = tsr_reduce_combine_op(kind);
    memcpy(acc, tsr_reduce_map(ew, kind, w, x, t), w * sizeof(float));
    for (int64_t j = 1; j < L; j++)
        ew->binary[op](w, acc, tsr_reduce_map(ew, kind, w, x + j * stride, t), acc);
}

/* The final step of kind on one reduced value (s; m the max for LOG_SUM_EXP). */
static float tsr_reduce_finish(tsr_reduce_kind kind, float s, float m, int64_t L) {
    switch (kind) {
    case TSR_REDUCE_MEAN:
        return s / (float)L;
    case TSR_REDUCE_L2:
        return sqrtf(s);
    case TSR_REDUCE_LOG_SUM:
        return logf(s);
    case TSR_REDUCE_LOG_SUM_EXP:
        return isinf(m) || isnan(m) ? m : m + logf(s);
    default:
        return s;
    }
}

/* Scalar combine of the w partials of one row (NaN-propagating min / max). */
static float tsr_reduce_fold(tsr_reduce_kind kind, size_t w, const float *p) {
    float r = p[0];
    for (size_t c = 1; c < w; c++) {
        const float v = p[c];
        switch (kind) {
        case TSR_REDUCE_MAX:
        case TSR_REDUCE_LOG_SUM_EXP:
            r = (r >= v || isnan(r)) ? r : v;
            break;
        case TSR_REDUCE_MIN:
            r = (r <= v || isnan(r)) ? r : v;
            break;
        case TSR_REDUCE_PROD:
            r *= v;
            break;
        default:
            r += v;
        }
    }
    return r;
}

/* One contiguous row of L >= 1 elements (inner == 1). */
static float tsr_reduce_row(const struct tsr_cpu_ew_kernels *ew, tsr_reduce_kind kind, int64_t L,
                            const float *x) {
    if (kind == TSR_REDUCE_SUM || kind == TSR_REDUCE_MEAN || kind == TSR_REDUCE_LOG_SUM)
        return tsr_reduce_finish(kind, ew->sum_row((size_t)L, x), 0.0f, L);
    float t[TSR_REDUCE_CHUNK], acc[TSR_REDUCE_CHUNK];
    const size_t C = TSR_REDUCE_CHUNK;
    if (kind == TSR_REDUCE_SUM_SQUARE || kind == TSR_REDUCE_L1 || kind == TSR_REDUCE_L2) {
        float s = 0.0f;
        for (int64_t i = 0; i < L; i += (int64_t)C) {
            const size_t w = (size_t)(L - i) < C ? (size_t)(L - i) : C;
            s += ew->sum_row(w, tsr_reduce_map(ew, kind, w, x + i, t));
        }
        return tsr_reduce_finish(kind, s, 0.0f, L);
    }
    /* MAX, MIN, PROD (and LOG_SUM_EXP's max): chunks folded into acc with the vector op. */
    const tsr_ew_op op = tsr_reduce_combine_op(kind);
    const size_t w0 = (size_t)L < C ? (size_t)L : C;
    memcpy(acc, x, w0 * sizeof(float));
    for (int64_t i = (int64_t)w0; i < L; i += (int64_t)C) {
        const size_t w = (size_t)(L - i) < C ? (size_t)(L - i) : C;
        ew->binary[op](w, acc, x + i, acc);
    }
    const float r = tsr_reduce_fold(kind, w0, acc);
    if (kind != TSR_REDUCE_LOG_SUM_EXP || isinf(r) || isnan(r)) return r;
    float s = 0.0f;
    for (int64_t i = 0; i < L; i += (int64_t)C) {
        const size_t w = (size_t)(L - i) < C ? (size_t)(L - i) : C;
        ew->binary_vs[TSR_EW_SUB](w, x + i, &r, t);
        ew->exp(w, t, t);
        s += ew->sum_row(w, t);
    }
    return r + logf(s);
}

static void tsr_reduce_outer(const struct tsr_cpu_ew_kernels *ew, const struct tsr_k_reduce *k,
                             const float *x, float *y) {
    const int64_t L = k->len, I = k->inner;
    if (L == 0) {
        const float v = tsr_reduce_empty(k->kind);
        for (int64_t i = 0; i < I; i++)
            y[i] = v;
        return;
    }
    if (I == 1) {
        y[0] = tsr_reduce_row(ew, k->kind, L, x);
        return;
    }
    if (k->kind == TSR_REDUCE_SUM || k->kind == TSR_REDUCE_MEAN) {
        /* x is read once, sequentially: rows accumulated into y */
        memcpy(y, x, (size_t)I * sizeof(float));
        for (int64_t j = 1; j < L; j++)
            ew->binary[TSR_EW_ADD]((size_t)I, y, x + j * I, y);
        if (k->kind == TSR_REDUCE_MEAN) {
            const float inv = 1.0f / (float)L;
            ew->binary_vs[TSR_EW_MUL]((size_t)I, y, &inv, y);
        }
        return;
    }
    if (k->kind == TSR_REDUCE_MAX || k->kind == TSR_REDUCE_MIN || k->kind == TSR_REDUCE_PROD) {
        const tsr_ew_op op = tsr_reduce_combine_op(k->kind);
        memcpy(y, x, (size_t)I * sizeof(float));
        for (int64_t j = 1; j < L; j++)
            ew->binary[op]((size_t)I, y, x + j * I, y);
        return;
    }
    float m[TSR_REDUCE_CHUNK];
    for (int64_t c0 = 0; c0 < I; c0 += TSR_REDUCE_CHUNK) {
        const size_t w = (size_t)(I - c0 < TSR_REDUCE_CHUNK ? I - c0 : (int64_t)TSR_REDUCE_CHUNK);
        tsr_reduce_cols(ew, k->kind, L, I, w, x + c0, y + c0, m);
        for (size_t c = 0; c < w; c++)
            y[c0 + (int64_t)c] = tsr_reduce_finish(k->kind, y[c0 + (int64_t)c], m[c], L);
    }
}

static void tsr_reduce_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    const struct tsr_reduce_job *job = arg;
    const struct tsr_k_reduce *k = job->k;
    const int64_t o0 = (int64_t)task * job->outer_per_task;
    const int64_t o1 = o0 + job->outer_per_task < k->outer ? o0 + job->outer_per_task : k->outer;
    for (int64_t o = o0; o < o1; o++)
        tsr_reduce_outer(job->env->ew, k, job->x + o * k->len * k->inner, job->y + o * k->inner);
}

void tsr_cpu_reduce_run(const struct tsr_cpu_env *env, const struct tsr_k_reduce *k, const float *x,
                        float *y) {
    if (k->outer <= 0 || k->inner <= 0) return;
    struct tsr_reduce_job job = {.env = env, .k = k, .x = x, .y = y};
    const int64_t row = k->len * k->inner > 0 ? k->len * k->inner : 1;
    /* tasks of at least ~16 Ki elements */
    job.outer_per_task = (16 * 1024 + row - 1) / row;
    if (job.outer_per_task < 1) job.outer_per_task = 1;
    const int64_t n_tasks = (k->outer + job.outer_per_task - 1) / job.outer_per_task;
    if (k->outer * row > TSR_CPU_EW_PARALLEL_MIN && n_tasks > 1 && env->pool && env->n_threads > 1)
        tsr_cpu_pool_parallel_for(env->pool, (size_t)n_tasks, tsr_reduce_task, &job);
    else
        for (int64_t t = 0; t < n_tasks; t++)
            tsr_reduce_task(&job, (size_t)t, 0);
}

/* ---- group "reduce": ArgMax / ArgMin (struct tsr_k_arg) -------------------------------- */

/* Does element a (value va) come before b (vb) in the order of struct tsr_k_arg? */
static int arg_before(const struct tsr_k_arg *k, float va, int64_t a, float vb, int64_t b) {
    if (va == vb) return k->select_last ? a > b : a < b;
    return k->is_min ? va < vb : va > vb;
}

void tsr_cpu_arg_run(const struct tsr_k_arg *k, const float *x, void *y) {
    const int64_t L = k->len, I = k->inner, K = k->k;
    if (L <= 0) return;
    for (int64_t o = 0; o < k->outer; o++) {
        const float *xo = x + o * L * I;
        for (int64_t i = 0; i < I; i++) {
            int64_t prev = -1;
            for (int64_t t = 0; t < K; t++) {
                int64_t best = -1;
                for (int64_t j = 0; j < L; j++) {
                    const float v = xo[j * I + i];
                    if (prev >= 0 && !arg_before(k, xo[prev * I + i], prev, v, j)) continue;
                    if (best < 0 || arg_before(k, v, j, xo[best * I + i], best)) best = j;
                }
                if (best < 0) best = prev; /* only with NaN: unspecified order */
                const int64_t at = (o * K + t) * I + i;
                if (k->values)
                    ((float *)y)[at] = xo[best * I + i];
                else
                    ((int64_t *)y)[at] = best;
                prev = best;
            }
        }
    }
}

/* ---- group "reduce": CumSum (struct tsr_k_cumsum) ---------------------------------------- */

void tsr_cpu_cumsum_run(const struct tsr_cpu_env *env, const struct tsr_k_cumsum *k, const float *x,
                        float *y) {
    const struct tsr_cpu_ew_kernels *ew = env->ew;
    const int64_t L = k->len, I = k->inner;
    for (int64_t o = 0; o < k->outer; o++) {
        const float *xo = x + o * L * I;
        float *yo = y + o * L * I;
        const float *prev = NULL; /* the previous output row, in axis order */
        const float *prev_x = NULL;
        for (int64_t t = 0; t < L; t++) {
            const int64_t j = k->reverse ? L - 1 - t : t;
            float *yr = yo + j * I;
            if (k->exclusive) {
                if (!prev)
                    memset(yr, 0, (size_t)I * sizeof(float));
                else
                    ew->binary[TSR_EW_ADD]((size_t)I, prev, prev_x, yr);
                prev_x = xo + j * I;
            } else if (!prev) {
                memcpy(yr, xo + j * I, (size_t)I * sizeof(float));
            } else {
                ew->binary[TSR_EW_ADD]((size_t)I, prev, xo + j * I, yr);
            }
            prev = yr;
        }
    }
}

/* zoo2: integer CumSum (int32 / int64) in axis order with unsigned (wrapping) 64-bit sums; one
 * column (o, i) at a time, inner contiguous elements interleaved by the row loop. */
void tsr_cpu_cumsum_int_run(const struct tsr_k_cumsum *k, int is64, const void *x, void *y) {
    const int64_t L = k->len, I = k->inner;
    for (int64_t o = 0; o < k->outer; o++)
        for (int64_t i = 0; i < I; i++) {
            uint64_t acc = 0;
            for (int64_t t = 0; t < L; t++) {
                const int64_t j = k->reverse ? L - 1 - t : t;
                const int64_t at = (o * L + j) * I + i;
                const uint64_t v = is64 ? (uint64_t)((const int64_t *)x)[at]
                                        : (uint64_t)(int64_t)((const int32_t *)x)[at];
                if (!k->exclusive) acc += v;
                if (is64)
                    ((int64_t *)y)[at] = (int64_t)acc;
                else
                    ((int32_t *)y)[at] = (int32_t)(uint32_t)acc;
                if (k->exclusive) acc += v;
            }
        }
}

/* ---- group "multiout": NegativeLogLikelihoodLoss (struct tsr_k_nll) ----------------------- */

void tsr_cpu_nll_run(const struct tsr_k_nll *k, const float *x, const void *target, const float *w,
                     float *y) {
    double sum = 0.0, wsum = 0.0;
    for (int64_t n = 0; n < k->N; n++)
        for (int64_t d = 0; d < k->D; d++) {
            const int64_t i = n * k->D + d;
            const int64_t t =
                k->target_i32 ? ((const int32_t *)target)[i] : ((const int64_t *)target)[i];
            float loss = 0.0f, wt = 0.0f;
            if (t >= 0 && t < k->C && !(k->has_ignore && t == k->ignore_index)) {
                wt = k->has_weight ? w[t] : 1.0f;
                loss = -x[(n * k->C + t) * k->D + d] * wt;
            }
            if (k->reduction == 0) y[i] = loss;
            sum += loss;
            wsum += wt;
        }
    if (k->reduction == 1) y[0] = (float)sum;
    if (k->reduction == 2) y[0] = (float)(sum / wsum);
}
