/*
 * conformance.c — runs ONNX's backend node tests (onnx/backend/test/data/node/<test>/model.onnx
 * with test_data_set_N/{input,output}_K.pb) on one tessera device and gates on checked-in lists.
 *
 *   conformance --data DIR --device cpu|opencl:N --lists DIR [--report FILE] [--log FILE]
 *               [--update-lists] [--only NAME]... [--timeout S] [--mem-mb N]
 *
 * Selection: every test directory of the ai.onnx domain whose graph inputs and outputs are plain
 * tensors of non-exotic element types; the others (ai.onnx.ml, ai.onnx.preview.training,
 * sequence / optional / map values, float8*, int4/uint4, float4, bfloat16, complex, string) are
 * counted as "excluded". Each selected test is imported with tsr_onnx_import_file (input shapes
 * from its .pb files), compiled for the device (allow_fallback 0, placement single), run on every
 * data set, and compared as ONNX's runner does (onnx/backend/test/runner: numpy's
 * assert_allclose with rtol 1e-3, atol 1e-7 unless a data.json says otherwise; same shape and
 * dtype; non-float outputs exactly; NaN equals NaN).
 *
 * Outcomes: pass, wrong (ran, mismatched), refused (import / compile / run returned a status:
 * its name and message are kept), crash (a signal, an exit, or over the time limit).
 * Isolation: tests run in a forked worker process (rlimit on its address space, except under
 * sanitizers), one worker for many tests; the parent watches it through a pipe with a deadline
 * per test. When a worker dies, the test it was running is rerun alone in a fresh worker, so a
 * crash is attributed to the test that causes it, and the run goes on with the next test.
 *
 * Gate (exit 1): an expected test (expected_<backend>.txt) that does not pass, any wrong result,
 * any crash, unless the pair (test, backend) is in known_wrong.txt. Newly passing tests are
 * listed (--update-lists rewrites expected_<backend>.txt with the current passes). Exit 77: the
 * device is absent and TSR_EXPECT_OPENCL=0 says that is expected (ctest: skipped).
 */
#include "tessera.h"

#include "onnx/onnx.pb-c.h"

#include <json-c/json.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CONF_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CONF_SANITIZED 1
#endif
#endif
#ifndef CONF_SANITIZED
#define CONF_SANITIZED 0
#endif

/* ------------------------------------------------------------------------------------------ */
/* Element types, keyed by ONNX TensorProto.DataType                                          */
/* ------------------------------------------------------------------------------------------ */

enum conf_kind { K_FLOAT, K_HALF, K_INT, K_UINT, K_BOOL };

/* The non-exotic ONNX element types. tsr_dtype uses the same numbers (tessera.h), so whether
 * the library knows one is tsr_dtype_size((tsr_dtype)onnx) != 0: this table needs no change
 * when dtypes are added to tsr_dtype. */
struct conf_dtype {
    int onnx; /* TensorProto.DataType */
    const char *name;
    size_t size; /* bytes per element in ONNX raw_data (and NumPy) */
    enum conf_kind kind;
};
static const struct conf_dtype conf_dtypes[] = {
    {1, "float32", 4, K_FLOAT},  {2, "uint8", 1, K_UINT},   {3, "int8", 1, K_INT},
    {4, "uint16", 2, K_UINT},    {5, "int16", 2, K_INT},    {6, "int32", 4, K_INT},
    {7, "int64", 8, K_INT},      {9, "bool", 1, K_BOOL},    {10, "float16", 2, K_HALF},
    {11, "float64", 8, K_FLOAT}, {12, "uint32", 4, K_UINT}, {13, "uint64", 8, K_UINT},
};

/* Entry of `onnx` in conf_dtypes, or NULL (exotic or unknown: string, complex, bfloat16,
 * float8*, int4/uint4, float4). */
static const struct conf_dtype *conf_dtype(int onnx) {
    for (size_t i = 0; i < sizeof conf_dtypes / sizeof conf_dtypes[0]; i++)
        if (conf_dtypes[i].onnx == onnx) return &conf_dtypes[i];
    return NULL;
}

/* Whether libtessera has `d` as a tsr_dtype of the same element size. */
static int conf_dtype_known(const struct conf_dtype *d) {
    return d && tsr_dtype_size((tsr_dtype)d->onnx) == d->size;
}

/* IEEE 754 binary16 bits → double. */
static double half_to_double(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 0)
        v = ldexp(m, -24);
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexp(m + 1024, e - 25);
    return s ? -v : v;
}

/* Element i of a buffer of type d as a double (floats) or its exact integer bits. */
static double elem_f(const struct conf_dtype *d, const void *p, size_t i) {
    const unsigned char *b = (const unsigned char *)p + i * d->size;
    if (d->kind == K_HALF) {
        uint16_t h;
        memcpy(&h, b, 2);
        return half_to_double(h);
    }
    if (d->size == 4) {
        float f;
        memcpy(&f, b, 4);
        return f;
    }
    double v;
    memcpy(&v, b, 8);
    return v;
}
static int64_t elem_i(const struct conf_dtype *d, const void *p, size_t i) {
    const unsigned char *b = (const unsigned char *)p + i * d->size;
    if (d->kind == K_BOOL) return b[0] != 0;
    if (d->kind == K_UINT) {
        uint64_t u = 0;
        memcpy(&u, b, d->size); /* little-endian host */
        return (int64_t)u;
    }
    switch (d->size) {
    case 1:
        return (int8_t)b[0];
    case 2: {
        int16_t v;
        memcpy(&v, b, 2);
        return v;
    }
    case 4: {
        int32_t v;
        memcpy(&v, b, 4);
        return v;
    }
    default: {
        int64_t v;
        memcpy(&v, b, 8);
        return v;
    }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */
/* ------------------------------------------------------------------------------------------ */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Reads a whole file; NULL when it cannot be read. *size gets its length. Caller frees. */
static unsigned char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        unsigned char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = n;
    return buf;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static Onnx__ModelProto *load_model(const char *path) {
    size_t n;
    unsigned char *b = read_all(path, &n);
    if (!b) return NULL;
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, b);
    free(b);
    return m;
}

static int is_initializer(const Onnx__GraphProto *g, const char *name) {
    for (size_t i = 0; i < g->n_initializer; i++)
        if (g->initializer[i]->name && !strcmp(g->initializer[i]->name, name)) return 1;
    return 0;
}

/* A string list (test names). */
struct strlist {
    char **v;
    size_t n, cap;
};
static void sl_add(struct strlist *l, const char *s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) abort();
    }
    l->v[l->n++] = strdup(s);
}
static void sl_free(struct strlist *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}
static int sl_has(const struct strlist *l, const char *s) {
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s)) return 1;
    return 0;
}
static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ------------------------------------------------------------------------------------------ */
/* Selection                                                                                   */
/* ------------------------------------------------------------------------------------------ */

