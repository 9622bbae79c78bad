/*
 * cmd_run.c — `tessera run`: import an ONNX model, run it on one device or on every device,
 * check it against reference outputs and labels, time it, profile it, compare devices.
 */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FILES 16

static const char *const RUN_USAGE =
    "usage: tessera run [MODEL.onnx] [options]\n"
    "\n"
    "Without MODEL, runs the bundled digits model (models/digits.onnx) on its bundled test data,\n"
    "labels and PyTorch reference.\n"
    "\n"
    "  --device D             auto (default), cpu, opencl, opencl:N, or all (compare every "
    "device)\n"
    "  --placement P          auto (default: one device, or several when predicted faster), "
    "single,\n"
    "                         hetero (each kernel on the device a HEFT list scheduler picks) or\n"
    "                         alternate (kernel k on device k mod N, for testing)\n"
    "  --input NAME=FILE.npy  input tensor (NAME= may be left out for inputs in order; split at\n"
    "                         the first '=', NAME must be an input of the model); a model\n"
    "                         with symbolic input dims (batch, sequence) runs at the file's\n"
    "                         shape: the plan is re-specialised for it (--explain shows it)\n"
    "  --expect NAME=REF.npy  reference output: report the max absolute error\n"
    "  --labels FILE.npy      class labels: report the top-1 accuracy of output 0\n"
    "  --output NAME=FILE.npy write an output (from the first device that ran)\n"
    "  --repeat N             timed runs after one warm-up run (default 20); the median is shown\n"
    "  --profile              print the profiler table (kernels, transfers, compiles) and pools\n"
    "  --trace FILE.json      write a Chrome trace (open in https://ui.perfetto.dev)\n"
    "  --explain              show the optimised plan: each kernel with the graph nodes fused\n"
    "                         into it, bytes, FLOPs, its device, predicted and measured ms\n"
    "                         (median over the timed runs), and the memory plan\n"
    "  --verify               re-run every kernel's nodes unfused with the scalar reference\n"
    "                         and report the worst error per kernel\n"
    "  --json                 print one JSON object instead of text\n";
/* ... then the limit options (cli_limit_usage), then: */
static const char RUN_USAGE_TAIL[] =
    "\n"
    "Options take --opt VALUE or --opt=VALUE, before or after MODEL; -- ends them. Without\n"
    "--device, TSR_DEVICE (else auto) decides.\n"
    "\n"
    "Exit status: 0 success, 2 bad input or unusable device, 1 internal error.\n";

struct named_file {
    char name[256]; /* "" = positional */
    char path[4096];
};

struct run_args {
    const char *model;
    const char *device;
    int device_given; /* --device given; else the plan's default (env TSR_DEVICE, else auto) */
    const char *placement;
    struct named_file inputs[MAX_FILES], expects[MAX_FILES], outputs[MAX_FILES];
    int n_inputs, n_expects, n_outputs;
    const char *labels;
    int repeat;
    int profile;
    const char *trace;
    int json;
    int explain;
    int verify;
    int bundled;
    struct tsr_context_options limits; /* --max-* (cli_limit_parse); the other fields 0 */
};

struct device_result {
    struct tsr_device_info dev; /* device the plan ran on */
    char requested[24];
    int ok;
    char error[8448]; /* room for two paths and two shapes */
    int exit_code;
    double max_abs_err; /* NAN when no --expect */
    double accuracy;    /* NAN when no --labels */
    int correct, total;
    double median_ms, min_ms, max_ms;
    int kernels;
    size_t arena_bytes;
    double predicted_ms; /* cost model's prediction of one run */
    char placement[16];
    int fell_back;
    char reason[2048];
    uint64_t allocs_in_timed_runs; /* pool allocations from the system during the timed runs */
    json_object *profile;          /* [{name, device, count, total_ms}] */
    json_object *outputs;          /* {name: shape} */
    json_object *plan;             /* --explain: [{kernel, nodes, device, bytes, flops}] */
    struct tsr_plan_memory memory;
    json_object *verify;    /* --verify: [{kernel, nodes, max_abs_err, max_ref}] */
    int dynamic;            /* the model has symbolic input dims */
    double replan_ms;       /* wall time of tsr_plan_specialize for the inputs (0: none needed) */
    json_object *inputs;    /* [{name, shape, declared}]: the shapes the plan is specialised for */
    json_object *layers;    /* --profile: [{kernel, contraction, geometry, flops, measured_ms,
                               gflops, percent_of_ceiling, nodes}] of the conv / GEMM kernels */
    double ceiling_gflops;  /* the device's GEMM ceiling (0: unknown) */
    char ceiling_what[256]; /* where it comes from */
};

static void list_io(tsr_graph *graph, tsr_plan *plan, char *buf, size_t size);

static int parse_named(const char *arg, struct named_file *f) {
    const char *eq = strchr(arg, '=');
    memset(f, 0, sizeof *f);
    if (eq) {
        size_t n = (size_t)(eq - arg);
        if (n == 0 || n >= sizeof f->name) return -1;
        memcpy(f->name, arg, n);
        arg = eq + 1;
    }
    if (!*arg || strlen(arg) >= sizeof f->path) return -1;
    snprintf(f->path, sizeof f->path, "%s", arg);
    return 0;
}

