/*
 * place.c — HEFT placement of kernels across devices and the sequential-run prediction of an
 * assignment (rules and sources in place.h).
 */
#include "scheduler/place.h"
#include "runtime/backend.h"
#include "scheduler/cost.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Per-program facts shared by both entry points. producer[b]: kernel writing buffer b or -1;
 * last_use[b]: last kernel reading b or -1; graph_out[b]: 1 when b is a graph output. */
struct prog_facts {
    int *producer, *last_use;
    unsigned char *graph_out;
};

static void facts_free(struct prog_facts *f) {
    free(f->producer);
    free(f->last_use);
    free(f->graph_out);
}

static int facts_init(const struct tsr_program *p, struct prog_facts *f) {
    memset(f, 0, sizeof *f);
    size_t nb = (size_t)p->n_buffers + 1;
    f->producer = malloc(nb * sizeof(int));
    f->last_use = malloc(nb * sizeof(int));
    f->graph_out = calloc(nb, 1);
    if (!f->producer || !f->last_use || !f->graph_out) {
        facts_free(f);
        return -1;
    }
    for (int b = 0; b < p->n_buffers; b++)
        f->producer[b] = f->last_use[b] = -1;
    for (int k = 0; k < p->n_kernels; k++) {
        const struct tsr_kernel *kk = &p->kernels[k];
        if (kk->output >= 0 && kk->output < p->n_buffers) f->producer[kk->output] = k;
        for (int i = 0; i < kk->n_inputs; i++)
            if (kk->inputs[i] >= 0 && kk->inputs[i] < p->n_buffers) f->last_use[kk->inputs[i]] = k;
    }
    for (int o = 0; o < p->n_outputs; o++)
        f->graph_out[p->output_buffers[o]] = 1;
    return 0;
}

/* Cost inputs of every device (ok[d] = 0 when the device has no figures). */
static int all_inputs(tsr_context *ctx, struct tsr_cost_inputs *in, int *ok) {
    int any = 0;
    for (int d = 0; d < ctx->n_devices; d++) {
        ok[d] = tsr_cost_inputs_of_device(ctx, d, &in[d]) == 0;
        any |= ok[d];
    }
    return any;
}

/* ms to move `bytes` from device a to device b through host memory, plus b's per-run overhead
 * (place.h). 0 when a == b. */
static double hop_ms(const struct tsr_cost_inputs *in, int a, int b, double bytes) {
    if (a == b) return 0.0;
    return tsr_cost_transfer_ms(&in[a], bytes, 0) + tsr_cost_transfer_ms(&in[b], bytes, 1) +
           in[b].run_overhead_us * 1e-3;
}

double tsr_sched_place_predict_ms(tsr_context *ctx, const struct tsr_program *prog,
                                  const int *assign, int *n_segments) {
    if (n_segments) *n_segments = 0;
    if (!ctx || !prog || !assign || ctx->n_devices < 1) return HUGE_VAL;
    struct tsr_cost_inputs *in = calloc((size_t)ctx->n_devices, sizeof *in);
    int *ok = calloc((size_t)ctx->n_devices, sizeof *ok);
    struct prog_facts f;
    double total = HUGE_VAL;
    if (!in || !ok || facts_init(prog, &f) != 0) goto out_nofacts;
    all_inputs(ctx, in, ok);
    total = 0.0;
    int segs = 0;
    for (int k0 = 0; k0 < prog->n_kernels;) {
        int d = assign[k0];
        if (d < 0 || d >= ctx->n_devices || !ok[d]) {
            total = HUGE_VAL;
            break;
        }
        int k1 = k0;
        while (k1 < prog->n_kernels && assign[k1] == d)
            k1++;
        segs++;
        const struct tsr_cost_inputs *c = &in[d];
        total += c->run_overhead_us * 1e-3;
        for (int k = k0; k < k1 && total < HUGE_VAL; k++) {
            const struct tsr_kernel *kk = &prog->kernels[k];
            if (!tsr_backend_supports(&ctx->devices[d], prog, k, NULL, 0)) {
                total = HUGE_VAL; /* the device cannot run this kernel */
                break;
            }
            total += tsr_cost_kernel_ms(c, kk);
            /* Reads from outside the segment (each buffer counted at its first read). */
            for (int i = 0; i < kk->n_inputs; i++) {
                int b = kk->inputs[i];
                if (prog->buffers[b].kind == TSR_BUF_CONST) continue;
                if (f.producer[b] >= k0 && f.producer[b] < k1) continue;
                int first = 1;
                for (int j = k0; j < k && first; j++)
                    for (int q = 0; q < prog->kernels[j].n_inputs; q++)
                        if (prog->kernels[j].inputs[q] == b) first = 0;
                for (int q = 0; q < i && first; q++)
                    if (kk->inputs[q] == b) first = 0;
                if (first) total += tsr_cost_transfer_ms(c, (double)prog->buffers[b].bytes, 1);
            }
            /* Writes needed outside the segment. */
            int b = kk->output;
            if (f.graph_out[b] || f.last_use[b] >= k1)
                total += tsr_cost_transfer_ms(c, (double)prog->buffers[b].bytes, 0);
        }
        if (total == HUGE_VAL) break;
        k0 = k1;
    }
    if (n_segments) *n_segments = segs;
    facts_free(&f);
out_nofacts:
    free(in);
    free(ok);
    return total;
}

