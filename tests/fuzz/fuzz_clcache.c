/*
 * fuzz_clcache.c — the OpenCL program-cache entry reader (backends/opencl/cl_program_cache.c,
 * tsr_cl_cache_read_file): the bytes are written as an entry file and read back. An accepted
 * entry's binary is exactly the file minus its header. No OpenCL device is needed: the driver
 * never sees the bytes here.
 * Corpus: tests/fuzz/corpus/clcache.
 */
#include "fuzz.h"

#include "backends/opencl/cl_internal.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = tsr_fuzz_write_temp("entry.bin", data, size);
    if (!path) return 0;
    size_t n = 0;
    const char *why = NULL;
    unsigned char *bin = tsr_cl_cache_read_file(path, &n, &why);
    if (bin && (n == 0 || n > size)) abort();
    if (!bin && !why) abort(); /* the file is there: a rejection must say why */
    free(bin);
    return 0;
}
