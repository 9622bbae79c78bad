/*
 * calibration.h — the calibration record of one device (measured performance figures, issue 5
 * part 1), the timing rule and statistics every measurement uses, and the cache file that keeps
 * a record between processes. Below both the scheduler (which decides when to measure, runs the
 * probe programs and reads the figures: scheduler/calibrate.h, scheduler/calib_probe.c,
 * scheduler/cost.h) and the backends (whose optional calibrate member measures what no program
 * can: runtime/backend.h).
 *
 * Cache file (calib_store.c). A calibration is measured once per device (native CPU, each
 * OpenCL device), stored in a versioned JSON file and reused by every later process:
 *
 *   directory   the context's options.cache_dir, else $TSR_CACHE_DIR, else
 *               $XDG_CACHE_HOME/tessera, else $HOME/.cache/tessera
 *   file        calibration-<16 hex digits of FNV-1a-64(key)>.json
 *   key         "<backend>|<device name>|<driver version>|<tessera version>" and, for a device
 *               that reports an ISA tier (the native CPU), "|isa=<isa in use>|threads=<N>" (the
 *               figures depend on both), for any other "|<platform>"; then
 *               "|build=opt" or "|build=debug" (optimised or not: CPU kernels differ a lot),
 *               then "|kernels=<TSR_CALIB_KERNELS_VERSION>" (format 3): bump that constant when a
 *               backend's executor or the probe method changes speed (new GEMM partitioning, new
 *               elementwise tasks, ...) so every machine's old files are ignored and re-measured.
 *               To re-measure by hand: `tessera info --calibrate`, or TSR_CALIBRATE=force for
 *               one process.
 *
 * A file that is not a regular file of at most TSR_CALIB_MAX_FILE bytes (read without following
 * a symbolic link or blocking on a FIFO: runtime/cache_file.h), or whose format tag, format
 * version or key differs from the device's (another device's file swapped in), or that is not
 * exactly one JSON value, or holds a missing / non-finite / out-of-range figure (bounds below),
 * or whose checksum (format 4: FNV-1a-64 of the key and figures) differs, is ignored — warned
 * about through the context's log path with its path and the reason — and re-measured and
 * rewritten (policy auto) — never trusted. Files are written atomically (temporary file in the
 * same directory, rename(2); no fsync: a torn file fails validation); a directory that cannot be
 * written is warned about and the run goes on with the measured figures. A file of an older
 * format version is stale, not damaged: a miss, logged at info (tsr_calib_load returns -3).
 *
 * Statistics (calib_stats.c). Every figure is the median of repeated samples after rejecting
 * outliers by the median absolute deviation (MAD): with m = median(x) and MAD = median(|x - m|),
 * a sample is kept when |x - m| <= 3 * 1.4826 * MAD (1.4826 makes MAD a consistent estimator of
 * the standard deviation for normal data; the cut-off 3 is the "very conservative" threshold of
 * Leys et al., "Detecting outliers: do not use standard deviation around the mean, use absolute
 * deviation around the median", J. Exp. Soc. Psychol. 49(4), 2013). The figure is the median of
 * the kept samples. See tsr_calib_robust_median.
 *
 * Timing rule (calib_stats.c, tsr_calib_time_run and tsr_calib_time_rounds). After one warm-up
 * run, a sample repeats a run until it lasts >= 1 ms and (format 3) is the median of those runs'
 * individual times, not their mean: on a shared machine (2 cores here, other processes running)
 * a run of a few µs that needs both pool threads now and then waits a whole scheduler time slice
 * (~4 ms), and one such run would dominate a mean. Runs of 20 ms or more take 5 samples instead
 * of 9 (calibration time). The list of probes runs in 3 interleaved rounds and each probe keeps
 * the median of its rounds' figures, so a second in which another process holds one of the cores
 * (halving every 2-thread measurement) spoils at most one round. Medians throughout, because
 * `tessera run` reports the median run and the model predicts that; faster statistics (lower
 * quartile of runs, fastest round) were tried and under-predicted runs on this shared machine by
 * 40-50%. Times are host wall clock (tsr_now_ns) around a whole run, which ends with the device
 * drained, because the cost model predicts the wall time of runs.
 *
 * Measurements. Kernels version 4: every figure that a program can measure is measured by the
 * same probe programs (runtime/program.h IR) run through the device backend's prepare / execute /
 * release (scheduler/calib_probe.c), whatever the backend; a backend's optional calibrate member
 * adds only what no program can measure (OpenCL: host <-> device transfers). A probe program
 * reads CONST buffers (uploaded once at prepare; values 0.5 .. 1.5: no denormal / NaN slow paths
 * and no all-zero operands) and writes TEMP buffers of the arena: it has no graph inputs or
 * outputs, so a run is exactly its kernels plus the backend's fixed per-run cost (no
 * host <-> device copies). "Net" below means minus t1, the time of a run of one small region
 * (the launch probe), when that leaves more than half of the time: the cost model charges
 * run_overhead + launch per one-kernel run separately.
 *   bandwidth_gbps   device memory: the largest point of bw[] (format 3).
 *   bw[]             (format 3) bandwidth by working set: an elementwise COPY of 64 Ki, 1 Mi and
 *                    16 Mi floats (working set 512 KiB: in the per-core caches; 8 MiB; 128 MiB:
 *                    well beyond any cache), GB/s = 8n / net time. The backend runs its own
 *                    kernel for that region (OpenCL: the generated grid-stride loop with the
 *                    backend's global-size cap, which PoCL runs several times slower than a
 *                    plain float4 copy at 16 Mi elements).
 *                    Version 4: the CPU figures are now net of t1 as the OpenCL ones were
 *                    (t1 ~0.5 µs on the CPU: a few % at 64 Ki floats, nothing above).
 *   conv_gflops, dwconv_gflops  (format 3) GFLOP/s (net) of a 3x3 convolution with bias + ReLU
 *                    epilogue, N=2 C=8 M=16 16x16 pad 1 (the size of small CNN blocks; such
 *                    convs run im2col + many small GEMMs, several times below one GEMM of equal
 *                    FLOPs), and of a depthwise 3x3 convolution N=2 C=M=group=16 14x14 pad 1.
 *                    Version 4: measured on every device (before: the CPU only, 0 elsewhere).
 *   launch_us        cost of one more kernel in a run: (time of a run of 16 tiny kernels - time
 *                    of a run of 1) / 15, each kernel a 4-instruction elementwise region over
 *                    [8, 32] with a broadcast [1, 32] input (like the small fused regions of
 *                    real models). Version 4 on OpenCL: such regions through the backend's
 *                    execute (before: empty kernels enqueued directly on the queue), so the
 *                    figure includes the executor's real per-kernel cost and a tiny kernel's
 *                    execution, which is what a real plan pays per kernel.
 *   run_overhead_us  fixed cost of a run with one tiny kernel (t1), minus launch_us (CPU:
 *                    execute bookkeeping; OpenCL: the exec lock, clFinish round trip).
 *   trans_gops       transcendental elementwise throughput (format 2): a 256 Ki-element region
 *                    of EXP, SIGMOID, EXP, SIGMOID (4 transcendental ops per element): 1 Mi / net
 *                    time, in 1e9 ops/s. Such regions are compute-bound (PoCL: ~75x slower than
 *                    the bandwidth figure would say). Version 4: 256 Ki elements on every device
 *                    (before: 1 Mi on the CPU).
 *   trans_slow_gops  (format 3) like trans_gops for the slow transcendental ops: a region of
 *                    TANH, ERF, TANH, ERF per element (PoCL evaluates erf/tanh ~3x slower than
 *                    exp/sigmoid).
 *   gemm[]           (format 2) C[n,n] = A[n,n]·B[n,n], n = 32, 64, 128, 256, 512, and on a
 *                    host-memory device (the native CPU) also 1024, beyond the last-level cache
 *                    (a device with its own memory skips it for calibration time: PoCL would
 *                    spend seconds on it); GFLOP/s = 2n^3 / net time. Version 4 on OpenCL: the
 *                    backend's GEMM path (before: a bare CLBlastSgemm call).
 *   h2d_gbps, d2h_gbps  (the OpenCL backend's calibrate member) blocking clEnqueueWrite/
 *                    ReadBuffer of 64 MiB (format 3; 32 MiB before), net of latency_us; 0 on a
 *                    host-memory device.
 *   h2d_small_gbps, d2h_small_gbps  (format 3, OpenCL member) the same with 256 KiB, which runs
 *                    from the caches several times faster; 0 on the CPU.
 *   latency_us       (OpenCL member) a blocking 4-byte clEnqueueWriteBuffer (round trip).
 * Cost (2-core machine): CPU ~1.5 s; PoCL ~3-4 s once its kernel cache is warm (the
 * 16 Mi-element generated copy alone runs ~50-90 ms on PoCL).
 *
 * While a thread measures, it is marked (tsr_calib_thread_set_measuring): a backend's fault
 * injection neither counts nor fires for its prepare / execute calls (backends/opencl/cl_fault.c:
 * TSR_FAULT=...:N counts the events of real plans only, as when calibration bypassed the
 * executor) and the profiler records nothing from it (no probe runs in a user's trace).
 */
