/*
 * cl_backend.c — tsr_opencl_backend_ops (runtime/backend.h): the vtable, and prepare / execute /
 * release of a struct tsr_program on one OpenCL device.
 *
 * prepare: device memory for every buffer — CONST blocks (uploaded here, once, and kept), one
 *   arena block of prog->arena_bytes for all TEMP buffers (addressed by byte offset), one block
 *   per INPUT and OUTPUT buffer — all from the device pool; programs from the program cache
 *   (generated OpenCL C for fused elementwise regions, embedded softmax/copy/epilogue sources);
 *   one cl_kernel per program kernel with every argument set, so execute only enqueues.
 * execute: non-blocking writes of the inputs, the kernels in order on the in-order queue,
 *   non-blocking reads of the outputs, clFinish. With the profiler on, every command gets an
 *   event; after the finish each kernel becomes one TSR_EVENT_KERNEL record and each transfer one
 *   TSR_EVENT_TRANSFER record, device times mapped to the host clock. Events live only during
 *   execute (preallocated slots; no pool allocation in steady state).
 * release: kernels released, blocks back to the pool.
 *
 * Every CL call is checked; a failure returns TSR_E_DEVICE / TSR_E_DEVICE_NOMEM / TSR_E_BUILD
 * with the step named and the CL code recorded (TSR_ERR_CL), so the runtime can fall back.
 */
#include "backends/opencl/cl_fault.h"
#include "backends/opencl/cl_internal.h"

#include "runtime/profiler.h"

#include <stdlib.h>
#include <string.h>

/* Work-item cap for grid-stride kernels (elementwise, copy): enough to fill any current GPU. */
#define TSR_CL_MAX_ITEMS ((size_t)1 << 20)

#define TSR_CL_BUILD_OPTIONS "-cl-std=CL1.2"

struct cl_exec_kernel {
    const struct tsr_kernel *k;
    cl_kernel kernel; /* single-launch kinds; NULL for GEMM and CONV */
    size_t global;    /* work-items; 0 = nothing to do (empty tensor) */
    size_t local;     /* work-group size; 0 = the driver chooses */
    struct tsr_cl_gemm gemm;
    struct tsr_cl_conv conv;
};

/* One profiled command group: [first, last] events of a kernel or a transfer. */
struct cl_rec {
    tsr_event_kind kind;
    const char *name, *nodes;
    cl_event first, last;
    int first_is_marker; /* start = END of the marker rather than START of `first` */
    uint64_t bytes, flops;
};

struct cl_exec {
    tsr_context *ctx;
    struct tsr_cl_device *dev;
    const struct tsr_program *prog;
    struct tsr_cl_block *arena;
    struct tsr_cl_block **blocks; /* per buffer; NULL for TEMP */
    struct tsr_cl_ref *refs;      /* per buffer */
    struct cl_exec_kernel *kernels;
    struct cl_rec *recs; /* n_inputs + n_kernels + n_outputs slots */
    /* Gather index errors (group "tkern", cl_data.c): a device word zeroed before each run and
     * read back after it; NULL block when the program has no GATHER kernel. */
    struct tsr_cl_block *flag_block;
    struct tsr_cl_ref flag;
    cl_int flag_host;
};

static void cl_release(void *p);

/* Creates kernel `fn` from `source` and stores it in ek->kernel. */
static tsr_status make_kernel(struct cl_exec *ex, struct cl_exec_kernel *ek, const char *label,
                              const char *source, const char *fn) {
    return tsr_cl_kernel_get(ex->ctx, ex->dev, label, source, TSR_CL_BUILD_OPTIONS, fn, ek->k->name,
                             &ek->kernel);
}

/* Sets argument pair (mem, offset in elements) at idx, idx+1. */
static tsr_status set_ref(struct cl_exec *ex, struct cl_exec_kernel *ek, cl_uint idx,
                          const struct tsr_cl_ref *r) {
    cl_ulong off = r->offset / sizeof(float);
    cl_int err = clSetKernelArg(ek->kernel, idx, sizeof(cl_mem), &r->mem);
    if (err == CL_SUCCESS) err = clSetKernelArg(ek->kernel, idx + 1, sizeof off, &off);
    if (err != CL_SUCCESS)
        return TSR_ERR_CL(ex->ctx, TSR_E_DEVICE, err, "kernel '%s': clSetKernelArg(%u): %s (%d)",
                          ek->k->name, idx, tsr_cl_error_name(err), (int)err);
    return TSR_OK;
}

