/*
 * cl_internal.h — private state and functions of the OpenCL backend, shared by the files of
 * backends/opencl/ (and by tests/check_opencl.c, which inspects statistics). Not installed.
 *
 * Ownership: struct tsr_opencl_backend owns every struct tsr_cl_device; a device owns its
 * cl_context, command queue, memory pool and in-memory program cache. Everything device-side is
 * created lazily by tsr_cl_device_ready() on first use (first prepare).
 *
 * Thread safety: device creation, the pool and the program cache are guarded by per-device
 * mutexes; execute serialises on dev->exec_lock (one plan at a time per queue, which also keeps
 * CLBlast's per-queue use single-threaded).
 */
#ifndef TSR_OPENCL_CL_INTERNAL_H
#define TSR_OPENCL_CL_INTERNAL_H

#include "backends/opencl/cl_fault.h"
#include "backends/opencl/opencl_backend.h"
#include "runtime/program.h"

#include <CL/cl.h>
#include <pthread.h>

/* One cached cl_mem of the device pool (cl_pool.c). `size` is the size class in bytes. */
struct tsr_cl_block {
    cl_mem mem;
    size_t size;
    struct tsr_cl_block *next; /* free list link (only while cached) */
};

/* Device memory pool: one cl_mem per block, blocks rounded up to a size class and cached on
 * free (see cl_pool.c for the size-class rule). */
struct tsr_cl_pool {
    pthread_mutex_t lock;
    struct tsr_cl_block *free_list; /* cached blocks, any size class */
    struct tsr_pool_stats stats;
    uint64_t cache_bytes; /* cap on cached bytes (tsr_context_options.pool_cache_bytes) */
};

/* One built program kept in memory (cl_program_cache.c). */
struct tsr_cl_program_entry {
    char key[65]; /* SHA-256 hex of (source, options, device, driver, version) */
    cl_program program;
    struct tsr_cl_program_entry *next;
};

/* Program-cache counters of one device (observable by tests). */
struct tsr_cl_program_stats {
    uint64_t builds;       /* programs compiled from source (cache miss) */
    uint64_t disk_hits;    /* programs loaded from an on-disk binary */
    uint64_t memory_hits;  /* programs served from the in-memory table */
    uint64_t disk_rejects; /* on-disk entries ignored (unreadable, corrupt, rejected by driver) */
    uint64_t disk_writes;  /* binaries written to disk */
};

struct tsr_cl_device {
    int index;
    char id[24]; /* "opencl:N" */
    cl_platform_id platform;
    cl_device_id device;
    char name[128], vendor[128], driver[64], platform_name[128];
    cl_device_type type;
    cl_uint compute_units, clock_mhz;
    cl_ulong global_mem, max_alloc;

    pthread_mutex_t lock; /* guards lazy creation and the program table */
    int ready;            /* context + queue exist */
    cl_context context;
    cl_command_queue queue; /* in-order, CL_QUEUE_PROFILING_ENABLE */
    /* host_ns = device_ns + clock_offset_ns, within ± clock_error_ns (see cl_platform.c). */
    int64_t clock_offset_ns;
    uint64_t clock_error_ns;

    struct tsr_cl_pool pool;
    struct tsr_cl_program_entry *programs;
    struct tsr_cl_program_stats prog_stats;
    int cache_write_warned; /* a failed cache write was warned about (under lock) */

    pthread_mutex_t exec_lock; /* one execute at a time on this device's queue */
};

struct tsr_opencl_backend {
    int n_devices;
    struct tsr_cl_device *devices;
    const tsr_context *log_ctx; /* the context that created it: where its warnings are logged */
};

/* ---- cl_platform.c ---------------------------------------------------------------------- */

/* Returns device i of the OpenCL backend of ctx (tsr_opencl_backend_of) with its context, queue and
 * clock mapping created (first call creates them; later calls are cheap). Returns TSR_OK,
 * TSR_E_DEVICE (no such device, or a CL call failed: message names the call and TSR_ERR_CL carries
 * the code), TSR_E_DEVICE_NOMEM. Thread-safe. */
