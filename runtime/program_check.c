/*
 * program_check.c — checks of the program contract (program.h) every backend shares: the
 * element types of kernels and their argument buffers against what a backend declares.
 */
#include "runtime/program.h"

#include <stdio.h>

int tsr_kernel_dtypes_ok(const struct tsr_program *prog, const struct tsr_kernel *k,
                         tsr_kernel_dtypes_fn *declared, tsr_dtype *bad_dtype, int *bad_arg) {
    tsr_dtype bad = k->dtype;
    int arg = -1;
    if ((unsigned)k->dtype >= 32 || !(declared(k->kind) & TSR_DTYPE_BIT(k->dtype))) goto no;
    int n_in = k->n_inputs < 0                       ? 0
               : k->n_inputs > TSR_KERNEL_MAX_INPUTS ? TSR_KERNEL_MAX_INPUTS
                                                     : k->n_inputs;
    for (arg = 0; arg <= n_in; arg++) {
        int b = arg < n_in ? k->inputs[arg] : k->output;
        if (b < 0 || b >= prog->n_buffers) continue;
        if (prog->buffers[b].desc.dtype != k->dtype) {
            bad = prog->buffers[b].desc.dtype;
            goto no;
        }
    }
    return 1;
no:
    if (bad_dtype) *bad_dtype = bad;
    if (bad_arg) *bad_arg = arg;
    return 0;
}

int tsr_kernel_dtypes_why(const struct tsr_program *prog, const struct tsr_kernel *k,
                          tsr_kernel_dtypes_fn *declared, const char *backend, char *why,
                          size_t why_size) {
    tsr_dtype bad;
    int arg;
    if (why && why_size) why[0] = '\0';
    if (tsr_kernel_dtypes_ok(prog, k, declared, &bad, &arg)) return 1;
    if (!why || !why_size) return 0;
    if (arg < 0) {
        snprintf(why, why_size, "the %s backend has no kernel of this kind for dtype %s", backend,
                 tsr_dtype_name(bad));
        return 0;
    }
    int is_in = arg < k->n_inputs && arg < TSR_KERNEL_MAX_INPUTS;
    int b = is_in ? k->inputs[arg] : k->output;
    snprintf(why, why_size, "%s %d (buffer %d) is %s, the kernel computes in %s",
             is_in ? "input" : "output", is_in ? arg : 0, b, tsr_dtype_name(bad),
             tsr_dtype_name(k->dtype));
    return 0;
}

tsr_status tsr_program_check_dtypes(tsr_context *ctx, const char *backend,
                                    const struct tsr_program *prog,
                                    tsr_kernel_dtypes_fn *declared) {
    for (int i = 0; i < prog->n_kernels; i++) {
        const struct tsr_kernel *k = &prog->kernels[i];
        char why[256];
        if (tsr_kernel_dtypes_why(prog, k, declared, backend, why, sizeof why)) continue;
        return TSR_ERR(ctx, TSR_E_DTYPE, "%s prepare: kernel %d '%s' (nodes %s): %s", backend, i,
                       k->name, k->nodes ? k->nodes : "", why);
    }
    return TSR_OK;
}

tsr_dtype_set tsr_kernel_dtypes_f32(tsr_kernel_kind kind) {
    (void)kind;
    return TSR_DTYPE_BIT(TSR_F32);
}
