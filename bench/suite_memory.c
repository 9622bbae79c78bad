/*
 * suite_memory.c — the `memory` suite: the machine's bandwidth limit and per-device overheads.
 *
 *   cpu:       "copy 64MiB" plain memcpy (one thread; bytes = 2 x 64 MiB read + written);
 *              "stream copy/triad 64MiB": STREAM-like loops (McCalpin, STREAM benchmark,
 *              https://www.cs.virginia.edu/stream/) on one thread per online core; bytes counted
 *              as STREAM does (copy 2 arrays, triad 3 arrays, no write-allocate traffic);
 *   opencl:N:  "h2d 64MiB" / "d2h 64MiB": clEnqueueWriteBuffer / clEnqueueReadBuffer of a
 *              pinned-less 64 MiB host array, blocking, on a private context (OpenCL used
 *              directly, impl "opencl-direct"); device time from the command's event;
 *              "launch": an empty kernel, enqueue + clFinish (latency in µs), event time too;
 *   every device: "launch" by tessera: a one-element Relu graph, tsr_plan_run end to end (µs).
 */
#include "bench.h"

#include <CL/cl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM_BYTES (64u << 20)

/* ---- host bandwidth ------------------------------------------------------------------------- */

struct stream_work {
    float *a, *b, *c;
    size_t n;
    int threads;
    int triad; /* 0 memcpy (1 thread), 1 stream copy, 2 stream triad */
};
struct stream_slice {
    const struct stream_work *w;
    size_t lo, hi;
};

static void *stream_slice_run(void *arg) {
    const struct stream_slice *s = arg;
    float *a = s->w->a, *b = s->w->b, *c = s->w->c;
    if (s->w->triad == 2) {
        const float q = 3.0f;
        for (size_t i = s->lo; i < s->hi; i++)
            a[i] = b[i] + q * c[i];
    } else {
        for (size_t i = s->lo; i < s->hi; i++)
            c[i] = a[i];
    }
    return NULL;
}

static int stream_call(void *arg, double *device_ms) {
    struct stream_work *w = arg;
    (void)device_ms;
    if (w->triad == 0) {
        memcpy(w->c, w->a, w->n * sizeof(float));
        return 0;
    }
    pthread_t tid[64];
    struct stream_slice sl[64];
    int t = w->threads;
    for (int i = 0; i < t; i++) {
        sl[i] = (struct stream_slice){w, w->n * (size_t)i / (size_t)t,
                                      w->n * (size_t)(i + 1) / (size_t)t};
        if (i > 0 && pthread_create(&tid[i], NULL, stream_slice_run, &sl[i])) return 1;
    }
    stream_slice_run(&sl[0]);
    for (int i = 1; i < t; i++)
        pthread_join(tid[i], NULL);
    return 0;
}

static int host_bandwidth(struct tsr_bench_run *run) {
    struct stream_work w = {.n = MEM_BYTES / sizeof(float)};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    w.threads = cores < 1 ? 1 : cores > 64 ? 64 : (int)cores;
    w.a = malloc(MEM_BYTES);
    w.b = malloc(MEM_BYTES);
    w.c = malloc(MEM_BYTES);
    int rc = 0;
    if (!w.a || !w.b || !w.c) {
        rc = -1;
        goto done;
    }
    tsr_bench_fill(w.a, w.n, 1, -1.f, 1.f);
    tsr_bench_fill(w.b, w.n, 2, -1.f, 1.f);
    tsr_bench_fill(w.c, w.n, 3, -1.f, 1.f);
    static const char *const names[] = {"copy 64MiB", "stream copy 64MiB", "stream triad 64MiB"};
    static const char *const impls[] = {"memcpy", "stream", "stream"};
    static const double arrays[] = {2, 2, 3};
    for (int k = 0; k < 3; k++) {
        w.triad = k;
        struct tsr_bench_row *row =
            tsr_bench_add_row(run, "memory", names[k], impls[k], "cpu", "[16777216] f32");
        if (!row) {
            rc = -1;
            goto done;
        }
        row->bytes = arrays[k] * MEM_BYTES;
        snprintf(row->metric, sizeof row->metric, "GB/s");
        snprintf(row->note, sizeof row->note, "%d thread(s)", k ? w.threads : 1);
        struct tsr_bench_result r;
        tsr_bench_measure(&run->cfg, stream_call, &w, &r);
        tsr_bench_row_set(row, &r);
        tsr_bench_result_free(&r);
    }
    tsr_bench_peer_note(run, "stream", 1, "built in: STREAM-like copy/triad, %d threads",
                        w.threads);
    tsr_bench_peer_note(run, "memcpy", 1, "built in: libc memcpy, 1 thread");
done:
    free(w.a);
    free(w.b);
    free(w.c);
    return rc;
}

/* ---- OpenCL direct -------------------------------------------------------------------------- */

struct cl_work {
    struct tsr_bench_cl cl;
    cl_mem buf;
    void *host;
    cl_kernel kernel;
    int mode; /* 0 h2d, 1 d2h, 2 empty kernel */
};

