/*
 * backend.h — what a backend is: the vtable every backend fills (struct tsr_backend_ops), the
 * registry that lists the compiled-in backends (runtime/backend_registry.c), and what the core
 * asks of a context's backends (the device entry itself, struct tsr_device, is in
 * runtime/internal.h). The core (runtime/, scheduler/) reaches a
 * backend only through this header; it never names one.
 *
 * Life of a backend in a context (runtime/context.c):
 *   1. The registry lists the compiled-in backends in their default order (cpu, then opencl).
 *      TSR_BACKENDS orders and limits them; the host backend (the first registered backend
 *      with host_memory = 1) is always created and always first, because it is the fallback
 *      target and its memory is where a plan's inputs and outputs live.
 *   2. create(ctx, opts, &state) once per context; then device_count(state) devices, each
 *      described by device_info(state, ctx, i, &info). The context numbers devices across
 *      backends (tsr_device_count), writes info.backend (the backend's name), info.index (the
 *      device's index within the backend: the "local index"), info.host_memory and info.id,
 *      then asks the
 *      scheduler for property-based estimates (tsr_sched_fill_estimates) and applies cached
 *      calibrations.
 *   3. Per plan: prepare / execute / release (the per-plan contract below).
 *   4. destroy(state) when the context goes.
 *
 * Device ids are "<backend>[:N]" (N the local index, "<backend>" alone = N 0); the context
 * writes "<backend>" for a backend with single_device = 1 ("cpu") and "<backend>:N" otherwise
 * ("opencl:0"). tsr_device_string_parse is the one parser of such strings (tsr_device_find,
 * hence tsr_compile_options.device, TSR_DEVICE, --device, use it).
 *
 * How to add a backend: docs/ARCHITECTURE.md, "How to add a backend".
 */
#ifndef TSR_RUNTIME_BACKEND_H
#define TSR_RUNTIME_BACKEND_H

#include "runtime/program.h"

#include <stddef.h>

struct tsr_calibration; /* runtime/calibration.h */

/* Longest backend name plus its NUL (struct tsr_device_info.backend holds one). */
#define TSR_BACKEND_NAME_MAX 16

/*
 * A backend. Fill it with designated initialisers; members are grouped as required and
 * optional. `state` is what create returned (the backend's context-level object); `device` is
 * always the local index (0 .. device_count - 1) unless said otherwise.
 *
 * Thread safety: a context may be shared by threads (tessera.h), so prepare, device_info,
 * pool_stats, supports and calibrate may run concurrently for different plans; execute and
 * release are called by one thread at a time per executable.
 */
struct tsr_backend_ops {
    /* ---- required ------------------------------------------------------------------------ */

    /* Registry name: lower case [a-z0-9_], shorter than TSR_BACKEND_NAME_MAX ("cpu",
     * "opencl"). It is the device-id prefix, the TSR_BACKENDS word, struct
     * tsr_device_info.backend, struct tsr_error_info.backend, and the first field of the
     * calibration cache key (so renaming a backend invalidates its cached calibrations). */
    const char *name;

    /* 1 when the backend computes in host memory: no copies to or from a device, and
     * pool_stats defaults to the host pool. The first registered such backend is the host
     * backend: always created, first in the device list (device 0), and the target of a
     * fallback when another device fails (tsr_context_host_device). */
    int host_memory;

    /* 1 when the backend has at most one device, whose id is the bare name ("cpu"); 0 when ids
     * are "<name>:<N>" ("opencl:0"). */
    int single_device;

    /* Creates the backend's context-level state (discovery, thread pools, queues ...) for ctx
     * (topology, profiler and host pool already exist; ctx->devices does not yet). opts is
     * never NULL (the context's options after environment overrides). Finding no device (no
     * driver, no platform) is not an error: return TSR_OK with a state whose device_count is 0
     * (the state may be NULL then), and log why at info level. Returns TSR_OK, TSR_E_NOMEM, or
     * another status that makes tsr_context_create fail (error recorded on ctx). */
    tsr_status (*create)(tsr_context *ctx, const struct tsr_context_options *opts, void **state);

    /* Frees the state (after every plan of the context is gone). NULL is a no-op. */
    void (*destroy)(void *state);

    /* Number of devices of this backend in `state` (0 for a NULL state). */
    int (*device_count)(const void *state);

    /* Fills *out for device `device`: name, vendor, driver_version, platform, device_type,
     * isa, compute_units, max_clock_mhz, global_mem_bytes, max_alloc_bytes, numa_node,
     * locality (tessera.h documents each). The context overwrites backend, index, host_memory
     * and id afterwards and the scheduler fills est_*; out is zeroed (numa_node -1) before the
     * call. */
    void (*device_info)(void *state, tsr_context *ctx, int device, struct tsr_device_info *out);

