/*
 * cpu_backend.c — the CPU backend: context-level state (ISA tier, thread pool; cpu_backend.h)
 * and the per-plan executable behind tsr_cpu_backend_ops (runtime/backend.h).
 *
 * prepare validates every kernel, packs constant weights, and makes the first run state: the TEMP
 * arena and the per-thread scratch (elementwise register tiles; conv's im2col panels, one per
 * thread) from the host pool, with the CONST/TEMP buffer pointers resolved. execute takes a free
 * run state (making another, up to TSR_CPU_RUN_STATES, when every state is in use by a concurrent
 * run of the same plan; waiting beyond that), fills in the caller's INPUT/OUTPUT pointers, runs
 * the kernels in order and returns the state: a single-threaded run allocates nothing, and
 * concurrent runs of one plan share only read-only data (program, packed weights). The ISA of an
 * executable is the backend's ISA when it was prepared.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/conv_direct.h"
#include "backends/cpu/gemm_packed.h"
#include "backends/cpu/cpu_exec.h"
#include "backends/cpu/igemm.h"
#include "backends/cpu/quant.h"
#include "runtime/pool.h"
#include "runtime/profiler.h"
#include "runtime/topology.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct tsr_cpu_backend {
    tsr_context *ctx;
    tsr_cpu_isa detected; /* what the machine supports */
    tsr_cpu_isa isa;      /* in use: detected, capped by TSR_CPU_ISA or set_isa */
    struct tsr_cpu_pool *pool;
};

/* ---------------------------------------------------------------------------------------- */
/* Context-level backend                                                                     */
/* ---------------------------------------------------------------------------------------- */

tsr_status tsr_cpu_backend_create(tsr_context *ctx, int threads, struct tsr_cpu_backend **out) {
    if (!out || threads < 0)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "cpu backend: %d threads requested", threads);
    struct tsr_topology *topo = ctx ? ctx->topo : NULL;
    if (threads == 0) {
        /* one per core the process may run on (its affinity mask: `taskset -c 0` gives 1) */
        if (topo) threads = tsr_topology_allowed_cores(topo);
        if (threads <= 0) {
            cpu_set_t set;
            long n = sysconf(_SC_NPROCESSORS_ONLN);
            if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
                n = CPU_COUNT(&set);
            threads = n > 0 ? (int)n : 1;
        }
    }
    struct tsr_cpu_backend *cpu = calloc(1, sizeof *cpu);
    if (!cpu) return TSR_ERR(ctx, TSR_E_NOMEM, "cpu backend: out of memory");
    cpu->ctx = ctx;
    cpu->detected = tsr_cpu_detect_isa();
    cpu->isa = cpu->detected;
    const char *cap = tsr_getenv("TSR_CPU_ISA");
    if (cap) {
        int want = -1;
        for (int i = TSR_ISA_SCALAR; i <= TSR_ISA_AVX512; i++)
            if (strcasecmp(cap, tsr_cpu_isa_name((tsr_cpu_isa)i)) == 0) want = i;
        if (want < 0)
            tsr_log(ctx, TSR_LOG_WARN,
                    "TSR_CPU_ISA='%s' is not one of scalar, avx2, avx512: ignored (using %s)", cap,
                    tsr_cpu_isa_name(cpu->isa));
        else if (want < (int)cpu->isa)
            cpu->isa = (tsr_cpu_isa)want;
    }
    tsr_status st = tsr_cpu_pool_create(ctx, topo, threads, &cpu->pool);
    if (st != TSR_OK) {
        free(cpu);
        return st;
    }
    tsr_log(ctx, TSR_LOG_INFO, "cpu backend: ISA %s (detected %s), %d threads",
            tsr_cpu_isa_name(cpu->isa), tsr_cpu_isa_name(cpu->detected), threads);
    *out = cpu;
    return TSR_OK;
}

void tsr_cpu_backend_destroy(struct tsr_cpu_backend *cpu) {
    if (!cpu) return;
    tsr_cpu_pool_destroy(cpu->pool);
    free(cpu);
}

struct tsr_cpu_backend *tsr_cpu_backend_of(const tsr_context *ctx) {
    return tsr_backend_state(ctx, &tsr_cpu_backend_ops);
}

tsr_cpu_isa tsr_cpu_backend_isa(const struct tsr_cpu_backend *cpu) {
    return cpu ? cpu->isa : tsr_cpu_detect_isa();
}

int tsr_cpu_backend_threads(const struct tsr_cpu_backend *cpu) {
    return cpu ? tsr_cpu_pool_threads(cpu->pool) : 1;
}

