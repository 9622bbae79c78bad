/*
 * check_opencl.c — the OpenCL backend on hand-built programs (struct tsr_program), compared with
 * plain scalar loops written here: fused elementwise regions with broadcasts, GEMM (trans, alpha,
 * beta, broadcast C, activations, batch), softmax, copy; the program cache (hit, corrupt entry,
 * build error with log); pool reuse; profiler records. Without an OpenCL device (e.g.
 * OCL_ICD_VENDORS pointing at an empty directory) the device cases are skipped with a note and
 * the cases that need no device still run (no-platform discovery, code generation, embedding).
 *
 * Tolerances (documented per case):
 *   - elementwise / softmax: |y - ref| <= 1e-5 * max(1, |ref|). OpenCL C full profile bounds
 *     exp <= 3 ulp, tanh <= 5 ulp, division <= 2.5 ulp (OpenCL C spec 7.4); a chain of <= 5 ops
 *     stays within ~20 ulp = 2.4e-6 relative, and the reference is computed in double.
 *   - GEMM: |y - ref| <= 1e-5 * (|alpha| * sum_k |a||b| + |beta * c|) + 1e-6, i.e. 1e-5 relative
 *     to the magnitude of the terms summed (f32 accumulation over K <= 8 terms is ~K ulp); the
 *     activations are 1-Lipschitz so the bound carries through; 1e-6 absorbs their own ulps.
 */
#include "backends/opencl/cl_embedded.h"
#include "backends/opencl/cl_internal.h"
#include "runtime/profiler.h"
#include "test_support.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- hand-built programs ---------------------------------------------------------------- */

#define TP_MAX_BUF 16
#define TP_MAX_KER 8

struct tprog {
    struct tsr_program p;
    struct tsr_buffer bufs[TP_MAX_BUF];
    struct tsr_kernel kers[TP_MAX_KER];
    int in_ids[TP_MAX_BUF], out_ids[TP_MAX_BUF];
};

static void tp_init(struct tprog *t) {
    memset(t, 0, sizeof *t);
    t->p.buffers = t->bufs;
    t->p.kernels = t->kers;
    t->p.input_buffers = t->in_ids;
    t->p.output_buffers = t->out_ids;
}

/* Adds a 1-D f32 buffer of n elements. CONST copies `data` (aligned, freed by tp_free); TEMP
 * is placed at the end of the arena (64-byte aligned). Returns the buffer id. */
static int tp_buf(struct tprog *t, tsr_buffer_kind kind, int64_t n, const float *data) {
    ck_assert_int_lt(t->p.n_buffers, TP_MAX_BUF);
    int id = t->p.n_buffers++;
    struct tsr_buffer *b = &t->bufs[id];
    b->kind = kind;
    b->desc = ts_desc(1, &n);
    b->bytes = (size_t)n * sizeof(float);
    if (kind == TSR_BUF_INPUT) {
        b->io_index = t->p.n_inputs;
        t->in_ids[t->p.n_inputs++] = id;
    } else if (kind == TSR_BUF_OUTPUT) {
        b->io_index = t->p.n_outputs;
        t->out_ids[t->p.n_outputs++] = id;
    } else if (kind == TSR_BUF_CONST) {
        b->const_data = tsr_aligned_alloc(b->bytes ? b->bytes : 64);
        memcpy(b->const_data, data, b->bytes);
    } else {
        b->offset = t->p.arena_bytes;
        t->p.arena_bytes += (b->bytes + 63) / 64 * 64;
    }
    return id;
}

static struct tsr_kernel *tp_kernel(struct tprog *t, tsr_kernel_kind kind, const char *name,
                                    int out, int n_in, const int *in) {
    ck_assert_int_lt(t->p.n_kernels, TP_MAX_KER);
    struct tsr_kernel *k = &t->kers[t->p.n_kernels++];
    k->kind = kind;
    k->dtype = TSR_F32;
    snprintf(k->name, sizeof k->name, "%s", name);
    k->nodes = NULL;
    k->output = out;
    k->n_inputs = n_in;
    for (int i = 0; i < n_in; i++)
        k->inputs[i] = in[i];
    return k;
}

static void tp_free(struct tprog *t) {
    for (int i = 0; i < t->p.n_buffers; i++)
        tsr_aligned_free(t->bufs[i].const_data);
}

/* prepare + execute + release on opencl:0; returns the status of the first failing step. */
static tsr_status run_prog(tsr_context *ctx, const struct tprog *t, float **ins, float **outs) {
    struct tsr_tensor in[TP_MAX_BUF], out[TP_MAX_BUF];
    memset(in, 0, sizeof in);
    memset(out, 0, sizeof out);
    for (int i = 0; i < t->p.n_inputs; i++)
        in[i].data = ins[i];
    for (int i = 0; i < t->p.n_outputs; i++)
        out[i].data = outs[i];
    void *exec = NULL;
    tsr_status st = tsr_opencl_backend_ops.prepare(ctx, 0, &t->p, &exec);
    if (st != TSR_OK) return st;
    st = tsr_opencl_backend_ops.execute(exec, in, out);
    tsr_opencl_backend_ops.release(exec);
    return st;
}

static void expect_ok(tsr_context *ctx, tsr_status st, const char *what) {
    ck_assert_msg(st == TSR_OK, "%s: %s: %s", what, tsr_status_name(st),
                  tsr_last_error(ctx)->message);
}

/* |y - ref| <= 1e-5 * max(1, |ref|) for all i (elementwise / softmax tolerance). */
static void expect_close(const float *y, const double *ref, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++) {
        double tol = 1e-5 * fmax(1.0, fabs(ref[i]));
        ck_assert_msg((double)y[i] == ref[i] || fabs((double)y[i] - ref[i]) <= tol,
                      "%s[%zu]: got %.9g, expected %.9g", what, i, (double)y[i], ref[i]);
    }
}

/* ---- fused elementwise region: [3,1,5] (+) [1,4,5] (+) [5] -> [3,4,5] ------------------- */

enum { EW_D0 = 3, EW_D1 = 4, EW_D2 = 5, EW_N = EW_D0 * EW_D1 * EW_D2 };

/* Region: r0 = x0 + x1; r1 = sigmoid(r0); r2 = r1 / x2; r0 = tanh(r2); r1 = r0 - x0.
 * x0: [3,1,5] strides (5,0,1); x1: [1,4,5] strides (0,5,1) (CONST); x2: [5] strides (0,0,1).
 * Writes into a TEMP buffer of the arena, then a COPY kernel moves it to the OUTPUT. */
static void ew_program(struct tprog *t, const float *x1) {
    tp_init(t);
    int b0 = tp_buf(t, TSR_BUF_INPUT, EW_D0 * EW_D2, NULL);
    int b1 = tp_buf(t, TSR_BUF_CONST, EW_D1 * EW_D2, x1);
    int b2 = tp_buf(t, TSR_BUF_INPUT, EW_D2, NULL);
    int pad = tp_buf(t, TSR_BUF_TEMP, 7, NULL); /* forces a non-zero arena offset below */
    (void)pad;
    int tmp = tp_buf(t, TSR_BUF_TEMP, EW_N, NULL);
    int out = tp_buf(t, TSR_BUF_OUTPUT, EW_N, NULL);
    int ins[3] = {b0, b1, b2};
    struct tsr_kernel *k = tp_kernel(t, TSR_K_EW, "ew_add_sigmoid_div_tanh_sub", tmp, 3, ins);
    struct tsr_k_ew *ew = &k->u.ew;
    ew->rank = 3;
    ew->dims[0] = EW_D0, ew->dims[1] = EW_D1, ew->dims[2] = EW_D2;
    int64_t s0[3] = {EW_D2, 0, 1}, s1[3] = {0, EW_D2, 1}, s2[3] = {0, 0, 1};
    memcpy(ew->strides[0], s0, sizeof s0);
    memcpy(ew->strides[1], s1, sizeof s1);
    memcpy(ew->strides[2], s2, sizeof s2);
    struct tsr_ew_instr code[5] = {{TSR_EW_ADD, 0, -1, -2, 0, 0},
                                   {TSR_EW_SIGMOID, 1, 0, 0, 0, 0},
                                   {TSR_EW_DIV, 2, 1, -3, 0, 0},
                                   {TSR_EW_TANH, 0, 2, 0, 0, 0},
                                   {TSR_EW_SUB, 1, 0, -1, 0, 0}};
    ew->n_instrs = 5;
    ew->n_regs = 3;
    memcpy(ew->instrs, code, sizeof code);
    k->flops = 5 * EW_N;
    k->bytes = 4 * (EW_N + EW_D0 * EW_D2 + EW_D1 * EW_D2 + EW_D2);
    int cin[1] = {tmp};
    struct tsr_kernel *c = tp_kernel(t, TSR_K_COPY, "copy_out", out, 1, cin);
    c->u.copy.n = EW_N;
    c->bytes = 8 * EW_N;
}

struct ew_data {
    float x0[EW_D0 * EW_D2], x1[EW_D1 * EW_D2], x2[EW_D2], y[EW_N];
    double ref[EW_N];
};

