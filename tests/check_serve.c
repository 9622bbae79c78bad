/*
 * check_serve.c — `tessera serve` as a client sees it: each test starts the built program on
 * 127.0.0.1 port 0 with the bundled digits model, reads the bound port from its first stdout
 * line, talks HTTP/1.1 over a plain socket (KServe v2 protocol), and stops it with SIGTERM,
 * which must exit 0 (under ASan: no leak). Checked: health and metadata, infer outputs against
 * the PyTorch reference logits (models/digits_test_logits.npy, 1e-5), the binary tensor data
 * extension, bad requests (400/404/405/413 with a message naming the problem), /metrics
 * counters, queue full (503), SIGTERM with requests in flight (all answered, right outputs,
 * exit 0), and batching on (--max-batch, --preferred-batch: tsr_batcher) with the same outputs.
 * Every wait is bounded by a condition and a generous limit (no timing assertions).
 */
#define _GNU_SOURCE /* strcasestr */
#include "test_support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TESSERA TSR_BINARY_DIR "/bin/tessera"
#define MODEL   TSR_MODELS_DIR "/digits.onnx"

struct server {
    pid_t pid;
    int port;
};

/* Starts `tessera serve MODEL --port 0 --device cpu <extra...>` and reads its port. */
static struct server start_server(const char *const *extra) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test must not leave a server behind */
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        const char *argv[32] = {TESSERA, "serve", MODEL, "--port", "0", "--device", "cpu"};
        int n = 7;
        for (int i = 0; extra && extra[i] && n < 31; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
        execv(TESSERA, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    char line[512];
    size_t have = 0;
    while (have < sizeof line - 1 && !memchr(line, '\n', have)) {
        struct pollfd p = {fds[0], POLLIN, 0};
        ck_assert_msg(poll(&p, 1, 120000) == 1, "tessera serve printed no line in 120 s");
        ssize_t k = read(fds[0], line + have, sizeof line - 1 - have);
        ck_assert_msg(k > 0, "tessera serve exited before listening");
        have += (size_t)k;
    }
    line[have] = 0;
    close(fds[0]);
    struct server s = {pid, 0};
    ck_assert_msg(sscanf(line, "tessera serve: listening on http://127.0.0.1:%d", &s.port) == 1,
                  "unexpected first line: %s", line);
    ck_assert_int_gt(s.port, 0);
    return s;
}

/* SIGTERM, then the exit status (-1: not a normal exit). */
static int stop_server(struct server s) {
    kill(s.pid, SIGTERM);
    int st = 0;
    ck_assert_int_eq(waitpid(s.pid, &st, 0), s.pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int connect_port(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        ck_assert_msg(k > 0, "send failed: %s", strerror(errno));
        p += k;
        n -= (size_t)k;
    }
}

struct response {
    int status;
    char *head; /* status line and headers */
    char *body; /* NUL-terminated (binary bodies: body_len bytes) */
    size_t body_len;
};

/* Reads a whole response until the server closes (requests say Connection: close). */
static struct response read_response(int fd) {
    size_t cap = 1 << 16, have = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (have + 1 >= cap) buf = realloc(buf, cap *= 2);
        ssize_t k = recv(fd, buf + have, cap - 1 - have, 0);
        if (k <= 0) break;
        have += (size_t)k;
    }
    buf[have] = 0;
    close(fd);
    struct response r = {0, NULL, NULL, 0};
    char *end = strstr(buf, "\r\n\r\n");
    ck_assert_msg(end != NULL, "no HTTP response (%zu bytes)", have);
    ck_assert_int_eq(sscanf(buf, "HTTP/1.%*d %d", &r.status), 1);
    *end = 0;
    r.head = strdup(buf);
    r.body_len = have - (size_t)(end + 4 - buf);
    r.body = malloc(r.body_len + 1);
    memcpy(r.body, end + 4, r.body_len);
    r.body[r.body_len] = 0;
    free(buf);
    return r;
}

static void free_response(struct response *r) {
    free(r->head);
    free(r->body);
}

/* One request (extra_headers: "Name: value\r\n" lines or NULL). */
static struct response http(int port, const char *method, const char *path,
                            const char *extra_headers, const char *body, size_t body_len) {
    int fd = connect_port(port);
    ck_assert_msg(fd >= 0, "cannot connect to port %d", port);
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%sContent-Length: "
                     "%zu\r\n\r\n",
                     method, path, extra_headers ? extra_headers : "", body_len);
    send_all(fd, head, (size_t)n);
    if (body_len) send_all(fd, body, body_len);
    return read_response(fd);
}

