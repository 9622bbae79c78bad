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
 * operator pages). Element access is by dtype (tsr_elem_get/set_*): REF_UNARY / REF_BINARY
 * formulas are written on float (computed in float32, also for float16 inputs), REF_UNARY_D /
 * REF_ARITH on double (floats) and int64 (integers), so every dtype computes in its own. */
typedef float ref_unary_fn(float x, const struct tsr_op_attrs *at);
typedef float ref_binary_fn(float a, float b);
typedef double ref_unary_d_fn(double d, const struct tsr_op_attrs *at);
typedef int64_t ref_unary_i_fn(int64_t v, const struct tsr_op_attrs *at);
typedef double ref_binary_d_fn(double a, double b);
typedef int64_t ref_binary_i_fn(int64_t a, int64_t b);

__attribute__((unused)) static tsr_status ref_unary(const struct tsr_node *node,
                                                    const struct tsr_tensor *const *in,
                                                    struct tsr_tensor *out, ref_unary_fn *f) {
    int64_t n = tsr_desc_elements(&out->desc);
    tsr_dtype xt = in[0]->desc.dtype, yt = out->desc.dtype;
    for (int64_t i = 0; i < n; i++)
        tsr_elem_set_f64(yt, out->data, i,
                         f((float)tsr_elem_get_f64(xt, in[0]->data, i), &node->attrs));
    return TSR_OK;
}

/* fd for float inputs, fi (NULL: through fd) for integer and bool inputs. */
static tsr_status ref_unary_d(const struct tsr_node *node, const struct tsr_tensor *const *in,
                              struct tsr_tensor *out, ref_unary_d_fn *fd, ref_unary_i_fn *fi) {
    int64_t n = tsr_desc_elements(&out->desc);
    tsr_dtype xt = in[0]->desc.dtype, yt = out->desc.dtype;
    int flt = tsr_dtype_is_float(xt) || !fi;
    for (int64_t i = 0; i < n; i++) {
        if (flt)
            tsr_elem_set_f64(yt, out->data, i,
                             fd(tsr_elem_get_f64(xt, in[0]->data, i), &node->attrs));
        else
            tsr_elem_set_i64(yt, out->data, i,
                             fi(tsr_elem_get_i64(xt, in[0]->data, i), &node->attrs));
    }
    return TSR_OK;
}

/* Binary loop with broadcasting: f (float formula), else fd for float inputs / fi for the others
 * (fi NULL: fd for every dtype). */
static tsr_status ref_binary_any(const struct tsr_tensor *const *in, struct tsr_tensor *out,
                                 ref_binary_fn *f, ref_binary_d_fn *fd, ref_binary_i_fn *fi) {
    const struct tsr_tensor_desc *od = &out->desc;
    int64_t n = tsr_desc_elements(od), idx[TSR_MAX_RANK];
    tsr_dtype at = in[0]->desc.dtype, bt = in[1]->desc.dtype, yt = od->dtype;
    int flt = tsr_dtype_is_float(at) || !fi;
    for (int64_t i = 0; i < n; i++) {
        unravel(i, od, idx);
        int64_t ia = bcast_offset(&in[0]->desc, idx, od->rank);
        int64_t ib = bcast_offset(&in[1]->desc, idx, od->rank);
        if (f)
            tsr_elem_set_f64(yt, out->data, i,
                             f((float)tsr_elem_get_f64(at, in[0]->data, ia),
                               (float)tsr_elem_get_f64(bt, in[1]->data, ib)));
        else if (flt)
            tsr_elem_set_f64(
                yt, out->data, i,
                fd(tsr_elem_get_f64(at, in[0]->data, ia), tsr_elem_get_f64(bt, in[1]->data, ib)));
        else
            tsr_elem_set_i64(
                yt, out->data, i,
                fi(tsr_elem_get_i64(at, in[0]->data, ia), tsr_elem_get_i64(bt, in[1]->data, ib)));
    }
    return TSR_OK;
}

__attribute__((unused)) static tsr_status ref_binary(const struct tsr_tensor *const *in,
                                                     struct tsr_tensor *out, ref_binary_fn *f) {
    return ref_binary_any(in, out, f, NULL, NULL);
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
/* tsr_ref_<name>: y = expr of double d (at = the node's attributes), in the input's float dtype. */
#define REF_UNARY_D(name, expr)                                                                    \
    static double ref_##name##_d(double d, const struct tsr_op_attrs *at) {                        \
        (void)at;                                                                                  \
        return (expr);                                                                             \
    }                                                                                              \
    tsr_status tsr_ref_##name(tsr_context *ctx, const struct tsr_node *node,                       \
                              const struct tsr_tensor *const *in, struct tsr_tensor *out) {        \
        (void)ctx;                                                                                 \
        return ref_unary_d(node, in, out, ref_##name##_d, NULL);                                   \
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
/* tsr_ref_<name>: y = dexpr of doubles a, b for float inputs, iexpr of int64 a, b for integer
 * and bool inputs (broadcast); the result is stored in the output's dtype. */
#define REF_ARITH(name, dexpr, iexpr)                                                              \
    static double ref_##name##_dd(double a, double b) {                                            \
        return (dexpr);                                                                            \
    }                                                                                              \
    static int64_t ref_##name##_ii(int64_t a, int64_t b) {                                         \
        return (iexpr);                                                                            \
    }                                                                                              \
    tsr_status tsr_ref_##name(tsr_context *ctx, const struct tsr_node *node,                       \
                              const struct tsr_tensor *const *in, struct tsr_tensor *out) {        \
        (void)ctx, (void)node;                                                                     \
        return ref_binary_any(in, out, NULL, ref_##name##_dd, ref_##name##_ii);                    \
    }

static double gelu(double d, int tanh_form) {
    if (tanh_form) /* ONNX Gelu approximate="tanh" */
        return 0.5 * d * (1.0 + tanh(sqrt(2.0 / M_PI) * (d + 0.044715 * d * d * d)));
    return 0.5 * d * (1.0 + erf(d / sqrt(2.0)));
}

/* Integer arithmetic wraps (two's complement, as NumPy); division truncates toward zero (C, as
 * ONNX Runtime), x / 0 is 0 and INT64_MIN / -1 wraps rather than trapping. */
static int64_t wrap_add(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a + (uint64_t)b);
}
static int64_t wrap_sub(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a - (uint64_t)b);
}
static int64_t wrap_mul(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a * (uint64_t)b);
}
static int64_t int_div(int64_t a, int64_t b) {
    if (b == 0) return 0;
    if (b == -1) return wrap_sub(0, a);
    return a / b;
}
static double neg_d(double d, const struct tsr_op_attrs *at) {
    (void)at;
    return -d;
}
static int64_t neg_i(int64_t v, const struct tsr_op_attrs *at) {
    (void)at;
    return wrap_sub(0, v);
}

REF_UNARY_D(sigmoid, 1.0 / (1.0 + exp(-d)))
REF_UNARY_D(tanh, tanh(d))
REF_UNARY_D(leaky_relu, d >= 0.0 ? d : (double)at->leaky_alpha * d)
REF_UNARY_D(erf, erf(d))
REF_UNARY_D(gelu, gelu(d, at->gelu_tanh))
REF_UNARY_D(sqrt, sqrt(d))
REF_UNARY_D(exp, exp(d))
REF_UNARY_D(log, log(d))
REF_ARITH(add, a + b, wrap_add(a, b))
REF_ARITH(sub, a - b, wrap_sub(a, b))
REF_ARITH(mul, a *b, wrap_mul(a, b))
REF_ARITH(div, a / b, int_div(a, b))

tsr_status tsr_ref_neg(tsr_context *ctx, const struct tsr_node *node,
                       const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    return ref_unary_d(node, in, out, neg_d, neg_i);
}

/* ---- float32 elementwise operators (group "ewops"): the ONNX formulas in double ----------- */
static double clamp01(double t) { /* NaN propagates */
    return t < 0.0 ? 0.0 : (t > 1.0 ? 1.0 : t);
}
/* softplus = log(1 + exp(d)), written without overflow */
static double softplus(double d) {
    return isnan(d) ? d : fmax(d, 0.0) + log1p(exp(-fabs(d)));
}
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

static tsr_status tsr_ref_maxpool_indices(const struct tsr_node *node,
                                          const struct tsr_window_geometry *wg,
                                          const struct tsr_tensor *x, struct tsr_tensor *out);

static tsr_status tsr_ref_conv3d(tsr_context *ctx, const struct tsr_node *node,
                                 const struct tsr_tensor *const *in, struct tsr_tensor *out);
static tsr_status tsr_ref_pool3d(tsr_context *ctx, const struct tsr_node *node,
                                 const struct tsr_tensor *const *in, struct tsr_tensor *out);

/* Conv, MaxPool, AveragePool on NCHW (ONNX semantics; see tsr_window_geometry). MaxPool: a NaN
 * in the window gives NaN (NumPy's max, PyTorch's max_pool2d; ONNX Runtime skips NaN). */