static int cl_call(void *arg, double *device_ms) {
    struct cl_work *w = arg;
    cl_event ev = NULL;
    cl_int err;
    if (w->mode == 0)
        err =
            clEnqueueWriteBuffer(w->cl.queue, w->buf, CL_TRUE, 0, MEM_BYTES, w->host, 0, NULL, &ev);
    else if (w->mode == 1)
        err =
            clEnqueueReadBuffer(w->cl.queue, w->buf, CL_TRUE, 0, MEM_BYTES, w->host, 0, NULL, &ev);
    else {
        size_t one = 1;
        err = clEnqueueNDRangeKernel(w->cl.queue, w->kernel, 1, NULL, &one, NULL, 0, NULL, &ev);
        if (err == CL_SUCCESS) err = clFinish(w->cl.queue);
    }
    if (err != CL_SUCCESS) {
        if (ev) clReleaseEvent(ev);
        return 1;
    }
    cl_ulong t0 = 0, t1 = 0;
    if (clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL) ==
            CL_SUCCESS &&
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL) == CL_SUCCESS &&
        t1 >= t0)
        *device_ms = (double)(t1 - t0) / 1e6;
    clReleaseEvent(ev);
    return 0;
}

static int opencl_direct(struct tsr_bench_run *run, const char *device) {
    struct cl_work w = {0};
    char why[256];
    static const char *const names[] = {"h2d 64MiB", "d2h 64MiB", "launch"};
    if (tsr_bench_cl_open(run->ctx, device, &w.cl, why, sizeof why)) {
        for (int k = 0; k < 3; k++) {
            struct tsr_bench_row *row =
                tsr_bench_add_row(run, "memory", names[k], "opencl-direct", device, "");
            if (!row) return -1;
            row->status = TSR_BENCH_ABSENT;
            snprintf(row->note, sizeof row->note, "%s", why);
        }
        return 0;
    }
    cl_int err = 0;
    w.host = malloc(MEM_BYTES);
    w.buf = clCreateBuffer(w.cl.context, CL_MEM_READ_WRITE, MEM_BYTES, NULL, &err);
    const char *src = "__kernel void tsr_bench_empty(__global float *x) { }\n";
    cl_program prog = clCreateProgramWithSource(w.cl.context, 1, &src, NULL, &err);
    if (prog && clBuildProgram(prog, 1, (cl_device_id *)&w.cl.device, "", NULL, NULL) == CL_SUCCESS)
        w.kernel = clCreateKernel(prog, "tsr_bench_empty", &err);
    if (w.kernel) clSetKernelArg(w.kernel, 0, sizeof(cl_mem), &w.buf);
    int rc = 0;
    if (!w.host) rc = -1;
    for (int k = 0; k < 3 && !rc; k++) {
        struct tsr_bench_row *row = tsr_bench_add_row(run, "memory", names[k], "opencl-direct",
                                                      device, k < 2 ? "[16777216] f32" : "[1]");
        if (!row) {
            rc = -1;
            break;
        }
        snprintf(row->metric, sizeof row->metric, "%s", k < 2 ? "GB/s" : "us");
        row->bytes = k < 2 ? MEM_BYTES : 0;
        if (!w.buf || (k == 2 && !w.kernel)) {
            row->status = TSR_BENCH_FAILED;
            snprintf(row->note, sizeof row->note, "OpenCL setup failed (%d)", err);
            continue;
        }
        memset(w.host, 1, MEM_BYTES); /* touch the pages before timing */
        w.mode = k;
        struct tsr_bench_result r;
        tsr_bench_measure(&run->cfg, cl_call, &w, &r);
        tsr_bench_row_set(row, &r);
        tsr_bench_result_free(&r);
    }
    if (w.kernel) clReleaseKernel(w.kernel);
    if (prog) clReleaseProgram(prog);
    if (w.buf) clReleaseMemObject(w.buf);
    free(w.host);
    tsr_bench_cl_close(&w.cl);
    return rc;
}

/* ---- tessera launch latency ----------------------------------------------------------------- */

static int tessera_launch(struct tsr_bench_run *run, const char *device) {
    tsr_graph *g = NULL;
    struct tsr_tensor_desc d = {.dtype = TSR_F32, .rank = 1, .dims = {1}};
    tsr_value x, y;
    struct tsr_bench_row *row =
        tsr_bench_add_row(run, "memory", "launch", "tessera", device, "[1]");
    if (!row) return -1;
    snprintf(row->metric, sizeof row->metric, "us");
    if (tsr_graph_create(run->ctx, &g) != TSR_OK || tsr_graph_input(g, "x", &d, &x) != TSR_OK ||
        tsr_graph_op(g, TSR_OP_RELU, &x, 1, NULL, "relu", &y) != TSR_OK ||
        tsr_graph_output(g, "y", y) != TSR_OK) {
        row->status = TSR_BENCH_FAILED;
        snprintf(row->note, sizeof row->note, "graph build failed");
        tsr_graph_destroy(g);
        return 0;
    }
    int rc = tsr_bench_measure_graph(run, row, g, device, 0);
    tsr_graph_destroy(g);
    return rc;
}

int tsr_bench_suite_memory(struct tsr_bench_run *run) {
    int did_host = 0;
    for (int d = 0; d < run->n_devices; d++) {
        const char *dev = run->devices[d];
        char label[96];
        snprintf(label, sizeof label, "memory bandwidth %s", dev);
        tsr_bench_progress(run, label);
        if (tsr_bench_device_of_backend(run->ctx, dev, TSR_BENCH_OPENCL_BACKEND) >= 0) {
            if (opencl_direct(run, dev)) return -1;
        } else if (!did_host) {
            if (host_bandwidth(run)) return -1;
            did_host = 1;
        }
        snprintf(label, sizeof label, "memory launch %s", dev);
        tsr_bench_progress(run, label);
        if (tessera_launch(run, dev)) return -1;
    }
    return 0;
}
