/*
 * program.c — the helpers of the program contract (runtime/program.h) that lowering, both
 * backends, the profiler's names and the tests share: the elementwise instruction table's
 * accessors (arity, name, OpenCL C expression, all from TSR_EW_OP_LIST), epilogue activation
 * names, and freeing a program. Dtype checks of kernels are in program_check.c.
 */
#include "runtime/program.h"

#include <stdlib.h>
#include <string.h>

int tsr_ew_arity(tsr_ew_op op) {
    switch (op) {
#define TSR_X_AR(name, arity, expr)                                                                \
    case TSR_EW_##name:                                                                            \
        return arity;
        TSR_EW_OP_LIST(TSR_X_AR)
#undef TSR_X_AR
    case TSR_EW_COUNT:
        break;
    }
    return 0;
}

const char *tsr_ew_name(tsr_ew_op op) {
    switch (op) {
#define TSR_X_NM(name, arity, expr)                                                                \
    case TSR_EW_##name:                                                                            \
        return #name;
        TSR_EW_OP_LIST(TSR_X_NM)
#undef TSR_X_NM
    case TSR_EW_COUNT:
        break;
    }
    return "?";
}

const char *tsr_ew_cl_expr(tsr_ew_op op) {
    switch (op) {
#define TSR_X_EX(name, arity, expr)                                                                \
    case TSR_EW_##name:                                                                            \
        return expr;
        TSR_EW_OP_LIST(TSR_X_EX)
#undef TSR_X_EX
    case TSR_EW_COUNT:
        break;
    }
    return "(a)";
}

/* group "dtcompute" */
const char *tsr_ew_int_cl_expr(tsr_ew_op op) {
    switch (op) {
#define TSR_X_IX(name, expr)                                                                       \
    case TSR_EW_##name:                                                                            \
        return expr;
        TSR_EW_INT_OP_LIST(TSR_X_IX)
#undef TSR_X_IX
    default:
        break;
    }
    return NULL;
}

int tsr_ew_has_float(tsr_ew_op op) {
    return op < TSR_EW_COUNT && tsr_ew_cl_expr(op)[0] != '\0';
}

int64_t tsr_ew_imm_i64(float p) {
    if (p != p) return 0;
    if (p >= 9223372036854775807.0f) return INT64_MAX;
    if (p <= -9223372036854775808.0f) return INT64_MIN;
    return (int64_t)p;
}

/* ---- issue 9, group "tkern": mixed-dtype elementwise ops (TSR_MIXED_OP_LIST) ----------- */

int tsr_mixed_arity(tsr_mixed_op op) {
    switch (op) {
#define TSR_X_AR(name, arity, expr)                                                                \
    case TSR_MX_##name:                                                                            \
        return arity;
        TSR_MIXED_OP_LIST(TSR_X_AR)
#undef TSR_X_AR
    case TSR_MX_COUNT:
        break;
    }
    return 0;
}

const char *tsr_mixed_name(tsr_mixed_op op) {
    switch (op) {
#define TSR_X_NM(name, arity, expr)                                                                \
    case TSR_MX_##name:                                                                            \
        return #name;
        TSR_MIXED_OP_LIST(TSR_X_NM)
#undef TSR_X_NM
    case TSR_MX_COUNT:
        break;
    }
    return "?";
}

const char *tsr_mixed_cl_expr(tsr_mixed_op op) {
    switch (op) {
#define TSR_X_EX(name, arity, expr)                                                                \
    case TSR_MX_##name:                                                                            \
        return expr;
        TSR_MIXED_OP_LIST(TSR_X_EX)
#undef TSR_X_EX
    case TSR_MX_COUNT:
        break;
    }
    return "0";
}

const char *tsr_activation_name(tsr_activation act) {
    switch (act) {
    case TSR_ACT_NONE:
        return "none";
    case TSR_ACT_RELU:
        return "relu";
    case TSR_ACT_SIGMOID:
        return "sigmoid";
    case TSR_ACT_TANH:
        return "tanh";
    case TSR_ACT_LEAKY_RELU:
        return "leakyrelu";
    case TSR_ACT_CLIP:
        return "clip";
    case TSR_ACT_HARD_SIGMOID:
        return "hardsigmoid";
    case TSR_ACT_HARD_SWISH:
        return "hardswish";
    case TSR_ACT_SILU:
        return "silu";
    case TSR_ACT_GELU:
        return "gelu";
    case TSR_ACT_GELU_TANH:
        return "gelutanh";
    }
    return "?";
}

void tsr_program_free(struct tsr_program *p) {
    if (!p) return;
    for (int i = 0; i < p->n_buffers; i++)
        tsr_aligned_free(p->buffers[i].const_data);
    for (int i = 0; i < p->n_kernels; i++)
        free(p->kernels[i].nodes);
    free(p->buffers);
    free(p->kernels);
    free(p->input_buffers);
    free(p->output_buffers);
    memset(p, 0, sizeof *p);
}
