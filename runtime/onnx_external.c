/*
 * onnx_external.c — reads ONNX external tensor data confined to the model's directory
 * (onnx_external.h).
 */
#include "runtime/onnx_external.h"

#include "runtime/checked.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Parses a non-negative decimal int64 that is the whole of s. Returns 0, or -1. */
static int parse_u63(const char *s, int64_t *out) {
    if (!s || !*s) return -1;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        if (tsr_mul_i64(v, 10, &v) || tsr_add_i64(v, *p - '0', &v)) return -1;
    }
    *out = v;
    return 0;
}

/* Is there a ".." component in the '/'-separated path p? */
static int has_dotdot(const char *p) {
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* Is the resolved path `path` strictly inside the resolved directory `dir`? */
static int is_inside(const char *dir, const char *path) {
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/') return path[0] == '/' && path[1] != '\0';
    return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

tsr_status tsr_onnx_external_read(tsr_context *ctx, const char *label, const char *base_dir,
                                  const char *name, size_t n_kv,
                                  Onnx__StringStringEntryProto *const *kv, size_t bytes,
                                  void **out) {
    *out = NULL;
    const char *location = NULL, *offset_s = NULL, *length_s = NULL;
    for (size_t i = 0; i < n_kv; i++) {
        const char *k = kv[i] && kv[i]->key ? kv[i]->key : "";
        const char **slot = !strcmp(k, "location") ? &location
                            : !strcmp(k, "offset") ? &offset_s
                            : !strcmp(k, "length") ? &length_s
                                                   : NULL;
        if (!slot) continue; /* checksum, basepath, ...: not used */
        if (*slot)
            return TSR_ERR(ctx, TSR_E_PARSE, "%s: tensor '%s': external_data key '%s' given twice",
                           label, name, k);
        *slot = kv[i]->value ? kv[i]->value : "";
    }
    if (!location || !*location)
        return TSR_ERR(ctx, TSR_E_PARSE, "%s: tensor '%s' uses external data without a location",
                       label, name);
    if (!base_dir)
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "%s: tensor '%s' has its data in external file '%s', which needs the "
                       "model's directory: import the model from its file "
                       "(tsr_onnx_import_file, tessera.Model(path))",
                       label, name, location);
    if (location[0] == '/' || has_dotdot(location))
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "%s: tensor '%s': external data location '%s' is %s; it must be a path "
                       "inside the model's directory",
                       label, name, location, location[0] == '/' ? "absolute" : "outside it (..)");
    int64_t offset = 0, length = -1;
    if (offset_s && parse_u63(offset_s, &offset))
        return TSR_ERR(ctx, TSR_E_PARSE,
                       "%s: tensor '%s': external data offset '%s' is not a "
                       "non-negative integer",
                       label, name, offset_s);
    if (length_s && parse_u63(length_s, &length))
        return TSR_ERR(ctx, TSR_E_PARSE,
                       "%s: tensor '%s': external data length '%s' is not a "
                       "non-negative integer",
                       label, name, length_s);
    if (length >= 0 && (uint64_t)length != (uint64_t)bytes)
        return TSR_ERR(ctx, TSR_E_PARSE,
                       "%s: tensor '%s': external data length %lld bytes, but its dims and type "
                       "need %zu bytes",
                       label, name, (long long)length, bytes);

    /* Resolve both (symbolic links followed) and require the file to lie inside the directory. */
    size_t jn = strlen(base_dir) + 1 + strlen(location) + 1;
    char *joined = malloc(jn);
    if (!joined) return TSR_ERR(ctx, TSR_E_NOMEM, "%s: out of memory", label);
    snprintf(joined, jn, "%s/%s", base_dir, location);
    char *rdir = realpath(base_dir, NULL);
    int rdir_errno = errno;
    char *rfile = rdir ? realpath(joined, NULL) : NULL;
    int rfile_errno = errno;
    tsr_status st = TSR_OK;
    if (!rdir)
        st = TSR_ERR(ctx, TSR_E_IO, "%s: model directory '%s': %s", label, base_dir,
                     strerror(rdir_errno));
    else if (!rfile)
        st = TSR_ERR(ctx, TSR_E_IO, "%s: tensor '%s': external data file '%s': %s", label, name,
                     joined, strerror(rfile_errno));
    else if (!is_inside(rdir, rfile))
        st = TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                     "%s: tensor '%s': external data location '%s' resolves to '%s', outside the "
                     "model's directory '%s'",
                     label, name, location, rfile, rdir);
    int fd = -1;
    if (st == TSR_OK) {
        fd = open(rfile, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            st = TSR_ERR(ctx, TSR_E_IO, "%s: tensor '%s': cannot open external data file '%s': %s",
                         label, name, joined, strerror(errno));
    }
    struct stat sb;
    if (st == TSR_OK && fstat(fd, &sb) != 0)
        st = TSR_ERR(ctx, TSR_E_IO, "%s: tensor '%s': external data file '%s': %s", label, name,
                     joined, strerror(errno));
    if (st == TSR_OK && !S_ISREG(sb.st_mode))
        st =
            TSR_ERR(ctx, TSR_E_IO, "%s: tensor '%s': external data file '%s' is not a regular file",
                    label, name, joined);
    int64_t end = 0;
    if (st == TSR_OK && (tsr_add_i64(offset, (int64_t)bytes, &end) || end > (int64_t)sb.st_size))
        st = TSR_ERR(ctx, TSR_E_PARSE,
                     "%s: tensor '%s': external data file '%s' has %lld bytes; the tensor needs "
                     "%zu bytes at offset %lld",
                     label, name, joined, (long long)sb.st_size, bytes, (long long)offset);
    char *dst = NULL;
    if (st == TSR_OK && !(dst = malloc(bytes ? bytes : 1)))
        st = TSR_ERR(ctx, TSR_E_NOMEM, "%s: tensor '%s': out of memory (%zu bytes)", label, name,
                     bytes);
    for (size_t done = 0; st == TSR_OK && done < bytes;) {
        ssize_t got = pread(fd, dst + done, bytes - done, (off_t)(offset + (int64_t)done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) /* a file shrunk since fstat reads 0 */
            st = TSR_ERR(ctx, TSR_E_IO, "%s: tensor '%s': reading external data file '%s': %s",
                         label, name, joined, got < 0 ? strerror(errno) : "unexpected end of file");
        else
            done += (size_t)got;
    }
    if (fd >= 0) close(fd);
    if (st == TSR_OK)
        *out = dst;
    else
        free(dst);
    free(rfile);
    free(rdir);
    free(joined);
    return st;
}
