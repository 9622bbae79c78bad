/*
 * tessera.h — the public C API of tessera, a heterogeneous tensor runtime.
 *
 * Lifecycle (modelled on XNNPACK's create/setup/run):
 *
 *   tsr_context_create()      machine topology (hwloc), devices, profiler, memory pools
 *   tsr_graph_create()        build a graph with tsr_graph_input/constant/op/output,
 *   tsr_onnx_import_file()      or import one from an ONNX file
 *   tsr_compile()             fold, fuse, place, plan memory, lower → tsr_plan
 *   tsr_plan_run()            run the plan; repeat as often as wanted
 *   tsr_*_destroy()           release (every destroy accepts NULL)
 *
 * Topic headers, included separately (each includes this one):
 *   <tessera/sched.h>         calibration figures, plan predictions and placement, what `auto`
 *                             would pick for a typical workload and why
 *   <tessera/cpu.h>           the host CPU: topology, ISA detected and in use, worker threads
 *   <tessera/batcher.h>       dynamic batching of single requests across devices (serving)
 *
 * Conventions (apply to every function below unless its comment says otherwise):
 *   - Shapes are outermost-first, row-major, last dimension contiguous (ONNX / NumPy order).
 *   - Sizes are in elements unless the name ends in _bytes; times are in nanoseconds (_ns) or
 *     milliseconds (_ms) as the name says.
 *   - Functions return tsr_status. TSR_OK is 0, errors are negative. Output parameters come last
 *     and are written only on success. Nothing a caller can get wrong aborts or exits.
 *   - The detail of the last error (message naming the file / node / shapes; for a failed native
 *     call the backend's name and its raw code; source file:line) is kept per thread and per
 *     context: tsr_last_error().
 *   - Thread safety (docs/RELIABILITY.md): a tsr_context may be shared by threads (the last
 *     error is recorded per thread); tsr_plan_run and tsr_plan_specialize may be called on one
 *     plan from several threads at once, as ONNX Runtime's Run on one session: CPU runs proceed
 *     in parallel, each on its own arena and scratch; OpenCL runs on one device take turns at
 *     its queue; runs of a plan placed across devices take turns. A tsr_graph must be used by
 *     one thread at a time, and tsr_plan_destroy / tsr_context_destroy must not race with
 *     anything using the object. The CPU thread pool keeps to the process's affinity mask.
 */
#ifndef TESSERA_H
#define TESSERA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symbol visibility: the library is built with -fvisibility=hidden, and only the declarations
 * between TSR_API_BEGIN and TSR_API_END (this header, and any public topic header that includes
 * it) are exported. Every other symbol of libtessera stays internal. */
#if defined(__GNUC__) || defined(__clang__)
#define TSR_API_BEGIN _Pragma("GCC visibility push(default)")
#define TSR_API_END   _Pragma("GCC visibility pop")
#else
#define TSR_API_BEGIN
#define TSR_API_END
#endif
TSR_API_BEGIN

#define TSR_VERSION_MAJOR  0
#define TSR_VERSION_MINOR  1
#define TSR_VERSION_PATCH  0
#define TSR_VERSION_STRING "0.1.0"
/* 10000 * major + 100 * minor + patch: for `#if TSR_VERSION_NUMBER >= 100` (0.1.0). */
#define TSR_VERSION_NUMBER (TSR_VERSION_MAJOR * 10000 + TSR_VERSION_MINOR * 100 + TSR_VERSION_PATCH)

/* The version of the library linked at run time, "MAJOR.MINOR.PATCH" (TSR_VERSION_STRING of the
 * header it was built with; `tessera --version` prints it). Compare it with TSR_VERSION_STRING
 * to catch a program built against another version's header. Static storage; needs no context;
 * thread-safe; cannot fail. */
const char *tsr_version(void);

/* ------------------------------------------------------------------------------------------ */
/* Status                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* X(enum name, value, short description). One list yields the enum, tsr_status_name() and
 * tsr_status_str() (the libuv error-list pattern). */
#define TSR_STATUS_LIST(X)                                                                         \
    X(TSR_OK, 0, "success")                                                                        \
    X(TSR_E_INVALID_ARG, -1, "invalid argument")                                                   \
    X(TSR_E_SHAPE, -2, "shape mismatch")                                                           \
    X(TSR_E_DTYPE, -3, "unsupported or mismatched data type")                                      \
    X(TSR_E_UNSUPPORTED, -4, "unsupported operator or feature")                                    \
    X(TSR_E_PARSE, -5, "malformed input file")                                                     \
    X(TSR_E_IO, -6, "file input/output failed")                                                    \
    X(TSR_E_NOMEM, -7, "out of host memory")                                                       \
    X(TSR_E_DEVICE, -8, "device unavailable or failed")                                            \
    X(TSR_E_DEVICE_NOMEM, -9, "out of device memory")                                              \
    X(TSR_E_BUILD, -10, "kernel build failed")                                                     \
    X(TSR_E_NOT_FOUND, -11, "not found")                                                           \
    X(TSR_E_INTERNAL, -12, "internal error")                                                       \
    X(TSR_E_QUEUE_FULL, -13, "queue full")                                                         \
    X(TSR_E_TIMEOUT, -14, "deadline passed")                                                       \
    X(TSR_E_CANCELLED, -15, "cancelled")

typedef enum {
#define TSR_X_ENUM(name, value, str) name = value,
    TSR_STATUS_LIST(TSR_X_ENUM)
#undef TSR_X_ENUM
} tsr_status;

/* "TSR_E_SHAPE" etc.; "TSR_E_UNKNOWN" for a value not in the list. Static storage. */
const char *tsr_status_name(tsr_status status);
/* "shape mismatch" etc.; "unknown status" for a value not in the list. Static storage. */
const char *tsr_status_str(tsr_status status);

/* Detail of an error. Strings are owned by the library and stay valid until the next failing
 * call on the same thread (or context). */
struct tsr_error_info {
    tsr_status status;   /* TSR_OK when no error was recorded */
    const char *backend; /* name of the backend whose native call failed ("opencl"); "" when the
                            error is not a failed native call */
    int native_code;     /* that call's raw code in the backend's own terms (OpenCL: CL_*, e.g.
                            -5 = CL_OUT_OF_RESOURCES; the message names it); 0 otherwise */
    const char *message; /* names the problem: file, node, both shapes ... */
    const char *file;    /* tessera source file that raised it */
    int line;
};

/* ------------------------------------------------------------------------------------------ */
/* Tensors                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Values match ONNX TensorProto.DataType (onnx.proto: FLOAT = 1, UINT8 = 2, INT8 = 3, INT32 = 6,
 * INT64 = 7, BOOL = 9, FLOAT16 = 10, DOUBLE = 11). A bool element is one byte, 0 or 1; a float16
 * element is IEEE 754 binary16 (its bits as uint16_t in host memory). */
typedef enum {
    TSR_F32 = 1,
    TSR_U8 = 2,
    TSR_I8 = 3,
    TSR_I32 = 6,
    TSR_I64 = 7,
    TSR_BOOL = 9,
    TSR_F16 = 10,
    TSR_F64 = 11,
    /* group "dtcompute" (ONNX INT16 = 5, UINT16 = 4, UINT32 = 12; uint64 is not a dtype yet) */
    TSR_I16 = 5,
    TSR_U16 = 4,
    TSR_U32 = 12
} tsr_dtype;

#define TSR_MAX_RANK 8

/* A tensor's type and shape. dims are outermost-first; rank 0 is a scalar (one element). */
struct tsr_tensor_desc {
    tsr_dtype dtype;
    int rank;                   /* 0 .. TSR_MAX_RANK */
    int64_t dims[TSR_MAX_RANK]; /* each >= 0 (elements); only dims[0 .. rank-1] are read */
};

/* A dense, contiguous, row-major tensor in host memory. The struct does not own `data` unless a
 * function documents that it allocated it (then free it with tsr_tensor_free). */
struct tsr_tensor {
    struct tsr_tensor_desc desc;
    void *data;
};

/* Bytes per element of `dtype` (1, 2, 4 or 8); 0 for an unknown dtype. */
size_t tsr_dtype_size(tsr_dtype dtype);
/* NumPy's name of `dtype`: "float32", "float16", "float64", "int64", "int32", "int8", "uint8",
 * "bool"; "unknown" for a value not in tsr_dtype. Static storage. */
const char *tsr_dtype_name(tsr_dtype dtype);
/* Product of dims (1 for rank 0). Elements, not bytes. -1 when desc is NULL, its rank is out of
 * range, a dim is negative or the product overflows int64. */
int64_t tsr_desc_elements(const struct tsr_tensor_desc *desc);
/* Writes "[2, 3, 4] float32" into buf (always NUL-terminated, truncated to buf_size). Returns buf.
 */
char *tsr_desc_format(const struct tsr_tensor_desc *desc, char *buf, size_t buf_size);
/* Allocates a zero-filled tensor of `desc` (64-byte aligned data) into *out.
 * Returns TSR_OK, TSR_E_INVALID_ARG (bad desc/NULL, or a size past the limit: an element count
 * over int64 or more than 2^62 bytes, docs/RELIABILITY.md; the message gives the shape),
 * TSR_E_NOMEM. Free with tsr_tensor_free. */
tsr_status tsr_tensor_alloc(const struct tsr_tensor_desc *desc, struct tsr_tensor *out);
/* Frees data allocated by tsr_tensor_alloc / tsr_npy_load and sets t->data to NULL. NULL-safe. */
void tsr_tensor_free(struct tsr_tensor *t);

/* Reads a NumPy .npy file (format versions 1.0-3.0, C order, little-endian; descr '<f4', '<f2',
 * '<f8', '<i8', '<i4', '|i1', '|u1' or '|b1', the one-byte ones also with '<' or '=') into a
 * newly allocated tensor. Format: numpy.lib.format (NEP 1). The caller owns out->data
 * (tsr_tensor_free). Returns TSR_OK, TSR_E_INVALID_ARG, TSR_E_IO (cannot open/read),
 * TSR_E_PARSE (bad magic/header/truncated, with the file name), TSR_E_DTYPE (other dtypes,
 * Fortran order), TSR_E_NOMEM. Thread-safe. */
