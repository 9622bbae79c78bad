/*
 * check_graph.c — the builder (shape inference and its error messages), the status list, the
 * passes (folding, dead code), lowering (fusion boundaries, views) and the memory plan
 * (liveness-planned arena), and plan-level validation (shapes, counts, devices).
 */
#include "graph_check.h"
#include "test_support.h"

#include "runtime/backend.h"
#include "runtime/graph.h"
#include "runtime/lower.h"
#include "runtime/memplan.h"
#include "runtime/passes/passes.h"
#include "runtime/pool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static const char *last_msg(void) {
    return tsr_last_error(ctx)->message;
}

START_TEST(test_status_list) {
    ck_assert_str_eq(tsr_status_name(TSR_OK), "TSR_OK");
    ck_assert_str_eq(tsr_status_name(TSR_E_SHAPE), "TSR_E_SHAPE");
    ck_assert_str_eq(tsr_status_str(TSR_E_SHAPE), "shape mismatch");
    ck_assert_str_eq(tsr_status_name((tsr_status)-999), "TSR_E_UNKNOWN");
    ck_assert_str_eq(tsr_status_str((tsr_status)-999), "unknown status");
    ck_assert_int_lt(TSR_E_INTERNAL, 0);
    ck_assert_str_eq(tsr_status_str(TSR_E_BUILD), "kernel build failed");
    /* an error that is not a failed native call names no backend and no native code */
    ck_assert_int_eq(tsr_device_get_info(ctx, -1, NULL), TSR_E_INVALID_ARG);
    ck_assert_str_eq(tsr_last_error(ctx)->backend, "");
    ck_assert_int_eq(tsr_last_error(ctx)->native_code, 0);
}
END_TEST

static struct tsr_tensor_desc infer2(tsr_op op, int ra, const int64_t *a, int rb, const int64_t *b,
                                     tsr_status want) {
    tsr_graph *g = new_graph();
    tsr_value x = gc_input(g, "a", ra, a), y = gc_input(g, "b", rb, b), z = -1;
    tsr_value in[2] = {x, y};
    tsr_status st = tsr_graph_op(g, op, in, 2, NULL, "node7", &z);
    ck_assert_msg(st == want, "%s: got %s: %s", tsr_op_name(op), tsr_status_name(st), last_msg());
    struct tsr_tensor_desc d;
    memset(&d, 0, sizeof d);
    if (st == TSR_OK) tsr_graph_value_desc(g, z, &d);
    tsr_graph_destroy(g);
    return d;
}

START_TEST(test_broadcast_shapes) {
    int64_t a[3] = {2, 1, 4}, b[2] = {3, 1}, c[2] = {2, 3}, d[1] = {4};
    struct tsr_tensor_desc r = infer2(TSR_OP_ADD, 3, a, 2, b, TSR_OK);
    ck_assert_int_eq(r.rank, 3);
    ck_assert(r.dims[0] == 2 && r.dims[1] == 3 && r.dims[2] == 4);
    infer2(TSR_OP_MUL, 2, c, 1, d, TSR_E_SHAPE);
    /* The message names the node, the op and both shapes. */
    ck_assert_ptr_nonnull(strstr(last_msg(), "node7"));
    ck_assert_ptr_nonnull(strstr(last_msg(), "Mul"));
    ck_assert_ptr_nonnull(strstr(last_msg(), "[2, 3]"));
    ck_assert_ptr_nonnull(strstr(last_msg(), "[4]"));
}
END_TEST

