/*
 * conv_direct.c — direct convolution on pre-packed weights (conv_direct.h): packing at prepare,
 * the per-run padding of the input, the split into pool tasks and the epilogue.
 *
 * Work of one image: for every group and block of 32 output channels, the output rows are cut
 * into chunks (at least ~128 pixels each); one pool task computes one (group, channel block,
 * row chunk): each output row of the chunk is covered by register tiles of up to TSR_CONVD_TW
 * pixels (widths balanced: 56 = 12+11+11+11+11), each tile walks all K taps through the koff
 * table (conv_avx512.c) with the bias preloaded in its accumulators, and its [TW][32] result is
 * written transposed into the NCHW rows of Y, the residual added on the way (read before Y is
 * written: Y may be R). When the chunk is done, the activation runs over its rows of Y while
 * they are in cache. Consecutive tasks share the weight block (tasks are ordered block-major),
 * which stays in L2; the padded input of the image is shared by all tasks.
 */
#include "backends/cpu/conv_direct.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_exec.h"
#include "runtime/internal.h"

#include <stdlib.h>
#include <string.h>

#define TSR_CONVD_MR          32
#define TSR_CONVD_TASK_PIXELS 128
/* Multiply-add FLOPs below which a direct conv runs on the calling thread (about 20 us there). */
#define TSR_CONVD_PARALLEL_FLOPS 2.0e6
/* Padded images of one round at most (floats, 64 MiB): a batch is padded and computed in one
 * pad loop + one compute loop over the pool when it fits, in rounds of images otherwise. */
#define TSR_CONVD_PAD_MAX_FLOATS ((int64_t)16 << 20)
/* Pointwise tiles: 48 pixels (3 vectors) x 8 channels; a task covers 4 tiles of one 32-channel
 * block. Used for K <= TSR_CONVP_MAX_K, where the transposed store of the channel-vectorised
 * tile (about 12 * 32 scalar moves per tile against K * 24 FMAs) would cost more than 10 %. */
#define TSR_CONVP_PX          48
#define TSR_CONVP_TASK_PIXELS (4 * TSR_CONVP_PX)
#define TSR_CONVP_MAX_K       256
/* Non-pointwise convs with K <= this (3x3 stems on RGB: K 27) go through a per-task im2col and
 * the pointwise tiles: their channel-vectorised tile would spend as long on the transposed
 * store (one gather per channel row) as on its K FMAs. */
#define TSR_CONVD_IM2COL_MAX_K 64

static int tsr_wino_applies(int isa, const struct tsr_k_conv *c);

/* 1 when a 1x1 conv takes the AVX2 K-blocked pointwise GEMM (stride 1, no padding);
 * TSR_CPU_POINTWISE=0 leaves it to conv.c's OpenBLAS path, as before. */
static int tsr_convp_blocked_applies(const struct tsr_k_conv *c) {
    const char *env = tsr_getenv("TSR_CPU_POINTWISE");
    if (env && !strcmp(env, "0")) return 0;
    return c->KH == 1 && c->KW == 1 && c->stride_h == 1 && c->stride_w == 1 && c->pad_t == 0 &&
           c->pad_l == 0 && c->OH == c->H && c->OW == c->W;
}

/* 1 when c takes the im2col path (tsr_cpu_convd.im2col). */
static int tsr_convd_im2col_applies(int isa, const struct tsr_k_conv *c) {
    const int64_t K = (c->C / c->group) * c->KH * c->KW;
    const int pointwise_like = c->KH == 1 && c->KW == 1 && c->stride_h == 1 && c->stride_w == 1;
    return c->group == 1 && K <= TSR_CONVD_IM2COL_MAX_K && !pointwise_like &&
           !tsr_wino_applies(isa, c);
}

void tsr_cpu_conv_padded_plane(const struct tsr_k_conv *c, int64_t *Hp, int64_t *Wp, int *pad) {
    const int64_t need_h = (c->OH - 1) * c->stride_h + (c->KH - 1) * c->dil_h + 1;
    const int64_t need_w = (c->OW - 1) * c->stride_w + (c->KW - 1) * c->dil_w + 1;
    *Hp = c->H + c->pad_t > need_h ? c->H + c->pad_t : need_h;
    *Wp = c->W + c->pad_l > need_w ? c->W + c->pad_l : need_w;
    *pad = c->pad_t > 0 || c->pad_l > 0 || need_h > c->H || need_w > c->W;
    if (!*pad) {
        *Hp = c->H;
        *Wp = c->W;
    }
}

static const struct tsr_convd_kernels tsr_convd_avx512 = {
    .name = "avx512",
    .tw_max = TSR_CONVD_TW,
    .tiles = tsr_cpu_convd_tiles_avx512,
    .store = tsr_cpu_convd_store_avx512,
    .pointwise = tsr_cpu_convp_tile_avx512,
    .im2col = tsr_cpu_convd_im2col_avx512,
    .wino_input = tsr_cpu_wino_input_avx512,
    .wino_output = tsr_cpu_wino_output_avx512,
    .wino_input_tiles = tsr_cpu_wino_input_tiles_avx512,
    .wino_output_tiles = tsr_cpu_wino_output_tiles_avx512,
};