tsr_status tsr_cpu_backend_set_isa(struct tsr_cpu_backend *cpu, tsr_cpu_isa isa) {
    if (!cpu || (int)isa < TSR_ISA_SCALAR || (int)isa > TSR_ISA_AVX512)
        return TSR_ERR(cpu ? cpu->ctx : NULL, TSR_E_INVALID_ARG, "cpu backend: bad ISA %d",
                       (int)isa);
    if (isa > cpu->detected)
        return TSR_ERR(cpu->ctx, TSR_E_UNSUPPORTED, "cpu backend: ISA %s requested, machine has %s",
                       tsr_cpu_isa_name(isa), tsr_cpu_isa_name(cpu->detected));
    cpu->isa = isa;
    return TSR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Per-plan executable                                                                       */
/* ---------------------------------------------------------------------------------------- */

/* The mutable state of one run: the TEMP arena, per-thread scratch (in env), the padded image of
 * the direct convs and the resolved buffer pointers. A plan run from several threads at once
 * takes one state per run (struct tsr_cpu_exec's pool of states), so runs share nothing mutable. */
struct tsr_cpu_run {
    struct tsr_cpu_env env; /* the executable's env with this state's scratch */
    void *arena;            /* prog->arena_bytes, from the host pool */
    float **ptrs; /* n_buffers: CONST/TEMP resolved when the state is made, INPUT/OUTPUT per run */
    float *conv_pad;          /* padded image of the direct convs; pad_floats */
    struct tsr_cpu_run *next; /* free list / list of every state */
    struct tsr_cpu_run *all_next;
};

/* Upper bound on the run states of one executable (concurrent runs beyond it wait for a state);
 * TSR_CPU_RUN_STATES overrides it (1 .. 1024). */
#define TSR_CPU_RUN_STATES_DEFAULT 16

struct tsr_cpu_exec {
    tsr_context *ctx;
    const struct tsr_program *prog;
    struct tsr_cpu_env env;        /* template: scratch NULL, scratch_floats set */
    struct tsr_cpu_convd **convd;  /* n_kernels: pre-packed direct conv (conv_direct.h) or NULL */
    size_t pad_floats;             /* largest padded image of the direct convs */
    struct tsr_cpu_gemmp **gemmp;  /* n_kernels: GEMM on pre-packed B (gemm_packed.h) or NULL */
    struct tsr_cpu_igemm_b *igemm; /* n_kernels: integer matmul B packed at prepare (bp NULL:
                                      none; igemm.h) */
    /* The pool of run states: a run takes a free one or makes one (up to max_runs, else waits),
     * and returns it. The first is made at prepare, so a single-threaded run allocates nothing. */
    pthread_mutex_t mu;
    pthread_cond_t freed;
    struct tsr_cpu_run *free_runs; /* guarded by mu */
    struct tsr_cpu_run *all_runs;  /* guarded by mu */
    int n_runs, max_runs;          /* guarded by mu / constant */
    int sync_ok;                   /* mu and freed initialised */
};

/* Cache a GEMM panel should fit in (gemm.c): the per-core L2 when hwloc reports one (private
 * to the core running the epilogue), else tsr_topology_llc_bytes; 1 MiB without a topology. */
static size_t tsr_cpu_panel_cache_bytes(const struct tsr_topology *topo) {
    if (!topo) return 1024 * 1024;
    const struct tsr_cpu_topology_info *ci = tsr_topology_cpu(topo);
    for (int i = 0; ci && i < ci->n_caches; i++)
        if (ci->caches[i].level == 2 && ci->caches[i].size_bytes > 0)
            return (size_t)ci->caches[i].size_bytes;
    return (size_t)tsr_topology_llc_bytes(topo);
}

static void *tsr_cpu_mem_alloc(tsr_context *ctx, size_t bytes) {
    if (ctx && ctx->host_pool) return tsr_host_pool_alloc(ctx->host_pool, ctx, bytes);
    return tsr_aligned_alloc(bytes ? bytes : 64);
}

static void tsr_cpu_mem_free(tsr_context *ctx, void *p) {
    if (!p) return;
    if (ctx && ctx->host_pool)
        tsr_host_pool_free(ctx->host_pool, p);
    else
        tsr_aligned_free(p);
}

static void tsr_cpu_run_free(tsr_context *ctx, struct tsr_cpu_run *r) {
    if (!r) return;
    tsr_cpu_mem_free(ctx, r->arena);
    tsr_cpu_mem_free(ctx, r->env.scratch);
    tsr_cpu_mem_free(ctx, r->conv_pad);
    free(r->ptrs);
    free(r);
}

/* A new run state of ex (arena, scratch, padding, CONST/TEMP pointers), or NULL when out of
 * memory (nothing recorded). */
static struct tsr_cpu_run *tsr_cpu_run_new(const struct tsr_cpu_exec *ex) {
    const struct tsr_program *prog = ex->prog;
    struct tsr_cpu_run *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->env = ex->env;
    r->env.scratch = tsr_cpu_mem_alloc(ex->ctx, ex->env.scratch_floats * sizeof(float) *
                                                    (size_t)ex->env.n_threads);
    r->ptrs = calloc((size_t)(prog->n_buffers > 0 ? prog->n_buffers : 1), sizeof *r->ptrs);
    /* Always a real arena, even for zero bytes (every intermediate empty): kernels get valid
     * pointers at base + offset, never an offset NULL (zero-size tensors are valid, ONNX). */
    r->arena = tsr_cpu_mem_alloc(ex->ctx, prog->arena_bytes ? prog->arena_bytes : 64);
    if (ex->pad_floats > 0)
        r->conv_pad = tsr_cpu_mem_alloc(ex->ctx, ex->pad_floats * sizeof(float));
    if (!r->env.scratch || !r->ptrs || !r->arena || (ex->pad_floats > 0 && !r->conv_pad)) {
        tsr_cpu_run_free(ex->ctx, r);
        return NULL;
    }
    for (int b = 0; b < prog->n_buffers; b++) {
        const struct tsr_buffer *buf = &prog->buffers[b];
        if (buf->kind == TSR_BUF_CONST)
            r->ptrs[b] = buf->const_data;
        else if (buf->kind == TSR_BUF_TEMP) /* checked at prepare */
            r->ptrs[b] = (float *)((char *)r->arena + buf->offset);
    }
    return r;
}

static void tsr_cpu_release(void *exec) {
    struct tsr_cpu_exec *ex = exec;
    if (!ex) return;
    for (struct tsr_cpu_run *r = ex->all_runs, *n; r; r = n) {
        n = r->all_next;
        tsr_cpu_run_free(ex->ctx, r);
    }
    if (ex->convd)
        for (int i = 0; i < ex->prog->n_kernels; i++)
            tsr_cpu_convd_free(ex->convd[i]);
    free(ex->convd);
    if (ex->gemmp)
        for (int i = 0; i < ex->prog->n_kernels; i++)
            tsr_cpu_gemmp_free(ex->gemmp[i]);
    free(ex->gemmp);
    if (ex->igemm)
        for (int i = 0; i < ex->prog->n_kernels; i++)
            tsr_cpu_igemm_b_free(&ex->igemm[i]);
    free(ex->igemm);
    if (ex->sync_ok) {
        pthread_cond_destroy(&ex->freed);
        pthread_mutex_destroy(&ex->mu);
    }
    free(ex);
}

/* Takes a free run state of ex, making one when none is free and fewer than max_runs exist
 * (waiting for one otherwise, or when making one fails but others exist). NULL only when ex has
 * no state and none can be made (out of memory). */
static struct tsr_cpu_run *tsr_cpu_run_take(struct tsr_cpu_exec *ex) {
    int alloc_failed = 0; /* then wait for a state in use instead of retrying */
    pthread_mutex_lock(&ex->mu);
    for (;;) {
        struct tsr_cpu_run *r = ex->free_runs;
        if (r) {
            ex->free_runs = r->next;
            pthread_mutex_unlock(&ex->mu);
            return r;
        }
        if (ex->n_runs < ex->max_runs && !alloc_failed) {
            ex->n_runs++; /* reserved while allocating outside the lock */
            pthread_mutex_unlock(&ex->mu);
            r = tsr_cpu_run_new(ex);
            pthread_mutex_lock(&ex->mu);
            if (r) {
                r->all_next = ex->all_runs;
                ex->all_runs = r;
                pthread_mutex_unlock(&ex->mu);
                return r;
            }
            alloc_failed = 1;
            if (--ex->n_runs == 0) {
                pthread_mutex_unlock(&ex->mu);
                return NULL;
            }
            continue; /* a state may have been returned meanwhile */
        }
        pthread_cond_wait(&ex->freed, &ex->mu);
    }
}

static void tsr_cpu_run_give(struct tsr_cpu_exec *ex, struct tsr_cpu_run *r) {
    pthread_mutex_lock(&ex->mu);
    r->next = ex->free_runs;
    ex->free_runs = r;
    pthread_cond_signal(&ex->freed);
    pthread_mutex_unlock(&ex->mu);
}

/* TSR_CPU_RUN_STATES=N (1..1024), else TSR_CPU_RUN_STATES_DEFAULT. */
static int tsr_cpu_max_runs(tsr_context *ctx) {
    const char *v = tsr_getenv("TSR_CPU_RUN_STATES");
    if (!v) return TSR_CPU_RUN_STATES_DEFAULT;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (!end || *end || n < 1 || n > 1024) {
        tsr_log(ctx, TSR_LOG_WARN, "TSR_CPU_RUN_STATES='%s': expected 1..1024; using %d", v,
                TSR_CPU_RUN_STATES_DEFAULT);
        return TSR_CPU_RUN_STATES_DEFAULT;
    }
    return (int)n;
}

/* Elements of buffer `id` (bytes / 4) or -1 when id is out of range. */
static int64_t tsr_buf_elems(const struct tsr_program *prog, int id) {
    if (id < 0 || id >= prog->n_buffers) return -1;
    /* in elements of the buffer's dtype (group "dtcompute": EW regions of any numeric dtype) */
    return (int64_t)(prog->buffers[id].bytes / tsr_dtype_size(prog->buffers[id].desc.dtype));
}

/* Checks that kernel `kn` has `n` inputs and that input i holds at least need[i] elements. */
static tsr_status tsr_cpu_check_inputs(tsr_context *ctx, const struct tsr_program *prog,
                                       const struct tsr_kernel *kn, int n, const int64_t *need) {
    if (kn->n_inputs != n)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "kernel '%s': %d inputs, expected %d", kn->name,
                       kn->n_inputs, n);
    for (int i = 0; i < n; i++)
        if (tsr_buf_elems(prog, kn->inputs[i]) < need[i])
            return TSR_ERR(ctx, TSR_E_SHAPE, "kernel '%s': input %d holds %lld of %lld elements",
                           kn->name, i, (long long)tsr_buf_elems(prog, kn->inputs[i]),
                           (long long)need[i]);
    return TSR_OK;
}

