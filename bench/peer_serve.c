/*
 * peer_serve.c — the ONNX Runtime co-process of the interleaved model timing (bench.h):
 * `python bench_peers.py --serve` on two pipes, one JSON line per command and per reply; and the
 * summary of an interleaved measurement (tsr_bench_pair_summary).
 */
#include "bench.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TSR_SOURCE_DIR
#define TSR_SOURCE_DIR "."
#endif

#ifndef TSR_INSTALL_BENCH_REL
#define TSR_INSTALL_BENCH_REL "../share/tessera/bench"
#endif

/* The installed peer script, <dir of this executable>/TSR_INSTALL_BENCH_REL/bench_peers.py, when
 * it is readable (an installed tessera); else the source tree's. Into buf. */
static void default_helper(char *buf, size_t size) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = n > 0 ? (exe[n] = 0, strrchr(exe, '/')) : NULL;
    if (slash) {
        *slash = 0;
        snprintf(buf, size, "%s/%s/bench_peers.py", exe, TSR_INSTALL_BENCH_REL);
        if (access(buf, R_OK) == 0) return;
    }
    snprintf(buf, size, "%s", TSR_SOURCE_DIR "/bench/bench_peers.py");
}

/* Here rather than in peer_python.c: this file calls nothing of the library (the bench test
 * links it next to the internal library). */
void tsr_bench_python_paths(const struct tsr_bench_run *run, char *python, size_t python_size,
                            char *helper, size_t helper_size) {
    const char *env = getenv("TSR_BENCH_PYTHON"), *henv = getenv("TSR_BENCH_HELPER");
    if (run->python && *run->python) {
        snprintf(python, python_size, "%s", run->python);
    } else if (env && *env) {
        snprintf(python, python_size, "%s", env);
    } else {
        snprintf(python, python_size, "%s/.venv/bin/python", TSR_SOURCE_DIR);
        if (access(python, X_OK) != 0) snprintf(python, python_size, "/usr/bin/python3");
    }
    if (run->helper_py)
        snprintf(helper, helper_size, "%s", run->helper_py);
    else if (henv && *henv)
        snprintf(helper, helper_size, "%s", henv);
    else
        default_helper(helper, helper_size);
}

struct tsr_bench_serve {
    pid_t pid;
    FILE *to, *from; /* the co-process's stdin / stdout */
    int broken;
    int available;
    char detail[256];
};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of sorted v[0..n) with linear interpolation between order statistics. */
static double quantile(const double *v, int n, double q) {
    double pos = q * (n - 1);
    int lo = (int)pos;
    if (lo >= n - 1) return v[n - 1];
    return v[lo] + (pos - lo) * (v[lo + 1] - v[lo]);
}

