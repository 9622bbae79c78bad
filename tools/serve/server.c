/*
 * server.c — the HTTP daemon of `tessera serve` (serve.h) on libmicrohttpd: one thread per
 * connection (MHD_USE_THREAD_PER_CONNECTION), so an infer request runs tsr_plan_run on its
 * connection's thread, on the one shared plan (concurrent runs of one plan are safe: tessera.h).
 *
 * Routes (KServe v2): GET /v2/health/live, /v2/health/ready, /v2, /v2/models/NAME,
 * /v2/models/NAME/ready, POST /v2/models/NAME/infer; GET /metrics (Prometheus text).
 *
 * Output shapes of a plan with symbolic inputs depend on the input shapes, and the plan's query
 * functions describe its current specialisation, which any run at other shapes changes. So the
 * output descs are looked up by input shapes in a small table; a miss specialises and reads
 * them under the write side of `shape_lock`, which every run holds for reading (no run changes
 * the current specialisation during the query). The compiled shapes are in the table from the
 * start.
 */
#include "serve.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SHAPE_CACHE 16

struct shape_entry {
    int used;
    uint64_t stamp;
    struct tsr_tensor_desc in[TSV_MAX_IO], out[TSV_MAX_IO];
};

struct tsv_server {
    struct MHD_Daemon *daemon;
    struct tsv_options opts;
    struct tsv_model model;
    tsr_plan *plan;
    tsv_metrics *metrics;
    int port;
    atomic_int active;   /* requests whose handling began and whose response is not yet sent */
    atomic_int queued;   /* infer requests admitted and not yet answered */
    atomic_int draining; /* set by tsv_server_stop: responses carry Connection: close */
    pthread_rwlock_t shape_lock;
    pthread_mutex_t cache_lock;
    struct shape_entry cache[SHAPE_CACHE];
    uint64_t clock;
};

/* Per-request state (MHD's con_cls). */
struct request {
    double start;
    char *body;
    size_t len, cap;
    int too_large;
    int answered; /* a response is queued */
    int admitted; /* an infer request holding a place in the queue (until completed) */
    int rejected; /* an infer request that found the queue full: 503 once its body is read */
};

/* The part of url after /v2/models/NAME[/versions/1] when it names the served model, else
 * NULL ("/infer", "/ready", "" ...). */
