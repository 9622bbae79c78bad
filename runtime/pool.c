/*
 * pool.c — the host memory pool: power-of-two size classes from 64 B, 64-byte aligned blocks
 * cached on free and reused, statistics; and the public tsr_pool_get_stats and tsr_pool_trim.
 *
 * Layout of a block: a 64-byte header followed by the user area (so the user pointer keeps the
 * 64-byte alignment of the system allocation). The header holds a magic word (live / free), the
 * size class and the free-list link; tsr_host_pool_free reads the class from it.
 *
 *   class c serves requests of (64 << (c-1), 64 << c] bytes (class 0: 0..64 bytes); the user
 *   area is exactly 64 << c bytes. Large blocks are classes too (up to 2^63 bytes), so a
 *   steady-state workload that frees and reallocates the same sizes never reaches the system.
 *
 * Cached (free) bytes are capped (cache_bytes, the context's pool_cache_bytes option): a free
 * that takes them past the cap returns the largest cached blocks to the system until they fit,
 * so a long-lived context that compiles and destroys plans of changing shapes (re-plans of a
 * dynamic model, a server loading models) holds at most its live blocks plus the cap.
 * tsr_host_pool_trim (public: tsr_pool_trim) releases down to any amount. Blocks are freed
 * outside the mutex.
 *
 * Statistics count user-area (class) bytes: bytes_in_use = sum of class sizes handed out,
 * bytes_reserved = sum of class sizes held (handed out + cached); the 64-byte headers are not
 * counted. NUMA binding through hwloc is not done yet (the `topo` argument is accepted for it).
 */
#include "runtime/pool.h"

#include "runtime/backend.h"
#include "runtime/profiler.h"

#include <stdlib.h>
#include <string.h>

#define TSR_POOL_ALIGN    64u
#define TSR_POOL_HDR      64u
#define TSR_POOL_MIN_LOG2 6 /* 64 B */
#define TSR_POOL_CLASSES  (64 - TSR_POOL_MIN_LOG2)
#define TSR_POOL_LIVE     0x7473724cu /* "tsrL" */
#define TSR_POOL_FREE     0x74737246u /* "tsrF" */

struct tsr_pool_hdr {
    uint32_t magic;
    uint32_t cls;
    struct tsr_pool_hdr *next; /* free-list link while cached */
};
_Static_assert(sizeof(struct tsr_pool_hdr) <= TSR_POOL_HDR, "pool header must fit 64 bytes");

struct tsr_host_pool {
    pthread_mutex_t mutex; /* guards free lists and stats */
    struct tsr_pool_hdr *free_list[TSR_POOL_CLASSES];
    struct tsr_pool_stats stats;
    uint64_t cache_bytes;       /* cap on bytes_reserved - bytes_in_use (pool.h) */
    struct tsr_topology *topo;  /* not owned; reserved for NUMA binding */
    const tsr_context *log_ctx; /* not owned: where warnings go (NULL: stderr) */
};

/* Class of a request, or -1 when it cannot be served (too large). */
static int size_class(size_t bytes) {
    int c = 0;
    size_t sz = (size_t)1 << TSR_POOL_MIN_LOG2;
    while (sz < bytes) {
        if (c + 1 >= TSR_POOL_CLASSES || sz > SIZE_MAX / 2) return -1;
        sz <<= 1;
        c++;
    }
    return c;
}

static size_t class_bytes(int c) {
    return (size_t)1 << (TSR_POOL_MIN_LOG2 + c);
}

/* Frees a list of blocks linked through next (outside the mutex). */
static void free_list_to_system(struct tsr_pool_hdr *h) {
    while (h) {
        struct tsr_pool_hdr *next = h->next;
        free(h);
        h = next;
    }
}

/* Creates an empty pool (pool.h). Returns TSR_OK, TSR_E_INVALID_ARG (out NULL), TSR_E_NOMEM. */
tsr_status tsr_host_pool_create(struct tsr_topology *topo, const tsr_context *log_ctx,
                                uint64_t cache_bytes, struct tsr_host_pool **out) {
    if (!out) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_host_pool_create: out is NULL");
    struct tsr_host_pool *p = calloc(1, sizeof *p);
    if (!p) return TSR_ERR(NULL, TSR_E_NOMEM, "tsr_host_pool_create: out of memory");
    if (pthread_mutex_init(&p->mutex, NULL) != 0) {
        free(p);
        return TSR_ERR(NULL, TSR_E_NOMEM, "tsr_host_pool_create: cannot create mutex");
    }
    p->topo = topo;
    p->log_ctx = log_ctx;
    p->cache_bytes = cache_bytes;
    *out = p;
    return TSR_OK;
}