enum outcome { O_PASS, O_WRONG, O_REFUSED, O_CRASH, O_EXCLUDED, O_COUNT };
static const char *const outcome_names[] = {"pass", "wrong", "refused", "crash", "excluded"};

struct test {
    char *name;
    char dir[1024];
    enum outcome outcome;
    char status[32]; /* tsr_status name for refusals; "" otherwise */
    char stage[16];  /* import, compile, run, data, compare, worker */
    char message[1600];
    double ms;
    double rtol, atol;
};

/* Why a test is excluded (a static string), or NULL when it is selected. */
static const char *exclusion(const Onnx__ModelProto *m, char *buf, size_t size) {
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const char *d = m->opset_import[i]->domain ? m->opset_import[i]->domain : "";
        if (*d && strcmp(d, "ai.onnx")) {
            snprintf(buf, size, "domain %s", d);
            return buf;
        }
    }
    const Onnx__GraphProto *g = m->graph;
    if (!g) return "no graph";
    for (size_t i = 0; i < g->n_node; i++) {
        const char *d = g->node[i]->domain ? g->node[i]->domain : "";
        if (*d && strcmp(d, "ai.onnx")) {
            snprintf(buf, size, "domain %s", d);
            return buf;
        }
    }
    for (size_t k = 0; k < g->n_input + g->n_output; k++) {
        const Onnx__ValueInfoProto *vi = k < g->n_input ? g->input[k] : g->output[k - g->n_input];
        if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
            !vi->type->tensor_type) {
            const char *what = "non-tensor";
            if (vi->type && vi->type->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE)
                what = "sequence";
            else if (vi->type && vi->type->value_case == ONNX__TYPE_PROTO__VALUE_MAP_TYPE)
                what = "map";
            else if (vi->type && vi->type->value_case == 9 /* optional_type (IR 8) */)
                what = "optional";
            snprintf(buf, size, "%s value '%s'", what, vi->name ? vi->name : "");
            return buf;
        }
        int et = (int)vi->type->tensor_type->elem_type;
        if (!conf_dtype(et)) {
            snprintf(buf, size, "exotic element type %d of '%s'", et, vi->name ? vi->name : "");
            return buf;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* The worker: runs tests [from, to) and writes one line per test to fd                        */
/* ------------------------------------------------------------------------------------------ */

struct wres {
    enum outcome outcome;
    char status[32];
    char stage[16];
    char message[1500];
};

static void wset(struct wres *r, enum outcome o, const char *status, const char *stage,
                 const char *fmt, ...) {
    r->outcome = o;
    snprintf(r->status, sizeof r->status, "%s", status ? status : "");
    snprintf(r->stage, sizeof r->stage, "%s", stage);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

static void wset_status(struct wres *r, tsr_status st, const char *stage) {
    const char *msg = tsr_last_error(NULL)->message;
    wset(r, O_REFUSED, tsr_status_name(st), stage, "%s", msg && *msg ? msg : tsr_status_str(st));
}

/* A tensor read from a .pb file, in the library's layout. */
struct ptensor {
    char name[256];
    const struct conf_dtype *dt;
    int rank;
    int64_t dims[TSR_MAX_RANK];
    size_t elems;
    void *data;
};

/* Reads TensorProto `path` into *t (raw_data or the typed field of its type, little-endian).
 * Returns 0, or -1 with the reason in r (stage "data"; a dtype outside conf_dtypes or unknown to
 * the library is a refusal TSR_E_DTYPE). */
static int read_pb(const char *path, struct ptensor *t, struct wres *r) {
    memset(t, 0, sizeof *t);
    size_t n;
    unsigned char *b = read_all(path, &n);
    if (!b) {
        wset(r, O_REFUSED, "TSR_E_IO", "data", "runner: cannot read %s", path);
        return -1;
    }
    Onnx__TensorProto *p = onnx__tensor_proto__unpack(NULL, n, b);
    free(b);
    if (!p) {
        wset(r, O_REFUSED, "TSR_E_PARSE", "data", "runner: %s is not a TensorProto", path);
        return -1;
    }
    int rc = -1;
    snprintf(t->name, sizeof t->name, "%s", p->name ? p->name : "");
    t->dt = conf_dtype((int)p->data_type);
    if (!t->dt) {
        wset(r, O_REFUSED, "TSR_E_DTYPE", "data", "runner: %s has exotic data type %d", path,
             (int)p->data_type);
        goto out;
    }
    if (p->n_dims > TSR_MAX_RANK) {
        wset(r, O_REFUSED, "TSR_E_UNSUPPORTED", "data", "runner: %s has rank %zu (at most %d)",
             path, p->n_dims, TSR_MAX_RANK);
        goto out;
    }
    t->rank = (int)p->n_dims;
    t->elems = 1;
    for (int i = 0; i < t->rank; i++) {
        t->dims[i] = p->dims[i];
        t->elems *= (size_t)p->dims[i];
    }
    const size_t es = t->dt->size;
    t->data = calloc(t->elems ? t->elems : 1, es);
    if (!t->data) {
        wset(r, O_REFUSED, "TSR_E_NOMEM", "data", "runner: out of memory for %s", path);
        goto out;
    }
    size_t have;
    if (p->has_raw_data && p->raw_data.len > 0) {
        have = p->raw_data.len / es;
        if (p->raw_data.len % es == 0 && have == t->elems)
            memcpy(t->data, p->raw_data.data, p->raw_data.len);
    } else {
        unsigned char *o = t->data;
        switch (t->dt->onnx) {
        case 1:
            have = p->n_float_data;
            if (have == t->elems && have) memcpy(o, p->float_data, have * 4);
            break;
        case 11:
            have = p->n_double_data;
            if (have == t->elems && have) memcpy(o, p->double_data, have * 8);
            break;
        case 7:
            have = p->n_int64_data;
            if (have == t->elems && have) memcpy(o, p->int64_data, have * 8);
            break;
        case 12:
        case 13:
            have = p->n_uint64_data;
            for (size_t i = 0; have == t->elems && i < have; i++)
                memcpy(o + i * es, &p->uint64_data[i], es); /* low bytes, little-endian */
            break;
        default: /* int32_data: int32, int16, int8, uint16, uint8, bool, float16 (bits) */
            have = p->n_int32_data;
            for (size_t i = 0; have == t->elems && i < have; i++)
                memcpy(o + i * es, &p->int32_data[i], es);
            break;
        }
    }
    if (have != t->elems) {
        wset(r, O_REFUSED, "TSR_E_PARSE", "data", "runner: %s holds %zu elements for %zu of shape",
             path, have, t->elems);
        goto out;
    }
    rc = 0;
out:
    onnx__tensor_proto__free_unpacked(p, NULL);
    return rc;
}

static void ptensors_free(struct ptensor *t, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(t[i].data);
}

/* Compares output k: got (plan's desc, data) with exp. Returns 0 when they agree, else -1 with
 * the difference in r (wrong). */
static int compare(int k, const char *name, const struct tsr_tensor *got, const struct ptensor *exp,
                   double rtol, double atol, struct wres *r) {
    char gd[128];
    tsr_desc_format(&got->desc, gd, sizeof gd);
    char ed[160];
    int off = 0;
    off += snprintf(ed + off, sizeof ed - off, "[");
    for (int i = 0; i < exp->rank; i++)
        off +=
            snprintf(ed + off, sizeof ed - off, "%s%lld", i ? ", " : "", (long long)exp->dims[i]);
    snprintf(ed + off, sizeof ed - off, "] %s", exp->dt->name);
    int same = (int)got->desc.dtype == exp->dt->onnx && got->desc.rank == exp->rank;
    for (int i = 0; same && i < exp->rank; i++)
        same = got->desc.dims[i] == exp->dims[i];
    if (!same) {
        wset(r, O_WRONG, "", "compare", "output %d '%s': got %s, expected %s", k, name, gd, ed);
        return -1;
    }
    size_t bad = 0, worst = 0;
    double worst_excess = -1, wg = 0, we = 0;
    int is_float = exp->dt->kind == K_FLOAT || exp->dt->kind == K_HALF;
    for (size_t i = 0; i < exp->elems; i++) {
        if (is_float) {
            double g = elem_f(exp->dt, got->data, i), e = elem_f(exp->dt, exp->data, i);
            if (isnan(e) && isnan(g)) continue;
            if (g == e) continue; /* equal infinities too */
            double tol = atol + rtol * fabs(e), diff = fabs(g - e);
            if (diff <= tol) continue;
            bad++;
            double excess = isnan(diff) || isinf(diff) ? INFINITY : diff - tol;
            if (excess > worst_excess || bad == 1) {
                worst_excess = excess;
                worst = i;
                wg = g;
                we = e;
            }
        } else {
            int64_t g = elem_i(exp->dt, got->data, i), e = elem_i(exp->dt, exp->data, i);
            if (g == e) continue;
            if (!bad) {
                worst = i;
                wg = (double)g;
                we = (double)e;
            }
            bad++;
        }
    }
    if (!bad) return 0;
    wset(r, O_WRONG, "", "compare",
         "output %d '%s' %s: %zu of %zu elements differ (rtol %g, atol %g); e.g. flat index %zu: "
         "got %.9g, expected %.9g",
         k, name, gd, bad, exp->elems, rtol, atol, worst, wg, we);
    return -1;
}

/* Runs one test on device `device`; the result goes to r. */
static void run_test(tsr_context *ctx, const char *device, const struct test *t, struct wres *r) {
    char path[1400];
    snprintf(path, sizeof path, "%s/model.onnx", t->dir);
    Onnx__ModelProto *m = load_model(path);
    if (!m) {
        wset(r, O_REFUSED, "TSR_E_PARSE", "data", "runner: cannot parse %s", path);
        return;
    }
    const Onnx__GraphProto *g = m->graph;
    const char *in_names[64];
    size_t n_in = 0;
    for (size_t i = 0; i < g->n_input && n_in < 64; i++)
        if (!is_initializer(g, g->input[i]->name)) in_names[n_in++] = g->input[i]->name;
    wset(r, O_PASS, "", "", "");
    for (int ds = 0; r->outcome == O_PASS; ds++) {
        char dsdir[1400];
        snprintf(dsdir, sizeof dsdir, "%s/test_data_set_%d", t->dir, ds);
        if (!file_exists(dsdir)) {
            if (ds == 0) wset(r, O_REFUSED, "TSR_E_IO", "data", "runner: %s has no data", t->dir);
            break;
        }
        struct ptensor ins[64], outs[64];
        size_t ni = 0, no = 0;
        int ok = 1;
        for (; ok && ni < 64; ni++) {
            snprintf(path, sizeof path, "%s/input_%zu.pb", dsdir, ni);
            if (!file_exists(path)) break;
            if (read_pb(path, &ins[ni], r)) ok = 0;
        }
        for (; ok && no < 64; no++) {
            snprintf(path, sizeof path, "%s/output_%zu.pb", dsdir, no);
            if (!file_exists(path)) break;
            if (read_pb(path, &outs[no], r)) ok = 0;
        }
        if (!ok) {
            ptensors_free(ins, ni);
            ptensors_free(outs, no);
            break;
        }
        if (ni != n_in) {
            wset(r, O_REFUSED, "TSR_E_PARSE", "data",
                 "runner: data set %d has %zu inputs for %zu graph inputs", ds, ni, n_in);
        }
        /* A dtype the library does not have is refused here (the import would not get its
         * shape override through). */
        for (size_t i = 0; r->outcome == O_PASS && i < ni; i++)
            if (!conf_dtype_known(ins[i].dt))
                wset(r, O_REFUSED, "TSR_E_DTYPE", "import",
                     "runner: graph input '%s' is %s (ONNX type %d), not a tessera dtype",
                     in_names[i], ins[i].dt->name, ins[i].dt->onnx);
        struct tsr_input_shape shapes[64];
        for (size_t i = 0; r->outcome == O_PASS && i < ni; i++) {
            shapes[i].name = in_names[i];
            memset(&shapes[i].desc, 0, sizeof shapes[i].desc);
            shapes[i].desc.dtype = (tsr_dtype)ins[i].dt->onnx;
            shapes[i].desc.rank = ins[i].rank;
            memcpy(shapes[i].desc.dims, ins[i].dims, sizeof ins[i].dims);
            shapes[i].data = ins[i].data; /* bound only where the input is a value input */
        }
        tsr_graph *graph = NULL;
        tsr_plan *plan = NULL;
        tsr_status st;
        snprintf(path, sizeof path, "%s/model.onnx", t->dir);
        if (r->outcome == O_PASS &&
            (st = tsr_onnx_import_file(ctx, path, shapes, ni, &graph)) != TSR_OK)
            wset_status(r, st, "import");
        if (r->outcome == O_PASS) {
            struct tsr_compile_options co = tsr_compile_options_default();
            co.device = device;
            co.allow_fallback = 0;
            co.placement = "single";
            if ((st = tsr_compile(ctx, graph, &co, &plan)) != TSR_OK) wset_status(r, st, "compile");
        }
        struct tsr_tensor tin[64], tout[64];
        int nin = plan ? tsr_plan_input_count(plan) : 0;
        int nout = plan ? tsr_plan_output_count(plan) : 0;
        memset(tout, 0, sizeof tout);
        if (r->outcome == O_PASS && (nin > 64 || nout > 64 || (size_t)nout != no))
            wset(r, O_WRONG, "", "compare",
                 "the plan has %d inputs and %d outputs; %zu and %zu "
                 "expected",
                 nin, nout, ni, no);
        for (int i = 0; r->outcome == O_PASS && i < nin; i++) {
            const char *pname;
            tsr_plan_input_desc(plan, i, &pname, &tin[i].desc);
            size_t k = 0;
            while (k < ni && strcmp(in_names[k], pname))
                k++;
            if (k == ni) {
                wset(r, O_WRONG, "", "compare", "plan input '%s' is not a graph input", pname);
                break;
            }
            tin[i].data = ins[k].data;
        }
        for (int i = 0; r->outcome == O_PASS && i < nout; i++) {
            const char *pname;
            struct tsr_tensor_desc od;
            tsr_plan_output_desc(plan, i, &pname, &od);
            if (tsr_tensor_alloc(&od, &tout[i]) != TSR_OK)
                wset(r, O_REFUSED, "TSR_E_NOMEM", "run", "runner: cannot allocate output %d", i);
        }
        if (r->outcome == O_PASS &&
            (st = tsr_plan_run(plan, tin, (size_t)nin, tout, (size_t)nout)) != TSR_OK)
            wset_status(r, st, "run");
        for (int i = 0; r->outcome == O_PASS && i < nout; i++) {
            const char *pname = "";
            struct tsr_tensor_desc d;
            tsr_plan_output_desc(plan, i, &pname, &d);
            compare(i, pname, &tout[i], &outs[i], t->rtol, t->atol, r);
        }
        if (r->outcome != O_PASS && ds > 0) {
            char tmp[sizeof r->message];
            snprintf(tmp, sizeof tmp, "data set %d: %s", ds, r->message);
            memcpy(r->message, tmp, sizeof tmp);
        }
        for (int i = 0; i < nout; i++)
            tsr_tensor_free(&tout[i]);
        tsr_plan_destroy(plan);
        tsr_graph_destroy(graph);
        ptensors_free(ins, ni);
        ptensors_free(outs, no);
    }
    onnx__model_proto__free_unpacked(m, NULL);
}

/* Writes all of buf to fd. */
static void write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            _exit(3);
        }
        buf += w;
        n -= (size_t)w;
    }
}

