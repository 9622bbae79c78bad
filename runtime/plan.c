/*
 * plan.c — tsr_compile (passes → lowering → device choice → backend prepare) and tsr_plan_run
 * (validation, execution, fallback to the host device when another device fails).
 */
#include "runtime/hetero.h"
#include "runtime/lower.h"
#include "runtime/passes/passes.h"
#include "runtime/plan_internal.h"
#include "scheduler/calibrate.h"
#include "scheduler/cost.h"
#include "scheduler/place.h"
#include "scheduler/select.h"

#include <math.h>
#include <stdarg.h>
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

/* Releases the current executable and prepares for the host device, logging why. */
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
    return TSR_OK;
}

/* The pass pipeline (runtime/passes/passes.h), in order; statistics kept in the plan. */
static tsr_status run_passes(tsr_plan *plan, tsr_graph *g, unsigned disable) {
    tsr_status st;
    int n = 0;
    if ((st = tsr_pass_fold(g, &plan->n_folded)) != TSR_OK) return st;
    if ((st = tsr_pass_bn(g, !(disable & TSR_FUSE_BN), &plan->n_bn)) != TSR_OK) return st;
    if ((st = tsr_pass_fold(g, &n)) != TSR_OK) return st;
    plan->n_folded += n;
    if ((st = tsr_pass_simplify(g, &plan->n_simplified)) != TSR_OK) return st;
    if ((st = tsr_pass_cse(g, &plan->n_cse)) != TSR_OK) return st;
    if (!(disable & TSR_FUSE_LAYERNORM) &&
        (st = tsr_pass_layernorm(g, &plan->n_layernorm)) != TSR_OK)
        return st;
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
        tsr_log(ctx, TSR_LOG_WARN, "placement: HEFT failed (%s); staying on one device",
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
        if ((st = tsr_device_find(ctx, dev_str, &want)) != TSR_OK) return st;
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
    free(plan);
}

tsr_status tsr_plan_run(tsr_plan *plan, const struct tsr_tensor *inputs, size_t n_inputs,
                        struct tsr_tensor *outputs, size_t n_outputs) {
    if (!plan) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_plan_run: plan is NULL");
    tsr_context *ctx = plan->ctx;
    char s0[160], s1[160];
    if ((int)n_inputs != plan->n_inputs || (n_inputs && !inputs))
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_plan_run: %zu inputs given, the plan has %d",
                       n_inputs, plan->n_inputs);
    if ((int)n_outputs != plan->n_outputs || (n_outputs && !outputs))
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_plan_run: %zu outputs given, the plan has %d",
                       n_outputs, plan->n_outputs);
    for (int i = 0; i < plan->n_inputs; i++) {
        const struct tsr_tensor_desc *want = &plan->input_descs[i];
        if (inputs[i].desc.dtype != want->dtype)
            return TSR_ERR(ctx, TSR_E_DTYPE, "input '%s': dtype %s, the model expects %s",
                           plan->input_names[i], tsr_dtype_name(inputs[i].desc.dtype),
                           tsr_dtype_name(want->dtype));
        if (!tsr_desc_equal(&inputs[i].desc, want))
            return TSR_ERR(ctx, TSR_E_SHAPE, "input '%s': shape %s, the model expects %s",
                           plan->input_names[i], tsr_desc_format(&inputs[i].desc, s0, sizeof s0),
                           tsr_desc_format(want, s1, sizeof s1));
        if (!inputs[i].data && tsr_desc_elements(want) > 0)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG, "input '%s': data is NULL",
                           plan->input_names[i]);
    }
    for (int i = 0; i < plan->n_outputs; i++) {
        if (!outputs[i].data && tsr_desc_elements(&plan->output_descs[i]) > 0)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG, "output '%s': data is NULL",
                           plan->output_names[i]);
        outputs[i].desc = plan->output_descs[i];
    }
    if (plan->hetero) return tsr_hetero_execute(plan->hetero, inputs, outputs);
    tsr_status st = plan->ops->execute(plan->exec, inputs, outputs);
    if (st != TSR_OK && plan->device != tsr_context_host_device(ctx) && plan->allow_fallback &&
        is_device_failure(st)) {
        st = fall_back_to_host(plan, st);
        if (st == TSR_OK) st = plan->ops->execute(plan->exec, inputs, outputs);
    }
    return st;
}

int tsr_plan_input_count(const tsr_plan *p) {
    return p ? p->n_inputs : 0;
}
int tsr_plan_output_count(const tsr_plan *p) {
    return p ? p->n_outputs : 0;
}

tsr_status tsr_plan_input_desc(const tsr_plan *p, int i, const char **name,
                               struct tsr_tensor_desc *desc) {
    if (!p || i < 0 || i >= p->n_inputs)
        return TSR_ERR(p ? p->ctx : NULL, TSR_E_INVALID_ARG, "plan input %d out of range", i);
    if (name) *name = p->input_names[i];
    if (desc) *desc = p->input_descs[i];
    return TSR_OK;
}

tsr_status tsr_plan_output_desc(const tsr_plan *p, int i, const char **name,
                                struct tsr_tensor_desc *desc) {
    if (!p || i < 0 || i >= p->n_outputs)
        return TSR_ERR(p ? p->ctx : NULL, TSR_E_INVALID_ARG, "plan output %d out of range", i);
    if (name) *name = p->output_names[i];
    if (desc) *desc = p->output_descs[i];
    return TSR_OK;
}

tsr_status tsr_plan_device(const tsr_plan *p, struct tsr_device_info *out) {
    if (!p || !out) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_plan_device: NULL argument");
    tsr_device_snapshot(p->ctx, p->device, out);
    return TSR_OK;
}

int tsr_plan_kernel_count(const tsr_plan *p) {
    return p ? p->prog.n_kernels : 0;
}
const char *tsr_plan_device_reason(const tsr_plan *p) {
    return p ? p->reason : "";
}
size_t tsr_plan_arena_bytes(const tsr_plan *p) {
    return p ? p->prog.arena_bytes : 0;
}

tsr_status tsr_plan_memory_info(const tsr_plan *p, struct tsr_plan_memory *out) {
    if (!p || !out) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_plan_memory_info: NULL argument");
    out->arena_bytes = p->prog.arena_bytes;
    out->lower_bound_bytes = p->prog.arena_lower_bound_bytes;
    out->unplanned_bytes = p->prog.unplanned_bytes;
    out->intermediates = 0;
    for (int b = 0; b < p->prog.n_buffers; b++)
        out->intermediates += p->prog.buffers[b].kind == TSR_BUF_TEMP;
    return TSR_OK;
}

tsr_status tsr_plan_kernel_info(const tsr_plan *p, int i, struct tsr_kernel_info *out) {
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
    return TSR_OK;
}

int tsr_plan_kernel_device_index(const tsr_plan *p, int k) {
    if (!p || k < 0 || k >= p->prog.n_kernels) return -1;
    return p->hetero ? tsr_hetero_kernel_device(p->hetero, k) : p->device;
}

double tsr_plan_predicted_ms(const tsr_plan *p) {
    if (!p) return HUGE_VAL;
    if (!p->hetero) return tsr_sched_predict_device_ms(p->ctx, p->device, &p->prog);
    int *a = malloc((size_t)p->prog.n_kernels * sizeof *a + 1);
    if (!a) return HUGE_VAL;
    for (int k = 0; k < p->prog.n_kernels; k++)
        a[k] = tsr_hetero_kernel_device(p->hetero, k);
    double ms = tsr_sched_place_predict_ms(p->ctx, &p->prog, a, NULL);
    free(a);
    return ms;
}
