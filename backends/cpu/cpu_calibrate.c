/*
 * cpu_calibrate.c — measures the native CPU: the CPU backend's calibrate member (figures and
 * rules in runtime/calibration.h).
 *
 * Every figure is taken through tsr_cpu_backend_ops with small hand-built programs
 * (runtime/program.h), so it measures the code path real plans take: thread-pool dispatch,
 * the tiled elementwise executor, cblas_sgemm on row panels with the epilogue.
 *
 * Sample counts: TSR_CAL_SAMPLES samples per figure after one warm-up run; a sample repeats the
 * run (at most TSR_CAL_MAX_REPS times) until it lasts at least TSR_CAL_MIN_SAMPLE_NS and is
 * the median of those runs (calibrate.h explains why); runs of TSR_CAL_LONG_RUN_NS or
 * more take TSR_CAL_FEW_SAMPLES samples. The whole probe list runs TSR_CAL_ROUNDS times and
 * each probe keeps its median round (calibrate.h). Total on a 2-core machine: about 1.5 s.
 */
#include "backends/cpu/cpu_backend.h"
#include "runtime/calibration.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TSR_CAL_SAMPLES       9
#define TSR_CAL_MIN_SAMPLE_NS 1000000ull  /* 1 ms */
#define TSR_CAL_MAX_REPS      2000        /* runs per sample at most */
#define TSR_CAL_LONG_RUN_NS   20000000ull /* runs this long take TSR_CAL_FEW_SAMPLES */
#define TSR_CAL_FEW_SAMPLES   5
#define TSR_CAL_ROUNDS        3  /* every probe this many times, interleaved; median kept */
#define TSR_CAL_CHAIN         16 /* kernels in the launch-overhead chain */
#define TSR_CAL_SMALL_ROWS    8  /* small-kernel chain: regions over [8, 32] */
#define TSR_CAL_SMALL_COLS    32

/* Copy sizes of the bandwidth curve (floats; calibrate.h, bw[]). */
static const int64_t g_bw_sizes[] = {64 << 10, 1 << 20, 16 << 20};

/* GEMM sizes (square): documented in calibrate.h. */
static const int64_t g_gemm_sizes[] = {32, 64, 128, 256, 512, 1024};

/* A small program under construction: up to 3 + TSR_CAL_CHAIN buffers and TSR_CAL_CHAIN
 * kernels, all storage inside the struct. */
struct cal_prog {
    struct tsr_program p;
    struct tsr_buffer buffers[TSR_CAL_CHAIN + 3];
    struct tsr_kernel kernels[TSR_CAL_CHAIN];
    int in_ids[3], out_ids[1];
};

static struct tsr_tensor_desc vec_desc(int64_t n) {
    struct tsr_tensor_desc d;
    memset(&d, 0, sizeof d);
    d.dtype = TSR_F32;
    d.rank = 1;
    d.dims[0] = n;
    return d;
}

static void add_buffer(struct cal_prog *c, tsr_buffer_kind kind, int64_t n, int io, size_t off) {
    struct tsr_buffer *b = &c->buffers[c->p.n_buffers++];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->desc = vec_desc(n);
    b->bytes = (size_t)n * sizeof(float);
    b->io_index = io;
    b->offset = off;
}

static void prog_init(struct cal_prog *c) {
    memset(c, 0, sizeof *c);
    c->p.buffers = c->buffers;
    c->p.kernels = c->kernels;
    c->p.input_buffers = c->in_ids;
    c->p.output_buffers = c->out_ids;
}

/* An elementwise COPY kernel of n elements from buffer `in` to buffer `out`. */
static void add_copy_kernel(struct cal_prog *c, int in, int out, int64_t n) {
    struct tsr_kernel *k = &c->kernels[c->p.n_kernels++];
    memset(k, 0, sizeof *k);
    k->kind = TSR_K_EW;
    k->dtype = TSR_F32;
    snprintf(k->name, sizeof k->name, "calibrate_copy");
    k->n_inputs = 1;
    k->inputs[0] = in;
    k->output = out;
    k->bytes = (uint64_t)n * 8u;
    k->u.ew.rank = 1;
    k->u.ew.dims[0] = n;
    k->u.ew.strides[0][0] = 1;
    k->u.ew.n_instrs = 1;
    k->u.ew.n_regs = 1;
    k->u.ew.instrs[0] = (struct tsr_ew_instr){.op = TSR_EW_COPY, .dst = 0, .a = -1, .b = 0};
}

