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

void tsr_cpu_dw_plane_avx2(const struct tsr_dw_args *p) {
    if (p->sw == 1)
        tsr_dw2_plane(p, 1);
    else
        tsr_dw2_plane(p, 2);
}
