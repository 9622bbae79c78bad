/* graph.c — the graph IR and the builder API (tessera.h): values, nodes, inputs, outputs. */
#include "runtime/checked.h"
#include "runtime/graph.h"
#include "runtime/ops/op_table.h"
#include "runtime/reference.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest result (elements) tsr_graph_op evaluates at build time; bigger constant results are
 * left to the fold pass (compile time). Shape arithmetic is far below it. */
#define TSR_EAGER_FOLD_MAX 65536

/* ---------------------------------------------------------------------------------------- */

tsr_status tsr_graph_create(tsr_context *ctx, tsr_graph **out) {
    if (!out) return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_graph_create: out is NULL");
    tsr_graph *g = calloc(1, sizeof *g);
    if (!g) return TSR_ERR(ctx, TSR_E_NOMEM, "tsr_graph_create: out of memory");
    g->ctx = ctx;
    *out = g;
    return TSR_OK;
}

void tsr_graph_destroy(tsr_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_values; i++) {
        free(g->values[i].name);
        tsr_aligned_free(g->values[i].data);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        free(g->nodes[i].name);
        free(g->nodes[i].absorbed);
    }
    for (int i = 0; i < g->n_outputs; i++)
        free(g->outputs[i].name);
    for (int i = 0; g->input_dims && i < g->n_inputs; i++) {
        for (int d = 0; d < TSR_MAX_RANK; d++)
            free(g->input_dims[i].names[d]);
        free(g->input_dims[i].value);
    }
    free(g->input_dims);
    free(g->name_slots);
    tsr_model_source_unref(g->source);
    free(g->values);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g);
}

static int grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return 0;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p) return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

/* FNV-1a 32-bit hash of a NUL-terminated string (http://www.isthe.com/chongo/tech/comp/fnv/). */
static uint32_t name_hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* Puts value id v into the name index (its name not there). 0, or -1 when out of memory. */
static int index_put(tsr_graph *g, int v) {
    if ((g->name_used + 1) * 2 > g->name_cap) { /* rehash: live ids only, load <= 1/4 */
        size_t live = 0, cap = 64;
        for (size_t i = 0; i < g->name_cap; i++)
            live += g->name_slots[i] >= 0;
        while ((live + 1) * 4 > cap)
            cap *= 2;
        int *s = malloc(cap * sizeof *s);
        if (!s) return -1;
        for (size_t i = 0; i < cap; i++)
            s[i] = -1;
        for (size_t i = 0; i < g->name_cap; i++) {
            int id = g->name_slots[i];
            if (id < 0) continue;
            size_t j = name_hash(g->values[id].name) & (cap - 1);
            while (s[j] != -1)
                j = (j + 1) & (cap - 1);
            s[j] = id;
        }
        free(g->name_slots);
        g->name_slots = s;
        g->name_cap = cap;
        g->name_used = live;
    }
    size_t i = name_hash(g->values[v].name) & (g->name_cap - 1);
    while (g->name_slots[i] >= 0)
        i = (i + 1) & (g->name_cap - 1);
    if (g->name_slots[i] == -1) g->name_used++;
    g->name_slots[i] = v;
    return 0;
}

/* Removes value id v (indexed) from the name index. */
static void index_remove(tsr_graph *g, int v) {
    if (v >= g->n_indexed || !g->name_cap) return;
    for (size_t i = name_hash(g->values[v].name) & (g->name_cap - 1); g->name_slots[i] != -1;
         i = (i + 1) & (g->name_cap - 1))
        if (g->name_slots[i] == v) {
            g->name_slots[i] = -2;
            return;
        }
}

/* Drops the whole index (rebuilt at the next lookup): after an allocation failure. */
static void index_reset(tsr_graph *g) {
    free(g->name_slots);
    g->name_slots = NULL;
    g->name_cap = g->name_used = 0;
    g->n_indexed = 0;
}

/* Brings the index up to date with values[]. 0, or -1 when out of memory. */
static int index_sync(tsr_graph *g) {
    for (; g->n_indexed < g->n_values; g->n_indexed++)
        if (g->values[g->n_indexed].name && index_put(g, g->n_indexed)) {
            index_reset(g);
            return -1;
        }
    return 0;
}

