/*
 * ew_vmath.h — ISA-independent vector math and kernel loops of the elementwise tables, included
 * once by each vector ISA file (ew_avx2.c, ew_avx512.c) after it has defined, for its width:
 *
 *   W                      floats per vector
 *   vf, vm                 vector of W floats; lane mask (what the comparisons return)
 *   v_ld(p) v_st(p, v)     unaligned load / store of W floats
 *   v_ld_n(p, r) v_st_n(p, r, v)   the first r (1 .. W-1) lanes only (others read as 0, not
 * written) v_set(f) v_add v_sub v_mul v_div v_fma(a, b, c) = a*b + c, v_sqrt, v_abs, v_floor,
 *   v_rint (to nearest, ties to even)
 *   v_max(a, b) v_min(a, b)  x86 semantics: the SECOND operand is returned when either is NaN
 *   v_lt v_le v_gt v_ge v_eq (ordered: false on NaN), v_neq (unordered: true on NaN)
 *   m_and m_or m_not        lane-mask logic
 *   v_sel(m, t, f)          t where m, else f
 *   v_frexp(x, &e)          x (finite, > 0, normal) = m * 2^e with m in [0.5, 1): returns m, e as
 *                           float
 *   v_exp v_sigmoid v_tanh v_relu v_copy v_add ...: the ISA file's own kernels
 *
 * Algorithms and their sources (accuracy measured in tests/check_cpu_kernels.c, see
 * ew_kernels.h):
 *   log: Cephes logf (Stephen L. Moshier, Cephes Math Library, logf.c): x = m * 2^e, m moved to
 *     [sqrt(1/2), sqrt(2)), log(1 + f) = f - f^2/2 + f^3 P(f) (degree-8 P), e * ln2 added in two
 *     parts (0.693359375 - 2.12194440e-4). Denormal inputs are scaled by 2^23 first. Special
 *     values as C99 logf: log(+-0) = -inf, log(x < 0) = NaN, log(+inf) = +inf, NaN -> NaN.
 *   erf: Norbert Juffa's faithfully rounded erff (Stack Overflow question 35148198, answer
 *     35148199, 2016): |x| <= 0.927734375: x + x * P(x^2) (degree 5); otherwise
 *     1 - exp(t * Q(t) - t) with t = |x| (degree-6 Q), sign of x restored. Both branches are
 *     evaluated and blended (branch-free). erf(+-inf) = +-1, NaN -> NaN.
 *   GELU (exact): 0.5 x (1 + erf(x / sqrt 2)).
 *   GELU_TANH: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), evaluated as the
 *     algebraically equal x / (1 + exp(-2u)), which has no cancellation for negative x.
 *   POW: see v_pow.
 */
#ifndef TSR_CPU_EW_VMATH_H
#define TSR_CPU_EW_VMATH_H

/* Natural logarithm (Cephes logf), special values as C99 logf. */
static inline vf v_log(vf x) {
    const vf one = v_set(1.0f);
    /* denormals: scale into the normal range, subtract 23 from the exponent afterwards */
    const vm tiny = v_lt(x, v_set(1.17549435e-38f));
    vf xs = v_sel(tiny, v_mul(x, v_set(8388608.0f)), x);
    vf e;
    vf m = v_frexp(xs, &e);
    e = v_sel(tiny, v_sub(e, v_set(23.0f)), e);
    /* m < sqrt(1/2): f = 2m - 1, e - 1; else f = m - 1 */
    const vm lo = v_lt(m, v_set(0.707106781186547524f));
    e = v_sel(lo, v_sub(e, one), e);
    vf f = v_sub(v_sel(lo, v_add(m, m), m), one);
    const vf z = v_mul(f, f);
    vf p = v_set(7.0376836292e-2f);
    p = v_fma(p, f, v_set(-1.1514610310e-1f));
    p = v_fma(p, f, v_set(1.1676998740e-1f));
    p = v_fma(p, f, v_set(-1.2420140846e-1f));
    p = v_fma(p, f, v_set(1.4249322787e-1f));
    p = v_fma(p, f, v_set(-1.6668057665e-1f));
    p = v_fma(p, f, v_set(2.0000714765e-1f));
    p = v_fma(p, f, v_set(-2.4999993993e-1f));
    p = v_fma(p, f, v_set(3.3333331174e-1f));
    vf y = v_mul(v_mul(p, f), z);
    y = v_fma(e, v_set(-2.12194440e-4f), y);
    y = v_fma(z, v_set(-0.5f), y);
    vf r = v_add(f, y);
    r = v_fma(e, v_set(0.693359375f), r);
    /* special values */
    r = v_sel(v_eq(x, v_set(INFINITY)), x, r);
    r = v_sel(v_eq(x, v_set(0.0f)), v_set(-INFINITY), r);
    r = v_sel(m_or(v_lt(x, v_set(0.0f)), v_neq(x, x)), v_set(NAN), r);
    return r;
}