static const struct tsr_convd_kernels tsr_convd_avx2 = {
    .name = "avx2",
    .tw_max = TSR_CONVD_TW_AVX2,
    .tiles = tsr_cpu_convd_tiles_avx2,
    .store = tsr_cpu_convd_store_avx2,
    .pointwise = tsr_cpu_convp_tile_avx2,
    .pointwise_blocked = tsr_cpu_convp_blocked_avx2,
    .im2col = tsr_cpu_convd_im2col_avx2,
    .wino_input = tsr_cpu_wino_input_avx2,
    .wino_output = tsr_cpu_wino_output_avx2,
    .wino_input_tiles = tsr_cpu_wino_input_tiles_avx2,
    .wino_output_tiles = tsr_cpu_wino_output_tiles_avx2,
};

const struct tsr_convd_kernels *tsr_cpu_convd_kernels(int isa) {
    return isa == TSR_ISA_AVX512 ? &tsr_convd_avx512 : isa == TSR_ISA_AVX2 ? &tsr_convd_avx2 : NULL;
}

int tsr_cpu_convd_supported(int isa, const struct tsr_k_conv *c) {
    if (!tsr_cpu_convd_kernels(isa) || !c || c->group <= 0 || c->OH <= 0 || c->OW <= 0) return 0;
    if (c->group == c->C && c->group == c->M) return 0; /* depthwise: conv.c's direct loop */
    if (c->stride_w != 1 && c->stride_w != 2) return 0;
    /* AVX2: 1x1 stride-1 unpadded convs take the K-blocked pointwise GEMM (ResNet-50 batch 1
     * 87-111 ms against 100-132 ms on OpenBLAS, MobileNetV2 16.7-21 against 19.3-31 ms, pairs
     * interleaved, TSR_CPU_POINTWISE=0/1, 2026-12-03); other 1x1 convs stay on conv.c (stride 2
     * through the im2col register tile: 2.56 ms against 3.21 ms on the direct tiles for
     * C256 -> M512 28x28, tessera run --profile). */
    if (isa == TSR_ISA_AVX2 && c->KH == 1 && c->KW == 1 && !tsr_convp_blocked_applies(c)) return 0;
    const int64_t mg = c->M / c->group, cg = c->C / c->group;
    if (mg < 8 || cg * c->KH * c->KW < 1) return 0;
    int64_t Hp, Wp;
    int pad;
    tsr_cpu_conv_padded_plane(c, &Hp, &Wp, &pad);
    /* every offset base + koff + j * SW inside one image of the (padded) input fits int32 */
    return (double)c->C * (double)Hp * (double)Wp < 2147483647.0;
}

void tsr_cpu_convd_free(struct tsr_cpu_convd *d) {
    if (!d) return;
    free(d->w);
    free(d->bias);
    free(d->koff);
    free(d);
}

/* ---- Winograd F(2x2, 3x3) ---- */

/* Used for 3x3 stride-1 undilated ungrouped convs with output rows of at least 27 pixels (14
 * tiles: a tile row fills most of the 16-lane vectors the transforms and the GEMM run on) and
 * at least 16 input and output channels: 16 GEMMs of M x C x tiles replace the 9 taps, 2.25x
 * fewer multiply-adds for the transforms' cost (Lavin & Gray, CVPR 2016). Returns 1 (tile rows),
 * 2 (small planes: raster-order tiles through gathers) or 0.
 * Small planes (7x7 to 13x13 outputs: 16-49 tiles) only on the AVX2 tier: there each GEMM has
 * 16-49 columns, so every transformed weight (16 per tap pair, 1.78x the direct conv's) feeds
 * at most 49 multiply-adds, and on AVX-512 the direct tiles were faster (AMD EPYC with AVX-512,
 * 2026-12-07, tessera run --profile, the small-plane 3x3 s1 layers summed: ResNet-18 batch 1
 * 6.0 ms Winograd against 4.2 ms direct, ResNet-50 batch 8 46-62 against 34 ms, SqueezeNet 1.1
 * batch 1 0.74-0.81 against 0.41-0.46 ms), while on the AVX2 tier its direct tiles lose (7x7
 * planes 2.5-2.9 ms Winograd against 5.4 ms direct, docs/PERFORMANCE.md machine C).
 * TSR_CPU_WINOGRAD=0: off; =small: small planes on every tier; =large: tile rows only. */
static int tsr_wino_applies(int isa, const struct tsr_k_conv *c) {
    const char *env = tsr_getenv("TSR_CPU_WINOGRAD");
    if (env && !strcmp(env, "0")) return 0;
    if (!(c->KH == 3 && c->KW == 3 && c->stride_h == 1 && c->stride_w == 1 && c->dil_h == 1 &&
          c->dil_w == 1 && c->group == 1 && c->C >= 16 && c->M >= 16))
        return 0;
    if (c->OW >= 27) return 1;
    const int small = env && !strcmp(env, "small")   ? 1
                      : env && !strcmp(env, "large") ? 0
                                                     : isa == TSR_ISA_AVX2;
    if (!small) return 0;
    /* small planes: at least 16 tiles (a 7x7 output), in raster order through gathers */
    return ((c->OH + 1) / 2) * ((c->OW + 1) / 2) >= 16 ? 2 : 0;
}

/* Mode 2: tiles per task (<= 64, a multiple of 16) and M splits, so that a batch-1 image still
 * gives the pool about 4 tasks. */
static void tsr_wino_tile_geometry(const struct tsr_k_conv *c, int64_t *chunk, int64_t *mgroups) {
    const int64_t T = ((c->OH + 1) / 2) * ((c->OW + 1) / 2);
    const int64_t tp = (T + 15) / 16 * 16;
    *chunk = tp < 64 ? tp : 64;
    const int64_t n_chunks = (tp + *chunk - 1) / *chunk;
    const int64_t nmb = (c->M + TSR_CONVD_MR - 1) / TSR_CONVD_MR;
    int64_t g = (4 + n_chunks - 1) / n_chunks;
    if (g > nmb) g = nmb;
    *mgroups = g < 1 ? 1 : g;
}

