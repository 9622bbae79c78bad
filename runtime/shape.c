/*
 * shape.c — shape inference for every operator, following the ONNX operator pages
 * (https://onnx.ai/onnx/operators/) and ONNX broadcasting (docs/Broadcasting.md in onnx/onnx).
 */
#include "runtime/checked.h"
#include "runtime/graph.h"
#include "runtime/ops/op_table.h"

#include <math.h>
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

int tsr_transpose_perm(const struct tsr_op_attrs *attrs, int rank, int64_t *perm) {
    if (attrs->n_perm == 0) {
        for (int d = 0; d < rank; d++)
            perm[d] = rank - 1 - d;
        return 0;
    }
    if (attrs->n_perm != rank) return -1;
    unsigned seen = 0;
    for (int d = 0; d < rank; d++) {
        int64_t p = attrs->perm[d];
        if (p < 0) p += rank;
        if (p < 0 || p >= rank || (seen & (1u << p))) return -1;
        seen |= 1u << p;
        perm[d] = p;
    }
    return 0;
}

int tsr_reduce_mask(const struct tsr_op_attrs *attrs, int rank, unsigned *mask) {
    *mask = 0;
    if (attrs->n_axes == 0) {
        if (!attrs->noop_with_empty_axes) *mask = rank ? (1u << rank) - 1 : 0;
        return 0;
    }
    for (int i = 0; i < attrs->n_axes; i++) {
        int64_t a = attrs->axes[i];
        if (a < 0) a += rank;
        if (a < 0 || a >= rank || (*mask & (1u << a))) return -1;
        *mask |= 1u << a;
    }
    return 0;
}

/* out = floor or ceil of (in + pads - dil*(k-1) - 1) / stride + 1, ONNX Conv / pool semantics;
 * with ceil_mode a window that would start in the end padding only is dropped (as PyTorch). */
static int64_t window_out(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pad_begin,
                          int64_t pad_end, int ceil_mode) {
    int64_t span, ek, padded;
    /* in, pads >= 0, k, stride, dil >= 1: only the sums and the product can overflow (0: the
     * window does not fit, which the caller reports) */
    if (tsr_add_i64(in, pad_begin, &padded) || tsr_add_i64(padded, pad_end, &span) ||
        tsr_mul_i64(dil, k - 1, &ek))
        return 0;
    span = span - ek - 1;
    if (span < 0) return 0;
    int64_t o = (ceil_mode ? span / stride + (span % stride != 0) : span / stride) + 1;
    int64_t last;
    if (ceil_mode && (tsr_mul_i64(o - 1, stride, &last) || last >= padded)) o--;
    return o;
}

tsr_status tsr_window_geometry(tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,
                               const struct tsr_tensor_desc *x, const struct tsr_tensor_desc *w,
                               const char *node, struct tsr_window_geometry *out) {
    char s0[160], s1[160];
    const char *opn = tsr_op_name(op);
    if (attrs->win3d_given && x->rank != 5)
        return SHAPE_ERR("node '%s' (%s): 3-D window attributes for input %s (expected a 3-D "
                         "input [N, C, D, H, W])",
                         node, opn, tsr_desc_format(x, s0, sizeof s0));
    if (x->rank != 4 && x->rank != 3)
        return TSR_ERR(ctx, x->rank == 5 ? TSR_E_UNSUPPORTED : TSR_E_SHAPE,
                       "node '%s' (%s): input %s: only 1-D and 2-D spatial inputs ([N, C, W], "
                       "[N, C, H, W]) are supported",
                       node, opn, tsr_desc_format(x, s0, sizeof s0));
    memset(out, 0, sizeof *out);
    /* Group "spatial": a 1-D input [N, C, W] is the 2-D case with H = 1; its attributes are
     * stored as 2-D ones with H = 1 (op_table.c), anything else along H is refused. */
    const int one_d = x->rank == 3;
    if (one_d && ((attrs->kernel_shape[0] > 1) || attrs->strides[0] != 1 ||
                  attrs->dilations[0] != 1 || attrs->pads[0] || attrs->pads[2]))
        return SHAPE_ERR("node '%s' (%s): 1-D input %s takes 1-D window attributes (kernel_shape "
                         "[k], strides [s], dilations [d], pads [begin, end]); got 2-D ones",
                         node, opn, tsr_desc_format(x, s0, sizeof s0));
    int64_t kh = attrs->kernel_shape[0], kw = attrs->kernel_shape[1];
    if (one_d && op != TSR_OP_CONV && kw > 0) kh = 1;
    if (op == TSR_OP_CONV) {
        int64_t g = attrs->group;
        int64_t wc = 0;
        if (w->rank != x->rank || g < 1 || x->dims[1] % g || tsr_mul_i64(w->dims[1], g, &wc) ||
            wc != x->dims[1] || w->dims[0] % g)
            return SHAPE_ERR("node '%s' (Conv): weights %s do not fit input %s with group %lld "
                             "(expected [M, C/group, %s], M divisible by group)",
                             node, tsr_desc_format(w, s0, sizeof s0),
                             tsr_desc_format(x, s1, sizeof s1), (long long)g,
                             one_d ? "kW" : "kH, kW");
        int64_t wkh = one_d ? 1 : w->dims[2], wkw = w->dims[one_d ? 2 : 3];
        if ((kh && kh != wkh) || (kw && kw != wkw))
            return SHAPE_ERR("node '%s' (Conv): kernel_shape [%lld, %lld] differs from weights %s",
                             node, (long long)kh, (long long)kw, tsr_desc_format(w, s0, sizeof s0));
        kh = wkh;
        kw = wkw;
    } else if (kh <= 0 || kw <= 0) {
        return SHAPE_ERR("node '%s' (%s): kernel_shape must give two positive sizes", node, opn);
    }
    int64_t sh = attrs->strides[0], sw = attrs->strides[1];
    int64_t dh = attrs->dilations[0], dw = attrs->dilations[1];
    if (sh < 1 || sw < 1 || dh < 1 || dw < 1)
        return SHAPE_ERR("node '%s' (%s): strides and dilations must be >= 1", node, opn);
    int64_t pt = attrs->pads[0], pl = attrs->pads[1], pb = attrs->pads[2], pr = attrs->pads[3];
    if (pt < 0 || pl < 0 || pb < 0 || pr < 0)
        return SHAPE_ERR("node '%s' (%s): negative pads", node, opn);
    int64_t H = one_d ? 1 : x->dims[2], W = x->dims[one_d ? 2 : 3];
    if (attrs->auto_pad == TSR_AUTO_PAD_VALID) {
        pt = pl = pb = pr = 0;
    } else if (attrs->auto_pad == TSR_AUTO_PAD_SAME_UPPER ||
               attrs->auto_pad == TSR_AUTO_PAD_SAME_LOWER) {
        /* ONNX: output = ceil(in / stride); the total padding splits with the extra at the end
         * (SAME_UPPER) or the beginning (SAME_LOWER). */
        int64_t oh = H / sh + (H % sh != 0), ow = W / sw + (W % sw != 0);
        int64_t th, tw, eh, ew;
        /* (oh - 1) * sh <= H and (ow - 1) * sw <= W: only the dilated kernel can overflow */
        if (tsr_mul_i64(dh, kh - 1, &eh) || tsr_mul_i64(dw, kw - 1, &ew) ||
            tsr_add_i64((oh - 1) * sh + 1 - H, eh, &th) ||
            tsr_add_i64((ow - 1) * sw + 1 - W, ew, &tw))
            return SHAPE_ERR("node '%s' (%s): the %lldx%lld kernel with dilations %lld, %lld is "
                             "too large",
                             node, opn, (long long)kh, (long long)kw, (long long)dh, (long long)dw);
        if (th < 0) th = 0;
        if (tw < 0) tw = 0;
        int upper = attrs->auto_pad == TSR_AUTO_PAD_SAME_UPPER;
        pt = upper ? th / 2 : th - th / 2;
        pb = th - pt;
        pl = upper ? tw / 2 : tw - tw / 2;
        pr = tw - pl;
    }
    out->kh = kh;
    out->kw = kw;
    out->pad_t = pt;
    out->pad_l = pl;
    out->pad_b = pb;
    out->pad_r = pr;
    int ceil_mode = op != TSR_OP_CONV && attrs->ceil_mode;
    out->oh = window_out(H, kh, sh, dh, pt, pb, ceil_mode);
    out->ow = window_out(W, kw, sw, dw, pl, pr, ceil_mode);
    if (out->oh <= 0 || out->ow <= 0)
        return SHAPE_ERR("node '%s' (%s): the %lldx%lld window (dilation %lld, %lld) does not fit "
                         "input %s with pads [%lld, %lld, %lld, %lld]",
                         node, opn, (long long)kh, (long long)kw, (long long)dh, (long long)dw,
                         tsr_desc_format(x, s0, sizeof s0), (long long)pt, (long long)pl,
                         (long long)pb, (long long)pr);
    return TSR_OK;
}

/* The arguments every shape rule receives (tsr_shape_fn, op_table.h); some rules use few. */
#define SHAPE_ARGS                                                                                 \
    tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,                                 \
        const struct tsr_tensor_desc *const *in, const void *const *in_data, int n_in,             \
        const char *node, struct tsr_tensor_desc *out
#define SHAPE_UNUSED()                                                                             \
    (void)ctx, (void)op, (void)attrs, (void)in, (void)in_data, (void)n_in, (void)node

tsr_status tsr_infer_shape(tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,
                           const struct tsr_tensor_desc *const *in, const void *const *in_data,
                           int n_in, const char *node, struct tsr_tensor_desc *out) {
    const struct tsr_op_def *def = tsr_op_def(op);
    if (!def) return TSR_ERR(ctx, TSR_E_UNSUPPORTED, "node '%s': unknown op %d", node, (int)op);
    char s0[160], s1[160];
    /* Input dtypes: the table's TSR_DTYPES groups (one dtype per group, from its set), float32
     * for an op without them, the table dtype for compile-time constant inputs. */
    for (int i = 0; i < n_in; i++) {
        int first;
        tsr_dtype_set set = tsr_op_input_dtypes(op, i, &first);
        if (!(set & TSR_DTYPE_BIT(in[i]->dtype))) {
            char names[160];
            size_t used = 0;
            names[0] = '\0';
            static const tsr_dtype all[] = {TSR_F32, TSR_F16,  TSR_F64, TSR_I64, TSR_I32, TSR_I8,
                                            TSR_U8,  TSR_BOOL, TSR_I16, TSR_U16, TSR_U32};
            for (size_t k = 0; k < sizeof all / sizeof all[0] && used < sizeof names; k++)
                if (set & TSR_DTYPE_BIT(all[k]))
                    used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                             used ? ", " : "", tsr_dtype_name(all[k]));
            return TSR_ERR(ctx, TSR_E_DTYPE, "node '%s' (%s): input %d is %s, expected %s", node,
                           def->onnx_name, i, tsr_desc_format(in[i], s0, sizeof s0),
                           used ? names : "(no dtype: input not expected)");
        }
        if (first != i && first < n_in && in[first]->dtype != in[i]->dtype)
            return TSR_ERR(ctx, TSR_E_DTYPE,
                           "node '%s' (%s): input %d is %s and input %d is %s; they must have the "
                           "same dtype",
                           node, def->onnx_name, first, tsr_desc_format(in[first], s0, sizeof s0),
                           i, tsr_desc_format(in[i], s1, sizeof s1));
    }
    tsr_status st = def->shape(ctx, op, attrs, in, in_data, n_in, node, out);
    if (st != TSR_OK) return st;
    /* One check for every node: an output whose element count or bytes cannot be represented
     * (runtime/checked.h) is refused here, before any pass or plan computes with it. */
    if (tsr_desc_size(out, NULL, NULL) != 0)
        return TSR_ERR(ctx, TSR_E_SHAPE,
                       "node '%s' (%s): output shape %s is too large (element count over 2^63 or "
                       "more than 2^62 bytes)",
                       node, def->onnx_name, tsr_desc_format(out, s0, sizeof s0));
    return TSR_OK;
}

/* Binary elementwise: ONNX multidirectional broadcasting. */
tsr_status tsr_shape_broadcast(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
    if (tsr_broadcast_shape(in[0], in[1], out))
        return SHAPE_ERR("node '%s' (%s): shapes %s and %s cannot be broadcast together", node,
                         tsr_op_name(op), tsr_desc_format(in[0], s0, sizeof s0),
                         tsr_desc_format(in[1], s1, sizeof s1));
    return TSR_OK;
}

