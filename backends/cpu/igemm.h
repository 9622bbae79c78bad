/*
 * igemm.h — integer GEMM of the quantized ops (issue 13): C [M, N] int32 = (A - a_zp) [M, K] .
 * (B - b_zp) [K, N], A and B uint8 or int8, zero points per tensor or per row of A / column of
 * B. Two formats, chosen when B is packed (`vnni`), both equal to the scalar reference bit for
 * bit (K <= 33025 keeps the int32 sum of 255 x 255 products exact):
 *
 * - k-pair int16 (AVX2 tier and AVX-512 without VNNI): both operands are widened to int16
 *   after the zero point is subtracted (|v| <= 255) and stored as k-pairs, so vpmaddwd adds two
 *   17-bit products into an int32 lane exactly. Packed B [n_panels][Kp][TSR_IGEMM_NR][2] int16
 *   (Kp = ceil(K / 2), zero columns past N and a zero k past an odd K); packed A [M][Kp][2]
 *   int16. Register tile TSR_IGEMM_MR x TSR_IGEMM_NR (igemm_avx2.c).
 * - k-quad bytes (AVX-512 VNNI, `vpdpbusd`: four uint8 x int8 products summed into an int32
 *   lane, exact, no saturation). The operands keep their bytes, shifted into vpdpbusd's
 *   signedness: a' = a + 128 for int8 A (uint8 as is), b' = b - 128 for uint8 B (int8 as is),
 *   the zero points with them (za' = za + 128, zb' = zb - 128), so a - za = a' - za' and
 *   b - zb = b' - zb'. The zero points are applied after the dot product (as in Jacob et al.
 *   2018, "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only
 *   Inference", eq. 7-8):
 *       C = sum_k a'b' - zb' * rowsum(a') - za' * (colsum(b') - K * zb'),
 *   in wrapping int32 arithmetic, exact because the true C fits. Packed B [n_panels][Kq]
 *   [TSR_IGEMM_VNNI_NR][4] int8 (Kq = ceil(K / 4), zero bytes past K and N) with per-column
 *   zb' and colsum(b') - K zb'; packed A [M][Kq][4] uint8 then rowsum(a') [M] and za' [M]
 *   int32. Register tile TSR_IGEMM_VNNI_MR x TSR_IGEMM_VNNI_NR (igemm_avx512.c).
 *
 * B is packed once when it is a constant (cpu_backend.c prepare), otherwise per run. Callers:
 * MatMulInteger / QLinearMatMul (quant.c), later ConvInteger / QLinearConv.
 */
#ifndef TSR_CPU_IGEMM_H
#define TSR_CPU_IGEMM_H

#include "tessera.h"

#include <stddef.h>
#include <stdint.h>

#define TSR_IGEMM_NR      16 /* columns per packed panel = per register tile */
#define TSR_IGEMM_MR      6  /* rows per register tile */
#define TSR_IGEMM_VNNI_NR 64 /* columns per packed panel = per register tile (4 zmm) */
#define TSR_IGEMM_VNNI_MR 6  /* rows per register tile */

/* B packed for the tile; immutable after packing (concurrent runs share it). */
struct tsr_cpu_igemm_b {
    int64_t K, N;
    int64_t Kp;       /* k-pairs (vnni 0) or k-quads (vnni 1) per panel */
    int64_t n_panels; /* of TSR_IGEMM_NR (vnni 0) or TSR_IGEMM_VNNI_NR (vnni 1) columns */
    int vnni;         /* the format: 0 k-pair int16, 1 k-quad bytes */
    void *bp; /* vnni 0: int16 [n_panels][Kp][NR][2]; vnni 1: int8 [n_panels][Kp][VNNI_NR][4],
                 then int32 zb' [n_panels * VNNI_NR] and colsum(b') - K zb' [same]; 64-byte
                 aligned, NULL when not packed */
};

/* 1 when CPU tier `isa` (cpu_backend.h tsr_cpu_isa) packs for the VNNI tile: AVX-512 in use and
 * tsr_cpu_has_avx512_vnni(). */
