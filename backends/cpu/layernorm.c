/*
 * layernorm.c — layer normalisation over the last `len` elements of [outer, len] (struct
 * tsr_k_layernorm): y = (x - mean) / sqrt(var + epsilon) * scale + bias, var the biased
 * variance (ONNX LayerNormalization).
 *
 * Two passes per row, both with the ISA's vector kernels (the "corrected two-pass" algorithm,
 * Chan, Golub & LeVeque, "Algorithms for computing the sample variance", Am. Stat. 37(3), 1983):
 * mean0 = sum_row / len; then d_i = x_i - mean0 gives mean = mean0 + sum d / len (repairs the
 * rounding of a float sum of large values) and var = sum d^2 / len - (sum d / len)^2. No
 * cancellation, unlike the one-pass E[x^2] - E[x]^2, and simpler to vectorise than Welford's
 * update. The third sweep writes y = ((x - mean0) - corr) * rstd * scale + bias (norm_row; x -
 * mean0 is exact for x near the mean, so the float rounding of the mean itself does not enter). A
 * row is read from memory once; the later sweeps find it in cache for rows up to the L2 size.
 * Parallel over rows when large.
 */
#include "backends/cpu/cpu_exec.h"

#include <math.h>

struct tsr_ln_job {
    const struct tsr_cpu_env *env;
    const struct tsr_k_layernorm *k;
    const float *x, *scale, *bias;
    float *y;
    int64_t rows_per_task;
};

static void tsr_ln_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    const struct tsr_ln_job *job = arg;
    const struct tsr_k_layernorm *k = job->k;
    const struct tsr_cpu_ew_kernels *ew = job->env->ew;
    const size_t L = (size_t)k->len;
    const int64_t o0 = (int64_t)task * job->rows_per_task;
    const int64_t o1 = o0 + job->rows_per_task < k->outer ? o0 + job->rows_per_task : k->outer;
    for (int64_t o = o0; o < o1; o++) {
        const float *x = job->x + o * k->len;
        const float mean0 = ew->sum_row(L, x) / (float)L;
        float sd, sd2;
        ew->sum_dev(L, x, mean0, &sd, &sd2);
        const float corr = sd / (float)L; /* mean - mean0 */
        float var = sd2 / (float)L - corr * corr;
        if (var < 0.0f) var = 0.0f;
        const float rstd = 1.0f / sqrtf(var + k->epsilon);
        if (k->channels > 0) { /* Instance / GroupNormalization: scale, bias per segment */
            const size_t S = (size_t)k->spatial;
            for (int64_t c = 0; c < k->per_row; c++) {
                const int64_t idx = (o % k->channels) * k->per_row + c;
                const float *xs = x + c * k->spatial;
                float *y = job->y + o * k->len + c * k->spatial;
                const float sc = rstd * job->scale[idx], b = job->bias[idx];
                ew->binary_vs[TSR_EW_SUB](S, xs, &mean0, y);
                ew->binary_vs[TSR_EW_SUB](S, y, &corr, y);
                ew->binary_vs[TSR_EW_MUL](S, y, &sc, y);
                ew->binary_vs[TSR_EW_ADD](S, y, &b, y);
            }
            continue;
        }
        ew->norm_row(L, x, mean0, corr, rstd, job->scale, job->bias, job->y + o * k->len);
    }
}

void tsr_cpu_layernorm_run(const struct tsr_cpu_env *env, const struct tsr_k_layernorm *k,
                           const float *x, const float *scale, const float *bias, float *y) {
    if (k->outer <= 0 || k->len <= 0) return;
    struct tsr_ln_job job = {
        .env = env, .k = k, .x = x, .scale = scale, .bias = k->has_bias ? bias : NULL, .y = y};
    job.rows_per_task = (16 * 1024 + k->len - 1) / k->len;
    const int64_t n_tasks = (k->outer + job.rows_per_task - 1) / job.rows_per_task;
    if (k->outer * k->len > TSR_CPU_EW_PARALLEL_MIN && n_tasks > 1 && env->pool &&
        env->n_threads > 1)
        tsr_cpu_pool_parallel_for(env->pool, (size_t)n_tasks, tsr_ln_task, &job);
    else
        for (int64_t t = 0; t < n_tasks; t++)
            tsr_ln_task(&job, (size_t)t, 0);
}
