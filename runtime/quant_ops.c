/*
 * quant_ops.c — shape rules and scalar references of the quantization operators (issue 13):
 * QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, QLinearMatMul. The
 * references follow the ONNX operator definitions (formulas: runtime/quant.h) element by
 * element, written independently of the kernels (backends/cpu/quant.c) that tests compare them
 * with; they share only the rounding primitive tsr_quant_round_sat.
 */
#include "runtime/internal.h"
#include "runtime/ops/op_table.h"
#include "runtime/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tsr_quant_layout_of(const struct tsr_tensor_desc *x, const struct tsr_tensor_desc *s,
                        int64_t axis, struct tsr_quant_layout *out) {
    const int64_t ns = tsr_desc_elements(s);
    out->outer = tsr_desc_elements(x);
    out->axis_len = 1;
    out->inner = 1;
    out->per_axis = 0;
    if (s->rank > 1) return 0;
    if (s->rank == 0 || (ns == 1 && x->rank == 0)) return ns == 1;
    if (axis == TSR_AXIS_DEFAULT) axis = 1;
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis >= x->rank) return ns == 1; /* 1 element: per-tensor after all */
    if (s->dims[0] != x->dims[axis]) return ns == 1;
    out->outer = 1;
    for (int d = 0; d < axis; d++)
        out->outer *= x->dims[d];
    out->axis_len = x->dims[axis];
    for (int d = (int)axis + 1; d < x->rank; d++)
        out->inner *= x->dims[d];
    out->per_axis = 1;
    return 1;
}

int tsr_quant_mmi_inputs(int q_inputs, int n_in, int *a_zp, int *b_zp) {
    if (q_inputs == 0) {
        *a_zp = n_in > 2 ? 2 : -1;
        *b_zp = n_in > 3 ? 3 : -1;
        return n_in >= 2 && n_in <= 4;
    }
    int k = 2;
    *a_zp = (q_inputs & 4) ? k++ : -1;
    *b_zp = (q_inputs & 8) ? k++ : -1;
    return k == n_in;
}

int tsr_quant_mm_geometry(const struct tsr_tensor_desc *a, const struct tsr_tensor_desc *b,
                          int64_t *batch, int64_t *M, int64_t *K, int64_t *N, int64_t *a_stride,
                          int64_t *b_stride) {
    if (a->rank < 1 || b->rank < 1) return 0;
    *M = a->rank == 1 ? 1 : a->dims[a->rank - 2];
    *K = a->dims[a->rank - 1];
    *N = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    const int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
    if (kb != *K) return 0;
    const int ra = a->rank > 2 ? a->rank - 2 : 0, rb = b->rank > 2 ? b->rank - 2 : 0;
    int64_t pa = 1, pb = 1;
    for (int d = 0; d < ra; d++)
        pa *= a->dims[d];
    for (int d = 0; d < rb; d++)
        pb *= b->dims[d];
    if (ra && rb) {
        if (ra != rb) return 0;
        for (int d = 0; d < ra; d++)
            if (a->dims[d] != b->dims[d]) return 0;
    }
    *batch = ra ? pa : pb;
    *a_stride = ra ? *M * *K : 0;
    *b_stride = rb ? *K * *N : 0;
    return 1;
}

#define Q_ERR(st, ...) TSR_ERR(ctx, st, __VA_ARGS__)

/* ---- shape rules ---- */

static tsr_status q_layout_check(tsr_context *ctx, const char *opname, const char *node,
                                 const struct tsr_tensor_desc *x, const struct tsr_tensor_desc *s,
                                 const struct tsr_tensor_desc *zp, int64_t axis) {
    char s0[160], s1[160];
    struct tsr_quant_layout l;
    if (!tsr_quant_layout_of(x, s, axis, &l))
        return Q_ERR(TSR_E_SHAPE,
                     "node '%s' (%s): scale %s fits neither per-tensor nor per-axis (axis %lld) "
                     "quantization of %s",
                     node, opname, tsr_desc_format(s, s0, sizeof s0),
                     (long long)(axis == TSR_AXIS_DEFAULT ? 1 : axis),
                     tsr_desc_format(x, s1, sizeof s1));
    if (zp && tsr_desc_elements(zp) != tsr_desc_elements(s))
        return Q_ERR(TSR_E_SHAPE, "node '%s' (%s): zero point %s and scale %s differ in size", node,
                     opname, tsr_desc_format(zp, s0, sizeof s0), tsr_desc_format(s, s1, sizeof s1));
    return TSR_OK;
}