tsr_status tsr_cl_device_ready(tsr_context *ctx, int i, struct tsr_cl_device **out);

/* Maps a device profiling timestamp (ns, CL_PROFILING_COMMAND_*) onto the host clock
 * tsr_now_ns(). */
uint64_t tsr_cl_device_to_host_ns(const struct tsr_cl_device *dev, cl_ulong device_ns);

/* Records a failed OpenCL call: TSR_ERR_NATIVE with this backend's name (struct
 * tsr_error_info.backend = "opencl", native_code = the CL_* code `clerr`). */
#define TSR_ERR_CL(ctx, status, clerr, ...)                                                        \
    TSR_ERR_NATIVE((ctx), (status), tsr_opencl_backend_ops.name, (clerr), __VA_ARGS__)

/* Short name of an OpenCL error code ("CL_OUT_OF_RESOURCES"); "CL_ERROR" if unknown. */
const char *tsr_cl_error_name(cl_int err);

/* Status for a failed CL call: TSR_E_DEVICE_NOMEM for CL_MEM_OBJECT_ALLOCATION_FAILURE,
 * CL_OUT_OF_RESOURCES and CL_OUT_OF_HOST_MEMORY, TSR_E_DEVICE otherwise. */
tsr_status tsr_cl_status(cl_int err);

/* ---- cl_pool.c -------------------------------------------------------------------------- */

/* Initialises / destroys a pool (destroy releases every cached cl_mem; blocks still handed out
 * are reported at warn level through log_ctx's log path, which may be NULL, and leaked to the
 * driver). cache_bytes: the most bytes of free blocks kept for reuse (a free past it releases
 * the largest cached blocks; UINT64_MAX: no cap). */
void tsr_cl_pool_init(struct tsr_cl_pool *pool, uint64_t cache_bytes);
void tsr_cl_pool_destroy(struct tsr_cl_pool *pool, const tsr_context *log_ctx);

/* Returns a block of at least `bytes` (0 gives a minimal block) on dev (which must be ready).
 * Reuses a cached block of the same size class, else calls clCreateBuffer and records a
 * TSR_EVENT_ALLOC profiler event. Returns TSR_OK, TSR_E_DEVICE_NOMEM (allocation failure,
 * request above CL_DEVICE_MAX_MEM_ALLOC_SIZE), TSR_E_DEVICE, TSR_E_NOMEM. Thread-safe. */
tsr_status tsr_cl_pool_alloc(tsr_context *ctx, struct tsr_cl_device *dev, size_t bytes,
                             struct tsr_cl_block **out);
/* Returns a block to its pool for reuse; past the pool's cache_bytes the largest cached blocks
 * are released (clReleaseMemObject, outside the lock). NULL is a no-op. Thread-safe. */
void tsr_cl_pool_free(struct tsr_cl_device *dev, struct tsr_cl_block *block);
/* Releases cached blocks, largest first, until at most keep bytes stay cached; returns the bytes
 * released. Thread-safe. */
uint64_t tsr_cl_pool_trim(struct tsr_cl_pool *pool, uint64_t keep);

/* ---- cl_program_cache.c ----------------------------------------------------------------- */

/* Returns a built program for `source` (NUL-terminated OpenCL C) with build `options` on dev
 * that has a kernel named `entry`: from the in-memory table, else from the on-disk cache (an
 * entry that fails validation, does not build or lacks kernel `entry` is dropped with a warning
 * and rebuilt: file comment of cl_program_cache.c), else compiled (and then written to disk).
 * The program stays owned by the device (do not release it). `label` names it in messages and
 * profiler records. Returns TSR_OK, TSR_E_INVALID_ARG (NULL source, entry or out), TSR_E_BUILD
 * (compile failed: message holds the build log), TSR_E_DEVICE, TSR_E_DEVICE_NOMEM, TSR_E_NOMEM,
 * TSR_E_INTERNAL (hashing failed). Thread-safe. */
