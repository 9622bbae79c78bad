/*
 * reference.c — the naive scalar reference of every operator (see reference.h). Written to be
 * obviously right: one output element at a time, N-D index arithmetic for broadcasting,
 * accumulation in double for GEMM/MatMul/Softmax. Formulas from the ONNX operator pages.
 */
#include "runtime/reference.h"
#include "runtime/ops/op_table.h"

#include <math.h>
#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
#include <stdlib.h>
#include <string.h>

/* Offset of the element of `in` that broadcasts to output multi-index idx (out rank r). */
static int64_t bcast_offset(const struct tsr_tensor_desc *in, const int64_t *idx, int r) {
    int64_t off = 0, stride = 1;
    for (int i = in->rank - 1; i >= 0; i--) {
        int oi = i + (r - in->rank);
        int64_t d = in->dims[i];
        off += (d == 1 ? 0 : idx[oi]) * stride;
        stride *= d;
    }
    return off;
}

static void unravel(int64_t flat, const struct tsr_tensor_desc *d, int64_t *idx) {
    for (int i = d->rank - 1; i >= 0; i--) {
        idx[i] = d->dims[i] ? flat % d->dims[i] : 0;
        flat = d->dims[i] ? flat / d->dims[i] : 0;
    }
}

/* Elementwise ops: one loop per arity over a scalar function per op (the formulas of the ONNX
 * operator pages; unary in float or through double as written). */
typedef float ref_unary_fn(float x, const struct tsr_op_attrs *at);
typedef float ref_binary_fn(float a, float b);

static tsr_status ref_unary(const struct tsr_node *node, const struct tsr_tensor *const *in,
                            struct tsr_tensor *out, ref_unary_fn *f) {
    int64_t n = tsr_desc_elements(&out->desc);
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t i = 0; i < n; i++)
        y[i] = f(x[i], &node->attrs);
    return TSR_OK;
}

static tsr_status ref_binary(const struct tsr_tensor *const *in, struct tsr_tensor *out,
                             ref_binary_fn *f) {
    const struct tsr_tensor_desc *od = &out->desc;
    int64_t n = tsr_desc_elements(od), idx[TSR_MAX_RANK];
    const float *a = in[0]->data, *b = in[1]->data;
    float *y = out->data;
    for (int64_t i = 0; i < n; i++) {
        unravel(i, od, idx);
        y[i] = f(a[bcast_offset(&in[0]->desc, idx, od->rank)],
                 b[bcast_offset(&in[1]->desc, idx, od->rank)]);
    }
    return TSR_OK;
}