static const char *model_path(const tsv_server *s, const char *url) {
    size_t nl = strlen(s->model.name);
    if (strncmp(url, "/v2/models/", 11) || strncmp(url + 11, s->model.name, nl)) return NULL;
    const char *rest = url + 11 + nl;
    if (*rest && *rest != '/') return NULL; /* another model whose name starts with ours */
    if (!strncmp(rest, "/versions/1", 11) && (!rest[11] || rest[11] == '/')) rest += 11;
    return rest;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int desc_equal(const struct tsr_tensor_desc *a, const struct tsr_tensor_desc *b) {
    if (a->dtype != b->dtype || a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

/* Output descs for the inputs' shapes into out. 0, or an HTTP status with the reason in err. */
static int output_descs(tsv_server *s, const struct tsr_tensor *in, struct tsr_tensor_desc *out,
                        char *err, size_t err_size) {
    int n_in = s->model.n_inputs, n_out = s->model.n_outputs;
    pthread_mutex_lock(&s->cache_lock);
    for (int e = 0; e < SHAPE_CACHE; e++) {
        struct shape_entry *c = &s->cache[e];
        int hit = c->used;
        for (int i = 0; hit && i < n_in; i++)
            hit = desc_equal(&c->in[i], &in[i].desc);
        if (hit) {
            memcpy(out, c->out, sizeof(struct tsr_tensor_desc) * (size_t)n_out);
            c->stamp = ++s->clock;
            pthread_mutex_unlock(&s->cache_lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&s->cache_lock);
    struct tsr_tensor_desc descs[TSV_MAX_IO];
    for (int i = 0; i < n_in; i++)
        descs[i] = in[i].desc;
    pthread_rwlock_wrlock(&s->shape_lock);
    tsr_status st = tsr_plan_specialize(s->plan, descs, (size_t)n_in);
    for (int i = 0; st == TSR_OK && i < n_out; i++)
        st = tsr_plan_output_desc(s->plan, i, NULL, &out[i]);
    pthread_rwlock_unlock(&s->shape_lock);
    if (st != TSR_OK) {
        const struct tsr_error_info *e = tsr_last_error(NULL);
        snprintf(err, err_size, "%s", e->message && *e->message ? e->message : tsr_status_str(st));
        return st == TSR_E_NOMEM || st == TSR_E_INTERNAL ? 500 : 400;
    }
    pthread_mutex_lock(&s->cache_lock);
    int victim = 0; /* the first free entry, else the least recently used (entry 0 is pinned) */
    for (int e = 1; e < SHAPE_CACHE; e++) {
        if (!s->cache[e].used) {
            victim = e;
            break;
        }
        if (!victim || s->cache[e].stamp < s->cache[victim].stamp) victim = e;
    }
    struct shape_entry *c = &s->cache[victim];
    c->used = 1;
    c->stamp = ++s->clock;
    memcpy(c->in, descs, sizeof(struct tsr_tensor_desc) * (size_t)n_in);
    memcpy(c->out, out, sizeof(struct tsr_tensor_desc) * (size_t)n_out);
    pthread_mutex_unlock(&s->cache_lock);
    return 0;
}

static enum MHD_Result send_body(tsv_server *s, struct MHD_Connection *c, int code, char *body,
                                 size_t size, const char *type, size_t json_size) {
    struct MHD_Response *r =
        body ? MHD_create_response_from_buffer(size, body, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    if (type) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (json_size != size) {
        char len[32];
        snprintf(len, sizeof len, "%zu", json_size);
        MHD_add_response_header(r, "Inference-Header-Content-Length", len);
    }
    if (code == 503) MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (atomic_load(&s->draining)) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(tsv_server *s, struct MHD_Connection *c, int code, char *json) {
    if (!json) return send_body(s, c, 500, NULL, 0, NULL, 0);
    size_t n = strlen(json);
    return send_body(s, c, code, json, n, "application/json", n);
}

static enum MHD_Result send_error(tsv_server *s, struct MHD_Connection *c, int code,
                                  const char *msg) {
    return send_json(s, c, code, tsv_error_body(msg));
}

/* Runs req on the plan on this thread into outs (allocated here). 0 or an HTTP status. */
static int run_direct(tsv_server *s, const struct tsv_request *req, struct tsr_tensor *outs,
                      char *err, size_t err_size) {
    struct tsr_tensor_desc od[TSV_MAX_IO];
    int code = output_descs(s, req->inputs, od, err, err_size);
    for (int i = 0; !code && i < s->model.n_outputs; i++)
        if (tsr_tensor_alloc(&od[i], &outs[i]) != TSR_OK) {
            snprintf(err, err_size, "out of memory for output '%s'", s->model.outputs[i].name);
            code = 500;
        }
    if (code) return code;
    pthread_rwlock_rdlock(&s->shape_lock);
    tsr_status st = tsr_plan_run(s->plan, req->inputs, (size_t)s->model.n_inputs, outs,
                                 (size_t)s->model.n_outputs);
    pthread_rwlock_unlock(&s->shape_lock);
    if (st != TSR_OK) {
        const struct tsr_error_info *e = tsr_last_error(NULL);
        snprintf(err, err_size, "run failed: %s (%s)",
                 e->message && *e->message ? e->message : tsr_status_str(st), tsr_status_name(st));
        return st == TSR_E_SHAPE || st == TSR_E_DTYPE || st == TSR_E_INVALID_ARG ? 400 : 500;
    }
    const struct tsr_tensor_desc *d0 = &req->inputs[0].desc;
    tsv_metrics_batch(s->metrics, s->model.n_inputs && d0->rank ? d0->dims[0] : 1);
    return 0;
}

/* Submits req to the batcher and waits for it; its outputs move into outs. 0 or an HTTP status
 * (503 when the batcher's queue is full). */
static int run_batched(tsv_server *s, const struct tsv_request *req, struct tsr_tensor *outs,
                       char *err, size_t err_size) {
    tsr_request *h = NULL;
    tsr_status st = tsr_batcher_submit(s->opts.batcher, req->inputs, (size_t)s->model.n_inputs, 0,
                                       NULL, NULL, &h);
    if (st == TSR_OK) st = tsr_request_wait(h);
    if (st == TSR_OK) st = tsr_request_take_outputs(h, outs, (size_t)s->model.n_outputs);
    if (st != TSR_OK) {
        const struct tsr_error_info *e = tsr_last_error(NULL);
        if (st == TSR_E_QUEUE_FULL)
            snprintf(err, err_size, "queue full (the batcher's queue); retry later");
        else
            snprintf(err, err_size, "run failed: %s (%s)",
                     e->message && *e->message ? e->message : tsr_status_str(st),
                     tsr_status_name(st));
    }
    tsr_request_free(h);
    if (st == TSR_E_QUEUE_FULL) tsv_metrics_reject(s->metrics);
    return st == TSR_OK                                                        ? 0
           : st == TSR_E_QUEUE_FULL                                            ? 503
           : st == TSR_E_SHAPE || st == TSR_E_DTYPE || st == TSR_E_INVALID_ARG ? 400
                                                                               : 500;
}

/* POST /v2/models/NAME/infer with the whole body in rq. */
static int infer(tsv_server *s, struct MHD_Connection *c, struct request *rq,
                 enum MHD_Result *ret) {
    char err[4096];
    size_t json_size = rq->len;
    const char *hl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Inference-Header-Content-Length");
    if (hl) {
        char *end = NULL;
        unsigned long long v = strtoull(hl, &end, 10);
        if (!end || *end || end == hl || v > rq->len) {
            snprintf(err, sizeof err,
                     "Inference-Header-Content-Length '%s' is not a length within the body's %zu "
                     "bytes",
                     hl, rq->len);
            *ret = send_error(s, c, 400, err);
            return 400;
        }
        json_size = (size_t)v;
    }
    if (rq->rejected) { /* admission was decided when the headers came (handle) */
        tsv_metrics_reject(s->metrics);
        snprintf(err, sizeof err, "queue full (%d requests queued or running); retry later",
                 s->opts.max_queue);
        *ret = send_error(s, c, 503, err);
        return 503;
    }
    struct tsv_request req;
    struct tsr_tensor outs[TSV_MAX_IO];
    memset(outs, 0, sizeof outs);
    int code = tsv_request_decode(&s->model, rq->body ? rq->body : "", rq->len, json_size, &req,
                                  err, sizeof err);
    int64_t rows = s->model.n_inputs && req.inputs[0].desc.rank ? req.inputs[0].desc.dims[0] : 0;
    if (!code && s->opts.batcher && rows >= 1 && rows <= s->opts.max_batch) {
        code = run_batched(s, &req, outs, err, sizeof err);
    } else if (!code) {
        code = run_direct(s, &req, outs, err, sizeof err);
    }
    if (!code) {
        size_t size = 0, js = 0;
        char *body = tsv_response_encode(&s->model, &req, outs, &size, &js);
        code = body ? 200 : 500;
        if (body)
            *ret = send_body(s, c, 200, body, size,
                             js == size ? "application/json" : "application/octet-stream", js);
        else
            *ret = send_error(s, c, 500, "out of memory encoding the response");
    } else {
        *ret = send_error(s, c, code, err);
    }
    for (int i = 0; i < TSV_MAX_IO; i++)
        tsr_tensor_free(&outs[i]);
    tsv_request_free(&req);
    return code;
}

/* Routes a complete request; returns MHD's result, the status in *code, the endpoint in *ep. */
static enum MHD_Result route(tsv_server *s, struct MHD_Connection *c, const char *url,
                             const char *method, struct request *rq, int *code, const char **ep) {
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
    char err[1024];
    enum MHD_Result ret;
    const char *name = s->model.name;
    const char *m = !strncmp(url, "/v2/models/", 11) ? url + 11 : NULL;
    const char *rest = model_path(s, url);
    *ep = "other";
    if (!strcmp(url, "/v2/health/live") || !strcmp(url, "/v2/health/ready")) {
        *ep = "health";
        if (!get) goto not_allowed;
        *code = 200;
        return send_body(s, c, 200, NULL, 0, NULL, 0);
    }
    if (!strcmp(url, "/metrics")) {
        *ep = "metrics";
        if (!get) goto not_allowed;
        struct tsr_batcher_stats bs;
        int have_bs = s->opts.batcher && tsr_batcher_get_stats(s->opts.batcher, &bs) == TSR_OK;
        char *text = tsv_metrics_render(s->metrics, have_bs ? &bs : NULL);
        *code = text ? 200 : 500;
        if (!text) return send_error(s, c, 500, "out of memory");
        return send_body(s, c, 200, text, strlen(text), "text/plain; version=0.0.4", strlen(text));
    }
    if (!strcmp(url, "/v2") || !strcmp(url, "/v2/")) {
        *ep = "metadata";
        if (!get) goto not_allowed;
        *code = 200;
        return send_json(s, c, 200, tsv_server_metadata());
    }
    if (rest && (!strcmp(rest, "") || !strcmp(rest, "/"))) {
        *ep = "metadata";
        if (!get) goto not_allowed;
        *code = 200;
        return send_json(s, c, 200, tsv_model_metadata(&s->model));
    }
    if (rest && !strcmp(rest, "/ready")) {
        *ep = "health";
        if (!get) goto not_allowed;
        *code = 200;
        return send_body(s, c, 200, NULL, 0, NULL, 0);
    }
    if (rest && !strcmp(rest, "/infer")) {
        *ep = "infer";
        if (!post) goto not_allowed;
        *code = infer(s, c, rq, &ret);
        return ret;
    }
    *code = 404;
    if (m)
        snprintf(err, sizeof err, "unknown model or endpoint '%s' (this server serves model '%s')",
                 url, name);
    else
        snprintf(err, sizeof err, "unknown endpoint '%s'", url);
    return send_error(s, c, 404, err);
not_allowed:
    *code = 405;
    snprintf(err, sizeof err, "method %s not allowed on %s", method, url);
    return send_error(s, c, 405, err);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls) {
    tsv_server *s = cls;
    struct request *rq = *con_cls;
    if (!rq) { /* headers received */
        if (!(rq = calloc(1, sizeof *rq))) return MHD_NO;
        rq->start = now_s();
        *con_cls = rq;
        atomic_fetch_add(&s->active, 1);
        tsv_metrics_in_flight(s->metrics, 1);
        /* An infer request takes its place in the queue when its headers come, so requests
         * still uploading count too; beyond --max-queue it is refused (503 once its body is
         * read: answering before would make the client's send fail). */
        const char *rest = model_path(s, url);
        if (!strcmp(method, "POST") && rest && !strcmp(rest, "/infer")) {
            if (atomic_fetch_add(&s->queued, 1) >= s->opts.max_queue) {
                atomic_fetch_sub(&s->queued, 1);
                rq->rejected = 1;
            } else {
                rq->admitted = 1;
                tsv_metrics_queue(s->metrics, 1);
            }
        }
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (!cl || strtoull(cl, NULL, 10) <= s->opts.max_body_bytes) return MHD_YES;
        rq->too_large = 1; /* announced too large: answer now, without reading the body */
    } else if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->too_large) return MHD_YES;
        if (rq->len + n > s->opts.max_body_bytes) {
            rq->too_large = 1;
            free(rq->body);
            rq->body = NULL;
            rq->len = rq->cap = 0;
            return MHD_YES;
        }
        if (rq->len + n + 1 > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 4096;
            while (cap < rq->len + n + 1)
                cap *= 2;
            char *b = realloc(rq->body, cap);
            if (!b) return MHD_NO;
            rq->body = b;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->len, upload_data, n);
        rq->len += n;
        rq->body[rq->len] = 0;
        return MHD_YES;
    }
    if (rq->answered) return MHD_YES; /* 413 already queued: the rest is dropped */
    rq->answered = 1;
    int code = 500;
    const char *ep = "other";
    enum MHD_Result ret;
    if (rq->too_large) {
        char err[256];
        snprintf(err, sizeof err, "request body larger than the limit of %zu bytes (--max-body)",
                 s->opts.max_body_bytes);
        code = 413;
        ep = strstr(url, "/infer") ? "infer" : "other";
        ret = send_error(s, c, 413, err);
    } else {
        ret = route(s, c, url, method, rq, &code, &ep);
    }
    tsv_metrics_request(s->metrics, ep, code, now_s() - rq->start);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    tsv_server *s = cls;
    struct request *rq = *con_cls;
    if (!rq) return;
    if (rq->admitted) {
        atomic_fetch_sub(&s->queued, 1);
        tsv_metrics_queue(s->metrics, -1);
    }
    free(rq->body);
    free(rq);
    *con_cls = NULL;
    tsv_metrics_in_flight(s->metrics, -1);
    atomic_fetch_sub(&s->active, 1);
}

int tsv_server_start(const struct tsv_options *opts, tsr_plan *plan, const struct tsv_model *model,
                     tsv_server **out, char *err, size_t err_size) {
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, opts->host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)opts->port);
    } else if (inet_pton(AF_INET6, opts->host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)opts->port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, err_size, "--host '%s' is not a numeric IPv4 or IPv6 address", opts->host);
        return -1;
    }
    tsv_server *s = calloc(1, sizeof *s);
    if (!s || !(s->metrics = tsv_metrics_create(model->device))) {
        free(s);
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    s->opts = *opts;
    s->model = *model;
    s->plan = plan;
    pthread_rwlock_init(&s->shape_lock, NULL);
    pthread_mutex_init(&s->cache_lock, NULL);
    /* The compiled shapes: entry 0, never evicted. */
    s->cache[0].used = 1;
    for (int i = 0; i < model->n_inputs; i++)
        tsr_plan_input_desc(plan, i, NULL, &s->cache[0].in[i]);
    for (int i = 0; i < model->n_outputs; i++)
        tsr_plan_output_desc(plan, i, NULL, &s->cache[0].out[i]);
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, opts->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        opts->timeout_s, MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, err_size,
                 "cannot listen on %s port %d (in use, or not an address of this "
                 "machine?)",
                 opts->host, opts->port);
        tsv_metrics_destroy(s->metrics);
        pthread_rwlock_destroy(&s->shape_lock);
        pthread_mutex_destroy(&s->cache_lock);
        free(s);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : opts->port;
    *out = s;
    return 0;
}

int tsv_server_port(const tsv_server *s) {
    return s->port;
}

int tsv_server_stop(tsv_server *s, int drain_ms) {
    if (!s) return 0;
    atomic_store(&s->draining, 1);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon); /* stop accepting */
    if (fd != MHD_INVALID_SOCKET) close(fd);
    int left = 0;
    for (int waited = 0; (left = atomic_load(&s->active)) > 0 && waited < drain_ms; waited += 5)
        usleep(5000);
    MHD_stop_daemon(s->daemon);
    tsv_metrics_destroy(s->metrics);
    pthread_rwlock_destroy(&s->shape_lock);
    pthread_mutex_destroy(&s->cache_lock);
    free(s);
    return left;
}
