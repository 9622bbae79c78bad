/*
 * check_dtypes.c — dtypes end to end and shape arithmetic folded at compile time (issue 9):
 *   - float16 conversions (every binary16 value round-trips; rounding to nearest even);
 *   - .npy files NumPy wrote of every dtype load with NumPy's values, and every dtype saves and
 *     loads back byte for byte;
 *   - the reference (the constant folder) evaluates Shape, Gather, Unsqueeze, Concat, Reshape,
 *     Cast, Equal, Not, Where, ConstantOfShape, Range, Expand, Slice and integer arithmetic in
 *     their dtypes, against values worked out by hand from the ONNX operator pages;
 *   - a BERT-style attention block exported by torch.onnx at opsets 11 and 13
 *     (tests/data/make_shape_model.py) imports, folds its whole shape subgraph (11 float kernels
 *     remain) and matches PyTorch within 1e-5 on the CPU and on OpenCL;
 *   - inputs and outputs of any dtype pass through a plan (a byte COPY on both backends); ops on
 *     non-constant data with no kernel are refused with TSR_E_UNSUPPORTED naming node and dtype.
 */
#include "runtime/graph.h"
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_float16) {
    ck_assert_uint_eq(tsr_f32_to_f16(1.0f), 0x3c00);
    ck_assert_uint_eq(tsr_f32_to_f16(-2.0f), 0xc000);
    ck_assert_uint_eq(tsr_f32_to_f16(65504.0f), 0x7bff);
    ck_assert_uint_eq(tsr_f32_to_f16(65520.0f), 0x7c00); /* rounds up to infinity */
    ck_assert_uint_eq(tsr_f32_to_f16(0.1f), 0x2e66);
    ck_assert_uint_eq(tsr_f32_to_f16(5.9604645e-8f), 0x0001); /* smallest subnormal */
    ck_assert_uint_eq(tsr_f32_to_f16(2.0e-8f), 0x0000);
    ck_assert_uint_eq(tsr_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00); /* tie: to even */
    ck_assert_uint_eq(tsr_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);
    ck_assert_uint_eq(tsr_f32_to_f16(INFINITY), 0x7c00);
    ck_assert(isnan(tsr_f16_to_f32(tsr_f32_to_f16(NAN))));
    for (uint32_t h = 0; h < 65536; h++) {
        float f = tsr_f16_to_f32((uint16_t)h);
        if (isnan(f)) continue;
        ck_assert_msg(tsr_f32_to_f16(f) == h, "0x%04x -> %g -> 0x%04x", h, (double)f,
                      tsr_f32_to_f16(f));
    }
}
END_TEST

START_TEST(test_npy_every_dtype) {
    static const struct {
        const char *file;
        tsr_dtype dtype;
    } files[] = {{"u1", TSR_U8},   {"i1", TSR_I8},  {"i4", TSR_I32}, {"i8", TSR_I64},
                 {"b1", TSR_BOOL}, {"f2", TSR_F16}, {"f4", TSR_F32}, {"f8", TSR_F64}};
    static const double values[6] = {0.0, 1.0, -2.0, 3.5, 100.0, -0.25};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char p[512];
        snprintf(p, sizeof p, "%s/dt_%s.npy", TSR_TEST_DATA_DIR, files[k].file);
        struct tsr_tensor t;
        ck_assert_msg(tsr_npy_load(p, &t) == TSR_OK, "%s: %s", p, tsr_last_error(NULL)->message);
        tsr_dtype dt = files[k].dtype;
        ck_assert_int_eq(t.desc.dtype, dt);
        ck_assert_int_eq(t.desc.rank, 2);
        for (int i = 0; i < 6; i++) {
            double v = values[i];
            /* what NumPy's astype made of it */
            double want = dt == TSR_BOOL           ? (v != 0.0)
                          : dt == TSR_U8           ? trunc(fabs(v))
                          : tsr_dtype_is_float(dt) ? v
                                                   : trunc(v);
            ck_assert_msg(tsr_elem_get_f64(dt, t.data, i) == want, "%s[%d] = %g, want %g",
                          files[k].file, i, tsr_elem_get_f64(dt, t.data, i), want);
        }
        /* save and load back: same descr, same bytes */
        char q[512];
        snprintf(q, sizeof q, "%s/dt_rt_%s.npy", TSR_BINARY_DIR, files[k].file);
        ck_assert_int_eq(tsr_npy_save(q, &t), TSR_OK);
        struct tsr_tensor u;
        ck_assert_int_eq(tsr_npy_load(q, &u), TSR_OK);
        ck_assert(tsr_desc_equal(&t.desc, &u.desc));
        ck_assert(!memcmp(t.data, u.data, tsr_desc_bytes(&t.desc)));
        remove(q);
        tsr_tensor_free(&t);
        tsr_tensor_free(&u);
    }
}
END_TEST

