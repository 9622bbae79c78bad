/*
 * check_ops.c — every operator, through the builder and the whole compile/run path, on every
 * CPU ISA tier and every OpenCL device, against the naive scalar reference (runtime/reference.c).
 *
 * Tolerances (max abs error <= atol + rtol * max|reference|):
 *   elementwise add/sub/mul/div/relu: exact up to one rounding: atol 1e-6;
 *   sigmoid/tanh (vector exp polynomials, OpenCL native precision): atol 2e-6, rtol 1e-6;
 *   GEMM/MatMul (f32 accumulation in a different order from the double reference):
 *   rtol 1e-5 scaled by max|ref| plus atol 1e-5 (K <= 300 terms of magnitude <= 2).
 */
#include "graph_check.h"
#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ATOL_EW 1e-6
#define ATOL_TR 2e-6
#define ATOL_MM 1e-5
#define RTOL_MM 1e-5

static tsr_context *ctx;

static void setup(void) {
    ctx = ts_context();
}
static void teardown(void) {
    tsr_context_destroy(ctx);
}

static tsr_graph *new_graph(void) {
    tsr_graph *g = NULL;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    return g;
}

static void out(tsr_graph *g, tsr_value v, const char *name) {
    ck_assert_int_eq(tsr_graph_output(g, name, v), TSR_OK);
}

/* Binary ops over broadcasting forms: each (a shape, b shape) pair with every binary op. */
START_TEST(test_binary_broadcast) {
    static const struct {
        int ra;
        int64_t a[4];
        int rb;
        int64_t b[4];
    } forms[] = {
        {2, {3, 17}, 2, {3, 17}},     /* same shape */
        {2, {3, 17}, 1, {17}},        /* row vector */
        {3, {4, 1, 5}, 3, {1, 3, 5}}, /* both sides broadcast */
        {2, {5, 1}, 2, {1, 7}},       /* outer product form */
        {3, {2, 3, 4}, 1, {1}},       /* one-element */
        {2, {6, 9}, 0, {0}},          /* rank-0 scalar */
        {1, {1}, 2, {33, 2}},         /* broadcast on the left */
        {4, {2, 3, 1, 8}, 2, {4, 1}},
    };
    static const tsr_op ops[] = {TSR_OP_ADD, TSR_OP_SUB, TSR_OP_MUL, TSR_OP_DIV};
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++)
        for (size_t o = 0; o < 4; o++) {
            tsr_graph *g = new_graph();
            tsr_value a = gc_input(g, "a", forms[f].ra, forms[f].a);
            tsr_value b = gc_input(g, "pos_b", forms[f].rb, forms[f].b);
            out(g, gc_op(g, ops[o], a, b), "y");
            ck_assert_int_ge(gc_check_all_devices(ctx, g, 0, ATOL_EW, 1e-7), 1);
            tsr_graph_destroy(g);
        }
}
END_TEST

START_TEST(test_unary_sizes) {
    static const int64_t sizes[] = {1, 7, 16, 33, 1000, 4099};
    static const tsr_op ops[] = {TSR_OP_RELU, TSR_OP_SIGMOID, TSR_OP_TANH, TSR_OP_NEG};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
            tsr_graph *g = new_graph();
            tsr_value x = gc_input(g, "x", 1, &sizes[s]);
            /* Scale to [-10, 10] so sigmoid/tanh saturate in part of the range. */
            int64_t one = 1;
            tsr_value k = gc_const(g, 1, &one, 5);
            tsr_value five = gc_op(g, TSR_OP_DIV, k, k); /* folds to the constant 1 */
            tsr_value scaled = gc_op(g, TSR_OP_MUL, x, gc_op(g, TSR_OP_ADD, five, five));
            tsr_value y =
                gc_op1(g, ops[o],
                       gc_op(g, TSR_OP_MUL, scaled,
                             gc_op(g, TSR_OP_ADD, five, gc_op(g, TSR_OP_ADD, five, five))));
            out(g, y, "y");
            ck_assert_int_ge(gc_check_all_devices(ctx, g, 0, ATOL_TR, 1e-6), 1);
            tsr_graph_destroy(g);
        }
}
END_TEST

/* A 5-op chain with broadcasts: one fused kernel, same numbers as unfused. */
START_TEST(test_chain_fused_vs_unfused) {
    int64_t xd[2] = {64, 100}, wd[1] = {100}, bd[2] = {64, 1};
    tsr_graph *g = new_graph();
    tsr_value x = gc_input(g, "x", 2, xd);
    tsr_value w = gc_input(g, "w", 1, wd);
    tsr_value b = gc_input(g, "pos_b", 2, bd);
    tsr_value t = gc_op(g, TSR_OP_MUL, x, w);
    t = gc_op(g, TSR_OP_ADD, t, b);
    t = gc_op1(g, TSR_OP_SIGMOID, t);
    t = gc_op(g, TSR_OP_DIV, t, b);
    t = gc_op1(g, TSR_OP_TANH, t);
    out(g, t, "y");
    ck_assert_int_eq(gc_kernel_count(ctx, g, 0), 1);
    ck_assert_int_eq(gc_kernel_count(ctx, g, TSR_FUSE_ELEMENTWISE), 5);
    gc_check_all_devices(ctx, g, 0, ATOL_TR, 1e-6);
    gc_check_all_devices(ctx, g, TSR_FUSE_ELEMENTWISE, ATOL_TR, 1e-6);
    tsr_graph_destroy(g);
}
END_TEST