tsr_status tsr_npy_load(const char *path, struct tsr_tensor *out);
/* Writes `t` as a version 1.0 .npy file. Returns TSR_OK, TSR_E_INVALID_ARG, TSR_E_DTYPE, TSR_E_IO.
 * Writes to a temporary file then renames, so a failed write leaves no partial file. */
tsr_status tsr_npy_save(const char *path, const struct tsr_tensor *t);

/* ------------------------------------------------------------------------------------------ */
/* Context, devices                                                                            */
/* ------------------------------------------------------------------------------------------ */

typedef struct tsr_context tsr_context;
typedef struct tsr_graph tsr_graph;
typedef struct tsr_plan tsr_plan;

/* Log levels (struct tsr_context_options.log_level, the level of a log callback's message). The
 * values are part of the ABI. TSR_LOG_DEFAULT (0) in the options means "not chosen from code":
 * the TSR_LOG environment variable (error|warn|info|debug), else the default, which is warn plus
 * the calibration announcements (info-level lines saying that a device is being measured, why,
 * and how long it took; see tsr_context_create). A message never carries TSR_LOG_DEFAULT. */
typedef enum {
    TSR_LOG_DEFAULT = 0,
    TSR_LOG_ERROR = 1,
    TSR_LOG_WARN = 2,
    TSR_LOG_INFO = 3,
    TSR_LOG_DEBUG = 4
} tsr_log_level;

/* A logging callback (struct tsr_context_options.log_fn). `user` is the options' log_user,
 * `level` the message's level (ERROR .. DEBUG), `message` one line of text without the
 * "tessera: <level>: " prefix and without a trailing newline, valid only during the call (copy
 * it to keep it). Thread safety: it is called on whatever thread logs (the thread that called
 * tsr_context_create, tsr_compile, tsr_plan_run, ..., possibly several at once when the caller
 * uses the context from several threads; calls are not serialised), possibly while tessera
 * holds internal locks: it must be thread-safe itself, should return quickly, and must not call
 * tessera functions (they may need those locks, or log and re-enter it). */
typedef void (*tsr_log_fn)(void *user, tsr_log_level level, const char *message);

/* When a compile may measure a device (struct tsr_context_options.calibration). The values are
 * part of the ABI. Whatever the policy, an explicit request (tsr_device_calibrate,
 * `tessera info --calibrate`) measures. */
typedef enum {
    /* Not chosen from code: the TSR_CALIBRATE environment variable (auto, off, skip, cached,
     * force; another value: a warning naming it, and auto), else TSR_CALIBRATE_AUTO. */
    TSR_CALIBRATE_DEFAULT = 0,
    /* Measure a device at the first compile that needs it when neither this process nor a valid
     * cache file knows it (a few seconds per device, announced). */
    TSR_CALIBRATE_AUTO = 1,
    /* Never measure and never read calibration files: the context's devices keep the
     * property-based estimates (tsr_device_calibration still reports figures this process
     * measured or loaded for an identical device). TSR_CALIBRATE=skip. */
    TSR_CALIBRATE_SKIP = 2,
    /* Never measure; use a valid cache file (or this process's figures) when there is one, else
     * the property-based estimates. TSR_CALIBRATE=cached, and TSR_CALIBRATE=off (its older
     * name, which always behaved this way). */
    TSR_CALIBRATE_CACHED_ONLY = 3,
    /* Re-measure every device once per process at the first compile that needs it, whatever
     * the cache holds, and rewrite its cache file. TSR_CALIBRATE=force. */
    TSR_CALIBRATE_FORCE = 4
} tsr_calibrate_policy;

/* Options of tsr_context_create, passed by pointer. Zero-initialise the struct
 * (`struct tsr_context_options o = {0};` or memset) and set what you need: every field left 0 /
 * NULL means the behaviour of the environment variable named beside it, else the built-in
 * default. tsr_context_create copies what it needs (strings included): the struct may be freed
 * or reused once it returns. */
struct tsr_context_options {
    /* Number of CPU worker threads; 0 = one per physical core (hwloc). */
    int cpu_threads;
    /* Enable the profiler from the start (also enabled by env TSR_PROFILE=1). */
    int profile;
    /* Exclude the backend named "opencl" (skips OpenCL discovery entirely; kept for
     * compatibility, TSR_BACKENDS=cpu does the same). */
    int disable_opencl;
    /* Most verbose level logged (TSR_LOG_ERROR .. TSR_LOG_DEBUG); TSR_LOG_DEFAULT (0): the
     * TSR_LOG environment variable, else warn plus the calibration announcements. An explicit
     * TSR_LOG_WARN or TSR_LOG_ERROR silences the announcements; another value is
     * TSR_E_INVALID_ARG. */
    tsr_log_level log_level;
    /* Where log lines go: NULL (default) = stderr, one line "tessera: <level>: <message>\n"
     * each; non-NULL = every line this context logs (those of log_level or more severe, the
     * same lines stderr would get) is passed to log_fn(log_user, level, message) instead and none
     * goes to stderr. Thread safety and lifetime: see tsr_log_fn; log_fn and log_user must stay
     * valid until tsr_context_destroy returns. Lines logged without any context (context-free
     * calls such as tsr_npy_load, the process-wide test hooks TSR_FAULT and
     * TSR_OPENCL_MEM_LIMIT, and a failing tsr_context_create before the context exists) still
     * go to stderr; the library writes nothing else to stderr (the OpenCL pool's leak warning
     * at tsr_context_destroy goes to log_fn too). */
    tsr_log_fn log_fn;
    void *log_user; /* passed unchanged to log_fn; not owned (may be NULL) */
    /* When compiles measure devices (tsr_calibrate_policy); TSR_CALIBRATE_DEFAULT (0): the
     * TSR_CALIBRATE environment variable, else TSR_CALIBRATE_AUTO. Another value is
     * TSR_E_INVALID_ARG. */
    tsr_calibrate_policy calibration;
    /* Directory of this context's cache files (device calibrations, OpenCL program binaries);
     * created (mkdir -p, mode 0755) when first written. NULL or "" (default): the TSR_CACHE_DIR
     * environment variable, else $XDG_CACHE_HOME/tessera, else $HOME/.cache/tessera (OpenCL
     * binaries then in its cl/ subdirectory; with a directory from here or TSR_CACHE_DIR, both
     * kinds of file lie in the directory itself). Copied (at most 4095 bytes: longer is
     * TSR_E_INVALID_ARG). Calibrations are also remembered per process by device: a device
     * already measured or loaded in this process is not read again from this directory. A
     * file there is never trusted: one that is corrupt, of another key or device, not a regular
     * file or too large is warned about through the log path and rebuilt; an unwritable
     * directory is warned about and the run goes on (docs/RELIABILITY.md, "Caches"). */
    const char *cache_dir;
    /* Most profiler records kept (a ring: when full, each new record replaces the oldest and
     * tsr_profiler_dropped counts it); memory grows with use up to capacity * 64 bytes (plus
     * the interned names). 0: the TSR_PROFILE_CAPACITY environment variable (1 .. 2^26; another
     * value: a warning naming it, and the default), else TSR_PROFILE_CAPACITY_DEFAULT. More
     * than 2^26 (TSR_PROFILE_CAPACITY_MAX) is TSR_E_INVALID_ARG. Added at the end of the
     * struct: zero-initialised options keep their meaning. */
    size_t profile_capacity;
    /* Limits of a model import (tsr_onnx_import_file / _buffer; docs/RELIABILITY.md, "Limits"),
     * checked on the file's protobuf wire format before it is unpacked: over one, the import
     * returns TSR_E_UNSUPPORTED with a line naming the file, the thing, the value, the limit and
     * the environment variable raising it. Each 0: the environment variable named beside it (a
     * positive integer; another value: a warning naming it, and the default), else the default;
     * negative: TSR_E_INVALID_ARG. Added at the end of the struct. */
    int64_t max_model_bytes;  /* TSR_MAX_MODEL_BYTES: bytes of the file; default 2 GiB */
    int64_t max_nodes;        /* TSR_MAX_NODES: nodes, subgraphs included; default 10,000,000 */
    int64_t max_values;       /* TSR_MAX_VALUES: initializers + graph inputs; default 10,000,000 */
    int64_t max_tensor_bytes; /* TSR_MAX_TENSOR_SIZE: bytes of one initializer or declared input
                                 (symbolic dims count 1); default 16 GiB */
    int64_t max_tensor_rank;  /* TSR_MAX_TENSOR_RANK: dims of one tensor; default 64 (the
                                 runtime itself holds at most TSR_MAX_RANK) */
    int64_t max_depth;        /* TSR_MAX_DEPTH: protobuf message nesting (a model without
                                 subgraphs: 7, down to a graph input's Dimension; each
                                 If/Loop/Scan subgraph adds 3); default 64 */
    /* Most bytes of free blocks each memory pool (the host pool, each OpenCL device's pool)
     * keeps cached for reuse, counted in class sizes (struct tsr_pool_stats: bytes_reserved -
     * bytes_in_use). Memory a plan releases (tsr_plan_destroy, a re-plan's eviction) is cached
     * up to it; beyond it the largest cached blocks go back to the system (host: free; OpenCL:
     * clReleaseMemObject), so a long-lived context holds its plans' memory plus at most this.
     * A steady-state run allocates nothing, so the cap costs only re-plans and compiles. 0: the
     * TSR_POOL_CACHE_BYTES environment variable (a positive integer; another value: a warning
     * naming it, and the default), else TSR_POOL_CACHE_DEFAULT; negative: TSR_E_INVALID_ARG.
     * tsr_pool_trim releases more on demand. Added at the end of the struct. */
    int64_t pool_cache_bytes;
};
/* Default of struct tsr_context_options.pool_cache_bytes: 256 MiB per pool. */
#define TSR_POOL_CACHE_DEFAULT (INT64_C(256) << 20)
/* Default and largest profiler capacity (records; struct tsr_context_options.profile_capacity).
 * The default keeps e.g. ~800 runs of a 150-kernel model; at most 8 MiB of records. */
