/*
 * calib_probe.c — measures one device: the probe programs of runtime/calibration.h through the
 * device's backend (prepare / execute / release of runtime/backend.h), timed by the one timing
 * rule (tsr_calib_time_run, tsr_calib_time_rounds), then the backend's calibrate member for the
 * figures no program can measure. Knows no backend: a new backend is calibrated by this file.
 *
 * Every probe is a small hand-built program (runtime/program.h) whose inputs are CONST buffers
 * (all pointing into one host array of ordinary numbers) and whose results are TEMP buffers of
 * the arena, so a run has no graph inputs or outputs: on a device with its own memory the
 * constants are uploaded once at prepare and nothing is copied per run. Each probe is prepared,
 * timed and released once per round (TSR_CALIB_ROUNDS interleaved rounds).
 */
#include "runtime/backend.h"
#include "scheduler/calibrate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TSR_CAL_CHAIN       16 /* kernels in the launch-overhead chain */
#define TSR_CAL_SMALL_ROWS  8  /* small-kernel chain: regions over [8, 32] */
#define TSR_CAL_SMALL_COLS  32
#define TSR_CAL_TRANS_ELEMS (1 << 18)  /* elements of the transcendental regions */
#define TSR_CAL_TRANS_OPS   4          /* transcendental ops per element in them */
#define TSR_CAL_DATA_FLOATS (16 << 20) /* the shared constant data: the largest probe input */

/* Copy sizes of the bandwidth curve (floats; calibration.h, bw[]). */
static const int64_t g_bw_sizes[] = {64 << 10, 1 << 20, 16 << 20};
/* GEMM sizes (square; calibration.h, gemm[]): the last one on host-memory devices only. */
static const int64_t g_gemm_sizes[] = {32, 64, 128, 256, 512, 1024};
#define TSR_CAL_N_BW   3
#define TSR_CAL_N_GEMM 6

/* Transcendental regions (calibration.h, trans_gops / trans_slow_gops), 4 ops per element. */
static const uint8_t g_trans_fast[TSR_CAL_TRANS_OPS] = {TSR_EW_EXP, TSR_EW_SIGMOID, TSR_EW_EXP,
                                                        TSR_EW_SIGMOID};
static const uint8_t g_trans_slow[TSR_CAL_TRANS_OPS] = {TSR_EW_TANH, TSR_EW_ERF, TSR_EW_TANH,
                                                        TSR_EW_ERF};

/* A small program under construction: up to 3 + TSR_CAL_CHAIN buffers and TSR_CAL_CHAIN
 * kernels, all storage inside the struct. */
struct cal_prog {
    struct tsr_program p;
    struct tsr_buffer buffers[TSR_CAL_CHAIN + 3];
    struct tsr_kernel kernels[TSR_CAL_CHAIN];
};

static size_t round64(size_t bytes) {
    return (bytes + 63) & ~(size_t)63;
}

static void prog_init(struct cal_prog *c) {
    memset(c, 0, sizeof *c);
    c->p.buffers = c->buffers;
    c->p.kernels = c->kernels;
}

/* Appends a float32 vector buffer of n elements; returns its id. CONST buffers read `data`,
 * TEMP buffers lie at byte `offset` of the arena. */
static int add_buffer(struct cal_prog *c, tsr_buffer_kind kind, int64_t n, float *data,
                      size_t offset) {
    struct tsr_buffer *b = &c->buffers[c->p.n_buffers];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->desc.dtype = TSR_F32;
    b->desc.rank = 1;
    b->desc.dims[0] = n;
    b->bytes = (size_t)n * sizeof(float);
    b->io_index = -1;
    if (kind == TSR_BUF_CONST) b->const_data = data;
    if (kind == TSR_BUF_TEMP) {
        b->offset = offset;
        if (offset + round64(b->bytes) > c->p.arena_bytes)
            c->p.arena_bytes = offset + round64(b->bytes);
    }
    return c->p.n_buffers++;
}

static struct tsr_kernel *add_kernel(struct cal_prog *c, tsr_kernel_kind kind, const char *name) {
    struct tsr_kernel *k = &c->kernels[c->p.n_kernels++];
    memset(k, 0, sizeof *k);
    k->kind = kind;
    k->dtype = TSR_F32;
    snprintf(k->name, sizeof k->name, "%s", name);
    return k;
}

