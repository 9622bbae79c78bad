/*
 * shape.c — shape inference for every operator, following the ONNX operator pages
 * (https://onnx.ai/onnx/operators/) and ONNX broadcasting (docs/Broadcasting.md in onnx/onnx).
 */
#include "runtime/graph.h"

#include <string.h>

int tsr_broadcast_shape(const struct tsr_tensor_desc *a, const struct tsr_tensor_desc *b,
                        struct tsr_tensor_desc *out) {
    int r = a->rank > b->rank ? a->rank : b->rank;
    struct tsr_tensor_desc o;
    memset(&o, 0, sizeof o);
    o.dtype = a->dtype;
    o.rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da == db || db == 1)
            o.dims[i] = da;
        else if (da == 1)
            o.dims[i] = db;
        else
            return -1;
    }
    *out = o;
    return 0;
}

/* Unidirectional broadcast: can `c` be broadcast to `to` (Gemm's C)? */
static int unidirectional(const struct tsr_tensor_desc *c, const struct tsr_tensor_desc *to) {
    if (c->rank > to->rank) return 0;
    for (int i = 0; i < c->rank; i++) {
        int64_t dc = c->dims[c->rank - 1 - i], dt = to->dims[to->rank - 1 - i];
        if (dc != dt && dc != 1) return 0;
    }
    return 1;
}

static struct tsr_tensor_desc f32_desc(int rank) {
    struct tsr_tensor_desc d;
    memset(&d, 0, sizeof d);
    d.dtype = TSR_F32;
    d.rank = rank;
    return d;
}

#define SHAPE_ERR(...) TSR_ERR(ctx, TSR_E_SHAPE, __VA_ARGS__)

