/*
 * cl_conv.c — struct tsr_k_conv on OpenCL (see struct tsr_cl_conv in cl_internal.h for the two
 * strategies).
 *
 * Why im2col + GEMM for ordinary convolutions: the product W_g[Mg, Cg*KH*KW] · col[Cg*KH*KW,
 * OH*OW] is where the FLOPs are, and CLBlast's tuned GEMM beats a hand-written direct kernel by a
 * wide margin on every device it was tuned for; im2col costs one extra write+read of KH*KW times
 * the input, small next to the GEMM for C, M >= 8. For depthwise-like convolutions (Cg == 1 or
 * Mg == 1) the GEMM degenerates (K = KH*KW or M = 1, memory bound) and the direct kernel, which
 * reads each input once per output and fuses the epilogue, is faster and needs no scratch.
 *
 * The im2col scratch holds ONE image (C*KH*KW*OH*OW floats); images are processed in order on the
 * in-order queue, so it is reused. It is taken from the device pool at prepare and returned at
 * release: execute allocates nothing. The image index reaches tsr_im2col as get_global_id(1)
 * through the global work offset, so no argument changes between enqueues.
 */
#include "backends/opencl/cl_fault.h"
#include "backends/opencl/cl_internal.h"

#include <clblast_c.h>
#include <stdlib.h>
#include <string.h>

#define TSR_CL_CONV_MAX_ITEMS ((size_t)1 << 20)
#define TSR_CL_CONV_OPTIONS   "-cl-std=CL1.2"

static size_t cap_items(int64_t n) {
    return (uint64_t)n < TSR_CL_CONV_MAX_ITEMS ? (size_t)n : TSR_CL_CONV_MAX_ITEMS;
}

static tsr_status clblast_status(CLBlastStatusCode s) {
    switch (s) {
    case CLBlastTempBufferAllocFailure:
    case CLBlastOpenCLOutOfResources:
    case CLBlastOpenCLOutOfHostMemory:
    case CLBlastInsufficientMemoryTemp:
        return TSR_E_DEVICE_NOMEM;
    default:
        return TSR_E_DEVICE;
    }
}

/* Builds embedded `file` and creates kernel `fn`. */
static tsr_status kernel_from(tsr_context *ctx, struct tsr_cl_device *dev,
                              const struct tsr_kernel *k, const char *file, const char *label,
                              const char *fn, cl_kernel *out) {
    char *src = tsr_cl_embedded_source(ctx, file);
    if (!src) return tsr_last_error(NULL)->status;
    tsr_status st = tsr_cl_kernel_get(ctx, dev, label, src, TSR_CL_CONV_OPTIONS, fn, k->name, out);
    free(src);
    return st;
}

static tsr_status cargs_status(tsr_context *ctx, const struct tsr_kernel *k, const char *fn,
                               const struct tsr_cl_args *a) {
    if (a->err == CL_SUCCESS) return TSR_OK;
    return TSR_ERR_CL(ctx, TSR_E_DEVICE, a->err, "kernel '%s': clSetKernelArg(%s, %u): %s (%d)",
                      k->name, fn, a->failed_at, tsr_cl_error_name(a->err), (int)a->err);
}

/* Geometry the kernels cannot run: OH/OW are taken as given (both kernels bound-check every input
 * position, so no OH/OW can make them read outside X). */
static int bad_geometry(const struct tsr_k_conv *c) {
    return c->N < 0 || c->C < 1 || c->H < 0 || c->W < 0 || c->M < 1 || c->OH < 0 || c->OW < 0 ||
           c->KH < 1 || c->KW < 1 || c->stride_h < 1 || c->stride_w < 1 || c->dil_h < 1 ||
           c->dil_w < 1 || c->pad_t < 0 || c->pad_l < 0 || c->group < 1 || c->C % c->group ||
           c->M % c->group || c->act < TSR_ACT_NONE || c->act > TSR_ACT_LAST;
}

