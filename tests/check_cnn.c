/*
 * check_cnn.c — issue 4 end to end through the public API only: tsr_onnx_import_file →
 * tsr_compile (allow_fallback = 0) → tsr_plan_run, on the CPU and (when present) on OpenCL,
 * against outputs computed by PyTorch for the models of tests/data/cnn (written by
 * tests/data/make_cnn_models.py: ResNet-style blocks with unfolded BatchNormalization, residual
 * adds and pooling; convolutions with strides, dilation, groups, asymmetric pads; pools with and
 * without count_include_pad and ceil_mode; an elementwise zoo; Concat/Transpose/Reduce*; a small
 * transformer block; LayerNormalization and Gelu nodes).
 *
 * For every case of tests/data/cnn/cases.txt ("name n_in n_out onnx_nodes must_fuse"):
 *   - every output has PyTorch's shape and is within 1e-4 max abs error of it;
 *   - a second run of the same plan gives bit-identical outputs (outputs are poisoned before
 *     each run, so a kernel that skips elements or reads stale memory shows up);
 *   - when must_fuse is 1 (the ResNet-style models), tsr_plan_kernel_count < onnx_nodes (the
 *     number of non-Constant ONNX nodes): BN folding / epilogue fusion must actually happen.
 * Every failing case is reported by name on stderr and the test asserts zero failures at the
 * end, so one run lists them all. The same cases also run on the CPU with every fusion disabled
 * (TSR_FUSE_ALL) and on the CPU capped to its scalar ISA tier (TSR_CPU_ISA=scalar), which must
 * still match PyTorch.
 *
 * The 1e-4 bound: inputs are O(1) (|x| <= 3), reductions are at most 16·9·16 = 2304 terms of
 * O(1) products in the largest conv, so float32 summation-order differences (about
 * sqrt(n) · 2^-24 · sum|terms| in practice) stay near 1e-5; the largest reference value
 * (exp(1.5) + 1.1 inside a log, Pow of values up to 3) is O(10), where 1e-4 is still > 50 ulp.
 */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL       1e-4
#define MAX_CASES 128
#define MAX_IO    8
#define CNN_DIR   TSR_TEST_DATA_DIR "/cnn"

struct cnn_case {
    char name[64];
    int n_in, n_out;
    int n_nodes;   /* ONNX nodes other than Constant */
    int must_fuse; /* 1: the plan must launch fewer kernels than n_nodes */
};

/* Reads cases.txt ('#' lines are comments). Returns the number of cases. */
static int read_cases(struct cnn_case *cases, int max) {
    FILE *f = fopen(CNN_DIR "/cases.txt", "r");
    ck_assert_msg(f != NULL, "cannot open %s/cases.txt", CNN_DIR);
    char line[256];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        struct cnn_case *c = &cases[n];
        int got = sscanf(line, "%63s %d %d %d %d", c->name, &c->n_in, &c->n_out, &c->n_nodes,
                         &c->must_fuse);
        ck_assert_msg(got == 5, "cases.txt: bad line '%s'", line);
        ck_assert_msg(c->n_in >= 1 && c->n_in <= MAX_IO && c->n_out >= 1 && c->n_out <= MAX_IO,
                      "cases.txt: %s has %d inputs, %d outputs", c->name, c->n_in, c->n_out);
        n++;
    }
    fclose(f);
    return n;
}

/* Loads CNN_DIR/<name><suffix> into t (allocated; the caller frees). Returns the status. */
static tsr_status load_npy(struct tsr_tensor *t, const char *name, const char *suffix) {
    char p[512];
    int w = snprintf(p, sizeof p, "%s/%s%s", CNN_DIR, name, suffix);
    ck_assert_msg(w > 0 && (size_t)w < sizeof p, "path too long");
    return tsr_npy_load(p, t);
}

/* Error of the current case (empty when it passed); filled by CASE_CHECK. */
static char case_err[1024];

#define CASE_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            snprintf(case_err, sizeof case_err, __VA_ARGS__);                                      \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* Fills every output with a value no kernel produces, so an unwritten element fails. */
static void poison(struct tsr_tensor *got, int n) {
    for (int i = 0; i < n; i++) {
        float *p = got[i].data;
        for (int64_t k = 0; k < tsr_desc_elements(&got[i].desc); k++)
            p[k] = -12345.0f;
    }
}

/* Runs case c on `device` with fusion switches `disable_fusion`. Returns 0 when every check
 * passes, else -1 with the reason in case_err. *kernels receives the plan's kernel count (-1 if
 * no plan was built). */