static struct response get(int port, const char *path) {
    return http(port, "GET", path, NULL, NULL, 0);
}

static struct response post(int port, const char *body) {
    return http(port, "POST", "/v2/models/digits/infer", NULL, body, strlen(body));
}

static json_object *parse(const char *s) {
    json_object *o = json_tokener_parse(s);
    ck_assert_msg(o != NULL, "not JSON: %s", s);
    return o;
}

static json_object *at(json_object *o, const char *key) {
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no \"%s\" in %s", key,
                  json_object_to_json_string(o));
    return v;
}

/* The infer request body for rows [r0, r0+n) of the bundled test images. */
static char *infer_body(const struct tsr_tensor *x, int r0, int n, const char *id) {
    json_object *o = json_object_new_object(), *in = json_object_new_object(),
                *inputs = json_object_new_array(), *shape = json_object_new_array(),
                *data = json_object_new_array();
    json_object_array_add(shape, json_object_new_int(n));
    json_object_array_add(shape, json_object_new_int(64));
    const float *px = (const float *)x->data + (size_t)r0 * 64;
    for (int i = 0; i < n * 64; i++)
        json_object_array_add(data, json_object_new_double(px[i]));
    json_object_object_add(in, "name", json_object_new_string("x"));
    json_object_object_add(in, "shape", shape);
    json_object_object_add(in, "datatype", json_object_new_string("FP32"));
    json_object_object_add(in, "data", data);
    json_object_array_add(inputs, in);
    if (id) json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "inputs", inputs);
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

/* Checks a 200 infer response against reference rows [r0, r0+n); returns the worst error. */
static double check_logits(const struct response *r, const struct tsr_tensor *ref, int r0, int n) {
    ck_assert_msg(r->status == 200, "status %d: %s", r->status, r->body);
    json_object *o = parse(r->body);
    ck_assert_str_eq(json_object_get_string(at(o, "model_name")), "digits");
    json_object *outs = at(o, "outputs");
    ck_assert_int_eq((int)json_object_array_length(outs), 1);
    json_object *t = json_object_array_get_idx(outs, 0);
    ck_assert_str_eq(json_object_get_string(at(t, "name")), "logits");
    ck_assert_str_eq(json_object_get_string(at(t, "datatype")), "FP32");
    json_object *shape = at(t, "shape"), *data = at(t, "data");
    ck_assert_int_eq(json_object_get_int(json_object_array_get_idx(shape, 0)), n);
    ck_assert_int_eq(json_object_get_int(json_object_array_get_idx(shape, 1)), 10);
    ck_assert_int_eq((int)json_object_array_length(data), n * 10);
    const float *pr = (const float *)ref->data + (size_t)r0 * 10;
    double worst = 0;
    for (int i = 0; i < n * 10; i++)
        worst =
            fmax(worst, fabs(json_object_get_double(json_object_array_get_idx(data, i)) - pr[i]));
    json_object_put(o);
    return worst;
}

static void load(const char *name, struct tsr_tensor *t) {
    ck_assert_int_eq(tsr_npy_load(name, t), TSR_OK);
}

