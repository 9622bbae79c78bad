/* fold.c — constant folding with the scalar reference (see passes.h). */
#include "runtime/passes/passes.h"
#include "runtime/reference.h"

#include <string.h>

tsr_status tsr_pass_fold(tsr_graph *g, int *n_folded) {
    int folded = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        struct tsr_node *n = &g->nodes[i];
        if (n->dead) continue;
        /* Shape and Size read only their input's desc (known dims): constants too. */
        int all_const = 1;
        for (int k = 0; k < n->n_inputs; k++)
            if (!g->values[n->inputs[k]].data) all_const = 0;
        if (n->op == TSR_OP_SHAPE || n->op == TSR_OP_SIZE) all_const = 1;
        if (!all_const) continue;
        struct tsr_value_info *ov = &g->values[n->output];
        if (ov->data) { /* evaluated when the node was added (tsr_graph_op) */
            ov->producer = -1;
            n->dead = 1;
            folded++;
            continue;
        }
        struct tsr_tensor out;
        tsr_status st = tsr_tensor_alloc(&ov->desc, &out);
        if (st != TSR_OK) return TSR_ERR(g->ctx, TSR_E_NOMEM, "constant folding: out of memory");
        struct tsr_tensor ins[TSR_NODE_MAX_INPUTS];
        const struct tsr_tensor *in[TSR_NODE_MAX_INPUTS];
        for (int k = 0; k < n->n_inputs; k++) {
            ins[k].desc = g->values[n->inputs[k]].desc;
            ins[k].data = g->values[n->inputs[k]].data;
            in[k] = &ins[k];
        }
        st = tsr_ref_eval_node(g->ctx, n, in, &out);
        if (st != TSR_OK) {
            tsr_tensor_free(&out);
            return st;
        }
        ov->data = out.data;
        ov->producer = -1;
        n->dead = 1;
        folded++;
    }
    if (n_folded) *n_folded = folded;
    return TSR_OK;
}
