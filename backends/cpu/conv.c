/*
 * conv.c — 2-D convolution executor (struct tsr_k_conv, NCHW) with fused epilogue (bias,
 * residual, activation).
 *
 * Three paths:
 *  - depthwise (group == C == M): a direct loop per (image, channel) plane, parallel over the
 *    N*C planes on the thread pool (the vector tiers read a zero-padded copy of the plane in
 *    scratch, tsr_dw_pad_plane, where it fits). Each output row is accumulated from the KH x KW
 *    taps with the valid column range of every tap computed once (no per-element bounds test),
 *    then the epilogue runs on the plane while it is in cache.
 *  - 1x1, stride 1, no padding: the NCHW image of a group already is the [C/group, H*W]
 *    right-hand matrix of the GEMM Y_g [M/group, OH*OW] = W_g [M/group, C/group] X_g; no copy.
 *  - everything else: im2col + GEMM. For each image and group the output plane is cut into
 *    panels of P columns (tsr_cpu_conv_panel_cols): the column matrix [(C/group)*KH*KW, P] is
 *    built in scratch (zeros where the window leaves the input), cblas_sgemm writes the panel of
 *    Y (ldc = OH*OW), and the epilogue runs on that panel right after, while it is in cache.
 *    Scratch: (C/group)*KH*KW * P floats, taken from env->scratch (allocated at prepare from the
 *    host pool), so a run allocates nothing. P is sized so that the column panel plus the Y
 *    panel take half of env->panel_cache_bytes (as the GEMM panels of gemm.c).
 * Threading: every (image, group, panel) is one task of the pool: im2col into the running
 * thread's slice of env->scratch, a single-threaded sgemm (OpenBLAS held at 1 thread, see
 * tsr_cpu_blas_single_enter) and the epilogue, so im2col, GEMM and epilogue all run in parallel
 * (before, the panels ran in order on the calling thread, OpenBLAS threading each sgemm call).
 * In-place residual (Y == R): sgemm accumulates onto R with beta = 1 (direct path: R is read
 * before the plane is written, row by row).
 *
 * Register-tile path (AVX2 tier, env->conv_tile; replaces im2col + OpenBLAS there, 1x1
 * stride-1 convs excepted): the output
 * plane is cut into panels of 48 pixels (TSR_GEMMP_NR) and each (image, group, panel, chunk of
 * output channels) is one pool task. For each block of TSR_CPU_CONV_TILE_KB reduction rows, im2col
 * writes that block of the column matrix as one [KB][48] panel in scratch (the packed-B layout of
 * gemm_packed.h, zero columns past the plane), and the GEMM register
 * tile (gemm_avx2.c, 8 x 48 as 4 x 24 sub-tiles, with a row bias: tsr_cpu_conv_tile_avx2) computes
 * W [rows][KB] . col for every 8 output channels, the first block from bias (+ R), the next ones
 * onto Y, reading W in place (row-major [M][C/group*KH*KW], no packing) and applying ReLU / Clip /
 * HardSwish in registers on the last block. OpenBLAS repacked W for every panel; here nothing is
 * packed but the column block, which stays in L1d while all row tiles stream over it.
 */
#include "backends/cpu/conv_direct.h"
#include "backends/cpu/cpu_exec.h"
#include "backends/cpu/gemm_packed.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

#define TSR_CONV_MIN_PANEL_COLS 16

