/*
 * pool.h — host memory pool: size classes (powers of two from 64 B), 64-byte alignment, blocks
 * cached on free and reused up to a cap on the cached bytes (beyond it the largest cached blocks
 * go back to the system); thread-safe; statistics (tessera.h: struct tsr_pool_stats).
 */
#ifndef TSR_RUNTIME_POOL_H
#define TSR_RUNTIME_POOL_H

#include "runtime/internal.h"

/* topo may be NULL; when given, memory is bound to the NUMA node of the CPU thread pool where
 * hwloc allows (best effort). log_ctx (may be NULL: stderr; not owned, must outlive the pool) is
 * the context whose log path gets the pool's warnings (leak at destroy, bad free). cache_bytes:
 * the most bytes (class sizes) of free blocks the pool keeps for reuse; a free that takes the
 * cached bytes past it returns the largest cached blocks to the system until they fit (0: keep
 * none; UINT64_MAX: no cap). Returns TSR_OK, TSR_E_INVALID_ARG (out NULL) or TSR_E_NOMEM. */
tsr_status tsr_host_pool_create(struct tsr_topology *topo, const tsr_context *log_ctx,
                                uint64_t cache_bytes, struct tsr_host_pool **out);
/* Frees every cached block. Blocks still handed out are leaked to the system (a bug in the
 * caller; logged at warn). NULL is a no-op. */
void tsr_host_pool_destroy(struct tsr_host_pool *pool);
/* Returns a 64-byte aligned block of at least `bytes` bytes (bytes == 0 gives a valid minimal
 * block), or NULL when the system is out of memory. Records TSR_EVENT_ALLOC in the profiler of
 * ctx (may be NULL) when it had to grow. Thread-safe. */
void *tsr_host_pool_alloc(struct tsr_host_pool *pool, tsr_context *ctx, size_t bytes);
/* Returns a block to the pool: kept for reuse while the cached bytes stay within the pool's
 * cache_bytes, else the largest cached blocks (this one included) go back to the system. NULL is
 * a no-op. Thread-safe. */
void tsr_host_pool_free(struct tsr_host_pool *pool, void *p);
/* Returns cached blocks, largest class first, to the system until at most keep_bytes (class
 * sizes) stay cached; blocks handed out are not touched. Returns the bytes released (class
 * sizes). NULL pool: 0. Thread-safe. */
uint64_t tsr_host_pool_trim(struct tsr_host_pool *pool, uint64_t keep_bytes);
/* Copies the statistics. Thread-safe. */
void tsr_host_pool_stats(const struct tsr_host_pool *pool, struct tsr_pool_stats *out);

#endif
