/*
 * decompose.c — operators rewritten into ones with kernels (see passes.h).
 *
 * ConvTranspose as a stride-1 Conv (1-D, 2-D, 3-D: the 3-D Conv is rewritten by rewrite_conv3d).
 * ONNX ConvTranspose, per spatial dim (stride s, dilation d, kernel k, pads pb / pe,
 * output_padding op): y[o] = sum_{i, j : o = i * s - pb + j * d} x[i] * w[j]. With z the input
 * with s - 1 zeros inserted after every element (z[i * s] = x[i], length in * s) this is the
 * correlation of z, padded by P_b = (k - 1) * d - pb before and P_e = (k - 1) * d - pe + op -
 * (s - 1) after (negative values crop), with the kernel flipped: y[o] = sum_j zp[o + j * d] *
 * w[k - 1 - j] (the adjoint of a strided convolution; Dumoulin and Visin 2016, "A guide to
 * convolution arithmetic for deep learning", section 4). Channels: weights [C, M/g, k...] become
 * [M, C/g, k...] per group g. So the node becomes
 *   x → Unsqueeze [N, C, in, 1, ...] → Pad (s - 1 zeros after each unit dim) → Reshape
 *     [N, C, in * s, ...] → Pad (P_b, P_e) → Conv (stride 1, dilation d, group g)
 *   w → Slice (steps -1 on the spatial dims) → [Reshape [g, C/g, M/g, k...]] → Transpose
 *     → [Reshape [M, C/g, k...]]
 * and runs on every backend's Conv kernel (im2col + GEMM); constant weights fold at compile time.
 *
 * LpPool: Pow(Abs(x), p) → depthwise Conv with ones [C, 1, k...] (the pool's strides, resolved
 * pads, dilations; group C) → Pow(., 1 / p). GlobalLpPool: the same with ReduceSum over the
 * spatial dims. MeanVarianceNormalization: its ONNX function body (ReduceMean, Pow, Sub, Sqrt,
 * Add 1e-9, Div). LRN: x / (bias + alpha / size * Conv1x1(x * x, band of ones))^beta.
 * Einsum: ReduceSum of the indices only one input has and the output lacks, then both inputs
 * transposed and reshaped to [batch, M, K] and [batch, K, N], MatMul, Reshape to [batch..., m...,
 * n...] and Transpose to the output order (identity steps are left out).
 * 3-D MaxPool / AveragePool: two 2-D pools (rewrite_pool3d).
 * 3-D Conv: one 2-D Conv per depth tap on strided depth slices, summed (rewrite_conv3d).
 */
#include "runtime/passes/passes.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A new int64 [n] constant holding v (Reshape's shape); -1 on OOM. */
static tsr_value shape_const(tsr_graph *g, const int64_t *v, int n) {
    int64_t *d = tsr_aligned_alloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!d) return -1;
    memcpy(d, v, sizeof(int64_t) * (size_t)n);
    struct tsr_tensor_desc sd = {TSR_I64, 1, {n}};
    return tsr_graph_new_value(g, "convtranspose_shape", &sd, d);
}

/* Reshape(v) to desc *to; -1 on OOM. */
static tsr_value reshape(tsr_graph *g, int *pos, const char *base, const char *what, tsr_value v,
                         const struct tsr_tensor_desc *to) {
    tsr_value in[2] = {v, shape_const(g, to->dims, to->rank)};
    if (in[1] < 0) return -1;
    return tsr_pass_emit_node(g, pos, base, what, TSR_OP_RESHAPE, NULL, in, 2, to);
}

