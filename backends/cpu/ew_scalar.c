/*
 * ew_scalar.c — portable elementwise kernels (no ISA flags): the reference tier and the
 * fallback on CPUs without AVX2. Transcendentals use libm (expf, logf, tanhf, erff, erfcf, powf;
 * group "ewops": expm1f, log1pf, the trigonometric and hyperbolic functions, fmodf).
 * See ew_kernels.h.
 */
#include "backends/cpu/ew_kernels.h"

#include <math.h>
#include <string.h>

static inline float sc_add(float a, float b) {
    return a + b;
}
static inline float sc_sub(float a, float b) {
    return a - b;
}
static inline float sc_mul(float a, float b) {
    return a * b;
}
static inline float sc_div(float a, float b) {
    return a / b;
}
/* NaN propagates (ONNX Runtime's Relu, np.maximum(x, 0)); fmaxf would return 0 */
static inline float sc_relu(float a) {
    return a < 0.0f ? 0.0f : a;
}
static inline float sc_sigmoid(float a) {
    return 1.0f / (1.0f + expf(-a));
}
static inline float sc_tanh(float a) {
    return tanhf(a);
}
static inline float sc_copy(float a) {
    return a;
}
static inline float sc_exp(float a) {
    return expf(a);
}
static inline float sc_log(float a) {
    return logf(a);
}
static inline float sc_sqrt(float a) {
    return sqrtf(a);
}
static inline float sc_erf(float a) {
    return erff(a);
}
/* 0.5 x (1 + erf(x / sqrt 2)) = 0.5 x erfc(-x / sqrt 2): no cancellation for negative x. */
static inline float sc_gelu(float a) {
    return 0.5f * a * erfcf(-a * 0.70710678118654752f);
}
/* 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3). */
static inline float sc_gelu_tanh(float a) {
    const float u2 = -2.0f * 0.79788456080286536f * (a + 0.044715f * a * a * a);
    return a / (1.0f + expf(u2));
}
/* a * Sigmoid(a), the same two roundings as the unfused Sigmoid + Mul. */
static inline float sc_silu(float a) {
    return a * sc_sigmoid(a);
}
static inline float sc_neg(float a) {
    return -a;
}
static inline float sc_pow(float a, float b) {
    return powf(a, b);
}

#define TSR_SC_BINARY(name)                                                                        \
    static void name##_vv(size_t n, const float *a, const float *b, float *y) {                    \
        for (size_t i = 0; i < n; i++)                                                             \
            y[i] = sc_##name(a[i], b[i]);                                                          \
    }                                                                                              \
    static void name##_vs(size_t n, const float *a, const float *b, float *y) {                    \
        const float s = *b;                                                                        \
        for (size_t i = 0; i < n; i++)                                                             \
            y[i] = sc_##name(a[i], s);                                                             \
    }                                                                                              \
    static void name##_sv(size_t n, const float *a, const float *b, float *y) {                    \
        const float s = *a;                                                                        \
        for (size_t i = 0; i < n; i++)                                                             \
            y[i] = sc_##name(s, b[i]);                                                             \
    }
#define TSR_SC_UNARY(name)                                                                         \
    static void name##_u(size_t n, const float *x, float *y, float p0, float p1) {                 \
        (void)p0, (void)p1;                                                                        \
        for (size_t i = 0; i < n; i++)                                                             \
            y[i] = sc_##name(x[i]);                                                                \
    }

TSR_SC_BINARY(add)
TSR_SC_BINARY(sub)
TSR_SC_BINARY(mul)
TSR_SC_BINARY(div)
TSR_SC_BINARY(pow)
TSR_SC_UNARY(relu)
TSR_SC_UNARY(sigmoid)
TSR_SC_UNARY(tanh)
TSR_SC_UNARY(copy)
TSR_SC_UNARY(exp)
TSR_SC_UNARY(log)
TSR_SC_UNARY(sqrt)
TSR_SC_UNARY(erf)
TSR_SC_UNARY(gelu)
TSR_SC_UNARY(gelu_tanh)
TSR_SC_UNARY(silu)
TSR_SC_UNARY(neg)