/* Unary elementwise, Identity: the input's desc. */
tsr_status tsr_shape_same(SHAPE_ARGS) {
    SHAPE_UNUSED();
    *out = *in[0];
    return TSR_OK;
}

/* Conv, MaxPool, AveragePool (tsr_window_geometry). */
tsr_status tsr_shape_window(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    struct tsr_window_geometry wg;
    if (in[0]->rank == 5 && op == TSR_OP_CONV) { /* group "conv3d" */
        struct tsr_window_d wd;
        tsr_status st = tsr_conv_geometry_3d(ctx, attrs, in[0], in[1], node, &wg, &wd);
        if (st != TSR_OK) return st;
        if (n_in == 3 && (in[2]->rank != 1 || in[2]->dims[0] != in[1]->dims[0]))
            return SHAPE_ERR("node '%s' (Conv): bias %s must be [%lld] (one per output channel)",
                             node, tsr_desc_format(in[2], s0, sizeof s0),
                             (long long)in[1]->dims[0]);
        *out = f32_desc(5);
        out->dims[0] = in[0]->dims[0];
        out->dims[1] = in[1]->dims[0];
        out->dims[2] = wd.od;
        out->dims[3] = wg.oh;
        out->dims[4] = wg.ow;
        return TSR_OK;
    }
    if (in[0]->rank == 5 && (op == TSR_OP_MAXPOOL || op == TSR_OP_AVGPOOL || op == TSR_OP_LPPOOL)) {
        struct tsr_window_d wd;
        tsr_status st = tsr_window_geometry_3d(ctx, op, attrs, in[0], node, &wg, &wd);
        if (st != TSR_OK) return st;
        *out = *in[0];
        out->dims[2] = wd.od;
        out->dims[3] = wg.oh;
        out->dims[4] = wg.ow;
        return TSR_OK;
    }
    tsr_status st = tsr_window_geometry(ctx, op, attrs, in[0], n_in > 1 ? in[1] : NULL, node, &wg);
    if (st != TSR_OK) return st;
    if (op == TSR_OP_CONV && n_in == 3 && (in[2]->rank != 1 || in[2]->dims[0] != in[1]->dims[0]))
        return SHAPE_ERR("node '%s' (Conv): bias %s must be [%lld] (one per output channel)", node,
                         tsr_desc_format(in[2], s0, sizeof s0), (long long)in[1]->dims[0]);
    *out = f32_desc(in[0]->rank);
    if (op == TSR_OP_MAXPOOL && attrs->pool_indices) out->dtype = TSR_I64; /* group "multiout" */
    out->dims[0] = in[0]->dims[0];
    out->dims[1] = op == TSR_OP_CONV ? in[1]->dims[0] : in[0]->dims[1];
    if (in[0]->rank == 3) { /* 1-D (group "spatial"): H = 1 */
        out->dims[2] = wg.ow;
        return TSR_OK;
    }
    out->dims[2] = wg.oh;
    out->dims[3] = wg.ow;
    return TSR_OK;
}

tsr_status tsr_shape_global_pool(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    if (in[0]->rank < 3)
        return SHAPE_ERR("node '%s' (%s): input %s must be [N, C, spatial...]", node,
                         tsr_op_name(op), tsr_desc_format(in[0], s0, sizeof s0));
    *out = *in[0];
    for (int i = 2; i < out->rank; i++)
        out->dims[i] = 1;
    return TSR_OK;
}

tsr_status tsr_shape_batchnorm(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
    if (in[0]->rank < 2)
        return SHAPE_ERR("node '%s' (BatchNormalization): input %s must be [N, C, ...]", node,
                         tsr_desc_format(in[0], s0, sizeof s0));
    for (int k = 1; k < 5; k++)
        if (in[k]->rank != 1 || in[k]->dims[0] != in[0]->dims[1])
            return SHAPE_ERR("node '%s' (BatchNormalization): parameter %d is %s, expected [%lld] "
                             "for input %s",
                             node, k, tsr_desc_format(in[k], s0, sizeof s0),
                             (long long)in[0]->dims[1], tsr_desc_format(in[0], s1, sizeof s1));
    *out = *in[0];
    return TSR_OK;
}

tsr_status tsr_shape_concat(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
    int r = in[0]->rank;
    int64_t axis = attrs->axis == TSR_AXIS_DEFAULT ? 0 : attrs->axis;
    if (r == 0 || axis < -r || axis >= r)
        return SHAPE_ERR("node '%s' (Concat): axis %lld out of range for input %s", node,
                         (long long)axis, tsr_desc_format(in[0], s0, sizeof s0));
    if (axis < 0) axis += r;
    *out = *in[0];
    for (int k = 1; k < n_in; k++) {
        int ok = in[k]->rank == r;
        for (int d = 0; ok && d < r; d++)
            if (d != axis && in[k]->dims[d] != in[0]->dims[d]) ok = 0;
        if (!ok)
            return SHAPE_ERR("node '%s' (Concat): input %d %s does not match input 0 %s outside "
                             "axis %lld",
                             node, k, tsr_desc_format(in[k], s0, sizeof s0),
                             tsr_desc_format(in[0], s1, sizeof s1), (long long)axis);
        if (tsr_add_i64(out->dims[axis], in[k]->dims[axis], &out->dims[axis]))
            return SHAPE_ERR("node '%s' (Concat): the inputs' sizes along axis %lld overflow", node,
                             (long long)axis);
    }
    return TSR_OK;
}

tsr_status tsr_shape_transpose(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    int64_t perm[TSR_MAX_RANK];
    if (tsr_transpose_perm(attrs, in[0]->rank, perm))
        return SHAPE_ERR("node '%s' (Transpose): perm is not a permutation of the %d dims of %s",
                         node, in[0]->rank, tsr_desc_format(in[0], s0, sizeof s0));
    *out = *in[0];
    for (int d = 0; d < in[0]->rank; d++)
        out->dims[d] = in[0]->dims[perm[d]];
    return TSR_OK;
}

/* ReduceMean, ReduceSum, ReduceMax. */
tsr_status tsr_shape_reduce(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    unsigned mask;
    if (tsr_reduce_mask(attrs, in[0]->rank, &mask))
        return SHAPE_ERR("node '%s' (%s): axes out of range or repeated for input %s", node,
                         tsr_op_name(op), tsr_desc_format(in[0], s0, sizeof s0));
    *out = f32_desc(0);
    out->dtype = in[0]->dtype;
    for (int d = 0; d < in[0]->rank; d++) {
        if (!(mask & (1u << d)))
            out->dims[out->rank++] = in[0]->dims[d];
        else if (attrs->keepdims)
            out->dims[out->rank++] = 1;
    }
    return TSR_OK;
}

tsr_status tsr_shape_layernorm(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
    int r = in[0]->rank;
    int64_t axis = attrs->axis == TSR_AXIS_DEFAULT ? -1 : attrs->axis;
    if (r == 0 || axis < -r || axis >= r)
        return SHAPE_ERR("node '%s' (LayerNormalization): axis %lld out of range for input %s",
                         node, (long long)axis, tsr_desc_format(in[0], s0, sizeof s0));
    if (axis < 0) axis += r;
    int64_t len = 1;
    for (int d = (int)axis; d < r; d++)
        len *= in[0]->dims[d];
    for (int k = 1; k < n_in; k++)
        if (tsr_desc_elements(in[k]) != len)
            return SHAPE_ERR("node '%s' (LayerNormalization): %s %s must hold the %lld elements "
                             "of the normalised dims of %s",
                             node, k == 1 ? "scale" : "bias", tsr_desc_format(in[k], s0, sizeof s0),
                             (long long)len, tsr_desc_format(in[0], s1, sizeof s1));
    *out = *in[0];
    return TSR_OK;
}

tsr_status tsr_shape_softmax(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    int r = in[0]->rank;
    int64_t axis = attrs->axis == TSR_AXIS_DEFAULT ? (attrs->softmax_2d ? 1 : -1) : attrs->axis;
    if (r == 0 || axis < -r || axis >= r)
        return SHAPE_ERR("node '%s' (%s): axis %lld out of range for input %s", node,
                         tsr_op_name(op), (long long)axis, tsr_desc_format(in[0], s0, sizeof s0));
    *out = *in[0];
    return TSR_OK;
}

tsr_status tsr_shape_flatten(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    int r = in[0]->rank;
    int64_t axis = attrs->axis == TSR_AXIS_DEFAULT ? 1 : attrs->axis;
    if (axis < -r || axis > r)
        return SHAPE_ERR("node '%s' (Flatten): axis %lld out of range for input %s", node,
                         (long long)axis, tsr_desc_format(in[0], s0, sizeof s0));
    if (axis < 0) axis += r;
    *out = f32_desc(2);
    out->dtype = in[0]->dtype;
    out->dims[0] = 1;
    out->dims[1] = 1;
    for (int i = 0; i < r; i++)
        out->dims[i < axis ? 0 : 1] *= in[0]->dims[i];
    return TSR_OK;
}

tsr_status tsr_shape_reshape(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
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
    out->dtype = in[0]->dtype;
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
        if (d < 0) return SHAPE_ERR("node '%s' (Reshape): invalid dim %lld", node, (long long)d);
        out->dims[i] = d;
        if (tsr_mul_i64(known, d, &known))
            return SHAPE_ERR("node '%s' (Reshape): the element count of the new shape overflows "
                             "int64 (shape[%d] = %lld); %s has %lld elements",
                             node, i, (long long)d, tsr_desc_format(in[0], s0, sizeof s0),
                             (long long)tsr_desc_elements(in[0]));
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

tsr_status tsr_shape_gemm(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160], s2[160];
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
                         tsr_desc_format(in[1], s1, sizeof s1), attrs->trans_b ? " transposed" : "",
                         (long long)Kb);
    *out = f32_desc(2);
    out->dims[0] = M;
    out->dims[1] = N;
    if (n_in == 3 && !unidirectional(in[2], out))
        return SHAPE_ERR("node '%s' (Gemm): C %s cannot be broadcast to the output %s", node,
                         tsr_desc_format(in[2], s2, sizeof s2),
                         tsr_desc_format(out, s0, sizeof s0));
    return TSR_OK;
}

