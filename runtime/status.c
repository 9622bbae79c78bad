/* status.c — the status list, error recording (per thread and per context) and logging. */
#include "runtime/internal.h"

#include <errno.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *tsr_status_name(tsr_status status) {
    switch (status) {
#define TSR_X_NAME(name, value, str)                                                               \
    case name:                                                                                     \
        return #name;
        TSR_STATUS_LIST(TSR_X_NAME)
#undef TSR_X_NAME
    }
    return "TSR_E_UNKNOWN";
}

const char *tsr_status_str(tsr_status status) {
    switch (status) {
#define TSR_X_STR(name, value, str)                                                                \
    case name:                                                                                     \
        return str;
        TSR_STATUS_LIST(TSR_X_STR)
#undef TSR_X_STR
    }
    return "unknown status";
}

const char *tsr_version(void) {
    return TSR_VERSION_STRING;
}

static _Thread_local struct tsr_error_slot tls_error;
/* Numbers every recorded error, so tsr_last_error(ctx) can tell which of the context's record and
 * this thread's context-free one is newer. */
static atomic_uint_fast64_t error_seq;

static void slot_fill(struct tsr_error_slot *slot, tsr_status status, const char *backend,
                      int native_code, const char *file, int line, const char *msg) {
    snprintf(slot->message, sizeof slot->message, "%s", msg);
    const char *base = strrchr(file, '/');
    snprintf(slot->file, sizeof slot->file, "%s", base ? base + 1 : file);
    snprintf(slot->backend, sizeof slot->backend, "%s", backend ? backend : "");
    slot->info.status = status;
    slot->info.backend = slot->backend;
    slot->info.native_code = native_code;
    slot->info.message = slot->message;
    slot->info.file = slot->file;
    slot->info.line = line;
}

tsr_status tsr_error_set(tsr_context *ctx, tsr_status status, const char *backend, int native_code,
                         const char *file, int line, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    uint64_t seq = atomic_fetch_add(&error_seq, 1) + 1;
    slot_fill(&tls_error, status, backend, native_code, file, line, msg);
    tls_error.seq = seq;
    tls_error.ctx = ctx;
    if (ctx) {
        pthread_mutex_lock(&ctx->mutex);
        slot_fill(&ctx->err, status, backend, native_code, file, line, msg);
        ctx->err.seq = seq;
        pthread_mutex_unlock(&ctx->mutex);
    }
    tsr_log(ctx, TSR_LOG_DEBUG, "%s: %s (%s:%d)", tsr_status_name(status), msg, tls_error.file,
            line);
    return status;
}

void tsr_error_clear(tsr_context *ctx) {
    memset(&tls_error.info, 0, sizeof tls_error.info);
    if (ctx) {
        pthread_mutex_lock(&ctx->mutex);
        memset(&ctx->err.info, 0, sizeof ctx->err.info);
        pthread_mutex_unlock(&ctx->mutex);
    }
}

/* This thread's copy of the last context record it asked for (tsr_last_error(ctx)). */
static _Thread_local struct tsr_error_slot tls_ctx_copy;

const struct tsr_error_info *tsr_last_error(const tsr_context *ctx) {
    static const struct tsr_error_info none = {TSR_OK, "", 0, "", "", 0};
    const struct tsr_error_slot *slot = &tls_error;
    if (ctx) {
        /* Any thread may record on ctx at any time (under ctx->mutex): hand out a copy taken
         * under the lock, so the caller reads one whole record that no other thread writes. */
        pthread_mutex_t *mu = (pthread_mutex_t *)&ctx->mutex;
        pthread_mutex_lock(mu);
        tls_ctx_copy = ctx->err;
        pthread_mutex_unlock(mu);
        if (tls_ctx_copy.info.message) {
            tls_ctx_copy.info.message = tls_ctx_copy.message;
            tls_ctx_copy.info.file = tls_ctx_copy.file;
            tls_ctx_copy.info.backend = tls_ctx_copy.backend;
        }
        slot = &tls_ctx_copy;
        /* This thread failed later in a call without a context: that error is the newer one. */
        if (tls_error.info.message && tls_error.ctx == NULL && tls_error.seq > tls_ctx_copy.seq)
            slot = &tls_error;
    }
    if (slot->info.message == NULL) return &none;
    return &slot->info;
}

