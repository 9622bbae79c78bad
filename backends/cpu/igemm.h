/*
 * igemm.h — integer GEMM of the quantized ops (issue 13): C [M, N] int32 = (A - a_zp) [M, K] .
 * (B - b_zp) [K, N], A and B uint8 or int8, zero points per tensor or per row of A / column of
 * B. Both operands are widened to int16 after the zero point is subtracted (|v| <= 255) and
 * stored as k-pairs, so vpmaddwd adds two 17-bit products into an int32 lane exactly: results
 * equal the scalar reference bit for bit (K <= 33025 keeps the int32 sum exact).
 *
 * Layouts: packed B [n_panels][Kp][TSR_IGEMM_NR][2] int16 (Kp = ceil(K / 2), zero columns past
 * N and a zero k past an odd K); packed A [M][Kp][2] int16. B is packed once when it is a
 * constant (cpu_backend.c prepare), otherwise per run. The AVX2 register tile is
 * TSR_IGEMM_MR x TSR_IGEMM_NR (igemm_avx2.c). Callers: MatMulInteger / QLinearMatMul (quant.c),
 * later ConvInteger / QLinearConv.
 */
#ifndef TSR_CPU_IGEMM_H
#define TSR_CPU_IGEMM_H

#include "tessera.h"

#include <stddef.h>
#include <stdint.h>

#define TSR_IGEMM_NR 16 /* columns per packed panel = per register tile */
#define TSR_IGEMM_MR 6  /* rows per register tile */

/* B packed for the tile; immutable after packing (concurrent runs share it). */
struct tsr_cpu_igemm_b {
    int64_t K, N, Kp, n_panels;
    int16_t *bp; /* [n_panels][Kp][NR][2], 64-byte aligned */
};

/* Packs B (bt U8 / I8, [K][ldb] row-major, columns 0..N-1) minus its zero point zb (bt, zb_len
 * 1 or N values; NULL: 0) into *out (bp allocated). Returns 0, or -1 when out of memory (nothing
 * allocated). */
int tsr_cpu_igemm_pack_b(int64_t K, int64_t N, tsr_dtype bt, const void *B, int64_t ldb,
                         const void *zb, int64_t zb_len, struct tsr_cpu_igemm_b *out);
void tsr_cpu_igemm_b_free(struct tsr_cpu_igemm_b *b);

/* int16 elements of packed A for M x K. */
size_t tsr_cpu_igemm_a_elems(int64_t M, int64_t K);
/* Packs A (at U8 / I8, [M][K] row-major) minus za (za_len 1 or M values; NULL: 0) into ap. */
void tsr_cpu_igemm_pack_a(int64_t M, int64_t K, tsr_dtype at, const void *A, const void *za,
                          int64_t za_len, int16_t *ap);

/* Epilogue of one tile: t [rows][TSR_IGEMM_NR] int32 holds C[m0 + i][n0 + j] for i < rows,
 * j < cols. */
typedef void (*tsr_cpu_igemm_epi_fn)(void *arg, int64_t m0, int64_t n0, int rows, int cols,
                                     const int32_t *t);

struct tsr_cpu_pool;
/* C = packed A (M rows) . packed B, every tile handed to epi (NULL: stored into c [M][ldc]).
 * Tasks of row blocks x column-panel groups run on pool (NULL: inline). Thread-safe for distinct
 * outputs; epi must be safe to call concurrently for distinct tiles. */
void tsr_cpu_igemm_run(struct tsr_cpu_pool *pool, int64_t M, const int16_t *ap,
                       const struct tsr_cpu_igemm_b *b, int32_t *c, int64_t ldc,
                       tsr_cpu_igemm_epi_fn epi, void *arg);

/* One register tile (igemm_avx2.c): t[i][n] = sum_{kp < Kp} of the pair products of a row i
 * (a + i * lda, lda in int16) and the panel bp, i < rows (1..MR), all NR columns. */
void tsr_cpu_igemm_tile_avx2(int64_t Kp, const int16_t *a, int64_t lda, const int16_t *bp,
                             int32_t *t, int rows);

#endif
