/*
 * check_kernels.c — the kernel table: every kernel case, as a small graph, on every device of the
 * context (every registered backend) and, on the CPU, every ISA tier the machine has, with fusion
 * on and (where it changes the kernels) off, against the one scalar reference
 * (runtime/reference.c). The harness and the error measure are in support/kernel_harness.h.
 *
 * The CPU runs with 3 worker threads (an odd split on any machine), so the threaded paths of the
 * kernels run even on a single-core runner. Sizes are chosen to reach the paths of the kernels:
 *   GEMM: small (< 1 MFLOP: one task), blocked (row panels of a 1-2 MiB L2, column blocks when M
 *     is small, batches), streamed (output >= 16 MiB: blocks through scratch, streaming stores),
 *     OpenBLAS-threaded (K * N * 4 bytes > 4 x L2 for an L2 of up to 2 MiB);
 *   fused elementwise: broadcast strides, scalar operands, multi-instruction programs, several
 *     tiles on the pool (> 64 Ki elements), streaming stores (output >= 16 MiB);
 *   Conv: im2col panels, grouped GEMM, the direct depthwise kernel, 1x1 without im2col.
 * Tolerances per case (atol, rtol of the measure) are set from the accumulation length (see the
 * header) and checked against measurements (TSR_KH_VERBOSE=1 prints them).
 *
 * OpenCL is expected (the suite fails without it) unless TSR_EXPECT_OPENCL=0.
 */
#include "kernel_harness.h"
#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_OF(a) (int)(sizeof(a) / sizeof((a)[0]))
#define D(...)  ((const int64_t[]){__VA_ARGS__})

/* Activation node after v: 0 none, 1 Relu, 2 Sigmoid, 3 Tanh, 4 LeakyRelu(p0), 5 Clip(p0, p1),
 * 6 HardSigmoid(p0, p1), 7 HardSwish, 8 SiLU as torch.onnx exports it (Mul(v, Sigmoid(v))),
 * 9 Gelu, 10 Gelu approximate="tanh" (ONNX Gelu-20 nodes; the decomposed forms: gelu_rows). */
enum {
    ACT_NONE,
    ACT_RELU,
    ACT_SIGMOID,
    ACT_TANH,
    ACT_LEAKY,
    ACT_CLIP,
    ACT_HSIGMOID,
    ACT_HSWISH,
    ACT_SILU,
    ACT_GELU,
    ACT_GELU_TANH,
    ACT_COUNT
};
static const char *const act_names[ACT_COUNT] = {"",          "relu", "sigmoid",     "tanh",
                                                 "leakyrelu", "clip", "hardsigmoid", "hardswish",
                                                 "silu",      "gelu", "gelutanh"};

static tsr_value act_node(struct kh_builder *b, int act, float p0, float p1, tsr_value v) {
    struct tsr_op_attrs a = tsr_op_attrs_default();
    switch (act) {
    case ACT_RELU:
        return kh_op1(b, TSR_OP_RELU, v);
    case ACT_SIGMOID:
        return kh_op1(b, TSR_OP_SIGMOID, v);
    case ACT_TANH:
        return kh_op1(b, TSR_OP_TANH, v);
    case ACT_LEAKY:
        a.leaky_alpha = p0;
        return kh_op(b, TSR_OP_LEAKYRELU, &a, 1, &v);
    case ACT_CLIP:
        a.clip_min = p0;
        a.clip_max = p1;
        return kh_op(b, TSR_OP_CLIP, &a, 1, &v);
    case ACT_HSIGMOID:
        a.hardsigmoid_alpha = p0;
        a.hardsigmoid_beta = p1;
        return kh_op(b, TSR_OP_HARDSIGMOID, &a, 1, &v);
    case ACT_HSWISH:
        return kh_op1(b, TSR_OP_HARDSWISH, v);
    case ACT_SILU:
        return kh_op2(b, TSR_OP_MUL, v, kh_op1(b, TSR_OP_SIGMOID, v));
    case ACT_GELU_TANH:
        a.gelu_tanh = 1;
        return kh_op(b, TSR_OP_GELU, &a, 1, &v);
    case ACT_GELU:
        return kh_op(b, TSR_OP_GELU, &a, 1, &v);
    default:
        return v;
    }
}

/* "<base>[_bias][_residual][_<act>]": the fused kernel's name (lower.c epilogue_name). */
static void expect_epilogue(struct kh_builder *b, const char *base, int bias, int residual,
                            int act) {
    snprintf(b->kernel, sizeof b->kernel, "%s%s%s%s%s", base, bias ? "_bias" : "",
             residual ? "_residual" : "", act ? "_" : "", act_names[act]);
}

/* ---- elementwise ------------------------------------------------------------------------- */

struct ew1 {
    tsr_op op;
    float lo, hi;
    float p0, p1; /* LeakyRelu alpha; Clip min, max */
    int gelu_tanh;
};

/* y = op(x) over [4099] (a length no vector width divides) and [3, 17]. */
static void build_unary(struct kh_builder *b) {
    const struct ew1 *e = b->arg;
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.leaky_alpha = e->p0;
    a.clip_min = e->p0;
    a.clip_max = e->p1;
    a.gelu_tanh = e->gelu_tanh;
    tsr_value x = b->variant == 0 ? kh_input(b, 1, D(4099), e->lo, e->hi)
                                  : kh_input(b, 2, D(3, 17), e->lo, e->hi);
    kh_output(
        b,
        kh_op(b, e->op,
              e->op == TSR_OP_LEAKYRELU || e->op == TSR_OP_CLIP || e->op == TSR_OP_GELU ? &a : NULL,
              1, &x));
    snprintf(b->kernel, sizeof b->kernel, "ew_");
}

static const struct ew1 ew_relu = {TSR_OP_RELU, -2, 2, 0, 0, 0};
static const struct ew1 ew_sigmoid = {TSR_OP_SIGMOID, -20, 20, 0, 0, 0};
static const struct ew1 ew_tanh = {TSR_OP_TANH, -6, 6, 0, 0, 0};
static const struct ew1 ew_exp = {TSR_OP_EXP, -10, 10, 0, 0, 0};
static const struct ew1 ew_log = {TSR_OP_LOG, 0.01f, 100, 0, 0, 0};
static const struct ew1 ew_sqrt = {TSR_OP_SQRT, 0, 100, 0, 0, 0};
static const struct ew1 ew_erf = {TSR_OP_ERF, -3, 3, 0, 0, 0};
static const struct ew1 ew_gelu = {TSR_OP_GELU, -5, 5, 0, 0, 0};
static const struct ew1 ew_gelu_tanh = {TSR_OP_GELU, -5, 5, 0, 0, 1};
static const struct ew1 ew_leaky = {TSR_OP_LEAKYRELU, -2, 2, 0.01f, 0, 0};
static const struct ew1 ew_leaky01 = {TSR_OP_LEAKYRELU, -2, 2, 0.1f, 0, 0};
static const struct ew1 ew_clip = {TSR_OP_CLIP, -2, 2, -1.0f, 0.5f, 0};
static const struct ew1 ew_clip_open = {TSR_OP_CLIP, -2, 2, -INFINITY, 0.3f, 0};
static const struct ew1 ew_clip_wide = {TSR_OP_CLIP, -4, 4, -2.5f, 3.5f, 0};

/* Pow with negative bases: integral exponents (2, 3, -2, 0, 30) give real results; the exponent
 * 0.5 gets a non-negative base; 30 a base in [-1, 1] (stays finite). Index-based, so the two
 * inputs agree. */
static const float pow_exps[6] = {2.0f, 3.0f, -2.0f, 0.0f, 0.5f, 30.0f};
static void gen_pow_base(float *x, size_t n, uint64_t seed) {
    ts_fill_uniform(x, n, seed, -3.0f, 3.0f);
    for (size_t i = 0; i < n; i++) {
        if (pow_exps[i % 6] == 0.5f) x[i] = fabsf(x[i]);
        if (pow_exps[i % 6] == 30.0f) x[i] /= 3.0f;
    }
}
static void gen_pow_exp(float *x, size_t n, uint64_t seed) {
    (void)seed;
    for (size_t i = 0; i < n; i++)
        x[i] = pow_exps[i % 6];
}
static void build_pow(struct kh_builder *b) {
    tsr_value a = kh_input_gen(b, 1, D(257), gen_pow_base);
    tsr_value e = kh_input_gen(b, 1, D(257), gen_pow_exp);
    kh_output(b, kh_op2(b, TSR_OP_POW, a, e));
}

/* The four binary ops on a [3,1,5] x [1,4,5] broadcast, one output each. */
static void build_binary(struct kh_builder *b) {
    tsr_value x = kh_input(b, 3, D(3, 1, 5), -2, 2);
    tsr_value y = kh_input(b, 3, D(1, 4, 5), 0.5f, 2);
    const tsr_op ops[4] = {TSR_OP_ADD, TSR_OP_SUB, TSR_OP_MUL, TSR_OP_DIV};
    for (int i = 0; i < 4; i++)
        kh_output(b, kh_op2(b, ops[i], x, y));
}

/* tanh(sigmoid(x0 + x1) / x2) - x0: x0 [3,1,5], x1 [1,4,5] (constant), x2 [5] > 0. */
static void build_ew_chain(struct kh_builder *b) {
    tsr_value x0 = kh_input(b, 3, D(3, 1, 5), -2, 2);
    tsr_value x1 = kh_const(b, 3, D(1, 4, 5), -2, 2);
    tsr_value x2 = kh_input(b, 1, D(5), 0.5f, 2);
    tsr_value s = kh_op1(b, TSR_OP_SIGMOID, kh_op2(b, TSR_OP_ADD, x0, x1));
    tsr_value t = kh_op1(b, TSR_OP_TANH, kh_op2(b, TSR_OP_DIV, s, x2));
    kh_output(b, kh_op2(b, TSR_OP_SUB, t, x0));
    snprintf(b->kernel, sizeof b->kernel, "ew_add_sigmoid_div_tanh_sub");
}

/* relu(tanh(c - sigmoid(a * b)) / d) + a over [3,4,5]: a [3,4,5], b [4,5], c a rank-0 constant,
 * d [3,4,1] (innermost broadcast: a scalar operand of the vector kernels). */
static void build_ew_program(struct kh_builder *b) {
    tsr_value a = kh_input(b, 3, D(3, 4, 5), -3, 3);
    tsr_value bb = kh_input(b, 2, D(4, 5), -3, 3);
    tsr_value c = kh_const(b, 0, NULL, 0.25f, 0.5f);
    tsr_value d = kh_input(b, 3, D(3, 4, 1), 0.5f, 2);
    tsr_value s = kh_op1(b, TSR_OP_SIGMOID, kh_op2(b, TSR_OP_MUL, a, bb));
    tsr_value t = kh_op1(b, TSR_OP_TANH, kh_op2(b, TSR_OP_SUB, c, s));
    tsr_value r = kh_op1(b, TSR_OP_RELU, kh_op2(b, TSR_OP_DIV, t, d));
    kh_output(b, kh_op2(b, TSR_OP_ADD, r, a));
}

/* Scalar operands: sigmoid(c) - c * d + a, c and d rank 0, a [2, 9]. */
static void build_ew_scalars(struct kh_builder *b) {
    tsr_value a = kh_input(b, 2, D(2, 9), -3, 3);
    tsr_value c = kh_input(b, 0, NULL, -3, 3);
    tsr_value d = kh_input(b, 0, NULL, 0.5f, 2);
    tsr_value s = kh_op2(b, TSR_OP_SUB, kh_op1(b, TSR_OP_SIGMOID, c), kh_op2(b, TSR_OP_MUL, c, d));
    kh_output(b, kh_op2(b, TSR_OP_ADD, s, a));
}

/* tanh(a + bias) over [4, 70001]: > 64 Ki elements (parallel), an odd tail tile. */
static void build_ew_tiles(struct kh_builder *b) {
    tsr_value a = kh_input(b, 2, D(4, 70001), -5, 5);
    tsr_value bias = kh_input(b, 1, D(70001), -1, 1);
    kh_output(b, kh_op1(b, TSR_OP_TANH, kh_op2(b, TSR_OP_ADD, a, bias)));
    snprintf(b->kernel, sizeof b->kernel, "ew_add_tanh");
}

/* relu(a + b) * 0.5 over [3, 2^21 + 5]: 24 MiB of output (streaming stores, rows off the 64-byte
 * grid). */
static void build_ew_stream(struct kh_builder *b) {
    const int64_t inner = ((int64_t)1 << 21) + 5;
    tsr_value a = kh_input(b, 2, D(3, inner), -3, 3);
    tsr_value c = kh_input(b, 1, D(inner), -1, 1);
    tsr_value half = kh_const(b, 0, NULL, 0.5f, 0.5f);
    tsr_value r = kh_op1(b, TSR_OP_RELU, kh_op2(b, TSR_OP_ADD, a, c));
    kh_output(b, kh_op2(b, TSR_OP_MUL, r, half));
    snprintf(b->kernel, sizeof b->kernel, "ew_add_relu_mul");
}

/* Immediates are per instruction: Clip(LeakyRelu(x, 0.2), -0.25, 0.75) + x in one region. A
 * generator sharing them across instructions gives a wrong Clip. */
static void build_ew_immediates(struct kh_builder *b) {
    tsr_value x = kh_input(b, 1, D(257), -5, 5);
    tsr_value r0 = act_node(b, ACT_LEAKY, 0.2f, 0, x);
    tsr_value r1 = act_node(b, ACT_CLIP, -0.25f, 0.75f, r0);
    kh_output(b, kh_op2(b, TSR_OP_ADD, r1, x));
    snprintf(b->kernel, sizeof b->kernel, "ew_leakyrelu_clip_add");
}

/* ---- GEMM -------------------------------------------------------------------------------- */

/* Gemm (A [M,K] or [K,M], B [K,N] or [N,K], optional C) -> optional residual Add -> activation. */
struct gemm {
    int64_t M, N, K;
    int ta, tb;
    float alpha, beta;
    int c_rank; /* 0: no C; else C of shape c_dims */
    int64_t c_dims[2];
    int residual;
    int act;
    float p0, p1;
};

static void gemm_graph(struct kh_builder *b, const struct gemm *g) {
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.trans_a = g->ta;
    at.trans_b = g->tb;
    at.alpha = g->alpha;
    at.beta = g->beta;
    tsr_value in[3];
    in[0] = g->ta ? kh_input(b, 2, D(g->K, g->M), -1, 1) : kh_input(b, 2, D(g->M, g->K), -1, 1);
    in[1] = g->tb ? kh_input(b, 2, D(g->N, g->K), -1, 1) : kh_input(b, 2, D(g->K, g->N), -1, 1);
    if (g->c_rank) in[2] = kh_input(b, g->c_rank, g->c_dims, -2, 2);
    tsr_value y = kh_op(b, TSR_OP_GEMM, &at, g->c_rank ? 3 : 2, in);
    if (g->residual) y = kh_op2(b, TSR_OP_ADD, y, kh_input(b, 2, D(g->M, g->N), -1, 1));
    kh_output(b, act_node(b, g->act, g->p0, g->p1, y));
    expect_epilogue(b, "gemm", g->c_rank != 0, g->residual, g->act);
    kh_label(b, " %lldx%lldx%lld ta %d tb %d C %s res %d act %s", (long long)g->M, (long long)g->N,
             (long long)g->K, g->ta, g->tb,
             !g->c_rank ? "-"
                        : (g->c_rank == 1 ? (g->c_dims[0] == 1 ? "[1]" : "[N]")
                                          : (g->c_dims[1] == 1 ? "[M,1]" : "[M,N]")),
             g->residual, g->act ? act_names[g->act] : "-");
}

/* Every transpose x C broadcast x activation at 1000 x 37 x 19: alpha 0.7, beta 1.3, a residual
 * on every other combination. */
static void build_gemm_epilogues(struct kh_builder *b) {
    const int v = b->variant, act = v % ACT_COUNT, c = (v / ACT_COUNT) % 4;
    const int tb = (v / (ACT_COUNT * 4)) % 2, ta = v / (ACT_COUNT * 8);
    struct gemm g = {.M = 1000, .N = 37, .K = 19, .ta = ta, .tb = tb, .alpha = 0.7f, .beta = 1.3f};
    const int64_t cd[4][2] = {{37, 0}, {1000, 1}, {1000, 37}, {1, 0}};
    g.c_rank = c == 0 || c == 3 ? 1 : 2;
    g.c_dims[0] = cd[c][0];
    g.c_dims[1] = cd[c][1];
    g.residual = (ta + tb + c) % 2;
    g.act = act;
    g.p0 = act == ACT_CLIP ? -0.5f : 0.1f;
    g.p1 = 0.8f;
    gemm_graph(b, &g);
}

static const struct gemm gemm_rows[] = {
    /* OpenCL's small cases: transA + bias + relu; plain; bias + residual + leaky; clip alone */
    {5, 7, 6, 1, 0, 0.5f, 2.0f, 1, {7}, 0, ACT_RELU, 0, 0},
    {2, 3, 4, 0, 0, 1.0f, 1.0f, 0, {0}, 0, ACT_NONE, 0, 0},
    {6, 5, 7, 0, 0, 1.0f, 1.0f, 1, {5}, 1, ACT_LEAKY, 0.1f, 0},
    {4, 4, 3, 0, 0, 2.0f, 1.0f, 0, {0}, 0, ACT_CLIP, 0.0f, 0.25f},
    /* no C, relu */
    {70, 33, 40, 0, 0, 1.0f, 1.0f, 0, {0}, 0, ACT_RELU, 0, 0},
    /* several row panels of a 1-2 MiB L2 (bias + residual + leaky) */
    {6000, 37, 19, 0, 0, 1.0f, 1.0f, 1, {37}, 1, ACT_LEAKY, 0.2f, 0},
    /* threaded row panels (bias + relu) and one block per thread (bare) */
    {600, 300, 64, 0, 0, 1.0f, 1.0f, 1, {300}, 0, ACT_RELU, 0, 0},
    {600, 300, 64, 0, 0, 1.0f, 1.0f, 0, {0}, 0, ACT_NONE, 0, 0},
    /* small M: column blocks; transB, alpha/beta, residual, leaky */
    {7, 2000, 256, 0, 1, 0.5f, 2.0f, 1, {2000}, 1, ACT_LEAKY, 0.1f, 0},
    /* OpenBLAS-threaded sgemm (K * N * 4 = 9.4 MB > 4 x L2), epilogue over the pool */
    {64, 2304, 1024, 0, 1, 1.0f, 0.5f, 1, {2304}, 1, ACT_TANH, 0, 0},
    /* streamed output (17 MB): bias + residual + relu; bias + clip; bare */
    {16384, 264, 24, 0, 0, 1.0f, 1.0f, 1, {264}, 1, ACT_RELU, 0, 0},
    {16384, 264, 24, 0, 1, 1.0f, 1.0f, 1, {264}, 0, ACT_CLIP, -0.5f, 2.0f},
    {16384, 264, 24, 0, 1, 1.0f, 1.0f, 0, {0}, 0, ACT_NONE, 0, 0},
    /* M = 1 (GEMV, gemm.c): classifier-like transB + bias in N slices over the pool; B
     * untransposed, transA, beta C row + residual + tanh; tiny one-slice case with C [1] */
    {1, 1000, 1024, 0, 1, 1.0f, 1.0f, 1, {1000}, 0, ACT_NONE, 0, 0},
    {1, 777, 300, 1, 0, 0.5f, 1.5f, 1, {777}, 1, ACT_TANH, 0, 0},
    {1, 5, 3, 0, 1, 1.0f, 2.0f, 1, {1}, 0, ACT_RELU, 0, 0},
    /* (K = 0 is not here: lowering gives lda 0, which tsr_cpu_gemm_check rejects on the CPU;
     * check_cpu_kernels runs the executor with K = 0.) */
};

static void build_gemm_row(struct kh_builder *b) {
    gemm_graph(b, &gemm_rows[b->variant]);
}

/* Gemm with a constant B (a classifier's weights): the pre-packed GEMM (gemm_packed.c) on
 * AVX-512 or AVX2 (the cpu/avx2 configuration: 4 x 24 sub-tiles), alpha folded into the panels;
 * transB with a bias row at batch 8 (N 1000 = 20 full panels + a 40-column one); B as given with
 * alpha, beta, relu; 3 rows, bias + residual; 8 rows (panels split among tasks). */
static const struct gemm gemm_const_rows[] = {
    {8, 1000, 512, 0, 1, 1.0f, 1.0f, 1, {1000}, 0, ACT_NONE, 0, 0},
    {20, 70, 33, 0, 0, 0.5f, 2.0f, 1, {70}, 0, ACT_RELU, 0, 0},
    {3, 17, 9, 0, 1, 1.0f, 1.0f, 1, {17}, 1, ACT_SIGMOID, 0, 0},
    /* one row task: the 7 panels split over the threads, residual + sigmoid after the tiles on
     * each task's columns only */
    {8, 300, 512, 0, 1, 1.0f, 1.0f, 1, {300}, 1, ACT_SIGMOID, 0, 0},
    /* HardSwish in the tile's registers (MobileNetV3's classifier) */
    {5, 100, 64, 0, 1, 1.0f, 1.0f, 1, {100}, 0, ACT_HSWISH, 0, 0},
    /* odd sizes: 7 rows (a 3-row AVX2 sub-tile), N 29 = 24 + a 5-column masked tail, K 1;
     * residual + clip. 2 rows, N 41 = 24 + 17 (a 1-lane last vector), K 3, HardSwish, no bias */
    {7, 29, 1, 0, 0, 1.0f, 1.0f, 1, {29}, 1, ACT_CLIP, -0.2f, 0.3f},
    {2, 41, 3, 0, 1, 1.0f, 1.0f, 0, {0}, 0, ACT_HSWISH, 0, 0},
};

