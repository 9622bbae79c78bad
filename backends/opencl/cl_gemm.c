/*
 * cl_gemm.c — struct tsr_k_gemm on OpenCL: the product through CLBlast's C API (row-major,
 * element offsets, on the device's own queue), then kernels_cl/epilogue.cl for beta*C and the
 * activation.
 *
 * The epilogue adds beta*C and the residual R (inputs[2 + has_c], contiguous like Y) and applies
 * the activation (act_p0/act_p1 for LeakyRelu alpha and Clip bounds), in that order.
 * CLBlast computes Y = alpha * A' * B' (its beta = 0, so Y need not be initialised); batches use
 * CLBlastSgemmStridedBatched when both operands advance per batch, otherwise one CLBlastSgemm per
 * batch (a shared operand has stride 0, which the strided call does not describe portably).
 * K == 0 gives Y = 0 (clEnqueueFillBuffer) before the epilogue, as the sum is empty.
 * CLBlast compiles its kernels once per process and context (slow the very first time on PoCL;
 * its own cache keeps them afterwards) — CLBlastClearCache is never called here.
 */
#include "backends/opencl/cl_fault.h"
#include "backends/opencl/cl_internal.h"

#include <clblast_c.h>
#include <stdio.h>
#include <stdlib.h>

/* Epilogue global size cap (work-items); the kernel loops over the rest (grid-stride). */
#define TSR_CL_EPI_MAX_ITEMS ((size_t)1 << 20)

/* Maps a CLBlast status to a tessera status: memory-type failures → TSR_E_DEVICE_NOMEM. */
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

#define CL_TRY_SET(idx, val)                                                                       \
    do {                                                                                           \
        cl_int e_ = clSetKernelArg(gm->epilogue, (idx), sizeof(val), &(val));                      \
        if (e_ != CL_SUCCESS)                                                                      \
            return TSR_ERR_CL(ctx, TSR_E_DEVICE, e_,                                               \
                              "kernel '%s': clSetKernelArg(epilogue, %d): %s (%d)", k->name,       \
                              (idx), tsr_cl_error_name(e_), (int)e_);                              \
    } while (0)

tsr_status tsr_cl_gemm_prepare(tsr_context *ctx, struct tsr_cl_device *dev,
                               const struct tsr_kernel *k, struct tsr_cl_gemm *gm) {
    const struct tsr_k_gemm *g = &k->u.gemm;
    if (g->batch < 0 || g->M < 0 || g->N < 0 || g->K < 0 || g->lda < 0 || g->ldb < 0)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                       "kernel '%s': bad GEMM geometry batch %lld M %lld N %lld K %lld", k->name,
                       (long long)g->batch, (long long)g->M, (long long)g->N, (long long)g->K);
    gm->g = g;
    gm->epilogue = NULL;
    if (!g->has_c && !g->has_residual && g->act == TSR_ACT_NONE) return TSR_OK;
    char *src = tsr_cl_embedded_source(ctx, "epilogue.cl");
    if (!src) return tsr_last_error(NULL)->status;
    tsr_status st = tsr_cl_kernel_get(ctx, dev, "gemm_epilogue", src, "-cl-std=CL1.2",
                                      "tsr_gemm_epilogue", k->name, &gm->epilogue);
    free(src);
    if (st != TSR_OK) return st;
    cl_ulong y_off = gm->y.offset / sizeof(float);
    cl_mem cmem = g->has_c ? gm->c.mem : gm->y.mem;
    cl_ulong c_off = g->has_c ? gm->c.offset / sizeof(float) : 0;
    cl_ulong batch = (cl_ulong)g->batch, M = (cl_ulong)g->M, N = (cl_ulong)g->N;
    cl_ulong csb = (cl_ulong)g->c_stride_b, csm = (cl_ulong)g->c_stride_m,
             csn = (cl_ulong)g->c_stride_n;
    cl_float beta = g->beta;
    cl_int has_c = g->has_c ? 1 : 0, act = (cl_int)g->act, has_r = g->has_residual ? 1 : 0;
    cl_mem rmem = g->has_residual ? gm->r.mem : gm->y.mem;
    cl_ulong r_off = g->has_residual ? gm->r.offset / sizeof(float) : 0;
    cl_float p0 = g->act_p0, p1 = g->act_p1;
    CL_TRY_SET(0, gm->y.mem);
    CL_TRY_SET(1, y_off);
    CL_TRY_SET(2, cmem);
    CL_TRY_SET(3, c_off);
    CL_TRY_SET(4, batch);
    CL_TRY_SET(5, M);
    CL_TRY_SET(6, N);
    CL_TRY_SET(7, csb);
    CL_TRY_SET(8, csm);
    CL_TRY_SET(9, csn);
    CL_TRY_SET(10, beta);
    CL_TRY_SET(11, has_c);
    CL_TRY_SET(12, rmem);
    CL_TRY_SET(13, r_off);
    CL_TRY_SET(14, has_r);
    CL_TRY_SET(15, act);
    CL_TRY_SET(16, p0);
    CL_TRY_SET(17, p1);
    size_t total = (size_t)(batch * M * N);
    gm->epi_global = total < TSR_CL_EPI_MAX_ITEMS ? total : TSR_CL_EPI_MAX_ITEMS;
    return TSR_OK;
}

