/* cmd_info.c — `tessera info [--json] [--calibrate]`: version, CPU topology and ISA
 * (tessera/cpu.h), OpenCL devices, each device's calibration (measured figures, tessera/sched.h),
 * and what `auto` would pick for a typical workload and why. --calibrate re-measures every device
 * first (and rewrites the cache files). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 for a device with its own memory (platform, driver and transfer figures apply). */
static int has_device_memory(const struct tsr_device_info *d) {
    return !d->host_memory;
}

/* The calibration figures of a device as JSON (null when none is known to this process). */
static json_object *calibration_json(tsr_context *ctx, int dev) {
    struct tsr_calibration_info c;
    if (tsr_device_calibration(ctx, dev, &c) != TSR_OK) return NULL;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "key", json_object_new_string(c.key));
    json_object_object_add(o, "bandwidth_gbps", json_object_new_double(c.bandwidth_gbps));
    json_object_object_add(o, "launch_us", json_object_new_double(c.launch_us));
    json_object_object_add(o, "run_overhead_us", json_object_new_double(c.run_overhead_us));
    json_object_object_add(o, "h2d_gbps", json_object_new_double(c.h2d_gbps));
    json_object_object_add(o, "d2h_gbps", json_object_new_double(c.d2h_gbps));
    json_object_object_add(o, "latency_us", json_object_new_double(c.latency_us));
    json_object_object_add(o, "trans_gops", json_object_new_double(c.trans_gops));
    json_object *g = json_object_new_array();
    for (int i = 0; i < c.n_gemm; i++) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "m", json_object_new_int64(c.gemm[i].m));
        json_object_object_add(p, "n", json_object_new_int64(c.gemm[i].n));
        json_object_object_add(p, "k", json_object_new_int64(c.gemm[i].k));
        json_object_object_add(p, "gflops", json_object_new_double(c.gemm[i].gflops));
        json_object_array_add(g, p);
    }
    json_object_object_add(o, "gemm", g);
    json_object_object_add(o, "seconds", json_object_new_double(c.seconds));
    json_object_object_add(o, "created_unix", json_object_new_int64(c.created_unix));
    return o;
}

/* The calibration of a device as text lines (or a note that there is none). */
static void print_calibration(tsr_context *ctx, int dev, const struct tsr_device_info *d) {
    struct tsr_calibration_info c;
    if (tsr_device_calibration(ctx, dev, &c) != TSR_OK) {
        printf("            calibration: none yet (measured at first use, or tessera info "
               "--calibrate)\n");
        return;
    }
    printf("            calibration: %.1f GB/s, launch %.1f us, run overhead %.1f us",
           c.bandwidth_gbps, c.launch_us, c.run_overhead_us);
    if (has_device_memory(d))
        printf(", h2d %.1f GB/s, d2h %.1f GB/s, latency %.1f us", c.h2d_gbps, c.d2h_gbps,
               c.latency_us);
    printf(", transcendental %.2f Gop/s", c.trans_gops);
    printf("\n            GEMM GFLOP/s:");
    for (int i = 0; i < c.n_gemm; i++)
        printf(" %lldx%lldx%lld %.1f%s", (long long)c.gemm[i].m, (long long)c.gemm[i].n,
               (long long)c.gemm[i].k, c.gemm[i].gflops, i + 1 < c.n_gemm ? "," : "");
    printf("  (measured in %.2f s)\n", c.seconds);
}

static json_object *device_json(tsr_context *ctx, int dev, const struct tsr_device_info *d,
                                double predicted_ms) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(d->id));
    json_object_object_add(o, "backend", json_object_new_string(d->backend));
    json_object_object_add(o, "name", json_object_new_string(d->name));
    json_object_object_add(o, "vendor", json_object_new_string(d->vendor));
    json_object_object_add(o, "type", json_object_new_string(d->device_type));
    if (has_device_memory(d)) {
        json_object_object_add(o, "platform", json_object_new_string(d->platform));
        json_object_object_add(o, "driver_version", json_object_new_string(d->driver_version));
        json_object_object_add(o, "max_clock_mhz", json_object_new_int(d->max_clock_mhz));
        json_object_object_add(o, "max_alloc_bytes",
                               json_object_new_int64((int64_t)d->max_alloc_bytes));
    } else {
        json_object_object_add(o, "isa", json_object_new_string(d->isa));
    }
    json_object_object_add(o, "compute_units", json_object_new_int(d->compute_units));
    json_object_object_add(o, "global_mem_bytes",
                           json_object_new_int64((int64_t)d->global_mem_bytes));
    json_object_object_add(o, "numa_node", json_object_new_int(d->numa_node));
    json_object_object_add(o, "locality", json_object_new_string(d->locality));
    json_object_object_add(o, "est_gflops", json_object_new_double(d->est_gflops));
    json_object_object_add(o, "est_gbps", json_object_new_double(d->est_gbps));
    json_object_object_add(o, "est_launch_us", json_object_new_double(d->est_launch_us));
    json_object_object_add(o, "est_transfer_gbps", json_object_new_double(d->est_transfer_gbps));
    json_object_object_add(o, "typical_predicted_ms", json_object_new_double(predicted_ms));
    json_object_object_add(o, "calibration", calibration_json(ctx, dev));
    return o;
}