/* ---- float32 elementwise operators (group "ewops"): libm and the ONNX formulas ------------- */
static inline float sc_abs(float a, float p0, float p1) {
    (void)p0, (void)p1;
    return fabsf(a);
}
/* 1, -1, or a itself for zeros and NaN */
static inline float sc_sign(float a, float p0, float p1) {
    (void)p0, (void)p1;
    return a > 0.0f ? 1.0f : (a < 0.0f ? -1.0f : a);
}
static inline float sc_reciprocal(float a, float p0, float p1) {
    (void)p0, (void)p1;
    return 1.0f / a;
}
static inline float sc_floor(float a, float p0, float p1) {
    (void)p0, (void)p1;
    return floorf(a);
}
static inline float sc_ceil(float a, float p0, float p1) {
    (void)p0, (void)p1;
    return ceilf(a);
}
/* to nearest, ties to even (the default rounding mode) */
static inline float sc_round(float a, float p0, float p1) {
    (void)p0, (void)p1;
    return nearbyintf(a);
}
/* log(1 + exp(a)) = max(a, 0) + log1p(exp(-|a|)): no overflow for large a */
static inline float sc_softplus(float a, float p0, float p1) {
    (void)p0, (void)p1;
    return fmaxf(a, 0.0f) + log1pf(expf(-fabsf(a)));
}
static inline float sc_softsign(float a, float p0, float p1) {
    (void)p0, (void)p1;
    return a / (1.0f + fabsf(a));
}
/* max(0, min(1, alpha a + beta)); NaN propagates */
static inline float sc_hard_sigmoid(float a, float alpha, float beta) {
    const float t = alpha * a + beta;
    return t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
}
static inline float sc_hard_swish(float a, float p0, float p1) {
    (void)p0, (void)p1;
    return a * sc_hard_sigmoid(a, 1.0f / 6.0f, 0.5f);
}
static inline float sc_elu(float a, float alpha, float p1) {
    (void)p1;
    return a < 0.0f ? alpha * expm1f(a) : a;
}
/* gamma (alpha e^a - alpha) for a <= 0, gamma a above */
static inline float sc_selu(float a, float alpha, float gamma) {
    return a > 0.0f ? gamma * a : gamma * alpha * expm1f(a);
}
/* max(0, a) + min(0, alpha (exp(a / alpha) - 1)), which is a for a > 0 whatever alpha's sign */
static inline float sc_celu(float a, float alpha, float p1) {
    (void)p1;
    return a > 0.0f ? a : alpha * expm1f(a / alpha);
}
static inline float sc_thresholded_relu(float a, float alpha, float p1) {
    (void)p1;
    return a > alpha ? a : 0.0f;
}
/* group "preproc": tessera Threshold binary=1 (NaN: 0) */
static inline float sc_threshold_binary(float a, float t, float high) {
    return a > t ? high : 0.0f;
}
static inline float sc_shrink(float a, float bias, float lambd) {
    return a < -lambd ? a + bias : (a > lambd ? a - bias : 0.0f);
}
static inline float sc_mish(float a, float p0, float p1) {
    return a * tanhf(sc_softplus(a, p0, p1));
}
static inline float sc_div_imm(float a, float p0, float p1) {
    (void)p1;
    return a / p0;
}
#define TSR_SC_LIBM(name, fn)                                                                      \
    static inline float sc_##name(float a, float p0, float p1) {                                   \
        (void)p0, (void)p1;                                                                        \
        return fn(a);                                                                              \
    }
TSR_SC_LIBM(sin, sinf)
TSR_SC_LIBM(cos, cosf)
TSR_SC_LIBM(tan, tanf)
TSR_SC_LIBM(asin, asinf)
TSR_SC_LIBM(acos, acosf)
TSR_SC_LIBM(atan, atanf)
TSR_SC_LIBM(sinh, sinhf)
TSR_SC_LIBM(cosh, coshf)
TSR_SC_LIBM(asinh, asinhf)
TSR_SC_LIBM(acosh, acoshf)
TSR_SC_LIBM(atanh, atanhf)
/* NaN-propagating minimum / maximum (numpy's minimum / maximum: a when equal) */
static inline float sc_minimum(float a, float b) {
    return (a <= b || a != a) ? a : b;
}
static inline float sc_maximum(float a, float b) {
    return (a >= b || a != a) ? a : b;
}
static inline float sc_prelu(float a, float b) {
    return a >= 0.0f ? a : a * b;
}
static inline float sc_mod(float a, float b) {
    return fmodf(a, b);
}
/* group "dtcompute": floor modulus, the divisor's sign (ONNX Mod fmod=0) */
static inline float sc_mod_int(float a, float b) {
    const float r = fmodf(a, b);
    return (r != 0.0f && ((r < 0.0f) != (b < 0.0f))) ? r + b : r;
}

