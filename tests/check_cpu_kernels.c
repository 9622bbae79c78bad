/*
 * check_cpu_kernels.c — the native CPU backend below the graph: what the kernel harness
 * (check_kernels.c, every kernel's numbers against runtime/reference.c) cannot see.
 *
 * Every ISA tier the machine has (scalar, avx2, avx512) runs the vector math of every elementwise
 * op at awkward sizes (tails) against double-precision libm with the error bounds of ew_vmath.h,
 * the streaming-store helpers at every alignment, the GEMM partition (row panels, blocks per
 * thread, column blocks, batches, the OpenBLAS-threaded and streamed paths) and the elementwise
 * tiles on a thread pool (a split must not change the result), in-place operands (residual of
 * GEMM and Conv, softmax, layernorm, fused regions), which Conv path a geometry takes, the
 * geometry checks, the thread pool, and the backend ops on a hand-built program.
 *
 * Tolerances of the vector math (reference computed in double with libm, compared in double):
 *   ADD SUB MUL DIV RELU COPY: exact (0). IEEE single ops are correctly rounded on every tier and
 *     rounding the double result of a float op to float gives the same correctly-rounded value.
 *   SIGMOID, TANH, exp: |y - ref| <= TOL_REL * |ref| + TOL_ABS with TOL_REL = 3e-7 (about 2.5 ulp)
 *     and TOL_ABS = 1e-37 (results in the denormal range may flush earlier/later). The measured
 *     maximum relative errors are printed to stderr ("measured ..." lines).
 *   A split or an in-place operand against the plain run: bit-identical where the same sums are
 *     formed, else |a - b| <= 1e-5 (1 + |b|) (the same sums rounded in another order).
 */
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_exec.h"
#include "backends/cpu/ew_kernels.h"
#include "backends/cpu/threadpool.h"
#include "runtime/program.h"
#include "test_support.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOL_REL 3e-7
#define TOL_ABS 1e-37

static const size_t k_sizes[] = {1, 7, 15, 16, 17, 33, 1000, 4099};
#define N_SIZES (sizeof k_sizes / sizeof k_sizes[0])
#define MAX_N   4099

/* ---- scalar references (double precision, libm) ---- */

/* Immediates used when a test runs the unary kernels directly. */
#define LEAKY_ALPHA 0.1f
#define CLIP_LO     -2.5f
#define CLIP_HI     3.5f

/* Immediates of the group "ewops" ops in these tests (ONNX defaults where they have one). */
static float imm0(tsr_ew_op op) {
    switch (op) {
    case TSR_EW_CLIP:
        return CLIP_LO;
    case TSR_EW_HARD_SIGMOID:
        return 0.2f;
    case TSR_EW_ELU:
    case TSR_EW_CELU:
        return 1.3f;
    case TSR_EW_SELU:
        return 1.67326319217681884765625f;
    case TSR_EW_THRESHOLDED_RELU:
    case TSR_EW_THRESHOLD_BINARY:
        return 1.0f;
    case TSR_EW_SHRINK:
        return 0.25f; /* bias */
    case TSR_EW_DIV_IMM:
        return 3.0f;
    default:
        return LEAKY_ALPHA;
    }
}
static float imm1(tsr_ew_op op) {
    switch (op) {
    case TSR_EW_HARD_SIGMOID:
        return 0.5f;
    case TSR_EW_SELU:
        return 1.05070102214813232421875f;
    case TSR_EW_SHRINK:
        return 0.5f; /* lambd */
    default:
        return CLIP_HI;
    }
}

static double clamp01(double t) {
    return t < 0.0 ? 0.0 : (t > 1.0 ? 1.0 : t);
}
static double softplus(double a) {
    return isnan(a) ? a : fmax(a, 0.0) + log1p(exp(-fabs(a)));
}

static double ref_op_p(tsr_ew_op op, double a, double b, double p0, double p1) {
    switch (op) {
    /* group "ewops" (float semantics of program.h; NaN propagates unless noted) */
    case TSR_EW_ABS:
        return fabs(a);
    case TSR_EW_SIGN:
        return a > 0.0 ? 1.0 : (a < 0.0 ? -1.0 : a);
    case TSR_EW_RECIPROCAL:
        return 1.0 / a;
    case TSR_EW_FLOOR:
        return floor(a);
    case TSR_EW_CEIL:
        return ceil(a);
    case TSR_EW_ROUND:
        return nearbyint(a);
    case TSR_EW_SOFTPLUS:
        return softplus(a);
    case TSR_EW_SOFTSIGN:
        return a / (1.0 + fabs(a));
    case TSR_EW_HARD_SIGMOID:
        return clamp01(p0 * a + p1);
    case TSR_EW_HARD_SWISH:
        return a * clamp01(a / 6.0 + 0.5);
    case TSR_EW_ELU:
        return a < 0.0 ? p0 * expm1(a) : a;
    case TSR_EW_SELU:
        return a > 0.0 ? p1 * a : p1 * p0 * expm1(a);
    case TSR_EW_CELU:
        return a > 0.0 ? a : p0 * expm1(a / p0);
    case TSR_EW_THRESHOLDED_RELU: /* NaN: 0 */
        return a > p0 ? a : 0.0;
    case TSR_EW_THRESHOLD_BINARY: /* NaN: 0 */
        return a > p0 ? p1 : 0.0;
    case TSR_EW_SHRINK: /* NaN: 0 */
        return a < -p1 ? a + p0 : (a > p1 ? a - p0 : 0.0);
    case TSR_EW_MISH:
        return a * tanh(softplus(a));
    case TSR_EW_SIN:
        return sin(a);
    case TSR_EW_COS:
        return cos(a);
    case TSR_EW_TAN:
        return tan(a);
    case TSR_EW_ASIN:
        return asin(a);
    case TSR_EW_ACOS:
        return acos(a);
    case TSR_EW_ATAN:
        return atan(a);
    case TSR_EW_SINH:
        return sinh(a);
    case TSR_EW_COSH:
        return cosh(a);
    case TSR_EW_ASINH:
        return asinh(a);
    case TSR_EW_ACOSH:
        return acosh(a);
    case TSR_EW_ATANH:
        return atanh(a);
    case TSR_EW_MIN:
        return (a <= b || isnan(a)) ? a : b;
    case TSR_EW_MAX:
        return (a >= b || isnan(a)) ? a : b;
    case TSR_EW_DIV_IMM:
        return a / p0;
    case TSR_EW_PRELU:
        return a >= 0.0 ? a : a * b;
    case TSR_EW_MOD:
        return fmod(a, b);
    case TSR_EW_MOD_INT: { /* group "dtcompute": the divisor's sign */
        const double r = fmod(a, b);
        return (r != 0.0 && ((r < 0.0) != (b < 0.0))) ? r + b : r;
    }
    case TSR_EW_ADD:
        return a + b;
    case TSR_EW_SUB:
        return a - b;
    case TSR_EW_MUL:
        return a * b;
    case TSR_EW_DIV:
        return a / b;
    case TSR_EW_RELU: /* NaN propagates (ONNX Runtime) */
        return a < 0.0 ? 0.0 : a;
    case TSR_EW_SIGMOID:
        return 1.0 / (1.0 + exp(-a));
    case TSR_EW_TANH:
        return tanh(a);
    case TSR_EW_COPY:
        return a;
    case TSR_EW_EXP:
        return exp(a);
    case TSR_EW_LOG:
        return log(a);
    case TSR_EW_SQRT:
        return sqrt(a);
    case TSR_EW_ERF:
        return erf(a);
    case TSR_EW_GELU:
        /* 0.5 a (1 + erf(a / sqrt 2)) written with erfc: exact in double for negative a too */
        return 0.5 * a * erfc(-a / sqrt(2.0));
    case TSR_EW_GELU_TANH: {
        /* 0.5 a (1 + tanh(u)) directly; below a = -3 double loses 1 + tanh(u) to cancellation,
         * there use the equal a / (1 + exp(-2u)) */
        const double u = 0.79788456080286536 * (a + 0.044715 * a * a * a);
        return a > -3.0 ? 0.5 * a * (1.0 + tanh(u)) : a / (1.0 + exp(-2.0 * u));
    }
    case TSR_EW_SILU:
        return a / (1.0 + exp(-a));
    case TSR_EW_LEAKY_RELU:
        return a >= 0.0 ? a : p0 * a;
    case TSR_EW_CLIP: /* NaN propagates (ONNX Runtime); fmin / fmax would drop it */
        return a < p0 ? p0 : (a > p1 ? p1 : a);
    case TSR_EW_POW:
        return pow(a, b);
    case TSR_EW_NEG:
        return -a;
    default:
        return NAN;
    }
}

static double ref_op(tsr_ew_op op, double a, double b) {
    return ref_op_p(op, a, b, imm0(op), imm1(op));
}

static int op_exact(tsr_ew_op op) {
    switch (op) {
    case TSR_EW_ADD:
    case TSR_EW_SUB:
    case TSR_EW_MUL:
    case TSR_EW_DIV:
    case TSR_EW_RELU:
    case TSR_EW_COPY:
    case TSR_EW_SQRT:
    case TSR_EW_LEAKY_RELU:
    case TSR_EW_CLIP:
    case TSR_EW_NEG:
    case TSR_EW_ABS:
    case TSR_EW_SIGN:
    case TSR_EW_RECIPROCAL:
    case TSR_EW_FLOOR:
    case TSR_EW_CEIL:
    case TSR_EW_ROUND:
    case TSR_EW_THRESHOLDED_RELU:
    case TSR_EW_THRESHOLD_BINARY:
    case TSR_EW_SHRINK:
    case TSR_EW_MIN:
    case TSR_EW_MAX:
    case TSR_EW_DIV_IMM:
    case TSR_EW_PRELU:
    case TSR_EW_MOD:
    case TSR_EW_MOD_INT:
        return 1;
    default:
        return 0;
    }
}

/* Allowed |y - ref| of an inexact op at inputs (a, b) with reference r (see the header). */
static double op_tol(tsr_ew_op op, double a, double b, double r) {
    double rel = TOL_REL;
    switch (op) {
    case TSR_EW_HARD_SIGMOID:
        /* alpha a + beta rounds twice (half an ulp of a value <= 1 each): absolute */
        return TOL_REL * fabs(r) + 1.2e-7 + TOL_ABS;
    case TSR_EW_HARD_SWISH:
        return TOL_REL * fabs(r) + 1.2e-7 * fabs(a) + TOL_ABS;
    case TSR_EW_GELU:
        /* 1 + erf(z) for negative z: erf's error (~1 ulp of 1) becomes absolute, times 0.5|a| */
        return TOL_REL * fabs(r) + 1.2e-7 * fabs(a) + TOL_ABS;
    case TSR_EW_GELU_TANH: {
        /* the rounding of u (a^3 and the sum: about 3 roundings of 2^-24) enters exp(-2u) as a
         * relative error of |2u| times that */
        const double u2 = fabs(2.0 * 0.79788456080286536 * (a + 0.044715 * a * a * a));
        rel += 1.8e-7 * u2;
        break;
    }
    case TSR_EW_POW:
        /* exp(b log|a|): the rounding of b log|a| becomes a relative error |b log|a|| 2^-24;
         * integer exponents by repeated multiplication: about |b| / 2 roundings */
        if (a != 0.0 && isfinite(a) && isfinite(b)) rel += 1.2e-7 * fabs(b * log(fabs(a)));
        if (b == floor(b) && fabs(b) <= 16.0) rel += 6e-8 * fabs(b);
        break;
    default:
        break;
    }
    return rel * fabs(r) + TOL_ABS;
}