static tsr_status set_ulong(struct cl_exec *ex, struct cl_exec_kernel *ek, cl_uint idx, int64_t v) {
    cl_ulong u = (cl_ulong)v;
    cl_int err = clSetKernelArg(ek->kernel, idx, sizeof u, &u);
    if (err != CL_SUCCESS)
        return TSR_ERR_CL(ex->ctx, TSR_E_DEVICE, err, "kernel '%s': clSetKernelArg(%u): %s (%d)",
                          ek->k->name, idx, tsr_cl_error_name(err), (int)err);
    return TSR_OK;
}

static tsr_status set_int(struct cl_exec *ex, struct cl_exec_kernel *ek, cl_uint idx, int v) {
    cl_int u = (cl_int)v;
    cl_int err = clSetKernelArg(ek->kernel, idx, sizeof u, &u);
    if (err != CL_SUCCESS)
        return TSR_ERR_CL(ex->ctx, TSR_E_DEVICE, err, "kernel '%s': clSetKernelArg(%u): %s (%d)",
                          ek->k->name, idx, tsr_cl_error_name(err), (int)err);
    return TSR_OK;
}

static size_t cap_items(int64_t n) {
    return (uint64_t)n < TSR_CL_MAX_ITEMS ? (size_t)n : TSR_CL_MAX_ITEMS;
}

