/*
 * conv_avx512.c — AVX-512 register tiles of the direct convolution (conv_direct.c).
 *
 * One tile computes MR output channels (32 or 16: two or one zmm) at TW consecutive output
 * pixels of one output row (TW 1..TSR_CONVD_TW), for the whole reduction K = (C/group)*KH*KW:
 *
 *   out[j][o] = bias[o] + sum_k a[k][o] * base[koff[k] + j*SW]        j < TW, o < MR
 *
 * a is the pre-packed weight block [K][32] (MR 16 reads the first 16 of each row) (conv_direct.c
 * packs it once at prepare), base the (padded) input at the tile's first tap, koff[k] the offset of
 * tap k = (ci, kh, kw) in the (padded) input. The accumulators (TW * MR/16 zmm, at most 24) stay in
 * registers for all of K: each k loads MR/16 weight vectors and broadcasts TW input values
 * (embedded-broadcast FMAs), so an iteration issues TW * MR/16 FMAs against MR/16 + TW + 1 loads —
 * FMA-bound for TW >= 6. This is the "vectorise over output channels, broadcast the input pixel"
 * scheme of direct convolution kernels (MLAS's NCHWc kernels, oneDNN's jit_avx512_common_conv,
 * XNNPACK's IGEMM with indirection buffer: koff plays the role of the indirection buffer, shared by
 * all tiles). TW and SW (the output-column stride in input floats: the conv's stride_w, 1 or 2) are
 * compile-time constants of each instantiation, so the j loops unroll and the broadcasts use
 * immediate displacements.
 */
#include "backends/cpu/act_avx512.h"
#include "backends/cpu/conv_direct.h"

#include <immintrin.h>
#include <string.h>

#define TSR_CONVD_ALWAYS_INLINE inline __attribute__((always_inline))

static TSR_CONVD_ALWAYS_INLINE void
tsr_convd_tile32(int64_t K, const float *restrict a, const float *restrict base,
                 const int32_t *restrict koff, const float *restrict bias, float *restrict out,
                 const int TW, const int SW) {
    __m512 c0[TSR_CONVD_TW], c1[TSR_CONVD_TW];
    const __m512 b0 = _mm512_loadu_ps(bias), b1 = _mm512_loadu_ps(bias + 16);
    for (int j = 0; j < TW; j++) {
        c0[j] = b0;
        c1[j] = b1;
    }
    for (int64_t k = 0; k < K; k++) {
        const float *restrict x = base + koff[k];
        const __m512 a0 = _mm512_load_ps(a + 32 * k), a1 = _mm512_load_ps(a + 32 * k + 16);
        for (int j = 0; j < TW; j++) {
            const __m512 v = _mm512_set1_ps(x[j * SW]);
            c0[j] = _mm512_fmadd_ps(a0, v, c0[j]);
            c1[j] = _mm512_fmadd_ps(a1, v, c1[j]);
        }
    }
    for (int j = 0; j < TW; j++) {
        _mm512_store_ps(out + 32 * j, c0[j]);
        _mm512_store_ps(out + 32 * j + 16, c1[j]);
    }
}

static TSR_CONVD_ALWAYS_INLINE void
tsr_convd_tile16(int64_t K, const float *restrict a, const float *restrict base,
                 const int32_t *restrict koff, const float *restrict bias, float *restrict out,
                 const int TW, const int SW) {
    __m512 c0[TSR_CONVD_TW];
    const __m512 b0 = _mm512_loadu_ps(bias);
    for (int j = 0; j < TW; j++)
        c0[j] = b0;
    for (int64_t k = 0; k < K; k++) {
        const float *restrict x = base + koff[k];
        const __m512 a0 = _mm512_load_ps(a + 32 * k); /* first half of a 32-block */
        for (int j = 0; j < TW; j++)
            c0[j] = _mm512_fmadd_ps(a0, _mm512_set1_ps(x[j * SW]), c0[j]);
    }
    for (int j = 0; j < TW; j++)
        _mm512_store_ps(out + 16 * j, c0[j]);
}

#define TSR_CONVD_DEF(MR, SW, TW)                                                                  \
    static void tsr_convd_t##MR##_s##SW##_w##TW(int64_t K, const float *a, const float *base,      \
                                                const int32_t *koff, const float *bias,            \
                                                float *out) {                                      \
        tsr_convd_tile##MR(K, a, base, koff, bias, out, TW, SW);                                   \
    }
#define TSR_CONVD_DEF_WIDTHS(MR, SW)                                                               \
    TSR_CONVD_DEF(MR, SW, 1)                                                                       \
    TSR_CONVD_DEF(MR, SW, 2)                                                                       \
    TSR_CONVD_DEF(MR, SW, 3)                                                                       \
    TSR_CONVD_DEF(MR, SW, 4)                                                                       \
    TSR_CONVD_DEF(MR, SW, 5)                                                                       \
    TSR_CONVD_DEF(MR, SW, 6)                                                                       \
    TSR_CONVD_DEF(MR, SW, 7)                                                                       \
    TSR_CONVD_DEF(MR, SW, 8)                                                                       \
    TSR_CONVD_DEF(MR, SW, 9)                                                                       \
    TSR_CONVD_DEF(MR, SW, 10)                                                                      \
    TSR_CONVD_DEF(MR, SW, 11)                                                                      \
    TSR_CONVD_DEF(MR, SW, 12)
