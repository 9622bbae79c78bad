/*
 * harness.h — the measurement core of `tessera bench`, reusable from C.
 *
 * A measurement is: `warmup` untimed calls, then timed calls until BOTH `min_iters` calls and
 * `min_time_ns` of timed work are reached (or a cap: `max_iters` calls or `max_time_ns` spent).
 * Each call yields a host (wall-clock, CLOCK_MONOTONIC) time and optionally a device time (from
 * OpenCL event / profiler records); both sample sets get the same statistics: median, min, max,
 * sample standard deviation and coefficient of variation (stddev / mean). A result is flagged
 * noisy when its host CV exceeds `cv_threshold` (default 0.10 = 10 %: beyond that, run-to-run
 * spread is larger than most differences worth reporting between devices).
 *
 * Thread safety: every function is reentrant; a tsr_bench_result belongs to one thread.
 */
#ifndef TSR_BENCH_HARNESS_H
#define TSR_BENCH_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* Default noise threshold: coefficient of variation above 10 % flags a result noisy. */
#define TSR_BENCH_CV_THRESHOLD 0.10

/* Summary statistics of n samples in milliseconds. n == 0: every field 0 (no samples). */
struct tsr_bench_stats {
    int n;
    double median_ms; /* middle sample; mean of the two middle ones for even n */
    double min_ms, max_ms;
    double mean_ms;
    double stddev_ms; /* sample standard deviation (n - 1 denominator); 0 for n < 2 */
    double cv;        /* stddev / mean; 0 when mean is 0 */
};

/* Stop rule and noise threshold. */
struct tsr_bench_config {
    int warmup;           /* untimed calls first (absorb compiles, cache and page warm-up) */
    int min_iters;        /* at least this many timed calls ... */
    uint64_t min_time_ns; /* ... and at least this much total timed host time */
    int max_iters;        /* cap on timed calls (0 = no cap) */
    uint64_t max_time_ns; /* cap on total timed host time (0 = no cap); wins over min_iters
                             only once at least 3 samples exist */
    double cv_threshold;  /* noisy when host CV > this */
    /* Clock for the stop rule and host samples; NULL = CLOCK_MONOTONIC in ns. Tests inject a
     * fake clock through it. */
    uint64_t (*clock_ns)(void *clock_arg);
    void *clock_arg;
};

/* The default configuration: full (quick == 0): warmup 2, >= 10 runs and >= 1 s, caps 200 runs /
 * 4 s; quick: warmup 1, >= 3 runs and >= 0.15 s, caps 50 runs / 0.75 s. */
struct tsr_bench_config tsr_bench_config_default(int quick);

/* One timed call of the measured work. Returns 0 on success, nonzero to abort the measurement.
 * May write the device time of this call in ms to *device_ms (left negative when the work has
 * none). */
typedef int (*tsr_bench_fn)(void *arg, double *device_ms);

/* The measurement: samples (owned, malloc'd) and their statistics. */
struct tsr_bench_result {
    double *host_ms; /* n_samples host times, in call order */
    double *dev_ms;  /* n_dev device times (calls that reported one) */
    int n_samples, n_dev;
    struct tsr_bench_stats host, dev;
    int noisy;  /* host.cv > cv_threshold */
    int failed; /* the work returned nonzero (samples up to there are kept) */
};

/* Statistics of n samples (not reordered: sorted in a private copy). samples may be NULL when
 * n == 0. Returns 0, or -1 when out of memory for the copy (then *out is zeroed). */
int tsr_bench_stats_compute(const double *samples, int n, struct tsr_bench_stats *out);

/* The stop rule: 1 when, after n_done timed calls taking elapsed_ns in total, measuring stops. */
int tsr_bench_should_stop(const struct tsr_bench_config *cfg, int n_done, uint64_t elapsed_ns);

/* Runs the measurement described in the file comment. cfg NULL = tsr_bench_config_default(0).
 * Returns 0 on success, -1 when out of memory or when fn failed (out->failed set); out is always
 * filled and must be released with tsr_bench_result_free. */
int tsr_bench_measure(const struct tsr_bench_config *cfg, tsr_bench_fn fn, void *arg,
                      struct tsr_bench_result *out);

/* Builds a result from samples measured elsewhere (e.g. by the Python peer helper): copies them,
 * computes the statistics and the noise flag. dev may be NULL / n_dev 0. Returns 0 or -1 (out of
 * memory). */
int tsr_bench_result_from_samples(const struct tsr_bench_config *cfg, const double *host, int n,
                                  const double *dev, int n_dev, struct tsr_bench_result *out);

/* Frees the samples; NULL-safe; leaves *r zeroed. */
void tsr_bench_result_free(struct tsr_bench_result *r);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t tsr_bench_now_ns(void);

#endif
