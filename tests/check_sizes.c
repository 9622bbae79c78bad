/*
 * check_sizes.c — sizes at their limits (issue 12): the checked arithmetic of runtime/checked.h,
 * element counts that overflow int64 refused with TSR_E_SHAPE / TSR_E_INVALID_ARG / TSR_E_PARSE
 * and a message giving the shape (never a negative count, never TSR_E_NOMEM), and zero-size
 * tensors valid end to end on every device: elementwise chains, a MatMul with K = 0 (zeros, as
 * NumPy) and reductions over an empty axis with the values the ONNX operator pages define
 * (ReduceSum / L2 0, ReduceProd 1, ReduceMax and ReduceLogSumExp -inf, ReduceMin +inf,
 * ReduceMean NaN: 0 / 0). The regression models are tests/fuzz/regressions/onnx (written by
 * tests/fuzz/make_regressions.py).
 */
#include "test_support.h"

#include "runtime/checked.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REG_DIR TSR_SOURCE_DIR "/tests/fuzz/regressions"

START_TEST(test_checked_helpers) {
    int64_t n = -7;
    const int64_t ok[3] = {2, 3, 4}, zero_big[3] = {0, INT64_C(1) << 31, INT64_C(1) << 31},
                  over[3] = {INT64_C(1) << 32, INT64_C(1) << 32, 2}, neg[2] = {2, -1},
                  zero_over[3] = {0, INT64_C(1) << 32, INT64_C(1) << 32};
    ck_assert_int_eq(tsr_dims_elements(ok, 3, &n), 0);
    ck_assert_int_eq(n, 24);
    ck_assert_int_eq(tsr_dims_elements(ok, 0, &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(tsr_dims_elements(zero_big, 3, &n), 0);
    ck_assert_int_eq(n, 0);
    n = 5;
    ck_assert_int_eq(tsr_dims_elements(over, 3, &n), -1);
    ck_assert_int_eq(n, 5); /* untouched */
    ck_assert_int_eq(tsr_dims_elements(neg, 2, &n), -1);
    /* the non-zero dims overflow: refused although the product is 0 */
    ck_assert_int_eq(tsr_dims_elements(zero_over, 3, &n), -1);
    int64_t r;
    ck_assert_int_eq(tsr_mul_i64(INT64_MAX, 2, &r), -1);
    ck_assert_int_eq(tsr_add_i64(INT64_MAX, 1, &r), -1);
    ck_assert_int_eq(tsr_add_i64(INT64_MAX - 1, 1, &r), 0);
    ck_assert(r == INT64_MAX);
    size_t z;
    ck_assert_int_eq(tsr_mul_size(SIZE_MAX / 2 + 1, 2, &z), -1);
    ck_assert_int_eq(tsr_add_size(SIZE_MAX, 1, &z), -1);
    /* bytes: 2^61 float32 elements are 2^63 bytes, over TSR_MAX_TENSOR_BYTES */
    struct tsr_tensor_desc d = {.dtype = TSR_F32, .rank = 1, .dims = {INT64_C(1) << 61}};
    ck_assert_int_eq(tsr_desc_size(&d, NULL, NULL), -1);
    d.dtype = TSR_U8;
    size_t bytes = 0;
    ck_assert_int_eq(tsr_desc_size(&d, &n, &bytes), 0);
    ck_assert_uint_eq(bytes, (size_t)1 << 61);
    /* the public element count: -1 instead of a wrapped product */
    struct tsr_tensor_desc o = {
        .dtype = TSR_F32, .rank = 3, .dims = {INT64_C(1) << 32, INT64_C(1) << 32, 4}};
    ck_assert(tsr_desc_elements(&o) == -1);
    struct tsr_tensor t;
    ck_assert_int_eq(tsr_tensor_alloc(&o, &t), TSR_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(NULL)->message, "4294967296"));
}
END_TEST

/* Imports tests/fuzz/regressions/onnx/NAME and expects `want`, the message holding `substr` and
 * no negative number. */
static void expect_import(tsr_context *ctx, const char *name, tsr_status want, const char *substr) {
    char path[512];
    snprintf(path, sizeof path, "%s/onnx/%s", REG_DIR, name);
    tsr_graph *g = NULL;
    tsr_status st = tsr_onnx_import_file(ctx, path, NULL, 0, &g);
    const char *msg = tsr_last_error(ctx)->message;
    ck_assert_msg(st == want, "%s: got %s, want %s (%s)", name, tsr_status_name(st),
                  tsr_status_name(want), msg);
    ck_assert_msg(strstr(msg, substr), "%s: message '%s' lacks '%s'", name, msg, substr);
    ck_assert_msg(!strstr(msg, " -"), "%s: message '%s' has a negative number", name, msg);
    tsr_graph_destroy(g);
}

START_TEST(test_overflow_refused) {
    tsr_context *ctx = ts_context();
    expect_import(ctx, "reshape_overflow.onnx", TSR_E_SHAPE, "overflows int64");
    expect_import(ctx, "input_overflow.onnx", TSR_E_SHAPE, "[4294967296, 4294967296, 4]");
    expect_import(ctx, "expand_overflow.onnx", TSR_E_SHAPE, "[1099511627776, 1099511627776]");
    expect_import(ctx, "tile_overflow.onnx", TSR_E_SHAPE, "Tile");
    /* the builder: an input and a Reshape whose counts overflow */
    tsr_graph *g = NULL;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    struct tsr_tensor_desc big = {
        .dtype = TSR_F32, .rank = 2, .dims = {INT64_C(1) << 40, INT64_C(1) << 40}};
    tsr_value x, s, y;
    ck_assert_int_eq(tsr_graph_input(g, "big", &big, &x), TSR_E_INVALID_ARG);
    struct tsr_tensor_desc small = {.dtype = TSR_F32, .rank = 1, .dims = {6}};
    ck_assert_int_eq(tsr_graph_input(g, "x", &small, &x), TSR_OK);
    const int64_t shape[2] = {INT64_C(1) << 62, 8};
    struct tsr_tensor_desc sd = {.dtype = TSR_I64, .rank = 1, .dims = {2}};
    ck_assert_int_eq(tsr_graph_constant(g, "s", &sd, shape, &s), TSR_OK);
    tsr_value in[2] = {x, s};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RESHAPE, in, 2, NULL, "r", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "overflows int64"));
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

