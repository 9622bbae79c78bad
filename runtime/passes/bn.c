/*
 * bn.c — BatchNormalization folding (see passes.h).
 *
 * Inference-mode BatchNormalization is per-channel affine (ONNX BatchNormalization):
 *   y = (x - mean) / sqrt(var + epsilon) * scale + B = x * s + t,
 *   s = scale / sqrt(var + epsilon),  t = B - mean * s.
 * Into a preceding Conv (weights [M, C/g, kH, kW], bias [M]):  W'[m] = W[m] * s[m],
 *   b'[m] = b[m] * s[m] + t[m]  (Jacob et al. 2018, "Quantization and Training of Neural Networks
 *   for Efficient Integer-Arithmetic-Only Inference", section 3.2, the same folding).
 * Into a preceding Gemm (output [M, N], channel = N): B'[:, n] = B[:, n] * s[n],
 *   C' = beta * C * s + t (broadcast to [1, N] or [M, N]), beta' = 1.
 * Otherwise the node becomes Mul(x, s) followed by Add(., t), which elementwise fusion merges
 * with its neighbours.
 */
#include "runtime/passes/passes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *new_floats(int64_t n) {
    return tsr_aligned_alloc((size_t)(n ? n : 1) * sizeof(float));
}

/* Is value v read by exactly one live node and no graph output? */
static int single_use(const tsr_graph *g, tsr_value v) {
    int uses = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead) continue;
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] == v) uses++;
    }
    for (int o = 0; o < g->n_outputs; o++)
        if (g->outputs[o].value == v) return 0;
    return uses == 1;
}

/* Gives the BN output value to producer node p (so the folded node writes it). */
static void take_output(tsr_graph *g, int p, struct tsr_node *bn) {
    (void)tsr_node_absorb(&g->nodes[p], bn); /* only --explain's node list would miss it */
    g->values[g->nodes[p].output].producer = -1;
    g->nodes[p].output = bn->output;
    g->values[bn->output].producer = p;
    bn->dead = 1;
}

static tsr_status fold_conv(tsr_graph *g, int p, struct tsr_node *bn, const float *sc,
                            const float *t) {
    struct tsr_node *cv = &g->nodes[p];
    const struct tsr_value_info *w = &g->values[cv->inputs[1]];
    int64_t M = w->desc.dims[0], per = tsr_desc_elements(&w->desc) / (M ? M : 1);
    const float *b = cv->n_inputs == 3 ? g->values[cv->inputs[2]].data : NULL;
    float *w2 = new_floats(M * per), *b2 = new_floats(M);
    if (!w2 || !b2) goto nomem;
    for (int64_t m = 0; m < M; m++) {
        for (int64_t j = 0; j < per; j++)
            w2[m * per + j] = ((const float *)w->data)[m * per + j] * sc[m];
        b2[m] = (b ? b[m] : 0.0f) * sc[m] + t[m];
    }
    struct tsr_tensor_desc bd = {TSR_F32, 1, {M}};
    struct tsr_tensor_desc wd = w->desc; /* new_value may move g->values */
    tsr_value wv = tsr_graph_new_value(g, "bn_folded_weight", &wd, w2);
    w2 = NULL;
    if (wv < 0) goto nomem;
    tsr_value bv = tsr_graph_new_value(g, "bn_folded_bias", &bd, b2);
    b2 = NULL;
    if (bv < 0) goto nomem;
    cv = &g->nodes[p]; /* values may have moved, nodes did not */
    cv->inputs[1] = wv;
    cv->inputs[2] = bv;
    cv->n_inputs = 3;
    take_output(g, p, bn);
    return TSR_OK;
nomem:
    tsr_aligned_free(w2);
    tsr_aligned_free(b2);
    return TSR_ERR(g->ctx, TSR_E_NOMEM, "BatchNormalization folding: out of memory");
}

