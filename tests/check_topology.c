/* check_topology.c — hwloc topology: counts, caches, thread binding, OpenCL locality. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_* macros */
#include "backends/cpu/cpu_backend.h"
#include "backends/opencl/opencl_backend.h"
#include "runtime/topology.h"
#include "tessera/cpu.h"
#include "test_support.h"

#include <CL/cl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

static struct tsr_topology *topo_new(void) {
    struct tsr_topology *t = NULL;
    tsr_status st = tsr_topology_create(NULL, &t);
    ck_assert_msg(st == TSR_OK, "tsr_topology_create: %s: %s", tsr_status_name(st),
                  tsr_last_error(NULL)->message);
    ck_assert_ptr_nonnull(t);
    return t;
}

START_TEST(test_counts_consistent) {
    struct tsr_topology *t = topo_new();
    const struct tsr_cpu_topology_info *c = tsr_topology_cpu(t);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_ge(c->packages, 1);
    ck_assert_int_ge(c->numa_nodes, 1);
    ck_assert_int_ge(c->cores, c->packages);
    ck_assert_int_ge(c->pus, c->cores);
    /* hwloc's PU count is the number of online CPUs the OS reports. */
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online > 0) ck_assert_int_eq(c->pus, (int)online);
    ck_assert_uint_gt(c->total_mem_bytes, 0);
    tsr_topology_destroy(t);
}
END_TEST

START_TEST(test_caches_ordered) {
    struct tsr_topology *t = topo_new();
    const struct tsr_cpu_topology_info *c = tsr_topology_cpu(t);
    ck_assert_int_ge(c->n_caches, 0);
    ck_assert_int_le(c->n_caches, 4);
    for (int i = 0; i < c->n_caches; i++) {
        ck_assert_uint_gt(c->caches[i].size_bytes, 0);
        ck_assert_int_ge(c->caches[i].count, 1);
        ck_assert_int_ge(c->caches[i].level, 1);
        if (i > 0) {
            ck_assert_int_gt(c->caches[i].level, c->caches[i - 1].level);
            /* a deeper level is at least as large and shared by at most as many cache objects */
            ck_assert_uint_ge(c->caches[i].size_bytes, c->caches[i - 1].size_bytes);
            ck_assert_int_le(c->caches[i].count, c->caches[i - 1].count);
        }
    }
    /* L1d: the level-1 entry when present, else the documented 32 KiB fallback. */
    uint64_t l1 = tsr_topology_l1d_bytes(t);
    if (c->n_caches > 0 && c->caches[0].level == 1)
        ck_assert_uint_eq(l1, c->caches[0].size_bytes);
    else
        ck_assert_uint_eq(l1, 32u * 1024u);
    uint64_t llc = tsr_topology_llc_bytes(t);
    if (c->n_caches > 0) {
        ck_assert_uint_eq(llc, c->caches[c->n_caches - 1].size_bytes);
        ck_assert_uint_ge(llc, l1);
    } else {
        ck_assert_uint_eq(llc, 1024u * 1024u);
    }
    tsr_topology_destroy(t);
}
END_TEST

START_TEST(test_fallbacks_without_topology) {
    ck_assert_uint_eq(tsr_topology_l1d_bytes(NULL), 32u * 1024u);
    ck_assert_uint_eq(tsr_topology_llc_bytes(NULL), 1024u * 1024u);
    ck_assert_ptr_null(tsr_topology_cpu(NULL));
    ck_assert_int_eq(tsr_topology_bind_thread(NULL, 0), -1);
    tsr_topology_destroy(NULL);
}
END_TEST

START_TEST(test_bind_thread_core0) {
    struct tsr_topology *t = topo_new();
    cpu_set_t before;
    CPU_ZERO(&before);
    ck_assert_int_eq(sched_getaffinity(0, sizeof before, &before), 0);
    int rc = tsr_topology_bind_thread(t, 0);
    if (rc == 0) {
        cpu_set_t after;
        CPU_ZERO(&after);
        ck_assert_int_eq(sched_getaffinity(0, sizeof after, &after), 0);
        /* singlified: exactly one PU, and it was allowed before */
        ck_assert_int_eq(CPU_COUNT(&after), 1);
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
            if (CPU_ISSET(cpu, &after)) ck_assert_msg(CPU_ISSET(cpu, &before), "cpu %d", cpu);
        /* core index wraps modulo the core count: core `cores` is core 0 again */
        const struct tsr_cpu_topology_info *c = tsr_topology_cpu(t);
        ck_assert_int_eq(tsr_topology_bind_thread(t, c->cores), 0);
        cpu_set_t wrapped;
        CPU_ZERO(&wrapped);
        ck_assert_int_eq(sched_getaffinity(0, sizeof wrapped, &wrapped), 0);
        ck_assert(CPU_EQUAL(&after, &wrapped));
    } else {
        fprintf(stderr, "note: thread binding unsupported here\n");
    }
    ck_assert_int_eq(tsr_topology_bind_thread(t, -1), -1);
    sched_setaffinity(0, sizeof before, &before); /* restore for the other tests */
    tsr_topology_destroy(t);
}
END_TEST

