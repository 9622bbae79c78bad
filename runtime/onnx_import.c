/*
 * onnx_import.c — ONNX ModelProto → tsr_graph, through the public builder API only.
 *
 * The file is parsed with protobuf-c from code generated at build time out of the distro's
 * onnx.proto (runtime/CMakeLists.txt). Semantics follow the ONNX IR spec
 * (https://github.com/onnx/onnx/blob/main/docs/IR.md) and operator pages
 * (https://onnx.ai/onnx/operators/):
 *   - initializers are constants, also when they are listed in graph.input (IR version < 4);
 *   - graph inputs with dim_param / unset dims take the caller's override (the dims are then
 *     fixed), else stay symbolic: the graph is built at 1 for them, records their names
 *     (tsr_input_dims) and keeps the model bytes (tsr_model_source), so that a plan can re-import
 *     the model at other input shapes (runtime/plan.c, dynamic shapes);
 *   - Constant nodes (value, value_float(s), value_int(s)) become constants;
 *   - every other node maps 1:1 onto the tsr_op of the operator table
 *     (runtime/ops/op_table.inc), which also gives its attributes (names, types, defaults), the
 *     ONNX inputs read as attributes (Clip min/max, Reduce* axes) and the opset-dependent
 *     defaults (Softmax before opset 13 coerces its input to 2-D at `axis`, default 1; from
 *     opset 13 on it works on one axis, default -1).
 * Anything else is refused with a status and a message naming the file, the node and the op.
 */
#include "runtime/checked.h"
#include "runtime/graph.h"
#include "runtime/onnx_external.h"
#include "runtime/onnx_import.h"
#include "runtime/onnx_prescan.h"
#include "runtime/ops/op_table.h"

#include "onnx/onnx.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tsr_dtype of an ONNX TensorProto.DataType (tessera's values are ONNX's); -1 for the types
 * tessera does not support (string, bfloat16, complex, float8, int4, uint64 ...). */
static int onnx_dtype(int64_t data_type) {
    switch (data_type) {
    case TSR_F32:
    case TSR_U8:
    case TSR_I8:
    case TSR_I32:
    case TSR_I64:
    case TSR_BOOL:
    case TSR_F16:
    case TSR_F64:
    case TSR_I16: /* group "dtcompute" */
    case TSR_U16:
    case TSR_U32:
        return (int)data_type;
    default:
        return -1;
    }
}
#define ONNX_DTYPES_SUPPORTED                                                                      \
    "FLOAT (1), UINT8 (2), INT8 (3), UINT16 (4), INT16 (5), INT32 (6), INT64 (7), BOOL (9), "      \
    "FLOAT16 (10), DOUBLE (11), UINT32 (12)"

/* ------------------------------------------------------------------------------------------ */
/* Name → value map (open addressing, FNV-1a). Keys point into the unpacked model.            */
/* ------------------------------------------------------------------------------------------ */

struct onnx_slot {
    const char *name; /* NULL: empty slot */
    tsr_value value;
    int is_const; /* 1 for initializers and Constant outputs, 2 for a bound value input */
};

struct onnx_map {
    struct onnx_slot *slots;
    size_t cap; /* power of two */
    size_t used;
};

/* FNV-1a 32-bit hash of a NUL-terminated string (http://www.isthe.com/chongo/tech/comp/fnv/). */
static uint32_t onnx_hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* Slot holding `name`, or NULL. */
static const struct onnx_slot *map_find(const struct onnx_map *m, const char *name) {
    if (!m->cap) return NULL;
    for (size_t i = onnx_hash(name) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->slots[i].name) return NULL;
        if (!strcmp(m->slots[i].name, name)) return &m->slots[i];
    }
}

/* Inserts name → value (name not present). Returns 0, or -1 when out of memory. */
static int map_put(struct onnx_map *m, const char *name, tsr_value value, int is_const) {
    if ((m->used + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct onnx_slot *s = calloc(cap, sizeof *s);
        if (!s) return -1;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->slots[i].name) continue;
            size_t j = onnx_hash(m->slots[i].name) & (cap - 1);
            while (s[j].name)
                j = (j + 1) & (cap - 1);
            s[j] = m->slots[i];
        }
        free(m->slots);
        m->slots = s;
        m->cap = cap;
    }
    size_t i = onnx_hash(name) & (m->cap - 1);
    while (m->slots[i].name)
        i = (i + 1) & (m->cap - 1);
    m->slots[i].name = name;
    m->slots[i].value = value;
    m->slots[i].is_const = is_const;
    m->used++;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Import state                                                                                */
/* ------------------------------------------------------------------------------------------ */

struct onnx_importer {
    tsr_context *ctx;
    const char *label;    /* file name or caller's label, used in every message */
    const char *base_dir; /* directory of external tensor data (the model file's); NULL: none */
    const struct tsr_input_shape *shapes;
    size_t n_shapes;
    int64_t opset; /* default-domain opset version */
    tsr_graph *graph;
    const Onnx__GraphProto *model_graph; /* the graph being imported */
    int deferred; /* a value input without contents (tsr_input_shape.data): build no nodes */
    struct onnx_map map;
    struct onnx_map used; /* names some node or graph output reads (output_used) */
    int used_built, used_oom;
};

/* Re-records the builder's last error with the file label in front (same status). */
static tsr_status onnx_wrap(struct onnx_importer *im, tsr_status st) {
    char msg[sizeof(((struct tsr_error_slot *)0)->message)];
    const struct tsr_error_info *e = tsr_last_error(NULL);
    snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "");
    return TSR_ERR(im->ctx, st, "%s: %s", im->label, msg);
}

/* Label of a node for messages: its name, or "#<index>" when it has none. */
static const char *node_label(const Onnx__NodeProto *n, int index, char *buf, size_t size) {
    if (n->name && *n->name) return n->name;
    snprintf(buf, size, "#%d", index);
    return buf;
}

/* Fills desc from an ONNX dims list. Returns TSR_OK, TSR_E_UNSUPPORTED (rank > TSR_MAX_RANK),
 * TSR_E_PARSE (a negative dim, or a size tsr_desc_size refuses: runtime/checked.h). */
static tsr_status dims_to_desc(struct onnx_importer *im, const char *what, size_t n_dims,
                               const int64_t *dims, tsr_dtype dtype, struct tsr_tensor_desc *desc) {
    memset(desc, 0, sizeof *desc);
    desc->dtype = dtype;
    if (n_dims > TSR_MAX_RANK)
        return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                       "%s: tensor '%s' has rank %zu, at most %d is "
                       "supported",
                       im->label, what, n_dims, TSR_MAX_RANK);
    desc->rank = (int)n_dims;
    for (size_t i = 0; i < n_dims; i++) {
        if (dims[i] < 0)
            return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: tensor '%s' has an invalid dim %lld",
                           im->label, what, (long long)dims[i]);
        desc->dims[i] = dims[i];
    }
    if (tsr_desc_size(desc, NULL, NULL) != 0) {
        char shape[160];
        return TSR_ERR(im->ctx, TSR_E_PARSE,
                       "%s: tensor '%s' of shape %s is too large (element count over 2^63 or "
                       "more than 2^62 bytes)",
                       im->label, what, tsr_desc_format(desc, shape, sizeof shape));
    }
    return TSR_OK;
}

/* Decodes a TensorProto into *out_desc and a malloc'ed *out_buf (caller frees). Supports the
 * dtypes of tsr_dtype
 * in raw_data (little-endian, as the IR spec requires; this library targets little-endian hosts)
 * or in the typed field the IR spec assigns: float_data (FLOAT), double_data (DOUBLE),
 * int64_data (INT64), uint64_data (UINT32), int32_data (INT32, INT16, INT8, UINT16, UINT8, BOOL,
 * and FLOAT16 as its uint16 bits).
 * External data (data_location EXTERNAL) is read from im->base_dir (tsr_onnx_external_read).
 * Returns TSR_OK, TSR_E_DTYPE (other types, naming the tensor), TSR_E_UNSUPPORTED (rank > 8,
 * external data refused), TSR_E_PARSE (data size does not match dims), TSR_E_IO (external data
 * file), TSR_E_NOMEM. */
