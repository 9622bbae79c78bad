/*
 * suite_fusion.c — the `fusion` suite (issue 4 item 7): what fusion buys, per device.
 *
 *   "chain5 bcast 64MiB": x[4096, 4096] with per-column constants b, s [4096] (broadcast):
 *       y = (relu((x + b) * s) - b) * 0.5; rows "tessera" (fused) and "tessera-unfused"
 *       (disable_fusion = TSR_FUSE_ALL); PyTorch eager beside it (pyspec "fchain R C").
 *       bytes = 4 * 2 * R * C (read x, write y).
 *   "linear+relu MxKxN": relu(X[M,K] W[K,N] + bias[N]) with W, bias constant; rows "tessera"
 *       (epilogue fused), "tessera-unfused" (TSR_FUSE_EPILOGUE disabled: GEMM then separate
 *       passes) and "tessera-matmul-only" (the bare GEMM, the floor). flops 2*M*N*K.
 *   "conv+bn+relu 64x56x56": relu(BatchNormalization(Conv3x3(x[1,64,56,56], W[64,64,3,3], pad 1)))
 *       with W and the BN parameters constant; rows "tessera" (BN folded into the conv, ReLU in
 *       its epilogue: one kernel) and "tessera-unfused" (TSR_FUSE_ALL disabled: conv, BN and
 *       ReLU as separate kernels). flops 2 * 64 * 56 * 56 * 64 * 9 (the conv's).
 *   "compile 500 nodes" (cpu only): tsr_compile of a 166-layer MLP (MatMul + Add + Relu per
 *       layer, width 32, batch 8: 498 operator nodes, 332 constants) for the CPU, plus
 *       tsr_plan_destroy of the plan (negligible); metric "us" = median latency. Issue 4's target
 *       is under 20 ms.
 * The variants are not "tessera" rows, so the table's "vs best peer" of the fused row is the
 * speed-up of fusion over the fastest variant.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tsr_graph *chain_graph(tsr_context *ctx, int64_t R, int64_t C) {
    tsr_graph *g = NULL;
    if (tsr_graph_create(ctx, &g) != TSR_OK) return NULL;
    struct tsr_tensor_desc dx = {.dtype = TSR_F32, .rank = 2, .dims = {R, C}};
    struct tsr_tensor_desc dv = {.dtype = TSR_F32, .rank = 1, .dims = {C}};
    struct tsr_tensor_desc d1 = {.dtype = TSR_F32, .rank = 1, .dims = {1}};
    float *b = malloc((size_t)C * sizeof *b), *s = malloc((size_t)C * sizeof *s), half = 0.5f;
    tsr_value x, bv, sv, hv, t, y;
    int ok = b && s;
    if (ok) {
        tsr_bench_fill(b, (size_t)C, 5, -1.f, 1.f);
        tsr_bench_fill(s, (size_t)C, 6, 0.5f, 1.5f);
    }
    ok = ok && tsr_graph_input(g, "x", &dx, &x) == TSR_OK &&
         tsr_graph_constant(g, "b", &dv, b, &bv) == TSR_OK &&
         tsr_graph_constant(g, "s", &dv, s, &sv) == TSR_OK &&
         tsr_graph_constant(g, "half", &d1, &half, &hv) == TSR_OK;
    tsr_value i1[2] = {x, bv};
    ok = ok && tsr_graph_op(g, TSR_OP_ADD, i1, 2, NULL, "f_add", &t) == TSR_OK;
    tsr_value i2[2] = {t, sv};
    ok = ok && tsr_graph_op(g, TSR_OP_MUL, i2, 2, NULL, "f_mul", &t) == TSR_OK &&
         tsr_graph_op(g, TSR_OP_RELU, &t, 1, NULL, "f_relu", &t) == TSR_OK;
    tsr_value i3[2] = {t, bv};
    ok = ok && tsr_graph_op(g, TSR_OP_SUB, i3, 2, NULL, "f_sub", &t) == TSR_OK;
    tsr_value i4[2] = {t, hv};
    ok = ok && tsr_graph_op(g, TSR_OP_MUL, i4, 2, NULL, "f_scale", &y) == TSR_OK &&
         tsr_graph_output(g, "y", y) == TSR_OK;
    free(b);
    free(s);
    if (!ok) {
        tsr_graph_destroy(g);
        return NULL;
    }
    return g;
}

/* relu(X W + bias) (with_epilogue) or X W alone. */
static tsr_graph *linear_graph(tsr_context *ctx, int M, int K, int N, int with_epilogue) {
    tsr_graph *g = NULL;
    if (tsr_graph_create(ctx, &g) != TSR_OK) return NULL;
    struct tsr_tensor_desc dx = {.dtype = TSR_F32, .rank = 2, .dims = {M, K}};
    struct tsr_tensor_desc dw = {.dtype = TSR_F32, .rank = 2, .dims = {K, N}};
    struct tsr_tensor_desc db = {.dtype = TSR_F32, .rank = 1, .dims = {N}};
    float *w = malloc((size_t)K * (size_t)N * sizeof *w), *b = malloc((size_t)N * sizeof *b);
    tsr_value x, wv, bv, t, y;
    int ok = w && b;
    if (ok) {
        tsr_bench_fill(w, (size_t)K * (size_t)N, 7, -0.1f, 0.1f);
        tsr_bench_fill(b, (size_t)N, 8, -1.f, 1.f);
    }
    ok = ok && tsr_graph_input(g, "x", &dx, &x) == TSR_OK &&
         tsr_graph_constant(g, "w", &dw, w, &wv) == TSR_OK &&
         tsr_graph_constant(g, "bias", &db, b, &bv) == TSR_OK;
    tsr_value i1[2] = {x, wv};
    ok = ok && tsr_graph_op(g, TSR_OP_MATMUL, i1, 2, NULL, "l_matmul", &t) == TSR_OK;
    if (with_epilogue) {
        tsr_value i2[2] = {t, bv};
        ok = ok && tsr_graph_op(g, TSR_OP_ADD, i2, 2, NULL, "l_bias", &t) == TSR_OK &&
             tsr_graph_op(g, TSR_OP_RELU, &t, 1, NULL, "l_relu", &y) == TSR_OK;
    } else {
        y = t;
    }
    ok = ok && tsr_graph_output(g, "y", y) == TSR_OK;
    free(w);
    free(b);
    if (!ok) {
        tsr_graph_destroy(g);
        return NULL;
    }
    return g;
}