tsr_value tsr_graph_find_value(tsr_graph *g, const char *name) {
    if (index_sync(g)) { /* out of memory: the linear scan */
        for (int i = 0; i < g->n_values; i++)
            if (g->values[i].name && !strcmp(g->values[i].name, name)) return i;
        return -1;
    }
    if (!g->name_cap) return -1;
    for (size_t i = name_hash(name) & (g->name_cap - 1); g->name_slots[i] != -1;
         i = (i + 1) & (g->name_cap - 1)) {
        int id = g->name_slots[i];
        if (id >= 0 && !strcmp(g->values[id].name, name)) return id;
    }
    return -1;
}

static int name_taken(tsr_graph *g, const char *name) {
    return tsr_graph_find_value(g, name) >= 0;
}

/* Appends a value; takes ownership of data (freed on failure too). Returns the id or -1. */
static tsr_value add_value(tsr_graph *g, const char *name, const struct tsr_tensor_desc *desc,
                           void *data, int producer) {
    char made_up[64];
    if (!name) {
        snprintf(made_up, sizeof made_up, "v%d", g->n_values);
        int k = 0;
        while (name_taken(g, made_up))
            snprintf(made_up, sizeof made_up, "v%d_%d", g->n_values, ++k);
        name = made_up;
    }
    if (grow((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof *g->values)) {
        tsr_aligned_free(data);
        return -1;
    }
    struct tsr_value_info *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = tsr_strdup(name);
    if (!v->name) {
        tsr_aligned_free(data);
        return -1;
    }
    v->desc = *desc;
    memset(v->desc.dims + desc->rank, 0, sizeof(int64_t) * (size_t)(TSR_MAX_RANK - desc->rank));
    v->data = data;
    v->producer = producer;
    v->input_index = -1;
    return g->n_values++;
}

tsr_status tsr_graph_input(tsr_graph *g, const char *name, const struct tsr_tensor_desc *desc,
                           tsr_value *out) {
    if (!g || !name || !*name || !out)
        return TSR_ERR(g ? g->ctx : NULL, TSR_E_INVALID_ARG, "tsr_graph_input: NULL argument");
    char shape[160];
    if (tsr_desc_check(desc))
        return TSR_ERR(g->ctx, TSR_E_INVALID_ARG,
                       "graph input '%s': invalid descriptor %s (unknown dtype, bad rank, a "
                       "negative dim, or more than 2^63 elements or 2^62 bytes)",
                       name, tsr_desc_format(desc, shape, sizeof shape));
    if (name_taken(g, name))
        return TSR_ERR(g->ctx, TSR_E_INVALID_ARG, "graph input '%s': name already used", name);
    int dims_cap = g->cap_input_dims;
    if (grow((void **)&g->inputs, &g->cap_inputs, g->n_inputs + 1, sizeof *g->inputs) ||
        grow((void **)&g->input_dims, &g->cap_input_dims, g->n_inputs + 1, sizeof *g->input_dims))
        return TSR_ERR(g->ctx, TSR_E_NOMEM, "graph input '%s': out of memory", name);
    if (dims_cap != g->cap_input_dims)
        memset(g->input_dims + dims_cap, 0,
               (size_t)(g->cap_input_dims - dims_cap) * sizeof *g->input_dims);
    tsr_value v = add_value(g, name, desc, NULL, -1);
    if (v < 0) return TSR_ERR(g->ctx, TSR_E_NOMEM, "graph input '%s': out of memory", name);
    g->values[v].input_index = g->n_inputs;
    g->inputs[g->n_inputs++] = v;
    *out = v;
    return TSR_OK;
}

tsr_status tsr_graph_constant(tsr_graph *g, const char *name, const struct tsr_tensor_desc *desc,
                              const void *data, tsr_value *out) {
    if (!g || !out || (!data && desc && tsr_desc_elements(desc) > 0))
        return TSR_ERR(g ? g->ctx : NULL, TSR_E_INVALID_ARG, "tsr_graph_constant: NULL argument");
    char shape[160];
    if (tsr_desc_check(desc))
        return TSR_ERR(g->ctx, TSR_E_INVALID_ARG,
                       "constant '%s': invalid descriptor %s (unknown dtype, bad rank, a negative "
                       "dim, or more than 2^63 elements or 2^62 bytes)",
                       name ? name : "?", tsr_desc_format(desc, shape, sizeof shape));
    if (name && name_taken(g, name))
        return TSR_ERR(g->ctx, TSR_E_INVALID_ARG, "constant '%s': name already used", name);
    size_t bytes = tsr_desc_bytes(desc);
    void *copy = tsr_aligned_alloc(bytes);
    if (!copy) return TSR_ERR(g->ctx, TSR_E_NOMEM, "constant: %zu bytes", bytes);
    if (bytes) memcpy(copy, data, bytes);
    tsr_value v = add_value(g, name, desc, copy, -1);
    if (v < 0) return TSR_ERR(g->ctx, TSR_E_NOMEM, "constant: out of memory");
    *out = v;
    return TSR_OK;
}

tsr_status tsr_graph_op(tsr_graph *g, tsr_op op, const tsr_value *inputs, int n_inputs,
                        const struct tsr_op_attrs *attrs, const char *node_name, tsr_value *out) {
    if (!g || !out || (n_inputs > 0 && !inputs))
        return TSR_ERR(g ? g->ctx : NULL, TSR_E_INVALID_ARG, "tsr_graph_op: NULL argument");
    if ((int)op < 0 || op >= TSR_OP_COUNT)
        return TSR_ERR(g->ctx, TSR_E_INVALID_ARG, "tsr_graph_op: unknown op %d", (int)op);
    char made_up[64];
    if (!node_name) {
        snprintf(made_up, sizeof made_up, "%s_%d", tsr_op_name(op), g->n_nodes);
        node_name = made_up;
    }
    const struct tsr_op_def *def = tsr_op_def(op);
    int mn = def->min_in, mx = def->max_in;
    if (n_inputs < mn || n_inputs > mx)
        return TSR_ERR(g->ctx, TSR_E_INVALID_ARG, "node '%s' (%s): %d inputs, expected %d..%d",
                       node_name, tsr_op_name(op), n_inputs, mn, mx);
    const struct tsr_tensor_desc *in_desc[TSR_NODE_MAX_INPUTS];
    const void *in_data[TSR_NODE_MAX_INPUTS];
    for (int i = 0; i < n_inputs; i++) {
        if (inputs[i] < 0 || inputs[i] >= g->n_values)
            return TSR_ERR(g->ctx, TSR_E_INVALID_ARG,
                           "node '%s' (%s): input %d is not a value of "
                           "this graph (id %d)",
                           node_name, tsr_op_name(op), i, (int)inputs[i]);
        in_desc[i] = &g->values[inputs[i]].desc;
        in_data[i] = g->values[inputs[i]].data;
    }
    struct tsr_op_attrs a = attrs ? *attrs : tsr_op_attrs_default();
    struct tsr_tensor_desc od;
    tsr_status st = tsr_infer_shape(g->ctx, op, &a, in_desc, in_data, n_inputs, node_name, &od);
    if (st != TSR_OK) return st;
    if (grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes))
        return TSR_ERR(g->ctx, TSR_E_NOMEM, "node '%s': out of memory", node_name);
    char *nm = tsr_strdup(node_name);
    if (!nm) return TSR_ERR(g->ctx, TSR_E_NOMEM, "node '%s': out of memory", node_name);
    /* Output value named after the node; made unique if needed. */
    char vname[160];
    snprintf(vname, sizeof vname, "%s:out", node_name);
    for (int k = 1; name_taken(g, vname); k++)
        snprintf(vname, sizeof vname, "%s:out%d", node_name, k);
    tsr_value ov = add_value(g, vname, &od, NULL, g->n_nodes);
    if (ov < 0) {
        free(nm);
        return TSR_ERR(g->ctx, TSR_E_NOMEM, "node '%s': out of memory", node_name);
    }
    struct tsr_node *n = &g->nodes[g->n_nodes++];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = nm;
    n->n_inputs = n_inputs;
    for (int i = 0; i < n_inputs; i++)
        n->inputs[i] = inputs[i];
    n->output = ov;
    n->attrs = a;
    /* Constant propagation at build time: a small result of constants (or Shape / Size of a value
     * with known dims) is evaluated now, so that later nodes whose shapes depend on values
     * (Reshape's shape, Expand, ConstantOfShape, Range, Slice's starts ...) see it. The node
     * stays; the fold pass removes it at compile time. */
    int all_const = op == TSR_OP_SHAPE || op == TSR_OP_SIZE;
    if (!all_const) {
        all_const = 1;
        for (int i = 0; i < n_inputs; i++)
            if (!in_data[i]) all_const = 0;
    }
    if (all_const && tsr_desc_elements(&od) <= TSR_EAGER_FOLD_MAX) {
        struct tsr_tensor res = {.data = NULL}, ins[TSR_NODE_MAX_INPUTS];
        const struct tsr_tensor *inp[TSR_NODE_MAX_INPUTS];
        for (int i = 0; i < n_inputs; i++) {
            ins[i].desc = g->values[inputs[i]].desc;
            ins[i].data = g->values[inputs[i]].data;
            inp[i] = &ins[i];
        }
        st = tsr_tensor_alloc(&od, &res);
        if (st == TSR_OK) st = tsr_ref_eval_node(g->ctx, n, inp, &res);
        if (st != TSR_OK) {
            tsr_tensor_free(&res);
            /* the node is not added: undo */
            free(n->name);
            g->n_nodes--;
            index_remove(g, ov);
            if (g->n_indexed > ov) g->n_indexed = ov;
            free(g->values[ov].name);
            g->n_values--;
            return st;
        }
        g->values[ov].data = res.data;
    }
    *out = ov;
    return TSR_OK;
}