/* ConvTranspose: node i becomes the Conv. */
static tsr_status rewrite_convtranspose(tsr_graph *g, int i) {
    struct tsr_node nd = g->nodes[i];
    char base[192];
    snprintf(base, sizeof base, "%s", nd.name ? nd.name : "ConvTranspose");
    const struct tsr_tensor_desc xd = g->values[nd.inputs[0]].desc;
    const struct tsr_tensor_desc wd = g->values[nd.inputs[1]].desc;
    struct tsr_convt_geometry cg;
    tsr_status st = tsr_convtranspose_geometry(g->ctx, &nd.attrs, &xd, &wd, base, &cg);
    if (st != TSR_OK) return st;
    const int r = xd.rank, S = r - 2, one_d = r == 3, three_d = r == 5;
    const int64_t C = xd.dims[1], G = nd.attrs.group, M = cg.m, mpg = M / G, cpg = C / G;
    /* per geometry index (tsr_convt_geometry: [H, W], 3-D: [2] = D from win_d / convt_d) */
    int64_t str[3], dil[3], opd[3];
    for (int d = 0; d < 3; d++) {
        str[d] = d < 2 ? nd.attrs.strides[d] : nd.attrs.win_d[1] ? nd.attrs.win_d[1] : 1;
        dil[d] = d < 2 ? nd.attrs.dilations[d] : nd.attrs.win_d[2] ? nd.attrs.win_d[2] : 1;
        opd[d] = d < 2 ? nd.attrs.output_padding[d] : nd.attrs.convt_d[0];
    }
    int gis[3]; /* spatial dim j of the tensor → geometry index */
    for (int j = 0; j < S; j++)
        gis[j] = three_d ? (j == 0 ? 2 : j - 1) : j + one_d;
    int pos = i, any_k = 0, any_s = 0;
    for (int j = 0; j < S; j++) {
        any_k |= wd.dims[2 + j] > 1;
        any_s |= str[gis[j]] > 1;
    }
    /* weights: flip, then [C, M/g, k...] → [M, C/g, k...] */
    tsr_value wv = nd.inputs[1];
    if (any_k) {
        struct tsr_op_attrs sa = tsr_op_attrs_default();
        sa.n_starts = sa.n_ends = sa.n_slice_axes = sa.n_steps = S;
        for (int j = 0; j < S; j++) {
            sa.starts[j] = -1;
            sa.ends[j] = INT64_MIN;
            sa.slice_axes[j] = 2 + j;
            sa.steps[j] = -1;
        }
        if ((wv = tsr_pass_emit_node(g, &pos, base, "flip", TSR_OP_SLICE, &sa, &wv, 1, &wd)) < 0)
            goto nomem;
    }
    struct tsr_op_attrs ta = tsr_op_attrs_default();
    if (G == 1) {
        struct tsr_tensor_desc td = wd;
        td.dims[0] = wd.dims[1];
        td.dims[1] = wd.dims[0];
        ta.n_perm = r;
        for (int d = 0; d < r; d++)
            ta.perm[d] = d < 2 ? 1 - d : d;
        if ((wv = tsr_pass_emit_node(g, &pos, base, "weights", TSR_OP_TRANSPOSE, &ta, &wv, 1,
                                     &td)) < 0)
            goto nomem;
    } else {
        struct tsr_tensor_desc d1 = {TSR_F32, r + 1, {G, cpg, mpg}}, d2, d3 = wd;
        for (int j = 0; j < S; j++)
            d1.dims[3 + j] = wd.dims[2 + j];
        d2 = d1;
        d2.dims[1] = mpg;
        d2.dims[2] = cpg;
        d3.dims[0] = M;
        d3.dims[1] = cpg;
        ta.n_perm = r + 1;
        for (int d = 0; d < r + 1; d++)
            ta.perm[d] = d == 1 ? 2 : d == 2 ? 1 : d;
        if ((wv = reshape(g, &pos, base, "weights_groups", wv, &d1)) < 0 ||
            (wv = tsr_pass_emit_node(g, &pos, base, "weights_t", TSR_OP_TRANSPOSE, &ta, &wv, 1,
                                     &d2)) < 0 ||
            (wv = reshape(g, &pos, base, "weights", wv, &d3)) < 0)
            goto nomem;
    }
    /* input: zero insertion (strides > 1), then the equivalent convolution's padding */
    tsr_value xv = nd.inputs[0];
    struct tsr_tensor_desc cur = xd;
    if (any_s) {
        struct tsr_op_attrs ua = tsr_op_attrs_default(), pa = tsr_op_attrs_default();
        struct tsr_tensor_desc ud = {TSR_F32, r + S, {xd.dims[0], C}}, pd;
        ua.n_axes = S;
        pa.n_pad_pads = 2 * (r + S);
        for (int j = 0; j < S; j++) {
            ud.dims[2 + 2 * j] = xd.dims[2 + j];
            ud.dims[3 + 2 * j] = 1;
            ua.axes[j] = 3 + 2 * j;
        }
        pd = ud;
        for (int j = 0; j < S; j++) {
            int64_t s = str[gis[j]];
            pa.pad_pads[r + S + 3 + 2 * j] = s - 1;
            pd.dims[3 + 2 * j] = s;
            cur.dims[2 + j] = xd.dims[2 + j] * s;
        }
        if ((xv = tsr_pass_emit_node(g, &pos, base, "unsqueeze", TSR_OP_UNSQUEEZE, &ua, &xv, 1,
                                     &ud)) < 0 ||
            (xv = tsr_pass_emit_node(g, &pos, base, "zeros", TSR_OP_PAD, &pa, &xv, 1, &pd)) < 0 ||
            (xv = reshape(g, &pos, base, "upsampled", xv, &cur)) < 0)
            goto nomem;
    }
    struct tsr_op_attrs pa = tsr_op_attrs_default();
    int any_pad = 0;
    pa.n_pad_pads = 2 * r;
    for (int j = 0; j < S; j++) {
        const int gi = gis[j];
        const int64_t ek = (cg.k[gi] - 1) * dil[gi];
        const int64_t b = ek - cg.pb[gi];
        const int64_t e = ek - cg.pe[gi] + opd[gi] - (str[gi] - 1);
        pa.pad_pads[2 + j] = b;
        pa.pad_pads[r + 2 + j] = e;
        cur.dims[2 + j] += b + e;
        any_pad |= b != 0 || e != 0;
    }
    if (any_pad &&
        (xv = tsr_pass_emit_node(g, &pos, base, "padded", TSR_OP_PAD, &pa, &xv, 1, &cur)) < 0)
        goto nomem;
    /* the node itself becomes the Conv */
    struct tsr_node *cv = &g->nodes[pos];
    struct tsr_op_attrs ca = tsr_op_attrs_default();
    ca.group = G;
    for (int d = 0; d < 2; d++) {
        ca.kernel_shape[d] = cg.k[d];
        ca.dilations[d] = nd.attrs.dilations[d];
    }
    if (three_d) { /* a 3-D Conv, rewritten in turn by rewrite_conv3d (group "conv3d") */
        ca.win_d[0] = cg.k[2];
        ca.win_d[2] = dil[2];
    }
    cv->op = TSR_OP_CONV;
    cv->attrs = ca;
    cv->inputs[0] = xv;
    cv->inputs[1] = wv;
    return TSR_OK;
nomem:
    return TSR_ERR(g->ctx, TSR_E_NOMEM, "node '%s' (ConvTranspose): out of memory", base);
}

