/*
 * calibrate.c — which calibration a device uses: this process's table, the cache file
 * (runtime/calib_store.c), or a new measurement. The rules are in calibrate.h.
 *
 * The process-wide table holds at most TSR_CALIB_TABLE entries (one per distinct device key;
 * identical devices share one), guarded by g_lock. Measurements are serialised by g_measure_lock
 * so two compiles never time the same cores at once.
 */
#include "scheduler/calibrate.h"
#include "runtime/backend.h"
#include "runtime/profiler.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TSR_CALIB_TABLE 16

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_measure_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tsr_calibration g_table[TSR_CALIB_TABLE];
static int g_forced[TSR_CALIB_TABLE]; /* measured in this process (TSR_CALIBRATE=force done) */
static int g_n;

/* Index of key in the table or -1 (caller holds g_lock). */
static int find_locked(const char *key) {
    for (int i = 0; i < g_n; i++)
        if (strcmp(g_table[i].key, key) == 0) return i;
    return -1;
}

/* Adds or replaces a calibration (caller holds g_lock). The oldest entry is dropped when full. */
static void remember_locked(const struct tsr_calibration *cal, int measured) {
    int i = find_locked(cal->key);
    if (i < 0) {
        if (g_n == TSR_CALIB_TABLE) {
            memmove(g_table, g_table + 1, (TSR_CALIB_TABLE - 1) * sizeof *g_table);
            memmove(g_forced, g_forced + 1, (TSR_CALIB_TABLE - 1) * sizeof *g_forced);
            g_n--;
        }
        i = g_n++;
        g_forced[i] = 0;
    }
    g_table[i] = *cal;
    if (measured) g_forced[i] = 1;
}

int tsr_calibration_lookup(const struct tsr_device_info *dev, struct tsr_calibration *out) {
    char key[512];
    tsr_calib_key(dev, key, sizeof key);
    pthread_mutex_lock(&g_lock);
    int i = find_locked(key);
    if (i >= 0 && out) *out = g_table[i];
    pthread_mutex_unlock(&g_lock);
    return i >= 0;
}

void tsr_calib_forget_all(void) {
    pthread_mutex_lock(&g_lock);
    g_n = 0;
    pthread_mutex_unlock(&g_lock);
}

/* Copies the calibration's figures into the estimates of device `index` of ctx (calibrate.h),
 * under the context's estimates lock (readers take snapshots: tsr_device_snapshot). */
static void apply_to_device(tsr_context *ctx, int index, const struct tsr_calibration *c) {
    double best = 0.0;
    for (int i = 0; i < c->n_gemm; i++)
        if (c->gemm[i].gflops > best) best = c->gemm[i].gflops;
    const double transfer = c->h2d_gbps < c->d2h_gbps ? c->h2d_gbps : c->d2h_gbps;
    tsr_device_set_estimates(ctx, index, best, c->bandwidth_gbps, c->launch_us, transfer);
}

/* From the table or ctx's cache file (never measures). Returns 1 when found; else 0 with *why
 * (may be NULL) set to NULL when there is no file, or to the reason a file was rejected. A
 * rejected file is warned about (with its path and the reason) when `warn` is set. */
static int load_known(const tsr_context *ctx, const struct tsr_device_info *d,
                      struct tsr_calibration *out, const char **why, int warn) {
    if (why) *why = NULL;
    if (tsr_calibration_lookup(d, out)) return 1;
    char key[512];
    tsr_calib_key(d, key, sizeof key);
    const char *bad = NULL;
    int rc = tsr_calib_load(ctx, key, out, &bad);
    if (rc <= -2) bad = bad ? bad : "invalid";
    if (rc <= -2 && why) *why = bad;
    if (rc <= -2 && warn) { /* an older format (-3) is no damage: info */
        char path[4200];
        if (tsr_calib_cache_path(ctx, key, path, sizeof path) != 0) path[0] = '\0';
        tsr_log(ctx, rc == -2 ? TSR_LOG_WARN : TSR_LOG_INFO,
                "calibration cache %s of %s ignored (%s); it is re-measured unless calibration is "
                "off",
                path, d->id, bad);
    }
    if (rc != 0) return 0;
    pthread_mutex_lock(&g_lock);
    remember_locked(out, 0);
    pthread_mutex_unlock(&g_lock);
    return 1;
}

/* The calibration policy in force for ctx: its option, else TSR_CALIBRATE (read at each use, as
 * the environment may change between compiles), else auto. */
static tsr_calibrate_policy policy_of(const tsr_context *ctx) {
    if (ctx->calibration != TSR_CALIBRATE_DEFAULT) return ctx->calibration;
    const char *mode = tsr_getenv("TSR_CALIBRATE");
    if (!mode || !strcmp(mode, "auto")) return TSR_CALIBRATE_AUTO;
    if (!strcmp(mode, "off") || !strcmp(mode, "cached")) return TSR_CALIBRATE_CACHED_ONLY;
    if (!strcmp(mode, "skip")) return TSR_CALIBRATE_SKIP;
    if (!strcmp(mode, "force")) return TSR_CALIBRATE_FORCE;
    static atomic_int warned;
    if (!atomic_exchange(&warned, 1))
        tsr_log(ctx, TSR_LOG_WARN,
                "TSR_CALIBRATE='%s' ignored (expected auto, off, skip, cached or force); measuring "
                "uncalibrated devices as by default",
                mode);
    return TSR_CALIBRATE_AUTO;
}

