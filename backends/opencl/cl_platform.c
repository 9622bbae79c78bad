/*
 * cl_platform.c — OpenCL platform/device enumeration through the ICD loader, lazy per-device
 * context + in-order profiling queue, and the device-clock → host-clock mapping.
 *
 * Clock mapping (tsr_cl_device_ready → calibrate_clock): the profiler's time base is the host
 * clock tsr_now_ns() (CLOCK_MONOTONIC); OpenCL event times (CL_PROFILING_COMMAND_*) are on the
 * device's own clock. We take h0 = tsr_now_ns(), enqueue a marker (or, if the driver gives
 * markers no profiling data, a 4-byte buffer write), clFinish, h1 = tsr_now_ns(), and read the
 * command's CL_PROFILING_COMMAND_END = d. The command ended at some host time in [h0, h1], so
 * offset = (h0 + h1) / 2 - d maps d into that interval with error at most (h1 - h0) / 2. Of 8
 * trials the one with the smallest h1 - h0 is kept (tightest bound); the bound is stored in
 * dev->clock_error_ns and logged at debug level. Clock drift over a process lifetime is ignored
 * (both clocks are monotonic ns clocks; drift is ppm-level).
 */
#include "backends/opencl/cl_internal.h"

#include "runtime/profiler.h"
#include "runtime/topology.h"

#include <stdlib.h>
#include <string.h>

#ifndef CL_PLATFORM_NOT_FOUND_KHR
#define CL_PLATFORM_NOT_FOUND_KHR -1001
#endif

