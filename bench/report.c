/* report.c — the terminal table, JSON (json-c) and CSV of a bench run (bench.h). */
#include "bench.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static const char *const SUITES[] = {"gemm",   "elementwise", "reduction",
                                     "memory", "model",       "fusion"};

static const char *status_name(int s) {
    switch (s) {
    case TSR_BENCH_OK:
        return "ok";
    case TSR_BENCH_UNSUPPORTED:
        return "unsupported";
    case TSR_BENCH_ABSENT:
        return "absent";
    default:
        return "failed";
    }
}

void tsr_bench_print_table(const struct tsr_bench_run *run, FILE *out) {
    for (size_t s = 0; s < sizeof SUITES / sizeof SUITES[0]; s++) {
        int any = 0;
        for (int i = 0; i < run->n_rows && !any; i++)
            any = !strcmp(run->rows[i].suite, SUITES[s]);
        if (!any) continue;
        fprintf(out, "\n== %s ==\n", SUITES[s]);
        fprintf(out, "%-22s %-24s %5s %10s %10s %10s %6s %10s %10s %-9s %s\n", "case",
                "impl@device", "runs", "median_ms", "min_ms", "max_ms", "cv%", "dev_ms", "value",
                "unit", "vs best peer");
        for (int i = 0; i < run->n_rows; i++) {
            const struct tsr_bench_row *r = &run->rows[i];
            if (strcmp(r->suite, SUITES[s])) continue;
            char who[64];
            snprintf(who, sizeof who, "%s@%s", r->impl, r->device);
            if (r->status != TSR_BENCH_OK) {
                fprintf(out, "%-22s %-24s %s: %.160s\n", r->name, who, status_name(r->status),
                        r->note);
                continue;
            }
            char dev[16] = "-", ratio[64] = "-";
            if (r->dev.n) snprintf(dev, sizeof dev, "%.4f", r->dev.median_ms);
            if (r->ratio > 0) snprintf(ratio, sizeof ratio, "%.2fx %s", r->ratio, r->best_peer);
            fprintf(out, "%-22s %-24s %5d %10.4f %10.4f %10.4f %6.1f %10s %10.2f %-9s %s%s\n",
                    r->name, who, r->host.n, r->host.median_ms, r->host.min_ms, r->host.max_ms,
                    100 * r->host.cv, dev, r->value, r->metric, ratio, r->noisy ? "  NOISY" : "");
        }
    }
    int any_pair = 0;
    for (int i = 0; i < run->n_rows; i++)
        any_pair |= run->rows[i].pair.rounds > 0;
    if (any_pair) {
        fprintf(out, "\n== model vs peer, interleaved (same inputs, same thread count) ==\n");
        fprintf(out, "%-26s %-12s %7s %11s %11s %7s  %-44s %s\n", "case", "peer", "threads",
                "tessera_ms", "peer_ms", "ratio", "per-round ratio min [q1 median q3] max (runs)",
                "min_ratio");
        for (int i = 0; i < run->n_rows; i++) {
            const struct tsr_bench_pair *p = &run->rows[i].pair;
            if (p->rounds <= 0) continue;
            char spread[64];
            snprintf(spread, sizeof spread, "%.2f [%.2f %.2f %.2f] %.2f (%dx%d)", p->round_min,
                     p->round_q1, p->round_median, p->round_q3, p->round_max, p->rounds, p->reps);
            fprintf(out, "%-26s %-12s %7d %11.4f %11.4f %6.2fx  %-44s %.2fx\n", run->rows[i].name,
                    p->peer, p->threads, p->tessera_ms, p->peer_ms, p->ratio, spread, p->min_ratio);
        }
        fprintf(out, "ratio = peer median / tessera median over all timed runs (>1: tessera "
                     "faster); rounds alternate the two sides;\nmin_ratio = peer fastest run / "
                     "tessera fastest run "
                     "(less sensitive to other processes on the cores).\n");
        if (run->load_start >= 0 && run->load_end >= 0)
            fprintf(out,
                    "machine load (1-min load average): %.2f at the start, %.2f at the end, %ld "
                    "online CPUs (above that, other processes competed for the cores)\n",
                    run->load_start, run->load_end, sysconf(_SC_NPROCESSORS_ONLN));
    }
    fprintf(out, "\npeers:\n");
    for (int i = 0; i < run->n_peers; i++)
        fprintf(out, "  %-12s %-8s %s\n", run->peers[i].name,
                run->peers[i].available ? "present" : "ABSENT", run->peers[i].detail);
    fprintf(out,
            "\nmedian of >= %d timed runs (>= %.2f s each) after %d warm-up run(s); value is from "
            "the host median\n(device figures: dev_ms); vs best peer = best peer time / this "
            "time (>1 faster); NOISY: CV > %.0f%%.\nTotal %.1f s.\n",
            run->cfg.min_iters, run->cfg.min_time_ns / 1e9, run->cfg.warmup,
            100 * run->cfg.cv_threshold, run->duration_s);
}

