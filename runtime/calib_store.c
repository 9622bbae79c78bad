/*
 * calib_store.c — the calibration cache file: its key, location, JSON (json-c) encoding,
 * validation and atomic writes (rules in calibration.h).
 *
 * File layout (format version 3):
 *   { "format": "tessera-calibration", "format_version": 3, "key": "...",
 *     "tessera_version": "0.1.0", "created_unix": 1700000000, "seconds": 1.9,
 *     "outliers": "median of samples with |x - median| <= 3 * 1.4826 * MAD",
 *     "bandwidth_gbps": 20.1, "launch_us": 3.2, "run_overhead_us": 5.0, "trans_gops": 1.2,
 *     "h2d_gbps": 0, "d2h_gbps": 0, "latency_us": 0,
 *     "conv_gflops": 30.0, "dwconv_gflops": 4.0, "trans_slow_gops": 0.6,
 *     "h2d_small_gbps": 0, "d2h_small_gbps": 0,
 *     "gemm": [ { "m": 32, "n": 32, "k": 32, "gflops": 5.1 }, ... ],
 *     "bandwidth": [ { "bytes": 524288, "gbps": 60.0 }, ... ] }
 */
#include "runtime/calibration.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TSR_CALIB_FORMAT_TAG "tessera-calibration"
/* Largest GEMM dimension read from a file (2^40: far above any probe, exact as a double and as
 * an int64, and 2mnk still finite). */
#define TSR_CALIB_MAX_DIM 1099511627776.0

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
        return "other format version";
    if (!json_object_object_get_ex(root, "key", &v) || !json_object_is_type(v, json_type_string) ||
        strcmp(json_object_get_string(v), key) != 0)
        return "other device, driver or tessera version (key differs)";
    struct tsr_calibration c;
    memset(&c, 0, sizeof c);
    snprintf(c.key, sizeof c.key, "%s", key);
    double created = 0;
    if (get_num(root, "bandwidth_gbps", &c.bandwidth_gbps) || c.bandwidth_gbps <= 0 ||
        get_num(root, "launch_us", &c.launch_us) || c.launch_us < 0 ||
        get_num(root, "run_overhead_us", &c.run_overhead_us) || c.run_overhead_us < 0 ||
        get_num(root, "trans_gops", &c.trans_gops) || !(c.trans_gops > 0) ||
        get_num(root, "h2d_gbps", &c.h2d_gbps) || c.h2d_gbps < 0 ||
        get_num(root, "d2h_gbps", &c.d2h_gbps) || c.d2h_gbps < 0 ||
        get_num(root, "latency_us", &c.latency_us) || c.latency_us < 0 ||
        get_num(root, "seconds", &c.seconds) || c.seconds < 0 ||
        get_num(root, "created_unix", &created) || get_num(root, "conv_gflops", &c.conv_gflops) ||
        c.conv_gflops < 0 || get_num(root, "dwconv_gflops", &c.dwconv_gflops) ||
        c.dwconv_gflops < 0 || get_num(root, "trans_slow_gops", &c.trans_slow_gops) ||
        !(c.trans_slow_gops > 0) || get_num(root, "h2d_small_gbps", &c.h2d_small_gbps) ||
        c.h2d_small_gbps < 0 || get_num(root, "d2h_small_gbps", &c.d2h_small_gbps) ||
        c.d2h_small_gbps < 0)
        return "missing or invalid figure";
    /* converted only when representable (a double out of range is undefined as an integer) */
    if (!(fabs(created) < 9.0e18)) return "missing or invalid figure";
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
            get_num(e, "gflops", &gf) || m < 1 || nn < 1 || k < 1 || gf <= 0 ||
            m > TSR_CALIB_MAX_DIM || nn > TSR_CALIB_MAX_DIM || k > TSR_CALIB_MAX_DIM)
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
            gbps <= 0)
            return "invalid bandwidth point";
        if (i > 0 && bytes <= c.bw[i - 1].bytes) return "bandwidth points not in increasing size";
        c.bw[i] = (struct tsr_calib_bw){bytes, gbps};
    }
    c.n_bw = (int)n;
    *out = c;
    return NULL;
}

int tsr_calib_load(const tsr_context *ctx, const char *key, struct tsr_calibration *out,
                   const char **why) {
    char path[4200];
    if (why) *why = NULL;
    if (!key || !out || tsr_calib_cache_path(ctx, key, path, sizeof path) != 0) return -1;
    if (access(path, F_OK) != 0) return -1;
    struct json_object *root = json_object_from_file(path);
    if (!root) {
        if (why) *why = "unreadable or not JSON";
        return -2;
    }
    const char *bad = decode(root, key, out);
    json_object_put(root);
    if (bad) {
        if (why) *why = bad;
        return -2;
    }
    return 0;
}

/* mkdir -p of dir (mode 0755). Returns 0 or -1. */
static int make_dirs(const char *dir) {
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s", dir);
    if (n <= 0 || (size_t)n >= sizeof tmp) return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return (mkdir(tmp, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

/* Adds a double member to obj. */
static void put_num(struct json_object *obj, const char *name, double v) {
    json_object_object_add(obj, name, json_object_new_double(v));
}

int tsr_calib_save(const tsr_context *ctx, const struct tsr_calibration *cal) {
    char dir[4096], path[4200], tmp[4200];
    if (!cal || tsr_calib_cache_dir(ctx, dir, sizeof dir) != 0 ||
        tsr_calib_cache_path(ctx, cal->key, path, sizeof path) != 0)
        return -1;
    if (make_dirs(dir) != 0) return -1;
    struct json_object *root = json_object_new_object();
    if (!root) return -1;
    json_object_object_add(root, "format", json_object_new_string(TSR_CALIB_FORMAT_TAG));
    json_object_object_add(root, "format_version", json_object_new_int(TSR_CALIB_FORMAT_VERSION));
    json_object_object_add(root, "key", json_object_new_string(cal->key));
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
    snprintf(tmp, sizeof tmp, "%s/.calibration-XXXXXX", dir);
    int fd = text ? mkstemp(tmp) : -1;
    if (fd >= 0) {
        size_t len = strlen(text), off = 0;
        while (off < len) {
            ssize_t w = write(fd, text + off, len - off);
            if (w <= 0) break;
            off += (size_t)w;
        }
        int ok = off == len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
        if (close(fd) != 0) ok = 0;
        if (ok && rename(tmp, path) == 0)
            rc = 0;
        else
            unlink(tmp);
    }
    json_object_put(root);
    return rc;
}
