/*
 * suite_ops.c — the `gemm`, `elementwise` and `reduction` suites: one small tessera graph per
 * case, built with the public builder, measured on every device, with the C peers (OpenBLAS,
 * CLBlast) beside it. Python peers (PyTorch) read the same cases from row->pyspec later.
 *
 * Work and traffic per run (the minimum a perfect implementation must do; floats are 4 bytes):
 *   sgemm M,N,K:      flops 2*M*N*K;  bytes 4*(M*K + K*N + M*N)
 *   add/mul (n):      bytes 4*3n;     relu: 4*2n;   5-op chain (2 inputs, 1 output): 4*3n
 *   reduce (R x C):   bytes 4*(R*C + R);            softmax: 4*2*R*C
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct tsr_tensor_desc desc2(int64_t a, int64_t b) {
    struct tsr_tensor_desc d = {.dtype = TSR_F32, .rank = 2, .dims = {a, b}};
    return d;
}

static void size_label(char *buf, size_t n, double bytes) {
    if (bytes >= 1048576.0)
        snprintf(buf, n, "%gMiB", bytes / 1048576.0);
    else
        snprintf(buf, n, "%gKiB", bytes / 1024.0);
}

/* ---- gemm ----------------------------------------------------------------------------------- */

struct gemm_case {
    const char *name;
    int M, N, K;
    int quick;
};
static const struct gemm_case GEMM_CASES[] = {
    {"sgemm 256", 256, 256, 256, 1},           {"sgemm 512", 512, 512, 512, 1},
    {"sgemm 1024", 1024, 1024, 1024, 1},       {"sgemm 2048", 2048, 2048, 2048, 0},
    {"sgemm 4096x256x256", 4096, 256, 256, 1},
};
#define N_GEMM (int)(sizeof GEMM_CASES / sizeof GEMM_CASES[0])

/* Y[M,N] = X[M,K] (input) x W[K,N] (constant: weights stay on the device). */
static tsr_graph *gemm_graph(tsr_context *ctx, int M, int N, int K) {
    tsr_graph *g = NULL;
    if (tsr_graph_create(ctx, &g) != TSR_OK) return NULL;
    struct tsr_tensor_desc dx = desc2(M, K), dw = desc2(K, N);
    float *w = malloc((size_t)K * (size_t)N * sizeof *w);
    tsr_value x, wv, y;
    int ok = w != NULL;
    if (ok) tsr_bench_fill(w, (size_t)K * (size_t)N, 77, -1.f, 1.f);
    ok = ok && tsr_graph_input(g, "x", &dx, &x) == TSR_OK &&
         tsr_graph_constant(g, "w", &dw, w, &wv) == TSR_OK;
    tsr_value in[2] = {x, wv};
    ok = ok && tsr_graph_op(g, TSR_OP_MATMUL, in, 2, NULL, "matmul", &y) == TSR_OK &&
         tsr_graph_output(g, "y", y) == TSR_OK;
    free(w);
    if (!ok) {
        tsr_graph_destroy(g);
        return NULL;
    }
    return g;
}

int tsr_bench_suite_gemm(struct tsr_bench_run *run) {
    for (int c = 0; c < N_GEMM; c++) {
        const struct gemm_case *gc = &GEMM_CASES[c];
        if (run->quick && !gc->quick) continue;
        char shape[96];
        snprintf(shape, sizeof shape, "[%dx%d]x[%dx%d]", gc->M, gc->K, gc->K, gc->N);
        double flops = 2.0 * gc->M * gc->N * gc->K;
        double bytes =
            4.0 * ((double)gc->M * gc->K + (double)gc->K * gc->N + (double)gc->M * gc->N);
        tsr_graph *g = gemm_graph(run->ctx, gc->M, gc->N, gc->K);
        for (int d = 0; d < run->n_devices; d++) {
            char label[96];
            snprintf(label, sizeof label, "gemm %s %s", gc->name, run->devices[d]);
            tsr_bench_progress(run, label);
            struct tsr_bench_row *row =
                tsr_bench_add_row(run, "gemm", gc->name, "tessera", run->devices[d], shape);
            if (!row) return tsr_graph_destroy(g), -1;
            row->flops = flops;
            row->bytes = bytes;
            snprintf(row->metric, sizeof row->metric, "GFLOP/s");
            snprintf(row->pyspec, sizeof row->pyspec, "gemm %d %d %d", gc->M, gc->N, gc->K);
            if (!g) {
                row->status = TSR_BENCH_FAILED;
                snprintf(row->note, sizeof row->note, "graph build failed (out of memory?)");
            } else if (tsr_bench_measure_graph(run, row, g, run->devices[d], 0)) {
                return tsr_graph_destroy(g), -1;
            }
            if (run->no_peers) continue;
            int rc =
                tsr_bench_device_of_backend(run->ctx, run->devices[d], TSR_BENCH_OPENCL_BACKEND) >=
                        0
                    ? tsr_bench_peer_clblast(run, "gemm", gc->name, shape, run->devices[d], gc->M,
                                             gc->N, gc->K)
                    : tsr_bench_peer_openblas(run, "gemm", gc->name, shape, gc->M, gc->N, gc->K);
            if (rc) return tsr_graph_destroy(g), -1;
        }
        tsr_graph_destroy(g);
    }
    return 0;
}

