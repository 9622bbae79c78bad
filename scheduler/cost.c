/*
 * cost.c — the calibrated cost model; formulas and the source of every figure in cost.h.
 */
#include "scheduler/cost.h"

#include <math.h>
#include <string.h>

int tsr_cost_inputs_of(const struct tsr_device_info *dev, struct tsr_cost_inputs *out) {
    if (!dev || !out) return -1;
    memset(out, 0, sizeof *out);
    out->device_memory = !dev->host_memory;
    struct tsr_calibration cal;
    if (tsr_calibration_lookup(dev, &cal) && cal.n_gemm > 0 && cal.bandwidth_gbps > 0) {
        out->calibrated = 1;
        out->bandwidth_gbps = cal.bandwidth_gbps;
        out->launch_us = cal.launch_us;
        out->run_overhead_us = cal.run_overhead_us;
        out->h2d_gbps = cal.h2d_gbps;
        out->d2h_gbps = cal.d2h_gbps;
        out->latency_us = cal.latency_us;
        out->trans_gops = cal.trans_gops;
        out->trans_slow_gops = cal.trans_slow_gops;
        out->h2d_small_gbps = cal.h2d_small_gbps;
        out->d2h_small_gbps = cal.d2h_small_gbps;
        out->n_gemm = cal.n_gemm;
        memcpy(out->gemm, cal.gemm, sizeof cal.gemm);
        out->n_bw = cal.n_bw;
        memcpy(out->bw, cal.bw, sizeof cal.bw);
        out->conv_gflops = cal.conv_gflops;
        out->dwconv_gflops = cal.dwconv_gflops;
        for (int i = 0; i < cal.n_gemm; i++)
            if (cal.gemm[i].gflops > out->peak_gflops) out->peak_gflops = cal.gemm[i].gflops;
        return 0;
    }
    if (dev->est_gflops <= 0.0 || dev->est_gbps <= 0.0) return -1;
    out->peak_gflops = dev->est_gflops;
    out->bandwidth_gbps = dev->est_gbps;
    out->launch_us = dev->est_launch_us;
    out->h2d_gbps = out->d2h_gbps = dev->est_transfer_gbps;
    out->n_gemm = 1;
    out->gemm[0] = (struct tsr_calib_gemm){1, 1, 1, dev->est_gflops};
    return 0;
}

int tsr_cost_inputs_of_device(const tsr_context *ctx, int d, struct tsr_cost_inputs *out) {
    if (!ctx || !out || d < 0 || d >= ctx->n_devices) return -1;
    struct tsr_device_info info;
    tsr_device_snapshot(ctx, d, &info);
    return tsr_cost_inputs_of(&info, out);
}

double tsr_cost_gemm_gflops(const struct tsr_cost_inputs *in, double flops) {
    if (!in || in->n_gemm < 1) return 0.0;
    const struct tsr_calib_gemm *g = in->gemm;
    double f0 = 2.0 * (double)g[0].m * (double)g[0].n * (double)g[0].k;
    if (in->n_gemm == 1 || flops <= f0) return g[0].gflops;
    for (int i = 1; i < in->n_gemm; i++) {
        double f1 = 2.0 * (double)g[i].m * (double)g[i].n * (double)g[i].k;
        if (flops <= f1) {
            double t = (log(flops) - log(f0)) / (log(f1) - log(f0));
            return g[i - 1].gflops + t * (g[i].gflops - g[i - 1].gflops);
        }
        f0 = f1;
    }
    return g[in->n_gemm - 1].gflops;
}

double tsr_cost_bandwidth_gbps(const struct tsr_cost_inputs *in, double bytes) {
    if (!in) return 0.0;
    if (in->n_bw < 1) return in->bandwidth_gbps;
    const struct tsr_calib_bw *p = in->bw;
    if (in->n_bw == 1 || bytes <= p[0].bytes) return p[0].gbps;
    for (int i = 1; i < in->n_bw; i++)
        if (bytes <= p[i].bytes) {
            double t = (log(bytes) - log(p[i - 1].bytes)) / (log(p[i].bytes) - log(p[i - 1].bytes));
            return p[i - 1].gbps + t * (p[i].gbps - p[i - 1].gbps);
        }
    return p[in->n_bw - 1].gbps;
}