/* tsr_ref_<name>: y = expr of float x (d = x as double, at = the node's attributes). */
#define REF_UNARY(name, expr)                                                                      \
    static float ref_##name##_1(float x, const struct tsr_op_attrs *at) {                          \
        const double d = x;                                                                        \
        (void)d, (void)at;                                                                         \
        return (expr);                                                                             \
    }                                                                                              \
    tsr_status tsr_ref_##name(tsr_context *ctx, const struct tsr_node *node,                       \
                              const struct tsr_tensor *const *in, struct tsr_tensor *out) {        \
        (void)ctx;                                                                                 \
        return ref_unary(node, in, out, ref_##name##_1);                                           \
    }
/* tsr_ref_<name>: y = expr of floats a, b (broadcast). */
#define REF_BINARY(name, expr)                                                                     \
    static float ref_##name##_2(float a, float b) {                                                \
        return (expr);                                                                             \
    }                                                                                              \
    tsr_status tsr_ref_##name(tsr_context *ctx, const struct tsr_node *node,                       \
                              const struct tsr_tensor *const *in, struct tsr_tensor *out) {        \
        (void)ctx, (void)node;                                                                     \
        return ref_binary(in, out, ref_##name##_2);                                                \
    }

static float gelu(double d, int tanh_form) {
    if (tanh_form) /* ONNX Gelu approximate="tanh" */
        return (float)(0.5 * d * (1.0 + tanh(sqrt(2.0 / M_PI) * (d + 0.044715 * d * d * d))));
    return (float)(0.5 * d * (1.0 + erf(d / sqrt(2.0))));
}

REF_UNARY(relu, x > 0.0f ? x : 0.0f)
REF_UNARY(sigmoid, (float)(1.0 / (1.0 + exp(-d))))
REF_UNARY(tanh, (float)tanh(d))
REF_UNARY(clip, x < at->clip_min ? at->clip_min : (x > at->clip_max ? at->clip_max : x))
REF_UNARY(leaky_relu, x >= 0.0f ? x : at->leaky_alpha * x)
REF_UNARY(erf, (float)erf(d))
REF_UNARY(gelu, gelu(d, at->gelu_tanh))
REF_UNARY(sqrt, (float)sqrt(d))
REF_UNARY(exp, (float)exp(d))
REF_UNARY(log, (float)log(d))
REF_UNARY(neg, -x)
REF_BINARY(add, a + b)
REF_BINARY(sub, a - b)
REF_BINARY(mul, a *b)
REF_BINARY(div, a / b)
REF_BINARY(pow, (float)pow((double)a, (double)b))

/* ---- float32 elementwise operators (group "ewops"): the ONNX formulas in double ----------- */
static double clamp01(double t) { /* NaN propagates */
    return t < 0.0 ? 0.0 : (t > 1.0 ? 1.0 : t);
}
/* softplus = log(1 + exp(d)), written without overflow */
static double softplus(double d) {
    return isnan(d) ? d : fmax(d, 0.0) + log1p(exp(-fabs(d)));
}
REF_UNARY(abs, fabsf(x))
REF_UNARY(sign, x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x))
REF_UNARY(reciprocal, 1.0f / x)
REF_UNARY(floor, floorf(x))
REF_UNARY(ceil, ceilf(x))
REF_UNARY(round, (float)nearbyint(d)) /* ties to even (the default rounding mode) */
REF_UNARY(softplus, (float)softplus(d))
REF_UNARY(softsign, (float)(d / (1.0 + fabs(d))))
REF_UNARY(hard_sigmoid, (float)clamp01(at->hardsigmoid_alpha *d + at->hardsigmoid_beta))
REF_UNARY(hard_swish, (float)(d *clamp01(d / 6.0 + 0.5)))
REF_UNARY(elu, x < 0.0f ? (float)(at->elu_alpha * (exp(d) - 1.0)) : x)
REF_UNARY(selu, x > 0.0f ? (float)(at->selu_gamma * d)
                         : (float)(at->selu_gamma * (at->selu_alpha * exp(d) - at->selu_alpha)))
REF_UNARY(celu, isnan(x) ? x
                         : (float)(fmax(0.0, d) +
                                   fmin(0.0, at->elu_alpha *(exp(d / at->elu_alpha) - 1.0))))
REF_UNARY(thresholded_relu, x > at->thresholded_alpha ? x : 0.0f)
REF_UNARY(shrink, x < -at->shrink_lambd ? x + at->shrink_bias
                                        : (x > at->shrink_lambd ? x - at->shrink_bias : 0.0f))
REF_UNARY(mish, (float)(d *tanh(softplus(d))))
REF_UNARY(sin, (float)sin(d))
REF_UNARY(cos, (float)cos(d))
REF_UNARY(tan, (float)tan(d))
REF_UNARY(asin, (float)asin(d))
REF_UNARY(acos, (float)acos(d))
REF_UNARY(atan, (float)atan(d))
REF_UNARY(sinh, (float)sinh(d))
REF_UNARY(cosh, (float)cosh(d))
REF_UNARY(asinh, (float)asinh(d))
REF_UNARY(acosh, (float)acosh(d))
REF_UNARY(atanh, (float)atanh(d))
/* f32: PRelu's slope broadcasts unidirectionally (shape inference checked it) */
REF_BINARY(prelu, a < 0.0f ? a * b : a)
REF_BINARY(mod, fmodf(a, b)) /* fmod=1 (fmod=0 is refused by shape inference) */