tsr_status tsr_cl_conv_prepare(tsr_context *ctx, struct tsr_cl_device *dev,
                               const struct tsr_kernel *k, const struct tsr_cl_ref *in,
                               const struct tsr_cl_ref *y, struct tsr_cl_conv *cv) {
    const struct tsr_k_conv *c = &k->u.conv;
    memset(cv, 0, sizeof *cv);
    cv->c = c;
    cv->dev = dev;
    if (bad_geometry(c))
        return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                       "kernel '%s': bad conv geometry X [%lld,%lld,%lld,%lld], W [%lld,%lld/%lld,"
                       "%lld,%lld], Y [.., %lld,%lld], strides %lld,%lld, pads %lld,%lld, "
                       "dilations %lld,%lld, act %d",
                       k->name, (long long)c->N, (long long)c->C, (long long)c->H, (long long)c->W,
                       (long long)c->M, (long long)c->C, (long long)c->group, (long long)c->KH,
                       (long long)c->KW, (long long)c->OH, (long long)c->OW, (long long)c->stride_h,
                       (long long)c->stride_w, (long long)c->pad_t, (long long)c->pad_l,
                       (long long)c->dil_h, (long long)c->dil_w, (int)c->act);
    int nin = 2 + (c->has_bias ? 1 : 0) + (c->has_residual ? 1 : 0);
    if (k->n_inputs < nin)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "kernel '%s': conv needs %d inputs, has %d", k->name,
                       nin, k->n_inputs);
    cv->x = in[0];
    cv->w = in[1];
    cv->y = *y;
    const struct tsr_cl_ref *bias = c->has_bias ? &in[2] : y; /* unread when absent */
    const struct tsr_cl_ref *res = c->has_residual ? &in[2 + (c->has_bias ? 1 : 0)] : y;
    int64_t Cg = c->C / c->group, Mg = c->M / c->group, P = c->OH * c->OW;
    int64_t total = c->N * c->M * P;
    cv->direct = Cg == 1 || Mg == 1;
    tsr_status st;
    if (cv->direct) {
        st = kernel_from(ctx, dev, k, "conv.cl", "conv.cl", "tsr_conv_direct", &cv->main);
        if (st != TSR_OK) return st;
        struct tsr_cl_args a = {cv->main, 0, CL_SUCCESS, 0};
        tsr_cl_arg_ref(&a, &cv->x);
        tsr_cl_arg_ref(&a, &cv->w);
        tsr_cl_arg_ref(&a, bias);
        tsr_cl_arg_ref(&a, res);
        tsr_cl_arg_ref(&a, y);
        tsr_cl_arg_ulong(&a, c->N);
        tsr_cl_arg_ulong(&a, c->C);
        tsr_cl_arg_long(&a, c->H);
        tsr_cl_arg_long(&a, c->W);
        tsr_cl_arg_ulong(&a, c->M);
        tsr_cl_arg_ulong(&a, c->OH);
        tsr_cl_arg_ulong(&a, c->OW);
        tsr_cl_arg_long(&a, c->KH);
        tsr_cl_arg_long(&a, c->KW);
        tsr_cl_arg_long(&a, c->stride_h);
        tsr_cl_arg_long(&a, c->stride_w);
        tsr_cl_arg_long(&a, c->pad_t);
        tsr_cl_arg_long(&a, c->pad_l);
        tsr_cl_arg_long(&a, c->dil_h);
        tsr_cl_arg_long(&a, c->dil_w);
        tsr_cl_arg_ulong(&a, c->group);
        tsr_cl_arg_int(&a, c->has_bias ? 1 : 0);
        tsr_cl_arg_int(&a, c->has_residual ? 1 : 0);
        tsr_cl_arg_int(&a, (int)c->act);
        tsr_cl_arg_float(&a, c->act_p0);
        tsr_cl_arg_float(&a, c->act_p1);
        cv->main_global = cap_items(total);
        return cargs_status(ctx, k, "tsr_conv_direct", &a);
    }
    int pointwise = c->KH == 1 && c->KW == 1 && c->stride_h == 1 && c->stride_w == 1 &&
                    c->pad_t == 0 && c->pad_l == 0 && c->OH == c->H && c->OW == c->W;
    if (!pointwise && total > 0) {
        int64_t rows = c->C * c->KH * c->KW;
        st = tsr_cl_pool_alloc(ctx, dev, (size_t)(rows * P) * sizeof(float), &cv->scratch);
        if (st == TSR_OK)
            st = kernel_from(ctx, dev, k, "conv.cl", "conv.cl", "tsr_im2col", &cv->main);
        if (st != TSR_OK) return st;
        struct tsr_cl_ref col = {cv->scratch->mem, 0};
        struct tsr_cl_args a = {cv->main, 0, CL_SUCCESS, 0};
        tsr_cl_arg_ref(&a, &cv->x);
        tsr_cl_arg_ref(&a, &col);
        tsr_cl_arg_ulong(&a, c->C);
        tsr_cl_arg_long(&a, c->H);
        tsr_cl_arg_long(&a, c->W);
        tsr_cl_arg_ulong(&a, c->OH);
        tsr_cl_arg_ulong(&a, c->OW);
        tsr_cl_arg_ulong(&a, c->KH);
        tsr_cl_arg_ulong(&a, c->KW);
        tsr_cl_arg_long(&a, c->stride_h);
        tsr_cl_arg_long(&a, c->stride_w);
        tsr_cl_arg_long(&a, c->pad_t);
        tsr_cl_arg_long(&a, c->pad_l);
        tsr_cl_arg_long(&a, c->dil_h);
        tsr_cl_arg_long(&a, c->dil_w);
        if ((st = cargs_status(ctx, k, "tsr_im2col", &a)) != TSR_OK) return st;
        cv->main_global = cap_items(rows * P);
    }
    if (c->has_bias || c->has_residual || c->act != TSR_ACT_NONE) {
        st = kernel_from(ctx, dev, k, "epilogue.cl", "gemm_epilogue", "tsr_gemm_epilogue",
                         &cv->epilogue);
        if (st != TSR_OK) return st;
        /* Y viewed as [batch = N, M, P]; bias as C with strides (0, 1, 0) and beta = 1. */
        struct tsr_cl_args a = {cv->epilogue, 0, CL_SUCCESS, 0};
        tsr_cl_arg_ref(&a, y);
        tsr_cl_arg_ref(&a, bias);
        tsr_cl_arg_ulong(&a, c->N);
        tsr_cl_arg_ulong(&a, c->M);
        tsr_cl_arg_ulong(&a, P);
        tsr_cl_arg_ulong(&a, 0);
        tsr_cl_arg_ulong(&a, 1);
        tsr_cl_arg_ulong(&a, 0);
        tsr_cl_arg_float(&a, 1.0f);
        tsr_cl_arg_int(&a, c->has_bias ? 1 : 0);
        tsr_cl_arg_ref(&a, res);
        tsr_cl_arg_int(&a, c->has_residual ? 1 : 0);
        tsr_cl_arg_int(&a, (int)c->act);
        tsr_cl_arg_float(&a, c->act_p0);
        tsr_cl_arg_float(&a, c->act_p1);
        if ((st = cargs_status(ctx, k, "tsr_gemm_epilogue", &a)) != TSR_OK) return st;
        cv->epi_global = cap_items(total);
    }
    return TSR_OK;
}