/* Checks kernel `kn` against the program's buffers and its own geometry. */
static tsr_status tsr_cpu_check_kernel(tsr_context *ctx, const struct tsr_program *prog,
                                       const struct tsr_kernel *kn) {
    const char *name = kn->name;
    if (kn->n_inputs < 0 || kn->n_inputs > TSR_KERNEL_MAX_INPUTS)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "kernel '%s': %d inputs", name, kn->n_inputs);
    int data_kind = kn->kind == TSR_K_GATHER || kn->kind == TSR_K_SLICE || kn->kind == TSR_K_CAST ||
                    kn->kind == TSR_K_MIXED || kn->kind == TSR_K_PAD ||
                    kn->kind == TSR_K_INDEX; /* group "index" */
    for (int i = 0; i < kn->n_inputs; i++)
        if (tsr_buf_elems(prog, kn->inputs[i]) < 0)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG, "kernel '%s': input %d is buffer %d of %d", name,
                           i, kn->inputs[i], prog->n_buffers);
    const int64_t out_elems = tsr_buf_elems(prog, kn->output);
    if (out_elems < 0)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "kernel '%s': output is buffer %d of %d", name,
                       kn->output, prog->n_buffers);
    const tsr_buffer_kind ok = prog->buffers[kn->output].kind;
    if (ok != TSR_BUF_OUTPUT && ok != TSR_BUF_TEMP)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                       "kernel '%s': output buffer %d is an input or a constant", name, kn->output);
    if (data_kind) return tsr_cpu_data_check(ctx, prog, kn); /* group "tkern": in bytes */
    if (kn->kind == TSR_K_QUANT) return tsr_cpu_quant_check(ctx, prog, kn); /* issue 13 */
    int64_t need = 0;
    tsr_status st = TSR_OK;
    switch (kn->kind) {
    case TSR_K_GEMM:
        st = tsr_cpu_gemm_check(ctx, name, &kn->u.gemm);
        if (st != TSR_OK) return st;
        if (kn->n_inputs != 2 + !!kn->u.gemm.has_c + !!kn->u.gemm.has_residual)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                           "gemm kernel '%s': %d inputs (has_c %d, has_residual %d)", name,
                           kn->n_inputs, kn->u.gemm.has_c, kn->u.gemm.has_residual);
        need = kn->u.gemm.batch * kn->u.gemm.M * kn->u.gemm.N;
        break;
    case TSR_K_EW:
        st = tsr_cpu_ew_check(ctx, name, &kn->u.ew, kn->n_inputs);
        if (st == TSR_OK)
            st = kn->dtype != TSR_F32 ? tsr_cpu_ew_typed_check(ctx, name, &kn->u.ew, kn->dtype)
                                      : tsr_cpu_ew_float_check(ctx, name, &kn->u.ew, kn->dtype);
        if (st != TSR_OK) return st;
        need = 1;
        for (int d = 0; d < kn->u.ew.rank; d++)
            need *= kn->u.ew.dims[d];
        break;
    case TSR_K_SOFTMAX:
        if (kn->n_inputs != 1 || kn->u.softmax.outer < 0 || kn->u.softmax.axis_len < 0 ||
            kn->u.softmax.inner < 0)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                           "softmax kernel '%s': %d inputs, shape [%lld, %lld, %lld]", name,
                           kn->n_inputs, (long long)kn->u.softmax.outer,
                           (long long)kn->u.softmax.axis_len, (long long)kn->u.softmax.inner);
        need = kn->u.softmax.outer * kn->u.softmax.axis_len * kn->u.softmax.inner;
        if (tsr_buf_elems(prog, kn->inputs[0]) < need)
            return TSR_ERR(ctx, TSR_E_SHAPE,
                           "softmax kernel '%s': input holds %lld of %lld elements", name,
                           (long long)tsr_buf_elems(prog, kn->inputs[0]), (long long)need);
        break;
    case TSR_K_COPY:
        if (kn->n_inputs != 1 || kn->u.copy.n < 0)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG, "copy kernel '%s': %d inputs, n %lld", name,
                           kn->n_inputs, (long long)kn->u.copy.n);
        /* any dtype: a byte copy */
        if (kn->inputs[0] < 0 || kn->inputs[0] >= prog->n_buffers || kn->output < 0 ||
            kn->output >= prog->n_buffers ||
            prog->buffers[kn->inputs[0]].bytes < (size_t)kn->u.copy.n * tsr_dtype_size(kn->dtype) ||
            prog->buffers[kn->output].bytes < (size_t)kn->u.copy.n * tsr_dtype_size(kn->dtype))
            return TSR_ERR(ctx, TSR_E_SHAPE,
                           "copy kernel '%s': %lld elements of %s do not fit its buffers", name,
                           (long long)kn->u.copy.n, tsr_dtype_name(kn->dtype));
        return TSR_OK;
    case TSR_K_CONV: {
        const struct tsr_k_conv *c = &kn->u.conv;
        st = tsr_cpu_conv_check(ctx, name, c);
        if (st != TSR_OK) return st;
        int64_t n_need[4] = {c->N * c->C * c->H * c->W, c->M * (c->C / c->group) * c->KH * c->KW};
        int n = 2;
        need = c->N * c->M * c->OH * c->OW;
        if (c->has_bias) n_need[n++] = c->M;
        if (c->has_residual) n_need[n++] = need;
        st = tsr_cpu_check_inputs(ctx, prog, kn, n, n_need);
        if (st != TSR_OK) return st;
        break;
    }
    case TSR_K_POOL: {
        const struct tsr_k_pool *pl = &kn->u.pool;
        st = tsr_cpu_pool_check(ctx, name, pl);
        if (st != TSR_OK) return st;
        const int64_t n_need[1] = {pl->N * pl->C * pl->H * pl->W};
        st = tsr_cpu_check_inputs(ctx, prog, kn, 1, n_need);
        if (st != TSR_OK) return st;
        need = pl->N * pl->C * pl->OH * pl->OW;
        break;
    }
    case TSR_K_REDUCE: {
        const struct tsr_k_reduce *r = &kn->u.reduce;
        if (r->outer < 0 || r->len < 0 || r->inner < 0 ||
            (unsigned)r->kind >= TSR_REDUCE_KIND_COUNT)
            return TSR_ERR(
                ctx, TSR_E_INVALID_ARG, "reduce kernel '%s': kind %d, shape [%lld, %lld, %lld]",
                name, (int)r->kind, (long long)r->outer, (long long)r->len, (long long)r->inner);
        const int64_t n_need[1] = {r->outer * r->len * r->inner};
        st = tsr_cpu_check_inputs(ctx, prog, kn, 1, n_need);
        if (st != TSR_OK) return st;
        need = r->outer * r->inner;
        break;
    }
    case TSR_K_TRANSPOSE: {
        const struct tsr_k_transpose *t = &kn->u.transpose;
        if (t->rank < 1 || t->rank > TSR_MAX_RANK)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG, "transpose kernel '%s': rank %d", name, t->rank);
        int64_t last = 0; /* largest input offset read */
        need = 1;
        for (int d = 0; d < t->rank; d++) {
            if (t->dims[d] < 0 || t->in_strides[d] < 0)
                return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                               "transpose kernel '%s': dim %d is %lld with stride %lld", name, d,
                               (long long)t->dims[d], (long long)t->in_strides[d]);
            need *= t->dims[d];
            if (t->dims[d] > 0) last += (t->dims[d] - 1) * t->in_strides[d];
        }
        const int64_t n_need[1] = {need > 0 ? last + 1 : 0};
        st = tsr_cpu_check_inputs(ctx, prog, kn, 1, n_need);
        if (st != TSR_OK) return st;
        break;
    }
    case TSR_K_CONCAT: {
        const struct tsr_k_concat *c = &kn->u.concat;
        if (c->n < 1 || c->n > TSR_EW_MAX_INPUTS || c->outer < 0)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG, "concat kernel '%s': %d inputs, outer %lld",
                           name, c->n, (long long)c->outer);
        int64_t n_need[TSR_EW_MAX_INPUTS], row = 0;
        for (int i = 0; i < c->n; i++) {
            if (c->inner[i] < 0)
                return TSR_ERR(ctx, TSR_E_INVALID_ARG, "concat kernel '%s': input %d inner %lld",
                               name, i, (long long)c->inner[i]);
            n_need[i] = c->outer * c->inner[i];
            row += c->inner[i];
        }
        st = tsr_cpu_check_inputs(ctx, prog, kn, c->n, n_need);
        if (st != TSR_OK) return st;
        need = c->outer * row;
        break;
    }
    case TSR_K_LAYERNORM: {
        const struct tsr_k_layernorm *l = &kn->u.layernorm;
        if (l->outer < 0 || l->len < 0)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG, "layernorm kernel '%s': shape [%lld, %lld]",
                           name, (long long)l->outer, (long long)l->len);
        /* Instance / GroupNorm: [channels * per_row] */
        const int64_t per = l->channels > 0 ? l->channels * l->per_row : l->len;
        if (l->channels > 0 &&
            (l->per_row < 1 || l->spatial < 0 || l->per_row * l->spatial != l->len))
            return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                           "layernorm kernel '%s': %lld x %lld segments in rows of %lld", name,
                           (long long)l->per_row, (long long)l->spatial, (long long)l->len);
        const int64_t n_need[3] = {l->outer * l->len, per, per};
        st = tsr_cpu_check_inputs(ctx, prog, kn, l->has_bias ? 3 : 2, n_need);
        if (st != TSR_OK) return st;
        need = l->outer * l->len;
        break;
    }
    case TSR_K_ARG: { /* group "reduce" */
        const struct tsr_k_arg *a = &kn->u.arg;
        if (a->outer < 0 || a->len < 1 || a->inner < 0 || a->k < 0 || a->k > a->len)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG, "arg kernel '%s': shape [%lld, %lld, %lld]",
                           name, (long long)a->outer, (long long)a->len, (long long)a->inner);
        const int64_t n_need[1] = {a->outer * a->len * a->inner};
        st = tsr_cpu_check_inputs(ctx, prog, kn, 1, n_need);
        if (st != TSR_OK) return st;
        need = a->outer * a->k * a->inner;
        break;
    }
    case TSR_K_CUMSUM: { /* group "reduce" */
        const struct tsr_k_cumsum *c = &kn->u.cumsum;
        if (c->outer < 0 || c->len < 0 || c->inner < 0 || c->scan < TSR_SCAN_CUMSUM ||
            c->scan > TSR_SCAN_EMA ||
            (c->scan != TSR_SCAN_CUMSUM && (c->window < 1 || c->min_periods < 1 || c->ddof < 0)))
            return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                           "cumsum kernel '%s': shape [%lld, %lld, %lld], scan %d, window %lld, "
                           "min_periods %lld, ddof %lld",
                           name, (long long)c->outer, (long long)c->len, (long long)c->inner,
                           c->scan, (long long)c->window, (long long)c->min_periods,
                           (long long)c->ddof);
        if (kn->dtype != TSR_F32 && c->scan != TSR_SCAN_CUMSUM) /* zoo2: integer CumSum only */
            return TSR_ERR(ctx, TSR_E_DTYPE, "scan kernel '%s': scan %d has no %s kernel", name,
                           c->scan, tsr_dtype_name(kn->dtype));
        const int64_t n_need[1] = {c->outer * c->len * c->inner};
        st = tsr_cpu_check_inputs(ctx, prog, kn, 1, n_need);
        if (st != TSR_OK) return st;
        need = n_need[0];
        break;
    }
    case TSR_K_NLL: { /* group "multiout" */
        const struct tsr_k_nll *l = &kn->u.nll;
        if (l->N < 0 || l->C < 0 || l->D < 0 || l->reduction < 0 || l->reduction > 2)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                           "nll kernel '%s': shape [%lld, %lld, %lld], reduction %d", name,
                           (long long)l->N, (long long)l->C, (long long)l->D, l->reduction);
        const int64_t n_need[3] = {l->N * l->C * l->D, l->N * l->D, l->C};
        st = tsr_cpu_check_inputs(ctx, prog, kn, l->has_weight ? 3 : 2, n_need);
        if (st != TSR_OK) return st;
        need = l->reduction == 0 ? l->N * l->D : 1;
        break;
    }
    default:
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED, "kernel '%s': unknown kind %d", name, (int)kn->kind);
    }
    if (need > out_elems)
        return TSR_ERR(ctx, TSR_E_SHAPE,
                       "kernel '%s': writes %lld elements into output buffer %d of %lld", name,
                       (long long)need, kn->output, (long long)out_elems);
    return TSR_OK;
}

