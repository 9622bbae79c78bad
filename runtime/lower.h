/*
 * lower.h — lowering of an optimised graph into a tsr_program (fusion, buffers, memory plan).
 */
#ifndef TSR_RUNTIME_LOWER_H
#define TSR_RUNTIME_LOWER_H

#include "runtime/graph.h"
#include "runtime/program.h"

/* Lowers g (after passes; dead nodes skipped) into *out. disable_fusion: TSR_FUSE_* bits.
 * When value_buffer is not NULL, *value_buffer receives a malloc'ed array (g->n_values entries):
 * the buffer holding each value (views share their input's), -1 for values no kernel touches.
 * On success the caller owns *out (tsr_program_free). Returns TSR_OK, TSR_E_NOMEM,
 * TSR_E_UNSUPPORTED, TSR_E_SHAPE. */
tsr_status tsr_lower(tsr_graph *g, unsigned disable_fusion, struct tsr_program *out,
                     int **value_buffer);

#endif
