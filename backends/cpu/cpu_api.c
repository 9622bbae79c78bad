/*
 * cpu_api.c — the public CPU summary (include/tessera/cpu.h): a thin copy of the topology's CPU
 * summary (runtime/topology.h), the detected ISA tier (cpu_features.c) and what the CPU device
 * reports (ISA in use, worker threads).
 */
#include "tessera/cpu.h"

#include "backends/cpu/cpu_backend.h"
#include "runtime/topology.h"

#include <stdio.h>
#include <string.h>

tsr_status tsr_cpu_get_info(const tsr_context *ctx, struct tsr_cpu_info *out) {
    if (!ctx || !out)
        return TSR_ERR((tsr_context *)ctx, TSR_E_INVALID_ARG, "tsr_cpu_get_info: NULL argument");
    int cpu = -1;
    struct tsr_device_info dev;
    tsr_status st = tsr_device_find(ctx, "cpu", &cpu);
    if (st == TSR_OK) st = tsr_device_get_info(ctx, cpu, &dev);
    if (st != TSR_OK)
        return TSR_ERR((tsr_context *)ctx, TSR_E_NOT_FOUND, "tsr_cpu_get_info: no CPU device");
    const struct tsr_cpu_topology_info *ci = tsr_topology_cpu(ctx->topo);
    struct tsr_cpu_info r;
    memset(&r, 0, sizeof r);
    snprintf(r.model, sizeof r.model, "%s", ci->model);
    snprintf(r.vendor, sizeof r.vendor, "%s", ci->vendor);
    r.packages = ci->packages;
    r.numa_nodes = ci->numa_nodes;
    r.cores = ci->cores;
    r.pus = ci->pus;
    r.memory_bytes = ci->total_mem_bytes;
    r.n_caches = ci->n_caches;
    for (int i = 0; i < ci->n_caches; i++) {
        r.caches[i].level = ci->caches[i].level;
        r.caches[i].size_bytes = ci->caches[i].size_bytes;
        r.caches[i].line_bytes = ci->caches[i].line_bytes;
        r.caches[i].count = ci->caches[i].count;
    }
    snprintf(r.isa_detected, sizeof r.isa_detected, "%s", tsr_cpu_isa_name(tsr_cpu_detect_isa()));
    snprintf(r.isa_in_use, sizeof r.isa_in_use, "%s", dev.isa);
    r.threads = dev.compute_units;
    *out = r;
    return TSR_OK;
}
