/*
 * reduce.c — sum / mean / max over the middle axis of [outer, len, inner] (struct
 * tsr_k_reduce), parallel over outer.
 *
 * inner == 1: every output is the reduction of one contiguous row of len: the ISA's sum_row /
 * max_row (vectorised along len). inner > 1: the len rows of `inner` elements are accumulated
 * into the output row with the ISA's vector add / max (vectorised along inner), so x is read
 * once, sequentially. Mean divides the sum by len. len == 0: sum 0, mean NaN, max -inf.
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

static void tsr_reduce_outer(const struct tsr_cpu_ew_kernels *ew, const struct tsr_k_reduce *k,
                             const float *x, float *y) {
    const int64_t L = k->len, I = k->inner;
    if (L == 0) {
        const float v = k->kind == TSR_REDUCE_SUM   ? 0.0f
                        : k->kind == TSR_REDUCE_MAX ? -INFINITY
                                                    : NAN;
        for (int64_t i = 0; i < I; i++)
            y[i] = v;
        return;
    }
    if (I == 1) {
        y[0] = k->kind == TSR_REDUCE_MAX ? ew->max_row((size_t)L, x) : ew->sum_row((size_t)L, x);
    } else {
        memcpy(y, x, (size_t)I * sizeof(float));
        for (int64_t j = 1; j < L; j++) {
            if (k->kind == TSR_REDUCE_MAX)
                ew->max_vv((size_t)I, x + j * I, y, y);
            else
                ew->binary[TSR_EW_ADD]((size_t)I, y, x + j * I, y);
        }
    }
    if (k->kind == TSR_REDUCE_MEAN) {
        const float inv = 1.0f / (float)L;
        ew->binary_vs[TSR_EW_MUL]((size_t)I, y, &inv, y);
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
