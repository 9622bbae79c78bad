/* memplan.c — liveness intervals and arena offsets (see memplan.h). */
#include "runtime/checked.h"
#include "runtime/memplan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Above this many intermediates only the by-first-step orders are tried (see tsr_memplan). */
#define TSR_MEMPLAN_FULL_SEARCH 4096

struct interval {
    int buf;
    int first, last; /* half steps, inclusive */
    size_t bytes;    /* aligned */
    size_t offset;   /* result of the current try */
};

static size_t align64(size_t n) {
    return (n + 63) & ~(size_t)63;
}

/* Does region input j have exactly the output's layout (no broadcast)? */
static int ew_same_layout(const struct tsr_k_ew *ew, int j) {
    int64_t st = 1;
    for (int d = ew->rank - 1; d >= 0; d--) {
        if (ew->dims[d] != 1 && ew->strides[j][d] != st) return 0;
        st *= ew->dims[d];
    }
    return 1;
}

/* May kernel k write its output over input j (read at the half step before the write)? Only an
 * elementwise kernel, for an input of exactly the output's layout and element size: element i is
 * then read before element i is written, at the same bytes. */
static int in_place_input(const struct tsr_program *p, const struct tsr_kernel *k, int j) {
    if (k->kind != TSR_K_EW || !ew_same_layout(&k->u.ew, j)) return 0;
    return tsr_dtype_size(p->buffers[k->inputs[j]].desc.dtype) ==
           tsr_dtype_size(p->buffers[k->output].desc.dtype);
}

static int overlaps(const struct interval *a, const struct interval *b) {
    return !(a->last < b->first || b->last < a->first);
}

static int by_size(const void *x, const void *y) {
    const struct interval *a = *(const struct interval *const *)x,
                          *b = *(const struct interval *const *)y;
    if (a->bytes != b->bytes) return a->bytes < b->bytes ? 1 : -1;
    return a->buf - b->buf;
}
static int by_first(const void *x, const void *y) {
    const struct interval *a = *(const struct interval *const *)x,
                          *b = *(const struct interval *const *)y;
    if (a->first != b->first) return a->first - b->first;
    return by_size(x, y);
}
static int by_area(const void *x, const void *y) {
    const struct interval *a = *(const struct interval *const *)x,
                          *b = *(const struct interval *const *)y;
    double ra = (double)a->bytes * (a->last - a->first + 1),
           rb = (double)b->bytes * (b->last - b->first + 1);
    if (ra != rb) return ra < rb ? 1 : -1;
    return by_size(x, y);
}

/* In-place partners: intervals that meet only at an elementwise kernel's half step (one's last
 * read at 2k, the other written from 2k+1 on: a same-layout input and that kernel's output). They
 * may share bytes only EXACTLY: same offset, so each element is read before the same element is
 * written. A shifted overlap is wrong: element i of the output lands on another input element,
 * which a parallel kernel (OpenCL work-items, CPU threads) may not have read yet. */
static int partners(const struct interval *a, const struct interval *b) {
    return a->last + 1 == b->first || b->last + 1 == a->first;
}

/* May x go at offset `off` given its conflicting placed intervals c[0..nc)? Partners must be at
 * exactly `off` or disjoint; every other conflict disjoint. */
static int fits_at(const struct interval *x, size_t off, struct interval *const *c, int nc) {
    for (int k = 0; k < nc; k++) {
        if (partners(c[k], x) && c[k]->offset == off) continue;
        if (off < c[k]->offset + c[k]->bytes && c[k]->offset < off + x->bytes) return 0;
    }
    return 1;
}

/* Placement modes: lowest offset that fits (first fit), smallest gap that fits (best fit), or
 * alternately lowest and highest under a ceiling (the lower bound): the last packs chains of
 * producer/consumer buffers from both ends, which is optimal for a path of intervals. In every
 * mode a buffer goes exactly onto an in-place partner when it fits there (no new bytes); otherwise
 * partners are kept disjoint like any other conflict. */