tsr_status tsr_cpu_conv_check(tsr_context *ctx, const char *name, const struct tsr_k_conv *c) {
    if (!c) return TSR_ERR(ctx, TSR_E_INVALID_ARG, "conv kernel '%s': no geometry", name);
    if (c->N < 0 || c->C <= 0 || c->H <= 0 || c->W <= 0 || c->M <= 0 || c->KH <= 0 || c->KW <= 0 ||
        c->OH < 0 || c->OW < 0 || c->stride_h <= 0 || c->stride_w <= 0 || c->dil_h <= 0 ||
        c->dil_w <= 0 || c->pad_t < 0 || c->pad_l < 0 || c->group <= 0)
        return TSR_ERR(
            ctx, TSR_E_INVALID_ARG,
            "conv kernel '%s': bad geometry X [%lld,%lld,%lld,%lld] W [%lld,.,%lld,%lld] "
            "-> [%lld,%lld], strides %lld,%lld dilations %lld,%lld pads %lld,%lld "
            "group %lld",
            name, (long long)c->N, (long long)c->C, (long long)c->H, (long long)c->W,
            (long long)c->M, (long long)c->KH, (long long)c->KW, (long long)c->OH, (long long)c->OW,
            (long long)c->stride_h, (long long)c->stride_w, (long long)c->dil_h,
            (long long)c->dil_w, (long long)c->pad_t, (long long)c->pad_l, (long long)c->group);
    if (c->C % c->group || c->M % c->group)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                       "conv kernel '%s': C %lld and M %lld must be multiples of group %lld", name,
                       (long long)c->C, (long long)c->M, (long long)c->group);
    const int64_t kc = c->C / c->group * c->KH * c->KW;
    if (kc > INT_MAX || c->OH * c->OW > INT_MAX || c->H * c->W > INT_MAX || c->M > INT_MAX)
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED, "conv kernel '%s': sizes exceed the CBLAS int range",
                       name);
    if (!tsr_cpu_act_valid(c->act))
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED, "conv kernel '%s': unknown activation %d", name,
                       (int)c->act);
    return TSR_OK;
}

static int tsr_dw_blocked(const struct tsr_k_conv *c);
static size_t tsr_dw_block_floats(const struct tsr_k_conv *c);
static int tsr_dw_pad_dims(const struct tsr_k_conv *c, int64_t *Hq, int64_t *Wq);

static int tsr_conv_is_depthwise(const struct tsr_k_conv *c) {
    return c->group == c->C && c->group == c->M;
}

static int tsr_conv_is_1x1(const struct tsr_k_conv *c) {
    return c->KH == 1 && c->KW == 1 && c->stride_h == 1 && c->stride_w == 1 && c->pad_t == 0 &&
           c->pad_l == 0 && c->OH == c->H && c->OW == c->W;
}

int64_t tsr_cpu_conv_panel_cols(const struct tsr_k_conv *c, size_t panel_cache_bytes) {
    const int64_t hw = c->OH * c->OW;
    if (hw <= 0) return 1;
    if (panel_cache_bytes == 0) panel_cache_bytes = (size_t)1 << 20;
    const int64_t kc = c->C / (c->group > 0 ? c->group : 1) * c->KH * c->KW;
    const int64_t mg = c->M / (c->group > 0 ? c->group : 1);
    const int64_t col_bytes = (kc + mg) * (int64_t)sizeof(float);
    int64_t p = col_bytes > 0 ? (int64_t)(panel_cache_bytes / 2) / col_bytes : hw;
    p &= ~(int64_t)15;
    if (p < TSR_CONV_MIN_PANEL_COLS) p = TSR_CONV_MIN_PANEL_COLS;
    if (p > hw) p = hw;
    return p;
}

size_t tsr_cpu_conv_scratch_floats(const struct tsr_k_conv *c, size_t panel_cache_bytes) {
    if (tsr_conv_is_depthwise(c)) {
        int64_t Hq, Wq;
        const size_t pad = tsr_dw_pad_dims(c, &Hq, &Wq) ? (size_t)(Hq * Wq) : 0;
        const size_t block = tsr_dw_blocked(c) ? tsr_dw_block_floats(c) : 0;
        return pad > block ? pad : block;
    }
    if (tsr_conv_is_1x1(c)) return 0; /* OpenBLAS on the image in place, on every tier */
    const int64_t kc = c->C / c->group * c->KH * c->KW;
    const size_t im2col = (size_t)(kc * tsr_cpu_conv_panel_cols(c, panel_cache_bytes));
    return im2col > TSR_CPU_CONV_TILE_FLOATS ? im2col : TSR_CPU_CONV_TILE_FLOATS;
}

/* Epilogue on `rows` rows of `len` elements (row stride ld) starting at y: + bias[m], + R (same
 * layout, NULL = none), activation. */
static void tsr_conv_epilogue(const struct tsr_cpu_env *env, const struct tsr_k_conv *c,
                              const float *bias, const float *r, int64_t ld, int64_t rows,
                              size_t len, float *y) {
    for (int64_t m = 0; m < rows; m++) {
        float *yr = y + m * ld;
        if (bias) env->ew->binary_vs[TSR_EW_ADD](len, yr, &bias[m], yr);
        if (r) env->ew->binary[TSR_EW_ADD](len, yr, r + m * ld, yr);
        if (c->act != TSR_ACT_NONE)
            env->ew->bias_act(len, 1.0f, NULL, yr, c->act, c->act_p0, c->act_p1);
    }
}

