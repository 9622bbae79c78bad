/*
 * hetero.c — a program split into per-device segments, prepared by each device's backend and
 * run one segment after the other (rules in hetero.h).
 */
#include "runtime/hetero.h"
#include "runtime/plan_internal.h"

#include <stdlib.h>
#include <string.h>

struct hetero_seg {
    int device;                  /* index into ctx->devices (the host device after a fallback) */
    int k0, k1;                  /* parent kernels [k0, k1) */
    struct tsr_program sub;      /* arrays owned; const_data and kernel names borrowed */
    int *in_parent, *out_parent; /* parent buffer id of sub input / output i */
    const struct tsr_backend_ops *ops;
    void *exec;
    struct tsr_tensor *ins, *outs; /* data pointers set per run */
};

struct tsr_hetero {
    tsr_context *ctx;
    const struct tsr_program *prog;
    int allow_fallback;
    int n_segs;
    struct hetero_seg *segs;
    float **staging; /* per parent buffer: host buffer for crossings that are not graph I/O */
    int fallbacks;
};

static void seg_free(struct hetero_seg *s) {
    if (s->exec) s->ops->release(s->exec);
    free(s->sub.buffers);
    free(s->sub.kernels);
    free(s->sub.input_buffers);
    free(s->sub.output_buffers);
    free(s->in_parent);
    free(s->out_parent);
    free(s->ins);
    free(s->outs);
    memset(s, 0, sizeof *s);
}

void tsr_hetero_release(struct tsr_hetero *h) {
    if (!h) return;
    for (int i = 0; i < h->n_segs; i++)
        seg_free(&h->segs[i]);
    free(h->segs);
    if (h->staging)
        for (int b = 0; b < h->prog->n_buffers; b++)
            tsr_aligned_free(h->staging[b]);
    free(h->staging);
    free(h);
}

/* Builds the sub-program of parent kernels [k0, k1) (hetero.h). producer/last_use/graph_out as
 * in scheduler/place.c. Returns TSR_OK or TSR_E_NOMEM. */
static tsr_status build_segment(tsr_context *ctx, const struct tsr_program *p, int k0, int k1,
                                const int *producer, const int *last_use,
                                const unsigned char *graph_out, struct hetero_seg *s) {
    int n = k1 - k0, max_bufs = n * (TSR_KERNEL_MAX_INPUTS + 1);
    int *map = malloc((size_t)p->n_buffers * sizeof *map);
    s->sub.buffers = calloc((size_t)max_bufs, sizeof *s->sub.buffers);
    s->sub.kernels = calloc((size_t)n, sizeof *s->sub.kernels);
    s->sub.input_buffers = calloc((size_t)max_bufs, sizeof(int));
    s->sub.output_buffers = calloc((size_t)max_bufs, sizeof(int));
    s->in_parent = calloc((size_t)max_bufs, sizeof(int));
    s->out_parent = calloc((size_t)max_bufs, sizeof(int));
    if (!map || !s->sub.buffers || !s->sub.kernels || !s->sub.input_buffers ||
        !s->sub.output_buffers || !s->in_parent || !s->out_parent) {
        free(map);
        return TSR_ERR(ctx, TSR_E_NOMEM, "hetero: out of memory");
    }
    for (int b = 0; b < p->n_buffers; b++)
        map[b] = -1;
    s->k0 = k0;
    s->k1 = k1;
    size_t arena = 0;
    for (int k = k0; k < k1; k++) {
        const struct tsr_kernel *pk = &p->kernels[k];
        struct tsr_kernel *sk = &s->sub.kernels[s->sub.n_kernels++];
        *sk = *pk; /* nodes borrowed from the parent */
        for (int i = 0; i <= pk->n_inputs; i++) {
            int b = i < pk->n_inputs ? pk->inputs[i] : pk->output;
            if (map[b] < 0) {
                int id = s->sub.n_buffers++;
                struct tsr_buffer *nb = &s->sub.buffers[id];
                *nb = p->buffers[b];
                map[b] = id;
                int here = producer[b] >= k0 && producer[b] < k1;
                if (nb->kind == TSR_BUF_CONST) {
                    /* shared with the parent */
                } else if (!here) {
                    nb->kind = TSR_BUF_INPUT;
                    nb->io_index = s->sub.n_inputs;
                    s->in_parent[s->sub.n_inputs] = b;
                    s->sub.input_buffers[s->sub.n_inputs++] = id;
                } else if (graph_out[b] || last_use[b] >= k1) {
                    nb->kind = TSR_BUF_OUTPUT;
                    nb->io_index = s->sub.n_outputs;
                    s->out_parent[s->sub.n_outputs] = b;
                    s->sub.output_buffers[s->sub.n_outputs++] = id;
                } else {
                    nb->kind = TSR_BUF_TEMP; /* keeps the parent's offset */
                    if (nb->offset + nb->bytes > arena) arena = nb->offset + nb->bytes;
                }
            }
            if (i < pk->n_inputs)
                sk->inputs[i] = map[b];
            else
                sk->output = map[b];
        }
    }
    free(map);
    arena = (arena + 63) & ~(size_t)63;
    s->sub.arena_bytes = arena;
    s->sub.arena_lower_bound_bytes = arena;
    s->sub.unplanned_bytes = arena;
    s->ins = calloc((size_t)s->sub.n_inputs + 1, sizeof *s->ins);
    s->outs = calloc((size_t)s->sub.n_outputs + 1, sizeof *s->outs);
    if (!s->ins || !s->outs) return TSR_ERR(ctx, TSR_E_NOMEM, "hetero: out of memory");
    for (int i = 0; i < s->sub.n_inputs; i++)
        s->ins[i].desc = s->sub.buffers[s->sub.input_buffers[i]].desc;
    for (int i = 0; i < s->sub.n_outputs; i++)
        s->outs[i].desc = s->sub.buffers[s->sub.output_buffers[i]].desc;
    return TSR_OK;
}

