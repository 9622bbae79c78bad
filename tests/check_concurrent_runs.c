/*
 * check_concurrent_runs.c — tsr_plan_run from several threads (tessera.h: a plan may be run
 * concurrently, as ONNX Runtime's Run on one session), compared bit for bit with single-threaded
 * runs of the same plan: one plan run from N threads (models/digits.onnx at a fixed batch), one
 * dynamic plan run from N threads at different batch sizes with a one-entry specialisation cache
 * (every run at another shape evicts the specialisation another thread may be running), N plans
 * compiled from one file on one context, contexts created / used / destroyed in a loop from
 * threads, an OpenCL plan that falls back to the CPU while other threads run it, a plan limited to
 * one CPU run state (runs wait for it), and the CPU thread pool inside the process's affinity mask
 * (`taskset`).
 *
 * Counts: TSR_CONC_THREADS (default 4) threads x TSR_CONC_RUNS (default 25) runs each, so that
 * the suite stays short under ThreadSanitizer (tools/test.sh); the issue-12 target, 8 x 1000:
 * `TSR_CONC_THREADS=8 TSR_CONC_RUNS=1000 build/bin/check_concurrent_runs`. Public API only.
 */
#define _GNU_SOURCE /* sched_setaffinity, CPU_COUNT */
#include "test_support.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <math.h>

#define DIGITS     TSR_MODELS_DIR "/digits.onnx"
#define FEATURES   64
#define CLASSES    10
#define N_SETS     4  /* distinct input sets per batch size */
#define MAX_BATCH  16 /* the fixed-batch plan's batch */
#define MAX_THREAD 64

static int env_int(const char *name, int dflt, int lo, int hi) {
    const char *v = getenv(name);
    int n = v ? atoi(v) : dflt;
    return n < lo ? lo : n > hi ? hi : n;
}

static int n_threads(void) {
    return env_int("TSR_CONC_THREADS", 4, 1, MAX_THREAD);
}
static int n_runs(void) {
    return env_int("TSR_CONC_RUNS", 25, 1, 1000000);
}

/* Input set s at batch b, and the reference outputs of one single-threaded run. */
static float g_x[N_SETS][MAX_BATCH * FEATURES];
static float g_ref[MAX_BATCH + 1][N_SETS][MAX_BATCH * CLASSES];

static void make_inputs(void) {
    for (int s = 0; s < N_SETS; s++)
        ts_fill_uniform(g_x[s], MAX_BATCH * FEATURES, (uint64_t)(s + 1), 0.0f, 16.0f);
}

static tsr_plan *compile_digits(tsr_context *ctx, int batch) {
    tsr_graph *g = NULL;
    struct tsr_input_shape sh = {.name = "x",
                                 .desc = {.dtype = TSR_F32, .rank = 2, .dims = {batch, FEATURES}}};
    ck_assert_int_eq(tsr_onnx_import_file(ctx, DIGITS, batch > 0 ? &sh : NULL, batch > 0, &g),
                     TSR_OK);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "cpu";
    tsr_plan *p = NULL;
    ck_assert_int_eq(tsr_compile(ctx, g, &o, &p), TSR_OK);
    tsr_graph_destroy(g);
    return p;
}

static tsr_status run_digits(tsr_plan *p, int batch, int set, float *y) {
    struct tsr_tensor in = {{.dtype = TSR_F32, .rank = 2, .dims = {batch, FEATURES}}, g_x[set]};
    struct tsr_tensor out = {{.dtype = TSR_F32, .rank = 2, .dims = {batch, CLASSES}}, y};
    return tsr_plan_run(p, &in, 1, &out, 1);
}

struct worker {
    tsr_context *ctx;
    tsr_plan *plan; /* shared plan, or NULL: the worker compiles its own */
    int id, runs, dynamic;
    double tol; /* 0: outputs bit for bit; else the largest |difference| allowed (OpenCL) */
    int failures;
    char what[256];
};