tsr_status tsr_shape_quantize_linear(tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,
                                     const struct tsr_tensor_desc *const *in,
                                     const void *const *in_data, int n_in, const char *node,
                                     struct tsr_tensor_desc *out) {
    (void)op, (void)in_data;
    tsr_dtype yt = n_in > 2 ? in[2]->dtype : TSR_U8;
    if (attrs->q_output_dtype) {
        static const struct {
            int64_t onnx;
            tsr_dtype dt;
        } map[] = {{2, TSR_U8}, {3, TSR_I8}, {4, TSR_U16}, {5, TSR_I16}};
        int found = 0;
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (map[i].onnx == attrs->q_output_dtype) found = 1, yt = map[i].dt;
        if (!found)
            return Q_ERR(TSR_E_UNSUPPORTED,
                         "node '%s' (QuantizeLinear): output_dtype %lld is not supported (uint8, "
                         "int8, uint16, int16 are)",
                         node, (long long)attrs->q_output_dtype);
        if (n_in > 2 && in[2]->dtype != yt)
            return Q_ERR(TSR_E_SHAPE,
                         "node '%s' (QuantizeLinear): output_dtype %s differs from y_zero_point's "
                         "%s",
                         node, tsr_dtype_name(yt), tsr_dtype_name(in[2]->dtype));
    }
    tsr_status st = q_layout_check(ctx, "QuantizeLinear", node, in[0], in[1],
                                   n_in > 2 ? in[2] : NULL, attrs->axis);
    if (st != TSR_OK) return st;
    *out = *in[0];
    out->dtype = yt;
    return TSR_OK;
}

tsr_status tsr_shape_dequantize_linear(tsr_context *ctx, tsr_op op,
                                       const struct tsr_op_attrs *attrs,
                                       const struct tsr_tensor_desc *const *in,
                                       const void *const *in_data, int n_in, const char *node,
                                       struct tsr_tensor_desc *out) {
    (void)op, (void)in_data;
    if (n_in > 2 && in[2]->dtype != in[0]->dtype)
        return Q_ERR(TSR_E_SHAPE, "node '%s' (DequantizeLinear): x is %s, x_zero_point %s", node,
                     tsr_dtype_name(in[0]->dtype), tsr_dtype_name(in[2]->dtype));
    tsr_status st = q_layout_check(ctx, "DequantizeLinear", node, in[0], in[1],
                                   n_in > 2 ? in[2] : NULL, attrs->axis);
    if (st != TSR_OK) return st;
    *out = *in[0];
    out->dtype = TSR_F32;
    return TSR_OK;
}

tsr_status tsr_shape_dynamic_quantize_linear(tsr_context *ctx, tsr_op op,
                                             const struct tsr_op_attrs *attrs,
                                             const struct tsr_tensor_desc *const *in,
                                             const void *const *in_data, int n_in, const char *node,
                                             struct tsr_tensor_desc *out) {
    (void)op, (void)in_data, (void)n_in;
    if (attrs->q_output < 0 || attrs->q_output > 2)
        return Q_ERR(TSR_E_UNSUPPORTED, "node '%s' (DynamicQuantizeLinear): output %d", node,
                     attrs->q_output);
    if (attrs->q_output == 0) {
        *out = *in[0];
        out->dtype = TSR_U8;
    } else {
        memset(out, 0, sizeof *out);
        out->dtype = attrs->q_output == 1 ? TSR_F32 : TSR_U8;
    }
    return TSR_OK;
}

/* a's and b's zero points / scales: 1 element, or M (a, per row) / N (b, per column). */
static int q_len_ok(const struct tsr_tensor_desc *d, int64_t per) {
    const int64_t n = tsr_desc_elements(d);
    return d->rank <= 1 && (n == 1 || (d->rank == 1 && n == per));
}

