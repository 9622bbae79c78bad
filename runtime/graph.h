/*
 * graph.h — the graph IR behind the builder API (tessera.h): values, nodes, inputs, outputs.
 * Passes (runtime/passes/) rewrite it; lowering (runtime/lower.c) turns it into a tsr_program.
 */
#ifndef TSR_RUNTIME_GRAPH_H
#define TSR_RUNTIME_GRAPH_H

#include "runtime/internal.h"

#define TSR_NODE_MAX_INPUTS 8

struct tsr_value_info {
    char *name;                  /* owned; unique within the graph */
    struct tsr_tensor_desc desc; /* inferred when the producing node was added */
    void *data;                  /* constant data (owned, 64-byte aligned) or NULL */
    int producer;                /* index of the producing node, or -1 */
    int input_index;             /* graph input index, or -1 */
};

struct tsr_node {
    tsr_op op;
    char *name; /* owned; ONNX node name or made up ("Gemm_3") */
    int n_inputs;
    tsr_value inputs[TSR_NODE_MAX_INPUTS];
    tsr_value output;
    struct tsr_op_attrs attrs;
    int dead;       /* removed by a pass */
    char *absorbed; /* owned: names of nodes passes folded into this one, comma-separated; NULL */
};

struct tsr_graph_output {
    tsr_value value;
    char *name; /* owned */
};

/* Symbolic dims of one graph input (ONNX dim_param, or a dim the file leaves unset): names[d] is
 * non-NULL (owned; "" when the file gives no name) for a symbolic dim d, whose value in the
 * input's desc is only the one this graph was built at (an import without override: 1). */
struct tsr_input_dims {
    char *names[TSR_MAX_RANK];
    /* A value input (tsr_input_shape.data): the contents it was bound to as a constant (owned,
     * tsr_desc_bytes of the input's desc), else NULL. Runs with other contents re-specialise. */
    void *value;
    int is_value; /* a value input (bound, or deferred: tsr_graph.deferred) */
};

/* The ONNX model bytes a graph with symbolic input dims was imported from, kept so that a plan
 * can re-import it at other input shapes (runtime/plan.c). Shared, reference-counted (atomic:
 * a graph and a plan may live in different threads), immutable. */
struct tsr_model_source {
    _Atomic int refs;
    char *label;          /* owned: file name or the caller's label, for messages */
    char *base_dir;       /* owned: directory of external tensor data, or NULL (a buffer) */
    unsigned char *bytes; /* owned (malloc) */
    size_t size;
};

struct tsr_graph {
    tsr_context *ctx;
    struct tsr_value_info *values;
    int n_values, cap_values;
    struct tsr_node *nodes;
    int n_nodes, cap_nodes;
    tsr_value *inputs;
    int n_inputs, cap_inputs;
    struct tsr_graph_output *outputs;
    int n_outputs, cap_outputs;
    struct tsr_input_dims *input_dims; /* parallel to inputs; entries past n_inputs zeroed */
    int cap_input_dims;
    struct tsr_model_source *source; /* reference held; NULL unless imported with symbolic dims */
    int deferred; /* imported without the contents of a value input: inputs and zero-element
                     placeholder outputs only; a plan from it specialises at its first run */
    /* Index of value names (graph.c: open addressing over value ids, FNV-1a of the name), so
     * that the builder's uniqueness checks cost O(1) and a graph of N values builds in O(N).
     * Covers values[0 .. n_indexed); the rest is added at the next lookup. Zeroed = empty
     * (a clone starts with none). */
    int *name_slots;  /* owned; -1 empty, -2 removed, else a value id */
    size_t name_cap;  /* power of two, or 0 */
    size_t name_used; /* slots not empty (ids and removed) */
    int n_indexed;
};

/* The value named `name`, or -1. O(1) on average. */
tsr_value tsr_graph_find_value(tsr_graph *g, const char *name);

/* Wraps `bytes` (malloc'ed; ownership taken, freed on failure too) of `size` with copies of
 * `label` and `base_dir` (may be NULL) into a new source holding one reference. NULL when out
 * of memory. */
struct tsr_model_source *tsr_model_source_adopt(void *bytes, size_t size, const char *label,
                                                const char *base_dir);
/* Takes / drops a reference (the last one frees the source). NULL-safe. Thread-safe. */
struct tsr_model_source *tsr_model_source_ref(struct tsr_model_source *src);
void tsr_model_source_unref(struct tsr_model_source *src);

/* Marks dim `dim` of graph input `input` (index in g->inputs) symbolic, named `name` ("" when
 * unnamed; copied). Returns TSR_OK, TSR_E_INVALID_ARG (bad index), TSR_E_NOMEM. */
