/*
 * cl_fault.c — TSR_FAULT fault injection and the TSR_OPENCL_MEM_LIMIT device-memory cap
 * (contract and environment syntax in cl_fault.h).
 *
 * State: one configuration (fault index per kind, 0 = off; the memory cap, 0 = none) parsed
 * under a mutex the first time a hook runs, and one atomic event counter per kind. The Nth event
 * fails when atomic_fetch_add(counter) + 1 == N, so exactly one event fails even when several
 * threads race.
 */
#include "backends/opencl/cl_fault.h"
#include "backends/opencl/cl_internal.h"
#include "runtime/calibration.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FAULT_ALLOC = 0, FAULT_BUILD = 1, FAULT_ENQUEUE = 2, FAULT_KINDS = 3 };

static const char *const g_kind_names[FAULT_KINDS] = {"cl_alloc", "cl_build", "cl_enqueue"};

static pthread_mutex_t g_parse_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int g_parsed;                 /* 1 once the environment was read */
static atomic_ulong g_fail_at[FAULT_KINDS]; /* Nth event fails; 0 = never */
static atomic_ulong g_counter[FAULT_KINDS]; /* events seen since the parse */
static atomic_ulong g_injected;             /* faults injected (any kind + cap) */
static atomic_ullong g_mem_limit;           /* bytes; 0 = no cap */

/* Parses "123", "64K", "4M", "1G" (powers of 1024). Returns 0 or -1. */
static int parse_bytes(const char *s, unsigned long long *out) {
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno) return -1;
    unsigned long long mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1ull << 10, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1ull << 20, end++;
    else if (*end == 'G' || *end == 'g')
        mul = 1ull << 30, end++;
    if (*end) return -1;
    *out = v * mul;
    return 0;
}

/* Reads the environment into the globals (caller holds g_parse_lock). */
static void parse_env_locked(void) {
    for (int k = 0; k < FAULT_KINDS; k++) {
        atomic_store(&g_fail_at[k], 0);
        atomic_store(&g_counter[k], 0);
    }
    atomic_store(&g_injected, 0);
    atomic_store(&g_mem_limit, 0);
    const char *spec = tsr_getenv("TSR_FAULT");
    if (spec) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", spec);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            char orig[256];
            snprintf(orig, sizeof orig, "%s", t);
            char *colon = strchr(t, ':');
            int kind = -1;
            if (colon) {
                *colon = '\0';
                for (int k = 0; k < FAULT_KINDS; k++)
                    if (!strcmp(t, g_kind_names[k])) kind = k;
            }
            char *end = NULL;
            unsigned long n = colon ? strtoul(colon + 1, &end, 10) : 0;
            if (kind < 0 || n == 0 || !end || *end) {
                tsr_log(NULL, TSR_LOG_WARN,
                        "TSR_FAULT: '%s' ignored (expected cl_alloc:N, cl_build:N or "
                        "cl_enqueue:N with N >= 1)",
                        orig);
                continue;
            }
            atomic_store(&g_fail_at[kind], n);
            tsr_log(NULL, TSR_LOG_INFO, "TSR_FAULT: OpenCL %s number %lu will fail",
                    g_kind_names[kind], n);
        }
    }
    const char *lim = tsr_getenv("TSR_OPENCL_MEM_LIMIT");
    if (lim) {
        unsigned long long v = 0;
        if (parse_bytes(lim, &v) == 0 && v > 0)
            atomic_store(&g_mem_limit, v);
        else
            tsr_log(NULL, TSR_LOG_WARN,
                    "TSR_OPENCL_MEM_LIMIT: '%s' ignored (expected bytes, e.g. 4096 or 64M)", lim);
    }
    atomic_store(&g_parsed, 1);
}

static void ensure_parsed(void) {
    if (atomic_load_explicit(&g_parsed, memory_order_acquire)) return;
    pthread_mutex_lock(&g_parse_lock);
    if (!atomic_load(&g_parsed)) parse_env_locked();
    pthread_mutex_unlock(&g_parse_lock);
}

/* Counts one event of `kind`; 1 when it is the one that must fail. Events of a thread that
 * measures a calibration (runtime/calibration.h) are neither counted nor failed. */
static int fire(int kind) {
    if (tsr_calib_thread_measuring()) return 0;
    ensure_parsed();
    unsigned long at = atomic_load_explicit(&g_fail_at[kind], memory_order_relaxed);
    unsigned long n = atomic_fetch_add(&g_counter[kind], 1) + 1;
    if (at == 0 || n != at) return 0;
    atomic_fetch_add(&g_injected, 1);
    tsr_log(NULL, TSR_LOG_INFO, "TSR_FAULT: injecting a failure into OpenCL %s number %lu",
            g_kind_names[kind], n);
    return 1;
}

cl_mem tsr_cl_fault_alloc(struct tsr_cl_pool *pool, size_t bytes, cl_mem mem, cl_int *err) {
    if (!mem) return mem;
    int fail = fire(FAULT_ALLOC);
    unsigned long long limit = atomic_load(&g_mem_limit);
    if (!fail && limit && pool) {
        pthread_mutex_lock(&pool->lock);
        unsigned long long reserved = pool->stats.bytes_reserved;
        pthread_mutex_unlock(&pool->lock);
        if (reserved + bytes > limit) {
            fail = 1;
            atomic_fetch_add(&g_injected, 1);
            tsr_log(NULL, TSR_LOG_INFO,
                    "TSR_OPENCL_MEM_LIMIT=%llu: refusing %zu more bytes (%llu reserved)", limit,
                    bytes, reserved);
        }
    }
    if (!fail) return mem;
    clReleaseMemObject(mem);
    if (err) *err = CL_MEM_OBJECT_ALLOCATION_FAILURE;
    return NULL;
}

tsr_status tsr_cl_fault_build(tsr_context *ctx, const char *dev_id, const char *label) {
    if (!fire(FAULT_BUILD)) return TSR_OK;
    return TSR_ERR_CL(ctx, TSR_E_BUILD, CL_BUILD_PROGRAM_FAILURE,
                      "OpenCL %s: build of '%s' failed: CL_BUILD_PROGRAM_FAILURE (%d) (injected by "
                      "TSR_FAULT=cl_build:%lu)",
                      dev_id ? dev_id : "?", label ? label : "program",
                      (int)CL_BUILD_PROGRAM_FAILURE, atomic_load(&g_fail_at[FAULT_BUILD]));
}

cl_int tsr_cl_fault_enqueue(cl_int err, cl_event *ev) {
    if (!fire(FAULT_ENQUEUE) || err != CL_SUCCESS) return err;
    if (ev && *ev) {
        clReleaseEvent(*ev);
        *ev = NULL;
    }
    return CL_OUT_OF_RESOURCES;
}

void tsr_cl_fault_reset(void) {
    pthread_mutex_lock(&g_parse_lock);
    parse_env_locked();
    pthread_mutex_unlock(&g_parse_lock);
}

unsigned long tsr_cl_fault_count(int kind) {
    ensure_parsed();
    if (kind < 0) return atomic_load(&g_injected);
    if (kind >= FAULT_KINDS) return 0;
    return atomic_load(&g_counter[kind]);
}
