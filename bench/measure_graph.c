/* measure_graph.c — compile a tessera graph for one device and time tsr_plan_run (bench.h). */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Pause between the interleaved sides (us): lets the other side's spinning threads park and
 * its caches settle (50 ms still left ResNet-50 at 0.73x against 1.03x with 300 ms). */
#define TSR_BENCH_SIDE_PAUSE_US 200000

void tsr_bench_fill(float *x, size_t n, uint64_t seed, float lo, float hi) {
    uint64_t s = seed ? seed : 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        uint64_t r = s * 2685821657736338717ull; /* xorshift64* (Vigna 2016) */
        x[i] = lo + (hi - lo) * (float)((double)(r >> 40) / (double)(1ull << 24));
    }
}

struct graph_work {
    tsr_context *ctx;
    tsr_plan *plan;
    struct tsr_tensor *in, *out;
    int n_in, n_out;
    const char *device;
    tsr_status last;
};

/* One timed call: clear the profiler, run, sum the kernel records of the device. */
static int graph_call(void *arg, double *device_ms) {
    struct graph_work *w = arg;
    tsr_profiler_clear(w->ctx);
    w->last = tsr_plan_run(w->plan, w->in, (size_t)w->n_in, w->out, (size_t)w->n_out);
    if (w->last != TSR_OK) return 1;
    size_t n = tsr_profiler_count(w->ctx);
    uint64_t sum = 0;
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        struct tsr_profile_record r;
        if (tsr_profiler_get(w->ctx, i, &r) != TSR_OK) continue;
        if (r.kind != TSR_EVENT_KERNEL || strcmp(r.device, w->device) || r.end_ns < r.start_ns)
            continue;
        sum += r.end_ns - r.start_ns;
        any = 1;
    }
    if (any) *device_ms = (double)sum / 1e6;
    return 0;
}

static void note_error(struct tsr_bench_run *run, struct tsr_bench_row *row, tsr_status st,
                       const char *what) {
    const struct tsr_error_info *e = tsr_last_error(run->ctx);
    row->status = st == TSR_E_UNSUPPORTED ? TSR_BENCH_UNSUPPORTED : TSR_BENCH_FAILED;
    snprintf(row->note, sizeof row->note, "%s: %s: %s", what, tsr_status_name(st),
             (e->message && *e->message) ? e->message : tsr_status_str(st));
}

/* Compiles graph for device and allocates its inputs (filled) and outputs into w. Returns 1 when
 * measuring can go on, 0 when the row got a status (compile failed, plan elsewhere), -1 when
 * out of memory. w is released by release_work in every case. */
static int prepare_work(struct tsr_bench_run *run, struct tsr_bench_row *row,
                        const tsr_graph *graph, const char *device, unsigned disable_fusion,
                        struct graph_work *w) {
    struct tsr_compile_options opts = tsr_compile_options_default();
    opts.device = device;
    opts.allow_fallback = 0;
    opts.disable_fusion = disable_fusion;
    memset(w, 0, sizeof *w);
    w->ctx = run->ctx;
    w->device = device;
    tsr_status st = tsr_compile(run->ctx, graph, &opts, &w->plan);
    if (st != TSR_OK) {
        note_error(run, row, st, "compile");
        return 0;
    }
    w->n_in = tsr_plan_input_count(w->plan);
    w->n_out = tsr_plan_output_count(w->plan);
    w->in = calloc((size_t)(w->n_in + 1), sizeof *w->in);
    w->out = calloc((size_t)(w->n_out + 1), sizeof *w->out);
    if (!w->in || !w->out) return -1;
    for (int i = 0; i < w->n_in; i++) {
        struct tsr_tensor_desc d;
        tsr_plan_input_desc(w->plan, i, NULL, &d);
        if (tsr_tensor_alloc(&d, &w->in[i]) != TSR_OK) return -1;
        /* float32 inputs: uniform [-1, 1); other dtypes (token ids, masks, indices): zeros,
         * which every index input accepts */
        if (d.dtype == TSR_F32)
            tsr_bench_fill(w->in[i].data, (size_t)tsr_desc_elements(&d), 1234u + (uint64_t)i, -1.f,
                           1.f);
        else
            memset(w->in[i].data, 0, (size_t)tsr_desc_elements(&d) * tsr_dtype_size(d.dtype));
    }
    for (int i = 0; i < w->n_out; i++) {
        struct tsr_tensor_desc d;
        tsr_plan_output_desc(w->plan, i, NULL, &d);
        if (tsr_tensor_alloc(&d, &w->out[i]) != TSR_OK) return -1;
    }
    struct tsr_device_info di;
    tsr_plan_device(w->plan, &di);
    if (strcmp(di.id, device)) {
        row->status = TSR_BENCH_FAILED;
        snprintf(row->note, sizeof row->note, "plan runs on %s, not %s", di.id, device);
        return 0;
    }
    return 1;
}