static void make_chain(struct cal_prog *c, int n_kernels, int64_t n);

#define TSR_CAL_TRANS_ELEMS (1 << 20) /* elements of the transcendental region */
#define TSR_CAL_TRANS_OPS   4         /* transcendental ops per element in it */

/* Transcendental regions (calibrate.h, trans_gops / trans_slow_gops), 4 ops per element. */
static const uint8_t g_trans_fast[TSR_CAL_TRANS_OPS] = {TSR_EW_EXP, TSR_EW_SIGMOID, TSR_EW_EXP,
                                                        TSR_EW_SIGMOID};
static const uint8_t g_trans_slow[TSR_CAL_TRANS_OPS] = {TSR_EW_TANH, TSR_EW_ERF, TSR_EW_TANH,
                                                        TSR_EW_ERF};

/* input[n] → y = ops[3](ops[2](ops[1](ops[0](x)))) → output[n]: one fused region. */
static void make_trans(struct cal_prog *c, int64_t n, const uint8_t *ops) {
    make_chain(c, 1, n);
    struct tsr_k_ew *e = &c->kernels[0].u.ew;
    snprintf(c->kernels[0].name, sizeof c->kernels[0].name, "calibrate_trans");
    e->n_instrs = TSR_CAL_TRANS_OPS;
    for (int i = 0; i < TSR_CAL_TRANS_OPS; i++)
        e->instrs[i] = (struct tsr_ew_instr){.op = ops[i], .dst = 0, .a = (int16_t)(i ? 0 : -1)};
}

/* input[n] → (n_kernels chained copies through two arena slots) → output[n]. */
static void make_chain(struct cal_prog *c, int n_kernels, int64_t n) {
    prog_init(c);
    size_t slot = ((size_t)n * sizeof(float) + 63) & ~(size_t)63;
    add_buffer(c, TSR_BUF_INPUT, n, 0, 0);
    for (int i = 1; i < n_kernels; i++)
        add_buffer(c, TSR_BUF_TEMP, n, 0, (size_t)(i % 2) * slot);
    add_buffer(c, TSR_BUF_OUTPUT, n, 0, 0);
    for (int i = 0; i < n_kernels; i++)
        add_copy_kernel(c, i, i + 1, n);
    c->p.arena_bytes = n_kernels > 1 ? 2 * slot : 0;
    c->p.n_inputs = c->p.n_outputs = 1;
    c->in_ids[0] = 0;
    c->out_ids[0] = n_kernels;
}

/* inputs a[8,32], b[32] → n_kernels chained regions y = relu((x + b) * x) - b, each over
 * [8, 32] with b broadcast along dim 0 (x = a for the first, the previous result after). */
static void make_small_chain(struct cal_prog *c, int n_kernels) {
    const int64_t r = TSR_CAL_SMALL_ROWS, n = TSR_CAL_SMALL_COLS;
    prog_init(c);
    size_t slot = ((size_t)(r * n) * sizeof(float) + 63) & ~(size_t)63;
    add_buffer(c, TSR_BUF_INPUT, r * n, 0, 0);
    add_buffer(c, TSR_BUF_INPUT, n, 1, 0);
    for (int i = 1; i < n_kernels; i++)
        add_buffer(c, TSR_BUF_TEMP, r * n, 0, (size_t)(i % 2) * slot);
    add_buffer(c, TSR_BUF_OUTPUT, r * n, 0, 0);
    for (int i = 0; i < n_kernels; i++) {
        struct tsr_kernel *k = &c->kernels[c->p.n_kernels++];
        memset(k, 0, sizeof *k);
        k->kind = TSR_K_EW;
        k->dtype = TSR_F32;
        snprintf(k->name, sizeof k->name, "calibrate_small");
        k->n_inputs = 2;
        k->inputs[0] = i == 0 ? 0 : i + 1; /* buffer 1 is b; temps start at 2 */
        k->inputs[1] = 1;
        k->output = i + 2;
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
    }
    c->p.arena_bytes = n_kernels > 1 ? 2 * slot : 0;
    c->p.n_inputs = 2;
    c->p.n_outputs = 1;
    c->in_ids[0] = 0;
    c->in_ids[1] = 1;
    c->out_ids[0] = n_kernels + 1;
}