/* Helpers over the builder: constants and the data of a value the builder evaluated. */
static tsr_value cst(tsr_graph *g, tsr_dtype dt, int rank, const int64_t *dims, const void *d) {
    struct tsr_tensor_desc desc = {dt, rank, {0}};
    for (int i = 0; i < rank; i++)
        desc.dims[i] = dims[i];
    tsr_value v;
    ck_assert_int_eq(tsr_graph_constant(g, NULL, &desc, d, &v), TSR_OK);
    return v;
}
static tsr_value op(tsr_graph *g, tsr_op o, const tsr_value *in, int n,
                    const struct tsr_op_attrs *a) {
    tsr_value v;
    ck_assert_msg(tsr_graph_op(g, o, in, n, a, NULL, &v) == TSR_OK, "%s: %s", tsr_op_name(o),
                  tsr_last_error(NULL)->message);
    return v;
}
static void expect_i64(tsr_graph *g, tsr_value v, tsr_dtype dt, int n, const int64_t *want) {
    const struct tsr_value_info *vi = &g->values[v];
    char s[128];
    ck_assert_msg(vi->data != NULL, "value %s not evaluated", vi->name);
    ck_assert_msg(vi->desc.dtype == dt, "%s: %s", vi->name,
                  tsr_desc_format(&vi->desc, s, sizeof s));
    ck_assert_int_eq(tsr_desc_elements(&vi->desc), n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(tsr_elem_get_i64(dt, vi->data, i) == want[i], "%s[%d] = %lld, want %lld",
                      vi->name, i, (long long)tsr_elem_get_i64(dt, vi->data, i),
                      (long long)want[i]);
}

START_TEST(test_shape_arithmetic_folds) {
    tsr_context *ctx = ts_context();
    tsr_graph *g;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    struct tsr_tensor_desc xd = {TSR_F32, 3, {2, 3, 4}};
    tsr_value x;
    ck_assert_int_eq(tsr_graph_input(g, "x", &xd, &x), TSR_OK);
    struct tsr_op_attrs a = tsr_op_attrs_default();
    /* Shape → Gather(1) → Unsqueeze(0) → Concat with [-1] → Reshape: x.view(x.size(1), -1) */
    tsr_value shp = op(g, TSR_OP_SHAPE, &x, 1, NULL);
    expect_i64(g, shp, TSR_I64, 3, (const int64_t[]){2, 3, 4});
    int64_t one = 1, neg1 = -1, d1[1] = {1};
    tsr_value idx = cst(g, TSR_I64, 0, NULL, &one);
    a.axis = 0;
    tsr_value gin[2] = {shp, idx};
    tsr_value dim1 = op(g, TSR_OP_GATHER, gin, 2, &a);
    ck_assert_int_eq(g->values[dim1].desc.rank, 0);
    expect_i64(g, dim1, TSR_I64, 1, (const int64_t[]){3});
    a = tsr_op_attrs_default();
    a.n_axes = 1;
    a.axes[0] = 0;
    tsr_value u = op(g, TSR_OP_UNSQUEEZE, &dim1, 1, &a);
    tsr_value cin[2] = {u, cst(g, TSR_I64, 1, d1, &neg1)};
    a = tsr_op_attrs_default();
    a.axis = 0;
    tsr_value newshape = op(g, TSR_OP_CONCAT, cin, 2, &a);
    expect_i64(g, newshape, TSR_I64, 2, (const int64_t[]){3, -1});
    tsr_value rin[2] = {x, newshape};
    tsr_value r = op(g, TSR_OP_RESHAPE, rin, 2, NULL);
    ck_assert(g->values[r].desc.rank == 2 && g->values[r].desc.dims[0] == 3 &&
              g->values[r].desc.dims[1] == 8 && g->values[r].desc.dtype == TSR_F32);
    ck_assert_ptr_null(g->values[r].data); /* data of x: not a constant */
    /* Size */
    expect_i64(g, op(g, TSR_OP_SIZE, &x, 1, NULL), TSR_I64, 1, (const int64_t[]){24});
    /* Cast float → int64 truncates, → bool is != 0, → float16 rounds; int64 → int8 wraps */
    float f[4] = {1.7f, -1.7f, 0.0f, 300.0f};
    int64_t d4[1] = {4};
    tsr_value fv = cst(g, TSR_F32, 1, d4, f);
    a = tsr_op_attrs_default();
    a.cast_to = TSR_I64;
    expect_i64(g, op(g, TSR_OP_CAST, &fv, 1, &a), TSR_I64, 4, (const int64_t[]){1, -1, 0, 300});
    a.cast_to = TSR_BOOL;
    tsr_value fb = op(g, TSR_OP_CAST, &fv, 1, &a);
    expect_i64(g, fb, TSR_BOOL, 4, (const int64_t[]){1, 1, 0, 1});
    a.cast_to = TSR_F16;
    tsr_value fh = op(g, TSR_OP_CAST, &fv, 1, &a);
    ck_assert_uint_eq(((const uint16_t *)g->values[fh].data)[0], tsr_f32_to_f16(1.7f));
    a.cast_to = TSR_I64;
    tsr_value fi = op(g, TSR_OP_CAST, &fv, 1, &a);
    a.cast_to = TSR_I8;
    expect_i64(g, op(g, TSR_OP_CAST, &fi, 1, &a), TSR_I8, 4, (const int64_t[]){1, -1, 0, 44});
    a.cast_to = 13; /* UINT64: not supported */
    tsr_value bad;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_CAST, &fv, 1, &a, "cast_u64", &bad), TSR_E_DTYPE);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(NULL)->message, "cast_u64"));
    /* Equal / Not / Where with broadcasting */
    int64_t ids[4] = {0, 5, 0, 7}, zero = 0;
    tsr_value idv = cst(g, TSR_I64, 1, d4, ids);
    tsr_value ein[2] = {idv, cst(g, TSR_I64, 0, NULL, &zero)};
    tsr_value eq = op(g, TSR_OP_EQUAL, ein, 2, NULL);
    expect_i64(g, eq, TSR_BOOL, 4, (const int64_t[]){1, 0, 1, 0});
    tsr_value ne = op(g, TSR_OP_NOT, &eq, 1, NULL);
    expect_i64(g, ne, TSR_BOOL, 4, (const int64_t[]){0, 1, 0, 1});
    int64_t minus = -9;
    tsr_value win[3] = {ne, idv, cst(g, TSR_I64, 0, NULL, &minus)};
    expect_i64(g, op(g, TSR_OP_WHERE, win, 3, NULL), TSR_I64, 4, (const int64_t[]){-9, 5, -9, 7});
    tsr_value mix[2] = {idv, fv}; /* int64 == float32: refused */
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_EQUAL, mix, 2, NULL, "eq_mixed", &bad), TSR_E_DTYPE);
    /* integer arithmetic: division truncates toward zero */
    int64_t num[2] = {7, -7}, den = -2, d2[1] = {2};
    tsr_value din[2] = {cst(g, TSR_I64, 1, d2, num), cst(g, TSR_I64, 0, NULL, &den)};
    expect_i64(g, op(g, TSR_OP_DIV, din, 2, NULL), TSR_I64, 2, (const int64_t[]){-3, 3});
    expect_i64(g, op(g, TSR_OP_MUL, din, 2, NULL), TSR_I64, 2, (const int64_t[]){-14, 14});
    /* ConstantOfShape, Range, Expand, Slice */
    int64_t s2[2] = {2, 3};
    tsr_value sv = cst(g, TSR_I64, 1, d2, s2);
    a = tsr_op_attrs_default();
    a.fill_dtype = TSR_I32;
    a.fill_i64 = 7;
    expect_i64(g, op(g, TSR_OP_CONSTANTOFSHAPE, &sv, 1, &a), TSR_I32, 6,
               (const int64_t[]){7, 7, 7, 7, 7, 7});
    int64_t r0 = 10, r1 = 3, r2 = -3;
    tsr_value rg[3] = {cst(g, TSR_I64, 0, NULL, &r0), cst(g, TSR_I64, 0, NULL, &r1),
                       cst(g, TSR_I64, 0, NULL, &r2)};
    tsr_value range = op(g, TSR_OP_RANGE, rg, 3, NULL);
    expect_i64(g, range, TSR_I64, 3, (const int64_t[]){10, 7, 4});
    double f0 = 1.0, f1 = 2.0, fd = 0.3;
    tsr_value rf[3] = {cst(g, TSR_F64, 0, NULL, &f0), cst(g, TSR_F64, 0, NULL, &f1),
                       cst(g, TSR_F64, 0, NULL, &fd)};
    tsr_value rangef = op(g, TSR_OP_RANGE, rf, 3, NULL);
    ck_assert_int_eq(g->values[rangef].desc.dims[0], 4); /* ceil(1 / 0.3) */
    ck_assert(((const double *)g->values[rangef].data)[3] == 1.0 + 3 * 0.3);
    int64_t e3[3] = {2, 3, 4}, d3[1] = {3};
    int64_t col[3] = {1, 2, 3}, cd[2] = {3, 1};
    tsr_value xin[2] = {cst(g, TSR_I64, 2, cd, col), cst(g, TSR_I64, 1, d3, e3)};
    tsr_value ex = op(g, TSR_OP_EXPAND, xin, 2, NULL);
    ck_assert_int_eq(tsr_desc_elements(&g->values[ex].desc), 24);
    ck_assert_int_eq(((const int64_t *)g->values[ex].data)[4 * 2 + 1], 3);
    /* Slice [10, 7, 4] from the end backwards with step -2: [4, 10] */
    a = tsr_op_attrs_default();
    a.n_starts = a.n_ends = a.n_steps = 1;
    a.starts[0] = -1;
    a.ends[0] = INT64_MIN;
    a.steps[0] = -2;
    expect_i64(g, op(g, TSR_OP_SLICE, &range, 1, &a), TSR_I64, 2, (const int64_t[]){4, 10});
    /* ... and the folded graph runs: only the reshape of x (a view) and nothing else */
    ck_assert_int_eq(tsr_graph_output(g, "y", r), TSR_OK);
    tsr_plan *plan;
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "cpu";
    ck_assert_int_eq(tsr_compile(ctx, g, &o, &plan), TSR_OK);
    tsr_plan_destroy(plan);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