/* Values with several consumers, or that are graph outputs, end a fused region. */
START_TEST(test_chain_shared_values) {
    int64_t d[2] = {8, 50};
    tsr_graph *g = new_graph();
    tsr_value a = gc_input(g, "a", 2, d), b = gc_input(g, "b", 2, d);
    tsr_value t = gc_op(g, TSR_OP_ADD, a, b); /* used twice */
    tsr_value r = gc_op1(g, TSR_OP_RELU, t);  /* graph output and used again */
    tsr_value m = gc_op(g, TSR_OP_MUL, t, r);
    tsr_value s = gc_op(g, TSR_OP_SUB, m, m); /* same operand twice */
    tsr_value y = gc_op(g, TSR_OP_ADD, gc_op1(g, TSR_OP_TANH, s), r);
    out(g, r, "relu");
    out(g, y, "y");
    int k = gc_kernel_count(ctx, g, 0);
    ck_assert_int_ge(k, 3);
    ck_assert_int_lt(k, 6);
    gc_check_all_devices(ctx, g, 0, ATOL_TR, 1e-6);
    tsr_graph_destroy(g);
}
END_TEST

static void gemm_case(int ta, int tb, float alpha, float beta, int c_rank, const int64_t *c_dims,
                      int64_t M, int64_t K, int64_t N, tsr_op act) {
    tsr_graph *g = new_graph();
    int64_t ad[2] = {ta ? K : M, ta ? M : K}, bdims[2] = {tb ? N : K, tb ? K : N};
    tsr_value a = gc_input(g, "a", 2, ad);
    tsr_value b = gc_const(g, 2, bdims, 11);
    tsr_value in[3] = {a, b, -1};
    int n = 2;
    if (c_rank >= 0) in[n++] = gc_const(g, c_rank, c_dims, 12);
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.trans_a = ta;
    at.trans_b = tb;
    at.alpha = alpha;
    at.beta = beta;
    tsr_value y;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_GEMM, in, n, &at, "gemm", &y), TSR_OK);
    if (act != TSR_OP_COUNT) y = gc_op1(g, act, y);
    out(g, y, "y");
    gc_check_all_devices(ctx, g, 0, ATOL_MM, RTOL_MM);
    tsr_graph_destroy(g);
}

START_TEST(test_gemm_forms) {
    int64_t cn[1] = {29}, cm1[2] = {33, 1}, cmn[2] = {33, 29}, c1[1] = {1};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            gemm_case(ta, tb, 1.0f, 1.0f, 1, cn, 33, 17, 29, TSR_OP_COUNT);
    gemm_case(0, 1, 0.5f, 2.0f, 2, cm1, 33, 17, 29, TSR_OP_COUNT);
    gemm_case(1, 0, -1.5f, 0.25f, 2, cmn, 33, 17, 29, TSR_OP_RELU);
    gemm_case(0, 0, 1.0f, 1.0f, 1, c1, 33, 17, 29, TSR_OP_SIGMOID);
    gemm_case(0, 0, 1.0f, 1.0f, -1, NULL, 33, 17, 29, TSR_OP_TANH);
    gemm_case(0, 1, 1.0f, 1.0f, 0, NULL, 300, 64, 10, TSR_OP_COUNT); /* rank-0 C */
}
END_TEST

/* Gemm without C + Add(bias) + activation: one kernel with the epilogue fused. */
START_TEST(test_gemm_epilogue_fusion) {
    static const tsr_op acts[] = {TSR_OP_RELU, TSR_OP_SIGMOID, TSR_OP_TANH};
    for (int i = 0; i < 3; i++) {
        int64_t xd[2] = {70, 40}, wd[2] = {40, 24}, bd[1] = {24};
        tsr_graph *g = new_graph();
        tsr_value x = gc_input(g, "x", 2, xd);
        tsr_value w = gc_const(g, 2, wd, 3);
        tsr_value bias = gc_const(g, 1, bd, 4);
        tsr_value y = gc_op(g, TSR_OP_MATMUL, x, w);
        y = gc_op(g, TSR_OP_ADD, bias, y); /* bias on the left: Add commutes */
        y = gc_op1(g, acts[i], y);
        out(g, y, "y");
        ck_assert_int_eq(gc_kernel_count(ctx, g, 0), 1);
        ck_assert_int_eq(gc_kernel_count(ctx, g, TSR_FUSE_EPILOGUE), 2);
        ck_assert_int_eq(gc_kernel_count(ctx, g, TSR_FUSE_ALL), 3);
        gc_check_all_devices(ctx, g, 0, ATOL_MM, RTOL_MM);
        gc_check_all_devices(ctx, g, TSR_FUSE_ALL, ATOL_MM, RTOL_MM);
        tsr_graph_destroy(g);
    }
}
END_TEST