tsr_status tsr_graph_set_input_dim_name(tsr_graph *g, int input, int dim, const char *name);
/* 1 when some input of g has a symbolic dim, else 0. */
int tsr_graph_has_symbolic_dims(const tsr_graph *g);
/* Fills *out for graph input i from its desc and dims record (strings point into `dims`).
 * dims may be NULL (no symbolic dims). */
void tsr_input_info_fill(const char *name, const struct tsr_tensor_desc *desc,
                         const struct tsr_input_dims *dims, struct tsr_input_info *out);
/* Writes "[batch, seq, 8] float32" (symbolic dims by name, "?" when unnamed) into buf. */
char *tsr_input_info_format(const struct tsr_input_info *info, char *buf, size_t size);

/* Infers the output desc of `op` on input descs (and, for Reshape, the constant shape data of
 * input 1). On a mismatch records TSR_E_SHAPE on ctx with a message naming node_name, the op
 * and both shapes. Returns TSR_OK, TSR_E_SHAPE, TSR_E_DTYPE, TSR_E_UNSUPPORTED. */
tsr_status tsr_infer_shape(tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,
                           const struct tsr_tensor_desc *const *in, const void *const *in_data,
                           int n_in, const char *node_name, struct tsr_tensor_desc *out);

/* ONNX multidirectional broadcast of a and b into out (numpy rules). Returns 0 on success,
 * -1 when incompatible. https://github.com/onnx/onnx/blob/main/docs/Broadcasting.md */
int tsr_broadcast_shape(const struct tsr_tensor_desc *a, const struct tsr_tensor_desc *b,
                        struct tsr_tensor_desc *out);

/* Renames value v (e.g. the importer names node outputs after ONNX value names). Returns TSR_OK,
 * TSR_E_INVALID_ARG (bad id, empty or duplicate name), TSR_E_NOMEM. */
tsr_status tsr_graph_rename_value(tsr_graph *g, tsr_value v, const char *name);

/* Resolved window of Conv / MaxPool / AveragePool: kernel size, pads (auto_pad applied) and
 * output spatial size. */
struct tsr_window_geometry {
    int64_t kh, kw;
    int64_t pad_t, pad_l, pad_b, pad_r;
    int64_t oh, ow;
};

/* Computes the window geometry of a Conv (w = weights) or pool (w = NULL) node on input x
 * [N, C, H, W] (ONNX Conv/MaxPool/AveragePool: auto_pad, ceil_mode). Returns TSR_OK,
 * TSR_E_SHAPE (message names the node and both shapes), TSR_E_UNSUPPORTED (1-D / 3-D). */
tsr_status tsr_window_geometry(tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,
                               const struct tsr_tensor_desc *x, const struct tsr_tensor_desc *w,
                               const char *node, struct tsr_window_geometry *out);

/* Group "win3d": the depth part of a 3-D pool window (ONNX MaxPool / AveragePool on
 * [N, C, D, H, W]): kernel k, stride, dilation, resolved pads before / after, output depth od. */
struct tsr_window_d {
    int64_t k, stride, dil, pad_b, pad_e, od;
};

/* Computes the geometry of a MaxPool / AveragePool / LpPool node on a 3-D input x [N, C, D, H, W]
 * (attributes stored by the importer, tsr_op_attrs.win_d): *hw the H, W part (as
 * tsr_window_geometry of [N, C * D, H, W]), *d the depth part (the same ONNX output formula,
 * ceil_mode). Returns TSR_OK, TSR_E_SHAPE, TSR_E_UNSUPPORTED (auto_pad SAME_*, MaxPool's Indices).
 */
tsr_status tsr_window_geometry_3d(tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,
                                  const struct tsr_tensor_desc *x, const char *node,
                                  struct tsr_window_geometry *hw, struct tsr_window_d *d);

/* Group "conv3d": the geometry of a Conv node on x [N, C, D, H, W] with weights
 * w [M, C/group, kD, kH, kW] (ONNX Conv; attributes as tsr_op_attrs.win_d): *hw the H, W part
 * (as tsr_window_geometry of Conv on [N, C, H, W] with weights [M, C/group, kH, kW]), *d the depth
 * part (kernel kD, stride, dilation, pads, output depth). Returns TSR_OK, TSR_E_SHAPE,
 * TSR_E_UNSUPPORTED (auto_pad SAME_*). */