/* Dtypes the CPU kernels exist for, per kernel kind (program.h): float32 for the float kinds;
 * every dtype for COPY (a byte copy) and the kinds of data.c (GATHER, SLICE, CAST, MIXED, PAD). The
 * vtable member kernel_dtypes: prepare and the default supports share it. */
static tsr_dtype_set cpu_kernel_dtypes(tsr_kernel_kind kind) {
    switch (kind) {
    case TSR_K_COPY:
    case TSR_K_GATHER: /* group "tkern" */
    case TSR_K_SLICE:
    case TSR_K_CAST:
    case TSR_K_MIXED:
    case TSR_K_PAD:
    case TSR_K_INDEX: /* group "index" */
        return TSR_DTS_ALL_BUFFERS;
    case TSR_K_QUANT: /* issue 13: quant.c (outputs) */
        return TSR_DTYPE_BIT(TSR_F32) | TSR_DTYPE_BIT(TSR_I32) | TSR_DTYPE_BIT(TSR_U8) |
               TSR_DTYPE_BIT(TSR_I8) | TSR_DTYPE_BIT(TSR_U16) | TSR_DTYPE_BIT(TSR_I16);
    case TSR_K_CUMSUM: /* zoo2: CumSum also on int64 / int32 (reduce.c) */
        return TSR_DTYPE_BIT(TSR_F32) | TSR_DTYPE_BIT(TSR_I64) | TSR_DTYPE_BIT(TSR_I32);
    case TSR_K_EW: /* group "dtcompute": ew_typed.c */
        return TSR_DTYPE_BIT(TSR_F32) | TSR_DTYPE_BIT(TSR_F64) | TSR_DTYPE_BIT(TSR_F16) |
               TSR_DTYPE_BIT(TSR_I64) | TSR_DTYPE_BIT(TSR_I32) | TSR_DTYPE_BIT(TSR_I8) |
               TSR_DTYPE_BIT(TSR_U8) | TSR_DTYPE_BIT(TSR_I16) | TSR_DTYPE_BIT(TSR_U16) |
               TSR_DTYPE_BIT(TSR_U32);
    default:
        return TSR_DTYPE_BIT(TSR_F32);
    }
}

