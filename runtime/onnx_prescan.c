/* Bounded protobuf wire-format walk of an ONNX model before unpacking (onnx_prescan.h). */
#include "runtime/onnx_prescan.h"

#include <stdio.h>
#include <string.h>

/* Defaults (docs/RELIABILITY.md, "Limits"). */
#define MAX_MODEL_BYTES_DEFAULT  (INT64_C(2) << 30) /* protobuf's 2 GiB message limit */
#define MAX_VALUES_DEFAULT       INT64_C(10000000)
#define MAX_TENSOR_BYTES_DEFAULT (INT64_C(16) << 30)
#define MAX_RANK_DEFAULT         INT64_C(64)
#define MAX_DEPTH_DEFAULT        INT64_C(64)

/* The option `opt` when set, else the environment variable `name`, else `dflt`. */
static int64_t limit_of(const tsr_context *ctx, int64_t opt, const char *name, int64_t dflt) {
    return opt > 0 ? opt : tsr_env_limit(ctx, name, dflt);
}

void tsr_onnx_limits_get(const tsr_context *ctx, struct tsr_onnx_limits *lim) {
    const struct tsr_onnx_limits none = {0}, *o = ctx ? &ctx->limits : &none;
    lim->model_bytes =
        limit_of(ctx, o->model_bytes, "TSR_MAX_MODEL_BYTES", MAX_MODEL_BYTES_DEFAULT);
    lim->nodes = limit_of(ctx, o->nodes, "TSR_MAX_NODES", TSR_MAX_NODES_DEFAULT);
    lim->values = limit_of(ctx, o->values, "TSR_MAX_VALUES", MAX_VALUES_DEFAULT);
    lim->tensor_bytes =
        limit_of(ctx, o->tensor_bytes, "TSR_MAX_TENSOR_SIZE", MAX_TENSOR_BYTES_DEFAULT);
    lim->rank = limit_of(ctx, o->rank, "TSR_MAX_TENSOR_RANK", MAX_RANK_DEFAULT);
    lim->depth = limit_of(ctx, o->depth, "TSR_MAX_DEPTH", MAX_DEPTH_DEFAULT);
}

/* One field of a message: its number, wire type, and (wire type 0) value or (2) payload. */
struct pb_field {
    uint32_t num;
    uint32_t wire;
    uint64_t value;
    const uint8_t *p;
    size_t len;
};

struct prescan {
    tsr_context *ctx;
    const char *label;
    const struct tsr_onnx_limits *lim;
    int64_t nodes, values;
    tsr_status st;
};

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1; /* more than 10 bytes */
}

/* Next field of [*p, end): 1, 0 at the end, -1 malformed (groups, bad lengths). */
static int next_field(const uint8_t **p, const uint8_t *end, struct pb_field *f) {
    if (*p >= end) return 0;
    uint64_t key;
    if (read_varint(p, end, &key) || (key >> 3) == 0 || (key >> 3) > UINT32_MAX) return -1;
    f->num = (uint32_t)(key >> 3);
    f->wire = (uint32_t)(key & 7);
    f->p = NULL;
    f->len = 0;
    switch (f->wire) {
    case 0:
        return read_varint(p, end, &f->value) ? -1 : 1;
    case 1:
        if ((size_t)(end - *p) < 8) return -1;
        *p += 8;
        return 1;
    case 5:
        if ((size_t)(end - *p) < 4) return -1;
        *p += 4;
        return 1;
    case 2: {
        uint64_t n;
        if (read_varint(p, end, &n) || n > (uint64_t)(end - *p)) return -1;
        f->p = *p;
        f->len = (size_t)n;
        *p += n;
        return 1;
    }
    default:
        return -1;
    }
}

static tsr_status malformed(struct prescan *s, const char *what) {
    if (s->st == TSR_OK)
        s->st =
            TSR_ERR(s->ctx, TSR_E_PARSE,
                    "%s: not a valid ONNX ModelProto (malformed protobuf in %s)", s->label, what);
    return s->st;
}

static tsr_status over(struct prescan *s, const char *thing, const char *name, int64_t value,
                       const char *unit, int64_t limit, const char *var) {
    if (s->st == TSR_OK)
        s->st = TSR_ERR(s->ctx, TSR_E_UNSUPPORTED,
                        "%s: %s%s%s%s: %lld %s, over the limit of %lld (%s raises it)", s->label,
                        thing, name ? " '" : "", name ? name : "", name ? "'" : "",
                        (long long)value, unit, (long long)limit, var);
    return s->st;
}

static tsr_status depth_check(struct prescan *s, int depth) {
    if (depth > s->lim->depth)
        return over(s, "message nesting", NULL, depth, "levels", s->lim->depth, "TSR_MAX_DEPTH");
    return TSR_OK;
}

