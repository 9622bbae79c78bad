#include "kernel_harness.h"
#include "test_support.h"

#include "backends/cpu/cpu_backend.h"
#include "runtime/graph.h"
#include "runtime/reference.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kh_compare(const float *y, const float *r, size_t n, const struct kh_tol *tol,
               struct kh_worst *worst) {
    double scale = 0.0;
    if (tol->rel == KH_REL_MAX)
        for (size_t i = 0; i < n; i++)
            if (isfinite(r[i])) scale = fmax(scale, fabs(r[i]));
    double worst_ratio = -1.0;
    for (size_t i = 0; i < n; i++) {
        const double want = r[i], got = y[i];
        double err, bound = tol->atol + tol->rtol * (tol->rel == KH_REL_MAX ? scale : fabs(want));
        if (isnan(want) || isinf(want))
            err = (isnan(want) ? isnan(got) : got == want) ? 0.0 : INFINITY;
        else
            err = isnan(got) ? INFINITY : fabs(got - want);
        const double ratio = err == 0.0 ? 0.0 : (bound > 0.0 ? err / bound : INFINITY);
        if (ratio > worst_ratio) {
            worst_ratio = ratio;
            if (worst) *worst = (struct kh_worst){i, got, want, err, bound};
        }
    }
    return worst_ratio <= 1.0;
}

/* ---- configurations ---------------------------------------------------------------------- */

/* The ISA tier switch of the CPU backend: the only place the harness reaches into it. */
static void kh_cpu_set_isa(tsr_context *ctx, int isa) {
    ck_assert_int_eq(tsr_cpu_backend_set_isa(tsr_cpu_backend_of(ctx), (tsr_cpu_isa)isa), TSR_OK);
}

static int kh_cpu_isa(tsr_context *ctx) {
    return (int)tsr_cpu_backend_isa(tsr_cpu_backend_of(ctx));
}

int kh_configs(tsr_context *ctx, struct kh_config *out, int max) {
    int n = 0;
    for (int d = 0; d < tsr_device_count(ctx); d++) {
        struct tsr_device_info info;
        ck_assert_int_eq(tsr_device_get_info(ctx, d, &info), TSR_OK);
        const int cpu = !strcmp(ts_device_backend(&info), "cpu");
        const int tiers = cpu ? (int)tsr_cpu_detect_isa() + 1 : 1;
        for (int t = 0; t < tiers && n < max; t++, n++) {
            snprintf(out[n].backend, sizeof out[n].backend, "%s", ts_device_backend(&info));
            snprintf(out[n].device, sizeof out[n].device, "%s", info.id);
            if (cpu)
                snprintf(out[n].label, sizeof out[n].label, "%s/%s", info.id,
                         tsr_cpu_isa_name((tsr_cpu_isa)t));
            else
                snprintf(out[n].label, sizeof out[n].label, "%s", info.id);
            out[n].isa = cpu ? t : -1;
        }
    }
    /* every kernel case needs OpenCL: its absence fails unless expected (TSR_EXPECT_OPENCL=0) */
    if (!kh_config_count(ctx, "opencl")) ts_opencl_missing("no OpenCL device");
    return n;
}

int kh_config_count(tsr_context *ctx, const char *backend) {
    int n = 0;
    for (int d = 0; d < tsr_device_count(ctx); d++) {
        struct tsr_device_info info;
        ck_assert_int_eq(tsr_device_get_info(ctx, d, &info), TSR_OK);
        if (strcmp(ts_device_backend(&info), backend)) continue;
        n += !strcmp(backend, "cpu") ? (int)tsr_cpu_detect_isa() + 1 : 1;
    }
    return n;
}

/* ---- one graph on every configuration ---------------------------------------------------- */

void kh_reference(const tsr_graph *g, const struct tsr_tensor *in, struct tsr_tensor *ref) {
    const int n_in = tsr_graph_input_count(g), n_out = tsr_graph_output_count(g);
    ck_assert(n_in <= KH_MAX_IO && n_out <= KH_MAX_IO);
    tsr_status st = tsr_ref_eval_graph(g, in, (size_t)n_in, ref, (size_t)n_out);
    ck_assert_msg(st == TSR_OK, "reference: %s: %s", tsr_status_name(st),
                  tsr_last_error(NULL)->message);
}