/* Frees cached blocks; blocks still handed out are leaked and logged (pool.h). */
void tsr_host_pool_destroy(struct tsr_host_pool *pool) {
    if (!pool) return;
    for (int c = 0; c < TSR_POOL_CLASSES; c++)
        free_list_to_system(pool->free_list[c]);
    if (pool->stats.bytes_in_use)
        tsr_log(pool->log_ctx, TSR_LOG_WARN,
                "host pool destroyed with %llu bytes still in use (leaked)",
                (unsigned long long)pool->stats.bytes_in_use);
    pthread_mutex_destroy(&pool->mutex);
    free(pool);
}

/* Pops a cached block of the request's class, else allocates one (posix_memalign, 64 B) outside
 * the mutex and records TSR_EVENT_ALLOC "host_pool_grow" (bytes = class size) in ctx's profiler.
 * Returns NULL when pool is NULL, the request exceeds the largest class, or the system is out of
 * memory. Thread-safe. */
void *tsr_host_pool_alloc(struct tsr_host_pool *pool, tsr_context *ctx, size_t bytes) {
    if (!pool) return NULL;
    int c = size_class(bytes);
    if (c < 0 || class_bytes(c) > SIZE_MAX - TSR_POOL_HDR) return NULL;
    size_t sz = class_bytes(c);

    pthread_mutex_lock(&pool->mutex);
    struct tsr_pool_hdr *h = pool->free_list[c];
    if (h) {
        pool->free_list[c] = h->next;
        pool->stats.reuses++;
        pool->stats.allocs++;
        pool->stats.bytes_in_use += sz;
        if (pool->stats.bytes_in_use > pool->stats.peak_bytes)
            pool->stats.peak_bytes = pool->stats.bytes_in_use;
    }
    pthread_mutex_unlock(&pool->mutex);

    if (!h) {
        /* Grow: the system call happens outside the mutex. */
        uint64_t t0 = tsr_now_ns();
        void *mem = NULL;
        if (posix_memalign(&mem, TSR_POOL_ALIGN, TSR_POOL_HDR + sz) != 0) return NULL;
        uint64_t t1 = tsr_now_ns();
        h = mem;
        pthread_mutex_lock(&pool->mutex);
        pool->stats.system_allocs++;
        pool->stats.allocs++;
        pool->stats.bytes_reserved += sz;
        pool->stats.bytes_in_use += sz;
        if (pool->stats.bytes_in_use > pool->stats.peak_bytes)
            pool->stats.peak_bytes = pool->stats.bytes_in_use;
        pthread_mutex_unlock(&pool->mutex);
        const char *host_id = ctx && ctx->n_devices > 0
                                  ? ctx->devices[tsr_context_host_device(ctx)].info.id
                                  : tsr_backend_registry_host()->name;
        tsr_prof_add(ctx, TSR_EVENT_ALLOC, "host_pool_grow", "", host_id, 0, t0, t1, sz, 0);
    }
    h->magic = TSR_POOL_LIVE;
    h->cls = (uint32_t)c;
    h->next = NULL;
    return (char *)h + TSR_POOL_HDR;
}

/* With the mutex held: unlinks cached blocks, largest class first, until at most keep bytes stay
 * cached, and returns them as a list (linked through next) for the caller to free outside the
 * mutex; *released gets their class bytes. */
static struct tsr_pool_hdr *unlink_over(struct tsr_host_pool *pool, uint64_t keep,
                                        uint64_t *released) {
    struct tsr_pool_hdr *out = NULL;
    uint64_t cached = pool->stats.bytes_reserved - pool->stats.bytes_in_use;
    *released = 0;
    for (int c = TSR_POOL_CLASSES - 1; c >= 0 && cached > keep; c--) {
        while (pool->free_list[c] && cached > keep) {
            struct tsr_pool_hdr *h = pool->free_list[c];
            pool->free_list[c] = h->next;
            h->next = out;
            out = h;
            cached -= class_bytes(c);
            *released += class_bytes(c);
        }
    }
    pool->stats.bytes_reserved -= *released;
    return out;
}

/* Pushes the block on its class's free list, then returns what is over the cache cap. A pointer
 * that is not a live block of a pool (double free, foreign pointer whose header does not carry
 * the live magic) is logged and ignored. */