#define TSR_SC_UNARY_P(name)                                                                       \
    static void name##_u(size_t n, const float *x, float *y, float p0, float p1) {                 \
        for (size_t i = 0; i < n; i++)                                                             \
            y[i] = sc_##name(x[i], p0, p1);                                                        \
    }
TSR_SC_UNARY_P(abs)
TSR_SC_UNARY_P(sign)
TSR_SC_UNARY_P(reciprocal)
TSR_SC_UNARY_P(floor)
TSR_SC_UNARY_P(ceil)
TSR_SC_UNARY_P(round)
TSR_SC_UNARY_P(softplus)
TSR_SC_UNARY_P(softsign)
TSR_SC_UNARY_P(hard_sigmoid)
TSR_SC_UNARY_P(hard_swish)
TSR_SC_UNARY_P(elu)
TSR_SC_UNARY_P(selu)
TSR_SC_UNARY_P(celu)
TSR_SC_UNARY_P(thresholded_relu)
TSR_SC_UNARY_P(threshold_binary)
TSR_SC_UNARY_P(shrink)
TSR_SC_UNARY_P(mish)
TSR_SC_UNARY_P(sin)
TSR_SC_UNARY_P(cos)
TSR_SC_UNARY_P(tan)
TSR_SC_UNARY_P(asin)
TSR_SC_UNARY_P(acos)
TSR_SC_UNARY_P(atan)
TSR_SC_UNARY_P(sinh)
TSR_SC_UNARY_P(cosh)
TSR_SC_UNARY_P(asinh)
TSR_SC_UNARY_P(acosh)
TSR_SC_UNARY_P(atanh)
TSR_SC_UNARY_P(div_imm)
TSR_SC_BINARY(minimum)
TSR_SC_BINARY(maximum)
TSR_SC_BINARY(prelu)
TSR_SC_BINARY(mod)
TSR_SC_BINARY(mod_int)

/* Table entries of the group (in the designated initialisers of tsr_cpu_ew_scalar). */
#define TSR_SC_EWOPS_UNARY                                                                         \
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
#define TSR_SC_EWOPS_BINARY(suffix)                                                                \
    [TSR_EW_MIN] = minimum_##suffix, [TSR_EW_MAX] = maximum_##suffix,                              \
    [TSR_EW_PRELU] = prelu_##suffix, [TSR_EW_MOD] = mod_##suffix,                                  \
    [TSR_EW_MOD_INT] = mod_int_##suffix

/* x >= 0 ? x : alpha x (NaN: alpha * NaN = NaN). */
static void leaky_relu_u(size_t n, const float *x, float *y, float alpha, float p1) {
    (void)p1;
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] >= 0.0f ? x[i] : alpha * x[i];
}

/* min(max(x, lo), hi) with NaN x giving NaN (ONNX Runtime's Clip, np.clip); a NaN bound is no
 * bound. As the vector tiers and the OpenCL expression. */
static void clip_u(size_t n, const float *x, float *y, float lo, float hi) {
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
}

static void exp_plain(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = expf(x[i]);
}

static void axpy(size_t n, float alpha, const float *x, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

static void softmax_row(size_t n, const float *x, float *y) {
    float m = x[0];
    for (size_t i = 1; i < n; i++)
        m = fmaxf(m, x[i]);
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        y[i] = expf(x[i] - m);
        s += y[i];
    }
    const float inv = 1.0f / s;
    for (size_t i = 0; i < n; i++)
        y[i] *= inv;
}

static float sum_row(size_t n, const float *x) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

/* max_row / max_vv (ReduceMax, GlobalMaxPool): NaN propagates (numpy's max) */
static float max_row(size_t n, const float *x) {
    float m = -INFINITY;
    for (size_t i = 0; i < n; i++)
        m = (x[i] > m || isnan(x[i])) ? x[i] : m;
    return m;
}

static void max_vv(size_t n, const float *a, const float *b, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = (a[i] > b[i] || isnan(a[i])) ? a[i] : b[i];
}

static void sum_dev(size_t n, const float *x, float mean, float *sum_d, float *sum_d2) {
    float a1 = 0.0f, a2 = 0.0f;
    for (size_t i = 0; i < n; i++) {
        const float d = x[i] - mean;
        a1 += d;
        a2 += d * d;
    }
    *sum_d = a1;
    *sum_d2 = a2;
}

static void norm_row(size_t n, const float *x, float mean, float corr, float rstd,
                     const float *scale, const float *bias, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = ((x[i] - mean) - corr) * rstd * scale[i] + (bias ? bias[i] : 0.0f);
}

