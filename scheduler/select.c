/*
 * select.c — scheduler v1: per-device performance estimates and the `auto` device choice.
 *
 * Model: the roofline of Williams, Waterman and Patterson ("Roofline: an insightful visual
 * performance model for multicore architectures", CACM 52(4), 2009) applied to a whole plan:
 *
 *   t = max(flops / peak, bytes / bandwidth)      compute- or memory-bound part
 *     + kernels * launch_overhead                 per-kernel dispatch cost
 *     + io_bytes / transfer_bandwidth             OpenCL only: inputs up, outputs down
 *
 * weight_bytes are uploaded once per plan and therefore not part of the per-run time.
 *
 * Estimates (v1: derived from device properties, not yet calibrated by measurement):
 *
 *   Native CPU peak (f32)  = cores * clock * FLOP/cycle/core, FLOP/cycle/core by ISA:
 *       avx512: 2 FMA units * 16 f32 lanes * 2 (multiply + add) = 64
 *       avx2:   2 FMA units *  8 lanes     * 2                  = 32
 *       scalar: 1 FMA unit  *  1 lane      * 2                  =  2
 *     (Intel 64 and IA-32 Architectures Optimization Reference Manual, port tables for
 *     Skylake-SP / Ice Lake: two FMA ports.) clock = max_clock_mhz of the device, else
 *     "cpu MHz" of /proc/cpuinfo, else 2.0 GHz.
 *   Native CPU bandwidth   = a one-time memcpy of TSR_BW_PROBE_BYTES (best of 3, bytes read +
 *     written / s, measured once per process, ~5 ms), clamped to [2, 200] GB/s; when the probe
 *     cannot run, 8 GB/s per core (a DDR4 channel per two cores, rounded down).
 *   Native CPU launch      = 2 µs (waking the thread pool and a barrier).
 *   Native CPU transfer    = 0 (no copies; the plan works in host memory).
 *
 *   OpenCL GPU peak        = compute units * clock * lanes per CU * 2 (FMA), lanes per CU by
 *     vendor (vendor architecture white papers): NVIDIA SM 64 (Pascal..Turing; Ampere doubles
 *     it, we stay conservative), AMD GCN/RDNA CU 64, Intel Gen9..Xe EU 8, other 16. Unknown
 *     clock → 1 GHz.
 *   OpenCL GPU bandwidth   = discrete (NVIDIA/AMD) 200 GB/s, integrated (Intel) 25 GB/s, other
 *     50 GB/s (typical mid-range parts; a conservative fixed figure until calibration).
 *   OpenCL GPU launch      = 10 µs (clEnqueueNDRangeKernel + in-order queue dispatch).
 *   OpenCL GPU transfer    = discrete 12 GB/s (PCIe 3.0 x16 effective), integrated 20 GB/s.
 *
 *   OpenCL CPU-type device (e.g. PoCL): it runs on the same cores, so the same peak and memory
 *     bandwidth as the native CPU (best ISA the hardware has), launch 20 µs (driver work-group
 *     scheduling), transfer = host bandwidth / 2 (a copy reads and writes every byte).
 */
#include "scheduler/select.h"
#include "runtime/backend.h"
#include "runtime/topology.h"
#include "scheduler/cost.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TSR_DEFAULT_CLOCK_MHZ 2000.0
#define TSR_BW_PROBE_BYTES    (8u << 20)
#define TSR_BW_PER_CORE_GBPS  8.0
#define TSR_CPU_LAUNCH_US     2.0
#define TSR_GPU_LAUNCH_US     10.0
#define TSR_CLCPU_LAUNCH_US   20.0
#define TSR_GPU_DEFAULT_MHZ   1000.0

/* "cpu MHz" of the first processor in /proc/cpuinfo, or 0 when absent (non-Linux, some ARM). */
static double cpuinfo_mhz(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0.0;
    char line[256];
    double mhz = 0.0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "cpu MHz", 7) == 0) {
            const char *colon = strchr(line, ':');
            if (colon) mhz = strtod(colon + 1, NULL);
            break;
        }
    }
    fclose(f);
    return mhz > 0.0 ? mhz : 0.0;
}

