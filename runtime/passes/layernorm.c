/*
 * layernorm.c — recognises layer normalisation exported as a decomposition (PyTorch's ONNX
 * export before opset 17 writes nn.LayerNorm as):
 *   m = ReduceMean(x, axes = trailing, keepdims 1)      d = Sub(x, m)
 *   v = ReduceMean(Pow(d, 2), same axes, keepdims 1)    y = Div(d, Sqrt(Add(v, eps)))
 *   [y = Mul(y, scale)]  [y = Add(y, bias)]
 * and replaces it with one LayerNormalization node (ONNX LayerNormalization-17 semantics: biased
 * variance over the trailing axes), which lowers to one fused kernel.
 */
#include "runtime/passes/passes.h"

#include <stdlib.h>
#include <string.h>

/* Live consumers of v (count, and the first one in *first). Graph outputs count as a use. */
static int uses(const tsr_graph *g, tsr_value v, int *first) {
    int n = 0;
    *first = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead) continue;
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] == v) {
                if (*first < 0) *first = i;
                n++;
            }
    }
    for (int o = 0; o < g->n_outputs; o++)
        if (g->outputs[o].value == v) n += 100;
    return n;
}

/* The single live consumer of v with op `op`, or -1. */
static int next_op(const tsr_graph *g, tsr_value v, tsr_op op) {
    int first;
    if (uses(g, v, &first) != 1) return -1;
    return g->nodes[first].op == op ? first : -1;
}

/* Scalar constant value of v (one element), or NAN-free check failure → 0. */
static int scalar_const(const tsr_graph *g, tsr_value v, float *out) {
    const struct tsr_value_info *vi = &g->values[v];
    if (!vi->data || vi->desc.dtype != TSR_F32 || tsr_desc_elements(&vi->desc) != 1) return 0;
    *out = *(const float *)vi->data;
    return 1;
}

/* First trailing reduced axis when a ReduceMean reduces exactly the trailing axes [a, rank)
 * with keepdims; else -1. */
static int trailing_axis(const tsr_graph *g, const struct tsr_node *n) {
    int rank = g->values[n->inputs[0]].desc.rank;
    unsigned mask;
    if (n->op != TSR_OP_REDUCEMEAN || !n->attrs.keepdims ||
        tsr_reduce_mask(&n->attrs, rank, &mask) || mask == 0)
        return -1;
    int a = rank;
    while (a > 0 && (mask & (1u << (a - 1))))
        a--;
    return mask == ((1u << rank) - 1) - ((1u << a) - 1) ? a : -1;
}

/* Is v a constant holding exactly `len` elements (the normalised dims)? */
static int param_const(const tsr_graph *g, tsr_value v, int64_t len) {
    const struct tsr_value_info *vi = &g->values[v];
    return vi->data && vi->desc.dtype == TSR_F32 && tsr_desc_elements(&vi->desc) == len;
}