/* relu(bn(conv3x3(x))) on [1, C, H, W], C -> C channels, pads 1. */
static tsr_graph *conv_bn_relu_graph(tsr_context *ctx, int64_t C, int64_t H, int64_t W) {
    tsr_graph *g = NULL;
    if (tsr_graph_create(ctx, &g) != TSR_OK) return NULL;
    struct tsr_tensor_desc dx = {.dtype = TSR_F32, .rank = 4, .dims = {1, C, H, W}};
    struct tsr_tensor_desc dw = {.dtype = TSR_F32, .rank = 4, .dims = {C, C, 3, 3}};
    struct tsr_tensor_desc dc = {.dtype = TSR_F32, .rank = 1, .dims = {C}};
    const size_t nw = (size_t)(C * C * 9);
    float *w = malloc(nw * sizeof *w), *p = malloc(4 * (size_t)C * sizeof *p);
    tsr_value x, wv, bn[4], t, y;
    int ok = w && p;
    if (ok) {
        tsr_bench_fill(w, nw, 11, -0.05f, 0.05f);
        tsr_bench_fill(p, (size_t)C, 12, 0.5f, 1.5f);          /* scale */
        tsr_bench_fill(p + C, (size_t)C, 13, -0.5f, 0.5f);     /* B */
        tsr_bench_fill(p + 2 * C, (size_t)C, 14, -0.2f, 0.2f); /* mean */
        tsr_bench_fill(p + 3 * C, (size_t)C, 15, 0.5f, 2.0f);  /* var */
    }
    static const char *bn_names[4] = {"bn_scale", "bn_b", "bn_mean", "bn_var"};
    ok = ok && tsr_graph_input(g, "x", &dx, &x) == TSR_OK &&
         tsr_graph_constant(g, "w", &dw, w, &wv) == TSR_OK;
    for (int i = 0; i < 4 && ok; i++)
        ok = tsr_graph_constant(g, bn_names[i], &dc, p + i * C, &bn[i]) == TSR_OK;
    struct tsr_op_attrs a = tsr_op_attrs_default();
    a.pads[0] = a.pads[1] = a.pads[2] = a.pads[3] = 1;
    tsr_value ic[2] = {x, wv};
    ok = ok && tsr_graph_op(g, TSR_OP_CONV, ic, 2, &a, "c_conv", &t) == TSR_OK;
    tsr_value ib[5] = {t, bn[0], bn[1], bn[2], bn[3]};
    ok = ok && tsr_graph_op(g, TSR_OP_BATCHNORM, ib, 5, NULL, "c_bn", &t) == TSR_OK &&
         tsr_graph_op(g, TSR_OP_RELU, &t, 1, NULL, "c_relu", &y) == TSR_OK &&
         tsr_graph_output(g, "y", y) == TSR_OK;
    free(w);
    free(p);
    if (!ok) {
        tsr_graph_destroy(g);
        return NULL;
    }
    return g;
}