enum { FIT_FIRST = 0, FIT_BEST = 1, FIT_ALTERNATE = 2 };

/* Places order[0..n) one by one; returns the arena size. sweep: order is by first step
 * (by_first), so a placed interval that ended before x's start minus one (neither overlapping
 * nor a partner) conflicts with no later one either and leaves the candidate list: the cost is
 * then O(n x the intervals live at once) instead of O(n^2), with the same result. */
static size_t place(struct interval **order, int n, int mode, size_t ceiling, int sweep,
                    struct interval **placed) {
    size_t arena = 0;
    int n_placed = 0;
    for (int i = 0; i < n; i++) {
        struct interval *x = order[i];
        if (sweep) { /* stable: the candidates keep their order, so the result is the same */
            int kept = 0;
            for (int j = 0; j < n_placed; j++)
                if (placed[j]->last + 1 >= x->first) placed[kept++] = placed[j];
            n_placed = kept;
        }
        /* Conflicting placed buffers, sorted by offset (insertion sort: n is small). */
        int nc = 0;
        for (int j = 0; j < n_placed; j++) {
            if (!overlaps(placed[j], x) && !partners(placed[j], x)) continue;
            struct interval *c = placed[j];
            int k = nc++;
            while (k > 0 && placed[n + k - 1]->offset > c->offset) {
                placed[n + k] = placed[n + k - 1];
                k--;
            }
            placed[n + k] = c;
        }
        struct interval *const *conf = &placed[n];
        size_t best = SIZE_MAX;
        int aliased = 0;
        for (int k = 0; k < nc && !aliased; k++)
            if (partners(conf[k], x) && fits_at(x, conf[k]->offset, conf, nc)) {
                best = conf[k]->offset;
                aliased = 1;
            }
        int top = mode == FIT_ALTERNATE && (i & 1);
        size_t best_gap = SIZE_MAX, cursor = 0;
        for (int k = 0; k <= nc && !aliased; k++) {
            size_t gap_end = k < nc ? conf[k]->offset : SIZE_MAX;
            if (top && gap_end > ceiling) gap_end = ceiling;
            if (gap_end >= cursor && gap_end - cursor >= x->bytes) {
                size_t gap = gap_end - cursor;
                if (top) {
                    best = gap_end - x->bytes; /* highest so far: keep the last one */
                } else if (mode != FIT_BEST) {
                    best = cursor;
                    break;
                } else if (best == SIZE_MAX || gap < best_gap) {
                    best_gap = gap;
                    best = cursor;
                }
            }
            if (k < nc && conf[k]->offset + conf[k]->bytes > cursor)
                cursor = conf[k]->offset + conf[k]->bytes;
        }
        if (best == SIZE_MAX) best = cursor; /* top side found no room under the ceiling */
        x->offset = best;
        placed[n_placed++] = x;
        if (best + x->bytes > arena) arena = best + x->bytes;
    }
    return arena;
}

