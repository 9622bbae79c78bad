/*
 * softmax.cl — ONNX Softmax over the middle axis of x[outer, axis_len, inner] (row-major).
 * One work-item per (outer, inner) row: y = exp(x - max) / sum(exp(x - max)), the max subtracted
 * first for numerical stability. Work-items beyond outer*inner do nothing (global size may be
 * rounded up). mode (tsr_softmax_mode, group "reduce"): 0 softmax, 1 LogSoftmax
 * (x - max) - log(sum exp(x - max)), 2 Hardmax (1 at the first maximum, 0 elsewhere).
 */
__kernel void tsr_softmax(__global const float *x, ulong x_off, __global float *y, ulong y_off,
                          ulong outer, ulong axis_len, ulong inner, int mode) {
    ulong row = get_global_id(0);
    if (row >= outer * inner) return;
    ulong o = row / inner, n = row - o * inner;
    ulong base = o * axis_len * inner + n;
    __global const float *xr = x + x_off + base;
    __global float *yr = y + y_off + base;
    if (mode == 2) { /* Hardmax: 1 at the first maximum */
        ulong arg = 0;
        for (ulong a = 1; a < axis_len; a++)
            if (xr[a * inner] > xr[arg * inner]) arg = a;
        for (ulong a = 0; a < axis_len; a++)
            yr[a * inner] = a == arg ? 1.0f : 0.0f;
        return;
    }
    float m = -INFINITY;
    for (ulong a = 0; a < axis_len; a++)
        m = fmax(m, xr[a * inner]);
    float s = 0.0f;
    if (mode == 1) { /* LogSoftmax: (x - m) - log(sum exp(x - m)) */
        for (ulong a = 0; a < axis_len; a++)
            s += exp(xr[a * inner] - m);
        float ls = log(s);
        for (ulong a = 0; a < axis_len; a++)
            yr[a * inner] = (xr[a * inner] - m) - ls;
        return;
    }
    for (ulong a = 0; a < axis_len; a++) {
        float e = exp(xr[a * inner] - m);
        yr[a * inner] = e;
        s += e;
    }
    float inv = 1.0f / s;
    for (ulong a = 0; a < axis_len; a++)
        yr[a * inner] *= inv;
}