static tsr_status tensor_decode(struct onnx_importer *im, const Onnx__TensorProto *t,
                                const char *name, struct tsr_tensor_desc *out_desc,
                                void **out_buf) {
    int dti = t->has_data_type ? onnx_dtype(t->data_type) : -1;
    if (dti < 0)
        return TSR_ERR(im->ctx, TSR_E_DTYPE,
                       "%s: tensor '%s' has data type %d; supported: " ONNX_DTYPES_SUPPORTED,
                       im->label, name, (int)t->data_type);
    tsr_dtype dt = (tsr_dtype)dti;
    struct tsr_tensor_desc desc;
    tsr_status st = dims_to_desc(im, name, t->n_dims, t->dims, dt, &desc);
    if (st != TSR_OK) return st;
    size_t elems = (size_t)tsr_desc_elements(&desc);
    size_t esize = tsr_dtype_size(dt);
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        /* The bytes are the tensor's raw_data, little-endian, in a file of the model's
         * directory (TSR_MAX_TENSOR_SIZE was checked on the dims by the prescan, which walks
         * node attribute tensors too). */
        void *buf = NULL;
        st = tsr_onnx_external_read(im->ctx, im->label, im->base_dir, name, t->n_external_data,
                                    t->external_data, elems * esize, &buf);
        if (st != TSR_OK) return st;
        *out_desc = desc;
        *out_buf = buf;
        return TSR_OK;
    }
    const void *src = NULL;
    const int32_t *from_i32 = NULL; /* typed int32_data: converted element by element */
    size_t have;
    if (t->has_raw_data && t->raw_data.len > 0) {
        src = t->raw_data.data;
        have = t->raw_data.len / esize;
        if (t->raw_data.len % esize) have = (size_t)-1;
    } else if (dt == TSR_F32) {
        src = t->float_data;
        have = t->n_float_data;
    } else if (dt == TSR_F64) {
        src = t->double_data;
        have = t->n_double_data;
    } else if (dt == TSR_I64) {
        src = t->int64_data;
        have = t->n_int64_data;
    } else if (dt == TSR_U32) { /* uint32 in uint64_data (onnx.proto) */
        have = t->n_uint64_data;
        if (have != elems)
            return TSR_ERR(im->ctx, TSR_E_PARSE,
                           "%s: tensor '%s' has %zu elements of data for %zu elements of shape",
                           im->label, name, have, elems);
        void *b32 = malloc(elems ? elems * esize : 1);
        if (!b32)
            return TSR_ERR(im->ctx, TSR_E_NOMEM, "%s: tensor '%s': out of memory", im->label, name);
        for (size_t i = 0; i < elems; i++)
            ((uint32_t *)b32)[i] = (uint32_t)t->uint64_data[i];
        *out_desc = desc;
        *out_buf = b32;
        return TSR_OK;
    } else {
        from_i32 = t->int32_data;
        have = t->n_int32_data;
    }
    if (have != elems)
        return TSR_ERR(im->ctx, TSR_E_PARSE,
                       "%s: tensor '%s' has %zu elements of data for %zu "
                       "elements of shape",
                       im->label, name, have == (size_t)-1 ? 0 : have, elems);
    /* Copy to an aligned buffer: raw_data may sit at any byte offset of the file. */
    void *buf = malloc(elems ? elems * esize : 1);
    if (!buf)
        return TSR_ERR(im->ctx, TSR_E_NOMEM, "%s: tensor '%s': out of memory", im->label, name);
    if (elems && !from_i32) memcpy(buf, src, elems * esize);
    for (size_t i = 0; from_i32 && i < elems; i++) {
        if (dt == TSR_F16)
            ((uint16_t *)buf)[i] = (uint16_t)from_i32[i];
        else
            tsr_elem_set_i64(dt, buf, (int64_t)i, from_i32[i]);
    }
    *out_desc = desc;
    *out_buf = buf;
    return TSR_OK;
}

/* Adds a TensorProto (tensor_decode) as a constant named `name` and maps it. Returns TSR_OK, the
 * statuses of tensor_decode, or a builder status. */
static tsr_status add_tensor(struct onnx_importer *im, const Onnx__TensorProto *t,
                             const char *name) {
    struct tsr_tensor_desc desc;
    void *buf;
    tsr_status st = tensor_decode(im, t, name, &desc, &buf);
    if (st != TSR_OK) return st;
    tsr_value v;
    st = tsr_graph_constant(im->graph, name, &desc, buf, &v);
    if (st == TSR_E_INVALID_ARG) /* name clash with a made-up builder name: let it make one */
        st = tsr_graph_constant(im->graph, NULL, &desc, buf, &v);
    free(buf);
    if (st != TSR_OK) return onnx_wrap(im, st);
    if (map_put(&im->map, name, v, 1))
        return TSR_ERR(im->ctx, TSR_E_NOMEM, "%s: out of memory", im->label);
    return TSR_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Graph inputs                                                                                */
/* ------------------------------------------------------------------------------------------ */

/* Is ONNX input `i` of node n one that tessera needs as a value at compile time (an attribute
 * input, a TSR_CONST_INPUT, or one the shape rule or lowering reads: Split's split, Resize's /
 * Upsample's roi / scales / sizes, Range's inputs, BatchNormalization's scale / B / mean / var)? */
static int value_position(const Onnx__NodeProto *n, int i) {
    const char *type = n->op_type ? n->op_type : "";
    if (!strcmp(type, "Split")) return i == 1;
    int op = tsr_op_from_onnx(n->domain, type);
    if (op < 0) return 0;
    if (tsr_op_attr_input((tsr_op)op, i)) return 1;
    if (i < tsr_op_def((tsr_op)op)->max_in && tsr_op_const_input((tsr_op)op, i, NULL, NULL))
        return 1;
    /* BatchNormalization's scale, B, mean, var are not values: when they are not constants the
     * node becomes elementwise ops (add_bn here, tsr_pass_decompose for built graphs) */
    return ((op == TSR_OP_RESIZE || op == TSR_OP_UPSAMPLE) && i >= 1) || op == TSR_OP_RANGE ||
           ((op == TSR_OP_ONEHOT || op == TSR_OP_COMPRESS) && i == 1); /* depth, condition */
}

/* Is graph input `name` a value input: does a value position (value_position) depend on its
 * contents? Propagates forward in node order (ONNX nodes are topologically sorted) through every
 * node but Shape and Size, which read only shapes. */
static int is_value_input(const Onnx__GraphProto *g, const char *name) {
    struct onnx_map taint = {0};
    int found = 0, oom = map_put(&taint, name, 0, 0);
    for (size_t i = 0; i < g->n_node && !found && !oom; i++) {
        const Onnx__NodeProto *n = g->node[i];
        const char *t = n->op_type ? n->op_type : "";
        int any = 0;
        for (size_t k = 0; k < n->n_input && !found; k++)
            if (n->input[k] && *n->input[k] && map_find(&taint, n->input[k])) {
                any = 1;
                found = value_position(n, (int)k);
            }
        if (!any || !strcmp(t, "Shape") || !strcmp(t, "Size")) continue;
        for (size_t k = 0; k < n->n_output; k++)
            if (!oom && n->output[k] && *n->output[k] && !map_find(&taint, n->output[k]))
                oom = map_put(&taint, n->output[k], 0, 0);
    }
    free(taint.slots);
    return found && !oom; /* out of memory: treated as not a value input (the import refuses) */
}

/* Declares graph input `vi`: its declared shape, with symbolic/unknown dims taken from the
 * caller's override (whole desc; its rank and concrete dims must agree with the file) or 1.
 * Returns TSR_OK, TSR_E_PARSE (no tensor type / duplicate), TSR_E_DTYPE, TSR_E_SHAPE (override
 * disagrees, or unknown rank without override), TSR_E_UNSUPPORTED, TSR_E_NOMEM. */
static tsr_status add_input(struct onnx_importer *im, const Onnx__ValueInfoProto *vi) {
    const char *name = vi->name;
    if (map_find(&im->map, name))
        return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: graph input '%s' is declared twice", im->label,
                       name);
    if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        !vi->type->tensor_type)
        return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED, "%s: graph input '%s' is not a tensor",
                       im->label, name);
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    int in_dtype = onnx_dtype(tt->elem_type);
    if (in_dtype < 0)
        return TSR_ERR(
            im->ctx, TSR_E_DTYPE,
            "%s: graph input '%s' has element type %d; supported: " ONNX_DTYPES_SUPPORTED,
            im->label, name, (int)tt->elem_type);
    const struct tsr_input_shape *ov = NULL;
    for (size_t i = 0; i < im->n_shapes; i++)
        if (im->shapes[i].name && !strcmp(im->shapes[i].name, name)) ov = &im->shapes[i];

    struct tsr_tensor_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.dtype = (tsr_dtype)in_dtype;
    char fbuf[160], obuf[160];
    const char *sym[TSR_MAX_RANK] = {NULL}; /* names of the dims left symbolic */
    if (tt->shape) {
        if (tt->shape->n_dim > TSR_MAX_RANK)
            return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                           "%s: graph input '%s' has rank %zu, at "
                           "most %d is supported",
                           im->label, name, tt->shape->n_dim, TSR_MAX_RANK);
        desc.rank = (int)tt->shape->n_dim;
        for (int i = 0; i < desc.rank; i++) {
            const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
            int known = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                        d->dim_value >= 0;
            desc.dims[i] = known ? d->dim_value : -1; /* -1: symbolic for now */
        }
        if (ov) {
            int ok = ov->desc.rank == desc.rank && ov->desc.dtype == desc.dtype;
            for (int i = 0; ok && i < desc.rank; i++)
                ok = desc.dims[i] < 0 || desc.dims[i] == ov->desc.dims[i];
            if (!ok) {
                for (int i = 0; i < desc.rank; i++)
                    if (desc.dims[i] < 0) desc.dims[i] = 1;
                return TSR_ERR(im->ctx, TSR_E_SHAPE,
                               "%s: graph input '%s': override %s does "
                               "not match the file's %s (symbolic dims shown as 1)",
                               im->label, name, tsr_desc_format(&ov->desc, obuf, sizeof obuf),
                               tsr_desc_format(&desc, fbuf, sizeof fbuf));
            }
            desc = ov->desc;
        } else {
            for (int i = 0; i < desc.rank; i++) {
                if (desc.dims[i] >= 0) continue;
                const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
                sym[i] = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                                 d->dim_param
                             ? d->dim_param
                             : "";
                desc.dims[i] = 1;
            }
        }
    } else if (ov) {
        if (ov->desc.dtype != desc.dtype)
            return TSR_ERR(im->ctx, TSR_E_DTYPE,
                           "%s: graph input '%s': override dtype %s, the file declares %s",
                           im->label, name, tsr_dtype_name(ov->desc.dtype),
                           tsr_dtype_name(desc.dtype));
        desc = ov->desc;
    } else {
        return TSR_ERR(im->ctx, TSR_E_SHAPE,
                       "%s: graph input '%s' has no shape in the file; "
                       "give one in `shapes`",
                       im->label, name);
    }
    if (tsr_desc_size(&desc, NULL, NULL) != 0)
        return TSR_ERR(im->ctx, TSR_E_SHAPE,
                       "%s: graph input '%s' of shape %s is too large (element count over 2^63 or "
                       "more than 2^62 bytes)",
                       im->label, name, tsr_desc_format(&desc, fbuf, sizeof fbuf));
    tsr_value v;
    tsr_status st = tsr_graph_input(im->graph, name, &desc, &v);
    if (st != TSR_OK) return onnx_wrap(im, st);
    for (int i = 0; i < desc.rank; i++)
        if (sym[i] &&
            (st = tsr_graph_set_input_dim_name(im->graph, im->graph->n_inputs - 1, i, sym[i])))
            return onnx_wrap(im, st);
    int is_value = is_value_input(im->model_graph, name);
    im->graph->input_dims[im->graph->n_inputs - 1].is_value = is_value;
    if (is_value && !(ov && ov->data)) im->deferred = 1;
    if (is_value && ov && ov->data) {
        /* A value input with contents: bound as a constant (tsr_input_shape.data), so that
         * everything it reaches folds as from an initializer; the graph input stays. */
        size_t nb = tsr_desc_bytes(&desc);
        struct tsr_input_dims *dims = &im->graph->input_dims[im->graph->n_inputs - 1];
        tsr_value cv;
        if (!(dims->value = malloc(nb ? nb : 1)))
            return TSR_ERR(im->ctx, TSR_E_NOMEM, "%s: out of memory", im->label);
        memcpy(dims->value, ov->data, nb);
        if ((st = tsr_graph_constant(im->graph, NULL, &desc, ov->data, &cv)) != TSR_OK)
            return onnx_wrap(im, st);
        if (map_put(&im->map, name, cv, 2))
            return TSR_ERR(im->ctx, TSR_E_NOMEM, "%s: out of memory", im->label);
        return TSR_OK;
    }
    if (map_put(&im->map, name, v, 0))
        return TSR_ERR(im->ctx, TSR_E_NOMEM, "%s: out of memory", im->label);
    return TSR_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Nodes                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* Reads one attribute of node `nl` into attrs, as its spec in the operator table says
 * (runtime/ops/op_table.inc). Returns TSR_OK, TSR_E_PARSE (wrong attribute type),
 * TSR_E_UNSUPPORTED (an attribute this op does not know, or a value that would change the
 * semantics: 1-D/3-D windows, storage_order 1, training_mode 1, an unknown auto_pad). */