/* Why a measurement happens, for its announcement (tessera.h, tsr_context_create). */
static void measure_reason(const tsr_context *ctx, const char *key, int force, const char *why,
                           char *buf, size_t size) {
    char path[4200];
    if (force == TSR_CALIB_FORCE_POLICY)
        snprintf(buf, size, "forced by the calibration policy (TSR_CALIBRATE=force)");
    else if (force)
        snprintf(buf, size, "requested");
    else if (tsr_calib_cache_path(ctx, key, path, sizeof path) != 0)
        snprintf(buf, size, "no cache directory (set TSR_CACHE_DIR or HOME)");
    else if (why)
        snprintf(buf, size, "calibration cache %s invalid (%s)", path, why);
    else
        snprintf(buf, size, "no calibration cache %s", path);
}

tsr_status tsr_calibrate_device(tsr_context *ctx, int device_index, int force,
                                struct tsr_calibration *out) {
    if (!ctx || device_index < 0 || device_index >= ctx->n_devices)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "calibrate: no device %d", device_index);
    const struct tsr_device_info *d = &ctx->devices[device_index].info; /* est_*: not read */
    struct tsr_calibration cal;
    const char *why = NULL;
    if (!force && load_known(ctx, d, &cal, NULL, 0)) {
        apply_to_device(ctx, device_index, &cal);
        if (out) *out = cal;
        return TSR_OK;
    }
    pthread_mutex_lock(&g_measure_lock);
    /* Another thread may have measured it while we waited. */
    if (!force && load_known(ctx, d, &cal, &why, 0)) { /* announced below */
        pthread_mutex_unlock(&g_measure_lock);
        apply_to_device(ctx, device_index, &cal);
        if (out) *out = cal;
        return TSR_OK;
    }
    memset(&cal, 0, sizeof cal);
    tsr_calib_key(d, cal.key, sizeof cal.key);
    char reason[4400];
    measure_reason(ctx, cal.key, force, why, reason, sizeof reason);
    tsr_log_announce(ctx, "calibrating %s (%s): %s; measuring, a few seconds...", d->id, d->name,
                     reason);
    uint64_t t0 = tsr_now_ns();
    tsr_status st = tsr_calib_measure_device(ctx, device_index, &cal); /* calib_probe.c */
    /* One record of its own kind: never among a run's kernels (its probe runs record nothing). */
    tsr_prof_add(ctx, TSR_EVENT_CALIBRATION, "calibrate", "", d->id, 0, t0, tsr_now_ns(), 0, 0);
    if (st == TSR_OK) {
        cal.seconds = (double)(tsr_now_ns() - t0) * 1e-9;
        cal.created_unix = (long long)time(NULL);
        if (tsr_calib_save(ctx, &cal) != 0) {
            char path[4200];
            if (tsr_calib_cache_path(ctx, cal.key, path, sizeof path) != 0) path[0] = '\0';
            tsr_log(ctx, TSR_LOG_WARN, "calibration of %s could not be written to '%s'", d->id,
                    path);
        }
        pthread_mutex_lock(&g_lock);
        remember_locked(&cal, 1);
        pthread_mutex_unlock(&g_lock);
        tsr_log_announce(
            ctx, "calibrated %s in %.2f s: %.1f GB/s, GEMM up to %.1f GFLOP/s, launch %.1f us",
            d->id, cal.seconds, cal.bandwidth_gbps, cal.gemm[cal.n_gemm - 1].gflops, cal.launch_us);
    } else {
        tsr_log_announce(ctx, "calibration of %s failed after %.2f s (%s)", d->id,
                         (double)(tsr_now_ns() - t0) * 1e-9, tsr_status_name(st));
    }
    pthread_mutex_unlock(&g_measure_lock);
    if (st != TSR_OK) return st;
    apply_to_device(ctx, device_index, &cal);
    if (out) *out = cal;
    return TSR_OK;
}

void tsr_sched_apply_calibration(tsr_context *ctx) {
    if (!ctx || policy_of(ctx) == TSR_CALIBRATE_SKIP) return;
    for (int i = 0; i < ctx->n_devices; i++) {
        struct tsr_calibration cal;
        if (load_known(ctx, &ctx->devices[i].info, &cal, NULL, 1)) apply_to_device(ctx, i, &cal);
    }
}

tsr_status tsr_sched_ensure_calibrated(tsr_context *ctx, int device_index) {
    if (!ctx || device_index < 0 || device_index >= ctx->n_devices)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "calibrate: no device %d", device_index);
    tsr_calibrate_policy policy = policy_of(ctx);
    const struct tsr_device_info *d = &ctx->devices[device_index].info; /* est_*: not read */
    int force = 0;
    if (policy == TSR_CALIBRATE_SKIP) return TSR_OK;
    if (policy == TSR_CALIBRATE_CACHED_ONLY) {
        tsr_sched_apply_calibration(ctx);
        return TSR_OK;
    }
    if (policy == TSR_CALIBRATE_FORCE) {
        char key[512];
        tsr_calib_key(d, key, sizeof key);
        pthread_mutex_lock(&g_lock);
        int i = find_locked(key);
        force = (i < 0 || !g_forced[i]) ? TSR_CALIB_FORCE_POLICY : 0;
        pthread_mutex_unlock(&g_lock);
    }
    tsr_status st = tsr_calibrate_device(ctx, device_index, force, NULL);
    if (st != TSR_OK)
        tsr_log(ctx, TSR_LOG_WARN, "calibration of %s failed (%s: %s); using estimates", d->id,
                tsr_status_name(st), tsr_last_error(NULL)->message);
    return st;
}
