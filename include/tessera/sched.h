/*
 * tessera/sched.h — the scheduler's figures, public: each device's measured calibration, the
 * predictions of a compiled plan, its placement, and what `auto` would pick for a typical
 * workload and why. What `tessera info` and `tessera run --explain` print.
 *
 * A separate topic header: include it next to (or instead of) tessera.h, which it includes.
 * The conventions of tessera.h apply (statuses, ownership, units in the names, thread safety).
 *
 * Calibration (issue 5): every device is measured once per machine (a few seconds) and the
 * figures are kept in a versioned cache file (the context's options.cache_dir, else
 * $TSR_CACHE_DIR, else $XDG_CACHE_HOME/tessera, else $HOME/.cache/tessera) that later processes
 * reuse; the cost model that places and predicts plans reads them. When compiles measure is the
 * context's calibration policy (struct tsr_context_options.calibration, tsr_calibrate_policy in
 * tessera.h; default: TSR_CALIBRATE=auto|off|skip|cached|force). Every measurement is announced
 * (device, reason; then seconds and figures) through the context's log path at the default log
 * level (tsr_context_create).
 * Units: GB/s are 1e9 bytes per second, GFLOP/s and Gop/s 1e9 per second, µs and ms wall time.
 */
#ifndef TESSERA_SCHED_H
#define TESSERA_SCHED_H

#include "tessera.h"