#define TSR_PROFILE_CAPACITY_DEFAULT ((size_t)1 << 17)
#define TSR_PROFILE_CAPACITY_MAX     ((size_t)1 << 26)

/* Creates a context: reads the topology (hwloc), creates the host memory pool and every
 * compiled-in backend (cpu: ISA detection and thread pool; opencl: device enumeration, where a
 * missing ICD loader/platform is not an error: the context then has the CPU only) and lists
 * their devices, then applies the cached calibration of each device (never measures; not with
 * TSR_CALIBRATE_SKIP). opts may be NULL (defaults: all zero).
 * Environment (each a default for the option of the same meaning): TSR_BACKENDS=cpu,opencl
 * (comma list of backend names: limits the backends and orders their devices; the CPU backend
 * is always present and always device 0), TSR_CPU_ISA=scalar|avx2|avx512 (cap the CPU ISA),
 * TSR_LOG=error|warn|info|debug (another value: a warning naming it, once per process, and the
 * default), TSR_CALIBRATE=auto|off|skip|cached|force (tsr_calibrate_policy), TSR_CACHE_DIR,
 * TSR_PROFILE=1, TSR_PROFILE_CAPACITY=N (records).
 * Calibration announcements: when a compile (or tsr_device_calibrate) measures a device, one
 * info-level line says which device and why ("no calibration cache in DIR", "cache file ...
 * invalid (reason)", "forced by TSR_CALIBRATE_FORCE", "requested"), and one more when done
 * with the seconds it took and the main figures; both are logged at the default level.
 * Returns TSR_OK, TSR_E_INVALID_ARG (a TSR_BACKENDS name that is not a compiled-in backend; the
 * message lists them; a log_level or calibration value out of range; a cache_dir too long; a
 * profile_capacity above TSR_PROFILE_CAPACITY_MAX), TSR_E_NOMEM, TSR_E_DEVICE (hwloc failed).
 * Thread-safe. */
tsr_status tsr_context_create(const struct tsr_context_options *opts, tsr_context **out);
/* Destroys the context. Plans compiled from it must be destroyed first. NULL is a no-op. */
void tsr_context_destroy(tsr_context *ctx);

/* Last error recorded on this thread (ctx == NULL) or on ctx, by any thread. Never NULL.
 * With a ctx, an error this thread recorded later without a context (a context-free call such as
 * tsr_npy_load, or a NULL ctx argument) is newer than the context's record and is returned
 * instead: tsr_last_error(ctx) never returns an error older than this thread's last failure
 * outside contexts. (An error recorded on another context is never returned for ctx.)
 * Thread-safe: for ctx the result is a copy private to the calling thread, taken under the
 * context's lock, and stays as it is until this thread next calls tsr_last_error with a context.
 * The thread's own record (ctx == NULL) is the one to read after a call of this thread failed. */
const struct tsr_error_info *tsr_last_error(const tsr_context *ctx);

struct tsr_device_info {
    char backend[16]; /* name of the device's backend: "cpu", "opencl" (TSR_BACKENDS words) */
    int index;        /* index within the backend: 0 for the CPU, N for opencl:N */
    char id[24];      /* "cpu", "opencl:0", ... (what --device accepts) */
    int host_memory;  /* 1 when the device computes in host memory (the CPU backend: no copies
                         to or from the device); 0 for a device with its own memory */
    char name[128];   /* CPU model or CL_DEVICE_NAME */
    char vendor[128];
    char driver_version[64];   /* CL_DRIVER_VERSION; "" for the CPU */
    char platform[128];        /* CL_PLATFORM_NAME; "" for the CPU */
    char device_type[16];      /* "cpu", "gpu", "accelerator", "other" (CL_DEVICE_TYPE_*) */
    char isa[16];              /* CPU: ISA in use ("scalar", "avx2", "avx512"); "" for OpenCL */
    int compute_units;         /* CPU: cores in use; OpenCL: CL_DEVICE_MAX_COMPUTE_UNITS */
    int max_clock_mhz;         /* CL_DEVICE_MAX_CLOCK_FREQUENCY, 0 if unknown */
    uint64_t global_mem_bytes; /* CPU: machine memory; OpenCL: CL_DEVICE_GLOBAL_MEM_SIZE */
    uint64_t max_alloc_bytes;  /* CL_DEVICE_MAX_MEM_ALLOC_SIZE; CPU: global_mem_bytes */
    int numa_node;             /* hwloc NUMA node the device is attached to; -1 unknown */
    char locality[64];         /* hwloc locality, e.g. "PCI 0000:01:00.0" or "host cores"; "" */
    double est_gflops;         /* scheduler's estimate of f32 peak (GFLOP/s), see scheduler/ */
    double est_gbps;           /* scheduler's estimate of memory bandwidth (GB/s = 1e9 B/s) */
    double est_launch_us;      /* scheduler's estimate of per-kernel launch overhead (µs) */
    double est_transfer_gbps;  /* host<->device bandwidth estimate (GB/s); 0 for the CPU */
};

/* Number of usable devices (>= 1: the CPU is device 0, then the devices of the other backends
 * in TSR_BACKENDS order). */
int tsr_device_count(const tsr_context *ctx);
/* Fills *out for device i (0 .. count-1). Returns TSR_OK or TSR_E_INVALID_ARG. */
tsr_status tsr_device_get_info(const tsr_context *ctx, int i, struct tsr_device_info *out);
/* Finds a device by id string "<backend>[:N]": "cpu", "opencl" (= opencl:0), "opencl:N". Writes
 * the device index (for tsr_device_get_info) to *out. Returns TSR_OK, TSR_E_INVALID_ARG (bad
 * syntax, or not a compiled-in backend; the message lists them), TSR_E_NOT_FOUND (no such
 * device, e.g. OpenCL absent or excluded by TSR_BACKENDS). */
tsr_status tsr_device_find(const tsr_context *ctx, const char *id, int *out);

/* ------------------------------------------------------------------------------------------ */
/* Graph builder                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* Operators: X(enum suffix). Semantics are those of the ONNX operator pages
 * (https://onnx.ai/onnx/operators/) of the op named by tsr_op_name(), with ONNX multidirectional
 * broadcasting for the binary elementwise ops. The values are part of the ABI: new operators are
 * appended. (What the library knows about each op lives in its internal operator table.)
 * THRESHOLD .. RGBTOGRAY are tessera's own preprocessing ops (ONNX domain "ai.tessera", op_types
 * Threshold, RollingMean, RollingStd, EMA, ZScore, RGBToGray; full text in docs/PREPROC.md), one
 * float32 input, Y of X's shape unless said:
 *   THRESHOLD    y = x > threshold ? x : 0; binary: x > threshold ? high : 0 (OpenCV TOZERO /
 *                BINARY); elementwise, fuses with its neighbours.
 *   ROLLINGMEAN  along axis (default -1): mean of the last `window` values up to each position
 *                (fewer at the start); NaN where fewer than min_periods (0 = window) are there:
 *                pandas rolling(window, min_periods).mean().
 *   ROLLINGSTD   the same window: sqrt(sum (x - mean)^2 / (count - ddof)), ddof default 1 (pandas
 *                .std()); NaN also where count <= ddof.
 *   EMA          y[0] = x[0], y[t] = alpha x[t] + (1 - alpha) y[t-1], 0 < alpha <= 1 (pandas
 *                ewm(alpha, adjust=False).mean()).
 *   ZSCORE       (x - mean) / sqrt(var + epsilon) over dims axis .. rank-1 (default -1), population
 *                variance, epsilon default 0.
 *   RGBTOGRAY    X [N, 3, ...] float32 or uint8 (channels along axis, default 1; -1: channels
 *                last) -> Y with 1 there, of X's dtype: 0.299 R + 0.587 G + 0.114 B (ITU-R
 *                BT.601); uint8 rounded half to even.
 * Issue 13, quantization (ONNX definitions; formulas and sources in runtime/quant.h):
 *   QUANTIZELINEAR    x float32, y_scale float32, y_zero_point? (uint8 / int8 / uint16 / int16)
 *                     -> saturate(round_half_even(x / y_scale) + y_zero_point); per-tensor or
 *                     per-axis (axis, default 1). DEQUANTIZELINEAR: (x - x_zero_point) * x_scale
 *                     to float32 (x also int32). DYNAMICQUANTIZELINEAR: uint8 y, its scale and
 *                     zero point by min-max (attrs.q_output picks the output).
 *   MATMULINTEGER     a, b (uint8 / int8), a_zero_point?, b_zero_point? -> int32
 *                     sum (a - a_zp)(b - b_zp) (numpy matmul; zero points per tensor, a's per
 *                     row, b's per column).
 *   QLINEARMATMUL     a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp -> y of y_zp's dtype:
 *                     saturate(round(int32 product * a_scale * b_scale / y_scale) + y_zp). */
