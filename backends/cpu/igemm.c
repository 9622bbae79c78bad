/*
 * igemm.c — packing and the task split of the integer GEMM (igemm.h).
 *
 * Tasks: row blocks of TSR_IGEMM_MB rows x groups of column panels (more groups when there are
 * fewer row blocks than 2 per thread, e.g. M = 1); inside a task every panel streams through the
 * block's register tiles, so the A block stays in L2 and each B panel in L1/L2.
 */
#include "backends/cpu/igemm.h"

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/threadpool.h"
#include "runtime/internal.h"
#include "runtime/quant.h"

#include <stdlib.h>
#include <string.h>

#define TSR_IGEMM_MB      (8 * TSR_IGEMM_MR)      /* rows per task */
#define TSR_IGEMM_VNNI_MB (8 * TSR_IGEMM_VNNI_MR) /* rows per task, VNNI format */

int tsr_cpu_igemm_use_vnni(int isa) {
    return isa >= TSR_ISA_AVX512 && tsr_cpu_has_avx512_vnni();
}

/* The VNNI panel's tail after its bytes: zb' then colsum(b') - K zb', VNNI_NR int32 each. */
static int32_t *vnni_b_tail(const struct tsr_cpu_igemm_b *b) {
    return (int32_t *)((int8_t *)b->bp + b->n_panels * b->Kp * TSR_IGEMM_VNNI_NR * 4);
}

static int pack_b_vnni(int64_t K, int64_t N, tsr_dtype bt, const void *B, int64_t ldb,
                       const void *zb, int64_t zb_len, struct tsr_cpu_igemm_b *out) {
    out->Kp = (K + 3) / 4;
    out->n_panels = (N + TSR_IGEMM_VNNI_NR - 1) / TSR_IGEMM_VNNI_NR;
    const size_t cols = (size_t)out->n_panels * TSR_IGEMM_VNNI_NR;
    const size_t nb = (size_t)(out->n_panels * out->Kp) * TSR_IGEMM_VNNI_NR * 4;
    const size_t bytes = nb + 2 * cols * sizeof(int32_t);
    out->bp = tsr_aligned_alloc(bytes > 0 ? bytes : 1);
    if (!out->bp) return -1;
    memset(out->bp, 0, bytes > 0 ? bytes : 1);
    int8_t *bq = out->bp;
    int32_t *zbv = vnni_b_tail(out), *cz = zbv + cols;
    const int32_t shift = bt == TSR_U8 ? 128 : 0; /* b' = b - shift */
    for (int64_t j = 0; j < N; j++) {
        const int64_t pnl = j / TSR_IGEMM_VNNI_NR, c = j % TSR_IGEMM_VNNI_NR;
        int8_t *col = bq + pnl * out->Kp * TSR_IGEMM_VNNI_NR * 4 + c * 4;
        uint32_t sum = 0;
        for (int64_t k = 0; k < K; k++) {
            const int32_t v = tsr_quant_get(bt, B, k * ldb + j) - shift;
            col[(k / 4) * TSR_IGEMM_VNNI_NR * 4 + (k & 3)] = (int8_t)v;
            sum += (uint32_t)v;
        }
        const int32_t z = (zb ? tsr_quant_get(bt, zb, zb_len > 1 ? j : 0) : 0) - shift;
        zbv[j] = z;
        cz[j] = (int32_t)(sum - (uint32_t)K * (uint32_t)z); /* wraps: see igemm.h */
    }
    return 0;
}

int tsr_cpu_igemm_pack_b(int vnni, int64_t K, int64_t N, tsr_dtype bt, const void *B, int64_t ldb,
                         const void *zb, int64_t zb_len, struct tsr_cpu_igemm_b *out) {
    memset(out, 0, sizeof *out);
    out->K = K;
    out->N = N;
    out->vnni = vnni != 0;
    if (vnni) return pack_b_vnni(K, N, bt, B, ldb, zb, zb_len, out);
    out->Kp = (K + 1) / 2;
    out->n_panels = (N + TSR_IGEMM_NR - 1) / TSR_IGEMM_NR;
    const size_t n = (size_t)(out->n_panels * out->Kp) * TSR_IGEMM_NR * 2;
    int16_t *bp = tsr_aligned_alloc((n > 0 ? n : 1) * sizeof(int16_t));
    if (!bp) return -1;
    out->bp = bp;
    memset(bp, 0, (n > 0 ? n : 1) * sizeof(int16_t));
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < N; j++) {
            const int32_t z = zb ? tsr_quant_get(bt, zb, zb_len > 1 ? j : 0) : 0;
            const int64_t pnl = j / TSR_IGEMM_NR, c = j % TSR_IGEMM_NR;
            bp[((pnl * out->Kp + k / 2) * TSR_IGEMM_NR + c) * 2 + (k & 1)] =
                (int16_t)(tsr_quant_get(bt, B, k * ldb + j) - z);
        }
    return 0;
}