#ifdef __cplusplus
extern "C" {
#endif
TSR_API_BEGIN

/* ------------------------------------------------------------------------------------------ */
/* Calibration figures                                                                         */
/* ------------------------------------------------------------------------------------------ */

#define TSR_CALIBRATION_MAX_GEMM 8 /* most points of a GEMM curve */
#define TSR_CALIBRATION_MAX_BW   4 /* most points of a bandwidth curve */

/* One point of the bandwidth curve: an elementwise copy whose working set (bytes read +
 * written) is `bytes`, run at `gbps`. */
struct tsr_calibration_bw_point {
    double bytes;
    double gbps;
};

/* One point of the GEMM curve: C[m, n] = A[m, k] · B[k, n] in float32 at `gflops`
 * (2mnk / seconds / 1e9). */
struct tsr_calibration_gemm_point {
    int64_t m, n, k;
    double gflops;
};

/* The measured figures of one device. A figure a backend does not measure is 0 (the native CPU
 * has no host↔device transfers, OpenCL devices no convolution rates). */
struct tsr_calibration_info {
    /* Cache key: backend, device name, driver and tessera versions, CPU ISA and threads, build
     * kind, kernels version ("|"-separated); the cache file is named after its hash. */
    char key[512];
    double bandwidth_gbps; /* device memory bandwidth (largest point of bw[]), GB/s */
    int n_bw;              /* 0 .. TSR_CALIBRATION_MAX_BW points, increasing bytes */
    struct tsr_calibration_bw_point bw[TSR_CALIBRATION_MAX_BW];
    int n_gemm; /* 1 .. TSR_CALIBRATION_MAX_GEMM points, increasing 2mnk */
    struct tsr_calibration_gemm_point gemm[TSR_CALIBRATION_MAX_GEMM];
    double launch_us;       /* cost of one more kernel within a run, µs */
    double run_overhead_us; /* fixed cost of a run (beyond its kernels), µs */
    double h2d_gbps;        /* host → device, 64 MiB transfers, net of latency, GB/s */
    double d2h_gbps;        /* device → host, 64 MiB transfers, net of latency, GB/s */
    double h2d_small_gbps;  /* host → device, 256 KiB transfers, GB/s */
    double d2h_small_gbps;  /* device → host, 256 KiB transfers, GB/s */
    double latency_us;      /* one small (4-byte) blocking host↔device transfer, µs */
    double trans_gops;      /* exp / sigmoid elementwise throughput, 1e9 ops/s */
    double trans_slow_gops; /* tanh / erf elementwise throughput, 1e9 ops/s */
    double conv_gflops;     /* small 3x3 convolution with bias + ReLU, GFLOP/s */
    double dwconv_gflops;   /* depthwise 3x3 convolution, GFLOP/s */
    double seconds;         /* wall time the measurement took, s */
    int64_t created_unix;   /* when it was measured, seconds since the Unix epoch */
};

/* The calibration of device `device` (0 .. tsr_device_count - 1) known to this process —
 * measured by it, or loaded from a valid cache file when the context was created or the device
 * was first compiled for — into *out. Never measures. Returns TSR_OK, TSR_E_INVALID_ARG (NULL
 * ctx or out, no such device), TSR_E_NOT_FOUND (no figures known yet; the scheduler then uses
 * built-in estimates, tsr_device_info.est_*). Thread-safe. */
tsr_status tsr_device_calibration(const tsr_context *ctx, int device,
                                  struct tsr_calibration_info *out);

/* Calibrates device `device` now: unless `force`, reuses figures known to this process or a
 * valid cache file; otherwise (or when there is none) measures (about 1.5 s for the CPU, a few
 * seconds for an OpenCL device; announced, reason "requested" when forced), rewrites the cache
 * file of the context's cache directory (a write failure is logged, not an error) and remembers
 * the figures. The context's calibration policy does not apply: this call is the explicit
 * request it leaves open (also under TSR_CALIBRATE_SKIP). On success the device's est_* figures
 * (tsr_device_get_info) follow the calibration and *out (may be NULL) receives it. Returns TSR_OK,
 * TSR_E_INVALID_ARG (NULL ctx, no such device), TSR_E_NOMEM, TSR_E_DEVICE (a device call failed;
 * the message names it), TSR_E_DEVICE_NOMEM, TSR_E_BUILD, TSR_E_UNSUPPORTED (a backend without a
 * calibrator). Thread-safe (one measurement at a time per process), but a concurrent
 * tsr_device_get_info or compile may see the est_* figures half updated. */
tsr_status tsr_device_calibrate(tsr_context *ctx, int device, int force,
                                struct tsr_calibration_info *out);

/* ------------------------------------------------------------------------------------------ */
/* Predictions and placement of a plan                                                         */
/* ------------------------------------------------------------------------------------------ */

/* Predicted milliseconds of one run of `plan` by the cost model: its device's calibrated
 * figures (or estimates) over its kernels, the per-run overhead and the host↔device transfers of
 * inputs and outputs; for a plan placed across devices, its segments one after the other.
 * HUGE_VAL when plan is NULL or a device has no figures. Reads the device figures, which a
 * concurrent tsr_device_calibrate may change; otherwise as thread-safe as the plan (one thread at
 * a time). */
double tsr_plan_predicted_ms(const tsr_plan *plan);

/* Predicted milliseconds of kernel k (0 .. tsr_plan_kernel_count - 1, the order of
 * tsr_plan_kernel_info) on the device it runs on, launch cost included, into *out. Returns
 * TSR_OK, TSR_E_INVALID_ARG (NULL plan or out, no kernel k), TSR_E_NOT_FOUND (the kernel's
 * device has neither calibration nor estimates). Thread safety as tsr_plan_predicted_ms. */
tsr_status tsr_plan_kernel_predicted_ms(const tsr_plan *plan, int k, double *out);

/* Placement the plan runs with: "hetero" or "alternate" when its kernels were spread across
 * devices (requested, or `auto` found hetero faster), else "single" (also when a spread was
 * requested but the context has one device or placement failed; tsr_plan_device_reason says
 * why); "" for a NULL plan. Static storage or owned by the plan, valid until tsr_plan_destroy. */
const char *tsr_plan_placement(const tsr_plan *plan);

/* ------------------------------------------------------------------------------------------ */
/* What `auto` would pick                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* The summary of a workload the device choice reads. */
struct tsr_workload_info {
    double flops;        /* floating-point operations per run (multiply-add = 2) */
    double bytes;        /* bytes read + written by the kernels per run */
    int kernels;         /* kernel launches per run */
    double io_bytes;     /* graph input + output bytes (moved host↔device off the CPU) */
    double weight_bytes; /* constant bytes (uploaded once, not per run) */
};

/* What the device choice makes of the typical workload (an MLP layer batch: a 256x1024x1024
 * GEMM and its elementwise epilogue). */
struct tsr_typical_choice {
    struct tsr_workload_info workload; /* the typical workload */
    int device;                        /* the device `auto` would pick (tsr_device_get_info) */
    char reason[2048]; /* one line: each device's prediction, then the choice and the rule */
};

/* Which device `auto` would pick for the typical workload and why (roofline predictions from
 * each device's current figures), into *out. Returns TSR_OK, TSR_E_INVALID_ARG (NULL ctx or
 * out), TSR_E_NOMEM. Thread-safe. */
tsr_status tsr_sched_typical_choice(const tsr_context *ctx, struct tsr_typical_choice *out);

/* Predicted milliseconds per run of the typical workload on device `device` (the figure behind
 * struct tsr_typical_choice's reason) into *out. Returns TSR_OK, TSR_E_INVALID_ARG (NULL ctx or
 * out, no such device). Thread-safe. */
tsr_status tsr_sched_typical_predicted_ms(const tsr_context *ctx, int device, double *out);

TSR_API_END
#ifdef __cplusplus
}
#endif

#endif /* TESSERA_SCHED_H */