static void wfail(struct worker *w, const char *fmt, int a, int b, tsr_status st) {
    if (!w->failures++) {
        char m[128];
        snprintf(m, sizeof m, fmt, a, b);
        snprintf(w->what, sizeof w->what, "thread %d: %s: %s (%s)", w->id, m, tsr_status_name(st),
                 tsr_last_error(NULL)->message);
    }
}

/* Batch of run r of worker w: MAX_BATCH for a fixed plan, 1, 2, 3 or 5 for the dynamic one. */
static int batch_of(const struct worker *w, int r) {
    static const int b[4] = {1, 2, 3, 5};
    return w->dynamic ? b[(w->id + r) % 4] : MAX_BATCH;
}

static double max_abs(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

static void *worker_main(void *p) {
    struct worker *w = p;
    tsr_plan *plan = w->plan ? w->plan : compile_digits(w->ctx, MAX_BATCH);
    float y[MAX_BATCH * CLASSES];
    for (int r = 0; r < w->runs && !w->failures; r++) {
        const int b = batch_of(w, r), s = (w->id + 3 * r) % N_SETS;
        memset(y, 0xff, sizeof y);
        tsr_status st = run_digits(plan, b, s, y);
        if (st != TSR_OK)
            wfail(w, "run %d (batch %d)", r, b, st);
        else if (w->tol == 0 ? memcmp(y, g_ref[b][s], sizeof(float) * (size_t)(b * CLASSES)) != 0
                             : !(ts_max_abs_diff(y, g_ref[b][s], (size_t)(b * CLASSES)) <=
                                 w->tol * (1.0 + max_abs(g_ref[b][s], (size_t)(b * CLASSES)))))
            wfail(w, "run %d (batch %d): outputs differ from the single-threaded run", r, b, st);
    }
    if (!w->plan) tsr_plan_destroy(plan);
    return NULL;
}

static void run_threads_tol(tsr_context *ctx, tsr_plan *shared, int dynamic, double tol) {
    const int nt = n_threads();
    pthread_t th[MAX_THREAD];
    struct worker w[MAX_THREAD];
    for (int t = 0; t < nt; t++) {
        w[t] = (struct worker){
            .ctx = ctx, .plan = shared, .id = t, .runs = n_runs(), .dynamic = dynamic, .tol = tol};
        ck_assert_int_eq(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
    }
    for (int t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < nt; t++)
        ck_assert_msg(w[t].failures == 0, "%s", w[t].what);
}

static void run_threads(tsr_context *ctx, tsr_plan *shared, int dynamic) {
    run_threads_tol(ctx, shared, dynamic, 0);
}

/* References: every input set through plan p, single-threaded, at the batches given. */
static void references(tsr_plan *p, const int *batches, int n) {
    for (int i = 0; i < n; i++)
        for (int s = 0; s < N_SETS; s++)
            ck_assert_int_eq(run_digits(p, batches[i], s, g_ref[batches[i]][s]), TSR_OK);
}

START_TEST(test_one_plan_many_threads) {
    make_inputs();
    tsr_context *ctx = ts_context();
    tsr_plan *p = compile_digits(ctx, MAX_BATCH);
    references(p, (int[]){MAX_BATCH}, 1);
    run_threads(ctx, p, 0);
    tsr_plan_destroy(p);
    tsr_context_destroy(ctx);
}
END_TEST

/* At most one run state (TSR_CPU_RUN_STATES=1): concurrent runs wait for it, same outputs. */
START_TEST(test_run_states_bounded) {
    make_inputs();
    ck_assert_int_eq(setenv("TSR_CPU_RUN_STATES", "1", 1), 0);
    tsr_context *ctx = ts_context();
    tsr_plan *p = compile_digits(ctx, MAX_BATCH);
    references(p, (int[]){MAX_BATCH}, 1);
    run_threads(ctx, p, 0);
    tsr_plan_destroy(p);
    tsr_context_destroy(ctx);
    unsetenv("TSR_CPU_RUN_STATES");
}
END_TEST

/* A plan with a symbolic batch: runs at four batch sizes from every thread, one specialisation
 * cached at a time (TSR_PLAN_CACHE=1), so re-plans, cache hits and evictions of a
 * specialisation still being run by another thread all happen concurrently. */
START_TEST(test_one_dynamic_plan_many_threads) {
    make_inputs();
    ck_assert_int_eq(setenv("TSR_PLAN_CACHE", "1", 1), 0);
    tsr_context *ctx = ts_context();
    tsr_plan *p = compile_digits(ctx, 0);
    references(p, (int[]){1, 2, 3, 5}, 4);
    run_threads(ctx, p, 1);
    tsr_plan_destroy(p);
    tsr_context_destroy(ctx);
    unsetenv("TSR_PLAN_CACHE");
}
END_TEST

/* N plans compiled from one file on one context, each run by its own thread. */
START_TEST(test_plans_one_context) {
    make_inputs();
    tsr_context *ctx = ts_context();
    tsr_plan *p = compile_digits(ctx, MAX_BATCH);
    references(p, (int[]){MAX_BATCH}, 1);
    tsr_plan_destroy(p);
    run_threads(ctx, NULL, 0);
    tsr_context_destroy(ctx);
}
END_TEST

/* An OpenCL plan run from N threads whose device fails mid-way (TSR_FAULT=cl_enqueue:40, read
 * once per process: this test's forked process): the plan falls back to the CPU once while
 * other threads run it; every run's outputs match the CPU's. Skipped without OpenCL. */
START_TEST(test_fallback_while_running) {
    make_inputs();
    ck_assert_int_eq(setenv("TSR_FAULT", "cl_enqueue:40", 1), 0);
    tsr_context *ctx = ts_context();
    int cl = -1;
    if (tsr_device_find(ctx, "opencl:0", &cl) != TSR_OK) {
        tsr_context_destroy(ctx);
        unsetenv("TSR_FAULT");
        return;
    }
    tsr_plan *cpu = compile_digits(ctx, MAX_BATCH);
    references(cpu, (int[]){MAX_BATCH}, 1);
    tsr_plan_destroy(cpu);
    tsr_graph *g = NULL;
    struct tsr_input_shape sh = {
        .name = "x", .desc = {.dtype = TSR_F32, .rank = 2, .dims = {MAX_BATCH, FEATURES}}};
    ck_assert_int_eq(tsr_onnx_import_file(ctx, DIGITS, &sh, 1, &g), TSR_OK);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "opencl:0";
    tsr_plan *p = NULL;
    ck_assert_int_eq(tsr_compile(ctx, g, &o, &p), TSR_OK);
    tsr_graph_destroy(g);
    run_threads_tol(ctx, p, 0, 1e-3);
    struct tsr_device_info d;
    ck_assert_int_eq(tsr_plan_device(p, &d), TSR_OK);
    ck_assert_str_eq(d.device_type, "cpu"); /* fell back, once */
    tsr_plan_destroy(p);
    tsr_context_destroy(ctx);
    unsetenv("TSR_FAULT");
}
END_TEST

/* Contexts created, used and destroyed in a loop from every thread. */
static void *context_loop(void *p) {
    struct worker *w = p;
    for (int i = 0; i < w->runs && !w->failures; i++) {
        tsr_context *ctx = NULL;
        struct tsr_context_options o = {.disable_opencl = 1};
        tsr_status st = tsr_context_create(&o, &ctx);
        if (st != TSR_OK) {
            wfail(w, "context %d%.0d", i, 0, st);
            break;
        }
        w->ctx = ctx;
        w->plan = NULL;
        const int runs = w->runs;
        w->runs = 2;
        worker_main(w);
        w->runs = runs;
        tsr_context_destroy(ctx);
    }
    return NULL;
}

START_TEST(test_contexts_in_a_loop) {
    make_inputs();
    tsr_context *ctx = ts_context();
    tsr_plan *p = compile_digits(ctx, MAX_BATCH);
    references(p, (int[]){MAX_BATCH}, 1);
    tsr_plan_destroy(p);
    tsr_context_destroy(ctx);
    const int nt = n_threads() < 4 ? n_threads() : 4;
    pthread_t th[4];
    struct worker w[4];
    for (int t = 0; t < nt; t++) {
        w[t] = (struct worker){.id = t, .runs = n_runs() / 10 + 1};
        ck_assert_int_eq(pthread_create(&th[t], NULL, context_loop, &w[t]), 0);
    }
    for (int t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < nt; t++)
        ck_assert_msg(w[t].failures == 0, "%s", w[t].what);
}
END_TEST

/* Thread ids of this process (at most n) into ids; returns how many. */
static int list_tasks(int *ids, int n) {
    DIR *dir = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(dir);
    int k = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL && k < n;)
        if (e->d_name[0] != '.') ids[k++] = atoi(e->d_name);
    closedir(dir);
    return k;
}

/* `taskset -c N`: the pool is sized from the affinity mask and its workers stay inside it. */
START_TEST(test_pool_respects_affinity) {
    cpu_set_t all, one;
    ck_assert_int_eq(sched_getaffinity(0, sizeof all, &all), 0);
    int cpu = -1; /* the last allowed CPU: not the one the pool's first worker would take */
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all)) cpu = c;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
    /* default size: one thread per core in the mask */
    struct tsr_context_options o = {.disable_opencl = 1};
    tsr_context *ctx = NULL;
    ck_assert_int_eq(tsr_context_create(&o, &ctx), TSR_OK);
    struct tsr_device_info d;
    int host = -1;
    ck_assert_int_eq(tsr_device_find(ctx, "cpu", &host), TSR_OK);
    ck_assert_int_eq(tsr_device_get_info(ctx, host, &d), TSR_OK);
    ck_assert_int_eq(d.compute_units, 1);
    tsr_context_destroy(ctx);
    /* an explicit size: the workers are pinned inside the mask, never to another CPU (threads
     * that existed before, e.g. a sanitizer's, are not the pool's) */
    int before[256], n_before = list_tasks(before, 256);
    o.cpu_threads = 3;
    ck_assert_int_eq(tsr_context_create(&o, &ctx), TSR_OK);
    int now[256], n_now = list_tasks(now, 256), seen = 0;
    for (int i = 0; i < n_now; i++) {
        int old = 0;
        for (int j = 0; j < n_before; j++)
            old |= now[i] == before[j];
        if (old) continue;
        cpu_set_t s;
        ck_assert_int_eq(sched_getaffinity(now[i], sizeof s, &s), 0);
        ck_assert_msg(CPU_COUNT(&s) == 1 && CPU_ISSET(cpu, &s),
                      "thread %d may run on %d CPUs (cpu %d allowed: %d)", now[i], CPU_COUNT(&s),
                      cpu, CPU_ISSET(cpu, &s));
        seen++;
    }
    ck_assert_int_ge(seen, 2); /* the two workers */
    tsr_context_destroy(ctx);
    ck_assert_int_eq(sched_setaffinity(0, sizeof all, &all), 0);
}
END_TEST

static Suite *concurrent_runs_suite(void) {
    Suite *s = suite_create("concurrent_runs");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_one_plan_many_threads);
    tcase_add_test(tc, test_run_states_bounded);
    tcase_add_test(tc, test_one_dynamic_plan_many_threads);
    tcase_add_test(tc, test_plans_one_context);
    tcase_add_test(tc, test_fallback_while_running);
    tcase_add_test(tc, test_contexts_in_a_loop);
    tcase_add_test(tc, test_pool_respects_affinity);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(concurrent_runs_suite());
}
