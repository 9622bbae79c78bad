/*
 * reduce.cl — reductions over the middle axis of x[outer, len, inner] → y[outer, inner]
 * (runtime/program.h, struct tsr_k_reduce; ONNX ReduceSum / ReduceMean / ReduceMax and, group
 * "reduce", ReduceMin / Prod / SumSquare / L1 / L2 / LogSum / LogSumExp).
 * kind: tsr_reduce_kind (0 sum, 1 mean, 2 max, 3 min, 4 prod, 5 sum of squares, 6 L1, 7 L2,
 * 8 log-sum, 9 log-sum-exp). len == 0 gives sum 0, mean NaN, max -inf, min +inf, prod 1,
 * log-sum and log-sum-exp -inf. Max and min propagate NaN (fmax / fmin would swallow it).
 * Log-sum-exp takes the max first (two passes over the row), m + log(sum exp(x - m)).
 *
 * Two kernels, chosen by the host (cl_kernels.c) from len:
 *   tsr_reduce_items  — one work-item per output (short rows); sequential f32 accumulation.
 *   tsr_reduce_groups — one work-group per output (long rows), group-stride loop over outputs;
 *                       each work-item accumulates len/local_size strided elements, then a tree
 *                       reduction in local memory. Local size: a power of two.
 */
#define TSR_RK_SUM    0
#define TSR_RK_MEAN   1
#define TSR_RK_MAX    2
#define TSR_RK_MIN    3
#define TSR_RK_PROD   4
#define TSR_RK_SUMSQ  5
#define TSR_RK_L1     6
#define TSR_RK_L2     7
#define TSR_RK_LOGSUM 8
#define TSR_RK_LSE    9

inline float tsr_reduce_init(int kind) {
    switch (kind) {
    case TSR_RK_MAX:
    case TSR_RK_LSE: /* its max pass */
        return -INFINITY;
    case TSR_RK_MIN:
        return INFINITY;
    case TSR_RK_PROD:
        return 1.0f;
    default:
        return 0.0f;
    }
}

/* acc (+) v for kind; LSE's first pass is a max. NaN propagates through max and min. */
inline float tsr_reduce_step(float acc, float v, int kind) {
    switch (kind) {
    case TSR_RK_MAX:
    case TSR_RK_LSE:
        return tsr_max_nan(acc, v); /* common.clh */
    case TSR_RK_MIN:
        return (acc <= v || isnan(acc)) ? acc : v;
    case TSR_RK_PROD:
        return acc * v;
    case TSR_RK_SUMSQ:
    case TSR_RK_L2:
        return acc + v * v;
    case TSR_RK_L1:
        return acc + fabs(v);
    default:
        return acc + v;
    }
}

/* Combining two partial results (already mapped: squares, absolute values). */
inline float tsr_reduce_merge(float a, float b, int kind) {
    switch (kind) {
    case TSR_RK_MAX:
    case TSR_RK_LSE:
    case TSR_RK_MIN:
    case TSR_RK_PROD:
        return tsr_reduce_step(a, b, kind);
    default:
        return a + b;
    }
}

/* s: the accumulated value; m: the max (LSE). */
inline float tsr_reduce_finish(float s, float m, ulong len, int kind) {
    switch (kind) {
    case TSR_RK_MEAN:
        return len ? s / (float)len : NAN;
    case TSR_RK_L2:
        return sqrt(s);
    case TSR_RK_LOGSUM:
        return log(s);
    case TSR_RK_LSE:
        return (isinf(m) || isnan(m)) ? m : m + log(s);
    default:
        return s;
    }
}

/* Tree reduction of one value per work-item with tsr_reduce_merge; every work-item receives
 * the result (contains barriers: every work-item of the group calls it). */
