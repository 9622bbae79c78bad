/*
 * fuzz_onnx.c — the ONNX importer end to end: tsr_onnx_import_buffer on the bytes, then (when
 * the graph's inputs, outputs and arena fit TSR_FUZZ_RUN_CAP) tsr_compile for the CPU and one
 * tsr_plan_run on inputs of the declared shapes filled from the same bytes.
 * Corpus: tests/fuzz/corpus/onnx (models/ and tests/data: the .onnx files, ONNX node tests,
 * minimised).
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tsr_context *ctx = tsr_fuzz_context();
    tsr_graph *graph = NULL;
    tsr_status st = tsr_onnx_import_buffer(ctx, data, size, "fuzz.onnx", NULL, 0, &graph);
    tsr_fuzz_note("import", st);
    if (st != TSR_OK) return 0;
    tsr_fuzz_compile_run(graph, data, size);
    tsr_graph_destroy(graph);
    return 0;
}