tsr_status tsr_ref_window(tsr_context *ctx, const struct tsr_node *node,
                          const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    if (xd->rank == 5 && node->op != TSR_OP_CONV) return tsr_ref_pool3d(ctx, node, in, out);
    if (xd->rank == 5) return tsr_ref_conv3d(ctx, node, in, out); /* group "conv3d" */
    struct tsr_window_geometry wg;
    tsr_status st =
        tsr_window_geometry(ctx, node->op, &node->attrs, xd,
                            node->op == TSR_OP_CONV ? &in[1]->desc : NULL, node->name, &wg);
    if (st != TSR_OK) return st;
    if (node->op == TSR_OP_MAXPOOL && node->attrs.pool_indices) /* group "multiout" */
        return tsr_ref_maxpool_indices(node, &wg, in[0], out);
    const struct tsr_op_attrs *at = &node->attrs;
    /* 1-D inputs [N, C, W] (group "spatial") are the 2-D case with H = 1 */
    const int one_d = xd->rank == 3;
    int64_t N = xd->dims[0], C = xd->dims[1], H = one_d ? 1 : xd->dims[2],
            W = xd->dims[one_d ? 2 : 3];
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
                                    if (v > acc || isnan(v)) acc = isnan(acc) ? acc : v;
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

/* Group "spatial": GlobalMaxPool, the max over the spatial dims; NaN propagates. */
tsr_status tsr_ref_global_max_pool(tsr_context *ctx, const struct tsr_node *node,
                                   const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx, (void)node;
    float *y = out->data;
    const float *x = in[0]->data;
    int64_t nc = in[0]->desc.dims[0] * in[0]->desc.dims[1],
            sp = nc ? tsr_desc_elements(&in[0]->desc) / nc : 0;
    for (int64_t i = 0; i < nc; i++) {
        double acc = -INFINITY;
        for (int64_t j = 0; j < sp; j++) {
            double v = x[i * sp + j];
            if (v > acc || isnan(v)) acc = v;
            if (isnan(acc)) break;
        }
        y[i] = (float)acc;
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
    void *y = out->data;
    int r = od->rank;
    int64_t axis = node->attrs.axis == TSR_AXIS_DEFAULT ? 0 : node->attrs.axis;
    if (axis < 0) axis += r;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= od->dims[d];
    for (int d = (int)axis + 1; d < r; d++)
        inner *= od->dims[d];
    int64_t row = od->dims[axis] * inner, col = 0;
    size_t es = tsr_dtype_size(od->dtype);
    for (int k = 0; k < node->n_inputs; k++) {
        int64_t w = in[k]->desc.dims[axis] * inner;
        const char *x = in[k]->data;
        for (int64_t o = 0; o < outer; o++)
            if (w)
                memcpy((char *)y + (size_t)(o * row + col) * es, x + (size_t)(o * w) * es,
                       (size_t)w * es);
        col += w;
    }
    return TSR_OK;
}

tsr_status tsr_ref_transpose(tsr_context *ctx, const struct tsr_node *node,
                             const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *od = &out->desc;
    int64_t n = tsr_desc_elements(od), idx[TSR_MAX_RANK];
    char *y = out->data;
    int64_t perm[TSR_MAX_RANK], in_stride[TSR_MAX_RANK];
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    tsr_transpose_perm(&node->attrs, xd->rank, perm);
    int64_t st = 1;
    for (int d = xd->rank - 1; d >= 0; d--) {
        in_stride[d] = st;
        st *= xd->dims[d];
    }
    const char *x = in[0]->data;
    size_t es = tsr_dtype_size(od->dtype);
    for (int64_t i = 0; i < n; i++) {
        unravel(i, od, idx);
        int64_t off = 0;
        for (int d = 0; d < od->rank; d++)
            off += idx[d] * in_stride[perm[d]];
        memcpy(y + (size_t)i * es, x + (size_t)off * es, es);
    }
    return TSR_OK;
}

/* Every Reduce* (ReduceMean, ReduceSum, ReduceMax; group "reduce": ReduceMin, ReduceProd,
 * ReduceSumSquare, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp): float dtypes accumulate in
 * double, integer ones in int64 with wrap-around (the mean truncates toward zero, as ONNX
 * Runtime). Max and min propagate NaN. LogSumExp: max m first, then m + log(sum exp(x - m))
 * (m = +-inf or NaN gives m). Empty reductions: sum 0, mean NaN, max -inf, min +inf, prod 1,
 * log-sum and log-sum-exp -inf. */
enum ref_reduce {
    RR_SUM,
    RR_MEAN,
    RR_MAX,
    RR_MIN,
    RR_PROD,
    RR_SUMSQ,
    RR_L1,
    RR_L2,
    RR_LOGSUM,
    RR_LSE
};
static enum ref_reduce ref_reduce_kind(tsr_op op) {
    switch (op) {
    case TSR_OP_REDUCESUM:
        return RR_SUM;
    case TSR_OP_REDUCEMAX:
        return RR_MAX;
    case TSR_OP_REDUCEMIN:
        return RR_MIN;
    case TSR_OP_REDUCEPROD:
        return RR_PROD;
    case TSR_OP_REDUCESUMSQUARE:
        return RR_SUMSQ;
    case TSR_OP_REDUCEL1:
        return RR_L1;
    case TSR_OP_REDUCEL2:
        return RR_L2;
    case TSR_OP_REDUCELOGSUM:
        return RR_LOGSUM;
    case TSR_OP_REDUCELOGSUMEXP:
        return RR_LSE;
    default:
        return RR_MEAN;
    }
}

/* Output element of input element i (the reduced dims dropped). */
static int64_t reduce_out_index(const struct tsr_tensor_desc *xd, unsigned mask, int64_t i) {
    int64_t idx[TSR_MAX_RANK], o = 0;
    unravel(i, xd, idx);
    for (int d = 0; d < xd->rank; d++)
        if (!(mask & (1u << d))) o = o * xd->dims[d] + idx[d];
    return o;
}

tsr_status tsr_ref_reduce(tsr_context *ctx, const struct tsr_node *node,
                          const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    int64_t n = tsr_desc_elements(&out->desc);
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    int flt = tsr_dtype_is_float(xd->dtype);
    enum ref_reduce kind = ref_reduce_kind(node->op);
    unsigned mask;
    tsr_reduce_mask(&node->attrs, xd->rank, &mask);
    if (!mask) /* noop_with_empty_axes with no axes: the input, unchanged */
        kind = RR_SUM;
    /* Accumulate every input element into the output element it reduces to. */
    double *acc = calloc((size_t)(n ? n : 1), sizeof *acc);
    double *mx = calloc((size_t)(n ? n : 1), sizeof *mx);
    int64_t *iacc = calloc((size_t)(n ? n : 1), sizeof *iacc);
    int64_t *cnt = calloc((size_t)(n ? n : 1), sizeof *cnt);
    if (!acc || !cnt || !iacc || !mx) {
        free(acc);
        free(mx);
        free(iacc);
        free(cnt);
        return TSR_ERR(ctx, TSR_E_NOMEM, "reference: out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        acc[i] = kind == RR_MAX || kind == RR_LSE ? -INFINITY
                 : kind == RR_MIN                 ? INFINITY
                 : kind == RR_PROD                ? 1.0
                                                  : 0.0;
        iacc[i] = kind == RR_MAX ? INT64_MIN : kind == RR_MIN ? INT64_MAX : kind == RR_PROD;
    }
    int64_t nx = tsr_desc_elements(xd);
    for (int64_t i = 0; i < nx; i++) {
        int64_t o = reduce_out_index(xd, mask, i);
        if (flt) {
            double x = tsr_elem_get_f64(xd->dtype, in[0]->data, i);
            switch (kind) {
            case RR_MAX:
            case RR_LSE:
                if (x > acc[o] || isnan(x)) acc[o] = isnan(acc[o]) ? acc[o] : x;
                break;
            case RR_MIN:
                if (x < acc[o] || isnan(x)) acc[o] = isnan(acc[o]) ? acc[o] : x;
                break;
            case RR_PROD:
                acc[o] *= x;
                break;
            case RR_SUMSQ:
            case RR_L2:
                acc[o] += x * x;
                break;
            case RR_L1:
                acc[o] += fabs(x);
                break;
            default:
                acc[o] += x;
            }
        } else {
            int64_t x = tsr_elem_get_i64(xd->dtype, in[0]->data, i);
            switch (kind) {
            case RR_MAX:
                if (x > iacc[o]) iacc[o] = x;
                break;
            case RR_MIN:
                if (x < iacc[o]) iacc[o] = x;
                break;
            case RR_PROD:
                iacc[o] = wrap_mul(iacc[o], x);
                break;
            case RR_SUMSQ:
                iacc[o] = wrap_add(iacc[o], wrap_mul(x, x));
                break;
            case RR_L1:
                iacc[o] = wrap_add(iacc[o], x < 0 ? (int64_t)(0 - (uint64_t)x) : x);
                break;
            default:
                iacc[o] = wrap_add(iacc[o], x);
            }
        }
        cnt[o]++;
    }
    if (flt && kind == RR_LSE) {
        /* second pass: sum of exp(x - max) */
        for (int64_t i = 0; i < n; i++) {
            mx[i] = acc[i];
            acc[i] = 0.0;
        }
        for (int64_t i = 0; i < nx; i++) {
            int64_t o = reduce_out_index(xd, mask, i);
            if (!isinf(mx[o]) && !isnan(mx[o]))
                acc[o] += exp(tsr_elem_get_f64(xd->dtype, in[0]->data, i) - mx[o]);
        }
    }
    for (int64_t i = 0; i < n; i++) {
        if (flt) {
            double r = acc[i];
            if (kind == RR_MEAN)
                r = acc[i] / (double)cnt[i];
            else if (kind == RR_L2)
                r = sqrt(acc[i]);
            else if (kind == RR_LOGSUM)
                r = log(acc[i]);
            else if (kind == RR_LSE)
                r = isinf(mx[i]) || isnan(mx[i]) ? mx[i] : mx[i] + log(acc[i]);
            tsr_elem_set_f64(out->desc.dtype, out->data, i, r);
        } else {
            tsr_elem_set_i64(out->desc.dtype, out->data, i,
                             kind == RR_MEAN ? (cnt[i] ? iacc[i] / cnt[i] : 0) : iacc[i]);
        }
    }
    free(acc);
    free(mx);
    free(iacc);
    free(cnt);
    return TSR_OK;
}

tsr_status tsr_ref_layernorm(tsr_context *ctx, const struct tsr_node *node,
                             const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    int64_t n = tsr_desc_elements(&out->desc);
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    tsr_dtype dt = xd->dtype;
    int64_t axis = node->attrs.axis == TSR_AXIS_DEFAULT ? -1 : node->attrs.axis;
    if (axis < 0) axis += xd->rank;
    int64_t len = 1;
    for (int d = (int)axis; d < xd->rank; d++)
        len *= xd->dims[d];
    int64_t rows = len ? n / len : 0;
    const void *x = in[0]->data, *sc = node->n_inputs > 1 ? in[1]->data : NULL;
    const void *bb = node->n_inputs > 2 ? in[2]->data : NULL;
    for (int64_t r = 0; r < rows; r++) {
        double mean = 0.0, var = 0.0;
        for (int64_t j = 0; j < len; j++)
            mean += tsr_elem_get_f64(dt, x, r * len + j);
        mean /= (double)len;
        for (int64_t j = 0; j < len; j++) {
            double dlt = tsr_elem_get_f64(dt, x, r * len + j) - mean;
            var += dlt * dlt;
        }
        var /= (double)len;
        double inv = 1.0 / sqrt(var + node->attrs.epsilon);
        for (int64_t j = 0; j < len; j++)
            tsr_elem_set_f64(dt, out->data, r * len + j,
                             (tsr_elem_get_f64(dt, x, r * len + j) - mean) * inv *
                                     (sc ? tsr_elem_get_f64(dt, sc, j) : 1.0) +
                                 (bb ? tsr_elem_get_f64(dt, bb, j) : 0.0));
    }
    return TSR_OK;
}

/* Identity, Flatten, Reshape: the input's elements. */
tsr_status tsr_ref_copy(tsr_context *ctx, const struct tsr_node *node,
                        const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx, (void)node;
    memcpy(out->data, in[0]->data, tsr_desc_bytes(&out->desc));
    return TSR_OK;
}

/* Softmax; group "reduce": LogSoftmax (x - max - log sum exp(x - max)) and Hardmax (1 at the
 * first maximum), over the same axis rules. */
tsr_status tsr_ref_softmax(tsr_context *ctx, const struct tsr_node *node,
                           const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const void *x = in[0]->data;
    tsr_dtype dt = in[0]->desc.dtype;
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
                double v = tsr_elem_get_f64(dt, x, (o * len + j) * inner + k);
                if (v > mx) mx = v;
            }
            if (node->op == TSR_OP_HARDMAX) { /* 1 at the first maximum */
                int64_t arg = -1;
                for (int64_t j = 0; j < len && arg < 0; j++)
                    if (tsr_elem_get_f64(dt, x, (o * len + j) * inner + k) == mx) arg = j;
                for (int64_t j = 0; j < len; j++)
                    tsr_elem_set_f64(dt, out->data, (o * len + j) * inner + k, j == arg);
                continue;
            }
            for (int64_t j = 0; j < len; j++)
                sum += exp(tsr_elem_get_f64(dt, x, (o * len + j) * inner + k) - mx);
            for (int64_t j = 0; j < len; j++) {
                int64_t at = (o * len + j) * inner + k;
                double d = tsr_elem_get_f64(dt, x, at) - mx;
                tsr_elem_set_f64(dt, out->data, at,
                                 node->op == TSR_OP_LOGSOFTMAX ? d - log(sum) : exp(d) / sum);
            }
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

/* ---- issue 9, group "dtypes": shape arithmetic, masks ------------------------------------- */

REF_ARITH(equal, a == b, a == b)
REF_ARITH(less, a < b, a < b)
REF_ARITH(greater, a > b, a > b)
REF_ARITH(less_or_equal, a <= b, a <= b)
REF_ARITH(greater_or_equal, a >= b, a >= b)
REF_ARITH(and, a != 0.0 && b != 0.0, a &&b)
REF_ARITH(or, a != 0.0 || b != 0.0, a || b)
REF_ARITH(xor, (a != 0.0) != (b != 0.0), (a != 0) != (b != 0))

static double not_d(double d, const struct tsr_op_attrs *at) {
    (void)at;
    return d == 0.0;
}
static int64_t not_i(int64_t v, const struct tsr_op_attrs *at) {
    (void)at;
    return v == 0;
}
tsr_status tsr_ref_not(tsr_context *ctx, const struct tsr_node *node,
                       const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    return ref_unary_d(node, in, out, not_d, not_i);
}

/* Copies element i of (xt, x) to element j of (yt, y) converting as ONNX Cast does: through
 * double from a float dtype, through int64 otherwise (exact for every integer). */
static void convert_elem(tsr_dtype yt, void *y, int64_t j, tsr_dtype xt, const void *x, int64_t i) {
    if (xt == yt) {
        size_t es = tsr_dtype_size(xt);
        memcpy((char *)y + (size_t)j * es, (const char *)x + (size_t)i * es, es);
    } else if (tsr_dtype_is_float(xt)) {
        tsr_elem_set_f64(yt, y, j, tsr_elem_get_f64(xt, x, i));
    } else {
        tsr_elem_set_i64(yt, y, j, tsr_elem_get_i64(xt, x, i));
    }
}

tsr_status tsr_ref_cast(tsr_context *ctx, const struct tsr_node *node,
                        const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx, (void)node;
    int64_t n = tsr_desc_elements(&out->desc);
    for (int64_t i = 0; i < n; i++)
        convert_elem(out->desc.dtype, out->data, i, in[0]->desc.dtype, in[0]->data, i);
    return TSR_OK;
}

tsr_status tsr_ref_shape(tsr_context *ctx, const struct tsr_node *node,
                         const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    int r = in[0]->desc.rank;
    int64_t b = node->attrs.shape_start;
    if (b < 0) b += r;
    if (b < 0) b = 0;
    int64_t *y = out->data;
    for (int64_t i = 0; i < out->desc.dims[0]; i++)
        y[i] = in[0]->desc.dims[b + i];
    return TSR_OK;
}

tsr_status tsr_ref_size(tsr_context *ctx, const struct tsr_node *node,
                        const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx, (void)node;
    *(int64_t *)out->data = tsr_desc_elements(&in[0]->desc);
    return TSR_OK;
}

tsr_status tsr_ref_gather(tsr_context *ctx, const struct tsr_node *node,
                          const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc, *id = &in[1]->desc;
    int64_t axis = node->attrs.axis == TSR_AXIS_DEFAULT ? 0 : node->attrs.axis;
    if (axis < 0) axis += xd->rank;
    int64_t outer = 1, inner = 1, d = xd->dims[axis], ni = tsr_desc_elements(id);
    for (int k = 0; k < axis; k++)
        outer *= xd->dims[k];
    for (int k = (int)axis + 1; k < xd->rank; k++)
        inner *= xd->dims[k];
    size_t es = tsr_dtype_size(xd->dtype);
    const char *x = in[0]->data;
    char *y = out->data;
    for (int64_t j = 0; j < ni; j++) {
        int64_t v = tsr_elem_get_i64(id->dtype, in[1]->data, j);
        if (v < -d || v >= d)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                           "node '%s' (Gather): index %lld out of range [%lld, %lld)", node->name,
                           (long long)v, (long long)-d, (long long)d);
        if (v < 0) v += d;
        for (int64_t o = 0; o < outer; o++)
            if (inner)
                memcpy(y + (size_t)((o * ni + j) * inner) * es,
                       x + (size_t)((o * d + v) * inner) * es, (size_t)inner * es);
    }
    return TSR_OK;
}

tsr_status tsr_ref_constant_of_shape(tsr_context *ctx, const struct tsr_node *node,
                                     const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx, (void)in;
    int64_t n = tsr_desc_elements(&out->desc);
    tsr_dtype dt = out->desc.dtype;
    for (int64_t i = 0; i < n; i++) {
        if (tsr_dtype_is_float(dt))
            tsr_elem_set_f64(dt, out->data, i, node->attrs.fill_f64);
        else
            tsr_elem_set_i64(dt, out->data, i, node->attrs.fill_i64);
    }
    return TSR_OK;
}

tsr_status tsr_ref_range(tsr_context *ctx, const struct tsr_node *node,
                         const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx, (void)node;
    int64_t n = out->desc.dims[0];
    tsr_dtype dt = out->desc.dtype;
    for (int64_t i = 0; i < n; i++) {
        /* ONNX Range: start + i * delta (floats in double, integers exactly) */
        if (tsr_dtype_is_float(dt))
            tsr_elem_set_f64(dt, out->data, i,
                             tsr_elem_get_f64(dt, in[0]->data, 0) +
                                 (double)i * tsr_elem_get_f64(dt, in[2]->data, 0));
        else
            tsr_elem_set_i64(dt, out->data, i,
                             wrap_add(tsr_elem_get_i64(dt, in[0]->data, 0),
                                      wrap_mul(i, tsr_elem_get_i64(dt, in[2]->data, 0))));
    }
    return TSR_OK;
}

tsr_status tsr_ref_expand(tsr_context *ctx, const struct tsr_node *node,
                          const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx, (void)node;
    const struct tsr_tensor_desc *od = &out->desc;
    int64_t n = tsr_desc_elements(od), idx[TSR_MAX_RANK];
    size_t es = tsr_dtype_size(od->dtype);
    for (int64_t i = 0; i < n; i++) {
        unravel(i, od, idx);
        memcpy((char *)out->data + (size_t)i * es,
               (const char *)in[0]->data + (size_t)bcast_offset(&in[0]->desc, idx, od->rank) * es,
               es);
    }
    return TSR_OK;
}

tsr_status tsr_ref_slice(tsr_context *ctx, const struct tsr_node *node,
                         const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc, *od = &out->desc;
    int64_t start[TSR_MAX_RANK], step[TSR_MAX_RANK], dims[TSR_MAX_RANK], xs[TSR_MAX_RANK], st = 1;
    if (tsr_slice_geometry(&node->attrs, xd, start, step, dims))
        return TSR_ERR(ctx, TSR_E_SHAPE, "node '%s' (Slice): bad parameters", node->name);
    for (int d = xd->rank - 1; d >= 0; d--) {
        xs[d] = st;
        st *= xd->dims[d];
    }
    int64_t n = tsr_desc_elements(od), idx[TSR_MAX_RANK];
    size_t es = tsr_dtype_size(od->dtype);
    for (int64_t i = 0; i < n; i++) {
        unravel(i, od, idx);
        int64_t off = 0;
        for (int d = 0; d < xd->rank; d++)
            off += (start[d] + idx[d] * step[d]) * xs[d];
        memcpy((char *)out->data + (size_t)i * es, (const char *)in[0]->data + (size_t)off * es,
               es);
    }
    return TSR_OK;
}

tsr_status tsr_ref_where(tsr_context *ctx, const struct tsr_node *node,
                         const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx, (void)node;
    const struct tsr_tensor_desc *od = &out->desc;
    int64_t n = tsr_desc_elements(od), idx[TSR_MAX_RANK];
    size_t es = tsr_dtype_size(od->dtype);
    for (int64_t i = 0; i < n; i++) {
        unravel(i, od, idx);
        int c = ((const uint8_t *)in[0]->data)[bcast_offset(&in[0]->desc, idx, od->rank)] != 0;
        const struct tsr_tensor *src = in[c ? 1 : 2];
        memcpy((char *)out->data + (size_t)i * es,
               (const char *)src->data + (size_t)bcast_offset(&src->desc, idx, od->rank) * es, es);
    }
    return TSR_OK;
}

/* ---- issue 9, group "tkern" ------------------------------------------------------------- */

/* ONNX Pad: per output element, the source index along each dim (constant: none outside). */
tsr_status tsr_ref_pad(tsr_context *ctx, const struct tsr_node *node,
                       const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc, *od = &out->desc;
    int64_t b[TSR_MAX_RANK], e[TSR_MAX_RANK], dims[TSR_MAX_RANK];
    if (tsr_pad_geometry(&node->attrs, xd, b, e, dims))
        return TSR_ERR(ctx, TSR_E_SHAPE, "node '%s' (Pad): bad pads", node->name);
    int64_t n = tsr_desc_elements(od), idx[TSR_MAX_RANK];
    size_t es = tsr_dtype_size(od->dtype);
    for (int64_t i = 0; i < n; i++) {
        unravel(i, od, idx);
        int64_t off = 0, stride = 1;
        int outside = 0;
        for (int d = xd->rank - 1; d >= 0; d--) {
            int64_t dim = xd->dims[d], s = idx[d] - b[d];
            if (s < 0 || s >= dim) {
                if (node->attrs.pad_mode == 2) { /* edge */
                    s = s < 0 ? 0 : dim - 1;
                } else if (node->attrs.pad_mode == 1) { /* reflect: -1 -> 1, dim -> dim - 2 */
                    s = s < 0 ? -s : 2 * (dim - 1) - s;
                } else {
                    outside = 1;
                }
            }
            off += s * stride;
            stride *= dim;
        }
        if (outside)
            tsr_elem_set_f64(od->dtype, out->data, i, node->attrs.pad_value);
        else
            memcpy((char *)out->data + (size_t)i * es, (const char *)in[0]->data + (size_t)off * es,
                   es);
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

/* ---- issue 9, group "spatial": Resize / Upsample ------------------------------------------- */

/* Directly from the taps of each output position along the two innermost dims (ONNX Resize:
 * the separable 1-D interpolations applied in turn), in double. */
tsr_status tsr_ref_resize(tsr_context *ctx, const struct tsr_node *node,
                          const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *descs[TSR_NODE_MAX_INPUTS];
    const void *data[TSR_NODE_MAX_INPUTS];
    for (int i = 0; i < node->n_inputs; i++) {
        descs[i] = &in[i]->desc;
        data[i] = in[i]->data;
    }
    struct tsr_resize_geometry rg;
    tsr_status st = tsr_resize_geometry(ctx, node->op, &node->attrs, descs, data, node->n_inputs,
                                        node->name, &rg);
    if (st != TSR_OK) return st;
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    const int r = xd->rank;
    const int64_t W = xd->dims[r - 1], OW = rg.out.dims[r - 1];
    const int64_t H = r >= 2 ? xd->dims[r - 2] : 1, OH = r >= 2 ? rg.out.dims[r - 2] : 1;
    const double sh = r >= 2 ? rg.scale[r - 2] : 1.0, sw = rg.scale[r - 1];
    const int64_t planes = (H * W) != 0 ? tsr_desc_elements(xd) / (H * W) : 0;
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t ih[4] = {oh, 0, 0, 0};
            double wh[4] = {1.0, 0, 0, 0};
            int nh = r >= 2 && (OH != H || sh != 1.0)
                         ? tsr_resize_taps(&node->attrs, H, OH, sh, oh, ih, wh)
                         : 1;
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t iw[4] = {ow, 0, 0, 0};
                double ww[4] = {1.0, 0, 0, 0};
                int nw =
                    OW != W || sw != 1.0 ? tsr_resize_taps(&node->attrs, W, OW, sw, ow, iw, ww) : 1;
                double acc = 0.0;
                for (int a = 0; a < nh; a++)
                    for (int b = 0; b < nw; b++)
                        acc += wh[a] * ww[b] * x[(p * H + ih[a]) * W + iw[b]];
                y[(p * OH + oh) * OW + ow] = (float)acc;
            }
        }
    return TSR_OK;
}
/* ---- issue 9, group "reduce" ------------------------------------------------------------ */

/* ArgMax / ArgMin: index of the first (select_last_index: last) extremum along the axis,
 * compared in double (integers exactly up to 2^53) with > / < (>= / <= for the last). */
tsr_status tsr_ref_arg(tsr_context *ctx, const struct tsr_node *node,
                       const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    int r = xd->rank;
    int64_t axis = node->attrs.axis == TSR_AXIS_DEFAULT ? 0 : node->attrs.axis;
    if (axis < 0) axis += r;
    int64_t outer = 1, len = xd->dims[axis], inner = 1;
    for (int d = 0; d < r; d++) {
        if (d < axis) outer *= xd->dims[d];
        if (d > axis) inner *= xd->dims[d];
    }
    const int is_min = node->op == TSR_OP_ARGMIN, last = node->attrs.select_last_index;
    int64_t *y = out->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t best = 0;
            double bv = tsr_elem_get_f64(xd->dtype, in[0]->data, o * len * inner + i);
            for (int64_t j = 1; j < len; j++) {
                double v = tsr_elem_get_f64(xd->dtype, in[0]->data, (o * len + j) * inner + i);
                int better = is_min ? (last ? v <= bv : v < bv) : (last ? v >= bv : v > bv);
                if (better) {
                    best = j;
                    bv = v;
                }
            }
            y[o * inner + i] = best;
        }
    return TSR_OK;
}

/* InstanceNormalization: per (n, c) of [N, C, spatial...], y = (x - mean) / sqrt(var + eps) *
 * scale[c] + bias[c] (biased variance, two passes in double). */
tsr_status tsr_ref_instancenorm(tsr_context *ctx, const struct tsr_node *node,
                                const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    const tsr_dtype dt = xd->dtype;
    const int64_t N = xd->dims[0], C = xd->dims[1];
    int64_t L = 1;
    for (int d = 2; d < xd->rank; d++)
        L *= xd->dims[d];
    for (int64_t r = 0; r < N * C; r++) {
        double mean = 0.0, var = 0.0;
        for (int64_t j = 0; j < L; j++)
            mean += tsr_elem_get_f64(dt, in[0]->data, r * L + j);
        mean /= (double)L;
        for (int64_t j = 0; j < L; j++) {
            double d = tsr_elem_get_f64(dt, in[0]->data, r * L + j) - mean;
            var += d * d;
        }
        var /= (double)L;
        const double sc = tsr_elem_get_f64(dt, in[1]->data, r % C);
        const double b = tsr_elem_get_f64(dt, in[2]->data, r % C);
        const double inv = 1.0 / sqrt(var + (double)node->attrs.epsilon);
        for (int64_t j = 0; j < L; j++)
            tsr_elem_set_f64(dt, out->data, r * L + j,
                             (tsr_elem_get_f64(dt, in[0]->data, r * L + j) - mean) * inv * sc + b);
    }
    return TSR_OK;
}

/* CumSum in double (floats) or int64 with wrap-around (integers), in axis order. */
tsr_status tsr_ref_cumsum(tsr_context *ctx, const struct tsr_node *node,
                          const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    const tsr_dtype dt = xd->dtype;
    int64_t axis = node->attrs.cumsum_axis[0];
    if (axis < 0) axis += xd->rank;
    int64_t outer = 1, len = xd->dims[axis], inner = 1;
    for (int d = 0; d < xd->rank; d++) {
        if (d < axis) outer *= xd->dims[d];
        if (d > axis) inner *= xd->dims[d];
    }
    const int flt = tsr_dtype_is_float(dt), ex = node->attrs.cumsum_exclusive;
    const int rev = node->attrs.cumsum_reverse;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double acc = 0.0;
            int64_t iacc = 0;
            for (int64_t t = 0; t < len; t++) {
                const int64_t j = rev ? len - 1 - t : t;
                const int64_t at = (o * len + j) * inner + i;
                if (ex) {
                    if (flt)
                        tsr_elem_set_f64(dt, out->data, at, acc);
                    else
                        tsr_elem_set_i64(dt, out->data, at, iacc);
                }
                if (flt)
                    acc += tsr_elem_get_f64(dt, in[0]->data, at);
                else
                    iacc = wrap_add(iacc, tsr_elem_get_i64(dt, in[0]->data, at));
                if (!ex) {
                    if (flt)
                        tsr_elem_set_f64(dt, out->data, at, acc);
                    else
                        tsr_elem_set_i64(dt, out->data, at, iacc);
                }
            }
        }
    return TSR_OK;
}

