/*
 * conv_avx2.c — the AVX2 + FMA depthwise plane of conv.c (compiled with -mavx2 -mfma only; the
 * dispatch in conv.c calls it when the CPU tier is AVX2).
 *
 * The same scheme as the AVX-512 plane (conv_avx512.c, tsr_cpu_dw_plane_avx512) at 8 floats per
 * vector: output rows in groups of 4, each row in chunks of 8 output columns, every chunk's
 * KH x KW taps accumulated in registers (R rows x V chunks of independent FMA chains: 8
 * accumulators at most, the 16 ymm registers hold them with the weight and the taps), taps
 * outside the input row read as zero through masked loads (vmaskmovps reads nothing in a
 * masked-off lane, so no padded copy), column stride 2 as the even floats of two loads.
 */
#include "backends/cpu/conv_direct.h"
#include "backends/cpu/cpu_exec.h"

#include <immintrin.h>
#include <string.h>

#define TSR_DW2_INLINE inline __attribute__((always_inline))

/* Lanes j of 8 with 0 <= start + j < W set (all bits), others clear. */
static TSR_DW2_INLINE __m256i tsr_dw2_mask(int64_t start, int64_t W) {
    const int64_t lo = start < 0 ? -start : 0;
    const int64_t hi = W - start < 8 ? W - start : 8;
    const __m256i j = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    if (hi <= lo) return _mm256_setzero_si256();
    const __m256i ge_lo = _mm256_cmpgt_epi32(j, _mm256_set1_epi32((int)lo - 1));
    const __m256i lt_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), j);
    return _mm256_and_si256(ge_lo, lt_hi);
}

/* The even floats of a:b (a0 a2 a4 a6 b0 b2 b4 b6). */
static TSR_DW2_INLINE __m256 tsr_dw2_even(__m256 a, __m256 b) {
    const __m256 s = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)); /* a0 a2 b0 b2 a4 a6 b4 b6 */
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* 8 taps of input row xr at columns start + SW * j (j < 8), zero outside [0, W). */
static TSR_DW2_INLINE __m256 tsr_dw2_load(const float *xr, int64_t start, int64_t W, const int SW,
                                          const int EDGE) {
    if (!EDGE) {
        if (SW == 1) return _mm256_loadu_ps(xr + start);
        return tsr_dw2_even(_mm256_loadu_ps(xr + start), _mm256_loadu_ps(xr + start + 8));
    }
    const __m256 a = _mm256_maskload_ps(xr + start, tsr_dw2_mask(start, W));
    if (SW == 1) return a;
    return tsr_dw2_even(a, _mm256_maskload_ps(xr + start + 8, tsr_dw2_mask(start + 8, W)));
}

/* ONNX HardSwish as act_avx512.h's (the same rounding as ew_vmath.h's v_u_hard_swish). */
static TSR_DW2_INLINE __m256 tsr_dw2_hswish(__m256 y) {
    const __m256 t =
        _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(1.0f / 6.0f), y), _mm256_set1_ps(0.5f));
    return _mm256_mul_ps(
        y, _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_max_ps(_mm256_setzero_ps(), t)));
}

/* The epilogue of R x V accumulator chunks (output rows oh .., columns ow0 + 8 v ..): + R, Clip
 * or HardSwish, stored with the lanes past OW masked off. */
static TSR_DW2_INLINE void tsr_dw2_store(const struct tsr_dw_args *p, __m256 acc[4][2], int64_t oh,
                                         int64_t ow0, const int V, const int R) {
    const __m256 lo = _mm256_set1_ps(p->lo), hi = _mm256_set1_ps(p->hi);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int v = 0; v < V; v++) {
            const int64_t o = ow0 + 8 * v, row = (oh + r) * p->OW;
            const __m256i m = tsr_dw2_mask(0, p->OW - o);
            __m256 s = acc[r][v];
            if (p->r) s = _mm256_add_ps(s, _mm256_maskload_ps(p->r + row + o, m));
            if (p->clamp) s = _mm256_min_ps(hi, _mm256_max_ps(lo, s)); /* NaN s propagates */
            if (p->hswish) s = tsr_dw2_hswish(s);
            _mm256_maskstore_ps(p->y + row + o, m, s);
        }
}