#define TSR_OP_LIST(X)                                                                             \
    X(GEMM)                                                                                        \
    X(MATMUL)                                                                                      \
    X(ADD)                                                                                         \
    X(SUB)                                                                                         \
    X(MUL)                                                                                         \
    X(DIV)                                                                                         \
    X(RELU)                                                                                        \
    X(SIGMOID)                                                                                     \
    X(TANH)                                                                                        \
    X(SOFTMAX)                                                                                     \
    X(FLATTEN)                                                                                     \
    X(RESHAPE)                                                                                     \
    X(IDENTITY)                                                                                    \
    X(CONV)                                                                                        \
    X(BATCHNORM)                                                                                   \
    X(MAXPOOL)                                                                                     \
    X(AVGPOOL)                                                                                     \
    X(GLOBALAVGPOOL)                                                                               \
    X(CONCAT)                                                                                      \
    X(TRANSPOSE)                                                                                   \
    X(CLIP)                                                                                        \
    X(LEAKYRELU)                                                                                   \
    X(ERF)                                                                                         \
    X(GELU)                                                                                        \
    X(SQRT)                                                                                        \
    X(POW)                                                                                         \
    X(EXP)                                                                                         \
    X(LOG)                                                                                         \
    X(REDUCEMEAN)                                                                                  \
    X(REDUCESUM)                                                                                   \
    X(REDUCEMAX)                                                                                   \
    X(LAYERNORM)                                                                                   \
    X(NEG)                                                                                         \
    /* issue 9, group "dtypes": shape arithmetic, masks */                                         \
    X(SHAPE)                                                                                       \
    X(SIZE)                                                                                        \
    X(GATHER)                                                                                      \
    X(UNSQUEEZE)                                                                                   \
    X(SQUEEZE)                                                                                     \
    X(CAST)                                                                                        \
    X(CONSTANTOFSHAPE)                                                                             \
    X(RANGE)                                                                                       \
    X(EXPAND)                                                                                      \
    X(SLICE)                                                                                       \
    X(EQUAL)                                                                                       \
    X(LESS)                                                                                        \
    X(GREATER)                                                                                     \
    X(LESSOREQUAL)                                                                                 \
    X(GREATEROREQUAL)                                                                              \
    X(NOT)                                                                                         \
    X(AND)                                                                                         \
    X(OR)                                                                                          \
    X(XOR)                                                                                         \
    X(WHERE)                                                                                       \
    /* issue 9, group "ewops": float32 elementwise */                                              \
    X(ABS)                                                                                         \
    X(SIGN)                                                                                        \
    X(RECIPROCAL)                                                                                  \
    X(FLOOR)                                                                                       \
    X(CEIL)                                                                                        \
    X(ROUND)                                                                                       \
    X(SOFTPLUS)                                                                                    \
    X(SOFTSIGN)                                                                                    \
    X(HARDSIGMOID)                                                                                 \
    X(HARDSWISH)                                                                                   \
    X(ELU)                                                                                         \
    X(SELU)                                                                                        \
    X(CELU)                                                                                        \
    X(THRESHOLDEDRELU)                                                                             \
    X(SHRINK)                                                                                      \
    X(MISH)                                                                                        \
    X(SIN)                                                                                         \
    X(COS)                                                                                         \
    X(TAN)                                                                                         \
    X(ASIN)                                                                                        \
    X(ACOS)                                                                                        \
    X(ATAN)                                                                                        \
    X(SINH)                                                                                        \
    X(COSH)                                                                                        \
    X(ASINH)                                                                                       \
    X(ACOSH)                                                                                       \
    X(ATANH)                                                                                       \
    X(MIN)                                                                                         \
    X(MAX)                                                                                         \
    X(SUM)                                                                                         \
    X(MEAN)                                                                                        \
    X(PRELU)                                                                                       \
    X(MOD)                                                                                         \
    /* issue 9, group "tkern" */                                                                   \
    X(PAD)                                                                                         \
    /* issue 9, group "spatial": spatial and data-movement ops */                                  \
    X(GLOBALMAXPOOL)                                                                               \
    X(RESIZE)                                                                                      \
    X(UPSAMPLE)                                                                                    \
    X(DEPTHTOSPACE)                                                                                \
    X(SPACETODEPTH)                                                                                \
    X(TILE)                                                                                        \
    /* issue 9, group "reduce": reductions, normalizations */                                      \
    X(REDUCEMIN)                                                                                   \
    X(REDUCEPROD)                                                                                  \
    X(REDUCEL1)                                                                                    \
    X(REDUCEL2)                                                                                    \
    X(REDUCELOGSUM)                                                                                \
    X(REDUCELOGSUMEXP)                                                                             \
    X(REDUCESUMSQUARE)                                                                             \
    X(LOGSOFTMAX)                                                                                  \
    X(HARDMAX)                                                                                     \
    X(ARGMAX)                                                                                      \
    X(ARGMIN)                                                                                      \
    X(DROPOUT)                                                                                     \
    X(INSTANCENORM)                                                                                \
    X(CUMSUM)                                                                                      \
    X(GROUPNORM)                                                                                   \
    /* preproc: domain "ai.tessera" (docs/PREPROC.md) */                                           \
    X(THRESHOLD)                                                                                   \
    X(ROLLINGMEAN)                                                                                 \
    X(ROLLINGSTD)                                                                                  \
    X(EMA)                                                                                         \
    X(ZSCORE)                                                                                      \
    X(RGBTOGRAY)                                                                                   \
    /* issue 9, group "multiout" */                                                                \
    X(TOPK)                                                                                        \
    X(NLLLOSS)                                                                                     \
    X(CONVTRANSPOSE)                                                                               \
    X(LPPOOL)                                                                                      \
    X(GLOBALLPPOOL)                                                                                \
    X(MVN)                                                                                         \
    X(LRN)                                                                                         \
    X(EINSUM)                                                                                      \
    X(BITSHIFT) /* group "dtcompute" */                                                            \
    X(BITWISEAND)                                                                                  \
    X(BITWISEOR)                                                                                   \
    X(BITWISEXOR)                                                                                  \
    X(BITWISENOT)                                                                                  \
    X(ISNAN)                                                                                       \
    X(ISINF)                                                                                       \
    /* issue 9, group "index": indexing operators */                                               \
    X(CASTLIKE)                                                                                    \
    X(TRILU)                                                                                       \
    X(EYELIKE)                                                                                     \
    X(GATHERELEMENTS)                                                                              \
    X(SCATTERELEMENTS)                                                                             \
    X(SCATTER)                                                                                     \
    X(GATHERND)                                                                                    \
    X(SCATTERND)                                                                                   \
    X(CENTERCROPPAD)                                                                               \
    X(REVERSESEQUENCE)                                                                             \
    X(COMPRESS)                                                                                    \
    X(ONEHOT)                                                                                      \
    /* issue 13: quantization (runtime/quant.h) */                                                 \
    X(QUANTIZELINEAR)                                                                              \
    X(DEQUANTIZELINEAR)                                                                            \
    X(DYNAMICQUANTIZELINEAR)                                                                       \
    X(MATMULINTEGER)                                                                               \
    X(QLINEARMATMUL)

typedef enum {
#define TSR_X_OP(sym) TSR_OP_##sym,
    TSR_OP_LIST(TSR_X_OP)
#undef TSR_X_OP
        TSR_OP_COUNT
} tsr_op;

/* ONNX op_type of `op` ("Gemm", ...); "?" for an unknown value. Static storage. */
const char *tsr_op_name(tsr_op op);

/* "axis not given": the op's ONNX default applies. */
#define TSR_AXIS_DEFAULT INT64_MIN

