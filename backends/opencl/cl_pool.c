/*
 * cl_pool.c — device memory pool of one OpenCL device.
 *
 * Choice (documented in cl_internal.h): one cl_mem per block, cached by size class, rather than
 * sub-allocating large blocks. Reasons: a plan already packs its intermediates into ONE arena
 * block with byte offsets (the memory planner did the sub-allocation), kernels and CLBlast take
 * (cl_mem, offset) pairs so no sub-buffers (and their CL_DEVICE_MEM_BASE_ADDR_ALIGN rules) are
 * needed, and per-block cl_mem lets the driver return memory to the system independently.
 *
 * Size classes: 256 B minimum; above that, four classes per power of two — for
 * 2^k < bytes <= 2^(k+1) the class is the smallest of 1.25·2^k, 1.5·2^k, 1.75·2^k, 2^(k+1) that
 * holds `bytes` — so at most 25 % of a block is slack. A freed block goes to the free list and is
 * handed out again only for the same class, so a steady-state plan (same sizes every time)
 * never calls clCreateBuffer after its first prepare. Cached bytes are capped (cache_bytes, the
 * context's pool_cache_bytes): past the cap a free releases the largest cached blocks.
 */
#include "backends/opencl/cl_fault.h"
#include "backends/opencl/cl_internal.h"

#include "runtime/profiler.h"

#include <stdlib.h>
#include <string.h>

#define TSR_CL_POOL_MIN_BYTES 256u

/* Size class of a request in bytes (rule: file comment). */
static size_t size_class(size_t bytes) {
    if (bytes <= TSR_CL_POOL_MIN_BYTES) return TSR_CL_POOL_MIN_BYTES;
    size_t p = TSR_CL_POOL_MIN_BYTES; /* p = 2^k with p < bytes <= 2p */
    while (p < bytes / 2 + (bytes & 1))
        p *= 2;
    if (p >= bytes) p /= 2; /* keep p < bytes */
    size_t q = p / 4;
    for (size_t c = p + q; c < 2 * p; c += q)
        if (c >= bytes) return c;
    return 2 * p;
}

void tsr_cl_pool_init(struct tsr_cl_pool *pool, uint64_t cache_bytes) {
    pthread_mutex_init(&pool->lock, NULL);
    pool->free_list = NULL;
    memset(&pool->stats, 0, sizeof pool->stats);
    pool->cache_bytes = cache_bytes;
}

/* With the lock held: unlinks the largest cached blocks until at most keep bytes stay cached;
 * returns them linked through next, *released their bytes. */
static struct tsr_cl_block *unlink_over(struct tsr_cl_pool *pool, uint64_t keep,
                                        uint64_t *released) {
    struct tsr_cl_block *out = NULL;
    uint64_t cached = pool->stats.bytes_reserved - pool->stats.bytes_in_use;
    *released = 0;
    while (cached > keep && pool->free_list) {
        struct tsr_cl_block **big = &pool->free_list;
        for (struct tsr_cl_block **pp = &pool->free_list; *pp; pp = &(*pp)->next)
            if ((*pp)->size > (*big)->size) big = pp;
        struct tsr_cl_block *b = *big;
        *big = b->next;
        b->next = out;
        out = b;
        cached -= b->size;
        *released += b->size;
    }
    pool->stats.bytes_reserved -= *released;
    return out;
}

static void release_blocks(struct tsr_cl_block *b) {
    while (b) {
        struct tsr_cl_block *n = b->next;
        clReleaseMemObject(b->mem);
        free(b);
        b = n;
    }
}

uint64_t tsr_cl_pool_trim(struct tsr_cl_pool *pool, uint64_t keep) {
    uint64_t released = 0;
    pthread_mutex_lock(&pool->lock);
    struct tsr_cl_block *over = unlink_over(pool, keep, &released);
    pthread_mutex_unlock(&pool->lock);
    release_blocks(over);
    return released;
}

void tsr_cl_pool_destroy(struct tsr_cl_pool *pool, const tsr_context *log_ctx) {
    if (pool->stats.bytes_in_use)
        tsr_log(log_ctx, TSR_LOG_WARN, "OpenCL pool destroyed with %llu bytes still in use",
                (unsigned long long)pool->stats.bytes_in_use);
    release_blocks(pool->free_list);
    pool->free_list = NULL;
    pthread_mutex_destroy(&pool->lock);
}

