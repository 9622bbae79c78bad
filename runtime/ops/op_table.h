/*
 * op_table.h — what tessera knows about each operator, read from the one list
 * runtime/ops/op_table.inc: names, arity, attributes and their defaults, category, and the
 * per-op (or per-family) functions of every stage: shape rule (runtime/shape.c), scalar
 * reference (runtime/reference.c) and lowering (runtime/lower.c). Internal; not installed.
 *
 * Everything here is immutable static data or a pure function of it: thread-safe.
 */
#ifndef TSR_RUNTIME_OPS_OP_TABLE_H
#define TSR_RUNTIME_OPS_OP_TABLE_H

#include "runtime/graph.h"
#include "runtime/program.h"

#include <math.h>
#include <stddef.h>

/* Operator families (TSR_OP rows' category column). */
typedef enum {
    TSR_OPC_EW_UNARY = 0,  /* y = f(x) per element; fuses into elementwise regions */
    TSR_OPC_EW_BINARY,     /* y = f(a, b) with ONNX multidirectional broadcasting; fuses */
    TSR_OPC_GEMM,          /* Gemm, MatMul: GEMM kernel with epilogue */
    TSR_OPC_CONV,          /* Conv: convolution kernel with epilogue */
    TSR_OPC_POOL,          /* windowed and global pooling */
    TSR_OPC_REDUCTION,     /* Reduce* */
    TSR_OPC_NORMALIZATION, /* BatchNormalization, LayerNormalization, Softmax */
    TSR_OPC_DATA_MOVEMENT, /* Concat, Transpose, Gather, Slice, Expand, Shape ...: copies that
                              rearrange elements, or shape arithmetic */
    TSR_OPC_LOGICAL,       /* elementwise with no fused-region instruction yet: comparisons,
                              logic, Where, Cast (any dtype; reference and folding) */
    TSR_OPC_VIEW           /* Reshape, Flatten, Identity: share the input's storage, no kernel */
} tsr_op_category;

/* Shape rule: output desc of a node of `op` with attributes `attrs` on inputs in[0..n_in-1]
 * (descs; in_data[i] is the constant data of input i or NULL). n_in is within the op's arity and
 * every input already has the dtype the table asks for (tsr_infer_shape checks both). On a
 * mismatch records the error on ctx with a message naming `node`, the op and the shapes.
 * Returns TSR_OK, TSR_E_SHAPE, TSR_E_UNSUPPORTED. */
typedef tsr_status tsr_shape_fn(tsr_context *ctx, tsr_op op, const struct tsr_op_attrs *attrs,
                                const struct tsr_tensor_desc *const *in, const void *const *in_data,
                                int n_in, const char *node, struct tsr_tensor_desc *out);

/* Scalar reference of one node (contract of tsr_ref_eval_node, runtime/reference.h): in[i] are
 * dense row-major tensors of the node's input descs, out->desc is the node's output desc and
 * out->data holds its bytes. Returns TSR_OK, TSR_E_NOMEM, TSR_E_SHAPE, TSR_E_UNSUPPORTED. */
typedef tsr_status tsr_ref_fn(tsr_context *ctx, const struct tsr_node *node,
                              const struct tsr_tensor *const *in, struct tsr_tensor *out);

/* Lowering of live node `node` of the graph being lowered (state private to runtime/lower.c):
 * appends its kernel(s) to the program, possibly absorbing following nodes (epilogues, fused
 * regions). Returns TSR_OK, TSR_E_NOMEM, TSR_E_SHAPE, TSR_E_UNSUPPORTED, TSR_E_INVALID_ARG,
 * TSR_E_INTERNAL (error recorded on the graph's context). */
struct tsr_lower_state;
typedef tsr_status tsr_lower_fn(struct tsr_lower_state *s, int node);

/* The per-op functions the table names (one declaration each; families share functions). */
#define TSR_OP(sym, onnx_name, domain, min_in, max_in, empty_from, category, shape, reference,     \
               lower)                                                                              \
    tsr_shape_fn shape;                                                                            \
    tsr_ref_fn reference;                                                                          \
    tsr_lower_fn lower;
#include "runtime/ops/op_table.inc"

