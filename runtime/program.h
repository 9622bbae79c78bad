/*
 * program.h — the lowered, device-independent form of a compiled graph (the program IR). The
 * backend interface that turns it into something that runs (prepare / execute / release) is
 * runtime/backend.h.
 *
 * Lowering (runtime/lower.c) produces a tsr_program: typed buffers and an ordered list of kernels
 * (GEMM with fused epilogue, fused elementwise region, softmax, copy). Reshape/Flatten/Identity
 * are views and produce no kernel. A backend (runtime/backend.h) `prepare`s the
 * program once (memory, constants, kernel choice or generation) and then `execute`s it per run.
 *
 * Every kernel writes one output buffer, contiguous row-major. Geometry is fully resolved at
 * lowering: backends need no graph knowledge. Every buffer carries its dtype (the graph value's)
 * and every kernel the dtype it computes in; a backend declares per kernel kind which dtypes it
 * has kernels for and its prepare refuses the rest (tsr_program_check_dtypes). EW takes every
 * numeric dtype (group "dtcompute": TSR_EW_INT_OP_LIST below); the float
 * kinds (GEMM, SOFTMAX, CONV, POOL, REDUCE, TRANSPOSE, CONCAT, LAYERNORM) compute in float32;
 * COPY, GATHER, SLICE, CAST, MIXED and PAD take every dtype on both backends (GATHER, CAST and
 * MIXED have arguments of other dtypes than the kernel's: tsr_kernel_arg_dtypes).
 */
#ifndef TSR_RUNTIME_PROGRAM_H
#define TSR_RUNTIME_PROGRAM_H

#include "runtime/internal.h"

/* Elementwise operations of fused regions. X(name, arity, OpenCL C expression over a, b and the
 * instruction's immediates p0, p1). Semantics: the ONNX operator of the same name on f32;
 * COPY is y = a; LEAKY_RELU uses p0 = alpha; CLIP uses p0 = min, p1 = max; GELU is the exact
 * (erf) form, GELU_TANH the tanh approximation (ONNX Gelu approximate="tanh"), written as
 * 0.5 a erfc(-a / sqrt 2) and a / (1 + exp(-2u)) as the CPU's (Gelu(-inf) is NaN as ONNX
 * Runtime's: 1 + erf(-inf) may not round to 0 on a device); RELU and CLIP propagate NaN (ONNX
 * Runtime; fmax / fmin would drop it; a NaN Clip bound is no bound); SILU is
 * a * Sigmoid(a) (SiLU / Swish: the epilogue of a Conv + Sigmoid + Mul, lower.c).
 * Group "ewops": HARD_SIGMOID p0 = alpha, p1 = beta (NaN propagates); HARD_SWISH alpha 1/6, beta
 * 0.5; ELU, CELU p0 = alpha; SELU p0 = alpha, p1 = gamma; THRESHOLDED_RELU p0 = alpha; SHRINK
 * p0 = bias, p1 = lambd; ROUND half to even; SOFTPLUS max(a, 0) + log1p(exp(-|a|)) (no overflow);
 * MIN / MAX propagate NaN (numpy minimum / maximum, ONNX Runtime); DIV_IMM is a / p0 (Mean's
 * division by the input count); PRELU a >= 0 ? a : a * b (b the slope); MOD C fmod (ONNX Mod
 * fmod=1); MOD_INT (group "dtcompute") the sign of the divisor (ONNX Mod fmod=0). Group
 * "preproc": THRESHOLD_BINARY a > p0 ? p1 : 0 (tessera Threshold binary=1, p0 = threshold,
 * p1 = high; NaN gives 0). */
#define TSR_EW_OP_LIST(X)                                                                          \
    X(ADD, 2, "(a + b)")                                                                           \
    X(SUB, 2, "(a - b)")                                                                           \
    X(MUL, 2, "(a * b)")                                                                           \
    X(DIV, 2, "(a / b)")                                                                           \
    X(RELU, 1, "(a < 0.0f ? 0.0f : a)")                                                            \
    X(SIGMOID, 1, "(1.0f / (1.0f + exp(-a)))")                                                     \
    X(TANH, 1, "tanh(a)")                                                                          \
    X(COPY, 1, "(a)")                                                                              \
    X(EXP, 1, "exp(a)")                                                                            \
    X(LOG, 1, "log(a)")                                                                            \
    X(SQRT, 1, "sqrt(a)")                                                                          \
    X(ERF, 1, "erf(a)")                                                                            \
    X(GELU, 1, "(0.5f * a * erfc(a * -0.70710678118654752f))")                                     \
    X(GELU_TANH, 1, "(a / (1.0f + exp(-1.5957691216057307f * (a + 0.044715f * a * a * a))))")      \
    X(SILU, 1, "(a * (1.0f / (1.0f + exp(-a))))")                                                  \
    X(LEAKY_RELU, 1, "(a >= 0.0f ? a : p0 * a)")                                                   \
    X(CLIP, 1, "(a < p0 ? p0 : (a > p1 ? p1 : a))")                                                \
    X(POW, 2, "pow(a, b)")                                                                         \
    X(NEG, 1, "(-a)")                                                                              \
    /* float32 elementwise operators (group "ewops") */                                            \
    X(ABS, 1, "fabs(a)")                                                                           \
    X(SIGN, 1, "(a > 0.0f ? 1.0f : (a < 0.0f ? -1.0f : a))")                                       \
    X(RECIPROCAL, 1, "(1.0f / a)")                                                                 \
    X(FLOOR, 1, "floor(a)")                                                                        \
    X(CEIL, 1, "ceil(a)")                                                                          \
    X(ROUND, 1, "rint(a)")                                                                         \
    X(SOFTPLUS, 1, "(fmax(a, 0.0f) + log1p(exp(-fabs(a))))")                                       \
    X(SOFTSIGN, 1, "(a / (1.0f + fabs(a)))")                                                       \
    X(HARD_SIGMOID, 1, "(isnan(a) ? a : fmin(fmax(p0 * a + p1, 0.0f), 1.0f))")                     \
    X(HARD_SWISH, 1, "(isnan(a) ? a : a * fmin(fmax(a * 0x1.555556p-3f + 0.5f, 0.0f), 1.0f))")     \
    X(ELU, 1, "(a < 0.0f ? p0 * expm1(a) : a)")                                                    \
    X(SELU, 1, "(a > 0.0f ? p1 * a : p1 * p0 * expm1(a))")                                         \
    X(CELU, 1, "(a > 0.0f ? a : p0 * expm1(a / p0))")                                              \
    X(THRESHOLDED_RELU, 1, "(a > p0 ? a : 0.0f)")                                                  \
    X(SHRINK, 1, "(a < -p1 ? a + p0 : (a > p1 ? a - p0 : 0.0f))")                                  \
    X(MISH, 1, "(a * tanh(fmax(a, 0.0f) + log1p(exp(-fabs(a)))))")                                 \
    X(SIN, 1, "sin(a)")                                                                            \
    X(COS, 1, "cos(a)")                                                                            \
    X(TAN, 1, "tan(a)")                                                                            \
    X(ASIN, 1, "asin(a)")                                                                          \
    X(ACOS, 1, "acos(a)")                                                                          \
    X(ATAN, 1, "atan(a)")                                                                          \
    X(SINH, 1, "sinh(a)")                                                                          \
    X(COSH, 1, "cosh(a)")                                                                          \
    X(ASINH, 1, "asinh(a)")                                                                        \
    X(ACOSH, 1, "acosh(a)")                                                                        \
    X(ATANH, 1, "atanh(a)")                                                                        \
    X(MIN, 2, "((a <= b || isnan(a)) ? a : b)")                                                    \
    X(MAX, 2, "((a >= b || isnan(a)) ? a : b)")                                                    \
    X(DIV_IMM, 1, "(a / p0)")                                                                      \
    X(PRELU, 2, "(a >= 0.0f ? a : a * b)")                                                         \
    X(MOD, 2, "fmod(a, b)")                                                                        \
    X(THRESHOLD_BINARY, 1, "(a > p0 ? p1 : 0.0f)")                                                 \
    /* group "dtcompute" */                                                                        \
    X(BIT_AND, 2, "") /* integer only (empty expression: no float form) */                         \
    X(BIT_OR, 2, "")                                                                               \
    X(BIT_XOR, 2, "")                                                                              \
    X(BIT_NOT, 1, "")                                                                              \
    X(SHL, 2, "")                                                                                  \
    X(SHR, 2, "")                                                                                  \
    X(MOD_INT, 2,                                                                                  \
      "(fmod(a, b) != 0.0f && ((fmod(a, b) < 0.0f) != (b < 0.0f)) ? fmod(a, b) + b : fmod(a, b))")