tsr_status tsr_cl_pool_alloc(tsr_context *ctx, struct tsr_cl_device *dev, size_t bytes,
                             struct tsr_cl_block **out) {
    struct tsr_cl_pool *pool = &dev->pool;
    size_t cls = size_class(bytes);
    if (dev->max_alloc && cls > dev->max_alloc)
        return TSR_ERR(ctx, TSR_E_DEVICE_NOMEM,
                       "OpenCL %s: buffer of %zu bytes exceeds CL_DEVICE_MAX_MEM_ALLOC_SIZE %llu",
                       dev->id, bytes, (unsigned long long)dev->max_alloc);
    pthread_mutex_lock(&pool->lock);
    struct tsr_cl_block **pp = &pool->free_list;
    while (*pp && (*pp)->size != cls)
        pp = &(*pp)->next;
    struct tsr_cl_block *b = *pp;
    if (b) {
        *pp = b->next;
        b->next = NULL;
        pool->stats.reuses++;
        pool->stats.allocs++;
        pool->stats.bytes_in_use += cls;
        if (pool->stats.bytes_in_use > pool->stats.peak_bytes)
            pool->stats.peak_bytes = pool->stats.bytes_in_use;
    }
    pthread_mutex_unlock(&pool->lock);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b) return TSR_ERR(ctx, TSR_E_NOMEM, "OpenCL %s: out of host memory", dev->id);
        cl_int err = CL_SUCCESS;
        uint64_t t0 = tsr_now_ns();
        b->mem = clCreateBuffer(dev->context, CL_MEM_READ_WRITE, cls, NULL, &err);
        b->mem = tsr_cl_fault_alloc(pool, cls, b->mem, &err); /* TSR_FAULT, mem limit */
        uint64_t t1 = tsr_now_ns();
        if (!b->mem) {
            free(b);
            return TSR_ERR_CL(ctx, tsr_cl_status(err), err,
                              "OpenCL %s: clCreateBuffer(%zu bytes): %s (%d)", dev->id, cls,
                              tsr_cl_error_name(err), (int)err);
        }
        b->size = cls;
        if (tsr_prof_enabled(ctx))
            tsr_prof_add(ctx, TSR_EVENT_ALLOC, "opencl_pool_grow", "", dev->id, 0, t0, t1, cls, 0);
        /* Reserved and in use together: cached = reserved - in_use stays exact for the cap. */
        pthread_mutex_lock(&pool->lock);
        pool->stats.system_allocs++;
        pool->stats.bytes_reserved += cls;
        pool->stats.allocs++;
        pool->stats.bytes_in_use += cls;
        if (pool->stats.bytes_in_use > pool->stats.peak_bytes)
            pool->stats.peak_bytes = pool->stats.bytes_in_use;
        pthread_mutex_unlock(&pool->lock);
    }
    *out = b;
    return TSR_OK;
}

void tsr_cl_pool_free(struct tsr_cl_device *dev, struct tsr_cl_block *block) {
    if (!block) return;
    struct tsr_cl_pool *pool = &dev->pool;
    pthread_mutex_lock(&pool->lock);
    pool->stats.bytes_in_use -= block->size;
    block->next = pool->free_list;
    pool->free_list = block;
    uint64_t released = 0;
    struct tsr_cl_block *over = unlink_over(pool, pool->cache_bytes, &released);
    pthread_mutex_unlock(&pool->lock);
    release_blocks(over);
}

tsr_status tsr_opencl_pool_stats(const struct tsr_opencl_backend *ocl, int i,
                                 struct tsr_pool_stats *out) {
    if (!ocl || i < 0 || i >= ocl->n_devices || !out) return TSR_E_INVALID_ARG;
    struct tsr_cl_pool *pool = &ocl->devices[i].pool;
    pthread_mutex_lock(&pool->lock);
    *out = pool->stats;
    pthread_mutex_unlock(&pool->lock);
    return TSR_OK;
}

tsr_status tsr_opencl_pool_trim(struct tsr_opencl_backend *ocl, int i, uint64_t keep,
                                uint64_t *released) {
    if (!ocl || i < 0 || i >= ocl->n_devices || !released) return TSR_E_INVALID_ARG;
    *released = tsr_cl_pool_trim(&ocl->devices[i].pool, keep);
    return TSR_OK;
}
