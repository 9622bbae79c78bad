/*
 * conv_direct.h — direct convolution with weights pre-packed at prepare (conv_direct.c) and its
 * per-ISA register tiles (conv_avx512.c).
 *
 * The path replaces im2col + OpenBLAS for the convs it supports (tsr_cpu_convd_supported):
 * weights are packed once, at prepare, into [group][M-block][K][MR] blocks of MR = 32 output
 * channels (zero rows past M/group); the input is read in place, or — when the conv pads — from a
 * zero-padded copy of the image made once per run and image; a shared table of K tap offsets
 * (koff, the indirection of XNNPACK's IGEMM, here one int32 per (ci, kh, kw)) lets one register
 * tile walk all taps without bounds tests or im2col.
 */
#ifndef TSR_CPU_CONV_DIRECT_H
#define TSR_CPU_CONV_DIRECT_H

#include "runtime/program.h"

#include <stddef.h>
#include <stdint.h>

/* Widest tile (output pixels per register tile): 12 x 2 accumulators of 32 channels = 24 zmm of
 * the 32, leaving room for the 2 weight vectors and broadcasts. */
#define TSR_CONVD_TW 12

/* One register tile (conv_avx512.c): out[j * MR + o] = bias[o] + sum_{k < K} a[k * MR + o] *
 * base[koff[k] + j * SW] for j < TW, o < MR. a: [K][32] floats (MR 16 uses the first 16 of a row),
 * 64-byte aligned; bias: MR floats (zeros when the conv has none); out: [TW][MR] floats, 64-byte
 * aligned. */
typedef void (*tsr_convd_tile_fn)(int64_t K, const float *a, const float *base, const int32_t *koff,
                                  const float *bias, float *out);

/* Tile table of the AVX-512 kernels for MR (16 or 32) and column stride SW (1 or 2): entry TW
 * (1..TSR_CONVD_TW) computes a TW-pixel tile; NULL for other MR / SW. */
const tsr_convd_tile_fn *tsr_cpu_convd_tiles_avx512(int mr, int sw);

/* Depthwise plane (conv.c): y[oh][ow] = clamp(bias + sum_{kh,kw} w[kh * KW + kw] *
 * x[ih][iw] (+ r[oh][ow])) with ih = oh * sh - pad_t + kh * dh, iw = ow * sw - pad_l + kw * dw,
 * taps outside [0, H) x [0, W) skipped (zero padding, read with masked loads: no copy);
 * clamp to [lo, hi] only when `clamp`, y = y * hard_sigmoid(y) (ONNX HardSwish, as
 * ew_vmath.h's v_u_hard_swish) only when `hswish`. x: [H][W]; y, r: [OH][OW], r NULL or y
 * itself. sw 1 or 2. */
struct tsr_dw_args {
    const float *x, *w, *bias, *r; /* bias: the first channel's (NULL: none) */
    float *y, *scratch;            /* scratch, nc, Hp, Wp: tsr_cpu_dw_block16_avx512 only */
    float lo, hi;
    int clamp, nc;
    int hswish; /* 1: HardSwish applied in registers (after the residual; clamp is then 0) */
    int64_t H, W, OH, OW, KH, KW, sh, sw, dh, dw, pad_t, pad_l, Hp, Wp;
};
void tsr_cpu_dw_plane_avx512(const struct tsr_dw_args *p);
/* The same plane with AVX2 + FMA (conv_avx2.c; scratch, nc, Hp, Wp unused). */
void tsr_cpu_dw_plane_avx2(const struct tsr_dw_args *p);

