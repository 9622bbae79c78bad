/*
 * suite_model.c — the `model` suite: each ONNX model (run->models; the CLI puts the bundled
 * models/digits.onnx first) at batch 1 and a larger batch on every device: 256 quick / 4096 full
 * for the bundled digits MLP (models[0]), 8 for every other model. The batch is dim 0 of every
 * graph input (tsr_onnx_import_file's shape override); other symbolic dims take the values of
 * `--dim NAME=N` (e.g. sequence=128; run->dim_names), else 1. Metric: samples/s from the median; ms
 * per run is the median itself. Float inputs are uniform in [-1, 1), other inputs zeros.
 *
 * On the CPU, unless --no-peers, each case is timed interleaved with ONNX Runtime run as a
 * co-process (bench_peers.py --serve, opened at the first case): the same inputs (tessera writes
 * the arrays it feeds as .npy files, the peer loads them), the same thread count (ONNX Runtime's
 * intra-op threads = tessera's CPU workers, one inter-op thread, sequential execution,
 * ORT_ENABLE_ALL), and rounds that alternate k tessera runs with k ONNX Runtime runs
 * (struct tsr_bench_pair), so slow drifts of a shared machine hit both sides alike. Without
 * ONNX Runtime the peer is noted absent and tessera is timed alone.
 *
 * Each model also gets a "compile" row (metric us): tsr_compile of the graph as imported (its
 * declared shapes) for the CPU, plan destroyed after each call. Calibration is excluded from the
 * samples: the first compile (which measures the device when the calibration cache has no
 * figures for it) is timed apart and shown in the row's note. The 1,000-node transformer of
 * issue 9 (target < 100 ms): models/zoo.py --deep makes build/models/zoo/bert_deep.onnx;
 * `tessera bench --suite model --model build/models/zoo/bert_deep.onnx`.
 */
#include "bench.h"