TSR_CONVD_DEF_WIDTHS(32, 1)
TSR_CONVD_DEF_WIDTHS(32, 2)
TSR_CONVD_DEF_WIDTHS(16, 1)
TSR_CONVD_DEF_WIDTHS(16, 2)

#define TSR_CONVD_ROW(MR, SW)                                                                      \
    {                                                                                              \
        NULL, tsr_convd_t##MR##_s##SW##_w1, tsr_convd_t##MR##_s##SW##_w2,                          \
            tsr_convd_t##MR##_s##SW##_w3, tsr_convd_t##MR##_s##SW##_w4,                            \
            tsr_convd_t##MR##_s##SW##_w5, tsr_convd_t##MR##_s##SW##_w6,                            \
            tsr_convd_t##MR##_s##SW##_w7, tsr_convd_t##MR##_s##SW##_w8,                            \
            tsr_convd_t##MR##_s##SW##_w9, tsr_convd_t##MR##_s##SW##_w10,                           \
            tsr_convd_t##MR##_s##SW##_w11, tsr_convd_t##MR##_s##SW##_w12                           \
    }

static const tsr_convd_tile_fn tsr_convd_tiles[2][2][TSR_CONVD_TW + 1] = {
    {TSR_CONVD_ROW(16, 1), TSR_CONVD_ROW(16, 2)},
    {TSR_CONVD_ROW(32, 1), TSR_CONVD_ROW(32, 2)},
};

const tsr_convd_tile_fn *tsr_cpu_convd_tiles_avx512(int mr, int sw) {
    if ((mr != 16 && mr != 32) || (sw != 1 && sw != 2)) return NULL;
    return tsr_convd_tiles[mr == 32][sw == 2];
}

/* ---- depthwise (conv.c) ---- */

/* Lanes [lo, hi) of 16 set, where lane j reads x[start + j]: those with 0 <= start + j < W. */
static TSR_CONVD_ALWAYS_INLINE __mmask16 tsr_dw_mask(int64_t start, int64_t W) {
    const int64_t lo = start < 0 ? -start : 0;
    const int64_t hi = W - start < 16 ? W - start : 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* 16 taps of input row xr at columns start + SW * j (j < 16), zero outside [0, W): masked loads
 * (a masked-off lane reads nothing, so no padding copy is needed); stride 2 takes the even
 * floats of two loads (vpermt2ps). */
static TSR_CONVD_ALWAYS_INLINE __m512 tsr_dw_load(const float *xr, int64_t start, int64_t W,
                                                  const int SW, const int EDGE) {
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    if (!EDGE) { /* every lane inside the row: plain loads */
        if (SW == 1) return _mm512_loadu_ps(xr + start);
        return _mm512_permutex2var_ps(_mm512_loadu_ps(xr + start), even,
                                      _mm512_loadu_ps(xr + start + 16));
    }
    if (SW == 1) return _mm512_maskz_loadu_ps(tsr_dw_mask(start, W), xr + start);
    const __m512 a = _mm512_maskz_loadu_ps(tsr_dw_mask(start, W), xr + start);
    const __m512 b = _mm512_maskz_loadu_ps(tsr_dw_mask(start + 16, W), xr + start + 16);
    return _mm512_permutex2var_ps(a, even, b);
}

/* The epilogue of R x V accumulator chunks (output rows oh .., columns ow0 + 16 v ..): + R,
 * Clip or HardSwish, stored with the lanes past OW masked off. */
static TSR_CONVD_ALWAYS_INLINE void tsr_dw_store(const struct tsr_dw_args *p, __m512 acc[4][4],
                                                 int64_t oh, int64_t ow0, const int V,
                                                 const int R) {
    const __m512 lo = _mm512_set1_ps(p->lo), hi = _mm512_set1_ps(p->hi);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) {
            const int64_t o = ow0 + 16 * v, row = (oh + r) * p->OW;
            const int64_t left = p->OW - o;
            const __mmask16 m = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            __m512 s = acc[r][v];
            if (p->r) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, p->r + row + o));
            if (p->clamp) s = _mm512_min_ps(hi, _mm512_max_ps(lo, s)); /* NaN s propagates */
            if (p->hswish) s = tsr_avx512_hswish(s);
            _mm512_mask_storeu_ps(p->y + row + o, m, s);
        }
}

/* Columns [ow0, ow0 + 16 V) of the R output rows oh .. oh + R - 1 (R x V chunks of 16 in
 * flight: independent FMA chains hide the FMA latency, which a single 9-tap chain does not;
 * lanes past OW are computed and not stored). The tap loop is outermost so each weight is
 * broadcast once for the R rows, and an edge chunk's masks are computed once per tap column. */