tsr_status tsr_graph_rename_value(tsr_graph *g, tsr_value v, const char *name) {
    if (!g || v < 0 || v >= g->n_values || !name || !*name)
        return TSR_ERR(g ? g->ctx : NULL, TSR_E_INVALID_ARG, "tsr_graph_rename_value: bad arg");
    if (!strcmp(g->values[v].name, name)) return TSR_OK;
    if (name_taken(g, name))
        return TSR_ERR(g->ctx, TSR_E_INVALID_ARG, "value name '%s' already used", name);
    char *nm = tsr_strdup(name);
    if (!nm) return TSR_ERR(g->ctx, TSR_E_NOMEM, "rename: out of memory");
    index_remove(g, v);
    free(g->values[v].name);
    g->values[v].name = nm;
    if (v < g->n_indexed && index_put(g, v)) index_reset(g);
    return TSR_OK;
}

tsr_status tsr_graph_output(tsr_graph *g, const char *name, tsr_value value) {
    if (!g || value < 0 || value >= g->n_values)
        return TSR_ERR(g ? g->ctx : NULL, TSR_E_INVALID_ARG, "tsr_graph_output: bad value id %d",
                       (int)value);
    if (!name) name = g->values[value].name;
    for (int i = 0; i < g->n_outputs; i++)
        if (!strcmp(g->outputs[i].name, name))
            return TSR_ERR(g->ctx, TSR_E_INVALID_ARG, "graph output '%s' declared twice", name);
    if (grow((void **)&g->outputs, &g->cap_outputs, g->n_outputs + 1, sizeof *g->outputs))
        return TSR_ERR(g->ctx, TSR_E_NOMEM, "graph output: out of memory");
    char *nm = tsr_strdup(name);
    if (!nm) return TSR_ERR(g->ctx, TSR_E_NOMEM, "graph output: out of memory");
    g->outputs[g->n_outputs].value = value;
    g->outputs[g->n_outputs].name = nm;
    g->n_outputs++;
    return TSR_OK;
}