tsr_status tsr_memplan(tsr_context *ctx, struct tsr_program *p) {
    struct interval *iv = calloc((size_t)p->n_buffers + 1, sizeof *iv);
    int *slot = malloc(sizeof(int) * ((size_t)p->n_buffers + 1));
    struct interval **order = malloc(sizeof *order * ((size_t)p->n_buffers + 1));
    struct interval **scratch = malloc(sizeof *scratch * (2 * (size_t)p->n_buffers + 2));
    size_t *best_off = malloc(sizeof *best_off * ((size_t)p->n_buffers + 1));
    int64_t *live_delta = calloc(2 * (size_t)p->n_kernels + 3, sizeof *live_delta);
    tsr_status st = TSR_OK;
    if (!iv || !slot || !order || !scratch || !best_off || !live_delta) {
        st = TSR_ERR(ctx, TSR_E_NOMEM, "memory plan: out of memory");
        goto done;
    }
    int n = 0;
    for (int b = 0; b < p->n_buffers; b++) {
        slot[b] = -1;
        if (p->buffers[b].kind != TSR_BUF_TEMP) continue;
        slot[b] = n;
        iv[n] = (struct interval){
            .buf = b, .first = -1, .last = -1, .bytes = align64(p->buffers[b].bytes)};
        n++;
    }
    for (int ki = 0; ki < p->n_kernels; ki++) {
        const struct tsr_kernel *k = &p->kernels[ki];
        int so = slot[k->output], t = 2 * ki + 1;
        if (so >= 0 && iv[so].first < 0) iv[so].first = t;
        if (so >= 0 && iv[so].last < t) iv[so].last = t;
        for (int j = 0; j < k->n_inputs; j++) {
            int si = slot[k->inputs[j]];
            int tr = in_place_input(p, k, j) ? 2 * ki : t;
            if (si >= 0 && iv[si].last < tr) iv[si].last = tr;
        }
    }
    for (int i = 0; i < n; i++)
        if (iv[i].first < 0) iv[i].first = 0; /* never written: live from the start */
    size_t bound = 0, total = 0;
    for (int i = 0; i < n; i++) {
        /* each is at most TSR_MAX_TENSOR_BYTES (tsr_desc_size); their sum is checked once here,
         * so no offset of the placement below can overflow */
        if (tsr_add_size(total, iv[i].bytes, &total) || total > TSR_MAX_TENSOR_BYTES) {
            st = TSR_ERR(ctx, TSR_E_SHAPE,
                         "memory plan: the %d intermediates need more than 2^62 bytes together", n);
            goto done;
        }
    }
    /* The most bytes live at one half step (a lower bound of the arena): a sweep over the
     * half steps of the bytes that start and end there. */
    for (int i = 0; i < n; i++) {
        live_delta[iv[i].first] += (int64_t)iv[i].bytes;
        live_delta[iv[i].last + 1] -= (int64_t)iv[i].bytes;
    }
    int64_t live = 0;
    for (int t = 0; t <= 2 * p->n_kernels; t++) {
        live += live_delta[t];
        if ((size_t)live > bound) bound = (size_t)live;
    }
    int (*const cmps[])(const void *, const void *) = {by_size, by_first, by_area};
    /* Large programs: by first step only (swept: O(n x the intervals live at once)); the other
     * orders scan every placed interval for each one, O(n^2). */
    const int large = n > TSR_MEMPLAN_FULL_SEARCH;
    size_t best = SIZE_MAX;
    for (int c = large; c < (large ? 2 : 3) && best > bound; c++)
        for (int fit = 0; fit < 3 && best > bound; fit++) {
            for (int i = 0; i < n; i++)
                order[i] = &iv[i];
            qsort(order, (size_t)n, sizeof *order, cmps[c]);
            size_t arena = place(order, n, fit, bound, cmps[c] == by_first, scratch);
            if (arena < best) {
                best = arena;
                for (int i = 0; i < n; i++)
                    best_off[i] = iv[i].offset;
            }
        }
    /* Then random visiting orders (xorshift, fixed seed: plans are reproducible), as many as
     * keep the work near 2e7 interval comparisons. */
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    long tries = n > 0 ? 20000000L / ((long)n * n + 1) : 0;
    if (tries > 64) tries = 64;
    for (long r = 0; r < tries && best > bound; r++) {
        for (int i = 0; i < n; i++)
            order[i] = &iv[i];
        for (int i = n - 1; i > 0; i--) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            int j = (int)(seed % (uint64_t)(i + 1));
            struct interval *t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        size_t arena = place(order, n, (int)(r % 3), bound, 0, scratch);
        if (arena < best) {
            best = arena;
            for (int i = 0; i < n; i++)
                best_off[i] = iv[i].offset;
        }
    }
    if (n == 0) best = 0;
    for (int i = 0; i < n; i++)
        p->buffers[iv[i].buf].offset = best_off[i];
    p->arena_bytes = best;
    p->arena_lower_bound_bytes = bound;
    p->unplanned_bytes = total;
done:
    free(iv);
    free(slot);
    free(order);
    free(scratch);
    free(best_off);
    free(live_delta);
    return st;
}
