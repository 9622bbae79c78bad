/*
 * checked.h — checked size arithmetic: the one helper through which dimension, element-count and
 * byte-count products and sums that come from a model, a file or a caller are computed.
 *
 * The limit (docs/RELIABILITY.md): a tensor is representable when the product of its non-zero
 * dims fits in int64 (so every partial product of its dims does too, even when another dim is
 * 0) and its bytes are at most TSR_MAX_TENSOR_BYTES. Anything larger is refused where it first
 * appears (a graph input, a constant, an inferred node output, a .npy header) with TSR_E_SHAPE /
 * TSR_E_INVALID_ARG / TSR_E_PARSE naming the shape — never attempted as an allocation, never
 * TSR_E_NOMEM.
 */
#ifndef TSR_RUNTIME_CHECKED_H
#define TSR_RUNTIME_CHECKED_H

#include "tessera.h"

#include <stddef.h>
#include <stdint.h>

/* Most bytes of one tensor (2^62): beyond any machine, and far from size_t / int64 overflow
 * when offsets and alignments are added. */
#define TSR_MAX_TENSOR_BYTES ((size_t)1 << 62)

/* *out = a * b / a + b / a - b. Return 0, or -1 when the exact result does not fit (*out is then
 * unspecified). */
static inline int tsr_mul_i64(int64_t a, int64_t b, int64_t *out) {
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}
static inline int tsr_add_i64(int64_t a, int64_t b, int64_t *out) {
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}
static inline int tsr_sub_i64(int64_t a, int64_t b, int64_t *out) {
    return __builtin_sub_overflow(a, b, out) ? -1 : 0;
}
static inline int tsr_mul_size(size_t a, size_t b, size_t *out) {
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}
static inline int tsr_add_size(size_t a, size_t b, size_t *out) {
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

/* Element count of dims[0 .. rank) into *out (1 for rank 0). Returns 0, or -1 when a dim is
 * negative or the product of the non-zero dims overflows int64 (then *out is untouched). */
static inline int tsr_dims_elements(const int64_t *dims, int rank, int64_t *out) {
    int64_t n = 1, nz = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return -1;
        if (dims[i] == 0) {
            n = 0;
            continue;
        }
        if (tsr_mul_i64(nz, dims[i], &nz)) return -1;
        n = n ? nz : 0;
    }
    *out = n;
    return 0;
}

/* Elements and bytes of desc (either pointer may be NULL). Returns 0, or -1 when the dtype or
 * rank is unknown, a dim is negative, the element count overflows (tsr_dims_elements) or the
 * bytes (also of the non-zero dims) exceed TSR_MAX_TENSOR_BYTES. */
static inline int tsr_desc_size(const struct tsr_tensor_desc *desc, int64_t *elems, size_t *bytes) {
    size_t es = tsr_dtype_size(desc->dtype);
    if (!es || desc->rank < 0 || desc->rank > TSR_MAX_RANK) return -1;
    int64_t n = 0;
    if (tsr_dims_elements(desc->dims, desc->rank, &n)) return -1;
    size_t nz = es;
    for (int i = 0; i < desc->rank; i++)
        if (desc->dims[i] > 0 &&
            (tsr_mul_size(nz, (size_t)desc->dims[i], &nz) || nz > TSR_MAX_TENSOR_BYTES))
            return -1;
    if (elems) *elems = n;
    if (bytes) *bytes = (size_t)n * es;
    return 0;
}

#endif