void tsr_host_pool_free(struct tsr_host_pool *pool, void *p) {
    if (!pool || !p) return;
    struct tsr_pool_hdr *h = (struct tsr_pool_hdr *)((char *)p - TSR_POOL_HDR);
    pthread_mutex_lock(&pool->mutex);
    uint32_t magic = h->magic;
    if (magic != TSR_POOL_LIVE || h->cls >= TSR_POOL_CLASSES) {
        pthread_mutex_unlock(&pool->mutex);
        tsr_log(pool->log_ctx, TSR_LOG_ERROR,
                "host pool: free of %p which is not a live pool block%s", p,
                magic == TSR_POOL_FREE ? " (double free)" : "");
        return;
    }
    h->magic = TSR_POOL_FREE;
    h->next = pool->free_list[h->cls];
    pool->free_list[h->cls] = h;
    pool->stats.bytes_in_use -= class_bytes((int)h->cls);
    uint64_t released = 0;
    struct tsr_pool_hdr *over = unlink_over(pool, pool->cache_bytes, &released);
    pthread_mutex_unlock(&pool->mutex);
    free_list_to_system(over);
}

/* Releases cached blocks down to keep_bytes (pool.h). */
uint64_t tsr_host_pool_trim(struct tsr_host_pool *pool, uint64_t keep_bytes) {
    if (!pool) return 0;
    uint64_t released = 0;
    pthread_mutex_lock(&pool->mutex);
    struct tsr_pool_hdr *over = unlink_over(pool, keep_bytes, &released);
    pthread_mutex_unlock(&pool->mutex);
    free_list_to_system(over);
    return released;
}

/* Snapshot of the statistics under the mutex; zeros for a NULL pool. */
void tsr_host_pool_stats(const struct tsr_host_pool *pool, struct tsr_pool_stats *out) {
    if (!out) return;
    if (!pool) {
        memset(out, 0, sizeof *out);
        return;
    }
    struct tsr_host_pool *mp = (struct tsr_host_pool *)pool;
    pthread_mutex_lock(&mp->mutex);
    *out = pool->stats;
    pthread_mutex_unlock(&mp->mutex);
}

/* Public (tessera.h): through the device's backend (runtime/backend.h): its pool_stats member,
 * else the host pool for a host-memory backend. Returns TSR_OK, TSR_E_INVALID_ARG (NULL, index
 * out of range), TSR_E_UNSUPPORTED (a backend without pool statistics). */
tsr_status tsr_pool_get_stats(const tsr_context *ctx, int device, struct tsr_pool_stats *out) {
    tsr_context *mctx = (tsr_context *)ctx;
    if (!ctx || !out) return TSR_ERR(mctx, TSR_E_INVALID_ARG, "tsr_pool_get_stats: NULL argument");
    if (device < 0 || device >= ctx->n_devices || !ctx->devices)
        return TSR_ERR(mctx, TSR_E_INVALID_ARG,
                       "tsr_pool_get_stats: device %d out of range (%d devices)", device,
                       ctx->n_devices);
    const struct tsr_device *d = &ctx->devices[device];
    if (d->ops->pool_stats) return d->ops->pool_stats(d->state, d->info.index, out);
    if (d->ops->host_memory) {
        tsr_host_pool_stats(ctx->host_pool, out);
        return TSR_OK;
    }
    return TSR_ERR(mctx, TSR_E_UNSUPPORTED,
                   "tsr_pool_get_stats: device %s: backend %s keeps no pool statistics", d->info.id,
                   d->ops->name);
}

/* Public (tessera.h): through the device's backend: its pool_trim member, else the host pool for
 * a host-memory backend. Returns TSR_OK, TSR_E_INVALID_ARG, TSR_E_UNSUPPORTED. */
tsr_status tsr_pool_trim(tsr_context *ctx, int device, uint64_t keep_bytes,
                         uint64_t *released_bytes) {
    uint64_t released = 0;
    if (released_bytes) *released_bytes = 0;
    if (!ctx) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_pool_trim: ctx is NULL");
    if (device < 0 || device >= ctx->n_devices || !ctx->devices)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_pool_trim: device %d out of range (%d devices)",
                       device, ctx->n_devices);
    const struct tsr_device *d = &ctx->devices[device];
    tsr_status st = TSR_OK;
    if (d->ops->pool_trim)
        st = d->ops->pool_trim(d->state, d->info.index, keep_bytes, &released);
    else if (d->ops->host_memory)
        released = tsr_host_pool_trim(ctx->host_pool, keep_bytes);
    else
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED, "tsr_pool_trim: device %s: backend %s keeps no pool",
                       d->info.id, d->ops->name);
    if (st != TSR_OK)
        return TSR_ERR(ctx, st, "tsr_pool_trim: device %s: backend %s refused", d->info.id,
                       d->ops->name);
    if (released_bytes) *released_bytes = released;
    return TSR_OK;
}
