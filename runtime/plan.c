/*
 * plan.c — tsr_compile (passes → lowering → device choice → backend prepare) and tsr_plan_run
 * (validation, execution, fallback to the host device when another device fails).
 *
 * Dynamic shapes: shape inference and shape-arithmetic folding happen while a graph is built
 * (tsr_graph_op), so a plan cannot simply be re-run at other shapes. A plan compiled from a graph
 * with symbolic input dims (an ONNX import, runtime/onnx_import.c) keeps the model bytes and the
 * compile options; at new input shapes (tsr_plan_run, tsr_plan_specialize) it re-imports the
 * model with the shapes as overrides and compiles it ("re-plan"). The specialised plans are kept
 * in a small LRU cache keyed by the input shapes (TSR_PLAN_CACHE, default 8).
 */
#include "runtime/graph.h"
#include "runtime/hetero.h"
#include "runtime/lower.h"
#include "runtime/onnx_import.h"
#include "runtime/passes/passes.h"
#include "runtime/plan_internal.h"
#include "runtime/profiler.h"
#include "scheduler/calibrate.h"
#include "scheduler/cost.h"
#include "scheduler/place.h"
#include "scheduler/select.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tsr_compile_options tsr_compile_options_default(void) {
    struct tsr_compile_options o;
    memset(&o, 0, sizeof o);
    o.device = NULL;
    o.disable_fusion = 0;
    o.allow_fallback = 1;
    o.placement = NULL;
    return o;
}

/* TSR_DISABLE_FUSION=all|elementwise|epilogue (comma list) → TSR_FUSE_* bits. */
static unsigned env_disabled_fusion(tsr_context *ctx) {
    const char *v = tsr_getenv("TSR_DISABLE_FUSION");
    if (!v) return 0;
    unsigned bits = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "all"))
            bits |= TSR_FUSE_ALL;
        else if (!strcmp(t, "elementwise"))
            bits |= TSR_FUSE_ELEMENTWISE;
        else if (!strcmp(t, "epilogue"))
            bits |= TSR_FUSE_EPILOGUE;
        else if (!strcmp(t, "bn"))
            bits |= TSR_FUSE_BN;
        else if (!strcmp(t, "layernorm"))
            bits |= TSR_FUSE_LAYERNORM;
        else
            tsr_log(ctx, TSR_LOG_WARN, "TSR_DISABLE_FUSION: unknown switch '%s' ignored", t);
    }
    return bits;
}

/* Prepares the plan's program on ctx device `dev` through its backend. */
static tsr_status prepare_on(tsr_plan *plan, int dev) {
    const struct tsr_device *d = &plan->ctx->devices[dev];
    const struct tsr_backend_ops *ops = d->ops;
    void *exec = NULL;
    tsr_status st = ops->prepare(plan->ctx, d->info.index, &plan->prog, &exec);
    if (st != TSR_OK) return st;
    plan->device = dev;
    plan->ops = ops;
    plan->exec = exec;
    return TSR_OK;
}

static int is_device_failure(tsr_status st) {
    return st == TSR_E_DEVICE || st == TSR_E_DEVICE_NOMEM || st == TSR_E_BUILD;
}

/* Releases the current executable and prepares for the host device, logging why. The caller
 * holds plan->exec_lock for writing (or is tsr_compile, before the plan is shared). */
static tsr_status fall_back_to_host(tsr_plan *plan, tsr_status why) {
    const struct tsr_error_info *e = tsr_last_error(NULL);
    int host = tsr_context_host_device(plan->ctx);
    const char *host_id = plan->ctx->devices[host].info.id;
    tsr_log(plan->ctx, TSR_LOG_WARN, "%s failed (%s: %s); falling back to the host device %s",
            plan->ctx->devices[plan->device].info.id, tsr_status_name(why), e->message, host_id);
    plan->ops->release(plan->exec);
    plan->exec = NULL;
    size_t l = strlen(plan->reason);
    snprintf(plan->reason + l, sizeof plan->reason - l, "; %s failed (%s), fell back to %s",
             plan->ctx->devices[plan->device].info.id, tsr_status_name(why), host_id);
    plan->fell_back = 1;
    return prepare_on(plan, host);
}

/* ---------------------------------------------------------------------------------------- */
/* Dynamic shapes: the cache of specialised plans                                            */

#define TSR_PLAN_CACHE_DEFAULT 8
#define TSR_PLAN_CACHE_MAX     64

struct tsr_plan_spec {
    struct tsr_tensor_desc *in; /* the key: the input descs (n_inputs, owned) */
    unsigned char *vals;        /* and the contents of the value inputs, concatenated (owned) */
    size_t n_vals;
    tsr_plan *plan; /* compiled at those shapes (owned, no dyn of its own) */
    uint64_t used;  /* tick of the last use (LRU) */
};

struct tsr_plan_dyn {
    pthread_mutex_t mu; /* guards everything below but source, opts, device, placement */
    struct tsr_model_source *source; /* reference held */
    struct tsr_compile_options opts; /* as given to tsr_compile; strings point below */
    char device[64], placement[16];  /* copies of opts.device / opts.placement */
    int cap, n;                      /* capacity (TSR_PLAN_CACHE), entries */
    struct tsr_plan_spec *specs;     /* cap entries */
    _Atomic(tsr_plan *) current;     /* specialisation of the last run / specialize; NULL:
                                        the compiled plan itself (written under mu) */
    tsr_plan *retired;               /* evicted specialisations still used by a run or current */
    uint64_t tick, hits, misses, evictions;
    double last_replan_ms, total_replan_ms;
};

/* TSR_PLAN_CACHE=N (1..64), else the default (an invalid value is warned about). */
static int env_plan_cache(tsr_context *ctx) {
    const char *v = tsr_getenv("TSR_PLAN_CACHE");
    if (!v) return TSR_PLAN_CACHE_DEFAULT;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (!end || *end || n < 1 || n > TSR_PLAN_CACHE_MAX) {
        tsr_log(ctx, TSR_LOG_WARN, "TSR_PLAN_CACHE='%s': expected 1..%d; using %d", v,
                TSR_PLAN_CACHE_MAX, TSR_PLAN_CACHE_DEFAULT);
        return TSR_PLAN_CACHE_DEFAULT;
    }
    return (int)n;
}

static void dyn_free(struct tsr_plan_dyn *d) {
    if (!d) return;
    for (tsr_plan *r = d->retired, *n; r; r = n) {
        n = r->retired_next;
        tsr_plan_destroy(r);
    }
    pthread_mutex_destroy(&d->mu);
    for (int i = 0; i < d->n; i++) {
        tsr_plan_destroy(d->specs[i].plan);
        free(d->specs[i].in);
        free(d->specs[i].vals);
    }
    free(d->specs);
    tsr_model_source_unref(d->source);
    free(d);
}

/* Makes `plan` (compiled from `graph` with options `o`) re-specialisable when the graph has
 * symbolic input dims and its model source. Returns TSR_OK or TSR_E_NOMEM. */
