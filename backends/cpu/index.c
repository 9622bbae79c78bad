/*
 * index.c — the CPU kernel of TSR_K_INDEX (issue 9, group "index"; runtime/program.h):
 * GatherElements, ScatterElements, GatherND, ScatterND of any dtype (reductions on float32 /
 * float64 / int32 / int64). Sequential: scatters apply their updates in order (ONNX semantics
 * for duplicate indices); gathers are memory-bound and small in the models tessera runs.
 */
#include "backends/cpu/cpu_exec.h"

#include <string.h>

/* Index j of the indices (int64 when idx64, else int32) made non-negative for an axis of d;
 * -1 when outside [-d, d) (*bad set, *bad_value the first such index). */
static int64_t idx_at(const void *idx, int idx64, int64_t j, int64_t d, int *bad,
                      int64_t *bad_value) {
    int64_t v = idx64 ? ((const int64_t *)idx)[j] : ((const int32_t *)idx)[j];
    if (v < -d || v >= d) {
        if (!*bad) *bad_value = v;
        *bad = 1;
        return -1;
    }
    return v < 0 ? v + d : v;
}

#define RED_CASES(type, yv, uv)                                                                    \
    switch (red) {                                                                                 \
    case TSR_SCATTER_ADD:                                                                          \
        yv = (type)(yv + uv);                                                                      \
        break;                                                                                     \
    case TSR_SCATTER_MUL:                                                                          \
        yv = (type)(yv * uv);                                                                      \
        break;                                                                                     \
    case TSR_SCATTER_MAX:                                                                          \
        yv = uv > yv ? uv : yv;                                                                    \
        break;                                                                                     \
    default:                                                                                       \
        yv = uv < yv ? uv : yv;                                                                    \
        break;                                                                                     \
    }

/* y[o] (reduce)= u[j] in dtype dt (reduction NONE: a byte copy of es bytes). Integer add / mul
 * wrap (through unsigned). */
static void store(tsr_scatter_reduction red, tsr_dtype dt, size_t es, char *y, int64_t o,
                  const char *u, int64_t j) {
    if (red == TSR_SCATTER_NONE) {
        memcpy(y + (size_t)o * es, u + (size_t)j * es, es);
        return;
    }
    switch (dt) {
    case TSR_F32: {
        float *yv = (float *)(void *)y + o, uv = ((const float *)(const void *)u)[j];
        RED_CASES(float, *yv, uv)
        break;
    }
    case TSR_F64: {
        double *yv = (double *)(void *)y + o, uv = ((const double *)(const void *)u)[j];
        RED_CASES(double, *yv, uv)
        break;
    }
    case TSR_I32: {
        int32_t *yv = (int32_t *)(void *)y + o, uv = ((const int32_t *)(const void *)u)[j];
        if (red == TSR_SCATTER_ADD)
            *yv = (int32_t)((uint32_t)*yv + (uint32_t)uv);
        else if (red == TSR_SCATTER_MUL)
            *yv = (int32_t)((uint32_t)*yv * (uint32_t)uv);
        else
            RED_CASES(int32_t, *yv, uv)
        break;
    }
    default: {
        int64_t *yv = (int64_t *)(void *)y + o, uv = ((const int64_t *)(const void *)u)[j];
        if (red == TSR_SCATTER_ADD)
            *yv = (int64_t)((uint64_t)*yv + (uint64_t)uv);
        else if (red == TSR_SCATTER_MUL)
            *yv = (int64_t)((uint64_t)*yv * (uint64_t)uv);
        else
            RED_CASES(int64_t, *yv, uv)
        break;
    }
    }
}

