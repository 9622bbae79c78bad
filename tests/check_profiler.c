/* check_profiler.c — profiler records, the bounded ring and its dropped count, the per-plan
 * switch, the sectioned summary table (from fake records and from real runs), the Chrome trace
 * (parsed back with json-c); the contraction FLOPs a plan reports per kernel
 * (tsr_kernel_info.core_flops, what `tessera run --profile` divides by the kernel time) against the
 * formulas worked out by hand. */
#include "runtime/profiler.h"
#include "test_support.h"

#include <json-c/json.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A minimal context around a fresh profiler: the public profiler API only uses ctx->prof and
 * the error slot, so the tests do not depend on device discovery. */
struct fake_ctx {
    struct tsr_context ctx;
};

static void fake_init_cap(struct fake_ctx *f, int enabled, size_t capacity) {
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->ctx.mutex, NULL);
    ck_assert_int_eq(tsr_profiler_create(enabled, capacity, &f->ctx.prof), TSR_OK);
}

static void fake_init(struct fake_ctx *f, int enabled) {
    fake_init_cap(f, enabled, TSR_PROFILE_CAPACITY_DEFAULT);
}

static void fake_fini(struct fake_ctx *f) {
    tsr_profiler_destroy(f->ctx.prof);
    pthread_mutex_destroy(&f->ctx.mutex);
}

START_TEST(test_disabled_records_nothing) {
    struct fake_ctx f;
    fake_init(&f, 0);
    ck_assert_int_eq(tsr_prof_enabled(&f.ctx), 0);
    tsr_prof_add(&f.ctx, TSR_EVENT_KERNEL, "k", "", "cpu", 0, 10, 20, 1, 1);
    ck_assert_uint_eq(tsr_profiler_count(&f.ctx), 0);
    tsr_profiler_enable(&f.ctx, 1);
    ck_assert_int_eq(tsr_prof_enabled(&f.ctx), 1);
    tsr_prof_add(&f.ctx, TSR_EVENT_KERNEL, "k", "", "cpu", 0, 10, 20, 1, 1);
    ck_assert_uint_eq(tsr_profiler_count(&f.ctx), 1);
    tsr_profiler_enable(&f.ctx, 0);
    tsr_prof_add(&f.ctx, TSR_EVENT_KERNEL, "k", "", "cpu", 0, 10, 20, 1, 1);
    ck_assert_uint_eq(tsr_profiler_count(&f.ctx), 1);
    tsr_profiler_clear(&f.ctx);
    ck_assert_uint_eq(tsr_profiler_count(&f.ctx), 0);
    /* NULL context: no crash, nothing counted */
    ck_assert_int_eq(tsr_prof_enabled(NULL), 0);
    tsr_prof_add(NULL, TSR_EVENT_KERNEL, "k", "", "cpu", 0, 10, 20, 1, 1);
    ck_assert_uint_eq(tsr_profiler_count(NULL), 0);
    struct tsr_profile_record r;
    ck_assert_int_eq(tsr_profiler_get(NULL, 0, &r), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_profiler_get(&f.ctx, 0, &r), TSR_E_INVALID_ARG);
    fake_fini(&f);
}
END_TEST

START_TEST(test_record_fields) {
    struct fake_ctx f;
    fake_init(&f, 1);
    char name[16];
    strcpy(name, "gemm_bias");
    tsr_prof_add(&f.ctx, TSR_EVENT_TRANSFER, name, "fc1,relu1", "opencl:0", 2, 1000, 4000, 4096,
                 123);
    strcpy(name, "clobbered"); /* strings are copied */
    tsr_prof_add(&f.ctx, TSR_EVENT_KERNEL, NULL, NULL, "cpu", 0, 5000, 4000, 0, 0);
    struct tsr_profile_record r;
    ck_assert_int_eq(tsr_profiler_get(&f.ctx, 0, &r), TSR_OK);
    ck_assert_int_eq(r.kind, TSR_EVENT_TRANSFER);
    ck_assert_str_eq(r.name, "gemm_bias");
    ck_assert_str_eq(r.nodes, "fc1,relu1");
    ck_assert_str_eq(r.device, "opencl:0");
    ck_assert_int_eq(r.queue, 2);
    ck_assert_uint_eq(r.start_ns, 1000);
    ck_assert_uint_eq(r.end_ns, 4000);
    ck_assert_uint_eq(r.bytes, 4096);
    ck_assert_uint_eq(r.flops, 123);
    ck_assert_int_eq(tsr_profiler_get(&f.ctx, 1, &r), TSR_OK);
    ck_assert_str_eq(r.name, "");
    ck_assert_str_eq(r.nodes, "");
    ck_assert_uint_ge(r.end_ns, r.start_ns); /* end before start is clamped */
    /* strings stay valid after clear (interned until destroy) */
    const char *kept = r.device;
    tsr_profiler_clear(&f.ctx);
    ck_assert_str_eq(kept, "cpu");
    fake_fini(&f);
}
END_TEST

#define N_THREADS  4
#define PER_THREAD 2000