static tsr_status attach_dyn(tsr_plan *plan, const tsr_graph *graph,
                             const struct tsr_compile_options *o) {
    if (!graph->source || !plan->input_dims) return TSR_OK;
    struct tsr_plan_dyn *d = calloc(1, sizeof *d);
    if (!d) return TSR_ERR(plan->ctx, TSR_E_NOMEM, "compile: out of memory");
    d->cap = env_plan_cache(plan->ctx);
    d->specs = calloc((size_t)d->cap, sizeof *d->specs);
    if (!d->specs || pthread_mutex_init(&d->mu, NULL) != 0) {
        free(d->specs);
        free(d);
        return TSR_ERR(plan->ctx, TSR_E_NOMEM, "compile: out of memory");
    }
    d->source = tsr_model_source_ref(graph->source);
    d->opts = *o;
    if (o->device) {
        snprintf(d->device, sizeof d->device, "%s", o->device);
        d->opts.device = d->device;
    }
    if (o->placement) {
        snprintf(d->placement, sizeof d->placement, "%s", o->placement);
        d->opts.placement = d->placement;
    }
    plan->dyn = d;
    return TSR_OK;
}

const tsr_plan *tsr_plan_current(const tsr_plan *p) {
    const tsr_plan *c = p && p->dyn ? atomic_load(&p->dyn->current) : NULL;
    return c ? c : p;
}

/* Destroys retired specialisation r when no run uses it and it is not current; d->mu held. */
static void dyn_reap(struct tsr_plan_dyn *d, tsr_plan *r) {
    if (!r || !r->spec_evicted || r->spec_refs > 0 || atomic_load(&d->current) == r) return;
    for (tsr_plan **pp = &d->retired; *pp; pp = &(*pp)->retired_next)
        if (*pp == r) {
            *pp = r->retired_next;
            tsr_plan_destroy(r);
            return;
        }
}

/* Makes c current (NULL: the compiled plan); d->mu held. */
static void dyn_set_current(struct tsr_plan_dyn *d, tsr_plan *c) {
    tsr_plan *old = atomic_exchange(&d->current, c);
    if (old != c) dyn_reap(d, old);
}

/* Ends a run's use of specialisation sub of plan (specialize with hold). */
static void spec_unhold(tsr_plan *plan, tsr_plan *sub) {
    if (sub == plan || !plan->dyn) return;
    pthread_mutex_lock(&plan->dyn->mu);
    sub->spec_refs--;
    dyn_reap(plan->dyn, sub);
    pthread_mutex_unlock(&plan->dyn->mu);
}

void tsr_plan_cache_stats(const tsr_plan *p, struct tsr_plan_cache_stats *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!p || !p->dyn) return;
    struct tsr_plan_dyn *d = p->dyn;
    pthread_mutex_lock(&d->mu);
    out->dynamic = 1;
    out->capacity = d->cap;
    out->entries = d->n;
    out->hits = d->hits;
    out->misses = d->misses;
    out->evictions = d->evictions;
    out->last_replan_ms = d->last_replan_ms;
    out->total_replan_ms = d->total_replan_ms;
    pthread_mutex_unlock(&d->mu);
}

static int descs_equal(const struct tsr_tensor_desc *a, const struct tsr_tensor_desc *b, int n) {
    for (int i = 0; i < n; i++)
        if (!tsr_desc_equal(&a[i], &b[i])) return 0;
    return 1;
}

/* Contents of value input i (tsr_input_shape.data) for a specialisation: data[i] when given,
 * else the plan's bound contents; NULL for an input that is not a value input. */
static const void *value_of(const tsr_plan *plan, const void *const *data, int i) {
    if (!plan->input_dims || !plan->input_dims[i].is_value) return NULL;
    return data && data[i] ? data[i] : plan->input_dims[i].value;
}

/* Concatenates the value inputs' contents (value_of at descs `in`) into *out (malloc'ed, NULL
 * when none; *n their bytes). Returns 0, or -1 when out of memory. */
static int values_key(const tsr_plan *plan, const struct tsr_tensor_desc *in,
                      const void *const *data, unsigned char **out, size_t *n) {
    size_t total = 0;
    *out = NULL;
    for (int i = 0; i < plan->n_inputs; i++)
        if (value_of(plan, data, i)) total += tsr_desc_bytes(&in[i]);
    *n = total;
    if (!total) return 0;
    if (!(*out = malloc(total))) return -1;
    size_t off = 0;
    for (int i = 0; i < plan->n_inputs; i++) {
        const void *v = value_of(plan, data, i);
        if (!v) continue;
        memcpy(*out + off, v, tsr_desc_bytes(&in[i]));
        off += tsr_desc_bytes(&in[i]);
    }
    return 0;
}

/* Checks input descs against the declared inputs of a dynamic plan: dtype, rank, fixed dims, one
 * value per symbolic dim name. Returns TSR_OK, TSR_E_DTYPE or TSR_E_SHAPE (naming the input and
 * both shapes, or the dim and both values). */
static tsr_status check_against_declared(const tsr_plan *plan, const struct tsr_tensor_desc *in) {
    tsr_context *ctx = plan->ctx;
    char s0[160], s1[160];
    for (int i = 0; i < plan->n_inputs; i++) {
        struct tsr_input_info info;
        tsr_input_info_fill(plan->input_names[i], &plan->input_descs[i], &plan->input_dims[i],
                            &info);
        if (in[i].dtype != info.dtype)
            return TSR_ERR(ctx, TSR_E_DTYPE, "input '%s': dtype %s, the model expects %s",
                           info.name, tsr_dtype_name(in[i].dtype), tsr_dtype_name(info.dtype));
        int ok = !tsr_desc_check(&in[i]) && in[i].rank == info.rank;
        for (int d = 0; ok && d < info.rank; d++)
            ok = info.dims[d] < 0 || in[i].dims[d] == info.dims[d];
        if (!ok)
            return TSR_ERR(ctx, TSR_E_SHAPE, "input '%s': shape %s, the model expects %s",
                           info.name, tsr_desc_format(&in[i], s0, sizeof s0),
                           tsr_input_info_format(&info, s1, sizeof s1));
        /* Symbolic dims of one name are one size (ONNX dim_param); unnamed ones are free. */
        for (int d = 0; d < info.rank; d++) {
            const char *nm = info.dim_names[d];
            if (!nm || !*nm) continue;
            for (int j = 0; j <= i; j++) {
                const struct tsr_input_dims *dj = &plan->input_dims[j];
                for (int e = 0; e < (j < i ? in[j].rank : d); e++)
                    if (dj->names[e] && !strcmp(dj->names[e], nm) && in[j].dims[e] != in[i].dims[d])
                        return TSR_ERR(ctx, TSR_E_SHAPE,
                                       "input '%s': dim %d ('%s') is %lld, but input '%s' has "
                                       "'%s' = %lld (dim %d)",
                                       info.name, d, nm, (long long)in[i].dims[d],
                                       plan->input_names[j], nm, (long long)in[j].dims[e], e);
            }
        }
    }
    return TSR_OK;
}

/* "replan [2,5,8] [2,5]": the profiler record's name for a re-plan at input shapes `in`. */
static void replan_name(const tsr_plan *plan, const struct tsr_tensor_desc *in, char *buf,
                        size_t size) {
    size_t l = (size_t)snprintf(buf, size, "replan");
    for (int i = 0; i < plan->n_inputs && l < size; i++) {
        l += (size_t)snprintf(buf + l, size - l, " [");
        for (int d = 0; d < in[i].rank && l < size; d++)
            l += (size_t)snprintf(buf + l, size - l, "%s%lld", d ? "," : "",
                                  (long long)in[i].dims[d]);
        if (l < size) l += (size_t)snprintf(buf + l, size - l, "]");
    }
}

