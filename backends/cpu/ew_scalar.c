/*
 * ew_scalar.c — portable elementwise kernels (no ISA flags): the reference tier and the
 * fallback on CPUs without AVX2. Transcendentals use libm (expf, tanhf). See ew_kernels.h.
 */
#include "backends/cpu/ew_kernels.h"

#include <math.h>

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
    static void name##_u(size_t n, const float *x, float *y) {                                     \
        for (size_t i = 0; i < n; i++)                                                             \
            y[i] = sc_##name(x[i]);                                                                \
    }

TSR_SC_BINARY(add)
TSR_SC_BINARY(sub)
TSR_SC_BINARY(mul)
TSR_SC_BINARY(div)
TSR_SC_UNARY(relu)
TSR_SC_UNARY(sigmoid)
TSR_SC_UNARY(tanh)
TSR_SC_UNARY(copy)

static void exp_u(size_t n, const float *x, float *y) {
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

const struct tsr_cpu_ew_kernels tsr_cpu_ew_scalar = {
    .isa = TSR_ISA_SCALAR,
    .unary = {[TSR_EW_RELU] = relu_u,
              [TSR_EW_SIGMOID] = sigmoid_u,
              [TSR_EW_TANH] = tanh_u,
              [TSR_EW_COPY] = copy_u},
    .binary = {[TSR_EW_ADD] = add_vv,
               [TSR_EW_SUB] = sub_vv,
               [TSR_EW_MUL] = mul_vv,
               [TSR_EW_DIV] = div_vv},
    .binary_vs = {[TSR_EW_ADD] = add_vs,
                  [TSR_EW_SUB] = sub_vs,
                  [TSR_EW_MUL] = mul_vs,
                  [TSR_EW_DIV] = div_vs},
    .binary_sv = {[TSR_EW_ADD] = add_sv,
                  [TSR_EW_SUB] = sub_sv,
                  [TSR_EW_MUL] = mul_sv,
                  [TSR_EW_DIV] = div_sv},
    .exp = exp_u,
    .axpy = axpy,
    .softmax_row = softmax_row,
};
