/*
 * topology.c — the machine as hwloc (2.x) sees it. Below the backends: the CPU backend's thread
 * pool binds through it, the scheduler reads it, and a backend's locality glue gets the hwloc
 * handle from tsr_topology_hwloc (backends/opencl/cl_topology.c uses hwloc/opencl.h). No other
 * file includes hwloc; everything else goes through runtime/topology.h.
 *
 * The topology is loaded once with I/O objects kept (HWLOC_TYPE_FILTER_KEEP_IMPORTANT), so PCI
 * GPUs and their OpenCL OS devices appear and hwloc's device helpers can tell where a GPU is
 * attached.
 * After load the topology is only read, which hwloc documents as thread-safe
 * (hwloc docs, "Thread Safety": concurrent read-only operations on a loaded topology are safe).
 * Loads are serialised process-wide (load_lock): loading distinct topologies from several
 * threads is allowed by hwloc, but its I/O discovery calls libudev, whose one-time seeding is a
 * data race when two threads load at once (ThreadSanitizer, tests/check_concurrency.c).
 */
#include "runtime/topology.h"

#include <hwloc.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

/* Fallbacks when hwloc reports no cache of a level (documented in topology.h). */
#define TSR_L1D_FALLBACK_BYTES (32u * 1024u)
#define TSR_LLC_FALLBACK_BYTES (1024u * 1024u)

struct tsr_topology {
    hwloc_topology_t topo;
    struct tsr_cpu_topology_info cpu;
};

/* Copies info attribute `name` of obj (or of the first object of type `type` that has it) into
 * dst. Leaves dst untouched when hwloc does not know it. */
static void copy_info_attr(hwloc_topology_t topo, const char *name, char *dst, size_t dst_size) {
    const char *v = hwloc_obj_get_info_by_name(hwloc_get_root_obj(topo), name);
    if (!v) {
        hwloc_obj_t pkg = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0);
        if (pkg) v = hwloc_obj_get_info_by_name(pkg, name);
    }
    if (v) snprintf(dst, dst_size, "%s", v);
}

/* Number of objects of `type`, at least `min`. hwloc_get_nbobjs_by_type returns -1 when a type
 * lives at several depths (not the case for the types used here), 0 when absent. */
static int count_type(hwloc_topology_t topo, hwloc_obj_type_t type, int min) {
    int n = hwloc_get_nbobjs_by_type(topo, type);
    return n < min ? min : n;
}

/* Fills topo->cpu from the loaded hwloc topology. */
static void fill_cpu_info(struct tsr_topology *t) {
    struct tsr_cpu_topology_info *c = &t->cpu;
    memset(c, 0, sizeof *c);
    copy_info_attr(t->topo, "CPUModel", c->model, sizeof c->model);
    copy_info_attr(t->topo, "CPUVendor", c->vendor, sizeof c->vendor);
    c->pus = count_type(t->topo, HWLOC_OBJ_PU, 1);
    /* Some virtual machines expose no Core objects: then every PU counts as a core. */
    int cores = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_CORE);
    c->cores = cores > 0 ? cores : c->pus;
    c->packages = count_type(t->topo, HWLOC_OBJ_PACKAGE, 1);
    if (c->cores < c->packages) c->cores = c->packages;
    if (c->pus < c->cores) c->pus = c->cores;
    c->numa_nodes = count_type(t->topo, HWLOC_OBJ_NUMANODE, 1);

    hwloc_obj_t node = NULL;
    while ((node = hwloc_get_next_obj_by_type(t->topo, HWLOC_OBJ_NUMANODE, node)) != NULL)
        c->total_mem_bytes += node->attr->numanode.local_memory;
    if (c->total_mem_bytes == 0) c->total_mem_bytes = hwloc_get_root_obj(t->topo)->total_memory;

    /* Data / unified caches only: in hwloc 2.x, HWLOC_OBJ_L<n>CACHE are data or unified caches
     * (instruction caches are the separate HWLOC_OBJ_L<n>ICACHE types). */
    static const hwloc_obj_type_t levels[4] = {HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L2CACHE,
                                               HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L4CACHE};
    for (int l = 0; l < 4; l++) {
        int n = hwloc_get_nbobjs_by_type(t->topo, levels[l]);
        if (n <= 0) continue;
        hwloc_obj_t obj = hwloc_get_obj_by_type(t->topo, levels[l], 0);
        if (!obj || obj->attr->cache.size == 0) continue;
        struct tsr_cache_info *ci = &c->caches[c->n_caches++];
        ci->level = (int)obj->attr->cache.depth;
        ci->size_bytes = obj->attr->cache.size;
        ci->line_bytes = obj->attr->cache.linesize;
        ci->count = n;
    }
}