static void ew_data_init(struct ew_data *d) {
    ts_fill_uniform(d->x0, EW_D0 * EW_D2, 1, -2.0f, 2.0f);
    ts_fill_uniform(d->x1, EW_D1 * EW_D2, 2, -2.0f, 2.0f);
    ts_fill_uniform(d->x2, EW_D2, 3, 0.5f, 2.0f);
    for (int i = 0; i < EW_D0; i++)
        for (int j = 0; j < EW_D1; j++)
            for (int k = 0; k < EW_D2; k++) {
                double a = d->x0[i * EW_D2 + k], b = d->x1[j * EW_D2 + k], c = d->x2[k];
                double r = tanh((1.0 / (1.0 + exp(-(a + b)))) / c) - a;
                d->ref[(i * EW_D1 + j) * EW_D2 + k] = r;
            }
    for (int i = 0; i < EW_N; i++)
        d->y[i] = NAN;
}

static tsr_status ew_run(tsr_context *ctx, struct ew_data *d) {
    struct tprog t;
    ew_program(&t, d->x1);
    float *ins[2] = {d->x0, d->x2}, *outs[1] = {d->y};
    tsr_status st = run_prog(ctx, &t, ins, outs);
    tp_free(&t);
    return st;
}

START_TEST(test_ew_broadcast_chain) {
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        struct ew_data d;
        ew_data_init(&d);
        expect_ok(ctx, ew_run(ctx, &d), "fused region");
        expect_close(d.y, d.ref, EW_N, "ew");
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* ---- new elementwise ops (single-instruction regions), immediates, Pow -------------------- */

enum { OP_N = 257 }; /* odd, so no size is a multiple of a vector width */

/* Double-precision reference of one instruction (ONNX semantics, runtime/program.h). */
static double ew_ref(tsr_ew_op op, double a, double b, double p0, double p1) {
    switch (op) {
    case TSR_EW_EXP:
        return exp(a);
    case TSR_EW_LOG:
        return log(a);
    case TSR_EW_SQRT:
        return sqrt(a);
    case TSR_EW_ERF:
        return erf(a);
    case TSR_EW_GELU:
        return 0.5 * a * (1.0 + erf(a / sqrt(2.0)));
    case TSR_EW_GELU_TANH:
        return 0.5 * a * (1.0 + tanh(sqrt(2.0 / M_PI) * (a + 0.044715 * a * a * a)));
    case TSR_EW_LEAKY_RELU:
        return a >= 0 ? a : p0 * a;
    case TSR_EW_CLIP:
        return fmin(fmax(a, p0), p1);
    case TSR_EW_POW:
        return pow(a, b);
    case TSR_EW_ADD:
        return a + b;
    default:
        ck_abort_msg("no reference for op %d", (int)op);
        return 0;
    }
}

/* Region y = op(x0[, x1]) with immediates p0, p1 over OP_N elements; inputs are INPUT buffers. */
static void ew_op_program(struct tprog *t, tsr_ew_op op, float p0, float p1) {
    tp_init(t);
    int arity = tsr_ew_arity(op);
    int ins[2];
    for (int i = 0; i < arity; i++)
        ins[i] = tp_buf(t, TSR_BUF_INPUT, OP_N, NULL);
    int out = tp_buf(t, TSR_BUF_OUTPUT, OP_N, NULL);
    struct tsr_kernel *k = tp_kernel(t, TSR_K_EW, tsr_ew_name(op), out, arity, ins);
    struct tsr_k_ew *ew = &k->u.ew;
    ew->rank = 1;
    ew->dims[0] = OP_N;
    ew->strides[0][0] = ew->strides[1][0] = 1;
    ew->n_instrs = 1;
    ew->n_regs = 1;
    ew->instrs[0] = (struct tsr_ew_instr){(uint8_t)op, 0, -1, -2, p0, p1};
}

/* Runs op on x0 (and x1) and compares with ew_ref at 1e-5 * max(1, |ref|): OpenCL C full profile
 * bounds (s7.4) are exp/log/sqrt <= 3 ulp, tanh 5 ulp, erf/pow/pown 16 ulp = 1.9e-6 relative;
 * Gelu composes <= 3 such steps. */
static void ew_op_case(tsr_context *ctx, tsr_ew_op op, float p0, float p1, const float *x0,
                       const float *x1) {
    struct tprog t;
    ew_op_program(&t, op, p0, p1);
    float y[OP_N];
    double ref[OP_N];
    for (int i = 0; i < OP_N; i++) {
        y[i] = NAN;
        ref[i] = ew_ref(op, x0[i], x1 ? x1[i] : 0.0, p0, p1);
    }
    float *ins[2] = {(float *)x0, (float *)x1}, *outs[1] = {y};
    expect_ok(ctx, run_prog(ctx, &t, ins, outs), tsr_ew_name(op));
    expect_close(y, ref, OP_N, tsr_ew_name(op));
    tp_free(&t);
}

START_TEST(test_ew_new_ops) {
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        struct {
            tsr_ew_op op;
            float lo, hi, p0, p1;
        } cases[] = {{TSR_EW_EXP, -10, 10, 0, 0},          {TSR_EW_LOG, 0.01f, 100, 0, 0},
                     {TSR_EW_SQRT, 0, 100, 0, 0},          {TSR_EW_ERF, -3, 3, 0, 0},
                     {TSR_EW_GELU, -5, 5, 0, 0},           {TSR_EW_GELU_TANH, -5, 5, 0, 0},
                     {TSR_EW_LEAKY_RELU, -2, 2, 0.01f, 0}, {TSR_EW_CLIP, -2, 2, -1.0f, 0.5f},
                     {TSR_EW_CLIP, -2, 2, -INFINITY, 0.3f}};
        float x[OP_N];
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            ts_fill_uniform(x, OP_N, 40 + c, cases[c].lo, cases[c].hi);
            ew_op_case(ctx, cases[c].op, cases[c].p0, cases[c].p1, x, NULL);
        }
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* ONNX Pow with negative bases: integral exponents give real results ((-3)^2 = 9, (-2)^3 = -8,
 * (-2)^-2 = 0.25); a non-integral exponent needs a non-negative base (NaN otherwise, not tested
 * here); large integral exponent 30 and 0 (x^0 = 1, also for x < 0). */
START_TEST(test_ew_pow_negative_base) {
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        float a[OP_N], b[OP_N];
        ts_fill_uniform(a, OP_N, 50, -3.0f, 3.0f);
        const float exps[6] = {2.0f, 3.0f, -2.0f, 0.0f, 0.5f, 30.0f};
        for (int i = 0; i < OP_N; i++) {
            b[i] = exps[i % 6];
            if (b[i] == 0.5f) a[i] = fabsf(a[i]);
            if (b[i] == 30.0f) a[i] = a[i] / 3.0f; /* |a| <= 1: stays finite */
        }
        ew_op_case(ctx, TSR_EW_POW, 0, 0, a, b);
        /* the negative-base, even-exponent case is really exercised */
        int neg = 0;
        for (int i = 0; i < OP_N; i++)
            neg += a[i] < 0 && b[i] == 2.0f;
        ck_assert_int_gt(neg, 10);
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* Immediates are per instruction: r0 = LeakyRelu(x0, 0.2); r1 = Clip(r0, -0.25, 0.75);
 * r0 = r1 + r0. A generator sharing p0/p1 across instructions gives a wrong Clip. */
START_TEST(test_ew_immediates_chain) {
    struct tprog t;
    tp_init(&t);
    int bx = tp_buf(&t, TSR_BUF_INPUT, OP_N, NULL);
    int by = tp_buf(&t, TSR_BUF_OUTPUT, OP_N, NULL);
    struct tsr_kernel *k = tp_kernel(&t, TSR_K_EW, "ew_leaky_clip_add", by, 1, &bx);
    struct tsr_k_ew *ew = &k->u.ew;
    ew->rank = 1;
    ew->dims[0] = OP_N;
    ew->strides[0][0] = 1;
    ew->n_instrs = 3;
    ew->n_regs = 2;
    ew->instrs[0] = (struct tsr_ew_instr){TSR_EW_LEAKY_RELU, 0, -1, 0, 0.2f, 0};
    ew->instrs[1] = (struct tsr_ew_instr){TSR_EW_CLIP, 1, 0, 0, -0.25f, 0.75f};
    ew->instrs[2] = (struct tsr_ew_instr){TSR_EW_ADD, 0, 1, 0, 0, 0};
    /* source: exact hex literals per instruction */
    char *src = NULL;
    ck_assert_int_eq(tsr_cl_codegen_ew(NULL, k, &src), TSR_OK);
    ck_assert_msg(strstr(src, "p0 = 0x1.99999ap-3f") != NULL, "0.2f not exact in:\n%s", src);
    ck_assert_msg(strstr(src, "p0 = -0x1p-2f, p1 = 0x1.8p-1f") != NULL, "clip bounds in:\n%s", src);
    free(src);
    ew->instrs[1].p0 = -INFINITY;
    ck_assert_int_eq(tsr_cl_codegen_ew(NULL, k, &src), TSR_OK);
    ck_assert_ptr_nonnull(strstr(src, "p0 = -INFINITY"));
    free(src);
    ew->instrs[1].p0 = -0.25f;
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        float x[OP_N], y[OP_N];
        double ref[OP_N];
        ts_fill_uniform(x, OP_N, 60, -5.0f, 5.0f);
        for (int i = 0; i < OP_N; i++) {
            double r0 = x[i] >= 0 ? x[i] : 0.2 * (double)x[i];
            ref[i] = fmin(fmax(r0, -0.25), 0.75) + r0;
        }
        float *ins[1] = {x}, *outs[1] = {y};
        expect_ok(ctx, run_prog(ctx, &t, ins, outs), "immediates chain");
        expect_close(y, ref, OP_N, "immediates chain");
    }
    tp_free(&t);
    tsr_context_destroy(ctx);
}
END_TEST

/* Code generation needs no device: constants are baked in and operands are validated. */
START_TEST(test_codegen_source) {
    struct tprog t;
    float x1[EW_D1 * EW_D2] = {0};
    ew_program(&t, x1);
    char *src = NULL;
    ck_assert_int_eq(tsr_cl_codegen_ew(NULL, &t.kers[0], &src), TSR_OK);
    ck_assert_ptr_nonnull(strstr(src, "__kernel void tsr_ew("));
    ck_assert_ptr_nonnull(strstr(src, "gid < 60u")); /* N = 3*4*5 folded */
    ck_assert_ptr_nonnull(strstr(src, "q % 5u"));    /* innermost dim */
    ck_assert_ptr_nonnull(strstr(src, "tanh(a)"));   /* tsr_ew_cl_expr(TANH) */
    ck_assert_ptr_null(strstr(src, "i1 += c * 0"));  /* broadcast dims contribute nothing */
    free(src);
    t.kers[0].u.ew.instrs[2].b = -9; /* input 8 of 3 */
    ck_assert_int_eq(tsr_cl_codegen_ew(NULL, &t.kers[0], &src), TSR_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(NULL)->message, "ew_add_sigmoid_div_tanh_sub"));
    tp_free(&t);
}
END_TEST