/* Prepares one program kernel: program, cl_kernel, arguments, global size. */
static tsr_status prepare_kernel(struct cl_exec *ex, struct cl_exec_kernel *ek) {
    const struct tsr_kernel *k = ek->k;
    const struct tsr_program *prog = ex->prog;
    if (k->output < 0 || k->output >= prog->n_buffers || k->n_inputs < 0 ||
        k->n_inputs > TSR_KERNEL_MAX_INPUTS)
        return TSR_ERR(ex->ctx, TSR_E_INVALID_ARG,
                       "kernel '%s': output buffer %d / %d inputs out of range", k->name, k->output,
                       k->n_inputs);
    for (int i = 0; i < k->n_inputs; i++)
        if (k->inputs[i] < 0 || k->inputs[i] >= prog->n_buffers)
            return TSR_ERR(ex->ctx, TSR_E_INVALID_ARG, "kernel '%s': input %d is buffer %d of %d",
                           k->name, i, k->inputs[i], prog->n_buffers);
    const struct tsr_cl_ref *y = &ex->refs[k->output];
    tsr_status st = TSR_OK;
    char *src = NULL;
    switch (k->kind) {
    case TSR_K_EW: {
        if (k->dtype == TSR_F64 && !tsr_cl_device_has_fp64(ex->dev)) /* group "dtcompute" */
            return TSR_ERR(ex->ctx, TSR_E_DTYPE,
                           "kernel '%s' (nodes %s): float64 arithmetic needs double precision, "
                           "which device %s lacks (cl_khr_fp64)",
                           k->name, k->nodes ? k->nodes : "", ex->dev->id);
        st = tsr_cl_codegen_ew(ex->ctx, k, &src);
        if (st == TSR_OK) st = make_kernel(ex, ek, k->name, src, "tsr_ew");
        if (st == TSR_OK) st = set_ref(ex, ek, 0, y);
        for (int i = 0; st == TSR_OK && i < k->n_inputs; i++)
            st = set_ref(ex, ek, (cl_uint)(2 + 2 * i), &ex->refs[k->inputs[i]]);
        int64_t total = 1;
        for (int d = 0; d < k->u.ew.rank; d++)
            total *= k->u.ew.dims[d];
        ek->global = cap_items(total);
        break;
    }
    case TSR_K_SOFTMAX: {
        const struct tsr_k_softmax *s = &k->u.softmax;
        if (k->n_inputs != 1 || s->outer < 0 || s->axis_len < 0 || s->inner < 0)
            return TSR_ERR(ex->ctx, TSR_E_INVALID_ARG,
                           "kernel '%s': softmax needs 1 input and dims >= 0 (got %d inputs, "
                           "[%lld, %lld, %lld])",
                           k->name, k->n_inputs, (long long)s->outer, (long long)s->axis_len,
                           (long long)s->inner);
        if (!(src = tsr_cl_embedded_source(ex->ctx, "softmax.cl")))
            return tsr_last_error(ex->ctx)->status;
        st = make_kernel(ex, ek, "softmax", src, "tsr_softmax");
        if (st == TSR_OK) st = set_ref(ex, ek, 0, &ex->refs[k->inputs[0]]);
        if (st == TSR_OK) st = set_ref(ex, ek, 2, y);
        if (st == TSR_OK) st = set_ulong(ex, ek, 4, s->outer);
        if (st == TSR_OK) st = set_ulong(ex, ek, 5, s->axis_len);
        if (st == TSR_OK) st = set_ulong(ex, ek, 6, s->inner);
        if (st == TSR_OK) st = set_int(ex, ek, 7, s->mode);
        ek->global = s->axis_len > 0 ? (size_t)(s->outer * s->inner) : 0;
        break;
    }
    case TSR_K_COPY:
        if (k->n_inputs != 1 || k->u.copy.n < 0)
            return TSR_ERR(ex->ctx, TSR_E_INVALID_ARG, "kernel '%s': copy needs 1 input, n >= 0",
                           k->name);
        if (!(src = tsr_cl_embedded_source(ex->ctx, "copy.cl")))
            return tsr_last_error(ex->ctx)->status;
        if (k->dtype == TSR_F32) {
            st = make_kernel(ex, ek, "copy", src, "tsr_copy");
            if (st == TSR_OK) st = set_ref(ex, ek, 0, &ex->refs[k->inputs[0]]);
            if (st == TSR_OK) st = set_ref(ex, ek, 2, y);
            if (st == TSR_OK) st = set_ulong(ex, ek, 4, k->u.copy.n);
            ek->global = cap_items(k->u.copy.n);
        } else { /* any other dtype: a byte copy */
            int64_t nb = k->u.copy.n * (int64_t)tsr_dtype_size(k->dtype);
            st = make_kernel(ex, ek, "copy", src, "tsr_copy_bytes");
            if (st == TSR_OK) st = set_ref(ex, ek, 0, &ex->refs[k->inputs[0]]);
            if (st == TSR_OK) st = set_ref(ex, ek, 2, y);
            if (st == TSR_OK) st = set_ulong(ex, ek, 4, nb);
            ek->global = cap_items(nb);
        }
        break;
    case TSR_K_GEMM: {
        int hc = k->u.gemm.has_c ? 1 : 0, hr = k->u.gemm.has_residual ? 1 : 0;
        if (k->n_inputs < 2 + hc + hr)
            return TSR_ERR(ex->ctx, TSR_E_INVALID_ARG, "kernel '%s': GEMM needs %d inputs, has %d",
                           k->name, 2 + hc + hr, k->n_inputs);
        ek->gemm.a = ex->refs[k->inputs[0]];
        ek->gemm.b = ex->refs[k->inputs[1]];
        if (hc) ek->gemm.c = ex->refs[k->inputs[2]];
        if (hr) ek->gemm.r = ex->refs[k->inputs[2 + hc]];
        ek->gemm.y = *y;
        st = tsr_cl_gemm_prepare(ex->ctx, ex->dev, k, &ek->gemm);
        break;
    }
    case TSR_K_GATHER: /* group "tkern": kernels of any dtype (cl_data.c) */
    case TSR_K_SLICE:
    case TSR_K_CAST:
    case TSR_K_MIXED:
    case TSR_K_PAD:
    case TSR_K_INDEX: { /* group "index" */
        struct tsr_cl_ref in[TSR_KERNEL_MAX_INPUTS];
        for (int i = 0; i < k->n_inputs; i++)
            in[i] = ex->refs[k->inputs[i]];
        struct tsr_cl_launch l;
        st = tsr_cl_data_prepare(ex->ctx, ex->dev, prog, k, in, y,
                                 ex->flag_block ? &ex->flag : NULL, &l);
        ek->kernel = l.kernel;
        ek->global = l.global;
        break;
    }
    case TSR_K_CONV:
    case TSR_K_POOL:
    case TSR_K_REDUCE:
    case TSR_K_TRANSPOSE:
    case TSR_K_CONCAT:
    case TSR_K_ARG:
    case TSR_K_CUMSUM:
    case TSR_K_NLL: /* group "multiout" */
    case TSR_K_LAYERNORM: {
        struct tsr_cl_ref in[TSR_KERNEL_MAX_INPUTS];
        for (int i = 0; i < k->n_inputs; i++)
            in[i] = ex->refs[k->inputs[i]];
        if (k->kind == TSR_K_CONV) {
            st = tsr_cl_conv_prepare(ex->ctx, ex->dev, k, in, y, &ek->conv);
            break;
        }
        struct tsr_cl_launch l;
        st = tsr_cl_launch_prepare(ex->ctx, ex->dev, k, in, y, &l);
        ek->kernel = l.kernel;
        ek->global = l.global;
        ek->local = l.local;
        break;
    }
    default:
        return TSR_ERR(ex->ctx, TSR_E_UNSUPPORTED, "kernel '%s': unknown kernel kind %d", k->name,
                       (int)k->kind);
    }
    free(src);
    return st;
}

