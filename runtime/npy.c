/*
 * npy.c — NumPy .npy files (tsr_npy_load / tsr_npy_save).
 *
 * Format: numpy.lib.format, https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 * (NEP 1). A file is
 *   "\x93NUMPY" major minor  header_len  header  data
 * header_len is a little-endian uint16 in version 1.0 and a uint32 in 2.0 / 3.0; the header is a
 * Python literal dict {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
 * spaces and ended by '\n' (ASCII in 1.0/2.0, UTF-8 in 3.0). The dtypes of tsr_dtype in C order
 * are supported (descrs in runtime/tensor.c); the library targets little-endian hosts.
 */
#include "runtime/checked.h"
#include "runtime/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest header accepted (numpy itself refuses headers over 10000 bytes unless told). */
#define NPY_MAX_HEADER (1u << 20)

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* Parsed header fields. */
struct npy_header {
    char descr[16];
    int have_descr, have_fortran, have_shape;
    int fortran;
    int rank;
    int64_t dims[TSR_MAX_RANK];
};

/* Cursor over the header text. */
struct npy_cursor {
    const char *p, *end;
};

static void npy_skip_ws(struct npy_cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

/* Consumes `ch` (after whitespace). Returns 1 if it was there. */
static int npy_accept(struct npy_cursor *c, char ch) {
    npy_skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* Reads a quoted Python string ('...' or "...", no escapes) into buf. Returns 0 or -1. */
static int npy_string(struct npy_cursor *c, char *buf, size_t size) {
    npy_skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= size) return -1;
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end) return -1;
    c->p++;
    buf[n] = '\0';
    return 0;
}

/* Reads a non-negative decimal integer (at most 2^48). Returns 0 or -1. */
static int npy_int(struct npy_cursor *c, int64_t *out) {
    npy_skip_ws(c);
    int64_t v = 0;
    int digits = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        v = v * 10 + (*c->p++ - '0');
        if (v > (INT64_C(1) << 48)) return -1;
        digits++;
    }
    if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2 long suffix */
    *out = v;
    return digits ? 0 : -1;
}

/* Parses the header dict. Returns 0, or -1 with a reason in *why. */
static int npy_parse_header(const char *text, size_t len, struct npy_header *h, const char **why) {
    struct npy_cursor c = {text, text + len};
    memset(h, 0, sizeof *h);
    *why = "header is not a dict";
    if (!npy_accept(&c, '{')) return -1;
    while (!npy_accept(&c, '}')) {
        char key[32];
        *why = "bad key in header dict";
        if (npy_string(&c, key, sizeof key) || !npy_accept(&c, ':')) return -1;
        if (!strcmp(key, "descr")) {
            *why = "'descr' is not a simple type string (structured dtypes are not supported)";
            if (npy_string(&c, h->descr, sizeof h->descr)) return -1;
            h->have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            npy_skip_ws(&c);
            *why = "'fortran_order' is not True or False";
            if (c.end - c.p >= 4 && !memcmp(c.p, "True", 4))
                h->fortran = 1, c.p += 4;
            else if (c.end - c.p >= 5 && !memcmp(c.p, "False", 5))
                h->fortran = 0, c.p += 5;
            else
                return -1;
            h->have_fortran = 1;
        } else if (!strcmp(key, "shape")) {
            *why = "'shape' is not a tuple of non-negative integers of rank <= 8";
            if (!npy_accept(&c, '(')) return -1;
            h->rank = 0;
            while (!npy_accept(&c, ')')) {
                if (h->rank >= TSR_MAX_RANK) return -1;
                if (npy_int(&c, &h->dims[h->rank])) return -1;
                h->rank++;
                if (!npy_accept(&c, ',')) {
                    if (!npy_accept(&c, ')')) return -1;
                    break;
                }
            }
            h->have_shape = 1;
        } else {
            *why = "unknown key in header dict";
            return -1;
        }
        if (!npy_accept(&c, ',')) {
            *why = "header dict is not closed";
            if (!npy_accept(&c, '}')) return -1;
            break;
        }
    }
    npy_skip_ws(&c);
    *why = "text after the header dict";
    if (c.p != c.end) return -1;
    *why = "header lacks 'descr', 'fortran_order' or 'shape'";
    if (!h->have_descr || !h->have_fortran || !h->have_shape) return -1;
    return 0;
}