/* Y = relu(conv(X, W) + bias), NCHW, KxK window, stride 1, pad K/2, `group` groups:
 * X[nb, ch, hw, hw], W[m, ch/group, k, k], bias[m] → Y[nb, m, hw, hw]. Returns the FLOPs. */
static double make_conv(struct cal_prog *c, int64_t nb, int64_t ch, int64_t m, int64_t hw,
                        int64_t k, int64_t group) {
    prog_init(c);
    add_buffer(c, TSR_BUF_INPUT, nb * ch * hw * hw, 0, 0);
    add_buffer(c, TSR_BUF_INPUT, m * (ch / group) * k * k, 1, 0);
    add_buffer(c, TSR_BUF_INPUT, m, 2, 0);
    add_buffer(c, TSR_BUF_OUTPUT, nb * m * hw * hw, 0, 0);
    struct tsr_kernel *kk = &c->kernels[c->p.n_kernels++];
    memset(kk, 0, sizeof *kk);
    kk->kind = TSR_K_CONV;
    kk->dtype = TSR_F32;
    snprintf(kk->name, sizeof kk->name, "calibrate_conv");
    kk->n_inputs = 3;
    kk->inputs[0] = 0;
    kk->inputs[1] = 1;
    kk->inputs[2] = 2;
    kk->output = 3;
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
    c->p.n_inputs = 3;
    c->p.n_outputs = 1;
    for (int i = 0; i < 3; i++)
        c->in_ids[i] = i;
    c->out_ids[0] = 3;
    return flops;
}

/* Y[m,n] = A[m,k]·B[k,n]. */
static void make_gemm(struct cal_prog *c, int64_t m, int64_t n, int64_t k) {
    prog_init(c);
    add_buffer(c, TSR_BUF_INPUT, m * k, 0, 0);
    add_buffer(c, TSR_BUF_INPUT, k * n, 1, 0);
    add_buffer(c, TSR_BUF_OUTPUT, m * n, 0, 0);
    struct tsr_kernel *kk = &c->kernels[c->p.n_kernels++];
    memset(kk, 0, sizeof *kk);
    kk->kind = TSR_K_GEMM;
    kk->dtype = TSR_F32;
    snprintf(kk->name, sizeof kk->name, "calibrate_gemm");
    kk->n_inputs = 2;
    kk->inputs[0] = 0;
    kk->inputs[1] = 1;
    kk->output = 2;
    kk->flops = (uint64_t)(2 * m * n * k);
    kk->bytes = (uint64_t)((m * k + k * n + m * n) * 4);
    struct tsr_k_gemm *g = &kk->u.gemm;
    g->batch = 1;
    g->M = m;
    g->N = n;
    g->K = k;
    g->lda = k;
    g->ldb = n;
    g->alpha = 1.0f;
    g->act = TSR_ACT_NONE;
    c->p.n_inputs = 2;
    c->p.n_outputs = 1;
    c->in_ids[0] = 0;
    c->in_ids[1] = 1;
    c->out_ids[0] = 2;
}

/* Prepares c on the CPU and returns the robust median of one run's time in ns (see file
 * comment); host buffers for inputs/outputs are allocated here. *st receives the status. */
