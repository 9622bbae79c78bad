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

/* The caps (each > 0); tsr_onnx_limits_get fills them from the environment. */
struct tsr_onnx_limits {
    int64_t model_bytes;  /* TSR_MAX_MODEL_BYTES: bytes of the model file */
    int64_t nodes;        /* TSR_MAX_NODES: nodes, all graphs and subgraphs together */
    int64_t values;       /* TSR_MAX_VALUES: initializers plus graph inputs, all graphs */
    int64_t tensor_bytes; /* TSR_MAX_TENSOR_SIZE: bytes of one initializer or declared input */
    int64_t rank;         /* TSR_MAX_TENSOR_RANK: dims of one tensor */
    int64_t depth;        /* TSR_MAX_DEPTH: nesting of messages (model = 1) */
};

void tsr_onnx_limits_get(const tsr_context *ctx, struct tsr_onnx_limits *lim);

/* Walks `size` bytes of `data`. Returns TSR_OK, TSR_E_PARSE (malformed wire format on a walked
 * path) or TSR_E_UNSUPPORTED (a cap exceeded); the message names `label`, the thing (node or
 * tensor name when the walk has seen it), the value, the limit and the variable raising it. */
tsr_status tsr_onnx_prescan(tsr_context *ctx, const char *label, const uint8_t *data, size_t size,
                            const struct tsr_onnx_limits *lim);

#endif
