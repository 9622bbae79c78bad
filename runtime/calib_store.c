/*
 * calib_store.c — the calibration cache file: its key, location, JSON (json-c) encoding,
 * validation and atomic writes (rules in calibration.h).
 *
 * File layout (format version 4; 4 added "checksum"):
 *   { "format": "tessera-calibration", "format_version": 4, "key": "...",
 *     "checksum": "<16 hex digits>",
 *     "tessera_version": "0.1.0", "created_unix": 1700000000, "seconds": 1.9,
 *     "outliers": "median of samples with |x - median| <= 3 * 1.4826 * MAD",
 *     "bandwidth_gbps": 20.1, "launch_us": 3.2, "run_overhead_us": 5.0, "trans_gops": 1.2,
 *     "h2d_gbps": 0, "d2h_gbps": 0, "latency_us": 0,
 *     "conv_gflops": 30.0, "dwconv_gflops": 4.0, "trans_slow_gops": 0.6,
 *     "h2d_small_gbps": 0, "d2h_small_gbps": 0,
 *     "gemm": [ { "m": 32, "n": 32, "k": 32, "gflops": 5.1 }, ... ],
 *     "bandwidth": [ { "bytes": 524288, "gbps": 60.0 }, ... ] }
 *
 * "checksum" is FNV-1a-64 over the key and the IEEE-754 bits of every figure in a fixed order
 * (calib_digest; the numbers round-trip exactly through json-c's %.17g), so a flipped digit that
 * leaves a well-formed, in-range file is still caught. The reader (tsr_calib_load) reads only a
 * regular file of at most TSR_CALIB_MAX_FILE bytes without blocking (runtime/cache_file.h),
 * parses it as exactly one JSON value, checks tag, version, key, every figure's range and the
 * checksum, and else rejects the file with a reason.
 */
#include "runtime/calibration.h"
#include "runtime/cache_file.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TSR_CALIB_FORMAT_TAG "tessera-calibration"
/* The reason for a file of an older format version (tsr_calib_load returns -3 for it). */
static const char TSR_CALIB_STALE_FORMAT[] = "older format version";

/* Optimised and debug builds of the library run the CPU kernels at very different speeds, so the
 * build flavour is part of the key. */
#if defined(__OPTIMIZE__)
#define TSR_CALIB_BUILD "opt"
#else
#define TSR_CALIB_BUILD "debug"
#endif

void tsr_calib_key(const struct tsr_device_info *dev, char *buf, size_t size) {
    if (!buf || !size) return;
    if (!dev) {
        buf[0] = '\0';
        return;
    }
    /* A device that reports an ISA tier (the native CPU) is keyed by that tier and its thread
     * count (the figures depend on both); every other device by its platform. The key string
     * is the cache file's identity: keep it byte-stable. */
    if (dev->isa[0])
        snprintf(buf, size, "%s|%s|%s|%s|isa=%s|threads=%d|build=%s|kernels=%d", dev->backend,
                 dev->name, dev->driver_version, TSR_VERSION_STRING, dev->isa, dev->compute_units,
                 TSR_CALIB_BUILD, TSR_CALIB_KERNELS_VERSION);
    else
        snprintf(buf, size, "%s|%s|%s|%s|%s|build=%s|kernels=%d", dev->backend, dev->name,
                 dev->driver_version, TSR_VERSION_STRING, dev->platform, TSR_CALIB_BUILD,
                 TSR_CALIB_KERNELS_VERSION);
}