/* DepthToSpace / SpaceToDepth by the ONNX index formulas (not the view of the lowering). */
tsr_status tsr_ref_depth_space(tsr_context *ctx, const struct tsr_node *node,
                               const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *xd = &in[0]->desc, *od = &out->desc;
    const int64_t b = node->attrs.blocksize, C = xd->dims[1], H = xd->dims[2], W = xd->dims[3];
    const int64_t OC = od->dims[1], OH = od->dims[2], OW = od->dims[3];
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t n = 0; n < od->dims[0]; n++)
        for (int64_t c = 0; c < OC; c++)
            for (int64_t h = 0; h < OH; h++)
                for (int64_t w = 0; w < OW; w++) {
                    int64_t ic, ih, iw;
                    if (node->op == TSR_OP_DEPTHTOSPACE) {
                        const int64_t bh = h % b, bw = w % b;
                        ic = node->attrs.depth_crd ? c * b * b + bh * b + bw
                                                   : (bh * b + bw) * OC + c;
                        ih = h / b;
                        iw = w / b;
                    } else { /* output channel = (bh * b + bw) * C + ic */
                        const int64_t blk = c / C;
                        ic = c % C;
                        ih = h * b + blk / b;
                        iw = w * b + blk % b;
                    }
                    y[((n * OC + c) * OH + h) * OW + w] = x[((n * C + ic) * H + ih) * W + iw];
                }
    return TSR_OK;
}