/* The torch.onnx attention block on every device. */
START_TEST(test_torch_shape_model) {
    tsr_context *ctx = ts_context();
    struct tsr_tensor x, want;
    ck_assert_int_eq(tsr_npy_load(TSR_TEST_DATA_DIR "/shape_attn_in0.npy", &x), TSR_OK);
    ck_assert_int_eq(tsr_npy_load(TSR_TEST_DATA_DIR "/shape_attn_out0.npy", &want), TSR_OK);
    const char *files[2] = {TSR_TEST_DATA_DIR "/shape_attn_op11.onnx",
                            TSR_TEST_DATA_DIR "/shape_attn_op13.onnx"};
    int devices = 0;
    for (int fi = 0; fi < 2; fi++) {
        struct tsr_input_shape shp = {"x", x.desc, NULL};
        tsr_graph *g;
        ck_assert_msg(tsr_onnx_import_file(ctx, files[fi], &shp, 1, &g) == TSR_OK, "%s",
                      tsr_last_error(ctx)->message);
        for (int d = 0; d < tsr_device_count(ctx); d++) {
            struct tsr_device_info info;
            ck_assert_int_eq(tsr_device_get_info(ctx, d, &info), TSR_OK);
            struct tsr_compile_options o = tsr_compile_options_default();
            o.device = info.id;
            o.allow_fallback = 0;
            tsr_plan *plan;
            ck_assert_msg(tsr_compile(ctx, g, &o, &plan) == TSR_OK, "%s on %s: %s", files[fi],
                          info.id, tsr_last_error(ctx)->message);
            /* the shape subgraph folded: 3 projections, 4 transposes, 2 batched matmuls, the
             * scale + mask region and the softmax */
            ck_assert_int_eq(tsr_plan_kernel_count(plan), 11);
            for (int k = 0; k < tsr_plan_kernel_count(plan); k++) {
                struct tsr_kernel_info ki;
                ck_assert_int_eq(tsr_plan_kernel_info(plan, k, &ki), TSR_OK);
                ck_assert_msg(!strstr(ki.nodes, "Shape") && !strstr(ki.nodes, "Gather") &&
                                  !strstr(ki.nodes, "Equal") && !strstr(ki.nodes, "Cast"),
                              "kernel %s runs shape arithmetic: %s", ki.name, ki.nodes);
            }
            struct tsr_tensor y;
            ck_assert_int_eq(tsr_tensor_alloc(&want.desc, &y), TSR_OK);
            ck_assert_msg(tsr_plan_run(plan, &x, 1, &y, 1) == TSR_OK, "%s",
                          tsr_last_error(ctx)->message);
            double err = ts_max_abs_diff(y.data, want.data, (size_t)tsr_desc_elements(&want.desc));
            ck_assert_msg(err <= 1e-5, "%s on %s: max abs error %g", files[fi], info.id, err);
            tsr_tensor_free(&y);
            tsr_plan_destroy(plan);
            devices++;
        }
        tsr_graph_destroy(g);
    }
    if (ts_opencl_expected()) ck_assert_int_ge(devices, 4);
    tsr_tensor_free(&x);
    tsr_tensor_free(&want);
    tsr_context_destroy(ctx);
}
END_TEST