/* Reads exactly n bytes. Returns 0, or -1 on a short read. */
static int npy_read(FILE *f, void *dst, size_t n) {
    return fread(dst, 1, n, f) == n ? 0 : -1;
}

tsr_status tsr_npy_load(const char *path, struct tsr_tensor *out) {
    if (!path || !out) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_npy_load: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return TSR_ERR(NULL, TSR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    tsr_status st = TSR_OK;
    char *text = NULL;
    struct tsr_tensor t = {0};
    unsigned char pre[10];
    if (npy_read(f, pre, 8) || memcmp(pre, npy_magic, 6)) {
        st = TSR_ERR(NULL, TSR_E_PARSE, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    int major = pre[6], minor = pre[7];
    size_t hlen;
    if (major == 1 && minor == 0) {
        if (npy_read(f, pre + 8, 2)) goto truncated;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if ((major == 2 || major == 3) && minor == 0) {
        unsigned char l[4];
        if (npy_read(f, l, 4)) goto truncated;
        hlen = (size_t)l[0] | (size_t)l[1] << 8 | (size_t)l[2] << 16 | (size_t)l[3] << 24;
    } else {
        st = TSR_ERR(NULL, TSR_E_PARSE,
                     "%s: .npy format version %d.%d is not supported (1.0, "
                     "2.0, 3.0 are)",
                     path, major, minor);
        goto done;
    }
    if (hlen == 0 || hlen > NPY_MAX_HEADER) {
        st = TSR_ERR(NULL, TSR_E_PARSE, "%s: .npy header length %zu out of range", path, hlen);
        goto done;
    }
    text = malloc(hlen);
    if (!text) {
        st = TSR_ERR(NULL, TSR_E_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (npy_read(f, text, hlen)) goto truncated;
    struct npy_header h;
    const char *why;
    if (npy_parse_header(text, hlen, &h, &why)) {
        st = TSR_ERR(NULL, TSR_E_PARSE, "%s: bad .npy header: %s", path, why);
        goto done;
    }
    struct tsr_tensor_desc desc;
    memset(&desc, 0, sizeof desc);
    if (tsr_dtype_from_npy_descr(h.descr, &desc.dtype)) {
        st = TSR_ERR(NULL, TSR_E_DTYPE,
                     "%s: dtype '%s' is not supported ('<f4', '<f2', '<f8', '<i8', '<i4', '|i1', "
                     "'|u1', '|b1' are)",
                     path, h.descr);
        goto done;
    }
    if (h.fortran) {
        st = TSR_ERR(NULL, TSR_E_DTYPE,
                     "%s: Fortran-order arrays are not supported (save with "
                     "C order)",
                     path);
        goto done;
    }
    desc.rank = h.rank;
    for (int i = 0; i < h.rank; i++)
        desc.dims[i] = h.dims[i];
    int64_t elems = 0;
    size_t bytes = 0;
    if (tsr_desc_size(&desc, &elems, &bytes) != 0) {
        char shape[160];
        st = TSR_ERR(NULL, TSR_E_PARSE,
                     "%s: the header's shape %s is too large (element count over 2^63 or more "
                     "than 2^62 bytes)",
                     path, tsr_desc_format(&desc, shape, sizeof shape));
        goto done;
    }
    /* The payload must fit in what the file holds after the header: checked before allocating,
     * so a header claiming terabytes is a parse error, not an allocation attempt. (Only for
     * regular files; a pipe is read as it comes.) */
    struct stat sb;
    long pos = ftell(f);
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && pos >= 0 &&
        (uint64_t)bytes > (uint64_t)sb.st_size - (uint64_t)pos) {
        char shape[160];
        st = TSR_ERR(NULL, TSR_E_PARSE,
                     "%s: truncated .npy file: the header's shape %s needs %zu bytes of data, the "
                     "file has %lld after the header",
                     path, tsr_desc_format(&desc, shape, sizeof shape), bytes,
                     (long long)(sb.st_size - pos));
        goto done;
    }
    st = tsr_tensor_alloc(&desc, &t);
    if (st != TSR_OK) {
        st = TSR_ERR(NULL, st, "%s: cannot allocate %lld elements", path, (long long)elems);
        goto done;
    }
    if (bytes && npy_read(f, t.data, bytes)) goto truncated;
    if (fgetc(f) != EOF) {
        st = TSR_ERR(NULL, TSR_E_PARSE, "%s: more data than the shape holds (%zu bytes expected)",
                     path, bytes);
        goto done;
    }
    if (ferror(f)) {
        st = TSR_ERR(NULL, TSR_E_IO, "%s: read error", path);
        goto done;
    }
    goto done;
truncated:
    st = ferror(f) ? TSR_ERR(NULL, TSR_E_IO, "%s: read error", path)
                   : TSR_ERR(NULL, TSR_E_PARSE, "%s: truncated .npy file", path);
done:
    fclose(f);
    free(text);
    if (st != TSR_OK) {
        tsr_tensor_free(&t);
        return st;
    }
    *out = t;
    return TSR_OK;
}

tsr_status tsr_npy_save(const char *path, const struct tsr_tensor *t) {
    if (!path || !*path || !t)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_npy_save: NULL argument");
    if (!tsr_dtype_npy_descr(t->desc.dtype))
        return TSR_ERR(NULL, TSR_E_DTYPE, "%s: dtype %d cannot be saved (not a tessera dtype)",
                       path, (int)t->desc.dtype);
    if (tsr_desc_check(&t->desc))
        return TSR_ERR(NULL, TSR_E_INVALID_ARG, "%s: invalid tensor descriptor", path);
    size_t bytes = tsr_desc_bytes(&t->desc);
    if (bytes && !t->data) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "%s: tensor data is NULL", path);

    /* Header dict, padded with spaces so that magic + len + header is a multiple of 64 bytes
     * (numpy's ARRAY_ALIGN) and ended by '\n'. */
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     tsr_dtype_npy_descr(t->desc.dtype));
    for (int i = 0; i < t->desc.rank; i++)
        n += snprintf(hdr + n, sizeof hdr - (size_t)n, "%s%lld", i ? ", " : "",
                      (long long)t->desc.dims[i]);
    n += snprintf(hdr + n, sizeof hdr - (size_t)n, "%s), }", t->desc.rank == 1 ? "," : "");
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    memset(hdr + n, ' ', pad);
    hdr[(size_t)n + pad] = '\n';
    size_t hlen = (size_t)n + pad + 1;
    unsigned char pre[10] = {0x93,
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) return TSR_ERR(NULL, TSR_E_IO, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        tsr_status st =
            TSR_ERR(NULL, TSR_E_IO, "%s: cannot create temporary file: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    FILE *f = fdopen(fd, "wb");
    int ok = f != NULL;
    if (!f) close(fd);
    ok = ok && fwrite(pre, 1, sizeof pre, f) == sizeof pre;
    ok = ok && fwrite(hdr, 1, hlen, f) == hlen;
    ok = ok && (bytes == 0 || fwrite(t->data, 1, bytes, f) == bytes);
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) != 0) ok = 0;
    if (!ok) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return TSR_ERR(NULL, TSR_E_IO, "%s: write failed: %s", path, strerror(e));
    }
    free(tmp);
    return TSR_OK;
}
