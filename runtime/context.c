/*
 * context.c — tsr_context: topology, profiler, host pool, CPU backend, OpenCL backend and the
 * device table (device 0 is always the CPU).
 */
#include "runtime/internal.h"

#include "backends/cpu/cpu_backend.h"
#include "backends/opencl/opencl_backend.h"
#include "runtime/pool.h"
#include "runtime/profiler.h"
#include "scheduler/calibrate.h"
#include "scheduler/select.h"
#include "runtime/topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Does the comma list TSR_BACKENDS allow `name`? Unset allows everything. */
static int backend_allowed(const char *name) {
    const char *list = tsr_getenv("TSR_BACKENDS");
    if (!list) return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static void fill_cpu_info(tsr_context *ctx, struct tsr_device_info *d) {
    const struct tsr_cpu_topology_info *ci = tsr_topology_cpu(ctx->topo);
    memset(d, 0, sizeof *d);
    d->backend = TSR_BACKEND_CPU;
    d->index = 0;
    snprintf(d->id, sizeof d->id, "cpu");
    snprintf(d->name, sizeof d->name, "%s", ci->model[0] ? ci->model : "host CPU");
    snprintf(d->vendor, sizeof d->vendor, "%s", ci->vendor);
    snprintf(d->device_type, sizeof d->device_type, "cpu");
    snprintf(d->isa, sizeof d->isa, "%s", tsr_cpu_isa_name(tsr_cpu_backend_isa(ctx->cpu)));
    d->compute_units = tsr_cpu_backend_threads(ctx->cpu);
    d->global_mem_bytes = ci->total_mem_bytes;
    d->max_alloc_bytes = ci->total_mem_bytes;
    d->numa_node = ci->numa_nodes == 1 ? 0 : -1; /* the CPU device spans every NUMA node */
    snprintf(d->locality, sizeof d->locality, "host cores (%d packages, %d NUMA nodes)",
             ci->packages, ci->numa_nodes);
    tsr_sched_fill_estimates(d, ci);
}

tsr_status tsr_context_create(const struct tsr_context_options *opts, tsr_context **out) {
    if (!out) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_context_create: out is NULL");
    struct tsr_context_options o;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    const char *prof_env = tsr_getenv("TSR_PROFILE");
    if (prof_env && strcmp(prof_env, "0")) o.profile = 1;
    if (!backend_allowed("opencl")) o.disable_opencl = 1;

    tsr_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return TSR_ERR(NULL, TSR_E_NOMEM, "tsr_context_create: out of memory");
    pthread_mutex_init(&ctx->mutex, NULL);
    ctx->log_level = tsr_log_level_from_env();
    tsr_status st;
    if ((st = tsr_topology_create(&ctx->topo)) != TSR_OK) goto fail;
    if ((st = tsr_profiler_create(o.profile, &ctx->prof)) != TSR_OK) goto fail;
    if ((st = tsr_host_pool_create(ctx->topo, &ctx->host_pool)) != TSR_OK) goto fail;
    if ((st = tsr_cpu_backend_create(ctx, o.cpu_threads, &ctx->cpu)) != TSR_OK) goto fail;
    if (!o.disable_opencl) {
        if ((st = tsr_opencl_backend_create(ctx, &ctx->ocl)) != TSR_OK) goto fail;
    } else {
        tsr_log(ctx, TSR_LOG_INFO, "OpenCL disabled (TSR_BACKENDS or options)");
    }
    int n_cl = tsr_opencl_device_count(ctx->ocl);
    ctx->devices = calloc((size_t)(1 + n_cl), sizeof *ctx->devices);
    if (!ctx->devices) {
        st = TSR_ERR(NULL, TSR_E_NOMEM, "tsr_context_create: out of memory");
        goto fail;
    }
    fill_cpu_info(ctx, &ctx->devices[0]);
    for (int i = 0; i < n_cl; i++) {
        struct tsr_device_info *d = &ctx->devices[1 + i];
        tsr_opencl_device_info(ctx->ocl, ctx, i, d);
        d->backend = TSR_BACKEND_OPENCL;
        d->index = i;
        snprintf(d->id, sizeof d->id, "opencl:%d", i);
        tsr_sched_fill_estimates(d, tsr_topology_cpu(ctx->topo));
    }
    ctx->n_devices = 1 + n_cl;
    /* Cached calibrations (never measured here: that happens at the first compile). */
    tsr_sched_apply_calibration(ctx);
    *out = ctx;
    return TSR_OK;
fail:
    tsr_context_destroy(ctx);
    return st;
}

void tsr_context_destroy(tsr_context *ctx) {
    if (!ctx) return;
    tsr_opencl_backend_destroy(ctx->ocl);
    tsr_cpu_backend_destroy(ctx->cpu);
    tsr_host_pool_destroy(ctx->host_pool);
    tsr_profiler_destroy(ctx->prof);
    tsr_topology_destroy(ctx->topo);
    free(ctx->devices);
    pthread_mutex_destroy(&ctx->mutex);
    free(ctx);
}

int tsr_device_count(const tsr_context *ctx) {
    return ctx ? ctx->n_devices : 0;
}

tsr_status tsr_device_get_info(const tsr_context *ctx, int i, struct tsr_device_info *out) {
    if (!ctx || !out || i < 0 || i >= ctx->n_devices)
        return TSR_ERR((tsr_context *)ctx, TSR_E_INVALID_ARG, "tsr_device_get_info: no device %d",
                       i);
    *out = ctx->devices[i];
    return TSR_OK;
}

tsr_status tsr_device_find(const tsr_context *ctx, const char *id, int *out) {
    tsr_context *c = (tsr_context *)ctx;
    if (!ctx || !id || !out) return TSR_ERR(c, TSR_E_INVALID_ARG, "tsr_device_find: NULL argument");
    if (!strcmp(id, "cpu")) {
        *out = 0;
        return TSR_OK;
    }
    int n = 0;
    if (!strcmp(id, "opencl")) {
        n = 0;
    } else if (!strncmp(id, "opencl:", 7)) {
        char *end = NULL;
        long v = strtol(id + 7, &end, 10);
        if (end == id + 7 || *end || v < 0 || v > 1000)
            return TSR_ERR(c, TSR_E_INVALID_ARG, "device '%s': expected opencl:N", id);
        n = (int)v;
    } else {
        return TSR_ERR(c, TSR_E_INVALID_ARG, "device '%s': expected auto, cpu, opencl or opencl:N",
                       id);
    }
    for (int i = 1; i < ctx->n_devices; i++)
        if (ctx->devices[i].backend == TSR_BACKEND_OPENCL && ctx->devices[i].index == n) {
            *out = i;
            return TSR_OK;
        }
    if (ctx->n_devices == 1)
        return TSR_ERR(c, TSR_E_NOT_FOUND,
                       "device '%s': no OpenCL device on this machine (no ICD "
                       "loader, no platform, or TSR_BACKENDS excludes opencl)",
                       id);
    return TSR_ERR(c, TSR_E_NOT_FOUND, "device '%s': only %d OpenCL device(s)", id,
                   ctx->n_devices - 1);
}
