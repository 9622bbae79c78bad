/* A bounded walk of an ONNX file's protobuf wire format, before protobuf-c unpacks it
 * (issue 12 item 4): it counts nodes and values and measures tensors and nesting so that an
 * over-limit or malformed model is refused at a cost bounded by its size, without allocating.
 * Fields walked: ModelProto.graph -> GraphProto.node / initializer / input (and, through
 * NodeProto.attribute, the subgraphs of If / Loop / Scan); every other field is skipped by its
 * length. The walker reads only inside [data, data + size) and recurses at most limits->depth
 * levels. */
#ifndef TSR_ONNX_PRESCAN_H
#define TSR_ONNX_PRESCAN_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/internal.h"

/* The caps of ctx (each > 0): its option when set, else the environment variable, else the
 * default (docs/RELIABILITY.md, "Limits"). ctx may be NULL. */
void tsr_onnx_limits_get(const tsr_context *ctx, struct tsr_onnx_limits *lim);

/* Walks `size` bytes of `data`. Returns TSR_OK, TSR_E_PARSE (malformed wire format on a walked
 * path) or TSR_E_UNSUPPORTED (a cap exceeded); the message names `label`, the thing (node or
 * tensor name when the walk has seen it), the value, the limit and the variable raising it. */
tsr_status tsr_onnx_prescan(tsr_context *ctx, const char *label, const uint8_t *data, size_t size,
                            const struct tsr_onnx_limits *lim);

#endif
