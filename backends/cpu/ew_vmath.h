/*
 * ew_vmath.h — ISA-independent vector math and kernel loops of the elementwise tables, included
 * once by each vector ISA file (ew_avx2.c, ew_avx512.c) after it has defined, for its width:
 *
 *   W                      floats per vector
 *   vf, vm                 vector of W floats; lane mask (what the comparisons return)
 *   v_ld(p) v_st(p, v)     unaligned load / store of W floats
 *   v_ld_n(p, r) v_st_n(p, r, v)   the first r (1 .. W-1) lanes only (others read as 0, not
 * written) v_set(f) v_add v_sub v_mul v_div v_fma(a, b, c) = a*b + c, v_sqrt, v_abs, v_floor
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

/* fminf(fmaxf(x, lo), hi): NaN x gives lo (C99 fmax ignores a NaN operand), as the OpenCL
 * expression of CLIP in runtime/program.h. */
static inline vf v_clip(vf x, vf lo, vf hi) {
    return v_min(v_max(x, lo), hi);
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
TSR_V_UNARY(leaky_relu)
TSR_V_UNARY(clip)
TSR_V_UNARY(neg)

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

static float max_row(size_t n, const float *x) {
    vf m = v_set(-INFINITY);
    size_t i = 0;
    for (; i + W <= n; i += W)
        m = v_max(v_ld(x + i), m);
    float r = v_hmax(m);
    for (; i < n; i++)
        r = x[i] > r ? x[i] : r;
    return r;
}

static inline vf v_maxop(vf a, vf b) {
    return v_max(a, b);
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
    .unary = {[TSR_EW_RELU] = relu_u,                                                              \
              [TSR_EW_SIGMOID] = sigmoid_u,                                                        \
              [TSR_EW_TANH] = tanh_u,                                                              \
              [TSR_EW_COPY] = copy_u,                                                              \
              [TSR_EW_EXP] = exp_u,                                                                \
              [TSR_EW_LOG] = log_u,                                                                \
              [TSR_EW_SQRT] = sqrt_u,                                                              \
              [TSR_EW_ERF] = erf_u,                                                                \
              [TSR_EW_GELU] = gelu_u,                                                              \
              [TSR_EW_GELU_TANH] = gelu_tanh_u,                                                    \
              [TSR_EW_LEAKY_RELU] = leaky_relu_u,                                                  \
              [TSR_EW_CLIP] = clip_u,                                                              \
              [TSR_EW_NEG] = neg_u},                                                               \
    .binary = {[TSR_EW_ADD] = add_vv,                                                              \
               [TSR_EW_SUB] = sub_vv,                                                              \
               [TSR_EW_MUL] = mul_vv,                                                              \
               [TSR_EW_DIV] = div_vv,                                                              \
               [TSR_EW_POW] = pow_vv},                                                             \
    .binary_vs = {[TSR_EW_ADD] = add_vs,                                                           \
                  [TSR_EW_SUB] = sub_vs,                                                           \
                  [TSR_EW_MUL] = mul_vs,                                                           \
                  [TSR_EW_DIV] = div_vs,                                                           \
                  [TSR_EW_POW] = pow_vs},                                                          \
    .binary_sv = {[TSR_EW_ADD] = add_sv,                                                           \
                  [TSR_EW_SUB] = sub_sv,                                                           \
                  [TSR_EW_MUL] = mul_sv,                                                           \
                  [TSR_EW_DIV] = div_sv,                                                           \
                  [TSR_EW_POW] = pow_sv},                                                          \
    .exp = exp_plain, .axpy = axpy, .sum_row = sum_row, .max_row = max_row, .max_vv = maxop_vv,    \
    .sum_dev = sum_dev, .norm_row = norm_row, .stream_copy = stream_copy,                          \
    .store_fence = store_fence, .bias_act = bias_act, .bias_act_stream = bias_act_stream

#endif