struct worker_arg {
    tsr_context *ctx;
    int id;
};

static void *worker(void *p) {
    struct worker_arg *a = p;
    char name[32];
    snprintf(name, sizeof name, "k%d", a->id);
    for (int i = 0; i < PER_THREAD; i++)
        tsr_prof_add(a->ctx, TSR_EVENT_KERNEL, name, "", "cpu", a->id, (uint64_t)i * 10,
                     (uint64_t)i * 10 + 5, (uint64_t)a->id, (uint64_t)i);
    return NULL;
}

START_TEST(test_threads_all_present) {
    struct fake_ctx f;
    fake_init(&f, 1);
    pthread_t th[N_THREADS];
    struct worker_arg args[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        args[t] = (struct worker_arg){&f.ctx, t};
        ck_assert_int_eq(pthread_create(&th[t], NULL, worker, &args[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(th[t], NULL);
    ck_assert_uint_eq(tsr_profiler_count(&f.ctx), N_THREADS * PER_THREAD);
    /* every (thread, i) pair exactly once, with consistent fields */
    static unsigned char seen[N_THREADS][PER_THREAD];
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < tsr_profiler_count(&f.ctx); i++) {
        struct tsr_profile_record r;
        ck_assert_int_eq(tsr_profiler_get(&f.ctx, i, &r), TSR_OK);
        int t = r.queue;
        ck_assert_int_ge(t, 0);
        ck_assert_int_lt(t, N_THREADS);
        char name[32];
        snprintf(name, sizeof name, "k%d", t);
        ck_assert_str_eq(r.name, name);
        ck_assert_uint_eq(r.bytes, (uint64_t)t);
        ck_assert_uint_lt(r.flops, PER_THREAD);
        ck_assert_uint_eq(r.start_ns, r.flops * 10);
        ck_assert_int_eq(seen[t][r.flops], 0);
        seen[t][r.flops] = 1;
    }
    fake_fini(&f);
}
END_TEST

/* Reads the whole of f into a malloc'ed NUL-terminated string. */
static char *slurp(FILE *f) {
    fflush(f);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    return s;
}

/* The lines of the section of `table` whose title line starts with `title` (up to the next
 * empty line), as a malloc'ed string; NULL when there is no such section. */
static char *section(const char *table, const char *title) {
    const char *l = table;
    while (*l && strncmp(l, title, strlen(title)) != 0) {
        l = strchr(l, '\n');
        if (!l) return NULL;
        l++;
    }
    if (!*l) return NULL;
    const char *end = strstr(l, "\n\n");
    size_t n = end ? (size_t)(end - l) + 1 : strlen(l);
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, l, n);
    s[n] = '\0';
    return s;
}

/* Column offset of `col` in the header line (second line) of section text. */
static size_t column(const char *sec, const char *col) {
    const char *hdr = strchr(sec, '\n');
    ck_assert_ptr_nonnull(hdr);
    hdr++;
    const char *c = strstr(hdr, col);
    ck_assert_msg(c != NULL, "no column '%s' in:\n%s", col, sec);
    return (size_t)(c - hdr);
}

/* One parsed kernel row. */
struct krow {
    char kernel[64], nodes[128], device[32];
    unsigned long long runs;
    double total, mean, max, share, gflops, gbps;
};

/* Parses the kernel rows of the kernel section (after its title and header) into rows[]; returns
 * how many. The node column may contain spaces ("a,b (+3 more)"): columns are cut at the
 * header's offsets. */
static int kernel_rows(const char *sec, struct krow *rows, int max) {
    const size_t o_nodes = column(sec, "nodes"), o_dev = column(sec, "device");
    const char *l = strchr(strchr(sec, '\n') + 1, '\n') + 1;
    int n = 0;
    for (; *l && n < max; l = strchr(l, '\n') + 1) {
        size_t len = strcspn(l, "\n");
        ck_assert_uint_gt(len, o_dev);
        struct krow *r = &rows[n++];
        memset(r, 0, sizeof *r);
        ck_assert_int_eq(sscanf(l, "%63s", r->kernel), 1);
        size_t nl = o_dev - o_nodes;
        memcpy(r->nodes, l + o_nodes, nl < sizeof r->nodes ? nl : sizeof r->nodes - 1);
        for (size_t k = strlen(r->nodes); k > 0 && r->nodes[k - 1] == ' '; k--)
            r->nodes[k - 1] = '\0';
        ck_assert_int_eq(sscanf(l + o_dev, "%31s %llu %lf %lf %lf %lf%% %lf %lf", r->device,
                                &r->runs, &r->total, &r->mean, &r->max, &r->share, &r->gflops,
                                &r->gbps),
                         8);
        if (!strchr(l, '\n')) break;
    }
    return n;
}

START_TEST(test_table) {
    struct fake_ctx f;
    fake_init(&f, 1);
    /* gemm "fc1" on cpu: 3 runs of 1, 2, 3 ms; gemm "fc2" (a second GEMM layer): 1 run of 4 ms;
     * gemm "fc1" on opencl:0: 2 runs of 0.5 ms; then one record of each other kind */
    for (int i = 1; i <= 3; i++)
        tsr_prof_add(&f.ctx, TSR_EVENT_KERNEL, "gemm", "fc1", "cpu", 0, 0, (uint64_t)i * 1000000,
                     1000000, 2000000);
    tsr_prof_add(&f.ctx, TSR_EVENT_KERNEL, "gemm", "fc2", "cpu", 0, 0, 4000000, 0, 0);
    for (int i = 0; i < 2; i++)
        tsr_prof_add(&f.ctx, TSR_EVENT_KERNEL, "gemm", "fc1", "opencl:0", 0, 0, 500000, 0, 0);
    tsr_prof_add(&f.ctx, TSR_EVENT_TRANSFER, "write_input", "", "opencl:0", 0, 0, 2000000, 4096, 0);
    tsr_prof_add(&f.ctx, TSR_EVENT_COMPILE, "cl_build gemm", "", "opencl:0", 0, 0, 9000000, 0, 0);
    tsr_prof_add(&f.ctx, TSR_EVENT_ALLOC, "host_pool_grow", "", "cpu", 0, 0, 100000,
                 3u * 1024 * 1024 / 2, 0);
    tsr_prof_add(&f.ctx, TSR_EVENT_CALIBRATION, "calibrate", "", "cpu", 0, 0, 1500000000, 0, 0);
    FILE *tmp = tmpfile();
    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_eq(tsr_profiler_print_table(&f.ctx, tmp), TSR_OK);
    char *text = slurp(tmp);
    fclose(tmp);

    char *ks = section(text, "kernels:");
    ck_assert_msg(ks != NULL, "no kernel section in:\n%s", text);
    struct krow rows[8];
    int n = kernel_rows(ks, rows, 8);
    ck_assert_msg(n == 3, "expected 3 kernel rows (two GEMM layers on cpu, one on opencl):\n%s",
                  text);
    /* sorted by total: fc1/cpu 6 ms, fc2/cpu 4 ms, fc1/opencl 1 ms; shares of 11 ms */
    ck_assert_str_eq(rows[0].nodes, "fc1");
    ck_assert_str_eq(rows[0].device, "cpu");
    ck_assert_uint_eq(rows[0].runs, 3);
    ck_assert_double_eq_tol(rows[0].total, 6.0, 1e-3);
    ck_assert_double_eq_tol(rows[0].mean, 2.0, 1e-3);
    ck_assert_double_eq_tol(rows[0].max, 3.0, 1e-3);
    ck_assert_double_eq_tol(rows[0].share, 100.0 * 6.0 / 11.0, 0.1);
    ck_assert_double_eq_tol(rows[0].gbps, 3e6 / 6e6, 0.01);   /* 3 MB in 6 ms = 0.5 GB/s */
    ck_assert_double_eq_tol(rows[0].gflops, 6e6 / 6e6, 0.01); /* 6 MFLOP in 6 ms */
    ck_assert_str_eq(rows[1].nodes, "fc2");
    ck_assert_double_eq_tol(rows[1].total, 4.0, 1e-3);
    ck_assert_str_eq(rows[2].device, "opencl:0");
    ck_assert_uint_eq(rows[2].runs, 2);
    double shares = 0;
    for (int i = 0; i < n; i++)
        shares += rows[i].share;
    ck_assert_double_eq_tol(shares, 100.0, 0.2); /* over kernels only, not the 1.5 s calib */
    ck_assert_ptr_null(strstr(ks, "calibrate"));
    ck_assert_ptr_null(strstr(ks, "write_input"));
    ck_assert_ptr_null(strstr(ks, "host_pool_grow"));
    free(ks);

    char *ts = section(text, "transfers:");
    ck_assert_msg(ts != NULL, "no transfer section in:\n%s", text);
    ck_assert_ptr_nonnull(strstr(ts, "write_input"));
    ck_assert_ptr_nonnull(strstr(ts, "4.0 KiB"));
    ck_assert_ptr_nonnull(strstr(ts, "GB/s"));
    free(ts);
    char *cs = section(text, "compiles");
    ck_assert_msg(cs && strstr(cs, "cl_build gemm"), "compile section:\n%s", text);
    free(cs);
    char *ps = section(text, "pool growth:");
    ck_assert_msg(ps && strstr(ps, "host_pool_grow"), "pool section:\n%s", text);
    ck_assert_ptr_nonnull(strstr(ps, "1.5 MiB"));
    ck_assert_ptr_null(strstr(ps, "GB/s")); /* no rate for pool growth */
    free(ps);
    char *cal = section(text, "calibration");
    ck_assert_msg(cal && strstr(cal, "calibrate") && strstr(cal, "1500.000"), "calib:\n%s", text);
    free(cal);
    ck_assert_ptr_nonnull(strstr(text, "records: 10 kept"));
    ck_assert_ptr_null(strstr(text, "dropped"));
    free(text);
    ck_assert_int_eq(tsr_profiler_print_table(&f.ctx, NULL), TSR_E_INVALID_ARG);
    fake_fini(&f);
}
END_TEST

/* A long node list is cut to its first names and "(+N more)". */
START_TEST(test_table_long_nodes) {
    struct fake_ctx f;
    fake_init(&f, 1);
    char nodes[512] = "";
    for (int i = 0; i < 30; i++)
        snprintf(nodes + strlen(nodes), sizeof nodes - strlen(nodes), "%s/blk/n%02d", i ? "," : "",
                 i);
    tsr_prof_add(&f.ctx, TSR_EVENT_KERNEL, "ew_chain", nodes, "cpu", 0, 0, 1000, 0, 0);
    FILE *tmp = tmpfile();
    ck_assert_int_eq(tsr_profiler_print_table(&f.ctx, tmp), TSR_OK);
    char *text = slurp(tmp);
    fclose(tmp);
    char *ks = section(text, "kernels:");
    struct krow rows[2];
    ck_assert_int_eq(kernel_rows(ks, rows, 2), 1);
    ck_assert_uint_le(strlen(rows[0].nodes), 48);
    ck_assert_msg(strncmp(rows[0].nodes, "/blk/n00,/blk/n01", 17) == 0, "%s", rows[0].nodes);
    const char *more = strstr(rows[0].nodes, " (+");
    ck_assert_ptr_nonnull(more);
    int shown = 1, rest = 0;
    for (const char *c = rows[0].nodes; c < more; c++)
        shown += *c == ',';
    ck_assert_int_eq(sscanf(more, " (+%d more)", &rest), 1);
    ck_assert_int_eq(shown + rest, 30);
    free(ks);
    free(text);
    fake_fini(&f);
}
END_TEST

/* The ring: capacity 100, 1000 records → the newest 100 kept in order, 900 dropped (reported
 * by the table), clear resets both. */
START_TEST(test_ring_bounded) {
    struct fake_ctx f;
    fake_init_cap(&f, 1, 100);
    ck_assert_uint_eq(tsr_profiler_capacity(&f.ctx), 100);
    for (uint64_t i = 0; i < 1000; i++) {
        tsr_prof_add(&f.ctx, TSR_EVENT_KERNEL, "k", "", "cpu", 0, i, i + 1, 0, i);
        ck_assert_uint_le(tsr_profiler_count(&f.ctx), 100);
    }
    ck_assert_uint_eq(tsr_profiler_count(&f.ctx), 100);
    ck_assert_uint_eq(tsr_profiler_dropped(&f.ctx), 900);
    for (size_t i = 0; i < 100; i++) {
        struct tsr_profile_record r;
        ck_assert_int_eq(tsr_profiler_get(&f.ctx, i, &r), TSR_OK);
        ck_assert_uint_eq(r.flops, 900 + i);
    }
    FILE *tmp = tmpfile();
    ck_assert_int_eq(tsr_profiler_print_table(&f.ctx, tmp), TSR_OK);
    char *text = slurp(tmp);
    fclose(tmp);
    ck_assert_msg(strstr(text, "records: 100 kept (capacity 100), 900 dropped"), "%s", text);
    free(text);
    tsr_profiler_clear(&f.ctx);
    ck_assert_uint_eq(tsr_profiler_count(&f.ctx), 0);
    ck_assert_uint_eq(tsr_profiler_dropped(&f.ctx), 0);
    tsr_prof_add(&f.ctx, TSR_EVENT_KERNEL, "k", "", "cpu", 0, 0, 1, 0, 7);
    struct tsr_profile_record r;
    ck_assert_int_eq(tsr_profiler_get(&f.ctx, 0, &r), TSR_OK);
    ck_assert_uint_eq(r.flops, 7);
    fake_fini(&f);
    struct tsr_profiler *p = NULL;
    ck_assert_int_eq(tsr_profiler_create(1, 0, &p), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_profiler_create(1, TSR_PROFILE_CAPACITY_MAX + 1, &p), TSR_E_INVALID_ARG);
}
END_TEST

START_TEST(test_kind_names) {
    ck_assert_str_eq(tsr_event_kind_name(TSR_EVENT_KERNEL), "kernel");
    ck_assert_str_eq(tsr_event_kind_name(TSR_EVENT_TRANSFER), "transfer");
    ck_assert_str_eq(tsr_event_kind_name(TSR_EVENT_COMPILE), "compile");
    ck_assert_str_eq(tsr_event_kind_name(TSR_EVENT_ALLOC), "alloc");
    ck_assert_str_eq(tsr_event_kind_name(TSR_EVENT_CALIBRATION), "calibration");
    ck_assert_str_eq(tsr_event_kind_name((tsr_event_kind)99), "unknown");
}
END_TEST

/* x [4, 8] -> MatMul "layer1" (W1 [8, 16]) -> Relu "act1" -> MatMul "layer2" (W2 [16, 3]). */
static tsr_graph *two_matmuls(tsr_context *ctx) {
    static float w1[8 * 16], w2[16 * 3];
    for (int i = 0; i < 8 * 16; i++)
        w1[i] = 0.01f * (float)(i % 13) - 0.05f;
    for (int i = 0; i < 16 * 3; i++)
        w2[i] = 0.02f * (float)(i % 7) - 0.06f;
    tsr_graph *g = NULL;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    struct tsr_tensor_desc xd = {.dtype = TSR_F32, .rank = 2, .dims = {4, 8}};
    struct tsr_tensor_desc d1 = {.dtype = TSR_F32, .rank = 2, .dims = {8, 16}};
    struct tsr_tensor_desc d2 = {.dtype = TSR_F32, .rank = 2, .dims = {16, 3}};
    tsr_value x, v1, v2, h, a, y;
    ck_assert_int_eq(tsr_graph_input(g, "x", &xd, &x), TSR_OK);
    ck_assert_int_eq(tsr_graph_constant(g, "w1", &d1, w1, &v1), TSR_OK);
    ck_assert_int_eq(tsr_graph_constant(g, "w2", &d2, w2, &v2), TSR_OK);
    tsr_value i1[2] = {x, v1};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MATMUL, i1, 2, NULL, "layer1", &h), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RELU, &h, 1, NULL, "act1", &a), TSR_OK);
    tsr_value i2[2] = {a, v2};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MATMUL, i2, 2, NULL, "layer2", &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "y", y), TSR_OK);
    return g;
}

