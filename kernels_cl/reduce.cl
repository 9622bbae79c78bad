/*
 * reduce.cl — sum / mean / max over the middle axis of x[outer, len, inner] → y[outer, inner]
 * (runtime/program.h, struct tsr_k_reduce; ONNX ReduceSum / ReduceMean / ReduceMax).
 * kind: 0 = sum, 1 = mean, 2 = max (tsr_reduce_kind; NaN propagates). len == 0 gives sum 0, mean NaN, max -inf.
 *
 * Two kernels, chosen by the host (cl_kernels.c) from len:
 *   tsr_reduce_items  — one work-item per output (short rows); sequential f32 accumulation.
 *   tsr_reduce_groups — one work-group per output (long rows), group-stride loop over outputs;
 *                       each work-item accumulates len/local_size strided elements, then a tree
 *                       reduction in local memory (common.clh). Local size: a power of two.
 */
inline float tsr_reduce_finish(float acc, ulong len, int kind) {
    if (kind == 1) return len ? acc / (float)len : NAN;
    return acc;
}

__kernel void tsr_reduce_items(__global const float *x, ulong x_off, __global float *y, ulong y_off,
                               ulong outer, ulong len, ulong inner, int kind) {
    ulong rows = outer * inner;
    for (ulong r = get_global_id(0); r < rows; r += get_global_size(0)) {
        ulong o = r / inner, n = r - o * inner;
        __global const float *xr = x + x_off + o * len * inner + n;
        float acc = kind == 2 ? -INFINITY : 0.0f;
        for (ulong a = 0; a < len; a++) {
            float v = xr[a * inner];
            acc = kind == 2 ? tsr_max_nan(acc, v) : acc + v;
        }
        y[y_off + r] = tsr_reduce_finish(acc, len, kind);
    }
}

__kernel void tsr_reduce_groups(__global const float *x, ulong x_off, __global float *y,
                                ulong y_off, ulong outer, ulong len, ulong inner, int kind,
                                __local float *scratch) {
    ulong rows = outer * inner;
    size_t l = get_local_id(0), ls = get_local_size(0);
    for (ulong r = get_group_id(0); r < rows; r += get_num_groups(0)) {
        ulong o = r / inner, n = r - o * inner;
        __global const float *xr = x + x_off + o * len * inner + n;
        float acc = kind == 2 ? -INFINITY : 0.0f;
        for (ulong a = l; a < len; a += ls) {
            float v = xr[a * inner];
            acc = kind == 2 ? tsr_max_nan(acc, v) : acc + v;
        }
        acc = kind == 2 ? tsr_wg_max(acc, scratch) : tsr_wg_sum(acc, scratch);
        if (l == 0) y[y_off + r] = tsr_reduce_finish(acc, len, kind);
    }
}