/* Loads the hwloc topology with I/O devices (PCI + OS devices such as OpenCL) kept.
 * Returns TSR_OK, TSR_E_NOMEM, TSR_E_DEVICE (hwloc init/load failed, message has errno). */
tsr_status tsr_topology_create(const tsr_context *log_ctx, struct tsr_topology **out) {
    if (!out) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_topology_create: out is NULL");
    struct tsr_topology *t = calloc(1, sizeof *t);
    if (!t) return TSR_ERR(NULL, TSR_E_NOMEM, "tsr_topology_create: out of memory");
    if (hwloc_topology_init(&t->topo) < 0) {
        int e = errno;
        free(t);
        return TSR_ERR(NULL, TSR_E_DEVICE, "hwloc_topology_init failed: %s", strerror(e));
    }
    /* Keep PCI bridges/devices and OS devices that matter (GPUs, OpenCL devices). A failure here
     * only loses GPU locality, so it is not fatal. */
    if (hwloc_topology_set_io_types_filter(t->topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT) < 0)
        tsr_log(log_ctx, TSR_LOG_INFO, "hwloc: cannot keep I/O objects: GPU locality unknown");
    pthread_mutex_lock(&load_lock);
    int loaded = hwloc_topology_load(t->topo);
    int e = errno;
    pthread_mutex_unlock(&load_lock);
    if (loaded < 0) {
        hwloc_topology_destroy(t->topo);
        free(t);
        return TSR_ERR(NULL, TSR_E_DEVICE, "hwloc_topology_load failed: %s", strerror(e));
    }
    fill_cpu_info(t);
    *out = t;
    return TSR_OK;
}

/* Releases the hwloc topology. NULL is a no-op. */
void tsr_topology_destroy(struct tsr_topology *topo) {
    if (!topo) return;
    hwloc_topology_destroy(topo->topo);
    free(topo);
}

/* The CPU summary, owned by topo. NULL when topo is NULL. */
const struct tsr_cpu_topology_info *tsr_topology_cpu(const struct tsr_topology *topo) {
    return topo ? &topo->cpu : NULL;
}

/* The hwloc_topology_t of topo (runtime/topology.h); NULL when topo is NULL. */
void *tsr_topology_hwloc(const struct tsr_topology *topo) {
    return topo ? (void *)topo->topo : NULL;
}

/* Size of one L1 data cache (per core on every current CPU); 32 KiB when unknown. */
uint64_t tsr_topology_l1d_bytes(const struct tsr_topology *topo) {
    if (topo) {
        for (int i = 0; i < topo->cpu.n_caches; i++)
            if (topo->cpu.caches[i].level == 1) return topo->cpu.caches[i].size_bytes;
    }
    return TSR_L1D_FALLBACK_BYTES;
}

/* Size of the last-level cache that core 0 sees (the deepest data/unified cache above it: the
 * whole LLC, not a per-core share); 1 MiB when hwloc reports no cache. */
uint64_t tsr_topology_llc_bytes(const struct tsr_topology *topo) {
    if (topo && topo->cpu.n_caches > 0) return topo->cpu.caches[topo->cpu.n_caches - 1].size_bytes;
    return TSR_LLC_FALLBACK_BYTES;
}

/* The PUs the calling thread may run on (its affinity mask: hwloc_get_cpubind, which is
 * sched_getaffinity on Linux; `taskset` sets it for the whole process), restricted to `scope`
 * when they meet it; the whole topology when the mask cannot be read. NULL when out of memory.
 * The caller frees it. */
static hwloc_bitmap_t allowed_pus(const struct tsr_topology *topo, hwloc_const_bitmap_t scope) {
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set) return NULL;
    if (hwloc_get_cpubind(topo->topo, set, HWLOC_CPUBIND_THREAD) != 0 || hwloc_bitmap_iszero(set))
        hwloc_bitmap_copy(set, hwloc_topology_get_topology_cpuset(topo->topo));
    if (scope && hwloc_bitmap_intersects(set, scope)) hwloc_bitmap_and(set, set, scope);
    return set;
}

/* Cores (PUs when hwloc reports no core) that meet `allowed`: how many, and the type used. */
static int count_allowed(const struct tsr_topology *topo, hwloc_const_bitmap_t allowed,
                         hwloc_obj_type_t *type) {
    int n = 0;
    *type = HWLOC_OBJ_CORE;
    if (hwloc_get_nbobjs_by_type(topo->topo, HWLOC_OBJ_CORE) <= 0) *type = HWLOC_OBJ_PU;
    for (hwloc_obj_t o = NULL; (o = hwloc_get_next_obj_by_type(topo->topo, *type, o)) != NULL;)
        n += o->cpuset && hwloc_bitmap_intersects(o->cpuset, allowed);
    return n;
}

/* Binds the calling thread to one PU of the (core_index mod n)-th of the n cores that meet its
 * affinity mask within `scope` (NULL: the machine): a pinned worker never leaves the mask that
 * the process was started with. Returns 0 or -1. */
