/*
 * cl_data.c — the OpenCL kernels of any dtype (issue 9, group "tkern"): GATHER, SLICE, CAST,
 * MIXED and PAD from kernels_cl/data.cl, specialised per dtype by #define lines put in front of
 * the embedded source (so the program cache keys them apart): the element type moved (by size),
 * CAST's source and destination dtype, MIXED's expression (tsr_mixed_cl_expr) and compared dtype.
 * Geometry (rank <= 8) is passed as long8 arguments. A kernel that needs double arithmetic (a
 * CAST from or to float64, a comparison of float64) is refused with TSR_E_DTYPE on a device
 * without cl_khr_fp64; moving float64 bytes needs nothing.
 *
 * GATHER writes 1 into the executable's flag word when an index is out of range (the row is
 * written as zeros, nothing is read out of bounds); cl_backend.c zeroes the flag before a run,
 * reads it back with the outputs and fails the run with TSR_E_INVALID_ARG naming the node.
 */
#include "backends/opencl/cl_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TSR_CL_DATA_MAX_ITEMS ((size_t)1 << 20)
#define TSR_CL_DATA_OPTIONS   "-cl-std=CL1.2"

static size_t cap_items(int64_t n) {
    return (uint64_t)n < TSR_CL_DATA_MAX_ITEMS ? (size_t)n : TSR_CL_DATA_MAX_ITEMS;
}

/* OpenCL C unsigned type of an element of `es` bytes. */
static const char *move_type(size_t es) {
    return es == 1 ? "uchar" : es == 2 ? "ushort" : es == 4 ? "uint" : "ulong";
}

int tsr_cl_device_has_fp64(struct tsr_cl_device *dev) {
    cl_device_fp_config cfg = 0;
    if (clGetDeviceInfo(dev->device, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof cfg, &cfg, NULL) !=
        CL_SUCCESS)
        return 0;
    return cfg != 0;
}

/* Builds data.cl with `defines` in front and creates kernel fn into out->kernel. */
static tsr_status build(tsr_context *ctx, struct tsr_cl_device *dev, const struct tsr_kernel *k,
                        const char *defines, const char *fn, struct tsr_cl_launch *out) {
    char *body = tsr_cl_embedded_source(ctx, "data.cl");
    if (!body) return tsr_last_error(NULL)->status;
    size_t n = strlen(defines) + strlen(body) + 2;
    char *src = malloc(n);
    if (!src) {
        free(body);
        return TSR_ERR(ctx, TSR_E_NOMEM, "kernel '%s': out of host memory", k->name);
    }
    snprintf(src, n, "%s\n%s", defines, body);
    free(body);
    tsr_status st =
        tsr_cl_kernel_get(ctx, dev, fn, src, TSR_CL_DATA_OPTIONS, fn, k->name, &out->kernel);
    free(src);
    return st;
}

static cl_long8 long8_of(int rank, const int64_t *v, int64_t fill) {
    cl_long8 r;
    for (int i = 0; i < 8; i++)
        r.s[i] = i < rank ? (cl_long)v[i] : (cl_long)fill;
    return r;
}

static void arg_long8(struct tsr_cl_args *a, cl_long8 v) {
    tsr_cl_arg_raw(a, sizeof v, &v);
}

static tsr_status args_status(tsr_context *ctx, const struct tsr_kernel *k,
                              const struct tsr_cl_args *a) {
    if (a->err == CL_SUCCESS) return TSR_OK;
    return TSR_ERR_CL(ctx, TSR_E_DEVICE, a->err, "kernel '%s': clSetKernelArg(%u): %s (%d)",
                      k->name, a->failed_at, tsr_cl_error_name(a->err), (int)a->err);
}

static int64_t prod(int rank, const int64_t *dims) {
    int64_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= dims[d];
    return n;
}

