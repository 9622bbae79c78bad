/*
 * fuzz_calib.c — the calibration cache file reader (runtime/calib_store.c): the bytes are
 * written as the cache file of a fixed key and read with tsr_calib_load; a file it accepts is
 * written again (tsr_calib_save) and must read back to the same figures.
 * Corpus: tests/fuzz/corpus/calib (files tsr_calib_save writes).
 */
#include "fuzz.h"

#include "runtime/calibration.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_KEY "cpu|fuzz|1|0.1.0|isa=avx2|threads=1|build=opt|kernels=1"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tsr_context *ctx = tsr_fuzz_context();
    char path[4200];
    if (tsr_calib_cache_path(ctx, FUZZ_KEY, path, sizeof path) != 0) abort();
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, size, f) == size;
    if (fclose(f) != 0 || !ok) return 0;
    struct tsr_calibration c, d;
    const char *why = NULL;
    if (tsr_calib_load(ctx, FUZZ_KEY, &c, &why) != 0) return 0;
    if (tsr_calib_save(ctx, &c) != 0 || tsr_calib_load(ctx, FUZZ_KEY, &d, &why) != 0) abort();
    if (c.n_gemm != d.n_gemm || c.n_bw != d.n_bw || c.bandwidth_gbps != d.bandwidth_gbps ||
        memcmp(c.gemm, d.gemm, sizeof c.gemm[0] * (size_t)c.n_gemm))
        abort();
    return 0;
}
