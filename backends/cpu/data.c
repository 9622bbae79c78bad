/*
 * data.c — the CPU kernels of any dtype (issue 9, group "tkern"): GATHER (rows by memcpy),
 * SLICE (strided copy with a base offset; contiguous runs by memcpy), CAST (one specialised loop
 * per dtype pair), MIXED (comparisons, logic, Where over broadcast strides) and PAD (constant /
 * reflect / edge; the interior of every row by memcpy). Element sizes come from the dtype;
 * geometry (runtime/program.h) is in elements. Large kernels run on the pool in contiguous chunks
 * of output rows.
 */
#include "backends/cpu/cpu_exec.h"

#include <math.h>
#include <string.h>

/* Outputs below this many bytes run on the calling thread. */
#define TSR_CPU_DATA_PARALLEL_BYTES ((int64_t)256 * 1024)

static size_t es_of(tsr_dtype dt) {
    return tsr_dtype_size(dt);
}

tsr_status tsr_cpu_data_check(tsr_context *ctx, const struct tsr_program *prog,
                              const struct tsr_kernel *kn) {
    return tsr_data_kernel_check(ctx, prog, kn);
}

static int64_t prod(int rank, const int64_t *dims) {
    int64_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= dims[d];
    return n;
}

/* ---- parallel loop over [0, n) in chunks --------------------------------------------------- */

typedef void data_range_fn(void *job, int64_t begin, int64_t end);

struct data_par {
    data_range_fn *fn;
    void *job;
    int64_t n, chunk;
};

static void data_par_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    const struct data_par *p = arg;
    int64_t b = (int64_t)task * p->chunk, e = b + p->chunk < p->n ? b + p->chunk : p->n;
    p->fn(p->job, b, e);
}

/* Runs fn over [0, n) (units of `unit_bytes` output bytes each), on the pool when large. */
static void data_parallel(const struct tsr_cpu_env *env, int64_t n, int64_t unit_bytes,
                          data_range_fn *fn, void *job) {
    if (n <= 0) return;
    int64_t total = n * (unit_bytes > 0 ? unit_bytes : 1);
    if (total < TSR_CPU_DATA_PARALLEL_BYTES || !env->pool || env->n_threads < 2) {
        fn(job, 0, n);
        return;
    }
    int64_t tasks = (int64_t)env->n_threads * 4;
    if (tasks > n) tasks = n;
    struct data_par p = {fn, job, n, (n + tasks - 1) / tasks};
    tsr_cpu_pool_parallel_for(env->pool, (size_t)((n + p.chunk - 1) / p.chunk), data_par_task, &p);
}

/* Copies one element of es bytes. */
static inline void copy_elem(char *y, const char *x, size_t es) {
    switch (es) {
    case 1:
        *y = *x;
        break;
    case 2:
        memcpy(y, x, 2);
        break;
    case 4:
        memcpy(y, x, 4);
        break;
    default:
        memcpy(y, x, 8);
        break;
    }
}

/* ---- GATHER -------------------------------------------------------------------------------- */

struct gather_job {
    const struct tsr_k_gather *g;
    const char *x;
    const void *idx;
    int idx64;
    char *y;
    size_t es;
    int bad; /* set (atomically) when an index is out of range */
    int64_t bad_value;
};

static void gather_range(void *arg, int64_t begin, int64_t end) {
    struct gather_job *j = arg;
    const struct tsr_k_gather *g = j->g;
    const size_t row = (size_t)g->inner * j->es;
    for (int64_t r = begin; r < end; r++) { /* r = o * n_idx + i */
        int64_t o = r / g->n_idx, i = r - o * g->n_idx;
        int64_t v = j->idx64 ? ((const int64_t *)j->idx)[i] : ((const int32_t *)j->idx)[i];
        char *dst = j->y + (size_t)r * row;
        if (v < -g->axis_len || v >= g->axis_len) {
            memset(dst, 0, row);
            if (!__atomic_exchange_n(&j->bad, 1, __ATOMIC_RELAXED)) j->bad_value = v;
            continue;
        }
        if (v < 0) v += g->axis_len;
        memcpy(dst, j->x + (size_t)(o * g->axis_len + v) * row, row);
    }
}