/* Min / Max / Sum / Mean: the inputs (broadcast) folded left to right in float, as ONNX
 * Runtime; NaN propagates through Min / Max (numpy minimum / maximum); Mean divides the sum by
 * the input count. */
static float ref_min2(float a, float b) {
    return (a <= b || isnan(a)) ? a : b;
}
static float ref_max2(float a, float b) {
    return (a >= b || isnan(a)) ? a : b;
}
static float ref_add2(float a, float b) {
    return a + b;
}
static tsr_status ref_variadic(const struct tsr_node *node, const struct tsr_tensor *const *in,
                               struct tsr_tensor *out, ref_binary_fn *f, int mean) {
    const struct tsr_tensor_desc *od = &out->desc;
    int64_t n = tsr_desc_elements(od), idx[TSR_MAX_RANK];
    float *y = out->data;
    for (int64_t i = 0; i < n; i++) {
        unravel(i, od, idx);
        float acc = ((const float *)in[0]->data)[bcast_offset(&in[0]->desc, idx, od->rank)];
        for (int k = 1; k < node->n_inputs; k++)
            acc = f(acc, ((const float *)in[k]->data)[bcast_offset(&in[k]->desc, idx, od->rank)]);
        y[i] = mean ? acc / (float)node->n_inputs : acc;
    }
    return TSR_OK;
}
#define REF_VARIADIC(name, f, mean)                                                                \
    tsr_status tsr_ref_##name(tsr_context *ctx, const struct tsr_node *node,                       \
                              const struct tsr_tensor *const *in, struct tsr_tensor *out) {        \
        (void)ctx;                                                                                 \
        return ref_variadic(node, in, out, f, mean);                                               \
    }
REF_VARIADIC(min, ref_min2, 0)
REF_VARIADIC(max, ref_max2, 0)
REF_VARIADIC(sum, ref_add2, 0)
REF_VARIADIC(mean, ref_add2, 1)

/* Conv, MaxPool, AveragePool on NCHW (ONNX semantics; see tsr_window_geometry). */
tsr_status tsr_ref_window(tsr_context *ctx, const struct tsr_node *node,
                          const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    struct tsr_window_geometry wg;
    tsr_status st =
        tsr_window_geometry(ctx, node->op, &node->attrs, xd,
                            node->op == TSR_OP_CONV ? &in[1]->desc : NULL, node->name, &wg);
    if (st != TSR_OK) return st;
    const struct tsr_op_attrs *at = &node->attrs;
    int64_t N = xd->dims[0], C = xd->dims[1], H = xd->dims[2], W = xd->dims[3];
    int64_t M = out->desc.dims[1], OH = wg.oh, OW = wg.ow;
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t b = 0; b < N; b++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double acc = node->op == TSR_OP_MAXPOOL ? -INFINITY : 0.0;
                    int64_t count = 0;
                    int64_t cpg = node->op == TSR_OP_CONV ? C / at->group : 1;
                    int64_t mpg = node->op == TSR_OP_CONV ? M / at->group : 1;
                    int64_t c0 = node->op == TSR_OP_CONV ? (m / mpg) * cpg : m;
                    for (int64_t ci = 0; ci < cpg; ci++)
                        for (int64_t kh = 0; kh < wg.kh; kh++)
                            for (int64_t kw = 0; kw < wg.kw; kw++) {
                                int64_t ih = oh * at->strides[0] - wg.pad_t + kh * at->dilations[0];
                                int64_t iw = ow * at->strides[1] - wg.pad_l + kw * at->dilations[1];
                                int inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
                                if (node->op == TSR_OP_AVGPOOL && at->count_include_pad) {
                                    /* padded positions count; the window is clipped to the
                                     * padded input (ONNX AveragePool) */
                                    if (ih < -wg.pad_t || ih >= H + wg.pad_b || iw < -wg.pad_l ||
                                        iw >= W + wg.pad_r)
                                        continue;
                                    count++;
                                }
                                if (!inside) continue;
                                double v = x[((b * C + c0 + ci) * H + ih) * W + iw];
                                if (node->op == TSR_OP_CONV) {
                                    const float *w = in[1]->data;
                                    acc += v * w[((m * cpg + ci) * wg.kh + kh) * wg.kw + kw];
                                } else if (node->op == TSR_OP_MAXPOOL) {
                                    if (v > acc) acc = v;
                                } else {
                                    acc += v;
                                    if (!at->count_include_pad) count++;
                                }
                            }
                    if (node->op == TSR_OP_CONV && node->n_inputs == 3)
                        acc += ((const float *)in[2]->data)[m];
                    if (node->op == TSR_OP_AVGPOOL) acc = count ? acc / (double)count : 0.0;
                    y[((b * M + m) * OH + oh) * OW + ow] = (float)acc;
                }
    return TSR_OK;
}