static tsr_status read_attr(struct onnx_importer *im, tsr_op op, const char *nl,
                            const Onnx__AttributeProto *a, struct tsr_op_attrs *attrs) {
    const char *an = a->name ? a->name : "";
    const char *opn = tsr_op_name(op);
    const struct tsr_attr_spec *spec = tsr_op_attr(op, an);
    if (!spec)
        return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                       "%s: node '%s' (%s): attribute '%s' is not supported", im->label, nl, opn,
                       an);
    int type = a->has_type ? (int)a->type : 0;
    static const int want[] = {[TSR_ATTR_T_INT] = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT,
                               [TSR_ATTR_T_FLOAT] = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT,
                               [TSR_ATTR_T_INTS] = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS,
                               [TSR_ATTR_T_STRING] = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING,
                               [TSR_ATTR_T_TENSOR] = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR};
    static const char *const type_names[] = {[TSR_ATTR_T_INT] = "an int",
                                             [TSR_ATTR_T_FLOAT] = "a float",
                                             [TSR_ATTR_T_INTS] = "a list of ints",
                                             [TSR_ATTR_T_STRING] = "a string",
                                             [TSR_ATTR_T_TENSOR] = "a tensor"};
    if (spec->type == TSR_ATTR_T_TENSOR) {
        if ((a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR) || !a->t)
            return TSR_ERR(im->ctx, TSR_E_PARSE,
                           "%s: node '%s' (%s): attribute '%s' must be a tensor", im->label, nl,
                           opn, an);
        struct tsr_tensor_desc td;
        void *buf;
        tsr_status st = tensor_decode(im, a->t, an, &td, &buf);
        if (st != TSR_OK) return st;
        int bad = tsr_desc_elements(&td) != 1 || tsr_attr_store_scalar(spec, attrs, td.dtype, buf);
        free(buf);
        if (bad)
            return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                           "%s: node '%s' (%s): attribute '%s' must hold exactly one element",
                           im->label, nl, opn, an);
        return TSR_OK;
    }
    int untyped_ok = (spec->type == TSR_ATTR_T_INT && a->has_i) ||
                     (spec->type == TSR_ATTR_T_FLOAT && a->has_f) ||
                     (spec->type == TSR_ATTR_T_INTS && a->n_ints) ||
                     (spec->type == TSR_ATTR_T_STRING && a->has_s);
    if (!(type == want[spec->type] || (!type && untyped_ok)))
        return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: node '%s' (%s): attribute '%s' must be %s",
                       im->label, nl, opn, an, type_names[spec->type]);
    int bad = 0;
    switch (spec->type) {
    case TSR_ATTR_T_TENSOR: /* handled above */
        break;
    case TSR_ATTR_T_INT:
        bad = tsr_attr_store_int(spec, attrs, a->i);
        break;
    case TSR_ATTR_T_FLOAT:
        bad = tsr_attr_store_float(spec, attrs, a->f);
        break;
    case TSR_ATTR_T_INTS:
        bad = tsr_attr_store_ints(spec, attrs, a->ints, a->n_ints);
        break;
    case TSR_ATTR_T_STRING: {
        char sv[32];
        snprintf(sv, sizeof sv, "%.*s", (int)(a->s.len < 31 ? a->s.len : 31),
                 (const char *)a->s.data);
        bad = tsr_attr_store_string(spec, attrs, sv);
        break;
    }
    }
    if (bad && spec->kind == TSR_AK_REQUIRE)
        return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                       "%s: node '%s' (%s): attribute '%s' is supported only with the value %g",
                       im->label, nl, opn, an, spec->dflt);
    if (bad)
        return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                       "%s: node '%s' (%s): attribute '%s' has a value that is not supported "
                       "(windows: 1-D or 2-D)",
                       im->label, nl, opn, an);
    return TSR_OK;
}

/* Converts a Constant node to a constant value named after its output. */
static tsr_status add_constant_node(struct onnx_importer *im, const Onnx__NodeProto *n,
                                    const char *nl) {
    if (n->n_attribute != 1)
        return TSR_ERR(im->ctx, TSR_E_PARSE,
                       "%s: Constant node '%s' must have exactly one "
                       "attribute, has %zu",
                       im->label, nl, n->n_attribute);
    const Onnx__AttributeProto *a = n->attribute[0];
    const char *an = a->name ? a->name : "";
    const char *out = n->output[0];
    struct tsr_tensor_desc desc;
    memset(&desc, 0, sizeof desc);
    const void *data = NULL;
    if (!strcmp(an, "value")) {
        if (!a->t)
            return TSR_ERR(im->ctx, TSR_E_PARSE,
                           "%s: Constant node '%s': attribute 'value' "
                           "holds no tensor",
                           im->label, nl);
        return add_tensor(im, a->t, out);
    } else if (!strcmp(an, "value_float")) {
        desc.dtype = TSR_F32;
        data = &a->f;
    } else if (!strcmp(an, "value_int")) {
        desc.dtype = TSR_I64;
        data = &a->i;
    } else if (!strcmp(an, "value_floats")) {
        desc.dtype = TSR_F32;
        desc.rank = 1;
        desc.dims[0] = (int64_t)a->n_floats;
        data = a->floats;
    } else if (!strcmp(an, "value_ints")) {
        desc.dtype = TSR_I64;
        desc.rank = 1;
        desc.dims[0] = (int64_t)a->n_ints;
        data = a->ints;
    } else {
        return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                       "%s: Constant node '%s': attribute '%s' is "
                       "not supported (value, value_float(s), value_int(s) are)",
                       im->label, nl, an);
    }
    static const float no_data = 0;
    tsr_value v;
    tsr_status st = tsr_graph_constant(im->graph, out, &desc, data ? data : &no_data, &v);
    if (st == TSR_E_INVALID_ARG)
        st = tsr_graph_constant(im->graph, NULL, &desc, data ? data : &no_data, &v);
    if (st != TSR_OK) return onnx_wrap(im, st);
    if (map_put(&im->map, out, v, 1))
        return TSR_ERR(im->ctx, TSR_E_NOMEM, "%s: out of memory", im->label);
    return TSR_OK;
}

/* Checks that every node is one we can import, before anything is built, so that an
 * unsupported op is reported as such (and not as a side effect, e.g. an int64 input it uses).
 * Returns TSR_OK or TSR_E_UNSUPPORTED naming the op type and the node. */
static tsr_status check_nodes(struct onnx_importer *im, const Onnx__GraphProto *g) {
    char buf[32];
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        const char *nl = node_label(n, (int)i, buf, sizeof buf);
        const char *type = n->op_type ? n->op_type : "";
        int op = tsr_op_from_onnx(n->domain, type);
        if (op < 0 && !tsr_op_domain_is_default(n->domain))
            return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                           "%s: node '%s': op '%s' of domain '%s' "
                           "is not supported",
                           im->label, nl, type, n->domain);
        if (strcmp(type, "Constant") && strcmp(type, "Split") && op < 0 && /* Split: Slices */
            strcmp(type, "SoftmaxCrossEntropyLoss"))                       /* add_sce */
            return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED, "%s: node '%s': op '%s' is not supported",
                           im->label, nl, type);
    }
    return TSR_OK;
}

/* Is value `name` read by a node or a graph output of the model? The set of read names is
 * built at the first call (one walk over the model), so that each call is O(1). Out of memory:
 * every name counts as read (the node's extra outputs are then built, or refused, as used). */
static int output_used(struct onnx_importer *im, const char *name) {
    const Onnx__GraphProto *g = im->model_graph;
    if (!im->used_built) {
        im->used_built = 1;
        for (size_t i = 0; i < g->n_node && !im->used_oom; i++)
            for (size_t k = 0; k < g->node[i]->n_input && !im->used_oom; k++) {
                const char *in = g->node[i]->input[k];
                if (in && *in && !map_find(&im->used, in))
                    im->used_oom = map_put(&im->used, in, 0, 0);
            }
        for (size_t i = 0; i < g->n_output && !im->used_oom; i++) {
            const char *out = g->output[i]->name;
            if (out && !map_find(&im->used, out)) im->used_oom = map_put(&im->used, out, 0, 0);
        }
    }
    return im->used_oom || map_find(&im->used, name) != NULL;
}

