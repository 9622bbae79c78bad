/* dce.c — dead-code elimination (see passes.h): a reverse sweep marking what outputs need. */
#include "runtime/passes/passes.h"

#include <stdlib.h>

tsr_status tsr_pass_dce(tsr_graph *g, int *n_removed) {
    unsigned char *live = calloc((size_t)g->n_values + 1, 1);
    if (!live) return TSR_ERR(g->ctx, TSR_E_NOMEM, "dead-code elimination: out of memory");
    for (int o = 0; o < g->n_outputs; o++)
        live[g->outputs[o].value] = 1;
    int removed = 0;
    /* Nodes are in topological order (the builder only accepts existing values as inputs). */
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        struct tsr_node *n = &g->nodes[i];
        if (n->dead) continue;
        if (!live[n->output]) {
            n->dead = 1;
            removed++;
            continue;
        }
        for (int k = 0; k < n->n_inputs; k++)
            live[n->inputs[k]] = 1;
    }
    free(live);
    if (n_removed) *n_removed = removed;
    return TSR_OK;
}