static int bind_within(const struct tsr_topology *topo, hwloc_const_bitmap_t scope,
                       int core_index) {
    if (!topo || core_index < 0) return -1;
    hwloc_bitmap_t allowed = allowed_pus(topo, scope);
    if (!allowed) return -1;
    hwloc_obj_type_t type;
    const int n = count_allowed(topo, allowed, &type);
    int rc = -1, k = n > 0 ? core_index % n : 0;
    for (hwloc_obj_t o = NULL; n > 0 && (o = hwloc_get_next_obj_by_type(topo->topo, type, o));) {
        if (!o->cpuset || !hwloc_bitmap_intersects(o->cpuset, allowed) || k-- > 0) continue;
        hwloc_bitmap_t set = hwloc_bitmap_dup(o->cpuset);
        if (!set) break;
        hwloc_bitmap_and(set, set, allowed);
        hwloc_bitmap_singlify(set);
        rc = hwloc_set_cpubind(topo->topo, set, HWLOC_CPUBIND_THREAD) < 0 ? -1 : 0;
        hwloc_bitmap_free(set);
        break;
    }
    hwloc_bitmap_free(allowed);
    return rc;
}

/* Binds the calling thread to core core_index % (cores in its affinity mask), one PU of it
 * (singlified, so the OS does not migrate the thread between hyper-threads). Returns 0 or -1
 * (unsupported/failed). */
int tsr_topology_bind_thread(const struct tsr_topology *topo, int core_index) {
    return bind_within(topo, NULL, core_index);
}

int tsr_topology_allowed_cores(const struct tsr_topology *topo) {
    if (!topo) return 0;
    hwloc_bitmap_t allowed = allowed_pus(topo, NULL);
    if (!allowed) return topo->cpu.cores;
    hwloc_obj_type_t type;
    const int n = count_allowed(topo, allowed, &type);
    hwloc_bitmap_free(allowed);
    return n > 0 ? n : 1;
}

/* Logical index of the only NUMA node whose cpuset includes every PU of `set`, or -1. */
static int numa_of_cpuset(hwloc_topology_t t, hwloc_const_bitmap_t set) {
    if (hwloc_bitmap_iszero(set)) return -1;
    hwloc_obj_t node = NULL;
    while ((node = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_NUMANODE, node)) != NULL)
        if (node->cpuset && hwloc_bitmap_isincluded(set, node->cpuset))
            return (int)node->logical_index;
    return -1;
}

/* Thread binding → NUMA node, else last CPU location → NUMA node (topology.h). */
int tsr_topology_thread_numa_node(const struct tsr_topology *topo) {
    if (!topo) return -1;
    if (topo->cpu.numa_nodes <= 1) return 0;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set) return -1;
    int numa = -1;
    if (hwloc_get_cpubind(topo->topo, set, HWLOC_CPUBIND_THREAD) == 0)
        numa = numa_of_cpuset(topo->topo, set);
    if (numa < 0 && hwloc_get_last_cpu_location(topo->topo, set, HWLOC_CPUBIND_THREAD) == 0)
        numa = numa_of_cpuset(topo->topo, set);
    hwloc_bitmap_free(set);
    return numa;
}

/* The NUMA node object of logical index numa_node, or NULL. */
static hwloc_obj_t numa_obj(const struct tsr_topology *topo, int numa_node) {
    if (numa_node < 0) return NULL;
    return hwloc_get_obj_by_type(topo->topo, HWLOC_OBJ_NUMANODE, (unsigned)numa_node);
}

int tsr_topology_numa_core_count(const struct tsr_topology *topo, int numa_node) {
    if (!topo) return 0;
    if (numa_node < 0) return topo->cpu.cores;
    hwloc_obj_t node = numa_obj(topo, numa_node);
    if (!node || !node->cpuset) return 0;
    int n = hwloc_get_nbobjs_inside_cpuset_by_type(topo->topo, node->cpuset, HWLOC_OBJ_CORE);
    if (n <= 0) n = hwloc_get_nbobjs_inside_cpuset_by_type(topo->topo, node->cpuset, HWLOC_OBJ_PU);
    return n > 0 ? n : 0;
}

/* Binds to one PU of the (core_index mod n)-th core of the node's cpuset within the thread's
 * affinity mask (topology.h). */
int tsr_topology_bind_thread_numa(const struct tsr_topology *topo, int numa_node, int core_index) {
    if (!topo || core_index < 0) return -1;
    if (numa_node < 0) return tsr_topology_bind_thread(topo, core_index);
    hwloc_obj_t node = numa_obj(topo, numa_node);
    if (!node || !node->cpuset) return -1;
    return bind_within(topo, node->cpuset, core_index);
}
