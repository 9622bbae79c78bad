/*
 * scan.c — group "preproc": the scans of tessera's preprocessing ops over the middle axis of
 * [outer, len, inner] (struct tsr_k_cumsum with scan != TSR_SCAN_CUMSUM, runtime/program.h):
 * RollingMean, RollingStd (pandas rolling(window, min_periods).mean() / .std(ddof)) and EMA
 * (pandas ewm(alpha, adjust=False).mean()). Each output row (inner contiguous elements) is
 * computed from whole input rows, so the work is vectorised across the other axes: row sums use
 * the ISA tier's vector add and the division its DIV_IMM, the rest are plain loops over chunks of
 * a row that the compiler vectorises. Rolling outputs are recomputed over their window (two
 * passes: mean, then squared deviations), O(window) per element with no running-sum drift.
 */
#include "backends/cpu/cpu_exec.h"

#include <math.h>
#include <string.h>

#define SCAN_CHUNK 256 /* floats of a row processed at once (the std's deviation sums) */

/* y row (I floats) = mean of the rows x + first*I .. x + last*I (I-strided rows), count c. */
static void window_mean(const struct tsr_cpu_ew_kernels *ew, const float *x, int64_t I,
                        int64_t first, int64_t last, float *y) {
    memcpy(y, x + first * I, (size_t)I * sizeof(float));
    for (int64_t k = first + 1; k <= last; k++)
        ew->binary[TSR_EW_ADD]((size_t)I, y, x + k * I, y);
    if (last > first) ew->unary[TSR_EW_DIV_IMM]((size_t)I, y, y, (float)(last - first + 1), 0.0f);
}

static void rolling_row(const struct tsr_cpu_ew_kernels *ew, const struct tsr_k_cumsum *k,
                        const float *x, int64_t j, float *y) {
    const int64_t I = k->inner;
    const int64_t first = j - k->window + 1 > 0 ? j - k->window + 1 : 0, c = j - first + 1;
    if (c < k->min_periods || (k->scan == TSR_SCAN_ROLLING_STD && c <= k->ddof)) {
        for (int64_t i = 0; i < I; i++)
            y[i] = NAN;
        return;
    }
    window_mean(ew, x, I, first, j, y);
    if (k->scan != TSR_SCAN_ROLLING_STD) return;
    const float inv = 1.0f / (float)(c - k->ddof);
    for (int64_t i0 = 0; i0 < I; i0 += SCAN_CHUNK) {
        const int64_t n = I - i0 < SCAN_CHUNK ? I - i0 : SCAN_CHUNK;
        float ss[SCAN_CHUNK] = {0};
        const float *m = y + i0;
        for (int64_t t = first; t <= j; t++) {
            const float *xr = x + t * I + i0;
            for (int64_t i = 0; i < n; i++) {
                const float d = xr[i] - m[i];
                ss[i] += d * d;
            }
        }
        for (int64_t i = 0; i < n; i++)
            y[i0 + i] = sqrtf(ss[i] * inv);
    }
}

/* Group "preproc": y = the scan k->scan of x [outer, len, inner] along len. Serial; y must not
 * overlap x. */
void tsr_cpu_scan_run(const struct tsr_cpu_env *env, const struct tsr_k_cumsum *k, const float *x,
                      float *y) {
    const struct tsr_cpu_ew_kernels *ew = env->ew;
    const int64_t L = k->len, I = k->inner;
    const float a = k->alpha, b = 1.0f - k->alpha;
    for (int64_t o = 0; o < k->outer; o++) {
        const float *xo = x + o * L * I;
        float *yo = y + o * L * I;
        for (int64_t j = 0; j < L; j++) {
            float *yr = yo + j * I;
            const float *xr = xo + j * I;
            if (k->scan != TSR_SCAN_EMA) {
                rolling_row(ew, k, xo, j, yr);
            } else if (j == 0) {
                memcpy(yr, xr, (size_t)I * sizeof(float));
            } else {
                const float *pr = yr - I;
                for (int64_t i = 0; i < I; i++)
                    yr[i] = a * xr[i] + b * pr[i];
            }
        }
    }
}
