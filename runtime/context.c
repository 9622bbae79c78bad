/*
 * context.c — tsr_context: topology, profiler, host pool, the backends of the registry
 * (runtime/backend.h) and the device table (the host device first, then every other backend's
 * devices in TSR_BACKENDS order); device lookup by id string.
 */
#include "runtime/internal.h"

#include "runtime/backend.h"
#include "runtime/pool.h"
#include "runtime/profiler.h"
#include "runtime/topology.h"
#include "scheduler/calibrate.h"
#include "scheduler/select.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Creates the selected backends into ctx->backends. */
static tsr_status create_backends(tsr_context *ctx, const struct tsr_context_options *o) {
    const struct tsr_backend_ops *sel[TSR_MAX_BACKENDS];
    int n_sel = 0;
    tsr_status st = tsr_backend_registry_select(ctx, tsr_getenv("TSR_BACKENDS"), o, sel, &n_sel);
    if (st != TSR_OK) return st;
    for (int r = 0; r < tsr_backend_registry_count(); r++) {
        const struct tsr_backend_ops *ops = tsr_backend_registry_get(r);
        int chosen = 0;
        for (int i = 0; i < n_sel; i++)
            chosen |= sel[i] == ops;
        if (!chosen)
            tsr_log(ctx, TSR_LOG_INFO, "backend %s disabled (TSR_BACKENDS or options)", ops->name);
    }
    for (int i = 0; i < n_sel; i++) {
        void *state = NULL;
        if ((st = sel[i]->create(ctx, o, &state)) != TSR_OK) return st;
        ctx->backends[ctx->n_backends].ops = sel[i];
        ctx->backends[ctx->n_backends].state = state;
        ctx->n_backends++;
    }
    return TSR_OK;
}

/* Fills ctx->devices from the created backends: identity from each backend, then backend name,
 * local index and id ("<name>" or "<name>:<N>", runtime/backend.h), then the scheduler's
 * property-based estimates. */
static tsr_status fill_devices(tsr_context *ctx) {
    int total = 0;
    for (int b = 0; b < ctx->n_backends; b++)
        total += ctx->backends[b].ops->device_count(ctx->backends[b].state);
    ctx->devices = calloc((size_t)(total > 0 ? total : 1), sizeof *ctx->devices);
    if (!ctx->devices) return TSR_ERR(NULL, TSR_E_NOMEM, "tsr_context_create: out of memory");
    for (int b = 0; b < ctx->n_backends; b++) {
        const struct tsr_backend_slot *s = &ctx->backends[b];
        int n = s->ops->device_count(s->state);
        for (int i = 0; i < n; i++) {
            struct tsr_device *dev = &ctx->devices[ctx->n_devices++];
            dev->ops = s->ops;
            dev->state = s->state;
            struct tsr_device_info *d = &dev->info;
            memset(d, 0, sizeof *d);
            d->numa_node = -1;
            s->ops->device_info(s->state, ctx, i, d);
            snprintf(d->backend, sizeof d->backend, "%s", s->ops->name);
            d->index = i;
            d->host_memory = s->ops->host_memory;
            if (s->ops->single_device)
                snprintf(d->id, sizeof d->id, "%s", s->ops->name);
            else
                snprintf(d->id, sizeof d->id, "%s:%d", s->ops->name, i);
            tsr_sched_fill_estimates(d, tsr_topology_cpu(ctx->topo));
        }
    }
    if (ctx->n_devices == 0 || !ctx->devices[0].ops->host_memory)
        return TSR_ERR(NULL, TSR_E_INTERNAL,
                       "tsr_context_create: the host backend %s has no device",
                       tsr_backend_registry_host()->name);
    return TSR_OK;
}

#define TSR_CACHE_DIR_CAP sizeof(((tsr_context *)0)->cache_dir)