static double g_host_gbps;
static pthread_once_t g_host_once = PTHREAD_ONCE_INIT;

/* One-time memcpy probe: best of 3 copies of TSR_BW_PROBE_BYTES, counting bytes read + written.
 * Leaves g_host_gbps = 0 when the buffers cannot be allocated. */
static void probe_host_bandwidth(void) {
    size_t n = TSR_BW_PROBE_BYTES;
    char *a = malloc(n), *b = malloc(n);
    if (a && b) {
        memset(a, 1, n); /* fault the pages in before timing */
        memset(b, 2, n);
        uint64_t best = UINT64_MAX;
        for (int r = 0; r < 3; r++) {
            uint64_t t0 = tsr_now_ns();
            memcpy(b, a, n);
            uint64_t dt = tsr_now_ns() - t0;
            a[r] = b[n - 1 - r]; /* keep the copy observable */
            if (dt > 0 && dt < best) best = dt;
        }
        if (best != UINT64_MAX) g_host_gbps = 2.0 * (double)n / (double)best; /* B/ns = GB/s */
        if (g_host_gbps < 2.0) g_host_gbps = 2.0;
        if (g_host_gbps > 200.0) g_host_gbps = 200.0;
    }
    free(a);
    free(b);
}

/* Host memory bandwidth in GB/s (measured once per process, thread-safe); falls back to
 * TSR_BW_PER_CORE_GBPS * cores. */
static double host_gbps(int cores) {
    pthread_once(&g_host_once, probe_host_bandwidth);
    if (g_host_gbps > 0.0) return g_host_gbps;
    return TSR_BW_PER_CORE_GBPS * (cores > 0 ? cores : 1);
}

/* f32 FLOP per cycle per core of an ISA name (see the table at the top of the file). */
static double isa_flops_per_cycle(const char *isa) {
    if (isa && strcmp(isa, "avx512") == 0) return 64.0;
    if (isa && strcmp(isa, "avx2") == 0) return 32.0;
    return 2.0;
}

/* Best ISA the hardware has, for OpenCL CPU drivers (they vectorise for the host). */
static const char *host_best_isa(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
#endif
    return "scalar";
}

static int contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0) return 1;
    return 0;
}

/* Peak GFLOP/s of the host cores with the given ISA. */
static double host_peak(int cores, double mhz, const char *isa) {
    if (mhz <= 0.0) mhz = cpuinfo_mhz();
    if (mhz <= 0.0) mhz = TSR_DEFAULT_CLOCK_MHZ;
    return (double)cores * (mhz / 1000.0) * isa_flops_per_cycle(isa);
}

/* Fills dev->est_* by the formulas at the top of this file (select.h). cpu may be NULL. The
 * host bandwidth probe runs once per process (pthread_once). Thread-safe. */
void tsr_sched_fill_estimates(struct tsr_device_info *dev,
                              const struct tsr_cpu_topology_info *cpu) {
    if (!dev) return;
    int host_cores = cpu && cpu->cores > 0 ? cpu->cores : 0;

    if (dev->host_memory) { /* the native CPU */
        int cores = dev->compute_units > 0 ? dev->compute_units : (host_cores ? host_cores : 1);
        dev->est_gflops = host_peak(cores, dev->max_clock_mhz, dev->isa);
        dev->est_gbps = host_gbps(cores);
        dev->est_launch_us = TSR_CPU_LAUNCH_US;
        dev->est_transfer_gbps = 0.0;
        return;
    }

    if (strcmp(dev->device_type, "cpu") == 0) {
        /* Same cores as the native CPU: use the physical core count from hwloc when known
         * (compute_units of CPU drivers counts hardware threads). */
        int cores = host_cores ? host_cores : (dev->compute_units > 0 ? dev->compute_units : 1);
        double bw = host_gbps(cores);
        /* The clock of the native CPU device, not the driver's max clock, so both sides agree. */
        dev->est_gflops = host_peak(cores, 0.0, host_best_isa());
        dev->est_gbps = bw;
        dev->est_launch_us = TSR_CLCPU_LAUNCH_US;
        dev->est_transfer_gbps = bw / 2.0;
        return;
    }

    /* GPU, accelerator or other. */
    const char *v = dev->vendor;
    int nvidia = contains_ci(v, "nvidia"),
        amd = contains_ci(v, "amd") || contains_ci(v, "advanced micro devices");
    int intel = contains_ci(v, "intel");
    double lanes = nvidia ? 64.0 : amd ? 64.0 : intel ? 8.0 : 16.0;
    double mhz = dev->max_clock_mhz > 0 ? dev->max_clock_mhz : TSR_GPU_DEFAULT_MHZ;
    int cus = dev->compute_units > 0 ? dev->compute_units : 1;
    dev->est_gflops = (double)cus * (mhz / 1000.0) * lanes * 2.0;
    dev->est_gbps = (nvidia || amd) ? 200.0 : intel ? 25.0 : 50.0;
    dev->est_launch_us = TSR_GPU_LAUNCH_US;
    dev->est_transfer_gbps = intel ? 20.0 : 12.0;
}

