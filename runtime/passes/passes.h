/*
 * passes.h — graph passes run by tsr_compile before lowering, in this order:
 *   fold (constant folding) → dce (dead-code elimination).
 * Fusion decisions (elementwise chains, GEMM epilogues) are taken by lowering (runtime/lower.c)
 * because they depend on the kernels a backend can run. Each pass rewrites the graph in place
 * (a clone owned by tsr_compile) and is testable alone.
 */
#ifndef TSR_RUNTIME_PASSES_H
#define TSR_RUNTIME_PASSES_H

#include "runtime/graph.h"

/* Evaluates every node whose inputs are all constants with the scalar reference and turns its
 * output into a constant; the node becomes dead. Views (Reshape, Flatten, Identity) of constants
 * fold too. Writes the number of folded nodes to *n_folded (may be NULL).
 * Returns TSR_OK, TSR_E_NOMEM. */
tsr_status tsr_pass_fold(tsr_graph *g, int *n_folded);

/* Marks dead every node whose output does not reach a graph output. Writes the number of nodes
 * removed to *n_removed (may be NULL). Returns TSR_OK, TSR_E_NOMEM. */
tsr_status tsr_pass_dce(tsr_graph *g, int *n_removed);

#endif
