/*
 * plan_named.c — inputs and outputs by name (tessera.h: tsr_plan_find_input / _output,
 * tsr_plan_run_named), as ONNX Runtime's Run takes them: a name → index mapping over the plan's
 * public queries, then tsr_plan_run with the tensors in plan order. Outputs the caller leaves out
 * are computed into scratch buffers allocated for that call.
 */
#include "runtime/plan_internal.h"
#include "runtime/profiler.h"

#include <stdlib.h>
#include <string.h>

typedef tsr_status (*desc_fn)(const tsr_plan *, int, const char **, struct tsr_tensor_desc *);

/* "'a', 'b', 'c'": the names of the plan's inputs (outputs), cut with ", ..." to fit buf. */
static const char *name_list(const tsr_plan *plan, int n, desc_fn desc, char *buf, size_t size) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *nm = NULL;
        if (desc(plan, i, &nm, NULL) != TSR_OK || !nm) nm = "?";
        int w = snprintf(buf + len, size - len, "%s'%s'", i ? ", " : "", nm);
        if (w < 0 || (size_t)w >= size - len) {
            /* does not fit: end the list with ", ..." where it still fits */
            if (len + 6 > size) len = size > 6 ? size - 6 : 0;
            snprintf(buf + len, size - len, ", ...");
            break;
        }
        len += (size_t)w;
    }
    return n ? buf : "(none)";
}

/* Index of `name` among the n names of desc, or -1. */
static int find_name(const tsr_plan *plan, int n, desc_fn desc, const char *name) {
    for (int i = 0; i < n; i++) {
        const char *nm = NULL;
        if (desc(plan, i, &nm, NULL) == TSR_OK && nm && strcmp(nm, name) == 0) return i;
    }
    return -1;
}

static tsr_status find(const tsr_plan *plan, const char *name, int *index, int outputs) {
    const char *fn = outputs ? "tsr_plan_find_output" : "tsr_plan_find_input";
    if (!plan || !name || !index)
        return TSR_ERR(plan ? plan->ctx : NULL, TSR_E_INVALID_ARG, "%s: NULL argument", fn);
    desc_fn desc = outputs ? tsr_plan_output_desc : tsr_plan_input_desc;
    const int n = outputs ? tsr_plan_output_count(plan) : tsr_plan_input_count(plan);
    const int i = find_name(plan, n, desc, name);
    if (i < 0) {
        char list[1024];
        return TSR_ERR(plan->ctx, TSR_E_NOT_FOUND,
                       "'%s' is not an %s of the model; its %ss are: %s", name,
                       outputs ? "output" : "input", outputs ? "output" : "input",
                       name_list(plan, n, desc, list, sizeof list));
    }
    *index = i;
    return TSR_OK;
}

tsr_status tsr_plan_find_input(const tsr_plan *plan, const char *name, int *index) {
    return find(plan, name, index, 0);
}

tsr_status tsr_plan_find_output(const tsr_plan *plan, const char *name, int *index) {
    return find(plan, name, index, 1);
}

tsr_status tsr_plan_run_named(tsr_plan *plan, const char *const *input_names,
                              const struct tsr_tensor *inputs, size_t n_inputs,
                              const char *const *output_names, struct tsr_tensor *outputs,
                              size_t n_outputs) {
    if (!plan) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_plan_run_named: plan is NULL");
    tsr_context *ctx = plan->ctx;
    const int n_in = tsr_plan_input_count(plan), n_out = tsr_plan_output_count(plan);
    if ((int)n_inputs != n_in || (n_inputs && (!inputs || !input_names)))
        return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                       "tsr_plan_run_named: %zu inputs given, the plan has %d (all are required)",
                       n_inputs, n_in);
    if (n_outputs < 1 || (int)n_outputs > n_out || !outputs || !output_names)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG,
                       "tsr_plan_run_named: %zu outputs asked for, the plan has %d (ask for 1 .. "
                       "%d)",
                       n_outputs, n_out, n_out);
    struct tsr_tensor *in = calloc((size_t)n_in + 1, sizeof *in);
    struct tsr_tensor *out = calloc((size_t)n_out + 1, sizeof *out);
    int *from = malloc(((size_t)n_out + 1) * sizeof *from); /* plan output → caller's k, or -1 */
    int *seen = calloc((size_t)n_in + 1, sizeof *seen);
    tsr_status st = TSR_OK;
    if (!in || !out || !from || !seen) {
        st = TSR_ERR(ctx, TSR_E_NOMEM, "tsr_plan_run_named: out of memory");
        goto done;
    }
    for (int i = 0; i < n_out; i++)
        from[i] = -1;
    for (size_t k = 0; k < n_inputs; k++) {
        int i;
        if (!input_names[k]) {
            st = TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_plan_run_named: input name %zu is NULL", k);
            goto done;
        }
        if ((st = tsr_plan_find_input(plan, input_names[k], &i)) != TSR_OK) goto done;
        if (seen[i]++) {
            st = TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_plan_run_named: input '%s' given twice",
                         input_names[k]);
            goto done;
        }
        in[i] = inputs[k];
    }
    for (size_t k = 0; k < n_outputs; k++) {
        int i;
        if (!output_names[k]) {
            st = TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_plan_run_named: output name %zu is NULL", k);
            goto done;
        }
        if ((st = tsr_plan_find_output(plan, output_names[k], &i)) != TSR_OK) goto done;
        if (from[i] >= 0) {
            st = TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_plan_run_named: output '%s' asked for twice",
                         output_names[k]);
            goto done;
        }
        from[i] = (int)k;
        out[i] = outputs[k];
    }
    /* Scratch for the outputs not asked for, at the output shapes of these inputs (a re-plan
     * this needs is profiled as part of the run: under the plan's switch). */
    if ((int)n_outputs < n_out) {
        const int saved = tsr_prof_run_begin(plan->profiling);
        st = tsr_plan_specialize_inputs(plan, in, (size_t)n_in);
        tsr_prof_run_end(saved);
        if (st != TSR_OK) goto done;
        for (int i = 0; i < n_out && st == TSR_OK; i++) {
            if (from[i] >= 0) continue;
            struct tsr_tensor_desc d;
            st = tsr_plan_output_desc(plan, i, NULL, &d);
            if (st == TSR_OK) st = tsr_tensor_alloc(&d, &out[i]);
        }
        if (st != TSR_OK) goto done;
    }
    st = tsr_plan_run(plan, in, (size_t)n_in, out, (size_t)n_out);
    for (int i = 0; i < n_out; i++)
        if (from[i] >= 0) outputs[from[i]].desc = out[i].desc;
done:
    for (int i = 0; out && from && seen && i < n_out; i++)
        if (from[i] < 0) tsr_tensor_free(&out[i]);
    free(in);
    free(out);
    free(from);
    free(seen);
    return st;
}