static tsr_status tsr_cpu_prepare(tsr_context *ctx, int device, const struct tsr_program *prog,
                                  void **exec) {
    if (!prog || !exec)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "cpu prepare: NULL program or output");
    if (device != 0)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "cpu prepare: device %d (the CPU is device 0)",
                       device);
    /* Kernel dtypes: refuse a kernel in a dtype the CPU has no kernel for. */
    tsr_status dst = tsr_program_check_dtypes(ctx, "cpu", prog, cpu_kernel_dtypes);
    if (dst != TSR_OK) return dst;
    struct tsr_cpu_backend *cpu = tsr_cpu_backend_of(ctx);
    struct tsr_topology *topo = ctx ? ctx->topo : NULL;
    struct tsr_cpu_exec *ex = calloc(1, sizeof *ex);
    if (!ex) return TSR_ERR(ctx, TSR_E_NOMEM, "cpu prepare: out of memory");
    ex->ctx = ctx;
    ex->prog = prog;
    ex->env.ew = tsr_cpu_ew_table(tsr_cpu_backend_isa(cpu));
    ex->env.pool = cpu ? cpu->pool : NULL;
    ex->env.n_threads = tsr_cpu_pool_threads(ex->env.pool);
    ex->env.l1d_bytes = topo ? (size_t)tsr_topology_l1d_bytes(topo) : 32 * 1024;
    ex->env.panel_cache_bytes = tsr_cpu_panel_cache_bytes(topo);

    tsr_status st = TSR_OK;
    size_t scratch = 16;
    for (int i = 0; i < prog->n_kernels && st == TSR_OK; i++) {
        const struct tsr_kernel *kn = &prog->kernels[i];
        st = tsr_cpu_check_kernel(ctx, prog, kn);
        if (st == TSR_OK && kn->kind == TSR_K_EW) {
            size_t s = tsr_cpu_ew_scratch_floats(&kn->u.ew, ex->env.l1d_bytes);
            if (s > scratch) scratch = s;
        }
        /* a GEMM with a large output: one block per thread (gemm.c, streaming stores) */
        if (st == TSR_OK && kn->kind == TSR_K_GEMM) {
            size_t s = tsr_cpu_gemm_scratch_floats(&ex->env, &kn->u.gemm);
            if (s > scratch) scratch = s;
        }
        /* conv's im2col panel: one in every thread's slice (panels run on the pool) */
        if (st == TSR_OK && kn->kind == TSR_K_CONV) {
            size_t s = tsr_cpu_conv_scratch_floats(&kn->u.conv, ex->env.panel_cache_bytes);
            if (s > scratch) scratch = s;
            /* the direct path's Winograd transform buffers (conv_direct.c) */
            s = tsr_cpu_convd_kernels(ex->env.ew->isa)
                    ? tsr_cpu_convd_scratch_floats(ex->env.ew->isa, &kn->u.conv)
                    : 0;
            if (s > scratch) scratch = s;
        }
        /* the vector pool path's padded plane: one in every thread's slice */
        if (st == TSR_OK && kn->kind == TSR_K_POOL) {
            size_t s = tsr_cpu_pool_scratch_floats(&ex->env, &kn->u.pool);
            if (s > scratch) scratch = s;
        }
    }
    if (st != TSR_OK) {
        tsr_cpu_release(ex);
        return st;
    }
    ex->env.scratch_floats = (scratch + 15) & ~(size_t)15;
    for (int b = 0; b < prog->n_buffers; b++) {
        const struct tsr_buffer *buf = &prog->buffers[b];
        if (buf->kind == TSR_BUF_TEMP) {
            /* written so that it cannot overflow; the offset must also keep 64-byte alignment
             * (runtime/program.h) */
            if (buf->offset > prog->arena_bytes || buf->bytes > prog->arena_bytes - buf->offset ||
                buf->offset % 64 != 0) {
                tsr_cpu_release(ex);
                return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                               "cpu prepare: buffer %d at offset %zu (%zu bytes) lies outside the "
                               "%zu-byte arena or is not 64-byte aligned",
                               b, buf->offset, buf->bytes, prog->arena_bytes);
            }
        } else if ((buf->kind == TSR_BUF_INPUT &&
                    (buf->io_index < 0 || buf->io_index >= prog->n_inputs)) ||
                   (buf->kind == TSR_BUF_OUTPUT &&
                    (buf->io_index < 0 || buf->io_index >= prog->n_outputs))) {
            tsr_cpu_release(ex);
            return TSR_ERR(ctx, TSR_E_INVALID_ARG, "cpu prepare: buffer %d has io_index %d", b,
                           buf->io_index);
        }
    }
    /* Direct convs (conv_direct.h): weights (and bias) constant, packed once here. TSR_CPU_PACK=0
     * turns the pre-packed paths off (the im2col / OpenBLAS paths run instead): for side-by-side
     * measurements and as a way around a suspected kernel fault. */
    size_t pad_floats = 0;
    const char *pack_env = tsr_getenv("TSR_CPU_PACK");
    const int pack = !(pack_env && !strcmp(pack_env, "0"));
    ex->env.conv_tile = pack; /* conv.c's register-tile path (AVX2 tier) */
    ex->convd = calloc((size_t)(prog->n_kernels > 0 ? prog->n_kernels : 1), sizeof *ex->convd);
    ex->gemmp = calloc((size_t)(prog->n_kernels > 0 ? prog->n_kernels : 1), sizeof *ex->gemmp);
    ex->igemm = calloc((size_t)(prog->n_kernels > 0 ? prog->n_kernels : 1), sizeof *ex->igemm);
    if (!ex->convd || !ex->gemmp || !ex->igemm) {
        tsr_cpu_release(ex);
        return TSR_ERR(ctx, TSR_E_NOMEM, "cpu prepare: out of memory");
    }
    for (int i = 0; i < prog->n_kernels; i++) {
        const struct tsr_kernel *kn = &prog->kernels[i];
        /* GEMMs on a constant B (gemm_packed.h): B packed once here */
        if (!pack) break;
        /* integer matmuls on a constant B (igemm.h, AVX2 tier and up; the VNNI format where the
         * AVX-512 tier has it): B packed once here */
        if (ex->env.ew->isa >= TSR_ISA_AVX2 && tsr_cpu_quant_b_constant(prog, kn)) {
            tsr_status pst = tsr_cpu_quant_pack_b(ctx, tsr_cpu_igemm_use_vnni((int)ex->env.ew->isa),
                                                  prog, kn, &ex->igemm[i]);
            if (pst != TSR_OK) {
                tsr_cpu_release(ex);
                return pst;
            }
            continue;
        }
        if (kn->kind == TSR_K_GEMM && kn->dtype == TSR_F32 &&
            tsr_cpu_gemmp_supported(ex->env.ew->isa, &kn->u.gemm) &&
            prog->buffers[kn->inputs[1]].kind == TSR_BUF_CONST) {
            if (tsr_cpu_gemmp_prepare(&kn->u.gemm, prog->buffers[kn->inputs[1]].const_data,
                                      &ex->gemmp[i]) != 0) {
                tsr_cpu_release(ex);
                return TSR_ERR(ctx, TSR_E_NOMEM,
                               "cpu prepare: cannot pack the weights of gemm '%s'", kn->name);
            }
            continue;
        }
        if (kn->kind != TSR_K_CONV || kn->dtype != TSR_F32) continue;
        const struct tsr_k_conv *c = &kn->u.conv;
        const struct tsr_buffer *wb = &prog->buffers[kn->inputs[1]];
        const struct tsr_buffer *bb = c->has_bias ? &prog->buffers[kn->inputs[2]] : NULL;
        if (wb->kind != TSR_BUF_CONST || (bb && bb->kind != TSR_BUF_CONST)) continue;
        /* a 1x1 conv on 1x1 planes (squeeze-excitation FCs) is a GEMM over the images */
        struct tsr_k_gemm cg;
        if (tsr_cpu_conv_as_gemm(c, &cg) && tsr_cpu_gemmp_supported(ex->env.ew->isa, &cg)) {
            if (tsr_cpu_gemmp_prepare(&cg, wb->const_data, &ex->gemmp[i]) != 0) {
                tsr_cpu_release(ex);
                return TSR_ERR(ctx, TSR_E_NOMEM,
                               "cpu prepare: cannot pack the weights of conv '%s'", kn->name);
            }
            continue;
        }
        if (!tsr_cpu_convd_supported(ex->env.ew->isa, c)) continue;
        if (tsr_cpu_convd_prepare(ex->env.ew->isa, c, wb->const_data, bb ? bb->const_data : NULL,
                                  &ex->convd[i]) != 0) {
            tsr_cpu_release(ex);
            return TSR_ERR(ctx, TSR_E_NOMEM, "cpu prepare: cannot pack the weights of conv '%s'",
                           kn->name);
        }
        if (ex->convd[i]->pad_floats > pad_floats) pad_floats = ex->convd[i]->pad_floats;
    }
    ex->pad_floats = pad_floats;
    ex->max_runs = tsr_cpu_max_runs(ctx);
    if (pthread_mutex_init(&ex->mu, NULL) != 0) {
        tsr_cpu_release(ex);
        return TSR_ERR(ctx, TSR_E_NOMEM, "cpu prepare: cannot create a mutex");
    }
    if (pthread_cond_init(&ex->freed, NULL) != 0) {
        pthread_mutex_destroy(&ex->mu);
        tsr_cpu_release(ex);
        return TSR_ERR(ctx, TSR_E_NOMEM, "cpu prepare: cannot create a condition variable");
    }
    ex->sync_ok = 1;
    /* the first run state, so that a single-threaded run allocates nothing */
    struct tsr_cpu_run *r0 = tsr_cpu_run_new(ex);
    if (!r0) {
        size_t bytes = prog->arena_bytes + pad_floats * sizeof(float) +
                       ex->env.scratch_floats * sizeof(float) * (size_t)ex->env.n_threads;
        tsr_cpu_release(ex);
        return TSR_ERR(ctx, TSR_E_NOMEM,
                       "cpu prepare: cannot allocate %zu bytes of arena, scratch and padding",
                       bytes);
    }
    r0->all_next = NULL;
    ex->all_runs = ex->free_runs = r0;
    ex->n_runs = 1;
    tsr_log(ctx, TSR_LOG_DEBUG, "cpu prepare: %d kernels, ISA %s, %d threads, arena %zu bytes",
            prog->n_kernels, tsr_cpu_isa_name(ex->env.ew->isa), ex->env.n_threads,
            prog->arena_bytes);
    *exec = ex;
    return TSR_OK;
}

