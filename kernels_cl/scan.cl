/*
 * scan.cl — group "preproc": the scans of tessera's preprocessing ops over the middle axis of
 * x[outer, len, inner] (runtime/program.h, struct tsr_k_cumsum with scan != 0): scan 1
 * RollingMean, 2 RollingStd (pandas rolling(window, min_periods).mean() / .std(ddof): NaN where
 * the window holds fewer than min_periods elements or, for the std, no more than ddof), 3 EMA
 * (y[0] = x[0], y[j] = alpha x[j] + (1 - alpha) y[j-1]: pandas ewm(alpha, adjust=False)).
 * One work-item per (outer, inner) column (a grid-stride loop over columns); rolling outputs are
 * recomputed over their window (mean, then squared deviations), as backends/cpu/scan.c.
 */
__kernel void tsr_scan_items(__global const float *x, ulong x_off, __global float *y, ulong y_off,
                             ulong outer, ulong len, ulong inner, int scan, ulong window,
                             ulong min_periods, ulong ddof, float alpha) {
    ulong cols = outer * inner;
    for (ulong r = get_global_id(0); r < cols; r += get_global_size(0)) {
        ulong o = r / inner, n = r - o * inner;
        __global const float *xr = x + x_off + o * len * inner + n;
        __global float *yr = y + y_off + o * len * inner + n;
        float prev = 0.0f;
        for (ulong j = 0; j < len; j++) {
            float v;
            if (scan == 3) {
                v = j == 0 ? xr[0] : alpha * xr[j * inner] + (1.0f - alpha) * prev;
                prev = v;
            } else {
                ulong first = j + 1 > window ? j + 1 - window : 0, c = j - first + 1;
                if (c < min_periods || (scan == 2 && c <= ddof)) {
                    v = NAN;
                } else {
                    float s = 0.0f;
                    for (ulong k = first; k <= j; k++)
                        s += xr[k * inner];
                    float m = s / (float)c;
                    if (scan == 2) {
                        float ss = 0.0f;
                        for (ulong k = first; k <= j; k++) {
                            float d = xr[k * inner] - m;
                            ss += d * d;
                        }
                        v = sqrt(ss / (float)(c - ddof));
                    } else {
                        v = m;
                    }
                }
            }
            yr[j * inner] = v;
        }
    }
}