static TSR_CONVD_ALWAYS_INLINE void tsr_dw_chunks(const struct tsr_dw_args *p, int64_t oh,
                                                  int64_t ow0, const int SW, const int V,
                                                  const int EDGE, const int R) {
    __m512 acc[4][4];
    const __m512 b0 = _mm512_set1_ps(p->bias ? p->bias[0] : 0.0f);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++)
            acc[r][v] = b0;
    __mmask16 mk[2][16];
    const int table = EDGE && V == 1 && p->KW <= 16;
    if (table)
        for (int64_t kw = 0; kw < p->KW; kw++) {
            const int64_t start = ow0 * SW + kw * p->dw - p->pad_l;
            mk[0][kw] = tsr_dw_mask(start, p->W);
            mk[1][kw] = tsr_dw_mask(start + 16, p->W);
        }
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
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
            const __m512 wv = _mm512_set1_ps(p->w[kh * p->KW + kw]);
            const int64_t off = kw * p->dw - p->pad_l;
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                if (!in[r]) continue;
                if (table) {
                    const float *xs = xr[r] + ow0 * SW + off;
                    __m512 x = _mm512_maskz_loadu_ps(mk[0][kw], xs);
                    if (SW == 2)
                        x = _mm512_permutex2var_ps(x, even,
                                                   _mm512_maskz_loadu_ps(mk[1][kw], xs + 16));
                    acc[r][0] = _mm512_fmadd_ps(wv, x, acc[r][0]);
                    continue;
                }
#pragma GCC unroll 4
                for (int v = 0; v < V; v++)
                    acc[r][v] = _mm512_fmadd_ps(
                        wv, tsr_dw_load(xr[r], (ow0 + 16 * v) * SW + off, p->W, SW, EDGE),
                        acc[r][v]);
            }
        }
    }
    tsr_dw_store(p, acc, oh, ow0, V, R);
}

/* Chunk ch (output columns [16 ch, 16 ch + 16)) reads only inside its rows (no masks needed)
 * when its first tap column is >= 0 and its last load ends inside the row: the last lane reads
 * column (16 ch + 15) * SW + (KW - 1) * dw - pad_l, and stride 2 loads one float more. */
static TSR_CONVD_ALWAYS_INLINE int tsr_dw_interior(const struct tsr_dw_args *p, int64_t ch,
                                                   int SW) {
    const int64_t first = 16 * ch * SW - p->pad_l;
    const int64_t last = (16 * ch + 15) * SW + (SW - 1) + (p->KW - 1) * p->dw - p->pad_l;
    return first >= 0 && last < p->W;
}

/* Output rows [oh, oh + R) of a plane: edge chunks one at a time with masked loads, runs of
 * interior chunks up to 4 at a time with plain loads. */
static TSR_CONVD_ALWAYS_INLINE void tsr_dw_rows(const struct tsr_dw_args *p, int64_t oh,
                                                const int SW, const int R) {
    const int64_t n_chunks = (p->OW + 15) / 16;
    for (int64_t ch = 0; ch < n_chunks;) {
        int64_t run = 0;
        while (run < 4 && ch + run < n_chunks && tsr_dw_interior(p, ch + run, SW))
            run++;
        const int64_t ow0 = 16 * ch;
        if (run == 0)
            tsr_dw_chunks(p, oh, ow0, SW, 1, 1, R);
        else if (run == 4)
            tsr_dw_chunks(p, oh, ow0, SW, 4, 0, R);
        else if (run == 3)
            tsr_dw_chunks(p, oh, ow0, SW, 3, 0, R);
        else if (run == 2)
            tsr_dw_chunks(p, oh, ow0, SW, 2, 0, R);
        else
            tsr_dw_chunks(p, oh, ow0, SW, 1, 0, R);
        ch += run > 0 ? run : 1;
    }
}

/* Rows in groups of 4 (R = 4: 4 .. 16 accumulators), the last OH mod 4 one at a time. */
static TSR_CONVD_ALWAYS_INLINE void tsr_dw_plane(const struct tsr_dw_args *p, const int SW) {
    int64_t oh = 0;
    for (; oh + 4 <= p->OH; oh += 4)
        tsr_dw_rows(p, oh, SW, 4);
    for (; oh < p->OH; oh++)
        tsr_dw_rows(p, oh, SW, 1);
}

/* ---- depthwise KxK (3 or 5) on a padded plane (every tap inside the plane, no masks) ---- */

/* Columns [ow0, ow0 + 16 V) of output rows oh .. oh + R - 1 of a KxK undilated depthwise conv
 * whose every tap lies inside the plane (pad_t = pad_l = 0, all chunks interior: conv.c's padded
 * copy). Input rows are walked once: each of the (R - 1) * SW + K rows the R output rows read is
 * loaded once per tap column and feeds every output row that uses it (up to K), so a row group
 * issues (R - 1) * SW + K instead of K R loads per tap column and vector; the K*K weights stay
 * in registers (R x V accumulators + K*K weights + the loaded vector <= 32 zmm: K 3 R 4 V 4,
 * K 5 R 2 V 2). */
static TSR_CONVD_ALWAYS_INLINE void tsr_dwk_chunks(const struct tsr_dw_args *p, int64_t oh,
                                                   int64_t ow0, const int K, const int SW,
                                                   const int V, const int R) {
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    __m512 wv[25], acc[4][4];
#pragma GCC unroll 25
    for (int t = 0; t < K * K; t++)
        wv[t] = _mm512_set1_ps(p->w[t]);
    const __m512 b0 = _mm512_set1_ps(p->bias ? p->bias[0] : 0.0f);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++)
            acc[r][v] = b0;
    const float *x0 = p->x + oh * SW * p->W + ow0 * SW;