/* The embedded sources are the files of kernels_cl/, byte for byte. */
START_TEST(test_embedded_sources) {
    const char *names[] = {"common.clh", "softmax.cl", "epilogue.cl", "copy.cl",
                           "conv.cl",    "pool.cl",    "reduce.cl",   "layernorm.cl"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const struct tsr_cl_embedded_file *f = tsr_cl_embedded_find(names[i]);
        ck_assert_msg(f != NULL, "%s not embedded", names[i]);
        char path[1024];
        snprintf(path, sizeof path, "%s/kernels_cl/%s", TSR_SOURCE_DIR, names[i]);
        FILE *fp = fopen(path, "rb");
        ck_assert_ptr_nonnull(fp);
        char *buf = malloc(f->size + 1);
        size_t n = fread(buf, 1, f->size + 1, fp);
        fclose(fp);
        ck_assert_uint_eq(n, f->size);
        ck_assert_int_eq(memcmp(buf, f->data, n), 0);
        ck_assert_int_eq(f->data[f->size], 0);
        free(buf);
    }
    ck_assert_ptr_null(tsr_cl_embedded_find("nope.cl"));
}
END_TEST

/* ---- GEMM ------------------------------------------------------------------------------- */

/* Reference: Y = act(alpha * A'B' + beta * C) in double, plus the tolerance scale per element
 * (|alpha| sum |a||b| + |beta c|) into scale[]. */
static void gemm_ref(const struct tsr_k_gemm *g, const float *A, const float *B, const float *C,
                     const float *R, double *ref, double *scale) {
    for (int64_t b = 0; b < g->batch; b++)
        for (int64_t m = 0; m < g->M; m++)
            for (int64_t n = 0; n < g->N; n++) {
                double s = 0, sa = 0;
                for (int64_t k = 0; k < g->K; k++) {
                    double a = A[b * g->stride_a + (g->trans_a ? k * g->lda + m : m * g->lda + k)];
                    double bb = B[b * g->stride_b + (g->trans_b ? n * g->ldb + k : k * g->ldb + n)];
                    s += a * bb;
                    sa += fabs(a * bb);
                }
                double v = g->alpha * s, sc = fabs(g->alpha) * sa;
                if (g->has_c) {
                    double c = C[b * g->c_stride_b + m * g->c_stride_m + n * g->c_stride_n];
                    v += g->beta * c;
                    sc += fabs(g->beta * c);
                }
                size_t i = (size_t)((b * g->M + m) * g->N + n);
                if (g->has_residual) {
                    v += R[i];
                    sc += fabs(R[i]);
                }
                if (g->act == TSR_ACT_RELU)
                    v = v > 0 ? v : 0;
                else if (g->act == TSR_ACT_SIGMOID)
                    v = 1.0 / (1.0 + exp(-v));
                else if (g->act == TSR_ACT_TANH)
                    v = tanh(v);
                else if (g->act == TSR_ACT_LEAKY_RELU)
                    v = v >= 0 ? v : (double)g->act_p0 * v;
                else if (g->act == TSR_ACT_CLIP)
                    v = fmin(fmax(v, g->act_p0), g->act_p1);
                ref[i] = v;
                scale[i] = sc;
            }
}

/* Runs one GEMM program: A and C as INPUTs, B as CONST (weights), Y OUTPUT; checks the result. */
static void gemm_case(tsr_context *ctx, const struct tsr_k_gemm *g, int64_t a_elems,
                      int64_t b_elems, int64_t c_elems, const char *what) {
    float *A = malloc(sizeof(float) * (size_t)a_elems),
          *B = malloc(sizeof(float) * (size_t)b_elems);
    float *C = malloc(sizeof(float) * (size_t)(c_elems > 0 ? c_elems : 1));
    size_t ny = (size_t)(g->batch * g->M * g->N);
    float *Y = malloc(sizeof(float) * ny), *R = malloc(sizeof(float) * ny);
    double *ref = malloc(sizeof(double) * ny), *scale = malloc(sizeof(double) * ny);
    ts_fill_uniform(R, ny, 14, -1.0f, 1.0f);
    ts_fill_uniform(A, (size_t)a_elems, 11, -1.0f, 1.0f);
    ts_fill_uniform(B, (size_t)b_elems, 12, -1.0f, 1.0f);
    ts_fill_uniform(C, (size_t)(c_elems > 0 ? c_elems : 1), 13, -1.0f, 1.0f);
    for (size_t i = 0; i < ny; i++)
        Y[i] = NAN;
    gemm_ref(g, A, B, C, R, ref, scale);
    struct tprog t;
    tp_init(&t);
    int ba = tp_buf(&t, TSR_BUF_INPUT, a_elems, NULL);
    int bb = tp_buf(&t, TSR_BUF_CONST, b_elems, B);
    int bc = g->has_c ? tp_buf(&t, TSR_BUF_INPUT, c_elems, NULL) : -1;
    int br = g->has_residual ? tp_buf(&t, TSR_BUF_INPUT, (int64_t)ny, NULL) : -1;
    int by = tp_buf(&t, TSR_BUF_OUTPUT, (int64_t)ny, NULL);
    int ins[4] = {ba, bb, g->has_c ? bc : br, br};
    struct tsr_kernel *k = tp_kernel(&t, TSR_K_GEMM, what, by,
                                     2 + (g->has_c ? 1 : 0) + (g->has_residual ? 1 : 0), ins);
    k->u.gemm = *g;
    /* inputs in buffer order: A, then C when has_c, then R when has_residual */
    float *in_ptrs[3] = {A, g->has_c ? C : R, R}, *out_ptrs[1] = {Y};
    tsr_status st = run_prog(ctx, &t, in_ptrs, out_ptrs);
    expect_ok(ctx, st, what);
    for (size_t i = 0; i < ny; i++) {
        double tol = 1e-5 * scale[i] + 1e-6;
        ck_assert_msg(fabs((double)Y[i] - ref[i]) <= tol, "%s[%zu]: got %.9g expected %.9g", what,
                      i, (double)Y[i], ref[i]);
    }
    tp_free(&t);
    free(A), free(B), free(C), free(Y), free(R), free(ref), free(scale);
}

