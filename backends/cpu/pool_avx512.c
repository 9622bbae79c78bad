/*
 * pool_avx512.c — AVX-512 planes of 2-D max / average pooling (pool.c).
 *
 * pool.c copies each input plane into a padded plane (-inf around it for max, 0 for average)
 * large enough that every window tap lies inside it, so the loops here run without a bounds test:
 * one output "item" is 16 consecutive columns of one output row; up to 4 items (of one row, or of
 * several rows when the row is narrow) are computed together so that 4 independent max / add
 * chains are in flight. Column stride 2 takes the even floats of two loads (vpermt2ps); with
 * dilation 1 the odd floats of the same two loads are the next tap, so a 3-wide window costs 2
 * load pairs per row. 3x3 max with stride_h 1 or 2 is separable instead (tsr_pool_sep3): each
 * padded row's 3-tap max is computed once per 16 columns and reused by the output rows it serves.
 * 3x3 and 2x2 undilated windows are compile-time instantiations (tap loops unrolled).
 *
 * Exactness: every lane folds its taps in the scalar path's order (kh outer, kw inner) with
 * tsr_pool_max(tap, acc) = tap > acc ? tap : acc, except that a NaN tap or accumulator gives NaN
 * (np.max; vmaxps returns its second operand, acc, when either is NaN, and a NaN tap is kept by
 * a mask: one vcmpps per tap), starting from -inf: a window holding a NaN gives NaN, a window of
 * padding -inf, and ties between -0 and +0 keep the first, as pool.c's scalar loop and
 * runtime/reference.c. Average adds
 * the taps in the same order (a padded 0 leaves the sum unchanged) and divides by the count in
 * float: bit-identical to the scalar loop.
 */
#include "backends/cpu/cpu_exec.h"

#include <immintrin.h>
#include <math.h>

#define TSR_POOL_ALWAYS_INLINE inline __attribute__((always_inline))
#define TSR_POOL_ITEMS         4

/* The even (ODD 0) or odd (ODD 1) floats of a[0..16) b[0..16) as one vector. */
static TSR_POOL_ALWAYS_INLINE __m512 tsr_pool_deal(__m512 a, __m512 b, const int ODD) {
    const __m512i idx =
        ODD ? _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1)
            : _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    return _mm512_permutex2var_ps(a, idx, b);
}

/* tap > acc ? tap : acc, NaN if either is NaN (see Exactness above). */
static TSR_POOL_ALWAYS_INLINE __m512 tsr_pool_max(__m512 tap, __m512 acc) {
    return _mm512_mask_max_ps(tap, _mm512_cmp_ps_mask(tap, tap, _CMP_ORD_Q), tap, acc);
}

static TSR_POOL_ALWAYS_INLINE __m512 tsr_pool_fold(__m512 tap, __m512 acc, const int MAX) {
    return MAX ? tsr_pool_max(tap, acc) : _mm512_add_ps(acc, tap);
}

/* NI (1..TSR_POOL_ITEMS) items: base[i] is the padded input at the first tap of item i's first
 * column, y[i] its first output, m[i] the lanes to store, cnt[i] (average) the window counts.
 * WIN 2 or 3: the window is WIN x WIN undilated (compile time: the tap loops unroll), 0: KH x KW
 * with dilations dh, dw. */