static tsr_status q_mm_shape(tsr_context *ctx, const char *opname, const char *node,
                             const struct tsr_tensor_desc *a, const struct tsr_tensor_desc *b,
                             const struct tsr_tensor_desc *const *a_side, int n_a_side,
                             const struct tsr_tensor_desc *const *b_side, int n_b_side,
                             struct tsr_tensor_desc *out) {
    char s0[160], s1[160];
    int64_t batch, M, K, N, as, bs;
    if (!tsr_quant_mm_geometry(a, b, &batch, &M, &K, &N, &as, &bs))
        return Q_ERR(a->rank >= 1 && b->rank >= 1 ? TSR_E_UNSUPPORTED : TSR_E_SHAPE,
                     "node '%s' (%s): operands %s and %s: inner dimensions differ, or batch "
                     "dimensions that are neither equal nor absent on one side (not supported)",
                     node, opname, tsr_desc_format(a, s0, sizeof s0),
                     tsr_desc_format(b, s1, sizeof s1));
    for (int i = 0; i < n_a_side; i++)
        if (!q_len_ok(a_side[i], M))
            return Q_ERR(TSR_E_SHAPE,
                         "node '%s' (%s): a's scale / zero point %s: 1 element or %lld (per row)",
                         node, opname, tsr_desc_format(a_side[i], s0, sizeof s0), (long long)M);
    for (int i = 0; i < n_b_side; i++)
        if (!q_len_ok(b_side[i], N))
            return Q_ERR(TSR_E_SHAPE,
                         "node '%s' (%s): b's scale / zero point %s: 1 element or %lld (per "
                         "column)",
                         node, opname, tsr_desc_format(b_side[i], s0, sizeof s0), (long long)N);
    /* the numpy matmul output shape: MatMul's rule */
    const struct tsr_tensor_desc *ab[2] = {a, b};
    const void *nod[2] = {NULL, NULL};
    struct tsr_op_attrs at = tsr_op_attrs_default();
    return tsr_shape_matmul(ctx, TSR_OP_MATMUL, &at, ab, nod, 2, node, out);
}

tsr_status tsr_shape_matmul_integer(tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,
                                    const struct tsr_tensor_desc *const *in,
                                    const void *const *in_data, int n_in, const char *node,
                                    struct tsr_tensor_desc *out) {
    (void)op, (void)in_data;
    int za, zb;
    if (!tsr_quant_mmi_inputs(attrs->q_inputs, n_in, &za, &zb))
        return Q_ERR(TSR_E_INVALID_ARG, "node '%s' (MatMulInteger): %d inputs, present mask %d",
                     node, n_in, attrs->q_inputs);
    if ((za >= 0 && in[za]->dtype != in[0]->dtype) || (zb >= 0 && in[zb]->dtype != in[1]->dtype))
        return Q_ERR(TSR_E_SHAPE,
                     "node '%s' (MatMulInteger): a zero point's dtype differs from its operand's",
                     node);
    const struct tsr_tensor_desc *as[1] = {za >= 0 ? in[za] : NULL};
    const struct tsr_tensor_desc *bs[1] = {zb >= 0 ? in[zb] : NULL};
    tsr_status st =
        q_mm_shape(ctx, "MatMulInteger", node, in[0], in[1], as, za >= 0, bs, zb >= 0, out);
    if (st == TSR_OK) out->dtype = TSR_I32;
    return st;
}

tsr_status tsr_shape_qlinear_matmul(tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,
                                    const struct tsr_tensor_desc *const *in,
                                    const void *const *in_data, int n_in, const char *node,
                                    struct tsr_tensor_desc *out) {
    (void)op, (void)in_data, (void)attrs, (void)n_in;
    char s0[160];
    if (in[2]->dtype != in[0]->dtype || in[5]->dtype != in[3]->dtype)
        return Q_ERR(TSR_E_SHAPE,
                     "node '%s' (QLinearMatMul): a zero point's dtype differs from its operand's",
                     node);
    if (tsr_desc_elements(in[6]) != 1 || tsr_desc_elements(in[7]) != 1)
        return Q_ERR(TSR_E_SHAPE,
                     "node '%s' (QLinearMatMul): y_scale / y_zero_point must be one element (%s)",
                     node, tsr_desc_format(in[6], s0, sizeof s0));
    const struct tsr_tensor_desc *as[2] = {in[1], in[2]};
    const struct tsr_tensor_desc *bs[2] = {in[4], in[5]};
    tsr_status st = q_mm_shape(ctx, "QLinearMatMul", node, in[0], in[3], as, 2, bs, 2, out);
    if (st == TSR_OK) out->dtype = in[7]->dtype;
    return st;
}

