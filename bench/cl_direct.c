/* cl_direct.c — a private OpenCL context and queue on one tessera OpenCL device (bench.h). */
#include "bench.h"

#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tsr_bench_device_of_backend(const tsr_context *ctx, const char *device_id,
                                const char *backend) {
    int idx = -1;
    struct tsr_device_info info;
    if (!ctx || !device_id || tsr_device_find(ctx, device_id, &idx) != TSR_OK ||
        tsr_device_get_info(ctx, idx, &info) != TSR_OK || strcmp(info.backend, backend) != 0)
        return -1;
    return info.index;
}

int tsr_bench_cl_open(const tsr_context *ctx, const char *device_id, struct tsr_bench_cl *out,
                      char *why, size_t why_size) {
    memset(out, 0, sizeof *out);
    int want = tsr_bench_device_of_backend(ctx, device_id, TSR_BENCH_OPENCL_BACKEND);
    if (want < 0) {
        snprintf(why, why_size, "'%s' is not an OpenCL device id", device_id);
        return -1;
    }
    cl_uint n_plat = 0;
    if (clGetPlatformIDs(0, NULL, &n_plat) != CL_SUCCESS || n_plat == 0) {
        snprintf(why, why_size, "no OpenCL platform");
        return -1;
    }
    cl_platform_id plats[16];
    if (n_plat > 16) n_plat = 16;
    clGetPlatformIDs(n_plat, plats, NULL);
    int seen = 0;
    for (cl_uint p = 0; p < n_plat; p++) {
        cl_uint n = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &n) != CL_SUCCESS) continue;
        cl_device_id ids[32];
        if (n > 32) n = 32;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, n, ids, NULL) != CL_SUCCESS) continue;
        for (cl_uint j = 0; j < n; j++, seen++) {
            if (seen != want) continue;
            cl_int err = 0;
            cl_context c = clCreateContext(NULL, 1, &ids[j], NULL, NULL, &err);
            if (!c) {
                snprintf(why, why_size, "clCreateContext failed (%d)", err);
                return -1;
            }
            cl_command_queue q = clCreateCommandQueue(c, ids[j], CL_QUEUE_PROFILING_ENABLE, &err);
            if (!q) {
                clReleaseContext(c);
                snprintf(why, why_size, "clCreateCommandQueue failed (%d)", err);
                return -1;
            }
            clGetDeviceInfo(ids[j], CL_DEVICE_NAME, sizeof out->name, out->name, NULL);
            out->platform = plats[p];
            out->device = ids[j];
            out->context = c;
            out->queue = q;
            return 0;
        }
    }
    snprintf(why, why_size, "%s does not exist (%d OpenCL devices)", device_id, seen);
    return -1;
}

void tsr_bench_cl_close(struct tsr_bench_cl *cl) {
    if (cl->queue) clReleaseCommandQueue(cl->queue);
    if (cl->context) clReleaseContext(cl->context);
    memset(cl, 0, sizeof *cl);
}