/* axpy, then the activation's kernel over the row (see tsr_cpu_ew_kernels.bias_act). */
static void bias_act(size_t n, float beta, const float *c, float *y, tsr_activation act, float p0,
                     float p1) {
    if (c) axpy(n, beta, c, y);
    switch (act) {
    case TSR_ACT_RELU:
        relu_u(n, y, y, p0, p1);
        break;
    case TSR_ACT_SIGMOID:
        sigmoid_u(n, y, y, p0, p1);
        break;
    case TSR_ACT_TANH:
        tanh_u(n, y, y, p0, p1);
        break;
    case TSR_ACT_LEAKY_RELU:
        leaky_relu_u(n, y, y, p0, p1);
        break;
    case TSR_ACT_CLIP:
        clip_u(n, y, y, p0, p1);
        break;
    case TSR_ACT_HARD_SIGMOID:
        hard_sigmoid_u(n, y, y, p0, p1);
        break;
    case TSR_ACT_HARD_SWISH:
        hard_swish_u(n, y, y, p0, p1);
        break;
    case TSR_ACT_SILU:
        silu_u(n, y, y, p0, p1);
        break;
    case TSR_ACT_GELU:
        gelu_u(n, y, y, p0, p1);
        break;
    case TSR_ACT_GELU_TANH:
        gelu_tanh_u(n, y, y, p0, p1);
        break;
    case TSR_ACT_NONE:
        break;
    }
}

/* bias_act into a copy (see tsr_cpu_ew_kernels.bias_act_stream; no streaming stores here). */
static void bias_act_stream(size_t n, float beta, const float *c, const float *x, float *y,
                            tsr_activation act, float p0, float p1) {
    if (n > 0 && x != y) memmove(y, x, n * sizeof(float));
    bias_act(n, beta, c, y, act, p0, p1);
}

/* The scalar tier has no streaming stores: a plain copy (see tsr_cpu_ew_kernels.stream_copy). */
static void stream_copy(size_t n, const float *x, float *y) {
    if (n > 0 && x != y) memmove(y, x, n * sizeof(float));
}

static void store_fence(void) {}

const struct tsr_cpu_ew_kernels tsr_cpu_ew_scalar = {
    .isa = TSR_ISA_SCALAR,
    .unary = {[TSR_EW_RELU] = relu_u,
              [TSR_EW_SIGMOID] = sigmoid_u,
              [TSR_EW_TANH] = tanh_u,
              [TSR_EW_COPY] = copy_u,
              [TSR_EW_EXP] = exp_u,
              [TSR_EW_LOG] = log_u,
              [TSR_EW_SQRT] = sqrt_u,
              [TSR_EW_ERF] = erf_u,
              [TSR_EW_GELU] = gelu_u,
              [TSR_EW_GELU_TANH] = gelu_tanh_u,
              [TSR_EW_SILU] = silu_u,
              [TSR_EW_LEAKY_RELU] = leaky_relu_u,
              [TSR_EW_CLIP] = clip_u,
              [TSR_EW_NEG] = neg_u,
              TSR_SC_EWOPS_UNARY},
    .binary = {[TSR_EW_ADD] = add_vv,
               [TSR_EW_SUB] = sub_vv,
               [TSR_EW_MUL] = mul_vv,
               [TSR_EW_DIV] = div_vv,
               [TSR_EW_POW] = pow_vv,
               TSR_SC_EWOPS_BINARY(vv)},
    .binary_vs = {[TSR_EW_ADD] = add_vs,
                  [TSR_EW_SUB] = sub_vs,
                  [TSR_EW_MUL] = mul_vs,
                  [TSR_EW_DIV] = div_vs,
                  [TSR_EW_POW] = pow_vs,
                  TSR_SC_EWOPS_BINARY(vs)},
    .binary_sv = {[TSR_EW_ADD] = add_sv,
                  [TSR_EW_SUB] = sub_sv,
                  [TSR_EW_MUL] = mul_sv,
                  [TSR_EW_DIV] = div_sv,
                  [TSR_EW_POW] = pow_sv,
                  TSR_SC_EWOPS_BINARY(sv)},
    .exp = exp_plain,
    .axpy = axpy,
    .sum_row = sum_row,
    .max_row = max_row,
    .max_vv = max_vv,
    .sum_dev = sum_dev,
    .norm_row = norm_row,
    .softmax_row = softmax_row,
    .stream_copy = stream_copy,
    .store_fence = store_fence,
    .bias_act = bias_act,
    .bias_act_stream = bias_act_stream,
};