tsr_status tsr_cl_program_get(tsr_context *ctx, struct tsr_cl_device *dev, const char *label,
                              const char *source, const char *options, const char *entry,
                              cl_program *out);
/* tsr_cl_program_get, then clCreateKernel(entry) into *out (the caller releases the kernel);
 * `kernel_name` (the plan kernel's name; NULL: label) names it in messages. Returns the statuses
 * of tsr_cl_program_get, and TSR_E_DEVICE / TSR_E_DEVICE_NOMEM when clCreateKernel fails (*out
 * NULL). Thread-safe. */
tsr_status tsr_cl_kernel_get(tsr_context *ctx, struct tsr_cl_device *dev, const char *label,
                             const char *source, const char *options, const char *entry,
                             const char *kernel_name, cl_kernel *out);

/* On-disk entry format 2 (cl_program_cache.c): magic (8) | key digest (32) | uint64 binary
 * size (8) | checksum (32) | binary; files above TSR_CL_CACHE_MAX_FILE bytes are not read. */
#define TSR_CL_CACHE_HEADER_BYTES (8 + 32 + 8 + 32)
#define TSR_CL_CACHE_MAX_FILE     ((size_t)64 << 20)
typedef enum {
    TSR_CL_CACHE_VALID = 0, /* *bin, *bin_n point into buf */
    TSR_CL_CACHE_OLD = 1,   /* an entry of an older format: a plain miss */
    TSR_CL_CACHE_BAD = 2    /* corrupt, truncated, of another key or forged: *why says which */
} tsr_cl_cache_parse_result;
/* Validates the bytes buf[0..n-1] of an on-disk entry against the expected key digest key[32]
 * and binding digest binding[32] (file comment of cl_program_cache.c): magic, key, size,
 * checksum. On TSR_CL_CACHE_VALID, *bin / *bin_n give the binary inside buf; else *bin is NULL
 * and *why (static string) the reason. Reads no byte outside buf; pure; thread-safe. */
tsr_cl_cache_parse_result tsr_cl_cache_entry_parse(const unsigned char *buf, size_t n,
                                                   const unsigned char *key,
                                                   const unsigned char *binding,
                                                   const unsigned char **bin, size_t *bin_n,
                                                   const char **why);
/* Releases every in-memory program of dev. */
void tsr_cl_program_cache_clear(struct tsr_cl_device *dev);
/* Directory of the on-disk cache into buf: ctx's options.cache_dir, else $TSR_CACHE_DIR, else
 * $XDG_CACHE_HOME/tessera/cl, else $HOME/.cache/tessera/cl (ctx may be NULL: the environment).
 * Returns 0, or -1 if none can be named. */
int tsr_cl_cache_dir(const tsr_context *ctx, char *buf, size_t size);
/* Copies the program-cache counters of OpenCL device i. Returns TSR_OK or TSR_E_INVALID_ARG. */
tsr_status tsr_opencl_program_stats(const struct tsr_opencl_backend *ocl, int i,
                                    struct tsr_cl_program_stats *out);

/* ---- cl_codegen.c ----------------------------------------------------------------------- */

/* Generates the OpenCL C source of one fused elementwise region (kernel "tsr_ew", arguments
 * (y, y_off, in0, off0, ..., in{n_inputs-1}, off{n_inputs-1}); pointers __global float*,
 * offsets ulong in elements). Returns a malloc'd string in *out (caller frees). Returns TSR_OK,
 * TSR_E_INVALID_ARG (rank, instruction or operand out of range: message names the kernel),
 * TSR_E_NOMEM. Thread-safe. */
tsr_status tsr_cl_codegen_ew(tsr_context *ctx, const struct tsr_kernel *k, char **out);

