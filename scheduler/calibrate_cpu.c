/*
 * calibrate_cpu.c — measures the native CPU (figures and rules in calibrate.h).
 *
 * Every figure is taken through tsr_cpu_backend_ops with small hand-built programs
 * (runtime/program.h), so it measures the code path real plans take: thread-pool dispatch,
 * the tiled elementwise executor, cblas_sgemm on row panels with the epilogue.
 *
 * Sample counts: TSR_CAL_SAMPLES samples per figure after one warm-up run; a sample repeats the
 * run until it lasts at least TSR_CAL_MIN_SAMPLE_NS so the clock's resolution and one-off
 * scheduler noise do not dominate short runs. Total on a 2-core machine: about 0.5 s.
 */
#include "runtime/program.h"
#include "scheduler/calibrate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TSR_CAL_SAMPLES       9
#define TSR_CAL_MIN_SAMPLE_NS 1000000ull /* 1 ms */
#define TSR_CAL_BW_FLOATS     (8u << 20) /* 32 MiB per buffer */
#define TSR_CAL_CHAIN         16         /* kernels in the launch-overhead chain */
#define TSR_CAL_TINY          16         /* elements per kernel of the chain */

/* GEMM sizes (square): documented in calibrate.h. */
static const int64_t g_gemm_sizes[] = {32, 64, 128, 256, 512, 1024};

/* A small program under construction: up to 3 + TSR_CAL_CHAIN buffers and TSR_CAL_CHAIN
 * kernels, all storage inside the struct. */
struct cal_prog {
    struct tsr_program p;
    struct tsr_buffer buffers[TSR_CAL_CHAIN + 3];
    struct tsr_kernel kernels[TSR_CAL_CHAIN];
    int in_ids[2], out_ids[1];
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

/* input[n] → y = sigmoid(erf(tanh(exp(x)))) → output[n]: one fused region, 4 transcendental ops
 * per element (calibrate.h, trans_gops). */
static void make_trans(struct cal_prog *c, int64_t n) {
    make_chain(c, 1, n);
    struct tsr_k_ew *e = &c->kernels[0].u.ew;
    snprintf(c->kernels[0].name, sizeof c->kernels[0].name, "calibrate_trans");
    static const uint8_t ops[TSR_CAL_TRANS_OPS] = {TSR_EW_EXP, TSR_EW_TANH, TSR_EW_ERF,
                                                   TSR_EW_SIGMOID};
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

/* Y[m,n] = A[m,k]·B[k,n]. */
static void make_gemm(struct cal_prog *c, int64_t m, int64_t n, int64_t k) {
    prog_init(c);
    add_buffer(c, TSR_BUF_INPUT, m * k, 0, 0);
    add_buffer(c, TSR_BUF_INPUT, k * n, 1, 0);
    add_buffer(c, TSR_BUF_OUTPUT, m * n, 0, 0);
    struct tsr_kernel *kk = &c->kernels[c->p.n_kernels++];
    memset(kk, 0, sizeof *kk);
    kk->kind = TSR_K_GEMM;
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
    struct tsr_tensor in[2], out[1];
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
    if (!out[0].data || !in[0].data || (c->p.n_inputs > 1 && !in[1].data)) {
        *st = TSR_ERR(ctx, TSR_E_NOMEM, "calibrate cpu: out of memory");
        goto done;
    }
    if ((*st = tsr_cpu_backend_ops.prepare(ctx, 0, &c->p, &exec)) != TSR_OK) goto done;
    /* Warm-up, and the repeat count that makes a sample last >= TSR_CAL_MIN_SAMPLE_NS. */
    uint64_t t0 = tsr_now_ns();
    if ((*st = tsr_cpu_backend_ops.execute(exec, in, out)) != TSR_OK) goto done;
    uint64_t once = tsr_now_ns() - t0;
    int reps = once >= TSR_CAL_MIN_SAMPLE_NS ? 1 : (int)(TSR_CAL_MIN_SAMPLE_NS / (once + 1)) + 1;
    if (reps > 10000) reps = 10000;
    double samples[TSR_CAL_SAMPLES];
    for (int s = 0; s < TSR_CAL_SAMPLES; s++) {
        t0 = tsr_now_ns();
        for (int r = 0; r < reps; r++)
            if ((*st = tsr_cpu_backend_ops.execute(exec, in, out)) != TSR_OK) goto done;
        samples[s] = (double)(tsr_now_ns() - t0) / reps;
    }
    result = tsr_calib_robust_median(samples, TSR_CAL_SAMPLES);
done:
    tsr_cpu_backend_ops.release(exec);
    for (int i = 0; i < 2; i++)
        tsr_aligned_free(in[i].data);
    tsr_aligned_free(out[0].data);
    return result;
}

tsr_status tsr_calib_measure_cpu(tsr_context *ctx, struct tsr_calibration *out) {
    if (!ctx || !out) return TSR_ERR(ctx, TSR_E_INVALID_ARG, "calibrate cpu: NULL argument");
    struct cal_prog *c = malloc(sizeof *c);
    if (!c) return TSR_ERR(ctx, TSR_E_NOMEM, "calibrate cpu: out of memory");
    tsr_status st = TSR_OK;

    /* Bandwidth: one copy kernel over 32 MiB. */
    make_chain(c, 1, TSR_CAL_BW_FLOATS);
    double t_bw = time_program(ctx, c, &st);
    if (st != TSR_OK) goto done;
    /* Launch: chains of 1 and TSR_CAL_CHAIN tiny kernels. */
    make_chain(c, 1, TSR_CAL_TINY);
    double t1 = time_program(ctx, c, &st);
    if (st != TSR_OK) goto done;
    make_chain(c, TSR_CAL_CHAIN, TSR_CAL_TINY);
    double tk = time_program(ctx, c, &st);
    if (st != TSR_OK) goto done;
    double launch_ns = (tk - t1) / (TSR_CAL_CHAIN - 1);
    if (!(launch_ns > 0)) launch_ns = tk / TSR_CAL_CHAIN;
    out->launch_us = launch_ns * 1e-3;
    out->run_overhead_us = t1 > launch_ns ? (t1 - launch_ns) * 1e-3 : 0.0;
    /* Bandwidth net of the kernel's own dispatch. */
    double net = t_bw - launch_ns > 0.5 * t_bw ? t_bw - launch_ns : t_bw;
    out->bandwidth_gbps = 2.0 * TSR_CAL_BW_FLOATS * sizeof(float) / net; /* B/ns = GB/s */

    make_trans(c, TSR_CAL_TRANS_ELEMS);
    double t_tr = time_program(ctx, c, &st);
    if (st != TSR_OK) goto done;
    out->trans_gops = (double)TSR_CAL_TRANS_OPS * TSR_CAL_TRANS_ELEMS / t_tr; /* per ns = G/s */

    out->n_gemm = 0;
    for (size_t i = 0; i < sizeof g_gemm_sizes / sizeof g_gemm_sizes[0]; i++) {
        int64_t n = g_gemm_sizes[i];
        make_gemm(c, n, n, n);
        double t = time_program(ctx, c, &st);
        if (st != TSR_OK) goto done;
        double tn = t - launch_ns > 0.5 * t ? t - launch_ns : t;
        out->gemm[out->n_gemm++] =
            (struct tsr_calib_gemm){n, n, n, 2.0 * (double)n * (double)n * (double)n / tn};
    }
    out->h2d_gbps = out->d2h_gbps = out->latency_us = 0.0;
done:
    free(c);
    return st;
}