/* ---- scalar references (ONNX definitions, element by element) ---- */

/* Integer element i of an integer tensor (any of tessera's integer dtypes). */
static int64_t q_get(const struct tsr_tensor *t, int64_t i) {
    return tsr_elem_get_i64(t->desc.dtype, t->data, i);
}

/* c: the per-axis index of element i of x under layout l. */
static int64_t q_channel(const struct tsr_quant_layout *l, int64_t i) {
    return l->per_axis ? (i / l->inner) % l->axis_len : 0;
}

tsr_status tsr_ref_quantize_linear(tsr_context *ctx, const struct tsr_node *node,
                                   const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    struct tsr_quant_layout l;
    int32_t qmin, qmax;
    if (!tsr_quant_layout_of(&in[0]->desc, &in[1]->desc, node->attrs.axis, &l) ||
        !tsr_quant_range(out->desc.dtype, &qmin, &qmax))
        return Q_ERR(TSR_E_SHAPE, "node '%s' (QuantizeLinear): bad layout", node->name);
    const float *x = in[0]->data, *s = in[1]->data;
    const int64_t n = tsr_desc_elements(&in[0]->desc);
    for (int64_t i = 0; i < n; i++) {
        const int64_t c = q_channel(&l, i);
        const int64_t zp = node->n_inputs > 2 ? q_get(in[2], c) : 0;
        /* ONNX: saturate(round(x / y_scale) + y_zero_point), x / y_scale in float32 */
        const float q = x[i] / s[c];
        tsr_elem_set_i64(out->desc.dtype, out->data, i,
                         tsr_quant_round_sat(q, (int32_t)zp, qmin, qmax));
    }
    return TSR_OK;
}

tsr_status tsr_ref_dequantize_linear(tsr_context *ctx, const struct tsr_node *node,
                                     const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    struct tsr_quant_layout l;
    if (!tsr_quant_layout_of(&in[0]->desc, &in[1]->desc, node->attrs.axis, &l))
        return Q_ERR(TSR_E_SHAPE, "node '%s' (DequantizeLinear): bad layout", node->name);
    const float *s = in[1]->data;
    float *y = out->data;
    const int64_t n = tsr_desc_elements(&in[0]->desc);
    for (int64_t i = 0; i < n; i++) {
        const int64_t c = q_channel(&l, i);
        const int64_t zp = node->n_inputs > 2 ? q_get(in[2], c) : 0;
        y[i] = (float)(q_get(in[0], i) - zp) * s[c]; /* ONNX: (x - x_zero_point) * x_scale */
    }
    return TSR_OK;
}

tsr_status tsr_ref_dynamic_quantize_linear(tsr_context *ctx, const struct tsr_node *node,
                                           const struct tsr_tensor *const *in,
                                           struct tsr_tensor *out) {
    (void)ctx;
    const float *x = in[0]->data;
    const int64_t n = tsr_desc_elements(&in[0]->desc);
    /* ONNX DynamicQuantizeLinear-11: x_min = min(0, min(x)), x_max = max(0, max(x)),
     * y_scale = (x_max - x_min) / 255, zp = saturate(round(0 - x_min / y_scale)),
     * y = saturate(round(x / y_scale) + zp); a zero range: scale 1 (quant.h) */
    float lo = 0.0f, hi = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    float scale = (hi - lo) / 255.0f;
    if (!(scale > 0.0f)) scale = 1.0f;
    const int32_t zp = tsr_quant_round_sat(0.0f - lo / scale, 0, 0, 255);
    if (node->attrs.q_output == 1) {
        *(float *)out->data = scale;
    } else if (node->attrs.q_output == 2) {
        *(uint8_t *)out->data = (uint8_t)zp;
    } else {
        uint8_t *y = out->data;
        for (int64_t i = 0; i < n; i++)
            y[i] = (uint8_t)tsr_quant_round_sat(x[i] / scale, zp, 0, 255);
    }
    return TSR_OK;
}

