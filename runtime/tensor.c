/* tensor.c — tensor descriptors and host tensors owned by the caller. */
#include "runtime/checked.h"
#include "runtime/internal.h"

#include <stdio.h>
#include <string.h>

/* X(dtype, bytes, NumPy name, .npy descr): the one list of dtypes the library knows. */
#define TSR_DTYPE_TABLE(X)                                                                         \
    X(TSR_F32, 4, "float32", "<f4")                                                                \
    X(TSR_U8, 1, "uint8", "|u1")                                                                   \
    X(TSR_I8, 1, "int8", "|i1")                                                                    \
    X(TSR_I32, 4, "int32", "<i4")                                                                  \
    X(TSR_I64, 8, "int64", "<i8")                                                                  \
    X(TSR_BOOL, 1, "bool", "|b1")                                                                  \
    X(TSR_F16, 2, "float16", "<f2")                                                                \
    X(TSR_F64, 8, "float64", "<f8")                                                                \
    X(TSR_I16, 2, "int16", "<i2")                                                                  \
    X(TSR_U16, 2, "uint16", "<u2")                                                                 \
    X(TSR_U32, 4, "uint32", "<u4")

size_t tsr_dtype_size(tsr_dtype dtype) {
    switch (dtype) {
#define TSR_X_SIZE(dt, bytes, name, descr)                                                         \
    case dt:                                                                                       \
        return bytes;
        TSR_DTYPE_TABLE(TSR_X_SIZE)
#undef TSR_X_SIZE
    }
    return 0;
}

const char *tsr_dtype_name(tsr_dtype dtype) {
    switch (dtype) {
#define TSR_X_NAME(dt, bytes, name, descr)                                                         \
    case dt:                                                                                       \
        return name;
        TSR_DTYPE_TABLE(TSR_X_NAME)
#undef TSR_X_NAME
    }
    return "unknown";
}

const char *tsr_dtype_npy_descr(tsr_dtype dtype) {
    switch (dtype) {
#define TSR_X_DESCR(dt, bytes, name, descr)                                                        \
    case dt:                                                                                       \
        return descr;
        TSR_DTYPE_TABLE(TSR_X_DESCR)
#undef TSR_X_DESCR
    }
    return NULL;
}

int tsr_dtype_from_npy_descr(const char *descr, tsr_dtype *out) {
    static const tsr_dtype all[] = {
#define TSR_X_ALL(dt, bytes, name, descr) dt,
        TSR_DTYPE_TABLE(TSR_X_ALL)
#undef TSR_X_ALL
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *d = tsr_dtype_npy_descr(all[i]);
        /* one-byte types: '|', '<' and '=' all mean the same (no byte order) */
        int same = !strcmp(d, descr) || (d[0] == '|' && (descr[0] == '<' || descr[0] == '=') &&
                                         !strcmp(d + 1, descr + 1));
        if (same) {
            *out = all[i];
            return 0;
        }
    }
    return -1;
}

int tsr_dtype_is_float(tsr_dtype dtype) {
    return dtype == TSR_F32 || dtype == TSR_F16 || dtype == TSR_F64;
}