/* Columns [ow0, ow0 + 8 V) of output rows oh .. oh + R - 1; lanes past OW are computed and not
 * stored. */
static TSR_DW2_INLINE void tsr_dw2_chunks(const struct tsr_dw_args *p, int64_t oh, int64_t ow0,
                                          const int SW, const int V, const int EDGE, const int R) {
    __m256 acc[4][2];
    const __m256 b0 = _mm256_set1_ps(p->bias ? p->bias[0] : 0.0f);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int v = 0; v < V; v++)
            acc[r][v] = b0;
    for (int64_t kh = 0; kh < p->KH; kh++) {
        const float *xr[4];
        int in[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const int64_t ih = (oh + r) * p->sh - p->pad_t + kh * p->dh;
            in[r] = ih >= 0 && ih < p->H;
            xr[r] = p->x + (in[r] ? ih : 0) * p->W;
        }
        for (int64_t kw = 0; kw < p->KW; kw++) {
            const __m256 wv = _mm256_set1_ps(p->w[kh * p->KW + kw]);
            const int64_t off = kw * p->dw - p->pad_l;
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                if (!in[r]) continue;
#pragma GCC unroll 2
                for (int v = 0; v < V; v++)
                    acc[r][v] = _mm256_fmadd_ps(
                        wv, tsr_dw2_load(xr[r], (ow0 + 8 * v) * SW + off, p->W, SW, EDGE),
                        acc[r][v]);
            }
        }
    }
    tsr_dw2_store(p, acc, oh, ow0, V, R);
}

/* Chunk ch (output columns [8 ch, 8 ch + 8)) reads only inside its row: its first tap column is
 * >= 0 and its last load ends inside the row (stride 2 loads one float more). */
static TSR_DW2_INLINE int tsr_dw2_interior(const struct tsr_dw_args *p, int64_t ch, int SW) {
    const int64_t first = 8 * ch * SW - p->pad_l;
    const int64_t last = (8 * ch + 7) * SW + (SW - 1) + (p->KW - 1) * p->dw - p->pad_l;
    return first >= 0 && last < p->W;
}

/* Output rows [oh, oh + R): edge chunks one at a time with masked loads, interior chunks two at
 * a time with plain loads. */
static TSR_DW2_INLINE void tsr_dw2_rows(const struct tsr_dw_args *p, int64_t oh, const int SW,
                                        const int R) {
    const int64_t n_chunks = (p->OW + 7) / 8;
    for (int64_t ch = 0; ch < n_chunks;) {
        int64_t run = 0;
        while (run < 2 && ch + run < n_chunks && tsr_dw2_interior(p, ch + run, SW))
            run++;
        const int64_t ow0 = 8 * ch;
        if (run == 0)
            tsr_dw2_chunks(p, oh, ow0, SW, 1, 1, R);
        else if (run == 2)
            tsr_dw2_chunks(p, oh, ow0, SW, 2, 0, R);
        else
            tsr_dw2_chunks(p, oh, ow0, SW, 1, 0, R);
        ch += run > 0 ? run : 1;
    }
}

static TSR_DW2_INLINE void tsr_dw2_plane(const struct tsr_dw_args *p, const int SW) {
    int64_t oh = 0;
    for (; oh + 4 <= p->OH; oh += 4)
        tsr_dw2_rows(p, oh, SW, 4);
    for (; oh < p->OH; oh++)
        tsr_dw2_rows(p, oh, SW, 1);
}

/* ---- depthwise 3x3 on a padded plane (conv_avx512.c's tsr_dw3_chunks at 8 floats) ----
 * Columns [ow0, ow0 + 8 V) of output rows oh .. oh + R - 1, every tap inside the plane; each of
 * the (R - 1) * SW + 3 input rows is loaded once per tap column and feeds every output row that
 * uses it. R 3 x V 2 accumulators + 9 weights + the loaded vector = the 16 ymm registers. */