static void format_index(const struct tsr_tensor_desc *d, size_t flat, char *buf, size_t size) {
    int64_t idx[TSR_MAX_RANK];
    for (int i = d->rank - 1; i >= 0; i--) {
        idx[i] = d->dims[i] ? (int64_t)flat % d->dims[i] : 0;
        flat = d->dims[i] ? flat / (size_t)d->dims[i] : 0;
    }
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < d->rank && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%lld", i ? ", " : "", (long long)idx[i]);
    if (len < size) snprintf(buf + len, size - len, "]");
}

/* Reports one failure on stderr and keeps the first one. */
static void report(char *first, size_t first_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(char *first, size_t first_size, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "FAIL %s\n", line);
    if (first && first_size && !first[0]) snprintf(first, first_size, "%s", line);
}

static int has_kernel(const tsr_plan *plan, const char *name, char *names, size_t size) {
    int found = 0;
    size_t len = 0;
    names[0] = '\0';
    for (int k = 0; k < tsr_plan_kernel_count(plan); k++) {
        struct tsr_kernel_info ki;
        ck_assert_int_eq(tsr_plan_kernel_info(plan, k, &ki), TSR_OK);
        found |= name[0] == '=' ? !strcmp(ki.name, name + 1) : strstr(ki.name, name) != NULL;
        if (len < size)
            len += (size_t)snprintf(names + len, size - len, "%s%s", k ? "," : "", ki.name);
    }
    return found;
}

/* TSR_KH_VERBOSE=1: every comparison notes its worst error on stderr (for choosing tolerances). */
static int kh_verbose(void) {
    const char *e = getenv("TSR_KH_VERBOSE");
    return e && !strcmp(e, "1");
}

/* Values of t as float32 (bool by its byte: a poisoned output does not read as true). */
static float *as_f32(const struct tsr_tensor *t, size_t n) {
    float *f = malloc((n ? n : 1) * sizeof *f);
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < n; i++)
        f[i] = t->desc.dtype == TSR_BOOL
                   ? (float)((const uint8_t *)t->data)[i]
                   : (float)tsr_elem_get_f64(t->desc.dtype, t->data, (int64_t)i);
    return f;
}

/* kh_compare for outputs of any dtype (converted to float32 unless they are float32). */
static int kh_compare_any(const struct tsr_tensor *y, const struct tsr_tensor *r, size_t n,
                          const struct kh_tol *tol, struct kh_worst *w) {
    if (r->desc.dtype == TSR_F32) return kh_compare(y->data, r->data, n, tol, w);
    float *fy = as_f32(y, n), *fr = as_f32(r, n);
    int ok = kh_compare(fy, fr, n, tol, w);
    free(fy);
    free(fr);
    return ok;
}