static tsr_plan *compile_cpu(tsr_context *ctx, tsr_graph *g) {
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "cpu";
    tsr_plan *plan = NULL;
    ck_assert_int_eq(tsr_compile(ctx, g, &o, &plan), TSR_OK);
    return plan;
}

static void run_n(tsr_plan *plan, int n) {
    float x[4 * 8], y[4 * 3];
    ts_fill_uniform(x, 32, 11, -1.0f, 1.0f);
    struct tsr_tensor in = {.desc = {.dtype = TSR_F32, .rank = 2, .dims = {4, 8}}, .data = x};
    struct tsr_tensor out = {.desc = {.dtype = TSR_F32, .rank = 2, .dims = {4, 3}}, .data = y};
    for (int k = 0; k < n; k++)
        ck_assert_int_eq(tsr_plan_run(plan, &in, 1, &out, 1), TSR_OK);
}

/* A real run of a graph with two MatMul layers: one kernel row per layer with its node names,
 * shares over the kernels summing to 100%, a calibration record only in its own section. */
START_TEST(test_table_real_run) {
    tsr_context *ctx = ts_context();
    tsr_graph *g = two_matmuls(ctx);
    tsr_plan *plan = compile_cpu(ctx, g);
    run_n(plan, 1); /* warm-up, not profiled */
    tsr_profiler_clear(ctx);
    tsr_profiler_enable(ctx, 1);
    run_n(plan, 5);
    /* as scheduler/calibrate.c records a measurement */
    tsr_prof_add(ctx, TSR_EVENT_CALIBRATION, "calibrate", "", "cpu", 0, 0, 2000000000, 0, 0);
    tsr_profiler_enable(ctx, 0);
    FILE *tmp = tmpfile();
    ck_assert_int_eq(tsr_profiler_print_table(ctx, tmp), TSR_OK);
    char *text = slurp(tmp);
    fclose(tmp);
    char *ks = section(text, "kernels:");
    ck_assert_msg(ks != NULL, "%s", text);
    struct krow rows[8];
    int n = kernel_rows(ks, rows, 8);
    ck_assert_int_eq(n, tsr_plan_kernel_count(plan));
    int l1 = -1, l2 = -1;
    double shares = 0;
    for (int i = 0; i < n; i++) {
        ck_assert_uint_eq(rows[i].runs, 5);
        shares += rows[i].share;
        for (char *t = strtok(rows[i].nodes, ","); t; t = strtok(NULL, ",")) {
            if (!strcmp(t, "layer1")) l1 = i;
            if (!strcmp(t, "layer2")) l2 = i;
        }
    }
    ck_assert_msg(l1 >= 0 && l2 >= 0 && l1 != l2, "two GEMM layers, two rows:\n%s", text);
    ck_assert_double_eq_tol(shares, 100.0, 0.5);
    ck_assert_ptr_null(strstr(ks, "calibrate"));
    char *cal = section(text, "calibration");
    ck_assert_msg(cal && strstr(cal, "2000.000"), "%s", text);
    free(cal);
    free(ks);
    free(text);
    tsr_plan_destroy(plan);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

/* Many runs of a real plan with a small capacity: the count stays at the capacity, and records
 * kept + dropped is every record made (kernel count x runs: steady-state runs record nothing
 * else on the CPU). */
START_TEST(test_ring_real_runs) {
    struct tsr_context_options co = {0};
    co.profile_capacity = 10;
    tsr_context *ctx = NULL;
    ck_assert_int_eq(tsr_context_create(&co, &ctx), TSR_OK);
    ck_assert_uint_eq(tsr_profiler_capacity(ctx), 10);
    tsr_graph *g = two_matmuls(ctx);
    tsr_plan *plan = compile_cpu(ctx, g);
    run_n(plan, 1);
    tsr_profiler_clear(ctx);
    tsr_profiler_enable(ctx, 1);
    const int runs = 40, k = tsr_plan_kernel_count(plan);
    for (int i = 0; i < runs; i++) {
        run_n(plan, 1);
        ck_assert_uint_le(tsr_profiler_count(ctx), 10);
    }
    ck_assert_uint_eq(tsr_profiler_count(ctx), 10);
    ck_assert_uint_eq(tsr_profiler_dropped(ctx) + 10, (uint64_t)runs * (uint64_t)k);
    tsr_plan_destroy(plan);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
    co.profile_capacity = TSR_PROFILE_CAPACITY_MAX + 1;
    ck_assert_int_eq(tsr_context_create(&co, &ctx), TSR_E_INVALID_ARG);
}
END_TEST

/* Log lines of a context, collected (tsr_log_fn). */
struct log_sink {
    pthread_mutex_t mu;
    char text[4096];
};

static void collect(void *user, tsr_log_level level, const char *msg) {
    struct log_sink *s = user;
    pthread_mutex_lock(&s->mu);
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof s->text - n, "%d:%s\n", (int)level, msg);
    pthread_mutex_unlock(&s->mu);
}