/* Asserts a JSON error response with `status` whose message contains every needle. */
static void expect_error(struct response r, int status, const char *n1, const char *n2) {
    ck_assert_msg(r.status == status, "status %d (expected %d): %s", r.status, status, r.body);
    json_object *o = parse(r.body);
    const char *msg = json_object_get_string(at(o, "error"));
    ck_assert_msg(strstr(msg, n1), "error '%s' does not name '%s'", msg, n1);
    if (n2) ck_assert_msg(strstr(msg, n2), "error '%s' does not name '%s'", msg, n2);
    json_object_put(o);
    free_response(&r);
}

START_TEST(test_health_and_metadata) {
    struct server s = start_server(NULL);
    struct response r = get(s.port, "/v2/health/live");
    ck_assert_int_eq(r.status, 200);
    free_response(&r);
    r = get(s.port, "/v2/health/ready");
    ck_assert_int_eq(r.status, 200);
    free_response(&r);
    r = get(s.port, "/v2/models/digits/ready");
    ck_assert_int_eq(r.status, 200);
    free_response(&r);
    r = get(s.port, "/v2");
    ck_assert_int_eq(r.status, 200);
    json_object *o = parse(r.body);
    ck_assert_str_eq(json_object_get_string(at(o, "name")), "tessera");
    ck_assert_str_eq(json_object_get_string(at(o, "version")), tsr_version());
    json_object_put(o);
    free_response(&r);
    /* Model metadata: the ONNX file declares x [batch, 64] and logits [batch, 10] float. */
    r = get(s.port, "/v2/models/digits");
    ck_assert_int_eq(r.status, 200);
    o = parse(r.body);
    ck_assert_str_eq(json_object_get_string(at(o, "name")), "digits");
    json_object *in = json_object_array_get_idx(at(o, "inputs"), 0);
    ck_assert_str_eq(json_object_get_string(at(in, "name")), "x");
    ck_assert_str_eq(json_object_get_string(at(in, "datatype")), "FP32");
    ck_assert_str_eq(json_object_to_json_string_ext(at(in, "shape"), JSON_C_TO_STRING_PLAIN),
                     "[-1,64]");
    json_object *out = json_object_array_get_idx(at(o, "outputs"), 0);
    ck_assert_str_eq(json_object_get_string(at(out, "name")), "logits");
    ck_assert_str_eq(json_object_get_string(at(out, "datatype")), "FP32");
    ck_assert_str_eq(json_object_to_json_string_ext(at(out, "shape"), JSON_C_TO_STRING_PLAIN),
                     "[-1,10]");
    json_object_put(o);
    free_response(&r);
    expect_error(get(s.port, "/v2/models/other"), 404, "other", "digits");
    expect_error(get(s.port, "/v2/models/digits/infer"), 405, "GET", NULL);
    ck_assert_int_eq(stop_server(s), 0);
}
END_TEST

