/*
 * place.h — placement of a lowered program's kernels across devices (issue 5, part 4).
 *
 * HEFT list scheduling (Topcuoglu, Hariri, Wu, "Performance-effective and low-complexity task
 * scheduling for heterogeneous computing", IEEE TPDS 13(3), 2002) over the program's kernels:
 *
 *   tasks        the kernels of the program (already topologically ordered by lowering);
 *   edges        kernel i → kernel j when j reads the buffer i writes, weighted by its bytes;
 *   w(k, d)      tsr_cost_kernel_ms on device d (scheduler/cost.h);
 *   c(i→j, a, b) 0 when a == b, else the hop through host memory: d2h of the bytes on a (when a
 *                is an OpenCL device) + h2d on b (when b is) + b's per-run overhead (a segment
 *                switch costs one more run on b: enqueue + clFinish round trip);
 *                graph inputs read by k on an OpenCL device cost their h2d; graph outputs
 *                written on an OpenCL device their d2h.
 *   rank_u(k)    mean_d w(k, d) + max over successors j of (mean c(k→j) + rank_u(j)), the mean
 *                communication cost taken over ordered device pairs a != b (paper, eq. 3-4);
 *   assignment   kernels in decreasing rank_u, each to the device of earliest finish time with
 *                the insertion policy (a kernel may fill an idle gap on a device).
 *
 * Execution (runtime/hetero.c) runs the kernels in program order as per-device segments, one
 * after the other: there is no overlap between devices. tsr_sched_place_predict_ms therefore
 * predicts an assignment as that sequential run (sum over segments of the segment's program cost,
 * cost.h), which is what the `auto` decision compares with the best single device; the HEFT
 * makespan (which assumes overlap) is only reported.
 *
 * Only devices with figures (tsr_cost_inputs_of) take part, and a kernel only on the devices
 * whose backend can run it (runtime/backend.h, tsr_backend_supports): w(k, d) and the means
 * over devices are taken over those. Every function is thread-safe.
 */
#ifndef TSR_SCHEDULER_PLACE_H
#define TSR_SCHEDULER_PLACE_H

#include "runtime/program.h"

#include <stddef.h>

/* Relative gain hetero placement must predict over the best single device before `auto` uses
 * it (select.c's host margin: near-ties stay on one device, which has no hops and no risk). */
#define TSR_HETERO_MARGIN 0.10

/* HEFT assignment of prog's kernels to ctx's devices: assign[k] (caller's array of
 * prog->n_kernels ints) receives an index into ctx->devices. *makespan_ms (may be NULL) receives
 * HEFT's makespan (with overlap). Returns TSR_OK, TSR_E_INVALID_ARG (NULL argument),
 * TSR_E_NOMEM, TSR_E_UNSUPPORTED (no device has figures, or no device with figures can run some
 * kernel; the message names it). A program without kernels is TSR_OK. */
tsr_status tsr_sched_place_heft(tsr_context *ctx, const struct tsr_program *prog, int *assign,
                                double *makespan_ms);

/* Predicted ms of one sequential run of prog with kernel k on ctx->devices[assign[k]] (see the
 * file comment): segments are maximal runs of consecutive kernels on one device; a segment
 * costs its device's per-run overhead, its kernels, and the transfers of the buffers it reads
 * from (writes to) outside the segment when the device is an OpenCL device. *n_segments (may be
 * NULL) receives the number of segments. HUGE_VAL on bad arguments, a device without figures,
 * or a kernel assigned to a device that cannot run it (tsr_backend_supports). */
double tsr_sched_place_predict_ms(tsr_context *ctx, const struct tsr_program *prog,
                                  const int *assign, int *n_segments);

#endif