tsr_status tsr_shape_matmul(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
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

/* ---- issue 9, group "dtypes": shape arithmetic, masks ------------------------------------- */

/* Normalises axis a of rank r (negative from the end) into *out. 0, or -1 out of range. */
static int norm_axis(int64_t a, int r, int64_t *out) {
    if (a < -r || a >= r) return -1;
    *out = a < 0 ? a + r : a;
    return 0;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

tsr_status tsr_shape_shape(SHAPE_ARGS) {
    SHAPE_UNUSED();
    int r = in[0]->rank;
    int64_t b = attrs->shape_start, e = attrs->shape_end;
    if (b < 0) b += r;
    if (e < 0) e += r;
    b = clamp64(b, 0, r);
    e = clamp64(e, 0, r);
    *out = f32_desc(1);
    out->dtype = TSR_I64;
    out->dims[0] = e > b ? e - b : 0;
    return TSR_OK;
}

tsr_status tsr_shape_size(SHAPE_ARGS) {
    SHAPE_UNUSED();
    *out = f32_desc(0);
    out->dtype = TSR_I64;
    return TSR_OK;
}

tsr_status tsr_shape_gather(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
    const struct tsr_tensor_desc *x = in[0], *ix = in[1];
    int64_t axis;
    if (norm_axis(attrs->axis == TSR_AXIS_DEFAULT ? 0 : attrs->axis, x->rank, &axis))
        return SHAPE_ERR("node '%s' (Gather): axis %lld out of range for data %s", node,
                         (long long)attrs->axis, tsr_desc_format(x, s0, sizeof s0));
    if (x->rank - 1 + ix->rank > TSR_MAX_RANK)
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED, "node '%s' (Gather): output rank %d over %d", node,
                       x->rank - 1 + ix->rank, TSR_MAX_RANK);
    if (in_data[1]) {
        int64_t n = tsr_desc_elements(ix), d = x->dims[axis];
        for (int64_t i = 0; i < n; i++) {
            int64_t v = tsr_elem_get_i64(ix->dtype, in_data[1], i);
            if (v < -d || v >= d)
                return SHAPE_ERR("node '%s' (Gather): index %lld out of range for axis %lld of "
                                 "data %s (indices %s)",
                                 node, (long long)v, (long long)axis,
                                 tsr_desc_format(x, s0, sizeof s0),
                                 tsr_desc_format(ix, s1, sizeof s1));
        }
    }
    *out = f32_desc(0);
    out->dtype = x->dtype;
    for (int d = 0; d < axis; d++)
        out->dims[out->rank++] = x->dims[d];
    for (int d = 0; d < ix->rank; d++)
        out->dims[out->rank++] = ix->dims[d];
    for (int d = (int)axis + 1; d < x->rank; d++)
        out->dims[out->rank++] = x->dims[d];
    return TSR_OK;
}

tsr_status tsr_shape_unsqueeze(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    int r = in[0]->rank + attrs->n_axes;
    if (attrs->n_axes == 0 || r > TSR_MAX_RANK)
        return SHAPE_ERR("node '%s' (Unsqueeze): %d axes for input %s (at least one, output rank "
                         "at most %d)",
                         node, attrs->n_axes, tsr_desc_format(in[0], s0, sizeof s0), TSR_MAX_RANK);
    unsigned added = 0;
    for (int i = 0; i < attrs->n_axes; i++) {
        int64_t a;
        if (norm_axis(attrs->axes[i], r, &a) || (added & (1u << a)))
            return SHAPE_ERR("node '%s' (Unsqueeze): axis %lld out of range or repeated for "
                             "input %s",
                             node, (long long)attrs->axes[i],
                             tsr_desc_format(in[0], s0, sizeof s0));
        added |= 1u << a;
    }
    *out = f32_desc(r);
    out->dtype = in[0]->dtype;
    for (int d = 0, k = 0; d < r; d++)
        out->dims[d] = (added & (1u << d)) ? 1 : in[0]->dims[k++];
    return TSR_OK;
}

tsr_status tsr_shape_squeeze(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    int r = in[0]->rank;
    unsigned drop = 0;
    for (int i = 0; i < attrs->n_axes; i++) {
        int64_t a;
        if (norm_axis(attrs->axes[i], r, &a) || in[0]->dims[a] != 1)
            return SHAPE_ERR("node '%s' (Squeeze): axis %lld is out of range or not of size 1 in "
                             "input %s",
                             node, (long long)attrs->axes[i],
                             tsr_desc_format(in[0], s0, sizeof s0));
        drop |= 1u << a;
    }
    if (attrs->n_axes == 0)
        for (int d = 0; d < r; d++)
            if (in[0]->dims[d] == 1) drop |= 1u << d;
    *out = f32_desc(0);
    out->dtype = in[0]->dtype;
    for (int d = 0; d < r; d++)
        if (!(drop & (1u << d))) out->dims[out->rank++] = in[0]->dims[d];
    return TSR_OK;
}

tsr_status tsr_shape_cast(SHAPE_ARGS) {
    SHAPE_UNUSED();
    if (attrs->cast_to < 0 || attrs->cast_to > 64 || !tsr_dtype_size((tsr_dtype)attrs->cast_to))
        return TSR_ERR(ctx, TSR_E_DTYPE,
                       "node '%s' (Cast): target data type %lld is not supported (float32, "
                       "float16, float64, int64, int32, int8, uint8, bool are)",
                       node, (long long)attrs->cast_to);
    *out = *in[0];
    out->dtype = (tsr_dtype)attrs->cast_to;
    return TSR_OK;
}

tsr_status tsr_shape_constant_of_shape(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    if (!in_data[0])
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (ConstantOfShape): the shape input must be a constant (or "
                       "computed from constants and known shapes)",
                       node);
    if (in[0]->rank != 1 || in[0]->dims[0] > TSR_MAX_RANK)
        return SHAPE_ERR("node '%s' (ConstantOfShape): shape input %s must be 1-D with at most %d "
                         "elements",
                         node, tsr_desc_format(in[0], s0, sizeof s0), TSR_MAX_RANK);
    if (!tsr_dtype_size((tsr_dtype)attrs->fill_dtype))
        return TSR_ERR(ctx, TSR_E_DTYPE, "node '%s' (ConstantOfShape): value of data type %d", node,
                       attrs->fill_dtype);
    *out = f32_desc((int)in[0]->dims[0]);
    out->dtype = (tsr_dtype)attrs->fill_dtype;
    int64_t elems = 1;
    for (int d = 0; d < out->rank; d++) {
        int64_t v = ((const int64_t *)in_data[0])[d];
        /* the value is materialised when folded: at most 2^40 elements */
        if (v < 0 || tsr_mul_i64(elems, v, &elems) || elems > (INT64_C(1) << 40))
            return SHAPE_ERR("node '%s' (ConstantOfShape): invalid dim %lld (negative, or more "
                             "than 2^40 elements)",
                             node, (long long)v);
        out->dims[d] = v;
    }
    return TSR_OK;
}

int tsr_range_count(tsr_dtype dtype, const void *start, const void *limit, const void *delta,
                    int64_t *n) {
    if (tsr_dtype_is_float(dtype)) {
        double s = tsr_elem_get_f64(dtype, start, 0), l = tsr_elem_get_f64(dtype, limit, 0),
               d = tsr_elem_get_f64(dtype, delta, 0);
        double c = ceil((l - s) / d);
        if (d == 0.0 || !(c == c) || c > (double)(INT64_C(1) << 40)) return -1;
        *n = c > 0 ? (int64_t)c : 0;
        return 0;
    }
    int64_t s = tsr_elem_get_i64(dtype, start, 0), l = tsr_elem_get_i64(dtype, limit, 0),
            d = tsr_elem_get_i64(dtype, delta, 0);
    if (d == 0) return -1;
    /* ceil((l - s) / d) in exact integer arithmetic (|l - s| < 2^63 for the int dtypes <= 32 bit;
     * int64 bounds that overflow are refused) */
    int64_t diff;
    if (tsr_sub_i64(l, s, &diff)) return -1;
    int64_t q = diff / d, rem = diff % d;
    if (rem != 0 && ((rem > 0) == (d > 0))) q++;
    if (q > (INT64_C(1) << 40)) return -1;
    *n = q > 0 ? q : 0;
    return 0;
}

tsr_status tsr_shape_range(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    for (int i = 0; i < 3; i++) {
        if (!in_data[i])
            return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                           "node '%s' (Range): start, limit and delta must be constants (or "
                           "computed from constants and known shapes); input %d is not",
                           node, i);
        if (tsr_desc_elements(in[i]) != 1 || in[i]->rank > 1)
            return SHAPE_ERR("node '%s' (Range): input %d is %s, expected a scalar", node, i,
                             tsr_desc_format(in[i], s0, sizeof s0));
    }
    int64_t n;
    if (tsr_range_count(in[0]->dtype, in_data[0], in_data[1], in_data[2], &n))
        return SHAPE_ERR("node '%s' (Range): delta is 0 or the range is too long", node);
    *out = f32_desc(1);
    out->dtype = in[0]->dtype;
    out->dims[0] = n;
    return TSR_OK;
}

tsr_status tsr_shape_expand(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
    if (!in_data[1])
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (Expand): the shape input must be a constant (or computed from "
                       "constants and known shapes)",
                       node);
    if (in[1]->rank != 1 || in[1]->dims[0] > TSR_MAX_RANK)
        return SHAPE_ERR("node '%s' (Expand): shape input %s must be 1-D with at most %d elements",
                         node, tsr_desc_format(in[1], s0, sizeof s0), TSR_MAX_RANK);
    struct tsr_tensor_desc want = f32_desc((int)in[1]->dims[0]);
    for (int d = 0; d < want.rank; d++) {
        want.dims[d] = ((const int64_t *)in_data[1])[d];
        if (want.dims[d] < 0)
            return SHAPE_ERR("node '%s' (Expand): negative dim %lld in the shape", node,
                             (long long)want.dims[d]);
    }
    if (tsr_broadcast_shape(in[0], &want, out))
        return SHAPE_ERR("node '%s' (Expand): input %s cannot be broadcast to shape %s", node,
                         tsr_desc_format(in[0], s0, sizeof s0),
                         tsr_desc_format(&want, s1, sizeof s1));
    out->dtype = in[0]->dtype;
    return TSR_OK;
}

int tsr_slice_geometry(const struct tsr_op_attrs *attrs, const struct tsr_tensor_desc *x,
                       int64_t *start, int64_t *step, int64_t *dims) {
    int r = x->rank;
    for (int d = 0; d < r; d++) {
        start[d] = 0;
        step[d] = 1;
        dims[d] = x->dims[d];
    }
    if (attrs->n_starts != attrs->n_ends || attrs->n_starts > r ||
        (attrs->n_slice_axes && attrs->n_slice_axes != attrs->n_starts) ||
        (attrs->n_steps && attrs->n_steps != attrs->n_starts))
        return -1;
    unsigned seen = 0;
    for (int i = 0; i < attrs->n_starts; i++) {
        int64_t a = i;
        if (attrs->n_slice_axes && norm_axis(attrs->slice_axes[i], r, &a)) return -1;
        if (seen & (1u << a)) return -1;
        seen |= 1u << a;
        int64_t d = x->dims[a], b = attrs->starts[i], e = attrs->ends[i];
        int64_t st = attrs->n_steps ? attrs->steps[i] : 1;
        if (st == 0) return -1;
        if (b < 0) b += d;
        if (e < 0) e += d;
        int64_t n;
        if (st > 0) {
            b = clamp64(b, 0, d);
            e = clamp64(e, 0, d);
            n = e > b ? (e - b - 1) / st + 1 : 0; /* no overflow for a huge step */
        } else {
            b = clamp64(b, 0, d - 1);
            e = clamp64(e, -1, d - 1);
            n = b > e ? (b - e - 1) / (st == INT64_MIN ? INT64_MAX : -st) + 1 : 0;
        }
        start[a] = n ? b : 0;
        step[a] = st;
        dims[a] = n;
    }
    return 0;
}

tsr_status tsr_shape_slice(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    int64_t start[TSR_MAX_RANK], step[TSR_MAX_RANK];
    *out = *in[0];
    if (tsr_slice_geometry(attrs, in[0], start, step, out->dims))
        return SHAPE_ERR("node '%s' (Slice): starts, ends, axes and steps (%d, %d, %d, %d values) "
                         "do not fit input %s (axes in range and distinct, steps nonzero)",
                         node, attrs->n_starts, attrs->n_ends, attrs->n_slice_axes, attrs->n_steps,
                         tsr_desc_format(in[0], s0, sizeof s0));
    return TSR_OK;
}

/* Comparisons: broadcast, bool result. */
tsr_status tsr_shape_compare(SHAPE_ARGS) {
    tsr_status st = tsr_shape_broadcast(ctx, op, attrs, in, in_data, n_in, node, out);
    if (st == TSR_OK) out->dtype = TSR_BOOL;
    return st;
}

tsr_status tsr_shape_where(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160], s2[160];
    struct tsr_tensor_desc t;
    if (tsr_broadcast_shape(in[0], in[1], &t) || tsr_broadcast_shape(&t, in[2], out))
        return SHAPE_ERR("node '%s' (Where): condition %s, X %s and Y %s cannot be broadcast "
                         "together",
                         node, tsr_desc_format(in[0], s0, sizeof s0),
                         tsr_desc_format(in[1], s1, sizeof s1),
                         tsr_desc_format(in[2], s2, sizeof s2));
    out->dtype = in[1]->dtype;
    return TSR_OK;
}

/* ---- float32 elementwise operators (group "ewops") ------------------------------------------ */

/* Min, Max, Sum, Mean: multidirectional broadcasting of every input. */
tsr_status tsr_shape_variadic(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
    *out = *in[0];
    for (int i = 1; i < n_in; i++) {
        struct tsr_tensor_desc o;
        if (tsr_broadcast_shape(out, in[i], &o))
            return SHAPE_ERR("node '%s' (%s): input %d %s cannot be broadcast with the shape %s "
                             "of the inputs before it",
                             node, tsr_op_name(op), i, tsr_desc_format(in[i], s0, sizeof s0),
                             tsr_desc_format(out, s1, sizeof s1));
        *out = o;
    }
    return TSR_OK;
}

