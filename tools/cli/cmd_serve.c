/*
 * cmd_serve.c — `tessera serve MODEL.onnx`: the options, the model's plan and description, and
 * the process's life (listen, wait for SIGTERM / SIGINT, drain, exit 0). The HTTP server itself
 * is tools/serve/ (built only when libmicrohttpd was found at configure time: TSR_WITH_SERVE).
 */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const SERVE_USAGE =
    "usage: tessera serve MODEL.onnx [options]\n"
    "\n"
    "Serves the model over HTTP with the KServe v2 / Triton inference protocol:\n"
    "  GET  /v2/health/live, /v2/health/ready, /v2, /v2/models/NAME, /v2/models/NAME/ready\n"
    "  POST /v2/models/NAME/infer   JSON tensors, or the binary tensor data extension\n"
    "  GET  /metrics                Prometheus text format\n"
    "Prints \"tessera serve: listening on http://HOST:PORT\" on stdout once ready. SIGTERM or\n"
    "SIGINT stops accepting, answers the requests in flight and exits 0.\n"
    "\n"
    "  --host ADDR            numeric address to bind (default 127.0.0.1; 0.0.0.0 or :: for\n"
    "                         every interface)\n"
    "  --port N               TCP port (default 8000; 0: any free port)\n"
    "  --name NAME            the model's name in the URLs (default: the file's name without\n"
    "                         .onnx)\n"
    "  --device D             auto (default), cpu, opencl, opencl:N\n"
    "  --max-batch N          1 (default): every request runs on its own (batching off); N > 1:\n"
    "                         requests of up to N rows are batched along dim 0 (tsr_batcher,\n"
    "                         <tessera/batcher.h>; --device may then list devices:\n"
    "                         cpu,opencl:0), larger requests run on their own\n"
    "  --max-wait-us N        (batching) longest wait to fill a batch, microseconds (default\n"
    "                         500)\n"
    "  --preferred-batch L    (batching) the batch sizes to run at, increasing, comma-separated\n"
    "                         (default: powers of two up to --max-batch, and --max-batch)\n"
    "  --dim NAME=N           (batching) the value of a symbolic input dim other than the batch\n"
    "                         (e.g. --dim sequence=16 for a transformer): batched requests\n"
    "                         must have it; repeatable\n"
    "  --target-p99-us N      (batching) adaptive mode: adjust the wait and the batch cap to\n"
    "                         hold the end-to-end p99 latency at N microseconds (default 0:\n"
    "                         off; /metrics shows the current wait and cap)\n"
    "  --max-queue N          infer requests queued or running at once (default 64; also the\n"
    "                         batcher's queue); more get 503 with Retry-After\n"
    "  --max-body BYTES       largest request body (default 67108864); larger get 413\n"
    "  --max-connections N    concurrent connections (default 128; one thread each)\n"
    "  --drain-ms N           how long SIGTERM waits for requests in flight (default 30000)\n";
/* ... then the limit options of the model (cli_limit_usage), then: */
static const char *const SERVE_USAGE_TAIL =
    "\n"
    "Exit status: 0 after a signal, 2 bad input or unusable device, 1 internal error.\n";

static void serve_usage(void) {
    fputs(SERVE_USAGE, stdout);
    cli_limit_usage(stdout);
    fputs(SERVE_USAGE_TAIL, stdout);
}

#ifndef TSR_WITH_SERVE

int cmd_serve(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) serve_usage();
    fprintf(stderr, "tessera: error: serve: this tessera was built without `serve`: libmicrohttpd "
                    "was not found at configure time (Debian: apt-get install "
                    "libmicrohttpd-dev, then re-run cmake)\n");
    return TSR_EXIT_FAIL;
}

#else

#include "serve.h"

#include <pthread.h>

struct serve_args {
    const char *model, *name, *device, *host;
    long port, max_batch, max_wait_us, max_queue, max_body, max_connections, drain_ms;
    long target_p99_us;
    int preferred[TSR_BATCHER_MAX_PREFERRED], n_preferred;
    struct tsr_batcher_dim dims[TSR_BATCHER_MAX_DIMS];
    char dim_names[TSR_BATCHER_MAX_DIMS][64]; /* what dims[i].name points to */
    int n_dims;
    struct tsr_context_options limits; /* --max-* (cli_limit_parse); the other fields 0 */
};