tsr_status tsr_ref_global_pool(tsr_context *ctx, const struct tsr_node *node,
                               const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx, (void)node;
    int64_t n = tsr_desc_elements(&out->desc);
    float *y = out->data;
    const float *x = in[0]->data;
    int64_t nc = in[0]->desc.dims[0] * in[0]->desc.dims[1],
            sp = n ? tsr_desc_elements(&in[0]->desc) / nc : 0;
    for (int64_t i = 0; i < nc; i++) {
        double acc = 0.0;
        for (int64_t j = 0; j < sp; j++)
            acc += x[i * sp + j];
        y[i] = (float)(acc / (double)sp);
    }
    return TSR_OK;
}

tsr_status tsr_ref_batchnorm(tsr_context *ctx, const struct tsr_node *node,
                             const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    int64_t n = tsr_desc_elements(&out->desc);
    float *y = out->data;
    /* y = (x - mean) / sqrt(var + epsilon) * scale + B, per channel (dim 1). */
    const float *x = in[0]->data, *sc = in[1]->data, *bb = in[2]->data, *mu = in[3]->data,
                *var = in[4]->data;
    int64_t C = in[0]->desc.dims[1], inner = 1;
    for (int d = 2; d < in[0]->desc.rank; d++)
        inner *= in[0]->desc.dims[d];
    for (int64_t i = 0; i < n; i++) {
        int64_t c = (i / inner) % C;
        y[i] = (float)(((double)x[i] - mu[c]) / sqrt((double)var[c] + node->attrs.epsilon) * sc[c] +
                       bb[c]);
    }
    return TSR_OK;
}

tsr_status tsr_ref_concat(tsr_context *ctx, const struct tsr_node *node,
                          const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *od = &out->desc;
    float *y = out->data;
    int r = od->rank;
    int64_t axis = node->attrs.axis == TSR_AXIS_DEFAULT ? 0 : node->attrs.axis;
    if (axis < 0) axis += r;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= od->dims[d];
    for (int d = (int)axis + 1; d < r; d++)
        inner *= od->dims[d];
    int64_t row = od->dims[axis] * inner, col = 0;
    for (int k = 0; k < node->n_inputs; k++) {
        int64_t w = in[k]->desc.dims[axis] * inner;
        const float *x = in[k]->data;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < w; j++)
                y[o * row + col + j] = x[o * w + j];
        col += w;
    }
    return TSR_OK;
}

