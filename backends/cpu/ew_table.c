/*
 * ew_table.c — picks the elementwise kernel table of an ISA tier (ew_kernels.h).
 * Compiled without ISA flags: it only hands out pointers.
 */
#include "backends/cpu/ew_kernels.h"

const struct tsr_cpu_ew_kernels *tsr_cpu_ew_table(tsr_cpu_isa isa) {
    switch (isa) {
    case TSR_ISA_AVX512:
        return &tsr_cpu_ew_avx512;
    case TSR_ISA_AVX2:
        return &tsr_cpu_ew_avx2;
    case TSR_ISA_SCALAR:
        break;
    }
    return &tsr_cpu_ew_scalar;
}