START_TEST(test_gemm_matmul_shapes) {
    int64_t a[2] = {5, 3}, b[2] = {4, 7}, b2[2] = {3, 7};
    infer2(TSR_OP_GEMM, 2, a, 2, b, TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(last_msg(), "[5, 3]"));
    ck_assert_ptr_nonnull(strstr(last_msg(), "[4, 7]"));
    struct tsr_tensor_desc r = infer2(TSR_OP_GEMM, 2, a, 2, b2, TSR_OK);
    ck_assert(r.rank == 2 && r.dims[0] == 5 && r.dims[1] == 7);
    int64_t ba[3] = {6, 5, 3}, v[1] = {3};
    r = infer2(TSR_OP_MATMUL, 3, ba, 2, b2, TSR_OK);
    ck_assert(r.rank == 3 && r.dims[0] == 6 && r.dims[1] == 5 && r.dims[2] == 7);
    r = infer2(TSR_OP_MATMUL, 3, ba, 1, v, TSR_OK);
    ck_assert(r.rank == 2 && r.dims[0] == 6 && r.dims[1] == 5);
    infer2(TSR_OP_MATMUL, 2, b, 2, b2, TSR_E_SHAPE);
    /* transA / transB change which dims must agree. */
    tsr_graph *g = new_graph();
    int64_t at[2] = {3, 5}, bt[2] = {7, 3};
    tsr_value in[2] = {gc_input(g, "a", 2, at), gc_input(g, "b", 2, bt)}, y;
    struct tsr_op_attrs attrs = tsr_op_attrs_default();
    attrs.trans_a = attrs.trans_b = 1;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_GEMM, in, 2, &attrs, NULL, &y), TSR_OK);
    struct tsr_tensor_desc d;
    tsr_graph_value_desc(g, y, &d);
    ck_assert(d.dims[0] == 5 && d.dims[1] == 7);
    tsr_graph_destroy(g);
}
END_TEST

START_TEST(test_reshape_flatten_softmax_shapes) {
    tsr_graph *g = new_graph();
    int64_t xd[3] = {2, 3, 4};
    tsr_value x = gc_input(g, "x", 3, xd);
    int64_t shp[3] = {0, -1, 2};
    struct tsr_tensor_desc sd = {TSR_I64, 1, {3}};
    tsr_value s, y;
    ck_assert_int_eq(tsr_graph_constant(g, "s", &sd, shp, &s), TSR_OK);
    tsr_value in[2] = {x, s};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RESHAPE, in, 2, NULL, NULL, &y), TSR_OK);
    struct tsr_tensor_desc d;
    tsr_graph_value_desc(g, y, &d);
    ck_assert(d.rank == 3 && d.dims[0] == 2 && d.dims[1] == 6 && d.dims[2] == 2);
    int64_t bad[2] = {5, -1};
    struct tsr_tensor_desc bd = {TSR_I64, 1, {2}};
    ck_assert_int_eq(tsr_graph_constant(g, "bad", &bd, bad, &s), TSR_OK);
    in[1] = s;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RESHAPE, in, 2, NULL, NULL, &y), TSR_E_SHAPE);
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.axis = 2;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_FLATTEN, &x, 1, &at, NULL, &y), TSR_OK);
    tsr_graph_value_desc(g, y, &d);
    ck_assert(d.rank == 2 && d.dims[0] == 6 && d.dims[1] == 4);
    at.axis = 3;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_SOFTMAX, &x, 1, &at, "sm", &y), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(last_msg(), "axis 3"));
    tsr_graph_destroy(g);
}
END_TEST

START_TEST(test_builder_rejects_bad_input) {
    tsr_graph *g = new_graph();
    int64_t d[1] = {4};
    tsr_value x = gc_input(g, "x", 1, d), y;
    struct tsr_tensor_desc i64 = {TSR_I64, 1, {4}};
    ck_assert_int_eq(tsr_graph_input(g, "x", &(struct tsr_tensor_desc){TSR_F32, 1, {4}}, &y),
                     TSR_E_INVALID_ARG);                         /* duplicate name */
    ck_assert_int_eq(tsr_graph_input(g, "i", &i64, &y), TSR_OK); /* any dtype is an input */
    struct tsr_tensor_desc u64 = {(tsr_dtype)13, 1, {4}};        /* UINT64: not a tessera dtype */
    ck_assert_int_eq(tsr_graph_input(g, "u", &u64, &y), TSR_E_INVALID_ARG);
    tsr_value bogus[2] = {x, 12345};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_ADD, bogus, 2, NULL, NULL, &y), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_ADD, &x, 1, NULL, NULL, &y), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_graph_op(g, (tsr_op)(TSR_OP_COUNT + 1), &x, 1, NULL, NULL, &y),
                     TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_graph_output(g, NULL, 777), TSR_E_INVALID_ARG);
    struct tsr_tensor_desc neg = {TSR_F32, 1, {-3}};
    ck_assert_int_eq(tsr_graph_input(g, "n", &neg, &y), TSR_E_INVALID_ARG);
    /* No outputs: compile refuses. */
    tsr_plan *p = NULL;
    ck_assert_int_eq(tsr_compile(ctx, g, NULL, &p), TSR_E_INVALID_ARG);
    ck_assert_ptr_null(p);
    tsr_graph_destroy(g);
    tsr_graph_destroy(NULL);
    tsr_plan_destroy(NULL);
}
END_TEST

