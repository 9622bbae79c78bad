/*
 * internal.h — what every part of the library shares: the context object, error recording and
 * logging. Not installed; not part of the public API.
 */
#ifndef TSR_RUNTIME_INTERNAL_H
#define TSR_RUNTIME_INTERNAL_H

#include "tessera.h"

#include <pthread.h>
#include <stdarg.h>

struct tsr_topology;
struct tsr_profiler;
struct tsr_host_pool;
struct tsr_backend_ops;

/* Storage for one error's detail (tsr_last_error). */
struct tsr_error_slot {
    struct tsr_error_info info;
    uint64_t seq;    /* order of recording across all threads (0: none recorded) */
    const void *ctx; /* the thread's record: the context it was recorded with (NULL: none) */
    char backend[16];
    char message[1024];
    char file[128];
};

/* One device of a context: its backend (the vtable of runtime/backend.h and the state its create
 * returned) and its public description. info.index is the local index (what the backend's
 * members take as `device`); info.backend is ops->name. */
struct tsr_device {
    const struct tsr_backend_ops *ops;
    void *state;
    struct tsr_device_info info;
};

/* Most backends one build can register (runtime/backend_registry.c). */
#define TSR_MAX_BACKENDS 8

/* A backend created in a context (runtime/backend.h). */
struct tsr_backend_slot {
    const struct tsr_backend_ops *ops;
    void *state; /* what ops->create returned; may be NULL */
};

/* The import limits (struct tsr_context_options.max_*; runtime/onnx_prescan.h). */
struct tsr_onnx_limits {
    int64_t model_bytes;  /* TSR_MAX_MODEL_BYTES: bytes of the model file */
    int64_t nodes;        /* TSR_MAX_NODES: nodes, all graphs and subgraphs together */
    int64_t values;       /* TSR_MAX_VALUES: initializers plus graph inputs, all graphs */
    int64_t tensor_bytes; /* TSR_MAX_TENSOR_SIZE: bytes of one initializer or declared input */
    int64_t rank;         /* TSR_MAX_TENSOR_RANK: dims of one tensor */
    int64_t depth;        /* TSR_MAX_DEPTH: nesting of messages (model = 1) */
};

struct tsr_context {
    pthread_mutex_t mutex;            /* guards err */
    struct tsr_error_slot err;        /* last error recorded with this context */
    tsr_log_level log_level;          /* options.log_level, else TSR_LOG env; default warn */
    int log_announce;                 /* 1: calibration announcements logged although log_level
                                         is below info (neither the option nor TSR_LOG chose) */
    tsr_log_fn log_fn;                /* options.log_fn: NULL = stderr */
    void *log_user;                   /* options.log_user */
    tsr_calibrate_policy calibration; /* options.calibration; DEFAULT: TSR_CALIBRATE at each use */
    struct tsr_onnx_limits limits;    /* options.max_*; 0 = not set (environment, default) */
    char cache_dir[4096];             /* options.cache_dir; "" = not set (environment) */
    struct tsr_topology *topo;        /* hwloc view of the machine (runtime/topology.h) */
    struct tsr_profiler *prof;        /* runtime/profiler.h */
    struct tsr_host_pool *host_pool;  /* runtime/pool.h */
    uint64_t pool_cache_bytes;        /* options.pool_cache_bytes, else TSR_POOL_CACHE_BYTES, else
                                         TSR_POOL_CACHE_DEFAULT: each pool's cap on cached bytes */
    int n_backends;                   /* created backends, the host backend first */
    struct tsr_backend_slot backends[TSR_MAX_BACKENDS];
    int n_devices; /* devices of every backend in backends[] order: devices[0] is the
                      host device (tsr_context_host_device) */
    struct tsr_device *devices;
    /* Guards devices[i].info.est_* once the context exists: calibration may rewrite them on one
     * thread while compiles on others read them. Everything else in devices[] is written only
     * during tsr_context_create. Writers: tsr_device_set_estimates; readers:
     * tsr_device_snapshot (never read est_* of devices[] directly). */
    pthread_rwlock_t est_lock;
};

/* Copies ctx->devices[d].info into *out, its est_* fields read under ctx->est_lock, so that a
 * calibration running on another thread is seen whole or not at all. ctx and out non-NULL,
 * 0 <= d < ctx->n_devices. Thread-safe. */
void tsr_device_snapshot(const tsr_context *ctx, int d, struct tsr_device_info *out);

/* Writes the estimates of ctx->devices[d] under ctx->est_lock: est_gflops (kept when gflops <=
 * 0), est_gbps, est_launch_us, est_transfer_gbps. For the calibration policy
 * (scheduler/calibrate.c). Thread-safe. */
void tsr_device_set_estimates(tsr_context *ctx, int d, double gflops, double gbps, double launch_us,
                              double transfer_gbps);

/* Records an error (on the calling thread and, when ctx != NULL, on ctx) and returns `status`,
 * so that `return TSR_ERR(ctx, TSR_E_SHAPE, "node '%s': ...", ...);` reads naturally.
 * backend (NULL = "") names the backend whose native call failed and native_code is that call's
 * raw code (0 when the error is not a failed native call); both land in struct tsr_error_info
 * (backend truncated to 15 characters). Also logs the message at debug level. Thread-safe. */