/* Replaces tabs and newlines so that a message stays one field of one line. */
static void flatten(char *s) {
    for (; *s; s++)
        if (*s == '\t' || *s == '\n' || *s == '\r') *s = ' ';
}

/* Whether env TSR_CONFORMANCE_INJECT (comma list of "crash:<test>" / "hang:<test>", for the
 * runner's own test, tests/conformance/selftest.sh) asks for `what` at test `name`. */
static int injected(const char *what, const char *name) {
    const char *e = getenv("TSR_CONFORMANCE_INJECT");
    char want[300];
    snprintf(want, sizeof want, "%s:%s", what, name);
    size_t n = strlen(want);
    for (const char *p = e; p && *p; p += strcspn(p, ","), p += *p == ',')
        if (strcspn(p, ",") == n && !strncmp(p, want, n)) return 1;
    return 0;
}

/* The worker process: one context, tests [from, to) in order. Protocol, one line each:
 * "NODEVICE\t<message>" (then exit 0), or "READY" then per test
 * "<index>\t<outcome>\t<status>\t<stage>\t<ms>\t<msg>". */
static void worker(int fd, const char *device, const struct test *tests, size_t from, size_t to,
                   long mem_mb) {
    if (!CONF_SANITIZED && mem_mb > 0) {
        struct rlimit rl = {(rlim_t)mem_mb << 20, (rlim_t)mem_mb << 20};
        setrlimit(RLIMIT_AS, &rl);
    }
    struct tsr_context_options opts = {0};
    opts.disable_opencl = !strcmp(device, "cpu");
    tsr_context *ctx = NULL;
    char line[2048];
    tsr_status st = tsr_context_create(&opts, &ctx);
    int idx;
    if (st == TSR_OK && (st = tsr_device_find(ctx, device, &idx)) != TSR_OK) {
        snprintf(line, sizeof line, "NODEVICE\t%s: %s\n", tsr_status_name(st),
                 tsr_last_error(NULL)->message);
        write_all(fd, line, strlen(line));
        tsr_context_destroy(ctx);
        exit(0);
    }
    if (st != TSR_OK) {
        snprintf(line, sizeof line, "NODEVICE\ttsr_context_create: %s: %s\n", tsr_status_name(st),
                 tsr_last_error(NULL)->message);
        write_all(fd, line, strlen(line));
        exit(0);
    }
    write_all(fd, "READY\n", 6);
    for (size_t i = from; i < to; i++) {
        if (tests[i].outcome == O_EXCLUDED) continue;
        struct wres r;
        double t0 = now_ms();
        if (injected("crash", tests[i].name)) raise(SIGSEGV);
        while (injected("hang", tests[i].name))
            pause();
        run_test(ctx, device, &tests[i], &r);
        flatten(r.message);
        int n = snprintf(line, sizeof line, "%zu\t%s\t%s\t%s\t%.1f\t%s\n", i,
                         outcome_names[r.outcome], r.status, r.stage, now_ms() - t0, r.message);
        write_all(fd, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1));
    }
    tsr_context_destroy(ctx);
    /* "exitfail:end" imitates LeakSanitizer's own failure at exit, once per file named by
     * TSR_CONFORMANCE_INJECT_ONCE; "leakreport:end" a leak report (selftest.sh). */
    const char *once = getenv("TSR_CONFORMANCE_INJECT_ONCE");
    if (injected("exitfail", "end") && once && access(once, F_OK) != 0) {
        FILE *f = fopen(once, "w");
        if (f) fclose(f);
        fprintf(stderr, "Tracer caught signal 11: addr=0x0 pc=0x0 sp=0x0 (injected)\n"
                        "==1==LeakSanitizer has encountered a fatal error.\n");
        fflush(stderr);
        _exit(1);
    }
    if (injected("leakreport", "end")) {
        fprintf(stderr, "==1==ERROR: LeakSanitizer: detected memory leaks (injected)\n"
                        "==1==LeakSanitizer has encountered a fatal error.\n");
        fflush(stderr);
        _exit(1);
    }
    exit(0);
}