static TSR_POOL_ALWAYS_INLINE void tsr_pool_items(const float *const *base, float *const *y,
                                                  const __mmask16 *m, const __m512 *cnt, int64_t Wp,
                                                  int64_t KH_, int64_t KW_, int64_t dh_,
                                                  int64_t dw_, const int SW, const int MAX,
                                                  const int NI, const int WIN) {
    const int64_t KH = WIN ? WIN : KH_, KW = WIN ? WIN : KW_;
    const int64_t dh = WIN ? 1 : dh_, dw = WIN ? 1 : dw_;
    __m512 acc[TSR_POOL_ITEMS];
    for (int i = 0; i < NI; i++)
        acc[i] = MAX ? _mm512_set1_ps(-INFINITY) : _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int64_t kh = 0; kh < KH; kh++) {
        const int64_t ro = kh * dh * Wp;
        if (SW == 1) {
#pragma GCC unroll 4
            for (int64_t kw = 0; kw < KW; kw++) {
                const int64_t o = ro + kw * dw;
                for (int i = 0; i < NI; i++)
                    acc[i] = tsr_pool_fold(_mm512_loadu_ps(base[i] + o), acc[i], MAX);
            }
        } else if (dw == 1) {
            /* taps kw and kw + 1: the even and odd floats of one load pair */
#pragma GCC unroll 4
            for (int64_t kw = 0; kw < KW; kw += 2) {
                const int64_t o = ro + kw;
                const int two = kw + 1 < KW;
                for (int i = 0; i < NI; i++) {
                    const __m512 a = _mm512_loadu_ps(base[i] + o);
                    const __m512 b = _mm512_loadu_ps(base[i] + o + 16);
                    acc[i] = tsr_pool_fold(tsr_pool_deal(a, b, 0), acc[i], MAX);
                    if (two) acc[i] = tsr_pool_fold(tsr_pool_deal(a, b, 1), acc[i], MAX);
                }
            }
        } else {
            for (int64_t kw = 0; kw < KW; kw++) {
                const int64_t o = ro + kw * dw;
                for (int i = 0; i < NI; i++) {
                    const __m512 a = _mm512_loadu_ps(base[i] + o);
                    const __m512 b = _mm512_loadu_ps(base[i] + o + 16);
                    acc[i] = tsr_pool_fold(tsr_pool_deal(a, b, 0), acc[i], MAX);
                }
            }
        }
    }
    for (int i = 0; i < NI; i++) {
        __m512 s = acc[i];
        if (!MAX) {
            /* count 0 (a window with nothing to count): 0 */
            const __mmask16 nz = _mm512_cmp_ps_mask(cnt[i], _mm512_setzero_ps(), _CMP_NEQ_OQ);
            s = _mm512_maskz_div_ps(nz, s, cnt[i]);
        }
        _mm512_mask_storeu_ps(y[i], m[i], s);
    }
}

static TSR_POOL_ALWAYS_INLINE void tsr_pool_plane(const struct tsr_cpu_pool_plane *pp,
                                                  const float *restrict xp, float *restrict y,
                                                  const int SW, const int MAX, const int WIN) {
    const int64_t OH = pp->OH, OW = pp->OW, chunks = (OW + 15) / 16;
    const float *base[TSR_POOL_ITEMS];
    float *yo[TSR_POOL_ITEMS];
    __mmask16 m[TSR_POOL_ITEMS];
    __m512 cnt[TSR_POOL_ITEMS];
    const int64_t tail = OW - 16 * (chunks - 1);
    const __mmask16 last = tail >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << tail) - 1);
    int n = 0;
    /* items in row-major order of (output row, 16-column chunk), TSR_POOL_ITEMS at a time */
    for (int64_t oh = 0; oh < OH; oh++) {
        const float *xr = xp + oh * pp->sh * pp->Wp;
        for (int64_t c = 0; c < chunks; c++) {
            const int64_t ow0 = 16 * c;
            base[n] = xr + ow0 * SW;
            yo[n] = y + oh * OW + ow0;
            m[n] = c == chunks - 1 ? last : (__mmask16)0xffff;
            if (!MAX)
                cnt[n] = _mm512_mul_ps(_mm512_set1_ps(pp->rowcnt[oh]),
                                       _mm512_maskz_loadu_ps(m[n], pp->colcnt + ow0));
            if (++n == TSR_POOL_ITEMS) {
                tsr_pool_items(base, yo, m, cnt, pp->Wp, pp->KH, pp->KW, pp->dh, pp->dw, SW, MAX,
                               TSR_POOL_ITEMS, WIN);
                n = 0;
            }
        }
    }
    if (n == 3)
        tsr_pool_items(base, yo, m, cnt, pp->Wp, pp->KH, pp->KW, pp->dh, pp->dw, SW, MAX, 3, WIN);
    else if (n == 2)
        tsr_pool_items(base, yo, m, cnt, pp->Wp, pp->KH, pp->KW, pp->dh, pp->dw, SW, MAX, 2, WIN);
    else if (n == 1)
        tsr_pool_items(base, yo, m, cnt, pp->Wp, pp->KH, pp->KW, pp->dh, pp->dw, SW, MAX, 1, WIN);
}

/* ---- 3x3 max, stride_h 1 or 2: separable ---- */

