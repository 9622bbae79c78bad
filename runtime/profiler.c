/*
 * profiler.c — the one profiler of a context: timed records of kernels, transfers, compiles,
 * pool growth and calibrations on the host monotonic clock, a sectioned summary table and a
 * Chrome trace.
 *
 * Storage: a ring of at most `limit` records under a mutex (options.profile_capacity, else
 * TSR_PROFILE_CAPACITY, else TSR_PROFILE_CAPACITY_DEFAULT): the array grows by doubling up to
 * the limit, then each new record overwrites the oldest (head) and `dropped` counts it. The
 * strings of a record (name, nodes, device) are interned in a hash set owned by the profiler, so
 * a record is a few words and the pointers handed out by tsr_profiler_get stay valid until the
 * profiler is destroyed (also across tsr_profiler_clear and overwrites). The enabled flag is an
 * atomic read without the mutex; a run of a plan with its own switch (tsr_plan_set_profiling)
 * overrides it through a thread-local set by tsr_plan_run (tsr_prof_run_begin / _end).
 *
 * Chrome trace format: "Trace Event Format" (Google, docs.google.com/document/d/
 * 1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU): complete events ph "X" with ts/dur in
 * microseconds, "cat" the record's kind, metadata events ph "M" named "process_name". Perfetto's
 * JSON importer reads it.
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
    struct tsr_profile_record *recs; /* ring: record i is recs[(head + i) % limit] */
    size_t n, cap;                   /* records kept, allocated slots (cap <= limit) */
    size_t head, limit;              /* oldest record's slot (0 until full), capacity */
    uint64_t dropped;                /* records overwritten or lost since create / clear */
    struct tsr_intern *buckets[TSR_INTERN_BUCKETS];
};

/* Per-run switch of this thread (tsr_plan_profiling; CONTEXT = none in force). */
static _Thread_local int tl_run_mode = TSR_PLAN_PROFILE_CONTEXT;

/* Creates a profiler, recording iff `enabled`, keeping at most `capacity` records. Returns
 * TSR_OK, TSR_E_INVALID_ARG, TSR_E_NOMEM. */
tsr_status tsr_profiler_create(int enabled, size_t capacity, struct tsr_profiler **out) {
    if (!out) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_profiler_create: out is NULL");
    if (capacity < 1 || capacity > TSR_PROFILE_CAPACITY_MAX)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG,
                       "tsr_profiler_create: capacity %zu out of range (1 .. %zu records)",
                       capacity, TSR_PROFILE_CAPACITY_MAX);
    struct tsr_profiler *p = calloc(1, sizeof *p);
    if (!p) return TSR_ERR(NULL, TSR_E_NOMEM, "tsr_profiler_create: out of memory");
    if (pthread_mutex_init(&p->mutex, NULL) != 0) {
        free(p);
        return TSR_ERR(NULL, TSR_E_NOMEM, "tsr_profiler_create: cannot create mutex");
    }
    atomic_init(&p->enabled, enabled ? 1 : 0);
    p->limit = capacity;
    *out = p;
    return TSR_OK;
}

tsr_status tsr_profiler_capacity_of(const tsr_context *ctx, size_t option, size_t *out) {
    if (option > TSR_PROFILE_CAPACITY_MAX)
        return TSR_ERR(NULL, TSR_E_INVALID_ARG,
                       "tsr_context_create: profile_capacity %zu records is more than the "
                       "largest, %zu",
                       option, TSR_PROFILE_CAPACITY_MAX);
    *out = option ? option : TSR_PROFILE_CAPACITY_DEFAULT;
    if (option) return TSR_OK;
    const char *v = tsr_getenv("TSR_PROFILE_CAPACITY");
    if (!v) return TSR_OK;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || !end || *end || v[0] == '-' || n < 1 || n > TSR_PROFILE_CAPACITY_MAX) {
        tsr_log(ctx, TSR_LOG_WARN,
                "TSR_PROFILE_CAPACITY='%s' ignored (expected 1..%zu records); using %zu", v,
                TSR_PROFILE_CAPACITY_MAX, TSR_PROFILE_CAPACITY_DEFAULT);
        return TSR_OK;
    }
    *out = (size_t)n;
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
    if (tl_run_mode != TSR_PLAN_PROFILE_CONTEXT) return tl_run_mode == TSR_PLAN_PROFILE_ON;
    return atomic_load_explicit(&ctx->prof->enabled, memory_order_relaxed);
}