static int parse_args(int argc, char **argv, struct run_args *a) {
    memset(a, 0, sizeof *a);
    a->device = "auto";
    a->repeat = 20;
    enum {
        O_DEVICE = 256,
        O_PLACEMENT,
        O_INPUT,
        O_EXPECT,
        O_OUTPUT,
        O_LABELS,
        O_REPEAT,
        O_PROFILE,
        O_TRACE,
        O_JSON,
        O_EXPLAIN,
        O_VERIFY
    };
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                             {"device", required_argument, NULL, O_DEVICE},
                                             {"placement", required_argument, NULL, O_PLACEMENT},
                                             {"input", required_argument, NULL, O_INPUT},
                                             {"expect", required_argument, NULL, O_EXPECT},
                                             {"output", required_argument, NULL, O_OUTPUT},
                                             {"labels", required_argument, NULL, O_LABELS},
                                             {"repeat", required_argument, NULL, O_REPEAT},
                                             {"profile", no_argument, NULL, O_PROFILE},
                                             {"trace", required_argument, NULL, O_TRACE},
                                             {"json", no_argument, NULL, O_JSON},
                                             {"explain", no_argument, NULL, O_EXPLAIN},
                                             {"verify", no_argument, NULL, O_VERIFY},
                                             {NULL, 0, NULL, 0}};
    struct option all[32];
    if (cli_limit_longopts(longopts, all, (int)(sizeof all / sizeof all[0])) < 0)
        return cli_usage_error("run: internal: the option table is too small");
    int c;
    for (;;) {
        const char *opt = NULL;
        if ((c = cli_getopt(argc, argv, "h", all, &opt)) == -1) break;
        if (c == CLI_GETOPT_ERROR) return TSR_EXIT_USAGE;
        const char *v = optarg;
        switch (c) {
        case 'h':
            fputs(RUN_USAGE, stdout);
            cli_limit_usage(stdout);
            fputs(RUN_USAGE_TAIL, stdout);
            return -1;
        case O_DEVICE:
            a->device = v;
            a->device_given = 1;
            break;
        case O_PLACEMENT:
            a->placement = v;
            break;
        case O_INPUT:
        case O_EXPECT:
        case O_OUTPUT: {
            struct named_file *arr = c == O_INPUT    ? a->inputs
                                     : c == O_EXPECT ? a->expects
                                                     : a->outputs;
            int *n = c == O_INPUT ? &a->n_inputs : c == O_EXPECT ? &a->n_expects : &a->n_outputs;
            if (*n >= MAX_FILES) return cli_usage_error("run: too many %s options", opt);
            if (parse_named(v, &arr[*n]))
                return cli_usage_error("run: %s expects [NAME=]FILE.npy, got '%s'", opt, v);
            (*n)++;
            break;
        }
        case O_LABELS:
            a->labels = v;
            break;
        case O_REPEAT: {
            char *end = NULL;
            long r = strtol(v, &end, 10);
            if (!end || *end || r < 1 || r > 1000000)
                return cli_usage_error("run: --repeat expects a count from 1 to 1000000, got '%s'",
                                       v);
            a->repeat = (int)r;
            break;
        }
        case O_PROFILE:
            a->profile = 1;
            break;
        case O_TRACE:
            a->trace = v;
            break;
        case O_JSON:
            a->json = 1;
            break;
        case O_EXPLAIN:
            a->explain = 1;
            break;
        case O_VERIFY:
            a->verify = 1;
            break;
        default:
            if (c >= CLI_LIMIT_VAL && c < CLI_LIMIT_VAL + cli_limit_count()) {
                const int rc = cli_limit_parse("run", c, v, &a->limits);
                if (rc) return rc;
            }
            break;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (!a->model)
            a->model = argv[i];
        else
            return cli_usage_error("run: more than one model given ('%s', '%s')", a->model,
                                   argv[i]);
    }
    return 0;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static json_object *shape_json(const struct tsr_tensor_desc *d) {
    json_object *arr = json_object_new_array();
    for (int i = 0; i < d->rank; i++)
        json_object_array_add(arr, json_object_new_int64(d->dims[i]));
    return arr;
}

/* Finds the plan output a named file refers to ("" = output k in order). -1 if none. */
static int output_index(tsr_plan *plan, const struct named_file *f, int k) {
    if (!f->name[0]) return k < tsr_plan_output_count(plan) ? k : -1;
    for (int i = 0; i < tsr_plan_output_count(plan); i++) {
        const char *nm = NULL;
        tsr_plan_output_desc(plan, i, &nm, NULL);
        if (nm && !strcmp(nm, f->name)) return i;
    }
    return -1;
}

static uint64_t pool_system_allocs(tsr_context *ctx, int n_devices) {
    uint64_t total = 0;
    for (int d = 0; d < n_devices; d++) {
        struct tsr_pool_stats s;
        if (tsr_pool_get_stats(ctx, d, &s) == TSR_OK) total += s.system_allocs;
    }
    return total;
}

/* A position in the profiler's record stream that survives the ring dropping its oldest
 * records: records ever kept (dropped + count), turned back into an index by prof_index. */
static uint64_t prof_mark(const tsr_context *ctx) {
    return tsr_profiler_dropped(ctx) + tsr_profiler_count(ctx);
}

/* Index of the first record at or after `mark` still kept (0 when the ring dropped past it). */
static size_t prof_index(const tsr_context *ctx, uint64_t mark) {
    uint64_t dropped = tsr_profiler_dropped(ctx);
    return mark > dropped ? (size_t)(mark - dropped) : 0;
}

/* Aggregates profiler records [from, count) by (kind, name, nodes, device). */
static json_object *profile_json(tsr_context *ctx, size_t from) {
    size_t n = tsr_profiler_count(ctx);
    json_object *arr = json_object_new_array();
    for (size_t i = from; i < n; i++) {
        struct tsr_profile_record r;
        if (tsr_profiler_get(ctx, i, &r) != TSR_OK) continue;
        json_object *row = NULL;
        for (size_t k = 0; k < json_object_array_length(arr); k++) {
            json_object *e = json_object_array_get_idx(arr, k), *nm, *dv, *nd, *kd;
            json_object_object_get_ex(e, "name", &nm);
            json_object_object_get_ex(e, "device", &dv);
            json_object_object_get_ex(e, "nodes", &nd);
            json_object_object_get_ex(e, "kind", &kd);
            if (!strcmp(json_object_get_string(nm), r.name) &&
                !strcmp(json_object_get_string(dv), r.device) &&
                !strcmp(json_object_get_string(nd), r.nodes ? r.nodes : "") &&
                !strcmp(json_object_get_string(kd), tsr_event_kind_name(r.kind))) {
                row = e;
                break;
            }
        }
        double ms = (double)(r.end_ns - r.start_ns) * 1e-6;
        if (!row) {
            row = json_object_new_object();
            json_object_object_add(row, "name", json_object_new_string(r.name));
            json_object_object_add(row, "device", json_object_new_string(r.device));
            json_object_object_add(row, "kind",
                                   json_object_new_string(tsr_event_kind_name(r.kind)));
            json_object_object_add(row, "nodes", json_object_new_string(r.nodes ? r.nodes : ""));
            json_object_object_add(row, "count", json_object_new_int(0));
            json_object_object_add(row, "total_ms", json_object_new_double(0.0));
            json_object_array_add(arr, row);
        }
        json_object *c, *t;
        json_object_object_get_ex(row, "count", &c);
        json_object_object_get_ex(row, "total_ms", &t);
        json_object_set_int(c, json_object_get_int(c) + 1);
        json_object_set_double(t, json_object_get_double(t) + ms);
    }
    return arr;
}

/* Median over the timed runs of the time kernel ki took per run, from the profiler records
 * [from, count) of kind kernel with the kernel's name, nodes and device (an OpenCL GEMM with an
 * epilogue may record more than one event per run: records are summed per run). NAN when the
 * kernel has no records. */
static double measured_kernel_ms(tsr_context *ctx, size_t from, const struct tsr_kernel_info *ki,
                                 int repeat) {
    size_t n = tsr_profiler_count(ctx), matched = 0;
    double *ms = calloc(n - from + 1, sizeof *ms);
    if (!ms) return NAN;
    for (size_t i = from; i < n; i++) {
        struct tsr_profile_record r;
        if (tsr_profiler_get(ctx, i, &r) != TSR_OK || r.kind != TSR_EVENT_KERNEL) continue;
        if (strcmp(r.name, ki->name) || strcmp(r.nodes ? r.nodes : "", ki->nodes) ||
            strcmp(r.device, ki->device))
            continue;
        ms[matched++] = (double)(r.end_ns - r.start_ns) * 1e-6;
    }
    double result = NAN;
    if (matched > 0 && repeat > 0 && matched % (size_t)repeat == 0) {
        size_t per = matched / (size_t)repeat;
        for (int k = 0; k < repeat; k++) {
            double t = 0;
            for (size_t j = 0; j < per; j++)
                t += ms[(size_t)k * per + j];
            ms[k] = t;
        }
        qsort(ms, (size_t)repeat, sizeof *ms, cmp_double);
        result = repeat % 2 ? ms[repeat / 2] : 0.5 * (ms[repeat / 2 - 1] + ms[repeat / 2]);
    }
    free(ms);
    return result;
}

struct run_data {
    struct tsr_tensor inputs[MAX_FILES];
    int n_inputs;
    tsr_graph *verify_graph; /* --verify: the model imported at the inputs' shapes */
    struct tsr_tensor expects[MAX_FILES];
    struct tsr_tensor labels;
    int have_labels;
};

static int set_error(struct device_result *r, tsr_context *ctx, tsr_status st, const char *what) {
    const struct tsr_error_info *e = tsr_last_error(ctx);
    snprintf(r->error, sizeof r->error, "%s: %s (%s)", what,
             (e->message && *e->message) ? e->message : tsr_status_str(st), tsr_status_name(st));
    r->exit_code = (st == TSR_E_INTERNAL || st == TSR_E_NOMEM) ? TSR_EXIT_FAIL : TSR_EXIT_USAGE;
    return r->exit_code;
}

/* The GEMM ceiling of the plan's device: the fastest point of its calibration's GEMM curve (on
 * the CPU the largest, 1024^3, measured by tessera's own GEMM with the context's worker
 * threads). Calibrates when the process knows no figures (TSR_CALIBRATE=off, first use); 0 with
 * the reason in r->ceiling_what when that fails. */
static void gemm_ceiling(tsr_context *ctx, struct device_result *r) {
    int idx = -1;
    struct tsr_calibration_info cal;
    r->ceiling_gflops = 0;
    if (tsr_device_find(ctx, r->dev.id, &idx) != TSR_OK) {
        snprintf(r->ceiling_what, sizeof r->ceiling_what, "unknown (no device %s)", r->dev.id);
        return;
    }
    const char *how = "from the calibration";
    if (tsr_device_calibration(ctx, idx, &cal) != TSR_OK) {
        how = "measured now (no calibration was known)";
        if (tsr_device_calibrate(ctx, idx, 0, &cal) != TSR_OK) {
            snprintf(r->ceiling_what, sizeof r->ceiling_what, "unknown (calibration failed: %s)",
                     tsr_last_error(ctx)->message);
            return;
        }
    }
    int best = 0;
    for (int i = 1; i < cal.n_gemm; i++)
        if (cal.gemm[i].gflops > cal.gemm[best].gflops) best = i;
    r->ceiling_gflops = cal.gemm[best].gflops;
    const char *th = strstr(cal.key, "threads=");
    int threads = th ? atoi(th + 8) : 0;
    snprintf(r->ceiling_what, sizeof r->ceiling_what,
             "tessera's f32 GEMM %lldx%lldx%lld on %s, %d thread(s), %s",
             (long long)cal.gemm[best].m, (long long)cal.gemm[best].n, (long long)cal.gemm[best].k,
             r->dev.id, threads, how);
}

/* --profile: the conv / GEMM kernels of the plan with their FLOPs (kernel geometry), measured
 * median time per run, GFLOP/s and share of the device's GEMM ceiling, into r->layers. */
static void layer_table(tsr_context *ctx, tsr_plan *plan, size_t mark, int repeat,
                        struct device_result *r) {
    gemm_ceiling(ctx, r);
    r->layers = json_object_new_array();
    for (int i = 0; i < tsr_plan_kernel_count(plan); i++) {
        struct tsr_kernel_info ki;
        if (tsr_plan_kernel_info(plan, i, &ki) != TSR_OK || !ki.contraction[0]) continue;
        double ms = measured_kernel_ms(ctx, mark, &ki, repeat);
        double gf = !isnan(ms) && ms > 0 ? (double)ki.core_flops / (ms * 1e-3) / 1e9 : NAN;
        json_object *row = json_object_new_object();
        json_object_object_add(row, "index", json_object_new_int(i));
        json_object_object_add(row, "kernel", json_object_new_string(ki.name));
        json_object_object_add(row, "contraction", json_object_new_string(ki.contraction));
        json_object_object_add(row, "geometry", json_object_new_string(ki.geometry));
        json_object_object_add(row, "flops", json_object_new_int64((int64_t)ki.core_flops));
        json_object_object_add(row, "measured_ms", isnan(ms) ? NULL : json_object_new_double(ms));
        json_object_object_add(row, "gflops", isnan(gf) ? NULL : json_object_new_double(gf));
        json_object_object_add(row, "percent_of_ceiling",
                               isnan(gf) || r->ceiling_gflops <= 0
                                   ? NULL
                                   : json_object_new_double(100.0 * gf / r->ceiling_gflops));
        json_object_object_add(row, "nodes", json_object_new_string(ki.nodes));
        json_object_array_add(r->layers, row);
    }
}

/* --profile as text: the per-layer table of layer_table. */
static void print_layers(const struct device_result *r) {
    size_t n = r->layers ? json_object_array_length(r->layers) : 0;
    printf("\nconv / GEMM kernels on %s (FLOPs from the kernel geometry: 2*batch*M*N*K, "
           "2*N*M*OH*OW*(C/group)*KH*KW; epilogues not counted)\n",
           r->dev.id);
    if (r->ceiling_gflops > 0)
        printf("ceiling: %.1f GFLOP/s = %s\n", r->ceiling_gflops, r->ceiling_what);
    else
        printf("ceiling: %s\n", r->ceiling_what);
    printf("  %-4s %-26s %-46s %10s %9s %8s %6s  %s\n", "#", "kernel", "geometry", "MFLOP",
           "meas_ms", "GFLOP/s", "%ceil", "nodes");
    double sum_ms = 0, sum_flops = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *row = json_object_array_get_idx(r->layers, i), *v;
        json_object_object_get_ex(row, "index", &v);
        int idx = json_object_get_int(v);
        json_object_object_get_ex(row, "kernel", &v);
        const char *name = json_object_get_string(v);
        json_object_object_get_ex(row, "geometry", &v);
        const char *geo = json_object_get_string(v);
        json_object_object_get_ex(row, "flops", &v);
        double flops = (double)json_object_get_int64(v);
        json_object_object_get_ex(row, "nodes", &v);
        const char *nodes = json_object_get_string(v);
        char ms[24] = "-", gf[24] = "-", pc[24] = "-";
        if (json_object_object_get_ex(row, "measured_ms", &v) && v) {
            snprintf(ms, sizeof ms, "%.4f", json_object_get_double(v));
            sum_ms += json_object_get_double(v);
            sum_flops += flops;
        }
        if (json_object_object_get_ex(row, "gflops", &v) && v)
            snprintf(gf, sizeof gf, "%.2f", json_object_get_double(v));
        if (json_object_object_get_ex(row, "percent_of_ceiling", &v) && v)
            snprintf(pc, sizeof pc, "%.1f", json_object_get_double(v));
        printf("  %-4d %-26.26s %-46.46s %10.3f %9s %8s %6s  %.60s\n", idx, name, geo, flops / 1e6,
               ms, gf, pc, nodes);
    }
    if (sum_ms > 0)
        printf("  all %zu conv / GEMM kernels: %.3f MFLOP in %.4f ms per run = %.2f GFLOP/s "
               "(%.1f%% of the ceiling); whole run: median %.4f ms\n",
               n, sum_flops / 1e6, sum_ms, sum_flops / (sum_ms * 1e-3) / 1e9,
               r->ceiling_gflops > 0 ? 100.0 * sum_flops / (sum_ms * 1e-3) / 1e9 / r->ceiling_gflops
                                     : 0.0,
               r->median_ms);
}