START_TEST(test_gemm) {
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        /* 1. transA, alpha/beta, bias row broadcast over M, relu. A stored [K=6, M=5]. */
        struct tsr_k_gemm g = {.batch = 1,
                               .M = 5,
                               .N = 7,
                               .K = 6,
                               .trans_a = 1,
                               .lda = 5,
                               .ldb = 7,
                               .alpha = 0.5f,
                               .has_c = 1,
                               .beta = 2.0f,
                               .c_stride_n = 1,
                               .act = TSR_ACT_RELU};
        gemm_case(ctx, &g, 6 * 5, 6 * 7, 7, "gemm_transA_bias_relu");
        /* 2. batch 3, both operands strided (CLBlastSgemmStridedBatched), transB, full C, tanh. */
        struct tsr_k_gemm g2 = {.batch = 3,
                                .M = 4,
                                .N = 3,
                                .K = 5,
                                .trans_b = 1,
                                .lda = 5,
                                .ldb = 5,
                                .stride_a = 4 * 5,
                                .stride_b = 3 * 5,
                                .alpha = 1.0f,
                                .has_c = 1,
                                .beta = -1.0f,
                                .c_stride_b = 12,
                                .c_stride_m = 3,
                                .c_stride_n = 1,
                                .act = TSR_ACT_TANH};
        gemm_case(ctx, &g2, 3 * 4 * 5, 3 * 3 * 5, 3 * 4 * 3, "gemm_batched_full_c_tanh");
        /* 3. batch 2, B shared (stride 0: CLBlastSgemm loop), C column [M,1] broadcast, sigmoid. */
        struct tsr_k_gemm g3 = {.batch = 2,
                                .M = 3,
                                .N = 4,
                                .K = 8,
                                .lda = 8,
                                .ldb = 4,
                                .stride_a = 3 * 8,
                                .alpha = 1.5f,
                                .has_c = 1,
                                .beta = 1.0f,
                                .c_stride_m = 1,
                                .act = TSR_ACT_SIGMOID};
        gemm_case(ctx, &g3, 2 * 3 * 8, 8 * 4, 3, "gemm_shared_b_col_sigmoid");
        /* 4. plain product: no C, no activation (epilogue skipped). */
        struct tsr_k_gemm g4 = {
            .batch = 1, .M = 2, .N = 3, .K = 4, .lda = 4, .ldb = 3, .alpha = 1.0f};
        gemm_case(ctx, &g4, 8, 12, 0, "gemm_plain");
        /* 5. bias row + residual (added before the activation), leaky relu alpha 0.1. */
        struct tsr_k_gemm g5 = {.batch = 1,
                                .M = 6,
                                .N = 5,
                                .K = 7,
                                .lda = 7,
                                .ldb = 5,
                                .alpha = 1.0f,
                                .has_c = 1,
                                .beta = 1.0f,
                                .c_stride_n = 1,
                                .has_residual = 1,
                                .act = TSR_ACT_LEAKY_RELU,
                                .act_p0 = 0.1f};
        gemm_case(ctx, &g5, 6 * 7, 7 * 5, 5, "gemm_bias_residual_leaky");
        /* 6. residual without C, clip to [-0.3, 0.5] (both bounds are hit: values span ~[-3, 3]).
         */
        struct tsr_k_gemm g6 = {.batch = 2,
                                .M = 3,
                                .N = 4,
                                .K = 5,
                                .lda = 5,
                                .ldb = 4,
                                .stride_a = 15,
                                .stride_b = 20,
                                .alpha = 1.0f,
                                .has_residual = 1,
                                .act = TSR_ACT_CLIP,
                                .act_p0 = -0.3f,
                                .act_p1 = 0.5f};
        gemm_case(ctx, &g6, 2 * 15, 2 * 20, 0, "gemm_residual_clip");
        /* 7. clip alone (epilogue with no C and no residual). */
        struct tsr_k_gemm g7 = {.batch = 1,
                                .M = 4,
                                .N = 4,
                                .K = 3,
                                .lda = 3,
                                .ldb = 4,
                                .alpha = 2.0f,
                                .act = TSR_ACT_CLIP,
                                .act_p0 = 0.0f,
                                .act_p1 = 0.25f};
        gemm_case(ctx, &g7, 12, 12, 0, "gemm_clip_only");
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* ---- convolution ------------------------------------------------------------------------ */

/* Reference conv (runtime/program.h struct tsr_k_conv) in double, plus the tolerance scale
 * sum |x w| + |bias| + |r| per output. */
static double act_ref(tsr_activation act, double v, double p0, double p1) {
    switch (act) {
    case TSR_ACT_RELU:
        return v > 0 ? v : 0;
    case TSR_ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-v));
    case TSR_ACT_TANH:
        return tanh(v);
    case TSR_ACT_LEAKY_RELU:
        return v >= 0 ? v : p0 * v;
    case TSR_ACT_CLIP:
        return fmin(fmax(v, p0), p1);
    default:
        return v;
    }
}

static void conv_ref(const struct tsr_k_conv *c, const float *X, const float *Wt, const float *B,
                     const float *R, double *ref, double *scale) {
    int64_t Cg = c->C / c->group, Mg = c->M / c->group;
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t m = 0; m < c->M; m++)
            for (int64_t oh = 0; oh < c->OH; oh++)
                for (int64_t ow = 0; ow < c->OW; ow++) {
                    double s = 0, sa = 0;
                    int64_t g = m / Mg;
                    for (int64_t ci = 0; ci < Cg; ci++)
                        for (int64_t kh = 0; kh < c->KH; kh++)
                            for (int64_t kw = 0; kw < c->KW; kw++) {
                                int64_t ih = oh * c->stride_h - c->pad_t + kh * c->dil_h;
                                int64_t iw = ow * c->stride_w - c->pad_l + kw * c->dil_w;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                                double x = X[((n * c->C + g * Cg + ci) * c->H + ih) * c->W + iw];
                                double w = Wt[((m * Cg + ci) * c->KH + kh) * c->KW + kw];
                                s += x * w;
                                sa += fabs(x * w);
                            }
                    size_t i = (size_t)(((n * c->M + m) * c->OH + oh) * c->OW + ow);
                    if (c->has_bias) s += B[m], sa += fabs(B[m]);
                    if (c->has_residual) s += R[i], sa += fabs(R[i]);
                    ref[i] = act_ref(c->act, s, c->act_p0, c->act_p1);
                    scale[i] = sa;
                }
}

/* Output extent (ONNX Conv / pooling): floor((H + pads - dil*(K-1) - 1) / stride) + 1. */
static int64_t out_dim(int64_t h, int64_t pads, int64_t k, int64_t stride, int64_t dil) {
    return (h + pads - dil * (k - 1) - 1) / stride + 1;
}

/* Runs one conv program (X and R INPUTs; W and bias CONSTs) and checks it at
 * 1e-5 * (sum |x w| + |bias| + |r|) + 1e-6 (like GEMM; activations are 1-Lipschitz). With
 * `steady`, executes twice more with the profiler on and checks that execute takes nothing from
 * the pool (the im2col scratch comes from prepare) and that each run gives one kernel record. */
static void conv_case(tsr_context *ctx, const struct tsr_k_conv *c, const char *what, int steady) {
    int64_t nx = c->N * c->C * c->H * c->W, nw = c->M * (c->C / c->group) * c->KH * c->KW;
    int64_t ny = c->N * c->M * c->OH * c->OW;
    float *X = malloc(sizeof(float) * (size_t)nx), *Wt = malloc(sizeof(float) * (size_t)nw);
    float *B = malloc(sizeof(float) * (size_t)c->M), *R = malloc(sizeof(float) * (size_t)ny);
    float *Y = malloc(sizeof(float) * (size_t)ny);
    double *ref = malloc(sizeof(double) * (size_t)ny), *scale = malloc(sizeof(double) * (size_t)ny);
    ts_fill_uniform(X, (size_t)nx, 71, -1.0f, 1.0f);
    ts_fill_uniform(Wt, (size_t)nw, 72, -1.0f, 1.0f);
    ts_fill_uniform(B, (size_t)c->M, 73, -1.0f, 1.0f);
    ts_fill_uniform(R, (size_t)ny, 74, -1.0f, 1.0f);
    for (int64_t i = 0; i < ny; i++)
        Y[i] = NAN;
    conv_ref(c, X, Wt, B, R, ref, scale);
    struct tprog t;
    tp_init(&t);
    int ins[4], n = 0;
    ins[n++] = tp_buf(&t, TSR_BUF_INPUT, nx, NULL);
    ins[n++] = tp_buf(&t, TSR_BUF_CONST, nw, Wt);
    if (c->has_bias) ins[n++] = tp_buf(&t, TSR_BUF_CONST, c->M, B);
    if (c->has_residual) ins[n++] = tp_buf(&t, TSR_BUF_INPUT, ny, NULL);
    int by = tp_buf(&t, TSR_BUF_OUTPUT, ny, NULL);
    struct tsr_kernel *k = tp_kernel(&t, TSR_K_CONV, what, by, n, ins);
    k->u.conv = *c;
    struct tsr_tensor in[2] = {{.data = X}, {.data = R}}, out[1] = {{.data = Y}};
    void *exec = NULL;
    expect_ok(ctx, tsr_opencl_backend_ops.prepare(ctx, 0, &t.p, &exec), what);
    expect_ok(ctx, tsr_opencl_backend_ops.execute(exec, in, out), what);
    for (int64_t i = 0; i < ny; i++) {
        double tol = 1e-5 * scale[i] + 1e-6;
        ck_assert_msg(fabs((double)Y[i] - ref[i]) <= tol, "%s[%lld]: got %.9g expected %.9g", what,
                      (long long)i, (double)Y[i], ref[i]);
    }
    if (steady) {
        struct tsr_pool_stats p0, p1;
        tsr_opencl_pool_stats(tsr_opencl_backend_of(ctx), 0, &p0);
        tsr_profiler_enable(ctx, 1);
        tsr_profiler_clear(ctx);
        for (int r = 0; r < 2; r++)
            expect_ok(ctx, tsr_opencl_backend_ops.execute(exec, in, out), what);
        tsr_opencl_pool_stats(tsr_opencl_backend_of(ctx), 0, &p1);
        ck_assert_uint_eq(p1.allocs, p0.allocs);
        ck_assert_uint_eq(p1.bytes_reserved, p0.bytes_reserved);
        int kernels = 0;
        for (size_t i = 0; i < tsr_profiler_count(ctx); i++) {
            struct tsr_profile_record r;
            tsr_profiler_get(ctx, i, &r);
            if (r.kind != TSR_EVENT_KERNEL) continue;
            kernels++;
            ck_assert_str_eq(r.name, what);
            ck_assert_uint_le(r.start_ns, r.end_ns);
        }
        ck_assert_int_eq(kernels, 2);
        tsr_profiler_enable(ctx, 0);
        ck_assert_double_le(ts_max_abs_diff(Y, Y, (size_t)ny), 0.0);
    }
    tsr_opencl_backend_ops.release(exec);
    tp_free(&t);
    free(X), free(Wt), free(B), free(R), free(Y), free(ref), free(scale);
}