/* Group "dtcompute": regions of other dtypes than float32 (the kernel's dtype; every input and
 * the output has it). float64 and float16 regions run the float expressions above (OpenCL: in
 * double for float64, which needs cl_khr_fp64, in float for float16 loaded and stored with
 * vload_half / vstore_half_rte; CPU: in double, rounded to the dtype on store). Integer regions
 * (int8, int16.., uint8) compute in 64-bit two's complement, each instruction's result wrapped
 * to the dtype's width (as NumPy and ONNX Runtime: one node, one wrap), with the instructions of
 * TSR_EW_INT_OP_LIST only: X(name, OpenCL C expression over long a, b and the immediates p0, p1
 * as long, tsr_ew_imm_i64). DIV truncates toward zero (C, ONNX Runtime; x / 0 = 0, INT64_MIN / -1
 * wraps), MOD is C's % (ONNX Mod fmod=1), MOD_INT takes the divisor's sign (fmod=0; x mod 0 = 0),
 * POW is exact repeated squaring (wrapping; a negative exponent gives 1 / a^|b| truncated; OpenCL:
 * the helper tsr_ipow the generator emits), CLIP clamps to the bounds as int64. The CPU's integer
 * interpreter (backends/cpu/ew_typed.c) implements the same list. MOD_INT of float32 is the
 * floor modulus (a float Mod with fmod=0 is refused by shape inference; the kernel exists).
 * BIT_AND, BIT_OR, BIT_XOR, BIT_NOT (ONNX Bitwise*), SHL, SHR (ONNX BitShift on unsigned
 * dtypes: a shift of 64 or more gives 0) are integer only: their float expression in
 * TSR_EW_OP_LIST is empty, and both backends refuse them in a float region. */
#define TSR_EW_INT_OP_LIST(X)                                                                      \
    X(ADD, "as_long(as_ulong(a) + as_ulong(b))")                                                   \
    X(SUB, "as_long(as_ulong(a) - as_ulong(b))")                                                   \
    X(MUL, "as_long(as_ulong(a) * as_ulong(b))")                                                   \
    X(DIV, "(b == 0 ? 0L : (b == -1 ? as_long(0UL - as_ulong(a)) : a / b))")                       \
    X(MOD, "((b == 0 || b == -1) ? 0L : a % b)")                                                   \
    X(MOD_INT, "((b == 0 || b == -1) ? 0L : ((a % b != 0 && ((a % b < 0) != (b < 0))) ? a % b + "  \
               "b : a % b))")                                                                      \
    X(POW, "tsr_ipow(a, b)")                                                                       \
    X(NEG, "as_long(0UL - as_ulong(a))")                                                           \
    X(ABS, "(a < 0 ? as_long(0UL - as_ulong(a)) : a)")                                             \
    X(SIGN, "(long)((a > 0) - (a < 0))")                                                           \
    X(RELU, "(a > 0 ? a : 0L)")                                                                    \
    X(MIN, "(a <= b ? a : b)")                                                                     \
    X(MAX, "(a >= b ? a : b)")                                                                     \
    X(CLIP, "(a < p0 ? p0 : (a > p1 ? p1 : a))")                                                   \
    X(COPY, "(a)")                                                                                 \
    X(BIT_AND, "(a & b)")                                                                          \
    X(BIT_OR, "(a | b)")                                                                           \
    X(BIT_XOR, "(a ^ b)")                                                                          \
    X(BIT_NOT, "(~a)")                                                                             \
    X(SHL, "((b < 0 || b > 63) ? 0L : as_long(as_ulong(a) << b))")                                 \
    X(SHR, "((b < 0 || b > 63) ? 0L : as_long(as_ulong(a) >> b))")