tsr_status tsr_ref_transpose(tsr_context *ctx, const struct tsr_node *node,
                             const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *od = &out->desc;
    int64_t n = tsr_desc_elements(od), idx[TSR_MAX_RANK];
    float *y = out->data;
    int64_t perm[TSR_MAX_RANK], in_stride[TSR_MAX_RANK];
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    tsr_transpose_perm(&node->attrs, xd->rank, perm);
    int64_t st = 1;
    for (int d = xd->rank - 1; d >= 0; d--) {
        in_stride[d] = st;
        st *= xd->dims[d];
    }
    const float *x = in[0]->data;
    for (int64_t i = 0; i < n; i++) {
        unravel(i, od, idx);
        int64_t off = 0;
        for (int d = 0; d < od->rank; d++)
            off += idx[d] * in_stride[perm[d]];
        y[i] = x[off];
    }
    return TSR_OK;
}

/* ReduceMean, ReduceSum, ReduceMax. */
tsr_status tsr_ref_reduce(tsr_context *ctx, const struct tsr_node *node,
                          const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    int64_t n = tsr_desc_elements(&out->desc), idx[TSR_MAX_RANK];
    float *y = out->data;
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    unsigned mask;
    tsr_reduce_mask(&node->attrs, xd->rank, &mask);
    /* Accumulate every input element into the output element it reduces to. */
    double *acc = calloc((size_t)(n ? n : 1), sizeof *acc);
    int64_t *cnt = calloc((size_t)(n ? n : 1), sizeof *cnt);
    if (!acc || !cnt) {
        free(acc);
        free(cnt);
        return TSR_ERR(ctx, TSR_E_NOMEM, "reference: out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        acc[i] = node->op == TSR_OP_REDUCEMAX ? -INFINITY : 0.0;
    const float *x = in[0]->data;
    int64_t nx = tsr_desc_elements(xd);
    for (int64_t i = 0; i < nx; i++) {
        unravel(i, xd, idx);
        int64_t o = 0;
        for (int d = 0; d < xd->rank; d++)
            if (!(mask & (1u << d))) o = o * xd->dims[d] + idx[d];
        if (node->op == TSR_OP_REDUCEMAX) {
            if (x[i] > acc[o] || isnan(x[i])) acc[o] = x[i];
        } else {
            acc[o] += x[i];
        }
        cnt[o]++;
    }
    for (int64_t i = 0; i < n; i++)
        y[i] = (float)(node->op == TSR_OP_REDUCEMEAN ? acc[i] / (double)cnt[i] : acc[i]);
    free(acc);
    free(cnt);
    return TSR_OK;
}

tsr_status tsr_ref_layernorm(tsr_context *ctx, const struct tsr_node *node,
                             const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    int64_t n = tsr_desc_elements(&out->desc);
    float *y = out->data;
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    int64_t axis = node->attrs.axis == TSR_AXIS_DEFAULT ? -1 : node->attrs.axis;
    if (axis < 0) axis += xd->rank;
    int64_t len = 1;
    for (int d = (int)axis; d < xd->rank; d++)
        len *= xd->dims[d];
    int64_t rows = len ? n / len : 0;
    const float *x = in[0]->data, *sc = node->n_inputs > 1 ? in[1]->data : NULL;
    const float *bb = node->n_inputs > 2 ? in[2]->data : NULL;
    for (int64_t r = 0; r < rows; r++) {
        double mean = 0.0, var = 0.0;
        for (int64_t j = 0; j < len; j++)
            mean += x[r * len + j];
        mean /= (double)len;
        for (int64_t j = 0; j < len; j++) {
            double dlt = x[r * len + j] - mean;
            var += dlt * dlt;
        }
        var /= (double)len;
        double inv = 1.0 / sqrt(var + node->attrs.epsilon);
        for (int64_t j = 0; j < len; j++)
            y[r * len + j] = (float)(((double)x[r * len + j] - mean) * inv * (sc ? sc[j] : 1.0) +
                                     (bb ? bb[j] : 0.0));
    }
    return TSR_OK;
}

/* Identity, Flatten, Reshape: the input's elements. */
tsr_status tsr_ref_copy(tsr_context *ctx, const struct tsr_node *node,
                        const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx, (void)node;
    memcpy(out->data, in[0]->data, (size_t)tsr_desc_elements(&out->desc) * sizeof(float));
    return TSR_OK;
}

tsr_status tsr_ref_softmax(tsr_context *ctx, const struct tsr_node *node,
                           const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    float *y = out->data;
    const float *x = in[0]->data;
    int r = in[0]->desc.rank;
    int64_t axis =
        node->attrs.axis == TSR_AXIS_DEFAULT ? (node->attrs.softmax_2d ? 1 : -1) : node->attrs.axis;
    if (axis < 0) axis += r;
    int64_t outer = 1, len = 1, inner = 1;
    for (int i = 0; i < r; i++) {
        if (i < axis)
            outer *= in[0]->desc.dims[i];
        else if (i == axis || node->attrs.softmax_2d)
            len *= in[0]->desc.dims[i];
        else
            inner *= in[0]->desc.dims[i];
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < inner; k++) {
            double mx = -INFINITY, sum = 0.0;
            for (int64_t j = 0; j < len; j++) {
                double v = x[(o * len + j) * inner + k];
                if (v > mx) mx = v;
            }
            for (int64_t j = 0; j < len; j++)
                sum += exp(x[(o * len + j) * inner + k] - mx);
            for (int64_t j = 0; j < len; j++)
                y[(o * len + j) * inner + k] =
                    (float)(exp(x[(o * len + j) * inner + k] - mx) / sum);
        }
    return TSR_OK;
}

tsr_status tsr_ref_gemm(tsr_context *ctx, const struct tsr_node *node,
                        const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *od = &out->desc;
    float *y = out->data;
    int64_t idx[TSR_MAX_RANK];
    const struct tsr_op_attrs *at = &node->attrs;
    const float *A = in[0]->data, *B = in[1]->data;
    int64_t M = od->dims[0], N = od->dims[1];
    int64_t K = at->trans_a ? in[0]->desc.dims[0] : in[0]->desc.dims[1];
    int64_t lda = in[0]->desc.dims[1], ldb = in[1]->desc.dims[1];
    for (int64_t m = 0; m < M; m++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) {
                double a = at->trans_a ? A[k * lda + m] : A[m * lda + k];
                double b = at->trans_b ? B[j * ldb + k] : B[k * ldb + j];
                acc += a * b;
            }
            double v = at->alpha * acc;
            if (node->n_inputs == 3) {
                idx[0] = m;
                idx[1] = j;
                v += (double)at->beta *
                     ((const float *)in[2]->data)[bcast_offset(&in[2]->desc, idx, 2)];
            }
            y[m * N + j] = (float)v;
        }
    return TSR_OK;
}

tsr_status tsr_ref_matmul(tsr_context *ctx, const struct tsr_node *node,
                          const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx, (void)node;
    float *y = out->data;
    int64_t idx[TSR_MAX_RANK];
    /* Promote 1-D operands (numpy.matmul), then broadcast the batch dims. */
    struct tsr_tensor_desc a = in[0]->desc, b = in[1]->desc;
    if (a.rank == 1) {
        a.rank = 2;
        a.dims[1] = a.dims[0];
        a.dims[0] = 1;
    }
    if (b.rank == 1) {
        b.rank = 2;
        b.dims[1] = 1;
    }
    int64_t M = a.dims[a.rank - 2], K = a.dims[a.rank - 1], N = b.dims[b.rank - 1];
    struct tsr_tensor_desc ba = a, bb = b, batch;
    ba.rank -= 2;
    bb.rank -= 2;
    if (tsr_broadcast_shape(&ba, &bb, &batch)) return TSR_E_SHAPE;
    int64_t nb = tsr_desc_elements(&batch);
    const float *A = in[0]->data, *B = in[1]->data;
    for (int64_t bi = 0; bi < nb; bi++) {
        unravel(bi, &batch, idx);
        int64_t oa = bcast_offset(&ba, idx, batch.rank) * M * K;
        int64_t ob = bcast_offset(&bb, idx, batch.rank) * K * N;
        for (int64_t m = 0; m < M; m++)
            for (int64_t j = 0; j < N; j++) {
                double acc = 0.0;
                for (int64_t k = 0; k < K; k++)
                    acc += (double)A[oa + m * K + k] * (double)B[ob + k * N + j];
                y[bi * M * N + m * N + j] = (float)acc;
            }
    }
    return TSR_OK;
}

tsr_status tsr_ref_eval_node(tsr_context *ctx, const struct tsr_node *node,
                             const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_op_def *def = tsr_op_def(node->op);
    if (!def)
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED, "reference: node '%s' has unknown op", node->name);
    return def->reference(ctx, node, in, out);
}