tsr_status tsr_graph_value_desc(const tsr_graph *g, tsr_value v, struct tsr_tensor_desc *out) {
    if (!g || !out || v < 0 || v >= g->n_values)
        return TSR_ERR(g ? g->ctx : NULL, TSR_E_INVALID_ARG, "tsr_graph_value_desc: bad value");
    *out = g->values[v].desc;
    return TSR_OK;
}

int tsr_graph_input_count(const tsr_graph *g) {
    return g ? g->n_inputs : 0;
}
int tsr_graph_output_count(const tsr_graph *g) {
    return g ? g->n_outputs : 0;
}
int tsr_graph_node_count(const tsr_graph *g) {
    return g ? g->n_nodes : 0;
}
const char *tsr_graph_input_name(const tsr_graph *g, int i) {
    return (g && i >= 0 && i < g->n_inputs) ? g->values[g->inputs[i]].name : NULL;
}
const char *tsr_graph_output_name(const tsr_graph *g, int i) {
    return (g && i >= 0 && i < g->n_outputs) ? g->outputs[i].name : NULL;
}

tsr_status tsr_graph_clone(const tsr_graph *src, tsr_graph **out) {
    tsr_graph *g = calloc(1, sizeof *g);
    if (!g) goto nomem;
    g->ctx = src->ctx;
    g->values = calloc((size_t)src->n_values + 1, sizeof *g->values);
    g->nodes = calloc((size_t)src->n_nodes + 1, sizeof *g->nodes);
    g->inputs = calloc((size_t)src->n_inputs + 1, sizeof *g->inputs);
    g->outputs = calloc((size_t)src->n_outputs + 1, sizeof *g->outputs);
    if (!g->values || !g->nodes || !g->inputs || !g->outputs) goto nomem;
    g->cap_values = src->n_values + 1;
    g->cap_nodes = src->n_nodes + 1;
    g->cap_inputs = src->n_inputs + 1;
    g->cap_outputs = src->n_outputs + 1;
    for (int i = 0; i < src->n_values; i++) {
        g->values[i] = src->values[i];
        g->values[i].name = NULL;
        g->values[i].data = NULL;
        g->n_values = i + 1;
        g->values[i].name = tsr_strdup(src->values[i].name);
        if (!g->values[i].name) goto nomem;
        if (src->values[i].data) {
            size_t bytes = tsr_desc_bytes(&src->values[i].desc);
            g->values[i].data = tsr_aligned_alloc(bytes);
            if (!g->values[i].data) goto nomem;
            memcpy(g->values[i].data, src->values[i].data, bytes);
        }
    }
    for (int i = 0; i < src->n_nodes; i++) {
        g->nodes[i] = src->nodes[i];
        g->nodes[i].name = NULL;
        g->nodes[i].absorbed = NULL;
        g->n_nodes = i + 1;
        g->nodes[i].name = tsr_strdup(src->nodes[i].name);
        if (!g->nodes[i].name) goto nomem;
        if (src->nodes[i].absorbed && !(g->nodes[i].absorbed = tsr_strdup(src->nodes[i].absorbed)))
            goto nomem;
    }
    if (src->n_inputs) /* a graph of constants only has none (and inputs may be NULL) */
        memcpy(g->inputs, src->inputs, sizeof *g->inputs * (size_t)src->n_inputs);
    g->input_dims = calloc((size_t)src->n_inputs + 1, sizeof *g->input_dims);
    if (!g->input_dims) goto nomem;
    g->cap_input_dims = src->n_inputs + 1;
    g->n_inputs = src->n_inputs;
    for (int i = 0; src->input_dims && i < src->n_inputs; i++) {
        for (int d = 0; d < TSR_MAX_RANK; d++)
            if (src->input_dims[i].names[d] &&
                !(g->input_dims[i].names[d] = tsr_strdup(src->input_dims[i].names[d])))
                goto nomem;
        g->input_dims[i].is_value = src->input_dims[i].is_value;
        if (src->input_dims[i].value) {
            size_t nb = tsr_desc_bytes(&src->values[src->inputs[i]].desc);
            if (!(g->input_dims[i].value = malloc(nb ? nb : 1))) goto nomem;
            memcpy(g->input_dims[i].value, src->input_dims[i].value, nb);
        }
    }
    g->source = tsr_model_source_ref(src->source);
    g->deferred = src->deferred;
    for (int i = 0; i < src->n_outputs; i++) {
        g->outputs[i].value = src->outputs[i].value;
        g->outputs[i].name = tsr_strdup(src->outputs[i].name);
        g->n_outputs = i + 1;
        if (!g->outputs[i].name) goto nomem;
    }
    *out = g;
    return TSR_OK;
nomem:
    tsr_graph_destroy(g);
    return TSR_ERR(src->ctx, TSR_E_NOMEM, "graph clone: out of memory");
}

