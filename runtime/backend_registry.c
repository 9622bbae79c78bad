/*
 * backend_registry.c — the compiled-in backends (the only list of them), TSR_BACKENDS
 * selection, the device-string parser, and the defaults of the optional vtable members
 * (rules in runtime/backend.h).
 */
#include "runtime/backend.h"

#include "backends/cpu/cpu_backend.h"
#ifdef TSR_WITH_OPENCL
#include "backends/opencl/opencl_backend.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The registry: one line per backend, in default order, the host backend first. A backend's
 * folder declares its ops in its own header; its CMake option defines TSR_WITH_<NAME>. */
static const struct tsr_backend_ops *const g_backends[] = {
    &tsr_cpu_backend_ops,
#ifdef TSR_WITH_OPENCL
    &tsr_opencl_backend_ops,
#endif
};
#define TSR_N_BACKENDS ((int)(sizeof g_backends / sizeof g_backends[0]))
_Static_assert(TSR_N_BACKENDS <= TSR_MAX_BACKENDS, "raise TSR_MAX_BACKENDS");

int tsr_backend_registry_count(void) {
    return TSR_N_BACKENDS;
}

const struct tsr_backend_ops *tsr_backend_registry_get(int i) {
    return i >= 0 && i < TSR_N_BACKENDS ? g_backends[i] : NULL;
}

const struct tsr_backend_ops *tsr_backend_registry_find(const char *name, int len) {
    if (!name) return NULL;
    size_t n = len < 0 ? strlen(name) : (size_t)len;
    for (int i = 0; i < TSR_N_BACKENDS; i++)
        if (strlen(g_backends[i]->name) == n && !strncmp(g_backends[i]->name, name, n))
            return g_backends[i];
    return NULL;
}

const struct tsr_backend_ops *tsr_backend_registry_host(void) {
    for (int i = 0; i < TSR_N_BACKENDS; i++)
        if (g_backends[i]->host_memory) return g_backends[i];
    return g_backends[0];
}

char *tsr_backend_registry_names(char *buf, size_t size) {
    if (!buf || !size) return buf;
    buf[0] = '\0';
    size_t len = 0;
    for (int i = 0; i < TSR_N_BACKENDS && len + 1 < size; i++) {
        int n = snprintf(buf + len, size - len, "%s%s", i ? ", " : "", g_backends[i]->name);
        if (n < 0) break;
        len += (size_t)n;
    }
    return buf;
}

/* tsr_context_options.disable_opencl (kept for compatibility) excludes this backend. */
static int excluded_by_options(const struct tsr_backend_ops *ops,
                               const struct tsr_context_options *opts) {
    return opts && opts->disable_opencl && !strcmp(ops->name, "opencl");
}

/* Appends ops to out unless it is already there. */
static void add_once(const struct tsr_backend_ops **out, int *n,
                     const struct tsr_backend_ops *ops) {
    for (int i = 0; i < *n; i++)
        if (out[i] == ops) return;
    if (*n < TSR_MAX_BACKENDS) out[(*n)++] = ops;
}

tsr_status tsr_backend_registry_select(tsr_context *ctx, const char *list,
                                       const struct tsr_context_options *opts,
                                       const struct tsr_backend_ops **out, int *n_out) {
    int n = 0;
    add_once(out, &n, tsr_backend_registry_host());
    if (!list) {
        for (int i = 0; i < TSR_N_BACKENDS; i++)
            if (!excluded_by_options(g_backends[i], opts)) add_once(out, &n, g_backends[i]);
        *n_out = n;
        return TSR_OK;
    }
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        const char *end = e ? e : p + strlen(p);
        while (p < end && *p == ' ')
            p++;
        const char *q = end;
        while (q > p && q[-1] == ' ')
            q--;
        if (q > p) {
            const struct tsr_backend_ops *ops = tsr_backend_registry_find(p, (int)(q - p));
            if (!ops) {
                char known[128];
                return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                               "TSR_BACKENDS='%s': unknown backend '%.*s' (compiled in: %s)", list,
                               (int)(q - p), p, tsr_backend_registry_names(known, sizeof known));
            }
            if (!excluded_by_options(ops, opts)) add_once(out, &n, ops);
        }
        if (!e) break;
        p = e + 1;
    }
    *n_out = n;
    return TSR_OK;
}

int tsr_device_string_parse(const char *s, char *name, int *index) {
    if (!s || !name || !index) return -1;
    size_t n = 0;
    while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_')
        n++;
    if (n == 0 || n >= TSR_BACKEND_NAME_MAX || (s[n] != '\0' && s[n] != ':')) return -1;
    long v = 0;
    if (s[n] == ':') {
        const char *digits = s + n + 1;
        char *end = NULL;
        if (*digits < '0' || *digits > '9') return -1;
        v = strtol(digits, &end, 10);
        if (*end || v < 0 || v > 1000) return -1;
    }
    memcpy(name, s, n);
    name[n] = '\0';
    *index = (int)v;
    return 0;
}

tsr_kernel_dtypes_fn *tsr_backend_kernel_dtypes(const struct tsr_backend_ops *ops) {
    return ops && ops->kernel_dtypes ? ops->kernel_dtypes : tsr_kernel_dtypes_f32;
}

int tsr_backend_dtypes_supported(const struct tsr_backend_ops *ops, const struct tsr_program *prog,
                                 int kernel, char *why, size_t why_size) {
    if (why && why_size) why[0] = '\0';
    if (!prog || kernel < 0 || kernel >= prog->n_kernels) {
        if (why && why_size) snprintf(why, why_size, "no kernel %d", kernel);
        return 0;
    }
    return tsr_kernel_dtypes_why(prog, &prog->kernels[kernel], tsr_backend_kernel_dtypes(ops),
                                 ops ? ops->name : "?", why, why_size);
}

int tsr_backend_supports(const struct tsr_device *dev, const struct tsr_program *prog, int kernel,
                         char *why, size_t why_size) {
    if (why && why_size) why[0] = '\0';
    if (!dev || !dev->ops) return 1;
    if (!dev->ops->supports)
        return tsr_backend_dtypes_supported(dev->ops, prog, kernel, why, why_size);
    return dev->ops->supports(dev->state, dev->info.index, prog, kernel, why, why_size);
}

int tsr_backend_supports_program(const struct tsr_device *dev, const struct tsr_program *prog,
                                 char *why, size_t why_size) {
    if (why && why_size) why[0] = '\0';
    for (int k = 0; prog && k < prog->n_kernels; k++) {
        char r[256];
        if (tsr_backend_supports(dev, prog, k, r, sizeof r)) continue;
        if (why && why_size)
            snprintf(why, why_size, "kernel %d '%s': %s", k, prog->kernels[k].name,
                     r[0] ? r : "not supported");
        return k;
    }
    return -1;
}

tsr_status tsr_backend_calibrate(tsr_context *ctx, int d, struct tsr_calibration *out) {
    if (!ctx || d < 0 || d >= ctx->n_devices)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "calibrate: no device %d", d);
    const struct tsr_device *dev = &ctx->devices[d];
    if (!dev->ops->calibrate) return TSR_OK; /* no extras */
    return dev->ops->calibrate(ctx, dev->state, dev->info.index, out);
}

const char *tsr_backend_native_status_name(const struct tsr_backend_ops *ops, int code, char *buf,
                                           size_t size) {
    const char *s = ops && ops->native_status_name ? ops->native_status_name(code) : NULL;
    if (s) return s;
    if (buf && size) snprintf(buf, size, "native error %d", code);
    return buf;
}
