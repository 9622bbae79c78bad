/*
 * program_check.c — checks of the program contract (program.h) every backend shares: the
 * element types of kernels and their argument buffers against what a backend declares.
 */
#include "runtime/program.h"

#include <stdio.h>

tsr_dtype_set tsr_kernel_arg_dtypes(const struct tsr_kernel *k, int arg) {
    if (k->kind == TSR_K_ARG) /* group "reduce": int64 indices of its dtype's values */
        return arg == k->n_inputs && !k->u.arg.values ? TSR_DTYPE_BIT(TSR_I64) : 0;
    if (k->kind == TSR_K_POOL && k->u.pool.kind == TSR_POOL_MAX_INDEX) /* group "multiout" */
        return arg == k->n_inputs ? TSR_DTYPE_BIT(TSR_I64) : 0;
    if (arg < 0 || arg >= k->n_inputs) return 0; /* other outputs: the uniform rule */
    switch (k->kind) {
    case TSR_K_QUANT: /* issue 13: the backend checks each against the op */
        return TSR_DTS_ALL_BUFFERS;
    case TSR_K_NLL: /* group "multiout": the target */
        return arg == 1 ? TSR_DTYPE_BIT(TSR_I32) | TSR_DTYPE_BIT(TSR_I64) : 0;
    case TSR_K_GATHER:
    case TSR_K_INDEX: /* group "index" */
        return arg == 1 ? TSR_DTYPE_BIT(TSR_I32) | TSR_DTYPE_BIT(TSR_I64) : 0;
    case TSR_K_CAST:
        return TSR_DTS_ALL_BUFFERS;
    case TSR_K_MIXED:
        switch (k->u.mixed.op) {
        case TSR_MX_EQUAL:
        case TSR_MX_LESS:
        case TSR_MX_GREATER:
        case TSR_MX_LESS_OR_EQUAL:
        case TSR_MX_GREATER_OR_EQUAL:
            return TSR_DTS_ALL_BUFFERS;
        case TSR_MX_WHERE:
            return arg == 0 ? TSR_DTYPE_BIT(TSR_BOOL) : 0;
        case TSR_MX_ISNAN: /* group "dtcompute" */
        case TSR_MX_ISINF:
        case TSR_MX_ISINF_POS:
        case TSR_MX_ISINF_NEG:
            return TSR_DTYPE_BIT(TSR_F32) | TSR_DTYPE_BIT(TSR_F16) | TSR_DTYPE_BIT(TSR_F64);
        default:
            return TSR_DTYPE_BIT(TSR_BOOL);
        }
    default:
        return 0;
    }
}

int tsr_kernel_dtypes_ok(const struct tsr_program *prog, const struct tsr_kernel *k,
                         tsr_kernel_dtypes_fn *declared, tsr_dtype *bad_dtype, int *bad_arg) {
    tsr_dtype bad = k->dtype;
    int arg = -1;
    if ((unsigned)k->dtype >= 32 || !(declared(k->kind) & TSR_DTYPE_BIT(k->dtype))) goto no;
    int n_in = k->n_inputs < 0                       ? 0
               : k->n_inputs > TSR_KERNEL_MAX_INPUTS ? TSR_KERNEL_MAX_INPUTS
                                                     : k->n_inputs;
    for (arg = 0; arg <= n_in; arg++) {
        int b = arg < n_in ? k->inputs[arg] : k->output;
        if (b < 0 || b >= prog->n_buffers) continue;
        tsr_dtype_set own = tsr_kernel_arg_dtypes(k, arg);
        tsr_dtype bd = prog->buffers[b].desc.dtype;
        if (own ? !((unsigned)bd < 32 && (own & TSR_DTYPE_BIT(bd))) : bd != k->dtype) {
            bad = prog->buffers[b].desc.dtype;
            goto no;
        }
    }
    return 1;
no:
    if (bad_dtype) *bad_dtype = bad;
    if (bad_arg) *bad_arg = arg;
    return 0;
}