static TSR_DW2_INLINE void tsr_dw23_chunks(const struct tsr_dw_args *p, int64_t oh, int64_t ow0,
                                           const int SW, const int V, const int R) {
    __m256 wv[9], acc[4][2]; /* rows 0..2 used (tsr_dw2_store's shape) */
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++)
        wv[t] = _mm256_set1_ps(p->w[t]);
    const __m256 b0 = _mm256_set1_ps(p->bias ? p->bias[0] : 0.0f);
#pragma GCC unroll 3
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int v = 0; v < V; v++)
            acc[r][v] = b0;
    const float *x0 = p->x + oh * SW * p->W + ow0 * SW;
#pragma GCC unroll 7
    for (int i = 0; i < (R - 1) * SW + 3; i++) {
        const float *xr = x0 + i * p->W;
#pragma GCC unroll 3
        for (int kw = 0; kw < 3; kw++)
#pragma GCC unroll 2
            for (int v = 0; v < V; v++) {
                const float *xs = xr + 8 * v * SW + kw;
                const __m256 x = SW == 1
                                     ? _mm256_loadu_ps(xs)
                                     : tsr_dw2_even(_mm256_loadu_ps(xs), _mm256_loadu_ps(xs + 8));
#pragma GCC unroll 3
                for (int r = 0; r < R; r++) {
                    const int kh = i - r * SW;
                    if (kh >= 0 && kh < 3)
                        acc[r][v] = _mm256_fmadd_ps(wv[kh * 3 + kw], x, acc[r][v]);
                }
            }
    }
    tsr_dw2_store(p, acc, oh, ow0, V, R);
}

static TSR_DW2_INLINE void tsr_dw23_rows(const struct tsr_dw_args *p, int64_t oh, const int SW,
                                         const int R) {
    const int64_t n_chunks = (p->OW + 7) / 8;
    int64_t ch = 0;
    for (; ch + 2 <= n_chunks; ch += 2)
        tsr_dw23_chunks(p, oh, 8 * ch, SW, 2, R);
    if (ch < n_chunks) tsr_dw23_chunks(p, oh, 8 * ch, SW, 1, R);
}

static TSR_DW2_INLINE void tsr_dw23_plane(const struct tsr_dw_args *p, const int SW) {
    int64_t oh = 0;
    for (; oh + 3 <= p->OH; oh += 3)
        tsr_dw23_rows(p, oh, SW, 3);
    for (; oh < p->OH; oh++)
        tsr_dw23_rows(p, oh, SW, 1);
}

/* 1 when every tap of every 8-column chunk of p lies inside its plane (3x3, undilated, no
 * padding left or above; the last chunk's last load ends inside the row). */
static int tsr_dw23_applies(const struct tsr_dw_args *p) {
    const int64_t n_chunks = (p->OW + 7) / 8;
    return p->KH == 3 && p->KW == 3 && p->dh == 1 && p->dw == 1 && p->pad_t == 0 && p->pad_l == 0 &&
           p->sh == p->sw && (p->OH - 1) * p->sh + 3 <= p->H &&
           (8 * n_chunks - 1) * p->sw + (p->sw - 1) + 2 < p->W;
}

void tsr_cpu_dw_plane_avx2(const struct tsr_dw_args *p) {
    if (tsr_dw23_applies(p)) {
        if (p->sw == 1)
            tsr_dw23_plane(p, 1);
        else
            tsr_dw23_plane(p, 2);
        return;
    }
    if (p->sw == 1)
        tsr_dw2_plane(p, 1);
    else
        tsr_dw2_plane(p, 2);
}

/* ---- direct convolution tiles (conv_direct.c; the scheme of conv_avx512.c at 8 floats) ----
 *
 * One tile: 16 output channels (2 ymm) x TW (1..TSR_CONVD_TW_AVX2) consecutive output pixels,
 * out[j][o] = bias[o] + sum_k a[k][o] * base[koff[k] + j * SW] over all of K. The 2 TW
 * accumulators (12 at TW 6) stay in registers; each k loads 2 weight vectors of the packed
 * [K][32] block and broadcasts TW input values: 2 TW FMAs against 2 + TW loads. */