START_TEST(test_npy_sizes) {
    struct tsr_tensor t = {0};
    ck_assert_int_eq(tsr_npy_load(REG_DIR "/npy/huge_count.npy", &t), TSR_E_PARSE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(NULL)->message, "8888888888888 bytes"));
    ck_assert_int_eq(tsr_npy_load(REG_DIR "/npy/overflow_count.npy", &t), TSR_E_PARSE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(NULL)->message, "too large"));
    ck_assert_ptr_null(t.data);
}
END_TEST

/* The devices to check: the CPU, and the first OpenCL device when there is one. */
static int devices(tsr_context *ctx, const char **ids) {
    int n = 0;
    ids[n++] = "cpu";
    if (ts_have_opencl(ctx)) ids[n++] = "opencl";
    return n;
}

/* Compiles g (one output) for `device` with fallback off and runs it on the given inputs; the
 * output lands in *out (allocated). */
static void run_on(tsr_context *ctx, tsr_graph *g, const char *device, struct tsr_tensor *in,
                   int n_in, struct tsr_tensor *out) {
    struct tsr_compile_options co = tsr_compile_options_default();
    co.device = device;
    co.placement = "single";
    co.allow_fallback = 0;
    tsr_plan *p = NULL;
    tsr_status st = tsr_compile(ctx, g, &co, &p);
    ck_assert_msg(st == TSR_OK, "%s: compile: %s: %s", device, tsr_status_name(st),
                  tsr_last_error(ctx)->message);
    struct tsr_tensor_desc od;
    ck_assert_int_eq(tsr_plan_output_desc(p, 0, NULL, &od), TSR_OK);
    ck_assert_int_eq(tsr_tensor_alloc(&od, out), TSR_OK);
    st = tsr_plan_run(p, in, (size_t)n_in, out, 1);
    ck_assert_msg(st == TSR_OK, "%s: run: %s: %s", device, tsr_status_name(st),
                  tsr_last_error(ctx)->message);
    tsr_plan_destroy(p);
}

START_TEST(test_zero_size_chain) {
    tsr_context *ctx = ts_context();
    const char *ids[2];
    int nd = devices(ctx, ids);
    tsr_graph *g = NULL;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    struct tsr_tensor_desc xd = {.dtype = TSR_F32, .rank = 2, .dims = {0, 4}};
    tsr_value x, a, b, y;
    ck_assert_int_eq(tsr_graph_input(g, "x", &xd, &x), TSR_OK);
    /* Relu and Transpose are separate kernels: their outputs are empty intermediates, so the
     * arena has 0 bytes */
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RELU, &x, 1, NULL, "relu", &a), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_TRANSPOSE, &a, 1, NULL, "tr", &b), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_SIGMOID, &b, 1, NULL, "sig", &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "y", y), TSR_OK);
    struct tsr_tensor in;
    ck_assert_int_eq(tsr_tensor_alloc(&xd, &in), TSR_OK);
    for (int d = 0; d < nd; d++) {
        struct tsr_tensor out;
        run_on(ctx, g, ids[d], &in, 1, &out);
        ck_assert_int_eq(out.desc.rank, 2);
        ck_assert(out.desc.dims[0] == 4 && out.desc.dims[1] == 0);
        tsr_tensor_free(&out);
    }
    tsr_tensor_free(&in);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