tsr_status tsr_conv_geometry_3d(tsr_context *ctx, const struct tsr_op_attrs *attrs,
                                const struct tsr_tensor_desc *x, const struct tsr_tensor_desc *w,
                                const char *node, struct tsr_window_geometry *hw,
                                struct tsr_window_d *d);

/* Group "spatial2": resolved ConvTranspose geometry, per spatial dim [H, W] (1-D: H = 1):
 * kernel size k, input size in, pads before (pb) and after (pe) with auto_pad / output_shape
 * applied, output size out; m: output channels (weights [C, M/group, k...]). */
struct tsr_convt_geometry {
    int64_t k[3], in[3], pb[3], pe[3], out[3]; /* [2]: D of a 3-D input (group "conv3d") */
    int64_t m;
};

/* Computes the ConvTranspose geometry of input x [N, C, (H,) W] and weights w (ONNX
 * ConvTranspose: out = stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - pads; with
 * output_shape or SAME_* the total padding is derived and split, the extra half at the end for
 * SAME_UPPER, else at the beginning). Returns TSR_OK, TSR_E_SHAPE (message names the node and the
 * shapes), TSR_E_UNSUPPORTED (4-D and more). A 3-D input [N, C, D, H, W] (group "conv3d") takes
 * its D attributes from win_d / convt_d; its geometry is at index 2. */
tsr_status tsr_convtranspose_geometry(tsr_context *ctx, const struct tsr_op_attrs *attrs,
                                      const struct tsr_tensor_desc *x,
                                      const struct tsr_tensor_desc *w, const char *node,
                                      struct tsr_convt_geometry *g);

/* Group "spatial2": MeanVarianceNormalization's axes: *out = *attrs with ONNX's default axes
 * [0, 2, 3] when none are given. */
void tsr_mvn_axes(const struct tsr_op_attrs *attrs, struct tsr_op_attrs *out);

/* Group "spatial2": a parsed Einsum equation. Indices are numbered 0..51 (a-z, A-Z); in[t][d]
 * the index of dim d of input t, out[d] of the output (explicit, or ONNX's implicit output: the
 * indices seen once, in alphabetical order); size[] the extent of each index. */
struct tsr_einsum {
    int n_in, rank[2], out_rank;
    int in[2][TSR_MAX_RANK], out[TSR_MAX_RANK];
    int64_t size[52];
};

/* Parses attrs->einsum_equation for inputs in[0..n_in-1]. Returns TSR_OK, TSR_E_SHAPE (a term
 * does not match its input's rank, sizes of one index differ, an output index no input has),
 * TSR_E_UNSUPPORTED (ellipsis, a repeated index within a term, more than 2 inputs, another
 * character); messages name the node and the equation. */
tsr_status tsr_einsum_parse(tsr_context *ctx, const struct tsr_op_attrs *attrs,
                            const struct tsr_tensor_desc *const *in, int n_in, const char *node,
                            struct tsr_einsum *e);

/* Group "spatial": Resize / Upsample geometry. out: the output desc; scale[d]: the scale of
 * dim d that the coordinate transformation uses (the scales input, or sizes / input dim). */
struct tsr_resize_geometry {
    struct tsr_tensor_desc out;
    double scale[TSR_MAX_RANK];
};
/* Reads the node's constant scales / sizes inputs (in[1 ..], in_data NULL for a non-constant
 * input) and checks what tessera supports: only the two innermost dims change, no
 * tf_crop_and_resize, keep_aspect_ratio_policy stretch. Returns TSR_OK, TSR_E_SHAPE,
 * TSR_E_UNSUPPORTED (message names the node). */
tsr_status tsr_resize_geometry(tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,
                               const struct tsr_tensor_desc *const *in, const void *const *in_data,
                               int n_in, const char *node, struct tsr_resize_geometry *out);
/* The taps of output index o (0 .. out_len - 1) of a resized dim of in_len elements and scale
 * `scale` (ONNX Resize's 1-D interpolation: nearest, linear, cubic with its coordinate
 * transformation; indices clamped to [0, in_len - 1], as ONNX's edge padding): idx[t] and
 * weight w[t] for t < the returned count (1, 2 or 4). Pure. */
int tsr_resize_taps(const struct tsr_op_attrs *attrs, int64_t in_len, int64_t out_len, double scale,
                    int64_t o, int64_t idx[4], double w[4]);

/* Group "spatial": DepthToSpace / SpaceToDepth as a strided copy: the input [N, C, H, W] seen
 * as the 6-D view vdims (row-major) is transposed by perm to the output's 6-D form. Returns
 * TSR_OK, TSR_E_SHAPE (bad blocksize or dims; message names the node). */