/* PRelu: the slope broadcasts unidirectionally to X; the output is X's shape. */
tsr_status tsr_shape_prelu(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
    if (!unidirectional(in[1], in[0]))
        return SHAPE_ERR("node '%s' (PRelu): slope %s cannot be broadcast to X %s", node,
                         tsr_desc_format(in[1], s0, sizeof s0),
                         tsr_desc_format(in[0], s1, sizeof s1));
    *out = *in[0];
    return TSR_OK;
}

/* Mod: broadcasting; float inputs need fmod=1 (ONNX: fmod=0 is integer modulus, not defined for
 * floating-point types). */
tsr_status tsr_shape_mod(SHAPE_ARGS) {
    SHAPE_UNUSED();
    if (!attrs->mod_fmod && (tsr_dtype_is_float(in[0]->dtype) || tsr_dtype_is_float(in[1]->dtype)))
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (Mod): fmod=0 (integer modulus) on float inputs is invalid "
                       "(ONNX Mod: floating-point inputs need fmod=1)",
                       node);
    return tsr_shape_broadcast(ctx, op, attrs, in, in_data, n_in, node, out);
}

/* ---- issue 9, group "tkern" ------------------------------------------------------------- */

int tsr_pad_geometry(const struct tsr_op_attrs *attrs, const struct tsr_tensor_desc *x,
                     int64_t *begin, int64_t *end, int64_t *dims) {
    int r = x->rank, n_axes = attrs->n_pad_axes ? attrs->n_pad_axes : r;
    for (int d = 0; d < r; d++) {
        begin[d] = end[d] = 0;
        dims[d] = x->dims[d];
    }
    if (attrs->n_pad_pads != 2 * n_axes || n_axes > r) return -1;
    unsigned seen = 0;
    for (int i = 0; i < n_axes; i++) {
        int64_t a = i;
        if (attrs->n_pad_axes && norm_axis(attrs->pad_axes[i], r, &a)) return -1;
        if (seen & (1u << a)) return -1;
        seen |= 1u << a;
        int64_t b = attrs->pad_pads[i], e = attrs->pad_pads[n_axes + i], dim = x->dims[a];
        int64_t padded;
        if (tsr_add_i64(dim, b, &padded) || tsr_add_i64(padded, e, &padded) || padded < 0)
            return -1;
        if ((b > 0 || e > 0) && attrs->pad_mode != 0 && dim == 0) return -1;
        if (attrs->pad_mode == 1 && (b >= dim || e >= dim) && (b > 0 || e > 0)) return -1;
        begin[a] = b;
        end[a] = e;
        dims[a] = padded;
    }
    return 0;
}

tsr_status tsr_shape_pad(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    int64_t b[TSR_MAX_RANK], e[TSR_MAX_RANK];
    *out = *in[0];
    if (tsr_pad_geometry(attrs, in[0], b, e, out->dims))
        return SHAPE_ERR("node '%s' (Pad): %d pads (%d axes, mode %s) do not fit input %s (2 per "
                         "padded axis; output dims >= 0; reflect pads below the dim; no edge or "
                         "reflect padding of an empty dim)",
                         node, attrs->n_pad_pads, attrs->n_pad_axes,
                         attrs->pad_mode == 1   ? "reflect"
                         : attrs->pad_mode == 2 ? "edge"
                                                : "constant",
                         tsr_desc_format(in[0], s0, sizeof s0));
    return TSR_OK;
}

/* ---- issue 9, group "spatial": Resize / Upsample ------------------------------------------- */

tsr_status tsr_resize_geometry(tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,
                               const struct tsr_tensor_desc *const *in, const void *const *in_data,
                               int n_in, const char *node, struct tsr_resize_geometry *out) {
    char s0[160];
    const char *opn = tsr_op_name(op);
    const struct tsr_tensor_desc *x = in[0];
    const int r = x->rank;
    memset(out, 0, sizeof *out);
    if (attrs->resize_coord == 5)
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (%s): coordinate_transformation_mode tf_crop_and_resize is not "
                       "supported",
                       node, opn);
    if (r < 1)
        return SHAPE_ERR("node '%s' (%s): input %s has no dims", node, opn,
                         tsr_desc_format(x, s0, sizeof s0));
    /* Inputs after X: sizes is the integer one; of the float ones (empty ones are absent) one of
     * 2 x rank (or axes) values is the roi, the other the scales. */
    int n_ax = attrs->n_axes ? attrs->n_axes : r;
    int64_t axes[TSR_MAX_RANK];
    unsigned seen = 0;
    for (int i = 0; i < n_ax; i++) {
        int64_t a = attrs->n_axes ? attrs->axes[i] : i;
        if (a < 0) a += r;
        if (a < 0 || a >= r || (seen & (1u << a)))
            return SHAPE_ERR("node '%s' (%s): bad axes for input %s", node, opn,
                             tsr_desc_format(x, s0, sizeof s0));
        seen |= 1u << a;
        axes[i] = a;
    }
    const void *scales = NULL, *sizes = NULL;
    tsr_dtype sizes_dt = TSR_I64;
    for (int i = 1; i < n_in; i++) {
        int64_t ne = tsr_desc_elements(in[i]);
        if (!in_data[i])
            return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                           "node '%s' (%s): input %d (roi / scales / sizes) must be a constant",
                           node, opn, i);
        if (ne == 0) continue;
        if (in[i]->dtype == TSR_I64 || in[i]->dtype == TSR_I32) {
            if (ne != n_ax)
                return SHAPE_ERR("node '%s' (%s): sizes %s must hold %d values", node, opn,
                                 tsr_desc_format(in[i], s0, sizeof s0), n_ax);
            sizes = in_data[i];
            sizes_dt = in[i]->dtype;
        } else if (in[i]->dtype == TSR_F32) {
            if (ne == n_ax) /* never 2 x n_ax: the roi is the other one */
                scales = in_data[i];
            else if (ne != 2 * n_ax)
                return SHAPE_ERR("node '%s' (%s): input %d %s is neither roi (%d values) nor "
                                 "scales (%d values)",
                                 node, opn, i, tsr_desc_format(in[i], s0, sizeof s0), 2 * n_ax,
                                 n_ax);
        } else {
            return TSR_ERR(ctx, TSR_E_DTYPE,
                           "node '%s' (%s): input %d is %s; roi and scales are float32, sizes "
                           "int64",
                           node, opn, i, tsr_desc_format(in[i], s0, sizeof s0));
        }
    }
    if (!!scales == !!sizes)
        return SHAPE_ERR("node '%s' (%s): exactly one of scales and sizes must be given", node,
                         opn);
    out->out = *x;
    for (int d = 0; d < r; d++)
        out->scale[d] = 1.0;
    /* keep_aspect_ratio_policy not_larger / not_smaller (Resize-18, sizes only; issue 9, group
     * "spatial2"): one scale for every listed axis, the min / max of sizes[i] / in[i]; each
     * output dim is round(scale * in) and the coordinate transform uses that scale */
    double keep = 0.0;
    if (sizes && attrs->resize_keep_ratio != 0)
        for (int i = 0; i < n_ax; i++) {
            int64_t in_len = x->dims[axes[i]];
            double q = in_len ? (double)tsr_elem_get_i64(sizes_dt, sizes, i) / (double)in_len : 1.0;
            if (i == 0 || (attrs->resize_keep_ratio == 1 ? q < keep : q > keep)) keep = q;
        }
    for (int i = 0; i < n_ax; i++) {
        int64_t d = axes[i], in_len = x->dims[d], o;
        double sc;
        if (scales) {
            sc = ((const float *)scales)[i];
            if (!(sc > 0.0))
                return SHAPE_ERR("node '%s' (%s): scale %g of dim %lld must be > 0", node, opn, sc,
                                 (long long)d);
            double of = floor((double)in_len * sc);
            if (!(of < 9.2e18))
                return SHAPE_ERR("node '%s' (%s): scale %g of dim %lld gives a size over 2^63",
                                 node, opn, sc, (long long)d);
            o = (int64_t)of;
        } else {
            o = tsr_elem_get_i64(sizes_dt, sizes, i);
            if (o < 0)
                return SHAPE_ERR("node '%s' (%s): negative size %lld", node, opn, (long long)o);
            sc = in_len ? (double)o / (double)in_len : 1.0;
            if (keep > 0.0) {
                sc = keep;
                o = (int64_t)round(keep * (double)in_len);
            }
        }
        out->out.dims[d] = o;
        out->scale[d] = sc;
    }
    for (int d = 0; d < r - 2; d++)
        if (out->out.dims[d] != x->dims[d] || (x->dims[d] && out->scale[d] != 1.0))
            return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                           "node '%s' (%s): input %s: only the two innermost dims may be resized "
                           "(dim %d changes)",
                           node, opn, tsr_desc_format(x, s0, sizeof s0), d);
    return TSR_OK;
}

/* ONNX Resize's cubic convolution weights of the 4 taps at fraction t (0, 1]. */
static void cubic_weights(double t, double A, double w[4]) {
    double t1 = t + 1.0, u = 1.0 - t, u1 = u + 1.0;
    w[0] = ((A * t1 - 5.0 * A) * t1 + 8.0 * A) * t1 - 4.0 * A;
    w[1] = ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0;
    w[2] = ((A + 2.0) * u - (A + 3.0)) * u * u + 1.0;
    w[3] = ((A * u1 - 5.0 * A) * u1 + 8.0 * A) * u1 - 4.0 * A;
}

int tsr_resize_taps(const struct tsr_op_attrs *attrs, int64_t in_len, int64_t out_len, double scale,
                    int64_t o, int64_t idx[4], double w[4]) {
    /* Output coordinate to input coordinate (ONNX Resize coordinate_transformation_mode; the
     * "output width" of align_corners and half_pixel_symmetric is scale x in_len) */
    const double x = (double)o, out_w = scale * (double)in_len;
    double xo;
    switch (attrs->resize_coord) {
    case 1: /* pytorch_half_pixel */
        xo = out_w == 1.0 ? -0.5 : (x + 0.5) / scale - 0.5;
        break;
    case 2: /* align_corners */
        xo = out_w == 1.0 ? 0.0 : x * (double)(in_len - 1) / (out_w - 1.0);
        break;
    case 3: /* asymmetric */
        xo = x / scale;
        break;
    case 4: /* tf_half_pixel_for_nn */
        xo = (x + 0.5) / scale;
        break;
    case 6: { /* half_pixel_symmetric */
        double adj = (double)out_len / out_w, center = (double)in_len / 2.0;
        xo = center * (1.0 - adj) + (x + 0.5) / scale - 0.5;
        break;
    }
    default: /* half_pixel */
        xo = (x + 0.5) / scale - 0.5;
        break;
    }
    /* The taps are the n nearest input positions, the left one preferred (ONNX's reference):
     * base = ceil(xo) - n / 2, fraction t = xo - (ceil(xo) - 1) in (0, 1]. */
    const double c = ceil(xo), t = xo - (c - 1.0);
    int n;
    if (attrs->resize_mode == 0) { /* nearest: one tap, ceil(xo) - 1 or ceil(xo) */
        int right;
        if (t == 1.0) /* xo is an integer */
            right = 1;
        else if (attrs->resize_nearest == 0)
            right = t > 0.5;
        else if (attrs->resize_nearest == 1)
            right = t >= 0.5;
        else
            right = attrs->resize_nearest == 3;
        idx[0] = (int64_t)c - 1 + right;
        w[0] = 1.0;
        n = 1;
    } else if (attrs->resize_mode == 1) {
        idx[0] = (int64_t)c - 1;
        idx[1] = (int64_t)c;
        w[0] = 1.0 - t;
        w[1] = t;
        n = 2;
    } else {
        for (int k = 0; k < 4; k++)
            idx[k] = (int64_t)c - 2 + k;
        cubic_weights(t, attrs->cubic_coeff_a, w);
        n = 4;
    }
    if (attrs->exclude_outside && n > 1) {
        double sum = 0.0;
        for (int k = 0; k < n; k++) {
            if (idx[k] < 0 || idx[k] >= in_len) w[k] = 0.0;
            sum += w[k];
        }
        for (int k = 0; k < n && sum != 0.0; k++)
            w[k] /= sum;
    }
    for (int k = 0; k < n; k++)
        idx[k] = idx[k] < 0 ? 0 : (idx[k] >= in_len ? in_len - 1 : idx[k]);
    return n;
}

