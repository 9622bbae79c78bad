/*
 * opencl_backend.h — the OpenCL backend's context-level state: platforms and devices found
 * through the ICD loader, one context + in-order profiling queue per device, device memory
 * pools, the program cache. The backend itself is tsr_opencl_backend_ops (runtime/backend.h).
 */
#ifndef TSR_OPENCL_BACKEND_H
#define TSR_OPENCL_BACKEND_H

#include "runtime/backend.h"

struct tsr_opencl_backend; /* backends/opencl/cl_internal.h */

/* The OpenCL backend's vtable (cl_backend.c), listed by runtime/backend_registry.c when built
 * with TSR_WITH_OPENCL. */
extern const struct tsr_backend_ops tsr_opencl_backend_ops;

/* The OpenCL backend's state in ctx, or NULL (no device found, excluded by TSR_BACKENDS or
 * options, or ctx NULL). Thread-safe. */
struct tsr_opencl_backend *tsr_opencl_backend_of(const tsr_context *ctx);

/* Enumerates OpenCL platforms and devices. No ICD loader, no platform (CL_PLATFORM_NOT_FOUND_KHR)
 * or no device is not an error: *out = NULL, TSR_OK, and an info-level log line saying why.
 * Returns TSR_OK or TSR_E_NOMEM. Thread-safe: discovery is serialised process-wide (cl_platform.c).
 */
tsr_status tsr_opencl_backend_create(tsr_context *ctx, struct tsr_opencl_backend **out);
/* Releases queues, contexts, pools and cached programs. NULL is a no-op. */
void tsr_opencl_backend_destroy(struct tsr_opencl_backend *ocl);

/* Number of OpenCL devices (0 when ocl is NULL). */
int tsr_opencl_device_count(const struct tsr_opencl_backend *ocl);
/* Fills the identity fields of dev (id "opencl:N", name, vendor, driver, platform, device type,
 * compute units, clock, memory, locality via cl_topology.c) after zeroing it. The context
 * writes backend, index and id again (runtime/backend.h); the scheduler fills est_*. */
void tsr_opencl_device_info(const struct tsr_opencl_backend *ocl, tsr_context *ctx, int i,
                            struct tsr_device_info *dev);
/* Device pool statistics of OpenCL device i. Returns TSR_OK or TSR_E_INVALID_ARG. */
tsr_status tsr_opencl_pool_stats(const struct tsr_opencl_backend *ocl, int i,
                                 struct tsr_pool_stats *out);
/* Releases cached blocks of OpenCL device i's pool until at most keep bytes stay cached
 * (tsr_pool_trim); *released gets the bytes. Returns TSR_OK or TSR_E_INVALID_ARG. */
tsr_status tsr_opencl_pool_trim(struct tsr_opencl_backend *ocl, int i, uint64_t keep,
                                uint64_t *released);

/* Locality of an OpenCL device (`cl_device` is a cl_device_id) via hwloc's OpenCL helpers
 * (cl_topology.c): writes a short text (e.g. "PCI 0000:01:00.0, NUMA 0" or "host cores" for a
 * CPU device, "unknown") into buf and the NUMA node (-1 unknown) into *numa_node (may be NULL).
 * topo or cl_device NULL gives "unknown" and -1. Thread-safe. */
void tsr_topology_opencl_locality(const struct tsr_topology *topo, void *cl_device, char *buf,
                                  size_t buf_size, int *numa_node);

/* The OpenCL backend's calibrate member (cl_calibrate.c): measures the host <-> device transfer
 * figures of OpenCL device `cl_index` (index within the backend; definitions in
 * runtime/calibration.h) into out->h2d_gbps, d2h_gbps, h2d_small_gbps, d2h_small_gbps and
 * latency_us, with raw OpenCL calls on the device's queue under its exec lock and a buffer of its
 * own (not the pool, so pool statistics and TSR_FAULT counters are untouched); leaves every other
 * field alone. Returns TSR_OK, TSR_E_INVALID_ARG, TSR_E_DEVICE, TSR_E_DEVICE_NOMEM, TSR_E_NOMEM.
 * Thread-safe. */
struct tsr_calibration;
tsr_status tsr_calib_measure_opencl(tsr_context *ctx, int cl_index, struct tsr_calibration *out);

#endif