/* Keeps the newest event in *last (releasing the previous one). */
tsr_status tsr_cl_gemm_enqueue(tsr_context *ctx, struct tsr_cl_device *dev,
                               const struct tsr_cl_gemm *gm, const char *name,
                               cl_event *last_event) {
    const struct tsr_k_gemm *g = gm->g;
    cl_event last = NULL;
    tsr_status st = TSR_OK;
    size_t total = (size_t)(g->batch * g->M * g->N);
    if (total == 0) goto done;
    const size_t fs = sizeof(float);
    if (g->K == 0) {
        cl_float zero = 0.0f;
        cl_event ev = NULL;
        cl_int err = clEnqueueFillBuffer(dev->queue, gm->y.mem, &zero, sizeof zero, gm->y.offset,
                                         total * fs, 0, NULL, &ev);
        if (err != CL_SUCCESS) {
            st = TSR_ERR_CL(ctx, tsr_cl_status(err), err,
                            "kernel '%s': clEnqueueFillBuffer (K = 0): %s (%d)", name,
                            tsr_cl_error_name(err), (int)err);
            goto done;
        }
        tsr_cl_keep_event(&last, ev);
    } else {
        CLBlastTranspose ta = g->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
        CLBlastTranspose tb = g->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
        size_t M = (size_t)g->M, N = (size_t)g->N, K = (size_t)g->K;
        size_t a_off = gm->a.offset / fs, b_off = gm->b.offset / fs, y_off = gm->y.offset / fs;
        cl_command_queue q = dev->queue;
        if (g->batch > 1 && g->stride_a != 0 && g->stride_b != 0) {
            cl_event ev = NULL;
            CLBlastStatusCode s = CLBlastSgemmStridedBatched(
                CLBlastLayoutRowMajor, ta, tb, M, N, K, g->alpha, gm->a.mem, a_off, (size_t)g->lda,
                (size_t)g->stride_a, gm->b.mem, b_off, (size_t)g->ldb, (size_t)g->stride_b, 0.0f,
                gm->y.mem, y_off, N, M * N, (size_t)g->batch, &q, &ev);
            s = (CLBlastStatusCode)tsr_cl_fault_enqueue((cl_int)s, &ev); /* TSR_FAULT */
            if (s != CLBlastSuccess) {
                st = TSR_ERR_CL(ctx, clblast_status(s), (int)s,
                                "kernel '%s': CLBlastSgemmStridedBatched failed: CLBlast status "
                                "%d (M %zu N %zu K %zu batch %lld)",
                                name, (int)s, M, N, K, (long long)g->batch);
                goto done;
            }
            tsr_cl_keep_event(&last, ev);
        } else {
            for (int64_t b = 0; b < g->batch; b++) {
                cl_event ev = NULL;
                CLBlastStatusCode s =
                    CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, M, N, K, g->alpha, gm->a.mem,
                                 a_off + (size_t)(b * g->stride_a), (size_t)g->lda, gm->b.mem,
                                 b_off + (size_t)(b * g->stride_b), (size_t)g->ldb, 0.0f, gm->y.mem,
                                 y_off + (size_t)b * M * N, N, &q, &ev);
                s = (CLBlastStatusCode)tsr_cl_fault_enqueue((cl_int)s, &ev); /* TSR_FAULT */
                if (s != CLBlastSuccess) {
                    st = TSR_ERR_CL(ctx, clblast_status(s), (int)s,
                                    "kernel '%s': CLBlastSgemm failed: CLBlast status %d (M %zu N "
                                    "%zu K %zu, batch %lld of %lld)",
                                    name, (int)s, M, N, K, (long long)b, (long long)g->batch);
                    goto done;
                }
                tsr_cl_keep_event(&last, ev);
            }
        }
    }
    if (gm->epilogue)
        st = tsr_cl_enqueue_1d(ctx, dev->queue, gm->epilogue, &gm->epi_global, name, "epilogue",
                               &last);
done:
    if (st == TSR_OK && last_event)
        *last_event = last;
    else if (last)
        clReleaseEvent(last);
    return st;
}

void tsr_cl_gemm_release(struct tsr_cl_gemm *gm) {
    if (gm && gm->epilogue) {
        clReleaseKernel(gm->epilogue);
        gm->epilogue = NULL;
    }
}