/* sum_k (a - a_zp)(b - b_zp) over the geometry of tsr_quant_mm_geometry, into acc[batch*M*N]
 * (int64). za, zb: zero point tensors or NULL. */
static void q_ref_mm(const struct tsr_tensor *a, const struct tsr_tensor *b,
                     const struct tsr_tensor *za, const struct tsr_tensor *zb, int64_t batch,
                     int64_t M, int64_t K, int64_t N, int64_t as, int64_t bs, int64_t *acc) {
    for (int64_t p = 0; p < batch; p++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t j = 0; j < N; j++) {
                const int64_t az = za ? q_get(za, tsr_desc_elements(&za->desc) > 1 ? m : 0) : 0;
                const int64_t bz = zb ? q_get(zb, tsr_desc_elements(&zb->desc) > 1 ? j : 0) : 0;
                int64_t s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (q_get(a, p * as + m * K + k) - az) * (q_get(b, p * bs + k * N + j) - bz);
                acc[(p * M + m) * N + j] = s;
            }
}

tsr_status tsr_ref_matmul_integer(tsr_context *ctx, const struct tsr_node *node,
                                  const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    int za, zb;
    int64_t batch, M, K, N, as, bs;
    if (!tsr_quant_mmi_inputs(node->attrs.q_inputs, node->n_inputs, &za, &zb) ||
        !tsr_quant_mm_geometry(&in[0]->desc, &in[1]->desc, &batch, &M, &K, &N, &as, &bs))
        return Q_ERR(TSR_E_SHAPE, "node '%s' (MatMulInteger): bad geometry", node->name);
    int64_t *acc = malloc((size_t)(batch * M * N > 0 ? batch * M * N : 1) * sizeof *acc);
    if (!acc) return Q_ERR(TSR_E_NOMEM, "node '%s' (MatMulInteger): out of memory", node->name);
    q_ref_mm(in[0], in[1], za >= 0 ? in[za] : NULL, zb >= 0 ? in[zb] : NULL, batch, M, K, N, as, bs,
             acc);
    int32_t *y = out->data;
    for (int64_t i = 0; i < batch * M * N; i++)
        y[i] = (int32_t)acc[i]; /* |acc| <= K * 255 * 255: int32 for K < 33000 */
    free(acc);
    return TSR_OK;
}

tsr_status tsr_ref_qlinear_matmul(tsr_context *ctx, const struct tsr_node *node,
                                  const struct tsr_tensor *const *in, struct tsr_tensor *out) {
    int64_t batch, M, K, N, as, bs;
    int32_t qmin, qmax;
    if (!tsr_quant_mm_geometry(&in[0]->desc, &in[3]->desc, &batch, &M, &K, &N, &as, &bs) ||
        !tsr_quant_range(out->desc.dtype, &qmin, &qmax))
        return Q_ERR(TSR_E_SHAPE, "node '%s' (QLinearMatMul): bad geometry", node->name);
    int64_t *acc = malloc((size_t)(batch * M * N > 0 ? batch * M * N : 1) * sizeof *acc);
    if (!acc) return Q_ERR(TSR_E_NOMEM, "node '%s' (QLinearMatMul): out of memory", node->name);
    q_ref_mm(in[0], in[3], in[2], in[5], batch, M, K, N, as, bs, acc);
    const float *sa = in[1]->data, *sb = in[4]->data, sy = *(const float *)in[6]->data;
    const int32_t yz = (int32_t)q_get(in[7], 0);
    const int pa = tsr_desc_elements(&in[1]->desc) > 1, pb = tsr_desc_elements(&in[4]->desc) > 1;
    for (int64_t p = 0; p < batch; p++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t j = 0; j < N; j++) {
                const int64_t i = (p * M + m) * N + j;
                /* y = saturate(round(acc * (a_scale * b_scale / y_scale)) + y_zero_point) */
                const float mult = sa[pa ? m : 0] * sb[pb ? j : 0] / sy;
                tsr_elem_set_i64(
                    out->desc.dtype, out->data, i,
                    tsr_quant_round_sat((double)acc[i] * (double)mult, yz, qmin, qmax));
            }
    free(acc);
    return TSR_OK;
}