/* Rows [k0, k1) of the column matrix of output pixels [p0, p0 + np) of the group whose first
 * input channel is x ([cg][H][W]), row stride ld >= np: col[(k - k0) * ld + j] = x[ci][ih][iw]
 * for k = (ci * KH + kh) * KW + kw, 0 where the window leaves the input and for np <= j < ld.
 * The im2col + sgemm path takes all rows at ld = np, the register-tile path blocks of
 * TSR_CPU_CONV_TILE_KB rows at ld = 48 (its packed-B panel). Each
 * output-row segment is split once into its zero edges and the valid run between (a memcpy at
 * column stride 1): no per-element bounds test. */
static void tsr_im2col(const struct tsr_k_conv *c, const float *x, int64_t k0, int64_t k1,
                       int64_t p0, int64_t np, int64_t ld, float *col) {
    const int64_t khw = c->KH * c->KW, sw = c->stride_w;
    for (int64_t k = k0; k < k1; k++) {
        const int64_t ci = k / khw, kh = k % khw / c->KW, kw = k % c->KW;
        const float *xc = x + ci * c->H * c->W;
        float *dst = col + (k - k0) * ld;
        const int64_t off = kw * c->dil_w - c->pad_l;
        /* output columns whose tap lies in [0, W): [ow_lo, ow_hi) */
        const int64_t ow_lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
        int64_t ow_hi = c->W - off > 0 ? (c->W - off + sw - 1) / sw : 0;
        if (ow_hi > c->OW) ow_hi = c->OW;
        int64_t oh = p0 / c->OW, ow = p0 % c->OW;
        for (int64_t j = 0; j < np;) {
            const int64_t seg = c->OW - ow < np - j ? c->OW - ow : np - j;
            const int64_t ih = oh * c->stride_h - c->pad_t + kh * c->dil_h;
            float *d = dst + j;
            if (ih < 0 || ih >= c->H) {
                memset(d, 0, (size_t)seg * sizeof(float));
            } else {
                const float *xr = xc + ih * c->W + off;
                int64_t qlo = ow_lo - ow, qhi = ow_hi - ow;
                qlo = qlo < 0 ? 0 : qlo > seg ? seg : qlo;
                qhi = qhi < qlo ? qlo : qhi > seg ? seg : qhi;
                if (qlo > 0) memset(d, 0, (size_t)qlo * sizeof(float));
                if (sw == 1)
                    memcpy(d + qlo, xr + ow + qlo, (size_t)(qhi - qlo) * sizeof(float));
                else
                    for (int64_t q = qlo; q < qhi; q++)
                        d[q] = xr[(ow + q) * sw];
                if (qhi < seg) memset(d + qhi, 0, (size_t)(seg - qhi) * sizeof(float));
            }
            j += seg;
            ow = 0;
            oh++;
        }
        if (np < ld) memset(dst + np, 0, (size_t)(ld - np) * sizeof(float));
    }
}

/* ---- depthwise ---- */

struct tsr_dw_job {
    const struct tsr_cpu_env *env;
    const struct tsr_k_conv *c;
    const float *X, *Wt, *bias, *R;
    float *Y;
    int64_t per_task; /* planes per pool task */
};

/* Multiply-adds a depthwise task should hold at least (planes are grouped up to this). */
#define TSR_DW_TASK_WORK 16384

/* First / one-past-last output column whose tap at offset `off` (= kw*dil - pad) lies inside
 * [0, W): ow*stride + off in [0, W). */
