/*
 * pool.c — 2-D max / average pooling executor (struct tsr_k_pool, NCHW), parallel over blocks of
 * the N*C planes.
 *
 * For every output row the valid window rows are found once; for every window column tap the
 * range of output columns whose tap lies inside the input is computed once (as the depthwise
 * convolution in conv.c), so the inner loop runs over contiguous output columns with no bounds
 * test. Average: sum / count, count = the number of taps inside the padded input
 * [-pad_t, H + pad_b) x [-pad_l, W + pad_r) with count_include_pad (ONNX AveragePool: a
 * ceil_mode window overhanging the padding is clipped), else the number of taps inside the
 * input. A plane accumulates in the output itself (no scratch).
 *
 * On AVX-512 (env->ew->isa), MAX and AVG with stride_w 1 or 2 take the vector path instead: each
 * plane is copied into a padded plane in the running thread's scratch slice (-inf around it for
 * max, 0 for average; sized at prepare by tsr_cpu_pool_scratch_floats) and
 * tsr_cpu_pool_plane_avx512 (pool_avx512.c) computes 16 output columns per vector with no bounds
 * test, bit-identical to the loop here. MAX_INDEX, other strides and planes too large for the
 * scratch keep the scalar loop.
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
    const struct tsr_cpu_env *env;
    const struct tsr_k_pool *p;
    const float *X;
    float *Y;
    int64_t planes, per_task;      /* parallel runs: planes per task (tsr_pool_block) */
    int vec;                       /* 1: the AVX-512 path (tsr_pool_vec_task) */
    int64_t Hp, Wp, total, cnt_at; /* its padded plane (tsr_pool_vec_plane), counts' offset */
};

/* ---- AVX-512 path (pool_avx512.c) ---- */

/* Largest padded plane (floats) the vector path copies into per-thread scratch. */
#define TSR_POOL_VEC_MAX_FLOATS ((int64_t)1 << 20)

/* The padded plane of the vector path: Hp x Wp with pad_t rows / pad_l columns of padding before
 * the input and as many after as the last window needs; *total: floats including the slack the
 * vector loads read past the last row (tsr_cpu_pool_plane_avx512). */
static void tsr_pool_vec_plane(const struct tsr_k_pool *p, int64_t *Hp, int64_t *Wp,
                               int64_t *total) {
    const int64_t need_h = (p->OH - 1) * p->stride_h + (p->KH - 1) * p->dil_h + 1;
    const int64_t need_w = (p->OW - 1) * p->stride_w + (p->KW - 1) * p->dil_w + 1;
    *Hp = p->pad_t + p->H > need_h ? p->pad_t + p->H : need_h;
    *Wp = p->pad_l + p->W > need_w ? p->pad_l + p->W : need_w;
    const int64_t reach =
        (need_h - 1) * *Wp + 16 * p->stride_w * ((p->OW + 15) / 16) + (p->KW - 1) * p->dil_w;
    *total = reach > *Hp * *Wp ? reach : *Hp * *Wp;
}

static int tsr_pool_vec_ok(const struct tsr_cpu_env *env, const struct tsr_k_pool *p) {
    if (!env || !env->ew || env->ew->isa != TSR_ISA_AVX512) return 0;
    if (p->kind != TSR_POOL_MAX && p->kind != TSR_POOL_AVG) return 0;
    if (p->stride_w != 1 && p->stride_w != 2) return 0;
    if (p->OH <= 0 || p->OW <= 0) return 0;
    int64_t Hp, Wp, total;
    tsr_pool_vec_plane(p, &Hp, &Wp, &total);
    return total <= TSR_POOL_VEC_MAX_FLOATS;
}

/* Scratch floats of one plane: the padded plane, then the average's column and row counts. */
static size_t tsr_pool_vec_floats(const struct tsr_k_pool *p, int64_t *cnt_at) {
    int64_t Hp, Wp, total;
    tsr_pool_vec_plane(p, &Hp, &Wp, &total);
    const int64_t at = (total + 15) & ~(int64_t)15;
    if (cnt_at) *cnt_at = at;
    return (size_t)(at + ((p->OW + 15) & ~(int64_t)15) + p->OH);
}

size_t tsr_cpu_pool_scratch_floats(const struct tsr_cpu_env *env, const struct tsr_k_pool *p) {
    return tsr_pool_vec_ok(env, p) ? tsr_pool_vec_floats(p, NULL) : 0;
}