START_TEST(test_infer_matches_reference) {
    struct tsr_tensor x, ref;
    load(TSR_MODELS_DIR "/digits_test_x.npy", &x);
    load(TSR_MODELS_DIR "/digits_test_logits.npy", &ref);
    int rows = (int)x.desc.dims[0];
    struct server s = start_server(NULL);
    /* Batch-1 requests (the compiled shape) and one of every row (a re-specialised shape). */
    for (int i = 0; i < 6; i++) {
        char id[32];
        snprintf(id, sizeof id, "req-%d", i);
        char *body = infer_body(&x, i, 1, id);
        struct response r = post(s.port, body);
        ck_assert_double_le(check_logits(&r, &ref, i, 1), 1e-5);
        json_object *o = parse(r.body);
        ck_assert_str_eq(json_object_get_string(at(o, "id")), id);
        json_object_put(o);
        free_response(&r);
        free(body);
    }
    char *body = infer_body(&x, 0, rows, NULL);
    struct response r = post(s.port, body);
    ck_assert_double_le(check_logits(&r, &ref, 0, rows), 1e-5);
    free_response(&r);
    free(body);
    /* "outputs" selection: the named output is returned; an unknown one is refused. */
    body = infer_body(&x, 3, 2, NULL);
    size_t n = strlen(body);
    char *sel = malloc(n + 64);
    snprintf(sel, n + 64, "%.*s,\"outputs\":[{\"name\":\"logits\"}]}", (int)(n - 1), body);
    r = post(s.port, sel);
    ck_assert_double_le(check_logits(&r, &ref, 3, 2), 1e-5);
    free_response(&r);
    snprintf(sel, n + 64, "%.*s,\"outputs\":[{\"name\":\"probs\"}]}", (int)(n - 1), body);
    expect_error(post(s.port, sel), 400, "unknown output 'probs'", "logits");
    free(sel);
    free(body);
    /* Binary tensor data extension: 4 rows in, logits out as raw little-endian float32. */
    const char *hdr = "{\"inputs\":[{\"name\":\"x\",\"shape\":[4,64],\"datatype\":\"FP32\","
                      "\"parameters\":{\"binary_data_size\":1024}}],\"outputs\":[{\"name\":"
                      "\"logits\",\"parameters\":{\"binary_data\":true}}]}";
    size_t hl = strlen(hdr);
    char *bin = malloc(hl + 1024), extra[96];
    memcpy(bin, hdr, hl);
    memcpy(bin + hl, (const float *)x.data + 8 * 64, 1024);
    snprintf(extra, sizeof extra, "Inference-Header-Content-Length: %zu\r\n", hl);
    r = http(s.port, "POST", "/v2/models/digits/infer", extra, bin, hl + 1024);
    ck_assert_msg(r.status == 200, "binary: status %d: %s", r.status, r.body);
    const char *h = strcasestr(r.head, "Inference-Header-Content-Length:");
    ck_assert_ptr_nonnull(h);
    size_t jl = strtoul(h + 32, NULL, 10);
    ck_assert_uint_eq(r.body_len, jl + 4 * 10 * 4);
    float got[40];
    memcpy(got, r.body + jl, sizeof got);
    ck_assert_double_le(ts_max_abs_diff(got, (const float *)ref.data + 8 * 10, 40), 1e-5);
    free_response(&r);
    free(bin);
    ck_assert_int_eq(stop_server(s), 0);
    tsr_tensor_free(&x);
    tsr_tensor_free(&ref);
}
END_TEST

START_TEST(test_bad_requests) {
    const char *extra[] = {"--max-body", "4096", NULL};
    struct server s = start_server(extra);
    expect_error(post(s.port, "{\"inputs\": [{\"name\": \"x\","), 400, "malformed JSON", NULL);
    expect_error(post(s.port, "not json"), 400, "malformed JSON", NULL);
    expect_error(post(s.port, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,63],\"datatype\":"
                              "\"FP32\",\"data\":[0]}]}"),
                 400, "[1, 63]", "[-1, 64]");
    expect_error(post(s.port, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,64],\"datatype\":"
                              "\"INT64\",\"data\":[0]}]}"),
                 400, "INT64", "FP32");
    expect_error(post(s.port, "{\"inputs\":[{\"name\":\"y\",\"shape\":[1,64],\"datatype\":"
                              "\"FP32\",\"data\":[0]}]}"),
                 400, "unknown input 'y'", "x");
    expect_error(post(s.port, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,64],\"datatype\":"
                              "\"FP32\",\"data\":[1,2,3]}]}"),
                 400, "3 data elements", "64 expected");
    char typed[1024]; /* 64 elements, the second a string */
    int k = snprintf(typed, sizeof typed,
                     "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,64],"
                     "\"datatype\":\"FP32\",\"data\":[[0,\"a\"");
    for (int i = 2; i < 64; i++)
        k += snprintf(typed + k, sizeof typed - (size_t)k, ",%d", i);
    snprintf(typed + k, sizeof typed - (size_t)k, "]]}]}");
    expect_error(post(s.port, typed), 400, "data[1] is a string", "expected a number");
    expect_error(post(s.port, "{\"inputs\":[]}"), 400, "input 'x' missing", NULL);
    /* Oversized body: announced (Content-Length beyond --max-body) and actually sent. */
    int fd = connect_port(s.port);
    const char *big = "POST /v2/models/digits/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: "
                      "close\r\nContent-Length: 1000000\r\n\r\n";
    send_all(fd, big, strlen(big));
    expect_error(read_response(fd), 413, "larger than the limit of 4096 bytes", NULL);
    /* A chunked body (no Content-Length) that grows past the limit: read, dropped, 413. */
    fd = connect_port(s.port);
    const char *chunked = "POST /v2/models/digits/infer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n";
    send_all(fd, chunked, strlen(chunked));
    char *body = malloc(5000);
    memset(body, ' ', 5000);
    body[0] = '{';
    body[4999] = '}';
    send_all(fd, body, 5000);
    send_all(fd, "\r\n0\r\n\r\n", 7);
    expect_error(read_response(fd), 413, "larger than the limit", NULL);
    free(body);
    /* The server is still serving. */
    struct response r = get(s.port, "/v2/health/ready");
    ck_assert_int_eq(r.status, 200);
    free_response(&r);
    ck_assert_int_eq(stop_server(s), 0);
}
END_TEST

