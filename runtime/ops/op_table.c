/*
 * op_table.c — the operator table (op_table.inc) as data, and the lookups of op_table.h; also the
 * public tsr_op_name() and tsr_op_attrs_default(), which read it.
 */
#include "runtime/ops/op_table.h"

#include <stdint.h>
#include <stddef.h>
#include <string.h>

/* Opset bounds of TSR_OPSET_DEFAULT rows. */
#define TSR_OPSET_FIRST INT64_MIN
#define TSR_OPSET_LAST  INT64_MAX

/* Immediates of TSR_EW rows: byte offset of a float field of struct tsr_op_attrs (a field of
 * another type does not compile: _Generic has no default), or none. */
#define TSR_IMM(field)                                                                             \
    _Generic(((struct tsr_op_attrs *)0)->field, float : (int)offsetof(struct tsr_op_attrs, field))
#define TSR_NO_IMM (-1)

#define TSR_FIELD_OFFSET(field) ((int)offsetof(struct tsr_op_attrs, field))
/* Storage kind of a TSR_ATTR field from its C type; another type does not compile. */
#define TSR_FIELD_KIND(field)                                                                      \
    _Generic(((struct tsr_op_attrs *)0)->field,                                                    \
        float: TSR_AK_F32,                                                                         \
        int64_t: TSR_AK_I64,                                                                       \
        int: TSR_AK_BOOL,                                                                          \
        int64_t *: TSR_AK_INTS)
#define TSR_FIELD_TYPE(field)                                                                      \
    _Generic(((struct tsr_op_attrs *)0)->field,                                                    \
        float: TSR_ATTR_T_FLOAT,                                                                   \
        int64_t: TSR_ATTR_T_INT,                                                                   \
        int: TSR_ATTR_T_INT,                                                                       \
        int64_t *: TSR_ATTR_T_INTS)
#define TSR_FIELD_LEN(field) ((int)(sizeof(((struct tsr_op_attrs *)0)->field) / sizeof(int64_t)))

/* ---- ops ------------------------------------------------------------------------------------ */

