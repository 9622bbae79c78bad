/*
 * check_fallback.c — OpenCL failures never lose a result (issue 5, part 5).
 *
 * Faults are injected with TSR_FAULT=cl_alloc:N / cl_build:N / cl_enqueue:N and the
 * TSR_OPENCL_MEM_LIMIT cap (backends/opencl/cl_fault.h). For every N from 1 to the number of
 * such events a fault-free digits run performs (so faults land both in prepare and in runs),
 * the digits model compiled for opencl with fallback allowed must give the outputs of the
 * fault-free CPU run (within 1e-4) and end on the CPU; one past the last event nothing fails and
 * the plan stays on OpenCL. With fallback disallowed the device status comes back to the caller.
 * Without OpenCL every case is skipped (noted on stderr).
 */
#include "backends/opencl/cl_fault.h"
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

static const char *const g_kinds[3] = {"cl_alloc", "cl_build", "cl_enqueue"};

/* Digits test inputs and the fault-free CPU outputs, loaded once per process. */
static struct tsr_tensor g_x, g_ref;
static int g_loaded;

/* Sets the fault environment and re-reads it (before a context is created). */
static void set_faults(const char *fault, const char *limit) {
    if (fault)
        setenv("TSR_FAULT", fault, 1);
    else
        unsetenv("TSR_FAULT");
    if (limit)
        setenv("TSR_OPENCL_MEM_LIMIT", limit, 1);
    else
        unsetenv("TSR_OPENCL_MEM_LIMIT");
    tsr_cl_fault_reset();
}

static tsr_graph *import_digits(tsr_context *ctx) {
    struct tsr_input_shape sh = {.name = "x", .desc = g_x.desc};
    tsr_graph *g = NULL;
    tsr_status st = tsr_onnx_import_file(ctx, TSR_MODELS_DIR "/digits.onnx", &sh, 1, &g);
    ck_assert_msg(st == TSR_OK, "digits import: %s", tsr_last_error(ctx)->message);
    return g;
}

/* Loads the inputs and computes the reference on the CPU with no fault armed. */
static void load_reference(void) {
    if (g_loaded) return;
    set_faults(NULL, NULL);
    ck_assert_int_eq(tsr_npy_load(TSR_MODELS_DIR "/digits_test_x.npy", &g_x), TSR_OK);
    tsr_context *ctx = ts_context();
    tsr_graph *g = import_digits(ctx);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "cpu";
    tsr_plan *plan = NULL;
    ck_assert_int_eq(tsr_compile(ctx, g, &o, &plan), TSR_OK);
    struct tsr_tensor_desc od;
    ck_assert_int_eq(tsr_plan_output_desc(plan, 0, NULL, &od), TSR_OK);
    ck_assert_int_eq(tsr_tensor_alloc(&od, &g_ref), TSR_OK);
    ck_assert_int_eq(tsr_plan_run(plan, &g_x, 1, &g_ref, 1), TSR_OK);
    tsr_plan_destroy(plan);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
    g_loaded = 1;
}

/* Events of each kind one fault-free opencl compile (prepare[k]) and compile + two runs
 * (total[k]) perform. Returns 0 when there is no OpenCL device. */
static int count_events(unsigned long prepare[3], unsigned long total[3]) {
    set_faults(NULL, NULL);
    tsr_context *ctx = ts_context();
    if (!ts_have_opencl(ctx)) {
        tsr_context_destroy(ctx);
        return 0;
    }
    tsr_graph *g = import_digits(ctx);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "opencl:0";
    o.allow_fallback = 0;
    tsr_plan *plan = NULL;
    ck_assert_msg(tsr_compile(ctx, g, &o, &plan) == TSR_OK, "fault-free compile: %s",
                  tsr_last_error(ctx)->message);
    for (int k = 0; k < 3; k++)
        prepare[k] = tsr_cl_fault_count(k);
    struct tsr_tensor out;
    struct tsr_tensor_desc od;
    ck_assert_int_eq(tsr_plan_output_desc(plan, 0, NULL, &od), TSR_OK);
    ck_assert_int_eq(tsr_tensor_alloc(&od, &out), TSR_OK);
    for (int r = 0; r < 2; r++)
        ck_assert_int_eq(tsr_plan_run(plan, &g_x, 1, &out, 1), TSR_OK);
    ck_assert_double_le(ts_max_abs_diff(out.data, g_ref.data, (size_t)tsr_desc_elements(&od)), TOL);
    for (int k = 0; k < 3; k++)
        total[k] = tsr_cl_fault_count(k);
    ck_assert_uint_eq(tsr_cl_fault_count(-1), 0);
    tsr_tensor_free(&out);
    tsr_plan_destroy(plan);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
    return 1;
}

