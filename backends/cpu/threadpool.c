/*
 * threadpool.c — fixed pthread pool for parallel loops (threadpool.h).
 *
 * Protocol: a loop is published under `mu` by bumping `generation`; every worker wakes, claims
 * tasks from its own share's atomic counter (`ranges`), then from the others' shares, until all
 * are past their ends, then decrements `pending`; the
 * submitter (which also claims tasks) waits until `pending` is 0. `submit` serialises loops; it
 * is only try-locked, so a second submitter runs its loop inline instead of waiting (no
 * deadlock from nested or concurrent loops).
 *
 * Waiting may spin first: a worker that finished a loop can watch `generation` for up to
 * TSR_POOL_SPIN_NS before it sleeps on the condition variable, and the submitter watches `pending`
 * as long before it sleeps on `done` (bounded, PAUSE between probes, yielding after ~2000). The
 * spin is OFF (0 ns): measured on this 2-vCPU machine, quiet, with `tessera run --device cpu
 * --repeat 300` (digits, three 360x64x64 GEMMs) the median was 0.085 ms without spinning and
 * 0.112 / 0.172 / 0.206 ms with 10 / 30 / 100 us spins (batch 4096: 0.676 vs 0.716 / 0.753 /
 * 0.858 ms): a spinning worker takes the core the submitting thread needs. A machine with idle
 * cores to spare may gain from a short spin; measure before turning it on.
 * That is the spin *outside* runs. Inside a run (tsr_cpu_pool_hold, held by the CPU backend's
 * execute around its kernels) the threads spin up to TSR_POOL_HOLD_SPIN_NS between loops: there
 * the next loop comes within microseconds and the futex wake-up it saves (10-55 us here) is
 * most of a small kernel's time (measurements at TSR_POOL_HOLD_SPIN_NS).
 */
#include "backends/cpu/threadpool.h"
#include "runtime/internal.h"
#include "runtime/topology.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Longest spin of a waiting worker or submitter before it sleeps (ns); see the file comment. */
#define TSR_POOL_SPIN_NS 0ull
/* The same while a run holds the pool (tsr_cpu_pool_hold: between the kernels of one plan
 * execution the next loop follows within microseconds); TSR_CPU_RUN_SPIN_US overrides it (0:
 * off). Measured here (2 vCPUs, 2026-12-02, load average ~1.7, `tessera run --repeat 50..300`
 * alternating TSR_CPU_RUN_SPIN_US=0 / 30 / 100 / 300, two or three rounds each): a held loop
 * costs 0.3 us instead of 10-55 us (futex wake-up; build/bin/tsr-pool-probe), and whole runs got
 * faster — MobileNetV3-S 2.26 -> 1.58 ms, ShuffleNetV2 4.4 -> 3.0 ms, MobileNetV2 6.6 -> 5.65
 * ms, ResNet-18 18.3 -> 17.4 ms at 100 us; 30 us caught fewer gaps (3.4-3.7 ms ShuffleNet), 300
 * us no better than 100. Under heavy load from other processes (load average 4-5) the same A/B
 * went the other way in two rounds of three (a spinning thread competes for the cores): set
 * TSR_CPU_RUN_SPIN_US=0 on an oversubscribed machine. ONNX Runtime spins by default too. */
#define TSR_POOL_HOLD_SPIN_NS 100000ull

struct tsr_cpu_worker {
    struct tsr_cpu_pool *pool;
    int id;
};

/* One participant's share of a loop: tasks [next, end) claimed in order, first by their owner,
 * then by participants that ran out of their own (a cache line each: owners claim without
 * sharing one with the others). */
struct tsr_pool_range {
    _Alignas(64) atomic_size_t next;
    size_t end;
};

struct tsr_cpu_pool {
    pthread_mutex_t submit;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_cond_t done;
    _Atomic uint64_t generation; /* written under mu; read without it only while spinning */
    atomic_int stop;             /* written under mu */
    atomic_int pending;          /* workers still in the current loop; decremented under mu */
    tsr_cpu_task_fn fn;          /* current loop, written under mu before generation++ */
    void *arg;
    struct tsr_pool_range *ranges; /* n_threads; the loop's tasks split in contiguous shares */
    int n_threads;
    int n_started;         /* workers actually created */
    uint64_t spin_ns;      /* TSR_POOL_SPIN_NS, or TSR_CPU_SPIN_US * 1000 from the environment */
    uint64_t hold_spin_ns; /* longest spin of one wait while a run holds the pool */
    atomic_int holds;      /* runs in progress that asked for spinning (tsr_cpu_pool_hold) */
    const struct tsr_topology *topo;
    int numa_node;                  /* NUMA node of the creating thread (-1: whole machine) */
    pthread_t *threads;             /* n_threads - 1 */
    struct tsr_cpu_worker *workers; /* n_threads - 1 */
};

