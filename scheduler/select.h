/*
 * select.h — scheduler v1: per-device performance estimates and the `auto` device choice.
 *
 * The estimate is a roofline (Williams, Waterman, Patterson, "Roofline: an insightful visual
 * performance model", CACM 2009): time = max(flops / peak, bytes / bandwidth) per kernel, plus
 * a launch overhead per kernel and the host<->device transfer of inputs and outputs.
 */
#ifndef TSR_SCHEDULER_SELECT_H
#define TSR_SCHEDULER_SELECT_H

#include "runtime/internal.h"

struct tsr_program;

struct tsr_cpu_topology_info;

/* What the estimate needs to know about a plan. */
struct tsr_workload {
    double flops;        /* total floating-point operations per run */
    double bytes;        /* bytes read + written by kernels per run */
    int kernels;         /* kernel launches per run */
    double io_bytes;     /* graph input + output bytes (moved host<->device on OpenCL) */
    double weight_bytes; /* constant bytes (uploaded once, not per run) */
};

/* Fills dev->est_gflops, est_gbps, est_launch_us, est_transfer_gbps from what is known about
 * the device (CPU: cores, ISA vector width, clock; OpenCL: type, compute units, clock). The
 * formulas and constants are documented in select.c. cpu may be NULL. */
void tsr_sched_fill_estimates(struct tsr_device_info *dev, const struct tsr_cpu_topology_info *cpu);

/* Predicted milliseconds per run of `w` on `dev`. */
double tsr_sched_predict_ms(const struct tsr_device_info *dev, const struct tsr_workload *w);

/* Picks the device (index into devs) with the lowest predicted time; ties and OpenCL devices of
 * type CPU lose against the native CPU backend (same cores, extra copies). Writes a one-line
 * human-readable reason (each device's prediction) into reason. n_devs >= 1. */
int tsr_sched_choose(const struct tsr_device_info *devs, int n_devs, const struct tsr_workload *w,
                     char *reason, size_t reason_size);

/* A typical workload used by `tessera info` to say what auto would pick (an MLP layer batch:
 * 256x1024x1024 GEMM + elementwise). */
struct tsr_workload tsr_sched_typical_workload(void);

/* Issue 5 device choice for a lowered program (replaces tsr_sched_choose in tsr_compile's auto
 * path). Predictions per device from the calibrated cost model (cost.h,
 * tsr_sched_predict_program_ms: kernels + per-run overhead + input/output transfers). Rules, in
 * order (constants in select.c):
 *   1. devices whose backend cannot run every kernel of prog (runtime/backend.h,
 *      tsr_backend_supports_program: the reason goes into `reason`) and devices without figures
 *      are skipped; the native CPU (devices[0]) is the default;
 *   2. small graphs stay where their inputs are: when the CPU's prediction is below
 *      TSR_SMALL_GRAPH_MS the CPU is chosen;
 *   3. another device must be predicted faster than the CPU by more than TSR_HOST_MARGIN
 *      (relative), so near-ties stay on the host (no copies, no driver);
 *   4. among devices within TSR_NUMA_TIE of the fastest, one attached to the calling thread's NUMA
 *      node (device numa_node == tsr_topology_thread_numa_node) is preferred over a farther one.
 * Writes the decision into reason: each device's prediction (kernels and transfers split) and
 * inputs (peak GFLOP/s, bandwidth, launch, per-run overhead, transfer bandwidth and latency,
 * NUMA node; "calibrated" or "estimated"), then the choice and the rule that made it (truncated
 * to reason_size). Returns the index into ctx->devices (0 on bad arguments). Thread-safe. */
int tsr_sched_choose_program(tsr_context *ctx, const struct tsr_program *prog, char *reason,
                             size_t reason_size);

/* Tuning constants of tsr_sched_choose_program (documented in select.c). */
#define TSR_SMALL_GRAPH_MS 0.05
#define TSR_HOST_MARGIN    0.05
#define TSR_NUMA_TIE       0.05

#endif
