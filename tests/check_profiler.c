/* check_profiler.c — profiler records, summary table, Chrome trace (parsed back with json-c);
 * the contraction FLOPs a plan reports per kernel (tsr_kernel_info.core_flops, what
 * `tessera run --profile` divides by the kernel time) against the formulas worked out by hand. */
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

static void fake_init(struct fake_ctx *f, int enabled) {
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->ctx.mutex, NULL);
    ck_assert_int_eq(tsr_profiler_create(enabled, &f->ctx.prof), TSR_OK);
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

/* The table row of (name, device): fields after the name/device columns. */
static const char *find_row(const char *table, const char *name, const char *device) {
    const char *line = table;
    while (line && *line) {
        char n[64], d[64];
        if (sscanf(line, "%63s %63s", n, d) == 2 && strcmp(n, name) == 0 && strcmp(d, device) == 0)
            return line;
        line = strchr(line, '\n');
        if (line) line++;
    }
    return NULL;
}

START_TEST(test_table) {
    struct fake_ctx f;
    fake_init(&f, 1);
    /* gemm on cpu: 3 records of 1, 2, 3 ms; relu on cpu: 1 of 4 ms; gemm on opencl:0: 2 of 0.5 */
    for (int i = 1; i <= 3; i++)
        tsr_prof_add(&f.ctx, TSR_EVENT_KERNEL, "gemm", "fc", "cpu", 0, 0, (uint64_t)i * 1000000,
                     1000000, 2000000);
    tsr_prof_add(&f.ctx, TSR_EVENT_KERNEL, "relu", "r", "cpu", 0, 0, 4000000, 0, 0);
    for (int i = 0; i < 2; i++)
        tsr_prof_add(&f.ctx, TSR_EVENT_KERNEL, "gemm", "fc", "opencl:0", 0, 0, 500000, 0, 0);
    FILE *tmp = tmpfile();
    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_eq(tsr_profiler_print_table(&f.ctx, tmp), TSR_OK);
    char *text = slurp(tmp);
    fclose(tmp);

    const char *row = find_row(text, "gemm", "cpu");
    ck_assert_msg(row != NULL, "no gemm/cpu row in:\n%s", text);
    unsigned long long count;
    double total, mean, max, share, gbps, gflops;
    ck_assert_int_eq(sscanf(row, "%*s %*s %llu %lf %lf %lf %lf%% %lf %lf", &count, &total, &mean,
                            &max, &share, &gbps, &gflops),
                     7);
    ck_assert_uint_eq(count, 3);
    ck_assert_double_eq_tol(total, 6.0, 1e-3);
    ck_assert_double_eq_tol(mean, 2.0, 1e-3);
    ck_assert_double_eq_tol(max, 3.0, 1e-3);
    ck_assert_double_eq_tol(share, 100.0 * 6.0 / 11.0, 0.1); /* total 6 + 4 + 1 = 11 ms */
    ck_assert_double_eq_tol(gbps, 3e6 / 6e6, 0.01);          /* 3 MB in 6 ms = 0.5 GB/s */
    ck_assert_double_eq_tol(gflops, 6e6 / 6e6, 0.01);        /* 6 MFLOP in 6 ms = 1 GFLOP/s */

    row = find_row(text, "relu", "cpu");
    ck_assert_ptr_nonnull(row);
    ck_assert_int_eq(sscanf(row, "%*s %*s %llu", &count), 1);
    ck_assert_uint_eq(count, 1);
    row = find_row(text, "gemm", "opencl:0");
    ck_assert_ptr_nonnull(row);
    ck_assert_int_eq(sscanf(row, "%*s %*s %llu %lf", &count, &total), 2);
    ck_assert_uint_eq(count, 2);
    ck_assert_double_eq_tol(total, 1.0, 1e-3);
    /* total row: 6 records, 11 ms */
    const char *tot = strstr(text, "\ntotal");
    ck_assert_ptr_nonnull(tot);
    ck_assert_int_eq(sscanf(tot + 1, "total %llu %lf", &count, &total), 2);
    ck_assert_uint_eq(count, 6);
    ck_assert_double_eq_tol(total, 11.0, 1e-3);
    /* aligned: every line has the same length */
    size_t first_len = strcspn(text, "\n");
    for (const char *l = text; *l; l += strcspn(l, "\n") + 1)
        ck_assert_uint_eq(strcspn(l, "\n"), first_len);
    free(text);
    ck_assert_int_eq(tsr_profiler_print_table(&f.ctx, NULL), TSR_E_INVALID_ARG);
    fake_fini(&f);
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
    tcase_add_test(tc, test_trace_roundtrip);
    tcase_add_test(tc, test_trace_unwritable);
    suite_add_tcase(s, tc);
    TCase *tk = tcase_create("plan");
    tcase_add_test(tk, test_contraction_flops);
    suite_add_tcase(s, tk);
    return s;
}

int main(void) {
    return ts_run_suite(profiler_suite());
}