#ifndef TSR_RUNTIME_CALIBRATION_H
#define TSR_RUNTIME_CALIBRATION_H

#include "runtime/internal.h"
#include "tessera/sched.h"

#include <stddef.h>

#define TSR_CALIB_FORMAT_VERSION 4 /* 4: "checksum" (calib_store.c) */
/* Curve lengths: those of the public record (tessera/sched.h, struct tsr_calibration_info). */
#define TSR_CALIB_MAX_GEMM TSR_CALIBRATION_MAX_GEMM
#define TSR_CALIB_MAX_BW   TSR_CALIBRATION_MAX_BW
/* Version of the kernels and probes the figures were measured with (part of the key, see
 * above): bump it when a backend executor or the probe method changes speed. 2: CPU GEMM on
 * tessera's pool with single-threaded OpenBLAS blocks, ~256 KiB elementwise tasks, spinning pool
 * waits, scratch-blocked large GEMMs and prefetching streamed regions (commits 73523ef, c813852,
 * 11f06b8, 45e328a, 6b13bb9). 3: pool waits no longer spin, one GEMM block per thread. 4: one set
 * of probe programs through every backend's prepare / execute (file comment: OpenCL launch, GEMM
 * and conv figures, CPU transcendental size, netting). */
#define TSR_CALIB_KERNELS_VERSION 4