/* Did the plan or one of its specialisations fall back to the host device? plan->dyn->mu held. */
static int any_fell_back(const tsr_plan *plan) {
    if (plan->fell_back) return 1;
    for (int i = 0; plan->dyn && i < plan->dyn->n; i++)
        if (plan->dyn->specs[i].plan->fell_back) return 1;
    return 0;
}

/* Re-imports and compiles plan's model at input shapes `in` (checked), on the host device when
 * on_host. Returns TSR_OK with *out and its wall time in *ms, or a status of the import /
 * compile. Called without plan->dyn->mu (a re-plan does not hold up runs at cached shapes). */
static tsr_status replan(tsr_plan *plan, const struct tsr_tensor_desc *in, const void *const *data,
                         int on_host, tsr_plan **out, double *ms) {
    tsr_context *ctx = plan->ctx;
    struct tsr_plan_dyn *d = plan->dyn;
    struct tsr_input_shape *ov = calloc((size_t)plan->n_inputs + 1, sizeof *ov);
    if (!ov) return TSR_ERR(ctx, TSR_E_NOMEM, "re-plan: out of memory");
    for (int i = 0; i < plan->n_inputs; i++) {
        ov[i].name = plan->input_names[i];
        ov[i].desc = in[i];
        ov[i].data = value_of(plan, data, i);
    }
    struct tsr_compile_options o = d->opts;
    /* Once a device failed, specialisations go where the plan fell back to: the host. */
    if (on_host) o.device = ctx->devices[tsr_context_host_device(ctx)].info.id;
    uint64_t t0 = tsr_now_ns();
    tsr_graph *g = NULL;
    tsr_status st =
        tsr_onnx_import_buffer_at(ctx, d->source->bytes, d->source->size, d->source->label,
                                  d->source->base_dir, ov, (size_t)plan->n_inputs, &g);
    free(ov);
    if (st == TSR_OK) st = tsr_compile_ex(ctx, g, &o, 0, out);
    tsr_graph_destroy(g);
    if (st != TSR_OK) return st;
    uint64_t t1 = tsr_now_ns();
    *ms = (double)(t1 - t0) * 1e-6;
    char name[256];
    replan_name(plan, in, name, sizeof name);
    tsr_prof_add(ctx, TSR_EVENT_COMPILE, name, "", ctx->devices[(*out)->device].info.id, 0, t0, t1,
                 0, 0);
    tsr_log(ctx, TSR_LOG_INFO, "%s: %s on %s in %.2f ms", d->source->label, name,
            ctx->devices[(*out)->device].info.id, *ms);
    return TSR_OK;
}

/* The cached specialisation for key (in, vals), made current and counted as a hit (held with
 * hold), or NULL; d->mu held. */
static tsr_plan *spec_lookup(struct tsr_plan_dyn *d, int n_inputs, const struct tsr_tensor_desc *in,
                             const unsigned char *vals, size_t n_vals, int hold) {
    for (int i = 0; i < d->n; i++)
        if (descs_equal(in, d->specs[i].in, n_inputs) && n_vals == d->specs[i].n_vals &&
            (!n_vals || !memcmp(vals, d->specs[i].vals, n_vals))) {
            d->hits++;
            d->specs[i].used = ++d->tick;
            if (hold) d->specs[i].plan->spec_refs++;
            dyn_set_current(d, d->specs[i].plan);
            return d->specs[i].plan;
        }
    return NULL;
}

/* Makes the specialisation for input shapes `in` (and value inputs' contents data[i]; data or
 * data[i] NULL: the compiled ones) current: the compiled plan, a cached one, or a new one
 * (evicting the least recently used). *out receives it; with hold, a specialisation is kept
 * alive (not destroyed by an eviction) until spec_unhold. Statuses: check_against_declared,
 * replan, TSR_E_SHAPE for a plan without symbolic inputs, TSR_E_NOMEM. Thread-safe. */
static tsr_status specialize(tsr_plan *plan, const struct tsr_tensor_desc *in,
                             const void *const *data, int hold, tsr_plan **out) {
    char s0[160], s1[160];
    struct tsr_plan_dyn *d = plan->dyn;
    int same_values = 1;
    for (int i = 0; i < plan->n_inputs; i++) {
        const void *v = value_of(plan, data, i);
        if (plan->input_dims && plan->input_dims[i].is_value && !v)
            return TSR_ERR(plan->ctx, TSR_E_INVALID_ARG,
                           "input '%s': a value input compiled without its contents; give them "
                           "(tsr_plan_run, or tsr_input_shape.data at import)",
                           plan->input_names[i]);
        if (v && (!data || !data[i]) && !tsr_desc_equal(&in[i], &plan->input_descs[i]))
            return TSR_ERR(plan->ctx, TSR_E_INVALID_ARG,
                           "input '%s': a value input; at a new shape it needs its contents "
                           "(tsr_plan_run)",
                           plan->input_names[i]);
        if (v && (!plan->input_dims[i].value || !tsr_desc_equal(&in[i], &plan->input_descs[i]) ||
                  memcmp(v, plan->input_dims[i].value, tsr_desc_bytes(&in[i]))))
            same_values = 0;
    }
    if (!plan->deferred && same_values && descs_equal(in, plan->input_descs, plan->n_inputs)) {
        if (d) {
            pthread_mutex_lock(&d->mu);
            dyn_set_current(d, NULL);
            pthread_mutex_unlock(&d->mu);
        }
        *out = plan;
        return TSR_OK;
    }
    if (!d) {
        for (int i = 0; i < plan->n_inputs; i++) {
            const struct tsr_tensor_desc *want = &plan->input_descs[i];
            if (in[i].dtype != want->dtype)
                return TSR_ERR(plan->ctx, TSR_E_DTYPE, "input '%s': dtype %s, the model expects %s",
                               plan->input_names[i], tsr_dtype_name(in[i].dtype),
                               tsr_dtype_name(want->dtype));
            if (!tsr_desc_equal(&in[i], want))
                return TSR_ERR(plan->ctx, TSR_E_SHAPE, "input '%s': shape %s, the model expects %s",
                               plan->input_names[i], tsr_desc_format(&in[i], s0, sizeof s0),
                               tsr_desc_format(want, s1, sizeof s1));
        }
        return TSR_ERR(plan->ctx, TSR_E_INTERNAL, "specialize: shapes differ but no input does");
    }
    unsigned char *vals = NULL;
    size_t n_vals = 0;
    if (values_key(plan, in, data, &vals, &n_vals))
        return TSR_ERR(plan->ctx, TSR_E_NOMEM, "re-plan: out of memory");
    pthread_mutex_lock(&d->mu);
    tsr_plan *hit = spec_lookup(d, plan->n_inputs, in, vals, n_vals, hold);
    const int on_host = any_fell_back(plan);
    pthread_mutex_unlock(&d->mu);
    if (hit) {
        free(vals);
        *out = hit;
        return TSR_OK;
    }
    tsr_status st = check_against_declared(plan, in);
    if (st != TSR_OK) {
        free(vals);
        return st;
    }
    struct tsr_tensor_desc *key = malloc(sizeof *key * (size_t)plan->n_inputs + 1);
    if (!key) {
        free(vals);
        return TSR_ERR(plan->ctx, TSR_E_NOMEM, "re-plan: out of memory");
    }
    memcpy(key, in, sizeof *key * (size_t)plan->n_inputs);
    tsr_plan *sub = NULL;
    double ms = 0;
    if ((st = replan(plan, in, data, on_host, &sub, &ms)) != TSR_OK) {
        free(key);
        free(vals);
        return st;
    }
    pthread_mutex_lock(&d->mu);
    d->last_replan_ms = ms;
    d->total_replan_ms += ms;
    d->misses++;
    /* another thread may have made the same specialisation meanwhile: use the cached one */
    if ((hit = spec_lookup(d, plan->n_inputs, in, vals, n_vals, hold)) != NULL) {
        pthread_mutex_unlock(&d->mu);
        tsr_plan_destroy(sub);
        free(key);
        free(vals);
        *out = hit;
        return TSR_OK;
    }
    int slot = d->n;
    if (d->n == d->cap) { /* evict the least recently used */
        slot = 0;
        for (int i = 1; i < d->n; i++)
            if (d->specs[i].used < d->specs[slot].used) slot = i;
        tsr_plan *old = d->specs[slot].plan;
        old->spec_evicted = 1; /* destroyed now, or by the last run still using it */
        old->retired_next = d->retired;
        d->retired = old;
        dyn_reap(d, old);
        free(d->specs[slot].in);
        free(d->specs[slot].vals);
        d->evictions++;
    } else {
        d->n++;
    }
    d->specs[slot].in = key;
    d->specs[slot].vals = vals;
    d->specs[slot].n_vals = n_vals;
    d->specs[slot].plan = sub;
    d->specs[slot].used = ++d->tick;
    if (hold) sub->spec_refs++;
    dyn_set_current(d, sub);
    pthread_mutex_unlock(&d->mu);
    *out = sub;
    return TSR_OK;
}