/* A new float32 scalar constant v; -1 on OOM. */
static tsr_value scalar_const(tsr_graph *g, const char *name, float v) {
    float *d = tsr_aligned_alloc(sizeof(float));
    if (!d) return -1;
    d[0] = v;
    struct tsr_tensor_desc sd = {TSR_F32, 0, {0}};
    return tsr_graph_new_value(g, name, &sd, d);
}

/* Binary node op(a, constant scalar v); -1 on OOM. */
static tsr_value with_scalar(tsr_graph *g, int *pos, const char *base, const char *what, tsr_op op,
                             tsr_value a, float v, const struct tsr_tensor_desc *od) {
    tsr_value in[2] = {a, scalar_const(g, what, v)};
    if (in[1] < 0) return -1;
    return tsr_pass_emit_node(g, pos, base, what, op, NULL, in, 2, od);
}

/* LpPool / GlobalLpPool: node i becomes the final Pow(., 1 / p). */
static tsr_status rewrite_lppool(tsr_graph *g, int i) {
    struct tsr_node nd = g->nodes[i];
    char base[192];
    snprintf(base, sizeof base, "%s", nd.name ? nd.name : tsr_op_name(nd.op));
    const struct tsr_tensor_desc xd = g->values[nd.inputs[0]].desc;
    const struct tsr_tensor_desc yd = g->values[nd.output].desc;
    const float p = (float)nd.attrs.lp_p;
    if (nd.attrs.lp_p < 1)
        return TSR_ERR(g->ctx, TSR_E_SHAPE, "node '%s' (%s): p must be >= 1 (got %lld)", base,
                       tsr_op_name(nd.op), (long long)nd.attrs.lp_p);
    int pos = i;
    tsr_value v = nd.inputs[0];
    if ((v = tsr_pass_emit_node(g, &pos, base, "abs", TSR_OP_ABS, NULL, &v, 1, &xd)) < 0 ||
        (v = with_scalar(g, &pos, base, "pow", TSR_OP_POW, v, p, &xd)) < 0)
        goto nomem;
    if (nd.op == TSR_OP_LPPOOL && xd.rank == 5) {
        /* group "win3d": the window sum is the 3-D average counting the padding (rewritten in
         * turn by rewrite_pool3d) times the window size; ceil_mode windows past the padding
         * are refused there */
        struct tsr_window_geometry wg;
        struct tsr_window_d wd;
        struct tsr_op_attrs aa = nd.attrs;
        aa.count_include_pad = 1;
        tsr_status st = tsr_window_geometry_3d(g->ctx, TSR_OP_AVGPOOL, &aa, &xd, base, &wg, &wd);
        if (st != TSR_OK) return st;
        if ((v = tsr_pass_emit_node(g, &pos, base, "mean", TSR_OP_AVGPOOL, &aa, &v, 1, &yd)) < 0 ||
            (v = with_scalar(g, &pos, base, "sum", TSR_OP_MUL, v, (float)(wd.k * wg.kh * wg.kw),
                             &yd)) < 0)
            goto nomem;
    } else if (nd.op == TSR_OP_LPPOOL) {
        struct tsr_window_geometry wg;
        tsr_status st = tsr_window_geometry(g->ctx, nd.op, &nd.attrs, &xd, NULL, base, &wg);
        if (st != TSR_OK) return st;
        const int64_t C = xd.dims[1];
        const int one_d = xd.rank == 3;
        struct tsr_tensor_desc wd = {TSR_F32, xd.rank, {C, 1}};
        if (one_d) {
            wd.dims[2] = wg.kw;
        } else {
            wd.dims[2] = wg.kh;
            wd.dims[3] = wg.kw;
        }
        const int64_t nw = C * wg.kh * wg.kw;
        float *ones = tsr_aligned_alloc(sizeof(float) * (size_t)nw);
        if (!ones) goto nomem;
        for (int64_t k = 0; k < nw; k++)
            ones[k] = 1.0f;
        tsr_value in[2] = {v, tsr_graph_new_value(g, "lppool_ones", &wd, ones)};
        if (in[1] < 0) goto nomem;
        struct tsr_op_attrs ca = tsr_op_attrs_default();
        ca.group = C;
        for (int d = 0; d < 2; d++) {
            ca.strides[d] = nd.attrs.strides[d];
            ca.dilations[d] = nd.attrs.dilations[d];
        }
        ca.kernel_shape[0] = wg.kh;
        ca.kernel_shape[1] = wg.kw;
        ca.pads[0] = wg.pad_t, ca.pads[1] = wg.pad_l, ca.pads[2] = wg.pad_b, ca.pads[3] = wg.pad_r;
        if ((v = tsr_pass_emit_node(g, &pos, base, "sum", TSR_OP_CONV, &ca, in, 2, &yd)) < 0)
            goto nomem;
    } else {
        struct tsr_op_attrs ra = tsr_op_attrs_default();
        ra.n_axes = xd.rank - 2;
        for (int d = 2; d < xd.rank; d++)
            ra.axes[d - 2] = d;
        ra.keepdims = 1;
        if ((v = tsr_pass_emit_node(g, &pos, base, "sum", TSR_OP_REDUCESUM, &ra, &v, 1, &yd)) < 0)
            goto nomem;
    }
    tsr_value e = scalar_const(g, "lppool_inv_p", 1.0f / p);
    if (e < 0) goto nomem;
    struct tsr_node *last = &g->nodes[pos];
    last->op = TSR_OP_POW;
    last->attrs = tsr_op_attrs_default();
    last->n_inputs = 2;
    last->inputs[0] = v;
    last->inputs[1] = e;
    return TSR_OK;
nomem:
    return TSR_ERR(g->ctx, TSR_E_NOMEM, "node '%s' (%s): out of memory", base, tsr_op_name(nd.op));
}