/* Cache file limits (calib_store.c): a larger file is not read; a figure above its bound is
 * rejected (a flipped exponent), as is one below its range (negative, or 0 where 0 is not
 * allowed). */
#define TSR_CALIB_MAX_FILE   ((size_t)1 << 20) /* bytes */
#define TSR_CALIB_MAX_GBPS   1e5               /* bandwidth figures, GB/s */
#define TSR_CALIB_MAX_GFLOPS 1e7               /* GEMM / conv / transcendental rates */
#define TSR_CALIB_MAX_US     1e6               /* launch, overhead, latency */
#define TSR_CALIB_MAX_DIM    (1 << 20)         /* GEMM point m, n, k */

/* Interleaved rounds of a probe list (file comment). */
#define TSR_CALIB_ROUNDS 3

/* One bandwidth point: an elementwise copy whose working set (bytes read + written) is `bytes`. */
struct tsr_calib_bw {
    double bytes;
    double gbps;
};

/* One measured GEMM point: C[m,n] = A[m,k]·B[k,n], f32. */
struct tsr_calib_gemm {
    int64_t m, n, k;
    double gflops; /* 2mnk / seconds / 1e9 */
};

struct tsr_calibration {
    char key[512];          /* see file comment */
    double bandwidth_gbps;  /* device memory bandwidth, GB/s (1e9 B/s) */
    double launch_us;       /* per-kernel overhead within a run, µs */
    double run_overhead_us; /* fixed per-run overhead, µs */
    double h2d_gbps;        /* host → device, GB/s; 0 for the native CPU */
    double d2h_gbps;        /* device → host, GB/s; 0 for the native CPU */
    double latency_us;      /* one small host↔device transfer, µs; 0 for the native CPU */
    double trans_gops;      /* exp/log/sigmoid elementwise ops per second, 1e9 */
    double trans_slow_gops; /* tanh/erf/gelu/pow elementwise ops per second, 1e9 (format 3) */
    double h2d_small_gbps, d2h_small_gbps; /* 256 KiB transfers, GB/s; 0 for the native CPU */
    int n_gemm;                            /* 1 .. TSR_CALIB_MAX_GEMM, increasing 2mnk */
    struct tsr_calib_gemm gemm[TSR_CALIB_MAX_GEMM];
    int n_bw; /* 0 .. TSR_CALIB_MAX_BW, increasing bytes (format 3) */
    struct tsr_calib_bw bw[TSR_CALIB_MAX_BW];
    double conv_gflops;     /* small 3x3 conv GFLOP/s; 0 = unknown */
    double dwconv_gflops;   /* depthwise 3x3 conv GFLOP/s; 0 = unknown */
    double seconds;         /* wall time the measurement took */
    long long created_unix; /* time(NULL) when measured */
};