/* Depthwise on small planes (conv.c, OW <= 16): nc (1..16) consecutive channels of one image
 * at once, one channel per lane: the planes are transposed (16 x 16 in registers) into a
 * zero-padded [Hp][Wp][16] block in `scratch` (then [KH*KW][16] weights and an [OH*OW][16]
 * result block after it: (Hp*Wp + KH*KW + OH*OW) * 16 floats, 64-byte aligned), every output
 * pixel is KH*KW vector FMAs, and the results are transposed back to the NCHW planes.
 * x: the first channel's [H][W] plane (channel stride H*W); w: its [KH*KW] taps (stride KH*KW);
 * bias: nc values or NULL; y / r: the first channel's [OH][OW] plane (stride OH*OW; r NULL or
 * y itself). Hp >= (OH-1)*sh + (KH-1)*dh + 1 and >= pad_t + H, likewise Wp (struct
 * tsr_dw_args above, all fields used). */
void tsr_cpu_dw_block16_avx512(const struct tsr_dw_args *p);
/* The zero-padded copy of one depthwise input plane (conv.c tsr_dw_pad_plane's contract): q
 * [Hq][Wq] = x [H][W] placed at row pad_t, column pad_l, zeros elsewhere; input rows and
 * columns past the copy unread. Masked 16-float loads and stores, no library calls (rows of
 * 20-120 floats, where memset + memcpy + memset per row cost more than the conv). */
void tsr_cpu_dw_pad_plane_avx512(const float *x, int64_t H, int64_t W, int64_t pad_t, int64_t pad_l,
                                 int64_t Hq, int64_t Wq, float *q);

/* The input plane a direct conv reads: Hp x Wp with the padding (pad_t rows / pad_l columns
 * before, as many after as the last window needs); *pad = 0 when the conv reads X in place
 * (then Hp, Wp = H, W). */
void tsr_cpu_conv_padded_plane(const struct tsr_k_conv *c, int64_t *Hp, int64_t *Wp, int *pad);

/* Pointwise tile (1x1 stride-1 unpadded convs with a short reduction): for i < rows (<= 8) and
 * p < npx (1..48): y[i * ldy + p] = ep(bias[i] + sum_{k < K} a[k * 32 + i] * x[k * ldx + p]
 * (+ r[i * ldy + p] when r is not NULL; r may be y)), ep by `clamp` (cpu_exec.h TSR_EP_*):
 * TSR_EP_CLAMP clamps to [lo, hi], TSR_EP_HSWISH applies HardSwish, TSR_EP_NONE nothing.
 * a: 8 channels inside a packed [K][32] block; x: NCHW input at the tile's first pixel. Reads
 * nothing past the npx pixels of a row (masked loads). The GEMM tile of gemm_avx512.c. */
void tsr_cpu_convp_tile_avx512(int64_t K, const float *a, const float *x, int64_t ldx,
                               const float *bias, const float *r, float *y, int64_t ldy, int rows,
                               int npx, int clamp, float lo, float hi);

/* im2col of n output pixels from p0 (flattened oh * OW + ow) for the tap table koff (K taps):
 * col[k * n + j] = x[koff[k] + oh * sh * Wp + ow * sw] for pixel p0 + j (x: the image as the
 * conv reads it, padded or in place; sw 1 or 2). Vector copies along each output row. */
void tsr_cpu_convd_im2col_avx512(const float *x, const int32_t *koff, int64_t K, int64_t Wp,
                                 int64_t sh, int64_t sw, int64_t OW, int64_t p0, int64_t n,
                                 float *col);

/* Transposed store of a [tw][mr] tile result `out` (tw <= 16, 64-byte aligned): y[o * ld + j] =
 * ep(out[j * mr + o] (+ r[o * ld + j] when r is not NULL; r may be y)) for o < mvalid, j < tw,
 * ep by `ep` (cpu_exec.h TSR_EP_*): TSR_EP_CLAMP clamps to [lo, hi], TSR_EP_HSWISH applies
 * HardSwish, TSR_EP_NONE nothing. 16 x 16 in-register transposes of 16 channels at a time. */
void tsr_cpu_convd_store_avx512(const float *out, int mr, int tw, int mvalid, float *y,
                                const float *r, int64_t ld, int ep, float lo, float hi);