int tsr_prof_run_begin(int mode) {
    const int saved = tl_run_mode;
    if (mode == TSR_PLAN_PROFILE_ON || mode == TSR_PLAN_PROFILE_OFF) tl_run_mode = mode;
    return saved;
}

void tsr_prof_run_end(int saved) {
    tl_run_mode = saved;
}

/* Appends one record under the mutex, interning the strings (NULL name/nodes → ""); an end
 * before start is clamped to start. Full ring: overwrites the oldest (profiler.h). */
void tsr_prof_add(tsr_context *ctx, tsr_event_kind kind, const char *name, const char *nodes,
                  const char *device, int queue, uint64_t start_ns, uint64_t end_ns, uint64_t bytes,
                  uint64_t flops) {
    if (!tsr_prof_enabled(ctx)) return;
    struct tsr_profiler *p = ctx->prof;
    pthread_mutex_lock(&p->mutex);
    if (p->n == p->cap && p->cap < p->limit &&
        p->head == 0) { /* grow (head is 0 until the ring is full) */
        size_t cap = p->cap ? p->cap * 2 : 256;
        if (cap > p->limit) cap = p->limit;
        struct tsr_profile_record *r = realloc(p->recs, cap * sizeof *r);
        if (r) {
            p->recs = r;
            p->cap = cap;
        }
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
    if (!rec.name || !rec.nodes || !rec.device || p->cap == 0) {
        p->dropped++; /* out of memory */
    } else if (p->n < p->cap) {
        p->recs[(p->head + p->n) % p->cap] = rec;
        p->n++;
    } else { /* full (at the limit, or growth failed): replace the oldest */
        p->recs[p->head] = rec;
        p->head = (p->head + 1) % p->cap;
        p->dropped++;
    }
    pthread_mutex_unlock(&p->mutex);
}

/* --- public API (tessera.h) --------------------------------------------------------------- */

const char *tsr_event_kind_name(tsr_event_kind kind) {
    switch (kind) {
    case TSR_EVENT_KERNEL:
        return "kernel";
    case TSR_EVENT_TRANSFER:
        return "transfer";
    case TSR_EVENT_COMPILE:
        return "compile";
    case TSR_EVENT_ALLOC:
        return "alloc";
    case TSR_EVENT_CALIBRATION:
        return "calibration";
    }
    return "unknown";
}

/* Public API (tessera.h): the functions below take ctx and use ctx->prof. NULL ctx or a context
 * without profiler: enable/clear are no-ops, count/capacity/dropped are 0, the others return
 * TSR_E_INVALID_ARG. */
void tsr_profiler_enable(tsr_context *ctx, int on) {
    if (!ctx || !ctx->prof) return;
    atomic_store(&ctx->prof->enabled, on ? 1 : 0);
}

void tsr_profiler_clear(tsr_context *ctx) {
    if (!ctx || !ctx->prof) return;
    pthread_mutex_lock(&ctx->prof->mutex);
    ctx->prof->n = 0;
    ctx->prof->head = 0;
    ctx->prof->dropped = 0;
    pthread_mutex_unlock(&ctx->prof->mutex);
}

size_t tsr_profiler_count(const tsr_context *ctx) {
    if (!ctx || !ctx->prof) return 0;
    pthread_mutex_lock(&ctx->prof->mutex);
    size_t n = ctx->prof->n;
    pthread_mutex_unlock(&ctx->prof->mutex);
    return n;
}

size_t tsr_profiler_capacity(const tsr_context *ctx) {
    return ctx && ctx->prof ? ctx->prof->limit : 0; /* fixed at creation */
}

uint64_t tsr_profiler_dropped(const tsr_context *ctx) {
    if (!ctx || !ctx->prof) return 0;
    pthread_mutex_lock(&ctx->prof->mutex);
    uint64_t d = ctx->prof->dropped;
    pthread_mutex_unlock(&ctx->prof->mutex);
    return d;
}

tsr_status tsr_profiler_get(const tsr_context *ctx, size_t i, struct tsr_profile_record *out) {
    if (!ctx || !ctx->prof || !out)
        return TSR_ERR((tsr_context *)ctx, TSR_E_INVALID_ARG, "tsr_profiler_get: NULL argument");
    struct tsr_profiler *p = ctx->prof;
    pthread_mutex_lock(&p->mutex);
    size_t n = p->n;
    if (i < n) *out = p->recs[(p->head + i) % p->cap];
    pthread_mutex_unlock(&p->mutex);
    if (i >= n)
        return TSR_ERR((tsr_context *)ctx, TSR_E_INVALID_ARG,
                       "tsr_profiler_get: record %zu out of range (%zu records)", i, n);
    return TSR_OK;
}

/* Copies the records, oldest first (so output is produced without holding the mutex). *out is
 * malloc'ed (NULL when n == 0). Returns TSR_OK or TSR_E_NOMEM. */
static tsr_status snapshot(struct tsr_profiler *p, struct tsr_profile_record **out, size_t *n,
                           uint64_t *dropped) {
    pthread_mutex_lock(&p->mutex);
    *n = p->n;
    *out = NULL;
    if (dropped) *dropped = p->dropped;
    tsr_status st = TSR_OK;
    if (p->n) {
        *out = malloc(p->n * sizeof **out);
        if (*out) {
            const size_t first = p->cap - p->head < p->n ? p->cap - p->head : p->n;
            memcpy(*out, p->recs + p->head, first * sizeof **out);
            memcpy(*out + first, p->recs, (p->n - first) * sizeof **out);
        } else {
            st = TSR_E_NOMEM;
        }
    }
    pthread_mutex_unlock(&p->mutex);
    return st;
}

/* --- the table ---------------------------------------------------------------------------- */

/* Records of one (kind, name, nodes, device): the strings are interned, compared by pointer. */
struct prof_group {
    tsr_event_kind kind;
    const char *name, *nodes, *device;
    uint64_t count, total_ns, max_ns, bytes, flops;
};

static int group_cmp_total_desc(const void *a, const void *b) {
    const struct prof_group *x = a, *y = b;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    if (x->total_ns != y->total_ns) return x->total_ns < y->total_ns ? 1 : -1;
    int c = strcmp(x->name, y->name);
    if (!c) c = strcmp(x->nodes, y->nodes);
    return c ? c : strcmp(x->device, y->device);
}

/* Groups the n records into *out (malloc'ed, sorted by kind then total time descending).
 * Open addressing on the pointer triple: O(n). Returns the number of groups, or -1 (no memory). */
static long group_records(const struct tsr_profile_record *recs, size_t n,
                          struct prof_group **out) {
    *out = NULL;
    if (!n) return 0;
    size_t slots = 64;
    while (slots < 2 * n)
        slots *= 2;
    long *table = malloc(slots * sizeof *table);
    struct prof_group *g = calloc(n, sizeof *g);
    if (!table || !g) {
        free(table);
        free(g);
        return -1;
    }
    for (size_t s = 0; s < slots; s++)
        table[s] = -1;
    long ng = 0;
    for (size_t i = 0; i < n; i++) {
        const struct tsr_profile_record *r = &recs[i];
        uintptr_t h = ((uintptr_t)r->name * 31u + (uintptr_t)r->nodes) * 31u +
                      (uintptr_t)r->device + (uintptr_t)r->kind;
        h ^= h >> 17;
        size_t s = (size_t)(h * 0x9E3779B97F4A7C15ull) & (slots - 1);
        while (table[s] >= 0) {
            const struct prof_group *x = &g[table[s]];
            if (x->kind == r->kind && x->name == r->name && x->nodes == r->nodes &&
                x->device == r->device)
                break;
            s = (s + 1) & (slots - 1);
        }
        if (table[s] < 0) {
            table[s] = ng;
            g[ng] = (struct prof_group){
                .kind = r->kind, .name = r->name, .nodes = r->nodes, .device = r->device};
            ng++;
        }
        struct prof_group *x = &g[table[s]];
        const uint64_t d = r->end_ns - r->start_ns;
        x->count++;
        x->total_ns += d;
        if (d > x->max_ns) x->max_ns = d;
        x->bytes += r->bytes;
        x->flops += r->flops;
    }
    free(table);
    qsort(g, (size_t)ng, sizeof *g, group_cmp_total_desc);
    *out = g;
    return ng;
}

/* Bytes in binary units: "512 B", "4.0 KiB", "1.5 MiB", "2.00 GiB". */
static const char *fmt_bytes(uint64_t b, char *buf, size_t size) {
    if (b < 1024)
        snprintf(buf, size, "%llu B", (unsigned long long)b);
    else if (b < 1024ull * 1024)
        snprintf(buf, size, "%.1f KiB", (double)b / 1024.0);
    else if (b < 1024ull * 1024 * 1024)
        snprintf(buf, size, "%.1f MiB", (double)b / (1024.0 * 1024.0));
    else
        snprintf(buf, size, "%.2f GiB", (double)b / (1024.0 * 1024.0 * 1024.0));
    return buf;
}

#define TSR_NODES_WIDTH 48 /* the kernel table's node list is cut to this many characters */

/* The node list of a kernel for its row: "-" when empty; the list itself when it fits in
 * TSR_NODES_WIDTH characters; else its first names that fit and " (+N more)" (a single name
 * too long for the column is cut and ends in "..."). */
static const char *fmt_nodes(const char *nodes, char *buf, size_t size) {
    if (!nodes || !*nodes) return "-";
    size_t len = strlen(nodes);
    if (len <= TSR_NODES_WIDTH) return nodes;
    int total = 1;
    for (const char *c = nodes; *c; c++)
        total += *c == ',';
    char tail[32];
    size_t keep = 0; /* characters of nodes kept: whole names only */
    int kept = 0;
    for (;;) {
        const char *next = strchr(nodes + keep + (kept ? 1 : 0), ',');
        size_t upto = next ? (size_t)(next - nodes) : len;
        snprintf(tail, sizeof tail, " (+%d more)", total - kept - 1);
        if (upto + strlen(tail) > TSR_NODES_WIDTH || !next) break;
        keep = upto;
        kept++;
    }
    if (kept == 0) { /* the first name alone does not fit */
        snprintf(tail, sizeof tail, " (+%d more)", total - 1);
        size_t room = TSR_NODES_WIDTH - strlen(tail) - 3;
        snprintf(buf, size, "%.*s...%s", (int)room, nodes, total > 1 ? tail : "");
        return buf;
    }
    snprintf(tail, sizeof tail, " (+%d more)", total - kept);
    snprintf(buf, size, "%.*s%s", (int)keep, nodes, tail);
    return buf;
}

static double ms_of(uint64_t ns) {
    return (double)ns / 1e6;
}

/* Rate of `amount` per ns (bytes/ns = GB/s, flops/ns = GFLOP/s). */
static double per_ns(uint64_t amount, uint64_t ns) {
    return ns ? (double)amount / (double)ns : 0.0;
}

/* The kernel section: one row per group of kind kernel. */
static void print_kernels(FILE *out, const struct prof_group *g, long ng) {
    uint64_t all_ns = 0, runs = 0;
    long nk = 0;
    int wn = 6, wl = 5, wd = 6;
    char buf[TSR_NODES_WIDTH + 1];
    for (long i = 0; i < ng; i++) {
        if (g[i].kind != TSR_EVENT_KERNEL) continue;
        nk++;
        all_ns += g[i].total_ns;
        runs += g[i].count;
        int ln = (int)strlen(g[i].name), ll = (int)strlen(fmt_nodes(g[i].nodes, buf, sizeof buf)),
            ld = (int)strlen(g[i].device);
        if (ln > wn) wn = ln;
        if (ll > wl) wl = ll;
        if (ld > wd) wd = ld;
    }
    if (!nk) return;
    fprintf(out, "kernels: %ld, %llu kernel runs, %.3f ms (shares of this total)\n", nk,
            (unsigned long long)runs, ms_of(all_ns));
    fprintf(out, "  %-*s  %-*s  %-*s  %7s  %10s  %9s  %9s  %6s  %8s  %8s\n", wn, "kernel", wl,
            "nodes", wd, "device", "runs", "total ms", "mean ms", "max ms", "share", "GFLOP/s",
            "GB/s");
    for (long i = 0; i < ng; i++) {
        const struct prof_group *x = &g[i];
        if (x->kind != TSR_EVENT_KERNEL) continue;
        double share = all_ns ? 100.0 * (double)x->total_ns / (double)all_ns : 0.0;
        fprintf(out, "  %-*s  %-*s  %-*s  %7llu  %10.3f  %9.4f  %9.4f  %5.1f%%  %8.2f  %8.2f\n", wn,
                x->name, wl, fmt_nodes(x->nodes, buf, sizeof buf), wd, x->device,
                (unsigned long long)x->count, ms_of(x->total_ns),
                ms_of(x->total_ns) / (double)x->count, ms_of(x->max_ns), share,
                per_ns(x->flops, x->total_ns), per_ns(x->bytes, x->total_ns));
    }
}

/* A section of the other kinds: one row per (name, device). cols: 1 mean/max ms, 2 bytes,
 * 4 GB/s. */
static void print_section(FILE *out, const struct prof_group *g, long ng, tsr_event_kind kind,
                          const char *title, int cols) {
    uint64_t all_ns = 0, count = 0, bytes = 0;
    int wn = 4, wd = 6;
    for (long i = 0; i < ng; i++) {
        if (g[i].kind != kind) continue;
        all_ns += g[i].total_ns;
        count += g[i].count;
        bytes += g[i].bytes;
        int ln = (int)strlen(g[i].name), ld = (int)strlen(g[i].device);
        if (ln > wn) wn = ln;
        if (ld > wd) wd = ld;
    }
    if (!count) return;
    char b0[32];
    fprintf(out, "\n%s: %llu, %.3f ms", title, (unsigned long long)count, ms_of(all_ns));
    if (cols & 2) fprintf(out, ", %s", fmt_bytes(bytes, b0, sizeof b0));
    fprintf(out, "\n  %-*s  %-*s  %7s  %10s", wn, "name", wd, "device", "count", "total ms");
    if (cols & 1) fprintf(out, "  %9s  %9s", "mean ms", "max ms");
    if (cols & 2) fprintf(out, "  %10s", "bytes");
    if (cols & 4) fprintf(out, "  %8s", "GB/s");
    fputc('\n', out);
    for (long i = 0; i < ng; i++) {
        const struct prof_group *x = &g[i];
        if (x->kind != kind) continue;
        fprintf(out, "  %-*s  %-*s  %7llu  %10.3f", wn, x->name, wd, x->device,
                (unsigned long long)x->count, ms_of(x->total_ns));
        if (cols & 1)
            fprintf(out, "  %9.4f  %9.4f", ms_of(x->total_ns) / (double)x->count, ms_of(x->max_ns));
        if (cols & 2) fprintf(out, "  %10s", fmt_bytes(x->bytes, b0, sizeof b0));
        if (cols & 4) fprintf(out, "  %8.2f", per_ns(x->bytes, x->total_ns));
        fputc('\n', out);
    }
}

tsr_status tsr_profiler_print_table(const tsr_context *ctx, FILE *out) {
    tsr_context *mctx = (tsr_context *)ctx;
    if (!ctx || !ctx->prof || !out)
        return TSR_ERR(mctx, TSR_E_INVALID_ARG, "tsr_profiler_print_table: NULL argument");
    struct tsr_profile_record *recs;
    size_t n;
    uint64_t dropped;
    if (snapshot(ctx->prof, &recs, &n, &dropped) != TSR_OK)
        return TSR_ERR(mctx, TSR_E_NOMEM, "profiler table: out of memory");
    struct prof_group *g;
    long ng = group_records(recs, n, &g);
    free(recs);
    if (ng < 0) return TSR_ERR(mctx, TSR_E_NOMEM, "profiler table: out of memory");
    print_kernels(out, g, ng);
    print_section(out, g, ng, TSR_EVENT_TRANSFER, "transfers", 1 | 2 | 4);
    print_section(out, g, ng, TSR_EVENT_COMPILE, "compiles (program builds, cache loads, re-plans)",
                  1);
    print_section(out, g, ng, TSR_EVENT_ALLOC, "pool growth", 2);
    print_section(out, g, ng, TSR_EVENT_CALIBRATION, "calibration (not part of any run)", 0);
    free(g);
    fprintf(out, "%srecords: %zu kept (capacity %zu)", n ? "\n" : "", n, ctx->prof->limit);
    if (dropped)
        fprintf(out,
                ", %llu dropped (the oldest; raise TSR_PROFILE_CAPACITY or "
                "options.profile_capacity)",
                (unsigned long long)dropped);
    fputc('\n', out);
    return ferror(out) ? TSR_ERR(mctx, TSR_E_IO, "profiler table: write failed") : TSR_OK;
}

/* --- the Chrome trace --------------------------------------------------------------------- */

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
            put(e, "cat", json_object_new_string(tsr_event_kind_name(r->kind))) ||
            put(e, "ph", json_object_new_string("X")) ||
            put(e, "ts", json_object_new_double((double)(r->start_ns - t0) / 1e3)) ||
            put(e, "dur", json_object_new_double((double)(r->end_ns - r->start_ns) / 1e3)) ||
            put(e, "pid", json_object_new_int((int)d + 1)) ||
            put(e, "tid", json_object_new_int(r->queue)) || put(e, "args", args) ||
            put(args, "nodes", json_object_new_string(r->nodes)) ||
            put(args, "bytes", json_object_new_uint64(r->bytes)) ||
            put(args, "flops", json_object_new_uint64(r->flops)) ||
            put(args, "kind", json_object_new_string(tsr_event_kind_name(r->kind))))
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
    if (snapshot(ctx->prof, &recs, &n, NULL) != TSR_OK)
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