tsr_status tsr_context_create(const struct tsr_context_options *opts, tsr_context **out) {
    if (!out) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_context_create: out is NULL");
    struct tsr_context_options o;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    const char *prof_env = tsr_getenv("TSR_PROFILE");
    if (prof_env && strcmp(prof_env, "0")) o.profile = 1;

    if ((int)o.log_level < TSR_LOG_DEFAULT || (int)o.log_level > TSR_LOG_DEBUG)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG,
                       "tsr_context_create: log_level %d out of range (0 = default, 1 error .. 4 "
                       "debug)",
                       (int)o.log_level);
    if ((int)o.calibration < TSR_CALIBRATE_DEFAULT || (int)o.calibration > TSR_CALIBRATE_FORCE)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG,
                       "tsr_context_create: calibration policy %d out of range (0 = default, 1 "
                       "auto, 2 skip, 3 cached only, 4 force)",
                       (int)o.calibration);
    if (o.cache_dir && strlen(o.cache_dir) >= TSR_CACHE_DIR_CAP)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG,
                       "tsr_context_create: cache_dir longer than %zu bytes",
                       TSR_CACHE_DIR_CAP - 1);

    const int64_t lims[] = {o.max_model_bytes,  o.max_nodes,       o.max_values,
                            o.max_tensor_bytes, o.max_tensor_rank, o.max_depth};
    for (size_t i = 0; i < sizeof lims / sizeof lims[0]; i++)
        if (lims[i] < 0)
            return TSR_ERR(NULL, TSR_E_INVALID_ARG,
                           "tsr_context_create: import limit max_* %lld is negative (0 = default)",
                           (long long)lims[i]);

    if (o.pool_cache_bytes < 0)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG,
                       "tsr_context_create: pool_cache_bytes %lld is negative (0 = default)",
                       (long long)o.pool_cache_bytes);

    tsr_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return TSR_ERR(NULL, TSR_E_NOMEM, "tsr_context_create: out of memory");
    pthread_mutex_init(&ctx->mutex, NULL);
    pthread_rwlock_init(&ctx->est_lock, NULL);
    /* The log path first: every later line of this context goes through it. */
    ctx->log_fn = o.log_fn;
    ctx->log_user = o.log_user;
    ctx->log_level = o.log_level != TSR_LOG_DEFAULT ? o.log_level : tsr_log_level_from_env(ctx);
    ctx->log_announce = ctx->log_level == TSR_LOG_DEFAULT;
    if (ctx->log_level == TSR_LOG_DEFAULT) ctx->log_level = TSR_LOG_WARN;
    ctx->calibration = o.calibration; /* DEFAULT: TSR_CALIBRATE at each use (calibrate.c) */
    ctx->limits = (struct tsr_onnx_limits){o.max_model_bytes,  o.max_nodes,       o.max_values,
                                           o.max_tensor_bytes, o.max_tensor_rank, o.max_depth};
    if (o.cache_dir) snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s", o.cache_dir);
    tsr_status st;
    if ((st = tsr_topology_create(ctx, &ctx->topo)) != TSR_OK) goto fail;
    size_t prof_cap;
    if ((st = tsr_profiler_capacity_of(ctx, o.profile_capacity, &prof_cap)) != TSR_OK) goto fail;
    if ((st = tsr_profiler_create(o.profile, prof_cap, &ctx->prof)) != TSR_OK) goto fail;
    ctx->pool_cache_bytes =
        (uint64_t)(o.pool_cache_bytes > 0
                       ? o.pool_cache_bytes
                       : tsr_env_limit(ctx, "TSR_POOL_CACHE_BYTES", TSR_POOL_CACHE_DEFAULT));
    if ((st = tsr_host_pool_create(ctx->topo, ctx, ctx->pool_cache_bytes, &ctx->host_pool)) !=
        TSR_OK)
        goto fail;
    if ((st = create_backends(ctx, &o)) != TSR_OK) goto fail;
    if ((st = fill_devices(ctx)) != TSR_OK) goto fail;
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
    for (int b = ctx->n_backends - 1; b >= 0; b--)
        ctx->backends[b].ops->destroy(ctx->backends[b].state);
    tsr_host_pool_destroy(ctx->host_pool);
    tsr_profiler_destroy(ctx->prof);
    tsr_topology_destroy(ctx->topo);
    free(ctx->devices);
    pthread_mutex_destroy(&ctx->mutex);
    pthread_rwlock_destroy(&ctx->est_lock);
    free(ctx);
}