/* Roofline time per run in ms (select.h): max(compute, memory) + launches + per-run transfers.
 * HUGE_VAL when dev has no estimate (est_gflops or est_gbps <= 0) or an argument is NULL. */
double tsr_sched_predict_ms(const struct tsr_device_info *dev, const struct tsr_workload *w) {
    if (!dev || !w) return HUGE_VAL;
    if (dev->est_gflops <= 0.0 || dev->est_gbps <= 0.0) return HUGE_VAL;
    double compute_s = w->flops / (dev->est_gflops * 1e9);
    double memory_s = w->bytes / (dev->est_gbps * 1e9);
    double t = compute_s > memory_s ? compute_s : memory_s;
    t += (double)w->kernels * dev->est_launch_us * 1e-6;
    if (!dev->host_memory && dev->est_transfer_gbps > 0.0)
        t += w->io_bytes / (dev->est_transfer_gbps * 1e9);
    return t * 1e3;
}

/* Is dev a device with its own memory that runs on the host CPU (an OpenCL CPU driver: PoCL,
 * Intel CPU runtime)? */
static int is_opencl_cpu(const struct tsr_device_info *dev) {
    return !dev->host_memory && strcmp(dev->device_type, "cpu") == 0;
}

/* Appends printf-style text to buf at *len, never overflowing (truncates). */
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...) {
    if (!buf || size == 0 || *len >= size - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    *len += (size_t)n;
    if (*len > size - 1) *len = size - 1;
}

/* Lowest predicted time wins; the native CPU wins ties; OpenCL devices of type CPU are not
 * chosen while a native CPU device is in the list (same cores, extra copies). Writes one line:
 * "predicted: cpu 1.619 ms, opencl:0 1.800 ms (...); chose cpu: ..." (truncated to reason_size).
 * Returns the index of the chosen device (0 on bad arguments). Thread-safe. */
int tsr_sched_choose(const struct tsr_device_info *devs, int n_devs, const struct tsr_workload *w,
                     char *reason, size_t reason_size) {
    if (reason && reason_size) reason[0] = '\0';
    if (!devs || n_devs < 1 || !w) return 0;

    int native_cpu = -1;
    for (int i = 0; i < n_devs; i++)
        if (devs[i].host_memory) {
            native_cpu = i;
            break;
        }

        /* Predictions are recomputed where needed (cheap) instead of stored, so any n_devs works
         * without a variable-length array or an allocation. */
#define MS(i) tsr_sched_predict_ms(&devs[(i)], w)
    int best = -1;
    for (int i = 0; i < n_devs; i++) {
        /* An OpenCL CPU device shares the native CPU's cores and adds copies: never preferred
         * over the native backend. */
        if (native_cpu >= 0 && is_opencl_cpu(&devs[i])) continue;
        /* Strictly lower wins, so ties keep the earlier device; the native CPU also wins ties
         * against a device listed before it. */
        if (best < 0 || MS(i) < MS(best) ||
            (MS(i) == MS(best) && devs[i].host_memory && !devs[best].host_memory))
            best = i;
    }
    if (best < 0) best = 0;

    size_t len = 0;
    append(reason, reason_size, &len, "predicted:");
    for (int i = 0; i < n_devs; i++) {
        const char *id = devs[i].id[0] ? devs[i].id : "?";
        double t = MS(i);
        if (isinf(t))
            append(reason, reason_size, &len, "%s %s no estimate", i ? "," : "", id);
        else
            append(reason, reason_size, &len, "%s %s %.3f ms", i ? "," : "", id, t);
        if (native_cpu >= 0 && is_opencl_cpu(&devs[i]))
            append(reason, reason_size, &len, " (OpenCL CPU device: same cores as %s, excluded)",
                   devs[native_cpu].id[0] ? devs[native_cpu].id : "cpu");
    }
    const char *bid = devs[best].id[0] ? devs[best].id : "?";
    double second = HUGE_VAL;
    int second_i = -1;
    for (int i = 0; i < n_devs; i++)
        if (i != best && (second_i < 0 || MS(i) < second)) {
            second = MS(i);
            second_i = i;
        }
    if (second_i < 0) {
        append(reason, reason_size, &len, "; chose %s: the only device", bid);
    } else if (second == MS(best)) {
        append(reason, reason_size, &len, "; chose %s: tie with %s, %s", bid, devs[second_i].id,
               devs[best].host_memory ? "the native CPU wins ties"
                                      : "the first listed device wins ties");
    } else if (second < MS(best)) {
        append(reason, reason_size, &len,
               "; chose %s: %s is predicted faster but is an OpenCL CPU device on the same cores",
               bid, devs[second_i].id);
    } else {
        double c = w->flops / (devs[best].est_gflops * 1e9);
        double m = w->bytes / (devs[best].est_gbps * 1e9);
        append(reason, reason_size, &len,
               "; chose %s: lowest predicted time (%.2fx faster than %s, %s-bound)", bid,
               MS(best) > 0 ? second / MS(best) : INFINITY, devs[second_i].id,
               c >= m ? "compute" : "memory");
    }
#undef MS
    return best;
}

/* An MLP layer on a batch: Y = relu(X W + b), X 256x1024, W 1024x1024, b 1024, all f32.
 * GEMM: 2*M*N*K FLOPs, reads X and W, writes Y; bias+relu: one elementwise kernel that reads and
 * writes Y and reads b (2 FLOPs per element). */
struct tsr_workload tsr_sched_typical_workload(void) {
    const double m = 256, n = 1024, k = 1024, f = 4.0;
    struct tsr_workload w;
    w.flops = 2.0 * m * n * k + 2.0 * m * n;
    w.bytes = (m * k + k * n + m * n) * f + (2.0 * m * n + n) * f;
    w.kernels = 2;
    w.io_bytes = (m * k + m * n) * f;
    w.weight_bytes = (k * n + n) * f;
    return w;
}

/*
 * Program-level choice (select.h, tsr_sched_choose_program). Constants:
 *   TSR_SMALL_GRAPH_MS 0.05 ms: below this the CPU run is shorter than one OpenCL per-run round
 *     trip measured here (PoCL: ~30 µs overhead + ~28 µs per transfer), so no device can win by
 *     more than the noise of those overheads.
 *   TSR_HOST_MARGIN 5 %: near-ties stay on the host (no copies, no driver, no fallback risk).
 *   TSR_NUMA_TIE 5 %: devices this close count as "equal speed" for the NUMA preference.
 */
int tsr_sched_choose_program(tsr_context *ctx, const struct tsr_program *prog, char *reason,
                             size_t reason_size) {
    if (reason && reason_size) reason[0] = '\0';
    if (!ctx || !prog || ctx->n_devices < 1 || !ctx->devices) return 0;
    int n = ctx->n_devices;
    int here = tsr_topology_thread_numa_node(ctx->topo);
    size_t len = 0;
    append(reason, reason_size, &len, "predicted:");
    double host_ms = HUGE_VAL;
    int best = -1;
    double best_ms = HUGE_VAL;
    for (int i = 0; i < n; i++) {
        const struct tsr_device_info *d = &ctx->devices[i].info; /* est_*: not read here */
        struct tsr_cost_inputs in;
        char why[300];
        if (tsr_backend_supports_program(&ctx->devices[i], prog, why, sizeof why) >= 0) {
            append(reason, reason_size, &len, "%s %s cannot run it (%s)", i ? ";" : "", d->id, why);
            continue;
        }
        if (tsr_cost_inputs_of_device(ctx, i, &in) != 0) {
            append(reason, reason_size, &len, "%s %s no figures", i ? ";" : "", d->id);
            continue;
        }
        double k_ms = 0, x_ms = 0;
        double ms = tsr_cost_program_ms(&in, prog, &k_ms, &x_ms);
        append(reason, reason_size, &len, "%s %s %.3f ms", i ? ";" : "", d->id, ms);
        if (in.device_memory)
            append(reason, reason_size, &len,
                   " (kernels %.3f + transfers %.3f) [%s: %.1f GFLOP/s, %.1f GB/s, launch %.1f "
                   "us, run %.1f us, h2d %.1f/d2h %.1f GB/s + %.1f us, NUMA %d]",
                   k_ms, x_ms, in.calibrated ? "calibrated" : "estimated", in.peak_gflops,
                   in.bandwidth_gbps, in.launch_us, in.run_overhead_us, in.h2d_gbps, in.d2h_gbps,
                   in.latency_us, d->numa_node);
        else
            append(reason, reason_size, &len,
                   " [%s: %.1f GFLOP/s, %.1f GB/s, launch %.1f us, run %.1f us]",
                   in.calibrated ? "calibrated" : "estimated", in.peak_gflops, in.bandwidth_gbps,
                   in.launch_us, in.run_overhead_us);
        if (i == 0) host_ms = ms;
        if (ms < best_ms) {
            best_ms = ms;
            best = i;
        }
    }
    if (best < 0) {
        append(reason, reason_size, &len, "; chose %s: no device that can run it has figures",
               ctx->devices[0].info.id);
        return 0;
    }
    const char *host = ctx->devices[0].info.id;
    if (host_ms < TSR_SMALL_GRAPH_MS) {
        append(reason, reason_size, &len,
               "; chose %s: small graph (%.3f ms < %.2f ms), stays where its inputs are", host,
               host_ms, TSR_SMALL_GRAPH_MS);
        return 0;
    }
    if (best == 0 || !(best_ms < host_ms * (1.0 - TSR_HOST_MARGIN))) {
        if (best == 0)
            append(reason, reason_size, &len, "; chose %s: lowest predicted time", host);
        else
            append(reason, reason_size, &len,
                   "; chose %s: %s is predicted only %.1f%% faster (< %.0f%% margin for leaving "
                   "the host)",
                   host, ctx->devices[best].info.id, 100.0 * (1.0 - best_ms / host_ms),
                   100.0 * TSR_HOST_MARGIN);
        return 0;
    }
    /* NUMA preference among devices of (nearly) equal predicted speed. */
    int chosen = best;
    if (here >= 0 && ctx->devices[best].info.numa_node != here) {
        for (int i = 1; i < n; i++) {
            double ms = tsr_sched_predict_device_ms(ctx, i, prog);
            if (i != best && ctx->devices[i].info.numa_node == here &&
                tsr_backend_supports_program(&ctx->devices[i], prog, NULL, 0) < 0 &&
                ms <= best_ms * (1.0 + TSR_NUMA_TIE) && ms < host_ms * (1.0 - TSR_HOST_MARGIN)) {
                chosen = i;
                break;
            }
        }
    }
    if (chosen != best)
        append(reason, reason_size, &len,
               "; chose %s: within %.0f%% of %s and attached to this thread's NUMA node %d",
               ctx->devices[chosen].info.id, 100.0 * TSR_NUMA_TIE, ctx->devices[best].info.id,
               here);
    else
        append(reason, reason_size, &len,
               "; chose %s: lowest predicted time (%.2fx faster than %s)",
               ctx->devices[best].info.id, best_ms > 0 ? host_ms / best_ms : INFINITY, host);
    return chosen;
}
