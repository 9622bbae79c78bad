/*
 * profiler.c — the one profiler of a context: timed records of kernels, transfers, compiles and
 * pool growth on the host monotonic clock, a summary table and a Chrome trace.
 *
 * Storage: a growable array of records under a mutex; the strings of a record (name, nodes,
 * device) are interned in a hash set owned by the profiler, so a record is a few words and the
 * pointers handed out by tsr_profiler_get stay valid until the profiler is destroyed (also
 * across tsr_profiler_clear). The enabled flag is an atomic read without the mutex.
 *
 * Chrome trace format: "Trace Event Format" (Google, docs.google.com/document/d/
 * 1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU): complete events ph "X" with ts/dur in
 * microseconds, metadata events ph "M" named "process_name". Perfetto's JSON importer reads it.
 */
#include "runtime/profiler.h"
#include "runtime/calibration.h"

#include <json-c/json.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TSR_INTERN_BUCKETS 256

struct tsr_intern {
    struct tsr_intern *next;
    char str[]; /* NUL-terminated */
};

struct tsr_profiler {
    pthread_mutex_t mutex; /* guards everything below except enabled */
    atomic_int enabled;
    struct tsr_profile_record *recs;
    size_t n, cap;
    struct tsr_intern *buckets[TSR_INTERN_BUCKETS];
};

/* Creates a profiler, recording iff `enabled`. Returns TSR_OK, TSR_E_INVALID_ARG, TSR_E_NOMEM. */
tsr_status tsr_profiler_create(int enabled, struct tsr_profiler **out) {
    if (!out) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_profiler_create: out is NULL");
    struct tsr_profiler *p = calloc(1, sizeof *p);
    if (!p) return TSR_ERR(NULL, TSR_E_NOMEM, "tsr_profiler_create: out of memory");
    if (pthread_mutex_init(&p->mutex, NULL) != 0) {
        free(p);
        return TSR_ERR(NULL, TSR_E_NOMEM, "tsr_profiler_create: cannot create mutex");
    }
    atomic_init(&p->enabled, enabled ? 1 : 0);
    *out = p;
    return TSR_OK;
}

/* Frees records and interned strings. NULL is a no-op. Not concurrent with other calls. */
void tsr_profiler_destroy(struct tsr_profiler *prof) {
    if (!prof) return;
    for (int b = 0; b < TSR_INTERN_BUCKETS; b++) {
        struct tsr_intern *it = prof->buckets[b];
        while (it) {
            struct tsr_intern *next = it->next;
            free(it);
            it = next;
        }
    }
    free(prof->recs);
    pthread_mutex_destroy(&prof->mutex);
    free(prof);
}

/* FNV-1a 32-bit (Fowler, Noll, Vo; http://www.isthe.com/chongo/tech/comp/fnv/). */
static uint32_t fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* The interned copy of s (NULL → ""), or NULL when out of memory. Caller holds the mutex. */
static const char *intern(struct tsr_profiler *p, const char *s) {
    if (!s) s = "";
    uint32_t b = fnv1a(s) % TSR_INTERN_BUCKETS;
    for (struct tsr_intern *it = p->buckets[b]; it; it = it->next)
        if (strcmp(it->str, s) == 0) return it->str;
    size_t len = strlen(s);
    struct tsr_intern *it = malloc(sizeof *it + len + 1);
    if (!it) return NULL;
    memcpy(it->str, s, len + 1);
    it->next = p->buckets[b];
    p->buckets[b] = it;
    return it->str;
}

/* Relaxed atomic load of the enabled flag: no lock on hot paths (profiler.h). */
int tsr_prof_enabled(const tsr_context *ctx) {
    if (!ctx || !ctx->prof || tsr_calib_thread_measuring()) return 0;
    return atomic_load_explicit(&ctx->prof->enabled, memory_order_relaxed);
}

/* Appends one record under the mutex, interning the strings (NULL name/nodes → ""); an end
 * before start is clamped to start. Drops the record silently when out of memory (profiler.h). */