/* TSR_PROFILE_CAPACITY: a valid value sets the capacity; a bad one is warned about (through the
 * log callback, naming it) and the default used. */
START_TEST(test_capacity_env) {
    struct log_sink sink = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct tsr_context_options co = {0};
    co.log_fn = collect;
    co.log_user = &sink;
    tsr_context *ctx = NULL;
    setenv("TSR_PROFILE_CAPACITY", "7", 1);
    ck_assert_int_eq(tsr_context_create(&co, &ctx), TSR_OK);
    ck_assert_uint_eq(tsr_profiler_capacity(ctx), 7);
    tsr_context_destroy(ctx);
    co.profile_capacity = 9; /* the option wins */
    ck_assert_int_eq(tsr_context_create(&co, &ctx), TSR_OK);
    ck_assert_uint_eq(tsr_profiler_capacity(ctx), 9);
    tsr_context_destroy(ctx);
    co.profile_capacity = 0;
    setenv("TSR_PROFILE_CAPACITY", "lots", 1);
    /* the warning reaches the callback, at warn level, and nothing reaches stderr (fd 2 into a
     * temporary file meanwhile) */
    char path[] = "/tmp/tsr_check_profiler_err_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    ck_assert_int_eq(dup2(fd, 2), 2);
    ck_assert_int_eq(tsr_context_create(&co, &ctx), TSR_OK);
    ck_assert_uint_eq(tsr_profiler_capacity(ctx), TSR_PROFILE_CAPACITY_DEFAULT);
    tsr_context_destroy(ctx);
    fflush(stderr);
    ck_assert_int_eq(dup2(saved, 2), 2);
    close(saved);
    off_t err_bytes = lseek(fd, 0, SEEK_END);
    close(fd);
    unlink(path);
    ck_assert_msg(strstr(sink.text, "2:TSR_PROFILE_CAPACITY='lots'"), "log: %s", sink.text);
    ck_assert_int_eq(err_bytes, 0);
    unsetenv("TSR_PROFILE_CAPACITY");
}
END_TEST

