/*
 * loadgen.c — tessera-loadgen: a closed-loop HTTP load generator for `tessera serve` (or any
 * KServe v2 server). N connections (keep-alive, one thread each) each send POST requests with
 * the given body back to back for a duration, optionally paced to a total rate; prints the
 * throughput, the latency percentiles (p50/p95/p99, milliseconds) and the count per status code.
 *
 *   tessera-loadgen --port 8000 --path /v2/models/digits/infer --body req.json \
 *       [--host 127.0.0.1] [--concurrency 8] [--duration 10] [--rate R] [--header 'N: v']...
 * (a binary tensor data body: --header 'Inference-Header-Content-Length: N'). The requests
 * carry no Content-Type unless a --header gives one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct config {
    const char *host, *path;
    const char *headers; /* extra "Name: value\r\n" lines ("" for none) */
    int port, concurrency;
    double duration, rate; /* rate: requests/s over all connections; 0 = as fast as possible */
    char *body;
    size_t body_len;
};

struct worker {
    const struct config *cfg;
    int index;
    double *lat; /* milliseconds */
    size_t n, cap;
    long codes[6]; /* 1xx..5xx by first digit; [0]: transport errors */
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int connect_to(const struct config *c) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)c->port);
    inet_pton(AF_INET, c->host, &a.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads one response (status line, headers with Content-Length, body). Returns the status or
 * -1; *close_after when the server said Connection: close. */
static int read_response(int fd, char *buf, size_t cap, int *close_after) {
    size_t have = 0;
    char *hdr_end = NULL;
    while (!hdr_end) {
        if (have + 1 >= cap) return -1;
        ssize_t k = recv(fd, buf + have, cap - 1 - have, 0);
        if (k <= 0) return -1;
        have += (size_t)k;
        buf[have] = 0;
        hdr_end = strstr(buf, "\r\n\r\n");
    }
    int code = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1) return -1;
    size_t len = 0;
    for (char *p = buf; p < hdr_end; p = strstr(p, "\r\n") + 2) {
        if (!strncasecmp(p, "Content-Length:", 15)) len = strtoul(p + 15, NULL, 10);
        if (!strncasecmp(p, "Connection:", 11) && strstr(p, "close") &&
            strstr(p, "close") < hdr_end)
            *close_after = 1;
    }
    size_t body_have = have - (size_t)(hdr_end + 4 - buf);
    while (body_have < len) {
        char sink[65536];
        size_t want = len - body_have < sizeof sink ? len - body_have : sizeof sink;
        ssize_t k = recv(fd, sink, want, 0);
        if (k <= 0) return -1;
        body_have += (size_t)k;
    }
    return code;
}

static void *run_worker(void *arg) {
    struct worker *w = arg;
    const struct config *c = w->cfg;
    char head[1024], *buf = malloc(1 << 16);
    int hl = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%d\r\n%sContent-Length: %zu\r\n\r\n", c->path,
                      c->host, c->port, c->headers, c->body_len);
    double start = now_s(), end = start + c->duration;
    double interval = c->rate > 0 ? c->concurrency / c->rate : 0;
    double next = start + (interval > 0 ? interval * w->index / c->concurrency : 0);
    int fd = -1;
    while (now_s() < end) {
        if (interval > 0) {
            double t = now_s();
            if (t < next) usleep((useconds_t)((next - t) * 1e6));
            next += interval;
        }
        if (fd < 0 && (fd = connect_to(c)) < 0) {
            w->codes[0]++;
            usleep(1000);
            continue;
        }
        double t0 = interval > 0 ? next - interval : now_s(); /* paced: from the scheduled time */
        if (interval <= 0 || t0 > now_s()) t0 = now_s();
        int close_after = 0, code = -1;
        if (!send_all(fd, head, (size_t)hl) && !send_all(fd, c->body, c->body_len))
            code = read_response(fd, buf, 1 << 16, &close_after);
        double ms = (now_s() - t0) * 1e3;
        if (code < 100 || code > 599) {
            w->codes[0]++;
            close(fd);
            fd = -1;
            continue;
        }
        w->codes[code / 100]++;
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4096;
            w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
        }
        w->lat[w->n++] = ms;
        if (close_after) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) close(fd);
    free(buf);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double p) {
    if (!n) return NAN;
    size_t i = (size_t)ceil(p / 100.0 * (double)n);
    return v[i ? i - 1 : 0];
}