/* GFLOP/s of a convolution kernel (cost.h: conv rate). */
static double conv_gflops(const struct tsr_cost_inputs *in, const struct tsr_k_conv *c,
                          double flops) {
    double gemm = tsr_cost_gemm_gflops(in, flops);
    if (c->group > 1 && c->group == c->C && c->group == c->M && in->dwconv_gflops > 0)
        return in->dwconv_gflops;
    if ((c->KH > 1 || c->KW > 1) && in->conv_gflops > 0)
        return in->conv_gflops < gemm ? in->conv_gflops : gemm;
    return gemm;
}

double tsr_cost_kernel_trans_ops(const struct tsr_kernel *k, double *slow) {
    double fast_ops = 0.0, slow_ops = 0.0;
    if (slow) *slow = 0.0;
    if (!k) return 0.0;
    switch (k->kind) {
    case TSR_K_EW: {
        const struct tsr_k_ew *e = &k->u.ew;
        double elems = 1.0, f = 0.0, sl = 0.0;
        for (int d = 0; d < e->rank; d++)
            elems *= (double)e->dims[d];
        for (int i = 0; i < e->n_instrs; i++)
            switch (e->instrs[i].op) {
            case TSR_EW_EXP:
            case TSR_EW_LOG:
            case TSR_EW_SIGMOID:
                f += 1.0;
                break;
            case TSR_EW_TANH:
            case TSR_EW_ERF:
            case TSR_EW_GELU:
            case TSR_EW_GELU_TANH:
                sl += 1.0;
                break;
            case TSR_EW_POW:
                sl += 2.0;
                break;
            default:
                break;
            }
        fast_ops = elems * f;
        slow_ops = elems * sl;
        break;
    }
    case TSR_K_SOFTMAX:
        fast_ops =
            (double)k->u.softmax.outer * (double)k->u.softmax.axis_len * (double)k->u.softmax.inner;
        break;
    case TSR_K_GEMM: {
        double n = (double)k->u.gemm.batch * (double)k->u.gemm.M * (double)k->u.gemm.N;
        if (k->u.gemm.act == TSR_ACT_SIGMOID || k->u.gemm.act == TSR_ACT_SILU) fast_ops = n;
        if (k->u.gemm.act == TSR_ACT_TANH || k->u.gemm.act == TSR_ACT_GELU ||
            k->u.gemm.act == TSR_ACT_GELU_TANH)
            slow_ops = n;
        break;
    }
    case TSR_K_CONV: {
        double n =
            (double)k->u.conv.N * (double)k->u.conv.M * (double)k->u.conv.OH * (double)k->u.conv.OW;
        if (k->u.conv.act == TSR_ACT_SIGMOID || k->u.conv.act == TSR_ACT_SILU) fast_ops = n;
        if (k->u.conv.act == TSR_ACT_TANH || k->u.conv.act == TSR_ACT_GELU ||
            k->u.conv.act == TSR_ACT_GELU_TANH)
            slow_ops = n;
        break;
    }
    default:
        break;
    }
    if (slow) *slow = slow_ops;
    return fast_ops + slow_ops;
}

