/*
 * fuzz.h — what the fuzz targets of tests/fuzz share (docs/RELIABILITY.md, "Fuzzing").
 *
 * Each target defines LLVMFuzzerTestOneInput. Built with clang and -fsanitize=fuzzer
 * (-DTSR_FUZZ=ON) it is a libFuzzer program; otherwise fuzz_main.c supplies a main() that
 * replays the files and directories named on its command line, so ctest replays the corpora
 * and the regressions with the ordinary (gcc, ASan, TSan) builds.
 */
#ifndef TSR_TESTS_FUZZ_H
#define TSR_TESTS_FUZZ_H

#include "tessera.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Most bytes of inputs, outputs and arena a target runs a plan with (bigger models are skipped:
 * the fuzzer looks for bugs, not for slow large runs). */
#define TSR_FUZZ_RUN_CAP ((size_t)4 << 20)
/* Most floating-point operations per run (the kernels' estimates, tsr_kernel_info): a few bytes
 * can describe a depthwise conv with 65536 x 2 taps on a 196606 x 4 plane (5e10 multiply-adds in
 * 4 MB), which ran past libFuzzer's 30 s timeout under ASan and coverage. */
#define TSR_FUZZ_RUN_FLOPS 2e8

/* One CPU-only context for the whole process: one thread, no calibration, errors not logged.
 * Aborts when it cannot be created (the target cannot do anything then). */
tsr_context *tsr_fuzz_context(void);

/* Fills t (allocated) deterministically from data[0..size): byte i of the stream, cycling,
 * mapped to a value of t's dtype (floats in [-8, 8); int16/32/64 mostly in [-4, 12), one byte
 * value in 16 up to about +-16000; 8-bit integers their whole range; bools 0/1). */
void tsr_fuzz_fill(struct tsr_tensor *t, const uint8_t *data, size_t size, size_t *pos);

/* With TSR_FUZZ_VERBOSE set in the environment: prints "fuzz: STAGE: STATUS: message" to
 * stderr (to see how far an input gets when reproducing a finding). */
void tsr_fuzz_note(const char *stage, tsr_status st);

/* Bytes of desc, or SIZE_MAX when the element count or the byte count overflows. */
size_t tsr_fuzz_desc_bytes(const struct tsr_tensor_desc *desc);

/* Compiles graph for the CPU and runs it once on inputs filled from data (tsr_fuzz_fill), when
 * its inputs, outputs and arena fit TSR_FUZZ_RUN_CAP and its kernels TSR_FUZZ_RUN_FLOPS. Failures
 * with a status are fine; a crash, a sanitizer report or a leak is what the fuzzer finds. */
void tsr_fuzz_compile_run(tsr_graph *graph, const uint8_t *data, size_t size);

/* Writes data to a private temporary file (one per process, rewritten each call) and returns
 * its path; NULL on failure. name: the file's base name within the private directory. */
const char *tsr_fuzz_write_temp(const char *name, const uint8_t *data, size_t size);
/* The private temporary directory (created at first use). */
const char *tsr_fuzz_temp_dir(void);

#endif