tsr_status tsr_pass_layernorm(tsr_graph *g, int *n_fused) {
    int fused = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        struct tsr_node *r1 = &g->nodes[i];
        if (r1->dead) continue;
        int axis = trailing_axis(g, r1);
        if (axis < 0) continue;
        tsr_value x = r1->inputs[0];
        const struct tsr_tensor_desc *xd = &g->values[x].desc;
        int64_t len = 1;
        for (int d = axis; d < xd->rank; d++)
            len *= xd->dims[d];
        int sub = next_op(g, r1->output, TSR_OP_SUB);
        if (sub < 0 || g->nodes[sub].inputs[0] != x || g->nodes[sub].inputs[1] != r1->output)
            continue;
        tsr_value dv = g->nodes[sub].output;
        /* d feeds exactly a Pow and a Div. */
        int pw = -1, dv_div = -1, first;
        if (uses(g, dv, &first) != 2) continue;
        for (int j = 0; j < g->n_nodes; j++) {
            const struct tsr_node *m = &g->nodes[j];
            if (m->dead || m->n_inputs < 1 || m->inputs[0] != dv) continue;
            if (m->op == TSR_OP_POW) pw = j;
            if (m->op == TSR_OP_DIV) dv_div = j;
        }
        float two, eps;
        if (pw < 0 || dv_div < 0 || !scalar_const(g, g->nodes[pw].inputs[1], &two) || two != 2.0f)
            continue;
        int r2 = next_op(g, g->nodes[pw].output, TSR_OP_REDUCEMEAN);
        if (r2 < 0 || trailing_axis(g, &g->nodes[r2]) != axis) continue;
        int add = next_op(g, g->nodes[r2].output, TSR_OP_ADD);
        if (add < 0 || g->nodes[add].inputs[0] != g->nodes[r2].output ||
            !scalar_const(g, g->nodes[add].inputs[1], &eps))
            continue;
        int sq = next_op(g, g->nodes[add].output, TSR_OP_SQRT);
        if (sq < 0 || next_op(g, g->nodes[sq].output, TSR_OP_DIV) != dv_div ||
            g->nodes[dv_div].inputs[1] != g->nodes[sq].output)
            continue;
        /* Optional affine tail. */
        int last = dv_div;
        tsr_value scale = -1, bias = -1;
        int mul = next_op(g, g->nodes[last].output, TSR_OP_MUL);
        if (mul >= 0) {
            const struct tsr_node *m = &g->nodes[mul];
            tsr_value other = m->inputs[0] == g->nodes[last].output ? m->inputs[1] : m->inputs[0];
            if (param_const(g, other, len) && tsr_desc_equal(&g->values[m->output].desc, xd)) {
                scale = other;
                last = mul;
            }
        }
        if (last != mul) mul = -1; /* a Mul that is not the scale (a mask, say) stays */
        int ad = next_op(g, g->nodes[last].output, TSR_OP_ADD);
        if (ad >= 0) {
            const struct tsr_node *m = &g->nodes[ad];
            tsr_value other = m->inputs[0] == g->nodes[last].output ? m->inputs[1] : m->inputs[0];
            if (param_const(g, other, len) && tsr_desc_equal(&g->values[m->output].desc, xd)) {
                bias = other;
                last = ad;
            }
        }
        if (last != ad) ad = -1; /* likewise an Add that is not the bias */
        if (scale < 0) {
            float *ones = tsr_aligned_alloc((size_t)len * sizeof(float));
            if (!ones) return TSR_ERR(g->ctx, TSR_E_NOMEM, "layernorm fusion: out of memory");
            for (int64_t k = 0; k < len; k++)
                ones[k] = 1.0f;
            struct tsr_tensor_desc od = {TSR_F32, 1, {len}};
            scale = tsr_graph_new_value(g, "layernorm_scale", &od, ones);
            if (scale < 0) return TSR_ERR(g->ctx, TSR_E_NOMEM, "layernorm fusion: out of memory");
        }
        /* The last node becomes the LayerNormalization; the others die. */
        int dead[] = {i, sub, pw, r2, add, sq, dv_div, mul, ad};
        struct tsr_node *ln = &g->nodes[last];
        for (size_t k = 0; k < sizeof dead / sizeof dead[0]; k++)
            if (dead[k] >= 0 && dead[k] != last) {
                g->nodes[dead[k]].dead = 1;
                if (tsr_node_absorb(ln, &g->nodes[dead[k]]))
                    return TSR_ERR(g->ctx, TSR_E_NOMEM, "layernorm fusion: out of memory");
            }
        ln->op = TSR_OP_LAYERNORM;
        ln->attrs = tsr_op_attrs_default();
        ln->attrs.axis = axis;
        ln->attrs.epsilon = eps;
        ln->inputs[0] = x;
        ln->inputs[1] = scale;
        ln->n_inputs = 2;
        if (bias >= 0) ln->inputs[ln->n_inputs++] = bias;
        fused++;
    }
    if (n_fused) *n_fused = fused;
    return TSR_OK;
}
