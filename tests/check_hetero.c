/*
 * check_hetero.c — placement across devices (issue 5, part 4): scheduler/place.h (HEFT) and
 * runtime/hetero.h (per-device segments).
 *
 * Checked: for the digits model, a builder graph (two inputs, an intermediate that is also a
 * graph output, GEMM + bias + ReLU, MatMul + residual + Tanh) and the ResNet block with a feature
 * output, the plans placed by HEFT ("hetero") and by the forced round-robin ("alternate": kernel
 * k on device k mod N, so every crossing between devices is exercised when N > 1) produce the
 * outputs of the single-device CPU plan within 1e-4 (and the builder graph matches plain scalar
 * loops written here, the digits logits PyTorch's). Kernel k of an alternate plan reports device
 * k mod N. With OpenCL hidden N = 1 and every placement runs on the CPU. With a fault injected
 * into the Nth OpenCL enqueue, allocation or build, the alternate plan still completes with the
 * fault-free outputs.
 * The sequential prediction of an all-CPU assignment equals the CPU program prediction, and
 * HEFT assigns every kernel to an existing device. A bad placement string is TSR_E_INVALID_ARG.
 */
#include "test_support.h"

#ifdef TSR_WITH_OPENCL
#include "backends/opencl/cl_fault.h"
#endif
#include "runtime/backend.h"
#include "runtime/hetero.h"
#include "runtime/plan_internal.h"
#include "scheduler/cost.h"
#include "scheduler/place.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

/* Compiles g with the given placement (device auto); fails the test on error. */
static tsr_plan *compile_placed(tsr_context *ctx, const tsr_graph *g, const char *device,
                                const char *placement) {
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = device;
    o.placement = placement;
    tsr_plan *plan = NULL;
    tsr_status st = tsr_compile(ctx, g, &o, &plan);
    ck_assert_msg(st == TSR_OK, "compile (%s, %s): %s: %s", device, placement, tsr_status_name(st),
                  tsr_last_error(ctx)->message);
    return plan;
}

/* Runs plan on inputs; outs[i] allocated here (caller frees). */
static void run_plan(tsr_context *ctx, tsr_plan *plan, const struct tsr_tensor *in, int n_in,
                     struct tsr_tensor *outs) {
    int n_out = tsr_plan_output_count(plan);
    for (int i = 0; i < n_out; i++) {
        struct tsr_tensor_desc d;
        ck_assert_int_eq(tsr_plan_output_desc(plan, i, NULL, &d), TSR_OK);
        ck_assert_int_eq(tsr_tensor_alloc(&d, &outs[i]), TSR_OK);
        for (int64_t e = 0; e < tsr_desc_elements(&d); e++)
            ((float *)outs[i].data)[e] = NAN; /* a missing write shows */
    }
    tsr_status st = tsr_plan_run(plan, in, (size_t)n_in, outs, (size_t)n_out);
    ck_assert_msg(st == TSR_OK, "run: %s: %s", tsr_status_name(st), tsr_last_error(ctx)->message);
}

/* Compiles g on the CPU alone and with `placement`, runs both (the placed plan twice: it is
 * reusable) and compares every output within TOL. With "alternate" and no segment moved to the
 * CPU, kernel k must report device k mod N. Returns the number of segments that fell back. */
