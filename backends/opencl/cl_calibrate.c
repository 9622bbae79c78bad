/*
 * cl_calibrate.c — the OpenCL backend's calibrate member: the figures no probe program can
 * measure, host <-> device transfers (h2d_gbps, d2h_gbps, h2d_small_gbps, d2h_small_gbps,
 * latency_us; definitions in runtime/calibration.h). Every other figure of an OpenCL device is
 * measured by the backend-neutral probe programs through this backend's prepare / execute.
 *
 * Uses the device's own context and in-order queue (tsr_cl_device_ready) while holding its
 * exec_lock, with raw OpenCL calls on one buffer of its own (not the device pool: pool
 * statistics, TSR_OPENCL_MEM_LIMIT and TSR_FAULT counters are untouched). Timed by the timing
 * rule of runtime/calibration.h (tsr_calib_time_rounds, tsr_calib_time_run): blocking commands
 * on the host clock.
 */
#include "backends/opencl/cl_internal.h"
#include "runtime/calibration.h"

#include <string.h>

#define TSR_CAL_XFER_BYTES (64u << 20)  /* large transfers (16 Mi floats) */
#define TSR_CAL_XFER_SMALL (256u << 10) /* small transfers */

/* The probes of one round. */
enum cl_xfer_probe {
    Q_WRITE,   /* host → device, TSR_CAL_XFER_BYTES */
    Q_READ,    /* device → host */
    Q_WRITE_S, /* host → device, TSR_CAL_XFER_SMALL */
    Q_READ_S,  /* device → host, TSR_CAL_XFER_SMALL */
    Q_LATENCY, /* 4-byte write */
    Q_COUNT
};

static const char *const g_what[Q_COUNT] = {"host-to-device write", "device-to-host read",
                                            "small host-to-device write",
                                            "small device-to-host read", "4-byte write"};

struct cal_state {
    tsr_context *ctx;
    struct tsr_cl_device *dev;
    cl_mem buf; /* TSR_CAL_XFER_BYTES */
    void *host; /* TSR_CAL_XFER_BYTES */
    int probe;  /* for run_xfer */
};

/* tsr_calib_run_fn: one blocking transfer of probe s->probe. */
static tsr_status run_xfer(void *arg) {
    struct cal_state *s = arg;
    cl_command_queue q = s->dev->queue;
    cl_int err = CL_SUCCESS;
    switch (s->probe) {
    case Q_WRITE:
        err =
            clEnqueueWriteBuffer(q, s->buf, CL_TRUE, 0, TSR_CAL_XFER_BYTES, s->host, 0, NULL, NULL);
        break;
    case Q_READ:
        err =
            clEnqueueReadBuffer(q, s->buf, CL_TRUE, 0, TSR_CAL_XFER_BYTES, s->host, 0, NULL, NULL);
        break;
    case Q_WRITE_S:
        err =
            clEnqueueWriteBuffer(q, s->buf, CL_TRUE, 0, TSR_CAL_XFER_SMALL, s->host, 0, NULL, NULL);
        break;
    case Q_READ_S:
        err =
            clEnqueueReadBuffer(q, s->buf, CL_TRUE, 0, TSR_CAL_XFER_SMALL, s->host, 0, NULL, NULL);
        break;
    default:
        err = clEnqueueWriteBuffer(q, s->buf, CL_TRUE, 0, 4, s->host, 0, NULL, NULL);
        break;
    }
    if (err == CL_SUCCESS) return TSR_OK;
    return TSR_ERR_CL(s->ctx, tsr_cl_status(err), err, "calibrate %s: %s failed: %s (%d)",
                      s->dev->id, g_what[s->probe], tsr_cl_error_name(err), (int)err);
}

/* tsr_calib_probe_fn */
static tsr_status time_xfer(void *arg, int probe, int round, double *ns) {
    (void)round;
    struct cal_state *s = arg;
    s->probe = probe;
    return tsr_calib_time_run(run_xfer, s, ns);
}

/* bytes / (t - latency) in GB/s, the latency subtracted only when under half of t. */
static double net_gbps(double bytes, double t_ns, double lat_ns) {
    return bytes / (t_ns - (lat_ns < 0.5 * t_ns ? lat_ns : 0.0));
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
    cl_int err = CL_SUCCESS;
    s.buf = clCreateBuffer(dev->context, CL_MEM_READ_WRITE, TSR_CAL_XFER_BYTES, NULL, &err);
    s.host = tsr_aligned_alloc(TSR_CAL_XFER_BYTES);
    double t[Q_COUNT];
    if (!s.buf) {
        st = TSR_ERR_CL(ctx, tsr_cl_status(err), err,
                        "calibrate %s: clCreateBuffer(%u bytes): %s (%d)", dev->id,
                        TSR_CAL_XFER_BYTES, tsr_cl_error_name(err), (int)err);
    } else if (!s.host) {
        st = TSR_ERR(ctx, TSR_E_NOMEM, "calibrate %s: out of memory", dev->id);
    } else {
        memset(s.host, 0, TSR_CAL_XFER_BYTES);
        st = tsr_calib_time_rounds(Q_COUNT, time_xfer, &s, t);
    }
    if (st == TSR_OK) {
        const double lat = t[Q_LATENCY];
        out->latency_us = lat * 1e-3;
        out->h2d_gbps = net_gbps(TSR_CAL_XFER_BYTES, t[Q_WRITE], lat);
        out->d2h_gbps = net_gbps(TSR_CAL_XFER_BYTES, t[Q_READ], lat);
        out->h2d_small_gbps = net_gbps(TSR_CAL_XFER_SMALL, t[Q_WRITE_S], lat);
        out->d2h_small_gbps = net_gbps(TSR_CAL_XFER_SMALL, t[Q_READ_S], lat);
    }
    if (s.buf) clReleaseMemObject(s.buf);
    tsr_aligned_free(s.host);
    pthread_mutex_unlock(&dev->exec_lock);
    return st;
}