float tsr_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13); /* inf / NaN */
    } else if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t tsr_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or NaN (keep a quiet NaN) */
        return (uint16_t)(sign | 0x7c00u |
                          (absx > 0x7f800000u ? 0x200u | ((absx >> 13) & 0x3ffu) : 0));
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: inf */
    if (absx < 0x38800000u) {                                   /* below 2^-14: subnormal or 0 */
        if (absx < 0x33000000u) return (uint16_t)sign;          /* < 2^-25: rounds to 0 */
        uint32_t man = (absx & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(absx >> 23); /* 14 .. 24 */
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = ((absx >> 13) - ((127 - 15) << 10)) & 0xffffu, rem = absx & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

double tsr_elem_get_f64(tsr_dtype dt, const void *d, int64_t i) {
    switch (dt) {
    case TSR_F32:
        return ((const float *)d)[i];
    case TSR_F64:
        return ((const double *)d)[i];
    case TSR_F16:
        return tsr_f16_to_f32(((const uint16_t *)d)[i]);
    case TSR_I64:
        return (double)((const int64_t *)d)[i];
    case TSR_I32:
        return ((const int32_t *)d)[i];
    case TSR_I8:
        return ((const int8_t *)d)[i];
    case TSR_U8:
        return ((const uint8_t *)d)[i];
    case TSR_I16:
        return ((const int16_t *)d)[i];
    case TSR_U16:
        return ((const uint16_t *)d)[i];
    case TSR_U32:
        return ((const uint32_t *)d)[i];
    case TSR_BOOL:
        return ((const uint8_t *)d)[i] != 0;
    }
    return 0.0;
}

/* C conversion of a double to int64 without undefined behaviour (NaN 0, saturating). */
static int64_t f64_to_i64(double v) {
    if (v != v) return 0;
    if (v >= 9.2233720368547758e18) return INT64_MAX;
    if (v <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)v;
}

int64_t tsr_elem_get_i64(tsr_dtype dt, const void *d, int64_t i) {
    switch (dt) {
    case TSR_I64:
        return ((const int64_t *)d)[i];
    case TSR_I32:
        return ((const int32_t *)d)[i];
    case TSR_I8:
        return ((const int8_t *)d)[i];
    case TSR_U8:
        return ((const uint8_t *)d)[i];
    case TSR_I16:
        return ((const int16_t *)d)[i];
    case TSR_U16:
        return ((const uint16_t *)d)[i];
    case TSR_U32:
        return ((const uint32_t *)d)[i];
    case TSR_BOOL:
        return ((const uint8_t *)d)[i] != 0;
    case TSR_F32:
    case TSR_F64:
    case TSR_F16:
        return f64_to_i64(tsr_elem_get_f64(dt, d, i));
    }
    return 0;
}

void tsr_elem_set_f64(tsr_dtype dt, void *d, int64_t i, double v) {
    switch (dt) {
    case TSR_F32:
        ((float *)d)[i] = (float)v;
        return;
    case TSR_F64:
        ((double *)d)[i] = v;
        return;
    case TSR_F16:
        ((uint16_t *)d)[i] = tsr_f32_to_f16((float)v);
        return;
    case TSR_BOOL:
        ((uint8_t *)d)[i] = v != 0.0;
        return;
    case TSR_I64:
    case TSR_I32:
    case TSR_I8:
    case TSR_U8:
    case TSR_I16:
    case TSR_U16:
    case TSR_U32:
        tsr_elem_set_i64(dt, d, i, f64_to_i64(v));
        return;
    }
}

void tsr_elem_set_i64(tsr_dtype dt, void *d, int64_t i, int64_t v) {
    switch (dt) {
    case TSR_I64:
        ((int64_t *)d)[i] = v;
        return;
    case TSR_I32: /* wraps modulo 2^32, as C and NumPy do */
        ((int32_t *)d)[i] = (int32_t)(uint32_t)(uint64_t)v;
        return;
    case TSR_I8:
        ((int8_t *)d)[i] = (int8_t)(uint8_t)(uint64_t)v;
        return;
    case TSR_U8:
        ((uint8_t *)d)[i] = (uint8_t)(uint64_t)v;
        return;
    case TSR_I16:
        ((int16_t *)d)[i] = (int16_t)(uint16_t)(uint64_t)v;
        return;
    case TSR_U16:
        ((uint16_t *)d)[i] = (uint16_t)(uint64_t)v;
        return;
    case TSR_U32:
        ((uint32_t *)d)[i] = (uint32_t)(uint64_t)v;
        return;
    case TSR_BOOL:
        ((uint8_t *)d)[i] = v != 0;
        return;
    case TSR_F32:
    case TSR_F64:
    case TSR_F16:
        tsr_elem_set_f64(dt, d, i, (double)v);
        return;
    }
}

int64_t tsr_desc_elements(const struct tsr_tensor_desc *desc) {
    int64_t n = 0;
    if (!desc || desc->rank < 0 || desc->rank > TSR_MAX_RANK ||
        tsr_dims_elements(desc->dims, desc->rank, &n))
        return -1;
    return n;
}

char *tsr_desc_format(const struct tsr_tensor_desc *desc, char *buf, size_t buf_size) {
    if (!buf || buf_size == 0) return buf;
    size_t used = 0;
    buf[0] = '\0';
#define TSR_APPEND(...)                                                                            \
    do {                                                                                           \
        if (used < buf_size) {                                                                     \
            int w = snprintf(buf + used, buf_size - used, __VA_ARGS__);                            \
            if (w > 0) used += (size_t)w;                                                          \
        }                                                                                          \
    } while (0)
    if (!desc) {
        TSR_APPEND("(null)");
        return buf;
    }
    TSR_APPEND("[");
    for (int i = 0; i < desc->rank && i < TSR_MAX_RANK; i++)
        TSR_APPEND("%s%lld", i ? ", " : "", (long long)desc->dims[i]);
    TSR_APPEND("] %s", tsr_dtype_name(desc->dtype));
#undef TSR_APPEND
    return buf;
}

/* 0 when desc is well formed (known dtype, rank in range, dims >= 0, size representable). */
int tsr_desc_check(const struct tsr_tensor_desc *desc) {
    return desc && tsr_desc_size(desc, NULL, NULL) == 0 ? 0 : -1;
}

int tsr_desc_equal(const struct tsr_tensor_desc *a, const struct tsr_tensor_desc *b) {
    if (a->dtype != b->dtype || a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

size_t tsr_desc_bytes(const struct tsr_tensor_desc *desc) {
    size_t bytes = 0;
    return tsr_desc_size(desc, NULL, &bytes) == 0 ? bytes : SIZE_MAX;
}

tsr_status tsr_tensor_alloc(const struct tsr_tensor_desc *desc, struct tsr_tensor *out) {
    if (!out || !desc) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_tensor_alloc: NULL argument");
    if (tsr_desc_check(desc) != 0) {
        char shape[160];
        return TSR_ERR(NULL, TSR_E_INVALID_ARG,
                       "tsr_tensor_alloc: invalid descriptor %s (unknown dtype, bad rank, a "
                       "negative dim, or more than 2^62 bytes)",
                       tsr_desc_format(desc, shape, sizeof shape));
    }
    size_t bytes = tsr_desc_bytes(desc);
    void *p = tsr_aligned_alloc(bytes);
    if (!p) return TSR_ERR(NULL, TSR_E_NOMEM, "tsr_tensor_alloc: %zu bytes", bytes);
    memset(p, 0, bytes ? bytes : 1);
    out->desc = *desc;
    memset(out->desc.dims + desc->rank, 0, sizeof(int64_t) * (size_t)(TSR_MAX_RANK - desc->rank));
    out->data = p;
    return TSR_OK;
}

void tsr_tensor_free(struct tsr_tensor *t) {
    if (!t) return;
    tsr_aligned_free(t->data);
    t->data = NULL;
}
