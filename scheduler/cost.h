/*
 * cost.h — the calibrated cost model (issue 5, part 2): predicted time of a kernel, a transfer
 * and a whole program on one device.
 *
 * Figures come from the device's calibration (calibrate.h) when this process knows one
 * (measured or loaded from the cache); otherwise from the device's est_* fields (the v1
 * estimates of select.c), with a flat GEMM curve at est_gflops, no per-run overhead and no
 * transfer latency. struct tsr_cost_inputs is that resolved set of figures.
 *
 * Formulas (times in seconds; B = bytes, F = FLOPs from the lowered kernel, runtime/program.h):
 *   kernel (GEMM, CONV)  launch + max(F / gemm_rate(F / batch), B / bandwidth(B))
 *                        + (OpenCL GEMM with C, residual or activation: one more launch for the
 *                        epilogue kernel)
 *     gemm_rate(f)       measured GFLOP/s interpolated linearly in log(2mnk) between the
 *                        calibrated points, constant beyond the first and last point; a batched
 *                        GEMM uses the size of one batch item.
 *     GEMM floor         (format 3) a GEMM kernel's compute time is at least that of the
 *                        smallest calibrated GEMM (32^3) per call: per batch item on the CPU (one
 *                        sgemm per item), once on OpenCL (one strided-batched CLBlast call). Tiny
 *                        GEMMs pay a fixed cost (PoCL + CLBlast: ~15 µs) that FLOPs / rate misses.
 *     conv rate          (format 3) depthwise conv (group == C == M > 1): the calibrated
 *                        dwconv_gflops; other convs with a window larger than 1x1:
 *                        min(conv_gflops, gemm_rate(F)), conv_gflops measured on a small 3x3
 *                        conv (so large convs are predicted conservatively); 1x1 convs:
 *                        gemm_rate(F). Unknown figures (0, OpenCL devices) fall back to
 *                        gemm_rate(F).
 *     bandwidth(B)       (format 3) calibrated copy bandwidth interpolated linearly in log(B)
 *                        between the bw[] points by the kernel's working set B (bytes read +
 *                        written), constant beyond the first and last point: small kernels run
 *                        from the caches, several times faster than 16 Mi-element ones. Without
 *                        points: the single bandwidth figure.
 *   kernel (other)       launch + max(F / peak + T / trans_rate, B / bandwidth(B)), peak = best
 *                        measured GEMM rate (the roofline of Williams, Waterman, Patterson,
 *                        CACM 52(4), 2009), T = transcendental ops of the kernel (elementwise
 *                        EXP, LOG, TANH, SIGMOID, ERF, GELU, GELU_TANH per output element, POW
 *                        twice; softmax one EXP per element; GEMM/Conv sigmoid/tanh epilogue one
 *                        per output element), trans_rate = calibrated trans_gops: such kernels
 *                        are compute-bound in the math library, not bandwidth-bound. Format 3
 *                        splits T: EXP, LOG, SIGMOID (softmax's EXP, sigmoid epilogues) at
 *                        trans_gops; TANH, ERF, GELU, GELU_TANH, POW (tanh epilogues) at
 *                        trans_slow_gops.
 *   transfer of B bytes  latency + B / transfer bandwidth (h2d for inputs, d2h for outputs);
 *                        0 on the native CPU (it reads and writes the caller's memory). Format 3:
 *                        the bandwidth is interpolated linearly in log(B) between the 256 KiB
 *                        (small) and 64 MiB figures, constant outside.
 *   program              run_overhead + sum(kernels) + sum(input transfers)
 *                        + sum(output transfers); constants are uploaded once at prepare and
 *                        are not part of a run.
 */
#ifndef TSR_SCHEDULER_COST_H
#define TSR_SCHEDULER_COST_H

#include "runtime/program.h"
#include "scheduler/calibrate.h"