/* Inputs and outputs of every dtype pass through a plan (byte copies) on every device; an op on
 * non-constant data that has no kernel is refused naming the node and the dtype; Equal + Cast of
 * a non-constant int64 input run on every device. */
/* Group "dtcompute": int64 regions are exact beyond 2^53 on every device (no double in
 * between): (x + y) * y - x with x near 2^62 (wrapping) and y = 1, Div truncating, Mod with the
 * divisor's sign; expected values computed here in uint64 arithmetic. */
START_TEST(test_int64_exact) {
    tsr_context *ctx = ts_context();
    tsr_graph *g;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    struct tsr_tensor_desc d = {TSR_I64, 1, {4}};
    tsr_value x, y, t, u, v, q, m;
    ck_assert_int_eq(tsr_graph_input(g, "x", &d, &x), TSR_OK);
    ck_assert_int_eq(tsr_graph_input(g, "y", &d, &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_ADD, (tsr_value[]){x, y}, 2, NULL, "add", &t), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MUL, (tsr_value[]){t, y}, 2, NULL, "mul", &u), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_SUB, (tsr_value[]){u, x}, 2, NULL, "sub", &v), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_DIV, (tsr_value[]){x, y}, 2, NULL, "div", &q), TSR_OK);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_MOD, (tsr_value[]){x, y}, 2, NULL, "mod", &m), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "v", v), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "q", q), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "m", m), TSR_OK);
    const int64_t xs[4] = {((int64_t)1 << 62) + 1, -((int64_t)1 << 62) - 3, INT64_MAX, -7};
    const int64_t ys[4] = {3, -5, 2, 0};
    struct tsr_tensor in[2], out[3];
    ck_assert_int_eq(tsr_tensor_alloc(&d, &in[0]), TSR_OK);
    ck_assert_int_eq(tsr_tensor_alloc(&d, &in[1]), TSR_OK);
    memcpy(in[0].data, xs, sizeof xs);
    memcpy(in[1].data, ys, sizeof ys);
    int64_t ev[4], eq[4], em[4];
    for (int i = 0; i < 4; i++) {
        const uint64_t a = (uint64_t)xs[i], b = (uint64_t)ys[i];
        ev[i] = (int64_t)((a + b) * b - a);
        eq[i] = ys[i] == 0 ? 0 : xs[i] / ys[i];
        const int64_t r = ys[i] == 0 ? 0 : xs[i] % ys[i];
        em[i] = (r != 0 && ((r < 0) != (ys[i] < 0))) ? r + ys[i] : r;
    }
    for (int dev = 0; dev < tsr_device_count(ctx); dev++) {
        struct tsr_device_info info;
        tsr_device_get_info(ctx, dev, &info);
        struct tsr_compile_options o = tsr_compile_options_default();
        o.device = info.id;
        o.allow_fallback = 0;
        tsr_plan *plan;
        ck_assert_msg(tsr_compile(ctx, g, &o, &plan) == TSR_OK, "%s: %s", info.id,
                      tsr_last_error(ctx)->message);
        for (int k = 0; k < 3; k++)
            ck_assert_int_eq(tsr_tensor_alloc(&d, &out[k]), TSR_OK);
        ck_assert_int_eq(tsr_plan_run(plan, in, 2, out, 3), TSR_OK);
        for (int i = 0; i < 4; i++) {
            ck_assert_msg(((int64_t *)out[0].data)[i] == ev[i], "%s (x+y)*y-x [%d]", info.id, i);
            ck_assert_msg(((int64_t *)out[1].data)[i] == eq[i], "%s x/y [%d]", info.id, i);
            ck_assert_msg(((int64_t *)out[2].data)[i] == em[i], "%s x mod y [%d]", info.id, i);
        }
        for (int k = 0; k < 3; k++)
            tsr_tensor_free(&out[k]);
        tsr_plan_destroy(plan);
    }
    tsr_tensor_free(&in[0]);
    tsr_tensor_free(&in[1]);
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