static void build_gemm_const(struct kh_builder *b) {
    const struct gemm *g = &gemm_const_rows[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.trans_b = g->tb;
    at.alpha = g->alpha;
    at.beta = g->beta;
    tsr_value in[3];
    in[0] = kh_input(b, 2, D(g->M, g->K), -1, 1);
    in[1] = g->tb ? kh_const(b, 2, D(g->N, g->K), -1, 1) : kh_const(b, 2, D(g->K, g->N), -1, 1);
    if (g->c_rank) in[2] = kh_const(b, g->c_rank, g->c_dims, -1, 1);
    tsr_value y = kh_op(b, TSR_OP_GEMM, &at, g->c_rank ? 3 : 2, in);
    if (g->residual) y = kh_op2(b, TSR_OP_ADD, y, kh_input(b, 2, D(g->M, g->N), -1, 1));
    kh_output(b, act_node(b, g->act, g->p0, g->p1, y));
    expect_epilogue(b, "gemm", g->c_rank != 0, g->residual, g->act);
    kh_label(b, " %lldx%lldx%lld tb %d const B", (long long)g->M, (long long)g->N, (long long)g->K,
             g->tb);
}

/* MatMul with batches: A [a], B [b] (constant when b_const), then an Add of shape [c] (bias or
 * residual), then an activation. */
struct matmul {
    int ra;
    int64_t a[3];
    int rb;
    int64_t b[3];
    int b_const;
    int rc;
    int64_t c[3];
    int act;
    float p0, p1;
    const char *kernel;
};

static const struct matmul matmul_rows[] = {
    /* shared A, per-batch B, per-batch [M, N] addend (a residual), sigmoid */
    {2, {50, 17}, 3, {3, 17, 24}, 0, 3, {3, 50, 24}, ACT_SIGMOID, 0, 0, "matmul_residual_sigmoid"},
    /* per-batch A, shared (constant) B: folded into one GEMM of 200 rows; bias [N], tanh */
    {3, {4, 50, 17}, 2, {17, 24}, 1, 1, {24}, ACT_TANH, 0, 0, "matmul_bias_tanh"},
    /* both batched (strided batched GEMM), full [B, M, N] addend, tanh */
    {3, {3, 4, 5}, 3, {3, 5, 3}, 0, 3, {3, 4, 3}, ACT_TANH, 0, 0, "matmul_residual_tanh"},
    /* shared B, a column addend [M, 1] (not an epilogue once the batch is folded), sigmoid */
    {3, {2, 3, 8}, 2, {8, 4}, 1, 2, {3, 1}, ACT_SIGMOID, 0, 0, NULL},
    /* both batched, residual, clip with both bounds hit */
    {3, {2, 3, 5}, 3, {2, 5, 4}, 0, 3, {2, 3, 4}, ACT_CLIP, -0.3f, 0.5f, "matmul_residual_clip"},
    /* batches over the threads: shared B, [B, M, N] residual, sigmoid */
    {3,
     {5, 40, 200},
     2,
     {200, 96},
     1,
     3,
     {5, 40, 96},
     ACT_SIGMOID,
     0,
     0,
     "matmul_residual_sigmoid"},
    /* the pre-packed GEMM (gemm_packed.c, AVX-512 / AVX2): 37 rows (a 5-row last tile), N 100 = two
     * 48-column panels + a 4-column one, bias + relu in registers; bias + clip; residual +
     * tanh after the tiles */
    {2, {37, 300}, 2, {300, 100}, 1, 1, {100}, ACT_RELU, 0, 0, "matmul_bias_relu"},
    {3, {2, 64, 96}, 2, {96, 50}, 1, 1, {50}, ACT_CLIP, -0.2f, 0.3f, "matmul_bias_clip"},
    {3, {3, 9, 40}, 2, {40, 17}, 1, 3, {3, 9, 17}, ACT_TANH, 0, 0, "matmul_residual_tanh"},
};

static void build_matmul(struct kh_builder *b) {
    const struct matmul *m = &matmul_rows[b->variant];
    tsr_value a = kh_input(b, m->ra, m->a, -1, 1);
    tsr_value w = m->b_const ? kh_const(b, m->rb, m->b, -1, 1) : kh_input(b, m->rb, m->b, -1, 1);
    tsr_value y = kh_op2(b, TSR_OP_MATMUL, a, w);
    y = kh_op2(b, TSR_OP_ADD, y, kh_input(b, m->rc, m->c, -1, 1));
    kh_output(b, act_node(b, m->act, m->p0, m->p1, y));
    if (m->kernel) snprintf(b->kernel, sizeof b->kernel, "%s", m->kernel);
    kh_label(b, " rank %d x %d", m->ra, m->rb);
}

/* ---- decomposed activations after a GEMM / Conv (SiLU, GELU: lower.c, passes/gelu.c) ----- */

static tsr_value scalar_const(struct kh_builder *b, float v) {
    return kh_const(b, 0, NULL, v, v);
}

/* x / sqrt 2 (variants with a Div) or x * 1 / sqrt 2 (either operand order). */
static tsr_value gelu_scale(struct kh_builder *b, tsr_value x, int form) {
    if (form % 2 == 0) return kh_op2(b, TSR_OP_DIV, x, scalar_const(b, 1.4142135f));
    return form % 4 == 1 ? kh_op2(b, TSR_OP_MUL, x, scalar_const(b, 0.70710678f))
                         : kh_op2(b, TSR_OP_MUL, scalar_const(b, 0.70710678f), x);
}

/* The exact GELU as torch.onnx exports it: 1 + erf(x / sqrt 2) times x and 0.5 in the order
 * `order` (0: (x * a) * 0.5, 1: (x * 0.5) * a, 2: x * (a * 0.5)); operands swapped when form
 * is odd. half_const is the "0.5" (another value must not fuse); keep != 0 makes the
 * intermediate number `keep` (1: the Erf, 2: the half product) a graph output too. */
static tsr_value gelu_decomposed(struct kh_builder *b, tsr_value x, int form, int order,
                                 float half_const, int keep) {
    const int sw = form % 2;
    tsr_value e;
    if (form >= 4) {
        /* GPT-2's tanh form: tanh(sqrt(2 / pi) (x + 0.044715 x^3)), operands swapped if odd */
        tsr_value p = kh_op2(b, TSR_OP_POW, x, scalar_const(b, 3.0f)),
                  k = scalar_const(b, 0.044715f);
        tsr_value q = sw ? kh_op2(b, TSR_OP_MUL, k, p) : kh_op2(b, TSR_OP_MUL, p, k);
        tsr_value u = sw ? kh_op2(b, TSR_OP_ADD, q, x) : kh_op2(b, TSR_OP_ADD, x, q);
        tsr_value c = scalar_const(b, 0.7978845608f);
        e = kh_op1(b, TSR_OP_TANH, sw ? kh_op2(b, TSR_OP_MUL, c, u) : kh_op2(b, TSR_OP_MUL, u, c));
    } else {
        e = kh_op1(b, TSR_OP_ERF, gelu_scale(b, x, form));
    }
    if (keep == 1) kh_output(b, e);
    tsr_value one = scalar_const(b, 1.0f), half = scalar_const(b, half_const);
    tsr_value a = sw ? kh_op2(b, TSR_OP_ADD, one, e) : kh_op2(b, TSR_OP_ADD, e, one);
    if (order == 0) {
        tsr_value m = sw ? kh_op2(b, TSR_OP_MUL, a, x) : kh_op2(b, TSR_OP_MUL, x, a);
        return sw ? kh_op2(b, TSR_OP_MUL, half, m) : kh_op2(b, TSR_OP_MUL, m, half);
    }
    if (order == 1) {
        tsr_value h = sw ? kh_op2(b, TSR_OP_MUL, half, x) : kh_op2(b, TSR_OP_MUL, x, half);
        if (keep == 2) kh_output(b, h);
        return sw ? kh_op2(b, TSR_OP_MUL, a, h) : kh_op2(b, TSR_OP_MUL, h, a);
    }
    tsr_value h = sw ? kh_op2(b, TSR_OP_MUL, half, a) : kh_op2(b, TSR_OP_MUL, a, half);
    return sw ? kh_op2(b, TSR_OP_MUL, h, x) : kh_op2(b, TSR_OP_MUL, x, h);
}

/* BERT's intermediate dense: MatMul [2, 7, 48] x [48, 40] + bias [40], then GELU. Variants
 * 0..11: every (scale form 0..3) x (order 0..2), fused into "matmul_bias_gelu"; 12: a Gemm
 * + C [N] with the BERT order ("gemm_bias_gelu"); 13: the decomposition on a graph input (one
 * Gelu instruction). Unfused (the exact plan is checked): 14 the Erf output is also a graph
 * output, 15 the half product is, 16 the "0.5" is 0.6 (not a GELU). 17, 18: GPT-2's tanh form
 * (order 1, then order 0 with swapped operands), "matmul_bias_gelutanh". */
static void build_gelu_decomposed(struct kh_builder *b) {
    const int v = b->variant;
    tsr_value y;
    if (v == 12) {
        struct tsr_op_attrs at = tsr_op_attrs_default();
        tsr_value in[3] = {kh_input(b, 2, D(14, 48), -1, 1), kh_const(b, 2, D(48, 40), -0.5f, 0.5f),
                           kh_const(b, 1, D(40), -1, 1)};
        y = kh_op(b, TSR_OP_GEMM, &at, 3, in);
    } else if (v == 13) {
        y = kh_input(b, 2, D(14, 40), -5, 5);
    } else {
        tsr_value a = kh_input(b, 3, D(2, 7, 48), -1, 1);
        y = kh_op2(b, TSR_OP_MATMUL, a, kh_const(b, 2, D(48, 40), -0.5f, 0.5f));
        y = kh_op2(b, TSR_OP_ADD, y, kh_const(b, 1, D(40), -1, 1));
    }
    const int form = v < 12 ? v % 4 : (v >= 17 ? v - 13 : 0);
    const int order = v < 12 ? v / 4 : (v == 15 || v == 17 ? 1 : 0);
    kh_output(b, gelu_decomposed(b, y, form, order, v == 16 ? 0.6f : 0.5f,
                                 v == 14 ? 1 : (v == 15 ? 2 : 0)));
    snprintf(b->kernel, sizeof b->kernel, "%s",
             v < 12 || v >= 17
                 ? (v < 12 ? "=matmul_bias_gelu" : "=matmul_bias_gelutanh")
                 : (v == 12 ? "=gemm_bias_gelu" : (v == 13 ? "=ew_gelu" : "=matmul_bias")));
    kh_label(b, " form %d order %d", form, order);
}

/* SiLU after a Conv [1, 8, 6, 7] -> 1x1 M 12 + bias. 0: Mul(Sigmoid(y), y) fuses
 * ("conv_bias_silu"); 1: the Sigmoid's output is also a graph output; 2: y is read by a third
 * node (an Add, a second output); 3: squeeze-excitation's gate Mul(x, Sigmoid(conv(z))) with x
 * another value (the conv fuses its Sigmoid only); 4: Mul(y, y) next to the Sigmoid (not SiLU). */
static void build_silu_cases(struct kh_builder *b) {
    const int v = b->variant;
    struct tsr_op_attrs at = tsr_op_attrs_default();
    tsr_value x = v == 2 || v == 3 ? kh_input(b, 4, D(1, 12, 6, 7), -4, 4) : -1;
    tsr_value in[3] = {v == 3 ? kh_input(b, 4, D(1, 8, 1, 1), -1, 1)
                              : kh_input(b, 4, D(1, 8, 6, 7), -4, 4),
                       kh_const(b, 4, D(12, 8, 1, 1), -1, 1), kh_const(b, 1, D(12), -1, 1)};
    tsr_value y = kh_op(b, TSR_OP_CONV, &at, 3, in);
    tsr_value sg = kh_op1(b, TSR_OP_SIGMOID, y);
    switch (v) {
    case 0:
        kh_output(b, kh_op2(b, TSR_OP_MUL, sg, y));
        break;
    case 1:
        kh_output(b, kh_op2(b, TSR_OP_MUL, y, sg));
        kh_output(b, sg);
        break;
    case 2:
        kh_output(b, kh_op2(b, TSR_OP_MUL, y, sg));
        kh_output(b, kh_op2(b, TSR_OP_ADD, y, x));
        break;
    case 3:
        kh_output(b, kh_op2(b, TSR_OP_MUL, x, sg));
        break;
    default:
        kh_output(b, kh_op2(b, TSR_OP_ADD, kh_op2(b, TSR_OP_MUL, y, y), sg));
        break;
    }
    static const char *const expect[] = {"=conv_bias_silu", "=conv_bias", "=conv_bias",
                                         "=conv_bias_sigmoid", "=conv_bias"};
    snprintf(b->kernel, sizeof b->kernel, "%s", expect[v]);
}

/* ---- Conv -------------------------------------------------------------------------------- */

struct conv {
    int64_t N, C, H, W, M, KH, KW;
    int64_t sh, sw, pt, pl, pb, pr, dh, dw, group;
    int bias, residual, act;
    float p0, p1;
};

static const struct conv conv_rows[] = {
    /* 3x3 pad 1, bias + residual + relu (im2col panels) */
    {2, 3, 9, 11, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ACT_RELU, 0, 0},
    /* stride 2/3, dilation 2, asymmetric pads, 2 groups, bias, leaky */
    {1, 4, 13, 10, 6, 3, 2, 2, 3, 2, 0, 1, 1, 2, 2, 2, 1, 0, ACT_LEAKY, 0.1f, 0},
    /* depthwise 3x3 stride 2 pad 1, bias + residual + clip; large enough for the pool */
    {2, 8, 64, 61, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 8, 1, 1, ACT_CLIP, -0.5f, 1.5f},
    /* depthwise stride 1, dilation 3 along W, bias, sigmoid */
    {2, 8, 64, 61, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 3, 8, 1, 0, ACT_SIGMOID, 0, 0},
    /* channel multiplier 2 (group = C, M = 2C): grouped GEMM */
    {2, 8, 64, 61, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 3, 8, 1, 0, ACT_SIGMOID, 0, 0},
    /* 1x1 stride 1 (GEMM on the image), tanh; grouped with a residual; stride 2 (im2col) */
    {3, 6, 7, 9, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, ACT_TANH, 0, 0},
    {3, 6, 7, 9, 4, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2, 0, 1, ACT_TANH, 0, 0},
    {3, 6, 7, 9, 4, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 2, 0, 0, ACT_TANH, 0, 0},
    /* OpenCL's cases: 3x3 bias relu; grouped strided dilated residual leaky; depthwise bias +
     * residual + clip; pointwise bare; groups with Mg 1, Cg 2 (channel loop), sigmoid */
    {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, ACT_RELU, 0, 0},
    {2, 4, 9, 8, 6, 3, 2, 2, 1, 1, 0, 0, 2, 2, 1, 2, 0, 1, ACT_LEAKY, 0.05f, 0},
    {2, 5, 6, 7, 5, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 5, 1, 1, ACT_CLIP, -0.5f, 1.0f},
    {2, 5, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, ACT_NONE, 0, 0},
    {1, 6, 5, 5, 3, 2, 3, 1, 1, 0, 1, 1, 0, 1, 2, 3, 1, 0, ACT_SIGMOID, 0, 0},
    /* MobileNetV3's epilogues: depthwise 3x3 + bias + HardSwish, 1x1 + bias + HardSigmoid */
    {2, 8, 17, 19, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8, 1, 0, ACT_HSWISH, 0, 0},
    {2, 16, 1, 1, 8, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, ACT_HSIGMOID, 0.2f, 0.5f},
    /* the direct path on pre-packed weights (conv_direct.c, AVX-512): M 40 = a 32-channel block
     * + an 8-channel tail (16-wide tile), OW 30 in three 10-pixel tiles, residual */
    {1, 16, 15, 30, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ACT_RELU, 0, 0},
    /* stride 2, M 48 = 32 + 16, two images */
    {2, 8, 23, 27, 48, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0, ACT_NONE, 0, 0},
    /* stride (1, 2), asymmetric pads, dilation (2, 1), 2 groups of 32 outputs, residual */
    {1, 12, 11, 13, 64, 3, 3, 1, 2, 0, 2, 1, 0, 2, 1, 2, 1, 1, ACT_LEAKY, 0.1f, 0},
    /* 7x7 stride 2 pad 3 (a stem), M 33 = 32 + a 1-channel tail, HardSwish */
    {2, 7, 19, 21, 33, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1, 0, 0, ACT_HSWISH, 0, 0},
    /* 1x1 stride 2 read in place (no padding), residual; 1x1 with OW 57 (5 tiles) */
    {2, 20, 14, 14, 24, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1, 1, ACT_RELU, 0, 0},
    {1, 32, 3, 57, 16, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, ACT_SIGMOID, 0, 0},
    /* depthwise AVX-512 planes (masked edge chunks, runs of interior chunks): 5x5 pad 2 on 7x7
     * planes, many of them (grouped tasks); stride 2 on a 117-wide row, residual + relu; no
     * padding, dilation 2 on a 40-wide row */
    {1, 72, 7, 7, 72, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 72, 1, 0, ACT_RELU, 0, 0},
    {2, 6, 9, 117, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 6, 1, 1, ACT_RELU, 0, 0},
    {1, 4, 8, 40, 4, 3, 3, 1, 1, 0, 0, 0, 0, 2, 2, 4, 0, 0, ACT_NONE, 0, 0},
    /* the planes above read a zero-padded copy (conv.c, TSR_DW_PAD_MAX_FLOATS); this one is too
     * large for it (258 x 274 floats), so its edge chunks take the masked loads in place */
    {1, 2, 258, 258, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, ACT_RELU, 0, 0},
    /* 3x3 on the padded copy (conv_avx512.c tsr_dw3_chunks, conv_avx2.c tsr_dw23_chunks): OW 40
     * (3 chunks of 16, 5 of 8), OH 7 (a 4-row group + 3 single rows; AVX2: 2 groups of 3 + 1),
     * residual + clip */
    {1, 3, 7, 40, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 1, ACT_CLIP, 0.0f, 6.0f},
    /* 5x5 on the padded copy (AVX-512 tsr_dwk_chunks K 5: 2 rows x 2 vectors): stride 2 with
     * OW 19 and OH 15 (a single tail row), residual + HardSwish; stride 1 with OW 50 (4 chunks)
     * and OH 11 */
    {2, 4, 29, 37, 4, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 4, 1, 1, ACT_HSWISH, 0, 0},
    {1, 3, 11, 50, 3, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 3, 1, 0, ACT_NONE, 0, 0},
    /* depthwise small planes (16 channels per vector, conv.c): 28 -> 14 stride 2, 20 channels
     * (a partial group), residual + HardSwish; dilation 2 on 9x9, two images, clip */
    {1, 20, 28, 28, 20, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 20, 1, 1, ACT_HSWISH, 0, 0},
    {2, 33, 9, 9, 33, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 33, 1, 0, ACT_CLIP, -0.5f, 0.5f},
    /* Winograd F(2x2, 3x3) (conv_direct.c, AVX-512): odd output height (a half tile row), 15
     * tiles per row, M 40 (a 32-block + 8), residual + relu; unpadded with sigmoid after the
     * transform; two images, asymmetric pads, 2 x 64 + 16 tiles per row, clip */
    {1, 16, 31, 29, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ACT_RELU, 0, 0},
    {1, 20, 12, 29, 16, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, ACT_SIGMOID, 0, 0},
    {2, 17, 9, 290, 33, 3, 3, 1, 1, 1, 0, 0, 2, 1, 1, 1, 1, 0, ACT_CLIP, -0.5f, 1.0f},
    /* Winograd on small planes (raster-order tiles through gathers / scatters, M split over
     * tasks): 14x14 with a residual + relu; 7x7 (16 tiles) with 70 outputs, sigmoid after the
     * transform; odd 9x11, two images */
    {1, 16, 14, 14, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ACT_RELU, 0, 0},
    {1, 24, 7, 7, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, ACT_SIGMOID, 0, 0},
    {2, 16, 9, 11, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, ACT_NONE, 0, 0},
    /* short K (<= 64: per-task im2col + the pointwise tiles, conv_direct.c): MobileNetV3's
     * 3x3 stride 2 stem on RGB, two images, HardSwish; stride 1 dilated, M 40 (32 + 8),
     * residual + relu; 5x2 taps, stride (2, 1), unpadded, several rows per task */
    {2, 3, 30, 34, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0, ACT_HSWISH, 0, 0},
    {1, 5, 11, 50, 40, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2, 1, 1, 1, ACT_RELU, 0, 0},
    {1, 2, 19, 13, 8, 5, 2, 2, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, ACT_NONE, 0, 0},
    /* pointwise 1x1 with HardSwish in the tile's registers, residual, M 24 (8-row tiles) */
    {2, 40, 5, 23, 24, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, ACT_HSWISH, 0, 0},
    /* EfficientNet's SiLU (Sigmoid + Mul): 3x3 stride 2 stem (im2col), depthwise 3x3, pointwise
     * 1x1 (the register tile; SiLU in the post-pass), 1x1 + residual on the grouped path, a
     * 1x1 on a 1x1 image (squeeze-excitation's fc1); GELU / GELU tanh on a 3x3 */
    {1, 3, 17, 19, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0, ACT_SILU, 0, 0},
    {2, 16, 13, 15, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16, 1, 0, ACT_SILU, 0, 0},
    {1, 24, 9, 57, 40, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, ACT_SILU, 0, 0},
    {3, 6, 7, 9, 4, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2, 1, 1, ACT_SILU, 0, 0},
    {1, 32, 1, 1, 8, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, ACT_SILU, 0, 0},
    {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, ACT_GELU, 0, 0},
    {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ACT_GELU_TANH, 0, 0},
    /* the AVX2 register-tile path over im2col column blocks (conv.c): K 576 in five blocks of
     * 128 + 64, M 72 (nine 8-row tiles), 100 pixels (48 + 48 + 4), bias + residual + clip in
     * registers on the last block; 2 groups of K 288 at stride 2, relu */
    {1, 64, 10, 10, 72, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ACT_CLIP, -0.5f, 1.0f},
    {2, 64, 6, 6, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 1, 0, ACT_RELU, 0, 0},
    /* the AVX2 K-blocked pointwise GEMM (conv_direct.c, tsr_cpu_convp_blocked_avx2): 1x1 with
     * K 300 in tap blocks of 128 + 128 + 44, M 44 (a 32-block + 12 rows: 8 + 4), 203 pixels
     * (a 192-pixel task + 11, a partial panel), two images, bias + residual + clip */
    {2, 300, 7, 29, 44, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, ACT_CLIP, -0.5f, 1.0f},
    /* the direct tiles' store with the epilogue (+ residual, then Relu in registers): 3x3
     * stride 2 with K 144 (M 40 = 32 + 8); a 1x1 with K 272 (> the pointwise tiles' 256 on
     * AVX-512) on a 7x7 plane, two images, M 48 = 32 + 16 */
    {1, 16, 15, 17, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, ACT_RELU, 0, 0},
    {2, 272, 7, 7, 48, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, ACT_RELU, 0, 0},
    /* Winograd F(2x2, 3x3) with SiLU after the output transform (the post-pass): a 29-wide
     * row, a small 7x7 plane (scattered tiles) */
    {1, 20, 12, 29, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, ACT_SILU, 0, 0},
    {1, 24, 7, 7, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, ACT_SILU, 0, 0},
};

static void build_conv(struct kh_builder *b) {
    const struct conv *c = &conv_rows[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.strides[0] = c->sh, at.strides[1] = c->sw;
    at.pads[0] = c->pt, at.pads[1] = c->pl, at.pads[2] = c->pb, at.pads[3] = c->pr;
    at.dilations[0] = c->dh, at.dilations[1] = c->dw;
    at.group = c->group;
    tsr_value in[3];
    in[0] = kh_input(b, 4, D(c->N, c->C, c->H, c->W), -1, 1);
    in[1] = kh_const(b, 4, D(c->M, c->C / c->group, c->KH, c->KW), -1, 1);
    if (c->bias) in[2] = kh_const(b, 1, D(c->M), -1, 1);
    tsr_value y = kh_op(b, TSR_OP_CONV, &at, c->bias ? 3 : 2, in);
    if (c->residual) {
        struct tsr_tensor_desc d;
        ck_assert_int_eq(tsr_graph_value_desc(b->g, y, &d), TSR_OK);
        y = kh_op2(b, TSR_OP_ADD, y, kh_input(b, 4, d.dims, -1, 1));
    }
    kh_output(b, act_node(b, c->act, c->p0, c->p1, y));
    const int dw = c->group == c->C && c->group == c->M && c->group > 1;
    expect_epilogue(b, dw ? "conv_depthwise" : "conv", c->bias, c->residual, c->act);
    kh_label(b, " [%lld,%lld,%lld,%lld] M %lld k %lldx%lld s %lld,%lld g %lld", (long long)c->N,
             (long long)c->C, (long long)c->H, (long long)c->W, (long long)c->M, (long long)c->KH,
             (long long)c->KW, (long long)c->sh, (long long)c->sw, (long long)c->group);
}

/* Conv -> BatchNormalization -> Relu: with fusion on the BN folds into the conv's weights. */
static void build_conv_bn(struct kh_builder *b) {
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.pads[0] = at.pads[1] = at.pads[2] = at.pads[3] = 1;
    tsr_value in[5];
    in[0] = kh_input(b, 4, D(2, 3, 8, 8), -1, 1);
    in[1] = kh_const(b, 4, D(6, 3, 3, 3), -1, 1);
    tsr_value y = kh_op(b, TSR_OP_CONV, &at, 2, in);
    in[0] = y;
    in[1] = kh_const(b, 1, D(6), 0.5f, 1.5f); /* scale */
    in[2] = kh_const(b, 1, D(6), -1, 1);      /* bias */
    in[3] = kh_const(b, 1, D(6), -1, 1);      /* mean */
    in[4] = kh_const(b, 1, D(6), 0.5f, 2);    /* variance */
    y = kh_op(b, TSR_OP_BATCHNORM, NULL, 5, in);
    kh_output(b, kh_op1(b, TSR_OP_RELU, y));
}

/* ---- pools ------------------------------------------------------------------------------- */

struct pool {
    tsr_op op;
    int64_t N, C, H, W, KH, KW, sh, sw, pt, pl, pb, pr, dh, dw;
    int ceil_mode, count_include_pad;
};

static const struct pool pool_rows[] = {
    /* 3x3 stride 2 pad 1: max; average excluding and including the pads */
    {TSR_OP_MAXPOOL, 2, 3, 11, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0},
    {TSR_OP_AVGPOOL, 2, 3, 11, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0},
    {TSR_OP_AVGPOOL, 2, 3, 11, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 1},
    /* ceil mode: a window overhanging the end padding (its taps there are not counted) */
    {TSR_OP_AVGPOOL, 2, 3, 11, 12, 3, 3, 2, 2, 1, 1, 0, 1, 1, 1, 1, 1},
    {TSR_OP_AVGPOOL, 2, 3, 11, 12, 3, 3, 2, 2, 1, 1, 0, 1, 1, 1, 1, 0},
    {TSR_OP_MAXPOOL, 2, 3, 11, 12, 3, 3, 2, 2, 1, 1, 0, 1, 1, 1, 1, 0},
    /* rectangular, dilated, stride 1/3, asymmetric pads; large (thread pool) */
    {TSR_OP_MAXPOOL, 4, 16, 40, 33, 2, 4, 1, 3, 0, 2, 1, 0, 2, 1, 0, 0},
    {TSR_OP_AVGPOOL, 4, 16, 40, 33, 2, 4, 1, 3, 0, 2, 1, 0, 2, 1, 0, 0},
    /* the whole image as the window */
    {TSR_OP_AVGPOOL, 1, 5, 7, 7, 7, 7, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0},
    /* OpenCL's cases: 3x3 s2 p1 max; dilated with asymmetric pads; average both ways */
    {TSR_OP_MAXPOOL, 2, 3, 7, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0},
    {TSR_OP_MAXPOOL, 2, 3, 7, 8, 3, 3, 2, 2, 1, 1, 0, 2, 2, 1, 0, 0},
    {TSR_OP_AVGPOOL, 2, 3, 7, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0},
    {TSR_OP_AVGPOOL, 2, 3, 7, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 1},
    /* pads larger than the window: corner windows see no input (average 0, max -inf) */
    {TSR_OP_AVGPOOL, 1, 2, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 0, 0},
    {TSR_OP_MAXPOOL, 1, 2, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 0, 0},
};

static void build_pool(struct kh_builder *b) {
    const struct pool *p = &pool_rows[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.kernel_shape[0] = p->KH, at.kernel_shape[1] = p->KW;
    at.strides[0] = p->sh, at.strides[1] = p->sw;
    at.pads[0] = p->pt, at.pads[1] = p->pl, at.pads[2] = p->pb, at.pads[3] = p->pr;
    at.dilations[0] = p->dh, at.dilations[1] = p->dw;
    at.ceil_mode = p->ceil_mode;
    at.count_include_pad = p->count_include_pad;
    tsr_value x = kh_input(b, 4, D(p->N, p->C, p->H, p->W), -3, 3);
    kh_output(b, kh_op(b, p->op, &at, 1, &x));
    kh_label(b, " %s [%lld,%lld,%lld,%lld] k %lldx%lld s %lld,%lld%s%s", tsr_op_name(p->op),
             (long long)p->N, (long long)p->C, (long long)p->H, (long long)p->W, (long long)p->KH,
             (long long)p->KW, (long long)p->sh, (long long)p->sw, p->ceil_mode ? " ceil" : "",
             p->count_include_pad ? " include-pad" : "");
}

/* Pools of the AVX-512 path (pool_avx512.c; the other CPU tiers and OpenCL run them too):
 * GoogLeNet's 3x3 stride 1 pad 1 and 3x3 stride 2 ceil_mode (also SqueezeNet's), widths below 16,
 * not multiples of 16 and above 64, narrow rows (several rows per vector group), even window
 * widths at stride 2, dilations (stride 2 with dilation 2: the generic load path), stride_h 3,
 * width-1 planes (as the 3-D pool rewrite makes), a plane pool large enough for the thread pool;
 * 3x3 max with every stride_h / stride_w pair of 1 and 2 (the separable kernel), over 64 columns,
 * and stride_h 3 (the unrolled direct kernel).
 * `nan`: the input has NaN runs long enough that some windows hold only NaN, scattered NaN and
 * -inf (max: NaN for a window holding a NaN, as np.max; -inf for a window of padding). Max is exact
 * (group "pool_vector"), average bit-identical to the scalar path, within 1e-6 of the double
 * reference ("pool_vector_avg"). */
struct pool_vec {
    struct pool p;
    int nan;
};

static const struct pool_vec pool_vec_rows[] = {
    {{TSR_OP_MAXPOOL, 1, 8, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 4, 112, 112, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 8, 55, 55, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0}, 0},
    {{TSR_OP_MAXPOOL, 2, 5, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 6, 7, 7, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 3, 9, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 3, 9, 71, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 3, 16, 33, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 3, 10, 37, 1, 4, 1, 2, 0, 1, 0, 2, 1, 1, 0, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 3, 13, 45, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 3, 13, 40, 2, 3, 1, 1, 1, 2, 0, 1, 2, 3, 0, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 3, 20, 19, 3, 2, 3, 2, 2, 0, 1, 1, 1, 1, 1, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 2, 9, 1, 3, 1, 2, 1, 1, 0, 1, 0, 1, 1, 0, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 2, 5, 5, 3, 3, 1, 1, 3, 3, 3, 3, 1, 1, 0, 0}, 0},
    {{TSR_OP_MAXPOOL, 2, 32, 56, 56, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 3, 10, 150, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 3, 12, 40, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 1, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 3, 12, 40, 3, 3, 2, 1, 0, 1, 0, 1, 1, 1, 1, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 3, 20, 37, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 0},
    /* a padded plane over the vector path's scratch cap (1 Mi floats): the scalar loop */
    {{TSR_OP_MAXPOOL, 1, 1, 1030, 1030, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0}, 0},
    {{TSR_OP_MAXPOOL, 1, 8, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 1},
    {{TSR_OP_MAXPOOL, 1, 4, 30, 30, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0}, 1},
    {{TSR_OP_MAXPOOL, 1, 3, 9, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 1},
    {{TSR_OP_MAXPOOL, 1, 3, 9, 71, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0}, 1},
    {{TSR_OP_MAXPOOL, 1, 3, 13, 45, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 0}, 1},
    /* average: both counts, ceil_mode windows past the end padding, NaN propagating */
    {{TSR_OP_AVGPOOL, 1, 8, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 0},
    {{TSR_OP_AVGPOOL, 1, 8, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1}, 0},
    {{TSR_OP_AVGPOOL, 1, 4, 55, 55, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0}, 0},
    {{TSR_OP_AVGPOOL, 1, 3, 11, 71, 3, 3, 2, 2, 1, 1, 0, 1, 1, 1, 1, 1}, 0},
    {{TSR_OP_AVGPOOL, 1, 3, 11, 70, 3, 3, 2, 2, 1, 1, 0, 1, 1, 1, 1, 0}, 0},
    {{TSR_OP_AVGPOOL, 2, 5, 14, 14, 5, 5, 3, 1, 2, 2, 2, 2, 1, 1, 0, 1}, 0},
    {{TSR_OP_AVGPOOL, 1, 3, 13, 45, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 0}, 0},
    {{TSR_OP_AVGPOOL, 1, 3, 13, 40, 2, 4, 1, 2, 1, 2, 0, 1, 2, 1, 0, 1}, 0},
    {{TSR_OP_AVGPOOL, 1, 2, 5, 5, 3, 3, 1, 1, 3, 3, 3, 3, 1, 1, 0, 0}, 0},
    {{TSR_OP_AVGPOOL, 2, 32, 56, 56, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 0},
    {{TSR_OP_AVGPOOL, 1, 8, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 1},
};
#define POOL_VEC_AVG_FIRST 25

/* Uniform in [-2, 2) with runs of 90 NaN (more than 3 rows of width <= 30: whole windows of
 * NaN), a NaN at every 13th element and -inf at every 29th. */
static void gen_pool_nan(float *x, size_t n, uint64_t seed) {
    uint64_t st = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (size_t i = 0; i < n; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(st >> 40) / (double)(1ull << 24)) * 4.0f - 2.0f;
        if (i % 29 == 3) x[i] = -INFINITY;
        if (i % 13 == 5 || i % 301 < 90) x[i] = NAN;
    }
}

static void build_pool_vec_row(struct kh_builder *b, const struct pool_vec *r) {
    const struct pool *p = &r->p;
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.kernel_shape[0] = p->KH, at.kernel_shape[1] = p->KW;
    at.strides[0] = p->sh, at.strides[1] = p->sw;
    at.pads[0] = p->pt, at.pads[1] = p->pl, at.pads[2] = p->pb, at.pads[3] = p->pr;
    at.dilations[0] = p->dh, at.dilations[1] = p->dw;
    at.ceil_mode = p->ceil_mode;
    at.count_include_pad = p->count_include_pad;
    tsr_value x = r->nan ? kh_input_gen(b, 4, D(p->N, p->C, p->H, p->W), gen_pool_nan)
                         : kh_input(b, 4, D(p->N, p->C, p->H, p->W), -3, 3);
    kh_output(b, kh_op(b, p->op, &at, 1, &x));
    kh_label(
        b,
        " %s [%lld,%lld,%lld,%lld] k %lldx%lld s %lld,%lld p %lld,%lld,%lld,%lld d %lld,%lld%s%s%s",
        tsr_op_name(p->op), (long long)p->N, (long long)p->C, (long long)p->H, (long long)p->W,
        (long long)p->KH, (long long)p->KW, (long long)p->sh, (long long)p->sw, (long long)p->pt,
        (long long)p->pl, (long long)p->pb, (long long)p->pr, (long long)p->dh, (long long)p->dw,
        p->ceil_mode ? " ceil" : "", p->count_include_pad ? " include-pad" : "",
        r->nan ? " NaN" : "");
}

static void build_pool_vec(struct kh_builder *b) {
    build_pool_vec_row(b, &pool_vec_rows[b->variant]);
}

static void build_pool_vec_avg(struct kh_builder *b) {
    build_pool_vec_row(b, &pool_vec_rows[POOL_VEC_AVG_FIRST + b->variant]);
}

/* Group "win3d": 3-D MaxPool / AveragePool [N, C, D, H, W] (rewritten into two 2-D pools; the
 * reference loops over the 3-D window directly). */
struct pool3d {
    tsr_op op;
    int64_t dims[5], k[3], s[3], pads[6], dil[3];
    int ceil_mode, count_include_pad;
};

static const struct pool3d pool3d_rows[] = {
    /* cube 2x2x2, stride 1 (ONNX 3d_default) */
    {TSR_OP_MAXPOOL, {1, 3, 8, 8, 8}, {2, 2, 2}, {1, 1, 1}, {0}, {1, 1, 1}, 0, 0},
    {TSR_OP_AVGPOOL, {1, 3, 8, 8, 8}, {2, 2, 2}, {1, 1, 1}, {0}, {1, 1, 1}, 0, 0},
    /* strides, asymmetric pads: average excluding and including the pads */
    {TSR_OP_MAXPOOL, {2, 2, 7, 9, 6}, {3, 2, 3}, {2, 1, 2}, {1, 0, 1, 0, 1, 2}, {1, 1, 1}, 0, 0},
    {TSR_OP_AVGPOOL, {2, 2, 7, 9, 6}, {3, 2, 3}, {2, 1, 2}, {1, 0, 1, 0, 1, 2}, {1, 1, 1}, 0, 0},
    {TSR_OP_AVGPOOL, {2, 2, 7, 9, 6}, {3, 2, 3}, {2, 1, 2}, {1, 0, 1, 0, 1, 2}, {1, 1, 1}, 0, 1},
    /* dilations with ceil_mode (windows overhanging the end padding), both counts */
    {TSR_OP_MAXPOOL, {1, 2, 9, 8, 10}, {2, 3, 2}, {3, 2, 2}, {1, 1, 0, 1, 0, 1}, {2, 1, 3}, 1, 0},
    {TSR_OP_AVGPOOL, {1, 2, 9, 8, 10}, {2, 3, 2}, {3, 2, 2}, {1, 1, 0, 1, 0, 1}, {2, 1, 3}, 1, 0},
    /* include-pad with ceil_mode: only where ceil adds no window (else refused) */
    {TSR_OP_AVGPOOL, {1, 2, 9, 8, 10}, {3, 3, 2}, {2, 1, 1}, {1, 1, 0, 1, 0, 1}, {2, 1, 3}, 1, 1},
    /* pads larger than the window: some windows see no input (average 0, max -inf) */
    {TSR_OP_AVGPOOL, {1, 2, 3, 3, 3}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2, 2, 2, 2}, {1, 1, 1}, 0, 0},
    {TSR_OP_MAXPOOL, {1, 2, 3, 3, 3}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2, 2, 2, 2}, {1, 1, 1}, 0, 0},
};

/* LpPool 3-D (p 2; rewritten into |x|^p, a 3-D average counting the pads, times the window
 * size, ^(1/p)): the pool3d rows' geometries, p 1 and 3 on one of them. */
static const int64_t lppool3d_p[] = {2, 2, 1, 3, 2, 2};
static const int lppool3d_row[] = {0, 2, 2, 2, 5, 8};

static void build_lppool3d(struct kh_builder *b) {
    const struct pool3d *p = &pool3d_rows[lppool3d_row[b->variant]];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.win_d[0] = p->k[0], at.win_d[1] = p->s[0], at.win_d[2] = p->dil[0];
    at.win_d[3] = p->pads[0], at.win_d[4] = p->pads[3];
    at.win3d_given = 1 | 2 | 4 | 8;
    at.kernel_shape[0] = p->k[1], at.kernel_shape[1] = p->k[2];
    at.strides[0] = p->s[1], at.strides[1] = p->s[2];
    at.dilations[0] = p->dil[1], at.dilations[1] = p->dil[2];
    at.pads[0] = p->pads[1], at.pads[1] = p->pads[2], at.pads[2] = p->pads[4],
    at.pads[3] = p->pads[5];
    at.lp_p = lppool3d_p[b->variant];
    tsr_value x = kh_input(b, 5, p->dims, -3, 3);
    kh_output(b, kh_op(b, TSR_OP_LPPOOL, &at, 1, &x));
    kh_label(b, " LpPool p %lld [%lld,%lld,%lld,%lld,%lld] k %lldx%lldx%lld", (long long)at.lp_p,
             (long long)p->dims[0], (long long)p->dims[1], (long long)p->dims[2],
             (long long)p->dims[3], (long long)p->dims[4], (long long)p->k[0], (long long)p->k[1],
             (long long)p->k[2]);
}

static void build_pool3d(struct kh_builder *b) {
    const struct pool3d *p = &pool3d_rows[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.win_d[0] = p->k[0], at.win_d[1] = p->s[0], at.win_d[2] = p->dil[0];
    at.win_d[3] = p->pads[0], at.win_d[4] = p->pads[3];
    at.win3d_given = 1 | 2 | 4 | 8;
    at.kernel_shape[0] = p->k[1], at.kernel_shape[1] = p->k[2];
    at.strides[0] = p->s[1], at.strides[1] = p->s[2];
    at.dilations[0] = p->dil[1], at.dilations[1] = p->dil[2];
    at.pads[0] = p->pads[1], at.pads[1] = p->pads[2], at.pads[2] = p->pads[4],
    at.pads[3] = p->pads[5];
    at.ceil_mode = p->ceil_mode;
    at.count_include_pad = p->count_include_pad;
    tsr_value x = kh_input(b, 5, p->dims, -3, 3);
    kh_output(b, kh_op(b, p->op, &at, 1, &x));
    kh_label(b, " %s [%lld,%lld,%lld,%lld,%lld] k %lldx%lldx%lld%s%s", tsr_op_name(p->op),
             (long long)p->dims[0], (long long)p->dims[1], (long long)p->dims[2],
             (long long)p->dims[3], (long long)p->dims[4], (long long)p->k[0], (long long)p->k[1],
             (long long)p->k[2], p->ceil_mode ? " ceil" : "",
             p->count_include_pad ? " include-pad" : "");
}

/* Group "conv3d": 3-D Conv [N, C, D, H, W] x [M, C/g, kD, kH, kW] (rewritten into one 2-D Conv
 * per depth tap, summed; the reference loops over the 3-D window directly). */
struct conv3d {
    int64_t dims[5], M, k[3], s[3], pads[6], dil[3], group;
    int bias, w_input; /* w_input: weights a graph input (the weight slices do not fold) */
};

static const struct conv3d conv3d_rows[] = {
    /* 3x3x3, no pads, no bias */
    {{1, 2, 5, 6, 7}, 4, {3, 3, 3}, {1, 1, 1}, {0}, {1, 1, 1}, 1, 0, 0},
    /* pads 1 all round, bias */
    {{2, 3, 4, 5, 5}, 5, {3, 3, 3}, {1, 1, 1}, {1, 1, 1, 1, 1, 1}, {1, 1, 1}, 1, 1, 0},
    /* strides, asymmetric pads */
    {{1, 3, 9, 8, 7}, 4, {3, 2, 3}, {2, 1, 2}, {1, 0, 2, 2, 1, 0}, {1, 1, 1}, 1, 1, 0},
    /* dilations */
    {{1, 2, 9, 9, 8}, 3, {2, 3, 2}, {1, 2, 1}, {1, 1, 0, 0, 1, 1}, {3, 2, 2}, 1, 0, 0},
    /* groups (2 and depthwise), bias */
    {{2, 4, 5, 6, 6}, 6, {2, 3, 3}, {1, 1, 2}, {0, 1, 1, 1, 1, 0}, {1, 1, 1}, 2, 1, 0},
    {{1, 3, 6, 5, 5}, 3, {3, 3, 3}, {2, 2, 2}, {1, 1, 1, 1, 1, 1}, {1, 1, 1}, 3, 1, 0},
    /* depth kernel 1 (a single tap), weights a graph input */
    {{1, 2, 4, 5, 5}, 3, {1, 3, 3}, {1, 1, 1}, {0, 1, 1, 0, 1, 1}, {1, 1, 1}, 1, 1, 1},
    {{1, 2, 6, 5, 4}, 2, {2, 2, 2}, {2, 1, 1}, {1, 0, 0, 1, 0, 0}, {2, 1, 1}, 1, 0, 1},
};

static void build_conv3d(struct kh_builder *b) {
    const struct conv3d *c = &conv3d_rows[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.win_d[0] = c->k[0], at.win_d[1] = c->s[0], at.win_d[2] = c->dil[0];
    at.win_d[3] = c->pads[0], at.win_d[4] = c->pads[3];
    at.win3d_given = 1 | 2 | 4 | 8;
    at.kernel_shape[0] = c->k[1], at.kernel_shape[1] = c->k[2];
    at.strides[0] = c->s[1], at.strides[1] = c->s[2];
    at.dilations[0] = c->dil[1], at.dilations[1] = c->dil[2];
    at.pads[0] = c->pads[1], at.pads[1] = c->pads[2], at.pads[2] = c->pads[4],
    at.pads[3] = c->pads[5];
    at.group = c->group;
    tsr_value in[3];
    const int64_t wdims[5] = {c->M, c->dims[1] / c->group, c->k[0], c->k[1], c->k[2]};
    in[0] = kh_input(b, 5, c->dims, -1, 1);
    in[1] = c->w_input ? kh_input(b, 5, wdims, -1, 1) : kh_const(b, 5, wdims, -1, 1);
    if (c->bias) in[2] = kh_const(b, 1, D(c->M), -1, 1);
    kh_output(b, kh_op(b, TSR_OP_CONV, &at, c->bias ? 3 : 2, in));
    kh_label(b, " [%lld,%lld,%lld,%lld,%lld] M %lld k %lldx%lldx%lld g %lld%s%s",
             (long long)c->dims[0], (long long)c->dims[1], (long long)c->dims[2],
             (long long)c->dims[3], (long long)c->dims[4], (long long)c->M, (long long)c->k[0],
             (long long)c->k[1], (long long)c->k[2], (long long)c->group, c->bias ? " bias" : "",
             c->w_input ? " w-input" : "");
}

/* Group "conv3d": 3-D ConvTranspose [N, C, D, H, W] x [C, M/g, kD, kH, kW] (the stride-1 Conv
 * rewrite, its 3-D Conv in turn per depth tap) against the reference's direct 3-D scatter;
 * per-axis [d, h, w] strides, pads (begin, end), output_padding, dilations. */
struct convt3d {
    int64_t dims[5], M, k[3], s[3], pads[6], opad[3], dil[3], group;
    int bias, w_input;
};

static const struct convt3d convt3d_rows[] = {
    {{1, 1, 3, 4, 5},
     2,
     {3, 3, 3},
     {1, 1, 1},
     {0},
     {0},
     {1, 1, 1},
     1,
     0,
     1}, /* test_convtranspose_3d
          */
    {{2, 3, 4, 3, 5}, 2, {3, 2, 3}, {2, 1, 3}, {1, 0, 1, 1, 0, 2}, {1, 0, 2}, {1, 1, 1}, 1, 1, 0},
    {{1, 4, 3, 4, 3}, 4, {2, 3, 2}, {2, 2, 1}, {0, 1, 0, 1, 1, 0}, {1, 1, 0}, {2, 1, 2}, 2, 1, 1},
    {{1, 3, 4, 4, 4}, 3, {2, 2, 2}, {2, 2, 2}, {0}, {0}, {1, 1, 1}, 3, 1, 0}, /* depthwise */
};

static void build_convt3d(struct kh_builder *b) {
    const struct convt3d *c = &convt3d_rows[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.win_d[0] = c->k[0], at.win_d[1] = c->s[0], at.win_d[2] = c->dil[0];
    at.win_d[3] = c->pads[0], at.win_d[4] = c->pads[3];
    at.convt_d[0] = c->opad[0];
    at.win3d_given = 1 | 2 | 4 | 8 | 16;
    at.kernel_shape[0] = c->k[1], at.kernel_shape[1] = c->k[2];
    at.strides[0] = c->s[1], at.strides[1] = c->s[2];
    at.dilations[0] = c->dil[1], at.dilations[1] = c->dil[2];
    at.pads[0] = c->pads[1], at.pads[1] = c->pads[2], at.pads[2] = c->pads[4],
    at.pads[3] = c->pads[5];
    at.output_padding[0] = c->opad[1], at.output_padding[1] = c->opad[2];
    at.group = c->group;
    tsr_value in[3];
    const int64_t wdims[5] = {c->dims[1], c->M / c->group, c->k[0], c->k[1], c->k[2]};
    in[0] = kh_input(b, 5, c->dims, -1, 1);
    in[1] = c->w_input ? kh_input(b, 5, wdims, -1, 1) : kh_const(b, 5, wdims, -1, 1);
    if (c->bias) in[2] = kh_const(b, 1, D(c->M), -1, 1);
    kh_output(b, kh_op(b, TSR_OP_CONVTRANSPOSE, &at, c->bias ? 3 : 2, in));
    kh_label(b, " [%lld,%lld,%lld,%lld,%lld] M %lld k %lldx%lldx%lld g %lld%s%s",
             (long long)c->dims[0], (long long)c->dims[1], (long long)c->dims[2],
             (long long)c->dims[3], (long long)c->dims[4], (long long)c->M, (long long)c->k[0],
             (long long)c->k[1], (long long)c->k[2], (long long)c->group, c->bias ? " bias" : "",
             c->w_input ? " w-input" : "");
}

static void build_global_pool(struct kh_builder *b) {
    tsr_value x =
        b->variant ? kh_input(b, 4, D(2, 4, 5, 6), -2, 2) : kh_input(b, 4, D(1, 5, 7, 7), -2, 2);
    kh_output(b, kh_op1(b, TSR_OP_GLOBALAVGPOOL, x));
}

/* ---- group "spatial": GlobalMaxPool, 1-D Conv / pools ------------------------------------- */

/* Uniform in [-2, 2) with a NaN at every 97th element (some channels of each case hold one),
 * so the max reduction's NaN propagation is checked on every path. */
static void gen_some_nan(float *x, size_t n, uint64_t seed) {
    uint64_t st = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (size_t i = 0; i < n; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(st >> 40) / (double)(1ull << 24)) * 4.0f - 2.0f;
        if (i % 97 == 41) x[i] = NAN;
    }
}

/* GlobalMaxPool over [N, C, spatial...]: 2-D, 1-D, a long row (vector path), a 3-D volume, and
 * one with NaN elements. */
static const int64_t gmax_shapes[][5] = {
    {4, 1, 5, 7, 7},    {4, 2, 4, 5, 6}, {3, 2, 3, 50, 0},
    {3, 1, 3, 1000, 0}, {5, 1, 2, 3, 4}, /* rank 5: [1, 2, 3, 4, 5] */
    {4, 2, 8, 16, 9},                    /* NaN elements */
};

static void build_global_max_pool(struct kh_builder *b) {
    const int64_t *s = gmax_shapes[b->variant];
    int rank = (int)s[0];
    int64_t dims[5];
    for (int d = 0; d < rank; d++)
        dims[d] = rank == 5 ? d + 1 : s[1 + d];
    tsr_value x = b->variant == 5 ? kh_input_gen(b, rank, dims, gen_some_nan)
                                  : kh_input(b, rank, dims, -3, 3);
    kh_output(b, kh_op1(b, TSR_OP_GLOBALMAXPOOL, x));
    snprintf(b->kernel, sizeof b->kernel, "global_maxpool");
    kh_label(b, " rank %d%s", rank, b->variant == 5 ? " with NaN" : "");
}

/* ReduceMax over the middle axis of [3, 50, 33] (the accumulate-rows path) and of [4, 300, 1]
 * (the row path) with NaN elements: NaN propagates on both. */
static void build_reduce_max_nan(struct kh_builder *b) {
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.n_axes = 1;
    at.axes[0] = 1;
    tsr_value x = b->variant ? kh_input_gen(b, 3, D(4, 300, 1), gen_some_nan)
                             : kh_input_gen(b, 3, D(3, 50, 33), gen_some_nan);
    kh_output(b, kh_op(b, TSR_OP_REDUCEMAX, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "reduce_max");
}

/* 1-D Conv [N, C, W] * [M, C/g, K] (attributes in their 2-D form with H = 1, as the importer
 * stores 1-D ones): N C W M K stride pad_begin pad_end dilation group bias act */
struct conv1d {
    int64_t N, C, W, M, K, s, pb, pe, d, g;
    int bias, act;
};
static const struct conv1d conv1d_rows[] = {
    {2, 3, 17, 4, 3, 1, 1, 1, 1, 1, 1, ACT_RELU},   {2, 4, 33, 6, 5, 2, 2, 1, 2, 2, 1, ACT_NONE},
    {1, 8, 20, 8, 3, 1, 1, 1, 1, 8, 1, ACT_NONE}, /* depthwise */
    {3, 5, 9, 7, 1, 1, 0, 0, 1, 1, 0, ACT_SIGMOID}, {2, 16, 64, 24, 7, 3, 3, 3, 1, 1, 1, ACT_NONE},
};

static void build_conv1d(struct kh_builder *b) {
    const struct conv1d *c = &conv1d_rows[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.strides[0] = 1, at.strides[1] = c->s;
    at.pads[0] = 0, at.pads[1] = c->pb, at.pads[2] = 0, at.pads[3] = c->pe;
    at.dilations[0] = 1, at.dilations[1] = c->d;
    at.group = c->g;
    tsr_value in[3];
    in[0] = kh_input(b, 3, D(c->N, c->C, c->W), -1, 1);
    in[1] = kh_const(b, 3, D(c->M, c->C / c->g, c->K), -1, 1);
    if (c->bias) in[2] = kh_const(b, 1, D(c->M), -1, 1);
    tsr_value y = kh_op(b, TSR_OP_CONV, &at, c->bias ? 3 : 2, in);
    kh_output(b, act_node(b, c->act, 0, 0, y));
    const int dw = c->g == c->C && c->g == c->M && c->g > 1;
    expect_epilogue(b, dw ? "conv_depthwise" : "conv", c->bias, 0, c->act);
    kh_label(b, " 1-D [%lld,%lld,%lld] M %lld k %lld s %lld g %lld", (long long)c->N,
             (long long)c->C, (long long)c->W, (long long)c->M, (long long)c->K, (long long)c->s,
             (long long)c->g);
}

/* 1-D MaxPool / AveragePool [N, C, W]: op N C W K stride pad_begin pad_end dilation ceil
 * include_pad */
struct pool1d {
    tsr_op op;
    int64_t N, C, W, K, s, pb, pe, d;
    int ceil_mode, count_include_pad;
};
static const struct pool1d pool1d_rows[] = {
    {TSR_OP_MAXPOOL, 2, 3, 17, 3, 2, 1, 1, 1, 0, 0},
    {TSR_OP_AVGPOOL, 2, 3, 17, 3, 2, 1, 1, 1, 0, 0},
    {TSR_OP_AVGPOOL, 2, 3, 17, 3, 2, 1, 1, 1, 0, 1},
    {TSR_OP_MAXPOOL, 2, 5, 30, 4, 3, 0, 2, 2, 1, 0},
    {TSR_OP_AVGPOOL, 2, 5, 30, 4, 3, 0, 2, 1, 1, 0},
};

static void build_pool1d(struct kh_builder *b) {
    const struct pool1d *p = &pool1d_rows[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.kernel_shape[0] = 1, at.kernel_shape[1] = p->K;
    at.strides[0] = 1, at.strides[1] = p->s;
    at.pads[0] = 0, at.pads[1] = p->pb, at.pads[2] = 0, at.pads[3] = p->pe;
    at.dilations[0] = 1, at.dilations[1] = p->d;
    at.ceil_mode = p->ceil_mode;
    at.count_include_pad = p->count_include_pad;
    tsr_value x = kh_input(b, 3, D(p->N, p->C, p->W), -3, 3);
    kh_output(b, kh_op(b, p->op, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "%s", p->op == TSR_OP_MAXPOOL ? "maxpool" : "avgpool");
    kh_label(b, " 1-D %s [%lld,%lld,%lld] k %lld s %lld%s%s", tsr_op_name(p->op), (long long)p->N,
             (long long)p->C, (long long)p->W, (long long)p->K, (long long)p->s,
             p->ceil_mode ? " ceil" : "", p->count_include_pad ? " include-pad" : "");
}

/* Resize / Upsample [N, C, H, W] → scaled innermost dims: op mode coord nearest_mode
 * exclude_outside, cubic a, H W, then scales (sh, sw > 0) or sizes (oh, ow when sh == 0). */
struct resize {
    tsr_op op;
    int mode, coord, nearest, exclude;
    float cubic_a;
    int64_t N, C, H, W;
    float sh, sw;
    int64_t oh, ow;
};
enum { RZ_NEAREST, RZ_LINEAR, RZ_CUBIC };
enum { RZ_HALF, RZ_PYTORCH, RZ_ALIGN, RZ_ASYM, RZ_TF_NN, RZ_TF_CROP, RZ_SYMMETRIC };
static const struct resize resize_rows[] = {
    /* nearest x2 (the FPN / segmentation head upsample), every nearest_mode, downsampling */
    {TSR_OP_RESIZE, RZ_NEAREST, RZ_ASYM, 2, 0, -0.75f, 2, 3, 7, 9, 2, 2, 0, 0},
    {TSR_OP_RESIZE, RZ_NEAREST, RZ_HALF, 0, 0, -0.75f, 1, 2, 5, 6, 1.7f, 2.5f, 0, 0},
    {TSR_OP_RESIZE, RZ_NEAREST, RZ_HALF, 1, 0, -0.75f, 1, 2, 5, 6, 1.7f, 2.5f, 0, 0},
    {TSR_OP_RESIZE, RZ_NEAREST, RZ_ALIGN, 3, 0, -0.75f, 1, 2, 5, 6, 0, 0, 9, 13},
    {TSR_OP_RESIZE, RZ_NEAREST, RZ_TF_NN, 0, 0, -0.75f, 2, 2, 8, 9, 0.5f, 0.6f, 0, 0},
    /* bilinear, every coordinate transformation; sizes; downsampling; a 1-row output */
    {TSR_OP_RESIZE, RZ_LINEAR, RZ_HALF, 0, 0, -0.75f, 2, 3, 7, 9, 2, 2, 0, 0},
    {TSR_OP_RESIZE, RZ_LINEAR, RZ_PYTORCH, 0, 0, -0.75f, 2, 3, 7, 9, 0, 0, 1, 20},
    {TSR_OP_RESIZE, RZ_LINEAR, RZ_ALIGN, 0, 0, -0.75f, 2, 3, 7, 9, 0, 0, 15, 4},
    {TSR_OP_RESIZE, RZ_LINEAR, RZ_ASYM, 0, 0, -0.75f, 1, 4, 6, 5, 0.6f, 3.0f, 0, 0},
    {TSR_OP_RESIZE, RZ_LINEAR, RZ_SYMMETRIC, 0, 0, -0.75f, 1, 4, 6, 5, 1.5f, 0.7f, 0, 0},
    /* bicubic (PyTorch's a = -0.75; ONNX's exclude_outside; TensorFlow's a = -0.5) */
    {TSR_OP_RESIZE, RZ_CUBIC, RZ_HALF, 0, 0, -0.75f, 2, 3, 7, 9, 2, 1.5f, 0, 0},
    {TSR_OP_RESIZE, RZ_CUBIC, RZ_HALF, 0, 1, -0.5f, 2, 3, 7, 9, 0.8f, 2, 0, 0},
    {TSR_OP_RESIZE, RZ_CUBIC, RZ_ALIGN, 0, 0, -0.75f, 1, 2, 4, 4, 0, 0, 8, 8},
    /* width only, height only; a large one (threaded GEMMs) */
    {TSR_OP_RESIZE, RZ_LINEAR, RZ_HALF, 0, 0, -0.75f, 2, 3, 7, 9, 1, 3, 0, 0},
    {TSR_OP_RESIZE, RZ_NEAREST, RZ_ASYM, 2, 0, -0.75f, 2, 3, 7, 9, 2, 1, 0, 0},
    {TSR_OP_RESIZE, RZ_LINEAR, RZ_HALF, 0, 0, -0.75f, 2, 64, 32, 32, 2, 2, 0, 0},
    /* Upsample-9 (asymmetric, nearest floor) */
    {TSR_OP_UPSAMPLE, RZ_NEAREST, 0, 0, 0, -0.75f, 2, 3, 4, 5, 2, 3, 0, 0},
    {TSR_OP_UPSAMPLE, RZ_LINEAR, 0, 0, 0, -0.75f, 2, 3, 4, 5, 2, 2, 0, 0},
    /* an empty output (sizes 0) */
    {TSR_OP_RESIZE, RZ_LINEAR, RZ_HALF, 0, 0, -0.75f, 2, 3, 4, 5, 0, 0, 0, 7},
    {TSR_OP_RESIZE, RZ_LINEAR, RZ_HALF, 0, 0, -0.75f, 2, 3, 4, 5, 0, 0, 3, 0},
};

static void build_resize(struct kh_builder *b) {
    const struct resize *z = &resize_rows[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.resize_mode = z->mode;
    at.resize_nearest = z->nearest;
    at.exclude_outside = z->exclude;
    at.cubic_coeff_a = z->cubic_a;
    at.resize_coord = z->op == TSR_OP_UPSAMPLE ? RZ_ASYM : z->coord;
    if (z->op == TSR_OP_UPSAMPLE) at.resize_nearest = 2;
    tsr_value in[2];
    in[0] = kh_input(b, 4, D(z->N, z->C, z->H, z->W), -1, 1);
    if (z->sh > 0) {
        const float sc[4] = {1, 1, z->sh, z->sw};
        struct tsr_tensor_desc d = {TSR_F32, 1, {4}};
        ck_assert_int_eq(tsr_graph_constant(b->g, NULL, &d, sc, &in[1]), TSR_OK);
    } else {
        const int64_t sz[4] = {z->N, z->C, z->oh, z->ow};
        struct tsr_tensor_desc d = {TSR_I64, 1, {4}};
        ck_assert_int_eq(tsr_graph_constant(b->g, NULL, &d, sz, &in[1]), TSR_OK);
    }
    kh_output(b, kh_op(b, z->op, &at, 2, in));
    /* an empty output is a copy of nothing */
    const int empty = z->sh <= 0 && (z->oh == 0 || z->ow == 0);
    snprintf(b->kernel, sizeof b->kernel, "%s", empty ? "copy" : "resize_");
    kh_label(b, " %s mode %d coord %d [%lld,%lld,%lld,%lld]", tsr_op_name(z->op), z->mode,
             at.resize_coord, (long long)z->N, (long long)z->C, (long long)z->H, (long long)z->W);
}

/* Resize-11 as torch.onnx exports it: an empty roi constant then the scales (variant 0); a
 * full roi (ignored but for tf_crop_and_resize), then the sizes (variant 1). */
static void build_resize_roi(struct kh_builder *b) {
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.resize_mode = 1;
    at.resize_coord = RZ_PYTORCH;
    tsr_value in[3];
    in[0] = kh_input(b, 4, D(2, 3, 5, 6), -1, 1);
    const float roi[8] = {0, 0, 0, 0, 1, 1, 1, 1}, sc[4] = {1, 1, 2, 2};
    const int64_t sz[4] = {2, 3, 9, 4};
    struct tsr_tensor_desc rd = {TSR_F32, 1, {b->variant ? 8 : 0}}, sd = {TSR_F32, 1, {4}},
                           zd = {TSR_I64, 1, {4}};
    ck_assert_int_eq(tsr_graph_constant(b->g, NULL, &rd, roi, &in[1]), TSR_OK);
    if (b->variant)
        ck_assert_int_eq(tsr_graph_constant(b->g, NULL, &zd, sz, &in[2]), TSR_OK);
    else
        ck_assert_int_eq(tsr_graph_constant(b->g, NULL, &sd, sc, &in[2]), TSR_OK);
    kh_output(b, kh_op(b, TSR_OP_RESIZE, &at, 3, in));
    snprintf(b->kernel, sizeof b->kernel, "resize_");
    kh_label(b, " %s", b->variant ? "roi + sizes" : "empty roi + scales");
}

/* DepthToSpace (DCR, CRD) / SpaceToDepth: op mode blocksize [N, C, H, W] */
struct depth_space {
    tsr_op op;
    int crd;
    int64_t b, N, C, H, W;
};
static const struct depth_space depth_space_rows[] = {
    {TSR_OP_DEPTHTOSPACE, 0, 2, 2, 8, 3, 5},    {TSR_OP_DEPTHTOSPACE, 1, 2, 2, 8, 3, 5},
    {TSR_OP_DEPTHTOSPACE, 0, 3, 1, 18, 4, 4},   {TSR_OP_DEPTHTOSPACE, 1, 3, 1, 9, 7, 2},
    {TSR_OP_SPACETODEPTH, 0, 2, 2, 3, 6, 8},    {TSR_OP_SPACETODEPTH, 0, 3, 1, 2, 9, 6},
    {TSR_OP_DEPTHTOSPACE, 0, 2, 4, 64, 32, 32}, /* large (threaded copy) */
};

static void build_depth_space(struct kh_builder *b) {
    const struct depth_space *z = &depth_space_rows[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.blocksize = z->b;
    at.depth_crd = z->crd;
    tsr_value x = kh_input(b, 4, D(z->N, z->C, z->H, z->W), -1, 1);
    kh_output(b, kh_op(b, z->op, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "%s",
             z->op == TSR_OP_DEPTHTOSPACE ? "depth_to_space" : "space_to_depth");
    kh_label(b, " %s%s b %lld", tsr_op_name(z->op), z->crd ? " CRD" : "", (long long)z->b);
}

/* Tile: rank, dims, repeats */
struct tile {
    int rank;
    int64_t dims[4], rep[4];
};
static const struct tile tile_rows[] = {
    {2, {3, 5}, {2, 3}},
    {1, {7}, {4}},
    {3, {2, 3, 4}, {1, 2, 1}},
    {4, {2, 1, 3, 5}, {2, 3, 1, 2}},
    {4, {1, 8, 1, 1}, {2, 1, 16, 16}}, /* a [C,1,1] bias map */
    {2, {300, 40}, {3, 5}},            /* large */
    {2, {3, 5}, {0, 2}},               /* empty output */
};

static void build_tile(struct kh_builder *b) {
    const struct tile *t = &tile_rows[b->variant];
    tsr_value in[2];
    in[0] = kh_input(b, t->rank, t->dims, -1, 1);
    struct tsr_tensor_desc d = {TSR_I64, 1, {t->rank}};
    ck_assert_int_eq(tsr_graph_constant(b->g, NULL, &d, t->rep, &in[1]), TSR_OK);
    kh_output(b, kh_op(b, TSR_OP_TILE, NULL, 2, in));
    snprintf(b->kernel, sizeof b->kernel, "tile");
    kh_label(b, " rank %d", t->rank);
}

/* ---- reductions, softmax ----------------------------------------------------------------- */

/* [outer, len, inner] reduced over axis 1 (keepdims alternating). */
static const int64_t reduce_shapes[][3] = {
    {3, 7, 1},   {2, 5, 33}, {1, 1000, 1}, {5, 1, 17}, {70, 1030, 1}, {3, 200, 250},
    {1, 37, 1},  {3, 7, 5},  {4, 9, 1},    {2, 11, 3}, {3, 1000, 1},  {2, 777, 3},
    {5, 300, 2}, {4, 0, 3},  {2, 0, 3}, /* empty: sum 0, mean NaN, max -inf */
};

static void build_reduce(struct kh_builder *b) {
    const tsr_op *op = b->arg;
    const int64_t *s = reduce_shapes[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.n_axes = 1;
    at.axes[0] = 1;
    at.keepdims = b->variant % 2;
    tsr_value x = kh_input(b, 3, s, -3, 3);
    kh_output(b, kh_op(b, *op, &at, 1, &x));
    if (s[1] > 1) snprintf(b->kernel, sizeof b->kernel, "reduce_"); /* len 0, 1: no reduction */
    kh_label(b, " [%lld,%lld,%lld] keepdims %d", (long long)s[0], (long long)s[1], (long long)s[2],
             at.keepdims);
}
static const tsr_op op_sum = TSR_OP_REDUCESUM, op_mean = TSR_OP_REDUCEMEAN,
                    op_max = TSR_OP_REDUCEMAX;

/* Softmax over axis 1 of [outer, L, inner]; inputs in [-30, 30) or [-100, 100) (exp(100)
 * overflows f32: the max shift is needed). */
static const int64_t softmax_shapes[][4] = {
    {5, 1000, 1, 30}, {3, 1, 1, 30},     {4, 17, 1, 30}, {3, 7, 300, 30},
    {2, 5, 3, 30},    {70, 1030, 1, 30}, {3, 7, 1, 100}, {2, 5, 4, 100},
};

static void build_softmax(struct kh_builder *b) {
    const int64_t *s = softmax_shapes[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.axis = 1;
    tsr_value x = kh_input(b, 3, s, -(float)s[3], (float)s[3]);
    kh_output(b, kh_op(b, TSR_OP_SOFTMAX, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "softmax");
    kh_label(b, " [%lld,%lld,%lld]", (long long)s[0], (long long)s[1], (long long)s[2]);
}

/* ---- data movement ----------------------------------------------------------------------- */

struct transpose {
    int rank;
    int64_t dims[4];
    int64_t perm[4];
};

static const struct transpose transpose_rows[] = {
    {2, {70, 45}, {1, 0}},           {2, {300, 333}, {1, 0}}, /* parallel */
    {3, {5, 33, 40}, {2, 0, 1}},     {4, {2, 3, 17, 35}, {0, 2, 3, 1}},
    {4, {2, 3, 4, 5}, {1, 0, 2, 3}}, {1, {100}, {0}},
    {3, {2, 3, 4}, {2, 0, 1}},       {4, {2, 3, 5, 4}, {0, 2, 3, 1}}, /* NCHW -> NHWC */
};

static void build_transpose(struct kh_builder *b) {
    const struct transpose *t = &transpose_rows[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.n_perm = t->rank;
    memcpy(at.perm, t->perm, sizeof t->perm);
    tsr_value x = kh_input(b, t->rank, t->dims, -1, 1);
    kh_output(b, kh_op(b, TSR_OP_TRANSPOSE, &at, 1, &x));
    if (t->rank > 1) snprintf(b->kernel, sizeof b->kernel, "transpose"); /* rank 1: a copy */
    kh_label(b, " rank %d", t->rank);
}

/* Concat: three parts along the middle axis of [4, (2|5|1), 3]; two large parts [3000, 17|30]
 * (parallel); four parts along the columns of [3, (2|0|5|1)] with an empty one and a constant. */
static void build_concat(struct kh_builder *b) {
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.axis = 1;
    tsr_value p[4];
    int n = 0;
    if (b->variant == 0) {
        p[n++] = kh_input(b, 3, D(4, 2, 3), -1, 1);
        p[n++] = kh_input(b, 3, D(4, 5, 3), -1, 1);
        p[n++] = kh_input(b, 3, D(4, 1, 3), -1, 1);
    } else if (b->variant == 1) {
        p[n++] = kh_input(b, 2, D(3000, 17), -1, 1);
        p[n++] = kh_input(b, 2, D(3000, 30), -1, 1);
    } else {
        p[n++] = kh_input(b, 2, D(3, 2), -1, 1);
        p[n++] = kh_input(b, 2, D(3, 0), -1, 1);
        p[n++] = kh_const(b, 2, D(3, 5), -1, 1);
        p[n++] = kh_input(b, 2, D(3, 1), -1, 1);
    }
    kh_output(b, kh_op(b, TSR_OP_CONCAT, &at, n, p));
    snprintf(b->kernel, sizeof b->kernel, "concat");
}

/* ---- layer normalisation ----------------------------------------------------------------- */

/* LayerNormalization over the last axis of [outer, len]: rows with a large common offset (a
 * one-pass E[x^2] - E[x]^2 would cancel), scale and (alternately) bias constants. arg: the
 * offset and the scale range. */
struct layernorm {
    float offset, scale_lo, scale_hi;
};
static const int64_t layernorm_shapes[][2] = {{5, 37}, {3, 1},    {2, 1000}, {300, 256},
                                              {1, 16}, {3, 1000}, {5, 7},    {2, 256}};

static void build_layernorm(struct kh_builder *b) {
    const struct layernorm *l = b->arg;
    const int64_t *s = layernorm_shapes[b->variant / 2];
    const int bias = b->variant % 2;
    tsr_value in[3];
    in[0] = kh_input(b, 2, s, l->offset - 1.0f, l->offset + 1.0f);
    in[1] = kh_const(b, 1, &s[1], l->scale_lo, l->scale_hi);
    if (bias) in[2] = kh_const(b, 1, &s[1], -1, 1);
    kh_output(b, kh_op(b, TSR_OP_LAYERNORM, NULL, bias ? 3 : 2, in));
    snprintf(b->kernel, sizeof b->kernel, "layernorm");
    kh_label(b, " [%lld,%lld] bias %d", (long long)s[0], (long long)s[1], bias);
}
static const struct layernorm ln_1000 = {1000.0f, 0.5f, 1.5f}, ln_10 = {10.0f, -2.0f, 2.0f};

/* The decomposed form (as exported by older opsets): with fusion on, one layernorm kernel. */
static void build_layernorm_decomposed(struct kh_builder *b) {
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.n_axes = 1;
    at.axes[0] = -1;
    tsr_value x = kh_input(b, 2, D(6, 48), 9, 11);
    tsr_value mean = kh_op(b, TSR_OP_REDUCEMEAN, &at, 1, &x);
    tsr_value d = kh_op2(b, TSR_OP_SUB, x, mean);
    tsr_value var = kh_op2(b, TSR_OP_POW, d, kh_const(b, 0, NULL, 2, 2));
    var = kh_op(b, TSR_OP_REDUCEMEAN, &at, 1, &var);
    tsr_value eps = kh_const(b, 0, NULL, 1e-5f, 1e-5f);
    tsr_value den = kh_op1(b, TSR_OP_SQRT, kh_op2(b, TSR_OP_ADD, var, eps));
    tsr_value y = kh_op2(b, TSR_OP_DIV, d, den);
    y = kh_op2(b, TSR_OP_MUL, y, kh_const(b, 1, D(48), 0.5f, 1.5f));
    kh_output(b, kh_op2(b, TSR_OP_ADD, y, kh_const(b, 1, D(48), -1, 1)));
}

/* ---- float32 elementwise operators (group "ewops") ---------------------------------------- */

/* Special values, cycled: zeros, Round's ties, the ends of the float range, +-inf, NaN. */
static const float ewops_specials[] = {0.0f,   -0.0f, 0.5f,     -0.5f,     1.5f,    2.5f,
                                       -2.5f,  1.0f,  -1.0f,    3.0f,      -3.0f,   1e-40f,
                                       -1e-7f, 30.0f, -30.0f,   100.0f,    -100.0f, 1e30f,
                                       -1e30f, 3e38f, INFINITY, -INFINITY, NAN};
#define N_SPECIALS N_OF(ewops_specials)
static void gen_specials(float *x, size_t n, uint64_t seed) {
    (void)seed;
    for (size_t i = 0; i < n; i++)
        x[i] = ewops_specials[i % N_SPECIALS];
}
/* With gen_specials over N_SPECIALS^2 elements: every pair of special values. */
static void gen_specials_outer(float *x, size_t n, uint64_t seed) {
    (void)seed;
    for (size_t i = 0; i < n; i++)
        x[i] = ewops_specials[(i / N_SPECIALS) % N_SPECIALS];
}

struct ewu {
    tsr_op op;
    float lo, hi;
    const struct tsr_op_attrs *attrs; /* NULL: the ONNX defaults */
};

/* y = op(x) over [4099] and [3, 17] in [lo, hi), and [2 x 23] special values. */
static void build_ewops_unary(struct kh_builder *b) {
    const struct ewu *e = b->arg;
    tsr_value x = b->variant == 0   ? kh_input(b, 1, D(4099), e->lo, e->hi)
                  : b->variant == 1 ? kh_input(b, 2, D(3, 17), e->lo, e->hi)
                                    : kh_input_gen(b, 1, D(2 * N_SPECIALS), gen_specials);
    kh_output(b, kh_op(b, e->op, e->attrs, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "ew_");
}

static const struct tsr_op_attrs *ewops_attrs(int which) {
    static struct tsr_op_attrs a[4];
    static int init;
    if (!init) {
        for (int i = 0; i < 4; i++)
            a[i] = tsr_op_attrs_default();
        a[0].hardsigmoid_alpha = 0.3f, a[0].hardsigmoid_beta = 0.6f;
        a[1].elu_alpha = 0.5f;
        a[2].thresholded_alpha = 0.25f;
        a[3].shrink_bias = 0.75f, a[3].shrink_lambd = 1.5f;
        a[3].selu_alpha = 2.0f, a[3].selu_gamma = 0.75f;
        init = 1;
    }
    return &a[which];
}

static const struct ewu ewu_abs = {TSR_OP_ABS, -5, 5, NULL};
static const struct ewu ewu_sign = {TSR_OP_SIGN, -5, 5, NULL};
static const struct ewu ewu_reciprocal = {TSR_OP_RECIPROCAL, -5, 5, NULL};
static const struct ewu ewu_floor = {TSR_OP_FLOOR, -5, 5, NULL};
static const struct ewu ewu_ceil = {TSR_OP_CEIL, -5, 5, NULL};
static const struct ewu ewu_round = {TSR_OP_ROUND, -5, 5, NULL};
static const struct ewu ewu_softplus = {TSR_OP_SOFTPLUS, -20, 20, NULL};
static const struct ewu ewu_softsign = {TSR_OP_SOFTSIGN, -20, 20, NULL};
static const struct ewu ewu_hardsigmoid = {TSR_OP_HARDSIGMOID, -4, 4, NULL};
static const struct ewu ewu_hardswish = {TSR_OP_HARDSWISH, -5, 5, NULL};
static const struct ewu ewu_elu = {TSR_OP_ELU, -5, 5, NULL};
static const struct ewu ewu_selu = {TSR_OP_SELU, -5, 5, NULL};
static const struct ewu ewu_celu = {TSR_OP_CELU, -5, 5, NULL};
static const struct ewu ewu_thresholded = {TSR_OP_THRESHOLDEDRELU, -3, 3, NULL};
static const struct ewu ewu_shrink = {TSR_OP_SHRINK, -2, 2, NULL};
static const struct ewu ewu_mish = {TSR_OP_MISH, -20, 20, NULL};
static const struct ewu ewu_sin = {TSR_OP_SIN, -10, 10, NULL};
static const struct ewu ewu_cos = {TSR_OP_COS, -10, 10, NULL};
static const struct ewu ewu_tan = {TSR_OP_TAN, -10, 10, NULL};
static const struct ewu ewu_asin = {TSR_OP_ASIN, -1, 1, NULL};
static const struct ewu ewu_acos = {TSR_OP_ACOS, -1, 1, NULL};
static const struct ewu ewu_atan = {TSR_OP_ATAN, -10, 10, NULL};
static const struct ewu ewu_sinh = {TSR_OP_SINH, -10, 10, NULL};
static const struct ewu ewu_cosh = {TSR_OP_COSH, -10, 10, NULL};
static const struct ewu ewu_asinh = {TSR_OP_ASINH, -50, 50, NULL};
static const struct ewu ewu_acosh = {TSR_OP_ACOSH, 1, 50, NULL};
static const struct ewu ewu_atanh = {TSR_OP_ATANH, -1, 1, NULL};

/* Non-default attributes (set up by build_ewops_attr). */
static void build_ewops_attr(struct kh_builder *b) {
    static const tsr_op ops[] = {TSR_OP_HARDSIGMOID,     TSR_OP_ELU,    TSR_OP_CELU,
                                 TSR_OP_THRESHOLDEDRELU, TSR_OP_SHRINK, TSR_OP_SELU};
    static const int which[] = {0, 1, 1, 2, 3, 3};
    static struct ewu e[6];
    const int v = b->variant / 2;
    e[v] = (struct ewu){ops[v], -4, 4, ewops_attrs(which[v])};
    b->arg = &e[v];
    b->variant %= 2;
    build_ewops_unary(b);
    kh_label(b, " %s", tsr_op_name(ops[v]));
}

/* Min / Max / Sum / Mean over 1 .. 4 broadcast inputs ([3,1,5], [1,4,5], [5], [3,4,5]); Min and
 * Max also on every pair of special values (NaN propagates). */
static void build_variadic(struct kh_builder *b) {
    static const tsr_op ops[] = {TSR_OP_MIN, TSR_OP_MAX, TSR_OP_SUM, TSR_OP_MEAN};
    const tsr_op op = ops[b->variant / 5];
    const int k = b->variant % 5;
    tsr_value in[4];
    if (k == 4) {
        in[0] = kh_input_gen(b, 1, D(N_SPECIALS * N_SPECIALS), gen_specials);
        in[1] = kh_input_gen(b, 1, D(N_SPECIALS * N_SPECIALS), gen_specials_outer);
        kh_output(b, kh_op(b, op, NULL, 2, in));
        kh_label(b, " %s specials", tsr_op_name(op));
        return;
    }
    in[0] = kh_input(b, 3, D(3, 1, 5), -2, 2);
    in[1] = kh_input(b, 3, D(1, 4, 5), -2, 2);
    in[2] = kh_input(b, 1, D(5), -2, 2);
    in[3] = kh_input(b, 3, D(3, 4, 5), -2, 2);
    kh_output(b, kh_op(b, op, NULL, k + 1, in));
    kh_label(b, " %s of %d", tsr_op_name(op), k + 1);
    snprintf(b->kernel, sizeof b->kernel, "ew_");
}

/* Variadic ops inside a longer region: a register operand in the third place, a chain.
 * y = Min(Abs(Mean(Sum(x2, x3, x0 * x1), x0)), x2, x3). */
static void build_variadic_chain(struct kh_builder *b) {
    tsr_value x0 = kh_input(b, 2, D(4, 33), -2, 2), x1 = kh_input(b, 1, D(33), -2, 2);
    tsr_value x2 = kh_input(b, 2, D(4, 1), -2, 2), x3 = kh_input(b, 2, D(4, 33), -2, 2);
    tsr_value t = kh_op2(b, TSR_OP_MUL, x0, x1);
    tsr_value in[3] = {x2, x3, t};
    tsr_value s = kh_op(b, TSR_OP_SUM, NULL, 3, in);
    tsr_value m = kh_op2(b, TSR_OP_MEAN, s, x0);
    tsr_value in2[3] = {kh_op1(b, TSR_OP_ABS, m), x2, x3};
    kh_output(b, kh_op(b, TSR_OP_MIN, NULL, 3, in2));
    snprintf(b->kernel, sizeof b->kernel, "ew_mul_sum_mean_abs_min");
}

/* PRelu: X [2,3,4,5] with slopes [3,1,1] (per channel), [1], [5], [4,5], [2,3,4,5]. */
static void build_prelu(struct kh_builder *b) {
    static const int ranks[] = {3, 1, 1, 2, 4};
    static const int64_t dims[][4] = {{3, 1, 1}, {1}, {5}, {4, 5}, {2, 3, 4, 5}};
    tsr_value x = kh_input(b, 4, D(2, 3, 4, 5), -2, 2);
    tsr_value sl = kh_const(b, ranks[b->variant], dims[b->variant], -1, 1);
    kh_output(b, kh_op2(b, TSR_OP_PRELU, x, sl));
    kh_label(b, " slope rank %d", ranks[b->variant]);
}

/* Mod fmod=1: mixed signs, broadcast ([3,1,5] % [4,5]); every pair of special values. */
static void gen_mod_divisor(float *x, size_t n, uint64_t seed) {
    ts_fill_uniform(x, n, seed, 0.3f, 3.0f);
    for (size_t i = 0; i < n; i += 2)
        x[i] = -x[i];
}
static void build_mod(struct kh_builder *b) {
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.mod_fmod = 1;
    tsr_value in[2];
    if (b->variant == 0) {
        in[0] = kh_input(b, 3, D(3, 1, 5), -10, 10);
        in[1] = kh_input_gen(b, 2, D(4, 5), gen_mod_divisor);
    } else {
        in[0] = kh_input_gen(b, 1, D(N_SPECIALS * N_SPECIALS), gen_specials);
        in[1] = kh_input_gen(b, 1, D(N_SPECIALS * N_SPECIALS), gen_specials_outer);
    }
    kh_output(b, kh_op(b, TSR_OP_MOD, &a, 2, in));
}

/* ---- reductions (group "reduce") ----------------------------------------------------------- */

/* The other Reduce* ops: every shape of reduce_shapes over axis 1, then chained runs (axes
 * {0, 2} and {1, 3} of [4, 3, 5, 6]), every axis (no axes), size-1 reduced dims ([3, 1, 4] over
 * axis 1: one kernel of len 1, or a copy), noop_with_empty_axes, negative axes, and NaN / inf
 * inputs (max and min propagate NaN). */
struct red {
    tsr_op op;
    float lo, hi;
};
#define RED_EXTRA 7
static void gen_red_specials(float *x, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++)
        x[i] = 0.25f + (float)((i * 7 + seed) % 11) * 0.1f;
    x[n / 3] = NAN;
    x[n / 2] = INFINITY;
    x[n - 1] = -INFINITY;
}
static void build_reduce_group(struct kh_builder *b) {
    const struct red *r = b->arg;
    struct tsr_op_attrs at = tsr_op_attrs_default();
    const int nv = N_OF(reduce_shapes);
    if (b->variant < nv) {
        const int64_t *s = reduce_shapes[b->variant];
        at.n_axes = 1;
        at.axes[0] = 1;
        at.keepdims = b->variant % 2;
        tsr_value x = kh_input(b, 3, s, r->lo, r->hi);
        kh_output(b, kh_op(b, r->op, &at, 1, &x));
        if (s[1] > 1) snprintf(b->kernel, sizeof b->kernel, "reduce_");
        kh_label(b, " [%lld,%lld,%lld] keepdims %d", (long long)s[0], (long long)s[1],
                 (long long)s[2], at.keepdims);
        return;
    }
    const int v = b->variant - nv;
    tsr_value x;
    switch (v) {
    case 0: /* two runs */
    case 1:
        at.n_axes = 2;
        at.axes[0] = v == 0 ? 0 : 1;
        at.axes[1] = v == 0 ? 2 : -1;
        at.keepdims = v;
        x = kh_input(b, 4, D(4, 3, 5, 6), r->lo, r->hi);
        kh_label(b, " [4,3,5,6] axes {%lld,%lld}", (long long)at.axes[0], (long long)at.axes[1]);
        break;
    case 2: /* every axis */
        at.keepdims = 0;
        x = kh_input(b, 3, D(3, 4, 5), r->lo, r->hi);
        kh_label(b, " [3,4,5] all axes");
        break;
    case 3: /* size-1 reduced dim */
        at.n_axes = 1;
        at.axes[0] = 1;
        x = kh_input(b, 3, D(3, 1, 4), r->lo, r->hi);
        kh_label(b, " [3,1,4] axis 1 (size 1)");
        break;
    case 4: /* noop_with_empty_axes */
        at.noop_with_empty_axes = 1;
        x = kh_input(b, 2, D(3, 4), r->lo, r->hi);
        kh_label(b, " noop_with_empty_axes");
        break;
    case 5: /* NaN / inf in rows (inner 1) */
        at.n_axes = 1;
        at.axes[0] = -1;
        x = kh_input_gen(b, 2, D(3, 300), gen_red_specials);
        kh_label(b, " [3,300] specials");
        break;
    default: /* NaN / inf in columns (inner > 1) */
        at.n_axes = 1;
        at.axes[0] = 0;
        x = kh_input_gen(b, 2, D(7, 5), gen_red_specials);
        kh_label(b, " [7,5] axis 0 specials");
        break;
    }
    kh_output(b, kh_op(b, r->op, &at, 1, &x));
}
static const struct red red_min = {TSR_OP_REDUCEMIN, -3, 3}, red_max = {TSR_OP_REDUCEMAX, -3, 3},
                        red_prod = {TSR_OP_REDUCEPROD, 0.5f, 1.5f},
                        red_sumsq = {TSR_OP_REDUCESUMSQUARE, -3, 3},
                        red_l1 = {TSR_OP_REDUCEL1, -3, 3}, red_l2 = {TSR_OP_REDUCEL2, -3, 3},
                        red_logsum = {TSR_OP_REDUCELOGSUM, 0.1f, 3},
                        red_lse = {TSR_OP_REDUCELOGSUMEXP, -30, 30},
                        red_sum = {TSR_OP_REDUCESUM, -3, 3}, red_mean = {TSR_OP_REDUCEMEAN, -3, 3};

/* LogSoftmax / Hardmax over axis 1 of the softmax shapes; then the opset < 13 2-D coercion (axis
 * 1 of [2, 3, 4, 5] flattened to [2, 60]), a negative axis, and Hardmax ties (the first maximum).
 */
static void gen_ties(float *x, size_t n, uint64_t seed) {
    (void)seed;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((i * 5) % 3);
}
static void build_softmax_variant(struct kh_builder *b) {
    const tsr_op *op = b->arg;
    struct tsr_op_attrs at = tsr_op_attrs_default();
    const int nv = N_OF(softmax_shapes);
    tsr_value x;
    if (b->variant < nv) {
        const int64_t *s = softmax_shapes[b->variant];
        at.axis = 1;
        x = kh_input(b, 3, s, -(float)s[3], (float)s[3]);
        snprintf(b->kernel, sizeof b->kernel, *op == TSR_OP_HARDMAX ? "hardmax" : "log_softmax");
        kh_label(b, " [%lld,%lld,%lld]", (long long)s[0], (long long)s[1], (long long)s[2]);
    } else if (b->variant == nv) {
        at.axis = 1;
        at.softmax_2d = 1;
        x = kh_input(b, 4, D(2, 3, 4, 5), -10, 10);
        kh_label(b, " [2,3,4,5] 2-D at axis 1");
    } else if (b->variant == nv + 1) {
        at.axis = -2;
        x = kh_input(b, 3, D(3, 6, 5), -10, 10);
        kh_label(b, " [3,6,5] axis -2");
    } else {
        at.axis = b->variant == nv + 2 ? 1 : -1;
        x = kh_input_gen(b, 3, D(2, 6, 7), gen_ties);
        kh_label(b, " [2,6,7] ties axis %lld", (long long)at.axis);
    }
    kh_output(b, kh_op(b, *op, &at, 1, &x));
}
static const tsr_op op_log_softmax = TSR_OP_LOGSOFTMAX, op_hardmax = TSR_OP_HARDMAX;

/* ArgMax / ArgMin (int64 indices, compared exactly): axis 1 of the reduce shapes (len >= 1),
 * then ties (first and last index), axis 0 and a negative axis. */
static void build_arg(struct kh_builder *b) {
    const tsr_op *op = b->arg;
    struct tsr_op_attrs at = tsr_op_attrs_default();
    static const int64_t shapes[][3] = {{3, 7, 1},  {2, 5, 33},    {1, 1000, 1},
                                        {5, 1, 17}, {3, 200, 250}, {2, 777, 3}};
    const int nv = N_OF(shapes);
    tsr_value x;
    if (b->variant < 2 * nv) {
        const int64_t *s = shapes[b->variant / 2];
        at.axis = 1;
        at.keepdims = b->variant % 2;
        x = kh_input(b, 3, s, -3, 3);
        snprintf(b->kernel, sizeof b->kernel, *op == TSR_OP_ARGMIN ? "argmin" : "argmax");
        kh_label(b, " [%lld,%lld,%lld] keepdims %d", (long long)s[0], (long long)s[1],
                 (long long)s[2], at.keepdims);
    } else {
        const int v = b->variant - 2 * nv;
        at.select_last_index = v % 2;
        at.axis = v < 2 ? 1 : (v < 4 ? 0 : -1);
        x = kh_input_gen(b, 3, D(4, 6, 5), gen_ties);
        kh_label(b, " [4,6,5] ties axis %lld select_last_index %d", (long long)at.axis,
                 at.select_last_index);
    }
    kh_output(b, kh_op(b, *op, &at, 1, &x));
}
static const tsr_op op_argmax = TSR_OP_ARGMAX, op_argmin = TSR_OP_ARGMIN;

/* Dropout at inference: a view (no kernel) between two elementwise ops; variant 1 with
 * training_mode false given. */
static void build_dropout(struct kh_builder *b) {
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.n_dropout_training = b->variant;
    tsr_value x = kh_op1(b, TSR_OP_NEG, kh_input(b, 2, D(5, 33), -2, 2));
    kh_output(b, kh_op1(b, TSR_OP_RELU, kh_op(b, TSR_OP_DROPOUT, &at, 1, &x)));
}

/* InstanceNormalization: [N, C, spatial...] rows of 35, 1000, 1 (variance 0) and 256 elements,
 * scale and bias constants [C]. */
static void build_instancenorm(struct kh_builder *b) {
    static const int64_t shapes[][4] = {
        {2, 3, 5, 7}, {1, 4, 1000, 1}, {3, 2, 1, 1}, {2, 64, 16, 16}};
    const int64_t *s = shapes[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.epsilon = b->variant == 2 ? 1e-2f : 1e-5f;
    tsr_value in[3];
    in[0] = kh_input(b, 4, s, -2, 5);
    in[1] = kh_const(b, 1, &s[1], -1.5f, 1.5f);
    in[2] = kh_const(b, 1, &s[1], -1.5f, 1.5f);
    kh_output(b, kh_op(b, TSR_OP_INSTANCENORM, &at, 3, in));
    snprintf(b->kernel, sizeof b->kernel, "instancenorm");
    kh_label(b, " [%lld,%lld,%lld,%lld]", (long long)s[0], (long long)s[1], (long long)s[2],
             (long long)s[3]);
}

/* CumSum over axis 1 of [outer, len, inner] (inner 1 and > 1, long axis), every
 * exclusive / reverse combination, and a negative axis. */
static void build_cumsum(struct kh_builder *b) {
    static const int64_t shapes[][3] = {
        {3, 7, 1}, {2, 5, 33}, {1, 1000, 1}, {4, 1, 3}, {2, 300, 5}};
    const int64_t *s = shapes[(b->variant / 4) % N_OF(shapes)];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.n_cumsum_axis = 1;
    at.cumsum_axis[0] = b->variant >= 4 * (int)N_OF(shapes) ? -2 : 1;
    at.cumsum_exclusive = b->variant % 2;
    at.cumsum_reverse = (b->variant / 2) % 2;
    tsr_value x = kh_input(b, 3, s, -1, 1);
    kh_output(b, kh_op(b, TSR_OP_CUMSUM, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "cumsum");
    kh_label(b, " [%lld,%lld,%lld] axis %lld exclusive %d reverse %d", (long long)s[0],
             (long long)s[1], (long long)s[2], (long long)at.cumsum_axis[0], at.cumsum_exclusive,
             at.cumsum_reverse);
}

/* zoo2: CumSum on int64 (v < 8) and int32 (v >= 8) over axis 1 of [outer, len, inner], every
 * exclusive / reverse combination, inner 1 and > 1; int32 values near 2^31 in the long axis so
 * that the sums wrap (exact, as ONNX Runtime's int32 adds). */
static void build_cumsum_int(struct kh_builder *b) {
    static const int64_t shapes[][3] = {{3, 7, 1}, {2, 300, 5}};
    const int64_t *s = shapes[(b->variant / 4) % 2];
    const tsr_dtype dt = b->variant >= 8 ? TSR_I32 : TSR_I64;
    const float mag = dt == TSR_I32 && s[1] > 100 ? 2.0e9f : 1.0e6f;
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.n_cumsum_axis = 1;
    at.cumsum_axis[0] = 1;
    at.cumsum_exclusive = b->variant % 2;
    at.cumsum_reverse = (b->variant / 2) % 2;
    tsr_value x = kh_input_dt(b, dt, 3, s, -mag, mag);
    kh_output(b, kh_op(b, TSR_OP_CUMSUM, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "cumsum");
    kh_label(b, " %s [%lld,%lld,%lld] exclusive %d reverse %d", tsr_dtype_name(dt), (long long)s[0],
             (long long)s[1], (long long)s[2], at.cumsum_exclusive, at.cumsum_reverse);
}

/* GroupNormalization: [N, C, H, W] with num_groups G; scale / bias per channel (opset 21) in
 * the even variants, per group (opset 18) in the odd ones; G = C and G = 1 included. */
static void build_groupnorm(struct kh_builder *b) {
    static const int64_t shapes[][5] = {
        {2, 6, 5, 7, 3}, {1, 8, 30, 30, 2}, {2, 4, 3, 1, 4}, {3, 6, 4, 4, 1}};
    const int64_t *s = shapes[b->variant / 2];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.num_groups = s[4];
    const int64_t np = b->variant % 2 ? s[4] : s[1];
    tsr_value in[3];
    in[0] = kh_input(b, 4, s, -2, 5);
    in[1] = kh_const(b, 1, &np, -1.5f, 1.5f);
    in[2] = kh_const(b, 1, &np, -1.5f, 1.5f);
    kh_output(b, kh_op(b, TSR_OP_GROUPNORM, &at, 3, in));
    snprintf(b->kernel, sizeof b->kernel, "groupnorm");
    kh_label(b, " [%lld,%lld,%lld,%lld] groups %lld, scale [%lld]", (long long)s[0],
             (long long)s[1], (long long)s[2], (long long)s[3], (long long)s[4], (long long)np);
}

/* ---- group "dtcompute": elementwise regions in their dtype ------------------------------- */

/* Variant v of the dtype cases: op v % EWT_OPS on dtype dts[v / EWT_OPS]. Integers cover the
 * wrap of every instruction (int8 / uint8 products, a fused Mul -> Sub -> Relu chain), division
 * by zero (0), both Mod signs; floats the same graphs with Mod fmod=1. */
enum { EWT_OPS = 16 };
static void build_ew_typed(struct kh_builder *b) {
    const tsr_dtype *dts = b->arg;
    const tsr_dtype dt = dts[b->variant / EWT_OPS];
    const int op = b->variant % EWT_OPS, flt = dt == TSR_F64 || dt == TSR_F16;
    const float lo = dt == TSR_U8 ? 0.0f : -100.0f, hi = 100.0f;
    tsr_value x = kh_input_dt(b, dt, 3, D(2, 3, 7), lo, hi);
    tsr_value y = kh_input_dt(b, dt, 2, D(3, 1), flt ? 1.0f : lo, hi);
    struct tsr_op_attrs a = tsr_op_attrs_default();
    static const char *names[EWT_OPS] = {
        "add",  "sub",  "mul", "div", "mod fmod=0", "mod fmod=1", "pow",  "min3",
        "max3", "sum3", "abs", "neg", "sign",       "relu",       "clip", "mul-sub-relu chain"};
    kh_label(b, " %s %s", tsr_dtype_name(dt), names[op]);
    tsr_value in3[3] = {x, y, x}, v;
    switch (op) {
    case 0:
        v = kh_op2(b, TSR_OP_ADD, x, y);
        break;
    case 1:
        v = kh_op2(b, TSR_OP_SUB, x, y);
        break;
    case 2:
        v = kh_op2(b, TSR_OP_MUL, x, y);
        break;
    case 3:
        v = kh_op2(b, TSR_OP_DIV, x, y);
        break;
    case 4:
    case 5:
        a.mod_fmod = op == 5 || flt;
        in3[1] = y;
        v = kh_op(b, TSR_OP_MOD, &a, 2, in3);
        break;
    case 6: /* small exponents: exact in every dtype */
        in3[1] = kh_input_dt(b, dt, 2, D(3, 1), 0.0f, 4.0f);
        in3[0] = flt ? x : kh_input_dt(b, dt, 3, D(2, 3, 7), dt == TSR_U8 ? 0.0f : -9.0f, 9.0f);
        v = kh_op(b, TSR_OP_POW, NULL, 2, in3);
        break;
    case 7:
        v = kh_op(b, TSR_OP_MIN, NULL, 3, in3);
        break;
    case 8:
        v = kh_op(b, TSR_OP_MAX, NULL, 3, in3);
        break;
    case 9:
        v = kh_op(b, TSR_OP_SUM, NULL, 3, in3);
        break;
    case 10:
        v = kh_op1(b, TSR_OP_ABS, x);
        break;
    case 11:
        v = kh_op1(b, TSR_OP_NEG, x);
        break;
    case 12:
        v = kh_op1(b, TSR_OP_SIGN, x);
        break;
    case 13:
        v = kh_op1(b, TSR_OP_RELU, x);
        break;
    case 14:
        a.clip_min = -5.0f;
        a.clip_max = 7.0f;
        v = kh_op(b, TSR_OP_CLIP, &a, 1, &x);
        break;
    default:
        v = kh_op1(b, TSR_OP_RELU, kh_op2(b, TSR_OP_SUB, kh_op2(b, TSR_OP_MUL, x, y), x));
        break;
    }
    kh_output(b, v);
}
static const tsr_dtype ewt_int_dtypes[] = {TSR_I64, TSR_I32, TSR_I8, TSR_U8,
                                           TSR_I16, TSR_U16, TSR_U32};
static const tsr_dtype ewt_f64_dtypes[] = {TSR_F64};
static const tsr_dtype ewt_f16_dtypes[] = {TSR_F16};
/* Float16 Mean (the only float-only op of the list): mean of three inputs. */
static void build_mean_f16(struct kh_builder *b) {
    tsr_value in[3] = {kh_input_dt(b, TSR_F16, 2, D(4, 9), -2, 2),
                       kh_input_dt(b, TSR_F16, 1, D(9), -2, 2),
                       kh_input_dt(b, TSR_F16, 2, D(4, 1), -2, 2)};
    kh_output(b, kh_op(b, TSR_OP_MEAN, NULL, 3, in));
}
/* Pow(float X, integer Y): Y cast to X's dtype before the region (lowering); float32 and float64
 * bases, int64 and int32 exponents (negative ones too). */
static void build_pow_mixed(struct kh_builder *b) {
    const tsr_dtype xt = b->variant / 2 ? TSR_F64 : TSR_F32,
                    yt = b->variant % 2 ? TSR_I32 : TSR_I64;
    tsr_value in[2] = {kh_input_dt(b, xt, 2, D(4, 6), -3, 3), kh_input_dt(b, yt, 1, D(6), -3, 5)};
    kh_label(b, " %s ^ %s", tsr_dtype_name(xt), tsr_dtype_name(yt));
    kh_output(b, kh_op(b, TSR_OP_POW, NULL, 2, in));
}
/* Bitwise And / Or / Xor / Not on int64, int32, int8, uint8 (broadcast), BitShift left / right
 * on uint8 with shift amounts 0 .. 9 (8 and 9 shift every bit out). */
static void build_bits(struct kh_builder *b) {
    static const tsr_dtype dts[4] = {TSR_I64, TSR_I32, TSR_I8, TSR_U8};
    static const tsr_op ops[4] = {TSR_OP_BITWISEAND, TSR_OP_BITWISEOR, TSR_OP_BITWISEXOR,
                                  TSR_OP_BITWISENOT};
    if (b->variant >= 16) {
        struct tsr_op_attrs a = tsr_op_attrs_default();
        a.bitshift_left = b->variant == 17;
        tsr_value in[2] = {kh_input_dt(b, TSR_U8, 2, D(3, 10), 0, 256),
                           kh_input_dt(b, TSR_U8, 1, D(10), 0, 10)};
        kh_label(b, " BitShift %s uint8", a.bitshift_left ? "LEFT" : "RIGHT");
        kh_output(b, kh_op(b, TSR_OP_BITSHIFT, &a, 2, in));
        return;
    }
    const tsr_dtype dt = dts[b->variant / 4];
    const tsr_op op = ops[b->variant % 4];
    const float lo = dt == TSR_U8 ? 0.0f : -128.0f, hi = dt == TSR_U8 ? 256.0f : 128.0f;
    tsr_value x = kh_input_dt(b, dt, 3, D(2, 3, 5), lo, hi);
    kh_label(b, " %s %s", tsr_op_name(op), tsr_dtype_name(dt));
    if (op == TSR_OP_BITWISENOT) {
        kh_output(b, kh_op1(b, op, x));
        return;
    }
    kh_output(b, kh_op2(b, op, x, kh_input_dt(b, dt, 2, D(3, 1), lo, hi)));
}
/* IsNaN / IsInf (both signs, positive only, negative only): float32 with NaN and infinities
 * of both signs among ordinary values; float64 and float16 ordinary values (all false). */
static void gen_isclass(float *x, size_t n, uint64_t seed) {
    static const float v[6] = {NAN, INFINITY, -INFINITY, 0.0f, -2.5f, 3e38f};
    for (size_t i = 0; i < n; i++)
        x[i] = v[(i * 7 + seed) % 6];
}
static void build_isclass(struct kh_builder *b) {
    static const tsr_dtype dts[3] = {TSR_F32, TSR_F64, TSR_F16};
    const tsr_dtype dt = dts[b->variant / 4];
    const int which = b->variant % 4;
    tsr_value x = dt == TSR_F32 ? kh_input_gen(b, 2, D(5, 6), gen_isclass)
                                : kh_input_dt(b, dt, 2, D(5, 6), -10, 10);
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.isinf_positive = which != 3;
    a.isinf_negative = which != 2;
    kh_label(b, " %s %s", tsr_dtype_name(dt),
             which == 0   ? "IsNaN"
             : which == 1 ? "IsInf"
             : which == 2 ? "IsInf +"
                          : "IsInf -");
    kh_output(b, kh_op(b, which ? TSR_OP_ISINF : TSR_OP_ISNAN, &a, 1, &x));
}
/* ---- end of group "dtcompute" (builders) -------------------------------------------------- */
/* ---- issue 9, group "index": indexing operators (exact: atol = rtol = 0) ----------------- */

/* CastLike: input 0 cast to the dtype of input 1 (a graph input whose data is not read), every
 * pair of four dtypes. */
static void build_castlike(struct kh_builder *b) {
    static const tsr_dtype dts[4] = {TSR_F32, TSR_I64, TSR_F16, TSR_BOOL};
    tsr_dtype from = dts[b->variant / 4], to = dts[b->variant % 4];
    tsr_value x = kh_input_dt(b, from, 2, D(3, 17), -300, 300);
    tsr_value like = kh_input_dt(b, to, 1, D(2), 0, 1);
    kh_label(b, " %s like %s", tsr_dtype_name(from), tsr_dtype_name(to));
    kh_output(b, kh_op2(b, TSR_OP_CASTLIKE, x, like));
}

/* Trilu: upper / lower, k in {0, 2, -1, 9 (past the edge)}, batched float32 / int64 / bool. */
static void build_trilu(struct kh_builder *b) {
    static const int64_t ks[4] = {0, 2, -1, 9};
    static const tsr_dtype dts[3] = {TSR_F32, TSR_I64, TSR_BOOL};
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.trilu_upper = b->variant % 2;
    a.n_trilu_k = 1;
    a.trilu_k[0] = ks[(b->variant / 2) % 4];
    tsr_dtype dt = dts[b->variant / 8];
    tsr_value x = kh_input_dt(b, dt, 3, D(2, 5, 7), -100, 100);
    kh_label(b, " %s upper %d k %lld", tsr_dtype_name(dt), a.trilu_upper, (long long)a.trilu_k[0]);
    kh_output(b, kh_op(b, TSR_OP_TRILU, &a, 1, &x));
}

/* EyeLike: [4, 6] with k in {0, 2, -3, 7}, the input's dtype and int32 / bool. */
static void build_eyelike(struct kh_builder *b) {
    static const int64_t ks[4] = {0, 2, -3, 7};
    static const int64_t dts[3] = {-1, TSR_I32, TSR_BOOL};
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.eye_k = ks[b->variant % 4];
    a.eye_dtype = dts[b->variant / 4];
    tsr_value x = kh_input(b, 2, D(4, 6), -1, 1);
    kh_label(b, " k %lld dtype %lld", (long long)a.eye_k, (long long)a.eye_dtype);
    kh_output(b, kh_op(b, TSR_OP_EYELIKE, &a, 1, &x));
}

/* GatherElements: axis 0 / 1 / -1, int64 and int32 indices (negative ones), indices smaller than
 * the data along the other axes, float32 / int64 / bool / float16 data. */
static void build_gather_elements(struct kh_builder *b) {
    static const tsr_dtype dts[4] = {TSR_F32, TSR_I64, TSR_BOOL, TSR_F16};
    static const int64_t axes[3] = {0, 1, -1};
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.axis = axes[b->variant % 3];
    tsr_dtype dt = dts[b->variant / 3 % 4], it = b->variant % 2 ? TSR_I32 : TSR_I64;
    const int64_t *xd = D(4, 5, 6), ax = a.axis < 0 ? 2 : a.axis;
    int64_t id[3] = {3, 4, 5};
    id[ax] = 7;
    tsr_value in[2];
    in[0] = kh_input_dt(b, dt, 3, xd, -100, 100);
    in[1] = kh_input_dt(b, it, 3, id, (float)-xd[ax], (float)xd[ax]);
    kh_label(b, " %s axis %lld by %s", tsr_dtype_name(dt), (long long)a.axis, tsr_dtype_name(it));
    kh_output(b, kh_op(b, TSR_OP_GATHERELEMENTS, &a, 2, in));
}

/* ScatterElements: every reduction on float32 / int64 / int32 (duplicates: in order), none on
 * bool and float16, axis 1 and -1. */
static void build_scatter_elements(struct kh_builder *b) {
    static const tsr_dtype dts[5] = {TSR_F32, TSR_I64, TSR_I32, TSR_BOOL, TSR_F16};
    struct tsr_op_attrs a = tsr_op_attrs_default();
    tsr_dtype dt = dts[b->variant / 5];
    a.scatter_reduction = dt == TSR_BOOL || dt == TSR_F16 ? 0 : b->variant % 5;
    a.axis = b->variant % 2 ? 1 : -1;
    const int64_t *xd = D(3, 6, 5), ax = a.axis < 0 ? 2 : 1;
    int64_t id[3] = {2, 4, 3};
    id[ax] = 8;
    tsr_value in[3];
    in[0] = kh_input_dt(b, dt, 3, xd, -10, 10);
    in[1] =
        kh_input_dt(b, b->variant % 3 ? TSR_I64 : TSR_I32, 3, id, (float)-xd[ax], (float)xd[ax]);
    in[2] = kh_input_dt(b, dt, 3, id, -10, 10);
    kh_label(b, " %s axis %lld reduction %d", tsr_dtype_name(dt), (long long)a.axis,
             a.scatter_reduction);
    kh_output(b, kh_op(b, TSR_OP_SCATTERELEMENTS, &a, 3, in));
}

/* GatherND: data [4, 5, 6] by tuples of 1, 2, 3 (negative values), batch_dims 0 and 1,
 * float32 and int64 data, int64 / int32 indices. */
static void build_gather_nd(struct kh_builder *b) {
    struct tsr_op_attrs a = tsr_op_attrs_default();
    const int q = 1 + b->variant % 3;
    a.batch_dims = b->variant / 3 % 2;
    if (a.batch_dims && q == 3) a.batch_dims = 0;
    tsr_dtype dt = b->variant / 6 ? TSR_I64 : TSR_F32;
    tsr_value in[2];
    in[0] = kh_input_dt(b, dt, 3, D(4, 5, 6), -100, 100);
    /* |index| < 4 fits every dim */
    in[1] = kh_input_dt(b, b->variant % 2 ? TSR_I32 : TSR_I64, 3, D(4, 3, q), -4, 4);
    kh_label(b, " %s q %d batch_dims %lld", tsr_dtype_name(dt), q, (long long)a.batch_dims);
    kh_output(b, kh_op(b, TSR_OP_GATHERND, &a, 2, in));
}

/* ScatterND: data [5, 4, 3] by 6 tuples of 1 or 2 (duplicates), every reduction on float32 and
 * int64. */
static void build_scatter_nd(struct kh_builder *b) {
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.scatter_reduction = b->variant % 5;
    const int q = 1 + b->variant / 5 % 2;
    tsr_dtype dt = b->variant / 10 ? TSR_I64 : TSR_F32;
    tsr_value in[3];
    in[0] = kh_input_dt(b, dt, 3, D(5, 4, 3), -10, 10);
    in[1] = kh_input_dt(b, TSR_I64, 2, D(6, q), -4, 4);
    in[2] = q == 1 ? kh_input_dt(b, dt, 3, D(6, 4, 3), -10, 10)
                   : kh_input_dt(b, dt, 2, D(6, 3), -10, 10);
    kh_label(b, " %s q %d reduction %d", tsr_dtype_name(dt), q, a.scatter_reduction);
    kh_output(b, kh_op(b, TSR_OP_SCATTERND, &a, 3, in));
}

/* CenterCropPad (shape as the constant input's attribute): crop, pad, both (odd differences),
 * listed and negative axes, float32 / int64 / bool. */
static void build_center_crop_pad(struct kh_builder *b) {
    static const int64_t shapes[4][3] = {{10, 7, 3}, {14, 4, 3}, {9, 12, 3}, {3, 5, 8}};
    static const tsr_dtype dts[3] = {TSR_F32, TSR_I64, TSR_BOOL};
    struct tsr_op_attrs a = tsr_op_attrs_default();
    const int64_t *t = shapes[b->variant % 4];
    if (b->variant % 4 == 3) { /* axes -2, -1 only */
        a.n_axes = 2;
        a.axes[0] = -2;
        a.axes[1] = -1;
        a.n_ccp_shape = 2;
        a.ccp_shape[0] = t[1];
        a.ccp_shape[1] = t[2];
    } else {
        a.n_ccp_shape = 3;
        memcpy(a.ccp_shape, t, 3 * sizeof *t);
    }
    tsr_dtype dt = dts[b->variant / 4];
    tsr_value x = kh_input_dt(b, dt, 3, D(11, 8, 3), -100, 100);
    kh_label(b, " %s to [%lld,%lld,%lld]", tsr_dtype_name(dt), (long long)t[0], (long long)t[1],
             (long long)t[2]);
    kh_output(b, kh_op(b, TSR_OP_CENTERCROPPAD, &a, 1, &x));
}

/* ReverseSequence: time axis 0 and 1, inner 1 and 3, float32 / int64 / bool; lengths in
 * [0, time] (0 and the full length included by the range). */
static void build_reverse_sequence(struct kh_builder *b) {
    static const tsr_dtype dts[3] = {TSR_F32, TSR_I64, TSR_BOOL};
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.rs_time_axis = b->variant % 2;
    a.rs_batch_axis = !a.rs_time_axis;
    const int inner3 = b->variant / 2 % 2;
    tsr_dtype dt = dts[b->variant / 4];
    const int64_t *xd = inner3 ? D(5, 6, 3) : D(5, 6);
    tsr_value in[2];
    in[0] = kh_input_dt(b, dt, inner3 ? 3 : 2, xd, -100, 100);
    in[1] = kh_input_dt(b, b->variant % 3 ? TSR_I64 : TSR_I32, 1, D(xd[a.rs_batch_axis]), 0,
                        (float)xd[a.rs_time_axis] + 1);
    kh_label(b, " %s time axis %lld inner %d", tsr_dtype_name(dt), (long long)a.rs_time_axis,
             inner3 ? 3 : 1);
    kh_output(b, kh_op(b, TSR_OP_REVERSESEQUENCE, &a, 2, in));
}

/* Compress with a constant condition: axis 0 / 1 / -1 / absent (flattened), a shorter
 * condition, none true, float32 and int64. */
static void build_compress(struct kh_builder *b) {
    static const uint8_t cond[8] = {1, 0, 1, 1, 0, 0, 1, 0};
    static const int64_t axes[4] = {0, 1, -1, TSR_AXIS_DEFAULT};
    static const int64_t lens[4] = {4, 3, 2, 8}; /* X [4, 5, 3]; axis 1: shorter than 5 */
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.axis = axes[b->variant % 4];
    const int none = b->variant / 4 == 2;
    uint8_t c[8];
    for (int i = 0; i < 8; i++)
        c[i] = none ? 0 : cond[i];
    tsr_dtype dt = b->variant / 4 == 1 ? TSR_I64 : TSR_F32;
    struct tsr_tensor_desc cd = {TSR_BOOL, 1, {lens[b->variant % 4]}};
    tsr_value in[2];
    in[0] = kh_input_dt(b, dt, 3, D(4, 5, 3), -100, 100);
    ck_assert_int_eq(tsr_graph_constant(b->g, "cond", &cd, c, &in[1]), TSR_OK);
    kh_label(b, " %s axis %lld%s", tsr_dtype_name(dt), (long long)a.axis, none ? " none" : "");
    kh_output(b, kh_op(b, TSR_OP_COMPRESS, &a, 2, in));
}

/* OneHot: depth 4 (a constant), indices in [-5, 5) (negative ones, some out of range: all off)
 * of int64 / int32 / float32 (truncated), values [off, on] a float32 or int64 input, axis 0 / 1
 * / -1. */
static void build_onehot(struct kh_builder *b) {
    static const tsr_dtype its[3] = {TSR_I64, TSR_I32, TSR_F32};
    static const int64_t axes[3] = {0, 1, -1};
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.axis = axes[b->variant % 3];
    tsr_dtype it = its[b->variant / 3 % 3], vt = b->variant / 9 ? TSR_I64 : TSR_F32;
    const int64_t depth = 4;
    struct tsr_tensor_desc dd = {TSR_I64, 0, {0}};
    tsr_value in[3];
    in[0] = kh_input_dt(b, it, 2, D(3, 5), -5, 5);
    ck_assert_int_eq(tsr_graph_constant(b->g, "depth", &dd, &depth, &in[1]), TSR_OK);
    in[2] = kh_input_dt(b, vt, 1, D(2), -50, 50);
    kh_label(b, " %s indices, %s values, axis %lld", tsr_dtype_name(it), tsr_dtype_name(vt),
             (long long)a.axis);
    kh_output(b, kh_op(b, TSR_OP_ONEHOT, &a, 3, in));
}

/* ---- the table --------------------------------------------------------------------------- */

/* ---- issue 9, group "tkern": kernels of any dtype (exact: atol = rtol = 0) --------------- */

/* Gather: the embedding lookup (constant weights, int64 ids with negative ones), other axes,
 * int32 indices, int64 / bool / float16 data, a large one on the pool. */
static void build_gather(struct kh_builder *b) {
    struct tsr_op_attrs a = tsr_op_attrs_default();
    tsr_value in[2];
    switch (b->variant) {
    case 0:
        in[0] = kh_const(b, 2, D(50, 33), -1, 1);
        in[1] = kh_input_dt(b, TSR_I64, 2, D(3, 7), -50, 50);
        kh_label(b, " embedding [50,33] by int64 [3,7]");
        snprintf(b->kernel, sizeof b->kernel, "gather");
        break;
    case 1:
        in[0] = kh_input(b, 3, D(4, 6, 5), -1, 1);
        in[1] = kh_input_dt(b, TSR_I32, 2, D(2, 3), -6, 6);
        a.axis = 1;
        kh_label(b, " [4,6,5] axis 1 by int32 [2,3]");
        break;
    case 2:
        in[0] = kh_input_dt(b, TSR_I64, 2, D(5, 4), -1000, 1000);
        in[1] = kh_input_dt(b, TSR_I64, 1, D(6), -4, 4);
        a.axis = -1;
        kh_label(b, " int64 [5,4] axis -1");
        break;
    case 3:
        in[0] = kh_input_dt(b, TSR_BOOL, 2, D(6, 3), 0, 1);
        in[1] = kh_input_dt(b, TSR_I64, 1, D(4), -6, 6);
        kh_label(b, " bool [6,3]");
        break;
    case 4:
        in[0] = kh_input_dt(b, TSR_F16, 3, D(2, 9, 5), -2, 2);
        in[1] = kh_input_dt(b, TSR_I32, 1, D(7), -9, 9);
        a.axis = 1;
        kh_label(b, " float16 [2,9,5] axis 1");
        break;
    default:
        in[0] = kh_const(b, 2, D(1000, 64), -1, 1);
        in[1] = kh_input_dt(b, TSR_I64, 2, D(8, 128), 0, 1000);
        kh_label(b, " embedding [1000,64] by [8,128] (pool)");
        break;
    }
    kh_output(b, kh_op(b, TSR_OP_GATHER, &a, 2, in));
}

struct slice_row {
    tsr_dtype dt;
    int rank;
    int64_t dims[4];
    int n;
    int64_t axes[3], starts[3], ends[3], steps[3];
};
static const struct slice_row slice_rows[] = {
    {TSR_F32, 3, {6, 7, 8}, 2, {0, 2}, {5, 1}, {0, 8}, {-2, 3}}, /* negative and > 1 steps */
    {TSR_I64, 2, {4, 10}, 1, {1}, {-1}, {-100}, {-1}},           /* reversed */
    {TSR_F16, 3, {3, 64, 16}, 1, {1}, {8}, {40}, {1}},           /* contiguous runs */
    {TSR_BOOL, 2, {5, 6}, 2, {0, 1}, {1, 0}, {4, 6}, {1, 2}},    /* bytes */
    {TSR_F32, 3, {4, 96, 768}, 1, {-1}, {256}, {512}, {1}},      /* qkv split part, pool */
    {TSR_I32, 4, {2, 3, 4, 5}, 3, {3, 1, 0}, {-2, 2, 0}, {0, -10, 2}, {-1, -1, 1}},
};

static void build_slice(struct kh_builder *b) {
    const struct slice_row *r = &slice_rows[b->variant];
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.n_starts = a.n_ends = a.n_slice_axes = a.n_steps = r->n;
    for (int i = 0; i < r->n; i++) {
        a.slice_axes[i] = r->axes[i];
        a.starts[i] = r->starts[i];
        a.ends[i] = r->ends[i];
        a.steps[i] = r->steps[i];
    }
    tsr_value x = kh_input_dt(b, r->dt, r->rank, r->dims, -100, 100);
    kh_label(b, " %s", tsr_dtype_name(r->dt));
    kh_output(b, kh_op(b, TSR_OP_SLICE, &a, 1, &x));
}

static const tsr_dtype all_dtypes[8] = {TSR_F32, TSR_F16, TSR_F64, TSR_I64,
                                        TSR_I32, TSR_I8,  TSR_U8,  TSR_BOOL};

/* Cast: every pair of the eight dtypes (same dtype: a copy); values in [-300, 300) with
 * fractions, so truncation, wrapping to 8 and 32 bits and bool are all exercised. */
static void build_cast(struct kh_builder *b) {
    tsr_dtype from = all_dtypes[b->variant / 8], to = all_dtypes[b->variant % 8];
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.cast_to = to;
    tsr_value x = kh_input_dt(b, from, 2, D(3, 67), -300, 300);
    kh_label(b, " %s -> %s", tsr_dtype_name(from), tsr_dtype_name(to));
    kh_output(b, kh_op(b, TSR_OP_CAST, &a, 1, &x));
}

/* Comparisons with broadcasting, on float32 (ordering), int64 and int32 (small integers: ties). */
static void build_compare(struct kh_builder *b) {
    static const tsr_op ops[5] = {TSR_OP_EQUAL, TSR_OP_LESS, TSR_OP_GREATER, TSR_OP_LESSOREQUAL,
                                  TSR_OP_GREATEROREQUAL};
    static const tsr_dtype dts[3] = {TSR_F32, TSR_I64, TSR_I32};
    tsr_op op = ops[b->variant % 5];
    tsr_dtype dt = dts[b->variant / 5];
    float lo = dt == TSR_F32 ? -1.0f : -3.0f, hi = -lo;
    tsr_value x = kh_input_dt(b, dt, 3, D(4, 1, 5), lo, hi);
    tsr_value y = kh_input_dt(b, dt, 2, D(3, 1), lo, hi);
    kh_label(b, " %s %s", tsr_op_name(op), tsr_dtype_name(dt));
    kh_output(b, kh_op2(b, op, x, y));
}

/* Not / And / Or / Xor on bool with broadcasting. */
static void build_logic(struct kh_builder *b) {
    static const tsr_op ops[4] = {TSR_OP_NOT, TSR_OP_AND, TSR_OP_OR, TSR_OP_XOR};
    tsr_op op = ops[b->variant];
    tsr_value x = kh_input_dt(b, TSR_BOOL, 3, D(3, 4, 5), 0, 1);
    kh_label(b, " %s", tsr_op_name(op));
    if (op == TSR_OP_NOT) {
        kh_output(b, kh_op1(b, op, x));
        return;
    }
    tsr_value y = kh_input_dt(b, TSR_BOOL, 2, D(4, 1), 0, 1);
    kh_output(b, kh_op2(b, op, x, y));
}

/* Where: every operand broadcast differently; float32, int64, float16; a large float32 one. */
static void build_where(struct kh_builder *b) {
    tsr_value in[3];
    switch (b->variant) {
    case 0:
        in[0] = kh_input_dt(b, TSR_BOOL, 4, D(1, 4, 1, 6), 0, 1);
        in[1] = kh_input(b, 4, D(2, 1, 3, 6), -1, 1);
        in[2] = kh_input(b, 1, D(6), -1, 1);
        kh_label(b, " float32 broadcast");
        break;
    case 1:
        in[0] = kh_input_dt(b, TSR_BOOL, 2, D(5, 1), 0, 1);
        in[1] = kh_input_dt(b, TSR_I64, 2, D(1, 7), -100, 100);
        in[2] = kh_input_dt(b, TSR_I64, 2, D(5, 7), -100, 100);
        kh_label(b, " int64");
        break;
    case 2:
        in[0] = kh_input_dt(b, TSR_BOOL, 1, D(9), 0, 1);
        in[1] = kh_input_dt(b, TSR_F16, 2, D(3, 9), -2, 2);
        in[2] = kh_input_dt(b, TSR_F16, 2, D(3, 1), -2, 2);
        kh_label(b, " float16");
        break;
    default: /* causal mask: scores [8, 12, 128, 128] by a [128, 128] mask (pool) */
        in[0] = kh_input_dt(b, TSR_BOOL, 2, D(128, 128), 0, 1);
        in[1] = kh_input(b, 4, D(2, 12, 128, 128), -1, 1);
        in[2] = kh_const(b, 0, D(0), -1e4f, -1e4f);
        kh_label(b, " causal mask [2,12,128,128]");
        break;
    }
    kh_output(b, kh_op(b, TSR_OP_WHERE, NULL, 3, in));
}

struct pad_row {
    tsr_dtype dt;
    int mode;
    int rank;
    int64_t dims[4];
    int n_pads;
    int64_t pads[8];
    float value;
};
static const struct pad_row pad_rows[] = {
    {TSR_F32, 0, 4, {2, 3, 5, 6}, 8, {0, 0, 1, 2, 0, 1, 2, 1}, 1.5f},
    {TSR_F32, 1, 4, {2, 3, 5, 6}, 8, {0, 0, 2, 3, 0, 0, 4, 5}, 0},
    {TSR_F32, 2, 4, {2, 3, 5, 6}, 8, {0, 1, 3, 2, 1, 0, 2, 7}, 0},
    {TSR_F32, 0, 3, {4, 7, 9}, 6, {-1, 2, -3, 1, -2, 4}, -2.0f}, /* negative pads crop */
    {TSR_I64, 2, 2, {3, 4}, 4, {1, 2, 2, 1}, 0},
    {TSR_F16, 1, 2, {4, 5}, 4, {3, 4, 3, 4}, 0},
    {TSR_F32, 0, 4, {1, 64, 56, 56}, 8, {0, 0, 1, 1, 0, 0, 1, 1}, 0}, /* pool */
};

static void build_pad(struct kh_builder *b) {
    const struct pad_row *r = &pad_rows[b->variant];
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.pad_mode = r->mode;
    a.n_pad_pads = r->n_pads;
    for (int i = 0; i < r->n_pads; i++)
        a.pad_pads[i] = r->pads[i];
    a.pad_value = r->value;
    tsr_value x = kh_input_dt(b, r->dt, r->rank, r->dims, -10, 10);
    static const char *const modes[3] = {"constant", "reflect", "edge"};
    kh_label(b, " %s %s", tsr_dtype_name(r->dt), modes[r->mode]);
    kh_output(b, kh_op(b, TSR_OP_PAD, &a, 1, &x));
}

/* ---- preproc: the tessera-domain preprocessing ops ("ai.tessera", docs/PREPROC.md) -------- */

/* Threshold over [4099] and [3, 17]: to-zero and binary (high 2.5), exact. */
static void build_threshold(struct kh_builder *b) {
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.threshold_value = b->variant / 2 ? -0.75f : 0.3f;
    at.threshold_binary = b->variant % 2;
    at.threshold_high = 2.5f;
    tsr_value x = b->variant / 2 ? kh_input(b, 2, D(3, 17), -2, 2) : kh_input(b, 1, D(4099), -2, 2);
    kh_output(b, kh_op(b, TSR_OP_THRESHOLD, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "ew_threshold");
    kh_label(b, " threshold %g binary %d", (double)at.threshold_value, at.threshold_binary);
}

/* Threshold after elementwise ops fuses into their region: Add(x, c) -> Threshold (binary) and
 * Mul(x, c) -> Threshold -> Neg; the expected kernel names prove one region (exact: the adds and
 * products round as the reference's float ones). */
static void build_threshold_fused(struct kh_builder *b) {
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.threshold_value = 0.2f;
    at.threshold_binary = b->variant == 0;
    at.threshold_high = 4.0f;
    tsr_value x = kh_input(b, 2, D(37, 129), -2, 2);
    tsr_value c = kh_const(b, 1, D(129), -1, 1);
    tsr_value v = kh_op2(b, b->variant == 0 ? TSR_OP_ADD : TSR_OP_MUL, x, c);
    v = kh_op(b, TSR_OP_THRESHOLD, &at, 1, &v);
    if (b->variant == 1) v = kh_op1(b, TSR_OP_NEG, v);
    kh_output(b, v);
    snprintf(b->kernel, sizeof b->kernel, "%s",
             b->variant == 0 ? "ew_add_threshold" : "ew_mul_threshold_neg");
}

/* RollingMean / RollingStd: {op, shape [outer, len, inner], axis, window, min_periods, ddof}:
 * a window longer than the axis, window 1, min_periods 1 (prefix outputs) and 0 (NaN prefix),
 * ddof 0 / 1 / 2, rows wider than the CPU's 256-float chunk. */
static const struct rolling_row {
    tsr_op op;
    int64_t s[3];
    int64_t axis, window, min_periods, ddof;
} rolling_rows[] = {
    {TSR_OP_ROLLINGMEAN, {3, 50, 1}, 1, 5, 0, 1},   {TSR_OP_ROLLINGMEAN, {2, 40, 33}, 1, 7, 1, 1},
    {TSR_OP_ROLLINGMEAN, {1, 4, 7}, -1, 10, 1, 1},  {TSR_OP_ROLLINGMEAN, {2, 9, 3}, 1, 1, 0, 1},
    {TSR_OP_ROLLINGMEAN, {1, 300, 5}, 1, 64, 0, 1}, {TSR_OP_ROLLINGSTD, {3, 50, 1}, 1, 5, 0, 1},
    {TSR_OP_ROLLINGSTD, {2, 40, 33}, 1, 7, 1, 0},   {TSR_OP_ROLLINGSTD, {1, 4, 7}, -1, 10, 1, 1},
    {TSR_OP_ROLLINGSTD, {2, 12, 300}, 1, 4, 2, 2},  {TSR_OP_ROLLINGSTD, {1, 300, 5}, 1, 64, 0, 1},
};

static void build_rolling(struct kh_builder *b) {
    const struct rolling_row *r = &rolling_rows[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.axis = r->axis;
    at.scan_window = r->window;
    at.scan_min_periods = r->min_periods;
    at.scan_ddof = r->ddof;
    tsr_value x = r->axis < 0 ? kh_input(b, 2, &r->s[1], -1, 1) : kh_input(b, 3, r->s, -1, 1);
    kh_output(b, kh_op(b, r->op, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "rolling");
    kh_label(b, " %s [%lld,%lld,%lld] axis %lld window %lld min_periods %lld ddof %lld",
             tsr_op_name(r->op), (long long)r->s[0], (long long)r->s[1], (long long)r->s[2],
             (long long)r->axis, (long long)r->window, (long long)r->min_periods,
             (long long)r->ddof);
}

/* EMA along the last axis and a middle one, alpha small (a long memory), large and 1. */
static void build_ema(struct kh_builder *b) {
    static const struct {
        int64_t s[3];
        int64_t axis;
        float alpha;
    } rows[] = {{{1, 3, 50}, -1, 0.3f},
                {{2, 20, 33}, 1, 0.9f},
                {{1, 1, 1000}, -1, 0.05f},
                {{2, 5, 3}, 1, 1.0f}};
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.axis = rows[b->variant].axis;
    at.ema_alpha = rows[b->variant].alpha;
    tsr_value x = kh_input(b, 3, rows[b->variant].s, -1, 1);
    kh_output(b, kh_op(b, TSR_OP_EMA, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "ema");
    kh_label(b, " alpha %g axis %lld", (double)at.ema_alpha, (long long)at.axis);
}

/* ZScore over the last axis, over the last two, with epsilon. */
static void build_zscore(struct kh_builder *b) {
    static const struct {
        int64_t s[3];
        int64_t axis;
        float eps;
    } rows[] = {{{1, 4, 33}, -1, 0.0f}, {{2, 3, 50}, 1, 0.0f}, {{1, 3, 1000}, 2, 1e-3f}};
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.axis = rows[b->variant].axis;
    at.zscore_epsilon = rows[b->variant].eps;
    tsr_value x = kh_input(b, 3, rows[b->variant].s, -2, 5);
    kh_output(b, kh_op(b, TSR_OP_ZSCORE, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "zscore");
}

/* RGBToGray of [N, 3, H, W] and [N, 3, L] images and channels-last [N, H, W, 3] and [P, 3]
 * ones (axis -1), float32 (b->arg NULL) or uint8. */
static void build_rgb_to_gray(struct kh_builder *b) {
    static const struct {
        int rank;
        int64_t s[4], axis;
    } rows[] = {{4, {2, 3, 5, 7}, 1},  {4, {1, 3, 64, 64}, 1}, {3, {3, 3, 10}, 1},
                {4, {2, 5, 7, 3}, -1}, {2, {300, 3}, -1},      {3, {2, 3, 4}, 1}};
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.axis = rows[b->variant].axis;
    const int r = rows[b->variant].rank;
    const int64_t *s = rows[b->variant].s;
    tsr_value x = b->arg ? kh_input_dt(b, TSR_U8, r, s, 0, 256) : kh_input(b, r, s, 0, 1);
    kh_output(b, kh_op(b, TSR_OP_RGBTOGRAY, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "rgb_to_gray");
    kh_label(b, " rank %d axis %lld", r, (long long)at.axis);
}

/* Gather, Cast and Where inside a float graph (an embedding, an additive mask, a causal mask):
 * the kernels of any dtype between float regions and GEMMs. */
static void build_mask_chain(struct kh_builder *b) {
    tsr_value ids = kh_input_dt(b, TSR_I64, 2, D(2, 5), 0, 20);
    tsr_value mask = kh_input_dt(b, TSR_I64, 3, D(2, 1, 5), 0, 2);
    tsr_value causal = kh_input_dt(b, TSR_BOOL, 2, D(5, 5), 0, 1);
    tsr_value emb = kh_op2(b, TSR_OP_GATHER, kh_const(b, 2, D(20, 8), -1, 1), ids); /* [2,5,8] */
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.cast_to = TSR_F32;
    tsr_value mf = kh_op(b, TSR_OP_CAST, &a, 1, &mask);                               /* [2,1,5] */
    tsr_value scores = kh_op2(b, TSR_OP_MATMUL, emb, kh_const(b, 2, D(8, 5), -1, 1)); /* [2,5,5] */
    tsr_value add = kh_op2(b, TSR_OP_ADD, scores, mf); /* broadcast over rows */
    tsr_value in[3] = {causal, add, kh_const(b, 0, D(0), -1e4f, -1e4f)};
    kh_output(b, kh_op(b, TSR_OP_WHERE, NULL, 3, in));
}

/* ---- issue 9, group "spatial2" ------------------------------------------------------------ */
/* ConvTranspose (rewritten into Pad / Reshape / Slice / Transpose + a stride-1 Conv by
 * passes/convtranspose.c) against the reference's direct scatter: N C H W (H 0: 1-D) M K stride
 * pad_begin pad_end output_padding dilation group bias, weights constant or a graph input */
struct convt {
    int64_t N, C, H, W, M, K, s, pb, pe, op, d, g;
    int bias, w_input;
};
static const struct convt convt_rows[] = {
    {1, 1, 3, 3, 2, 3, 1, 0, 0, 0, 1, 1, 0, 1}, /* test_convtranspose */
    {2, 3, 5, 4, 4, 3, 2, 1, 1, 1, 1, 1, 1, 0},  {1, 4, 6, 6, 6, 2, 2, 0, 0, 0, 1, 2, 1, 1},
    {2, 2, 4, 5, 3, 3, 3, 2, 1, 2, 2, 1, 0, 0},  {1, 3, 0, 9, 5, 4, 2, 1, 2, 1, 1, 1, 1, 0},
    {2, 4, 0, 7, 4, 3, 1, 0, 0, 0, 2, 4, 0, 1},  /* 1-D depthwise */
    {1, 16, 8, 8, 8, 4, 2, 1, 1, 0, 1, 1, 1, 0}, /* decoder-like upsampling */
};

static void build_convtranspose(struct kh_builder *b) {
    const struct convt *c = &convt_rows[b->variant];
    const int one_d = c->H == 0;
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.strides[0] = one_d ? 1 : c->s, at.strides[1] = c->s;
    at.pads[0] = one_d ? 0 : c->pb, at.pads[1] = c->pb;
    at.pads[2] = one_d ? 0 : c->pe, at.pads[3] = c->pe;
    at.output_padding[0] = one_d ? 0 : c->op, at.output_padding[1] = c->op;
    at.dilations[0] = one_d ? 1 : c->d, at.dilations[1] = c->d;
    at.group = c->g;
    tsr_value in[3];
    in[0] = one_d ? kh_input(b, 3, D(c->N, c->C, c->W), -1, 1)
                  : kh_input(b, 4, D(c->N, c->C, c->H, c->W), -1, 1);
    const int64_t mpg = c->M / c->g;
    if (c->w_input)
        in[1] = one_d ? kh_input(b, 3, D(c->C, mpg, c->K), -1, 1)
                      : kh_input(b, 4, D(c->C, mpg, c->K, c->K), -1, 1);
    else
        in[1] = one_d ? kh_const(b, 3, D(c->C, mpg, c->K), -1, 1)
                      : kh_const(b, 4, D(c->C, mpg, c->K, c->K), -1, 1);
    if (c->bias) in[2] = kh_const(b, 1, D(c->M), -1, 1);
    kh_output(b, kh_op(b, TSR_OP_CONVTRANSPOSE, &at, c->bias ? 3 : 2, in));
    snprintf(b->kernel, sizeof b->kernel, "conv");
    kh_label(b, " %s C %lld M %lld k %lld s %lld g %lld%s", one_d ? "1-D" : "2-D", (long long)c->C,
             (long long)c->M, (long long)c->K, (long long)c->s, (long long)c->g,
             c->w_input ? " w-input" : "");
}

/* BatchNormalization with scale, B, mean and var graph inputs (not folded: broadcast
 * elementwise nodes, passes/bn.c): [2, 3, 4, 5] and [4, 6] */
static void build_batchnorm_inputs(struct kh_builder *b) {
    const int64_t C = b->variant ? 6 : 3;
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.epsilon = b->variant ? 1e-2f : 1e-5f;
    tsr_value in[5];
    in[0] = b->variant ? kh_input(b, 2, D(4, C), -2, 2) : kh_input(b, 4, D(2, C, 4, 5), -2, 2);
    in[1] = kh_input(b, 1, D(C), -1.5f, 1.5f);
    in[2] = kh_input(b, 1, D(C), -1, 1);
    in[3] = kh_input(b, 1, D(C), -1, 1);
    in[4] = kh_input(b, 1, D(C), 0.1f, 2);
    kh_output(b, kh_op(b, TSR_OP_BATCHNORM, &at, 5, in));
    snprintf(b->kernel, sizeof b->kernel, "ew_");
}
/* LpPool [N, C, (H,) W] (rewritten into Abs, Pow, a depthwise ones-Conv, Pow): H (0: 1-D) W k
 * stride pad_begin pad_end dilation auto_pad p */
struct lppool {
    int64_t H, W, K, s, pb, pe, d;
    int auto_pad;
    int64_t p;
};
static const struct lppool lppool_rows[] = {
    {0, 32, 2, 1, 0, 0, 1, TSR_AUTO_PAD_NOTSET, 3},
    {8, 9, 2, 1, 0, 0, 1, TSR_AUTO_PAD_NOTSET, 4},
    {7, 7, 3, 1, 2, 2, 1, TSR_AUTO_PAD_NOTSET, 3},
    {9, 11, 5, 3, 0, 0, 1, TSR_AUTO_PAD_NOTSET, 2},
    {6, 6, 2, 1, 0, 0, 2, TSR_AUTO_PAD_NOTSET, 2},
    {8, 7, 2, 1, 0, 0, 1, TSR_AUTO_PAD_SAME_LOWER, 4},
    {8, 7, 3, 2, 0, 0, 1, TSR_AUTO_PAD_SAME_UPPER, 2},
};

static void build_lppool(struct kh_builder *b) {
    const struct lppool *c = &lppool_rows[b->variant];
    const int one_d = c->H == 0;
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.kernel_shape[0] = one_d ? 1 : c->K, at.kernel_shape[1] = c->K;
    at.strides[0] = one_d ? 1 : c->s, at.strides[1] = c->s;
    at.pads[0] = one_d ? 0 : c->pb, at.pads[1] = c->pb;
    at.pads[2] = one_d ? 0 : c->pe, at.pads[3] = c->pe;
    at.dilations[0] = one_d ? 1 : c->d, at.dilations[1] = c->d;
    at.auto_pad = c->auto_pad;
    at.lp_p = c->p;
    tsr_value x =
        one_d ? kh_input(b, 3, D(2, 3, c->W), -1, 1) : kh_input(b, 4, D(2, 3, c->H, c->W), -1, 1);
    kh_output(b, kh_op(b, TSR_OP_LPPOOL, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "conv");
    kh_label(b, " %s k %lld s %lld p %lld", one_d ? "1-D" : "2-D", (long long)c->K, (long long)c->s,
             (long long)c->p);
}

/* GlobalLpPool [2, 3, 5, 7] p 2, 3; MeanVarianceNormalization [3, 4, 5, 6] default axes and
 * axes [1] (rewritten into reductions and elementwise nodes) */
static void build_global_lppool(struct kh_builder *b) {
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.lp_p = 2 + b->variant;
    tsr_value x = kh_input(b, 4, D(2, 3, 5, 7), -1, 1);
    kh_output(b, kh_op(b, TSR_OP_GLOBALLPPOOL, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "reduce");
}

static void build_mvn(struct kh_builder *b) {
    struct tsr_op_attrs at = tsr_op_attrs_default();
    if (b->variant) {
        at.n_axes = 1;
        at.axes[0] = 1;
    }
    tsr_value x = kh_input(b, 4, D(3, 4, 5, 6), -2, 3);
    kh_output(b, kh_op(b, TSR_OP_MVN, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "reduce");
}
/* LRN [2, 7, 4, 5] size 3, 4 and [2, 5, 9] size 5 (rewritten into Mul, a 1x1 band Conv, Pow,
 * Div) */
static void build_lrn(struct kh_builder *b) {
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.lrn_size = b->variant == 0 ? 3 : b->variant == 1 ? 4 : 5;
    at.lrn_alpha = 0.02f;
    at.lrn_beta = 0.75f;
    at.lrn_bias = b->variant == 1 ? 2.0f : 1.0f;
    tsr_value x =
        b->variant == 2 ? kh_input(b, 3, D(2, 5, 9), -3, 3) : kh_input(b, 4, D(2, 7, 4, 5), -3, 3);
    kh_output(b, kh_op(b, TSR_OP_LRN, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "conv");
}
/* Resize-18 keep_aspect_ratio_policy not_larger (variants 0, 1) / not_smaller (2, 3), nearest,
 * sizes over axes [2, 3] as ONNX's tests: [1, 1, 2, 4] to [1, 3] and [1, 1, 2, 2] to [7, 8] */
static void build_resize_keep(struct kh_builder *b) {
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.resize_keep_ratio = b->variant < 2 ? 1 : 2;
    at.n_axes = 2;
    at.axes[0] = 2;
    at.axes[1] = 3;
    const int up = b->variant % 2;
    tsr_value in[2];
    in[0] = up ? kh_input(b, 4, D(1, 1, 2, 2), -1, 1) : kh_input(b, 4, D(1, 1, 2, 4), -1, 1);
    const int64_t sz[2] = {up ? 7 : 1, up ? 8 : 3};
    struct tsr_tensor_desc d = {TSR_I64, 1, {2}};
    ck_assert_int_eq(tsr_graph_constant(b->g, NULL, &d, sz, &in[1]), TSR_OK);
    tsr_value y = kh_op(b, TSR_OP_RESIZE, &at, 2, in);
    /* the output dims of ONNX's expected outputs */
    static const int64_t want[4][2] = {{1, 2}, {7, 7}, {2, 3}, {8, 8}};
    struct tsr_tensor_desc yd;
    ck_assert_int_eq(tsr_graph_value_desc(b->g, y, &yd), TSR_OK);
    ck_assert_int_eq(yd.dims[2], want[b->variant][0]);
    ck_assert_int_eq(yd.dims[3], want[b->variant][1]);
    kh_output(b, y);
    snprintf(b->kernel, sizeof b->kernel, "resize_");
}
/* Einsum (float32; rewritten into ReduceSum / Transpose / Reshape / MatMul): equation, input
 * ranks and dims (a second input of rank 0: none) */
struct einsum_row {
    const char *eq;
    int ra, rb;
    int64_t a[4], b[4];
};
static const struct einsum_row einsum_rows[] = {
    {"bij, bjk -> bik", 3, 3, {5, 2, 3}, {5, 3, 4}},
    {"i,i", 1, 1, {5}, {5}},
    {"ij->i", 2, 0, {3, 4}, {0}},
    {"ij->ji", 2, 0, {3, 4}, {0}},
    {"bhqd,bhkd->bhqk", 4, 4, {2, 3, 5, 8}, {2, 3, 6, 8}}, /* attention scores */
    {"ij,jk", 2, 2, {4, 6}, {6, 3}},                       /* implicit output "ik" */
    {"abc,cd->dba", 3, 2, {2, 3, 4}, {4, 5}},
    {"ijk->", 3, 0, {2, 3, 4}, {0}},
    {"ij,kj->ik", 2, 2, {7, 9}, {5, 9}},
    {"bi,bj->bij", 2, 2, {3, 4}, {3, 5}},    /* outer product per batch */
    {"ijk,jl->il", 3, 2, {3, 4, 2}, {4, 6}}, /* k summed away first */
};

static void build_einsum(struct kh_builder *b) {
    const struct einsum_row *r = &einsum_rows[b->variant];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    snprintf(at.einsum_equation, sizeof at.einsum_equation, "%s", r->eq);
    tsr_value in[2];
    in[0] = kh_input(b, r->ra, r->a, -1, 1);
    if (r->rb) in[1] = kh_input(b, r->rb, r->b, -1, 1);
    kh_output(b, kh_op(b, TSR_OP_EINSUM, &at, r->rb ? 2 : 1, in));
    kh_label(b, " %s", r->eq);
}
/* ---- end of group "spatial2" -------------------------------------------------------------- */

/* Tolerances (atol, rtol of the measure in kernel_harness.h):
 *   exact (0, 0): data movement, max, relu/leaky/clip, add/sub/mul/div (correctly rounded);
 *   transcendental: rtol 2e-6 (16 ulp: the OpenCL C full-profile bound for erf/pow, s7.4; the
 *     CPU's vector functions are within ~3 ulp, tested alone in check_cpu_kernels), atol 1e-6
 *     for results near 0 (Gelu's 1 + erf(x) at x << 0, exp/log near 0 / 1);
 *   chains of them: rtol 1e-5 (errors of <= 5 ops compound);
 *   accumulations (GEMM, Conv, sums, averages): atol ~ 1e-5 x the sum of |terms| (inputs in
 *     [-1, 1): |a b| averages 1/4), rtol 1e-5;
 *   softmax, layernorm: as the backends' own bounds (documented with the rows). */
/* ---- multiout: TopK ---- */
/* TopK values (arg 0) or indices (arg 1): k of 1, some and all along axis 1 of [outer, len,
 * inner] shapes, largest and smallest; then ties (the lower index first) along axes 0, 1, -1. */
static void build_topk(struct kh_builder *b) {
    const int *indices = b->arg;
    struct tsr_op_attrs at = tsr_op_attrs_default();
    static const int64_t shapes[][4] = {{3, 7, 1, 1},  {2, 5, 33, 3},     {1, 1000, 1, 10},
                                        {5, 1, 17, 1}, {3, 200, 25, 200}, {2, 77, 3, 5}};
    const int nv = N_OF(shapes);
    tsr_value x;
    at.topk_indices = *indices;
    at.n_topk_k = 1;
    if (b->variant < 2 * nv) {
        const int64_t *s = shapes[b->variant / 2];
        at.axis = 1;
        at.topk_largest = b->variant % 2 == 0;
        at.topk_k[0] = s[3];
        x = kh_input(b, 3, s, -3, 3);
        kh_label(b, " [%lld,%lld,%lld] k %lld largest %d", (long long)s[0], (long long)s[1],
                 (long long)s[2], (long long)s[3], at.topk_largest);
    } else {
        const int v = b->variant - 2 * nv;
        at.topk_largest = v % 2 == 0;
        at.axis = v < 2 ? 1 : (v < 4 ? 0 : -1);
        at.topk_k[0] = 3;
        x = kh_input_gen(b, 3, D(4, 6, 5), gen_ties);
        kh_label(b, " [4,6,5] ties axis %lld k 3 largest %d", (long long)at.axis, at.topk_largest);
    }
    snprintf(b->kernel, sizeof b->kernel, *indices ? "topk_indices" : "topk_values");
    kh_output(b, kh_op(b, TSR_OP_TOPK, &at, 1, &x));
}
static const int topk_values = 0, topk_indices = 1;

/* MaxPool's Indices (int64, exact): every MaxPool row of pool_rows with storage_order 0 and 1
 * (variants 0 .. 2 * 6 - 1), then the first row on tied inputs (the first maximum wins). */
static void build_maxpool_indices(struct kh_builder *b) {
    int row = -1, want = b->variant / 2;
    const int ties = want >= 6;
    for (int i = 0, seen = 0; i < (int)N_OF(pool_rows) && row < 0; i++)
        if (pool_rows[i].op == TSR_OP_MAXPOOL && (ties || seen++ == want)) row = i;
    const struct pool *p = &pool_rows[row];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.kernel_shape[0] = p->KH, at.kernel_shape[1] = p->KW;
    at.strides[0] = p->sh, at.strides[1] = p->sw;
    at.pads[0] = p->pt, at.pads[1] = p->pl, at.pads[2] = p->pb, at.pads[3] = p->pr;
    at.dilations[0] = p->dh, at.dilations[1] = p->dw;
    at.ceil_mode = p->ceil_mode;
    at.storage_order = b->variant % 2;
    at.pool_indices = 1;
    tsr_value x = ties ? kh_input_gen(b, 4, D(p->N, p->C, p->H, p->W), gen_ties)
                       : kh_input(b, 4, D(p->N, p->C, p->H, p->W), -3, 3);
    kh_output(b, kh_op(b, TSR_OP_MAXPOOL, &at, 1, &x));
    snprintf(b->kernel, sizeof b->kernel, "maxpool");
    kh_label(b, " [%lld,%lld,%lld,%lld] k %lldx%lld s %lld,%lld storage_order %d%s",
             (long long)p->N, (long long)p->C, (long long)p->H, (long long)p->W, (long long)p->KH,
             (long long)p->KW, (long long)p->sh, (long long)p->sw, at.storage_order,
             ties ? " ties" : "");
}

/* NegativeLogLikelihoodLoss over [N, C, d..] (x: log-probabilities-like values in [-5, 0)):
 * variant v: reduction v % 3 (none, sum, mean), weight when v / 3 is odd, ignore_index 2 when
 * v / 6 is odd, shapes [4, 5] then [3, 6, 7] then [2, 4, 3, 5] (v / 12); int64 targets in
 * [0, C) except the int32 ones of the last shape. */
static void build_nll(struct kh_builder *b) {
    static const int64_t shapes[][4] = {{4, 5, 1, 1}, {3, 6, 7, 1}, {2, 4, 3, 5}};
    static const int ranks[] = {2, 3, 4};
    const int v = b->variant, si = v / 12;
    const int64_t *sh = shapes[si];
    const int r = ranks[si];
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.nll_reduction = v % 3;
    if ((v / 6) % 2) at.nll_ignore_index = 2;
    const int64_t td[3] = {sh[0], sh[2], sh[3]};
    tsr_value in[3];
    in[0] = kh_input(b, r, sh, -5, 0);
    in[1] = kh_input_dt(b, si == 2 ? TSR_I32 : TSR_I64, r - 1, td, 0, (float)sh[1]);
    int n = 2;
    if ((v / 3) % 2) in[n++] = kh_const(b, 1, &sh[1], 0.5f, 2.0f);
    kh_label(b, " rank %d reduction %d%s%s%s", r, at.nll_reduction, n == 3 ? " weight" : "",
             at.nll_ignore_index == 2 ? " ignore_index 2" : "", si == 2 ? " int32" : "");
    kh_output(b, kh_op(b, TSR_OP_NLLLOSS, &at, n, in));
}
/* ---- end of multiout ---- */

static const struct kh_case cases[] = {
    {"relu", build_unary, 2, 0, 0, KH_FUSED, NULL, &ew_relu, NULL, 0, 0},
    {"sigmoid", build_unary, 2, 1e-7, 2e-6, KH_FUSED, NULL, &ew_sigmoid, NULL, 0, 0},
    {"tanh", build_unary, 2, 1e-7, 2e-6, KH_FUSED, NULL, &ew_tanh, NULL, 0, 0},
    {"exp", build_unary, 2, 1e-7, 2e-6, KH_FUSED, NULL, &ew_exp, NULL, 0, 0},
    {"log", build_unary, 2, 1e-7, 2e-6, KH_FUSED, NULL, &ew_log, NULL, 0, 0},
    {"sqrt", build_unary, 2, 0, 2e-7, KH_FUSED, NULL, &ew_sqrt, NULL, 0, 0},
    {"erf", build_unary, 2, 1e-7, 2e-6, KH_FUSED, NULL, &ew_erf, NULL, 0, 0},
    {"gelu", build_unary, 2, 1e-6, 2e-6, KH_FUSED, NULL, &ew_gelu, NULL, 0, 0},
    {"gelu_tanh", build_unary, 2, 1e-6, 2e-6, KH_FUSED, NULL, &ew_gelu_tanh, NULL, 0, 0},
    {"leakyrelu", build_unary, 2, 0, 0, KH_FUSED, NULL, &ew_leaky, NULL, 0, 0},
    {"leakyrelu_0.1", build_unary, 2, 0, 0, KH_FUSED, NULL, &ew_leaky01, NULL, 0, 0},
    {"clip", build_unary, 2, 0, 0, KH_FUSED, NULL, &ew_clip, NULL, 0, 0},
    {"clip_open_below", build_unary, 2, 0, 0, KH_FUSED, NULL, &ew_clip_open, NULL, 0, 0},
    {"clip_wide", build_unary, 2, 0, 0, KH_FUSED, NULL, &ew_clip_wide, NULL, 0, 0},
    {"pow_negative_base", build_pow, 1, 1e-6, 1e-5, KH_FUSED, "ew_pow", NULL, NULL, 0, 0},
    /* group "ewops": exact ops bit-identical; hard_sigmoid / hard_swish / softsign round a
     * few times (hard_swish: |x| times the rounding of x / 6 + 0.5, absolute); transcendental
     * as above (OpenCL C full profile: <= 4 ulp for these builtins, s7.4) */
    {"abs", build_ewops_unary, 3, 0, 0, KH_FUSED, NULL, &ewu_abs, NULL, 0, 0},
    {"sign", build_ewops_unary, 3, 0, 0, KH_FUSED, NULL, &ewu_sign, NULL, 0, 0},
    {"reciprocal", build_ewops_unary, 3, 0, 0, KH_FUSED, NULL, &ewu_reciprocal, NULL, 0, 0},
    {"floor", build_ewops_unary, 3, 0, 0, KH_FUSED, NULL, &ewu_floor, NULL, 0, 0},
    {"ceil", build_ewops_unary, 3, 0, 0, KH_FUSED, NULL, &ewu_ceil, NULL, 0, 0},
    {"round", build_ewops_unary, 3, 0, 0, KH_FUSED, NULL, &ewu_round, NULL, 0, 0},
    {"softplus", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_softplus, NULL, 0, 0},
    {"softsign", build_ewops_unary, 3, 1e-7, 1e-6, KH_FUSED, NULL, &ewu_softsign, NULL, 0, 0},
    {"hardsigmoid", build_ewops_unary, 3, 2e-7, 1e-6, KH_FUSED, NULL, &ewu_hardsigmoid, NULL, 0, 0},
    {"hardswish", build_ewops_unary, 3, 1e-6, 1e-6, KH_FUSED, NULL, &ewu_hardswish, NULL, 0, 0},
    {"elu", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_elu, NULL, 0, 0},
    {"selu", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_selu, NULL, 0, 0},
    {"celu", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_celu, NULL, 0, 0},
    {"thresholdedrelu", build_ewops_unary, 3, 0, 0, KH_FUSED, NULL, &ewu_thresholded, NULL, 0, 0},
    {"shrink", build_ewops_unary, 3, 0, 0, KH_FUSED, NULL, &ewu_shrink, NULL, 0, 0},
    {"mish", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_mish, NULL, 0, 0},
    {"sin", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_sin, NULL, 0, 0},
    {"cos", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_cos, NULL, 0, 0},
    {"tan", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_tan, NULL, 0, 0},
    {"asin", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_asin, NULL, 0, 0},
    {"acos", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_acos, NULL, 0, 0},
    {"atan", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_atan, NULL, 0, 0},
    {"sinh", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_sinh, NULL, 0, 0},
    {"cosh", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_cosh, NULL, 0, 0},
    {"asinh", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_asinh, NULL, 0, 0},
    {"acosh", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_acosh, NULL, 0, 0},
    {"atanh", build_ewops_unary, 3, 1e-7, 2e-6, KH_FUSED, NULL, &ewu_atanh, NULL, 0, 0},
    {"ewops_attributes", build_ewops_attr, 12, 2e-7, 2e-6, KH_FUSED, NULL, NULL, NULL, 0, 0},
    /* Min / Max exact; Sum / Mean fold in float in the reference's order: exact too */
    {"variadic", build_variadic, 20, 0, 0, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"variadic_chain", build_variadic_chain, 1, 0, 0, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"prelu", build_prelu, 5, 0, 0, KH_FUSED, "ew_prelu", NULL, NULL, 0, 0},
    {"mod", build_mod, 2, 0, 0, KH_FUSED, "ew_mod", NULL, NULL, 0, 0},
    {"binary_broadcast", build_binary, 1, 0, 0, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"ew_chain_broadcast", build_ew_chain, 1, 1e-6, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"ew_program", build_ew_program, 1, 1e-6, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"ew_scalar_operands", build_ew_scalars, 1, 1e-6, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"ew_tiles_threads", build_ew_tiles, 1, 1e-6, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"ew_streaming", build_ew_stream, 1, 0, 0, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"ew_immediates", build_ew_immediates, 1, 0, 0, KH_BOTH, NULL, NULL, NULL, 0, 0},
    /* sum |terms| <= 0.7 * 19 / 4 + 1.3 * 2 + 1 ~ 7 */
    {"gemm_epilogues", build_gemm_epilogues, 2 * 2 * 4 * ACT_COUNT, 1e-4, 1e-5, KH_FUSED, NULL,
     NULL, NULL, 0, 0},
    {"gemm", build_gemm_row, N_OF(gemm_rows), 2e-3, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"gemm_const", build_gemm_const, N_OF(gemm_const_rows), 1e-4, 1e-5, KH_BOTH, NULL, NULL, NULL,
     0, 0},
    {"matmul", build_matmul, N_OF(matmul_rows), 5e-4, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    /* sum |x w| <= C/g * KH * KW / 4 + 2 <= 11 */
    {"conv", build_conv, N_OF(conv_rows), 1e-4, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    /* SiLU / GELU epilogues from their exported decompositions, and the look-alikes that must not
     * fuse (exact plans); GELU's 48-term dot products as the matmul rows */
    {"gelu_decomposed", build_gelu_decomposed, 19, 5e-4, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"silu_epilogue", build_silu_cases, 5, 1e-4, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"conv_bn_relu", build_conv_bn, 1, 1e-4, 1e-5, KH_BOTH, "conv", NULL, NULL, 0, 0},
    {"pool", build_pool, N_OF(pool_rows), 1e-6, 1e-6, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"pool_vector", build_pool_vec, POOL_VEC_AVG_FIRST, 0, 0, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"pool_vector_avg", build_pool_vec_avg, N_OF(pool_vec_rows) - POOL_VEC_AVG_FIRST, 1e-6, 1e-6,
     KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"pool3d", build_pool3d, N_OF(pool3d_rows), 2e-6, 2e-6, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"conv3d", build_conv3d, N_OF(conv3d_rows), 1e-4, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"convtranspose3d", build_convt3d, N_OF(convt3d_rows), 1e-4, 1e-5, KH_BOTH, NULL, NULL, NULL, 0,
     0},
    {"global_avgpool", build_global_pool, 2, 1e-6, 1e-6, KH_FUSED, NULL, NULL, NULL, 0, 0},
    /* group "spatial": max exact (NaN propagates); 1-D conv sums as conv's (<= 16 * 7 / 4 + 1) */
    {"global_maxpool", build_global_max_pool, N_OF(gmax_shapes), 0, 0, KH_FUSED, NULL, NULL, NULL,
     0, 0},
    {"reduce_max_nan", build_reduce_max_nan, 2, 0, 0, KH_FUSED, NULL, NULL, NULL, 0, 0},
    /* Resize: <= 4 x 4 taps of |x| < 1 with |weights| summing to <= 1.6 (cubic) */
    {"resize", build_resize, N_OF(resize_rows), 2e-6, 1e-5, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"resize_roi", build_resize_roi, 2, 2e-6, 1e-5, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"depth_space", build_depth_space, N_OF(depth_space_rows), 0, 0, KH_FUSED, NULL, NULL, NULL, 0,
     0},
    {"tile", build_tile, N_OF(tile_rows), 0, 0, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"conv1d", build_conv1d, N_OF(conv1d_rows), 1e-4, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"pool1d", build_pool1d, N_OF(pool1d_rows), 1e-6, 1e-6, KH_FUSED, NULL, NULL, NULL, 0, 0},
    /* sums of <= 1030 values in [-3, 3): sum |x| <= 3100 */
    {"reduce_sum", build_reduce, N_OF(reduce_shapes), 1e-3, 1e-6, KH_FUSED, NULL, &op_sum, NULL, 0,
     0},
    {"reduce_mean", build_reduce, N_OF(reduce_shapes), 1e-6, 1e-5, KH_FUSED, NULL, &op_mean, NULL,
     0, 0},
    {"reduce_max", build_reduce, N_OF(reduce_shapes), 0, 0, KH_FUSED, NULL, &op_max, NULL, 0, 0},
    {"softmax", build_softmax, N_OF(softmax_shapes), 1e-7, 1e-5, KH_FUSED, NULL, NULL, NULL, 0, 0},
    /* group "reduce": LogSoftmax rounds x - max (|y| up to ~200: 1 ulp ~ 1.5e-5 absolute; rtol
     * 1e-6 covers it, measured 7.6e-6 at y = -70), log(sum) (~1e-6) and one subtraction: atol
     * 2e-5; Hardmax exact (0 / 1, ties to the first maximum) */
    {"log_softmax", build_softmax_variant, N_OF(softmax_shapes) + 4, 2e-5, 1e-6, KH_FUSED, NULL,
     &op_log_softmax, NULL, 0, 0},
    /* inputs in [-2, 5), |scale| <= 1.5: measured worst 9e-7 (cpu tiers and opencl) */
    {"instancenorm", build_instancenorm, 4, 1e-5, 1e-5, KH_FUSED, NULL, NULL, NULL, 0, 0},
    /* sequential f32 sums of <= 1000 terms in [-1, 1): |error| <= ~1000 * 2^-24 * 500 (worst),
     * far less in practice; atol 1e-4 */
    {"cumsum", build_cumsum, 24, 1e-4, 1e-6, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"cumsum_int", build_cumsum_int, 16, 0, 0, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"groupnorm", build_groupnorm, 8, 1e-5, 1e-5, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"dropout", build_dropout, 2, 0, 0, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"argmax", build_arg, 18, 0, 0, KH_FUSED, NULL, &op_argmax, NULL, 0, 0},
    {"argmin", build_arg, 18, 0, 0, KH_FUSED, NULL, &op_argmin, NULL, 0, 0},
    {"hardmax", build_softmax_variant, N_OF(softmax_shapes) + 4, 0, 0, KH_FUSED, NULL, &op_hardmax,
     NULL, 0, 0},
    /* group "reduce": min / max exact (NaN propagates); sums of <= 1030 terms of |x| <= 3 or
     * x^2 <= 9 as reduce_sum; products of <= 1030 factors in [0.5, 1.5): ~1000 roundings; logs:
     * the sum's relative error becomes an absolute one */
    {"reduce_group_min", build_reduce_group, N_OF(reduce_shapes) + RED_EXTRA, 0, 0, KH_FUSED, NULL,
     &red_min, NULL, 0, 0},
    {"reduce_group_max", build_reduce_group, N_OF(reduce_shapes) + RED_EXTRA, 0, 0, KH_FUSED, NULL,
     &red_max, NULL, 0, 0},
    {"reduce_group_sum", build_reduce_group, N_OF(reduce_shapes) + RED_EXTRA, 1e-3, 1e-6, KH_FUSED,
     NULL, &red_sum, NULL, 0, 0},
    {"reduce_group_mean", build_reduce_group, N_OF(reduce_shapes) + RED_EXTRA, 1e-6, 1e-5, KH_FUSED,
     NULL, &red_mean, NULL, 0, 0},
    {"reduce_prod", build_reduce_group, N_OF(reduce_shapes) + RED_EXTRA, 1e-30, 1e-4, KH_FUSED,
     NULL, &red_prod, NULL, 0, 0},
    {"reduce_sum_square", build_reduce_group, N_OF(reduce_shapes) + RED_EXTRA, 2e-3, 1e-5, KH_FUSED,
     NULL, &red_sumsq, NULL, 0, 0},
    {"reduce_l1", build_reduce_group, N_OF(reduce_shapes) + RED_EXTRA, 1e-3, 1e-5, KH_FUSED, NULL,
     &red_l1, NULL, 0, 0},
    {"reduce_l2", build_reduce_group, N_OF(reduce_shapes) + RED_EXTRA, 1e-5, 1e-5, KH_FUSED, NULL,
     &red_l2, NULL, 0, 0},
    {"reduce_log_sum", build_reduce_group, N_OF(reduce_shapes) + RED_EXTRA, 1e-5, 1e-5, KH_FUSED,
     NULL, &red_logsum, NULL, 0, 0},
    {"reduce_log_sum_exp", build_reduce_group, N_OF(reduce_shapes) + RED_EXTRA, 1e-5, 1e-5,
     KH_FUSED, NULL, &red_lse, NULL, 0, 0},
    {"transpose", build_transpose, N_OF(transpose_rows), 0, 0, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"concat", build_concat, 3, 0, 0, KH_FUSED, NULL, NULL, NULL, 0, 0},
    /* offset 1000, |scale| <= 1.5: the CPU corrects the f32 mean (~1e-6); OpenCL's f32 mean
     * carries half an ulp of 1000 (3e-5), / stddev 0.58, x scale 1.5, plus its sums: 5e-4 */
    {"layernorm_offset_1000", build_layernorm, 2 * N_OF(layernorm_shapes), 1e-5, 1e-5, KH_FUSED,
     NULL, &ln_1000, "opencl", 5e-4, 1e-4},
    {"layernorm_offset_10", build_layernorm, 2 * N_OF(layernorm_shapes), 1e-4, 1e-4, KH_FUSED, NULL,
     &ln_10, NULL, 0, 0},
    {"layernorm_decomposed", build_layernorm_decomposed, 1, 1e-4, 1e-4, KH_BOTH, "layernorm", NULL,
     NULL, 0, 0},
    /* issue 9, group "tkern": kernels of any dtype, bit-exact */
    {"gather", build_gather, 6, 0, 0, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"slice", build_slice, N_OF(slice_rows), 0, 0, KH_FUSED, "slice", NULL, NULL, 0, 0},
    {"cast", build_cast, 64, 0, 0, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"compare", build_compare, 15, 0, 0, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"logic", build_logic, 4, 0, 0, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"where", build_where, 4, 0, 0, KH_FUSED, "where", NULL, NULL, 0, 0},
    {"pad", build_pad, N_OF(pad_rows), 0, 0, KH_FUSED, "pad_", NULL, NULL, 0, 0},
    /* K = 8 products of |x| < 1: atol 1e-5 */
    {"mask_chain", build_mask_chain, 1, 1e-5, 1e-5, KH_BOTH, "where", NULL, NULL, 0, 0},
    /* group "preproc": Threshold exact; rolling sums of <= 64 terms in [-1, 1) (~64 x 2^-24 per
     * sum) and a two-pass std; EMA contracts its rounding errors; ZScore as layernorm_offset_10;
     * RGBToGray 3 products of values in [0, 1) */
    {"threshold", build_threshold, 4, 0, 0, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"threshold_fused", build_threshold_fused, 2, 0, 0, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"rolling", build_rolling, N_OF(rolling_rows), 2e-5, 1e-4, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"ema", build_ema, 4, 1e-5, 1e-5, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"zscore", build_zscore, 3, 1e-4, 1e-4, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"rgb_to_gray", build_rgb_to_gray, 6, 1e-6, 1e-6, KH_FUSED, NULL, NULL, NULL, 0, 0},
    /* uint8: the float32 sum within rounding of a half may round either way: atol 1 */
    {"rgb_to_gray_u8", build_rgb_to_gray, 6, 1, 0, KH_FUSED, NULL, "u8", NULL, 0, 0},
    /* group "multiout": TopK selects, so both outputs are exact */
    {"topk_values", build_topk, 18, 0, 0, KH_FUSED, NULL, &topk_values, NULL, 0, 0},
    {"topk_indices", build_topk, 18, 0, 0, KH_FUSED, NULL, &topk_indices, NULL, 0, 0},
    {"maxpool_indices", build_maxpool_indices, 14, 0, 0, KH_FUSED, NULL, NULL, NULL, 0, 0},
    /* sums of <= 105 products in float32 (OpenCL) or double (CPU): rtol 1e-5 */
    {"nll_loss", build_nll, 36, 1e-6, 1e-5, KH_FUSED, "nll_loss", NULL, NULL, 0, 0},
    /* issue 9, group "spatial2": ConvTranspose sums <= 16 * 4 * 4 products of |x| < 1 (as conv);
     * BatchNormalization: a chain of 5 ops */
    {"convtranspose", build_convtranspose, N_OF(convt_rows), 1e-4, 1e-5, KH_BOTH, NULL, NULL, NULL,
     0, 0},
    {"batchnorm_inputs", build_batchnorm_inputs, 2, 1e-6, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    /* LpPool / GlobalLpPool: sums of <= 35 terms |x|^p <= 1, then a root; MVN: E[x^2] - E[x]^2
     * in float32 over <= 120 values of |x| < 3 (cancellation: atol 1e-4) */
    {"lppool", build_lppool, N_OF(lppool_rows), 1e-5, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"lppool3d", build_lppool3d, N_OF(lppool3d_p), 1e-5, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"global_lppool", build_global_lppool, 2, 1e-5, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"mvn", build_mvn, 2, 1e-4, 1e-4, KH_BOTH, NULL, NULL, NULL, 0, 0},
    /* LRN: <= 5 squares of |x| < 3, a pow and a division: chains of a few ops */
    {"lrn", build_lrn, 3, 1e-6, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    {"resize_keep_ratio", build_resize_keep, 4, 0, 0, KH_FUSED, NULL, NULL, NULL, 0, 0},
    /* Einsum: sums of <= 24 products of |x| < 1 */
    {"einsum", build_einsum, N_OF(einsum_rows), 1e-5, 1e-5, KH_BOTH, NULL, NULL, NULL, 0, 0},
    /* group "dtcompute": integers exact; float64 computes in double; float16 rounds once per
     * region (the reference once per node): 1 ulp of float16 (2^-10) relative */
    {"ew_int", build_ew_typed, EWT_OPS * 7, 0, 0, KH_BOTH, NULL, ewt_int_dtypes, NULL, 0, 0},
    {"ew_f64", build_ew_typed, EWT_OPS, 1e-12, 1e-12, KH_BOTH, NULL, ewt_f64_dtypes, NULL, 0, 0},
    {"ew_f16", build_ew_typed, EWT_OPS, 1e-3, 2e-3, KH_BOTH, NULL, ewt_f16_dtypes, NULL, 0, 0},
    {"mean_f16", build_mean_f16, 1, 1e-3, 2e-3, KH_BOTH, "ew_", NULL, NULL, 0, 0},
    {"pow_mixed", build_pow_mixed, 4, 1e-6, 1e-6, KH_BOTH, "ew_pow", NULL, NULL, 0, 0},
    {"bits", build_bits, 18, 0, 0, KH_BOTH, "ew_", NULL, NULL, 0, 0},
    {"isnan_isinf", build_isclass, 12, 0, 0, KH_FUSED, "is", NULL, NULL, 0, 0},
    /* issue 9, group "index": bit-exact */
    {"castlike", build_castlike, 16, 0, 0, KH_FUSED, NULL, NULL, NULL, 0, 0},
    {"trilu", build_trilu, 24, 0, 0, KH_FUSED, "tri", NULL, NULL, 0, 0},
    {"eyelike", build_eyelike, 12, 0, 0, KH_FUSED, "eyelike", NULL, NULL, 0, 0},
    {"gather_elements", build_gather_elements, 12, 0, 0, KH_FUSED, "gather_elements", NULL, NULL, 0,
     0},
    {"scatter_elements", build_scatter_elements, 25, 0, 0, KH_FUSED, "scatter_elements", NULL, NULL,
     0, 0},
    {"gather_nd", build_gather_nd, 12, 0, 0, KH_FUSED, "gather_nd", NULL, NULL, 0, 0},
    {"scatter_nd", build_scatter_nd, 20, 0, 0, KH_FUSED, "scatter_nd", NULL, NULL, 0, 0},
    {"onehot", build_onehot, 18, 0, 0, KH_FUSED, "one_hot", NULL, NULL, 0, 0},
    {"compress", build_compress, 12, 0, 0, KH_FUSED, "compress", NULL, NULL, 0, 0},
    {"reverse_sequence", build_reverse_sequence, 12, 0, 0, KH_FUSED, "reverse_sequence", NULL, NULL,
     0, 0},
    {"center_crop_pad", build_center_crop_pad, 12, 0, 0, KH_FUSED, "center_crop_pad", NULL, NULL, 0,
     0},
};

/* The harness must see every backend this run expects: the CPU always, OpenCL unless
 * TSR_EXPECT_OPENCL=0. */
START_TEST(test_devices) {
    tsr_context *ctx = ts_context();
    ck_assert_int_ge(kh_config_count(ctx, "cpu"), 1);
    if (ts_have_opencl(ctx)) ck_assert_int_ge(kh_config_count(ctx, "opencl"), 1);
    tsr_context_destroy(ctx);
}
END_TEST

/* TSR_KH_SHARD=K/N (1 <= K <= N): this process runs only the cases whose index in the table is
 * K - 1 modulo N (ctest runs the harness as N such processes side by side: tests/CMakeLists.txt,
 * check_kernels_KofN); unset or empty: every case. A malformed value fails the test. */
static int kh_in_shard(int c) {
    const char *s = getenv("TSR_KH_SHARD");
    if (!s || !*s) return 1;
    int k = 0, n = 0;
    char end;
    ck_assert_msg(sscanf(s, "%d/%d%c", &k, &n, &end) == 2 && n >= 1 && k >= 1 && k <= n,
                  "TSR_KH_SHARD='%s' is not K/N with 1 <= K <= N", s);
    return c % n == k - 1;
}

/* 1 when `name` is one of the comma-separated names of `list`. */
static int kh_name_listed(const char *list, const char *name) {
    const size_t n = strlen(name);
    for (const char *q = list; *q;) {
        const char *e = strchr(q, ',');
        const size_t len = e ? (size_t)(e - q) : strlen(q);
        if (len == n && strncmp(q, name, n) == 0) return 1;
        if (!e) break;
        q = e + 1;
    }
    return 0;
}

START_TEST(test_kernel_table) {
    struct tsr_context_options o = {.cpu_threads = 3};
    tsr_context *ctx = NULL;
    ck_assert_int_eq(tsr_context_create(&o, &ctx), TSR_OK);
    struct kh_config cfg[KH_MAX_CONFIGS];
    const int n_cfg = kh_configs(ctx, cfg, KH_MAX_CONFIGS);
    char names[256] = "";
    for (int i = 0; i < n_cfg; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                 cfg[i].label);
    struct kh_stats st = {0};
    char first[1024] = "";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* TSR_KH_GROUPS: a comma-separated list of case names to run (quick loops); unset: all */
    const char *only = getenv("TSR_KH_GROUPS");
    for (int c = 0; c < N_OF(cases); c++)
        if ((!only || kh_name_listed(only, cases[c].name)) && kh_in_shard(c))
            kh_run_case(ctx, &cases[c], &st, first, sizeof first);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr,
            "kernel harness: %d cases (%d variants) x %d configurations (%s): %d runs, %d "
            "failed, %.1f s\n",
            st.cases, st.variants, n_cfg, names, st.runs, st.failures,
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    tsr_context_destroy(ctx);
    ck_assert_msg(st.failures == 0, "%d of %d runs failed; first: %s", st.failures, st.runs, first);
}
END_TEST

/* Runs the cases named in `names` (comma-separated; TSR_KH_GROUPS and the shard narrow them
 * further) in a fresh 3-thread context, with NaN / inf inputs when `specials`; returns how many
 * cases `names` matched. */
static int run_listed_cases(const char *names, int specials, struct kh_stats *st, char *first,
                            size_t first_size) {
    struct tsr_context_options o = {.cpu_threads = 3};
    tsr_context *ctx = NULL;
    ck_assert_int_eq(tsr_context_create(&o, &ctx), TSR_OK);
    const char *only = getenv("TSR_KH_GROUPS");
    int listed = 0;
    for (int c = 0; c < N_OF(cases); c++)
        if (kh_name_listed(names, cases[c].name)) {
            listed++;
            if ((!only || kh_name_listed(only, cases[c].name)) && kh_in_shard(c)) {
                if (specials)
                    kh_run_case_specials(ctx, &cases[c], st, first, first_size);
                else
                    kh_run_case(ctx, &cases[c], st, first, first_size);
            }
        }
    tsr_context_destroy(ctx);
    return listed;
}

/* The small-plane Winograd (conv_direct.c, tsr_wino_applies mode 2) runs by default on the AVX2
 * tier only; TSR_CPU_WINOGRAD=small turns it on for every tier, and this test runs the "conv"
 * case (its 14x14, 7x7 and 9x11 Winograd rows among the others) that way, so the AVX-512
 * transforms stay checked against the reference. Own process (Check forks), own shard. */
START_TEST(test_winograd_small_planes) {
    setenv("TSR_CPU_WINOGRAD", "small", 1);
    struct kh_stats st = {0};
    char first[1024] = "";
    const int listed = run_listed_cases("conv", 0, &st, first, sizeof first);
    fprintf(stderr, "kernel harness, TSR_CPU_WINOGRAD=small: %d runs, %d failed\n", st.runs,
            st.failures);
    ck_assert_int_eq(listed, 1);
    ck_assert_msg(st.failures == 0, "%d of %d runs failed; first: %s", st.failures, st.runs, first);
}
END_TEST

/* ---- issue 12: IEEE special values ------------------------------------------------------- */

/* The cases run again with NaN, +inf and -inf in their float32 inputs (kh_run_case_specials):
 * every activation and its fused epilogue forms (GEMM, MatMul, Conv, elementwise regions), Min /
 * Max, the pools, the reductions and Softmax, against the reference's NumPy semantics (NaN
 * propagates through Relu, Clip, Max / Min, MaxPool, ReduceMax / ReduceMin; docs/RELIABILITY.md,
 * "IEEE semantics"). */
static const char ieee_case_names[] =
    "relu,sigmoid,tanh,exp,erf,gelu,gelu_tanh,leakyrelu,leakyrelu_0.1,clip,clip_open_below,"
    "clip_wide,softplus,hardsigmoid,hardswish,elu,selu,celu,thresholdedrelu,shrink,mish,"
    "variadic,variadic_chain,prelu,binary_broadcast,ew_chain_broadcast,ew_program,"
    "ew_scalar_operands,ew_tiles_threads,ew_immediates,gemm_epilogues,gemm,gemm_const,matmul,"
    "conv,silu_epilogue,conv_bn_relu,pool,pool_vector,pool_vector_avg,pool3d,global_avgpool,"
    "global_maxpool,pool1d,conv1d,reduce_sum,reduce_mean,reduce_max,reduce_group_min,"
    "reduce_group_max,softmax,log_softmax";

START_TEST(test_ieee_specials) {
    /* The AVX-512 Winograd F(2x2, 3x3) convolution spreads a NaN / inf input over its 2x2
     * output tile (docs/RELIABILITY.md): the direct and im2col paths are the ones compared
     * element by element here (this test runs in its own process: Check forks) */
    setenv("TSR_CPU_WINOGRAD", "0", 1);
    struct kh_stats st = {0};
    char first[1024] = "";
    const int listed = run_listed_cases(ieee_case_names, 1, &st, first, sizeof first);
    fprintf(stderr,
            "kernel harness, NaN / inf inputs: %d cases (%d variants): %d runs, %d failed\n",
            st.cases, st.variants, st.runs, st.failures);
    ck_assert_int_eq(listed, 52); /* every name of ieee_case_names is a case */
    ck_assert_msg(st.failures == 0, "%d of %d runs failed; first: %s", st.failures, st.runs, first);
}
END_TEST

/* ---- issue 9, group "tkern": whole graphs ------------------------------------------------ */

/* The torch.onnx block of tests/data/make_mask_model.py (embedding Gather from int64 input_ids,
 * an int64 attention_mask cast into the additive mask, a tril causal mask through Where, a Split
 * of the fused qkv projection) at opsets 13 and 17, on every device, against PyTorch. */
START_TEST(test_mask_model) {
    tsr_context *ctx = ts_context();
    struct tsr_tensor in[2], want;
    ck_assert_int_eq(tsr_npy_load(TSR_TEST_DATA_DIR "/mask_model_ids.npy", &in[0]), TSR_OK);
    ck_assert_int_eq(tsr_npy_load(TSR_TEST_DATA_DIR "/mask_model_mask.npy", &in[1]), TSR_OK);
    ck_assert_int_eq(tsr_npy_load(TSR_TEST_DATA_DIR "/mask_model_out.npy", &want), TSR_OK);
    ck_assert_int_eq(in[0].desc.dtype, TSR_I64);
    const char *files[2] = {TSR_TEST_DATA_DIR "/mask_model_op13.onnx",
                            TSR_TEST_DATA_DIR "/mask_model_op17.onnx"};
    int devices = 0;
    for (int fi = 0; fi < 2; fi++) {
        struct tsr_input_shape shp[2] = {{"input_ids", in[0].desc, NULL},
                                         {"attention_mask", in[1].desc, NULL}};
        tsr_graph *g;
        ck_assert_msg(tsr_onnx_import_file(ctx, files[fi], shp, 2, &g) == TSR_OK, "%s",
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
            int gather = 0, cast = 0, where = 0, slices = 0;
            for (int k = 0; k < tsr_plan_kernel_count(plan); k++) {
                struct tsr_kernel_info ki;
                ck_assert_int_eq(tsr_plan_kernel_info(plan, k, &ki), TSR_OK);
                gather += !strcmp(ki.name, "gather");
                cast += !strcmp(ki.name, "cast_int64_float32");
                where += !strcmp(ki.name, "where");
                slices += !strcmp(ki.name, "slice");
            }
            ck_assert_msg(gather == 1 && cast == 1 && where == 1 && slices == 3,
                          "%s on %s: %d gather, %d cast, %d where, %d slice kernels", files[fi],
                          info.id, gather, cast, where, slices);
            struct tsr_tensor y;
            ck_assert_int_eq(tsr_tensor_alloc(&want.desc, &y), TSR_OK);
            ck_assert_msg(tsr_plan_run(plan, in, 2, &y, 1) == TSR_OK, "%s",
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
    tsr_tensor_free(&in[0]);
    tsr_tensor_free(&in[1]);
    tsr_tensor_free(&want);
    tsr_context_destroy(ctx);
}
END_TEST

/* A Gather index out of range at run time fails the run with TSR_E_INVALID_ARG naming the node
 * (nothing is read out of bounds), on every device; the next valid run succeeds. */
START_TEST(test_gather_out_of_range) {
    tsr_context *ctx = ts_context();
    tsr_graph *g;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    float w[40];
    for (int i = 0; i < 40; i++)
        w[i] = (float)i;
    struct tsr_tensor_desc wd = {TSR_F32, 2, {10, 4}}, id = {TSR_I64, 1, {3}};
    tsr_value wv, iv, y;
    ck_assert_int_eq(tsr_graph_constant(g, "w", &wd, w, &wv), TSR_OK);
    ck_assert_int_eq(tsr_graph_input(g, "ids", &id, &iv), TSR_OK);
    tsr_value gin[2] = {wv, iv};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_GATHER, gin, 2, NULL, "embed", &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "y", y), TSR_OK);
    for (int d = 0; d < tsr_device_count(ctx); d++) {
        struct tsr_device_info info;
        ck_assert_int_eq(tsr_device_get_info(ctx, d, &info), TSR_OK);
        struct tsr_compile_options o = tsr_compile_options_default();
        o.device = info.id;
        o.allow_fallback = 0;
        tsr_plan *plan;
        ck_assert_int_eq(tsr_compile(ctx, g, &o, &plan), TSR_OK);
        float out[12];
        struct tsr_tensor yt = {{TSR_F32, 2, {3, 4}}, out};
        const int64_t bad[2][3] = {{1, 10, 2}, {-11, 0, 0}};
        for (int b = 0; b < 2; b++) {
            struct tsr_tensor it = {id, (void *)bad[b]};
            ck_assert_int_eq(tsr_plan_run(plan, &it, 1, &yt, 1), TSR_E_INVALID_ARG);
            const char *msg = tsr_last_error(ctx)->message;
            ck_assert_msg(strstr(msg, "embed") && strstr(msg, "Gather"), "%s: %s", info.id, msg);
        }
        const int64_t good[3] = {-1, 0, 3};
        struct tsr_tensor it = {id, (void *)good};
        ck_assert_int_eq(tsr_plan_run(plan, &it, 1, &yt, 1), TSR_OK);
        ck_assert(out[0] == 36.0f && out[4] == 0.0f && out[11] == 15.0f);
        tsr_plan_destroy(plan);
    }
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

/* group "index": an index out of range at run time in GatherElements, ScatterElements,
 * GatherND or ScatterND fails the run with TSR_E_INVALID_ARG naming the node, on every device
 * (nothing is read or written out of bounds); the next valid run succeeds. */
START_TEST(test_index_out_of_range) {
    static const tsr_op ops[4] = {TSR_OP_GATHERELEMENTS, TSR_OP_SCATTERELEMENTS, TSR_OP_GATHERND,
                                  TSR_OP_SCATTERND};
    tsr_context *ctx = ts_context();
    for (int o = 0; o < 4; o++) {
        const int nd = ops[o] == TSR_OP_GATHERND || ops[o] == TSR_OP_SCATTERND;
        const int scatter = ops[o] == TSR_OP_SCATTERELEMENTS || ops[o] == TSR_OP_SCATTERND;
        tsr_graph *g;
        ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
        float x[12], u[12];
        for (int i = 0; i < 12; i++)
            x[i] = (float)i, u[i] = 100.0f + (float)i;
        /* X [3, 4]; elements: indices [3, 4] along axis 0; ND: indices [2, 1] of rows, updates
         * [2, 4] */
        struct tsr_tensor_desc xd = {TSR_F32, 2, {3, 4}};
        struct tsr_tensor_desc id = nd ? (struct tsr_tensor_desc){TSR_I64, 2, {2, 1}} : xd;
        id.dtype = TSR_I64;
        struct tsr_tensor_desc ud = nd ? (struct tsr_tensor_desc){TSR_F32, 2, {2, 4}} : xd;
        tsr_value in[3], y;
        ck_assert_int_eq(tsr_graph_constant(g, "x", &xd, x, &in[0]), TSR_OK);
        ck_assert_int_eq(tsr_graph_input(g, "ids", &id, &in[1]), TSR_OK);
        if (scatter) ck_assert_int_eq(tsr_graph_constant(g, "u", &ud, u, &in[2]), TSR_OK);
        ck_assert_int_eq(tsr_graph_op(g, ops[o], in, 2 + scatter, NULL, "pick", &y), TSR_OK);
        ck_assert_int_eq(tsr_graph_output(g, "y", y), TSR_OK);
        const struct tsr_tensor_desc yd =
            ops[o] == TSR_OP_GATHERND ? (struct tsr_tensor_desc){TSR_F32, 2, {2, 4}} : xd;
        for (int d = 0; d < tsr_device_count(ctx); d++) {
            struct tsr_device_info info;
            ck_assert_int_eq(tsr_device_get_info(ctx, d, &info), TSR_OK);
            struct tsr_compile_options co = tsr_compile_options_default();
            co.device = info.id;
            co.allow_fallback = 0;
            tsr_plan *plan;
            ck_assert_int_eq(tsr_compile(ctx, g, &co, &plan), TSR_OK);
            float out[12];
            struct tsr_tensor yt = {yd, out};
            int64_t ids[12] = {0};
            ids[1] = o % 2 ? -4 : 3; /* axis of 3: out of range */
            struct tsr_tensor it = {id, ids};
            ck_assert_int_eq(tsr_plan_run(plan, &it, 1, &yt, 1), TSR_E_INVALID_ARG);
            const char *msg = tsr_last_error(ctx)->message;
            ck_assert_msg(strstr(msg, "pick"), "%s %s: %s", tsr_op_name(ops[o]), info.id, msg);
            ids[1] = -1; /* the last row */
            ck_assert_int_eq(tsr_plan_run(plan, &it, 1, &yt, 1), TSR_OK);
            if (ops[o] == TSR_OP_GATHERND) ck_assert(out[4] == 8.0f && out[0] == 0.0f);
            if (ops[o] == TSR_OP_SCATTERND) ck_assert(out[8] == 104.0f && out[0] == 100.0f);
            if (ops[o] == TSR_OP_GATHERELEMENTS) ck_assert(out[1] == 9.0f && out[0] == 0.0f);
            tsr_plan_destroy(plan);
        }
        tsr_graph_destroy(g);
    }
    tsr_context_destroy(ctx);
}
END_TEST

/* ConstantOfShape and Range with known shapes fold whatever their size (above the builder's
 * eager limit of 64 Ki elements the fold pass evaluates them): they never reach lowering. */
START_TEST(test_large_constants_fold) {
    tsr_context *ctx = ts_context();
    tsr_graph *g;
    ck_assert_int_eq(tsr_graph_create(ctx, &g), TSR_OK);
    const int64_t shape[2] = {300, 300};
    struct tsr_tensor_desc sd = {TSR_I64, 1, {2}}, xd = {TSR_F32, 2, {300, 300}},
                           scal = {TSR_I64, 0, {0}};
    tsr_value sv, x, c, y, lo, hi, st, r, rf;
    ck_assert_int_eq(tsr_graph_constant(g, "shape", &sd, shape, &sv), TSR_OK);
    ck_assert_int_eq(tsr_graph_input(g, "x", &xd, &x), TSR_OK);
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.fill_dtype = TSR_F32;
    a.fill_f64 = 2.0;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_CONSTANTOFSHAPE, &sv, 1, &a, "fill", &c), TSR_OK);
    tsr_value ain[2] = {x, c};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_ADD, ain, 2, NULL, "add", &y), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "y", y), TSR_OK);
    const int64_t v0 = 0, v1 = 100000, v2 = 1;
    ck_assert_int_eq(tsr_graph_constant(g, "lo", &scal, &v0, &lo), TSR_OK);
    ck_assert_int_eq(tsr_graph_constant(g, "hi", &scal, &v1, &hi), TSR_OK);
    ck_assert_int_eq(tsr_graph_constant(g, "st", &scal, &v2, &st), TSR_OK);
    tsr_value rin[3] = {lo, hi, st};
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_RANGE, rin, 3, NULL, "arange", &r), TSR_OK);
    struct tsr_op_attrs ca = tsr_op_attrs_default();
    ca.cast_to = TSR_F32;
    ck_assert_int_eq(tsr_graph_op(g, TSR_OP_CAST, &r, 1, &ca, "arange_f", &rf), TSR_OK);
    ck_assert_int_eq(tsr_graph_output(g, "r", rf), TSR_OK);
    for (int d = 0; d < tsr_device_count(ctx); d++) {
        struct tsr_device_info info;
        ck_assert_int_eq(tsr_device_get_info(ctx, d, &info), TSR_OK);
        struct tsr_compile_options o = tsr_compile_options_default();
        o.device = info.id;
        o.allow_fallback = 0;
        tsr_plan *plan;
        ck_assert_msg(tsr_compile(ctx, g, &o, &plan) == TSR_OK, "%s: %s", info.id,
                      tsr_last_error(ctx)->message);
        for (int k = 0; k < tsr_plan_kernel_count(plan); k++) {
            struct tsr_kernel_info ki;
            ck_assert_int_eq(tsr_plan_kernel_info(plan, k, &ki), TSR_OK);
            ck_assert_msg(!strstr(ki.nodes, "fill") && !strstr(ki.nodes, "arange"),
                          "kernel %s runs %s", ki.name, ki.nodes);
        }
        struct tsr_tensor xt, yt, rt;
        ck_assert_int_eq(tsr_tensor_alloc(&xd, &xt), TSR_OK);
        ck_assert_int_eq(tsr_tensor_alloc(&xd, &yt), TSR_OK);
        ck_assert_int_eq(tsr_tensor_alloc(&(struct tsr_tensor_desc){TSR_F32, 1, {100000}}, &rt),
                         TSR_OK);
        ((float *)xt.data)[89999] = 1.0f;
        struct tsr_tensor outs[2] = {yt, rt};
        ck_assert_int_eq(tsr_plan_run(plan, &xt, 1, outs, 2), TSR_OK);
        ck_assert(((float *)yt.data)[0] == 2.0f && ((float *)yt.data)[89999] == 3.0f);
        ck_assert(((float *)rt.data)[99999] == 99999.0f);
        tsr_tensor_free(&xt);
        tsr_tensor_free(&yt);
        tsr_tensor_free(&rt);
        tsr_plan_destroy(plan);
    }
    tsr_graph_destroy(g);
    tsr_context_destroy(ctx);
}
END_TEST

static Suite *kernels_suite(void) {
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("table");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_devices);
    tcase_add_test(tc, test_kernel_table);
    tcase_add_test(tc, test_winograd_small_planes);
    tcase_add_test(tc, test_mask_model);
    tcase_add_test(tc, test_gather_out_of_range);
    tcase_add_test(tc, test_index_out_of_range);
    tcase_add_test(tc, test_large_constants_fold);
    suite_add_tcase(s, tc);
    TCase *ieee = tcase_create("ieee"); /* CK_RUN_CASE=ieee: the special-value runs alone */
    tcase_set_timeout(ieee, 600);
    tcase_add_test(ieee, test_ieee_specials);
    suite_add_tcase(s, ieee);
    return s;
}

int main(void) {
    return ts_run_suite(kernels_suite());
}