/* Dtypes the OpenCL kernels exist for, per kernel kind (program.h): float32 for the float kinds;
 * every dtype for COPY (a byte copy, kernels_cl/copy.cl) and the kinds of cl_data.c (GATHER,
 * SLICE, CAST, MIXED, PAD; float64 arithmetic needs cl_khr_fp64, checked at prepare). The vtable
 * member kernel_dtypes: prepare and the default supports share it. */
static tsr_dtype_set cl_kernel_dtypes(tsr_kernel_kind kind) {
    switch (kind) {
    case TSR_K_COPY:
    case TSR_K_GATHER: /* group "tkern" */
    case TSR_K_SLICE:
    case TSR_K_CAST:
    case TSR_K_MIXED:
    case TSR_K_PAD:
    case TSR_K_INDEX: /* group "index" */
        return TSR_DTS_ALL_BUFFERS;
    case TSR_K_CUMSUM: /* zoo2: CumSum also on int64 / int32 (reduce.cl) */
        return TSR_DTYPE_BIT(TSR_F32) | TSR_DTYPE_BIT(TSR_I64) | TSR_DTYPE_BIT(TSR_I32);
    case TSR_K_QUANT: /* issue 13: no OpenCL kernel yet; the default supports refuses it, so a
                         plan places it on the CPU */
        return 0;
    case TSR_K_EW: /* group "dtcompute": typed generated regions (cl_codegen.c) */
        return TSR_DTYPE_BIT(TSR_F32) | TSR_DTYPE_BIT(TSR_F64) | TSR_DTYPE_BIT(TSR_F16) |
               TSR_DTYPE_BIT(TSR_I64) | TSR_DTYPE_BIT(TSR_I32) | TSR_DTYPE_BIT(TSR_I8) |
               TSR_DTYPE_BIT(TSR_U8) | TSR_DTYPE_BIT(TSR_I16) | TSR_DTYPE_BIT(TSR_U16) |
               TSR_DTYPE_BIT(TSR_U32);
    default:
        return TSR_DTYPE_BIT(TSR_F32);
    }
}