int tsr_calib_cache_dir(const tsr_context *ctx, char *buf, size_t size) {
    const char *d = tsr_context_cache_dir(ctx);
    int n;
    if (d) {
        n = snprintf(buf, size, "%s", d);
    } else if ((d = tsr_getenv("XDG_CACHE_HOME")) != NULL) {
        n = snprintf(buf, size, "%s/tessera", d);
    } else if ((d = tsr_getenv("HOME")) != NULL) {
        n = snprintf(buf, size, "%s/.cache/tessera", d);
    } else {
        return -1;
    }
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* FNV-1a, 64-bit (Fowler, Noll, Vo; http://www.isthe.com/chongo/tech/comp/fnv/): a file-name
 * hash only — the full key inside the file is what is compared. */
static uint64_t fnv1a64(const char *s) {
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* FNV-1a-64 step over n bytes. */
static uint64_t fnv1a64_bytes(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The file's checksum of c (file comment): key, then every figure's bits in a fixed order. */
static uint64_t calib_digest(const struct tsr_calibration *c) {
    uint64_t h = fnv1a64_bytes(14695981039346656037ull, c->key, strlen(c->key));
    const double figs[] = {c->bandwidth_gbps, c->launch_us,       c->run_overhead_us,
                           c->h2d_gbps,       c->d2h_gbps,        c->latency_us,
                           c->trans_gops,     c->trans_slow_gops, c->h2d_small_gbps,
                           c->d2h_small_gbps, c->conv_gflops,     c->dwconv_gflops,
                           c->seconds};
    h = fnv1a64_bytes(h, figs, sizeof figs);
    int64_t created = c->created_unix;
    h = fnv1a64_bytes(h, &created, sizeof created);
    for (int i = 0; i < c->n_gemm; i++) {
        int64_t mnk[3] = {c->gemm[i].m, c->gemm[i].n, c->gemm[i].k};
        h = fnv1a64_bytes(h, mnk, sizeof mnk);
        h = fnv1a64_bytes(h, &c->gemm[i].gflops, sizeof c->gemm[i].gflops);
    }
    for (int i = 0; i < c->n_bw; i++) {
        h = fnv1a64_bytes(h, &c->bw[i].bytes, sizeof c->bw[i].bytes);
        h = fnv1a64_bytes(h, &c->bw[i].gbps, sizeof c->bw[i].gbps);
    }
    return h;
}

int tsr_calib_cache_path(const tsr_context *ctx, const char *key, char *buf, size_t size) {
    char dir[4096];
    if (!key || tsr_calib_cache_dir(ctx, dir, sizeof dir) != 0) return -1;
    int n =
        snprintf(buf, size, "%s/calibration-%016llx.json", dir, (unsigned long long)fnv1a64(key));
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* Reads a finite number field (int or double) of obj; -1 when missing or not a number. */
static int get_num(struct json_object *obj, const char *name, double *out) {
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, name, &v)) return -1;
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return -1;
    double d = json_object_get_double(v);
    if (!isfinite(d)) return -1;
    *out = d;
    return 0;
}

/* Validates and copies the figures of a parsed file into *out; returns NULL or the reason. */
static const char *decode(struct json_object *root, const char *key, struct tsr_calibration *out) {
    struct json_object *v = NULL;
    if (!json_object_is_type(root, json_type_object)) return "not a JSON object";
    if (!json_object_object_get_ex(root, "format", &v) ||
        !json_object_is_type(v, json_type_string) ||
        strcmp(json_object_get_string(v), TSR_CALIB_FORMAT_TAG) != 0)
        return "not a tessera calibration file";
    double ver = 0;
    if (get_num(root, "format_version", &ver) != 0 || ver != TSR_CALIB_FORMAT_VERSION)
        return ver >= 1 && ver < TSR_CALIB_FORMAT_VERSION ? TSR_CALIB_STALE_FORMAT
                                                          : "other format version";
    if (!json_object_object_get_ex(root, "key", &v) || !json_object_is_type(v, json_type_string) ||
        strcmp(json_object_get_string(v), key) != 0)
        return "other device, driver or tessera version (key differs)";
    struct tsr_calibration c;
    memset(&c, 0, sizeof c);
    snprintf(c.key, sizeof c.key, "%s", key);
    double created = 0;
    /* Every figure with its range: > 0 (>= 0 where 0 means "none" or "unknown"), <= hi. The upper
     * bounds are far above any real device (100 TB/s, 10 PFLOP/s, 1 s per launch) and catch
     * flipped exponents, which would make the cost model choose absurd placements. */
    const struct {
        const char *name;
        double *dst;
        int zero_ok;
        double hi;
    } figs[] = {
        {"bandwidth_gbps", &c.bandwidth_gbps, 0, TSR_CALIB_MAX_GBPS},
        {"launch_us", &c.launch_us, 1, TSR_CALIB_MAX_US},
        {"run_overhead_us", &c.run_overhead_us, 1, TSR_CALIB_MAX_US},
        {"trans_gops", &c.trans_gops, 0, TSR_CALIB_MAX_GFLOPS},
        {"trans_slow_gops", &c.trans_slow_gops, 0, TSR_CALIB_MAX_GFLOPS},
        {"h2d_gbps", &c.h2d_gbps, 1, TSR_CALIB_MAX_GBPS},
        {"d2h_gbps", &c.d2h_gbps, 1, TSR_CALIB_MAX_GBPS},
        {"h2d_small_gbps", &c.h2d_small_gbps, 1, TSR_CALIB_MAX_GBPS},
        {"d2h_small_gbps", &c.d2h_small_gbps, 1, TSR_CALIB_MAX_GBPS},
        {"latency_us", &c.latency_us, 1, TSR_CALIB_MAX_US},
        {"conv_gflops", &c.conv_gflops, 1, TSR_CALIB_MAX_GFLOPS},
        {"dwconv_gflops", &c.dwconv_gflops, 1, TSR_CALIB_MAX_GFLOPS},
        {"seconds", &c.seconds, 1, 86400.0},
        {"created_unix", &created, 1, 1e12},
    };
    for (size_t i = 0; i < sizeof figs / sizeof figs[0]; i++) {
        double *x = figs[i].dst;
        if (get_num(root, figs[i].name, x) != 0 || *x > figs[i].hi ||
            (figs[i].zero_ok ? *x < 0 : !(*x > 0)))
            return "missing or out-of-range figure";
    }
    c.created_unix = (long long)created;
    if ((c.h2d_gbps > 0) != (c.d2h_gbps > 0)) return "inconsistent transfer figures";
    struct json_object *g = NULL;
    if (!json_object_object_get_ex(root, "gemm", &g) || !json_object_is_type(g, json_type_array))
        return "missing gemm curve";
    size_t n = json_object_array_length(g);
    if (n < 1 || n > TSR_CALIB_MAX_GEMM) return "gemm curve of a bad length";
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(g, i);
        double m, nn, k, gf;
        if (!e || get_num(e, "m", &m) || get_num(e, "n", &nn) || get_num(e, "k", &k) ||
            get_num(e, "gflops", &gf) || m < 1 || nn < 1 || k < 1 || m > TSR_CALIB_MAX_DIM ||
            nn > TSR_CALIB_MAX_DIM || k > TSR_CALIB_MAX_DIM || !(gf > 0) ||
            gf > TSR_CALIB_MAX_GFLOPS)
            return "invalid gemm point";
        c.gemm[i] = (struct tsr_calib_gemm){(int64_t)m, (int64_t)nn, (int64_t)k, gf};
        if (i > 0 && (double)c.gemm[i].m * c.gemm[i].n * c.gemm[i].k <=
                         (double)c.gemm[i - 1].m * c.gemm[i - 1].n * c.gemm[i - 1].k)
            return "gemm points not in increasing size";
    }
    c.n_gemm = (int)n;
    struct json_object *bw = NULL;
    if (!json_object_object_get_ex(root, "bandwidth", &bw) ||
        !json_object_is_type(bw, json_type_array))
        return "missing bandwidth curve";
    n = json_object_array_length(bw);
    if (n > TSR_CALIB_MAX_BW) return "bandwidth curve of a bad length";
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(bw, i);
        double bytes, gbps;
        if (!e || get_num(e, "bytes", &bytes) || get_num(e, "gbps", &gbps) || bytes < 1 ||
            bytes > 0x1p50 || !(gbps > 0) || gbps > TSR_CALIB_MAX_GBPS)
            return "invalid bandwidth point";
        if (i > 0 && bytes <= c.bw[i - 1].bytes) return "bandwidth points not in increasing size";
        c.bw[i] = (struct tsr_calib_bw){bytes, gbps};
    }
    c.n_bw = (int)n;
    char sum[20];
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)calib_digest(&c));
    if (!json_object_object_get_ex(root, "checksum", &v) ||
        !json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), sum) != 0)
        return "checksum mismatch (edited or corrupted figures)";
    *out = c;
    return NULL;
}

