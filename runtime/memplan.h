/*
 * memplan.h — the memory plan of a lowered program: an offset for every intermediate (TEMP)
 * buffer in one arena per device, from liveness intervals over the kernel order.
 */
#ifndef TSR_RUNTIME_MEMPLAN_H
#define TSR_RUNTIME_MEMPLAN_H

#include "runtime/program.h"

/* Assigns prog->buffers[b].offset (64-byte aligned) for every TEMP buffer and sets
 * prog->arena_bytes, arena_lower_bound_bytes and unplanned_bytes.
 *
 * Liveness, in half steps: kernel k writes its output at 2k+1 and reads its inputs at 2k+1,
 * except that an elementwise kernel reads an input of exactly the output's layout at 2k (each
 * element is read before the same element is written), so that buffer may be reused for the
 * output (in place) when the element sizes match too. Two buffers may share bytes when their
 * intervals do not intersect, except that such an in-place pair (intervals that meet at the half
 * step) shares bytes only exactly — the same offset — or not at all: a shifted overlap would
 * write element i over another input element that a parallel kernel may not have read yet.
 *
 * Placement: offline greedy heuristics of Pisarchyk & Lee, "Efficient Memory Management for Deep
 * Neural Net Inference" (2020) — buffers visited by decreasing size, by first use, and by
 * decreasing size x lifetime, each placed first-fit (lowest offset), best-fit (smallest gap
 * that fits) or alternately from the bottom and from the top under the lower bound (packs
 * producer/consumer chains from both ends), then up to 64 random visiting orders (fixed seed:
 * reproducible plans) while the arena is above the lower bound; the smallest arena wins. The lower
 * bound is the largest total of simultaneously live bytes (one sweep over the half steps). Cost
 * O(t * n^2) for n TEMP buffers, t capped so that t * n^2 <= 2e7; above 4096 buffers only the
 * by-first-use orders, swept (a placed buffer that ended leaves the candidates): O(n * L) for at
 * most L buffers live at once, so that a 100,000-node graph plans in milliseconds.
 * Returns TSR_OK, TSR_E_SHAPE (the intermediates together exceed 2^62 bytes,
 * TSR_MAX_TENSOR_BYTES) or TSR_E_NOMEM (recorded on ctx). */
tsr_status tsr_memplan(tsr_context *ctx, struct tsr_program *prog);

#endif