static tsr_status fold_gemm(tsr_graph *g, int p, struct tsr_node *bn, const float *sc,
                            const float *t) {
    struct tsr_node *gm = &g->nodes[p];
    const struct tsr_value_info *bv = &g->values[gm->inputs[1]];
    int64_t M = g->values[gm->output].desc.dims[0], N = g->values[gm->output].desc.dims[1];
    int64_t rows = bv->desc.dims[0], cols = bv->desc.dims[1];
    float *b2 = new_floats(rows * cols);
    /* C' keeps C's row dependence: [M, N] when C varies along M, else [1, N]. */
    const struct tsr_value_info *cvi = gm->n_inputs == 3 ? &g->values[gm->inputs[2]] : NULL;
    int c_rows = cvi && cvi->desc.rank == 2 && cvi->desc.dims[0] == M && M != 1 ? (int)M : 1;
    float *c2 = new_floats(c_rows * N);
    if (!b2 || !c2) goto nomem;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            int64_t n = gm->attrs.trans_b ? r : c;
            b2[r * cols + c] = ((const float *)bv->data)[r * cols + c] * sc[n];
        }
    for (int64_t m = 0; m < c_rows; m++)
        for (int64_t n = 0; n < N; n++) {
            double cval = 0.0;
            if (cvi) {
                /* unidirectional broadcast of C to [M, N] */
                const struct tsr_tensor_desc *cd = &cvi->desc;
                int64_t cn = cd->rank >= 1 && cd->dims[cd->rank - 1] != 1 ? n : 0;
                int64_t cm = cd->rank == 2 && cd->dims[0] != 1 ? m : 0;
                int64_t ld = cd->rank >= 1 ? cd->dims[cd->rank - 1] : 1;
                cval = ((const float *)cvi->data)[cm * ld + cn];
            }
            c2[m * N + n] = (float)(gm->attrs.beta * cval * sc[n] + t[n]);
        }
    struct tsr_tensor_desc cdsc = {TSR_F32, 2, {c_rows, N}};
    struct tsr_tensor_desc bdsc = bv->desc; /* new_value may move g->values */
    tsr_value nb = tsr_graph_new_value(g, "bn_folded_weight", &bdsc, b2);
    b2 = NULL;
    if (nb < 0) goto nomem;
    tsr_value nc = tsr_graph_new_value(g, "bn_folded_bias", &cdsc, c2);
    c2 = NULL;
    if (nc < 0) goto nomem;
    gm = &g->nodes[p];
    gm->inputs[1] = nb;
    gm->inputs[2] = nc;
    gm->n_inputs = 3;
    gm->attrs.beta = 1.0f;
    take_output(g, p, bn);
    return TSR_OK;
nomem:
    tsr_aligned_free(b2);
    tsr_aligned_free(c2);
    return TSR_ERR(g->ctx, TSR_E_NOMEM, "BatchNormalization folding: out of memory");
}

/* BN → Mul(x, s) + Add(., t) with s, t shaped [C, 1, ...] to broadcast over NC... */
static tsr_status to_affine(tsr_graph *g, int i, const float *sc, const float *t) {
    struct tsr_node *bn = &g->nodes[i];
    const struct tsr_tensor_desc xdesc = g->values[bn->inputs[0]].desc, *xd = &xdesc;
    int64_t C = xd->dims[1];
    struct tsr_tensor_desc pd = {TSR_F32, xd->rank - 1, {C}};
    for (int d = 1; d < pd.rank; d++)
        pd.dims[d] = 1;
    float *s2 = new_floats(C), *t2 = new_floats(C);
    if (!s2 || !t2) {
        tsr_aligned_free(s2);
        tsr_aligned_free(t2);
        return TSR_ERR(g->ctx, TSR_E_NOMEM, "BatchNormalization: out of memory");
    }
    memcpy(s2, sc, sizeof(float) * (size_t)C);
    memcpy(t2, t, sizeof(float) * (size_t)C);
    tsr_value sv = tsr_graph_new_value(g, "bn_scale", &pd, s2);
    tsr_value tv = sv >= 0 ? tsr_graph_new_value(g, "bn_shift", &pd, t2) : -1;
    if (sv < 0) tsr_aligned_free(t2);
    tsr_value mid = tv >= 0 ? tsr_graph_new_value(g, "bn_scaled", xd, NULL) : -1;
    if (mid < 0) return TSR_ERR(g->ctx, TSR_E_NOMEM, "BatchNormalization: out of memory");
    bn = &g->nodes[i];
    struct tsr_node add = *bn;
    char add_name[256];
    snprintf(add_name, sizeof add_name, "%s:shift", bn->name);
    add.name = add_name;
    add.absorbed = NULL;
    add.op = TSR_OP_ADD;
    add.n_inputs = 2;
    add.inputs[0] = mid;
    add.inputs[1] = tv;
    add.attrs = tsr_op_attrs_default();
    bn->op = TSR_OP_MUL;
    bn->n_inputs = 2;
    bn->inputs[1] = sv;
    bn->output = mid;
    g->values[mid].producer = i;
    if (tsr_graph_insert_node(g, i + 1, &add))
        return TSR_ERR(g->ctx, TSR_E_NOMEM, "BatchNormalization: out of memory");
    return TSR_OK;
}