START_TEST(test_matmul_forms) {
    static const struct {
        int ra;
        int64_t a[4];
        int rb;
        int64_t b[4];
    } forms[] = {
        {2, {9, 13}, 2, {13, 7}},
        {4, {2, 2, 9, 13}, 3, {2, 13, 7}},    /* partly broadcast batch: expanded copy */
        {4, {2, 1, 9, 13}, 4, {1, 3, 13, 7}}, /* both sides partly broadcast */
        {3, {3, 9, 13}, 2, {13, 7}},          /* batch against a shared matrix */
        {3, {3, 9, 13}, 3, {3, 13, 7}},       /* batch against batch */
        {2, {9, 13}, 3, {4, 13, 7}},          /* shared matrix against a batch */
        {1, {13}, 2, {13, 7}},                /* vector x matrix */
        {2, {9, 13}, 1, {13}},                /* matrix x vector */
        {3, {1, 9, 13}, 3, {5, 13, 7}},       /* batch dim 1 broadcast */
    };
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        tsr_graph *g = new_graph();
        tsr_value a = gc_input(g, "a", forms[f].ra, forms[f].a);
        tsr_value b = gc_input(g, "b", forms[f].rb, forms[f].b);
        tsr_value y = gc_op(g, TSR_OP_MATMUL, a, b);
        struct tsr_tensor_desc yd;
        tsr_graph_value_desc(g, y, &yd);
        int64_t last = yd.dims[yd.rank - 1];
        y = gc_op(g, TSR_OP_ADD, y, gc_const(g, 1, &last, 9));
        out(g, y, "y");
        gc_check_all_devices(ctx, g, 0, ATOL_MM, RTOL_MM);
        tsr_graph_destroy(g);
    }
}
END_TEST

START_TEST(test_softmax_axes) {
    int64_t d2[2] = {4, 10}, d3[3] = {2, 3, 5};
    struct {
        int rank;
        const int64_t *dims;
        int64_t axis;
        int legacy;
    } cases[] = {{2, d2, -1, 0}, {2, d2, 0, 0}, {3, d3, 1, 0},
                 {3, d3, 0, 0},  {3, d3, 1, 1}, {3, d3, TSR_AXIS_DEFAULT, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tsr_graph *g = new_graph();
        tsr_value x = gc_input(g, "x", cases[c].rank, cases[c].dims);
        struct tsr_op_attrs at = tsr_op_attrs_default();
        at.axis = cases[c].axis;
        at.softmax_2d = cases[c].legacy;
        tsr_value y;
        ck_assert_int_eq(tsr_graph_op(g, TSR_OP_SOFTMAX, &x, 1, &at, "sm", &y), TSR_OK);
        out(g, y, "y");
        gc_check_all_devices(ctx, g, 0, 1e-6, 1e-6);
        tsr_graph_destroy(g);
    }
}
END_TEST

/* Views: as intermediates (no kernel) and as graph outputs (a copy). */
START_TEST(test_views) {
    int64_t d[3] = {2, 3, 4};
    tsr_graph *g = new_graph();
    tsr_value x = gc_input(g, "x", 3, d);
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.axis = 2;
    tsr_value f;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_FLATTEN, &x, 1, &at, "flat", &f), TSR_OK);
    int64_t shp[2] = {0, -1}, sd = 2;
    struct tsr_tensor_desc shd = {TSR_I64, 1, {2}};
    tsr_value s;
    ck_assert_int_eq(tsr_graph_constant(g, "shape", &shd, shp, &s), TSR_OK);
    (void)sd;
    tsr_value in[2] = {f, s}, r;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RESHAPE, in, 2, NULL, "reshape", &r), TSR_OK);
    tsr_value y = gc_op1(g, TSR_OP_RELU, r);
    out(g, gc_op1(g, TSR_OP_IDENTITY, x), "x_copy"); /* an input as output: a copy kernel */
    out(g, y, "y");
    out(g, gc_op1(g, TSR_OP_IDENTITY, y), "y_again"); /* one value, two outputs: a copy */
    ck_assert_int_eq(gc_kernel_count(ctx, g, 0), 3);
    gc_check_all_devices(ctx, g, 0, 0.0, 0.0);
    tsr_graph_destroy(g);
}
END_TEST

