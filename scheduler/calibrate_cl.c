/*
 * calibrate_cl.c — measures one OpenCL device (figures and rules in calibrate.h).
 *
 * Uses the device's own context and in-order queue (tsr_cl_device_ready, backends/opencl) while
 * holding its exec_lock, but raw OpenCL calls for buffers and the two calibration kernels and
 * CLBlast for GEMM: the device pool, the program cache and the executor are not involved, so
 * TSR_FAULT counters and pool statistics are untouched. (The OpenCL driver caches the compiled
 * calibration kernels itself; PoCL in ~/.cache/pocl.)
 *
 * Timing is on the host clock (tsr_now_ns) around enqueue ... clFinish, because the cost model
 * predicts wall time of runs that end with clFinish. Samples and minimum sample length as in
 * calibrate_cpu.c.
 */
#include "backends/opencl/cl_internal.h"
#include "scheduler/calibrate.h"

#include <clblast_c.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TSR_CAL_SAMPLES       9
#define TSR_CAL_MIN_SAMPLE_NS 1000000ull
#define TSR_CAL_BW_BYTES      (32u << 20)
#define TSR_CAL_CHAIN         16

static const int64_t g_gemm_sizes[] = {32, 64, 128, 256, 512};

static const char *g_source =
    "__kernel void tsr_cal_copy(__global const float4 *a, __global float4 *b) {\n"
    "    size_t i = get_global_id(0);\n"
    "    b[i] = a[i];\n"
    "}\n"
    "__kernel void tsr_cal_trans(__global const float *a, __global float *b) {\n"
    "    size_t i = get_global_id(0);\n"
    "    float x = tanh(exp(a[i]));\n"
    "    x = erf(x);\n"
    "    b[i] = 1.0f / (1.0f + exp(-x));\n"
    "}\n"
    "__kernel void tsr_cal_empty(__global float *a) {\n"
    "    if (get_global_id(0) == (size_t)-1) a[0] = 0.0f;\n"
    "}\n";

/* What one sample runs. */
#define TSR_CAL_TRANS_ELEMS (1u << 20) /* elements of the transcendental kernel */
#define TSR_CAL_TRANS_OPS   4          /* exp, tanh, erf, sigmoid per element */

enum cal_op { OP_TRANS, OP_COPY, OP_EMPTY1, OP_EMPTYK, OP_WRITE, OP_READ, OP_LATENCY, OP_GEMM };

struct cal_state {
    tsr_context *ctx;
    struct tsr_cl_device *dev;
    cl_kernel copy, empty, trans;
    cl_mem a, b, c; /* TSR_CAL_BW_BYTES each */
    void *host;     /* TSR_CAL_BW_BYTES */
    size_t gemm_n;  /* for OP_GEMM */
};

/* One run of `op`, ending with the queue drained. Returns CL_SUCCESS or the failing code. */
static cl_int run_op(struct cal_state *s, enum cal_op op) {
    cl_command_queue q = s->dev->queue;
    cl_int err = CL_SUCCESS;
    size_t one = 1, n4 = TSR_CAL_BW_BYTES / 16;
    size_t nt = TSR_CAL_TRANS_ELEMS;
    switch (op) {
    case OP_TRANS:
        err = clEnqueueNDRangeKernel(q, s->trans, 1, NULL, &nt, NULL, 0, NULL, NULL);
        break;
    case OP_COPY:
        err = clEnqueueNDRangeKernel(q, s->copy, 1, NULL, &n4, NULL, 0, NULL, NULL);
        break;
    case OP_EMPTY1:
        err = clEnqueueNDRangeKernel(q, s->empty, 1, NULL, &one, NULL, 0, NULL, NULL);
        break;
    case OP_EMPTYK:
        for (int i = 0; i < TSR_CAL_CHAIN && err == CL_SUCCESS; i++)
            err = clEnqueueNDRangeKernel(q, s->empty, 1, NULL, &one, NULL, 0, NULL, NULL);
        break;
    case OP_WRITE:
        return clEnqueueWriteBuffer(q, s->a, CL_TRUE, 0, TSR_CAL_BW_BYTES, s->host, 0, NULL, NULL);
    case OP_READ:
        return clEnqueueReadBuffer(q, s->a, CL_TRUE, 0, TSR_CAL_BW_BYTES, s->host, 0, NULL, NULL);
    case OP_LATENCY:
        return clEnqueueWriteBuffer(q, s->a, CL_TRUE, 0, 4, s->host, 0, NULL, NULL);
    case OP_GEMM: {
        size_t n = s->gemm_n;
        CLBlastStatusCode cs =
            CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, n, n, n,
                         1.0f, s->a, 0, n, s->b, 0, n, 0.0f, s->c, 0, n, &q, NULL);
        if (cs != CLBlastSuccess) return (cl_int)cs;
        break;
    }
    }
    if (err != CL_SUCCESS) return err;
    return clFinish(q);
}

