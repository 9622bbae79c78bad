/*
 * minilm.c — the MiniLM-L6 runner and pooling of minilm.h (public API only).
 */
#define _POSIX_C_SOURCE 200809L
#include "minilm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const mlm_input_names[MLM_N_INPUTS] = {"input_ids", "attention_mask", "token_type_ids"};

const char *mlm_dir(const char *fallback) {
    const char *d = getenv("TSR_MINILM_DIR");
    return d && *d ? d : fallback;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int load_one(const char *dir, const char *name, const char *what, struct tsr_tensor *t,
                    tsr_dtype dtype, int rank, const int64_t *dims, char *err, size_t err_size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s_%s.npy", dir, name, what);
    tsr_status st = tsr_npy_load(path, t);
    if (st != TSR_OK) {
        snprintf(err, err_size, "%s: %s: %s", path, tsr_status_name(st),
                 tsr_last_error(NULL)->message);
        return -1;
    }
    int ok = t->desc.dtype == dtype && t->desc.rank == rank;
    for (int i = 0; ok && i < rank; i++)
        ok = dims[i] < 0 || t->desc.dims[i] == dims[i];
    if (!ok) {
        char got[96];
        snprintf(err, err_size, "%s: unexpected %s (expected %s, rank %d)", path,
                 tsr_desc_format(&t->desc, got, sizeof got), tsr_dtype_name(dtype), rank);
        tsr_tensor_free(t);
        return -1;
    }
    return 0;
}

int mlm_case_load(const char *dir, const char *name, struct mlm_case *c, char *err,
                  size_t err_size) {
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    int64_t any[2] = {-1, -1};
    if (load_one(dir, name, mlm_input_names[0], &c->inputs[0], TSR_I64, 2, any, err, err_size))
        return -1;
    c->batch = c->inputs[0].desc.dims[0];
    c->seq = c->inputs[0].desc.dims[1];
    int64_t bs[2] = {c->batch, c->seq};
    int64_t bsw[3] = {c->batch, c->seq, -1};
    int rc = 0;
    for (int i = 1; i < MLM_N_INPUTS && !rc; i++)
        rc = load_one(dir, name, mlm_input_names[i], &c->inputs[i], TSR_I64, 2, bs, err, err_size);
    if (!rc)
        rc = load_one(dir, name, "last_hidden_state", &c->hidden_ref, TSR_F32, 3, bsw, err,
                      err_size);
    if (!rc) {
        c->width = c->hidden_ref.desc.dims[2];
        int64_t bw[2] = {c->batch, c->width};
        rc = load_one(dir, name, "embeddings", &c->emb_ref, TSR_F32, 2, bw, err, err_size);
    }
    if (rc) mlm_case_free(c);
    return rc;
}

void mlm_case_free(struct mlm_case *c) {
    if (!c) return;
    for (int i = 0; i < MLM_N_INPUTS; i++)
        tsr_tensor_free(&c->inputs[i]);
    tsr_tensor_free(&c->hidden_ref);
    tsr_tensor_free(&c->emb_ref);
}

static tsr_status fail(struct mlm_result *r, const char *stage, tsr_status st) {
    r->stage = stage;
    r->status = st;
    snprintf(r->message, sizeof r->message, "%s", tsr_last_error(NULL)->message);
    return st;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

tsr_status mlm_run(tsr_context *ctx, const char *model, const char *device,
                   const struct mlm_case *c, int repeat, struct mlm_result *r) {
    memset(r, 0, sizeof *r);
    r->run_ms = r->first_run_ms = NAN;
    struct tsr_input_shape shapes[MLM_N_INPUTS];
    for (int i = 0; i < MLM_N_INPUTS; i++) {
        shapes[i].name = mlm_input_names[i];
        shapes[i].desc = c->inputs[i].desc;
        shapes[i].data = NULL;
    }
    tsr_graph *g = NULL;
    double t0 = now_ms();
    tsr_status st = tsr_onnx_import_file(ctx, model, shapes, MLM_N_INPUTS, &g);
    r->import_ms = now_ms() - t0;
    if (st != TSR_OK) return fail(r, "import", st);

    struct tsr_compile_options opts = tsr_compile_options_default();
    opts.device = device;
    opts.placement = "single";
    opts.allow_fallback = 0;
    tsr_plan *plan = NULL;
    t0 = now_ms();
    st = tsr_compile(ctx, g, &opts, &plan);
    r->compile_ms = now_ms() - t0;
    tsr_graph_destroy(g);
    if (st != TSR_OK) return fail(r, "compile", st);
    struct tsr_device_info dev;
    if (tsr_plan_device(plan, &dev) == TSR_OK) snprintf(r->device, sizeof r->device, "%s", dev.id);
    r->kernels = tsr_plan_kernel_count(plan);

    /* Inputs in the plan's order, found by name. */
    struct tsr_tensor in[MLM_N_INPUTS];
    int n_in = tsr_plan_input_count(plan);
    if (n_in != MLM_N_INPUTS) {
        tsr_plan_destroy(plan);
        r->stage = "compile";
        r->status = TSR_E_SHAPE;
        snprintf(r->message, sizeof r->message, "%s: the plan has %d inputs, expected %d", model,
                 n_in, MLM_N_INPUTS);
        return r->status;
    }
    for (int i = 0; i < n_in; i++) {
        const char *nm = NULL;
        struct tsr_tensor_desc d;
        tsr_plan_input_desc(plan, i, &nm, &d);
        int k = 0;
        while (k < MLM_N_INPUTS && strcmp(nm, mlm_input_names[k]) != 0)
            k++;
        if (k == MLM_N_INPUTS) {
            tsr_plan_destroy(plan);
            r->stage = "compile";
            r->status = TSR_E_SHAPE;
            snprintf(r->message, sizeof r->message, "%s: unexpected graph input '%s'", model, nm);
            return r->status;
        }
        in[i] = c->inputs[k];
    }
    const char *out_name = NULL;
    struct tsr_tensor_desc od;
    tsr_plan_output_desc(plan, 0, &out_name, &od);
    if (tsr_plan_output_count(plan) != 1 || od.dtype != TSR_F32 || od.rank != 3 ||
        od.dims[0] != c->batch || od.dims[1] != c->seq || od.dims[2] != c->width) {
        char got[96];
        tsr_plan_destroy(plan);
        r->stage = "compile";
        r->status = TSR_E_SHAPE;
        snprintf(r->message, sizeof r->message,
                 "%s: output '%s' is %s, expected [%lld, %lld, %lld] float32", model, out_name,
                 tsr_desc_format(&od, got, sizeof got), (long long)c->batch, (long long)c->seq,
                 (long long)c->width);
        return r->status;
    }
    st = tsr_tensor_alloc(&od, &r->out);
    if (st != TSR_OK) {
        tsr_plan_destroy(plan);
        return fail(r, "run", st);
    }
    double *times = repeat > 0 ? malloc(sizeof(double) * (size_t)repeat) : NULL;
    for (int k = 0; k <= repeat && st == TSR_OK; k++) {
        t0 = now_ms();
        st = tsr_plan_run(plan, in, MLM_N_INPUTS, &r->out, 1);
        double ms = now_ms() - t0;
        if (k == 0)
            r->first_run_ms = ms;
        else if (times)
            times[k - 1] = ms;
    }
    if (st == TSR_OK && times) {
        qsort(times, (size_t)repeat, sizeof *times, cmp_double);
        r->run_ms = times[repeat / 2];
    }
    free(times);
    tsr_plan_destroy(plan);
    if (st != TSR_OK) {
        tsr_tensor_free(&r->out);
        return fail(r, "run", st);
    }
    r->stage = "done";
    return TSR_OK;
}

void mlm_result_free(struct mlm_result *r) {
    if (r) tsr_tensor_free(&r->out);
}

void mlm_mean_pool(const float *hidden, const int64_t *mask, int64_t batch, int64_t seq,
                   int64_t width, float *emb) {
    double *acc = calloc((size_t)width, sizeof *acc);
    if (!acc) { /* out of memory: NaN embeddings fail every comparison */
        for (int64_t i = 0; i < batch * width; i++)
            emb[i] = NAN;
        return;
    }
    for (int64_t b = 0; b < batch; b++) {
        int64_t count = 0;
        for (int64_t j = 0; j < width; j++)
            acc[j] = 0.0;
        for (int64_t t = 0; t < seq; t++) {
            if (!mask[b * seq + t]) continue;
            count++;
            const float *h = hidden + (b * seq + t) * width;
            for (int64_t j = 0; j < width; j++)
                acc[j] += h[j];
        }
        double norm = 0.0;
        for (int64_t j = 0; j < width; j++) {
            acc[j] /= count > 0 ? (double)count : 1.0;
            norm += acc[j] * acc[j];
        }
        norm = sqrt(norm);
        for (int64_t j = 0; j < width; j++)
            emb[b * width + j] = (float)(norm > 1e-12 ? acc[j] / norm : acc[j]);
    }
    free(acc);
}

double mlm_rel_l2(const float *x, const float *ref, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)x[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * (double)ref[i];
    }
    if (isnan(num) || isnan(den)) return INFINITY;
    if (den == 0.0) return num == 0.0 ? 0.0 : INFINITY;
    return sqrt(num / den);
}

double mlm_dot(const float *a, const float *b, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}
