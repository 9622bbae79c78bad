/* run.c — rows, peer notes, progress bar and best-peer ratios of a bench run (bench.h). */
#include "bench.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tsr_bench_row *tsr_bench_add_row(struct tsr_bench_run *run, const char *suite,
                                        const char *name, const char *impl, const char *device,
                                        const char *shape) {
    if (run->n_rows == run->cap_rows) {
        int cap = run->cap_rows ? run->cap_rows * 2 : 64;
        struct tsr_bench_row *r = realloc(run->rows, (size_t)cap * sizeof *r);
        if (!r) return NULL;
        run->rows = r;
        run->cap_rows = cap;
    }
    struct tsr_bench_row *row = &run->rows[run->n_rows++];
    memset(row, 0, sizeof *row);
    snprintf(row->suite, sizeof row->suite, "%s", suite);
    snprintf(row->name, sizeof row->name, "%s", name);
    snprintf(row->impl, sizeof row->impl, "%s", impl);
    snprintf(row->device, sizeof row->device, "%s", device);
    snprintf(row->shape, sizeof row->shape, "%s", shape ? shape : "");
    return row;
}

/* Throughput of one run taking ms milliseconds in the row's metric. */
static double metric_of(const struct tsr_bench_row *row, double ms) {
    if (ms <= 0) return 0;
    if (!strcmp(row->metric, "GFLOP/s")) return row->flops / (ms * 1e-3) / 1e9;
    if (!strcmp(row->metric, "GB/s")) return row->bytes / (ms * 1e-3) / 1e9;
    if (!strcmp(row->metric, "samples/s")) return row->items / (ms * 1e-3);
    if (!strcmp(row->metric, "us")) return ms * 1e3;
    return 0;
}

void tsr_bench_row_set(struct tsr_bench_row *row, const struct tsr_bench_result *r) {
    row->host = r->host;
    row->dev = r->dev;
    row->noisy = r->noisy;
    row->value = metric_of(row, row->host.median_ms);
    row->dev_value = row->dev.n ? metric_of(row, row->dev.median_ms) : 0;
    if (r->failed && row->status == TSR_BENCH_OK) row->status = TSR_BENCH_FAILED;
}

void tsr_bench_peer_note(struct tsr_bench_run *run, const char *name, int available,
                         const char *fmt, ...) {
    struct tsr_bench_peer_info *p = NULL;
    for (int i = 0; i < run->n_peers; i++)
        if (!strcmp(run->peers[i].name, name)) p = &run->peers[i];
    if (!p) {
        if (run->n_peers == TSR_BENCH_MAX_PEERS) return;
        p = &run->peers[run->n_peers++];
    }
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->available = available;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->detail, sizeof p->detail, fmt, ap);
    va_end(ap);
}

void tsr_bench_progress(struct tsr_bench_run *run, const char *label) {
    run->progress_done++;
    if (!run->progress) return;
    int total = run->progress_total > run->progress_done ? run->progress_total : run->progress_done;
    int width = 30, fill = (int)((long)width * run->progress_done / (total ? total : 1));
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r[%s] %3d/%-3d %-44.44s", bar, run->progress_done, total, label);
    if (run->progress_done >= total) fprintf(stderr, "\n");
    fflush(stderr);
}

/* Time used to compare two rows: device median when both have one, else host median. */
static void compare_times(const struct tsr_bench_row *a, const struct tsr_bench_row *b, double *ta,
                          double *tb) {
    if (a->dev.n && b->dev.n) {
        *ta = a->dev.median_ms;
        *tb = b->dev.median_ms;
    } else {
        *ta = a->host.median_ms;
        *tb = b->host.median_ms;
    }
}

void tsr_bench_compute_ratios(struct tsr_bench_run *run) {
    for (int i = 0; i < run->n_rows; i++) {
        struct tsr_bench_row *row = &run->rows[i];
        row->ratio = 0;
        row->best_peer[0] = 0;
        if (row->status != TSR_BENCH_OK || row->host.n == 0) continue;
        double best = 0;
        for (int j = 0; j < run->n_rows; j++) {
            const struct tsr_bench_row *p = &run->rows[j];
            if (j == i || !strcmp(p->impl, "tessera") || p->status != TSR_BENCH_OK ||
                p->host.n == 0 || strcmp(p->suite, row->suite) || strcmp(p->name, row->name))
                continue;
            double tr, tp;
            compare_times(row, p, &tr, &tp);
            if (tr <= 0 || tp <= 0) continue;
            /* Latency rows: lower is better, same formula (time ratio). */
            double ratio = tp / tr;
            if (best == 0 || ratio < best) { /* best peer = fastest = smallest tp/tr */
                best = ratio;
                snprintf(row->best_peer, sizeof row->best_peer, "%s@%s", p->impl, p->device);
            }
        }
        row->ratio = best;
    }
}

double tsr_bench_loadavg(void) {
    FILE *f = fopen("/proc/loadavg", "r");
    double l = -1;
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

void tsr_bench_run_free(struct tsr_bench_run *run) {
    free(run->rows);
    run->rows = NULL;
    run->n_rows = run->cap_rows = 0;
}