/* Group "reduce": what is refused, with a message naming the node: Dropout in training mode,
 * ArgMax over an empty axis or out of range, Reduce* axes out of range or repeated. */
START_TEST(test_reduce_group_refused) {
    tsr_graph *g = new_graph();
    const int64_t d34[2] = {3, 4}, d30[2] = {3, 0};
    tsr_value x = gc_input(g, "x", 2, d34), e = gc_input(g, "e", 2, d30), y;
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.n_dropout_training = 1;
    a.dropout_training[0] = 1;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_DROPOUT, &x, 1, &a, "drop_train", &y),
                     TSR_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "drop_train"));
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "training_mode"));
    a.dropout_training[0] = 0;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_DROPOUT, &x, 1, &a, "drop_ok", &y), TSR_OK);
    a = tsr_op_attrs_default();
    a.axis = 1;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_ARGMAX, &e, 1, &a, "arg_empty", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "arg_empty"));
    a.axis = 2;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_ARGMIN, &x, 1, &a, "arg_axis", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "arg_axis"));
    a = tsr_op_attrs_default();
    a.n_axes = 2;
    a.axes[0] = 1;
    a.axes[1] = -1;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_REDUCEL2, &x, 1, &a, "l2_rep", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "l2_rep"));
    tsr_graph_destroy(g);
}
END_TEST

/* Group "ewops": what is refused, with a message naming the node: Mod fmod=0 on floats (invalid
 * per the ONNX page), a PRelu slope that does not broadcast to X (unidirectional), Min/Max/Sum/
 * Mean inputs that do not broadcast, input counts outside 1 .. 8. */
START_TEST(test_ewops_refused) {
    tsr_graph *g = new_graph();
    const int64_t d34[2] = {3, 4}, d4[1] = {4}, d3[1] = {3}, d14[2] = {1, 4}, d24[2] = {2, 4};
    tsr_value x = gc_input(g, "x", 2, d34), v4 = gc_input(g, "v4", 1, d4);
    tsr_value v3 = gc_input(g, "v3", 1, d3), r14 = gc_input(g, "r14", 2, d14);
    tsr_value r24 = gc_input(g, "r24", 2, d24), y;
    tsr_value in[2] = {x, v4};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MOD, in, 2, NULL, "mod0", &y), TSR_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "mod0"));
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "fmod"));
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.mod_fmod = 1;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MOD, in, 2, &a, "mod1", &y), TSR_OK);
    /* PRelu: slopes [4] and [1,4] broadcast to [3,4]; [3] does not, nor X to a slope */
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_PRELU, in, 2, NULL, "p_ok", &y), TSR_OK);
    in[1] = r14;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_PRELU, in, 2, NULL, "p_ok2", &y), TSR_OK);
    in[1] = v3;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_PRELU, in, 2, NULL, "p_bad", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "p_bad"));
    tsr_value rin[2] = {r14, x};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_PRELU, rin, 2, NULL, "p_bad2", &y), TSR_E_SHAPE);
    /* variadic: [3,4], [1,4], [2,4] do not broadcast together (the third input) */
    tsr_value vin[9] = {x, r14, r24, x, x, x, x, x, x};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_SUM, vin, 2, NULL, "sum_ok", &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MAX, vin, 3, NULL, "max_bad", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "max_bad"));
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MEAN, vin + 3, 6, NULL, "mean6", &y), TSR_OK);
    ck_assert_int_ne(tsr_graph_op(g, TSR_OP_MIN, vin, 9, NULL, "min9", &y), TSR_OK);
    ck_assert_int_ne(tsr_graph_op(g, TSR_OP_SUM, vin, 0, NULL, "sum0", &y), TSR_OK);
    tsr_graph_destroy(g);
}
END_TEST