/* Tiles per row (a multiple of 16) and tile rows per task: the task's transform buffers
 * (16 (C + Mpad) x tiles floats) stay within about 512 KiB, half of a 1 MiB L2, at up to 64
 * tiles. */
static void tsr_wino_geometry(const struct tsr_k_conv *c, int64_t *twp, int64_t *rows) {
    const int64_t tw = (c->OW + 1) / 2, th = (c->OH + 1) / 2;
    *twp = (tw + 15) / 16 * 16;
    const int64_t mpad = (c->M + TSR_CONVD_MR - 1) / TSR_CONVD_MR * TSR_CONVD_MR;
    int64_t r = 64 / *twp;
    const int64_t by_cache = ((int64_t)128 << 10) / (16 * (c->C + mpad) * *twp);
    if (by_cache < r) r = by_cache;
    if (r < 1) r = 1;
    if (r > th) r = th;
    *rows = r;
}

size_t tsr_cpu_convd_scratch_floats(int isa, const struct tsr_k_conv *c) {
    if (tsr_convp_blocked_applies(c)) return TSR_CPU_CONV_TILE_FLOATS;
    if (tsr_convd_im2col_applies(isa, c))
        return (size_t)((c->C / c->group) * c->KH * c->KW * TSR_CONVP_TASK_PIXELS);
    const int mode = tsr_wino_applies(isa, c);
    if (!mode) return 0;
    const int64_t mpad = (c->M + TSR_CONVD_MR - 1) / TSR_CONVD_MR * TSR_CONVD_MR;
    int64_t a, b;
    if (mode == 2) {
        tsr_wino_tile_geometry(c, &a, &b);
        return (size_t)(16 * (c->C + mpad) * a);
    }
    tsr_wino_geometry(c, &a, &b);
    return (size_t)(16 * (c->C + mpad) * a * b);
}