/* ---- statistics and the timing rule (calib_stats.c) ---------------------------------------- */

/* Median after MAD outlier rejection (rule in the file comment) of x[0..n-1]; x is reordered.
 * Returns NaN when n == 0 or x is NULL. Pure; thread-safe. */
double tsr_calib_robust_median(double *x, int n);

/* Plain median of x[0..n-1] (mean of the two middle values when n is even); x is reordered.
 * NaN when n == 0 or x is NULL. Pure; thread-safe. */
double tsr_calib_median(double *x, int n);

/* One run of the thing being timed: returns TSR_OK, or a failure status (error recorded) that
 * ends the measurement. It must leave the device idle when it returns (blocking). */
typedef tsr_status tsr_calib_run_fn(void *arg);

/* Times run(arg) by the timing rule of the file comment (warm-up, repeats to >= 1 ms, median of
 * a sample's runs, 9 or 5 samples, robust median): *ns receives one run's time in ns. Returns
 * TSR_OK, or the first failing run's status (*ns untouched). */
tsr_status tsr_calib_time_run(tsr_calib_run_fn *run, void *arg, double *ns);

/* Times probe `probe` (0 .. n_probes - 1) in round `round` (0 .. TSR_CALIB_ROUNDS - 1) into *ns
 * (usually with tsr_calib_time_run); *ns = NaN skips the probe. Returns TSR_OK or a failure. */
typedef tsr_status tsr_calib_probe_fn(void *arg, int probe, int round, double *ns);

/* Runs probes 0 .. n_probes - 1 in order, TSR_CALIB_ROUNDS times (interleaved rounds, file
 * comment), and writes each probe's median round into ns[probe] (NaN when skipped in a round).
 * Returns TSR_OK, or the first failing probe's status. */
tsr_status tsr_calib_time_rounds(int n_probes, tsr_calib_probe_fn *probe, void *arg, double *ns);

/* Marks the calling thread as measuring (on = 1) or not (0); see the file comment for what
 * this switches off. Nested calls are not counted: the last call wins. Thread-safe (per
 * thread). */
void tsr_calib_thread_set_measuring(int on);

/* 1 while the calling thread is marked measuring, else 0. Thread-safe (per thread). */
int tsr_calib_thread_measuring(void);

/* ---- the cache file (calib_store.c) -------------------------------------------------------- */

/* Writes the cache key of dev into buf (size bytes, NUL-terminated; see file comment). A NULL
 * dev gives "". */
void tsr_calib_key(const struct tsr_device_info *dev, char *buf, size_t size);

/* Cache directory of ctx into buf (see file comment; the context's options.cache_dir comes
 * before $TSR_CACHE_DIR; ctx may be NULL: the environment only). Returns 0, or -1 when none can
 * be named. */
int tsr_calib_cache_dir(const tsr_context *ctx, char *buf, size_t size);
/* Full path of the cache file for `key` in ctx's cache directory. Returns 0 or -1. */
int tsr_calib_cache_path(const tsr_context *ctx, const char *key, char *buf, size_t size);
/* Loads the file for `key` (in ctx's cache directory) into *out. Returns 0 when it exists and is
 * valid for key; -1 when it is missing (or the directory path is a file); -3 when it is a file of
 * an older format version (stale after an upgrade: a miss, not damage); -2 when it is present
 * but rejected (not a regular file, too large, not JSON, newer format, other key, bad figure,
 * checksum); *why (may be NULL) then names the reason (static string). Thread-safe. */
int tsr_calib_load(const tsr_context *ctx, const char *key, struct tsr_calibration *out,
                   const char **why);
/* Writes *cal atomically to its file in ctx's cache directory (directory created as needed).
 * Returns 0 or -1 (errno). Thread-safe (concurrent writers of one key leave one whole file). */
int tsr_calib_save(const tsr_context *ctx, const struct tsr_calibration *cal);

#endif