int tsr_kernel_dtypes_why(const struct tsr_program *prog, const struct tsr_kernel *k,
                          tsr_kernel_dtypes_fn *declared, const char *backend, char *why,
                          size_t why_size) {
    tsr_dtype bad;
    int arg;
    if (why && why_size) why[0] = '\0';
    if (tsr_kernel_dtypes_ok(prog, k, declared, &bad, &arg)) return 1;
    if (!why || !why_size) return 0;
    if (arg < 0) {
        snprintf(why, why_size, "the %s backend has no kernel of this kind for dtype %s", backend,
                 tsr_dtype_name(bad));
        return 0;
    }
    int is_in = arg < k->n_inputs && arg < TSR_KERNEL_MAX_INPUTS;
    int b = is_in ? k->inputs[arg] : k->output;
    snprintf(why, why_size, "%s %d (buffer %d) is %s, the kernel computes in %s%s",
             is_in ? "input" : "output", is_in ? arg : 0, b, tsr_dtype_name(bad),
             tsr_dtype_name(k->dtype),
             tsr_kernel_arg_dtypes(k, arg) ? " (and this argument's dtypes exclude it)" : "");
    return 0;
}

tsr_status tsr_program_check_dtypes(tsr_context *ctx, const char *backend,
                                    const struct tsr_program *prog,
                                    tsr_kernel_dtypes_fn *declared) {
    for (int i = 0; i < prog->n_kernels; i++) {
        const struct tsr_kernel *k = &prog->kernels[i];
        char why[256];
        if (tsr_kernel_dtypes_why(prog, k, declared, backend, why, sizeof why)) continue;
        return TSR_ERR(ctx, TSR_E_DTYPE, "%s prepare: kernel %d '%s' (nodes %s): %s", backend, i,
                       k->name, k->nodes ? k->nodes : "", why);
    }
    return TSR_OK;
}

tsr_dtype_set tsr_kernel_dtypes_f32(tsr_kernel_kind kind) {
    (void)kind;
    return TSR_DTYPE_BIT(TSR_F32);
}

/* ---- issue 9, group "tkern": geometry of the kernels of any dtype ------------------------ */

/* Bytes of buffer id, or -1 when out of range. */
static int64_t buf_bytes(const struct tsr_program *prog, int id) {
    if (id < 0 || id >= prog->n_buffers) return -1;
    return (int64_t)prog->buffers[id].bytes;
}

static tsr_dtype buf_dtype(const struct tsr_program *prog, int id) {
    return prog->buffers[id].desc.dtype;
}

/* Smallest and largest element offset a strided walk over dims reads (dims > 0). */
static void strided_extent(int rank, const int64_t *dims, const int64_t *strides, int64_t base,
                           int64_t *lo, int64_t *hi) {
    *lo = *hi = base;
    for (int d = 0; d < rank; d++) {
        int64_t span = (dims[d] - 1) * strides[d];
        if (span < 0)
            *lo += span;
        else
            *hi += span;
    }
}

static int64_t prod(int rank, const int64_t *dims) {
    int64_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= dims[d];
    return n;
}

#define DATA_ERR(...) TSR_ERR(ctx, TSR_E_INVALID_ARG, __VA_ARGS__)