/* Parses one --dim NAME=N into a->dims (NAME: fewer than 64 bytes). */
static int parse_dim(const char *opt, const char *v, struct serve_args *a) {
    const char *eq = strchr(v, '=');
    char *end = NULL;
    long n = eq ? strtol(eq + 1, &end, 10) : 0;
    if (!eq || eq == v || (size_t)(eq - v) >= sizeof a->dim_names[0] || !end || *end ||
        end == eq + 1 || n < 1 || a->n_dims == TSR_BATCHER_MAX_DIMS)
        return cli_usage_error("serve: %s expects NAME=N with N >= 1 (at most %d), got '%s'", opt,
                               TSR_BATCHER_MAX_DIMS, v);
    snprintf(a->dim_names[a->n_dims], sizeof a->dim_names[0], "%.*s", (int)(eq - v), v);
    a->dims[a->n_dims].name = a->dim_names[a->n_dims];
    a->dims[a->n_dims++].value = n;
    return 0;
}

/* Parses --preferred-batch's comma list into a->preferred (checked against --max-batch by
 * tsr_batcher_create, which names a bad entry). */
static int parse_preferred(const char *opt, const char *v, struct serve_args *a) {
    a->n_preferred = 0;
    for (const char *p = v;;) {
        char *end = NULL;
        long r = strtol(p, &end, 10);
        if (end == p || r < 1 || r > TSR_BATCHER_MAX_BATCH || (*end && *end != ',') ||
            a->n_preferred == TSR_BATCHER_MAX_PREFERRED)
            return cli_usage_error("serve: %s expects up to %d batch sizes from 1 to %d, "
                                   "comma-separated, got '%s'",
                                   opt, TSR_BATCHER_MAX_PREFERRED, TSR_BATCHER_MAX_BATCH, v);
        a->preferred[a->n_preferred++] = (int)r;
        if (!*end) return 0;
        p = end + 1;
    }
}

static int parse_long(const char *opt, const char *v, long lo, long hi, long *out) {
    char *end = NULL;
    long r = strtol(v, &end, 10);
    if (!end || *end || end == v || r < lo || r > hi)
        return cli_usage_error("serve: %s expects an integer from %ld to %ld, got '%s'", opt, lo,
                               hi, v);
    *out = r;
    return 0;
}

static int parse_args(int argc, char **argv, struct serve_args *a) {
    memset(a, 0, sizeof *a);
    a->device = "auto";
    a->host = "127.0.0.1";
    a->port = 8000;
    a->max_batch = 1;
    a->max_wait_us = 500;
    a->max_queue = 64;
    a->max_body = 64L << 20;
    a->max_connections = 128;
    a->drain_ms = 30000;
    enum {
        O_HOST = 256,
        O_PORT,
        O_NAME,
        O_DEVICE,
        O_BATCH,
        O_WAIT,
        O_QUEUE,
        O_BODY,
        O_CONN,
        O_DRAIN,
        O_PREF,
        O_P99,
        O_DIM
    };
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                             {"host", required_argument, NULL, O_HOST},
                                             {"port", required_argument, NULL, O_PORT},
                                             {"name", required_argument, NULL, O_NAME},
                                             {"device", required_argument, NULL, O_DEVICE},
                                             {"max-batch", required_argument, NULL, O_BATCH},
                                             {"max-wait-us", required_argument, NULL, O_WAIT},
                                             {"max-queue", required_argument, NULL, O_QUEUE},
                                             {"max-body", required_argument, NULL, O_BODY},
                                             {"max-connections", required_argument, NULL, O_CONN},
                                             {"drain-ms", required_argument, NULL, O_DRAIN},
                                             {"preferred-batch", required_argument, NULL, O_PREF},
                                             {"target-p99-us", required_argument, NULL, O_P99},
                                             {"dim", required_argument, NULL, O_DIM},
                                             {NULL, 0, NULL, 0}};
    struct option all[32];
    if (cli_limit_longopts(longopts, all, (int)(sizeof all / sizeof all[0])) < 0)
        return cli_usage_error("serve: internal: the option table is too small");
    for (;;) {
        const char *opt = NULL;
        int c = cli_getopt(argc, argv, "h", all, &opt), rc = 0;
        if (c == -1) break;
        if (c == CLI_GETOPT_ERROR) return TSR_EXIT_USAGE;
        const char *v = optarg;
        switch (c) {
        case 'h':
            serve_usage();
            return -1;
        case O_HOST:
            a->host = v;
            break;
        case O_NAME:
            a->name = v;
            break;
        case O_DEVICE:
            a->device = v;
            break;
        case O_PORT:
            rc = parse_long(opt, v, 0, 65535, &a->port);
            break;
        case O_BATCH:
            rc = parse_long(opt, v, 1, TSR_BATCHER_MAX_BATCH, &a->max_batch);
            break;
        case O_WAIT:
            rc = parse_long(opt, v, 0, 10000000, &a->max_wait_us);
            break;
        case O_QUEUE:
            rc = parse_long(opt, v, 1, 1000000, &a->max_queue);
            break;
        case O_BODY:
            rc = parse_long(opt, v, 1024, 1L << 34, &a->max_body);
            break;
        case O_CONN:
            rc = parse_long(opt, v, 1, 4096, &a->max_connections);
            break;
        case O_DRAIN:
            rc = parse_long(opt, v, 0, 3600000, &a->drain_ms);
            break;
        case O_PREF:
            rc = parse_preferred(opt, v, a);
            break;
        case O_P99:
            rc = parse_long(opt, v, 0, 60000000, &a->target_p99_us);
            break;
        case O_DIM:
            rc = parse_dim(opt, v, a);
            break;
        default:
            if (c >= CLI_LIMIT_VAL && c < CLI_LIMIT_VAL + cli_limit_count())
                rc = cli_limit_parse("serve", c, v, &a->limits);
            break;
        }
        if (rc) return rc;
    }
    for (int i = optind; i < argc; i++) {
        if (a->model)
            return cli_usage_error("serve: more than one model given ('%s', '%s')", a->model,
                                   argv[i]);
        a->model = argv[i];
    }
    if (!a->model) return cli_usage_error("serve: no MODEL.onnx given (see tessera serve --help)");
    if (a->max_batch == 1 && (a->n_preferred || a->target_p99_us || a->n_dims))
        return cli_usage_error("serve: --preferred-batch, --target-p99-us and --dim need "
                               "batching (--max-batch N with N > 1)");
    return 0;
}