/* Runs kernel kn; TSR_OK, or TSR_E_INVALID_ARG (recorded) for a Gather index out of range. */
static tsr_status tsr_cpu_run_kernel(const struct tsr_cpu_exec *ex, const struct tsr_cpu_run *run,
                                     const struct tsr_kernel *kn) {
    float *const *p = run->ptrs;
    const struct tsr_cpu_env *env = &run->env;
    float *y = p[kn->output];
    switch (kn->kind) {
    case TSR_K_GATHER: /* group "tkern": kernels of any dtype (data.c) */
    case TSR_K_SLICE:
    case TSR_K_CAST:
    case TSR_K_MIXED:
    case TSR_K_PAD: {
        const void *in[TSR_KERNEL_MAX_INPUTS] = {0};
        tsr_dtype dts[TSR_KERNEL_MAX_INPUTS] = {0};
        for (int i = 0; i < kn->n_inputs; i++) {
            in[i] = p[kn->inputs[i]];
            dts[i] = ex->prog->buffers[kn->inputs[i]].desc.dtype;
        }
        int64_t bad = 0;
        if (tsr_cpu_data_run(env, kn, dts, in, y, &bad))
            return TSR_ERR(ex->ctx, TSR_E_INVALID_ARG,
                           "node '%s' (Gather): index %lld out of range [%lld, %lld) (kernel '%s')",
                           kn->nodes ? kn->nodes : "", (long long)bad,
                           (long long)-kn->u.gather.axis_len, (long long)kn->u.gather.axis_len,
                           kn->name);
        break;
    }
    case TSR_K_GEMM:
        if (ex->gemmp[kn - ex->prog->kernels]) {
            tsr_cpu_gemmp_run(
                env, ex->gemmp[kn - ex->prog->kernels], p[kn->inputs[0]],
                kn->u.gemm.has_c ? p[kn->inputs[2]] : NULL,
                kn->u.gemm.has_residual ? p[kn->inputs[2 + !!kn->u.gemm.has_c]] : NULL, y);
            break;
        }
        tsr_cpu_gemm_run(env, &kn->u.gemm, p[kn->inputs[0]], p[kn->inputs[1]],
                         kn->u.gemm.has_c ? p[kn->inputs[2]] : NULL,
                         kn->u.gemm.has_residual ? p[kn->inputs[2 + !!kn->u.gemm.has_c]] : NULL, y);
        break;
    case TSR_K_EW: {
        if (kn->dtype != TSR_F32) { /* group "dtcompute" */
            const void *tin[TSR_EW_MAX_INPUTS] = {0};
            for (int i = 0; i < kn->n_inputs; i++)
                tin[i] = p[kn->inputs[i]];
            tsr_cpu_ew_typed_run(env, &kn->u.ew, kn->dtype, tin, y);
            break;
        }
        const float *in[TSR_EW_MAX_INPUTS] = {0};
        for (int i = 0; i < kn->n_inputs; i++)
            in[i] = p[kn->inputs[i]];
        tsr_cpu_ew_run(env, &kn->u.ew, in, y);
        break;
    }
    case TSR_K_SOFTMAX:
        tsr_cpu_softmax_run(env, &kn->u.softmax, p[kn->inputs[0]], y);
        break;
    case TSR_K_COPY:
        if (kn->u.copy.n > 0 && y != p[kn->inputs[0]])
            memmove(y, p[kn->inputs[0]], (size_t)kn->u.copy.n * tsr_dtype_size(kn->dtype));
        break;
    case TSR_K_CONV: {
        const struct tsr_k_conv *c = &kn->u.conv;
        const int bi = 2, ri = 2 + !!c->has_bias;
        const struct tsr_cpu_convd *d = ex->convd[kn - ex->prog->kernels];
        const struct tsr_cpu_gemmp *cg = ex->gemmp[kn - ex->prog->kernels];
        if (cg) { /* tsr_cpu_conv_as_gemm: X [N, C], W^T packed, bias row, R / Y [N, M] */
            tsr_cpu_gemmp_run(env, cg, p[kn->inputs[0]], c->has_bias ? p[kn->inputs[bi]] : NULL,
                              c->has_residual ? p[kn->inputs[ri]] : NULL, y);
            break;
        }
        if (d) {
            tsr_cpu_convd_run(env, d, p[kn->inputs[0]], c->has_residual ? p[kn->inputs[ri]] : NULL,
                              run->conv_pad, y);
            break;
        }
        tsr_cpu_conv_run(env, c, p[kn->inputs[0]], p[kn->inputs[1]],
                         c->has_bias ? p[kn->inputs[bi]] : NULL,
                         c->has_residual ? p[kn->inputs[ri]] : NULL, y);
        break;
    }
    case TSR_K_POOL:
        tsr_cpu_pool_run(env, &kn->u.pool, p[kn->inputs[0]], y);
        break;
    case TSR_K_REDUCE:
        tsr_cpu_reduce_run(env, &kn->u.reduce, p[kn->inputs[0]], y);
        break;
    case TSR_K_TRANSPOSE:
        tsr_cpu_transpose_run(env, &kn->u.transpose, p[kn->inputs[0]], y);
        break;
    case TSR_K_CONCAT: {
        const float *in[TSR_EW_MAX_INPUTS] = {0};
        for (int i = 0; i < kn->n_inputs; i++)
            in[i] = p[kn->inputs[i]];
        tsr_cpu_concat_run(env, &kn->u.concat, in, y);
        break;
    }
    case TSR_K_LAYERNORM:
        tsr_cpu_layernorm_run(env, &kn->u.layernorm, p[kn->inputs[0]], p[kn->inputs[1]],
                              kn->u.layernorm.has_bias ? p[kn->inputs[2]] : NULL, y);
        break;
    case TSR_K_CUMSUM:
        if (kn->u.cumsum.scan != TSR_SCAN_CUMSUM) /* group "preproc" */
            tsr_cpu_scan_run(env, &kn->u.cumsum, p[kn->inputs[0]], y);
        else if (kn->dtype == TSR_I64 || kn->dtype == TSR_I32) /* zoo2 */
            tsr_cpu_cumsum_int_run(&kn->u.cumsum, kn->dtype == TSR_I64, p[kn->inputs[0]], y);
        else
            tsr_cpu_cumsum_run(env, &kn->u.cumsum, p[kn->inputs[0]], y);
        break;
    case TSR_K_ARG: /* group "reduce": int64 output */
        tsr_cpu_arg_run(&kn->u.arg, p[kn->inputs[0]], y);
        break;
    case TSR_K_NLL: /* group "multiout" */
        tsr_cpu_nll_run(&kn->u.nll, p[kn->inputs[0]], p[kn->inputs[1]],
                        kn->u.nll.has_weight ? p[kn->inputs[2]] : NULL, y);
        break;
    case TSR_K_QUANT: { /* issue 13 (quant.c) */
        const void *in[TSR_KERNEL_MAX_INPUTS] = {0};
        tsr_dtype dts[TSR_KERNEL_MAX_INPUTS] = {0};
        for (int i = 0; i < kn->n_inputs; i++) {
            in[i] = p[kn->inputs[i]];
            dts[i] = ex->prog->buffers[kn->inputs[i]].desc.dtype;
        }
        const struct tsr_cpu_igemm_b *pre = &ex->igemm[kn - ex->prog->kernels];
        tsr_status qst;
        if (kn->u.quant.op == TSR_QK_DYNAMIC) {
            tsr_cpu_quant_dynamic_run(env->pool, ex->env.ew->isa, kn, in, y);
            qst = TSR_OK;
        } else if (ex->env.ew->isa >= TSR_ISA_AVX2 && (kn->u.quant.op == TSR_QK_MATMUL_INTEGER ||
                                                       kn->u.quant.op == TSR_QK_QLINEAR_MATMUL))
            qst = tsr_cpu_quant_mm_run(ex->ctx, env, kn, dts, in, y, pre->bp ? pre : NULL,
                                       tsr_cpu_igemm_use_vnni((int)ex->env.ew->isa));
        else
            qst = tsr_cpu_quant_run(ex->ctx, env, kn, dts, in, y);
        if (qst != TSR_OK) return qst;
        break;
    }
    case TSR_K_INDEX: { /* group "index" (index.c) */
        const void *in[TSR_KERNEL_MAX_INPUTS] = {0};
        tsr_dtype dts[TSR_KERNEL_MAX_INPUTS] = {0};
        for (int i = 0; i < kn->n_inputs; i++) {
            in[i] = p[kn->inputs[i]];
            dts[i] = ex->prog->buffers[kn->inputs[i]].desc.dtype;
        }
        int64_t bad = 0;
        if (tsr_cpu_index_run(kn, dts, in, y, &bad))
            return TSR_ERR(ex->ctx, TSR_E_INVALID_ARG,
                           "node '%s' (%s): index %lld out of range (kernel '%s')",
                           kn->nodes ? kn->nodes : "", kn->name, (long long)bad, kn->name);
        break;
    }
    }
    return TSR_OK;
}