static json_object *stats_json(const struct tsr_bench_stats *s) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "n", json_object_new_int(s->n));
    json_object_object_add(o, "median_ms", json_object_new_double(s->median_ms));
    json_object_object_add(o, "min_ms", json_object_new_double(s->min_ms));
    json_object_object_add(o, "max_ms", json_object_new_double(s->max_ms));
    json_object_object_add(o, "mean_ms", json_object_new_double(s->mean_ms));
    json_object_object_add(o, "stddev_ms", json_object_new_double(s->stddev_ms));
    json_object_object_add(o, "cv", json_object_new_double(s->cv));
    return o;
}

/* The row's interleaved measurement (struct tsr_bench_pair); NULL when it has none. */
static json_object *pair_json(const struct tsr_bench_pair *p) {
    if (p->rounds <= 0) return NULL;
    json_object *o = json_object_new_object(), *rr = json_object_new_object();
    json_object_object_add(o, "peer", json_object_new_string(p->peer));
    json_object_object_add(o, "rounds", json_object_new_int(p->rounds));
    json_object_object_add(o, "reps", json_object_new_int(p->reps));
    json_object_object_add(o, "threads", json_object_new_int(p->threads));
    json_object_object_add(o, "tessera_median_ms", json_object_new_double(p->tessera_ms));
    json_object_object_add(o, "peer_median_ms", json_object_new_double(p->peer_ms));
    json_object_object_add(o, "ratio", json_object_new_double(p->ratio));
    json_object_object_add(o, "tessera_min_ms", json_object_new_double(p->tessera_min_ms));
    json_object_object_add(o, "peer_min_ms", json_object_new_double(p->peer_min_ms));
    json_object_object_add(o, "min_ratio", json_object_new_double(p->min_ratio));
    json_object_object_add(rr, "min", json_object_new_double(p->round_min));
    json_object_object_add(rr, "q1", json_object_new_double(p->round_q1));
    json_object_object_add(rr, "median", json_object_new_double(p->round_median));
    json_object_object_add(rr, "q3", json_object_new_double(p->round_q3));
    json_object_object_add(rr, "max", json_object_new_double(p->round_max));
    json_object_object_add(o, "round_ratio", rr);
    return o;
}

/* Every ratio of the row to each peer row of the same case (peer time / row time). */
static json_object *peer_ratios(const struct tsr_bench_run *run, const struct tsr_bench_row *r) {
    json_object *o = json_object_new_object();
    for (int j = 0; j < run->n_rows; j++) {
        const struct tsr_bench_row *p = &run->rows[j];
        if (p == r || !strcmp(p->impl, "tessera") || p->status != TSR_BENCH_OK ||
            r->status != TSR_BENCH_OK || strcmp(p->suite, r->suite) || strcmp(p->name, r->name))
            continue;
        int dev = p->dev.n && r->dev.n;
        double tp = dev ? p->dev.median_ms : p->host.median_ms;
        double tr = dev ? r->dev.median_ms : r->host.median_ms;
        if (tp <= 0 || tr <= 0) continue;
        char key[64];
        snprintf(key, sizeof key, "%s@%s", p->impl, p->device);
        json_object_object_add(o, key, json_object_new_double(tp / tr));
    }
    return o;
}