static tsr_status cl_prepare(tsr_context *ctx, int device, const struct tsr_program *prog,
                             void **exec) {
    if (!prog || !exec) return TSR_ERR(ctx, TSR_E_INVALID_ARG, "OpenCL prepare: NULL program");
    /* Kernel dtypes: refuse a kernel in a dtype the OpenCL backend has no kernel for. */
    tsr_status dst = tsr_program_check_dtypes(ctx, "opencl", prog, cl_kernel_dtypes);
    if (dst != TSR_OK) return dst;
    struct tsr_cl_device *dev;
    tsr_status st = tsr_cl_device_ready(ctx, device, &dev);
    if (st != TSR_OK) return st;
    struct cl_exec *ex = calloc(1, sizeof *ex);
    if (!ex) return TSR_ERR(ctx, TSR_E_NOMEM, "OpenCL prepare: out of host memory");
    ex->ctx = ctx;
    ex->dev = dev;
    ex->prog = prog;
    size_t nb = prog->n_buffers > 0 ? (size_t)prog->n_buffers : 1;
    size_t nk = prog->n_kernels > 0 ? (size_t)prog->n_kernels : 1;
    ex->blocks = calloc(nb, sizeof *ex->blocks);
    ex->refs = calloc(nb, sizeof *ex->refs);
    ex->kernels = calloc(nk, sizeof *ex->kernels);
    ex->recs = calloc((size_t)prog->n_inputs + (size_t)prog->n_outputs + nk, sizeof *ex->recs);
    if (!ex->blocks || !ex->refs || !ex->kernels || !ex->recs) {
        cl_release(ex);
        return TSR_ERR(ctx, TSR_E_NOMEM, "OpenCL prepare: out of host memory");
    }
    /* Always a real arena block, even of zero bytes (every intermediate empty: zero-size
     * tensors are valid, ONNX): kernels are given a cl_mem, never NULL. */
    if ((st = tsr_cl_pool_alloc(ctx, dev, prog->arena_bytes ? prog->arena_bytes : 64,
                                &ex->arena)) != TSR_OK)
        goto fail;
    for (int i = 0; i < prog->n_buffers; i++) {
        const struct tsr_buffer *b = &prog->buffers[i];
        if (b->kind == TSR_BUF_TEMP) {
            if (!ex->arena || b->offset + b->bytes > prog->arena_bytes) {
                st = TSR_ERR(ctx, TSR_E_INVALID_ARG,
                             "OpenCL prepare: temp buffer %d [%zu, +%zu) outside the arena of %zu "
                             "bytes",
                             i, b->offset, b->bytes, prog->arena_bytes);
                goto fail;
            }
            ex->refs[i].mem = ex->arena->mem;
            ex->refs[i].offset = b->offset;
            continue;
        }
        if ((st = tsr_cl_pool_alloc(ctx, dev, b->bytes, &ex->blocks[i])) != TSR_OK) goto fail;
        ex->refs[i].mem = ex->blocks[i]->mem;
        ex->refs[i].offset = 0;
        if (b->kind == TSR_BUF_CONST && b->bytes > 0) {
            if (!b->const_data) {
                st = TSR_ERR(ctx, TSR_E_INVALID_ARG,
                             "OpenCL prepare: constant buffer %d has no data", i);
                goto fail;
            }
            uint64_t t0 = tsr_now_ns();
            cl_int err = clEnqueueWriteBuffer(dev->queue, ex->blocks[i]->mem, CL_TRUE, 0, b->bytes,
                                              b->const_data, 0, NULL, NULL);
            err = tsr_cl_fault_enqueue(err, NULL); /* TSR_FAULT=cl_enqueue:N */
            if (err != CL_SUCCESS) {
                st = TSR_ERR_CL(ctx, tsr_cl_status(err), err,
                                "OpenCL prepare: uploading constant buffer %d (%zu bytes): %s (%d)",
                                i, b->bytes, tsr_cl_error_name(err), (int)err);
                goto fail;
            }
            if (tsr_prof_enabled(ctx))
                tsr_prof_add(ctx, TSR_EVENT_TRANSFER, "upload_const", "", dev->id, 0, t0,
                             tsr_now_ns(), b->bytes, 0);
        }
    }
    for (int i = 0; i < prog->n_kernels; i++)
        if ((prog->kernels[i].kind == TSR_K_GATHER || prog->kernels[i].kind == TSR_K_INDEX) &&
            !ex->flag_block) {
            if ((st = tsr_cl_pool_alloc(ctx, dev, 64, &ex->flag_block)) != TSR_OK) goto fail;
            ex->flag.mem = ex->flag_block->mem;
            ex->flag.offset = 0;
        }
    for (int i = 0; i < prog->n_kernels; i++) {
        ex->kernels[i].k = &prog->kernels[i];
        if ((st = prepare_kernel(ex, &ex->kernels[i])) != TSR_OK) goto fail;
    }
    *exec = ex;
    return TSR_OK;
fail:
    cl_release(ex);
    return st;
}