/* Group "spatial": what the 1-D window ops and GlobalMaxPool refuse, with the node named. */
START_TEST(test_spatial_refused) {
    tsr_graph *g = new_graph();
    const int64_t d3[3] = {1, 2, 9}, d5[5] = {1, 2, 3, 4, 5}, d2[2] = {2, 3}, w3[3] = {4, 2, 3};
    tsr_value x3 = gc_input(g, "x3", 3, d3), x5 = gc_input(g, "x5", 5, d5);
    tsr_value x2 = gc_input(g, "x2", 2, d2), y;
    struct tsr_tensor_desc id = {TSR_I64, 3, {1, 2, 9}};
    tsr_value xi = 0;
    ck_assert_int_eq(tsr_graph_input(g, "xi", &id, &xi), TSR_OK);
    /* a 2-D window (kernel 3x3) on a 1-D input */
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.kernel_shape[0] = 3, a.kernel_shape[1] = 3;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MAXPOOL, &x3, 1, &a, "mp2d", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "mp2d"));
    a.kernel_shape[0] = 1;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MAXPOOL, &x3, 1, &a, "mp1d", &y), TSR_OK);
    a.strides[0] = 2;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_AVGPOOL, &x3, 1, &a, "ap_s", &y), TSR_E_SHAPE);
    /* 3-D pools (group "win3d"): a 2-D window on a 3-D input and a 3-D one on a 2-D input are
     * shape errors; Indices and auto_pad SAME_* are not supported (refused, not approximated) */
    a = tsr_op_attrs_default();
    a.kernel_shape[0] = 1, a.kernel_shape[1] = 1;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MAXPOOL, &x5, 1, &a, "mp3d", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "mp3d"));
    a.win_d[0] = 2, a.win3d_given = 1;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MAXPOOL, &x5, 1, &a, "mp3d_ok", &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MAXPOOL, &x2, 1, &a, "mp3d_2", &y), TSR_E_SHAPE);
    a.auto_pad = TSR_AUTO_PAD_SAME_UPPER;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_AVGPOOL, &x5, 1, &a, "ap3d_same", &y),
                     TSR_E_UNSUPPORTED);
    /* count_include_pad with a ceil_mode window past the padding: refused */
    a.auto_pad = TSR_AUTO_PAD_NOTSET, a.count_include_pad = 1, a.ceil_mode = 1;
    a.win_d[1] = 2;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_AVGPOOL, &x5, 1, &a, "ap3d_ceil", &y),
                     TSR_E_UNSUPPORTED);
    a.count_include_pad = 0;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_AVGPOOL, &x5, 1, &a, "ap3d_ceil_ok", &y), TSR_OK);
    a.ceil_mode = 0, a.win_d[1] = 0, a.pool_indices = 1;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MAXPOOL, &x5, 1, &a, "mp3d_idx", &y),
                     TSR_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "mp3d_idx"));
    /* 1-D Conv: weights must be [M, C/group, kW] */
    tsr_value w = gc_input(g, "w", 3, w3), w4;
    const int64_t w4d[4] = {4, 2, 1, 3};
    w4 = gc_input(g, "w4", 4, w4d);
    tsr_value cin[2] = {x3, w};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_CONV, cin, 2, NULL, "c1d", &y), TSR_OK);
    struct tsr_tensor_desc yd;
    ck_assert_int_eq(tsr_graph_value_desc(g, y, &yd), TSR_OK);
    ck_assert(yd.rank == 3 && yd.dims[1] == 4 && yd.dims[2] == 7);
    cin[1] = w4;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_CONV, cin, 2, NULL, "c_bad", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "c_bad"));
    /* 3-D Conv / ConvTranspose (group "conv3d"): output shapes per ONNX; auto_pad SAME_* on a
     * 3-D Conv refused; 3-D window attributes on a 2-D ConvTranspose a shape error */
    const int64_t w5d[5] = {4, 2, 2, 3, 3};
    cin[0] = x5, cin[1] = gc_input(g, "w5", 5, w5d);
    a = tsr_op_attrs_default();
    a.win_d[1] = 2, a.win_d[3] = 1, a.win_d[4] = 0, a.win3d_given = 2 | 8;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_CONV, cin, 2, &a, "c3d", &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_value_desc(g, y, &yd), TSR_OK);
    ck_assert(yd.rank == 5 && yd.dims[1] == 4 && yd.dims[2] == 2 && yd.dims[3] == 2 &&
              yd.dims[4] == 3);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_CONVTRANSPOSE, cin, 2, &a, "ct3d", &y), TSR_E_SHAPE);
    const int64_t wt5d[5] = {2, 3, 2, 3, 3};
    cin[1] = gc_input(g, "wt5", 5, wt5d);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_CONVTRANSPOSE, cin, 2, &a, "ct3d_ok", &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_value_desc(g, y, &yd), TSR_OK);
    /* D: 2 * (3 - 1) + 2 - 1 - 0 = 5; H, W: in + k - 1 */
    ck_assert(yd.rank == 5 && yd.dims[1] == 3 && yd.dims[2] == 5 && yd.dims[3] == 6 &&
              yd.dims[4] == 7);
    a.auto_pad = TSR_AUTO_PAD_SAME_UPPER;
    cin[1] = gc_input(g, "w5b", 5, w5d);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_CONV, cin, 2, &a, "c3d_same", &y), TSR_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "c3d_same"));
    a.auto_pad = TSR_AUTO_PAD_NOTSET;
    const int64_t x4d[4] = {1, 2, 4, 5}, wt4d[4] = {2, 3, 3, 3};
    cin[0] = gc_input(g, "x4", 4, x4d), cin[1] = gc_input(g, "wt4", 4, wt4d);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_CONVTRANSPOSE, cin, 2, &a, "ct2d_3dattr", &y),
                     TSR_E_SHAPE);
    /* GlobalMaxPool: [N, C, spatial...] of float32 */
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_GLOBALMAXPOOL, &x2, 1, NULL, "gmp2", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "GlobalMaxPool"));
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_GLOBALMAXPOOL, &xi, 1, NULL, "gmpi", &y), TSR_E_DTYPE);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_GLOBALMAXPOOL, &x5, 1, NULL, "gmp5", &y), TSR_OK);
    tsr_graph_destroy(g);
}
END_TEST