typedef enum {
#define TSR_X_EW(name, arity, expr) TSR_EW_##name,
    TSR_EW_OP_LIST(TSR_X_EW)
#undef TSR_X_EW
        TSR_EW_COUNT
} tsr_ew_op;

/* Arity (1 or 2; 0 for a value outside the list), name ("ADD"; "?") and OpenCL C expression
 * ("(a)" for a value outside the list) of an elementwise op (runtime/program.c). Pure. */
int tsr_ew_arity(tsr_ew_op op);
const char *tsr_ew_name(tsr_ew_op op);
const char *tsr_ew_cl_expr(tsr_ew_op op);
/* OpenCL C expression of integer instruction op (TSR_EW_INT_OP_LIST), NULL when op has no
 * integer form (runtime/program.c). Pure. */
const char *tsr_ew_int_cl_expr(tsr_ew_op op);
/* An instruction immediate as the int64 an integer region uses: NaN 0, truncated toward zero,
 * saturated (-inf: INT64_MIN, +inf: INT64_MAX) (runtime/program.c). Pure. */
int64_t tsr_ew_imm_i64(float p);
/* 1 when op has a float form (a non-empty expression in TSR_EW_OP_LIST), 0 for the integer-only
 * ops (BIT_*, SHL, SHR) and values outside the list. Pure. */
int tsr_ew_has_float(tsr_ew_op op);

/* GEMM / Conv epilogue activation; LEAKY_RELU takes act_p0 = alpha, CLIP act_p0 = min and
 * act_p1 = max. */
typedef enum {
    TSR_ACT_NONE = 0,
    TSR_ACT_RELU,
    TSR_ACT_SIGMOID,
    TSR_ACT_TANH,
    TSR_ACT_LEAKY_RELU,
    TSR_ACT_CLIP,
    TSR_ACT_HARD_SIGMOID, /* group "ewops": act_p0 = alpha, act_p1 = beta */
    TSR_ACT_HARD_SWISH,   /* x * HardSigmoid(x) with alpha 1/6, beta 0.5 */
    TSR_ACT_SILU,         /* x * Sigmoid(x) (Sigmoid + Mul matched by lowering; TSR_EW_SILU) */
    TSR_ACT_GELU,         /* 0.5 x (1 + erf(x / sqrt 2)) (ONNX Gelu; TSR_EW_GELU) */
    TSR_ACT_GELU_TANH     /* ONNX Gelu approximate="tanh" (TSR_EW_GELU_TANH) */
} tsr_activation;
#define TSR_ACT_LAST TSR_ACT_GELU_TANH
const char *tsr_activation_name(tsr_activation act); /* "none", "relu", ... */

#define TSR_EW_MAX_INPUTS 8
#define TSR_EW_MAX_INSTRS 32
#define TSR_EW_MAX_REGS   8

/* One instruction of a fused elementwise region: regs[dst] = op(A, B).
 * Operand encoding: a >= 0 is register a; a < 0 is region input (-a - 1). b is ignored for unary
 * ops. The region's result is register instrs[n_instrs - 1].dst. */
struct tsr_ew_instr {
    uint8_t op; /* tsr_ew_op */
    uint8_t dst;
    int16_t a;
    int16_t b;
    float p0, p1; /* immediates (LEAKY_RELU alpha; CLIP min, max); 0 otherwise */
};

/* Fused elementwise region over the output shape dims[0..rank-1] (dims already coalesced by
 * lowering: adjacent dims merged where every input allows it, so the innermost dim is long).
 * Input i is read at offset sum_d idx[d] * strides[i][d] (elements; stride 0 = broadcast along
 * d). The output is contiguous. */
struct tsr_k_ew {
    int rank; /* 1 .. TSR_MAX_RANK */
    int64_t dims[TSR_MAX_RANK];
    int64_t strides[TSR_EW_MAX_INPUTS][TSR_MAX_RANK];
    int n_instrs;
    int n_regs;
    struct tsr_ew_instr instrs[TSR_EW_MAX_INSTRS];
};

/* Batched GEMM with fused epilogue. For b < batch, m < M, n < N:
 *   Y[b,m,n] = act( alpha * sum_k A'[b,m,k] * B'[b,k,n] + beta * C[b,m,n] )
 * A'[b,m,k] = A[b*stride_a + (trans_a ? k*lda + m : m*lda + k)]
 * B'[b,k,n] = B[b*stride_b + (trans_b ? n*ldb + k : k*ldb + n)]
 * C[b,m,n]  = C[b*c_stride_b + m*c_stride_m + n*c_stride_n]  (has_c; strides 0 = broadcast)
 * Y[b,m,n]  = Y[b*M*N + m*N + n]
 * Strides/leading dims in elements. inputs: [0] = A, [1] = B, [2] = C when has_c. */
struct tsr_k_gemm {
    int64_t batch, M, N, K;
    int trans_a, trans_b;
    int64_t lda, ldb;
    int64_t stride_a, stride_b; /* 0 = the operand is shared by every batch */
    float alpha;
    int has_c;
    float beta;
    int64_t c_stride_b, c_stride_m, c_stride_n;
    int has_residual; /* + R[b,m,n] (contiguous like Y) before the activation; R is
                         inputs[2 + has_c] */
    tsr_activation act;
    float act_p0, act_p1;
};

/* 2-D convolution, NCHW (ONNX Conv), with fused epilogue:
 *   Y[n,m,oh,ow] = act( sum_{c in group(m), kh, kw} X[n,c,ih,iw] * W[m,c',kh,kw]
 *                       + bias[m] + R[n,m,oh,ow] )
 *   ih = oh*stride_h - pad_t + kh*dil_h,  iw = ow*stride_w - pad_l + kw*dil_w (outside = 0).
 * Shapes: X [N,C,H,W], W [M, C/group, KH, KW], bias [M], R and Y [N,M,OH,OW].
 * inputs: [0] X, [1] W, then bias when has_bias, then R when has_residual. */
struct tsr_k_conv {
    int64_t N, C, H, W, M, OH, OW, KH, KW;
    int64_t stride_h, stride_w, pad_t, pad_l, dil_h, dil_w, group;
    int has_bias;
    int has_residual;
    tsr_activation act;
    float act_p0, act_p1;
};

