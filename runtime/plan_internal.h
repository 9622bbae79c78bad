/*
 * plan_internal.h — the tsr_plan object (opaque in tessera.h), shared by plan.c and the tools
 * that explain a plan.
 */
#ifndef TSR_RUNTIME_PLAN_INTERNAL_H
#define TSR_RUNTIME_PLAN_INTERNAL_H

#include "runtime/backend.h"
#include "tessera/sched.h"

#include <pthread.h>
#include <stdatomic.h>

struct tsr_plan {
    tsr_context *ctx;
    struct tsr_program prog;
    int device;                        /* index into ctx->devices */
    const struct tsr_backend_ops *ops; /* backend of `device` (ctx->devices[device].ops) */
    void *exec;                        /* backend executable */
    /* Concurrent runs (tessera.h: tsr_plan_run is thread-safe): runs hold exec_lock for reading
     * while they use device / ops / exec; the fallback to the host device swaps them holding it
     * for writing. hetero_lock serialises the runs of a plan placed across devices (its segment
     * I/O records and staging buffers are per plan). */
    pthread_rwlock_t exec_lock;
    pthread_mutex_t hetero_lock;
    int sync_ok; /* the two locks are initialised */
    int allow_fallback;
    atomic_int fell_back; /* 1 after a device failure moved the plan to the host device */
    int n_folded, n_bn, n_simplified, n_cse, n_layernorm, n_dead; /* pass statistics (nodes) */
    char reason[2048];                                            /* why this device */
    int n_inputs, n_outputs;
    char **input_names, **output_names; /* owned */
    struct tsr_tensor_desc *input_descs, *output_descs;
    tsr_graph *opt;            /* the optimised graph (tsr_compile_ex keep_graph), else NULL */
    int *value_buffer;         /* opt value → program buffer (keep_graph), else NULL */
    struct tsr_hetero *hetero; /* placement across devices (runtime/hetero.h), else NULL */
    char placement[16];        /* "single", "hetero" or "alternate" */
    int deferred; /* compiled from a deferred graph (tsr_graph.deferred): every run specialises */
    struct tsr_input_dims *input_dims; /* n_inputs symbolic-dim records (owned), or NULL when no
                                          input has a symbolic dim */
    struct tsr_plan_dyn *dyn; /* re-specialisation (plan.c: model source, compile options, cache
                                 of specialised plans) of a plan with symbolic inputs, else NULL */
    /* A specialisation (in its parent's dyn cache): runs using it now, and whether the cache
     * has evicted it (it is destroyed when the last run using it ends). Guarded by the parent's
     * dyn lock. */
    int spec_refs, spec_evicted;
    struct tsr_plan *retired_next; /* parent's list of evicted specialisations still in use */
    tsr_plan_profiling profiling;  /* tsr_plan_set_profiling (runtime/profiler.h: per-run switch) */
};

/* The plan that answers queries for p: the specialisation of its last run / tsr_plan_specialize
 * at shapes other than those it was compiled for, else p itself. NULL stays NULL. With runs at
 * other shapes in progress on other threads it may change (and an evicted one be destroyed) at
 * any time: queries then belong to the thread that runs (tessera.h). */
const tsr_plan *tsr_plan_current(const tsr_plan *p);

/* Statistics of a plan's cache of specialisations (dynamic shapes), for tests and tools. */
struct tsr_plan_cache_stats {
    int dynamic;            /* 1 when the plan has symbolic inputs and can re-specialise */
    int capacity;           /* specialisations kept besides the compiled one (TSR_PLAN_CACHE) */
    int entries;            /* held now */
    uint64_t hits;          /* runs / specialize calls served by a cached specialisation */
    uint64_t misses;        /* re-plans (import + compile at new shapes) */
    uint64_t evictions;     /* specialisations dropped, least recently used first */
    double last_replan_ms;  /* wall time of the last re-plan */
    double total_replan_ms; /* of all re-plans */
};
/* Fills *out (all zero for a plan without symbolic inputs or NULL). */
void tsr_plan_cache_stats(const tsr_plan *p, struct tsr_plan_cache_stats *out);

/* tsr_plan_predicted_ms, tsr_plan_kernel_predicted_ms and tsr_plan_placement: tessera/sched.h
 * (public; plan.c and api_sched.c). */
/* Index into ctx->devices of the device that runs kernel k (after any fallback), -1 if none. */
int tsr_plan_kernel_device_index(const tsr_plan *p, int k);

/* tsr_compile that can keep the optimised graph and the value→buffer map in the plan (for
 * tsr_verify). Same statuses as tsr_compile. */
tsr_status tsr_compile_ex(tsr_context *ctx, const tsr_graph *graph,
                          const struct tsr_compile_options *opts, int keep_graph, tsr_plan **out);

#endif