/* U = G g G^T for one 3x3 kernel g (row-major), G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]. */
static void tsr_wino_kernel(const float *g, float u[16]) {
    float t[4][3]; /* G g */
    for (int j = 0; j < 3; j++) {
        t[0][j] = g[j];
        t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        t[3][j] = g[6 + j];
    }
    for (int i = 0; i < 4; i++) {
        u[i * 4 + 0] = t[i][0];
        u[i * 4 + 1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
        u[i * 4 + 2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
        u[i * 4 + 3] = t[i][2];
    }
}

int tsr_cpu_convd_prepare(int isa, const struct tsr_k_conv *c, const float *Wt, const float *bias,
                          struct tsr_cpu_convd **out) {
    *out = NULL;
    if (!tsr_cpu_convd_kernels(isa)) return -1;
    struct tsr_cpu_convd *d = calloc(1, sizeof *d);
    if (!d) return -1;
    d->c = *c;
    d->k = tsr_cpu_convd_kernels(isa);
    d->mg = c->M / c->group;
    d->cg = c->C / c->group;
    d->K = d->cg * c->KH * c->KW;
    d->n_mblocks = (d->mg + TSR_CONVD_MR - 1) / TSR_CONVD_MR;
    tsr_cpu_conv_padded_plane(c, &d->Hp, &d->Wp, &d->pad);
    /* images padded (and computed) per round: all of them up to TSR_CONVD_PAD_MAX_FLOATS */
    const int64_t img = c->C * d->Hp * d->Wp;
    d->imgs_per_round =
        img > 0 && TSR_CONVD_PAD_MAX_FLOATS / img > 1 ? TSR_CONVD_PAD_MAX_FLOATS / img : 1;
    if (d->imgs_per_round > c->N) d->imgs_per_round = c->N > 0 ? c->N : 1;
    d->pad_floats = d->pad ? (size_t)(d->imgs_per_round * img) : 0;
    d->winograd = tsr_wino_applies(isa, c);
    if (d->winograd) {
        /* the transforms read 2 twp + 2 columns and 2 ceil(OH/2) + 2 rows of padded input */
        tsr_wino_geometry(c, &d->wino_twp, &d->wino_rows);
        if (d->winograd == 2) tsr_wino_tile_geometry(c, &d->wino_chunk, &d->wino_mgroups);
        const int64_t hp = 2 * ((c->OH + 1) / 2) + 2;
        const int64_t wp = d->winograd == 2 ? 2 * ((c->OW + 1) / 2) + 2 : 2 * d->wino_twp + 2;
        d->Hp = hp > c->H + c->pad_t ? hp : c->H + c->pad_t;
        d->Wp = wp > c->W + c->pad_l ? wp : c->W + c->pad_l;
        d->pad = 1;
        const int64_t wimg = c->C * d->Hp * d->Wp;
        d->imgs_per_round =
            TSR_CONVD_PAD_MAX_FLOATS / wimg > 1 ? TSR_CONVD_PAD_MAX_FLOATS / wimg : 1;
        if (d->imgs_per_round > c->N) d->imgs_per_round = c->N > 0 ? c->N : 1;
        d->pad_floats = (size_t)(d->imgs_per_round * wimg);
    }
    d->pointwise = !d->pad && c->KH == 1 && c->KW == 1 && c->stride_h == 1 && c->stride_w == 1 &&
                   (d->K <= TSR_CONVP_MAX_K || d->k->pointwise_blocked);
    d->im2col = !d->pointwise && tsr_convd_im2col_applies(isa, c);
    const size_t blocks = (size_t)(c->group * d->n_mblocks);
    /* Winograd: 16 sets of [n_mblocks][C][32] blocks, of U[xi] over (m, c) */
    const size_t wfloats = d->winograd ? 16 * blocks * (size_t)d->cg * TSR_CONVD_MR
                                       : blocks * (size_t)d->K * TSR_CONVD_MR;
    void *w = NULL, *b = NULL;
    if (posix_memalign(&w, 64, wfloats * sizeof(float)) ||
        posix_memalign(&b, 64, blocks * TSR_CONVD_MR * sizeof(float)))
        w = (free(w), NULL);
    d->w = w;
    d->bias = b;
    d->koff = malloc((size_t)d->K * sizeof *d->koff);
    if (!d->w || !d->bias || !d->koff) {
        tsr_cpu_convd_free(d);
        return -1;
    }
    const int pw8 = d->pointwise && d->k->pointwise_blocked;
    for (int64_t g = 0; g < c->group; g++)
        for (int64_t mb = 0; mb < d->n_mblocks; mb++) {
            float *blk = d->w + (size_t)(g * d->n_mblocks + mb) * (size_t)d->K * TSR_CONVD_MR;
            float *bb = d->bias + (size_t)(g * d->n_mblocks + mb) * TSR_CONVD_MR;
            for (int64_t o = 0; o < TSR_CONVD_MR; o++) {
                const int64_t m = mb * TSR_CONVD_MR + o;
                const int valid = m < d->mg;
                const float *wr = Wt + (g * d->mg + m) * d->K;
                /* [K][32], or [4][K][8] for the K-blocked pointwise GEMM */
                float *bo = pw8 ? blk + (o / 8) * d->K * 8 + o % 8 : blk + o;
                const int64_t ks = pw8 ? 8 : TSR_CONVD_MR;
                for (int64_t k = 0; k < d->K; k++)
                    bo[k * ks] = valid ? wr[k] : 0.0f;
                bb[o] = valid && bias ? bias[g * d->mg + m] : 0.0f;
            }
        }
    if (d->winograd) {
        memset(d->w, 0, wfloats * sizeof(float));
        for (int64_t m = 0; m < d->mg; m++)
            for (int64_t ci = 0; ci < d->cg; ci++) {
                float u[16];
                tsr_wino_kernel(Wt + (m * d->cg + ci) * 9, u);
                const int64_t mb = m / TSR_CONVD_MR, o = m % TSR_CONVD_MR;
                for (int xi = 0; xi < 16; xi++)
                    d->w[(((size_t)xi * (size_t)d->n_mblocks + (size_t)mb) * (size_t)d->cg +
                          (size_t)ci) *
                             TSR_CONVD_MR +
                         (size_t)o] = u[xi];
            }
    }
    for (int64_t ci = 0, k = 0; ci < d->cg; ci++)
        for (int64_t kh = 0; kh < c->KH; kh++)
            for (int64_t kw = 0; kw < c->KW; kw++, k++)
                d->koff[k] = (int32_t)(ci * d->Hp * d->Wp + kh * c->dil_h * d->Wp + kw * c->dil_w);
    *out = d;
    return 0;
}

/* ---- per run ---- */

struct tsr_convd_job {
    const struct tsr_cpu_env *env;
    const struct tsr_cpu_convd *d;
    const tsr_convd_tile_fn *t32, *t16;
    const float *x;    /* this image's input as read: [C, Hp, Wp] */
    const float *xs;   /* pad task: the unpadded image [C, H, W] */
    float *xp;         /* pad task: the padded copy */
    const float *r;    /* the round's first image's residual or NULL */
    float *y;          /* the round's first image's output */
    int64_t x_image;   /* floats per image of x */
    int64_t per_image; /* tasks per image */
    int64_t rows_per_task, n_chunks;
    int64_t n_mchunks, mchunk; /* K-blocked pointwise: channel chunks (multiples of 32 rows) */
    int ep;                    /* direct tiles: the store's epilogue (TSR_EP_*) for c->act */
    float lo, hi;
};

/* Zero-padded copy of channel `task`: rows [0, pad_t) and [pad_t + H, Hp) zero, each input row
 * at column pad_l with zeros around it. */
static void tsr_convd_pad_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    const struct tsr_convd_job *job = arg;
    const struct tsr_cpu_convd *d = job->d;
    const struct tsr_k_conv *c = &d->c;
    const float *src = job->xs + (int64_t)task * c->H * c->W;
    float *dst = job->xp + (int64_t)task * d->Hp * d->Wp;
    memset(dst, 0, (size_t)(c->pad_t * d->Wp) * sizeof(float));
    for (int64_t h = 0; h < c->H; h++) {
        float *row = dst + (c->pad_t + h) * d->Wp;
        memset(row, 0, (size_t)c->pad_l * sizeof(float));
        memcpy(row + c->pad_l, src + h * c->W, (size_t)c->W * sizeof(float));
        memset(row + c->pad_l + c->W, 0, (size_t)(d->Wp - c->pad_l - c->W) * sizeof(float));
    }
    const int64_t tail = d->Hp - c->pad_t - c->H;
    if (tail > 0)
        memset(dst + (c->pad_t + c->H) * d->Wp, 0, (size_t)(tail * d->Wp) * sizeof(float));
}

static void tsr_convd_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    const struct tsr_convd_job *job = arg;
    const struct tsr_cpu_convd *d = job->d;
    const struct tsr_k_conv *c = &d->c;
    const int64_t n = (int64_t)task / job->per_image;
    task %= (size_t)job->per_image;
    const float *xn = job->x + n * job->x_image;
    const float *rn = job->r ? job->r + n * c->M * c->OH * c->OW : NULL;
    float *yn = job->y + n * c->M * c->OH * c->OW;
    const int64_t chunk = (int64_t)task % job->n_chunks;
    const int64_t blk = (int64_t)task / job->n_chunks; /* g * n_mblocks + mb */
    const int64_t g = blk / d->n_mblocks, mb = blk % d->n_mblocks;
    const int64_t m0 = g * d->mg + mb * TSR_CONVD_MR; /* first output channel */
    const int64_t mvalid =
        d->mg - mb * TSR_CONVD_MR < TSR_CONVD_MR ? d->mg - mb * TSR_CONVD_MR : TSR_CONVD_MR;
    const int use16 = mvalid <= 16 || !job->t32; /* the AVX2 tier: two 16-channel halves */
    const float *a = d->w + (size_t)blk * (size_t)d->K * TSR_CONVD_MR;
    const float *bias = d->bias + (size_t)blk * TSR_CONVD_MR;
    const int64_t hw = c->OH * c->OW;
    const int64_t oh0 = chunk * job->rows_per_task;
    const int64_t oh1 = oh0 + job->rows_per_task < c->OH ? oh0 + job->rows_per_task : c->OH;
    const float *xg = xn + g * d->cg * d->Hp * d->Wp;
    const int64_t n_tiles = (c->OW + d->k->tw_max - 1) / d->k->tw_max;
    const int64_t base_w = c->OW / n_tiles, extra = c->OW % n_tiles;
    _Alignas(64) float out[TSR_CONVD_TW * TSR_CONVD_MR];
    const int mr = use16 ? 16 : TSR_CONVD_MR;
    for (int64_t oh = oh0; oh < oh1; oh++) {
        const float *xrow = xg + oh * c->stride_h * d->Wp;
        int64_t ow0 = 0;
        for (int64_t t = 0; t < n_tiles; t++) {
            const int64_t tw = base_w + (t < extra);
            const float *base = xrow + ow0 * c->stride_w;
            /* transposed store: out[j][o] -> Y[m0 + o][oh][ow0 + j], + residual, epilogue */
            const int64_t off = oh * c->OW + ow0;
            if (!use16) {
                job->t32[tw](d->K, a, base, d->koff, bias, out);
                d->k->store(out, mr, (int)tw, (int)mvalid, yn + m0 * hw + off,
                            rn ? rn + m0 * hw + off : NULL, hw, job->ep, job->lo, job->hi);
            } else
                for (int64_t h = 0; h < mvalid; h += 16) {
                    const int64_t mh = mvalid - h < 16 ? mvalid - h : 16;
                    job->t16[tw](d->K, a + h, base, d->koff, bias + h, out);
                    d->k->store(out, mr, (int)tw, (int)mh, yn + (m0 + h) * hw + off,
                                rn ? rn + (m0 + h) * hw + off : NULL, hw, job->ep, job->lo,
                                job->hi);
                }
            ow0 += tw;
        }
    }
    if (c->act != TSR_ACT_NONE && job->ep == TSR_EP_NONE)
        for (int64_t o = 0; o < mvalid; o++)
            tsr_cpu_act_apply(job->env, c->act, c->act_p0, c->act_p1, (size_t)((oh1 - oh0) * c->OW),
                              yn + (m0 + o) * hw + oh0 * c->OW);
}