/* ---- SLICE --------------------------------------------------------------------------------- */

struct slice_job {
    const struct tsr_k_slice *sl;
    const char *x;
    char *y;
    size_t es;
    int64_t row; /* innermost dim */
};

static void slice_range(void *arg, int64_t begin, int64_t end) {
    const struct slice_job *j = arg;
    const struct tsr_k_slice *sl = j->sl;
    const int r = sl->rank;
    const int64_t sc = sl->in_strides[r - 1];
    for (int64_t q = begin; q < end; q++) { /* output row q */
        int64_t off = sl->offset, rest = q;
        for (int d = r - 2; d >= 0; d--) {
            off += (rest % sl->dims[d]) * sl->in_strides[d];
            rest /= sl->dims[d];
        }
        char *dst = j->y + (size_t)(q * j->row) * j->es;
        const char *src = j->x + off * (int64_t)j->es;
        if (sc == 1) {
            memcpy(dst, src, (size_t)j->row * j->es);
        } else {
            for (int64_t c = 0; c < j->row; c++)
                copy_elem(dst + (size_t)c * j->es, src + c * sc * (int64_t)j->es, j->es);
        }
    }
}

/* ---- CAST ---------------------------------------------------------------------------------- */

/* Loads: a float source gives a double, an integer or bool source an int64. */
static inline double ld_F32(const void *x, int64_t i) {
    return ((const float *)x)[i];
}
static inline double ld_F64(const void *x, int64_t i) {
    return ((const double *)x)[i];
}
static inline double ld_F16(const void *x, int64_t i) {
    return tsr_f16_to_f32(((const uint16_t *)x)[i]);
}
static inline int64_t ld_I64(const void *x, int64_t i) {
    return ((const int64_t *)x)[i];
}
static inline int64_t ld_I32(const void *x, int64_t i) {
    return ((const int32_t *)x)[i];
}
static inline int64_t ld_I8(const void *x, int64_t i) {
    return ((const int8_t *)x)[i];
}
static inline int64_t ld_U8(const void *x, int64_t i) {
    return ((const uint8_t *)x)[i];
}
static inline int64_t ld_BOOL(const void *x, int64_t i) {
    return ((const uint8_t *)x)[i] != 0;
}

/* C conversion of a double to int64 without undefined behaviour (NaN 0, saturating): the
 * reference's rule (runtime/tensor.c). */
static inline int64_t d_to_i64(double v) {
    if (v != v) return 0;
    if (v >= 9.2233720368547758e18) return INT64_MAX;
    if (v <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)v;
}

/* Stores from an int64 (integers wrap to the width; floats through double). */
static inline void si_F32(void *y, int64_t i, int64_t v) {
    ((float *)y)[i] = (float)(double)v;
}
static inline void si_F64(void *y, int64_t i, int64_t v) {
    ((double *)y)[i] = (double)v;
}
static inline void si_F16(void *y, int64_t i, int64_t v) {
    ((uint16_t *)y)[i] = tsr_f32_to_f16((float)(double)v);
}
static inline void si_I64(void *y, int64_t i, int64_t v) {
    ((int64_t *)y)[i] = v;
}
static inline void si_I32(void *y, int64_t i, int64_t v) {
    ((int32_t *)y)[i] = (int32_t)(uint32_t)(uint64_t)v;
}
static inline void si_I8(void *y, int64_t i, int64_t v) {
    ((int8_t *)y)[i] = (int8_t)(uint8_t)(uint64_t)v;
}
static inline void si_U8(void *y, int64_t i, int64_t v) {
    ((uint8_t *)y)[i] = (uint8_t)(uint64_t)v;
}
static inline void si_BOOL(void *y, int64_t i, int64_t v) {
    ((uint8_t *)y)[i] = v != 0;
}
/* Stores from a double (to an integer: truncation toward zero, saturated, wrapped). */
static inline void sd_F32(void *y, int64_t i, double v) {
    ((float *)y)[i] = (float)v;
}
static inline void sd_F64(void *y, int64_t i, double v) {
    ((double *)y)[i] = v;
}
static inline void sd_F16(void *y, int64_t i, double v) {
    ((uint16_t *)y)[i] = tsr_f32_to_f16((float)v);
}
static inline void sd_I64(void *y, int64_t i, double v) {
    si_I64(y, i, d_to_i64(v));
}
static inline void sd_I32(void *y, int64_t i, double v) {
    si_I32(y, i, d_to_i64(v));
}
static inline void sd_I8(void *y, int64_t i, double v) {
    si_I8(y, i, d_to_i64(v));
}
static inline void sd_U8(void *y, int64_t i, double v) {
    si_U8(y, i, d_to_i64(v));
}
static inline void sd_BOOL(void *y, int64_t i, double v) {
    ((uint8_t *)y)[i] = v != 0.0;
}

