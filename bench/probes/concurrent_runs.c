/*
 * concurrent_runs.c — throughput of one plan run from several threads at once (issue 12: runs of
 * one plan proceed in parallel). build/bin/tsr-conc-bench [--runs N] [--cpu-threads T]
 * [--model digits|mlp|FILE.onnx] [--batch B] [--threads 1,2,4,8]: for each thread count, every
 * thread runs the one shared plan N/threads times (N runs in all, default 2000); prints runs/s
 * and the ratio to one thread. The plan's context uses --cpu-threads pool threads (default 0:
 * one per core of the affinity mask, as a user gets). Models: digits (models/digits.onnx at
 * batch B, default 16), mlp (a 3-layer 512-wide ReLU MLP at batch B, about 50 MFLOP a run, built
 * with the graph API), or an ONNX file with one float input of fixed shape. Not a test: the
 * numbers depend on the machine and its load.
 */
#include "tessera.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 64

struct job {
    tsr_plan *plan;
    struct tsr_tensor in, out;
    int runs;
    tsr_status st;
};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *worker(void *p) {
    struct job *j = p;
    for (int r = 0; r < j->runs && j->st == TSR_OK; r++)
        j->st = tsr_plan_run(j->plan, &j->in, 1, &j->out, 1);
    return NULL;
}

static tsr_status build_mlp(tsr_context *ctx, int batch, tsr_graph **out) {
    const int W = 512;
    tsr_graph *g = NULL;
    tsr_status st = tsr_graph_create(ctx, &g);
    struct tsr_tensor_desc dx = {.dtype = TSR_F32, .rank = 2, .dims = {batch, W}};
    struct tsr_tensor_desc dw = {.dtype = TSR_F32, .rank = 2, .dims = {W, W}};
    static float w[512 * 512];
    for (int i = 0; i < W * W; i++)
        w[i] = (float)((i * 7919) % 201 - 100) * (1.0f / 2048.0f);
    tsr_value x;
    if (st == TSR_OK) st = tsr_graph_input(g, "x", &dx, &x);
    for (int l = 0; l < 3 && st == TSR_OK; l++) {
        tsr_value c, m, r;
        st = tsr_graph_constant(g, NULL, &dw, w, &c);
        if (st == TSR_OK)
            st = tsr_graph_op(g, TSR_OP_MATMUL, (tsr_value[]){x, c}, 2, NULL, NULL, &m);
        if (st == TSR_OK) st = tsr_graph_op(g, TSR_OP_RELU, &m, 1, NULL, NULL, &r);
        x = r;
    }
    if (st == TSR_OK) st = tsr_graph_output(g, "y", x);
    if (st != TSR_OK) {
        tsr_graph_destroy(g);
        return st;
    }
    *out = g;
    return TSR_OK;
}

int main(int argc, char **argv) {
    int runs = 2000, cpu_threads = 0, batch = 16;
    const char *model = "digits", *list = "1,2,4,8";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--runs"))
            runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--cpu-threads"))
            cpu_threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--model"))
            model = argv[i + 1];
        else if (!strcmp(argv[i], "--batch"))
            batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            list = argv[i + 1];
        else {
            fprintf(stderr, "tsr-conc-bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    struct tsr_context_options o = {.cpu_threads = cpu_threads, .disable_opencl = 1};
    tsr_context *ctx = NULL;
    tsr_status st = tsr_context_create(&o, &ctx);
    tsr_graph *g = NULL;
    if (st == TSR_OK && !strcmp(model, "mlp")) {
        st = build_mlp(ctx, batch, &g);
    } else if (st == TSR_OK) {
        const char *path = strcmp(model, "digits") ? model : TSR_SOURCE_DIR "/models/digits.onnx";
        struct tsr_input_shape sh = {.name = "x",
                                     .desc = {.dtype = TSR_F32, .rank = 2, .dims = {batch, 64}}};
        int digits = !strcmp(model, "digits");
        st = tsr_onnx_import_file(ctx, path, digits ? &sh : NULL, digits, &g);
    }
    tsr_plan *plan = NULL;
    struct tsr_compile_options co = tsr_compile_options_default();
    co.device = "cpu";
    if (st == TSR_OK) st = tsr_compile(ctx, g, &co, &plan);
    tsr_graph_destroy(g);
    if (st != TSR_OK) {
        fprintf(stderr, "tsr-conc-bench: %s\n", tsr_last_error(NULL)->message);
        tsr_context_destroy(ctx);
        return 1;
    }
    struct tsr_tensor_desc di, dout;
    tsr_plan_input_desc(plan, 0, NULL, &di);
    tsr_plan_output_desc(plan, 0, NULL, &dout);
    size_t ni = 1, no = 1;
    for (int d = 0; d < di.rank; d++)
        ni *= (size_t)di.dims[d];
    for (int d = 0; d < dout.rank; d++)
        no *= (size_t)dout.dims[d];
    struct tsr_device_info info;
    int host = 0;
    tsr_device_find(ctx, "cpu", &host);
    tsr_device_get_info(ctx, host, &info);
    printf("model %s, %d kernels, pool %d threads, %d runs per point\n", model,
           tsr_plan_kernel_count(plan), info.compute_units, runs);
    double base = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int nt = atoi(t);
        if (nt < 1 || nt > MAX_THREADS) continue;
        pthread_t th[MAX_THREADS];
        struct job jobs[MAX_THREADS];
        for (int k = 0; k < nt; k++) {
            float *x = calloc(ni, sizeof *x), *y = calloc(no, sizeof *y);
            for (size_t e = 0; e < ni; e++)
                x[e] = (float)(e % 17);
            jobs[k] = (struct job){plan, {di, x}, {dout, y}, runs / nt, TSR_OK};
        }
        /* warm-up: one run per thread (the plan makes its run states) */
        struct job warm[MAX_THREADS];
        for (int k = 0; k < nt; k++) {
            warm[k] = jobs[k];
            warm[k].runs = 1;
            pthread_create(&th[k], NULL, worker, &warm[k]);
        }
        for (int k = 0; k < nt; k++)
            pthread_join(th[k], NULL);
        double t0 = now_s();
        for (int k = 0; k < nt; k++)
            pthread_create(&th[k], NULL, worker, &jobs[k]);
        for (int k = 0; k < nt; k++)
            pthread_join(th[k], NULL);
        double dt = now_s() - t0;
        int done = 0, bad = 0;
        for (int k = 0; k < nt; k++) {
            done += jobs[k].runs;
            bad |= jobs[k].st != TSR_OK;
            free(jobs[k].in.data);
            free(jobs[k].out.data);
        }
        double rate = done / dt;
        if (base == 0) base = rate;
        printf("threads %2d: %7d runs in %7.3f s = %9.1f runs/s, x%.2f of the first%s\n", nt, done,
               dt, rate, rate / base, bad ? " (RUN FAILED)" : "");
    }
    tsr_plan_destroy(plan);
    tsr_context_destroy(ctx);
    return 0;
}
