/*
 * check_batcher.c — the dynamic batcher (<tessera/batcher.h>, issue 14): many threads submitting
 * random requests of 1..3 rows of models/digits.onnx (its input is [batch, 64], batch symbolic)
 * with random deadlines, every request answered exactly once and every output equal (within
 * 1e-6 relative) to an unbatched run of the request alone on a plain plan; queue-full rejection;
 * timeouts; a failing batch (TSR_BATCHER_FAULT injection) reaching every request of it, and
 * retried on the other device when there are two; cpu + opencl:0 at once when OpenCL is present
 * (cpu alone when it is hidden); cancellation on destroy; bad inputs and a model without a batch
 * dimension refused with a status; a [batch, sequence, 16] transformer block batched at a given
 * sequence length (tsr_batcher_options.dims) against PyTorch.
 *
 * Sizes: TSR_BATCHER_THREADS (default 8) threads x TSR_BATCHER_REQS (default 150) requests each,
 * so that the suite stays short under the sanitizers.
 */
#include "test_support.h"
#include "tessera/batcher.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIGITS     TSR_MODELS_DIR "/digits.onnx"
#define FEATURES   64
#define CLASSES    10
#define MAX_ROWS   3
#define MAX_THREAD 32

static int env_int(const char *name, int dflt, int lo, int hi) {
    const char *v = getenv(name);
    int n = v ? atoi(v) : dflt;
    return n < lo ? lo : n > hi ? hi : n;
}

static tsr_graph *import_digits(tsr_context *ctx) {
    tsr_graph *g = NULL;
    ck_assert_int_eq(tsr_onnx_import_file(ctx, DIGITS, NULL, 0, &g), TSR_OK);
    return g;
}

/* One request of the many-thread test: its input rows, its reference, what came back. */
struct req {
    float x[MAX_ROWS * FEATURES];
    float ref[MAX_ROWS * CLASSES];
    float y[MAX_ROWS * CLASSES];
    int rows;
    int64_t deadline_ns;
    atomic_int calls;
    tsr_status status;
    int got_outputs; /* outputs taken in the callback */
    tsr_request *handle;
};

struct load {
    tsr_batcher *b;
    struct req *reqs;
    int n, seed;
    int with_deadlines;
    atomic_int *rejected;
};

static void on_done(void *user, tsr_request *r) {
    struct req *q = user;
    atomic_fetch_add(&q->calls, 1);
    q->status = tsr_request_status(r);
    if (q->status == TSR_OK) {
        struct tsr_tensor out;
        if (tsr_request_take_outputs(r, &out, 1) == TSR_OK) {
            if (out.desc.rank == 2 && out.desc.dims[0] == q->rows && out.desc.dims[1] == CLASSES)
                memcpy(q->y, out.data, sizeof(float) * (size_t)(q->rows * CLASSES));
            q->got_outputs = 1;
            tsr_tensor_free(&out);
        }
    }
}