/* Compiles and runs on one device; fills r. Returns 0 or an exit code. */
static int run_on_device(tsr_context *ctx, tsr_graph *graph, const struct run_args *a,
                         struct run_data *data, const char *device, int write_outputs,
                         struct device_result *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->requested, sizeof r->requested, "%s", device);
    r->max_abs_err = NAN;
    r->accuracy = NAN;
    int profiling = a->profile || a->trace || a->json || a->explain;
    const uint64_t mark = prof_mark(ctx);
    tsr_profiler_enable(ctx, profiling);

    struct tsr_compile_options co = tsr_compile_options_default();
    co.device = a->device_given ? device : NULL; /* NULL: TSR_DEVICE, else auto */
    co.placement = a->placement;
    tsr_plan *plan = NULL;
    tsr_status st = tsr_compile(ctx, graph, &co, &plan);
    if (st != TSR_OK) return set_error(r, ctx, st, "compile");
    int n_out = tsr_plan_output_count(plan);
    struct tsr_tensor outs[MAX_FILES];
    memset(outs, 0, sizeof outs);
    double *times = NULL;
    int rc = 0;
    /* Symbolic input dims: specialise the plan for the inputs' shapes before anything asks it
     * for output shapes (a re-plan, profiled as a compile record, unless they are the compiled
     * shapes). */
    r->inputs = json_object_new_array();
    for (int i = 0; i < data->n_inputs; i++) {
        struct tsr_input_info info; /* symbolic dims, or a value input (e.g. a Reshape's shape) */
        if (tsr_plan_input_info(plan, i, &info) == TSR_OK && (info.n_symbolic || info.is_value))
            r->dynamic = 1;
    }
    if (r->dynamic) {
        double t0 = now_ms();
        st = tsr_plan_specialize_inputs(plan, data->inputs, (size_t)data->n_inputs);
        r->replan_ms = now_ms() - t0;
        if (st != TSR_OK) {
            rc = set_error(r, ctx, st, "specialise");
            goto done;
        }
    }
    for (int i = 0; i < data->n_inputs; i++) {
        struct tsr_input_info info;
        if (tsr_plan_input_info(plan, i, &info) != TSR_OK) continue;
        json_object *row = json_object_new_object(), *decl = json_object_new_array();
        json_object_object_add(row, "name", json_object_new_string(info.name));
        json_object_object_add(row, "shape", shape_json(&info.desc));
        for (int d = 0; d < info.rank; d++)
            json_object_array_add(
                decl, info.dim_names[d]
                          ? json_object_new_string(*info.dim_names[d] ? info.dim_names[d] : "?")
                          : json_object_new_int64(info.dims[d]));
        json_object_object_add(row, "declared", decl);
        json_object_array_add(r->inputs, row);
    }
    if (n_out > MAX_FILES) {
        snprintf(r->error, sizeof r->error, "the model has %d outputs, at most %d supported", n_out,
                 MAX_FILES);
        rc = r->exit_code = TSR_EXIT_USAGE;
        goto done;
    }
    for (int i = 0; i < n_out; i++) {
        struct tsr_tensor_desc d;
        tsr_plan_output_desc(plan, i, NULL, &d);
        if ((st = tsr_tensor_alloc(&d, &outs[i])) != TSR_OK) {
            rc = set_error(r, ctx, st, "output allocation");
            goto done;
        }
    }
    /* Warm-up run (not profiled, not timed): first-touch, lazy device work. */
    tsr_profiler_enable(ctx, 0);
    st = tsr_plan_run(plan, data->inputs, (size_t)data->n_inputs, outs, (size_t)n_out);
    if (st != TSR_OK) {
        rc = set_error(r, ctx, st, "run");
        goto done;
    }
    tsr_profiler_enable(ctx, profiling);
    times = calloc((size_t)a->repeat, sizeof *times);
    if (!times) {
        rc = set_error(r, ctx, TSR_E_NOMEM, "timing");
        goto done;
    }
    uint64_t allocs0 = pool_system_allocs(ctx, tsr_device_count(ctx));
    for (int k = 0; k < a->repeat; k++) {
        double t0 = now_ms();
        st = tsr_plan_run(plan, data->inputs, (size_t)data->n_inputs, outs, (size_t)n_out);
        times[k] = now_ms() - t0;
        if (st != TSR_OK) {
            rc = set_error(r, ctx, st, "run");
            goto done;
        }
    }
    r->allocs_in_timed_runs = pool_system_allocs(ctx, tsr_device_count(ctx)) - allocs0;
    qsort(times, (size_t)a->repeat, sizeof *times, cmp_double);
    r->min_ms = times[0];
    r->max_ms = times[a->repeat - 1];
    r->median_ms = (a->repeat % 2) ? times[a->repeat / 2]
                                   : 0.5 * (times[a->repeat / 2 - 1] + times[a->repeat / 2]);
    tsr_plan_device(plan, &r->dev);
    r->kernels = tsr_plan_kernel_count(plan);
    r->arena_bytes = tsr_plan_arena_bytes(plan);
    snprintf(r->reason, sizeof r->reason, "%s", tsr_plan_device_reason(plan));
    r->predicted_ms = tsr_plan_predicted_ms(plan);
    snprintf(r->placement, sizeof r->placement, "%s", tsr_plan_placement(plan));
    /* Fell back: the plan runs on another device than the one requested. Compare device
     * indices, not strings: "opencl" names opencl:0 (tsr_device_find), and the plan reports the
     * full id. "auto" (and "all", which requests each device by its full id) chooses no device. */
    int want_idx = -1, got_idx = -1;
    r->fell_back = strcmp(device, "auto") != 0 &&
                   tsr_device_find(ctx, device, &want_idx) == TSR_OK &&
                   tsr_device_find(ctx, r->dev.id, &got_idx) == TSR_OK && want_idx != got_idx;
    r->outputs = json_object_new_object();
    for (int i = 0; i < n_out; i++) {
        const char *nm = NULL;
        tsr_plan_output_desc(plan, i, &nm, NULL);
        json_object_object_add(r->outputs, nm, shape_json(&outs[i].desc));
    }
    /* Reference outputs. */
    if (a->n_expects > 0) r->max_abs_err = 0.0;
    for (int e = 0; e < a->n_expects; e++) {
        int oi = output_index(plan, &a->expects[e], e);
        const struct tsr_tensor *ref = &data->expects[e];
        char s0[160], s1[160];
        if (oi < 0) {
            {
                char outs_list[2048];
                list_io(NULL, plan, outs_list, sizeof outs_list);
                snprintf(r->error, sizeof r->error,
                         "--expect %s: the model has no such output (its outputs: %s)",
                         a->expects[e].name[0] ? a->expects[e].name : a->expects[e].path,
                         outs_list);
            }
            rc = r->exit_code = TSR_EXIT_USAGE;
            goto done;
        }
        if (ref->desc.dtype != TSR_F32 ||
            tsr_desc_elements(&ref->desc) != tsr_desc_elements(&outs[oi].desc)) {
            snprintf(r->error, sizeof r->error, "--expect %s: reference is %s, the output is %s",
                     a->expects[e].path, tsr_desc_format(&ref->desc, s0, sizeof s0),
                     tsr_desc_format(&outs[oi].desc, s1, sizeof s1));
            rc = r->exit_code = TSR_EXIT_USAGE;
            goto done;
        }
        const float *x = outs[oi].data, *y = ref->data;
        for (int64_t i = 0; i < tsr_desc_elements(&ref->desc); i++) {
            if (isnan(x[i]) && isnan(y[i])) continue; /* NaN matches NaN (the tests' rule) */
            double d = fabs((double)x[i] - (double)y[i]);
            if (isnan(d)) d = INFINITY;
            if (d > r->max_abs_err) r->max_abs_err = d;
        }
    }
    /* Top-1 accuracy of output 0 over its last dimension. */
    if (data->have_labels) {
        const struct tsr_tensor_desc *od = &outs[0].desc;
        int64_t classes = od->rank ? od->dims[od->rank - 1] : 1;
        int64_t rows = classes ? tsr_desc_elements(od) / classes : 0;
        const struct tsr_tensor *lb = &data->labels;
        if (tsr_desc_elements(&lb->desc) != rows) {
            char s0[160], s1[160];
            snprintf(r->error, sizeof r->error, "--labels %s: %s labels for output %s (%lld rows)",
                     a->labels, tsr_desc_format(&lb->desc, s0, sizeof s0),
                     tsr_desc_format(od, s1, sizeof s1), (long long)rows);
            rc = r->exit_code = TSR_EXIT_USAGE;
            goto done;
        }
        const float *x = outs[0].data;
        for (int64_t i = 0; i < rows; i++) {
            int64_t best = 0;
            for (int64_t c = 1; c < classes; c++)
                if (x[i * classes + c] > x[i * classes + best]) best = c;
            int64_t label = lb->desc.dtype == TSR_I64 ? ((const int64_t *)lb->data)[i]
                                                      : (int64_t)((const float *)lb->data)[i];
            r->correct += best == label;
        }
        r->total = (int)rows;
        r->accuracy = rows ? (double)r->correct / (double)rows : NAN;
    }
    if (write_outputs)
        for (int o = 0; o < a->n_outputs; o++) {
            int oi = output_index(plan, &a->outputs[o], o);
            if (oi < 0) {
                {
                    char outs_list[2048];
                    list_io(NULL, plan, outs_list, sizeof outs_list);
                    snprintf(r->error, sizeof r->error,
                             "--output %s: the model has no such output (its outputs: %s)",
                             a->outputs[o].name[0] ? a->outputs[o].name : a->outputs[o].path,
                             outs_list);
                }
                rc = r->exit_code = TSR_EXIT_USAGE;
                goto done;
            }
            if ((st = tsr_npy_save(a->outputs[o].path, &outs[oi])) != TSR_OK) {
                rc = set_error(r, NULL, st, "--output");
                goto done;
            }
        }
    r->profile = profile_json(ctx, prof_index(ctx, mark));
    if (a->explain || a->json) {
        r->plan = json_object_new_array();
        for (int i = 0; i < tsr_plan_kernel_count(plan); i++) {
            struct tsr_kernel_info ki;
            if (tsr_plan_kernel_info(plan, i, &ki) != TSR_OK) continue;
            json_object *row = json_object_new_object();
            json_object_object_add(row, "kernel", json_object_new_string(ki.name));
            json_object *nodes = json_object_new_array();
            char buf[4096];
            snprintf(buf, sizeof buf, "%s", ki.nodes);
            for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
                 t = strtok_r(NULL, ",", &save))
                json_object_array_add(nodes, json_object_new_string(t));
            json_object_object_add(row, "nodes", nodes);
            json_object_object_add(row, "device", json_object_new_string(ki.device));
            json_object_object_add(row, "bytes", json_object_new_int64((int64_t)ki.bytes));
            json_object_object_add(row, "flops", json_object_new_int64((int64_t)ki.flops));
            double pk = 0.0;
            int known = tsr_plan_kernel_predicted_ms(plan, i, &pk) == TSR_OK && isfinite(pk);
            json_object_object_add(row, "predicted_ms", known ? json_object_new_double(pk) : NULL);
            double mk = measured_kernel_ms(ctx, prof_index(ctx, mark), &ki, a->repeat);
            json_object_object_add(row, "measured_ms",
                                   isnan(mk) ? NULL : json_object_new_double(mk));
            json_object_array_add(r->plan, row);
        }
        tsr_plan_memory_info(plan, &r->memory);
    }
    if (a->profile) layer_table(ctx, plan, prof_index(ctx, mark), a->repeat, r);
    if (a->verify) {
        struct tsr_verify_kernel *vk = NULL;
        int nv = 0;
        struct tsr_compile_options vo = tsr_compile_options_default();
        vo.device = r->dev.id;
        st = tsr_verify(ctx, data->verify_graph ? data->verify_graph : graph, &vo, data->inputs,
                        (size_t)data->n_inputs, &vk, &nv);
        if (st != TSR_OK) {
            rc = set_error(r, ctx, st, "verify");
            goto done;
        }
        r->verify = json_object_new_array();
        for (int i = 0; i < nv; i++) {
            json_object *row = json_object_new_object();
            json_object_object_add(row, "kernel", json_object_new_string(vk[i].name));
            json_object_object_add(row, "nodes", json_object_new_string(vk[i].nodes));
            json_object_object_add(
                row, "max_abs_err",
                isnan(vk[i].max_abs_err) ? NULL : json_object_new_double(vk[i].max_abs_err));
            json_object_object_add(row, "max_ref",
                                   isnan(vk[i].max_ref) ? NULL
                                                        : json_object_new_double(vk[i].max_ref));
            json_object_array_add(r->verify, row);
        }
        free(vk);
    }
    r->ok = 1;
