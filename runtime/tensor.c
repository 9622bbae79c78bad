/* tensor.c — tensor descriptors and host tensors owned by the caller. */
#include "runtime/internal.h"

#include <stdio.h>
#include <string.h>

size_t tsr_dtype_size(tsr_dtype dtype) {
    switch (dtype) {
    case TSR_F32:
        return 4;
    case TSR_I64:
        return 8;
    }
    return 0;
}

const char *tsr_dtype_name(tsr_dtype dtype) {
    switch (dtype) {
    case TSR_F32:
        return "float32";
    case TSR_I64:
        return "int64";
    }
    return "unknown";
}

int64_t tsr_desc_elements(const struct tsr_tensor_desc *desc) {
    int64_t n = 1;
    for (int i = 0; i < desc->rank; i++)
        n *= desc->dims[i];
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

/* 0 when desc is well formed (known dtype, rank in range, dims >= 0). */
int tsr_desc_check(const struct tsr_tensor_desc *desc) {
    if (!desc || tsr_dtype_size(desc->dtype) == 0) return -1;
    if (desc->rank < 0 || desc->rank > TSR_MAX_RANK) return -1;
    for (int i = 0; i < desc->rank; i++)
        if (desc->dims[i] < 0) return -1;
    return 0;
}

int tsr_desc_equal(const struct tsr_tensor_desc *a, const struct tsr_tensor_desc *b) {
    if (a->dtype != b->dtype || a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

size_t tsr_desc_bytes(const struct tsr_tensor_desc *desc) {
    return (size_t)tsr_desc_elements(desc) * tsr_dtype_size(desc->dtype);
}

tsr_status tsr_tensor_alloc(const struct tsr_tensor_desc *desc, struct tsr_tensor *out) {
    if (!out || tsr_desc_check(desc) != 0)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_tensor_alloc: invalid descriptor");
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