const char *tsr_getenv(const char *name) {
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

int64_t tsr_env_limit(const tsr_context *ctx, const char *name, int64_t dflt) {
    const char *v = tsr_getenv(name);
    if (!v) return dflt;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || !end || *end || n <= 0) {
        tsr_log(ctx, TSR_LOG_WARN, "%s='%s': expected a positive integer; using %lld", name, v,
                (long long)dflt);
        return dflt;
    }
    return (int64_t)n;
}

/* Writes one line to ctx's callback, else to stderr. */
static void emit(const tsr_context *ctx, tsr_log_level level, const char *msg) {
    static const char *const names[] = {"info", "error", "warning", "info", "debug"};
    if (ctx && ctx->log_fn) {
        ctx->log_fn(ctx->log_user, level, msg);
        return;
    }
    fprintf(stderr, "tessera: %s: %s\n", names[level >= 1 && level <= 4 ? level : 0], msg);
}

static tsr_log_level env_log_level(const tsr_context *ctx) {
    const char *v = tsr_getenv("TSR_LOG");
    if (!v) return TSR_LOG_DEFAULT;
    if (!strcmp(v, "warn") || !strcmp(v, "warning")) return TSR_LOG_WARN;
    if (!strcmp(v, "error")) return TSR_LOG_ERROR;
    if (!strcmp(v, "info")) return TSR_LOG_INFO;
    if (!strcmp(v, "debug")) return TSR_LOG_DEBUG;
    static atomic_int warned; /* once per process, whatever the number of contexts */
    if (!atomic_exchange(&warned, 1)) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "TSR_LOG='%s' ignored (expected error, warn, info or debug); using warn", v);
        emit(ctx, TSR_LOG_WARN, msg);
    }
    return TSR_LOG_DEFAULT;
}

static void vlog(const tsr_context *ctx, tsr_log_level level, const char *fmt, va_list ap) {
    char msg[1200];
    vsnprintf(msg, sizeof msg, fmt, ap);
    emit(ctx, level, msg);
}

void tsr_log(const tsr_context *ctx, tsr_log_level level, const char *fmt, ...) {
    tsr_log_level limit = ctx ? ctx->log_level : env_log_level(NULL);
    if (limit == TSR_LOG_DEFAULT) limit = TSR_LOG_WARN;
    if (level > limit) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(ctx, level, fmt, ap);
    va_end(ap);
}

void tsr_log_announce(const tsr_context *ctx, const char *fmt, ...) {
    tsr_log_level limit = ctx ? ctx->log_level : env_log_level(NULL);
    int announce = ctx ? ctx->log_announce : limit == TSR_LOG_DEFAULT;
    if (!announce && limit < TSR_LOG_INFO) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(ctx, TSR_LOG_INFO, fmt, ap);
    va_end(ap);
}

tsr_log_level tsr_log_level_from_env(const tsr_context *ctx) {
    return env_log_level(ctx);
}

const char *tsr_context_cache_dir(const tsr_context *ctx) {
    if (ctx && ctx->cache_dir[0]) return ctx->cache_dir;
    return tsr_getenv("TSR_CACHE_DIR");
}

uint64_t tsr_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void *tsr_aligned_alloc(size_t bytes) {
    void *p = NULL;
    if (bytes == 0) bytes = 64;
    if (posix_memalign(&p, 64, (bytes + 63) & ~(size_t)63) != 0) return NULL;
    return p;
}

void tsr_aligned_free(void *p) {
    free(p);
}

char *tsr_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