/* Checks y (float) against ref (double) for op; returns the max relative error seen (where
 * |ref| >= 1e-30) and fails the test on a violation. a / b: the inputs (NULL = not an array;
 * sa / sb: then the scalar operand). */
static double check_close2(tsr_ew_op op, const char *what, size_t n, const float *y,
                           const double *ref, const float *a, const float *b, float sa, float sb) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double av = a ? a[i] : sa, bv = b ? b[i] : sb;
        double r = op_exact(op) ? (double)(float)ref[i] : ref[i];
        if (!op_exact(op) && fabs(r) > 3.4028234663852886e38) r = copysign(INFINITY, r);
        double d = fabs((double)y[i] - r);
        if (isnan(r)) {
            ck_assert_msg(isnan(y[i]), "%s: i=%zu a=%.9g b=%.9g expected NaN, got %g", what, i, av,
                          bv, y[i]);
            continue;
        }
        if (isinf(r)) {
            ck_assert_msg(y[i] == r, "%s: i=%zu a=%.9g b=%.9g expected %g, got %g", what, i, av, bv,
                          r, y[i]);
            continue;
        }
        if (op_exact(op)) {
            ck_assert_msg(d == 0.0, "%s: i=%zu a=%.9g b=%.9g: got %.9g, expected %.9g", what, i, av,
                          bv, y[i], r);
        } else {
            ck_assert_msg(d <= op_tol(op, av, bv, r),
                          "%s: i=%zu a=%.9g b=%.9g: got %.9g, expected %.9g (rel %.3g)", what, i,
                          av, bv, y[i], r, d / fabs(r));
            if (fabs(r) >= 1e-30 && d / fabs(r) > worst) worst = d / fabs(r);
        }
    }
    return worst;
}

static double check_close(tsr_ew_op op, const char *what, size_t n, const float *y,
                          const double *ref, const float *a, const float *b) {
    return check_close2(op, what, n, y, ref, a, b, 0.0f, 0.0f);
}

static int n_tiers(void) {
    return (int)tsr_cpu_detect_isa() + 1;
}

/* ---- elementwise kernels per ISA ---- */

START_TEST(test_detect) {
    tsr_cpu_isa isa = tsr_cpu_detect_isa();
    ck_assert_int_ge(isa, TSR_ISA_SCALAR);
    ck_assert_int_le(isa, TSR_ISA_AVX512);
    ck_assert_int_eq(tsr_cpu_detect_isa(), isa); /* cached, stable */
    ck_assert_str_eq(tsr_cpu_isa_name(TSR_ISA_AVX2), "avx2");
    for (int t = 0; t <= (int)isa; t++)
        ck_assert_int_eq(tsr_cpu_ew_table((tsr_cpu_isa)t)->isa, t);
    fprintf(stderr, "note: detected ISA %s: testing %d tier(s)\n", tsr_cpu_isa_name(isa),
            n_tiers());
}
END_TEST

START_TEST(test_ew_ops) {
    const tsr_cpu_isa isa = (tsr_cpu_isa)_i;
    if (_i >= n_tiers()) return;
    const struct tsr_cpu_ew_kernels *k = tsr_cpu_ew_table(isa);
    float *a = malloc(MAX_N * sizeof *a), *b = malloc(MAX_N * sizeof *b);
    float *y = malloc((MAX_N + 16) * sizeof *y);
    double *ref = malloc(MAX_N * sizeof *ref);
    double worst[TSR_EW_COUNT] = {0};
    char what[128];
    for (int op = 0; op < TSR_EW_COUNT; op++) {
        if (!tsr_ew_has_float((tsr_ew_op)op)) continue; /* integer only (group "dtcompute") */
        const int arity = tsr_ew_arity((tsr_ew_op)op);
        for (size_t si = 0; si < N_SIZES; si++) {
            const size_t n = k_sizes[si];
            ts_fill_uniform(a, n, 11 + si, -12.0f, 12.0f);
            ts_fill_uniform(b, n, 97 + si, 0.25f, 6.0f);
            for (size_t i = 0; i < n; i += 3)
                b[i] = -b[i]; /* mixed signs, never near 0 */
            /* sentinel after the end: kernels must not write past n */
            for (int i = 0; i < 16; i++)
                y[n + i] = 12345.0f;
            if (arity == 1) {
                snprintf(what, sizeof what, "%s %s n=%zu", tsr_cpu_isa_name(isa),
                         tsr_ew_name((tsr_ew_op)op), n);
                ck_assert_ptr_nonnull(k->unary[op]);
                k->unary[op](n, a, y, imm0(op), imm1(op));
                for (size_t i = 0; i < n; i++)
                    ref[i] = ref_op((tsr_ew_op)op, a[i], 0);
                double w = check_close((tsr_ew_op)op, what, n, y, ref, a, NULL);
                if (w > worst[op]) worst[op] = w;
                /* in place */
                memcpy(y, a, n * sizeof *y);
                k->unary[op](n, y, y, imm0(op), imm1(op));
                check_close((tsr_ew_op)op, what, n, y, ref, a, NULL);
            } else {
                ck_assert_ptr_nonnull(k->binary[op]);
                snprintf(what, sizeof what, "%s %s vv n=%zu", tsr_cpu_isa_name(isa),
                         tsr_ew_name((tsr_ew_op)op), n);
                k->binary[op](n, a, b, y);
                for (size_t i = 0; i < n; i++)
                    ref[i] = ref_op((tsr_ew_op)op, a[i], b[i]);
                check_close((tsr_ew_op)op, what, n, y, ref, a, b);
                snprintf(what, sizeof what, "%s %s vs n=%zu", tsr_cpu_isa_name(isa),
                         tsr_ew_name((tsr_ew_op)op), n);
                k->binary_vs[op](n, a, &b[n / 2], y);
                for (size_t i = 0; i < n; i++)
                    ref[i] = ref_op((tsr_ew_op)op, a[i], b[n / 2]);
                check_close2((tsr_ew_op)op, what, n, y, ref, a, NULL, 0.0f, b[n / 2]);
                snprintf(what, sizeof what, "%s %s sv n=%zu", tsr_cpu_isa_name(isa),
                         tsr_ew_name((tsr_ew_op)op), n);
                k->binary_sv[op](n, &a[n / 2], b, y);
                for (size_t i = 0; i < n; i++)
                    ref[i] = ref_op((tsr_ew_op)op, a[n / 2], b[i]);
                check_close2((tsr_ew_op)op, what, n, y, ref, NULL, b, a[n / 2], 0.0f);
            }
            for (int i = 0; i < 16; i++)
                ck_assert_msg(y[n + i] == 12345.0f, "%s: wrote past the end (n=%zu)",
                              tsr_ew_name((tsr_ew_op)op), n);
        }
    }
    fprintf(stderr,
            "measured %s: max rel error on [-12, 12]: sigmoid %.3g, tanh %.3g, erf %.3g, "
            "exp %.3g, log %.3g (positive half)\n",
            tsr_cpu_isa_name(isa), worst[TSR_EW_SIGMOID], worst[TSR_EW_TANH], worst[TSR_EW_ERF],
            worst[TSR_EW_EXP], worst[TSR_EW_LOG]);
    fprintf(stderr,
            "measured %s: max rel error on [-12, 12]: softplus %.3g, softsign %.3g, elu %.3g, "
            "selu %.3g, celu %.3g, mish %.3g, hard_swish %.3g\n",
            tsr_cpu_isa_name(isa), worst[TSR_EW_SOFTPLUS], worst[TSR_EW_SOFTSIGN],
            worst[TSR_EW_ELU], worst[TSR_EW_SELU], worst[TSR_EW_CELU], worst[TSR_EW_MISH],
            worst[TSR_EW_HARD_SWISH]);
    free(a);
    free(b);
    free(y);
    free(ref);
}
END_TEST

/* Special values: zeros, tiny, the tanh branch point 0.625, overflow/underflow edges, inf, NaN. */
START_TEST(test_ew_special) {
    if (_i >= n_tiers()) return;
    const tsr_cpu_isa isa = (tsr_cpu_isa)_i;
    const struct tsr_cpu_ew_kernels *k = tsr_cpu_ew_table(isa);
    const float x[] = {0.0f,    -0.0f,   1e-7f,   -1e-7f,   1e-3f,     0.3f,    0.6249f,
                       0.625f,  0.6251f, -0.625f, 1.0f,     5.0f,      9.0f,    9.1f,
                       15.0f,   20.0f,   44.0f,   50.0f,    87.0f,     88.3f,   88.72f,
                       89.0f,   100.0f,  -50.0f,  -87.0f,   -88.0f,    -87.33f, -100.0f,
                       -103.0f, -104.0f, -200.0f, INFINITY, -INFINITY, NAN};
    const size_t n = sizeof x / sizeof x[0];
    float y[64];
    double ref[64];
    const tsr_ew_op ops[] = {TSR_EW_SIGMOID, TSR_EW_TANH, TSR_EW_RELU, TSR_EW_COPY};
    for (size_t oi = 0; oi < 4; oi++) {
        k->unary[ops[oi]](n, x, y, 0.0f, 0.0f);
        for (size_t i = 0; i < n; i++)
            ref[i] = ref_op(ops[oi], x[i], 0);
        char what[64];
        snprintf(what, sizeof what, "%s special %s", tsr_cpu_isa_name(isa), tsr_ew_name(ops[oi]));
        check_close(ops[oi], what, n, y, ref, x, NULL);
    }
    /* exp over its whole range plus a dense grid: measures the vector exp against libm. */
    static float g[20001], ge[20001];
    static double gr[20001];
    for (int i = 0; i <= 20000; i++)
        g[i] = -87.0f + 175.5f * (float)i / 20000.0f;
    k->exp(20001, g, ge);
    for (int i = 0; i <= 20000; i++)
        gr[i] = exp((double)g[i]);
    double w = check_close(TSR_EW_SIGMOID /* inexact */, "exp grid", 20001, ge, gr, g, NULL);
    k->exp(n, x, y);
    for (size_t i = 0; i < n; i++)
        ref[i] = exp((double)x[i]);
    /* x = 88.72f: exp is just below FLT_MAX in double but rounds to inf in float */
    for (size_t i = 0; i < n; i++)
        if (ref[i] > 3.4028234663852886e38) ref[i] = INFINITY;
    check_close(TSR_EW_SIGMOID, "exp special", n, y, ref, x, NULL);
    fprintf(stderr, "measured %s: max rel error exp %.3g on [-87, 88.5] (TOL_REL %.3g)\n",
            tsr_cpu_isa_name(isa), w, TOL_REL);
}
END_TEST

