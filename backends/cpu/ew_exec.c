/*
 * ew_exec.c — executor of fused elementwise regions (struct tsr_k_ew), tile by tile.
 *
 * The output [dims] is walked as outer rows (all dims but the last) times tiles of the innermost
 * dim. For one tile every instruction of the region runs over `len` elements with the ISA's
 * vector kernels: operands are registers (a tile each in per-thread scratch, which stays in L1)
 * or region inputs read straight from memory (innermost stride 1 = a vector, 0 = one broadcast
 * scalar). The last instruction writes its tile directly into the output, so intermediates never
 * reach memory. Large regions are split over the thread pool; small ones run inline.
 */
#include "backends/cpu/cpu_exec.h"

#include <string.h>

/* Number of region inputs the instructions read as vectors (innermost stride != 0). */
static int tsr_ew_vector_inputs(const struct tsr_k_ew *k) {
    unsigned used = 0;
    for (int i = 0; i < k->n_instrs; i++) {
        const struct tsr_ew_instr *in = &k->instrs[i];
        if (in->a < 0 && -in->a <= TSR_EW_MAX_INPUTS) used |= 1u << (-in->a - 1);
        if (tsr_ew_arity((tsr_ew_op)in->op) == 2 && in->b < 0 && -in->b <= TSR_EW_MAX_INPUTS)
            used |= 1u << (-in->b - 1);
    }
    int n = 0;
    for (int i = 0; i < TSR_EW_MAX_INPUTS; i++)
        if ((used & (1u << i)) && k->rank >= 1 && k->strides[i][k->rank - 1] != 0) n++;
    return n;
}

size_t tsr_cpu_ew_tile(const struct tsr_k_ew *k, size_t l1d_bytes) {
    if (l1d_bytes == 0) l1d_bytes = 32 * 1024; /* tsr_topology_l1d_bytes' default */
    /* The working set of one tile: the register tiles, the output tile and one tile of each
     * vector input (broadcast scalars take no space) fill the L1 (measured on the 5-op chain of
     * the fusion bench, 48 KiB L1: tiles of 1024 / 2048 / 4096 floats ran at 23.7 / 25.8 /
     * 24.3 GB/s; the caches' other contents are the few broadcast rows). */
    const size_t arrays =
        (size_t)(k->n_regs > 0 ? k->n_regs : 1) + 1 + (size_t)tsr_ew_vector_inputs(k);
    size_t t = l1d_bytes / (arrays * sizeof(float));
    if (t > 4096) t = 4096;
    /* rows longer than a tile: tiles of equal length (no short tail tile per row) */
    const int64_t inner = k->rank >= 1 ? k->dims[k->rank - 1] : 0;
    if (inner > (int64_t)t) {
        const int64_t parts = (inner + (int64_t)t - 1) / (int64_t)t;
        const size_t even = (size_t)((inner + parts - 1) / parts);
        if (even <= t) t = even;
    }
    t = (t + 15) & ~(size_t)15;
    if (t > 4096) t = 4096;
    if (t < 16) t = 16;
    return t;
}

size_t tsr_cpu_ew_scratch_floats(const struct tsr_k_ew *k, size_t l1d_bytes) {
    return (size_t)(k->n_regs > 0 ? k->n_regs : 1) * tsr_cpu_ew_tile(k, l1d_bytes);
}

tsr_status tsr_cpu_ew_check(tsr_context *ctx, const char *name, const struct tsr_k_ew *k,
                            int n_inputs) {
    if (!k) return TSR_ERR(ctx, TSR_E_INVALID_ARG, "elementwise kernel '%s': no region", name);
    if (k->rank < 1 || k->rank > TSR_MAX_RANK)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "elementwise kernel '%s': rank %d not in 1..%d",
                       name, k->rank, TSR_MAX_RANK);
    for (int d = 0; d < k->rank; d++)
        if (k->dims[d] < 0)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG, "elementwise kernel '%s': dim %d is %lld", name,
                           d, (long long)k->dims[d]);
    if (k->n_instrs < 1 || k->n_instrs > TSR_EW_MAX_INSTRS || k->n_regs < 1 ||
        k->n_regs > TSR_EW_MAX_REGS)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                       "elementwise kernel '%s': %d instructions / %d registers (limits %d / %d)",
                       name, k->n_instrs, k->n_regs, TSR_EW_MAX_INSTRS, TSR_EW_MAX_REGS);
    if (n_inputs < 0 || n_inputs > TSR_EW_MAX_INPUTS)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "elementwise kernel '%s': %d inputs", name,
                       n_inputs);
    const int inner = k->rank - 1;
    for (int i = 0; i < k->n_instrs; i++) {
        const struct tsr_ew_instr *in = &k->instrs[i];
        if (in->op >= TSR_EW_COUNT)
            return TSR_ERR(ctx, TSR_E_UNSUPPORTED, "elementwise kernel '%s': instruction %d: op %d",
                           name, i, in->op);
        if (in->dst >= k->n_regs)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                           "elementwise kernel '%s': instruction %d writes register %d of %d", name,
                           i, in->dst, k->n_regs);
        const int arity = tsr_ew_arity((tsr_ew_op)in->op);
        const int16_t ops[2] = {in->a, in->b};
        for (int j = 0; j < arity; j++) {
            if (ops[j] >= 0) {
                if (ops[j] >= k->n_regs)
                    return TSR_ERR(
                        ctx, TSR_E_INVALID_ARG,
                        "elementwise kernel '%s': instruction %d reads register %d of %d", name, i,
                        ops[j], k->n_regs);
                continue;
            }
            const int idx = -ops[j] - 1;
            if (idx >= n_inputs)
                return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                               "elementwise kernel '%s': instruction %d reads input %d of %d", name,
                               i, idx, n_inputs);
            const int64_t s = k->strides[idx][inner];
            if (k->dims[inner] > 1 && s != 0 && s != 1)
                return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                               "elementwise kernel '%s': input %d has innermost stride %lld (the "
                               "CPU backend needs 0 or 1)",
                               name, idx, (long long)s);
        }
    }
    return TSR_OK;
}