/* The per-plan switch: ON records with the context off, OFF records nothing with it on,
 * CONTEXT follows the context. */
START_TEST(test_plan_switch) {
    tsr_context *ctx = ts_context();
    tsr_graph *g = two_matmuls(ctx);
    tsr_plan *plan = compile_cpu(ctx, g);
    const size_t k = (size_t)tsr_plan_kernel_count(plan);
    run_n(plan, 1);
    tsr_profiler_clear(ctx);
    tsr_profiler_enable(ctx, 0);
    ck_assert_int_eq(tsr_plan_set_profiling(plan, TSR_PLAN_PROFILE_ON), TSR_OK);
    run_n(plan, 2);
    ck_assert_uint_eq(tsr_profiler_count(ctx), 2 * k);
    tsr_profiler_enable(ctx, 1);
    ck_assert_int_eq(tsr_plan_set_profiling(plan, TSR_PLAN_PROFILE_OFF), TSR_OK);
    run_n(plan, 2);
    ck_assert_uint_eq(tsr_profiler_count(ctx), 2 * k);
    ck_assert_int_eq(tsr_plan_set_profiling(plan, TSR_PLAN_PROFILE_CONTEXT), TSR_OK);
    run_n(plan, 1);
    ck_assert_uint_eq(tsr_profiler_count(ctx), 3 * k);
    tsr_profiler_enable(ctx, 0);
    run_n(plan, 1);
    ck_assert_uint_eq(tsr_profiler_count(ctx), 3 * k);
    ck_assert_int_eq(tsr_plan_set_profiling(plan, (tsr_plan_profiling)3), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_plan_set_profiling(NULL, TSR_PLAN_PROFILE_ON), TSR_E_INVALID_ARG);
    tsr_plan_destroy(plan);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

static json_object *get(json_object *o, const char *key) {
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "missing key '%s'", key);
    return v;
}