int tsr_cpu_igemm_use_vnni(int isa);

/* Packs B (bt U8 / I8, [K][ldb] row-major, columns 0..N-1) with its zero point zb (bt, zb_len
 * 1 or N values; NULL: 0) into *out (bp allocated) in the format `vnni` picks. Returns 0, or -1
 * when out of memory (nothing allocated). */
int tsr_cpu_igemm_pack_b(int vnni, int64_t K, int64_t N, tsr_dtype bt, const void *B, int64_t ldb,
                         const void *zb, int64_t zb_len, struct tsr_cpu_igemm_b *out);
void tsr_cpu_igemm_b_free(struct tsr_cpu_igemm_b *b);

/* Bytes of packed A for M x K in format `vnni`. */
size_t tsr_cpu_igemm_a_bytes(int vnni, int64_t M, int64_t K);
/* Packs A (at U8 / I8, [M][K] row-major) with za (za_len 1 or M values; NULL: 0) into ap
 * (tsr_cpu_igemm_a_bytes(vnni, M, K) bytes, 4-byte aligned) in format `vnni`. */
void tsr_cpu_igemm_pack_a(int vnni, int64_t M, int64_t K, tsr_dtype at, const void *A,
                          const void *za, int64_t za_len, void *ap);

/* Epilogue of one tile: t [rows][ldt] int32 holds C[m0 + i][n0 + j] for i < rows, j < cols. */
typedef void (*tsr_cpu_igemm_epi_fn)(void *arg, int64_t m0, int64_t n0, int rows, int cols,
                                     const int32_t *t, int ldt);

struct tsr_cpu_pool;
/* C = packed A (M rows, b's format) . packed B, every tile handed to epi (NULL: stored into c
 * [M][ldc]). Tasks of row blocks x column-panel groups run on pool (NULL: inline). Thread-safe for
 * distinct outputs; epi must be safe to call concurrently for distinct tiles. */
void tsr_cpu_igemm_run(struct tsr_cpu_pool *pool, int64_t M, const void *ap,
                       const struct tsr_cpu_igemm_b *b, int32_t *c, int64_t ldc,
                       tsr_cpu_igemm_epi_fn epi, void *arg);

/* One register tile (igemm_avx2.c): t[i][n] = sum_{kp < Kp} of the pair products of a row i
 * (a + i * lda, lda in int16) and the panel bp, i < rows (1..MR), all NR columns. */
void tsr_cpu_igemm_tile_avx2(int64_t Kp, const int16_t *a, int64_t lda, const int16_t *bp,
                             int32_t *t, int rows);
/* One VNNI register tile (igemm_avx512.c): t[i][n] (row stride TSR_IGEMM_VNNI_NR) = the
 * zero-point-corrected sum over kq < Kq of the quad products of row i (a + i * lda, lda in bytes)
 * and the panel bq, i < rows (1..VNNI_MR), all VNNI_NR columns; rs / za: rowsum(a') and za' of
 * those rows; zb / cz: the panel's zb' and colsum(b') - K zb'. */
void tsr_cpu_igemm_tile_vnni(int64_t Kq, const uint8_t *a, int64_t lda, const int8_t *bq,
                             const int32_t *rs, const int32_t *za, const int32_t *zb,
                             const int32_t *cz, int32_t *t, int rows);
/* The dequantize epilogue of one tile (quant.c, program.h deq) at the AVX-512 tier
 * (igemm_avx512.c): y[i][j] = (float)t[i][j] [* scale] [+ bias] for i < rows, j < cols, the
 * operands of scale_len / bias_len = 1 or cols values (from the tile's first column; NULL:
 * absent), each step rounded to float as the unfused Cast, Mul and Add (no FMA); t row stride
 * ldt, y row stride ldy (elements). */
void tsr_cpu_igemm_deq_avx512(const int32_t *t, int ldt, int rows, int cols, const float *scale,
                              int64_t scale_len, const float *bias, int64_t bias_len, float *y,
                              int64_t ldy);

#endif