/* Folding evaluates constant subgraphs; DCE drops what no output needs. */
START_TEST(test_fold_and_dce) {
    tsr_graph *g = new_graph();
    int64_t d[2] = {4, 8};
    tsr_value x = gc_input(g, "x", 2, d);
    tsr_value c1 = gc_const(g, 2, d, 1), c2 = gc_const(g, 2, d, 2);
    tsr_value k = gc_op1(g, TSR_OP_TANH, gc_op(g, TSR_OP_MUL, c1, c2)); /* constant subgraph */
    tsr_value y = gc_op(g, TSR_OP_ADD, x, k);
    gc_op1(g, TSR_OP_SIGMOID, x); /* dead */
    ck_assert_int_eq(tsr_graph_output(g, "y", y), TSR_OK);
    tsr_graph *c = NULL;
    ck_assert_int_eq(tsr_graph_clone(g, &c), TSR_OK);
    int folded = -1, removed = -1;
    ck_assert_int_eq(tsr_pass_fold(c, &folded), TSR_OK);
    ck_assert_int_eq(folded, 2);
    ck_assert_ptr_nonnull(c->values[k].data);
    /* The folded value equals tanh(c1 * c2) computed here. */
    const float *a = c->values[c1].data, *b = c->values[c2].data, *kv = c->values[k].data;
    for (int i = 0; i < 32; i++)
        ck_assert_float_eq_tol(kv[i], tanhf(a[i] * b[i]), 1e-6f);
    ck_assert_int_eq(tsr_pass_dce(c, &removed), TSR_OK);
    ck_assert_int_eq(removed, 1);
    tsr_graph_destroy(c);
    ck_assert_int_eq(gc_kernel_count(ctx, g, 0), 1);
    gc_check_all_devices(ctx, g, 0, 2e-6, 1e-6);
    tsr_graph_destroy(g);
}
END_TEST

/* A chain with fusion off: each intermediate lives two kernels; with in-place reuse the whole
 * chain fits one buffer (the liveness lower bound), not one per value. */
/* Every buffer and kernel of a lowered program carries its dtype; both backends' prepare refuse a
 * kernel in a dtype they have no kernel for, naming the kernel and the dtype. */
static tsr_dtype_set f32_only(tsr_kernel_kind kind) {
    (void)kind;
    return TSR_DTYPE_BIT(TSR_F32);
}

START_TEST(test_program_dtypes_checked) {
    int64_t d[1] = {16};
    tsr_graph *g = new_graph();
    tsr_value a = gc_input(g, "a", 1, d), b = gc_input(g, "b", 1, d);
    ck_assert_int_eq(tsr_graph_output(g, "y", gc_op(g, TSR_OP_ADD, a, b)), TSR_OK);
    struct tsr_program p;
    ck_assert_int_eq(tsr_lower(g, 0, &p, NULL), TSR_OK);
    ck_assert_int_eq(p.n_kernels, 1);
    for (int i = 0; i < p.n_buffers; i++)
        ck_assert_int_eq(p.buffers[i].desc.dtype, TSR_F32);
    struct tsr_kernel *k = &p.kernels[0];
    ck_assert_int_eq(k->dtype, TSR_F32);
    ck_assert_int_eq(tsr_kernel_dtypes_ok(&p, k, f32_only, NULL, NULL), 1);
    int n_ops = tsr_backend_registry_count();
    ck_assert_int_ge(n_ops, 1);
    for (int o = 0; o < n_ops; o++) {
        const struct tsr_backend_ops *op = tsr_backend_registry_get(o);
        void *ex = NULL;
        k->dtype = TSR_I64; /* a kernel kind no backend has an int64 kernel of */
        ck_assert_int_eq(op->prepare(ctx, 0, &p, &ex), TSR_E_DTYPE);
        ck_assert_ptr_null(ex);
        ck_assert_msg(strstr(last_msg(), "'ew_add'") && strstr(last_msg(), "int64") &&
                          strstr(last_msg(), op->name),
                      "%s", last_msg());
        k->dtype = TSR_F32; /* an argument that disagrees with the kernel */
        p.buffers[k->inputs[1]].desc.dtype = TSR_I64;
        ck_assert_int_eq(op->prepare(ctx, 0, &p, &ex), TSR_E_DTYPE);
        ck_assert_msg(strstr(last_msg(), "input 1") && strstr(last_msg(), "int64"), "%s",
                      last_msg());
        p.buffers[k->inputs[1]].desc.dtype = TSR_F32;
    }
    tsr_dtype bad = TSR_F32;
    int arg = 0;
    k->dtype = TSR_I64;
    ck_assert_int_eq(tsr_kernel_dtypes_ok(&p, k, f32_only, &bad, &arg), 0);
    ck_assert(bad == TSR_I64 && arg == -1);
    tsr_program_free(&p);
    tsr_graph_destroy(g);
}
END_TEST