void *tsr_backend_state(const tsr_context *ctx, const struct tsr_backend_ops *ops) {
    if (!ctx) return NULL;
    for (int b = 0; b < ctx->n_backends; b++)
        if (ctx->backends[b].ops == ops) return ctx->backends[b].state;
    return NULL;
}

int tsr_context_host_device(const tsr_context *ctx) {
    for (int i = 0; ctx && i < ctx->n_devices; i++)
        if (ctx->devices[i].ops->host_memory) return i;
    return 0;
}

int tsr_device_count(const tsr_context *ctx) {
    return ctx ? ctx->n_devices : 0;
}

tsr_status tsr_device_get_info(const tsr_context *ctx, int i, struct tsr_device_info *out) {
    if (!ctx || !out || i < 0 || i >= ctx->n_devices)
        return TSR_ERR((tsr_context *)ctx, TSR_E_INVALID_ARG, "tsr_device_get_info: no device %d",
                       i);
    tsr_device_snapshot(ctx, i, out);
    return TSR_OK;
}

void tsr_device_snapshot(const tsr_context *ctx, int d, struct tsr_device_info *out) {
    pthread_rwlock_t *lock = (pthread_rwlock_t *)&ctx->est_lock; /* a reader changes no data */
    pthread_rwlock_rdlock(lock);
    *out = ctx->devices[d].info;
    pthread_rwlock_unlock(lock);
}

void tsr_device_set_estimates(tsr_context *ctx, int d, double gflops, double gbps, double launch_us,
                              double transfer_gbps) {
    pthread_rwlock_wrlock(&ctx->est_lock);
    struct tsr_device_info *info = &ctx->devices[d].info;
    if (gflops > 0) info->est_gflops = gflops;
    info->est_gbps = gbps;
    info->est_launch_us = launch_us;
    info->est_transfer_gbps = transfer_gbps;
    pthread_rwlock_unlock(&ctx->est_lock);
}

tsr_status tsr_device_find(const tsr_context *ctx, const char *id, int *out) {
    tsr_context *c = (tsr_context *)ctx;
    if (!ctx || !id || !out) return TSR_ERR(c, TSR_E_INVALID_ARG, "tsr_device_find: NULL argument");
    char name[TSR_BACKEND_NAME_MAX], known[128];
    int n = 0;
    const struct tsr_backend_ops *ops = NULL;
    if (tsr_device_string_parse(id, name, &n) != 0)
        return TSR_ERR(c, TSR_E_INVALID_ARG,
                       "device '%s': expected auto or <backend>[:N] with a backend of: %s", id,
                       tsr_backend_registry_names(known, sizeof known));
    if (!(ops = tsr_backend_registry_find(name, -1)))
        return TSR_ERR(c, TSR_E_INVALID_ARG,
                       "device '%s': no backend '%s' in this build (compiled in: %s)", id, name,
                       tsr_backend_registry_names(known, sizeof known));
    int count = 0;
    for (int i = 0; i < ctx->n_devices; i++) {
        if (ctx->devices[i].ops != ops) continue;
        if (ctx->devices[i].info.index == n) {
            *out = i;
            return TSR_OK;
        }
        count++;
    }
    const char *prose = ops->display_name ? ops->display_name : ops->name;
    int created = 0;
    for (int b = 0; b < ctx->n_backends; b++)
        created |= ctx->backends[b].ops == ops;
    if (count == 0)
        return TSR_ERR(c, TSR_E_NOT_FOUND, "device '%s': no %s device on this machine (%s)", id,
                       prose,
                       created ? "no driver, platform or device found"
                               : "TSR_BACKENDS or the context options exclude the backend");
    return TSR_ERR(c, TSR_E_NOT_FOUND, "device '%s': only %d %s device(s)", id, count, prose);
}