static int is_device_failure(tsr_status st) {
    return st == TSR_E_DEVICE || st == TSR_E_DEVICE_NOMEM || st == TSR_E_BUILD;
}

/* Prepares segment s on ctx device `dev` through its backend. */
static tsr_status seg_prepare(tsr_context *ctx, struct hetero_seg *s, int dev) {
    const struct tsr_device *d = &ctx->devices[dev];
    s->ops = d->ops;
    s->device = dev;
    s->exec = NULL;
    return s->ops->prepare(ctx, d->info.index, &s->sub, &s->exec);
}

/* Moves segment s to the host device after `why` (logged). */
static tsr_status seg_fall_back(struct tsr_hetero *h, struct hetero_seg *s, tsr_status why) {
    tsr_context *ctx = h->ctx;
    int host = tsr_context_host_device(ctx);
    tsr_log(ctx, TSR_LOG_WARN,
            "hetero: segment of kernels %d..%d on %s failed (%s: %s); moving it to the host "
            "device %s",
            s->k0, s->k1 - 1, ctx->devices[s->device].info.id, tsr_status_name(why),
            tsr_last_error(NULL)->message, ctx->devices[host].info.id);
    if (s->exec) s->ops->release(s->exec);
    s->exec = NULL;
    h->fallbacks++;
    return seg_prepare(ctx, s, host);
}