tsr_value tsr_pass_emit_node(tsr_graph *g, int *pos, const char *bn_name, const char *what,
                             tsr_op op, const struct tsr_op_attrs *at, const tsr_value *in, int n,
                             const struct tsr_tensor_desc *od) {
    char name[256];
    snprintf(name, sizeof name, "%s:%s", bn_name, what);
    tsr_value out = tsr_graph_new_value(g, name, od, NULL);
    if (out < 0) return -1;
    struct tsr_node nd;
    memset(&nd, 0, sizeof nd);
    nd.op = op;
    nd.name = name;
    nd.n_inputs = n;
    for (int k = 0; k < n; k++)
        nd.inputs[k] = in[k];
    nd.output = out;
    nd.attrs = at ? *at : tsr_op_attrs_default();
    if (tsr_graph_insert_node(g, *pos, &nd)) return -1;
    (*pos)++;
    return out;
}

/* BN whose scale, B, mean or var is not a constant (ONNX BatchNormalization, inference):
 * y = (x - mean) / sqrt(var + epsilon) * scale + B, written as Sub, Div, Sqrt, Add, Mul nodes
 * with the [C] parameters unsqueezed to [C, 1, ...] (multidirectional broadcasting over
 * [N, C, D1, ...]); elementwise fusion lowers them to one region. Node i becomes the last Add. */
static tsr_status to_elementwise(tsr_graph *g, int i) {
    int pos = i;
    struct tsr_node bn0 = g->nodes[i];
    char bn_name[192];
    snprintf(bn_name, sizeof bn_name, "%s", bn0.name ? bn0.name : "BatchNormalization");
    const struct tsr_tensor_desc xd = g->values[bn0.inputs[0]].desc;
    int64_t C = xd.dims[1];
    struct tsr_tensor_desc pd = {TSR_F32, xd.rank - 1, {C}};
    for (int d = 1; d < pd.rank; d++)
        pd.dims[d] = 1;
    tsr_value p[5];
    static const char *const names[5] = {"", "scale", "bias", "mean", "var"};
    for (int k = 1; k < 5; k++) {
        p[k] = bn0.inputs[k];
        if (pd.rank == 1) continue;
        struct tsr_op_attrs ua = tsr_op_attrs_default();
        ua.n_axes = pd.rank - 1;
        for (int d = 1; d < pd.rank; d++)
            ua.axes[d - 1] = d;
        p[k] = tsr_pass_emit_node(g, &pos, bn_name, names[k], TSR_OP_UNSQUEEZE, &ua, &p[k], 1, &pd);
        if (p[k] < 0) goto nomem;
    }
    float *eps = new_floats(1);
    if (!eps) goto nomem;
    eps[0] = bn0.attrs.epsilon;
    struct tsr_tensor_desc sd = {TSR_F32, 0, {0}};
    tsr_value ev = tsr_graph_new_value(g, "bn_epsilon", &sd, eps);
    if (ev < 0) goto nomem;
    tsr_value in2[2] = {p[4], ev};
    tsr_value v = tsr_pass_emit_node(g, &pos, bn_name, "var_eps", TSR_OP_ADD, NULL, in2, 2, &pd);
    if (v < 0) goto nomem;
    tsr_value sq = tsr_pass_emit_node(g, &pos, bn_name, "std", TSR_OP_SQRT, NULL, &v, 1, &pd);
    if (sq < 0) goto nomem;
    in2[0] = bn0.inputs[0];
    in2[1] = p[3];
    tsr_value c = tsr_pass_emit_node(g, &pos, bn_name, "centered", TSR_OP_SUB, NULL, in2, 2, &xd);
    if (c < 0) goto nomem;
    in2[0] = c;
    in2[1] = sq;
    tsr_value nrm =
        tsr_pass_emit_node(g, &pos, bn_name, "normalized", TSR_OP_DIV, NULL, in2, 2, &xd);
    if (nrm < 0) goto nomem;
    in2[0] = nrm;
    in2[1] = p[1];
    tsr_value sc = tsr_pass_emit_node(g, &pos, bn_name, "scaled", TSR_OP_MUL, NULL, in2, 2, &xd);
    if (sc < 0) goto nomem;
    struct tsr_node *bn = &g->nodes[pos];
    bn->op = TSR_OP_ADD;
    bn->n_inputs = 2;
    bn->inputs[0] = sc;
    bn->inputs[1] = p[2];
    bn->attrs = tsr_op_attrs_default();
    return TSR_OK;
nomem:
    return TSR_ERR(g->ctx, TSR_E_NOMEM, "BatchNormalization: out of memory");
}