/* Error function (Juffa's erff, see the header comment). */
static inline vf v_erf(vf x) {
    const vf t = v_abs(x), s = v_mul(x, x);
    /* |x| > 0.927734375 */
    vf r = v_fma(v_set(-1.72853470e-5f), t, v_set(3.83197126e-4f));
    vf u = v_fma(v_set(-3.88396438e-3f), t, v_set(2.42546219e-2f));
    r = v_fma(r, s, u);
    r = v_fma(r, t, v_set(-1.06777877e-1f));
    r = v_fma(r, t, v_set(-6.34846687e-1f));
    r = v_fma(r, t, v_set(-1.28717512e-1f));
    r = v_fma(r, t, v_sub(v_set(0.0f), t));
    vf big = v_sub(v_set(1.0f), v_exp(r));                           /* >= 0 */
    big = v_sel(v_lt(x, v_set(0.0f)), v_sub(v_set(0.0f), big), big); /* copysign */
    /* |x| <= 0.927734375 */
    vf q = v_set(-5.96761703e-4f);
    q = v_fma(q, s, v_set(4.99119423e-3f));
    q = v_fma(q, s, v_set(-2.67681349e-2f));
    q = v_fma(q, s, v_set(1.12819925e-1f));
    q = v_fma(q, s, v_set(-3.76125336e-1f));
    q = v_fma(q, s, v_set(1.28379166e-1f));
    const vf small = v_fma(q, x, x);
    /* t > bound is false for NaN: NaN goes through the small branch and propagates */
    return v_sel(v_gt(t, v_set(0.927734375f)), big, small);
}

static inline vf v_gelu(vf x) {
    const vf e = v_erf(v_mul(x, v_set(0.70710678118654752f)));
    return v_mul(v_mul(v_set(0.5f), x), v_add(v_set(1.0f), e));
}

static inline vf v_gelu_tanh(vf x) {
    const vf x3 = v_mul(v_mul(x, x), x);
    const vf u2 = v_mul(v_set(-2.0f * 0.79788456080286536f), v_fma(v_set(0.044715f), x3, x));
    return v_div(x, v_add(v_set(1.0f), v_exp(u2)));
}

static inline vf v_leaky_relu(vf x, vf alpha) {
    return v_sel(v_ge(x, v_set(0.0f)), x, v_mul(x, alpha));
}

/* min(max(x, lo), hi) with x the second operand of both (vmaxps / vminps return the second
 * operand when either is NaN): NaN x gives NaN, a NaN bound is no bound, at no extra cost; as the
 * scalar tier and the OpenCL expression of CLIP in runtime/program.h. */
static inline vf v_clip(vf x, vf lo, vf hi) {
    return v_min(hi, v_max(lo, x));
}

/* a^b for a lane-uniform integer exponent k (|k| <= TSR_POW_INT_MAX) by binary exponentiation
 * (relative error about |k| / 2 ulp: the squarings double the error of their operand, so larger
 * exponents go through v_pow, whose error grows with |k log|a|| instead); k < 0 takes the
 * reciprocal. Special values follow from IEEE
 * products (C99 pow: a^0 = 1 even for NaN a, (-0)^-1 = -inf, ...). */
#define TSR_POW_INT_MAX 16
static inline vf v_pow_int(vf a, int k) {
    unsigned e = (unsigned)(k < 0 ? -k : k);
    vf r = v_set(1.0f), p = a;
    int first = 1;
    while (e) {
        if (e & 1u) {
            r = first ? p : v_mul(r, p);
            first = 0;
        }
        e >>= 1;
        if (e) p = v_mul(p, p);
    }
    return k < 0 ? v_div(v_set(1.0f), r) : r;
}

/* pow(a, b) = exp(b * log|a|) with the C99 / IEEE 754 special cases (ONNX Pow follows them):
 *   b == 0 -> 1 (any a, even NaN); a == 1 -> 1 (any b, even NaN);
 *   a == -1 and b = +-inf -> 1;
 *   a < 0 finite and b not an integer -> NaN;
 *   a negative (sign bit set, incl. -0 and -inf) and b an odd integer -> -|a|^b; other integer b
 *   (incl. +-inf, and every |b| >= 2^24) -> |a|^b;
 *   |a|^b of 0, inf and NaN follow from log(0) = -inf, log(inf) = inf, exp(+-inf) = inf / 0.
 * Accuracy: the rounding of b * log|a| (relative 2^-24) becomes a relative error of the result
 * of |b log|a|| * 2^-24, so the error bound is about (2 + |b log|a||) ulp (measured in
 * check_cpu_kernels.c). */
static inline vf v_pow(vf a, vf b) {
    const vf zero = v_set(0.0f), one = v_set(1.0f);
    const vf aa = v_abs(a);
    vf r = v_exp(v_mul(b, v_log(aa)));
    const vf fb = v_floor(b);
    const vm b_int = v_eq(fb, b); /* false for NaN, true for +-inf */
    const vf hb = v_mul(b, v_set(0.5f));
    const vm b_odd = m_and(b_int, v_neq(v_floor(hb), hb));
    /* sign bit of a set (a < 0, -inf, or -0 which has 1 / a = -inf) */
    const vm a_neg_bit = m_or(v_lt(a, zero), m_and(v_eq(a, zero), v_lt(v_div(one, a), zero)));
    r = v_sel(m_and(a_neg_bit, b_odd), v_sub(zero, r), r);
    const vm a_neg_finite = m_and(v_lt(a, zero), v_gt(a, v_set(-INFINITY)));
    r = v_sel(m_and(a_neg_finite, m_not(b_int)), v_set(NAN), r);
    r = v_sel(m_and(v_eq(aa, one), v_eq(v_abs(b), v_set(INFINITY))), one, r);
    r = v_sel(m_or(v_eq(b, zero), v_eq(a, one)), one, r);
    return r;
}

