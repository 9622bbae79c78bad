/*
 * check_models.c — end to end through the public API only: tsr_onnx_import_file → tsr_compile →
 * tsr_plan_run, on the CPU and (when present) on OpenCL, against outputs computed by PyTorch:
 *   - every model of tests/data/cases.txt (made by tests/data/make_test_models.py) within 1e-4
 *     max abs error;
 *   - the digits MLP of models/ (made by models/make_digits.py) on its 360 real test images:
 *     logits within 1e-4 of PyTorch's and >= 95 % top-1 accuracy against the true labels;
 *   - a wrong input shape at run time gives TSR_E_SHAPE naming both shapes.
 * The 1e-4 bound: values are O(1) (inputs in [-3, 3]), reductions are at most 64 terms long, so
 * float32 differences between summation orders (about n * 2^-24 * |terms|) stay near 1e-5.
 */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

struct model_case {
    char name[64];
    int n_in, n_out;
};

/* Reads cases.txt, then preproc/cases.txt (the tessera-domain preprocessing ops with numpy
 * outputs, made by tests/data/preproc/make_preproc_models.py; names "preproc/<case>"). */
static int read_cases(struct model_case *cases, int max) {
    static const char *const lists[] = {TSR_TEST_DATA_DIR "/cases.txt",
                                        TSR_TEST_DATA_DIR "/preproc/cases.txt"};
    int n = 0;
    for (int l = 0; l < 2; l++) {
        FILE *f = fopen(lists[l], "r");
        ck_assert_msg(f != NULL, "cannot open %s", lists[l]);
        while (n < max &&
               fscanf(f, "%63s %d %d", cases[n].name, &cases[n].n_in, &cases[n].n_out) == 3)
            n++;
        fclose(f);
    }
    return n;
}

static void load_npy(struct tsr_tensor *t, const char *dir, const char *name, const char *suffix) {
    char p[512];
    int w = snprintf(p, sizeof p, "%s/%s%s", dir, name, suffix);
    ck_assert_msg(w > 0 && (size_t)w < sizeof p, "path too long");
    tsr_status st = tsr_npy_load(p, t);
    ck_assert_msg(st == TSR_OK, "%s: %s", p, tsr_last_error(NULL)->message);
}

static tsr_plan *compile_for(tsr_context *ctx, const tsr_graph *g, const char *device,
                             const char *what) {
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = device;
    o.allow_fallback = 0; /* a failing OpenCL path must fail the test, not hide on the CPU */
    tsr_plan *plan = NULL;
    tsr_status st = tsr_compile(ctx, g, &o, &plan);
    ck_assert_msg(st == TSR_OK, "%s on %s: compile: %s: %s", what, device, tsr_status_name(st),
                  tsr_last_error(ctx)->message);
    struct tsr_device_info info;
    ck_assert_int_eq(tsr_plan_device(plan, &info), TSR_OK);
    ck_assert_msg(!strncmp(info.id, device, strlen(device)), "%s: plan runs on %s, asked for %s",
                  what, info.id, device);
    return plan;
}

/* Error of the current case (empty when it passed); filled by the CASE_CHECK macro. */
static char case_err[1024];

#define CASE_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            snprintf(case_err, sizeof case_err, __VA_ARGS__);                                      \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* Runs one case of cases.txt on `device` and compares every output with PyTorch's. Returns 0
 * when it matches, else -1 with the reason in case_err (so one run reports every failing case). */