/* Thread-safe: concurrent calls on one executable run in parallel, each on its own run state. */
static tsr_status tsr_cpu_execute(void *exec, const struct tsr_tensor *inputs,
                                  struct tsr_tensor *outputs) {
    struct tsr_cpu_exec *ex = exec;
    if (!ex) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "cpu execute: NULL executable");
    const struct tsr_program *prog = ex->prog;
    if ((prog->n_inputs > 0 && !inputs) || (prog->n_outputs > 0 && !outputs))
        return TSR_ERR(ex->ctx, TSR_E_INVALID_ARG, "cpu execute: NULL inputs or outputs");
    /* this run's state: concurrent runs of the plan each take their own */
    struct tsr_cpu_run *run = tsr_cpu_run_take(ex);
    if (!run)
        return TSR_ERR(ex->ctx, TSR_E_NOMEM, "cpu execute: cannot allocate a run state (%zu bytes)",
                       prog->arena_bytes);
    for (int b = 0; b < prog->n_buffers; b++) {
        const struct tsr_buffer *buf = &prog->buffers[b];
        if (buf->kind == TSR_BUF_INPUT)
            run->ptrs[b] = (float *)inputs[buf->io_index].data; /* read-only by contract */
        else if (buf->kind == TSR_BUF_OUTPUT)
            run->ptrs[b] = (float *)outputs[buf->io_index].data;
        else
            continue;
        /* A zero-size input or output may come with data NULL (tsr_plan_run allows it): its
         * kernels get the arena's base, a valid pointer they never dereference (0 elements). */
        if (!run->ptrs[b]) run->ptrs[b] = run->arena;
    }
    const int prof = tsr_prof_enabled(ex->ctx);
    /* the kernels follow each other within microseconds: the pool's threads spin between them */
    if (prog->n_kernels > 1) tsr_cpu_pool_hold(ex->env.pool);
    tsr_status st = TSR_OK;
    for (int i = 0; i < prog->n_kernels && st == TSR_OK; i++) {
        const struct tsr_kernel *kn = &prog->kernels[i];
        const uint64_t t0 = prof ? tsr_now_ns() : 0;
        st = tsr_cpu_run_kernel(ex, run, kn);
        if (st == TSR_OK && prof)
            tsr_prof_add(ex->ctx, TSR_EVENT_KERNEL, kn->name, kn->nodes ? kn->nodes : "", "cpu", 0,
                         t0, tsr_now_ns(), kn->bytes, kn->flops);
    }
    if (prog->n_kernels > 1) tsr_cpu_pool_release(ex->env.pool);
    tsr_cpu_run_give(ex, run);
    return st;
}

