/*
 * reference.h — the naive scalar reference of every operator: plain loops in double-free f32,
 * written for obviousness, not speed, and independent of every backend's kernels. Used by
 * constant folding and by the tests as the oracle every backend and ISA tier is compared with.
 */
#ifndef TSR_RUNTIME_REFERENCE_H
#define TSR_RUNTIME_REFERENCE_H

#include "runtime/graph.h"

/* Evaluates one node. inputs[i] are dense row-major tensors matching the node's input descs;
 * out->desc must equal the node's output desc and out->data must hold its bytes.
 * Returns TSR_OK, TSR_E_INVALID_ARG, TSR_E_UNSUPPORTED. */
tsr_status tsr_ref_eval_node(tsr_context *ctx, const struct tsr_node *node,
                             const struct tsr_tensor *const *inputs, struct tsr_tensor *out);

/* Evaluates the whole graph in node order. inputs[i] matches graph input i. Allocates
 * outputs[i] (tsr_tensor_alloc; caller frees with tsr_tensor_free) for each graph output.
 * Returns TSR_OK, TSR_E_SHAPE (input shape differs), TSR_E_NOMEM, TSR_E_UNSUPPORTED. */
tsr_status tsr_ref_eval_graph(const tsr_graph *graph, const struct tsr_tensor *inputs,
                              size_t n_inputs, struct tsr_tensor *outputs, size_t n_outputs);

#endif