static int run_case(tsr_context *ctx, const struct model_case *c, const char *device) {
    char p[512], suffix[32];
    struct tsr_tensor in[8] = {0}, want[8] = {0}, got[8] = {0};
    tsr_graph *g = NULL;
    tsr_plan *plan = NULL;
    case_err[0] = '\0';
    ck_assert_int_le(c->n_in, 8);
    ck_assert_int_le(c->n_out, 8);
    int w = snprintf(p, sizeof p, "%s/%s.onnx", TSR_TEST_DATA_DIR, c->name);
    ck_assert_msg(w > 0 && (size_t)w < sizeof p, "path too long");
    tsr_status st = tsr_onnx_import_file(ctx, p, NULL, 0, &g);
    CASE_CHECK(st == TSR_OK, "import: %s", tsr_last_error(ctx)->message);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = device;
    o.allow_fallback = 0; /* a failing OpenCL path must fail the test, not hide on the CPU */
    st = tsr_compile(ctx, g, &o, &plan);
    CASE_CHECK(st == TSR_OK, "compile: %s: %s", tsr_status_name(st), tsr_last_error(ctx)->message);
    struct tsr_device_info info;
    CASE_CHECK(tsr_plan_device(plan, &info) == TSR_OK && !strncmp(info.id, device, strlen(device)),
               "plan runs on %s", info.id);
    CASE_CHECK(tsr_plan_input_count(plan) == c->n_in && tsr_plan_output_count(plan) == c->n_out,
               "plan has %d inputs, %d outputs", tsr_plan_input_count(plan),
               tsr_plan_output_count(plan));
    for (int i = 0; i < c->n_in; i++) {
        snprintf(suffix, sizeof suffix, "_in%d.npy", i);
        load_npy(&in[i], TSR_TEST_DATA_DIR, c->name, suffix);
    }
    for (int i = 0; i < c->n_out; i++) {
        snprintf(suffix, sizeof suffix, "_out%d.npy", i);
        load_npy(&want[i], TSR_TEST_DATA_DIR, c->name, suffix);
        struct tsr_tensor_desc d;
        const char *oname = NULL;
        ck_assert_int_eq(tsr_plan_output_desc(plan, i, &oname, &d), TSR_OK);
        ck_assert_int_eq(tsr_tensor_alloc(&d, &got[i]), TSR_OK);
        /* poison: an output the plan never writes must not pass by accident */
        float *gp = got[i].data;
        for (int64_t k = 0; k < tsr_desc_elements(&d); k++)
            gp[k] = -12345.0f;
    }
    st = tsr_plan_run(plan, in, (size_t)c->n_in, got, (size_t)c->n_out);
    CASE_CHECK(st == TSR_OK, "run: %s: %s", tsr_status_name(st), tsr_last_error(ctx)->message);
    for (int i = 0; i < c->n_out; i++) {
        char a[128], b[128];
        const struct tsr_tensor_desc *gd = &got[i].desc, *wd = &want[i].desc;
        int eq = gd->rank == wd->rank;
        for (int k = 0; eq && k < gd->rank; k++)
            eq = gd->dims[k] == wd->dims[k];
        CASE_CHECK(eq, "output %d: shape %s, PyTorch %s", i, tsr_desc_format(gd, a, sizeof a),
                   tsr_desc_format(wd, b, sizeof b));
        double err = ts_max_abs_diff(got[i].data, want[i].data, (size_t)tsr_desc_elements(wd));
        CASE_CHECK(err <= TOL, "output %d: max abs error %g > %g", i, err, TOL);
    }
out:
    for (int i = 0; i < c->n_in; i++)
        tsr_tensor_free(&in[i]);
    for (int i = 0; i < c->n_out; i++) {
        tsr_tensor_free(&want[i]);
        tsr_tensor_free(&got[i]);
    }
    tsr_plan_destroy(plan);
    tsr_graph_destroy(g);
    return case_err[0] ? -1 : 0;
}

static void run_all_cases(const char *device) {
    tsr_context *ctx = ts_context();
    if (strcmp(device, "cpu") && !ts_have_opencl(ctx)) {
        tsr_context_destroy(ctx);
        return;
    }
    struct model_case cases[256];
    int n = read_cases(cases, 256);
    ck_assert_int_ge(n, 30);
    int failed = 0;
    char first[1200] = "";
    for (int i = 0; i < n; i++) {
        if (run_case(ctx, &cases[i], device) == 0) continue;
        fprintf(stderr, "FAIL %s on %s: %s\n", cases[i].name, device, case_err);
        if (!failed++) snprintf(first, sizeof first, "%.60s: %.1000s", cases[i].name, case_err);
    }
    tsr_context_destroy(ctx);
    ck_assert_msg(failed == 0, "%d of %d cases failed on %s; first: %s", failed, n, device, first);
}

START_TEST(test_cases_cpu) {
    run_all_cases("cpu");
}
END_TEST

START_TEST(test_cases_opencl) {
    run_all_cases("opencl");
}
END_TEST