/* Fills the derived fields: OH/OW from the pads (pad_b/pad_r given separately). */
static struct tsr_k_conv conv_geom(struct tsr_k_conv c, int64_t pad_b, int64_t pad_r) {
    c.OH = out_dim(c.H, c.pad_t + pad_b, c.KH, c.stride_h, c.dil_h);
    c.OW = out_dim(c.W, c.pad_l + pad_r, c.KW, c.stride_w, c.dil_w);
    return c;
}

START_TEST(test_conv) {
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        /* 1. im2col + Sgemm: 3x3, pad 1, bias, relu; 2 images. Also steady-state checks. */
        struct tsr_k_conv c1 = {.N = 2,
                                .C = 3,
                                .H = 7,
                                .W = 6,
                                .M = 4,
                                .KH = 3,
                                .KW = 3,
                                .stride_h = 1,
                                .stride_w = 1,
                                .pad_t = 1,
                                .pad_l = 1,
                                .dil_h = 1,
                                .dil_w = 1,
                                .group = 1,
                                .has_bias = 1,
                                .act = TSR_ACT_RELU};
        struct tsr_k_conv g_conv_3x3_bias_relu = conv_geom(c1, 1, 1);
        conv_case(ctx, &g_conv_3x3_bias_relu, "conv_3x3_bias_relu", 1);
        /* 2. im2col + strided-batched GEMM over 2 groups (Cg 2, Mg 3); strides 2/1, dilation
         * 2/1, asymmetric pads (t 1, b 0, l 0, r 2); residual; leaky relu. */
        struct tsr_k_conv c2 = {.N = 2,
                                .C = 4,
                                .H = 9,
                                .W = 8,
                                .M = 6,
                                .KH = 3,
                                .KW = 2,
                                .stride_h = 2,
                                .stride_w = 1,
                                .pad_t = 1,
                                .pad_l = 0,
                                .dil_h = 2,
                                .dil_w = 1,
                                .group = 2,
                                .has_residual = 1,
                                .act = TSR_ACT_LEAKY_RELU,
                                .act_p0 = 0.05f};
        struct tsr_k_conv g_conv_grouped_res_leaky = conv_geom(c2, 0, 2);
        conv_case(ctx, &g_conv_grouped_res_leaky, "conv_grouped_res_leaky", 0);
        /* 3. depthwise (direct kernel): C = M = group = 5, 3x3, pad 1, bias + residual, clip. */
        struct tsr_k_conv c3 = {.N = 2,
                                .C = 5,
                                .H = 6,
                                .W = 7,
                                .M = 5,
                                .KH = 3,
                                .KW = 3,
                                .stride_h = 1,
                                .stride_w = 2,
                                .pad_t = 1,
                                .pad_l = 1,
                                .dil_h = 1,
                                .dil_w = 1,
                                .group = 5,
                                .has_bias = 1,
                                .has_residual = 1,
                                .act = TSR_ACT_CLIP,
                                .act_p0 = -0.5f,
                                .act_p1 = 1.0f};
        struct tsr_k_conv g_conv_depthwise = conv_geom(c3, 1, 1);
        conv_case(ctx, &g_conv_depthwise, "conv_depthwise", 1);
        /* 4. pointwise 1x1 (GEMM straight on the image, no im2col), no epilogue. */
        struct tsr_k_conv c4 = {.N = 2,
                                .C = 5,
                                .H = 4,
                                .W = 3,
                                .M = 3,
                                .KH = 1,
                                .KW = 1,
                                .stride_h = 1,
                                .stride_w = 1,
                                .dil_h = 1,
                                .dil_w = 1,
                                .group = 1};
        struct tsr_k_conv g_conv_pointwise = conv_geom(c4, 0, 0);
        conv_case(ctx, &g_conv_pointwise, "conv_pointwise", 0);
        /* 5. Mg = 1, Cg = 2 (direct kernel with a channel loop), sigmoid. */
        struct tsr_k_conv c5 = {.N = 1,
                                .C = 6,
                                .H = 5,
                                .W = 5,
                                .M = 3,
                                .KH = 2,
                                .KW = 3,
                                .stride_h = 1,
                                .stride_w = 1,
                                .pad_t = 0,
                                .pad_l = 1,
                                .dil_h = 1,
                                .dil_w = 2,
                                .group = 3,
                                .has_bias = 1,
                                .act = TSR_ACT_SIGMOID};
        struct tsr_k_conv g_conv_grouped_direct = conv_geom(c5, 1, 0);
        conv_case(ctx, &g_conv_grouped_direct, "conv_grouped_direct", 0);
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* Bad geometry is a status naming the kernel, before any device work. */
START_TEST(test_conv_bad_geometry) {
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        struct tprog t;
        tp_init(&t);
        int ins[2] = {tp_buf(&t, TSR_BUF_INPUT, 16, NULL), tp_buf(&t, TSR_BUF_INPUT, 9, NULL)};
        int by = tp_buf(&t, TSR_BUF_OUTPUT, 16, NULL);
        struct tsr_kernel *k = tp_kernel(&t, TSR_K_CONV, "conv_bad", by, 2, ins);
        k->u.conv = (struct tsr_k_conv){.N = 1,
                                        .C = 3,
                                        .H = 4,
                                        .W = 4,
                                        .M = 2,
                                        .OH = 4,
                                        .OW = 4,
                                        .KH = 3,
                                        .KW = 3,
                                        .stride_h = 1,
                                        .stride_w = 1,
                                        .pad_t = 1,
                                        .pad_l = 1,
                                        .dil_h = 1,
                                        .dil_w = 1,
                                        .group = 2}; /* 2 does not divide C = 3 */
        void *exec = NULL;
        ck_assert_int_eq(tsr_opencl_backend_ops.prepare(ctx, 0, &t.p, &exec), TSR_E_INVALID_ARG);
        ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "conv_bad"));
        ck_assert_ptr_null(exec);
        tp_free(&t);
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* ---- pooling ---------------------------------------------------------------------------- */

static void pool_case(tsr_context *ctx, struct tsr_k_pool p, int64_t pad_b, int64_t pad_r,
                      const char *what) {
    p.OH = out_dim(p.H, p.pad_t + pad_b, p.KH, p.stride_h, p.dil_h);
    p.OW = out_dim(p.W, p.pad_l + pad_r, p.KW, p.stride_w, p.dil_w);
    p.pad_b = pad_b;
    p.pad_r = pad_r;
    int64_t nx = p.N * p.C * p.H * p.W, ny = p.N * p.C * p.OH * p.OW;
    float *x = malloc(sizeof(float) * (size_t)nx), *y = malloc(sizeof(float) * (size_t)ny);
    double *ref = malloc(sizeof(double) * (size_t)ny);
    ts_fill_uniform(x, (size_t)nx, 81, -2.0f, 2.0f);
    for (int64_t nc = 0; nc < p.N * p.C; nc++)
        for (int64_t oh = 0; oh < p.OH; oh++)
            for (int64_t ow = 0; ow < p.OW; ow++) {
                double m = -INFINITY, s = 0;
                int cnt = 0, padded = 0;
                for (int64_t kh = 0; kh < p.KH; kh++)
                    for (int64_t kw = 0; kw < p.KW; kw++) {
                        int64_t ih = oh * p.stride_h - p.pad_t + kh * p.dil_h;
                        int64_t iw = ow * p.stride_w - p.pad_l + kw * p.dil_w;
                        /* count_include_pad counts positions inside the padded input */
                        padded += ih >= -p.pad_t && ih < p.H + pad_b && iw >= -p.pad_l &&
                                  iw < p.W + pad_r;
                        if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) continue;
                        double v = x[(nc * p.H + ih) * p.W + iw];
                        m = fmax(m, v), s += v, cnt++;
                    }
                double r = p.kind == TSR_POOL_MAX
                               ? m
                               : (p.count_include_pad ? s / (double)padded : (cnt ? s / cnt : 0.0));
                ref[(nc * p.OH + oh) * p.OW + ow] = r;
            }
    struct tprog t;
    tp_init(&t);
    int bx = tp_buf(&t, TSR_BUF_INPUT, nx, NULL);
    int by = tp_buf(&t, TSR_BUF_OUTPUT, ny, NULL);
    tp_kernel(&t, TSR_K_POOL, what, by, 1, &bx)->u.pool = p;
    float *ins[1] = {x}, *outs[1] = {y};
    expect_ok(ctx, run_prog(ctx, &t, ins, outs), what);
    /* max is exact; an average of <= 49 values is within ~49 ulp: 1e-5 relative */
    expect_close(y, ref, (size_t)ny, what);
    tp_free(&t);
    free(x), free(y), free(ref);
}