/* Tile: output index i reads input index i mod dims, per dim. */
tsr_status tsr_ref_tile(tsr_context *ctx, const struct tsr_node *node,
                        const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx, (void)node;
    const struct tsr_tensor_desc *xd = &in[0]->desc, *od = &out->desc;
    int64_t n = tsr_desc_elements(od), idx[TSR_MAX_RANK];
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t i = 0; i < n; i++) {
        unravel(i, od, idx);
        int64_t off = 0;
        for (int d = 0; d < xd->rank; d++)
            off = off * xd->dims[d] + idx[d] % xd->dims[d];
        y[i] = x[off];
    }
    return TSR_OK;
}

/* GroupNormalization: per (n, group) of [N, C, spatial...], statistics in double over the
 * group's C / G channels; scale / bias per channel ([C]) or per group ([G]). */
tsr_status tsr_ref_groupnorm(tsr_context *ctx, const struct tsr_node *node,
                             const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    const tsr_dtype dt = xd->dtype;
    const int64_t N = xd->dims[0], C = xd->dims[1], G = node->attrs.num_groups;
    const int per_channel = in[1]->desc.dims[0] == C;
    int64_t sp = 1;
    for (int d = 2; d < xd->rank; d++)
        sp *= xd->dims[d];
    const int64_t L = C / G * sp;
    for (int64_t r = 0; r < N * G; r++) {
        double mean = 0.0, var = 0.0;
        for (int64_t j = 0; j < L; j++)
            mean += tsr_elem_get_f64(dt, in[0]->data, r * L + j);
        mean /= (double)L;
        for (int64_t j = 0; j < L; j++) {
            double d = tsr_elem_get_f64(dt, in[0]->data, r * L + j) - mean;
            var += d * d;
        }
        var /= (double)L;
        const double inv = 1.0 / sqrt(var + (double)node->attrs.epsilon);
        for (int64_t j = 0; j < L; j++) {
            const int64_t idx = per_channel ? (r % G) * (C / G) + j / sp : r % G;
            const double v = (tsr_elem_get_f64(dt, in[0]->data, r * L + j) - mean) * inv;
            tsr_elem_set_f64(dt, out->data, r * L + j,
                             v * tsr_elem_get_f64(dt, in[1]->data, idx) +
                                 tsr_elem_get_f64(dt, in[2]->data, idx));
        }
    }
    return TSR_OK;
}

/* ---- preproc: tessera-domain preprocessing ops ("ai.tessera", docs/PREPROC.md) ------------- */

REF_UNARY(threshold,
          x > at->threshold_value ? (at->threshold_binary ? at->threshold_high : x) : 0.0f)

/* [outer, len, inner] around the node's axis (default -1) of X. */
static void ref_preproc_geometry(const struct tsr_node *node, const struct tsr_tensor_desc *xd,
                                 int64_t *outer, int64_t *len, int64_t *inner) {
    int64_t axis = node->attrs.axis == TSR_AXIS_DEFAULT ? -1 : node->attrs.axis;
    if (axis < 0) axis += xd->rank;
    *outer = 1, *inner = 1, *len = xd->dims[axis];
    for (int d = 0; d < xd->rank; d++) {
        if (d < axis) *outer *= xd->dims[d];
        if (d > axis) *inner *= xd->dims[d];
    }
}

/* RollingMean / RollingStd / EMA in double, straight from the definitions (pandas
 * rolling(window, min_periods).mean() / .std(ddof), ewm(alpha, adjust=False).mean()). */
tsr_status tsr_ref_scan(tsr_context *ctx, const struct tsr_node *node,
                        const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    const tsr_dtype dt = xd->dtype;
    const struct tsr_op_attrs *at = &node->attrs;
    int64_t outer, len, inner;
    ref_preproc_geometry(node, xd, &outer, &len, &inner);
    const int64_t W = at->scan_window;
    const int64_t mp = at->scan_min_periods ? at->scan_min_periods : W;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double prev = 0.0;
            for (int64_t j = 0; j < len; j++) {
                const int64_t at_j = (o * len + j) * inner + i;
                const double x = tsr_elem_get_f64(dt, in[0]->data, at_j);
                double y;
                if (node->op == TSR_OP_EMA) {
                    y = j == 0 ? x : at->ema_alpha * x + (1.0 - at->ema_alpha) * prev;
                    prev = y;
                } else {
                    const int64_t first = j - W + 1 > 0 ? j - W + 1 : 0, c = j - first + 1;
                    double sum = 0.0, ss = 0.0;
                    for (int64_t k = first; k <= j; k++)
                        sum += tsr_elem_get_f64(dt, in[0]->data, (o * len + k) * inner + i);
                    const double mean = sum / (double)c;
                    for (int64_t k = first; k <= j; k++) {
                        const double dv =
                            tsr_elem_get_f64(dt, in[0]->data, (o * len + k) * inner + i) - mean;
                        ss += dv * dv;
                    }
                    if (c < mp)
                        y = NAN;
                    else if (node->op == TSR_OP_ROLLINGMEAN)
                        y = mean;
                    else
                        y = c > at->scan_ddof ? sqrt(ss / (double)(c - at->scan_ddof)) : NAN;
                }
                tsr_elem_set_f64(dt, out->data, at_j, y);
            }
        }
    return TSR_OK;
}

/* ZScore: (x - mean) / sqrt(var + epsilon) over dims axis .. rank-1, population variance. */
tsr_status tsr_ref_zscore(tsr_context *ctx, const struct tsr_node *node,
                          const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    const tsr_dtype dt = xd->dtype;
    int64_t axis = node->attrs.axis == TSR_AXIS_DEFAULT ? -1 : node->attrs.axis;
    if (axis < 0) axis += xd->rank;
    int64_t len = 1;
    for (int d = (int)axis; d < xd->rank; d++)
        len *= xd->dims[d];
    const int64_t rows = len ? tsr_desc_elements(xd) / len : 0;
    for (int64_t r = 0; r < rows; r++) {
        double sum = 0.0, ss = 0.0;
        for (int64_t k = 0; k < len; k++)
            sum += tsr_elem_get_f64(dt, in[0]->data, r * len + k);
        const double mean = sum / (double)len;
        for (int64_t k = 0; k < len; k++) {
            const double dv = tsr_elem_get_f64(dt, in[0]->data, r * len + k) - mean;
            ss += dv * dv;
        }
        const double den = sqrt(ss / (double)len + node->attrs.zscore_epsilon);
        for (int64_t k = 0; k < len; k++)
            tsr_elem_set_f64(dt, out->data, r * len + k,
                             (tsr_elem_get_f64(dt, in[0]->data, r * len + k) - mean) / den);
    }
    return TSR_OK;
}

/* RGBToGray: around the channel axis (default 1) of X [outer, 3, inner], Y[o, 0, i] = 0.299
 * X[o, 0, i] + 0.587 X[o, 1, i] + 0.114 X[o, 2, i] (ITU-R BT.601); uint8: rounded half to even
 * (nearbyint in the default rounding mode), within [0, 255]. */
tsr_status tsr_ref_rgb_to_gray(tsr_context *ctx, const struct tsr_node *node,
                               const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    const tsr_dtype dt = xd->dtype;
    int64_t axis = node->attrs.axis == TSR_AXIS_DEFAULT ? 1 : node->attrs.axis;
    if (axis < 0) axis += xd->rank;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < xd->rank; d++) {
        if (d < axis) outer *= xd->dims[d];
        if (d > axis) inner *= xd->dims[d];
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const double r = tsr_elem_get_f64(dt, in[0]->data, (o * 3 + 0) * inner + i);
            const double g = tsr_elem_get_f64(dt, in[0]->data, (o * 3 + 1) * inner + i);
            const double b = tsr_elem_get_f64(dt, in[0]->data, (o * 3 + 2) * inner + i);
            double y = 0.299 * r + 0.587 * g + 0.114 * b;
            if (dt == TSR_U8) y = fmin(fmax(nearbyint(y), 0.0), 255.0);
            tsr_elem_set_f64(dt, out->data, o * inner + i, y);
        }
    return TSR_OK;
}

/* ---- multiout: TopK ------------------------------------------------------------------------ */

/* TopK (ONNX TopK-11): per [outer, :, inner] column, the k largest (topk_largest 0: smallest)
 * elements in order, ties broken by the lower index (the operator page), compared in double; the
 * values or (topk_indices) their int64 indices. An insertion sort of the index list (stable: equal
 * values keep index order), independent of the kernels' selection. NaN: unspecified order. */
