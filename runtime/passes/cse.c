/* cse.c — common-subexpression elimination (see passes.h). One walk over the nodes in order with
 * two hash tables (open addressing, FNV-1a): live nodes keyed by op and inputs (attributes
 * compared on a hit), and small constants keyed by desc and bytes. O(nodes) on average. */
#include "runtime/passes/passes.h"

#include <stdlib.h>
#include <string.h>

/* Constants up to this many elements are merged with an identical earlier one. */
#define TSR_CSE_CONST_MAX 4096

static int same_attrs(const struct tsr_op_attrs *a, const struct tsr_op_attrs *b) {
    /* tsr_op_attrs_default() and the importer fill every field, padding included (memset). */
    return memcmp(a, b, sizeof *a) == 0;
}

static int same_constant(const tsr_graph *g, tsr_value a, tsr_value b) {
    const struct tsr_value_info *x = &g->values[a], *y = &g->values[b];
    if (!x->data || !y->data || !tsr_desc_equal(&x->desc, &y->desc)) return 0;
    return memcmp(x->data, y->data, tsr_desc_bytes(&x->desc)) == 0;
}

static uint32_t fnv(uint32_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static uint32_t node_key(const struct tsr_node *n) {
    uint32_t h = fnv(2166136261u, &n->op, sizeof n->op);
    h = fnv(h, &n->n_inputs, sizeof n->n_inputs);
    return fnv(h, n->inputs, sizeof(tsr_value) * (size_t)n->n_inputs);
}

static uint32_t const_key(const struct tsr_value_info *v) {
    uint32_t h = fnv(2166136261u, &v->desc.dtype, sizeof v->desc.dtype);
    h = fnv(h, &v->desc.rank, sizeof v->desc.rank);
    h = fnv(h, v->desc.dims, sizeof(int64_t) * (size_t)v->desc.rank);
    return fnv(h, v->data, tsr_desc_bytes(&v->desc));
}

/* A table of ids (-1: empty) of capacity a power of two >= 2 x what it will hold. */
struct cse_table {
    int *slot;
    size_t mask;
};

static int table_init(struct cse_table *t, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    t->slot = malloc(cap * sizeof *t->slot);
    t->mask = cap - 1;
    if (!t->slot) return -1;
    for (size_t i = 0; i < cap; i++)
        t->slot[i] = -1;
    return 0;
}

tsr_status tsr_pass_cse(tsr_graph *g, int *n_removed) {
    int removed = 0;
    struct cse_table nodes = {0}, consts = {0};
    tsr_value *fwd = tsr_value_forward_create(g);
    if (!fwd || table_init(&nodes, (size_t)g->n_nodes) ||
        table_init(&consts, (size_t)g->n_values)) {
        free(fwd);
        free(nodes.slot);
        free(consts.slot);
        return TSR_ERR(g->ctx, TSR_E_NOMEM, "cse: out of memory");
    }
    /* Every small constant, the first of identical ones kept: inputs read that one. */
    for (tsr_value v = 0; v < g->n_values; v++) {
        const struct tsr_value_info *vi = &g->values[v];
        if (!vi->data || tsr_desc_elements(&vi->desc) > TSR_CSE_CONST_MAX) continue;
        size_t i = const_key(vi) & consts.mask;
        while (consts.slot[i] >= 0 && !same_constant(g, consts.slot[i], v))
            i = (i + 1) & consts.mask;
        if (consts.slot[i] < 0) consts.slot[i] = v;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        struct tsr_node *n = &g->nodes[i];
        if (n->dead) continue;
        tsr_value_forward_inputs(fwd, n);
        for (int k = 0; k < n->n_inputs; k++) {
            const struct tsr_value_info *vi = &g->values[n->inputs[k]];
            if (!vi->data || tsr_desc_elements(&vi->desc) > TSR_CSE_CONST_MAX) continue;
            size_t s = const_key(vi) & consts.mask;
            while (!same_constant(g, consts.slot[s], n->inputs[k]))
                s = (s + 1) & consts.mask;
            n->inputs[k] = consts.slot[s];
        }
        size_t s = node_key(n) & nodes.mask;
        for (; nodes.slot[s] >= 0; s = (s + 1) & nodes.mask) {
            const struct tsr_node *m = &g->nodes[nodes.slot[s]];
            if (m->op == n->op && m->n_inputs == n->n_inputs &&
                !memcmp(m->inputs, n->inputs, sizeof(tsr_value) * (size_t)n->n_inputs) &&
                same_attrs(&m->attrs, &n->attrs))
                break;
        }
        if (nodes.slot[s] < 0) {
            nodes.slot[s] = i;
            continue;
        }
        fwd[n->output] = g->nodes[nodes.slot[s]].output;
        n->dead = 1;
        removed++;
    }
    tsr_value_forward_finish(g, fwd);
    free(nodes.slot);
    free(consts.slot);
    if (n_removed) *n_removed = removed;
    return TSR_OK;
}
