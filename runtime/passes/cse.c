/* cse.c — common-subexpression elimination (see passes.h). Quadratic in the node count, which is
 * fine for the graphs tessera compiles (hundreds to a few thousand nodes). */
#include "runtime/passes/passes.h"

#include <string.h>

static int same_attrs(const struct tsr_op_attrs *a, const struct tsr_op_attrs *b) {
    /* tsr_op_attrs_default() and the importer fill every field, padding included (memset). */
    return memcmp(a, b, sizeof *a) == 0;
}

static int same_constant(const tsr_graph *g, tsr_value a, tsr_value b) {
    const struct tsr_value_info *x = &g->values[a], *y = &g->values[b];
    if (!x->data || !y->data || !tsr_desc_equal(&x->desc, &y->desc)) return 0;
    return memcmp(x->data, y->data, tsr_desc_bytes(&x->desc)) == 0;
}

tsr_status tsr_pass_cse(tsr_graph *g, int *n_removed) {
    int removed = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        struct tsr_node *n = &g->nodes[i];
        if (n->dead) continue;
        /* Inputs that are duplicate constants read the first copy. */
        for (int k = 0; k < n->n_inputs; k++) {
            tsr_value v = n->inputs[k];
            if (!g->values[v].data || tsr_desc_elements(&g->values[v].desc) > 4096) continue;
            for (tsr_value u = 0; u < v; u++)
                if (same_constant(g, u, v)) {
                    n->inputs[k] = u;
                    break;
                }
        }
        for (int j = 0; j < i; j++) {
            const struct tsr_node *m = &g->nodes[j];
            if (m->dead || m->op != n->op || m->n_inputs != n->n_inputs) continue;
            if (memcmp(m->inputs, n->inputs, sizeof(tsr_value) * (size_t)n->n_inputs)) continue;
            if (!same_attrs(&m->attrs, &n->attrs)) continue;
            tsr_graph_replace_uses(g, n->output, m->output);
            n->dead = 1;
            removed++;
            break;
        }
    }
    if (n_removed) *n_removed = removed;
    return TSR_OK;
}