/* One digits compile for opencl:0 + two runs with the current fault environment. Returns the
 * status of the first failing call (TSR_OK when all succeeded); *on_cpu says where the plan
 * ended. Outputs of successful runs are checked against the CPU reference. */
static tsr_status run_digits_opencl(int allow_fallback, int *on_cpu, const char *what) {
    tsr_context *ctx = ts_context();
    tsr_graph *g = import_digits(ctx);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "opencl:0";
    o.allow_fallback = allow_fallback;
    tsr_plan *plan = NULL;
    tsr_status st = tsr_compile(ctx, g, &o, &plan);
    tsr_graph_destroy(g);
    *on_cpu = 0;
    if (st == TSR_OK) {
        struct tsr_tensor out;
        struct tsr_tensor_desc od;
        ck_assert_int_eq(tsr_plan_output_desc(plan, 0, NULL, &od), TSR_OK);
        ck_assert_int_eq(tsr_tensor_alloc(&od, &out), TSR_OK);
        for (int r = 0; r < 2 && st == TSR_OK; r++) {
            memset(out.data, 0xff,
                   (size_t)tsr_desc_elements(&od) * sizeof(float)); /* NaN: a skipped write shows */
            st = tsr_plan_run(plan, &g_x, 1, &out, 1);
            if (st == TSR_OK) {
                double err = ts_max_abs_diff(out.data, g_ref.data, (size_t)tsr_desc_elements(&od));
                ck_assert_msg(err <= TOL, "%s: run %d: max abs error %g vs the CPU run", what, r,
                              err);
            }
        }
        struct tsr_device_info info;
        ck_assert_int_eq(tsr_plan_device(plan, &info), TSR_OK);
        *on_cpu = !strcmp(info.backend, "cpu");
        tsr_tensor_free(&out);
        tsr_plan_destroy(plan);
    }
    tsr_context_destroy(ctx);
    return st;
}

/* Every Nth event of kind k, N = 1 .. total + 1, with fallback allowed. */
static void sweep_kind(int k) {
    load_reference();
    unsigned long prepare[3], total[3];
    if (!count_events(prepare, total)) return;
    ck_assert_msg(total[k] >= 1, "%s: a fault-free digits run has no such event", g_kinds[k]);
    if (k == 2) /* enqueues happen at prepare (constants) and in every run */
        ck_assert_msg(prepare[k] >= 1 && total[k] > prepare[k], "enqueues: prepare %lu total %lu",
                      prepare[k], total[k]);
    for (unsigned long n = 1; n <= total[k] + 1; n++) {
        char spec[64], what[96];
        snprintf(spec, sizeof spec, "%s:%lu", g_kinds[k], n);
        snprintf(what, sizeof what, "TSR_FAULT=%s (%s)", spec,
                 n <= prepare[k] ? "in prepare"
                 : n <= total[k] ? "in a run"
                                 : "past the last");
        set_faults(spec, NULL);
        int on_cpu = 0;
        tsr_status st = run_digits_opencl(1, &on_cpu, what);
        ck_assert_msg(st == TSR_OK, "%s: %s: %s", what, tsr_status_name(st),
                      tsr_last_error(NULL)->message);
        unsigned long injected = tsr_cl_fault_count(-1);
        if (n <= total[k]) {
            ck_assert_msg(injected == 1, "%s: %lu faults injected", what, injected);
            ck_assert_msg(on_cpu, "%s: the plan should have fallen back to the cpu", what);
        } else {
            ck_assert_msg(injected == 0, "%s: %lu faults injected", what, injected);
            ck_assert_msg(!on_cpu, "%s: no fault, yet the plan left opencl:0", what);
        }
    }
    set_faults(NULL, NULL);
}

START_TEST(test_alloc_faults) {
    sweep_kind(0);
}
END_TEST

