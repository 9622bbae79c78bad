/*
 * hetero.h — running one lowered program across several devices (issue 5, part 4).
 *
 * Given a device per kernel (scheduler/place.h), the program is split into segments: maximal runs
 * of consecutive kernels (program order) assigned to one device. Each segment becomes a
 * sub-program that its device's backend prepares like any program:
 *   - constants it reads stay constants (shared with the parent program, uploaded per device);
 *   - a buffer it reads but does not write (graph input, or written by an earlier segment) is a
 *     sub-program INPUT;
 *   - a buffer it writes that is a graph output or is read by a later segment is a sub-program
 *     OUTPUT;
 *   - every other buffer stays an arena TEMP at its planned offset (the parent's liveness plan
 *     is valid for any subset of its kernels).
 * Buffers crossing segments live in host memory: graph inputs and outputs are the caller's
 * tensors, the others are host staging buffers allocated once at prepare. A run executes the
 * segments one after the other (each backend's execute blocks until its outputs are in host
 * memory): there is NO overlap between devices, and every crossing costs a device→host and a
 * host→device copy on OpenCL devices.
 *
 * Fallback: a segment on a non-host device whose prepare or execute fails with a device status
 * (TSR_E_DEVICE, TSR_E_DEVICE_NOMEM, TSR_E_BUILD) is re-prepared on the host device
 * (tsr_context_host_device: the native CPU, device 0)
 * with a warning when fallback is allowed; the run then completes with correct outputs.
 */
#ifndef TSR_RUNTIME_HETERO_H
#define TSR_RUNTIME_HETERO_H

#include "runtime/program.h"

struct tsr_hetero;

/* Splits prog by assign[k] (index into ctx->devices for each kernel) and prepares every
 * segment. prog must outlive the result. Returns TSR_OK, TSR_E_INVALID_ARG (NULL, or an assign
 * entry that is not a device), TSR_E_NOMEM, or the failing backend's status (TSR_E_DEVICE,
 * TSR_E_DEVICE_NOMEM, TSR_E_BUILD, TSR_E_UNSUPPORTED) when allow_fallback is 0 or the CPU
 * itself failed. Error details recorded on ctx. */
tsr_status tsr_hetero_prepare(tsr_context *ctx, const struct tsr_program *prog, const int *assign,
                              int allow_fallback, struct tsr_hetero **out);

/* One run: inputs/outputs indexed like prog->input_buffers / output_buffers, validated by the
 * caller. Allocates nothing. Returns TSR_OK, or a backend status (after fallback when allowed).
 * Not thread-safe for one tsr_hetero. */
tsr_status tsr_hetero_execute(struct tsr_hetero *h, const struct tsr_tensor *inputs,
                              struct tsr_tensor *outputs);

/* Frees the segments, their executables and the staging buffers. NULL is a no-op. */
void tsr_hetero_release(struct tsr_hetero *h);

/* Number of segments; device (index into ctx->devices, after any fallback) of kernel k of the
 * parent program, or -1 when out of range. */
int tsr_hetero_segment_count(const struct tsr_hetero *h);
int tsr_hetero_kernel_device(const struct tsr_hetero *h, int k);

/* Number of segments that fell back to the CPU. */
int tsr_hetero_fallbacks(const struct tsr_hetero *h);

#endif