tsr_status tsr_plan_specialize(tsr_plan *plan, const struct tsr_tensor_desc *input_descs,
                               size_t n_inputs) {
    if (!plan) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_plan_specialize: plan is NULL");
    if ((int)n_inputs != plan->n_inputs || (n_inputs && !input_descs))
        return TSR_ERR(plan->ctx, TSR_E_INVALID_ARG,
                       "tsr_plan_specialize: %zu input shapes given, the plan has %d inputs",
                       n_inputs, plan->n_inputs);
    tsr_plan *run;
    return specialize(plan, input_descs, NULL, 0, &run);
}

tsr_status tsr_plan_specialize_inputs(tsr_plan *plan, const struct tsr_tensor *inputs,
                                      size_t n_inputs) {
    if (!plan) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_plan_specialize_inputs: plan is NULL");
    if ((int)n_inputs != plan->n_inputs || (n_inputs && !inputs))
        return TSR_ERR(plan->ctx, TSR_E_INVALID_ARG,
                       "tsr_plan_specialize_inputs: %zu inputs given, the plan has %d inputs",
                       n_inputs, plan->n_inputs);
    struct tsr_tensor_desc *in = calloc(n_inputs + 1, sizeof *in);
    const void **data = calloc(n_inputs + 1, sizeof *data);
    tsr_status st = TSR_OK;
    if (!in || !data) st = TSR_ERR(plan->ctx, TSR_E_NOMEM, "tsr_plan_specialize_inputs: OOM");
    for (size_t i = 0; st == TSR_OK && i < n_inputs; i++) {
        in[i] = inputs[i].desc;
        data[i] = inputs[i].data;
        if (!data[i] && value_of(plan, NULL, (int)i))
            st = TSR_ERR(plan->ctx, TSR_E_INVALID_ARG, "input '%s': data is NULL",
                         plan->input_names[i]);
    }
    tsr_plan *run;
    if (st == TSR_OK) st = specialize(plan, in, data, 0, &run);
    free(in);
    free(data);
    return st;
}

tsr_status tsr_plan_input_info(const tsr_plan *p, int i, struct tsr_input_info *out) {
    if (!p || !out || i < 0 || i >= p->n_inputs)
        return TSR_ERR(p ? p->ctx : NULL, TSR_E_INVALID_ARG, "plan input %d out of range", i);
    tsr_input_info_fill(p->input_names[i], &p->input_descs[i],
                        p->input_dims ? &p->input_dims[i] : NULL, out);
    out->desc = tsr_plan_current(p)->input_descs[i];
    return TSR_OK;
}

/* ---------------------------------------------------------------------------------------- */

static tsr_status copy_io(tsr_plan *plan, const tsr_graph *g) {
    plan->n_inputs = g->n_inputs;
    plan->n_outputs = g->n_outputs;
    plan->input_names = calloc((size_t)g->n_inputs + 1, sizeof(char *));
    plan->output_names = calloc((size_t)g->n_outputs + 1, sizeof(char *));
    plan->input_descs = calloc((size_t)g->n_inputs + 1, sizeof(struct tsr_tensor_desc));
    plan->output_descs = calloc((size_t)g->n_outputs + 1, sizeof(struct tsr_tensor_desc));
    if (!plan->input_names || !plan->output_names || !plan->input_descs || !plan->output_descs)
        return TSR_ERR(plan->ctx, TSR_E_NOMEM, "compile: out of memory");
    for (int i = 0; i < g->n_inputs; i++) {
        plan->input_names[i] = tsr_strdup(g->values[g->inputs[i]].name);
        plan->input_descs[i] = g->values[g->inputs[i]].desc;
        if (!plan->input_names[i]) return TSR_ERR(plan->ctx, TSR_E_NOMEM, "compile: OOM");
    }
    for (int i = 0; i < g->n_outputs; i++) {
        plan->output_names[i] = tsr_strdup(g->outputs[i].name);
        plan->output_descs[i] = g->values[g->outputs[i].value].desc;
        if (!plan->output_names[i]) return TSR_ERR(plan->ctx, TSR_E_NOMEM, "compile: OOM");
    }
    plan->deferred = g->deferred;
    if (!tsr_graph_has_symbolic_dims(g)) return TSR_OK;
    plan->input_dims = calloc((size_t)g->n_inputs + 1, sizeof *plan->input_dims);
    if (!plan->input_dims) return TSR_ERR(plan->ctx, TSR_E_NOMEM, "compile: OOM");
    for (int i = 0; i < g->n_inputs; i++) {
        for (int d = 0; d < TSR_MAX_RANK; d++)
            if (g->input_dims[i].names[d] &&
                !(plan->input_dims[i].names[d] = tsr_strdup(g->input_dims[i].names[d])))
                return TSR_ERR(plan->ctx, TSR_E_NOMEM, "compile: OOM");
        plan->input_dims[i].is_value = g->input_dims[i].is_value;
        if (g->input_dims[i].value) {
            size_t nb = tsr_desc_bytes(&plan->input_descs[i]);
            if (!(plan->input_dims[i].value = malloc(nb ? nb : 1)))
                return TSR_ERR(plan->ctx, TSR_E_NOMEM, "compile: OOM");
            memcpy(plan->input_dims[i].value, g->input_dims[i].value, nb);
        }
    }
    return TSR_OK;
}