static void release_work(struct graph_work *w) {
    for (int i = 0; w->in && i < w->n_in; i++)
        tsr_tensor_free(&w->in[i]);
    for (int i = 0; w->out && i < w->n_out; i++)
        tsr_tensor_free(&w->out[i]);
    free(w->in);
    free(w->out);
    tsr_plan_destroy(w->plan);
    memset(w, 0, sizeof *w);
}

int tsr_bench_measure_graph(struct tsr_bench_run *run, struct tsr_bench_row *row,
                            const tsr_graph *graph, const char *device, unsigned disable_fusion) {
    struct graph_work w;
    int rc = prepare_work(run, row, graph, device, disable_fusion, &w);
    if (rc == 1) {
        tsr_profiler_enable(run->ctx, 1);
        struct tsr_bench_result r;
        tsr_bench_measure(&run->cfg, graph_call, &w, &r);
        tsr_profiler_enable(run->ctx, 0);
        tsr_profiler_clear(run->ctx);
        if (r.failed) note_error(run, row, w.last, "run");
        tsr_bench_row_set(row, &r);
        tsr_bench_result_free(&r);
        rc = 0;
    }
    release_work(&w);
    return rc;
}

/* ---- interleaved with the co-process peer ------------------------------------------------ */

/* A command with a "cmd" member; NULL when out of memory. */
static json_object *command(const char *cmd) {
    json_object *o = json_object_new_object();
    if (o) json_object_object_add(o, "cmd", json_object_new_string(cmd));
    return o;
}

/* Sends cmd (consumed) and returns the reply when it says ok; else NULL with the reason. */
static json_object *peer_call(struct tsr_bench_serve *s, json_object *cmd, char *why,
                              size_t why_size) {
    json_object *r = tsr_bench_serve_call(s, cmd), *v = NULL;
    json_object_put(cmd);
    if (!r) {
        snprintf(why, why_size, "the co-process is gone (see its stderr)");
        return NULL;
    }
    if (!json_object_object_get_ex(r, "ok", &v) || !json_object_get_boolean(v)) {
        snprintf(why, why_size, "%.300s",
                 json_object_object_get_ex(r, "error", &v) ? json_object_get_string(v)
                                                           : "no reason given");
        json_object_put(r);
        return NULL;
    }
    return r;
}

/* The peer's `reps` timed runs into out[0..reps); 0, or -1 with why. */
static int peer_run(struct tsr_bench_serve *s, int reps, double *out, char *why, size_t why_size) {
    json_object *c = command("run");
    if (!c) return snprintf(why, why_size, "out of memory"), -1;
    json_object_object_add(c, "reps", json_object_new_int(reps));
    json_object *r = peer_call(s, c, why, why_size), *v = NULL;
    if (!r) return -1;
    int n = json_object_object_get_ex(r, "samples_ms", &v) ? (int)json_object_array_length(v) : 0;
    if (n != reps) {
        snprintf(why, why_size, "asked %d runs, got %d samples", reps, n);
        json_object_put(r);
        return -1;
    }
    for (int i = 0; out && i < n; i++)
        out[i] = json_object_get_double(json_object_array_get_idx(v, (size_t)i));
    json_object_put(r);
    return 0;
}