/* Reads ONNX input i of node `nl`, a constant that tessera takes as attribute `spec` (the
 * table's TSR_ATTR_INPUT rows: Clip min / max, Reduce* axes). Returns TSR_OK or
 * TSR_E_UNSUPPORTED (not a constant, wrong size or type). */
static tsr_status attr_from_input(struct onnx_importer *im, tsr_op op, const char *nl, int i,
                                  const struct tsr_attr_spec *spec, const struct onnx_slot *s,
                                  struct tsr_op_attrs *attrs) {
    const struct tsr_value_info *v = &im->graph->values[s->value];
    int64_t n = tsr_desc_elements(&v->desc);
    if (!v->data)
        return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                       "%s: node '%s' (%s): input %d ('%s') must be a constant", im->label, nl,
                       tsr_op_name(op), i, v->name);
    if (spec->type == TSR_ATTR_T_FLOAT) {
        if (n != 1 || v->desc.dtype != TSR_F32 ||
            tsr_attr_store_float(spec, attrs, *(const float *)v->data))
            return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                           "%s: node '%s' (%s): %s must be one float32 value", im->label, nl,
                           tsr_op_name(op), spec->name);
        return TSR_OK;
    }
    int64_t ints[2 * TSR_MAX_RANK]; /* Pad's pads: two per axis */
    int ok = spec->type == TSR_ATTR_T_INTS &&
             (v->desc.dtype == TSR_I64 || v->desc.dtype == TSR_I32 ||
              v->desc.dtype == TSR_BOOL) /* Dropout's training_mode */
             && v->desc.rank <= 1 && n <= spec->len && n <= 2 * TSR_MAX_RANK;
    for (int64_t k = 0; ok && k < n; k++)
        ints[k] = tsr_elem_get_i64(v->desc.dtype, v->data, k);
    if (!ok || tsr_attr_store_ints(spec, attrs, ints, (size_t)n))
        return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                       "%s: node '%s' (%s): %s must be a 1-D int64 or int32 constant of at most "
                       "%d values",
                       im->label, nl, tsr_op_name(op), spec->name, spec->len);
    return TSR_OK;
}

/* ONNX Split (issue 9, group "tkern"): one Slice node per named output along `axis` (the graph
 * IR has one output per node). Sizes: the `split` attribute (opset < 13) or constant input 1
 * (>= 13), else `num_outputs` (>= 18: chunks of ceil(dim / n), the last smaller) or the number
 * of outputs (equal parts). Returns TSR_OK, TSR_E_PARSE, TSR_E_UNSUPPORTED, TSR_E_SHAPE,
 * TSR_E_NOMEM. */
static tsr_status add_split(struct onnx_importer *im, const Onnx__NodeProto *n, const char *nl) {
    if (n->n_input < 1 || !n->input[0] || !*n->input[0] || n->n_input > 2)
        return TSR_ERR(im->ctx, TSR_E_PARSE,
                       "%s: node '%s' (Split) has %zu inputs, 1 or 2 expected", im->label, nl,
                       n->n_input);
    const struct onnx_slot *xs = map_find(&im->map, n->input[0]);
    if (!xs)
        return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: node '%s' (Split): input '%s' is not defined",
                       im->label, nl, n->input[0]);
    const tsr_value x = xs->value; /* xs lies in the map, which map_put below may move */
    const struct tsr_tensor_desc xd = im->graph->values[x].desc;
    int64_t axis = 0, num = 0, sizes[64];
    int n_sizes = -1;
    for (size_t i = 0; i < n->n_attribute; i++) {
        const Onnx__AttributeProto *a = n->attribute[i];
        if (!a->name) continue;
        if (!strcmp(a->name, "axis")) {
            axis = a->i;
        } else if (!strcmp(a->name, "num_outputs")) {
            num = a->i;
        } else if (!strcmp(a->name, "split")) {
            if (a->n_ints > 64)
                return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED, "%s: node '%s' (Split): %zu parts",
                               im->label, nl, a->n_ints);
            n_sizes = (int)a->n_ints;
            for (int k = 0; k < n_sizes; k++)
                sizes[k] = a->ints[k];
        } else {
            return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                           "%s: node '%s' (Split): attribute '%s' is not supported", im->label, nl,
                           a->name);
        }
    }
    if (n->n_input == 2 && n->input[1] && *n->input[1]) {
        const struct onnx_slot *ss = map_find(&im->map, n->input[1]);
        const struct tsr_value_info *sv = ss ? &im->graph->values[ss->value] : NULL;
        int64_t cnt = sv ? tsr_desc_elements(&sv->desc) : 0;
        if (!sv || !sv->data || sv->desc.dtype != TSR_I64 || sv->desc.rank != 1 || cnt > 64)
            return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                           "%s: node '%s' (Split): split must be a constant 1-D int64 tensor of at "
                           "most 64 values",
                           im->label, nl);
        n_sizes = (int)cnt;
        for (int k = 0; k < n_sizes; k++)
            sizes[k] = ((const int64_t *)sv->data)[k];
    }
    if (axis < -xd.rank || axis >= xd.rank)
        return TSR_ERR(im->ctx, TSR_E_SHAPE, "%s: node '%s' (Split): axis %lld of a rank-%d input",
                       im->label, nl, (long long)axis, xd.rank);
    if (axis < 0) axis += xd.rank;
    const int64_t dim = xd.dims[axis];
    const int n_out = (int)n->n_output;
    if (n_sizes < 0) {
        int64_t parts = num > 0 ? num : n_out;
        if (parts < 1 || parts > 64 || parts != n_out)
            return TSR_ERR(im->ctx, TSR_E_SHAPE, "%s: node '%s' (Split): %lld parts for %d outputs",
                           im->label, nl, (long long)parts, n_out);
        int64_t chunk = (dim + parts - 1) / parts;
        if (num <= 0 && dim % parts)
            return TSR_ERR(im->ctx, TSR_E_SHAPE,
                           "%s: node '%s' (Split): dim %lld does not split into %lld equal parts",
                           im->label, nl, (long long)dim, (long long)parts);
        n_sizes = (int)parts;
        for (int k = 0; k < n_sizes; k++) {
            int64_t left = dim - k * chunk;
            sizes[k] = left < 0 ? 0 : left < chunk ? left : chunk;
        }
    }
    int64_t total = 0;
    for (int k = 0; k < n_sizes; k++)
        total += sizes[k] < 0 ? -1 : sizes[k];
    if (n_sizes != n_out || total != dim)
        return TSR_ERR(im->ctx, TSR_E_SHAPE,
                       "%s: node '%s' (Split): %d sizes summing to %lld for %d outputs of a dim of "
                       "%lld",
                       im->label, nl, n_sizes, (long long)total, n_out, (long long)dim);
    int64_t off = 0;
    for (int k = 0; k < n_out; k++) {
        const char *out = n->output[k];
        int64_t b = off;
        off += sizes[k];
        if (!out || !*out) continue;
        if (map_find(&im->map, out))
            return TSR_ERR(im->ctx, TSR_E_PARSE,
                           "%s: node '%s' (Split): value '%s' is defined twice", im->label, nl,
                           out);
        struct tsr_op_attrs at = tsr_op_attrs_default();
        at.n_starts = at.n_ends = at.n_slice_axes = 1;
        at.starts[0] = b;
        at.ends[0] = off;
        at.slice_axes[0] = axis;
        char name[256];
        snprintf(name, sizeof name, "%s/split_%d", nl, k);
        tsr_value v;
        tsr_status st = tsr_graph_op(im->graph, TSR_OP_SLICE, &x, 1, &at, name, &v);
        if (st != TSR_OK) return onnx_wrap(im, st);
        if (map_put(&im->map, out, v, 0))
            return TSR_ERR(im->ctx, TSR_E_NOMEM, "%s: out of memory", im->label);
    }
    return TSR_OK;
}

/* group "multiout" (defined at the end of the file) */
static tsr_status add_extra_outputs(struct onnx_importer *im, const Onnx__NodeProto *n,
                                    const char *nl, const char *type, tsr_op op,
                                    const tsr_value *in, const struct tsr_op_attrs *attrs);
static tsr_status add_sce(struct onnx_importer *im, const Onnx__NodeProto *n, const char *nl,
                          const char *type);
static tsr_status add_bn(struct onnx_importer *im, const Onnx__NodeProto *n, const char *nl,
                         int training);
static int bn_mode(const struct onnx_importer *im, const Onnx__NodeProto *n);
static tsr_status add_variadic_chain(struct onnx_importer *im, const Onnx__NodeProto *n,
                                     const char *nl, const char *type, tsr_op op, const char *out);

/* Adds node i. Returns TSR_OK, TSR_E_PARSE (bad input/output lists, undefined input),
 * TSR_E_UNSUPPORTED, TSR_E_NOMEM, or the builder's status (TSR_E_SHAPE, TSR_E_DTYPE, ...). */
