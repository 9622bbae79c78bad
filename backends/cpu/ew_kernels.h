/*
 * ew_kernels.h — the CPU elementwise kernel dispatch table: one table per ISA tier
 * (ew_scalar.c, ew_avx2.c, ew_avx512.c), each compiled with its own ISA flags.
 *
 * All kernels work on f32 arrays of n elements (n may be 0 or any size: tails are handled with
 * masks on AVX-512 and a scalar remainder on AVX2). Input and output may be the same array
 * (exact aliasing: y == x, y == a or y == b); partial overlap is not allowed. No alignment is
 * required. Kernels are pure functions of their arguments: thread-safe, allocate nothing.
 *
 * Accuracy (measured by tests/check_cpu_kernels.c against double-precision libm; unless noted
 * the test's tolerance is 3e-7 relative, about 2.5 ulp, plus 1e-37 absolute):
 *   ADD SUB MUL DIV RELU COPY SQRT LEAKY_RELU CLIP NEG: exact (IEEE single-precision rounding,
 *     identical on every tier).
 *   scalar tier: libm (expf, logf, tanhf, erff, erfcf, powf); SIGMOID 1 / (1 + expf(-x)),
 *     GELU 0.5 x erfc(-x / sqrt 2) (no cancellation for negative x), GELU_TANH
 *     x / (1 + expf(-2u)) (see ew_vmath.h).
 *   AVX2/AVX-512 exp: Cephes expf range reduction and polynomial (see ew_avx2.c); measured max
 *     relative error 1.12e-7 (about 1 ulp) on a 20001-point grid over [-87, 88.5]; below -87.3
 *     the result underflows through the denormals to 0 (absolute error < 1.2e-38), above 88.72 it
 *     is +inf; NaN propagates.
 *   AVX2/AVX-512 SIGMOID: 1 / (1 + exp(-x)), on AVX-512 the reciprocal by vrcp14ps and one
 *     Newton-Raphson step (no division): measured max relative error 1.3e-7 (AVX2) and 1.43e-7
 *     (AVX-512) on [-12, 12]. AVX-512 exp scales by 2^n with vscalefps (one rounding).
 *   AVX2/AVX-512 TANH: Cephes tanhf: odd polynomial for |x| < 0.625, 1 - 2 / (exp(2|x|) + 1)
 *     otherwise, sign restored: measured max relative error 1.2e-7 on [-12, 12].
 *   AVX2/AVX-512 LOG, ERF, GELU, GELU_TANH, POW: algorithms in ew_vmath.h; measured errors in
 *     tests/check_cpu_kernels.c (header comment), which prints them on every run.
 */
#ifndef TSR_CPU_EW_KERNELS_H
#define TSR_CPU_EW_KERNELS_H

#include "backends/cpu/cpu_backend.h"
#include "runtime/program.h"

#include <stddef.h>

/* y[i] = op(x[i]) for unary ops; p0, p1 are the instruction's immediates (struct tsr_ew_instr:
 * LEAKY_RELU alpha = p0, CLIP min = p0 and max = p1), ignored by the other ops. */
typedef void (*tsr_cpu_unary_fn)(size_t n, const float *x, float *y, float p0, float p1);
/* y[i] = op(a[i], b[i]) (binary_vv), op(a[i], *b) (binary_vs), op(*a, b[i]) (binary_sv).
 * POW: C99 powf semantics (negative base with an integer exponent is defined, e.g. (-3)^2 = 9,
 * (-3)^3 = -27; with a non-integer exponent NaN); the vector tiers compute an integer scalar
 * exponent (binary_vs, |b| <= 16) by repeated multiplication. */
typedef void (*tsr_cpu_binary_fn)(size_t n, const float *a, const float *b, float *y);