static TSR_DW2_INLINE void tsr_convd2_tile16(int64_t K, const float *restrict a,
                                             const float *restrict base,
                                             const int32_t *restrict koff,
                                             const float *restrict bias, float *restrict out,
                                             const int TW, const int SW) {
    __m256 c0[TSR_CONVD_TW_AVX2], c1[TSR_CONVD_TW_AVX2];
    const __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);
#pragma GCC unroll 6
    for (int j = 0; j < TW; j++) {
        c0[j] = b0;
        c1[j] = b1;
    }
    for (int64_t k = 0; k < K; k++) {
        const float *restrict x = base + koff[k];
        const __m256 a0 = _mm256_loadu_ps(a + 32 * k), a1 = _mm256_loadu_ps(a + 32 * k + 8);
#pragma GCC unroll 6
        for (int j = 0; j < TW; j++) {
            const __m256 v = _mm256_broadcast_ss(x + j * SW);
            c0[j] = _mm256_fmadd_ps(a0, v, c0[j]);
            c1[j] = _mm256_fmadd_ps(a1, v, c1[j]);
        }
    }
#pragma GCC unroll 6
    for (int j = 0; j < TW; j++) {
        _mm256_storeu_ps(out + 16 * j, c0[j]);
        _mm256_storeu_ps(out + 16 * j + 8, c1[j]);
    }
}

#define TSR_CONVD2_DEF(SW, TW)                                                                     \
    static void tsr_convd2_s##SW##_w##TW(int64_t K, const float *a, const float *base,             \
                                         const int32_t *koff, const float *bias, float *out) {     \
        tsr_convd2_tile16(K, a, base, koff, bias, out, TW, SW);                                    \
    }
#define TSR_CONVD2_DEF_WIDTHS(SW)                                                                  \
    TSR_CONVD2_DEF(SW, 1)                                                                          \
    TSR_CONVD2_DEF(SW, 2)                                                                          \
    TSR_CONVD2_DEF(SW, 3)                                                                          \
    TSR_CONVD2_DEF(SW, 4)                                                                          \
    TSR_CONVD2_DEF(SW, 5)                                                                          \
    TSR_CONVD2_DEF(SW, 6)
TSR_CONVD2_DEF_WIDTHS(1)
TSR_CONVD2_DEF_WIDTHS(2)

static const tsr_convd_tile_fn tsr_convd2_tiles[2][TSR_CONVD_TW_AVX2 + 1] = {
    {NULL, tsr_convd2_s1_w1, tsr_convd2_s1_w2, tsr_convd2_s1_w3, tsr_convd2_s1_w4, tsr_convd2_s1_w5,
     tsr_convd2_s1_w6},
    {NULL, tsr_convd2_s2_w1, tsr_convd2_s2_w2, tsr_convd2_s2_w3, tsr_convd2_s2_w4, tsr_convd2_s2_w5,
     tsr_convd2_s2_w6},
};

const tsr_convd_tile_fn *tsr_cpu_convd_tiles_avx2(int mr, int sw) {
    if (mr != 16 || (sw != 1 && sw != 2)) return NULL;
    return tsr_convd2_tiles[sw == 2];
}

void tsr_cpu_convd_store_avx2(const float *out, int mr, int tw, int mvalid, float *y,
                              const float *r, int64_t ld, int ep, float lo, float hi) {
    /* scalar transposed store: tw * mvalid (<= 96) moves against the tile's K * 2 tw FMAs
     * (the direct tiles run only for K > TSR_CONVD_IM2COL_MAX_K), the clamp on the scalars: a
     * vector load of a row just stored by scalars stalls on store forwarding (the 7x7 stem at
     * batch 8 took 13.2 ms against 11.4 that way). HardSwish, which must round as the vector
     * kernels do, takes that reload (rare: a direct conv, K > 64, with a HardSwish epilogue). */
    for (int o = 0; o < mvalid; o++) {
        float *yo = y + o * ld;
        const float *ro = r ? r + o * ld : NULL;
        for (int j = 0; j < tw; j++) {
            float v = ro ? out[j * mr + o] + ro[j] : out[j * mr + o]; /* ro may be yo */
            if (ep == TSR_EP_CLAMP) {
                v = lo > v ? lo : v; /* as _mm256_max_ps(lo, v): NaN propagates */
                v = hi < v ? hi : v;
            }
            yo[j] = v;
        }
        if (ep == TSR_EP_HSWISH) {
            const __m256i m = tsr_dw2_mask(0, tw);
            _mm256_maskstore_ps(yo, m, tsr_dw2_hswish(_mm256_maskload_ps(yo, m)));
        }
    }
}