/* Prefetches the next 48-pixel tile of each of the K input rows (x: its first pixel of row 0,
 * ldx floats between rows): read in place, a pointwise conv walks K streams at once (K 32:
 * 32 rows 50 KB apart for a 112x112 plane), more than the hardware prefetcher follows, and its
 * tiles stalled on memory at batch 8. Addresses past the image are only prefetched, never
 * read. */
static void tsr_convp_prefetch(const float *x, int64_t ldx, int64_t K) {
    for (int64_t k = 0; k < K; k++) {
        const float *q = x + k * ldx;
        __builtin_prefetch(q);
        __builtin_prefetch(q + 16);
        __builtin_prefetch(q + 32);
    }
}

/* Pointwise task: one 32-channel block x TSR_CONVP_TASK_PIXELS pixels of the image, read in
 * place (1x1 stride 1); or, for the im2col path (d->im2col: group 1, short K), every block of
 * those pixels from their K x pixels columns, gathered once into this thread's scratch (a
 * task per block repeated the gather: SqueezeNet's 64-channel stem twice). */
static void tsr_convp_task(void *arg, size_t task, int thread_id) {
    const struct tsr_convd_job *job = arg;
    const struct tsr_cpu_convd *d = job->d;
    const struct tsr_k_conv *c = &d->c;
    const int64_t hw = c->OH * c->OW;
    const int64_t n = (int64_t)task / job->per_image;
    task %= (size_t)job->per_image;
    const float *rn = job->r ? job->r + n * c->M * hw : NULL;
    float *yn = job->y + n * c->M * hw;
    const int64_t chunk = (int64_t)task % job->n_chunks;
    /* im2col (group 1): every 32-channel block of the chunk reuses its columns */
    const int64_t blk0 = d->im2col ? 0 : (int64_t)task / job->n_chunks;
    const int64_t blk1 = d->im2col ? d->n_mblocks : blk0 + 1;
    const int64_t p0 = chunk * TSR_CONVP_TASK_PIXELS;
    const int64_t np = p0 + TSR_CONVP_TASK_PIXELS < hw ? TSR_CONVP_TASK_PIXELS : hw - p0;
    const int64_t g = blk0 / d->n_mblocks;
    /* x: the task's first pixel of channel 0, ldx floats between channels (or taps) */
    const float *x = job->x + n * job->x_image + g * d->cg * hw + p0;
    int64_t ldx = hw;
    if (d->im2col) {
        float *col = job->env->scratch + (size_t)thread_id * job->env->scratch_floats;
        d->k->im2col(job->x + n * job->x_image, d->koff, d->K, d->Wp, c->stride_h, c->stride_w,
                     c->OW, p0, np, col);
        x = col;
        ldx = np;
    }
    float lo, hi;
    const int clamp = tsr_cpu_act_epilogue(c->act, c->act_p0, c->act_p1, &lo, &hi);
    for (int64_t blk = blk0; blk < blk1; blk++) {
        const int64_t mb = blk % d->n_mblocks;
        const int64_t m0 = g * d->mg + mb * TSR_CONVD_MR;
        const int64_t mvalid =
            d->mg - mb * TSR_CONVD_MR < TSR_CONVD_MR ? d->mg - mb * TSR_CONVD_MR : TSR_CONVD_MR;
        const float *a = d->w + (size_t)blk * (size_t)d->K * TSR_CONVD_MR;
        const float *bias = d->bias + (size_t)blk * TSR_CONVD_MR;
        for (int64_t j = 0; j < np; j += TSR_CONVP_PX) {
            const int npx = (int)(np - j < TSR_CONVP_PX ? np - j : TSR_CONVP_PX);
            if (!d->im2col) tsr_convp_prefetch(x + j + TSR_CONVP_PX, ldx, d->K);
            for (int64_t s = 0; s < mvalid; s += 8) {
                const int rows = (int)(mvalid - s < 8 ? mvalid - s : 8);
                const int64_t yoff = (m0 + s) * hw + p0 + j;
                d->k->pointwise(d->K, a + s, x + j, ldx, bias + s, rn ? rn + yoff : NULL, yn + yoff,
                                hw, rows, npx, clamp, lo, hi);
            }
        }
        if (c->act != TSR_ACT_NONE && !clamp)
            for (int64_t o = 0; o < mvalid; o++)
                tsr_cpu_act_apply(job->env, c->act, c->act_p0, c->act_p1, (size_t)np,
                                  yn + (m0 + o) * hw + p0);
    }
}