/* ------------------------------------------------------------------------------------------ */
/* The parent: workers, deadlines, crash attribution                                           */
/* ------------------------------------------------------------------------------------------ */

struct runner {
    const char *device;
    struct test *tests;
    size_t n;
    double timeout_s;
    long mem_mb;
    const char *log_path;
    int nodevice;
    char nodevice_msg[1024];
    int tool_retried; /* run_range reran a range once after LeakSanitizer itself failed */
};

struct wproc {
    pid_t pid;
    int fd;
    char buf[8192];
    size_t len;
};

static int wstart(struct runner *R, struct wproc *w, size_t from, size_t to) {
    int p[2];
    if (pipe(p)) return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(p[0]);
        if (R->log_path) {
            FILE *f = freopen(R->log_path, "a", stderr);
            if (!f) _exit(4);
            if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0) _exit(4);
        }
        worker(p[1], R->device, R->tests, from, to, R->mem_mb);
        _exit(0);
    }
    close(p[1]);
    w->pid = pid;
    w->fd = p[0];
    w->len = 0;
    return 0;
}

/* Reads one line from the worker within timeout_ms into out (NUL-terminated, no newline).
 * Returns 1 (a line), 0 (end of file: the worker is gone), -1 (timeout). */
static int wline(struct wproc *w, double timeout_ms, char *out, size_t size) {
    double deadline = now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(w->buf, '\n', w->len);
        if (nl) {
            size_t n = (size_t)(nl - w->buf);
            snprintf(out, size, "%.*s", (int)n, w->buf);
            memmove(w->buf, nl + 1, w->len - n - 1);
            w->len -= n + 1;
            return 1;
        }
        double left = deadline - now_ms();
        if (left <= 0) return -1;
        struct pollfd pfd = {w->fd, POLLIN, 0};
        int pr = poll(&pfd, 1, (int)left + 1);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) continue;
        if (w->len == sizeof w->buf) w->len = 0; /* overlong line: drop it */
        ssize_t got = read(w->fd, w->buf + w->len, sizeof w->buf - w->len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return 0;
        w->len += (size_t)got;
    }
}

