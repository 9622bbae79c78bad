/*
 * pool.c — 2-D max / average pooling executor (struct tsr_k_pool, NCHW), parallel over the N*C
 * planes.
 *
 * For every output row the valid window rows are found once; for every window column tap the
 * range of output columns whose tap lies inside the input is computed once (as the depthwise
 * convolution in conv.c), so the inner loop runs over contiguous output columns with no bounds
 * test. Average: sum / count, count = the number of taps inside the padded input
 * [-pad_t, H + pad_b) x [-pad_l, W + pad_r) with count_include_pad (ONNX AveragePool: a
 * ceil_mode window overhanging the padding is clipped), else the number of taps inside the
 * input. A plane accumulates in the output itself (no scratch).
 */
#include "backends/cpu/cpu_exec.h"

#include <math.h>

tsr_status tsr_cpu_pool_check(tsr_context *ctx, const char *name, const struct tsr_k_pool *p) {
    if (!p) return TSR_ERR(ctx, TSR_E_INVALID_ARG, "pool kernel '%s': no geometry", name);
    if ((p->kind != TSR_POOL_MAX && p->kind != TSR_POOL_AVG && p->kind != TSR_POOL_MAX_INDEX) ||
        p->N < 0 || p->C < 0 || p->H <= 0 || p->W <= 0 || p->OH < 0 || p->OW < 0 || p->KH <= 0 ||
        p->KW <= 0 || p->stride_h <= 0 || p->stride_w <= 0 || p->dil_h <= 0 || p->dil_w <= 0 ||
        p->pad_t < 0 || p->pad_l < 0)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                       "pool kernel '%s': bad geometry (kind %d) X [%lld,%lld,%lld,%lld] -> "
                       "[%lld,%lld], kernel %lldx%lld, strides %lld,%lld, dilations %lld,%lld, "
                       "pads %lld,%lld",
                       name, (int)p->kind, (long long)p->N, (long long)p->C, (long long)p->H,
                       (long long)p->W, (long long)p->OH, (long long)p->OW, (long long)p->KH,
                       (long long)p->KW, (long long)p->stride_h, (long long)p->stride_w,
                       (long long)p->dil_h, (long long)p->dil_w, (long long)p->pad_t,
                       (long long)p->pad_l);
    return TSR_OK;
}

struct tsr_pool_job {
    const struct tsr_k_pool *p;
    const float *X;
    float *Y;
};