/* Enqueues kernel ek; fills rec->first/last when `prof`. */
static tsr_status enqueue_kernel(struct cl_exec *ex, struct cl_exec_kernel *ek, int prof,
                                 struct cl_rec *rec) {
    const struct tsr_kernel *k = ek->k;
    struct tsr_cl_device *dev = ex->dev;
    cl_int err;
    if (k->kind == TSR_K_GEMM || k->kind == TSR_K_CONV) { /* several commands, one record */
        if (prof) {
            err = clEnqueueMarkerWithWaitList(dev->queue, 0, NULL, &rec->first);
            if (err != CL_SUCCESS)
                return TSR_ERR_CL(ex->ctx, tsr_cl_status(err), err,
                                  "kernel '%s': clEnqueueMarkerWithWaitList: %s (%d)", k->name,
                                  tsr_cl_error_name(err), (int)err);
            rec->first_is_marker = 1;
        }
        if (k->kind == TSR_K_CONV)
            return tsr_cl_conv_enqueue(ex->ctx, dev, &ek->conv, k->name, prof ? &rec->last : NULL);
        return tsr_cl_gemm_enqueue(ex->ctx, dev, &ek->gemm, k->name, prof ? &rec->last : NULL);
    }
    if (ek->global == 0) return TSR_OK;
    err = clEnqueueNDRangeKernel(dev->queue, ek->kernel, 1, NULL, &ek->global,
                                 ek->local ? &ek->local : NULL, 0, NULL, prof ? &rec->first : NULL);
    err = tsr_cl_fault_enqueue(err, NULL); /* TSR_FAULT=cl_enqueue:N */
    if (err != CL_SUCCESS)
        return TSR_ERR_CL(ex->ctx, tsr_cl_status(err), err,
                          "kernel '%s': clEnqueueNDRangeKernel: %s (%d)", k->name,
                          tsr_cl_error_name(err), (int)err);
    return TSR_OK;
}

/* Turns the events of rec into one profiler record and releases them. */
static void emit_record(struct cl_exec *ex, struct cl_rec *r) {
    cl_event first = r->first ? r->first : r->last, last = r->last ? r->last : r->first;
    if (first && last) {
        cl_ulong s = 0, e = 0;
        cl_int err = clGetEventProfilingInfo(
            first, r->first_is_marker ? CL_PROFILING_COMMAND_END : CL_PROFILING_COMMAND_START,
            sizeof s, &s, NULL);
        if (err == CL_SUCCESS)
            err = clGetEventProfilingInfo(last, CL_PROFILING_COMMAND_END, sizeof e, &e, NULL);
        if (err == CL_SUCCESS) {
            uint64_t hs = tsr_cl_device_to_host_ns(ex->dev, s);
            uint64_t he = tsr_cl_device_to_host_ns(ex->dev, e);
            tsr_prof_add(ex->ctx, r->kind, r->name, r->nodes ? r->nodes : "", ex->dev->id, 0, hs,
                         he < hs ? hs : he, r->bytes, r->flops);
        }
    }
    if (r->first) clReleaseEvent(r->first);
    if (r->last) clReleaseEvent(r->last);
    r->first = r->last = NULL;
    r->first_is_marker = 0;
}