START_TEST(test_pool) {
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        struct tsr_k_pool base = {.N = 2,
                                  .C = 3,
                                  .H = 7,
                                  .W = 8,
                                  .KH = 3,
                                  .KW = 3,
                                  .stride_h = 2,
                                  .stride_w = 2,
                                  .pad_t = 1,
                                  .pad_l = 1,
                                  .dil_h = 1,
                                  .dil_w = 1};
        struct tsr_k_pool p = base;
        p.kind = TSR_POOL_MAX;
        pool_case(ctx, p, 1, 1, "maxpool_3x3_s2_p1");
        p.dil_h = 2; /* dilated, asymmetric pads */
        pool_case(ctx, p, 0, 2, "maxpool_dilated");
        p = base;
        p.kind = TSR_POOL_AVG;
        pool_case(ctx, p, 1, 1, "avgpool_exclude_pad");
        p.count_include_pad = 1;
        pool_case(ctx, p, 1, 1, "avgpool_include_pad");
        /* GlobalAveragePool: window = the whole image. */
        struct tsr_k_pool g = {.kind = TSR_POOL_AVG,
                               .N = 2,
                               .C = 4,
                               .H = 5,
                               .W = 6,
                               .KH = 5,
                               .KW = 6,
                               .stride_h = 1,
                               .stride_w = 1,
                               .dil_h = 1,
                               .dil_w = 1};
        pool_case(ctx, g, 0, 0, "global_avgpool");
        /* pads larger than the window: corner windows see no input (avg 0, max -inf) */
        struct tsr_k_pool e = {.kind = TSR_POOL_AVG,
                               .N = 1,
                               .C = 2,
                               .H = 3,
                               .W = 3,
                               .KH = 2,
                               .KW = 2,
                               .stride_h = 2,
                               .stride_w = 2,
                               .pad_t = 2,
                               .pad_l = 2,
                               .dil_h = 1,
                               .dil_w = 1};
        pool_case(ctx, e, 2, 2, "avgpool_empty_windows");
        e.kind = TSR_POOL_MAX;
        pool_case(ctx, e, 2, 2, "maxpool_empty_windows");
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* ---- reduce ----------------------------------------------------------------------------- */

/* Sum/mean tolerance: 1e-5 * sum |x| (/ len for mean) + 1e-6: f32 accumulation of <= 1000 terms
 * as per-item partial sums of <= len/local + a tree of log2(local) levels stays under ~30 ulp
 * of sum |x|. Max is exact. */
static void reduce_case(tsr_context *ctx, tsr_reduce_kind kind, int64_t outer, int64_t len,
                        int64_t inner, const char *what) {
    int64_t nx = outer * len * inner, ny = outer * inner;
    float *x = malloc(sizeof(float) * (size_t)(nx ? nx : 1)),
          *y = malloc(sizeof(float) * (size_t)ny);
    ts_fill_uniform(x, (size_t)nx, 91, -3.0f, 3.0f);
    struct tprog t;
    tp_init(&t);
    int bx = tp_buf(&t, TSR_BUF_INPUT, nx, NULL);
    int by = tp_buf(&t, TSR_BUF_OUTPUT, ny, NULL);
    tp_kernel(&t, TSR_K_REDUCE, what, by, 1, &bx)->u.reduce =
        (struct tsr_k_reduce){kind, outer, len, inner};
    float *ins[1] = {x}, *outs[1] = {y};
    expect_ok(ctx, run_prog(ctx, &t, ins, outs), what);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            double s = 0, sa = 0, m = -INFINITY;
            for (int64_t a = 0; a < len; a++) {
                double v = x[(o * len + a) * inner + j];
                s += v, sa += fabs(v), m = fmax(m, v);
            }
            double got = y[o * inner + j], want, tol;
            if (kind == TSR_REDUCE_MAX)
                want = m, tol = 0;
            else if (kind == TSR_REDUCE_SUM)
                want = s, tol = 1e-5 * sa + 1e-6;
            else
                want = len ? s / (double)len : NAN, tol = len ? 1e-5 * sa / (double)len + 1e-6 : 0;
            if (isnan(want))
                ck_assert_msg(isnan(got), "%s[%lld, %lld]: got %.9g, expected NaN", what,
                              (long long)o, (long long)j, got);
            else
                ck_assert_msg(got == want || fabs(got - want) <= tol,
                              "%s[%lld, %lld]: got %.9g, expected %.9g", what, (long long)o,
                              (long long)j, got, want);
        }
    tp_free(&t);
    free(x), free(y);
}

START_TEST(test_reduce) {
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        reduce_case(ctx, TSR_REDUCE_SUM, 3, 7, 5, "reduce_sum_items");
        reduce_case(ctx, TSR_REDUCE_MEAN, 4, 9, 1, "reduce_mean_items");
        reduce_case(ctx, TSR_REDUCE_MAX, 2, 11, 3, "reduce_max_items");
        reduce_case(ctx, TSR_REDUCE_SUM, 3, 1000, 1, "reduce_sum_groups");
        reduce_case(ctx, TSR_REDUCE_MEAN, 2, 777, 3, "reduce_mean_groups");
        reduce_case(ctx, TSR_REDUCE_MAX, 5, 300, 2, "reduce_max_groups");
        /* len 0: sum 0, mean NaN, max -inf */
        reduce_case(ctx, TSR_REDUCE_SUM, 2, 0, 3, "reduce_sum_empty");
        reduce_case(ctx, TSR_REDUCE_MEAN, 2, 0, 3, "reduce_mean_empty");
        reduce_case(ctx, TSR_REDUCE_MAX, 2, 0, 3, "reduce_max_empty");
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* ---- transpose, concat ------------------------------------------------------------------ */

/* Y = transpose(X, perm) for X of shape xd (rank r): exact copy. */
static void transpose_case(tsr_context *ctx, int r, const int64_t *xd, const int *perm,
                           const char *what) {
    int64_t xs[TSR_MAX_RANK], n = 1;
    for (int d = r - 1; d >= 0; d--)
        xs[d] = n, n *= xd[d];
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    ts_fill_uniform(x, (size_t)n, 101, -1.0f, 1.0f);
    struct tprog t;
    tp_init(&t);
    int bx = tp_buf(&t, TSR_BUF_INPUT, n, NULL);
    int by = tp_buf(&t, TSR_BUF_OUTPUT, n, NULL);
    struct tsr_k_transpose *tr = &tp_kernel(&t, TSR_K_TRANSPOSE, what, by, 1, &bx)->u.transpose;
    tr->rank = r;
    for (int d = 0; d < r; d++)
        tr->dims[d] = xd[perm[d]], tr->in_strides[d] = xs[perm[d]];
    float *ins[1] = {x}, *outs[1] = {y};
    expect_ok(ctx, run_prog(ctx, &t, ins, outs), what);
    /* walk Y in order with a multi-index; Y[idx] = X[sum idx[d] * xs[perm[d]]] */
    int64_t idx[TSR_MAX_RANK] = {0};
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int d = 0; d < r; d++)
            off += idx[d] * xs[perm[d]];
        ck_assert_msg(y[i] == x[off], "%s[%lld]: got %g expected %g", what, (long long)i,
                      (double)y[i], (double)x[off]);
        for (int d = r - 1; d >= 0 && ++idx[d] == xd[perm[d]]; d--)
            idx[d] = 0;
    }
    tp_free(&t);
    free(x), free(y);
}