struct tsr_cpu_ew_kernels {
    tsr_cpu_isa isa;
    /* Indexed by tsr_ew_op; entries of the other arity are NULL. */
    tsr_cpu_unary_fn unary[TSR_EW_COUNT];
    tsr_cpu_binary_fn binary[TSR_EW_COUNT];    /* both operands are vectors of n */
    tsr_cpu_binary_fn binary_vs[TSR_EW_COUNT]; /* b points to one scalar */
    tsr_cpu_binary_fn binary_sv[TSR_EW_COUNT]; /* a points to one scalar */
    /* y[i] = exp(x[i]) (accuracy above). */
    void (*exp)(size_t n, const float *x, float *y);
    /* y[i] += alpha * x[i] (GEMM epilogue: beta * C added to a row of Y). */
    void (*axpy)(size_t n, float alpha, const float *x, float *y);
    /* y[i] = act(y[i] + beta * c[i]) (c NULL: y[i] = act(y[i])) in one pass: the GEMM / conv
     * epilogue of a row (bias or C row, then the activation; p0, p1 as tsr_k_gemm act_p0 / act_p1).
     * The add rounds as axpy of the same tier (one fused multiply-add on the vector tiers). */
    void (*bias_act)(size_t n, float beta, const float *c, float *y, tsr_activation act, float p0,
                     float p1);
    /* y[i] = act(x[i] + beta * c[i]) (c NULL: act(x[i])), written with streaming stores like
     * stream_copy (the store_fence rule applies); x and y must not overlap. Same rounding as
     * bias_act. */
    void (*bias_act_stream)(size_t n, float beta, const float *c, const float *x, float *y,
                            tsr_activation act, float p0, float p1);
    /* Row reductions (reduce.c, layernorm.c). sum_row: sum of x[0..n-1] (0 for n = 0), summed in
     * W interleaved partial sums then combined (not the sequential order). max_row: max of
     * x[0..n-1], n >= 1 (-inf for n = 0). max_vv: y[i] = max(a[i], b[i]). */
    float (*sum_row)(size_t n, const float *x);
    float (*max_row)(size_t n, const float *x);
    void (*max_vv)(size_t n, const float *a, const float *b, float *y);
    /* *sum_d = sum_i (x[i] - mean), *sum_d2 = sum_i (x[i] - mean)^2 over i < n (layer norm's
     * second pass; the first sum corrects a rounded mean). */
    void (*sum_dev)(size_t n, const float *x, float mean, float *sum_d, float *sum_d2);
    /* y[i] = ((x[i] - mean) - corr) * rstd * scale[i] + (bias ? bias[i] : 0); y may equal x.
     * (mean + corr is the row mean split in two: x - mean is exact for x near mean.) */
    void (*norm_row)(size_t n, const float *x, float mean, float corr, float rstd,
                     const float *scale, const float *bias, float *y);
    /* y[0..n) = x[0..n) written with non-temporal (streaming) stores where the tier has them
     * (AVX2/AVX-512: plain stores up to y's first 64-byte boundary and for the tail, streaming
     * stores in between; scalar: memcpy). For outputs far larger than the caches: the store
     * bypasses the cache, so it neither evicts useful lines nor reads the line first
     * (write-allocate), which saves a third of the traffic of a read+write stream. Streaming stores
     * are weakly ordered: the writer calls store_fence before another thread may read y. */
    void (*stream_copy)(size_t n, const float *x, float *y);
    /* Orders the calling thread's streaming stores before its later stores (x86 sfence; no-op on
     * the scalar tier). */
    void (*store_fence)(void);
    /* Numerically stable softmax of one contiguous row of n >= 1 elements:
     * y[i] = exp(x[i] - max(x)) / sum_j exp(x[j] - max(x)). y may equal x. */
    void (*softmax_row)(size_t n, const float *x, float *y);
};

/* The table of `isa` (static storage, never NULL). The caller must only use a tier the CPU
 * supports (tsr_cpu_detect_isa): the AVX tables execute AVX instructions. Thread-safe. */
const struct tsr_cpu_ew_kernels *tsr_cpu_ew_table(tsr_cpu_isa isa);

/* Per-ISA tables (defined in ew_scalar.c, ew_avx2.c, ew_avx512.c). */
extern const struct tsr_cpu_ew_kernels tsr_cpu_ew_scalar;
extern const struct tsr_cpu_ew_kernels tsr_cpu_ew_avx2;
extern const struct tsr_cpu_ew_kernels tsr_cpu_ew_avx512;

#endif