/* Runs one configuration; returns 1 when it passed. */
static int check_config(tsr_context *ctx, const tsr_graph *g, const char *what,
                        const struct kh_config *cfg, const struct tsr_tensor *in,
                        const struct tsr_tensor *ref, unsigned disable, const struct kh_tol *tol,
                        const char *expect_kernel, char *first, size_t first_size) {
    struct tsr_compile_options o = tsr_compile_options_default();
    o.device = cfg->device;
    o.disable_fusion = disable;
    o.allow_fallback = 0;
    o.placement = "single";
    tsr_plan *plan = NULL;
    tsr_status st = tsr_compile(ctx, g, &o, &plan);
    if (st != TSR_OK) {
        report(first, first_size, "%s on %s: compile: %s: %s", what, cfg->label,
               tsr_status_name(st), tsr_last_error(ctx)->message);
        return 0;
    }
    int ok = 1;
    char names[512];
    if (expect_kernel && !has_kernel(plan, expect_kernel, names, sizeof names)) {
        report(first, first_size, "%s on %s: no kernel named *%s* in the plan (%s)", what,
               cfg->label, expect_kernel, names);
        ok = 0;
    }
    const int n_out = tsr_graph_output_count(g);
    struct tsr_tensor out[KH_MAX_IO];
    for (int i = 0; i < n_out; i++)
        ck_assert_int_eq(tsr_tensor_alloc(&ref[i].desc, &out[i]), TSR_OK);
    for (int rep = 0; ok && rep < 2; rep++) {
        /* NaN poison on the first run, a finite one (0x5a5a5a5a = 1.5e16) on the second: an
         * element the kernel leaves unwritten fails whatever the reference (a NaN reference
         * would match the NaN poison) */
        for (int i = 0; i < n_out; i++)
            memset(out[i].data, rep ? 0x5a : 0xff, tsr_desc_bytes(&ref[i].desc));
        st = tsr_plan_run(plan, in, (size_t)tsr_graph_input_count(g), out, (size_t)n_out);
        if (st != TSR_OK) {
            report(first, first_size, "%s on %s: run %d: %s: %s", what, cfg->label, rep + 1,
                   tsr_status_name(st), tsr_last_error(ctx)->message);
            ok = 0;
            break;
        }
        for (int i = 0; ok && i < n_out; i++) {
            struct kh_worst w;
            const size_t n = (size_t)tsr_desc_elements(&ref[i].desc);
            char s0[96], s1[96];
            if (!tsr_desc_equal(&out[i].desc, &ref[i].desc)) {
                report(first, first_size, "%s on %s: output %d is %s, the reference %s", what,
                       cfg->label, i, tsr_desc_format(&out[i].desc, s0, sizeof s0),
                       tsr_desc_format(&ref[i].desc, s1, sizeof s1));
                ok = 0;
            } else if (ref[i].desc.dtype != TSR_F32 && ref[i].desc.dtype != TSR_F16 &&
                       ref[i].desc.dtype != TSR_F64) {
                /* integer and bool outputs (ArgMax indices, comparisons, ...): exactly the
                 * reference's (kh_compare_any's float32 view would round int64 beyond 2^24 and
                 * allow a tolerance) */
                const size_t es = tsr_dtype_size(ref[i].desc.dtype);
                for (size_t e = 0; e < n; e++)
                    if (memcmp((const char *)out[i].data + e * es,
                               (const char *)ref[i].data + e * es, es)) {
                        format_index(&ref[i].desc, e, s0, sizeof s0);
                        report(first, first_size,
                               "%s on %s (run %d): output %d (%s) element %zu %s differs from "
                               "the reference",
                               what, cfg->label, rep + 1, i, tsr_dtype_name(ref[i].desc.dtype), e,
                               s0);
                        ok = 0;
                        break;
                    }
            } else if (!kh_compare_any(&out[i], &ref[i], n, tol, &w) || kh_verbose()) {
                if (w.err <= w.bound) {
                    fprintf(stderr,
                            "note: %s on %s: output %d: worst |error| %.3g of %.3g allowed "
                            "(element %zu, reference %.9g)\n",
                            what, cfg->label, i, w.err, w.bound, w.index, w.want);
                    continue;
                }
                format_index(&ref[i].desc, w.index, s0, sizeof s0);
                report(first, first_size,
                       "%s on %s (run %d): output %d %s: element %zu %s: got %.9g, reference "
                       "%.9g: |error| %.3g > %.3g (atol %g, rtol %g%s)",
                       what, cfg->label, rep + 1, i, tsr_desc_format(&ref[i].desc, s1, sizeof s1),
                       w.index, s0, w.got, w.want, w.err, w.bound, tol->atol, tol->rtol,
                       tol->rel == KH_REL_MAX ? " x max|ref|" : " x |ref|");
                ok = 0;
            }
        }
    }
    for (int i = 0; i < n_out; i++)
        tsr_tensor_free(&out[i]);
    tsr_plan_destroy(plan);
    return ok;
}