    /* Per-plan contract.
     *
     * prepare: makes an executable for local device `device` from `prog` (runtime/program.h);
     *   the program outlives the executable. The backend reaches its state with
     *   tsr_backend_state(ctx, &<its ops>). Allocates the arena from the device's pool, uploads
     *   constants, builds or picks kernels. Returns TSR_OK, TSR_E_INVALID_ARG (malformed
     *   program, no such device), TSR_E_NOMEM, TSR_E_DEVICE, TSR_E_DEVICE_NOMEM, TSR_E_BUILD,
     *   TSR_E_UNSUPPORTED (error recorded on ctx; a failed native call with TSR_ERR_NATIVE).
     *   TSR_E_DEVICE, TSR_E_DEVICE_NOMEM and TSR_E_BUILD are "device failures": the runtime may
     *   then fall back to the host device.
     * execute: one run. inputs / outputs are indexed like prog->input_buffers /
     *   output_buffers and have been validated (dtype, shapes equal). Blocks until the outputs
     *   are in host memory. Records a profiler event per kernel and transfer when the profiler
     *   is on. Allocates nothing in steady state. Returns TSR_OK, TSR_E_DEVICE,
     *   TSR_E_DEVICE_NOMEM (device failures, as above).
     * release: frees the executable (memory back to the pools). NULL is a no-op. */
    tsr_status (*prepare)(tsr_context *ctx, int device, const struct tsr_program *prog,
                          void **exec);
    tsr_status (*execute)(void *exec, const struct tsr_tensor *inputs, struct tsr_tensor *outputs);
    void (*release)(void *exec);

    /* ---- optional: NULL means the documented default ------------------------------------- */

    /* Name in prose for messages ("OpenCL"). Default: name. */
    const char *display_name;

    /* Memory-pool statistics of device `device`. Returns TSR_OK or TSR_E_INVALID_ARG.
     * Default: the host pool's figures for a host_memory backend, else TSR_E_UNSUPPORTED. */
    tsr_status (*pool_stats)(void *state, int device, struct tsr_pool_stats *out);

    /* Returns cached (free) blocks of device `device`'s pool to the system until at most keep
     * bytes stay cached (tessera.h, tsr_pool_trim); *released (never NULL) gets the bytes.
     * Thread-safe. Returns TSR_OK or TSR_E_INVALID_ARG. Default: the host pool for a
     * host_memory backend, else TSR_E_UNSUPPORTED. */
    tsr_status (*pool_trim)(void *state, int device, uint64_t keep, uint64_t *released);

    /* The dtypes the backend has kernels for, per kernel kind (runtime/program.h,
     * tsr_kernel_dtypes_fn). Its prepare refuses other kernels (tsr_program_check_dtypes with
     * this same function) and the default supports asks it. Default:
     * tsr_kernel_dtypes_f32 (float32 for every kind). */
    tsr_kernel_dtypes_fn *kernel_dtypes;

    /* Whether device `device` can run kernel `kernel` of prog (kernel kind, dtype, sizes). On 0
     * it writes a short reason into why (why_size bytes, NUL-terminated; why may be NULL).
     * Returns 1 or 0. The scheduler asks it before choosing a device or placing a kernel
     * (scheduler/select.c, scheduler/place.c, runtime/plan.c), so a device that cannot run a
     * kernel is skipped, with the reason in the plan's device reason, rather than failing in
     * prepare. A backend's supports replaces the default and should include it
     * (tsr_backend_dtypes_supported). Default: the dtype check, tsr_kernel_dtypes_ok with
     * kernel_dtypes. */
    int (*supports)(void *state, int device, const struct tsr_program *prog, int kernel, char *why,
                    size_t why_size);

    /* Backend-specific calibration extras: the figures of runtime/calibration.h that no probe
     * program can measure. Every other figure is measured by the scheduler's backend-neutral
     * probe programs through this backend's prepare / execute / release
     * (scheduler/calib_probe.c), so a backend needs no calibration code of its own. Called after
     * the probes, with *out holding their figures, while the scheduler holds its measurement
     * lock; writes only its own fields (OpenCL: h2d_gbps, d2h_gbps, h2d_small_gbps,
     * d2h_small_gbps, latency_us). Returns TSR_OK, TSR_E_NOMEM, or a device status
     * (TSR_E_DEVICE, TSR_E_DEVICE_NOMEM, TSR_E_BUILD). Default: no extras (those fields stay 0,
     * right for a host_memory backend). */
    tsr_status (*calibrate)(tsr_context *ctx, void *state, int device, struct tsr_calibration *out);

    /* Symbolic name of one of the backend's native error codes ("CL_OUT_OF_RESOURCES"), static
     * storage. Default: tsr_backend_native_status_name writes "native error N". */
    const char *(*native_status_name)(int code);
};

/* ---- the registry (backend_registry.c) ------------------------------------------------------ */