int tsr_calib_load(const tsr_context *ctx, const char *key, struct tsr_calibration *out,
                   const char **why) {
    char path[4200];
    if (why) *why = NULL;
    if (!key || !out || tsr_calib_cache_path(ctx, key, path, sizeof path) != 0) return -1;
    unsigned char *text = NULL;
    size_t n = 0;
    const char *bad = NULL;
    tsr_cache_file_result fr = tsr_cache_file_read(path, TSR_CALIB_MAX_FILE, &text, &n, &bad);
    if (fr == TSR_CACHE_FILE_ABSENT) return -1;
    if (fr == TSR_CACHE_FILE_REJECTED) {
        if (why) *why = bad;
        return -2;
    }
    /* The whole file must be one JSON value and white space (no trailing bytes, no NUL). */
    struct json_tokener *tok = json_tokener_new();
    struct json_object *root = NULL;
    const char *t = (const char *)text;
    if (tok && n <= (size_t)INT32_MAX && strlen(t) == n) {
        root = json_tokener_parse_ex(tok, t, (int)n);
        size_t end = json_tokener_get_parse_end(tok);
        if (json_tokener_get_error(tok) != json_tokener_success || end > n ||
            end + strspn(t + end, " \t\r\n") != n) {
            json_object_put(root);
            root = NULL;
        }
    }
    if (tok) json_tokener_free(tok);
    free(text);
    if (!root) {
        if (why) *why = "not one JSON value (truncated or garbage)";
        return -2;
    }
    bad = decode(root, key, out);
    json_object_put(root);
    if (bad) {
        if (why) *why = bad;
        return bad == TSR_CALIB_STALE_FORMAT ? -3 : -2;
    }
    return 0;
}