/* The value of the sample `name` (with labels) in a Prometheus text body; -1 when absent. */
static double metric(const char *text, const char *name) {
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, name, n) && p[n] == ' ') return strtod(p + n + 1, NULL);
    return -1;
}

static char *metrics_text(int port) {
    struct response r = get(port, "/metrics");
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strcasestr(r.head, "Content-Type: text/plain"));
    free(r.head);
    return r.body;
}

struct pending {
    int fd;
    char *body;
    size_t len;
    struct response r;
};

/* Polls /metrics until the sample `name` equals want (bounded: 20 s); fails naming the last. */
static void wait_metric(int port, const char *name, double want) {
    for (int tries = 0;; tries++) {
        char *m = metrics_text(port);
        double v = metric(m, name);
        free(m);
        if (v == want) return;
        ck_assert_msg(tries < 2000, "%s is %g, expected %g", name, v, want);
        usleep(10000);
    }
}

START_TEST(test_metrics_move) {
    struct tsr_tensor x;
    load(TSR_MODELS_DIR "/digits_test_x.npy", &x);
    struct server s = start_server(NULL);
    char *m0 = metrics_text(s.port);
    const char *ok = "tessera_requests_total{endpoint=\"infer\",code=\"200\"}";
    const char *bad = "tessera_requests_total{endpoint=\"infer\",code=\"400\"}";
    ck_assert_double_eq(metric(m0, ok), 0);
    ck_assert_double_eq(metric(m0, "tessera_queue_depth{device=\"cpu\"}"), 0);
    ck_assert_double_eq(metric(m0, "tessera_batch_size_count"), 0);
    ck_assert_ptr_nonnull(strstr(m0, "# TYPE tessera_request_duration_seconds histogram"));
    char *body = infer_body(&x, 0, 1, NULL);
    for (int i = 0; i < 3; i++) {
        struct response r = post(s.port, body);
        ck_assert_int_eq(r.status, 200);
        free_response(&r);
    }
    free(body);
    body = infer_body(&x, 0, 5, NULL);
    struct response r = post(s.port, body);
    ck_assert_int_eq(r.status, 200);
    free_response(&r);
    free(body);
    r = post(s.port, "{");
    ck_assert_int_eq(r.status, 400);
    free_response(&r);
    char *m1 = metrics_text(s.port);
    ck_assert_double_eq(metric(m1, ok), 4);
    ck_assert_double_eq(metric(m1, bad), 1);
    ck_assert_double_eq(metric(m1, "tessera_request_duration_seconds_count"), 5);
    ck_assert_double_eq(metric(m1, "tessera_request_duration_seconds_bucket{le=\"+Inf\"}"), 5);
    ck_assert_double_eq(metric(m1, "tessera_batch_size_count"), 4);
    ck_assert_double_eq(metric(m1, "tessera_batch_size_sum"), 8);
    ck_assert_double_eq(metric(m1, "tessera_batch_size_bucket{le=\"1\"}"), 3);
    ck_assert_double_ge(metric(m1, "tessera_requests_total{endpoint=\"metrics\",code=\"200\"}"), 1);
    /* At rest (once the last responses are sent): nothing queued, one request in flight, the
     * metrics GET itself. */
    wait_metric(s.port, "tessera_queue_depth{device=\"cpu\"}", 0);
    wait_metric(s.port, "tessera_requests_in_flight", 1);
    free(m0);
    free(m1);
    ck_assert_int_eq(stop_server(s), 0);
    tsr_tensor_free(&x);
}
END_TEST