#pragma GCC unroll 11
    for (int i = 0; i < (R - 1) * SW + K; i++) {
        const float *xr = x0 + i * p->W;
#pragma GCC unroll 5
        for (int kw = 0; kw < K; kw++)
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) {
                const float *xs = xr + 16 * v * SW + kw;
                const __m512 x = SW == 1 ? _mm512_loadu_ps(xs)
                                         : _mm512_permutex2var_ps(_mm512_loadu_ps(xs), even,
                                                                  _mm512_loadu_ps(xs + 16));
#pragma GCC unroll 4
                for (int r = 0; r < R; r++) {
                    const int kh = i - r * SW;
                    if (kh >= 0 && kh < K)
                        acc[r][v] = _mm512_fmadd_ps(wv[kh * K + kw], x, acc[r][v]);
                }
            }
    }
    tsr_dw_store(p, acc, oh, ow0, V, R);
}

/* Output rows [oh, oh + R) of the padded plane: chunks VM (K 3: 4, K 5: 2) at a time, the rest
 * as one call. */
static TSR_CONVD_ALWAYS_INLINE void tsr_dwk_rows(const struct tsr_dw_args *p, int64_t oh,
                                                 const int K, const int SW, const int R) {
    const int VM = K == 3 ? 4 : 2;
    const int64_t n_chunks = (p->OW + 15) / 16;
    int64_t ch = 0;
    for (; ch + VM <= n_chunks; ch += VM)
        tsr_dwk_chunks(p, oh, 16 * ch, K, SW, VM, R);
    if (n_chunks - ch == 3)
        tsr_dwk_chunks(p, oh, 16 * ch, K, SW, 3, R);
    else if (n_chunks - ch == 2)
        tsr_dwk_chunks(p, oh, 16 * ch, K, SW, 2, R);
    else if (n_chunks - ch == 1)
        tsr_dwk_chunks(p, oh, 16 * ch, K, SW, 1, R);
}

/* Rows in groups of RM (K 3: 4, K 5: 2), the rest one at a time. */
static TSR_CONVD_ALWAYS_INLINE void tsr_dwk_plane(const struct tsr_dw_args *p, const int K,
                                                  const int SW) {
    const int RM = K == 3 ? 4 : 2;
    int64_t oh = 0;
    for (; oh + RM <= p->OH; oh += RM)
        tsr_dwk_rows(p, oh, K, SW, RM);
    for (; oh < p->OH; oh++)
        tsr_dwk_rows(p, oh, K, SW, 1);
}

/* 1 when p is KxK (3 or 5) undilated with equal strides and every tap of every 16-column chunk
 * lies inside its plane (no padding left or above, rows and columns up to the last chunk's
 * last tap present; stride 2 loads one float more). */
static int tsr_dwk_applies(const struct tsr_dw_args *p) {
    const int64_t n_chunks = (p->OW + 15) / 16;
    return (p->KH == 3 || p->KH == 5) && p->KW == p->KH && p->dh == 1 && p->dw == 1 &&
           p->pad_t == 0 && p->pad_l == 0 && p->sh == p->sw &&
           (p->OH - 1) * p->sh + p->KH <= p->H &&
           (16 * n_chunks - 1) * p->sw + (p->sw - 1) + (p->KW - 1) < p->W;
}

void tsr_cpu_dw_plane_avx512(const struct tsr_dw_args *p) {
    if (tsr_dwk_applies(p)) {
        if (p->KH == 3)
            p->sw == 1 ? tsr_dwk_plane(p, 3, 1) : tsr_dwk_plane(p, 3, 2);
        else
            p->sw == 1 ? tsr_dwk_plane(p, 5, 1) : tsr_dwk_plane(p, 5, 2);
        return;
    }
    if (p->sw == 1)
        tsr_dw_plane(p, 1);
    else
        tsr_dw_plane(p, 2);
}

/* In-register transpose of a 16 x 16 float block: on return r[j] lane i = (old r[i]) lane j.
 * unpack{lo,hi}_ps, then unpack{lo,hi}_pd, then a 4 x 4 transpose of 128-bit lanes
 * (shuffle_f32x4): 64 shuffles per 256 floats, where 16 gathers cost about 4 times as much. */
static TSR_CONVD_ALWAYS_INLINE void tsr_transpose16(__m512 r[16]) {
    __m512 t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* u[4 g + k], 128-bit lane L: rows 4g .. 4g+3 of column 4 L + k */
    __m512 u[16];
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        const __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
        const __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
        u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        const __m512 v0 = _mm512_shuffle_f32x4(u[k], u[4 + k], _MM_SHUFFLE(1, 0, 1, 0));
        const __m512 v1 = _mm512_shuffle_f32x4(u[k], u[4 + k], _MM_SHUFFLE(3, 2, 3, 2));
        const __m512 v2 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], _MM_SHUFFLE(1, 0, 1, 0));
        const __m512 v3 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], _MM_SHUFFLE(3, 2, 3, 2));
        r[0 + k] = _mm512_shuffle_f32x4(v0, v2, _MM_SHUFFLE(2, 0, 2, 0));
        r[4 + k] = _mm512_shuffle_f32x4(v0, v2, _MM_SHUFFLE(3, 1, 3, 1));
        r[8 + k] = _mm512_shuffle_f32x4(v1, v3, _MM_SHUFFLE(2, 0, 2, 0));
        r[12 + k] = _mm512_shuffle_f32x4(v1, v3, _MM_SHUFFLE(3, 1, 3, 1));
    }
}