tsr_status tsr_infer_shape(tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,
                           const struct tsr_tensor_desc *const *in, const void *const *in_data,
                           int n_in, const char *node, struct tsr_tensor_desc *out) {
    const char *opn = tsr_op_name(op);
    char s0[160], s1[160], s2[160];
    /* All data inputs are float32, except Reshape's shape. */
    for (int i = 0; i < n_in; i++) {
        int want_i64 = (op == TSR_OP_RESHAPE && i == 1);
        if (in[i]->dtype != (want_i64 ? TSR_I64 : TSR_F32))
            return TSR_ERR(ctx, TSR_E_DTYPE, "node '%s' (%s): input %d is %s, expected %s", node,
                           opn, i, tsr_desc_format(in[i], s0, sizeof s0),
                           want_i64 ? "int64" : "float32");
    }
    switch (op) {
    case TSR_OP_ADD:
    case TSR_OP_SUB:
    case TSR_OP_MUL:
    case TSR_OP_DIV:
        if (tsr_broadcast_shape(in[0], in[1], out))
            return SHAPE_ERR("node '%s' (%s): shapes %s and %s cannot be broadcast together", node,
                             opn, tsr_desc_format(in[0], s0, sizeof s0),
                             tsr_desc_format(in[1], s1, sizeof s1));
        return TSR_OK;
    case TSR_OP_RELU:
    case TSR_OP_SIGMOID:
    case TSR_OP_TANH:
    case TSR_OP_IDENTITY:
        *out = *in[0];
        return TSR_OK;
    case TSR_OP_SOFTMAX: {
        int r = in[0]->rank;
        int64_t axis = attrs->axis == TSR_AXIS_DEFAULT ? (attrs->softmax_2d ? 1 : -1) : attrs->axis;
        if (r == 0 || axis < -r || axis >= r)
            return SHAPE_ERR("node '%s' (Softmax): axis %lld out of range for input %s", node,
                             (long long)axis, tsr_desc_format(in[0], s0, sizeof s0));
        *out = *in[0];
        return TSR_OK;
    }
    case TSR_OP_FLATTEN: {
        int r = in[0]->rank;
        int64_t axis = attrs->axis == TSR_AXIS_DEFAULT ? 1 : attrs->axis;
        if (axis < -r || axis > r)
            return SHAPE_ERR("node '%s' (Flatten): axis %lld out of range for input %s", node,
                             (long long)axis, tsr_desc_format(in[0], s0, sizeof s0));
        if (axis < 0) axis += r;
        *out = f32_desc(2);
        out->dims[0] = 1;
        out->dims[1] = 1;
        for (int i = 0; i < r; i++)
            out->dims[i < axis ? 0 : 1] *= in[0]->dims[i];
        return TSR_OK;
    }
    case TSR_OP_RESHAPE: {
        if (!in_data[1])
            return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                           "node '%s' (Reshape): the shape input must be "
                           "a constant (initializer or Constant node)",
                           node);
        if (in[1]->rank != 1 || in[1]->dims[0] > TSR_MAX_RANK)
            return SHAPE_ERR("node '%s' (Reshape): shape input %s must be 1-D with at most %d "
                             "elements",
                             node, tsr_desc_format(in[1], s0, sizeof s0), TSR_MAX_RANK);
        const int64_t *shp = in_data[1];
        int r = (int)in[1]->dims[0];
        *out = f32_desc(r);
        int infer = -1;
        int64_t known = 1;
        for (int i = 0; i < r; i++) {
            int64_t d = shp[i];
            if (d == 0 && !attrs->allowzero) {
                if (i >= in[0]->rank)
                    return SHAPE_ERR("node '%s' (Reshape): shape[%d] = 0 copies a dim the input "
                                     "%s does not have",
                                     node, i, tsr_desc_format(in[0], s0, sizeof s0));
                d = in[0]->dims[i];
            }
            if (d == -1) {
                if (infer >= 0)
                    return SHAPE_ERR("node '%s' (Reshape): more than one -1 in the shape", node);
                infer = i;
                continue;
            }
            if (d < 0)
                return SHAPE_ERR("node '%s' (Reshape): invalid dim %lld", node, (long long)d);
            out->dims[i] = d;
            known *= d;
        }
        int64_t total = tsr_desc_elements(in[0]);
        if (infer >= 0) {
            if (known == 0 || total % known)
                return SHAPE_ERR("node '%s' (Reshape): cannot infer -1 reshaping %s", node,
                                 tsr_desc_format(in[0], s0, sizeof s0));
            out->dims[infer] = total / known;
            known *= out->dims[infer];
        }
        if (known != total)
            return SHAPE_ERR("node '%s' (Reshape): %s has %lld elements, the new shape %s has %lld",
                             node, tsr_desc_format(in[0], s0, sizeof s0), (long long)total,
                             tsr_desc_format(out, s1, sizeof s1), (long long)known);
        return TSR_OK;
    }
    case TSR_OP_GEMM: {
        if (in[0]->rank != 2 || in[1]->rank != 2)
            return SHAPE_ERR("node '%s' (Gemm): A %s and B %s must both be 2-D", node,
                             tsr_desc_format(in[0], s0, sizeof s0),
                             tsr_desc_format(in[1], s1, sizeof s1));
        int64_t M = attrs->trans_a ? in[0]->dims[1] : in[0]->dims[0];
        int64_t Ka = attrs->trans_a ? in[0]->dims[0] : in[0]->dims[1];
        int64_t Kb = attrs->trans_b ? in[1]->dims[1] : in[1]->dims[0];
        int64_t N = attrs->trans_b ? in[1]->dims[0] : in[1]->dims[1];
        if (Ka != Kb)
            return SHAPE_ERR("node '%s' (Gemm): inner dimensions differ: A %s%s (K=%lld) vs B %s%s "
                             "(K=%lld)",
                             node, tsr_desc_format(in[0], s0, sizeof s0),
                             attrs->trans_a ? " transposed" : "", (long long)Ka,
                             tsr_desc_format(in[1], s1, sizeof s1),
                             attrs->trans_b ? " transposed" : "", (long long)Kb);
        *out = f32_desc(2);
        out->dims[0] = M;
        out->dims[1] = N;
        if (n_in == 3 && !unidirectional(in[2], out))
            return SHAPE_ERR("node '%s' (Gemm): C %s cannot be broadcast to the output %s", node,
                             tsr_desc_format(in[2], s2, sizeof s2),
                             tsr_desc_format(out, s0, sizeof s0));
        return TSR_OK;
    }
    case TSR_OP_MATMUL: {
        const struct tsr_tensor_desc *a = in[0], *b = in[1];
        if (a->rank < 1 || b->rank < 1)
            return SHAPE_ERR("node '%s' (MatMul): operands %s and %s must have rank >= 1", node,
                             tsr_desc_format(a, s0, sizeof s0), tsr_desc_format(b, s1, sizeof s1));
        /* numpy.matmul: 1-D a is [1,K] (dim dropped after), 1-D b is [K,1] (dim dropped). */
        int64_t K_a = a->dims[a->rank - 1];
        int64_t K_b = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
        if (K_a != K_b)
            return SHAPE_ERR("node '%s' (MatMul): inner dimensions differ: %s (K=%lld) vs %s "
                             "(K=%lld)",
                             node, tsr_desc_format(a, s0, sizeof s0), (long long)K_a,
                             tsr_desc_format(b, s1, sizeof s1), (long long)K_b);
        struct tsr_tensor_desc ba = f32_desc(a->rank > 2 ? a->rank - 2 : 0);
        struct tsr_tensor_desc bb = f32_desc(b->rank > 2 ? b->rank - 2 : 0);
        for (int i = 0; i < ba.rank; i++)
            ba.dims[i] = a->dims[i];
        for (int i = 0; i < bb.rank; i++)
            bb.dims[i] = b->dims[i];
        struct tsr_tensor_desc batch;
        if (tsr_broadcast_shape(&ba, &bb, &batch))
            return SHAPE_ERR("node '%s' (MatMul): batch dimensions of %s and %s cannot be "
                             "broadcast together",
                             node, tsr_desc_format(a, s0, sizeof s0),
                             tsr_desc_format(b, s1, sizeof s1));
        int r = batch.rank + (a->rank > 1) + (b->rank > 1);
        if (r > TSR_MAX_RANK) return SHAPE_ERR("node '%s' (MatMul): rank too large", node);
        *out = f32_desc(r);
        int k = 0;
        for (int i = 0; i < batch.rank; i++)
            out->dims[k++] = batch.dims[i];
        if (a->rank > 1) out->dims[k++] = a->dims[a->rank - 2];
        if (b->rank > 1) out->dims[k++] = b->dims[b->rank - 1];
        return TSR_OK;
    }
    case TSR_OP_COUNT:
        break;
    }
    return TSR_ERR(ctx, TSR_E_UNSUPPORTED, "node '%s': unknown op %d", node, (int)op);
}