/* Opens a connection and sends an infer request's headers and all but the last body byte. */
static void start_partial(int port, struct pending *p, char *body);
static void *finish_request(void *arg);

#define IN_FLIGHT 6

START_TEST(test_queue_full_503) {
    struct tsr_tensor x, ref;
    load(TSR_MODELS_DIR "/digits_test_x.npy", &x);
    load(TSR_MODELS_DIR "/digits_test_logits.npy", &ref);
    const char *extra[] = {"--max-queue", "2", NULL};
    struct server s = start_server(extra);
    /* Two requests hold the queue's two places (headers in, body still uploading). */
    struct pending p[2];
    for (int i = 0; i < 2; i++)
        start_partial(s.port, &p[i], infer_body(&x, i, 1, NULL));
    wait_metric(s.port, "tessera_queue_depth{device=\"cpu\"}", 2);
    char *body = infer_body(&x, 2, 1, NULL);
    struct response r = post(s.port, body);
    ck_assert_ptr_nonnull(strcasestr(r.head, "Retry-After: 1"));
    expect_error(r, 503, "queue full", "2 requests");
    for (int i = 0; i < 2; i++) {
        finish_request(&p[i]);
        ck_assert_double_le(check_logits(&p[i].r, &ref, i, 1), 1e-5);
        free_response(&p[i].r);
        free(p[i].body);
    }
    wait_metric(s.port, "tessera_queue_depth{device=\"cpu\"}", 0);
    r = post(s.port, body); /* room again */
    ck_assert_double_le(check_logits(&r, &ref, 2, 1), 1e-5);
    free_response(&r);
    free(body);
    char *m = metrics_text(s.port);
    ck_assert_double_eq(metric(m, "tessera_rejected_total"), 1);
    ck_assert_double_eq(metric(m, "tessera_requests_total{endpoint=\"infer\",code=\"503\"}"), 1);
    free(m);
    ck_assert_int_eq(stop_server(s), 0);
    tsr_tensor_free(&x);
    tsr_tensor_free(&ref);
}
END_TEST

static void start_partial(int port, struct pending *p, char *body) {
    size_t n = strlen(body);
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "POST /v2/models/digits/infer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Connection: close\r\nContent-Length: %zu\r\n\r\n",
                      n);
    p->fd = connect_port(port);
    ck_assert_int_ge(p->fd, 0);
    p->body = body;
    p->len = n;
    send_all(p->fd, head, (size_t)hn);
    send_all(p->fd, body, n - 1);
}

static void *finish_request(void *arg) {
    struct pending *p = arg;
    send_all(p->fd, p->body + p->len - 1, 1);
    p->r = read_response(p->fd);
    return NULL;
}