/* tessera's `reps` timed runs: host ms into host[], device ms (when any) into dev[*n_dev...].
 * Returns 0 or 1 when a run failed. */
static int tessera_run(struct graph_work *w, int reps, double *host, double *dev, int *n_dev) {
    for (int i = 0; i < reps; i++) {
        double d = -1;
        uint64_t t0 = tsr_bench_now_ns();
        int bad = graph_call(w, &d);
        if (host) host[i] = (double)(tsr_bench_now_ns() - t0) / 1e6;
        if (bad) return 1;
        if (dev && d >= 0) dev[(*n_dev)++] = d;
    }
    return 0;
}

/* Writes the plan's inputs as dir/inI.npy and has the co-process load model_path with them. */
static int peer_load(struct tsr_bench_serve *s, struct graph_work *w, const char *dir,
                     const char *model_path, int threads, char *why, size_t why_size) {
    json_object *c = command("load"), *ins = json_object_new_object();
    if (!c || !ins) {
        json_object_put(c);
        json_object_put(ins);
        return snprintf(why, why_size, "out of memory"), -1;
    }
    json_object_object_add(c, "model", json_object_new_string(model_path));
    json_object_object_add(c, "threads", json_object_new_int(threads));
    json_object_object_add(c, "inputs", ins);
    for (int i = 0; i < w->n_in; i++) {
        const char *name = NULL;
        char path[256];
        tsr_plan_input_desc(w->plan, i, &name, NULL);
        snprintf(path, sizeof path, "%s/in%d.npy", dir, i);
        tsr_status st = tsr_npy_save(path, &w->in[i]);
        if (st != TSR_OK) {
            json_object_put(c);
            return snprintf(why, why_size, "writing %.200s: %s", path, tsr_status_name(st)), -1;
        }
        json_object_object_add(ins, name ? name : "", json_object_new_string(path));
    }
    json_object *r = peer_call(s, c, why, why_size);
    if (!r) return -1;
    json_object_put(r);
    return 0;
}

/* Removes dir/in*.npy and dir. */
static void remove_inputs(const char *dir, int n) {
    for (int i = 0; i < n; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/in%d.npy", dir, i);
        unlink(path);
    }
    rmdir(dir);
}