static tsr_value const_f32(tsr_graph *g, int n, const float *v) {
    struct tsr_tensor_desc d = {TSR_F32, 1, {n}};
    tsr_value c = 0;
    ck_assert_int_eq(tsr_graph_constant(g, NULL, &d, v, &c), TSR_OK);
    return c;
}
static tsr_value const_i64(tsr_graph *g, int n, const int64_t *v) {
    struct tsr_tensor_desc d = {TSR_I64, 1, {n}};
    tsr_value c = 0;
    ck_assert_int_eq(tsr_graph_constant(g, NULL, &d, v, &c), TSR_OK);
    return c;
}

/* Group "spatial": Resize / DepthToSpace / SpaceToDepth / Tile refusals name the node. */
START_TEST(test_resize_and_movement_refused) {
    tsr_graph *g = new_graph();
    const int64_t d4[4] = {1, 8, 4, 6};
    tsr_value x = gc_input(g, "x", 4, d4), y;
    const float sc_ok[4] = {1, 1, 2, 2}, sc_c[4] = {1, 2, 2, 2};
    const int64_t sz[4] = {1, 8, 8, 12}, rep[4] = {1, 2, 1, 1};
    tsr_value in[3] = {x, const_f32(g, 4, sc_ok), 0};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RESIZE, in, 2, NULL, "rz_ok", &y), TSR_OK);
    struct tsr_tensor_desc yd;
    ck_assert_int_eq(tsr_graph_value_desc(g, y, &yd), TSR_OK);
    ck_assert(yd.dims[1] == 8 && yd.dims[2] == 8 && yd.dims[3] == 12);
    /* the channel dim may not change */
    in[1] = const_f32(g, 4, sc_c);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RESIZE, in, 2, NULL, "rz_c", &y), TSR_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "rz_c"));
    /* scales and sizes both given; neither */
    in[1] = const_f32(g, 4, sc_ok);
    in[2] = const_i64(g, 4, sz);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RESIZE, in, 3, NULL, "rz_both", &y), TSR_E_SHAPE);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RESIZE, in, 1, NULL, "rz_none", &y), TSR_E_SHAPE);
    /* tf_crop_and_resize; a non-constant scales */
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.resize_coord = 5;
    in[1] = in[2];
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RESIZE, in, 2, &a, "rz_tf", &y), TSR_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "tf_crop_and_resize"));
    const int64_t d1[1] = {4};
    in[1] = gc_input(g, "scales", 1, d1);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RESIZE, in, 2, NULL, "rz_in", &y), TSR_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "constant"));
    /* DepthToSpace / SpaceToDepth: blocksize required, dims divisible */
    a = tsr_op_attrs_default();
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_DEPTHTOSPACE, &x, 1, &a, "d2s0", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "d2s0"));
    a.blocksize = 2;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_DEPTHTOSPACE, &x, 1, &a, "d2s", &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_SPACETODEPTH, &x, 1, &a, "s2d", &y), TSR_OK);
    a.blocksize = 3;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_DEPTHTOSPACE, &x, 1, &a, "d2s3", &y), TSR_E_SHAPE);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_SPACETODEPTH, &x, 1, &a, "s2d3", &y), TSR_E_SHAPE);
    /* Tile: one repeat per dim */
    in[1] = const_i64(g, 4, rep);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_TILE, in, 2, NULL, "tile", &y), TSR_OK);
    in[1] = const_i64(g, 3, rep);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_TILE, in, 2, NULL, "tile3", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "tile3"));
    tsr_graph_destroy(g);
}
END_TEST

/* ---- preproc: tessera-domain preprocessing ops (docs/PREPROC.md) ---------------------------- */

/* Runs the one-input, one-output graph g on `device` with x (xdims) and checks y against want
 * (n_out floats; NaN must be NaN) to 1e-6. */
