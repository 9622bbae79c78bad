/* measure_graph.c — compile a tessera graph for one device and time tsr_plan_run (bench.h). */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int tsr_bench_measure_graph(struct tsr_bench_run *run, struct tsr_bench_row *row,
                            const tsr_graph *graph, const char *device, unsigned disable_fusion) {
    struct tsr_compile_options opts = tsr_compile_options_default();
    opts.device = device;
    opts.allow_fallback = 0;
    opts.disable_fusion = disable_fusion;
    struct graph_work w = {.ctx = run->ctx, .device = device};
    tsr_status st = tsr_compile(run->ctx, graph, &opts, &w.plan);
    if (st != TSR_OK) {
        note_error(run, row, st, "compile");
        return 0;
    }
    int rc = 0;
    w.n_in = tsr_plan_input_count(w.plan);
    w.n_out = tsr_plan_output_count(w.plan);
    w.in = calloc((size_t)(w.n_in + 1), sizeof *w.in);
    w.out = calloc((size_t)(w.n_out + 1), sizeof *w.out);
    if (!w.in || !w.out) {
        rc = -1;
        goto done;
    }
    for (int i = 0; i < w.n_in; i++) {
        struct tsr_tensor_desc d;
        tsr_plan_input_desc(w.plan, i, NULL, &d);
        if (tsr_tensor_alloc(&d, &w.in[i]) != TSR_OK) {
            rc = -1;
            goto done;
        }
        /* float32 inputs: uniform [-1, 1); other dtypes (token ids, masks, indices): zeros,
         * which every index input accepts */
        if (d.dtype == TSR_F32)
            tsr_bench_fill(w.in[i].data, (size_t)tsr_desc_elements(&d), 1234u + (uint64_t)i, -1.f,
                           1.f);
        else
            memset(w.in[i].data, 0, (size_t)tsr_desc_elements(&d) * tsr_dtype_size(d.dtype));
    }
    for (int i = 0; i < w.n_out; i++) {
        struct tsr_tensor_desc d;
        tsr_plan_output_desc(w.plan, i, NULL, &d);
        if (tsr_tensor_alloc(&d, &w.out[i]) != TSR_OK) {
            rc = -1;
            goto done;
        }
    }
    struct tsr_device_info di;
    tsr_plan_device(w.plan, &di);
    if (strcmp(di.id, device)) {
        row->status = TSR_BENCH_FAILED;
        snprintf(row->note, sizeof row->note, "plan runs on %s, not %s", di.id, device);
        goto done;
    }
    tsr_profiler_enable(run->ctx, 1);
    struct tsr_bench_result r;
    tsr_bench_measure(&run->cfg, graph_call, &w, &r);
    tsr_profiler_enable(run->ctx, 0);
    tsr_profiler_clear(run->ctx);
    if (r.failed) note_error(run, row, w.last, "run");
    tsr_bench_row_set(row, &r);
    tsr_bench_result_free(&r);
done:
    for (int i = 0; w.in && i < w.n_in; i++)
        tsr_tensor_free(&w.in[i]);
    for (int i = 0; w.out && i < w.n_out; i++)
        tsr_tensor_free(&w.out[i]);
    free(w.in);
    free(w.out);
    tsr_plan_destroy(w.plan);
    return rc;
}