static tsr_status cl_execute(void *exec, const struct tsr_tensor *inputs,
                             struct tsr_tensor *outputs) {
    struct cl_exec *ex = exec;
    if (!ex) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "OpenCL execute: NULL executable");
    const struct tsr_program *prog = ex->prog;
    struct tsr_cl_device *dev = ex->dev;
    tsr_context *ctx = ex->ctx;
    int prof = tsr_prof_enabled(ctx);
    tsr_status st = TSR_OK;
    int nrec = 0;
    pthread_mutex_lock(&dev->exec_lock);
    for (int i = 0; i < prog->n_inputs; i++) {
        int bi = prog->input_buffers[i];
        const struct tsr_buffer *b = &prog->buffers[bi];
        if (b->bytes == 0) continue;
        struct cl_rec *r = &ex->recs[nrec++];
        *r = (struct cl_rec){.kind = TSR_EVENT_TRANSFER, .name = "write_input", .bytes = b->bytes};
        cl_int err =
            clEnqueueWriteBuffer(dev->queue, ex->refs[bi].mem, CL_FALSE, ex->refs[bi].offset,
                                 b->bytes, inputs[i].data, 0, NULL, prof ? &r->first : NULL);
        err = tsr_cl_fault_enqueue(err, NULL); /* TSR_FAULT=cl_enqueue:N */
        if (err != CL_SUCCESS) {
            st = TSR_ERR_CL(ctx, tsr_cl_status(err), err,
                            "OpenCL execute: clEnqueueWriteBuffer(input %d, %zu bytes): %s (%d)", i,
                            b->bytes, tsr_cl_error_name(err), (int)err);
            goto finish;
        }
    }
    if (ex->flag_block) { /* Gather index errors: zeroed before the kernels, read after */
        static const cl_int zero = 0;
        ex->flag_host = 0;
        cl_int err = clEnqueueWriteBuffer(dev->queue, ex->flag.mem, CL_FALSE, 0, sizeof zero, &zero,
                                          0, NULL, NULL);
        if (err != CL_SUCCESS) {
            st = TSR_ERR_CL(ctx, tsr_cl_status(err), err,
                            "OpenCL execute: clEnqueueWriteBuffer(gather flag): %s (%d)",
                            tsr_cl_error_name(err), (int)err);
            goto finish;
        }
    }
    for (int i = 0; i < prog->n_kernels; i++) {
        struct cl_exec_kernel *ek = &ex->kernels[i];
        struct cl_rec *r = &ex->recs[nrec++];
        *r = (struct cl_rec){.kind = TSR_EVENT_KERNEL,
                             .name = ek->k->name,
                             .nodes = ek->k->nodes,
                             .bytes = ek->k->bytes,
                             .flops = ek->k->flops};
        if ((st = enqueue_kernel(ex, ek, prof, r)) != TSR_OK) goto finish;
    }
    for (int i = 0; i < prog->n_outputs; i++) {
        int bi = prog->output_buffers[i];
        const struct tsr_buffer *b = &prog->buffers[bi];
        if (b->bytes == 0) continue;
        struct cl_rec *r = &ex->recs[nrec++];
        *r = (struct cl_rec){.kind = TSR_EVENT_TRANSFER, .name = "read_output", .bytes = b->bytes};
        cl_int err =
            clEnqueueReadBuffer(dev->queue, ex->refs[bi].mem, CL_FALSE, ex->refs[bi].offset,
                                b->bytes, outputs[i].data, 0, NULL, prof ? &r->first : NULL);
        err = tsr_cl_fault_enqueue(err, NULL); /* TSR_FAULT=cl_enqueue:N */
        if (err != CL_SUCCESS) {
            st = TSR_ERR_CL(ctx, tsr_cl_status(err), err,
                            "OpenCL execute: clEnqueueReadBuffer(output %d, %zu bytes): %s (%d)", i,
                            b->bytes, tsr_cl_error_name(err), (int)err);
            goto finish;
        }
    }
    if (ex->flag_block) {
        cl_int err = clEnqueueReadBuffer(dev->queue, ex->flag.mem, CL_FALSE, 0,
                                         sizeof ex->flag_host, &ex->flag_host, 0, NULL, NULL);
        if (err != CL_SUCCESS) {
            st = TSR_ERR_CL(ctx, tsr_cl_status(err), err,
                            "OpenCL execute: clEnqueueReadBuffer(gather flag): %s (%d)",
                            tsr_cl_error_name(err), (int)err);
            goto finish;
        }
    }