tsr_status tsr_pass_bn(tsr_graph *g, int fold, int *n_folded) {
    int folded = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        struct tsr_node *bn = &g->nodes[i];
        if (bn->dead || bn->op != TSR_OP_BATCHNORM) continue;
        int all_const = 1;
        for (int k = 1; k < 5; k++)
            if (!g->values[bn->inputs[k]].data) all_const = 0;
        if (!all_const) {
            tsr_status st = to_elementwise(g, i);
            if (st != TSR_OK) return st;
            folded++;
            continue;
        }
        int64_t C = g->values[bn->inputs[0]].desc.dims[1];
        float *sc = new_floats(C), *t = new_floats(C);
        if (!sc || !t) {
            tsr_aligned_free(sc);
            tsr_aligned_free(t);
            return TSR_ERR(g->ctx, TSR_E_NOMEM, "BatchNormalization: out of memory");
        }
        const float *scale = g->values[bn->inputs[1]].data, *B = g->values[bn->inputs[2]].data;
        const float *mean = g->values[bn->inputs[3]].data, *var = g->values[bn->inputs[4]].data;
        for (int64_t c = 0; c < C; c++) {
            double s = scale[c] / sqrt((double)var[c] + bn->attrs.epsilon);
            sc[c] = (float)s;
            t[c] = (float)(B[c] - mean[c] * s);
        }
        tsr_value x = bn->inputs[0];
        int p = g->values[x].producer;
        const struct tsr_node *pn = p >= 0 ? &g->nodes[p] : NULL;
        tsr_status st;
        if (fold && pn && !pn->dead && single_use(g, x) && pn->op == TSR_OP_CONV &&
            g->values[pn->inputs[1]].data && (pn->n_inputs < 3 || g->values[pn->inputs[2]].data)) {
            st = fold_conv(g, p, bn, sc, t);
        } else if (fold && pn && !pn->dead && single_use(g, x) && pn->op == TSR_OP_GEMM &&
                   g->values[x].desc.rank == 2 && g->values[pn->inputs[1]].data &&
                   (pn->n_inputs < 3 || g->values[pn->inputs[2]].data)) {
            st = fold_gemm(g, p, bn, sc, t);
        } else {
            st = to_affine(g, i, sc, t);
        }
        tsr_aligned_free(sc);
        tsr_aligned_free(t);
        if (st != TSR_OK) return st;
        folded++;
    }
    if (n_folded) *n_folded = folded;
    return TSR_OK;
}
