/*
 * cache_file.h — reading and writing the files of tessera's on-disk caches (the OpenCL program
 * cache, backends/opencl/cl_program_cache.c, and the calibration files, runtime/calib_store.c):
 * the one place that decides what a cache file may be and how it is replaced.
 *
 * Reading never blocks and never reads without bound: the path is opened with
 * O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC (a symbolic link, e.g. to /dev/zero, is refused;
 * a FIFO opens without waiting for a writer), fstat(2) must report a regular file of at most
 * `max_bytes` bytes, and exactly that many bytes are read (a file that grows while read is
 * refused). Writing is atomic: the directory is created (mkdir -p, mode 0755), the data goes to
 * a unique temporary file in that directory (mkstemp, mode 0600: the caches are per user), then
 * rename(2)d over the path (which replaces a FIFO, a symbolic link or a corrupt file; readers
 * see the old file or the new one, never a partial one). Not fsync'ed: every reader validates
 * what it reads, so a file torn by a crash is rejected and rebuilt like any corrupt one.
 */
#ifndef TSR_RUNTIME_CACHE_FILE_H
#define TSR_RUNTIME_CACHE_FILE_H

#include <stddef.h>

/* Outcome of tsr_cache_file_read. */
typedef enum {
    TSR_CACHE_FILE_OK = 0,      /* *data (malloc'd, caller frees, NUL-terminated) and *n set */
    TSR_CACHE_FILE_ABSENT = 1,  /* no such file (ENOENT, or ENOTDIR: the directory path is a
                                 * file): a plain cache miss; the write reports the directory */
    TSR_CACHE_FILE_REJECTED = 2 /* present but unusable: *why says why (static string) */
} tsr_cache_file_result;

/* Reads the whole cache file at `path` under the rules of the file comment. On
 * TSR_CACHE_FILE_OK, *data holds n + 1 bytes (a NUL after the n bytes of the file, for text
 * parsers) and *n the file's size. On TSR_CACHE_FILE_REJECTED, *why names the reason ("not a
 * regular file", "symbolic link", "larger than the limit", "unreadable: permission denied",
 * "out of memory", ...); *data is NULL. Thread-safe; no logging. */
tsr_cache_file_result tsr_cache_file_read(const char *path, size_t max_bytes, unsigned char **data,
                                          size_t *n, const char **why);

/* Writes the concatenation of parts[0..n_parts-1] (lens[i] bytes each) to `path` atomically,
 * creating directory `dir` (which must contain path) when missing. Returns 0, or -1 with *why
 * naming the failing step ("cannot create the directory", "the directory is not a directory",
 * "cannot create a temporary file", "write failed", "rename failed"). Thread-safe; no logging. */
int tsr_cache_file_write(const char *dir, const char *path, const void *const *parts,
                         const size_t *lens, int n_parts, const char **why);

#endif