/* K-blocked pointwise task (d->k->pointwise_blocked): one (image, group, chunk of
 * TSR_CONVP_TASK_PIXELS pixels, chunk of output channels); x is read from the image and packed
 * by the kernel per 48-pixel panel and tap block, so every channel of the chunk reuses it. */
static void tsr_convp_blocked_task(void *arg, size_t task, int thread_id) {
    const struct tsr_convd_job *job = arg;
    const struct tsr_cpu_convd *d = job->d;
    const struct tsr_k_conv *c = &d->c;
    const int64_t hw = c->OH * c->OW;
    int64_t t = (int64_t)task % job->per_image;
    const int64_t n = (int64_t)task / job->per_image;
    const int64_t mc = t % job->n_mchunks;
    t /= job->n_mchunks;
    const int64_t chunk = t % job->n_chunks, g = t / job->n_chunks;
    const int64_t m0 = mc * job->mchunk, m1 = m0 + job->mchunk < d->mg ? m0 + job->mchunk : d->mg;
    const int64_t p0 = chunk * TSR_CONVP_TASK_PIXELS;
    const int64_t np = hw - p0 < TSR_CONVP_TASK_PIXELS ? hw - p0 : TSR_CONVP_TASK_PIXELS;
    const size_t blk = (size_t)(g * d->n_mblocks + m0 / TSR_CONVD_MR);
    const float *a = d->w + blk * (size_t)d->K * TSR_CONVD_MR;
    const float *bias = d->bias + blk * TSR_CONVD_MR;
    const float *x = job->x + n * job->x_image + g * d->cg * hw + p0;
    const int64_t yoff = n * c->M * hw + (g * d->mg + m0) * hw + p0;
    float *col = job->env->scratch + (size_t)thread_id * job->env->scratch_floats;
    float lo, hi;
    const int clamp = tsr_cpu_act_epilogue(c->act, c->act_p0, c->act_p1, &lo, &hi);
    d->k->pointwise_blocked(d->K, a, x, hw, np, bias, job->r ? job->r + yoff : NULL, job->y + yoff,
                            hw, m1 - m0, col, clamp, lo, hi);
    if (c->act != TSR_ACT_NONE && !clamp)
        for (int64_t m = m0; m < m1; m++)
            tsr_cpu_act_apply(job->env, c->act, c->act_p0, c->act_p1, (size_t)np,
                              job->y + yoff + (m - m0) * hw);
}

/* The 16 Winograd GEMMs of one task: Mb[xi][m][t] = sum_c U[xi][m][c] V[xi][c][t] for the
 * 32-channel blocks [mb0, mb1) and t < tbp, on the pointwise GEMM tile (8 channels x 48 tiles).
 * V: [16][C][tbp]; Mb: [16][n_mblocks * 32][tbp]. */