tsr_status tsr_cl_data_prepare(tsr_context *ctx, struct tsr_cl_device *dev,
                               const struct tsr_program *prog, const struct tsr_kernel *k,
                               const struct tsr_cl_ref *in, const struct tsr_cl_ref *y,
                               const struct tsr_cl_ref *flag, struct tsr_cl_launch *out) {
    memset(out, 0, sizeof *out);
    tsr_status st = tsr_data_kernel_check(ctx, prog, k);
    if (st != TSR_OK) return st;
    const size_t es = tsr_dtype_size(k->dtype);
    tsr_dtype in_dt[3] = {TSR_F32, TSR_F32, TSR_F32};
    for (int i = 0; i < k->n_inputs && i < 3; i++)
        in_dt[i] = prog->buffers[k->inputs[i]].desc.dtype;
    char defs[256];
    struct tsr_cl_args a = {0, 0, CL_SUCCESS, 0};
    switch (k->kind) {
    case TSR_K_GATHER: {
        const struct tsr_k_gather *g = &k->u.gather;
        if (!flag)
            return TSR_ERR(ctx, TSR_E_INTERNAL, "kernel '%s': no Gather flag buffer", k->name);
        snprintf(defs, sizeof defs, "#define T %s", move_type(es));
        if ((st = build(ctx, dev, k, defs, "tsr_gather", out)) != TSR_OK) return st;
        a.kernel = out->kernel;
        tsr_cl_arg_ref(&a, &in[0]);
        tsr_cl_arg_ref(&a, &in[1]);
        tsr_cl_arg_ref(&a, y);
        tsr_cl_arg_ulong(&a, g->outer);
        tsr_cl_arg_long(&a, g->axis_len);
        tsr_cl_arg_ulong(&a, g->n_idx);
        tsr_cl_arg_ulong(&a, g->inner);
        tsr_cl_arg_int(&a, in_dt[1] == TSR_I64);
        tsr_cl_arg_ref(&a, flag);
        out->global = cap_items(g->outer * g->n_idx * g->inner);
        break;
    }
    case TSR_K_SLICE: {
        const struct tsr_k_slice *sl = &k->u.slice;
        snprintf(defs, sizeof defs, "#define T %s", move_type(es));
        if ((st = build(ctx, dev, k, defs, "tsr_slice", out)) != TSR_OK) return st;
        a.kernel = out->kernel;
        tsr_cl_arg_ref(&a, &in[0]);
        tsr_cl_arg_ref(&a, y);
        tsr_cl_arg_int(&a, sl->rank);
        arg_long8(&a, long8_of(sl->rank, sl->dims, 1));
        arg_long8(&a, long8_of(sl->rank, sl->in_strides, 0));
        tsr_cl_arg_long(&a, sl->offset);
        int64_t n = prod(sl->rank, sl->dims);
        tsr_cl_arg_ulong(&a, n);
        out->global = cap_items(n);
        break;
    }
    case TSR_K_CAST: {
        if ((in_dt[0] == TSR_F64 || k->dtype == TSR_F64) && !tsr_cl_device_has_fp64(dev))
            return TSR_ERR(ctx, TSR_E_DTYPE,
                           "kernel '%s' (nodes %s): casting %s to %s needs double precision, "
                           "which device %s lacks (cl_khr_fp64)",
                           k->name, k->nodes ? k->nodes : "", tsr_dtype_name(in_dt[0]),
                           tsr_dtype_name(k->dtype), dev->id);
        snprintf(defs, sizeof defs, "#define TSR_SRC %d\n#define TSR_DST %d", (int)in_dt[0],
                 (int)k->dtype);
        if ((st = build(ctx, dev, k, defs, "tsr_cast", out)) != TSR_OK) return st;
        a.kernel = out->kernel;
        tsr_cl_arg_ref(&a, &in[0]);
        tsr_cl_arg_ref(&a, y);
        tsr_cl_arg_ulong(&a, k->u.cast.n);
        out->global = cap_items(k->u.cast.n);
        break;
    }
    case TSR_K_MIXED: {
        const struct tsr_k_mixed *m = &k->u.mixed;
        int where = m->op == TSR_MX_WHERE;
        if (!where && in_dt[0] == TSR_F64 && !tsr_cl_device_has_fp64(dev))
            return TSR_ERR(ctx, TSR_E_DTYPE,
                           "kernel '%s' (nodes %s): comparing float64 needs double precision, "
                           "which device %s lacks (cl_khr_fp64)",
                           k->name, k->nodes ? k->nodes : "", dev->id);
        if (where)
            snprintf(defs, sizeof defs,
                     "#define T %s\n#define TSR_WHERE 1\n#define TSR_MIXED_EXPR %s", move_type(es),
                     tsr_mixed_cl_expr(m->op));
        else
            snprintf(defs, sizeof defs, "#define TSR_A %d\n#define TSR_MIXED_EXPR %s",
                     (int)in_dt[0], tsr_mixed_cl_expr(m->op));
        if ((st = build(ctx, dev, k, defs, "tsr_mixed", out)) != TSR_OK) return st;
        a.kernel = out->kernel;
        int n_in = tsr_mixed_arity(m->op);
        for (int i = 0; i < 3; i++)
            tsr_cl_arg_ref(&a, &in[i < n_in ? i : 0]);
        tsr_cl_arg_ref(&a, y);
        tsr_cl_arg_int(&a, m->rank);
        arg_long8(&a, long8_of(m->rank, m->dims, 1));
        for (int i = 0; i < 3; i++)
            arg_long8(&a, long8_of(m->rank, m->strides[i < n_in ? i : 0], 0));
        int64_t n = prod(m->rank, m->dims);
        tsr_cl_arg_ulong(&a, n);
        out->global = cap_items(n);
        break;
    }
    case TSR_K_PAD: {
        const struct tsr_k_pad *p = &k->u.pad;
        snprintf(defs, sizeof defs, "#define T %s", move_type(es));
        if ((st = build(ctx, dev, k, defs, "tsr_pad", out)) != TSR_OK) return st;
        a.kernel = out->kernel;
        cl_ulong value = 0;
        memcpy(&value, p->value, es); /* little-endian host and device */
        tsr_cl_arg_ref(&a, &in[0]);
        tsr_cl_arg_ref(&a, y);
        tsr_cl_arg_int(&a, p->rank);
        arg_long8(&a, long8_of(p->rank, p->in_dims, 1));
        arg_long8(&a, long8_of(p->rank, p->out_dims, 1));
        arg_long8(&a, long8_of(p->rank, p->pad_begin, 0));
        tsr_cl_arg_int(&a, (int)p->mode);
        tsr_cl_arg_raw(&a, sizeof value, &value);
        int64_t n = prod(p->rank, p->out_dims);
        tsr_cl_arg_ulong(&a, n);
        out->global = cap_items(n);
        break;
    }
    case TSR_K_INDEX: { /* group "index": GatherElements / ScatterElements / GatherND / ScatterND */
        const struct tsr_k_index *g = &k->u.index;
        if (!flag)
            return TSR_ERR(ctx, TSR_E_INTERNAL, "kernel '%s': no index flag buffer", k->name);
        const char *e = move_type(es), *ut = e;
        if (g->reduction != TSR_SCATTER_NONE) {
            e = k->dtype == TSR_F32   ? "float"
                : k->dtype == TSR_F64 ? "double"
                : k->dtype == TSR_I32 ? "int"
                                      : "long";
            ut = k->dtype == TSR_I32 ? "uint" : k->dtype == TSR_I64 ? "ulong" : e;
            if (k->dtype == TSR_F64 && !tsr_cl_device_has_fp64(dev))
                return TSR_ERR(ctx, TSR_E_DTYPE,
                               "kernel '%s': a float64 reduction needs cl_khr_fp64 (opencl %s)",
                               k->name, dev->id);
        }
        snprintf(
            defs, sizeof defs, "#define T %s\n#define E %s\n#define UT %s\n#define TSR_RED %d%s",
            move_type(es), e, ut, (int)g->reduction,
            g->reduction != TSR_SCATTER_NONE && k->dtype == TSR_F64 ? "\n#define TSR_IDX_F64" : "");
        static const char *const fns[] = {"tsr_gather_elements",  "tsr_scatter_elements",
                                          "tsr_gather_nd",        "tsr_scatter_nd",
                                          "tsr_reverse_sequence", "tsr_one_hot"};
        if ((st = build(ctx, dev, k, defs, fns[g->mode], out)) != TSR_OK) return st;
        a.kernel = out->kernel;
        int64_t nx, ni, ny;
        tsr_index_counts(g, &nx, &ni, &ny);
        const int scatter =
            g->mode == TSR_INDEX_SCATTER_ELEMENTS || g->mode == TSR_INDEX_SCATTER_ND;
        tsr_cl_arg_ref(&a, &in[0]);
        tsr_cl_arg_ref(&a, &in[1]);
        if (scatter) tsr_cl_arg_ref(&a, &in[2]);
        tsr_cl_arg_ref(&a, y);
        if (g->mode == TSR_INDEX_ONE_HOT) {
            tsr_cl_arg_ulong(&a, g->x_dims[0]);
            tsr_cl_arg_long(&a, g->x_dims[1]);
            tsr_cl_arg_ulong(&a, g->inner);
            tsr_cl_arg_int(&a, in_dt[1] == TSR_I64);
        } else if (g->mode == TSR_INDEX_REVERSE_SEQUENCE) {
            tsr_cl_arg_long(&a, g->x_dims[0]);
            tsr_cl_arg_long(&a, g->x_dims[1]);
            tsr_cl_arg_ulong(&a, g->inner);
            tsr_cl_arg_int(&a, g->axis);
            tsr_cl_arg_int(&a, in_dt[1] == TSR_I64);
        } else if (g->mode <= TSR_INDEX_SCATTER_ELEMENTS) {
            tsr_cl_arg_int(&a, g->rank);
            tsr_cl_arg_int(&a, g->axis);
            arg_long8(&a, long8_of(g->rank, g->x_dims, 1));
            arg_long8(&a, long8_of(g->rank, g->idx_dims, 1));
            tsr_cl_arg_int(&a, in_dt[1] == TSR_I64);
            if (scatter) tsr_cl_arg_ulong(&a, nx);
            tsr_cl_arg_ulong(&a, ni);
        } else {
            tsr_cl_arg_int(&a, g->q);
            arg_long8(&a, long8_of(g->q, g->nd_dims, 1));
            if (!scatter) tsr_cl_arg_ulong(&a, g->batch);
            tsr_cl_arg_ulong(&a, g->n_tuples * (scatter ? g->batch : 1));
            tsr_cl_arg_ulong(&a, g->inner);
            tsr_cl_arg_int(&a, in_dt[1] == TSR_I64);
            if (scatter) tsr_cl_arg_ulong(&a, nx);
        }
        tsr_cl_arg_ref(&a, flag);
        out->global = scatter ? 1 : cap_items(ny);
        break;
    }
    default:
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED, "kernel '%s': kind %d is not a data kernel", k->name,
                       (int)k->kind);
    }
    return args_status(ctx, k, &a);
}