/* 2-D pooling, NCHW (ONNX MaxPool / AveragePool / GlobalAveragePool): window KHxKW at
 * (oh*stride_h - pad_t + kh*dil_h, ow*stride_w - pad_l + kw*dil_w); positions outside the input
 * are skipped by max, and by average unless count_include_pad (then they count as zeros).
 * X [N,C,H,W] → Y [N,C,OH,OW]. */
/* Group "multiout": MAX_INDEX writes MaxPool's Indices instead, int64 (the output buffer's dtype;
 * the kernel's is X's): the flat index into X of the window's first maximum in (kh, kw) order (a
 * later tap wins only if strictly greater), ((n*C + c)*H + h)*W + w, or with storage_order
 * (n*C + c)*H*W + h + w*H; -1 for a window with no tap inside X. */
typedef enum { TSR_POOL_MAX = 0, TSR_POOL_AVG = 1, TSR_POOL_MAX_INDEX = 2 } tsr_pool_kind;
struct tsr_k_pool {
    tsr_pool_kind kind;
    int storage_order; /* MAX_INDEX only */
    int64_t N, C, H, W, OH, OW, KH, KW;
    int64_t stride_h, stride_w, pad_t, pad_l, dil_h, dil_w;
    int64_t pad_b, pad_r; /* average with count_include_pad counts window positions inside the
                             padded input [-pad_t, H + pad_b) x [-pad_l, W + pad_r) only */
    int count_include_pad;
};

/* Reduction over the middle axis of [outer, len, inner] → [outer, inner] (ONNX ReduceSum /
 * ReduceMean / ReduceMax; lowering merges adjacent reduced axes and chains kernels otherwise).
 * len == 0: sum 0, mean NaN, max -inf.
 * Group "reduce" (the other ONNX Reduce*): MIN (len 0: +inf), PROD (1), SUM_SQUARE sum x^2, L1
 * sum |x|, L2 sqrt(sum x^2), LOG_SUM log(sum x) (-inf), LOG_SUM_EXP m + log(sum exp(x - m)) with
 * m the max (stable; m = +-inf or NaN gives m; len 0: -inf). MAX and MIN propagate NaN (ONNX
 * Runtime). Chains: MAX, MIN, PROD, L2, LOG_SUM_EXP compose with themselves; lowering uses
 * SUM_SQUARE / L1 for the first kernel of a chain and SUM after, SUM then LOG_SUM last. */
typedef enum {
    TSR_REDUCE_SUM = 0,
    TSR_REDUCE_MEAN = 1,
    TSR_REDUCE_MAX = 2,
    /* group "reduce" */
    TSR_REDUCE_MIN = 3,
    TSR_REDUCE_PROD = 4,
    TSR_REDUCE_SUM_SQUARE = 5,
    TSR_REDUCE_L1 = 6,
    TSR_REDUCE_L2 = 7,
    TSR_REDUCE_LOG_SUM = 8,
    TSR_REDUCE_LOG_SUM_EXP = 9,
    TSR_REDUCE_KIND_COUNT
} tsr_reduce_kind;
struct tsr_k_reduce {
    tsr_reduce_kind kind;
    int64_t outer, len, inner;
};

/* Group "reduce": ArgMax / ArgMin over the middle axis of [outer, len, inner] (len >= 1):
 * y[o, i] = the int64 index along len of the first maximum (is_min: minimum; select_last: the
 * last one) of x[o, :, i], compared with > / < (a NaN is never chosen over a number that comes
 * first). The kernel's dtype is its input's (float32); its output buffer is int64: the one kind
 * whose output dtype differs from its dtype (tsr_kernel_dtypes_ok). */
struct tsr_k_arg {
    int64_t outer, len, inner;
    int is_min, select_last;
    /* Group "multiout": TopK. y is [outer, k, inner]: the j-th element (j < k) of x[o, :, i] in the
     * order "larger first (is_min: smaller), then lower index (select_last: higher)", i.e. the
     * first extremum repeated k times with the chosen ones excluded (ArgMax / ArgMin: k = 1).
     * values: y holds those float32 values (the output dtype is the kernel's) instead of int64
     * indices. O(k * len) per column; with NaN the order is unspecified. */
    int64_t k;
    int values;
};

/* Group "reduce": CumSum over the middle axis of [outer, len, inner]: y[o, j, i] = sum of x[o, k,
 * i] over k <= j (exclusive: k < j; reverse: k >= j, exclusive k > j), accumulated in order
 * along the axis in the kernel's dtype. */
struct tsr_k_cumsum {
    int64_t outer, len, inner;
    int exclusive, reverse;
    /* group "preproc": the scan along the axis (TSR_SCAN_*; 0 = CumSum as above, exclusive and
     * reverse apply to CumSum only). ROLLING_MEAN / ROLLING_STD: y[j] over the window x[max(0,
     * j-window+1) .. j] of count c: NaN when c < min_periods (>= 1), else the mean, or sqrt(sum
     * (x - mean)^2 / (c - ddof)) (NaN when c <= ddof); each output recomputed over its window
     * (two passes, O(window) per element, no running-sum drift). EMA: y[0] = x[0], y[j] = alpha
     * x[j] + (1 - alpha) y[j-1]. */
    int scan;
    int64_t window, min_periods, ddof;
    float alpha;
};
enum { TSR_SCAN_CUMSUM = 0, TSR_SCAN_ROLLING_MEAN, TSR_SCAN_ROLLING_STD, TSR_SCAN_EMA };

/* Group "multiout": NegativeLogLikelihoodLoss (ONNX NegativeLogLikelihoodLoss-13). Inputs x
 * [N, C, D] float32, target [N, D] int64 (target_i32: int32), weight [C] (has_weight). loss[n, d]
 * = -x[n, t, d] * w[t] for t = target[n, d], 0 with weight 0 when t is ignore_index (has_ignore)
 * or outside [0, C). reduction 0: y [N, D] = loss; 1: y[0] = sum; 2: y[0] = sum / sum of the
 * picked weights (0 / 0 = NaN). The target argument's dtype: tsr_kernel_arg_dtypes. */
struct tsr_k_nll {
    int64_t N, C, D;
    int has_weight, reduction, has_ignore, target_i32;
    int64_t ignore_index;
};