static tsr_status add_node(struct onnx_importer *im, const Onnx__NodeProto *n, int index) {
    char buf[32];
    const char *nl = node_label(n, index, buf, sizeof buf);
    const char *type = n->op_type ? n->op_type : "";
    if (!strcmp(type, "Split") && tsr_op_domain_is_default(n->domain))
        return add_split(im, n, nl); /* group "tkern": N Slice nodes */
    if (!strcmp(type, "SoftmaxCrossEntropyLoss") && tsr_op_domain_is_default(n->domain))
        return add_sce(im, n, nl, type); /* group "multiout" */
    const int bn = bn_mode(im, n);       /* group "multiout" */
    if (bn >= 0) return add_bn(im, n, nl, bn);
    if (n->n_output < 1 || !n->output[0] || !*n->output[0])
        return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                       "%s: node '%s' (%s) has %zu outputs; exactly "
                       "one named output is supported",
                       im->label, nl, type, n->n_output);
    const char *out = n->output[0];
    if (map_find(&im->map, out))
        return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: node '%s' (%s): value '%s' is defined twice",
                       im->label, nl, type, out);
    if (!strcmp(type, "Constant")) {
        if (n->n_input != 0)
            return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: Constant node '%s' has inputs", im->label,
                           nl);
        return add_constant_node(im, n, nl);
    }
    tsr_op op = (tsr_op)tsr_op_from_onnx(n->domain, type);
    const struct tsr_op_def *def = tsr_op_def(op);
    /* Inputs that ONNX passes as tensors but tessera takes as attributes (they must be
     * constants) follow the node inputs: Clip's min/max (opset >= 11), Reduce*'s axes (ReduceSum
     * >= 13, others >= 18). */
    int mn = def->min_in, mx = def->max_in + tsr_op_attr_input_count(op);
    int attr_inputs_from = mx;
    for (int k = mx - 1; k >= 0; k--)
        if (tsr_op_attr_input(op, k)) attr_inputs_from = k;
    if (n->n_input > (size_t)mx && mx == TSR_NODE_MAX_INPUTS &&
        (op == TSR_OP_CONCAT || op == TSR_OP_SUM || op == TSR_OP_MIN || op == TSR_OP_MAX))
        return add_variadic_chain(im, n, nl, type, op, out); /* zoo2: DenseNet's Concat */
    tsr_value in[8];
    int n_in = 0;
    struct tsr_op_attrs attrs = tsr_op_attrs_default();
    for (size_t i = 0; i < n->n_input; i++) {
        const char *iname = n->input[i] ? n->input[i] : "";
        const struct tsr_attr_spec *as = tsr_op_attr_input(op, (int)i);
        if (!*iname) {
            /* An empty name is an absent optional input. */
            if ((def->empty_from > 0 && (int)i >= def->empty_from && (int)i < def->max_in) ||
                (int)i >= attr_inputs_from)
                continue;
            return TSR_ERR(im->ctx, TSR_E_PARSE,
                           "%s: node '%s' (%s): required input %zu is "
                           "empty",
                           im->label, nl, type, i);
        }
        if ((int)i >= mx)
            return TSR_ERR(im->ctx, TSR_E_PARSE,
                           "%s: node '%s' (%s) has %zu inputs, at most %d "
                           "expected",
                           im->label, nl, type, n->n_input, mx);
        const struct onnx_slot *s = map_find(&im->map, iname);
        if (!s)
            return TSR_ERR(im->ctx, TSR_E_PARSE,
                           "%s: node '%s' (%s): input '%s' is not defined "
                           "by an earlier node, an initializer or a graph input",
                           im->label, nl, type, iname);
        if (as) {
            tsr_status st = attr_from_input(im, op, nl, (int)i, as, s, &attrs);
            if (st != TSR_OK) return st;
            continue;
        }
        if (i < 8 * sizeof attrs.q_inputs - 1) attrs.q_inputs |= 1 << i; /* issue 13 */
        in[n_in++] = s->value;
    }
    if (op != TSR_OP_MATMULINTEGER) attrs.q_inputs = 0; /* issue 13: only it reads the mask */
    if (n_in < mn)
        return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: node '%s' (%s) has %d inputs, %d expected",
                       im->label, nl, type, n_in, mn);
    tsr_op_onnx_defaults(op, im->opset, &attrs);
    for (size_t i = 0; i < n->n_attribute; i++) {
        tsr_status st = read_attr(im, op, nl, n->attribute[i], &attrs);
        if (st != TSR_OK) return st;
    }
    tsr_value v;
    tsr_status st =
        tsr_graph_op(im->graph, op, in, n_in, &attrs, n->name && *n->name ? n->name : NULL, &v);
    if (st != TSR_OK) return onnx_wrap(im, st);
    if (map_put(&im->map, out, v, 0))
        return TSR_ERR(im->ctx, TSR_E_NOMEM, "%s: out of memory", im->label);
    return add_extra_outputs(im, n, nl, type, op, in, &attrs); /* outputs 1.. (group "multiout") */
}

/* A value input has no contents (tsr_input_shape.data): the graph stays deferred (inputs, and
 * zero-element outputs of the declared dtypes as placeholders); a plan compiled from it imports
 * the model again, with the contents, at its first run. Returns TSR_OK, TSR_E_DTYPE,
 * TSR_E_NOMEM. */
static tsr_status add_deferred_outputs(struct onnx_importer *im, const Onnx__GraphProto *g) {
    im->graph->deferred = 1;
    for (size_t i = 0; i < g->n_output; i++) {
        const Onnx__ValueInfoProto *vo = g->output[i];
        const char *name = vo->name ? vo->name : "";
        int dt = vo->type && vo->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
                         vo->type->tensor_type
                     ? onnx_dtype(vo->type->tensor_type->elem_type)
                     : TSR_F32;
        struct tsr_tensor_desc desc = {(tsr_dtype)(dt < 0 ? TSR_F32 : dt), 1, {0}};
        static const float no_data = 0;
        tsr_value v;
        tsr_status st = tsr_graph_constant(im->graph, NULL, &desc, &no_data, &v);
        if (st == TSR_OK) st = tsr_graph_output(im->graph, name, v);
        if (st != TSR_OK) return onnx_wrap(im, st);
    }
    return TSR_OK;
}

/* The order to add g's nodes in: a topological order (Kahn's algorithm over the names each node
 * reads and writes; the file's own order when it already is one, as the IR spec requires, and
 * otherwise the file's order as far as possible, as ONNX Runtime accepts), written to
 * order[0 .. n_node). Returns TSR_OK, TSR_E_PARSE (a cycle: the message names a node on it and
 * the value it reads), TSR_E_NOMEM. O(nodes + inputs). */
static tsr_status topo_order(struct onnx_importer *im, const Onnx__GraphProto *g, size_t *order) {
    const size_t n = g->n_node;
    struct onnx_map prod = {0}; /* output name -> producing node */
    size_t *indeg = calloc(n + 1, sizeof *indeg), *first = calloc(n + 2, sizeof *first);
    size_t *adj = NULL, n_edges = 0, head = 0, tail = 0;
    tsr_status st = TSR_OK;
    int sorted = 1;
    if (!indeg || !first) goto nomem;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < g->node[i]->n_output; k++) {
            const char *o = g->node[i]->output[k];
            if (o && *o && !map_find(&prod, o) && map_put(&prod, o, (tsr_value)i, 0)) goto nomem;
        }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < g->node[i]->n_input; k++) {
            const char *in = g->node[i]->input[k];
            const struct onnx_slot *p = in && *in ? map_find(&prod, in) : NULL;
            if (!p) continue;
            first[(size_t)p->value + 1]++;
            indeg[i]++;
            n_edges++;
            if ((size_t)p->value >= i) sorted = 0;
        }
    if (sorted) {
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        first[i + 1] += first[i];
    if (!(adj = malloc((n_edges + 1) * sizeof *adj))) goto nomem;
    size_t *fill = calloc(n + 1, sizeof *fill);
    if (!fill) goto nomem;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < g->node[i]->n_input; k++) {
            const char *in = g->node[i]->input[k];
            const struct onnx_slot *p = in && *in ? map_find(&prod, in) : NULL;
            if (p) adj[first[p->value] + fill[p->value]++] = i;
        }
    free(fill);
    for (size_t i = 0; i < n; i++)
        if (!indeg[i]) order[tail++] = i;
    for (head = 0; head < tail; head++)
        for (size_t e = first[order[head]]; e < first[order[head] + 1]; e++)
            if (--indeg[adj[e]] == 0) order[tail++] = adj[e];
    if (tail < n) {
        /* Every node left reads a node left: walk back n steps from one, onto the cycle. */
        size_t at = 0;
        while (!indeg[at])
            at++;
        for (size_t step = 0; step <= n; step++) {
            const Onnx__NodeProto *nd = g->node[at];
            for (size_t k = 0; k < nd->n_input; k++) {
                const char *in = nd->input[k];
                const struct onnx_slot *p = in && *in ? map_find(&prod, in) : NULL;
                if (p && indeg[p->value]) {
                    at = (size_t)p->value;
                    break;
                }
            }
        }
        char buf[32];
        const Onnx__NodeProto *nd = g->node[at];
        st = TSR_ERR(im->ctx, TSR_E_PARSE,
                     "%s: the graph has a cycle through node '%s' (%s): %zu of its %zu nodes "
                     "cannot be put in topological order",
                     im->label, node_label(nd, (int)at, buf, sizeof buf),
                     nd->op_type ? nd->op_type : "", n - tail, n);
    }
    goto done;
nomem:
    st = TSR_ERR(im->ctx, TSR_E_NOMEM, "%s: out of memory (%zu nodes)", im->label, n);
done:
    free(prod.slots);
    free(indeg);
    free(first);
    free(adj);
    return st;
}

/* Builds im->graph from the model. Returns any status of the functions above. */
static tsr_status import_model(struct onnx_importer *im, const Onnx__ModelProto *m) {
    const Onnx__GraphProto *g = m->graph;
    if (!g) return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: not an ONNX model with a graph", im->label);
    im->model_graph = g;
    im->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++)
        if (tsr_op_domain_is_default(m->opset_import[i]->domain) && m->opset_import[i]->has_version)
            im->opset = m->opset_import[i]->version;
    if (im->opset < 0) {
        tsr_log(im->ctx, TSR_LOG_WARN, "%s: no opset for the default domain; assuming 13",
                im->label);
        im->opset = 13;
    }
    if (g->n_sparse_initializer > 0)
        return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED, "%s: sparse initializers are not supported",
                       im->label);
    if (g->n_output == 0)
        return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: the graph has no outputs", im->label);
    /* the node count was checked with the other limits before unpacking (onnx_prescan.c) */
    tsr_status st = check_nodes(im, g);
    if (st != TSR_OK) return st;

    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        if (!t->name || !*t->name)
            return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: initializer %zu has no name", im->label, i);
        if (map_find(&im->map, t->name))
            return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: initializer '%s' is defined twice", im->label,
                           t->name);
        st = add_tensor(im, t, t->name);
        if (st != TSR_OK) return st;
    }
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *vi = g->input[i];
        if (!vi->name || !*vi->name)
            return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: graph input %zu has no name", im->label, i);
        const struct onnx_slot *init = map_find(&im->map, vi->name);
        if (init && init->is_const == 1) continue; /* an initializer (a default), IR < 4 */
        st = add_input(im, vi);
        if (st != TSR_OK) return st;
    }
    if (im->deferred) return add_deferred_outputs(im, g);
    size_t *order = malloc((g->n_node + 1) * sizeof *order);
    if (!order) return TSR_ERR(im->ctx, TSR_E_NOMEM, "%s: out of memory", im->label);
    st = topo_order(im, g, order);
    for (size_t i = 0; i < g->n_node && st == TSR_OK; i++)
        st = add_node(im, g->node[order[i]], (int)order[i]);
    free(order);
    if (st != TSR_OK) return st;
    for (size_t i = 0; i < g->n_output; i++) {
        const char *name = g->output[i]->name ? g->output[i]->name : "";
        const struct onnx_slot *s = map_find(&im->map, name);
        if (!s)
            return TSR_ERR(im->ctx, TSR_E_PARSE,
                           "%s: graph output '%s' is not defined by any "
                           "node, initializer or input",
                           im->label, name);
        st = tsr_graph_output(im->graph, name, s->value);
        if (st != TSR_OK) return onnx_wrap(im, st);
    }
    return TSR_OK;
}

