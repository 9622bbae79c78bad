/*
 * threadpool.h — a fixed pool of CPU worker threads running parallel loops.
 *
 * The pool has n_threads participants: the thread calling tsr_cpu_pool_parallel_for (thread id
 * 0) plus n_threads - 1 workers (ids 1 .. n_threads - 1) created once, each pinned to the i-th
 * core that meets the creating thread's affinity mask (tsr_topology_bind_thread_numa: `taskset`
 * is kept; best effort; the caller's own thread is never re-pinned).
 * Workers sleep on a condition variable between loops. No allocation per loop.
 */
#ifndef TSR_CPU_THREADPOOL_H
#define TSR_CPU_THREADPOOL_H

#include "runtime/internal.h"

#include <stddef.h>

struct tsr_cpu_pool;
struct tsr_topology;

/* One task of a parallel loop: `task` in [0, n_tasks), `thread_id` in [0, n_threads) names the
 * participant running it (index for per-thread scratch; stable for the duration of the call). */
typedef void (*tsr_cpu_task_fn)(void *arg, size_t task, int thread_id);

/* Creates a pool of n_threads participants (>= 1; 1 = no worker, loops run inline). topo may be
 * NULL (no pinning). Returns TSR_OK, TSR_E_INVALID_ARG (n_threads < 1), TSR_E_NOMEM (memory or
 * thread creation failed; nothing is leaked). Error recorded on ctx (may be NULL). */
tsr_status tsr_cpu_pool_create(tsr_context *ctx, const struct tsr_topology *topo, int n_threads,
                               struct tsr_cpu_pool **out);
/* Stops and joins every worker, frees the pool. Must not be called while a loop runs. NULL is a
 * no-op. */
void tsr_cpu_pool_destroy(struct tsr_cpu_pool *pool);
/* Participants (workers + caller). 1 for a NULL pool. */
int tsr_cpu_pool_threads(const struct tsr_cpu_pool *pool);

/* Runs fn(arg, t, thread_id) once for every t in [0, n_tasks) and returns when all have
 * finished; the caller runs tasks too. Each participant first claims, in order, its contiguous
 * share of [0, n_tasks) (participant i of P: [n_tasks i / P, n_tasks (i + 1) / P)), then what
 * is left of the others' shares; which thread runs a task is therefore not fixed. pool may be NULL
 * (inline, thread_id 0). Thread-safe: loops submitted concurrently from several threads (or from
 * inside a task) do not wait for each other: a loop that finds the pool busy runs inline on its
 * caller with thread_id 0 — so per-thread scratch indexed by thread_id must belong to the
 * submitter, not to the pool. While as many holds are active as the pool has threads (that
 * many concurrent plan runs), every loop runs inline on its caller: one run per core, not one run
 * on all cores competing with the others. */
void tsr_cpu_pool_parallel_for(struct tsr_cpu_pool *pool, size_t n_tasks, tsr_cpu_task_fn fn,
                               void *arg);

/* A run of several loops in a row (one plan execution) holds the pool: while 1 .. threads - 1
 * holds are active, a worker that finished a loop, and the submitter waiting for the last tasks,
 * spin up to TSR_POOL_HOLD_SPIN_NS (100 us; TSR_CPU_RUN_SPIN_US, 0 = off: see threadpool.c) for the
 * next loop instead of sleeping at once, so a loop that follows within microseconds costs no
 * futex wake-up. Every hold needs a release.
 * Thread-safe (a counter); NULL pool: no-op. */
void tsr_cpu_pool_hold(struct tsr_cpu_pool *pool);
void tsr_cpu_pool_release(struct tsr_cpu_pool *pool);

#endif