void tsr_cpu_convd_store_avx512(const float *out, int mr, int tw, int mvalid, float *y,
                                const float *r, int64_t ld, int ep, float lo, float hi) {
    /* per 16 channels: the tile's tw pixel rows of them transposed in registers, so channel
     * o's tw pixels are one vector (a gather per channel row took 6.4 % of a 2048 -> 512 1x1
     * conv chain on 7x7 planes, perf record, 2026-12-07) */
    const __mmask16 m = (__mmask16)((1u << tw) - 1);
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (int h = 0; h < mvalid; h += 16) {
        __m512 v[16];
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            v[j] = j < tw ? _mm512_load_ps(out + j * mr + h) : _mm512_setzero_ps();
        tsr_transpose16(v);
        const int oc = mvalid - h < 16 ? mvalid - h : 16;
        for (int o = 0; o < oc; o++) {
            __m512 x = v[o];
            if (r) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, r + (int64_t)(h + o) * ld));
            if (ep == TSR_EP_CLAMP)
                x = _mm512_min_ps(vhi, _mm512_max_ps(vlo, x)); /* x second: NaN propagates */
            else if (ep == TSR_EP_HSWISH)
                x = tsr_avx512_hswish(x);
            _mm512_mask_storeu_ps(y + (int64_t)(h + o) * ld, m, x);
        }
    }
}

/* ---- Winograd F(2x2, 3x3) transforms (conv_direct.c) ---- */

/* Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR 2016), F(2x2, 3x3):
 * V = B^T d B with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1] on each 4x4 input patch d,
 * Y = A^T M A with A^T = [1 1 1 0; 0 1 -1 -1] on each 4x4 product M. Vectorised over 16 tiles
 * of a tile row: patch column s of tile t is padded column 2 t + s, so the four columns of 16
 * tiles are the even / odd lanes of two 32-float loads (vpermt2ps). */
/* One input row's column transform (d B): the four patch columns c0..c3 of 16 tiles. */
static TSR_CONVD_ALWAYS_INLINE void tsr_wino_row(__m512 c0, __m512 c1, __m512 c2, __m512 c3,
                                                 __m512 e[4]) {
    e[0] = _mm512_sub_ps(c0, c2);
    e[1] = _mm512_add_ps(c1, c2);
    e[2] = _mm512_sub_ps(c2, c1);
    e[3] = _mm512_sub_ps(c1, c3);
}

/* The row transform (B^T (d B)) of 16 tiles' e[i][s], stored as V[a * 4 + s] at v + (a * 4 + s) *
 * xs. */
static TSR_CONVD_ALWAYS_INLINE void tsr_wino_store_v(__m512 e[4][4], float *v, int64_t xs) {
#pragma GCC unroll 4
    for (int s = 0; s < 4; s++) {
        _mm512_storeu_ps(v + (0 * 4 + s) * xs, _mm512_sub_ps(e[0][s], e[2][s]));
        _mm512_storeu_ps(v + (1 * 4 + s) * xs, _mm512_add_ps(e[1][s], e[2][s]));
        _mm512_storeu_ps(v + (2 * 4 + s) * xs, _mm512_sub_ps(e[2][s], e[1][s]));
        _mm512_storeu_ps(v + (3 * 4 + s) * xs, _mm512_sub_ps(e[1][s], e[3][s]));
    }
}

/* y = A^T M A + b for 16 tiles, M[a * 4 + q] loaded from mp + (a * 4 + q) * mstride. */
static TSR_CONVD_ALWAYS_INLINE void tsr_wino_out(const float *mp, int64_t mstride, __m512 b,
                                                 __m512 y[2][2]) {
    __m512 s0[4], s1[4];
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        const __m512 m0 = _mm512_loadu_ps(mp + (0 * 4 + q) * mstride);
        const __m512 m1 = _mm512_loadu_ps(mp + (1 * 4 + q) * mstride);
        const __m512 m2 = _mm512_loadu_ps(mp + (2 * 4 + q) * mstride);
        const __m512 m3 = _mm512_loadu_ps(mp + (3 * 4 + q) * mstride);
        s0[q] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        s1[q] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    y[0][0] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), s0[2]), b);
    y[0][1] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s0[1], s0[2]), s0[3]), b);
    y[1][0] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), s1[2]), b);
    y[1][1] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s1[1], s1[2]), s1[3]), b);
}

void tsr_cpu_wino_input_avx512(const float *xp, int64_t plane, int64_t Wp, int64_t C, int64_t th0,
                               int64_t rows, int64_t twp, float *V, int64_t tbp) {
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (int64_t c = 0; c < C; c++) {
        const float *xc = xp + c * plane;
        for (int64_t r = 0; r < rows; r++) {
            const float *x0 = xc + 2 * (th0 + r) * Wp;
            for (int64_t t0 = 0; t0 < twp; t0 += 16) {
                __m512 e[4][4];
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) {
                    const float *xr = x0 + i * Wp + 2 * t0;
                    const __m512 l0 = _mm512_loadu_ps(xr), l1 = _mm512_loadu_ps(xr + 16);
                    const __m512 l2 = _mm512_loadu_ps(xr + 2), l3 = _mm512_loadu_ps(xr + 18);
                    tsr_wino_row(_mm512_permutex2var_ps(l0, even, l1),
                                 _mm512_permutex2var_ps(l0, odd, l1),
                                 _mm512_permutex2var_ps(l2, even, l3),
                                 _mm512_permutex2var_ps(l2, odd, l3), e[i]);
                }
                /* C * tbp floats between the 16 transformed matrices */
                tsr_wino_store_v(e, V + c * tbp + r * twp + t0, C * tbp);
            }
        }
    }
}