/* The pass pipeline (runtime/passes/passes.h), in order; statistics kept in the plan. */
static tsr_status run_passes(tsr_plan *plan, tsr_graph *g, unsigned disable) {
    tsr_status st;
    int n = 0;
    if ((st = tsr_pass_decompose(g, &n)) != TSR_OK) return st;
    if ((st = tsr_pass_fold(g, &plan->n_folded)) != TSR_OK) return st;
    if ((st = tsr_pass_bn(g, !(disable & TSR_FUSE_BN), &plan->n_bn)) != TSR_OK) return st;
    if ((st = tsr_pass_fold(g, &n)) != TSR_OK) return st;
    plan->n_folded += n;
    if ((st = tsr_pass_simplify(g, &plan->n_simplified)) != TSR_OK) return st;
    if ((st = tsr_pass_cse(g, &plan->n_cse)) != TSR_OK) return st;
    if (!(disable & TSR_FUSE_LAYERNORM) &&
        (st = tsr_pass_layernorm(g, &plan->n_layernorm)) != TSR_OK)
        return st;
    if (!(disable & TSR_FUSE_ELEMENTWISE) && (st = tsr_pass_gelu(g, &n)) != TSR_OK) return st;
    return tsr_pass_dce(g, &plan->n_dead);
}

/* Appends printf-style text to plan->reason (truncating). */
static void reason_append(tsr_plan *plan, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void reason_append(tsr_plan *plan, const char *fmt, ...) {
    size_t l = strlen(plan->reason);
    if (l + 1 >= sizeof plan->reason) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(plan->reason + l, sizeof plan->reason - l, fmt, ap);
    va_end(ap);
}

/* Decides whether the plan runs across devices (tessera.h, tsr_compile_options.placement). On
 * "hetero" or "alternate", or on "auto" with an auto device when hetero is predicted faster than
 * the single device `want` by more than TSR_HETERO_MARGIN, *assign receives a malloc'd device per
 * kernel (caller frees) and plan->placement is set; otherwise *assign stays NULL ("single").
 * The decision and its predictions are appended to plan->reason. Returns TSR_OK or
 * TSR_E_NOMEM (a placement failure is logged and the plan stays on one device). */
static tsr_status choose_placement(tsr_plan *plan, const char *placement, int auto_device, int want,
                                   int **assign) {
    tsr_context *ctx = plan->ctx;
    *assign = NULL;
    snprintf(plan->placement, sizeof plan->placement, "single");
    int forced = !strcmp(placement, "hetero") || !strcmp(placement, "alternate");
    if (!strcmp(placement, "single") || (!forced && !auto_device)) return TSR_OK;
    if (ctx->n_devices < 2 || plan->prog.n_kernels == 0) {
        if (forced)
            reason_append(plan, "; placement %s: only one device, whole plan on %s", placement,
                          ctx->devices[want].info.id);
        return TSR_OK;
    }
    if (!auto_device)
        for (int i = 0; i < ctx->n_devices; i++)
            (void)tsr_sched_ensure_calibrated(ctx, i);
    int *a = malloc((size_t)plan->prog.n_kernels * sizeof *a);
    if (!a) return TSR_ERR(ctx, TSR_E_NOMEM, "compile: out of memory");
    /* A device whose backend cannot run a kernel (runtime/backend.h, supports) never gets it. */
    for (int d = 0; d < ctx->n_devices; d++) {
        int n_bad = 0, first = -1;
        char why[256] = "";
        for (int k = 0; k < plan->prog.n_kernels; k++)
            if (!tsr_backend_supports(&ctx->devices[d], &plan->prog, k, first < 0 ? why : NULL,
                                      first < 0 ? sizeof why : 0)) {
                if (first < 0) first = k;
                n_bad++;
            }
        if (n_bad)
            reason_append(plan, "; %s cannot run %d kernel(s) (first: kernel %d '%s': %s)",
                          ctx->devices[d].info.id, n_bad, first, plan->prog.kernels[first].name,
                          why);
    }
    double makespan = 0.0;
    if (!strcmp(placement, "alternate")) {
        /* kernel k on device k mod N, or the next device that can run it */
        for (int k = 0; k < plan->prog.n_kernels; k++) {
            a[k] = k % ctx->n_devices;
            for (int j = 0; j < ctx->n_devices; j++) {
                int d = (k + j) % ctx->n_devices;
                if (tsr_backend_supports(&ctx->devices[d], &plan->prog, k, NULL, 0)) {
                    a[k] = d;
                    break;
                }
            }
        }
    } else if (tsr_sched_place_heft(ctx, &plan->prog, a, &makespan) != TSR_OK) {
        /* Asked for hetero: a warning. On auto it is only a reason (--explain shows it): a
         * kernel no device has figures for is the single-device compile's error to report, in
         * one line, not a warning printed before it. */
        tsr_log(ctx, forced ? TSR_LOG_WARN : TSR_LOG_INFO,
                "placement: HEFT failed (%s); staying on one device",
                tsr_last_error(NULL)->message);
        reason_append(plan, "; placement: HEFT failed (%s); staying on one device",
                      tsr_last_error(NULL)->message);
        free(a);
        return TSR_OK;
    }
    int n_seg = 0;
    double h_ms = tsr_sched_place_predict_ms(ctx, &plan->prog, a, &n_seg);
    double s_ms = tsr_sched_predict_device_ms(ctx, want, &plan->prog);
    int used[64] = {0}, n_used = 0;
    for (int k = 0; k < plan->prog.n_kernels; k++)
        if (a[k] < 64 && !used[a[k]]++) n_used++;
    if (!forced && !(n_seg > 1 && h_ms < s_ms * (1.0 - TSR_HETERO_MARGIN))) {
        reason_append(plan,
                      "; hetero placement not used: HEFT puts %d kernels in %d segment(s) on %d "
                      "device(s), predicted %.3f ms sequential (HEFT makespan with overlap %.3f "
                      "ms) vs %.3f ms on %s",
                      plan->prog.n_kernels, n_seg, n_used, h_ms, makespan, s_ms,
                      ctx->devices[want].info.id);
        free(a);
        return TSR_OK;
    }
    snprintf(plan->placement, sizeof plan->placement, "%s", forced ? placement : "hetero");
    reason_append(plan,
                  "; placement %s%s: %d kernels in %d segment(s) on %d device(s), predicted %.3f "
                  "ms (segments run one after the other, no overlap; HEFT makespan %.3f ms) vs "
                  "%.3f ms on %s alone",
                  plan->placement, forced ? " (requested)" : " (predicted faster)",
                  plan->prog.n_kernels, n_seg, n_used, h_ms, makespan, s_ms,
                  ctx->devices[want].info.id);
    *assign = a;
    return TSR_OK;
}

/* Refuses, before any device allocates it, a plan whose arena of intermediates exceeds
 * TSR_MAX_ARENA_BYTES or the host's memory (docs/RELIABILITY.md, "Limits"). Returns TSR_OK or
 * TSR_E_UNSUPPORTED naming both sizes and the variable. */
static tsr_status check_arena(tsr_plan *plan) {
    tsr_context *ctx = plan->ctx;
    const int64_t cap = tsr_env_limit(ctx, "TSR_MAX_ARENA_BYTES", TSR_MAX_ARENA_BYTES_DEFAULT);
    const uint64_t mem = ctx->devices[tsr_context_host_device(ctx)].info.global_mem_bytes;
    const uint64_t arena = plan->prog.arena_bytes;
    if (arena > (uint64_t)cap)
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "compile: the plan needs an arena of %llu bytes for its intermediates, over "
                       "the limit of %lld bytes (TSR_MAX_ARENA_BYTES raises it)",
                       (unsigned long long)arena, (long long)cap);
    if (mem > 0 && arena > mem)
        return TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                       "compile: the plan needs an arena of %llu bytes for its intermediates, more "
                       "than this machine's %llu bytes of memory",
                       (unsigned long long)arena, (unsigned long long)mem);
    return TSR_OK;
}

