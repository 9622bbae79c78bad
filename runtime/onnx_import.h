/* onnx_import.h — the importer's entry points inside the library (the public ones are
 * tsr_onnx_import_file / tsr_onnx_import_buffer in tessera.h). */
#ifndef TSR_ONNX_IMPORT_H
#define TSR_ONNX_IMPORT_H

#include <stddef.h>

#include "tessera.h"

/* tsr_onnx_import_buffer, with `base_dir` the directory external tensor data is read from
 * (runtime/onnx_external.h; the model file's directory; NULL: external data is refused). The
 * graph's model source (symbolic dims) records base_dir, so that a re-import at other shapes
 * (runtime/plan.c) reads the same files. Same statuses as tsr_onnx_import_buffer, and those of
 * tsr_onnx_external_read. */
tsr_status tsr_onnx_import_buffer_at(tsr_context *ctx, const void *data, size_t size,
                                     const char *label, const char *base_dir,
                                     const struct tsr_input_shape *shapes, size_t n_shapes,
                                     tsr_graph **out);

#endif