START_TEST(test_build_faults) {
    sweep_kind(1);
}
END_TEST

START_TEST(test_enqueue_faults) {
    sweep_kind(2);
}
END_TEST

/* A device pool capped below the model's memory falls back; uncapped it does not. */
START_TEST(test_mem_limit) {
    load_reference();
    unsigned long prepare[3], total[3];
    if (!count_events(prepare, total)) return;
    set_faults(NULL, "4096");
    int on_cpu = 0;
    tsr_status st = run_digits_opencl(1, &on_cpu, "TSR_OPENCL_MEM_LIMIT=4096");
    ck_assert_msg(st == TSR_OK, "mem limit: %s", tsr_last_error(NULL)->message);
    ck_assert_msg(on_cpu, "TSR_OPENCL_MEM_LIMIT=4096 should force the cpu");
    ck_assert_uint_ge(tsr_cl_fault_count(-1), 1);
    set_faults(NULL, "1G");
    st = run_digits_opencl(1, &on_cpu, "TSR_OPENCL_MEM_LIMIT=1G");
    ck_assert_int_eq(st, TSR_OK);
    ck_assert_msg(!on_cpu, "a 1 GiB cap should leave digits on opencl:0");
    ck_assert_uint_eq(tsr_cl_fault_count(-1), 0);
    set_faults(NULL, NULL);
}
END_TEST

/* allow_fallback = 0: the failure's status reaches the caller, from compile or from run. */
START_TEST(test_no_fallback_statuses) {
    load_reference();
    unsigned long prepare[3], total[3];
    if (!count_events(prepare, total)) return;
    struct {
        const char *fault, *limit;
        tsr_status want;
    } cases[] = {
        {"cl_alloc:1", NULL, TSR_E_DEVICE_NOMEM},   {"cl_build:1", NULL, TSR_E_BUILD},
        {"cl_enqueue:1", NULL, TSR_E_DEVICE_NOMEM}, {NULL, "4096", TSR_E_DEVICE_NOMEM},
        {NULL, NULL, TSR_E_DEVICE_NOMEM}, /* first enqueue of a run (filled in below) */
    };
    char run_fault[64];
    snprintf(run_fault, sizeof run_fault, "cl_enqueue:%lu", prepare[2] + 1);
    cases[4].fault = run_fault;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        set_faults(cases[i].fault, cases[i].limit);
        int on_cpu = 1;
        tsr_status st = run_digits_opencl(0, &on_cpu, cases[i].fault ? cases[i].fault : "limit");
        ck_assert_msg(st == cases[i].want, "%s%s: got %s, want %s",
                      cases[i].fault ? cases[i].fault : "TSR_OPENCL_MEM_LIMIT=",
                      cases[i].limit ? cases[i].limit : "", tsr_status_name(st),
                      tsr_status_name(cases[i].want));
        ck_assert_msg(!on_cpu, "fallback disallowed, yet the plan moved to the cpu");
        ck_assert_uint_eq(tsr_cl_fault_count(-1), 1);
    }
    set_faults(NULL, NULL);
}
END_TEST

/* The fault spec parser: bad entries are ignored, good ones still apply. */
/* A plan with symbolic inputs (digits imported without override: batch symbolic, compiled at
 * batch 1) whose OpenCL specialisation fails during a run: that specialisation falls back to the
 * CPU with the right result, later re-plans target the CPU, the compiled plan keeps running on
 * OpenCL, and destroying the plan frees every specialisation (the sanitizer builds check). */