done:
    free(times);
    for (int i = 0; i < MAX_FILES; i++)
        tsr_tensor_free(&outs[i]);
    tsr_plan_destroy(plan);
    return rc;
}

/* --explain as text. */
static void print_explain(const struct device_result *r, int n_nodes) {
    size_t n = json_object_array_length(r->plan);
    printf(
        "\nplan (%s placement) on %s: %zu kernels for %d graph nodes; predicted %.4f ms per run, "
        "measured median %.4f ms (%+.0f%%)\n",
        r->placement, r->dev.id, n, n_nodes, r->predicted_ms, r->median_ms,
        r->median_ms > 0 ? 100.0 * (r->predicted_ms - r->median_ms) / r->median_ms : 0.0);
    if (r->dynamic) {
        printf("  specialised for");
        for (size_t i = 0; i < json_object_array_length(r->inputs); i++) {
            json_object *row = json_object_array_get_idx(r->inputs, i), *nm, *sh, *decl;
            json_object_object_get_ex(row, "name", &nm);
            json_object_object_get_ex(row, "shape", &sh);
            json_object_object_get_ex(row, "declared", &decl);
            printf("%s %s [", i ? ";" : "", json_object_get_string(nm));
            for (size_t d = 0; d < json_object_array_length(sh); d++)
                printf("%s%lld", d ? ", " : "",
                       (long long)json_object_get_int64(json_object_array_get_idx(sh, d)));
            printf("] (declared [");
            for (size_t d = 0; d < json_object_array_length(decl); d++)
                printf("%s%s", d ? ", " : "",
                       json_object_get_string(json_object_array_get_idx(decl, d)));
            printf("])");
        }
        printf("; %s in %.2f ms\n",
               r->replan_ms > 0 ? "re-planned (import + compile at these shapes)" : "specialised",
               r->replan_ms);
    }
    printf("  %-3s %-30s %-9s %12s %12s %9s %9s  %s\n", "#", "kernel", "device", "bytes", "flops",
           "pred_ms", "meas_ms", "nodes");
    for (size_t i = 0; i < n; i++) {
        json_object *row = json_object_array_get_idx(r->plan, i), *v;
        json_object_object_get_ex(row, "kernel", &v);
        const char *name = json_object_get_string(v);
        json_object_object_get_ex(row, "bytes", &v);
        long long bytes = (long long)json_object_get_int64(v);
        json_object_object_get_ex(row, "flops", &v);
        long long flops = (long long)json_object_get_int64(v);
        json_object_object_get_ex(row, "device", &v);
        const char *dev = json_object_get_string(v);
        char pred[24] = "-", meas[24] = "-";
        if (json_object_object_get_ex(row, "predicted_ms", &v) && v)
            snprintf(pred, sizeof pred, "%.4f", json_object_get_double(v));
        if (json_object_object_get_ex(row, "measured_ms", &v) && v)
            snprintf(meas, sizeof meas, "%.4f", json_object_get_double(v));
        json_object_object_get_ex(row, "nodes", &v);
        printf("  %-3zu %-30.30s %-9s %12lld %12lld %9s %9s  ", i, name, dev, bytes, flops, pred,
               meas);
        for (size_t k = 0; k < json_object_array_length(v); k++)
            printf("%s%s", k ? ", " : "", json_object_get_string(json_object_array_get_idx(v, k)));
        printf("\n");
    }
    const struct tsr_plan_memory *m = &r->memory;
    printf("  memory plan: %d intermediates, arena %zu bytes = %.2fx the liveness lower bound "
           "(%zu bytes); one buffer each would take %zu bytes\n",
           m->intermediates, m->arena_bytes,
           m->lower_bound_bytes ? (double)m->arena_bytes / (double)m->lower_bound_bytes : 1.0,
           m->lower_bound_bytes, m->unplanned_bytes);
}