/* Strided copy (Transpose): Y is contiguous over dims[0..rank-1];
 * Y[i0..ir] = X[sum_d i_d * in_strides[d]] (elements). */
struct tsr_k_transpose {
    int rank;
    int64_t dims[TSR_MAX_RANK];
    int64_t in_strides[TSR_MAX_RANK];
};

/* Concat along an axis, seen as [outer, sum_i inner[i]]: input i is [outer, inner[i]] and lands
 * at column offset sum_{j<i} inner[j] of each output row. */
struct tsr_k_concat {
    int64_t outer;
    int n;
    int64_t inner[TSR_EW_MAX_INPUTS];
};

/* Layer normalisation over the last `len` elements of [outer, len] (ONNX LayerNormalization):
 * y = (x - mean) / sqrt(var + epsilon) * scale + bias, var the biased variance.
 * inputs: [0] X, [1] scale [len], [2] bias [len] when has_bias. */
struct tsr_k_layernorm {
    int64_t outer, len;
    float epsilon;
    int has_bias;
    /* group "reduce": channels > 0 is ONNX InstanceNormalization / GroupNormalization (has_bias
     * is 1): row r is (n, g) with g = r % channels; element j of the row uses scale[idx] and
     * bias[idx], idx = g * per_row + j / spatial (len = per_row * spatial). InstanceNorm:
     * channels C, per_row 1, spatial = len; GroupNorm-21: channels G, per_row C / G, spatial the
     * spatial size (scale per channel); GroupNorm-18: channels G, per_row 1, spatial = len (scale
     * per group). 0: LayerNormalization (per-element scale / bias of [len]). */
    int64_t channels, per_row, spatial;
};

/* Softmax over the middle axis of [outer, axis_len, inner] (ONNX Softmax; opset < 13 is lowered
 * with inner = 1 and axis_len = product of the coerced trailing dims). Numerically stable
 * (subtract the max). */
struct tsr_k_softmax {
    int64_t outer, axis_len, inner;
    /* group "reduce": TSR_SOFTMAX_LOG is ONNX LogSoftmax, (x - max) - log(sum exp(x - max))
     * (not log of the softmax: no underflow to log 0); TSR_SOFTMAX_HARD is ONNX Hardmax, 1 at
     * the first maximum along the axis, 0 elsewhere. */
    int mode; /* tsr_softmax_mode; 0 = softmax */
};
typedef enum { TSR_SOFTMAX_PLAIN = 0, TSR_SOFTMAX_LOG = 1, TSR_SOFTMAX_HARD = 2 } tsr_softmax_mode;

/* Copy n elements of the kernel's dtype (any dtype: bytes). */
struct tsr_k_copy {
    int64_t n;
};

/* ---- issue 9, group "tkern": data movement of any dtype, casts, comparisons, logic, Where, Pad
 * (kernel kinds TSR_K_GATHER .. TSR_K_PAD). Element sizes come from the dtype; geometry is in
 * elements. */

/* Gather along an axis (ONNX Gather): X seen as [outer, axis_len, inner], the indices (inputs[1],
 * n_idx elements of int64 or int32) → Y [outer, n_idx, inner]:
 *   Y[o, j, :] = X[o, idx[j] (+ axis_len when negative), :]
 * An index outside [-axis_len, axis_len) is an error at run time: no backend reads out of bounds
 * (the row is left as zeros), and execute returns TSR_E_INVALID_ARG naming the kernel's nodes
 * (ONNX Runtime also fails the run). inputs: [0] X (the kernel's dtype), [1] indices. */
struct tsr_k_gather {
    int64_t outer, axis_len, n_idx, inner;
};

/* Strided copy of any dtype with a base offset (Slice, and Split as Slices): Y contiguous over
 * dims[0..rank-1], Y[i_0..i_r-1] = X[offset + sum_d i_d * in_strides[d]] (elements; a stride
 * may be negative: Slice with steps < 0; every element read lies in X, lowering guarantees). */
struct tsr_k_slice {
    int rank;
    int64_t dims[TSR_MAX_RANK];
    int64_t in_strides[TSR_MAX_RANK];
    int64_t offset;
};

/* Cast of n elements from inputs[0]'s dtype to the kernel's dtype, as ONNX Cast and
 * runtime/reference.c: from a float dtype through double (to an integer: truncation toward zero,
 * NaN 0, saturated to int64, then wrapped to the width; to bool: x != 0; to float16: through
 * float32, round to nearest even), from an integer or bool through int64 (exact; to a float:
 * through double, then rounded). */
struct tsr_k_cast {
    int64_t n;
};

/* Mixed-dtype elementwise ops: X(name, arity, OpenCL C expression over a, b (and c: Where's
 * condition)). Comparisons read two inputs of one dtype (floats compared as double, integers as
 * int64) and write bool; logic reads and writes bool (0 / 1); WHERE reads a bool condition
 * (inputs[0]) and picks inputs[1] (true) or inputs[2] (false), of the kernel's dtype.
 * Group "dtcompute": ISNAN, ISINF (either sign), ISINF_POS, ISINF_NEG read one float input and
 * write bool. */
#define TSR_MIXED_OP_LIST(X)                                                                       \
    X(EQUAL, 2, "(a == b)")                                                                        \
    X(LESS, 2, "(a < b)")                                                                          \
    X(GREATER, 2, "(a > b)")                                                                       \
    X(LESS_OR_EQUAL, 2, "(a <= b)")                                                                \
    X(GREATER_OR_EQUAL, 2, "(a >= b)")                                                             \
    X(NOT, 1, "(a == 0)")                                                                          \
    X(AND, 2, "(a != 0 && b != 0)")                                                                \
    X(OR, 2, "(a != 0 || b != 0)")                                                                 \
    X(XOR, 2, "((a != 0) != (b != 0))")                                                            \
    X(WHERE, 3, "(c != 0 ? a : b)")                                                                \
    /* group "dtcompute": float input, bool output (ONNX IsNaN, IsInf) */                          \
    X(ISNAN, 1, "isnan(a)")                                                                        \
    X(ISINF, 1, "isinf(a)")                                                                        \
    X(ISINF_POS, 1, "(isinf(a) && a > 0)")                                                         \
    X(ISINF_NEG, 1, "(isinf(a) && a < 0)")

