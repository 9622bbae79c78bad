/*
 * ew_kernels.h — the CPU elementwise kernel dispatch table: one table per ISA tier
 * (ew_scalar.c, ew_avx2.c, ew_avx512.c), each compiled with its own ISA flags.
 *
 * All kernels work on f32 arrays of n elements (n may be 0 or any size: tails are handled with
 * masks on AVX-512 and a scalar remainder on AVX2). Input and output may be the same array
 * (exact aliasing: y == x, y == a or y == b); partial overlap is not allowed. No alignment is
 * required. Kernels are pure functions of their arguments: thread-safe, allocate nothing.
 *
 * Accuracy (measured by tests/check_cpu_kernels.c against double-precision libm on
 * [-20, 20] and on extreme values):
 *   ADD SUB MUL DIV RELU COPY: exact (IEEE single-precision rounding, identical on every tier).
 *   scalar SIGMOID/TANH/exp: libm expf/tanhf (<= 1 ulp in glibc).
 *   AVX2/AVX-512 exp: Cephes expf range reduction and polynomial (tsr_cpu_exp_*), relative error
 *     <= 2^-22 (about 2 ulp) for x in [-87.3, 88.7]; below that the result underflows to
 *     denormals/0 (absolute error < 1.2e-38), above it is +inf, NaN propagates.
 *   AVX2/AVX-512 SIGMOID: 1 / (1 + exp(-x)): relative error <= 3e-7 where the result is normal.
 *   AVX2/AVX-512 TANH: Cephes tanhf: odd polynomial for |x| < 0.625, 1 - 2 / (exp(2|x|) + 1)
 *     otherwise, sign restored: relative error <= 3e-7 (1 - 2/(e+1) near |x| = 0.625 dominates).
 */
#ifndef TSR_CPU_EW_KERNELS_H
#define TSR_CPU_EW_KERNELS_H

#include "backends/cpu/cpu_backend.h"
#include "runtime/program.h"

#include <stddef.h>

/* y[i] = op(x[i]) for unary ops (RELU, SIGMOID, TANH, COPY). */
typedef void (*tsr_cpu_unary_fn)(size_t n, const float *x, float *y);
/* y[i] = op(a[i], b[i]) (binary_vv), op(a[i], *b) (binary_vs), op(*a, b[i]) (binary_sv). */
typedef void (*tsr_cpu_binary_fn)(size_t n, const float *a, const float *b, float *y);

struct tsr_cpu_ew_kernels {
    tsr_cpu_isa isa;
    /* Indexed by tsr_ew_op; entries of the other arity are NULL. */
    tsr_cpu_unary_fn unary[TSR_EW_COUNT];
    tsr_cpu_binary_fn binary[TSR_EW_COUNT];    /* both operands are vectors of n */
    tsr_cpu_binary_fn binary_vs[TSR_EW_COUNT]; /* b points to one scalar */
    tsr_cpu_binary_fn binary_sv[TSR_EW_COUNT]; /* a points to one scalar */
    /* y[i] = exp(x[i]) (accuracy above). */
    tsr_cpu_unary_fn exp;
    /* y[i] += alpha * x[i] (GEMM epilogue: beta * C added to a row of Y). */
    void (*axpy)(size_t n, float alpha, const float *x, float *y);
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