/* Bytes of one element of ONNX data type `t`; 0 when unknown (the importer decides). */
static int64_t elem_bytes(uint64_t t) {
    switch (t) {
    case 2:
    case 3:
    case 9:
        return 1; /* uint8, int8, bool */
    case 4:
    case 5:
    case 10:
    case 16:
        return 2; /* uint16, int16, float16, bfloat16 */
    case 1:
    case 6:
    case 12:
        return 4; /* float, int32, uint32 */
    case 7:
    case 11:
    case 13:
        return 8; /* int64, double, uint64 */
    default:
        return 0;
    }
}

/* Checks rank and bytes of a tensor of `rank` dims whose element count is `elems` (-1: overflow
 * past 2^62) and type `dtype`. */
static tsr_status tensor_caps(struct prescan *s, const char *thing, const char *name, int64_t rank,
                              int64_t elems, uint64_t dtype) {
    if (rank > s->lim->rank)
        return over(s, thing, name, rank, "dims", s->lim->rank, "TSR_MAX_TENSOR_RANK");
    if (elems < 0) return TSR_OK; /* past 2^62 elements: the importer's shape check names it */
    int64_t eb = elem_bytes(dtype);
    if (eb == 0) eb = 1;
    int64_t bytes = elems > INT64_MAX / eb ? INT64_MAX : elems * eb;
    if (bytes > s->lim->tensor_bytes)
        return over(s, thing, name, bytes, "bytes", s->lim->tensor_bytes, "TSR_MAX_TENSOR_SIZE");
    return TSR_OK;
}

/* Multiplies the element count by a dim (a negative dim counts as 1: the importer refuses it;
 * a 0 dim makes the tensor empty); saturates to -1. */
static int64_t mul_dim(int64_t elems, uint64_t d) {
    if (elems < 0) return -1;
    int64_t v = (int64_t)d;
    if (v == 0) return 0;
    if (v < 0) return elems;
    if (elems > 0 && v > (INT64_C(1) << 62) / elems) return -1;
    return elems * v;
}

/* A copy of a name field into buf (truncated), for messages. */
static void name_of(const struct pb_field *f, char *buf, size_t cap) {
    size_t n = f->len < cap - 1 ? f->len : cap - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (f->p[i] >= 0x20 && f->p[i] < 0x7f) ? (char)f->p[i] : '?';
    buf[n] = '\0';
}

/* TensorProto: dims = 1 (varint or packed), data_type = 2, name = 8. */
static tsr_status walk_tensor(struct prescan *s, const uint8_t *p, size_t len, int depth) {
    if (depth_check(s, depth)) return s->st;
    const uint8_t *end = p + len;
    struct pb_field f;
    int r;
    int64_t rank = 0, elems = 1;
    uint64_t dtype = 0;
    char name[128] = "";
    while ((r = next_field(&p, end, &f)) == 1) {
        if (f.num == 1 && f.wire == 0) {
            rank++;
            elems = mul_dim(elems, f.value);
        } else if (f.num == 1 && f.wire == 2) {
            const uint8_t *q = f.p, *qe = f.p + f.len;
            while (q < qe) {
                uint64_t d;
                if (read_varint(&q, qe, &d)) return malformed(s, "a tensor's dims");
                rank++;
                elems = mul_dim(elems, d);
            }
        } else if (f.num == 2 && f.wire == 0) {
            dtype = f.value;
        } else if (f.num == 8 && f.wire == 2) {
            name_of(&f, name, sizeof name);
        }
    }
    if (r < 0) return malformed(s, "a tensor");
    return tensor_caps(s, "tensor", name[0] ? name : NULL, rank, elems, dtype);
}

/* ValueInfoProto: name = 1, type = 2 -> TypeProto.tensor_type = 1 -> elem_type = 1,
 * shape = 2 -> TensorShapeProto.dim = 1 -> Dimension.dim_value = 1. */
static tsr_status walk_value_info(struct prescan *s, const uint8_t *p, size_t len, int depth) {
    if (depth_check(s, depth + 4)) return s->st;
    const uint8_t *end = p + len;
    struct pb_field f, g, h, k, m;
    char name[128] = "";
    int64_t rank = 0, elems = 1;
    uint64_t dtype = 0;
    int r;
    while ((r = next_field(&p, end, &f)) == 1) {
        if (f.num == 1 && f.wire == 2) name_of(&f, name, sizeof name);
        if (f.num != 2 || f.wire != 2) continue;
        const uint8_t *tp = f.p, *te = f.p + f.len;
        while ((r = next_field(&tp, te, &g)) == 1) {
            if (g.num != 1 || g.wire != 2) continue; /* other TypeProto kinds: the importer */
            const uint8_t *q = g.p, *qe = g.p + g.len;
            while ((r = next_field(&q, qe, &h)) == 1) {
                if (h.num == 1 && h.wire == 0) dtype = h.value;
                if (h.num != 2 || h.wire != 2) continue;
                const uint8_t *sp = h.p, *se = h.p + h.len;
                while ((r = next_field(&sp, se, &k)) == 1) {
                    if (k.num != 1 || k.wire != 2) continue;
                    rank++;
                    const uint8_t *dp = k.p, *de = k.p + k.len;
                    while ((r = next_field(&dp, de, &m)) == 1)
                        if (m.num == 1 && m.wire == 0) elems = mul_dim(elems, m.value);
                    if (r < 0) break;
                }
                if (r < 0) break;
            }
            if (r < 0) break;
        }
        if (r < 0) break;
    }
    if (r < 0) return malformed(s, "a graph input's type");
    return tensor_caps(s, "input", name[0] ? name : NULL, rank, elems, dtype);
}