typedef enum {
#define TSR_X_MX(name, arity, expr) TSR_MX_##name,
    TSR_MIXED_OP_LIST(TSR_X_MX)
#undef TSR_X_MX
        TSR_MX_COUNT
} tsr_mixed_op;

/* Arity (1..3; 0 outside the list), name ("EQUAL"; "?") and OpenCL C expression ("0") of a mixed
 * op (runtime/program.c). Pure. */
int tsr_mixed_arity(tsr_mixed_op op);
const char *tsr_mixed_name(tsr_mixed_op op);
const char *tsr_mixed_cl_expr(tsr_mixed_op op);

/* One mixed op over the output dims[0..rank-1] (coalesced like a fused region's); input i is
 * read at sum_d idx[d] * strides[i][d] (elements, 0 = broadcast). Output contiguous. */
struct tsr_k_mixed {
    tsr_mixed_op op;
    int rank;
    int64_t dims[TSR_MAX_RANK];
    int64_t strides[3][TSR_MAX_RANK];
};

/* Pad (ONNX Pad, modes constant / reflect / edge) of any dtype: Y [out_dims] from X [in_dims];
 * along d, output index i reads input index i - pad_begin[d] when inside [0, in_dims[d]); outside
 * it, constant writes `value` (one element of the kernel's dtype, little-endian bytes), edge
 * clamps to the nearest edge, reflect mirrors without repeating the edge (in_dims[d] >= 2, or
 * no padding along d). A negative pad crops. */
typedef enum { TSR_PAD_CONSTANT = 0, TSR_PAD_REFLECT = 1, TSR_PAD_EDGE = 2 } tsr_pad_mode;
struct tsr_k_pad {
    tsr_pad_mode mode;
    int rank;
    int64_t in_dims[TSR_MAX_RANK], out_dims[TSR_MAX_RANK], pad_begin[TSR_MAX_RANK];
    unsigned char value[8];
};
/* ---- issue 9, group "index": GatherElements / ScatterElements / GatherND / ScatterND --------
 * One kind TSR_K_INDEX of any dtype; inputs [0] X (the kernel's dtype), [1] indices (int32 or
 * int64; negative counts from the end), [2] updates (scatter modes, the kernel's dtype).
 *   GATHER_ELEMENTS: Y [idx_dims] = X[i with i_axis := idx[i]] (X [x_dims], same rank)
 *   SCATTER_ELEMENTS: Y [x_dims] = X, then for every i of [idx_dims] in order
 *                     Y[i with i_axis := idx[i]] (reduce)= updates[i]
 *   GATHER_ND: X [batch, nd_dims[0..q-1], inner], indices [batch, n_tuples, q] →
 *              Y [batch, n_tuples, inner], Y[b, t, :] = X[b, idx[b, t, 0..q-1], :]
 *   SCATTER_ND (batch 1): Y = X, then for every t in order Y[idx[t, 0..q-1], :] (reduce)=
 *              updates[t, :]
 *   REVERSE_SEQUENCE: X [x_dims[0], x_dims[1], inner] with the time axis `axis` (0 or 1; the
 *              other is the batch axis), indices = sequence lengths [batch]:
 *              Y[b, t, :] = X[b, t < len[b] ? len[b] - 1 - t : t, :] (a length outside
 *              [0, time] is out of range)
 *   ONE_HOT: inputs [0] values [off, on] (the kernel's dtype), [1] indices [outer, inner] →
 *              Y [outer, depth, inner] (x_dims[0] outer, x_dims[1] depth): on where idx (+
 *              depth when negative) == d, else off; an index outside [-depth, depth) gives all
 *              off (ONNX; not an error)
 * reduce: NONE stores; ADD, MUL, MAX, MIN combine with the old value in the dtype's arithmetic
 * (lowering allows them for float32 / float64 / int32 / int64 only). An index out of range is a
 * run-time error as GATHER's (nothing is read or written out of bounds; the element is skipped
 * or zero). Scatter modes run sequentially (ONNX: duplicates apply in order). */
typedef enum {
    TSR_INDEX_GATHER_ELEMENTS = 0,
    TSR_INDEX_SCATTER_ELEMENTS,
    TSR_INDEX_GATHER_ND,
    TSR_INDEX_SCATTER_ND,
    TSR_INDEX_REVERSE_SEQUENCE,
    TSR_INDEX_ONE_HOT
} tsr_index_mode;
typedef enum {
    TSR_SCATTER_NONE = 0,
    TSR_SCATTER_ADD,
    TSR_SCATTER_MUL,
    TSR_SCATTER_MAX,
    TSR_SCATTER_MIN
} tsr_scatter_reduction;
struct tsr_k_index {
    tsr_index_mode mode;
    tsr_scatter_reduction reduction;
    int rank, axis;                                       /* elements modes */
    int64_t x_dims[TSR_MAX_RANK], idx_dims[TSR_MAX_RANK]; /* elements modes */
    int q;                                                /* ND modes: tuple length, 1..rank */
    int64_t nd_dims[TSR_MAX_RANK];                        /* ND modes: the q indexed dims of X */
    int64_t batch, n_tuples, inner; /* ND modes; inner also REVERSE_SEQUENCE */
};
/* Elements of X (n_x), indices (n_idx) and Y (n_y) of an index kernel's geometry. Pure. */
void tsr_index_counts(const struct tsr_k_index *g, int64_t *n_x, int64_t *n_idx, int64_t *n_y);