/* ---- elementwise ---------------------------------------------------------------------------- */

static const int64_t EW_SIZES[] = {65536, 1048576, 16777216}; /* elements: 256 KiB, 4, 64 MiB */
static const int EW_QUICK[] = {1, 0, 1};
static const char *const EW_OPS[] = {"add", "mul", "relu", "chain5"};

/* add/mul: y = a op b; relu: y = relu(a); chain5: y = (relu((a + b) * a) - b) * 0.5 (5 ops). */
static tsr_graph *ew_graph(tsr_context *ctx, const char *op, int64_t n) {
    tsr_graph *g = NULL;
    if (tsr_graph_create(ctx, &g) != TSR_OK) return NULL;
    struct tsr_tensor_desc d = {.dtype = TSR_F32, .rank = 1, .dims = {n}};
    tsr_value a, b, y, t;
    int ok = tsr_graph_input(g, "a", &d, &a) == TSR_OK;
    int unary = !strcmp(op, "relu");
    if (!unary) ok = ok && tsr_graph_input(g, "b", &d, &b) == TSR_OK;
    if (!strcmp(op, "add") || !strcmp(op, "mul")) {
        tsr_value in[2] = {a, b};
        ok = ok &&
             tsr_graph_op(g, op[0] == 'a' ? TSR_OP_ADD : TSR_OP_MUL, in, 2, NULL, op, &y) == TSR_OK;
    } else if (unary) {
        ok = ok && tsr_graph_op(g, TSR_OP_RELU, &a, 1, NULL, "relu", &y) == TSR_OK;
    } else {
        struct tsr_tensor_desc ds = {.dtype = TSR_F32, .rank = 1, .dims = {1}};
        float half = 0.5f;
        tsr_value h;
        tsr_value in[2] = {a, b};
        ok = ok && tsr_graph_constant(g, "half", &ds, &half, &h) == TSR_OK &&
             tsr_graph_op(g, TSR_OP_ADD, in, 2, NULL, "c_add", &t) == TSR_OK;
        tsr_value i2[2] = {t, a};
        ok = ok && tsr_graph_op(g, TSR_OP_MUL, i2, 2, NULL, "c_mul", &t) == TSR_OK &&
             tsr_graph_op(g, TSR_OP_RELU, &t, 1, NULL, "c_relu", &t) == TSR_OK;
        tsr_value i3[2] = {t, b};
        ok = ok && tsr_graph_op(g, TSR_OP_SUB, i3, 2, NULL, "c_sub", &t) == TSR_OK;
        tsr_value i4[2] = {t, h};
        ok = ok && tsr_graph_op(g, TSR_OP_MUL, i4, 2, NULL, "c_scale", &y) == TSR_OK;
    }
    ok = ok && tsr_graph_output(g, "y", y) == TSR_OK;
    if (!ok) {
        tsr_graph_destroy(g);
        return NULL;
    }
    return g;
}

int tsr_bench_suite_elementwise(struct tsr_bench_run *run) {
    for (int s = 0; s < 3; s++) {
        if (run->quick && !EW_QUICK[s]) continue;
        int64_t n = EW_SIZES[s];
        char sz[32];
        size_label(sz, sizeof sz, 4.0 * (double)n);
        for (int o = 0; o < 4; o++) {
            const char *op = EW_OPS[o];
            char name[64], shape[96];
            snprintf(name, sizeof name, "%s %s", op, sz);
            snprintf(shape, sizeof shape, "[%lld]", (long long)n);
            tsr_graph *g = ew_graph(run->ctx, op, n);
            for (int d = 0; d < run->n_devices; d++) {
                char label[160];
                snprintf(label, sizeof label, "elementwise %s %s", name, run->devices[d]);
                tsr_bench_progress(run, label);
                struct tsr_bench_row *row =
                    tsr_bench_add_row(run, "elementwise", name, "tessera", run->devices[d], shape);
                if (!row) return tsr_graph_destroy(g), -1;
                row->bytes = 4.0 * (double)n * (!strcmp(op, "relu") ? 2 : 3);
                row->flops = (double)n * (!strcmp(op, "chain5") ? 5 : 1);
                snprintf(row->metric, sizeof row->metric, "GB/s");
                snprintf(row->pyspec, sizeof row->pyspec, "ew %s %lld", op, (long long)n);
                if (!g) {
                    row->status = TSR_BENCH_FAILED;
                    snprintf(row->note, sizeof row->note, "graph build failed");
                } else if (tsr_bench_measure_graph(run, row, g, run->devices[d], 0)) {
                    return tsr_graph_destroy(g), -1;
                }
            }
            tsr_graph_destroy(g);
        }
    }
    return 0;
}