struct tsr_ew_job {
    const struct tsr_cpu_env *env;
    const struct tsr_k_ew *k;
    const float *const *inputs;
    float *y;
    size_t tile;   /* T */
    int64_t inner; /* innermost dim */
    int64_t tiles_per_row;
    int64_t n_tiles;
    int64_t tiles_per_task;
    int stream;        /* 1: the last instruction's tile goes out with streaming stores */
    unsigned prefetch; /* bit i: input i streams from memory: prefetch the next tile */
};

/* One operand of an instruction for the current tile. */
struct tsr_ew_operand {
    const float *p;
    int scalar; /* 1: p points to one value broadcast over the tile */
};

static void tsr_ew_fill(float *y, size_t n, float v) {
    for (size_t i = 0; i < n; i++)
        y[i] = v;
}

/* Runs the whole program on tile `t` with registers `regs` (n_regs x T floats). */
static void tsr_ew_tile(const struct tsr_ew_job *job, int64_t t, float *regs) {
    const struct tsr_k_ew *k = job->k;
    const struct tsr_cpu_ew_kernels *ew = job->env->ew;
    const int inner_d = k->rank - 1;
    int64_t row = t / job->tiles_per_row;
    const int64_t j0 = (t % job->tiles_per_row) * (int64_t)job->tile;
    const size_t len =
        (size_t)(job->inner - j0 < (int64_t)job->tile ? job->inner - j0 : (int64_t)job->tile);
    float *out = job->y + row * job->inner + j0;

    /* Element offset of the tile's first element in every input. */
    int64_t off[TSR_EW_MAX_INPUTS] = {0};
    for (int d = inner_d - 1; d >= 0; d--) {
        const int64_t idx = row % k->dims[d];
        row /= k->dims[d];
        for (int i = 0; i < TSR_EW_MAX_INPUTS; i++)
            off[i] += idx * k->strides[i][d];
    }
    for (int i = 0; i < TSR_EW_MAX_INPUTS; i++)
        off[i] += j0 * k->strides[i][inner_d];
    /* Software prefetch of what follows this tile in every streamed input: the requests are in
     * flight while the instructions below make their passes over the tile in L1 (the hardware
     * prefetchers alone left the memory bus idle during those passes: the 5-op chain of the
     * fusion bench went from ~80% to ~95% of the STREAM copy bandwidth). Only for regions large
     * enough to stream (the inputs then come from memory too). */
    for (int i = 0; i < TSR_EW_MAX_INPUTS && job->prefetch; i++)
        if (job->prefetch & (1u << i)) {
            const char *p = (const char *)(job->inputs[i] + off[i] + (int64_t)len);
            /* locality 2 (x86 prefetcht1: into L2): a tile's 16..256 lines would overrun the
             * L1's few fill buffers */
            for (size_t b = 0; b < len * sizeof(float); b += 64)
                __builtin_prefetch(p + b, 0, 2);
        }

    for (int ii = 0; ii < k->n_instrs; ii++) {
        const struct tsr_ew_instr *in = &k->instrs[ii];
        float *dst =
            ii == k->n_instrs - 1 && !job->stream ? out : regs + (size_t)in->dst * job->tile;
        const int arity = tsr_ew_arity((tsr_ew_op)in->op);
        struct tsr_ew_operand o[2];
        const int16_t src[2] = {in->a, in->b};
        for (int j = 0; j < arity; j++) {
            if (src[j] >= 0) {
                o[j].p = regs + (size_t)src[j] * job->tile;
                o[j].scalar = 0;
            } else {
                const int idx = -src[j] - 1;
                o[j].p = job->inputs[idx] + off[idx];
                o[j].scalar = k->strides[idx][inner_d] == 0;
            }
        }
        if (arity == 1) {
            if (o[0].scalar) {
                float v;
                ew->unary[in->op](1, o[0].p, &v, in->p0, in->p1);
                tsr_ew_fill(dst, len, v);
            } else {
                ew->unary[in->op](len, o[0].p, dst, in->p0, in->p1);
            }
        } else if (!o[0].scalar && !o[1].scalar) {
            ew->binary[in->op](len, o[0].p, o[1].p, dst);
        } else if (!o[0].scalar) {
            ew->binary_vs[in->op](len, o[0].p, o[1].p, dst);
        } else if (!o[1].scalar) {
            ew->binary_sv[in->op](len, o[0].p, o[1].p, dst);
        } else {
            float v;
            ew->binary[in->op](1, o[0].p, o[1].p, &v);
            tsr_ew_fill(dst, len, v);
        }
    }
    if (job->stream)
        ew->stream_copy(len, regs + (size_t)k->instrs[k->n_instrs - 1].dst * job->tile, out);
}