void tsr_cpu_igemm_b_free(struct tsr_cpu_igemm_b *b) {
    if (!b) return;
    tsr_aligned_free(b->bp);
    b->bp = NULL;
}

size_t tsr_cpu_igemm_a_bytes(int vnni, int64_t M, int64_t K) {
    if (vnni) return (size_t)(M * ((K + 3) / 4) * 4) + 2 * (size_t)M * sizeof(int32_t);
    return (size_t)(M * ((K + 1) / 2) * 2) * sizeof(int16_t);
}

static void pack_a_vnni(int64_t M, int64_t K, tsr_dtype at, const void *A, const void *za,
                        int64_t za_len, uint8_t *ap) {
    const int64_t ld = (K + 3) / 4 * 4;
    int32_t *rs = (int32_t *)(ap + M * ld), *zav = rs + M;
    for (int64_t m = 0; m < M; m++) {
        uint8_t *row = ap + m * ld;
        uint32_t sum = 0;
        if (at == TSR_U8) {
            const uint8_t *s = (const uint8_t *)A + m * K;
            for (int64_t k = 0; k < K; k++) {
                row[k] = s[k];
                sum += s[k];
            }
        } else { /* a' = a + 128: the sign bit flipped */
            const int8_t *s = (const int8_t *)A + m * K;
            for (int64_t k = 0; k < K; k++) {
                row[k] = (uint8_t)(s[k] + 128);
                sum += row[k];
            }
        }
        for (int64_t k = K; k < ld; k++)
            row[k] = 0;
        rs[m] = (int32_t)sum;
        zav[m] = (za ? tsr_quant_get(at, za, za_len > 1 ? m : 0) : 0) + (at == TSR_I8 ? 128 : 0);
    }
}

void tsr_cpu_igemm_pack_a(int vnni, int64_t M, int64_t K, tsr_dtype at, const void *A,
                          const void *za, int64_t za_len, void *ap_) {
    if (vnni) {
        pack_a_vnni(M, K, at, A, za, za_len, ap_);
        return;
    }
    int16_t *ap = ap_;
    const int64_t ld = (K + 1) / 2 * 2;
    for (int64_t m = 0; m < M; m++) {
        const int32_t z = za ? tsr_quant_get(at, za, za_len > 1 ? m : 0) : 0;
        int16_t *row = ap + m * ld;
        if (at == TSR_U8) {
            const uint8_t *s = (const uint8_t *)A + m * K;
            for (int64_t k = 0; k < K; k++)
                row[k] = (int16_t)(s[k] - z);
        } else {
            const int8_t *s = (const int8_t *)A + m * K;
            for (int64_t k = 0; k < K; k++)
                row[k] = (int16_t)(s[k] - z);
        }
        if (K & 1) row[K] = 0;
    }
}

struct igemm_job {
    int64_t M, n_groups, panels_per_group;
    const void *ap;
    const struct tsr_cpu_igemm_b *b;
    int32_t *c;
    int64_t ldc;
    tsr_cpu_igemm_epi_fn epi;
    void *arg;
};

static void store_tile(const struct igemm_job *j, int64_t m0, int64_t n0, int rows, int cols,
                       const int32_t *t, int ldt) {
    if (j->epi) {
        j->epi(j->arg, m0, n0, rows, cols, t, ldt);
        return;
    }
    for (int i = 0; i < rows; i++)
        memcpy(j->c + (m0 + i) * j->ldc + n0, t + i * ldt, (size_t)cols * sizeof(int32_t));
}

/* Task `task`'s rows [m_lo, m_hi) (blocks of mb) and panels [p_lo, p_hi). */
static void task_range(const struct igemm_job *j, size_t task, int64_t mb, int64_t *m_lo,
                       int64_t *m_hi, int64_t *p_lo, int64_t *p_hi) {
    const int64_t np = j->b->n_panels;
    *m_lo = (int64_t)task / j->n_groups * mb;
    *m_hi = *m_lo + mb < j->M ? *m_lo + mb : j->M;
    *p_lo = (int64_t)task % j->n_groups * j->panels_per_group;
    *p_hi = *p_lo + j->panels_per_group < np ? *p_lo + j->panels_per_group : np;
}