/* y[n] = ops(x[n]) as one elementwise region (ops NULL: a COPY), x CONST, y TEMP. */
static void make_region(struct cal_prog *c, int64_t n, const uint8_t *ops, int n_ops, float *data) {
    prog_init(c);
    int x = add_buffer(c, TSR_BUF_CONST, n, data, 0);
    int y = add_buffer(c, TSR_BUF_TEMP, n, NULL, 0);
    struct tsr_kernel *k = add_kernel(c, TSR_K_EW, ops ? "calibrate_trans" : "calibrate_copy");
    k->n_inputs = 1;
    k->inputs[0] = x;
    k->output = y;
    k->bytes = (uint64_t)n * 8u;
    struct tsr_k_ew *e = &k->u.ew;
    e->rank = 1;
    e->dims[0] = n;
    e->strides[0][0] = 1;
    e->n_regs = 1;
    if (!ops) {
        e->n_instrs = 1;
        e->instrs[0] = (struct tsr_ew_instr){.op = TSR_EW_COPY, .dst = 0, .a = -1, .b = 0};
        return;
    }
    e->n_instrs = n_ops;
    for (int i = 0; i < n_ops; i++)
        e->instrs[i] = (struct tsr_ew_instr){.op = ops[i], .dst = 0, .a = (int16_t)(i ? 0 : -1)};
}

/* a[8,32], b[32] (CONST) → n_kernels chained regions y = relu((x + b) * x) - b, each over
 * [8, 32] with b broadcast along dim 0 (x = a for the first, the previous result after), the
 * results alternating between two arena slots. */
static void make_small_chain(struct cal_prog *c, int n_kernels, float *data) {
    const int64_t r = TSR_CAL_SMALL_ROWS, n = TSR_CAL_SMALL_COLS;
    prog_init(c);
    const size_t slot = round64((size_t)(r * n) * sizeof(float));
    int a = add_buffer(c, TSR_BUF_CONST, r * n, data, 0);
    int b = add_buffer(c, TSR_BUF_CONST, n, data, 0);
    int prev = a;
    for (int i = 0; i < n_kernels; i++) {
        int y = add_buffer(c, TSR_BUF_TEMP, r * n, NULL, (size_t)(i % 2) * slot);
        struct tsr_kernel *k = add_kernel(c, TSR_K_EW, "calibrate_small");
        k->n_inputs = 2;
        k->inputs[0] = prev;
        k->inputs[1] = b;
        k->output = y;
        k->flops = (uint64_t)(4 * r * n);
        k->bytes = (uint64_t)((2 * r * n + n) * 4);
        struct tsr_k_ew *e = &k->u.ew;
        e->rank = 2;
        e->dims[0] = r;
        e->dims[1] = n;
        e->strides[0][0] = n;
        e->strides[0][1] = 1;
        e->strides[1][0] = 0;
        e->strides[1][1] = 1;
        e->n_regs = 1;
        e->n_instrs = 4;
        e->instrs[0] = (struct tsr_ew_instr){.op = TSR_EW_ADD, .dst = 0, .a = -1, .b = -2};
        e->instrs[1] = (struct tsr_ew_instr){.op = TSR_EW_MUL, .dst = 0, .a = 0, .b = -1};
        e->instrs[2] = (struct tsr_ew_instr){.op = TSR_EW_RELU, .dst = 0, .a = 0};
        e->instrs[3] = (struct tsr_ew_instr){.op = TSR_EW_SUB, .dst = 0, .a = 0, .b = -2};
        prev = y;
    }
}

/* Y = relu(conv(X, W) + bias), NCHW, KxK window, stride 1, pad K/2, `group` groups:
 * X[nb, ch, hw, hw], W[m, ch/group, k, k], bias[m] (CONST) → Y[nb, m, hw, hw] (TEMP). Returns
 * the FLOPs. */