const char *tsr_cl_error_name(cl_int err) {
    switch (err) {
#define TSR_CL_E(x)                                                                                \
    case x:                                                                                        \
        return #x;
        TSR_CL_E(CL_SUCCESS)
        TSR_CL_E(CL_DEVICE_NOT_FOUND)
        TSR_CL_E(CL_DEVICE_NOT_AVAILABLE)
        TSR_CL_E(CL_COMPILER_NOT_AVAILABLE)
        TSR_CL_E(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        TSR_CL_E(CL_OUT_OF_RESOURCES)
        TSR_CL_E(CL_OUT_OF_HOST_MEMORY)
        TSR_CL_E(CL_PROFILING_INFO_NOT_AVAILABLE)
        TSR_CL_E(CL_MEM_COPY_OVERLAP)
        TSR_CL_E(CL_BUILD_PROGRAM_FAILURE)
        TSR_CL_E(CL_MAP_FAILURE)
        TSR_CL_E(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        TSR_CL_E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        TSR_CL_E(CL_COMPILE_PROGRAM_FAILURE)
        TSR_CL_E(CL_LINK_PROGRAM_FAILURE)
        TSR_CL_E(CL_INVALID_VALUE)
        TSR_CL_E(CL_INVALID_DEVICE_TYPE)
        TSR_CL_E(CL_INVALID_PLATFORM)
        TSR_CL_E(CL_INVALID_DEVICE)
        TSR_CL_E(CL_INVALID_CONTEXT)
        TSR_CL_E(CL_INVALID_QUEUE_PROPERTIES)
        TSR_CL_E(CL_INVALID_COMMAND_QUEUE)
        TSR_CL_E(CL_INVALID_MEM_OBJECT)
        TSR_CL_E(CL_INVALID_BINARY)
        TSR_CL_E(CL_INVALID_BUILD_OPTIONS)
        TSR_CL_E(CL_INVALID_PROGRAM)
        TSR_CL_E(CL_INVALID_PROGRAM_EXECUTABLE)
        TSR_CL_E(CL_INVALID_KERNEL_NAME)
        TSR_CL_E(CL_INVALID_KERNEL)
        TSR_CL_E(CL_INVALID_ARG_INDEX)
        TSR_CL_E(CL_INVALID_ARG_VALUE)
        TSR_CL_E(CL_INVALID_ARG_SIZE)
        TSR_CL_E(CL_INVALID_KERNEL_ARGS)
        TSR_CL_E(CL_INVALID_WORK_DIMENSION)
        TSR_CL_E(CL_INVALID_WORK_GROUP_SIZE)
        TSR_CL_E(CL_INVALID_GLOBAL_OFFSET)
        TSR_CL_E(CL_INVALID_EVENT_WAIT_LIST)
        TSR_CL_E(CL_INVALID_EVENT)
        TSR_CL_E(CL_INVALID_OPERATION)
        TSR_CL_E(CL_INVALID_BUFFER_SIZE)
        TSR_CL_E(CL_INVALID_GLOBAL_WORK_SIZE)
#undef TSR_CL_E
    case CL_PLATFORM_NOT_FOUND_KHR:
        return "CL_PLATFORM_NOT_FOUND_KHR";
    }
    return "CL_ERROR";
}

tsr_status tsr_cl_status(cl_int err) {
    if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ||
        err == CL_OUT_OF_HOST_MEMORY)
        return TSR_E_DEVICE_NOMEM;
    return TSR_E_DEVICE;
}

/* Reads a string device/platform property into buf (always NUL-terminated; "" on failure). */
static void dev_str(cl_device_id d, cl_device_info what, char *buf, size_t size) {
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    buf[size - 1] = '\0';
}

static void plat_str(cl_platform_id p, cl_platform_info what, char *buf, size_t size) {
    buf[0] = '\0';
    if (clGetPlatformInfo(p, what, size, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    buf[size - 1] = '\0';
}

/* Platform and device discovery (tsr_opencl_backend_create; caller holds discovery_lock). */
static tsr_status discover(tsr_context *ctx, struct tsr_opencl_backend **out) {
    cl_uint n_plat = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &n_plat);
    if (err != CL_SUCCESS || n_plat == 0) {
        tsr_log(ctx, TSR_LOG_INFO, "OpenCL: no platform (clGetPlatformIDs: %s %d): CPU only",
                tsr_cl_error_name(err), (int)err);
        return TSR_OK;
    }
    cl_platform_id *plats = calloc(n_plat, sizeof *plats);
    if (!plats) return TSR_ERR(ctx, TSR_E_NOMEM, "OpenCL: out of memory listing platforms");
    err = clGetPlatformIDs(n_plat, plats, NULL);
    if (err != CL_SUCCESS) {
        free(plats);
        tsr_log(ctx, TSR_LOG_INFO, "OpenCL: clGetPlatformIDs failed (%s %d): CPU only",
                tsr_cl_error_name(err), (int)err);
        return TSR_OK;
    }
    /* First pass: count devices; second: fill. */
    cl_uint total = 0;
    for (cl_uint p = 0; p < n_plat; p++) {
        cl_uint n = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &n) == CL_SUCCESS) total += n;
    }
    if (total == 0) {
        free(plats);
        tsr_log(ctx, TSR_LOG_INFO, "OpenCL: %u platform(s) but no device: CPU only",
                (unsigned)n_plat);
        return TSR_OK;
    }
    struct tsr_opencl_backend *ocl = calloc(1, sizeof *ocl);
    struct tsr_cl_device *devs = calloc(total, sizeof *devs);
    cl_device_id *ids = calloc(total, sizeof *ids);
    if (!ocl || !devs || !ids) {
        free(plats), free(ocl), free(devs), free(ids);
        return TSR_ERR(ctx, TSR_E_NOMEM, "OpenCL: out of memory listing devices");
    }
    int nd = 0;
    for (cl_uint p = 0; p < n_plat; p++) {
        cl_uint n = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, total - (cl_uint)nd, ids, &n) !=
            CL_SUCCESS)
            continue;
        if (n > total - (cl_uint)nd) n = total - (cl_uint)nd;
        char pname[128];
        plat_str(plats[p], CL_PLATFORM_NAME, pname, sizeof pname);
        for (cl_uint j = 0; j < n; j++) {
            struct tsr_cl_device *d = &devs[nd];
            d->index = nd;
            snprintf(d->id, sizeof d->id, "opencl:%d", nd);
            d->platform = plats[p];
            d->device = ids[j];
            snprintf(d->platform_name, sizeof d->platform_name, "%s", pname);
            dev_str(ids[j], CL_DEVICE_NAME, d->name, sizeof d->name);
            dev_str(ids[j], CL_DEVICE_VENDOR, d->vendor, sizeof d->vendor);
            dev_str(ids[j], CL_DRIVER_VERSION, d->driver, sizeof d->driver);
            clGetDeviceInfo(ids[j], CL_DEVICE_TYPE, sizeof d->type, &d->type, NULL);
            clGetDeviceInfo(ids[j], CL_DEVICE_MAX_COMPUTE_UNITS, sizeof d->compute_units,
                            &d->compute_units, NULL);
            clGetDeviceInfo(ids[j], CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof d->clock_mhz,
                            &d->clock_mhz, NULL);
            clGetDeviceInfo(ids[j], CL_DEVICE_GLOBAL_MEM_SIZE, sizeof d->global_mem, &d->global_mem,
                            NULL);
            clGetDeviceInfo(ids[j], CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof d->max_alloc,
                            &d->max_alloc, NULL);
            pthread_mutex_init(&d->lock, NULL);
            pthread_mutex_init(&d->exec_lock, NULL);
            tsr_cl_pool_init(&d->pool, ctx ? ctx->pool_cache_bytes : UINT64_MAX);
            tsr_log(ctx, TSR_LOG_INFO, "OpenCL: %s = %s (%s, driver %s)", d->id, d->name, pname,
                    d->driver);
            nd++;
        }
    }
    free(plats);
    free(ids);
    if (nd == 0) {
        free(devs);
        free(ocl);
        tsr_log(ctx, TSR_LOG_INFO, "OpenCL: no usable device: CPU only");
        return TSR_OK;
    }
    ocl->n_devices = nd;
    ocl->devices = devs;
    ocl->log_ctx = ctx;
    *out = ocl;
    return TSR_OK;
}