/* Adds a double member to obj. */
static void put_num(struct json_object *obj, const char *name, double v) {
    json_object_object_add(obj, name, json_object_new_double(v));
}

int tsr_calib_save(const tsr_context *ctx, const struct tsr_calibration *cal) {
    char dir[4096], path[4200];
    if (!cal || tsr_calib_cache_dir(ctx, dir, sizeof dir) != 0 ||
        tsr_calib_cache_path(ctx, cal->key, path, sizeof path) != 0)
        return -1;
    struct json_object *root = json_object_new_object();
    if (!root) return -1;
    json_object_object_add(root, "format", json_object_new_string(TSR_CALIB_FORMAT_TAG));
    json_object_object_add(root, "format_version", json_object_new_int(TSR_CALIB_FORMAT_VERSION));
    json_object_object_add(root, "key", json_object_new_string(cal->key));
    char sum[20];
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)calib_digest(cal));
    json_object_object_add(root, "checksum", json_object_new_string(sum));
    json_object_object_add(root, "tessera_version", json_object_new_string(TSR_VERSION_STRING));
    json_object_object_add(root, "created_unix", json_object_new_int64(cal->created_unix));
    put_num(root, "seconds", cal->seconds);
    json_object_object_add(
        root, "outliers",
        json_object_new_string("median of samples with |x - median| <= 3 * 1.4826 * MAD"));
    put_num(root, "bandwidth_gbps", cal->bandwidth_gbps);
    put_num(root, "launch_us", cal->launch_us);
    put_num(root, "run_overhead_us", cal->run_overhead_us);
    put_num(root, "trans_gops", cal->trans_gops);
    put_num(root, "h2d_gbps", cal->h2d_gbps);
    put_num(root, "d2h_gbps", cal->d2h_gbps);
    put_num(root, "latency_us", cal->latency_us);
    put_num(root, "conv_gflops", cal->conv_gflops);
    put_num(root, "dwconv_gflops", cal->dwconv_gflops);
    put_num(root, "trans_slow_gops", cal->trans_slow_gops);
    put_num(root, "h2d_small_gbps", cal->h2d_small_gbps);
    put_num(root, "d2h_small_gbps", cal->d2h_small_gbps);
    struct json_object *g = json_object_new_array();
    for (int i = 0; g && i < cal->n_gemm; i++) {
        struct json_object *e = json_object_new_object();
        if (!e) break;
        json_object_object_add(e, "m", json_object_new_int64(cal->gemm[i].m));
        json_object_object_add(e, "n", json_object_new_int64(cal->gemm[i].n));
        json_object_object_add(e, "k", json_object_new_int64(cal->gemm[i].k));
        put_num(e, "gflops", cal->gemm[i].gflops);
        json_object_array_add(g, e);
    }
    if (g) json_object_object_add(root, "gemm", g);
    struct json_object *bw = json_object_new_array();
    for (int i = 0; bw && i < cal->n_bw; i++) {
        struct json_object *e = json_object_new_object();
        if (!e) break;
        put_num(e, "bytes", cal->bw[i].bytes);
        put_num(e, "gbps", cal->bw[i].gbps);
        json_object_array_add(bw, e);
    }
    if (bw) json_object_object_add(root, "bandwidth", bw);
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
    int rc = -1;
    if (text) {
        const void *parts[2] = {text, "\n"};
        size_t lens[2] = {strlen(text), 1};
        const char *why = NULL;
        rc = tsr_cache_file_write(dir, path, parts, lens, 2, &why);
    }
    json_object_put(root);
    return rc;
}
