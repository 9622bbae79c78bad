/* simplify.c — algebraic simplification (see passes.h). */
#include "runtime/passes/passes.h"

/* Is constant value v all `want` (every element)? */
static int const_all(const tsr_graph *g, tsr_value v, float want) {
    const struct tsr_value_info *vi = &g->values[v];
    if (!vi->data || vi->desc.dtype != TSR_F32) return 0;
    const float *d = vi->data;
    for (int64_t i = 0; i < tsr_desc_elements(&vi->desc); i++)
        if (d[i] != want) return 0;
    return 1;
}

/* The input a node can be replaced by, or -1. */
static tsr_value identity_input(const tsr_graph *g, const struct tsr_node *n) {
    const struct tsr_tensor_desc *yd = &g->values[n->output].desc;
    switch (n->op) {
    case TSR_OP_IDENTITY:
        return n->inputs[0];
    case TSR_OP_RESHAPE:
    case TSR_OP_FLATTEN:
        return tsr_desc_equal(&g->values[n->inputs[0]].desc, yd) ? n->inputs[0] : -1;
    case TSR_OP_TRANSPOSE: {
        int64_t perm[TSR_MAX_RANK];
        int rank = g->values[n->inputs[0]].desc.rank;
        if (tsr_transpose_perm(&n->attrs, rank, perm)) return -1;
        /* Identity perm, or one that only moves size-1 dims (same memory order). */
        int last = -1;
        for (int d = 0; d < rank; d++) {
            if (g->values[n->inputs[0]].desc.dims[perm[d]] == 1) continue;
            if (perm[d] < last) return -1;
            last = (int)perm[d];
        }
        return n->inputs[0];
    }
    case TSR_OP_MUL:
    case TSR_OP_ADD:
        for (int k = 0; k < 2; k++)
            if (const_all(g, n->inputs[1 - k], n->op == TSR_OP_MUL ? 1.0f : 0.0f) &&
                tsr_desc_equal(&g->values[n->inputs[k]].desc, yd))
                return n->inputs[k];
        return -1;
    case TSR_OP_SUB:
    case TSR_OP_DIV:
        if (const_all(g, n->inputs[1], n->op == TSR_OP_DIV ? 1.0f : 0.0f) &&
            tsr_desc_equal(&g->values[n->inputs[0]].desc, yd))
            return n->inputs[0];
        return -1;
    default:
        return -1;
    }
}

tsr_status tsr_pass_simplify(tsr_graph *g, int *n_removed) {
    int removed = 0;
    tsr_value *fwd = tsr_value_forward_create(g); /* O(nodes) in all: graph.h */
    if (!fwd) return TSR_ERR(g->ctx, TSR_E_NOMEM, "simplify: out of memory");
    for (int i = 0; i < g->n_nodes; i++) {
        struct tsr_node *n = &g->nodes[i];
        if (n->dead) continue;
        tsr_value_forward_inputs(fwd, n);
        tsr_value x = identity_input(g, n);
        if (x < 0) continue;
        /* A Transpose that only moves size-1 dims still changes the desc: keep it as a view
         * (Reshape) unless shapes are equal. */
        if (!tsr_desc_equal(&g->values[x].desc, &g->values[n->output].desc)) {
            if (n->op != TSR_OP_TRANSPOSE) continue;
            n->op = TSR_OP_FLATTEN; /* a view: Flatten/Reshape lower to no kernel */
            continue;
        }
        fwd[n->output] = x;
        n->dead = 1;
        removed++;
    }
    tsr_value_forward_finish(g, fwd);
    if (n_removed) *n_removed = removed;
    return TSR_OK;
}
