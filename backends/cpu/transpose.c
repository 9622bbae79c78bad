/*
 * transpose.c — general strided copy (struct tsr_k_transpose): y contiguous over dims, element
 * (i_0 .. i_{r-1}) read from x at sum_d i_d * in_strides[d].
 *
 * The two innermost output dims (R rows of Cn columns; rank 1 is one row) are walked in
 * TSR_CPU_TRANSPOSE_BLOCK x TSR_CPU_TRANSPOSE_BLOCK blocks, so both the reads (strided by the
 * input stride of the row dim or the column dim) and the writes stay within a few cache lines
 * per block row: a plain 2-D transpose touches each cache line once instead of once per element.
 * When the innermost input stride is 1 a block row is a contiguous memcpy. One task is one row
 * of blocks of one outer index; parallel when large.
 */
#include "backends/cpu/cpu_exec.h"

#include <string.h>

struct tsr_tr_job {
    const struct tsr_k_transpose *k;
    const float *x;
    float *y;
    int64_t R, Cn, sr, sc; /* inner 2-D: rows, columns, their input strides */
    int64_t row_blocks;
};

static void tsr_tr_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    const struct tsr_tr_job *job = arg;
    const struct tsr_k_transpose *k = job->k;
    const int64_t B = TSR_CPU_TRANSPOSE_BLOCK;
    int64_t outer = (int64_t)task / job->row_blocks;
    const int64_t rb = (int64_t)task % job->row_blocks;
    float *y = job->y + outer * job->R * job->Cn;
    /* input offset of the outer index (dims 0 .. rank-3) */
    int64_t off = 0;
    for (int d = k->rank - 3; d >= 0; d--) {
        off += (outer % k->dims[d]) * k->in_strides[d];
        outer /= k->dims[d];
    }
    const float *x = job->x + off;
    const int64_t r0 = rb * B, r1 = r0 + B < job->R ? r0 + B : job->R;
    for (int64_t c0 = 0; c0 < job->Cn; c0 += B) {
        const int64_t c1 = c0 + B < job->Cn ? c0 + B : job->Cn;
        for (int64_t r = r0; r < r1; r++) {
            const float *xr = x + r * job->sr;
            float *yr = y + r * job->Cn;
            if (job->sc == 1) {
                memcpy(yr + c0, xr + c0, (size_t)(c1 - c0) * sizeof(float));
            } else {
                for (int64_t c = c0; c < c1; c++)
                    yr[c] = xr[c * job->sc];
            }
        }
    }
}

void tsr_cpu_transpose_run(const struct tsr_cpu_env *env, const struct tsr_k_transpose *k,
                           const float *x, float *y) {
    int64_t total = 1;
    for (int d = 0; d < k->rank; d++)
        total *= k->dims[d];
    if (total == 0) return;
    struct tsr_tr_job job = {.k = k, .x = x, .y = y};
    job.Cn = k->dims[k->rank - 1];
    job.sc = k->in_strides[k->rank - 1];
    job.R = k->rank >= 2 ? k->dims[k->rank - 2] : 1;
    job.sr = k->rank >= 2 ? k->in_strides[k->rank - 2] : 0;
    job.row_blocks = (job.R + TSR_CPU_TRANSPOSE_BLOCK - 1) / TSR_CPU_TRANSPOSE_BLOCK;
    const int64_t outer = total / (job.R * job.Cn);
    const int64_t n_tasks = outer * job.row_blocks;
    if (total > TSR_CPU_EW_PARALLEL_MIN && n_tasks > 1 && env->pool && env->n_threads > 1)
        tsr_cpu_pool_parallel_for(env->pool, (size_t)n_tasks, tsr_tr_task, &job);
    else
        for (int64_t t = 0; t < n_tasks; t++)
            tsr_tr_task(&job, (size_t)t, 0);
}