/* Group "win3d": MaxPool / AveragePool on x [N, C, D, H, W] as two 2-D pools (the window is a
 * box, so max and sum separate per axis, and the average's divisor, with or without
 * count_include_pad and with ceil_mode clipping, is the product of the per-axis counts):
 *   x → Reshape [N, C * D, H, W] → pool (kH, kW) → [N, C * D, OH, OW] → Reshape
 *     [N, C, D, OH * OW] → pool (kD, 1) → [N, C, OD, OH * OW] → Reshape [N, C, OD, OH, OW].
 * Node i becomes the final Reshape. */
static tsr_status rewrite_pool3d(tsr_graph *g, int i) {
    struct tsr_node nd = g->nodes[i];
    char base[192];
    snprintf(base, sizeof base, "%s", nd.name ? nd.name : tsr_op_name(nd.op));
    const struct tsr_tensor_desc xd = g->values[nd.inputs[0]].desc;
    const struct tsr_tensor_desc yd = g->values[nd.output].desc;
    struct tsr_window_geometry wg;
    struct tsr_window_d wd;
    tsr_status st = tsr_window_geometry_3d(g->ctx, nd.op, &nd.attrs, &xd, base, &wg, &wd);
    if (st != TSR_OK) return st;
    const int64_t N = xd.dims[0], C = xd.dims[1], D = xd.dims[2];
    struct tsr_op_attrs a2 = nd.attrs;
    memset(a2.win_d, 0, sizeof a2.win_d);
    a2.win3d_given = 0;
    struct tsr_op_attrs ad = a2;
    ad.auto_pad = TSR_AUTO_PAD_NOTSET;
    ad.kernel_shape[0] = wd.k, ad.kernel_shape[1] = 1;
    ad.strides[0] = wd.stride, ad.strides[1] = 1;
    ad.dilations[0] = wd.dil, ad.dilations[1] = 1;
    ad.pads[0] = wd.pad_b, ad.pads[1] = 0, ad.pads[2] = wd.pad_e, ad.pads[3] = 0;
    const struct tsr_tensor_desc d1 = {TSR_F32, 4, {N, C * D, xd.dims[3], xd.dims[4]}};
    const struct tsr_tensor_desc d2 = {TSR_F32, 4, {N, C * D, wg.oh, wg.ow}};
    const struct tsr_tensor_desc d3 = {TSR_F32, 4, {N, C, D, wg.oh * wg.ow}};
    const struct tsr_tensor_desc d4 = {TSR_F32, 4, {N, C, wd.od, wg.oh * wg.ow}};
    int pos = i;
    tsr_value v = nd.inputs[0];
    if ((v = reshape(g, &pos, base, "hw_in", v, &d1)) < 0 ||
        (v = tsr_pass_emit_node(g, &pos, base, "pool_hw", nd.op, &a2, &v, 1, &d2)) < 0 ||
        (v = reshape(g, &pos, base, "d_in", v, &d3)) < 0 ||
        (v = tsr_pass_emit_node(g, &pos, base, "pool_d", nd.op, &ad, &v, 1, &d4)) < 0)
        goto nomem;
    tsr_value sh = shape_const(g, yd.dims, yd.rank);
    if (sh < 0) goto nomem;
    struct tsr_node *last = &g->nodes[pos];
    last->op = TSR_OP_RESHAPE;
    last->attrs = tsr_op_attrs_default();
    last->n_inputs = 2;
    last->inputs[0] = v;
    last->inputs[1] = sh;
    return TSR_OK;
nomem:
    return TSR_ERR(g->ctx, TSR_E_NOMEM, "node '%s' (%s): out of memory", base, tsr_op_name(nd.op));
}