/* Generates kernel "tsr_concat" for struct tsr_k_concat: arguments (y, y_off, in0, off0, ...,
 * in{n-1}, off{n-1}); the per-input column widths and offsets are constants in the source, one
 * work-item per output element (grid-stride). Returns a malloc'd string in *out (caller frees).
 * Returns TSR_OK, TSR_E_INVALID_ARG (n not in 1..TSR_EW_MAX_INPUTS or != k->n_inputs, negative
 * sizes), TSR_E_NOMEM. Thread-safe. */
tsr_status tsr_cl_codegen_concat(tsr_context *ctx, const struct tsr_kernel *k, char **out);

/* Source of an embedded kernel file with kernels_cl/common.clh prepended (malloc'd, caller
 * frees), or NULL with TSR_E_INTERNAL/TSR_E_NOMEM recorded on ctx. */
char *tsr_cl_embedded_source(tsr_context *ctx, const char *file);

/* ---- cl_gemm.c -------------------------------------------------------------------------- */

/* A device buffer reference: cl_mem plus byte offset. */
struct tsr_cl_ref {
    cl_mem mem;
    size_t offset; /* bytes */
};

/* Prepared GEMM: CLBlast call parameters plus the epilogue kernel (NULL when there is no C,
 * no residual and no activation). r is the residual (inputs[2 + has_c]) when has_residual. */
struct tsr_cl_gemm {
    const struct tsr_k_gemm *g;
    struct tsr_cl_ref a, b, c, r, y;
    cl_kernel epilogue;
    size_t epi_global;
};

/* Builds the epilogue program and sets its arguments. Returns TSR_OK, TSR_E_BUILD,
 * TSR_E_DEVICE, TSR_E_DEVICE_NOMEM, TSR_E_NOMEM, TSR_E_INVALID_ARG (bad geometry). */
tsr_status tsr_cl_gemm_prepare(tsr_context *ctx, struct tsr_cl_device *dev,
                               const struct tsr_kernel *k, struct tsr_cl_gemm *out);
/* Enqueues the GEMM (CLBlast) and the epilogue on dev->queue. When `last_event` is not NULL it
 * receives the event of the last command enqueued (caller releases). Returns TSR_OK,
 * TSR_E_DEVICE, TSR_E_DEVICE_NOMEM (CLBlast code in the message). */
tsr_status tsr_cl_gemm_enqueue(tsr_context *ctx, struct tsr_cl_device *dev,
                               const struct tsr_cl_gemm *gm, const char *name,
                               cl_event *last_event);
void tsr_cl_gemm_release(struct tsr_cl_gemm *gm);

/* ---- cl_conv.c -------------------------------------------------------------------------- */

/* Prepared convolution (struct tsr_k_conv). Two strategies, chosen at prepare:
 *   direct  — kernels_cl/conv.cl tsr_conv_direct, one launch with the epilogue inline; used when
 *             C/group == 1 or M/group == 1 (depthwise-like: the GEMM would be degenerate);
 *   im2col  — per image: tsr_im2col into `scratch` (device memory from the pool, allocated at
 *             prepare), then CLBlast (one Sgemm for group 1, SgemmStridedBatched over groups),
 *             then one epilogue.cl launch over Y for bias, residual and activation. A 1x1 kernel
 *             with stride 1 and no padding skips im2col (the image already is the column matrix).
 * Every kernel argument is set at prepare. */
struct tsr_cl_conv {
    const struct tsr_k_conv *c;
    struct tsr_cl_device *dev;
    struct tsr_cl_ref x, w, y;
    int direct;                   /* 1: tsr_conv_direct */
    cl_kernel main;               /* tsr_conv_direct, or tsr_im2col (NULL for 1x1 / stride 1) */
    cl_kernel epilogue;           /* im2col path only; NULL when no bias, residual, activation */
    struct tsr_cl_block *scratch; /* im2col columns of one image: C*KH*KW * OH*OW floats */
    size_t main_global, epi_global;
};