START_TEST(test_io_and_refusals) {
    tsr_context *ctx = ts_context();
    static const tsr_dtype all[] = {TSR_F32, TSR_U8,   TSR_I8,  TSR_I32,
                                    TSR_I64, TSR_BOOL, TSR_F16, TSR_F64};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        tsr_graph *g;
        ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
        struct tsr_tensor_desc d = {all[k], 2, {3, 5}};
        tsr_value x, y;
        ck_assert_int_eq(tsr_graph_input(g, "x", &d, &x), TSR_OK);
        struct tsr_op_attrs a = tsr_op_attrs_default();
        a.n_axes = 1;
        a.axes[0] = 1;
        ck_assert_int_eq(tsr_graph_op(g, TSR_OP_UNSQUEEZE, &x, 1, &a, "u", &y), TSR_OK);
        ck_assert_int_eq(tsr_graph_output(g, "y", y), TSR_OK); /* a view of x: a copy */
        struct tsr_tensor in, out;
        ck_assert_int_eq(tsr_tensor_alloc(&d, &in), TSR_OK);
        for (int i = 0; i < 15; i++)
            tsr_elem_set_i64(all[k], in.data, i, (i * 37) % 11);
        struct tsr_tensor_desc od = g->values[y].desc;
        for (int dev = 0; dev < tsr_device_count(ctx); dev++) {
            struct tsr_device_info info;
            tsr_device_get_info(ctx, dev, &info);
            struct tsr_compile_options o = tsr_compile_options_default();
            o.device = info.id;
            o.allow_fallback = 0;
            tsr_plan *plan;
            ck_assert_msg(tsr_compile(ctx, g, &o, &plan) == TSR_OK, "%s on %s: %s",
                          tsr_dtype_name(all[k]), info.id, tsr_last_error(ctx)->message);
            ck_assert_int_eq(tsr_tensor_alloc(&od, &out), TSR_OK);
            ck_assert_int_eq(tsr_plan_run(plan, &in, 1, &out, 1), TSR_OK);
            ck_assert_int_eq(out.desc.rank, 3);
            ck_assert_msg(!memcmp(in.data, out.data, tsr_desc_bytes(&d)), "%s on %s",
                          tsr_dtype_name(all[k]), info.id);
            /* a wrong dtype at run time */
            struct tsr_tensor wrong = in;
            wrong.desc.dtype = all[k] == TSR_F32 ? TSR_I32 : TSR_F32;
            ck_assert_int_eq(tsr_plan_run(plan, &wrong, 1, &out, 1), TSR_E_DTYPE);
            tsr_tensor_free(&out);
            tsr_plan_destroy(plan);
        }
        tsr_tensor_free(&in);
        tsr_graph_destroy(g);
    }
    /* Equal of a non-constant int64 input, then Cast to float32: kernels on every device now
     * (issue 9, group "tkern": MIXED and CAST kernels); the mask matches the definition. */
    tsr_graph *g;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    struct tsr_tensor_desc d = {TSR_I64, 1, {4}};
    tsr_value x, z, e, c;
    int64_t zero = 0;
    ck_assert_int_eq(tsr_graph_input(g, "ids", &d, &x), TSR_OK);
    ck_assert_int_eq(
        tsr_graph_constant(g, "zero", &(struct tsr_tensor_desc){TSR_I64, 0, {0}}, &zero, &z),
        TSR_OK);
    tsr_value ein[2] = {x, z};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_EQUAL, ein, 2, NULL, "ids_eq", &e), TSR_OK);
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.cast_to = TSR_F32;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_CAST, &e, 1, &a, "mask_cast", &c), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "m", c), TSR_OK);
    const int64_t ids[4] = {0, 7, 0, -3};
    struct tsr_tensor in = {d, (void *)ids};
    for (int dev = 0; dev < tsr_device_count(ctx); dev++) {
        struct tsr_device_info info;
        tsr_device_get_info(ctx, dev, &info);
        struct tsr_compile_options o = tsr_compile_options_default();
        o.device = info.id;
        o.allow_fallback = 0;
        tsr_plan *plan = NULL;
        ck_assert_msg(tsr_compile(ctx, g, &o, &plan) == TSR_OK, "%s: %s", info.id,
                      tsr_last_error(ctx)->message);
        float m[4] = {-1, -1, -1, -1};
        struct tsr_tensor out = {{TSR_F32, 1, {4}}, m};
        ck_assert_int_eq(tsr_plan_run(plan, &in, 1, &out, 1), TSR_OK);
        ck_assert_msg(m[0] == 1.0f && m[1] == 0.0f && m[2] == 1.0f && m[3] == 0.0f,
                      "%s: %g %g %g %g", info.id, m[0], m[1], m[2], m[3]);
        tsr_plan_destroy(plan);
    }
    tsr_graph_destroy(g);
    /* Range of non-constant bounds: no kernel, a clear refusal naming node, op and dtype */
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    struct tsr_tensor_desc sd = {TSR_I64, 0, {0}};
    tsr_value lim, one, r;
    int64_t one_v = 1;
    ck_assert_int_eq(tsr_graph_input(g, "limit", &sd, &lim), TSR_OK);
    ck_assert_int_eq(tsr_graph_constant(g, "one", &sd, &one_v, &one), TSR_OK);
    tsr_value rin[3] = {one, lim, one};
    if (tsr_graph_op(g, TSR_OP_RANGE, rin, 3, NULL, "range_n", &r) == TSR_OK) {
        ck_assert_int_eq(tsr_graph_output(g, "r", r), TSR_OK);
        struct tsr_compile_options o = tsr_compile_options_default();
        o.device = "cpu";
        tsr_plan *plan = NULL;
        ck_assert_int_eq(tsr_compile(ctx, g, &o, &plan), TSR_E_UNSUPPORTED);
        const char *msg = tsr_last_error(ctx)->message;
        ck_assert_msg(strstr(msg, "range_n") && strstr(msg, "Range") && strstr(msg, "int64"), "%s",
                      msg);
        ck_assert_ptr_null(plan);
    } else { /* a Range whose length is unknown is refused when it is built: also clear */
        const char *msg = tsr_last_error(ctx)->message;
        ck_assert_msg(strstr(msg, "range_n") && strstr(msg, "Range"), "%s", msg);
    }
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

int main(void) {
    Suite *s = suite_create("dtypes");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_float16);
    tcase_add_test(tc, test_npy_every_dtype);
    tcase_add_test(tc, test_shape_arithmetic_folds);
    tcase_add_test(tc, test_torch_shape_model);
    tcase_add_test(tc, test_io_and_refusals);
    tcase_add_test(tc, test_int64_exact); /* group "dtcompute" */
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