finish:;
    /* Always drain the queue: host buffers passed to non-blocking transfers must not be touched
     * by the device after we return, error or not. */
    cl_int err = clFinish(dev->queue);
    if (err != CL_SUCCESS && st == TSR_OK)
        st = TSR_ERR_CL(ctx, tsr_cl_status(err), err, "OpenCL execute: clFinish: %s (%d)",
                        tsr_cl_error_name(err), (int)err);
    if (st == TSR_OK && ex->flag_block && ex->flag_host) {
        char nodes[256] = "";
        size_t len = 0;
        for (int i = 0; i < prog->n_kernels && len + 1 < sizeof nodes; i++)
            if (prog->kernels[i].kind == TSR_K_GATHER || prog->kernels[i].kind == TSR_K_INDEX)
                len += (size_t)snprintf(nodes + len, sizeof nodes - len, "%s'%s'", len ? ", " : "",
                                        prog->kernels[i].nodes ? prog->kernels[i].nodes : "");
        st = TSR_ERR(ctx, TSR_E_INVALID_ARG,
                     "node %s (Gather or an indexing op): an index out of range of its axis "
                     "(opencl %s)",
                     nodes, dev->id);
    }
    for (int i = 0; i < nrec; i++) {
        if (prof && st == TSR_OK)
            emit_record(ex, &ex->recs[i]);
        else {
            if (ex->recs[i].first) clReleaseEvent(ex->recs[i].first);
            if (ex->recs[i].last) clReleaseEvent(ex->recs[i].last);
            ex->recs[i].first = ex->recs[i].last = NULL;
        }
    }
    pthread_mutex_unlock(&dev->exec_lock);
    return st;
}

static void cl_release(void *p) {
    struct cl_exec *ex = p;
    if (!ex) return;
    if (ex->kernels && ex->prog)
        for (int i = 0; i < ex->prog->n_kernels; i++) {
            if (ex->kernels[i].kernel) clReleaseKernel(ex->kernels[i].kernel);
            tsr_cl_gemm_release(&ex->kernels[i].gemm);
            tsr_cl_conv_release(&ex->kernels[i].conv);
        }
    if (ex->blocks && ex->prog)
        for (int i = 0; i < ex->prog->n_buffers; i++)
            tsr_cl_pool_free(ex->dev, ex->blocks[i]);
    tsr_cl_pool_free(ex->dev, ex->arena);
    tsr_cl_pool_free(ex->dev, ex->flag_block);
    free(ex->kernels);
    free(ex->blocks);
    free(ex->refs);
    free(ex->recs);
    free(ex);
}

/* ---- the vtable (runtime/backend.h) ---------------------------------------------------- */

static tsr_status cl_create(tsr_context *ctx, const struct tsr_context_options *opts,
                            void **state) {
    struct tsr_opencl_backend *ocl = NULL;
    tsr_status st = tsr_opencl_backend_create(ctx, &ocl);
    if (st == TSR_OK) *state = ocl;
    return st;
}

static void cl_destroy(void *state) {
    tsr_opencl_backend_destroy(state);
}

static int cl_device_count(const void *state) {
    return tsr_opencl_device_count(state);
}

static void cl_ops_device_info(void *state, tsr_context *ctx, int device,
                               struct tsr_device_info *out) {
    tsr_opencl_device_info(state, ctx, device, out);
}

static tsr_status cl_pool_stats(void *state, int device, struct tsr_pool_stats *out) {
    return tsr_opencl_pool_stats(state, device, out);
}

static tsr_status cl_pool_trim(void *state, int device, uint64_t keep, uint64_t *released) {
    return tsr_opencl_pool_trim(state, device, keep, released);
}

static tsr_status cl_calibrate(tsr_context *ctx, void *state, int device,
                               struct tsr_calibration *out) {
    return tsr_calib_measure_opencl(ctx, device, out);
}

static const char *cl_native_status_name(int code) {
    return tsr_cl_error_name((cl_int)code);
}

const struct tsr_backend_ops tsr_opencl_backend_ops = {
    .name = "opencl",
    .host_memory = 0,
    .single_device = 0,
    .create = cl_create,
    .destroy = cl_destroy,
    .device_count = cl_device_count,
    .device_info = cl_ops_device_info,
    .prepare = cl_prepare,
    .execute = cl_execute,
    .release = cl_release,
    .display_name = "OpenCL",
    .pool_stats = cl_pool_stats,
    .pool_trim = cl_pool_trim,
    .kernel_dtypes = cl_kernel_dtypes,
    /* supports: the dtype check (default) */
    .calibrate = cl_calibrate,
    .native_status_name = cl_native_status_name,
};