/* Validates the geometry (dims >= 0, strides and dilations >= 1, group divides C and M, OH/OW
 * consistent with the formula of struct tsr_k_conv, enough inputs), builds the programs, takes
 * the scratch from the pool and sets every argument. `in` holds the refs of k->inputs[0..].
 * Returns TSR_OK, TSR_E_INVALID_ARG (message names the kernel and the bad field), TSR_E_BUILD,
 * TSR_E_DEVICE, TSR_E_DEVICE_NOMEM, TSR_E_NOMEM. On failure *out holds what was made so far:
 * tsr_cl_conv_release frees it. */
tsr_status tsr_cl_conv_prepare(tsr_context *ctx, struct tsr_cl_device *dev,
                               const struct tsr_kernel *k, const struct tsr_cl_ref *in,
                               const struct tsr_cl_ref *y, struct tsr_cl_conv *out);
/* Enqueues the convolution on dev->queue; *last_event (when not NULL) receives the event of the
 * last command (caller releases). Returns TSR_OK, TSR_E_DEVICE, TSR_E_DEVICE_NOMEM. */
tsr_status tsr_cl_conv_enqueue(tsr_context *ctx, struct tsr_cl_device *dev,
                               const struct tsr_cl_conv *cv, const char *name,
                               cl_event *last_event);
/* Releases kernels and returns the scratch to the pool. Zeroed/NULL members are skipped. */
void tsr_cl_conv_release(struct tsr_cl_conv *cv);

/* ---- cl_kernels.c ----------------------------------------------------------------------- */

/* A program kernel that runs as one NDRange launch: cl_kernel with every argument set, 1-D
 * global size (0 = nothing to run) and local size (0 = the driver chooses). */
struct tsr_cl_launch {
    cl_kernel kernel;
    size_t global, local;
};

/* Prepares POOL, REDUCE, TRANSPOSE, CONCAT and LAYERNORM kernels: picks or generates the source
 * (transpose and concat are generated with geometry baked in, through the program cache),
 * builds it, sets the arguments and the launch geometry. `in` holds the refs of k->inputs[0..],
 * y the output's. Returns TSR_OK, TSR_E_INVALID_ARG (bad geometry or input count: message names
 * the kernel), TSR_E_UNSUPPORTED (another kind), TSR_E_BUILD, TSR_E_DEVICE, TSR_E_DEVICE_NOMEM,
 * TSR_E_NOMEM. On failure out->kernel may be set: the caller releases it. */
tsr_status tsr_cl_launch_prepare(tsr_context *ctx, struct tsr_cl_device *dev,
                                 const struct tsr_kernel *k, const struct tsr_cl_ref *in,
                                 const struct tsr_cl_ref *y, struct tsr_cl_launch *out);

/* ---- cl_data.c (issue 9, group "tkern") ---------------------------------------------- */

/* Prepares a GATHER, SLICE, CAST, MIXED or PAD kernel of prog (kernels_cl/data.cl specialised
 * by dtype): checks it (tsr_data_kernel_check), builds through the program cache, sets the
 * arguments and the launch size. `in` holds the refs of k->inputs[0..], y the output's, flag the
 * executable's Gather error word (GATHER only; NULL otherwise). Returns TSR_OK,
 * TSR_E_INVALID_ARG / TSR_E_SHAPE (bad geometry), TSR_E_DTYPE (float64 arithmetic on a device
 * without cl_khr_fp64), TSR_E_BUILD, TSR_E_DEVICE, TSR_E_NOMEM. On failure out->kernel may be set:
 * the caller releases it. */
tsr_status tsr_cl_data_prepare(tsr_context *ctx, struct tsr_cl_device *dev,
                               const struct tsr_program *prog, const struct tsr_kernel *k,
                               const struct tsr_cl_ref *in, const struct tsr_cl_ref *y,
                               const struct tsr_cl_ref *flag, struct tsr_cl_launch *out);