/* Attributes; fields not used by an op are ignored. Start from tsr_op_attrs_default(). */
struct tsr_op_attrs {
    float alpha;    /* Gemm: default 1 */
    float beta;     /* Gemm: default 1 */
    int trans_a;    /* Gemm transA: default 0 */
    int trans_b;    /* Gemm transB: default 0 */
    int64_t axis;   /* Softmax, Flatten; TSR_AXIS_DEFAULT = the op's ONNX default: Softmax -1
                       (opset >= 13) or 1 (softmax_2d), Flatten 1. Negative counts from the end */
    int softmax_2d; /* Softmax opset < 13: coerce to 2-D at axis (default 0) */
    int allowzero;  /* Reshape: default 0 (a 0 in the shape copies the input dim) */
    /* Conv, MaxPool, AveragePool: 2-D spatial, NCHW input, weights [M, C/group, kH, kW]; 1-D
     * ([N, C, W], weights [M, C/group, kW]) as 2-D with H = 1: kernel_shape [1, k], strides and
     * dilations [1, s], pads [0, begin, 0, end] (the ONNX importer maps 1-D attributes so). */
    int64_t kernel_shape[2]; /* pools: required; Conv: 0 = from the weight */
    int64_t strides[2];      /* default 1 */
    int64_t pads[4];         /* top, left, bottom, right (ONNX: begins then ends); default 0 */
    int64_t dilations[2];    /* default 1 */
    int64_t group;           /* Conv: default 1 */
    int auto_pad;            /* TSR_AUTO_PAD_*: default NOTSET (explicit pads) */
    int ceil_mode;           /* pools: default 0 */
    int count_include_pad;   /* AveragePool: default 0 */
    /* Transpose: output dim i is input dim perm[i]; n_perm 0 reverses the dims (ONNX default). */
    int n_perm;
    int64_t perm[TSR_MAX_RANK];
    /* ReduceMean/Sum/Max: axes (negative from the end); n_axes 0 reduces every axis unless
     * noop_with_empty_axes. keepdims default 1. */
    int n_axes;
    int64_t axes[TSR_MAX_RANK];
    int keepdims;
    int noop_with_empty_axes;
    float epsilon;     /* BatchNormalization, LayerNormalization: default 1e-5 */
    float leaky_alpha; /* LeakyRelu: default 0.01 */
    float clip_min;    /* Clip: default -INFINITY (ONNX's min input, which must be constant) */
    float clip_max;    /* Clip: default +INFINITY */
    int gelu_tanh;     /* Gelu approximate="tanh": default 0 (exact, with erf) */
    /* issue 9, group "dtypes" (shape arithmetic). Squeeze / Unsqueeze use axes / n_axes (no
     * axes: Squeeze drops every dim of size 1); Gather uses axis (default 0). */
    int64_t shape_start, shape_end; /* Shape: dims [start, end) (negative from the end);
                                       default 0, 2^62 (to the end) */
    int64_t cast_to;                /* Cast: the tsr_dtype to convert to; default TSR_F32 */
    int fill_dtype;                 /* ConstantOfShape value: tsr_dtype, default TSR_F32 */
    double fill_f64;                /* ... its value for a float dtype (default 0) */
    int64_t fill_i64;               /* ... its value for an integer or bool dtype (default 0) */
    /* Slice: per listed axis (slice_axes; none listed: axes 0 .. n_starts-1) start, end and step
     * (none listed: 1), clamped as ONNX Slice says; n_starts == n_ends */
    int n_starts, n_ends, n_slice_axes, n_steps;
    int64_t starts[TSR_MAX_RANK], ends[TSR_MAX_RANK], slice_axes[TSR_MAX_RANK], steps[TSR_MAX_RANK];
    /* float32 elementwise activations (ONNX attribute defaults) */
    float hardsigmoid_alpha; /* HardSigmoid alpha: default 0.2 */
    float hardsigmoid_beta;  /* HardSigmoid beta: default 0.5 */
    float elu_alpha;         /* Elu, Celu alpha: default 1 */
    float selu_alpha;        /* Selu alpha: default 1.67326319217681884765625 */
    float selu_gamma;        /* Selu gamma: default 1.05070102214813232421875 */
    float thresholded_alpha; /* ThresholdedRelu alpha: default 1 */
    float shrink_bias;       /* Shrink bias: default 0 */
    float shrink_lambd;      /* Shrink lambd: default 0.5 */
    int mod_fmod;            /* Mod fmod: default 0 (integer mod; float inputs need 1) */
    /* issue 9, group "tkern". Pad: mode 0 constant (default), 1 reflect, 2 edge; pad_pads holds
     * the begins then the ends (n_pad_pads = 2 x the axes padded: pad_axes when listed, else every
     * axis; negative crops); pad_value: the constant (ONNX "value" before opset 11, the
     * constant_value input from 11; default 0). */
    int pad_mode;
    int n_pad_pads, n_pad_axes;
    int64_t pad_pads[2 * TSR_MAX_RANK], pad_axes[TSR_MAX_RANK];
    float pad_value;
    /* issue 9, group "spatial": Resize / Upsample (scales or sizes: constant inputs; the scaled
     * dims must be the two innermost; Resize-18 axes in axes / n_axes) */
    int resize_mode;       /* 0 nearest (default), 1 linear, 2 cubic */
    int resize_coord;      /* coordinate_transformation_mode: 0 half_pixel (default), 1
                              pytorch_half_pixel, 2 align_corners, 3 asymmetric, 4
                              tf_half_pixel_for_nn, 5 tf_crop_and_resize (refused), 6
                              half_pixel_symmetric */
    int resize_nearest;    /* nearest_mode: 0 round_prefer_floor (default), 1 round_prefer_ceil,
                              2 floor, 3 ceil */
    float cubic_coeff_a;   /* default -0.75 */
    int exclude_outside;   /* default 0 */
    int resize_keep_ratio; /* keep_aspect_ratio_policy: 0 stretch (default); others refused */
    int64_t blocksize;     /* DepthToSpace, SpaceToDepth: required (default 0: refused) */
    int depth_crd;         /* DepthToSpace mode: 0 DCR (default), 1 CRD */
    /* group "reduce" */
    int select_last_index; /* ArgMax / ArgMin: the last extremum instead of the first (default 0) */
    float dropout_ratio;   /* Dropout ratio: default 0.5 (no effect at inference) */
    /* Dropout training_mode input (opset >= 12; a bool constant): n_dropout_training 0 (absent)
     * or 1 value; tessera refuses a true one */
    int n_dropout_training;
    int64_t dropout_training[1];
    /* CumSum: the axis (a constant input: n_cumsum_axis 1), exclusive and reverse (default 0) */
    int n_cumsum_axis;
    int64_t cumsum_axis[1];
    int cumsum_exclusive;
    int cumsum_reverse;
    int64_t num_groups; /* GroupNormalization num_groups (required; default 0) */
    /* preproc: tessera-domain ops ("ai.tessera", docs/PREPROC.md). Threshold: y = x > threshold
     * ? x : 0, or with threshold_binary y = x > threshold ? threshold_high : 0 (defaults 0, 0,
     * 1). RollingMean / RollingStd: window W >= 1 (required; default 0 is refused), min_periods
     * (0 = W; fewer elements in the window: NaN), RollingStd ddof (default 1). EMA alpha in
     * (0, 1] (required). ZScore epsilon (default 0). Scans and ZScore use `axis` (default -1),
     * RGBToGray `axis` as its channel axis (default 1). */
    float threshold_value;
    int threshold_binary;
    float threshold_high;
    int64_t scan_window;
    int64_t scan_min_periods;
    int64_t scan_ddof;
    float ema_alpha;
    float zscore_epsilon;
    /* group "multiout": TopK. k: the attribute (opset 1) or constant input 1 (n_topk_k 1 value);
     * largest (default 1), sorted (default 1; tessera always returns them sorted); topk_indices:
     * not an ONNX attribute — the node computes output 1 (int64 indices) instead of output 0
     * (values): the importer makes one node per used output (default 0). Axis: `axis` (-1). */
    int n_topk_k;
    int64_t topk_k[1];
    int topk_largest;
    int topk_sorted;
    int topk_indices;
    /* group "multiout": MaxPool's Indices output. pool_indices (not an ONNX attribute): the node
     * computes output 1, int64 flat indices into X (row-major per ONNX; storage_order 1: the
     * spatial dims column-major, h + w * H) instead of output 0 (default 0). */
    int storage_order;
    int pool_indices;
    /* group "multiout": NegativeLogLikelihoodLoss (and SoftmaxCrossEntropyLoss's NLL half).
     * nll_reduction: 0 none, 1 sum, 2 mean (default); nll_ignore_index: the ignored target
     * (default INT64_MIN: none). */
    int nll_reduction;
    int64_t nll_ignore_index;
    /* issue 9, group "spatial2": ConvTranspose (window attributes above; 1-D stored as 2-D with
     * H = 1): output_padding [H, W] (default 0) and output_shape [H, W] (0: not given) */
    int64_t output_padding[2];
    int64_t output_shape[2];
    int64_t lp_p; /* LpPool, GlobalLpPool p: default 2 */
    /* LRN: alpha (default 1e-4), beta (0.75), bias (1), size (required; default 0) */
    float lrn_alpha, lrn_beta, lrn_bias;
    int64_t lrn_size;
    /* Einsum: the equation (spaces kept; parsed by the shape rule), "" by default */
    char einsum_equation[64];
    int bitshift_left;  /* BitShift direction: 0 "RIGHT" (default), 1 "LEFT" */
    int isinf_positive; /* IsInf detect_positive: default 1 */
    int isinf_negative; /* IsInf detect_negative: default 1 */
    /* group "index" */
    int trilu_upper; /* Trilu upper (default 1): keep j - i >= k, else j - i <= k */
    /* Trilu k (a constant input, 0-D or 1 value: n_trilu_k 1; absent: 0) */
    int n_trilu_k;
    int64_t trilu_k[1];
    int64_t eye_k;     /* EyeLike k (default 0): ones at j - i == k */
    int64_t eye_dtype; /* EyeLike dtype (default -1: the input's) */
    /* ScatterElements / ScatterND reduction: 0 none (default), 1 add, 2 mul, 3 max, 4 min */
    int scatter_reduction;
    int64_t batch_dims; /* GatherND batch_dims (default 0) */
    /* CenterCropPad target sizes (a constant input, one per axis; with the axes attribute) */
    int n_ccp_shape;
    int64_t ccp_shape[TSR_MAX_RANK];
    int64_t rs_batch_axis, rs_time_axis; /* ReverseSequence (defaults 1 and 0) */
    /* group "win3d": MaxPool / AveragePool on [N, C, D, H, W]: the importer stores the H and W
     * parts of 3-D window attributes above and the D parts here: kernel, stride, dilation, pad
     * begin, pad end; all 0 when not given (stride and dilation then 1). win3d_given: a bit per
     * attribute given in its 3-D form (1 kernel_shape, 2 strides, 4 dilations, 8 pads). */
    int64_t win_d[5];
    int win3d_given;
    /* group "conv3d": the D parts of a 3-D ConvTranspose's output_padding and output_shape
     * (0: not given; bits 16 and 32 of win3d_given); its other window attributes as above */
    int64_t convt_d[2];
    /* issue 13, quantization (runtime/quant.h): QuantizeLinear-21 output_dtype (an ONNX
     * TensorProto data type, 2 uint8, 3 int8, 4 uint16, 5 int16; 0, the default: y_zero_point's
     * dtype, uint8 without one); DynamicQuantizeLinear's output this node computes (0 y, 1
     * y_scale, 2 y_zero_point; the importer makes one node per used output); q_inputs: bit i set
     * when optional ONNX input i is present (the importer sets it for MatMulInteger, whose zero
     * points may be given one without the other; 0: the node's inputs are the first ones) */
    int64_t q_output_dtype;
    int q_output;
    int q_inputs;
};

/* Conv / pool auto_pad (ONNX). */
enum {
    TSR_AUTO_PAD_NOTSET = 0,
    TSR_AUTO_PAD_SAME_UPPER,
    TSR_AUTO_PAD_SAME_LOWER,
    TSR_AUTO_PAD_VALID
};
struct tsr_op_attrs tsr_op_attrs_default(void);

/* A value (tensor) of a graph: an id owned by the graph, >= 0. */
typedef int32_t tsr_value;

/* Creates an empty graph bound to ctx (for error reporting). Returns TSR_OK, TSR_E_INVALID_ARG,
 * TSR_E_NOMEM. */
tsr_status tsr_graph_create(tsr_context *ctx, tsr_graph **out);
/* NULL is a no-op. Plans compiled from the graph stay valid. */
void tsr_graph_destroy(tsr_graph *graph);