void tsr_cpu_convd_im2col_avx2(const float *x, const int32_t *koff, int64_t K, int64_t Wp,
                               int64_t sh, int64_t sw, int64_t OW, int64_t p0, int64_t n,
                               float *col) {
    for (int64_t j0 = 0; j0 < n;) {
        const int64_t p = p0 + j0, oh = p / OW, ow0 = p % OW;
        const int64_t len = OW - ow0 < n - j0 ? OW - ow0 : n - j0; /* pixels left in this row */
        const float *row = x + oh * sh * Wp + ow0 * sw;
        for (int64_t k = 0; k < K; k++) {
            const float *src = row + koff[k];
            float *dst = col + k * n + j0;
            if (sw == 1) {
                memcpy(dst, src, (size_t)len * sizeof(float));
            } else {
                int64_t j = 0;
                const __m256i first7 = tsr_dw2_mask(0, 7);
                for (; j + 8 <= len; j += 8) /* reads src[2 j .. 2 j + 14], nothing past it */
                    _mm256_storeu_ps(dst + j,
                                     tsr_dw2_even(_mm256_loadu_ps(src + 2 * j),
                                                  _mm256_maskload_ps(src + 2 * j + 8, first7)));
                for (; j < len; j++)
                    dst[j] = src[2 * j];
            }
        }
        j0 += len;
    }
}

/* ---- Winograd F(2x2, 3x3) transforms (conv_direct.c), as conv_avx512.c's at 8 tiles ----
 *
 * Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR 2016): V = B^T d B,
 * Y = A^T M A (the matrices in conv_avx512.c). Each 16-tile group of the shared geometry runs
 * as two 8-tile halves; patch column s of tile t is padded column 2 t + s, so the four columns
 * of 8 tiles are the even / odd floats of two 16-float loads. */

/* The odd floats of a:b (a1 a3 a5 a7 b1 b3 b5 b7). */
static TSR_DW2_INLINE __m256 tsr_dw2_odd(__m256 a, __m256 b) {
    const __m256 s = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}

static TSR_DW2_INLINE void tsr_wino2_row(__m256 c0, __m256 c1, __m256 c2, __m256 c3, __m256 e[4]) {
    e[0] = _mm256_sub_ps(c0, c2);
    e[1] = _mm256_add_ps(c1, c2);
    e[2] = _mm256_sub_ps(c2, c1);
    e[3] = _mm256_sub_ps(c1, c3);
}

static TSR_DW2_INLINE void tsr_wino2_store_v(__m256 e[4][4], float *v, int64_t xs) {
#pragma GCC unroll 4
    for (int s = 0; s < 4; s++) {
        _mm256_storeu_ps(v + (0 * 4 + s) * xs, _mm256_sub_ps(e[0][s], e[2][s]));
        _mm256_storeu_ps(v + (1 * 4 + s) * xs, _mm256_add_ps(e[1][s], e[2][s]));
        _mm256_storeu_ps(v + (2 * 4 + s) * xs, _mm256_sub_ps(e[2][s], e[1][s]));
        _mm256_storeu_ps(v + (3 * 4 + s) * xs, _mm256_sub_ps(e[1][s], e[3][s]));
    }
}