void tsr_cpu_wino_output_avx512(const float *Mb, int64_t mstride, int64_t m_count, int64_t tbp,
                                int64_t th0, int64_t rows, int64_t twp, const float *bias,
                                const float *R, float *Y, int64_t OH, int64_t OW, int clamp,
                                float lo, float hi) {
    const __m512i ilo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i ihi =
        _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    const int64_t hw = OH * OW;
    for (int64_t m = 0; m < m_count; m++) {
        const __m512 b = _mm512_set1_ps(bias[m]);
        for (int64_t r = 0; r < rows; r++) {
            const int64_t oh = 2 * (th0 + r);
            for (int64_t t0 = 0; t0 < twp; t0 += 16) {
                __m512 y[2][2];
                tsr_wino_out(Mb + m * tbp + r * twp + t0, mstride, b, y);
                const int64_t ow0 = 2 * t0;
                const int64_t left0 = OW - ow0, left1 = OW - ow0 - 16;
                const __mmask16 k0 = left0 >= 16 ? (__mmask16)0xffff
                                     : left0 > 0 ? (__mmask16)((1u << left0) - 1)
                                                 : 0;
                const __mmask16 k1 = left1 >= 16 ? (__mmask16)0xffff
                                     : left1 > 0 ? (__mmask16)((1u << left1) - 1)
                                                 : 0;
#pragma GCC unroll 2
                for (int i = 0; i < 2; i++) {
                    if (oh + i >= OH) continue;
                    const int64_t off = m * hw + (oh + i) * OW + ow0;
                    __m512 a = _mm512_permutex2var_ps(y[i][0], ilo, y[i][1]);
                    __m512 c = _mm512_permutex2var_ps(y[i][0], ihi, y[i][1]);
                    if (R) {
                        a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(k0, R + off));
                        c = _mm512_add_ps(c, _mm512_maskz_loadu_ps(k1, R + off + 16));
                    }
                    if (clamp) {
                        a = _mm512_min_ps(vhi, _mm512_max_ps(vlo, a)); /* NaN propagates */
                        c = _mm512_min_ps(vhi, _mm512_max_ps(vlo, c));
                    }
                    _mm512_mask_storeu_ps(Y + off, k0, a);
                    _mm512_mask_storeu_ps(Y + off + 16, k1, c);
                }
            }
        }
    }
}

/* Small planes (tile rows shorter than a vector): tiles are taken in raster order, 16 per
 * vector, through gathers (input patches) and scatters (2x2 outputs); t0 is the first tile of
 * the chunk, n_tiles the image's tiles (tw per tile row), tbp the chunk's tiles (a multiple of 16;
 * lanes past the image's last tile read tile 0 and store nothing). */
void tsr_cpu_wino_input_tiles_avx512(const float *xp, int64_t plane, int64_t Wp, int64_t C,
                                     int64_t t0, int64_t n_tiles, int64_t tw, float *V,
                                     int64_t tbp) {
    const int64_t xs = C * tbp;
    for (int64_t g = 0; g < tbp; g += 16) {
        int32_t off[16];
        for (int j = 0; j < 16; j++) {
            const int64_t t = t0 + g + j < n_tiles ? t0 + g + j : 0;
            off[j] = (int32_t)(2 * (t / tw) * Wp + 2 * (t % tw));
        }
        const __m512i idx = _mm512_loadu_si512(off);
        for (int64_t c = 0; c < C; c++) {
            const float *xc = xp + c * plane;
            __m512 e[4][4];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                const float *xr = xc + i * Wp;
                tsr_wino_row(_mm512_i32gather_ps(idx, xr, 4), _mm512_i32gather_ps(idx, xr + 1, 4),
                             _mm512_i32gather_ps(idx, xr + 2, 4),
                             _mm512_i32gather_ps(idx, xr + 3, 4), e[i]);
            }
            tsr_wino_store_v(e, V + c * tbp + g, xs);
        }
    }
}

void tsr_cpu_wino_output_tiles_avx512(const float *Mb, int64_t mstride, int64_t m0, int64_t m_count,
                                      int64_t tbp, int64_t t0, int64_t n_tiles, int64_t tw,
                                      const float *bias, const float *R, float *Y, int64_t OH,
                                      int64_t OW, int clamp, float lo, float hi) {
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    const int64_t hw = OH * OW;
    for (int64_t g = 0; g < tbp; g += 16) {
        int32_t off[16];
        __mmask16 ok[2][2] = {{0, 0}, {0, 0}};
        for (int j = 0; j < 16; j++) {
            const int64_t t = t0 + g + j;
            const int64_t oh = 2 * (t / tw), ow = 2 * (t % tw);
            off[j] = t < n_tiles ? (int32_t)(oh * OW + ow) : 0;
            for (int i = 0; i < 2; i++)
                for (int q = 0; q < 2; q++)
                    if (t < n_tiles && oh + i < OH && ow + q < OW) ok[i][q] |= (__mmask16)(1u << j);
        }
        const __m512i idx = _mm512_loadu_si512(off);
        for (int64_t m = m0; m < m0 + m_count; m++) {
            __m512 y[2][2];
            tsr_wino_out(Mb + m * tbp + g, mstride, _mm512_set1_ps(bias[m]), y);
            float *ym = Y + m * hw;
            const float *rm = R ? R + m * hw : NULL;
#pragma GCC unroll 2
            for (int i = 0; i < 2; i++)
#pragma GCC unroll 2
                for (int q = 0; q < 2; q++) {
                    const int64_t d = i * OW + q;
                    __m512 v = y[i][q];
                    if (rm)
                        v = _mm512_add_ps(v, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), ok[i][q],
                                                                      idx, rm + d, 4));
                    if (clamp) v = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v)); /* NaN v propagates */
                    _mm512_mask_i32scatter_ps(ym + d, ok[i][q], idx, v, 4);
                }
        }
    }
}