static tsr_status walk_graph(struct prescan *s, const uint8_t *p, size_t len, int depth);

/* AttributeProto: t = 5, g = 6, tensors = 10, graphs = 11. */
static tsr_status walk_attribute(struct prescan *s, const uint8_t *p, size_t len, int depth) {
    if (depth_check(s, depth)) return s->st;
    const uint8_t *end = p + len;
    struct pb_field f;
    int r;
    while ((r = next_field(&p, end, &f)) == 1) {
        if (f.wire != 2) continue;
        if ((f.num == 5 || f.num == 10) && walk_tensor(s, f.p, f.len, depth + 1)) return s->st;
        if ((f.num == 6 || f.num == 11) && walk_graph(s, f.p, f.len, depth + 1)) return s->st;
    }
    return r < 0 ? malformed(s, "a node attribute") : TSR_OK;
}

/* NodeProto: name = 3, attribute = 5. */
static tsr_status walk_node(struct prescan *s, const uint8_t *p, size_t len, int depth) {
    if (depth_check(s, depth)) return s->st;
    const uint8_t *end = p + len;
    struct pb_field f;
    int r;
    while ((r = next_field(&p, end, &f)) == 1)
        if (f.num == 5 && f.wire == 2 && walk_attribute(s, f.p, f.len, depth + 1)) return s->st;
    return r < 0 ? malformed(s, "a node") : TSR_OK;
}

/* GraphProto: node = 1, initializer = 5, input = 11. */
static tsr_status walk_graph(struct prescan *s, const uint8_t *p, size_t len, int depth) {
    if (depth_check(s, depth)) return s->st;
    const uint8_t *end = p + len;
    struct pb_field f;
    int r;
    while ((r = next_field(&p, end, &f)) == 1) {
        if (f.wire != 2) continue;
        if (f.num == 1) {
            if (++s->nodes > s->lim->nodes) {
                /* Count them all, for a message that says how many. */
                int64_t n = s->nodes;
                const uint8_t *q = p;
                struct pb_field g;
                while (next_field(&q, end, &g) == 1)
                    if (g.num == 1 && g.wire == 2) n++;
                if (s->st == TSR_OK)
                    s->st = TSR_ERR(s->ctx, TSR_E_UNSUPPORTED,
                                    "%s: the graph has %lld nodes, over the limit of %lld "
                                    "(TSR_MAX_NODES raises it)",
                                    s->label, (long long)n, (long long)s->lim->nodes);
                return s->st;
            }
            if (walk_node(s, f.p, f.len, depth + 1)) return s->st;
        } else if (f.num == 5 || f.num == 11) {
            if (++s->values > s->lim->values)
                return over(s, "values", NULL, s->values, "initializers and inputs", s->lim->values,
                            "TSR_MAX_VALUES");
            if (f.num == 5 ? walk_tensor(s, f.p, f.len, depth + 1)
                           : walk_value_info(s, f.p, f.len, depth + 1))
                return s->st;
        }
    }
    return r < 0 ? malformed(s, "the graph") : TSR_OK;
}

tsr_status tsr_onnx_prescan(tsr_context *ctx, const char *label, const uint8_t *data, size_t size,
                            const struct tsr_onnx_limits *lim) {
    struct prescan s = {.ctx = ctx, .label = label, .lim = lim, .st = TSR_OK};
    if ((uint64_t)size > (uint64_t)lim->model_bytes)
        return over(&s, "model file", NULL, (int64_t)size, "bytes", lim->model_bytes,
                    "TSR_MAX_MODEL_BYTES");
    const uint8_t *p = data, *end = data + size;
    struct pb_field f;
    int r;
    while ((r = next_field(&p, end, &f)) == 1)
        if (f.num == 7 && f.wire == 2 && walk_graph(&s, f.p, f.len, 2)) return s.st;
    return r < 0 ? malformed(&s, "the model") : TSR_OK;
}