#include "tessera/cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Imports `path` with dim 0 of every input set to `batch` and every other symbolic dim named in
 * run->dim_names (--dim NAME=N) set to its value (the others keep the importer's 1). NULL with
 * *why filled on failure. */
static tsr_graph *import_batched(const struct tsr_bench_run *run, const char *path, int64_t batch,
                                 char *why, size_t why_size) {
    tsr_context *ctx = run->ctx;
    tsr_graph *probe = NULL, *g = NULL;
    tsr_status st = tsr_onnx_import_file(ctx, path, NULL, 0, &probe);
    if (st != TSR_OK) {
        const struct tsr_error_info *e = tsr_last_error(ctx);
        snprintf(why, why_size, "import: %s: %s", tsr_status_name(st),
                 e->message ? e->message : "");
        return NULL;
    }
    int n = tsr_graph_input_count(probe);
    struct tsr_input_shape *sh = calloc((size_t)(n > 0 ? n : 1), sizeof *sh);
    if (!sh) {
        tsr_graph_destroy(probe);
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    /* Input descs come from a CPU compile of the probe (the public way to read them). */
    struct tsr_compile_options opts = tsr_compile_options_default();
    opts.device = "cpu";
    tsr_plan *plan = NULL;
    st = tsr_compile(ctx, probe, &opts, &plan);
    if (st != TSR_OK) {
        const struct tsr_error_info *e = tsr_last_error(ctx);
        snprintf(why, why_size, "compile: %s: %s", tsr_status_name(st),
                 e->message ? e->message : "");
        free(sh);
        tsr_graph_destroy(probe);
        return NULL;
    }
    for (int i = 0; i < n && i < tsr_plan_input_count(plan); i++) {
        tsr_plan_input_desc(plan, i, &sh[i].name, &sh[i].desc);
        if (sh[i].desc.rank > 0) sh[i].desc.dims[0] = batch;
        struct tsr_input_info ii;
        if (tsr_graph_input_info(probe, i, &ii) != TSR_OK) continue;
        for (int d = 1; d < ii.rank && d < sh[i].desc.rank; d++)
            for (int k = 0; ii.dim_names[d] && k < run->n_dims; k++)
                if (!strcmp(ii.dim_names[d], run->dim_names[k]))
                    sh[i].desc.dims[d] = run->dim_values[k];
    }
    st = tsr_onnx_import_file(ctx, path, sh, (size_t)n, &g);
    if (st != TSR_OK) {
        const struct tsr_error_info *e = tsr_last_error(ctx);
        snprintf(why, why_size, "import at batch %lld: %s: %s", (long long)batch,
                 tsr_status_name(st), e->message ? e->message : "");
        g = NULL;
    }
    free(sh);
    tsr_plan_destroy(plan);
    tsr_graph_destroy(probe);
    return g;
}

struct compile_work {
    tsr_context *ctx;
    const tsr_graph *graph;
    tsr_status last;
};

/* One timed call: compile for the CPU (no fallback), destroy the plan. */
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

/* The "compile <model>" row: CPU compile time of the graph at its declared shapes. */
static int compile_row(struct tsr_bench_run *run, const char *path) {
    char name[64], shape[64];
    snprintf(name, sizeof name, "compile %.48s", base_name(path));
    tsr_bench_progress(run, name);
    tsr_graph *g = NULL;
    tsr_status st = tsr_onnx_import_file(run->ctx, path, NULL, 0, &g);
    snprintf(shape, sizeof shape, "%d nodes", st == TSR_OK ? tsr_graph_node_count(g) : 0);
    struct tsr_bench_row *row = tsr_bench_add_row(run, "model", name, "tessera", "cpu", shape);
    if (!row) return tsr_graph_destroy(g), -1;
    snprintf(row->metric, sizeof row->metric, "us");
    if (st != TSR_OK) {
        const struct tsr_error_info *e = tsr_last_error(run->ctx);
        row->status = st == TSR_E_UNSUPPORTED ? TSR_BENCH_UNSUPPORTED : TSR_BENCH_FAILED;
        snprintf(row->note, sizeof row->note, "import: %s: %.280s", tsr_status_name(st),
                 e->message ? e->message : "");
        return 0;
    }
    struct compile_work w = {.ctx = run->ctx, .graph = g};
    uint64_t t0 = tsr_bench_now_ns();
    int first_failed = compile_call(&w, NULL);
    double first_ms = (double)(tsr_bench_now_ns() - t0) / 1e6;
    struct tsr_bench_result r;
    memset(&r, 0, sizeof r);
    if (!first_failed) tsr_bench_measure(&run->cfg, compile_call, &w, &r);
    if (first_failed || r.failed) {
        const struct tsr_error_info *e = tsr_last_error(run->ctx);
        row->status = w.last == TSR_E_UNSUPPORTED ? TSR_BENCH_UNSUPPORTED : TSR_BENCH_FAILED;
        snprintf(row->note, sizeof row->note, "compile: %s: %.280s", tsr_status_name(w.last),
                 e->message ? e->message : "");
    } else {
        snprintf(row->note, sizeof row->note,
                 "first compile %.1f ms (with calibration when the cache had none)", first_ms);
    }
    if (!first_failed) tsr_bench_row_set(row, &r);
    tsr_bench_result_free(&r);
    tsr_graph_destroy(g);
    return 0;
}

/* The co-process for the interleaved timing, opened on first use; NULL when there is none. */
static struct tsr_bench_serve *serve_of(struct tsr_bench_run *run) {
    if (run->no_peers) return NULL;
    if (!run->serve_tried) {
        run->serve_tried = 1;
        char python[1024], helper[1024], why[2400] = "";
        tsr_bench_python_paths(run, python, sizeof python, helper, sizeof helper);
        run->serve = tsr_bench_serve_open(python, helper, why, sizeof why);
        const char *detail = NULL;
        if (run->serve && !tsr_bench_serve_peer(run->serve, &detail)) {
            snprintf(why, sizeof why, "%s", detail); /* detail dies with the handle */
            tsr_bench_serve_close(run->serve);
            run->serve = NULL;
        }
        if (!run->serve) tsr_bench_peer_note(run, "onnxruntime", 0, "%s", why);
    }
    return run->serve;
}

int tsr_bench_suite_model(struct tsr_bench_run *run) {
    for (int m = 0; m < run->n_models; m++)
        if (compile_row(run, run->models[m])) return -1;
    struct tsr_cpu_info ci;
    int threads = tsr_cpu_get_info(run->ctx, &ci) == TSR_OK && ci.threads > 0 ? ci.threads : 1;
    for (int m = 0; m < run->n_models; m++) {
        const char *path = run->models[m];
        const int64_t batches[2] = {1, m > 0 ? 8 : run->quick ? 256 : 4096};
        for (int b = 0; b < 2; b++) {
            char why[512] = "", name[64], shape[96];
            snprintf(name, sizeof name, "%.48s b%lld", base_name(path), (long long)batches[b]);
            int len = snprintf(shape, sizeof shape, "batch %lld", (long long)batches[b]);
            for (int k = 0; k < run->n_dims && len > 0 && (size_t)len < sizeof shape; k++)
                len += snprintf(shape + len, sizeof shape - (size_t)len, ", %s %lld",
                                run->dim_names[k], (long long)run->dim_values[k]);
            tsr_graph *g = import_batched(run, path, batches[b], why, sizeof why);
            for (int d = 0; d < run->n_devices; d++) {
                char label[96];
                snprintf(label, sizeof label, "model %s %s", name, run->devices[d]);
                tsr_bench_progress(run, label);
                struct tsr_bench_row *row =
                    tsr_bench_add_row(run, "model", name, "tessera", run->devices[d], shape);
                if (!row) return tsr_graph_destroy(g), -1;
                row->items = (double)batches[b];
                snprintf(row->metric, sizeof row->metric, "samples/s");
                snprintf(row->pyspec, sizeof row->pyspec, "model %lld %s", (long long)batches[b],
                         path);
                if (!g) {
                    row->status =
                        strstr(why, "UNSUPPORTED") ? TSR_BENCH_UNSUPPORTED : TSR_BENCH_FAILED;
                    snprintf(row->note, sizeof row->note, "%.300s", why);
                } else if (!strcmp(run->devices[d], "cpu") && serve_of(run)) {
                    if (tsr_bench_measure_graph_paired(run, run->n_rows - 1, g, path, threads))
                        return tsr_graph_destroy(g), -1;
                } else if (tsr_bench_measure_graph(run, row, g, run->devices[d], 0)) {
                    return tsr_graph_destroy(g), -1;
                }
            }
            tsr_graph_destroy(g);
        }
    }
    return 0;
}
