#include "graph_check.h"
#include "test_support.h"

#include "backends/cpu/cpu_backend.h"
#include "runtime/internal.h"
#include "runtime/graph.h"
#include "runtime/reference.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define GC_MAX_IO 8

static void make_inputs(const tsr_graph *g, struct tsr_tensor *in) {
    for (int i = 0; i < tsr_graph_input_count(g); i++) {
        const char *nm = tsr_graph_input_name(g, i);
        struct tsr_tensor_desc d;
        ck_assert_int_eq(tsr_graph_value_desc(g, g->inputs[i], &d), TSR_OK);
        ck_assert_int_eq(tsr_tensor_alloc(&d, &in[i]), TSR_OK);
        int pos = strncmp(nm, "pos", 3) == 0;
        ts_fill_uniform(in[i].data, (size_t)tsr_desc_elements(&d), 1000u + (uint64_t)i * 77u,
                        pos ? 0.5f : -2.0f, 2.0f);
    }
}

static void run_and_compare(tsr_context *ctx, const tsr_graph *g, const char *device,
                            const char *label, unsigned disable, const struct tsr_tensor *in,
                            const struct tsr_tensor *ref, double atol, double rtol) {
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = device;
    o.disable_fusion = disable;
    o.allow_fallback = 0;
    tsr_plan *plan = NULL;
    tsr_status st = tsr_compile(ctx, g, &o, &plan);
    ck_assert_msg(st == TSR_OK, "%s: compile: %s: %s", label, tsr_status_name(st),
                  tsr_last_error(ctx)->message);
    int n_out = tsr_graph_output_count(g);
    struct tsr_tensor out[GC_MAX_IO];
    for (int o2 = 0; o2 < n_out; o2++)
        ck_assert_int_eq(tsr_tensor_alloc(&ref[o2].desc, &out[o2]), TSR_OK);
    /* Twice: the second run checks that a steady-state run recomputes everything correctly. */
    for (int rep = 0; rep < 2; rep++) {
        for (int o2 = 0; o2 < n_out; o2++)
            memset(out[o2].data, 0xff, tsr_desc_bytes(&ref[o2].desc)); /* NaN poison */
        st = tsr_plan_run(plan, in, (size_t)tsr_graph_input_count(g), out, (size_t)n_out);
        ck_assert_msg(st == TSR_OK, "%s: run: %s: %s", label, tsr_status_name(st),
                      tsr_last_error(ctx)->message);
        for (int o2 = 0; o2 < n_out; o2++) {
            size_t n = (size_t)tsr_desc_elements(&ref[o2].desc);
            double scale = 0.0;
            const float *r = ref[o2].data;
            for (size_t i = 0; i < n; i++)
                scale = fmax(scale, fabs(r[i]));
            double err = ts_max_abs_diff(out[o2].data, ref[o2].data, n);
            ck_assert_msg(err <= atol + rtol * scale,
                          "%s: output %d: max abs error %g > %g (atol %g, rtol %g, max|ref| %g)",
                          label, o2, err, atol + rtol * scale, atol, rtol, scale);
            ck_assert(tsr_desc_equal(&out[o2].desc, &ref[o2].desc));
        }
    }
    for (int o2 = 0; o2 < n_out; o2++)
        tsr_tensor_free(&out[o2]);
    tsr_plan_destroy(plan);
}

int gc_check_all_devices(tsr_context *ctx, const tsr_graph *g, unsigned disable, double atol,
                         double rtol) {
    struct tsr_tensor in[GC_MAX_IO], ref[GC_MAX_IO];
    memset(in, 0, sizeof in);
    memset(ref, 0, sizeof ref);
    ck_assert(tsr_graph_input_count(g) <= GC_MAX_IO && tsr_graph_output_count(g) <= GC_MAX_IO);
    make_inputs(g, in);
    tsr_status st = tsr_ref_eval_graph(g, in, (size_t)tsr_graph_input_count(g), ref,
                                       (size_t)tsr_graph_output_count(g));
    ck_assert_msg(st == TSR_OK, "reference: %s", tsr_last_error(ctx)->message);
    int configs = 0;
    tsr_cpu_isa best = tsr_cpu_detect_isa(), saved = tsr_cpu_backend_isa(tsr_cpu_backend_of(ctx));
    for (int isa = TSR_ISA_SCALAR; isa <= (int)best; isa++) {
        ck_assert_int_eq(tsr_cpu_backend_set_isa(tsr_cpu_backend_of(ctx), (tsr_cpu_isa)isa),
                         TSR_OK);
        char label[64];
        snprintf(label, sizeof label, "cpu/%s", tsr_cpu_isa_name((tsr_cpu_isa)isa));
        run_and_compare(ctx, g, "cpu", label, disable, in, ref, atol, rtol);
        configs++;
    }
    tsr_cpu_backend_set_isa(tsr_cpu_backend_of(ctx), saved);
    for (int d = 0; d < tsr_device_count(ctx); d++) {
        struct tsr_device_info info;
        tsr_device_get_info(ctx, d, &info);
        if (strcmp(info.backend, "opencl") != 0) continue;
        run_and_compare(ctx, g, info.id, info.id, disable, in, ref, atol, rtol);
        configs++;
    }
    for (int i = 0; i < GC_MAX_IO; i++) {
        tsr_tensor_free(&in[i]);
        tsr_tensor_free(&ref[i]);
    }
    return configs;
}

int gc_kernel_count(tsr_context *ctx, const tsr_graph *g, unsigned disable) {
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "cpu";
    o.disable_fusion = disable;
    tsr_plan *plan = NULL;
    tsr_status st = tsr_compile(ctx, g, &o, &plan);
    ck_assert_msg(st == TSR_OK, "compile: %s", tsr_last_error(ctx)->message);
    int n = tsr_plan_kernel_count(plan);
    tsr_plan_destroy(plan);
    return n;
}

tsr_value gc_input(tsr_graph *g, const char *name, int rank, const int64_t *dims) {
    struct tsr_tensor_desc d = ts_desc(rank, dims);
    tsr_value v = -1;
    ck_assert_int_eq(tsr_graph_input(g, name, &d, &v), TSR_OK);
    return v;
}

tsr_value gc_const(tsr_graph *g, int rank, const int64_t *dims, uint64_t seed) {
    struct tsr_tensor_desc d = ts_desc(rank, dims);
    struct tsr_tensor t;
    ck_assert_int_eq(tsr_tensor_alloc(&d, &t), TSR_OK);
    ts_fill_uniform(t.data, (size_t)tsr_desc_elements(&d), seed, -1.0f, 1.0f);
    tsr_value v = -1;
    ck_assert_int_eq(tsr_graph_constant(g, NULL, &d, t.data, &v), TSR_OK);
    tsr_tensor_free(&t);
    return v;
}

tsr_value gc_op(tsr_graph *g, tsr_op op, tsr_value a, tsr_value b) {
    tsr_value in[2] = {a, b}, out = -1;
    tsr_status st = tsr_graph_op(g, op, in, 2, NULL, NULL, &out);
    ck_assert_msg(st == TSR_OK, "%s: %s", tsr_op_name(op), tsr_last_error(NULL)->message);
    return out;
}

tsr_value gc_op1(tsr_graph *g, tsr_op op, tsr_value a) {
    tsr_value out = -1;
    tsr_status st = tsr_graph_op(g, op, &a, 1, NULL, NULL, &out);
    ck_assert_msg(st == TSR_OK, "%s: %s", tsr_op_name(op), tsr_last_error(NULL)->message);
    return out;
}