/* ---- loops ---- */

/* Unary kernels take the instruction's immediates (p0, p1); ops without immediates ignore them. */
static inline vf v_u_relu(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_relu(x);
}
static inline vf v_u_sigmoid(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_sigmoid(x);
}
static inline vf v_u_tanh(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_tanh(x);
}
static inline vf v_u_copy(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return x;
}
static inline vf v_u_exp(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_exp(x);
}
static inline vf v_u_log(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_log(x);
}
static inline vf v_u_sqrt(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_sqrt(x);
}
static inline vf v_u_erf(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_erf(x);
}
static inline vf v_u_gelu(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_gelu(x);
}
static inline vf v_u_gelu_tanh(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_gelu_tanh(x);
}
/* SiLU: x * Sigmoid(x), the unfused Sigmoid + Mul's two roundings. */
static inline vf v_u_silu(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_mul(x, v_sigmoid(x));
}
static inline vf v_u_leaky_relu(vf x, vf p0, vf p1) {
    (void)p1;
    return v_leaky_relu(x, p0);
}
static inline vf v_u_clip(vf x, vf p0, vf p1) {
    return v_clip(x, p0, p1);
}
/* -x by a multiplication with -1: exact, flips the sign of zeros as scalar negation does. */
static inline vf v_u_neg(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_mul(x, v_set(-1.0f));
}