int kh_check(tsr_context *ctx, const tsr_graph *g, const char *label, const struct tsr_tensor *in,
             const struct tsr_tensor *ref, unsigned disable, const struct kh_tol *tol,
             const char *wide_backend, const struct kh_tol *wide_tol, const char *expect_kernel,
             int *configs_run, char *first, size_t first_size) {
    struct kh_config cfg[KH_MAX_CONFIGS];
    const int n = kh_configs(ctx, cfg, KH_MAX_CONFIGS);
    const int saved = kh_cpu_isa(ctx);
    int failed = 0;
    char what[256];
    snprintf(what, sizeof what, "%s [fusion %s]", label,
             disable == 0 ? "on" : (disable == TSR_FUSE_ALL ? "off" : "partly off"));
    for (int c = 0; c < n; c++) {
        if (cfg[c].isa >= 0) kh_cpu_set_isa(ctx, cfg[c].isa);
        const int wide = wide_backend && wide_tol && !strcmp(cfg[c].backend, wide_backend);
        failed += !check_config(ctx, g, what, &cfg[c], in, ref, disable, wide ? wide_tol : tol,
                                expect_kernel, first, first_size);
    }
    kh_cpu_set_isa(ctx, saved);
    if (configs_run) *configs_run = n;
    return failed;
}

/* ---- the case table ---------------------------------------------------------------------- */

static tsr_value add_input_dt(struct kh_builder *b, tsr_dtype dtype, int rank, const int64_t *dims,
                              float lo, float hi, kh_gen_fn gen) {
    ck_assert_int_lt(b->n_inputs, KH_MAX_IO);
    char name[16];
    snprintf(name, sizeof name, "x%d", b->n_inputs);
    struct tsr_tensor_desc d = ts_desc(rank, dims);
    d.dtype = dtype;
    tsr_value v = -1;
    ck_assert_int_eq(tsr_graph_input(b->g, name, &d, &v), TSR_OK);
    b->lo[b->n_inputs] = lo;
    b->hi[b->n_inputs] = hi;
    b->gen[b->n_inputs] = gen;
    b->n_inputs++;
    return v;
}

static tsr_value add_input(struct kh_builder *b, int rank, const int64_t *dims, float lo, float hi,
                           kh_gen_fn gen) {
    return add_input_dt(b, TSR_F32, rank, dims, lo, hi, gen);
}

tsr_value kh_input_dt(struct kh_builder *b, tsr_dtype dtype, int rank, const int64_t *dims,
                      float lo, float hi) {
    return add_input_dt(b, dtype, rank, dims, lo, hi, NULL);
}

tsr_value kh_input(struct kh_builder *b, int rank, const int64_t *dims, float lo, float hi) {
    return add_input(b, rank, dims, lo, hi, NULL);
}

tsr_value kh_input_gen(struct kh_builder *b, int rank, const int64_t *dims, kh_gen_fn gen) {
    return add_input(b, rank, dims, 0.0f, 0.0f, gen);
}

tsr_value kh_const(struct kh_builder *b, int rank, const int64_t *dims, float lo, float hi) {
    struct tsr_tensor_desc d = ts_desc(rank, dims);
    struct tsr_tensor t;
    ck_assert_int_eq(tsr_tensor_alloc(&d, &t), TSR_OK);
    ts_fill_uniform(t.data, (size_t)tsr_desc_elements(&d), 500u + b->seed++, lo, hi);
    tsr_value v = -1;
    ck_assert_int_eq(tsr_graph_constant(b->g, NULL, &d, t.data, &v), TSR_OK);
    tsr_tensor_free(&t);
    return v;
}

tsr_value kh_op(struct kh_builder *b, tsr_op op, const struct tsr_op_attrs *attrs, int n,
                const tsr_value *inputs) {
    tsr_value out = -1;
    tsr_status st = tsr_graph_op(b->g, op, inputs, n, attrs, NULL, &out);
    ck_assert_msg(st == TSR_OK, "%s: building %s: %s", b->label, tsr_op_name(op),
                  tsr_last_error(NULL)->message);
    return out;
}

tsr_value kh_op1(struct kh_builder *b, tsr_op op, tsr_value a) {
    return kh_op(b, op, NULL, 1, &a);
}

tsr_value kh_op2(struct kh_builder *b, tsr_op op, tsr_value a, tsr_value c) {
    const tsr_value in[2] = {a, c};
    return kh_op(b, op, NULL, 2, in);
}

void kh_output(struct kh_builder *b, tsr_value v) {
    ck_assert_int_eq(tsr_graph_output(b->g, NULL, v), TSR_OK);
}

void kh_label(struct kh_builder *b, const char *fmt, ...) {
    const size_t len = strlen(b->label);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->label + len, sizeof b->label - len, fmt, ap);
    va_end(ap);
}