/* ---------------------------------------------------------------------------------------- */
/* Symbolic input dims and the model source (graph.h; dynamic shapes, runtime/plan.c)         */

struct tsr_model_source *tsr_model_source_adopt(void *bytes, size_t size, const char *label,
                                                const char *base_dir) {
    struct tsr_model_source *s = calloc(1, sizeof *s);
    char *l = tsr_strdup(label ? label : "<buffer>");
    char *d = base_dir ? tsr_strdup(base_dir) : NULL;
    if (!s || !l || (base_dir && !d)) {
        free(s);
        free(l);
        free(d);
        free(bytes);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->label = l;
    s->base_dir = d;
    s->bytes = bytes;
    s->size = size;
    return s;
}

struct tsr_model_source *tsr_model_source_ref(struct tsr_model_source *src) {
    if (src) atomic_fetch_add_explicit(&src->refs, 1, memory_order_relaxed);
    return src;
}

void tsr_model_source_unref(struct tsr_model_source *src) {
    if (!src || atomic_fetch_sub_explicit(&src->refs, 1, memory_order_acq_rel) != 1) return;
    free(src->label);
    free(src->base_dir);
    free(src->bytes);
    free(src);
}

tsr_status tsr_graph_set_input_dim_name(tsr_graph *g, int input, int dim, const char *name) {
    if (!g || input < 0 || input >= g->n_inputs || dim < 0 ||
        dim >= g->values[g->inputs[input]].desc.rank)
        return TSR_ERR(g ? g->ctx : NULL, TSR_E_INVALID_ARG, "symbolic dim %d of input %d", dim,
                       input);
    char *nm = tsr_strdup(name ? name : "");
    if (!nm) return TSR_ERR(g->ctx, TSR_E_NOMEM, "symbolic dim: out of memory");
    free(g->input_dims[input].names[dim]);
    g->input_dims[input].names[dim] = nm;
    return TSR_OK;
}

int tsr_graph_has_symbolic_dims(const tsr_graph *g) {
    if (g && g->deferred) return 1;
    for (int i = 0; g && g->input_dims && i < g->n_inputs; i++)
        for (int d = 0; d < TSR_MAX_RANK; d++)
            if (g->input_dims[i].names[d] || g->input_dims[i].is_value) return 1;
    return 0;
}

void tsr_input_info_fill(const char *name, const struct tsr_tensor_desc *desc,
                         const struct tsr_input_dims *dims, struct tsr_input_info *out) {
    memset(out, 0, sizeof *out);
    out->name = name;
    out->dtype = desc->dtype;
    out->rank = desc->rank;
    out->desc = *desc;
    out->is_value = dims ? dims->is_value : 0;
    for (int d = 0; d < desc->rank; d++) {
        out->dim_names[d] = dims ? dims->names[d] : NULL;
        out->dims[d] = out->dim_names[d] ? -1 : desc->dims[d];
        out->n_symbolic += out->dim_names[d] != NULL;
    }
}

char *tsr_input_info_format(const struct tsr_input_info *info, char *buf, size_t size) {
    size_t l = 0;
    if (!size) return buf;
    buf[0] = 0;
#define TSR_PUT(...)                                                                               \
    do {                                                                                           \
        if (l < size) l += (size_t)snprintf(buf + l, size - l, __VA_ARGS__);                       \
    } while (0)
    TSR_PUT("[");
    for (int d = 0; d < info->rank; d++) {
        if (info->dim_names[d])
            TSR_PUT("%s%s", d ? ", " : "", *info->dim_names[d] ? info->dim_names[d] : "?");
        else
            TSR_PUT("%s%lld", d ? ", " : "", (long long)info->dims[d]);
    }
    TSR_PUT("] %s", tsr_dtype_name(info->dtype));
#undef TSR_PUT
    return buf;
}

tsr_status tsr_graph_input_info(const tsr_graph *g, int i, struct tsr_input_info *out) {
    if (!g || !out || i < 0 || i >= g->n_inputs)
        return TSR_ERR(g ? g->ctx : NULL, TSR_E_INVALID_ARG, "graph input %d out of range", i);
    const struct tsr_value_info *v = &g->values[g->inputs[i]];
    tsr_input_info_fill(v->name, &v->desc, g->input_dims ? &g->input_dims[i] : NULL, out);
    return TSR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Rewriting helpers for passes (graph.h)                                                     */

tsr_value tsr_graph_new_value(tsr_graph *g, const char *name, const struct tsr_tensor_desc *desc,
                              void *data) {
    char buf[192];
    const char *nm = NULL;
    if (name) {
        snprintf(buf, sizeof buf, "%s", name);
        for (int k = 1; name_taken(g, buf); k++)
            snprintf(buf, sizeof buf, "%s_%d", name, k);
        nm = buf;
    }
    return add_value(g, nm, desc, data, -1);
}

int tsr_graph_insert_node(tsr_graph *g, int at, const struct tsr_node *proto) {
    if (grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes)) return -1;
    char *nm = tsr_strdup(proto->name);
    if (!nm) return -1;
    memmove(&g->nodes[at + 1], &g->nodes[at], sizeof *g->nodes * (size_t)(g->n_nodes - at));
    g->nodes[at] = *proto;
    g->nodes[at].name = nm;
    g->nodes[at].absorbed = NULL;
    g->n_nodes++;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].producer >= at) g->values[v].producer++;
    g->values[proto->output].producer = at;
    return 0;
}