/* Winograd F(2x2, 3x3) transforms (conv_avx512.c; conv_direct.c drives them). Input: for the
 * `rows` tile rows from th0 and twp (multiple of 16) tiles per row of the zero-padded channels
 * xp ([C][plane], row stride Wp, at least 2 twp + 2 columns and 2 (th0 + rows) + 2 rows),
 * V[xi][c][r * twp + t] = (B^T d B)[xi] for xi < 16; tbp = rows * twp. Output: Y[m][oh][ow] =
 * clamp((A^T M A)[i][j] + bias[m] (+ R)) for the same tiles, M = Mb[xi][m][tile] (xi stride
 * mstride floats), only oh < OH, ow < OW stored; Y, R: [m_count][OH][OW] of one image. */
void tsr_cpu_wino_input_avx512(const float *xp, int64_t plane, int64_t Wp, int64_t C, int64_t th0,
                               int64_t rows, int64_t twp, float *V, int64_t tbp);
void tsr_cpu_wino_output_avx512(const float *Mb, int64_t mstride, int64_t m_count, int64_t tbp,
                                int64_t th0, int64_t rows, int64_t twp, const float *bias,
                                const float *R, float *Y, int64_t OH, int64_t OW, int clamp,
                                float lo, float hi);

void tsr_cpu_wino_input_tiles_avx512(const float *xp, int64_t plane, int64_t Wp, int64_t C,
                                     int64_t t0, int64_t n_tiles, int64_t tw, float *V,
                                     int64_t tbp);
void tsr_cpu_wino_output_tiles_avx512(const float *Mb, int64_t mstride, int64_t m0, int64_t m_count,
                                      int64_t tbp, int64_t t0, int64_t n_tiles, int64_t tw,
                                      const float *bias, const float *R, float *Y, int64_t OH,
                                      int64_t OW, int clamp, float lo, float hi);

/* The AVX2 + FMA counterparts (conv_avx2.c, gemm_avx2.c), same contracts as the AVX-512
 * functions above: 8-float vectors, 16 ymm registers. The direct tiles exist for MR 16 only
 * (2 ymm per pixel) and TW 1..TSR_CONVD_TW_AVX2 (12 accumulators); a 32-channel block runs as
 * two 16-channel halves (a + 16, bias + 16). The pointwise tile computes its 8 x 48 block as
 * 4 x 24 sub-tiles (gemm_avx2.c). The Winograd transforms take the same 16-tile groups as
 * two 8-lane halves; the small-plane output scatters with scalar stores (AVX2 has no scatter). */
#define TSR_CONVD_TW_AVX2 6
const tsr_convd_tile_fn *tsr_cpu_convd_tiles_avx2(int mr, int sw);
void tsr_cpu_convd_store_avx2(const float *out, int mr, int tw, int mvalid, float *y,
                              const float *r, int64_t ld, int ep, float lo, float hi);
void tsr_cpu_convp_tile_avx2(int64_t K, const float *a, const float *x, int64_t ldx,
                             const float *bias, const float *r, float *y, int64_t ldy, int rows,
                             int npx, int clamp, float lo, float hi);
/* AVX2 pointwise conv over rows (any count) x np pixels of one image, K blocked: for
 * i < rows, j < np: y[i * ldy + j] = clamp(bias[i] + sum_{k < K} A(i, k) x[k * ldx + j]
 * (+ r[i * ldy + j])), A(i, k) = a8[(i / 8) * K * 8 + k * 8 + i % 8] (weights packed once as
 * [rows / 8][K][8]). Per 48-pixel panel and block of TSR_CPU_CONV_TILE_KB taps, x is packed
 * into col ([KB][48] floats, the caller's scratch) and the 4 x 24 sub-tiles stream over it;
 * the first block starts from bias (+ r; r may be y), the next ones accumulate onto y, the last
 * applies `clamp`. */
void tsr_cpu_convp_blocked_avx2(int64_t K, const float *a8, const float *x, int64_t ldx, int64_t np,
                                const float *bias, const float *r, float *y, int64_t ldy,
                                int64_t rows, float *col, int clamp, float lo, float hi);