/* Grid measurement of one unary op against libm in double: returns the max relative error
 * (|ref| >= 1e-30) and fails on a tolerance violation. */
static double grid_unary(const struct tsr_cpu_ew_kernels *k, tsr_ew_op op, const char *what,
                         size_t n, const float *x) {
    float *y = malloc(n * sizeof *y);
    double *ref = malloc(n * sizeof *ref);
    k->unary[op](n, x, y, imm0(op), imm1(op));
    for (size_t i = 0; i < n; i++)
        ref[i] = ref_op(op, x[i], 0);
    double w = check_close(op, what, n, y, ref, x, NULL);
    free(y);
    free(ref);
    return w;
}

/* New transcendental ops: special values, and dense grids that measure the vector code. */
START_TEST(test_ew_special_new) {
    if (_i >= n_tiers()) return;
    const tsr_cpu_isa isa = (tsr_cpu_isa)_i;
    const struct tsr_cpu_ew_kernels *k = tsr_cpu_ew_table(isa);
    const float x[] = {0.0f,       -0.0f,     1e-45f,   1e-40f,      1.17549435e-38f, 1e-20f,
                       1e-7f,      -1e-7f,    0.5f,     0.70710677f, 0.70710684f,     1.0f,
                       1.0000001f, 2.0f,      0.92773f, 0.9277344f,  0.9277345f,      -0.9277345f,
                       3.9f,       3.93f,     4.0f,     -4.0f,       10.0f,           -10.0f,
                       87.0f,      3.4e38f,   -1.0f,    -3.0f,       -6.0f,           -30.0f,
                       INFINITY,   -INFINITY, NAN};
    const size_t n = sizeof x / sizeof x[0];
    float y[64];
    double ref[64];
    const tsr_ew_op ops[] = {TSR_EW_EXP,  TSR_EW_LOG,       TSR_EW_SQRT,       TSR_EW_ERF,
                             TSR_EW_GELU, TSR_EW_GELU_TANH, TSR_EW_LEAKY_RELU, TSR_EW_CLIP};
    for (size_t oi = 0; oi < sizeof ops / sizeof ops[0]; oi++) {
        const tsr_ew_op op = ops[oi];
        k->unary[op](n, x, y, imm0(op), imm1(op));
        for (size_t i = 0; i < n; i++)
            ref[i] = ref_op(op, x[i], 0);
        /* GELU of -inf: 0.5 * -inf * 0 is NaN in double and in the kernels alike */
        char what[64];
        snprintf(what, sizeof what, "%s special %s", tsr_cpu_isa_name(isa), tsr_ew_name(op));
        check_close(op, what, n, y, ref, x, NULL);
    }
    /* dense grids */
    enum { G = 40001 };
    static float g[G];
    for (int i = 0; i < G; i++) /* log: 2^-140 .. 2^120, log-spaced, plus near 1 */
        g[i] = i < G / 2 ? ldexpf(1.0f, -140) * powf(2.0f, 260.0f * (float)i / (G / 2))
                         : 0.5f + 1.5f * (float)(i - G / 2) / (G / 2);
    const double w_log = grid_unary(k, TSR_EW_LOG, "log grid", G, g);
    for (int i = 0; i < G; i++)
        g[i] = -5.0f + 10.0f * (float)i / (G - 1);
    const double w_erf = grid_unary(k, TSR_EW_ERF, "erf grid", G, g);
    double w_gelu = 0.0, w_gelu_abs = 0.0;
    {
        float *gy = malloc(G * sizeof *gy);
        for (int i = 0; i < G; i++)
            g[i] = -10.0f + 20.0f * (float)i / (G - 1);
        grid_unary(k, TSR_EW_GELU, "gelu grid", G, g);
        k->unary[TSR_EW_GELU](G, g, gy, 0.0f, 0.0f);
        for (int i = 0; i < G; i++) {
            const double r = ref_op(TSR_EW_GELU, g[i], 0), d = fabs(gy[i] - r);
            if (d > w_gelu_abs) w_gelu_abs = d;
            if (g[i] >= -3.0f && fabs(r) > 1e-30 && d / fabs(r) > w_gelu) w_gelu = d / fabs(r);
        }
        free(gy);
    }
    const double w_gt = grid_unary(k, TSR_EW_GELU_TANH, "gelu_tanh grid", G, g);
    fprintf(stderr,
            "measured %s: max rel error log %.3g (2^-140 .. 2^120 and [0.5, 2]), erf %.3g "
            "([-5, 5]), gelu %.3g rel on [-3, 10] / %.3g abs on [-10, 10], gelu_tanh %.3g "
            "([-10, 10])\n",
            tsr_cpu_isa_name(isa), w_log, w_erf, w_gelu, w_gelu_abs, w_gt);
}
END_TEST

/* Group "ewops": special values of every new unary op (zeros, ties of Round, tiny and huge
 * values, +-inf, NaN), dense grids where a formula could cancel (expm1 near 0, softplus and mish
 * far below 0), and the binary ops (Min / Max NaN propagation, Mod's C fmod cases, PRelu). */
START_TEST(test_ew_ewops) {
    if (_i >= n_tiers()) return;
    const tsr_cpu_isa isa = (tsr_cpu_isa)_i;
    const struct tsr_cpu_ew_kernels *k = tsr_cpu_ew_table(isa);
    const float x[] = {
        0.0f,   -0.0f,   1e-45f,     -1e-40f,     1e-20f,  -1e-7f,   0.25f,      0.5f,      -0.5f,
        1.5f,   2.5f,    -2.5f,      0.49999997f, 1.0f,    -1.0f,    0.9999999f, 1.00001f,  -0.99f,
        3.0f,   -3.0f,   8388607.5f, 8388609.0f,  16.0f,   -17.5f,   20.5f,      -40.0f,    88.0f,
        -88.0f, -100.0f, 1e10f,      -1e10f,      3.4e38f, -3.4e38f, INFINITY,   -INFINITY, NAN};
    const size_t n = sizeof x / sizeof x[0];
    float y[64];
    double ref[64];
    for (int op = TSR_EW_ABS; op < TSR_EW_COUNT; op++) {
        if (tsr_ew_arity((tsr_ew_op)op) != 1 || !tsr_ew_has_float((tsr_ew_op)op)) continue;
        k->unary[op](n, x, y, imm0((tsr_ew_op)op), imm1((tsr_ew_op)op));
        for (size_t i = 0; i < n; i++)
            ref[i] = ref_op((tsr_ew_op)op, x[i], 0);
        char what[64];
        snprintf(what, sizeof what, "%s special %s", tsr_cpu_isa_name(isa),
                 tsr_ew_name((tsr_ew_op)op));
        check_close((tsr_ew_op)op, what, n, y, ref, x, NULL);
    }
    /* grids */
    enum { G = 20001 };
    static float g[G];
    double w[4];
    for (int i = 0; i < G; i++) /* expm1's cancellation region and beyond */
        g[i] = -20.0f * powf(10.0f, -8.0f * (float)i / (G - 1));
    w[0] = grid_unary(k, TSR_EW_ELU, "elu grid", G, g);
    w[1] = grid_unary(k, TSR_EW_CELU, "celu grid", G, g);
    for (int i = 0; i < G; i++)
        g[i] = -100.0f + 200.0f * (float)i / (G - 1);
    w[2] = grid_unary(k, TSR_EW_SOFTPLUS, "softplus grid", G, g);
    w[3] = grid_unary(k, TSR_EW_MISH, "mish grid", G, g);
    fprintf(stderr,
            "measured %s: max rel error elu %.3g, celu %.3g ([-20, -2e-7]), softplus %.3g, mish "
            "%.3g ([-100, 100])\n",
            tsr_cpu_isa_name(isa), w[0], w[1], w[2], w[3]);
    /* binary: every pair of special values, vv / vs / sv */
    const float v[] = {0.0f,   -0.0f, 1.0f,     -1.0f,     2.5f, -7.25f,
                       1e-30f, 3e38f, INFINITY, -INFINITY, NAN};
    enum { V = sizeof v / sizeof v[0] };
    float a[V * V], b[V * V], yb[V * V];
    double rb[V * V];
    for (int i = 0; i < V; i++)
        for (int j = 0; j < V; j++) {
            a[i * V + j] = v[i];
            b[i * V + j] = v[j];
        }
    const tsr_ew_op bops[] = {TSR_EW_MIN, TSR_EW_MAX, TSR_EW_PRELU, TSR_EW_MOD, TSR_EW_MOD_INT};
    for (size_t oi = 0; oi < sizeof bops / sizeof bops[0]; oi++) {
        const tsr_ew_op op = bops[oi];
        char what[64];
        snprintf(what, sizeof what, "%s special %s vv", tsr_cpu_isa_name(isa), tsr_ew_name(op));
        k->binary[op](V * V, a, b, yb);
        for (int i = 0; i < V * V; i++)
            rb[i] = ref_op(op, a[i], b[i]);
        check_close(op, what, V * V, yb, rb, a, b);
        for (int j = 0; j < V; j++) {
            snprintf(what, sizeof what, "%s special %s vs/sv", tsr_cpu_isa_name(isa),
                     tsr_ew_name(op));
            k->binary_vs[op](V, v, &v[j], yb);
            for (int i = 0; i < V; i++)
                rb[i] = ref_op(op, v[i], v[j]);
            check_close2(op, what, V, yb, rb, v, NULL, 0.0f, v[j]);
            k->binary_sv[op](V, &v[j], v, yb);
            for (int i = 0; i < V; i++)
                rb[i] = ref_op(op, v[j], v[i]);
            check_close2(op, what, V, yb, rb, NULL, v, v[j], 0.0f);
        }
    }
}
END_TEST