/* --verify as text. */
static void print_verify(const struct device_result *r) {
    printf("\nverify on %s: each kernel against its nodes run unfused by the scalar reference\n",
           r->dev.id);
    printf("  %-3s %-34s %12s %12s  %s\n", "#", "kernel", "max_abs_err", "max|ref|", "nodes");
    for (size_t i = 0; i < json_object_array_length(r->verify); i++) {
        json_object *row = json_object_array_get_idx(r->verify, i), *k, *e, *m, *nd;
        json_object_object_get_ex(row, "kernel", &k);
        json_object_object_get_ex(row, "max_abs_err", &e);
        json_object_object_get_ex(row, "max_ref", &m);
        json_object_object_get_ex(row, "nodes", &nd);
        char es[32] = "n/a", ms[32] = "n/a";
        if (e) snprintf(es, sizeof es, "%.3g", json_object_get_double(e));
        if (m) snprintf(ms, sizeof ms, "%.3g", json_object_get_double(m));
        printf("  %-3zu %-34.34s %12s %12s  %s\n", i, json_object_get_string(k), es, ms,
               json_object_get_string(nd));
    }
}

static json_object *result_json(const struct device_result *r) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "requested_device", json_object_new_string(r->requested));
    if (!r->ok) {
        json_object_object_add(o, "error", json_object_new_string(r->error));
        return o;
    }
    json_object_object_add(o, "device", json_object_new_string(r->dev.id));
    json_object_object_add(o, "device_name", json_object_new_string(r->dev.name));
    json_object_object_add(o, "backend", json_object_new_string(r->dev.backend));
    json_object_object_add(o, "device_reason", json_object_new_string(r->reason));
    json_object_object_add(o, "fell_back", json_object_new_boolean(r->fell_back));
    json_object_object_add(o, "outputs", json_object_get(r->outputs));
    json_object_object_add(o, "max_abs_err",
                           isnan(r->max_abs_err) ? NULL : json_object_new_double(r->max_abs_err));
    json_object_object_add(o, "accuracy",
                           isnan(r->accuracy) ? NULL : json_object_new_double(r->accuracy));
    json_object_object_add(o, "median_ms", json_object_new_double(r->median_ms));
    json_object_object_add(o, "predicted_ms",
                           isfinite(r->predicted_ms) ? json_object_new_double(r->predicted_ms)
                                                     : NULL);
    json_object_object_add(o, "placement", json_object_new_string(r->placement));
    json_object_object_add(o, "min_ms", json_object_new_double(r->min_ms));
    json_object_object_add(o, "max_ms", json_object_new_double(r->max_ms));
    json_object_object_add(o, "kernels", json_object_new_int(r->kernels));
    json_object_object_add(o, "arena_bytes", json_object_new_int64((int64_t)r->arena_bytes));
    json_object_object_add(o, "pool_allocs_in_timed_runs",
                           json_object_new_int64((int64_t)r->allocs_in_timed_runs));
    json_object_object_add(o, "profile", json_object_get(r->profile));
    if (r->layers) {
        json_object_object_add(o, "layers", json_object_get(r->layers));
        json_object_object_add(o, "gemm_ceiling_gflops",
                               r->ceiling_gflops > 0 ? json_object_new_double(r->ceiling_gflops)
                                                     : NULL);
        json_object_object_add(o, "gemm_ceiling", json_object_new_string(r->ceiling_what));
    }
    if (r->plan) {
        json_object_object_add(o, "plan", json_object_get(r->plan));
        json_object_object_add(o, "arena_lower_bound_bytes",
                               json_object_new_int64((int64_t)r->memory.lower_bound_bytes));
        json_object_object_add(o, "unplanned_bytes",
                               json_object_new_int64((int64_t)r->memory.unplanned_bytes));
    }
    if (r->verify) json_object_object_add(o, "verify", json_object_get(r->verify));
    json_object_object_add(o, "inputs", json_object_get(r->inputs));
    json_object_object_add(o, "dynamic", json_object_new_boolean(r->dynamic));
    json_object_object_add(o, "replan_ms",
                           r->dynamic ? json_object_new_double(r->replan_ms) : NULL);
    return o;
}