int cmd_info(int argc, char **argv) {
    int as_json = 0, calibrate = 0;
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"calibrate", no_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int c;
    while ((c = cli_getopt(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == CLI_GETOPT_ERROR) return TSR_EXIT_USAGE;
        if (c == 'j') as_json = 1;
        if (c == 'c') calibrate = 1;
        if (c == 'h') {
            printf("usage: tessera info [--json] [--calibrate]\n"
                   "  --calibrate  measure every device now (bandwidth, GEMM curve, launch and\n"
                   "               run overhead, host<->device transfers) and rewrite the cache\n");
            return TSR_EXIT_OK;
        }
    }
    if (optind < argc) return cli_usage_error("info: unexpected argument '%s'", argv[optind]);
    tsr_context *ctx = NULL;
    tsr_status st = tsr_context_create(NULL, &ctx);
    if (st != TSR_OK) return cli_fail(NULL, st, "cannot create a context");
    /* The devices (after --calibrate: with est_* following the fresh figures), the CPU and the
     * typical-workload choice, all through the public API. */
    const char *what = "device information";
    int n_dev = tsr_device_count(ctx);
    struct tsr_device_info *devs = calloc((size_t)n_dev, sizeof *devs);
    if (!devs) st = TSR_E_NOMEM;
    for (int i = 0; st == TSR_OK && i < n_dev; i++) {
        st = tsr_device_get_info(ctx, i, &devs[i]);
        if (st != TSR_OK || !calibrate) continue;
        st = tsr_device_calibrate(ctx, i, 1, NULL);
        if (st != TSR_OK) what = "calibration";
        if (st == TSR_OK) st = tsr_device_get_info(ctx, i, &devs[i]);
    }
    struct tsr_cpu_info cpu_info;
    struct tsr_typical_choice choice;
    if (st == TSR_OK) st = tsr_cpu_get_info(ctx, &cpu_info);
    if (st == TSR_OK) st = tsr_sched_typical_choice(ctx, &choice);
    if (st != TSR_OK) {
        int rc = cli_fail(ctx, st, what);
        free(devs);
        tsr_context_destroy(ctx);
        return rc;
    }
    const struct tsr_cpu_info *ci = &cpu_info;
    const struct tsr_workload_info *w = &choice.workload;
    const char *reason = choice.reason;
    int pick = choice.device;
    int n_cl = 0;
    for (int i = 0; i < n_dev; i++)
        n_cl += has_device_memory(&devs[i]);

    if (as_json) {
        json_object *root = json_object_new_object();
        json_object_object_add(root, "version", json_object_new_string(TSR_VERSION_STRING));
        json_object *cpu = json_object_new_object();
        json_object_object_add(cpu, "model", json_object_new_string(ci->model));
        json_object_object_add(cpu, "vendor", json_object_new_string(ci->vendor));
        json_object_object_add(cpu, "packages", json_object_new_int(ci->packages));
        json_object_object_add(cpu, "numa_nodes", json_object_new_int(ci->numa_nodes));
        json_object_object_add(cpu, "cores", json_object_new_int(ci->cores));
        json_object_object_add(cpu, "pus", json_object_new_int(ci->pus));
        json_object_object_add(cpu, "memory_bytes",
                               json_object_new_int64((int64_t)ci->memory_bytes));
        json_object *caches = json_object_new_array();
        for (int i = 0; i < ci->n_caches; i++) {
            json_object *c = json_object_new_object();
            json_object_object_add(c, "level", json_object_new_int(ci->caches[i].level));
            json_object_object_add(c, "size_bytes",
                                   json_object_new_int64((int64_t)ci->caches[i].size_bytes));
            json_object_object_add(c, "line_bytes", json_object_new_int(ci->caches[i].line_bytes));
            json_object_object_add(c, "count", json_object_new_int(ci->caches[i].count));
            json_object_array_add(caches, c);
        }
        json_object_object_add(cpu, "caches", caches);
        json_object_object_add(cpu, "isa_detected", json_object_new_string(ci->isa_detected));
        json_object_object_add(cpu, "isa_in_use", json_object_new_string(ci->isa_in_use));
        json_object_object_add(cpu, "threads", json_object_new_int(ci->threads));
        json_object_object_add(root, "cpu", cpu);
        json_object *jdevs = json_object_new_array();
        for (int i = 0; i < n_dev; i++) {
            double ms = 0.0;
            tsr_sched_typical_predicted_ms(ctx, i, &ms);
            json_object_array_add(jdevs, device_json(ctx, i, &devs[i], ms));
        }
        json_object_object_add(root, "devices", jdevs);
        json_object_object_add(root, "opencl_available", json_object_new_boolean(n_cl > 0));
        json_object *au = json_object_new_object();
        json_object_object_add(au, "device", json_object_new_string(devs[pick].id));
        json_object_object_add(au, "reason", json_object_new_string(reason));
        json_object *wl = json_object_new_object();
        json_object_object_add(wl, "flops", json_object_new_double(w->flops));
        json_object_object_add(wl, "bytes", json_object_new_double(w->bytes));
        json_object_object_add(wl, "kernels", json_object_new_int(w->kernels));
        json_object_object_add(wl, "io_bytes", json_object_new_double(w->io_bytes));
        json_object_object_add(au, "typical_workload", wl);
        json_object_object_add(root, "auto", au);
        cli_print_json(root);
        json_object_put(root);
    } else {
        printf("tessera %s\n\n", TSR_VERSION_STRING);
        printf("CPU: %s (%s)\n", ci->model[0] ? ci->model : "unknown model", ci->vendor);
        printf("  packages %d, NUMA nodes %d, cores %d, hardware threads %d, memory %.1f GiB\n",
               ci->packages, ci->numa_nodes, ci->cores, ci->pus,
               (double)ci->memory_bytes / (1024.0 * 1024.0 * 1024.0));
        printf("  caches:");
        for (int i = 0; i < ci->n_caches; i++)
            printf(" L%d %llu KiB x%d%s", ci->caches[i].level,
                   (unsigned long long)(ci->caches[i].size_bytes / 1024), ci->caches[i].count,
                   i + 1 < ci->n_caches ? "," : "");
        printf("\n  ISA detected %s, in use %s (cap with TSR_CPU_ISA=scalar|avx2|avx512), %d "
               "worker threads\n\n",
               ci->isa_detected, ci->isa_in_use, ci->threads);
        printf("Devices:\n");
        for (int i = 0; i < n_dev; i++) {
            const struct tsr_device_info *d = &devs[i];
            printf("  %-9s %s\n", d->id, d->name);
            if (has_device_memory(d))
                printf("            platform %s, vendor %s, driver %s, type %s\n", d->platform,
                       d->vendor, d->driver_version, d->device_type);
            char clock[32] = "";
            if (d->max_clock_mhz) snprintf(clock, sizeof clock, " @ %d MHz", d->max_clock_mhz);
            printf("            %d compute units%s, %.1f GiB memory, locality: %s\n",
                   d->compute_units, clock, (double)d->global_mem_bytes / (1 << 30),
                   d->locality[0] ? d->locality : "unknown");
            printf("            estimate: %.1f GFLOP/s, %.1f GB/s, launch %.1f us", d->est_gflops,
                   d->est_gbps, d->est_launch_us);
            if (has_device_memory(d)) printf(", host<->device %.1f GB/s", d->est_transfer_gbps);
            printf("\n");
            print_calibration(ctx, i, d);
        }
        if (n_cl == 0)
            printf("  (no OpenCL device: no ICD loader or platform, or TSR_BACKENDS excludes "
                   "opencl)\n");
        printf("\nauto would pick: %s\n  why: %s\n", devs[pick].id, reason);
    }
    free(devs);
    tsr_context_destroy(ctx);
    return TSR_EXIT_OK;
}