/* POW: every form, integer exponents of negative bases (Pow(x, 2)), the C99 special cases. */
START_TEST(test_ew_pow) {
    if (_i >= n_tiers()) return;
    const tsr_cpu_isa isa = (tsr_cpu_isa)_i;
    const struct tsr_cpu_ew_kernels *k = tsr_cpu_ew_table(isa);
    enum { N = 1003 };
    float a[N], b[N], y[N];
    double ref[N];
    char what[96];
    ts_fill_uniform(a, N, 61, -8.0f, 8.0f);
    /* scalar exponents: integer fast path (incl. negative and 0) and general path */
    const float es[] = {2.0f, 3.0f,  0.0f, 1.0f,  -1.0f, -2.0f,
                        7.0f, 64.0f, 0.5f, -1.5f, 2.5f,  65.0f};
    double worst = 0.0;
    for (size_t ei = 0; ei < sizeof es / sizeof es[0]; ei++) {
        k->binary_vs[TSR_EW_POW](N, a, &es[ei], y);
        for (size_t i = 0; i < N; i++)
            ref[i] = pow(a[i], es[ei]);
        snprintf(what, sizeof what, "%s pow vs b=%g", tsr_cpu_isa_name(isa), es[ei]);
        double w = check_close2(TSR_EW_POW, what, N, y, ref, a, NULL, 0.0f, es[ei]);
        if (es[ei] == 2.0f) /* x^2 is exactly rounded on every tier */
            for (size_t i = 0; i < N; i++)
                ck_assert_msg(y[i] == a[i] * a[i], "%s: %g^2 = %g", what, a[i], y[i]);
        if (w > worst) worst = w;
    }
    /* vv with integer and non-integer exponents of both signs over bases of both signs */
    for (size_t i = 0; i < N; i++) {
        b[i] = (i % 3 == 0) ? (float)((int)(i % 11) - 5) : -4.0f + 8.0f * (float)((i * 37) % N) / N;
        a[i] = (i % 5 == 0) ? -a[i] : a[i];
    }
    k->binary[TSR_EW_POW](N, a, b, y);
    for (size_t i = 0; i < N; i++)
        ref[i] = pow(a[i], b[i]);
    double w = check_close(TSR_EW_POW, "pow vv", N, y, ref, a, b);
    if (w > worst) worst = w;
    /* sv: positive and negative scalar base */
    const float bases[] = {2.0f, 0.3f, -2.0f, 1.0f, 0.0f};
    for (size_t bi = 0; bi < sizeof bases / sizeof bases[0]; bi++) {
        k->binary_sv[TSR_EW_POW](N, &bases[bi], b, y);
        for (size_t i = 0; i < N; i++)
            ref[i] = pow(bases[bi], b[i]);
        snprintf(what, sizeof what, "%s pow sv a=%g", tsr_cpu_isa_name(isa), bases[bi]);
        check_close2(TSR_EW_POW, what, N, y, ref, NULL, b, bases[bi], 0.0f);
    }
    /* special cases, against libm pow in double (C99 Annex F) */
    const float sp[] = {0.0f,      -0.0f, 1.0f,   -1.0f, 2.0f,        -2.0f,
                        0.5f,      -0.5f, 3.0f,   -3.0f, 2.5f,        INFINITY,
                        -INFINITY, NAN,   1e-30f, 1e30f, 16777216.0f, 16777217.0f};
    enum { S = sizeof sp / sizeof sp[0] };
    float sa[S * S], sb[S * S], sy[S * S];
    double sr[S * S];
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++) {
            sa[i * S + j] = sp[i];
            sb[i * S + j] = sp[j];
            sr[i * S + j] = pow(sp[i], sp[j]);
        }
    k->binary[TSR_EW_POW](S * S, sa, sb, sy);
    check_close(TSR_EW_POW, "pow special vv", S * S, sy, sr, sa, sb);
    for (int j = 0; j < S; j++) {
        k->binary_vs[TSR_EW_POW](S, sp, &sp[j], sy);
        for (int i = 0; i < S; i++)
            sr[i] = pow(sp[i], sp[j]);
        snprintf(what, sizeof what, "%s pow special vs b=%g", tsr_cpu_isa_name(isa), sp[j]);
        check_close2(TSR_EW_POW, what, S, sy, sr, sp, NULL, 0.0f, sp[j]);
    }
    fprintf(stderr,
            "measured %s: max rel error pow %.3g (bases [-8, 8], exponents [-4, 4] and "
            "integers up to 65)\n",
            tsr_cpu_isa_name(isa), worst);
}
END_TEST

START_TEST(test_ew_axpy_softmax_row) {
    if (_i >= n_tiers()) return;
    const struct tsr_cpu_ew_kernels *k = tsr_cpu_ew_table((tsr_cpu_isa)_i);
    float x[MAX_N], y[MAX_N], c[MAX_N];
    for (size_t si = 0; si < N_SIZES; si++) {
        const size_t n = k_sizes[si];
        ts_fill_uniform(x, n, 5 + si, -3.0f, 3.0f);
        ts_fill_uniform(c, n, 7 + si, -3.0f, 3.0f);
        memcpy(y, c, n * sizeof *y);
        k->axpy(n, 0.75f, x, y);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(fabs(y[i] - (c[i] + 0.75 * x[i])) <= 1e-6 * (1 + fabs(c[i])),
                          "axpy n=%zu i=%zu", n, i);
        x[n / 3] = 40.0f; /* a dominant entry: the max subtraction matters */
        k->softmax_row(n, x, y);
        double mx = -INFINITY, s = 0.0;
        for (size_t i = 0; i < n; i++)
            mx = fmax(mx, x[i]);
        for (size_t i = 0; i < n; i++)
            s += exp(x[i] - mx);
        for (size_t i = 0; i < n; i++) {
            double r = exp(x[i] - mx) / s;
            ck_assert_msg(fabs(y[i] - r) <= 2e-6 * (1e-3 + r) + 1e-7,
                          "softmax_row n=%zu i=%zu: %g vs %g", n, i, y[i], r);
        }
    }
}
END_TEST

/* stream_copy copies exactly n floats at every alignment of y (plain head up to the 64-byte
 * boundary, streaming body, masked tail) and leaves the neighbours alone; store_fence exists. */
START_TEST(test_ew_stream_copy) {
    if (_i >= n_tiers()) return;
    const struct tsr_cpu_ew_kernels *k = tsr_cpu_ew_table((tsr_cpu_isa)_i);
    ck_assert_ptr_nonnull(k->stream_copy);
    ck_assert_ptr_nonnull(k->store_fence);
    enum { CAP = 1024 + 64 };
    float *buf = tsr_aligned_alloc((CAP + 32) * sizeof *buf); /* 64-byte aligned */
    float x[CAP];
    ts_fill_uniform(x, CAP, 91, -4.0f, 4.0f);
    const size_t ns[] = {0, 1, 7, 15, 16, 17, 31, 33, 100, 1000, 1024};
    for (size_t off = 0; off < 17; off++)
        for (size_t si = 0; si < sizeof ns / sizeof ns[0]; si++) {
            const size_t n = ns[si];
            for (size_t i = 0; i < CAP + 32; i++)
                buf[i] = -99.0f;
            k->stream_copy(n, x, buf + 1 + off);
            k->store_fence();
            ck_assert_msg(buf[off] == -99.0f, "%s: wrote before y (off %zu n %zu)",
                          tsr_cpu_isa_name(k->isa), off, n);
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(buf[1 + off + i] == x[i], "%s: off %zu n %zu: element %zu",
                              tsr_cpu_isa_name(k->isa), off, n, i);
            ck_assert_msg(buf[1 + off + n] == -99.0f, "%s: wrote past y (off %zu n %zu)",
                          tsr_cpu_isa_name(k->isa), off, n);
        }
    free(buf);
}
END_TEST

/* bias_act_stream == bias_act into a copy, at every alignment of y, for each activation. */
START_TEST(test_ew_bias_act_stream) {
    if (_i >= n_tiers()) return;
    const struct tsr_cpu_ew_kernels *k = tsr_cpu_ew_table((tsr_cpu_isa)_i);
    enum { CAP = 300 };
    float x[CAP], c[CAP], ref[CAP];
    float *buf = tsr_aligned_alloc((CAP + 64) * sizeof *buf); /* 64-byte aligned */
    ts_fill_uniform(x, CAP, 93, -3.0f, 3.0f);
    ts_fill_uniform(c, CAP, 94, -1.0f, 1.0f);
    const size_t ns[] = {1, 15, 16, 40, 257};
    for (int act = TSR_ACT_NONE; act <= TSR_ACT_LAST; act++)
        for (int with_c = 0; with_c < 2; with_c++)
            for (size_t off = 0; off < 17; off += 3)
                for (size_t si = 0; si < sizeof ns / sizeof ns[0]; si++) {
                    const size_t n = ns[si];
                    memcpy(ref, x, n * sizeof *ref);
                    k->bias_act(n, 0.75f, with_c ? c : NULL, ref, (tsr_activation)act, -0.5f, 1.5f);
                    for (size_t i = 0; i < CAP + 64; i++)
                        buf[i] = -99.0f;
                    k->bias_act_stream(n, 0.75f, with_c ? c : NULL, x, buf + 1 + off,
                                       (tsr_activation)act, -0.5f, 1.5f);
                    k->store_fence();
                    ck_assert(buf[off] == -99.0f && buf[1 + off + n] == -99.0f);
                    for (size_t i = 0; i < n; i++)
                        if (buf[1 + off + i] != ref[i])
                            ck_assert_msg(0, "%s act %d c %d off %zu n %zu: [%zu] %.9g vs %.9g",
                                          tsr_cpu_isa_name(k->isa), act, with_c, off, n, i,
                                          buf[1 + off + i], ref[i]);
                }
    free(buf);
}
END_TEST

/* ---- GEMM partition ----
 * The numbers of every GEMM, fused elementwise region, softmax, conv, pool, reduction, transpose,
 * concat and layernorm are checked against runtime/reference.c by the kernel harness
 * (check_kernels.c). What is below tests the CPU executors' own machinery with a chosen
 * environment (cache sizes, thread counts): how work is split, which path a geometry takes, and
 * that neither a split nor an in-place operand changes the result. */

static const struct tsr_cpu_ew_kernels *tier_table(int i) {
    return tsr_cpu_ew_table((tsr_cpu_isa)i);
}

/* |a - b| <= 1e-5 * (1 + |b|) elementwise (float rounding of the same sums in another order). */
static void expect_same(const float *a, const float *b, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - (double)b[i]) <= 1e-5 * (1.0 + fabs((double)b[i]))))
            ck_assert_msg(0, "%s: element %zu: %.9g vs %.9g", what, i, a[i], b[i]);
}

/* Runs g on env with deterministic operands into Y (batch*M*N floats); with in_place the
 * residual is Y itself (pre-filled with R). */
static void run_gemm(const struct tsr_cpu_env *env, const struct tsr_k_gemm *g, int in_place,
                     float *Y) {
    ck_assert_int_eq(tsr_cpu_gemm_check(NULL, "gemm", g), TSR_OK);
    const int64_t M = g->M, N = g->N, K = g->K, batch = g->batch;
    const int64_t a_rows = g->trans_a ? K : M, b_rows = g->trans_b ? N : K;
    const size_t a_n = (size_t)((batch - 1) * g->stride_a + a_rows * g->lda);
    const size_t b_n = (size_t)((batch - 1) * g->stride_b + b_rows * g->ldb);
    const size_t c_n = (size_t)((batch - 1) * g->c_stride_b + (M - 1) * g->c_stride_m +
                                (N - 1) * g->c_stride_n + 1);
    const size_t y_n = (size_t)(batch * M * N);
    float *A = malloc(a_n * sizeof *A), *B = malloc(b_n * sizeof *B), *C = malloc(c_n * sizeof *C);
    float *R = malloc(y_n * sizeof *R);
    ts_fill_uniform(A, a_n, 1, -1.0f, 1.0f);
    ts_fill_uniform(B, b_n, 2, -1.0f, 1.0f);
    ts_fill_uniform(C, c_n, 3, -2.0f, 2.0f);
    ts_fill_uniform(R, y_n, 4, -1.0f, 1.0f);
    for (size_t i = 0; i < y_n; i++)
        Y[i] = in_place ? R[i] : NAN; /* every element written */
    tsr_cpu_gemm_run(env, g, A, B, g->has_c ? C : NULL, g->has_residual ? (in_place ? Y : R) : NULL,
                     Y);
    free(A);
    free(B);
    free(C);
    free(R);
}