/* Number of compiled-in backends (>= 1) and backend i (0 .. count-1) in default order: the host
 * backend first. Static storage. */
int tsr_backend_registry_count(void);
const struct tsr_backend_ops *tsr_backend_registry_get(int i);

/* The compiled-in backend called `name` (len characters of it; len < 0: up to the NUL), or
 * NULL. */
const struct tsr_backend_ops *tsr_backend_registry_find(const char *name, int len);

/* The host backend: the first compiled-in backend with host_memory = 1 (never NULL: the build
 * guarantees one). */
const struct tsr_backend_ops *tsr_backend_registry_host(void);

/* Writes "cpu, opencl" (the compiled-in names, comma-separated) into buf (NUL-terminated,
 * truncated to size). Returns buf. */
char *tsr_backend_registry_names(char *buf, size_t size);

/* The backends a context creates, in order, into out[0 .. *n_out - 1] (at most
 * TSR_MAX_BACKENDS): the host backend first, then the others in the order of `list` (a comma
 * list like TSR_BACKENDS: names, optional spaces, empty items ignored, a repeated name counts
 * once; the host backend may be listed or not, it is always created), or in registry order
 * when list is NULL. opts->disable_opencl (tessera.h) excludes the backend named opencl.
 * Returns TSR_OK, or TSR_E_INVALID_ARG for a name that is not a compiled-in backend (message
 * on ctx lists the known names). */
tsr_status tsr_backend_registry_select(tsr_context *ctx, const char *list,
                                       const struct tsr_context_options *opts,
                                       const struct tsr_backend_ops **out, int *n_out);

/* Parses a device string "<backend>[:N]" ("cpu", "opencl", "opencl:1"): the backend name into
 * name (TSR_BACKEND_NAME_MAX bytes) and N into *index (0 when absent). Only the syntax is
 * checked (name of [a-z0-9_], shorter than TSR_BACKEND_NAME_MAX; N decimal 0..1000 with nothing
 * after it), not whether such a backend or device exists. Returns 0, or -1 for bad syntax. */
int tsr_device_string_parse(const char *s, char *name, int *index);

/* ---- defaults of the optional members (backend_registry.c; pool_stats, pool_trim:
 * runtime/pool.c, tsr_pool_get_stats and tsr_pool_trim)
 * ------------------------------------------------------------------------- */

/* The default of ops->supports: kernel `kernel` of prog against ops->kernel_dtypes (or
 * tsr_kernel_dtypes_f32) by tsr_kernel_dtypes_why. Returns 1 or 0 (why as for supports; 0 also
 * for a kernel index outside prog). Pure; thread-safe. */
int tsr_backend_dtypes_supported(const struct tsr_backend_ops *ops, const struct tsr_program *prog,
                                 int kernel, char *why, size_t why_size);

/* The dtypes function of ops: ops->kernel_dtypes, or tsr_kernel_dtypes_f32. */
tsr_kernel_dtypes_fn *tsr_backend_kernel_dtypes(const struct tsr_backend_ops *ops);

/* Whether context device dev can run kernel `kernel` of prog: ops->supports, or the default
 * (tsr_backend_dtypes_supported). why as for supports. Returns 1 or 0. Thread-safe. */
int tsr_backend_supports(const struct tsr_device *dev, const struct tsr_program *prog, int kernel,
                         char *why, size_t why_size);

/* Whether dev can run every kernel of prog: -1 when it can, else the index of the first kernel
 * it cannot run, with "kernel <i> '<name>': <reason>" in why (why_size bytes; may be NULL).
 * Thread-safe. */
int tsr_backend_supports_program(const struct tsr_device *dev, const struct tsr_program *prog,
                                 char *why, size_t why_size);

/* ops->calibrate of context device d (the backend's calibration extras), or TSR_OK with *out
 * untouched when the backend has none. Returns TSR_E_INVALID_ARG (no device d) or what
 * calibrate returns. */
tsr_status tsr_backend_calibrate(tsr_context *ctx, int d, struct tsr_calibration *out);

/* Symbolic name of `code` for `ops` (ops->native_status_name), else "native error <code>"
 * written into buf (size bytes). Returns the static name or buf. */
const char *tsr_backend_native_status_name(const struct tsr_backend_ops *ops, int code, char *buf,
                                           size_t size);

/* ---- the backends of a context (context.c) -------------------------------------------------- */

/* The state that ops->create returned in ctx, or NULL when that backend was not created in ctx
 * (excluded by TSR_BACKENDS or options) or created no state. Thread-safe. */
void *tsr_backend_state(const tsr_context *ctx, const struct tsr_backend_ops *ops);

/* Index into ctx->devices of the host device (the first device of the host backend): the target
 * of a fallback. 0 in every context today (the host backend comes first). */
int tsr_context_host_device(const tsr_context *ctx);

#endif