static double make_conv(struct cal_prog *c, int64_t nb, int64_t ch, int64_t m, int64_t hw,
                        int64_t k, int64_t group, float *data) {
    prog_init(c);
    int x = add_buffer(c, TSR_BUF_CONST, nb * ch * hw * hw, data, 0);
    int w = add_buffer(c, TSR_BUF_CONST, m * (ch / group) * k * k, data, 0);
    int bias = add_buffer(c, TSR_BUF_CONST, m, data, 0);
    int y = add_buffer(c, TSR_BUF_TEMP, nb * m * hw * hw, NULL, 0);
    struct tsr_kernel *kk = add_kernel(c, TSR_K_CONV, "calibrate_conv");
    kk->n_inputs = 3;
    kk->inputs[0] = x;
    kk->inputs[1] = w;
    kk->inputs[2] = bias;
    kk->output = y;
    double flops = 2.0 * (double)(nb * m * hw * hw) * (double)(ch / group * k * k);
    kk->flops = (uint64_t)flops;
    kk->bytes =
        (uint64_t)((nb * ch * hw * hw + m * (ch / group) * k * k + m + nb * m * hw * hw) * 4);
    struct tsr_k_conv *cv = &kk->u.conv;
    cv->N = nb;
    cv->C = ch;
    cv->H = cv->W = cv->OH = cv->OW = hw;
    cv->M = m;
    cv->KH = cv->KW = k;
    cv->stride_h = cv->stride_w = cv->dil_h = cv->dil_w = 1;
    cv->pad_t = cv->pad_l = k / 2;
    cv->group = group;
    cv->has_bias = 1;
    cv->act = TSR_ACT_RELU;
    return flops;
}

/* Y[n,n] = A[n,n]·B[n,n], A and B CONST, Y TEMP. Returns the FLOPs. */
static double make_gemm(struct cal_prog *c, int64_t n, float *data) {
    prog_init(c);
    int a = add_buffer(c, TSR_BUF_CONST, n * n, data, 0);
    int b = add_buffer(c, TSR_BUF_CONST, n * n, data, 0);
    int y = add_buffer(c, TSR_BUF_TEMP, n * n, NULL, 0);
    struct tsr_kernel *kk = add_kernel(c, TSR_K_GEMM, "calibrate_gemm");
    kk->n_inputs = 2;
    kk->inputs[0] = a;
    kk->inputs[1] = b;
    kk->output = y;
    kk->flops = (uint64_t)(2 * n * n * n);
    kk->bytes = (uint64_t)(3 * n * n * 4);
    struct tsr_k_gemm *g = &kk->u.gemm;
    g->batch = 1;
    g->M = g->N = g->K = n;
    g->lda = g->ldb = n;
    g->alpha = 1.0f;
    g->act = TSR_ACT_NONE;
    return 2.0 * (double)n * (double)n * (double)n;
}

/* The probes of one round, in order (figures in calibration.h). */
enum cal_probe {
    P_SMALL1,                          /* one small fused region: t1 */
    P_SMALLK,                          /* TSR_CAL_CHAIN of them */
    P_BW0,                             /* copies of g_bw_sizes[] */
    P_TRANS = P_BW0 + TSR_CAL_N_BW,    /* exp/sigmoid region */
    P_TRANS_SLOW,                      /* tanh/erf region */
    P_GEMM0,                           /* GEMMs of g_gemm_sizes[] */
    P_CONV = P_GEMM0 + TSR_CAL_N_GEMM, /* 3x3 conv */
    P_DWCONV,                          /* depthwise 3x3 conv */
    P_COUNT
};

/* Builds probe p into c; returns its FLOPs (GEMM and conv probes) or 0. */
static double build_probe(struct cal_prog *c, int p, float *data) {
    if (p == P_SMALL1 || p == P_SMALLK) {
        make_small_chain(c, p == P_SMALL1 ? 1 : TSR_CAL_CHAIN, data);
        return 0.0;
    }
    if (p >= P_BW0 && p < P_TRANS) {
        make_region(c, g_bw_sizes[p - P_BW0], NULL, 0, data);
        return 0.0;
    }
    if (p == P_TRANS || p == P_TRANS_SLOW) {
        make_region(c, TSR_CAL_TRANS_ELEMS, p == P_TRANS ? g_trans_fast : g_trans_slow,
                    TSR_CAL_TRANS_OPS, data);
        return 0.0;
    }
    if (p >= P_GEMM0 && p < P_CONV) return make_gemm(c, g_gemm_sizes[p - P_GEMM0], data);
    if (p == P_CONV) return make_conv(c, 2, 8, 16, 16, 3, 1, data);
    return make_conv(c, 2, 16, 16, 14, 3, 16, data);
}

/* State of one device's measurement. */
struct cal_run {
    tsr_context *ctx;
    const struct tsr_device *dev;
    struct cal_prog prog;
    float *data; /* TSR_CAL_DATA_FLOATS constants */
    double flops[P_COUNT];
    void *exec; /* the probe being timed */
};

static tsr_status run_once(void *arg) {
    struct cal_run *r = arg;
    return r->dev->ops->execute(r->exec, NULL, NULL);
}