/* g on env (threads) equals g on one thread without a pool, and in place (when g has a residual)
 * equals out of place. */
static void check_gemm_split(const struct tsr_cpu_env *env, const struct tsr_k_gemm *g,
                             const char *what) {
    const size_t n = (size_t)(g->batch * g->M * g->N);
    float *y = malloc(n * sizeof *y), *y1 = malloc(n * sizeof *y1);
    struct tsr_cpu_env one = *env;
    one.pool = NULL;
    one.n_threads = 1;
    one.scratch_floats = tsr_cpu_gemm_scratch_floats(&one, g);
    one.scratch = one.scratch_floats ? malloc(one.scratch_floats * sizeof(float)) : NULL;
    run_gemm(env, g, 0, y);
    run_gemm(&one, g, 0, y1);
    expect_same(y, y1, n, what);
    if (g->has_residual) {
        run_gemm(env, g, 1, y1);
        expect_same(y1, y, n, what);
    }
    free(one.scratch);
    free(y);
    free(y1);
}

/* GEMM blocks on a 3-thread pool: row panels with an epilogue, one block per thread without,
 * column blocks when M is small, batches, the OpenBLAS-threaded path, streamed output. */
START_TEST(test_gemm_threads) {
    if (_i >= n_tiers()) return;
    struct tsr_cpu_pool *pool = NULL;
    ck_assert_int_eq(tsr_cpu_pool_create(NULL, NULL, 3, &pool), TSR_OK);
    const int blas_threads = openblas_get_num_threads();
    struct tsr_cpu_env env = {.ew = tier_table(_i),
                              .pool = pool,
                              .l1d_bytes = 32768,
                              .panel_cache_bytes = 65536,
                              .n_threads = 3};
    char what[160];
    /* row panels: 600 x 300 x 64 = 23 MFLOP, bias + relu */
    struct tsr_k_gemm g = {.batch = 1,
                           .M = 600,
                           .N = 300,
                           .K = 64,
                           .lda = 64,
                           .ldb = 300,
                           .alpha = 1.0f,
                           .has_c = 1,
                           .beta = 1.0f,
                           .c_stride_n = 1,
                           .act = TSR_ACT_RELU};
    int64_t mb = 0, nb = 0;
    tsr_cpu_gemm_split(&env, &g, &mb, &nb);
    ck_assert_int_eq(nb, g.N);
    ck_assert_int_le(mb, tsr_cpu_gemm_panel_rows(g.M, g.N, g.K, env.panel_cache_bytes));
    ck_assert_int_ge((g.M + mb - 1) / mb, 3);
    snprintf(what, sizeof what, "%s threaded gemm row panels", tsr_cpu_isa_name(_i));
    check_gemm_split(&env, &g, what);
    /* no epilogue: one block per thread */
    g.has_c = 0;
    g.act = TSR_ACT_NONE;
    tsr_cpu_gemm_split(&env, &g, &mb, &nb);
    ck_assert_int_eq(mb, 200);
    ck_assert_int_eq(nb, g.N);
    snprintf(what, sizeof what, "%s threaded gemm bare", tsr_cpu_isa_name(_i));
    check_gemm_split(&env, &g, what);
    /* small M: column blocks (multiples of 16), transposed B, leaky relu, residual */
    struct tsr_k_gemm s = {.batch = 1,
                           .M = 7,
                           .N = 2000,
                           .K = 256,
                           .trans_b = 1,
                           .lda = 256,
                           .ldb = 256,
                           .alpha = 0.5f,
                           .has_c = 1,
                           .beta = 2.0f,
                           .c_stride_n = 1,
                           .has_residual = 1,
                           .act = TSR_ACT_LEAKY_RELU,
                           .act_p0 = 0.1f};
    tsr_cpu_gemm_split(&env, &s, &mb, &nb);
    ck_assert_int_eq(mb, s.M);
    ck_assert_int_lt(nb, s.N);
    ck_assert_int_eq(nb % 16, 0);
    snprintf(what, sizeof what, "%s threaded gemm column blocks", tsr_cpu_isa_name(_i));
    check_gemm_split(&env, &s, what);
    /* batches spread over the threads, C [M, N] per batch, sigmoid */
    struct tsr_k_gemm b = {.batch = 5,
                           .M = 40,
                           .N = 96,
                           .K = 200,
                           .lda = 200,
                           .ldb = 96,
                           .stride_a = 40 * 200,
                           .stride_b = 0,
                           .alpha = 1.0f,
                           .has_c = 1,
                           .beta = 1.0f,
                           .c_stride_b = 40 * 96,
                           .c_stride_m = 96,
                           .c_stride_n = 1,
                           .act = TSR_ACT_SIGMOID};
    snprintf(what, sizeof what, "%s threaded gemm batches", tsr_cpu_isa_name(_i));
    check_gemm_split(&env, &b, what);
    /* B larger than 4 panel caches: one OpenBLAS-threaded sgemm, epilogue over the pool */
    struct tsr_k_gemm wide = {.batch = 2,
                              .M = 200,
                              .N = 300,
                              .K = 300,
                              .lda = 300,
                              .ldb = 300,
                              .stride_a = 200 * 300,
                              .stride_b = 300 * 300,
                              .alpha = 1.0f,
                              .has_c = 1,
                              .beta = 0.5f,
                              .c_stride_n = 1,
                              .has_residual = 1,
                              .act = TSR_ACT_TANH};
    ck_assert(tsr_cpu_gemm_blas_threaded(&env, &wide));
    snprintf(what, sizeof what, "%s blas-threaded gemm epilogue", tsr_cpu_isa_name(_i));
    check_gemm_split(&env, &wide, what);
    /* a large output (>= TSR_CPU_EW_STREAM_MIN_BYTES): blocks through per-thread scratch, rows
     * out with streaming stores; N = 264 is not a multiple of 16 (misaligned rows, tails) */
    struct tsr_k_gemm big = {.batch = 1,
                             .M = 16384,
                             .N = 264,
                             .K = 24,
                             .lda = 24,
                             .ldb = 264,
                             .alpha = 1.0f,
                             .has_c = 1,
                             .beta = 1.0f,
                             .c_stride_n = 1,
                             .has_residual = 1,
                             .act = TSR_ACT_RELU};
    ck_assert(tsr_cpu_gemm_streams(&big));
    const size_t per = tsr_cpu_gemm_scratch_floats(&env, &big);
    ck_assert_uint_gt(per, 0);
    float *scratch = malloc(3 * per * sizeof *scratch);
    env.scratch = scratch;
    env.scratch_floats = per;
    snprintf(what, sizeof what, "%s threaded gemm streamed output", tsr_cpu_isa_name(_i));
    check_gemm_split(&env, &big, what);
    big.has_residual = 0; /* bias + activation: one pass from scratch to Y */
    big.act = TSR_ACT_CLIP;
    big.act_p0 = -0.5f;
    big.act_p1 = 2.0f;
    snprintf(what, sizeof what, "%s threaded gemm streamed bias+clip", tsr_cpu_isa_name(_i));
    check_gemm_split(&env, &big, what);
    big.act = TSR_ACT_NONE;
    big.has_c = 0;
    ck_assert_uint_gt(tsr_cpu_gemm_scratch_floats(&env, &big), 0);
    snprintf(what, sizeof what, "%s threaded gemm streamed bare", tsr_cpu_isa_name(_i));
    check_gemm_split(&env, &big, what);
    free(scratch);
    /* OpenBLAS's thread count is what it was before the runs (held at 1 only during them) */
    ck_assert_int_eq(openblas_get_num_threads(), blas_threads);
    tsr_cpu_pool_destroy(pool);
}
END_TEST

/* Panels of a small cache; the residual in place (Y is R) equals the residual apart, with and
 * without C, and with K = 0 (Y = C + R). */
START_TEST(test_gemm_panels_in_place) {
    if (_i >= n_tiers()) return;
    struct tsr_cpu_env env = {
        .ew = tier_table(_i), .l1d_bytes = 32768, .panel_cache_bytes = 16384, .n_threads = 1};
    /* A panel of 16 KiB / 2 over (N + K) * 4 bytes per row = 36 rows: 28 panels. */
    ck_assert_int_lt(tsr_cpu_gemm_panel_rows(1000, 37, 19, env.panel_cache_bytes), 1000 / 4);
    struct tsr_k_gemm g = {.batch = 1,
                           .M = 300,
                           .N = 33,
                           .K = 40,
                           .lda = 45,
                           .ldb = 35,
                           .alpha = 1.0f,
                           .has_residual = 1,
                           .act = TSR_ACT_LEAKY_RELU,
                           .act_p0 = 0.2f};
    check_gemm_split(&env, &g, "gemm residual in place, lda/ldb padded");
    g.has_c = 1;
    g.beta = 1.0f;
    g.c_stride_n = 1;
    check_gemm_split(&env, &g, "gemm bias + residual in place");
    g.K = 0;
    check_gemm_split(&env, &g, "gemm K=0 residual in place");
}
END_TEST

START_TEST(test_gemm_check_rejects) {
    struct tsr_k_gemm g = {
        .batch = 1, .M = 4, .N = 5, .K = 6, .lda = 3 /* < K */, .ldb = 5, .alpha = 1.0f};
    ck_assert_int_eq(tsr_cpu_gemm_check(NULL, "bad", &g), TSR_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(NULL)->message, "bad"));
    g.lda = 6;
    g.act = (tsr_activation)42;
    ck_assert_int_eq(tsr_cpu_gemm_check(NULL, "bad", &g), TSR_E_UNSUPPORTED);
    g.act = TSR_ACT_NONE;
    ck_assert_int_eq(tsr_cpu_gemm_check(NULL, "ok", &g), TSR_OK);
}
END_TEST

/* ---- fused elementwise executor ---- */