/* Declares a graph input named `name` (copied) of type/shape `desc`. Names are unique within the
 * graph; any dtype of tsr_dtype. Returns TSR_OK, TSR_E_INVALID_ARG (NULL, empty or duplicate
 * name, bad desc: an unknown dtype too, or a size past the limit of tsr_tensor_alloc),
 * TSR_E_NOMEM. */
tsr_status tsr_graph_input(tsr_graph *graph, const char *name, const struct tsr_tensor_desc *desc,
                           tsr_value *out);
/* Adds a constant (an ONNX initializer). `data` holds tsr_desc_elements(desc) elements of
 * desc->dtype and is copied. name may be NULL (a name is made up). Returns TSR_OK,
 * TSR_E_INVALID_ARG, TSR_E_DTYPE, TSR_E_NOMEM. */
tsr_status tsr_graph_constant(tsr_graph *graph, const char *name,
                              const struct tsr_tensor_desc *desc, const void *data, tsr_value *out);
/* Adds one node. `inputs` holds n_inputs value ids (ONNX input order; an absent optional input
 * is simply not passed). attrs may be NULL (defaults). node_name may be NULL (made up); it is
 * used in every message about the node. The output shape is inferred now; a mismatch returns
 * TSR_E_SHAPE with a message naming the node, the op and both shapes, and so does an output
 * past the size limit of tsr_tensor_alloc (an element count over int64, e.g. a Reshape or Tile
 * whose counts overflow, or more than 2^62 bytes). Returns TSR_OK,
 * TSR_E_INVALID_ARG (bad value id / input count), TSR_E_SHAPE, TSR_E_DTYPE,
 * TSR_E_UNSUPPORTED (e.g. a non-constant Reshape shape), TSR_E_NOMEM. */
tsr_status tsr_graph_op(tsr_graph *graph, tsr_op op, const tsr_value *inputs, int n_inputs,
                        const struct tsr_op_attrs *attrs, const char *node_name, tsr_value *out);
/* Marks `value` (of any dtype) as a graph output named `name` (copied; NULL keeps the value's
 * name). Returns TSR_OK, TSR_E_INVALID_ARG. */
tsr_status tsr_graph_output(tsr_graph *graph, const char *name, tsr_value value);

/* Shape/type of a value. Returns TSR_OK or TSR_E_INVALID_ARG. */
tsr_status tsr_graph_value_desc(const tsr_graph *graph, tsr_value value,
                                struct tsr_tensor_desc *out);
/* Counts and names (owned by the graph) of inputs / outputs, in declaration order. */
int tsr_graph_input_count(const tsr_graph *graph);
int tsr_graph_output_count(const tsr_graph *graph);
const char *tsr_graph_input_name(const tsr_graph *graph, int i);
const char *tsr_graph_output_name(const tsr_graph *graph, int i);
/* Number of operator nodes. */
int tsr_graph_node_count(const tsr_graph *graph);

/* ------------------------------------------------------------------------------------------ */
/* ONNX import                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* Overrides the shape of a graph input at import time (e.g. a symbolic batch dimension). */
struct tsr_input_shape {
    const char *name;
    struct tsr_tensor_desc desc;
    /* Optional contents (NULL: none; desc's dtype and shape, densely packed, read during the
     * import only, not retained). Used only when the input is a *value input*: one that reaches
     * a position tessera needs as a value at compile time (Reshape / Expand / ConstantOfShape
     * shape, Slice starts..steps, Pad pads / value / axes, Resize roi / scales / sizes, Tile
     * repeats, (Un)Squeeze and Reduce* axes, CumSum axis, Clip min / max, Split split, Range's
     * inputs, Dropout ratio / training_mode), directly or through nodes other than Shape /
     * Size. Such an input is then bound as a constant, so everything folds as if it were an
     * initializer; it stays a graph input (its data at run time must equal these contents, or a
     * plan re-specialises, see tsr_plan_run). Data for other inputs is ignored. */
    const void *data;
};

/* Imports an ONNX model (onnx.proto ModelProto, parsed with protobuf-c) into a new graph.
 * Supported ops: those of TSR_OP_LIST plus Constant. Inputs with symbolic dims (dim_param such
 * as "batch", or unset dims) take the shape given in `shapes` (n_shapes entries, may be NULL/0):
 * an override fixes those dims. A symbolic dim with no override stays symbolic: the graph is
 * built at 1 for it, records its name (tsr_graph_input_info) and keeps the model bytes, so a plan
 * compiled from it runs at any input shape the model allows (see tsr_plan_run, "Dynamic
 * shapes"). Initializers become constants. Returns TSR_OK, TSR_E_INVALID_ARG, TSR_E_IO (cannot
 * read), TSR_E_PARSE (empty, truncated, not a ModelProto, dangling value names — message names the
 * file), TSR_E_UNSUPPORTED (op or attribute not supported — message names the op and the node),
 * TSR_E_SHAPE, TSR_E_DTYPE, TSR_E_NOMEM. On failure nothing is leaked and *out is untouched.
 * Value inputs (see tsr_input_shape.data: e.g. a Reshape's shape as a graph input) are bound to
 * the contents given; without contents the graph is *deferred*: it has its inputs and
 * placeholder outputs (zero elements) but no nodes, and a plan compiled from it specialises at
 * its first tsr_plan_run / tsr_plan_specialize_inputs (re-importing with the contents).
 * External tensor data (TensorProto data_location EXTERNAL, as torch.onnx writes for models over
 * 2 GiB and onnx.save_model(save_as_external_data=True) for any) is read from files in the
 * directory of `path` only: a location that is absolute, has a ".." component or resolves
 * (symbolic links followed) outside that directory is refused with TSR_E_UNSUPPORTED naming it;
 * a missing or non-regular file is TSR_E_IO; a file shorter than offset + the tensor's bytes, or
 * a length other than those bytes, is TSR_E_PARSE (docs/RELIABILITY.md, "Limits"). */
tsr_status tsr_onnx_import_file(tsr_context *ctx, const char *path,
                                const struct tsr_input_shape *shapes, size_t n_shapes,
                                tsr_graph **out);
/* Same, from `size` bytes in memory (the buffer is not retained; `label` names the model in
 * messages and may be NULL). A buffer has no directory: a tensor with external data is refused
 * with TSR_E_UNSUPPORTED (import the file with tsr_onnx_import_file instead). */
tsr_status tsr_onnx_import_buffer(tsr_context *ctx, const void *data, size_t size,
                                  const char *label, const struct tsr_input_shape *shapes,
                                  size_t n_shapes, tsr_graph **out);

/* ------------------------------------------------------------------------------------------ */
/* Compile and run                                                                             */
/* ------------------------------------------------------------------------------------------ */

/* Fusion switches (bit set) for tsr_compile_options.disable_fusion. Also env
 * TSR_DISABLE_FUSION=all|elementwise|epilogue|bn|layernorm (comma list). TSR_FUSE_ALL is a macro,
 * not an enumerator: ISO C limits enumerators to the range of int. */
enum {
    TSR_FUSE_ELEMENTWISE = 1u << 0, /* chains of elementwise ops → one kernel */
    TSR_FUSE_EPILOGUE = 1u << 1,    /* bias / residual add / activation into GEMM and Conv */
    TSR_FUSE_BN = 1u << 2,          /* BatchNormalization folded into the preceding Conv/Gemm */
    TSR_FUSE_LAYERNORM = 1u << 3    /* decomposed layer normalisation → one kernel */
};
#define TSR_FUSE_ALL 0xffffffffu /* every switch, present and future */

struct tsr_compile_options {
    /* "auto", "cpu", "opencl", "opencl:N". NULL: env TSR_DEVICE, else "auto" (a TSR_DEVICE
     * that names no device of the context is warned about once, naming it, and "auto" used;
     * the same string given here is an error). */
    const char *device;
    /* TSR_FUSE_* bits to turn off (0: all fusion on). */
    unsigned disable_fusion;
    /* If the chosen OpenCL device fails while compiling (build error, out of memory), compile
     * for the CPU instead with a warning (1, the default via tsr_compile_options_default) or
     * fail (0). */
    int allow_fallback;
    /* Placement across devices (issue 5): "single" (the whole plan on one device), "hetero"
     * (each kernel on the device a HEFT list scheduler picks, transfers through host memory,
     * segments run one after the other), "alternate" (kernel k on device k mod N, or the next
     * device that can run it: a test mode),
     * or "auto" (single, or hetero when `device` is auto and hetero is predicted faster than the
     * best single device by more than 10%). NULL: env TSR_PLACEMENT, else "auto". Added at the
     * end of the struct: zero-initialised options keep their meaning. */
    const char *placement;
};
struct tsr_compile_options tsr_compile_options_default(void);

/* Optimises `graph` and lowers it for one device. The plan copies what it needs and is
 * independent of the graph afterwards. Every graph input and output must have concrete dims.
 * Returns TSR_OK, TSR_E_INVALID_ARG (NULL, no outputs, bad device string), TSR_E_NOT_FOUND
 * (device absent, e.g. "opencl" with no OpenCL), TSR_E_SHAPE, TSR_E_UNSUPPORTED, TSR_E_NOMEM,
 * TSR_E_DEVICE, TSR_E_DEVICE_NOMEM, TSR_E_BUILD (the last three only with allow_fallback = 0).
 * Thread-safe with respect to ctx. */
tsr_status tsr_compile(tsr_context *ctx, const tsr_graph *graph,
                       const struct tsr_compile_options *opts, tsr_plan **out);
/* NULL is a no-op. */
void tsr_plan_destroy(tsr_plan *plan);

