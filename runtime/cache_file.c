/*
 * cache_file.c — bounded, non-blocking reads and atomic writes of cache files (rules in
 * cache_file.h).
 */
#include "runtime/cache_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Why open(2) failed, as a static string. */
static const char *open_reason(int err) {
    switch (err) {
    case ELOOP:
        return "symbolic link (not followed)";
    case EACCES:
    case EPERM:
        return "unreadable: permission denied";
    default:
        return "cannot be opened";
    }
}

tsr_cache_file_result tsr_cache_file_read(const char *path, size_t max_bytes, unsigned char **data,
                                          size_t *n, const char **why) {
    *data = NULL;
    *n = 0;
    *why = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        /* No file, or no directory (a path component is a file): nothing cached there; the
         * writer reports an unusable directory. */
        if (errno == ENOENT || errno == ENOTDIR) return TSR_CACHE_FILE_ABSENT;
        *why = open_reason(errno);
        return TSR_CACHE_FILE_REJECTED;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        *why = "fstat failed";
        goto reject;
    }
    if (!S_ISREG(sb.st_mode)) {
        *why = S_ISDIR(sb.st_mode) ? "a directory, not a file" : "not a regular file";
        goto reject;
    }
    if (sb.st_size < 0 || (uint64_t)sb.st_size > (uint64_t)max_bytes) {
        *why = "larger than the limit";
        goto reject;
    }
    size_t size = (size_t)sb.st_size;
    unsigned char *buf = malloc(size + 1);
    if (!buf) {
        *why = "out of memory";
        goto reject;
    }
    size_t off = 0;
    while (off < size) {
        ssize_t r = read(fd, buf + off, size - off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        off += (size_t)r;
    }
    unsigned char extra;
    ssize_t more = off == size ? read(fd, &extra, 1) : 0;
    if (off != size || more != 0) {
        free(buf);
        *why = off != size ? "shorter than its size (changed while read)" : "grew while read";
        goto reject;
    }
    buf[size] = '\0';
    close(fd);
    *data = buf;
    *n = size;
    return TSR_CACHE_FILE_OK;
reject:
    close(fd);
    return TSR_CACHE_FILE_REJECTED;
}

/* mkdir -p of dir (mode 0755); then dir must be a directory. Returns 0 or -1 with *why. */
static int make_dirs(const char *dir, const char **why) {
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s", dir);
    *why = "cannot create the directory";
    if (n <= 0 || (size_t)n >= sizeof tmp) return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    struct stat sb;
    if (stat(tmp, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        *why = "the cache directory path is not a directory";
        return -1;
    }
    return 0;
}

int tsr_cache_file_write(const char *dir, const char *path, const void *const *parts,
                         const size_t *lens, int n_parts, const char **why) {
    if (make_dirs(dir, why) != 0) return -1;
    char tmp[4200];
    int w = snprintf(tmp, sizeof tmp, "%s/.tsr-tmp-XXXXXX", dir);
    *why = "cannot create a temporary file";
    if (w < 0 || (size_t)w >= sizeof tmp) return -1;
    int fd = mkstemp(tmp);
    if (fd < 0) return -1;
    int ok = 1; /* mode 0600 (mkstemp): the caches are per user */
    for (int i = 0; ok && i < n_parts; i++) {
        const unsigned char *p = parts[i];
        size_t off = 0;
        while (off < lens[i]) {
            ssize_t r = write(fd, p + off, lens[i] - off);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            off += (size_t)r;
        }
        ok = off == lens[i];
    }
    /* No fsync: both caches validate every file they read, so one torn by a crash is
     * rejected and rebuilt like any corrupt file; builds stay free of disk flushes. */
    if (close(fd) != 0) ok = 0;
    if (!ok) {
        *why = "write failed";
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        *why = "rename failed (is the entry's path a directory?)";
        unlink(tmp);
        return -1;
    }
    *why = NULL;
    return 0;
}
