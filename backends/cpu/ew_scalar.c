/*
 * ew_scalar.c — portable elementwise kernels (no ISA flags): the reference tier and the
 * fallback on CPUs without AVX2. Transcendentals use libm (expf, logf, tanhf, erff, erfcf, powf).
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
static inline float sc_relu(float a) {
    return fmaxf(a, 0.0f);
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
TSR_SC_UNARY(neg)

/* x >= 0 ? x : alpha x (NaN: alpha * NaN = NaN). */
static void leaky_relu_u(size_t n, const float *x, float *y, float alpha, float p1) {
    (void)p1;
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] >= 0.0f ? x[i] : alpha * x[i];
}

/* fminf(fmaxf(x, lo), hi) (NaN x gives lo, as the vector tiers and the OpenCL expression). */
static void clip_u(size_t n, const float *x, float *y, float lo, float hi) {
    for (size_t i = 0; i < n; i++)
        y[i] = fminf(fmaxf(x[i], lo), hi);
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

static float max_row(size_t n, const float *x) {
    float m = -INFINITY;
    for (size_t i = 0; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

static void max_vv(size_t n, const float *a, const float *b, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] > b[i] ? a[i] : b[i];
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
              [TSR_EW_LEAKY_RELU] = leaky_relu_u,
              [TSR_EW_CLIP] = clip_u,
              [TSR_EW_NEG] = neg_u},
    .binary = {[TSR_EW_ADD] = add_vv,
               [TSR_EW_SUB] = sub_vv,
               [TSR_EW_MUL] = mul_vv,
               [TSR_EW_DIV] = div_vv,
               [TSR_EW_POW] = pow_vv},
    .binary_vs = {[TSR_EW_ADD] = add_vs,
                  [TSR_EW_SUB] = sub_vs,
                  [TSR_EW_MUL] = mul_vs,
                  [TSR_EW_DIV] = div_vs,
                  [TSR_EW_POW] = pow_vs},
    .binary_sv = {[TSR_EW_ADD] = add_sv,
                  [TSR_EW_SUB] = sub_sv,
                  [TSR_EW_MUL] = mul_sv,
                  [TSR_EW_DIV] = div_sv,
                  [TSR_EW_POW] = pow_sv},
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