tsr_status tsr_compile(tsr_context *ctx, const tsr_graph *graph,
                       const struct tsr_compile_options *opts, tsr_plan **out) {
    return tsr_compile_ex(ctx, graph, opts, 0, out);
}

tsr_status tsr_compile_ex(tsr_context *ctx, const tsr_graph *graph,
                          const struct tsr_compile_options *opts, int keep_graph, tsr_plan **out) {
    if (!ctx || !graph || !out)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_compile: NULL argument");
    if (graph->n_outputs == 0)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_compile: the graph has no outputs");
    struct tsr_compile_options o = opts ? *opts : tsr_compile_options_default();
    const char *dev_str = o.device ? o.device : tsr_getenv("TSR_DEVICE");
    if (!dev_str) dev_str = "auto";
    unsigned disable = o.disable_fusion | env_disabled_fusion(ctx);
    int want = -1; /* -1: auto */
    tsr_status st;
    if (strcmp(dev_str, "auto") != 0) {
        if ((st = tsr_device_find(ctx, dev_str, &want)) != TSR_OK) {
            if (o.device) return st;
            /* A default from the environment that names no device here: auto, said once. */
            static atomic_int warned;
            if (!atomic_exchange(&warned, 1))
                tsr_log(ctx, TSR_LOG_WARN, "TSR_DEVICE='%s' ignored (%s); using auto", dev_str,
                        tsr_last_error(NULL)->message);
            want = -1;
        }
    }
    int auto_device = want < 0;
    const char *placement = o.placement ? o.placement : tsr_getenv("TSR_PLACEMENT");
    if (!placement) placement = "auto";
    if (strcmp(placement, "auto") && strcmp(placement, "single") && strcmp(placement, "hetero") &&
        strcmp(placement, "alternate"))
        return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                       "placement '%s': expected auto, single, hetero or alternate", placement);

    tsr_plan *plan = calloc(1, sizeof *plan);
    if (!plan) return TSR_ERR(ctx, TSR_E_NOMEM, "tsr_compile: out of memory");
    if (pthread_rwlock_init(&plan->exec_lock, NULL) != 0) {
        free(plan);
        return TSR_ERR(ctx, TSR_E_NOMEM, "tsr_compile: cannot create a lock");
    }
    if (pthread_mutex_init(&plan->hetero_lock, NULL) != 0) {
        pthread_rwlock_destroy(&plan->exec_lock);
        free(plan);
        return TSR_ERR(ctx, TSR_E_NOMEM, "tsr_compile: cannot create a lock");
    }
    plan->sync_ok = 1;
    plan->ctx = ctx;
    plan->allow_fallback = o.allow_fallback;
    tsr_graph *g = NULL;
    if ((st = copy_io(plan, graph)) != TSR_OK) goto fail;
    if ((st = tsr_graph_clone(graph, &g)) != TSR_OK) goto fail;
    if ((st = run_passes(plan, g, disable)) != TSR_OK) goto fail;
    if ((st = tsr_lower(g, disable, &plan->prog, keep_graph ? &plan->value_buffer : NULL)) !=
        TSR_OK)
        goto fail;
    if (keep_graph)
        plan->opt = g;
    else
        tsr_graph_destroy(g);
    g = NULL;
    if ((st = check_arena(plan)) != TSR_OK) goto fail;

    if (want < 0) {
        /* First use of a device on this machine measures it (a few seconds, then cached). */
        for (int i = 0; i < ctx->n_devices; i++)
            (void)tsr_sched_ensure_calibrated(ctx, i);
        want = tsr_sched_choose_program(ctx, &plan->prog, plan->reason, sizeof plan->reason);
    } else {
        (void)tsr_sched_ensure_calibrated(ctx, want);
        snprintf(plan->reason, sizeof plan->reason, "%s requested (predicted %.3f ms per run)",
                 ctx->devices[want].info.id, tsr_sched_predict_device_ms(ctx, want, &plan->prog));
    }
    int *assign = NULL;
    st = choose_placement(plan, placement, auto_device, want, &assign);
    if (st != TSR_OK) goto fail;
    if (assign) {
        st = tsr_hetero_prepare(ctx, &plan->prog, assign, plan->allow_fallback, &plan->hetero);
        free(assign);
        if (st != TSR_OK) goto fail;
        plan->device = tsr_context_host_device(ctx);
        plan->ops = ctx->devices[plan->device].ops;
        plan->exec = NULL;
        if (!keep_graph && (st = attach_dyn(plan, graph, &o)) != TSR_OK) goto fail;
        *out = plan;
        return TSR_OK;
    }
    st = prepare_on(plan, want);
    if (st != TSR_OK && want != tsr_context_host_device(ctx) && plan->allow_fallback &&
        is_device_failure(st)) {
        plan->device = want;
        plan->ops = ctx->devices[want].ops;
        st = fall_back_to_host(plan, st);
    }
    if (st != TSR_OK) goto fail;
    if (!keep_graph && (st = attach_dyn(plan, graph, &o)) != TSR_OK) goto fail;
    *out = plan;
    return TSR_OK;
fail:
    tsr_graph_destroy(g);
    plan->exec = NULL;
    tsr_plan_destroy(plan);
    return st;
}

void tsr_plan_destroy(tsr_plan *plan) {
    if (!plan) return;
    if (plan->exec) plan->ops->release(plan->exec);
    tsr_hetero_release(plan->hetero);
    tsr_program_free(&plan->prog);
    tsr_graph_destroy(plan->opt);
    free(plan->value_buffer);
    for (int i = 0; i < plan->n_inputs; i++)
        free(plan->input_names ? plan->input_names[i] : NULL);
    for (int i = 0; i < plan->n_outputs; i++)
        free(plan->output_names ? plan->output_names[i] : NULL);
    free(plan->input_names);
    free(plan->output_names);
    free(plan->input_descs);
    free(plan->output_descs);
    for (int i = 0; plan->input_dims && i < plan->n_inputs; i++) {
        for (int d = 0; d < TSR_MAX_RANK; d++)
            free(plan->input_dims[i].names[d]);
        free(plan->input_dims[i].value);
    }
    free(plan->input_dims);
    dyn_free(plan->dyn);
    if (plan->sync_ok) {
        pthread_mutex_destroy(&plan->hetero_lock);
        pthread_rwlock_destroy(&plan->exec_lock);
    }
    free(plan);
}

/* tsr_plan_run at input shapes other than the compiled ones (a dynamic plan): specialise, check
 * the caller's output buffers against the new output shapes, run the specialisation. */
