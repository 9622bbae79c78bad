/*
 * cl_fault.h — fault injection and a device-memory cap for the OpenCL backend, so the fallback
 * to the CPU (runtime/plan.c) can be tested on a machine whose OpenCL device never fails.
 *
 * Environment (read once per process, on the first hook call, or again by tsr_cl_fault_reset):
 *   TSR_FAULT=kind:N[,kind:N...]   kind is cl_alloc, cl_build or cl_enqueue; the Nth (1-based,
 *                                  counted process-wide since the parse) event of that kind fails
 *                                  with a realistic OpenCL error:
 *       cl_alloc    a new device buffer (clCreateBuffer in the device pool, cl_pool.c)
 *                   → CL_MEM_OBJECT_ALLOCATION_FAILURE (→ TSR_E_DEVICE_NOMEM)
 *       cl_build    a program requested from the program cache and not already in its
 *                   in-memory table (built from source or loaded from the disk cache,
 *                   cl_program_cache.c) → CL_BUILD_PROGRAM_FAILURE (→ TSR_E_BUILD)
 *       cl_enqueue  a command enqueued by tessera's executor: constant upload at prepare, input
 *                   write, kernel or CLBlast GEMM, GEMM epilogue, output read (cl_backend.c,
 *                   cl_gemm.c) → CL_OUT_OF_RESOURCES (→ TSR_E_DEVICE_NOMEM)
 *                   Only the Nth event fails; later ones succeed. Unknown kinds or a bad N are
 *                   logged at warn level and ignored.
 *                   Events on a thread that measures a calibration (the probe programs run through
 *                   this backend's prepare / execute: runtime/calibration.h,
 *                   tsr_calib_thread_measuring) are not counted and never fail, so N counts the
 *                   events of real plans whether or not a compile calibrated first.
 *   TSR_OPENCL_MEM_LIMIT=BYTES     caps the bytes each device pool may reserve from the driver
 *                                  (struct tsr_cl_pool stats.bytes_reserved); a new buffer that
 *                                  would exceed it fails with CL_MEM_OBJECT_ALLOCATION_FAILURE.
 *                                  Suffixes K, M, G (powers of 1024) are accepted.
 *
 * The injected failure is applied after the real call succeeded (the real object is released
 * or the command is left to complete), so error paths see exactly what a driver failure gives.
 * Counters are C11 atomics: hooks are thread-safe and cost one atomic increment when armed and
 * one relaxed load when not.
 */
#ifndef TSR_OPENCL_CL_FAULT_H
#define TSR_OPENCL_CL_FAULT_H

#include "runtime/internal.h"

#include <CL/cl.h>
#include <stddef.h>

struct tsr_cl_pool;

/* Allocation hook, called right after clCreateBuffer(bytes) of the device pool returned `mem`
 * with *err. When the cl_alloc fault fires or the pool would exceed TSR_OPENCL_MEM_LIMIT, mem is
 * released, *err = CL_MEM_OBJECT_ALLOCATION_FAILURE and NULL is returned; otherwise mem is
 * returned unchanged. pool is read under its lock (for the cap); it may be NULL (no cap).
 * Thread-safe. */
cl_mem tsr_cl_fault_alloc(struct tsr_cl_pool *pool, size_t bytes, cl_mem mem, cl_int *err);

/* Build hook, called once per program request that misses the in-memory program table. Returns
 * TSR_OK, or TSR_E_BUILD recorded on ctx with CL_BUILD_PROGRAM_FAILURE and a message naming the
 * device id, the program label and the fault ("injected by TSR_FAULT=cl_build:N").
 * Thread-safe. */
tsr_status tsr_cl_fault_build(tsr_context *ctx, const char *dev_id, const char *label);

/* Enqueue hook, called right after an enqueue returned `err`. Returns err, or
 * CL_OUT_OF_RESOURCES when the cl_enqueue fault fires (only when err was CL_SUCCESS); then the
 * event *ev (when ev and *ev are not NULL) is released and set to NULL, since the caller's error
 * path does not expect one. The same integer values work for CLBlastStatusCode (CLBlast reuses
 * the OpenCL codes). Thread-safe. */
cl_int tsr_cl_fault_enqueue(cl_int err, cl_event *ev);

/* Re-reads TSR_FAULT and TSR_OPENCL_MEM_LIMIT and zeroes the counters (tests: setenv, then
 * reset, then create the context). Not to be called while OpenCL work runs on other threads. */
void tsr_cl_fault_reset(void);

/* Events counted so far by kind (0 cl_alloc, 1 cl_build, 2 cl_enqueue) since the last parse, and
 * the number of faults injected (kind -1 = sum of injected faults, including the memory cap).
 * For tests and logs. */
unsigned long tsr_cl_fault_count(int kind);

#endif
