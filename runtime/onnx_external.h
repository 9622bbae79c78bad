/* onnx_external.h — the bytes of an ONNX tensor stored as external data (TensorProto
 * data_location = EXTERNAL), read from a file in the model's directory and nowhere else.
 *
 * Format (ONNX IR spec, "External Tensor Data",
 * https://github.com/onnx/onnx/blob/main/docs/ExternalData.md): TensorProto.external_data holds
 * string key/value pairs: "location" (required: a path relative to the directory of the model
 * file, '/'-separated), "offset" (bytes from the start of that file; default 0), "length"
 * (bytes; default: the tensor's size) and "checksum" (a SHA-1, not verified here, as in ONNX
 * Runtime). Other keys are ignored.
 *
 * Confinement (issue 12 item 4; the rules of onnx.checker and ONNX Runtime, made strict): the
 * location must be relative, without a ".." component, and must resolve (symbolic links
 * followed, realpath(3)) to a regular file inside the model's directory; it is opened with
 * O_NONBLOCK | O_NOFOLLOW, so a FIFO or device is refused rather than blocked on or read without
 * bound, and only the tensor's own bytes are read. No other file is ever opened.
 */
#ifndef TSR_ONNX_EXTERNAL_H
#define TSR_ONNX_EXTERNAL_H

#include <stddef.h>

#include "runtime/internal.h"

#include "onnx/onnx.pb-c.h"

/* Reads the `bytes` bytes of tensor `name` (for messages) whose external_data is
 * kv[0 .. n_kv) into a new buffer *out (malloc'ed, at least 1 byte; the caller frees it), from a
 * file under base_dir (the model file's directory, NULL for a model given as a buffer). The
 * buffer is allocated only once the file is known to hold offset + bytes, so a tiny model that
 * declares a huge external tensor costs no memory. `label` names the model in messages.
 * *out is NULL on failure. Thread-safe (no shared state; the file is opened and closed here).
 * Returns TSR_OK;
 *   TSR_E_UNSUPPORTED: base_dir is NULL (a buffer has no directory), or the location is absolute,
 *     has a ".." component or resolves outside base_dir (each message names the location);
 *   TSR_E_PARSE: no location, a duplicated key, an offset / length that is not a non-negative
 *     decimal, a length other than `bytes`, or a file too short for offset + bytes (naming the
 *     file size);
 *   TSR_E_IO: the file cannot be resolved, opened or read, or is not a regular file;
 *   TSR_E_NOMEM: the buffer cannot be allocated. */
tsr_status tsr_onnx_external_read(tsr_context *ctx, const char *label, const char *base_dir,
                                  const char *name, size_t n_kv,
                                  Onnx__StringStringEntryProto *const *kv, size_t bytes,
                                  void **out);

#endif