tsr_status tsr_ref_topk(tsr_context *ctx, const struct tsr_node *node,
                        const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    int r = xd->rank;
    int64_t axis = node->attrs.axis == TSR_AXIS_DEFAULT ? -1 : node->attrs.axis;
    if (axis < 0) axis += r;
    int64_t outer = 1, len = xd->dims[axis], inner = 1, k = out->desc.dims[axis];
    for (int d = 0; d < r; d++) {
        if (d < axis) outer *= xd->dims[d];
        if (d > axis) inner *= xd->dims[d];
    }
    int64_t *idx = malloc((size_t)(len ? len : 1) * sizeof *idx);
    double *val = malloc((size_t)(len ? len : 1) * sizeof *val);
    if (!idx || !val) {
        free(idx);
        free(val);
        return TSR_ERR(ctx, TSR_E_NOMEM, "node '%s' (TopK): out of memory", node->name);
    }
    const int largest = node->attrs.topk_largest;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            for (int64_t j = 0; j < len; j++) {
                idx[j] = j;
                val[j] = tsr_elem_get_f64(xd->dtype, in[0]->data, (o * len + j) * inner + i);
            }
            for (int64_t j = 1; j < len; j++) {
                int64_t t = idx[j], m = j;
                while (m > 0 && (largest ? val[t] > val[idx[m - 1]] : val[t] < val[idx[m - 1]])) {
                    idx[m] = idx[m - 1];
                    m--;
                }
                idx[m] = t;
            }
            for (int64_t j = 0; j < k; j++) {
                int64_t at = (o * k + j) * inner + i;
                if (node->attrs.topk_indices)
                    ((int64_t *)out->data)[at] = idx[j];
                else
                    tsr_elem_set_f64(xd->dtype, out->data, at, val[idx[j]]);
            }
        }
    free(idx);
    free(val);
    return TSR_OK;
}

/* ---- multiout: MaxPool Indices ------------------------------------------------------------ */

/* MaxPool's Indices output (ONNX MaxPool-12 and its reference): for each window, the flat index
 * into X of its first maximum (scanning kh then kw; a later position wins only if strictly
 * greater, NaN never wins), ((n * C + c) * H + h) * W + w, or with storage_order 1
 * (n * C + c) * H * W + h + w * H; -1 for a window with no position inside X. 1-D inputs are
 * H = 1. */
static tsr_status tsr_ref_maxpool_indices(const struct tsr_node *node,
                                          const struct tsr_window_geometry *wg,
                                          const struct tsr_tensor *x, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &x->desc;
    const struct tsr_op_attrs *at = &node->attrs;
    const int one_d = xd->rank == 3;
    const int64_t NC = xd->dims[0] * xd->dims[1], H = one_d ? 1 : xd->dims[2],
                  W = xd->dims[one_d ? 2 : 3];
    int64_t *y = out->data;
    for (int64_t p = 0; p < NC; p++)
        for (int64_t oh = 0; oh < wg->oh; oh++)
            for (int64_t ow = 0; ow < wg->ow; ow++) {
                int64_t best = -1;
                double bv = 0;
                for (int64_t kh = 0; kh < wg->kh; kh++)
                    for (int64_t kw = 0; kw < wg->kw; kw++) {
                        int64_t ih = oh * at->strides[0] - wg->pad_t + kh * at->dilations[0];
                        int64_t iw = ow * at->strides[1] - wg->pad_l + kw * at->dilations[1];
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                        double v = tsr_elem_get_f64(xd->dtype, x->data, (p * H + ih) * W + iw);
                        if (best < 0 || v > bv) {
                            bv = v;
                            best =
                                at->storage_order ? p * H * W + ih + iw * H : (p * H + ih) * W + iw;
                        }
                    }
                y[(p * wg->oh + oh) * wg->ow + ow] = best;
            }
    return TSR_OK;
}

/* ---- multiout: NegativeLogLikelihoodLoss ------------------------------------------------- */

/* NegativeLogLikelihoodLoss-13 (the operator page): loss[n, d] = -input[n, t, d] * w[t] for
 * target t = target[n, d] (w = 1 without weight); an ignored target (ignore_index) or one
 * outside [0, C) (undefined in ONNX) gives loss 0 and weight 0. none: loss; sum: its sum; mean:
 * sum / sum of the picked weights. In double. */
tsr_status tsr_ref_nll(tsr_context *ctx, const struct tsr_node *node,
                       const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    const int64_t N = xd->dims[0], C = xd->dims[1];
    int64_t D = 1;
    for (int a = 2; a < xd->rank; a++)
        D *= xd->dims[a];
    const struct tsr_op_attrs *at = &node->attrs;
    double sum = 0, wsum = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t d = 0; d < D; d++) {
            const int64_t t = tsr_elem_get_i64(in[1]->desc.dtype, in[1]->data, n * D + d);
            double loss = 0, w = 0;
            if (t >= 0 && t < C &&
                !(at->nll_ignore_index != INT64_MIN && t == at->nll_ignore_index)) {
                w = node->n_inputs == 3 ? ((const float *)in[2]->data)[t] : 1.0;
                loss = -((const float *)in[0]->data)[(n * C + t) * D + d] * w;
            }
            if (at->nll_reduction == 0) ((float *)out->data)[n * D + d] = (float)loss;
            sum += loss;
            wsum += w;
        }
    if (at->nll_reduction == 1) *(float *)out->data = (float)sum;
    if (at->nll_reduction == 2) *(float *)out->data = (float)(sum / wsum);
    return TSR_OK;
}

/* ---- issue 9, group "spatial2": ConvTranspose --------------------------------------------- */

/* ConvTranspose on [N, C, ((D,) H,) W] with weights [C, M/group, ((kD,) kH,) kW] and optional
 * bias [M] (ONNX ConvTranspose): every input element scatters x[n, c, id, ih, iw] *
 * w[c, m, kd, kh, kw] to y[n, g * M/group + m, id * sd - pbd + kd * dd, ih * s - pb + kh * d,
 * iw * s - pb + kw * d] (positions outside the output are dropped), accumulated in double; 1-D
 * and 2-D inputs have D = kD = 1 (the depth of a 3-D input, group "conv3d": geometry index 2). */
tsr_status tsr_ref_convtranspose(tsr_context *ctx, const struct tsr_node *node,
                                 const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_op_attrs *at = &node->attrs;
    struct tsr_convt_geometry cg;
    tsr_status st =
        tsr_convtranspose_geometry(ctx, at, &in[0]->desc, &in[1]->desc, node->name, &cg);
    if (st != TSR_OK) return st;
    const int three_d = in[0]->desc.rank == 5;
    const int64_t N = in[0]->desc.dims[0], C = in[0]->desc.dims[1], M = cg.m, G = at->group;
    const int64_t cpg = C / G, mpg = M / G, IH = cg.in[0], IW = cg.in[1];
    const int64_t OH = cg.out[0], OW = cg.out[1], KH = cg.k[0], KW = cg.k[1];
    const int64_t ID = three_d ? cg.in[2] : 1, OD = three_d ? cg.out[2] : 1,
                  KD = three_d ? cg.k[2] : 1, PD = three_d ? cg.pb[2] : 0;
    const int64_t SD = three_d && at->win_d[1] ? at->win_d[1] : 1,
                  DD = three_d && at->win_d[2] ? at->win_d[2] : 1;
    const int64_t n_out = N * M * OD * OH * OW;
    double *acc = calloc((size_t)(n_out ? n_out : 1), sizeof *acc);
    if (!acc)
        return TSR_ERR(ctx, TSR_E_NOMEM, "node '%s' (ConvTranspose): out of memory", node->name);
    const float *x = in[0]->data, *w = in[1]->data;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t id = 0; id < ID; id++)
                for (int64_t ih = 0; ih < IH; ih++)
                    for (int64_t iw = 0; iw < IW; iw++) {
                        const double v = x[(((n * C + c) * ID + id) * IH + ih) * IW + iw];
                        const int64_t g = c / cpg;
                        for (int64_t m = 0; m < mpg; m++)
                            for (int64_t kd = 0; kd < KD; kd++) {
                                int64_t od = id * SD - PD + kd * DD;
                                if (od < 0 || od >= OD) continue;
                                for (int64_t kh = 0; kh < KH; kh++) {
                                    int64_t oh =
                                        ih * at->strides[0] - cg.pb[0] + kh * at->dilations[0];
                                    if (oh < 0 || oh >= OH) continue;
                                    for (int64_t kw = 0; kw < KW; kw++) {
                                        int64_t ow =
                                            iw * at->strides[1] - cg.pb[1] + kw * at->dilations[1];
                                        if (ow < 0 || ow >= OW) continue;
                                        acc[(((n * M + g * mpg + m) * OD + od) * OH + oh) * OW +
                                            ow] +=
                                            v * w[(((c * mpg + m) * KD + kd) * KH + kh) * KW + kw];
                                    }
                                }
                            }
                    }
    float *y = out->data;
    for (int64_t i = 0; i < n_out; i++) {
        double b =
            node->n_inputs == 3 ? ((const float *)in[2]->data)[(i / (OD * OH * OW)) % M] : 0.0;
        y[i] = (float)(acc[i] + b);
    }
    free(acc);
    return TSR_OK;
}
/* LpPool on [N, C, (H,) W] (ONNX LpPool): y = (sum over the window of |x|^p)^(1/p), padded
 * positions contribute 0 (window geometry as the other pools: tsr_window_geometry). */
tsr_status tsr_ref_lppool(tsr_context *ctx, const struct tsr_node *node,
                          const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    if (xd->rank == 5) return tsr_ref_pool3d(ctx, node, in, out); /* group "win3d" */
    const struct tsr_op_attrs *at = &node->attrs;
    struct tsr_window_geometry wg;
    tsr_status st = tsr_window_geometry(ctx, node->op, at, xd, NULL, node->name, &wg);
    if (st != TSR_OK) return st;
    const int one_d = xd->rank == 3;
    const int64_t NC = xd->dims[0] * xd->dims[1], H = one_d ? 1 : xd->dims[2],
                  W = xd->dims[one_d ? 2 : 3];
    const double p = (double)at->lp_p;
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t c = 0; c < NC; c++)
        for (int64_t oh = 0; oh < wg.oh; oh++)
            for (int64_t ow = 0; ow < wg.ow; ow++) {
                double acc = 0.0;
                for (int64_t kh = 0; kh < wg.kh; kh++)
                    for (int64_t kw = 0; kw < wg.kw; kw++) {
                        int64_t ih = oh * at->strides[0] - wg.pad_t + kh * at->dilations[0];
                        int64_t iw = ow * at->strides[1] - wg.pad_l + kw * at->dilations[1];
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                        acc += pow(fabs((double)x[(c * H + ih) * W + iw]), p);
                    }
                y[(c * wg.oh + oh) * wg.ow + ow] = (float)pow(acc, 1.0 / p);
            }
    return TSR_OK;
}

/* GlobalLpPool on [N, C, spatial...] (ONNX GlobalLpPool): (sum of |x|^p over the spatial
 * dims)^(1/p) per (n, c). */
tsr_status tsr_ref_global_lppool(tsr_context *ctx, const struct tsr_node *node,
                                 const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const int64_t nc = in[0]->desc.dims[0] * in[0]->desc.dims[1];
    const int64_t sp = nc ? tsr_desc_elements(&in[0]->desc) / nc : 0;
    const double p = (double)node->attrs.lp_p;
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t i = 0; i < nc; i++) {
        double acc = 0.0;
        for (int64_t j = 0; j < sp; j++)
            acc += pow(fabs((double)x[i * sp + j]), p);
        y[i] = (float)pow(acc, 1.0 / p);
    }
    return TSR_OK;
}

/* MeanVarianceNormalization (ONNX, its function body): over the axes (default [0, 2, 3]),
 * y = (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9), in double. */