/* ---- reduction ------------------------------------------------------------------------------ */

static const char *const RED_OPS[] = {"sum", "mean", "max", "softmax"};
#define RED_COLS 1024

/* x[R, 1024] reduced over the last axis (keepdims 1), or softmax over the last axis. */
static tsr_graph *red_graph(tsr_context *ctx, const char *op, int64_t rows) {
    tsr_graph *g = NULL;
    if (tsr_graph_create(ctx, &g) != TSR_OK) return NULL;
    struct tsr_tensor_desc d = desc2(rows, RED_COLS);
    struct tsr_op_attrs at = tsr_op_attrs_default();
    tsr_op kind = TSR_OP_SOFTMAX;
    if (strcmp(op, "softmax")) {
        kind = !strcmp(op, "sum")    ? TSR_OP_REDUCESUM
               : !strcmp(op, "mean") ? TSR_OP_REDUCEMEAN
                                     : TSR_OP_REDUCEMAX;
        at.n_axes = 1;
        at.axes[0] = -1;
        at.keepdims = 1;
    } else {
        at.axis = -1;
    }
    tsr_value x, y;
    int ok = tsr_graph_input(g, "x", &d, &x) == TSR_OK &&
             tsr_graph_op(g, kind, &x, 1, &at, op, &y) == TSR_OK &&
             tsr_graph_output(g, "y", y) == TSR_OK;
    if (!ok) {
        tsr_graph_destroy(g);
        return NULL;
    }
    return g;
}

int tsr_bench_suite_reduction(struct tsr_bench_run *run) {
    for (int s = 0; s < 3; s++) {
        if (run->quick && !EW_QUICK[s]) continue;
        int64_t n = EW_SIZES[s], rows = n / RED_COLS;
        char sz[32];
        size_label(sz, sizeof sz, 4.0 * (double)n);
        for (int o = 0; o < 4; o++) {
            const char *op = RED_OPS[o];
            char name[64], shape[96];
            snprintf(name, sizeof name, "%s %s", op, sz);
            snprintf(shape, sizeof shape, "[%lldx%d] axis -1", (long long)rows, RED_COLS);
            tsr_graph *g = red_graph(run->ctx, op, rows);
            const struct tsr_error_info *e = tsr_last_error(run->ctx);
            char build_err[256] = "";
            if (!g)
                snprintf(build_err, sizeof build_err, "graph build: %s",
                         e->message ? e->message : "failed");
            for (int d = 0; d < run->n_devices; d++) {
                char label[160];
                snprintf(label, sizeof label, "reduction %s %s", name, run->devices[d]);
                tsr_bench_progress(run, label);
                struct tsr_bench_row *row =
                    tsr_bench_add_row(run, "reduction", name, "tessera", run->devices[d], shape);
                if (!row) return tsr_graph_destroy(g), -1;
                int sm = !strcmp(op, "softmax");
                row->bytes = sm ? 8.0 * (double)n : 4.0 * (double)(n + rows);
                row->flops = (double)n * (sm ? 4 : 1);
                snprintf(row->metric, sizeof row->metric, "GB/s");
                snprintf(row->pyspec, sizeof row->pyspec, "red %s %lld %d", op, (long long)rows,
                         RED_COLS);
                if (!g) {
                    row->status = TSR_BENCH_UNSUPPORTED;
                    snprintf(row->note, sizeof row->note, "%s", build_err);
                } else if (tsr_bench_measure_graph(run, row, g, run->devices[d], 0)) {
                    return tsr_graph_destroy(g), -1;
                }
            }
            tsr_graph_destroy(g);
        }
    }
    return 0;
}

int tsr_bench_count_cases(const struct tsr_bench_run *run) {
    int n = 0, per_size = run->quick ? 2 : 3;
    if (run->suites & TSR_SUITE_GEMM) n += run->quick ? N_GEMM - 1 : N_GEMM;
    if (run->suites & TSR_SUITE_ELEMENTWISE) n += 4 * per_size;
    if (run->suites & TSR_SUITE_REDUCTION) n += 4 * per_size;
    if (run->suites & TSR_SUITE_MEMORY) n += 2;
    if (run->suites & TSR_SUITE_MODEL) n += 2 * (run->n_models + 1);
    if (run->suites & TSR_SUITE_FUSION) n += 3;
    n *= run->n_devices;
    if (run->suites & TSR_SUITE_MODEL) n += run->n_models; /* the cpu "compile" rows */
    return n;
}