/* Plane `task` on the vector path in scratch slice `xp` (tsr_pool_vec_floats floats). */
static void tsr_pool_vec_task(const struct tsr_pool_job *job, size_t task, float *xp) {
    const struct tsr_k_pool *p = job->p;
    const float *x = job->X + (int64_t)task * p->H * p->W;
    float *y = job->Y + (int64_t)task * p->OH * p->OW;
    const int is_max = p->kind == TSR_POOL_MAX;
    const int64_t Wp = job->Wp, cnt_at = job->cnt_at;
    tsr_cpu_pool_pad_avx512(x, p->H, p->W, p->pad_t, p->pad_l, Wp, job->total,
                            is_max ? -INFINITY : 0.0f, xp);
    struct tsr_cpu_pool_plane pp = {.Wp = Wp,
                                    .KH = p->KH,
                                    .KW = p->KW,
                                    .sh = p->stride_h,
                                    .sw = p->stride_w,
                                    .dh = p->dil_h,
                                    .dw = p->dil_w,
                                    .OH = p->OH,
                                    .OW = p->OW,
                                    .is_max = is_max};
    if (!is_max) {
        /* counts as the scalar path: taps inside the padded input [-pad_t, H + pad_b) x
         * [-pad_l, W + pad_r) with count_include_pad, else inside the input */
        float *colcnt = xp + cnt_at, *rowcnt = colcnt + ((p->OW + 15) & ~(int64_t)15);
        const int incl = p->count_include_pad;
        const int64_t r_lo = incl ? -p->pad_t : 0, r_hi = incl ? p->H + p->pad_b : p->H;
        const int64_t c_lo = incl ? -p->pad_l : 0, c_hi = incl ? p->W + p->pad_r : p->W;
        for (int64_t oh = 0; oh < p->OH; oh++) {
            int64_t n = 0;
            for (int64_t kh = 0; kh < p->KH; kh++) {
                const int64_t ih = oh * p->stride_h - p->pad_t + kh * p->dil_h;
                n += ih >= r_lo && ih < r_hi;
            }
            rowcnt[oh] = (float)n;
        }
        for (int64_t ow = 0; ow < p->OW; ow++) {
            int64_t n = 0;
            for (int64_t kw = 0; kw < p->KW; kw++) {
                const int64_t iw = ow * p->stride_w - p->pad_l + kw * p->dil_w;
                n += iw >= c_lo && iw < c_hi;
            }
            colcnt[ow] = (float)n;
        }
        pp.rowcnt = rowcnt;
        pp.colcnt = colcnt;
    }
    tsr_cpu_pool_plane_avx512(&pp, xp, y);
}

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

/* 1 when x[0 .. n-1] holds a NaN (one vectorised pass: cheaper than a NaN test per tap). */
static int tsr_pool_plane_has_nan(const float *x, int64_t n) {
    unsigned nan = 0;
    for (int64_t i = 0; i < n; i++)
        nan |= x[i] != x[i];
    return nan != 0;
}

static void tsr_pool_task(void *arg, size_t task, int thread_id) {
    const struct tsr_pool_job *job = arg;
    if (job->p->kind == TSR_POOL_MAX_INDEX) {
        tsr_pool_index_task(job, task);
        return;
    }
    if (job->vec) {
        tsr_pool_vec_task(job, task,
                          job->env->scratch + (size_t)thread_id * job->env->scratch_floats);
        return;
    }
    const struct tsr_k_pool *p = job->p;
    const float *x = job->X + (int64_t)task * p->H * p->W;
    float *y = job->Y + (int64_t)task * p->OH * p->OW;
    const int is_max = p->kind == TSR_POOL_MAX;
    /* max: v > m ? v : m (maxps) keeps a NaN accumulator but drops a NaN tap; a plane holding a
     * NaN takes the NaN-sticky fold instead (np.max: a NaN in the window gives NaN) */
    const int nan_plane = is_max && tsr_pool_plane_has_nan(x, p->H * p->W);
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
                if (nan_plane)
                    for (int64_t ow = lo; ow < hi; ow++) {
                        const float v = xr[ow * p->stride_w + off];
                        yr[ow] = (yr[ow] >= v || yr[ow] != yr[ow]) ? yr[ow] : v;
                    }
                else if (is_max) /* the first maximum */
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

/* Task `task` of a parallel run: planes [task * per_task, + per_task) (clipped). */
static void tsr_pool_block(void *arg, size_t task, int thread_id) {
    const struct tsr_pool_job *job = arg;
    const int64_t t0 = (int64_t)task * job->per_task;
    const int64_t t1 = t0 + job->per_task < job->planes ? t0 + job->per_task : job->planes;
    for (int64_t t = t0; t < t1; t++)
        tsr_pool_task(arg, (size_t)t, thread_id);
}

void tsr_cpu_pool_run(const struct tsr_cpu_env *env, const struct tsr_k_pool *p, const float *X,
                      float *Y) {
    const int64_t planes = p->N * p->C;
    if (planes == 0 || p->OH == 0 || p->OW == 0) return;
    struct tsr_pool_job job = {.env = env, .p = p, .X = X, .Y = Y};
    job.vec = tsr_pool_vec_ok(env, p) && env->scratch &&
              env->scratch_floats >= tsr_pool_vec_floats(p, &job.cnt_at);
    if (job.vec) tsr_pool_vec_plane(p, &job.Hp, &job.Wp, &job.total);
    const int64_t work = planes * p->OH * p->OW * p->KH * p->KW;
    if (work > TSR_CPU_EW_PARALLEL_MIN && planes > 1 && env->pool && env->n_threads > 1) {
        /* blocks of planes, about 8 per thread (a task per small plane costs as much in the
         * pool's hand-out as the plane itself) */
        int64_t per = planes / ((int64_t)env->n_threads * 8);
        if (per < 1) per = 1;
        job.planes = planes;
        job.per_task = per;
        tsr_cpu_pool_parallel_for(env->pool, (size_t)((planes + per - 1) / per), tsr_pool_block,
                                  &job);
    } else {
        for (int64_t t = 0; t < planes; t++)
            tsr_pool_task(&job, (size_t)t, 0);
    }
}