static int compare_placement(tsr_context *ctx, const tsr_graph *g, const struct tsr_tensor *in,
                             int n_in, const char *placement, const char *what) {
    tsr_plan *ref_plan = compile_placed(ctx, g, "cpu", "single");
    struct tsr_tensor ref[8], got[8];
    memset(ref, 0, sizeof ref);
    memset(got, 0, sizeof got);
    int n_out = tsr_plan_output_count(ref_plan);
    ck_assert_int_le(n_out, 8);
    run_plan(ctx, ref_plan, in, n_in, ref);

    tsr_plan *plan = compile_placed(ctx, g, "auto", placement);
    int n_dev = tsr_device_count(ctx);
    int fallbacks = plan->hetero ? tsr_hetero_fallbacks(plan->hetero) : 0;
    if (!strcmp(placement, "alternate") && !fallbacks) {
        for (int k = 0; k < tsr_plan_kernel_count(plan); k++) {
            struct tsr_kernel_info ki;
            struct tsr_device_info di;
            ck_assert_int_eq(tsr_plan_kernel_info(plan, k, &ki), TSR_OK);
            ck_assert_int_eq(tsr_device_get_info(ctx, k % n_dev, &di), TSR_OK);
            ck_assert_msg(!strcmp(ki.device, di.id), "%s alternate: kernel %d on %s, want %s", what,
                          k, ki.device, di.id);
        }
    }
    for (int rep = 0; rep < 2; rep++) {
        run_plan(ctx, plan, in, n_in, got);
        for (int i = 0; i < n_out; i++) {
            size_t n = (size_t)tsr_desc_elements(&ref[i].desc);
            ck_assert(tsr_desc_equal(&ref[i].desc, &got[i].desc));
            double err = ts_max_abs_diff(ref[i].data, got[i].data, n);
            ck_assert_msg(err <= TOL,
                          "%s placement %s (run %d): output %d differs from the CPU run by %g",
                          what, placement, rep, i, err);
            tsr_tensor_free(&got[i]);
        }
    }
    fprintf(stderr, "%s, placement %s on %d device(s): %s\n", what, placement, n_dev,
            tsr_plan_device_reason(plan));
    for (int i = 0; i < n_out; i++)
        tsr_tensor_free(&ref[i]);
    if (plan->hetero) fallbacks = tsr_hetero_fallbacks(plan->hetero);
    tsr_plan_destroy(plan);
    tsr_plan_destroy(ref_plan);
    return fallbacks;
}

static void load_npy(struct tsr_tensor *t, const char *path) {
    tsr_status st = tsr_npy_load(path, t);
    ck_assert_msg(st == TSR_OK, "load %s: %s", path, tsr_last_error(NULL)->message);
}

static tsr_graph *import_digits(tsr_context *ctx, const struct tsr_tensor *x) {
    struct tsr_input_shape sh = {.name = "x", .desc = x->desc};
    tsr_graph *g = NULL;
    tsr_status st = tsr_onnx_import_file(ctx, TSR_MODELS_DIR "/digits.onnx", &sh, 1, &g);
    ck_assert_msg(st == TSR_OK, "digits import: %s", tsr_last_error(ctx)->message);
    return g;
}

static void digits_case(const char *placement) {
    tsr_context *ctx = ts_context();
    struct tsr_tensor x, ref;
    load_npy(&x, TSR_MODELS_DIR "/digits_test_x.npy");
    load_npy(&ref, TSR_MODELS_DIR "/digits_test_logits.npy");
    tsr_graph *g = import_digits(ctx, &x);
    compare_placement(ctx, g, &x, 1, placement, "digits");
    /* and against PyTorch */
    tsr_plan *plan = compile_placed(ctx, g, "auto", placement);
    /* tessera/sched.h: a requested placement is kept, unless there is only one device */
    ck_assert_str_eq(tsr_plan_placement(plan), tsr_device_count(ctx) > 1 ? placement : "single");
    struct tsr_tensor out[1];
    run_plan(ctx, plan, &x, 1, out);
    double err = ts_max_abs_diff(out[0].data, ref.data, (size_t)tsr_desc_elements(&ref.desc));
    ck_assert_msg(err <= TOL, "digits %s vs PyTorch: %g", placement, err);
    tsr_tensor_free(&out[0]);
    tsr_plan_destroy(plan);
    tsr_graph_destroy(g);
    tsr_tensor_free(&x);
    tsr_tensor_free(&ref);
    tsr_context_destroy(ctx);
}