tsr_status tsr_error_set(tsr_context *ctx, tsr_status status, const char *backend, int native_code,
                         const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
#define TSR_ERR(ctx, status, ...)                                                                  \
    tsr_error_set((ctx), (status), "", 0, __FILE__, __LINE__, __VA_ARGS__)
/* A failed native call of backend `backend` (its registry name, e.g. "opencl") with raw code
 * `code`; the message should name the call and the code's symbolic name. For use inside a
 * backend's folder only (a backend may wrap it, e.g. TSR_ERR_CL in backends/opencl). */
#define TSR_ERR_NATIVE(ctx, status, backend, code, ...)                                            \
    tsr_error_set((ctx), (status), (backend), (code), __FILE__, __LINE__, __VA_ARGS__)

/* Clears the calling thread's (and ctx's) last error. */
void tsr_error_clear(tsr_context *ctx);

/* Logs one line when level <= the context's level (options.log_level, else TSR_LOG env:
 * error|warn|info|debug, default warn): to the context's log_fn when it has one, else
 * "tessera: warning: ..." to stderr. ctx may be NULL (the env level, stderr). Thread-safe. */
void tsr_log(const tsr_context *ctx, tsr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A calibration announcement (tsr_context_create in tessera.h): logged at info level when the
 * context's level is info or above, or when the level is the default (ctx->log_announce).
 * Thread-safe. */
void tsr_log_announce(const tsr_context *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Log level from the TSR_LOG environment variable; TSR_LOG_DEFAULT when unset (an invalid
 * value is warned about once per process, through ctx's log path when ctx != NULL, and gives
 * TSR_LOG_DEFAULT). */
tsr_log_level tsr_log_level_from_env(const tsr_context *ctx);

/* The cache directory chosen for ctx: options.cache_dir, else TSR_CACHE_DIR; NULL when neither
 * (callers then use their XDG / HOME default). ctx may be NULL. */
const char *tsr_context_cache_dir(const tsr_context *ctx);

/* Host monotonic clock in ns (CLOCK_MONOTONIC): the profiler's single time base. */
uint64_t tsr_now_ns(void);

/* Aligned host allocation outside the pools (64-byte alignment); free with tsr_aligned_free. */
void *tsr_aligned_alloc(size_t bytes);
void tsr_aligned_free(void *p);

/* 0 when desc is well formed (known dtype, rank 0..TSR_MAX_RANK, dims >= 0, element count and
 * bytes representable: tsr_desc_size of runtime/checked.h), else -1. */
int tsr_desc_check(const struct tsr_tensor_desc *desc);
/* 1 when dtype, rank and dims are equal. */
int tsr_desc_equal(const struct tsr_tensor_desc *a, const struct tsr_tensor_desc *b);
/* Bytes of a dense tensor of desc; SIZE_MAX when desc fails tsr_desc_check. */
size_t tsr_desc_bytes(const struct tsr_tensor_desc *desc);

/* ---- dtypes (runtime/tensor.c) ---- */
/* .npy descr of dtype ("<f4", "|b1", ...), NULL for an unknown dtype. Static storage. */
const char *tsr_dtype_npy_descr(tsr_dtype dtype);
/* The dtype of .npy descr (one-byte types also with '<' or '='). 0, or -1 when unknown. */
int tsr_dtype_from_npy_descr(const char *descr, tsr_dtype *out);
/* 1 for F16, F32, F64; else 0. */
int tsr_dtype_is_float(tsr_dtype dtype);
/* IEEE 754 binary16 bits ↔ float (round to nearest even; NaN and infinities kept). */
float tsr_f16_to_f32(uint16_t h);
uint16_t tsr_f32_to_f16(float f);
/* Element i of dense data of dtype, read as double / int64 (floats truncate toward zero, as a C
 * cast; bool is 0 or 1), and written from double / int64 (converted as ONNX Cast does: to bool is
 * value != 0, to an integer a C conversion of the truncated value, to float16 round to nearest).
 * An unknown dtype reads 0 and writes nothing. */
double tsr_elem_get_f64(tsr_dtype dtype, const void *data, int64_t i);
int64_t tsr_elem_get_i64(tsr_dtype dtype, const void *data, int64_t i);
void tsr_elem_set_f64(tsr_dtype dtype, void *data, int64_t i, double v);
void tsr_elem_set_i64(tsr_dtype dtype, void *data, int64_t i, int64_t v);

/* strdup that returns NULL on NULL input. */
char *tsr_strdup(const char *s);

/* Environment lookup that treats "" as unset. */
const char *tsr_getenv(const char *name);

/* Resource limits (docs/RELIABILITY.md, "Limits"): the positive integer in environment variable
 * `name`, else `dflt`; another value is logged as a warning on ctx naming it, and dflt used. */
int64_t tsr_env_limit(const tsr_context *ctx, const char *name, int64_t dflt);
#define TSR_MAX_NODES_DEFAULT       INT64_C(10000000)    /* TSR_MAX_NODES: nodes of a model */
#define TSR_MAX_ARENA_BYTES_DEFAULT (INT64_C(256) << 30) /* TSR_MAX_ARENA_BYTES: 256 GiB */

#endif
