/*
 * gelu.c — recognises GELU exported as a decomposition and replaces it with one Gelu node
 * (ONNX Gelu-20), which lowers to one TSR_EW_GELU instruction or, after a MatMul / Gemm / Conv
 * (+ bias), to the TSR_ACT_GELU epilogue. The exact (erf) form, as transformers' BERT-style
 * models export it through torch.onnx before opset 20:
 *   d = Div(x, 1.4142135) or Mul(x, 0.70710678)      e = Erf(d)      a = Add(e, 1)
 *   then one of   Mul(Mul(x, a), 0.5)    Mul(Mul(x, 0.5), a)    Mul(x, Mul(a, 0.5))
 * (operands of every Add / Mul in either order); and the tanh approximation GPT-2's
 * NewGELUActivation exports (Gelu approximate="tanh"):
 *   a = Add(Tanh(Mul(Add(x, Mul(Pow(x, 3), 0.044715)), 0.7978845608)), 1)
 * followed by the same Muls by x and 0.5. Constants are float32 scalars (one element)
 * and must match within 1e-6 relative; every intermediate must feed only the next node of the
 * pattern (and not be a graph output), so nothing the rest of the graph reads disappears.
 */
#include "runtime/passes/passes.h"

#include <math.h>

/* Live readers of v (nodes reading it, each counted once; a graph output counts 100). The first
 * one in *first. */
static int readers(const tsr_graph *g, tsr_value v, int *first) {
    int n = 0;
    *first = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead) continue;
        int reads = 0;
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            reads |= g->nodes[i].inputs[k] == v;
        if (reads && *first < 0) *first = i;
        n += reads;
    }
    for (int o = 0; o < g->n_outputs; o++)
        if (g->outputs[o].value == v) n += 100;
    return n;
}

/* The single live reader of v when it has op `op` and two inputs, or -1. */
static int next_op(const tsr_graph *g, tsr_value v, tsr_op op) {
    int first;
    if (readers(g, v, &first) != 1) return -1;
    const struct tsr_node *n = &g->nodes[first];
    return n->op == op && n->n_inputs == (op == TSR_OP_ERF ? 1 : 2) ? first : -1;
}

/* Is v a float32 constant of one element equal to c within 1e-6 relative? */
static int is_const(const tsr_graph *g, tsr_value v, double c) {
    const struct tsr_value_info *vi = &g->values[v];
    if (!vi->data || vi->desc.dtype != TSR_F32 || tsr_desc_elements(&vi->desc) != 1) return 0;
    return fabs(*(const float *)vi->data - c) <= 1e-6 * fabs(c);
}

/* The operand of two-input node n other than v (v itself for x op x). */
static tsr_value other_input(const struct tsr_node *n, tsr_value v) {
    return n->inputs[0] == v ? n->inputs[1] : n->inputs[0];
}

/* The producer of v among the live nodes, or -1. */
static int producer(const tsr_graph *g, tsr_value v) {
    for (int j = 0; j < g->n_nodes; j++)
        if (!g->nodes[j].dead && g->nodes[j].output == v) return j;
    return -1;
}

/* Two-input node j with op `op` whose one operand is a constant c: the other operand, else -1. */
static tsr_value by_const(const tsr_graph *g, int j, tsr_op op, double c) {
    if (j < 0 || g->nodes[j].op != op || g->nodes[j].n_inputs != 2) return -1;
    const struct tsr_node *n = &g->nodes[j];
    if (is_const(g, n->inputs[1], c)) return n->inputs[0];
    if (op != TSR_OP_POW && op != TSR_OP_DIV && is_const(g, n->inputs[0], c)) return n->inputs[1];
    return -1;
}

/* Tanh node t of GELU's tanh form: x, with the inner nodes in in[0..3]; else -1. Each inner
 * value has exactly one reader (the next node). */
static tsr_value tanh_input(const tsr_graph *g, int t, int in[4]) {
    int first;
    const struct tsr_node *n = &g->nodes[t];
    if (n->dead || n->op != TSR_OP_TANH) return -1;
    const int u = producer(g, n->inputs[0]); /* Mul(s, sqrt(2 / pi)) */
    const tsr_value sv = by_const(g, u, TSR_OP_MUL, 0.7978845608028654);
    const int sn = sv >= 0 ? producer(g, sv) : -1; /* Add(x, q) */
    if (sn < 0 || g->nodes[sn].op != TSR_OP_ADD || g->nodes[sn].n_inputs != 2) return -1;
    for (int k = 0; k < 2; k++) {
        const tsr_value x = g->nodes[sn].inputs[k], q = g->nodes[sn].inputs[1 - k];
        const int qn = producer(g, q); /* Mul(Pow(x, 3), 0.044715) */
        const tsr_value pv = by_const(g, qn, TSR_OP_MUL, 0.044715);
        const int pn = pv >= 0 ? producer(g, pv) : -1;
        if (pn < 0 || by_const(g, pn, TSR_OP_POW, 3.0) != x) continue;
        if (readers(g, g->nodes[u].output, &first) != 1 || readers(g, sv, &first) != 1 ||
            readers(g, q, &first) != 1 || readers(g, pv, &first) != 1)
            return -1;
        in[0] = u, in[1] = sn, in[2] = qn, in[3] = pn;
        return x;
    }
    return -1;
}