#define TSR_V_UNARY(name)                                                                          \
    static void name##_u(size_t n, const float *x, float *y, float p0, float p1) {                 \
        const vf P0 = v_set(p0), P1 = v_set(p1);                                                   \
        size_t i = 0;                                                                              \
        for (; i + W <= n; i += W)                                                                 \
            v_st(y + i, v_u_##name(v_ld(x + i), P0, P1));                                          \
        if (i < n) v_st_n(y + i, n - i, v_u_##name(v_ld_n(x + i, n - i), P0, P1));                 \
    }

#define TSR_V_BINARY_VV(name)                                                                      \
    static void name##_vv(size_t n, const float *a, const float *b, float *y) {                    \
        size_t i = 0;                                                                              \
        for (; i + W <= n; i += W)                                                                 \
            v_st(y + i, v_##name(v_ld(a + i), v_ld(b + i)));                                       \
        if (i < n) v_st_n(y + i, n - i, v_##name(v_ld_n(a + i, n - i), v_ld_n(b + i, n - i)));     \
    }
#define TSR_V_BINARY_VS(name)                                                                      \
    static void name##_vs(size_t n, const float *a, const float *b, float *y) {                    \
        const vf s = v_set(*b);                                                                    \
        size_t i = 0;                                                                              \
        for (; i + W <= n; i += W)                                                                 \
            v_st(y + i, v_##name(v_ld(a + i), s));                                                 \
        if (i < n) v_st_n(y + i, n - i, v_##name(v_ld_n(a + i, n - i), s));                        \
    }
#define TSR_V_BINARY_SV(name)                                                                      \
    static void name##_sv(size_t n, const float *a, const float *b, float *y) {                    \
        const vf s = v_set(*a);                                                                    \
        size_t i = 0;                                                                              \
        for (; i + W <= n; i += W)                                                                 \
            v_st(y + i, v_##name(s, v_ld(b + i)));                                                 \
        if (i < n) v_st_n(y + i, n - i, v_##name(s, v_ld_n(b + i, n - i)));                        \
    }
#define TSR_V_BINARY(name) TSR_V_BINARY_VV(name) TSR_V_BINARY_VS(name) TSR_V_BINARY_SV(name)

TSR_V_BINARY(add)
TSR_V_BINARY(sub)
TSR_V_BINARY(mul)
TSR_V_BINARY(div)
TSR_V_BINARY_VV(pow)
TSR_V_BINARY_SV(pow)
TSR_V_UNARY(relu)
TSR_V_UNARY(sigmoid)
TSR_V_UNARY(tanh)
TSR_V_UNARY(copy)
TSR_V_UNARY(exp)
TSR_V_UNARY(log)
TSR_V_UNARY(sqrt)
TSR_V_UNARY(erf)
TSR_V_UNARY(gelu)
TSR_V_UNARY(gelu_tanh)
TSR_V_UNARY(silu)
TSR_V_UNARY(leaky_relu)
TSR_V_UNARY(clip)
TSR_V_UNARY(neg)

/* ---- float32 elementwise operators (group "ewops") ----------------------------------------
 * Exact (every tier bit-identical to the scalar one, IEEE roundings only): ABS, SIGN,
 * RECIPROCAL, FLOOR, CEIL (-floor(-x)), ROUND (ties to even), SOFTSIGN, THRESHOLDED_RELU, SHRINK,
 * MIN, MAX, PRELU, DIV_IMM; HARD_SIGMOID / HARD_SWISH round alpha x + beta as the scalar tier
 * (one multiply, one add).
 * From the exp / log building blocks above (error bounds measured by tests/check_cpu_kernels.c,
 * which prints them):
 *   expm1 (ELU, SELU, CELU): Kahan's form u = exp(x), (u - 1) x / log(u) (x where u == 1; -1
 *     below -17; +inf where u overflows): the rounding of u - 1 cancels with that of log(u), so
 *     the result stays within a few ulp near 0 where exp(x) - 1 would lose every digit.
 *   log1p(u) for u in [0, 1] (SOFTPLUS): w = 1 + u, log(w) u / (w - 1) (u where w == 1), the
 *     same cancellation (Goldberg, "What every computer scientist should know about
 *     floating-point arithmetic", 1991, theorem 4).
 *   SOFTPLUS: max(x, 0) + log1p(exp(-|x|)) (no overflow).
 *   MISH: x tanh(softplus(x)) = x n / (n + 2) with n = e (e + 2), e = exp(x) (tanh(log(1 + e)) =
 *     ((1 + e)^2 - 1) / ((1 + e)^2 + 1)); x itself above 20, where the ratio is 1 in float.
 * libm per element (no vector polynomial yet; rare in inference graphs): SIN COS TAN ASIN ACOS
 * ATAN SINH COSH ASINH ACOSH ATANH and MOD (fmodf: exact, which a - trunc(a / b) b is not). */
static inline vf v_expm1(vf x) {
    const vf one = v_set(1.0f), u = v_exp(x);
    vf r = v_div(v_mul(v_sub(u, one), x), v_log(u));
    r = v_sel(v_eq(u, one), x, r);
    r = v_sel(v_lt(x, v_set(-17.0f)), v_set(-1.0f), r);
    return v_sel(v_eq(u, v_set(INFINITY)), u, r);
}
static inline vf v_log1p_unit(vf u) {
    const vf one = v_set(1.0f), w = v_add(one, u);
    const vf r = v_div(v_mul(v_log(w), u), v_sub(w, one));
    return v_sel(v_eq(w, one), u, r);
}
static inline vf v_softplus(vf x) {
    /* v_max returns its second operand for NaN: the log1p term carries the NaN */
    const vf e = v_exp(v_sub(v_set(0.0f), v_abs(x)));
    return v_add(v_max(x, v_set(0.0f)), v_log1p_unit(e));
}
/* NaN-propagating clamp to [0, 1]: v_max / v_min return the second operand (t) for NaN */
static inline vf v_hard_sigmoid(vf x, vf alpha, vf beta) {
    const vf t = v_add(v_mul(alpha, x), beta);
    return v_min(v_set(1.0f), v_max(v_set(0.0f), t));
}
static inline vf v_u_abs(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_abs(x);
}
static inline vf v_u_sign(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    const vf r = v_sel(v_lt(x, v_set(0.0f)), v_set(-1.0f), x);
    return v_sel(v_gt(x, v_set(0.0f)), v_set(1.0f), r);
}
static inline vf v_u_reciprocal(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_div(v_set(1.0f), x);
}
static inline vf v_u_floor(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_floor(x);
}
static inline vf v_u_ceil(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    const vf m1 = v_set(-1.0f);
    return v_mul(v_floor(v_mul(x, m1)), m1);
}
static inline vf v_u_round(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_rint(x);
}
static inline vf v_u_softplus(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_softplus(x);
}
static inline vf v_u_softsign(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_div(x, v_add(v_set(1.0f), v_abs(x)));
}
static inline vf v_u_hard_sigmoid(vf x, vf p0, vf p1) {
    return v_hard_sigmoid(x, p0, p1);
}
static inline vf v_u_hard_swish(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    return v_mul(x, v_hard_sigmoid(x, v_set(1.0f / 6.0f), v_set(0.5f)));
}
static inline vf v_u_elu(vf x, vf p0, vf p1) {
    (void)p1;
    return v_sel(v_lt(x, v_set(0.0f)), v_mul(p0, v_expm1(x)), x);
}
static inline vf v_u_selu(vf x, vf p0, vf p1) {
    return v_sel(v_gt(x, v_set(0.0f)), v_mul(p1, x), v_mul(v_mul(p1, p0), v_expm1(x)));
}
static inline vf v_u_celu(vf x, vf p0, vf p1) {
    (void)p1;
    return v_sel(v_gt(x, v_set(0.0f)), x, v_mul(p0, v_expm1(v_div(x, p0))));
}
static inline vf v_u_thresholded_relu(vf x, vf p0, vf p1) {
    (void)p1;
    return v_sel(v_gt(x, p0), x, v_set(0.0f));
}
/* group "preproc": tessera Threshold binary=1: x > p0 ? p1 : 0 (NaN: 0) */
static inline vf v_u_threshold_binary(vf x, vf p0, vf p1) {
    return v_sel(v_gt(x, p0), p1, v_set(0.0f));
}
static inline vf v_u_shrink(vf x, vf p0, vf p1) {
    const vf r = v_sel(v_gt(x, p1), v_sub(x, p0), v_set(0.0f));
    return v_sel(v_lt(x, v_sub(v_set(0.0f), p1)), v_add(x, p0), r);
}
static inline vf v_u_mish(vf x, vf p0, vf p1) {
    (void)p0, (void)p1;
    const vf e = v_exp(x), n = v_mul(e, v_add(e, v_set(2.0f)));
    const vf r = v_mul(x, v_div(n, v_add(n, v_set(2.0f))));
    return v_sel(v_gt(x, v_set(20.0f)), x, r);
}
static inline vf v_u_div_imm(vf x, vf p0, vf p1) {
    (void)p1;
    return v_div(x, p0);
}
/* minimum / maximum with NaN propagation (numpy: a when equal): x86 min(b, a) / max(b, a) give
 * a when either is NaN or they are equal; a NaN b is selected explicitly. */
static inline vf v_minimum(vf a, vf b) {
    return v_sel(v_neq(b, b), b, v_min(b, a));
}
static inline vf v_maximum(vf a, vf b) {
    return v_sel(v_neq(b, b), b, v_max(b, a));
}
static inline vf v_prelu(vf a, vf b) {
    return v_sel(v_ge(a, v_set(0.0f)), a, v_mul(a, b));
}
TSR_V_UNARY(abs)
TSR_V_UNARY(sign)
TSR_V_UNARY(reciprocal)
TSR_V_UNARY(floor)
TSR_V_UNARY(ceil)
TSR_V_UNARY(round)
TSR_V_UNARY(softplus)
TSR_V_UNARY(softsign)
TSR_V_UNARY(hard_sigmoid)
TSR_V_UNARY(hard_swish)
TSR_V_UNARY(elu)
TSR_V_UNARY(selu)
TSR_V_UNARY(celu)
TSR_V_UNARY(thresholded_relu)
TSR_V_UNARY(threshold_binary)
TSR_V_UNARY(shrink)
TSR_V_UNARY(mish)
TSR_V_UNARY(div_imm)
TSR_V_BINARY(minimum)
TSR_V_BINARY(maximum)
TSR_V_BINARY(prelu)
#define TSR_V_LIBM(name, fn)                                                                       \
    static void name##_u(size_t n, const float *x, float *y, float p0, float p1) {                 \
        (void)p0, (void)p1;                                                                        \
        for (size_t i = 0; i < n; i++)                                                             \
            y[i] = fn(x[i]);                                                                       \
    }
TSR_V_LIBM(sin, sinf)
TSR_V_LIBM(cos, cosf)
TSR_V_LIBM(tan, tanf)
TSR_V_LIBM(asin, asinf)
TSR_V_LIBM(acos, acosf)
TSR_V_LIBM(atan, atanf)
TSR_V_LIBM(sinh, sinhf)
TSR_V_LIBM(cosh, coshf)
TSR_V_LIBM(asinh, asinhf)
TSR_V_LIBM(acosh, acoshf)
TSR_V_LIBM(atanh, atanhf)
static void mod_vv(size_t n, const float *a, const float *b, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = fmodf(a[i], b[i]);
}
static void mod_vs(size_t n, const float *a, const float *b, float *y) {
    const float s = *b;
    for (size_t i = 0; i < n; i++)
        y[i] = fmodf(a[i], s);
}
static void mod_sv(size_t n, const float *a, const float *b, float *y) {
    const float s = *a;
    for (size_t i = 0; i < n; i++)
        y[i] = fmodf(s, b[i]);
}
/* group "dtcompute": floor modulus (ONNX Mod fmod=0), scalar like MOD */
static inline float mod_int_1(float a, float b) {
    const float r = fmodf(a, b);
    return (r != 0.0f && ((r < 0.0f) != (b < 0.0f))) ? r + b : r;
}
static void mod_int_vv(size_t n, const float *a, const float *b, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = mod_int_1(a[i], b[i]);
}
static void mod_int_vs(size_t n, const float *a, const float *b, float *y) {
    const float s = *b;
    for (size_t i = 0; i < n; i++)
        y[i] = mod_int_1(a[i], s);
}
static void mod_int_sv(size_t n, const float *a, const float *b, float *y) {
    const float s = *a;
    for (size_t i = 0; i < n; i++)
        y[i] = mod_int_1(s, b[i]);
}
/* Table entries of the group (inside TSR_V_TABLE_ENTRIES). */
#define TSR_V_EWOPS_UNARY                                                                          \
    [TSR_EW_ABS] = abs_u, [TSR_EW_SIGN] = sign_u, [TSR_EW_RECIPROCAL] = reciprocal_u,              \
    [TSR_EW_FLOOR] = floor_u, [TSR_EW_CEIL] = ceil_u, [TSR_EW_ROUND] = round_u,                    \
    [TSR_EW_SOFTPLUS] = softplus_u, [TSR_EW_SOFTSIGN] = softsign_u,                                \
    [TSR_EW_HARD_SIGMOID] = hard_sigmoid_u, [TSR_EW_HARD_SWISH] = hard_swish_u,                    \
    [TSR_EW_ELU] = elu_u, [TSR_EW_SELU] = selu_u, [TSR_EW_CELU] = celu_u,                          \
    [TSR_EW_THRESHOLDED_RELU] = thresholded_relu_u, [TSR_EW_SHRINK] = shrink_u,                    \
    [TSR_EW_MISH] = mish_u, [TSR_EW_SIN] = sin_u, [TSR_EW_COS] = cos_u, [TSR_EW_TAN] = tan_u,      \
    [TSR_EW_ASIN] = asin_u, [TSR_EW_ACOS] = acos_u, [TSR_EW_ATAN] = atan_u,                        \
    [TSR_EW_SINH] = sinh_u, [TSR_EW_COSH] = cosh_u, [TSR_EW_ASINH] = asinh_u,                      \
    [TSR_EW_ACOSH] = acosh_u, [TSR_EW_ATANH] = atanh_u, [TSR_EW_DIV_IMM] = div_imm_u,              \
    [TSR_EW_THRESHOLD_BINARY] = threshold_binary_u
#define TSR_V_EWOPS_BINARY(suffix)                                                                 \
    [TSR_EW_MIN] = minimum_##suffix, [TSR_EW_MAX] = maximum_##suffix,                              \
    [TSR_EW_PRELU] = prelu_##suffix, [TSR_EW_MOD] = mod_##suffix,                                  \
    [TSR_EW_MOD_INT] = mod_int_##suffix

/* pow with one exponent for every element (Pow(x, 2) and friends): an integer exponent with
 * |b| <= TSR_POW_INT_MAX is computed by repeated multiplication (exact for b = 2, +-1; a few
 * roundings otherwise), anything else by v_pow. */
static void pow_vs(size_t n, const float *a, const float *b, float *y) {
    const float e = *b;
    if (e == floorf(e) && fabsf(e) <= (float)TSR_POW_INT_MAX) {
        const int k = (int)e;
        size_t i = 0;
        for (; i + W <= n; i += W)
            v_st(y + i, v_pow_int(v_ld(a + i), k));
        if (i < n) v_st_n(y + i, n - i, v_pow_int(v_ld_n(a + i, n - i), k));
        return;
    }
    const vf s = v_set(e);
    size_t i = 0;
    for (; i + W <= n; i += W)
        v_st(y + i, v_pow(v_ld(a + i), s));
    if (i < n) v_st_n(y + i, n - i, v_pow(v_ld_n(a + i, n - i), s));
}

/* exp without immediates (softmax, tests). */
static void exp_plain(size_t n, const float *x, float *y) {
    exp_u(n, x, y, 0.0f, 0.0f);
}

static void axpy(size_t n, float alpha, const float *x, float *y) {
    const vf al = v_set(alpha);
    size_t i = 0;
    for (; i + W <= n; i += W)
        v_st(y + i, v_fma(al, v_ld(x + i), v_ld(y + i)));
    if (i < n) v_st_n(y + i, n - i, v_fma(al, v_ld_n(x + i, n - i), v_ld_n(y + i, n - i)));
}

/* Horizontal sum / max of a vector (through memory: not on a hot path). */
static inline float v_hsum(vf v) {
    float t[W];
    v_st(t, v);
    float s = 0.0f;
    for (int i = 0; i < W; i++)
        s += t[i];
    return s;
}
static inline float v_hmax(vf v) {
    float t[W];
    v_st(t, v);
    float m = t[0];
    for (int i = 1; i < W; i++)
        m = t[i] > m ? t[i] : m;
    return m;
}

static float sum_row(size_t n, const float *x) {
    vf a0 = v_set(0.0f), a1 = v_set(0.0f);
    size_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        a0 = v_add(a0, v_ld(x + i));
        a1 = v_add(a1, v_ld(x + i + W));
    }
    for (; i + W <= n; i += W)
        a0 = v_add(a0, v_ld(x + i));
    if (i < n) a1 = v_add(a1, v_ld_n(x + i, n - i)); /* masked lanes read as 0 */
    return v_hsum(v_add(a0, a1));
}

/* Max of a row; NaN propagates (ReduceMax, GlobalMaxPool: numpy's max): a NaN x lane is kept
 * explicitly, a NaN accumulator lane stays (v_max returns its second operand for NaN). */
static float max_row(size_t n, const float *x) {
    vf m = v_set(-INFINITY);
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const vf v = v_ld(x + i);
        m = v_sel(v_neq(v, v), v, v_max(v, m));
    }
    float lanes[W], r = -INFINITY;
    v_st(lanes, m);
    for (int l = 0; l < W; l++)
        r = (lanes[l] > r || isnan(lanes[l])) ? lanes[l] : r;
    for (; i < n && !isnan(r); i++)
        r = (x[i] > r || isnan(x[i])) ? x[i] : r;
    return r;
}

/* max_vv(a = a row, b = the accumulator): NaN of either operand propagates */
static inline vf v_maxop(vf a, vf b) {
    return v_sel(v_neq(a, a), a, v_max(a, b));
}
TSR_V_BINARY_VV(maxop)

static void sum_dev(size_t n, const float *x, float mean, float *sum_d, float *sum_d2) {
    const vf mu = v_set(mean);
    vf s1 = v_set(0.0f), s2 = v_set(0.0f);
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const vf d = v_sub(v_ld(x + i), mu);
        s1 = v_add(s1, d);
        s2 = v_fma(d, d, s2);
    }
    float a1 = v_hsum(s1), a2 = v_hsum(s2);
    for (; i < n; i++) {
        const float d = x[i] - mean;
        a1 += d;
        a2 += d * d;
    }
    *sum_d = a1;
    *sum_d2 = a2;
}

