/*
 * concat.c — Concat executor (struct tsr_k_concat): output row o is input 0's row o, then input
 * 1's, ... (each a contiguous memcpy). Parallel over blocks of output rows when large.
 */
#include "backends/cpu/cpu_exec.h"

#include <string.h>

struct tsr_concat_job {
    const struct tsr_k_concat *k;
    const float *const *inputs;
    float *y;
    int64_t row; /* output row length */
    int64_t rows_per_task;
};

static void tsr_concat_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    const struct tsr_concat_job *job = arg;
    const struct tsr_k_concat *k = job->k;
    const int64_t o0 = (int64_t)task * job->rows_per_task;
    const int64_t o1 = o0 + job->rows_per_task < k->outer ? o0 + job->rows_per_task : k->outer;
    for (int64_t o = o0; o < o1; o++) {
        float *y = job->y + o * job->row;
        for (int i = 0; i < k->n; i++) {
            if (k->inner[i] > 0)
                memcpy(y, job->inputs[i] + o * k->inner[i], (size_t)k->inner[i] * sizeof(float));
            y += k->inner[i];
        }
    }
}

void tsr_cpu_concat_run(const struct tsr_cpu_env *env, const struct tsr_k_concat *k,
                        const float *const *inputs, float *y) {
    struct tsr_concat_job job = {.k = k, .inputs = inputs, .y = y};
    for (int i = 0; i < k->n; i++)
        job.row += k->inner[i];
    if (k->outer <= 0 || job.row == 0) return;
    job.rows_per_task = (16 * 1024 + job.row - 1) / job.row;
    const int64_t n_tasks = (k->outer + job.rows_per_task - 1) / job.rows_per_task;
    if (k->outer * job.row > TSR_CPU_EW_PARALLEL_MIN && n_tasks > 1 && env->pool &&
        env->n_threads > 1)
        tsr_cpu_pool_parallel_for(env->pool, (size_t)n_tasks, tsr_concat_task, &job);
    else
        for (int64_t t = 0; t < n_tasks; t++)
            tsr_concat_task(&job, (size_t)t, 0);
}