static void tsr_wino_gemms(const struct tsr_cpu_convd *d, const float *V, float *Mb, int64_t tbp,
                           int64_t mb0, int64_t mb1) {
    static const float zeros[TSR_CONVD_MR];
    const int64_t C = d->c.C, mpad = d->n_mblocks * TSR_CONVD_MR;
    for (int xi = 0; xi < 16; xi++)
        for (int64_t mb = mb0; mb < mb1; mb++) {
            const float *a = d->w + ((size_t)xi * (size_t)d->n_mblocks + (size_t)mb) *
                                        (size_t)d->cg * TSR_CONVD_MR;
            const int64_t mvalid =
                d->mg - mb * TSR_CONVD_MR < TSR_CONVD_MR ? d->mg - mb * TSR_CONVD_MR : TSR_CONVD_MR;
            for (int64_t s = 0; s < mvalid; s += 8) {
                const int r8 = (int)(mvalid - s < 8 ? mvalid - s : 8);
                float *y = Mb + ((int64_t)xi * mpad + mb * TSR_CONVD_MR + s) * tbp;
                for (int64_t p = 0; p < tbp; p += TSR_CONVP_PX) {
                    const int npx = (int)(tbp - p < TSR_CONVP_PX ? tbp - p : TSR_CONVP_PX);
                    d->k->pointwise(C, a + s, V + (int64_t)xi * C * tbp + p, tbp, zeros, NULL,
                                    y + p, tbp, r8, npx, 0, 0.0f, 0.0f);
                }
            }
        }
}

/* Winograd task: `wino_rows` tile rows of one image: input transform into V, the 16 GEMMs
 * M[xi] = U[xi] . V[xi] (the pointwise GEMM tile, 8 channels x 48 tiles), output transform with
 * bias, residual and ReLU / Clip, then any other activation over the task's output rows. */
static void tsr_wino_task(void *arg, size_t task, int thread_id) {
    const struct tsr_convd_job *job = arg;
    const struct tsr_cpu_convd *d = job->d;
    const struct tsr_k_conv *c = &d->c;
    const int64_t n = (int64_t)task / job->per_image, blk = (int64_t)task % job->per_image;
    const int64_t th0 = blk * d->wino_rows, th = (c->OH + 1) / 2;
    const int64_t rows = th - th0 < d->wino_rows ? th - th0 : d->wino_rows;
    const int64_t twp = d->wino_twp, tbp = rows * twp;
    const int64_t mpad = d->n_mblocks * TSR_CONVD_MR;
    float *V = job->env->scratch + (size_t)thread_id * job->env->scratch_floats;
    float *Mb = V + 16 * c->C * tbp;
    const float *xn = job->x + n * job->x_image;
    d->k->wino_input(xn, d->Hp * d->Wp, d->Wp, c->C, th0, rows, twp, V, tbp);
    tsr_wino_gemms(d, V, Mb, tbp, 0, d->n_mblocks);
    float lo, hi;
    const int clamp = tsr_cpu_act_clamp(c->act, c->act_p0, c->act_p1, &lo, &hi);
    const int64_t hw = c->OH * c->OW;
    float *yn = job->y + n * c->M * hw;
    const float *rn = job->r ? job->r + n * c->M * hw : NULL;
    d->k->wino_output(Mb, mpad * tbp, c->M, tbp, th0, rows, twp, d->bias, rn, yn, c->OH, c->OW,
                      clamp, lo, hi);
    if (c->act != TSR_ACT_NONE && !clamp) {
        const int64_t oh0 = 2 * th0, oh1 = 2 * (th0 + rows) < c->OH ? 2 * (th0 + rows) : c->OH;
        for (int64_t m = 0; m < c->M; m++)
            tsr_cpu_act_apply(job->env, c->act, c->act_p0, c->act_p1, (size_t)((oh1 - oh0) * c->OW),
                              yn + m * hw + oh0 * c->OW);
    }
}

/* Winograd mode 2 task: one chunk of raster-order tiles x one group of 32-channel blocks. */
static void tsr_wino_tiles_task(void *arg, size_t task, int thread_id) {
    const struct tsr_convd_job *job = arg;
    const struct tsr_cpu_convd *d = job->d;
    const struct tsr_k_conv *c = &d->c;
    const int64_t n = (int64_t)task / job->per_image, rest = (int64_t)task % job->per_image;
    const int64_t chunk = rest / d->wino_mgroups, mgrp = rest % d->wino_mgroups;
    const int64_t tw = (c->OW + 1) / 2, n_tiles = ((c->OH + 1) / 2) * tw;
    const int64_t t0 = chunk * d->wino_chunk;
    const int64_t left = (n_tiles - t0 + 15) / 16 * 16;
    const int64_t tbp = left < d->wino_chunk ? left : d->wino_chunk;
    const int64_t mpad = d->n_mblocks * TSR_CONVD_MR;
    const int64_t per = (d->n_mblocks + d->wino_mgroups - 1) / d->wino_mgroups;
    const int64_t mb0 = mgrp * per, mb1 = mb0 + per < d->n_mblocks ? mb0 + per : d->n_mblocks;
    if (mb0 >= mb1) return;
    float *V = job->env->scratch + (size_t)thread_id * job->env->scratch_floats;
    float *Mb = V + 16 * c->C * tbp;
    d->k->wino_input_tiles(job->x + n * job->x_image, d->Hp * d->Wp, d->Wp, c->C, t0, n_tiles, tw,
                           V, tbp);
    tsr_wino_gemms(d, V, Mb, tbp, mb0, mb1);
    float lo, hi;
    const int clamp = tsr_cpu_act_clamp(c->act, c->act_p0, c->act_p1, &lo, &hi);
    const int64_t hw = c->OH * c->OW;
    const int64_t m0 = mb0 * TSR_CONVD_MR,
                  m1 = mb1 * TSR_CONVD_MR < c->M ? mb1 * TSR_CONVD_MR : c->M;
    float *yn = job->y + n * c->M * hw;
    const float *rn = job->r ? job->r + n * c->M * hw : NULL;
    d->k->wino_output_tiles(Mb, mpad * tbp, m0, m1 - m0, tbp, t0, n_tiles, tw, d->bias, rn, yn,
                            c->OH, c->OW, clamp, lo, hi);
    if (c->act != TSR_ACT_NONE && !clamp) /* whole planes: the chunk's pixels are scattered */
        for (int64_t t = t0; t < t0 + tbp && t < n_tiles; t++) {
            const int64_t oh = 2 * (t / tw), ow = 2 * (t % tw);
            const size_t w2 = ow + 1 < c->OW ? 2 : 1;
            for (int64_t m = m0; m < m1; m++)
                for (int64_t i = 0; i < 2 && oh + i < c->OH; i++)
                    tsr_cpu_act_apply(job->env, c->act, c->act_p0, c->act_p1, w2,
                                      yn + m * hw + (oh + i) * c->OW + ow);
        }
}