static void tsr_ew_task(void *arg, size_t task, int thread_id) {
    const struct tsr_ew_job *job = arg;
    float *regs = job->env->scratch + (size_t)thread_id * job->env->scratch_floats;
    const int64_t t0 = (int64_t)task * job->tiles_per_task;
    const int64_t t1 =
        t0 + job->tiles_per_task < job->n_tiles ? t0 + job->tiles_per_task : job->n_tiles;
    for (int64_t t = t0; t < t1; t++)
        tsr_ew_tile(job, t, regs);
    /* streaming stores are weakly ordered: make them visible before the task is reported done */
    if (job->stream) job->env->ew->store_fence();
}

void tsr_cpu_ew_run(const struct tsr_cpu_env *env, const struct tsr_k_ew *k,
                    const float *const *inputs, float *y) {
    int64_t total = 1;
    for (int d = 0; d < k->rank; d++)
        total *= k->dims[d];
    if (total == 0) return;
    struct tsr_ew_job job = {.env = env, .k = k, .inputs = inputs, .y = y};
    job.tile = tsr_cpu_ew_tile(k, env->l1d_bytes);
    job.inner = k->dims[k->rank - 1];
    job.tiles_per_row = (job.inner + (int64_t)job.tile - 1) / (int64_t)job.tile;
    job.n_tiles = (total / job.inner) * job.tiles_per_row;
    job.stream = (uint64_t)total * sizeof(float) >= TSR_CPU_EW_STREAM_MIN_BYTES;
    if (job.stream) {
        /* inputs read as vectors that change from row to row: they come from memory */
        for (int i = 0; i < TSR_EW_MAX_INPUTS; i++) {
            int used = 0, varies = k->rank == 1;
            for (int ii = 0; ii < k->n_instrs; ii++)
                used |=
                    k->instrs[ii].a == -i - 1 ||
                    (tsr_ew_arity((tsr_ew_op)k->instrs[ii].op) == 2 && k->instrs[ii].b == -i - 1);
            for (int d = 0; d + 1 < k->rank; d++)
                varies |= k->strides[i][d] != 0 && k->dims[d] > 1;
            if (used && varies && k->strides[i][k->rank - 1] == 1) job.prefetch |= 1u << i;
        }
    }
    /* Tasks are contiguous runs of tiles of about TSR_CPU_EW_TASK_ELEMS elements (short rows are
     * grouped): each thread then reads and writes long sequential streams (what the hardware
     * prefetchers follow) and claims a task from the shared counter once per ~256 KiB rather than
     * once per tile. With fewer elements, split so that every thread gets about 4 tasks. */
    const int64_t tile_len = job.inner < (int64_t)job.tile ? job.inner : (int64_t)job.tile;
    int64_t task_elems = TSR_CPU_EW_TASK_ELEMS;
    const int64_t even = total / (4 * (int64_t)(env->n_threads > 0 ? env->n_threads : 1));
    if (even < task_elems) task_elems = even;
    job.tiles_per_task = task_elems / tile_len;
    if (job.tiles_per_task < 1) job.tiles_per_task = 1;
    const int64_t n_tasks = (job.n_tiles + job.tiles_per_task - 1) / job.tiles_per_task;
    if (total > TSR_CPU_EW_PARALLEL_MIN && env->n_threads > 1 && env->pool)
        tsr_cpu_pool_parallel_for(env->pool, (size_t)n_tasks, tsr_ew_task, &job);
    else
        for (int64_t t = 0; t < n_tasks; t++)
            tsr_ew_task(&job, (size_t)t, 0);
}