/* tsr_calib_probe_fn: prepares probe p on the device, times it, releases it. */
static tsr_status time_probe(void *arg, int p, int round, double *ns) {
    struct cal_run *r = arg;
    (void)round;
    if (p == P_GEMM0 + TSR_CAL_N_GEMM - 1 && !r->dev->ops->host_memory) return TSR_OK; /* NaN */
    r->flops[p] = build_probe(&r->prog, p, r->data);
    r->exec = NULL;
    tsr_status st = r->dev->ops->prepare(r->ctx, r->dev->info.index, &r->prog.p, &r->exec);
    if (st == TSR_OK) st = tsr_calib_time_run(run_once, r, ns);
    r->dev->ops->release(r->exec);
    r->exec = NULL;
    return st;
}

/* Probe figures into *out (calibration.h); t = median round times in ns. */
static void figures(const struct cal_run *r, const double *t, struct tsr_calibration *out) {
    const double t1 = t[P_SMALL1];
#define NET(x) ((x)-t1 > 0.5 * (x) ? (x)-t1 : (x))
    double launch_ns = (t[P_SMALLK] - t1) / (TSR_CAL_CHAIN - 1);
    if (!(launch_ns > 0)) launch_ns = t[P_SMALLK] / TSR_CAL_CHAIN;
    out->launch_us = launch_ns * 1e-3;
    out->run_overhead_us = t1 > launch_ns ? (t1 - launch_ns) * 1e-3 : 0.0;
    out->n_bw = 0;
    for (int i = 0; i < TSR_CAL_N_BW; i++) {
        double bytes = 8.0 * (double)g_bw_sizes[i];
        out->bw[out->n_bw++] = (struct tsr_calib_bw){bytes, bytes / NET(t[P_BW0 + i])};
    }
    out->bandwidth_gbps = out->bw[out->n_bw - 1].gbps; /* B/ns = GB/s */
    const double trans_ops = (double)TSR_CAL_TRANS_OPS * TSR_CAL_TRANS_ELEMS;
    out->trans_gops = trans_ops / NET(t[P_TRANS]); /* G/s */
    out->trans_slow_gops = trans_ops / NET(t[P_TRANS_SLOW]);
    out->n_gemm = 0;
    for (int i = 0; i < TSR_CAL_N_GEMM; i++) {
        double tg = t[P_GEMM0 + i];
        if (isnan(tg)) continue; /* n = 1024 skipped */
        int64_t n = g_gemm_sizes[i];
        out->gemm[out->n_gemm++] =
            (struct tsr_calib_gemm){n, n, n, r->flops[P_GEMM0 + i] / NET(tg)};
    }
    out->conv_gflops = r->flops[P_CONV] / NET(t[P_CONV]);
    out->dwconv_gflops = r->flops[P_DWCONV] / NET(t[P_DWCONV]);
#undef NET
}

tsr_status tsr_calib_measure_device(tsr_context *ctx, int device_index,
                                    struct tsr_calibration *out) {
    if (!ctx || !out || device_index < 0 || device_index >= ctx->n_devices)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "calibrate: no device %d", device_index);
    struct cal_run *r = calloc(1, sizeof *r);
    float *data = tsr_aligned_alloc((size_t)TSR_CAL_DATA_FLOATS * sizeof(float));
    if (!r || !data) {
        free(r);
        tsr_aligned_free(data);
        return TSR_ERR(ctx, TSR_E_NOMEM, "calibrate: out of memory");
    }
    /* Ordinary numbers (0.5 .. 1.5): no denormal/NaN slow paths, and no all-zero operands
     * (which some code paths finish early on). */
    for (size_t e = 0; e < (size_t)TSR_CAL_DATA_FLOATS; e++)
        data[e] = 0.5f + (float)(e % 17) / 16.0f;
    r->ctx = ctx;
    r->dev = &ctx->devices[device_index];
    r->data = data;
    const int was_measuring = tsr_calib_thread_measuring();
    tsr_calib_thread_set_measuring(1);
    double t[P_COUNT];
    tsr_status st = tsr_calib_time_rounds(P_COUNT, time_probe, r, t);
    if (st == TSR_OK) {
        figures(r, t, out);
        out->h2d_gbps = out->d2h_gbps = out->latency_us = 0.0;
        out->h2d_small_gbps = out->d2h_small_gbps = 0.0;
        st = tsr_backend_calibrate(ctx, device_index, out); /* the backend's extras */
    }
    tsr_calib_thread_set_measuring(was_measuring);
    tsr_aligned_free(data);
    free(r);
    return st;
}