static void print_result_text(const struct device_result *r, const struct run_args *a) {
    if (!r->ok) {
        printf("%-10s error: %s\n", r->requested, r->error);
        return;
    }
    printf("device:   %s (%s, %s backend%s%s)\n", r->dev.id, r->dev.name, r->dev.backend,
           r->dev.isa[0] ? ", isa " : "", r->dev.isa);
    printf("  why:    %s\n", r->reason);
    if (!isnan(r->accuracy))
        printf("  accuracy:    %.4f (%d/%d) against %s\n", r->accuracy, r->correct, r->total,
               a->labels);
    if (!isnan(r->max_abs_err))
        printf("  max abs err: %.3g against the reference\n", r->max_abs_err);
    printf("  time:        median %.4f ms per run over %d runs (min %.4f, max %.4f); predicted "
           "%.4f ms\n",
           r->median_ms, a->repeat, r->min_ms, r->max_ms, r->predicted_ms);
    printf("  kernels:     %d per run, arena %zu bytes, %llu pool allocations during timed runs\n",
           r->kernels, r->arena_bytes, (unsigned long long)r->allocs_in_timed_runs);
}

static void print_pools(tsr_context *ctx) {
    printf("\nmemory pools:\n  %-10s %14s %14s %14s %10s %10s %10s\n", "device", "in use B",
           "peak B", "reserved B", "allocs", "reuses", "system");
    for (int d = 0; d < tsr_device_count(ctx); d++) {
        struct tsr_device_info di;
        struct tsr_pool_stats s;
        if (tsr_device_get_info(ctx, d, &di) != TSR_OK || tsr_pool_get_stats(ctx, d, &s) != TSR_OK)
            continue;
        printf("  %-10s %14llu %14llu %14llu %10llu %10llu %10llu\n", di.id,
               (unsigned long long)s.bytes_in_use, (unsigned long long)s.peak_bytes,
               (unsigned long long)s.bytes_reserved, (unsigned long long)s.allocs,
               (unsigned long long)s.reuses, (unsigned long long)s.system_allocs);
    }
}