START_TEST(test_zero_k_matmul) {
    tsr_context *ctx = ts_context();
    const char *ids[2];
    int nd = devices(ctx, ids);
    tsr_graph *g = NULL;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    struct tsr_tensor_desc ad = {.dtype = TSR_F32, .rank = 2, .dims = {3, 0}};
    struct tsr_tensor_desc bd = {.dtype = TSR_F32, .rank = 2, .dims = {0, 5}};
    tsr_value ab[2], m, y;
    ck_assert_int_eq(tsr_graph_input(g, "a", &ad, &ab[0]), TSR_OK);
    ck_assert_int_eq(tsr_graph_input(g, "b", &bd, &ab[1]), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MATMUL, ab, 2, NULL, "mm", &m), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_SIGMOID, &m, 1, NULL, "sig", &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "y", y), TSR_OK);
    struct tsr_tensor in[2];
    ck_assert_int_eq(tsr_tensor_alloc(&ad, &in[0]), TSR_OK);
    ck_assert_int_eq(tsr_tensor_alloc(&bd, &in[1]), TSR_OK);
    for (int d = 0; d < nd; d++) {
        struct tsr_tensor out;
        run_on(ctx, g, ids[d], in, 2, &out);
        ck_assert(out.desc.dims[0] == 3 && out.desc.dims[1] == 5);
        /* an empty sum is 0 (NumPy, ONNX MatMul): sigmoid(0) = 0.5 everywhere */
        for (int i = 0; i < 15; i++)
            ck_assert_msg(((float *)out.data)[i] == 0.5f, "%s: y[%d] = %g", ids[d], i,
                          ((float *)out.data)[i]);
        tsr_tensor_free(&out);
    }
    tsr_tensor_free(&in[0]);
    tsr_tensor_free(&in[1]);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

START_TEST(test_reduce_empty) {
    /* ONNX operator pages (opset 18): "reduction over an empty set of values yields" 0 for
     * ReduceSum / ReduceL1 / ReduceL2 / ReduceSumSquare, 1 for ReduceProd, -inf for ReduceMax
     * and ReduceLogSumExp (log 0 for ReduceLogSum), +inf for ReduceMin; ReduceMean is the sum
     * over the count, 0 / 0 = NaN (as NumPy's mean of an empty axis). */
    static const struct {
        tsr_op op;
        double want; /* NAN: must be NaN */
    } cases[] = {
        {TSR_OP_REDUCESUM, 0.0},          {TSR_OP_REDUCEL1, 0.0},
        {TSR_OP_REDUCEL2, 0.0},           {TSR_OP_REDUCESUMSQUARE, 0.0},
        {TSR_OP_REDUCEPROD, 1.0},         {TSR_OP_REDUCEMAX, -INFINITY},
        {TSR_OP_REDUCEMIN, INFINITY},     {TSR_OP_REDUCELOGSUMEXP, -INFINITY},
        {TSR_OP_REDUCELOGSUM, -INFINITY}, {TSR_OP_REDUCEMEAN, NAN},
    };
    tsr_context *ctx = ts_context();
    const char *ids[2];
    int nd = devices(ctx, ids);
    struct tsr_tensor_desc xd = {.dtype = TSR_F32, .rank = 2, .dims = {0, 3}};
    struct tsr_tensor in;
    ck_assert_int_eq(tsr_tensor_alloc(&xd, &in), TSR_OK);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tsr_graph *g = NULL;
        ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
        tsr_value x, y;
        ck_assert_int_eq(tsr_graph_input(g, "x", &xd, &x), TSR_OK);
        struct tsr_op_attrs a = tsr_op_attrs_default();
        a.n_axes = 1;
        a.axes[0] = 0;
        a.keepdims = 0;
        ck_assert_int_eq(tsr_graph_op(g, cases[c].op, &x, 1, &a, "r", &y), TSR_OK);
        ck_assert_int_eq(tsr_graph_output(g, "y", y), TSR_OK);
        for (int d = 0; d < nd; d++) {
            struct tsr_tensor out;
            run_on(ctx, g, ids[d], &in, 1, &out);
            ck_assert(out.desc.rank == 1 && out.desc.dims[0] == 3);
            for (int i = 0; i < 3; i++) {
                float v = ((float *)out.data)[i];
                int ok = isnan(cases[c].want) ? isnan(v) : (double)v == cases[c].want;
                ck_assert_msg(ok, "%s on %s: y[%d] = %g, want %g", tsr_op_name(cases[c].op), ids[d],
                              i, v, cases[c].want);
            }
            tsr_tensor_free(&out);
        }
        tsr_graph_destroy(g);
    }
    tsr_tensor_free(&in);
    tsr_context_destroy(ctx);
}
END_TEST

START_TEST(test_cli_exit_code) {
    /* An element count that overflows is bad input: exit 2 (usage / input error), one line
     * naming the shape, not exit 1 (internal error / out of memory). */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "'%s/bin/tessera' run '%s/onnx/input_overflow.onnx' --device cpu >/dev/null 2>&1",
             TSR_BINARY_DIR, REG_DIR);
    int rc = system(cmd);
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 2, "tessera run: status %d", rc);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sizes");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_checked_helpers);
    tcase_add_test(tc, test_overflow_refused);
    tcase_add_test(tc, test_npy_sizes);
    tcase_add_test(tc, test_zero_size_chain);
    tcase_add_test(tc, test_zero_k_matmul);
    tcase_add_test(tc, test_reduce_empty);
    tcase_add_test(tc, test_cli_exit_code);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