START_TEST(test_transpose_concat) {
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        int64_t d3[3] = {2, 3, 4};
        int p3[3] = {2, 0, 1};
        transpose_case(ctx, 3, d3, p3, "transpose_201");
        int64_t d4[4] = {2, 3, 5, 4};
        int p4[4] = {0, 2, 3, 1}; /* NCHW -> NHWC */
        transpose_case(ctx, 4, d4, p4, "transpose_nhwc");

        /* Concat of 4 parts along the columns of [3, .], one of width 0; exact copy. */
        const int64_t outer = 3, inner[4] = {2, 0, 5, 1}, width = 8;
        float a[6], b[1], c[15], d[3], y[3 * 8];
        ts_fill_uniform(a, 6, 111, -1, 1);
        ts_fill_uniform(c, 15, 112, -1, 1);
        ts_fill_uniform(d, 3, 113, -1, 1);
        b[0] = NAN;
        const float *parts[4] = {a, b, c, d};
        struct tprog t;
        tp_init(&t);
        int ins[4];
        for (int i = 0; i < 4; i++)
            ins[i] = tp_buf(&t, i == 2 ? TSR_BUF_CONST : TSR_BUF_INPUT, outer * inner[i], parts[i]);
        int by = tp_buf(&t, TSR_BUF_OUTPUT, outer * width, NULL);
        struct tsr_k_concat *cc = &tp_kernel(&t, TSR_K_CONCAT, "concat4", by, 4, ins)->u.concat;
        cc->outer = outer;
        cc->n = 4;
        memcpy(cc->inner, inner, sizeof inner);
        float *in_ptrs[3] = {a, b, d}, *outs[1] = {y};
        expect_ok(ctx, run_prog(ctx, &t, in_ptrs, outs), "concat");
        for (int64_t r = 0; r < outer; r++) {
            int64_t col = 0;
            for (int i = 0; i < 4; i++)
                for (int64_t j = 0; j < inner[i]; j++, col++)
                    ck_assert_msg(y[r * width + col] == parts[i][r * inner[i] + j],
                                  "concat[%lld, %lld]: got %g", (long long)r, (long long)col,
                                  (double)y[r * width + col]);
        }
        tp_free(&t);
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* ---- layer normalisation ---------------------------------------------------------------- */

/* Tolerance 1e-4 * max(1, |ref|): rows carry an offset of 10 (|mean| >> stddev 0.6), so the f32
 * mean and deviations carry ~1e-6 * 10 absolute error, amplified by 1/stddev and |scale| <= 2. */
static void layernorm_case(tsr_context *ctx, int64_t outer, int64_t len, int has_bias,
                           const char *what) {
    int64_t n = outer * len;
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    float *sc = malloc(sizeof(float) * (size_t)len), *bi = malloc(sizeof(float) * (size_t)len);
    double *ref = malloc(sizeof(double) * (size_t)n);
    ts_fill_uniform(x, (size_t)n, 121, 9.0f, 11.0f);
    ts_fill_uniform(sc, (size_t)len, 122, -2.0f, 2.0f);
    ts_fill_uniform(bi, (size_t)len, 123, -1.0f, 1.0f);
    const float eps = 1e-5f;
    for (int64_t r = 0; r < outer; r++) {
        double m = 0, v = 0;
        for (int64_t j = 0; j < len; j++)
            m += x[r * len + j];
        m /= (double)len;
        for (int64_t j = 0; j < len; j++)
            v += (x[r * len + j] - m) * (x[r * len + j] - m);
        v /= (double)len;
        for (int64_t j = 0; j < len; j++)
            ref[r * len + j] =
                (x[r * len + j] - m) / sqrt(v + eps) * sc[j] + (has_bias ? bi[j] : 0.0);
    }
    struct tprog t;
    tp_init(&t);
    int ins[3] = {tp_buf(&t, TSR_BUF_INPUT, n, NULL), tp_buf(&t, TSR_BUF_CONST, len, sc),
                  tp_buf(&t, TSR_BUF_CONST, len, bi)};
    int by = tp_buf(&t, TSR_BUF_OUTPUT, n, NULL);
    tp_kernel(&t, TSR_K_LAYERNORM, what, by, has_bias ? 3 : 2, ins)->u.layernorm =
        (struct tsr_k_layernorm){outer, len, eps, has_bias};
    float *in_ptrs[1] = {x}, *outs[1] = {y};
    expect_ok(ctx, run_prog(ctx, &t, in_ptrs, outs), what);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(fabs(y[i] - ref[i]) <= 1e-4 * fmax(1.0, fabs(ref[i])),
                      "%s[%lld]: got %.9g expected %.9g", what, (long long)i, (double)y[i], ref[i]);
    tp_free(&t);
    free(x), free(y), free(sc), free(bi), free(ref);
}

START_TEST(test_layernorm) {
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        layernorm_case(ctx, 3, 1000, 1, "layernorm_long_bias");
        layernorm_case(ctx, 5, 7, 0, "layernorm_short");
        layernorm_case(ctx, 2, 256, 1, "layernorm_256");
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* ---- softmax ---------------------------------------------------------------------------- */

static void softmax_case(tsr_context *ctx, int64_t outer, int64_t axis, int64_t inner) {
    size_t n = (size_t)(outer * axis * inner);
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    double *ref = malloc(n * sizeof *ref);
    ts_fill_uniform(x, n, 21, -100.0f, 100.0f); /* exp(100) > FLT_MAX: needs the max shift */
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            double m = -INFINITY, s = 0;
            for (int64_t a = 0; a < axis; a++)
                m = fmax(m, x[(o * axis + a) * inner + j]);
            for (int64_t a = 0; a < axis; a++)
                s += exp(x[(o * axis + a) * inner + j] - m);
            for (int64_t a = 0; a < axis; a++) {
                size_t i = (size_t)((o * axis + a) * inner + j);
                ref[i] = exp(x[i] - m) / s;
            }
        }
    struct tprog t;
    tp_init(&t);
    int bx = tp_buf(&t, TSR_BUF_INPUT, (int64_t)n, NULL);
    int by = tp_buf(&t, TSR_BUF_OUTPUT, (int64_t)n, NULL);
    struct tsr_kernel *k = tp_kernel(&t, TSR_K_SOFTMAX, "softmax", by, 1, &bx);
    k->u.softmax = (struct tsr_k_softmax){outer, axis, inner};
    float *ins[1] = {x}, *outs[1] = {y};
    expect_ok(ctx, run_prog(ctx, &t, ins, outs), "softmax");
    expect_close(y, ref, n, inner == 1 ? "softmax inner 1" : "softmax inner > 1");
    tp_free(&t);
    free(x), free(y), free(ref);
}

START_TEST(test_softmax) {
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        softmax_case(ctx, 3, 7, 1);
        softmax_case(ctx, 2, 5, 4);
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* ---- program cache ---------------------------------------------------------------------- */

/* Fresh cache directory for this test process (TSR_CACHE_DIR). */
static void fresh_cache_dir(char *dir, size_t size) {
    snprintf(dir, size, "/tmp/tsr_clcache_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("TSR_CACHE_DIR", dir, 1);
}

/* Applies fn to every *.bin file of dir; returns how many there were. */
static int for_each_bin(const char *dir, void (*fn)(const char *path, int i)) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".bin") != 0) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (fn) fn(path, n);
        n++;
    }
    closedir(d);
    return n;
}

/* Corrupts a cache file: odd ones are truncated, even ones get flipped bytes in the binary. */
static void corrupt(const char *path, int i) {
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    if (i % 2) {
        ck_assert_int_eq(ftruncate(fileno(f), 60), 0);
    } else {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        for (long p = 64; p < size; p += 97) {
            fseek(f, p, SEEK_SET);
            fputc(0x5a, f);
        }
    }
    fclose(f);
}

static void remove_file(const char *path, int i) {
    (void)i;
    unlink(path);
}

static int count_compile_records(tsr_context *ctx, const char *prefix) {
    int n = 0;
    for (size_t i = 0; i < tsr_profiler_count(ctx); i++) {
        struct tsr_profile_record r;
        ck_assert_int_eq(tsr_profiler_get(ctx, i, &r), TSR_OK);
        if (r.kind == TSR_EVENT_COMPILE && strncmp(r.name, prefix, strlen(prefix)) == 0) n++;
    }
    return n;
}

START_TEST(test_program_cache) {
    char dir[64];
    fresh_cache_dir(dir, sizeof dir);
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        tsr_profiler_enable(ctx, 1);
        struct tsr_cl_device *dev;
        expect_ok(ctx, tsr_cl_device_ready(ctx, 0, &dev), "device");
        struct tsr_cl_program_stats s0, s1, s2, s3;
        struct ew_data d;

        /* 1. Fresh directory: everything is built from source and written to disk. */
        ew_data_init(&d);
        expect_ok(ctx, ew_run(ctx, &d), "first run");
        expect_close(d.y, d.ref, EW_N, "ew (built)");
        tsr_opencl_program_stats(tsr_opencl_backend_of(ctx), 0, &s0);
        ck_assert_uint_eq(s0.disk_hits, 0);
        ck_assert_uint_ge(s0.builds, 2); /* generated region + copy kernel */
        ck_assert_uint_eq(s0.disk_writes, s0.builds);
        ck_assert_int_eq(for_each_bin(dir, NULL), (int)s0.builds);
        ck_assert_int_eq(count_compile_records(ctx, "build "), (int)s0.builds);

        /* 2. Same process, same sources: served from memory, nothing rebuilt. */
        ew_data_init(&d);
        expect_ok(ctx, ew_run(ctx, &d), "second run");
        tsr_opencl_program_stats(tsr_opencl_backend_of(ctx), 0, &s1);
        ck_assert_uint_eq(s1.builds, s0.builds);
        ck_assert_uint_ge(s1.memory_hits, s0.memory_hits + 2);

        /* 3. In-memory table dropped: every program is a disk cache hit. */
        tsr_cl_program_cache_clear(dev);
        ew_data_init(&d);
        expect_ok(ctx, ew_run(ctx, &d), "cached run");
        expect_close(d.y, d.ref, EW_N, "ew (cache hit)");
        tsr_opencl_program_stats(tsr_opencl_backend_of(ctx), 0, &s2);
        ck_assert_uint_eq(s2.builds, s0.builds);
        ck_assert_uint_eq(s2.disk_hits, s0.builds);
        ck_assert_int_eq(count_compile_records(ctx, "cache hit "), (int)s0.builds);

        /* 4. Corrupted entries: rejected, rebuilt, rewritten, still correct. */
        tsr_cl_program_cache_clear(dev);
        ck_assert_int_eq(for_each_bin(dir, corrupt), (int)s0.builds);
        ew_data_init(&d);
        expect_ok(ctx, ew_run(ctx, &d), "run after corruption");
        expect_close(d.y, d.ref, EW_N, "ew (rebuilt)");
        tsr_opencl_program_stats(tsr_opencl_backend_of(ctx), 0, &s3);
        ck_assert_uint_eq(s3.disk_rejects, s0.builds);
        ck_assert_uint_eq(s3.builds, 2 * s0.builds);
        ck_assert_uint_eq(s3.disk_hits, s2.disk_hits);
        for_each_bin(dir, remove_file);
    }
    tsr_context_destroy(ctx);
    rmdir(dir);
}
END_TEST