tsr_status tsr_ref_mvn(tsr_context *ctx, const struct tsr_node *node,
                       const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    struct tsr_op_attrs a;
    unsigned mask;
    tsr_mvn_axes(&node->attrs, &a);
    a.noop_with_empty_axes = 0;
    if (tsr_reduce_mask(&a, xd->rank, &mask))
        return TSR_ERR(ctx, TSR_E_SHAPE, "node '%s' (MeanVarianceNormalization): bad axes",
                       node->name);
    const int64_t n = tsr_desc_elements(xd);
    /* group id of each element: its index with the reduced dims dropped */
    int64_t groups = 1;
    for (int d = 0; d < xd->rank; d++)
        if (!(mask & (1u << d))) groups *= xd->dims[d];
    double *sum = calloc((size_t)(groups ? groups : 1), sizeof *sum);
    double *sq = calloc((size_t)(groups ? groups : 1), sizeof *sq);
    if (!sum || !sq) {
        free(sum);
        free(sq);
        return TSR_ERR(ctx, TSR_E_NOMEM, "reference: out of memory");
    }
    const float *x = in[0]->data;
    float *y = out->data;
    const int64_t cnt = groups ? n / groups : 0;
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < n; i++) {
            int64_t rem = i, gid = 0, gmul = 1;
            for (int d = xd->rank - 1; d >= 0; d--) {
                int64_t c = rem % xd->dims[d];
                rem /= xd->dims[d];
                if (!(mask & (1u << d))) {
                    gid += c * gmul;
                    gmul *= xd->dims[d];
                }
            }
            if (pass == 0) {
                sum[gid] += x[i];
                sq[gid] += (double)x[i] * x[i];
            } else {
                double m = sum[gid] / (double)cnt, v = sq[gid] / (double)cnt - m * m;
                y[i] = (float)((x[i] - m) / (sqrt(v > 0 ? v : 0) + 1e-9));
            }
        }
    free(sum);
    free(sq);
    return TSR_OK;
}
/* LRN (ONNX LRN): y[n, c, ...] = x / (bias + alpha / size * sum_{c'} x[n, c', ...]^2)^beta over
 * c' in [max(0, c - floor((size - 1) / 2)), min(C - 1, c + ceil((size - 1) / 2))], in double. */
tsr_status tsr_ref_lrn(tsr_context *ctx, const struct tsr_node *node,
                       const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    const struct tsr_op_attrs *at = &node->attrs;
    const int64_t N = xd->dims[0], C = xd->dims[1];
    const int64_t sp = N > 0 && C > 0 ? tsr_desc_elements(xd) / (N * C) : 0;
    const int64_t lo = (at->lrn_size - 1) / 2, hi = at->lrn_size / 2;
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t j = 0; j < sp; j++) {
                double sum = 0.0;
                for (int64_t k = c - lo; k <= c + hi; k++) {
                    if (k < 0 || k >= C) continue;
                    double v = x[(n * C + k) * sp + j];
                    sum += v * v;
                }
                double d =
                    pow((double)at->lrn_bias + (double)at->lrn_alpha / (double)at->lrn_size * sum,
                        (double)at->lrn_beta);
                y[(n * C + c) * sp + j] = (float)(x[(n * C + c) * sp + j] / d);
            }
    return TSR_OK;
}

/* Einsum (ONNX Einsum; equation parsed by tsr_einsum_parse): every assignment of the indices
 * adds the product of the inputs' elements to the output element its output indices name, in
 * double. */
tsr_status tsr_ref_einsum(tsr_context *ctx, const struct tsr_node *node,
                          const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *descs[2] = {&in[0]->desc,
                                              node->n_inputs > 1 ? &in[1]->desc : NULL};
    struct tsr_einsum e;
    tsr_status st = tsr_einsum_parse(ctx, &node->attrs, descs, node->n_inputs, node->name, &e);
    if (st != TSR_OK) return st;
    int used[52], n_used = 0, seen[52] = {0};
    for (int t = 0; t < e.n_in; t++)
        for (int d = 0; d < e.rank[t]; d++)
            if (!seen[e.in[t][d]]) {
                seen[e.in[t][d]] = 1;
                used[n_used++] = e.in[t][d];
            }
    const int64_t n_out = tsr_desc_elements(&out->desc);
    double *acc = calloc((size_t)(n_out ? n_out : 1), sizeof *acc);
    if (!acc) return TSR_ERR(ctx, TSR_E_NOMEM, "reference: out of memory");
    int64_t total = 1, val[52] = {0};
    for (int u = 0; u < n_used; u++)
        total *= e.size[used[u]];
    for (int64_t it = 0; it < total; it++) {
        int64_t rem = it;
        for (int u = n_used - 1; u >= 0; u--) {
            val[used[u]] = rem % e.size[used[u]];
            rem /= e.size[used[u]];
        }
        double prod = 1.0;
        for (int t = 0; t < e.n_in; t++) {
            int64_t off = 0;
            for (int d = 0; d < e.rank[t]; d++)
                off = off * e.size[e.in[t][d]] + val[e.in[t][d]];
            prod *= ((const float *)in[t]->data)[off];
        }
        int64_t o = 0;
        for (int d = 0; d < e.out_rank; d++)
            o = o * e.size[e.out[d]] + val[e.out[d]];
        acc[o] += prod;
    }
    float *y = out->data;
    for (int64_t i = 0; i < n_out; i++)
        y[i] = (float)acc[i];
    free(acc);
    return TSR_OK;
}

/* ---- end of group "spatial2" ---------------------------------------------------------------- */

/* ---- issue 9, group "dtcompute": elementwise references in every numeric dtype -------------
 * Floats in double, integers in int64 (exact; the result wrapped to the output's width on
 * store, tsr_elem_set_i64), following the ONNX operator pages: Relu, Clip, Abs, Sign, Pow, Mod,
 * Min, Max, Sum, Mean. */
static double relu_d(double d, const struct tsr_op_attrs *at) {
    (void)at;
    return d > 0.0 ? d : (isnan(d) ? d : 0.0);
}
static int64_t relu_i(int64_t v, const struct tsr_op_attrs *at) {
    (void)at;
    return v > 0 ? v : 0;
}
tsr_status tsr_ref_relu(tsr_context *ctx, const struct tsr_node *node,
                        const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    return ref_unary_d(node, in, out, relu_d, relu_i);
}
static double clip_d(double d, const struct tsr_op_attrs *at) {
    return d < at->clip_min ? at->clip_min : (d > at->clip_max ? at->clip_max : d);
}
/* an integer Clip's float bounds as int64: NaN none, saturated */
static int64_t clip_bound(float b, int64_t none) {
    if (isnan(b)) return none;
    if ((double)b >= 9223372036854775807.0) return INT64_MAX;
    if ((double)b <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)b;
}
static int64_t clip_i(int64_t v, const struct tsr_op_attrs *at) {
    const int64_t lo = clip_bound(at->clip_min, INT64_MIN),
                  hi = clip_bound(at->clip_max, INT64_MAX);
    return v < lo ? lo : (v > hi ? hi : v);
}
tsr_status tsr_ref_clip(tsr_context *ctx, const struct tsr_node *node,
                        const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    return ref_unary_d(node, in, out, clip_d, clip_i);
}
static double abs_d(double d, const struct tsr_op_attrs *at) {
    (void)at;
    return fabs(d);
}
static int64_t abs_i(int64_t v, const struct tsr_op_attrs *at) {
    (void)at;
    return v < 0 ? wrap_sub(0, v) : v;
}
tsr_status tsr_ref_abs(tsr_context *ctx, const struct tsr_node *node,
                       const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    return ref_unary_d(node, in, out, abs_d, abs_i);
}
static double sign_d(double d, const struct tsr_op_attrs *at) {
    (void)at;
    return d > 0.0 ? 1.0 : (d < 0.0 ? -1.0 : d);
}
static int64_t sign_i(int64_t v, const struct tsr_op_attrs *at) {
    (void)at;
    return v > 0 ? 1 : (v < 0 ? -1 : 0);
}
tsr_status tsr_ref_sign(tsr_context *ctx, const struct tsr_node *node,
                        const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    return ref_unary_d(node, in, out, sign_d, sign_i);
}

/* Integer power by multiplication, wrapping; a negative exponent is 1 / a^|b| truncated toward
 * zero (0 unless |a| = 1; 0^-n = 0). */
static int64_t ipow_ref(int64_t a, int64_t b) {
    if (b < 0) return a == 1 ? 1 : (a == -1 ? (b % 2 ? -1 : 1) : 0);
    int64_t r = 1;
    for (int64_t e = b, x = a; e > 0; e /= 2) {
        if (e % 2) r = wrap_mul(r, x);
        x = wrap_mul(x, x);
    }
    return r;
}
/* Pow: the output has X's dtype; both integer: exact ipow_ref; otherwise pow in double (an
 * integer exponent of a float base, or a float exponent of an integer base, converted). */
tsr_status tsr_ref_pow(tsr_context *ctx, const struct tsr_node *node,
                       const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx, (void)node;
    const struct tsr_tensor_desc *od = &out->desc;
    int64_t n = tsr_desc_elements(od), idx[TSR_MAX_RANK];
    tsr_dtype at = in[0]->desc.dtype, bt = in[1]->desc.dtype, yt = od->dtype;
    const int ints = !tsr_dtype_is_float(at) && !tsr_dtype_is_float(bt);
    for (int64_t i = 0; i < n; i++) {
        unravel(i, od, idx);
        int64_t ia = bcast_offset(&in[0]->desc, idx, od->rank);
        int64_t ib = bcast_offset(&in[1]->desc, idx, od->rank);
        if (ints)
            tsr_elem_set_i64(yt, out->data, i,
                             ipow_ref(tsr_elem_get_i64(at, in[0]->data, ia),
                                      tsr_elem_get_i64(bt, in[1]->data, ib)));
        else
            tsr_elem_set_f64(
                yt, out->data, i,
                pow(tsr_elem_get_f64(at, in[0]->data, ia), tsr_elem_get_f64(bt, in[1]->data, ib)));
    }
    return TSR_OK;
}

/* Mod: fmod=1 C fmod (the dividend's sign; integers: C %), fmod=0 the divisor's sign (integers;
 * float32 with fmod=0 is refused by shape inference). x mod 0 = 0 for integers. */
static double mod_dd(double a, double b) {
    return fmod(a, b);
}
static double mod_floor_dd(double a, double b) {
    double r = fmod(a, b);
    return (r != 0.0 && ((r < 0.0) != (b < 0.0))) ? r + b : r;
}
static int64_t mod_ii(int64_t a, int64_t b) {
    return (b == 0 || b == -1) ? 0 : a % b;
}
static int64_t mod_floor_ii(int64_t a, int64_t b) {
    if (b == 0 || b == -1) return 0;
    int64_t r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
tsr_status tsr_ref_mod(tsr_context *ctx, const struct tsr_node *node,
                       const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    if (node->attrs.mod_fmod) return ref_binary_any(in, out, NULL, mod_dd, mod_ii);
    return ref_binary_any(in, out, NULL, mod_floor_dd, mod_floor_ii);
}

/* Min / Max / Sum / Mean: the inputs (broadcast) folded left to right (floats in double,
 * integers in int64; float32 / float16 in float32); NaN propagates through Min / Max (numpy minimum
 * / maximum); Mean divides the sum by the input count. kind: 0 min, 1 max, 2 sum, 3 mean. */
static tsr_status ref_variadic_any(const struct tsr_node *node, const struct tsr_tensor *const *in,
                                   struct tsr_tensor *out, int kind) {
    const struct tsr_tensor_desc *od = &out->desc;
    int64_t n = tsr_desc_elements(od), idx[TSR_MAX_RANK];
    const tsr_dtype yt = od->dtype;
    const int flt = tsr_dtype_is_float(in[0]->desc.dtype);
    /* float32 and float16 fold in float32, as ONNX Runtime */
    const int f32 = in[0]->desc.dtype == TSR_F32 || in[0]->desc.dtype == TSR_F16;
    for (int64_t i = 0; i < n; i++) {
        unravel(i, od, idx);
        double ad = 0.0;
        int64_t ai = 0;
        for (int k = 0; k < node->n_inputs; k++) {
            const int64_t o = bcast_offset(&in[k]->desc, idx, od->rank);
            if (flt) {
                const double v = tsr_elem_get_f64(in[k]->desc.dtype, in[k]->data, o);
                if (k == 0)
                    ad = v;
                else if (kind == 0)
                    ad = (ad <= v || isnan(ad)) ? ad : v;
                else if (kind == 1)
                    ad = (ad >= v || isnan(ad)) ? ad : v;
                else
                    ad += v;
                if (f32) ad = (float)ad;
            } else {
                const int64_t v = tsr_elem_get_i64(in[k]->desc.dtype, in[k]->data, o);
                if (k == 0)
                    ai = v;
                else if (kind == 0)
                    ai = ai <= v ? ai : v;
                else if (kind == 1)
                    ai = ai >= v ? ai : v;
                else
                    ai = wrap_add(ai, v);
            }
        }
        if (kind == 3) ad = f32 ? (double)((float)ad / (float)node->n_inputs) : ad / node->n_inputs;
        if (flt)
            tsr_elem_set_f64(yt, out->data, i, ad);
        else
            tsr_elem_set_i64(yt, out->data, i, ai);
    }
    return TSR_OK;
}
#define REF_VARIADIC(name, kind)                                                                   \
    tsr_status tsr_ref_##name(tsr_context *ctx, const struct tsr_node *node,                       \
                              const struct tsr_tensor *const *in, struct tsr_tensor *out) {        \
        (void)ctx;                                                                                 \
        return ref_variadic_any(node, in, out, kind);                                              \
    }