static tsr_status import_model_bytes(tsr_context *ctx, const void *data, size_t size,
                                     const char *label, const char *base_dir,
                                     const struct tsr_input_shape *shapes, size_t n_shapes,
                                     tsr_graph **out);

/* tsr_onnx_import_buffer; `owned` (NULL, or `data` itself, malloc'ed) is taken over: kept as
 * the graph's model source when it has symbolic dims, else freed; freed on failure too. */
static tsr_status import_buffer(tsr_context *ctx, const void *data, size_t size, const char *label,
                                const char *base_dir, const struct tsr_input_shape *shapes,
                                size_t n_shapes, void *owned, tsr_graph **out);

tsr_status tsr_onnx_import_buffer(tsr_context *ctx, const void *data, size_t size,
                                  const char *label, const struct tsr_input_shape *shapes,
                                  size_t n_shapes, tsr_graph **out) {
    return import_buffer(ctx, data, size, label, NULL, shapes, n_shapes, NULL, out);
}

tsr_status tsr_onnx_import_buffer_at(tsr_context *ctx, const void *data, size_t size,
                                     const char *label, const char *base_dir,
                                     const struct tsr_input_shape *shapes, size_t n_shapes,
                                     tsr_graph **out) {
    return import_buffer(ctx, data, size, label, base_dir, shapes, n_shapes, NULL, out);
}

static tsr_status import_buffer(tsr_context *ctx, const void *data, size_t size, const char *label,
                                const char *base_dir, const struct tsr_input_shape *shapes,
                                size_t n_shapes, void *owned, tsr_graph **out) {
    tsr_graph *g = NULL;
    tsr_status st = import_model_bytes(ctx, data, size, label, base_dir, shapes, n_shapes, &g);
    if (st != TSR_OK || !tsr_graph_has_symbolic_dims(g)) {
        free(owned);
        if (st == TSR_OK) *out = g;
        return st;
    }
    /* Symbolic dims: keep the model so that a plan can re-import it at other shapes. */
    if (!owned && (owned = malloc(size ? size : 1))) memcpy(owned, data, size);
    void *fit = owned ? realloc(owned, size ? size : 1) : NULL; /* a file buffer has slack */
    if (fit) owned = fit;
    struct tsr_model_source *src =
        owned ? tsr_model_source_adopt(owned, size, label ? label : "<buffer>", base_dir) : NULL;
    if (!src) {
        tsr_graph_destroy(g);
        return TSR_ERR(ctx, TSR_E_NOMEM, "%s: out of memory (%zu bytes)",
                       label ? label : "<buffer>", size);
    }
    g->source = src;
    *out = g;
    return TSR_OK;
}

/* Parses and imports `size` bytes (tsr_onnx_import_buffer without keeping the bytes). */
static tsr_status import_model_bytes(tsr_context *ctx, const void *data, size_t size,
                                     const char *label, const char *base_dir,
                                     const struct tsr_input_shape *shapes, size_t n_shapes,
                                     tsr_graph **out) {
    if (!label) label = "<buffer>";
    if (!out || (!data && size > 0) || (n_shapes > 0 && !shapes))
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_onnx_import_buffer(%s): NULL argument", label);
    for (size_t i = 0; i < n_shapes; i++)
        if (!shapes[i].name || tsr_desc_check(&shapes[i].desc))
            return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                           "%s: shape override %zu has no name or an "
                           "invalid descriptor",
                           label, i);
    if (size == 0) return TSR_ERR(ctx, TSR_E_PARSE, "%s: empty file, not an ONNX model", label);
    /* Caps and wire-format checks before protobuf-c allocates anything (onnx_prescan.h). */
    struct tsr_onnx_limits lim;
    tsr_onnx_limits_get(ctx, &lim);
    tsr_status pre = tsr_onnx_prescan(ctx, label, data, size, &lim);
    if (pre != TSR_OK) return pre;
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
    if (!m)
        return TSR_ERR(ctx, TSR_E_PARSE,
                       "%s: not a valid ONNX ModelProto (truncated or corrupt "
                       "protobuf)",
                       label);
    struct onnx_importer im;
    memset(&im, 0, sizeof im);
    im.ctx = ctx;
    im.label = label;
    im.base_dir = base_dir;
    im.shapes = shapes;
    im.n_shapes = n_shapes;
    tsr_status st = tsr_graph_create(ctx, &im.graph);
    if (st == TSR_OK) st = import_model(&im, m);
    if (st == TSR_OK) {
        /* Overrides must name an input that exists, else the caller's intent was lost. */
        for (size_t i = 0; i < n_shapes && st == TSR_OK; i++) {
            const struct onnx_slot *s = map_find(&im.map, shapes[i].name);
            if (!s || s->is_const == 1)
                st = TSR_ERR(ctx, TSR_E_INVALID_ARG,
                             "%s: shape override for '%s', which is not "
                             "a graph input",
                             label, shapes[i].name);
        }
    }
    free(im.map.slots);
    free(im.used.slots);
    onnx__model_proto__free_unpacked(m, NULL);
    if (st != TSR_OK) {
        tsr_graph_destroy(im.graph);
        return st;
    }
    *out = im.graph;
    return TSR_OK;
}

tsr_status tsr_onnx_import_file(tsr_context *ctx, const char *path,
                                const struct tsr_input_shape *shapes, size_t n_shapes,
                                tsr_graph **out) {
    if (!path || !out)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_onnx_import_file: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return TSR_ERR(ctx, TSR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct tsr_onnx_limits lim;
    tsr_onnx_limits_get(ctx, &lim);
    size_t cap = 1 << 16, size = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return TSR_ERR(ctx, TSR_E_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        size_t got = fread(buf + size, 1, cap - size, f);
        size += got;
        if (size < cap) break;
        if ((uint64_t)size > (uint64_t)lim.model_bytes) { /* stop reading: bounded memory */
            free(buf);
            fclose(f);
            return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                           "%s: model file: more than %zu bytes, over the limit of %lld "
                           "(TSR_MAX_MODEL_BYTES raises it)",
                           path, size, (long long)lim.model_bytes);
        }
        unsigned char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            fclose(f);
            return TSR_ERR(ctx, TSR_E_NOMEM, "%s: out of memory (%zu bytes)", path, cap * 2);
        }
        buf = nb;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return TSR_ERR(ctx, TSR_E_IO, "%s: read error", path);
    }
    /* External data lives in the model file's directory: path up to its last '/', or ".". */
    const char *slash = strrchr(path, '/');
    const char *from = slash ? path : ".";
    size_t dn = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path); /* "/m.onnx": "/" */
    char *dir = malloc(dn + 1);
    if (!dir) {
        free(buf);
        return TSR_ERR(ctx, TSR_E_NOMEM, "%s: out of memory", path);
    }
    memcpy(dir, from, dn);
    dir[dn] = '\0';
    tsr_status st = import_buffer(ctx, buf, size, path, dir, shapes, n_shapes, buf, out);
    free(dir);
    return st;
}

/* ---- multiout: ONNX nodes with several outputs, the loss ops (issue 9) ----
 * The graph IR has one output per node. A multi-output ONNX node is imported as one tessera
 * node (or a small chain of existing ops) per used output, each computing that output from the
 * node's inputs; unused outputs build nothing. So fusion, CSE (the shared ReduceMean of
 * LayerNormalization's Y and Mean) and the memory plan see ordinary single-output nodes. */

/* Adds node `op` named "<nl>/<suffix>" over in[0..n_in) with attrs `at` (NULL: defaults).
 * Returns TSR_OK or the builder's status, wrapped with the file label. */
static tsr_status mo_op(struct onnx_importer *im, const char *nl, const char *suffix, tsr_op op,
                        const tsr_value *in, int n_in, const struct tsr_op_attrs *at,
                        tsr_value *out) {
    char name[256];
    snprintf(name, sizeof name, "%s/%s", nl, suffix);
    tsr_status st = tsr_graph_op(im->graph, op, in, n_in, at, name, out);
    return st == TSR_OK ? TSR_OK : onnx_wrap(im, st);
}

/* Adds an unnamed constant of `desc` holding `data`. Returns TSR_OK or the builder's status. */
static tsr_status mo_const(struct onnx_importer *im, const struct tsr_tensor_desc *desc,
                           const void *data, tsr_value *out) {
    tsr_status st = tsr_graph_constant(im->graph, NULL, desc, data, out);
    return st == TSR_OK ? TSR_OK : onnx_wrap(im, st);
}

/* Maps ONNX value name `out` to v; TSR_E_PARSE if it is defined already, TSR_E_NOMEM. */
static tsr_status mo_put(struct onnx_importer *im, const char *nl, const char *out, tsr_value v) {
    if (map_find(&im->map, out))
        return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: node '%s': value '%s' is defined twice",
                       im->label, nl, out);
    if (map_put(&im->map, out, v, 0))
        return TSR_ERR(im->ctx, TSR_E_NOMEM, "%s: out of memory", im->label);
    return TSR_OK;
}