static double time_program(tsr_context *ctx, struct cal_prog *c, tsr_status *st) {
    void *exec = NULL;
    double result = NAN;
    struct tsr_tensor in[3], out[1];
    memset(in, 0, sizeof in);
    memset(out, 0, sizeof out);
    for (int i = 0; i < c->p.n_inputs; i++) {
        const struct tsr_buffer *b = &c->buffers[c->in_ids[i]];
        in[i].desc = b->desc;
        in[i].data = tsr_aligned_alloc(b->bytes);
        /* Ordinary numbers (0.5 .. 1.5): no denormal/NaN slow paths, and no all-zero operands
         * (which some code paths finish early on). */
        if (in[i].data)
            for (size_t e = 0; e < b->bytes / sizeof(float); e++)
                ((float *)in[i].data)[e] = 0.5f + (float)(e % 17) / 16.0f;
    }
    const struct tsr_buffer *ob = &c->buffers[c->out_ids[0]];
    out[0].desc = ob->desc;
    out[0].data = tsr_aligned_alloc(ob->bytes);
    int missing = !out[0].data;
    for (int i = 0; i < c->p.n_inputs; i++)
        missing |= !in[i].data;
    if (missing) {
        *st = TSR_ERR(ctx, TSR_E_NOMEM, "calibrate cpu: out of memory");
        goto done;
    }
    if ((*st = tsr_cpu_backend_ops.prepare(ctx, 0, &c->p, &exec)) != TSR_OK) goto done;
    /* Warm-up, and the repeat count that makes a sample last >= TSR_CAL_MIN_SAMPLE_NS. */
    uint64_t t0 = tsr_now_ns();
    if ((*st = tsr_cpu_backend_ops.execute(exec, in, out)) != TSR_OK) goto done;
    uint64_t once = tsr_now_ns() - t0;
    int reps = once >= TSR_CAL_MIN_SAMPLE_NS ? 1 : (int)(TSR_CAL_MIN_SAMPLE_NS / (once + 1)) + 1;
    if (reps > TSR_CAL_MAX_REPS) reps = TSR_CAL_MAX_REPS;
    int n_samples = once >= TSR_CAL_LONG_RUN_NS ? TSR_CAL_FEW_SAMPLES : TSR_CAL_SAMPLES;
    double samples[TSR_CAL_SAMPLES], runs[TSR_CAL_MAX_REPS];
    for (int s = 0; s < n_samples; s++) {
        for (int r = 0; r < reps; r++) {
            t0 = tsr_now_ns();
            if ((*st = tsr_cpu_backend_ops.execute(exec, in, out)) != TSR_OK) goto done;
            runs[r] = (double)(tsr_now_ns() - t0);
        }
        samples[s] = tsr_calib_median(runs, reps);
    }
    result = tsr_calib_robust_median(samples, n_samples);
done:
    tsr_cpu_backend_ops.release(exec);
    for (int i = 0; i < 3; i++)
        tsr_aligned_free(in[i].data);
    tsr_aligned_free(out[0].data);
    return result;
}

/* The probes of one round, in order (figures in calibrate.h). */
enum cpu_probe {
    P_SMALL1,             /* one small fused region */
    P_SMALLK,             /* TSR_CAL_CHAIN of them */
    P_BW0,                /* copies of g_bw_sizes[0..2] */
    P_TRANS = P_BW0 + 3,  /* exp/sigmoid region */
    P_TRANS_SLOW,         /* tanh/erf region */
    P_GEMM0,              /* GEMMs of g_gemm_sizes[0..5] */
    P_CONV = P_GEMM0 + 6, /* 3x3 conv */
    P_DWCONV,             /* depthwise 3x3 conv */
    P_COUNT
};