/* The model's name from its path: the file name without ".onnx". */
static void model_name(const char *path, char *out, size_t size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".onnx")) n -= 5;
    if (n >= size) n = size - 1;
    memcpy(out, base, n);
    out[n] = 0;
}

/* Fills the protocol's description of the plan: -1 for symbolic input dims, and for the output
 * dims that change when the symbolic dims do (probed by specialising at 2 instead of 1). */
static int describe(tsr_context *ctx, tsr_plan *plan, struct tsv_model *m) {
    m->n_inputs = tsr_plan_input_count(plan);
    m->n_outputs = tsr_plan_output_count(plan);
    if (m->n_inputs > TSV_MAX_IO || m->n_outputs > TSV_MAX_IO)
        return cli_usage_error("serve: the model has %d inputs and %d outputs (at most %d each)",
                               m->n_inputs, m->n_outputs, TSV_MAX_IO);
    struct tsr_tensor_desc base[TSV_MAX_IO], probe[TSV_MAX_IO];
    int symbolic = 0;
    for (int i = 0; i < m->n_inputs; i++) {
        struct tsr_input_info info;
        const char *nm = NULL;
        tsr_plan_input_desc(plan, i, &nm, &base[i]);
        tsr_plan_input_info(plan, i, &info);
        snprintf(m->inputs[i].name, sizeof m->inputs[i].name, "%s", nm);
        m->inputs[i].dtype = info.dtype;
        m->inputs[i].rank = info.rank;
        probe[i] = base[i];
        for (int d = 0; d < info.rank; d++) {
            m->inputs[i].dims[d] = info.dim_names[d] ? -1 : info.dims[d];
            if (info.dim_names[d]) probe[i].dims[d] = base[i].dims[d] + 1;
        }
        symbolic += info.n_symbolic;
        if (!tsv_datatype_name(info.dtype))
            return cli_usage_error("serve: input '%s' has dtype %s, which the protocol cannot "
                                   "carry",
                                   nm, tsr_dtype_name(info.dtype));
    }
    struct tsr_tensor_desc out0[TSV_MAX_IO];
    for (int i = 0; i < m->n_outputs; i++) {
        const char *nm = NULL;
        tsr_plan_output_desc(plan, i, &nm, &out0[i]);
        snprintf(m->outputs[i].name, sizeof m->outputs[i].name, "%s", nm);
        m->outputs[i].dtype = out0[i].dtype;
        m->outputs[i].rank = out0[i].rank;
        memcpy(m->outputs[i].dims, out0[i].dims, sizeof out0[i].dims);
        if (!tsv_datatype_name(out0[i].dtype))
            return cli_usage_error("serve: output '%s' has dtype %s, which the protocol cannot "
                                   "carry",
                                   nm, tsr_dtype_name(out0[i].dtype));
    }
    if (symbolic && tsr_plan_specialize(plan, probe, (size_t)m->n_inputs) == TSR_OK) {
        for (int i = 0; i < m->n_outputs; i++) {
            struct tsr_tensor_desc d;
            if (tsr_plan_output_desc(plan, i, NULL, &d) != TSR_OK || d.rank != out0[i].rank)
                continue;
            for (int k = 0; k < d.rank; k++)
                if (d.dims[k] != out0[i].dims[k]) m->outputs[i].dims[k] = -1;
        }
        if (tsr_plan_specialize(plan, base, (size_t)m->n_inputs) != TSR_OK)
            return cli_fail(ctx, TSR_E_INTERNAL, "serve: re-specialise at the compiled shapes");
    }
    struct tsr_device_info dev;
    if (tsr_plan_device(plan, &dev) == TSR_OK) snprintf(m->device, sizeof m->device, "%s", dev.id);
    return 0;
}