static void preproc_run(tsr_graph *g, const char *device, const float *x, const int64_t *xdims,
                        int xrank, const float *want, size_t n_out) {
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = device;
    o.allow_fallback = 0;
    tsr_plan *plan = NULL;
    ck_assert_msg(tsr_compile(ctx, g, &o, &plan) == TSR_OK, "%s: %s", device,
                  tsr_last_error(ctx)->message);
    struct tsr_tensor in = {ts_desc(xrank, xdims), (void *)x}, outt = {{0}, NULL};
    struct tsr_tensor_desc d;
    ck_assert_int_eq(tsr_plan_output_desc(plan, 0, NULL, &d), TSR_OK);
    ck_assert_int_eq((long long)tsr_desc_elements(&d), (long long)n_out);
    ck_assert_int_eq(tsr_tensor_alloc(&d, &outt), TSR_OK);
    ck_assert_msg(tsr_plan_run(plan, &in, 1, &outt, 1) == TSR_OK, "%s: %s", device,
                  tsr_last_error(ctx)->message);
    const float *y = outt.data;
    for (size_t i = 0; i < n_out; i++)
        ck_assert_msg(isnan(want[i]) ? isnan(y[i]) : fabsf(y[i] - want[i]) <= 1e-6f,
                      "%s: element %zu: %g, want %g", device, i, (double)y[i], (double)want[i]);
    tsr_tensor_free(&outt);
    tsr_plan_destroy(plan);
}

/* Values worked out by hand (pandas' and OpenCV's definitions) for x = 1 2 3 4 5, and a 2-pixel
 * RGB image, on the CPU and OpenCL. */
START_TEST(test_preproc_hand_values) {
    static const float x[5] = {1, 2, 3, 4, 5}, rgb[6] = {1, 0, 0, 1, 0, 0};
    const float nan = NAN, r2 = 0.70710678f;
    static const int64_t d5[1] = {5}, drgb[4] = {1, 3, 1, 2};
    const struct {
        tsr_op op;
        int64_t window, min_periods, ddof;
        float alpha, thr, high;
        int binary;
        float want[5];
    } rows[] = {
        {TSR_OP_ROLLINGMEAN, 3, 0, 1, 0, 0, 0, 0, {nan, nan, 2, 3, 4}},
        {TSR_OP_ROLLINGMEAN, 3, 1, 1, 0, 0, 0, 0, {1, 1.5f, 2, 3, 4}},
        {TSR_OP_ROLLINGSTD, 3, 0, 1, 0, 0, 0, 0, {nan, nan, 1, 1, 1}},
        {TSR_OP_ROLLINGSTD, 3, 1, 1, 0, 0, 0, 0, {nan, r2, 1, 1, 1}},
        {TSR_OP_ROLLINGSTD, 2, 1, 0, 0, 0, 0, 0, {0, 0.5f, 0.5f, 0.5f, 0.5f}},
        {TSR_OP_EMA, 0, 0, 1, 0.5f, 0, 0, 0, {1, 1.5f, 2.25f, 3.125f, 4.0625f}},
        {TSR_OP_ZSCORE, 0, 0, 1, 0, 0, 0, 0, {-2 * r2, -r2, 0, r2, 2 * r2}},
        {TSR_OP_THRESHOLD, 0, 0, 1, 0, 2.5f, 1, 0, {0, 0, 3, 4, 5}},
        {TSR_OP_THRESHOLD, 0, 0, 1, 0, 2.5f, 7, 1, {0, 0, 7, 7, 7}},
    };
    const char *devices[2] = {"cpu", "opencl"};
    const int n_dev = ts_have_opencl(ctx) ? 2 : 1;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        tsr_graph *g = new_graph();
        tsr_value v = gc_input(g, "x", 1, d5), y;
        struct tsr_op_attrs a = tsr_op_attrs_default();
        a.scan_window = rows[r].window;
        a.scan_min_periods = rows[r].min_periods;
        a.scan_ddof = rows[r].ddof;
        a.ema_alpha = rows[r].alpha;
        a.threshold_value = rows[r].thr;
        a.threshold_high = rows[r].high;
        a.threshold_binary = rows[r].binary;
        ck_assert_int_eq(tsr_graph_op(g, rows[r].op, &v, 1, &a, "pre", &y), TSR_OK);
        out(g, y, "y");
        for (int dv = 0; dv < n_dev; dv++)
            preproc_run(g, devices[dv], x, d5, 1, rows[r].want, 5);
        tsr_graph_destroy(g);
    }
    tsr_graph *g = new_graph();
    tsr_value v = gc_input(g, "x", 4, drgb), y;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RGBTOGRAY, &v, 1, NULL, "gray", &y), TSR_OK);
    out(g, y, "y");
    const float want[2] = {0.299f, 0.587f};
    for (int dv = 0; dv < n_dev; dv++)
        preproc_run(g, devices[dv], rgb, drgb, 4, want, 2);
    tsr_graph_destroy(g);
    /* uint8 pixels (255,0,0) (0,255,0) (10,20,30) (255,255,255) (1,1,0): BT.601 sums 76.245,
     * 149.685, 18.15, 255, 0.886, rounded: 76 150 18 255 1 */
    static const uint8_t px[15] = {255, 0, 10, 255, 1, 0, 255, 20, 255, 1, 0, 0, 30, 255, 0};
    static const uint8_t want_u8[5] = {76, 150, 18, 255, 1};
    struct tsr_tensor_desc du8 = {TSR_U8, 4, {1, 3, 1, 5}};
    g = new_graph();
    ck_assert_int_eq(tsr_graph_input(g, "x", &du8, &v), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RGBTOGRAY, &v, 1, NULL, "gray_u8", &y), TSR_OK);
    out(g, y, "y");
    for (int dv = 0; dv < n_dev; dv++) {
        struct tsr_compile_options o = tsr_compile_options_default();
        o.device = devices[dv];
        o.allow_fallback = 0;
        tsr_plan *plan = NULL;
        ck_assert_msg(tsr_compile(ctx, g, &o, &plan) == TSR_OK, "%s: %s", devices[dv],
                      tsr_last_error(ctx)->message);
        uint8_t got[5] = {0};
        struct tsr_tensor in = {du8, (void *)px}, ot = {{TSR_U8, 4, {1, 1, 1, 5}}, got};
        ck_assert_msg(tsr_plan_run(plan, &in, 1, &ot, 1) == TSR_OK, "%s: %s", devices[dv],
                      tsr_last_error(ctx)->message);
        for (int i = 0; i < 5; i++)
            ck_assert_msg(got[i] == want_u8[i], "%s: pixel %d: %d, want %d", devices[dv], i, got[i],
                          want_u8[i]);
        tsr_plan_destroy(plan);
        /* tsr_verify: the float32 intermediates are not checkable (NaN), the uint8 result is */
        struct tsr_verify_kernel *vk = NULL;
        int n_vk = 0;
        ck_assert_int_eq(tsr_verify(ctx, g, &o, &in, 1, &vk, &n_vk), TSR_OK);
        ck_assert_int_eq(n_vk, 4);
        ck_assert(isnan(vk[1].max_abs_err));
        ck_assert_msg(vk[3].max_abs_err == 0.0 && vk[3].max_ref == 255.0, "%s: verify %g %g",
                      devices[dv], vk[3].max_abs_err, vk[3].max_ref);
        free(vk);
    }
    tsr_graph_destroy(g);
}
END_TEST