/* A `layers`-layer MLP y = relu(... relu(x W0 + b0) ...) of width `width` on a batch of 8:
 * 3 * layers operator nodes. */
static tsr_graph *deep_mlp_graph(tsr_context *ctx, int layers, int64_t width) {
    tsr_graph *g = NULL;
    if (tsr_graph_create(ctx, &g) != TSR_OK) return NULL;
    struct tsr_tensor_desc dx = {.dtype = TSR_F32, .rank = 2, .dims = {8, width}};
    struct tsr_tensor_desc dw = {.dtype = TSR_F32, .rank = 2, .dims = {width, width}};
    struct tsr_tensor_desc db = {.dtype = TSR_F32, .rank = 1, .dims = {width}};
    float *w = malloc((size_t)(width * width) * sizeof *w), *b = malloc((size_t)width * sizeof *b);
    tsr_value t;
    int ok = w && b && tsr_graph_input(g, "x", &dx, &t) == TSR_OK;
    for (int l = 0; l < layers && ok; l++) {
        tsr_value wv, bv;
        tsr_bench_fill(w, (size_t)(width * width), 100u + (uint64_t)l, -0.2f, 0.2f);
        tsr_bench_fill(b, (size_t)width, 1000u + (uint64_t)l, -0.1f, 0.1f);
        ok = tsr_graph_constant(g, NULL, &dw, w, &wv) == TSR_OK &&
             tsr_graph_constant(g, NULL, &db, b, &bv) == TSR_OK;
        tsr_value i1[2] = {t, wv};
        ok = ok && tsr_graph_op(g, TSR_OP_MATMUL, i1, 2, NULL, NULL, &t) == TSR_OK;
        tsr_value i2[2] = {t, bv};
        ok = ok && tsr_graph_op(g, TSR_OP_ADD, i2, 2, NULL, NULL, &t) == TSR_OK &&
             tsr_graph_op(g, TSR_OP_RELU, &t, 1, NULL, NULL, &t) == TSR_OK;
    }
    ok = ok && tsr_graph_output(g, "y", t) == TSR_OK;
    free(w);
    free(b);
    if (!ok) {
        tsr_graph_destroy(g);
        return NULL;
    }
    return g;
}

struct compile_work {
    tsr_context *ctx;
    const tsr_graph *graph;
    tsr_status last;
};

/* One timed call: compile for the CPU, destroy the plan. */
static int compile_call(void *arg, double *device_ms) {
    struct compile_work *w = arg;
    (void)device_ms;
    struct tsr_compile_options opts = tsr_compile_options_default();
    opts.device = "cpu";
    opts.allow_fallback = 0;
    tsr_plan *plan = NULL;
    w->last = tsr_compile(w->ctx, w->graph, &opts, &plan);
    tsr_plan_destroy(plan);
    return w->last != TSR_OK;
}

/* The "compile 500 nodes" row. */
static int compile_case(struct tsr_bench_run *run) {
    tsr_graph *g = deep_mlp_graph(run->ctx, 166, 32);
    char shape[64];
    snprintf(shape, sizeof shape, "%d nodes", g ? tsr_graph_node_count(g) : 0);
    struct tsr_bench_row *row =
        tsr_bench_add_row(run, "fusion", "compile 500 nodes", "tessera", "cpu", shape);
    if (!row) {
        tsr_graph_destroy(g);
        return -1;
    }
    snprintf(row->metric, sizeof row->metric, "us");
    if (!g) {
        row->status = TSR_BENCH_FAILED;
        snprintf(row->note, sizeof row->note, "graph build failed");
        return 0;
    }
    struct compile_work w = {.ctx = run->ctx, .graph = g};
    struct tsr_bench_result r;
    tsr_bench_measure(&run->cfg, compile_call, &w, &r);
    if (r.failed) {
        const struct tsr_error_info *e = tsr_last_error(run->ctx);
        row->status = w.last == TSR_E_UNSUPPORTED ? TSR_BENCH_UNSUPPORTED : TSR_BENCH_FAILED;
        snprintf(row->note, sizeof row->note, "compile: %s: %s", tsr_status_name(w.last),
                 e->message ? e->message : "");
    }
    tsr_bench_row_set(row, &r);
    tsr_bench_result_free(&r);
    tsr_graph_destroy(g);
    return 0;
}

