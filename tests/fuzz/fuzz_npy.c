/*
 * fuzz_npy.c — the .npy reader (runtime/npy.c): tsr_npy_load of the bytes written to a
 * temporary file; a file it accepts is saved again (tsr_npy_save) and reloaded, and the two
 * tensors must be equal.
 * Corpus: tests/fuzz/corpus/npy (the small .npy files of models/ and tests/data).
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = tsr_fuzz_write_temp("in.npy", data, size);
    if (!path) return 0;
    struct tsr_tensor t = {0};
    tsr_status st = tsr_npy_load(path, &t);
    tsr_fuzz_note("npy_load", st);
    if (st != TSR_OK) return 0;
    /* An accepted file holds exactly its shape's bytes after the header. */
    size_t bytes = tsr_fuzz_desc_bytes(&t.desc);
    if (bytes == SIZE_MAX || bytes > size) abort();
    char again[512];
    snprintf(again, sizeof again, "%s/again.npy", tsr_fuzz_temp_dir());
    struct tsr_tensor u = {0};
    if (tsr_npy_save(again, &t) != TSR_OK || tsr_npy_load(again, &u) != TSR_OK) abort();
    if (u.desc.dtype != t.desc.dtype || u.desc.rank != t.desc.rank ||
        memcmp(u.desc.dims, t.desc.dims, sizeof(int64_t) * (size_t)t.desc.rank) ||
        (bytes && memcmp(u.data, t.data, bytes)))
        abort();
    tsr_tensor_free(&u);
    tsr_tensor_free(&t);
    return 0;
}