REF_VARIADIC(min, 0)
REF_VARIADIC(max, 1)
REF_VARIADIC(sum, 2)
REF_VARIADIC(mean, 3)
/* BitShift (ONNX: unsigned integers; a shift of 64 or more gives 0, as numpy's << on uint64
 * does not define; the shifted value then wraps to the output's width) and the Bitwise ops, on
 * the two's-complement int64 form of the integers. Float inputs are refused by the op table. */
static double bits_nan(double a, double b) {
    (void)a, (void)b;
    return NAN;
}
static int64_t shl_ii(int64_t a, int64_t b) {
    return (b < 0 || b >= 64) ? 0 : (int64_t)((uint64_t)a << (unsigned)b);
}
static int64_t shr_ii(int64_t a, int64_t b) {
    return (b < 0 || b >= 64) ? 0 : (int64_t)((uint64_t)a >> (unsigned)b);
}
static int64_t and_ii(int64_t a, int64_t b) {
    return a & b;
}
static int64_t or_ii(int64_t a, int64_t b) {
    return a | b;
}
static int64_t xor_ii(int64_t a, int64_t b) {
    return a ^ b;
}
tsr_status tsr_ref_bitshift(tsr_context *ctx, const struct tsr_node *node,
                            const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    return ref_binary_any(in, out, NULL, bits_nan, node->attrs.bitshift_left ? shl_ii : shr_ii);
}
#define REF_BITS(name, fi)                                                                         \
    tsr_status tsr_ref_##name(tsr_context *ctx, const struct tsr_node *node,                       \
                              const struct tsr_tensor *const *in, struct tsr_tensor *out) {        \
        (void)ctx, (void)node;                                                                     \
        return ref_binary_any(in, out, NULL, bits_nan, fi);                                        \
    }
REF_BITS(bitwise_and, and_ii)
REF_BITS(bitwise_or, or_ii)
REF_BITS(bitwise_xor, xor_ii)
static double not_nan(double d, const struct tsr_op_attrs *at) {
    (void)d, (void)at;
    return NAN;
}
static int64_t bitnot_i(int64_t v, const struct tsr_op_attrs *at) {
    (void)at;
    return ~v;
}
tsr_status tsr_ref_bitwise_not(tsr_context *ctx, const struct tsr_node *node,
                               const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    return ref_unary_d(node, in, out, not_nan, bitnot_i);
}
/* IsNaN / IsInf (detect_positive, detect_negative) of a float input, to bool. */
static double isnan_d(double d, const struct tsr_op_attrs *at) {
    (void)at;
    return d != d ? 1.0 : 0.0;
}
static double isinf_d(double d, const struct tsr_op_attrs *at) {
    return ((d == INFINITY && at->isinf_positive) || (d == -INFINITY && at->isinf_negative)) ? 1.0
                                                                                             : 0.0;
}
tsr_status tsr_ref_isnan(tsr_context *ctx, const struct tsr_node *node,
                         const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    return ref_unary_d(node, in, out, isnan_d, NULL);
}
tsr_status tsr_ref_isinf(tsr_context *ctx, const struct tsr_node *node,
                         const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    return ref_unary_d(node, in, out, isinf_d, NULL);
}
/* ---- end of group "dtcompute" --------------------------------------------------------------- */

/* ---- issue 9, group "index": indexing operators ------------------------------------------- */

/* Trilu (ONNX Trilu): per [N, M] matrix of the last two dims, Y[i, j] = X[i, j] where
 * j - i >= k (upper) or j - i <= k (lower), else 0. */
tsr_status tsr_ref_trilu(tsr_context *ctx, const struct tsr_node *node,
                         const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *od = &out->desc;
    const int64_t k = node->attrs.n_trilu_k ? node->attrs.trilu_k[0] : 0;
    const int64_t n = tsr_desc_elements(od), N = od->dims[od->rank - 2], M = od->dims[od->rank - 1];
    const size_t es = tsr_dtype_size(od->dtype);
    for (int64_t e = 0; e < n; e++) {
        int64_t j = e % M, i = (e / M) % N;
        int keep = node->attrs.trilu_upper ? j - i >= k : j - i <= k;
        if (keep)
            memcpy((char *)out->data + (size_t)e * es, (const char *)in[0]->data + (size_t)e * es,
                   es);
        else
            memset((char *)out->data + (size_t)e * es, 0, es);
    }
    return TSR_OK;
}

/* EyeLike (ONNX EyeLike): Y [N, M] = 1 where j - i == k, else 0, in Y's dtype. */
tsr_status tsr_ref_eyelike(tsr_context *ctx, const struct tsr_node *node,
                           const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx, (void)in;
    const struct tsr_tensor_desc *od = &out->desc;
    const int64_t M = od->dims[1], n = tsr_desc_elements(od);
    for (int64_t e = 0; e < n; e++) {
        int one = e % M - e / M == node->attrs.eye_k;
        if (tsr_dtype_is_float(od->dtype))
            tsr_elem_set_f64(od->dtype, out->data, e, one);
        else
            tsr_elem_set_i64(od->dtype, out->data, e, one);
    }
    return TSR_OK;
}

/* Index value j of an int32 / int64 tensor, checked against [-d, d) and made non-negative;
 * -1 (and an error recorded naming the node) when out of range. */
static int64_t ref_index(tsr_context *ctx, const struct tsr_node *node, const struct tsr_tensor *ix,
                         int64_t j, int64_t d) {
    int64_t v = tsr_elem_get_i64(ix->desc.dtype, ix->data, j);
    if (v < -d || v >= d) {
        TSR_ERR(ctx, TSR_E_INVALID_ARG, "node '%s' (%s): index %lld out of range [%lld, %lld)",
                node->name, tsr_op_name(node->op), (long long)v, (long long)-d, (long long)d);
        return -1;
    }
    return v < 0 ? v + d : v;
}

/* y[o] (reduce)= element u of upd, ONNX ScatterElements / ScatterND reductions. */
static void ref_scatter_store(int reduction, struct tsr_tensor *out, int64_t o,
                              const struct tsr_tensor *upd, int64_t u) {
    tsr_dtype dt = out->desc.dtype;
    if (reduction == 0) {
        size_t es = tsr_dtype_size(dt);
        memcpy((char *)out->data + (size_t)o * es, (const char *)upd->data + (size_t)u * es, es);
    } else if (tsr_dtype_is_float(dt)) {
        double a = tsr_elem_get_f64(dt, out->data, o), b = tsr_elem_get_f64(dt, upd->data, u);
        double r = reduction == 1   ? a + b
                   : reduction == 2 ? a * b
                   : reduction == 3 ? (b > a ? b : a)
                                    : (b < a ? b : a);
        tsr_elem_set_f64(dt, out->data, o, r);
    } else {
        int64_t a = tsr_elem_get_i64(dt, out->data, o), b = tsr_elem_get_i64(dt, upd->data, u);
        int64_t r = reduction == 1   ? wrap_add(a, b)
                    : reduction == 2 ? wrap_mul(a, b)
                    : reduction == 3 ? (b > a ? b : a)
                                     : (b < a ? b : a);
        tsr_elem_set_i64(dt, out->data, o, r);
    }
}

/* Row-major offset in d of multi-index idx with coordinate `axis` replaced by v. */
static int64_t ref_offset_with(const struct tsr_tensor_desc *d, const int64_t *idx, int axis,
                               int64_t v) {
    int64_t off = 0;
    for (int k = 0; k < d->rank; k++)
        off = off * d->dims[k] + (k == axis ? v : idx[k]);
    return off;
}

/* GatherElements (ONNX): Y[i] = X[i with i_axis := indices[i]]. */
tsr_status tsr_ref_gather_elements(tsr_context *ctx, const struct tsr_node *node,
                                   const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc, *id = &in[1]->desc;
    int axis = (int)(node->attrs.axis == TSR_AXIS_DEFAULT ? 0 : node->attrs.axis);
    if (axis < 0) axis += xd->rank;
    int64_t n = tsr_desc_elements(id), idx[TSR_MAX_RANK];
    size_t es = tsr_dtype_size(xd->dtype);
    for (int64_t i = 0; i < n; i++) {
        unravel(i, id, idx);
        int64_t v = ref_index(ctx, node, in[1], i, xd->dims[axis]);
        if (v < 0) return TSR_E_INVALID_ARG;
        memcpy((char *)out->data + (size_t)i * es,
               (const char *)in[0]->data + (size_t)ref_offset_with(xd, idx, axis, v) * es, es);
    }
    return TSR_OK;
}

/* ScatterElements / Scatter (ONNX): Y = X, then Y[i with i_axis := indices[i]] (reduce)=
 * updates[i] for every i in order. */
tsr_status tsr_ref_scatter_elements(tsr_context *ctx, const struct tsr_node *node,
                                    const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc, *id = &in[1]->desc;
    int axis = (int)(node->attrs.axis == TSR_AXIS_DEFAULT ? 0 : node->attrs.axis);
    if (axis < 0) axis += xd->rank;
    memcpy(out->data, in[0]->data, tsr_desc_bytes(xd));
    int64_t n = tsr_desc_elements(id), idx[TSR_MAX_RANK];
    for (int64_t i = 0; i < n; i++) {
        unravel(i, id, idx);
        int64_t v = ref_index(ctx, node, in[1], i, xd->dims[axis]);
        if (v < 0) return TSR_E_INVALID_ARG;
        ref_scatter_store(node->attrs.scatter_reduction, out, ref_offset_with(xd, idx, axis, v),
                          in[2], i);
    }
    return TSR_OK;
}

/* Offset (elements) in X [dims] of the slice addressed by tuple t (m values) of indices after
 * `b` batch dims at batch offset bo; -1 when an index is out of range (error recorded). */
static int64_t ref_nd_offset(tsr_context *ctx, const struct tsr_node *node,
                             const struct tsr_tensor *x, const struct tsr_tensor *ix, int64_t t,
                             int64_t m, int64_t b, int64_t bo) {
    const struct tsr_tensor_desc *xd = &x->desc;
    int64_t off = bo;
    for (int64_t k = 0; k < m; k++) {
        int64_t v = ref_index(ctx, node, ix, t * m + k, xd->dims[b + k]);
        if (v < 0) return -1;
        off = off * xd->dims[b + k] + v;
    }
    for (int d = (int)(b + m); d < xd->rank; d++)
        off *= xd->dims[d];
    return off;
}

/* GatherND (ONNX): per batch index of the first batch_dims dims, Y[..., :] = X[batch, tuple,
 * :] for every index tuple (the indices' last dim). */
tsr_status tsr_ref_gather_nd(tsr_context *ctx, const struct tsr_node *node,
                             const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc, *id = &in[1]->desc;
    const int64_t b = node->attrs.batch_dims, m = id->dims[id->rank - 1];
    int64_t batch = 1, inner = 1;
    for (int d = 0; d < b; d++)
        batch *= xd->dims[d];
    for (int d = (int)(b + m); d < xd->rank; d++)
        inner *= xd->dims[d];
    const int64_t tuples = tsr_desc_elements(id) / m, per_batch = batch ? tuples / batch : 0;
    size_t es = tsr_dtype_size(xd->dtype);
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off =
            ref_nd_offset(ctx, node, in[0], in[1], t, m, b, t / (per_batch ? per_batch : 1));
        if (off < 0) return TSR_E_INVALID_ARG;
        memcpy((char *)out->data + (size_t)(t * inner) * es,
               (const char *)in[0]->data + (size_t)off * es, (size_t)inner * es);
    }
    return TSR_OK;
}