/* Builds probe p into c; returns its FLOPs (GEMM and conv probes) or 0. */
static double build_probe(struct cal_prog *c, int p) {
    if (p == P_SMALL1 || p == P_SMALLK) {
        make_small_chain(c, p == P_SMALL1 ? 1 : TSR_CAL_CHAIN);
        return 0.0;
    }
    if (p >= P_BW0 && p < P_TRANS) {
        make_chain(c, 1, g_bw_sizes[p - P_BW0]);
        return 0.0;
    }
    if (p == P_TRANS || p == P_TRANS_SLOW) {
        make_trans(c, TSR_CAL_TRANS_ELEMS, p == P_TRANS ? g_trans_fast : g_trans_slow);
        return 0.0;
    }
    if (p >= P_GEMM0 && p < P_CONV) {
        int64_t n = g_gemm_sizes[p - P_GEMM0];
        make_gemm(c, n, n, n);
        return 2.0 * (double)n * (double)n * (double)n;
    }
    if (p == P_CONV) return make_conv(c, 2, 8, 16, 16, 3, 1);
    return make_conv(c, 2, 16, 16, 14, 3, 16);
}

tsr_status tsr_calib_measure_cpu(tsr_context *ctx, struct tsr_calibration *out) {
    if (!ctx || !out) return TSR_ERR(ctx, TSR_E_INVALID_ARG, "calibrate cpu: NULL argument");
    struct cal_prog *c = malloc(sizeof *c);
    if (!c) return TSR_ERR(ctx, TSR_E_NOMEM, "calibrate cpu: out of memory");
    tsr_status st = TSR_OK;
    double t[P_COUNT], flops[P_COUNT], rounds[P_COUNT][TSR_CAL_ROUNDS];
    /* Every probe in each of TSR_CAL_ROUNDS rounds; its time is the median round's figure. */
    for (int r = 0; r < TSR_CAL_ROUNDS; r++)
        for (int p = 0; p < P_COUNT; p++) {
            flops[p] = build_probe(c, p);
            rounds[p][r] = time_program(ctx, c, &st);
            if (st != TSR_OK) goto done;
        }
    for (int p = 0; p < P_COUNT; p++)
        t[p] = tsr_calib_median(rounds[p], TSR_CAL_ROUNDS);

    /* Launch: chains of 1 and TSR_CAL_CHAIN small fused regions. */
    double launch_ns = (t[P_SMALLK] - t[P_SMALL1]) / (TSR_CAL_CHAIN - 1);
    if (!(launch_ns > 0)) launch_ns = t[P_SMALLK] / TSR_CAL_CHAIN;
    out->launch_us = launch_ns * 1e-3;
    out->run_overhead_us = t[P_SMALL1] > launch_ns ? (t[P_SMALL1] - launch_ns) * 1e-3 : 0.0;
    /* Bandwidth curve: one copy kernel per size; the largest is bandwidth_gbps. */
    out->n_bw = 0;
    for (int i = 0; i < 3; i++) {
        double bytes = 8.0 * (double)g_bw_sizes[i];
        out->bw[out->n_bw++] = (struct tsr_calib_bw){bytes, bytes / t[P_BW0 + i]};
    }
    out->bandwidth_gbps = out->bw[out->n_bw - 1].gbps; /* B/ns = GB/s */
    out->trans_gops = (double)TSR_CAL_TRANS_OPS * TSR_CAL_TRANS_ELEMS / t[P_TRANS]; /* G/s */
    out->trans_slow_gops = (double)TSR_CAL_TRANS_OPS * TSR_CAL_TRANS_ELEMS / t[P_TRANS_SLOW];
    out->n_gemm = 0;
    for (int i = 0; i < 6; i++) {
        int64_t n = g_gemm_sizes[i];
        double tg = t[P_GEMM0 + i];
        double tn = tg - launch_ns > 0.5 * tg ? tg - launch_ns : tg;
        out->gemm[out->n_gemm++] = (struct tsr_calib_gemm){n, n, n, flops[P_GEMM0 + i] / tn};
    }
    /* Convolutions (calibrate.h: conv_gflops, dwconv_gflops). */
    out->conv_gflops = flops[P_CONV] / t[P_CONV];
    out->dwconv_gflops = flops[P_DWCONV] / t[P_DWCONV];
    out->h2d_gbps = out->d2h_gbps = out->latency_us = 0.0;
    out->h2d_small_gbps = out->d2h_small_gbps = 0.0;
done:
    free(c);
    return st;
}