tsr_status tsr_shape_resize(SHAPE_ARGS) {
    SHAPE_UNUSED();
    struct tsr_resize_geometry rg;
    tsr_status st = tsr_resize_geometry(ctx, op, attrs, in, in_data, n_in, node, &rg);
    if (st != TSR_OK) return st;
    *out = rg.out;
    return TSR_OK;
}

/* ---- group "spatial": DepthToSpace, SpaceToDepth, Tile -------------------------------------- */

tsr_status tsr_depth_space_view(tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,
                                const struct tsr_tensor_desc *x, const char *node, int64_t vdims[6],
                                int perm[6], struct tsr_tensor_desc *out) {
    char s0[160];
    const int64_t b = attrs->blocksize;
    const char *opn = tsr_op_name(op);
    if (x->rank != 4 || b < 1)
        return SHAPE_ERR("node '%s' (%s): input %s must be [N, C, H, W] and blocksize (%lld) >= 1",
                         node, opn, tsr_desc_format(x, s0, sizeof s0), (long long)b);
    const int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t bb = 0, big = 0;
    if (tsr_mul_i64(b, b, &bb) ||
        (op == TSR_OP_DEPTHTOSPACE ? tsr_mul_i64(H, b, &big) || tsr_mul_i64(W, b, &big)
                                   : tsr_mul_i64(C, bb, &big)))
        return SHAPE_ERR("node '%s' (%s): blocksize %lld is too large for input %s", node, opn,
                         (long long)b, tsr_desc_format(x, s0, sizeof s0));
    *out = *x;
    if (op == TSR_OP_DEPTHTOSPACE) {
        if (C % (b * b))
            return SHAPE_ERR("node '%s' (DepthToSpace): channels of %s not divisible by "
                             "blocksize^2 = %lld",
                             node, tsr_desc_format(x, s0, sizeof s0), (long long)(b * b));
        const int64_t c = C / (b * b);
        if (!attrs->depth_crd) { /* DCR: [N, b, b, c, H, W] -> [N, c, H, b, W, b] */
            const int64_t v[6] = {N, b, b, c, H, W};
            const int p[6] = {0, 3, 4, 1, 5, 2};
            memcpy(vdims, v, sizeof v);
            memcpy(perm, p, sizeof p);
        } else { /* CRD: [N, c, b, b, H, W] -> [N, c, H, b, W, b] */
            const int64_t v[6] = {N, c, b, b, H, W};
            const int p[6] = {0, 1, 4, 2, 5, 3};
            memcpy(vdims, v, sizeof v);
            memcpy(perm, p, sizeof p);
        }
        out->dims[1] = c;
        out->dims[2] = H * b;
        out->dims[3] = W * b;
        return TSR_OK;
    }
    if (H % b || W % b)
        return SHAPE_ERR("node '%s' (SpaceToDepth): H and W of %s not divisible by blocksize %lld",
                         node, tsr_desc_format(x, s0, sizeof s0), (long long)b);
    /* [N, C, H/b, b, W/b, b] -> [N, b, b, C, H/b, W/b] */
    const int64_t v[6] = {N, C, H / b, b, W / b, b};
    const int p[6] = {0, 3, 5, 1, 2, 4};
    memcpy(vdims, v, sizeof v);
    memcpy(perm, p, sizeof p);
    out->dims[1] = C * b * b;
    out->dims[2] = H / b;
    out->dims[3] = W / b;
    return TSR_OK;
}

tsr_status tsr_shape_depth_space(SHAPE_ARGS) {
    SHAPE_UNUSED();
    int64_t v[6];
    int p[6];
    return tsr_depth_space_view(ctx, op, attrs, in[0], node, v, p, out);
}

/* Tile: out dim d = in dim d x repeats[d] (repeats: rank non-negative int64). */
tsr_status tsr_shape_tile(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
    if (!in_data[1])
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED, "node '%s' (Tile): repeats must be a constant",
                       node);
    if (in[1]->rank != 1 || in[1]->dims[0] != in[0]->rank)
        return SHAPE_ERR("node '%s' (Tile): repeats %s must hold one value per dim of %s", node,
                         tsr_desc_format(in[1], s0, sizeof s0),
                         tsr_desc_format(in[0], s1, sizeof s1));
    *out = *in[0];
    const int64_t *rep = in_data[1];
    for (int d = 0; d < in[0]->rank; d++) {
        if (rep[d] < 0)
            return SHAPE_ERR("node '%s' (Tile): negative repeat %lld", node, (long long)rep[d]);
        if (tsr_mul_i64(out->dims[d], rep[d], &out->dims[d]))
            return SHAPE_ERR("node '%s' (Tile): %s tiled %lld times along dim %d overflows", node,
                             tsr_desc_format(in[0], s0, sizeof s0), (long long)rep[d], d);
    }
    return TSR_OK;
}

/* ---- issue 9, group "reduce" ------------------------------------------------------------ */

/* ArgMax / ArgMin: int64, the axis (default 0) removed or kept as 1; the axis must not be
 * empty. */
tsr_status tsr_shape_arg(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    int r = in[0]->rank;
    int64_t axis = attrs->axis == TSR_AXIS_DEFAULT ? 0 : attrs->axis;
    if (r == 0 || axis < -r || axis >= r)
        return SHAPE_ERR("node '%s' (%s): axis %lld out of range for input %s", node,
                         tsr_op_name(op), (long long)axis, tsr_desc_format(in[0], s0, sizeof s0));
    if (axis < 0) axis += r;
    if (in[0]->dims[axis] == 0)
        return SHAPE_ERR("node '%s' (%s): axis %lld of input %s is empty (no index to return)",
                         node, tsr_op_name(op), (long long)axis,
                         tsr_desc_format(in[0], s0, sizeof s0));
    *out = f32_desc(0);
    out->dtype = TSR_I64;
    for (int d = 0; d < r; d++) {
        if (d != axis)
            out->dims[out->rank++] = in[0]->dims[d];
        else if (attrs->keepdims)
            out->dims[out->rank++] = 1;
    }
    return TSR_OK;
}

/* Dropout at inference: the input's shape. training_mode true is the identity too when ratio is
 * 0 (ONNX Dropout-13: scale 1 / (1 - ratio), no element dropped; torchvision's Swin exports its
 * attention dropout so); with another ratio it is random and refused (TSR_E_UNSUPPORTED). */
tsr_status tsr_shape_dropout(SHAPE_ARGS) {
    SHAPE_UNUSED();
    if (attrs->n_dropout_training > 0 && attrs->dropout_training[0] != 0 &&
        attrs->dropout_ratio != 0.0f)
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (Dropout): training_mode is true with ratio %g; tessera runs "
                       "inference only (random dropout is not supported)",
                       node, (double)attrs->dropout_ratio);
    *out = *in[0];
    return TSR_OK;
}

/* InstanceNormalization: X [N, C, spatial...] (rank >= 2), scale and bias [C]; Y like X. */
tsr_status tsr_shape_instancenorm(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160], s2[160];
    const struct tsr_tensor_desc *x = in[0];
    if (x->rank < 2 || in[1]->rank != 1 || in[2]->rank != 1 || in[1]->dims[0] != x->dims[1] ||
        in[2]->dims[0] != x->dims[1])
        return SHAPE_ERR("node '%s' (InstanceNormalization): input %s needs rank >= 2 and scale "
                         "and bias of [C]; got scale %s, bias %s",
                         node, tsr_desc_format(x, s0, sizeof s0),
                         tsr_desc_format(in[1], s1, sizeof s1),
                         tsr_desc_format(in[2], s2, sizeof s2));
    *out = *x;
    return TSR_OK;
}

/* CumSum: Y like X; the axis (one value) must be in range. */
tsr_status tsr_shape_cumsum(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    const int r = in[0]->rank;
    const int64_t a = attrs->n_cumsum_axis == 1 ? attrs->cumsum_axis[0] : INT64_MIN;
    if (r == 0 || a < -r || a >= r)
        return SHAPE_ERR("node '%s' (CumSum): axis input missing or out of range (%s) for input %s",
                         node, attrs->n_cumsum_axis == 1 ? "given" : "none",
                         tsr_desc_format(in[0], s0, sizeof s0));
    *out = *in[0];
    return TSR_OK;
}

/* GroupNormalization: X [N, C, spatial...] (rank >= 2), num_groups G > 0 dividing C, scale and
 * bias [C] (opset 21) or [G] (opset 18); Y like X. */
tsr_status tsr_shape_groupnorm(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160], s2[160];
    const struct tsr_tensor_desc *x = in[0];
    const int64_t G = attrs->num_groups;
    const int64_t C = x->rank >= 2 ? x->dims[1] : 0;
    if (x->rank < 2 || G <= 0 || C % G || in[1]->rank != 1 || in[2]->rank != 1 ||
        in[1]->dims[0] != in[2]->dims[0] || (in[1]->dims[0] != C && in[1]->dims[0] != G))
        return SHAPE_ERR("node '%s' (GroupNormalization): input %s with num_groups %lld needs "
                         "rank >= 2, num_groups dividing C and scale and bias of [C] or "
                         "[num_groups]; got scale %s, bias %s",
                         node, tsr_desc_format(x, s0, sizeof s0), (long long)G,
                         tsr_desc_format(in[1], s1, sizeof s1),
                         tsr_desc_format(in[2], s2, sizeof s2));
    *out = *x;
    return TSR_OK;
}

/* ---- preproc: tessera-domain preprocessing ops ("ai.tessera", docs/PREPROC.md) ------------- */

/* Axis of a scan / ZScore node (attrs->axis, default -1) normalised to 0 .. rank-1; -1 when out
 * of range or the input is 0-D. */
static int64_t preproc_axis(const struct tsr_op_attrs *attrs, int rank) {
    int64_t a = attrs->axis == TSR_AXIS_DEFAULT ? -1 : attrs->axis;
    if (rank == 0 || a < -rank || a >= rank) return -1;
    return a < 0 ? a + rank : a;
}

/* RollingMean / RollingStd / EMA: X of rank >= 1, Y like X. window >= 1, 0 <= min_periods <=
 * window, ddof >= 0; EMA 0 < alpha <= 1. */
tsr_status tsr_shape_scan(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    if (preproc_axis(attrs, in[0]->rank) < 0)
        return SHAPE_ERR("node '%s' (%s): axis %lld out of range for input %s", node,
                         tsr_op_name(op), (long long)attrs->axis,
                         tsr_desc_format(in[0], s0, sizeof s0));
    if (op == TSR_OP_EMA) {
        if (!(attrs->ema_alpha > 0.0f && attrs->ema_alpha <= 1.0f))
            return SHAPE_ERR("node '%s' (EMA): alpha %g must be in (0, 1] (input %s)", node,
                             (double)attrs->ema_alpha, tsr_desc_format(in[0], s0, sizeof s0));
    } else if (attrs->scan_window < 1 || attrs->scan_min_periods < 0 ||
               attrs->scan_min_periods > attrs->scan_window || attrs->scan_ddof < 0) {
        return SHAPE_ERR("node '%s' (%s): window %lld must be >= 1, min_periods %lld in 0 .. "
                         "window, ddof %lld >= 0 (input %s)",
                         node, tsr_op_name(op), (long long)attrs->scan_window,
                         (long long)attrs->scan_min_periods, (long long)attrs->scan_ddof,
                         tsr_desc_format(in[0], s0, sizeof s0));
    }
    *out = *in[0];
    return TSR_OK;
}

/* ZScore: X of rank >= 1, Y like X; epsilon >= 0. */
tsr_status tsr_shape_zscore(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    if (preproc_axis(attrs, in[0]->rank) < 0 || !(attrs->zscore_epsilon >= 0.0f))
        return SHAPE_ERR("node '%s' (ZScore): axis %lld out of range or epsilon %g < 0 for "
                         "input %s",
                         node, (long long)attrs->axis, (double)attrs->zscore_epsilon,
                         tsr_desc_format(in[0], s0, sizeof s0));
    *out = *in[0];
    return TSR_OK;
}