tsr_status tsr_ref_eval_graph(const tsr_graph *g, const struct tsr_tensor *inputs, size_t n_inputs,
                              struct tsr_tensor *outputs, size_t n_outputs) {
    char s0[160], s1[160];
    if (!g || (n_inputs && !inputs) || (n_outputs && !outputs) || (int)n_inputs != g->n_inputs ||
        (int)n_outputs != g->n_outputs)
        return TSR_ERR(g ? g->ctx : NULL, TSR_E_INVALID_ARG, "reference: wrong input/output count");
    for (int i = 0; i < g->n_inputs; i++) {
        const struct tsr_value_info *v = &g->values[g->inputs[i]];
        if (!tsr_desc_equal(&inputs[i].desc, &v->desc))
            return TSR_ERR(g->ctx, TSR_E_SHAPE, "reference: input '%s' is %s, the graph expects %s",
                           v->name, tsr_desc_format(&inputs[i].desc, s0, sizeof s0),
                           tsr_desc_format(&v->desc, s1, sizeof s1));
    }
    /* One host tensor per value; inputs and constants are borrowed. */
    struct tsr_tensor *vals = calloc((size_t)g->n_values, sizeof *vals);
    unsigned char *owned = calloc((size_t)g->n_values, 1);
    tsr_status st = TSR_OK;
    if (!vals || !owned) {
        st = TSR_ERR(g->ctx, TSR_E_NOMEM, "reference: out of memory");
        goto done;
    }
    for (int i = 0; i < g->n_values; i++) {
        vals[i].desc = g->values[i].desc;
        if (g->values[i].data)
            vals[i].data = g->values[i].data;
        else if (g->values[i].input_index >= 0)
            vals[i].data = inputs[g->values[i].input_index].data;
    }
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const struct tsr_node *nd = &g->nodes[ni];
        if (nd->dead) continue;
        const struct tsr_tensor *in[TSR_NODE_MAX_INPUTS];
        for (int k = 0; k < nd->n_inputs; k++)
            in[k] = &vals[nd->inputs[k]];
        st = tsr_tensor_alloc(&g->values[nd->output].desc, &vals[nd->output]);
        if (st != TSR_OK) goto done;
        owned[nd->output] = 1;
        st = tsr_ref_eval_node(g->ctx, nd, in, &vals[nd->output]);
        if (st != TSR_OK) goto done;
    }
    for (int o = 0; o < g->n_outputs; o++) {
        const struct tsr_tensor *src = &vals[g->outputs[o].value];
        st = tsr_tensor_alloc(&src->desc, &outputs[o]);
        if (st != TSR_OK) {
            for (int k = 0; k < o; k++)
                tsr_tensor_free(&outputs[k]);
            goto done;
        }
        memcpy(outputs[o].data, src->data, tsr_desc_bytes(&src->desc));
    }
done:
    if (vals && owned)
        for (int i = 0; i < g->n_values; i++)
            if (owned[i]) tsr_tensor_free(&vals[i]);
    free(vals);
    free(owned);
    return st;
}