START_TEST(test_dynamic_plan_fallback) {
    load_reference();
    set_faults(NULL, NULL);
    tsr_context *ctx = ts_context();
    if (!ts_have_opencl(ctx)) {
        tsr_context_destroy(ctx);
        return;
    }
    tsr_graph *g = NULL;
    ck_assert_int_eq(tsr_onnx_import_file(ctx, TSR_MODELS_DIR "/digits.onnx", NULL, 0, &g), TSR_OK);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "opencl:0";
    tsr_plan *plan = NULL;
    ck_assert_int_eq(tsr_compile(ctx, g, &o, &plan), TSR_OK);
    tsr_graph_destroy(g);
    ck_assert_int_eq(tsr_plan_specialize(plan, &g_x.desc, 1), TSR_OK);
    struct tsr_device_info info;
    ck_assert_int_eq(tsr_plan_device(plan, &info), TSR_OK);
    ck_assert_str_eq(info.backend, "opencl");
    struct tsr_tensor_desc od;
    ck_assert_int_eq(tsr_plan_output_desc(plan, 0, NULL, &od), TSR_OK);
    struct tsr_tensor out;
    ck_assert_int_eq(tsr_tensor_alloc(&od, &out), TSR_OK);
    set_faults("cl_enqueue:1", NULL); /* the run's first enqueue fails */
    ck_assert_msg(tsr_plan_run(plan, &g_x, 1, &out, 1) == TSR_OK, "%s",
                  tsr_last_error(ctx)->message);
    ck_assert_uint_eq(tsr_cl_fault_count(-1), 1);
    set_faults(NULL, NULL);
    ck_assert_double_le(ts_max_abs_diff(out.data, g_ref.data, (size_t)tsr_desc_elements(&od)), TOL);
    ck_assert_int_eq(tsr_plan_device(plan, &info), TSR_OK);
    ck_assert_str_eq(info.backend, "cpu");
    /* a new shape after the fallback: re-planned for the CPU */
    const int64_t feat = g_x.desc.dims[1], classes = od.dims[1];
    struct tsr_tensor x5 = {{TSR_F32, 2, {5, feat}}, g_x.data};
    struct tsr_tensor y5 = {{TSR_F32, 2, {5, classes}}, out.data};
    ck_assert_int_eq(tsr_plan_run(plan, &x5, 1, &y5, 1), TSR_OK);
    ck_assert_double_le(ts_max_abs_diff(y5.data, g_ref.data, (size_t)(5 * classes)), TOL);
    ck_assert_int_eq(tsr_plan_device(plan, &info), TSR_OK);
    ck_assert_str_eq(info.backend, "cpu");
    /* the compiled plan (batch 1) did not fail: still on OpenCL */
    struct tsr_tensor x1 = {{TSR_F32, 2, {1, feat}}, g_x.data};
    struct tsr_tensor y1 = {{TSR_F32, 2, {1, classes}}, out.data};
    ck_assert_int_eq(tsr_plan_run(plan, &x1, 1, &y1, 1), TSR_OK);
    ck_assert_double_le(ts_max_abs_diff(y1.data, g_ref.data, (size_t)classes), TOL);
    ck_assert_int_eq(tsr_plan_device(plan, &info), TSR_OK);
    ck_assert_str_eq(info.backend, "opencl");
    tsr_tensor_free(&out);
    tsr_plan_destroy(plan);
    tsr_context_destroy(ctx);
}
END_TEST

START_TEST(test_bad_spec_ignored) {
    load_reference();
    unsigned long prepare[3], total[3];
    if (!count_events(prepare, total)) return;
    set_faults("bogus:1,cl_alloc:0,cl_build:x,cl_alloc", "lots");
    int on_cpu = 1;
    ck_assert_int_eq(run_digits_opencl(1, &on_cpu, "bad spec"), TSR_OK);
    ck_assert_msg(!on_cpu, "an ignored spec must not inject faults");
    ck_assert_uint_eq(tsr_cl_fault_count(-1), 0);
    set_faults("bogus:1,cl_alloc:1", NULL);
    ck_assert_int_eq(run_digits_opencl(1, &on_cpu, "mixed spec"), TSR_OK);
    ck_assert_msg(on_cpu, "cl_alloc:1 after a bad entry must still apply");
    set_faults(NULL, NULL);
}
END_TEST

static Suite *fallback_suite(void) {
    Suite *s = suite_create("fallback");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_alloc_faults);
    tcase_add_test(tc, test_build_faults);
    tcase_add_test(tc, test_enqueue_faults);
    tcase_add_test(tc, test_mem_limit);
    tcase_add_test(tc, test_no_fallback_statuses);
    tcase_add_test(tc, test_bad_spec_ignored);
    tcase_add_test(tc, test_dynamic_plan_fallback);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    /* Calibration (if the runtime measures on first compile) is not under test here. */
    setenv("TSR_CALIBRATE", "off", 1);
    return ts_run_suite(fallback_suite());
}