/* Output columns [lo, hi) whose tap ow*stride + off lies in [0, W). */
static void tsr_pool_cols(int64_t OW, int64_t W, int64_t stride, int64_t off, int64_t *lo,
                          int64_t *hi) {
    int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t b = W - off <= 0 ? 0 : (W - off - 1) / stride + 1;
    if (b > OW) b = OW;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* Group "multiout": MaxPool's Indices (TSR_POOL_MAX_INDEX, program.h) of plane `task`. */
static void tsr_pool_index_task(const struct tsr_pool_job *job, size_t task) {
    const struct tsr_k_pool *p = job->p;
    const int64_t plane = (int64_t)task * p->H * p->W;
    const float *x = job->X + plane;
    int64_t *y = (int64_t *)(void *)job->Y + (int64_t)task * p->OH * p->OW;
    for (int64_t oh = 0; oh < p->OH; oh++)
        for (int64_t ow = 0; ow < p->OW; ow++) {
            int64_t best = -1;
            float bv = 0.0f;
            for (int64_t kh = 0; kh < p->KH; kh++) {
                const int64_t ih = oh * p->stride_h - p->pad_t + kh * p->dil_h;
                if (ih < 0 || ih >= p->H) continue;
                for (int64_t kw = 0; kw < p->KW; kw++) {
                    const int64_t iw = ow * p->stride_w - p->pad_l + kw * p->dil_w;
                    if (iw < 0 || iw >= p->W) continue;
                    const float v = x[ih * p->W + iw];
                    if (best < 0 || v > bv) {
                        bv = v;
                        best = plane + (p->storage_order ? ih + iw * p->H : ih * p->W + iw);
                    }
                }
            }
            y[oh * p->OW + ow] = best;
        }
}

static void tsr_pool_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    const struct tsr_pool_job *job = arg;
    if (job->p->kind == TSR_POOL_MAX_INDEX) {
        tsr_pool_index_task(job, task);
        return;
    }
    const struct tsr_k_pool *p = job->p;
    const float *x = job->X + (int64_t)task * p->H * p->W;
    float *y = job->Y + (int64_t)task * p->OH * p->OW;
    const int is_max = p->kind == TSR_POOL_MAX;
    /* per-column tap counts inside the input (average without padding), one row at a time */
    for (int64_t oh = 0; oh < p->OH; oh++) {
        float *yr = y + oh * p->OW;
        for (int64_t ow = 0; ow < p->OW; ow++)
            yr[ow] = is_max ? -INFINITY : 0.0f;
        int64_t rows_in = 0;
        for (int64_t kh = 0; kh < p->KH; kh++) {
            const int64_t ih = oh * p->stride_h - p->pad_t + kh * p->dil_h;
            if (ih < 0 || ih >= p->H) continue;
            rows_in++;
            const float *xr = x + ih * p->W;
            for (int64_t kw = 0; kw < p->KW; kw++) {
                const int64_t off = kw * p->dil_w - p->pad_l;
                int64_t lo, hi;
                tsr_pool_cols(p->OW, p->W, p->stride_w, off, &lo, &hi);
                if (is_max)
                    for (int64_t ow = lo; ow < hi; ow++) {
                        const float v = xr[ow * p->stride_w + off];
                        yr[ow] = v > yr[ow] ? v : yr[ow];
                    }
                else
                    for (int64_t ow = lo; ow < hi; ow++)
                        yr[ow] += xr[ow * p->stride_w + off];
            }
        }
        if (is_max) continue;
        /* count_include_pad: taps inside the padded input [-pad_t, H + pad_b) x
         * [-pad_l, W + pad_r); else inside the input */
        const int incl = p->count_include_pad;
        const int64_t r_lo = incl ? -p->pad_t : 0, r_hi = incl ? p->H + p->pad_b : p->H;
        const int64_t c_lo = incl ? -p->pad_l : 0, c_hi = incl ? p->W + p->pad_r : p->W;
        if (incl) {
            rows_in = 0;
            for (int64_t kh = 0; kh < p->KH; kh++) {
                const int64_t ih = oh * p->stride_h - p->pad_t + kh * p->dil_h;
                rows_in += ih >= r_lo && ih < r_hi;
            }
        }
        for (int64_t ow = 0; ow < p->OW; ow++) {
            int64_t cols_in = 0;
            for (int64_t kw = 0; kw < p->KW; kw++) {
                const int64_t iw = ow * p->stride_w - p->pad_l + kw * p->dil_w;
                cols_in += iw >= c_lo && iw < c_hi;
            }
            const int64_t cnt = rows_in * cols_in;
            yr[ow] = cnt ? yr[ow] / (float)cnt : 0.0f;
        }
    }
}

void tsr_cpu_pool_run(const struct tsr_cpu_env *env, const struct tsr_k_pool *p, const float *X,
                      float *Y) {
    const int64_t planes = p->N * p->C;
    if (planes == 0 || p->OH == 0 || p->OW == 0) return;
    struct tsr_pool_job job = {.p = p, .X = X, .Y = Y};
    const int64_t work = planes * p->OH * p->OW * p->KH * p->KW;
    if (work > TSR_CPU_EW_PARALLEL_MIN && planes > 1 && env->pool && env->n_threads > 1)
        tsr_cpu_pool_parallel_for(env->pool, (size_t)planes, tsr_pool_task, &job);
    else
        for (int64_t t = 0; t < planes; t++)
            tsr_pool_task(&job, (size_t)t, 0);
}