int main(int argc, char **argv) {
    struct config c = {"127.0.0.1", NULL, "", 8000, 8, 10, 0, NULL, 0};
    static char headers[4096];
    size_t hn = 0;
    const char *body_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--host") && v)
            c.host = v, i++;
        else if (!strcmp(argv[i], "--port") && v)
            c.port = atoi(v), i++;
        else if (!strcmp(argv[i], "--path") && v)
            c.path = v, i++;
        else if (!strcmp(argv[i], "--body") && v)
            body_path = v, i++;
        else if (!strcmp(argv[i], "--concurrency") && v)
            c.concurrency = atoi(v), i++;
        else if (!strcmp(argv[i], "--duration") && v)
            c.duration = atof(v), i++;
        else if (!strcmp(argv[i], "--rate") && v)
            c.rate = atof(v), i++;
        else if (!strcmp(argv[i], "--header") && v && hn + strlen(v) + 3 < sizeof headers) {
            hn += (size_t)snprintf(headers + hn, sizeof headers - hn, "%s\r\n", v);
            c.headers = headers;
            i++;
        } else {
            fprintf(stderr, "usage: tessera-loadgen --port N --path /v2/models/NAME/infer --body "
                            "FILE [--host ADDR] [--concurrency N] [--duration S] [--rate R] "
                            "[--header 'Name: value']...\n");
            return 2;
        }
    }
    if (!c.path || !body_path || c.concurrency < 1 || c.concurrency > 4096 || c.duration <= 0) {
        fprintf(stderr, "tessera-loadgen: error: --path and --body are needed; --concurrency 1.."
                        "4096, --duration > 0\n");
        return 2;
    }
    FILE *f = fopen(body_path, "rb");
    if (!f) {
        fprintf(stderr, "tessera-loadgen: error: cannot open %s: %s\n", body_path, strerror(errno));
        return 2;
    }
    fseek(f, 0, SEEK_END);
    c.body_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    c.body = malloc(c.body_len + 1);
    if (!c.body || fread(c.body, 1, c.body_len, f) != c.body_len) {
        fprintf(stderr, "tessera-loadgen: error: cannot read %s\n", body_path);
        fclose(f);
        return 2;
    }
    fclose(f);
    struct worker *w = calloc((size_t)c.concurrency, sizeof *w);
    pthread_t *th = calloc((size_t)c.concurrency, sizeof *th);
    double t0 = now_s();
    for (int i = 0; i < c.concurrency; i++) {
        w[i].cfg = &c;
        w[i].index = i;
        pthread_create(&th[i], NULL, run_worker, &w[i]);
    }
    size_t total = 0;
    long codes[6] = {0};
    for (int i = 0; i < c.concurrency; i++) {
        pthread_join(th[i], NULL);
        total += w[i].n;
        for (int k = 0; k < 6; k++)
            codes[k] += w[i].codes[k];
    }
    double elapsed = now_s() - t0;
    double *all = malloc((total + 1) * sizeof *all);
    size_t at = 0;
    for (int i = 0; i < c.concurrency; i++) {
        memcpy(all + at, w[i].lat, w[i].n * sizeof *all);
        at += w[i].n;
        free(w[i].lat);
    }
    qsort(all, total, sizeof *all, cmp);
    char rate[32] = "max";
    if (c.rate > 0) snprintf(rate, sizeof rate, "%g/s", c.rate);
    printf("concurrency %d rate %s duration %.1f s: %zu responses, %.1f req/s (2xx %ld, 4xx %ld, "
           "5xx %ld, errors %ld); latency ms p50 %.3f p95 %.3f p99 %.3f max %.3f\n",
           c.concurrency, rate, elapsed, total, (double)codes[2] / elapsed, codes[2], codes[4],
           codes[5], codes[0], pct(all, total, 50), pct(all, total, 95), pct(all, total, 99),
           total ? all[total - 1] : NAN);
    free(all);
    free(w);
    free(th);
    free(c.body);
    return codes[0] || codes[5] || codes[4] ? 1 : 0;
}