#ifdef TSR_WITH_OPENCL /* the OpenCL backend's locality glue (backends/opencl/cl_topology.c) */
START_TEST(test_locality_unknown) {
    struct tsr_topology *t = topo_new();
    char buf[64];
    int numa = 42;
    tsr_topology_opencl_locality(t, NULL, buf, sizeof buf, &numa);
    ck_assert_str_eq(buf, "unknown");
    ck_assert_int_eq(numa, -1);
    numa = 42;
    memset(buf, 'x', sizeof buf);
    tsr_topology_opencl_locality(NULL, NULL, buf, sizeof buf, &numa);
    ck_assert_str_eq(buf, "unknown");
    ck_assert_int_eq(numa, -1);
    /* tiny buffer: truncated, NUL-terminated */
    char small[4];
    tsr_topology_opencl_locality(t, NULL, small, sizeof small, NULL);
    ck_assert_str_eq(small, "unk");
    tsr_topology_destroy(t);
}
END_TEST

/* A real CPU-type OpenCL device (PoCL) has no PCI object: its locality is the host cores. */
START_TEST(test_locality_opencl_cpu_device) {
    cl_platform_id plats[8];
    cl_uint np = 0;
    if (clGetPlatformIDs(8, plats, &np) != CL_SUCCESS || np == 0) {
        ts_opencl_missing("no OpenCL platform: CPU-device locality not checked");
        return;
    }
    struct tsr_topology *t = topo_new();
    int checked = 0;
    for (cl_uint p = 0; p < np && p < 8; p++) {
        cl_device_id dev;
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_CPU, 1, &dev, &nd) != CL_SUCCESS || nd == 0)
            continue;
        char buf[64];
        int numa = 42;
        tsr_topology_opencl_locality(t, dev, buf, sizeof buf, &numa);
        ck_assert_str_eq(buf, "host cores");
        if (tsr_topology_cpu(t)->numa_nodes == 1)
            ck_assert_int_eq(numa, 0);
        else
            ck_assert_int_eq(numa, -1);
        checked++;
    }
    if (!checked) fprintf(stderr, "note: no CPU-type OpenCL device: locality not checked\n");
    tsr_topology_destroy(t);
}
END_TEST
#endif

/* tessera/cpu.h: the public CPU summary is the topology's, with the ISA and threads of the CPU
 * device of a context made with a chosen thread count. */
START_TEST(test_public_cpu_info) {
    struct tsr_context_options o = {.cpu_threads = 1};
    tsr_context *ctx = NULL;
    ck_assert_int_eq(tsr_context_create(&o, &ctx), TSR_OK);
    struct tsr_cpu_info ci;
    ck_assert_int_eq(tsr_cpu_get_info(ctx, &ci), TSR_OK);
    struct tsr_topology *t = topo_new();
    const struct tsr_cpu_topology_info *c = tsr_topology_cpu(t);
    ck_assert_str_eq(ci.model, c->model);
    ck_assert_str_eq(ci.vendor, c->vendor);
    ck_assert_int_eq(ci.packages, c->packages);
    ck_assert_int_eq(ci.numa_nodes, c->numa_nodes);
    ck_assert_int_eq(ci.cores, c->cores);
    ck_assert_int_eq(ci.pus, c->pus);
    ck_assert_int_eq(ci.n_caches, c->n_caches);
    for (int i = 0; i < c->n_caches; i++) {
        ck_assert_int_eq(ci.caches[i].level, c->caches[i].level);
        ck_assert_uint_eq(ci.caches[i].size_bytes, c->caches[i].size_bytes);
        ck_assert_int_eq(ci.caches[i].line_bytes, c->caches[i].line_bytes);
        ck_assert_int_eq(ci.caches[i].count, c->caches[i].count);
    }
    ck_assert_str_eq(ci.isa_detected, tsr_cpu_isa_name(tsr_cpu_detect_isa()));
    struct tsr_device_info cpu;
    ck_assert_int_eq(tsr_device_get_info(ctx, 0, &cpu), TSR_OK);
    ck_assert_str_eq(ci.isa_in_use, cpu.isa);
    ck_assert_int_eq(ci.threads, 1);
    ck_assert_int_eq(tsr_cpu_get_info(ctx, NULL), TSR_E_INVALID_ARG);
    ck_assert_int_eq(tsr_cpu_get_info(NULL, &ci), TSR_E_INVALID_ARG);
    tsr_topology_destroy(t);
    tsr_context_destroy(ctx);
}
END_TEST

static Suite *topology_suite(void) {
    Suite *s = suite_create("topology");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_counts_consistent);
    tcase_add_test(tc, test_caches_ordered);
    tcase_add_test(tc, test_fallbacks_without_topology);
    tcase_add_test(tc, test_bind_thread_core0);
#ifdef TSR_WITH_OPENCL
    tcase_add_test(tc, test_locality_unknown);
    tcase_add_test(tc, test_locality_opencl_cpu_device);
#endif
    tcase_add_test(tc, test_public_cpu_info);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(topology_suite());
}
