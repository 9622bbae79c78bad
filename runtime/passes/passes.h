/*
 * passes.h — graph passes run by tsr_compile before lowering, in this order:
 *   decompose (ops without kernels rewritten into ones with kernels) → fold (constant folding) → bn
 * (BatchNormalization folding) → fold → simplify (algebraic identities) → cse (common
 * subexpressions) → layernorm, gelu (pattern fusion) → dce (dead code). Fusion decisions
 * (elementwise chains, GEMM epilogues) are taken by lowering (runtime/lower.c) because they depend
 * on the kernels a backend can run. Each pass rewrites the graph in place (a clone owned by
 * tsr_compile) and is testable alone.
 */
#ifndef TSR_RUNTIME_PASSES_H
#define TSR_RUNTIME_PASSES_H

#include "runtime/graph.h"

/* Evaluates every node whose inputs are all constants (in any dtype), and every Shape / Size
 * (they read only their input's known dims), with the scalar reference and turns its output into
 * a constant; the node becomes dead. Views (Reshape, Flatten, Identity) of constants fold too.
 * An output the builder already evaluated (tsr_graph_op: small constant results) is kept. Writes
 * the number of folded nodes to *n_folded (may be NULL). Returns TSR_OK, TSR_E_NOMEM. */
tsr_status tsr_pass_fold(tsr_graph *g, int *n_folded);

/* Marks dead every node whose output does not reach a graph output. Writes the number of nodes
 * removed to *n_removed (may be NULL). Returns TSR_OK, TSR_E_NOMEM. */
tsr_status tsr_pass_dce(tsr_graph *g, int *n_removed);

/* Folds inference BatchNormalization with constant parameters into the preceding Conv or Gemm
 * (when `fold` is set, its output feeds only the BN and its weights are constant), else rewrites
 * it into Mul + Add with per-channel constants; a BN whose scale, B, mean or var is not a
 * constant becomes Sub, Div, Sqrt, Add, Mul nodes over its unsqueezed [C, 1, ...] inputs. Writes
 * the number of BN nodes handled to *n_folded. Formulas and source in bn.c. Returns TSR_OK,
 * TSR_E_NOMEM. */
tsr_status tsr_pass_bn(tsr_graph *g, int fold, int *n_folded);

/* Algebraic simplification: removes x*1, x/1, x+0, x-0 (when the constant does not enlarge x's
 * shape), Identity, and Reshape/Flatten/Transpose that keep shape and order; their consumers
 * read the input instead. Writes the number of nodes removed. O(nodes). Returns TSR_OK,
 * TSR_E_NOMEM. */
tsr_status tsr_pass_simplify(tsr_graph *g, int *n_removed);

/* Common-subexpression elimination: a node with the same op, inputs and attributes as an
 * earlier live node is removed and its consumers read the earlier output; constants with
 * identical type, shape and bytes (at most 4096 elements) are merged too. Writes the number
 * removed. O(nodes) on average (hash tables). Returns TSR_OK, TSR_E_NOMEM. */
tsr_status tsr_pass_cse(tsr_graph *g, int *n_removed);

/* Replaces a decomposed layer normalisation (ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt,
 * Div [, Mul scale][, Add bias] over the trailing axes) with one LayerNormalization node. Writes
 * the number of patterns fused. Returns TSR_OK, TSR_E_NOMEM. */
tsr_status tsr_pass_layernorm(tsr_graph *g, int *n_fused);

/* Replaces a decomposed exact GELU (Div by sqrt 2 or Mul by 1 / sqrt 2, Erf, Add 1, and the two
 * Muls by x and 0.5 in the orders torch.onnx exports; patterns in gelu.c) or GPT-2's tanh form
 * (Gelu approximate="tanh") whose intermediates have no other reader with one Gelu node. Writes the
 * number of patterns fused. Returns TSR_OK, TSR_E_NOMEM. */
tsr_status tsr_pass_gelu(tsr_graph *g, int *n_fused);

/* Pass helper: inserts node `op`(in[0..n-1]) with attributes *at (NULL: the defaults), named
 * "<base>:<what>", at node index *pos (then advances *pos past it), writing a new value of desc
 * *od (no data). Returns the new value, or -1 on OOM. */
tsr_value tsr_pass_emit_node(tsr_graph *g, int *pos, const char *base, const char *what, tsr_op op,
                             const struct tsr_op_attrs *at, const tsr_value *in, int n,
                             const struct tsr_tensor_desc *od);

/* Rewrites operators without kernels of their own into ones with kernels: every ConvTranspose
 * (1-D, 2-D, 3-D) into Unsqueeze + Pad + Reshape (zero insertion for
 * strides > 1), a Pad (the equivalent convolution's padding; negative pads crop), and a stride-1
 * Conv (dilations kept) with weights flipped spatially (Slice, steps -1) and transposed to
 * [M, C/group, k...] (Transpose, Reshape; constant weights fold); LpPool, GlobalLpPool into
 * Abs, Pow, a depthwise ones-Conv or ReduceSum, Pow; MeanVarianceNormalization into its ONNX
 * function body; 3-D pools into two 2-D pools; every 3-D Conv (also the one a 3-D ConvTranspose
 * becomes) into Transpose + Pad, per depth tap a strided Slice + 2-D Conv with the weight slice,
 * an Add chain, Reshape + Transpose. Formulas in decompose.c. Writes the number rewritten. Returns
 * TSR_OK, TSR_E_NOMEM, the geometry's errors. */
tsr_status tsr_pass_decompose(tsr_graph *g, int *n_rewritten);

#endif
