/*
 * program.h — the lowered, device-independent form of a compiled graph, and the backend
 * interface that turns it into something that runs.
 *
 * Lowering (runtime/lower.c) produces a tsr_program: f32 buffers and an ordered list of kernels
 * (GEMM with fused epilogue, fused elementwise region, softmax, copy). Reshape/Flatten/Identity
 * are views and produce no kernel. A backend (backends/cpu, backends/opencl) `prepare`s the
 * program once (memory, constants, kernel choice or generation) and then `execute`s it per run.
 *
 * Every kernel writes one output buffer, contiguous row-major. Geometry is fully resolved at
 * lowering: backends need no graph knowledge.
 */
#ifndef TSR_RUNTIME_PROGRAM_H
#define TSR_RUNTIME_PROGRAM_H

#include "runtime/internal.h"

/* Elementwise operations of fused regions. X(name, arity, OpenCL C expression over a, b).
 * Semantics: ONNX Add/Sub/Mul/Div/Relu/Sigmoid/Tanh on f32; COPY is y = a. */
#define TSR_EW_OP_LIST(X)                                                                          \
    X(ADD, 2, "(a + b)")                                                                           \
    X(SUB, 2, "(a - b)")                                                                           \
    X(MUL, 2, "(a * b)")                                                                           \
    X(DIV, 2, "(a / b)")                                                                           \
    X(RELU, 1, "fmax(a, 0.0f)")                                                                    \
    X(SIGMOID, 1, "(1.0f / (1.0f + exp(-a)))")                                                     \
    X(TANH, 1, "tanh(a)")                                                                          \
    X(COPY, 1, "(a)")

typedef enum {
#define TSR_X_EW(name, arity, expr) TSR_EW_##name,
    TSR_EW_OP_LIST(TSR_X_EW)
#undef TSR_X_EW
        TSR_EW_COUNT
} tsr_ew_op;

/* Arity (1 or 2), name ("ADD") and OpenCL C expression of an elementwise op. */
int tsr_ew_arity(tsr_ew_op op);
const char *tsr_ew_name(tsr_ew_op op);
const char *tsr_ew_cl_expr(tsr_ew_op op);

/* GEMM epilogue activation. */
typedef enum { TSR_ACT_NONE = 0, TSR_ACT_RELU, TSR_ACT_SIGMOID, TSR_ACT_TANH } tsr_activation;
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
    tsr_activation act;
};

/* Softmax over the middle axis of [outer, axis_len, inner] (ONNX Softmax; opset < 13 is lowered
 * with inner = 1 and axis_len = product of the coerced trailing dims). Numerically stable
 * (subtract the max). */
struct tsr_k_softmax {
    int64_t outer, axis_len, inner;
};

/* Copy n elements. */
struct tsr_k_copy {
    int64_t n;
};

typedef enum { TSR_K_GEMM = 0, TSR_K_EW, TSR_K_SOFTMAX, TSR_K_COPY } tsr_kernel_kind;

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
    union {
        struct tsr_k_gemm gemm;
        struct tsr_k_ew ew;
        struct tsr_k_softmax softmax;
        struct tsr_k_copy copy;
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
    struct tsr_tensor_desc desc; /* always f32 */
    size_t bytes;
    int io_index;      /* INPUT / OUTPUT */
    float *const_data; /* CONST (owned by the program, 64-byte aligned) */
    size_t offset;     /* TEMP: byte offset in the arena, multiple of 64 */
};

struct tsr_program {
    int n_buffers;
    struct tsr_buffer *buffers;
    int n_kernels;
    struct tsr_kernel *kernels; /* in execution order */
    size_t arena_bytes;         /* size of the TEMP arena (liveness-planned) */
    int n_inputs, n_outputs;
    int *input_buffers;  /* buffer id of graph input i */
    int *output_buffers; /* buffer id of graph output i */
};

void tsr_program_free(struct tsr_program *prog);

/* A backend. Every member is required.
 *
 * prepare: makes an executable for device `device` (index within the backend: 0 for the CPU,
 *   N for opencl:N) from `prog`. The program outlives the executable. Allocates the arena from
 *   the device's pool, uploads constants, builds or picks kernels. Returns TSR_OK, TSR_E_NOMEM,
 *   TSR_E_DEVICE, TSR_E_DEVICE_NOMEM, TSR_E_BUILD, TSR_E_UNSUPPORTED (error recorded on ctx).
 * execute: one run. inputs/outputs are indexed like prog->input_buffers/output_buffers and have
 *   been validated (dtype f32, shapes equal). Blocks until outputs are in host memory. Records a
 *   profiler event per kernel and transfer when the profiler is on. Allocates nothing in steady
 *   state. Returns TSR_OK, TSR_E_DEVICE, TSR_E_DEVICE_NOMEM.
 * release: frees the executable (memory back to the pools). NULL is a no-op. */
struct tsr_backend_ops {
    const char *name; /* "cpu", "opencl" */
    tsr_status (*prepare)(tsr_context *ctx, int device, const struct tsr_program *prog,
                          void **exec);
    tsr_status (*execute)(void *exec, const struct tsr_tensor *inputs, struct tsr_tensor *outputs);
    void (*release)(void *exec);
};

extern const struct tsr_backend_ops tsr_cpu_backend_ops;    /* backends/cpu/cpu_backend.c */
extern const struct tsr_backend_ops tsr_opencl_backend_ops; /* backends/opencl/cl_backend.c */

#endif