tsr_status tsr_data_kernel_check(tsr_context *ctx, const struct tsr_program *prog,
                                 const struct tsr_kernel *kn) {
    const char *name = kn->name;
    const int64_t out_bytes = buf_bytes(prog, kn->output);
    const size_t es = tsr_dtype_size(kn->dtype);
    if (es == 0) return DATA_ERR("kernel '%s': unknown dtype %d", name, (int)kn->dtype);
    int64_t need_out = 0;
    switch (kn->kind) {
    case TSR_K_GATHER: {
        const struct tsr_k_gather *g = &kn->u.gather;
        if (kn->n_inputs != 2 || g->outer < 0 || g->axis_len < 0 || g->n_idx < 0 || g->inner < 0)
            return DATA_ERR("gather kernel '%s': %d inputs, [%lld, %lld, %lld] by %lld indices",
                            name, kn->n_inputs, (long long)g->outer, (long long)g->axis_len,
                            (long long)g->inner, (long long)g->n_idx);
        tsr_dtype it = buf_dtype(prog, kn->inputs[1]);
        if (it != TSR_I64 && it != TSR_I32)
            return TSR_ERR(ctx, TSR_E_DTYPE, "gather kernel '%s': indices are %s (int64, int32)",
                           name, tsr_dtype_name(it));
        if (buf_bytes(prog, kn->inputs[0]) < g->outer * g->axis_len * g->inner * (int64_t)es ||
            buf_bytes(prog, kn->inputs[1]) < g->n_idx * (int64_t)tsr_dtype_size(it))
            return TSR_ERR(ctx, TSR_E_SHAPE, "gather kernel '%s': inputs smaller than the geometry",
                           name);
        need_out = g->outer * g->n_idx * g->inner * (int64_t)es;
        break;
    }
    case TSR_K_SLICE: {
        const struct tsr_k_slice *sl = &kn->u.slice;
        if (kn->n_inputs != 1 || sl->rank < 1 || sl->rank > TSR_MAX_RANK || sl->offset < 0)
            return DATA_ERR("slice kernel '%s': %d inputs, rank %d, offset %lld", name,
                            kn->n_inputs, sl->rank, (long long)sl->offset);
        for (int d = 0; d < sl->rank; d++)
            if (sl->dims[d] < 0) return DATA_ERR("slice kernel '%s': dim %d < 0", name, d);
        int64_t n = prod(sl->rank, sl->dims);
        if (n > 0) {
            int64_t lo, hi;
            strided_extent(sl->rank, sl->dims, sl->in_strides, sl->offset, &lo, &hi);
            if (lo < 0 || (hi + 1) * (int64_t)es > buf_bytes(prog, kn->inputs[0]))
                return TSR_ERR(ctx, TSR_E_SHAPE,
                               "slice kernel '%s': reads elements %lld .. %lld of a %lld-byte "
                               "input",
                               name, (long long)lo, (long long)hi,
                               (long long)buf_bytes(prog, kn->inputs[0]));
        }
        need_out = n * (int64_t)es;
        break;
    }
    case TSR_K_CAST: {
        if (kn->n_inputs != 1 || kn->u.cast.n < 0)
            return DATA_ERR("cast kernel '%s': %d inputs, n %lld", name, kn->n_inputs,
                            (long long)kn->u.cast.n);
        tsr_dtype st = buf_dtype(prog, kn->inputs[0]);
        if (buf_bytes(prog, kn->inputs[0]) < kn->u.cast.n * (int64_t)tsr_dtype_size(st))
            return TSR_ERR(ctx, TSR_E_SHAPE, "cast kernel '%s': input smaller than %lld elements",
                           name, (long long)kn->u.cast.n);
        need_out = kn->u.cast.n * (int64_t)es;
        break;
    }
    case TSR_K_MIXED: {
        const struct tsr_k_mixed *m = &kn->u.mixed;
        if ((unsigned)m->op >= TSR_MX_COUNT || kn->n_inputs != tsr_mixed_arity(m->op) ||
            m->rank < 1 || m->rank > TSR_MAX_RANK)
            return DATA_ERR("mixed kernel '%s': op %d with %d inputs, rank %d", name, (int)m->op,
                            kn->n_inputs, m->rank);
        for (int d = 0; d < m->rank; d++)
            if (m->dims[d] < 0) return DATA_ERR("mixed kernel '%s': dim %d < 0", name, d);
        if (m->op <= TSR_MX_GREATER_OR_EQUAL &&
            buf_dtype(prog, kn->inputs[0]) != buf_dtype(prog, kn->inputs[1]))
            return TSR_ERR(ctx, TSR_E_DTYPE, "mixed kernel '%s': compares %s with %s", name,
                           tsr_dtype_name(buf_dtype(prog, kn->inputs[0])),
                           tsr_dtype_name(buf_dtype(prog, kn->inputs[1])));
        int64_t n = prod(m->rank, m->dims);
        for (int i = 0; n > 0 && i < kn->n_inputs; i++) {
            int64_t lo, hi;
            for (int d = 0; d < m->rank; d++)
                if (m->strides[i][d] < 0)
                    return DATA_ERR("mixed kernel '%s': negative stride", name);
            strided_extent(m->rank, m->dims, m->strides[i], 0, &lo, &hi);
            if ((hi + 1) * (int64_t)tsr_dtype_size(buf_dtype(prog, kn->inputs[i])) >
                buf_bytes(prog, kn->inputs[i]))
                return TSR_ERR(ctx, TSR_E_SHAPE, "mixed kernel '%s': input %d too small", name, i);
        }
        need_out = n * (int64_t)es;
        break;
    }
    case TSR_K_PAD: {
        const struct tsr_k_pad *p = &kn->u.pad;
        if (kn->n_inputs != 1 || p->rank < 1 || p->rank > TSR_MAX_RANK ||
            (unsigned)p->mode > TSR_PAD_EDGE)
            return DATA_ERR("pad kernel '%s': %d inputs, rank %d, mode %d", name, kn->n_inputs,
                            p->rank, (int)p->mode);
        for (int d = 0; d < p->rank; d++) {
            int64_t in = p->in_dims[d], out = p->out_dims[d], b = p->pad_begin[d], e = out - in - b;
            if (in < 0 || out < 0)
                return DATA_ERR("pad kernel '%s': dim %d: %lld -> %lld", name, d, (long long)in,
                                (long long)out);
            int pads = b > 0 || e > 0;
            if (p->mode != TSR_PAD_CONSTANT && pads && out > 0 &&
                (in == 0 || (p->mode == TSR_PAD_REFLECT && (b >= in || e >= in))))
                return DATA_ERR("pad kernel '%s': dim %d of %lld cannot be padded by %lld, %lld "
                                "in this mode",
                                name, d, (long long)in, (long long)b, (long long)e);
        }
        if (buf_bytes(prog, kn->inputs[0]) < prod(p->rank, p->in_dims) * (int64_t)es)
            return TSR_ERR(ctx, TSR_E_SHAPE, "pad kernel '%s': input too small", name);
        need_out = prod(p->rank, p->out_dims) * (int64_t)es;
        break;
    }
    case TSR_K_INDEX: { /* group "index" */
        const struct tsr_k_index *g = &kn->u.index;
        const int scatter =
            g->mode == TSR_INDEX_SCATTER_ELEMENTS || g->mode == TSR_INDEX_SCATTER_ND;
        const int elements = g->mode <= TSR_INDEX_SCATTER_ELEMENTS;
        int ok = (unsigned)g->mode <= TSR_INDEX_ONE_HOT &&
                 (unsigned)g->reduction <= TSR_SCATTER_MIN && kn->n_inputs == 2 + scatter &&
                 (g->reduction == TSR_SCATTER_NONE || kn->dtype == TSR_F32 ||
                  kn->dtype == TSR_F64 || kn->dtype == TSR_I32 || kn->dtype == TSR_I64);
        if (ok && elements) {
            ok = g->rank >= 1 && g->rank <= TSR_MAX_RANK && g->axis >= 0 && g->axis < g->rank;
            for (int d = 0; ok && d < g->rank; d++)
                ok = g->x_dims[d] >= 0 && g->idx_dims[d] >= 0 &&
                     (d == g->axis || g->idx_dims[d] <= g->x_dims[d]);
        } else if (ok && g->mode == TSR_INDEX_ONE_HOT) {
            ok = g->x_dims[0] >= 0 && g->x_dims[1] >= 0 && g->inner >= 0 &&
                 g->reduction == TSR_SCATTER_NONE;
        } else if (ok && g->mode == TSR_INDEX_REVERSE_SEQUENCE) {
            ok = (g->axis == 0 || g->axis == 1) && g->x_dims[0] >= 0 && g->x_dims[1] >= 0 &&
                 g->inner >= 0 && g->reduction == TSR_SCATTER_NONE;
        } else if (ok) {
            ok = g->q >= 1 && g->q <= TSR_MAX_RANK && g->batch >= 0 && g->n_tuples >= 0 &&
                 g->inner >= 0 && (g->mode == TSR_INDEX_GATHER_ND || g->batch == 1);
            for (int k = 0; ok && k < g->q; k++)
                ok = g->nd_dims[k] >= 0;
        }
        if (!ok)
            return DATA_ERR("index kernel '%s': bad geometry (mode %d, reduction %d, %d inputs, "
                            "%s)",
                            name, (int)g->mode, (int)g->reduction, kn->n_inputs,
                            tsr_dtype_name(kn->dtype));
        tsr_dtype it = buf_dtype(prog, kn->inputs[1]);
        if (it != TSR_I64 && it != TSR_I32)
            return TSR_ERR(ctx, TSR_E_DTYPE, "index kernel '%s': indices are %s (int64, int32)",
                           name, tsr_dtype_name(it));
        int64_t nx, ni, ny;
        tsr_index_counts(g, &nx, &ni, &ny);
        const int64_t nu = g->mode == TSR_INDEX_SCATTER_ELEMENTS ? ni
                           : g->mode == TSR_INDEX_SCATTER_ND     ? g->n_tuples * g->inner
                                                                 : 0;
        if (buf_bytes(prog, kn->inputs[0]) < nx * (int64_t)es ||
            buf_bytes(prog, kn->inputs[1]) < ni * (int64_t)tsr_dtype_size(it) ||
            (scatter && buf_bytes(prog, kn->inputs[2]) < nu * (int64_t)es))
            return TSR_ERR(ctx, TSR_E_SHAPE, "index kernel '%s': inputs smaller than the geometry",
                           name);
        need_out = ny * (int64_t)es;
        break;
    }
    default:
        return DATA_ERR("kernel '%s': kind %d is not a data kernel", name, (int)kn->kind);
    }
    if (need_out > out_bytes)
        return TSR_ERR(ctx, TSR_E_SHAPE, "kernel '%s': writes %lld bytes into a %lld-byte output",
                       name, (long long)need_out, (long long)out_bytes);
    return TSR_OK;
}