void tsr_cpu_convd_run(const struct tsr_cpu_env *env, const struct tsr_cpu_convd *d, const float *X,
                       const float *R, float *pad_buf, float *Y) {
    const struct tsr_k_conv *c = &d->c;
    struct tsr_convd_job job = {.env = env, .d = d};
    job.t32 = d->k->tiles(32, (int)c->stride_w);
    job.t16 = d->k->tiles(16, (int)c->stride_w);
    job.ep = tsr_cpu_act_epilogue(c->act, c->act_p0, c->act_p1, &job.lo, &job.hi);
    int64_t rows = (TSR_CONVD_TASK_PIXELS + c->OW - 1) / c->OW;
    if (rows < 1) rows = 1;
    if (rows > c->OH) rows = c->OH;
    job.rows_per_task = rows;
    job.n_chunks = (c->OH + rows - 1) / rows;
    tsr_cpu_task_fn fn = tsr_convd_task;
    if (d->pointwise || d->im2col) {
        job.n_chunks = (c->OH * c->OW + TSR_CONVP_TASK_PIXELS - 1) / TSR_CONVP_TASK_PIXELS;
        fn = tsr_convp_task;
    }
    job.per_image = c->group * (d->im2col ? 1 : d->n_mblocks) * job.n_chunks;
    if (d->pointwise && d->k->pointwise_blocked) {
        /* channels split into chunks of whole 32-blocks only when the pixel chunks give fewer
         * than 4 tasks per thread: each chunk packs its pixels again */
        fn = tsr_convp_blocked_task;
        const int64_t base = d->imgs_per_round * c->group * job.n_chunks;
        const int64_t want = 4 * (int64_t)(env->n_threads > 1 ? env->n_threads : 1);
        int64_t chunks = base >= want ? 1 : (want + base - 1) / base;
        if (chunks > d->n_mblocks) chunks = d->n_mblocks;
        job.mchunk = (d->n_mblocks + chunks - 1) / chunks * TSR_CONVD_MR;
        job.n_mchunks = (d->mg + job.mchunk - 1) / job.mchunk;
        job.per_image = c->group * job.n_chunks * job.n_mchunks;
    }
    if (d->winograd == 1) {
        fn = tsr_wino_task;
        job.per_image = ((c->OH + 1) / 2 + d->wino_rows - 1) / d->wino_rows;
    } else if (d->winograd == 2) {
        fn = tsr_wino_tiles_task;
        const int64_t tp = ((c->OH + 1) / 2) * ((c->OW + 1) / 2);
        job.per_image = (tp + d->wino_chunk - 1) / d->wino_chunk * d->wino_mgroups;
    }
    /* a small conv runs on the calling thread: waking the pool (10-50 us per loop measured by
     * tsr-pool-probe here) would cost more than the second thread saves */
    const double flops = 2.0 * (double)(c->N * c->M * c->OH * c->OW) * (double)d->K;
    const int par = env->pool && env->n_threads > 1 && flops >= TSR_CONVD_PARALLEL_FLOPS;
    const int64_t hw = c->OH * c->OW;
    for (int64_t n0 = 0; n0 < c->N; n0 += d->imgs_per_round) {
        const int64_t imgs = c->N - n0 < d->imgs_per_round ? c->N - n0 : d->imgs_per_round;
        const float *xn = X + n0 * c->C * c->H * c->W;
        if (d->pad) {
            /* planes of the round's images, contiguous in X and in pad_buf */
            job.xs = xn;
            job.xp = pad_buf;
            const int64_t planes = imgs * c->C;
            if (par && planes > 1)
                tsr_cpu_pool_parallel_for(env->pool, (size_t)planes, tsr_convd_pad_task, &job);
            else
                for (int64_t pl = 0; pl < planes; pl++)
                    tsr_convd_pad_task(&job, (size_t)pl, 0);
            job.x = pad_buf;
            job.x_image = c->C * d->Hp * d->Wp;
        } else {
            job.x = xn;
            job.x_image = c->C * c->H * c->W;
        }
        job.r = R ? R + n0 * c->M * hw : NULL;
        job.y = Y + n0 * c->M * hw;
        const int64_t n_tasks = imgs * job.per_image;
        if (par && n_tasks > 1)
            tsr_cpu_pool_parallel_for(env->pool, (size_t)n_tasks, fn, &job);
        else
            for (int64_t t = 0; t < n_tasks; t++)
                fn(&job, (size_t)t, 0);
    }
}