static tsr_status run_specialized(tsr_plan *plan, const struct tsr_tensor *inputs,
                                  struct tsr_tensor *outputs) {
    tsr_context *ctx = plan->ctx;
    char s0[160], s1[160];
    struct tsr_tensor_desc in[64] = {{0}}, *inp = in;
    if (plan->n_inputs > 64 && !(inp = malloc(sizeof *inp * (size_t)plan->n_inputs)))
        return TSR_ERR(ctx, TSR_E_NOMEM, "tsr_plan_run: out of memory");
    for (int i = 0; i < plan->n_inputs; i++)
        inp[i] = inputs[i].desc;
    const void *dv[64] = {0}, **dp = dv;
    if (plan->n_inputs > 64 && !(dp = calloc((size_t)plan->n_inputs, sizeof *dp))) {
        if (inp != in) free(inp);
        return TSR_ERR(ctx, TSR_E_NOMEM, "tsr_plan_run: out of memory");
    }
    for (int i = 0; i < plan->n_inputs; i++)
        dp[i] = inputs[i].data;
    tsr_plan *run = NULL;
    tsr_status st = specialize(plan, inp, dp, 1, &run);
    if (inp != in) free(inp);
    if (dp != dv) free(dp);
    if (st != TSR_OK) return st;
    for (int i = 0; i < run->n_outputs; i++) {
        const struct tsr_tensor_desc *need = &run->output_descs[i];
        if (tsr_desc_check(&outputs[i].desc) ||
            tsr_desc_bytes(&outputs[i].desc) < tsr_desc_bytes(need)) {
            st = TSR_ERR(ctx, TSR_E_SHAPE,
                         "output '%s': the buffer is described as %s, at these input shapes "
                         "the output is %s (set outputs[i].desc to the buffer's shape, e.g. "
                         "from tsr_plan_specialize + tsr_plan_output_desc)",
                         run->output_names[i],
                         tsr_desc_check(&outputs[i].desc)
                             ? "invalid"
                             : tsr_desc_format(&outputs[i].desc, s0, sizeof s0),
                         tsr_desc_format(need, s1, sizeof s1));
            spec_unhold(plan, run);
            return st;
        }
    }
    st = tsr_plan_run(run, inputs, (size_t)run->n_inputs, outputs, (size_t)run->n_outputs);
    spec_unhold(plan, run); /* the specialisation may be destroyed from here on */
    return st;
}

static tsr_status plan_run(tsr_plan *plan, const struct tsr_tensor *inputs, size_t n_inputs,
                           struct tsr_tensor *outputs, size_t n_outputs);

/* The run under the plan's profiling switch (tsr_plan_set_profiling), then plan_run. */
tsr_status tsr_plan_run(tsr_plan *plan, const struct tsr_tensor *inputs, size_t n_inputs,
                        struct tsr_tensor *outputs, size_t n_outputs) {
    if (!plan) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_plan_run: plan is NULL");
    const int saved = tsr_prof_run_begin(plan->profiling);
    tsr_status st = plan_run(plan, inputs, n_inputs, outputs, n_outputs);
    tsr_prof_run_end(saved);
    return st;
}

tsr_status tsr_plan_set_profiling(tsr_plan *plan, tsr_plan_profiling mode) {
    if (!plan) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_plan_set_profiling: plan is NULL");
    if ((int)mode < TSR_PLAN_PROFILE_CONTEXT || (int)mode > TSR_PLAN_PROFILE_OFF)
        return TSR_ERR(plan->ctx, TSR_E_INVALID_ARG,
                       "tsr_plan_set_profiling: mode %d out of range (0 context, 1 on, 2 off)",
                       (int)mode);
    plan->profiling = mode;
    return TSR_OK;
}

static tsr_status plan_run(tsr_plan *plan, const struct tsr_tensor *inputs, size_t n_inputs,
                           struct tsr_tensor *outputs, size_t n_outputs) {
    tsr_context *ctx = plan->ctx;
    char s0[160], s1[160];
    if ((int)n_inputs != plan->n_inputs || (n_inputs && !inputs))
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_plan_run: %zu inputs given, the plan has %d",
                       n_inputs, plan->n_inputs);
    if ((int)n_outputs != plan->n_outputs || (n_outputs && !outputs))
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_plan_run: %zu outputs given, the plan has %d",
                       n_outputs, plan->n_outputs);
    int other_shapes = 0; /* inputs at shapes other than the compiled ones (a dynamic plan) */
    for (int i = 0; i < plan->n_inputs; i++) {
        const struct tsr_tensor_desc *want = &plan->input_descs[i];
        if (inputs[i].desc.dtype != want->dtype)
            return TSR_ERR(ctx, TSR_E_DTYPE, "input '%s': dtype %s, the model expects %s",
                           plan->input_names[i], tsr_dtype_name(inputs[i].desc.dtype),
                           tsr_dtype_name(want->dtype));
        if (!tsr_desc_equal(&inputs[i].desc, want)) {
            if (!plan->dyn)
                return TSR_ERR(ctx, TSR_E_SHAPE, "input '%s': shape %s, the model expects %s",
                               plan->input_names[i],
                               tsr_desc_format(&inputs[i].desc, s0, sizeof s0),
                               tsr_desc_format(want, s1, sizeof s1));
            other_shapes = 1;
            continue;
        }
        if (!inputs[i].data && tsr_desc_elements(want) > 0)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG, "input '%s': data is NULL",
                           plan->input_names[i]);
        const void *bound = plan->input_dims ? plan->input_dims[i].value : NULL;
        if (bound && memcmp(inputs[i].data, bound, tsr_desc_bytes(want))) {
            /* A value input (tsr_input_shape.data) with other contents: re-specialise. */
            if (!plan->dyn)
                return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                               "input '%s': a value input, compiled for other contents (this "
                               "plan cannot re-specialise)",
                               plan->input_names[i]);
            other_shapes = 1;
        }
    }
    if (plan->deferred && !plan->dyn)
        return TSR_ERR(ctx, TSR_E_INTERNAL, "tsr_plan_run: a deferred plan cannot specialise");
    if (other_shapes || plan->deferred) return run_specialized(plan, inputs, outputs);
    if (plan->dyn && atomic_load(&plan->dyn->current)) {
        pthread_mutex_lock(&plan->dyn->mu);
        dyn_set_current(plan->dyn, NULL);
        pthread_mutex_unlock(&plan->dyn->mu);
    }
    for (int i = 0; i < plan->n_outputs; i++) {
        if (!outputs[i].data && tsr_desc_elements(&plan->output_descs[i]) > 0)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG, "output '%s': data is NULL",
                           plan->output_names[i]);
        outputs[i].desc = plan->output_descs[i];
    }
    if (plan->hetero) { /* segment I/O records and staging are per plan: one run at a time */
        pthread_mutex_lock(&plan->hetero_lock);
        tsr_status st = tsr_hetero_execute(plan->hetero, inputs, outputs);
        pthread_mutex_unlock(&plan->hetero_lock);
        return st;
    }
    /* Runs share the executable (the backends' execute is thread-safe); a fallback swaps it. */
    const int host = tsr_context_host_device(ctx);
    pthread_rwlock_rdlock(&plan->exec_lock);
    const int dev = plan->device;
    tsr_status st = plan->ops->execute(plan->exec, inputs, outputs);
    pthread_rwlock_unlock(&plan->exec_lock);
    if (st != TSR_OK && dev != host && plan->allow_fallback && is_device_failure(st)) {
        pthread_rwlock_wrlock(&plan->exec_lock);
        /* another run may have fallen back already: then just run again on the host */
        if (plan->device != host) {
            tsr_status fb = fall_back_to_host(plan, st);
            if (fb != TSR_OK) {
                pthread_rwlock_unlock(&plan->exec_lock);
                return fb;
            }
        }
        pthread_rwlock_unlock(&plan->exec_lock);
        pthread_rwlock_rdlock(&plan->exec_lock);
        st = plan->ops->execute(plan->exec, inputs, outputs);
        pthread_rwlock_unlock(&plan->exec_lock);
    }
    return st;
}