/* Node i is Div(x, sqrt 2) or Mul(x, 1 / sqrt 2) (Mul in either order): its x, else -1. */
static tsr_value scaled_input(const tsr_graph *g, const struct tsr_node *n) {
    if (n->dead || n->n_inputs != 2) return -1;
    if (n->op == TSR_OP_DIV && is_const(g, n->inputs[1], 1.4142135623730951)) return n->inputs[0];
    if (n->op == TSR_OP_MUL) {
        if (is_const(g, n->inputs[1], 0.7071067811865476)) return n->inputs[0];
        if (is_const(g, n->inputs[0], 0.7071067811865476)) return n->inputs[1];
    }
    return -1;
}

tsr_status tsr_pass_gelu(tsr_graph *g, int *n_fused) {
    int fused = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        /* the inner part: i the scale and erf the Erf, or erf the Tanh and inner[] its inputs */
        int inner[4] = {-1, -1, -1, -1}, erf = -1, tanh_form = 0;
        tsr_value x = scaled_input(g, &g->nodes[i]);
        if (x >= 0) {
            erf = next_op(g, g->nodes[i].output, TSR_OP_ERF);
            inner[0] = i;
        } else if ((x = tanh_input(g, i, inner)) >= 0) {
            erf = i;
            tanh_form = 1;
        }
        if (x < 0 || erf < 0 || g->values[x].data || g->values[x].desc.dtype != TSR_F32) continue;
        const struct tsr_tensor_desc *xd = &g->values[x].desc;
        int add = next_op(g, g->nodes[erf].output, TSR_OP_ADD);
        if (add < 0 || !is_const(g, other_input(&g->nodes[add], g->nodes[erf].output), 1.0))
            continue;
        const tsr_value av = g->nodes[add].output; /* 1 + erf(x / sqrt 2) */
        int m1 = next_op(g, av, TSR_OP_MUL);
        if (m1 < 0) continue;
        const tsr_value t = other_input(&g->nodes[m1], av);
        int last = -1, half = -1; /* the result's node; the Mul by 0.5 when it is not last */
        if (t == x) {
            /* Mul(Mul(x, a), 0.5) */
            int m2 = next_op(g, g->nodes[m1].output, TSR_OP_MUL);
            if (m2 >= 0 && is_const(g, other_input(&g->nodes[m2], g->nodes[m1].output), 0.5))
                last = m2;
        } else if (is_const(g, t, 0.5)) {
            /* Mul(x, Mul(a, 0.5)) */
            int m2 = next_op(g, g->nodes[m1].output, TSR_OP_MUL);
            if (m2 >= 0 && other_input(&g->nodes[m2], g->nodes[m1].output) == x) last = m2;
        } else {
            /* Mul(Mul(x, 0.5), a): t is the half, read only by m1 */
            int first;
            for (int j = 0; j < g->n_nodes && half < 0; j++)
                if (!g->nodes[j].dead && g->nodes[j].output == t) half = j;
            if (half >= 0 && g->nodes[half].op == TSR_OP_MUL && g->nodes[half].n_inputs == 2 &&
                readers(g, t, &first) == 1 &&
                ((g->nodes[half].inputs[0] == x && is_const(g, g->nodes[half].inputs[1], 0.5)) ||
                 (g->nodes[half].inputs[1] == x && is_const(g, g->nodes[half].inputs[0], 0.5))))
                last = m1;
        }
        if (last < 0 || !tsr_desc_equal(&g->values[g->nodes[last].output].desc, xd)) continue;
        /* The last node becomes the Gelu; the others die (their outputs have no other reader). */
        int dead[] = {inner[0], inner[1], inner[2], inner[3], erf, add, m1, half};
        struct tsr_node *ge = &g->nodes[last];
        for (size_t k = 0; k < sizeof dead / sizeof dead[0]; k++)
            if (dead[k] >= 0 && dead[k] != last) {
                g->nodes[dead[k]].dead = 1;
                if (tsr_node_absorb(ge, &g->nodes[dead[k]]))
                    return TSR_ERR(g->ctx, TSR_E_NOMEM, "gelu fusion: out of memory");
            }
        ge->op = TSR_OP_GELU;
        ge->attrs = tsr_op_attrs_default();
        ge->attrs.gelu_tanh = tanh_form;
        ge->inputs[0] = x;
        ge->n_inputs = 1;
        fused++;
    }
    if (n_fused) *n_fused = fused;
    return TSR_OK;
}