int tsr_bench_measure_graph_paired(struct tsr_bench_run *run, int row_index, const tsr_graph *graph,
                                   const char *model_path, int threads) {
    struct tsr_bench_row *row = &run->rows[row_index];
    const int rounds = run->pair_rounds > 0 ? run->pair_rounds : run->quick ? 5 : 10;
    const int reps = run->pair_reps > 0 ? run->pair_reps : 3;
    const int n = rounds * reps;
    struct graph_work w;
    char why[400] = "", dir[] = "/tmp/tsr_bench_pair_XXXXXX";
    int have_dir = 0, n_dev = 0, peer_ok = 0, rc = prepare_work(run, row, graph, "cpu", 0, &w);
    double *ts = NULL, *ps = NULL, *ds = NULL;
    if (rc != 1) goto done;
    rc = 0;
    ts = malloc((size_t)n * sizeof *ts);
    ps = malloc((size_t)n * sizeof *ps);
    ds = malloc((size_t)n * sizeof *ds);
    if (!ts || !ps || !ds) {
        rc = -1;
        goto done;
    }
    have_dir = mkdtemp(dir) != NULL;
    if (!have_dir) {
        snprintf(why, sizeof why, "cannot make a directory for the inputs in /tmp");
    } else if (peer_load(run->serve, &w, dir, model_path, threads, why, sizeof why) == 0) {
        peer_ok = 1;
    }
    tsr_profiler_enable(run->ctx, 1);
    if (peer_ok) {
        /* warm-up of both sides, then rounds; who goes first alternates by round */
        int bad = tessera_run(&w, run->cfg.warmup, NULL, NULL, NULL);
        peer_ok = peer_run(run->serve, run->cfg.warmup, NULL, why, sizeof why) == 0;
        /* Between the two sides a pause (TSR_BENCH_SIDE_PAUSE_US): ONNX Runtime's intra-op
         * threads keep spinning for a while after a run, and so do tessera's for up to 100 us;
         * without it the side that follows the peer shares the cores with its spinning threads
         * (seen: tessera's median 28 ms against a fastest run of 17.6 ms on ResNet-18). */
        for (int r = 0; r < rounds && !bad && peer_ok; r++) {
            if (r % 2) {
                peer_ok = peer_run(run->serve, reps, ps + r * reps, why, sizeof why) == 0;
                usleep(TSR_BENCH_SIDE_PAUSE_US);
            }
            if (peer_ok) bad = tessera_run(&w, reps, ts + r * reps, ds, &n_dev);
            if (!bad && peer_ok && r % 2 == 0) {
                usleep(TSR_BENCH_SIDE_PAUSE_US);
                peer_ok = peer_run(run->serve, reps, ps + r * reps, why, sizeof why) == 0;
            }
            usleep(TSR_BENCH_SIDE_PAUSE_US);
        }
        if (bad) {
            note_error(run, row, w.last, "run");
            peer_ok = 0;
            snprintf(why, sizeof why, "tessera failed: not measured");
        } else if (peer_ok) {
            struct tsr_bench_result r;
            if (tsr_bench_result_from_samples(&run->cfg, ts, n, ds, n_dev, &r)) {
                rc = -1;
                goto profiled;
            }
            tsr_bench_row_set(row, &r);
            tsr_bench_result_free(&r);
            if (tsr_bench_pair_summary(ts, ps, rounds, reps, &row->pair)) {
                rc = -1;
                goto profiled;
            }
            snprintf(row->pair.peer, sizeof row->pair.peer, "onnxruntime");
            row->pair.threads = threads;
            snprintf(row->note, sizeof row->note,
                     "interleaved with onnxruntime: %d rounds x %d runs each, %d threads", rounds,
                     reps, threads);
        }
    }
    if (!peer_ok && row->status == TSR_BENCH_OK) {
        /* the peer could not run the case: tessera alone, as without a co-process */
        struct tsr_bench_result r;
        tsr_bench_measure(&run->cfg, graph_call, &w, &r);
        if (r.failed) note_error(run, row, w.last, "run");
        tsr_bench_row_set(row, &r);
        tsr_bench_result_free(&r);
    }
profiled:
    tsr_profiler_enable(run->ctx, 0);
    tsr_profiler_clear(run->ctx);
    if (rc == 0) {
        struct tsr_bench_row base = *row; /* copy: add_row may move rows */
        struct tsr_bench_row *p =
            tsr_bench_add_row(run, base.suite, base.name, "onnxruntime", "cpu", base.shape);
        if (!p) {
            rc = -1;
            goto done;
        }
        p->items = base.items;
        memcpy(p->metric, base.metric, sizeof p->metric);
        if (peer_ok) {
            struct tsr_bench_result r;
            if (tsr_bench_result_from_samples(&run->cfg, ps, n, NULL, 0, &r)) {
                rc = -1;
                goto done;
            }
            tsr_bench_row_set(p, &r);
            tsr_bench_result_free(&r);
            snprintf(p->note, sizeof p->note,
                     "interleaved with tessera: intra_op %d, inter_op 1, sequential, "
                     "ORT_ENABLE_ALL, tessera's inputs",
                     threads);
        } else {
            p->status = TSR_BENCH_FAILED;
            snprintf(p->note, sizeof p->note, "%.300s", why);
        }
    }
done:
    if (have_dir) remove_inputs(dir, w.n_in);
    free(ts);
    free(ps);
    free(ds);
    release_work(&w);
    return rc;
}