static void igemm_task_vnni(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    const struct igemm_job *j = arg;
    const struct tsr_cpu_igemm_b *b = j->b;
    const int64_t lda = b->Kp * 4;
    const uint8_t *ap = j->ap;
    const int32_t *rs = (const int32_t *)(ap + j->M * lda), *za = rs + j->M;
    const int32_t *zb = vnni_b_tail(b), *cz = zb + b->n_panels * TSR_IGEMM_VNNI_NR;
    int64_t m_lo, m_hi, p_lo, p_hi;
    task_range(j, task, TSR_IGEMM_VNNI_MB, &m_lo, &m_hi, &p_lo, &p_hi);
    _Alignas(64) int32_t t[TSR_IGEMM_VNNI_MR * TSR_IGEMM_VNNI_NR];
    for (int64_t pnl = p_lo; pnl < p_hi; pnl++) {
        const int8_t *bq = (const int8_t *)b->bp + pnl * b->Kp * TSR_IGEMM_VNNI_NR * 4;
        const int64_t n0 = pnl * TSR_IGEMM_VNNI_NR;
        const int cols = (int)(b->N - n0 < TSR_IGEMM_VNNI_NR ? b->N - n0 : TSR_IGEMM_VNNI_NR);
        for (int64_t m0 = m_lo; m0 < m_hi; m0 += TSR_IGEMM_VNNI_MR) {
            const int rows = (int)(m_hi - m0 < TSR_IGEMM_VNNI_MR ? m_hi - m0 : TSR_IGEMM_VNNI_MR);
            tsr_cpu_igemm_tile_vnni(b->Kp, ap + m0 * lda, lda, bq, rs + m0, za + m0, zb + n0,
                                    cz + n0, t, rows);
            store_tile(j, m0, n0, rows, cols, t, TSR_IGEMM_VNNI_NR);
        }
    }
}

static void igemm_task(void *arg, size_t task, int thread_id) {
    (void)thread_id;
    const struct igemm_job *j = arg;
    const struct tsr_cpu_igemm_b *b = j->b;
    const int64_t lda = b->Kp * 2;
    int64_t m_lo, m_hi, p_lo, p_hi;
    task_range(j, task, TSR_IGEMM_MB, &m_lo, &m_hi, &p_lo, &p_hi);
    _Alignas(32) int32_t t[TSR_IGEMM_MR * TSR_IGEMM_NR];
    for (int64_t pnl = p_lo; pnl < p_hi; pnl++) {
        const int16_t *bp = (const int16_t *)b->bp + pnl * b->Kp * TSR_IGEMM_NR * 2;
        const int64_t n0 = pnl * TSR_IGEMM_NR;
        const int cols = (int)(b->N - n0 < TSR_IGEMM_NR ? b->N - n0 : TSR_IGEMM_NR);
        for (int64_t m0 = m_lo; m0 < m_hi; m0 += TSR_IGEMM_MR) {
            const int rows = (int)(m_hi - m0 < TSR_IGEMM_MR ? m_hi - m0 : TSR_IGEMM_MR);
            tsr_cpu_igemm_tile_avx2(b->Kp, (const int16_t *)j->ap + m0 * lda, lda, bp, t, rows);
            store_tile(j, m0, n0, rows, cols, t, TSR_IGEMM_NR);
        }
    }
}

void tsr_cpu_igemm_run(struct tsr_cpu_pool *pool, int64_t M, const void *ap,
                       const struct tsr_cpu_igemm_b *b, int32_t *c, int64_t ldc,
                       tsr_cpu_igemm_epi_fn epi, void *arg) {
    if (M <= 0 || b->N <= 0) return;
    if (b->K == 0) { /* empty sum */
        _Alignas(32) int32_t t[TSR_IGEMM_MR * TSR_IGEMM_NR] = {0};
        for (int64_t m0 = 0; m0 < M; m0 += TSR_IGEMM_MR)
            for (int64_t n0 = 0; n0 < b->N; n0 += TSR_IGEMM_NR) {
                const int rows = (int)(M - m0 < TSR_IGEMM_MR ? M - m0 : TSR_IGEMM_MR);
                const int cols = (int)(b->N - n0 < TSR_IGEMM_NR ? b->N - n0 : TSR_IGEMM_NR);
                if (epi)
                    epi(arg, m0, n0, rows, cols, t, TSR_IGEMM_NR);
                else
                    for (int i = 0; i < rows; i++)
                        memset(c + (m0 + i) * ldc + n0, 0, (size_t)cols * sizeof(int32_t));
            }
        return;
    }
    const int64_t mb = b->vnni ? TSR_IGEMM_VNNI_MB : TSR_IGEMM_MB;
    const int64_t m_blocks = (M + mb - 1) / mb;
    const int64_t want = 2 * (int64_t)tsr_cpu_pool_threads(pool);
    int64_t n_groups = m_blocks >= want ? 1 : (want + m_blocks - 1) / m_blocks;
    if (n_groups > b->n_panels) n_groups = b->n_panels;
    const int64_t ppg = (b->n_panels + n_groups - 1) / n_groups;
    n_groups = (b->n_panels + ppg - 1) / ppg;
    struct igemm_job j = {M, n_groups, ppg, ap, b, c, ldc, epi, arg};
    tsr_cpu_pool_parallel_for(pool, (size_t)(m_blocks * n_groups),
                              b->vnni ? igemm_task_vnni : igemm_task, &j);
}