void tsr_prof_add(tsr_context *ctx, tsr_event_kind kind, const char *name, const char *nodes,
                  const char *device, int queue, uint64_t start_ns, uint64_t end_ns, uint64_t bytes,
                  uint64_t flops) {
    if (!tsr_prof_enabled(ctx)) return;
    struct tsr_profiler *p = ctx->prof;
    pthread_mutex_lock(&p->mutex);
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        struct tsr_profile_record *r = realloc(p->recs, cap * sizeof *r);
        if (!r) goto out;
        p->recs = r;
        p->cap = cap;
    }
    struct tsr_profile_record rec = {
        .kind = kind,
        .name = intern(p, name),
        .nodes = intern(p, nodes),
        .device = intern(p, device),
        .queue = queue,
        .start_ns = start_ns,
        .end_ns = end_ns < start_ns ? start_ns : end_ns,
        .bytes = bytes,
        .flops = flops,
    };
    if (!rec.name || !rec.nodes || !rec.device) goto out;
    p->recs[p->n++] = rec;
out:
    pthread_mutex_unlock(&p->mutex);
}

/* --- public API (tessera.h) --------------------------------------------------------------- */

/* Public API (tessera.h): the functions below take ctx and use ctx->prof. NULL ctx or a context
 * without profiler: enable/clear are no-ops, count is 0, the others return TSR_E_INVALID_ARG. */
void tsr_profiler_enable(tsr_context *ctx, int on) {
    if (!ctx || !ctx->prof) return;
    atomic_store(&ctx->prof->enabled, on ? 1 : 0);
}

void tsr_profiler_clear(tsr_context *ctx) {
    if (!ctx || !ctx->prof) return;
    pthread_mutex_lock(&ctx->prof->mutex);
    ctx->prof->n = 0;
    pthread_mutex_unlock(&ctx->prof->mutex);
}

size_t tsr_profiler_count(const tsr_context *ctx) {
    if (!ctx || !ctx->prof) return 0;
    pthread_mutex_lock(&ctx->prof->mutex);
    size_t n = ctx->prof->n;
    pthread_mutex_unlock(&ctx->prof->mutex);
    return n;
}

tsr_status tsr_profiler_get(const tsr_context *ctx, size_t i, struct tsr_profile_record *out) {
    if (!ctx || !ctx->prof || !out)
        return TSR_ERR((tsr_context *)ctx, TSR_E_INVALID_ARG, "tsr_profiler_get: NULL argument");
    struct tsr_profiler *p = ctx->prof;
    pthread_mutex_lock(&p->mutex);
    size_t n = p->n;
    if (i < n) *out = p->recs[i];
    pthread_mutex_unlock(&p->mutex);
    if (i >= n)
        return TSR_ERR((tsr_context *)ctx, TSR_E_INVALID_ARG,
                       "tsr_profiler_get: record %zu out of range (%zu records)", i, n);
    return TSR_OK;
}

/* Copies the records (so output is produced without holding the mutex). *out is malloc'ed
 * (NULL when n == 0). Returns TSR_OK or TSR_E_NOMEM. */
static tsr_status snapshot(struct tsr_profiler *p, struct tsr_profile_record **out, size_t *n) {
    pthread_mutex_lock(&p->mutex);
    *n = p->n;
    *out = NULL;
    tsr_status st = TSR_OK;
    if (p->n) {
        *out = malloc(p->n * sizeof **out);
        if (*out)
            memcpy(*out, p->recs, p->n * sizeof **out);
        else
            st = TSR_E_NOMEM;
    }
    pthread_mutex_unlock(&p->mutex);
    return st;
}

struct prof_group {
    const char *name, *device; /* interned: compared by pointer */
    uint64_t count, total_ns, max_ns, bytes, flops;
};

static int group_cmp_total_desc(const void *a, const void *b) {
    const struct prof_group *x = a, *y = b;
    if (x->total_ns != y->total_ns) return x->total_ns < y->total_ns ? 1 : -1;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->device, y->device);
}

/* One row of the table. GB/s = bytes / ns; GFLOP/s = flops / ns. */
static void print_row(FILE *out, int wn, int wd, const char *name, const char *device,
                      uint64_t count, uint64_t total_ns, uint64_t max_ns, uint64_t bytes,
                      uint64_t flops, uint64_t all_ns) {
    double total_ms = (double)total_ns / 1e6;
    double mean_ms = count ? total_ms / (double)count : 0.0;
    double share = all_ns ? 100.0 * (double)total_ns / (double)all_ns : 0.0;
    double gbps = total_ns ? (double)bytes / (double)total_ns : 0.0;
    double gflops = total_ns ? (double)flops / (double)total_ns : 0.0;
    fprintf(out, "%-*s  %-*s  %8llu  %12.3f  %10.4f  %10.4f  %7.1f%%  %9.2f  %9.2f\n", wn, name, wd,
            device, (unsigned long long)count, total_ms, mean_ms, (double)max_ns / 1e6, share, gbps,
            gflops);
}

