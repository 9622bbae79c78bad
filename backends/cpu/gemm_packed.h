/*
 * gemm_packed.h — GEMM on weights packed once at prepare (gemm_packed.c) and its AVX-512
 * register tile (gemm_avx512.c).
 *
 * For a GEMM whose B is a constant (a MatMul / Gemm weight), OpenBLAS packs B again on every
 * call (and tessera calls it once per pool task); here B is packed once into column panels of
 * TSR_GEMMP_NR floats, [n_panels][K][NR] (zero columns past N), alpha folded in, and each run
 * streams the panels through 8 x 48 register tiles with the epilogue (bias row, residual,
 * ReLU / Clip / HardSwish) applied in registers. The tile is chosen by the ISA tier: AVX-512
 * (gemm_avx512.c) or AVX2+FMA (gemm_avx2.c); the scalar tier leaves these GEMMs to OpenBLAS.
 */
#ifndef TSR_CPU_GEMM_PACKED_H
#define TSR_CPU_GEMM_PACKED_H

#include "runtime/program.h"

#include <stddef.h>
#include <stdint.h>

#define TSR_GEMMP_NR 48 /* columns per packed panel = per register tile */
#define TSR_GEMMP_MR 8  /* rows per register tile */

/* One register tile (gemm_avx512.c): for i < rows (1..8), n < cols (1..48):
 * y[i * ldy + n] = clamp(beta * c[n] + sum_{k < K} a[i * lda + k] * bp[k * 48 + n]
 * (+ r[i * ldr + n])); c NULL: no bias row; r NULL: no residual (r may be y); `clamp` is the
 * epilogue (cpu_exec.h TSR_EP_*): clamp to [lo, hi], HardSwish, or none. a: row-major rows of A
 * (only `rows` rows are read); bp: one packed panel. */
void tsr_cpu_gemm_tile_avx512(int64_t K, const float *a, int64_t lda, const float *bp,
                              const float *c, float beta, const float *r, int64_t ldr, float *y,
                              int64_t ldy, int rows, int cols, int clamp, float lo, float hi);
/* The same tile with AVX2+FMA only (gemm_avx2.c), for hosts without AVX-512. */
void tsr_cpu_gemm_tile_avx2(int64_t K, const float *a, int64_t lda, const float *bp, const float *c,
                            float beta, const float *r, int64_t ldr, float *y, int64_t ldy,
                            int rows, int cols, int clamp, float lo, float hi);
/* The AVX2 tile with a row bias instead of the column bias row (conv.c's register-tile path:
 * one bias per output channel): y[i * ldy + n] = clamp(bias[i] + sum_{k < K} a[i * lda + k] *
 * bp[k * 48 + n] (+ r[i * ldr + n])), bias NULL: none. Same rows / cols / r / clamp contract. */
void tsr_cpu_conv_tile_avx2(int64_t K, const float *a, int64_t lda, const float *bp,
                            const float *bias, const float *r, int64_t ldr, float *y, int64_t ldy,
                            int rows, int cols, int clamp, float lo, float hi);

/* Weights of one GEMM kernel packed at prepare; immutable afterwards (concurrent runs share). */
struct tsr_cpu_gemmp {
    struct tsr_k_gemm g;
    int64_t n_panels; /* ceil(N / 48) */
    float *bp;        /* [n_panels][K][48] = alpha * B', 64-byte aligned */
};

/* 1 when the packed path handles g (isa: the tier, cpu_backend.h tsr_cpu_isa, AVX2 or
 * AVX-512; 0 for the scalar tier): B packable (the caller checks it is a
 * constant), A not transposed, K > 0, M >= 2 (M = 1 is gemm.c's GEMV), B shared by every batch,
 * C absent or a row vector broadcast over M (c_stride_m = 0, c_stride_n = 1, c_stride_b = 0). */
int tsr_cpu_gemmp_supported(int isa, const struct tsr_k_gemm *g);
/* Packs B (B [K][ldb], or B^T [N][ldb] when trans_b) for g into a new *out: 0, or -1 when out of
 * memory (nothing allocated). Free with tsr_cpu_gemmp_free. */
int tsr_cpu_gemmp_prepare(const struct tsr_k_gemm *g, const float *B, struct tsr_cpu_gemmp **out);
void tsr_cpu_gemmp_free(struct tsr_cpu_gemmp *p);

struct tsr_cpu_env;
/* Y [batch][M][N] = act(A . B' + beta * C + R) with the packed B; R NULL or like Y (may be Y).
 * Tasks of 32 rows x all of N run on env->pool; with fewer row tasks than 2 per thread the
 * column panels are split among tasks too. */
void tsr_cpu_gemmp_run(const struct tsr_cpu_env *env, const struct tsr_cpu_gemmp *p, const float *A,
                       const float *C, const float *R, float *Y);

/* Batched products whose B varies per batch (attention's Q.K^T and P.V: 96 x [128 x 32] .
 * [32 x 128] in MiniLM at batch 8): OpenBLAS packs both operands on every small sgemm, so these
 * run on the register tile instead, one task per batch, B packed into the thread's scratch
 * (env->scratch, thread_id's block). Handled when the tier is AVX2 or AVX-512, A not
 * transposed, K > 0, M >= 2, batch >= 2 with B per batch (stride_b != 0), C absent or a row
 * vector shared by every batch, 2MNK <= TSR_GEMMB_MAX_FLOPS per batch and the packed B <=
 * TSR_GEMMB_MAX_PACK_FLOATS: tsr_cpu_gemmb_scratch_floats returns the packed B's floats, else 0. */
#define TSR_GEMMB_MAX_FLOPS       (64.0 * 1024 * 1024)
#define TSR_GEMMB_MAX_PACK_FLOATS (128 * 1024)
size_t tsr_cpu_gemmb_scratch_floats(int isa, const struct tsr_k_gemm *g);
/* Y [batch][M][N] = act(A . B' + beta * C + R) for g as above, with env->scratch_floats >=
 * tsr_cpu_gemmb_scratch_floats(isa, g) (the caller checks): per-batch tasks on env->pool. */
void tsr_cpu_gemmb_run(const struct tsr_cpu_env *env, const struct tsr_k_gemm *g, const float *A,
                       const float *B, const float *C, const float *R, float *Y);

/* A 1x1 convolution of 1x1 planes, one group, no padding (the fully connected layers of a
 * squeeze-excitation block): fills *g with the GEMM Y [N, M] = act(X [N, C] . W [M, C]^T + bias
 * row + R) over c's images and returns 1; 0 (g untouched) for any other conv. */
int tsr_cpu_conv_as_gemm(const struct tsr_k_conv *c, struct tsr_k_gemm *g);

#endif