static void norm_row(size_t n, const float *x, float mean, float corr, float rstd,
                     const float *scale, const float *bias, float *y) {
    const vf mu = v_set(mean), co = v_set(corr), rs = v_set(rstd);
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const vf t = v_mul(v_mul(v_sub(v_sub(v_ld(x + i), mu), co), rs), v_ld(scale + i));
        v_st(y + i, bias ? v_add(t, v_ld(bias + i)) : t);
    }
    if (i < n) {
        const size_t r = n - i;
        const vf t = v_mul(v_mul(v_sub(v_sub(v_ld_n(x + i, r), mu), co), rs), v_ld_n(scale + i, r));
        v_st_n(y + i, r, bias ? v_add(t, v_ld_n(bias + i, r)) : t);
    }
}

/* See struct tsr_cpu_ew_kernels.bias_act: one loop per activation. */
#define TSR_V_BIAS_ACT(name)                                                                       \
    static void bias_act_##name(size_t n, float beta, const float *c, float *y, float p0,          \
                                float p1) {                                                        \
        const vf B = v_set(beta), P0 = v_set(p0), P1 = v_set(p1);                                  \
        size_t i = 0;                                                                              \
        if (c) {                                                                                   \
            for (; i + W <= n; i += W)                                                             \
                v_st(y + i, v_u_##name(v_fma(B, v_ld(c + i), v_ld(y + i)), P0, P1));               \
            if (i < n)                                                                             \
                v_st_n(y + i, n - i,                                                               \
                       v_u_##name(v_fma(B, v_ld_n(c + i, n - i), v_ld_n(y + i, n - i)), P0, P1));  \
        } else {                                                                                   \
            for (; i + W <= n; i += W)                                                             \
                v_st(y + i, v_u_##name(v_ld(y + i), P0, P1));                                      \
            if (i < n) v_st_n(y + i, n - i, v_u_##name(v_ld_n(y + i, n - i), P0, P1));             \
        }                                                                                          \
    }
TSR_V_BIAS_ACT(copy)
TSR_V_BIAS_ACT(relu)
TSR_V_BIAS_ACT(sigmoid)
TSR_V_BIAS_ACT(tanh)
TSR_V_BIAS_ACT(leaky_relu)
TSR_V_BIAS_ACT(clip)
TSR_V_BIAS_ACT(hard_sigmoid)
TSR_V_BIAS_ACT(hard_swish)
TSR_V_BIAS_ACT(silu)
TSR_V_BIAS_ACT(gelu)
TSR_V_BIAS_ACT(gelu_tanh)

/* See struct tsr_cpu_ew_kernels.bias_act_stream: plain stores up to y's first 64-byte boundary,
 * streaming stores after it, a masked plain store for the tail. */
#define TSR_V_BIAS_ACT_STREAM(name)                                                                \
    static inline vf bas_##name##_at(size_t i, size_t r, const vf B, const float *c,               \
                                     const float *x, vf P0, vf P1) {                               \
        const vf xv = r == W ? v_ld(x + i) : v_ld_n(x + i, r);                                     \
        if (!c) return v_u_##name(xv, P0, P1);                                                     \
        const vf cv = r == W ? v_ld(c + i) : v_ld_n(c + i, r);                                     \
        return v_u_##name(v_fma(B, cv, xv), P0, P1);                                               \
    }                                                                                              \
    static void bias_act_stream_##name(size_t n, float beta, const float *c, const float *x,       \
                                       float *y, float p0, float p1) {                             \
        const vf B = v_set(beta), P0 = v_set(p0), P1 = v_set(p1);                                  \
        size_t head = (uintptr_t)y % sizeof(float) != 0                                            \
                          ? n                                                                      \
                          : ((64 - (size_t)((uintptr_t)y % 64)) % 64) / sizeof(float);             \
        if (head > n) head = n;                                                                    \
        size_t i = 0;                                                                              \
        for (; i + W <= head; i += W)                                                              \
            v_st(y + i, bas_##name##_at(i, W, B, c, x, P0, P1));                                   \
        if (i < head) {                                                                            \
            v_st_n(y + i, head - i, bas_##name##_at(i, head - i, B, c, x, P0, P1));                \
            i = head;                                                                              \
        }                                                                                          \
        for (; i + W <= n; i += W)                                                                 \
            v_st_nt(y + i, bas_##name##_at(i, W, B, c, x, P0, P1));                                \
        if (i < n) v_st_n(y + i, n - i, bas_##name##_at(i, n - i, B, c, x, P0, P1));               \
    }
TSR_V_BIAS_ACT_STREAM(copy)
TSR_V_BIAS_ACT_STREAM(relu)
TSR_V_BIAS_ACT_STREAM(sigmoid)
TSR_V_BIAS_ACT_STREAM(tanh)
TSR_V_BIAS_ACT_STREAM(leaky_relu)
TSR_V_BIAS_ACT_STREAM(clip)
TSR_V_BIAS_ACT_STREAM(hard_sigmoid)
TSR_V_BIAS_ACT_STREAM(hard_swish)
TSR_V_BIAS_ACT_STREAM(silu)
TSR_V_BIAS_ACT_STREAM(gelu)
TSR_V_BIAS_ACT_STREAM(gelu_tanh)

static void bias_act_stream(size_t n, float beta, const float *c, const float *x, float *y,
                            tsr_activation act, float p0, float p1) {
    switch (act) {
    case TSR_ACT_RELU:
        bias_act_stream_relu(n, beta, c, x, y, p0, p1);
        return;
    case TSR_ACT_SIGMOID:
        bias_act_stream_sigmoid(n, beta, c, x, y, p0, p1);
        return;
    case TSR_ACT_TANH:
        bias_act_stream_tanh(n, beta, c, x, y, p0, p1);
        return;
    case TSR_ACT_LEAKY_RELU:
        bias_act_stream_leaky_relu(n, beta, c, x, y, p0, p1);
        return;
    case TSR_ACT_CLIP:
        bias_act_stream_clip(n, beta, c, x, y, p0, p1);
        return;
    case TSR_ACT_HARD_SIGMOID:
        bias_act_stream_hard_sigmoid(n, beta, c, x, y, p0, p1);
        return;
    case TSR_ACT_HARD_SWISH:
        bias_act_stream_hard_swish(n, beta, c, x, y, p0, p1);
        return;
    case TSR_ACT_SILU:
        bias_act_stream_silu(n, beta, c, x, y, p0, p1);
        return;
    case TSR_ACT_GELU:
        bias_act_stream_gelu(n, beta, c, x, y, p0, p1);
        return;
    case TSR_ACT_GELU_TANH:
        bias_act_stream_gelu_tanh(n, beta, c, x, y, p0, p1);
        return;
    case TSR_ACT_NONE:
        break;
    }
    bias_act_stream_copy(n, beta, c, x, y, p0, p1);
}

static void bias_act(size_t n, float beta, const float *c, float *y, tsr_activation act, float p0,
                     float p1) {
    switch (act) {
    case TSR_ACT_RELU:
        bias_act_relu(n, beta, c, y, p0, p1);
        return;
    case TSR_ACT_SIGMOID:
        bias_act_sigmoid(n, beta, c, y, p0, p1);
        return;
    case TSR_ACT_TANH:
        bias_act_tanh(n, beta, c, y, p0, p1);
        return;
    case TSR_ACT_LEAKY_RELU:
        bias_act_leaky_relu(n, beta, c, y, p0, p1);
        return;
    case TSR_ACT_CLIP:
        bias_act_clip(n, beta, c, y, p0, p1);
        return;
    case TSR_ACT_HARD_SIGMOID:
        bias_act_hard_sigmoid(n, beta, c, y, p0, p1);
        return;
    case TSR_ACT_HARD_SWISH:
        bias_act_hard_swish(n, beta, c, y, p0, p1);
        return;
    case TSR_ACT_SILU:
        bias_act_silu(n, beta, c, y, p0, p1);
        return;
    case TSR_ACT_GELU:
        bias_act_gelu(n, beta, c, y, p0, p1);
        return;
    case TSR_ACT_GELU_TANH:
        bias_act_gelu_tanh(n, beta, c, y, p0, p1);
        return;
    case TSR_ACT_NONE:
        break;
    }
    if (c) bias_act_copy(n, beta, c, y, p0, p1);
}

/* See struct tsr_cpu_ew_kernels.stream_copy. v_st_nt needs a 64-byte aligned address (AVX-512)
 * / 32-byte (AVX2): the head up to the first 64-byte boundary is copied with plain stores. */
static void stream_copy(size_t n, const float *x, float *y) {
    size_t i = 0;
    size_t head = (uintptr_t)y % sizeof(float) != 0
                      ? n
                      : ((64 - (size_t)((uintptr_t)y % 64)) % 64) / sizeof(float);
    for (; i < head && i < n; i++)
        y[i] = x[i];
    for (; i + W <= n; i += W)
        v_st_nt(y + i, v_ld(x + i));
    if (i < n) v_st_n(y + i, n - i, v_ld_n(x + i, n - i));
}

static void store_fence(void) {
    _mm_sfence();
}

/* Table entries shared by the vector tiers (designated initialisers of struct
 * tsr_cpu_ew_kernels). */
#define TSR_V_TABLE_ENTRIES                                                                        \
    .unary = {[TSR_EW_RELU] = relu_u, [TSR_EW_SIGMOID] = sigmoid_u,                                \
              [TSR_EW_TANH] = tanh_u, [TSR_EW_COPY] = copy_u,                                      \
              [TSR_EW_EXP] = exp_u,   [TSR_EW_LOG] = log_u,                                        \
              [TSR_EW_SQRT] = sqrt_u, [TSR_EW_ERF] = erf_u,                                        \
              [TSR_EW_GELU] = gelu_u, [TSR_EW_GELU_TANH] = gelu_tanh_u,                            \
              [TSR_EW_SILU] = silu_u, [TSR_EW_LEAKY_RELU] = leaky_relu_u,                          \
              [TSR_EW_CLIP] = clip_u, [TSR_EW_NEG] = neg_u,                                        \
              TSR_V_EWOPS_UNARY},                                                                  \
    .binary = {[TSR_EW_ADD] = add_vv, [TSR_EW_SUB] = sub_vv, [TSR_EW_MUL] = mul_vv,                \
               [TSR_EW_DIV] = div_vv, [TSR_EW_POW] = pow_vv, TSR_V_EWOPS_BINARY(vv)},              \
    .binary_vs = {[TSR_EW_ADD] = add_vs, [TSR_EW_SUB] = sub_vs, [TSR_EW_MUL] = mul_vs,             \
                  [TSR_EW_DIV] = div_vs, [TSR_EW_POW] = pow_vs, TSR_V_EWOPS_BINARY(vs)},           \
    .binary_sv = {[TSR_EW_ADD] = add_sv, [TSR_EW_SUB] = sub_sv, [TSR_EW_MUL] = mul_sv,             \
                  [TSR_EW_DIV] = div_sv, [TSR_EW_POW] = pow_sv, TSR_V_EWOPS_BINARY(sv)},           \
    .exp = exp_plain, .axpy = axpy, .sum_row = sum_row, .max_row = max_row, .max_vv = maxop_vv,    \
    .sum_dev = sum_dev, .norm_row = norm_row, .stream_copy = stream_copy,                          \
    .store_fence = store_fence, .bias_act = bias_act, .bias_act_stream = bias_act_stream

#endif