static int run_case(tsr_context *ctx, const struct cnn_case *c, const char *device,
                    unsigned disable_fusion, int *kernels) {
    char p[512], suffix[32];
    struct tsr_tensor in[MAX_IO] = {0}, want[MAX_IO] = {0}, got[MAX_IO] = {0}, first[MAX_IO] = {0};
    tsr_graph *g = NULL;
    tsr_plan *plan = NULL;
    tsr_status st;
    case_err[0] = '\0';
    *kernels = -1;
    int w = snprintf(p, sizeof p, "%s/%s.onnx", CNN_DIR, c->name);
    ck_assert_msg(w > 0 && (size_t)w < sizeof p, "path too long");
    st = tsr_onnx_import_file(ctx, p, NULL, 0, &g);
    CASE_CHECK(st == TSR_OK, "import: %s: %s", tsr_status_name(st), tsr_last_error(ctx)->message);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = device;
    o.allow_fallback = 0; /* a failing OpenCL path must fail the test, not hide on the CPU */
    o.disable_fusion = disable_fusion;
    st = tsr_compile(ctx, g, &o, &plan);
    CASE_CHECK(st == TSR_OK, "compile: %s: %s", tsr_status_name(st), tsr_last_error(ctx)->message);
    struct tsr_device_info info;
    CASE_CHECK(tsr_plan_device(plan, &info) == TSR_OK && !strncmp(info.id, device, strlen(device)),
               "plan runs on %s, asked for %s", info.id, device);
    CASE_CHECK(tsr_plan_input_count(plan) == c->n_in && tsr_plan_output_count(plan) == c->n_out,
               "plan has %d inputs, %d outputs; the model has %d, %d", tsr_plan_input_count(plan),
               tsr_plan_output_count(plan), c->n_in, c->n_out);
    *kernels = tsr_plan_kernel_count(plan);
    for (int i = 0; i < c->n_in; i++) {
        snprintf(suffix, sizeof suffix, "_in%d.npy", i);
        st = load_npy(&in[i], c->name, suffix);
        ck_assert_msg(st == TSR_OK, "%s%s: %s", c->name, suffix, tsr_last_error(NULL)->message);
    }
    for (int i = 0; i < c->n_out; i++) {
        snprintf(suffix, sizeof suffix, "_out%d.npy", i);
        st = load_npy(&want[i], c->name, suffix);
        ck_assert_msg(st == TSR_OK, "%s%s: %s", c->name, suffix, tsr_last_error(NULL)->message);
        struct tsr_tensor_desc d;
        const char *oname = NULL;
        ck_assert_int_eq(tsr_plan_output_desc(plan, i, &oname, &d), TSR_OK);
        char a[128], b[128];
        int eq = d.rank == want[i].desc.rank;
        for (int k = 0; eq && k < d.rank; k++)
            eq = d.dims[k] == want[i].desc.dims[k];
        CASE_CHECK(eq, "output %d (%s): plan shape %s, PyTorch %s", i, oname,
                   tsr_desc_format(&d, a, sizeof a), tsr_desc_format(&want[i].desc, b, sizeof b));
        ck_assert_int_eq(tsr_tensor_alloc(&d, &got[i]), TSR_OK);
        ck_assert_int_eq(tsr_tensor_alloc(&d, &first[i]), TSR_OK);
    }
    for (int rep = 0; rep < 2; rep++) {
        poison(got, c->n_out);
        st = tsr_plan_run(plan, in, (size_t)c->n_in, got, (size_t)c->n_out);
        CASE_CHECK(st == TSR_OK, "run %d: %s: %s", rep + 1, tsr_status_name(st),
                   tsr_last_error(ctx)->message);
        for (int i = 0; i < c->n_out; i++) {
            size_t n = (size_t)tsr_desc_elements(&want[i].desc);
            if (rep == 0) {
                double err = ts_max_abs_diff(got[i].data, want[i].data, n);
                CASE_CHECK(err <= TOL, "output %d: max abs error %g > %g vs PyTorch", i, err, TOL);
                memcpy(first[i].data, got[i].data, n * sizeof(float));
            } else {
                CASE_CHECK(!memcmp(first[i].data, got[i].data, n * sizeof(float)),
                           "output %d: second run differs from the first (max diff %g)", i,
                           ts_max_abs_diff(first[i].data, got[i].data, n));
            }
        }
    }
    if (c->must_fuse && !(disable_fusion & TSR_FUSE_ALL))
        CASE_CHECK(*kernels < c->n_nodes, "plan launches %d kernels for %d ONNX nodes: no fusion",
                   *kernels, c->n_nodes);
out:
    for (int i = 0; i < MAX_IO; i++) {
        tsr_tensor_free(&in[i]);
        tsr_tensor_free(&want[i]);
        tsr_tensor_free(&got[i]);
        tsr_tensor_free(&first[i]);
    }
    tsr_plan_destroy(plan);
    tsr_graph_destroy(g);
    return case_err[0] ? -1 : 0;
}