/* Ends the worker (killing it when `kill_it`); describes how it ended in why. Returns 1 when it
 * exited with status 0. */
static int wend(struct wproc *w, int kill_it, char *why, size_t size) {
    if (kill_it) kill(w->pid, SIGKILL);
    close(w->fd);
    int status = 0;
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status))
        snprintf(why, size, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(why, size, "exited with status %d", WEXITSTATUS(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Reads the last size - 1 bytes (or fewer) of the log at path into buf, NUL-terminated, with NULs
 * inside the log turned into spaces so that string searches see all of it. A sanitizer report is
 * written to the worker's log, not to the pipe. Returns the number of bytes read (0: no log). */
static size_t read_log_tail(const char *path, char *buf, size_t size) {
    FILE *f = path ? fopen(path, "rb") : NULL;
    size_t n = 0;
    if (f && fseek(f, 0, SEEK_END) == 0) {
        long end = ftell(f), max = (long)size - 1;
        if (end > max)
            fseek(f, end - max, SEEK_SET);
        else
            rewind(f);
        n = fread(buf, 1, (size_t)max, f);
    }
    if (f) fclose(f);
    buf[n] = 0;
    for (size_t i = 0; i < n; i++)
        if (!buf[i]) buf[i] = ' ';
    return n;
}

/* Parses a result line into the test it names. Returns the test index or -1. */
static long parse_result(struct runner *R, char *line) {
    char *f[6];
    int nf = 0;
    for (char *s = line; nf < 6;) {
        f[nf++] = s;
        char *tab = nf < 6 ? strchr(s, '\t') : NULL;
        if (!tab) break;
        *tab = 0;
        s = tab + 1;
    }
    if (nf < 6) return -1;
    long i = strtol(f[0], NULL, 10);
    if (i < 0 || (size_t)i >= R->n) return -1;
    struct test *t = &R->tests[i];
    for (int o = 0; o < O_COUNT; o++)
        if (!strcmp(f[1], outcome_names[o])) t->outcome = (enum outcome)o;
    snprintf(t->status, sizeof t->status, "%s", f[2]);
    snprintf(t->stage, sizeof t->stage, "%s", f[3]);
    t->ms = strtod(f[4], NULL);
    snprintf(t->message, sizeof t->message, "%s", f[5]);
    return i;
}

/* First selected (not excluded) test at or after i, or to. */
static size_t next_selected(const struct runner *R, size_t i, size_t to) {
    while (i < to && R->tests[i].outcome == O_EXCLUDED)
        i++;
    return i;
}

/* Runs the selected tests of [from, to) in one worker, each within limit_s seconds. Returns
 * `to` when all reported, the index of the test during which the worker died or went over the
 * limit (marked crashed; *timed_out says which), or -2 when the device is absent. */
static long run_range(struct runner *R, size_t from, size_t to, double limit_s, int *timed_out) {
    struct wproc w;
    *timed_out = 0;
    if (wstart(R, &w, from, to)) {
        fprintf(stderr, "conformance: fork/pipe failed: %s\n", strerror(errno));
        exit(2);
    }
    size_t next = next_selected(R, from, to);
    char line[8192], why[256];
    /* The context (OpenCL discovery) gets its own time limit, before the first test's. */
    double limit = 60e3 + limit_s * 1e3;
    while (next < to) {
        int got = wline(&w, limit, line, sizeof line);
        limit = limit_s * 1e3;
        if (got == 1 && !strcmp(line, "READY")) continue;
        if (got == 1 && !strncmp(line, "NODEVICE\t", 9)) {
            R->nodevice = 1;
            snprintf(R->nodevice_msg, sizeof R->nodevice_msg, "%s", line + 9);
            wend(&w, 1, why, sizeof why);
            return -2;
        }
        if (got == 1) {
            long i = parse_result(R, line);
            if (i != (long)next) {
                fprintf(stderr, "conformance: worker protocol error at test %zu: %s\n", next, line);
                exit(2);
            }
            next = next_selected(R, next + 1, to);
            continue;
        }
        struct test *t = &R->tests[next];
        wend(&w, 1, why, sizeof why);
        t->outcome = O_CRASH;
        snprintf(t->stage, sizeof t->stage, "worker");
        t->status[0] = 0;
        t->ms = got < 0 ? limit_s * 1e3 : 0;
        *timed_out = got < 0;
        if (got < 0)
            snprintf(t->message, sizeof t->message, "no result within %.0f s (hang)", limit_s);
        else
            snprintf(t->message, sizeof t->message, "worker %s (its stderr: %s)", why,
                     R->log_path ? R->log_path : "above");
        return (long)next;
    }
    if (!wend(&w, 0, why, sizeof why)) {
        fprintf(stderr,
                "conformance: the worker %s after its last test (%s); see %s (a leak report?)\n",
                why, R->tests[to - 1].name, R->log_path ? R->log_path : "stderr");
        static char tail[16385];
        if (read_log_tail(R->log_path, tail, sizeof tail))
            fprintf(stderr, "---- the end of %s ----\n%s\n---- end ----\n", R->log_path, tail);
        /* LeakSanitizer's own failure at exit ("Tracer caught signal 11", "Failed suspending
         * threads": its stop-the-world tracer racing the driver's threads, google/sanitizers#723,
         * #1322) is not a finding: no leak check ran. The range runs once more; a leak report,
         * any other failure or a second tool failure stands. */
        if (!R->tool_retried && strstr(tail, "LeakSanitizer has encountered a fatal error") &&
            !strstr(tail, "ERROR: LeakSanitizer: detected memory leaks")) {
            R->tool_retried = 1;
            fprintf(stderr,
                    "conformance: LeakSanitizer itself failed (no leak reported): "
                    "running tests %zu..%zu again once\n",
                    from, to - 1);
            return run_range(R, from, to, limit_s, timed_out);
        }
        exit(2);
    }
    return (long)to;
}

/* Runs every selected test. After a crash at test k the run goes on in a fresh worker at k + 1,
 * and k is rerun alone first:
 *   - over the time limit: rerun with 6x the limit (a cold OpenCL program cache can make the
 *     first build of a kernel slow: CLBlast's GEMM under PoCL takes ~15 s); the rerun's outcome
 *     stands, and a second time-out is a hang;
 *   - died after other tests in the same worker: rerun alone; the test stays a crash either way
 *     (the message says whether it also crashes alone). */
static void run_all(struct runner *R) {
    size_t i = next_selected(R, 0, R->n);
    while (i < R->n) {
        int timed_out;
        long got = run_range(R, i, R->n, R->timeout_s, &timed_out);
        if (got == -2) return;
        if ((size_t)got >= R->n) return;
        struct test *t = &R->tests[got];
        char first[sizeof t->message];
        snprintf(first, sizeof first, "%s", t->message);
        int again_timed_out;
        if (timed_out) {
            double slow = 6 * R->timeout_s;
            long again = run_range(R, (size_t)got, (size_t)got + 1, slow, &again_timed_out);
            if (again == -2) return;
            char note[sizeof t->message];
            if (again_timed_out)
                snprintf(note, sizeof note,
                         "no result within %.0f s, nor within %.0f s alone "
                         "(hang)",
                         R->timeout_s, slow);
            else
                snprintf(note, sizeof note, "%s%s(over %.0f s in the run: %.0f ms alone)",
                         t->message, t->message[0] ? " " : "", R->timeout_s, t->ms);
            snprintf(t->message, sizeof t->message, "%s", note);
        } else if (next_selected(R, i, R->n) < (size_t)got) {
            long again = run_range(R, (size_t)got, (size_t)got + 1, R->timeout_s, &again_timed_out);
            if (again == -2) return;
            char alone[64];
            snprintf(alone, sizeof alone, "%s",
                     t->outcome == O_CRASH ? t->message : outcome_names[t->outcome]);
            t->outcome = O_CRASH;
            snprintf(t->stage, sizeof t->stage, "worker");
            snprintf(t->message, sizeof t->message,
                     "%s after earlier tests in the same process; alone: %s", first, alone);
        }
        i = next_selected(R, (size_t)got + 1, R->n);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Lists, report, summary                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* Reads a list file: one name per line (first word), '#' comments. Missing file: empty list.
 * With reasons != NULL, the rest of each line goes there (parallel list). */
static void read_list(const char *path, struct strlist *l, struct strlist *second) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        char *s = line + strspn(line, " \t");
        if (*s == '#' || *s == '\n' || !*s) continue;
        s[strcspn(s, "\r\n")] = 0;
        char *sp = s + strcspn(s, " \t");
        char *rest = sp;
        if (*sp) {
            *sp = 0;
            rest = sp + 1 + strspn(sp + 1, " \t");
        }
        sl_add(l, s);
        if (second) sl_add(second, rest);
    }
    fclose(f);
}

/* Backend word of a device id: "cpu", "opencl". */
static void backend_of(const char *device, char *out, size_t size) {
    snprintf(out, size, "%.*s", (int)strcspn(device, ":"), device);
}

/* A short reason for a refusal, for the to-do summary: "op Foo", "dtype int32", or the status
 * with the message's first words after the file / node labels. */
static void reason_key(const struct test *t, char *out, size_t size) {
    const char *m = t->message;
    const char *p = strstr(m, "op '");
    if (p && strstr(p, "' is not supported")) {
        p += 4;
        snprintf(out, size, "missing op %.*s", (int)strcspn(p, "'"), p);
        return;
    }
    if (!strcmp(t->status, "TSR_E_DTYPE")) {
        static const char *const names[] = {"float32", "uint8",   "int8",   "uint16",
                                            "int16",   "int32",   "int64",  "bool",
                                            "float16", "float64", "uint32", "uint64"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            char w[32];
            snprintf(w, sizeof w, " %s ", names[i]);
            if (strstr(m, w)) {
                snprintf(out, size, "dtype %s", names[i]);
                return;
            }
        }
        const char *q = strstr(m, "type ");
        if (q) {
            int v = atoi(q + 5);
            const struct conf_dtype *d = conf_dtype(v);
            if (d) {
                snprintf(out, size, "dtype %s", d->name);
                return;
            }
        }
    }
    /* "<file>: node 'x' (Op): rest" → "Op: rest" with quoted names blanked. */
    const char *op = strstr(m, "' (");
    const char *rest = m;
    char opname[64] = "";
    if (op) {
        op += 3;
        size_t n = strcspn(op, ")");
        snprintf(opname, sizeof opname, "%.*s", (int)n, op);
        rest = op + n;
        if (*rest == ')') rest++;
        if (*rest == ':') rest++;
    } else if ((p = strstr(m, ".onnx: "))) {
        rest = p + 7;
    }
    while (*rest == ' ')
        rest++;
    char buf[256];
    size_t o = 0;
    int inq = 0;
    for (const char *s = rest; *s && o < 70; s++) {
        if (*s == '\'') {
            inq = !inq;
            if (inq) buf[o++] = '*';
            continue;
        }
        if (inq) continue;
        if (*s >= '0' && *s <= '9') {
            if (o == 0 || buf[o - 1] != '#') buf[o++] = '#';
            continue;
        }
        buf[o++] = *s;
    }
    buf[o] = 0;
    snprintf(out, size, "%s %s%s%s", t->status[0] ? t->status : t->stage, opname,
             opname[0] ? ": " : "", buf);
}

struct count {
    char key[160];
    int n;
};
static int cmp_count(const void *a, const void *b) {
    const struct count *x = a, *y = b;
    if (x->n != y->n) return y->n - x->n;
    return strcmp(x->key, y->key);
}

static int write_report(const char *path, const char *device, const char *data,
                        const struct test *tests, size_t n, const int *counts) {
    json_object *root = json_object_new_object();
    json_object_object_add(root, "device", json_object_new_string(device));
    json_object_object_add(root, "data", json_object_new_string(data));
    json_object *sum = json_object_new_object();
    for (int o = 0; o < O_COUNT; o++)
        json_object_object_add(sum, outcome_names[o], json_object_new_int(counts[o]));
    json_object_object_add(sum, "total", json_object_new_int((int)n));
    json_object_object_add(root, "summary", sum);
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(tests[i].name));
        json_object_object_add(o, "outcome",
                               json_object_new_string(outcome_names[tests[i].outcome]));
        json_object_object_add(o, "status", json_object_new_string(tests[i].status));
        json_object_object_add(o, "stage", json_object_new_string(tests[i].stage));
        json_object_object_add(o, "message", json_object_new_string(tests[i].message));
        json_object_object_add(o, "ms", json_object_new_double(tests[i].ms));
        json_object_array_add(arr, o);
    }
    json_object_object_add(root, "tests", arr);
    int rc = json_object_to_file_ext(path, root, JSON_C_TO_STRING_PRETTY);
    json_object_put(root);
    return rc;
}

static int write_list(const char *path, struct strlist *l) {
    qsort(l->v, l->n, sizeof *l->v, cmp_str);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    for (size_t i = 0; i < l->n; i++)
        fprintf(f, "%s\n", l->v[i]);
    if (fclose(f)) return -1;
    return rename(tmp, path);
}

static void usage(void) {
    fprintf(stderr,
            "usage: conformance --data DIR --device cpu|opencl:N --lists DIR [--report FILE]\n"
            "                   [--log FILE] [--update-lists] [--only NAME]... [--timeout S]\n"
            "                   [--mem-mb N] [--verbose]\n");
}

int main(int argc, char **argv) {
    const char *data = NULL, *device = "cpu", *lists = NULL, *report = NULL, *log_path = NULL;
    int update = 0, verbose = 0;
    double timeout_s = 20;
    long mem_mb = 8192;
    struct strlist only = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--update-lists"))
            update = 1;
        else if (!strcmp(a, "--verbose"))
            verbose = 1;
        else if (v && !strcmp(a, "--data"))
            data = argv[++i];
        else if (v && !strcmp(a, "--device"))
            device = argv[++i];
        else if (v && !strcmp(a, "--lists"))
            lists = argv[++i];
        else if (v && !strcmp(a, "--report"))
            report = argv[++i];
        else if (v && !strcmp(a, "--log"))
            log_path = argv[++i];
        else if (v && !strcmp(a, "--only"))
            sl_add(&only, argv[++i]);
        else if (v && !strcmp(a, "--timeout"))
            timeout_s = atof(argv[++i]);
        else if (v && !strcmp(a, "--mem-mb"))
            mem_mb = atol(argv[++i]);
        else {
            usage();
            return 2;
        }
    }
    if (!data || !lists || timeout_s <= 0) {
        usage();
        return 2;
    }
    if (CONF_SANITIZED) timeout_s *= 5; /* sanitizers: several times slower */
    double t_start = now_ms();

    /* Every test directory, sorted. */
    DIR *d = opendir(data);
    if (!d) {
        fprintf(stderr, "conformance: error: cannot open the node-test data %s: %s\n", data,
                strerror(errno));
        return 2;
    }
    struct strlist names = {0};
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, "test_", 5)) continue;
        if (only.n && !sl_has(&only, e->d_name)) continue;
        sl_add(&names, e->d_name);
    }
    closedir(d);
    if (names.n == 0) {
        fprintf(stderr, "conformance: error: no test_* directories in %s\n", data);
        return 2;
    }
    qsort(names.v, names.n, sizeof *names.v, cmp_str);
    struct test *tests = calloc(names.n, sizeof *tests);
    if (!tests) return 2;
    for (size_t i = 0; i < names.n; i++) {
        struct test *t = &tests[i];
        t->name = names.v[i];
        t->rtol = 1e-3;
        t->atol = 1e-7;
        snprintf(t->dir, sizeof t->dir, "%s/%s", data, t->name);
        char path[1200];
        snprintf(path, sizeof path, "%s/data.json", t->dir);
        if (file_exists(path)) { /* per-test tolerances, as onnx/backend/test/loader reads */
            json_object *j = json_object_from_file(path), *v;
            if (j && json_object_object_get_ex(j, "rtol", &v)) t->rtol = json_object_get_double(v);
            if (j && json_object_object_get_ex(j, "atol", &v)) t->atol = json_object_get_double(v);
            json_object_put(j);
        }
        snprintf(path, sizeof path, "%s/model.onnx", t->dir);
        Onnx__ModelProto *m = load_model(path);
        char buf[300];
        const char *why = m ? exclusion(m, buf, sizeof buf) : NULL;
        if (why) {
            t->outcome = O_EXCLUDED;
            snprintf(t->message, sizeof t->message, "%s", why);
        }
        if (m) onnx__model_proto__free_unpacked(m, NULL);
    }

    struct runner R = {device, tests, names.n, timeout_s, mem_mb, log_path, 0, "", 0};
    if (log_path) { /* a fresh log per run */
        FILE *f = fopen(log_path, "w");
        if (f) fclose(f);
    }
    run_all(&R);
    if (R.nodevice) {
        sl_free(&names);
        sl_free(&only);
        free(tests);
        const char *e = getenv("TSR_EXPECT_OPENCL");
        if (strncmp(device, "cpu", 3) && e && !strcmp(e, "0")) {
            printf("conformance %s: skipped: no such device (%s); TSR_EXPECT_OPENCL=0\n", device,
                   R.nodevice_msg);
            fflush(stdout);
            return 77;
        }
        fprintf(stderr, "conformance %s: error: the device did not come up: %s%s\n", device,
                R.nodevice_msg,
                strncmp(device, "cpu", 3) ? " (set TSR_EXPECT_OPENCL=0 where OpenCL is absent on "
                                            "purpose)"
                                          : "");
        return 1;
    }
    double elapsed = (now_ms() - t_start) / 1e3;

    char backend[32];
    backend_of(device, backend, sizeof backend);
    char epath[1100], kpath[1100];
    snprintf(epath, sizeof epath, "%s/expected_%s.txt", lists, backend);
    snprintf(kpath, sizeof kpath, "%s/known_wrong.txt", lists);
    struct strlist expected = {0}, kw_names = {0}, kw_rest = {0};
    read_list(epath, &expected, NULL);
    read_list(kpath, &kw_names, &kw_rest);

    int counts[O_COUNT] = {0};
    for (size_t i = 0; i < names.n; i++)
        counts[tests[i].outcome]++;

    /* Gate. known_wrong.txt lines: "<test> <backend|*> <reason>". */
    int failures = 0;
    struct strlist newly = {0}, passes = {0};
    for (size_t i = 0; i < names.n; i++) {
        struct test *t = &tests[i];
        int known = 0;
        for (size_t k = 0; k < kw_names.n; k++) {
            const char *r = kw_rest.v[k];
            size_t bl = strcspn(r, " \t");
            if (!strcmp(kw_names.v[k], t->name) &&
                ((bl == 1 && r[0] == '*') || (bl == strlen(backend) && !strncmp(r, backend, bl))))
                known = 1;
        }
        if (t->outcome == O_PASS) {
            sl_add(&passes, t->name);
            if (!sl_has(&expected, t->name)) sl_add(&newly, t->name);
            if (known)
                printf("note: %s passes but is in known_wrong.txt for %s: remove it there\n",
                       t->name, backend);
            continue;
        }
        int exp = sl_has(&expected, t->name);
        if (t->outcome == O_WRONG || t->outcome == O_CRASH) {
            printf("%s %s: %s%s [%s] %s\n", known ? "KNOWN" : "FAIL", t->name,
                   outcome_names[t->outcome], known ? " (known_wrong.txt)" : "", t->stage,
                   t->message);
            if (!known) failures++;
        } else if (exp) {
            printf("FAIL %s: expected to pass, %s [%s %s] %s\n", t->name, outcome_names[t->outcome],
                   t->stage, t->status, t->message);
            failures++;
        } else if (verbose) {
            printf("     %s: %s [%s %s] %s\n", t->name, outcome_names[t->outcome], t->stage,
                   t->status, t->message);
        }
    }
    if (!only.n) {
        for (size_t k = 0; k < expected.n; k++) {
            int found = 0;
            for (size_t i = 0; i < names.n && !found; i++)
                found = !strcmp(tests[i].name, expected.v[k]);
            if (!found) {
                printf("FAIL %s: in %s but not in the test data\n", expected.v[k], epath);
                failures++;
            }
        }
    }

    /* To-do list: the top refusal reasons. */
    struct count *rc = calloc(names.n + 1, sizeof *rc);
    size_t nrc = 0;
    for (size_t i = 0; rc && i < names.n; i++) {
        if (tests[i].outcome != O_REFUSED) continue;
        char key[160];
        reason_key(&tests[i], key, sizeof key);
        size_t k = 0;
        while (k < nrc && strcmp(rc[k].key, key))
            k++;
        if (k == nrc) snprintf(rc[nrc++].key, sizeof rc[0].key, "%s", key);
        rc[k].n++;
    }
    if (rc) qsort(rc, nrc, sizeof *rc, cmp_count);
    printf("top refusal reasons on %s (%zu distinct):\n", device, nrc);
    for (size_t k = 0; k < nrc && k < 25; k++)
        printf("  %4d  %s\n", rc[k].n, rc[k].key);
    free(rc);

    if (newly.n) {
        printf("newly passing on %s (%zu; not in %s, add them with --update-lists):\n", device,
               newly.n, epath);
        for (size_t k = 0; k < newly.n; k++)
            printf("  %s\n", newly.v[k]);
    }
    if (report && write_report(report, device, data, tests, names.n, counts))
        fprintf(stderr, "conformance: warning: cannot write %s\n", report);
    if (update && !only.n) {
        if (write_list(epath, &passes)) {
            fprintf(stderr, "conformance: error: cannot write %s: %s\n", epath, strerror(errno));
            return 2;
        }
        printf("wrote %s (%zu tests)\n", epath, passes.n);
    }
    int selected = (int)names.n - counts[O_EXCLUDED];
    printf("conformance %s: %d passed, %d wrong, %d refused, %d crashed, %d excluded (of %zu)\n",
           backend, counts[O_PASS], counts[O_WRONG], counts[O_REFUSED], counts[O_CRASH],
           counts[O_EXCLUDED], names.n);
    printf("conformance %s: %.1f%% of the %d selected tests pass; %.1f s%s%s\n", backend,
           selected ? 100.0 * counts[O_PASS] / selected : 0.0, selected, elapsed,
           report ? "; report " : "", report ? report : "");
    if (failures)
        printf("conformance %s: FAILED: %d gate failure(s) above (FAIL lines)\n", backend,
               failures);
    fflush(stdout);
    struct strlist *all[] = {&names, &only, &expected, &kw_names, &kw_rest, &newly, &passes};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        sl_free(all[k]);
    free(tests);
    return failures ? 1 : 0;
}