/* Runs the plan. inputs[i] corresponds to graph input i (tsr_plan_input_desc), outputs[i] to
 * graph output i; the caller owns all buffers; outputs[i].data must hold the output's bytes and
 * outputs[i].desc is overwritten with the output's desc. A shape or dtype that differs from the
 * plan's returns TSR_E_SHAPE / TSR_E_DTYPE naming the input and both shapes — except along the
 * symbolic dims of a plan with symbolic inputs, which runs at any input shape the model allows
 * by re-specialising (see "Dynamic shapes" below: tsr_plan_specialize). At input shapes other
 * than those tsr_compile compiled for, outputs[i].desc must describe the caller's buffer (as
 * tsr_tensor_alloc sets it): a buffer of fewer bytes than the output is refused with
 * TSR_E_SHAPE naming the output and both shapes. Value inputs (tsr_input_shape.data) with
 * contents other than the compiled ones re-specialise the same way (a plan from a deferred graph
 * always does; its output descs are known only after tsr_plan_specialize_inputs or a run).
 * If the OpenCL device fails during the run and fallback is allowed, the plan is recompiled
 * for the CPU, the run repeated, a warning logged, and TSR_OK returned.
 * Returns TSR_OK, TSR_E_INVALID_ARG, TSR_E_SHAPE, TSR_E_DTYPE, TSR_E_DEVICE, TSR_E_NOMEM.
 * Thread-safe, also for one plan: concurrent runs of a CPU plan each take a run state (arena,
 * scratch) from the plan's pool of them, making one when all are in use (up to
 * TSR_CPU_RUN_STATES, env, default 16; more runs wait for a free state); OpenCL runs on one
 * device serialise around its queue (enqueue through clFinish); a hetero plan runs one at a
 * time; runs at other shapes share the specialisation cache (a lock around lookup / insert; a
 * re-plan happens outside it, and a specialisation in use is not destroyed by an eviction);
 * a fallback to the CPU waits for the runs in progress and is made once. A steady-state
 * single-threaded run allocates no memory (the first run state is made by tsr_compile); the
 * first concurrent run beyond the states made allocates one. */
tsr_status tsr_plan_run(tsr_plan *plan, const struct tsr_tensor *inputs, size_t n_inputs,
                        struct tsr_tensor *outputs, size_t n_outputs);

int tsr_plan_input_count(const tsr_plan *plan);
int tsr_plan_output_count(const tsr_plan *plan);
/* Name (owned by the plan) and desc of input/output i. Returns TSR_OK or TSR_E_INVALID_ARG. */
tsr_status tsr_plan_input_desc(const tsr_plan *plan, int i, const char **name,
                               struct tsr_tensor_desc *desc);
tsr_status tsr_plan_output_desc(const tsr_plan *plan, int i, const char **name,
                                struct tsr_tensor_desc *desc);
/* Index of the plan's input / output called `name` (exact, case-sensitive) into *index.
 * Returns TSR_OK, TSR_E_INVALID_ARG (a NULL argument), TSR_E_NOT_FOUND (no such name; the
 * message names it and lists the plan's input / output names). Thread-safe (reads only). */
tsr_status tsr_plan_find_input(const tsr_plan *plan, const char *name, int *index);
tsr_status tsr_plan_find_output(const tsr_plan *plan, const char *name, int *index);
/* tsr_plan_run with inputs and outputs by name, as ONNX Runtime's Run: inputs[k] is the input
 * called input_names[k] (every input of the plan exactly once, in any order: n_inputs ==
 * tsr_plan_input_count); outputs[k] receives the output called output_names[k], any subset of
 * the outputs in any order (n_outputs >= 1, each name at most once), with outputs[k].data and
 * .desc as tsr_plan_run's outputs. The outputs not asked for are computed into buffers this
 * call allocates and frees (so a run with a subset allocates; tsr_plan_run does not). Returns
 * TSR_OK, TSR_E_INVALID_ARG (NULL arrays or names, a count that does not match, a name given
 * twice: the message names it), TSR_E_NOT_FOUND (a name that is not an input / output of the
 * plan: the message names it and lists the plan's names), TSR_E_NOMEM, and every status of
 * tsr_plan_run (and tsr_plan_specialize_inputs when outputs are left out of a plan with
 * symbolic inputs). Thread-safe as tsr_plan_run when every output is asked for or the plan has
 * no symbolic inputs; otherwise the shapes of the outputs left out are read from the plan's
 * current specialisation, which a concurrent run at other shapes may change (as
 * tsr_plan_output_desc). */
tsr_status tsr_plan_run_named(tsr_plan *plan, const char *const *input_names,
                              const struct tsr_tensor *inputs, size_t n_inputs,
                              const char *const *output_names, struct tsr_tensor *outputs,
                              size_t n_outputs);
/* Per-plan profiling switch (ONNX Runtime's session-level enable_profiling): whether the runs
 * of this plan record kernels, transfers and re-plans in the context's profiler. The values
 * are part of the ABI. */
typedef enum {
    TSR_PLAN_PROFILE_CONTEXT = 0, /* default: as the context (tsr_profiler_enable) */
    TSR_PLAN_PROFILE_ON = 1,      /* record this plan's runs even when the context does not */
    TSR_PLAN_PROFILE_OFF = 2      /* never record this plan's runs */
} tsr_plan_profiling;
/* Sets the plan's switch; it applies to the records made on the thread that calls tsr_plan_run
 * (all of them: kernels, transfers, the plan's pool growth and re-plans) from the next run on.
 * Returns TSR_OK, TSR_E_INVALID_ARG (NULL plan, mode out of range). Not thread-safe for one
 * plan (set it between runs). */
tsr_status tsr_plan_set_profiling(tsr_plan *plan, tsr_plan_profiling mode);
/* Device the plan runs on (after any fallback). */
tsr_status tsr_plan_device(const tsr_plan *plan, struct tsr_device_info *out);
/* Kernels launched per run (fused kernels count once; pure views such as Reshape count zero). */
int tsr_plan_kernel_count(const tsr_plan *plan);
/* Text explaining why the plan's device was chosen (owned by the plan). */
const char *tsr_plan_device_reason(const tsr_plan *plan);
/* Bytes of the plan's intermediate arena (host or device). */
size_t tsr_plan_arena_bytes(const tsr_plan *plan);

/* Memory plan of a plan's intermediates (bytes). The arena holds every intermediate at an
 * offset from liveness intervals; lower_bound is the most bytes simultaneously live (no plan of
 * these kernels can use less); unplanned is one buffer per intermediate. */
struct tsr_plan_memory {
    size_t arena_bytes;
    size_t lower_bound_bytes;
    size_t unplanned_bytes;
    int intermediates; /* number of intermediate buffers */
};
tsr_status tsr_plan_memory_info(const tsr_plan *plan, struct tsr_plan_memory *out);

/* One kernel of a plan, in execution order. Strings are owned by the plan. */
struct tsr_kernel_info {
    const char *name;   /* e.g. "conv_bias_residual_relu", "ew_mul_add_sigmoid" */
    const char *nodes;  /* the graph nodes fused into it, comma-separated */
    const char *device; /* device id, e.g. "cpu", "opencl:0" */
    int n_nodes;        /* number of graph nodes fused into it */
    uint64_t bytes;     /* bytes read + written per run (estimate) */
    uint64_t flops;     /* floating-point operations per run (with any fused epilogue) */
    /* Contraction kernels, from the kernel's geometry alone (no epilogue): contraction is
     * "gemm" (GEMM / MatMul / Gemm, batched or not) or "conv" (2-D convolution, grouped and
     * depthwise too), "" for every other kernel; core_flops is 2*batch*M*N*K for a GEMM and
     * 2*N*M*OH*OW*(C/group)*KH*KW for a convolution, 0 otherwise; geometry reads e.g.
     * "8x[128x384]x[384x1536]" or "N2 C6 9x9 -> M4 5x5 k3x3 s2 g2" ("" otherwise). */
    const char *contraction;
    uint64_t core_flops;
    char geometry[96];
};
/* Fills *out for kernel i (0 .. tsr_plan_kernel_count - 1). Returns TSR_OK or
 * TSR_E_INVALID_ARG. */
tsr_status tsr_plan_kernel_info(const tsr_plan *plan, int i, struct tsr_kernel_info *out);

/* ------------------------------------------------------------------------------------------ */
/* Dynamic shapes                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* A graph or plan input with its symbolic dims. Strings are owned by the graph / plan. */
struct tsr_input_info {
    const char *name;
    tsr_dtype dtype;
    int rank;
    int64_t dims[TSR_MAX_RANK];          /* the declared dims: -1 for a symbolic dim */
    const char *dim_names[TSR_MAX_RANK]; /* a symbolic dim's name ("batch"; "" when the file
                                            leaves the dim unnamed); NULL for a fixed dim */
    int n_symbolic;                      /* number of symbolic dims */
    struct tsr_tensor_desc desc;         /* the concrete shape the graph was built at (symbolic
                                            dims: 1 unless overridden) / the plan is specialised
                                            for now (tsr_plan_input_desc) */
    int is_value; /* 1: a value input (tsr_input_shape.data): its contents, not just its shape,
                     select the specialisation */
};
/* Fills *out for input i of the graph / plan. E.g. an ONNX input declared [batch, sequence] of
 * int64 gives rank 2, dims {-1, -1}, dim_names {"batch", "sequence"}. A graph built with the
 * builder API has no symbolic dims. Returns TSR_OK or TSR_E_INVALID_ARG. */
tsr_status tsr_graph_input_info(const tsr_graph *graph, int i, struct tsr_input_info *out);
tsr_status tsr_plan_input_info(const tsr_plan *plan, int i, struct tsr_input_info *out);