static int variant(struct tsr_bench_run *run, const tsr_graph *g, const char *name,
                   const char *impl, const char *dev, const char *shape, double flops, double bytes,
                   const char *metric, unsigned off, const char *pyspec) {
    struct tsr_bench_row *row = tsr_bench_add_row(run, "fusion", name, impl, dev, shape);
    if (!row) return -1;
    row->flops = flops;
    row->bytes = bytes;
    snprintf(row->metric, sizeof row->metric, "%s", metric);
    if (pyspec) snprintf(row->pyspec, sizeof row->pyspec, "%s", pyspec);
    if (!g) {
        row->status = TSR_BENCH_FAILED;
        snprintf(row->note, sizeof row->note, "graph build failed");
        return 0;
    }
    return tsr_bench_measure_graph(run, row, g, dev, off);
}

int tsr_bench_suite_fusion(struct tsr_bench_run *run) {
    const int64_t R = 4096, C = 4096;
    tsr_graph *chain = chain_graph(run->ctx, R, C);
    static const int LIN[2][3] = {{4096, 256, 256}, {65536, 64, 256}};
    tsr_graph *lin[2][2];
    for (int k = 0; k < 2; k++)
        for (int e = 0; e < 2; e++)
            lin[k][e] = linear_graph(run->ctx, LIN[k][0], LIN[k][1], LIN[k][2], !e);
    int rc = 0;
    for (int d = 0; d < run->n_devices && !rc; d++) {
        const char *dev = run->devices[d];
        char label[96], pys[64];
        snprintf(label, sizeof label, "fusion chain5 %s", dev);
        tsr_bench_progress(run, label);
        snprintf(pys, sizeof pys, "fchain %lld %lld", (long long)R, (long long)C);
        double n = (double)R * (double)C;
        rc = variant(run, chain, "chain5 bcast 64MiB", "tessera", dev, "[4096x4096]+[4096]", 5 * n,
                     8 * n, "GB/s", 0, pys) ||
             variant(run, chain, "chain5 bcast 64MiB", "tessera-unfused", dev, "[4096x4096]+[4096]",
                     5 * n, 8 * n, "GB/s", TSR_FUSE_ALL, NULL);
        for (int k = 0; k < 2 && !rc; k++) {
            int M = LIN[k][0], K = LIN[k][1], N = LIN[k][2];
            char name[64], shape[96];
            snprintf(name, sizeof name, "linear+relu %dx%dx%d", M, K, N);
            snprintf(shape, sizeof shape, "[%dx%d]x[%dx%d]+[%d]", M, K, K, N, N);
            snprintf(label, sizeof label, "fusion %s %s", name, dev);
            tsr_bench_progress(run, label);
            double fl = 2.0 * M * N * K;
            double by = 4.0 * ((double)M * K + (double)K * N + (double)M * N + N);
            snprintf(pys, sizeof pys, "flinear %d %d %d", M, K, N);
            rc = variant(run, lin[k][0], name, "tessera", dev, shape, fl, by, "GFLOP/s", 0, pys) ||
                 variant(run, lin[k][0], name, "tessera-unfused", dev, shape, fl, by, "GFLOP/s",
                         TSR_FUSE_EPILOGUE, NULL) ||
                 variant(run, lin[k][1], name, "tessera-matmul-only", dev, shape, fl, by, "GFLOP/s",
                         0, NULL);
        }
    }
    const int64_t CC = 64, CH = 56, CW = 56;
    tsr_graph *conv = conv_bn_relu_graph(run->ctx, CC, CH, CW);
    for (int d = 0; d < run->n_devices && !rc; d++) {
        const char *dev = run->devices[d];
        const double fl = 2.0 * (double)(CC * CH * CW) * (double)(CC * 9);
        const double by = 4.0 * (2.0 * (double)(CC * CH * CW) + (double)(CC * CC * 9));
        rc = variant(run, conv, "conv+bn+relu 64x56x56", "tessera", dev, "[1x64x56x56]*[64x64x3x3]",
                     fl, by, "GFLOP/s", 0, NULL) ||
             variant(run, conv, "conv+bn+relu 64x56x56", "tessera-unfused", dev,
                     "[1x64x56x56]*[64x64x3x3]", fl, by, "GFLOP/s", TSR_FUSE_ALL, NULL);
        if (!rc && !strcmp(dev, "cpu")) rc = compile_case(run);
    }
    tsr_graph_destroy(conv);
    tsr_graph_destroy(chain);
    for (int k = 0; k < 2; k++)
        for (int e = 0; e < 2; e++)
            tsr_graph_destroy(lin[k][e]);
    return rc ? -1 : 0;
}