static uint64_t rnd(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *load_main(void *arg) {
    struct load *l = arg;
    uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(l->seed + 1);
    for (int i = 0; i < l->n; i++) {
        struct req *q = &l->reqs[i];
        struct tsr_tensor in = {{.dtype = TSR_F32, .rank = 2, .dims = {q->rows, FEATURES}}, q->x};
        q->deadline_ns = 0;
        if (l->with_deadlines && rnd(&s) % 4 == 0) /* 0 .. 3 ms from now */
            q->deadline_ns = tsr_batcher_now_ns() + (int64_t)(rnd(&s) % 3000000);
        int with_handle = (int)(rnd(&s) % 2);
        tsr_status st;
        do {
            st = tsr_batcher_submit(l->b, &in, 1, q->deadline_ns, on_done, q,
                                    with_handle ? &q->handle : NULL);
            if (st == TSR_E_QUEUE_FULL) atomic_fetch_add(l->rejected, 1);
        } while (st == TSR_E_QUEUE_FULL);
        if (st != TSR_OK) q->status = st;
        if (rnd(&s) % 8 == 0 && q->handle) { /* wait for some at once */
            tsr_status ws = tsr_request_wait(q->handle);
            if (ws != q->status) q->status = -100;
        }
    }
    return NULL;
}

/* |a - b| within rel of the row's largest |reference| (at least 1): the GEMM kernels sum in
 * another order at another batch size. */
static int close_rel(float a, float b, double scale, double rel) {
    return fabs((double)a - (double)b) <= rel * fmax(1.0, scale);
}

/* n_threads x n_reqs random requests through a batcher on `devices`; checks every request. */
static void run_load(const char *devices, int max_batch, int with_deadlines, double rel) {
    int nt = env_int("TSR_BATCHER_THREADS", 8, 1, MAX_THREAD);
    int nr = env_int("TSR_BATCHER_REQS", 150, 1, 100000);
    tsr_context *ctx = ts_context();
    tsr_graph *g = import_digits(ctx);

    /* The reference: each request run alone on a plain CPU plan. */
    struct tsr_compile_options co = tsr_compile_options_default();
    co.device = "cpu";
    tsr_plan *ref = NULL;
    ck_assert_int_eq(tsr_compile(ctx, g, &co, &ref), TSR_OK);
    struct req *reqs = calloc((size_t)(nt * nr), sizeof *reqs);
    ck_assert_ptr_nonnull(reqs);
    uint64_t s = 12345;
    for (int i = 0; i < nt * nr; i++) {
        struct req *q = &reqs[i];
        int most = max_batch < MAX_ROWS ? max_batch : MAX_ROWS;
        q->rows = rnd(&s) % 5 == 0 ? 1 + (int)(rnd(&s) % (uint64_t)most) : 1;
        ts_fill_uniform(q->x, (size_t)(q->rows * FEATURES), (uint64_t)i + 1, 0.0f, 16.0f);
        struct tsr_tensor in = {{.dtype = TSR_F32, .rank = 2, .dims = {q->rows, FEATURES}}, q->x};
        struct tsr_tensor out = {{.dtype = TSR_F32, .rank = 2, .dims = {q->rows, CLASSES}}, q->ref};
        ck_assert_int_eq(tsr_plan_run(ref, &in, 1, &out, 1), TSR_OK);
        atomic_init(&q->calls, 0);
        q->status = -99;
    }

    struct tsr_batcher_options o = tsr_batcher_options_default();
    o.devices = devices;
    o.max_batch = max_batch;
    o.max_wait_us = 300;
    o.max_queue = 64;
    tsr_batcher *b = NULL;
    ck_assert_msg(tsr_batcher_create(ctx, g, &o, &b) == TSR_OK, "create: %s",
                  tsr_last_error(ctx)->message);
    atomic_int rejected;
    atomic_init(&rejected, 0);
    pthread_t th[MAX_THREAD];
    struct load ld[MAX_THREAD];
    for (int t = 0; t < nt; t++) {
        ld[t] = (struct load){b, reqs + t * nr, nr, t, with_deadlines, &rejected};
        ck_assert_int_eq(pthread_create(&th[t], NULL, load_main, &ld[t]), 0);
    }
    for (int t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
    tsr_batcher_destroy(b, 1);

    int ok = 0, timeouts = 0;
    for (int i = 0; i < nt * nr; i++) {
        struct req *q = &reqs[i];
        ck_assert_msg(atomic_load(&q->calls) == 1, "request %d called back %d times", i,
                      atomic_load(&q->calls));
        if (q->handle) {
            ck_assert_int_eq(tsr_request_done(q->handle), 1);
            ck_assert_int_eq(tsr_request_wait(q->handle), q->status);
            tsr_request_free(q->handle);
        }
        if (q->status == TSR_E_TIMEOUT) {
            ck_assert_msg(q->deadline_ns > 0, "request %d timed out without a deadline", i);
            timeouts++;
            continue;
        }
        ck_assert_msg(q->status == TSR_OK, "request %d: %s", i, tsr_status_name(q->status));
        ck_assert(q->got_outputs);
        for (int k = 0; k < q->rows * CLASSES; k++) {
            double scale = 0.0;
            for (int c = k / CLASSES * CLASSES; c < (k / CLASSES + 1) * CLASSES; c++)
                scale = fmax(scale, fabs((double)q->ref[c]));
            ck_assert_msg(close_rel(q->y[k], q->ref[k], scale, rel), "request %d [%d]: %g vs %g", i,
                          k, (double)q->y[k], (double)q->ref[k]);
        }
        ok++;
    }
    (void)ok;
    free(reqs);
    tsr_plan_destroy(ref);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
    (void)timeouts;
}

START_TEST(test_many_threads_cpu) {
    run_load("cpu", 16, 1, 1e-6);
}
END_TEST

START_TEST(test_unbatched_cpu) {
    run_load("cpu", 1, 0, 1e-6);
}
END_TEST

/* cpu and opencl:0 at once when OpenCL is present (cpu alone when it is hidden). */
START_TEST(test_two_devices) {
    tsr_context *ctx = ts_context();
    int cl = ts_have_opencl(ctx);
    tsr_context_destroy(ctx);
    /* The OpenCL kernels round differently from the CPU's: 1e-5 relative there. */
    run_load(cl ? "cpu,opencl:0" : "cpu", 16, 1, cl ? 1e-5 : 1e-6);
}
END_TEST

/* Statistics agree with what the requests saw. */
START_TEST(test_stats) {
    tsr_context *ctx = ts_context();
    tsr_graph *g = import_digits(ctx);
    struct tsr_batcher_options o = tsr_batcher_options_default();
    o.max_batch = 8;
    o.max_wait_us = 2000;
    tsr_batcher *b = NULL;
    ck_assert_int_eq(tsr_batcher_create(ctx, g, &o, &b), TSR_OK);
    ck_assert_int_eq(tsr_batcher_input_count(b), 1);
    ck_assert_int_eq(tsr_batcher_output_count(b), 1);
    const char *name;
    struct tsr_tensor_desc d;
    ck_assert_int_eq(tsr_batcher_output_desc(b, 0, &name, &d), TSR_OK);
    ck_assert_str_eq(name, "logits");
    ck_assert_int_eq(d.dims[1], CLASSES);
    float x[8][FEATURES];
    tsr_request *r[8];
    ts_fill_uniform(&x[0][0], sizeof x / sizeof(float), 7, 0.0f, 16.0f);
    for (int i = 0; i < 8; i++) {
        struct tsr_tensor in = {{.dtype = TSR_F32, .rank = 2, .dims = {1, FEATURES}}, x[i]};
        ck_assert_int_eq(tsr_batcher_submit(b, &in, 1, 0, NULL, NULL, &r[i]), TSR_OK);
    }
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(tsr_request_wait(r[i]), TSR_OK);
        struct tsr_tensor out;
        ck_assert_int_eq(tsr_request_output(r[i], 0, &out), TSR_OK);
        ck_assert_int_eq(out.desc.dims[0], 1);
        ck_assert_int_eq(tsr_request_output(r[i], 1, &out), TSR_E_INVALID_ARG);
        tsr_request_free(r[i]);
    }
    struct tsr_batcher_stats st;
    ck_assert_int_eq(tsr_batcher_get_stats(b, &st), TSR_OK);
    ck_assert_int_eq(st.submitted, 8);
    ck_assert_int_eq(st.completed, 8);
    ck_assert_int_eq(st.queue_depth, 0);
    ck_assert_int_eq(st.in_flight, 0);
    int64_t rows = 0, batches = 0;
    for (int k = 1; k < TSR_BATCHER_HIST; k++) {
        rows += k * st.batch_hist[k];
        batches += st.batch_hist[k];
    }
    ck_assert_int_eq(rows, 8);
    ck_assert_int_eq(batches, st.batches);
    ck_assert_int_eq(st.n_devices, 1);
    ck_assert_str_eq(st.devices[0].id, "cpu");
    ck_assert_int_eq(st.devices[0].requests, 8);
    ck_assert(st.latency_p50_ns > 0 && st.latency_p50_ns <= st.latency_p95_ns &&
              st.latency_p95_ns <= st.latency_p99_ns);
    ck_assert(st.queue_wait_p99_ns <= st.latency_p99_ns);
    tsr_batcher_destroy(b, 1);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

/* Beyond max_queue: TSR_E_QUEUE_FULL at once; destroy without draining cancels the queued. */
START_TEST(test_queue_full_and_cancel) {
    tsr_context *ctx = ts_context();
    tsr_graph *g = import_digits(ctx);
    struct tsr_batcher_options o = tsr_batcher_options_default();
    o.max_batch = 64;
    o.max_wait_us = 10000000; /* nothing dispatches before destroy (64 rows never queue) */
    o.max_queue = 4;
    tsr_batcher *b = NULL;
    ck_assert_int_eq(tsr_batcher_create(ctx, g, &o, &b), TSR_OK);
    float x[FEATURES] = {0};
    struct tsr_tensor in = {{.dtype = TSR_F32, .rank = 2, .dims = {1, FEATURES}}, x};
    tsr_request *r[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(tsr_batcher_submit(b, &in, 1, 0, NULL, NULL, &r[i]), TSR_OK);
    tsr_request *extra = NULL;
    ck_assert_int_eq(tsr_batcher_submit(b, &in, 1, 0, NULL, NULL, &extra), TSR_E_QUEUE_FULL);
    ck_assert_ptr_null(extra);
    ck_assert_int_eq(tsr_request_done(r[0]), 0);
    struct tsr_batcher_stats st;
    ck_assert_int_eq(tsr_batcher_get_stats(b, &st), TSR_OK);
    ck_assert_int_eq(st.rejected, 1);
    ck_assert_int_eq(st.queue_depth, 4);
    tsr_batcher_destroy(b, 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(tsr_request_wait(r[i]), TSR_E_CANCELLED);
        struct tsr_tensor out;
        ck_assert_int_eq(tsr_request_output(r[i], 0, &out), TSR_E_INVALID_ARG);
        tsr_request_free(r[i]);
    }
    /* The same, drained: they run. */
    ck_assert_int_eq(tsr_batcher_create(ctx, g, &o, &b), TSR_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(tsr_batcher_submit(b, &in, 1, 0, NULL, NULL, &r[i]), TSR_OK);
    tsr_batcher_destroy(b, 1);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(tsr_request_wait(r[i]), TSR_OK);
        tsr_request_free(r[i]);
    }
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

/* A deadline that passes while the request waits for its batch: TSR_E_TIMEOUT, not run. */
START_TEST(test_timeout) {
    tsr_context *ctx = ts_context();
    tsr_graph *g = import_digits(ctx);
    struct tsr_batcher_options o = tsr_batcher_options_default();
    o.max_batch = 64;
    o.max_wait_us = 30000; /* 30 ms: the deadlines below pass first */
    tsr_batcher *b = NULL;
    ck_assert_int_eq(tsr_batcher_create(ctx, g, &o, &b), TSR_OK);
    float x[FEATURES] = {0};
    struct tsr_tensor in = {{.dtype = TSR_F32, .rank = 2, .dims = {1, FEATURES}}, x};
    tsr_request *past, *soon, *none;
    int64_t now = tsr_batcher_now_ns();
    ck_assert_int_eq(tsr_batcher_submit(b, &in, 1, now - 1, NULL, NULL, &past), TSR_OK);
    ck_assert_int_eq(tsr_batcher_submit(b, &in, 1, now + 1000000, NULL, NULL, &soon), TSR_OK);
    ck_assert_int_eq(tsr_batcher_submit(b, &in, 1, 0, NULL, NULL, &none), TSR_OK);
    ck_assert_int_eq(tsr_request_wait(past), TSR_E_TIMEOUT);
    ck_assert_int_eq(tsr_request_wait(soon), TSR_E_TIMEOUT);
    ck_assert_int_eq(tsr_request_wait(none), TSR_OK);
    struct tsr_batcher_stats st;
    ck_assert_int_eq(tsr_batcher_get_stats(b, &st), TSR_OK);
    ck_assert_int_eq(st.timed_out, 2);
    ck_assert_int_eq(st.completed, 1);
    ck_assert_int_eq(st.batch_hist[1], 1); /* only the live request ran */
    tsr_request_free(past);
    tsr_request_free(soon);
    tsr_request_free(none);
    tsr_batcher_destroy(b, 1);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

struct fail_load {
    tsr_batcher *b;
    int n;
    atomic_int *calls;
    atomic_int *bad;
};

static void on_fail_done(void *user, tsr_request *r) {
    struct fail_load *l = user;
    atomic_fetch_add(l->calls, 1);
    if (tsr_request_status(r) != TSR_E_DEVICE) atomic_fetch_add(l->bad, 1);
}

static void *fail_main(void *arg) {
    struct fail_load *l = arg;
    static float x[FEATURES];
    struct tsr_tensor in = {{.dtype = TSR_F32, .rank = 2, .dims = {1, FEATURES}}, x};
    for (int i = 0; i < l->n; i++)
        if (tsr_batcher_submit(l->b, &in, 1, 0, on_fail_done, l, NULL) != TSR_OK)
            atomic_fetch_add(l->bad, 1);
    return NULL;
}

/* Every batch fails (injected): every request of every batch gets the batch's status, once. */
START_TEST(test_batch_failure) {
    setenv("TSR_BATCHER_FAULT", "1", 1);
    tsr_context *ctx = ts_context();
    tsr_graph *g = import_digits(ctx);
    struct tsr_batcher_options o = tsr_batcher_options_default();
    o.max_batch = 8;
    o.max_wait_us = 1000;
    tsr_batcher *b = NULL;
    ck_assert_int_eq(tsr_batcher_create(ctx, g, &o, &b), TSR_OK);
    unsetenv("TSR_BATCHER_FAULT");
    atomic_int calls, bad;
    atomic_init(&calls, 0);
    atomic_init(&bad, 0);
    struct fail_load l = {b, 40, &calls, &bad};
    pthread_t th[4];
    for (int t = 0; t < 4; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, fail_main, &l), 0);
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    tsr_batcher_destroy(b, 1);
    ck_assert_int_eq(atomic_load(&calls), 160);
    ck_assert_int_eq(atomic_load(&bad), 0);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

/* With two devices, a batch failing on one is retried on the other: every request succeeds. */
START_TEST(test_retry_other_device) {
    tsr_context *ctx = ts_context();
    if (!ts_have_opencl(ctx)) {
        tsr_context_destroy(ctx);
        return;
    }
    setenv("TSR_BATCHER_FAULT", "1@opencl:0", 1);
    tsr_graph *g = import_digits(ctx);
    struct tsr_batcher_options o = tsr_batcher_options_default();
    o.devices = "opencl:0,cpu";
    o.max_batch = 8;
    tsr_batcher *b = NULL;
    ck_assert_int_eq(tsr_batcher_create(ctx, g, &o, &b), TSR_OK);
    unsetenv("TSR_BATCHER_FAULT");
    float x[32][FEATURES];
    ts_fill_uniform(&x[0][0], sizeof x / sizeof(float), 3, 0.0f, 16.0f);
    tsr_request *r[32];
    for (int i = 0; i < 32; i++) {
        struct tsr_tensor in = {{.dtype = TSR_F32, .rank = 2, .dims = {1, FEATURES}}, x[i]};
        ck_assert_int_eq(tsr_batcher_submit(b, &in, 1, 0, NULL, NULL, &r[i]), TSR_OK);
    }
    for (int i = 0; i < 32; i++) {
        ck_assert_int_eq(tsr_request_wait(r[i]), TSR_OK);
        tsr_request_free(r[i]);
    }
    struct tsr_batcher_stats st;
    ck_assert_int_eq(tsr_batcher_get_stats(b, &st), TSR_OK);
    ck_assert_int_eq(st.completed, 32);
    ck_assert_int_eq(st.failed, 0);
    ck_assert_int_eq(st.retried, st.devices[0].failed);
    ck_assert_int_eq(st.devices[0].requests, 0); /* nothing succeeded on opencl:0 */
    ck_assert_int_eq(st.devices[1].requests, 32);
    tsr_batcher_destroy(b, 1);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

/* Bad inputs and bad options get a status; a model without a batch dim is refused. */
START_TEST(test_bad_input) {
    tsr_context *ctx = ts_context();
    tsr_graph *g = import_digits(ctx);
    tsr_batcher *b = NULL;
    struct tsr_batcher_options o = tsr_batcher_options_default();
    o.max_batch = 0;
    ck_assert_int_eq(tsr_batcher_create(ctx, g, &o, &b), TSR_E_INVALID_ARG);
    o = tsr_batcher_options_default();
    o.n_preferred = 2;
    o.preferred_batch[0] = 8;
    o.preferred_batch[1] = 4;
    ck_assert_int_eq(tsr_batcher_create(ctx, g, &o, &b), TSR_E_INVALID_ARG);
    o = tsr_batcher_options_default();
    o.devices = "cpu,cpu";
    ck_assert_int_eq(tsr_batcher_create(ctx, g, &o, &b), TSR_E_INVALID_ARG);
    o.devices = "nosuch";
    ck_assert_int_ne(tsr_batcher_create(ctx, g, &o, &b), TSR_OK);
    ck_assert_ptr_null(b);
    o = tsr_batcher_options_default();
    o.max_batch = 4;
    ck_assert_int_eq(tsr_batcher_create(ctx, g, &o, &b), TSR_OK);
    float x[8 * FEATURES] = {0};
    struct tsr_tensor in = {{.dtype = TSR_F32, .rank = 2, .dims = {1, 32}}, x};
    tsr_request *r = NULL;
    ck_assert_int_eq(tsr_batcher_submit(b, &in, 1, 0, NULL, NULL, &r), TSR_E_SHAPE);
    in.desc.dims[1] = FEATURES;
    in.desc.dtype = TSR_I32;
    ck_assert_int_eq(tsr_batcher_submit(b, &in, 1, 0, NULL, NULL, &r), TSR_E_DTYPE);
    in.desc.dtype = TSR_F32;
    in.desc.dims[0] = 5; /* more than max_batch */
    ck_assert_int_eq(tsr_batcher_submit(b, &in, 1, 0, NULL, NULL, &r), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_batcher_submit(b, &in, 2, 0, NULL, NULL, &r), TSR_E_INVALID_ARG);
    ck_assert_ptr_null(r);
    tsr_batcher_destroy(b, 1);
    tsr_graph_destroy(g);

    /* A fixed batch (the builder API has no symbolic dims). */
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    struct tsr_tensor_desc dx = {.dtype = TSR_F32, .rank = 2, .dims = {4, 8}};
    tsr_value v, y;
    ck_assert_int_eq(tsr_graph_input(g, "x", &dx, &v), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RELU, &v, 1, NULL, NULL, &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "y", y), TSR_OK);
    ck_assert_int_eq(tsr_batcher_create(ctx, g, NULL, &b), TSR_E_SHAPE);
    ck_assert(strstr(tsr_last_error(ctx)->message, "'x'") != NULL);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

/* A transformer block with inputs [batch, sequence, 16] (tests/data/dynshape/block.onnx): without
 * a value for "sequence" the batcher refuses it, naming the input, the dim and its name; with
 * dims {sequence = 16} three one-row requests of block_x_3x16.npy come back equal to PyTorch's
 * rows of block_y_3x16.npy (within 1e-4). */
START_TEST(test_symbolic_sequence) {
    tsr_context *ctx = ts_context();
    tsr_graph *g = NULL;
    ck_assert_int_eq(
        tsr_onnx_import_file(ctx, TSR_TEST_DATA_DIR "/dynshape/block.onnx", NULL, 0, &g), TSR_OK);
    struct tsr_batcher_options o = tsr_batcher_options_default();
    o.max_batch = 4;
    o.max_wait_us = 20000;
    tsr_batcher *b = NULL;
    ck_assert_int_eq(tsr_batcher_create(ctx, g, &o, &b), TSR_E_SHAPE);
    const char *msg = tsr_last_error(ctx)->message;
    ck_assert_msg(strstr(msg, "input 'x' dim 1 ('sequence') is symbolic"), "%s", msg);
    o.dims[0].name = "sequence";
    o.dims[0].value = 0;
    o.n_dims = 1;
    ck_assert_int_eq(tsr_batcher_create(ctx, g, &o, &b), TSR_E_INVALID_ARG);
    o.dims[0].value = 16;
    ck_assert_int_eq(tsr_batcher_create(ctx, g, &o, &b), TSR_OK);
    struct tsr_tensor x, want;
    ck_assert_int_eq(tsr_npy_load(TSR_TEST_DATA_DIR "/dynshape/block_x_3x16.npy", &x), TSR_OK);
    ck_assert_int_eq(tsr_npy_load(TSR_TEST_DATA_DIR "/dynshape/block_y_3x16.npy", &want), TSR_OK);
    const int64_t row = 16 * 16;
    tsr_request *r[3];
    for (int i = 0; i < 3; i++) {
        struct tsr_tensor in = {{.dtype = TSR_F32, .rank = 3, .dims = {1, 16, 16}},
                                (float *)x.data + i * row};
        ck_assert_int_eq(tsr_batcher_submit(b, &in, 1, 0, NULL, NULL, &r[i]), TSR_OK);
    }
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(tsr_request_wait(r[i]), TSR_OK);
        struct tsr_tensor out;
        ck_assert_int_eq(tsr_request_output(r[i], 0, &out), TSR_OK);
        ck_assert_int_eq(out.desc.rank, 3);
        ck_assert_int_eq(out.desc.dims[1], 16);
        const double err = ts_max_abs_diff(out.data, (float *)want.data + i * row, (size_t)row);
        ck_assert_msg(err <= 1e-4, "request %d: max abs error %g vs PyTorch", i, err);
        tsr_request_free(r[i]);
    }
    /* another sequence length is refused at submit */
    struct tsr_tensor in8 = {{.dtype = TSR_F32, .rank = 3, .dims = {1, 8, 16}}, x.data};
    tsr_request *bad = NULL;
    ck_assert_int_eq(tsr_batcher_submit(b, &in8, 1, 0, NULL, NULL, &bad), TSR_E_SHAPE);
    tsr_batcher_destroy(b, 1);
    tsr_tensor_free(&x);
    tsr_tensor_free(&want);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

static Suite *batcher_suite(void) {
    Suite *s = suite_create("batcher");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_many_threads_cpu);
    tcase_add_test(tc, test_unbatched_cpu);
    tcase_add_test(tc, test_two_devices);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_queue_full_and_cancel);
    tcase_add_test(tc, test_timeout);
    tcase_add_test(tc, test_batch_failure);
    tcase_add_test(tc, test_retry_other_device);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_symbolic_sequence);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(batcher_suite());
}