#define INSTR(op_, dst_, a_, b_)                                                                   \
    { .op = TSR_EW_##op_, .dst = (dst_), .a = (a_), .b = (b_) }

/* Many tiles per row (a small L1) on a 3-thread pool equal one thread without a pool, and in
 * place (y == a) equals out of place. */
START_TEST(test_ew_exec_tiles_and_threads) {
    if (_i >= n_tiers()) return;
    struct tsr_cpu_pool *pool = NULL;
    ck_assert_int_eq(tsr_cpu_pool_create(NULL, NULL, 3, &pool), TSR_OK);
    const int64_t rows = 4, inner = 70001; /* > 64 Ki elements: parallel; odd tail tile */
    const size_t total = (size_t)(rows * inner);
    float *a = malloc(total * sizeof *a), *bias = malloc((size_t)inner * sizeof *bias);
    ts_fill_uniform(a, total, 41, -5.0f, 5.0f);
    ts_fill_uniform(bias, (size_t)inner, 42, -1.0f, 1.0f);
    struct tsr_k_ew k = {.rank = 2,
                         .dims = {rows, inner},
                         .strides = {{inner, 1}, {0, 1}},
                         .n_instrs = 2,
                         .n_regs = 1,
                         .instrs = {INSTR(ADD, 0, -1, -2), INSTR(TANH, 0, 0, 0)}};
    ck_assert_int_eq(tsr_cpu_ew_check(NULL, "tiles", &k, 2), TSR_OK);
    const size_t l1 = 4096;
    const size_t per = tsr_cpu_ew_scratch_floats(&k, l1);
    ck_assert_uint_lt(tsr_cpu_ew_tile(&k, l1), 1024);
    float *scratch = malloc(3 * per * sizeof *scratch);
    struct tsr_cpu_env env = {.ew = tier_table(_i),
                              .pool = pool,
                              .l1d_bytes = l1,
                              .panel_cache_bytes = 1 << 20,
                              .scratch = scratch,
                              .scratch_floats = per,
                              .n_threads = 3};
    struct tsr_cpu_env one = env;
    one.pool = NULL;
    one.n_threads = 1;
    const float *in[2] = {a, bias};
    float *y = malloc(total * sizeof *y), *y1 = malloc(total * sizeof *y1);
    tsr_cpu_ew_run(&env, &k, in, y);
    tsr_cpu_ew_run(&one, &k, in, y1);
    ck_assert(ts_max_abs_diff(y, y1, total) == 0.0);
    tsr_cpu_ew_run(&env, &k, in, a);
    ck_assert(ts_max_abs_diff(a, y, total) == 0.0);
    tsr_cpu_pool_destroy(pool);
    free(a);
    free(bias);
    free(scratch);
    free(y);
    free(y1);
}
END_TEST

/* A region whose output exceeds TSR_CPU_EW_STREAM_MIN_BYTES goes out with streaming stores
 * (the last instruction's tile is copied from its register tile), on two threads; the output
 * pointer is misaligned by one float so that every tile starts off the 64-byte grid. */
START_TEST(test_ew_exec_streaming) {
    if (_i >= n_tiers()) return;
    struct tsr_cpu_pool *pool = NULL;
    ck_assert_int_eq(tsr_cpu_pool_create(NULL, NULL, 2, &pool), TSR_OK);
    const int64_t rows = 3, inner = ((int64_t)1 << 21) + 5; /* 24 MiB of output */
    const size_t total = (size_t)(rows * inner);
    ck_assert_uint_ge(total * sizeof(float), TSR_CPU_EW_STREAM_MIN_BYTES);
    float *a = malloc(total * sizeof *a), *b = malloc((size_t)inner * sizeof *b);
    float *ybuf = malloc((total + 2) * sizeof *ybuf);
    ts_fill_uniform(a, total, 51, -3.0f, 3.0f);
    ts_fill_uniform(b, (size_t)inner, 52, -1.0f, 1.0f);
    const float half = 0.5f;
    /* y = relu(a + b) * 0.5 */
    struct tsr_k_ew k = {
        .rank = 2,
        .dims = {rows, inner},
        .strides = {{inner, 1}, {0, 1}, {0, 0}},
        .n_instrs = 3,
        .n_regs = 1,
        .instrs = {INSTR(ADD, 0, -1, -2), INSTR(RELU, 0, 0, 0), INSTR(MUL, 0, 0, -3)}};
    const size_t per = tsr_cpu_ew_scratch_floats(&k, 32768);
    float *scratch = malloc(2 * per * sizeof *scratch);
    struct tsr_cpu_env env = {.ew = tier_table(_i),
                              .pool = pool,
                              .l1d_bytes = 32768,
                              .panel_cache_bytes = 1 << 20,
                              .scratch = scratch,
                              .scratch_floats = per,
                              .n_threads = 2};
    const float *in[3] = {a, b, &half};
    ybuf[0] = 123.0f;
    ybuf[total + 1] = 456.0f;
    float *y = ybuf + 1;
    ck_assert_int_eq(tsr_cpu_ew_check(NULL, "stream", &k, 3), TSR_OK);
    tsr_cpu_ew_run(&env, &k, in, y);
    ck_assert(ybuf[0] == 123.0f && ybuf[total + 1] == 456.0f);
    for (size_t e = 0; e < total; e++) {
        const float s = a[e] + b[e % (size_t)inner];
        const float r = (s > 0.0f ? s : 0.0f) * 0.5f; /* exact in float, as the kernels */
        if (y[e] != r) ck_assert_msg(0, "element %zu: got %.9g expected %.9g", e, y[e], r);
    }
    tsr_cpu_pool_destroy(pool);
    free(a);
    free(b);
    free(ybuf);
    free(scratch);
}
END_TEST

START_TEST(test_ew_check_rejects) {
    struct tsr_k_ew k = {.rank = 2,
                         .dims = {4, 8},
                         .strides = {{16, 2}},
                         .n_instrs = 1,
                         .n_regs = 1,
                         .instrs = {INSTR(RELU, 0, -1, 0)}};
    ck_assert_int_eq(tsr_cpu_ew_check(NULL, "strided", &k, 1), TSR_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(NULL)->message, "strided"));
    k.strides[0][1] = 1;
    ck_assert_int_eq(tsr_cpu_ew_check(NULL, "ok", &k, 1), TSR_OK);
    ck_assert_int_eq(tsr_cpu_ew_check(NULL, "no input", &k, 0), TSR_E_INVALID_ARG);
    k.instrs[0].dst = 3;
    ck_assert_int_eq(tsr_cpu_ew_check(NULL, "bad reg", &k, 1), TSR_E_INVALID_ARG);
}
END_TEST

/* ---- conv, pool, softmax, layernorm: paths and in-place operands ---- */

static struct tsr_cpu_env exec_env(int tier, struct tsr_cpu_pool *pool, size_t panel_cache,
                                   float *scratch, size_t scratch_floats) {
    struct tsr_cpu_env env = {.ew = tier_table(tier),
                              .pool = pool,
                              .l1d_bytes = 32768,
                              .panel_cache_bytes = panel_cache,
                              .scratch = scratch,
                              .scratch_floats = scratch_floats,
                              .n_threads = tsr_cpu_pool_threads(pool),
                              .conv_tile = 1}; /* the AVX2 tier's register-tile conv path */
    return env;
}

/* Conv c with the residual in place (Y is R) equals the residual apart. */
static void check_conv_in_place(int tier, struct tsr_cpu_pool *pool, const struct tsr_k_conv *c,
                                size_t panel_cache, const char *what) {
    ck_assert_int_eq(tsr_cpu_conv_check(NULL, what, c), TSR_OK);
    const int64_t cg = c->C / c->group;
    const size_t nx = (size_t)(c->N * c->C * c->H * c->W), nw = (size_t)(c->M * cg * c->KH * c->KW);
    const size_t ny = (size_t)(c->N * c->M * c->OH * c->OW);
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *b = malloc((size_t)c->M * 4);
    float *r = malloc(ny * sizeof *r), *y = malloc(ny * sizeof *y), *y2 = malloc(ny * sizeof *y2);
    ts_fill_uniform(x, nx, 71, -1.0f, 1.0f);
    ts_fill_uniform(w, nw, 72, -1.0f, 1.0f);
    ts_fill_uniform(b, (size_t)c->M, 73, -1.0f, 1.0f);
    ts_fill_uniform(r, ny, 74, -1.0f, 1.0f);
    const size_t sf = tsr_cpu_conv_scratch_floats(c, panel_cache) + 16;
    float *scratch = malloc(sf * (size_t)tsr_cpu_pool_threads(pool) * sizeof *scratch);
    struct tsr_cpu_env env = exec_env(tier, pool, panel_cache, scratch, sf);
    tsr_cpu_conv_run(&env, c, x, w, c->has_bias ? b : NULL, r, y);
    memcpy(y2, r, ny * sizeof *y2);
    tsr_cpu_conv_run(&env, c, x, w, c->has_bias ? b : NULL, y2, y2);
    expect_same(y2, y, ny, what);
    free(x);
    free(w);
    free(b);
    free(r);
    free(y);
    free(y2);
    free(scratch);
}

static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, int64_t d) {
    return (in + pb + pe - d * (k - 1) - 1) / s + 1;
}

/* Which conv path a geometry takes (im2col panels, the direct depthwise kernel, 1x1 without
 * im2col), residuals in place, and bad geometries rejected with the kernel's name. */