inline float tsr_wg_reduce(float v, int kind, __local float *scratch) {
    size_t l = get_local_id(0), n = get_local_size(0);
    scratch[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = n / 2; s > 0; s /= 2) {
        if (l < s) scratch[l] = tsr_reduce_merge(scratch[l], scratch[l + s], kind);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* scratch may be reused right after */
    return r;
}

__kernel void tsr_reduce_items(__global const float *x, ulong x_off, __global float *y, ulong y_off,
                               ulong outer, ulong len, ulong inner, int kind) {
    ulong rows = outer * inner;
    for (ulong r = get_global_id(0); r < rows; r += get_global_size(0)) {
        ulong o = r / inner, n = r - o * inner;
        __global const float *xr = x + x_off + o * len * inner + n;
        float acc = tsr_reduce_init(kind);
        for (ulong a = 0; a < len; a++)
            acc = tsr_reduce_step(acc, xr[a * inner], kind);
        float m = acc;
        if (kind == TSR_RK_LSE && !isinf(m) && !isnan(m)) {
            acc = 0.0f;
            for (ulong a = 0; a < len; a++)
                acc += exp(xr[a * inner] - m);
        }
        y[y_off + r] = tsr_reduce_finish(acc, m, len, kind);
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
        float acc = tsr_reduce_init(kind);
        for (ulong a = l; a < len; a += ls)
            acc = tsr_reduce_step(acc, xr[a * inner], kind);
        acc = tsr_wg_reduce(acc, kind, scratch);
        float m = acc;
        if (kind == TSR_RK_LSE && !isinf(m) && !isnan(m)) { /* uniform across the group */
            acc = 0.0f;
            for (ulong a = l; a < len; a += ls)
                acc += exp(xr[a * inner] - m);
            acc = tsr_wg_reduce(acc, TSR_RK_SUM, scratch);
        }
        if (l == 0) y[y_off + r] = tsr_reduce_finish(acc, m, len, kind);
    }
}

/* Does element a (value va) come before b (vb): larger first (is_min: smaller), then lower index
 * (select_last: higher)? */
static int tsr_arg_before(float va, long a, float vb, long b, int is_min, int select_last) {
    if (va == vb) return select_last ? a > b : a < b;
    return is_min ? va < vb : va > vb;
}

/* Group "reduce": ArgMax / ArgMin (struct tsr_k_arg), one work-item per (outer, inner) column;
 * group "multiout": TopK, the first k of the column in that order, each the first extremum after
 * the previous one (O(k * len)). y is int64 indices (the host passes its offset in floats, as for
 * every buffer: y_off / 2 longs; buffer offsets are multiples of 64 bytes) or, with values,
 * float32 values; y is [outer, k, inner]. */
__kernel void tsr_arg_items(__global const float *x, ulong x_off, __global float *y, ulong y_off,
                            ulong outer, ulong len, ulong inner, int is_min, int select_last,
                            ulong k, int values) {
    __global long *yl = (__global long *)(y + y_off);
    ulong rows = outer * inner;
    for (ulong r = get_global_id(0); r < rows; r += get_global_size(0)) {
        ulong o = r / inner, n = r - o * inner;
        __global const float *xr = x + x_off + o * len * inner + n;
        long prev = -1;
        for (ulong t = 0; t < k; t++) {
            long best = -1;
            for (ulong a = 0; a < len; a++) {
                float v = xr[a * inner];
                if (prev >= 0 &&
                    !tsr_arg_before(xr[prev * inner], prev, v, (long)a, is_min, select_last))
                    continue;
                if (best < 0 ||
                    tsr_arg_before(v, (long)a, xr[best * inner], best, is_min, select_last))
                    best = (long)a;
            }
            if (best < 0) best = prev; /* only with NaN: unspecified order */
            ulong at = (o * k + t) * inner + n;
            if (values)
                y[y_off + at] = xr[best * inner];
            else
                yl[at] = best;
            prev = best;
        }
    }
}

/* Group "reduce": CumSum (struct tsr_k_cumsum), one work-item per (outer, inner) column,
 * sequential f32 accumulation in axis order. */
__kernel void tsr_cumsum_items(__global const float *x, ulong x_off, __global float *y, ulong y_off,
                               ulong outer, ulong len, ulong inner, int exclusive, int reverse) {
    ulong rows = outer * inner;
    for (ulong r = get_global_id(0); r < rows; r += get_global_size(0)) {
        ulong o = r / inner, n = r - o * inner;
        __global const float *xr = x + x_off + o * len * inner + n;
        __global float *yr = y + y_off + o * len * inner + n;
        float acc = 0.0f;
        for (ulong t = 0; t < len; t++) {
            ulong j = reverse ? len - 1 - t : t;
            float v = xr[j * inner];
            if (exclusive) {
                yr[j * inner] = acc;
                acc += v;
            } else {
                acc += v;
                yr[j * inner] = acc;
            }
        }
    }
}

/* zoo2: integer CumSum (struct tsr_k_cumsum; is64 1: int64, 0: int32, both x and y; offsets in
 * 4-byte units), one work-item per (outer, inner) column, exact wrapping sums in axis order. */
__kernel void tsr_cumsum_int_items(__global const float *x, ulong x_off, __global float *y,
                                   ulong y_off, ulong outer, ulong len, ulong inner, int exclusive,
                                   int reverse, int is64) {
    __global const long *xl = (__global const long *)(x + x_off);
    __global const int *xi = (__global const int *)(x + x_off);
    __global long *yl = (__global long *)(y + y_off);
    __global int *yi = (__global int *)(y + y_off);
    ulong rows = outer * inner;
    for (ulong r = get_global_id(0); r < rows; r += get_global_size(0)) {
        ulong o = r / inner, n = r - o * inner;
        ulong acc = 0;
        for (ulong t = 0; t < len; t++) {
            ulong j = reverse ? len - 1 - t : t;
            ulong at = (o * len + j) * inner + n;
            ulong v = is64 ? (ulong)xl[at] : (ulong)(long)xi[at];
            if (!exclusive) acc += v;
            if (is64)
                yl[at] = (long)acc;
            else
                yi[at] = (int)(uint)acc;
            if (exclusive) acc += v;
        }
    }
}

/* Group "multiout": NegativeLogLikelihoodLoss (struct tsr_k_nll). The target is int64 (offset
 * t_off in floats: t_off / 2 longs) or int32 (t_i32). reduction 0: one work-item per loss
 * element; 1 (sum) / 2 (mean): one work-item summing in order in float32. */
__kernel void tsr_nll_items(__global const float *x, ulong x_off, __global const float *t,
                            ulong t_off, __global const float *w, ulong w_off, __global float *y,
                            ulong y_off, ulong N, ulong C, ulong D, int has_weight, int reduction,
                            int has_ignore, int t_i32, long ignore_index) {
    __global const long *tl = (__global const long *)(t + t_off);
    __global const int *ti = (__global const int *)(t + t_off);
    ulong total = N * D;
    float sum = 0.0f, wsum = 0.0f;
    for (ulong i = reduction == 0 ? get_global_id(0) : 0; i < total;
         i += reduction == 0 ? get_global_size(0) : 1) {
        long c = t_i32 ? (long)ti[i] : tl[i];
        float loss = 0.0f, wt = 0.0f;
        if (c >= 0 && c < (long)C && !(has_ignore && c == ignore_index)) {
            ulong n = i / D, d = i - n * D;
            wt = has_weight ? w[w_off + (ulong)c] : 1.0f;
            loss = -x[x_off + (n * C + (ulong)c) * D + d] * wt;
        }
        if (reduction == 0) y[y_off + i] = loss;
        sum += loss;
        wsum += wt;
    }
    if (reduction == 1 && get_global_id(0) == 0) y[y_off] = sum;
    if (reduction == 2 && get_global_id(0) == 0) y[y_off] = sum / wsum;
}