/* MeanVarianceNormalization: node i becomes the final Div. */
static tsr_status rewrite_mvn(tsr_graph *g, int i) {
    struct tsr_node nd = g->nodes[i];
    char base[192];
    snprintf(base, sizeof base, "%s", nd.name ? nd.name : "MeanVarianceNormalization");
    const struct tsr_tensor_desc xd = g->values[nd.inputs[0]].desc;
    struct tsr_op_attrs ra;
    tsr_mvn_axes(&nd.attrs, &ra);
    ra.keepdims = 1;
    ra.noop_with_empty_axes = 0;
    unsigned mask;
    if (tsr_reduce_mask(&ra, xd.rank, &mask))
        return TSR_ERR(g->ctx, TSR_E_SHAPE, "node '%s' (MeanVarianceNormalization): bad axes",
                       base);
    struct tsr_tensor_desc md = xd;
    for (int d = 0; d < xd.rank; d++)
        if (mask & (1u << d)) md.dims[d] = 1;
    int pos = i;
    tsr_value x = nd.inputs[0], mean, ex2, var, sd, cen;
    if ((mean = tsr_pass_emit_node(g, &pos, base, "mean", TSR_OP_REDUCEMEAN, &ra, &x, 1, &md)) < 0)
        goto nomem;
    tsr_value sq = with_scalar(g, &pos, base, "x_squared", TSR_OP_POW, x, 2.0f, &xd);
    tsr_value msq =
        sq < 0 ? -1 : with_scalar(g, &pos, base, "mean_squared", TSR_OP_POW, mean, 2.0f, &md);
    if (sq < 0 || msq < 0 ||
        (ex2 = tsr_pass_emit_node(g, &pos, base, "mean_of_squares", TSR_OP_REDUCEMEAN, &ra, &sq, 1,
                                  &md)) < 0)
        goto nomem;
    tsr_value in[2] = {ex2, msq};
    if ((var = tsr_pass_emit_node(g, &pos, base, "variance", TSR_OP_SUB, NULL, in, 2, &md)) < 0 ||
        (sd = tsr_pass_emit_node(g, &pos, base, "std", TSR_OP_SQRT, NULL, &var, 1, &md)) < 0 ||
        (sd = with_scalar(g, &pos, base, "std_eps", TSR_OP_ADD, sd, 1e-9f, &md)) < 0)
        goto nomem;
    in[0] = x;
    in[1] = mean;
    if ((cen = tsr_pass_emit_node(g, &pos, base, "centered", TSR_OP_SUB, NULL, in, 2, &xd)) < 0)
        goto nomem;
    struct tsr_node *last = &g->nodes[pos];
    last->op = TSR_OP_DIV;
    last->attrs = tsr_op_attrs_default();
    last->n_inputs = 2;
    last->inputs[0] = cen;
    last->inputs[1] = sd;
    return TSR_OK;
nomem:
    return TSR_ERR(g->ctx, TSR_E_NOMEM, "node '%s' (MeanVarianceNormalization): out of memory",
                   base);
}

/* LRN: node i becomes the final Div. */
static tsr_status rewrite_lrn(tsr_graph *g, int i) {
    struct tsr_node nd = g->nodes[i];
    char base[192];
    snprintf(base, sizeof base, "%s", nd.name ? nd.name : "LRN");
    const struct tsr_tensor_desc xd = g->values[nd.inputs[0]].desc;
    const struct tsr_op_attrs *at = &nd.attrs;
    const int64_t C = xd.dims[1], lo = (at->lrn_size - 1) / 2, hi = at->lrn_size / 2;
    struct tsr_tensor_desc wd = {TSR_F32, xd.rank, {C, C, 1, 1}};
    float *band = tsr_aligned_alloc(sizeof(float) * (size_t)(C > 0 ? C * C : 1));
    if (!band) goto nomem;
    for (int64_t m = 0; m < C; m++)
        for (int64_t c = 0; c < C; c++)
            band[m * C + c] = c >= m - lo && c <= m + hi ? 1.0f : 0.0f;
    int pos = i;
    tsr_value x = nd.inputs[0], in[2] = {x, x}, v;
    if ((v = tsr_pass_emit_node(g, &pos, base, "square", TSR_OP_MUL, NULL, in, 2, &xd)) < 0)
        goto nomem;
    in[0] = v;
    in[1] = tsr_graph_new_value(g, "lrn_band", &wd, band);
    if (in[1] < 0) goto nomem;
    struct tsr_op_attrs ca = tsr_op_attrs_default();
    ca.kernel_shape[0] = ca.kernel_shape[1] = 1;
    if ((v = tsr_pass_emit_node(g, &pos, base, "window_sum", TSR_OP_CONV, &ca, in, 2, &xd)) < 0 ||
        (v = with_scalar(g, &pos, base, "scaled", TSR_OP_MUL, v,
                         at->lrn_alpha / (float)at->lrn_size, &xd)) < 0 ||
        (v = with_scalar(g, &pos, base, "biased", TSR_OP_ADD, v, at->lrn_bias, &xd)) < 0 ||
        (v = with_scalar(g, &pos, base, "denominator", TSR_OP_POW, v, at->lrn_beta, &xd)) < 0)
        goto nomem;
    struct tsr_node *last = &g->nodes[pos];
    last->op = TSR_OP_DIV;
    last->attrs = tsr_op_attrs_default();
    last->n_inputs = 2;
    last->inputs[0] = x;
    last->inputs[1] = v;
    return TSR_OK;
nomem:
    return TSR_ERR(g->ctx, TSR_E_NOMEM, "node '%s' (LRN): out of memory", base);
}