static int load_npy(const char *what, const char *path, struct tsr_tensor *t) {
    tsr_status st = tsr_npy_load(path, t);
    if (st != TSR_OK) {
        /* The library's message starts with the path: name it once. */
        const char *msg = tsr_last_error(NULL)->message;
        if (msg && strstr(msg, path)) return cli_fail(NULL, st, what);
        char buf[4200];
        snprintf(buf, sizeof buf, "%s %s", what, path);
        return cli_fail(NULL, st, buf);
    }
    return 0;
}

/* "x [batch, 64] float32, mask [batch, 128] int64": the model's inputs (or outputs) with their
 * declared shapes, for the error that names an input or output the model does not have. */
static void list_io(tsr_graph *graph, tsr_plan *plan, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = 0;
    int n = graph ? tsr_graph_input_count(graph) : tsr_plan_output_count(plan);
    for (int i = 0; i < n && used < size; i++) {
        const char *nm = NULL;
        char shape[160] = "";
        if (graph) {
            struct tsr_input_info info;
            nm = tsr_graph_input_name(graph, i);
            if (tsr_graph_input_info(graph, i, &info) == TSR_OK) {
                size_t k = (size_t)snprintf(shape, sizeof shape, "[");
                for (int d = 0; d < info.rank && k < sizeof shape; d++) {
                    if (info.dim_names[d])
                        k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%s", d ? ", " : "",
                                              *info.dim_names[d] ? info.dim_names[d] : "?");
                    else
                        k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%lld", d ? ", " : "",
                                              (long long)info.dims[d]);
                }
                if (k < sizeof shape)
                    snprintf(shape + k, sizeof shape - k, "] %s", tsr_dtype_name(info.desc.dtype));
            }
        } else {
            struct tsr_tensor_desc d;
            if (tsr_plan_output_desc(plan, i, &nm, &d) == TSR_OK)
                tsr_desc_format(&d, shape, sizeof shape);
        }
        used += (size_t)snprintf(buf + used, size - used, "%s%s %s", i ? ", " : "", nm ? nm : "?",
                                 shape);
    }
}