/* ---- depthwise on small planes: 16 channels per vector (conv.c) ---- */

static TSR_CONVD_ALWAYS_INLINE __mmask16 tsr_first_lanes(int64_t n) {
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

/* Output pixels [ow, ow + NP) of row oh from the [Hp][Wp][16] block P and the [taps][16]
 * weights Wv: O[(oh * OW + ow + j) * 16 ..] = bias + sum of the taps, one FMA chain per pixel. */
static TSR_CONVD_ALWAYS_INLINE void tsr_dw_block_pixels(const struct tsr_dw_args *p, const float *P,
                                                        const float *Wv, __m512 bias, int64_t oh,
                                                        int64_t ow, const int NP, float *O) {
    __m512 acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < NP; j++)
        acc[j] = bias;
    const float *base = P + (oh * p->sh * p->Wp + ow * p->sw) * 16;
    const int64_t step = p->sw * 16;
    for (int64_t kh = 0; kh < p->KH; kh++) {
        const float *row = base + kh * p->dh * p->Wp * 16;
        const float *wr = Wv + kh * p->KW * 16;
        for (int64_t kw = 0; kw < p->KW; kw++) {
            const __m512 w = _mm512_load_ps(wr + kw * 16);
            const float *x = row + kw * p->dw * 16;
#pragma GCC unroll 8
            for (int j = 0; j < NP; j++)
                acc[j] = _mm512_fmadd_ps(w, _mm512_load_ps(x + j * step), acc[j]);
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < NP; j++)
        _mm512_store_ps(O + (oh * p->OW + ow + j) * 16, acc[j]);
}

/* tsr_dw_block_pixels for each pixel count NP (1..8), index NP */
#define TSR_DW_BLOCK_PX(NP)                                                                        \
    static void tsr_dw_block_px##NP(const struct tsr_dw_args *p, const float *P, const float *Wv,  \
                                    __m512 bias, int64_t oh, int64_t ow, float *O) {               \
        tsr_dw_block_pixels(p, P, Wv, bias, oh, ow, NP, O);                                        \
    }
TSR_DW_BLOCK_PX(1)
TSR_DW_BLOCK_PX(2)
TSR_DW_BLOCK_PX(3)
TSR_DW_BLOCK_PX(4)
TSR_DW_BLOCK_PX(5)
TSR_DW_BLOCK_PX(6)
TSR_DW_BLOCK_PX(7)
TSR_DW_BLOCK_PX(8)
typedef void (*tsr_dw_block_px_fn)(const struct tsr_dw_args *, const float *, const float *, __m512,
                                   int64_t, int64_t, float *);
static const tsr_dw_block_px_fn tsr_dw_block_px[9] = {NULL,
                                                      tsr_dw_block_px1,
                                                      tsr_dw_block_px2,
                                                      tsr_dw_block_px3,
                                                      tsr_dw_block_px4,
                                                      tsr_dw_block_px5,
                                                      tsr_dw_block_px6,
                                                      tsr_dw_block_px7,
                                                      tsr_dw_block_px8};

void tsr_cpu_dw_pad_plane_avx512(const float *x, int64_t H, int64_t W, int64_t pad_t, int64_t pad_l,
                                 int64_t Hq, int64_t Wq, float *q) {
    int64_t cols = Wq - pad_l < W ? Wq - pad_l : W;
    const int64_t lead = pad_l < Wq ? pad_l : Wq;
    if (cols < 0) cols = 0;
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t i = 0; i < Hq; i++) {
        float *row = q + i * Wq;
        const int64_t ih = i - pad_t;
        if (ih < 0 || ih >= H || cols == 0) {
            for (int64_t j0 = 0; j0 < Wq; j0 += 16)
                _mm512_mask_storeu_ps(row + j0, tsr_first_lanes(Wq - j0), zero);
            continue;
        }
        /* zeros around the row first, then the row itself over them from column lead */
        for (int64_t j0 = 0; j0 < lead; j0 += 16)
            _mm512_mask_storeu_ps(row + j0, tsr_first_lanes(lead - j0), zero);
        for (int64_t j0 = lead + cols; j0 < Wq; j0 += 16)
            _mm512_mask_storeu_ps(row + j0, tsr_first_lanes(Wq - j0), zero);
        const float *src = x + ih * W;
        for (int64_t j0 = 0; j0 < cols; j0 += 16) {
            const __mmask16 m = tsr_first_lanes(cols - j0);
            _mm512_mask_storeu_ps(row + lead + j0, m, _mm512_maskz_loadu_ps(m, src + j0));
        }
    }
}

