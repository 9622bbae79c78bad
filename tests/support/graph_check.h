/*
 * graph_check.h — runs a builder graph on every CPU ISA tier the machine has and on every OpenCL
 * device, and compares each result with the scalar reference (runtime/reference.c), through the
 * kernel harness (kernel_harness.h).
 */
#ifndef TSR_TEST_GRAPH_CHECK_H
#define TSR_TEST_GRAPH_CHECK_H

#include "tessera.h"

/* Fills every graph input with deterministic values: uniform in [-2, 2), except inputs whose
 * name starts with "pos" ([0.5, 2): safe denominators). Then runs `g` with `disable_fusion` on
 * every configuration (each CPU ISA tier the machine has, every other device) through the kernel
 * harness (kernel_harness.h: kh_check) and asserts, per output, |y - ref| <= atol + rtol *
 * max|ref| (KH_REL_MAX). Returns the number of device/tier configurations that ran. */
int gc_check_all_devices(tsr_context *ctx, const tsr_graph *g, unsigned disable_fusion, double atol,
                         double rtol);

/* Kernel count of g compiled for the CPU with `disable_fusion`. */
int gc_kernel_count(tsr_context *ctx, const tsr_graph *g, unsigned disable_fusion);

/* Shorthand builders (fail the test on error). */
tsr_value gc_input(tsr_graph *g, const char *name, int rank, const int64_t *dims);
tsr_value gc_const(tsr_graph *g, int rank, const int64_t *dims, uint64_t seed);
tsr_value gc_op(tsr_graph *g, tsr_op op, tsr_value a, tsr_value b);
tsr_value gc_op1(tsr_graph *g, tsr_op op, tsr_value a);

#endif