json_object *tsr_bench_to_json(const struct tsr_bench_run *run) {
    json_object *root = json_object_new_object(), *machine = json_object_new_object();
    struct utsname u;
    if (uname(&u) == 0) {
        json_object_object_add(machine, "host", json_object_new_string(u.nodename));
        json_object_object_add(machine, "os", json_object_new_string(u.sysname));
        json_object_object_add(machine, "kernel", json_object_new_string(u.release));
        json_object_object_add(machine, "arch", json_object_new_string(u.machine));
    }
    json_object_object_add(machine, "online_cpus",
                           json_object_new_int((int)sysconf(_SC_NPROCESSORS_ONLN)));
    json_object *devs = json_object_new_array();
    for (int i = 0; i < tsr_device_count(run->ctx); i++) {
        struct tsr_device_info d;
        if (tsr_device_get_info(run->ctx, i, &d) != TSR_OK) continue;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(d.id));
        json_object_object_add(o, "name", json_object_new_string(d.name));
        json_object_object_add(o, "vendor", json_object_new_string(d.vendor));
        json_object_object_add(o, "platform", json_object_new_string(d.platform));
        json_object_object_add(o, "driver_version", json_object_new_string(d.driver_version));
        json_object_object_add(o, "device_type", json_object_new_string(d.device_type));
        json_object_object_add(o, "isa", json_object_new_string(d.isa));
        json_object_object_add(o, "compute_units", json_object_new_int(d.compute_units));
        json_object_object_add(o, "global_mem_bytes",
                               json_object_new_int64((int64_t)d.global_mem_bytes));
        json_object_array_add(devs, o);
    }
    json_object_object_add(machine, "devices", devs);
    json_object_object_add(root, "tessera_version", json_object_new_string(TSR_VERSION_STRING));
    time_t now = time(NULL);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_object_object_add(root, "date", json_object_new_string(ts));
    json_object_object_add(root, "machine", machine);
    json_object *cfg = json_object_new_object();
    json_object_object_add(cfg, "quick", json_object_new_boolean(run->quick));
    json_object_object_add(cfg, "warmup", json_object_new_int(run->cfg.warmup));
    json_object_object_add(cfg, "min_iters", json_object_new_int(run->cfg.min_iters));
    json_object_object_add(cfg, "min_time_s", json_object_new_double(run->cfg.min_time_ns / 1e9));
    json_object_object_add(cfg, "max_iters", json_object_new_int(run->cfg.max_iters));
    json_object_object_add(cfg, "max_time_s", json_object_new_double(run->cfg.max_time_ns / 1e9));
    json_object_object_add(cfg, "cv_threshold", json_object_new_double(run->cfg.cv_threshold));
    json_object_object_add(root, "config", cfg);
    json_object_object_add(root, "duration_s", json_object_new_double(run->duration_s));
    json_object_object_add(machine, "loadavg_1min_start",
                           run->load_start >= 0 ? json_object_new_double(run->load_start) : NULL);
    json_object_object_add(machine, "loadavg_1min_end",
                           run->load_end >= 0 ? json_object_new_double(run->load_end) : NULL);
    json_object *peers = json_object_new_array();
    for (int i = 0; i < run->n_peers; i++) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string(run->peers[i].name));
        json_object_object_add(p, "available", json_object_new_boolean(run->peers[i].available));
        json_object_object_add(p, "detail", json_object_new_string(run->peers[i].detail));
        json_object_array_add(peers, p);
    }
    json_object_object_add(root, "peers", peers);
    json_object *rows = json_object_new_array();
    for (int i = 0; i < run->n_rows; i++) {
        const struct tsr_bench_row *r = &run->rows[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "suite", json_object_new_string(r->suite));
        json_object_object_add(o, "case", json_object_new_string(r->name));
        json_object_object_add(o, "impl", json_object_new_string(r->impl));
        json_object_object_add(o, "device", json_object_new_string(r->device));
        json_object_object_add(o, "shape", json_object_new_string(r->shape));
        json_object_object_add(o, "status", json_object_new_string(status_name(r->status)));
        json_object_object_add(o, "note", json_object_new_string(r->note));
        json_object_object_add(o, "iterations", json_object_new_int(r->host.n));
        json_object_object_add(o, "host", stats_json(&r->host));
        json_object_object_add(o, "device_time", r->dev.n ? stats_json(&r->dev) : NULL);
        json_object_object_add(o, "noisy", json_object_new_boolean(r->noisy));
        json_object_object_add(o, "flops", json_object_new_double(r->flops));
        json_object_object_add(o, "bytes", json_object_new_double(r->bytes));
        json_object_object_add(o, "metric", json_object_new_string(r->metric));
        json_object_object_add(o, "value", json_object_new_double(r->value));
        json_object_object_add(o, "device_value", json_object_new_double(r->dev_value));
        json_object_object_add(o, "ratio_to_best_peer",
                               r->ratio > 0 ? json_object_new_double(r->ratio) : NULL);
        json_object_object_add(o, "best_peer", json_object_new_string(r->best_peer));
        json_object_object_add(o, "peer_ratios", peer_ratios(run, r));
        json_object_object_add(o, "interleaved", pair_json(&r->pair));
        json_object_array_add(rows, o);
    }
    json_object_object_add(root, "results", rows);
    return root;
}

