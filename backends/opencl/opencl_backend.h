/*
 * opencl_backend.h — the OpenCL backend's context-level state: platforms and devices found
 * through the ICD loader, one context + in-order profiling queue per device, device memory
 * pools, the program cache. The per-plan side is tsr_opencl_backend_ops (runtime/program.h).
 */
#ifndef TSR_OPENCL_BACKEND_H
#define TSR_OPENCL_BACKEND_H

#include "runtime/internal.h"

/* Enumerates OpenCL platforms and devices. No ICD loader, no platform (CL_PLATFORM_NOT_FOUND_KHR)
 * or no device is not an error: *out = NULL, TSR_OK, and an info-level log line saying why.
 * Returns TSR_OK or TSR_E_NOMEM. Thread-safe: discovery is serialised process-wide (cl_platform.c).
 */
tsr_status tsr_opencl_backend_create(tsr_context *ctx, struct tsr_opencl_backend **out);
/* Releases queues, contexts, pools and cached programs. NULL is a no-op. */
void tsr_opencl_backend_destroy(struct tsr_opencl_backend *ocl);

/* Number of OpenCL devices (0 when ocl is NULL). */
int tsr_opencl_device_count(const struct tsr_opencl_backend *ocl);
/* Fills the identity fields of dev (backend, index, id "opencl:N", name, vendor, driver,
 * platform, device type, compute units, clock, memory, locality via scheduler/topology.h).
 * Estimates (est_*) are filled by the scheduler. */
void tsr_opencl_device_info(const struct tsr_opencl_backend *ocl, tsr_context *ctx, int i,
                            struct tsr_device_info *dev);
/* Device pool statistics of OpenCL device i. Returns TSR_OK or TSR_E_INVALID_ARG. */
tsr_status tsr_opencl_pool_stats(const struct tsr_opencl_backend *ocl, int i,
                                 struct tsr_pool_stats *out);

#endif