int tsr_cpu_index_run(const struct tsr_kernel *kn, const tsr_dtype *in_dtypes,
                      const void *const *in, void *yv, int64_t *bad_index) {
    const struct tsr_k_index *g = &kn->u.index;
    const size_t es = tsr_dtype_size(kn->dtype);
    const char *x = in[0], *u = kn->n_inputs > 2 ? in[2] : NULL;
    const void *idx = in[1];
    const int idx64 = in_dtypes[1] == TSR_I64;
    char *y = yv;
    int bad = 0;
    int64_t bad_value = 0, nx, ni, ny;
    tsr_index_counts(g, &nx, &ni, &ny);
    if (g->mode == TSR_INDEX_SCATTER_ELEMENTS || g->mode == TSR_INDEX_SCATTER_ND)
        if (nx > 0) memcpy(y, x, (size_t)nx * es);
    if (g->mode <= TSR_INDEX_SCATTER_ELEMENTS) {
        int64_t xs[TSR_MAX_RANK], st = 1, c[TSR_MAX_RANK] = {0};
        for (int d = g->rank - 1; d >= 0; d--) {
            xs[d] = st;
            st *= g->x_dims[d];
        }
        for (int64_t i = 0; i < ni; i++) {
            int64_t off = 0;
            for (int d = 0; d < g->rank; d++)
                if (d != g->axis) off += c[d] * xs[d];
            int64_t v = idx_at(idx, idx64, i, g->x_dims[g->axis], &bad, &bad_value);
            if (g->mode == TSR_INDEX_GATHER_ELEMENTS) {
                if (v < 0)
                    memset(y + (size_t)i * es, 0, es);
                else
                    memcpy(y + (size_t)i * es, x + (size_t)(off + v * xs[g->axis]) * es, es);
            } else if (v >= 0) {
                store(g->reduction, kn->dtype, es, y, off + v * xs[g->axis], u, i);
            }
            for (int d = g->rank - 1; d >= 0; d--) { /* next multi-index of idx_dims */
                if (++c[d] < g->idx_dims[d]) break;
                c[d] = 0;
            }
        }
    } else if (g->mode == TSR_INDEX_ONE_HOT) {
        const int64_t depth = g->x_dims[1], inner = g->inner;
        for (int64_t o = 0; o < g->x_dims[0]; o++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t v = idx64 ? ((const int64_t *)idx)[o * inner + i]
                                  : ((const int32_t *)idx)[o * inner + i];
                if (v < 0) v += depth; /* outside [0, depth) after that: all off */
                for (int64_t d = 0; d < depth; d++)
                    memcpy(y + (size_t)((o * depth + d) * inner + i) * es, x + (d == v ? es : 0),
                           es);
            }
    } else if (g->mode == TSR_INDEX_REVERSE_SEQUENCE) {
        const int64_t d1 = g->x_dims[1], T = g->x_dims[g->axis], inner = g->inner;
        for (int64_t r = 0; r < g->x_dims[0] * d1; r++) {
            int64_t i0 = r / d1, i1 = r % d1, bi = g->axis ? i0 : i1, t = g->axis ? i1 : i0;
            int64_t len = idx64 ? ((const int64_t *)idx)[bi] : ((const int32_t *)idx)[bi];
            char *dst = y + (size_t)(r * inner) * es;
            if (len < 0 || len > T) { /* a length outside [0, T] */
                if (!bad) bad_value = len;
                bad = 1;
                memset(dst, 0, (size_t)inner * es);
                continue;
            }
            int64_t ts = t < len ? len - 1 - t : t;
            int64_t src = g->axis ? i0 * d1 + ts : ts * d1 + i1;
            memcpy(dst, x + (size_t)(src * inner) * es, (size_t)inner * es);
        }
    } else {
        int64_t nd = 1;
        for (int k = 0; k < g->q; k++)
            nd *= g->nd_dims[k];
        for (int64_t b = 0; b < g->batch; b++)
            for (int64_t t = 0; t < g->n_tuples; t++) {
                const int64_t tt = b * g->n_tuples + t;
                int64_t off = 0, ok = 1;
                for (int k = 0; k < g->q; k++) {
                    int64_t v = idx_at(idx, idx64, tt * g->q + k, g->nd_dims[k], &bad, &bad_value);
                    if (v < 0) ok = 0;
                    off = off * g->nd_dims[k] + (v < 0 ? 0 : v);
                }
                off = (b * nd + off) * g->inner;
                if (g->mode == TSR_INDEX_GATHER_ND) {
                    char *dst = y + (size_t)(tt * g->inner) * es;
                    if (ok)
                        memcpy(dst, x + (size_t)off * es, (size_t)g->inner * es);
                    else
                        memset(dst, 0, (size_t)g->inner * es);
                } else if (ok) {
                    for (int64_t e = 0; e < g->inner; e++)
                        store(g->reduction, kn->dtype, es, y, off + e, u, tt * g->inner + e);
                }
            }
    }
    if (bad && bad_index) *bad_index = bad_value;
    return bad;
}