/* Participant `id` runs its own share of the loop in order, then takes what is left of the
 * others' (from their fronts). Contiguous shares keep a participant on the same part of a tensor
 * in consecutive loops (kernel k + 1 reads, from this core's cache, what kernel k wrote there)
 * where one shared counter dealt tasks out in arrival order and spread every plane over both
 * cores' caches; stealing keeps the balance of dynamic claiming. */
static void tsr_pool_run_tasks(struct tsr_cpu_pool *pool, tsr_cpu_task_fn fn, void *arg, int id) {
    const int parts = pool->n_started + 1;
    for (int k = 0; k < parts; k++) {
        struct tsr_pool_range *r = &pool->ranges[(id + k) % parts];
        for (;;) {
            const size_t t = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed);
            if (t >= r->end) break;
            fn(arg, t, id);
        }
    }
}

/* One wait between probes of a spin: x86 PAUSE for the first probes (a loop that follows within
 * microseconds is caught at once), then sched_yield, so that on an oversubscribed machine (another
 * process on our cores) the spinning thread hands its time slice to whatever is runnable, e.g. the
 * pool thread whose task it is waiting for. */
static inline void tsr_pool_relax(unsigned probe) {
    if (probe > 2048) {
        sched_yield();
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spins until *flag != value (or stop is set when stop_too) or TSR_POOL_SPIN_NS passed. */
static void tsr_pool_spin_while_eq64(const _Atomic uint64_t *flag, uint64_t value,
                                     const atomic_int *stop, uint64_t spin_ns) {
    const uint64_t t0 = tsr_now_ns();
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(flag, memory_order_acquire) != value ||
            atomic_load_explicit(stop, memory_order_relaxed))
            return;
        tsr_pool_relax(i);
        if (i % 64 == 0 && tsr_now_ns() - t0 > spin_ns) return;
    }
}

/* How long a waiting thread spins now: hold_spin_ns while some run holds the pool and fewer
 * runs than threads are in progress (the next loop of a held run follows within microseconds);
 * with as many runs as threads every run keeps to its own thread (tsr_cpu_pool_parallel_for),
 * so a spinning worker would only take a core from one of them: spin_ns then, as outside runs. */
static uint64_t tsr_pool_spin_ns(const struct tsr_cpu_pool *pool) {
    const int holds = atomic_load_explicit(&pool->holds, memory_order_relaxed);
    return holds > 0 && holds < pool->n_threads ? pool->hold_spin_ns : pool->spin_ns;
}

static void *tsr_pool_worker_main(void *p) {
    struct tsr_cpu_worker *w = p;
    struct tsr_cpu_pool *pool = w->pool;
    /* Worker i on the i-th core of the NUMA node the pool was created from (issue 5: the pool
     * sits next to the memory and devices of the thread that uses it). */
    if (pool->topo) (void)tsr_topology_bind_thread_numa(pool->topo, pool->numa_node, w->id);
    uint64_t seen = 0;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        if (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop)) {
            pthread_mutex_unlock(&pool->mu);
            const uint64_t spin = tsr_pool_spin_ns(pool);
            if (spin) tsr_pool_spin_while_eq64(&pool->generation, seen, &pool->stop, spin);
            pthread_mutex_lock(&pool->mu);
            while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->wake, &pool->mu);
        }
        if (atomic_load(&pool->stop)) break;
        seen = atomic_load(&pool->generation);
        tsr_cpu_task_fn fn = pool->fn;
        void *arg = pool->arg;
        pthread_mutex_unlock(&pool->mu);
        tsr_pool_run_tasks(pool, fn, arg, w->id);
        pthread_mutex_lock(&pool->mu);
        if (atomic_fetch_sub(&pool->pending, 1) == 1) pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

static void tsr_pool_stop_workers(struct tsr_cpu_pool *pool) {
    pthread_mutex_lock(&pool->mu);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 0; i < pool->n_started; i++)
        pthread_join(pool->threads[i], NULL);
    pool->n_started = 0;
}

static void tsr_pool_free(struct tsr_cpu_pool *pool) {
    pthread_cond_destroy(&pool->done);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mu);
    pthread_mutex_destroy(&pool->submit);
    free(pool->threads);
    free(pool->workers);
    free(pool->ranges);
    free(pool);
}

