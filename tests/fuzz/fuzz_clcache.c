/*
 * fuzz_clcache.c — the OpenCL program-cache entry reader: the bytes are written as an entry file,
 * read back under the cache's file rules (runtime/cache_file.c: regular file, bounded size) and
 * validated by tsr_cl_cache_entry_parse (backends/opencl/cl_program_cache.c). The expected key
 * digest is taken from the entry's own key field (bytes 8..39), so inputs get past the key check
 * and reach the size and checksum checks; the binding digest is fixed. An accepted entry's
 * binary must lie inside the file, right after the header. No OpenCL device is needed: the
 * driver never sees the bytes here.
 * Corpus: tests/fuzz/corpus/clcache.
 */
#include "fuzz.h"

#include "backends/opencl/cl_internal.h"
#include "runtime/cache_file.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = tsr_fuzz_write_temp("entry.bin", data, size);
    if (!path) return 0;
    unsigned char *buf = NULL;
    size_t n = 0;
    const char *why = NULL;
    tsr_cache_file_result r = tsr_cache_file_read(path, TSR_CL_CACHE_MAX_FILE, &buf, &n, &why);
    if (r == TSR_CACHE_FILE_REJECTED && !why) abort(); /* a rejection must say why */
    if (r != TSR_CACHE_FILE_OK) return 0;
    if (n != size) abort();
    unsigned char key[32] = {0}, binding[32] = {0};
    if (n >= 40) memcpy(key, buf + 8, 32);
    const unsigned char *bin = NULL;
    size_t bin_n = 0;
    why = NULL;
    tsr_cl_cache_parse_result p =
        tsr_cl_cache_entry_parse(buf, n, key, binding, &bin, &bin_n, &why);
    if (p == TSR_CL_CACHE_VALID &&
        (!bin || bin != buf + TSR_CL_CACHE_HEADER_BYTES || bin_n != n - TSR_CL_CACHE_HEADER_BYTES))
        abort();
    if (p != TSR_CL_CACHE_VALID && (bin || !why)) abort();
    free(buf);
    return 0;
}