tsr_status tsr_depth_space_view(tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,
                                const struct tsr_tensor_desc *x, const char *node, int64_t vdims[6],
                                int perm[6], struct tsr_tensor_desc *out);

/* Transpose permutation of a rank-`rank` input (n_perm 0: reversed dims). 0, or -1 when attrs
 * hold no permutation of that rank. */
int tsr_transpose_perm(const struct tsr_op_attrs *attrs, int rank, int64_t *perm);

/* Bit d set when dim d is reduced by a Reduce* node (n_axes 0: all, or none with
 * noop_with_empty_axes). 0, or -1 for out-of-range or repeated axes. */
int tsr_reduce_mask(const struct tsr_op_attrs *attrs, int rank, unsigned *mask);

/* Slice (ONNX Slice, attrs starts / ends / slice_axes / steps) of x: per dim d the first index
 * start[d], the step step[d] and the output size dims[d] (unsliced dims: 0, 1, x's dim). 0, or
 * -1 for inconsistent counts, an axis out of range or repeated, or a zero step. */
int tsr_slice_geometry(const struct tsr_op_attrs *attrs, const struct tsr_tensor_desc *x,
                       int64_t *start, int64_t *step, int64_t *dims);

/* Pad (group "tkern"; attrs pad_mode, pad_pads, pad_axes) of x: per dim d the elements added
 * before (begin[d]) and after (end[d]; negative crops) and the output dims. 0, or -1 when the
 * pads do not fit x (count not 2 x the axes, an axis out of range or repeated, an output dim < 0,
 * reflect padding by >= the dim, edge or reflect padding of an empty dim). */
int tsr_pad_geometry(const struct tsr_op_attrs *attrs, const struct tsr_tensor_desc *x,
                     int64_t *begin, int64_t *end, int64_t *dims);

/* CenterCropPad (group "index"; attrs ccp_shape / n_ccp_shape, axes / n_axes: default every
 * dim) of x: per dim d the elements added before (begin[d]; negative: cropped from the start:
 * ONNX centres with the odd element after) and the output dims. 0, or -1 when the shape count
 * differs from the axes', an axis is out of range or repeated, or a target size is negative. */
int tsr_center_crop_pad_geometry(const struct tsr_op_attrs *attrs, const struct tsr_tensor_desc *x,
                                 int64_t *begin, int64_t *dims);

/* Number of elements of ONNX Range(start, limit, delta), scalars of `dtype` (floats in double,
 * integers exactly): max(ceil((limit - start) / delta), 0). 0, or -1 when delta is 0, the
 * bounds overflow, or the count exceeds 2^40. */
int tsr_range_count(tsr_dtype dtype, const void *start, const void *limit, const void *delta,
                    int64_t *n);

/* Pass helpers. new_value: adds a value (name made unique; data owned, may be NULL) and returns
 * its id, or -1 on OOM. insert_node: inserts a copy of *proto (name copied) at node index `at`,
 * shifting later nodes and fixing producers; proto->output's producer becomes `at`; 0 or -1 on
 * OOM. replace_uses: every live node input and graph output reading old_value reads new_value. */
/* Records that `from` (and what it had absorbed) was folded into `into`: appended to
 * into->absorbed for --explain. 0, or -1 on OOM. */
int tsr_node_absorb(struct tsr_node *into, const struct tsr_node *from);
tsr_value tsr_graph_new_value(tsr_graph *g, const char *name, const struct tsr_tensor_desc *desc,
                              void *data);
int tsr_graph_insert_node(tsr_graph *g, int at, const struct tsr_node *proto);
void tsr_graph_replace_uses(tsr_graph *g, tsr_value old_value, tsr_value new_value);

/* Value forwarding, for a pass that replaces many values in one walk over the nodes in order
 * (tsr_graph_replace_uses for each would cost O(nodes) per replacement): fwd[v] is the value
 * that replaces v (v itself when none). Nodes are in topological order, so a node read only
 * values of earlier nodes: setting fwd[old] = new and, on visiting each later node, reading
 * its inputs through tsr_value_forward_inputs has the effect of tsr_graph_replace_uses.
 * create: the identity map over g's values (malloc'ed) or NULL on OOM; finish: applies it to
 * the graph outputs and frees it. */
tsr_value *tsr_value_forward_create(const tsr_graph *g);
void tsr_value_forward_inputs(tsr_value *fwd, struct tsr_node *n);
void tsr_value_forward_finish(tsr_graph *g, tsr_value *fwd);

/* Deep copy of a graph (for passes that must not touch the caller's graph). */
tsr_status tsr_graph_clone(const tsr_graph *src, tsr_graph **out);

#endif