/* ScatterND (ONNX): Y = X, then Y[tuple, :] (reduce)= updates[t, :] for every tuple t in order. */
tsr_status tsr_ref_scatter_nd(tsr_context *ctx, const struct tsr_node *node,
                              const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc, *id = &in[1]->desc;
    const int64_t m = id->dims[id->rank - 1];
    int64_t inner = 1;
    for (int d = (int)m; d < xd->rank; d++)
        inner *= xd->dims[d];
    memcpy(out->data, in[0]->data, tsr_desc_bytes(xd));
    const int64_t tuples = tsr_desc_elements(id) / m;
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off = ref_nd_offset(ctx, node, in[0], in[1], t, m, 0, 0);
        if (off < 0) return TSR_E_INVALID_ARG;
        for (int64_t e = 0; e < inner; e++)
            ref_scatter_store(node->attrs.scatter_reduction, out, off + e, in[2], t * inner + e);
    }
    return TSR_OK;
}

/* CenterCropPad (ONNX): Y[i] = X[i - begin] where inside X, else 0 (begin per dim from
 * tsr_center_crop_pad_geometry; negative: a crop). */
tsr_status tsr_ref_center_crop_pad(tsr_context *ctx, const struct tsr_node *node,
                                   const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc, *od = &out->desc;
    int64_t begin[TSR_MAX_RANK], dims[TSR_MAX_RANK], idx[TSR_MAX_RANK];
    if (tsr_center_crop_pad_geometry(&node->attrs, xd, begin, dims))
        return TSR_ERR(ctx, TSR_E_SHAPE, "node '%s' (CenterCropPad): bad shape", node->name);
    const int64_t n = tsr_desc_elements(od);
    const size_t es = tsr_dtype_size(od->dtype);
    for (int64_t i = 0; i < n; i++) {
        unravel(i, od, idx);
        int64_t off = 0, inside = 1;
        for (int d = 0; d < xd->rank; d++) {
            int64_t s = idx[d] - begin[d];
            if (s < 0 || s >= xd->dims[d]) inside = 0;
            off = off * xd->dims[d] + s;
        }
        if (inside)
            memcpy((char *)out->data + (size_t)i * es, (const char *)in[0]->data + (size_t)off * es,
                   es);
        else
            memset((char *)out->data + (size_t)i * es, 0, es);
    }
    return TSR_OK;
}

/* ReverseSequence (ONNX): per batch b, the first sequence_lens[b] steps along the time axis
 * reversed, the rest copied. */
tsr_status tsr_ref_reverse_sequence(tsr_context *ctx, const struct tsr_node *node,
                                    const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    const int ta = (int)node->attrs.rs_time_axis, ba = !ta;
    const int64_t n = tsr_desc_elements(xd), T = xd->dims[ta];
    int64_t idx[TSR_MAX_RANK];
    const size_t es = tsr_dtype_size(xd->dtype);
    for (int64_t i = 0; i < n; i++) {
        unravel(i, xd, idx);
        int64_t len = tsr_elem_get_i64(in[1]->desc.dtype, in[1]->data, idx[ba]);
        if (len < 0 || len > T)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                           "node '%s' (ReverseSequence): sequence length %lld outside [0, %lld]",
                           node->name, (long long)len, (long long)T);
        if (idx[ta] < len) idx[ta] = len - 1 - idx[ta];
        int64_t off = 0;
        for (int d = 0; d < xd->rank; d++)
            off = off * xd->dims[d] + idx[d];
        memcpy((char *)out->data + (size_t)i * es, (const char *)in[0]->data + (size_t)off * es,
               es);
    }
    return TSR_OK;
}

/* Compress (ONNX): the slices of X along axis (absent: elements of X flattened) whose condition
 * entry is true, in order. */
tsr_status tsr_ref_compress(tsr_context *ctx, const struct tsr_node *node,
                            const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    int64_t outer = 1, len = tsr_desc_elements(xd), inner = 1;
    if (node->attrs.axis != TSR_AXIS_DEFAULT) {
        int64_t a = node->attrs.axis < 0 ? node->attrs.axis + xd->rank : node->attrs.axis;
        len = xd->dims[a];
        for (int d = 0; d < a; d++)
            outer *= xd->dims[d];
        for (int d = (int)a + 1; d < xd->rank; d++)
            inner *= xd->dims[d];
    }
    const uint8_t *c = in[1]->data;
    const int64_t nc = in[1]->desc.dims[0];
    const size_t es = tsr_dtype_size(xd->dtype);
    char *y = out->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < len && i < nc; i++)
            if (c[i]) {
                memcpy(y, (const char *)in[0]->data + (size_t)((o * len + i) * inner) * es,
                       (size_t)inner * es);
                y += (size_t)inner * es;
            }
    return TSR_OK;
}

/* OneHot (ONNX): Y[.., d (at axis), ..] = on where trunc(index) (+ depth when negative) == d,
 * else off; indices outside [-depth, depth) give all off. */
tsr_status tsr_ref_onehot(tsr_context *ctx, const struct tsr_node *node,
                          const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    (void)ctx;
    const struct tsr_tensor_desc *od = &out->desc, *id = &in[0]->desc;
    int axis = (int)(node->attrs.axis == TSR_AXIS_DEFAULT ? -1 : node->attrs.axis);
    if (axis < 0) axis += od->rank;
    const int64_t n = tsr_desc_elements(od), depth = od->dims[axis];
    int64_t idx[TSR_MAX_RANK];
    const size_t es = tsr_dtype_size(od->dtype);
    for (int64_t e = 0; e < n; e++) {
        unravel(e, od, idx);
        int64_t off = 0;
        for (int d = 0, k = 0; d < od->rank; d++)
            if (d != axis) off = off * id->dims[k++] + idx[d];
        int64_t v = tsr_dtype_is_float(id->dtype)
                        ? (int64_t)tsr_elem_get_f64(id->dtype, in[0]->data, off)
                        : tsr_elem_get_i64(id->dtype, in[0]->data, off);
        if (v < 0) v += depth;
        memcpy((char *)out->data + (size_t)e * es,
               (const char *)in[2]->data + (v == idx[axis] ? es : 0), es);
    }
    return TSR_OK;
}

/* ---- win3d: 3-D MaxPool / AveragePool ---- */

/* MaxPool / AveragePool / LpPool on x [N, C, D, H, W] (ONNX semantics, tsr_window_geometry_3d;
 * LpPool: (sum of |x|^p)^(1/p), padding contributes 0): a direct
 * loop over the 3-D window (independent of the two-pool rewrite the backends run); average
 * with count_include_pad counts the taps inside the padded input, else those inside the input;
 * an empty window gives -inf (max) or 0 (average); a NaN in a max window gives NaN. */
static tsr_status tsr_ref_pool3d(tsr_context *ctx, const struct tsr_node *node,
                                 const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc;
    struct tsr_window_geometry wg;
    struct tsr_window_d wd;
    tsr_status st = tsr_window_geometry_3d(ctx, node->op, &node->attrs, xd, node->name, &wg, &wd);
    if (st != TSR_OK) return st;
    const struct tsr_op_attrs *at = &node->attrs;
    const int64_t NC = xd->dims[0] * xd->dims[1], D = xd->dims[2], H = xd->dims[3], W = xd->dims[4];
    const int is_max = node->op == TSR_OP_MAXPOOL, incl = at->count_include_pad;
    const int is_lp = node->op == TSR_OP_LPPOOL;
    const double lp = (double)at->lp_p;
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t p = 0; p < NC; p++)
        for (int64_t od = 0; od < wd.od; od++)
            for (int64_t oh = 0; oh < wg.oh; oh++)
                for (int64_t ow = 0; ow < wg.ow; ow++) {
                    double acc = is_max ? -INFINITY : 0.0;
                    int64_t count = 0;
                    for (int64_t kd = 0; kd < wd.k; kd++)
                        for (int64_t kh = 0; kh < wg.kh; kh++)
                            for (int64_t kw = 0; kw < wg.kw; kw++) {
                                int64_t id = od * wd.stride - wd.pad_b + kd * wd.dil;
                                int64_t ih = oh * at->strides[0] - wg.pad_t + kh * at->dilations[0];
                                int64_t iw = ow * at->strides[1] - wg.pad_l + kw * at->dilations[1];
                                int inside =
                                    id >= 0 && id < D && ih >= 0 && ih < H && iw >= 0 && iw < W;
                                int in_padded = id >= -wd.pad_b && id < D + wd.pad_e &&
                                                ih >= -wg.pad_t && ih < H + wg.pad_b &&
                                                iw >= -wg.pad_l && iw < W + wg.pad_r;
                                if (incl ? in_padded : inside) count++;
                                if (!inside) continue;
                                double v = x[((p * D + id) * H + ih) * W + iw];
                                if (is_max) /* NaN propagates */
                                    acc = (v > acc || isnan(v)) && !isnan(acc) ? v : acc;
                                else if (is_lp)
                                    acc += pow(fabs(v), lp);
                                else
                                    acc += v;
                            }
                    if (is_lp)
                        acc = pow(acc, 1.0 / lp);
                    else if (!is_max)
                        acc = count ? acc / (double)count : 0.0;
                    y[((p * wd.od + od) * wg.oh + oh) * wg.ow + ow] = (float)acc;
                }
    return TSR_OK;
}

/* ---- conv3d: 3-D Conv ---- */

/* Conv on x [N, C, D, H, W], weights [M, C/group, kD, kH, kW], optional bias [M] (ONNX Conv,
 * geometry tsr_conv_geometry_3d): y[n, m, od, oh, ow] = b[m] + sum over the group's channels c
 * and the taps (kd, kh, kw) inside the input of x[n, c, od * sd - pd + kd * dd, ...] *
 * w[m, c, kd, kh, kw]; a direct loop in double, independent of the per-depth-tap rewrite the
 * backends run. */
static tsr_status tsr_ref_conv3d(tsr_context *ctx, const struct tsr_node *node,
                                 const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    const struct tsr_tensor_desc *xd = &in[0]->desc, *wdsc = &in[1]->desc;
    struct tsr_window_geometry wg;
    struct tsr_window_d wd;
    tsr_status st = tsr_conv_geometry_3d(ctx, &node->attrs, xd, wdsc, node->name, &wg, &wd);
    if (st != TSR_OK) return st;
    const struct tsr_op_attrs *at = &node->attrs;
    const int64_t N = xd->dims[0], C = xd->dims[1], D = xd->dims[2], H = xd->dims[3],
                  W = xd->dims[4], M = wdsc->dims[0], G = at->group, cpg = C / G, mpg = M / G;
    const float *x = in[0]->data, *w = in[1]->data;
    const float *bias = node->n_inputs == 3 ? in[2]->data : NULL;
    float *y = out->data;
    for (int64_t n = 0; n < N; n++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t od = 0; od < wd.od; od++)
                for (int64_t oh = 0; oh < wg.oh; oh++)
                    for (int64_t ow = 0; ow < wg.ow; ow++) {
                        double acc = bias ? bias[m] : 0.0;
                        const int64_t c0 = (m / mpg) * cpg;
                        for (int64_t ci = 0; ci < cpg; ci++)
                            for (int64_t kd = 0; kd < wd.k; kd++) {
                                int64_t id = od * wd.stride - wd.pad_b + kd * wd.dil;
                                if (id < 0 || id >= D) continue;
                                for (int64_t kh = 0; kh < wg.kh; kh++) {
                                    int64_t ih =
                                        oh * at->strides[0] - wg.pad_t + kh * at->dilations[0];
                                    if (ih < 0 || ih >= H) continue;
                                    for (int64_t kw = 0; kw < wg.kw; kw++) {
                                        int64_t iw =
                                            ow * at->strides[1] - wg.pad_l + kw * at->dilations[1];
                                        if (iw < 0 || iw >= W) continue;
                                        acc +=
                                            (double)x[(((n * C + c0 + ci) * D + id) * H + ih) * W +
                                                      iw] *
                                            w[(((m * cpg + ci) * wd.k + kd) * wg.kh + kh) * wg.kw +
                                              kw];
                                    }
                                }
                            }
                        y[(((n * M + m) * wd.od + od) * wg.oh + oh) * wg.ow + ow] = (float)acc;
                    }
    return TSR_OK;
}