START_TEST(test_digits_alternate) {
    digits_case("alternate");
}
END_TEST

START_TEST(test_digits_hetero) {
    digits_case("hetero");
}
END_TEST

/* Builder graph: h = relu(X·W1 + b1) (also output "hidden"), y = tanh(h·W2 + X2).
 * X [B,K], W1 [K,H], b1 [H], W2 [H,N], X2 [B,N]. */
enum { B = 37, K = 24, H = 40, N = 19 };
struct mlp_data {
    float x[B * K], w1[K * H], b1[H], w2[H * N], x2[B * N];
};

static tsr_graph *build_mlp(tsr_context *ctx, const struct mlp_data *d) {
    tsr_graph *g = NULL;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    int64_t dx[2] = {B, K}, dw1[2] = {K, H}, db1[1] = {H}, dw2[2] = {H, N}, dx2[2] = {B, N};
    struct tsr_tensor_desc sx = ts_desc(2, dx), sw1 = ts_desc(2, dw1), sb1 = ts_desc(1, db1),
                           sw2 = ts_desc(2, dw2), sx2 = ts_desc(2, dx2);
    tsr_value x, x2, w1, b1, w2, mm, h, mm2, s, y;
    ck_assert_int_eq(tsr_graph_input(g, "X", &sx, &x), TSR_OK);
    ck_assert_int_eq(tsr_graph_input(g, "X2", &sx2, &x2), TSR_OK);
    ck_assert_int_eq(tsr_graph_constant(g, "W1", &sw1, d->w1, &w1), TSR_OK);
    ck_assert_int_eq(tsr_graph_constant(g, "b1", &sb1, d->b1, &b1), TSR_OK);
    ck_assert_int_eq(tsr_graph_constant(g, "W2", &sw2, d->w2, &w2), TSR_OK);
    tsr_value in[3] = {x, w1, b1};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_GEMM, in, 3, NULL, "fc1", &mm), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RELU, &mm, 1, NULL, "relu1", &h), TSR_OK);
    tsr_value in2[2] = {h, w2};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MATMUL, in2, 2, NULL, "fc2", &mm2), TSR_OK);
    tsr_value in3[2] = {mm2, x2};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_ADD, in3, 2, NULL, "res", &s), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_TANH, &s, 1, NULL, "tanh", &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "hidden", h), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "y", y), TSR_OK);
    return g;
}

static void mlp_case(const char *placement) {
    tsr_context *ctx = ts_context();
    struct mlp_data *d = malloc(sizeof *d);
    ck_assert_ptr_nonnull(d);
    ts_fill_uniform(d->x, B * K, 1, -1, 1);
    ts_fill_uniform(d->w1, K * H, 2, -0.5f, 0.5f);
    ts_fill_uniform(d->b1, H, 3, -0.5f, 0.5f);
    ts_fill_uniform(d->w2, H * N, 4, -0.5f, 0.5f);
    ts_fill_uniform(d->x2, B * N, 5, -1, 1);
    tsr_graph *g = build_mlp(ctx, d);
    int64_t dx[2] = {B, K}, dx2[2] = {B, N};
    struct tsr_tensor in[2] = {{.desc = ts_desc(2, dx), .data = d->x},
                               {.desc = ts_desc(2, dx2), .data = d->x2}};
    compare_placement(ctx, g, in, 2, placement, "builder MLP");

    /* Independent reference: scalar loops in double. */
    tsr_plan *plan = compile_placed(ctx, g, "auto", placement);
    struct tsr_tensor out[2];
    run_plan(ctx, plan, in, 2, out);
    static double hid[B * H];
    double worst = 0.0;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < H; j++) {
            double acc = d->b1[j];
            for (int k = 0; k < K; k++)
                acc += (double)d->x[b * K + k] * d->w1[k * H + j];
            hid[b * H + j] = acc > 0 ? acc : 0;
            worst = fmax(worst, fabs(hid[b * H + j] - ((float *)out[0].data)[b * H + j]));
        }
    for (int b = 0; b < B; b++)
        for (int j = 0; j < N; j++) {
            double acc = d->x2[b * N + j];
            for (int k = 0; k < H; k++)
                acc += hid[b * H + k] * d->w2[k * N + j];
            worst = fmax(worst, fabs(tanh(acc) - ((float *)out[1].data)[b * N + j]));
        }
    ck_assert_msg(worst <= TOL, "builder MLP %s vs scalar loops: %g", placement, worst);
    tsr_tensor_free(&out[0]);
    tsr_tensor_free(&out[1]);
    tsr_plan_destroy(plan);
    tsr_graph_destroy(g);
    free(d);
    tsr_context_destroy(ctx);
}

