/*
 * peer_python.c — PyTorch and ONNX Runtime as peers through bench/bench_peers.py (bench.h).
 *
 * Interpreter: run->python, else env TSR_BENCH_PYTHON, else <source>/.venv/bin/python when it
 * exists (tools/bench-venv.sh makes it, with ONNX Runtime), else /usr/bin/python3 (Debian's
 * python3-torch). The case list is every distinct row->pyspec of the tessera rows; the helper runs
 * once (one torch import), on the CPU, after the C suites so it does not share the cores with them.
 * Both peers get tessera's CPU worker count as their thread count. Cases already measured
 * interleaved (row->pair, the model suite's ONNX Runtime co-process, peer_serve.c) are skipped
 * for that peer.
 */
#include "bench.h"

#include "tessera/cpu.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TSR_SOURCE_DIR
#define TSR_SOURCE_DIR "."
#endif

static void absent_all(struct tsr_bench_run *run, const char *why) {
    tsr_bench_peer_note(run, "pytorch", 0, "%s", why);
    tsr_bench_peer_note(run, "onnxruntime", 0, "%s", why);
}

/* Runs python helper in out (stdout to /dev/null, stderr inherited). Returns the exit status or
 * -1 when it could not start. */
static int run_helper(const char *python, const char *helper, const char *in, const char *out) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(126);
        execl(python, python, helper, in, out, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int tsr_bench_python_peers(struct tsr_bench_run *run) {
    if (run->no_peers) {
        absent_all(run, "disabled (--no-peers)");
        return 0;
    }
    char python[1024], helper[1024];
    tsr_bench_python_paths(run, python, sizeof python, helper, sizeof helper);
    if (access(python, X_OK) != 0) {
        absent_all(run, "no Python interpreter (install python3)");
        return 0;
    }
    if (access(helper, R_OK) != 0) {
        absent_all(run, "bench/bench_peers.py not found (set TSR_BENCH_HELPER)");
        return 0;
    }
    /* The case list: distinct pyspecs, id = index of the first tessera row with it. */
    json_object *job = json_object_new_object(), *cfg = json_object_new_object(),
                *cases = json_object_new_array();
    json_object_object_add(cfg, "warmup", json_object_new_int(run->cfg.warmup));
    json_object_object_add(cfg, "min_iters", json_object_new_int(run->cfg.min_iters));
    json_object_object_add(cfg, "min_time_s", json_object_new_double(run->cfg.min_time_ns / 1e9));
    json_object_object_add(cfg, "max_iters", json_object_new_int(run->cfg.max_iters));
    json_object_object_add(cfg, "max_time_s", json_object_new_double(run->cfg.max_time_ns / 1e9));
    struct tsr_cpu_info ci;
    if (tsr_cpu_get_info(run->ctx, &ci) == TSR_OK && ci.threads > 0)
        json_object_object_add(cfg, "threads", json_object_new_int(ci.threads));
    json_object_object_add(job, "config", cfg);
    json_object_object_add(job, "cases", cases);
    int n_cases = 0;
    for (int i = 0; i < run->n_rows; i++) {
        const struct tsr_bench_row *r = &run->rows[i];
        if (strcmp(r->impl, "tessera") || !r->pyspec[0]) continue;
        int dup = 0;
        for (int j = 0; j < i && !dup; j++)
            dup = !strcmp(run->rows[j].impl, "tessera") && !strcmp(run->rows[j].pyspec, r->pyspec);
        if (dup) continue;
        json_object *c = json_object_new_object();
        json_object_object_add(c, "id", json_object_new_int(i));
        json_object_object_add(c, "spec", json_object_new_string(r->pyspec));
        if (r->pair.rounds > 0) { /* measured interleaved already */
            json_object *skip = json_object_new_array();
            json_object_array_add(skip, json_object_new_string(r->pair.peer));
            json_object_object_add(c, "skip", skip);
        }
        json_object_array_add(cases, c);
        n_cases++;
    }
    char in_path[] = "/tmp/tsr_bench_in_XXXXXX", out_path[] = "/tmp/tsr_bench_out_XXXXXX";
    int fi = mkstemp(in_path), fo = mkstemp(out_path);
    if (fi >= 0) close(fi);
    if (fo >= 0) close(fo);
    int rc = 0;
    if (fi < 0 || fo < 0 || json_object_to_file(in_path, job) != 0) {
        absent_all(run, "cannot write the case list to /tmp");
        goto done;
    }
    if (n_cases == 0) goto done;
    int st = run_helper(python, helper, in_path, out_path);
    json_object *res = st == 0 ? json_object_from_file(out_path) : NULL;
    if (!res) {
        char why[2200];
        snprintf(why, sizeof why, "%s %s failed (exit %d)", python, helper, st);
        absent_all(run, why);
        goto done;
    }
    json_object *peers = NULL, *results = NULL;
    if (json_object_object_get_ex(res, "peers", &peers)) {
        json_object_object_foreach(peers, name, info) {
            json_object *a = NULL, *d = NULL;
            json_object_object_get_ex(info, "available", &a);
            json_object_object_get_ex(info, "detail", &d);
            tsr_bench_peer_note(run, name, json_object_get_boolean(a), "%s",
                                d ? json_object_get_string(d) : "");
        }
    }
    if (json_object_object_get_ex(res, "results", &results)) {
        size_t n = json_object_array_length(results);
        for (size_t k = 0; k < n; k++) {
            json_object *o = json_object_array_get_idx(results, k), *v = NULL;
            int id = json_object_object_get_ex(o, "id", &v) ? json_object_get_int(v) : -1;
            if (id < 0 || id >= run->n_rows) continue;
            struct tsr_bench_row base = run->rows[id]; /* copy: add_row may move rows */
            const char *impl =
                json_object_object_get_ex(o, "impl", &v) ? json_object_get_string(v) : "python";
            struct tsr_bench_row *row =
                tsr_bench_add_row(run, base.suite, base.name, impl, "cpu", base.shape);
            if (!row) {
                rc = -1;
                break;
            }
            row->flops = base.flops;
            row->bytes = base.bytes;
            row->items = base.items;
            memcpy(row->metric, base.metric, sizeof row->metric);
            const char *status =
                json_object_object_get_ex(o, "status", &v) ? json_object_get_string(v) : "failed";
            if (json_object_object_get_ex(o, "note", &v))
                snprintf(row->note, sizeof row->note, "%s", json_object_get_string(v));
            if (strcmp(status, "ok")) {
                row->status =
                    !strcmp(status, "unsupported") ? TSR_BENCH_UNSUPPORTED : TSR_BENCH_FAILED;
                continue;
            }
            json_object *s = NULL;
            json_object_object_get_ex(o, "samples_ms", &s);
            int ns = s ? (int)json_object_array_length(s) : 0;
            double *samples = malloc((size_t)(ns > 0 ? ns : 1) * sizeof *samples);
            if (!samples) {
                rc = -1;
                break;
            }
            for (int q = 0; q < ns; q++)
                samples[q] = json_object_get_double(json_object_array_get_idx(s, (size_t)q));
            struct tsr_bench_result r;
            if (tsr_bench_result_from_samples(&run->cfg, samples, ns, NULL, 0, &r) == 0)
                tsr_bench_row_set(row, &r);
            tsr_bench_result_free(&r);
            free(samples);
        }
    }
    json_object_put(res);
done:
    json_object_put(job);
    if (fi >= 0) unlink(in_path);
    if (fo >= 0) unlink(out_path);
    return rc;
}