double tsr_cost_kernel_ms(const struct tsr_cost_inputs *in, const struct tsr_kernel *k) {
    if (!in || !k) return HUGE_VAL;
    double flops = (double)k->flops, bytes = (double)k->bytes;
    double launches = 1.0, compute_s;
    if (k->kind == TSR_K_GEMM || k->kind == TSR_K_CONV) {
        double items = 1.0;
        if (k->kind == TSR_K_GEMM && k->u.gemm.batch > 1) items = (double)k->u.gemm.batch;
        double rate = k->kind == TSR_K_CONV ? conv_gflops(in, &k->u.conv, flops)
                                            : tsr_cost_gemm_gflops(in, flops / items);
        compute_s = rate > 0 ? flops / (rate * 1e9) : HUGE_VAL;
        if (k->kind == TSR_K_GEMM && in->n_gemm > 0 && in->gemm[0].gflops > 0) {
            /* floor: no GEMM call is faster than the smallest calibrated one (cost.h) */
            const struct tsr_calib_gemm *g0 = &in->gemm[0];
            double t0 = 2.0 * (double)g0->m * (double)g0->n * (double)g0->k / (g0->gflops * 1e9);
            double calls = in->device_memory ? 1.0 : items;
            if (compute_s < calls * t0) compute_s = calls * t0;
        }
        if (in->device_memory && k->kind == TSR_K_GEMM &&
            (k->u.gemm.has_c || k->u.gemm.has_residual || k->u.gemm.act != TSR_ACT_NONE))
            launches = 2.0;
    } else {
        compute_s = in->peak_gflops > 0 ? flops / (in->peak_gflops * 1e9) : HUGE_VAL;
    }
    if (in->trans_gops > 0) {
        double slow = 0.0, all = tsr_cost_kernel_trans_ops(k, &slow);
        double slow_rate = in->trans_slow_gops > 0 ? in->trans_slow_gops : in->trans_gops;
        compute_s += (all - slow) / (in->trans_gops * 1e9) + slow / (slow_rate * 1e9);
    }
    double bw = tsr_cost_bandwidth_gbps(in, bytes);
    double memory_s = bw > 0 ? bytes / (bw * 1e9) : HUGE_VAL;
    double t = compute_s > memory_s ? compute_s : memory_s;
    t += launches * in->launch_us * 1e-6;
    return t * 1e3;
}

double tsr_cost_transfer_ms(const struct tsr_cost_inputs *in, double bytes, int to_device) {
    if (!in || !in->device_memory || bytes <= 0) return 0.0;
    double bw = to_device ? in->h2d_gbps : in->d2h_gbps;
    double small = to_device ? in->h2d_small_gbps : in->d2h_small_gbps;
    if (small > 0 && bw > 0) { /* log-linear between 256 KiB and 64 MiB (cost.h) */
        const double b0 = 256.0 * 1024, b1 = 64.0 * 1024 * 1024;
        double u = (log(bytes) - log(b0)) / (log(b1) - log(b0));
        u = u < 0 ? 0 : u > 1 ? 1 : u;
        bw = small + u * (bw - small);
    }
    double t = in->latency_us * 1e-6 + (bw > 0 ? bytes / (bw * 1e9) : 0.0);
    return t * 1e3;
}

double tsr_cost_program_ms(const struct tsr_cost_inputs *in, const struct tsr_program *prog,
                           double *kernels_ms, double *transfer_ms) {
    if (!in || !prog) return HUGE_VAL;
    double k_ms = 0.0, x_ms = 0.0;
    for (int i = 0; i < prog->n_kernels; i++)
        k_ms += tsr_cost_kernel_ms(in, &prog->kernels[i]);
    for (int i = 0; i < prog->n_inputs; i++)
        x_ms += tsr_cost_transfer_ms(in, (double)prog->buffers[prog->input_buffers[i]].bytes, 1);
    for (int i = 0; i < prog->n_outputs; i++)
        x_ms += tsr_cost_transfer_ms(in, (double)prog->buffers[prog->output_buffers[i]].bytes, 0);
    if (kernels_ms) *kernels_ms = k_ms;
    if (transfer_ms) *transfer_ms = x_ms;
    return in->run_overhead_us * 1e-3 + k_ms + x_ms;
}

double tsr_sched_predict_program_ms(const struct tsr_device_info *dev,
                                    const struct tsr_program *prog) {
    struct tsr_cost_inputs in;
    if (!dev || !prog || tsr_cost_inputs_of(dev, &in) != 0) return HUGE_VAL;
    return tsr_cost_program_ms(&in, prog, NULL, NULL);
}

double tsr_sched_predict_device_ms(const tsr_context *ctx, int d, const struct tsr_program *prog) {
    struct tsr_cost_inputs in;
    if (!prog || tsr_cost_inputs_of_device(ctx, d, &in) != 0) return HUGE_VAL;
    return tsr_cost_program_ms(&in, prog, NULL, NULL);
}