/* The figures a prediction uses (see the file comment for where they come from). */
struct tsr_cost_inputs {
    int calibrated;         /* 1: from a calibration; 0: v1 estimates */
    int device_memory;      /* 1 when the device has its own memory (!host_memory: transfers
                               apply; GEMM costs as the OpenCL backend runs it, file comment) */
    double peak_gflops;     /* best GEMM rate */
    double bandwidth_gbps;  /* device memory */
    double launch_us;       /* per kernel */
    double run_overhead_us; /* per run */
    double h2d_gbps, d2h_gbps, latency_us;
    double trans_gops;      /* exp/log/sigmoid elementwise ops per second, 1e9; 0 = not modelled */
    double trans_slow_gops; /* tanh/erf/gelu/pow ops per second, 1e9; 0 = trans_gops */
    double h2d_small_gbps, d2h_small_gbps; /* 256 KiB transfers; 0 = the large figures */
    int n_gemm;
    struct tsr_calib_gemm gemm[TSR_CALIB_MAX_GEMM];
    int n_bw; /* bandwidth curve (0: bandwidth_gbps everywhere) */
    struct tsr_calib_bw bw[TSR_CALIB_MAX_BW];
    double conv_gflops;   /* 0 = unknown */
    double dwconv_gflops; /* 0 = unknown */
};

/* Resolves the figures of dev (calibration when known, else est_*). Returns 0, or -1 when the
 * device has neither (est_gflops or est_gbps <= 0): predictions are then HUGE_VAL. */
int tsr_cost_inputs_of(const struct tsr_device_info *dev, struct tsr_cost_inputs *out);

/* tsr_cost_inputs_of for context device d, its estimates read under the context's estimates
 * lock (tsr_device_snapshot: a concurrent calibration is seen whole). Returns 0, or -1 for no
 * figures or a bad argument. Thread-safe. */
int tsr_cost_inputs_of_device(const tsr_context *ctx, int d, struct tsr_cost_inputs *out);

/* GEMM throughput in GFLOP/s for a GEMM of `flops` FLOPs (interpolation rule above). */
double tsr_cost_gemm_gflops(const struct tsr_cost_inputs *in, double flops);

/* Memory bandwidth in GB/s for a kernel whose working set is `bytes` (rule above). */
double tsr_cost_bandwidth_gbps(const struct tsr_cost_inputs *in, double bytes);

/* Transcendental ops one run of kernel k evaluates (rule above): the total, and when slow is
 * not NULL *slow receives the part that runs at trans_slow_gops. */
double tsr_cost_kernel_trans_ops(const struct tsr_kernel *k, double *slow);

/* Predicted ms of one kernel of a run. HUGE_VAL for NULL arguments. */
double tsr_cost_kernel_ms(const struct tsr_cost_inputs *in, const struct tsr_kernel *k);

/* Predicted ms of moving `bytes` host→device (to_device = 1) or device→host. 0 on the CPU. */
double tsr_cost_transfer_ms(const struct tsr_cost_inputs *in, double bytes, int to_device);

/* Predicted ms of one run of prog on dev, transfers of inputs and outputs included (formula
 * above). HUGE_VAL when dev has no figures or an argument is NULL. Thread-safe. */
double tsr_sched_predict_program_ms(const struct tsr_device_info *dev,
                                    const struct tsr_program *prog);

/* tsr_sched_predict_program_ms for context device d (estimates read as by
 * tsr_cost_inputs_of_device). HUGE_VAL on bad arguments or no figures. Thread-safe. */
double tsr_sched_predict_device_ms(const tsr_context *ctx, int d, const struct tsr_program *prog);

/* The same with the resolved inputs, and the parts: *kernels_ms (sum of kernels) and
 * *transfer_ms (inputs + outputs) when not NULL. */
double tsr_cost_program_ms(const struct tsr_cost_inputs *in, const struct tsr_program *prog,
                           double *kernels_ms, double *transfer_ms);

#endif