/* 1 when dev does double precision (CL_DEVICE_DOUBLE_FP_CONFIG != 0: cl_khr_fp64), else 0
 * (also when the query fails). Used by the float64 kinds of cl_data.c and, group "dtcompute", by
 * float64 elementwise regions. */
int tsr_cl_device_has_fp64(struct tsr_cl_device *dev);

/* Sequential clSetKernelArg calls that stop at the first failure: err holds the CL code and
 * failed_at the argument index. Used by every kernel's prepare (cl_kernels.c, cl_conv.c). */
struct tsr_cl_args {
    cl_kernel kernel;
    cl_uint next;
    cl_int err;
    cl_uint failed_at;
};
static inline void tsr_cl_arg_raw(struct tsr_cl_args *a, size_t size, const void *value) {
    if (a->err != CL_SUCCESS) return;
    a->err = clSetKernelArg(a->kernel, a->next, size, value);
    if (a->err != CL_SUCCESS) a->failed_at = a->next;
    a->next++;
}
/* A buffer reference: the cl_mem, then its offset in floats (ulong). */
static inline void tsr_cl_arg_ref(struct tsr_cl_args *a, const struct tsr_cl_ref *r) {
    cl_ulong off = r->offset / sizeof(float);
    tsr_cl_arg_raw(a, sizeof(cl_mem), &r->mem);
    tsr_cl_arg_raw(a, sizeof off, &off);
}
static inline void tsr_cl_arg_ulong(struct tsr_cl_args *a, int64_t v) {
    cl_ulong u = (cl_ulong)v;
    tsr_cl_arg_raw(a, sizeof u, &u);
}
static inline void tsr_cl_arg_long(struct tsr_cl_args *a, int64_t v) {
    cl_long l = (cl_long)v;
    tsr_cl_arg_raw(a, sizeof l, &l);
}
static inline void tsr_cl_arg_int(struct tsr_cl_args *a, int v) {
    cl_int i = (cl_int)v;
    tsr_cl_arg_raw(a, sizeof i, &i);
}
static inline void tsr_cl_arg_float(struct tsr_cl_args *a, float v) {
    cl_float f = v;
    tsr_cl_arg_raw(a, sizeof f, &f);
}
static inline void tsr_cl_arg_local(struct tsr_cl_args *a, size_t bytes) {
    tsr_cl_arg_raw(a, bytes, NULL);
}

/* Keeps `ev` as the last event of a multi-launch kernel, releasing the previous one. */
static inline void tsr_cl_keep_event(cl_event *last, cl_event ev) {
    if (*last) clReleaseEvent(*last);
    *last = ev;
}

/* Enqueues a 1-D launch of `kernel` over `global` work-items on `queue` (fault hook included,
 * TSR_FAULT=cl_enqueue:N) and keeps its event in *last. `what` names the launch in the error
 * message ("kernel '<name>': clEnqueueNDRangeKernel(<what>)"). Returns TSR_OK, TSR_E_DEVICE or
 * TSR_E_DEVICE_NOMEM (tsr_cl_status). */
static inline tsr_status tsr_cl_enqueue_1d(tsr_context *ctx, cl_command_queue queue,
                                           cl_kernel kernel, const size_t *global, const char *name,
                                           const char *what, cl_event *last) {
    cl_event ev = NULL;
    cl_int err = clEnqueueNDRangeKernel(queue, kernel, 1, NULL, global, NULL, 0, NULL, &ev);
    err = tsr_cl_fault_enqueue(err, &ev);
    if (err != CL_SUCCESS)
        return TSR_ERR_CL(ctx, tsr_cl_status(err), err,
                          "kernel '%s': clEnqueueNDRangeKernel(%s): %s (%d)", name, what,
                          tsr_cl_error_name(err), (int)err);
    tsr_cl_keep_event(last, ev);
    return TSR_OK;
}

#endif