/* Threshold fuses into the region of the elementwise ops around it: Sigmoid -> Threshold ->
 * Relu is one kernel (three unfused); bad attributes and dtypes are refused naming the node. */
START_TEST(test_preproc_fusion_and_refusals) {
    tsr_graph *g = new_graph();
    const int64_t d[2] = {4, 33};
    tsr_value x = gc_input(g, "x", 2, d), y;
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.threshold_value = 0.4f;
    a.threshold_binary = 1;
    tsr_value s = gc_op1(g, TSR_OP_SIGMOID, x);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_THRESHOLD, &s, 1, &a, "thr", &y), TSR_OK);
    out(g, gc_op1(g, TSR_OP_RELU, y), "y");
    ck_assert_int_eq(gc_kernel_count(ctx, g, 0), 1);
    ck_assert_int_eq(gc_kernel_count(ctx, g, TSR_FUSE_ELEMENTWISE), 3);
    a = tsr_op_attrs_default();
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_ROLLINGMEAN, &x, 1, &a, "roll0", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "roll0"));
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "window"));
    a.scan_window = 3;
    a.scan_min_periods = 4;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_ROLLINGSTD, &x, 1, &a, "roll_mp", &y), TSR_E_SHAPE);
    a = tsr_op_attrs_default();
    a.ema_alpha = 1.5f;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_EMA, &x, 1, &a, "ema_bad", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "alpha"));
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RGBTOGRAY, &x, 1, NULL, "gray_c", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "gray_c"));
    struct tsr_tensor_desc i32 = {TSR_I32, 4, {1, 3, 2, 2}};
    tsr_value xi;
    ck_assert_int_eq(tsr_graph_input(g, "img", &i32, &xi), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RGBTOGRAY, &xi, 1, NULL, "gray_i32", &y), TSR_E_DTYPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "gray_i32"));
    tsr_graph_destroy(g);
}
END_TEST

Suite *ops_suite(void) {
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("ops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_binary_broadcast);
    tcase_add_test(tc, test_ewops_refused);
    tcase_add_test(tc, test_spatial_refused);
    tcase_add_test(tc, test_resize_and_movement_refused);
    tcase_add_test(tc, test_unary_sizes);
    tcase_add_test(tc, test_chain_fused_vs_unfused);
    tcase_add_test(tc, test_chain_shared_values);
    tcase_add_test(tc, test_gemm_forms);
    tcase_add_test(tc, test_gemm_epilogue_fusion);
    tcase_add_test(tc, test_matmul_forms);
    tcase_add_test(tc, test_softmax_axes);
    tcase_add_test(tc, test_views);
    tcase_add_test(tc, test_reduce_group_refused);
    tcase_add_test(tc, test_preproc_hand_values);
    tcase_add_test(tc, test_preproc_fusion_and_refusals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(ops_suite());
}
