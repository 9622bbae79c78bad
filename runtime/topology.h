/*
 * topology.h — the machine as hwloc sees it. It sits below the backends and the scheduler (both
 * use it; it uses neither) and knows no backend: runtime/topology.c is the only file of tessera
 * that includes hwloc, apart from a backend's device-locality glue, which gets the hwloc handle
 * from tsr_topology_hwloc (e.g. backends/opencl/cl_topology.c with hwloc/opencl.h).
 */
#ifndef TSR_RUNTIME_TOPOLOGY_H
#define TSR_RUNTIME_TOPOLOGY_H

#include "runtime/internal.h"
#include "tessera/cpu.h"

struct tsr_cache_info {
    int level;           /* 1, 2, 3 (data/unified caches only) */
    uint64_t size_bytes; /* size of one cache of this level */
    int line_bytes;      /* cache line size, 0 if unknown */
    int count;           /* number of such caches in the machine */
};

struct tsr_cpu_topology_info {
    char model[128];          /* CPUModel info attribute, "" if unknown */
    char vendor[64];          /* CPUVendor info attribute */
    int packages;             /* HWLOC_OBJ_PACKAGE count (>= 1) */
    int numa_nodes;           /* HWLOC_OBJ_NUMANODE count (>= 1) */
    int cores;                /* physical cores (HWLOC_OBJ_CORE, >= 1) */
    int pus;                  /* hardware threads (HWLOC_OBJ_PU, >= 1) */
    uint64_t total_mem_bytes; /* sum of NUMA node local memory */
    int n_caches;
    struct tsr_cache_info caches[TSR_CPU_MAX_CACHES]; /* ordered by level */
};

/* Loads the topology (with I/O devices, for GPU locality). log_ctx (may be NULL: stderr) is the
 * context whose log path gets the warning that I/O objects cannot be kept. Returns TSR_OK,
 * TSR_E_DEVICE (hwloc failed; message says why), TSR_E_NOMEM. */
tsr_status tsr_topology_create(const tsr_context *log_ctx, struct tsr_topology **out);
void tsr_topology_destroy(struct tsr_topology *topo);

/* The CPU summary (owned by topo, valid until destroy). */
const struct tsr_cpu_topology_info *tsr_topology_cpu(const struct tsr_topology *topo);

/* Size in bytes of the per-core L1 data cache (32 KiB if unknown) and of the last-level cache
 * shared by one core (1 MiB if unknown): used for tiling. */
uint64_t tsr_topology_l1d_bytes(const struct tsr_topology *topo);
uint64_t tsr_topology_llc_bytes(const struct tsr_topology *topo);

/* Binds the calling thread to the `core_index`-th (modulo their count) of the physical cores
 * that meet its affinity mask (sched_getaffinity / hwloc_get_cpubind: what `taskset` or the
 * creating thread set), on one PU of it inside the mask. Returns 0 on success, -1 if binding is
 * unsupported or failed (not an error for callers: best effort). Thread-safe. */
int tsr_topology_bind_thread(const struct tsr_topology *topo, int core_index);
/* Physical cores (PUs when hwloc reports none) that meet the calling thread's affinity mask, at
 * least 1; the core count when the mask cannot be read; 0 for a NULL topo. Sizes the CPU thread
 * pool (`taskset -c 0` gives 1). Thread-safe. */
int tsr_topology_allowed_cores(const struct tsr_topology *topo);

/* The loaded hwloc topology as a hwloc_topology_t (cast it back), for a backend's locality glue
 * that needs hwloc's device helpers (hwloc/opencl.h, hwloc/cudart.h, ...). Owned by topo, valid
 * until destroy; read-only use only (concurrent reads are safe, see topology.c). NULL when topo
 * is NULL. Thread-safe. */
void *tsr_topology_hwloc(const struct tsr_topology *topo);

/* NUMA node (logical index) of the calling thread: the single NUMA node whose cpuset contains
 * every PU of the thread's current binding (hwloc_get_cpubind, HWLOC_CPUBIND_THREAD); when the
 * binding spans several nodes (an unbound thread), the node of the PU the thread last ran on
 * (hwloc_get_last_cpu_location); 0 on single-node machines; -1 when neither can be read.
 * Thread-safe. */
int tsr_topology_thread_numa_node(const struct tsr_topology *topo);

/* Number of physical cores in NUMA node `numa_node` (logical index); 0 when there is no such
 * node. numa_node < 0 means the whole machine. */
int tsr_topology_numa_core_count(const struct tsr_topology *topo, int numa_node);

/* Binds the calling thread to the core_index-th core (modulo their count) of NUMA node
 * numa_node among those that meet the thread's affinity mask (one PU of it inside the mask,
 * singlified; the whole mask when it does not meet the node). numa_node < 0 behaves like
 * tsr_topology_bind_thread. For the CPU thread pool: bind worker i with
 * tsr_topology_bind_thread_numa(topo, tsr_topology_thread_numa_node(topo) [taken on the creating
 * thread], i). Returns 0, or -1 when binding is unsupported or failed (best effort). Thread-safe.
 */
int tsr_topology_bind_thread_numa(const struct tsr_topology *topo, int numa_node, int core_index);

#endif