void tsr_cpu_convd_im2col_avx2(const float *x, const int32_t *koff, int64_t K, int64_t Wp,
                               int64_t sh, int64_t sw, int64_t OW, int64_t p0, int64_t n,
                               float *col);
void tsr_cpu_wino_input_avx2(const float *xp, int64_t plane, int64_t Wp, int64_t C, int64_t th0,
                             int64_t rows, int64_t twp, float *V, int64_t tbp);
void tsr_cpu_wino_output_avx2(const float *Mb, int64_t mstride, int64_t m_count, int64_t tbp,
                              int64_t th0, int64_t rows, int64_t twp, const float *bias,
                              const float *R, float *Y, int64_t OH, int64_t OW, int clamp, float lo,
                              float hi);
void tsr_cpu_wino_input_tiles_avx2(const float *xp, int64_t plane, int64_t Wp, int64_t C,
                                   int64_t t0, int64_t n_tiles, int64_t tw, float *V, int64_t tbp);
void tsr_cpu_wino_output_tiles_avx2(const float *Mb, int64_t mstride, int64_t m0, int64_t m_count,
                                    int64_t tbp, int64_t t0, int64_t n_tiles, int64_t tw,
                                    const float *bias, const float *R, float *Y, int64_t OH,
                                    int64_t OW, int clamp, float lo, float hi);

/* The kernels of one ISA tier that the direct path (conv_direct.c) drives: the tile tables,
 * the widest tile (pixels) and the functions above. One constant table per tier
 * (tsr_cpu_convd_kernels); the driver, the packing and the task split are shared. */
struct tsr_convd_kernels {
    const char *name; /* "avx512", "avx2" */
    int tw_max;       /* widest direct tile: TSR_CONVD_TW / TSR_CONVD_TW_AVX2 */
    const tsr_convd_tile_fn *(*tiles)(int mr, int sw); /* NULL for an MR the tier lacks */
    void (*store)(const float *out, int mr, int tw, int mvalid, float *y, const float *r,
                  int64_t ld, int ep, float lo, float hi);
    void (*pointwise)(int64_t K, const float *a, const float *x, int64_t ldx, const float *bias,
                      const float *r, float *y, int64_t ldy, int rows, int npx, int clamp, float lo,
                      float hi);
    /* NULL, or a K-blocked pointwise GEMM on weights packed [M/8][K][8] that packs x itself
     * (tsr_cpu_convp_blocked_avx2): 1x1 stride-1 convs of any K take it */
    void (*pointwise_blocked)(int64_t K, const float *a8, const float *x, int64_t ldx, int64_t np,
                              const float *bias, const float *r, float *y, int64_t ldy,
                              int64_t rows, float *col, int clamp, float lo, float hi);
    void (*im2col)(const float *x, const int32_t *koff, int64_t K, int64_t Wp, int64_t sh,
                   int64_t sw, int64_t OW, int64_t p0, int64_t n, float *col);
    void (*wino_input)(const float *xp, int64_t plane, int64_t Wp, int64_t C, int64_t th0,
                       int64_t rows, int64_t twp, float *V, int64_t tbp);
    void (*wino_output)(const float *Mb, int64_t mstride, int64_t m_count, int64_t tbp, int64_t th0,
                        int64_t rows, int64_t twp, const float *bias, const float *R, float *Y,
                        int64_t OH, int64_t OW, int clamp, float lo, float hi);
    void (*wino_input_tiles)(const float *xp, int64_t plane, int64_t Wp, int64_t C, int64_t t0,
                             int64_t n_tiles, int64_t tw, float *V, int64_t tbp);
    void (*wino_output_tiles)(const float *Mb, int64_t mstride, int64_t m0, int64_t m_count,
                              int64_t tbp, int64_t t0, int64_t n_tiles, int64_t tw,
                              const float *bias, const float *R, float *Y, int64_t OH, int64_t OW,
                              int clamp, float lo, float hi);
};

/* The direct path's kernels for CPU tier `isa` (cpu_backend.h tsr_cpu_isa: 1 AVX2, 2 AVX-512),
 * or NULL for the scalar tier (im2col + OpenBLAS there). Static storage; thread-safe. */