/* One operator (a TSR_OP row with its TSR_EW / TSR_EW_VARIANT rows). */
struct tsr_op_def {
    tsr_op op;
    const char *onnx_name; /* ONNX op_type, e.g. "Gemm" */
    const char *domain;    /* ONNX domain; "" = ai.onnx */
    int min_in, max_in;    /* node inputs */
    int empty_from;        /* first ONNX input that may be empty (absent); 0 = none */
    tsr_op_category category;
    tsr_shape_fn *shape;
    tsr_ref_fn *reference;
    tsr_lower_fn *lower;
    /* Elementwise ops (has_ew): fused-region instruction, epilogue activation (TSR_ACT_NONE:
     * none), and the byte offsets in struct tsr_op_attrs of the float immediates p0 / p1 (-1:
     * 0.0f). has_variant: when the int attribute at variant_flag is nonzero, ew_variant and
     * act_variant. */
    int has_ew;
    tsr_ew_op ew;
    tsr_activation act;
    int p0_offset, p1_offset;
    int has_variant;
    int variant_flag;
    tsr_ew_op ew_variant;
    tsr_activation act_variant;
    /* has_variadic (TSR_EW_VARIADIC): the node's inputs are folded with ew, then ew_finish
     * (TSR_EW_COPY: none) runs with p0 = the input count. */
    int has_variadic;
    tsr_ew_op ew_finish;
};

/* ONNX AttributeProto types an attribute may have. */
typedef enum {
    TSR_ATTR_T_INT = 0,
    TSR_ATTR_T_FLOAT,
    TSR_ATTR_T_INTS,
    TSR_ATTR_T_STRING,
    TSR_ATTR_T_TENSOR
} tsr_attr_type;

/* Dtype sets of TSR_DTYPES rows (tsr_dtype_set bits, program.h). */
#define TSR_DTS_F32   TSR_DTYPE_BIT(TSR_F32)
#define TSR_DTS_FLOAT (TSR_DTYPE_BIT(TSR_F16) | TSR_DTYPE_BIT(TSR_F32) | TSR_DTYPE_BIT(TSR_F64))
#define TSR_DTS_INDEX (TSR_DTYPE_BIT(TSR_I32) | TSR_DTYPE_BIT(TSR_I64))
#define TSR_DTS_INT                                                                                \
    (TSR_DTS_INDEX | TSR_DTYPE_BIT(TSR_I8) | TSR_DTYPE_BIT(TSR_U8) | TSR_DTYPE_BIT(TSR_I16) |      \
     TSR_DTYPE_BIT(TSR_U16) | TSR_DTYPE_BIT(TSR_U32))
#define TSR_DTS_NUMERIC (TSR_DTS_FLOAT | TSR_DTS_INT)
#define TSR_DTS_BOOL    TSR_DTYPE_BIT(TSR_BOOL)
#define TSR_DTS_ALL     (TSR_DTS_NUMERIC | TSR_DTS_BOOL)
/* group "preproc": images, float32 or uint8 (RGBToGray) */
#define TSR_DTS_IMAGE (TSR_DTS_F32 | TSR_DTYPE_BIT(TSR_U8))
#define TSR_DTS_UINT  /* unsigned integers (group "dtcompute") */                                  \
    (TSR_DTYPE_BIT(TSR_U8) | TSR_DTYPE_BIT(TSR_U16) | TSR_DTYPE_BIT(TSR_U32))
/* issue 13: quantized integers (8 bits: the integer GEMM operands; QINT: QuantizeLinear's
 * outputs; QINT32: DequantizeLinear's inputs) */
#define TSR_DTS_Q8     (TSR_DTYPE_BIT(TSR_U8) | TSR_DTYPE_BIT(TSR_I8))
#define TSR_DTS_QINT   (TSR_DTS_Q8 | TSR_DTYPE_BIT(TSR_U16) | TSR_DTYPE_BIT(TSR_I16))
#define TSR_DTS_QINT32 (TSR_DTS_QINT | TSR_DTYPE_BIT(TSR_I32))

/* The dtypes node input `index` of op may have, and the first input of its group (inputs of one
 * TSR_DTYPES row share one dtype): *first = index when it has a group of its own. An op without
 * TSR_DTYPES rows: float32 only. A TSR_CONST_INPUT input: its table dtype. Pure. */
tsr_dtype_set tsr_op_input_dtypes(tsr_op op, int index, int *first);

/* How an attribute is stored in struct tsr_op_attrs (see the row kinds of op_table.inc). */
typedef enum {
    TSR_AK_F32 = 0, /* float field */
    TSR_AK_I64,     /* int64_t field */
    TSR_AK_BOOL,    /* int field, value != 0 */
    TSR_AK_INTS,    /* int64_t[len] field, exactly len values */
    TSR_AK_LIST,    /* int64_t[len] field, at most len values; count in the int at count_offset */
    TSR_AK_ENUM,    /* int field: index of the string in choices ("A|B|C") */
    TSR_AK_REQUIRE, /* no field: the INT must equal (int64_t)dflt */
    TSR_AK_IGNORED, /* no field: accepted, no effect */
    TSR_AK_SCALAR,  /* TENSOR of one element: fill_dtype (the offset; dflt TSR_F32), fill_f64,
                       fill_i64 */
    TSR_AK_STRING   /* char[len] field: the STRING, NUL-terminated (longer ones are refused);
                       default "" (issue 9, group "spatial2") */
} tsr_attr_kind;