int cmd_serve(int argc, char **argv) {
    struct serve_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) return TSR_EXIT_OK;
    if (rc) return rc;
    /* The signals are taken by sigwait on this thread: block them before any thread starts
     * (the context's workers and the daemon's threads inherit the mask). */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    tsr_context *ctx = NULL;
    tsr_graph *graph = NULL;
    tsr_plan *plan = NULL;
    tsr_batcher *batcher = NULL;
    tsv_server *srv = NULL;
    static struct tsv_model model;
    memset(&model, 0, sizeof model);
    tsr_status st = tsr_context_create(&a.limits, &ctx); /* the --max-* options, else zeros */
    if (st != TSR_OK) return cli_fail(NULL, st, "cannot create a context");
    st = tsr_onnx_import_file(ctx, a.model, NULL, 0, &graph);
    if (st != TSR_OK) {
        rc = cli_fail(ctx, st, "import");
        goto out;
    }
    struct tsr_compile_options co = tsr_compile_options_default();
    /* A device list ("cpu,opencl:0") is for the batcher; the plan (metadata, and requests of
     * more than --max-batch rows) then takes auto. */
    co.device = strchr(a.device, ',') ? "auto" : a.device;
    st = tsr_compile(ctx, graph, &co, &plan);
    if (st != TSR_OK) {
        rc = cli_fail(ctx, st, "compile");
        goto out;
    }
    if (a.max_batch > 1) {
        struct tsr_batcher_options bo = tsr_batcher_options_default();
        bo.devices = strcmp(a.device, "auto") ? a.device : NULL; /* auto: the CPU */
        bo.max_batch = (int)a.max_batch;
        bo.max_wait_us = a.max_wait_us;
        bo.max_queue = (int)a.max_queue;
        bo.target_p99_us = a.target_p99_us;
        bo.n_preferred = a.n_preferred;
        memcpy(bo.preferred_batch, a.preferred, sizeof a.preferred);
        bo.n_dims = a.n_dims;
        memcpy(bo.dims, a.dims, sizeof a.dims);
        st = tsr_batcher_create(ctx, graph, &bo, &batcher);
        if (st != TSR_OK) {
            rc = cli_fail(ctx, st, "serve: --max-batch: cannot batch this model");
            goto out;
        }
    }
    tsr_graph_destroy(graph);
    graph = NULL;
    if (a.name)
        snprintf(model.name, sizeof model.name, "%s", a.name);
    else
        model_name(a.model, model.name, sizeof model.name);
    if (!model.name[0] || strchr(model.name, '/')) {
        rc = cli_usage_error("serve: model name '%s' is empty or has a '/' (use --name)",
                             model.name);
        goto out;
    }
    if ((rc = describe(ctx, plan, &model))) goto out;
    struct tsv_options so = {
        a.host, (int)a.port, (size_t)a.max_body, (unsigned)a.max_connections, (int)a.max_queue,
        30,     batcher,     (int)a.max_batch};
    char err[512];
    if (tsv_server_start(&so, plan, &model, &srv, err, sizeof err)) {
        rc = cli_usage_error("serve: %s", err);
        goto out;
    }
    int ipv6 = strchr(a.host, ':') != NULL;
    printf("tessera serve: listening on http://%s%s%s:%d\n", ipv6 ? "[" : "", a.host,
           ipv6 ? "]" : "", tsv_server_port(srv));
    fprintf(stderr,
            "tessera serve: model '%s' (%s) on %s, batching %s; POST /v2/models/%s/infer; "
            "SIGTERM or Ctrl-C stops\n",
            model.name, a.model, batcher && strcmp(a.device, "auto") ? a.device : model.device,
            batcher ? "on" : "off", model.name);
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "tessera serve: %s: draining requests in flight\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    int left = tsv_server_stop(srv, (int)a.drain_ms);
    srv = NULL;
    if (left) {
        fprintf(stderr, "tessera: error: serve: %d request(s) still in flight after %ld ms\n", left,
                a.drain_ms);
        rc = TSR_EXIT_FAIL;
    } else {
        fprintf(stderr, "tessera serve: stopped\n");
        rc = TSR_EXIT_OK;
    }
out:
    tsv_server_stop(srv, 0);
    tsr_batcher_destroy(batcher, 1); /* after the server: no submit races it */
    tsr_plan_destroy(plan);
    tsr_graph_destroy(graph);
    tsr_context_destroy(ctx);
    return rc;
}

#endif