/* digits: logits vs PyTorch and accuracy vs the true labels on one device. */
static void run_digits(const char *device) {
    tsr_context *ctx = ts_context();
    if (strcmp(device, "cpu") && !ts_have_opencl(ctx)) {
        tsr_context_destroy(ctx);
        return;
    }
    struct tsr_tensor x, y, ref;
    load_npy(&x, TSR_MODELS_DIR, "digits_test_x", ".npy");
    load_npy(&y, TSR_MODELS_DIR, "digits_test_y", ".npy");
    load_npy(&ref, TSR_MODELS_DIR, "digits_test_logits", ".npy");
    ck_assert_int_eq(x.desc.rank, 2);
    ck_assert_int_eq(x.desc.dims[1], 64);
    ck_assert_int_eq(y.desc.dtype, TSR_I64);
    int64_t n = x.desc.dims[0];
    ck_assert_int_ge(n, 300);

    struct tsr_input_shape sh = {.name = "x", .desc = x.desc};
    tsr_graph *g = NULL;
    tsr_status st = tsr_onnx_import_file(ctx, TSR_MODELS_DIR "/digits.onnx", &sh, 1, &g);
    ck_assert_msg(st == TSR_OK, "digits import: %s", tsr_last_error(ctx)->message);
    tsr_plan *plan = compile_for(ctx, g, device, "digits");
    tsr_graph_destroy(g);

    struct tsr_tensor out;
    struct tsr_tensor_desc od;
    const char *oname = NULL;
    ck_assert_int_eq(tsr_plan_output_desc(plan, 0, &oname, &od), TSR_OK);
    ck_assert_str_eq(oname, "logits");
    ck_assert_int_eq(od.rank, 2);
    ck_assert_int_eq(od.dims[0], n);
    ck_assert_int_eq(od.dims[1], 10);
    ck_assert_int_eq(tsr_tensor_alloc(&od, &out), TSR_OK);
    /* run twice: a plan is reusable and gives the same answer */
    for (int rep = 0; rep < 2; rep++) {
        memset(out.data, 0, (size_t)n * 10 * sizeof(float));
        st = tsr_plan_run(plan, &x, 1, &out, 1);
        ck_assert_msg(st == TSR_OK, "digits run on %s: %s", device, tsr_last_error(ctx)->message);
        double err = ts_max_abs_diff(out.data, ref.data, (size_t)n * 10);
        ck_assert_msg(err <= TOL, "digits on %s: logits max abs error %g > %g", device, err, TOL);
    }
    const float *lg = out.data;
    const int64_t *lab = y.data;
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++) {
        int best = 0;
        for (int k = 1; k < 10; k++)
            if (lg[i * 10 + k] > lg[i * 10 + best]) best = k;
        correct += best == lab[i];
    }
    double acc = (double)correct / (double)n;
    fprintf(stderr, "digits on %s: top-1 accuracy %.2f %% (%lld / %lld)\n", device, acc * 100,
            (long long)correct, (long long)n);
    ck_assert_msg(acc >= 0.95, "digits on %s: accuracy %.4f < 0.95", device, acc);

    /* issue 12: an image with a NaN pixel (image 3: all of them, image 7: one) gets NaN logits,
     * as in ONNX Runtime and PyTorch (NaN propagates through Gemm and Relu; fmax-style Relu
     * returned finite, confident logits); the other images' logits are unchanged */
    struct tsr_tensor xn;
    ck_assert_int_eq(tsr_tensor_alloc(&x.desc, &xn), TSR_OK);
    memcpy(xn.data, x.data, (size_t)n * 64 * sizeof(float));
    float *xf = xn.data;
    for (int k = 0; k < 64; k++)
        xf[3 * 64 + k] = NAN;
    xf[7 * 64 + 20] = NAN;
    st = tsr_plan_run(plan, &xn, 1, &out, 1);
    ck_assert_msg(st == TSR_OK, "digits NaN run on %s: %s", device, tsr_last_error(ctx)->message);
    const float *ln = out.data, *lr = ref.data;
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 10; k++) {
            const float v = ln[i * 10 + k];
            if (i == 3 || i == 7)
                ck_assert_msg(isnan(v), "digits on %s: image %lld has a NaN pixel, logit %d is %g",
                              device, (long long)i, k, v);
            else
                ck_assert_msg(fabsf(v - lr[i * 10 + k]) <= TOL,
                              "digits on %s: image %lld logit %d %g, reference %g", device,
                              (long long)i, k, v, lr[i * 10 + k]);
        }
    tsr_tensor_free(&xn);

    /* wrong input shape: the first 10 images against a plan for n */
    struct tsr_tensor small = x;
    small.desc.dims[0] = 10;
    st = tsr_plan_run(plan, &small, 1, &out, 1);
    ck_assert_int_eq(st, TSR_E_SHAPE);
    const char *msg = tsr_last_error(ctx)->message;
    char want_shape[64];
    snprintf(want_shape, sizeof want_shape, "[%lld, 64]", (long long)n);
    ck_assert_msg(strstr(msg, "[10, 64]") && strstr(msg, want_shape),
                  "message '%s' should name [10, 64] and %s", msg, want_shape);

    tsr_tensor_free(&out);
    tsr_tensor_free(&x);
    tsr_tensor_free(&y);
    tsr_tensor_free(&ref);
    tsr_plan_destroy(plan);
    tsr_context_destroy(ctx);
}

START_TEST(test_digits_cpu) {
    run_digits("cpu");
}
END_TEST

START_TEST(test_digits_opencl) {
    run_digits("opencl");
}
END_TEST

static Suite *models_suite(void) {
    Suite *s = suite_create("models");
    TCase *tc = tcase_create("models");
    tcase_add_test(tc, test_cases_cpu);
    tcase_add_test(tc, test_cases_opencl);
    tcase_add_test(tc, test_digits_cpu);
    tcase_add_test(tc, test_digits_opencl);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(models_suite());
}