tsr_status tsr_cpu_pool_create(tsr_context *ctx, const struct tsr_topology *topo, int n_threads,
                               struct tsr_cpu_pool **out) {
    if (!out || n_threads < 1)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "cpu thread pool: %d threads (need >= 1)",
                       n_threads);
    struct tsr_cpu_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return TSR_ERR(ctx, TSR_E_NOMEM, "cpu thread pool: out of memory");
    pool->n_threads = n_threads;
    pool->topo = topo;
    pool->spin_ns = TSR_POOL_SPIN_NS;
    pool->hold_spin_ns = TSR_POOL_HOLD_SPIN_NS;
    atomic_init(&pool->holds, 0);
    const char *hold = tsr_getenv("TSR_CPU_RUN_SPIN_US");
    if (hold && *hold) {
        char *end = NULL;
        const double us = strtod(hold, &end);
        if (end && *end == '\0' && us >= 0.0 && us <= 1e6)
            pool->hold_spin_ns = (uint64_t)(us * 1e3);
    }
    const char *spin = tsr_getenv("TSR_CPU_SPIN_US");
    if (spin && *spin) {
        char *end = NULL;
        const double us = strtod(spin, &end);
        if (end && *end == '\0' && us >= 0.0 && us <= 1e6) pool->spin_ns = (uint64_t)(us * 1e3);
    }
    pool->ranges = aligned_alloc(64, (size_t)n_threads * sizeof *pool->ranges);
    if (!pool->ranges) {
        free(pool);
        return TSR_ERR(ctx, TSR_E_NOMEM, "cpu thread pool: out of memory");
    }
    for (int i = 0; i < n_threads; i++) {
        atomic_init(&pool->ranges[i].next, 0);
        pool->ranges[i].end = 0;
    }
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->stop, 0);
    atomic_init(&pool->pending, 0);
    pthread_mutex_init(&pool->submit, NULL);
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
    const int n_workers = n_threads - 1;
    if (n_workers > 0) {
        pool->threads = calloc((size_t)n_workers, sizeof *pool->threads);
        pool->workers = calloc((size_t)n_workers, sizeof *pool->workers);
        if (!pool->threads || !pool->workers) {
            tsr_pool_free(pool);
            return TSR_ERR(ctx, TSR_E_NOMEM, "cpu thread pool: out of memory");
        }
    }
    pool->numa_node = topo ? tsr_topology_thread_numa_node(topo) : -1;
    for (int i = 0; i < n_workers; i++) {
        pool->workers[i].pool = pool;
        pool->workers[i].id = i + 1;
        int rc = pthread_create(&pool->threads[i], NULL, tsr_pool_worker_main, &pool->workers[i]);
        if (rc != 0) {
            tsr_pool_stop_workers(pool);
            tsr_pool_free(pool);
            return TSR_ERR(ctx, TSR_E_NOMEM,
                           "cpu thread pool: pthread_create failed for worker %d: %s", i + 1,
                           strerror(rc));
        }
        pool->n_started++;
    }
    *out = pool;
    return TSR_OK;
}

void tsr_cpu_pool_destroy(struct tsr_cpu_pool *pool) {
    if (!pool) return;
    tsr_pool_stop_workers(pool);
    tsr_pool_free(pool);
}

int tsr_cpu_pool_threads(const struct tsr_cpu_pool *pool) {
    return pool ? pool->n_threads : 1;
}

void tsr_cpu_pool_parallel_for(struct tsr_cpu_pool *pool, size_t n_tasks, tsr_cpu_task_fn fn,
                               void *arg) {
    if (n_tasks == 0) return;
    /* As many runs in progress as the pool has threads (concurrent tsr_plan_run calls, each
     * holding the pool): every run's loops stay on its own thread, one run per core, instead of
     * one run taking the workers while the others compete with them for the cores. */
    if (!pool || pool->n_started == 0 || n_tasks == 1 ||
        atomic_load_explicit(&pool->holds, memory_order_relaxed) >= pool->n_threads ||
        pthread_mutex_trylock(&pool->submit) != 0) {
        for (size_t t = 0; t < n_tasks; t++)
            fn(arg, t, 0);
        return;
    }
    pthread_mutex_lock(&pool->mu);
    pool->fn = fn;
    pool->arg = arg;
    const size_t parts = (size_t)pool->n_started + 1;
    for (size_t i = 0; i < parts; i++) {
        atomic_store_explicit(&pool->ranges[i].next, n_tasks * i / parts, memory_order_relaxed);
        pool->ranges[i].end = n_tasks * (i + 1) / parts;
    }
    atomic_store(&pool->pending, pool->n_started);
    atomic_fetch_add(&pool->generation, 1);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);

    tsr_pool_run_tasks(pool, fn, arg, 0);

    /* spin for the workers' last tasks, then sleep */
    const uint64_t spin = tsr_pool_spin_ns(pool);
    const uint64_t t0 = spin ? tsr_now_ns() : 0;
    for (unsigned i = 1; spin && atomic_load_explicit(&pool->pending, memory_order_acquire) > 0;
         i++) {
        tsr_pool_relax(i);
        if (i % 64 == 0 && tsr_now_ns() - t0 > spin) break;
    }
    pthread_mutex_lock(&pool->mu);
    while (atomic_load(&pool->pending) > 0)
        pthread_cond_wait(&pool->done, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
    pthread_mutex_unlock(&pool->submit);
}

void tsr_cpu_pool_hold(struct tsr_cpu_pool *pool) {
    if (pool) atomic_fetch_add_explicit(&pool->holds, 1, memory_order_relaxed);
}

void tsr_cpu_pool_release(struct tsr_cpu_pool *pool) {
    if (pool) atomic_fetch_sub_explicit(&pool->holds, 1, memory_order_relaxed);
}
