/* harness.c — warm-up, stop rule and statistics of `tessera bench` (see harness.h). */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t tsr_bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct tsr_bench_config tsr_bench_config_default(int quick) {
    struct tsr_bench_config c = {0};
    c.cv_threshold = TSR_BENCH_CV_THRESHOLD;
    if (quick) {
        c.warmup = 1;
        c.min_iters = 3;
        c.min_time_ns = 150000000ull; /* 0.15 s */
        c.max_iters = 50;
        c.max_time_ns = 750000000ull; /* 0.75 s */
    } else {
        c.warmup = 2;
        c.min_iters = 10;
        c.min_time_ns = 1000000000ull; /* 1 s */
        c.max_iters = 200;
        c.max_time_ns = 4000000000ull; /* 4 s */
    }
    return c;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int tsr_bench_stats_compute(const double *samples, int n, struct tsr_bench_stats *out) {
    memset(out, 0, sizeof *out);
    if (n <= 0 || !samples) return 0;
    double *s = malloc((size_t)n * sizeof *s);
    if (!s) return -1;
    memcpy(s, samples, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    out->n = n;
    out->min_ms = s[0];
    out->max_ms = s[n - 1];
    out->median_ms = (n % 2) ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += s[i];
    out->mean_ms = sum / n;
    if (n > 1) {
        double ss = 0;
        for (int i = 0; i < n; i++)
            ss += (s[i] - out->mean_ms) * (s[i] - out->mean_ms);
        out->stddev_ms = sqrt(ss / (n - 1));
    }
    out->cv = out->mean_ms > 0 ? out->stddev_ms / out->mean_ms : 0;
    free(s);
    return 0;
}

int tsr_bench_should_stop(const struct tsr_bench_config *cfg, int n_done, uint64_t elapsed_ns) {
    if (cfg->max_iters > 0 && n_done >= cfg->max_iters) return 1;
    if (cfg->max_time_ns > 0 && elapsed_ns >= cfg->max_time_ns && n_done >= 3) return 1;
    return n_done >= cfg->min_iters && elapsed_ns >= cfg->min_time_ns;
}

static uint64_t clock_of(const struct tsr_bench_config *cfg) {
    return cfg->clock_ns ? cfg->clock_ns(cfg->clock_arg) : tsr_bench_now_ns();
}

static int finish(const struct tsr_bench_config *cfg, struct tsr_bench_result *r) {
    if (tsr_bench_stats_compute(r->host_ms, r->n_samples, &r->host) ||
        tsr_bench_stats_compute(r->dev_ms, r->n_dev, &r->dev))
        return -1;
    r->noisy = r->host.n > 1 && r->host.cv > cfg->cv_threshold;
    return 0;
}

int tsr_bench_measure(const struct tsr_bench_config *cfg_in, tsr_bench_fn fn, void *arg,
                      struct tsr_bench_result *out) {
    struct tsr_bench_config cfg = cfg_in ? *cfg_in : tsr_bench_config_default(0);
    memset(out, 0, sizeof *out);
    for (int i = 0; i < cfg.warmup; i++) {
        double d = -1;
        if (fn(arg, &d)) {
            out->failed = 1;
            return -1;
        }
    }
    int cap = 64;
    out->host_ms = malloc((size_t)cap * sizeof(double));
    out->dev_ms = malloc((size_t)cap * sizeof(double));
    if (!out->host_ms || !out->dev_ms) {
        tsr_bench_result_free(out);
        return -1;
    }
    uint64_t elapsed = 0;
    while (!tsr_bench_should_stop(&cfg, out->n_samples, elapsed)) {
        if (out->n_samples == cap) {
            cap *= 2;
            double *h = realloc(out->host_ms, (size_t)cap * sizeof(double));
            if (h) out->host_ms = h;
            double *d = realloc(out->dev_ms, (size_t)cap * sizeof(double));
            if (d) out->dev_ms = d;
            if (!h || !d) {
                tsr_bench_result_free(out);
                return -1;
            }
        }
        double dev = -1;
        uint64_t t0 = clock_of(&cfg);
        int rc = fn(arg, &dev);
        uint64_t t1 = clock_of(&cfg);
        if (rc) {
            out->failed = 1;
            finish(&cfg, out);
            return -1;
        }
        uint64_t dt = t1 > t0 ? t1 - t0 : 0;
        elapsed += dt;
        out->host_ms[out->n_samples++] = (double)dt / 1e6;
        if (dev >= 0) out->dev_ms[out->n_dev++] = dev;
    }
    return finish(&cfg, out);
}

int tsr_bench_result_from_samples(const struct tsr_bench_config *cfg_in, const double *host, int n,
                                  const double *dev, int n_dev, struct tsr_bench_result *out) {
    struct tsr_bench_config cfg = cfg_in ? *cfg_in : tsr_bench_config_default(0);
    memset(out, 0, sizeof *out);
    if (n < 0 || n_dev < 0) return -1;
    out->host_ms = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    out->dev_ms = malloc((size_t)(n_dev > 0 ? n_dev : 1) * sizeof(double));
    if (!out->host_ms || !out->dev_ms) {
        tsr_bench_result_free(out);
        return -1;
    }
    if (n) memcpy(out->host_ms, host, (size_t)n * sizeof(double));
    if (n_dev && dev) memcpy(out->dev_ms, dev, (size_t)n_dev * sizeof(double));
    out->n_samples = n;
    out->n_dev = dev ? n_dev : 0;
    return finish(&cfg, out);
}

void tsr_bench_result_free(struct tsr_bench_result *r) {
    if (!r) return;
    free(r->host_ms);
    free(r->dev_ms);
    memset(r, 0, sizeof *r);
}
