/*
 * metrics.c — the server's counters, histograms and gauges (serve.h), rendered in the Prometheus
 * text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
 */
#include "serve.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ENDPOINTS[] = {"infer", "metadata", "health", "metrics", "other"};
#define N_ENDPOINTS 5
static const int CODES[] = {200, 400, 404, 405, 413, 500, 503};
#define N_CODES 7
/* Latency buckets (seconds) and batch-size buckets (rows): upper bounds, +Inf implied. */
static const double LATENCY_LE[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                    0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
#define N_LATENCY (sizeof LATENCY_LE / sizeof LATENCY_LE[0])
static const double BATCH_LE[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
#define N_BATCH (sizeof BATCH_LE / sizeof BATCH_LE[0])

struct tsv_metrics {
    pthread_mutex_t lock;
    char device[32];
    uint64_t requests[N_ENDPOINTS][N_CODES + 1]; /* last column: other codes */
    uint64_t latency[N_LATENCY + 1];             /* per bucket (not cumulative); last: +Inf */
    double latency_sum;
    uint64_t latency_count;
    uint64_t batch[N_BATCH + 1];
    double batch_sum;
    uint64_t batch_count;
    int64_t queue;
    int64_t in_flight;
    uint64_t rejected;
};

tsv_metrics *tsv_metrics_create(const char *device) {
    tsv_metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->lock, NULL);
    snprintf(m->device, sizeof m->device, "%s", device);
    return m;
}

void tsv_metrics_destroy(tsv_metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static size_t bucket(const double *le, size_t n, double v) {
    size_t b = 0;
    while (b < n && v > le[b])
        b++;
    return b;
}

void tsv_metrics_request(tsv_metrics *m, const char *endpoint, int code, double seconds) {
    size_t e = N_ENDPOINTS - 1, c = N_CODES;
    for (size_t i = 0; i < N_ENDPOINTS; i++)
        if (!strcmp(ENDPOINTS[i], endpoint)) e = i;
    for (size_t i = 0; i < N_CODES; i++)
        if (CODES[i] == code) c = i;
    pthread_mutex_lock(&m->lock);
    m->requests[e][c]++;
    if (e == 0) {
        m->latency[bucket(LATENCY_LE, N_LATENCY, seconds)]++;
        m->latency_sum += seconds;
        m->latency_count++;
    }
    pthread_mutex_unlock(&m->lock);
}

void tsv_metrics_batch(tsv_metrics *m, int64_t rows) {
    pthread_mutex_lock(&m->lock);
    m->batch[bucket(BATCH_LE, N_BATCH, (double)rows)]++;
    m->batch_sum += (double)rows;
    m->batch_count++;
    pthread_mutex_unlock(&m->lock);
}

void tsv_metrics_queue(tsv_metrics *m, int delta) {
    pthread_mutex_lock(&m->lock);
    m->queue += delta;
    pthread_mutex_unlock(&m->lock);
}

void tsv_metrics_in_flight(tsv_metrics *m, int delta) {
    pthread_mutex_lock(&m->lock);
    m->in_flight += delta;
    pthread_mutex_unlock(&m->lock);
}

void tsv_metrics_reject(tsv_metrics *m) {
    pthread_mutex_lock(&m->lock);
    m->rejected++;
    pthread_mutex_unlock(&m->lock);
}

struct text {
    char *buf;
    size_t len, cap;
    int oom;
};

static void emit(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct text *t, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = t->oom ? 0 : vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (t->oom || n < 0) {
            t->oom = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->oom = 1;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
}

static void histogram(struct text *t, const char *name, const char *help, const double *le,
                      size_t n, const uint64_t *counts, double sum, uint64_t count) {
    emit(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t b = 0; b < n; b++) {
        cum += counts[b];
        emit(t, "%s_bucket{le=\"%g\"} %llu\n", name, le[b], (unsigned long long)cum);
    }
    cum += counts[n];
    emit(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name,
         (unsigned long long)cum, name, sum, name, (unsigned long long)count);
}

char *tsv_metrics_render(tsv_metrics *m, const struct tsr_batcher_stats *bs) {
    struct text t = {malloc(4096), 0, 4096, 0};
    if (!t.buf) return NULL;
    pthread_mutex_lock(&m->lock);
    emit(&t, "# HELP tessera_requests_total HTTP requests answered, by endpoint and status "
             "code.\n# TYPE tessera_requests_total counter\n");
    for (size_t e = 0; e < N_ENDPOINTS; e++)
        for (size_t c = 0; c <= N_CODES; c++) {
            /* infer's rows are all there from the start (rates need a series at 0); the other
             * endpoints' appear when they occur */
            if ((c == N_CODES || e != 0) && !m->requests[e][c]) continue;
            if (c == N_CODES)
                emit(&t, "tessera_requests_total{endpoint=\"%s\",code=\"other\"} %llu\n",
                     ENDPOINTS[e], (unsigned long long)m->requests[e][c]);
            else
                emit(&t, "tessera_requests_total{endpoint=\"%s\",code=\"%d\"} %llu\n", ENDPOINTS[e],
                     CODES[c], (unsigned long long)m->requests[e][c]);
        }
    histogram(&t, "tessera_request_duration_seconds",
              "Latency of infer requests, first byte handled to response queued.", LATENCY_LE,
              N_LATENCY, m->latency, m->latency_sum, m->latency_count);
    uint64_t batch[N_BATCH + 1];
    double batch_sum = m->batch_sum;
    uint64_t batch_count = m->batch_count;
    memcpy(batch, m->batch, sizeof batch);
    for (int k = 1; bs && k < TSR_BATCHER_HIST; k++) { /* the batcher's batches of k rows */
        int64_t n = bs->batch_hist[k];
        if (!n) continue;
        batch[bucket(BATCH_LE, N_BATCH, (double)k)] += (uint64_t)n;
        batch_sum += (double)k * (double)n; /* (the last bin: at least that many rows) */
        batch_count += (uint64_t)n;
    }
    histogram(&t, "tessera_batch_size", "Rows (dim 0) of each batch run on a device.", BATCH_LE,
              N_BATCH, batch, batch_sum, batch_count);
    emit(&t,
         "# HELP tessera_queue_depth Infer requests admitted and not yet answered, by device.\n"
         "# TYPE tessera_queue_depth gauge\ntessera_queue_depth{device=\"%s\"} %lld\n",
         m->device, (long long)m->queue);
    emit(&t,
         "# HELP tessera_requests_in_flight HTTP requests being handled (headers received, "
         "response not yet sent), this one included.\n"
         "# TYPE tessera_requests_in_flight gauge\ntessera_requests_in_flight %lld\n",
         (long long)m->in_flight);
    emit(&t,
         "# HELP tessera_rejected_total Infer requests refused with 503 (queue full).\n"
         "# TYPE tessera_rejected_total counter\ntessera_rejected_total %llu\n",
         (unsigned long long)m->rejected);
    pthread_mutex_unlock(&m->lock);
    if (bs) {
        emit(&t,
             "# HELP tessera_batcher_queue_depth Requests in the batcher's queue, not yet "
             "dispatched to a device.\n# TYPE tessera_batcher_queue_depth gauge\n"
             "tessera_batcher_queue_depth %lld\n",
             (long long)bs->queue_depth);
        emit(&t,
             "# HELP tessera_batcher_max_batch The batch cap now, rows (--max-batch, or where "
             "adaptive mode has moved it).\n# TYPE tessera_batcher_max_batch gauge\n"
             "tessera_batcher_max_batch %d\n"
             "# HELP tessera_batcher_wait_seconds The longest wait to fill a batch now "
             "(--max-wait-us, or where adaptive mode has moved it).\n"
             "# TYPE tessera_batcher_wait_seconds gauge\ntessera_batcher_wait_seconds %.6f\n",
             bs->cur_max_batch, (double)bs->cur_wait_us * 1e-6);
        emit(&t, "# HELP tessera_batcher_device_queued_batches Batches handed to the device, not "
                 "yet finished.\n# TYPE tessera_batcher_device_queued_batches gauge\n");
        for (int d = 0; d < bs->n_devices; d++)
            emit(&t, "tessera_batcher_device_queued_batches{device=\"%s\"} %lld\n",
                 bs->devices[d].id, (long long)bs->devices[d].queued);
        emit(&t, "# HELP tessera_batcher_device_batches_total Batches run on the device.\n"
                 "# TYPE tessera_batcher_device_batches_total counter\n");
        for (int d = 0; d < bs->n_devices; d++)
            emit(&t, "tessera_batcher_device_batches_total{device=\"%s\"} %lld\n",
                 bs->devices[d].id, (long long)bs->devices[d].batches);
    }
    if (t.oom) {
        free(t.buf);
        return NULL;
    }
    return t.buf;
}