/* ReduceMean of x over axes[0..n_axes) (keepdims as given), node "<nl>/<suffix>". */
static tsr_status mo_mean_from(struct onnx_importer *im, const char *nl, const char *suffix,
                               tsr_value x, const int64_t *axes, int n_axes, int keepdims,
                               tsr_value *out) {
    struct tsr_op_attrs at = tsr_op_attrs_default();
    at.n_axes = n_axes;
    for (int k = 0; k < n_axes; k++)
        at.axes[k] = axes[k];
    at.keepdims = keepdims;
    return mo_op(im, nl, suffix, TSR_OP_REDUCEMEAN, &x, 1, &at, out);
}

/* Population variance of x over `axes` (keepdims) around `mean` (same axes, keepdims):
 * ReduceMean((x - mean)^2). */
static tsr_status mo_var(struct onnx_importer *im, const char *nl, tsr_value x, tsr_value mean,
                         const int64_t *axes, int n_axes, tsr_value *out) {
    tsr_value d, dd, in[2] = {x, mean};
    tsr_status st = mo_op(im, nl, "centered", TSR_OP_SUB, in, 2, NULL, &d);
    if (st != TSR_OK) return st;
    in[0] = in[1] = d;
    if ((st = mo_op(im, nl, "centered_sq", TSR_OP_MUL, in, 2, NULL, &dd)) != TSR_OK) return st;
    return mo_mean_from(im, nl, "var", dd, axes, n_axes, 1, out);
}

/* 1 / sqrt(var + eps). */
static tsr_status mo_inv_std(struct onnx_importer *im, const char *nl, tsr_value var, float eps,
                             tsr_value *out) {
    struct tsr_tensor_desc sd = {TSR_F32, 0, {0}};
    tsr_value e, s, r, in[2];
    tsr_status st = mo_const(im, &sd, &eps, &e);
    if (st != TSR_OK) return st;
    in[0] = var;
    in[1] = e;
    if ((st = mo_op(im, nl, "var_eps", TSR_OP_ADD, in, 2, NULL, &s)) != TSR_OK) return st;
    if ((st = mo_op(im, nl, "std", TSR_OP_SQRT, &s, 1, NULL, &r)) != TSR_OK) return st;
    return mo_op(im, nl, "inv_std", TSR_OP_RECIPROCAL, &r, 1, NULL, out);
}

/* The used outputs k >= 1 of ONNX node n (type `type`, imported as tessera op `op` over in[]
 * with `attrs`): LayerNormalization Mean (1) and InvStdDev (2), TopK Indices (1: a TopK node with
 * topk_indices), MaxPool Indices (1: a MaxPool node with pool_indices), Dropout
 * mask (1: all true at inference; a true training_mode was refused already). Formulas: the ONNX
 * operator pages (LayerNormalization-17: Mean = ReduceMean(X, axes [axis, rank)), InvStdDev =
 * 1 / sqrt(ReduceMean((X - Mean)^2) + epsilon), both of shape X's dims with 1 from axis on).
 * Returns TSR_OK, TSR_E_UNSUPPORTED (another op's output k used), or the builder's status. */
static tsr_status add_extra_outputs(struct onnx_importer *im, const Onnx__NodeProto *n,
                                    const char *nl, const char *type, tsr_op op,
                                    const tsr_value *in, const struct tsr_op_attrs *attrs) {
    for (size_t k = 1; k < n->n_output; k++) {
        const char *out = n->output[k];
        if (!out || !*out || !output_used(im, out)) continue;
        const struct tsr_tensor_desc xd = im->graph->values[in[0]].desc;
        tsr_value v;
        tsr_status st;
        if (op == TSR_OP_LAYERNORM && k <= 2) {
            int64_t axis = attrs->axis == TSR_AXIS_DEFAULT ? -1 : attrs->axis, axes[TSR_MAX_RANK];
            if (axis < 0) axis += xd.rank;
            if (axis < 0 || axis >= xd.rank)
                return TSR_ERR(im->ctx, TSR_E_SHAPE,
                               "%s: node '%s' (LayerNormalization): axis %lld of a rank-%d input",
                               im->label, nl, (long long)attrs->axis, xd.rank);
            int n_axes = 0;
            for (int64_t a = axis; a < xd.rank; a++)
                axes[n_axes++] = a;
            tsr_value mean;
            if ((st = mo_mean_from(im, nl, "mean", in[0], axes, n_axes, 1, &mean)) != TSR_OK)
                return st;
            v = mean;
            if (k == 2) {
                tsr_value var;
                if ((st = mo_var(im, nl, in[0], mean, axes, n_axes, &var)) != TSR_OK) return st;
                if ((st = mo_inv_std(im, nl, var, attrs->epsilon, &v)) != TSR_OK) return st;
            }
        } else if (op == TSR_OP_TOPK && k == 1) {
            struct tsr_op_attrs at = *attrs; /* the same node computing the indices */
            at.topk_indices = 1;
            if ((st = mo_op(im, nl, "indices", TSR_OP_TOPK, in, 1, &at, &v)) != TSR_OK) return st;
        } else if (op == TSR_OP_MAXPOOL && k == 1) {
            struct tsr_op_attrs at = *attrs; /* the same window, its Indices */
            at.pool_indices = 1;
            if ((st = mo_op(im, nl, "indices", TSR_OP_MAXPOOL, in, 1, &at, &v)) != TSR_OK)
                return st;
        } else if (op == TSR_OP_DYNAMICQUANTIZELINEAR && k <= 2) { /* issue 13 */
            struct tsr_op_attrs at = *attrs; /* the same node computing y_scale / y_zero_point */
            at.q_output = (int)k;
            if ((st = mo_op(im, nl, k == 1 ? "y_scale" : "y_zero_point",
                            TSR_OP_DYNAMICQUANTIZELINEAR, in, 1, &at, &v)) != TSR_OK)
                return st;
        } else if (op == TSR_OP_DROPOUT && k == 1) {
            struct tsr_tensor_desc md = xd;
            md.dtype = TSR_BOOL;
            int64_t cnt = tsr_desc_elements(&md);
            unsigned char *ones = malloc((size_t)(cnt ? cnt : 1));
            if (!ones) return TSR_ERR(im->ctx, TSR_E_NOMEM, "%s: out of memory", im->label);
            memset(ones, 1, (size_t)(cnt ? cnt : 1));
            st = mo_const(im, &md, ones, &v);
            free(ones);
            if (st != TSR_OK) return st;
        } else {
            return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                           "%s: node '%s' (%s): output %zu ('%s') is used; only the first output "
                           "is supported",
                           im->label, nl, type, k, out);
        }
        if ((st = mo_put(im, nl, out, v)) != TSR_OK) return st;
    }
    return TSR_OK;
}

/* ONNX SoftmaxCrossEntropyLoss-13 (scores [N, C, d..], labels [N, d..], weights [C]?; outputs
 * output, log_prob?): LogSoftmax(scores, axis 1) — the log_prob output — followed by a
 * NegativeLogLikelihoodLoss node (the operator page's definition); its attributes reduction and
 * ignore_index are the NLL op's (read through the op table). Returns TSR_OK, TSR_E_PARSE,
 * TSR_E_UNSUPPORTED, the builder's status. */
static tsr_status add_sce(struct onnx_importer *im, const Onnx__NodeProto *n, const char *nl,
                          const char *type) {
    if (n->n_input < 2 || n->n_input > 3 || n->n_output < 1 || n->n_output > 2 || !n->output[0] ||
        !*n->output[0])
        return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: node '%s' (%s) has %zu inputs and %zu outputs",
                       im->label, nl, type, n->n_input, n->n_output);
    tsr_value in[3];
    int n_in = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        const char *iname = n->input[i] ? n->input[i] : "";
        if (!*iname) {
            if (i == 2) continue;
            return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: node '%s' (%s): required input %zu is empty",
                           im->label, nl, type, i);
        }
        const struct onnx_slot *s = map_find(&im->map, iname);
        if (!s)
            return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: node '%s' (%s): input '%s' is not defined",
                           im->label, nl, type, iname);
        in[n_in++] = s->value;
    }
    struct tsr_op_attrs at = tsr_op_attrs_default();
    tsr_op_onnx_defaults(TSR_OP_NLLLOSS, im->opset, &at);
    for (size_t i = 0; i < n->n_attribute; i++) {
        tsr_status st = read_attr(im, TSR_OP_NLLLOSS, nl, n->attribute[i], &at);
        if (st != TSR_OK) return st;
    }
    struct tsr_op_attrs ls = tsr_op_attrs_default();
    ls.axis = 1;
    ls.softmax_2d = 0;
    tsr_value lp, y;
    tsr_status st = mo_op(im, nl, "log_prob", TSR_OP_LOGSOFTMAX, &in[0], 1, &ls, &lp);
    if (st != TSR_OK) return st;
    in[0] = lp;
    if ((st = mo_op(im, nl, "nll", TSR_OP_NLLLOSS, in, n_in, &at, &y)) != TSR_OK) return st;
    if ((st = mo_put(im, nl, n->output[0], y)) != TSR_OK) return st;
    if (n->n_output == 2 && n->output[1] && *n->output[1]) return mo_put(im, nl, n->output[1], lp);
    return TSR_OK;
}

/* BatchNormalization on existing ops (ONNX BatchNormalization-15). With training_mode 1: over
 * the axes all but 1 of X [N, C, ...], current_mean = ReduceMean(X), current_var the population
 * variance; Y = (X - current_mean) / sqrt(current_var + epsilon) * scale + B; outputs 1 and 2
 * (when used) running_mean = input_mean * momentum + current_mean * (1 - momentum), running_var
 * likewise (the operator page and its reference, momentum default 0.9). Without (training 0:
 * inference with statistics that are not constants, which the BN pass cannot fold): Y as above
 * with input_mean / input_var; no other output. Returns TSR_OK, TSR_E_PARSE, TSR_E_UNSUPPORTED,
 * TSR_E_SHAPE, TSR_E_NOMEM. */