/* RGBToGray: X with 3 channels along axis (default 1: NCHW; -1: channels last) -> Y with 1. */
tsr_status tsr_shape_rgb_to_gray(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    const int r = in[0]->rank;
    int64_t a = attrs->axis == TSR_AXIS_DEFAULT ? 1 : attrs->axis;
    if (a >= -r && a < 0) a += r;
    if (a < 0 || a >= r || in[0]->dims[a] != 3)
        return SHAPE_ERR("node '%s' (RGBToGray): input %s must have 3 channels (R, G, B) along "
                         "axis %lld",
                         node, tsr_desc_format(in[0], s0, sizeof s0),
                         (long long)(attrs->axis == TSR_AXIS_DEFAULT ? 1 : attrs->axis));
    *out = *in[0];
    out->dims[a] = 1;
    return TSR_OK;
}

/* ---- multiout: TopK ------------------------------------------------------------------------ */

/* TopK (ONNX TopK-11): X's dims with the axis (default -1) of size k, 0 <= k <= that dim; the
 * values output (X's dtype) or, with topk_indices, the int64 indices output. */
tsr_status tsr_shape_topk(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    const int r = in[0]->rank;
    int64_t axis = attrs->axis == TSR_AXIS_DEFAULT ? -1 : attrs->axis;
    const int64_t k = attrs->n_topk_k == 1 ? attrs->topk_k[0] : -1;
    if (r == 0 || axis < -r || axis >= r)
        return SHAPE_ERR("node '%s' (TopK): axis %lld out of range for input %s", node,
                         (long long)axis, tsr_desc_format(in[0], s0, sizeof s0));
    if (axis < 0) axis += r;
    if (k < 0 || k > in[0]->dims[axis])
        return SHAPE_ERR("node '%s' (TopK): k %lld (%s) out of [0, %lld] for input %s along axis "
                         "%lld",
                         node, (long long)k, attrs->n_topk_k == 1 ? "given" : "missing",
                         (long long)in[0]->dims[axis], tsr_desc_format(in[0], s0, sizeof s0),
                         (long long)axis);
    *out = *in[0];
    out->dims[axis] = k;
    if (attrs->topk_indices) out->dtype = TSR_I64;
    return TSR_OK;
}

/* ---- multiout: NegativeLogLikelihoodLoss ------------------------------------------------- */

/* NegativeLogLikelihoodLoss-13: input [N, C, d1..dk] (rank >= 2), target [N, d1..dk], weight
 * [C] (optional); output [N, d1..dk] float32 for reduction none, else a scalar. */
tsr_status tsr_shape_nll(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160], s2[160] = "none";
    const struct tsr_tensor_desc *x = in[0], *t = in[1];
    int ok = x->rank >= 2 && t->rank == x->rank - 1 && t->dims[0] == x->dims[0];
    for (int a = 2; ok && a < x->rank; a++)
        ok = t->dims[a - 1] == x->dims[a];
    if (ok && n_in == 3) ok = in[2]->rank == 1 && in[2]->dims[0] == x->dims[1];
    if (n_in == 3) tsr_desc_format(in[2], s2, sizeof s2);
    if (!ok)
        return SHAPE_ERR("node '%s' (NegativeLogLikelihoodLoss): input [N, C, d..] %s, target "
                         "[N, d..] %s and weight [C] %s do not agree",
                         node, tsr_desc_format(x, s0, sizeof s0), tsr_desc_format(t, s1, sizeof s1),
                         s2);
    *out = f32_desc(0);
    if (attrs->nll_reduction == 0) {
        *out = *t;
        out->dtype = TSR_F32;
    }
    return TSR_OK;
}

/* ---- issue 9, group "spatial2": ConvTranspose --------------------------------------------- */

tsr_status tsr_convtranspose_geometry(tsr_context *ctx, const struct tsr_op_attrs *attrs,
                                      const struct tsr_tensor_desc *x,
                                      const struct tsr_tensor_desc *w, const char *node,
                                      struct tsr_convt_geometry *g) {
    char s0[160], s1[160];
    *g = (struct tsr_convt_geometry){{0}, {0}, {0}, {0}, {0}, 0};
    if (x->rank != 3 && x->rank != 4 && x->rank != 5)
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (ConvTranspose): input %s: only 1-D, 2-D and 3-D transposed "
                       "convolutions ([N, C, W], [N, C, H, W], [N, C, D, H, W]) are supported",
                       node, tsr_desc_format(x, s0, sizeof s0));
    const int three_d = x->rank == 5;
    if (attrs->win3d_given && !three_d)
        return SHAPE_ERR("node '%s' (ConvTranspose): 3-D window attributes for input %s", node,
                         tsr_desc_format(x, s0, sizeof s0));
    int64_t C = x->dims[1], grp = attrs->group;
    if (w->rank != x->rank || w->dims[0] != C || grp < 1 || C % grp != 0)
        return SHAPE_ERR("node '%s' (ConvTranspose): weights %s must be [C, M/group, k...] for "
                         "input %s (group %lld dividing C)",
                         node, tsr_desc_format(w, s0, sizeof s0), tsr_desc_format(x, s1, sizeof s1),
                         (long long)grp);
    int one_d = x->rank == 3;
    if (tsr_mul_i64(w->dims[1], grp, &g->m))
        return SHAPE_ERR("node '%s' (ConvTranspose): weights %s with group %lld: too many output "
                         "channels",
                         node, tsr_desc_format(w, s0, sizeof s0), (long long)grp);
    for (int d = 0; d < 2 + three_d; d++) {
        /* index 2: the depth of a 3-D input (group "conv3d"), attributes in win_d / convt_d */
        const int xi = three_d ? (d == 2 ? 2 : 3 + d) : 2 + d - one_d;
        int64_t in = one_d && d == 0 ? 1 : x->dims[xi];
        int64_t k = one_d && d == 0 ? 1 : w->dims[xi];
        int64_t s = d < 2 ? attrs->strides[d] : attrs->win_d[1] ? attrs->win_d[1] : 1;
        int64_t dl = d < 2 ? attrs->dilations[d] : attrs->win_d[2] ? attrs->win_d[2] : 1;
        int64_t op = d < 2 ? attrs->output_padding[d] : attrs->convt_d[0];
        int64_t ks = d < 2 ? attrs->kernel_shape[d] : attrs->win_d[0];
        if (ks != 0 && ks != k)
            return SHAPE_ERR("node '%s' (ConvTranspose): kernel_shape does not match weights %s",
                             node, tsr_desc_format(w, s0, sizeof s0));
        if (s < 1 || dl < 1 || op < 0)
            return SHAPE_ERR("node '%s' (ConvTranspose): strides and dilations must be >= 1, "
                             "output_padding >= 0",
                             node);
        int64_t ek, full, pb, pe;
        if (tsr_mul_i64(k - 1, dl, &ek) || tsr_add_i64(ek, 1, &ek) ||
            tsr_mul_i64(s, in - 1, &full) || tsr_add_i64(full, op, &full) ||
            tsr_add_i64(full, ek, &full))
            return SHAPE_ERR("node '%s' (ConvTranspose): input %s, weights %s, strides, dilations "
                             "and output_padding give an output size over 2^63",
                             node, tsr_desc_format(x, s0, sizeof s0),
                             tsr_desc_format(w, s1, sizeof s1));
        int64_t os = d < 2 ? attrs->output_shape[d] : attrs->convt_d[1];
        int64_t want = os > 0 ? os : 0;
        if (!want && (attrs->auto_pad == TSR_AUTO_PAD_SAME_UPPER ||
                      attrs->auto_pad == TSR_AUTO_PAD_SAME_LOWER))
            if (tsr_mul_i64(in, s, &want))
                return SHAPE_ERR("node '%s' (ConvTranspose): input %s with stride %lld: output "
                                 "size over 2^63",
                                 node, tsr_desc_format(x, s0, sizeof s0), (long long)s);
        if (want) {
            /* ONNX ConvTranspose: total_padding = stride * (in - 1) + output_padding +
             * ((k - 1) * dilation + 1) - output_shape, split as auto_pad says */
            int64_t total;
            if (tsr_sub_i64(full, want, &total) || total < -(INT64_MAX / 2))
                return SHAPE_ERR("node '%s' (ConvTranspose): output_shape %lld is out of range",
                                 node, (long long)want);
            /* halves round down (the ONNX reference's floor division: a negative total, an
             * output_shape larger than the natural size, adds the zero row at the end) */
            int64_t half = total >= 0 ? total / 2 : -((1 - total) / 2);
            if (attrs->auto_pad == TSR_AUTO_PAD_SAME_UPPER) {
                pb = half;
                pe = total - half;
            } else {
                pe = half;
                pb = total - half;
            }
        } else if (attrs->auto_pad == TSR_AUTO_PAD_VALID) {
            pb = pe = 0;
        } else {
            pb = d < 2 ? attrs->pads[d] : attrs->win_d[3];
            pe = d < 2 ? attrs->pads[d + 2] : attrs->win_d[4];
        }
        g->k[d] = k;
        g->in[d] = in;
        g->pb[d] = pb;
        g->pe[d] = pe;
        if (tsr_sub_i64(full, pb, &g->out[d]) || tsr_sub_i64(g->out[d], pe, &g->out[d]) ||
            g->out[d] < 1)
            return SHAPE_ERR("node '%s' (ConvTranspose): input %s and weights %s give an empty "
                             "output",
                             node, tsr_desc_format(x, s0, sizeof s0),
                             tsr_desc_format(w, s1, sizeof s1));
    }
    return TSR_OK;
}

tsr_status tsr_shape_convtranspose(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    struct tsr_convt_geometry cg;
    tsr_status st = tsr_convtranspose_geometry(ctx, attrs, in[0], in[1], node, &cg);
    if (st != TSR_OK) return st;
    if (n_in == 3 && (in[2]->rank != 1 || in[2]->dims[0] != cg.m))
        return SHAPE_ERR("node '%s' (ConvTranspose): bias %s must be [%lld] (one per output "
                         "channel)",
                         node, tsr_desc_format(in[2], s0, sizeof s0), (long long)cg.m);
    *out = f32_desc(in[0]->rank);
    out->dims[0] = in[0]->dims[0];
    out->dims[1] = cg.m;
    if (in[0]->rank == 3) {
        out->dims[2] = cg.out[1];
        return TSR_OK;
    }
    if (in[0]->rank == 5) { /* group "conv3d" */
        out->dims[2] = cg.out[2];
        out->dims[3] = cg.out[0];
        out->dims[4] = cg.out[1];
        return TSR_OK;
    }
    out->dims[2] = cg.out[0];
    out->dims[3] = cg.out[1];
    return TSR_OK;
}
void tsr_mvn_axes(const struct tsr_op_attrs *attrs, struct tsr_op_attrs *out) {
    *out = *attrs;
    if (attrs->n_axes) return;
    out->n_axes = 3;
    out->axes[0] = 0;
    out->axes[1] = 2;
    out->axes[2] = 3;
}

tsr_status tsr_shape_mvn(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    struct tsr_op_attrs a;
    unsigned mask;
    tsr_mvn_axes(attrs, &a);
    a.noop_with_empty_axes = 0;
    if (tsr_reduce_mask(&a, in[0]->rank, &mask))
        return SHAPE_ERR("node '%s' (MeanVarianceNormalization): axes (%d values) do not fit input "
                         "%s",
                         node, a.n_axes, tsr_desc_format(in[0], s0, sizeof s0));
    *out = *in[0];
    return TSR_OK;
}
tsr_status tsr_shape_lrn(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    if (in[0]->rank != 3 && in[0]->rank != 4)
        return TSR_ERR(ctx, in[0]->rank > 4 ? TSR_E_UNSUPPORTED : TSR_E_SHAPE,
                       "node '%s' (LRN): input %s: only [N, C, W] and [N, C, H, W] are supported",
                       node, tsr_desc_format(in[0], s0, sizeof s0));
    if (attrs->lrn_size < 1)
        return SHAPE_ERR("node '%s' (LRN): size must be >= 1 (got %lld)", node,
                         (long long)attrs->lrn_size);
    *out = *in[0];
    return TSR_OK;
}

static int einsum_index(char c) {
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
    return -1;
}

