/*
 * api_sched.c — the public scheduler figures (include/tessera/sched.h): thin wrappers that copy
 * the calibration table (scheduler/calibrate.h), the cost model's per-kernel prediction
 * (scheduler/cost.h), a plan's placement and the typical-workload choice (scheduler/select.h)
 * into the public structs. tsr_plan_predicted_ms itself lives in plan.c.
 */
#include "tessera/sched.h"

#include "runtime/plan_internal.h"
#include "scheduler/calibrate.h"
#include "scheduler/cost.h"
#include "scheduler/select.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The public copy of the internal calibration record. */
static void calibration_info_of(const struct tsr_calibration *c, struct tsr_calibration_info *o) {
    memset(o, 0, sizeof *o);
    snprintf(o->key, sizeof o->key, "%s", c->key);
    o->bandwidth_gbps = c->bandwidth_gbps;
    o->n_bw = c->n_bw;
    for (int i = 0; i < c->n_bw; i++) {
        o->bw[i].bytes = c->bw[i].bytes;
        o->bw[i].gbps = c->bw[i].gbps;
    }
    o->n_gemm = c->n_gemm;
    for (int i = 0; i < c->n_gemm; i++) {
        o->gemm[i].m = c->gemm[i].m;
        o->gemm[i].n = c->gemm[i].n;
        o->gemm[i].k = c->gemm[i].k;
        o->gemm[i].gflops = c->gemm[i].gflops;
    }
    o->launch_us = c->launch_us;
    o->run_overhead_us = c->run_overhead_us;
    o->h2d_gbps = c->h2d_gbps;
    o->d2h_gbps = c->d2h_gbps;
    o->h2d_small_gbps = c->h2d_small_gbps;
    o->d2h_small_gbps = c->d2h_small_gbps;
    o->latency_us = c->latency_us;
    o->trans_gops = c->trans_gops;
    o->trans_slow_gops = c->trans_slow_gops;
    o->conv_gflops = c->conv_gflops;
    o->dwconv_gflops = c->dwconv_gflops;
    o->seconds = c->seconds;
    o->created_unix = (int64_t)c->created_unix;
}

tsr_status tsr_device_calibration(const tsr_context *ctx, int device,
                                  struct tsr_calibration_info *out) {
    struct tsr_device_info dev;
    if (!out)
        return TSR_ERR((tsr_context *)ctx, TSR_E_INVALID_ARG,
                       "tsr_device_calibration: NULL argument");
    tsr_status st = tsr_device_get_info(ctx, device, &dev);
    if (st != TSR_OK) return st;
    struct tsr_calibration c;
    if (!tsr_calibration_lookup(&dev, &c))
        return TSR_ERR((tsr_context *)ctx, TSR_E_NOT_FOUND, "device %s: no calibration yet",
                       dev.id);
    calibration_info_of(&c, out);
    return TSR_OK;
}

tsr_status tsr_device_calibrate(tsr_context *ctx, int device, int force,
                                struct tsr_calibration_info *out) {
    if (!ctx) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_device_calibrate: NULL context");
    struct tsr_calibration c;
    tsr_status st = tsr_calibrate_device(ctx, device, force ? TSR_CALIB_FORCE_REQUEST : 0, &c);
    if (st == TSR_OK && out) calibration_info_of(&c, out);
    return st;
}

tsr_status tsr_plan_kernel_predicted_ms(const tsr_plan *plan, int k, double *out) {
    if (!plan || !out)
        return TSR_ERR(plan ? plan->ctx : NULL, TSR_E_INVALID_ARG,
                       "tsr_plan_kernel_predicted_ms: NULL argument");
    plan = tsr_plan_current(plan); /* a dynamic plan: its current specialisation */
    int d = tsr_plan_kernel_device_index(plan, k);
    if (d < 0)
        return TSR_ERR(plan->ctx, TSR_E_INVALID_ARG, "tsr_plan_kernel_predicted_ms: no kernel %d",
                       k);
    struct tsr_cost_inputs in;
    if (tsr_cost_inputs_of_device(plan->ctx, d, &in) != 0)
        return TSR_ERR(plan->ctx, TSR_E_NOT_FOUND, "device %s: no figures to predict with",
                       plan->ctx->devices[d].info.id);
    *out = tsr_cost_kernel_ms(&in, &plan->prog.kernels[k]);
    return TSR_OK;
}

const char *tsr_plan_placement(const tsr_plan *plan) {
    return plan ? tsr_plan_current(plan)->placement : "";
}

tsr_status tsr_sched_typical_choice(const tsr_context *ctx, struct tsr_typical_choice *out) {
    if (!ctx || !out)
        return TSR_ERR((tsr_context *)ctx, TSR_E_INVALID_ARG,
                       "tsr_sched_typical_choice: NULL argument");
    int n = tsr_device_count(ctx);
    struct tsr_device_info *devs = malloc((size_t)n * sizeof *devs);
    if (!devs) return TSR_ERR((tsr_context *)ctx, TSR_E_NOMEM, "tsr_sched_typical_choice");
    for (int i = 0; i < n; i++) {
        tsr_status st = tsr_device_get_info(ctx, i, &devs[i]);
        if (st != TSR_OK) {
            free(devs);
            return st;
        }
    }
    struct tsr_workload w = tsr_sched_typical_workload();
    struct tsr_typical_choice r;
    memset(&r, 0, sizeof r);
    r.workload.flops = w.flops;
    r.workload.bytes = w.bytes;
    r.workload.kernels = w.kernels;
    r.workload.io_bytes = w.io_bytes;
    r.workload.weight_bytes = w.weight_bytes;
    r.device = tsr_sched_choose(devs, n, &w, r.reason, sizeof r.reason);
    free(devs);
    *out = r;
    return TSR_OK;
}

tsr_status tsr_sched_typical_predicted_ms(const tsr_context *ctx, int device, double *out) {
    struct tsr_device_info dev;
    if (!out)
        return TSR_ERR((tsr_context *)ctx, TSR_E_INVALID_ARG,
                       "tsr_sched_typical_predicted_ms: NULL argument");
    tsr_status st = tsr_device_get_info(ctx, device, &dev);
    if (st != TSR_OK) return st;
    struct tsr_workload w = tsr_sched_typical_workload();
    *out = tsr_sched_predict_ms(&dev, &w);
    return TSR_OK;
}