tsr_status tsr_profiler_print_table(const tsr_context *ctx, FILE *out) {
    if (!ctx || !ctx->prof || !out)
        return TSR_ERR((tsr_context *)ctx, TSR_E_INVALID_ARG,
                       "tsr_profiler_print_table: NULL argument");
    struct tsr_profile_record *recs;
    size_t n;
    if (snapshot(ctx->prof, &recs, &n) != TSR_OK)
        return TSR_ERR((tsr_context *)ctx, TSR_E_NOMEM, "profiler table: out of memory");
    struct prof_group *groups = n ? calloc(n, sizeof *groups) : NULL;
    if (n && !groups) {
        free(recs);
        return TSR_ERR((tsr_context *)ctx, TSR_E_NOMEM, "profiler table: out of memory");
    }
    size_t ng = 0;
    uint64_t all_ns = 0, all_bytes = 0, all_flops = 0, all_max = 0;
    for (size_t i = 0; i < n; i++) {
        const struct tsr_profile_record *r = &recs[i];
        size_t g = 0;
        while (g < ng && !(groups[g].name == r->name && groups[g].device == r->device))
            g++;
        if (g == ng) {
            groups[ng].name = r->name;
            groups[ng].device = r->device;
            ng++;
        }
        uint64_t d = r->end_ns - r->start_ns;
        groups[g].count++;
        groups[g].total_ns += d;
        if (d > groups[g].max_ns) groups[g].max_ns = d;
        groups[g].bytes += r->bytes;
        groups[g].flops += r->flops;
        all_ns += d;
        all_bytes += r->bytes;
        all_flops += r->flops;
        if (d > all_max) all_max = d;
    }
    if (ng) qsort(groups, ng, sizeof *groups, group_cmp_total_desc);
    int wn = 5, wd = 6;
    for (size_t g = 0; g < ng; g++) {
        int ln = (int)strlen(groups[g].name), ld = (int)strlen(groups[g].device);
        if (ln > wn) wn = ln;
        if (ld > wd) wd = ld;
    }
    fprintf(out, "%-*s  %-*s  %8s  %12s  %10s  %10s  %8s  %9s  %9s\n", wn, "name", wd, "device",
            "count", "total ms", "mean ms", "max ms", "share", "GB/s", "GFLOP/s");
    for (size_t g = 0; g < ng; g++)
        print_row(out, wn, wd, groups[g].name, groups[g].device, groups[g].count,
                  groups[g].total_ns, groups[g].max_ns, groups[g].bytes, groups[g].flops, all_ns);
    print_row(out, wn, wd, "total", "", (uint64_t)n, all_ns, all_max, all_bytes, all_flops, all_ns);
    free(groups);
    free(recs);
    return ferror(out) ? TSR_ERR((tsr_context *)ctx, TSR_E_IO, "profiler table: write failed")
                       : TSR_OK;
}

static const char *kind_name(tsr_event_kind k) {
    switch (k) {
    case TSR_EVENT_KERNEL:
        return "kernel";
    case TSR_EVENT_TRANSFER:
        return "transfer";
    case TSR_EVENT_COMPILE:
        return "compile";
    case TSR_EVENT_ALLOC:
        return "alloc";
    }
    return "other";
}

/* Adds key → value to obj; returns 0, or -1 when value is NULL (allocation failed). */
static int put(json_object *obj, const char *key, json_object *value) {
    if (!value) return -1;
    if (json_object_object_add(obj, key, value) != 0) {
        json_object_put(value);
        return -1;
    }
    return 0;
}

/* Builds the trace document; NULL when out of memory. pid = 1 + index of the device in order of
 * first appearance; tid = queue; ts relative to the earliest start. */