/* One ONNX attribute of one op (TSR_ATTR* rows). */
struct tsr_attr_spec {
    tsr_op op;
    const char *name; /* ONNX attribute name */
    tsr_attr_kind kind;
    tsr_attr_type type;  /* the ONNX type it must have */
    int offset;          /* byte offset of the field in struct tsr_op_attrs; -1 none */
    int count_offset;    /* LIST: byte offset of the int count; else -1 */
    int len;             /* INTS / LIST: elements of the field; STRING: its bytes */
    double dflt;         /* default (every element of an INTS field); REQUIRE: the value */
    const char *choices; /* ENUM */
};

/* The row of `op`; NULL when op is not a valid tsr_op. Static storage. */
const struct tsr_op_def *tsr_op_def(tsr_op op);

/* 1 when `domain` names the default ONNX domain (NULL, "" or "ai.onnx"), else 0. */
int tsr_op_domain_is_default(const char *domain);
/* The op with ONNX op_type `op_type` in `domain` (NULL, "" and "ai.onnx" are the default
 * domain); -1 when there is none. */
int tsr_op_from_onnx(const char *domain, const char *op_type);

/* 1 when op is elementwise (category EW_UNARY or EW_BINARY), else 0. */
int tsr_op_is_elementwise(tsr_op op);
/* 1 when op is a view (category VIEW: its output shares its input 0's storage), else 0. */
int tsr_op_is_view(tsr_op op);

/* Number of attribute specs and spec i (0 .. count-1; NULL outside), in table order. */
int tsr_attr_spec_count(void);
const struct tsr_attr_spec *tsr_attr_spec_at(int i);
/* The spec of attribute `name` of op, or NULL when the op takes no such attribute. */
const struct tsr_attr_spec *tsr_op_attr(tsr_op op, const char *name);

/* Stores a value into attrs per spec. Return 0, or -1 when the value is one tessera does not
 * support (INTS of the wrong length, a LIST too long, an unknown ENUM string, a REQUIRE value
 * that differs). An IGNORED spec stores nothing and returns 0. The caller has checked that the
 * ONNX type is spec->type: int (INT), float (FLOAT), n ints (INTS), a string (STRING). */
int tsr_attr_store_int(const struct tsr_attr_spec *spec, struct tsr_op_attrs *attrs, int64_t v);
int tsr_attr_store_float(const struct tsr_attr_spec *spec, struct tsr_op_attrs *attrs, float v);
int tsr_attr_store_ints(const struct tsr_attr_spec *spec, struct tsr_op_attrs *attrs,
                        const int64_t *v, size_t n);
int tsr_attr_store_string(const struct tsr_attr_spec *spec, struct tsr_op_attrs *attrs,
                          const char *v);
/* A one-element tensor of `dtype` at `data` (TSR_AK_SCALAR). 0, or -1 for another kind. */
int tsr_attr_store_scalar(const struct tsr_attr_spec *spec, struct tsr_op_attrs *attrs,
                          tsr_dtype dtype, const void *data);

/* The attribute spec that ONNX input `index` of op carries (TSR_ATTR_INPUT), or NULL. */
const struct tsr_attr_spec *tsr_op_attr_input(tsr_op op, int index);
/* Number of ONNX inputs of op that carry attributes (they come after the node inputs). */
int tsr_op_attr_input_count(tsr_op op);

/* 1 when node input `index` of op is a compile-time constant (TSR_CONST_INPUT); then *dtype
 * (may be NULL) receives its dtype and *what (may be NULL) its name ("shape"). Else 0. */
int tsr_op_const_input(tsr_op op, int index, tsr_dtype *dtype, const char **what);

/* Applies the TSR_OPSET_DEFAULT rows of op for default-domain opset `opset` to attrs. */
void tsr_op_onnx_defaults(tsr_op op, int64_t opset, struct tsr_op_attrs *attrs);

/* Fused-region instruction of an elementwise node of op with attrs, its immediates into *p0 and
 * *p1 (0.0f when unused). TSR_EW_COPY for an op that is not elementwise. */
tsr_ew_op tsr_op_ew(tsr_op op, const struct tsr_op_attrs *attrs, float *p0, float *p1);
/* Epilogue activation of a node of op (TSR_ACT_NONE when op is not epilogue-able), with its
 * parameters into *p0, *p1 (0.0f when unused, and always written). */
tsr_activation tsr_op_activation(tsr_op op, const struct tsr_op_attrs *attrs, float *p0, float *p1);

#endif
