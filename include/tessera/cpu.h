/*
 * tessera/cpu.h — the host CPU as tessera sees it: topology (hwloc), the instruction-set tier
 * detected and the one in use, and the worker threads of the CPU backend. What `tessera info`
 * prints about the CPU.
 *
 * A separate topic header: include it next to (or instead of) tessera.h, which it includes.
 * The conventions of tessera.h apply (statuses, ownership, units in the names, thread safety).
 */
#ifndef TESSERA_CPU_H
#define TESSERA_CPU_H

#include "tessera.h"

#ifdef __cplusplus
extern "C" {
#endif
TSR_API_BEGIN

#define TSR_CPU_MAX_CACHES 4 /* cache levels reported (L1 .. L4) */

/* One level of data (or unified) cache. */
struct tsr_cpu_cache_info {
    int level;           /* 1, 2, 3, 4 */
    uint64_t size_bytes; /* size of one cache of this level */
    int line_bytes;      /* cache line size; 0 if unknown */
    int count;           /* number of such caches in the machine */
};

/* The host CPU of a context. */
struct tsr_cpu_info {
    char model[128];       /* hwloc CPUModel, e.g. "AMD EPYC"; "" if unknown */
    char vendor[64];       /* hwloc CPUVendor, e.g. "AuthenticAMD"; "" if unknown */
    int packages;          /* sockets (>= 1) */
    int numa_nodes;        /* NUMA nodes (>= 1) */
    int cores;             /* physical cores (>= 1) */
    int pus;               /* hardware threads (>= 1) */
    uint64_t memory_bytes; /* machine memory: sum of the NUMA nodes' local memory */
    int n_caches;          /* 0 .. TSR_CPU_MAX_CACHES */
    struct tsr_cpu_cache_info caches[TSR_CPU_MAX_CACHES]; /* by increasing level */
    /* Instruction-set tiers: "scalar", "avx2" or "avx512". isa_detected is the best the CPU and
     * OS support; isa_in_use the one the CPU backend's kernels use (isa_detected capped by
     * TSR_CPU_ISA, the same as the CPU device's tsr_device_info.isa). */
    char isa_detected[16];
    char isa_in_use[16];
    int threads; /* worker threads of the CPU backend (tsr_context_options.cpu_threads) */
};

/* Fills *out for the host CPU of ctx. Returns TSR_OK, TSR_E_INVALID_ARG (NULL ctx or out),
 * TSR_E_NOT_FOUND (the context has no CPU device). Thread-safe. */
tsr_status tsr_cpu_get_info(const tsr_context *ctx, struct tsr_cpu_info *out);

TSR_API_END
#ifdef __cplusplus
}
#endif

#endif /* TESSERA_CPU_H */