START_TEST(test_conv_paths) {
    if (_i >= n_tiers()) return;
    struct tsr_cpu_pool *pool = NULL;
    ck_assert_int_eq(tsr_cpu_pool_create(NULL, NULL, 2, &pool), TSR_OK);
    /* 3x3 pad 1 stride 1, bias + residual + relu, several im2col panels (4 KiB cache) */
    struct tsr_k_conv c = {.N = 2,
                           .C = 3,
                           .H = 9,
                           .W = 11,
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
                           .has_residual = 1,
                           .act = TSR_ACT_RELU};
    c.OH = out_size(c.H, 3, 1, 1, 1, 1);
    c.OW = out_size(c.W, 3, 1, 1, 1, 1);
    ck_assert_int_lt(tsr_cpu_conv_panel_cols(&c, 4096), c.OH * c.OW);
    check_conv_in_place(_i, pool, &c, 4096, "conv 3x3 residual in place");
    /* depthwise 3x3 stride 2 pad 1, bias + residual + clip: the direct path */
    struct tsr_k_conv c3 = {.N = 2,
                            .C = 8,
                            .H = 64,
                            .W = 61,
                            .M = 8,
                            .KH = 3,
                            .KW = 3,
                            .stride_h = 2,
                            .stride_w = 2,
                            .pad_t = 1,
                            .pad_l = 1,
                            .dil_h = 1,
                            .dil_w = 1,
                            .group = 8,
                            .has_bias = 1,
                            .has_residual = 1,
                            .act = TSR_ACT_CLIP,
                            .act_p0 = -0.5f,
                            .act_p1 = 1.5f};
    c3.OH = out_size(c3.H, 3, 2, 1, 1, 1);
    c3.OW = out_size(c3.W, 3, 2, 1, 1, 1);
    /* scratch: one zero-padded input plane per thread, rows (OH-1)*2 + 3, columns up to the
     * last 16-column chunk's last tap at stride 2: 16 * ceil(OW / 16) * 2 + 2 */
    ck_assert_uint_eq(tsr_cpu_conv_scratch_floats(&c3, 4096),
                      (size_t)((c3.OH - 1) * 2 + 3) * (size_t)(16 * ((c3.OW + 15) / 16) * 2 + 2));
    check_conv_in_place(_i, pool, &c3, 4096, "conv depthwise in place");
    /* 1x1 stride 1: GEMM on the NCHW data, no scratch; grouped, residual in place */
    struct tsr_k_conv c5 = {.N = 3,
                            .C = 6,
                            .H = 7,
                            .W = 9,
                            .M = 4,
                            .OH = 7,
                            .OW = 9,
                            .KH = 1,
                            .KW = 1,
                            .stride_h = 1,
                            .stride_w = 1,
                            .dil_h = 1,
                            .dil_w = 1,
                            .group = 2,
                            .has_residual = 1,
                            .act = TSR_ACT_TANH};
    /* 1x1 stride 1: OpenBLAS on the image in place (every tier), no scratch */
    ck_assert_uint_eq(tsr_cpu_conv_scratch_floats(&c5, 4096), 0);
    check_conv_in_place(_i, pool, &c5, 1024, "conv 1x1 grouped residual in place");
    /* 1x1 with stride 2: im2col path */
    c5.stride_h = c5.stride_w = 2;
    c5.OH = 4;
    c5.OW = 5;
    ck_assert_uint_gt(tsr_cpu_conv_scratch_floats(&c5, 4096), 0);
    /* bad geometry is rejected with the kernel's name */
    c5.group = 4; /* C 6 not a multiple */
    ck_assert_int_eq(tsr_cpu_conv_check(NULL, "badconv", &c5), TSR_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(NULL)->message, "badconv"));
    struct tsr_k_pool gp = {.kind = TSR_POOL_AVG,
                            .N = 1,
                            .C = 5,
                            .H = 7,
                            .W = 7,
                            .OH = 1,
                            .OW = 1,
                            .KH = 7,
                            .KW = 7,
                            .stride_h = 1,
                            .stride_w = 1,
                            .dil_h = 1,
                            .dil_w = 1};
    ck_assert_int_eq(tsr_cpu_pool_check(NULL, "pool", &gp), TSR_OK);
    gp.dil_h = 0;
    ck_assert_int_eq(tsr_cpu_pool_check(NULL, "badpool", &gp), TSR_E_INVALID_ARG);
    tsr_cpu_pool_destroy(pool);
}
END_TEST

