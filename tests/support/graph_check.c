#include "graph_check.h"
#include "kernel_harness.h"
#include "test_support.h"

#include "runtime/graph.h"

#include <string.h>

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

int gc_check_all_devices(tsr_context *ctx, const tsr_graph *g, unsigned disable, double atol,
                         double rtol) {
    struct tsr_tensor in[KH_MAX_IO], ref[KH_MAX_IO];
    memset(in, 0, sizeof in);
    memset(ref, 0, sizeof ref);
    ck_assert(tsr_graph_input_count(g) <= KH_MAX_IO && tsr_graph_output_count(g) <= KH_MAX_IO);
    make_inputs(g, in);
    kh_reference(g, in, ref);
    const struct kh_tol tol = {atol, rtol, KH_REL_MAX};
    char first[1024] = "";
    int configs = 0;
    int failed = kh_check(ctx, g, "graph", in, ref, disable, &tol, NULL, NULL, NULL, &configs,
                          first, sizeof first);
    ck_assert_msg(failed == 0, "%d configuration(s) failed; first: %s", failed, first);
    for (int i = 0; i < KH_MAX_IO; i++) {
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