static tsr_status add_bn(struct onnx_importer *im, const Onnx__NodeProto *n, const char *nl,
                         int training) {
    const char *type = "BatchNormalization";
    if (!training && n->n_output > 1)
        for (size_t k = 1; k < n->n_output; k++)
            if (n->output[k] && *n->output[k] && output_used(im, n->output[k]))
                return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                               "%s: node '%s' (%s): output %zu ('%s') is used; it exists only "
                               "with training_mode 1",
                               im->label, nl, type, k, n->output[k]);
    if (n->n_input != 5 || n->n_output < 1 || n->n_output > 3 || !n->output[0] || !*n->output[0])
        return TSR_ERR(im->ctx, TSR_E_PARSE,
                       "%s: node '%s' (%s, training_mode) has %zu inputs and %zu outputs; 5 and "
                       "1 to 3 expected",
                       im->label, nl, type, n->n_input, n->n_output);
    tsr_value in[5];
    for (int i = 0; i < 5; i++) {
        const struct onnx_slot *s = n->input[i] ? map_find(&im->map, n->input[i]) : NULL;
        if (!s)
            return TSR_ERR(im->ctx, TSR_E_PARSE, "%s: node '%s' (%s): input %d is not defined",
                           im->label, nl, type, i);
        in[i] = s->value;
    }
    float eps = 1e-5f, mom = 0.9f;
    for (size_t i = 0; i < n->n_attribute; i++) {
        const Onnx__AttributeProto *a = n->attribute[i];
        if (!a->name) continue;
        if (!strcmp(a->name, "epsilon"))
            eps = a->f;
        else if (!strcmp(a->name, "momentum"))
            mom = a->f;
        else if (strcmp(a->name, "training_mode") &&
                 (strcmp(a->name, "spatial") || a->i != 1)) /* spatial 1: opset < 9 default */
            return TSR_ERR(im->ctx, TSR_E_UNSUPPORTED,
                           "%s: node '%s' (%s): attribute '%s' is not supported", im->label, nl,
                           type, a->name);
    }
    const struct tsr_tensor_desc xd = im->graph->values[in[0]].desc;
    if (xd.rank < 2)
        return TSR_ERR(im->ctx, TSR_E_SHAPE, "%s: node '%s' (%s): input of rank %d; >= 2 expected",
                       im->label, nl, type, xd.rank);
    int64_t axes[TSR_MAX_RANK];
    int n_axes = 0;
    for (int a = 0; a < xd.rank; a++)
        if (a != 1) axes[n_axes++] = a;
    struct tsr_op_attrs ua = tsr_op_attrs_default(); /* [C] <-> [1, C, 1, ...] */
    ua.n_axes = n_axes;
    for (int a = 0; a < n_axes; a++)
        ua.axes[a] = axes[a];
    tsr_value mean, var, inv, d, t, sc, b, y, pair[2];
    tsr_status st;
    if (!training) {
        if ((st = mo_op(im, nl, "mean_c", TSR_OP_UNSQUEEZE, &in[3], 1, &ua, &mean)) != TSR_OK)
            return st;
        if ((st = mo_op(im, nl, "var_c", TSR_OP_UNSQUEEZE, &in[4], 1, &ua, &var)) != TSR_OK)
            return st;
    } else {
        if ((st = mo_mean_from(im, nl, "mean", in[0], axes, n_axes, 1, &mean)) != TSR_OK) return st;
        if ((st = mo_var(im, nl, in[0], mean, axes, n_axes, &var)) != TSR_OK) return st;
    }
    if ((st = mo_inv_std(im, nl, var, eps, &inv)) != TSR_OK) return st;
    if ((st = mo_op(im, nl, "scale_c", TSR_OP_UNSQUEEZE, &in[1], 1, &ua, &sc)) != TSR_OK) return st;
    if ((st = mo_op(im, nl, "bias_c", TSR_OP_UNSQUEEZE, &in[2], 1, &ua, &b)) != TSR_OK) return st;
    pair[0] = in[0];
    pair[1] = mean;
    if ((st = mo_op(im, nl, "y_centered", TSR_OP_SUB, pair, 2, NULL, &d)) != TSR_OK) return st;
    pair[0] = d;
    pair[1] = inv;
    if ((st = mo_op(im, nl, "y_normed", TSR_OP_MUL, pair, 2, NULL, &t)) != TSR_OK) return st;
    pair[0] = t;
    pair[1] = sc;
    if ((st = mo_op(im, nl, "y_scaled", TSR_OP_MUL, pair, 2, NULL, &t)) != TSR_OK) return st;
    pair[0] = t;
    pair[1] = b;
    if ((st = mo_op(im, nl, "y", TSR_OP_ADD, pair, 2, NULL, &y)) != TSR_OK) return st;
    if ((st = mo_put(im, nl, n->output[0], y)) != TSR_OK) return st;
    for (size_t k = 1; training && k < n->n_output; k++) {
        const char *out = n->output[k];
        if (!out || !*out || !output_used(im, out)) continue;
        const char *sfx[2][4] = {{"cur_mean", "run_mean_old", "run_mean_new", "running_mean"},
                                 {"cur_var", "run_var_old", "run_var_new", "running_var"}};
        const char *const *s4 = sfx[k - 1];
        struct tsr_tensor_desc sd = {TSR_F32, 0, {0}};
        const float m1 = 1.0f - mom;
        tsr_value cur, mc, m1c, old, nw, r;
        if ((st = mo_op(im, nl, s4[0], TSR_OP_SQUEEZE, k == 1 ? &mean : &var, 1, &ua, &cur)) !=
            TSR_OK)
            return st;
        if ((st = mo_const(im, &sd, &mom, &mc)) != TSR_OK) return st;
        if ((st = mo_const(im, &sd, &m1, &m1c)) != TSR_OK) return st;
        pair[0] = in[2 + k];
        pair[1] = mc;
        if ((st = mo_op(im, nl, s4[1], TSR_OP_MUL, pair, 2, NULL, &old)) != TSR_OK) return st;
        pair[0] = cur;
        pair[1] = m1c;
        if ((st = mo_op(im, nl, s4[2], TSR_OP_MUL, pair, 2, NULL, &nw)) != TSR_OK) return st;
        pair[0] = old;
        pair[1] = nw;
        if ((st = mo_op(im, nl, s4[3], TSR_OP_ADD, pair, 2, NULL, &r)) != TSR_OK) return st;
        if ((st = mo_put(im, nl, out, r)) != TSR_OK) return st;
    }
    return TSR_OK;
}

/* For a BatchNormalization node n: 1 with attribute training_mode 1, 0 in inference mode with an
 * input among scale, B, mean, var that is not a constant (both: add_bn); else -1 (the op table's
 * BatchNormalization, folded by the BN pass). Opset < 7 (is_test, consumed_inputs): -1. */
static int bn_mode(const struct onnx_importer *im, const Onnx__NodeProto *n) {
    if (!n->op_type || strcmp(n->op_type, "BatchNormalization") ||
        !tsr_op_domain_is_default(n->domain) || im->opset < 7)
        return -1;
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, "training_mode") &&
            n->attribute[i]->i != 0)
            return 1;
    for (size_t i = 1; i < n->n_input && i < 5; i++) {
        const struct onnx_slot *s = n->input[i] ? map_find(&im->map, n->input[i]) : NULL;
        if (s && !im->graph->values[s->value].data) return 0;
    }
    return -1;
}

/* ---- zoo2: variadic nodes wider than a tessera node ---------------------------------------- */

/* Adds node n (Concat, Sum, Min or Max with more inputs than a tessera node holds,
 * TSR_NODE_MAX_INPUTS; DenseNet concatenates up to 32+ feature maps) as a left-to-right chain of
 * nodes of the same op and attributes: op(op(x0 .. x7), x8 .. x14), ...; the last one is named
 * after n and defines its output `out`. Exact for Concat (the order is kept), Min and Max; Sum
 * adds in the same left-to-right order. Returns TSR_OK, TSR_E_PARSE (an empty or undefined
 * input), TSR_E_NOMEM or the builder's status. */
static tsr_status add_variadic_chain(struct onnx_importer *im, const Onnx__NodeProto *n,
                                     const char *nl, const char *type, tsr_op op, const char *out) {
    struct tsr_op_attrs attrs = tsr_op_attrs_default();
    tsr_op_onnx_defaults(op, im->opset, &attrs);
    for (size_t i = 0; i < n->n_attribute; i++) {
        tsr_status st = read_attr(im, op, nl, n->attribute[i], &attrs);
        if (st != TSR_OK) return st;
    }
    tsr_value in[TSR_NODE_MAX_INPUTS];
    int n_in = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        const char *iname = n->input[i] ? n->input[i] : "";
        const struct onnx_slot *s = *iname ? map_find(&im->map, iname) : NULL;
        if (!s)
            return TSR_ERR(im->ctx, TSR_E_PARSE,
                           "%s: node '%s' (%s): input %zu ('%s') is empty or not defined by an "
                           "earlier node, an initializer or a graph input",
                           im->label, nl, type, i, iname);
        if (n_in == TSR_NODE_MAX_INPUTS) {
            tsr_value part;
            tsr_status st = tsr_graph_op(im->graph, op, in, n_in, &attrs, NULL, &part);
            if (st != TSR_OK) return onnx_wrap(im, st);
            in[0] = part;
            n_in = 1;
        }
        in[n_in++] = s->value;
    }
    tsr_value v;
    tsr_status st =
        tsr_graph_op(im->graph, op, in, n_in, &attrs, n->name && *n->name ? n->name : NULL, &v);
    if (st != TSR_OK) return onnx_wrap(im, st);
    if (map_put(&im->map, out, v, 0))
        return TSR_ERR(im->ctx, TSR_E_NOMEM, "%s: out of memory", im->label);
    return TSR_OK;
}