void tsr_cpu_dw_block16_avx512(const struct tsr_dw_args *p) {
    const int64_t hw = p->H * p->W, ohw = p->OH * p->OW, taps = p->KH * p->KW;
    const int nc = p->nc;
    const __mmask16 cm = tsr_first_lanes(nc);
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i w_idx = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)taps));
    float *P = p->scratch; /* [Hp][Wp][16], zero padding */
    memset(P, 0, (size_t)(p->Hp * p->Wp * 16) * sizeof(float));
    __m512 v[16];
    /* the planes, 16 pixels of the flattened H x W plane at a time (rows end inside a chunk:
     * a 7x7 plane is 4 transposes, not 7), transposed into pixels of 16 channels */
    for (int64_t q0 = 0; q0 < hw; q0 += 16) {
        const int64_t n = hw - q0 < 16 ? hw - q0 : 16;
        const __mmask16 m = tsr_first_lanes(n);
        for (int c = 0; c < 16; c++)
            v[c] = c < nc ? _mm512_maskz_loadu_ps(m, p->x + c * hw + q0) : _mm512_setzero_ps();
        tsr_transpose16(v);
        int64_t ih = q0 / p->W, iw = q0 % p->W;
        for (int64_t j = 0; j < n; j++) {
            _mm512_store_ps(P + ((ih + p->pad_t) * p->Wp + iw + p->pad_l) * 16, v[j]);
            if (++iw == p->W) {
                iw = 0;
                ih++;
            }
        }
    }
    float *Wv = P + p->Hp * p->Wp * 16; /* [taps][16] */
    for (int64_t t = 0; t < taps; t++)
        _mm512_store_ps(Wv + t * 16,
                        _mm512_mask_i32gather_ps(_mm512_setzero_ps(), cm, w_idx, p->w + t, 4));
    float *O = Wv + taps * 16; /* [OH * OW][16]: conv + bias */
    const __m512 bias = p->bias ? _mm512_maskz_loadu_ps(cm, p->bias) : _mm512_setzero_ps();
    for (int64_t oh = 0; oh < p->OH; oh++) {
        int64_t ow = 0;
        /* 8 pixels at a time: 8 independent FMA chains share each tap's weight load; the
         * rest of the row (1-7 pixels) in one call, not one dependent chain per pixel (7x7
         * planes: 960 channels at batch 8, 6 layers, 1.15-3.1 ms that way) */
        for (; ow + 8 <= p->OW; ow += 8)
            tsr_dw_block_px[8](p, P, Wv, bias, oh, ow, O);
        if (ow < p->OW) tsr_dw_block_px[p->OW - ow](p, P, Wv, bias, oh, ow, O);
    }
    /* back to the NCHW planes, 16 pixels of the flattened OH x OW plane at a time: residual,
     * clamp, store */
    const __m512 lo = _mm512_set1_ps(p->lo), hi = _mm512_set1_ps(p->hi);
    for (int64_t q0 = 0; q0 < ohw; q0 += 16) {
        const int64_t n = ohw - q0 < 16 ? ohw - q0 : 16;
        const __mmask16 m = tsr_first_lanes(n);
        const float *src = O + q0 * 16;
        for (int64_t j = 0; j < 16; j++)
            v[j] = j < n ? _mm512_load_ps(src + j * 16) : _mm512_setzero_ps();
        tsr_transpose16(v);
        for (int c = 0; c < nc; c++) {
            const int64_t o = c * ohw + q0;
            __m512 s = v[c];
            if (p->r) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, p->r + o));
            if (p->clamp) s = _mm512_min_ps(hi, _mm512_max_ps(lo, s)); /* NaN s propagates */
            if (p->hswish) s = tsr_avx512_hswish(s);
            _mm512_mask_storeu_ps(p->y + o, m, s);
        }
    }
}

void tsr_cpu_convd_im2col_avx512(const float *x, const int32_t *koff, int64_t K, int64_t Wp,
                                 int64_t sh, int64_t sw, int64_t OW, int64_t p0, int64_t n,
                                 float *col) {
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int64_t j0 = 0; j0 < n;) {
        const int64_t p = p0 + j0, oh = p / OW, ow0 = p % OW;
        const int64_t len = OW - ow0 < n - j0 ? OW - ow0 : n - j0; /* pixels left in this row */
        const float *row = x + oh * sh * Wp + ow0 * sw;
        for (int64_t k = 0; k < K; k++) {
            const float *src = row + koff[k];
            float *dst = col + k * n + j0;
            for (int64_t j = 0; j < len; j += 16) {
                const int64_t left = len - j;
                const __mmask16 m = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
                __m512 v;
                if (sw == 1) {
                    v = _mm512_maskz_loadu_ps(m, src + j);
                } else { /* stride 2: the even floats of 32 (the odd lane past the end unread) */
                    const __mmask16 m2 =
                        left >= 8 ? (__mmask16)0x7fff : (__mmask16)((1u << (2 * left - 1)) - 1);
                    const __mmask16 m3 = left >= 16 ? (__mmask16)0x7fff
                                         : left <= 8
                                             ? (__mmask16)0
                                             : (__mmask16)((1u << (2 * (left - 8) - 1)) - 1);
                    v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m2, src + 2 * j), even,
                                               _mm512_maskz_loadu_ps(m3, src + 2 * j + 16));
                }
                _mm512_mask_storeu_ps(dst + j, m, v);
            }
        }
        j0 += len;
    }
}
