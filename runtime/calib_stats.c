/*
 * calib_stats.c — how a calibration figure is taken: the MAD outlier rule, medians, the timing
 * rule (samples of repeated runs, interleaved rounds) and the calling thread's "measuring" mark.
 * Rules and sources in calibration.h.
 */
#include "runtime/calibration.h"

#include <math.h>
#include <stdlib.h>

#define TSR_MAD_SCALE         1.4826 /* MAD → standard deviation for normal data */
#define TSR_MAD_CUTOFF        3.0    /* Leys et al. 2013: "very conservative" threshold */
#define TSR_CAL_SAMPLES       9
#define TSR_CAL_MIN_SAMPLE_NS 1000000ull  /* 1 ms */
#define TSR_CAL_MAX_REPS      2000        /* runs per sample at most */
#define TSR_CAL_LONG_RUN_NS   20000000ull /* runs this long take TSR_CAL_FEW_SAMPLES */
#define TSR_CAL_FEW_SAMPLES   5
#define TSR_CAL_MAX_PROBES    64 /* probes of one tsr_calib_time_rounds call */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of sorted x[0..n-1]. */
static double sorted_median(const double *x, int n) {
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

double tsr_calib_robust_median(double *x, int n) {
    if (!x || n <= 0) return NAN;
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    double m = sorted_median(x, n);
    double *dev = malloc((size_t)n * sizeof *dev);
    if (!dev) return m;
    for (int i = 0; i < n; i++)
        dev[i] = fabs(x[i] - m);
    qsort(dev, (size_t)n, sizeof *dev, cmp_double);
    double mad = sorted_median(dev, n);
    double limit = TSR_MAD_CUTOFF * TSR_MAD_SCALE * mad;
    int k = 0; /* x stays sorted while kept samples are compacted to the front */
    for (int i = 0; i < n; i++)
        if (fabs(x[i] - m) <= limit) x[k++] = x[i];
    free(dev);
    return k > 0 ? sorted_median(x, k) : m;
}

double tsr_calib_median(double *x, int n) {
    if (!x || n <= 0) return NAN;
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return sorted_median(x, n);
}

tsr_status tsr_calib_time_run(tsr_calib_run_fn *run, void *arg, double *ns) {
    /* Warm-up, and the repeat count that makes a sample last >= TSR_CAL_MIN_SAMPLE_NS. */
    uint64_t t0 = tsr_now_ns();
    tsr_status st = run(arg);
    if (st != TSR_OK) return st;
    uint64_t once = tsr_now_ns() - t0;
    int reps = once >= TSR_CAL_MIN_SAMPLE_NS ? 1 : (int)(TSR_CAL_MIN_SAMPLE_NS / (once + 1)) + 1;
    if (reps > TSR_CAL_MAX_REPS) reps = TSR_CAL_MAX_REPS;
    int n_samples = once >= TSR_CAL_LONG_RUN_NS ? TSR_CAL_FEW_SAMPLES : TSR_CAL_SAMPLES;
    double samples[TSR_CAL_SAMPLES], runs[TSR_CAL_MAX_REPS];
    for (int s = 0; s < n_samples; s++) {
        for (int r = 0; r < reps; r++) {
            t0 = tsr_now_ns();
            if ((st = run(arg)) != TSR_OK) return st;
            runs[r] = (double)(tsr_now_ns() - t0);
        }
        samples[s] = tsr_calib_median(runs, reps);
    }
    *ns = tsr_calib_robust_median(samples, n_samples);
    return TSR_OK;
}

tsr_status tsr_calib_time_rounds(int n_probes, tsr_calib_probe_fn *probe, void *arg, double *ns) {
    if (n_probes < 0 || n_probes > TSR_CAL_MAX_PROBES || !probe || !ns)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG, "calibrate: %d probes", n_probes);
    double rounds[TSR_CAL_MAX_PROBES][TSR_CALIB_ROUNDS];
    /* Every probe in each of TSR_CALIB_ROUNDS rounds; its time is the median round's figure. */
    for (int r = 0; r < TSR_CALIB_ROUNDS; r++)
        for (int p = 0; p < n_probes; p++) {
            rounds[p][r] = NAN;
            tsr_status st = probe(arg, p, r, &rounds[p][r]);
            if (st != TSR_OK) return st;
        }
    for (int p = 0; p < n_probes; p++) {
        int n = 0;
        for (int r = 0; r < TSR_CALIB_ROUNDS; r++)
            if (!isnan(rounds[p][r])) rounds[p][n++] = rounds[p][r];
        ns[p] = tsr_calib_median(rounds[p], n);
    }
    return TSR_OK;
}

static _Thread_local int tls_measuring;

void tsr_calib_thread_set_measuring(int on) {
    tls_measuring = on != 0;
}

int tsr_calib_thread_measuring(void) {
    return tls_measuring;
}