START_TEST(test_mlp_alternate) {
    mlp_case("alternate");
}
END_TEST

START_TEST(test_mlp_hetero) {
    mlp_case("hetero");
}
END_TEST

/* ResNet block whose feature map is also a graph output (conv, residual, pooling kernels). */
START_TEST(test_resnet_feat_alternate) {
    tsr_context *ctx = ts_context();
    struct tsr_tensor x;
    load_npy(&x, TSR_TEST_DATA_DIR "/cnn/resnet_block_feat_in0.npy");
    tsr_graph *g = NULL;
    tsr_status st =
        tsr_onnx_import_file(ctx, TSR_TEST_DATA_DIR "/cnn/resnet_block_feat.onnx", NULL, 0, &g);
    ck_assert_msg(st == TSR_OK, "import: %s", tsr_last_error(ctx)->message);
    compare_placement(ctx, g, &x, 1, "alternate", "resnet_block_feat");
    compare_placement(ctx, g, &x, 1, "hetero", "resnet_block_feat");
    tsr_graph_destroy(g);
    tsr_tensor_free(&x);
    tsr_context_destroy(ctx);
}
END_TEST

#ifdef TSR_WITH_OPENCL /* fault injection is the OpenCL backend's (cl_fault.h) */
/* A failing OpenCL enqueue in an alternate plan moves that segment to the CPU; outputs equal the
 * fault-free CPU run. Every enqueue number of the first runs is tried. */
START_TEST(test_fault_alternate) {
    struct tsr_tensor x;
    load_npy(&x, TSR_MODELS_DIR "/digits_test_x.npy");
    const char *kinds[] = {"cl_enqueue", "cl_alloc", "cl_build"};
    for (int n = 1; n <= 12; n++) {
        char spec[32];
        snprintf(spec, sizeof spec, "%s:%d", kinds[n % 3], (n + 2) / 3);
        setenv("TSR_FAULT", spec, 1);
        tsr_cl_fault_reset();
        tsr_context *ctx = ts_context();
        tsr_graph *g = import_digits(ctx, &x);
        int fb = compare_placement(ctx, g, &x, 1, "alternate", spec);
        /* the first event of each kind is in the first OpenCL segment: it must have moved */
        if (ts_have_opencl(ctx) && (n + 2) / 3 == 1)
            ck_assert_msg(fb > 0, "%s: no segment fell back", spec);
        tsr_graph_destroy(g);
        tsr_context_destroy(ctx);
    }
    unsetenv("TSR_FAULT");
    tsr_cl_fault_reset();
    tsr_tensor_free(&x);
}
END_TEST
#endif

/* Sequential prediction: all kernels on the CPU = the CPU program prediction; HEFT assigns
 * every kernel to a device of the context. */