static void tsr_dw_cols(int64_t OW, int64_t W, int64_t stride, int64_t off, int64_t *lo,
                        int64_t *hi) {
    int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t b = W - off <= 0 ? 0 : (W - off - 1) / stride + 1;
    if (b > OW) b = OW;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* Vector planes (tsr_cpu_dw_plane_avx512 / _avx2, by the tier): column strides 1 and 2. */
static int tsr_dw_vector(const struct tsr_cpu_env *env, const struct tsr_k_conv *c) {
    return env->ew->isa >= TSR_ISA_AVX2 && (c->stride_w == 1 || c->stride_w == 2);
}

/* The vector kernels' arguments for the plane `plane` (= n * C + channel) onward: pointers of
 * that plane, geometry and padded plane of c, the clamp of its activation (scratch, nc: the
 * caller's). */
static void tsr_dw_args_init(const struct tsr_dw_job *job, const struct tsr_k_conv *c,
                             int64_t plane, struct tsr_dw_args *a) {
    const int64_t ch = plane % c->C, ohw = c->OH * c->OW;
    int pad;
    *a = (struct tsr_dw_args){.x = job->X + plane * c->H * c->W,
                              .w = job->Wt + ch * c->KH * c->KW,
                              .bias = job->bias ? job->bias + ch : NULL,
                              .r = job->R ? job->R + plane * ohw : NULL,
                              .y = job->Y + plane * ohw,
                              .H = c->H,
                              .W = c->W,
                              .OH = c->OH,
                              .OW = c->OW,
                              .KH = c->KH,
                              .KW = c->KW,
                              .sh = c->stride_h,
                              .sw = c->stride_w,
                              .dh = c->dil_h,
                              .dw = c->dil_w,
                              .pad_t = c->pad_t,
                              .pad_l = c->pad_l};
    a->clamp = tsr_cpu_act_clamp(c->act, c->act_p0, c->act_p1, &a->lo, &a->hi);
    a->hswish = c->act == TSR_ACT_HARD_SWISH;
    tsr_cpu_conv_padded_plane(c, &a->Hp, &a->Wp, &pad);
}

/* Zero-padded input plane for the vector kernels (at most this many floats, per thread, from
 * env->scratch): with every tap inside the copy, each 16-column chunk is interior (plain loads,
 * no per-chunk masks), where the input plane read in place makes the first and last chunk of
 * every row masked loads. MobileNetV2 batch 8 on AVX-512, five alternating rounds of tessera
 * run (2026-12-07): median 38.6 ms in place against 34.4 ms on the copy; EfficientNet-B0 50.7
 * against 46.5 ms (docs/PERFORMANCE.md, machine D). */
#define TSR_DW_PAD_MAX_FLOATS 65536

/* Rows x columns of the padded copy: every row and column a tap reads, zero outside the
 * input; columns up to the last lane of the last 16-column chunk (stride 2: one more). */
static int tsr_dw_pad_dims(const struct tsr_k_conv *c, int64_t *Hq, int64_t *Wq) {
    const int64_t chunks = (c->OW + 15) / 16;
    *Hq = (c->OH - 1) * c->stride_h + (c->KH - 1) * c->dil_h + 1;
    *Wq = 16 * chunks * c->stride_w + (c->KW - 1) * c->dil_w;
    /* each side bounded first, so the product cannot overflow */
    return *Hq > 0 && *Wq > 0 && *Hq <= TSR_DW_PAD_MAX_FLOATS && *Wq <= TSR_DW_PAD_MAX_FLOATS &&
           *Hq * *Wq <= TSR_DW_PAD_MAX_FLOATS && (c->stride_w == 1 || c->stride_w == 2);
}

/* Writes the Hq x Wq copy of plane x ([H][W]) with pad_t rows / pad_l columns of zeros before
 * it into q; input rows and columns past the copy are not read by any tap. */
static void tsr_dw_pad_plane(const struct tsr_k_conv *c, const float *x, int64_t Hq, int64_t Wq,
                             float *q) {
    int64_t cols = Wq - c->pad_l < c->W ? Wq - c->pad_l : c->W;
    const int64_t lead = c->pad_l < Wq ? c->pad_l : Wq;
    if (cols < 0) cols = 0;
    for (int64_t i = 0; i < Hq; i++) {
        float *row = q + i * Wq;
        const int64_t ih = i - c->pad_t;
        if (ih < 0 || ih >= c->H || cols == 0) {
            memset(row, 0, (size_t)Wq * sizeof(float));
            continue;
        }
        memset(row, 0, (size_t)lead * sizeof(float));
        memcpy(row + lead, x + ih * c->W, (size_t)cols * sizeof(float));
        memset(row + lead + cols, 0, (size_t)(Wq - lead - cols) * sizeof(float));
    }
}

static void tsr_dw_plane_task(const struct tsr_dw_job *job, size_t task, int thread_id) {
    const struct tsr_k_conv *c = job->c;
    const int64_t ch = (int64_t)task % c->C;
    const int64_t plane_out = c->OH * c->OW;
    const float *x = job->X + (int64_t)task * c->H * c->W;
    const float *w = job->Wt + ch * c->KH * c->KW;
    float *y = job->Y + (int64_t)task * plane_out;
    const float *r = job->R ? job->R + (int64_t)task * plane_out : NULL;
    const float b = job->bias ? job->bias[ch] : 0.0f;
    if (tsr_dw_vector(job->env, c)) {
        struct tsr_dw_args a;
        tsr_dw_args_init(job, c, (int64_t)task, &a);
        int64_t Hq, Wq;
        if (job->env->scratch && tsr_dw_pad_dims(c, &Hq, &Wq) &&
            job->env->scratch_floats >= (size_t)(Hq * Wq)) {
            float *q = job->env->scratch + (size_t)thread_id * job->env->scratch_floats;
            if (job->env->ew->isa == TSR_ISA_AVX512)
                tsr_cpu_dw_pad_plane_avx512(x, c->H, c->W, c->pad_t, c->pad_l, Hq, Wq, q);
            else
                tsr_dw_pad_plane(c, x, Hq, Wq, q);
            a.x = q;
            a.H = Hq;
            a.W = Wq;
            a.pad_t = a.pad_l = 0;
        }
        if (job->env->ew->isa == TSR_ISA_AVX512)
            tsr_cpu_dw_plane_avx512(&a);
        else
            tsr_cpu_dw_plane_avx2(&a);
        if (!a.clamp && !a.hswish)
            tsr_cpu_act_apply(job->env, c->act, c->act_p0, c->act_p1, (size_t)plane_out, y);
        return;
    }
    for (int64_t oh = 0; oh < c->OH; oh++) {
        float *yr = y + oh * c->OW;
        /* residual first (in place: Y == R reads R before overwriting it) */
        if (r)
            for (int64_t ow = 0; ow < c->OW; ow++)
                yr[ow] = r[oh * c->OW + ow] + b;
        else
            for (int64_t ow = 0; ow < c->OW; ow++)
                yr[ow] = b;
        for (int64_t kh = 0; kh < c->KH; kh++) {
            const int64_t ih = oh * c->stride_h - c->pad_t + kh * c->dil_h;
            if (ih < 0 || ih >= c->H) continue;
            const float *xr = x + ih * c->W;
            for (int64_t kw = 0; kw < c->KW; kw++) {
                const int64_t off = kw * c->dil_w - c->pad_l;
                const float wv = w[kh * c->KW + kw];
                int64_t lo, hi;
                tsr_dw_cols(c->OW, c->W, c->stride_w, off, &lo, &hi);
                if (c->stride_w == 1) {
                    const float *xs = xr + off;
                    for (int64_t ow = lo; ow < hi; ow++)
                        yr[ow] += wv * xs[ow];
                } else {
                    for (int64_t ow = lo; ow < hi; ow++)
                        yr[ow] += wv * xr[ow * c->stride_w + off];
                }
            }
        }
    }
    tsr_cpu_act_apply(job->env, c->act, c->act_p0, c->act_p1, (size_t)plane_out, y);
}

/* Task `task`: planes [task * per_task, ...) (small planes are grouped: a 7x7 plane is ~100
 * cycles of work, less than a task hand-off). */
static void tsr_dw_task(void *arg, size_t task, int thread_id) {
    const struct tsr_dw_job *job = arg;
    const int64_t planes = job->c->N * job->c->C;
    const int64_t p0 = (int64_t)task * job->per_task;
    const int64_t p1 = p0 + job->per_task < planes ? p0 + job->per_task : planes;
    for (int64_t p = p0; p < p1; p++)
        tsr_dw_plane_task(job, (size_t)p, thread_id);
}

/* Small planes (OW <= 16: a row fills less than one vector) on AVX-512: 16 channels per
 * vector through a gathered [Hp][Wp][16] block (tsr_cpu_dw_block16_avx512). */
#define TSR_DW_BLOCK_MAX_OW 16

static int tsr_dw_blocked(const struct tsr_k_conv *c) {
    return c->OW <= TSR_DW_BLOCK_MAX_OW && c->H * c->W <= 4096;
}

static size_t tsr_dw_block_floats(const struct tsr_k_conv *c) {
    int64_t Hp, Wp;
    int pad;
    tsr_cpu_conv_padded_plane(c, &Hp, &Wp, &pad);
    return (size_t)((Hp * Wp + c->KH * c->KW + c->OH * c->OW) * 16);
}

/* Task: 16 channels (fewer in the last group) of one image. */
static void tsr_dw_block_task(void *arg, size_t task, int thread_id) {
    const struct tsr_dw_job *job = arg;
    const struct tsr_k_conv *c = job->c;
    const int64_t groups = (c->C + 15) / 16;
    const int64_t n = (int64_t)task / groups, c0 = ((int64_t)task % groups) * 16;
    struct tsr_dw_args a;
    tsr_dw_args_init(job, c, n * c->C + c0, &a);
    a.scratch = job->env->scratch + (size_t)thread_id * job->env->scratch_floats;
    a.nc = (int)(c->C - c0 < 16 ? c->C - c0 : 16);
    tsr_cpu_dw_block16_avx512(&a);
    if (!a.clamp && !a.hswish)
        tsr_cpu_act_apply(job->env, c->act, c->act_p0, c->act_p1, (size_t)(a.nc * c->OH * c->OW),
                          a.y);
}

static void tsr_conv_depthwise(const struct tsr_cpu_env *env, const struct tsr_k_conv *c,
                               const float *X, const float *Wt, const float *bias, const float *R,
                               float *Y) {
    struct tsr_dw_job job = {.env = env, .c = c, .X = X, .Wt = Wt, .bias = bias, .R = R, .Y = Y};
    if (env->ew->isa == TSR_ISA_AVX512 && tsr_dw_blocked(c) && env->scratch &&
        env->scratch_floats >= tsr_dw_block_floats(c)) {
        const int64_t n_tasks = c->N * ((c->C + 15) / 16);
        const double work = (double)(c->N * c->C * c->OH * c->OW * c->KH * c->KW);
        if (n_tasks > 1 && env->pool && env->n_threads > 1 && work > TSR_CPU_EW_PARALLEL_MIN)
            tsr_cpu_pool_parallel_for(env->pool, (size_t)n_tasks, tsr_dw_block_task, &job);
        else
            for (int64_t t = 0; t < n_tasks; t++)
                tsr_dw_block_task(&job, (size_t)t, 0);
        return;
    }
    const int64_t planes = c->N * c->C;
    const int64_t work = planes * c->OH * c->OW * c->KH * c->KW;
    const int64_t plane_work = c->OH * c->OW * c->KH * c->KW;
    job.per_task = plane_work >= TSR_DW_TASK_WORK ? 1 : TSR_DW_TASK_WORK / plane_work;
    const int64_t n_tasks = (planes + job.per_task - 1) / job.per_task;
    if (work > TSR_CPU_EW_PARALLEL_MIN && n_tasks > 1 && env->pool && env->n_threads > 1)
        tsr_cpu_pool_parallel_for(env->pool, (size_t)n_tasks, tsr_dw_task, &job);
    else
        for (int64_t t = 0; t < n_tasks; t++)
            tsr_dw_task(&job, (size_t)t, 0);
}

/* ---- GEMM paths ---- */

struct tsr_conv_job {
    const struct tsr_cpu_env *env;
    const struct tsr_k_conv *c;
    const float *X, *Wt, *bias, *R;
    float *Y;
    int direct, in_place;
    int64_t P, n_panels; /* columns per panel, panels per (image, group) */
};

/* One panel of one (image, group): im2col into this thread's scratch slice (direct 1x1: none),
 * single-threaded sgemm into the panel of Y, epilogue while the panel is in cache. */
static void tsr_conv_task(void *arg, size_t task, int thread_id) {
    const struct tsr_conv_job *job = arg;
    const struct tsr_k_conv *c = job->c;
    const struct tsr_cpu_env *env = job->env;
    const int64_t hw_out = c->OH * c->OW, G = c->group, cg = c->C / G, mg = c->M / G;
    const int64_t kc = cg * c->KH * c->KW;
    const int64_t ng = (int64_t)task / job->n_panels, p0 = ((int64_t)task % job->n_panels) * job->P;
    const int64_t n = ng / G, g = ng % G;
    const int64_t np = hw_out - p0 < job->P ? hw_out - p0 : job->P;
    const float *xn = job->X + n * c->C * c->H * c->W;
    const float *wg = job->Wt + g * mg * kc;
    float *yg = job->Y + (n * c->M + g * mg) * hw_out;
    const float *rg = job->R && !job->in_place ? job->R + (n * c->M + g * mg) * hw_out : NULL;
    const float *B;
    int64_t ldb;
    if (job->direct) {
        B = xn + g * cg * c->H * c->W + p0;
        ldb = c->H * c->W;
    } else {
        float *col = env->scratch + (size_t)thread_id * env->scratch_floats;
        tsr_im2col(c, xn + g * cg * c->H * c->W, 0, kc, p0, np, np, col);
        B = col;
        ldb = np;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mg, (int)np, (int)kc, 1.0f, wg,
                (int)kc, B, (int)ldb, job->in_place ? 1.0f : 0.0f, yg + p0, (int)hw_out);
    tsr_conv_epilogue(env, c, job->bias ? job->bias + g * mg : NULL, rg ? rg + p0 : NULL, hw_out,
                      mg, (size_t)np, yg + p0);
}

/* ---- register-tile path (AVX2 tier) ---- */

#define TSR_CONV_TILE_NR TSR_GEMMP_NR /* output pixels per panel */
_Static_assert(TSR_CPU_CONV_TILE_FLOATS == TSR_CPU_CONV_TILE_KB * TSR_CONV_TILE_NR,
               "cpu_exec.h's column block is KB rows of one packed panel");

struct tsr_conv_tile_job {
    const struct tsr_cpu_env *env;
    const struct tsr_k_conv *c;
    const float *X, *Wt, *bias, *R;
    float *Y;
    int64_t n_panels, n_mchunks, mchunk; /* per (image, group); mchunk: rows, multiple of 8 */
    int ep;                              /* tile epilogue (TSR_EP_*) on the last block */
    float lo, hi;
};

/* One (image, group, panel, channel chunk): per column block the register tiles compute
 * W . col, the first from bias (+ R), the next ones accumulating onto Y (the epilogue in
 * registers on the last block). */
static void tsr_conv_tile_task(void *arg, size_t task, int thread_id) {
    const struct tsr_conv_tile_job *job = arg;
    const struct tsr_k_conv *c = job->c;
    const int64_t hw = c->OH * c->OW, G = c->group, cg = c->C / G, mg = c->M / G;
    const int64_t kc = cg * c->KH * c->KW;
    int64_t t = (int64_t)task;
    const int64_t mc = t % job->n_mchunks;
    t /= job->n_mchunks;
    const int64_t p0 = t % job->n_panels * TSR_CONV_TILE_NR, ng = t / job->n_panels;
    const int64_t n = ng / G, g = ng % G;
    const int64_t np = hw - p0 < TSR_CONV_TILE_NR ? hw - p0 : TSR_CONV_TILE_NR;
    const int64_t m0 = mc * job->mchunk, m1 = m0 + job->mchunk < mg ? m0 + job->mchunk : mg;
    const float *xg = job->X + (n * c->C + g * cg) * c->H * c->W;
    const float *wg = job->Wt + g * mg * kc;
    float *yg = job->Y + (n * c->M + g * mg) * hw + p0;
    const float *rg = job->R ? job->R + (n * c->M + g * mg) * hw + p0 : NULL; /* may be yg */
    const float *bg = job->bias ? job->bias + g * mg : NULL;
    float *col = job->env->scratch + (size_t)thread_id * job->env->scratch_floats;
    for (int64_t k0 = 0; k0 < kc; k0 += TSR_CPU_CONV_TILE_KB) {
        const int64_t k1 = kc - k0 < TSR_CPU_CONV_TILE_KB ? kc : k0 + TSR_CPU_CONV_TILE_KB;
        tsr_im2col(c, xg, k0, k1, p0, np, TSR_CONV_TILE_NR, col);
        const int ep = k1 == kc ? job->ep : TSR_EP_NONE;
        for (int64_t i = m0; i < m1; i += TSR_GEMMP_MR) {
            const int rows = m1 - i < TSR_GEMMP_MR ? (int)(m1 - i) : TSR_GEMMP_MR;
            float *yi = yg + i * hw;
            /* the first block starts from bias (+ R), the others accumulate onto Y */
            const float *bi = k0 == 0 && bg ? bg + i : NULL;
            const float *ri = k0 > 0 ? yi : rg ? rg + i * hw : NULL;
            tsr_cpu_conv_tile_avx2(k1 - k0, wg + i * kc + k0, kc, col, bi, ri, hw, yi, hw, rows,
                                   (int)np, ep, job->lo, job->hi);
        }
    }
    if (job->ep == TSR_EP_NONE && c->act != TSR_ACT_NONE)
        for (int64_t m = m0; m < m1; m++)
            tsr_cpu_act_apply(job->env, c->act, c->act_p0, c->act_p1, (size_t)np, yg + m * hw);
}

/* The register-tile path over every (image, group, panel, channel chunk): channels are split
 * into chunks (multiples of 8 rows, at least 32) only when there are fewer than 4 tasks per
 * thread otherwise, as each chunk repeats its panel's im2col. */
static void tsr_conv_tiled(const struct tsr_cpu_env *env, const struct tsr_k_conv *c,
                           const float *X, const float *Wt, const float *bias, const float *R,
                           float *Y) {
    const int64_t hw = c->OH * c->OW, mg = c->M / c->group;
    struct tsr_conv_tile_job job = {
        .env = env, .c = c, .X = X, .Wt = Wt, .bias = bias, .R = R, .Y = Y};
    job.ep = tsr_cpu_act_epilogue(c->act, c->act_p0, c->act_p1, &job.lo, &job.hi);
    job.n_panels = (hw + TSR_CONV_TILE_NR - 1) / TSR_CONV_TILE_NR;
    const int64_t base = c->N * c->group * job.n_panels;
    const int64_t want = 4 * (int64_t)(env->n_threads > 1 ? env->n_threads : 1);
    int64_t chunks = base >= want ? 1 : (want + base - 1) / base;
    const int64_t max_chunks = mg / 32 > 1 ? mg / 32 : 1;
    if (chunks > max_chunks) chunks = max_chunks;
    job.mchunk = ((mg + chunks - 1) / chunks + TSR_GEMMP_MR - 1) / TSR_GEMMP_MR * TSR_GEMMP_MR;
    job.n_mchunks = (mg + job.mchunk - 1) / job.mchunk;
    const int64_t n_tasks = base * job.n_mchunks;
    const double flops =
        2.0 * (double)(c->N * c->M * hw) * (double)(c->C / c->group) * (double)(c->KH * c->KW);
    if (n_tasks > 1 && env->pool && env->n_threads > 1 && flops >= TSR_CPU_GEMM_PARALLEL_FLOPS)
        tsr_cpu_pool_parallel_for(env->pool, (size_t)n_tasks, tsr_conv_tile_task, &job);
    else
        for (int64_t t = 0; t < n_tasks; t++)
            tsr_conv_tile_task(&job, (size_t)t, 0);
}

void tsr_cpu_conv_run(const struct tsr_cpu_env *env, const struct tsr_k_conv *c, const float *X,
                      const float *Wt, const float *bias, const float *R, float *Y) {
    const int64_t hw_out = c->OH * c->OW;
    if (c->N == 0 || hw_out == 0) return;
    if (tsr_conv_is_depthwise(c)) {
        tsr_conv_depthwise(env, c, X, Wt, bias, R, Y);
        return;
    }
    /* 1x1 stride-1 convs that reach here (the direct path's K-blocked pointwise GEMM takes
     * them on AVX2 unless TSR_CPU_POINTWISE=0) stay on OpenBLAS, which reads the NCHW image in
     * place: faster than this tile path (MobileNetV2 at batch 8: 121-159 ms against 166-174 ms) */
    if (env->conv_tile && env->ew->isa == TSR_ISA_AVX2 && !tsr_conv_is_1x1(c) && env->scratch &&
        env->scratch_floats >= TSR_CPU_CONV_TILE_FLOATS) {
        tsr_conv_tiled(env, c, X, Wt, bias, R, Y);
        return;
    }
    struct tsr_conv_job job = {.env = env, .c = c, .X = X, .Wt = Wt, .bias = bias, .R = R, .Y = Y};
    job.direct = tsr_conv_is_1x1(c);
    job.in_place = R != NULL && R == Y;
    job.P = tsr_cpu_conv_panel_cols(c, env->panel_cache_bytes);
    job.n_panels = (hw_out + job.P - 1) / job.P;
    const int64_t n_tasks = c->N * c->group * job.n_panels;
    const double flops =
        2.0 * (double)(c->N * c->M * hw_out) * (double)(c->C / c->group) * (double)(c->KH * c->KW);
    tsr_cpu_blas_single_enter();
    if (n_tasks > 1 && env->pool && env->n_threads > 1 && flops >= TSR_CPU_GEMM_PARALLEL_FLOPS)
        tsr_cpu_pool_parallel_for(env->pool, (size_t)n_tasks, tsr_conv_task, &job);
    else
        for (int64_t t = 0; t < n_tasks; t++)
            tsr_conv_task(&job, (size_t)t, 0);
    tsr_cpu_blas_single_leave();
}