START_TEST(test_memory_plan_reuses_arena) {
    tsr_graph *g = new_graph();
    int64_t d[2] = {16, 64}; /* 4 KiB per value */
    tsr_value t = gc_input(g, "x", 2, d);
    for (int i = 0; i < 10; i++)
        t = gc_op1(g, i % 2 ? TSR_OP_RELU : TSR_OP_TANH, t);
    ck_assert_int_eq(tsr_graph_output(g, "y", t), TSR_OK);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "cpu";
    o.disable_fusion = TSR_FUSE_ALL;
    tsr_plan *p = NULL;
    ck_assert_int_eq(tsr_compile(ctx, g, &o, &p), TSR_OK);
    ck_assert_int_eq(tsr_plan_kernel_count(p), 10);
    /* Each tanh/relu may overwrite its input (in place): one 4 KiB buffer is the whole arena,
     * which is also the liveness lower bound; without planning it would be nine. */
    struct tsr_plan_memory mem;
    ck_assert_int_eq(tsr_plan_memory_info(p, &mem), TSR_OK);
    ck_assert_uint_eq(mem.arena_bytes, 16 * 64 * 4);
    ck_assert_uint_eq(mem.lower_bound_bytes, 16 * 64 * 4);
    ck_assert_uint_eq(mem.unplanned_bytes, 9 * 16 * 64 * 4);
    ck_assert_int_eq(mem.intermediates, 9);
    tsr_plan_destroy(p);
    gc_check_all_devices(ctx, g, TSR_FUSE_ALL, 2e-6, 1e-6);
    tsr_graph_destroy(g);
}
END_TEST