/* One Einsum operand while it is rewritten: its value, indices (dims) and desc. */
struct ein_term {
    tsr_value v;
    int rank, idx[TSR_MAX_RANK];
    struct tsr_tensor_desc d;
};

static int ein_has(const int *idx, int n, int k) {
    for (int j = 0; j < n; j++)
        if (idx[j] == k) return 1;
    return 0;
}

/* Sums away the indices of t for which keep() is false (ReduceSum, keepdims 0). 0 or -1 (OOM). */
static int ein_reduce(tsr_graph *g, int *pos, const char *base, struct ein_term *t,
                      const struct tsr_einsum *e, const struct ein_term *other) {
    struct tsr_op_attrs ra = tsr_op_attrs_default();
    ra.keepdims = 0;
    struct ein_term n = *t;
    n.rank = 0;
    n.d.rank = 0;
    for (int d = 0; d < t->rank; d++) {
        int k = t->idx[d];
        if (ein_has(e->out, e->out_rank, k) || (other && ein_has(other->idx, other->rank, k))) {
            n.idx[n.rank++] = k;
            n.d.dims[n.d.rank++] = t->d.dims[d];
        } else {
            ra.axes[ra.n_axes++] = d;
        }
    }
    if (!ra.n_axes) return 0;
    if ((n.v = tsr_pass_emit_node(g, pos, base, "sum", TSR_OP_REDUCESUM, &ra, &t->v, 1, &n.d)) < 0)
        return -1;
    *t = n;
    return 0;
}

/* Transposes t to the index order idx[0..n-1] (a permutation of its indices). 0 or -1. */
static int ein_permute(tsr_graph *g, int *pos, const char *base, struct ein_term *t,
                       const int *idx) {
    struct tsr_op_attrs ta = tsr_op_attrs_default();
    struct ein_term n = *t;
    int ident = 1;
    ta.n_perm = t->rank;
    for (int d = 0; d < t->rank; d++) {
        int src = 0;
        while (t->idx[src] != idx[d])
            src++;
        ta.perm[d] = src;
        ident &= src == d;
        n.idx[d] = idx[d];
        n.d.dims[d] = t->d.dims[src];
    }
    if (ident) return 0;
    if ((n.v = tsr_pass_emit_node(g, pos, base, "transpose", TSR_OP_TRANSPOSE, &ta, &t->v, 1,
                                  &n.d)) < 0)
        return -1;
    *t = n;
    return 0;
}

/* Einsum: node i becomes an Identity of the result. */
static tsr_status rewrite_einsum(tsr_graph *g, int i) {
    struct tsr_node nd = g->nodes[i];
    char base[192];
    snprintf(base, sizeof base, "%s", nd.name ? nd.name : "Einsum");
    const struct tsr_tensor_desc *descs[2] = {
        &g->values[nd.inputs[0]].desc, nd.n_inputs > 1 ? &g->values[nd.inputs[1]].desc : NULL};
    struct tsr_einsum e;
    tsr_status st = tsr_einsum_parse(g->ctx, &nd.attrs, descs, nd.n_inputs, base, &e);
    if (st != TSR_OK) return st;
    const struct tsr_tensor_desc yd = g->values[nd.output].desc;
    struct ein_term t[2];
    for (int k = 0; k < e.n_in; k++) {
        t[k].v = nd.inputs[k];
        t[k].rank = e.rank[k];
        memcpy(t[k].idx, e.in[k], sizeof t[k].idx);
        t[k].d = g->values[nd.inputs[k]].desc;
    }
    int pos = i;
    tsr_value res;
    if (e.n_in == 1) {
        if (ein_reduce(g, &pos, base, &t[0], &e, NULL) || ein_permute(g, &pos, base, &t[0], e.out))
            goto nomem;
        res = t[0].v;
    } else {
        if (ein_reduce(g, &pos, base, &t[0], &e, &t[1]) ||
            ein_reduce(g, &pos, base, &t[1], &e, &t[0]))
            goto nomem;
        /* batch: in both and the output (output order); k: in both only; m, n: one side */
        int ia[TSR_MAX_RANK], ib[TSR_MAX_RANK], na = 0, nb = 0, nbat = 0, nm = 0, nn = 0;
        int64_t B = 1, M = 1, K = 1, N = 1;
        struct tsr_tensor_desc od = {TSR_F32, 0, {0}};
        for (int d = 0; d < e.out_rank; d++) {
            int k = e.out[d];
            if (ein_has(t[0].idx, t[0].rank, k) && ein_has(t[1].idx, t[1].rank, k)) {
                ia[na++] = ib[nb++] = k;
                B *= e.size[k];
                nbat++;
                od.dims[od.rank++] = e.size[k];
            }
        }
        int out_order[TSR_MAX_RANK], no = 0;
        for (int d = 0; d < nbat; d++)
            out_order[no++] = ia[d];
        for (int d = 0; d < t[0].rank; d++) {
            int k = t[0].idx[d];
            if (!ein_has(t[1].idx, t[1].rank, k)) {
                ia[na++] = k;
                M *= e.size[k];
                nm++;
                out_order[no++] = k;
                od.dims[od.rank++] = e.size[k];
            }
        }
        for (int d = 0; d < t[1].rank; d++) {
            int k = t[1].idx[d];
            if (!ein_has(t[0].idx, t[0].rank, k)) {
                nn++;
                N *= e.size[k];
                out_order[no++] = k;
                od.dims[od.rank++] = e.size[k];
            }
        }
        for (int d = 0; d < t[0].rank; d++) {
            int k = t[0].idx[d];
            if (ein_has(t[1].idx, t[1].rank, k) && !ein_has(e.out, e.out_rank, k)) {
                ia[na++] = ib[nb++] = k;
                K *= e.size[k];
            }
        }
        for (int d = 0; d < t[1].rank; d++) {
            int k = t[1].idx[d];
            if (!ein_has(t[0].idx, t[0].rank, k)) ib[nb++] = k;
        }
        (void)nm;
        (void)nn;
        if (ein_permute(g, &pos, base, &t[0], ia) || ein_permute(g, &pos, base, &t[1], ib))
            goto nomem;
        struct tsr_tensor_desc da = {TSR_F32, 3, {B, M, K}}, db = {TSR_F32, 3, {B, K, N}},
                               dm = {TSR_F32, 3, {B, M, N}};
        tsr_value in[2];
        if ((in[0] = reshape(g, &pos, base, "lhs", t[0].v, &da)) < 0 ||
            (in[1] = reshape(g, &pos, base, "rhs", t[1].v, &db)) < 0 ||
            (res = tsr_pass_emit_node(g, &pos, base, "matmul", TSR_OP_MATMUL, NULL, in, 2, &dm)) <
                0 ||
            (res = reshape(g, &pos, base, "product", res, &od)) < 0)
            goto nomem;
        struct ein_term r = {res, no, {0}, od};
        memcpy(r.idx, out_order, sizeof r.idx);
        if (ein_permute(g, &pos, base, &r, e.out)) goto nomem;
        res = r.v;
    }
    (void)yd;
    struct tsr_node *last = &g->nodes[pos];
    last->op = TSR_OP_IDENTITY;
    last->attrs = tsr_op_attrs_default();
    last->n_inputs = 1;
    last->inputs[0] = res;
    return TSR_OK;
nomem:
    return TSR_ERR(g->ctx, TSR_E_NOMEM, "node '%s' (Einsum): out of memory", base);
}