#define TSR_CAST_DTYPES(X, S)                                                                      \
    X(S, F32) X(S, F64) X(S, F16) X(S, I64) X(S, I32) X(S, I8) X(S, U8) X(S, BOOL)
#define TSR_CAST_STORE(D, y, i, v) _Generic((v), double : sd_##D, int64_t : si_##D)(y, i, v)
#define TSR_CAST_CASE(S, D)                                                                        \
    case TSR_##S * 64 + TSR_##D:                                                                   \
        for (int64_t i = begin; i < end; i++)                                                      \
            TSR_CAST_STORE(D, y, i, ld_##S(x, i));                                                 \
        return;
#define TSR_CAST_SRC(S) TSR_CAST_DTYPES(TSR_CAST_CASE, S)

struct cast_job {
    tsr_dtype from, to;
    const void *x;
    void *y;
};

static void cast_range(void *arg, int64_t begin, int64_t end) {
    const struct cast_job *j = arg;
    const void *x = j->x;
    void *y = j->y;
    switch ((int)j->from * 64 + (int)j->to) {
        TSR_CAST_SRC(F32)
        TSR_CAST_SRC(F64)
        TSR_CAST_SRC(F16)
        TSR_CAST_SRC(I64)
        TSR_CAST_SRC(I32)
        TSR_CAST_SRC(I8)
        TSR_CAST_SRC(U8)
        TSR_CAST_SRC(BOOL)
    default:
        return;
    }
}

/* ---- MIXED --------------------------------------------------------------------------------- */

struct mixed_job {
    const struct tsr_k_mixed *m;
    const char *in[3];
    tsr_dtype dt[3];
    char *y;
    size_t es; /* output element (Where) */
    int64_t row;
};

/* Element i of input k as double (floats) or int64 (others): comparisons of one dtype. */
static inline int mixed_compare(tsr_mixed_op op, tsr_dtype dt, const char *a, int64_t ia,
                                const char *b, int64_t ib) {
    if (tsr_dtype_is_float(dt)) {
        double x = tsr_elem_get_f64(dt, a, ia), z = tsr_elem_get_f64(dt, b, ib);
        switch (op) {
        case TSR_MX_EQUAL:
            return x == z;
        case TSR_MX_LESS:
            return x < z;
        case TSR_MX_GREATER:
            return x > z;
        case TSR_MX_LESS_OR_EQUAL:
            return x <= z;
        default:
            return x >= z;
        }
    }
    int64_t x = tsr_elem_get_i64(dt, a, ia), z = tsr_elem_get_i64(dt, b, ib);
    switch (op) {
    case TSR_MX_EQUAL:
        return x == z;
    case TSR_MX_LESS:
        return x < z;
    case TSR_MX_GREATER:
        return x > z;
    case TSR_MX_LESS_OR_EQUAL:
        return x <= z;
    default:
        return x >= z;
    }
}

static void mixed_range(void *arg, int64_t begin, int64_t end) {
    const struct mixed_job *j = arg;
    const struct tsr_k_mixed *m = j->m;
    const int r = m->rank, n_in = tsr_mixed_arity(m->op);
    for (int64_t q = begin; q < end; q++) { /* output row q */
        int64_t base[3] = {0, 0, 0}, rest = q;
        for (int d = r - 2; d >= 0; d--) {
            int64_t c = rest % m->dims[d];
            rest /= m->dims[d];
            for (int k = 0; k < n_in; k++)
                base[k] += c * m->strides[k][d];
        }
        const int64_t s0 = m->strides[0][r - 1], s1 = n_in > 1 ? m->strides[1][r - 1] : 0,
                      s2 = n_in > 2 ? m->strides[2][r - 1] : 0;
        char *y = j->y + (size_t)(q * j->row) * j->es;
        const uint8_t *a8 = (const uint8_t *)j->in[0], *b8 = (const uint8_t *)j->in[1];
        switch (m->op) {
        case TSR_MX_NOT:
            for (int64_t c = 0; c < j->row; c++)
                y[c] = a8[base[0] + c * s0] == 0;
            break;
        case TSR_MX_AND:
            for (int64_t c = 0; c < j->row; c++)
                y[c] = a8[base[0] + c * s0] != 0 && b8[base[1] + c * s1] != 0;
            break;
        case TSR_MX_OR:
            for (int64_t c = 0; c < j->row; c++)
                y[c] = a8[base[0] + c * s0] != 0 || b8[base[1] + c * s1] != 0;
            break;
        case TSR_MX_XOR:
            for (int64_t c = 0; c < j->row; c++)
                y[c] = (a8[base[0] + c * s0] != 0) != (b8[base[1] + c * s1] != 0);
            break;
        case TSR_MX_WHERE:
            if (j->es == 4) { /* float32 / int32: the common case, typed */
                const uint32_t *xa = (const uint32_t *)j->in[1], *xb = (const uint32_t *)j->in[2];
                uint32_t *y4 = (uint32_t *)(void *)y;
                for (int64_t c = 0; c < j->row; c++)
                    y4[c] = a8[base[0] + c * s0] ? xa[base[1] + c * s1] : xb[base[2] + c * s2];
            } else {
                for (int64_t c = 0; c < j->row; c++) {
                    int cond = a8[base[0] + c * s0] != 0;
                    int64_t off = cond ? base[1] + c * s1 : base[2] + c * s2;
                    copy_elem(y + (size_t)c * j->es, j->in[cond ? 1 : 2] + off * (int64_t)j->es,
                              j->es);
                }
            }
            break;
        case TSR_MX_ISNAN: /* group "dtcompute": float in, bool out */
        case TSR_MX_ISINF:
        case TSR_MX_ISINF_POS:
        case TSR_MX_ISINF_NEG:
            for (int64_t c = 0; c < j->row; c++) {
                const double v = tsr_elem_get_f64(j->dt[0], j->in[0], base[0] + c * s0);
                y[c] = (char)(m->op == TSR_MX_ISNAN       ? isnan(v) != 0
                              : m->op == TSR_MX_ISINF     ? isinf(v) != 0 /* glibc: -1 for -inf */
                              : m->op == TSR_MX_ISINF_POS ? (isinf(v) && v > 0)
                                                          : (isinf(v) && v < 0));
            }
            break;
        default: /* comparisons */
            for (int64_t c = 0; c < j->row; c++)
                y[c] = (char)mixed_compare(m->op, j->dt[0], j->in[0], base[0] + c * s0, j->in[1],
                                           base[1] + c * s1);
            break;
        }
    }
}

/* ---- PAD ----------------------------------------------------------------------------------- */

struct pad_job {
    const struct tsr_k_pad *p;
    const char *x;
    char *y;
    size_t es;
};

/* Source index along a padded dim (-1: the constant). */
static inline int64_t pad_src(const struct tsr_k_pad *p, int d, int64_t i) {
    int64_t dim = p->in_dims[d], s = i - p->pad_begin[d];
    if (s >= 0 && s < dim) return s;
    if (p->mode == TSR_PAD_EDGE) return s < 0 ? 0 : dim - 1;
    if (p->mode == TSR_PAD_REFLECT) return s < 0 ? -s : 2 * (dim - 1) - s;
    return -1;
}

static void pad_range(void *arg, int64_t begin, int64_t end) {
    const struct pad_job *j = arg;
    const struct tsr_k_pad *p = j->p;
    const int r = p->rank;
    const size_t es = j->es;
    const int64_t ow = p->out_dims[r - 1], iw = p->in_dims[r - 1], b = p->pad_begin[r - 1];
    /* interior columns [c0, c1) read input columns c - b */
    int64_t c0 = b > 0 ? b : 0, c1 = b + iw < ow ? b + iw : ow;
    if (c1 < c0) c1 = c0;
    for (int64_t q = begin; q < end; q++) {
        char *y = j->y + (size_t)(q * ow) * es;
        int64_t off = 0, stride = iw, rest = q;
        int constant_row = 0;
        for (int d = r - 2; d >= 0; d--) {
            int64_t s = pad_src(p, d, rest % p->out_dims[d]);
            rest /= p->out_dims[d];
            if (s < 0) constant_row = 1;
            off += s * stride;
            stride *= p->in_dims[d];
        }
        if (constant_row) {
            for (int64_t c = 0; c < ow; c++)
                copy_elem(y + (size_t)c * es, (const char *)p->value, es);
            continue;
        }
        const char *x = j->x + (size_t)off * es;
        for (int64_t c = 0; c < c0; c++) {
            int64_t s = pad_src(p, r - 1, c);
            copy_elem(y + (size_t)c * es, s < 0 ? (const char *)p->value : x + (size_t)s * es, es);
        }
        if (c1 > c0) memcpy(y + (size_t)c0 * es, x + (size_t)(c0 - b) * es, (size_t)(c1 - c0) * es);
        for (int64_t c = c1; c < ow; c++) {
            int64_t s = pad_src(p, r - 1, c);
            copy_elem(y + (size_t)c * es, s < 0 ? (const char *)p->value : x + (size_t)s * es, es);
        }
    }
}

/* ---- entry --------------------------------------------------------------------------------- */

int tsr_cpu_data_run(const struct tsr_cpu_env *env, const struct tsr_kernel *kn,
                     const tsr_dtype *in_dtypes, const void *const *in, void *y,
                     int64_t *bad_index) {
    const size_t es = es_of(kn->dtype);
    switch (kn->kind) {
    case TSR_K_GATHER: {
        const struct tsr_k_gather *g = &kn->u.gather;
        struct gather_job j = {g, in[0], in[1], in_dtypes[1] == TSR_I64, y, es, 0, 0};
        if (g->inner > 0 && g->n_idx > 0)
            data_parallel(env, g->outer * g->n_idx, g->inner * (int64_t)es, gather_range, &j);
        if (j.bad && bad_index) *bad_index = j.bad_value;
        return j.bad;
    }
    case TSR_K_SLICE: {
        const struct tsr_k_slice *sl = &kn->u.slice;
        int64_t n = prod(sl->rank, sl->dims), row = sl->dims[sl->rank - 1];
        struct slice_job j = {sl, in[0], y, es, row};
        if (n > 0) data_parallel(env, n / row, row * (int64_t)es, slice_range, &j);
        return 0;
    }
    case TSR_K_CAST: {
        struct cast_job j = {in_dtypes[0], kn->dtype, in[0], y};
        data_parallel(env, kn->u.cast.n, (int64_t)es, cast_range, &j);
        return 0;
    }
    case TSR_K_MIXED: {
        const struct tsr_k_mixed *m = &kn->u.mixed;
        int64_t n = prod(m->rank, m->dims), row = m->dims[m->rank - 1];
        struct mixed_job j = {.m = m, .y = y, .es = es, .row = row};
        for (int i = 0; i < kn->n_inputs && i < 3; i++) {
            j.in[i] = in[i];
            j.dt[i] = in_dtypes[i];
        }
        if (n > 0) data_parallel(env, n / row, row * (int64_t)es, mixed_range, &j);
        return 0;
    }
    case TSR_K_PAD: {
        const struct tsr_k_pad *p = &kn->u.pad;
        int64_t n = prod(p->rank, p->out_dims), row = p->out_dims[p->rank - 1];
        struct pad_job j = {p, in[0], y, es};
        if (n > 0) data_parallel(env, n / row, row * (int64_t)es, pad_range, &j);
        return 0;
    }
    default:
        return 0;
    }
}