static uint64_t mp_rand(uint64_t *s) { /* xorshift64 */
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Memory plan of random programs (elementwise kernels reading same-layout and broadcast inputs,
 * other kernels reading anything), against an independent check of the bytes: two TEMP buffers
 * that share bytes must either never be live together, or be an in-place pair — an elementwise
 * kernel's output over an input of its layout read last by that kernel — at EXACTLY the same
 * offset. Before the fix the planner shifted such pairs (e.g. the output 2624 bytes above the
 * input), and OpenCL work-items overwrote input elements others had not read yet. */
START_TEST(test_memory_plan_in_place_exact) {
    uint64_t seed = 12345;
    int aliased = 0;
    for (int trial = 0; trial < 400; trial++) {
        enum { NK = 16 };
        struct tsr_buffer bufs[NK + 1];
        struct tsr_kernel ks[NK];
        memset(bufs, 0, sizeof bufs);
        memset(ks, 0, sizeof ks);
        int64_t elems[NK + 1];
        elems[0] = 64 * 9;
        bufs[0] = (struct tsr_buffer){.kind = TSR_BUF_INPUT, .desc = {TSR_F32, 1, {elems[0]}}};
        for (int k = 0; k < NK; k++) {
            struct tsr_kernel *kn = &ks[k];
            int src = (int)(mp_rand(&seed) % (uint64_t)(k + 1));
            kn->output = k + 1;
            kn->dtype = TSR_F32;
            if (mp_rand(&seed) % 2) { /* elementwise over src's layout, maybe a broadcast 2nd */
                kn->kind = TSR_K_EW;
                elems[k + 1] = elems[src];
                kn->u.ew.rank = 1;
                kn->u.ew.dims[0] = elems[src];
                kn->inputs[kn->n_inputs] = src;
                kn->u.ew.strides[kn->n_inputs++][0] = 1;
                if (mp_rand(&seed) % 2) {
                    kn->inputs[kn->n_inputs] = (int)(mp_rand(&seed) % (uint64_t)(k + 1));
                    kn->u.ew.strides[kn->n_inputs++][0] = 0;
                }
                kn->u.ew.n_instrs = 1;
                kn->u.ew.n_regs = 1;
            } else { /* anything else: reads its inputs while writing */
                kn->kind = TSR_K_SOFTMAX;
                elems[k + 1] = 64 * (int64_t)(1 + mp_rand(&seed) % 24);
                int n = 1 + (int)(mp_rand(&seed) % 3);
                for (int j = 0; j < n; j++)
                    kn->inputs[kn->n_inputs++] = (int)(mp_rand(&seed) % (uint64_t)(k + 1));
            }
            bufs[k + 1] = (struct tsr_buffer){.kind = TSR_BUF_TEMP,
                                              .desc = {TSR_F32, 1, {elems[k + 1]}},
                                              .bytes = (size_t)elems[k + 1] * sizeof(float)};
        }
        bufs[0].bytes = (size_t)elems[0] * sizeof(float);
        struct tsr_program p = {
            .n_buffers = NK + 1, .buffers = bufs, .n_kernels = NK, .kernels = ks};
        ck_assert_int_eq(tsr_memplan(NULL, &p), TSR_OK);
        ck_assert_uint_le(p.arena_lower_bound_bytes, p.arena_bytes);
        int last_read[NK + 1];
        for (int b = 0; b <= NK; b++)
            last_read[b] = b - 1; /* buffer b is written by kernel b - 1 */
        for (int k = 0; k < NK; k++)
            for (int j = 0; j < ks[k].n_inputs; j++)
                if (last_read[ks[k].inputs[j]] < k) last_read[ks[k].inputs[j]] = k;
        for (int a = 1; a <= NK; a++) {
            ck_assert_uint_le(bufs[a].offset + bufs[a].bytes, p.arena_bytes);
            for (int b = a + 1; b <= NK; b++) {
                size_t oa = bufs[a].offset, ob = bufs[b].offset;
                if (!(oa < ob + bufs[b].bytes && ob < oa + bufs[a].bytes)) continue;
                int w = b - 1; /* b is written at kernel w, after a */
                if (last_read[a] < w) continue;
                /* in place: a read last by kernel w, elementwise, only in its own layout */
                int in_place = last_read[a] == w && ks[w].kind == TSR_K_EW;
                for (int j = 0; j < ks[w].n_inputs; j++)
                    if (ks[w].inputs[j] == a && ks[w].u.ew.strides[j][0] != 1) in_place = 0;
                ck_assert_msg(in_place, "trial %d: buffers %d and %d live together share bytes",
                              trial, a, b);
                ck_assert_msg(oa == ob,
                              "trial %d: kernel %d writes buffer %d at %zu over its in-place "
                              "input %d at %zu (shifted, not aliased)",
                              trial, w, b, ob, a, oa);
                aliased++;
            }
        }
    }
    ck_assert_int_gt(aliased, 100); /* in place still happens, exactly */
}
END_TEST

/* Run-time validation and steady state. */
START_TEST(test_plan_run_validation) {
    tsr_graph *g = new_graph();
    int64_t d[2] = {3, 5};
    tsr_value x = gc_input(g, "x", 2, d);
    ck_assert_int_eq(tsr_graph_output(g, "y", gc_op1(g, TSR_OP_RELU, x)), TSR_OK);
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = "cpu";
    tsr_plan *p = NULL;
    ck_assert_int_eq(tsr_compile(ctx, g, &o, &p), TSR_OK);
    const char *name;
    struct tsr_tensor_desc want;
    ck_assert_int_eq(tsr_plan_input_desc(p, 0, &name, &want), TSR_OK);
    ck_assert_str_eq(name, "x");
    ck_assert_int_eq(tsr_plan_input_desc(p, 1, &name, &want), TSR_E_INVALID_ARG);
    float xb[15], yb[15];
    ts_fill_uniform(xb, 15, 3, -1, 1);
    struct tsr_tensor in = {ts_desc(2, d), xb}, out = {ts_desc(2, d), yb};
    int64_t wrong[2] = {5, 3};
    struct tsr_tensor bad = {ts_desc(2, wrong), xb};
    ck_assert_int_eq(tsr_plan_run(p, &bad, 1, &out, 1), TSR_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(last_msg(), "[5, 3]"));
    ck_assert_ptr_nonnull(strstr(last_msg(), "[3, 5]"));
    ck_assert_ptr_nonnull(strstr(last_msg(), "'x'"));
    ck_assert_int_eq(tsr_plan_run(p, &in, 0, &out, 1), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_plan_run(p, &in, 1, &out, 1), TSR_OK);
    for (int i = 0; i < 15; i++)
        ck_assert_float_eq(yb[i], xb[i] > 0 ? xb[i] : 0.0f);
    /* Steady state: more runs take nothing new from the system. */
    struct tsr_pool_stats before, after;
    ck_assert_int_eq(tsr_pool_get_stats(ctx, 0, &before), TSR_OK);
    for (int k = 0; k < 5; k++)
        ck_assert_int_eq(tsr_plan_run(p, &in, 1, &out, 1), TSR_OK);
    ck_assert_int_eq(tsr_pool_get_stats(ctx, 0, &after), TSR_OK);
    ck_assert_uint_eq(after.system_allocs, before.system_allocs);
    struct tsr_device_info di;
    ck_assert_int_eq(tsr_plan_device(p, &di), TSR_OK);
    ck_assert_str_eq(di.id, "cpu");
    tsr_plan_destroy(p);
    tsr_graph_destroy(g);
}
END_TEST

START_TEST(test_device_strings) {
    int idx;
    ck_assert_int_eq(tsr_device_find(ctx, "cpu", &idx), TSR_OK);
    ck_assert_int_eq(idx, 0);
    ck_assert_int_eq(tsr_device_find(ctx, "gpu", &idx), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_device_find(ctx, "opencl:x", &idx), TSR_E_INVALID_ARG);
#ifdef TSR_WITH_OPENCL
    ck_assert_int_eq(tsr_device_find(ctx, "opencl:99", &idx), TSR_E_NOT_FOUND);
#else /* a build without the OpenCL backend does not know the name */
    ck_assert_int_eq(tsr_device_find(ctx, "opencl:99", &idx), TSR_E_INVALID_ARG);
#endif
    tsr_graph *g = new_graph();
    int64_t d[1] = {4};
    ck_assert_int_eq(tsr_graph_output(g, "y", gc_op1(g, TSR_OP_RELU, gc_input(g, "x", 1, d))),
                     TSR_OK);
    struct tsr_compile_options o = tsr_compile_options_default();
    tsr_plan *p = NULL;
    o.device = "opencl";
    tsr_status st = tsr_compile(ctx, g, &o, &p);
    if (ts_have_opencl(ctx)) {
        ck_assert_int_eq(st, TSR_OK);
        tsr_plan_destroy(p);
    } else {
        /* With OpenCL hidden, asking for it is an error, never a silent CPU run. */
#ifdef TSR_WITH_OPENCL
        ck_assert_int_eq(st, TSR_E_NOT_FOUND);
#else
        ck_assert_int_eq(st, TSR_E_INVALID_ARG); /* no OpenCL backend in this build */
#endif
        ck_assert_ptr_null(p);
    }
    /* auto always compiles, and says why. */
    o.device = "auto";
    ck_assert_int_eq(tsr_compile(ctx, g, &o, &p), TSR_OK);
    ck_assert_int_gt((int)strlen(tsr_plan_device_reason(p)), 10);
    tsr_plan_destroy(p);
    tsr_graph_destroy(g);
}
END_TEST

/* The backend registry (runtime/backend.h): device strings, TSR_BACKENDS, the host backend. */
START_TEST(test_backend_registry) {
    char name[TSR_BACKEND_NAME_MAX];
    int n = -1;
    ck_assert_int_eq(tsr_device_string_parse("cpu", name, &n), 0);
    ck_assert_str_eq(name, "cpu");
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(tsr_device_string_parse("opencl:12", name, &n), 0);
    ck_assert_str_eq(name, "opencl");
    ck_assert_int_eq(n, 12);
    const char *bad[] = {"",          ":1",        "opencl:",
                         "opencl:-1", "opencl:1x", "opencl:1001",
                         "OpenCL",    "cpu:0:1",   "averyveryverylongname"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(tsr_device_string_parse(bad[i], name, &n) == -1, "'%s' parsed", bad[i]);
    int idx = -1;
    ck_assert_int_eq(tsr_device_find(ctx, "cpu:0", &idx), TSR_OK);
    ck_assert_int_eq(idx, 0);
    ck_assert_int_eq(tsr_device_find(ctx, "cpu:1", &idx), TSR_E_NOT_FOUND);

    /* the host backend is the first registered one, computes in host memory, is device 0 */
    const struct tsr_backend_ops *host = tsr_backend_registry_host();
    ck_assert_ptr_eq(host, tsr_backend_registry_get(0));
    ck_assert_int_eq(host->host_memory, 1);
    ck_assert_ptr_eq(tsr_backend_registry_find(host->name, -1), host);
    ck_assert_ptr_null(tsr_backend_registry_find("nonesuch", -1));
    ck_assert_int_eq(tsr_context_host_device(ctx), 0);
    struct tsr_device_info info;
    ck_assert_int_eq(tsr_device_get_info(ctx, 0, &info), TSR_OK);
    ck_assert_str_eq(info.backend, host->name);
    ck_assert_int_eq(info.host_memory, 1);
    for (int d = 0; d < tsr_device_count(ctx); d++) {
        struct tsr_pool_stats ps;
        ck_assert_int_eq(tsr_pool_get_stats(ctx, d, &ps), TSR_OK);
    }

    /* an unknown TSR_BACKENDS name is an error that lists the known ones */
    tsr_context *c2 = NULL;
    setenv("TSR_BACKENDS", "cpu,nonesuch", 1);
    ck_assert_int_eq(tsr_context_create(NULL, &c2), TSR_E_INVALID_ARG);
    ck_assert_ptr_null(c2);
    const char *msg = tsr_last_error(NULL)->message;
    ck_assert_msg(strstr(msg, "nonesuch") && strstr(msg, host->name), "message: %s", msg);
    /* limiting to the host backend leaves one device; listing only others keeps the host */
    setenv("TSR_BACKENDS", " cpu ,, cpu", 1);
    ck_assert_int_eq(tsr_context_create(NULL, &c2), TSR_OK);
    ck_assert_int_eq(tsr_device_count(c2), 1);
    tsr_context_destroy(c2);
    setenv("TSR_BACKENDS", "opencl", 1);
    tsr_status st = tsr_context_create(NULL, &c2);
    if (tsr_backend_registry_find("opencl", -1)) {
        ck_assert_int_eq(st, TSR_OK);
        ck_assert_int_eq(tsr_device_count(c2), tsr_device_count(ctx));
        ck_assert_int_eq(tsr_context_host_device(c2), 0);
        tsr_context_destroy(c2);
    } else {
        ck_assert_int_eq(st, TSR_E_INVALID_ARG); /* built without the OpenCL backend */
    }
    unsetenv("TSR_BACKENDS");
    /* the compatibility option excludes the backend named opencl */
    struct tsr_context_options o = {0};
    o.disable_opencl = 1;
    ck_assert_int_eq(tsr_context_create(&o, &c2), TSR_OK);
    ck_assert_int_eq(tsr_device_count(c2), 1);
    ck_assert_int_eq(tsr_device_find(c2, "opencl", &idx),
                     tsr_backend_registry_find("opencl", -1) ? TSR_E_NOT_FOUND : TSR_E_INVALID_ARG);
    tsr_context_destroy(c2);
}
END_TEST

Suite *graph_suite(void) {
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_status_list);
    tcase_add_test(tc, test_backend_registry);
    tcase_add_test(tc, test_broadcast_shapes);
    tcase_add_test(tc, test_gemm_matmul_shapes);
    tcase_add_test(tc, test_reshape_flatten_softmax_shapes);
    tcase_add_test(tc, test_builder_rejects_bad_input);
    tcase_add_test(tc, test_fold_and_dce);
    tcase_add_test(tc, test_memory_plan_reuses_arena);
    tcase_add_test(tc, test_memory_plan_in_place_exact);
    tcase_add_test(tc, test_program_dtypes_checked);
    tcase_add_test(tc, test_plan_run_validation);
    tcase_add_test(tc, test_device_strings);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(graph_suite());
}