/* p->device, read under the lock a fallback takes to change it. */
static int plan_device(const tsr_plan *p) {
    pthread_rwlock_rdlock((pthread_rwlock_t *)&p->exec_lock);
    const int dev = p->device;
    pthread_rwlock_unlock((pthread_rwlock_t *)&p->exec_lock);
    return dev;
}

int tsr_plan_input_count(const tsr_plan *p) {
    return p ? p->n_inputs : 0;
}
int tsr_plan_output_count(const tsr_plan *p) {
    return p ? p->n_outputs : 0;
}

tsr_status tsr_plan_input_desc(const tsr_plan *p, int i, const char **name,
                               struct tsr_tensor_desc *desc) {
    p = tsr_plan_current(p);
    if (!p || i < 0 || i >= p->n_inputs)
        return TSR_ERR(p ? p->ctx : NULL, TSR_E_INVALID_ARG, "plan input %d out of range", i);
    if (name) *name = p->input_names[i];
    if (desc) *desc = p->input_descs[i];
    return TSR_OK;
}

tsr_status tsr_plan_output_desc(const tsr_plan *p, int i, const char **name,
                                struct tsr_tensor_desc *desc) {
    p = tsr_plan_current(p);
    if (!p || i < 0 || i >= p->n_outputs)
        return TSR_ERR(p ? p->ctx : NULL, TSR_E_INVALID_ARG, "plan output %d out of range", i);
    if (name) *name = p->output_names[i];
    if (desc) *desc = p->output_descs[i];
    return TSR_OK;
}

tsr_status tsr_plan_device(const tsr_plan *p, struct tsr_device_info *out) {
    if (!p || !out) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_plan_device: NULL argument");
    p = tsr_plan_current(p);
    tsr_device_snapshot(p->ctx, plan_device(p), out);
    return TSR_OK;
}

int tsr_plan_kernel_count(const tsr_plan *p) {
    p = tsr_plan_current(p);
    return p ? p->prog.n_kernels : 0;
}
const char *tsr_plan_device_reason(const tsr_plan *p) {
    p = tsr_plan_current(p);
    return p ? p->reason : "";
}
size_t tsr_plan_arena_bytes(const tsr_plan *p) {
    p = tsr_plan_current(p);
    return p ? p->prog.arena_bytes : 0;
}

tsr_status tsr_plan_memory_info(const tsr_plan *p, struct tsr_plan_memory *out) {
    if (!p || !out) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_plan_memory_info: NULL argument");
    p = tsr_plan_current(p);
    out->arena_bytes = p->prog.arena_bytes;
    out->lower_bound_bytes = p->prog.arena_lower_bound_bytes;
    out->unplanned_bytes = p->prog.unplanned_bytes;
    out->intermediates = 0;
    for (int b = 0; b < p->prog.n_buffers; b++)
        out->intermediates += p->prog.buffers[b].kind == TSR_BUF_TEMP;
    return TSR_OK;
}

/* Fills the contraction fields of *out (tsr_kernel_info) from k's geometry. */
static void contraction_info(const struct tsr_kernel *k, struct tsr_kernel_info *out) {
    out->contraction = "";
    out->core_flops = 0;
    out->geometry[0] = 0;
    if (k->kind == TSR_K_GEMM) {
        const struct tsr_k_gemm *g = &k->u.gemm;
        out->contraction = "gemm";
        out->core_flops = 2 * (uint64_t)g->batch * (uint64_t)g->M * (uint64_t)g->N * (uint64_t)g->K;
        snprintf(out->geometry, sizeof out->geometry, "%lldx[%lldx%lld]x[%lldx%lld]",
                 (long long)g->batch, (long long)g->M, (long long)g->K, (long long)g->K,
                 (long long)g->N);
    } else if (k->kind == TSR_K_CONV) {
        const struct tsr_k_conv *c = &k->u.conv;
        int64_t cg = c->group > 0 ? c->C / c->group : c->C;
        out->contraction = "conv";
        out->core_flops = 2 * (uint64_t)c->N * (uint64_t)c->M * (uint64_t)c->OH * (uint64_t)c->OW *
                          (uint64_t)cg * (uint64_t)c->KH * (uint64_t)c->KW;
        snprintf(out->geometry, sizeof out->geometry,
                 "N%lld C%lld %lldx%lld -> M%lld %lldx%lld k%lldx%lld s%lld g%lld", (long long)c->N,
                 (long long)c->C, (long long)c->H, (long long)c->W, (long long)c->M,
                 (long long)c->OH, (long long)c->OW, (long long)c->KH, (long long)c->KW,
                 (long long)c->stride_h, (long long)c->group);
    }
}

tsr_status tsr_plan_kernel_info(const tsr_plan *p, int i, struct tsr_kernel_info *out) {
    p = tsr_plan_current(p);
    if (!p || !out || i < 0 || i >= p->prog.n_kernels)
        return TSR_ERR(p ? p->ctx : NULL, TSR_E_INVALID_ARG, "tsr_plan_kernel_info: no kernel %d",
                       i);
    const struct tsr_kernel *k = &p->prog.kernels[i];
    out->name = k->name;
    out->nodes = k->nodes ? k->nodes : "";
    out->device = p->ctx->devices[tsr_plan_kernel_device_index(p, i)].info.id;
    out->n_nodes = k->nodes && *k->nodes ? 1 : 0;
    for (const char *c = out->nodes; *c; c++)
        out->n_nodes += *c == ',';
    out->bytes = k->bytes;
    out->flops = k->flops;
    contraction_info(k, out);
    return TSR_OK;
}

int tsr_plan_kernel_device_index(const tsr_plan *p, int k) {
    p = tsr_plan_current(p);
    if (!p || k < 0 || k >= p->prog.n_kernels) return -1;
    if (p->hetero) return tsr_hetero_kernel_device(p->hetero, k);
    return plan_device(p);
}

double tsr_plan_predicted_ms(const tsr_plan *p) {
    p = tsr_plan_current(p);
    if (!p) return HUGE_VAL;
    if (!p->hetero) return tsr_sched_predict_device_ms(p->ctx, plan_device(p), &p->prog);
    int *a = malloc((size_t)p->prog.n_kernels * sizeof *a + 1);
    if (!a) return HUGE_VAL;
    for (int k = 0; k < p->prog.n_kernels; k++)
        a[k] = tsr_hetero_kernel_device(p->hetero, k);
    double ms = tsr_sched_place_predict_ms(p->ctx, &p->prog, a, NULL);
    free(a);
    return ms;
}