tsr_status tsr_einsum_parse(tsr_context *ctx, const struct tsr_op_attrs *attrs,
                            const struct tsr_tensor_desc *const *in, int n_in, const char *node,
                            struct tsr_einsum *e) {
    const char *eq = attrs->einsum_equation;
    memset(e, 0, sizeof *e);
    if (n_in < 1 || n_in > 2)
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (Einsum): equation '%s': only 1 or 2 inputs are supported", node,
                       eq);
    e->n_in = n_in;
    int t = 0, d = 0, explicit_out = 0, count[52] = {0};
    for (const char *c = eq; *c; c++) {
        if (*c == ' ') continue;
        if (*c == '.')
            return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                           "node '%s' (Einsum): equation '%s': ellipsis ('...') is not supported",
                           node, eq);
        if (*c == ',' && !explicit_out) {
            if (++t >= n_in)
                return SHAPE_ERR("node '%s' (Einsum): equation '%s' has more terms than the %d "
                                 "inputs",
                                 node, eq, n_in);
            d = 0;
            continue;
        }
        if (*c == '-' && c[1] == '>' && !explicit_out) {
            if (t != n_in - 1)
                return SHAPE_ERR("node '%s' (Einsum): equation '%s' has fewer terms than the %d "
                                 "inputs",
                                 node, eq, n_in);
            explicit_out = 1;
            c++;
            continue;
        }
        int k = einsum_index(*c);
        if (k < 0)
            return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                           "node '%s' (Einsum): equation '%s': unexpected character '%c'", node, eq,
                           *c);
        if (explicit_out) {
            for (int j = 0; j < e->out_rank; j++)
                if (e->out[j] == k)
                    return SHAPE_ERR("node '%s' (Einsum): equation '%s' repeats an output index",
                                     node, eq);
            if (!count[k])
                return SHAPE_ERR("node '%s' (Einsum): equation '%s': output index '%c' is in no "
                                 "input",
                                 node, eq, *c);
            if (e->out_rank >= TSR_MAX_RANK)
                return SHAPE_ERR("node '%s' (Einsum): equation '%s': output rank too large", node,
                                 eq);
            e->out[e->out_rank++] = k;
            continue;
        }
        if (d >= in[t]->rank)
            return SHAPE_ERR("node '%s' (Einsum): equation '%s': term %d has more indices than "
                             "input %d's rank %d",
                             node, eq, t, t, in[t]->rank);
        for (int j = 0; j < d; j++)
            if (e->in[t][j] == k)
                return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                               "node '%s' (Einsum): equation '%s': a repeated index within one "
                               "term (a diagonal) is not supported",
                               node, eq);
        if (count[k] && e->size[k] != in[t]->dims[d])
            return SHAPE_ERR("node '%s' (Einsum): equation '%s': index '%c' has sizes %lld and "
                             "%lld",
                             node, eq, *c, (long long)e->size[k], (long long)in[t]->dims[d]);
        e->size[k] = in[t]->dims[d];
        count[k]++;
        e->in[t][d++] = k;
        e->rank[t] = d;
    }
    if (t != n_in - 1)
        return SHAPE_ERR("node '%s' (Einsum): equation '%s' has fewer terms than the %d inputs",
                         node, eq, n_in);
    for (int k = 0; k < n_in; k++)
        if (e->rank[k] != in[k]->rank)
            return SHAPE_ERR("node '%s' (Einsum): equation '%s': term %d has %d indices for input "
                             "%d of rank %d",
                             node, eq, k, e->rank[k], k, in[k]->rank);
    if (!explicit_out)
        for (int k = 0; k < 52; k++)
            if (count[k] == 1) e->out[e->out_rank++] = k;
    return TSR_OK;
}

tsr_status tsr_shape_einsum(SHAPE_ARGS) {
    SHAPE_UNUSED();
    struct tsr_einsum e;
    tsr_status st = tsr_einsum_parse(ctx, attrs, in, n_in, node, &e);
    if (st != TSR_OK) return st;
    *out = f32_desc(e.out_rank);
    for (int d = 0; d < e.out_rank; d++)
        out->dims[d] = e.size[e.out[d]];
    return TSR_OK;
}

/* ---- end of group "spatial2" ---------------------------------------------------------------- */

/* ---- group "dtcompute" ------------------------------------------------------------------ */

/* IsNaN / IsInf: the input's shape, bool (ONNX). */
tsr_status tsr_shape_isclass(SHAPE_ARGS) {
    SHAPE_UNUSED();
    *out = *in[0];
    out->dtype = TSR_BOOL;
    return TSR_OK;
}

/* ---- issue 9, group "index": indexing operators ------------------------------------------- */

/* CastLike (ONNX CastLike): input 0's shape in the dtype of input 1 (target_type). */
tsr_status tsr_shape_castlike(SHAPE_ARGS) {
    SHAPE_UNUSED();
    *out = *in[0];
    out->dtype = in[1]->dtype;
    return TSR_OK;
}

/* Trilu (ONNX Trilu): X [..., N, M] (rank >= 2) → Y like X; k (if given) is one value. */
tsr_status tsr_shape_trilu(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    if (in[0]->rank < 2)
        return SHAPE_ERR("node '%s' (Trilu): input %s needs rank >= 2", node,
                         tsr_desc_format(in[0], s0, sizeof s0));
    *out = *in[0];
    return TSR_OK;
}

/* EyeLike (ONNX EyeLike): input [N, M] → Y [N, M] of dtype attrs->eye_dtype (-1: the input's). */
tsr_status tsr_shape_eyelike(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    if (in[0]->rank != 2)
        return SHAPE_ERR("node '%s' (EyeLike): input %s must be 2-D", node,
                         tsr_desc_format(in[0], s0, sizeof s0));
    tsr_dtype dt = attrs->eye_dtype < 0 ? in[0]->dtype : (tsr_dtype)attrs->eye_dtype;
    if (attrs->eye_dtype > 64 || !tsr_dtype_size(dt))
        return TSR_ERR(ctx, TSR_E_DTYPE, "node '%s' (EyeLike): data type %lld is not supported",
                       node, (long long)attrs->eye_dtype);
    *out = *in[0];
    out->dtype = dt;
    return TSR_OK;
}

/* Do a and b have the same rank and dims? */
static int same_dims(const struct tsr_tensor_desc *a, const struct tsr_tensor_desc *b) {
    if (a->rank != b->rank) return 0;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d]) return 0;
    return 1;
}

/* Reductions the index kernels compute: float32 / float64 / int32 / int64 (none: any dtype). */
static int scatter_dtype_ok(int reduction, tsr_dtype dt) {
    return reduction == 0 || dt == TSR_F32 || dt == TSR_F64 || dt == TSR_I32 || dt == TSR_I64;
}

/* GatherElements (ONNX GatherElements): X and indices of one rank r >= 1, indices no larger than
 * X along the other axes; Y has the indices' shape, X's dtype. */
tsr_status tsr_shape_gather_elements(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
    const struct tsr_tensor_desc *x = in[0], *ix = in[1];
    int64_t axis;
    int ok = x->rank >= 1 && ix->rank == x->rank &&
             !norm_axis(attrs->axis == TSR_AXIS_DEFAULT ? 0 : attrs->axis, x->rank, &axis);
    for (int d = 0; ok && d < x->rank; d++)
        if (d != axis && ix->dims[d] > x->dims[d]) ok = 0;
    if (!ok)
        return SHAPE_ERR("node '%s' (%s): data %s and indices %s need one rank, axis %lld in "
                         "range, indices no larger than data along the other axes",
                         node, tsr_op_name(op), tsr_desc_format(x, s0, sizeof s0),
                         tsr_desc_format(ix, s1, sizeof s1), (long long)attrs->axis);
    *out = *ix;
    out->dtype = x->dtype;
    return TSR_OK;
}

/* ScatterElements / Scatter (ONNX): data, indices as GatherElements, updates of the indices'
 * shape and the data's dtype; Y like data. */
tsr_status tsr_shape_scatter_elements(SHAPE_ARGS) {
    char s0[160], s1[160];
    tsr_status st = tsr_shape_gather_elements(ctx, op, attrs, in, in_data, n_in, node, out);
    if (st != TSR_OK) return st;
    if (in[2]->dtype != in[0]->dtype || !same_dims(in[2], in[1]))
        return SHAPE_ERR("node '%s' (%s): updates %s must have the indices' shape %s and the "
                         "data's dtype",
                         node, tsr_op_name(op), tsr_desc_format(in[2], s0, sizeof s0),
                         tsr_desc_format(in[1], s1, sizeof s1));
    if (!scatter_dtype_ok(attrs->scatter_reduction, in[0]->dtype))
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (%s): reduction on %s data (float32, float64, int32, int64 are "
                       "supported)",
                       node, tsr_op_name(op), tsr_dtype_name(in[0]->dtype));
    *out = *in[0];
    return TSR_OK;
}

/* GatherND (ONNX GatherND): X rank r, indices rank q >= 1 with last dim m, batch_dims b < min(q,
 * r), b + m <= r, the first b dims equal; Y [indices dims[0..q-2], X dims[b+m..r-1]]. */
tsr_status tsr_shape_gather_nd(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
    const struct tsr_tensor_desc *x = in[0], *ix = in[1];
    const int64_t b = attrs->batch_dims, r = x->rank, q = ix->rank;
    int64_t m = q >= 1 ? ix->dims[q - 1] : 0;
    int ok = q >= 1 && r >= 1 && b >= 0 && b < q && b < r && m >= 1 && b + m <= r &&
             q - 1 + r - b - m <= TSR_MAX_RANK;
    for (int d = 0; ok && d < b; d++)
        if (ix->dims[d] != x->dims[d]) ok = 0;
    if (!ok)
        return SHAPE_ERR("node '%s' (GatherND): data %s, indices %s, batch_dims %lld do not fit",
                         node, tsr_desc_format(x, s0, sizeof s0),
                         tsr_desc_format(ix, s1, sizeof s1), (long long)b);
    *out = f32_desc(0);
    out->dtype = x->dtype;
    for (int d = 0; d < q - 1; d++)
        out->dims[out->rank++] = ix->dims[d];
    for (int d = (int)(b + m); d < r; d++)
        out->dims[out->rank++] = x->dims[d];
    return TSR_OK;
}

/* ScatterND (ONNX ScatterND): data rank r, indices rank q >= 1 with last dim m <= r, updates
 * [indices dims[0..q-2], data dims[m..r-1]] of the data's dtype; Y like data. */
tsr_status tsr_shape_scatter_nd(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160], s2[160];
    const struct tsr_tensor_desc *x = in[0], *ix = in[1], *u = in[2];
    const int64_t r = x->rank, q = ix->rank;
    int64_t m = q >= 1 ? ix->dims[q - 1] : 0;
    int ok =
        q >= 1 && r >= 1 && m >= 1 && m <= r && u->rank == q - 1 + r - m && u->dtype == x->dtype;
    for (int d = 0; ok && d < q - 1; d++)
        if (u->dims[d] != ix->dims[d]) ok = 0;
    for (int d = (int)m; ok && d < r; d++)
        if (u->dims[q - 1 + d - m] != x->dims[d]) ok = 0;
    if (!ok)
        return SHAPE_ERR("node '%s' (ScatterND): data %s, indices %s, updates %s do not fit", node,
                         tsr_desc_format(x, s0, sizeof s0), tsr_desc_format(ix, s1, sizeof s1),
                         tsr_desc_format(u, s2, sizeof s2));
    if (!scatter_dtype_ok(attrs->scatter_reduction, x->dtype))
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (ScatterND): reduction on %s data (float32, float64, int32, "
                       "int64 are supported)",
                       node, tsr_dtype_name(x->dtype));
    *out = *x;
    return TSR_OK;
}

int tsr_center_crop_pad_geometry(const struct tsr_op_attrs *attrs, const struct tsr_tensor_desc *x,
                                 int64_t *begin, int64_t *dims) {
    const int r = x->rank, n_axes = attrs->n_axes ? attrs->n_axes : r;
    if (attrs->n_ccp_shape != n_axes || r < 1) return -1;
    unsigned seen = 0;
    for (int d = 0; d < r; d++) {
        begin[d] = 0;
        dims[d] = x->dims[d];
    }
    for (int i = 0; i < n_axes; i++) {
        int64_t a = i;
        if (attrs->n_axes && norm_axis(attrs->axes[i], r, &a)) return -1;
        if ((seen & (1u << a)) || attrs->ccp_shape[i] < 0) return -1;
        seen |= 1u << a;
        const int64_t in = x->dims[a], want = attrs->ccp_shape[i];
        /* ONNX: crop from (in - want) / 2, pad (want - in) / 2 before (floors) */
        begin[a] = want < in ? -((in - want) / 2) : (want - in) / 2;
        dims[a] = want;
    }
    return 0;
}