/* Discovery is serialised process-wide: the first clGetPlatformIDs of a process initialises the
 * ICD loader and the platform, and with ocl-icd + PoCL 3.1 two threads doing that at once crash
 * inside libpocl (tests/check_concurrency.c: contexts created from four threads). Creating a
 * context is rare; discovery takes milliseconds once the platform is up. */
static pthread_mutex_t discovery_lock = PTHREAD_MUTEX_INITIALIZER;

tsr_status tsr_opencl_backend_create(tsr_context *ctx, struct tsr_opencl_backend **out) {
    if (!out) return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_opencl_backend_create: out is NULL");
    *out = NULL;
    pthread_mutex_lock(&discovery_lock);
    tsr_status st = discover(ctx, out);
    pthread_mutex_unlock(&discovery_lock);
    return st;
}

void tsr_opencl_backend_destroy(struct tsr_opencl_backend *ocl) {
    if (!ocl) return;
    for (int i = 0; i < ocl->n_devices; i++) {
        struct tsr_cl_device *d = &ocl->devices[i];
        if (d->queue) clFinish(d->queue);
        tsr_cl_program_cache_clear(d);
        tsr_cl_pool_destroy(&d->pool, ocl->log_ctx);
        if (d->queue) clReleaseCommandQueue(d->queue);
        if (d->context) clReleaseContext(d->context);
        pthread_mutex_destroy(&d->lock);
        pthread_mutex_destroy(&d->exec_lock);
    }
    free(ocl->devices);
    free(ocl);
}

struct tsr_opencl_backend *tsr_opencl_backend_of(const tsr_context *ctx) {
    return tsr_backend_state(ctx, &tsr_opencl_backend_ops);
}

int tsr_opencl_device_count(const struct tsr_opencl_backend *ocl) {
    return ocl ? ocl->n_devices : 0;
}

void tsr_opencl_device_info(const struct tsr_opencl_backend *ocl, tsr_context *ctx, int i,
                            struct tsr_device_info *dev) {
    if (!dev) return;
    memset(dev, 0, sizeof *dev);
    dev->index = i;
    dev->numa_node = -1;
    if (!ocl || i < 0 || i >= ocl->n_devices) return;
    const struct tsr_cl_device *d = &ocl->devices[i];
    snprintf(dev->id, sizeof dev->id, "%s", d->id);
    snprintf(dev->name, sizeof dev->name, "%s", d->name);
    snprintf(dev->vendor, sizeof dev->vendor, "%s", d->vendor);
    snprintf(dev->driver_version, sizeof dev->driver_version, "%s", d->driver);
    snprintf(dev->platform, sizeof dev->platform, "%s", d->platform_name);
    const char *type = (d->type & CL_DEVICE_TYPE_GPU)           ? "gpu"
                       : (d->type & CL_DEVICE_TYPE_CPU)         ? "cpu"
                       : (d->type & CL_DEVICE_TYPE_ACCELERATOR) ? "accelerator"
                                                                : "other";
    snprintf(dev->device_type, sizeof dev->device_type, "%s", type);
    dev->compute_units = (int)d->compute_units;
    dev->max_clock_mhz = (int)d->clock_mhz;
    dev->global_mem_bytes = d->global_mem;
    dev->max_alloc_bytes = d->max_alloc;
    if (ctx && ctx->topo)
        tsr_topology_opencl_locality(ctx->topo, (void *)d->device, dev->locality,
                                     sizeof dev->locality, &dev->numa_node);
}

uint64_t tsr_cl_device_to_host_ns(const struct tsr_cl_device *dev, cl_ulong device_ns) {
    int64_t h = (int64_t)device_ns + dev->clock_offset_ns;
    return h < 0 ? 0 : (uint64_t)h;
}