/* Max of taps kw = 0, 1, 2 of one padded row at p (first-wins chain from -inf; NaN propagates). */
static TSR_POOL_ALWAYS_INLINE __m512 tsr_pool_hmax3(const float *p, const int SW) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    if (SW == 1) {
        __m512 t = tsr_pool_max(_mm512_loadu_ps(p), ninf);
        t = tsr_pool_max(_mm512_loadu_ps(p + 1), t);
        return tsr_pool_max(_mm512_loadu_ps(p + 2), t);
    }
    const __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
    __m512 t = tsr_pool_max(tsr_pool_deal(a, b, 0), ninf);
    t = tsr_pool_max(tsr_pool_deal(a, b, 1), t);
    return tsr_pool_max(tsr_pool_deal(_mm512_loadu_ps(p + 2), _mm512_loadu_ps(p + 18), 0), t);
}

/* NC (1..4) 16-column chunks from output column ow0, all output rows: each padded row's 3-tap
 * max h is computed once (with stride_h 1 it serves three output rows, with 2 two), then
 * y = max(h[row 2], max(h[row 1], h[row 0])). Both folds keep the first maximum, so the result is
 * the first maximum of the window in (kh, kw) order, or NaN when the window holds one: the same
 * value and bits as the scalar chain. */
static TSR_POOL_ALWAYS_INLINE void tsr_pool_sep3_cols(const struct tsr_cpu_pool_plane *pp,
                                                      const float *restrict xp, float *restrict y,
                                                      int64_t ow0, __mmask16 last, const int SW,
                                                      const int SH, const int NC) {
    const int64_t Wp = pp->Wp, OW = pp->OW;
    const float *x0 = xp + ow0 * SW;
    __m512 ha[4], hb[4], hc[4];
    for (int c = 0; c < NC; c++)
        ha[c] = tsr_pool_hmax3(x0 + 16 * SW * c, SW);
    if (SH == 1)
        for (int c = 0; c < NC; c++)
            hb[c] = tsr_pool_hmax3(x0 + Wp + 16 * SW * c, SW);
    for (int64_t oh = 0; oh < pp->OH; oh++) {
        const float *xr = x0 + (oh * SH + 1) * Wp;
        float *yo = y + oh * OW + ow0;
        for (int c = 0; c < NC; c++) {
            if (SH == 2) hb[c] = tsr_pool_hmax3(xr + 16 * SW * c, SW);
            hc[c] = tsr_pool_hmax3(xr + Wp + 16 * SW * c, SW);
            const __m512 o = tsr_pool_max(hc[c], tsr_pool_max(hb[c], ha[c]));
            _mm512_mask_storeu_ps(yo + 16 * c, c == NC - 1 ? last : (__mmask16)0xffff, o);
            if (SH == 1) {
                ha[c] = hb[c];
                hb[c] = hc[c];
            } else {
                ha[c] = hc[c];
            }
        }
    }
}

static TSR_POOL_ALWAYS_INLINE void tsr_pool_sep3(const struct tsr_cpu_pool_plane *pp,
                                                 const float *restrict xp, float *restrict y,
                                                 const int SW, const int SH) {
    const int64_t OW = pp->OW, chunks = (OW + 15) / 16;
    const int64_t tail = OW - 16 * (chunks - 1);
    const __mmask16 last = tail >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << tail) - 1);
    int64_t c = 0;
    for (; c + 4 < chunks; c += 4)
        tsr_pool_sep3_cols(pp, xp, y, 16 * c, 0xffff, SW, SH, 4);
    const int64_t left = chunks - c;
    if (left == 4)
        tsr_pool_sep3_cols(pp, xp, y, 16 * c, last, SW, SH, 4);
    else if (left == 3)
        tsr_pool_sep3_cols(pp, xp, y, 16 * c, last, SW, SH, 3);
    else if (left == 2)
        tsr_pool_sep3_cols(pp, xp, y, 16 * c, last, SW, SH, 2);
    else
        tsr_pool_sep3_cols(pp, xp, y, 16 * c, last, SW, SH, 1);
}

#define TSR_POOL_SEP3_DEF(SW, SH)                                                                  \
    static void tsr_pool_sep3_s##SW##_h##SH(const struct tsr_cpu_pool_plane *pp, const float *xp,  \
                                            float *y) {                                            \
        tsr_pool_sep3(pp, xp, y, SW, SH);                                                          \
    }