/* ---------------------------------------------------------------------------------------- */
/* The vtable (runtime/backend.h)                                                            */
/* ---------------------------------------------------------------------------------------- */

static tsr_status cpu_create(tsr_context *ctx, const struct tsr_context_options *opts,
                             void **state) {
    struct tsr_cpu_backend *cpu = NULL;
    tsr_status st = tsr_cpu_backend_create(ctx, opts->cpu_threads, &cpu);
    if (st == TSR_OK) *state = cpu;
    return st;
}

static void cpu_destroy(void *state) {
    tsr_cpu_backend_destroy(state);
}

static int cpu_device_count(const void *state) {
    return state ? 1 : 0;
}

/* The one CPU device: the host's cores as hwloc sees them, the ISA and threads in use. */
static void cpu_device_info(void *state, tsr_context *ctx, int device, struct tsr_device_info *d) {
    const struct tsr_cpu_backend *cpu = state;
    const struct tsr_cpu_topology_info *ci = tsr_topology_cpu(ctx ? ctx->topo : NULL);
    snprintf(d->isa, sizeof d->isa, "%s", tsr_cpu_isa_name(tsr_cpu_backend_isa(cpu)));
    snprintf(d->device_type, sizeof d->device_type, "cpu");
    d->compute_units = tsr_cpu_backend_threads(cpu);
    snprintf(d->name, sizeof d->name, "host CPU");
    if (!ci) return;
    if (ci->model[0]) snprintf(d->name, sizeof d->name, "%s", ci->model);
    snprintf(d->vendor, sizeof d->vendor, "%s", ci->vendor);
    d->global_mem_bytes = ci->total_mem_bytes;
    d->max_alloc_bytes = ci->total_mem_bytes;
    d->numa_node = ci->numa_nodes == 1 ? 0 : -1; /* the CPU device spans every NUMA node */
    snprintf(d->locality, sizeof d->locality, "host cores (%d packages, %d NUMA nodes)",
             ci->packages, ci->numa_nodes);
}

const struct tsr_backend_ops tsr_cpu_backend_ops = {
    .name = "cpu",
    .host_memory = 1,
    .single_device = 1,
    .create = cpu_create,
    .destroy = cpu_destroy,
    .device_count = cpu_device_count,
    .device_info = cpu_device_info,
    .prepare = tsr_cpu_prepare,
    .execute = tsr_cpu_execute,
    .release = tsr_cpu_release,
    .display_name = "CPU",
    .kernel_dtypes = cpu_kernel_dtypes,
    /* pool_stats: the host pool (default); supports: the dtype check (default); calibrate:
     * none (the probe programs measure every CPU figure) */
};