int tsr_bench_write_json(const struct tsr_bench_run *run, const char *path) {
    json_object *o = tsr_bench_to_json(run);
    int rc =
        json_object_to_file_ext(path, o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    json_object_put(o);
    if (rc) fprintf(stderr, "tessera: error: cannot write %s\n", path);
    return rc ? -1 : 0;
}

/* CSV field: quoted, inner quotes doubled (RFC 4180). */
static void csv_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int tsr_bench_write_csv(const struct tsr_bench_run *run, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "tessera: error: cannot write %s\n", path);
        return -1;
    }
    char machine[256] = "";
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(machine, sizeof machine, "%s %s %s", u.nodename, u.sysname, u.machine);
    fprintf(f, "suite,case,impl,device,device_name,shape,status,iterations,median_ms,min_ms,max_ms,"
               "mean_ms,stddev_ms,cv,noisy,dev_iterations,dev_median_ms,dev_min_ms,dev_max_ms,"
               "dev_stddev_ms,flops,bytes,metric,value,device_value,ratio_to_best_peer,best_peer,"
               "machine,note,pair_peer,pair_threads,pair_rounds,pair_reps,pair_tessera_ms,"
               "pair_peer_ms,pair_ratio,pair_round_min,pair_round_q1,pair_round_median,"
               "pair_round_q3,pair_round_max,pair_min_ratio\n");
    for (int i = 0; i < run->n_rows; i++) {
        const struct tsr_bench_row *r = &run->rows[i];
        struct tsr_device_info d = {0};
        int idx;
        if (tsr_device_find(run->ctx, r->device, &idx) == TSR_OK)
            tsr_device_get_info(run->ctx, idx, &d);
        csv_str(f, r->suite), fputc(',', f), csv_str(f, r->name), fputc(',', f);
        csv_str(f, r->impl), fputc(',', f), csv_str(f, r->device), fputc(',', f);
        csv_str(f, d.name), fputc(',', f), csv_str(f, r->shape), fputc(',', f);
        fprintf(f, "%s,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.5f,%d,%d,%.6f,%.6f,%.6f,%.6f,%.0f,%.0f,",
                status_name(r->status), r->host.n, r->host.median_ms, r->host.min_ms,
                r->host.max_ms, r->host.mean_ms, r->host.stddev_ms, r->host.cv, r->noisy, r->dev.n,
                r->dev.median_ms, r->dev.min_ms, r->dev.max_ms, r->dev.stddev_ms, r->flops,
                r->bytes);
        csv_str(f, r->metric);
        fprintf(f, ",%.4f,%.4f,%.4f,", r->value, r->dev_value, r->ratio);
        csv_str(f, r->best_peer), fputc(',', f), csv_str(f, machine), fputc(',', f);
        csv_str(f, r->note);
        fputc(',', f);
        csv_str(f, r->pair.peer);
        fprintf(f, ",%d,%d,%d,%.6f,%.6f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", r->pair.threads,
                r->pair.rounds, r->pair.reps, r->pair.tessera_ms, r->pair.peer_ms, r->pair.ratio,
                r->pair.round_min, r->pair.round_q1, r->pair.round_median, r->pair.round_q3,
                r->pair.round_max, r->pair.min_ratio);
    }
    if (fclose(f)) {
        fprintf(stderr, "tessera: error: cannot write %s\n", path);
        return -1;
    }
    return 0;
}