void tsr_graph_replace_uses(tsr_graph *g, tsr_value old_value, tsr_value new_value) {
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead) continue;
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] == old_value) g->nodes[i].inputs[k] = new_value;
    }
    for (int o = 0; o < g->n_outputs; o++)
        if (g->outputs[o].value == old_value) g->outputs[o].value = new_value;
}

tsr_value *tsr_value_forward_create(const tsr_graph *g) {
    tsr_value *fwd = malloc(sizeof *fwd * (size_t)(g->n_values + 1));
    for (int v = 0; fwd && v < g->n_values; v++)
        fwd[v] = v;
    return fwd;
}

/* The final replacement of v (chains followed, and shortened on the way). */
static tsr_value forward(tsr_value *fwd, tsr_value v) {
    tsr_value r = v;
    while (fwd[r] != r)
        r = fwd[r];
    while (fwd[v] != r) {
        tsr_value next = fwd[v];
        fwd[v] = r;
        v = next;
    }
    return r;
}

void tsr_value_forward_inputs(tsr_value *fwd, struct tsr_node *n) {
    for (int k = 0; k < n->n_inputs; k++)
        n->inputs[k] = forward(fwd, n->inputs[k]);
}

void tsr_value_forward_finish(tsr_graph *g, tsr_value *fwd) {
    for (int o = 0; fwd && o < g->n_outputs; o++)
        g->outputs[o].value = forward(fwd, g->outputs[o].value);
    free(fwd);
}

int tsr_node_absorb(struct tsr_node *into, const struct tsr_node *from) {
    const char *parts[2] = {from->name, from->absorbed};
    for (int k = 0; k < 2; k++) {
        if (!parts[k] || !*parts[k]) continue;
        size_t old = into->absorbed ? strlen(into->absorbed) : 0, add = strlen(parts[k]);
        char *q = realloc(into->absorbed, old + add + 2);
        if (!q) return -1;
        if (old) q[old++] = ',';
        memcpy(q + old, parts[k], add + 1);
        into->absorbed = q;
    }
    return 0;
}