int cmd_run(int argc, char **argv) {
    struct run_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) return TSR_EXIT_OK; /* --help */
    if (rc) return rc;
    static char model_path[4096];
    if (!a.model) {
        const char *dir = cli_models_dir();
        a.bundled = 1;
        snprintf(model_path, sizeof model_path, "%s/digits.onnx", dir);
        a.model = model_path;
        /* The bundled reference and labels belong to the bundled input: with the user's own
         * --input they would be compared against the wrong images. */
        if (a.n_inputs == 0) {
            snprintf(a.inputs[0].path, sizeof a.inputs[0].path, "%s/digits_test_x.npy", dir);
            a.n_inputs = 1;
            if (a.n_expects == 0) {
                snprintf(a.expects[0].path, sizeof a.expects[0].path, "%s/digits_test_logits.npy",
                         dir);
                a.n_expects = 1;
            }
            if (!a.labels) {
                static char labels[4096];
                snprintf(labels, sizeof labels, "%s/digits_test_y.npy", dir);
                a.labels = labels;
            }
        }
    }

    struct run_data data;
    memset(&data, 0, sizeof data);
    tsr_context *ctx = NULL;
    tsr_graph *graph = NULL;
    struct device_result results[16];
    int n_results = 0;
    memset(results, 0, sizeof results);
    int exit_code = TSR_EXIT_OK;

    for (int i = 0; i < a.n_inputs; i++)
        if ((rc = load_npy("--input", a.inputs[i].path, &data.inputs[i]))) goto out_rc;
    data.n_inputs = a.n_inputs;
    for (int i = 0; i < a.n_expects; i++)
        if ((rc = load_npy("--expect", a.expects[i].path, &data.expects[i]))) goto out_rc;
    if (a.labels) {
        if ((rc = load_npy("--labels", a.labels, &data.labels))) goto out_rc;
        data.have_labels = 1;
    }

    struct tsr_context_options copts = a.limits; /* the --max-* options, else zeros */
    copts.profile = a.profile || a.trace != NULL;
    tsr_status st = tsr_context_create(&copts, &ctx);
    if (st != TSR_OK) {
        rc = cli_fail(NULL, st, "cannot create a context");
        goto out_rc;
    }
    /* Import once, without overrides: symbolic input dims stay symbolic and the plan is
     * specialised for the inputs' shapes when it runs (run_on_device). */
    st = tsr_onnx_import_file(ctx, a.model, NULL, 0, &graph);
    if (st != TSR_OK) {
        rc = cli_fail(ctx, st, "import");
        goto out_rc;
    }
    int n_graph_inputs = tsr_graph_input_count(graph);
    char io_list[2048];
    list_io(graph, NULL, io_list, sizeof io_list);
    /* NAME=FILE is split at the first '=': a NAME that is no input of the model is refused with
     * the list of its inputs (a path with '=' in it can be given as NAME=PATH). */
    for (int k = 0; k < a.n_inputs; k++) {
        if (!a.inputs[k].name[0]) continue;
        int known = 0;
        for (int i = 0; i < n_graph_inputs; i++)
            known |= !strcmp(a.inputs[k].name, tsr_graph_input_name(graph, i));
        if (!known) {
            rc = cli_usage_error("--input %s=%s: the model has no input '%s' (its inputs: %s; a "
                                 "path with '=' in it goes after NAME=)",
                                 a.inputs[k].name, a.inputs[k].path, a.inputs[k].name, io_list);
            goto out_rc;
        }
    }
    if (a.n_inputs != n_graph_inputs) {
        rc = cli_usage_error("the model has %d input(s) (%s), %d --input given", n_graph_inputs,
                             io_list, a.n_inputs);
        goto out_rc;
    }
    struct tsr_input_shape shapes[MAX_FILES];
    struct tsr_tensor ordered[MAX_FILES];
    for (int i = 0; i < n_graph_inputs; i++) {
        const char *nm = tsr_graph_input_name(graph, i);
        int found = -1;
        for (int k = 0; k < a.n_inputs; k++)
            if (!strcmp(a.inputs[k].name, nm)) found = k;
        if (found < 0 && !a.inputs[i].name[0]) found = i;
        if (found < 0) {
            rc = cli_usage_error("no --input for model input '%s' (its inputs: %s)", nm, io_list);
            goto out_rc;
        }
        shapes[i].name = nm;
        shapes[i].desc = data.inputs[found].desc;
        shapes[i].data = data.inputs[found].data; /* used for value inputs only */
        ordered[i] = data.inputs[found];
    }
    memcpy(data.inputs, ordered, sizeof(struct tsr_tensor) * (size_t)n_graph_inputs);
    /* --verify checks a plan compiled for the inputs' shapes: import at them. */
    int symbolic = 0;
    for (int i = 0; i < n_graph_inputs; i++) {
        struct tsr_input_info info;
        if (tsr_graph_input_info(graph, i, &info) == TSR_OK) symbolic += info.n_symbolic;
    }
    if (a.verify && symbolic) {
        st = tsr_onnx_import_file(ctx, a.model, shapes, (size_t)n_graph_inputs, &data.verify_graph);
        if (st != TSR_OK) {
            rc = cli_fail(ctx, st, "import");
            goto out_rc;
        }
    }

    /* Devices. */
    const char *devices[16];
    int n_dev = 0;
    if (!strcmp(a.device, "all")) {
        for (int d = 0; d < tsr_device_count(ctx) && n_dev < 16; d++) {
            static struct tsr_device_info infos[16];
            tsr_device_get_info(ctx, d, &infos[d]);
            devices[n_dev++] = infos[d].id;
        }
    } else {
        devices[n_dev++] = a.device;
    }
    int compare = !strcmp(a.device, "all"); /* always the comparison table, even for one device */
    int wrote_outputs = 0;
    for (int d = 0; d < n_dev; d++) {
        if (!a.json && compare) fprintf(stderr, "tessera: running on %s ...\n", devices[d]);
        int e = run_on_device(ctx, graph, &a, &data, devices[d], !wrote_outputs, &results[d]);
        n_results = d + 1;
        if (results[d].ok) wrote_outputs = 1;
        if (e && !compare) {
            fprintf(stderr, "tessera: error: %s\n", results[d].error);
            exit_code = e;
            goto out;
        }
        if (e) exit_code = e;
    }

    if (a.json) {
        json_object *root;
        if (!compare) {
            root = result_json(&results[0]);
        } else {
            root = json_object_new_object();
            json_object *runs = json_object_new_array();
            double best = INFINITY;
            const char *fastest = NULL;
            for (int d = 0; d < n_results; d++) {
                json_object_array_add(runs, result_json(&results[d]));
                if (results[d].ok && results[d].median_ms < best) {
                    best = results[d].median_ms;
                    fastest = results[d].dev.id;
                }
            }
            json_object_object_add(root, "runs", runs);
            json_object_object_add(root, "fastest",
                                   fastest ? json_object_new_string(fastest) : NULL);
        }
        json_object_object_add(root, "model", json_object_new_string(a.model));
        json_object_object_add(root, "repeat", json_object_new_int(a.repeat));
        cli_print_json(root);
        json_object_put(root);
    } else {
        printf("model: %s (%d nodes)\n", a.model, tsr_graph_node_count(graph));
        if (!compare) {
            print_result_text(&results[0], &a);
        } else {
            printf("\n%-10s %-8s %-40s %9s %12s %11s %8s\n", "device", "backend", "name",
                   "accuracy", "max_abs_err", "median_ms", "kernels");
            for (int d = 0; d < n_results; d++) {
                const struct device_result *r = &results[d];
                if (!r->ok) {
                    printf("%-10s error: %s\n", r->requested, r->error);
                    continue;
                }
                char acc[32] = "-", err[32] = "-";
                if (!isnan(r->accuracy)) snprintf(acc, sizeof acc, "%.4f", r->accuracy);
                if (!isnan(r->max_abs_err)) snprintf(err, sizeof err, "%.3g", r->max_abs_err);
                printf("%-10s %-8s %-40.40s %9s %12s %11.4f %8d\n", r->dev.id, r->dev.backend,
                       r->dev.name, acc, err, r->median_ms, r->kernels);
            }
            printf(
                "\nmedian of %d timed runs after one warm-up; ratios are only meaningful side by "
                "side in one run.\n",
                a.repeat);
        }
        for (int d = 0; d < n_results; d++) {
            if (!results[d].ok) continue;
            if (a.explain) print_explain(&results[d], tsr_graph_node_count(graph));
            if (a.verify) print_verify(&results[d]);
        }
        if (a.profile) {
            printf("\nprofile (timed runs and compiles; warm-up excluded):\n");
            tsr_profiler_print_table(ctx, stdout);
            print_pools(ctx);
            for (int d = 0; d < n_results; d++)
                if (results[d].ok) print_layers(&results[d]);
        }
    }
    if (a.trace) {
        st = tsr_profiler_write_trace(ctx, a.trace);
        if (st != TSR_OK) {
            exit_code = cli_fail(ctx, st, "--trace");
            goto out;
        }
        if (!a.json) printf("\ntrace written to %s (open in https://ui.perfetto.dev)\n", a.trace);
    }
out:
    for (int d = 0; d < n_results; d++) {
        json_object_put(results[d].profile);
        json_object_put(results[d].outputs);
        json_object_put(results[d].plan);
        json_object_put(results[d].verify);
        json_object_put(results[d].inputs);
        json_object_put(results[d].layers);
    }
    rc = exit_code;
out_rc:
    tsr_graph_destroy(data.verify_graph);
    tsr_graph_destroy(graph);
    tsr_context_destroy(ctx);
    for (int i = 0; i < MAX_FILES; i++) {
        tsr_tensor_free(&data.inputs[i]);
        tsr_tensor_free(&data.expects[i]);
    }
    tsr_tensor_free(&data.labels);
    return rc;
}
