/*
 * calibrate.h — which calibration a device uses and when it is measured (the scheduler's
 * policy), and the probe runner that measures a device through its backend.
 *
 * The record, the timing rule, the statistics, the cache file and the definition of every
 * figure are in runtime/calibration.h (below the scheduler and the backends). This process keeps
 * a table of the calibrations it measured or loaded (at most 16 distinct device keys; identical
 * devices share one). A device's calibration is measured the first time a compile needs it on a
 * machine (no valid cache file) under the auto policy, once per process under the force policy
 * (the context's options.calibration, else TSR_CALIBRATE: tessera.h), or on request
 * (tsr_device_calibrate, `tessera info --calibrate`): the probe programs of calib_probe.c through
 * the device's backend, then the backend's own calibrate member for what no program measures
 * (runtime/backend.h). Measurements are serialised process-wide, so two compiles never time the
 * same cores at once.
 *
 * The device's estimates (struct tsr_device_info est_*) follow its calibration; they are written
 * and read under the context's estimates lock (runtime/internal.h, tsr_device_set_estimates and
 * tsr_device_snapshot), so lazy calibration concurrent with compiles on other threads is
 * race-free.
 */
#ifndef TSR_SCHEDULER_CALIBRATE_H
#define TSR_SCHEDULER_CALIBRATE_H

#include "runtime/calibration.h"
#include "runtime/internal.h"

#include <stddef.h>

/* ---- which calibration (calibrate.c) -------------------------------------------------------- */

/* Calibration of ctx->devices[device_index]: unless `force`, from this process's table or the
 * cache file of ctx's cache directory (when valid for the device's key); otherwise measured now
 * (a few seconds: tsr_calib_measure_device), announced before (device, reason) and after
 * (seconds, figures) through tsr_log_announce, written to the cache file (a write failure is
 * logged, not an error) and remembered. Never consults the calibration policy: callers do. On
 * success the device's est_* fields are updated under the estimates lock (est_gflops = best GEMM
 * GFLOP/s, est_gbps = bandwidth, est_launch_us = launch, est_transfer_gbps = min(h2d, d2h)) and
 * *out (may be NULL) receives the figures. Returns TSR_OK, TSR_E_INVALID_ARG (no such device),
 * TSR_E_NOMEM, or a device status of the backend (TSR_E_DEVICE, TSR_E_DEVICE_NOMEM, TSR_E_BUILD,
 * TSR_E_DTYPE, TSR_E_UNSUPPORTED: a probe the backend cannot run; message names it). Thread-safe
 * (one measurement at a time per process). */
tsr_status tsr_calibrate_device(tsr_context *ctx, int device_index, int force,
                                struct tsr_calibration *out);
/* Values of tsr_calibrate_device's `force` (any non-zero value forces; they differ only in the
 * reason the announcement gives): an explicit request (tsr_device_calibrate, tests), and the
 * force policy (TSR_CALIBRATE_FORCE / TSR_CALIBRATE=force). */
#define TSR_CALIB_FORCE_REQUEST 1
#define TSR_CALIB_FORCE_POLICY  2

/* For context creation: for every device of ctx whose calibration is in this process's table or
 * in a valid cache file, updates its est_* fields; never measures; an invalid file is logged at
 * info level; nothing at all under the skip policy. Devices without one keep the
 * v1 estimates of select.c. Safe with ctx == NULL (no-op). Thread-safe. */
void tsr_sched_apply_calibration(tsr_context *ctx);

/* For tsr_compile: applies the context's calibration policy (options.calibration, else
 * TSR_CALIBRATE read now: tessera.h, tsr_calibrate_policy) to ctx->devices[device_index]: auto
 * measures it if this is the first use of the device on this machine (no valid cache file);
 * cached only (TSR_CALIBRATE=off|cached) never measures (keeps cached figures or v1 estimates);
 * skip does nothing; force re-measures once per process. Returns the status of
 * tsr_calibrate_device; callers may ignore a failure (the device keeps its previous estimates and
 * the failure is logged at warn level). Thread-safe. */
tsr_status tsr_sched_ensure_calibrated(tsr_context *ctx, int device_index);

/* The calibration of a device known to this process (measured or loaded), into *out (may be
 * NULL). Returns 1 when found, 0 otherwise. Thread-safe. */
int tsr_calibration_lookup(const struct tsr_device_info *dev, struct tsr_calibration *out);

/* Forgets every calibration remembered by this process (tests: force a reload from disk).
 * Thread-safe. */
void tsr_calib_forget_all(void);

/* ---- the measurement (calib_probe.c) -------------------------------------------------------- */

/* Measures ctx->devices[device_index] into *out: every figure but key, seconds and
 * created_unix. First the probe programs of runtime/calibration.h through the device's
 * backend (prepare / execute / release, the calling thread marked measuring), then the
 * backend's calibrate member, when it has one, for the figures no program can measure
 * (tsr_backend_calibrate). Call with the scheduler's measurement lock held (calibrate.c).
 * Returns TSR_OK, TSR_E_INVALID_ARG, TSR_E_NOMEM, or the backend's failure status (recorded on
 * ctx). */
tsr_status tsr_calib_measure_device(tsr_context *ctx, int device_index,
                                    struct tsr_calibration *out);

#endif