/* Median of v[0..n) (sorts v). */
static double median_sort(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int tsr_bench_pair_summary(const double *t, const double *p, int rounds, int reps,
                           struct tsr_bench_pair *out) {
    out->rounds = 0;
    if (rounds < 1 || reps < 1) return -1;
    int n = rounds * reps;
    double *buf = malloc((size_t)(2 * n + rounds) * sizeof *buf);
    if (!buf) return -1;
    double *tb = buf, *pb = buf + n, *rr = buf + 2 * n;
    memcpy(tb, t, (size_t)n * sizeof *tb);
    memcpy(pb, p, (size_t)n * sizeof *pb);
    int n_ratios = 0;
    for (int r = 0; r < rounds; r++) {
        double mt = median_sort(tb + (size_t)r * reps, reps);
        double mp = median_sort(pb + (size_t)r * reps, reps);
        if (mt > 0 && mp > 0) rr[n_ratios++] = mp / mt;
    }
    out->tessera_ms = median_sort(tb, n);
    out->peer_ms = median_sort(pb, n);
    out->tessera_min_ms = tb[0]; /* sorted by median_sort */
    out->peer_min_ms = pb[0];
    out->min_ratio = tb[0] > 0 && pb[0] > 0 ? pb[0] / tb[0] : 0;
    out->ratio = out->tessera_ms > 0 && out->peer_ms > 0 ? out->peer_ms / out->tessera_ms : 0;
    if (n_ratios > 0) {
        qsort(rr, (size_t)n_ratios, sizeof *rr, cmp_double);
        out->round_min = rr[0];
        out->round_q1 = quantile(rr, n_ratios, 0.25);
        out->round_median = quantile(rr, n_ratios, 0.5);
        out->round_q3 = quantile(rr, n_ratios, 0.75);
        out->round_max = rr[n_ratios - 1];
    } else {
        out->round_min = out->round_q1 = out->round_median = out->round_q3 = out->round_max = 0;
    }
    out->rounds = rounds;
    out->reps = reps;
    free(buf);
    return 0;
}

struct tsr_bench_serve *tsr_bench_serve_open(const char *python, const char *helper, char *why,
                                             size_t why_size) {
    int in[2], out[2];
    if (access(python, X_OK) != 0) {
        snprintf(why, why_size, "no Python interpreter at %s", python);
        return NULL;
    }
    if (access(helper, R_OK) != 0) {
        snprintf(why, why_size, "%s not found (set TSR_BENCH_HELPER)", helper);
        return NULL;
    }
    if (pipe(in)) {
        snprintf(why, why_size, "pipe: %s", strerror(errno));
        return NULL;
    }
    if (pipe(out)) {
        snprintf(why, why_size, "pipe: %s", strerror(errno));
        close(in[0]), close(in[1]);
        return NULL;
    }
    signal(SIGPIPE, SIG_IGN);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_size, "fork: %s", strerror(errno));
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        return NULL;
    }
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execl(python, python, helper, "--serve", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    struct tsr_bench_serve *s = calloc(1, sizeof *s);
    FILE *to = fdopen(in[1], "w"), *from = fdopen(out[0], "r");
    if (!s || !to || !from) {
        snprintf(why, why_size, "out of memory");
        if (to)
            fclose(to);
        else
            close(in[1]);
        if (from)
            fclose(from);
        else
            close(out[0]);
        waitpid(pid, NULL, 0);
        free(s);
        return NULL;
    }
    s->pid = pid;
    s->to = to;
    s->from = from;
    json_object *hello = json_object_new_object();
    json_object_object_add(hello, "cmd", json_object_new_string("hello"));
    json_object *r = tsr_bench_serve_call(s, hello);
    json_object_put(hello);
    json_object *peers = NULL, *ort = NULL, *v = NULL;
    if (!r || !json_object_object_get_ex(r, "peers", &peers) ||
        !json_object_object_get_ex(peers, "onnxruntime", &ort)) {
        snprintf(why, why_size, "%s %s --serve did not answer hello", python, helper);
        json_object_put(r);
        tsr_bench_serve_close(s);
        return NULL;
    }
    s->available = json_object_object_get_ex(ort, "available", &v) && json_object_get_boolean(v);
    snprintf(s->detail, sizeof s->detail, "%s",
             json_object_object_get_ex(ort, "detail", &v) ? json_object_get_string(v) : "");
    json_object_put(r);
    return s;
}

int tsr_bench_serve_peer(const struct tsr_bench_serve *s, const char **detail) {
    if (detail) *detail = s ? s->detail : "";
    return s ? s->available : 0;
}

json_object *tsr_bench_serve_call(struct tsr_bench_serve *s, json_object *cmd) {
    if (!s || s->broken) return NULL;
    const char *line = json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN);
    if (fprintf(s->to, "%s\n", line) < 0 || fflush(s->to)) {
        s->broken = 1;
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = getline(&buf, &cap, s->from);
    json_object *r = n > 0 ? json_tokener_parse(buf) : NULL;
    free(buf);
    if (!r || !json_object_is_type(r, json_type_object)) {
        json_object_put(r);
        s->broken = 1;
        return NULL;
    }
    return r;
}

void tsr_bench_serve_close(struct tsr_bench_serve *s) {
    if (!s) return;
    if (!s->broken) {
        json_object *q = json_object_new_object();
        json_object_object_add(q, "cmd", json_object_new_string("quit"));
        json_object_put(tsr_bench_serve_call(s, q));
        json_object_put(q);
    }
    fclose(s->to); /* end of input: the loop exits even when quit was not read */
    fclose(s->from);
    waitpid(s->pid, NULL, 0);
    free(s);
}