static json_object *build_trace(const struct tsr_profile_record *recs, size_t n) {
    json_object *root = json_object_new_object();
    json_object *events = json_object_new_array();
    if (!root || !events || put(root, "traceEvents", events) != 0) {
        json_object_put(root);
        return NULL;
    }
    if (put(root, "displayTimeUnit", json_object_new_string("ms")) != 0) goto fail;
    uint64_t t0 = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (recs[i].start_ns < t0) t0 = recs[i].start_ns;

    const char **devices = n ? calloc(n, sizeof *devices) : NULL;
    if (n && !devices) goto fail;
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        const struct tsr_profile_record *r = &recs[i];
        size_t d = 0;
        while (d < nd && devices[d] != r->device)
            d++;
        if (d == nd) {
            devices[nd++] = r->device;
            json_object *m = json_object_new_object(), *margs = json_object_new_object();
            if (!m || json_object_array_add(events, m) != 0) {
                json_object_put(m);
                json_object_put(margs);
                goto fail_dev;
            }
            if (put(m, "name", json_object_new_string("process_name")) ||
                put(m, "ph", json_object_new_string("M")) ||
                put(m, "pid", json_object_new_int((int)d + 1)) ||
                put(m, "tid", json_object_new_int(0)) || put(m, "args", margs) ||
                put(margs, "name", json_object_new_string(r->device)))
                goto fail_dev;
        }
        json_object *e = json_object_new_object(), *args = json_object_new_object();
        if (!e || json_object_array_add(events, e) != 0) {
            json_object_put(e);
            json_object_put(args);
            goto fail_dev;
        }
        if (put(e, "name", json_object_new_string(r->name)) ||
            put(e, "cat", json_object_new_string(kind_name(r->kind))) ||
            put(e, "ph", json_object_new_string("X")) ||
            put(e, "ts", json_object_new_double((double)(r->start_ns - t0) / 1e3)) ||
            put(e, "dur", json_object_new_double((double)(r->end_ns - r->start_ns) / 1e3)) ||
            put(e, "pid", json_object_new_int((int)d + 1)) ||
            put(e, "tid", json_object_new_int(r->queue)) || put(e, "args", args) ||
            put(args, "nodes", json_object_new_string(r->nodes)) ||
            put(args, "bytes", json_object_new_uint64(r->bytes)) ||
            put(args, "flops", json_object_new_uint64(r->flops)) ||
            put(args, "kind", json_object_new_string(kind_name(r->kind))))
            goto fail_dev;
    }
    free(devices);
    return root;
fail_dev:
    free(devices);
fail:
    json_object_put(root);
    return NULL;
}

/* Builds the Chrome trace with json-c and writes it to "<path>.tmp.<pid>", then renames it over
 * path. Returns TSR_OK, TSR_E_INVALID_ARG, TSR_E_NOMEM, TSR_E_IO (message names path and errno). */
tsr_status tsr_profiler_write_trace(const tsr_context *ctx, const char *path) {
    tsr_context *mctx = (tsr_context *)ctx;
    if (!ctx || !ctx->prof || !path || !*path)
        return TSR_ERR(mctx, TSR_E_INVALID_ARG, "tsr_profiler_write_trace: NULL argument or path");
    struct tsr_profile_record *recs;
    size_t n;
    if (snapshot(ctx->prof, &recs, &n) != TSR_OK)
        return TSR_ERR(mctx, TSR_E_NOMEM, "trace '%s': out of memory", path);
    json_object *root = build_trace(recs, n);
    free(recs);
    if (!root) return TSR_ERR(mctx, TSR_E_NOMEM, "trace '%s': out of memory", path);

    /* Write next to the target, then rename: a failed write never leaves a partial trace. */
    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp) {
        json_object_put(root);
        return TSR_ERR(mctx, TSR_E_NOMEM, "trace '%s': out of memory", path);
    }
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    tsr_status st = TSR_OK;
    errno = 0;
    if (json_object_to_file_ext(tmp, root, JSON_C_TO_STRING_PLAIN) != 0) {
        int e = errno;
        st = TSR_ERR(mctx, TSR_E_IO, "cannot write trace '%s': %s", path,
                     e ? strerror(e) : json_util_get_last_err());
        unlink(tmp);
    } else if (rename(tmp, path) != 0) {
        int e = errno;
        st = TSR_ERR(mctx, TSR_E_IO, "cannot write trace '%s': rename failed: %s", path,
                     strerror(e));
        unlink(tmp);
    }
    free(tmp);
    json_object_put(root);
    return st;
}