/* Robust median time of one run of op in ns (warm-up + samples, see calibrate_cpu.c). */
static tsr_status time_op(struct cal_state *s, enum cal_op op, const char *what, double *ns) {
    uint64_t t0 = tsr_now_ns();
    cl_int err = run_op(s, op);
    uint64_t once = tsr_now_ns() - t0;
    int reps = once >= TSR_CAL_MIN_SAMPLE_NS ? 1 : (int)(TSR_CAL_MIN_SAMPLE_NS / (once + 1)) + 1;
    if (reps > 10000) reps = 10000;
    double samples[TSR_CAL_SAMPLES];
    for (int i = 0; i < TSR_CAL_SAMPLES && err == CL_SUCCESS; i++) {
        t0 = tsr_now_ns();
        for (int r = 0; r < reps && err == CL_SUCCESS; r++)
            err = run_op(s, op);
        samples[i] = (double)(tsr_now_ns() - t0) / reps;
    }
    if (err != CL_SUCCESS)
        return TSR_ERR_CL(s->ctx, tsr_cl_status(err), err, "calibrate %s: %s failed: %s (%d)",
                          s->dev->id, what, tsr_cl_error_name(err), (int)err);
    *ns = tsr_calib_robust_median(samples, TSR_CAL_SAMPLES);
    return TSR_OK;
}

/* Creates the program, kernels and buffers. */
static tsr_status setup(struct cal_state *s) {
    struct tsr_cl_device *dev = s->dev;
    cl_int err = CL_SUCCESS;
    size_t len = strlen(g_source);
    cl_program p = clCreateProgramWithSource(dev->context, 1, &g_source, &len, &err);
    if (!p)
        return TSR_ERR_CL(s->ctx, tsr_cl_status(err), err,
                          "calibrate %s: clCreateProgramWithSource: %s (%d)", dev->id,
                          tsr_cl_error_name(err), (int)err);
    err = clBuildProgram(p, 1, &dev->device, "", NULL, NULL);
    if (err != CL_SUCCESS) {
        clReleaseProgram(p);
        return TSR_ERR_CL(s->ctx, TSR_E_BUILD, err, "calibrate %s: clBuildProgram: %s (%d)",
                          dev->id, tsr_cl_error_name(err), (int)err);
    }
    s->copy = clCreateKernel(p, "tsr_cal_copy", &err);
    if (s->copy) s->empty = clCreateKernel(p, "tsr_cal_empty", &err);
    if (s->empty) s->trans = clCreateKernel(p, "tsr_cal_trans", &err);
    clReleaseProgram(p); /* the kernels keep it alive */
    if (!s->copy || !s->empty || !s->trans)
        return TSR_ERR_CL(s->ctx, TSR_E_DEVICE, err, "calibrate %s: clCreateKernel: %s (%d)",
                          dev->id, tsr_cl_error_name(err), (int)err);
    cl_mem *bufs[3] = {&s->a, &s->b, &s->c};
    for (int i = 0; i < 3; i++) {
        *bufs[i] = clCreateBuffer(dev->context, CL_MEM_READ_WRITE, TSR_CAL_BW_BYTES, NULL, &err);
        if (!*bufs[i])
            return TSR_ERR_CL(s->ctx, tsr_cl_status(err), err,
                              "calibrate %s: clCreateBuffer(%u bytes): %s (%d)", dev->id,
                              TSR_CAL_BW_BYTES, tsr_cl_error_name(err), (int)err);
    }
    s->host = tsr_aligned_alloc(TSR_CAL_BW_BYTES);
    if (!s->host) return TSR_ERR(s->ctx, TSR_E_NOMEM, "calibrate %s: out of memory", dev->id);
    memset(s->host, 0, TSR_CAL_BW_BYTES);
    err = clSetKernelArg(s->copy, 0, sizeof s->a, &s->a);
    if (err == CL_SUCCESS) err = clSetKernelArg(s->copy, 1, sizeof s->b, &s->b);
    if (err == CL_SUCCESS) err = clSetKernelArg(s->empty, 0, sizeof s->a, &s->a);
    if (err == CL_SUCCESS) err = clSetKernelArg(s->trans, 0, sizeof s->a, &s->a);
    if (err == CL_SUCCESS) err = clSetKernelArg(s->trans, 1, sizeof s->b, &s->b);
    /* Zero the operands so GEMM runs on ordinary numbers. */
    for (int i = 0; i < 3 && err == CL_SUCCESS; i++)
        err = clEnqueueWriteBuffer(dev->queue, *bufs[i], CL_TRUE, 0, TSR_CAL_BW_BYTES, s->host, 0,
                                   NULL, NULL);
    if (err != CL_SUCCESS)
        return TSR_ERR_CL(s->ctx, tsr_cl_status(err), err, "calibrate %s: setup: %s (%d)", dev->id,
                          tsr_cl_error_name(err), (int)err);
    return TSR_OK;
}

