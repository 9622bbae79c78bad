/*
 * pool_overhead.c — build/bin/tsr-pool-probe: the CPU thread pool's cost per parallel loop
 * (issue 10: "measure the pool's per-kernel overhead and keep it under 2 us").
 *
 * Usage: tsr-pool-probe [loops (default 20000)] [rounds (default 5)]
 * For each wait policy (TSR_CPU_SPIN_US unset = the pool's default, then 0, 20, 100 us spins)
 * it creates a pool with one thread per core, then times `loops` calls of
 * tsr_cpu_pool_parallel_for with one empty task per thread, back to back (the pattern of a run:
 * kernel after kernel), and with a 20 us busy gap of serial work between loops (a small serial
 * kernel in between); each without and with tsr_cpu_pool_hold (what a plan execution does: the
 * threads spin between loops for up to TSR_CPU_RUN_SPIN_US, default 200 us). Prints the median over
 * `rounds` of the mean ns per loop. Not a test: a probe to run on a quiet machine; the numbers
 * depend on the scheduler and on what else runs.
 */
#include "backends/cpu/threadpool.h"
#include "runtime/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void empty_task(void *arg, size_t task, int thread_id) {
    (void)arg;
    (void)task;
    (void)thread_id;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void busy_ns(uint64_t ns) {
    const uint64_t t0 = tsr_now_ns();
    while (tsr_now_ns() - t0 < ns) {
    }
}

static double measure(struct tsr_cpu_pool *pool, int threads, long loops, uint64_t gap_ns,
                      int hold) {
    if (hold) tsr_cpu_pool_hold(pool);
    const uint64_t t0 = tsr_now_ns();
    for (long i = 0; i < loops; i++) {
        tsr_cpu_pool_parallel_for(pool, (size_t)threads, empty_task, NULL);
        if (gap_ns) busy_ns(gap_ns);
    }
    const double ns = (double)(tsr_now_ns() - t0) / (double)loops - (double)gap_ns;
    if (hold) tsr_cpu_pool_release(pool);
    return ns;
}

int main(int argc, char **argv) {
    const long loops = argc > 1 ? atol(argv[1]) : 20000;
    const int rounds = argc > 2 ? atoi(argv[2]) : 5;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    const int threads = n > 1 ? (int)n : 2;
    const char *policies[] = {NULL, "0", "20", "100"};
    printf("pool of %d threads, %ld loops x %d rounds, ns per parallel loop (median of rounds)\n",
           threads, loops, rounds);
    printf("%-22s %14s %20s %16s %20s\n", "TSR_CPU_SPIN_US", "back-to-back", "after 20 us serial",
           "held (a run)", "held, 20 us serial");
    for (size_t p = 0; p < sizeof policies / sizeof policies[0]; p++) {
        if (policies[p])
            setenv("TSR_CPU_SPIN_US", policies[p], 1);
        else
            unsetenv("TSR_CPU_SPIN_US");
        struct tsr_cpu_pool *pool = NULL;
        if (tsr_cpu_pool_create(NULL, NULL, threads, &pool) != TSR_OK) return 1;
        double a[64], b[64], h[64], hg[64];
        const int r = rounds > 64 ? 64 : rounds;
        measure(pool, threads, loops / 10 + 1, 0, 0); /* warm-up */
        for (int i = 0; i < r; i++) {
            a[i] = measure(pool, threads, loops, 0, 0);
            b[i] = measure(pool, threads, loops / 10 + 1, 20000, 0);
            h[i] = measure(pool, threads, loops, 0, 1);
            hg[i] = measure(pool, threads, loops / 10 + 1, 20000, 1);
        }
        qsort(a, (size_t)r, sizeof *a, cmp_double);
        qsort(b, (size_t)r, sizeof *b, cmp_double);
        qsort(h, (size_t)r, sizeof *h, cmp_double);
        qsort(hg, (size_t)r, sizeof *hg, cmp_double);
        printf("%-22s %14.0f %20.0f %16.0f %20.0f\n", policies[p] ? policies[p] : "(default)",
               a[r / 2], b[r / 2], h[r / 2], hg[r / 2]);
        tsr_cpu_pool_destroy(pool);
    }
    return 0;
}