/* One clock trial with a marker (use_write = 0) or a 4-byte write into `scratch` (1). Returns 0
 * and the host window [*h0, *h1] and device end time *d, or -1 if the driver gave no data. */
static int clock_trial(struct tsr_cl_device *dev, cl_mem scratch, int use_write, uint64_t *h0,
                       uint64_t *h1, cl_ulong *d) {
    cl_event ev = NULL;
    static const float zero = 0.0f;
    clFinish(dev->queue);
    *h0 = tsr_now_ns();
    cl_int err = use_write ? clEnqueueWriteBuffer(dev->queue, scratch, CL_FALSE, 0, sizeof zero,
                                                  &zero, 0, NULL, &ev)
                           : clEnqueueMarkerWithWaitList(dev->queue, 0, NULL, &ev);
    if (err == CL_SUCCESS) err = clFinish(dev->queue);
    *h1 = tsr_now_ns();
    if (err == CL_SUCCESS)
        err = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof *d, d, NULL);
    if (ev) clReleaseEvent(ev);
    return (err == CL_SUCCESS && *d != 0) ? 0 : -1;
}

/* Fills dev->clock_offset_ns / clock_error_ns (method: file comment). Failure leaves offset 0
 * and error UINT64_MAX (timestamps then are device times; logged). */
static void calibrate_clock(tsr_context *ctx, struct tsr_cl_device *dev) {
    dev->clock_offset_ns = 0;
    dev->clock_error_ns = UINT64_MAX;
    cl_mem scratch = NULL;
    for (int use_write = 0; use_write < 2 && dev->clock_error_ns == UINT64_MAX; use_write++) {
        if (use_write) {
            cl_int err;
            scratch = clCreateBuffer(dev->context, CL_MEM_READ_WRITE, 64, NULL, &err);
            if (!scratch) break;
        }
        for (int t = 0; t < 8; t++) {
            uint64_t h0, h1;
            cl_ulong d;
            if (clock_trial(dev, scratch, use_write, &h0, &h1, &d) != 0) break;
            uint64_t half = (h1 - h0) / 2;
            if (half < dev->clock_error_ns) {
                dev->clock_error_ns = half;
                dev->clock_offset_ns = (int64_t)(h0 + half) - (int64_t)d;
            }
        }
    }
    if (scratch) clReleaseMemObject(scratch);
    if (dev->clock_error_ns == UINT64_MAX)
        tsr_log(ctx, TSR_LOG_WARN,
                "OpenCL %s: no profiling data from the driver; device times are not mapped to "
                "the host clock",
                dev->id);
    else
        tsr_log(ctx, TSR_LOG_DEBUG, "OpenCL %s: device clock = host clock %+lld ns (± %llu ns)",
                dev->id, (long long)dev->clock_offset_ns, (unsigned long long)dev->clock_error_ns);
}

tsr_status tsr_cl_device_ready(tsr_context *ctx, int i, struct tsr_cl_device **out) {
    struct tsr_opencl_backend *ocl = tsr_opencl_backend_of(ctx);
    if (!ocl || i < 0 || i >= ocl->n_devices)
        return TSR_ERR(ctx, TSR_E_DEVICE, "OpenCL device opencl:%d does not exist (%d devices)", i,
                       tsr_opencl_device_count(ocl));
    struct tsr_cl_device *d = &ocl->devices[i];
    pthread_mutex_lock(&d->lock);
    tsr_status st = TSR_OK;
    if (!d->ready) {
        cl_int err = CL_SUCCESS;
        cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)d->platform,
                                         0};
        d->context = clCreateContext(props, 1, &d->device, NULL, NULL, &err);
        if (!d->context) {
            st = TSR_ERR_CL(ctx, tsr_cl_status(err), err, "OpenCL %s: clCreateContext: %s (%d)",
                            d->id, tsr_cl_error_name(err), (int)err);
            goto done;
        }
        d->queue = clCreateCommandQueue(d->context, d->device, CL_QUEUE_PROFILING_ENABLE, &err);
        if (!d->queue) {
            st =
                TSR_ERR_CL(ctx, tsr_cl_status(err), err, "OpenCL %s: clCreateCommandQueue: %s (%d)",
                           d->id, tsr_cl_error_name(err), (int)err);
            clReleaseContext(d->context);
            d->context = NULL;
            goto done;
        }
        calibrate_clock(ctx, d);
        d->ready = 1;
    }
done:
    pthread_mutex_unlock(&d->lock);
    if (st == TSR_OK) *out = d;
    return st;
}