/* One busy interval of a device's HEFT schedule. */
struct slot {
    double start, end;
};

/* Earliest start >= ready of a gap of length w in the sorted busy list s[0..n-1] (insertion
 * policy of the paper, section 4.2). */
static double earliest_gap(const struct slot *s, int n, double ready, double w) {
    double t = ready;
    for (int i = 0; i < n; i++) {
        if (t + w <= s[i].start) return t;
        if (s[i].end > t) t = s[i].end;
    }
    return t;
}

static void insert_slot(struct slot *s, int *n, double start, double end) {
    int i = *n;
    while (i > 0 && s[i - 1].start > start) {
        s[i] = s[i - 1];
        i--;
    }
    s[i].start = start;
    s[i].end = end;
    (*n)++;
}

tsr_status tsr_sched_place_heft(tsr_context *ctx, const struct tsr_program *prog, int *assign,
                                double *makespan_ms) {
    if (!ctx || !prog || !assign)
        return TSR_ERR(ctx, TSR_E_INVALID_ARG, "tsr_sched_place_heft: NULL argument");
    if (makespan_ms) *makespan_ms = 0.0;
    int n = prog->n_kernels, D = ctx->n_devices;
    if (n == 0) return TSR_OK;
    struct tsr_cost_inputs *in = calloc((size_t)D, sizeof *in);
    int *ok = calloc((size_t)D, sizeof *ok);
    double *w = malloc((size_t)n * (size_t)D * sizeof *w);
    double *rank = malloc((size_t)n * sizeof *rank), *aft = malloc((size_t)n * sizeof *aft);
    int *order = malloc((size_t)n * sizeof *order);
    struct slot *slots = malloc((size_t)n * (size_t)D * sizeof *slots);
    int *n_slots = calloc((size_t)D, sizeof *n_slots);
    unsigned char *sup = malloc((size_t)n * (size_t)D); /* sup[k * D + d]: d can run kernel k */
    struct prog_facts f;
    int have_facts = 0;
    tsr_status st = TSR_OK;
    if (!in || !ok || !w || !rank || !aft || !order || !slots || !n_slots || !sup ||
        !(have_facts = facts_init(prog, &f) == 0)) {
        st = TSR_ERR(ctx, TSR_E_NOMEM, "placement: out of memory");
        goto out;
    }
    int n_ok = 0;
    for (int d = 0; d < D; d++) {
        ok[d] = tsr_cost_inputs_of_device(ctx, d, &in[d]) == 0;
        n_ok += ok[d];
    }
    if (!n_ok) {
        st = TSR_ERR(ctx, TSR_E_UNSUPPORTED, "placement: no device has performance figures");
        goto out;
    }
    /* Which device can run which kernel (backend supports: a device that cannot run a kernel
     * never gets it), computation costs, and their means over the devices that can. */
    for (int k = 0; k < n; k++) {
        int any = 0;
        char why[256] = "";
        for (int d = 0; d < D; d++) {
            sup[k * D + d] = (unsigned char)(ok[d] && tsr_backend_supports(&ctx->devices[d], prog,
                                                                           k, why, sizeof why));
            any |= sup[k * D + d];
            w[k * D + d] =
                sup[k * D + d] ? tsr_cost_kernel_ms(&in[d], &prog->kernels[k]) : HUGE_VAL;
        }
        if (!any) {
            st = TSR_ERR(ctx, TSR_E_UNSUPPORTED,
                         "placement: no device with figures can run kernel %d '%s' (%s)", k,
                         prog->kernels[k].name, why[0] ? why : "no figures");
            goto out;
        }
    }
    /* Upward rank, in reverse program order (program order is topological). */
    for (int k = n - 1; k >= 0; k--) {
        double wm = 0.0;
        int n_sup = 0;
        for (int d = 0; d < D; d++)
            if (sup[k * D + d]) {
                wm += w[k * D + d];
                n_sup++;
            }
        wm /= n_sup;
        double best = 0.0;
        int b = prog->kernels[k].output;
        double bytes = (double)prog->buffers[b].bytes, cm = 0.0;
        int pairs = 0;
        for (int a = 0; a < D; a++)
            for (int c = 0; c < D; c++)
                if (ok[a] && ok[c] && a != c) {
                    cm += hop_ms(in, a, c, bytes);
                    pairs++;
                }
        cm = pairs ? cm / pairs : 0.0;
        for (int j = k + 1; j < n; j++) {
            const struct tsr_kernel *kj = &prog->kernels[j];
            for (int i = 0; i < kj->n_inputs; i++)
                if (kj->inputs[i] == b) {
                    if (cm + rank[j] > best) best = cm + rank[j];
                    break;
                }
        }
        rank[k] = wm + best;
        order[k] = k;
    }
    /* Decreasing rank (stable: insertion sort keeps program order among equal ranks). */
    for (int i = 1; i < n; i++) {
        int v = order[i], j = i;
        while (j > 0 && rank[order[j - 1]] < rank[v]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    double makespan = 0.0;
    for (int oi = 0; oi < n; oi++) {
        int k = order[oi];
        const struct tsr_kernel *kk = &prog->kernels[k];
        double best_eft = HUGE_VAL, best_start = 0.0;
        int best_d = -1;
        for (int d = 0; d < D; d++) {
            if (!sup[k * D + d]) continue;
            double ready = 0.0;
            for (int i = 0; i < kk->n_inputs; i++) {
                int b = kk->inputs[i];
                const struct tsr_buffer *buf = &prog->buffers[b];
                double t;
                if (f.producer[b] >= 0)
                    t = aft[f.producer[b]] +
                        hop_ms(in, assign[f.producer[b]], d, (double)buf->bytes);
                else if (buf->kind == TSR_BUF_INPUT)
                    t = tsr_cost_transfer_ms(&in[d], (double)buf->bytes, 1);
                else
                    t = 0.0; /* constants are uploaded at prepare */
                if (t > ready) ready = t;
            }
            double wk = w[k * D + d];
            if (f.graph_out[kk->output])
                wk += tsr_cost_transfer_ms(&in[d], (double)prog->buffers[kk->output].bytes, 0);
            double start = earliest_gap(&slots[d * n], n_slots[d], ready, wk);
            /* Ties keep the lower device index (the native CPU first). */
            if (start + wk < best_eft) {
                best_eft = start + wk;
                best_start = start;
                best_d = d;
            }
        }
        assign[k] = best_d;
        aft[k] = best_eft;
        insert_slot(&slots[best_d * n], &n_slots[best_d], best_start, best_eft);
        if (best_eft > makespan) makespan = best_eft;
    }
    if (makespan_ms) *makespan_ms = makespan;
out:
    if (have_facts) facts_free(&f);
    free(in);
    free(ok);
    free(w);
    free(rank);
    free(aft);
    free(order);
    free(slots);
    free(n_slots);
    free(sup);
    return st;
}