/* Makes the plan ready for inputs of the shapes `input_descs` (n_inputs entries, graph input
 * order), as XNNPACK's xnn_reshape_runtime does. A plan compiled from a graph with symbolic input
 * dims (an ONNX import) keeps the model bytes and the compile options; at new input shapes it
 * re-imports the model with those shapes as overrides (shape inference and shape-arithmetic
 * folding run again) and compiles it, the device chosen anew for the new sizes ("re-plan";
 * shown as a profiler record of kind TSR_EVENT_COMPILE named "replan [2, 128]", the input
 * shapes). The specialised plans are cached by input shapes: the one tsr_compile made is always
 * kept, up to TSR_PLAN_CACHE others (env, 1..64, default 8), the least recently used evicted, so
 * alternating shapes re-plans once per shape. Afterwards tsr_plan_input_desc / output_desc /
 * device / kernel_count / kernel_info / memory_info / device_reason / arena_bytes and the
 * predictions describe that specialisation (so a caller learns the output shapes before it
 * allocates), until the next tsr_plan_specialize or tsr_plan_run at other shapes, which
 * specialises the same way. A fixed (non-symbolic) dim must keep its declared value, and
 * symbolic dims of one name must agree across inputs. Returns TSR_OK, TSR_E_INVALID_ARG,
 * TSR_E_SHAPE / TSR_E_DTYPE (naming the input, its shape and the declared one, "[batch, 8]"),
 * and any status of tsr_onnx_import_buffer and tsr_compile for the new shapes (e.g. a model
 * that does not allow them: TSR_E_SHAPE naming the node). On a plan without symbolic inputs:
 * TSR_OK for its own shapes, else TSR_E_SHAPE. Thread-safe (also against tsr_plan_run on the
 * same plan); but which specialisation the query functions describe is the last one made
 * current by any thread, so with runs at other shapes in progress on other threads, query from
 * the thread that runs only when no other thread changes the shape. */
tsr_status tsr_plan_specialize(tsr_plan *plan, const struct tsr_tensor_desc *input_descs,
                               size_t n_inputs);
/* tsr_plan_specialize with the inputs themselves (n_inputs tensors, plan input order; read
 * during the call only): the shapes, and the contents of the *value inputs* (see
 * tsr_input_shape.data: inputs tessera needs as values, e.g. a Reshape's shape). A plan compiled
 * without those contents (imported without tsr_input_shape.data: deferred) knows its output
 * shapes only after this or a run; tsr_plan_specialize alone gives it TSR_E_INVALID_ARG. Each set
 * of value contents is one cache entry (TSR_PLAN_CACHE) holding a whole compiled plan: contents
 * that change at every run (or large ones, e.g. > 4096 elements, or float data feeding a kernel)
 * work but re-plan and cost a plan's memory each. Statuses: as tsr_plan_specialize, and those of
 * the model for bad contents (a wrong length, a negative dim, an axis out of range: the node's
 * message names it and the values). Not thread-safe for one plan. */
tsr_status tsr_plan_specialize_inputs(tsr_plan *plan, const struct tsr_tensor *inputs,
                                      size_t n_inputs);

/* Per-kernel verification (tsr_verify). */
struct tsr_verify_kernel {
    char name[64];      /* kernel name */
    char nodes[512];    /* graph nodes fused into it (truncated) */
    double max_abs_err; /* worst |kernel output - scalar reference|; NAN when not checkable */
    double max_ref;     /* largest |reference| of that output (for relative judgement) */
};

/* Compiles `graph` like tsr_compile (same options; allow_fallback is ignored: the device must
 * work), runs it once on `inputs` keeping every intermediate, and re-runs each kernel's graph
 * nodes — unfused — with the scalar reference (runtime/reference.c) on the inputs that kernel
 * actually read, so each kernel is judged alone. *out receives a malloc'ed array of *n_out
 * results in kernel order (free with free()). Returns TSR_OK, and every status of tsr_compile
 * and tsr_plan_run. */
tsr_status tsr_verify(tsr_context *ctx, const tsr_graph *graph,
                      const struct tsr_compile_options *opts, const struct tsr_tensor *inputs,
                      size_t n_inputs, struct tsr_verify_kernel **out, int *n_out);

/* ------------------------------------------------------------------------------------------ */
/* Profiler and memory statistics                                                              */
/* ------------------------------------------------------------------------------------------ */

/* What a profiler record times. Each kind is its own section of tsr_profiler_print_table and
 * its own category ("cat") in the Chrome trace. The values are part of the ABI. */
typedef enum {
    TSR_EVENT_KERNEL = 0,     /* one kernel of a plan (a group of fused graph nodes), one run */
    TSR_EVENT_TRANSFER = 1,   /* host<->device copy */
    TSR_EVENT_COMPILE = 2,    /* OpenCL program build or cache load; a re-plan ("replan [..]") */
    TSR_EVENT_ALLOC = 3,      /* pool growth (bytes = the block obtained from the system) */
    TSR_EVENT_CALIBRATION = 4 /* a device calibration measured during a compile or on request
                                 (name "calibrate", its probe runs are not recorded) */
} tsr_event_kind;
/* "kernel", "transfer", "compile", "alloc", "calibration"; "unknown" for another value. Static
 * storage; thread-safe. */
const char *tsr_event_kind_name(tsr_event_kind kind);

/* One timed record. Times are on the host monotonic clock (CLOCK_MONOTONIC, ns); OpenCL event
 * times are mapped onto it. Strings are owned by the profiler. */
struct tsr_profile_record {
    tsr_event_kind kind;
    const char *name;   /* kernel name, e.g. "gemm_bias_relu" */
    const char *nodes;  /* ONNX node names fused into it, comma-separated; "" if none */
    const char *device; /* device id: "cpu", "opencl:0" */
    int queue;          /* 0 for the CPU; OpenCL queue index */
    uint64_t start_ns;
    uint64_t end_ns;
    uint64_t bytes; /* bytes read + written (estimate for kernels, exact for transfers) */
    uint64_t flops; /* floating-point operations (multiply-add = 2) */
};

/* Turns recording on/off for ctx (off by default unless options.profile or TSR_PROFILE=1); a
 * plan's own switch (tsr_plan_set_profiling) overrides it for that plan's runs. Thread-safe. */
void tsr_profiler_enable(tsr_context *ctx, int on);
/* Discards all records and resets the dropped count. Thread-safe. */
void tsr_profiler_clear(tsr_context *ctx);
/* Number of records kept (<= tsr_profiler_capacity); record i (0 = the oldest kept .. count-1).
 * When the ring is full a new record replaces the oldest, so indices shift by one per dropped
 * record: read a consistent set while nothing records. tsr_profiler_get returns TSR_OK or
 * TSR_E_INVALID_ARG (NULL argument, i out of range). Thread-safe. */
size_t tsr_profiler_count(const tsr_context *ctx);
tsr_status tsr_profiler_get(const tsr_context *ctx, size_t i, struct tsr_profile_record *out);
/* Most records kept (struct tsr_context_options.profile_capacity); 0 for NULL. Thread-safe. */
size_t tsr_profiler_capacity(const tsr_context *ctx);
/* Records dropped (the oldest, replaced by newer ones) since the context was created or last
 * cleared; 0 for NULL. Thread-safe. */
uint64_t tsr_profiler_dropped(const tsr_context *ctx);
/* Prints the profile in sections, each only when it has records:
 *   kernels       one row per kernel of a plan (a group of fused graph nodes, keyed by kernel
 *                 name, node list and device, so two GEMM layers are two rows), sorted by total
 *                 time: the ONNX node names fused into it (a long list is cut to its first
 *                 names and "+N more"), device, runs, total / mean / max ms, share of the
 *                 kernels' total time (the shares sum to 100%), GFLOP/s, GB/s (bytes / time);
 *                 then a total row;
 *   transfers     by (name, device): count, total / mean / max ms, bytes (B/KiB/MiB/GiB), GB/s;
 *   compiles      program builds, cache loads, re-plans by (name, device): count, total / max ms;
 *   pool growth   by (name, device): count, total ms, bytes obtained (no rate);
 *   calibration   by device: count, total ms;
 * and a last line with the records kept, the capacity and, when the ring overflowed, the number
 * of records dropped. Returns TSR_OK, TSR_E_INVALID_ARG, TSR_E_NOMEM, TSR_E_IO (write failed).
 * Thread-safe (prints a snapshot). */
tsr_status tsr_profiler_print_table(const tsr_context *ctx, FILE *out);
/* Writes a Chrome trace (JSON object with "traceEvents", ph "X", ts/dur in µs, "cat" the kind's
 * tsr_event_kind_name, one process per device) that opens in Perfetto / chrome://tracing.
 * Returns TSR_OK, TSR_E_INVALID_ARG, TSR_E_NOMEM, TSR_E_IO (the message names path). */
tsr_status tsr_profiler_write_trace(const tsr_context *ctx, const char *path);

struct tsr_pool_stats {
    uint64_t bytes_in_use;   /* handed out now */
    uint64_t peak_bytes;     /* max of bytes_in_use */
    uint64_t bytes_reserved; /* obtained from the system / device and held by the pool */
    uint64_t allocs;         /* allocation requests served */
    uint64_t reuses;         /* requests served from a cached block (no system call) */
    uint64_t system_allocs;  /* requests that had to allocate from the system / device */
};
/* Pool statistics of device i (0 = CPU host pool; other devices: their backend's device pool).
 * Returns TSR_OK, TSR_E_INVALID_ARG, TSR_E_UNSUPPORTED (a backend that keeps no pool). */
tsr_status tsr_pool_get_stats(const tsr_context *ctx, int device, struct tsr_pool_stats *out);
/* Returns cached (free) blocks of device i's pool (0 = CPU host pool) to the system, largest
 * first, until at most keep_bytes (class sizes) stay cached; blocks in use by plans are never
 * touched, so plans keep running at full speed (a later compile or re-plan allocates anew).
 * keep_bytes 0 releases every cached block. *released_bytes (may be NULL) gets the bytes
 * released. ONNX Runtime's counterpart is arena shrinkage after a run. Returns TSR_OK,
 * TSR_E_INVALID_ARG (NULL ctx, index out of range), TSR_E_UNSUPPORTED (a backend that keeps no
 * pool). Thread-safe: may run while other threads compile and run plans. */
tsr_status tsr_pool_trim(tsr_context *ctx, int device, uint64_t keep_bytes,
                         uint64_t *released_bytes);

TSR_API_END
#ifdef __cplusplus
}
#endif

#endif /* TESSERA_H */