static TSR_DW2_INLINE void tsr_wino2_out(const float *mp, int64_t mstride, __m256 b,
                                         __m256 y[2][2]) {
    __m256 s0[4], s1[4];
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        const __m256 m0 = _mm256_loadu_ps(mp + (0 * 4 + q) * mstride);
        const __m256 m1 = _mm256_loadu_ps(mp + (1 * 4 + q) * mstride);
        const __m256 m2 = _mm256_loadu_ps(mp + (2 * 4 + q) * mstride);
        const __m256 m3 = _mm256_loadu_ps(mp + (3 * 4 + q) * mstride);
        s0[q] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
        s1[q] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
    }
    y[0][0] = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s0[0], s0[1]), s0[2]), b);
    y[0][1] = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s0[1], s0[2]), s0[3]), b);
    y[1][0] = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s1[0], s1[1]), s1[2]), b);
    y[1][1] = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s1[1], s1[2]), s1[3]), b);
}

void tsr_cpu_wino_input_avx2(const float *xp, int64_t plane, int64_t Wp, int64_t C, int64_t th0,
                             int64_t rows, int64_t twp, float *V, int64_t tbp) {
    for (int64_t c = 0; c < C; c++) {
        const float *xc = xp + c * plane;
        for (int64_t r = 0; r < rows; r++) {
            const float *x0 = xc + 2 * (th0 + r) * Wp;
            for (int64_t t0 = 0; t0 < twp; t0 += 8) {
                __m256 e[4][4];
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) {
                    /* columns 2 t0 .. 2 t0 + 17 (< 2 twp + 2 <= Wp) */
                    const float *xr = x0 + i * Wp + 2 * t0;
                    const __m256 l0 = _mm256_loadu_ps(xr), l1 = _mm256_loadu_ps(xr + 8);
                    const __m256 l2 = _mm256_loadu_ps(xr + 2), l3 = _mm256_loadu_ps(xr + 10);
                    tsr_wino2_row(tsr_dw2_even(l0, l1), tsr_dw2_odd(l0, l1), tsr_dw2_even(l2, l3),
                                  tsr_dw2_odd(l2, l3), e[i]);
                }
                tsr_wino2_store_v(e, V + c * tbp + r * twp + t0, C * tbp);
            }
        }
    }
}

void tsr_cpu_wino_output_avx2(const float *Mb, int64_t mstride, int64_t m_count, int64_t tbp,
                              int64_t th0, int64_t rows, int64_t twp, const float *bias,
                              const float *R, float *Y, int64_t OH, int64_t OW, int clamp, float lo,
                              float hi) {
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    const int64_t hw = OH * OW;
    for (int64_t m = 0; m < m_count; m++) {
        const __m256 b = _mm256_set1_ps(bias[m]);
        for (int64_t r = 0; r < rows; r++) {
            const int64_t oh = 2 * (th0 + r);
            for (int64_t t0 = 0; t0 < twp; t0 += 8) {
                const int64_t ow0 = 2 * t0;
                if (ow0 >= OW) break;
                __m256 y[2][2];
                tsr_wino2_out(Mb + m * tbp + r * twp + t0, mstride, b, y);
                const __m256i k0 = tsr_dw2_mask(0, OW - ow0), k1 = tsr_dw2_mask(0, OW - ow0 - 8);
#pragma GCC unroll 2
                for (int i = 0; i < 2; i++) {
                    if (oh + i >= OH) continue;
                    const int64_t off = m * hw + (oh + i) * OW + ow0;
                    /* interleave the tiles' two columns: t0q0 t0q1 t1q0 t1q1 | t4.. and t2.. */
                    const __m256 u = _mm256_unpacklo_ps(y[i][0], y[i][1]);
                    const __m256 w = _mm256_unpackhi_ps(y[i][0], y[i][1]);
                    __m256 a = _mm256_permute2f128_ps(u, w, 0x20);
                    __m256 c = _mm256_permute2f128_ps(u, w, 0x31);
                    if (R) {
                        a = _mm256_add_ps(a, _mm256_maskload_ps(R + off, k0));
                        c = _mm256_add_ps(c, _mm256_maskload_ps(R + off + 8, k1));
                    }
                    if (clamp) {
                        a = _mm256_min_ps(vhi, _mm256_max_ps(vlo, a)); /* NaN propagates */
                        c = _mm256_min_ps(vhi, _mm256_max_ps(vlo, c));
                    }
                    _mm256_maskstore_ps(Y + off, k0, a);
                    _mm256_maskstore_ps(Y + off + 8, k1, c);
                }
            }
        }
    }
}