START_TEST(test_build_error_has_log) {
    char dir[64];
    fresh_cache_dir(dir, sizeof dir);
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        struct tsr_cl_device *dev;
        expect_ok(ctx, tsr_cl_device_ready(ctx, 0, &dev), "device");
        const char *bad =
            "__kernel void broken(__global float *x) { x[0] = undeclared_thing + ; }\n";
        cl_program p = NULL;
        tsr_status st = tsr_cl_program_get(ctx, dev, "broken", bad, "", &p);
        ck_assert_int_eq(st, TSR_E_BUILD);
        const struct tsr_error_info *e = tsr_last_error(ctx);
        ck_assert_int_eq(e->status, TSR_E_BUILD);
        ck_assert_int_eq(e->native_code, CL_BUILD_PROGRAM_FAILURE);
        ck_assert_str_eq(e->backend, "opencl");
        const char *log = strstr(e->message, "build log:");
        ck_assert_msg(log != NULL, "no build log in: %s", e->message);
        /* The compiler's own diagnostic (clang/PoCL names the undeclared identifier). */
        ck_assert_msg(strstr(log, "undeclared_thing") != NULL || strstr(log, "error") != NULL,
                      "build log without a diagnostic: %s", e->message);
        ck_assert_int_eq(for_each_bin(dir, NULL), 0); /* nothing cached for a failed build */
    }
    tsr_context_destroy(ctx);
    rmdir(dir);
}
END_TEST

/* ---- pool, profiler --------------------------------------------------------------------- */

START_TEST(test_pool_reuse_and_profile) {
    tsr_context *ctx = ts_context();
    if (ts_have_opencl(ctx)) {
        struct ew_data d;
        ew_data_init(&d);
        struct tprog t;
        ew_program(&t, d.x1);
        float *ins[2] = {d.x0, d.x2}, *outs[1] = {d.y};
        struct tsr_tensor in[2] = {{.data = d.x0}, {.data = d.x2}}, out[1] = {{.data = d.y}};
        (void)ins, (void)outs;
        struct tsr_pool_stats p0, p1, p2, p3;
        ck_assert_int_eq(tsr_opencl_pool_stats(tsr_opencl_backend_of(ctx), 0, &p0), TSR_OK);
        void *exec = NULL;
        expect_ok(ctx, tsr_opencl_backend_ops.prepare(ctx, 0, &t.p, &exec), "prepare 1");
        tsr_opencl_pool_stats(tsr_opencl_backend_of(ctx), 0, &p1);
        /* arena + const + 2 inputs + output = 5 blocks, all new */
        ck_assert_uint_eq(p1.system_allocs - p0.system_allocs, 5);
        ck_assert_uint_gt(p1.bytes_in_use, p0.bytes_in_use);

        /* Steady state: executes take nothing from the pool. Profiled: one record each. */
        tsr_profiler_enable(ctx, 1);
        tsr_profiler_clear(ctx);
        uint64_t h0 = tsr_now_ns();
        for (int r = 0; r < 3; r++)
            expect_ok(ctx, tsr_opencl_backend_ops.execute(exec, in, out), "execute");
        uint64_t h1 = tsr_now_ns();
        expect_close(d.y, d.ref, EW_N, "ew (pool test)");
        tsr_opencl_pool_stats(tsr_opencl_backend_of(ctx), 0, &p2);
        ck_assert_uint_eq(p2.allocs, p1.allocs);
        ck_assert_uint_eq(p2.bytes_reserved, p1.bytes_reserved);
        int kernels = 0, transfers = 0;
        struct tsr_cl_device *dev = &tsr_opencl_backend_of(ctx)->devices[0];
        /* mapped times lie inside the host window, within the calibration bound + 5 ms */
        uint64_t slack = dev->clock_error_ns + 5000000u;
        for (size_t i = 0; i < tsr_profiler_count(ctx); i++) {
            struct tsr_profile_record r;
            tsr_profiler_get(ctx, i, &r);
            if (r.kind == TSR_EVENT_KERNEL) {
                kernels++;
                ck_assert_str_eq(r.device, "opencl:0");
                ck_assert(!strcmp(r.name, "ew_add_sigmoid_div_tanh_sub") ||
                          !strcmp(r.name, "copy_out"));
            } else if (r.kind == TSR_EVENT_TRANSFER) {
                transfers++;
            } else {
                continue;
            }
            ck_assert_uint_le(r.start_ns, r.end_ns);
            ck_assert_uint_ge(r.start_ns + slack, h0);
            ck_assert_uint_le(r.end_ns, h1 + slack);
        }
        ck_assert_int_eq(kernels, 3 * 2);
        ck_assert_int_eq(transfers, 3 * 3); /* 2 writes + 1 read per run */
        tsr_profiler_enable(ctx, 0);
        tsr_opencl_backend_ops.release(exec);

        /* Second prepare of the same program: everything comes back from the pool. */
        expect_ok(ctx, tsr_opencl_backend_ops.prepare(ctx, 0, &t.p, &exec), "prepare 2");
        tsr_opencl_pool_stats(tsr_opencl_backend_of(ctx), 0, &p3);
        ck_assert_uint_eq(p3.system_allocs, p1.system_allocs);
        ck_assert_uint_eq(p3.bytes_reserved, p1.bytes_reserved);
        ck_assert_uint_eq(p3.reuses - p2.reuses, 5);
        tsr_opencl_backend_ops.release(exec);
        tp_free(&t);
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* ---- no OpenCL platform ----------------------------------------------------------------- */

/* With the ICD loader pointed at an empty vendor directory, discovery reports no device and
 * succeeds. Runs in its own forked process (Check's default), as the loader reads the
 * environment once per process. */
START_TEST(test_no_platform) {
    if (getenv("CK_FORK") && strcmp(getenv("CK_FORK"), "no") == 0) return; /* would leak env */
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/tsr_noicd_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("OCL_ICD_VENDORS", dir, 1);
    setenv("OPENCL_VENDOR_PATH", dir, 1);
    struct tsr_opencl_backend *ocl = (struct tsr_opencl_backend *)0x1;
    ck_assert_int_eq(tsr_opencl_backend_create(NULL, &ocl), TSR_OK);
    ck_assert_ptr_null(ocl);
    ck_assert_int_eq(tsr_opencl_device_count(ocl), 0);
    struct tsr_pool_stats ps;
    ck_assert_int_eq(tsr_opencl_pool_stats(ocl, 0, &ps), TSR_E_INVALID_ARG);
    /* The whole context then has the CPU only, and prepare on OpenCL fails cleanly. */
    tsr_context *ctx = ts_context();
    int idx;
    ck_assert_int_eq(tsr_device_find(ctx, "opencl", &idx), TSR_E_NOT_FOUND);
    struct tprog t;
    float x1[EW_D1 * EW_D2] = {0};
    ew_program(&t, x1);
    void *exec = NULL;
    ck_assert_int_eq(tsr_opencl_backend_ops.prepare(ctx, 0, &t.p, &exec), TSR_E_DEVICE);
    ck_assert_ptr_null(exec);
    tp_free(&t);
    tsr_context_destroy(ctx);
    rmdir(dir);
}
END_TEST

static Suite *opencl_suite(void) {
    Suite *s = suite_create("opencl");
    TCase *tc = tcase_create("opencl");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_no_platform);
    tcase_add_test(tc, test_codegen_source);
    tcase_add_test(tc, test_embedded_sources);
    tcase_add_test(tc, test_ew_broadcast_chain);
    tcase_add_test(tc, test_softmax);
    tcase_add_test(tc, test_program_cache);
    tcase_add_test(tc, test_build_error_has_log);
    tcase_add_test(tc, test_pool_reuse_and_profile);
    tcase_add_test(tc, test_gemm);
    tcase_add_test(tc, test_ew_new_ops);
    tcase_add_test(tc, test_ew_pow_negative_base);
    tcase_add_test(tc, test_ew_immediates_chain);
    tcase_add_test(tc, test_conv);
    tcase_add_test(tc, test_conv_bad_geometry);
    tcase_add_test(tc, test_pool);
    tcase_add_test(tc, test_reduce);
    tcase_add_test(tc, test_transpose_concat);
    tcase_add_test(tc, test_layernorm);
    suite_add_tcase(s, tc);
    return s;
}

/* Every case that does not choose its own cache directory uses a private temporary one, so the
 * suite never writes into the user's ~/.cache. Removed (best effort) at the end. */
int main(void) {
    char dir[64] = "";
    if (!getenv("TSR_CACHE_DIR")) {
        snprintf(dir, sizeof dir, "/tmp/tsr_clcache_suite_XXXXXX");
        if (mkdtemp(dir))
            setenv("TSR_CACHE_DIR", dir, 1);
        else
            dir[0] = '\0';
    }
    int rc = ts_run_suite(opencl_suite());
    if (dir[0]) {
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char path[2048];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (e->d_name[0] != '.') unlink(path);
        }
        if (d) closedir(d);
        rmdir(dir);
    }
    return rc;
}