static void teardown(struct cal_state *s) {
    if (s->copy) clReleaseKernel(s->copy);
    if (s->empty) clReleaseKernel(s->empty);
    if (s->trans) clReleaseKernel(s->trans);
    if (s->a) clReleaseMemObject(s->a);
    if (s->b) clReleaseMemObject(s->b);
    if (s->c) clReleaseMemObject(s->c);
    tsr_aligned_free(s->host);
}

tsr_status tsr_calib_measure_opencl(tsr_context *ctx, int cl_index, struct tsr_calibration *out) {
    if (!ctx || !out) return TSR_ERR(ctx, TSR_E_INVALID_ARG, "calibrate opencl: NULL argument");
    struct tsr_cl_device *dev = NULL;
    tsr_status st = tsr_cl_device_ready(ctx, cl_index, &dev);
    if (st != TSR_OK) return st;
    struct cal_state s;
    memset(&s, 0, sizeof s);
    s.ctx = ctx;
    s.dev = dev;
    pthread_mutex_lock(&dev->exec_lock);
    double t_copy = 0, t1 = 0, tk = 0, t_w = 0, t_r = 0, t_lat = 0;
    if ((st = setup(&s)) != TSR_OK) goto done;
    if ((st = time_op(&s, OP_EMPTY1, "empty kernel", &t1)) != TSR_OK) goto done;
    if ((st = time_op(&s, OP_EMPTYK, "empty kernels", &tk)) != TSR_OK) goto done;
    if ((st = time_op(&s, OP_COPY, "copy kernel", &t_copy)) != TSR_OK) goto done;
    if ((st = time_op(&s, OP_WRITE, "host-to-device write", &t_w)) != TSR_OK) goto done;
    if ((st = time_op(&s, OP_READ, "device-to-host read", &t_r)) != TSR_OK) goto done;
    if ((st = time_op(&s, OP_LATENCY, "4-byte write", &t_lat)) != TSR_OK) goto done;
    double t_tr = 0;
    if ((st = time_op(&s, OP_TRANS, "transcendental kernel", &t_tr)) != TSR_OK) goto done;
    out->trans_gops = (double)TSR_CAL_TRANS_OPS * TSR_CAL_TRANS_ELEMS / t_tr;
    double launch_ns = (tk - t1) / (TSR_CAL_CHAIN - 1);
    if (!(launch_ns > 0)) launch_ns = tk / TSR_CAL_CHAIN;
    out->launch_us = launch_ns * 1e-3;
    out->run_overhead_us = t1 > launch_ns ? (t1 - launch_ns) * 1e-3 : 0.0;
    double net = t_copy - t1 > 0.5 * t_copy ? t_copy - t1 : t_copy;
    out->bandwidth_gbps = 2.0 * TSR_CAL_BW_BYTES / net;
    out->latency_us = t_lat * 1e-3;
    double lat = t_lat < 0.5 * t_w ? t_lat : 0.0;
    out->h2d_gbps = TSR_CAL_BW_BYTES / (t_w - lat);
    lat = t_lat < 0.5 * t_r ? t_lat : 0.0;
    out->d2h_gbps = TSR_CAL_BW_BYTES / (t_r - lat);
    out->n_gemm = 0;
    for (size_t i = 0; i < sizeof g_gemm_sizes / sizeof g_gemm_sizes[0]; i++) {
        int64_t n = g_gemm_sizes[i];
        s.gemm_n = (size_t)n;
        double t = 0;
        if ((st = time_op(&s, OP_GEMM, "CLBlastSgemm", &t)) != TSR_OK) goto done;
        /* net of the fixed per-run cost (one launch + the clFinish round trip) */
        double tn = t - t1 > 0.5 * t ? t - t1 : t;
        out->gemm[out->n_gemm++] =
            (struct tsr_calib_gemm){n, n, n, 2.0 * (double)n * (double)n * (double)n / tn};
    }
done:
    teardown(&s);
    pthread_mutex_unlock(&dev->exec_lock);
    return st;
}