TSR_POOL_SEP3_DEF(1, 1)
TSR_POOL_SEP3_DEF(1, 2)
TSR_POOL_SEP3_DEF(2, 1)
TSR_POOL_SEP3_DEF(2, 2)

/* ---- the padded copy ---- */

static TSR_POOL_ALWAYS_INLINE void tsr_pool_span_fill(float *o, int64_t n, __m512 v) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(o + i, v);
    if (i < n) _mm512_mask_storeu_ps(o + i, (__mmask16)((1u << (n - i)) - 1), v);
}

static TSR_POOL_ALWAYS_INLINE void tsr_pool_span_copy(float *o, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(o + i, _mm512_loadu_ps(x + i));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(o + i, m, _mm512_maskz_loadu_ps(m, x + i));
    }
}

void tsr_cpu_pool_pad_avx512(const float *x, int64_t H, int64_t W, int64_t pad_t, int64_t pad_l,
                             int64_t Wp, int64_t total, float padv, float *xp) {
    const __m512 v = _mm512_set1_ps(padv);
    float *o = xp;
    /* the rows above and the first row's left padding, then each row and the padding up to the
     * next row's first input column (the last row: up to the end) */
    tsr_pool_span_fill(o, pad_t * Wp + pad_l, v);
    o += pad_t * Wp + pad_l;
    for (int64_t h = 0; h < H; h++) {
        tsr_pool_span_copy(o, x + h * W, W);
        o += W;
        const int64_t gap = h + 1 < H ? Wp - W : total - (o - xp);
        tsr_pool_span_fill(o, gap, v);
        o += gap;
    }
}

#define TSR_POOL_DEF(SW, MAX, WIN)                                                                 \
    static void tsr_pool_plane_s##SW##_m##MAX##_w##WIN(const struct tsr_cpu_pool_plane *pp,        \
                                                       const float *xp, float *y) {                \
        tsr_pool_plane(pp, xp, y, SW, MAX, WIN);                                                   \
    }
#define TSR_POOL_DEF_WINS(SW, MAX)                                                                 \
    TSR_POOL_DEF(SW, MAX, 0)                                                                       \
    TSR_POOL_DEF(SW, MAX, 2)                                                                       \
    TSR_POOL_DEF(SW, MAX, 3)
TSR_POOL_DEF_WINS(1, 0)
TSR_POOL_DEF_WINS(1, 1)
TSR_POOL_DEF_WINS(2, 0)
TSR_POOL_DEF_WINS(2, 1)

typedef void (*tsr_pool_plane_fn)(const struct tsr_cpu_pool_plane *, const float *, float *);
#define TSR_POOL_ROW(SW, MAX)                                                                      \
    {                                                                                              \
        tsr_pool_plane_s##SW##_m##MAX##_w0, tsr_pool_plane_s##SW##_m##MAX##_w2,                    \
            tsr_pool_plane_s##SW##_m##MAX##_w3                                                     \
    }
/* [sw == 2][is_max][window: generic, 2x2, 3x3] */
static const tsr_pool_plane_fn tsr_pool_planes[2][2][3] = {
    {TSR_POOL_ROW(1, 0), TSR_POOL_ROW(1, 1)},
    {TSR_POOL_ROW(2, 0), TSR_POOL_ROW(2, 1)},
};

void tsr_cpu_pool_plane_avx512(const struct tsr_cpu_pool_plane *pp, const float *xp, float *y) {
    const int undilated = pp->dh == 1 && pp->dw == 1 && pp->KH == pp->KW;
    const int win = undilated && pp->KH == 3 ? 2 : undilated && pp->KH == 2 ? 1 : 0;
    if (win == 2 && pp->is_max && (pp->sh == 1 || pp->sh == 2)) {
        if (pp->sw == 1)
            (pp->sh == 1 ? tsr_pool_sep3_s1_h1 : tsr_pool_sep3_s1_h2)(pp, xp, y);
        else
            (pp->sh == 1 ? tsr_pool_sep3_s2_h1 : tsr_pool_sep3_s2_h2)(pp, xp, y);
        return;
    }
    tsr_pool_planes[pp->sw == 2][pp->is_max != 0][win](pp, xp, y);
}
