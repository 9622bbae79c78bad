/*
 * check_concurrency.c — the thread-safety contract of tessera.h, exercised from several threads
 * at once so that the ThreadSanitizer pass of tools/test.sh (build-tsan) can see it: one context
 * shared by threads, each compiling and running its own plan (CPU plans share the context's
 * thread pool, OpenCL plans the lazily created device; the profiler records from all of them),
 * importing ONNX files, and recording errors (per thread, and on the shared context), and a
 * device calibration on one thread while the others compile with device auto (the calibration
 * rewrites the device estimates that their device choice, placement and tsr_device_get_info
 * read).
 * Public API only. The suite passes as well without OpenCL (every thread then uses the CPU).
 */
#include "test_support.h"
#include "tessera/sched.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define N_THREADS 4
#define DIM       64 /* y = relu(a @ b + a), a and b DIM x DIM: a GEMM the pool splits */
#define ROUNDS    3

struct worker {
    tsr_context *ctx;
    int id;
    const char *device;
    int failures; /* checks that failed in the thread (Check's asserts are main-thread only) */
    char what[256];
};

static void fail_at(struct worker *w, const char *what, tsr_status st) {
    if (!w->failures)
        snprintf(w->what, sizeof w->what, "thread %d (%s): %s: %s (%s)", w->id, w->device, what,
                 tsr_status_name(st), tsr_last_error(NULL)->message);
    w->failures++;
}

static void *compile_and_run(void *p) {
    struct worker *w = p;
    const struct tsr_tensor_desc d = {.dtype = TSR_F32, .rank = 2, .dims = {DIM, DIM}};
    tsr_graph *g = NULL;
    tsr_value a, b, ab, s, y;
    tsr_status st;
    if ((st = tsr_graph_create(w->ctx, &g)) != TSR_OK ||
        (st = tsr_graph_input(g, "a", &d, &a)) != TSR_OK ||
        (st = tsr_graph_input(g, "b", &d, &b)) != TSR_OK ||
        (st = tsr_graph_op(g, TSR_OP_MATMUL, (tsr_value[]){a, b}, 2, NULL, NULL, &ab)) != TSR_OK ||
        (st = tsr_graph_op(g, TSR_OP_ADD, (tsr_value[]){ab, a}, 2, NULL, NULL, &s)) != TSR_OK ||
        (st = tsr_graph_op(g, TSR_OP_RELU, &s, 1, NULL, NULL, &y)) != TSR_OK ||
        (st = tsr_graph_output(g, "y", y)) != TSR_OK) {
        fail_at(w, "graph", st);
        tsr_graph_destroy(g);
        return NULL;
    }
    struct tsr_compile_options opts = tsr_compile_options_default();
    opts.device = w->device;
    opts.allow_fallback = 0;
    tsr_plan *plan = NULL;
    if ((st = tsr_compile(w->ctx, g, &opts, &plan)) != TSR_OK) {
        fail_at(w, "compile", st);
        tsr_graph_destroy(g);
        return NULL;
    }
    static _Thread_local float av[DIM * DIM], bv[DIM * DIM], yv[DIM * DIM], want[DIM * DIM];
    for (int r = 0; r < ROUNDS && !w->failures; r++) {
        ts_fill_uniform(av, DIM * DIM, (uint64_t)(100 * w->id + r + 1), -1.0f, 1.0f);
        ts_fill_uniform(bv, DIM * DIM, (uint64_t)(100 * w->id + r + 51), -1.0f, 1.0f);
        for (int i = 0; i < DIM; i++)
            for (int j = 0; j < DIM; j++) {
                double acc = av[i * DIM + j];
                for (int k = 0; k < DIM; k++)
                    acc += (double)av[i * DIM + k] * bv[k * DIM + j];
                want[i * DIM + j] = acc > 0 ? (float)acc : 0.0f;
            }
        struct tsr_tensor in[2] = {{d, av}, {d, bv}}, out[1] = {{d, yv}};
        if ((st = tsr_plan_run(plan, in, 2, out, 1)) != TSR_OK) {
            fail_at(w, "run", st);
            break;
        }
        double err = ts_max_abs_diff(yv, want, DIM * DIM);
        if (!(err <= 1e-4)) {
            snprintf(w->what, sizeof w->what, "thread %d (%s): round %d: max |error| %g", w->id,
                     w->device, r, err);
            w->failures++;
        }
        /* readers of shared state while the other threads run */
        struct tsr_pool_stats ps;
        struct tsr_device_info di;
        if (tsr_pool_get_stats(w->ctx, 0, &ps) != TSR_OK ||
            tsr_device_get_info(w->ctx, 0, &di) != TSR_OK || tsr_profiler_count(w->ctx) == 0)
            fail_at(w, "pool stats / device info / profiler count", TSR_E_INVALID_ARG);
    }
    tsr_plan_destroy(plan);
    tsr_graph_destroy(g);
    return NULL;
}