tsr_status tsr_cl_conv_enqueue(tsr_context *ctx, struct tsr_cl_device *dev,
                               const struct tsr_cl_conv *cv, const char *name,
                               cl_event *last_event) {
    const struct tsr_k_conv *c = cv->c;
    const size_t fs = sizeof(float);
    int64_t P = c->OH * c->OW;
    cl_event last = NULL;
    tsr_status st = TSR_OK;
    cl_int err;
    if (c->N * c->M * P == 0) goto done;
    if (cv->direct) {
        cl_event ev = NULL;
        err = clEnqueueNDRangeKernel(dev->queue, cv->main, 1, NULL, &cv->main_global, NULL, 0, NULL,
                                     &ev);
        err = tsr_cl_fault_enqueue(err, &ev); /* TSR_FAULT=cl_enqueue:N */
        if (err != CL_SUCCESS) {
            st = TSR_ERR_CL(ctx, tsr_cl_status(err), err,
                            "kernel '%s': clEnqueueNDRangeKernel(tsr_conv_direct): %s (%d)", name,
                            tsr_cl_error_name(err), (int)err);
            goto done;
        }
        tsr_cl_keep_event(&last, ev);
        goto done;
    }
    int64_t Cg = c->C / c->group, Mg = c->M / c->group, Kg = Cg * c->KH * c->KW;
    cl_command_queue q = dev->queue;
    for (int64_t n = 0; n < c->N; n++) {
        cl_mem bmem;
        size_t b_off;
        if (cv->main) {
            size_t off[2] = {0, (size_t)n}, gl[2] = {cv->main_global, 1};
            cl_event ev = NULL;
            err = clEnqueueNDRangeKernel(q, cv->main, 2, off, gl, NULL, 0, NULL, &ev);
            err = tsr_cl_fault_enqueue(err, &ev); /* TSR_FAULT=cl_enqueue:N */
            if (err != CL_SUCCESS) {
                st = TSR_ERR_CL(ctx, tsr_cl_status(err), err,
                                "kernel '%s': clEnqueueNDRangeKernel(tsr_im2col, image %lld): %s "
                                "(%d)",
                                name, (long long)n, tsr_cl_error_name(err), (int)err);
                goto done;
            }
            tsr_cl_keep_event(&last, ev);
            bmem = cv->scratch->mem;
            b_off = 0;
        } else { /* pointwise: image n is its own column matrix [C, H*W] */
            bmem = cv->x.mem;
            b_off = cv->x.offset / fs + (size_t)(n * c->C * P);
        }
        size_t a_off = cv->w.offset / fs, y_off = cv->y.offset / fs + (size_t)(n * c->M * P);
        cl_event ev = NULL;
        CLBlastStatusCode s;
        if (c->group == 1)
            s = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo,
                             (size_t)Mg, (size_t)P, (size_t)Kg, 1.0f, cv->w.mem, a_off, (size_t)Kg,
                             bmem, b_off, (size_t)P, 0.0f, cv->y.mem, y_off, (size_t)P, &q, &ev);
        else
            s = CLBlastSgemmStridedBatched(
                CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, (size_t)Mg,
                (size_t)P, (size_t)Kg, 1.0f, cv->w.mem, a_off, (size_t)Kg, (size_t)(Mg * Kg), bmem,
                b_off, (size_t)P, (size_t)(Kg * P), 0.0f, cv->y.mem, y_off, (size_t)P,
                (size_t)(Mg * P), (size_t)c->group, &q, &ev);
        s = (CLBlastStatusCode)tsr_cl_fault_enqueue((cl_int)s, &ev); /* TSR_FAULT */
        if (s != CLBlastSuccess) {
            st = TSR_ERR_CL(ctx, clblast_status(s), (int)s,
                            "kernel '%s': CLBlast GEMM of conv image %lld failed: CLBlast status "
                            "%d (M %lld N %lld K %lld groups %lld)",
                            name, (long long)n, (int)s, (long long)Mg, (long long)P, (long long)Kg,
                            (long long)c->group);
            goto done;
        }
        tsr_cl_keep_event(&last, ev);
    }
    if (cv->epilogue)
        st = tsr_cl_enqueue_1d(ctx, q, cv->epilogue, &cv->epi_global, name, "conv epilogue", &last);
done:
    if (st == TSR_OK && last_event)
        *last_event = last;
    else if (last)
        clReleaseEvent(last);
    return st;
}

void tsr_cl_conv_release(struct tsr_cl_conv *cv) {
    if (!cv) return;
    if (cv->main) clReleaseKernel(cv->main);
    if (cv->epilogue) clReleaseKernel(cv->epilogue);
    if (cv->scratch) tsr_cl_pool_free(cv->dev, cv->scratch);
    cv->main = cv->epilogue = NULL;
    cv->scratch = NULL;
}