void tsr_cpu_wino_input_tiles_avx2(const float *xp, int64_t plane, int64_t Wp, int64_t C,
                                   int64_t t0, int64_t n_tiles, int64_t tw, float *V, int64_t tbp) {
    const int64_t xs = C * tbp;
    for (int64_t g = 0; g < tbp; g += 8) {
        int32_t off[8];
        for (int j = 0; j < 8; j++) {
            const int64_t t = t0 + g + j < n_tiles ? t0 + g + j : 0;
            off[j] = (int32_t)(2 * (t / tw) * Wp + 2 * (t % tw));
        }
        const __m256i idx = _mm256_loadu_si256((const __m256i *)off);
        for (int64_t c = 0; c < C; c++) {
            const float *xc = xp + c * plane;
            __m256 e[4][4];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                const float *xr = xc + i * Wp;
                tsr_wino2_row(_mm256_i32gather_ps(xr, idx, 4), _mm256_i32gather_ps(xr + 1, idx, 4),
                              _mm256_i32gather_ps(xr + 2, idx, 4),
                              _mm256_i32gather_ps(xr + 3, idx, 4), e[i]);
            }
            tsr_wino2_store_v(e, V + c * tbp + g, xs);
        }
    }
}

void tsr_cpu_wino_output_tiles_avx2(const float *Mb, int64_t mstride, int64_t m0, int64_t m_count,
                                    int64_t tbp, int64_t t0, int64_t n_tiles, int64_t tw,
                                    const float *bias, const float *R, float *Y, int64_t OH,
                                    int64_t OW, int clamp, float lo, float hi) {
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    const int64_t hw = OH * OW;
    for (int64_t g = 0; g < tbp && t0 + g < n_tiles; g += 8) {
        int32_t off[8];
        int ok[2][2][8];
        for (int j = 0; j < 8; j++) {
            const int64_t t = t0 + g + j;
            const int64_t oh = 2 * (t / tw), ow = 2 * (t % tw);
            off[j] = t < n_tiles ? (int32_t)(oh * OW + ow) : 0;
            for (int i = 0; i < 2; i++)
                for (int q = 0; q < 2; q++)
                    ok[i][q][j] = t < n_tiles && oh + i < OH && ow + q < OW;
        }
        const __m256i idx = _mm256_loadu_si256((const __m256i *)off);
        __m256i okv[2][2];
        for (int i = 0; i < 2; i++)
            for (int q = 0; q < 2; q++)
                okv[i][q] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                             _mm256_loadu_si256((const __m256i *)ok[i][q]));
        for (int64_t m = m0; m < m0 + m_count; m++) {
            __m256 y[2][2];
            tsr_wino2_out(Mb + m * tbp + g, mstride, _mm256_set1_ps(bias[m]), y);
            float *ym = Y + m * hw;
            const float *rm = R ? R + m * hw : NULL;
#pragma GCC unroll 2
            for (int i = 0; i < 2; i++)
#pragma GCC unroll 2
                for (int q = 0; q < 2; q++) {
                    const int64_t d = i * OW + q;
                    __m256 v = y[i][q];
                    if (rm)
                        v = _mm256_add_ps(
                            v, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), rm + d, idx,
                                                        _mm256_castsi256_ps(okv[i][q]), 4));
                    if (clamp) v = _mm256_min_ps(vhi, _mm256_max_ps(vlo, v)); /* NaN propagates */
                    _Alignas(32) float s[8];
                    _mm256_store_ps(s, v);
                    for (int j = 0; j < 8; j++) /* no scatter in AVX2 */
                        if (ok[i][q][j]) ym[d + off[j]] = s[j];
                }
        }
    }
}