/* Group "conv3d": Conv on x [N, C, D, H, W], weights [M, C/g, kD, kH, kW] as kD 2-D Convs, one
 * per depth tap kd (ONNX Conv: y[od] = sum_kd conv2d(x[od * sd - pd + kd * dd], w[:, :, kd])):
 *   x → Transpose [N, D, C, H, W] → Pad (depth pads) → for each kd: Slice (axis 1, start
 *     kd * dd, step sd, oD planes) → Reshape [N * oD, C, H, W] → Conv (w[:, :, kd] by Slice +
 *     Reshape [M, C/g, kH, kW], constant weights fold; bias on kd = 0 only) → [N * oD, M, oH,
 *     oW]; the kD results summed by an Add chain → Reshape [N, oD, M, oH, oW] → Transpose.
 * Node i becomes the final Transpose. */
static tsr_status rewrite_conv3d(tsr_graph *g, int i) {
    struct tsr_node nd = g->nodes[i];
    char base[192], what[48];
    snprintf(base, sizeof base, "%s", nd.name ? nd.name : "Conv");
    const struct tsr_tensor_desc xd = g->values[nd.inputs[0]].desc;
    const struct tsr_tensor_desc wdsc = g->values[nd.inputs[1]].desc;
    struct tsr_window_geometry wg;
    struct tsr_window_d wd;
    tsr_status st = tsr_conv_geometry_3d(g->ctx, &nd.attrs, &xd, &wdsc, base, &wg, &wd);
    if (st != TSR_OK) return st;
    const int64_t N = xd.dims[0], C = xd.dims[1], D = xd.dims[2], H = xd.dims[3], W = xd.dims[4];
    const int64_t M = wdsc.dims[0], cpg = wdsc.dims[1], OD = wd.od;
    int pos = i;
    struct tsr_op_attrs ta = tsr_op_attrs_default();
    ta.n_perm = 5;
    const int perm[5] = {0, 2, 1, 3, 4};
    for (int d = 0; d < 5; d++)
        ta.perm[d] = perm[d];
    struct tsr_tensor_desc td = {TSR_F32, 5, {N, D, C, H, W}};
    tsr_value xv = nd.inputs[0];
    if ((xv = tsr_pass_emit_node(g, &pos, base, "depth_first", TSR_OP_TRANSPOSE, &ta, &xv, 1,
                                 &td)) < 0)
        goto nomem;
    if (wd.pad_b || wd.pad_e) {
        struct tsr_op_attrs pa = tsr_op_attrs_default();
        pa.n_pad_pads = 10;
        pa.pad_pads[1] = wd.pad_b;
        pa.pad_pads[6] = wd.pad_e;
        td.dims[1] = D + wd.pad_b + wd.pad_e;
        if ((xv = tsr_pass_emit_node(g, &pos, base, "depth_padded", TSR_OP_PAD, &pa, &xv, 1, &td)) <
            0)
            goto nomem;
    }
    struct tsr_op_attrs ca = nd.attrs;
    memset(ca.win_d, 0, sizeof ca.win_d);
    ca.win3d_given = 0;
    ca.auto_pad = TSR_AUTO_PAD_NOTSET;
    ca.kernel_shape[0] = wg.kh, ca.kernel_shape[1] = wg.kw;
    ca.pads[0] = wg.pad_t, ca.pads[1] = wg.pad_l, ca.pads[2] = wg.pad_b, ca.pads[3] = wg.pad_r;
    const struct tsr_tensor_desc sd = {TSR_F32, 5, {N, OD, C, H, W}};
    const struct tsr_tensor_desc xd4 = {TSR_F32, 4, {N * OD, C, H, W}};
    const struct tsr_tensor_desc wsd = {TSR_F32, 5, {M, cpg, 1, wg.kh, wg.kw}};
    const struct tsr_tensor_desc wd4 = {TSR_F32, 4, {M, cpg, wg.kh, wg.kw}};
    const struct tsr_tensor_desc yd4 = {TSR_F32, 4, {N * OD, M, wg.oh, wg.ow}};
    tsr_value acc = -1;
    for (int64_t kd = 0; kd < wd.k; kd++) {
        struct tsr_op_attrs sa = tsr_op_attrs_default();
        sa.n_starts = sa.n_ends = sa.n_slice_axes = sa.n_steps = 1;
        sa.slice_axes[0] = 1;
        sa.starts[0] = kd * wd.dil;
        sa.ends[0] = kd * wd.dil + (OD - 1) * wd.stride + 1;
        sa.steps[0] = wd.stride;
        tsr_value in[3], v;
        snprintf(what, sizeof what, "planes%lld", (long long)kd);
        if ((v = tsr_pass_emit_node(g, &pos, base, what, TSR_OP_SLICE, &sa, &xv, 1, &sd)) < 0)
            goto nomem;
        snprintf(what, sizeof what, "planes%lld_2d", (long long)kd);
        if ((in[0] = reshape(g, &pos, base, what, v, &xd4)) < 0) goto nomem;
        sa.slice_axes[0] = 2;
        sa.starts[0] = kd;
        sa.ends[0] = kd + 1;
        sa.steps[0] = 1;
        v = nd.inputs[1];
        snprintf(what, sizeof what, "weights%lld", (long long)kd);
        if ((v = tsr_pass_emit_node(g, &pos, base, what, TSR_OP_SLICE, &sa, &v, 1, &wsd)) < 0)
            goto nomem;
        snprintf(what, sizeof what, "weights%lld_2d", (long long)kd);
        if ((in[1] = reshape(g, &pos, base, what, v, &wd4)) < 0) goto nomem;
        int n_in = 2;
        if (kd == 0 && nd.n_inputs == 3) in[n_in++] = nd.inputs[2];
        snprintf(what, sizeof what, "tap%lld", (long long)kd);
        if ((v = tsr_pass_emit_node(g, &pos, base, what, TSR_OP_CONV, &ca, in, n_in, &yd4)) < 0)
            goto nomem;
        if (acc >= 0) {
            tsr_value ab[2] = {acc, v};
            snprintf(what, sizeof what, "sum%lld", (long long)kd);
            if ((v = tsr_pass_emit_node(g, &pos, base, what, TSR_OP_ADD, NULL, ab, 2, &yd4)) < 0)
                goto nomem;
        }
        acc = v;
    }
    const struct tsr_tensor_desc rd = {TSR_F32, 5, {N, OD, M, wg.oh, wg.ow}};
    if ((acc = reshape(g, &pos, base, "depth_first_out", acc, &rd)) < 0) goto nomem;
    struct tsr_node *last = &g->nodes[pos];
    last->op = TSR_OP_TRANSPOSE;
    last->attrs = ta;
    last->n_inputs = 1;
    last->inputs[0] = acc;
    return TSR_OK;
nomem:
    return TSR_ERR(g->ctx, TSR_E_NOMEM, "node '%s' (Conv): out of memory", base);
}

tsr_status tsr_pass_decompose(tsr_graph *g, int *n_rewritten) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead) continue;
        tsr_op op = g->nodes[i].op;
        tsr_status st = TSR_OK;
        if (op == TSR_OP_CONVTRANSPOSE)
            st = rewrite_convtranspose(g, i);
        else if (op == TSR_OP_LPPOOL || op == TSR_OP_GLOBALLPPOOL)
            st = rewrite_lppool(g, i);
        else if (op == TSR_OP_CONV && g->values[g->nodes[i].inputs[0]].desc.rank == 5)
            st = rewrite_conv3d(g, i);
        else if (op == TSR_OP_MVN)
            st = rewrite_mvn(g, i);
        else if (op == TSR_OP_LRN)
            st = rewrite_lrn(g, i);
        else if (op == TSR_OP_EINSUM)
            st = rewrite_einsum(g, i);
        else if ((op == TSR_OP_MAXPOOL || op == TSR_OP_AVGPOOL) &&
                 g->values[g->nodes[i].inputs[0]].desc.rank == 5)
            st = rewrite_pool3d(g, i);
        else
            continue;
        if (st != TSR_OK) return st;
        n++;
    }
    if (n_rewritten) *n_rewritten = n;
    return TSR_OK;
}