/* Overwrites x[i] for i % 97 == 41 with NaN, +inf, -inf in turn (see kh_run_case_specials). */
static void inject_specials(float *x, size_t n) {
    static const float v[3] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 41; i < n; i += 97)
        x[i] = v[(i / 97) % 3];
}

static int run_case(tsr_context *ctx, const struct kh_case *c, struct kh_stats *stats, char *first,
                    size_t first_size, int specials) {
    int failed = 0;
    const struct kh_tol tol = {c->atol, c->rtol, KH_REL_ELEMENT};
    const struct kh_tol wide = {c->wide_atol, c->wide_rtol, KH_REL_ELEMENT};
    for (int v = 0; v < (c->variants > 0 ? c->variants : 1); v++) {
        struct kh_builder b;
        memset(&b, 0, sizeof b);
        b.variant = v;
        b.arg = c->arg;
        snprintf(b.label, sizeof b.label, "%s", c->name);
        if (c->variants > 1) kh_label(&b, "#%d", v);
        ck_assert_int_eq(tsr_graph_create(ctx, &b.g), TSR_OK);
        c->build(&b);
        struct tsr_tensor in[KH_MAX_IO], ref[KH_MAX_IO];
        memset(in, 0, sizeof in);
        memset(ref, 0, sizeof ref);
        for (int i = 0; i < b.n_inputs; i++) {
            struct tsr_tensor_desc d;
            ck_assert_int_eq(tsr_graph_value_desc(b.g, b.g->inputs[i], &d), TSR_OK);
            ck_assert_int_eq(tsr_tensor_alloc(&d, &in[i]), TSR_OK);
            const size_t n = (size_t)tsr_desc_elements(&d);
            const uint64_t seed = 1000u + (uint64_t)i * 77u + (uint64_t)v * 7919u;
            if (b.gen[i]) {
                b.gen[i](in[i].data, n, seed);
            } else if (d.dtype == TSR_F32) {
                ts_fill_uniform(in[i].data, n, seed, b.lo[i], b.hi[i]);
            } else { /* another dtype: uniform float32 values stored in it */
                float *f = malloc((n ? n : 1) * sizeof *f);
                ck_assert_ptr_nonnull(f);
                ts_fill_uniform(f, n, seed, b.lo[i], b.hi[i]);
                for (size_t q = 0; q < n; q++) {
                    if (d.dtype == TSR_BOOL)
                        ((uint8_t *)in[i].data)[q] = f[q] >= 0.5f;
                    else if (tsr_dtype_is_float(d.dtype))
                        tsr_elem_set_f64(d.dtype, in[i].data, (int64_t)q, f[q]);
                    else
                        tsr_elem_set_i64(d.dtype, in[i].data, (int64_t)q, (int64_t)floorf(f[q]));
                }
                free(f);
            }
            if (specials && d.dtype == TSR_F32) inject_specials(in[i].data, n);
        }
        if (specials) kh_label(&b, " +NaN/inf");
        kh_reference(b.g, in, ref);
        for (unsigned f = KH_FUSED; f <= KH_UNFUSED; f <<= 1) {
            if (!(c->fusion & f)) continue;
            int runs = 0;
            failed += kh_check(ctx, b.g, b.label, in, ref, f == KH_FUSED ? 0 : TSR_FUSE_ALL, &tol,
                               c->wide_backend, &wide,
                               f != KH_FUSED ? NULL : (b.kernel[0] ? b.kernel : c->kernel), &runs,
                               first, first_size);
            stats->runs += runs;
        }
        stats->variants++;
        for (int i = 0; i < KH_MAX_IO; i++) {
            tsr_tensor_free(&in[i]);
            tsr_tensor_free(&ref[i]);
        }
        tsr_graph_destroy(b.g);
    }
    stats->cases++;
    stats->failures += failed;
    return failed;
}

int kh_run_case(tsr_context *ctx, const struct kh_case *c, struct kh_stats *stats, char *first,
                size_t first_size) {
    return run_case(ctx, c, stats, first, first_size, 0);
}

int kh_run_case_specials(tsr_context *ctx, const struct kh_case *c, struct kh_stats *stats,
                         char *first, size_t first_size) {
    return run_case(ctx, c, stats, first, first_size, 1);
}