START_TEST(test_predict_and_heft) {
    tsr_context *ctx = ts_context();
    struct tsr_tensor x;
    load_npy(&x, TSR_MODELS_DIR "/digits_test_x.npy");
    tsr_graph *g = import_digits(ctx, &x);
    tsr_plan *plan = compile_placed(ctx, g, "cpu", "single");
    const struct tsr_program *p = &plan->prog;
    ck_assert_int_gt(p->n_kernels, 0);
    int *a = calloc((size_t)p->n_kernels, sizeof *a);
    ck_assert_ptr_nonnull(a);
    int segs = 0;
    double all_cpu = tsr_sched_place_predict_ms(ctx, p, a, &segs);
    ck_assert_int_eq(segs, 1);
    ck_assert_double_eq_tol(all_cpu, tsr_sched_predict_program_ms(&ctx->devices[0].info, p), 1e-9);
    ck_assert_double_eq_tol(all_cpu, tsr_plan_predicted_ms(plan), 1e-9);
    /* tessera/sched.h: the placement, and per-kernel predictions that add up to at most the
     * plan's (which adds the per-run overhead) */
    ck_assert_str_eq(tsr_plan_placement(plan), "single");
    ck_assert_str_eq(tsr_plan_placement(NULL), "");
    ck_assert(isinf(tsr_plan_predicted_ms(NULL)));
    double sum = 0.0;
    for (int k = 0; k < tsr_plan_kernel_count(plan); k++) {
        double ms = -1.0;
        ck_assert_int_eq(tsr_plan_kernel_predicted_ms(plan, k, &ms), TSR_OK);
        ck_assert_msg(ms > 0 && isfinite(ms), "kernel %d: predicted %g ms", k, ms);
        sum += ms;
    }
    ck_assert_msg(sum <= all_cpu + 1e-12, "kernels %g ms > plan %g ms", sum, all_cpu);
    double ms = -1.0;
    ck_assert_int_eq(tsr_plan_kernel_predicted_ms(plan, tsr_plan_kernel_count(plan), &ms),
                     TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_plan_kernel_predicted_ms(plan, -1, &ms), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_plan_kernel_predicted_ms(plan, 0, NULL), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_plan_kernel_predicted_ms(NULL, 0, &ms), TSR_E_INVALID_ARG);
    ck_assert(ms == -1.0); /* written only on success */
    double makespan = -1;
    ck_assert_int_eq(tsr_sched_place_heft(ctx, p, a, &makespan), TSR_OK);
    ck_assert(makespan > 0 && isfinite(makespan));
    for (int k = 0; k < p->n_kernels; k++)
        ck_assert(a[k] >= 0 && a[k] < ctx->n_devices);
    /* A bad device in an assignment cannot be predicted. */
    a[0] = ctx->n_devices;
    ck_assert(isinf(tsr_sched_place_predict_ms(ctx, p, a, NULL)));
    free(a);
    tsr_plan_destroy(plan);

    struct tsr_compile_options o = tsr_compile_options_default();
    o.placement = "everywhere";
    ck_assert_int_eq(tsr_compile(ctx, g, &o, &plan), TSR_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "everywhere"));
    tsr_graph_destroy(g);
    tsr_tensor_free(&x);
    tsr_context_destroy(ctx);
}
END_TEST

/* A fake device for test_supports_skips_device: the CPU backend's members under another name,
 * refusing GEMM kernels without an activation epilogue (the digits model's last kernel) and
 * otherwise the default dtype check. */
static struct tsr_backend_ops g_fake_ops;

static int fake_refuses(const struct tsr_kernel *k) {
    return k->kind == TSR_K_GEMM && k->u.gemm.act == TSR_ACT_NONE;
}

static int fake_supports(void *state, int device, const struct tsr_program *prog, int kernel,
                         char *why, size_t why_size) {
    (void)state;
    (void)device;
    if (!fake_refuses(&prog->kernels[kernel]))
        return tsr_backend_dtypes_supported(&g_fake_ops, prog, kernel, why, why_size);
    if (why && why_size) snprintf(why, why_size, "test backend: no plain GEMM");
    return 0;
}