START_TEST(test_trace_roundtrip) {
    struct fake_ctx f;
    fake_init(&f, 1);
    const uint64_t base = 1000000000ull;
    /* records: (start, end) in ns relative to base; devices alternate; one transfer */
    const uint64_t st[4] = {0, 1500, 2500, 10000}, en[4] = {1000, 2500, 9000, 12345};
    const char *dev[4] = {"cpu", "opencl:0", "cpu", "opencl:0"};
    for (int i = 0; i < 4; i++)
        tsr_prof_add(&f.ctx, i == 3 ? TSR_EVENT_TRANSFER : TSR_EVENT_KERNEL, "k", "n1,n2", dev[i],
                     i == 3 ? 1 : 0, base + st[i], base + en[i], 100u * (unsigned)i, 7);
    char path[256];
    snprintf(path, sizeof path, "/tmp/tsr_check_profiler_%ld.json", (long)getpid());
    ck_assert_int_eq(tsr_profiler_write_trace(&f.ctx, path), TSR_OK);

    json_object *root = json_object_from_file(path);
    ck_assert_msg(root != NULL, "trace does not parse: %s", json_util_get_last_err());
    ck_assert_str_eq(json_object_get_string(get(root, "displayTimeUnit")), "ms");
    json_object *events = get(root, "traceEvents");
    ck_assert(json_object_is_type(events, json_type_array));
    int nx = 0, nmeta = 0;
    int pid_of_cpu = -1, pid_of_cl = -1;
    for (size_t i = 0; i < json_object_array_length(events); i++) {
        json_object *e = json_object_array_get_idx(events, i);
        const char *ph = json_object_get_string(get(e, "ph"));
        if (strcmp(ph, "M") == 0) {
            ck_assert_str_eq(json_object_get_string(get(e, "name")), "process_name");
            const char *dn = json_object_get_string(get(get(e, "args"), "name"));
            int pid = json_object_get_int(get(e, "pid"));
            if (strcmp(dn, "cpu") == 0) pid_of_cpu = pid;
            if (strcmp(dn, "opencl:0") == 0) pid_of_cl = pid;
            nmeta++;
            continue;
        }
        ck_assert_str_eq(ph, "X");
        ck_assert_int_lt(nx, 4);
        /* events appear in record order */
        double ts = json_object_get_double(get(e, "ts"));
        double dur = json_object_get_double(get(e, "dur"));
        ck_assert_double_eq_tol(ts, (double)st[nx] / 1000.0, 1e-9);
        ck_assert_double_eq_tol(dur, (double)(en[nx] - st[nx]) / 1000.0, 1e-9);
        ck_assert_int_eq(json_object_get_int(get(e, "tid")), nx == 3 ? 1 : 0);
        int pid = json_object_get_int(get(e, "pid"));
        ck_assert_int_eq(pid, strcmp(dev[nx], "cpu") == 0 ? pid_of_cpu : pid_of_cl);
        json_object *args = get(e, "args");
        ck_assert_str_eq(json_object_get_string(get(args, "nodes")), "n1,n2");
        ck_assert_int_eq(json_object_get_int64(get(args, "bytes")), 100 * nx);
        ck_assert_int_eq(json_object_get_int64(get(args, "flops")), 7);
        ck_assert_str_eq(json_object_get_string(get(args, "kind")),
                         nx == 3 ? "transfer" : "kernel");
        ck_assert_str_eq(json_object_get_string(get(e, "cat")), nx == 3 ? "transfer" : "kernel");
        nx++;
    }
    ck_assert_int_eq(nx, 4);
    ck_assert_int_eq(nmeta, 2);
    ck_assert_int_ne(pid_of_cpu, pid_of_cl);
    json_object_put(root);
    unlink(path);
    fake_fini(&f);
}
END_TEST