static void run_workers(tsr_context *ctx, void *(*fn)(void *), int use_opencl) {
    pthread_t th[N_THREADS];
    struct worker w[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        w[t] = (struct worker){.ctx = ctx, .id = t, .device = "cpu"};
        if (use_opencl && t % 2) w[t].device = "opencl";
        ck_assert_int_eq(pthread_create(&th[t], NULL, fn, &w[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < N_THREADS; t++)
        ck_assert_msg(w[t].failures == 0, "%s", w[t].what);
}

static int have_opencl(tsr_context *ctx) {
    int i;
    return tsr_device_find(ctx, "opencl:0", &i) == TSR_OK;
}

/* Plans compiled and run from four threads on one context, profiler on. */
START_TEST(test_plans_share_context) {
    struct tsr_context_options o = {.profile = 1};
    tsr_context *ctx = NULL;
    ck_assert_int_eq(tsr_context_create(&o, &ctx), TSR_OK);
    run_workers(ctx, compile_and_run, have_opencl(ctx));
    ck_assert_uint_gt(tsr_profiler_count(ctx), 0);
    tsr_context_destroy(ctx);
}
END_TEST

/* Errors recorded from four threads on one context: the thread's own record keeps its own
 * message; the context's record is always one whole message. Concurrent ONNX imports, good and
 * bad (the importer re-reads the builder's error to prefix the file name). */
static void *errors_and_imports(void *p) {
    struct worker *w = p;
    for (int i = 0; i < 20 && !w->failures; i++) {
        tsr_graph *g = NULL;
        tsr_status st =
            tsr_onnx_import_file(w->ctx, TSR_TEST_DATA_DIR "/add_3d_bcast.onnx", NULL, 0, &g);
        if (st != TSR_OK) fail_at(w, "import add_3d_bcast.onnx", st);
        tsr_graph_destroy(g);
        g = NULL;
        st = tsr_onnx_import_file(w->ctx, TSR_TEST_DATA_DIR "/shape_mismatch.onnx", NULL, 0, &g);
        const struct tsr_error_info *mine = tsr_last_error(NULL);
        if (st != TSR_E_SHAPE || mine->status != TSR_E_SHAPE ||
            !strstr(mine->message, "shape_mismatch.onnx") || !strstr(mine->message, "[4, 5]"))
            fail_at(w, "import shape_mismatch.onnx", st);
        const struct tsr_error_info *shared = tsr_last_error(w->ctx);
        if (shared->status == TSR_OK || strlen(shared->message) == 0)
            fail_at(w, "context error record", shared->status);

        char dev[32];
        snprintf(dev, sizeof dev, "nosuch%d", w->id);
        struct tsr_compile_options opts = tsr_compile_options_default();
        opts.device = dev;
        tsr_graph *q = NULL;
        tsr_value x;
        const struct tsr_tensor_desc d = {.dtype = TSR_F32, .rank = 1, .dims = {4}};
        tsr_plan *plan = NULL;
        if (tsr_graph_create(w->ctx, &q) != TSR_OK || tsr_graph_input(q, "x", &d, &x) != TSR_OK ||
            tsr_graph_output(q, "x", x) != TSR_OK)
            fail_at(w, "graph", TSR_E_INVALID_ARG);
        st = tsr_compile(w->ctx, q, &opts, &plan);
        if (st == TSR_OK || !strstr(tsr_last_error(NULL)->message, dev))
            fail_at(w, "compile for an unknown device", st);
        tsr_plan_destroy(plan);
        tsr_graph_destroy(q);
    }
    return NULL;
}

/* 1 while the calibrating thread of test_calibrate_while_compiling runs. */
static atomic_int g_calibrating;

/* Re-measures every device (force) into the private cache directory. */
static void *calibrate_all(void *p) {
    struct worker *w = p;
    for (int d = 0; d < tsr_device_count(w->ctx) && !w->failures; d++) {
        struct tsr_calibration_info c;
        tsr_status st = tsr_device_calibrate(w->ctx, d, 1, &c);
        if (st != TSR_OK) fail_at(w, "tsr_device_calibrate", st);
    }
    atomic_store(&g_calibrating, 0);
    return NULL;
}

/* compile_and_run, again and again until the calibration is done (at least once). */
static void *compile_while_calibrating(void *p) {
    struct worker *w = p;
    do
        compile_and_run(w);
    while (atomic_load(&g_calibrating) && !w->failures);
    return NULL;
}

/* One thread calibrates every device (in a private TSR_CACHE_DIR) while three compile with
 * device auto and placement auto and run, reading device info in between (profiler on). */
START_TEST(test_calibrate_while_compiling) {
    char dir[] = "/tmp/tsr_conc_cal_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(setenv("TSR_CACHE_DIR", dir, 1), 0);
    struct tsr_context_options o = {.profile = 1}; /* the workers check the profiler */
    tsr_context *ctx = NULL;
    ck_assert_int_eq(tsr_context_create(&o, &ctx), TSR_OK);
    pthread_t th[N_THREADS];
    struct worker w[N_THREADS];
    atomic_store(&g_calibrating, 1);
    for (int t = 0; t < N_THREADS; t++) {
        w[t] = (struct worker){.ctx = ctx, .id = t, .device = t ? "auto" : "calibrate"};
        ck_assert_int_eq(
            pthread_create(&th[t], NULL, t ? compile_while_calibrating : calibrate_all, &w[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < N_THREADS; t++)
        ck_assert_msg(w[t].failures == 0, "%s", w[t].what);
    /* the estimates now are the calibration's */
    struct tsr_calibration_info c;
    struct tsr_device_info d;
    ck_assert_int_eq(tsr_device_calibration(ctx, 0, &c), TSR_OK);
    ck_assert_int_eq(tsr_device_get_info(ctx, 0, &d), TSR_OK);
    ck_assert(d.est_gbps == c.bandwidth_gbps && d.est_launch_us == c.launch_us);
    tsr_context_destroy(ctx);
    ck_assert_int_eq(ts_remove_tree(dir), 0);
}
END_TEST

START_TEST(test_errors_share_context) {
    tsr_context *ctx = ts_context();
    run_workers(ctx, errors_and_imports, 0);
    tsr_context_destroy(ctx);
}
END_TEST

/* Contexts created and destroyed from four threads at once (topology, devices, pools). */
static void *context_lifecycle(void *p) {
    struct worker *w = p;
    for (int i = 0; i < 2 && !w->failures; i++) {
        tsr_context *ctx = NULL;
        tsr_status st = tsr_context_create(NULL, &ctx);
        if (st != TSR_OK) fail_at(w, "tsr_context_create", st);
        tsr_context_destroy(ctx);
    }
    return NULL;
}

START_TEST(test_contexts_in_parallel) {
    run_workers(NULL, context_lifecycle, 0);
}
END_TEST

/* ASan builds: here PoCL first initialises LLVM on a worker thread, and LLVM installs its own
 * alternate signal stack there; ASan, at that thread's exit, then fails to unmap what it takes for
 * its own ("AddressSanitizer: CHECK failed: ... unable to unmap"). ASan without an alternate
 * signal stack only loses reports of stack overflows. Read by the ASan runtime, unused otherwise.
 */
__attribute__((visibility("default"), used)) const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "use_sigaltstack=0";
}

static Suite *concurrency_suite(void) {
    Suite *s = suite_create("concurrency");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_plans_share_context);
    tcase_add_test(tc, test_errors_share_context);
    tcase_add_test(tc, test_contexts_in_parallel);
    tcase_add_test(tc, test_calibrate_while_compiling);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(concurrency_suite());
}