const struct tsr_convd_kernels *tsr_cpu_convd_kernels(int isa);

struct tsr_cpu_env;

/* Weights and geometry prepared once for one conv kernel (tsr_cpu_convd_prepare). Owned by the
 * executable that prepared it; immutable afterwards, so concurrent runs may share it. */
struct tsr_cpu_convd {
    struct tsr_k_conv c;
    const struct tsr_convd_kernels *k; /* the tier's kernels (tsr_cpu_convd_kernels) */
    int64_t K;                         /* (C/group) * KH * KW */
    int64_t mg, cg;                    /* output / input channels per group */
    int64_t n_mblocks;                 /* ceil(mg / 32) per group */
    int64_t Hp, Wp;                    /* input plane as read: padded (pad = 1) or H, W */
    int pad;       /* 1: the run copies each image into a zero-padded [C, Hp, Wp] buffer */
    int pointwise; /* 1: 1x1 stride-1 unpadded with a short K: pixel-vectorised tiles */
    int im2col;    /* 1: a short K (stems: 3x3x3): per task im2col into scratch, then the
                      pointwise tiles (no transposed store, which would cost as much as
                      the K FMAs) */
    int winograd;  /* F(2x2, 3x3), w holds the 16 transformed weight sets: 1 by tile rows (wide
                      planes), 2 by chunks of raster-order tiles (small planes: gathers) */
    int64_t wino_twp, wino_rows;      /* mode 1: tiles per row (multiple of 16), rows per task */
    int64_t wino_chunk, wino_mgroups; /* mode 2: tiles per task (multiple of 16), M splits */
    float *w;                         /* [group][n_mblocks][K][32], 64-byte aligned */
    float *bias;   /* [group][n_mblocks][32]: the conv's bias, zeros past mg or when absent */
    int32_t *koff; /* [K]: ci * Hp * Wp + kh * dil_h * Wp + kw * dil_w */
    int64_t imgs_per_round; /* images padded and computed per pair of pool loops */
    size_t pad_floats;      /* imgs_per_round * C * Hp * Wp when pad, else 0: shared scratch */
};

/* 1 when the direct path handles c on CPU tier `isa` (tsr_cpu_isa; the AVX2 and AVX-512 tiers
 * have the kernels): not depthwise, stride_w 1 or 2, at least 8 output channels per group,
 * offsets within int32. */
int tsr_cpu_convd_supported(int isa, const struct tsr_k_conv *c);

/* Packs Wt [M, C/group, KH, KW] (and bias [M] or NULL) for c into a new *out, to run on tier
 * `isa`'s kernels (tsr_cpu_convd_supported(isa, c) must hold). Returns 0, or -1 when out of
 * memory (nothing allocated). Free with tsr_cpu_convd_free. Not thread-safe on the same out;
 * Wt is only read. */
int tsr_cpu_convd_prepare(int isa, const struct tsr_k_conv *c, const float *Wt, const float *bias,
                          struct tsr_cpu_convd **out);
void tsr_cpu_convd_free(struct tsr_cpu_convd *d);

/* Per-thread scratch (floats) the direct path of c needs on tier `isa` (TSR_ISA_AVX2 or
 * TSR_ISA_AVX512, as given to tsr_cpu_convd_prepare): the Winograd transform buffers, the
 * im2col columns of a short-K conv, 0 for the other direct paths. */
size_t tsr_cpu_convd_scratch_floats(int isa, const struct tsr_k_conv *c);

/* Y [N, M, OH, OW] = act(conv(X) + bias + R) with the prepared weights; R NULL or [N, M, OH, OW]
 * and may be Y itself (in place). pad_buf: at least d->pad_floats floats (unused when 0),
 * shared by the pool's threads. Runs on env->pool. */
void tsr_cpu_convd_run(const struct tsr_cpu_env *env, const struct tsr_cpu_convd *d, const float *X,
                       const float *R, float *pad_buf, float *Y);

#endif