START_TEST(test_trace_unwritable) {
    struct fake_ctx f;
    fake_init(&f, 1);
    tsr_prof_add(&f.ctx, TSR_EVENT_KERNEL, "k", "", "cpu", 0, 1, 2, 0, 0);
    const char *path = "/nonexistent-dir-tsr/trace.json";
    ck_assert_int_eq(tsr_profiler_write_trace(&f.ctx, path), TSR_E_IO);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(&f.ctx)->message, path));
    ck_assert_int_eq(tsr_profiler_write_trace(&f.ctx, NULL), TSR_E_INVALID_ARG);
    /* empty profiler: a valid trace with no events */
    tsr_profiler_clear(&f.ctx);
    char p2[256];
    snprintf(p2, sizeof p2, "/tmp/tsr_check_profiler_empty_%ld.json", (long)getpid());
    ck_assert_int_eq(tsr_profiler_write_trace(&f.ctx, p2), TSR_OK);
    json_object *root = json_object_from_file(p2);
    ck_assert_ptr_nonnull(root);
    ck_assert_uint_eq(json_object_array_length(get(root, "traceEvents")), 0);
    json_object_put(root);
    unlink(p2);
    fake_fini(&f);
}
END_TEST

/* A grouped, strided, padded Conv + bias + Relu and a MatMul, compiled for the CPU: the conv
 * kernel's core FLOPs are 2*N*M*OH*OW*(C/group)*KH*KW, the GEMM's 2*M*N*K; the fused epilogue
 * counts in flops, not in core_flops. */
