/*
 * peer_blas.c — GEMM peers called directly: OpenBLAS cblas_sgemm on the host and CLBlast
 * CLBlastSgemm on a private context/queue of the same OpenCL device (bench.h). Operands are
 * resident (no transfers timed): C[M,N] = A[M,K] B[K,N], row-major, alpha 1, beta 0.
 * CLBlast device time: from a profiled marker enqueued before the call (its end) to the end of
 * the event CLBlast returns (its last kernel), so helper kernels (padding, transposes) count.
 */
#include "bench.h"

#include <CL/cl.h>
#include <cblas.h>
#include <clblast_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct blas_work {
    int M, N, K;
    float *a, *b, *c;
};

static int openblas_call(void *arg, double *device_ms) {
    struct blas_work *w = arg;
    (void)device_ms;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, w->M, w->N, w->K, 1.f, w->a, w->K, w->b,
                w->N, 0.f, w->c, w->N);
    return 0;
}

static void gemm_row_init(struct tsr_bench_row *row, int M, int N, int K) {
    row->flops = 2.0 * M * N * K;
    row->bytes = 4.0 * ((double)M * K + (double)K * N + (double)M * N);
    snprintf(row->metric, sizeof row->metric, "GFLOP/s");
}

int tsr_bench_peer_openblas(struct tsr_bench_run *run, const char *suite, const char *name,
                            const char *shape, int M, int N, int K) {
    struct tsr_bench_row *row = tsr_bench_add_row(run, suite, name, "openblas", "cpu", shape);
    if (!row) return -1;
    gemm_row_init(row, M, N, K);
    struct blas_work w = {M, N, K, NULL, NULL, NULL};
    w.a = malloc((size_t)M * K * sizeof(float));
    w.b = malloc((size_t)K * N * sizeof(float));
    w.c = malloc((size_t)M * N * sizeof(float));
    int rc = 0;
    if (!w.a || !w.b || !w.c) {
        rc = -1;
    } else {
        tsr_bench_fill(w.a, (size_t)M * K, 1, -1.f, 1.f);
        tsr_bench_fill(w.b, (size_t)K * N, 2, -1.f, 1.f);
        struct tsr_bench_result r;
        tsr_bench_measure(&run->cfg, openblas_call, &w, &r);
        tsr_bench_row_set(row, &r);
        tsr_bench_result_free(&r);
        tsr_bench_peer_note(run, "openblas", 1, "%s, %d threads", openblas_get_config(),
                            openblas_get_num_threads());
    }
    free(w.a);
    free(w.b);
    free(w.c);
    return rc;
}

struct clblast_work {
    struct tsr_bench_cl cl;
    int M, N, K;
    cl_mem a, b, c;
    CLBlastStatusCode last;
};

static int clblast_call(void *arg, double *device_ms) {
    struct clblast_work *w = arg;
    cl_command_queue q = w->cl.queue;
    cl_event mark = NULL, ev = NULL;
    clEnqueueMarkerWithWaitList(q, 0, NULL, &mark);
    w->last = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo,
                           (size_t)w->M, (size_t)w->N, (size_t)w->K, 1.f, w->a, 0, (size_t)w->K,
                           w->b, 0, (size_t)w->N, 0.f, w->c, 0, (size_t)w->N, &q, &ev);
    if (w->last != CLBlastSuccess) {
        if (mark) clReleaseEvent(mark);
        return 1;
    }
    clFinish(q);
    cl_ulong t0 = 0, t1 = 0;
    if (mark && ev &&
        clGetEventProfilingInfo(mark, CL_PROFILING_COMMAND_END, sizeof t0, &t0, NULL) ==
            CL_SUCCESS &&
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL) == CL_SUCCESS &&
        t1 > t0)
        *device_ms = (double)(t1 - t0) / 1e6;
    if (mark) clReleaseEvent(mark);
    if (ev) clReleaseEvent(ev);
    return 0;
}

int tsr_bench_peer_clblast(struct tsr_bench_run *run, const char *suite, const char *name,
                           const char *shape, const char *device, int M, int N, int K) {
    struct tsr_bench_row *row = tsr_bench_add_row(run, suite, name, "clblast", device, shape);
    if (!row) return -1;
    gemm_row_init(row, M, N, K);
    struct clblast_work w = {.M = M, .N = N, .K = K};
    char why[256];
    if (tsr_bench_cl_open(run->ctx, device, &w.cl, why, sizeof why)) {
        row->status = TSR_BENCH_ABSENT;
        snprintf(row->note, sizeof row->note, "%s", why);
        tsr_bench_peer_note(run, "clblast", 0, "%s", why);
        return 0;
    }
    size_t sa = (size_t)M * K * 4, sb = (size_t)K * N * 4, sc = (size_t)M * N * 4;
    float *ha = malloc(sa), *hb = malloc(sb);
    int rc = 0;
    cl_int err = 0;
    if (!ha || !hb) {
        rc = -1;
        goto done;
    }
    tsr_bench_fill(ha, sa / 4, 1, -1.f, 1.f);
    tsr_bench_fill(hb, sb / 4, 2, -1.f, 1.f);
    w.a = clCreateBuffer(w.cl.context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sa, ha, &err);
    w.b = clCreateBuffer(w.cl.context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sb, hb, &err);
    w.c = clCreateBuffer(w.cl.context, CL_MEM_READ_WRITE, sc, NULL, &err);
    if (!w.a || !w.b || !w.c) {
        row->status = TSR_BENCH_FAILED;
        snprintf(row->note, sizeof row->note, "clCreateBuffer failed (%d)", err);
        goto done;
    }
    struct tsr_bench_result r;
    tsr_bench_measure(&run->cfg, clblast_call, &w, &r);
    if (r.failed) {
        row->status = TSR_BENCH_FAILED;
        snprintf(row->note, sizeof row->note, "CLBlastSgemm returned %d", (int)w.last);
    }
    tsr_bench_row_set(row, &r);
    tsr_bench_result_free(&r);
    tsr_bench_peer_note(run, "clblast", 1, "CLBlast (libclblast) on %s", w.cl.name);
done:
    if (w.a) clReleaseMemObject(w.a);
    if (w.b) clReleaseMemObject(w.b);
    if (w.c) clReleaseMemObject(w.c);
    free(ha);
    free(hb);
    tsr_bench_cl_close(&w.cl);
    return rc;
}