/* CenterCropPad (ONNX CenterCropPad): X with each listed axis cropped or zero-padded about its
 * centre to the constant target size. */
tsr_status tsr_shape_center_crop_pad(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160];
    int64_t begin[TSR_MAX_RANK], dims[TSR_MAX_RANK];
    if (tsr_center_crop_pad_geometry(attrs, in[0], begin, dims))
        return SHAPE_ERR("node '%s' (CenterCropPad): shape (%d values; a constant input) does not "
                         "fit input %s and %d axes",
                         node, attrs->n_ccp_shape, tsr_desc_format(in[0], s0, sizeof s0),
                         attrs->n_axes);
    *out = *in[0];
    for (int d = 0; d < out->rank; d++)
        out->dims[d] = dims[d];
    return TSR_OK;
}

/* ReverseSequence (ONNX ReverseSequence): X rank >= 2 with batch_axis and time_axis 0 and 1
 * (either way), sequence_lens [batch]; Y like X. */
tsr_status tsr_shape_reverse_sequence(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
    const int64_t ba = attrs->rs_batch_axis, ta = attrs->rs_time_axis;
    if (in[0]->rank < 2 || !((ba == 0 && ta == 1) || (ba == 1 && ta == 0)) || in[1]->rank != 1 ||
        in[1]->dims[0] != in[0]->dims[ba])
        return SHAPE_ERR("node '%s' (ReverseSequence): input %s, sequence_lens %s, batch_axis "
                         "%lld, time_axis %lld do not fit",
                         node, tsr_desc_format(in[0], s0, sizeof s0),
                         tsr_desc_format(in[1], s1, sizeof s1), (long long)ba, (long long)ta);
    *out = *in[0];
    return TSR_OK;
}

/* Compress (ONNX Compress): condition (bool, 1-D, a constant) selects slices of X along axis
 * (absent: of X flattened); entries past the axis must be false. Y: X with that dim (or the 1-D
 * flattening) reduced to the number of true entries. */
tsr_status tsr_shape_compress(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
    const struct tsr_tensor_desc *x = in[0], *c = in[1];
    if (!in_data[1])
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (Compress): the condition input must be a constant", node);
    int64_t axis = -1, len = tsr_desc_elements(x), kept = 0;
    if (attrs->axis != TSR_AXIS_DEFAULT) {
        if (norm_axis(attrs->axis, x->rank, &axis))
            return SHAPE_ERR("node '%s' (Compress): axis %lld out of range for %s", node,
                             (long long)attrs->axis, tsr_desc_format(x, s0, sizeof s0));
        len = x->dims[axis];
    }
    if (c->rank != 1)
        return SHAPE_ERR("node '%s' (Compress): condition %s must be 1-D", node,
                         tsr_desc_format(c, s1, sizeof s1));
    for (int64_t i = 0; i < c->dims[0]; i++) {
        if (!((const uint8_t *)in_data[1])[i]) continue;
        if (i >= len)
            return SHAPE_ERR("node '%s' (Compress): condition %s selects past the %lld entries "
                             "of input %s",
                             node, tsr_desc_format(c, s1, sizeof s1), (long long)len,
                             tsr_desc_format(x, s0, sizeof s0));
        kept++;
    }
    *out = *x;
    if (axis < 0) {
        out->rank = 1;
        out->dims[0] = kept;
    } else {
        out->dims[axis] = kept;
    }
    return TSR_OK;
}

/* OneHot (ONNX OneHot): indices [..] (rank r), depth a constant scalar (or one value; non-
 * integers truncated, >= 1), values [2] → Y of values' dtype, rank r + 1, depth at axis. */
tsr_status tsr_shape_onehot(SHAPE_ARGS) {
    SHAPE_UNUSED();
    char s0[160], s1[160];
    if (!in_data[1])
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (OneHot): the depth input must be a constant", node);
    const int r = in[0]->rank + 1;
    int64_t axis;
    double depth =
        tsr_desc_elements(in[1]) == 1 ? tsr_elem_get_f64(in[1]->dtype, in_data[1], 0) : 0.0;
    if (r > TSR_MAX_RANK ||
        norm_axis(attrs->axis == TSR_AXIS_DEFAULT ? -1 : attrs->axis, r, &axis) ||
        !(depth >= 1 && depth < 1e12) || tsr_desc_elements(in[2]) != 2)
        return SHAPE_ERR("node '%s' (OneHot): indices %s, depth %g, values %s, axis %lld do not "
                         "fit (depth >= 1, two values)",
                         node, tsr_desc_format(in[0], s0, sizeof s0), depth,
                         tsr_desc_format(in[2], s1, sizeof s1), (long long)attrs->axis);
    *out = f32_desc(r);
    out->dtype = in[2]->dtype;
    for (int d = 0, k = 0; d < r; d++)
        out->dims[d] = d == axis ? (int64_t)depth : in[0]->dims[k++];
    return TSR_OK;
}

/* ---- win3d: 3-D MaxPool / AveragePool geometry ---- */

tsr_status tsr_window_geometry_3d(tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,
                                  const struct tsr_tensor_desc *x, const char *node,
                                  struct tsr_window_geometry *hw, struct tsr_window_d *d) {
    char s0[160];
    const char *opn = tsr_op_name(op);
    if (x->rank != 5 || (op != TSR_OP_MAXPOOL && op != TSR_OP_AVGPOOL && op != TSR_OP_LPPOOL))
        return SHAPE_ERR("node '%s' (%s): input %s is not a 3-D pool input [N, C, D, H, W]", node,
                         opn, tsr_desc_format(x, s0, sizeof s0));
    if (!(attrs->win3d_given & 1))
        return SHAPE_ERR("node '%s' (%s): 3-D input %s takes a 3-D kernel_shape [kD, kH, kW]", node,
                         opn, tsr_desc_format(x, s0, sizeof s0));
    if (op == TSR_OP_MAXPOOL && attrs->pool_indices)
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (MaxPool): the Indices output of a 3-D input %s is not supported",
                       node, tsr_desc_format(x, s0, sizeof s0));
    if (attrs->auto_pad != TSR_AUTO_PAD_NOTSET && attrs->auto_pad != TSR_AUTO_PAD_VALID)
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (%s): auto_pad SAME_* with a 3-D input %s is not supported", node,
                       opn, tsr_desc_format(x, s0, sizeof s0));
    const int valid = attrs->auto_pad == TSR_AUTO_PAD_VALID;
    d->k = attrs->win_d[0];
    d->stride = attrs->win_d[1] ? attrs->win_d[1] : 1;
    d->dil = attrs->win_d[2] ? attrs->win_d[2] : 1;
    d->pad_b = valid ? 0 : attrs->win_d[3];
    d->pad_e = valid ? 0 : attrs->win_d[4];
    if (d->k <= 0 || d->stride < 1 || d->dil < 1 || d->pad_b < 0 || d->pad_e < 0)
        return SHAPE_ERR("node '%s' (%s): bad depth window (kernel %lld, stride %lld, dilation "
                         "%lld, pads %lld, %lld) for input %s",
                         node, opn, (long long)d->k, (long long)d->stride, (long long)d->dil,
                         (long long)d->pad_b, (long long)d->pad_e,
                         tsr_desc_format(x, s0, sizeof s0));
    d->od = window_out(x->dims[2], d->k, d->stride, d->dil, d->pad_b, d->pad_e, attrs->ceil_mode);
    if (d->od <= 0)
        return SHAPE_ERR("node '%s' (%s): the depth window (kernel %lld, dilation %lld) does not "
                         "fit input %s with pads [%lld, %lld]",
                         node, opn, (long long)d->k, (long long)d->dil,
                         tsr_desc_format(x, s0, sizeof s0), (long long)d->pad_b,
                         (long long)d->pad_e);
    struct tsr_tensor_desc x4 = *x;
    x4.rank = 4;
    x4.dims[1] = x->dims[1] * x->dims[2];
    x4.dims[2] = x->dims[3];
    x4.dims[3] = x->dims[4];
    struct tsr_op_attrs a2 = *attrs;
    memset(a2.win_d, 0, sizeof a2.win_d);
    a2.win3d_given = 0;
    tsr_status st = tsr_window_geometry(ctx, op, &a2, &x4, NULL, node, hw);
    if (st != TSR_OK || !(op == TSR_OP_AVGPOOL && attrs->count_include_pad && attrs->ceil_mode))
        return st;
    /* count_include_pad with ceil_mode windows past the end padding: ONNX's reference counts
     * the taps there too, PyTorch (and the 2-D kernels) clip them; refused, not guessed. */
    struct tsr_window_geometry fl;
    a2.ceil_mode = 0;
    st = tsr_window_geometry(ctx, op, &a2, &x4, NULL, node, &fl);
    if (st != TSR_OK) return st;
    if (fl.oh != hw->oh || fl.ow != hw->ow ||
        window_out(x->dims[2], d->k, d->stride, d->dil, d->pad_b, d->pad_e, 0) != d->od)
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (AveragePool): count_include_pad with ceil_mode windows past the "
                       "padding of 3-D input %s is not supported",
                       node, tsr_desc_format(x, s0, sizeof s0));
    return TSR_OK;
}

/* ---- conv3d: 3-D Conv geometry ---- */

tsr_status tsr_conv_geometry_3d(tsr_context *ctx, const struct tsr_op_attrs *attrs,
                                const struct tsr_tensor_desc *x, const struct tsr_tensor_desc *w,
                                const char *node, struct tsr_window_geometry *hw,
                                struct tsr_window_d *d) {
    char s0[160], s1[160];
    if (x->rank != 5 || w->rank != 5)
        return SHAPE_ERR("node '%s' (Conv): input %s and weights %s are not a 3-D Conv ([N, C, D, "
                         "H, W], [M, C/group, kD, kH, kW])",
                         node, tsr_desc_format(x, s0, sizeof s0),
                         tsr_desc_format(w, s1, sizeof s1));
    if (attrs->auto_pad != TSR_AUTO_PAD_NOTSET && attrs->auto_pad != TSR_AUTO_PAD_VALID)
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "node '%s' (Conv): auto_pad SAME_* with a 3-D input %s is not supported",
                       node, tsr_desc_format(x, s0, sizeof s0));
    const int valid = attrs->auto_pad == TSR_AUTO_PAD_VALID;
    d->k = w->dims[2];
    d->stride = attrs->win_d[1] ? attrs->win_d[1] : 1;
    d->dil = attrs->win_d[2] ? attrs->win_d[2] : 1;
    d->pad_b = valid ? 0 : attrs->win_d[3];
    d->pad_e = valid ? 0 : attrs->win_d[4];
    if ((attrs->win3d_given & 1) && attrs->win_d[0] != d->k)
        return SHAPE_ERR("node '%s' (Conv): kernel_shape depth %lld differs from weights %s", node,
                         (long long)attrs->win_d[0], tsr_desc_format(w, s0, sizeof s0));
    if (d->k <= 0 || d->stride < 1 || d->dil < 1 || d->pad_b < 0 || d->pad_e < 0)
        return SHAPE_ERR("node '%s' (Conv): bad depth window (kernel %lld, stride %lld, dilation "
                         "%lld, pads %lld, %lld) for input %s",
                         node, (long long)d->k, (long long)d->stride, (long long)d->dil,
                         (long long)d->pad_b, (long long)d->pad_e,
                         tsr_desc_format(x, s0, sizeof s0));
    d->od = window_out(x->dims[2], d->k, d->stride, d->dil, d->pad_b, d->pad_e, 0);
    if (d->od <= 0)
        return SHAPE_ERR("node '%s' (Conv): the depth window (kernel %lld, dilation %lld) does not "
                         "fit input %s with pads [%lld, %lld]",
                         node, (long long)d->k, (long long)d->dil,
                         tsr_desc_format(x, s0, sizeof s0), (long long)d->pad_b,
                         (long long)d->pad_e);
    struct tsr_tensor_desc x4 = *x, w4 = *w;
    x4.rank = w4.rank = 4;
    x4.dims[2] = x->dims[3], x4.dims[3] = x->dims[4];
    w4.dims[2] = w->dims[3], w4.dims[3] = w->dims[4];
    struct tsr_op_attrs a2 = *attrs;
    memset(a2.win_d, 0, sizeof a2.win_d);
    a2.win3d_given = 0;
    return tsr_window_geometry(ctx, TSR_OP_CONV, &a2, &x4, &w4, node, hw);
}