/* Softmax and layernorm in place (y == x) equal out of place, bit for bit. */
START_TEST(test_rows_in_place) {
    if (_i >= n_tiers()) return;
    struct tsr_cpu_pool *pool = NULL;
    ck_assert_int_eq(tsr_cpu_pool_create(NULL, NULL, 2, &pool), TSR_OK);
    struct tsr_cpu_env env = exec_env(_i, pool, 1 << 20, NULL, 0);
    const int64_t shapes[][3] = {{5, 1000, 1}, {3, 7, 300}, {70, 1030, 1}, {300, 256, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t outer = shapes[s][0], len = shapes[s][1], inner = shapes[s][2];
        const size_t n = (size_t)(outer * len * inner);
        float *x = malloc(n * 4), *y = malloc(n * 4), *z = malloc(n * 4);
        float *sc = malloc((size_t)len * 4), *bi = malloc((size_t)len * 4);
        ts_fill_uniform(x, n, 101 + s, -30.0f, 30.0f);
        ts_fill_uniform(sc, (size_t)len, 102, 0.5f, 1.5f);
        ts_fill_uniform(bi, (size_t)len, 103, -1.0f, 1.0f);
        struct tsr_k_softmax k = {.outer = outer, .axis_len = len, .inner = inner};
        tsr_cpu_softmax_run(&env, &k, x, y);
        memcpy(z, x, n * 4);
        tsr_cpu_softmax_run(&env, &k, z, z);
        ck_assert(ts_max_abs_diff(z, y, n) == 0.0);
        if (inner == 1) {
            struct tsr_k_layernorm l = {
                .outer = outer, .len = len, .epsilon = 1e-5f, .has_bias = (int)(s % 2)};
            tsr_cpu_layernorm_run(&env, &l, x, sc, bi, y);
            memcpy(z, x, n * 4);
            tsr_cpu_layernorm_run(&env, &l, z, sc, bi, z);
            ck_assert(ts_max_abs_diff(z, y, n) == 0.0);
        }
        free(x);
        free(y);
        free(z);
        free(sc);
        free(bi);
    }
    tsr_cpu_pool_destroy(pool);
}
END_TEST

/* ---- thread pool ---- */

struct count_arg {
    atomic_int *hits;
    atomic_int bad_tid;
    int n_threads;
    struct tsr_cpu_pool *pool;
};

static void count_task(void *p, size_t task, int tid) {
    struct count_arg *c = p;
    atomic_fetch_add(&c->hits[task], 1);
    if (tid < 0 || tid >= c->n_threads) atomic_store(&c->bad_tid, 1);
}

static void nested_task(void *p, size_t task, int tid) {
    struct count_arg *c = p;
    /* a loop submitted from inside a task must not deadlock: it runs inline */
    struct count_arg inner = {.hits = c->hits + 1000 + task * 10, .n_threads = c->n_threads};
    atomic_init(&inner.bad_tid, 0);
    tsr_cpu_pool_parallel_for(c->pool, 10, count_task, &inner);
    if (atomic_load(&inner.bad_tid)) atomic_store(&c->bad_tid, 1);
}

/* Shares and stealing: with 2 participants and 64 tasks, [0, 32) and [32, 64) are the two
 * shares. The thread that runs task 0 stays in it until another thread has run a task of the
 * same share (at most 5 s): that only happens when a participant that finished its own share
 * takes what is left of the other's. */
struct steal_arg {
    atomic_int hits[64];
    atomic_int tid_of[64];
    atomic_int stolen; /* a task of [1, 32) ran on a thread other than task 0's */
};

static void steal_task(void *p, size_t task, int tid) {
    struct steal_arg *s = p;
    atomic_store(&s->tid_of[task], tid);
    atomic_fetch_add(&s->hits[task], 1);
    if (task == 0) {
        for (int i = 0; i < 5000 && !atomic_load(&s->stolen); i++)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
    } else if (task < 32 && tid != atomic_load(&s->tid_of[0])) {
        atomic_store(&s->stolen, 1);
    }
}

/* Runs the 64 steal tasks on pool (2 threads); returns whether a task was stolen. */
static int steal_once(struct tsr_cpu_pool *pool) {
    static struct steal_arg s;
    for (int i = 0; i < 64; i++) {
        atomic_init(&s.hits[i], 0);
        atomic_init(&s.tid_of[i], -1);
    }
    atomic_init(&s.stolen, 0);
    tsr_cpu_pool_parallel_for(pool, 64, steal_task, &s);
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(atomic_load(&s.hits[i]), 1);
    return atomic_load(&s.stolen);
}

START_TEST(test_threadpool_steals) {
    struct tsr_cpu_pool *pool = NULL;
    ck_assert_int_eq(tsr_cpu_pool_create(NULL, NULL, 2, &pool), TSR_OK);
    ck_assert_msg(steal_once(pool), "no task of the blocked share ran on the other thread");
    tsr_cpu_pool_destroy(pool);
}
END_TEST

/* Records its thread; 20 us each, long enough for a woken worker to claim some of 256. */
static void tid_task(void *p, size_t task, int tid) {
    atomic_int *tid_of = p;
    atomic_store(&tid_of[task], tid);
    nanosleep(&(struct timespec){0, 20000}, NULL);
}

/* As many holds (concurrent plan runs) as the pool has threads: every loop runs on its caller
 * (thread_id 0), one run per core; with one hold fewer the workers take part again (a task of
 * the blocked share is stolen, as in test_threadpool_steals). */
START_TEST(test_threadpool_runs_per_core) {
    struct tsr_cpu_pool *pool = NULL;
    ck_assert_int_eq(tsr_cpu_pool_create(NULL, NULL, 2, &pool), TSR_OK);
    tsr_cpu_pool_hold(pool);
    tsr_cpu_pool_hold(pool);
    static atomic_int tid_of[256];
    for (int rep = 0; rep < 20; rep++) {
        for (int i = 0; i < 256; i++)
            atomic_init(&tid_of[i], -1);
        tsr_cpu_pool_parallel_for(pool, 256, tid_task, tid_of);
        for (int i = 0; i < 256; i++)
            ck_assert_msg(atomic_load(&tid_of[i]) == 0, "rep %d: task %d ran on thread %d", rep, i,
                          atomic_load(&tid_of[i]));
    }
    tsr_cpu_pool_release(pool);
    ck_assert_msg(steal_once(pool), "one hold of two threads: the worker took no task");
    tsr_cpu_pool_release(pool);
    tsr_cpu_pool_destroy(pool);
}
END_TEST

START_TEST(test_threadpool) {
    static atomic_int hits[2000];
    for (int threads = 1; threads <= 4; threads++) {
        struct tsr_cpu_pool *pool = NULL;
        ck_assert_int_eq(tsr_cpu_pool_create(NULL, NULL, threads, &pool), TSR_OK);
        ck_assert_int_eq(tsr_cpu_pool_threads(pool), threads);
        for (int rep = 0; rep < 50; rep++) {
            const size_t n = (size_t)(rep * 19 % 1000);
            for (size_t i = 0; i < 2000; i++)
                atomic_store(&hits[i], 0);
            struct count_arg c = {.hits = hits, .n_threads = threads, .pool = pool};
            atomic_init(&c.bad_tid, 0);
            tsr_cpu_pool_parallel_for(pool, n, count_task, &c);
            for (size_t i = 0; i < 2000; i++)
                ck_assert_msg(atomic_load(&hits[i]) == (i < n ? 1 : 0),
                              "threads=%d n=%zu: task %zu ran %d times", threads, n, i,
                              atomic_load(&hits[i]));
            ck_assert(!atomic_load(&c.bad_tid));
        }
        for (size_t i = 0; i < 2000; i++)
            atomic_store(&hits[i], 0);
        struct count_arg c = {.hits = hits, .n_threads = threads, .pool = pool};
        atomic_init(&c.bad_tid, 0);
        tsr_cpu_pool_parallel_for(pool, 50, nested_task, &c);
        for (size_t i = 1000; i < 1500; i++)
            ck_assert_int_eq(atomic_load(&hits[i]), 1);
        ck_assert(!atomic_load(&c.bad_tid));
        tsr_cpu_pool_destroy(pool);
    }
    /* NULL pool: inline */
    for (size_t i = 0; i < 10; i++)
        atomic_store(&hits[i], 0);
    struct count_arg c = {.hits = hits, .n_threads = 1};
    atomic_init(&c.bad_tid, 0);
    tsr_cpu_pool_parallel_for(NULL, 10, count_task, &c);
    for (size_t i = 0; i < 10; i++)
        ck_assert_int_eq(atomic_load(&hits[i]), 1);
    ck_assert_int_eq(tsr_cpu_pool_create(NULL, NULL, 0, &(struct tsr_cpu_pool *){NULL}),
                     TSR_E_INVALID_ARG);
}
END_TEST

/* ---- backend ops on a hand-built program ---- */

/* X [4,3] (input) -> GEMM with W [3,2] (const) + bias [2] (const), relu -> T (temp)
 * -> softmax over the last axis -> S (temp) -> ew: S * X2 (input, [4,2]) -> Y (output 0)
 * -> copy Y -> Y2 (output 1). */
static void run_program(tsr_context *ctx) {
    float w[6] = {0.5f, -1.0f, 0.25f, 2.0f, -0.75f, 0.125f};
    float bias[2] = {0.1f, -0.2f};
    struct tsr_buffer bufs[7] = {
        {.desc.dtype = TSR_F32, .kind = TSR_BUF_INPUT, .bytes = 12 * 4, .io_index = 0},
        {.desc.dtype = TSR_F32, .kind = TSR_BUF_CONST, .bytes = 6 * 4, .const_data = w},
        {.desc.dtype = TSR_F32, .kind = TSR_BUF_CONST, .bytes = 2 * 4, .const_data = bias},
        {.desc.dtype = TSR_F32, .kind = TSR_BUF_TEMP, .bytes = 8 * 4, .offset = 0},
        {.desc.dtype = TSR_F32, .kind = TSR_BUF_TEMP, .bytes = 8 * 4, .offset = 64},
        {.desc.dtype = TSR_F32, .kind = TSR_BUF_INPUT, .bytes = 8 * 4, .io_index = 1},
        {.desc.dtype = TSR_F32, .kind = TSR_BUF_OUTPUT, .bytes = 8 * 4, .io_index = 0},
    };
    struct tsr_buffer bufs2[8];
    memcpy(bufs2, bufs, sizeof bufs);
    bufs2[7] = (struct tsr_buffer){
        .desc.dtype = TSR_F32, .kind = TSR_BUF_OUTPUT, .bytes = 8 * 4, .io_index = 1};
    struct tsr_kernel ks[4] = {
        {.dtype = TSR_F32,
         .kind = TSR_K_GEMM,
         .name = "gemm_bias_relu",
         .nodes = "fc",
         .n_inputs = 3,
         .inputs = {0, 1, 2},
         .output = 3,
         .flops = 48,
         .bytes = 100,
         .u.gemm = {.batch = 1,
                    .M = 4,
                    .N = 2,
                    .K = 3,
                    .lda = 3,
                    .ldb = 2,
                    .alpha = 1.0f,
                    .has_c = 1,
                    .beta = 1.0f,
                    .c_stride_n = 1,
                    .act = TSR_ACT_RELU}},
        {.dtype = TSR_F32,
         .kind = TSR_K_SOFTMAX,
         .name = "softmax",
         .n_inputs = 1,
         .inputs = {3},
         .output = 4,
         .u.softmax = {.outer = 4, .axis_len = 2, .inner = 1}},
        {.dtype = TSR_F32,
         .kind = TSR_K_EW,
         .name = "ew_mul",
         .n_inputs = 2,
         .inputs = {4, 5},
         .output = 6,
         .u.ew = {.rank = 1,
                  .dims = {8},
                  .strides = {{1}, {1}},
                  .n_instrs = 1,
                  .n_regs = 1,
                  .instrs = {INSTR(MUL, 0, -1, -2)}}},
        {.dtype = TSR_F32,
         .kind = TSR_K_COPY,
         .name = "copy",
         .n_inputs = 1,
         .inputs = {6},
         .output = 7,
         .u.copy = {.n = 8}},
    };
    int in_bufs[2] = {0, 5}, out_bufs[2] = {6, 7};
    struct tsr_program prog = {.n_buffers = 8,
                               .buffers = bufs2,
                               .n_kernels = 4,
                               .kernels = ks,
                               .arena_bytes = 128,
                               .n_inputs = 2,
                               .n_outputs = 2,
                               .input_buffers = in_bufs,
                               .output_buffers = out_bufs};
    float x[12], x2[8], y[8], y2[8];
    ts_fill_uniform(x, 12, 51, -1.0f, 1.0f);
    ts_fill_uniform(x2, 8, 52, -1.0f, 1.0f);
    struct tsr_tensor ins[2] = {{.data = x}, {.data = x2}};
    struct tsr_tensor outs[2] = {{.data = y}, {.data = y2}};
    void *exec = NULL;
    ck_assert_int_eq(tsr_cpu_backend_ops.prepare(ctx, 0, &prog, &exec), TSR_OK);
    for (int rep = 0; rep < 2; rep++) {
        memset(y, 0, sizeof y);
        memset(y2, 0, sizeof y2);
        ck_assert_int_eq(tsr_cpu_backend_ops.execute(exec, ins, outs), TSR_OK);
        for (int m = 0; m < 4; m++) {
            double t[2];
            for (int n = 0; n < 2; n++) {
                double s = bias[n];
                for (int k = 0; k < 3; k++)
                    s += (double)x[m * 3 + k] * w[k * 2 + n];
                t[n] = s > 0 ? s : 0;
            }
            double mx = fmax(t[0], t[1]);
            double den = exp(t[0] - mx) + exp(t[1] - mx);
            for (int n = 0; n < 2; n++) {
                double r = exp(t[n] - mx) / den * x2[m * 2 + n];
                ck_assert_msg(fabs(y[m * 2 + n] - r) <= 1e-6, "program y[%d]: %g vs %g", m * 2 + n,
                              y[m * 2 + n], r);
                ck_assert(y2[m * 2 + n] == y[m * 2 + n]);
            }
        }
    }
    tsr_cpu_backend_ops.release(exec);
    tsr_cpu_backend_ops.release(NULL);

    /* a kernel writing a constant is rejected with a message naming it */
    ks[3].output = 1;
    exec = NULL;
    ck_assert_int_eq(tsr_cpu_backend_ops.prepare(ctx, 0, &prog, &exec), TSR_E_INVALID_ARG);
    ck_assert_ptr_null(exec);
    ck_assert_ptr_nonnull(strstr(tsr_last_error(ctx)->message, "copy"));
    ks[3].output = 7;
}

START_TEST(test_backend_program_no_context) {
    run_program(NULL);
}
END_TEST

START_TEST(test_backend_program_context) {
    tsr_context *ctx = ts_context();
    ck_assert_ptr_nonnull(tsr_cpu_backend_of(ctx));
    ck_assert_int_ge(tsr_cpu_backend_threads(tsr_cpu_backend_of(ctx)), 1);
    const tsr_cpu_isa best = tsr_cpu_detect_isa();
    for (int isa = 0; isa <= (int)best; isa++) {
        ck_assert_int_eq(tsr_cpu_backend_set_isa(tsr_cpu_backend_of(ctx), (tsr_cpu_isa)isa),
                         TSR_OK);
        ck_assert_int_eq(tsr_cpu_backend_isa(tsr_cpu_backend_of(ctx)), isa);
        tsr_profiler_enable(ctx, 1);
        tsr_profiler_clear(ctx);
        run_program(ctx);
        /* two runs of four kernels */
        size_t kernels = 0;
        for (size_t i = 0; i < tsr_profiler_count(ctx); i++) {
            struct tsr_profile_record r;
            ck_assert_int_eq(tsr_profiler_get(ctx, i, &r), TSR_OK);
            if (r.kind != TSR_EVENT_KERNEL) continue;
            kernels++;
            ck_assert_str_eq(r.device, "cpu");
            ck_assert_uint_le(r.start_ns, r.end_ns);
            if (!strcmp(r.name, "gemm_bias_relu")) {
                ck_assert_str_eq(r.nodes, "fc");
                ck_assert_uint_eq(r.flops, 48);
            }
        }
        ck_assert_uint_eq(kernels, 8);
    }
    if (best < TSR_ISA_AVX512)
        ck_assert_int_eq(tsr_cpu_backend_set_isa(tsr_cpu_backend_of(ctx), TSR_ISA_AVX512),
                         TSR_E_UNSUPPORTED);
    tsr_context_destroy(ctx);
}
END_TEST

START_TEST(test_backend_isa_env_cap) {
    struct tsr_cpu_backend *cpu = NULL;
    setenv("TSR_CPU_ISA", "scalar", 1);
    ck_assert_int_eq(tsr_cpu_backend_create(NULL, 2, &cpu), TSR_OK);
    ck_assert_int_eq(tsr_cpu_backend_isa(cpu), TSR_ISA_SCALAR);
    ck_assert_int_eq(tsr_cpu_backend_threads(cpu), 2);
    tsr_cpu_backend_destroy(cpu);
    setenv("TSR_CPU_ISA", "sse9", 1); /* unknown: warning, ignored */
    ck_assert_int_eq(tsr_cpu_backend_create(NULL, 1, &cpu), TSR_OK);
    ck_assert_int_eq(tsr_cpu_backend_isa(cpu), tsr_cpu_detect_isa());
    tsr_cpu_backend_destroy(cpu);
    unsetenv("TSR_CPU_ISA");
    tsr_cpu_backend_destroy(NULL);
}
END_TEST

static Suite *cpu_kernels_suite(void) {
    Suite *s = suite_create("cpu_kernels");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_detect);
    /* loop index = ISA tier (tiers above the machine's are skipped inside) */
    tcase_add_loop_test(tc, test_ew_ops, 0, 3);
    tcase_add_loop_test(tc, test_ew_special, 0, 3);
    tcase_add_loop_test(tc, test_ew_special_new, 0, 3);
    tcase_add_loop_test(tc, test_ew_pow, 0, 3);
    tcase_add_loop_test(tc, test_ew_ewops, 0, 3);
    tcase_add_loop_test(tc, test_ew_axpy_softmax_row, 0, 3);
    tcase_add_loop_test(tc, test_ew_stream_copy, 0, 3);
    tcase_add_loop_test(tc, test_ew_bias_act_stream, 0, 3);
    tcase_add_loop_test(tc, test_gemm_threads, 0, 3);
    tcase_add_loop_test(tc, test_gemm_panels_in_place, 0, 3);
    tcase_add_test(tc, test_gemm_check_rejects);
    tcase_add_loop_test(tc, test_ew_exec_tiles_and_threads, 0, 3);
    tcase_add_loop_test(tc, test_ew_exec_streaming, 0, 3);
    tcase_add_test(tc, test_ew_check_rejects);
    tcase_add_loop_test(tc, test_conv_paths, 0, 3);
    tcase_add_loop_test(tc, test_rows_in_place, 0, 3);
    tcase_add_test(tc, test_threadpool);
    tcase_add_test(tc, test_threadpool_steals);
    tcase_add_test(tc, test_threadpool_runs_per_core);
    tcase_add_test(tc, test_backend_program_no_context);
    tcase_add_test(tc, test_backend_program_context);
    tcase_add_test(tc, test_backend_isa_env_cap);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(cpu_kernels_suite());
}