/* ---- issue 13: quantized kernels (TSR_K_QUANT; the math: runtime/quant.h) -----------------
 * The kernel's dtype is its output's; inputs have the dtypes of the ONNX operator (any buffer
 * dtype by tsr_kernel_arg_dtypes; the backend's check verifies each against the op).
 *   QUANTIZE     inputs x f32, scale f32, zp? (the kernel's dtype: uint8 / int8 / uint16 /
 *                int16) → y; x seen as [outer, axis_len, inner]; per_axis: scale / zp have
 *                axis_len elements, else 1
 *   DEQUANTIZE   inputs x (uint8 / int8 / uint16 / int16 / int32), scale f32, zp? (x's dtype)
 *                → float32 y, the same layout
 *   DYNAMIC      input x f32 of outer * axis_len * inner elements → output `dyn_output` of
 *                DynamicQuantizeLinear: 0 y uint8, 1 y_scale f32 (1 element), 2 y_zero_point
 *                uint8 (1 element)
 *   MATMUL_INTEGER  inputs a [batch?, M, K], b [batch?, K, N] (uint8 / int8 each), then the zero
 *                points named by a_zp / b_zp (kernel input index, -1 absent: 0), each of 1
 *                element or a_zp_len = M (per row) / b_zp_len = N (per column) → int32
 *                Y[batch, M, N] = sum_k (a - a_zp)(b - b_zp); a_stride / b_stride: elements
 *                between batches (0: broadcast). With deq (the dequantize epilogue, fused at
 *                lowering from MatMulInteger -> Cast(float) [-> Mul(scale) [-> Add(bias)]] as
 *                onnxruntime.quantization's dynamic models have it) → float32
 *                Y = act((float)acc [* scale[n or 0]] [+ bias[n or 0]]), each step rounded to
 *                float as the unfused Cast, Mul and Add are, act (deq_act) a fused activation
 *                node after them, as the GEMM epilogues have it; deq_scale / deq_bias: kernel input
 * index
 *                (-1 absent) of a float32 operand of deq_scale_len / deq_bias_len = 1 or N
 *   QLINEAR_MATMUL  inputs a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp (ONNX order; the
 *                scales f32 of 1 element, or a_scale M / b_scale N elements like the zero points)
 *                → y of y_zp's dtype: saturate(round(acc * a_scale * b_scale / y_scale) + y_zp) */
typedef enum {
    TSR_QK_QUANTIZE = 0,
    TSR_QK_DEQUANTIZE,
    TSR_QK_DYNAMIC,
    TSR_QK_MATMUL_INTEGER,
    TSR_QK_QLINEAR_MATMUL
} tsr_quant_kernel_op;
struct tsr_k_quant {
    tsr_quant_kernel_op op;
    int64_t outer, axis_len, inner; /* QUANTIZE / DEQUANTIZE / DYNAMIC */
    int per_axis, has_zp;           /* QUANTIZE / DEQUANTIZE */
    int dyn_output;                 /* DYNAMIC */
    int dyn_given; /* DYNAMIC, dyn_output 0: inputs 1, 2 are the y_scale / y_zero_point its
                      sibling kernels computed (lowering), so only the quantize pass runs */
    int64_t batch, M, K, N, a_stride, b_stride; /* matmuls */
    int a_zp, b_zp;                             /* MATMUL_INTEGER: input index or -1 */
    int64_t a_zp_len, b_zp_len;                 /* matmuls: 1, M / N */
    int64_t a_scale_len, b_scale_len;           /* QLINEAR_MATMUL: 1, M / N */
    int deq, deq_scale, deq_bias;               /* MATMUL_INTEGER: dequantize epilogue */
    int64_t deq_scale_len, deq_bias_len;        /* 1 or N */
    tsr_activation deq_act;                     /* then this activation (NONE: none) */
    float deq_act_p0, deq_act_p1;
};

/* ---- end of group "tkern" (kernel geometry) ---------------------------------------------- */

typedef enum {
    TSR_K_GEMM = 0,
    TSR_K_EW,
    TSR_K_SOFTMAX,
    TSR_K_COPY,
    TSR_K_CONV,
    TSR_K_POOL,
    TSR_K_REDUCE,
    TSR_K_TRANSPOSE,
    TSR_K_CONCAT,
    TSR_K_LAYERNORM,
    /* issue 9, group "tkern" */
    TSR_K_GATHER,
    TSR_K_SLICE,
    TSR_K_CAST,
    TSR_K_MIXED,
    TSR_K_PAD,
    TSR_K_ARG,    /* group "reduce": ArgMax / ArgMin */
    TSR_K_CUMSUM, /* group "reduce": CumSum */
    TSR_K_NLL,    /* group "multiout": NegativeLogLikelihoodLoss */
    TSR_K_INDEX,  /* group "index": GatherElements / ScatterElements / GatherND / ScatterND */
    TSR_K_QUANT   /* issue 13: quantization and integer matmul */
} tsr_kernel_kind;

#define TSR_KERNEL_MAX_INPUTS TSR_EW_MAX_INPUTS

struct tsr_kernel {
    tsr_kernel_kind kind;
    char name[64]; /* e.g. "gemm_bias_relu", "ew_add_relu", "softmax" */
    char *nodes;   /* owned: ONNX node names fused into this kernel, comma-separated */
    int n_inputs;
    int inputs[TSR_KERNEL_MAX_INPUTS]; /* buffer ids */
    int output;                        /* buffer id */
    uint64_t flops;                    /* multiply-add = 2 */
    uint64_t bytes;                    /* bytes read + written (estimate) */
    /* Element type the kernel computes in: every input and the output buffer has this dtype
     * (set by lowering from the output value; hand-built programs set it too), except the
     * arguments a mixed-dtype kind declares otherwise (tsr_kernel_arg_dtypes). */
    tsr_dtype dtype;
    union {
        struct tsr_k_gemm gemm;
        struct tsr_k_ew ew;
        struct tsr_k_softmax softmax;
        struct tsr_k_copy copy;
        struct tsr_k_conv conv;
        struct tsr_k_pool pool;
        struct tsr_k_reduce reduce;
        struct tsr_k_transpose transpose;
        struct tsr_k_concat concat;
        struct tsr_k_layernorm layernorm;
        struct tsr_k_gather gather; /* group "tkern" */
        struct tsr_k_slice slice;
        struct tsr_k_cast cast;
        struct tsr_k_mixed mixed;
        struct tsr_k_pad pad;
        struct tsr_k_arg arg;
        struct tsr_k_cumsum cumsum;
        struct tsr_k_nll nll;
        struct tsr_k_index index; /* group "index" */
        struct tsr_k_quant quant; /* issue 13 */
    } u;
};

typedef enum {
    TSR_BUF_INPUT = 0, /* caller's input tensor io_index; read-only */
    TSR_BUF_OUTPUT,    /* caller's output tensor io_index; written once by one kernel */
    TSR_BUF_CONST,     /* weights: const_data, owned by the program */
    TSR_BUF_TEMP       /* intermediate: [offset, offset + bytes) of the arena */
} tsr_buffer_kind;