START_TEST(test_sigterm_drains_in_flight) {
    struct tsr_tensor x, ref;
    load(TSR_MODELS_DIR "/digits_test_x.npy", &x);
    load(TSR_MODELS_DIR "/digits_test_logits.npy", &ref);
    struct server s = start_server(NULL);
    /* IN_FLIGHT requests whose headers and all but the last body byte are sent: the server is
     * handling them (in_flight counts them) when SIGTERM comes. */
    struct pending p[IN_FLIGHT];
    for (int i = 0; i < IN_FLIGHT; i++)
        start_partial(s.port, &p[i], infer_body(&x, 10 * i, 10, NULL));
    for (int tries = 0;; tries++) { /* wait until all are being handled (+1: the metrics GET) */
        char *m = metrics_text(s.port);
        double v = metric(m, "tessera_requests_in_flight");
        free(m);
        if (v >= IN_FLIGHT + 1) break;
        ck_assert_msg(tries < 2000, "only %g requests in flight", v);
        usleep(10000);
    }
    kill(s.pid, SIGTERM);
    /* It stops accepting: new connections are refused once the signal is handled. */
    for (int tries = 0;; tries++) {
        int fd = connect_port(s.port);
        if (fd < 0) break;
        close(fd);
        ck_assert_msg(tries < 2000, "still accepting connections after SIGTERM");
        usleep(10000);
    }
    pthread_t th[IN_FLIGHT];
    for (int i = 0; i < IN_FLIGHT; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, finish_request, &p[i]), 0);
    for (int i = 0; i < IN_FLIGHT; i++) {
        pthread_join(th[i], NULL);
        ck_assert_double_le(check_logits(&p[i].r, &ref, 10 * i, 10), 1e-5);
        ck_assert_ptr_nonnull(strcasestr(p[i].r.head, "Connection: close"));
        free_response(&p[i].r);
        free(p[i].body);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(s.pid, &st, 0), s.pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "tessera serve: status %d", st);
    tsr_tensor_free(&x);
    tsr_tensor_free(&ref);
}
END_TEST

/* Batching on (--max-batch 8): concurrent batch-1 requests go through tsr_batcher and get their
 * own rows back; a request of more rows than --max-batch runs on the plan directly. */
START_TEST(test_batching_on) {
    struct tsr_tensor x, ref;
    load(TSR_MODELS_DIR "/digits_test_x.npy", &x);
    load(TSR_MODELS_DIR "/digits_test_logits.npy", &ref);
    const char *extra[] = {"--max-batch", "8", "--max-wait-us", "2000", "--preferred-batch",
                           "1,2,4,8",     NULL};
    struct server s = start_server(extra);
    struct pending p[IN_FLIGHT];
    for (int i = 0; i < IN_FLIGHT; i++)
        start_partial(s.port, &p[i], infer_body(&x, 7 * i, 1, NULL));
    pthread_t th[IN_FLIGHT];
    for (int i = 0; i < IN_FLIGHT; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, finish_request, &p[i]), 0);
    for (int i = 0; i < IN_FLIGHT; i++) {
        pthread_join(th[i], NULL);
        ck_assert_double_le(check_logits(&p[i].r, &ref, 7 * i, 1), 1e-5);
        free_response(&p[i].r);
        free(p[i].body);
    }
    char *body = infer_body(&x, 100, 20, NULL);
    struct response r = post(s.port, body);
    ck_assert_double_le(check_logits(&r, &ref, 100, 20), 1e-5);
    free_response(&r);
    free(body);
    char *m = metrics_text(s.port);
    ck_assert_double_ge(metric(m, "tessera_batcher_device_batches_total{device=\"cpu\"}"), 1);
    ck_assert_double_eq(metric(m, "tessera_batch_size_sum"), IN_FLIGHT + 20);
    ck_assert_double_eq(metric(m, "tessera_batcher_max_batch"), 8); /* not adaptive: as given */
    ck_assert_double_eq(metric(m, "tessera_batcher_wait_seconds"), 0.002);
    ck_assert_double_eq(metric(m, "tessera_requests_total{endpoint=\"infer\",code=\"200\"}"),
                        IN_FLIGHT + 1);
    free(m);
    ck_assert_int_eq(stop_server(s), 0);
    tsr_tensor_free(&x);
    tsr_tensor_free(&ref);
}
END_TEST

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("serve");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_health_and_metadata);
    tcase_add_test(tc, test_infer_matches_reference);
    tcase_add_test(tc, test_bad_requests);
    tcase_add_test(tc, test_metrics_move);
    tcase_add_test(tc, test_queue_full_503);
    tcase_add_test(tc, test_sigterm_drains_in_flight);
    tcase_add_test(tc, test_batching_on);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