static const struct tsr_op_def g_ops[TSR_OP_COUNT] = {
#define TSR_OP(sym, nm, dom, mn, mx, ef, cat, shp, ref, low)                                       \
    [TSR_OP_##sym].op = TSR_OP_##sym, [TSR_OP_##sym].onnx_name = nm, [TSR_OP_##sym].domain = dom,  \
    [TSR_OP_##sym].min_in = mn, [TSR_OP_##sym].max_in = mx, [TSR_OP_##sym].empty_from = ef,        \
    [TSR_OP_##sym].category = TSR_OPC_##cat, [TSR_OP_##sym].shape = shp,                           \
    [TSR_OP_##sym].reference = ref, [TSR_OP_##sym].lower = low,
#define TSR_EW(sym, e, a, p0, p1)                                                                  \
    [TSR_OP_##sym].has_ew = 1, [TSR_OP_##sym].ew = TSR_EW_##e, [TSR_OP_##sym].act = TSR_ACT_##a,   \
    [TSR_OP_##sym].p0_offset = p0, [TSR_OP_##sym].p1_offset = p1,
#define TSR_EW_VARIANT(sym, flag, e, a)                                                            \
    [TSR_OP_##sym].has_variant = 1, [TSR_OP_##sym].act_variant = TSR_ACT_##a,                      \
    [TSR_OP_##sym].variant_flag = _Generic(((struct tsr_op_attrs *)0)->flag, int                   \
                                           : TSR_FIELD_OFFSET(flag)),                              \
    [TSR_OP_##sym].ew_variant = TSR_EW_##e,
#define TSR_EW_VARIADIC(sym, e)                                                                    \
    [TSR_OP_##sym].has_variadic = 1, [TSR_OP_##sym].ew_finish = TSR_EW_##e,
#include "runtime/ops/op_table.inc"
};

/* Every op of the public enum has exactly one TSR_OP row (a row for an op the enum lacks does
 * not compile; a duplicate row is an -Woverride-init error; this catches a missing one). */
enum {
    TSR_OP_TABLE_ROWS = 0
#define TSR_OP(sym, nm, dom, mn, mx, ef, cat, shp, ref, low) +1
#include "runtime/ops/op_table.inc"
};
_Static_assert((int)TSR_OP_TABLE_ROWS == (int)TSR_OP_COUNT,
               "runtime/ops/op_table.inc must have one TSR_OP row per TSR_OP_LIST entry");

const struct tsr_op_def *tsr_op_def(tsr_op op) {
    if ((int)op < 0 || op >= TSR_OP_COUNT) return NULL;
    return &g_ops[op];
}

const char *tsr_op_name(tsr_op op) {
    const struct tsr_op_def *d = tsr_op_def(op);
    return d && d->onnx_name ? d->onnx_name : "?";
}

int tsr_op_domain_is_default(const char *d) {
    return !d || !*d || !strcmp(d, "ai.onnx");
}

int tsr_op_from_onnx(const char *domain, const char *op_type) {
    if (!op_type) return -1;
    for (int i = 0; i < TSR_OP_COUNT; i++) {
        const struct tsr_op_def *d = &g_ops[i];
        int same_domain = tsr_op_domain_is_default(d->domain)
                              ? tsr_op_domain_is_default(domain)
                              : domain && !strcmp(domain, d->domain);
        if (same_domain && !strcmp(op_type, d->onnx_name)) return i;
    }
    return -1;
}

int tsr_op_is_elementwise(tsr_op op) {
    const struct tsr_op_def *d = tsr_op_def(op);
    return d && (d->category == TSR_OPC_EW_UNARY || d->category == TSR_OPC_EW_BINARY);
}

int tsr_op_is_view(tsr_op op) {
    const struct tsr_op_def *d = tsr_op_def(op);
    return d && d->category == TSR_OPC_VIEW;
}

/* ---- attributes ----------------------------------------------------------------------------- */

static const struct tsr_attr_spec g_attrs[] = {
#define TSR_ATTR(sym, nm, field, d)                                                                \
    {TSR_OP_##sym,                                                                                 \
     nm,                                                                                           \
     TSR_FIELD_KIND(field),                                                                        \
     TSR_FIELD_TYPE(field),                                                                        \
     TSR_FIELD_OFFSET(field),                                                                      \
     -1,                                                                                           \
     TSR_FIELD_LEN(field),                                                                         \
     (double)(d),                                                                                  \
     NULL},
#define TSR_ATTR_LIST(sym, nm, field, count)                                                       \
    {TSR_OP_##sym,                                                                                 \
     nm,                                                                                           \
     _Generic(((struct tsr_op_attrs *)0)->field, int64_t *                                         \
              : TSR_AK_LIST),                                                                      \
     TSR_ATTR_T_INTS,                                                                              \
     TSR_FIELD_OFFSET(field),                                                                      \
     _Generic(((struct tsr_op_attrs *)0)->count, int                                               \
              : TSR_FIELD_OFFSET(count)),                                                          \
     TSR_FIELD_LEN(field),                                                                         \
     0.0,                                                                                          \
     NULL},
#define TSR_ATTR_ENUM(sym, nm, field, ch, d)                                                       \
    {TSR_OP_##sym,                                                                                 \
     nm,                                                                                           \
     _Generic(((struct tsr_op_attrs *)0)->field, int                                               \
              : TSR_AK_ENUM),                                                                      \
     TSR_ATTR_T_STRING,                                                                            \
     TSR_FIELD_OFFSET(field),                                                                      \
     -1,                                                                                           \
     1,                                                                                            \
     (double)(d),                                                                                  \
     ch},
#define TSR_ATTR_REQUIRE(sym, nm, v)                                                               \
    {TSR_OP_##sym, nm, TSR_AK_REQUIRE, TSR_ATTR_T_INT, -1, -1, 0, (double)(v), NULL},
#define TSR_ATTR_IGNORED(sym, nm, t)                                                               \
    {TSR_OP_##sym, nm, TSR_AK_IGNORED, TSR_ATTR_T_##t, -1, -1, 0, 0.0, NULL},
#define TSR_ATTR_SCALAR(sym, nm)                                                                   \
    {TSR_OP_##sym,    nm,  TSR_AK_SCALAR, TSR_ATTR_T_TENSOR, TSR_FIELD_OFFSET(fill_dtype), -1, 0,  \
     (double)TSR_F32, NULL},
#define TSR_ATTR_STRING(sym, nm, field)                                                            \
    {TSR_OP_##sym,                                                                                 \
     nm,                                                                                           \
     _Generic(((struct tsr_op_attrs *)0)->field, char *                                            \
              : TSR_AK_STRING),                                                                    \
     TSR_ATTR_T_STRING,                                                                            \
     TSR_FIELD_OFFSET(field),                                                                      \
     -1,                                                                                           \
     (int)sizeof(((struct tsr_op_attrs *)0)->field),                                               \
     0.0,                                                                                          \
     NULL},
#include "runtime/ops/op_table.inc"
};
#define N_ATTRS ((int)(sizeof g_attrs / sizeof g_attrs[0]))

int tsr_attr_spec_count(void) {
    return N_ATTRS;
}

const struct tsr_attr_spec *tsr_attr_spec_at(int i) {
    return i >= 0 && i < N_ATTRS ? &g_attrs[i] : NULL;
}

const struct tsr_attr_spec *tsr_op_attr(tsr_op op, const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < N_ATTRS; i++)
        if (g_attrs[i].op == op && !strcmp(g_attrs[i].name, name)) return &g_attrs[i];
    return NULL;
}

static void *field_at(struct tsr_op_attrs *a, int offset) {
    return (char *)a + offset;
}

int tsr_attr_store_int(const struct tsr_attr_spec *s, struct tsr_op_attrs *a, int64_t v) {
    switch (s->kind) {
    case TSR_AK_I64:
        *(int64_t *)field_at(a, s->offset) = v;
        return 0;
    case TSR_AK_BOOL:
        *(int *)field_at(a, s->offset) = v != 0;
        return 0;
    case TSR_AK_REQUIRE:
        return v == (int64_t)s->dflt ? 0 : -1;
    case TSR_AK_IGNORED:
        return 0;
    default:
        return -1;
    }
}

int tsr_attr_store_float(const struct tsr_attr_spec *s, struct tsr_op_attrs *a, float v) {
    if (s->kind == TSR_AK_IGNORED) return 0;
    if (s->kind != TSR_AK_F32) return -1;
    *(float *)field_at(a, s->offset) = v;
    return 0;
}

/* Group "spatial": the 2-D window attributes of Conv / MaxPool / AveragePool given in their 1-D
 * form (half the values) are stored as 2-D with H = 1: kernel_shape, strides, dilations [k] →
 * [1, k]; pads [begin, end] → [0, begin, 0, end]. The shape rule accepts them for 1-D inputs
 * only (H = 1 makes them the 1-D operator). ConvTranspose and LpPool too (output_shape [w] → [1,
 * w], output_padding [p] → [0, p]). Returns 1 when stored. */
static int store_window_1d(const struct tsr_attr_spec *s, struct tsr_op_attrs *a, const int64_t *v,
                           size_t n) {
    if (s->kind != TSR_AK_INTS || 2 * n != (size_t)s->len ||
        (s->op != TSR_OP_CONV && s->op != TSR_OP_MAXPOOL && s->op != TSR_OP_AVGPOOL &&
         s->op != TSR_OP_CONVTRANSPOSE && s->op != TSR_OP_LPPOOL))
        return 0;
    int64_t *dst = field_at(a, s->offset);
    if (s->offset == (int)offsetof(struct tsr_op_attrs, pads)) {
        dst[0] = dst[2] = 0;
        dst[1] = v[0];
        dst[3] = v[1];
        return 1;
    }
    if (s->offset == (int)offsetof(struct tsr_op_attrs, kernel_shape) ||
        s->offset == (int)offsetof(struct tsr_op_attrs, strides) ||
        s->offset == (int)offsetof(struct tsr_op_attrs, dilations) ||
        s->offset == (int)offsetof(struct tsr_op_attrs, output_shape)) {
        dst[0] = 1;
        dst[1] = v[0];
        return 1;
    }
    if (s->offset == (int)offsetof(struct tsr_op_attrs, output_padding)) {
        dst[0] = 0;
        dst[1] = v[0];
        return 1;
    }
    return 0;
}

/* Group "win3d": the window attributes of MaxPool / AveragePool / LpPool / Conv /
 * ConvTranspose (output_padding, output_shape: D part in convt_d) given in their 3-D
 * form (one and a half times the values): the H, W parts are stored as the 2-D attributes, the D
 * parts in win_d (kernel_shape, strides, dilations [d, h, w]; pads [d0, h0, w0, d1, h1, w1]) and
 * the attribute's bit in win3d_given. The shape rule accepts them for 3-D inputs only. Returns 1
 * when stored. */
static int store_window_3d(const struct tsr_attr_spec *s, struct tsr_op_attrs *a, const int64_t *v,
                           size_t n) {
    if (s->kind != TSR_AK_INTS || 2 * n != 3 * (size_t)s->len ||
        (s->op != TSR_OP_MAXPOOL && s->op != TSR_OP_AVGPOOL && s->op != TSR_OP_LPPOOL &&
         s->op != TSR_OP_CONV && s->op != TSR_OP_CONVTRANSPOSE))
        return 0;
    int64_t *dst = field_at(a, s->offset);
    const int cd = s->offset == (int)offsetof(struct tsr_op_attrs, output_padding) ? 0
                   : s->offset == (int)offsetof(struct tsr_op_attrs, output_shape) ? 1
                                                                                   : -1;
    if (cd >= 0) { /* group "conv3d": ConvTranspose */
        a->convt_d[cd] = v[0];
        dst[0] = v[1];
        dst[1] = v[2];
        a->win3d_given |= 16 << cd;
        return 1;
    }
    if (s->offset == (int)offsetof(struct tsr_op_attrs, pads)) {
        a->win_d[3] = v[0];
        a->win_d[4] = v[3];
        dst[0] = v[1];
        dst[1] = v[2];
        dst[2] = v[4];
        dst[3] = v[5];
        a->win3d_given |= 8;
        return 1;
    }
    int slot = s->offset == (int)offsetof(struct tsr_op_attrs, kernel_shape) ? 0
               : s->offset == (int)offsetof(struct tsr_op_attrs, strides)    ? 1
               : s->offset == (int)offsetof(struct tsr_op_attrs, dilations)  ? 2
                                                                             : -1;
    if (slot < 0) return 0;
    a->win_d[slot] = v[0];
    dst[0] = v[1];
    dst[1] = v[2];
    a->win3d_given |= 1 << slot;
    return 1;
}

int tsr_attr_store_ints(const struct tsr_attr_spec *s, struct tsr_op_attrs *a, const int64_t *v,
                        size_t n) {
    if (s->kind == TSR_AK_IGNORED) return 0;
    if (store_window_1d(s, a, v, n)) return 0;
    if (store_window_3d(s, a, v, n)) return 0;
    if ((s->kind != TSR_AK_INTS && s->kind != TSR_AK_LIST) ||
        (s->kind == TSR_AK_INTS && n != (size_t)s->len) || n > (size_t)s->len)
        return -1;
    int64_t *dst = field_at(a, s->offset);
    for (size_t i = 0; i < n; i++)
        dst[i] = v[i];
    if (s->kind == TSR_AK_LIST) *(int *)field_at(a, s->count_offset) = (int)n;
    return 0;
}

int tsr_attr_store_string(const struct tsr_attr_spec *s, struct tsr_op_attrs *a, const char *v) {
    if (s->kind == TSR_AK_IGNORED) return 0;
    size_t len = strlen(v);
    if (s->kind == TSR_AK_STRING) {
        if (len >= (size_t)s->len) return -1;
        memcpy(field_at(a, s->offset), v, len + 1);
        return 0;
    }
    if (s->kind != TSR_AK_ENUM) return -1;
    int index = 0;
    for (const char *c = s->choices; *c; index++) {
        const char *end = strchr(c, '|');
        size_t n = end ? (size_t)(end - c) : strlen(c);
        if (n == len && !strncmp(c, v, n)) {
            *(int *)field_at(a, s->offset) = index;
            return 0;
        }
        c += n + (end ? 1 : 0);
    }
    return -1;
}

/* Writes spec's default into attrs (fields only). */
static void store_default(const struct tsr_attr_spec *s, struct tsr_op_attrs *a) {
    switch (s->kind) {
    case TSR_AK_F32:
        *(float *)field_at(a, s->offset) = (float)s->dflt;
        break;
    case TSR_AK_I64:
        *(int64_t *)field_at(a, s->offset) = (int64_t)s->dflt;
        break;
    case TSR_AK_BOOL:
    case TSR_AK_ENUM:
        *(int *)field_at(a, s->offset) = (int)s->dflt;
        break;
    case TSR_AK_INTS:
        for (int i = 0; i < s->len; i++)
            ((int64_t *)field_at(a, s->offset))[i] = (int64_t)s->dflt;
        break;
    case TSR_AK_LIST:
        *(int *)field_at(a, s->count_offset) = 0;
        break;
    case TSR_AK_SCALAR:
        a->fill_dtype = TSR_F32;
        a->fill_f64 = 0.0;
        a->fill_i64 = 0;
        break;
    case TSR_AK_STRING:
        memset(field_at(a, s->offset), 0, (size_t)s->len);
        break;
    case TSR_AK_REQUIRE:
    case TSR_AK_IGNORED:
        break;
    }
}

int tsr_attr_store_scalar(const struct tsr_attr_spec *s, struct tsr_op_attrs *a, tsr_dtype dtype,
                          const void *data) {
    if (s->kind != TSR_AK_SCALAR || !tsr_dtype_size(dtype)) return -1;
    a->fill_dtype = (int)dtype;
    a->fill_f64 = tsr_elem_get_f64(dtype, data, 0);
    a->fill_i64 = tsr_elem_get_i64(dtype, data, 0);
    return 0;
}

struct tsr_op_attrs tsr_op_attrs_default(void) {
    struct tsr_op_attrs a;
    memset(&a, 0, sizeof a);
    for (int i = 0; i < N_ATTRS; i++)
        store_default(&g_attrs[i], &a);
    return a;
}

/* ---- inputs that are attributes or constants --------------------------------------------------
 */

static const struct {
    tsr_op op;
    int index;
    const char *attr;
} g_attr_inputs[] = {
#define TSR_ATTR_INPUT(sym, i, nm) {TSR_OP_##sym, i, nm},
#include "runtime/ops/op_table.inc"
};
#define N_ATTR_INPUTS ((int)(sizeof g_attr_inputs / sizeof g_attr_inputs[0]))

const struct tsr_attr_spec *tsr_op_attr_input(tsr_op op, int index) {
    for (int i = 0; i < N_ATTR_INPUTS; i++)
        if (g_attr_inputs[i].op == op && g_attr_inputs[i].index == index)
            return tsr_op_attr(op, g_attr_inputs[i].attr);
    return NULL;
}

int tsr_op_attr_input_count(tsr_op op) {
    int n = 0;
    for (int i = 0; i < N_ATTR_INPUTS; i++)
        n += g_attr_inputs[i].op == op;
    return n;
}

static const struct {
    tsr_op op;
    int index;
    const char *what;
    tsr_dtype dtype;
} g_const_inputs[] = {
#define TSR_CONST_INPUT(sym, i, w, dt) {TSR_OP_##sym, i, w, dt},
#include "runtime/ops/op_table.inc"
};

int tsr_op_const_input(tsr_op op, int index, tsr_dtype *dtype, const char **what) {
    for (size_t i = 0; i < sizeof g_const_inputs / sizeof g_const_inputs[0]; i++) {
        if (g_const_inputs[i].op != op || g_const_inputs[i].index != index) continue;
        if (dtype) *dtype = g_const_inputs[i].dtype;
        if (what) *what = g_const_inputs[i].what;
        return 1;
    }
    return 0;
}

static const struct {
    tsr_op op;
    int first, count;
    tsr_dtype_set set;
} g_dtypes[] = {
#define TSR_DTYPES(sym, f, c, st) {TSR_OP_##sym, f, c, TSR_DTS_##st},
#include "runtime/ops/op_table.inc"
};

tsr_dtype_set tsr_op_input_dtypes(tsr_op op, int index, int *first) {
    tsr_dtype dt;
    if (first) *first = index;
    if (tsr_op_const_input(op, index, &dt, NULL)) return TSR_DTYPE_BIT(dt);
    int any = 0;
    for (size_t i = 0; i < sizeof g_dtypes / sizeof g_dtypes[0]; i++) {
        if (g_dtypes[i].op != op) continue;
        any = 1;
        if (index >= g_dtypes[i].first && index < g_dtypes[i].first + g_dtypes[i].count) {
            if (first) *first = g_dtypes[i].first;
            return g_dtypes[i].set;
        }
    }
    return any ? 0 : TSR_DTS_F32;
}

static const struct {
    tsr_op op;
    int64_t since, until;
    tsr_attr_kind kind; /* F32, I64 or BOOL (int field) */
    int offset;
    double value;
} g_opset_defaults[] = {
#define TSR_OPSET_DEFAULT(sym, lo, hi, field, v)                                                   \
    {TSR_OP_##sym, lo, hi, TSR_FIELD_KIND(field), TSR_FIELD_OFFSET(field), (double)(v)},
#include "runtime/ops/op_table.inc"
};

void tsr_op_onnx_defaults(tsr_op op, int64_t opset, struct tsr_op_attrs *attrs) {
    for (size_t i = 0; i < sizeof g_opset_defaults / sizeof g_opset_defaults[0]; i++) {
        if (g_opset_defaults[i].op != op || opset < g_opset_defaults[i].since ||
            opset > g_opset_defaults[i].until)
            continue;
        void *f = field_at(attrs, g_opset_defaults[i].offset);
        if (g_opset_defaults[i].kind == TSR_AK_F32)
            *(float *)f = (float)g_opset_defaults[i].value;
        else if (g_opset_defaults[i].kind == TSR_AK_I64)
            *(int64_t *)f = (int64_t)g_opset_defaults[i].value;
        else
            *(int *)f = (int)g_opset_defaults[i].value;
    }
}

/* ---- elementwise lowering ------------------------------------------------------------------ */

static float imm(const struct tsr_op_attrs *a, int offset) {
    return offset < 0 ? 0.0f : *(const float *)((const char *)a + offset);
}

tsr_ew_op tsr_op_ew(tsr_op op, const struct tsr_op_attrs *attrs, float *p0, float *p1) {
    const struct tsr_op_def *d = tsr_op_def(op);
    *p0 = *p1 = 0.0f;
    if (!d || !d->has_ew) return TSR_EW_COPY;
    *p0 = imm(attrs, d->p0_offset);
    *p1 = imm(attrs, d->p1_offset);
    if (d->has_variant && *(const int *)((const char *)attrs + d->variant_flag))
        return d->ew_variant;
    return d->ew;
}

tsr_activation tsr_op_activation(tsr_op op, const struct tsr_op_attrs *attrs, float *p0,
                                 float *p1) {
    const struct tsr_op_def *d = tsr_op_def(op);
    *p0 = *p1 = 0.0f;
    if (!d || !d->has_ew || d->act == TSR_ACT_NONE) return TSR_ACT_NONE;
    *p0 = imm(attrs, d->p0_offset);
    *p1 = imm(attrs, d->p1_offset);
    if (d->has_variant && *(const int *)((const char *)attrs + d->variant_flag))
        return d->act_variant;
    return d->act;
}