/* runtime/backend.h, supports: the default is the dtype check; a device whose backend cannot
 * run a kernel is skipped by the device choice (reason in the plan's device reason) and never
 * gets that kernel in a placement (HEFT or alternate). The fake device is predicted far faster
 * than the CPU, so without its supports it would win: checked too. */
START_TEST(test_supports_skips_device) {
    setenv("TSR_CALIBRATE", "off", 1); /* the fake device keeps its made-up estimates */
    tsr_context *ctx = ts_context();
    struct tsr_tensor x1, x;
    load_npy(&x1, TSR_MODELS_DIR "/digits_test_x.npy");
    /* The digits rows repeated 64 times: the CPU's prediction must stay above the small-graph
     * rule (select.h, TSR_SMALL_GRAPH_MS) whatever its calibrated GEMM speed, else the CPU is
     * chosen before the fake device is compared (360 rows: 0.04 ms at 214 GFLOP/s). */
    enum { REPEAT = 64 };
    x.desc = x1.desc;
    x.desc.dims[0] *= REPEAT;
    ck_assert_int_eq(tsr_tensor_alloc(&x.desc, &x), TSR_OK);
    size_t bytes = (size_t)tsr_desc_elements(&x1.desc) * sizeof(float);
    for (int r = 0; r < REPEAT; r++)
        memcpy((char *)x.data + (size_t)r * bytes, x1.data, bytes);
    tsr_tensor_free(&x1);
    tsr_graph *g = import_digits(ctx, &x);

    /* the default: kernels in a dtype the backend declares are supported, others not */
    tsr_plan *plan = compile_placed(ctx, g, "cpu", "single");
    struct tsr_program *p = &plan->prog;
    int gemm = -1;
    for (int k = 0; k < p->n_kernels; k++)
        if (p->kernels[k].kind == TSR_K_GEMM && gemm < 0) gemm = k;
    ck_assert_int_ge(gemm, 0);
    char why[300];
    ck_assert_int_eq(tsr_backend_supports(&ctx->devices[0], p, gemm, why, sizeof why), 1);
    ck_assert_int_eq(tsr_backend_supports_program(&ctx->devices[0], p, why, sizeof why), -1);
    tsr_dtype saved = p->kernels[gemm].dtype;
    p->kernels[gemm].dtype = TSR_I64;
    ck_assert_int_eq(tsr_backend_supports(&ctx->devices[0], p, gemm, why, sizeof why), 0);
    ck_assert_msg(strstr(why, "no kernel of this kind for dtype int64"), "why: %s", why);
    ck_assert_int_eq(tsr_backend_supports_program(&ctx->devices[0], p, why, sizeof why), gemm);
    ck_assert_msg(strstr(why, p->kernels[gemm].name), "why: %s", why);
    p->kernels[gemm].dtype = saved;
    tsr_plan_destroy(plan);

    /* a fake fast device that cannot run GEMM kernels without an activation */
    g_fake_ops = *ctx->devices[0].ops;
    g_fake_ops.name = "fake";
    g_fake_ops.display_name = "fake";
    g_fake_ops.supports = fake_supports;
    int n = ctx->n_devices;
    struct tsr_device *devs = realloc(ctx->devices, (size_t)(n + 1) * sizeof *devs);
    ck_assert_ptr_nonnull(devs);
    ctx->devices = devs;
    devs[n] = devs[0];
    devs[n].ops = &g_fake_ops;
    snprintf(devs[n].info.id, sizeof devs[n].info.id, "fake");
    snprintf(devs[n].info.backend, sizeof devs[n].info.backend, "fake");
    devs[n].info.est_gflops = 1e6;
    devs[n].info.est_gbps = 1e5;
    devs[n].info.est_launch_us = 1e-3;
    ctx->n_devices = n + 1;

    /* without its supports the fake device wins the choice: the skip below is the member's */
    g_fake_ops.supports = NULL;
    plan = compile_placed(ctx, g, "auto", "single");
    struct tsr_device_info di;
    ck_assert_int_eq(tsr_plan_device(plan, &di), TSR_OK);
    ck_assert_str_eq(di.id, "fake");
    tsr_plan_destroy(plan);
    g_fake_ops.supports = fake_supports;

    plan = compile_placed(ctx, g, "auto", "single");
    ck_assert_int_eq(tsr_plan_device(plan, &di), TSR_OK);
    /* not the fake device; which of the others wins depends on their calibration (a slow
     * sanitizer build can make the OpenCL device the faster one at this size) */
    ck_assert_str_ne(di.id, "fake");
    ck_assert_msg(strstr(tsr_plan_device_reason(plan), "fake cannot run it (kernel"), "reason: %s",
                  tsr_plan_device_reason(plan));
    ck_assert_msg(strstr(tsr_plan_device_reason(plan), "test backend: no plain GEMM"), "reason: %s",
                  tsr_plan_device_reason(plan));
    tsr_plan_destroy(plan);

    /* placements: the refused kernel never on the fake device; others may go there */
    const char *placements[] = {"hetero", "alternate"};
    for (int pl = 0; pl < 2; pl++) {
        plan = compile_placed(ctx, g, "auto", placements[pl]);
        ck_assert_msg(strstr(tsr_plan_device_reason(plan), "fake cannot run"), "%s: %s",
                      placements[pl], tsr_plan_device_reason(plan));
        int on_fake = 0;
        for (int k = 0; k < tsr_plan_kernel_count(plan); k++) {
            struct tsr_kernel_info ki;
            ck_assert_int_eq(tsr_plan_kernel_info(plan, k, &ki), TSR_OK);
            int refused = fake_refuses(&plan->prog.kernels[k]);
            if (refused)
                ck_assert_msg(strcmp(ki.device, "fake"), "%s: kernel %d on fake", placements[pl],
                              k);
            on_fake += !strcmp(ki.device, "fake");
            if (pl == 1) { /* alternate: k mod N, or the next device when that one refuses */
                int want = k % ctx->n_devices;
                if (refused && want == n) want = (want + 1) % ctx->n_devices;
                ck_assert_str_eq(ki.device, ctx->devices[want].info.id);
            }
        }
        /* HEFT: the fake device is the fastest for the kernels it can run */
        if (pl == 0) ck_assert_msg(on_fake > 0, "hetero: no kernel on the fake device");
        /* and it computes what the CPU alone does */
        tsr_plan *ref_plan = compile_placed(ctx, g, "cpu", "single");
        struct tsr_tensor ref[1], got[1];
        run_plan(ctx, ref_plan, &x, 1, ref);
        run_plan(ctx, plan, &x, 1, got);
        double err =
            ts_max_abs_diff(ref[0].data, got[0].data, (size_t)tsr_desc_elements(&ref[0].desc));
        ck_assert_msg(err <= TOL, "%s with the fake device: differs from the CPU by %g",
                      placements[pl], err);
        tsr_tensor_free(&ref[0]);
        tsr_tensor_free(&got[0]);
        tsr_plan_destroy(ref_plan);
        tsr_plan_destroy(plan);
    }
    tsr_graph_destroy(g);
    tsr_tensor_free(&x);
    tsr_context_destroy(ctx);
    unsetenv("TSR_CALIBRATE");
}
END_TEST

static Suite *hetero_suite(void) {
    Suite *s = suite_create("hetero");
    TCase *tc = tcase_create("placement");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_digits_alternate);
    tcase_add_test(tc, test_digits_hetero);
    tcase_add_test(tc, test_mlp_alternate);
    tcase_add_test(tc, test_mlp_hetero);
    tcase_add_test(tc, test_resnet_feat_alternate);
#ifdef TSR_WITH_OPENCL
    tcase_add_test(tc, test_fault_alternate);
#endif
    tcase_add_test(tc, test_predict_and_heft);
    tcase_add_test(tc, test_supports_skips_device);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(hetero_suite());
}