/* ---- issue 9, group "index" ------------------------------------------------------------- */

void tsr_index_counts(const struct tsr_k_index *g, int64_t *n_x, int64_t *n_idx, int64_t *n_y) {
    if (g->mode == TSR_INDEX_GATHER_ELEMENTS || g->mode == TSR_INDEX_SCATTER_ELEMENTS) {
        int64_t nx = 1, ni = 1;
        for (int d = 0; d < g->rank; d++) {
            nx *= g->x_dims[d];
            ni *= g->idx_dims[d];
        }
        *n_x = nx;
        *n_idx = ni;
        *n_y = g->mode == TSR_INDEX_GATHER_ELEMENTS ? ni : nx;
        return;
    }
    if (g->mode == TSR_INDEX_ONE_HOT) {
        *n_x = 2;
        *n_idx = g->x_dims[0] * g->inner;
        *n_y = g->x_dims[0] * g->x_dims[1] * g->inner;
        return;
    }
    if (g->mode == TSR_INDEX_REVERSE_SEQUENCE) {
        *n_x = *n_y = g->x_dims[0] * g->x_dims[1] * g->inner;
        *n_idx = g->x_dims[!g->axis];
        return;
    }
    int64_t nd = 1;
    for (int k = 0; k < g->q; k++)
        nd *= g->nd_dims[k];
    *n_x = g->batch * nd * g->inner;
    *n_idx = g->batch * g->n_tuples * g->q;
    *n_y = g->mode == TSR_INDEX_GATHER_ND ? g->batch * g->n_tuples * g->inner : *n_x;
}