tsr_status tsr_hetero_prepare(tsr_context *ctx, const struct tsr_program *prog, const int *assign,
                              int allow_fallback, struct tsr_hetero **out) {
    if (!ctx || !prog || !assign || !out)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_hetero_prepare: NULL argument");
    for (int k = 0; k < prog->n_kernels; k++)
        if (assign[k] < 0 || assign[k] >= ctx->n_devices)
            return TSR_ERR(ctx, TSR_E_INVALID_ARG, "hetero: kernel %d assigned to device %d of %d",
                           k, assign[k], ctx->n_devices);
    struct tsr_hetero *h = calloc(1, sizeof *h);
    size_t nb = (size_t)prog->n_buffers + 1;
    int *producer = malloc(nb * sizeof(int)), *last_use = malloc(nb * sizeof(int));
    unsigned char *graph_out = calloc(nb, 1);
    tsr_status st = TSR_OK;
    if (!h || !producer || !last_use || !graph_out ||
        !(h->segs = calloc((size_t)prog->n_kernels + 1, sizeof *h->segs)) ||
        !(h->staging = calloc(nb, sizeof *h->staging))) {
        st = TSR_ERR(ctx, TSR_E_NOMEM, "hetero: out of memory");
        goto out;
    }
    h->ctx = ctx;
    h->prog = prog;
    h->allow_fallback = allow_fallback;
    for (int b = 0; b < prog->n_buffers; b++)
        producer[b] = last_use[b] = -1;
    for (int k = 0; k < prog->n_kernels; k++) {
        producer[prog->kernels[k].output] = k;
        for (int i = 0; i < prog->kernels[k].n_inputs; i++)
            last_use[prog->kernels[k].inputs[i]] = k;
    }
    for (int o = 0; o < prog->n_outputs; o++)
        graph_out[prog->output_buffers[o]] = 1;
    for (int k0 = 0; k0 < prog->n_kernels;) {
        int k1 = k0;
        while (k1 < prog->n_kernels && assign[k1] == assign[k0])
            k1++;
        struct hetero_seg *s = &h->segs[h->n_segs++];
        if ((st = build_segment(ctx, prog, k0, k1, producer, last_use, graph_out, s)) != TSR_OK)
            goto out;
        /* Host staging for crossings that are not the caller's tensors. */
        for (int i = 0; i < s->sub.n_outputs; i++) {
            int b = s->out_parent[i];
            if (prog->buffers[b].kind == TSR_BUF_OUTPUT || h->staging[b]) continue;
            h->staging[b] = tsr_aligned_alloc(prog->buffers[b].bytes ? prog->buffers[b].bytes : 64);
            if (!h->staging[b]) {
                st = TSR_ERR(ctx, TSR_E_NOMEM, "hetero: out of memory (%zu-byte staging buffer)",
                             prog->buffers[b].bytes);
                goto out;
            }
        }
        st = seg_prepare(ctx, s, assign[k0]);
        if (st != TSR_OK && s->device != tsr_context_host_device(ctx) && allow_fallback &&
            is_device_failure(st))
            st = seg_fall_back(h, s, st);
        if (st != TSR_OK) goto out;
        tsr_log(ctx, TSR_LOG_DEBUG, "hetero: segment %d = kernels %d..%d on %s (%d in, %d out)",
                h->n_segs - 1, k0, k1 - 1, ctx->devices[s->device].info.id, s->sub.n_inputs,
                s->sub.n_outputs);
        k0 = k1;
    }
out:
    free(producer);
    free(last_use);
    free(graph_out);
    if (st != TSR_OK) {
        tsr_hetero_release(h);
        return st;
    }
    *out = h;
    return TSR_OK;
}

/* Host memory of parent buffer b in this run. */
static void *buffer_data(const struct tsr_hetero *h, int b, const struct tsr_tensor *inputs,
                         struct tsr_tensor *outputs) {
    const struct tsr_buffer *buf = &h->prog->buffers[b];
    if (buf->kind == TSR_BUF_INPUT) return inputs[buf->io_index].data;
    if (buf->kind == TSR_BUF_OUTPUT) return outputs[buf->io_index].data;
    return h->staging[b];
}

tsr_status tsr_hetero_execute(struct tsr_hetero *h, const struct tsr_tensor *inputs,
                              struct tsr_tensor *outputs) {
    if (!h) return TSR_ERR(NULL, TSR_E_INVALID_ARG, "tsr_hetero_execute: NULL");
    for (int i = 0; i < h->n_segs; i++) {
        struct hetero_seg *s = &h->segs[i];
        for (int k = 0; k < s->sub.n_inputs; k++)
            s->ins[k].data = buffer_data(h, s->in_parent[k], inputs, outputs);
        for (int k = 0; k < s->sub.n_outputs; k++)
            s->outs[k].data = buffer_data(h, s->out_parent[k], inputs, outputs);
        tsr_status st = s->ops->execute(s->exec, s->ins, s->outs);
        if (st != TSR_OK && s->device != tsr_context_host_device(h->ctx) && h->allow_fallback &&
            is_device_failure(st)) {
            st = seg_fall_back(h, s, st);
            if (st == TSR_OK) st = s->ops->execute(s->exec, s->ins, s->outs);
        }
        if (st != TSR_OK) return st;
    }
    return TSR_OK;
}

int tsr_hetero_segment_count(const struct tsr_hetero *h) {
    return h ? h->n_segs : 0;
}

int tsr_hetero_kernel_device(const struct tsr_hetero *h, int k) {
    if (!h) return -1;
    for (int i = 0; i < h->n_segs; i++)
        if (k >= h->segs[i].k0 && k < h->segs[i].k1) return h->segs[i].device;
    return -1;
}

int tsr_hetero_fallbacks(const struct tsr_hetero *h) {
    return h ? h->fallbacks : 0;
}
