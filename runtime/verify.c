/*
 * verify.c — tsr_verify: every kernel of a plan checked alone against the unfused scalar
 * reference of the graph nodes fused into it (tessera.h).
 *
 * The program is prepared a second time with every intermediate turned into an extra output, so
 * after one run the host holds every value every kernel read and wrote. For each kernel the
 * graph nodes it fused are evaluated in order with tsr_ref_eval_node, reading graph values from
 * those host copies (values produced inside the kernel come from the local evaluation), and the
 * last node's result is compared with the kernel's output.
 */
#include "runtime/plan_internal.h"
#include "runtime/reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Index of the live node named `name` in g, or -1. */
static int find_node(const tsr_graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && !strcmp(g->nodes[i].name, name)) return i;
    return -1;
}

struct vstate {
    tsr_plan *plan;
    const struct tsr_program *prog;
    const void **buf_data; /* host copy of every buffer after the run */
};

/* Evaluates kernel k's nodes; writes the error into r. */
static tsr_status check_kernel(struct vstate *vs, int ki, struct tsr_verify_kernel *r) {
    const struct tsr_kernel *k = &vs->prog->kernels[ki];
    const tsr_graph *g = vs->plan->opt;
    tsr_context *ctx = vs->plan->ctx;
    r->max_abs_err = NAN;
    r->max_ref = NAN;
    const float *got = vs->buf_data[k->output];
    int64_t n_out = tsr_desc_elements(&vs->prog->buffers[k->output].desc);
    if (k->kind == TSR_K_COPY) {
        const float *src = vs->buf_data[k->inputs[0]];
        double e = 0.0, m = 0.0;
        for (int64_t i = 0; i < n_out; i++) {
            e = fmax(e, fabs((double)got[i] - (double)src[i]));
            m = fmax(m, fabs((double)src[i]));
        }
        r->max_abs_err = e;
        r->max_ref = m;
        return TSR_OK;
    }
    if (!k->nodes || !*k->nodes || !strcmp(k->name, "broadcast_copy")) return TSR_OK;
    /* Local values of this kernel: node outputs evaluated here. */
    struct tsr_tensor *local = calloc((size_t)g->n_values, sizeof *local);
    if (!local) return TSR_ERR(ctx, TSR_E_NOMEM, "verify: out of memory");
    tsr_status st = TSR_OK;
    char names[4096];
    snprintf(names, sizeof names, "%s", k->nodes);
    int last = -1;
    for (char *save = NULL, *t = strtok_r(names, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int ni = find_node(g, t);
        if (ni < 0) continue; /* folded into a live node of this kernel by a pass */
        const struct tsr_node *nd = &g->nodes[ni];
        struct tsr_tensor ins[TSR_NODE_MAX_INPUTS];
        const struct tsr_tensor *in[TSR_NODE_MAX_INPUTS];
        int ok = 1;
        for (int j = 0; j < nd->n_inputs; j++) {
            tsr_value v = nd->inputs[j];
            ins[j].desc = g->values[v].desc;
            if (local[v].data)
                ins[j].data = local[v].data;
            else if (g->values[v].data)
                ins[j].data = g->values[v].data;
            else if (vs->plan->value_buffer[v] >= 0)
                ins[j].data = (void *)vs->buf_data[vs->plan->value_buffer[v]];
            else
                ok = 0;
            in[j] = &ins[j];
        }
        if (!ok) {
            last = -1;
            break;
        }
        if ((st = tsr_tensor_alloc(&g->values[nd->output].desc, &local[nd->output])) != TSR_OK)
            break;
        if ((st = tsr_ref_eval_node(ctx, nd, in, &local[nd->output])) != TSR_OK) break;
        last = nd->output;
    }
    /* compared when the kernel writes the last node's dtype and size (not an intermediate of
     * another dtype, e.g. the float32 GEMM of a uint8 RGBToGray); elements read by dtype */
    const tsr_dtype gdt = vs->prog->buffers[k->output].desc.dtype;
    if (st == TSR_OK && last >= 0 && tsr_desc_elements(&local[last].desc) == n_out &&
        local[last].desc.dtype == gdt) {
        const void *want = local[last].data;
        double e = 0.0, m = 0.0;
        for (int64_t i = 0; i < n_out; i++) {
            const double gv = tsr_elem_get_f64(gdt, got, i), wv = tsr_elem_get_f64(gdt, want, i);
            double d = fabs(gv - wv);
            e = (isnan(d) && !(isnan(gv) && isnan(wv))) ? INFINITY : fmax(e, isnan(d) ? 0 : d);
            m = fmax(m, fabs(wv));
        }
        r->max_abs_err = e;
        r->max_ref = m;
    }
    for (int v = 0; v < g->n_values; v++)
        tsr_tensor_free(&local[v]);
    free(local);
    return st;
}

tsr_status tsr_verify(tsr_context *ctx, const tsr_graph *graph,
                      const struct tsr_compile_options *opts, const struct tsr_tensor *inputs,
                      size_t n_inputs, struct tsr_verify_kernel **out, int *n_out) {
    if (!ctx || !graph || !out || !n_out || (n_inputs && !inputs))
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_verify: NULL argument");
    struct tsr_compile_options o = opts ? *opts : tsr_compile_options_default();
    o.allow_fallback = 0;
    tsr_plan *plan = NULL;
    tsr_status st = tsr_compile_ex(ctx, graph, &o, 1, &plan);
    if (st != TSR_OK) return st;
    /* Validate the inputs through the normal path (shapes, dtypes) with one ordinary run. */
    struct tsr_program ex = plan->prog; /* shallow: buffers array replaced below */
    int nb = ex.n_buffers, n_extra = 0;
    struct tsr_buffer *bufs = malloc(sizeof *bufs * (size_t)(nb ? nb : 1));
    const void **data = calloc((size_t)(nb ? nb : 1), sizeof *data);
    struct tsr_tensor *outs = calloc((size_t)(nb + plan->n_outputs + 1), sizeof *outs);
    struct tsr_verify_kernel *res = calloc((size_t)(ex.n_kernels ? ex.n_kernels : 1), sizeof *res);
    int *out_bufs = malloc(sizeof(int) * (size_t)(nb + plan->n_outputs + 1));
    void *exec = NULL;
    if (!bufs || !data || !outs || !res || !out_bufs) {
        st = TSR_ERR(ctx, TSR_E_NOMEM, "tsr_verify: out of memory");
        goto done;
    }
    memcpy(bufs, plan->prog.buffers, sizeof *bufs * (size_t)nb);
    memcpy(out_bufs, plan->prog.output_buffers, sizeof(int) * (size_t)plan->n_outputs);
    for (int b = 0; b < nb; b++) {
        if (bufs[b].kind != TSR_BUF_TEMP) continue;
        bufs[b].kind = TSR_BUF_OUTPUT;
        bufs[b].io_index = plan->n_outputs + n_extra;
        out_bufs[plan->n_outputs + n_extra++] = b;
    }
    ex.buffers = bufs;
    ex.output_buffers = out_bufs;
    ex.n_outputs = plan->n_outputs + n_extra;
    ex.arena_bytes = 0;
    for (int i = 0; i < ex.n_outputs; i++)
        if ((st = tsr_tensor_alloc(&bufs[out_bufs[i]].desc, &outs[i])) != TSR_OK) goto done;
    if ((int)n_inputs != plan->n_inputs) {
        st = TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_verify: %zu inputs given, the graph has %d",
                     n_inputs, plan->n_inputs);
        goto done;
    }
    for (int i = 0; i < plan->n_inputs; i++)
        if (!tsr_desc_equal(&inputs[i].desc, &plan->input_descs[i])) {
            char s0[160], s1[160];
            st = TSR_ERR(ctx, TSR_E_SHAPE, "input '%s': shape %s, the model expects %s",
                         plan->input_names[i], tsr_desc_format(&inputs[i].desc, s0, sizeof s0),
                         tsr_desc_format(&plan->input_descs[i], s1, sizeof s1));
            goto done;
        }
    const struct tsr_device_info *dev = &ctx->devices[plan->device].info;
    if ((st = plan->ops->prepare(ctx, dev->index, &ex, &exec)) != TSR_OK) goto done;
    if ((st = plan->ops->execute(exec, inputs, outs)) != TSR_OK) goto done;
    for (int b = 0; b < nb; b++) {
        if (bufs[b].kind == TSR_BUF_INPUT)
            data[b] = inputs[bufs[b].io_index].data;
        else if (bufs[b].kind == TSR_BUF_CONST)
            data[b] = bufs[b].const_data;
        else
            data[b] = outs[bufs[b].io_index].data;
    }
    struct vstate vs = {plan, &ex, data};
    for (int ki = 0; ki < ex.n_kernels && st == TSR_OK; ki++) {
        snprintf(res[ki].name, sizeof res[ki].name, "%s", ex.kernels[ki].name);
        snprintf(res[ki].nodes, sizeof res[ki].nodes, "%s",
                 ex.kernels[ki].nodes ? ex.kernels[ki].nodes : "");
        st = check_kernel(&vs, ki, &res[ki]);
    }
    if (st == TSR_OK) {
        *out = res;
        *n_out = ex.n_kernels;
        res = NULL;
    }
done:
    if (exec) plan->ops->release(exec);
    if (outs)
        for (int i = 0; i < nb + plan->n_outputs + 1; i++)
            tsr_tensor_free(&outs[i]);
    free(outs);
    free(bufs);
    free(data);
    free(res);
    free(out_bufs);
    tsr_plan_destroy(plan);
    return st;
}