START_TEST(test_contraction_flops) {
    tsr_context *ctx = ts_context();
    tsr_graph *g = NULL;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    /* X [2, 6, 9, 9], W [4, 3, 3, 3] (group 2), stride 2, pads 1: OH = OW = (9 + 2 - 3) / 2 + 1 */
    struct tsr_tensor_desc xd = {.dtype = TSR_F32, .rank = 4, .dims = {2, 6, 9, 9}};
    struct tsr_tensor_desc wd = {.dtype = TSR_F32, .rank = 4, .dims = {4, 3, 3, 3}};
    struct tsr_tensor_desc bd = {.dtype = TSR_F32, .rank = 1, .dims = {4}};
    struct tsr_tensor_desc ad = {.dtype = TSR_F32, .rank = 2, .dims = {3, 5}};
    struct tsr_tensor_desc md = {.dtype = TSR_F32, .rank = 2, .dims = {5, 7}};
    static float w[4 * 3 * 3 * 3], b[4], m[5 * 7];
    for (int i = 0; i < 108; i++)
        w[i] = 0.01f * (float)(i % 7);
    tsr_value x, wv, bv, conv, relu, a, mv, mm;
    ck_assert_int_eq(tsr_graph_input(g, "x", &xd, &x), TSR_OK);
    ck_assert_int_eq(tsr_graph_input(g, "a", &ad, &a), TSR_OK);
    ck_assert_int_eq(tsr_graph_constant(g, "w", &wd, w, &wv), TSR_OK);
    ck_assert_int_eq(tsr_graph_constant(g, "b", &bd, b, &bv), TSR_OK);
    ck_assert_int_eq(tsr_graph_constant(g, "m", &md, m, &mv), TSR_OK);
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.group = 2;
    at.strides[0] = at.strides[1] = 2;
    at.pads[0] = at.pads[1] = at.pads[2] = at.pads[3] = 1;
    tsr_value ci[3] = {x, wv, bv};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_CONV, ci, 3, &at, "conv", &conv), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RELU, &conv, 1, NULL, "relu", &relu), TSR_OK);
    tsr_value mi[2] = {a, mv};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MATMUL, mi, 2, NULL, "mm", &mm), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "y", relu), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "z", mm), TSR_OK);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "cpu";
    tsr_plan *plan = NULL;
    ck_assert_int_eq(tsr_compile(ctx, g, &o, &plan), TSR_OK);
    int n_conv = 0, n_gemm = 0;
    for (int k = 0; k < tsr_plan_kernel_count(plan); k++) {
        struct tsr_kernel_info ki;
        ck_assert_int_eq(tsr_plan_kernel_info(plan, k, &ki), TSR_OK);
        ck_assert_ptr_nonnull(ki.contraction);
        if (!strcmp(ki.contraction, "conv")) {
            n_conv++;
            const uint64_t oh = (9 + 2 - 3) / 2 + 1; /* 5 */
            ck_assert_uint_eq(ki.core_flops, 2ull * 2 * 4 * oh * oh * (6 / 2) * 3 * 3);
            ck_assert_uint_eq(ki.core_flops, 10800);
            ck_assert_uint_gt(ki.flops, ki.core_flops); /* + bias + relu */
            ck_assert_ptr_nonnull(strstr(ki.geometry, "g2"));
        } else if (!strcmp(ki.contraction, "gemm")) {
            n_gemm++;
            ck_assert_uint_eq(ki.core_flops, 2ull * 3 * 7 * 5);
            ck_assert_str_eq(ki.geometry, "1x[3x5]x[5x7]");
        } else {
            ck_assert_uint_eq(ki.core_flops, 0);
            ck_assert_str_eq(ki.geometry, "");
        }
    }
    ck_assert_int_eq(n_conv, 1);
    ck_assert_int_eq(n_gemm, 1);
    tsr_plan_destroy(plan);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

static Suite *profiler_suite(void) {
    Suite *s = suite_create("profiler");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_disabled_records_nothing);
    tcase_add_test(tc, test_record_fields);
    tcase_add_test(tc, test_threads_all_present);
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_table_long_nodes);
    tcase_add_test(tc, test_ring_bounded);
    tcase_add_test(tc, test_kind_names);
    tcase_add_test(tc, test_trace_roundtrip);
    tcase_add_test(tc, test_trace_unwritable);
    suite_add_tcase(s, tc);
    TCase *tk = tcase_create("plan");
    tcase_add_test(tk, test_contraction_flops);
    tcase_add_test(tk, test_table_real_run);
    tcase_add_test(tk, test_ring_real_runs);
    tcase_add_test(tk, test_capacity_env);
    tcase_add_test(tk, test_plan_switch);
    suite_add_tcase(s, tk);
    return s;
}

int main(void) {
    return ts_run_suite(profiler_suite());
}