struct tsr_buffer {
    tsr_buffer_kind kind;
    struct tsr_tensor_desc desc; /* type and shape of the graph value it holds */
    size_t bytes;
    int io_index;     /* INPUT / OUTPUT */
    void *const_data; /* CONST: desc.dtype elements (owned by the program, 64-byte aligned) */
    size_t offset;    /* TEMP: byte offset in the arena, multiple of 64 */
};

struct tsr_program {
    int n_buffers;
    struct tsr_buffer *buffers;
    int n_kernels;
    struct tsr_kernel *kernels;     /* in execution order */
    size_t arena_bytes;             /* size of the TEMP arena (liveness-planned) */
    size_t arena_lower_bound_bytes; /* most TEMP bytes live at one time: no plan does better */
    size_t unplanned_bytes;         /* sum of all TEMP buffers: one allocation each */
    int n_inputs, n_outputs;
    int *input_buffers;  /* buffer id of graph input i */
    int *output_buffers; /* buffer id of graph output i */
};

/* Frees what prog owns (buffers with their constant data, kernels with their node lists, the
 * input/output maps) and zeroes *prog (runtime/program.c). NULL or a zeroed program is a no-op. */
void tsr_program_free(struct tsr_program *prog);

/* Kernel element types (runtime/program_check.c). A backend declares, per kernel kind, the set
 * of dtypes it has kernels for: bit TSR_DTYPE_BIT(dtype) set when it has one. */
typedef uint32_t tsr_dtype_set;
#define TSR_DTYPE_BIT(dtype) ((tsr_dtype_set)1u << (unsigned)(dtype))
/* Every dtype of tsr_dtype (a kernel kind that moves bytes, e.g. COPY). */
#define TSR_DTS_ALL_BUFFERS                                                                        \
    (TSR_DTYPE_BIT(TSR_F32) | TSR_DTYPE_BIT(TSR_F16) | TSR_DTYPE_BIT(TSR_F64) |                    \
     TSR_DTYPE_BIT(TSR_I64) | TSR_DTYPE_BIT(TSR_I32) | TSR_DTYPE_BIT(TSR_I8) |                     \
     TSR_DTYPE_BIT(TSR_U8) | TSR_DTYPE_BIT(TSR_BOOL) | TSR_DTYPE_BIT(TSR_I16) |                    \
     TSR_DTYPE_BIT(TSR_U16) | TSR_DTYPE_BIT(TSR_U32))
typedef tsr_dtype_set tsr_kernel_dtypes_fn(tsr_kernel_kind kind);

/* Mixed-dtype kinds (group "tkern"): the dtypes argument `arg` of k (0 .. n_inputs - 1: input,
 * n_inputs: the output) may have, by the program contract; 0 = the uniform rule (it has
 * k->dtype). GATHER: indices {int32, int64}; CAST: the source, any dtype; MIXED comparisons: both
 * inputs any dtype (one dtype; the backends check they agree), NOT/AND/OR/XOR inputs bool, WHERE's
 * condition bool. ARG (group "reduce"): the output int64 (its input follows the uniform rule).
 * Every other output follows the uniform rule. Pure. */
tsr_dtype_set tsr_kernel_arg_dtypes(const struct tsr_kernel *k, int arg);

/* 1 when kernel k of prog computes in a dtype `declared` lists for its kind and every argument
 * buffer (inputs and output) has that dtype (or, for an argument tsr_kernel_arg_dtypes declares,
 * a dtype of that set); else 0 with *bad_dtype the offending dtype and
 * *bad_arg the argument (0 .. n_inputs - 1: input, n_inputs: the output; -1: the kernel's own
 * dtype is not declared). Buffer ids outside the program are not judged here (the backends'
 * kernel checks report them). Pure; thread-safe. bad_dtype / bad_arg may be NULL. */
int tsr_kernel_dtypes_ok(const struct tsr_program *prog, const struct tsr_kernel *k,
                         tsr_kernel_dtypes_fn *declared, tsr_dtype *bad_dtype, int *bad_arg);
/* tsr_kernel_dtypes_ok, and on 0 the reason in words into why (why_size bytes, NUL-terminated;
 * why may be NULL): "the <backend> backend has no kernel of this kind for dtype <d>" or "input 1
 * (buffer 4) is int64, the kernel computes in float32" (backend: its registry name). Returns 1
 * or 0. Pure; thread-safe. */
int tsr_kernel_dtypes_why(const struct tsr_program *prog, const struct tsr_kernel *k,
                          tsr_kernel_dtypes_fn *declared, const char *backend, char *why,
                          size_t why_size);
/* The declaration "float32 for every kernel kind": today's kernels of both backends, and the
 * default of struct tsr_backend_ops.kernel_dtypes (runtime/backend.h). */
tsr_dtype_set tsr_kernel_dtypes_f32(tsr_kernel_kind kind);
/* Checks every kernel of prog with tsr_kernel_dtypes_ok for backend `backend` ("cpu",
 * "opencl": named in the message). Returns TSR_OK, or TSR_E_DTYPE recorded on ctx with a message
 * naming the backend, the kernel, its nodes and the dtype. */
tsr_status tsr_program_check_dtypes(tsr_context *ctx, const char *backend,
                                    const struct tsr_program *prog, tsr_kernel_dtypes_fn *declared);

/* Checks a GATHER / SLICE / CAST / MIXED / PAD kernel (group "tkern") against prog's buffers, in
 * bytes (element sizes from the dtypes), and its own geometry: every element it may read lies in
 * its input buffers, its output fits, dims >= 0, ranks 1 .. TSR_MAX_RANK, known op / mode, Gather
 * indices int64 or int32, compared inputs of one dtype, padding that the mode can fill. Buffer
 * ids must be in range (the caller checks). Both backends call it at prepare. Returns TSR_OK or
 * TSR_E_INVALID_ARG / TSR_E_SHAPE / TSR_E_DTYPE naming the kernel (recorded on ctx). */
tsr_status tsr_data_kernel_check(tsr_context *ctx, const struct tsr_program *prog,
                                 const struct tsr_kernel *kn);

#endif