/* Runs every case on `device`, reports each failure by name (with `mode`, e.g. " (scalar ISA)",
 * after the device), asserts none failed. */
static void run_all(const char *device, unsigned disable_fusion, const char *mode) {
    tsr_context *ctx = ts_context();
    if (strcmp(device, "cpu") && !ts_have_opencl(ctx)) {
        tsr_context_destroy(ctx);
        return;
    }
    static struct cnn_case cases[MAX_CASES];
    int n = read_cases(cases, MAX_CASES);
    ck_assert_int_ge(n, 50);
    int failed = 0, fused = 0;
    char names[2048] = "";
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        int kernels = -1;
        fused += cases[i].must_fuse;
        if (run_case(ctx, &cases[i], device, disable_fusion, &kernels) == 0) {
            fprintf(stderr, "ok   %-28s on %s%s: %d kernels for %d ONNX nodes\n", cases[i].name,
                    device, mode, kernels, cases[i].n_nodes);
            continue;
        }
        fprintf(stderr, "FAIL %-28s on %s%s: %s\n", cases[i].name, device, mode, case_err);
        failed++;
        int w =
            snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", cases[i].name);
        if (w > 0 && used + (size_t)w < sizeof names) used += (size_t)w;
    }
    tsr_context_destroy(ctx);
    ck_assert_msg(fused >= 1, "cases.txt has no must_fuse case");
    ck_assert_msg(failed == 0, "%d of %d cases failed on %s%s: %s", failed, n, device, mode, names);
}

START_TEST(test_cnn_cpu) {
    run_all("cpu", 0, "");
}
END_TEST

START_TEST(test_cnn_opencl) {
    run_all("opencl", 0, "");
}
END_TEST

START_TEST(test_cnn_cpu_unfused) {
    run_all("cpu", TSR_FUSE_ALL, " (fusion disabled)");
}
END_TEST

/* The CPU capped to its scalar tier (TSR_CPU_ISA, read when the context is created; Check runs
 * each test in its own process, so the setting does not leak into the other tests). */
START_TEST(test_cnn_cpu_scalar) {
    ck_assert_int_eq(setenv("TSR_CPU_ISA", "scalar", 1), 0);
    run_all("cpu", 0, " (scalar ISA)");
    unsetenv("TSR_CPU_ISA");
}
END_TEST

/* The data set itself: the ResNet block is there, keeps its BatchNormalization nodes (14
 * non-Constant nodes: 3 x Conv+BN(+ReLU), Add, ReLU, MaxPool, GlobalAveragePool, Flatten,
 * Gemm) and must fuse; so the kernel-count check above cannot pass vacuously. */
START_TEST(test_cases_file) {
    static struct cnn_case cases[MAX_CASES];
    int n = read_cases(cases, MAX_CASES);
    int found = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(cases[i].name, "resnet_block")) continue;
        found = 1;
        ck_assert_int_eq(cases[i].n_nodes, 14);
        ck_assert_int_eq(cases[i].must_fuse, 1);
    }
    ck_assert_msg(found, "resnet_block missing from cases.txt");
    FILE *f = fopen(CNN_DIR "/resnet_block.onnx", "rb");
    ck_assert_msg(f != NULL, "resnet_block.onnx missing");
    static char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    int bn = 0;
    for (size_t i = 0; i + 18 <= len; i++)
        bn += !memcmp(buf + i, "BatchNormalization", 18);
    ck_assert_int_ge(bn, 3);
}
END_TEST

static Suite *cnn_suite(void) {
    Suite *s = suite_create("cnn");
    TCase *tc = tcase_create("cnn");
    tcase_add_test(tc, test_cases_file);
    tcase_add_test(tc, test_cnn_cpu);
    tcase_add_test(tc, test_cnn_opencl);
    tcase_add_test(tc, test_cnn_cpu_unfused);
    tcase_add_test(tc, test_cnn_cpu_scalar);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(cnn_suite());
}
